//! Lists: ordered JSON values with one expiry for the whole list.
//!
//! A list is a metadata row (expiry, next sequence number, length) plus one
//! row per value. Values of a list are contiguous in sequence order, so
//! trimming the oldest is one range delete and an append writes the same
//! few rows whether the list holds one value or ten thousand.

use super::{check_key, take_i64, take_opt_i64, take_text, Applied, Engine};
use crate::error::Result;
use crate::limits::{check_bound, check_value, expiry_after};
use crate::sql::{Param, SqlConn};
use crate::types::ListOptions;

const META: &str = "SELECT expires_at, next_seq, len FROM cs_lists WHERE prefix = ?1 AND key = ?2";
const DROP_ITEMS: &str = "DELETE FROM cs_list_items WHERE prefix = ?1 AND key = ?2";
const DROP_META: &str = "DELETE FROM cs_lists WHERE prefix = ?1 AND key = ?2";
const PUSH: &str = "INSERT INTO cs_list_items (prefix, key, seq, value) VALUES (?1, ?2, ?3, ?4)";
const TRIM: &str = "DELETE FROM cs_list_items WHERE prefix = ?1 AND key = ?2 AND seq <= ?3";
const PUT_META: &str = "INSERT INTO cs_lists (prefix, key, expires_at, next_seq, len)
    VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (prefix, key) DO UPDATE
        SET expires_at = excluded.expires_at, next_seq = excluded.next_seq, len = excluded.len";
const READ: &str = "SELECT i.value FROM cs_lists m
    JOIN cs_list_items i ON i.prefix = m.prefix AND i.key = m.key
    WHERE m.prefix = ?1 AND m.key = ?2 AND (m.expires_at IS NULL OR m.expires_at > ?3)
    ORDER BY i.seq";

struct Meta {
    expires_at: Option<i64>,
    next_seq: i64,
    len: i64,
}

impl Engine {
    /// Appends `value` (JSON text) at the tail of the list `key`, as one
    /// atomic step:
    ///
    /// 1. a list that exists but has expired is discarded, values and expiry;
    /// 2. the value is pushed;
    /// 3. with `max_length > 0`, only the newest `max_length` values stay (the
    ///    new one always does);
    /// 4. `ttl_ms > 0` sets the whole list to expire `ttl_ms` from now; a
    ///    negative TTL ends the list now, new value included; `None` or zero
    ///    keeps the list's expiry (a new list gets none).
    pub fn append_to_list(
        &self,
        conn: &mut dyn SqlConn,
        key: &str,
        value: &str,
        options: ListOptions,
    ) -> Result<Applied<()>> {
        const METHOD: &str = "appendToList";
        check_key(METHOD, key)?;
        check_value(METHOD, key, value)?;
        let max_length = options.max_length.unwrap_or(0);
        check_bound(METHOD, "maxLength", max_length)?;
        let now = self.now();
        let k = Param::Text(key);

        let meta = conn.query(META, &[self.p(), k])?.into_iter().next();
        let meta = match meta {
            Some(mut row) => Some(Meta {
                expires_at: take_opt_i64(&mut row, 0, METHOD)?,
                next_seq: take_i64(&mut row, 1, METHOD)?,
                len: take_i64(&mut row, 2, METHOD)?,
            }),
            None => None,
        };

        let ttl = options.ttl_ms.unwrap_or(0);
        if ttl < 0 {
            // The list dies now, the new value with it: nothing to keep.
            if meta.is_some() {
                conn.execute(DROP_ITEMS, &[self.p(), k])?;
                conn.execute(DROP_META, &[self.p(), k])?;
            }
            return Ok(Applied::new((), None));
        }

        // Fresh start: a dead list is discarded before the push.
        let live = match meta {
            Some(m) if m.expires_at.is_none_or(|at| at > now) => Some(m),
            Some(_) => {
                conn.execute(DROP_ITEMS, &[self.p(), k])?;
                None
            }
            None => None,
        };
        let (seq, mut len, old_expiry) = match live {
            Some(m) => (m.next_seq, m.len + 1, m.expires_at),
            None => (0, 1, None),
        };

        conn.execute(PUSH, &[self.p(), k, Param::Int(seq), Param::Text(value)])?;
        if max_length > 0 && len > max_length {
            conn.execute(TRIM, &[self.p(), k, Param::Int(seq - max_length)])?;
            len = max_length;
        }

        let expiry = if ttl > 0 {
            Some(expiry_after(now, ttl))
        } else {
            old_expiry
        };
        conn.execute(
            PUT_META,
            &[
                self.p(),
                k,
                expiry.into(),
                Param::Int(seq + 1),
                Param::Int(len),
            ],
        )?;
        Ok(Applied::new((), expiry))
    }

    /// The values of the list `key` as JSON text, oldest first; empty when
    /// the list is missing or expired.
    pub fn get_list(&self, conn: &mut dyn SqlConn, key: &str) -> Result<Vec<String>> {
        let now = self.now();
        conn.query(READ, &[self.p(), Param::Text(key), Param::Int(now)])?
            .into_iter()
            .map(|mut row| take_text(&mut row, 0, "getList"))
            .collect()
    }
}
