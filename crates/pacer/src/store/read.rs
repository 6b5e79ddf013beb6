//! The store's reads of events: one statement text and one row mapping for both backends.
//!
//! PostgreSQL reads through sqlx. SQLite reads through rusqlite connections of its own, each
//! statement run to its end on tokio's blocking pool: through sqlx's `Any` driver every row
//! crossed from sqlx's SQLite thread to the runtime on its own and was copied into an
//! `AnyRow` before it was read, and a 10,000-service report spent 1.8 s of its 2-2.9 s
//! there (the same statements take ~0.8 s in SQLite itself; docs/benchmarks.md).

use super::StoreError;
use super::writer::SettleBeforeReads;
use futures_util::TryStreamExt;
use rusqlite::Connection;
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

/// A column read from a rusqlite row, its error naming the column.
fn column<T: rusqlite::types::FromSql>(
    row: &rusqlite::Row<'_>,
    name: &str,
) -> Result<T, StoreError> {
    row.get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name:?} of a read: {e}")))
}

impl Columns for rusqlite::Row<'_> {
    fn int(&self, name: &str) -> Result<i64, StoreError> {
        column(self, name)
    }
    fn opt_int(&self, name: &str) -> Result<Option<i64>, StoreError> {
        column(self, name)
    }
    fn text(&self, name: &str) -> Result<String, StoreError> {
        column(self, name)
    }
    fn opt_text(&self, name: &str) -> Result<Option<String>, StoreError> {
        column(self, name)
    }
    fn opt_real(&self, name: &str) -> Result<Option<f64>, StoreError> {
        column(self, name)
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

/// SQLite's event readers: rusqlite connections to the file, one statement at a time
/// each, run on tokio's blocking pool, where the rows become events as they are read.
///
/// Tried and dropped (docs/benchmarks.md): threads of their own that owned the
/// connections (reports 1.6-1.7 s against 1.0-1.3 s, peak RSS higher), and those threads
/// sending raw rows in chunks for the runtime to turn into events (1.5-1.7 s, no less
/// memory). What the blocking pool costs in memory is bounded in main.rs
/// (`BLOCKING_THREAD_KEEP_ALIVE`).
pub(super) struct SqliteReaders {
    path: PathBuf,
    pragmas: Vec<&'static str>,
    idle: Mutex<Vec<Connection>>,
    /// As many statements at once as there are connections.
    permits: Arc<Semaphore>,
    /// Has the writer move its inbox before a read (None: a file no writer serves).
    settle: Option<SettleBeforeReads>,
}

impl SqliteReaders {
    /// Readers of `path` with at most `connections` statements at once; each connection
    /// runs `pragmas` when it is opened. The first is opened now, so that a file that
    /// cannot be read fails at start-up.
    pub(super) fn start(
        path: PathBuf,
        pragmas: &[&'static str],
        connections: usize,
        settle: Option<SettleBeforeReads>,
    ) -> Result<Self, StoreError> {
        let first = open(&path, pragmas)?;
        Ok(SqliteReaders {
            path,
            pragmas: pragmas.to_vec(),
            idle: Mutex::new(vec![first]),
            permits: Arc::new(Semaphore::new(connections)),
            settle,
        })
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
        if let Some(settle) = &self.settle {
            settle.settle().await?;
        }
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| StoreError::ReadStopped(e.to_string()))?;
        let readers = Arc::clone(self);
        // The connection goes back to the list and the permit is released on the blocking
        // thread, when the statement ends: a caller that gives up (a client that hung up
        // during a report) neither closes a warm connection nor lets a third statement in.
        tokio::task::spawn_blocking(move || {
            let idle = readers.idle.lock().expect("reader list").pop();
            let conn = match idle {
                Some(conn) => conn,
                None => open(&readers.path, &readers.pragmas)?,
            };
            let result = run(&conn, &statement, map);
            readers.idle.lock().expect("reader list").push(conn);
            drop(permit);
            result
        })
        .await
        .map_err(|e| StoreError::ReadStopped(e.to_string()))?
    }
}

/// Opens a connection that reads `path` and never writes.
fn open(path: &std::path::Path, pragmas: &[&'static str]) -> Result<Connection, StoreError> {
    // Read-write like the writer's, which SQLite's write-ahead log handles everywhere (a
    // read-only connection needs the log's shared memory to exist already); `query_only`
    // keeps it from writing.
    let pragmas: Vec<&str> = pragmas
        .iter()
        .copied()
        .chain(["PRAGMA query_only = ON"])
        .collect();
    super::writer::open_sqlite_connection(path, &pragmas)
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
            .and_then(|n| n.strip_prefix('$'))
            .is_some_and(|n| n.parse() == Ok(i))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `sql` with 7 bound as `$1` and "x" as `$2`; each row's `n` and `t`.
    fn read_7_x(sql: &str) -> Vec<(Option<i64>, Option<String>)> {
        let conn = Connection::open_in_memory().expect("in-memory database");
        let statement = Statement::new(sql).int(7).text("x");
        run(&conn, &statement, |row| {
            Ok((row.opt_int("n")?, row.opt_text("t")?))
        })
        .expect("statement runs")
    }

    #[test]
    fn placeholders_in_number_order_bind_by_position() {
        let got = read_7_x("SELECT $1 AS n, $2 AS t");
        assert_eq!(got, vec![(Some(7), Some("x".into()))]);
    }

    #[test]
    fn placeholders_out_of_order_or_repeated_bind_by_name() {
        // $2 appears first, so SQLite numbers it 1: binding by position would swap them.
        let got = read_7_x("SELECT $2 AS t, $1 AS n WHERE $1 = $1");
        assert_eq!(got, vec![(Some(7), Some("x".into()))]);
    }

    #[test]
    fn a_missing_column_or_a_wrong_type_is_an_error_naming_the_column() {
        let conn = Connection::open_in_memory().expect("in-memory database");
        let statement = Statement::new("SELECT 'a' AS t");
        let missing = run(&conn, &statement, |row| row.int("n")).unwrap_err();
        assert!(missing.to_string().contains("\"n\""), "{missing}");
        let wrong = run(&conn, &statement, |row| row.int("t")).unwrap_err();
        assert!(wrong.to_string().contains("\"t\""), "{wrong}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_given_up_returns_its_connection_and_permit_when_it_ends() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("r.db");
        Connection::open(&path).expect("database file");
        let readers = Arc::new(SqliteReaders::start(path, &[], 1, None).expect("readers start"));
        // A mark that only this connection carries (a new one would say -2000).
        let cache = |readers: Arc<SqliteReaders>, sql: &'static str| async move {
            readers
                .rows(Statement::new(sql), |row| row.opt_int("cache_size"))
                .await
                .expect("pragma")
        };
        cache(Arc::clone(&readers), "PRAGMA cache_size = -1234").await;
        // A statement that runs for a while: the caller gives up long before it ends.
        let slow = Statement::new(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
             SELECT count(*) AS n FROM c",
        );
        let given_up = tokio::time::timeout(
            std::time::Duration::from_millis(5),
            readers.rows(slow, |row| row.int("n")),
        )
        .await;
        assert!(given_up.is_err(), "the slow statement ended within 5 ms");
        // The next read waits for the one permit, then gets the same connection back.
        let after = cache(Arc::clone(&readers), "PRAGMA cache_size").await;
        assert_eq!(after, vec![Some(-1234)]);
    }
}
