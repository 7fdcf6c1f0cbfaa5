//! The key-value cache: one JSON value per key, with an optional expiry.
//!
//! # Concurrency
//!
//! `set_if_not_exists` decides and writes in one statement, so of many
//! concurrent calls on a key without a live value exactly one returns `true`.

use super::{check_key, take_text, Applied, Engine};
use crate::error::Result;
use crate::limits::{check_value, expiry_after};
use crate::sql::{Param, SqlConn};

const GET: &str = "SELECT value FROM cs_kv
    WHERE prefix = ?1 AND key = ?2 AND (expires_at IS NULL OR expires_at > ?3)";
const SET: &str = "INSERT INTO cs_kv (prefix, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (prefix, key) DO UPDATE
        SET value = excluded.value, expires_at = excluded.expires_at";
// Writes only over a missing or dead value; a row comes back if it wrote.
const SET_IF_NOT_EXISTS: &str = "INSERT INTO cs_kv (prefix, key, value, expires_at)
    VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (prefix, key) DO UPDATE
        SET value = excluded.value, expires_at = excluded.expires_at
        WHERE cs_kv.expires_at IS NOT NULL AND cs_kv.expires_at <= ?5
    RETURNING 1";
const IS_LIVE: &str = "SELECT 1 FROM cs_kv
    WHERE prefix = ?1 AND key = ?2 AND (expires_at IS NULL OR expires_at > ?3)";
const DELETE: &str = "DELETE FROM cs_kv WHERE prefix = ?1 AND key = ?2";

/// What a TTL means for a cache write.
enum Expiry {
    Never,
    At(i64),
    /// The value is dead on arrival.
    AlreadyOver,
}

fn cache_expiry(now: i64, ttl_ms: Option<i64>) -> Expiry {
    match ttl_ms {
        None | Some(0) => Expiry::Never,
        Some(t) if t > 0 => Expiry::At(expiry_after(now, t)),
        Some(_) => Expiry::AlreadyOver,
    }
}

impl Engine {
    /// The live value of `key` as JSON text, or `None`.
    pub fn get(&self, conn: &mut dyn SqlConn, key: &str) -> Result<Option<String>> {
        let now = self.now();
        let mut rows = conn.query(GET, &[self.p(), Param::Text(key), Param::Int(now)])?;
        match rows.first_mut() {
            Some(row) => Ok(Some(take_text(row, 0, "get")?)),
            None => Ok(None),
        }
    }

    /// Stores `value` (JSON text) under `key`, replacing value and expiry.
    ///
    /// `None` or zero means no expiry; a negative TTL removes the key, since
    /// the value would be dead on arrival.
    pub fn set(
        &self,
        conn: &mut dyn SqlConn,
        key: &str,
        value: &str,
        ttl_ms: Option<i64>,
    ) -> Result<Applied<()>> {
        check_key("set", key)?;
        check_value("set", key, value)?;
        let expiry = match cache_expiry(self.now(), ttl_ms) {
            Expiry::Never => None,
            Expiry::At(at) => Some(at),
            Expiry::AlreadyOver => {
                conn.execute(DELETE, &[self.p(), Param::Text(key)])?;
                return Ok(Applied::new((), None));
            }
        };
        conn.execute(
            SET,
            &[
                self.p(),
                Param::Text(key),
                Param::Text(value),
                expiry.into(),
            ],
        )?;
        Ok(Applied::new((), expiry))
    }

    /// Stores `value` under `key` only if the key has no live value; returns
    /// whether it wrote. A live value and its expiry are left untouched.
    ///
    /// A negative TTL counts as a write of a value that is dead at once: the
    /// call returns `true` whenever no live value exists and stores nothing.
    pub fn set_if_not_exists(
        &self,
        conn: &mut dyn SqlConn,
        key: &str,
        value: &str,
        ttl_ms: Option<i64>,
    ) -> Result<Applied<bool>> {
        check_key("setIfNotExists", key)?;
        check_value("setIfNotExists", key, value)?;
        let now = self.now();
        let expiry = match cache_expiry(now, ttl_ms) {
            Expiry::Never => None,
            Expiry::At(at) => Some(at),
            Expiry::AlreadyOver => {
                let live = !conn
                    .query(IS_LIVE, &[self.p(), Param::Text(key), Param::Int(now)])?
                    .is_empty();
                if !live {
                    conn.execute(DELETE, &[self.p(), Param::Text(key)])?;
                }
                return Ok(Applied::new(!live, None));
            }
        };
        let wrote = !conn
            .query(
                SET_IF_NOT_EXISTS,
                &[
                    self.p(),
                    Param::Text(key),
                    Param::Text(value),
                    expiry.into(),
                    Param::Int(now),
                ],
            )?
            .is_empty();
        Ok(Applied::new(wrote, expiry.filter(|_| wrote)))
    }

    /// Removes the cache entry of `key`; a no-op if absent. Lists, locks and
    /// queues under the same string are untouched.
    pub fn delete(&self, conn: &mut dyn SqlConn, key: &str) -> Result<()> {
        conn.execute(DELETE, &[self.p(), Param::Text(key)])
    }
}
