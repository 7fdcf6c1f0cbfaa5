//! [`SqlConn`] over a rusqlite connection, with statement counters.

use std::sync::atomic::{AtomicU64, Ordering};

use chat_state::sql::{Cell, Param, Row, SqlConn};
use chat_state::{Error, Result};
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, StatementStatus, ToSql};

/// Work done by the statements an adapter ran, summed since it was created.
///
/// SQLite counts virtual-machine steps and full-scan steps per statement;
/// they measure how much a statement examined, independent of the machine's
/// speed. A full-scan step means a table was read without an index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatementStats {
    /// Statements executed.
    pub statements: u64,
    /// Virtual-machine steps over all statements.
    pub vm_steps: u64,
    /// Steps of full table or index scans over all statements.
    pub fullscan_steps: u64,
    /// Rows returned to the engine.
    pub rows_returned: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    statements: AtomicU64,
    vm_steps: AtomicU64,
    fullscan_steps: AtomicU64,
    rows_returned: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> StatementStats {
        StatementStats {
            statements: self.statements.load(Ordering::Relaxed),
            vm_steps: self.vm_steps.load(Ordering::Relaxed),
            fullscan_steps: self.fullscan_steps.load(Ordering::Relaxed),
            rows_returned: self.rows_returned.load(Ordering::Relaxed),
        }
    }
}

/// A bound parameter in the form rusqlite accepts.
struct Bind<'a>(Param<'a>);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Param::Null => ToSqlOutput::Owned(SqlValue::Null),
            Param::Int(v) => ToSqlOutput::Owned(SqlValue::Integer(v)),
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

fn cell(value: ValueRef<'_>) -> Cell {
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(v) => Cell::Int(v),
        ValueRef::Real(v) => Cell::Real(v),
        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
    }
}

pub(crate) fn storage_error(operation: &'static str, err: rusqlite::Error) -> Error {
    let busy = matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    Error::Storage {
        operation,
        source: Box::new(err),
        retryable: busy,
        overloaded: false,
    }
}

/// The engine's [`SqlConn`] over a rusqlite connection.
///
/// Statements run in whatever transaction the connection is in: pass a
/// `rusqlite::Transaction` (it dereferences to a connection) to make an
/// engine call atomic. Prepared statements are cached on the connection.
pub struct Conn<'a> {
    conn: &'a Connection,
    counters: Option<&'a Counters>,
}

impl<'a> Conn<'a> {
    /// A view of `conn` for the engine, e.g. for tools and tests that run
    /// [`chat_state::Engine`] or [`chat_state::wire::dispatch`] directly.
    pub fn new(conn: &'a Connection) -> Self {
        Self {
            conn,
            counters: None,
        }
    }

    pub(crate) fn counted(conn: &'a Connection, counters: &'a Counters) -> Self {
        Self {
            conn,
            counters: Some(counters),
        }
    }
}

impl SqlConn for Conn<'_> {
    fn query(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let fail = |e| storage_error("statement", e);
        let mut stmt = self.conn.prepare_cached(sql).map_err(fail)?;
        let binds: Vec<Bind<'_>> = params.iter().copied().map(Bind).collect();
        let columns = stmt.column_count();
        let mut out = Vec::new();
        {
            let mut rows = stmt
                .query(rusqlite::params_from_iter(binds.iter()))
                .map_err(fail)?;
            while let Some(row) = rows.next().map_err(fail)? {
                let mut cells = Vec::with_capacity(columns);
                for i in 0..columns {
                    cells.push(cell(row.get_ref(i).map_err(fail)?));
                }
                out.push(cells);
            }
        }
        if let Some(c) = self.counters {
            c.statements.fetch_add(1, Ordering::Relaxed);
            c.rows_returned
                .fetch_add(out.len() as u64, Ordering::Relaxed);
            let steps = stmt.reset_status(StatementStatus::VmStep);
            let scans = stmt.reset_status(StatementStatus::FullscanStep);
            c.vm_steps
                .fetch_add(u64::try_from(steps).unwrap_or(0), Ordering::Relaxed);
            c.fullscan_steps
                .fetch_add(u64::try_from(scans).unwrap_or(0), Ordering::Relaxed);
        }
        Ok(out)
    }
}
