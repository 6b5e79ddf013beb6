//! `pacer report --database`: every format, from a database written through the store.

use crate::support::{END, pacer_in, write_history};
use serde_json::Value;

fn report(dir: &std::path::Path, url: &str, format: &str) -> String {
    pacer_in(
        dir,
        &[
            "report",
            "--database",
            url,
            "--format",
            format,
            "--end",
            END,
            "--color",
            "never",
        ],
    )
    .ok()
}

#[test]
fn report_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    write_history(&url);

    let json: Value = serde_json::from_str(&report(dir.path(), &url, "json")).expect("JSON report");
    assert_eq!(json["window"]["end"], END);
    assert_eq!(json["window"]["days"], 30);
    let org = &json["organisation"];
    assert_eq!(org["deployment_frequency"]["deployments"], 2);
    // Lead times [1800, 3600]: p50 2700.
    assert_eq!(org["lead_time"]["p50_seconds"], 2700.0);
    // d1 (i1) and d2 (i2, organisation-wide) failed.
    assert_eq!(org["change_failure_rate"]["failed_deployments"], 2);
    assert_eq!(
        org["change_failure_rate"]["attributed_organisation_wide"],
        1
    );
    // Restore times [1800, 3600].
    assert_eq!(org["mttr"]["p50_seconds"], 2700.0);
    assert_eq!(org["untriaged_incidents"], 1);
    let teams: Vec<&str> = json["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["scope"]["team"].as_str().unwrap())
        .collect();
    assert_eq!(teams, ["payments", "storefront"]);
    let services: Vec<&str> = json["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["scope"]["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["api", "web"]);

    let table = report(dir.path(), &url, "table");
    assert!(!table.contains('\x1b'), "--color never: {table}");
    for scope in ["(all)", "payments", "storefront", "api", "web"] {
        assert!(table.contains(scope), "{scope} missing:\n{table}");
    }
    assert!(table.contains("untriaged"), "{table}");
    let coloured = pacer_in(
        dir.path(),
        &[
            "report",
            "--database",
            &url,
            "--end",
            END,
            "--color",
            "always",
        ],
    )
    .ok();
    assert!(coloured.contains("\x1b["), "--color always: {coloured}");

    insta::assert_snapshot!("report_markdown", report(dir.path(), &url, "markdown"));
    insta::assert_snapshot!("report_csv", report(dir.path(), &url, "csv"));
}

#[test]
fn report_honours_days_and_unix_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    write_history(&url);
    // 2026-03-01T15:00:00Z as Unix seconds, one day: only d1 (t 10) is in (t -9, t 15].
    let out = pacer_in(
        dir.path(),
        &[
            "report",
            "--database",
            &url,
            "--format",
            "json",
            "--end",
            "1772377200",
            "--days",
            "1",
        ],
    )
    .ok();
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["window"]["start"], "2026-02-28T15:00:00Z");
    assert_eq!(
        json["organisation"]["deployment_frequency"]["deployments"],
        1
    );
    assert_eq!(json["organisation"]["deployment_frequency"]["per_day"], 1.0);
}

#[test]
fn bad_report_arguments_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    for (args, needle) in [
        (vec!["--days", "0"], "--days"),
        (vec!["--end", "yesterday"], "--end"),
        (vec!["--end", "2026-02-30T00:00:00Z"], "--end"),
        (vec!["--format", "xml"], "xml"),
        (vec!["--color", "sometimes"], "sometimes"),
        (
            vec!["--server", "http://127.0.0.1:1"],
            "cannot be used with",
        ),
    ] {
        let mut all = vec!["report", "--database", url.as_str()];
        all.extend(&args);
        let err = pacer_in(dir.path(), &all).err();
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // A typo in the path must not create an empty database and report zeros.
    let missing = dir.path().join("typo.db");
    let err = pacer_in(
        dir.path(),
        &[
            "report",
            "--database",
            &format!("sqlite://{}", missing.display()),
        ],
    )
    .err();
    assert!(err.contains("does not exist"), "{err}");
    assert!(!missing.exists(), "report created {}", missing.display());
    let err = pacer_in(
        dir.path(),
        &["report", "--database", "postgres://nowhere/db"],
    )
    .err();
    assert!(err.contains("postgres://nowhere/db"), "{err}");
}
