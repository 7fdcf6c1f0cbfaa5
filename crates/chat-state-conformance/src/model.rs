//! A plain in-memory reference model of the contract, and a driver that
//! replays random operation sequences against a backend and the model side
//! by side, comparing every result.
//!
//! The model is written from the contract (sections 1 and 2) alone: maps and
//! deques, an integer `now`, and the expiry rules G5 to G7. It never calls
//! the engine. The one thing it cannot predict is a lock token, so when it
//! expects an acquire to succeed it records the token the backend returned.
//!
//! [`ops`] generates short sequences over a tiny key alphabet, so that
//! operations collide, with TTLs, bounds and clock steps chosen to land on
//! the expiry edges (`expires_at == now`) often. [`check`] runs one sequence
//! and reports the first operation whose results differ.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chat_state::limits::MAX_EXPIRY_MS;
use chat_state::{ErrorKind, ListOptions, Lock, QueueEntry, StateAdapter};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde_json::{json, Value};

use crate::Harness;

/// The key alphabet: a plain key, the empty string and a non-ASCII key.
/// Every store uses the same three strings, so namespaces are exercised too.
pub const KEYS: [&str; 3] = ["k", "", "ключ🔑"];

/// Largest clock jump [`Op::AdvanceToExpiry`] makes, so that the clock stays
/// in a realistic range however far the expiries lie.
const MAX_EXPIRY_JUMP: i64 = 1_000_000;

/// The token used for locks that the backend never issued.
const BOGUS_TOKEN: &str = "bogus-token-never-issued";

/// Which lock a release or extend presents.
#[derive(Debug, Clone)]
pub enum LockPick {
    /// A lock the backend returned earlier in the sequence, chosen by index
    /// among all locks returned so far (a bogus lock on the first key if none
    /// was returned yet).
    Returned(Index),
    /// The lock the backend returned most recently (a bogus lock on the
    /// first key if none was returned yet).
    Latest,
    /// The token of a lock returned earlier, presented for another key.
    OtherKey(Index, &'static str),
    /// A token the backend never issued, for this key.
    Bogus(&'static str),
}

/// One step of a random sequence: a data operation, a clock step, or a
/// maintenance action that must not change any observable result.
#[derive(Debug, Clone)]
pub enum Op {
    /// `subscribe(thread)`.
    Subscribe(&'static str),
    /// `unsubscribe(thread)`.
    Unsubscribe(&'static str),
    /// `isSubscribed(thread)`.
    IsSubscribed(&'static str),
    /// `acquireLock(key, ttl)`.
    AcquireLock(&'static str, i64),
    /// `releaseLock(lock)`.
    ReleaseLock(LockPick),
    /// `extendLock(lock, ttl)`.
    ExtendLock(LockPick, i64),
    /// `forceReleaseLock(key)`.
    ForceReleaseLock(&'static str),
    /// `get(key)`.
    Get(&'static str),
    /// `set(key, value, ttl)`.
    Set(&'static str, Value, Option<i64>),
    /// `setIfNotExists(key, value, ttl)`.
    SetIfNotExists(&'static str, Value, Option<i64>),
    /// `delete(key)`.
    Delete(&'static str),
    /// `appendToList(key, value, {maxLength, ttlMs})`.
    AppendToList {
        /// The list key.
        key: &'static str,
        /// The value appended.
        value: Value,
        /// `maxLength`; zero, negative and absent mean unbounded.
        max_length: Option<i64>,
        /// `ttlMs` of the whole list.
        ttl_ms: Option<i64>,
    },
    /// `getList(key)`.
    GetList(&'static str),
    /// `enqueue(key, entry, maxSize)` with times relative to the clock.
    Enqueue {
        /// The queue key.
        key: &'static str,
        /// `enqueuedAt - now`.
        enqueued_offset: i64,
        /// `expiresAt - now` (saturating); zero or less is already dead.
        expires_offset: i64,
        /// The entry's message.
        message: Value,
        /// `maxSize`; zero and negative mean unbounded.
        max_size: i64,
    },
    /// `dequeue(key)`.
    Dequeue(&'static str),
    /// `queueDepth(key)`.
    QueueDepth(&'static str),
    /// Moves the clock forward by this many milliseconds.
    Advance(i64),
    /// Moves the clock exactly onto (or, with `before`, one millisecond
    /// short of) one of the expiries the model holds in the future, chosen
    /// by index among them in time order. A no-op when none lies within
    /// reach.
    AdvanceToExpiry {
        /// Which future expiry.
        pick: Index,
        /// Stop one millisecond before it.
        before: bool,
    },
    /// Physically deletes expired rows; nothing observable may change.
    Purge,
    /// `disconnect()`, a data call that must fail with `NotConnected`, then
    /// `connect()`; all data must survive.
    Reconnect,
}

fn key() -> impl Strategy<Value = &'static str> {
    select(&KEYS[..])
}

/// Small JSON values, `null` included. Numbers come from a wider range so
/// that list and queue order mistakes show.
fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => select(vec![
            Value::Null,
            json!(true),
            json!(false),
            json!(0),
            json!(-1),
            json!(1.5),
            json!(""),
            json!("é"),
            json!([]),
            json!([1, null]),
            json!({}),
            json!({"a": 1, "": null}),
        ]),
        4 => (0i64..1_000).prop_map(Value::from),
        1 => "[a-z]{0,3}".prop_map(Value::String),
    ]
}

/// A positive TTL, biased to a few values so that expiries coincide with
/// clock steps often.
fn small_ttl() -> impl Strategy<Value = i64> {
    prop_oneof![select(vec![1i64, 2, 5, 10, 50, 100]), 1i64..=100]
}

/// A TTL of any sign: zero, negative, small positive or huge.
fn ttl() -> impl Strategy<Value = i64> {
    prop_oneof![
        1 => Just(0i64),
        1 => prop_oneof![Just(-1i64), -100i64..=-1, Just(i64::MIN)],
        5 => small_ttl(),
        1 => select(vec![i64::MAX, MAX_EXPIRY_MS]),
    ]
}

fn optional_ttl() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![1 => Just(None), 4 => ttl().prop_map(Some)]
}

/// A clock step of 0 to 120 ms, biased to the TTLs above.
fn step() -> impl Strategy<Value = i64> {
    prop_oneof![select(vec![0i64, 1, 2, 5, 10, 50, 100]), 0i64..=120]
}

fn lock_pick() -> impl Strategy<Value = LockPick> {
    prop_oneof![
        4 => any::<Index>().prop_map(LockPick::Returned),
        4 => Just(LockPick::Latest),
        1 => (any::<Index>(), key()).prop_map(|(i, k)| LockPick::OtherKey(i, k)),
        1 => key().prop_map(LockPick::Bogus),
    ]
}

fn enqueue() -> impl Strategy<Value = Op> {
    (
        key(),
        -100i64..=0,
        prop_oneof![
            4 => select(vec![-10i64, -1, 0, 1, 2, 5, 10, 50, 100]),
            4 => -20i64..=120,
            1 => Just(1i64 << 40),
        ],
        value(),
        select(vec![0i64, -1, 1, 2, 3]),
    )
        .prop_map(
            |(key, enqueued_offset, expires_offset, message, max_size)| Op::Enqueue {
                key,
                enqueued_offset,
                expires_offset,
                message,
                max_size,
            },
        )
}

/// One random operation.
pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => key().prop_map(Op::Subscribe),
        1 => key().prop_map(Op::Unsubscribe),
        2 => key().prop_map(Op::IsSubscribed),
        5 => (key(), ttl()).prop_map(|(k, t)| Op::AcquireLock(k, t)),
        3 => lock_pick().prop_map(Op::ReleaseLock),
        4 => (lock_pick(), ttl()).prop_map(|(l, t)| Op::ExtendLock(l, t)),
        1 => key().prop_map(Op::ForceReleaseLock),
        4 => key().prop_map(Op::Get),
        3 => (key(), value(), optional_ttl()).prop_map(|(k, v, t)| Op::Set(k, v, t)),
        4 => (key(), value(), optional_ttl()).prop_map(|(k, v, t)| Op::SetIfNotExists(k, v, t)),
        1 => key().prop_map(Op::Delete),
        5 => (
            key(),
            value(),
            select(vec![None, Some(0i64), Some(-1), Some(1), Some(2), Some(3)]),
            optional_ttl(),
        )
            .prop_map(|(key, value, max_length, ttl_ms)| Op::AppendToList {
                key,
                value,
                max_length,
                ttl_ms,
            }),
        4 => key().prop_map(Op::GetList),
        5 => enqueue(),
        3 => key().prop_map(Op::Dequeue),
        3 => key().prop_map(Op::QueueDepth),
        8 => step().prop_map(Op::Advance),
        3 => (any::<Index>(), any::<bool>())
            .prop_map(|(pick, before)| Op::AdvanceToExpiry { pick, before }),
        1 => Just(Op::Purge),
        1 => Just(Op::Reconnect),
    ]
}

/// Random sequences of 1 to 200 operations.
pub fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..=200)
}

/// `now + ttl`, saturated to ±`MAX_EXPIRY_MS` (G6).
fn expiry_after(now: i64, ttl: i64) -> i64 {
    now.saturating_add(ttl).clamp(-MAX_EXPIRY_MS, MAX_EXPIRY_MS)
}

/// A list: its values oldest first and one expiry for all of them.
#[derive(Debug, Clone, Default)]
struct ModelList {
    values: VecDeque<Value>,
    expires_at: Option<i64>,
}

/// The contract as plain data: the reference the backend is compared with.
///
/// Dead items may linger in the maps; every read applies G5 (`expires_at >
/// now` is live), as the contract requires of the backends.
#[derive(Debug, Clone)]
pub struct Model {
    now: i64,
    subscriptions: BTreeSet<String>,
    /// Lock key to (token, expires at).
    locks: BTreeMap<String, (String, i64)>,
    /// Cache key to (value, expires at).
    cache: BTreeMap<String, (Value, Option<i64>)>,
    lists: BTreeMap<String, ModelList>,
    queues: BTreeMap<String, VecDeque<QueueEntry>>,
}

impl Model {
    /// An empty model whose clock reads `now`.
    pub fn new(now: i64) -> Self {
        Self {
            now,
            subscriptions: BTreeSet::new(),
            locks: BTreeMap::new(),
            cache: BTreeMap::new(),
            lists: BTreeMap::new(),
            queues: BTreeMap::new(),
        }
    }

    /// The model's clock.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&mut self, ms: i64) {
        self.now += ms;
    }

    fn live(&self, expires_at: Option<i64>) -> bool {
        expires_at.is_none_or(|e| e > self.now)
    }

    /// Every expiry the model holds that lies in the future but within
    /// [`MAX_EXPIRY_JUMP`], in time order, without duplicates.
    pub fn future_expiries(&self) -> Vec<i64> {
        let locks = self.locks.values().map(|(_, e)| Some(*e));
        let cache = self.cache.values().map(|(_, e)| *e);
        let lists = self.lists.values().map(|l| l.expires_at);
        let queues = self.queues.values().flatten().map(|e| Some(e.expires_at));
        let all: BTreeSet<i64> = locks
            .chain(cache)
            .chain(lists)
            .chain(queues)
            .flatten()
            .filter(|&e| e > self.now && e - self.now <= MAX_EXPIRY_JUMP)
            .collect();
        all.into_iter().collect()
    }

    /// `subscribe`.
    pub fn subscribe(&mut self, thread: &str) {
        self.subscriptions.insert(thread.to_owned());
    }

    /// `unsubscribe`.
    pub fn unsubscribe(&mut self, thread: &str) {
        self.subscriptions.remove(thread);
    }

    /// `isSubscribed`.
    pub fn is_subscribed(&self, thread: &str) -> bool {
        self.subscriptions.contains(thread)
    }

    /// What `acquireLock(key, ttl)` must do: `None` if a live lock exists,
    /// else the `expiresAt` of the new lock. Changes nothing; call
    /// [`Model::record_lock`] with the backend's token on success.
    pub fn predict_acquire(&self, key: &str, ttl: i64) -> Option<i64> {
        if let Some((_, expires_at)) = self.locks.get(key) {
            if *expires_at > self.now {
                return None;
            }
        }
        // A zero-length or negative lease is over already (§2.4).
        Some(expiry_after(self.now, ttl))
    }

    /// Stores the lock a successful acquire created, under the backend's token.
    pub fn record_lock(&mut self, key: &str, token: &str, expires_at: i64) {
        self.locks
            .insert(key.to_owned(), (token.to_owned(), expires_at));
    }

    /// `releaseLock`: deletes the lock only if the token matches.
    pub fn release_lock(&mut self, lock: &Lock) {
        if self
            .locks
            .get(&lock.thread_id)
            .is_some_and(|(token, _)| *token == lock.token)
        {
            self.locks.remove(&lock.thread_id);
        }
    }

    /// `extendLock`: resets a live, matching lease to `now + ttl`.
    pub fn extend_lock(&mut self, lock: &Lock, ttl: i64) -> bool {
        let now = self.now;
        match self.locks.get_mut(&lock.thread_id) {
            Some((token, expires_at)) if *token == lock.token && *expires_at > now => {
                *expires_at = expiry_after(now, ttl);
                true
            }
            _ => false,
        }
    }

    /// `forceReleaseLock`.
    pub fn force_release_lock(&mut self, key: &str) {
        self.locks.remove(key);
    }

    /// `get`: the live value; a stored `null` reads as `None` (G8).
    pub fn get(&self, key: &str) -> Option<Value> {
        self.cache
            .get(key)
            .filter(|(_, e)| self.live(*e))
            .map(|(v, _)| v.clone())
            .filter(|v| !v.is_null())
    }

    fn cache_write(&mut self, key: &str, value: &Value, ttl: Option<i64>) {
        match ttl {
            None | Some(0) => {
                self.cache.insert(key.to_owned(), (value.clone(), None));
            }
            Some(t) if t > 0 => {
                self.cache.insert(
                    key.to_owned(),
                    (value.clone(), Some(expiry_after(self.now, t))),
                );
            }
            // Already dead: the key reads as absent, any old value is gone.
            Some(_) => {
                self.cache.remove(key);
            }
        }
    }

    /// `set`.
    pub fn set(&mut self, key: &str, value: &Value, ttl: Option<i64>) {
        self.cache_write(key, value, ttl);
    }

    /// `setIfNotExists`: writes only if no live value (a live `null` counts).
    pub fn set_if_not_exists(&mut self, key: &str, value: &Value, ttl: Option<i64>) -> bool {
        if self.cache.get(key).is_some_and(|(_, e)| self.live(*e)) {
            return false;
        }
        self.cache_write(key, value, ttl);
        true
    }

    /// `delete`.
    pub fn delete(&mut self, key: &str) {
        self.cache.remove(key);
    }

    /// `appendToList`, steps 1 to 4 of §2.6.
    pub fn append_to_list(&mut self, key: &str, value: &Value, options: ListOptions) {
        let now = self.now;
        let dead = self
            .lists
            .get(key)
            .is_some_and(|l| l.values.is_empty() || l.expires_at.is_some_and(|e| e <= now));
        if dead {
            self.lists.remove(key);
        }
        let list = self.lists.entry(key.to_owned()).or_default();
        list.values.push_back(value.clone());
        if let Some(max) = options.max_length.filter(|&m| m > 0) {
            while i64::try_from(list.values.len()).unwrap_or(i64::MAX) > max {
                list.values.pop_front();
            }
        }
        match options.ttl_ms {
            Some(t) if t > 0 => list.expires_at = Some(expiry_after(now, t)),
            Some(t) if t < 0 => list.expires_at = Some(now),
            _ => {}
        }
    }

    /// `getList`: all values oldest first, or empty when missing or dead.
    pub fn get_list(&self, key: &str) -> Vec<Value> {
        match self.lists.get(key) {
            Some(list) if self.live(list.expires_at) => list.values.iter().cloned().collect(),
            _ => Vec::new(),
        }
    }

    fn live_queue(&mut self, key: &str) -> &mut VecDeque<QueueEntry> {
        let now = self.now;
        let queue = self.queues.entry(key.to_owned()).or_default();
        queue.retain(|e| e.expires_at > now);
        queue
    }

    /// `enqueue`, §2.7: dead entries stop counting, a dead entry is not
    /// stored, a positive `max_size` drops the oldest; returns the live depth.
    pub fn enqueue(&mut self, key: &str, entry: &QueueEntry, max_size: i64) -> u64 {
        let now = self.now;
        let queue = self.live_queue(key);
        if entry.expires_at > now {
            queue.push_back(entry.clone());
            if max_size > 0 {
                while i64::try_from(queue.len()).unwrap_or(i64::MAX) > max_size {
                    queue.pop_front();
                }
            }
        }
        queue.len() as u64
    }

    /// `dequeue`: the oldest live entry.
    pub fn dequeue(&mut self, key: &str) -> Option<QueueEntry> {
        self.live_queue(key).pop_front()
    }

    /// `queueDepth`: the number of live entries.
    pub fn queue_depth(&self, key: &str) -> u64 {
        self.queues.get(key).map_or(0, |q| {
            q.iter().filter(|e| e.expires_at > self.now).count() as u64
        })
    }
}

/// A result of one operation, as compared between model and backend.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Done,
    Bool(bool),
    Value(Option<Value>),
    List(Vec<Value>),
    Count(u64),
    Entry(Option<QueueEntry>),
    /// A lock's `threadId` and `expiresAt`; the token is unpredictable.
    Lock(Option<(String, i64)>),
}

fn bogus_lock(key: &str, now: i64) -> Lock {
    Lock {
        thread_id: key.to_owned(),
        token: BOGUS_TOKEN.to_owned(),
        expires_at: now + 1_000,
    }
}

/// The lock a release or extend presents, resolved against the locks the
/// backend returned so far.
fn resolve(pick: &LockPick, returned: &[Lock], now: i64) -> Lock {
    let nth = |i: &Index| returned.get(i.index(returned.len().max(1))).cloned();
    match pick {
        LockPick::Returned(i) => nth(i).unwrap_or_else(|| bogus_lock(KEYS[0], now)),
        LockPick::Latest => returned
            .last()
            .cloned()
            .unwrap_or_else(|| bogus_lock(KEYS[0], now)),
        LockPick::OtherKey(i, key) => match nth(i) {
            Some(mut lock) => {
                (*key).clone_into(&mut lock.thread_id);
                lock
            }
            None => bogus_lock(key, now),
        },
        LockPick::Bogus(key) => bogus_lock(key, now),
    }
}

/// Checks what the contract says about a token (§2.4): opaque ASCII, at
/// most 64 characters, unique per successful acquire.
fn check_token(token: &str, seen: &mut BTreeSet<String>) -> Result<(), String> {
    if token.is_empty() || token.len() > 64 || !token.is_ascii() {
        return Err(format!("token {token:?} is not 1 to 64 ASCII characters"));
    }
    if !seen.insert(token.to_owned()) {
        return Err(format!("token {token:?} was issued twice"));
    }
    Ok(())
}

/// Replays `ops` on a fresh, connected adapter from `harness` and on a
/// [`Model`], and compares every result.
///
/// # Errors
///
/// On the first difference, or the first backend error, returns a message
/// naming the operation's index, the operation, the model's clock and both
/// results.
pub async fn check<H: Harness>(harness: &H, ops: &[Op]) -> Result<(), String> {
    let adapter = harness.fresh().await;
    adapter
        .connect()
        .await
        .map_err(|e| format!("connect failed: {e}"))?;
    let mut model = Model::new(harness.now(&adapter).await);
    let mut returned: Vec<Lock> = Vec::new();
    let mut tokens = BTreeSet::new();

    for (index, op) in ops.iter().enumerate() {
        let now = model.now();
        let fail = |expected: &dyn std::fmt::Debug, actual: &dyn std::fmt::Debug| {
            format!(
                "op #{index} {op:?} at now={now}: model expects {expected:?}, backend gave {actual:?}"
            )
        };
        let (expected, actual) = match op {
            Op::Subscribe(t) => {
                model.subscribe(t);
                (
                    Outcome::Done,
                    adapter.subscribe(t).await.map(|()| Outcome::Done),
                )
            }
            Op::Unsubscribe(t) => {
                model.unsubscribe(t);
                (
                    Outcome::Done,
                    adapter.unsubscribe(t).await.map(|()| Outcome::Done),
                )
            }
            Op::IsSubscribed(t) => (
                Outcome::Bool(model.is_subscribed(t)),
                adapter.is_subscribed(t).await.map(Outcome::Bool),
            ),
            Op::AcquireLock(key, ttl) => {
                let predicted = model.predict_acquire(key, *ttl);
                let expected = Outcome::Lock(predicted.map(|e| ((*key).to_owned(), e)));
                match adapter.acquire_lock(key, *ttl).await {
                    Ok(got) => {
                        let actual = Outcome::Lock(
                            got.as_ref().map(|l| (l.thread_id.clone(), l.expires_at)),
                        );
                        if let (Some(lock), true) = (got, expected == actual) {
                            check_token(&lock.token, &mut tokens)
                                .map_err(|e| format!("op #{index} {op:?}: {e}"))?;
                            model.record_lock(key, &lock.token, lock.expires_at);
                            returned.push(lock);
                        }
                        (expected, Ok(actual))
                    }
                    Err(e) => (expected, Err(e)),
                }
            }
            Op::ReleaseLock(pick) => {
                let lock = resolve(pick, &returned, now);
                model.release_lock(&lock);
                (
                    Outcome::Done,
                    adapter.release_lock(&lock).await.map(|()| Outcome::Done),
                )
            }
            Op::ExtendLock(pick, ttl) => {
                let lock = resolve(pick, &returned, now);
                (
                    Outcome::Bool(model.extend_lock(&lock, *ttl)),
                    adapter.extend_lock(&lock, *ttl).await.map(Outcome::Bool),
                )
            }
            Op::ForceReleaseLock(key) => {
                model.force_release_lock(key);
                (
                    Outcome::Done,
                    adapter
                        .force_release_lock(key)
                        .await
                        .map(|()| Outcome::Done),
                )
            }
            Op::Get(key) => (
                Outcome::Value(model.get(key)),
                adapter.get(key).await.map(Outcome::Value),
            ),
            Op::Set(key, value, ttl) => {
                model.set(key, value, *ttl);
                (
                    Outcome::Done,
                    adapter.set(key, value, *ttl).await.map(|()| Outcome::Done),
                )
            }
            Op::SetIfNotExists(key, value, ttl) => (
                Outcome::Bool(model.set_if_not_exists(key, value, *ttl)),
                adapter
                    .set_if_not_exists(key, value, *ttl)
                    .await
                    .map(Outcome::Bool),
            ),
            Op::Delete(key) => {
                model.delete(key);
                (
                    Outcome::Done,
                    adapter.delete(key).await.map(|()| Outcome::Done),
                )
            }
            Op::AppendToList {
                key,
                value,
                max_length,
                ttl_ms,
            } => {
                let options = ListOptions {
                    max_length: *max_length,
                    ttl_ms: *ttl_ms,
                };
                model.append_to_list(key, value, options);
                (
                    Outcome::Done,
                    adapter
                        .append_to_list(key, value, options)
                        .await
                        .map(|()| Outcome::Done),
                )
            }
            Op::GetList(key) => (
                Outcome::List(model.get_list(key)),
                adapter.get_list(key).await.map(Outcome::List),
            ),
            Op::Enqueue {
                key,
                enqueued_offset,
                expires_offset,
                message,
                max_size,
            } => {
                let entry = QueueEntry {
                    enqueued_at: now + enqueued_offset,
                    expires_at: now.saturating_add(*expires_offset),
                    message: message.clone(),
                };
                (
                    Outcome::Count(model.enqueue(key, &entry, *max_size)),
                    adapter
                        .enqueue(key, &entry, *max_size)
                        .await
                        .map(Outcome::Count),
                )
            }
            Op::Dequeue(key) => (
                Outcome::Entry(model.dequeue(key)),
                adapter.dequeue(key).await.map(Outcome::Entry),
            ),
            Op::QueueDepth(key) => (
                Outcome::Count(model.queue_depth(key)),
                adapter.queue_depth(key).await.map(Outcome::Count),
            ),
            Op::Advance(ms) => {
                advance(harness, &adapter, &mut model, *ms)
                    .await
                    .map_err(|e| format!("op #{index} {op:?}: {e}"))?;
                continue;
            }
            Op::AdvanceToExpiry { pick, before } => {
                let expiries = model.future_expiries();
                let ms = expiries
                    .get(pick.index(expiries.len().max(1)))
                    .map_or(0, |&e| e - now - i64::from(*before));
                advance(harness, &adapter, &mut model, ms)
                    .await
                    .map_err(|e| format!("op #{index} {op:?} (by {ms} ms): {e}"))?;
                continue;
            }
            Op::Purge => {
                harness
                    .purge(&adapter)
                    .await
                    .map_err(|e| format!("op #{index} {op:?}: purge failed: {e}"))?;
                continue;
            }
            Op::Reconnect => {
                reconnect(&adapter)
                    .await
                    .map_err(|e| format!("op #{index} {op:?}: {e}"))?;
                continue;
            }
        };
        match actual {
            Ok(actual) if actual == expected => {}
            Ok(actual) => return Err(fail(&expected, &actual)),
            Err(error) => return Err(fail(&expected, &Err::<(), _>(error))),
        }
    }
    adapter
        .disconnect()
        .await
        .map_err(|e| format!("disconnect failed: {e}"))
}

/// Greedily removes operations from a failing sequence while it still
/// fails, until no single removal keeps it failing, and returns the result
/// with its failure. Meant for after proptest's own shrinking, which tends
/// to leave harmless operations in place rather than remove them.
///
/// Returns `ops` unchanged, with `Ok`, if it does not fail.
pub async fn minimize<H: Harness>(harness: &H, ops: &[Op]) -> (Vec<Op>, Result<(), String>) {
    let mut current = ops.to_vec();
    let mut outcome = check(harness, &current).await;
    if outcome.is_ok() {
        return (current, outcome);
    }
    loop {
        let before = current.len();
        let mut i = 0;
        while i < current.len() {
            let mut candidate = current.clone();
            candidate.remove(i);
            match check(harness, &candidate).await {
                Err(e) => {
                    current = candidate;
                    outcome = Err(e);
                }
                Ok(()) => i += 1,
            }
        }
        if current.len() == before {
            return (current, outcome);
        }
    }
}

/// Moves both clocks by `ms` and checks that they still agree.
async fn advance<H: Harness>(
    harness: &H,
    adapter: &H::Adapter,
    model: &mut Model,
    ms: i64,
) -> Result<(), String> {
    model.advance(ms);
    harness.advance(adapter, ms).await;
    let backend = harness.now(adapter).await;
    if backend != model.now() {
        return Err(format!(
            "clocks disagree after advancing {ms} ms: model {}, backend {backend}",
            model.now()
        ));
    }
    Ok(())
}

/// Disconnects, checks G2 on one data call, and connects again.
async fn reconnect<A: StateAdapter>(adapter: &A) -> Result<(), String> {
    adapter
        .disconnect()
        .await
        .map_err(|e| format!("disconnect failed: {e}"))?;
    match adapter.queue_depth(KEYS[0]).await {
        Err(e)
            if e.kind() == ErrorKind::NotConnected && e.to_string().contains("not connected") => {}
        other => return Err(format!("queueDepth while disconnected gave {other:?}")),
    }
    adapter
        .connect()
        .await
        .map_err(|e| format!("connect after disconnect failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(expires_at: i64, n: i64) -> QueueEntry {
        QueueEntry {
            enqueued_at: 0,
            expires_at,
            message: json!(n),
        }
    }

    #[test]
    fn model_applies_strict_expiry_and_the_ttl_table() {
        let mut m = Model::new(100);
        m.set("a", &json!(1), Some(10));
        m.set("b", &json!(2), Some(-1));
        assert!(m.set_if_not_exists("b", &json!(3), Some(-1)));
        assert!(m.set_if_not_exists("b", &json!(3), Some(-1)));
        m.set("n", &Value::Null, None);
        assert_eq!(m.get("n"), None);
        assert!(!m.set_if_not_exists("n", &json!(1), None));
        m.advance(9);
        assert_eq!(m.get("a"), Some(json!(1)));
        m.advance(1);
        assert_eq!(m.get("a"), None);
        assert_eq!(m.get("b"), None);
        m.set("h", &json!(1), Some(i64::MAX));
        assert_eq!(m.cache.get("h").and_then(|(_, e)| *e), Some(MAX_EXPIRY_MS));
    }

    #[test]
    fn model_locks_follow_section_2_4() {
        let mut m = Model::new(100);
        assert_eq!(m.predict_acquire("k", 0), Some(100));
        m.record_lock("k", "t0", 100);
        assert_eq!(m.predict_acquire("k", 10), Some(110));
        m.record_lock("k", "t1", 110);
        assert_eq!(m.predict_acquire("k", 10), None);
        let lock = Lock {
            thread_id: "k".into(),
            token: "t1".into(),
            expires_at: 110,
        };
        assert!(m.extend_lock(&lock, 5));
        m.advance(5);
        assert!(!m.extend_lock(&lock, 5), "dead at expires_at == now");
        assert_eq!(m.predict_acquire("k", 1), Some(106));
    }

    #[test]
    fn model_lists_and_queues_follow_sections_2_6_and_2_7() {
        let mut m = Model::new(100);
        m.append_to_list("l", &json!(1), ListOptions::max_length(0).with_ttl_ms(10));
        m.append_to_list("l", &json!(2), ListOptions::default());
        m.advance(10);
        assert_eq!(m.get_list("l"), Vec::<Value>::new());
        m.append_to_list("l", &json!(3), ListOptions::max_length(-1));
        assert_eq!(m.get_list("l"), vec![json!(3)]);
        m.append_to_list("l", &json!(4), ListOptions::max_length(1).with_ttl_ms(-1));
        assert_eq!(m.get_list("l"), Vec::<Value>::new());

        assert_eq!(m.enqueue("q", &entry(111, 1), 2), 1);
        assert_eq!(m.enqueue("q", &entry(110, 2), 2), 1, "dead on arrival");
        assert_eq!(m.enqueue("q", &entry(200, 3), 2), 2);
        assert_eq!(m.enqueue("q", &entry(200, 4), 2), 2);
        assert_eq!(m.dequeue("q"), Some(entry(200, 3)));
        assert_eq!(m.queue_depth("q"), 1);
    }
}
