//! `pacer serve` as a child process, driven by the CLI's own client commands.

use crate::support::{END, Run, Server, pacer, pacer_in, run, serve};
use serde_json::Value;
use std::path::Path;

/// `pacer ARGS --server URL`.
fn client(dir: &Path, server: &Server, args: &[&str]) -> Run {
    run(pacer(dir).args(args).args(["--server", &server.url]))
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn record_triage_and_report_through_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());

    // A change started at midnight, deployed at 02:00: lead time 7200 s.
    let id = client(
        dir.path(),
        &server,
        &[
            "deployment",
            "record",
            "--service",
            "api",
            "--environment",
            "production",
            "--change",
            "abc=2026-03-01T00:00:00Z",
            "--deployed-at",
            "2026-03-01T02:00:00Z",
            "--id",
            "d1",
            "--team",
            "payments",
            "--sha",
            "abc",
        ],
    )
    .ok();
    assert_eq!(id.trim(), "d1");
    // Without an id the server makes one; a precomputed lead time of 600 s.
    let id = client(
        dir.path(),
        &server,
        &[
            "deployment",
            "record",
            "--service",
            "web",
            "--environment",
            "prod",
            "--deployed-at",
            "1772409600",
            "--lead-time-seconds",
            "600",
        ],
    )
    .ok();
    assert!(id.trim().starts_with("dep_"), "{id}");
    // Re-sending d1 changes nothing.
    let again = client(
        dir.path(),
        &server,
        &[
            "deployment",
            "record",
            "--service",
            "api",
            "--environment",
            "production",
            "--id",
            "d1",
        ],
    )
    .ok();
    assert_eq!(again.trim(), "d1");

    // An incident 30 min after d1, restored 30 min later, triaged to d1.
    let opened = json(
        &client(
            dir.path(),
            &server,
            &[
                "incident",
                "open",
                "--id",
                "INC-1",
                "--service",
                "api",
                "--opened-at",
                "2026-03-01T02:30:00Z",
                "--severity",
                "SEV2",
            ],
        )
        .ok(),
    );
    assert_eq!(opened["incident"]["resolved_at"], Value::Null);
    let resolved = json(
        &client(
            dir.path(),
            &server,
            &[
                "incident",
                "resolve",
                "--id",
                "INC-1",
                "--resolved-at",
                "2026-03-01T03:00:00Z",
            ],
        )
        .ok(),
    );
    assert_eq!(resolved["incident"]["duration_seconds"], 1800.0);
    assert_eq!(resolved["incident"]["severity"], "SEV2");
    let triaged = json(
        &client(
            dir.path(),
            &server,
            &[
                "incident",
                "triage",
                "--id",
                "INC-1",
                "--caused-by-deploy",
                "true",
                "--deployment-id",
                "d1",
            ],
        )
        .ok(),
    );
    assert_eq!(triaged["incident"]["caused_by_deploy"], true);
    assert_eq!(triaged["incident"]["deployment_id"], "d1");
    assert_eq!(triaged["candidate_deployments"][0]["id"], "d1");

    let report = json(
        &client(
            dir.path(),
            &server,
            &["report", "--format", "json", "--end", END],
        )
        .ok(),
    );
    let org = &report["organisation"];
    assert_eq!(org["deployment_frequency"]["deployments"], 2);
    // Lead times [600, 7200]: p50 = 3900, p90 = 600 + 0.9 * 6600 = 6540.
    assert_eq!(org["lead_time"]["changes"], 2);
    assert_eq!(org["lead_time"]["p50_seconds"], 3900.0);
    assert_eq!(org["lead_time"]["p90_seconds"], 6540.0);
    assert_eq!(org["change_failure_rate"]["failed_deployments"], 1);
    assert_eq!(org["change_failure_rate"]["percent"], 50.0);
    assert_eq!(org["mttr"]["incidents"], 1);
    assert_eq!(org["mttr"]["p50_seconds"], 1800.0);
    assert_eq!(org["mttr"]["band"], "elite");
    assert_eq!(
        org["failed_deployment_recovery_time"]["p50_seconds"],
        1800.0
    );
    assert_eq!(org["untriaged_incidents"], 0);
    let api = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["scope"]["service"] == "api")
        .expect("api in the report");
    assert_eq!(api["scope"]["team"], "payments");
    assert_eq!(api["lead_time"]["p50_seconds"], 7200.0);
    assert_eq!(api["change_failure_rate"]["percent"], 100.0);

    // PACER_SERVER works in place of --server, and the table names every scope.
    let table = run(pacer(dir.path())
        .args(["report", "--end", END, "--color", "never"])
        .env("PACER_SERVER", &server.url))
    .ok();
    for scope in ["(all)", "payments", "api", "web"] {
        assert!(table.contains(scope), "{scope}:\n{table}");
    }

    // Clearing the triage makes it untriaged again.
    let cleared = json(
        &client(
            dir.path(),
            &server,
            &[
                "incident",
                "triage",
                "--id",
                "INC-1",
                "--caused-by-deploy",
                "unset",
            ],
        )
        .ok(),
    );
    assert_eq!(cleared["incident"]["caused_by_deploy"], Value::Null);
    let report = json(
        &client(
            dir.path(),
            &server,
            &["report", "--format", "json", "--end", END],
        )
        .ok(),
    );
    assert_eq!(report["organisation"]["untriaged_incidents"], 1);
    assert_eq!(
        report["organisation"]["change_failure_rate"]["failed_deployments"],
        0
    );
}

#[test]
fn bad_client_input_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let record = |extra: &[&str]| {
        let mut args = vec![
            "deployment",
            "record",
            "--service",
            "api",
            "--environment",
            "production",
        ];
        args.extend(extra);
        client(dir.path(), &server, &args)
    };
    for (extra, needle) in [
        (
            vec!["--change", "nonsense"],
            "--change \"nonsense\" must look like ID=STARTED_AT",
        ),
        (
            vec!["--change", "abc=yesterday"],
            "--change \"abc=yesterday\"",
        ),
        (vec!["--change", "abc=2026-02-30T00:00:00Z"], "--change"),
        (vec!["--deployed-at", "soon"], "--deployed-at"),
        // Refused by the server: its message is shown.
        (
            vec!["--status", "rolled-back"],
            "status \"rolled-back\" is not one of",
        ),
        (
            vec!["--change", "=2026-03-01T00:00:00Z"],
            "changes[0].id must not be empty",
        ),
        (vec!["--lead-time-seconds=-5"], "lead_time_seconds"),
        // Refused by clap.
        (
            vec![
                "--lead-time-seconds",
                "60",
                "--change",
                "a=2026-03-01T00:00:00Z",
            ],
            "cannot be used with",
        ),
    ] {
        let err = record(&extra).err();
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
    let err = record(&["--status", "rolled-back"]).err();
    assert!(err.contains("400"), "{err}");

    let err = client(
        dir.path(),
        &server,
        &["incident", "resolve", "--id", "nope"],
    )
    .err();
    assert!(err.contains("404") && err.contains("nope"), "{err}");
    let err = client(
        dir.path(),
        &server,
        &[
            "incident",
            "open",
            "--id",
            "x",
            "--opened-at",
            "2026-02-30T00:00:00Z",
        ],
    )
    .err();
    assert!(err.contains("--opened-at"), "{err}");
    let err = client(
        dir.path(),
        &server,
        &[
            "incident",
            "triage",
            "--id",
            "x",
            "--caused-by-deploy",
            "maybe",
        ],
    )
    .err();
    assert!(err.contains("maybe"), "{err}");

    // Nothing was recorded by any of that.
    let report = json(
        &client(
            dir.path(),
            &server,
            &["report", "--format", "json", "--end", END],
        )
        .ok(),
    );
    assert_eq!(
        report["organisation"]["deployment_frequency"]["deployments"],
        0
    );
    assert_eq!(report["services"], serde_json::json!([]));

    // No server there: a clear message.
    let err = pacer_in(
        dir.path(),
        &[
            "deployment",
            "record",
            "--server",
            "http://127.0.0.1:1",
            "--service",
            "api",
            "--environment",
            "production",
        ],
    )
    .err();
    assert!(err.contains("cannot reach the Pacer server"), "{err}");
}
