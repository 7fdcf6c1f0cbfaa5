//! Behaviour specific to the native home: files, several connections on
//! one file, the background sweep, and use outside a Tokio runtime.

use std::sync::Arc;
use std::time::Duration;

use chat_state::{ErrorKind, ListOptions, ManualClock, StateAdapter};
use chat_state_sqlite::SqliteState;
use serde_json::json;

const START_MS: i64 = 1_700_000_000_000;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn file_store(path: &std::path::Path, clock: &ManualClock) -> SqliteState {
    SqliteState::builder_for_file(path)
        .clock(Arc::new(clock.clone()))
        .sweep_interval(None)
        .build()
}

async fn count_rows(state: &SqliteState, table: &'static str) -> chat_state::Result<i64> {
    state
        .with_connection(move |c| {
            c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        })
        .await
}

#[tokio::test]
async fn a_file_store_keeps_its_data_across_a_restart() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let clock = ManualClock::new(START_MS);

    let first = file_store(&path, &clock);
    first.connect().await?;
    first.subscribe("web:u:c").await?;
    first
        .set("thread-state:web:u:c", &json!({"name": "Ada"}), None)
        .await?;
    first
        .append_to_list(
            "msg-history:web:u:c",
            &json!("hi"),
            ListOptions::max_length(100),
        )
        .await?;
    let lock = first
        .acquire_lock("web:u:c", 30_000)
        .await?
        .ok_or("not acquired")?;
    first.disconnect().await?;
    drop(first);

    let second = file_store(&path, &clock);
    second.connect().await?;
    assert!(second.is_subscribed("web:u:c").await?);
    assert_eq!(
        second.get("thread-state:web:u:c").await?,
        Some(json!({"name": "Ada"}))
    );
    assert_eq!(
        second.get_list("msg-history:web:u:c").await?,
        vec![json!("hi")]
    );
    assert!(second.acquire_lock("web:u:c", 30_000).await?.is_none());
    assert!(second.extend_lock(&lock, 30_000).await?);
    let mode: String = second
        .with_connection(|c| c.query_row("PRAGMA journal_mode", [], |r| r.get(0)))
        .await?;
    assert_eq!(mode, "wal");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_on_one_file_race_for_a_lock_with_one_winner() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("race.db");
    let clock = ManualClock::new(START_MS);
    // Eight stores, eight connections: SQLite's file lock decides.
    let mut stores = Vec::new();
    for _ in 0..8 {
        let s = file_store(&path, &clock);
        s.connect().await?;
        stores.push(s);
    }
    for round in 0..10 {
        let key = format!("race-{round}");
        let attempts = (0..64).map(|i| {
            let store = stores[i % stores.len()].clone();
            let key = key.clone();
            tokio::spawn(async move { store.acquire_lock(&key, 30_000).await })
        });
        let mut winners = 0;
        for attempt in futures::future::join_all(attempts).await {
            if attempt??.is_some() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}");

        let dedupe = format!("dedupe:web:{round}");
        let attempts = (0..64).map(|i| {
            let store = stores[i % stores.len()].clone();
            let key = dedupe.clone();
            tokio::spawn(
                async move { store.set_if_not_exists(&key, &json!(i), Some(60_000)).await },
            )
        });
        let mut written = 0;
        for attempt in futures::future::join_all(attempts).await {
            if attempt?? {
                written += 1;
            }
        }
        assert_eq!(written, 1, "round {round}");
    }
    Ok(())
}

#[tokio::test]
async fn connect_sweeps_what_expired_while_closed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("sweep.db");
    let clock = ManualClock::new(START_MS);
    let state = file_store(&path, &clock);
    state.connect().await?;
    state.set("dedupe:1", &json!(true), Some(1_000)).await?;
    state.set("keep", &json!(true), None).await?;
    state
        .append_to_list("l", &json!(1), ListOptions::default().with_ttl_ms(1_000))
        .await?;
    state.disconnect().await?;

    clock.advance(1_000);
    state.connect().await?;
    assert_eq!(count_rows(&state, "cs_kv").await?, 1);
    assert_eq!(count_rows(&state, "cs_lists").await?, 0);
    assert_eq!(count_rows(&state, "cs_list_items").await?, 0);
    Ok(())
}

#[tokio::test]
async fn the_background_sweep_reclaims_expired_rows() -> TestResult {
    let clock = ManualClock::new(START_MS);
    let state = SqliteState::builder_in_memory()
        .clock(Arc::new(clock.clone()))
        .sweep_interval(Some(Duration::from_millis(10)))
        .sweep_batch(7)
        .build();
    state.connect().await?;
    for i in 0..100 {
        state.set(&format!("k{i}"), &json!(i), Some(50)).await?;
    }
    clock.advance(50);
    // Bounded wait for the background task; expiry itself is on the manual clock.
    let mut left = count_rows(&state, "cs_kv").await?;
    for _ in 0..200 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        left = count_rows(&state, "cs_kv").await?;
    }
    assert_eq!(left, 0, "the sweep left rows behind");
    Ok(())
}

#[tokio::test]
async fn a_failed_connect_is_not_cached() -> TestResult {
    let dir = tempfile::tempdir()?;
    let missing = dir.path().join("not-yet").join("state.db");
    let state = file_store(&missing, &ManualClock::new(START_MS));
    let err = state
        .connect()
        .await
        .err()
        .ok_or("opened a file in a missing folder")?;
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert_eq!(
        state.get("k").await.err().map(|e| e.kind()),
        Some(ErrorKind::NotConnected)
    );
    std::fs::create_dir(dir.path().join("not-yet"))?;
    state.connect().await?;
    state.set("k", &json!(1), None).await?;
    assert_eq!(state.get("k").await?, Some(json!(1)));
    Ok(())
}

#[test]
fn works_without_a_tokio_runtime() -> TestResult {
    futures::executor::block_on(async {
        let state = SqliteState::in_memory();
        state.connect().await?;
        assert!(state.set_if_not_exists("k", &json!(1), Some(1_000)).await?);
        assert!(!state.set_if_not_exists("k", &json!(2), Some(1_000)).await?);
        state.disconnect().await?;
        Ok(())
    })
}

#[tokio::test]
async fn key_prefixes_isolate_deployments_sharing_a_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("shared.db");
    let clock = ManualClock::new(START_MS);
    let a = SqliteState::builder_for_file(&path)
        .key_prefix("bot-a")
        .clock(Arc::new(clock.clone()))
        .build();
    let b = SqliteState::builder_for_file(&path)
        .key_prefix("bot-b")
        .clock(Arc::new(clock.clone()))
        .build();
    a.connect().await?;
    b.connect().await?;
    a.set("k", &json!("a"), None).await?;
    assert_eq!(b.get("k").await?, None);
    assert!(b.acquire_lock("t", 1_000).await?.is_some());
    assert!(a.acquire_lock("t", 1_000).await?.is_some());
    a.subscribe("t").await?;
    assert!(!b.is_subscribed("t").await?);
    Ok(())
}
