//! Whole-organisation reads: services, the report, health and the OpenAPI document.

use crate::helpers::{END, observe, record_history, rfc, spawn_app};
use serde_json::{Value, json};

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let live = app.get("/healthz").await;
    assert_eq!((live.status, live.body), (200, json!({"status": "ok"})));
    let ready = app.get("/readyz").await;
    assert_eq!(
        (ready.status, ready.body),
        (200, json!({"status": "ready"}))
    );
}

#[tokio::test]
async fn the_openapi_document_is_served() {
    let app = spawn_app().await;
    for path in ["/api/v1/openapi.json", "/openapi.json"] {
        let a = app.get(path).await;
        assert_eq!(a.status, 200, "{path}");
        assert!(
            a.content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("application/json")),
            "{path}: {:?}",
            a.content_type
        );
        assert!(a.body["openapi"].is_string(), "{path}: no openapi version");
        assert!(a.body["paths"].is_object(), "{path}: no paths");
    }
}

fn by_name<'a>(services: &'a Value, name: &str) -> &'a Value {
    services
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {services}"))
}

#[tokio::test]
async fn services_with_team_last_production_deployment_and_metrics() {
    let app = spawn_app().await;
    record_history(&app).await;
    // A staging deployment after web's production one is not its last production deployment,
    // and a service only an incident names is listed too.
    app.deploy(
        json!({"id": "d6", "service": "web", "environment": "staging", "deployed_at": rfc(80.0)}),
    )
    .await;
    app.incident(json!({"id": "i4", "service": "batch", "opened_at": rfc(90.0)}))
        .await;

    let a = app.get(&format!("/api/v1/services?end={END}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let services = &a.body["services"];
    let names: Vec<&str> = services
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "batch", "web"]);

    let api = by_name(services, "api");
    assert_eq!(api["team"], "payments");
    // d5 (a failed deploy) is later, but d2 is the last successful production one.
    assert_eq!(
        api["last_production_deployment"],
        json!({"id": "d2", "deployed_at": rfc(50.0), "sha": null})
    );
    let web = by_name(services, "web");
    assert_eq!(web["team"], "storefront");
    assert_eq!(
        web["last_production_deployment"],
        json!({"id": "d3", "deployed_at": rfc(60.0), "sha": null})
    );
    let batch = by_name(services, "batch");
    assert_eq!(batch["team"], json!(null));
    assert_eq!(batch["last_production_deployment"], json!(null));

    // Each service's metrics are the same figures /metrics gives for it, with its team.
    for name in ["api", "web"] {
        let mut alone = app.metrics(&format!("service={name}&end={END}")).await;
        alone["scope"]["team"] = by_name(services, name)["team"].clone();
        assert_eq!(by_name(services, name)["metrics"], alone, "{name}");
    }
    assert_eq!(api["metrics"]["deployment_frequency"]["deployments"], 2);
    assert_eq!(api["metrics"]["window"]["days"], 30);
}

#[tokio::test]
async fn services_default_to_the_configured_window_ending_now() {
    let app = spawn_app().await;
    let now = jiff::Timestamp::now().as_second();
    // One production deploy a day ago with a 2 h lead time: inside the default 30 days.
    app.deploy(
        json!({"id": "recent", "service": "api", "environment": "production",
                      "deployed_at": now - 86_400, "lead_time_seconds": 7200}),
    )
    .await;
    let a = app.get("/api/v1/services").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let m = &by_name(&a.body["services"], "api")["metrics"];
    assert_eq!(m["window"]["days"], 30);
    let end: jiff::Timestamp = m["window"]["end"].as_str().unwrap().parse().unwrap();
    let end = end.as_second();
    assert!(
        (end - now).abs() <= 60,
        "the window ends now: {}",
        m["window"]
    );
    assert_eq!(m["deployment_frequency"]["deployments"], 1);
    assert_eq!(m["lead_time"]["p50_seconds"], 7200.0);
    // `days` is honoured.
    let a = app.get("/api/v1/services?days=7").await;
    assert_eq!(
        by_name(&a.body["services"], "api")["metrics"]["window"]["days"],
        7
    );
}

#[tokio::test]
async fn the_report_agrees_with_every_scope() {
    let app = spawn_app().await;
    record_history(&app).await;
    let a = app.get(&format!("/api/v1/report?end={END}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let r = &a.body;
    assert_eq!(
        r["window"],
        json!({"start": "2026-03-01T00:00:00Z", "end": END, "days": 30})
    );
    assert_eq!(
        r["organisation"],
        app.metrics(&format!("end={END}")).await,
        "organisation"
    );
    let teams: Vec<&str> = r["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["scope"]["team"].as_str().unwrap())
        .collect();
    assert_eq!(teams, ["payments", "storefront"]);
    for m in r["teams"].as_array().unwrap() {
        let team = m["scope"]["team"].as_str().unwrap();
        assert_eq!(
            m,
            &app.metrics(&format!("team={team}&end={END}")).await,
            "{team}"
        );
    }
    let services: Vec<&str> = r["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["scope"]["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["api", "web"]);
    for m in r["services"].as_array().unwrap() {
        let service = m["scope"]["service"].as_str().unwrap();
        let mut alone = app.metrics(&format!("service={service}&end={END}")).await;
        alone["scope"]["team"] = m["scope"]["team"].clone();
        assert_eq!(m, &alone, "{service}");
    }
    // The report is read-only.
    let before = observe(&app).await;
    app.get(&format!("/api/v1/report?end={END}&days=7")).await;
    assert_eq!(before, observe(&app).await);
}
