//! Rework rate (DORA 2024) through the API: the new deployment fields, the figure in
//! `/api/v1/metrics`, `/api/v1/services`, `/api/v1/report` and `/metrics`, the
//! `[metrics.rework]` rules, and refusals of bad input. Figures computed by hand.

use crate::helpers::{END, TestApp, spawn_app, spawn_app_with, t};
use pacer::settings::Settings;
use serde_json::{Value, json};

/// api runs v1 then v2 before the window (30 days ending at END, after t(0)); in it:
/// a2 back to v1 (redeployed sha), a3 a hotfix (sender), a4 from a hotfix branch (rule),
/// a5 a rollback labelled `Rollback` (sender and rule), a6 v5 again (a retry). A staging
/// hotfix and a failed hotfix count for nothing; web's w1 is planned.
async fn record_rework_history(app: &TestApp) {
    let deployments = [
        json!({"id": "a0", "sha": "v1", "deployed_at": t(-10.0)}),
        json!({"id": "a1", "sha": "v2", "deployed_at": t(-5.0)}),
        json!({"id": "a2", "sha": "v1", "deployed_at": t(10.0)}),
        json!({"id": "a3", "sha": "v3", "deployed_at": t(20.0), "hotfix": true}),
        json!({"id": "a4", "sha": "v4", "deployed_at": t(30.0), "branch": "hotfix/pay-9"}),
        json!({"id": "a5", "sha": "v5", "deployed_at": t(40.0), "rollback": true,
               "labels": ["Rollback", "db"]}),
        json!({"id": "a6", "sha": "v5", "deployed_at": t(50.0), "hotfix": false, "rollback": null}),
        json!({"id": "a7", "sha": "v6", "deployed_at": t(60.0), "hotfix": true,
               "environment": "staging"}),
        json!({"id": "a8", "sha": "v7", "deployed_at": t(70.0), "hotfix": true,
               "status": "failure"}),
    ];
    for mut d in deployments {
        let body = d.as_object_mut().expect("object");
        body.insert("service".into(), json!("api"));
        body.entry("environment").or_insert(json!("production"));
        let a = app.deploy(d).await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let a = app
        .deploy(
            json!({"id": "w1", "service": "web", "environment": "production",
                       "sha": "v1", "deployed_at": t(80.0), "branch": "main"}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
}

#[tokio::test]
async fn rework_rate_counts_marks_rules_and_redeployed_shas() {
    let app = spawn_app().await;
    record_rework_history(&app).await;

    // api in the window: a2..a6 = 5; unplanned a2, a3, a4, a5 = 4: 4 / 5 = 80 %.
    // sender a3, a5 = 2; rule a4 (hotfix/*), a5 (label rollback) = 2; sha a2 = 1.
    let m = app.metrics(&format!("service=api&days=30&end={END}")).await;
    assert_eq!(
        m["rework_rate"],
        json!({"deployments": 5, "unplanned_deployments": 4, "percent": 80.0,
               "by_reason": {"sender": 2, "rule": 2, "redeployed_sha": 1}})
    );
    // The rework rate has no band and does not change the overall band's inputs.
    assert_eq!(m["deployment_frequency"]["deployments"], 5);

    // Organisation: 6 deployments (w1 too), 4 unplanned: 4 / 6 * 100 = 66.67 %.
    let org = app.metrics(&format!("days=30&end={END}")).await;
    assert_eq!(org["rework_rate"]["deployments"], 6);
    assert_eq!(org["rework_rate"]["unplanned_deployments"], 4);
    let percent = org["rework_rate"]["percent"].as_f64().expect("a number");
    assert!((percent - 400.0 / 6.0).abs() < 1e-9, "{percent}");

    // One day ending at t(45) (start t(21), excluded): a4 and a5, both unplanned:
    // 2 / 2 = 100 %; sender a5, rule a4 and a5.
    let day = app
        .metrics(&format!("service=api&days=1&end={}", t(45.0)))
        .await;
    assert_eq!(
        day["rework_rate"],
        json!({"deployments": 2, "unplanned_deployments": 2, "percent": 100.0,
               "by_reason": {"sender": 1, "rule": 2, "redeployed_sha": 0}})
    );

    // No deployment: null, never 0.
    let empty = app.metrics(&format!("service=nobody&end={END}")).await;
    assert_eq!(
        empty["rework_rate"],
        json!({"deployments": 0, "unplanned_deployments": 0, "percent": null,
               "by_reason": {"sender": 0, "rule": 0, "redeployed_sha": 0}})
    );
}

#[tokio::test]
async fn services_and_report_carry_the_rework_rate_and_deployments_their_fields() {
    let app = spawn_app().await;
    record_rework_history(&app).await;

    let services = app.get(&format!("/api/v1/services?end={END}")).await;
    assert_eq!(services.status, 200, "{}", services.body);
    let rework_of = |name: &str| -> Value {
        services.body["services"]
            .as_array()
            .expect("services")
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no service {name}"))["metrics"]["rework_rate"]
            .clone()
    };
    assert_eq!(rework_of("api")["percent"], 80.0);
    // web: w1 alone, planned: 0 / 1 = 0 %.
    assert_eq!(rework_of("web")["percent"], 0.0);

    let report = app.get(&format!("/api/v1/report?end={END}")).await;
    assert_eq!(report.status, 200, "{}", report.body);
    assert_eq!(
        report.body["organisation"]["rework_rate"]["unplanned_deployments"],
        4
    );

    // A deployment shows what was sent; labels are trimmed and de-duplicated.
    let a5 = app.get("/api/v1/deployments/a5").await;
    assert_eq!(a5.status, 200, "{}", a5.body);
    let d = &a5.body;
    assert_eq!(d["rollback"], true);
    assert_eq!(d["hotfix"], false);
    assert_eq!(d["labels"], json!(["Rollback", "db"]));
    assert_eq!(d["branch"], json!(null));
    let a = app
        .deploy(
            json!({"id": "l1", "service": "api", "environment": "production",
                       "labels": [" hotfix ", "hotfix", "x"], "branch": " hotfix/1 "}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let l1 = app.get("/api/v1/deployments/l1").await;
    let d = &l1.body;
    assert_eq!(d["labels"], json!(["hotfix", "x"]));
    assert_eq!(d["branch"], "hotfix/1");
}

#[tokio::test]
async fn configured_rules_replace_the_defaults() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("pacer.toml");
    std::fs::write(
        &file,
        "[metrics.rework]\nunplanned_branches = [\"release/*-fix\"]\nunplanned_labels = [\"P1\"]\n",
    )
    .expect("write config");
    let settings = Settings::load(Some(&file)).expect("valid config");
    assert_eq!(
        settings.metrics.rework.unplanned_branches,
        ["release/*-fix"]
    );
    let app = spawn_app_with(settings).await;
    record_rework_history(&app).await;
    for d in [
        json!({"id": "b1", "sha": "v8", "deployed_at": t(90.0), "branch": "release/2.1-fix"}),
        json!({"id": "b2", "sha": "v9", "deployed_at": t(91.0), "labels": ["p1"]}),
        json!({"id": "b3", "sha": "va", "deployed_at": t(92.0), "branch": "release/2.1"}),
    ] {
        let mut d = d;
        d["service"] = json!("api");
        d["environment"] = json!("production");
        assert_eq!(app.deploy(d).await.status, 201);
    }
    // api: a2..a6, b1..b3 = 8. The default rules are gone: a4 (hotfix/*) is planned, a5
    // keeps its rollback mark. Unplanned: a2 (sha), a3, a5 (sender), b1 (branch), b2
    // (label P1, any case) = 5: 5 / 8 = 62.5 %. rule: b1, b2 = 2.
    let m = app.metrics(&format!("service=api&days=30&end={END}")).await;
    assert_eq!(
        m["rework_rate"],
        json!({"deployments": 8, "unplanned_deployments": 5, "percent": 62.5,
               "by_reason": {"sender": 2, "rule": 2, "redeployed_sha": 1}})
    );

    // An empty pattern is refused when the configuration loads.
    std::fs::write(&file, "[metrics.rework]\nunplanned_branches = [\" \"]\n").unwrap();
    let e = Settings::load(Some(&file)).expect_err("an empty pattern");
    assert!(
        e.to_string().contains("metrics.rework.unplanned_branches"),
        "{e}"
    );
    std::fs::write(&file, "[metrics.rework]\nunplanned_label = [\"x\"]\n").unwrap();
    let e = Settings::load(Some(&file)).expect_err("a typo");
    assert!(e.to_string().contains("unplanned_label"), "{e}");
}

#[tokio::test]
async fn bad_rework_fields_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let base = json!({"id": "bad", "service": "api", "environment": "production"});
    for (field, value, says) in [
        ("hotfix", json!("yes"), "hotfix must be true, false or null"),
        ("rollback", json!(1), "rollback must be true, false or null"),
        ("branch", json!(""), "branch must not be empty"),
        ("branch", json!(["main"]), "branch must be a string"),
        ("labels", json!("hotfix"), "labels must be an array"),
        ("labels", json!([1]), "labels[0] must be a string"),
        ("labels", json!(["ok", "  "]), "labels[1] must not be empty"),
        ("labels", json!(["a\nb"]), "labels[0] must be plain text"),
    ] {
        let mut body = base.clone();
        body[field] = value.clone();
        let a = app.deploy(body).await;
        assert_eq!(a.status, 400, "{field} = {value}: {}", a.body);
        assert!(a.error().contains(says), "{field} = {value}: {}", a.body);
    }
    let many: Vec<String> = (0..101).map(|k| format!("l{k}")).collect();
    let mut body = base.clone();
    body["labels"] = json!(many);
    let a = app.deploy(body).await;
    assert_eq!(a.status, 400);
    assert!(a.error().contains("the limit is 100"), "{}", a.body);
    assert_eq!(app.get("/api/v1/deployments/bad").await.status, 404);
}

#[tokio::test]
async fn prometheus_exposes_the_rework_rate_with_the_scope_labels() {
    let app = spawn_app_with(crate::helpers::settings_with_teams(&[("api", "payments")])).await;
    let empty = app.get("/metrics").await;
    assert_eq!(empty.status, 200);
    // No deployment: the rate is absent, the count is 0.
    assert!(
        !empty
            .text
            .lines()
            .any(|l| l.starts_with("pacer_dora_rework_rate_percent{")),
        "{}",
        empty.text
    );
    assert!(
        empty
            .text
            .lines()
            .any(|l| l == r#"pacer_dora_unplanned_deployments{scope="organization"} 0"#),
        "{}",
        empty.text
    );
    // Two deployments now (the default window ends at the scrape), one a hotfix: 50 %.
    for (id, hotfix) in [("n1", false), ("n2", true)] {
        let a = app
            .deploy(
                json!({"id": id, "service": "api", "environment": "production", "hotfix": hotfix}),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let text = app.get("/metrics").await.text;
    for line in [
        r#"pacer_dora_rework_rate_percent{scope="organization"} 50"#,
        r#"pacer_dora_rework_rate_percent{scope="team",team="payments"} 50"#,
        r#"pacer_dora_rework_rate_percent{scope="service",team="payments",service="api"} 50"#,
        r#"pacer_dora_unplanned_deployments{scope="service",team="payments",service="api"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
}

/// `pacer deployment record --hotfix --rollback` sends the sender's marks; without the
/// flags nothing is marked.
#[tokio::test]
async fn the_cli_records_hotfix_and_rollback_marks() {
    let app = spawn_app().await;
    let record = |id: &'static str, flags: &'static [&'static str]| {
        let server = app.address.clone();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_pacer"))
                .args([
                    "deployment",
                    "record",
                    "--server",
                    &server,
                    "--service",
                    "api",
                    "--environment",
                    "production",
                    "--id",
                    id,
                ])
                .args(flags)
                .env_remove("PACER_SERVER")
                .env_remove("PACER_CONFIG")
                .output()
                .expect("run pacer");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        })
    };
    record("c-both", &["--hotfix", "--rollback"]).await.unwrap();
    record("c-none", &[]).await.unwrap();
    record("c-hotfix", &["--hotfix"]).await.unwrap();
    let marks = |body: &Value| (body["hotfix"].clone(), body["rollback"].clone());
    let both = app.get("/api/v1/deployments/c-both").await;
    assert_eq!(
        marks(&both.body),
        (json!(true), json!(true)),
        "{}",
        both.body
    );
    let none = app.get("/api/v1/deployments/c-none").await;
    assert_eq!(marks(&none.body), (json!(false), json!(false)));
    let hotfix = app.get("/api/v1/deployments/c-hotfix").await;
    assert_eq!(marks(&hotfix.body), (json!(true), json!(false)));
}
