//! Running the binary, and a database written through the store.

use std::path::Path;
use std::process::{Command, Stdio};

/// The fixed window end of the tests: 30 days after [`t`]`(0)`.
pub const END: &str = "2026-03-31T00:00:00Z";

/// `2026-03-01T00:00:00Z` plus `hours`, as RFC 3339.
pub fn t(hours: f64) -> String {
    let secs = 1_772_323_200 + (hours * 3600.0) as i64;
    pacer::timefmt::format(pacer_core::Timestamp::from_seconds(secs))
}

/// `pacer` with a clean environment, run in `dir`.
pub fn pacer(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pacer"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PACER") {
            command.env_remove(key);
        }
    }
    command
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "warn")
        .current_dir(dir)
        .stdin(Stdio::null());
    command
}

/// What a finished command printed.
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The output of a command that must succeed.
    pub fn ok(self) -> String {
        assert!(self.success, "command failed: {}", self.stderr);
        self.stdout
    }
    /// The error output of a command that must fail.
    pub fn err(self) -> String {
        assert!(
            !self.success,
            "command succeeded: {}{}",
            self.stdout, self.stderr
        );
        self.stderr
    }
}

pub fn run(command: &mut Command) -> Run {
    let out = command.output().expect("run pacer");
    Run {
        success: out.status.success(),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// `pacer ARGS` in `dir`.
pub fn pacer_in(dir: &Path, args: &[&str]) -> Run {
    run(pacer(dir).args(args))
}

/// Writes a small history into a new SQLite database at `url` through the store (as the
/// server would), using the API's own request parsing:
///
/// - d1: api (team payments) to production at t(10), change c1 started 1 h before;
/// - d2: web (team storefront) to production at t(20), a precomputed 30 min lead time;
/// - d3: api to staging (never counted);
/// - i1: api, caused by a deploy (d1), restored in 30 min;
/// - i2: no service, caused by a deploy, restored in 1 h: blamed on d2 organisation-wide;
/// - i3: api, untriaged, still open.
pub fn write_history(url: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let store = pacer::store::open(url).await.expect("open store");
        let now = pacer::timefmt::now();
        for body in [
            serde_json::json!({"id": "d1", "service": "api", "environment": "production", "team": "payments",
                               "deployed_at": t(10.0), "changes": [{"id": "c1", "started_at": t(9.0)}]}),
            serde_json::json!({"id": "d2", "service": "web", "environment": "production", "team": "storefront",
                               "deployed_at": t(20.0), "lead_time_seconds": 1800}),
            serde_json::json!({"id": "d3", "service": "api", "environment": "staging", "deployed_at": t(30.0)}),
        ] {
            let d = pacer::api::parse::deployment(body.to_string().as_bytes(), now).expect("deployment");
            store.record_deployment(&d).await.expect("record deployment");
        }
        for body in [
            serde_json::json!({"id": "i1", "service": "api", "opened_at": t(10.5), "resolved_at": t(11.0),
                               "caused_by_deploy": true}),
            serde_json::json!({"id": "i2", "opened_at": t(20.25), "resolved_at": t(21.25), "caused_by_deploy": true}),
            serde_json::json!({"id": "i3", "service": "api", "opened_at": t(40.0)}),
        ] {
            let i = pacer::api::parse::incident(body.to_string().as_bytes()).expect("incident");
            store.record_incident(i).await.expect("record incident");
        }
    });
}

/// A running `pacer serve`; killed when dropped.
pub use crate::common::serve::Served as Server;

pub fn serve(dir: &Path) -> Server {
    let url = format!("sqlite://{}", dir.join("s.db").display());
    crate::common::serve::start(
        pacer(dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &url])
            .stderr(Stdio::null()),
    )
}
