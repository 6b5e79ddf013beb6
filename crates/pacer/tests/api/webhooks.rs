//! Vendor webhooks: every fixture of `tests/fixtures/{github,gitlab,flux,argocd}` (copied
//! byte for byte from the shared vendor fixtures) is replayed through a real server, signed
//! with the header values of `tests/fixtures/signatures.json` (computed by the vendors'
//! scheme over the exact file bytes), and unsigned or wrongly signed.

use crate::helpers::{Answer, TestApp, deliver, spawn_app, spawn_app_with};
use hmac::{Hmac, Mac};
use pacer::settings::{
    ArgoCdWebhook, FluxWebhook, GithubWebhook, GitlabWebhook, Secret, Settings, WebhookSettings,
};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::BTreeMap;

const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const GITLAB_TOKEN: &str = "gitlab-fixture-token";
const FLUX_SECRET: &str = "flux-fixture-token";
/// Argo CD signs nothing; this is the bearer token of our documented webhook service.
const ARGOCD_TOKEN: &str = "argocd-fixture-token";
const FLUX_OBJECT: &str = "Kustomization/flux-system/checkout-api";
const FLUX_SHA: &str = "5f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6";

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The expected `header` value for `file` in signatures.json.
fn signature(file: &str, header: &str) -> String {
    let all: Value = serde_json::from_slice(&fixture("signatures.json")).unwrap();
    all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"] == file && e["header"] == header && e.get("expect").is_none())
        .and_then(|e| e["value"].as_str())
        .unwrap_or_else(|| panic!("signatures.json has no {header} for {file}"))
        .to_string()
}

/// `sha256=<hex>` of `body` under `secret`, for bodies that are not fixtures.
fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn settings() -> Settings {
    Settings {
        webhooks: WebhookSettings {
            github: GithubWebhook {
                secret: Some(Secret::new(GITHUB_SECRET)),
                ..GithubWebhook::default()
            },
            gitlab: GitlabWebhook {
                token: Some(Secret::new(GITLAB_TOKEN)),
                ..GitlabWebhook::default()
            },
            flux: FluxWebhook {
                secret: Some(Secret::new(FLUX_SECRET)),
                services: BTreeMap::from([(FLUX_OBJECT.into(), "checkout-api".into())]),
                ..FluxWebhook::default()
            },
            argocd: ArgoCdWebhook {
                token: Some(Secret::new(ARGOCD_TOKEN)),
                ..ArgoCdWebhook::default()
            },
            environments: BTreeMap::new(),
            ..WebhookSettings::default()
        },
        ..Settings::default()
    }
}

/// A GitHub delivery of `file` as `event`, signed as signatures.json says GitHub signs it.
async fn github(app: &TestApp, file: &str, event: &str, delivery: &str) -> Answer {
    let path = format!("github/{file}");
    let sig = signature(&path, "X-Hub-Signature-256");
    deliver(
        app,
        "/webhooks/github",
        &[
            ("X-GitHub-Event", event),
            ("X-GitHub-Delivery", delivery),
            ("X-Hub-Signature-256", &sig),
        ],
        fixture(&path),
    )
    .await
}

async fn gitlab(app: &TestApp, file: &str, extra: &[(&str, &str)]) -> Answer {
    let mut headers = vec![
        ("X-Gitlab-Event", "Deployment Hook"),
        ("X-Gitlab-Token", GITLAB_TOKEN),
    ];
    headers.extend_from_slice(extra);
    deliver(
        app,
        "/webhooks/gitlab",
        &headers,
        fixture(&format!("gitlab/{file}")),
    )
    .await
}

async fn flux(app: &TestApp, file: &str) -> Answer {
    let path = format!("flux/{file}");
    let sig = signature(&path, "X-Signature");
    deliver(
        app,
        "/webhooks/flux",
        &[
            ("X-Signature", &sig),
            ("Gotk-Component", "kustomize-controller"),
        ],
        fixture(&path),
    )
    .await
}

async fn argocd(app: &TestApp, file: &str) -> Answer {
    let auth = format!("Bearer {ARGOCD_TOKEN}");
    deliver(
        app,
        "/webhooks/argocd",
        &[("Authorization", &auth)],
        fixture(&format!("argocd/{file}")),
    )
    .await
}

/// Every stored deployment, oldest id first.
async fn stored(app: &TestApp) -> Vec<Value> {
    let a = app.get("/api/v1/deployments?limit=1000").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mut all = a.body["deployments"].as_array().unwrap().clone();
    all.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    all
}

/// The fields a webhook sets, as stored (read back through the API).
fn recorded(d: &Value) -> Value {
    json!({
        "id": d["id"], "service": d["service"], "environment": d["environment"],
        "status": d["status"], "deployed_at": d["deployed_at"], "sha": d["sha"],
        "repo": d["repo"], "team": d["team"], "changes": d["changes"],
        "lead_time_seconds": d["lead_time_seconds"],
    })
}

fn expect(
    id: &str,
    service: &str,
    environment: &str,
    status: &str,
    deployed_at: &str,
    sha: &str,
    repo: Option<&str>,
) -> Value {
    json!({
        "id": id, "service": service, "environment": environment, "status": status,
        "deployed_at": deployed_at, "sha": sha, "repo": repo, "team": null, "changes": [],
        "lead_time_seconds": null,
    })
}

fn github_success() -> Value {
    expect(
        "github-145988746",
        "Hello-World",
        "production",
        "success",
        "2019-05-15T15:20:55Z",
        "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        Some("Codertocat/Hello-World"),
    )
}

fn github_failure() -> Value {
    expect(
        "github-145988746-failure",
        "Hello-World",
        "production",
        "failure",
        "2019-05-15T15:21:10Z",
        "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        Some("Codertocat/Hello-World"),
    )
}

/// Every GitHub fixture with the event name GitHub sends it under.
const GITHUB_FIXTURES: &[(&str, &str)] = &[
    ("deployment.created.json", "deployment"),
    ("deployment_status.failure.json", "deployment_status"),
    (
        "deployment_status.in_progress.actions-gh-pages.json",
        "deployment_status",
    ),
    ("deployment_status.success.json", "deployment_status"),
    ("ping.json", "ping"),
    ("pull_request.closed.merged.json", "pull_request"),
    ("pull_request.closed.unmerged.json", "pull_request"),
    ("push.new-branch.json", "push"),
    ("workflow_run.completed.json", "workflow_run"),
];

#[tokio::test]
async fn every_github_fixture_signed_is_recorded_or_ignored() {
    let app = spawn_app_with(settings()).await;
    for (i, (file, event)) in GITHUB_FIXTURES.iter().enumerate() {
        let r = github(&app, file, event, &format!("delivery-{i}")).await;
        let expected = match *file {
            "deployment_status.success.json" | "deployment_status.failure.json" => 201,
            "ping.json" => 200,
            _ => 202,
        };
        assert_eq!(r.status, expected, "{file}: {}", r.body);
        match r.status {
            202 => {
                assert_eq!(r.body["ignored"], true, "{file}");
                let why = r.body["message"].as_str().unwrap();
                if *file == "deployment_status.in_progress.actions-gh-pages.json" {
                    assert!(why.contains("\"in_progress\""), "{why}");
                } else {
                    assert!(
                        why.contains(&format!("event {event:?} is not used")),
                        "{why}"
                    );
                }
            }
            200 => assert!(r.body["message"].as_str().unwrap().starts_with("pong")),
            _ => {}
        }
    }
    let all = stored(&app).await;
    assert_eq!(
        all.iter().map(recorded).collect::<Vec<_>>(),
        vec![github_success(), github_failure()]
    );
    // Production and successful: counts; the failed status is stored and counts for nothing.
    assert_eq!(all[0]["counts"], true);
    assert_eq!(all[1]["counts"], false);
}

#[tokio::test]
async fn github_unsigned_or_wrongly_signed_is_refused_and_stores_nothing() {
    let app = spawn_app_with(settings()).await;
    let other = signature("github/ping.json", "X-Hub-Signature-256");
    for (file, event) in GITHUB_FIXTURES {
        let body = fixture(&format!("github/{file}"));
        let good = signature(&format!("github/{file}"), "X-Hub-Signature-256");
        let wrong_secret = sign("not the secret", &body);
        let legacy_sha1 = signature(&format!("github/{file}"), "X-Hub-Signature");
        let flipped = format!("{}0", &good[..good.len() - 1]);
        let cases: Vec<Option<&str>> = vec![
            None,
            Some(&wrong_secret),
            Some(&flipped),
            Some(&legacy_sha1),
            Some("sha256=not-hex"),
        ];
        let mut cases = cases;
        if *file != "ping.json" {
            cases.push(Some(&other));
        }
        for sig in cases {
            let mut headers = vec![("X-GitHub-Event", *event), ("X-GitHub-Delivery", "d-1")];
            if let Some(sig) = sig {
                headers.push(("X-Hub-Signature-256", sig));
            }
            let r = deliver(&app, "/webhooks/github", &headers, body.clone()).await;
            assert_eq!(r.status, 401, "{file} with {sig:?}: {}", r.body);
            assert_eq!(r.body["code"], "unauthorized");
            assert!(
                r.body["error"]
                    .as_str()
                    .unwrap()
                    .contains("X-Hub-Signature-256"),
                "{}",
                r.body
            );
        }
    }
    assert!(stored(&app).await.is_empty());
    // No delivery was remembered either: the refused delivery id is still new.
    let r = github(
        &app,
        "deployment_status.success.json",
        "deployment_status",
        "d-1",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn a_github_redelivery_is_already_processed() {
    let app = spawn_app_with(settings()).await;
    let first = github(
        &app,
        "deployment_status.success.json",
        "deployment_status",
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["id"], "github-145988746");

    // GitHub's "Redeliver" keeps X-GitHub-Delivery.
    let again = github(
        &app,
        "deployment_status.success.json",
        "deployment_status",
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["already_processed"], true);
    assert_eq!(again.body["id"], "github-145988746");
    assert!(
        again.body["message"]
            .as_str()
            .unwrap()
            .contains("already processed")
    );

    // The same GitHub deployment through another delivery (a second hook, say).
    let other = github(
        &app,
        "deployment_status.success.json",
        "deployment_status",
        "another-delivery",
    )
    .await;
    assert_eq!(other.status, 200, "{}", other.body);
    assert_eq!(other.body["already_recorded"], true);

    assert_eq!(
        stored(&app).await.iter().map(recorded).collect::<Vec<_>>(),
        vec![github_success()]
    );
    let m = app
        .metrics("service=Hello-World&days=30&end=2019-05-31T00:00:00Z")
        .await;
    assert_eq!(m["deployment_frequency"]["deployments"], 1);
}

#[tokio::test]
async fn github_names_map_through_the_config() {
    let mut s = settings();
    s.webhooks.github.services = BTreeMap::from([
        ("codertocat/hello-world".into(), "hello-any".into()),
        (
            "Codertocat/Hello-World:production".into(),
            "hello-api".into(),
        ),
    ]);
    s.webhooks.environments = BTreeMap::from([("Production".into(), "prod".into())]);
    let app = spawn_app_with(s).await;
    let r = github(
        &app,
        "deployment_status.success.json",
        "deployment_status",
        "d-1",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["service"], "hello-api");
    assert_eq!(r.body["environment"], "prod");
    let d = app.get("/api/v1/deployments/github-145988746").await;
    assert_eq!(d.body["service"], "hello-api");
    assert_eq!(d.body["environment"], "prod");
    // `prod` is a production name by default: it counts.
    assert_eq!(d.body["counts"], true);
}

#[tokio::test]
async fn github_bad_payloads_name_the_field() {
    let app = spawn_app_with(settings()).await;
    let send = |body: Vec<u8>, event: &'static str| {
        let sig = sign(GITHUB_SECRET, &body);
        let app = &app;
        async move {
            deliver(
                app,
                "/webhooks/github",
                &[
                    ("X-GitHub-Event", event),
                    ("X-GitHub-Delivery", "d-bad"),
                    ("X-Hub-Signature-256", &sig),
                ],
                body,
            )
            .await
        }
    };
    let r = send(b"{\"deployment_status\": ".to_vec(), "deployment_status").await;
    assert_eq!((r.status, r.body["code"].as_str()), (400, Some("bad_json")));

    let mut v: Value = serde_json::from_slice(&fixture("github/deployment_status.success.json"))
        .expect("fixture is JSON");
    v["deployment"].as_object_mut().unwrap().remove("id");
    let r = send(serde_json::to_vec(&v).unwrap(), "deployment_status").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["code"], "missing_field");
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .starts_with("deployment.id is missing"),
        "{}",
        r.body
    );

    v["deployment"]["id"] = json!(145988746);
    v["deployment_status"]["created_at"] = json!("2019-02-30T00:00:00Z");
    let r = send(serde_json::to_vec(&v).unwrap(), "deployment_status").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .starts_with("deployment_status.created_at: "),
        "{}",
        r.body
    );

    // A signed delivery without X-GitHub-Event.
    let body = fixture("github/deployment_status.success.json");
    let sig = sign(GITHUB_SECRET, &body);
    let r = deliver(
        &app,
        "/webhooks/github",
        &[("X-Hub-Signature-256", &sig)],
        body,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["error"].as_str().unwrap().contains("X-GitHub-Event"));
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn a_form_encoded_github_delivery_is_verified_over_the_form_bytes() {
    let app = spawn_app_with(settings()).await;
    let json = fixture("github/deployment_status.success.json");
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", std::str::from_utf8(&json).unwrap())
        .finish();
    let sig = sign(GITHUB_SECRET, form.as_bytes());
    let response = app
        .client
        .post(app.url("/webhooks/github"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-GitHub-Event", "deployment_status")
        .header("X-GitHub-Delivery", "form-1")
        .header("X-Hub-Signature-256", sig)
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(
        stored(&app).await.iter().map(recorded).collect::<Vec<_>>(),
        vec![github_success()]
    );
}

#[tokio::test]
async fn a_receiver_without_a_secret_refuses_everything() {
    let app = spawn_app().await;
    let cases = [
        (
            "/webhooks/github",
            "webhooks.github.secret",
            "github/deployment_status.success.json",
        ),
        (
            "/webhooks/gitlab",
            "webhooks.gitlab.token",
            "gitlab/deployment.success.json",
        ),
        (
            "/webhooks/flux",
            "webhooks.flux.secret",
            "flux/kustomization.reconciliation-succeeded.json",
        ),
        (
            "/webhooks/argocd",
            "webhooks.argocd.token",
            "argocd/on-deployed.json",
        ),
    ];
    for (path, setting, file) in cases {
        let r = deliver(&app, path, &[], fixture(file)).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert_eq!(r.body["code"], "webhook_not_configured");
        let error = r.body["error"].as_str().unwrap();
        assert!(error.contains(setting), "{error}");
        let env = format!("PACER_{}", setting.to_uppercase().replace('.', "__"));
        assert!(error.contains(&env), "{error}");
    }
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn every_gitlab_fixture_with_the_token_is_recorded_or_ignored() {
    let app = spawn_app_with(settings()).await;
    for (file, status) in [
        ("deployment.running.json", 202),
        ("deployment.success.json", 201),
        ("deployment.failed.json", 201),
        ("deployment.canceled.json", 202),
    ] {
        let r = gitlab(&app, file, &[]).await;
        assert_eq!(r.status, status, "{file}: {}", r.body);
        if status == 202 {
            let why = r.body["message"].as_str().unwrap();
            assert!(why.starts_with("status is \""), "{why}");
        }
    }
    // "2021-04-28 21:50:00 +0200" is 19:50 UTC; "2021-04-29 10:02:31 +0200" is 08:02:31 UTC.
    // The full sha is the tail of commit_url (the body's short_sha has 8 digits).
    assert_eq!(
        stored(&app).await.iter().map(recorded).collect::<Vec<_>>(),
        vec![
            expect(
                "gitlab-15",
                "test-deployment-webhooks",
                "staging",
                "success",
                "2021-04-28T19:50:00Z",
                "279484c09fbe69ededfced8c1bb6e6d24616b468",
                Some("root/test-deployment-webhooks"),
            ),
            expect(
                "gitlab-16-failed",
                "test-deployment-webhooks",
                "staging",
                "failure",
                "2021-04-29T08:02:31Z",
                "b83d6e391c22777fca1ed3012fce84f633d7fed0",
                Some("root/test-deployment-webhooks"),
            ),
        ]
    );
    // Without Idempotency-Key (GitLab < 17.4), the deployment and status identify it.
    let again = gitlab(&app, "deployment.success.json", &[]).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["already_processed"], true);

    // Another event type on the same hook.
    let r = deliver(
        &app,
        "/webhooks/gitlab",
        &[
            ("X-Gitlab-Event", "Push Hook"),
            ("X-Gitlab-Token", GITLAB_TOKEN),
        ],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(stored(&app).await.len(), 2);
}

#[tokio::test]
async fn gitlab_deduplicates_on_idempotency_key_and_maps_names() {
    let mut s = settings();
    s.webhooks.gitlab.services =
        BTreeMap::from([("root/test-deployment-webhooks".into(), "checkout".into())]);
    s.webhooks.environments = BTreeMap::from([("staging".into(), "production".into())]);
    let app = spawn_app_with(s).await;
    let key = [("Idempotency-Key", "f5e5f430-f57b-4e6e-9fac-d9128cd7232f")];
    let r = gitlab(&app, "deployment.success.json", &key).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["service"], "checkout");
    assert_eq!(r.body["environment"], "production");
    let r = gitlab(&app, "deployment.success.json", &key).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["already_processed"], true);
    assert_eq!(r.body["id"], "gitlab-15");
    // The failed deployment 16 under another key is new.
    let r = gitlab(
        &app,
        "deployment.failed.json",
        &[("Idempotency-Key", "0b2c1d4e-0000-4000-8000-000000000016")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(stored(&app).await.len(), 2);
}

#[tokio::test]
async fn gitlab_without_the_token_is_refused_and_stores_nothing() {
    let app = spawn_app_with(settings()).await;
    for file in [
        "deployment.running.json",
        "deployment.success.json",
        "deployment.failed.json",
        "deployment.canceled.json",
    ] {
        for token in [
            None,
            Some("gitlab-fixture-toke"),
            Some("GITLAB-FIXTURE-TOKEN"),
        ] {
            let mut headers = vec![("X-Gitlab-Event", "Deployment Hook")];
            if let Some(t) = token {
                headers.push(("X-Gitlab-Token", t));
            }
            let r = deliver(
                &app,
                "/webhooks/gitlab",
                &headers,
                fixture(&format!("gitlab/{file}")),
            )
            .await;
            assert_eq!(r.status, 401, "{file} {token:?}: {}", r.body);
            assert!(r.body["error"].as_str().unwrap().contains("X-Gitlab-Token"));
        }
    }
    assert!(stored(&app).await.is_empty());
    // Nothing remembered: the first authenticated delivery is new.
    assert_eq!(
        gitlab(&app, "deployment.success.json", &[]).await.status,
        201
    );
}

fn flux_success() -> Value {
    expect(
        &format!("flux:Kustomization:flux-system:checkout-api:{FLUX_SHA}"),
        "checkout-api",
        "production",
        "success",
        "2026-03-10T14:00:42Z",
        FLUX_SHA,
        None,
    )
}

#[tokio::test]
async fn every_flux_fixture_signed_is_recorded_or_ignored() {
    let app = spawn_app_with(settings()).await;
    let r = flux(&app, "kustomization.reconciliation-succeeded.json").await;
    assert_eq!(r.status, 201, "{}", r.body);
    // The same event as an older notification-controller sends it (prefixed metadata
    // keys): the same object and revision, so the same rollout.
    let r = flux(
        &app,
        "kustomization.reconciliation-succeeded.legacy-metadata.json",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["already_processed"], true);

    let r = flux(&app, "kustomization.health-check-failed.json").await;
    assert_eq!(r.status, 202, "{}", r.body);
    let why = r.body["message"].as_str().unwrap();
    assert!(
        why.contains("reason HealthCheckFailed (severity error)"),
        "{why}"
    );

    // The docs example names an object nobody mapped.
    let r = flux(&app, "docs.kustomization.validation-failed.json").await;
    assert_eq!(r.status, 202, "{}", r.body);
    let why = r.body["message"].as_str().unwrap();
    assert!(
        why.starts_with("Kustomization/apps/webapp is not mapped to a service"),
        "{why}"
    );

    assert_eq!(
        stored(&app).await.iter().map(recorded).collect::<Vec<_>>(),
        vec![flux_success()]
    );
}

#[tokio::test]
async fn flux_legacy_metadata_alone_records_the_same_deployment() {
    let app = spawn_app_with(settings()).await;
    let r = flux(
        &app,
        "kustomization.reconciliation-succeeded.legacy-metadata.json",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        stored(&app).await.iter().map(recorded).collect::<Vec<_>>(),
        vec![flux_success()]
    );
}

#[tokio::test]
async fn flux_vendor_vector_verifies_and_a_gitrepository_is_ignored() {
    // notification-controller's own forwarder test: this key, these bytes, this header.
    let mut s = settings();
    s.webhooks.flux.secret = Some(Secret::new("7152fed34dd6149a7c75a276c510da27cb6f82b0"));
    let app = spawn_app_with(s).await;
    let r = flux(
        &app,
        "captured/notification-controller-test.gitrepository.json",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("only Kustomization and HelmRelease"),
        "{}",
        r.body
    );
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn an_unmapped_flux_object_is_ignored() {
    let mut s = settings();
    s.webhooks.flux.services.clear();
    let app = spawn_app_with(s).await;
    let r = flux(&app, "kustomization.reconciliation-succeeded.json").await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["ignored"], true);
    let why = r.body["message"].as_str().unwrap();
    assert!(
        why.contains(&format!(
            "add \"{FLUX_OBJECT}\" = \"<service>\" to [webhooks.flux.services]"
        )),
        "{why}"
    );
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn flux_unsigned_or_wrongly_signed_is_refused_and_stores_nothing() {
    let app = spawn_app_with(settings()).await;
    for file in [
        "kustomization.reconciliation-succeeded.json",
        "kustomization.reconciliation-succeeded.legacy-metadata.json",
        "kustomization.health-check-failed.json",
        "docs.kustomization.validation-failed.json",
        "captured/notification-controller-test.gitrepository.json",
    ] {
        let body = fixture(&format!("flux/{file}"));
        let wrong = sign("not-the-token", &body);
        // The vendor vector's signature is right for its own secret, not ours.
        let vendor = signature(
            "flux/captured/notification-controller-test.gitrepository.json",
            "X-Signature",
        );
        let bearer_with_hmac_only = format!("Bearer {FLUX_SECRET}");
        for headers in [
            vec![],
            vec![("X-Signature", wrong.as_str())],
            vec![("X-Signature", vendor.as_str())],
            vec![("X-Signature", "sha256")],
        ] {
            let r = deliver(&app, "/webhooks/flux", &headers, body.clone()).await;
            assert_eq!(r.status, 401, "{file} {headers:?}: {}", r.body);
        }
        // A generic provider's bearer token when only the HMAC secret is configured.
        let r = deliver(
            &app,
            "/webhooks/flux",
            &[("Authorization", &bearer_with_hmac_only)],
            body.clone(),
        )
        .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(
            r.body["error"]
                .as_str()
                .unwrap()
                .contains("webhooks.flux.token")
        );
    }
    assert!(stored(&app).await.is_empty());
    assert_eq!(
        flux(&app, "kustomization.reconciliation-succeeded.json")
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn a_flux_generic_provider_authenticates_with_a_bearer_token() {
    let mut s = settings();
    s.webhooks.flux.secret = None;
    s.webhooks.flux.token = Some(Secret::new("flux-generic-token"));
    let app = spawn_app_with(s).await;
    let body = fixture("flux/kustomization.reconciliation-succeeded.json");
    let r = deliver(
        &app,
        "/webhooks/flux",
        &[("Authorization", "Bearer wrong")],
        body.clone(),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = deliver(
        &app,
        "/webhooks/flux",
        &[("Authorization", "Bearer flux-generic-token")],
        body,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        stored(&app).await.iter().map(recorded).collect::<Vec<_>>(),
        vec![flux_success()]
    );
}

#[tokio::test]
async fn flux_success_without_a_revision_names_the_field() {
    let app = spawn_app_with(settings()).await;
    let mut v: Value =
        serde_json::from_slice(&fixture("flux/kustomization.reconciliation-succeeded.json"))
            .unwrap();
    v["metadata"] = json!({"commit_status": "update"});
    let body = serde_json::to_vec(&v).unwrap();
    let sig = sign(FLUX_SECRET, &body);
    let r = deliver(&app, "/webhooks/flux", &[("X-Signature", &sig)], body).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .starts_with("metadata.revision is missing"),
        "{}",
        r.body
    );
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn argocd_notifications_are_recorded_once() {
    let app = spawn_app_with(settings()).await;
    let r = argocd(&app, "on-deployed.json").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = argocd(&app, "on-sync-failed.json").await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Argo CD retries a notification on a network error: the same operation again.
    let r = argocd(&app, "on-deployed.json").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["already_processed"], true);

    // finishedAt 14:00:41Z is Unix 1773151241; 14:01:13Z is 1773151273.
    let repo = Some("https://github.com/acme/checkout-api.git");
    assert_eq!(
        stored(&app).await.iter().map(recorded).collect::<Vec<_>>(),
        vec![
            expect(
                &format!("argocd:argocd:checkout-api:{FLUX_SHA}:1773151241"),
                "checkout-api",
                "production",
                "success",
                "2026-03-10T14:00:41Z",
                FLUX_SHA,
                repo,
            ),
            expect(
                &format!("argocd:argocd:checkout-api:{FLUX_SHA}:1773151273:failed"),
                "checkout-api",
                "production",
                "failure",
                "2026-03-10T14:01:13Z",
                FLUX_SHA,
                repo,
            ),
        ]
    );
}

#[tokio::test]
async fn argocd_without_the_bearer_token_is_refused_and_stores_nothing() {
    let app = spawn_app_with(settings()).await;
    for file in ["on-deployed.json", "on-sync-failed.json"] {
        let wrong = format!("Bearer {ARGOCD_TOKEN}x");
        let basic = format!("Basic {ARGOCD_TOKEN}");
        for headers in [
            vec![],
            vec![("Authorization", wrong.as_str())],
            vec![("Authorization", basic.as_str())],
            vec![("Authorization", "Bearer ")],
        ] {
            let r = deliver(
                &app,
                "/webhooks/argocd",
                &headers,
                fixture(&format!("argocd/{file}")),
            )
            .await;
            assert_eq!(r.status, 401, "{file} {headers:?}: {}", r.body);
        }
    }
    assert!(stored(&app).await.is_empty());
    assert_eq!(argocd(&app, "on-deployed.json").await.status, 201);
}

#[tokio::test]
async fn argocd_bad_bodies_name_the_field() {
    let app = spawn_app_with(settings()).await;
    let auth = format!("Bearer {ARGOCD_TOKEN}");
    let headers = [("Authorization", auth.as_str())];
    let mut v: Value = serde_json::from_slice(&fixture("argocd/on-deployed.json")).unwrap();
    v["revision"] = json!("");
    let r = deliver(
        &app,
        "/webhooks/argocd",
        &headers,
        serde_json::to_vec(&v).unwrap(),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .starts_with("revision is missing")
    );
    v.as_object_mut().unwrap().remove("app");
    let r = deliver(
        &app,
        "/webhooks/argocd",
        &headers,
        serde_json::to_vec(&v).unwrap(),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .starts_with("app is missing")
    );
    let r = deliver(&app, "/webhooks/argocd", &headers, b"[1, 2]".to_vec()).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["code"], "bad_json");
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn metrics_count_webhook_ingests_and_refusals_by_source() {
    let app = spawn_app_with(settings()).await;
    assert_eq!(
        github(
            &app,
            "deployment_status.success.json",
            "deployment_status",
            "a"
        )
        .await
        .status,
        201
    );
    assert_eq!(
        github(
            &app,
            "deployment_status.failure.json",
            "deployment_status",
            "b"
        )
        .await
        .status,
        201
    );
    // A re-delivery is not a new event.
    assert_eq!(
        github(
            &app,
            "deployment_status.success.json",
            "deployment_status",
            "a"
        )
        .await
        .status,
        200
    );
    // One refusal.
    let r = deliver(
        &app,
        "/webhooks/github",
        &[
            ("X-GitHub-Event", "deployment_status"),
            ("X-GitHub-Delivery", "c"),
        ],
        fixture("github/deployment_status.success.json"),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        gitlab(&app, "deployment.failed.json", &[]).await.status,
        201
    );

    let text = app.get("/metrics").await.text;
    for line in [
        "pacer_events_ingested_total{source=\"github\",kind=\"deployment\"} 2\n",
        "pacer_events_ingested_total{source=\"gitlab\",kind=\"deployment\"} 1\n",
        "pacer_events_refused_total{source=\"github\",reason=\"unauthorized\"} 1\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(!text.contains("source=\"flux\""), "{text}");

    // The DORA figures of May 2019: one successful production deployment (the failed status
    // is recorded, and counts for nothing), 1 in 30 days = 0.0333/day.
    let m = app
        .metrics("service=Hello-World&days=30&end=2019-05-31T00:00:00Z")
        .await;
    assert_eq!(m["deployment_frequency"]["deployments"], 1);
    assert_eq!(m["deployment_frequency"]["per_day"], 1.0 / 30.0);
}

#[test]
fn webhook_settings_load_from_toml_with_vendor_names_intact() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pacer.toml");
    std::fs::write(
        &file,
        r#"
[webhooks.github]
secret = "It's a Secret to Everybody"
[webhooks.github.services]
"Codertocat/Hello-World:production" = "hello-api"
"acme/site.io" = "site"
[webhooks.flux]
secret = "flux-fixture-token"
[webhooks.flux.services]
"Kustomization/flux-system/checkout-api" = "checkout-api"
[webhooks.environments]
Production = "prod"
"#,
    )
    .unwrap();
    let s = Settings::load(Some(&file)).expect("loads");
    let github = &s.webhooks.github;
    assert_eq!(
        github.secret.as_ref().map(Secret::expose),
        Some(GITHUB_SECRET)
    );
    // Case, slashes, colons and dots in keys survive the config layers.
    assert_eq!(
        github.services["Codertocat/Hello-World:production"],
        "hello-api"
    );
    assert_eq!(github.services["acme/site.io"], "site");
    assert_eq!(s.webhooks.flux.services[FLUX_OBJECT], "checkout-api");
    assert_eq!(s.webhooks.flux.environment, "production");
    assert_eq!(s.webhooks.environments["Production"], "prod");
    // Secrets never show in logs or in `pacer config`.
    assert!(!format!("{s:?}").contains(GITHUB_SECRET));
    let printed = s.to_toml();
    assert!(!printed.contains(GITHUB_SECRET), "{printed}");
    assert!(printed.contains("secret = \"<redacted>\""), "{printed}");

    std::fs::write(&file, "[webhooks.flux.services]\napps = \"apps\"\n").unwrap();
    let e = Settings::load(Some(&file)).unwrap_err().to_string();
    assert!(e.contains("is not Kind/namespace/name"), "{e}");
}
