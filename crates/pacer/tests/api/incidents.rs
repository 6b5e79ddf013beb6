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

/// Each delivery updates the fields it carries; an incident may be opened, resolved,
/// reopened and resolved again, and its restore time runs from the first opening to the
/// final resolution.
#[tokio::test]
async fn an_incident_takes_the_newest_state_of_each_field() {
    let app = spawn_app().await;
    let opened = app
        .incident(json!({"id": "i1", "service": "api", "opened_at": t(1.0), "severity": "SEV2"}))
        .await;
    assert_eq!(opened.status, 201, "{}", opened.body);
    assert_eq!(opened.body["incident"]["resolved_at"], json!(null));

    // Resolved in a second delivery that leaves out what it does not change.
    let resolved = app
        .incident(json!({"id": "i1", "resolved_at": t(1.5)}))
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.body);
    assert_eq!(resolved.body["incident"]["severity"], "SEV2");
    assert_eq!(resolved.body["incident"]["service"], "api");
    assert_eq!(resolved.body["incident"]["duration_seconds"], 1800.0);
    let m = app.metrics(&format!("end={}", t(24.0))).await;
    assert_eq!(m["mttr"]["p50_seconds"], 1800.0);

    // Reopened (resolved_at: null): no longer restored, so not in MTTR.
    let reopened = app
        .incident(json!({"id": "i1", "resolved_at": null, "severity": "SEV1"}))
        .await;
    assert_eq!(reopened.status, 200, "{}", reopened.body);
    assert_eq!(reopened.body["incident"]["resolved_at"], json!(null));
    assert_eq!(reopened.body["incident"]["severity"], "SEV1");
    let m = app.metrics(&format!("end={}", t(24.0))).await;
    assert_eq!(m["mttr"]["incidents"], 0);

    // Resolved for good: from the first opening (t 1) to the final resolution (t 4).
    app.incident(json!({"id": "i1", "resolved_at": t(4.0)}))
        .await;
    let m = app.metrics(&format!("end={}", t(24.0))).await;
    assert_eq!(m["mttr"]["incidents"], 1);
    assert_eq!(m["mttr"]["p50_seconds"], 3.0 * 3600.0);

    // Triage survives later deliveries that do not mention it; null clears it.
    app.patch("/api/v1/incidents/i1", &json!({"caused_by_deploy": false}))
        .await;
    let again = app
        .incident(json!({"id": "i1", "opened_at": t(1.0), "resolved_at": t(4.0)}))
        .await;
    assert_eq!(again.body["incident"]["caused_by_deploy"], false);
    let cleared = app
        .patch("/api/v1/incidents/i1", &json!({"caused_by_deploy": null}))
        .await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert_eq!(cleared.body["incident"]["caused_by_deploy"], json!(null));
    let m = app.metrics(&format!("end={}", t(24.0))).await;
    assert_eq!(m["untriaged_incidents"], 1);
}
