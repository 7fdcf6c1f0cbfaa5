//! [`CloudflareState`]: the contract for Rust Workers, over a Durable
//! Object namespace binding.

use std::time::Duration;

use chat_state::routing::Router;
use chat_state::wire::{RetryPolicy, Route, Transport, WireClient};
use chat_state::{Error, ListOptions, Lock, QueueEntry, Result, StateAdapter};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::{Delay, ObjectNamespace};

#[wasm_bindgen]
extern "C" {
    /// A stub of the object, seen through its RPC method.
    #[wasm_bindgen(extends = js_sys::Object)]
    type ChatStateStub;

    #[wasm_bindgen(method, catch, js_name = call)]
    fn call(this: &ChatStateStub, request: String)
        -> std::result::Result<js_sys::Promise, JsValue>;

    /// A namespace, for the one method workers-rs does not bind.
    #[wasm_bindgen(extends = js_sys::Object)]
    type JsNamespace;

    #[wasm_bindgen(method, catch)]
    fn jurisdiction(this: &JsNamespace, name: &str) -> std::result::Result<JsValue, JsValue>;
}

/// How calls are routed and retried.
#[derive(Debug, Clone, Default)]
pub struct CloudflareStateOptions {
    router: Router,
    location_hint: Option<String>,
    jurisdiction: Option<String>,
    retry: RetryPolicy,
}

impl CloudflareStateOptions {
    /// Everything in the object named `"default"`, as the original adapter.
    pub fn new() -> Self {
        Self::default()
    }

    /// The object name of the unsharded layout (default `"default"`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.router = Router::new(name);
        self
    }

    /// The routing of calls to objects; see [`chat_state::routing`].
    pub fn router(mut self, router: Router) -> Self {
        self.router = router;
        self
    }

    /// A location hint for objects created by this client.
    pub fn location_hint(mut self, hint: impl Into<String>) -> Self {
        self.location_hint = Some(hint.into());
        self
    }

    /// Keep the objects in a jurisdiction, e.g. `"eu"`.
    pub fn jurisdiction(mut self, jurisdiction: impl Into<String>) -> Self {
        self.jurisdiction = Some(jurisdiction.into());
        self
    }

    /// Attempts per call for calls that are safe to repeat (default 3;
    /// at least 1). Delays start at `base_delay` and double, with full
    /// jitter.
    pub fn retries(mut self, attempts: u32, base_delay: Duration) -> Self {
        self.retry = RetryPolicy {
            attempts: attempts.max(1),
            base_delay,
        };
        self
    }
}

/// Sends each request to the object that owns it, with a fresh stub per
/// attempt.
#[derive(Debug)]
pub(crate) struct DurableObjectTransport {
    namespace: ObjectNamespace,
    options: CloudflareStateOptions,
}

fn flag(error: &JsValue, name: &str) -> bool {
    js_sys::Reflect::get(error, &JsValue::from_str(name))
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

fn platform_error(error: &JsValue) -> Error {
    let message = error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"));
    Error::Storage {
        operation: "Durable Object call",
        source: message.into(),
        retryable: flag(error, "retryable"),
        overloaded: flag(error, "overloaded"),
    }
}

impl DurableObjectTransport {
    fn stub(&self, name: &str) -> std::result::Result<ChatStateStub, JsValue> {
        let namespace = match &self.options.jurisdiction {
            Some(jd) => self
                .namespace
                .unchecked_ref::<JsNamespace>()
                .jurisdiction(jd)?
                .unchecked_into::<ObjectNamespace>(),
            None => self.namespace.clone(),
        };
        let stub = match &self.options.location_hint {
            Some(hint) => namespace.get_by_name_with_location_hint(name, hint),
            None => namespace.get_by_name(name),
        }
        .map_err(JsValue::from)?;
        Ok(stub.into_rpc::<ChatStateStub>())
    }

    async fn attempt(&self, name: &str, request: &str) -> std::result::Result<String, JsValue> {
        let promise = self.stub(name)?.call(request.to_owned())?;
        let reply = JsFuture::from(promise).await?;
        reply
            .as_string()
            .ok_or_else(|| JsValue::from_str("the object replied with something other than text"))
    }
}

impl Transport for DurableObjectTransport {
    async fn send(&self, route: Route<'_>, request: &str) -> Result<String> {
        let name = self.options.router.object(route);
        self.attempt(&name, request)
            .await
            .map_err(|e| platform_error(&e))
    }

    async fn sleep(&self, delay: Duration) {
        Delay::from(delay).await;
    }
}

/// The contract for Rust Workers: each call goes to the Durable Object that
/// owns its key, as a protocol request over RPC.
///
/// `connect` validates nothing remote and sends no request; objects migrate
/// their own schema on their first call. A fresh stub is made for every
/// attempt. Calls that are safe to repeat (reads, deletes, `set`, lock calls,
/// whose tokens the client makes) are retried after a transient platform
/// error; calls that are not (`setIfNotExists`, `enqueue`, `appendToList`,
/// `dequeue`) and overload errors are reported at once.
///
/// # Concurrency
///
/// Each call is atomic inside its object; see [`crate::ChatStateDO`].
#[derive(Debug)]
pub struct CloudflareState {
    inner: WireClient<DurableObjectTransport>,
}

impl CloudflareState {
    /// A client over `namespace`, the `ChatStateDO` binding.
    pub fn new(namespace: ObjectNamespace, options: CloudflareStateOptions) -> Self {
        let retry = options.retry;
        Self {
            inner: WireClient::new(
                DurableObjectTransport { namespace, options },
                "CloudflareState",
            )
            .with_retry(retry),
        }
    }

    /// The name of the object that owns `route`, as this client routes it.
    pub fn object_for(&self, route: Route<'_>) -> String {
        self.inner.transport().options.router.object(route)
    }
}

impl StateAdapter for CloudflareState {
    async fn connect(&self) -> Result<()> {
        self.inner.connect().await
    }
    async fn disconnect(&self) -> Result<()> {
        self.inner.disconnect().await
    }
    async fn subscribe(&self, thread_id: &str) -> Result<()> {
        self.inner.subscribe(thread_id).await
    }
    async fn unsubscribe(&self, thread_id: &str) -> Result<()> {
        self.inner.unsubscribe(thread_id).await
    }
    async fn is_subscribed(&self, thread_id: &str) -> Result<bool> {
        self.inner.is_subscribed(thread_id).await
    }
    async fn acquire_lock(&self, key: &str, ttl_ms: i64) -> Result<Option<Lock>> {
        self.inner.acquire_lock(key, ttl_ms).await
    }
    async fn release_lock(&self, lock: &Lock) -> Result<()> {
        self.inner.release_lock(lock).await
    }
    async fn extend_lock(&self, lock: &Lock, ttl_ms: i64) -> Result<bool> {
        self.inner.extend_lock(lock, ttl_ms).await
    }
    async fn force_release_lock(&self, key: &str) -> Result<()> {
        self.inner.force_release_lock(key).await
    }
    async fn get(&self, key: &str) -> Result<Option<Value>> {
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: &Value, ttl_ms: Option<i64>) -> Result<()> {
        self.inner.set(key, value, ttl_ms).await
    }
    async fn set_if_not_exists(
        &self,
        key: &str,
        value: &Value,
        ttl_ms: Option<i64>,
    ) -> Result<bool> {
        self.inner.set_if_not_exists(key, value, ttl_ms).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
    async fn append_to_list(&self, key: &str, value: &Value, options: ListOptions) -> Result<()> {
        self.inner.append_to_list(key, value, options).await
    }
    async fn get_list(&self, key: &str) -> Result<Vec<Value>> {
        self.inner.get_list(key).await
    }
    async fn enqueue(&self, key: &str, entry: &QueueEntry, max_size: i64) -> Result<u64> {
        self.inner.enqueue(key, entry, max_size).await
    }
    async fn dequeue(&self, key: &str) -> Result<Option<QueueEntry>> {
        self.inner.dequeue(key).await
    }
    async fn queue_depth(&self, key: &str) -> Result<u64> {
        self.inner.queue_depth(key).await
    }
}
