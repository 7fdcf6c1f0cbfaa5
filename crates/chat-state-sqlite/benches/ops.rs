//! Criterion benchmarks of the hot operations on the native in-memory store.
//!
//! One group per operation, each measured on a store that holds no other
//! rows and on one that holds 100,000 other live rows spread over every
//! table (`BenchmarkId` parameter `other_rows`). The two should take the same
//! time: every statement is an index seek (see `tests/cost.rs`).
//!
//! Calls go through the async [`StateAdapter`] trait on a current-thread
//! Tokio runtime, as a bot makes them, so each includes the store's hop to
//! Tokio's blocking pool. With `CHAT_STATE_BENCH_INLINE=1` they run without a
//! runtime instead, where the store works inline: that times the engine and
//! SQLite alone.
//!
//! ```text
//! cargo bench -p chat-state-sqlite                 # everything, ~1 minute
//! cargo bench -p chat-state-sqlite -- get_hit      # one group
//! ```

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use chat_state::{ListOptions, ManualClock, QueueEntry, StateAdapter};
use chat_state_sqlite::SqliteState;
use criterion::{BenchmarkId, Criterion};
use rusqlite::{params, Connection};
use serde_json::{json, Value};
use tokio::runtime::Runtime;

/// The store's clock never moves, so no TTL set here runs out mid-bench.
const NOW: i64 = 1_700_000_000_000;
const PREFIX: &str = "chat-sdk";
const SIZES: [usize; 2] = [0, 100_000];

/// How each call's future is driven to completion.
enum Driver {
    Tokio(Runtime),
    Inline,
}

impl Driver {
    fn from_env() -> Self {
        if std::env::var_os("CHAT_STATE_BENCH_INLINE").is_some_and(|v| v == "1") {
            Driver::Inline
        } else {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a current-thread Tokio runtime");
            Driver::Tokio(runtime)
        }
    }

    fn run<F: Future>(&self, future: F) -> F::Output {
        match self {
            Driver::Tokio(runtime) => runtime.block_on(future),
            Driver::Inline => futures::executor::block_on(future),
        }
    }
}

/// A connected store and the values the operations write.
struct Fixture {
    other_rows: usize,
    state: SqliteState,
    message: Value,
    window: ListOptions,
    entry: QueueEntry,
}

/// Spelling of unrelated keys: they sort on both sides of the `hot:` keys.
fn other_key(kind: &str, i: usize) -> String {
    const LEADS: [&str; 3] = ["a", "m", "z"];
    format!("{}-{kind}:{i}", LEADS[i % LEADS.len()])
}

/// Inserts `total` live rows straight into the engine's tables: 60 % cache
/// keys, 10 % locks, 10 % list rows (50-value lists), 10 % queue entries
/// (20 per queue) and the rest subscriptions.
fn seed(conn: &Connection, total: usize) -> rusqlite::Result<()> {
    let kv = total * 6 / 10;
    let locks = total / 10;
    let lists = total / 10 / 51;
    let queues = total / 10 / 20;
    let threads = total - kv - locks - lists * 51 - queues * 20;
    let at = |offset: usize| NOW + i64::try_from(offset).unwrap_or(0);

    let mut stmt = conn.prepare("INSERT INTO cs_kv VALUES (?1, ?2, ?3, ?4)")?;
    for i in 0..kv {
        let expiry = (i % 4 != 0).then(|| at(3_600_000 + i));
        stmt.execute(params![PREFIX, other_key("kv", i), "{\"n\":1}", expiry])?;
    }
    let mut stmt = conn.prepare("INSERT INTO cs_locks VALUES (?1, ?2, ?3, ?4)")?;
    for i in 0..locks {
        stmt.execute(params![
            PREFIX,
            other_key("lock", i),
            "token",
            at(30_000 + i)
        ])?;
    }
    let mut meta = conn.prepare("INSERT INTO cs_lists VALUES (?1, ?2, ?3, 50, 50)")?;
    let mut item = conn.prepare("INSERT INTO cs_list_items VALUES (?1, ?2, ?3, ?4)")?;
    for i in 0..lists {
        let key = other_key("list", i);
        meta.execute(params![PREFIX, key, at(86_400_000)])?;
        for seq in 0..50 {
            item.execute(params![PREFIX, key, seq, "\"message\""])?;
        }
    }
    let mut stmt = conn.prepare("INSERT INTO cs_queue VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
    for i in 0..queues {
        let key = other_key("queue", i);
        for seq in 1..=20 {
            let expiry = at(600_000 + i);
            let entry = format!("{{\"enqueuedAt\":{NOW},\"expiresAt\":{expiry},\"message\":{{}}}}");
            stmt.execute(params![PREFIX, key, seq, NOW, expiry, entry])?;
        }
    }
    let mut stmt = conn.prepare("INSERT INTO cs_subscriptions VALUES (?1, ?2)")?;
    for i in 0..threads {
        stmt.execute(params![PREFIX, other_key("thread", i)])?;
    }
    Ok(())
}

fn fixture(driver: &Driver, other_rows: usize) -> Fixture {
    driver.run(async {
        let state = SqliteState::builder_in_memory()
            .clock(Arc::new(ManualClock::new(NOW)))
            .sweep_interval(None)
            .build();
        state.connect().await.expect("connect");
        state
            .with_connection(move |conn| seed(conn, other_rows))
            .await
            .expect("seed");
        let message = json!({"id": "m1", "text": "hello", "author": {"userId": "U1"}});
        let window = ListOptions::max_length(50).with_ttl_ms(3_600_000);
        for _ in 0..50 {
            for key in ["hot:history", "hot:read"] {
                state
                    .append_to_list(key, &message, window)
                    .await
                    .expect("fill list");
            }
        }
        state.set("hot:get", &message, None).await.expect("set");
        state.subscribe("hot:subscribed").await.expect("subscribe");
        let entry = QueueEntry {
            enqueued_at: NOW,
            expires_at: NOW + 60_000,
            message: message.clone(),
        };
        Fixture {
            other_rows,
            state,
            message,
            window,
            entry,
        }
    })
}

/// One benchmark group: `op` at every size. Its `u64` argument is distinct
/// on every call, for operations that need a fresh key each time.
fn group<F>(c: &mut Criterion, driver: &Driver, fixtures: &[Fixture], name: &str, op: F)
where
    F: Fn(&Driver, &Fixture, u64),
{
    let mut group = c.benchmark_group(name);
    for fixture in fixtures {
        let mut call = 0_u64;
        let id = BenchmarkId::new("other_rows", fixture.other_rows);
        group.bench_with_input(id, fixture, |b, fixture| {
            b.iter(|| {
                call += 1;
                op(driver, fixture, call);
            });
        });
    }
    group.finish();
}

fn operations(c: &mut Criterion) {
    let driver = Driver::from_env();
    let fixtures: Vec<Fixture> = SIZES.iter().map(|&n| fixture(&driver, n)).collect();
    let fixtures = fixtures.as_slice();

    group(c, &driver, fixtures, "set_ttl", |d, f, _| {
        d.run(f.state.set("hot:set", &f.message, Some(60_000)))
            .expect("set");
    });
    group(
        c,
        &driver,
        fixtures,
        "set_if_not_exists_new_key",
        |d, f, n| {
            let key = format!("hot:dedupe:{n}");
            let wrote = d
                .run(f.state.set_if_not_exists(&key, &f.message, Some(60_000)))
                .expect("setIfNotExists");
            assert!(wrote, "a new key was not written");
        },
    );
    group(c, &driver, fixtures, "get_hit", |d, f, _| {
        let value = d.run(f.state.get("hot:get")).expect("get");
        assert!(black_box(value).is_some(), "get missed");
    });
    group(c, &driver, fixtures, "acquire_release_lock", |d, f, _| {
        d.run(async {
            let lock = f.state.acquire_lock("hot:lock", 30_000).await?;
            let lock = lock.expect("the lock is free");
            f.state.release_lock(&lock).await
        })
        .expect("lock");
    });
    group(c, &driver, fixtures, "enqueue_dequeue", |d, f, _| {
        let taken = d
            .run(async {
                f.state.enqueue("hot:queue", &f.entry, 10).await?;
                f.state.dequeue("hot:queue").await
            })
            .expect("queue");
        assert!(black_box(taken).is_some(), "dequeue found nothing");
    });
    group(c, &driver, fixtures, "append_to_full_list", |d, f, _| {
        d.run(f.state.append_to_list("hot:history", &f.message, f.window))
            .expect("appendToList");
    });
    group(c, &driver, fixtures, "get_list_50", |d, f, _| {
        let values = d.run(f.state.get_list("hot:read")).expect("getList");
        assert_eq!(black_box(values).len(), 50);
    });
    group(c, &driver, fixtures, "is_subscribed", |d, f, _| {
        let yes = d
            .run(f.state.is_subscribed("hot:subscribed"))
            .expect("isSubscribed");
        assert!(black_box(yes), "not subscribed");
    });
    group(c, &driver, fixtures, "subscribe_new", |d, f, n| {
        let thread = format!("hot:thread:{n}");
        d.run(f.state.subscribe(&thread)).expect("subscribe");
    });
}

fn main() {
    // Small and short: 9 groups x 2 sizes finish in about a minute on 2
    // cores. The operations take microseconds, so a second of samples still
    // holds many thousand calls. Command-line options (a filter, `--quick`)
    // apply on top.
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    operations(&mut criterion);
    criterion.final_summary();
}
