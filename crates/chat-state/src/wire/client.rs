//! The client side of the protocol: [`WireClient`] implements the contract
//! by sending each call through a [`Transport`], and retries what is safe
//! to retry.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::{Reply, UNSUPPORTED_VERSION, VERSION};
use crate::adapter::StateAdapter;
use crate::error::{Error, Result};
use crate::json::{decode_entry, decode_lenient, encode};
use crate::types::{ListOptions, Lock, QueueEntry};

/// Which object a call belongs to, for transports that shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// A thread-scoped call (subscriptions, locks, queues), by thread id or
    /// lock key.
    Thread(&'a str),
    /// A cache or list call, by key.
    Key(&'a str),
}

/// Whether a call may be sent again after a transient failure in which it
/// may or may not have run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Repeating it leaves the same final state: reads, deletes, `set`,
    /// `releaseLock`, `extendLock` with a positive TTL, and `acquireLock`,
    /// whose token the client makes.
    Safe,
    /// Repeating it could change the outcome: `setIfNotExists`, `enqueue`,
    /// `appendToList`, `dequeue`, `extendLock` that frees the lock.
    Unsafe,
}

/// Carries one request to the object that owns `route` and returns the
/// reply text. Implementations decide sharding and stubs; retries are the
/// client's.
pub trait Transport {
    /// Sends `request` once and returns the reply text. A failure should
    /// carry the platform's `retryable` and `overloaded` advice in
    /// [`Error::Storage`].
    fn send(&self, route: Route<'_>, request: &str) -> impl Future<Output = Result<String>>;

    /// Waits `delay` before a retry, on the host's timer.
    fn sleep(&self, delay: Duration) -> impl Future<Output = ()>;

    /// Called once by `connect`: validate configuration without contacting
    /// any object.
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

/// How calls that are safe to repeat are retried after a transient error.
///
/// Delays use full jitter: before attempt `n + 1` the client waits a random
/// time up to `base_delay * 2^(n - 1)`. Overload is never retried, and
/// neither is a call whose repeat could change its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// The cap of the first delay.
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts, delays from up to 50 ms: at most 150 ms of waiting,
    /// well inside a 30 s lock and a webhook's deadline.
    fn default() -> Self {
        Self {
            attempts: 3,
            base_delay: Duration::from_millis(50),
        }
    }
}

impl RetryPolicy {
    /// The jittered delay before attempt `attempt + 1`.
    fn delay(&self, attempt: u32) -> Duration {
        let cap = self
            .base_delay
            .saturating_mul(1 << attempt.saturating_sub(1).min(16));
        // A uniform fraction from the secure generator the tokens use.
        let (bits, _) = uuid::Uuid::new_v4().as_u64_pair();
        cap.mul_f64(bits as f64 / u64::MAX as f64)
    }
}

/// The contract over a [`Transport`]: encodes each call as a protocol
/// request and decodes the reply.
#[derive(Debug)]
pub struct WireClient<T> {
    transport: T,
    name: &'static str,
    retry: RetryPolicy,
    connected: AtomicBool,
}

impl<T: Transport> WireClient<T> {
    /// A client that is not yet connected. `name` appears in not-connected
    /// errors.
    pub fn new(transport: T, name: &'static str) -> Self {
        Self {
            transport,
            name,
            retry: RetryPolicy::default(),
            connected: AtomicBool::new(false),
        }
    }

    /// Returns the client with `policy` for retries.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = RetryPolicy {
            attempts: policy.attempts.max(1),
            ..policy
        };
        self
    }

    /// The transport underneath.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    async fn call<R: DeserializeOwned>(
        &self,
        route: Route<'_>,
        op: &str,
        args: Value,
        retry: Retry,
    ) -> Result<R> {
        if !self.connected.load(Ordering::Acquire) {
            return Err(Error::NotConnected { backend: self.name });
        }
        let request = json!({"v": VERSION, "op": op, "args": args}).to_string();
        let mut attempt = 1;
        loop {
            match self.transport.send(route, &request).await {
                Ok(text) => return decode_reply(&text),
                Err(error) => {
                    let again = retry == Retry::Safe
                        && error.is_retryable()
                        && attempt < self.retry.attempts;
                    if !again {
                        return Err(error);
                    }
                    tracing::debug!(op, attempt, %error, "retrying after a transient error");
                    self.transport.sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }
}

/// Reads a reply: the result as `R`, or the remote error.
pub(crate) fn decode_reply<R: DeserializeOwned>(text: &str) -> Result<R> {
    let reply: Reply<'_> = serde_json::from_str(text).map_err(|e| Error::Protocol {
        message: format!("the reply is not a protocol envelope: {e}"),
    })?;
    if let Some(err) = reply.err {
        if err.code == UNSUPPORTED_VERSION {
            return Err(Error::Protocol {
                message: format!(
                    "the object speaks protocol versions {} to {}, this client {VERSION}; \
                     deploy the same release on both sides: {}",
                    err.min.unwrap_or(0),
                    err.cur.unwrap_or(0),
                    err.message
                ),
            });
        }
        return Err(err.into_error());
    }
    let raw = reply.ok.map_or("null", |r| r.get());
    serde_json::from_str(raw).map_err(|e| Error::Protocol {
        message: format!("the reply's result has an unexpected shape: {e}"),
    })
}

fn ttl_arg(ttl_ms: Option<i64>) -> Value {
    ttl_ms.map_or(Value::Null, Value::from)
}

impl<T: Transport> StateAdapter for WireClient<T> {
    async fn connect(&self) -> Result<()> {
        self.transport.check()?;
        self.connected.store(true, Ordering::Release);
        Ok(())
    }

    async fn disconnect(&self) -> Result<()> {
        self.connected.store(false, Ordering::Release);
        Ok(())
    }

    async fn subscribe(&self, thread_id: &str) -> Result<()> {
        let args = json!({"threadId": thread_id});
        self.call(Route::Thread(thread_id), "subscribe", args, Retry::Safe)
            .await
    }

    async fn unsubscribe(&self, thread_id: &str) -> Result<()> {
        let args = json!({"threadId": thread_id});
        self.call(Route::Thread(thread_id), "unsubscribe", args, Retry::Safe)
            .await
    }

    async fn is_subscribed(&self, thread_id: &str) -> Result<bool> {
        let args = json!({"threadId": thread_id});
        self.call(Route::Thread(thread_id), "isSubscribed", args, Retry::Safe)
            .await
    }

    async fn acquire_lock(&self, key: &str, ttl_ms: i64) -> Result<Option<Lock>> {
        // The token is made here, so a repeat after a lost reply finds the
        // lease it took and returns it: the call becomes safe to retry.
        let token = uuid::Uuid::new_v4().simple().to_string();
        let args = json!({"threadId": key, "ttlMs": ttl_ms, "token": token});
        self.call(Route::Thread(key), "acquireLock", args, Retry::Safe)
            .await
    }

    async fn release_lock(&self, lock: &Lock) -> Result<()> {
        let args = json!({"threadId": lock.thread_id, "token": lock.token});
        self.call(
            Route::Thread(&lock.thread_id),
            "releaseLock",
            args,
            Retry::Safe,
        )
        .await
    }

    async fn extend_lock(&self, lock: &Lock, ttl_ms: i64) -> Result<bool> {
        let args = json!({"threadId": lock.thread_id, "token": lock.token, "ttlMs": ttl_ms});
        // A repeated extend only moves the expiry a little later; one that
        // frees the lock (ttl <= 0) could report false the second time.
        let retry = if ttl_ms > 0 {
            Retry::Safe
        } else {
            Retry::Unsafe
        };
        self.call(Route::Thread(&lock.thread_id), "extendLock", args, retry)
            .await
    }

    async fn force_release_lock(&self, key: &str) -> Result<()> {
        let args = json!({"threadId": key});
        self.call(Route::Thread(key), "forceReleaseLock", args, Retry::Safe)
            .await
    }

    async fn get(&self, key: &str) -> Result<Option<Value>> {
        let text: Option<String> = self
            .call(Route::Key(key), "get", json!({"key": key}), Retry::Safe)
            .await?;
        Ok(text
            .map(|t| decode_lenient("get", key, t))
            .filter(|v| !v.is_null()))
    }

    async fn set(&self, key: &str, value: &Value, ttl_ms: Option<i64>) -> Result<()> {
        let args = json!({"key": key, "value": encode(value), "ttlMs": ttl_arg(ttl_ms)});
        self.call(Route::Key(key), "set", args, Retry::Safe).await
    }

    async fn set_if_not_exists(
        &self,
        key: &str,
        value: &Value,
        ttl_ms: Option<i64>,
    ) -> Result<bool> {
        let args = json!({"key": key, "value": encode(value), "ttlMs": ttl_arg(ttl_ms)});
        self.call(Route::Key(key), "setIfNotExists", args, Retry::Unsafe)
            .await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.call(Route::Key(key), "delete", json!({"key": key}), Retry::Safe)
            .await
    }

    async fn append_to_list(&self, key: &str, value: &Value, options: ListOptions) -> Result<()> {
        let args = json!({
            "key": key,
            "value": encode(value),
            "maxLength": options.max_length,
            "ttlMs": ttl_arg(options.ttl_ms),
        });
        self.call(Route::Key(key), "appendToList", args, Retry::Unsafe)
            .await
    }

    async fn get_list(&self, key: &str) -> Result<Vec<Value>> {
        let items: Vec<String> = self
            .call(Route::Key(key), "getList", json!({"key": key}), Retry::Safe)
            .await?;
        Ok(items
            .into_iter()
            .map(|t| decode_lenient("getList", key, t))
            .collect())
    }

    async fn enqueue(&self, key: &str, entry: &QueueEntry, max_size: i64) -> Result<u64> {
        let text = serde_json::to_string(entry).map_err(|e| Error::InvalidArgument {
            method: "enqueue",
            reason: format!("the entry cannot be encoded as JSON: {e}"),
        })?;
        let args = json!({
            "threadId": key,
            "entry": text,
            "enqueuedAt": entry.enqueued_at,
            "expiresAt": entry.expires_at,
            "maxSize": max_size,
        });
        self.call(Route::Thread(key), "enqueue", args, Retry::Unsafe)
            .await
    }

    async fn dequeue(&self, key: &str) -> Result<Option<QueueEntry>> {
        let text: Option<String> = self
            .call(
                Route::Thread(key),
                "dequeue",
                json!({"threadId": key}),
                Retry::Unsafe,
            )
            .await?;
        text.map(|t| decode_entry(key, &t)).transpose()
    }

    async fn queue_depth(&self, key: &str) -> Result<u64> {
        let args = json!({"threadId": key});
        self.call(Route::Thread(key), "queueDepth", args, Retry::Safe)
            .await
    }
}
