use serde::{Deserialize, Serialize};

/// A lease on a lock key, as returned by a successful acquire.
///
/// Serialised in camelCase (`threadId`, `token`, `expiresAt`) to match the
/// Chat SDK's TypeScript `Lock`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lock {
    /// The lock key exactly as it was passed to the acquire: a thread id, a
    /// channel id, or any other string.
    pub thread_id: String,
    /// The opaque token that proves ownership; at least 122 random bits.
    pub token: String,
    /// When the lease ends, in Unix milliseconds of the store's clock.
    pub expires_at: i64,
}

/// One queued message, as the Chat SDK core enqueues it.
///
/// `enqueued_at` and `expires_at` are stored exactly as given and never
/// recomputed; the entry is live while `expires_at` is later than now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueEntry {
    /// When the core enqueued the message, in Unix milliseconds.
    pub enqueued_at: i64,
    /// When the entry stops being delivered, in Unix milliseconds.
    pub expires_at: i64,
    /// The message in its serialised JSON form.
    pub message: serde_json::Value,
}

/// Options of an append to a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListOptions {
    /// Keep only this many newest values. `None`, zero and negative values
    /// mean unbounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<i64>,
    /// Expiry of the whole list, counted from this append. `None` and zero
    /// keep the list's current expiry; a negative value ends the list now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<i64>,
}

impl ListOptions {
    /// Options that bound the list to `max_length` values.
    pub fn max_length(max_length: i64) -> Self {
        Self {
            max_length: Some(max_length),
            ttl_ms: None,
        }
    }

    /// Returns these options with the list expiry set to `ttl_ms` from now.
    pub fn with_ttl_ms(mut self, ttl_ms: i64) -> Self {
        self.ttl_ms = Some(ttl_ms);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_and_entry_use_the_typescript_field_names() -> Result<(), serde_json::Error> {
        let lock = Lock {
            thread_id: "slack:C1:T1".into(),
            token: "t".into(),
            expires_at: 5,
        };
        assert_eq!(
            serde_json::to_string(&lock)?,
            r#"{"threadId":"slack:C1:T1","token":"t","expiresAt":5}"#
        );
        let entry: QueueEntry =
            serde_json::from_str(r#"{"enqueuedAt":1,"expiresAt":2,"message":{"id":"m"}}"#)?;
        assert_eq!(entry.enqueued_at, 1);
        assert_eq!(entry.expires_at, 2);
        let opts: ListOptions = serde_json::from_str(r#"{"maxLength":50,"ttlMs":1000}"#)?;
        assert_eq!(opts, ListOptions::max_length(50).with_ttl_ms(1000));
        Ok(())
    }
}
