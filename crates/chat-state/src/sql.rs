//! The small synchronous SQL interface the engine runs on.
//!
//! A host implements [`SqlConn`] once for the SQLite it has, and the engine
//! never learns which one that is. The interface is deliberately narrow: run
//! one statement with bound parameters and hand back every row. Cursors are
//! consumed before the call returns, which is also what Durable Object
//! storage requires of code that later awaits.
//!
//! The host decides the transaction: the native home wraps each engine call
//! in `BEGIN IMMEDIATE … COMMIT`; a Durable Object relies on its implicit
//! atomicity, and the engine does every check that can fail before its first
//! write.

use crate::error::Result;

/// A parameter bound to a statement. Values are always bound, never inlined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Param<'a> {
    /// SQL `NULL`.
    Null,
    /// A 64-bit integer.
    Int(i64),
    /// UTF-8 text.
    Text(&'a str),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Param::Null, Param::Int)
    }
}

/// One column of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point number. Some hosts report integers this way.
    Real(f64),
    /// Text.
    Text(String),
    /// A BLOB; the engine stores none, but a foreign writer might.
    Blob(Vec<u8>),
}

impl Cell {
    /// The cell as an integer, accepting integral reals.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Cell::Int(v) => Some(v),
            Cell::Real(v) if v.fract() == 0.0 && v.abs() < 9.3e18 => Some(v as i64),
            _ => None,
        }
    }

    /// The cell as text, taking it out of the row. BLOBs are read as UTF-8
    /// with invalid sequences replaced.
    pub fn into_text(self) -> Option<String> {
        match self {
            Cell::Text(s) => Some(s),
            Cell::Blob(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            _ => None,
        }
    }
}

/// A result row: its cells in select-list order.
pub type Row = Vec<Cell>;

/// A connection the engine can run statements on.
pub trait SqlConn {
    /// Runs one statement with `params` bound to `?1`, `?2`, … and returns
    /// every row it produced (none for statements without `RETURNING`).
    ///
    /// `sql` is always a `'static` string from the engine, so hosts may
    /// cache prepared statements by it.
    fn query(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<Vec<Row>>;

    /// Runs one statement and discards its rows.
    fn execute(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<()> {
        self.query(sql, params).map(drop)
    }
}

impl<C: SqlConn + ?Sized> SqlConn for &mut C {
    fn query(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        (**self).query(sql, params)
    }
}
