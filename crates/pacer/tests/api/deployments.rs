use crate::helpers::{spawn_app, t};
use serde_json::json;

#[tokio::test]
async fn a_deployment_is_recorded_once_and_listed() {
    let app = spawn_app().await;
    let body =
        json!({"id": "d1", "service": "api", "environment": "production", "deployed_at": t(1.0)});
    let first = app.deploy(body.clone()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body, json!({"id": "d1"}));
    let again = app
        .deploy(json!({"id": "d1", "service": "other", "environment": "staging"}))
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, json!({"id": "d1"}));

    let got = app.get("/api/v1/deployments/d1").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["service"], "api", "the first recording is kept");
    let list = app.get("/api/v1/deployments").await;
    assert_eq!(list.body["deployments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_deployment_without_id_gets_one() {
    let app = spawn_app().await;
    let a = app
        .deploy(json!({"service": "api", "environment": "prod"}))
        .await;
    assert_eq!(a.status, 201);
    let id = a.body["id"].as_str().unwrap();
    assert!(id.starts_with("dep_"), "{id}");
    let got = app.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(got.body["counts"], true);
}
