use chat_state::sql::{Cell, Param, Row, SqlConn};
use chat_state::wire::Cost;
use chat_state::{Error, Result};
use worker::{SqlStorage, SqlStorageValue};

/// The engine's view of `ctx.storage.sql`, counting rows as the platform
/// bills them.
pub(crate) struct DoSql<'a> {
    sql: &'a SqlStorage,
    pub(crate) cost: Cost,
}

impl<'a> DoSql<'a> {
    pub(crate) fn new(sql: &'a SqlStorage) -> Self {
        Self {
            sql,
            cost: Cost::default(),
        }
    }
}

fn bind(p: &Param<'_>) -> SqlStorageValue {
    match *p {
        Param::Null => SqlStorageValue::Null,
        Param::Int(v) => SqlStorageValue::Integer(v),
        Param::Text(s) => SqlStorageValue::String(s.to_owned()),
    }
}

fn cell(v: SqlStorageValue) -> Cell {
    match v {
        SqlStorageValue::Null => Cell::Null,
        SqlStorageValue::Boolean(b) => Cell::Int(i64::from(b)),
        SqlStorageValue::Integer(i) => Cell::Int(i),
        SqlStorageValue::Float(f) => Cell::Real(f),
        SqlStorageValue::String(s) => Cell::Text(s),
        SqlStorageValue::Blob(b) => Cell::Blob(b),
    }
}

pub(crate) fn storage_error(operation: &'static str, e: worker::Error) -> Error {
    Error::storage(operation, e.to_string())
}

impl SqlConn for DoSql<'_> {
    fn query(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let binds: Vec<SqlStorageValue> = params.iter().map(bind).collect();
        let cursor = self.sql.exec(sql, binds).map_err(|e| {
            // Name the statement: the platform's message does not.
            let head: String = sql.split_whitespace().take(6).collect::<Vec<_>>().join(" ");
            Error::storage("sql", format!("{e} (in `{head} …`)"))
        })?;
        let mut rows = Vec::new();
        for row in cursor.raw() {
            let row = row.map_err(|e| storage_error("sql", e))?;
            rows.push(row.into_iter().map(cell).collect());
        }
        self.cost.rows_read += cursor.rows_read() as u64;
        self.cost.rows_written += cursor.rows_written() as u64;
        Ok(rows)
    }
}
