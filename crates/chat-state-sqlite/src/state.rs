use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use chat_state::json::{decode_entry, decode_lenient, encode};
use chat_state::sql::SqlConn;
use chat_state::{
    Clock, Engine, Error, ListOptions, Lock, Purge, QueueEntry, RawQueueEntry, Result,
    StateAdapter, SystemClock,
};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use serde_json::Value;
use tokio::task::JoinHandle;
use tracing::{debug, error, info};

use crate::conn::{storage_error, Conn, Counters, StatementStats};

const BACKEND: &str = "SqliteState";

/// Where the database lives.
#[derive(Debug, Clone)]
enum Location {
    /// In memory, for as long as the store (and its clones) exist.
    Memory,
    /// A file, opened on connect and closed on disconnect.
    File(PathBuf),
}

/// Settings of a [`SqliteState`].
#[derive(Debug, Clone)]
pub struct Builder {
    location: Location,
    key_prefix: String,
    clock: Arc<dyn Clock>,
    busy_timeout: Duration,
    sweep_interval: Option<Duration>,
    sweep_batch: u32,
}

impl Builder {
    fn new(location: Location) -> Self {
        Self {
            location,
            key_prefix: String::new(),
            clock: Arc::new(SystemClock),
            busy_timeout: Duration::from_secs(5),
            sweep_interval: Some(Duration::from_secs(60)),
            sweep_batch: 1_000,
        }
    }

    /// Stores keys under `prefix`, so that several bots can share one file.
    /// Empty (the default) means `chat-sdk`.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Reads time from `clock` instead of the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long a call waits for another connection's write lock on the same
    /// file before failing with a retryable storage error. Default 5 s.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How often expired rows are swept in the background while connected
    /// (default every 60 s); `None` sweeps only on connect and when
    /// [`SqliteState::purge_expired`] is called. Reads never depend on it.
    pub fn sweep_interval(mut self, interval: Option<Duration>) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// Most rows deleted per table in one sweep step. Default 1,000.
    pub fn sweep_batch(mut self, batch: u32) -> Self {
        self.sweep_batch = batch.max(1);
        self
    }

    /// The store, not yet connected.
    pub fn build(self) -> SqliteState {
        let engine = Engine::new(self.clock.clone()).with_prefix(&self.key_prefix);
        SqliteState {
            inner: Arc::new(Inner {
                settings: self,
                engine,
                conn: Mutex::new(None),
                connected: AtomicBool::new(false),
                sweeper: Mutex::new(None),
                counters: Counters::default(),
            }),
        }
    }
}

/// The contract on an embedded SQLite database.
///
/// Cloning is cheap and clones share one database connection; a clone can be
/// moved to another task or thread. Each call runs as one SQLite transaction
/// (`BEGIN IMMEDIATE` for writes) on a blocking thread of the Tokio runtime,
/// so it never stalls the async executor. Several stores, even in several
/// processes, may open the same file: SQLite's locking and the busy timeout
/// serialise their writes.
///
/// # Concurrency
///
/// Calls on one store are serialised by its connection; calls from stores on
/// the same file are serialised by SQLite's write lock. Either way each call
/// is atomic, so of many concurrent `acquire_lock` or `set_if_not_exists`
/// calls on a free key exactly one wins.
#[derive(Debug, Clone)]
pub struct SqliteState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: Builder,
    engine: Engine,
    /// The open connection. `None` before the first connect and, for files,
    /// after disconnect; an in-memory database keeps its connection so that
    /// its data outlives a disconnect.
    conn: Mutex<Option<Connection>>,
    /// Checked before any storage access, so a disconnected store fails fast.
    connected: AtomicBool,
    /// The background sweep, running while connected.
    sweeper: Mutex<Option<JoinHandle<()>>>,
    counters: Counters,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock rolled its transaction back when the
    // transaction was dropped, so the connection is still consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SqliteState {
    /// A store on the SQLite file at `path` (created if missing).
    pub fn open(path: impl Into<PathBuf>) -> Self {
        Self::builder_for_file(path).build()
    }

    /// A store in memory; its data lives as long as the store.
    pub fn in_memory() -> Self {
        Self::builder_in_memory().build()
    }

    /// Settings for a store on the file at `path`.
    pub fn builder_for_file(path: impl Into<PathBuf>) -> Builder {
        Builder::new(Location::File(path.into()))
    }

    /// Settings for an in-memory store.
    pub fn builder_in_memory() -> Builder {
        Builder::new(Location::Memory)
    }

    /// The engine this store runs, with its clock and key prefix.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Work done by this store's statements so far.
    pub fn stats(&self) -> StatementStats {
        self.inner.counters.snapshot()
    }

    /// Runs `f` on the store's open connection, outside the engine, inside
    /// one transaction. Meant for inspection, maintenance and tests that
    /// need to see or damage rows directly; the schema is the engine's and
    /// may change between releases.
    pub async fn with_connection<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        blocking(move || {
            inner.in_transaction(true, |tx| {
                let value = f(tx).map_err(|e| storage_error("with_connection", e))?;
                Ok((value, true))
            })
        })
        .await
    }

    /// Serves one request of the client/object protocol
    /// ([`chat_state::wire`]) in one transaction and returns the reply text.
    /// A call that fails is rolled back and answered with an error reply.
    ///
    /// This lets the native store stand in for a Durable Object behind any
    /// transport, so that a protocol client can be tested without Workers.
    pub async fn serve(&self, request: String) -> Result<String> {
        if !self.inner.connected.load(Ordering::Acquire) {
            return Err(Error::NotConnected { backend: BACKEND });
        }
        let inner = self.inner.clone();
        blocking(move || {
            inner.in_transaction(true, |tx| {
                let outcome = chat_state::wire::dispatch(
                    &inner.engine,
                    &mut Conn::counted(tx, &inner.counters),
                    &request,
                );
                // A failed call is rolled back and answered with its error.
                Ok((outcome.reply, !outcome.failed))
            })
        })
        .await
    }

    /// Deletes expired rows now, in batches until none is due, and returns
    /// what the last batch left. The background sweep does the same.
    pub async fn purge_expired(&self) -> Result<Purge> {
        self.run("purgeExpired", true, |engine, conn| {
            engine.purge_expired(conn, engine.now(), u32::MAX)
        })
        .await
    }

    /// Runs `f` in one transaction on a blocking thread.
    async fn run<T, F>(&self, method: &'static str, write: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Engine, &mut dyn SqlConn) -> Result<T> + Send + 'static,
    {
        if !self.inner.connected.load(Ordering::Acquire) {
            return Err(Error::NotConnected { backend: BACKEND });
        }
        let inner = self.inner.clone();
        let result = blocking(move || inner.transaction(write, f)).await;
        if let Err(error) = &result {
            debug!(method, %error, "state operation failed");
        }
        result
    }
}

/// Runs `f` on Tokio's blocking pool when inside a runtime, else inline.
async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(f)
            .await
            .map_err(|join| Error::storage("blocking task", join))?,
        Err(_) => f(),
    }
}

impl Inner {
    fn transaction<T>(
        &self,
        write: bool,
        f: impl FnOnce(&Engine, &mut dyn SqlConn) -> Result<T>,
    ) -> Result<T> {
        self.in_transaction(write, |tx| {
            let value = f(&self.engine, &mut Conn::counted(tx, &self.counters))?;
            Ok((value, true))
        })
    }

    /// Runs `f` in one transaction on the open connection; `f` returns its
    /// value and whether to commit (otherwise the transaction rolls back).
    fn in_transaction<T>(
        &self,
        write: bool,
        f: impl FnOnce(&Transaction<'_>) -> Result<(T, bool)>,
    ) -> Result<T> {
        let mut guard = lock(&self.conn);
        let conn = guard
            .as_mut()
            .filter(|_| self.connected.load(Ordering::Acquire))
            .ok_or(Error::NotConnected { backend: BACKEND })?;
        let behavior = if write {
            TransactionBehavior::Immediate
        } else {
            TransactionBehavior::Deferred
        };
        let tx = conn
            .transaction_with_behavior(behavior)
            .map_err(|e| storage_error("begin", e))?;
        let (value, commit) = f(&tx)?;
        if commit {
            tx.commit().map_err(|e| storage_error("commit", e))?;
        }
        Ok(value)
    }

    fn open_connection(&self) -> Result<Connection> {
        let s = &self.settings;
        let conn = match &s.location {
            Location::Memory => Connection::open_in_memory(),
            Location::File(path) => Connection::open(path),
        }
        .map_err(|e| storage_error("open", e))?;
        conn.busy_timeout(s.busy_timeout)
            .map_err(|e| storage_error("open", e))?;
        if let Location::File(_) = s.location {
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(|e| storage_error("open", e))?;
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(|e| storage_error("open", e))?;
        }
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    /// Opens (if needed) and migrates. Called with the connection lock held
    /// by `connect`, so concurrent connects share one attempt.
    fn connect(&self) -> Result<()> {
        let mut guard = lock(&self.conn);
        if guard.is_none() {
            *guard = Some(self.open_connection()?);
        }
        let Some(conn) = guard.as_mut() else {
            return Err(Error::NotConnected { backend: BACKEND });
        };
        let migrated = (|| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| storage_error("migrate", e))?;
            self.engine
                .migrate(&mut Conn::counted(&tx, &self.counters))?;
            tx.commit().map_err(|e| storage_error("migrate", e))
        })();
        if let Err(error) = migrated {
            // Not cached: the next connect starts over from a fresh handle.
            if let Location::File(_) = self.settings.location {
                *guard = None;
            }
            return Err(error);
        }
        self.connected.store(true, Ordering::Release);
        Ok(())
    }

    fn disconnect(&self) {
        self.connected.store(false, Ordering::Release);
        // Taking the lock waits for the transaction in flight, if any.
        let mut guard = lock(&self.conn);
        if let Location::File(_) = self.settings.location {
            *guard = None;
        }
    }

    /// Sweeps until nothing due remains (or a bounded number of batches).
    fn sweep(&self) -> Result<Purge> {
        const MAX_BATCHES: usize = 64;
        let mut last = Purge::default();
        for _ in 0..MAX_BATCHES {
            last = self.transaction(true, |engine, conn| {
                engine.purge_expired(conn, engine.now(), self.settings.sweep_batch)
            })?;
            if !last.more_due {
                break;
            }
        }
        Ok(last)
    }
}

fn spawn_sweeper(inner: &Arc<Inner>) -> Option<JoinHandle<()>> {
    let interval = inner.settings.sweep_interval?;
    let handle = tokio::runtime::Handle::try_current().ok()?;
    let weak: Weak<Inner> = Arc::downgrade(inner);
    Some(handle.spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Some(inner) = weak.upgrade() else { break };
            if !inner.connected.load(Ordering::Acquire) {
                break;
            }
            match blocking(move || inner.sweep()).await {
                Ok(purge) => debug!(deleted = purge.deleted, "background sweep"),
                Err(Error::NotConnected { .. }) => break,
                Err(error) => error!(%error, "background sweep failed; retrying next interval"),
            }
        }
    }))
}

impl StateAdapter for SqliteState {
    async fn connect(&self) -> Result<()> {
        let inner = self.inner.clone();
        blocking(move || {
            inner.connect()?;
            // Reclaim what expired while the store was closed. A failed sweep
            // does not fail the connect: reads are strict without it.
            if let Err(error) = inner.sweep() {
                error!(%error, "sweep on connect failed");
            }
            Ok(())
        })
        .await?;
        let mut sweeper = lock(&self.inner.sweeper);
        if sweeper.as_ref().is_none_or(JoinHandle::is_finished) {
            *sweeper = spawn_sweeper(&self.inner);
        }
        info!(backend = BACKEND, "connected");
        Ok(())
    }

    async fn disconnect(&self) -> Result<()> {
        if let Some(task) = lock(&self.inner.sweeper).take() {
            task.abort();
        }
        let inner = self.inner.clone();
        blocking(move || {
            inner.disconnect();
            Ok(())
        })
        .await?;
        info!(backend = BACKEND, "disconnected");
        Ok(())
    }

    async fn subscribe(&self, thread_id: &str) -> Result<()> {
        let t = thread_id.to_owned();
        self.run("subscribe", true, move |e, c| e.subscribe(c, &t))
            .await
    }

    async fn unsubscribe(&self, thread_id: &str) -> Result<()> {
        let t = thread_id.to_owned();
        self.run("unsubscribe", true, move |e, c| e.unsubscribe(c, &t))
            .await
    }

    async fn is_subscribed(&self, thread_id: &str) -> Result<bool> {
        let t = thread_id.to_owned();
        self.run("isSubscribed", false, move |e, c| e.is_subscribed(c, &t))
            .await
    }

    async fn acquire_lock(&self, key: &str, ttl_ms: i64) -> Result<Option<Lock>> {
        let k = key.to_owned();
        self.run("acquireLock", true, move |e, c| {
            e.acquire_lock(c, &k, ttl_ms, None)
        })
        .await
    }

    async fn release_lock(&self, lock: &Lock) -> Result<()> {
        let (k, t) = (lock.thread_id.clone(), lock.token.clone());
        self.run("releaseLock", true, move |e, c| e.release_lock(c, &k, &t))
            .await
    }

    async fn extend_lock(&self, lock: &Lock, ttl_ms: i64) -> Result<bool> {
        let (k, t) = (lock.thread_id.clone(), lock.token.clone());
        self.run("extendLock", true, move |e, c| {
            e.extend_lock(c, &k, &t, ttl_ms)
        })
        .await
    }

    async fn force_release_lock(&self, key: &str) -> Result<()> {
        let k = key.to_owned();
        self.run("forceReleaseLock", true, move |e, c| {
            e.force_release_lock(c, &k)
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Value>> {
        let k = key.to_owned();
        let text = self.run("get", false, move |e, c| e.get(c, &k)).await?;
        Ok(text
            .map(|t| decode_lenient("get", key, t))
            .filter(|v| !v.is_null()))
    }

    async fn set(&self, key: &str, value: &Value, ttl_ms: Option<i64>) -> Result<()> {
        let (k, v) = (key.to_owned(), encode(value));
        self.run("set", true, move |e, c| {
            e.set(c, &k, &v, ttl_ms).map(|a| a.value)
        })
        .await
    }

    async fn set_if_not_exists(
        &self,
        key: &str,
        value: &Value,
        ttl_ms: Option<i64>,
    ) -> Result<bool> {
        let (k, v) = (key.to_owned(), encode(value));
        self.run("setIfNotExists", true, move |e, c| {
            e.set_if_not_exists(c, &k, &v, ttl_ms).map(|a| a.value)
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let k = key.to_owned();
        self.run("delete", true, move |e, c| e.delete(c, &k)).await
    }

    async fn append_to_list(&self, key: &str, value: &Value, options: ListOptions) -> Result<()> {
        let (k, v) = (key.to_owned(), encode(value));
        self.run("appendToList", true, move |e, c| {
            e.append_to_list(c, &k, &v, options).map(|a| a.value)
        })
        .await
    }

    async fn get_list(&self, key: &str) -> Result<Vec<Value>> {
        let k = key.to_owned();
        let items = self
            .run("getList", false, move |e, c| e.get_list(c, &k))
            .await?;
        Ok(items
            .into_iter()
            .map(|t| decode_lenient("getList", key, t))
            .collect())
    }

    async fn enqueue(&self, key: &str, entry: &QueueEntry, max_size: i64) -> Result<u64> {
        let k = key.to_owned();
        let raw = RawQueueEntry {
            enqueued_at: entry.enqueued_at,
            expires_at: entry.expires_at,
            json: serde_json::to_string(entry).map_err(|source| Error::InvalidArgument {
                method: "enqueue",
                reason: format!("the entry cannot be encoded as JSON: {source}"),
            })?,
        };
        self.run("enqueue", true, move |e, c| {
            e.enqueue(c, &k, &raw, max_size).map(|a| a.value)
        })
        .await
    }

    async fn dequeue(&self, key: &str) -> Result<Option<QueueEntry>> {
        let k = key.to_owned();
        let raw = self
            .run("dequeue", true, move |e, c| e.dequeue(c, &k))
            .await?;
        raw.map(|r| decode_entry(key, &r.json)).transpose()
    }

    async fn queue_depth(&self, key: &str) -> Result<u64> {
        let k = key.to_owned();
        self.run("queueDepth", false, move |e, c| e.queue_depth(c, &k))
            .await
    }
}
