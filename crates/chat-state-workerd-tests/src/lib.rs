//! A harness that runs the conformance suite against `ChatStateDO` inside
//! the real Workers runtime.
//!
//! [`Runtime::start`] launches `npm/test/workerd/server.mjs` (miniflare 4,
//! which runs workerd) on 127.0.0.1 with a persistence folder, and the
//! runtime serves a small test Worker that forwards protocol envelopes to
//! the object by RPC. [`Workerd`] implements the suite's `Harness`: every
//! fresh adapter is a [`WireClient`] bound to a new object, whose clock and
//! sweep are driven through the object's test hooks.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat_state::wire::{Route, Transport, WireClient};
use chat_state::{Error, Purge, Result};
use chat_state_conformance::{Harness, RawStore, TestResult};
use serde_json::{json, Value};

/// The repository root, two levels above this crate.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running Workers runtime. Stopped on drop; it also stops by itself when
/// this process exits, because it watches its standard input.
#[derive(Debug)]
pub struct Runtime {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Base URL, e.g. `http://127.0.0.1:41234/`.
    pub url: String,
    agent: ureq::Agent,
}

impl Runtime {
    /// Starts the runtime persisting objects under `persist`, with the given
    /// cleanup-alarm coalescing window.
    pub fn start(persist: &Path, alarm_window_ms: u64) -> std::io::Result<Runtime> {
        let script = repo_root().join("npm/test/workerd/server.mjs");
        let mut child = Command::new("node")
            // Its own process group, so that the runtime (workerd, a child
            // of node) can be stopped, or crashed, together with it.
            .process_group(0)
            .arg(&script)
            .args(["--port", "0", "--persist"])
            .arg(persist)
            .args(["--alarm-window-ms", &alarm_window_ms.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let url = line
            .trim()
            .strip_prefix("listening ")
            .ok_or_else(|| std::io::Error::other(format!("the runtime did not start: {line:?}")))?
            .to_owned();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Runtime {
            child,
            stdin: Some(stdin),
            url,
            agent,
        })
    }

    /// POSTs `body` to `path` and returns the response text.
    pub fn post(&self, path: &str, body: &str) -> Result<String> {
        let url = format!("{}{}", self.url, path.trim_start_matches('/'));
        let mut response = self
            .agent
            .post(&url)
            .send(body)
            .map_err(|e| Error::storage("http", e))?;
        response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| Error::storage("http", e))
    }

    /// GETs `path` and parses the JSON response.
    pub fn get_json(&self, path: &str) -> Result<Value> {
        let url = format!("{}{}", self.url, path.trim_start_matches('/'));
        let mut response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| Error::storage("http", e))?;
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| Error::storage("http", e))?;
        serde_json::from_str(&text).map_err(|e| Error::storage("http", e))
    }

    /// Sends one protocol call to the object `name` and returns `ok`, or the
    /// remote error.
    pub fn call(&self, name: &str, op: &str, args: Value) -> Result<Value> {
        let text = self.post(
            &format!("do/{}", encode(name)),
            &json!({"v": 1, "op": op, "args": args}).to_string(),
        )?;
        let reply: Value = serde_json::from_str(&text).map_err(|e| Error::storage("http", e))?;
        if let Some(err) = reply.get("err") {
            return Err(Error::Protocol {
                message: err.to_string(),
            });
        }
        Ok(reply["ok"].clone())
    }

    /// Stops the runtime and waits for it to exit.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Kills the runtime at once (SIGKILL to its process group), as a crash
    /// or a power cut would, with no chance to flush or close anything.
    pub fn crash(mut self) {
        self.kill_group();
    }

    fn kill_group(&mut self) {
        let group = format!("-{}", self.child.id());
        // The group may already be gone; that is the expected case.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }

    /// Asks the runtime to stop (closing its input), then kills what is
    /// left after a few seconds.
    fn shutdown(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill_group();
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Percent-encodes an object name for a URL path.
pub fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A transport to one object of the runtime.
#[derive(Debug, Clone)]
pub struct Http {
    runtime: Arc<Runtime>,
    object: String,
}

impl Http {
    /// The name of the object this transport talks to.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// The runtime underneath.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }
}

impl Transport for Http {
    async fn send(&self, _route: Route<'_>, request: &str) -> Result<String> {
        let this = self.clone();
        let request = request.to_owned();
        tokio::task::spawn_blocking(move || {
            this.runtime
                .post(&format!("do/{}", encode(&this.object)), &request)
        })
        .await
        .map_err(|e| Error::storage("http", e))?
    }

    async fn sleep(&self, delay: std::time::Duration) {
        tokio::time::sleep(delay).await;
    }
}

/// The suite's harness over the runtime: one new object per adapter.
#[derive(Debug, Clone)]
pub struct Workerd {
    runtime: Arc<Runtime>,
}

static SHARED: Mutex<Option<Arc<Runtime>>> = Mutex::new(None);

impl Workerd {
    /// A harness on a runtime shared by every test of this process, started
    /// on first use with an in-memory-like temporary persistence folder.
    pub fn shared() -> Workerd {
        let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        let runtime = shared
            .get_or_insert_with(|| {
                let dir =
                    std::env::temp_dir().join(format!("chat-state-workerd-{}", std::process::id()));
                Arc::new(Runtime::start(&dir, 60_000).expect("the Workers runtime starts"))
            })
            .clone();
        Workerd { runtime }
    }

    async fn hook(&self, object: &str, op: &str, args: Value) -> Result<Value> {
        let runtime = self.runtime.clone();
        let (object, op) = (object.to_owned(), op.to_owned());
        tokio::task::spawn_blocking(move || runtime.call(&object, &op, args))
            .await
            .map_err(|e| Error::storage("http", e))?
    }

    // The clock, raw-write and sweep hooks of one object, shared by both
    // harnesses: they differ only in the client they put in front of it.

    async fn object_now(&self, object: &str) -> i64 {
        self.hook(object, "test.now", json!({}))
            .await
            .ok()
            .and_then(|v| v.as_i64())
            .expect("the object reports its time")
    }

    async fn object_advance(&self, object: &str, ms: i64) {
        self.hook(object, "test.advance", json!({"ms": ms}))
            .await
            .expect("the object moves its clock");
    }

    async fn object_write_raw(
        &self,
        object: &str,
        store: RawStore,
        key: &str,
        text: &str,
    ) -> TestResult {
        let store = match store {
            RawStore::Cache => "cache",
            RawStore::List => "list",
            RawStore::Queue => "queue",
        };
        self.hook(
            object,
            "test.writeRaw",
            json!({"store": store, "key": key, "text": text}),
        )
        .await?;
        Ok(())
    }

    async fn object_purge(&self, object: &str) -> Result<Purge> {
        let v = self.hook(object, "test.purge", json!({})).await?;
        Ok(Purge {
            deleted: v["deleted"].as_u64().unwrap_or(0),
            more_due: v["moreDue"].as_bool().unwrap_or(false),
            next_expiry: v["nextExpiry"].as_i64(),
        })
    }
}

impl Harness for Workerd {
    type Adapter = WireClient<Http>;

    async fn fresh(&self) -> Self::Adapter {
        let http = Http {
            runtime: self.runtime.clone(),
            object: format!("conformance-{}", uuid::Uuid::new_v4()),
        };
        // Reading the clock freezes it before the first call, so that time
        // moves only when a case advances it.
        self.object_now(http.object()).await;
        WireClient::new(http, "workerd")
    }

    async fn now(&self, a: &Self::Adapter) -> i64 {
        self.object_now(a.transport().object()).await
    }

    async fn advance(&self, a: &Self::Adapter, ms: i64) {
        self.object_advance(a.transport().object(), ms).await;
    }

    async fn write_raw(
        &self,
        a: &Self::Adapter,
        store: RawStore,
        key: &str,
        text: &str,
    ) -> TestResult {
        self.object_write_raw(a.transport().object(), store, key, text)
            .await
    }

    async fn purge(&self, a: &Self::Adapter) -> Result<Purge> {
        self.object_purge(a.transport().object()).await
    }
}

/// The npm package's client (`createCloudflareState`) seen from Rust: each
/// contract call is made by the JavaScript client inside the runtime,
/// against the object named `object`.
#[derive(Debug, Clone)]
pub struct Package {
    runtime: Arc<Runtime>,
    object: String,
}

impl Package {
    async fn invoke<R: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        method: &'static str,
        args: Value,
    ) -> Result<R> {
        let this = self.clone();
        let text = tokio::task::spawn_blocking(move || {
            this.runtime.post(
                &format!("pkg/{}", encode(&this.object)),
                &json!({"method": method, "args": args}).to_string(),
            )
        })
        .await
        .map_err(|e| Error::storage("http", e))??;
        let reply: Value = serde_json::from_str(&text).map_err(|e| Error::storage("http", e))?;
        if let Some(err) = reply.get("err") {
            let wire: chat_state::wire::WireError =
                serde_json::from_value(err.clone()).map_err(|e| Error::storage("http", e))?;
            return Err(wire.into_error());
        }
        serde_json::from_value(reply["ok"].clone()).map_err(|e| Error::Protocol {
            message: format!("{method} returned an unexpected shape: {e}"),
        })
    }
}

impl chat_state::StateAdapter for Package {
    async fn connect(&self) -> Result<()> {
        self.invoke::<Value>("connect", json!([])).await.map(drop)
    }
    async fn disconnect(&self) -> Result<()> {
        self.invoke::<Value>("disconnect", json!([]))
            .await
            .map(drop)
    }
    async fn subscribe(&self, thread_id: &str) -> Result<()> {
        self.invoke::<Value>("subscribe", json!([thread_id]))
            .await
            .map(drop)
    }
    async fn unsubscribe(&self, thread_id: &str) -> Result<()> {
        self.invoke::<Value>("unsubscribe", json!([thread_id]))
            .await
            .map(drop)
    }
    async fn is_subscribed(&self, thread_id: &str) -> Result<bool> {
        self.invoke("isSubscribed", json!([thread_id])).await
    }
    async fn acquire_lock(&self, key: &str, ttl_ms: i64) -> Result<Option<chat_state::Lock>> {
        self.invoke("acquireLock", json!([key, ttl_ms])).await
    }
    async fn release_lock(&self, lock: &chat_state::Lock) -> Result<()> {
        self.invoke::<Value>("releaseLock", json!([lock]))
            .await
            .map(drop)
    }
    async fn extend_lock(&self, lock: &chat_state::Lock, ttl_ms: i64) -> Result<bool> {
        self.invoke("extendLock", json!([lock, ttl_ms])).await
    }
    async fn force_release_lock(&self, key: &str) -> Result<()> {
        self.invoke::<Value>("forceReleaseLock", json!([key]))
            .await
            .map(drop)
    }
    async fn get(&self, key: &str) -> Result<Option<Value>> {
        let v: Value = self.invoke("get", json!([key])).await?;
        Ok(Some(v).filter(|v| !v.is_null()))
    }
    async fn set(&self, key: &str, value: &Value, ttl_ms: Option<i64>) -> Result<()> {
        self.invoke::<Value>("set", json!([key, value, ttl_ms]))
            .await
            .map(drop)
    }
    async fn set_if_not_exists(
        &self,
        key: &str,
        value: &Value,
        ttl_ms: Option<i64>,
    ) -> Result<bool> {
        self.invoke("setIfNotExists", json!([key, value, ttl_ms]))
            .await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.invoke::<Value>("delete", json!([key])).await.map(drop)
    }
    async fn append_to_list(
        &self,
        key: &str,
        value: &Value,
        options: chat_state::ListOptions,
    ) -> Result<()> {
        self.invoke::<Value>("appendToList", json!([key, value, options]))
            .await
            .map(drop)
    }
    async fn get_list(&self, key: &str) -> Result<Vec<Value>> {
        self.invoke("getList", json!([key])).await
    }
    async fn enqueue(
        &self,
        key: &str,
        entry: &chat_state::QueueEntry,
        max_size: i64,
    ) -> Result<u64> {
        self.invoke("enqueue", json!([key, entry, max_size])).await
    }
    async fn dequeue(&self, key: &str) -> Result<Option<chat_state::QueueEntry>> {
        self.invoke("dequeue", json!([key])).await
    }
    async fn queue_depth(&self, key: &str) -> Result<u64> {
        self.invoke("queueDepth", json!([key])).await
    }
}

/// The suite's harness over the npm package's client.
#[derive(Debug, Clone)]
pub struct PackageHarness {
    inner: Workerd,
}

impl PackageHarness {
    /// A harness on the runtime shared by this process.
    pub fn shared() -> PackageHarness {
        PackageHarness {
            inner: Workerd::shared(),
        }
    }
}

impl Harness for PackageHarness {
    type Adapter = Package;

    async fn fresh(&self) -> Package {
        let object = format!("package-{}", uuid::Uuid::new_v4());
        // Freezes the object's clock, as for the direct harness.
        self.inner.object_now(&object).await;
        Package {
            runtime: self.inner.runtime.clone(),
            object,
        }
    }

    async fn now(&self, a: &Package) -> i64 {
        self.inner.object_now(&a.object).await
    }

    async fn advance(&self, a: &Package, ms: i64) {
        self.inner.object_advance(&a.object, ms).await;
    }

    async fn write_raw(&self, a: &Package, store: RawStore, key: &str, text: &str) -> TestResult {
        self.inner
            .object_write_raw(&a.object, store, key, text)
            .await
    }

    async fn purge(&self, a: &Package) -> Result<Purge> {
        self.inner.object_purge(&a.object).await
    }
}
