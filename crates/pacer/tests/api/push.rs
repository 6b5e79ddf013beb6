//! The Pushgateway push protocol: the handbook recipe's bodies, as its heredocs produce
//! them, become deployments, lead times and incidents.

use crate::helpers::{Answer, TestApp, spawn_app};
use serde_json::Value;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

impl TestApp {
    async fn push(&self, method: &str, path: &str, body: &str) -> Answer {
        self.send(method, path, Some(body.as_bytes().to_vec()))
            .await
    }

    async fn deployments(&self, query: &str) -> Vec<Value> {
        let a = self.get(&format!("/api/v1/deployments?{query}")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body["deployments"].as_array().expect("list").clone()
    }
}

const GROUP: &str = "/metrics/job/dora/instance/acme_payments";

/// The recipe's first step (`dora_deployment_timestamp`), for `repo` in `env` at `ts`.
fn deploy_body(repo: &str, env: &str, ts: i64) -> String {
    format!(
        "# TYPE dora_deployment_timestamp gauge\ndora_deployment_timestamp{{repo=\"{repo}\",env=\"{env}\"}} {ts}\n"
    )
}

/// The recipe's second step (`dora_lead_time_seconds`).
fn lead_time_body(repo: &str, seconds: i64) -> String {
    format!(
        "# TYPE dora_lead_time_seconds gauge\ndora_lead_time_seconds{{repo=\"{repo}\",env=\"production\"}} {seconds}\n"
    )
}

/// The recipe's incident step.
fn incident_body(id: &str, duration: i64, caused: u8) -> String {
    format!(
        "# TYPE dora_incident_duration_seconds gauge\ndora_incident_duration_seconds{{id=\"{id}\"}} {duration}\n\
         # TYPE dora_incident_caused_by_deploy gauge\ndora_incident_caused_by_deploy{{id=\"{id}\"}} {caused}\n"
    )
}

#[tokio::test]
async fn the_recipe_steps_record_a_deployment_and_its_lead_time() {
    let app = spawn_app().await;
    let ts = now() - 3600;
    let a = app
        .push(
            "POST",
            GROUP,
            &deploy_body("acme/payments", "production", ts),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["deployments"][0]["service"], "acme/payments");
    assert_eq!(a.body["deployments"][0]["already_recorded"], false);
    assert_eq!(a.body["grouping_key"]["instance"], "acme_payments");

    let a = app
        .push("POST", GROUP, &lead_time_body("acme/payments", 10_800))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);

    let list = app.deployments("service=acme/payments").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["environment"], "production");
    assert_eq!(list[0]["status"], "success");
    assert_eq!(list[0]["repo"], "acme/payments");
    assert_eq!(list[0]["lead_time_seconds"], 10_800.0);
    assert_eq!(
        list[0]["deployed_at"],
        pacer::timefmt::format(pacer_core::Timestamp::from_seconds(ts))
    );

    // One deployment in 30 days: 1/30 per day; one change of 3 h: p50 = p90 = 10800 s.
    let m = app.metrics("service=acme/payments").await;
    assert_eq!(m["deployment_frequency"]["deployments"], 1);
    assert_eq!(m["deployment_frequency"]["per_day"], 1.0 / 30.0);
    assert_eq!(m["lead_time"]["p50_seconds"], 10_800.0);
    assert_eq!(m["lead_time"]["p90_seconds"], 10_800.0);
}

#[tokio::test]
async fn a_repush_never_adds_a_deployment_and_deploys_a_second_apart_both_count() {
    let app = spawn_app().await;
    let ts = now() - 600;
    for method in ["POST", "PUT", "POST"] {
        let a = app
            .push(
                method,
                GROUP,
                &deploy_body("acme/payments", "production", ts),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    assert_eq!(app.deployments("").await.len(), 1);
    let a = app
        .push(
            "PUT",
            GROUP,
            &deploy_body("acme/payments", "production", ts + 1),
        )
        .await;
    assert_eq!(a.body["deployments"][0]["already_recorded"], false);
    assert_eq!(app.deployments("").await.len(), 2);
    let m = app.metrics("service=acme/payments").await;
    assert_eq!(m["deployment_frequency"]["deployments"], 2);
}

#[tokio::test]
async fn a_lead_time_equal_to_the_deploy_timestamp_is_refused_but_the_deployment_stays() {
    let app = spawn_app().await;
    let ts = now();
    app.push(
        "POST",
        GROUP,
        &deploy_body("acme/payments", "production", ts),
    )
    .await;
    // FIRST_COMMIT_TS empty: LEAD_TIME = DEPLOY_TS - 0.
    let a = app
        .push("POST", GROUP, &lead_time_body("acme/payments", ts))
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.body["code"], "invalid_lead_time");
    let e = a.error();
    assert!(e.contains("git log origin/main..HEAD"), "{e}");
    assert!(e.contains("equals the deploy timestamp"), "{e}");
    assert!(e.contains("line 2"), "{e}");
    let list = app.deployments("").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["lead_time_seconds"], Value::Null);

    // Longer than 10 years but not the Unix time: refused too, with the general cause.
    let a = app
        .push("POST", GROUP, &lead_time_body("acme/payments", 400_000_000))
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.error().contains("longer than 10 years"), "{}", a.error());

    // Both in one body: the deployment is recorded, the lead time refused.
    let body = format!(
        "{}{}",
        deploy_body("acme/payments", "production", ts - 5),
        lead_time_body("acme/payments", ts)
    );
    let a = app.push("POST", GROUP, &body).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.error().contains("recorded anyway: 1 deployment"),
        "{}",
        a.error()
    );
    assert_eq!(app.deployments("").await.len(), 2);
}

#[tokio::test]
async fn a_lead_time_before_any_deployment_names_the_missing_step() {
    let app = spawn_app().await;
    let a = app
        .push("POST", GROUP, &lead_time_body("acme/payments", 3600))
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.error().contains("push dora_deployment_timestamp"),
        "{}",
        a.error()
    );
}

#[tokio::test]
async fn an_incident_push_is_a_resolved_production_incident_triaged_as_flagged() {
    let app = spawn_app().await;
    let deployed = now() - 7200;
    app.push(
        "POST",
        GROUP,
        &deploy_body("acme/payments", "production", deployed),
    )
    .await;
    let before = now();
    let a = app
        .push(
            "POST",
            "/metrics/job/dora/instance/incident-Q1W2E3R4T5Y6U7",
            &incident_body("Q1W2E3R4T5Y6U7", 1680, 1),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let got = app.get("/api/v1/incidents/Q1W2E3R4T5Y6U7").await;
    assert_eq!(got.status, 200, "{}", got.body);
    let i = &got.body["incident"];
    assert_eq!(i["environment"], "production");
    assert_eq!(i["caused_by_deploy"], true);
    assert_eq!(i["service"], Value::Null);
    let opened = pacer::timefmt::parse_rfc3339(i["opened_at"].as_str().unwrap()).unwrap();
    let resolved = pacer::timefmt::parse_rfc3339(i["resolved_at"].as_str().unwrap()).unwrap();
    assert_eq!(resolved.seconds_since(opened), 1680.0);
    assert!(resolved.millis() / 1000 >= before && resolved.millis() / 1000 <= now());

    // Organisation-wide: MTTR p50 1680 s; the incident (no service) is attributed by time to
    // the only deployment, so 1 failed of 1 = 100 %.
    let m = app.metrics("").await;
    assert_eq!(m["mttr"]["incidents"], 1);
    assert_eq!(m["mttr"]["p50_seconds"], 1680.0);
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 1);
    assert_eq!(m["change_failure_rate"]["percent"], 100.0);

    // A re-push (retried step) keeps the first resolution time; a 0 flag re-triages it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let a = app
        .push(
            "POST",
            "/metrics/job/dora/instance/incident-Q1W2E3R4T5Y6U7",
            &incident_body("Q1W2E3R4T5Y6U7", 1680, 0),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let again = app.get("/api/v1/incidents/Q1W2E3R4T5Y6U7").await;
    assert_eq!(again.body["incident"]["resolved_at"], i["resolved_at"]);
    assert_eq!(again.body["incident"]["opened_at"], i["opened_at"]);
    assert_eq!(again.body["incident"]["caused_by_deploy"], false);
    let m = app.metrics("").await;
    assert_eq!(m["change_failure_rate"]["percent"], 0.0);
}

#[tokio::test]
async fn staging_pushes_are_stored_but_never_counted() {
    let app = spawn_app().await;
    app.push(
        "POST",
        GROUP,
        &deploy_body("acme/payments", "staging", now() - 60),
    )
    .await;
    assert_eq!(app.deployments("environment=staging").await.len(), 1);
    let m = app.metrics("").await;
    assert_eq!(m["deployment_frequency"]["deployments"], 0);
}

#[tokio::test]
async fn unknown_families_are_accepted_and_named() {
    let app = spawn_app().await;
    let body = format!(
        "# HELP build_seconds How long the build took.\n# TYPE build_seconds gauge\nbuild_seconds 93.5\n\
         # TYPE ci_runs counter\nci_runs_total{{job=\"x\"}} 3\n{}",
        deploy_body("acme/payments", "production", now() - 60)
    );
    let a = app.push("PUT", GROUP, &body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["ignored_families"],
        serde_json::json!(["build_seconds", "ci_runs"])
    );
    assert_eq!(app.deployments("").await.len(), 1);
}

#[tokio::test]
async fn base64_grouping_keys_are_decoded() {
    let app = spawn_app().await;
    // job@base64 "dora", instance@base64 "acme/payments" (base64url, no padding).
    let a = app
        .push(
            "PUT",
            "/metrics/job@base64/ZG9yYQ/instance@base64/YWNtZS9wYXltZW50cw",
            &deploy_body("acme/payments", "production", now() - 60),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["grouping_key"]["job"], "dora");
    assert_eq!(a.body["grouping_key"]["instance"], "acme/payments");
}

#[tokio::test]
async fn delete_of_a_group_removes_nothing() {
    let app = spawn_app().await;
    app.push(
        "POST",
        GROUP,
        &deploy_body("acme/payments", "production", now() - 60),
    )
    .await;
    let a = app.push("DELETE", GROUP, "").await;
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(a.body["deleted"], false);
    assert_eq!(app.deployments("").await.len(), 1);
}

#[tokio::test]
async fn bad_pushes_get_400_naming_the_problem_and_record_nothing() {
    let app = spawn_app().await;
    let ts = now() - 60;
    let cases: Vec<(String, String, &str, &str)> = vec![
        (
            GROUP.into(),
            "# TYPE dora_deployment_timestamp gauge\ndora_deployment_timestamp{repo=\"a\",env=\"production\" 1\n".into(),
            "invalid_exposition",
            "line 2",
        ),
        (
            GROUP.into(),
            format!("dora_deployment_timestamp{{repo=\"a\"}} {ts}\n"),
            "invalid_sample",
            "no env label",
        ),
        (
            GROUP.into(),
            format!("dora_deployment_timestamp{{env=\"production\"}} {ts}\n"),
            "invalid_sample",
            "no repo label",
        ),
        (
            GROUP.into(),
            deploy_body("a", "production", ts * 1000),
            "invalid_sample",
            "milliseconds",
        ),
        (
            GROUP.into(),
            deploy_body("a", "production", 0),
            "invalid_sample",
            "before 2000",
        ),
        (
            GROUP.into(),
            deploy_body("a", "production", ts + 30 * 86_400),
            "invalid_sample",
            "future",
        ),
        (
            GROUP.into(),
            "dora_incident_caused_by_deploy{id=\"X1\"} 1\n".into(),
            "invalid_sample",
            "dora_incident_duration_seconds",
        ),
        (
            GROUP.into(),
            incident_body("X2", 60, 2),
            "invalid_sample",
            "push 1",
        ),
        (
            GROUP.into(),
            incident_body("X3", -5, 1),
            "invalid_sample",
            "zero or more",
        ),
        (
            "/metrics/job/dora/instance".into(),
            deploy_body("a", "production", ts),
            "invalid_grouping_key",
            "instance",
        ),
        (
            "/metrics/job@base64/!!!".into(),
            deploy_body("a", "production", ts),
            "invalid_grouping_key",
            "base64",
        ),
    ];
    for (path, body, code, needle) in cases {
        let a = app.push("POST", &path, &body).await;
        assert_eq!(a.status, 400, "{path} {body}: {}", a.body);
        assert_eq!(a.body["code"], code, "{body}: {}", a.body);
        assert!(
            a.error().to_lowercase().contains(&needle.to_lowercase()),
            "{body}: {}",
            a.error()
        );
    }
    // A valid deployment beside an invalid incident: nothing of the push is recorded.
    let body = format!(
        "{}{}",
        deploy_body("a", "production", ts),
        incident_body("X4", 60, 7)
    );
    assert_eq!(app.push("POST", GROUP, &body).await.status, 400);
    assert_eq!(app.deployments("").await.len(), 0);
    let incidents = app.get("/api/v1/incidents").await;
    assert_eq!(incidents.body["incidents"], serde_json::json!([]));
}
