//! A `pacer serve` child process, an ingesting client that keeps a ledger of what was
//! acknowledged, and checks of the database file.

use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The seed of a test's random choices: `CRASH_SEED` to replay a run, else the clock.
/// Printed, so that a failure can be replayed.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("{test}: seed {seed} (replay with CRASH_SEED={seed})");
    seed
}

#[path = "../common/serve.rs"]
mod serve;

/// A running `pacer serve`; killed when dropped.
pub use serve::Served as Server;

pub fn database_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Starts `pacer serve` on port 0 over `db` and waits for its "listening" line.
pub fn serve(db: &Path) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pacer"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PACER") {
            command.env_remove(key);
        }
    }
    serve::start(
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--database"])
            .arg(database_url(db))
            // Loopback, open mode; the per-client rate limit would refuse a test's ingest
            // burst with 429s, which prove nothing here.
            .env("PACER_LIMITS__RATE_PER_SECOND", "0")
            .env("RUST_LOG", "warn")
            .current_dir(db.parent().expect("db in a dir"))
            .stdin(Stdio::null())
            .stderr(Stdio::inherit()),
    )
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL (what `Child::kill` sends on Unix), and reap.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }

    /// SIGTERM through `kill(1)` (no libc binding in the project for one call).
    pub fn term(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

/// What the clients were told: ids answered 2xx, and ids sent whose answer never came
/// (a connection error: they may or may not be stored).
#[derive(Default)]
pub struct Ledger {
    pub acked_deployments: BTreeSet<String>,
    pub acked_incidents: BTreeSet<String>,
    pub doubtful_deployments: BTreeSet<String>,
    pub doubtful_incidents: BTreeSet<String>,
    /// Answers that were neither 2xx nor a connection error (must stay empty).
    pub unexpected: Vec<String>,
}

pub type SharedLedger = Arc<Mutex<Ledger>>;

/// One client connection: records deployments and incidents with fresh ids (every fifth
/// request re-sends an id it already had acknowledged, which must not add a row) until a
/// request fails at the connection level.
pub async fn ingest(url: String, prefix: String, ledger: SharedLedger) {
    // One client per task: its own connection (pool of one, kept alive).
    let client = pacer::http::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let mut n = 0u64;
    let mut last_acked: Option<(bool, String)> = None;
    loop {
        n += 1;
        let resend = n.is_multiple_of(5) && last_acked.is_some();
        let (is_deploy, id) = match (&last_acked, resend) {
            (Some((d, id)), true) => (*d, id.clone()),
            _ => (n.is_multiple_of(2), format!("{prefix}-{n}")),
        };
        let (path, body) = if is_deploy {
            (
                "/api/v1/deployments",
                json!({"id": id, "service": "api", "environment": "production",
                       "deployed_at": 1_772_323_200 + n as i64,
                       "changes": [{"id": format!("c-{id}"), "started_at": 1_772_320_000}]}),
            )
        } else {
            (
                "/api/v1/incidents",
                json!({"id": id, "service": "api", "opened_at": 1_772_323_200 + n as i64}),
            )
        };
        let result = client
            .post(format!("{url}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        let mut l = ledger.lock().expect("ledger");
        match result {
            Ok(r) if r.status().is_success() => {
                if is_deploy {
                    l.acked_deployments.insert(id.clone());
                } else {
                    l.acked_incidents.insert(id.clone());
                }
                last_acked = Some((is_deploy, id));
            }
            Ok(r) => {
                l.unexpected.push(format!("{path} {id}: {}", r.status()));
                return;
            }
            Err(_) => {
                // Sent, answer lost: the server died (or stopped) under it.
                if is_deploy {
                    l.doubtful_deployments.insert(id);
                } else {
                    l.doubtful_incidents.insert(id);
                }
                return;
            }
        }
    }
}

/// What the database file holds, read through the server that now owns it (GET by id)
/// and through a read-only connection (ids, duplicates, integrity).
pub struct Stored {
    pub deployment_ids: Vec<String>,
    pub incident_ids: Vec<String>,
    pub integrity: String,
}

pub async fn read_database(db: &Path) -> Stored {
    use sqlx::ConnectOptions;
    use sqlx::sqlite::SqliteConnectOptions;
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await
        .expect("open read-only");
    let deployment_ids: Vec<String> = sqlx::query_scalar("SELECT id FROM deployments")
        .fetch_all(&mut conn)
        .await
        .expect("deployments");
    let incident_ids: Vec<String> = sqlx::query_scalar("SELECT id FROM incidents")
        .fetch_all(&mut conn)
        .await
        .expect("incidents");
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .expect("integrity_check");
    Stored {
        deployment_ids,
        incident_ids,
        integrity,
    }
}

/// Every acknowledged id is stored exactly once; nothing is stored that was never sent;
/// the file is intact.
pub fn check_ledger(ledger: &Ledger, stored: &Stored, context: &str) {
    assert!(
        ledger.unexpected.is_empty(),
        "{context}: answers neither 2xx nor a connection error: {:?}",
        ledger.unexpected
    );
    assert_eq!(stored.integrity, "ok", "{context}: integrity_check");
    for (kind, ids, acked, doubtful) in [
        (
            "deployment",
            &stored.deployment_ids,
            &ledger.acked_deployments,
            &ledger.doubtful_deployments,
        ),
        (
            "incident",
            &stored.incident_ids,
            &ledger.acked_incidents,
            &ledger.doubtful_incidents,
        ),
    ] {
        let set: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(
            set.len(),
            ids.len(),
            "{context}: a {kind} id is stored twice"
        );
        let lost: Vec<_> = acked.iter().filter(|id| !set.contains(id)).collect();
        assert!(
            lost.is_empty(),
            "{context}: {} acknowledged {kind}s lost: {lost:?}",
            lost.len()
        );
        let stray: Vec<_> = set
            .iter()
            .filter(|id| !acked.contains(**id) && !doubtful.contains(**id))
            .collect();
        assert!(stray.is_empty(), "{context}: {kind}s never sent: {stray:?}");
    }
}

/// GET by id through the restarted server: each acknowledged event is served.
pub async fn check_served(url: &str, ids: &[(&str, &String)], context: &str) {
    let client = pacer::http::client();
    for (collection, id) in ids {
        let r = client
            .get(format!("{url}/api/v1/{collection}/{id}"))
            .send()
            .await
            .expect("GET");
        assert_eq!(
            r.status().as_u16(),
            200,
            "{context}: acknowledged {collection}/{id} is not served"
        );
    }
}

pub fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("pacer.db");
    (dir, db)
}
