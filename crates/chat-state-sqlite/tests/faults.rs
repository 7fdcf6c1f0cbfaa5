//! Injected transport faults: a call fails before or after the object
//! applied it, with the platform's `retryable` or `overloaded` advice. The
//! client must retry only what is safe, never apply a write twice, and
//! report overload at once.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chat_state::wire::{RetryPolicy, Route, Transport, WireClient};
use chat_state::{Error, ErrorKind, ListOptions, ManualClock, QueueEntry, StateAdapter};
use chat_state_sqlite::SqliteState;
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The request never reached the object.
    Before { retryable: bool, overloaded: bool },
    /// The object applied the call; the reply was lost.
    After { retryable: bool, overloaded: bool },
}

const LOST: Fault = Fault::After {
    retryable: true,
    overloaded: false,
};
const DROPPED: Fault = Fault::Before {
    retryable: true,
    overloaded: false,
};
const OVERLOADED: Fault = Fault::Before {
    retryable: true,
    overloaded: true,
};

/// A transport over a native store that fails on a script.
struct Faulty {
    server: SqliteState,
    script: Mutex<VecDeque<Fault>>,
    /// Every attempt, by operation name, and whether it reached the object.
    log: Mutex<Vec<(String, bool)>>,
}

fn platform(retryable: bool, overloaded: bool) -> Error {
    Error::Storage {
        operation: "Durable Object call",
        source: "injected fault".into(),
        retryable,
        overloaded,
    }
}

/// The client's handle on the faulty transport, shared with the test.
struct Shared(Arc<Faulty>);

impl Transport for Shared {
    async fn send(&self, _route: Route<'_>, request: &str) -> chat_state::Result<String> {
        let op = serde_json::from_str::<serde_json::Value>(request)
            .ok()
            .and_then(|v| v["op"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let fault = self
            .0
            .script
            .lock()
            .map_err(|_| platform(false, false))?
            .pop_front();
        let applied = !matches!(fault, Some(Fault::Before { .. }));
        self.0
            .log
            .lock()
            .map_err(|_| platform(false, false))?
            .push((op, applied));
        match fault {
            None => self.0.server.serve(request.to_owned()).await,
            Some(Fault::Before {
                retryable,
                overloaded,
            }) => Err(platform(retryable, overloaded)),
            Some(Fault::After {
                retryable,
                overloaded,
            }) => {
                self.0.server.serve(request.to_owned()).await?;
                Err(platform(retryable, overloaded))
            }
        }
    }

    async fn sleep(&self, delay: Duration) {
        tokio::time::sleep(delay).await;
    }
}

struct Setup {
    client: WireClient<Shared>,
    faulty: Arc<Faulty>,
    clock: ManualClock,
}

impl Setup {
    async fn new() -> chat_state::Result<Setup> {
        let clock = ManualClock::new(1_700_000_000_000);
        let server = SqliteState::builder_in_memory()
            .clock(Arc::new(clock.clone()))
            .sweep_interval(None)
            .build();
        server.connect().await?;
        let faulty = Arc::new(Faulty {
            server,
            script: Mutex::new(VecDeque::new()),
            log: Mutex::new(Vec::new()),
        });
        let client = WireClient::new(Shared(faulty.clone()), "faulty").with_retry(RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(1),
        });
        client.connect().await?;
        Ok(Setup {
            client,
            faulty,
            clock,
        })
    }

    fn inject(&self, faults: &[Fault]) {
        let mut script = self.faulty.script.lock().unwrap_or_else(|p| p.into_inner());
        script.clear();
        script.extend(faults.iter().copied());
    }

    /// Attempts since the last call of this method: (op, reached the object).
    fn attempts(&self) -> Vec<(String, bool)> {
        std::mem::take(&mut *self.faulty.log.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn ops(attempts: &[(String, bool)]) -> Vec<&str> {
    attempts.iter().map(|(op, _)| op.as_str()).collect()
}

#[tokio::test]
async fn safe_calls_are_retried_after_a_transient_failure() -> TestResult {
    let s = Setup::new().await?;
    s.inject(&[DROPPED]);
    s.client.set("k", &json!(1), None).await?;
    assert_eq!(ops(&s.attempts()), ["set", "set"]);
    s.inject(&[LOST, DROPPED]);
    assert_eq!(s.client.get("k").await?, Some(json!(1)));
    assert_eq!(ops(&s.attempts()), ["get", "get", "get"]);
    s.inject(&[LOST]);
    s.client.subscribe("t").await?;
    assert!(s.client.is_subscribed("t").await?);
    assert_eq!(
        ops(&s.attempts()),
        ["subscribe", "subscribe", "isSubscribed"]
    );
    Ok(())
}

#[tokio::test]
async fn a_lost_acquire_is_retried_and_returns_the_same_lease() -> TestResult {
    let s = Setup::new().await?;
    s.inject(&[LOST]);
    let lock = s
        .client
        .acquire_lock("t", 30_000)
        .await?
        .ok_or("the retry lost the lock")?;
    let attempts = s.attempts();
    assert_eq!(
        attempts,
        [
            ("acquireLock".to_owned(), true),
            ("acquireLock".to_owned(), true)
        ]
    );
    // The lease taken by the lost attempt is the one returned: releasing it
    // frees the key.
    s.client.release_lock(&lock).await?;
    assert!(s.client.acquire_lock("t", 30_000).await?.is_some());
    Ok(())
}

#[tokio::test]
async fn writes_that_could_double_apply_are_never_retried() -> TestResult {
    let s = Setup::new().await?;
    let now = 1_700_000_000_000;
    let entry = QueueEntry {
        enqueued_at: now,
        expires_at: now + 90_000,
        message: json!({"id": "m1"}),
    };

    s.inject(&[LOST]);
    let err = s
        .client
        .enqueue("t", &entry, 10)
        .await
        .err()
        .ok_or("a lost enqueue succeeded")?;
    assert!(
        err.is_retryable(),
        "the caller sees the platform's advice: {err}"
    );
    assert_eq!(ops(&s.attempts()), ["enqueue"]);
    assert_eq!(s.client.queue_depth("t").await?, 1, "applied exactly once");
    s.attempts();

    s.inject(&[LOST]);
    assert!(s
        .client
        .append_to_list("h", &json!("m1"), ListOptions::max_length(100))
        .await
        .is_err());
    assert_eq!(ops(&s.attempts()), ["appendToList"]);
    assert_eq!(s.client.get_list("h").await?, vec![json!("m1")]);
    s.attempts();

    s.inject(&[LOST]);
    assert!(s
        .client
        .set_if_not_exists("dedupe:m1", &json!(true), Some(600_000))
        .await
        .is_err());
    assert_eq!(ops(&s.attempts()), ["setIfNotExists"]);
    assert!(
        !s.client
            .set_if_not_exists("dedupe:m1", &json!(true), Some(600_000))
            .await?
    );
    s.attempts();

    s.inject(&[LOST]);
    assert!(s.client.dequeue("t").await.is_err());
    assert_eq!(ops(&s.attempts()), ["dequeue"]);
    assert_eq!(
        s.client.queue_depth("t").await?,
        0,
        "one dequeue took one entry"
    );
    Ok(())
}

#[tokio::test]
async fn overload_is_reported_at_once() -> TestResult {
    let s = Setup::new().await?;
    s.inject(&[OVERLOADED, OVERLOADED]);
    let err = s.client.get("k").await.err().ok_or("overload was hidden")?;
    assert!(err.is_overloaded(), "{err}");
    assert_eq!(ops(&s.attempts()), ["get"]);
    Ok(())
}

#[tokio::test]
async fn retries_stop_after_the_last_attempt() -> TestResult {
    let s = Setup::new().await?;
    s.inject(&[DROPPED, DROPPED, DROPPED, DROPPED]);
    let err = s
        .client
        .get("k")
        .await
        .err()
        .ok_or("succeeded through four faults")?;
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert_eq!(ops(&s.attempts()), ["get", "get", "get"]);
    // A failure without the retryable mark is not retried at all.
    s.inject(&[Fault::Before {
        retryable: false,
        overloaded: false,
    }]);
    assert!(s.client.get("k").await.is_err());
    assert_eq!(ops(&s.attempts()), ["get"]);
    Ok(())
}

#[tokio::test]
async fn an_extend_that_frees_the_lock_is_not_retried() -> TestResult {
    let s = Setup::new().await?;
    let lock = s
        .client
        .acquire_lock("t", 30_000)
        .await?
        .ok_or("not acquired")?;
    s.attempts();
    s.inject(&[LOST]);
    assert!(s.client.extend_lock(&lock, 0).await.is_err());
    assert_eq!(ops(&s.attempts()), ["extendLock"]);
    s.inject(&[LOST]);
    let lock = s
        .client
        .acquire_lock("t", 30_000)
        .await?
        .ok_or("extend(0) did not free")?;
    s.attempts();
    s.inject(&[LOST]);
    assert!(
        s.client.extend_lock(&lock, 30_000).await?,
        "a safe extend is retried"
    );
    assert_eq!(ops(&s.attempts()), ["extendLock", "extendLock"]);
    s.clock.advance(29_999);
    assert!(s.client.acquire_lock("t", 10).await?.is_none());
    Ok(())
}
