use crate::helpers::{spawn_app, t};
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
