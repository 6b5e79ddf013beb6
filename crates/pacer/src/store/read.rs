//! The store's reads of events: one statement text and one row mapping for both backends.
//!
//! PostgreSQL reads through sqlx. SQLite reads through rusqlite connections of its own,
//! each statement run on tokio's blocking pool: through sqlx's `Any` driver every row
//! crossed from sqlx's SQLite thread to the runtime and was copied into an `AnyRow` before
//! it was read, and a 10,000-service report spent 1.8 s of its 2-2.9 s there (the same
//! statements take ~0.8 s in SQLite itself; docs/benchmarks.md).

use super::StoreError;
use futures_util::TryStreamExt;
use rusqlite::{Connection, OpenFlags};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, AssertSqlSafe, Row};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// A value bound to a statement.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Int(i64),
    Text(String),
}

/// A statement with `$1, $2, ...` placeholders and the values they stand for, in number
/// order. A number may appear more than once, and in any order, in the text.
#[derive(Debug, Clone)]
pub(super) struct Statement {
    sql: String,
    binds: Vec<Value>,
}

impl Statement {
    pub(super) fn new(sql: impl Into<String>) -> Self {
        Statement {
            sql: sql.into(),
            binds: Vec::new(),
        }
    }

    pub(super) fn int(mut self, v: i64) -> Self {
        self.binds.push(Value::Int(v));
        self
    }

    pub(super) fn text(mut self, v: impl Into<String>) -> Self {
        self.binds.push(Value::Text(v.into()));
        self
    }

    pub(super) fn texts(mut self, values: &[String]) -> Self {
        self.binds.extend(values.iter().cloned().map(Value::Text));
        self
    }
}

/// A result row's columns by name, whichever driver read it.
pub(super) trait Columns {
    fn int(&self, name: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, name: &str) -> Result<Option<i64>, StoreError>;
    fn text(&self, name: &str) -> Result<String, StoreError>;
    fn opt_text(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn opt_real(&self, name: &str) -> Result<Option<f64>, StoreError>;
}

impl Columns for AnyRow {
    fn int(&self, name: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(name)?)
    }
    fn opt_int(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(name)?)
    }
    fn text(&self, name: &str) -> Result<String, StoreError> {
        Ok(self.try_get(name)?)
    }
    fn opt_text(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(name)?)
    }
    fn opt_real(&self, name: &str) -> Result<Option<f64>, StoreError> {
        Ok(self.try_get(name)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn int(&self, name: &str) -> Result<i64, StoreError> {
        Ok(self.get(name)?)
    }
    fn opt_int(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.get(name)?)
    }
    fn text(&self, name: &str) -> Result<String, StoreError> {
        Ok(self.get(name)?)
    }
    fn opt_text(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get(name)?)
    }
    fn opt_real(&self, name: &str) -> Result<Option<f64>, StoreError> {
        Ok(self.get(name)?)
    }
}

/// Where the store's event reads run.
#[derive(Clone)]
pub(super) enum Reader {
    Sqlx(AnyPool),
    Sqlite(Arc<SqliteReaders>),
}

impl Reader {
    /// Runs `statement` and maps each row as it arrives (holding a whole result set of
    /// driver rows costs several times the memory of the events).
    pub(super) async fn rows<T, M>(
        &self,
        statement: Statement,
        map: M,
    ) -> Result<Vec<T>, StoreError>
    where
        T: Send + 'static,
        M: Fn(&dyn Columns) -> Result<T, StoreError> + Send + 'static,
    {
        match self {
            Reader::Sqlx(pool) => {
                let mut q = sqlx::query(AssertSqlSafe(statement.sql));
                for v in statement.binds {
                    q = match v {
                        Value::Int(i) => q.bind(i),
                        Value::Text(s) => q.bind(s),
                    };
                }
                let mut rows = q.fetch(pool);
                let mut out = Vec::new();
                while let Some(row) = rows.try_next().await? {
                    out.push(map(&row)?);
                }
                Ok(out)
            }
            Reader::Sqlite(readers) => readers.rows(statement, map).await,
        }
    }
}

/// Read-only rusqlite connections to one SQLite file, opened when first needed.
pub(super) struct SqliteReaders {
    path: PathBuf,
    pragmas: Vec<&'static str>,
    idle: Mutex<Vec<Connection>>,
    /// As many statements at once as there are connections: one per core.
    permits: Semaphore,
}

impl SqliteReaders {
    pub(super) fn new(path: PathBuf, pragmas: &[&'static str], connections: usize) -> Self {
        SqliteReaders {
            path,
            pragmas: pragmas.to_vec(),
            idle: Mutex::new(Vec::with_capacity(connections)),
            permits: Semaphore::new(connections),
        }
    }

    async fn rows<T, M>(
        self: &Arc<Self>,
        statement: Statement,
        map: M,
    ) -> Result<Vec<T>, StoreError>
    where
        T: Send + 'static,
        M: Fn(&dyn Columns) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| StoreError::ReadStopped(e.to_string()))?;
        let conn = self.idle.lock().expect("reader list").pop();
        let readers = Arc::clone(self);
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let conn = match conn {
                Some(c) => c,
                None => readers.open()?,
            };
            let result = run(&conn, &statement, map);
            Ok::<_, StoreError>((conn, result))
        })
        .await
        .map_err(|e| StoreError::ReadStopped(e.to_string()))??;
        self.idle.lock().expect("reader list").push(conn);
        result
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Read-write, as the writer's connection: a read-only one cannot take part in the
        // write-ahead log's shared memory everywhere. It never writes.
        for pragma in self.pragmas.iter().chain(&["PRAGMA query_only = ON"]) {
            conn.query_row(pragma, [], |_| Ok(()))
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(()),
                    e => Err(e),
                })?;
        }
        Ok(conn)
    }
}

fn run<T>(
    conn: &Connection,
    statement: &Statement,
    map: impl Fn(&dyn Columns) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(&statement.sql)?;
    // SQLite numbers `$n` parameters in the order they first appear. When that order is
    // 1, 2, 3, ... (nearly always), bind by position; otherwise find each name.
    let in_order = (1..=stmt.parameter_count()).all(|i| {
        stmt.parameter_name(i)
            .is_some_and(|n| n[1..] == i.to_string())
    });
    for (i, v) in statement.binds.iter().enumerate() {
        let index = if in_order {
            (i < stmt.parameter_count()).then_some(i + 1)
        } else {
            stmt.parameter_index(&format!("${}", i + 1))?
        };
        let Some(index) = index else { continue };
        match v {
            Value::Int(n) => stmt.raw_bind_parameter(index, n)?,
            Value::Text(s) => stmt.raw_bind_parameter(index, s.as_str())?,
        }
    }
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}
