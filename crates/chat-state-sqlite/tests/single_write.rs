//! A Durable Object runs calls without an explicit transaction when
//! `wire::needs_transaction` says they write at most once. This holds the
//! engine to that: every branch of every other operation executes at most
//! one writing statement.

use std::sync::Arc;

use chat_state::sql::{Param, Row, SqlConn};
use chat_state::{wire, Engine, ManualClock};
use chat_state_sqlite::Conn;
use rusqlite::Connection;
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Runs statements on a plain connection and counts those that write.
struct Counting {
    conn: Connection,
    writes: usize,
}

impl SqlConn for Counting {
    fn query(&mut self, sql: &'static str, params: &[Param<'_>]) -> chat_state::Result<Vec<Row>> {
        let head = sql.split_whitespace().next().unwrap_or("");
        if matches!(head, "INSERT" | "UPDATE" | "DELETE") {
            self.writes += 1;
        }
        Conn::new(&self.conn).query(sql, params)
    }
}

#[test]
fn operations_outside_needs_transaction_write_at_most_once() -> TestResult {
    let clock = ManualClock::new(1_700_000_000_000);
    let engine = Engine::new(Arc::new(clock.clone()));
    let mut conn = Counting {
        conn: Connection::open_in_memory()?,
        writes: 0,
    };
    engine.migrate(&mut conn)?;
    let entry = |exp: i64| json!({"threadId": "q", "entry": "{}", "enqueuedAt": 1, "expiresAt": 1_700_000_000_000_i64 + exp});
    // Every branch: first and repeated calls, live, dead and missing rows.
    let calls = [
        ("subscribe", json!({"threadId": "t"})),
        ("subscribe", json!({"threadId": "t"})),
        ("isSubscribed", json!({"threadId": "t"})),
        ("unsubscribe", json!({"threadId": "t"})),
        ("acquireLock", json!({"threadId": "l", "ttlMs": 100})),
        ("acquireLock", json!({"threadId": "l", "ttlMs": 100})),
        ("acquireLock", json!({"threadId": "z", "ttlMs": -5})),
        (
            "extendLock",
            json!({"threadId": "l", "token": "x", "ttlMs": 100}),
        ),
        (
            "extendLock",
            json!({"threadId": "l", "token": "x", "ttlMs": 0}),
        ),
        ("releaseLock", json!({"threadId": "l", "token": "x"})),
        ("forceReleaseLock", json!({"threadId": "l"})),
        ("set", json!({"key": "k", "value": "1", "ttlMs": 100})),
        ("set", json!({"key": "k", "value": "1"})),
        ("set", json!({"key": "k", "value": "1", "ttlMs": -1})),
        (
            "setIfNotExists",
            json!({"key": "d", "value": "1", "ttlMs": 100}),
        ),
        (
            "setIfNotExists",
            json!({"key": "d", "value": "1", "ttlMs": 100}),
        ),
        (
            "setIfNotExists",
            json!({"key": "e", "value": "1", "ttlMs": -1}),
        ),
        (
            "setIfNotExists",
            json!({"key": "d", "value": "1", "ttlMs": -1}),
        ),
        ("get", json!({"key": "d"})),
        ("delete", json!({"key": "d"})),
        (
            "appendToList",
            json!({"key": "h", "value": "1", "maxLength": 1, "ttlMs": 100}),
        ),
        (
            "appendToList",
            json!({"key": "h", "value": "2", "maxLength": 1, "ttlMs": 100}),
        ),
        ("getList", json!({"key": "h"})),
        ("enqueue", entry(50)),
        ("enqueue", entry(500)),
        ("enqueue", entry(5_000)),
        ("queueDepth", json!({"threadId": "q"})),
        ("dequeue", json!({"threadId": "q"})),
        ("dequeue", json!({"threadId": "nothing"})),
    ];
    let mut advanced = false;
    let mut multi = Vec::new();
    for (op, args) in calls {
        if op == "dequeue" && !advanced {
            // Let the first entry die so dequeue also meets a dead one.
            clock.advance(100);
            advanced = true;
        }
        conn.writes = 0;
        let outcome = wire::dispatch(
            &engine,
            &mut conn,
            &json!({"v": 1, "op": op, "args": args}).to_string(),
        );
        assert!(!outcome.failed, "{op}: {}", outcome.reply);
        if conn.writes > 1 {
            multi.push((op, conn.writes));
        }
    }
    for (op, writes) in &multi {
        assert!(
            wire::needs_transaction(op),
            "{op} wrote {writes} times but runs without a transaction"
        );
    }
    assert!(
        multi.iter().any(|(op, _)| *op == "appendToList"),
        "the check saw no multi-write call: {multi:?}"
    );
    Ok(())
}
