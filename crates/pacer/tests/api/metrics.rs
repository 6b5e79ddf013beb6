use crate::helpers::{END, record_history, spawn_app, t};
use serde_json::json;

/// The spec's worked shape on a small history, figures computed by hand.
#[tokio::test]
async fn metrics_for_one_service() {
    let app = spawn_app().await;
    // Window: 30 days ending at t(720) = 2026-03-31T00:00:00Z.
    // Three production deploys with one change each, started 1 h, 2 h and 6 h before:
    // lead times [3600, 7200, 21600]: p50 = 7200, p90 = 7200 + 0.8*(21600-7200) = 18720.
    for (i, (h, lead)) in [(10.0, 1.0), (20.0, 2.0), (30.0, 6.0)].iter().enumerate() {
        let a = app
            .deploy(json!({
                "id": format!("d{i}"), "service": "api", "environment": "production", "deployed_at": t(*h),
                "changes": [{"id": format!("c{i}"), "started_at": t(h - lead)}]
            }))
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    // One incident caused by d1, resolved after 30 min.
    app.incident(json!({"id": "i1", "service": "api", "opened_at": t(20.5), "resolved_at": t(21.0), "caused_by_deploy": true})).await;
    let m = app
        .metrics(&format!("service=api&days=30&end={}", t(720.0)))
        .await;
    assert_eq!(m["scope"], json!({"service": "api", "team": null}));
    assert_eq!(m["window"]["days"], 30);
    assert_eq!(m["window"]["end"], "2026-03-31T00:00:00Z");
    assert_eq!(m["deployment_frequency"]["deployments"], 3);
    assert_eq!(m["deployment_frequency"]["per_day"], 0.1);
    assert_eq!(m["deployment_frequency"]["band"], "high");
    assert_eq!(m["lead_time"]["changes"], 3);
    assert_eq!(m["lead_time"]["p50_seconds"], 7200.0);
    assert_eq!(m["lead_time"]["p90_seconds"], 18720.0);
    assert_eq!(m["lead_time"]["band"], "high");
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 1);
    assert!((m["change_failure_rate"]["percent"].as_f64().unwrap() - 100.0 / 3.0).abs() < 1e-9);
    assert_eq!(m["change_failure_rate"]["band"], "low");
    assert_eq!(m["mttr"]["incidents"], 1);
    assert_eq!(m["mttr"]["p50_seconds"], 1800.0);
    assert_eq!(m["mttr"]["band"], "elite");
    assert_eq!(m["failed_deployment_recovery_time"]["incidents"], 1);
    assert_eq!(m["untriaged_incidents"], 0);
    assert_eq!(m["overall_band"], "low");
}

#[tokio::test]
async fn mttr_is_missing_with_a_reason_without_an_incident_feed() {
    let app = spawn_app().await;
    app.deploy(json!({"service": "api", "environment": "production", "deployed_at": t(1.0), "lead_time_seconds": 60})).await;
    let m = app.metrics(&format!("end={}", t(24.0))).await;
    assert_eq!(m["mttr"]["p50_seconds"], json!(null));
    assert_eq!(m["mttr"]["band"], json!(null));
    assert!(
        m["mttr"]["missing_reason"]
            .as_str()
            .unwrap()
            .contains("never estimated from deployments")
    );
    assert_eq!(m["overall_band"], json!(null));
}

/// The known history's figures, worked out by hand (see `helpers::record_history`), then
/// the whole bodies as users read them.
#[tokio::test]
async fn metrics_of_the_known_history() {
    let app = spawn_app().await;
    record_history(&app).await;

    let org = app.metrics(&format!("end={END}")).await;
    // Production deploys d1, d2 (prod) and d3 (Production) over 30 days.
    assert_eq!(org["deployment_frequency"]["deployments"], 3);
    assert_eq!(org["deployment_frequency"]["per_day"], 0.1);
    // Lead times [1800, 3600, 7200, 7200]: p50 = 5400, p90 = 7200.
    assert_eq!(org["lead_time"]["changes"], 4);
    assert_eq!(org["lead_time"]["p50_seconds"], 5400.0);
    assert_eq!(org["lead_time"]["p90_seconds"], 7200.0);
    // d1 caused i1: 1 of 3.
    assert_eq!(org["change_failure_rate"]["failed_deployments"], 1);
    // Restore times [3600, 6300]: p50 = 4950, p90 = 3600 + 0.9 * 2700 = 6030.
    assert_eq!(org["mttr"]["p50_seconds"], 4950.0);
    assert_eq!(org["mttr"]["p90_seconds"], 6030.0);
    assert_eq!(org["mttr"]["band"], "high");
    // i2 and i3 are untriaged.
    assert_eq!(org["untriaged_incidents"], 2);
    assert_eq!(org["overall_band"], "low");
    insta::assert_json_snapshot!("organisation", org);

    let api = app.metrics(&format!("service=api&end={END}")).await;
    // Lead times [1800, 3600, 7200]: p50 = 3600 (not under 1 h: high), p90 = 6480.
    assert_eq!(api["lead_time"]["p50_seconds"], 3600.0);
    assert_eq!(api["lead_time"]["p90_seconds"], 6480.0);
    assert_eq!(api["lead_time"]["band"], "high");
    assert_eq!(api["change_failure_rate"]["percent"], 50.0);
    insta::assert_json_snapshot!("service_api", api);

    let team = app
        .metrics(&format!("team=storefront&days=7&end={END}"))
        .await;
    // Nothing in the last 7 days: no figures, and no band drawn from nothing.
    assert_eq!(team["deployment_frequency"]["deployments"], 0);
    assert_eq!(team["lead_time"]["p50_seconds"], json!(null));
    assert_eq!(team["overall_band"], json!(null));
    insta::assert_json_snapshot!("team_storefront_last_7_days", team);
}

/// A change counts once per service, in its first successful production deployment of that
/// service, even when that deployment is outside the window; one that started after its
/// deployment counts as 0 and is reported.
#[tokio::test]
async fn each_change_counts_once_per_service() {
    let app = spawn_app().await;
    let change = |id: &str, h: f64| json!({"id": id, "started_at": t(h)});
    for body in [
        json!({"id": "d1", "service": "api", "environment": "production", "deployed_at": t(10.0),
               "changes": [change("c1", 8.0)]}),
        // c1 again: already counted in d1.
        json!({"id": "d2", "service": "api", "environment": "production", "deployed_at": t(20.0),
               "changes": [change("c1", 8.0), change("c2", 19.0)]}),
        // The same commit reaching another service (a monorepo) counts there too.
        json!({"id": "d3", "service": "web", "environment": "production", "deployed_at": t(15.0),
               "changes": [change("c1", 8.0)]}),
        // Staging carried c3 first; production is what counts.
        json!({"id": "d4", "service": "api", "environment": "staging", "deployed_at": t(18.0),
               "changes": [change("c3", 17.0)]}),
        // c4 started after the deployment (clock skew): 0 s.
        json!({"id": "d5", "service": "api", "environment": "production", "deployed_at": t(25.0),
               "changes": [change("c3", 17.0), change("c4", 26.0)]}),
    ] {
        let a = app.deploy(body).await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    // [0, 3600 (c2), 7200 (c1 in d1), 25200 (c1 in web), 28800 (c3)]:
    // p50 = 7200, p90 = 25200 + 0.6 * 3600 = 27360.
    let m = app.metrics(&format!("end={END}")).await;
    assert_eq!(m["lead_time"]["changes"], 5);
    assert_eq!(m["lead_time"]["p50_seconds"], 7200.0);
    assert_eq!(m["lead_time"]["p90_seconds"], 27360.0);
    assert_eq!(m["lead_time"]["changes_started_after_deployment"], 1);
    assert!(
        m["lead_time"]["note"]
            .as_str()
            .unwrap()
            .contains("1 change(s) started after their deployment"),
        "{}",
        m["lead_time"]
    );
    // One day ending at t(34) leaves d1 out (start is exclusive): c1 is still not counted
    // again in d2, because d1 carried it first.
    let m = app.metrics(&format!("days=1&end={}", t(34.0))).await;
    assert_eq!(m["window"]["start"], "2026-03-01T10:00:00Z");
    assert_eq!(m["deployment_frequency"]["deployments"], 3);
    assert_eq!(m["lead_time"]["changes"], 4);
    let api = app
        .metrics(&format!("service=api&days=1&end={}", t(34.0)))
        .await;
    // c2 3600, c3 28800, c4 0.
    assert_eq!(api["lead_time"]["changes"], 3);
    assert_eq!(api["lead_time"]["p50_seconds"], 3600.0);
}
