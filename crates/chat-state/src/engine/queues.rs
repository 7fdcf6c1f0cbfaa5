//! Queues: per-key FIFOs of entries that each carry their own expiry.
//!
//! # Concurrency
//!
//! A dequeue selects and deletes the oldest live entry inside one call, so
//! concurrent dequeues never return the same entry, and none returns `None`
//! while a live entry exists.

use super::{check_key, first_i64, take_i64, take_text, Applied, Engine};
use crate::error::{Error, Result};
use crate::limits::{check_bound, check_timestamp, check_value};
use crate::sql::{Param, SqlConn};

// The new entry's seq is one past the largest still stored for the key, so
// enqueue order is seq order.
//
// Statements that select one queue's rows write `+expires_at`: the unary
// plus keeps SQLite's planner from choosing the table-wide expiry index
// over the primary key when statistics make expired rows look rare, which
// would make the cost of a call grow with other queues' entries.
const PUSH: &str = "INSERT INTO cs_queue (prefix, key, seq, enqueued_at, expires_at, entry)
    SELECT ?1, ?2, COALESCE(MAX(seq), 0) + 1, ?3, ?4, ?5
    FROM cs_queue WHERE prefix = ?1 AND key = ?2";
// Drops live entries older than the newest ?4.
const TRIM: &str = "DELETE FROM cs_queue WHERE prefix = ?1 AND key = ?2 AND seq IN (
    SELECT seq FROM cs_queue
    WHERE prefix = ?1 AND key = ?2 AND +expires_at > ?3
    ORDER BY seq DESC LIMIT -1 OFFSET ?4)";
const DEPTH: &str = "SELECT COUNT(*) FROM cs_queue
    WHERE prefix = ?1 AND key = ?2 AND +expires_at > ?3";
const OLDEST_LIVE: &str = "SELECT seq, enqueued_at, expires_at, entry FROM cs_queue
    WHERE prefix = ?1 AND key = ?2 AND +expires_at > ?3
    ORDER BY seq LIMIT 1";
// Removes the entry being returned and the dead entries queued before it.
const TAKE: &str = "DELETE FROM cs_queue
    WHERE prefix = ?1 AND key = ?2 AND seq <= ?3 AND (seq = ?3 OR +expires_at <= ?4)";
const DROP_DEAD: &str = "DELETE FROM cs_queue
    WHERE prefix = ?1 AND key = ?2 AND +expires_at <= ?3";

/// A queue entry as stored: its two times as columns, and the entry's JSON
/// text exactly as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawQueueEntry {
    /// When the entry was enqueued, in Unix milliseconds.
    pub enqueued_at: i64,
    /// When the entry stops being live, in Unix milliseconds.
    pub expires_at: i64,
    /// The whole `QueueEntry` as JSON text.
    pub json: String,
}

impl Engine {
    /// Appends `entry` to the queue `key` and returns the number of live
    /// entries afterwards.
    ///
    /// An entry that is already dead is not stored and evicts nothing. With
    /// `max_size > 0`, the oldest live entries are dropped until at most
    /// `max_size` remain; the new entry always survives. Zero or negative
    /// means unbounded.
    pub fn enqueue(
        &self,
        conn: &mut dyn SqlConn,
        key: &str,
        entry: &RawQueueEntry,
        max_size: i64,
    ) -> Result<Applied<u64>> {
        const METHOD: &str = "enqueue";
        check_key(METHOD, key)?;
        check_value(METHOD, key, &entry.json)?;
        check_bound(METHOD, "maxSize", max_size)?;
        check_timestamp(METHOD, "enqueuedAt", entry.enqueued_at)?;
        check_timestamp(METHOD, "expiresAt", entry.expires_at)?;
        let now = self.now();
        let k = Param::Text(key);

        let stored = entry.expires_at > now;
        if stored {
            conn.execute(
                PUSH,
                &[
                    self.p(),
                    k,
                    Param::Int(entry.enqueued_at),
                    Param::Int(entry.expires_at),
                    Param::Text(&entry.json),
                ],
            )?;
        }
        let mut depth = self.depth(conn, key, now)?;
        // Trim only when over the bound, so a queue within it costs no
        // extra statement.
        if stored && max_size > 0 && depth > max_size as u64 {
            conn.execute(TRIM, &[self.p(), k, Param::Int(now), Param::Int(max_size)])?;
            depth = max_size as u64;
        }
        Ok(Applied::new(depth, stored.then_some(entry.expires_at)))
    }

    /// Removes and returns the oldest live entry of the queue `key`, or
    /// `None`. Dead entries met on the way are removed and never returned.
    pub fn dequeue(&self, conn: &mut dyn SqlConn, key: &str) -> Result<Option<RawQueueEntry>> {
        const METHOD: &str = "dequeue";
        let now = self.now();
        let k = Param::Text(key);
        let Some(mut row) = conn
            .query(OLDEST_LIVE, &[self.p(), k, Param::Int(now)])?
            .into_iter()
            .next()
        else {
            conn.execute(DROP_DEAD, &[self.p(), k, Param::Int(now)])?;
            return Ok(None);
        };
        let seq = take_i64(&mut row, 0, METHOD)?;
        let entry = RawQueueEntry {
            enqueued_at: take_i64(&mut row, 1, METHOD)?,
            expires_at: take_i64(&mut row, 2, METHOD)?,
            json: take_text(&mut row, 3, METHOD)?,
        };
        conn.execute(TAKE, &[self.p(), k, Param::Int(seq), Param::Int(now)])?;
        Ok(Some(entry))
    }

    /// The number of live entries in the queue `key`; zero if unknown.
    pub fn queue_depth(&self, conn: &mut dyn SqlConn, key: &str) -> Result<u64> {
        let now = self.now();
        self.depth(conn, key, now)
    }

    fn depth(&self, conn: &mut dyn SqlConn, key: &str, now: i64) -> Result<u64> {
        let rows = conn.query(DEPTH, &[self.p(), Param::Text(key), Param::Int(now)])?;
        let count = first_i64(&rows)
            .ok_or_else(|| Error::storage("queueDepth", "COUNT(*) returned no integer"))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
