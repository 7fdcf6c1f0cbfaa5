//! Which Durable Object owns a call.
//!
//! Every data call touches one key of one store, so any deterministic
//! mapping from key to object keeps every guarantee of the contract. The
//! defaults keep the layout of the original TypeScript adapter: with no
//! routing options, every call goes to the object named `name`.
//!
//! Once a thread route (`shard_key`) is set:
//! - thread-scoped calls (subscriptions, locks, queues) go to
//!   `shard_key(thread_id)`, so a key's lock and queue share an object;
//! - cache and list keys that carry a thread or channel id
//!   (`thread-state:`, `channel-state:`, `msg-history:`, `transcripts:user:`)
//!   follow the thread route of the id they carry;
//! - every other key (dedupe marks, callbacks, platform caches) goes to one
//!   of `buckets` hashed objects named `<name>#k<bucket>`, by 32-bit FNV-1a
//!   of the key's UTF-8 bytes, which the TypeScript client computes alike.
//!
//! A `key_shard` hook may name the object for any key first.
//!
//! Changing the routing moves keys: data left behind becomes invisible.
//! Treat the routing configuration as part of a deployment's identity.

use std::fmt;
use std::sync::Arc;

use crate::wire::Route;

/// Key prefixes whose remainder is a thread or channel id.
pub const THREAD_PREFIXES: [&str; 4] = [
    "thread-state:",
    "channel-state:",
    "msg-history:",
    "transcripts:user:",
];

/// The default number of hashed buckets for keys without a thread route.
pub const DEFAULT_BUCKETS: u32 = 16;

/// 32-bit FNV-1a over `bytes`.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, b| {
        (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

type ShardFn = Arc<dyn Fn(&str) -> String + Send + Sync>;
type KeyShardFn = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Maps calls to object names.
#[derive(Clone)]
pub struct Router {
    name: String,
    shard_key: Option<ShardFn>,
    key_shard: Option<KeyShardFn>,
    buckets: u32,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("name", &self.name)
            .field("shard_key", &self.shard_key.is_some())
            .field("key_shard", &self.key_shard.is_some())
            .field("buckets", &self.buckets)
            .finish()
    }
}

impl Default for Router {
    fn default() -> Self {
        Self::new("default")
    }
}

impl Router {
    /// Every call to the object `name` (empty means `"default"`).
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            name: if name.is_empty() {
                "default".to_owned()
            } else {
                name
            },
            shard_key: None,
            key_shard: None,
            buckets: DEFAULT_BUCKETS,
        }
    }

    /// Routes thread-scoped calls to `f(thread_id)`, and switches on key
    /// routing (prefixes, then hashed buckets).
    pub fn shard_key(mut self, f: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        self.shard_key = Some(Arc::new(f));
        self
    }

    /// Names the object for a cache or list key before the default rules;
    /// `None` falls back to them.
    pub fn key_shard(mut self, f: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.key_shard = Some(Arc::new(f));
        self
    }

    /// Number of hashed buckets for keys without a thread route (default
    /// 16, at least 1).
    pub fn buckets(mut self, n: u32) -> Self {
        self.buckets = n.max(1);
        self
    }

    /// The object name of the unsharded layout.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The object that owns a thread-scoped call.
    pub fn thread_object(&self, thread_id: &str) -> String {
        match &self.shard_key {
            Some(f) => f(thread_id),
            None => self.name.clone(),
        }
    }

    /// The object that owns a cache or list key.
    pub fn key_object(&self, key: &str) -> String {
        if let Some(name) = self.key_shard.as_ref().and_then(|f| f(key)) {
            return name;
        }
        if self.shard_key.is_none() {
            return self.name.clone();
        }
        for prefix in THREAD_PREFIXES {
            if let Some(id) = key.strip_prefix(prefix) {
                return self.thread_object(id);
            }
        }
        format!("{}#k{}", self.name, fnv1a32(key.as_bytes()) % self.buckets)
    }

    /// The object that owns `route`.
    pub fn object(&self, route: Route<'_>) -> String {
        match route {
            Route::Thread(t) => self.thread_object(t),
            Route::Key(k) => self.key_object(k),
        }
    }
}

/// The thread route used in the documentation's examples: the first two
/// `:`-separated segments of a thread id (one object per channel), so that
/// `slack:C1:T1` and `slack:C1` share an object.
pub fn by_channel(thread_id: &str) -> String {
    let mut parts = thread_id.splitn(3, ':');
    match (parts.next(), parts.next()) {
        (Some(a), Some(b)) => format!("{a}:{b}"),
        _ => thread_id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn without_options_everything_goes_to_one_object() {
        let r = Router::default();
        assert_eq!(r.object(Route::Thread("slack:C1:T1")), "default");
        assert_eq!(r.object(Route::Key("dedupe:slack:1")), "default");
        assert_eq!(r.object(Route::Key("thread-state:slack:C1:T1")), "default");
        assert_eq!(Router::new("bot").object(Route::Key("x")), "bot");
    }

    #[test]
    fn thread_keys_follow_the_thread_route_and_others_are_hashed() {
        let r = Router::new("bot").shard_key(by_channel);
        assert_eq!(r.object(Route::Thread("slack:C1:T1")), "slack:C1");
        assert_eq!(r.object(Route::Thread("slack:C1")), "slack:C1");
        assert_eq!(r.object(Route::Key("thread-state:slack:C1:T1")), "slack:C1");
        assert_eq!(r.object(Route::Key("channel-state:slack:C1")), "slack:C1");
        assert_eq!(r.object(Route::Key("msg-history:slack:C1:T1")), "slack:C1");
        let dedupe = r.object(Route::Key("dedupe:slack:123"));
        assert!(dedupe.starts_with("bot#k"), "{dedupe}");
    }

    #[test]
    fn dedupe_keys_spread_evenly_over_the_buckets() {
        let r = Router::new("bot").shard_key(by_channel);
        let mut counts: HashMap<String, u32> = HashMap::new();
        for i in 0..10_000 {
            *counts
                .entry(r.key_object(&format!("dedupe:slack:{i}")))
                .or_default() += 1;
        }
        assert_eq!(counts.len(), 16);
        let max = counts.values().copied().max().unwrap_or(0);
        assert!(
            f64::from(max) <= 1.5 * 10_000.0 / 16.0,
            "busiest bucket {max}"
        );
    }

    #[test]
    fn the_key_hook_wins_and_can_fall_back() {
        let r = Router::new("bot")
            .shard_key(by_channel)
            .key_shard(|k| k.strip_prefix("telegram:").map(|rest| format!("tg:{rest}")));
        assert_eq!(r.key_object("telegram:42"), "tg:42");
        assert_eq!(r.key_object("thread-state:slack:C1:T1"), "slack:C1");
    }
}
