//! Schema step 2: taking over the data of the original TypeScript package.
//!
//! A bot that replaces the original `ChatStateDO` with ours keeps the class
//! name and binding, so our code wakes inside objects whose SQLite holds the
//! original's tables (contract §7). This step copies whatever is still live
//! there into our tables, once, inside the migration's transaction:
//!
//! | original table | taken over into | what is copied |
//! |---|---|---|
//! | `subscriptions` | `cs_subscriptions` | every row |
//! | `locks` | `cs_locks` | live leases with their tokens and expiries |
//! | `cache` | `cs_kv` | live keys with their expiries (`NULL`: none) |
//! | `queue` | `cs_queue` | live entries, in `id` order per thread |
//! | `lists` | `cs_lists`, `cs_list_items` | live elements, in `id` order per key |
//!
//! Each copy is one set-based `INSERT … SELECT` that binds only the prefix
//! and `now`, so it stays far below the 100-parameter limit and needs no
//! loop over rows. Values are copied verbatim, corrupt JSON included: our
//! readers already cope with text they cannot decode.
//!
//! # Lists
//!
//! The original gives each element its own expiry; ours has one expiry per
//! list. A taken-over list expires at the latest expiry among its live
//! elements, so no element disappears earlier than it would have. An
//! element stored without expiry never expires, so a list holding one has
//! no expiry at all. Elements get the contiguous sequence numbers
//! `0..len`, and the metadata row sets both `next_seq` and `len` to the
//! number of elements.
//!
//! # Existing data wins
//!
//! Nothing already in our tables is overwritten: cache keys, locks and
//! subscriptions are inserted with `ON CONFLICT DO NOTHING`, and a queue or
//! list that already has rows of ours is left out whole, so the original's
//! entries are never interleaved with newer ones. A repeated run is
//! therefore harmless, although it does not happen: the step is recorded as
//! schema version 2 in the same transaction, and a later wake skips it.
//!
//! # Rollback
//!
//! The original's tables are left as they are, so a rollback to the
//! original package finds its data. Whatever it writes after such a
//! rollback is not taken over again when our code returns.
//!
//! # Foreign tables
//!
//! The engine also runs on plain SQLite files that may hold other
//! applications' tables called `cache` or `lists`. Tables are taken over
//! only when the original's version table `_schema_version` exists too, and
//! only if their definition names every column the copy reads; anything else
//! is left alone with a warning rather than failing the migration.

use std::mem;

use tracing::{debug, info, warn};

use super::Engine;
use crate::error::Result;
use crate::sql::{Cell, Param, SqlConn};

/// The original's version table: its presence marks the original's data.
const MARKER: &str = "_schema_version";

const DISCOVER: &str = "SELECT name, sql FROM sqlite_master WHERE type = 'table'
    AND name IN ('_schema_version', 'subscriptions', 'locks', 'cache', 'queue', 'lists')";

// Rows of ours under the prefix, one column per kind (`KINDS` of them, in
// the order logged). Read before and after the copies, so the log reports
// what was actually inserted.
const COUNT_OURS: &str = "SELECT
    (SELECT COUNT(*) FROM cs_subscriptions WHERE prefix = ?1),
    (SELECT COUNT(*) FROM cs_locks WHERE prefix = ?1),
    (SELECT COUNT(*) FROM cs_kv WHERE prefix = ?1),
    (SELECT COUNT(*) FROM cs_queue WHERE prefix = ?1),
    (SELECT COUNT(*) FROM cs_lists WHERE prefix = ?1),
    (SELECT COUNT(*) FROM cs_list_items WHERE prefix = ?1)";
const KINDS: usize = 6;

// Each copy binds ?1 = prefix and, except for subscriptions, which never
// expire, ?2 = now. Every SELECT has a WHERE clause, which SQLite needs to
// parse the upsert that follows it. A TEXT primary key of the original
// admits NULL, which our NOT NULL columns do not, so NULL keys are left out
// rather than failing the step. Times are cast in case a writer stored
// them as reals, which our readers would refuse.
const COPY_SUBSCRIPTIONS: &str = "INSERT INTO cs_subscriptions (prefix, thread_id)
    SELECT ?1, thread_id FROM subscriptions WHERE thread_id IS NOT NULL
    ON CONFLICT DO NOTHING";
const COPY_LOCKS: &str = "INSERT INTO cs_locks (prefix, lock_key, token, expires_at)
    SELECT ?1, thread_id, token, CAST(expires_at AS INTEGER) FROM locks
    WHERE thread_id IS NOT NULL AND token IS NOT NULL AND expires_at > ?2
    ON CONFLICT DO NOTHING";
const COPY_CACHE: &str = "INSERT INTO cs_kv (prefix, key, value, expires_at)
    SELECT ?1, key, value, CAST(expires_at AS INTEGER) FROM cache
    WHERE key IS NOT NULL AND value IS NOT NULL
        AND (expires_at IS NULL OR expires_at > ?2)
    ON CONFLICT DO NOTHING";
// Our enqueue numbers a queue from 1 upwards, and so does row_number().
// SQLite evaluates the whole SELECT before inserting when it reads the
// target table, so the NOT EXISTS sees only rows that were there before.
const COPY_QUEUE: &str = "INSERT INTO cs_queue (prefix, key, seq, enqueued_at, expires_at, entry)
    SELECT ?1, q.thread_id, q.seq, q.enqueued_at, q.expires_at, q.value FROM (
        SELECT thread_id, value,
            CAST(enqueued_at AS INTEGER) AS enqueued_at,
            CAST(expires_at AS INTEGER) AS expires_at,
            row_number() OVER (PARTITION BY thread_id ORDER BY id) AS seq
        FROM queue
        WHERE thread_id IS NOT NULL AND value IS NOT NULL AND enqueued_at IS NOT NULL
            AND expires_at > ?2
    ) AS q
    WHERE NOT EXISTS (SELECT 1 FROM cs_queue c WHERE c.prefix = ?1 AND c.key = q.thread_id)
    ON CONFLICT DO NOTHING";
// Elements first, numbered 0..len, for lists that have no metadata row of
// ours yet; then one metadata row per list. The live-row filter is the
// same in both, so the counts match the numbering.
const COPY_LIST_ITEMS: &str = "INSERT INTO cs_list_items (prefix, key, seq, value)
    SELECT ?1, l.key, l.seq, l.value FROM (
        SELECT key, value, row_number() OVER (PARTITION BY key ORDER BY id) - 1 AS seq
        FROM lists
        WHERE key IS NOT NULL AND value IS NOT NULL
            AND (expires_at IS NULL OR expires_at > ?2)
    ) AS l
    WHERE NOT EXISTS (SELECT 1 FROM cs_lists m WHERE m.prefix = ?1 AND m.key = l.key)
    ON CONFLICT DO NOTHING";
// COUNT(expires_at) skips NULLs: when it falls short of COUNT(*), some live
// element never expires, and neither does the list.
const COPY_LIST_META: &str = "INSERT INTO cs_lists (prefix, key, expires_at, next_seq, len)
    SELECT ?1, key,
        CASE WHEN COUNT(expires_at) = COUNT(*) THEN CAST(MAX(expires_at) AS INTEGER) END,
        COUNT(*), COUNT(*)
    FROM lists
    WHERE key IS NOT NULL AND value IS NOT NULL
        AND (expires_at IS NULL OR expires_at > ?2)
    GROUP BY key
    ON CONFLICT DO NOTHING";

/// One of the original's data tables, and how to copy it.
struct Source {
    table: &'static str,
    /// Columns the copy reads; a table lacking one is not the original's.
    columns: &'static [&'static str],
    copies: &'static [&'static str],
    /// Whether the copies bind `now` as `?2`.
    expires: bool,
}

const SOURCES: [Source; 5] = [
    Source {
        table: "subscriptions",
        columns: &["thread_id"],
        copies: &[COPY_SUBSCRIPTIONS],
        expires: false,
    },
    Source {
        table: "locks",
        columns: &["thread_id", "token", "expires_at"],
        copies: &[COPY_LOCKS],
        expires: true,
    },
    Source {
        table: "cache",
        columns: &["key", "value", "expires_at"],
        copies: &[COPY_CACHE],
        expires: true,
    },
    Source {
        table: "queue",
        columns: &["id", "thread_id", "value", "enqueued_at", "expires_at"],
        copies: &[COPY_QUEUE],
        expires: true,
    },
    Source {
        table: "lists",
        columns: &["id", "key", "value", "expires_at"],
        copies: &[COPY_LIST_ITEMS, COPY_LIST_META],
        expires: true,
    },
];

/// Whether the `CREATE TABLE` text names every column, as whole words.
fn declares(ddl: &str, columns: &[&str]) -> bool {
    let words: Vec<String> = ddl
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    columns.iter().all(|c| words.iter().any(|w| w == c))
}

impl Engine {
    /// Copies the original package's live data into our tables; see the
    /// module documentation. Runs as schema step 2, inside `migrate`'s
    /// transaction and with no await, like every other step.
    pub(super) fn take_over_original(&self, conn: &mut dyn SqlConn) -> Result<()> {
        let found: Vec<(String, String)> = conn
            .query(DISCOVER, &[])?
            .into_iter()
            .filter_map(|mut row| {
                let mut column = |i: usize| row.get_mut(i).map(|c| mem::replace(c, Cell::Null));
                let name = column(0)?.into_text()?;
                let ddl = column(1).and_then(Cell::into_text).unwrap_or_default();
                Some((name, ddl))
            })
            .collect();
        if !found.iter().any(|(name, _)| name == MARKER) {
            if found.is_empty() {
                debug!("no data of the original package to take over");
            } else {
                let tables: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
                warn!(
                    ?tables,
                    marker = MARKER,
                    "tables named like the original package's, but not its marker; left alone"
                );
            }
            return Ok(());
        }

        let mut copies = Vec::new();
        for source in &SOURCES {
            let Some((_, ddl)) = found.iter().find(|(name, _)| name == source.table) else {
                continue;
            };
            if declares(ddl, source.columns) {
                copies.extend(source.copies.iter().map(|&sql| (sql, source.expires)));
            } else {
                warn!(
                    table = source.table,
                    expected = ?source.columns,
                    "original table lacks columns; not taken over"
                );
            }
        }
        if copies.is_empty() {
            info!("the original package left no data tables; nothing to take over");
            return Ok(());
        }

        // The clock is read once: a row live for one copy is live for all.
        let now = self.now();
        let before = self.count_ours(conn)?;
        let with_now = [self.p(), Param::Int(now)];
        for (copy, expires) in copies {
            let params = if expires {
                &with_now[..]
            } else {
                &with_now[..1]
            };
            conn.execute(copy, params)?;
        }
        let after = self.count_ours(conn)?;
        let taken = |i: usize| after[i].saturating_sub(before[i]);
        info!(
            prefix = %self.prefix,
            now,
            subscriptions = taken(0),
            locks = taken(1),
            cache_keys = taken(2),
            queue_entries = taken(3),
            lists = taken(4),
            list_elements = taken(5),
            "took over the original package's live data"
        );
        Ok(())
    }

    fn count_ours(&self, conn: &mut dyn SqlConn) -> Result<[i64; KINDS]> {
        let rows = conn.query(COUNT_OURS, &[self.p()])?;
        let mut counts = [0; KINDS];
        if let Some(row) = rows.first() {
            for (count, cell) in counts.iter_mut().zip(row) {
                *count = cell.as_i64().unwrap_or(0);
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::declares;

    #[test]
    fn declares_matches_whole_column_names() {
        // Lower case, so the cost test's scan for engine statements skips it.
        let ddl = "create table cache (key TEXT PRIMARY KEY, value TEXT NOT NULL,
            expires_at INTEGER)";
        assert!(declares(ddl, &["key", "value", "expires_at"]));
        assert!(!declares(ddl, &["key", "token"]));
        assert!(!declares(
            "create table t (keys TEXT, expires_at_ms INTEGER)",
            &["key", "expires_at"]
        ));
        assert!(declares(
            "create table 'locks'('thread_id' TEXT,TOKEN TEXT,[expires_at] INT)",
            &["thread_id", "token", "expires_at"]
        ));
    }
}
