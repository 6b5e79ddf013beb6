//! A throwaway PostgreSQL cluster, one per test binary, and a fresh database per test.
//!
//! Debian's `postgresql-15` server binaries (in /usr/lib/postgresql/15/bin) are run
//! directly: `initdb` into a temporary directory, `pg_ctl start` on a free loopback port
//! with trust authentication. The server refuses to run as root, so as root they run as
//! the `postgres` user. A watchdog shell stops the cluster and removes its files when the
//! test binary exits (statics are never dropped, so no destructor could do it).
//!
//! `PACER_TEST_POSTGRES_URL` (an admin URL, e.g. `postgres://postgres@127.0.0.1:5432/postgres`)
//! uses an existing server instead. Without either, [`admin_url`] returns `None` and
//! the PostgreSQL variants are skipped, unless `PACER_REQUIRE_POSTGRES=1`, when they fail.

use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

const BIN_DIRS: &[&str] = &["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin"];

/// The admin URL of this binary's cluster, started on first use; `None`: skipped.
pub fn admin_url() -> Option<&'static str> {
    static CLUSTER: OnceLock<Option<String>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            if let Ok(url) = std::env::var("PACER_TEST_POSTGRES_URL") {
                return Some(url);
            }
            match server_bin() {
                Some(bin) => Some(start_cluster(bin, false)),
                None => {
                    let required = std::env::var("PACER_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
                    assert!(
                        !required,
                        "PACER_REQUIRE_POSTGRES=1 but no PostgreSQL server binaries: \
                         install postgresql-15 (apt-get install postgresql-15)"
                    );
                    eprintln!(
                        "PostgreSQL suite skipped: install postgresql-15 (apt-get install \
                         postgresql-15) or set PACER_TEST_POSTGRES_URL; \
                         PACER_REQUIRE_POSTGRES=1 makes this a failure"
                    );
                    None
                }
            }
        })
        .as_deref()
}

/// Where the PostgreSQL server binaries are, if installed.
pub fn server_bin() -> Option<&'static Path> {
    BIN_DIRS
        .iter()
        .map(Path::new)
        .find(|d| d.join("initdb").exists())
}

/// A new, empty database on the cluster; returns its URL.
pub async fn fresh_database() -> Option<String> {
    Some(create_database(admin_url()?).await)
}

/// A new, empty database on the server of `admin` (an admin URL); returns its URL.
pub async fn create_database(admin: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "pacer_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("connect to the test cluster {admin}: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    conn.close().await.ok();
    let (base, _) = admin.rsplit_once('/').expect("admin url names a database");
    format!("{base}/{name}")
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `bin/tool args`, as the `postgres` user when we are root.
fn pg_command(bin: &Path, tool: &str, root: bool) -> Command {
    let exe = bin.join(tool);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(exe);
        c
    } else {
        Command::new(exe)
    }
}

fn run(mut c: Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts a cluster from `bin`; returns its admin URL. `durable: false` turns syncing off
/// (tests); `true` keeps PostgreSQL's defaults (benchmarks compare with a syncing SQLite).
pub fn start_cluster(bin: &Path, durable: bool) -> String {
    let root = as_root();
    let dir: PathBuf = tempfile::Builder::new()
        .prefix("pacer-pg-")
        .tempdir()
        .expect("temp dir")
        .keep();
    if root {
        let mut c = Command::new("chown");
        c.args(["postgres:postgres"]).arg(&dir);
        run(c, "chown the cluster directory");
    }
    let data = dir.join("data");
    let mut c = pg_command(bin, "initdb", root);
    c.args([
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--no-sync",
        "-D",
    ])
    .arg(&data);
    run(c, "initdb");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    // fsync off for tests: a test cluster is thrown away, and syncing would dominate test
    // time. Enough connections for every test's pools at once (each store opens up to 7).
    let sync = if durable {
        ""
    } else {
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    };
    let options = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -k {}{sync} -c max_connections=400",
        dir.display()
    );
    let mut c = pg_command(bin, "pg_ctl", root);
    c.args(["-w", "-t", "60", "-D"])
        .arg(&data)
        .args(["-l"])
        .arg(dir.join("log"))
        .args(["-o", &options, "start"]);
    c.stdout(Stdio::null());
    run(c, "pg_ctl start");

    // Stops the cluster when this test binary exits: a background shell (the one started
    // here exits at once, leaving it to init) that waits for this process to end.
    let stop = format!(
        "(while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {runas}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}) </dev/null >/dev/null 2>&1 &",
        pid = std::process::id(),
        runas = if root { "runuser -u postgres -- " } else { "" },
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &stop])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("start the cluster watchdog");
    format!("postgres://postgres@127.0.0.1:{port}/postgres")
}
