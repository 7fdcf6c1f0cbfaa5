//! The schema, its version table and forward migrations.
//!
//! Tables are named `cs_*` so they never collide with tables another
//! adapter left in the same database. Every primary key leads with the key
//! prefix. Migrations are additive only (new tables, columns and indexes),
//! so code of the previous release keeps working on a newer schema after a
//! rollback.
//!
//! Version 2 changes no table: it takes over the live data that the original
//! TypeScript package left in its own tables (see `takeover`), which stay in
//! place for a rollback to that package.

use tracing::{debug, info, warn};

use super::{first_i64, Engine};
use crate::error::Result;
use crate::sql::{Param, SqlConn};

/// The schema version this engine creates and expects.
pub const SCHEMA_VERSION: i64 = 2;

/// One forward migration step.
enum Step {
    /// Statements run in order.
    Sql(&'static [&'static str]),
    /// Code that runs its own statements, for a step whose work depends on
    /// what the database holds.
    Run(fn(&Engine, &mut dyn SqlConn) -> Result<()>),
}

/// The migration steps; step `i` brings the schema from version `i` to
/// `i + 1`.
const MIGRATIONS: &[Step] = &[
    Step::Sql(V1_TABLES),
    // No schema change: the live data of the original TypeScript package,
    // if its tables are present, is copied into ours (contract §7).
    Step::Run(Engine::take_over_original),
];

/// Version 1: our tables and their expiry indexes.
const V1_TABLES: &[&str] = &[
    // Membership only: the primary key is the whole row.
    "CREATE TABLE IF NOT EXISTS cs_subscriptions (
        prefix TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        PRIMARY KEY (prefix, thread_id)
    ) WITHOUT ROWID",
    // One row per lock key. A lease is live while expires_at > now.
    "CREATE TABLE IF NOT EXISTS cs_locks (
        prefix TEXT NOT NULL,
        lock_key TEXT NOT NULL,
        token TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (prefix, lock_key)
    ) WITHOUT ROWID",
    // Serves the sweep of abandoned leases (holders that never released).
    "CREATE INDEX IF NOT EXISTS cs_locks_expiry ON cs_locks (expires_at)",
    // One JSON value per key; expires_at NULL means no expiry.
    "CREATE TABLE IF NOT EXISTS cs_kv (
        prefix TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        expires_at INTEGER,
        PRIMARY KEY (prefix, key)
    ) WITHOUT ROWID",
    // Partial: keys without expiry (thread state, installations) cost no
    // index entry. Serves the sweep and the next-expiry seek.
    "CREATE INDEX IF NOT EXISTS cs_kv_expiry ON cs_kv (expires_at)
        WHERE expires_at IS NOT NULL",
    // One metadata row per list: the whole-list expiry, the next sequence
    // number and the length. Items are contiguous in
    // [next_seq - len, next_seq), so trimming is one range delete.
    "CREATE TABLE IF NOT EXISTS cs_lists (
        prefix TEXT NOT NULL,
        key TEXT NOT NULL,
        expires_at INTEGER,
        next_seq INTEGER NOT NULL,
        len INTEGER NOT NULL,
        PRIMARY KEY (prefix, key)
    ) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS cs_lists_expiry ON cs_lists (expires_at)
        WHERE expires_at IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS cs_list_items (
        prefix TEXT NOT NULL,
        key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (prefix, key, seq)
    ) WITHOUT ROWID",
    // Queue entries in enqueue order (seq) with their own expiry; entry is
    // the QueueEntry JSON exactly as the client sent it.
    "CREATE TABLE IF NOT EXISTS cs_queue (
        prefix TEXT NOT NULL,
        key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        enqueued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        entry TEXT NOT NULL,
        PRIMARY KEY (prefix, key, seq)
    ) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS cs_queue_expiry ON cs_queue (expires_at)",
];

const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS cs_schema (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
)";
const READ_VERSION: &str = "SELECT version FROM cs_schema WHERE id = 1";
const WRITE_VERSION: &str = "INSERT INTO cs_schema (id, version) VALUES (1, ?1)
    ON CONFLICT (id) DO UPDATE SET version = excluded.version";

impl Engine {
    /// Brings the schema up to [`SCHEMA_VERSION`] and returns the version
    /// found before. Idempotent: on an up-to-date database it reads one row.
    ///
    /// Run it inside one transaction (or, on a Durable Object, with no
    /// `await` before it completes) so that a failed step leaves the previous
    /// version intact and the next call redoes it.
    pub fn migrate(&self, conn: &mut dyn SqlConn) -> Result<i64> {
        conn.execute(CREATE_VERSION_TABLE, &[])?;
        let found = first_i64(&conn.query(READ_VERSION, &[])?).unwrap_or(0);
        if found > SCHEMA_VERSION {
            // A newer release migrated this database and was rolled back.
            // Migrations are additive, so this code still works on it.
            warn!(
                found,
                supported = SCHEMA_VERSION,
                "schema is newer than this engine"
            );
            return Ok(found);
        }
        for (step, migration) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
            match migration {
                Step::Sql(statements) => {
                    for statement in *statements {
                        conn.execute(statement, &[])?;
                    }
                }
                Step::Run(run) => run(self, conn)?,
            }
            let version = step as i64 + 1;
            conn.execute(WRITE_VERSION, &[Param::Int(version)])?;
            info!(version, "schema migrated");
        }
        debug!(found, current = SCHEMA_VERSION, "schema checked");
        Ok(found)
    }
}
