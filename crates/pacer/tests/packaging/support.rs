//! Reading the packaging files, and running the real `pacer` the way they run it.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of the repository, by its path from the root.
pub fn read(path: &str) -> String {
    let full = root().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Every document of a YAML file, as JSON values (a syntax error fails the test).
pub fn yaml_docs(path: &str) -> Vec<Value> {
    yaml_docs_of(&read(path), path)
}

pub fn yaml_docs_of(text: &str, what: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| {
            let value = serde_norway::Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{what} is not valid YAML: {e}"));
            serde_json::to_value(value).unwrap_or_else(|e| panic!("{what}: {e}"))
        })
        .filter(|v| !v.is_null())
        .collect()
}

use serde::Deserialize;

/// The one document of a YAML file.
pub fn yaml(path: &str) -> Value {
    let mut docs = yaml_docs(path);
    assert_eq!(docs.len(), 1, "{path} should hold one document");
    docs.remove(0)
}

/// `value` at a `/`-separated JSON pointer, or a failure naming what is missing.
pub fn at<'a>(value: &'a Value, pointer: &str, what: &str) -> &'a Value {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{what} has no {pointer}"))
}

/// `pacer` with no `PACER_*` variable but those a test sets, in `dir`.
pub fn pacer(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pacer"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PACER") {
            command.env_remove(key);
        }
    }
    command
        .env("RUST_LOG", "warn")
        .current_dir(dir)
        .stdin(Stdio::null());
    command
}

/// A program on PATH, or `None` with a message saying the check was skipped and how to get it.
pub fn tool(name: &str, install: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        eprintln!("skipped: `{name}` is not installed ({install})");
    }
    found
}

#[path = "../common/serve.rs"]
mod serve;

/// A running `pacer`; killed when dropped.
pub use serve::Served as Server;

/// Starts `command` (a `pacer serve` listening on port 0) and waits for its
/// "pacer listening on" line; its stderr is kept for the message if it does not start.
pub fn start(command: &mut Command) -> Server {
    serve::start(command.stderr(Stdio::piped()))
}

/// `GET path` on `addr` with a plain HTTP/1.1 request: the status code and the body.
pub fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Sends SIGTERM to `server`: how it exited, if it did within `limit`.
pub fn terminate(server: &mut Server, limit: Duration) -> Option<std::process::ExitStatus> {
    let pid = server.child.id().to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -TERM {pid} failed");
    exit_within(&mut server.child, limit)
}

/// The workspace's `[workspace.package]` value of `key` (e.g. `rust-version`).
pub fn workspace_package(key: &str) -> String {
    let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml parses");
    manifest["workspace"]["package"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no workspace.package.{key}"))
        .to_string()
}

/// The exit status of `child` if it exits within `limit`.
pub fn exit_within(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}
