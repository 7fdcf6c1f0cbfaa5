//! Model-based test of the native store: random operation sequences run
//! against an in-memory [`SqliteState`] on a manual clock and against the
//! reference model of `chat_state_conformance::model`, comparing every result.

use std::sync::Arc;

use chat_state::{ListOptions, Lock, ManualClock, Purge, QueueEntry, Result, StateAdapter};
use chat_state_conformance::{model, Harness, RawStore, TestResult};
use chat_state_sqlite::SqliteState;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestError, TestRunner};
use serde_json::Value;

/// Where every fresh store's clock starts.
const START_MS: i64 = 1_700_000_000_000;

/// An in-memory store together with the clock it reads.
#[derive(Debug, Clone)]
struct Native {
    state: SqliteState,
    clock: ManualClock,
}

impl StateAdapter for Native {
    async fn connect(&self) -> Result<()> {
        self.state.connect().await
    }

    async fn disconnect(&self) -> Result<()> {
        self.state.disconnect().await
    }

    async fn subscribe(&self, thread_id: &str) -> Result<()> {
        self.state.subscribe(thread_id).await
    }

    async fn unsubscribe(&self, thread_id: &str) -> Result<()> {
        self.state.unsubscribe(thread_id).await
    }

    async fn is_subscribed(&self, thread_id: &str) -> Result<bool> {
        self.state.is_subscribed(thread_id).await
    }

    async fn acquire_lock(&self, key: &str, ttl_ms: i64) -> Result<Option<Lock>> {
        self.state.acquire_lock(key, ttl_ms).await
    }

    async fn release_lock(&self, lock: &Lock) -> Result<()> {
        self.state.release_lock(lock).await
    }

    async fn extend_lock(&self, lock: &Lock, ttl_ms: i64) -> Result<bool> {
        self.state.extend_lock(lock, ttl_ms).await
    }

    async fn force_release_lock(&self, key: &str) -> Result<()> {
        self.state.force_release_lock(key).await
    }

    async fn get(&self, key: &str) -> Result<Option<Value>> {
        self.state.get(key).await
    }

    async fn set(&self, key: &str, value: &Value, ttl_ms: Option<i64>) -> Result<()> {
        self.state.set(key, value, ttl_ms).await
    }

    async fn set_if_not_exists(
        &self,
        key: &str,
        value: &Value,
        ttl_ms: Option<i64>,
    ) -> Result<bool> {
        self.state.set_if_not_exists(key, value, ttl_ms).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.state.delete(key).await
    }

    async fn append_to_list(&self, key: &str, value: &Value, options: ListOptions) -> Result<()> {
        self.state.append_to_list(key, value, options).await
    }

    async fn get_list(&self, key: &str) -> Result<Vec<Value>> {
        self.state.get_list(key).await
    }

    async fn enqueue(&self, key: &str, entry: &QueueEntry, max_size: i64) -> Result<u64> {
        self.state.enqueue(key, entry, max_size).await
    }

    async fn dequeue(&self, key: &str) -> Result<Option<QueueEntry>> {
        self.state.dequeue(key).await
    }

    async fn queue_depth(&self, key: &str) -> Result<u64> {
        self.state.queue_depth(key).await
    }
}

/// Fresh in-memory stores, each on its own manual clock, with no background
/// sweep: expired rows go only when the model test asks for a purge.
struct NativeHarness;

impl Harness for NativeHarness {
    type Adapter = Native;

    async fn fresh(&self) -> Native {
        let clock = ManualClock::new(START_MS);
        let state = SqliteState::builder_in_memory()
            .clock(Arc::new(clock.clone()))
            .sweep_interval(None)
            .build();
        Native { state, clock }
    }

    async fn now(&self, adapter: &Native) -> i64 {
        chat_state::Clock::now_ms(&adapter.clock)
    }

    async fn advance(&self, adapter: &Native, ms: i64) {
        adapter.clock.advance(ms);
    }

    async fn write_raw(
        &self,
        _adapter: &Native,
        store: RawStore,
        key: &str,
        _text: &str,
    ) -> TestResult {
        // The model never writes behind the adapter's back.
        Err(format!("write_raw({store:?}, {key:?}) is not supported by the model harness").into())
    }

    async fn purge(&self, adapter: &Native) -> Result<Purge> {
        adapter.state.purge_expired().await
    }
}

/// Runs `f` on a new current-thread Tokio runtime.
fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread Tokio runtime can be built")
        .block_on(f)
}

/// 2,000 (or `PROPTEST_CASES`, if more) random sequences of up to 200 operations each. On a failure,
/// proptest shrinks the sequence, then [`model::minimize`] drops every
/// operation that is not needed to reproduce it, and the test panics with
/// the result, one operation per line.
#[test]
fn native_store_matches_the_model() {
    let config = ProptestConfig {
        // At least 2,000; `PROPTEST_CASES` may ask for more.
        cases: ProptestConfig::default().cases.max(2_000),
        source_file: Some(file!()),
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&model::ops(), |ops| {
        block_on(model::check(&NativeHarness, &ops)).map_err(TestCaseError::fail)
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, ops)) => {
            let (minimal, outcome) = block_on(model::minimize(&NativeHarness, &ops));
            let listing: Vec<String> = minimal.iter().map(|op| format!("  {op:?}")).collect();
            panic!(
                "the native store differs from the model: {reason}\n\
                 minimal sequence ({} ops):\n{}\n\
                 its failure: {}",
                minimal.len(),
                listing.join("\n"),
                outcome.err().unwrap_or_default()
            );
        }
        Err(abort) => panic!("proptest gave up: {abort}"),
    }
}
