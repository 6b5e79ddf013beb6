//! Who owns what and what counts: configured teams, production spellings, the `window`
//! attribution policy and incidents that name no service.

use crate::helpers::{END, TestApp, settings_with_teams, spawn_app, spawn_app_with, t};
use pacer::settings::Settings;
use pacer_core::AttributionPolicy;
use serde_json::{Value, json};

async fn deploy_all(app: &TestApp, deployments: &[Value]) {
    for d in deployments {
        let a = app.deploy(d.clone()).await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
}

async fn open_all(app: &TestApp, incidents: &[Value]) {
    for i in incidents {
        let a = app.incident(i.clone()).await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
}

fn names(list: &Value, pointer: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v.pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn configured_teams_override_the_team_deployments_name() {
    let app = spawn_app_with(settings_with_teams(&[
        ("api", "platform"),
        ("ghost", "platform"),
    ]))
    .await;
    deploy_all(
        &app,
        &[
            json!({"id": "d1", "service": "api", "environment": "production", "team": "payments", "deployed_at": t(10.0)}),
            json!({"id": "d2", "service": "web", "environment": "production", "team": "storefront", "deployed_at": t(11.0)}),
        ],
    )
    .await;

    let platform = app.metrics(&format!("team=platform&end={END}")).await;
    assert_eq!(
        platform["scope"],
        json!({"service": null, "team": "platform"})
    );
    assert_eq!(platform["deployment_frequency"]["deployments"], 1);
    // The team a deployment names loses to configuration: payments owns nothing.
    let payments = app.metrics(&format!("team=payments&end={END}")).await;
    assert_eq!(payments["deployment_frequency"]["deployments"], 0);
    assert_eq!(payments["lead_time"]["p50_seconds"], json!(null));
    let storefront = app.metrics(&format!("team=storefront&end={END}")).await;
    assert_eq!(storefront["deployment_frequency"]["deployments"], 1);

    let listed = app.get("/api/v1/deployments?team=platform").await;
    assert_eq!(names(&listed.body["deployments"], "/id"), ["d1"]);
    assert_eq!(
        app.get("/api/v1/deployments?team=payments").await.body["deployments"],
        json!([])
    );

    let report = app.get(&format!("/api/v1/report?end={END}")).await.body;
    assert_eq!(
        names(&report["teams"], "/scope/team"),
        ["platform", "storefront"]
    );
    // A configured service with no events yet is still reported, with its team.
    assert_eq!(
        names(&report["services"], "/scope/service"),
        ["api", "ghost", "web"]
    );
    assert_eq!(
        names(&report["services"], "/scope/team"),
        ["platform", "platform", "storefront"]
    );

    let services = app.get(&format!("/api/v1/services?end={END}")).await.body;
    assert_eq!(
        names(&services["services"], "/name"),
        ["api", "ghost", "web"]
    );
    assert_eq!(
        names(&services["services"], "/team"),
        ["platform", "platform", "storefront"]
    );
}

#[tokio::test]
async fn production_is_matched_case_insensitively() {
    let app = spawn_app().await;
    deploy_all(
        &app,
        &[
            json!({"id": "d1", "service": "api", "environment": "Production", "deployed_at": t(1.0), "lead_time_seconds": 60}),
            json!({"id": "d2", "service": "api", "environment": "prod", "deployed_at": t(2.0), "lead_time_seconds": 120}),
            json!({"id": "d3", "service": "api", "environment": "PRD", "deployed_at": t(3.0), "lead_time_seconds": 180}),
            json!({"id": "d4", "service": "api", "environment": " production ", "deployed_at": t(4.0), "lead_time_seconds": 240}),
            // Not production: another name, a prefix match, or a failed deploy.
            json!({"id": "x1", "service": "api", "environment": "production-eu", "deployed_at": t(5.0), "lead_time_seconds": 1}),
            json!({"id": "x2", "service": "api", "environment": "staging", "deployed_at": t(6.0), "lead_time_seconds": 1}),
            json!({"id": "x3", "service": "api", "environment": "Prod", "status": "failure", "deployed_at": t(7.0), "lead_time_seconds": 1}),
        ],
    )
    .await;
    open_all(
        &app,
        &[
            json!({"id": "i1", "service": "api", "environment": "Prod", "opened_at": t(8.0), "resolved_at": t(9.0)}),
            json!({"id": "i2", "service": "api", "environment": "staging", "opened_at": t(8.0), "resolved_at": t(8.5)}),
        ],
    )
    .await;
    let m = app.metrics(&format!("service=api&end={END}")).await;
    assert_eq!(m["deployment_frequency"]["deployments"], 4);
    assert_eq!(m["lead_time"]["changes"], 4);
    // [60, 120, 180, 240]: p50 = 150.
    assert_eq!(m["lead_time"]["p50_seconds"], 150.0);
    assert_eq!(m["mttr"]["incidents"], 1);
    assert_eq!(m["mttr"]["p50_seconds"], 3600.0);
    assert_eq!(m["untriaged_incidents"], 1);
}

#[tokio::test]
async fn configured_production_environments_replace_the_defaults() {
    let mut settings = Settings::default();
    settings.metrics.production_environments = vec!["live".into()];
    let app = spawn_app_with(settings).await;
    deploy_all(
        &app,
        &[
            json!({"id": "d1", "service": "api", "environment": "Live", "deployed_at": t(1.0)}),
            json!({"id": "d2", "service": "api", "environment": "production", "deployed_at": t(2.0)}),
        ],
    )
    .await;
    let m = app.metrics(&format!("end={END}")).await;
    assert_eq!(m["deployment_frequency"]["deployments"], 1);
    let counts: Vec<bool> = app.get("/api/v1/deployments").await.body["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["counts"].as_bool().unwrap())
        .collect();
    assert_eq!(
        counts,
        [false, true],
        "d2 (production) no longer counts; d1 (Live) does"
    );
}

/// Three api deploys (t 10, 20, 30) and untriaged incidents around them:
/// - ia opened 30 min after d1 (restored in 30 min), id exactly 1 h after d2: the `window`
///   policy blames d1 and d2;
/// - ib 2 h after d2 and ie with no service: never blamed by the window;
/// - ic 15 min after d3 but triaged `false`: an explicit false always wins.
async fn attribution_history(app: &TestApp) {
    deploy_all(
        app,
        &[
            json!({"id": "d1", "service": "api", "environment": "production", "deployed_at": t(10.0)}),
            json!({"id": "d2", "service": "api", "environment": "production", "deployed_at": t(20.0)}),
            json!({"id": "d3", "service": "api", "environment": "production", "deployed_at": t(30.0)}),
        ],
    )
    .await;
    open_all(
        app,
        &[
            json!({"id": "ia", "service": "api", "opened_at": t(10.5), "resolved_at": t(11.0)}),
            json!({"id": "id", "service": "api", "opened_at": t(21.0)}),
            json!({"id": "ib", "service": "api", "opened_at": t(22.0)}),
            json!({"id": "ie", "opened_at": t(20.5)}),
            json!({"id": "ic", "service": "api", "opened_at": t(30.25), "caused_by_deploy": false}),
        ],
    )
    .await;
}

#[tokio::test]
async fn the_window_attribution_policy_counts_untriaged_incidents_within_an_hour() {
    let explicit = spawn_app().await;
    attribution_history(&explicit).await;
    let m = explicit.metrics(&format!("end={END}")).await;
    assert_eq!(m["attribution_policy"], "explicit");
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 0);
    assert_eq!(m["change_failure_rate"]["percent"], 0.0);
    assert_eq!(m["failed_deployment_recovery_time"]["incidents"], 0);
    assert_eq!(m["untriaged_incidents"], 4);

    let mut settings = Settings::default();
    settings.metrics.attribution = AttributionPolicy::Window;
    let window = spawn_app_with(settings).await;
    attribution_history(&window).await;
    let m = window.metrics(&format!("end={END}")).await;
    assert_eq!(m["attribution_policy"], "window");
    assert_eq!(m["change_failure_rate"]["deployments"], 3);
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 2);
    let percent = m["change_failure_rate"]["percent"].as_f64().unwrap();
    assert!((percent - 200.0 / 3.0).abs() < 1e-9, "{percent}");
    assert_eq!(m["change_failure_rate"]["band"], "low");
    assert_eq!(
        m["failed_deployment_recovery_time"],
        json!({"incidents": 1, "p50_seconds": 1800.0, "p90_seconds": 1800.0})
    );
    // Still untriaged: the policy counts them, on-call should still triage them.
    assert_eq!(m["untriaged_incidents"], 4);
    // The service scope agrees (ie names no service and is not in it).
    let api = window.metrics(&format!("service=api&end={END}")).await;
    assert_eq!(api["change_failure_rate"]["failed_deployments"], 2);
    assert_eq!(api["untriaged_incidents"], 3);

    // Triaging ia false takes d1 out under the window policy too.
    let a = window
        .patch("/api/v1/incidents/ia", &json!({"caused_by_deploy": false}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let m = window.metrics(&format!("end={END}")).await;
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 1);
    assert_eq!(m["untriaged_incidents"], 3);
}

#[tokio::test]
async fn an_incident_with_no_service_is_organisation_wide_and_flagged() {
    let app = spawn_app().await;
    deploy_all(
        &app,
        &[
            json!({"id": "d1", "service": "api", "environment": "production", "deployed_at": t(10.0)}),
            json!({"id": "d2", "service": "web", "environment": "production", "deployed_at": t(12.0)}),
        ],
    )
    .await;
    // The handbook's incident push: no service, caused by a deploy, restored in 1 h.
    open_all(
        &app,
        &[json!({"id": "push-1", "opened_at": t(12.5), "resolved_at": t(13.5), "caused_by_deploy": true})],
    )
    .await;

    let org = app.metrics(&format!("end={END}")).await;
    let cfr = &org["change_failure_rate"];
    assert_eq!(cfr["failed_deployments"], 1);
    assert_eq!(cfr["attributed_organisation_wide"], 1);
    assert!(
        cfr["hint"]
            .as_str()
            .unwrap()
            .contains("send the incident's service"),
        "{cfr}"
    );
    assert_eq!(org["mttr"]["incidents"], 1);
    assert_eq!(org["mttr"]["p50_seconds"], 3600.0);
    assert_eq!(org["failed_deployment_recovery_time"]["incidents"], 1);

    // Blamed on web's deploy (the latest of any service before it opened), flagged there
    // too; but its restore time counts only organisation-wide.
    let web = app.metrics(&format!("service=web&end={END}")).await;
    assert_eq!(web["change_failure_rate"]["failed_deployments"], 1);
    assert_eq!(
        web["change_failure_rate"]["attributed_organisation_wide"],
        1
    );
    assert!(web["change_failure_rate"]["hint"].is_string());
    assert_eq!(web["mttr"]["incidents"], 0);
    assert_eq!(web["mttr"]["p50_seconds"], json!(null));
    assert!(web["mttr"]["missing_reason"].is_string(), "{}", web["mttr"]);
    let api = app.metrics(&format!("service=api&end={END}")).await;
    assert_eq!(api["change_failure_rate"]["failed_deployments"], 0);
    assert_eq!(
        api["change_failure_rate"]["attributed_organisation_wide"],
        0
    );
    assert!(api["change_failure_rate"].get("hint").is_none(), "{api}");
    assert_eq!(api["mttr"]["incidents"], 0);

    // Its triage candidates are any service's deploys within the hour before it.
    let got = app.get("/api/v1/incidents/push-1").await;
    assert_eq!(names(&got.body["candidate_deployments"], "/id"), ["d2"]);

    // Naming the deployment makes the attribution exact: no flag, no hint.
    let a = app
        .patch("/api/v1/incidents/push-1", &json!({"deployment_id": "d1"}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let org = app.metrics(&format!("end={END}")).await;
    assert_eq!(org["change_failure_rate"]["failed_deployments"], 1);
    assert_eq!(
        org["change_failure_rate"]["attributed_organisation_wide"],
        0
    );
    assert!(org["change_failure_rate"].get("hint").is_none());
    let api = app.metrics(&format!("service=api&end={END}")).await;
    assert_eq!(api["change_failure_rate"]["failed_deployments"], 1);
    let web = app.metrics(&format!("service=web&end={END}")).await;
    assert_eq!(web["change_failure_rate"]["failed_deployments"], 0);
}
