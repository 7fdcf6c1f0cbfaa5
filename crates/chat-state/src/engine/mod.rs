//! The storage engine: every contract operation as SQL over [`SqlConn`].
//!
//! The engine is synchronous and holds no connection. A host calls one
//! method per contract operation inside whatever transaction its SQLite
//! offers, and the engine reads the clock once per call. Values travel as
//! JSON text: the engine stores what it is given and never parses it, so the
//! Durable Object home does not pay for decoding message bodies it only
//! stores.
//!
//! # Cost
//!
//! Every statement is an index seek or a range over one key's rows: the
//! number of rows an operation touches never depends on how many other keys
//! exist. Expiries are indexed per table (cache, list metadata, queue,
//! locks), so the sweep and the next-expiry lookup are one seek per table. A
//! list keeps its expiry in one metadata row, so an append writes a constant
//! number of rows whatever the list's length.
//!
//! # Alarms
//!
//! Writes that store an expiry report it in [`Applied::expiry`], so a host
//! that keeps one cleanup alarm can move it earlier without reading
//! anything. [`Engine::purge_expired`] deletes what is due in bounded
//! batches and reports what to arm next. Lock rows are not reported: a lease
//! is reclaimed by the next acquire of its key or by any sweep, and arming an
//! alarm for every 30 s lease would cost more than the row it reclaims.

mod cache;
mod lists;
mod locks;
mod queues;
mod schema;
mod subscriptions;
mod sweep;
mod takeover;

use std::sync::Arc;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::sql::{Cell, Param, Row};

pub use queues::RawQueueEntry;
pub use schema::SCHEMA_VERSION;
pub use sweep::Purge;

/// The key prefix used when none is configured. Every primary key starts
/// with the prefix, so deployments that share one database stay apart.
pub const DEFAULT_KEY_PREFIX: &str = "chat-sdk";

/// The result of a write, with the expiry it stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied<T> {
    /// What the operation returns to its caller.
    pub value: T,
    /// The expiry this write stored on a cache key, list or queue entry, if
    /// any and if it lies in the future. A host keeping one cleanup alarm
    /// arms it no later than this (plus its coalescing window).
    pub expiry: Option<i64>,
}

impl<T> Applied<T> {
    fn new(value: T, expiry: Option<i64>) -> Self {
        Self { value, expiry }
    }
}

/// The contract's operations over SQL, independent of which SQLite runs them.
///
/// Cheap to clone; clones share the clock.
#[derive(Debug, Clone)]
pub struct Engine {
    clock: Arc<dyn Clock>,
    prefix: Arc<str>,
}

impl Engine {
    /// An engine that reads time from `clock` and stores keys under the
    /// default prefix.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            prefix: Arc::from(DEFAULT_KEY_PREFIX),
        }
    }

    /// Returns the engine with keys stored under `prefix`. An empty prefix
    /// means the default.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = Arc::from(if prefix.is_empty() {
            DEFAULT_KEY_PREFIX
        } else {
            prefix
        });
        self
    }

    /// The key prefix in use.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The engine's clock, read once per operation.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    fn p(&self) -> Param<'_> {
        Param::Text(&self.prefix)
    }
}

/// Reads the first column of the first row as an integer.
fn first_i64(rows: &[Row]) -> Option<i64> {
    rows.first().and_then(|r| r.first()).and_then(Cell::as_i64)
}

/// Takes a column out of a row, failing with a storage error that names the
/// statement if the host returned fewer columns than selected.
fn take(row: &mut Row, index: usize, operation: &'static str) -> Result<Cell> {
    row.get_mut(index)
        .map(|c| std::mem::replace(c, Cell::Null))
        .ok_or_else(|| Error::storage(operation, format!("result row lacks column {index}")))
}

fn take_i64(row: &mut Row, index: usize, operation: &'static str) -> Result<i64> {
    let cell = take(row, index, operation)?;
    cell.as_i64().ok_or_else(|| {
        Error::storage(
            operation,
            format!("column {index} is {cell:?}, not an integer"),
        )
    })
}

fn take_opt_i64(row: &mut Row, index: usize, operation: &'static str) -> Result<Option<i64>> {
    match take(row, index, operation)? {
        Cell::Null => Ok(None),
        cell => cell.as_i64().map(Some).ok_or_else(|| {
            Error::storage(
                operation,
                format!("column {index} is {cell:?}, not an integer"),
            )
        }),
    }
}

fn take_text(row: &mut Row, index: usize, operation: &'static str) -> Result<String> {
    let cell = take(row, index, operation)?;
    match cell {
        Cell::Text(_) | Cell::Blob(_) => Ok(cell.into_text().unwrap_or_default()),
        // A foreign writer may have stored a number or NULL where text
        // belongs; hand back its JSON spelling so readers can still decode it.
        Cell::Int(v) => Ok(v.to_string()),
        Cell::Real(v) => Ok(v.to_string()),
        Cell::Null => Ok("null".to_owned()),
    }
}

/// Checks a lock key, thread id, cache key or list key before a write.
fn check_key(method: &'static str, key: &str) -> Result<()> {
    crate::limits::check_key(method, key)
}
