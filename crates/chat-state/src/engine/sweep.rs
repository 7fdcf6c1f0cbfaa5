//! Physical removal of expired rows, and the next expiry to arm for.
//!
//! Reads never depend on the sweep: expired rows are invisible whether or
//! not they still exist. The sweep only reclaims storage, in bounded batches
//! so that one run never holds the database for long.

use tracing::debug;

use super::{first_i64, take_text, Engine};
use crate::error::Result;
use crate::sql::{Param, SqlConn};

const PURGE_KV: &str = "DELETE FROM cs_kv WHERE (prefix, key) IN (
    SELECT prefix, key FROM cs_kv
    WHERE expires_at IS NOT NULL AND expires_at <= ?1
    ORDER BY expires_at LIMIT ?2)
    RETURNING 1";
const PURGE_QUEUE: &str = "DELETE FROM cs_queue WHERE (prefix, key, seq) IN (
    SELECT prefix, key, seq FROM cs_queue
    WHERE expires_at <= ?1
    ORDER BY expires_at LIMIT ?2)
    RETURNING 1";
const PURGE_LOCKS: &str = "DELETE FROM cs_locks WHERE (prefix, lock_key) IN (
    SELECT prefix, lock_key FROM cs_locks
    WHERE expires_at <= ?1
    ORDER BY expires_at LIMIT ?2)
    RETURNING 1";
const DEAD_LISTS: &str = "SELECT prefix, key FROM cs_lists
    WHERE expires_at IS NOT NULL AND expires_at <= ?1
    ORDER BY expires_at LIMIT ?2";
const PURGE_LIST_ITEMS: &str = "DELETE FROM cs_list_items WHERE prefix = ?1 AND key = ?2
    RETURNING 1";
const PURGE_LIST_META: &str = "DELETE FROM cs_lists WHERE prefix = ?1 AND key = ?2";

const MIN_KV: &str = "SELECT MIN(expires_at) FROM cs_kv WHERE expires_at IS NOT NULL";
const MIN_LISTS: &str = "SELECT MIN(expires_at) FROM cs_lists WHERE expires_at IS NOT NULL";
const MIN_QUEUE: &str = "SELECT MIN(expires_at) FROM cs_queue";

/// What a sweep did and what it leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Purge {
    /// Rows deleted, over all tables.
    pub deleted: u64,
    /// A table had more expired rows than the batch bound: call again soon.
    pub more_due: bool,
    /// The earliest expiry among the cache, list and queue rows that remain,
    /// if any. Never at or before `now`: when rows that are already due
    /// remain (see `more_due`), this is `now + 1`.
    pub next_expiry: Option<i64>,
}

impl Engine {
    /// Deletes up to `batch` expired rows from each table (all key prefixes)
    /// and reports the next expiry to arm a cleanup for.
    ///
    /// Each table is swept through its expiry index, so a run reads what it
    /// deletes plus one index seek per table. A list counts as one unit of
    /// the batch together with all of its values.
    pub fn purge_expired(&self, conn: &mut dyn SqlConn, now: i64, batch: u32) -> Result<Purge> {
        let limit = Param::Int(i64::from(batch.max(1)));
        let bound = u64::from(batch.max(1));
        let now_p = Param::Int(now);
        let mut purge = Purge::default();

        let kv = conn.query(PURGE_KV, &[now_p, limit])?.len() as u64;
        let queue = conn.query(PURGE_QUEUE, &[now_p, limit])?.len() as u64;
        let locks = conn.query(PURGE_LOCKS, &[now_p, limit])?.len() as u64;
        let lists = conn.query(DEAD_LISTS, &[now_p, limit])?;
        let list_count = lists.len() as u64;
        let mut list_rows = 0;
        for mut row in lists {
            let prefix = take_text(&mut row, 0, "purge")?;
            let key = take_text(&mut row, 1, "purge")?;
            let keys = [Param::Text(&prefix), Param::Text(&key)];
            list_rows += conn.query(PURGE_LIST_ITEMS, &keys)?.len() as u64;
            conn.execute(PURGE_LIST_META, &keys)?;
        }

        purge.deleted = kv + queue + locks + list_count + list_rows;
        purge.more_due = kv == bound || queue == bound || locks == bound || list_count == bound;
        purge.next_expiry = self
            .next_expiry(conn)?
            .map(|at| if at <= now { now + 1 } else { at });
        debug!(deleted = purge.deleted, more_due = purge.more_due, next = ?purge.next_expiry, "purged expired rows");
        Ok(purge)
    }

    /// The earliest expiry among cache keys, lists and queue entries,
    /// overdue ones included: one index seek per table. Lock leases are not
    /// included (see the module docs).
    pub fn next_expiry(&self, conn: &mut dyn SqlConn) -> Result<Option<i64>> {
        let mut next: Option<i64> = None;
        for sql in [MIN_KV, MIN_LISTS, MIN_QUEUE] {
            if let Some(at) = first_i64(&conn.query(sql, &[])?) {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        Ok(next)
    }
}
