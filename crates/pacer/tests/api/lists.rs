//! `GET /api/v1/deployments` and `GET /api/v1/incidents`: filters, paging, newest first.

use crate::helpers::{TestApp, rfc, spawn_app, t};
use serde_json::{Value, json};

/// Six deployments; newest first they are w2, b1 (same time, larger id first), w1, a3, a2, a1.
async fn deployments(app: &TestApp) {
    for (id, service, environment, status, hours, team) in [
        ("a1", "api", "production", "success", 1.0, Some("payments")),
        ("a2", "api", "staging", "success", 2.0, None),
        ("a3", "api", "production", "failure", 3.0, None),
        (
            "w1",
            "web",
            "Production",
            "success",
            4.0,
            Some("storefront"),
        ),
        ("w2", "web", "prod", "success", 5.0, None),
        ("b1", "batch", "production", "success", 5.0, None),
    ] {
        let mut body = json!({"id": id, "service": service, "environment": environment,
                              "status": status, "deployed_at": t(hours)});
        if let Some(team) = team {
            body["team"] = json!(team);
        }
        let a = app.deploy(body).await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
}

/// Five incidents; newest first they are i5, i4 (same time), i3, i2, i1.
async fn incidents(app: &TestApp) {
    for body in [
        json!({"id": "i1", "service": "api", "opened_at": t(1.0), "resolved_at": t(2.0), "caused_by_deploy": true}),
        json!({"id": "i2", "service": "api", "environment": "staging", "opened_at": t(3.0)}),
        json!({"id": "i3", "service": "web", "opened_at": t(4.0), "caused_by_deploy": false}),
        json!({"id": "i4", "opened_at": t(5.0)}),
        json!({"id": "i5", "service": "web", "opened_at": t(5.0), "severity": "SEV3"}),
    ] {
        let a = app.incident(body).await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
}

/// The ids of one page of `key` and its paging fields.
async fn page(app: &TestApp, path: &str, key: &str) -> (Vec<String>, Value) {
    let a = app.get(path).await;
    assert_eq!(a.status, 200, "{path}: {}", a.body);
    let ids = a.body[key]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: no {key} array in {}", a.body))
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect();
    let paging = json!({"limit": a.body["limit"], "offset": a.body["offset"], "next_offset": a.body["next_offset"]});
    (ids, paging)
}

async fn ids(app: &TestApp, path: &str, key: &str) -> Vec<String> {
    page(app, path, key).await.0
}

#[tokio::test]
async fn deployments_are_listed_newest_first_with_every_field() {
    let app = spawn_app().await;
    deployments(&app).await;
    let (ids, paging) = page(&app, "/api/v1/deployments", "deployments").await;
    assert_eq!(ids, ["w2", "b1", "w1", "a3", "a2", "a1"]);
    assert_eq!(
        paging,
        json!({"limit": 100, "offset": 0, "next_offset": null})
    );

    let a = app.get("/api/v1/deployments?service=web").await;
    assert_eq!(
        a.body["deployments"][1],
        json!({
            "id": "w1", "service": "web", "environment": "Production", "status": "success",
            "deployed_at": rfc(4.0), "sha": null, "repo": null, "team": "storefront",
            "changes": [], "lead_time_seconds": null, "counts": true,
            "hotfix": false, "rollback": false, "branch": null, "labels": [],
        })
    );
    // Only successful production deployments count (`prod` and `Production` are production).
    let all = app.get("/api/v1/deployments").await.body;
    let counts: Vec<(&str, bool)> = all["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["id"].as_str().unwrap(), d["counts"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        counts,
        [
            ("w2", true),
            ("b1", true),
            ("w1", true),
            ("a3", false),
            ("a2", false),
            ("a1", true)
        ]
    );
}

#[tokio::test]
async fn deployment_filters() {
    let app = spawn_app().await;
    deployments(&app).await;
    let d = "deployments";
    for (query, expected) in [
        ("service=api", vec!["a3", "a2", "a1"]),
        ("service=nope", vec![]),
        // `team` resolves to the services the team owns (named by a1 and w1).
        ("team=payments", vec!["a3", "a2", "a1"]),
        ("team=storefront", vec!["w2", "w1"]),
        ("team=nobody", vec![]),
        // `environment` matches one name, case-insensitively.
        ("environment=production", vec!["b1", "w1", "a3", "a1"]),
        ("environment=PROD", vec!["w2"]),
        ("environment=staging", vec!["a2"]),
        ("status=failure", vec!["a3"]),
        ("status=SUCCESS", vec!["w2", "b1", "w1", "a2", "a1"]),
        // `from` and `to` are inclusive, in either form.
        (
            &format!("from={}&to={}", t(2.0), t(4.0)),
            vec!["w1", "a3", "a2"],
        ),
        (&format!("from={}", rfc(4.0)), vec!["w2", "b1", "w1"]),
        (&format!("to={}", rfc(1.0)), vec!["a1"]),
        (&format!("from={0}&to={0}", t(5.0)), vec!["w2", "b1"]),
        (
            "service=api&environment=production&status=success",
            vec!["a1"],
        ),
        ("team=payments&status=failure", vec!["a3"]),
        // An empty value means "not given".
        ("service=&team=", vec!["w2", "b1", "w1", "a3", "a2", "a1"]),
    ] {
        assert_eq!(
            ids(&app, &format!("/api/v1/deployments?{query}"), d).await,
            expected,
            "{query}"
        );
    }
}

#[tokio::test]
async fn deployment_paging() {
    let app = spawn_app().await;
    deployments(&app).await;
    let d = "deployments";
    for (query, expected, next) in [
        ("limit=2", vec!["w2", "b1"], json!(2)),
        ("limit=2&offset=2", vec!["w1", "a3"], json!(4)),
        // Exactly the last two: no next page.
        ("limit=2&offset=4", vec!["a2", "a1"], json!(null)),
        ("limit=5", vec!["w2", "b1", "w1", "a3", "a2"], json!(5)),
        ("limit=5&offset=5", vec!["a1"], json!(null)),
        ("offset=6", vec![], json!(null)),
        ("offset=600", vec![], json!(null)),
        (
            "limit=1000",
            vec!["w2", "b1", "w1", "a3", "a2", "a1"],
            json!(null),
        ),
        ("service=api&limit=1&offset=1", vec!["a2"], json!(2)),
    ] {
        let (got, paging) = page(&app, &format!("/api/v1/deployments?{query}"), d).await;
        assert_eq!(got, expected, "{query}");
        assert_eq!(paging["next_offset"], next, "{query}");
    }
    // Following next_offset visits every deployment once, in order.
    let mut seen = Vec::new();
    let mut offset = Some(0);
    while let Some(o) = offset {
        let (got, paging) = page(&app, &format!("/api/v1/deployments?limit=4&offset={o}"), d).await;
        assert_eq!(paging["limit"], 4);
        assert_eq!(paging["offset"], o);
        seen.extend(got);
        offset = paging["next_offset"].as_u64();
    }
    assert_eq!(seen, ["w2", "b1", "w1", "a3", "a2", "a1"]);
}

#[tokio::test]
async fn incident_filters_and_paging() {
    let app = spawn_app().await;
    deployments(&app).await;
    incidents(&app).await;
    let i = "incidents";
    for (query, expected) in [
        ("", vec!["i5", "i4", "i3", "i2", "i1"]),
        ("service=web", vec!["i5", "i3"]),
        ("service=api", vec!["i2", "i1"]),
        // A team's incidents are its services'; an incident with no service belongs to none.
        ("team=storefront", vec!["i5", "i3"]),
        ("team=payments", vec!["i2", "i1"]),
        ("environment=staging", vec!["i2"]),
        ("environment=Production", vec!["i5", "i4", "i3", "i1"]),
        ("untriaged=true", vec!["i5", "i4", "i2"]),
        ("untriaged=yes", vec!["i5", "i4", "i2"]),
        ("untriaged=false", vec!["i3", "i1"]),
        ("untriaged=0", vec!["i3", "i1"]),
        (&format!("from={}&to={}", t(3.0), t(4.0)), vec!["i3", "i2"]),
        (&format!("from={}", rfc(5.0)), vec!["i5", "i4"]),
        ("service=web&untriaged=true", vec!["i5"]),
    ] {
        assert_eq!(
            ids(&app, &format!("/api/v1/incidents?{query}"), i).await,
            expected,
            "{query}"
        );
    }
    let (got, paging) = page(&app, "/api/v1/incidents?limit=2&offset=2", i).await;
    assert_eq!(got, ["i3", "i2"]);
    assert_eq!(paging, json!({"limit": 2, "offset": 2, "next_offset": 4}));
    let (got, paging) = page(&app, "/api/v1/incidents?limit=2&offset=4", i).await;
    assert_eq!(got, ["i1"]);
    assert_eq!(paging["next_offset"], json!(null));

    let a = app.get("/api/v1/incidents?service=api").await;
    assert_eq!(
        a.body["incidents"],
        json!([
            {"id": "i2", "service": "api", "environment": "staging", "opened_at": rfc(3.0),
             "resolved_at": null, "severity": null, "caused_by_deploy": null, "deployment_id": null,
             "duration_seconds": null, "production": false,
             "fault_class": null, "note": null, "triaged_by": null, "triaged_at": null},
            {"id": "i1", "service": "api", "environment": "production", "opened_at": rfc(1.0),
             "resolved_at": rfc(2.0), "severity": null, "caused_by_deploy": true, "deployment_id": null,
             "duration_seconds": 3600.0, "production": true,
             "fault_class": null, "note": null, "triaged_by": null, "triaged_at": null},
        ])
    );
}

#[tokio::test]
async fn untriaged_incidents_list_their_candidate_deployments() {
    let app = spawn_app().await;
    deployments(&app).await;
    incidents(&app).await;
    let a = app.get("/api/v1/incidents?untriaged=true").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let candidates: Vec<(String, Value)> = a.body["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["candidate_deployment_ids"].clone(),
            )
        })
        .collect();
    // i5 (web, opened at 5 h): web's production deploys in [4 h, 5 h] are w1 (4 h,
    // "Production") and w2 (5 h, "prod"), newest first. i4 names no service: every service's,
    // w2 and b1 at 5 h (larger id first), then w1. i2 is a staging incident: no candidates.
    assert_eq!(
        candidates,
        [
            ("i5".to_string(), json!(["w2", "w1"])),
            ("i4".to_string(), json!(["w2", "b1", "w1"])),
            ("i2".to_string(), Value::Null),
        ]
    );
    // Triaged incidents carry no candidate list.
    let a = app.get("/api/v1/incidents?untriaged=false").await;
    assert!(
        a.body["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i.get("candidate_deployment_ids").is_none())
    );
}
