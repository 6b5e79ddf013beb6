use crate::helpers::{spawn_app, t};
use serde_json::json;

#[tokio::test]
async fn triage_lists_candidate_deployments_within_an_hour_before() {
    let app = spawn_app().await;
    // d-old is 2 h before the incident, d-near 30 min before, d-other is another service.
    for (id, service, h) in [
        ("d-old", "api", 0.0),
        ("d-near", "api", 1.5),
        ("d-other", "web", 1.9),
    ] {
        assert_eq!(app.deploy(json!({"id": id, "service": service, "environment": "production", "deployed_at": t(h)})).await.status, 201);
    }
    let a = app
        .incident(json!({"id": "i1", "service": "api", "opened_at": t(2.0)}))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let triaged = app
        .patch(
            "/api/v1/incidents/i1",
            &json!({"caused_by_deploy": true, "deployment_id": "d-near"}),
        )
        .await;
    assert_eq!(triaged.status, 200, "{}", triaged.body);
    assert_eq!(triaged.body["incident"]["caused_by_deploy"], true);
    let ids: Vec<&str> = triaged.body["candidate_deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["d-near"]);
}
