//! Locks: one lease per lock key, owned by whoever holds its token.
//!
//! # Concurrency
//!
//! Each call is one statement that decides and writes at once, so of many
//! concurrent acquires of a free key exactly one wins, and release and extend
//! act only when the stored token matches the caller's.

use super::{check_key, take_i64, take_text, Engine};
use crate::error::{Error, Result};
use crate::limits::expiry_after;
use crate::sql::{Param, SqlConn};
use crate::types::Lock;

/// Longest client-supplied token accepted.
const MAX_TOKEN_LEN: usize = 64;

// Takes the key if it is free or its lease is over, or if the caller
// already holds it under the same token (an idempotent retry).
const ACQUIRE: &str = "INSERT INTO cs_locks (prefix, lock_key, token, expires_at)
    VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (prefix, lock_key) DO UPDATE
        SET token = excluded.token, expires_at = excluded.expires_at
        WHERE cs_locks.expires_at <= ?5 OR cs_locks.token = excluded.token
    RETURNING token, expires_at";
const RELEASE: &str = "DELETE FROM cs_locks WHERE prefix = ?1 AND lock_key = ?2 AND token = ?3";
const EXTEND: &str = "UPDATE cs_locks SET expires_at = ?4
    WHERE prefix = ?1 AND lock_key = ?2 AND token = ?3 AND expires_at > ?5
    RETURNING 1";
// An extend to a lease that ends now frees the lock at once.
const EXTEND_TO_NOTHING: &str = "DELETE FROM cs_locks
    WHERE prefix = ?1 AND lock_key = ?2 AND token = ?3 AND expires_at > ?4
    RETURNING 1";
const FORCE_RELEASE: &str = "DELETE FROM cs_locks WHERE prefix = ?1 AND lock_key = ?2";

/// A new lock token: a random (version 4) UUID, 122 bits from the operating
/// system's secure generator, as 32 hex digits.
pub(crate) fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Engine {
    /// Takes the lease on `key` for `ttl_ms` unless a live one exists.
    ///
    /// Returns the new [`Lock`], or `None` if someone else holds the key.
    /// A TTL of zero or less returns a lock whose lease is already over, so
    /// the key stays free. `token`, when given, is used instead of a fresh
    /// random one, which makes a retried acquire idempotent: a live lease
    /// held under the same token is renewed and returned.
    pub fn acquire_lock(
        &self,
        conn: &mut dyn SqlConn,
        key: &str,
        ttl_ms: i64,
        token: Option<&str>,
    ) -> Result<Option<Lock>> {
        check_key("acquireLock", key)?;
        let generated;
        let token = match token {
            Some(t) if t.is_empty() || t.len() > MAX_TOKEN_LEN || !t.is_ascii() => {
                return Err(Error::invalid(
                    "acquireLock",
                    format!("a client token must be 1 to {MAX_TOKEN_LEN} ASCII characters"),
                ));
            }
            Some(t) => t,
            None => {
                generated = new_token();
                &generated
            }
        };
        let now = self.now();
        let expires_at = expiry_after(now, ttl_ms);
        let mut rows = conn.query(
            ACQUIRE,
            &[
                self.p(),
                Param::Text(key),
                Param::Text(token),
                Param::Int(expires_at),
                Param::Int(now),
            ],
        )?;
        let Some(row) = rows.first_mut() else {
            return Ok(None);
        };
        Ok(Some(Lock {
            thread_id: key.to_owned(),
            token: take_text(row, 0, "acquireLock")?,
            expires_at: take_i64(row, 1, "acquireLock")?,
        }))
    }

    /// Ends the lease on `key` if it is held under `token`. Never fails for a
    /// missing lock or another holder's token.
    pub fn release_lock(&self, conn: &mut dyn SqlConn, key: &str, token: &str) -> Result<()> {
        conn.execute(RELEASE, &[self.p(), Param::Text(key), Param::Text(token)])
    }

    /// Resets a live lease held under `token` to end `ttl_ms` from now.
    ///
    /// Returns `false` when the lock is missing, held under another token, or
    /// already over; an expired lease is never revived. A TTL of zero or less
    /// on a live, matching lease returns `true` and frees the key.
    pub fn extend_lock(
        &self,
        conn: &mut dyn SqlConn,
        key: &str,
        token: &str,
        ttl_ms: i64,
    ) -> Result<bool> {
        let now = self.now();
        let rows = if ttl_ms > 0 {
            conn.query(
                EXTEND,
                &[
                    self.p(),
                    Param::Text(key),
                    Param::Text(token),
                    Param::Int(expiry_after(now, ttl_ms)),
                    Param::Int(now),
                ],
            )?
        } else {
            conn.query(
                EXTEND_TO_NOTHING,
                &[
                    self.p(),
                    Param::Text(key),
                    Param::Text(token),
                    Param::Int(now),
                ],
            )?
        };
        Ok(!rows.is_empty())
    }

    /// Ends the lease on `key` whatever its token; a no-op if none exists.
    pub fn force_release_lock(&self, conn: &mut dyn SqlConn, key: &str) -> Result<()> {
        conn.execute(FORCE_RELEASE, &[self.p(), Param::Text(key)])
    }
}

#[cfg(test)]
mod tests {
    use super::new_token;

    #[test]
    fn tokens_are_32_hex_digits_and_distinct() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
