//! The systemd unit and its sample /etc/pacer/pacer.toml.

use crate::support::{get, pacer, read, start, terminate, tool};
use std::process::Command;
use std::time::Duration;

const UNIT: &str = "deploy/systemd/pacer.service";
const CONFIG: &str = "deploy/systemd/pacer.toml";

/// `(section, key, value)` of every setting of the unit, in order (keys may repeat).
fn unit() -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in read(UNIT).lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{UNIT}: not key=value: {line}"));
        assert!(!line.ends_with('\\'), "{UNIT}: keep settings on one line");
        out.push((section.clone(), key.to_string(), value.to_string()));
    }
    out
}

/// The one value of `[Service] key`.
fn service(key: &str) -> String {
    let values: Vec<String> = unit()
        .into_iter()
        .filter(|(s, k, _)| s == "Service" && k == key)
        .map(|(_, _, v)| v)
        .collect();
    assert_eq!(
        values.len(),
        1,
        "{UNIT}: [Service] {key} should be set once"
    );
    values[0].clone()
}

#[test]
fn unit_runs_the_server_with_its_config_as_an_unprivileged_hardened_service() {
    assert_eq!(
        service("ExecStart"),
        "/usr/local/bin/pacer serve --config /etc/pacer/pacer.toml"
    );
    assert_eq!(service("DynamicUser"), "yes");
    assert_eq!(service("StateDirectory"), "pacer");
    assert_eq!(service("WorkingDirectory"), "/var/lib/pacer");
    assert_eq!(service("ReadWritePaths"), "/var/lib/pacer");
    assert_eq!(service("Restart"), "on-failure");
    assert_eq!(service("KillSignal"), "SIGTERM");
    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
    ] {
        assert_eq!(service(key), value, "[Service] {key}");
    }
    // Long enough for the drain after SIGTERM, as long as the Kubernetes grace period.
    let stop = service("TimeoutStopSec");
    let seconds: u64 = stop
        .trim_end_matches('s')
        .parse()
        .expect("TimeoutStopSec in seconds");
    assert!(seconds >= 30, "TimeoutStopSec={stop} is shorter than 30 s");
    assert!(
        unit()
            .iter()
            .any(|(s, k, v)| s == "Install" && k == "WantedBy" && v == "multi-user.target")
    );
}

/// The sample config loads (unknown keys are refused, so this catches drift from the
/// settings) and keeps the database in the unit's StateDirectory.
#[test]
fn sample_config_loads_and_keeps_the_database_in_the_state_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::support::root().join(CONFIG);
    let out = pacer(dir.path())
        .args(["config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("database = \"sqlite:///var/lib/pacer/pacer.db\""),
        "{stdout}"
    );
    // Loopback by default: a proxy on the host terminates TLS in front of it.
    assert!(stdout.contains("listen = \"127.0.0.1:7077\""), "{stdout}");
}

/// The unit's command line, run with the real binary on the sample config (moved to port 0
/// and a temporary database by the environment, as /etc/pacer/pacer.env would), serves, and
/// exits cleanly on SIGTERM well within TimeoutStopSec.
#[test]
fn exec_start_serves_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let exec = service("ExecStart");
    let mut argv = exec.split_whitespace();
    assert_eq!(argv.next(), Some("/usr/local/bin/pacer"));
    let args: Vec<String> = argv
        .map(|a| match a {
            "/etc/pacer/pacer.toml" => crate::support::root().join(CONFIG).display().to_string(),
            _ => a.to_string(),
        })
        .collect();
    let mut server = start(
        pacer(dir.path())
            .args(&args)
            .env("PACER_SERVER__LISTEN", "127.0.0.1:0")
            .env(
                "PACER_SERVER__DATABASE",
                format!("sqlite://{}/pacer.db", dir.path().display()),
            ),
    );
    assert_eq!(get(&server.addr, "/readyz").0, 200);
    let status = terminate(&mut server, Duration::from_secs(10))
        .expect("pacer did not exit within 10 s of SIGTERM");
    // Killed by the signal itself: its handler was not installed yet, so there was no drain.
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        None,
        "SIGTERM killed pacer instead of starting the drain (handler installed too late?)"
    );
    assert!(status.success(), "pacer exited with {status} after SIGTERM");
}

/// `systemd-analyze verify` accepts the unit (with ExecStart pointed at the built binary, as
/// it checks that the program exists), and `systemd-analyze security` rates it well exposed
/// at most 2.0 of 10.
#[test]
fn systemd_analyze_verifies_the_unit() {
    let Some(analyze) = tool("systemd-analyze", "apt-get install systemd") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unit_path = dir.path().join("pacer.service");
    let text = read(UNIT).replace("/usr/local/bin/pacer", env!("CARGO_BIN_EXE_pacer"));
    std::fs::write(&unit_path, text).unwrap();
    let out = Command::new(&analyze)
        .arg("verify")
        .arg(&unit_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    assert!(
        !stderr.contains("pacer.service"),
        "systemd-analyze verify warns: {stderr}"
    );
    let out = Command::new(&analyze)
        .args(["security", "--offline=yes", "--threshold=20"])
        .arg(&unit_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let level: f64 = stdout
        .lines()
        .find_map(|l| l.split("Overall exposure level for pacer.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in: {stdout}"));
    assert!(level <= 2.0, "exposure level {level} > 2.0:\n{stdout}");
}
