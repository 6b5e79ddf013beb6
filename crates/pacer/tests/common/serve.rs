//! `pacer serve` as a child process on a free loopback port, for the suites that drive the
//! binary (cli, e2e, crash, replicas, packaging). Each builds its own command (environment,
//! database, stderr) and starts it here. Each suite reads a part of `Served`, hence the
//! allowance.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

/// A running `pacer serve`; killed and reaped when dropped.
pub struct Served {
    pub child: Child,
    /// `127.0.0.1:PORT`
    pub addr: String,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command` (a `pacer serve --listen 127.0.0.1:0 ...`; stderr as the caller set it)
/// and waits for its first line, `pacer listening on http://ADDR ...`.
pub fn start(command: &mut Command) -> Served {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn pacer serve");
    // Read through a borrow: stdout stays with the child, for a test that reads the rest.
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("read the first line");
    let Some(addr) = line
        .strip_prefix("pacer listening on http://")
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string)
    else {
        let _ = child.kill();
        let mut err = String::new();
        let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
        let _ = child.wait();
        panic!("pacer serve did not start: first line {line:?}; stderr: {err}");
    };
    Served {
        child,
        url: format!("http://{addr}"),
        addr,
    }
}
