//! Taking over a database written by the original TypeScript package
//! (contract §7): the test writes the original's tables itself, with the
//! original's SQL shapes, lets our store migrate on connect, and reads
//! everything back through [`StateAdapter`].

use std::path::Path;
use std::sync::Arc;

use chat_state::{ListOptions, Lock, ManualClock, QueueEntry, StateAdapter, SCHEMA_VERSION};
use chat_state_sqlite::SqliteState;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection};
use serde_json::{json, Value};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// The instant the takeover runs at.
const T: i64 = 1_700_000_000_000;

/// The original's tables: version 1 had the first three, version 2 added
/// the queue and the lists.
const ORIGINAL_V1: &str = "
    CREATE TABLE _schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
    INSERT INTO _schema_version (version, applied_at) VALUES (1, 0);
    CREATE TABLE subscriptions (thread_id TEXT PRIMARY KEY);
    CREATE TABLE locks (thread_id TEXT PRIMARY KEY, token TEXT NOT NULL,
        expires_at INTEGER NOT NULL);
    CREATE TABLE cache (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER);";
const ORIGINAL_V2: &str = "
    INSERT INTO _schema_version (version, applied_at) VALUES (2, 0);
    CREATE TABLE queue (id INTEGER PRIMARY KEY AUTOINCREMENT, thread_id TEXT NOT NULL,
        value TEXT NOT NULL, enqueued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
    CREATE TABLE lists (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL,
        value TEXT NOT NULL, expires_at INTEGER);";

fn store(path: &Path, clock: &ManualClock) -> SqliteState {
    SqliteState::builder_for_file(path)
        .clock(Arc::new(clock.clone()))
        .sweep_interval(None)
        .build()
}

/// A queue entry as the original stored it: JSON text in its own spelling
/// (spaces, field order), which must survive byte for byte.
fn entry_text(id: &str, enqueued_at: i64, expires_at: i64) -> String {
    format!(
        r#"{{ "message": {{"id": "{id}", "text": "hi {id}"}}, "enqueuedAt": {enqueued_at}, "expiresAt": {expires_at} }}"#
    )
}

fn entry(id: &str, enqueued_at: i64, expires_at: i64) -> QueueEntry {
    QueueEntry {
        enqueued_at,
        expires_at,
        message: json!({"id": id, "text": format!("hi {id}")}),
    }
}

/// Subscriptions, locks and cache rows, live and expired.
fn fill_v1(c: &Connection) -> rusqlite::Result<()> {
    for thread in ["slack:C1:t1", "slack:C1:t2", "teams:x:y"] {
        c.execute(
            "INSERT INTO subscriptions (thread_id) VALUES (?1)",
            [thread],
        )?;
    }
    let mut lock =
        c.prepare("INSERT INTO locks (thread_id, token, expires_at) VALUES (?1, ?2, ?3)")?;
    lock.execute(params!["slack:C1:t1", "tok-live", T + 20_000])?;
    lock.execute(params!["slack:C1:t2", "tok-dead", T - 1])?;
    lock.execute(params!["slack:C1:t3", "tok-now", T])?;
    let mut cache = c.prepare("INSERT INTO cache (key, value, expires_at) VALUES (?1, ?2, ?3)")?;
    cache.execute(params!["k:ttl", r#"{"a": 1}"#, T + 60_000])?;
    cache.execute(params!["k:forever", "[1,2,3]", None::<i64>])?;
    cache.execute(params!["k:corrupt", "not json{", None::<i64>])?;
    cache.execute(params!["k:dead", r#""gone""#, T - 5])?;
    cache.execute(params!["k:now", r#""gone""#, T])?;
    Ok(())
}

/// Two queues interleaved by id plus one whose only entry expired, and two
/// lists interleaved by id with mixed expiries plus one wholly expired.
fn fill_v2(c: &Connection) -> rusqlite::Result<()> {
    let mut queue = c.prepare(
        "INSERT INTO queue (thread_id, value, enqueued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (thread, id, expires_at) in [
        ("q1", "e1", T + 300_000),
        ("q2", "f1", T + 300_000),
        ("q1", "e2", T - 1),
        ("q3", "g1", T - 10),
        ("q2", "f2", T + 100_000),
        ("q1", "e3", T + 200_000),
    ] {
        queue.execute(params![
            thread,
            entry_text(id, T - 1_000, expires_at),
            T - 1_000,
            expires_at
        ])?;
    }
    let mut list = c.prepare("INSERT INTO lists (key, value, expires_at) VALUES (?1, ?2, ?3)")?;
    for (key, value, expires_at) in [
        ("hist:a", r#""a0""#, Some(T + 10_000)),
        ("hist:b", r#"{"b": 0}"#, None),
        ("hist:a", r#""a1""#, Some(T - 1)),
        ("hist:dead", r#""d0""#, Some(T - 100)),
        ("hist:a", r#""a2""#, Some(T + 50_000)),
        ("hist:b", "oops{", Some(T + 5_000)),
        ("hist:b", r#""b2""#, Some(T - 2)),
        ("hist:a", r#""a3""#, Some(T + 30_000)),
        ("hist:dead", r#""d1""#, Some(T)),
    ] {
        list.execute(params![key, value, expires_at])?;
    }
    Ok(())
}

fn write_original(path: &Path, version: u8) -> rusqlite::Result<()> {
    let c = Connection::open(path)?;
    c.execute_batch(ORIGINAL_V1)?;
    fill_v1(&c)?;
    if version >= 2 {
        c.execute_batch(ORIGINAL_V2)?;
        fill_v2(&c)?;
    }
    Ok(())
}

async fn schema_version(state: &SqliteState) -> chat_state::Result<i64> {
    state
        .with_connection(|c| {
            c.query_row("SELECT version FROM cs_schema WHERE id = 1", [], |r| {
                r.get(0)
            })
        })
        .await
}

/// Every row of our tables, in key order, to compare two moments.
async fn snapshot(state: &SqliteState) -> chat_state::Result<Vec<String>> {
    state
        .with_connection(|c| {
            let mut out = Vec::new();
            for (table, order) in [
                ("cs_subscriptions", "1, 2"),
                ("cs_locks", "1, 2"),
                ("cs_kv", "1, 2"),
                ("cs_lists", "1, 2"),
                ("cs_list_items", "1, 2, 3"),
                ("cs_queue", "1, 2, 3"),
            ] {
                let mut stmt = c.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
                let width = stmt.column_count();
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    let cells = (0..width)
                        .map(|i| row.get::<_, SqlValue>(i))
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    out.push(format!("{table}: {cells:?}"));
                }
            }
            Ok(out)
        })
        .await
}

async fn raw_queue(
    state: &SqliteState,
    key: &'static str,
) -> chat_state::Result<Vec<(i64, String)>> {
    state
        .with_connection(move |c| {
            let mut stmt =
                c.prepare("SELECT seq, entry FROM cs_queue WHERE key = ?1 ORDER BY seq")?;
            let rows = stmt.query_map([key], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .await
}

type ListMeta = (Option<i64>, i64, i64);

async fn list_meta(state: &SqliteState, key: &'static str) -> chat_state::Result<Option<ListMeta>> {
    state
        .with_connection(move |c| {
            let mut stmt =
                c.prepare("SELECT expires_at, next_seq, len FROM cs_lists WHERE key = ?1")?;
            let mut rows = stmt.query_map([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.next().transpose()
        })
        .await
}

#[tokio::test]
async fn a_version_2_original_is_taken_over_once() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("original.db");
    write_original(&path, 2)?;
    let clock = ManualClock::new(T);
    let state = store(&path, &clock);
    state.connect().await?;
    assert_eq!(schema_version(&state).await?, 2);
    assert_eq!(SCHEMA_VERSION, 2);

    // Subscriptions: all of them.
    for thread in ["slack:C1:t1", "slack:C1:t2", "teams:x:y"] {
        assert!(state.is_subscribed(thread).await?, "{thread}");
    }
    assert!(!state.is_subscribed("slack:C1:t9").await?);

    // Cache: live keys with their values, corrupt text as a string.
    assert_eq!(state.get("k:ttl").await?, Some(json!({"a": 1})));
    assert_eq!(state.get("k:forever").await?, Some(json!([1, 2, 3])));
    assert_eq!(state.get("k:corrupt").await?, Some(json!("not json{")));
    assert_eq!(state.get("k:dead").await?, None);
    assert_eq!(state.get("k:now").await?, None);

    // Queues: live entries only, in id order, the JSON text verbatim.
    assert_eq!(state.queue_depth("q1").await?, 2);
    assert_eq!(state.queue_depth("q2").await?, 2);
    assert_eq!(state.queue_depth("q3").await?, 0);
    assert_eq!(
        raw_queue(&state, "q1").await?,
        vec![
            (1, entry_text("e1", T - 1_000, T + 300_000)),
            (2, entry_text("e3", T - 1_000, T + 200_000)),
        ]
    );
    // The order is by id, not by expiry: f2 expires before f1.
    for (queue, ids) in [("q1", ["e1", "e3"]), ("q2", ["f1", "f2"])] {
        for id in ids {
            let expires_at = match id {
                "e1" | "f1" => T + 300_000,
                "e3" => T + 200_000,
                _ => T + 100_000,
            };
            assert_eq!(
                state.dequeue(queue).await?,
                Some(entry(id, T - 1_000, expires_at))
            );
        }
        assert_eq!(state.dequeue(queue).await?, None);
    }
    assert_eq!(state.dequeue("q3").await?, None);

    // Lists: live elements in id order; the list expires with its latest
    // live element, and never if one of them has no expiry.
    assert_eq!(
        state.get_list("hist:a").await?,
        vec![json!("a0"), json!("a2"), json!("a3")]
    );
    assert_eq!(
        state.get_list("hist:b").await?,
        vec![json!({"b": 0}), json!("oops{")]
    );
    assert!(state.get_list("hist:dead").await?.is_empty());
    assert_eq!(
        list_meta(&state, "hist:a").await?,
        Some((Some(T + 50_000), 3, 3))
    );
    assert_eq!(list_meta(&state, "hist:b").await?, Some((None, 2, 2)));
    assert_eq!(list_meta(&state, "hist:dead").await?, None);
    // The metadata is consistent: an append lands after the taken-over
    // elements, and a trim drops the oldest of them.
    state
        .append_to_list("hist:b", &json!("b3"), ListOptions::max_length(2))
        .await?;
    assert_eq!(
        state.get_list("hist:b").await?,
        vec![json!("oops{"), json!("b3")]
    );

    // Locks: the live lease is still held, and its holder can still extend
    // and release it with the original token; the dead ones are free.
    assert!(state.acquire_lock("slack:C1:t1", 30_000).await?.is_none());
    let original = Lock {
        thread_id: "slack:C1:t1".into(),
        token: "tok-live".into(),
        expires_at: T + 20_000,
    };
    assert!(state.extend_lock(&original, 20_000).await?);
    state.release_lock(&original).await?;
    let again = state
        .acquire_lock("slack:C1:t1", 30_000)
        .await?
        .ok_or("released lock not free")?;
    state.release_lock(&again).await?;
    for dead in ["slack:C1:t2", "slack:C1:t3"] {
        let lock = state.acquire_lock(dead, 30_000).await?.ok_or(dead)?;
        state.release_lock(&lock).await?;
    }

    // Expiries: the cache key at its own, the list at its latest element's.
    clock.set(T + 49_999);
    assert_eq!(state.get_list("hist:a").await?.len(), 3);
    clock.set(T + 50_000);
    assert!(state.get_list("hist:a").await?.is_empty());
    clock.set(T + 59_999);
    assert_eq!(state.get("k:ttl").await?, Some(json!({"a": 1})));
    clock.set(T + 60_000);
    assert_eq!(state.get("k:ttl").await?, None);
    assert_eq!(state.get("k:forever").await?, Some(json!([1, 2, 3])));
    assert_eq!(state.get_list("hist:b").await?.len(), 2);

    // Roll forward again on a database the original kept writing to:
    // nothing is taken over twice, dequeued entries stay dequeued, and the
    // original's tables are still there for a rollback.
    state.purge_expired().await?;
    let before = snapshot(&state).await?;
    state.disconnect().await?;
    {
        let c = Connection::open(&path)?;
        fill_v1_more(&c)?;
        c.execute(
            "INSERT INTO queue (thread_id, value, enqueued_at, expires_at) VALUES ('q1', ?1, ?2, ?3)",
            params![entry_text("e4", T, T + 900_000), T, T + 900_000],
        )?;
        c.execute(
            "INSERT INTO lists (key, value, expires_at) VALUES ('hist:b', '\"late\"', NULL)",
            [],
        )?;
        let queue_rows: i64 = c.query_row("SELECT COUNT(*) FROM queue", [], |r| r.get(0))?;
        assert_eq!(queue_rows, 7);
    }
    state.connect().await?;
    assert_eq!(schema_version(&state).await?, 2);
    assert_eq!(snapshot(&state).await?, before);
    assert_eq!(state.dequeue("q1").await?, None);
    assert!(!state.is_subscribed("late:thread").await?);
    assert_eq!(state.get("k:late").await?, None);
    assert_eq!(
        state.get_list("hist:b").await?,
        vec![json!("oops{"), json!("b3")]
    );
    state.disconnect().await?;
    Ok(())
}

fn fill_v1_more(c: &Connection) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO subscriptions (thread_id) VALUES ('late:thread')",
        [],
    )?;
    c.execute(
        "INSERT INTO cache (key, value, expires_at) VALUES ('k:late', '1', NULL)",
        [],
    )?;
    c.execute(
        "UPDATE locks SET token = 'tok-other', expires_at = ?1",
        [T + 1_000_000],
    )?;
    Ok(())
}

#[tokio::test]
async fn a_version_1_original_is_taken_over() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("original-v1.db");
    write_original(&path, 1)?;
    let state = store(&path, &ManualClock::new(T));
    state.connect().await?;
    assert_eq!(schema_version(&state).await?, 2);

    assert!(state.is_subscribed("teams:x:y").await?);
    assert!(state.acquire_lock("slack:C1:t1", 30_000).await?.is_none());
    assert_eq!(state.get("k:ttl").await?, Some(json!({"a": 1})));
    assert_eq!(state.get("k:dead").await?, None);
    assert_eq!(state.queue_depth("q1").await?, 0);
    assert!(state.get_list("hist:a").await?.is_empty());
    let lists: i64 = state
        .with_connection(|c| c.query_row("SELECT COUNT(*) FROM cs_lists", [], |r| r.get(0)))
        .await?;
    assert_eq!(lists, 0);
    Ok(())
}

#[tokio::test]
async fn a_fresh_database_gets_version_2() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("fresh.db");
    let state = store(&path, &ManualClock::new(T));
    state.connect().await?;
    assert_eq!(schema_version(&state).await?, 2);
    assert!(snapshot(&state).await?.is_empty());
    state.disconnect().await?;
    state.connect().await?;
    assert_eq!(schema_version(&state).await?, 2);
    Ok(())
}

/// A store of our previous release (schema version 1) that ran on the
/// original's database before the takeover existed: what it wrote wins,
/// and a queue or list it has is not mixed with the original's entries.
#[tokio::test]
async fn data_already_in_our_tables_wins() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("both.db");
    let clock = ManualClock::new(T);
    let state = store(&path, &clock);
    state.connect().await?;
    state.set("k:ttl", &json!("ours"), None).await?;
    let ours = state
        .acquire_lock("slack:C1:t1", 60_000)
        .await?
        .ok_or("not acquired")?;
    state
        .enqueue("q1", &entry("mine", T, T + 60_000), 0)
        .await?;
    state
        .append_to_list("hist:a", &json!("mine"), ListOptions::default())
        .await?;
    state
        .with_connection(|c| {
            c.execute_batch(ORIGINAL_V1)?;
            fill_v1(c)?;
            c.execute_batch(ORIGINAL_V2)?;
            fill_v2(c)?;
            c.execute("UPDATE cs_schema SET version = 1", [])
        })
        .await?;
    state.disconnect().await?;

    state.connect().await?;
    assert_eq!(schema_version(&state).await?, 2);
    assert_eq!(state.get("k:ttl").await?, Some(json!("ours")));
    assert_eq!(state.get("k:forever").await?, Some(json!([1, 2, 3])));
    assert!(state.acquire_lock("slack:C1:t1", 30_000).await?.is_none());
    assert!(state.extend_lock(&ours, 60_000).await?);
    assert_eq!(
        state.dequeue("q1").await?,
        Some(entry("mine", T, T + 60_000))
    );
    assert_eq!(state.dequeue("q1").await?, None);
    assert_eq!(state.queue_depth("q2").await?, 2);
    assert_eq!(state.get_list("hist:a").await?, vec![json!("mine")]);
    assert_eq!(state.get_list("hist:b").await?.len(), 2);
    Ok(())
}

/// Tables that merely share a name with the original's are another
/// application's: without the original's version table, or without the
/// columns the copy reads, they are left alone and the connect succeeds.
#[tokio::test]
async fn foreign_tables_with_the_same_names_are_left_alone() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("foreign.db");
    {
        let c = Connection::open(&path)?;
        c.execute_batch(
            "CREATE TABLE cache (id INTEGER PRIMARY KEY, payload BLOB);
             INSERT INTO cache (payload) VALUES (x'00');
             CREATE TABLE subscriptions (thread_id TEXT PRIMARY KEY);
             INSERT INTO subscriptions VALUES ('not-ours');",
        )?;
    }
    let state = store(&path, &ManualClock::new(T));
    state.connect().await?;
    assert_eq!(schema_version(&state).await?, 2);
    assert!(!state.is_subscribed("not-ours").await?);
    assert!(snapshot(&state).await?.is_empty());
    state.disconnect().await?;

    // With the marker, the well-formed table is taken over and the
    // misshapen one skipped.
    let path = dir.path().join("misshapen.db");
    {
        let c = Connection::open(&path)?;
        c.execute_batch(
            "CREATE TABLE _schema_version (version INTEGER PRIMARY KEY);
             INSERT INTO _schema_version VALUES (2);
             CREATE TABLE cache (id INTEGER PRIMARY KEY, payload BLOB);
             INSERT INTO cache (payload) VALUES (x'00');
             CREATE TABLE subscriptions (thread_id TEXT PRIMARY KEY);
             INSERT INTO subscriptions VALUES ('theirs');",
        )?;
    }
    let state = store(&path, &ManualClock::new(T));
    state.connect().await?;
    assert!(state.is_subscribed("theirs").await?);
    assert_eq!(snapshot(&state).await?.len(), 1);
    Ok(())
}

/// The prefix of the store is the one the data lands under.
#[tokio::test]
async fn data_is_taken_over_under_the_configured_prefix() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("prefixed.db");
    write_original(&path, 2)?;
    let state = SqliteState::builder_for_file(&path)
        .clock(Arc::new(ManualClock::new(T)))
        .key_prefix("bot-a")
        .sweep_interval(None)
        .build();
    state.connect().await?;
    let prefixes: Vec<String> = state
        .with_connection(|c| {
            let mut stmt = c.prepare(
                "SELECT DISTINCT prefix FROM (SELECT prefix FROM cs_kv UNION ALL
                 SELECT prefix FROM cs_queue UNION ALL SELECT prefix FROM cs_list_items)",
            )?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect()
        })
        .await?;
    assert_eq!(prefixes, vec!["bot-a".to_owned()]);
    assert_eq!(state.get_list("hist:a").await?.len(), 3);
    let first: Option<Value> = state.get("k:forever").await?;
    assert_eq!(first, Some(json!([1, 2, 3])));
    Ok(())
}
