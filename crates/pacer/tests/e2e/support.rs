//! A real `pacer serve` child process, and the outside tools the end-to-end tests drive.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../common/serve.rs"]
mod serve;

/// A running `pacer serve`; killed when dropped.
pub use serve::Served as Server;

impl Server {
    /// `http://ADDR` followed by `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

/// `pacer` with a clean environment.
pub fn pacer() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pacer"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PACER") {
            command.env_remove(key);
        }
    }
    command.env("RUST_LOG", "warn").stdin(Stdio::null());
    command
}

/// Starts `pacer serve` on a free loopback port with a fresh database in `dir`.
pub fn serve(dir: &Path) -> Server {
    let url = format!("sqlite://{}", dir.join("pacer.db").display());
    serve::start(
        pacer()
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &url])
            .stderr(Stdio::null()),
    )
}

/// The path of an outside tool the tests need; fails with how to install it.
pub fn tool(name: &str, package: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not on PATH: install Debian's {package} package \
                 (apt-get update && apt-get install -y {package}); .ci/run does"
            )
        })
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// GET `url` as JSON, failing the test on anything but 200.
pub async fn get_json(url: &str) -> Value {
    let r = pacer::http::client()
        .get(url)
        .send()
        .await
        .expect("request");
    let status = r.status();
    let text = r.text().await.expect("body");
    assert!(status.is_success(), "GET {url}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {text}"))
}

/// Polls `probe` every 200 ms until it returns `Some`, or fails after `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
