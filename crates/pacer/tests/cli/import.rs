//! `pacer import` and `pacer demo generate`: files in, the same figures out as the normal
//! write path; bad lines refuse the whole import; re-imports add nothing.

use crate::support::{END, pacer_in, t, write_history};
use serde_json::{Value, json};
use std::path::Path;

/// The history of [`write_history`] as JSON Lines: d1, d2, d3 and i1, i2, i3.
fn history_jsonl() -> String {
    let lines = [
        json!({"kind": "deployment", "id": "d1", "service": "api", "environment": "production", "team": "payments",
               "deployed_at": t(10.0), "changes": [{"id": "c1", "started_at": t(9.0)}]}),
        json!({"kind": "deployment", "id": "d2", "service": "web", "environment": "production", "team": "storefront",
               "deployed_at": t(20.0), "lead_time_seconds": 1800}),
        // `kind` anywhere in the object.
        json!({"id": "d3", "service": "api", "environment": "staging", "deployed_at": t(30.0), "kind": "deployment"}),
        json!({"kind": "incident", "id": "i1", "service": "api", "opened_at": t(10.5), "resolved_at": t(11.0),
               "caused_by_deploy": true}),
        json!({"kind": "incident", "id": "i2", "opened_at": t(20.25), "resolved_at": t(21.25), "caused_by_deploy": true}),
        json!({"kind": "incident", "id": "i3", "service": "api", "opened_at": t(40.0)}),
    ];
    let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    // Blank lines are skipped.
    text.insert(text.find('\n').unwrap() + 1, '\n');
    text
}

/// The same history as CSV: a subset of the columns, in another order than `demo generate`
/// writes them; empty cells are "not sent".
fn history_csv() -> String {
    format!(
        "kind,id,service,environment,team,deployed_at,changes,lead_time_seconds,opened_at,resolved_at,caused_by_deploy\n\
         deployment,d1,api,production,payments,{},c1@{},,,,\n\
         deployment,d2,web,production,storefront,{},,1800,,,\n\
         deployment,d3,api,staging,,{},,,,,\n\
         incident,i1,api,,,,,,{},{},true\n\
         incident,i2,,,,,,,{},{},true\n\
         incident,i3,api,,,,,,{},,\n",
        t(10.0),
        t(9.0),
        t(20.0),
        // Unix seconds work too.
        1_772_323_200 + 30 * 3600,
        t(10.5),
        t(11.0),
        t(20.25),
        t(21.25),
        t(40.0),
    )
}

fn report(dir: &Path, url: &str, format: &str) -> String {
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
        ],
    )
    .ok()
}

fn import(dir: &Path, url: &str, files: &[&str]) -> crate::support::Run {
    let mut args = vec!["import", "--database", url];
    args.extend_from_slice(files);
    pacer_in(dir, &args)
}

#[test]
fn jsonl_and_csv_imports_give_the_figures_of_the_normal_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("h.jsonl"), history_jsonl()).unwrap();
    std::fs::write(d.join("h.csv"), history_csv()).unwrap();
    let normal = format!("sqlite://{}", d.join("normal.db").display());
    write_history(&normal);
    let expected = report(d, &normal, "csv");

    for file in ["h.jsonl", "h.csv"] {
        let url = format!("sqlite://{}", d.join(format!("{file}.db")).display());
        let out = import(d, &url, &[file]).ok();
        assert!(
            out.contains("deployments: 3 created, 0 already recorded"),
            "{out}"
        );
        assert!(out.contains("changes:     1 created"), "{out}");
        assert!(
            out.contains("incidents:   3 created, 0 updated, 0 already recorded"),
            "{out}"
        );
        // 3 deployments + 1 change + 3 incidents.
        assert!(out.contains("7 events read"), "{out}");
        assert_eq!(report(d, &url, "csv"), expected, "{file}");

        // Hand-computed (the same figures as tests/cli/report.rs): production d1 and d2 in
        // the window; lead times 3600 s (c1) and 1800 s (d2's precomputed one), p50 2700;
        // both failed (i1 names api at d1; i2 names no service and is blamed on d2, the
        // latest production deployment before it); restore times 1800 s and 3600 s.
        let json: Value = serde_json::from_str(&report(d, &url, "json")).unwrap();
        let org = &json["organisation"];
        assert_eq!(org["deployment_frequency"]["deployments"], 2);
        assert_eq!(org["lead_time"]["p50_seconds"], 2700.0);
        assert_eq!(org["change_failure_rate"]["failed_deployments"], 2);
        assert_eq!(org["mttr"]["p50_seconds"], 2700.0);
        assert_eq!(org["untriaged_incidents"], 1);
        let teams: Vec<&str> = json["teams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["scope"]["team"].as_str().unwrap())
            .collect();
        assert_eq!(teams, ["payments", "storefront"]);
    }
}

#[test]
fn re_importing_a_file_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A deployment without an id gets one derived from its line, so it is not recorded twice.
    let text = format!(
        "{}{}\n",
        history_jsonl(),
        json!({"kind": "deployment", "service": "web", "environment": "production", "deployed_at": t(50.0)})
    );
    std::fs::write(d.join("h.jsonl"), text).unwrap();
    let url = format!("sqlite://{}", d.join("p.db").display());
    import(d, &url, &["h.jsonl"]).ok();
    let before = report(d, &url, "csv");
    let out = import(d, &url, &["h.jsonl"]).ok();
    assert!(
        out.contains("deployments: 0 created, 4 already recorded"),
        "{out}"
    );
    assert!(out.contains("changes:     0 created"), "{out}");
    assert!(
        out.contains("incidents:   0 created, 0 updated, 3 already recorded (unchanged)"),
        "{out}"
    );
    assert_eq!(report(d, &url, "csv"), before);
    // The CSV of the same history, too: its ids are the same.
    std::fs::write(d.join("h.csv"), history_csv()).unwrap();
    let out = import(d, &url, &["h.csv"]).ok();
    assert!(
        out.contains("deployments: 0 created, 3 already recorded"),
        "{out}"
    );
    assert_eq!(report(d, &url, "csv"), before);
}

#[test]
fn a_bad_line_refuses_the_import_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = format!("sqlite://{}", d.join("p.db").display());
    write_history(&url);
    let before = report(d, &url, "csv");

    // Line 3: an impossible date. Lines 1, 2 and 4 are fine and must not be written either.
    let jsonl = [
        json!({"kind": "deployment", "id": "n1", "service": "api", "environment": "production", "deployed_at": t(100.0)}),
        json!({"kind": "incident", "id": "n2", "service": "api", "opened_at": t(101.0)}),
        json!({"kind": "deployment", "id": "n3", "service": "api", "environment": "production", "deployed_at": "2026-02-30T10:00:00Z"}),
        json!({"kind": "deployment", "id": "n4", "service": "api", "environment": "production", "deployed_at": t(102.0)}),
    ]
    .iter()
    .map(|l| format!("{l}\n"))
    .collect::<String>();
    std::fs::write(d.join("bad.jsonl"), jsonl).unwrap();
    let err = import(d, &url, &["bad.jsonl"]).err();
    assert!(err.contains("bad.jsonl line 3: deployed_at:"), "{err}");
    assert!(err.contains("is not an RFC 3339 timestamp"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");

    // The API's other refusals, with their line numbers: an unknown field, a missing one,
    // a line that is not JSON, an unknown kind.
    let lines = "{\"kind\": \"deployment\", \"service\": \"api\", \"environment\": \"production\", \"deployed_At\": 1}\n\
                 {\"kind\": \"incident\", \"opened_at\": 1772323200}\n\
                 not json\n\
                 {\"kind\": \"release\"}\n";
    std::fs::write(d.join("bad2.jsonl"), lines).unwrap();
    let err = import(d, &url, &["bad2.jsonl"]).err();
    for expected in [
        "bad2.jsonl line 1: unknown field \"deployed_At\"",
        "bad2.jsonl line 2: id is required",
        "bad2.jsonl line 3: not a JSON object",
        "bad2.jsonl line 4: kind \"release\" is not",
    ] {
        assert!(err.contains(expected), "{expected:?} missing from:\n{err}");
    }

    // CSV: line 3 (the header is line 1) says "maybe" where a boolean goes.
    let csv = format!(
        "kind,id,service,opened_at,caused_by_deploy\n\
         incident,n5,api,{},true\n\
         incident,n6,api,{},maybe\n",
        t(100.0),
        t(101.0)
    );
    std::fs::write(d.join("bad.csv"), csv).unwrap();
    let err = import(d, &url, &["bad.csv"]).err();
    assert!(
        err.contains("bad.csv line 3: caused_by_deploy \"maybe\" must be true or false"),
        "{err}"
    );
    // A cell in a column of the other kind: an incident with a deployment's status.
    let csv = format!(
        "kind,id,service,opened_at,status\n\
         incident,n7,api,{},success\n",
        t(102.0)
    );
    std::fs::write(d.join("kinds.csv"), csv).unwrap();
    let err = import(d, &url, &["kinds.csv"]).err();
    assert!(
        err.contains(
            "kinds.csv line 2: column status does not apply to an incident; leave it empty"
        ),
        "{err}"
    );
    std::fs::write(d.join("cols.csv"), "kind,id,servise\n").unwrap();
    let err = import(d, &url, &["cols.csv"]).err();
    assert!(
        err.contains("cols.csv line 1: unknown column \"servise\""),
        "{err}"
    );

    // A merge the API refuses: i3 (stored, opened at t(40)) resolved before it opened,
    // in the second of two files. Nothing of the first file is written either.
    std::fs::write(
        d.join("good.jsonl"),
        format!(
            "{}\n",
            json!({"kind": "deployment", "id": "n7", "service": "api", "environment": "production", "deployed_at": t(100.0)})
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("merge.jsonl"),
        format!(
            "\n{}\n",
            json!({"kind": "incident", "id": "i3", "resolved_at": t(39.0)})
        ),
    )
    .unwrap();
    let err = import(d, &url, &["good.jsonl", "merge.jsonl"]).err();
    assert!(
        err.contains("merge.jsonl line 2: incident \"i3\": resolved_at"),
        "{err}"
    );
    assert!(err.contains("is before opened_at"), "{err}");
    // An update of an incident nobody opened: opened_at is required.
    std::fs::write(
        d.join("orphan.jsonl"),
        format!(
            "{}\n",
            json!({"kind": "incident", "id": "zz", "resolved_at": t(39.0)})
        ),
    )
    .unwrap();
    let err = import(d, &url, &["orphan.jsonl"]).err();
    assert!(
        err.contains("orphan.jsonl line 1: incident \"zz\": opened_at is required"),
        "{err}"
    );

    assert_eq!(report(d, &url, "csv"), before, "the stored data is intact");
}

/// `pacer demo generate ARGS --output FILE`; returns its stdout.
fn generate(dir: &Path, file: &str, args: &[&str]) -> String {
    let mut all = vec!["demo", "generate", "--end", END, "--output", file];
    all.extend_from_slice(args);
    pacer_in(dir, &all).ok()
}

#[test]
fn generated_histories_are_deterministic_and_of_the_asked_size() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let size = [
        "--services",
        "30",
        "--days",
        "10",
        "--deploys-per-day",
        "2.5",
    ];
    let out = generate(d, "a.jsonl", &[&size[..], &["--seed", "7"]].concat());
    // 30 services x 10 days x 2.5.
    assert!(out.contains("750 deployments"), "{out}");
    generate(d, "b.jsonl", &[&size[..], &["--seed", "7"]].concat());
    generate(d, "c.jsonl", &[&size[..], &["--seed", "8"]].concat());
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(read("a.jsonl"), read("b.jsonl"), "same seed, same file");
    assert_ne!(read("a.jsonl"), read("c.jsonl"));
    let a = read("a.jsonl");
    let kinds: Vec<String> = a
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "deployment").count(), 750);
    let incidents = kinds.iter().filter(|k| *k == "incident").count();
    // "wrote a.jsonl: 750 deployments, C changes, I incidents (N events)".
    assert!(out.contains(&format!(", {incidents} incidents (")), "{out}");

    // The CSV of the same options holds the same events.
    let out_csv = generate(d, "a.csv", &[&size[..], &["--seed", "7"]].concat());
    assert_eq!(
        out_csv.split(':').nth(1),
        out.split(':').nth(1),
        "{out_csv} vs {out}"
    );
    assert_eq!(read("a.csv").lines().count(), kinds.len() + 1);

    // Without size flags: the 6-service history of `pacer demo`.
    let out = generate(d, "demo.jsonl", &[]);
    let services: std::collections::BTreeSet<String> = read("demo.jsonl")
        .lines()
        .filter_map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["service"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert_eq!(services.len(), 6, "{services:?}");
    assert!(out.contains("wrote demo.jsonl"), "{out}");
}

/// Records `events` through the store's normal write path (as `pacer demo` and the API do).
fn record_normally(url: &str, events: Vec<pacer::demo::Event>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = pacer::store::open(url).await.unwrap();
        for e in events {
            match e {
                pacer::demo::Event::Deployment(d) => {
                    store.record_deployment(&d).await.unwrap();
                }
                pacer::demo::Event::Incident(i) => {
                    store.record_incident(i).await.unwrap();
                }
            }
        }
    });
}

#[test]
fn importing_generated_histories_gives_the_report_of_the_normal_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let end = pacer::timefmt::parse_rfc3339(END).unwrap();

    // The demo history of `pacer demo`, as JSON Lines.
    generate(d, "demo.jsonl", &[]);
    let imported = format!("sqlite://{}", d.join("demo-import.db").display());
    import(d, &imported, &["demo.jsonl"]).ok();
    let normal = format!("sqlite://{}", d.join("demo-normal.db").display());
    let data = pacer::demo::generate(end, 90, 42);
    record_normally(&normal, pacer::demo::scale::demo_events(data).collect());
    for format in ["json", "csv"] {
        assert_eq!(
            report(d, &imported, format),
            report(d, &normal, format),
            "demo history, {format}"
        );
    }

    // A scaled history, as CSV.
    generate(
        d,
        "s.csv",
        &[
            "--services",
            "25",
            "--days",
            "30",
            "--deploys-per-day",
            "3",
            "--seed",
            "5",
        ],
    );
    let imported = format!("sqlite://{}", d.join("s-import.db").display());
    // Small batches, so that the import spans many transactions.
    let out = pacer_in(
        d,
        &["import", "s.csv", "--database", &imported, "--batch", "500"],
    )
    .ok();
    assert!(out.contains("deployments: 2250 created"), "{out}");
    let normal = format!("sqlite://{}", d.join("s-normal.db").display());
    let events = pacer::demo::generate_scaled(pacer::demo::ScaleOptions {
        services: 25,
        days: 30,
        deploys_per_day: 3.0,
        seed: 5,
        now: end,
    });
    record_normally(&normal, events.collect());
    assert_eq!(report(d, &imported, "json"), report(d, &normal, "json"));
}

#[test]
fn import_into_postgres_gives_the_report_of_sqlite() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Some(pg) = runtime.block_on(crate::common::pg::fresh_database()) else {
        return; // "PostgreSQL suite skipped" was printed.
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(
        d,
        "s.jsonl",
        &["--services", "25", "--days", "30", "--deploys-per-day", "2"],
    );
    let out = pacer_in(
        d,
        &["import", "s.jsonl", "--database", &pg, "--batch", "700"],
    )
    .ok();
    assert!(out.contains("deployments: 1500 created"), "{out}");
    let sqlite = format!("sqlite://{}", d.join("s.db").display());
    import(d, &sqlite, &["s.jsonl"]).ok();
    assert_eq!(report(d, &pg, "json"), report(d, &sqlite, "json"));
    // Re-importing adds nothing on PostgreSQL either.
    let out = import(d, &pg, &["s.jsonl"]).ok();
    assert!(
        out.contains("deployments: 0 created, 1500 already recorded"),
        "{out}"
    );
}
