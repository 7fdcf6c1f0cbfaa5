use std::future::Future;

use serde_json::Value;

use crate::error::Result;
use crate::types::{ListOptions, Lock, QueueEntry};

/// The Chat SDK state contract: five stores, eighteen operations.
///
/// Every home of the engine implements it: the native SQLite store, and the
/// client that sends each call to a Durable Object. Apart from `connect` and
/// `disconnect`, each operation belongs to one store and touches one key of
/// it; the five stores are separate namespaces, so one string can name a
/// cache key, a list, a lock, a queue and a subscription without conflict.
///
/// # Errors
///
/// Before `connect` completes and after `disconnect`, every data operation
/// fails with [`Error::NotConnected`](crate::Error::NotConnected) without
/// touching storage. A write over the size limits fails with
/// [`Error::ValueTooLarge`](crate::Error::ValueTooLarge) and changes nothing.
///
/// # Concurrency
///
/// Every call is atomic and linearisable. Of many concurrent `acquire_lock`
/// or `set_if_not_exists` calls on one free key exactly one wins; concurrent
/// `dequeue` calls never return the same entry.
///
/// The returned futures are not required to be `Send`, because the Workers
/// runtime is single-threaded; implementations for multi-threaded runtimes
/// may return `Send` futures, as the native store does.
pub trait StateAdapter {
    /// Makes the adapter usable. Idempotent; a failed attempt is not cached.
    fn connect(&self) -> impl Future<Output = Result<()>>;

    /// Makes the adapter unusable. Stored data stays; a later `connect` sees it.
    fn disconnect(&self) -> impl Future<Output = Result<()>>;

    /// Adds `thread_id` to the subscriptions. Idempotent.
    fn subscribe(&self, thread_id: &str) -> impl Future<Output = Result<()>>;

    /// Removes `thread_id` from the subscriptions; a no-op if absent.
    fn unsubscribe(&self, thread_id: &str) -> impl Future<Output = Result<()>>;

    /// Whether `thread_id` is subscribed.
    fn is_subscribed(&self, thread_id: &str) -> impl Future<Output = Result<bool>>;

    /// Takes a lease on `key` for `ttl_ms` unless a live one exists; `None`
    /// when someone else holds it. A TTL of zero or less returns a lock that
    /// is already over.
    fn acquire_lock(&self, key: &str, ttl_ms: i64) -> impl Future<Output = Result<Option<Lock>>>;

    /// Ends the lease if `lock.token` still holds it; never fails for a
    /// missing lock or a stale token.
    fn release_lock(&self, lock: &Lock) -> impl Future<Output = Result<()>>;

    /// Resets a live lease held under `lock.token` to end `ttl_ms` from now.
    /// `false` if the lease is missing, another's, or over.
    fn extend_lock(&self, lock: &Lock, ttl_ms: i64) -> impl Future<Output = Result<bool>>;

    /// Ends the lease on `key` whatever its token.
    fn force_release_lock(&self, key: &str) -> impl Future<Output = Result<()>>;

    /// The live value of `key`, or `None` (also for a stored JSON `null`).
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Value>>>;

    /// Stores `value` under `key`, replacing value and expiry. `None` or zero
    /// TTL: no expiry; negative: the key reads as absent.
    fn set(
        &self,
        key: &str,
        value: &Value,
        ttl_ms: Option<i64>,
    ) -> impl Future<Output = Result<()>>;

    /// Stores `value` only if `key` has no live value; `true` if it wrote.
    fn set_if_not_exists(
        &self,
        key: &str,
        value: &Value,
        ttl_ms: Option<i64>,
    ) -> impl Future<Output = Result<bool>>;

    /// Removes the cache entry of `key`; a no-op if absent.
    fn delete(&self, key: &str) -> impl Future<Output = Result<()>>;

    /// Appends `value` to the list `key`, trims it to `max_length` and sets
    /// the whole list's expiry (see [`Engine::append_to_list`](crate::Engine::append_to_list)).
    fn append_to_list(
        &self,
        key: &str,
        value: &Value,
        options: ListOptions,
    ) -> impl Future<Output = Result<()>>;

    /// The list's values oldest first; empty when missing or expired.
    fn get_list(&self, key: &str) -> impl Future<Output = Result<Vec<Value>>>;

    /// Appends `entry` to the queue `key`, drops the oldest live entries
    /// beyond `max_size` (if positive), and returns the live depth.
    fn enqueue(
        &self,
        key: &str,
        entry: &QueueEntry,
        max_size: i64,
    ) -> impl Future<Output = Result<u64>>;

    /// Removes and returns the oldest live entry, or `None`.
    fn dequeue(&self, key: &str) -> impl Future<Output = Result<Option<QueueEntry>>>;

    /// The number of live entries in the queue `key`.
    fn queue_depth(&self, key: &str) -> impl Future<Output = Result<u64>>;
}
