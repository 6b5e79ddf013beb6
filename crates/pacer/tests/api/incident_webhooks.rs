//! Incident webhooks: every fixture of `tests/fixtures/{pagerduty,opsgenie,alertmanager}`
//! (copied byte for byte from the shared vendor fixtures) replayed through a real server:
//! signed (PagerDuty, with the values of `tests/fixtures/signatures.json`) or with the
//! configured credentials (OpsGenie and Alertmanager sign nothing), unsigned, tampered,
//! duplicated and out of order; the stored incidents and the MTTR figures are exact.

use crate::helpers::{Answer, TestApp, deliver, spawn_app_with};
use hmac::{Hmac, Mac};
use pacer::settings::{
    AlertmanagerWebhook, OpsgenieWebhook, PagerDutyWebhook, Secret, Settings, WebhookSettings,
};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::BTreeMap;

const PD_CURRENT: &str = "pd-fixture-secret-current";
const PD_PREVIOUS: &str = "pd-fixture-secret-previous";
/// The secret the Aldaviva/PagerDuty captured deliveries were signed with (published).
const PD_ALDAVIVA: &str = "HvPtlQNKMPpHSSqJpCdndXfo7HnGXa1pnH6w5axpxLFn9aRBNBGh4e8/HlonK5mz";
/// The go-pagerduty test vector's secret (published).
const PD_GO: &str = "lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK";
const OG_TOKEN: &str = "Bearer og-fixture-token";
const AM_TOKEN: &str = "am-fixture-token";
const PD_INCIDENT: &str = "PGR0VU2";
const OG_INCIDENT: &str = "opsgenie-052652ac-5d1c-464a-812a-7dd18bbfba8c";
const AM_17: &str = "alertmanager-ac4cff7a5cd89636";
const AM_18: &str = "alertmanager-5d76220ef155887b";

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The expected `X-PagerDuty-Signature` for `file` in signatures.json: the valid one, or
/// with `reject` the published negative vector.
fn signature(file: &str, reject: bool, secret: &str) -> String {
    let all: Value = serde_json::from_slice(&fixture("signatures.json")).unwrap();
    all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["file"] == file
                && e["header"] == "X-PagerDuty-Signature"
                && e["secret"] == secret
                && (e.get("expect").is_some() == reject)
        })
        .and_then(|e| e["value"].as_str())
        .unwrap_or_else(|| panic!("signatures.json has no entry for {file} ({secret})"))
        .to_string()
}

/// `v1=<hex>` of `body` under `secret`, for bodies that are not fixtures.
fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn settings() -> Settings {
    Settings {
        webhooks: WebhookSettings {
            pagerduty: PagerDutyWebhook {
                secrets: vec![Secret::new(PD_CURRENT)],
                // By id: the summary ("API Service") is the default, the id maps too.
                services: BTreeMap::from([("PF9KMXH".into(), "api".into())]),
                ..PagerDutyWebhook::default()
            },
            opsgenie: OpsgenieWebhook {
                token: Some(Secret::new(OG_TOKEN)),
                service_from: "alias".into(),
                services: BTreeMap::from([("aliastest".into(), "checkout".into())]),
                ..OpsgenieWebhook::default()
            },
            alertmanager: AlertmanagerWebhook {
                token: Some(Secret::new(AM_TOKEN)),
                matchers: vec![
                    r#"alertname=~"High.*Rate|.*SLOBurn.*""#.into(),
                    r#"severity=~"critical|page""#.into(),
                ],
                ..AlertmanagerWebhook::default()
            },
            ..WebhookSettings::default()
        },
        ..Settings::default()
    }
}

/// A PagerDuty delivery of `pagerduty/<file>`, signed with the current fixture secret.
async fn pd(app: &TestApp, file: &str) -> Answer {
    let path = format!("pagerduty/{file}");
    let sig = signature(&path, false, PD_CURRENT);
    deliver(
        app,
        "/webhooks/pagerduty",
        &[
            ("X-PagerDuty-Signature", &sig),
            ("User-Agent", "PagerDuty-Webhook/V3.0"),
        ],
        fixture(&path),
    )
    .await
}

async fn og(app: &TestApp, body: Vec<u8>) -> Answer {
    deliver(
        app,
        "/webhooks/opsgenie",
        &[("Authorization", OG_TOKEN)],
        body,
    )
    .await
}

async fn am(app: &TestApp, file: &str) -> Answer {
    let auth = format!("Bearer {AM_TOKEN}");
    deliver(
        app,
        "/webhooks/alertmanager",
        &[("Authorization", &auth)],
        fixture(&format!("alertmanager/{file}")),
    )
    .await
}

async fn stored(app: &TestApp, id: &str) -> Value {
    let a = app.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(a.status, 200, "{id}: {}", a.body);
    a.body["incident"].clone()
}

async fn incident_count(app: &TestApp) -> usize {
    let a = app.get("/api/v1/incidents?limit=1000").await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["incidents"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {}", a.body))
        .len()
}

/// The stored fields the figures depend on.
fn summary(i: &Value) -> Value {
    json!({
        "service": i["service"], "environment": i["environment"], "severity": i["severity"],
        "opened_at": i["opened_at"], "resolved_at": i["resolved_at"],
    })
}

// ---------------------------------------------------------------------------- PagerDuty

/// The PGR0VU2 lifecycle once resolved: created 14:20:05, resolved at the resolved
/// event's occurred_at 15:05:47.208; P1 (priority_updated) and high urgency.
fn pd_resolved() -> Value {
    json!({"service": "api", "environment": "production", "severity": "P1/high",
           "opened_at": "2026-03-10T14:20:05Z", "resolved_at": "2026-03-10T15:05:47.208Z"})
}

#[tokio::test]
async fn pagerduty_lifecycle_in_order_gives_exact_mttr() {
    let app = spawn_app_with(settings()).await;
    let ping = pd(&app, "pagey.ping.json").await;
    assert_eq!(ping.status, 200, "{}", ping.body);

    let triggered = pd(&app, "incident.triggered.json").await;
    assert_eq!(triggered.status, 202, "{}", triggered.body);
    assert_eq!(triggered.body["id"], PD_INCIDENT);
    assert_eq!(triggered.body["incidents"][0]["created"], true);
    // Before a priority is set, the urgency alone is the severity.
    assert_eq!(stored(&app, PD_INCIDENT).await["severity"], "high");
    for file in [
        "incident.acknowledged.json",
        "incident.priority_updated.json",
    ] {
        let a = pd(&app, file).await;
        assert_eq!(a.status, 202, "{file}: {}", a.body);
    }
    assert_eq!(stored(&app, PD_INCIDENT).await["severity"], "P1/high");
    let note = pd(&app, "incident.annotated.json").await;
    assert_eq!(note.status, 202, "{}", note.body);
    assert_eq!(note.body["ignored"], true);
    let resolved = pd(&app, "incident.resolved.json").await;
    assert_eq!(resolved.status, 202, "{}", resolved.body);
    assert_eq!(summary(&stored(&app, PD_INCIDENT).await), pd_resolved());

    // 15:05:47.208 - 14:20:05 = 45 min 42.208 s = 2742.208 s, the only incident.
    let m = app.metrics("end=2026-03-31T00:00:00Z").await;
    assert_eq!(m["mttr"]["incidents"], 1, "{m}");
    assert_eq!(m["mttr"]["p50_seconds"], 2742.208);
    assert_eq!(m["mttr"]["p90_seconds"], 2742.208);
    assert_eq!(m["untriaged_incidents"], 1);

    // Reopened at 15:40:12: open again, so not restored and not in MTTR.
    let reopened = pd(&app, "incident.reopened.json").await;
    assert_eq!(reopened.status, 202, "{}", reopened.body);
    let now = stored(&app, PD_INCIDENT).await;
    assert_eq!(now["resolved_at"], Value::Null);
    assert_eq!(now["opened_at"], "2026-03-10T14:20:05Z");
    let m = app.metrics("end=2026-03-31T00:00:00Z").await;
    assert_eq!(m["mttr"]["incidents"], 0, "{m}");
    assert_eq!(incident_count(&app).await, 1);
}

/// Every order of the four state events converges to the same incident: each event's
/// occurred_at decides, not its arrival.
#[tokio::test]
async fn pagerduty_any_delivery_order_converges() {
    let files = [
        "incident.triggered.json",
        "incident.acknowledged.json",
        "incident.priority_updated.json",
        "incident.resolved.json",
    ];
    let mut orders = Vec::new();
    permutations(&mut files.to_vec(), 0, &mut orders);
    assert_eq!(orders.len(), 24);
    for order in orders {
        let app = spawn_app_with(settings()).await;
        for file in &order {
            let a = pd(&app, file).await;
            assert_eq!(a.status, 202, "{order:?} {file}: {}", a.body);
        }
        assert_eq!(
            summary(&stored(&app, PD_INCIDENT).await),
            pd_resolved(),
            "{order:?}"
        );
        let m = app.metrics("end=2026-03-31T00:00:00Z").await;
        assert_eq!(m["mttr"]["p50_seconds"], 2742.208, "{order:?}");
    }
}

fn permutations<'a>(items: &mut Vec<&'a str>, k: usize, out: &mut Vec<Vec<&'a str>>) {
    if k == items.len() {
        out.push(items.clone());
        return;
    }
    for i in k..items.len() {
        items.swap(k, i);
        permutations(items, k + 1, out);
        items.swap(k, i);
    }
}

#[tokio::test]
async fn pagerduty_resolved_first_then_late_events_keep_the_resolution() {
    let app = spawn_app_with(settings()).await;
    // Resolved arrives first: the incident is created opened at the payload's created_at.
    let a = pd(&app, "incident.resolved.json").await;
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(a.body["incidents"][0]["created"], true);
    assert_eq!(summary(&stored(&app, PD_INCIDENT).await), pd_resolved());
    // Then the triggered event (older): not applied, and the answer says so.
    let late = pd(&app, "incident.triggered.json").await;
    assert_eq!(late.status, 202, "{}", late.body);
    assert!(
        late.body["incidents"][0]["message"]
            .as_str()
            .unwrap()
            .contains("older"),
        "{}",
        late.body
    );
    assert_eq!(summary(&stored(&app, PD_INCIDENT).await), pd_resolved());

    // Reopened (15:40:12) before resolved (15:05:47): it stays open.
    let app = spawn_app_with(settings()).await;
    for file in [
        "incident.triggered.json",
        "incident.reopened.json",
        "incident.resolved.json",
    ] {
        assert_eq!(pd(&app, file).await.status, 202, "{file}");
    }
    let i = stored(&app, PD_INCIDENT).await;
    assert_eq!(i["resolved_at"], Value::Null);
    assert_eq!(i["severity"], "P1/high");
    let m = app.metrics("end=2026-03-31T00:00:00Z").await;
    assert_eq!(m["mttr"]["incidents"], 0, "{m}");
}

#[tokio::test]
async fn pagerduty_replays_change_nothing() {
    let app = spawn_app_with(settings()).await;
    for file in ["incident.triggered.json", "incident.resolved.json"] {
        assert_eq!(pd(&app, file).await.status, 202);
    }
    let before = stored(&app, PD_INCIDENT).await;
    for file in ["incident.triggered.json", "incident.resolved.json"] {
        let again = pd(&app, file).await;
        assert_eq!(again.status, 200, "{file}: {}", again.body);
        assert_eq!(again.body["already_processed"], true);
        assert_eq!(again.body["id"], PD_INCIDENT);
    }
    assert_eq!(stored(&app, PD_INCIDENT).await, before);
    let m = app.metrics("end=2026-03-31T00:00:00Z").await;
    assert_eq!(m["mttr"]["incidents"], 1);
    // Counted once each: the two first deliveries.
    let metrics = app.get("/metrics").await.text;
    assert!(
        metrics.contains("pacer_events_ingested_total{source=\"pagerduty\",kind=\"incident\"} 2\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn pagerduty_refuses_unsigned_wrong_and_tampered_deliveries() {
    let app = spawn_app_with(settings()).await;
    let files = [
        "incident.triggered.json",
        "incident.acknowledged.json",
        "incident.priority_updated.json",
        "incident.annotated.json",
        "incident.resolved.json",
        "incident.reopened.json",
        "pagey.ping.json",
    ];
    for file in files {
        let path = format!("pagerduty/{file}");
        let body = fixture(&path);
        let unsigned = deliver(&app, "/webhooks/pagerduty", &[], body.clone()).await;
        assert_eq!(unsigned.status, 401, "{file}: {}", unsigned.body);
        assert!(
            unsigned.body["error"]
                .as_str()
                .unwrap()
                .contains("X-PagerDuty-Signature is missing")
        );
        let wrong = sign("not-the-secret", &body);
        let a = deliver(
            &app,
            "/webhooks/pagerduty",
            &[("X-PagerDuty-Signature", &wrong)],
            body.clone(),
        )
        .await;
        assert_eq!(a.status, 401, "{file}: {}", a.body);
        // Signed, then one byte changed: the signature no longer matches.
        let sig = signature(&path, false, PD_CURRENT);
        let mut tampered = body.clone();
        let at = tampered.len() / 2;
        tampered[at] ^= 0x01;
        let a = deliver(
            &app,
            "/webhooks/pagerduty",
            &[("X-PagerDuty-Signature", &sig)],
            tampered,
        )
        .await;
        assert_eq!(a.status, 401, "{file}: {}", a.body);
        assert!(a.body["error"].as_str().unwrap().contains("does not match"));
        // A signature of another version only.
        let a = deliver(
            &app,
            "/webhooks/pagerduty",
            &[("X-PagerDuty-Signature", &sig.replace("v1=", "v2="))],
            body,
        )
        .await;
        assert_eq!(a.status, 401, "{file}: {}", a.body);
    }
    assert_eq!(incident_count(&app).await, 0);
}

#[tokio::test]
async fn pagerduty_without_secrets_refuses_with_403_naming_the_setting() {
    let app = spawn_app_with(Settings::default()).await;
    let a = pd(&app, "incident.triggered.json").await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(
        a.body["error"]
            .as_str()
            .unwrap()
            .contains("webhooks.pagerduty.secrets"),
        "{}",
        a.body
    );
    assert_eq!(incident_count(&app).await, 0);
}

/// Rotation: PagerDuty signs with every active secret; a receiver knowing either accepts.
#[tokio::test]
async fn pagerduty_secret_rotation_accepts_any_match() {
    let path = "pagerduty/incident.triggered.json";
    let both = "v1=c62f9ae2e5742c9bcde941fc8e6b3e3166050e33ce07fecad1790a1dfe1a27cc,\
                v1=d5a50a652866a7c3e6d3a687378fd97203f6ba3032e12b6aaf39958714854779";
    // signatures.json's rotation entry is that header; our HMAC gives each half.
    let all: Value = serde_json::from_slice(&fixture("signatures.json")).unwrap();
    assert!(
        all["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["value"] == both)
    );
    assert_eq!(
        format!(
            "{},{}",
            sign(PD_CURRENT, &fixture(path)),
            sign(PD_PREVIOUS, &fixture(path))
        ),
        both
    );
    for secrets in [
        vec![PD_PREVIOUS],
        vec![PD_CURRENT],
        vec!["next-secret", PD_PREVIOUS],
    ] {
        let mut s = settings();
        s.webhooks.pagerduty.secrets = secrets.iter().map(|s| Secret::new(*s)).collect();
        let app = spawn_app_with(s).await;
        let a = deliver(
            &app,
            "/webhooks/pagerduty",
            &[("X-PagerDuty-Signature", both)],
            fixture(path),
        )
        .await;
        assert_eq!(a.status, 202, "{secrets:?}: {}", a.body);
    }
}

/// Real deliveries captured from a PagerDuty account and the go-pagerduty vector: the
/// published signatures verify, the published negative ones are refused.
#[tokio::test]
async fn pagerduty_captured_deliveries_verify_and_record() {
    let mut s = settings();
    s.webhooks.pagerduty.secrets = vec![Secret::new(PD_ALDAVIVA), Secret::new(PD_GO)];
    let app = spawn_app_with(s).await;
    let bad = signature(
        "pagerduty/captured/aldaviva.pagey.ping.json",
        true,
        PD_ALDAVIVA,
    );
    let a = deliver(
        &app,
        "/webhooks/pagerduty",
        &[("X-PagerDuty-Signature", &bad)],
        fixture("pagerduty/captured/aldaviva.pagey.ping.json"),
    )
    .await;
    assert_eq!(a.status, 401, "{}", a.body);
    let bad = signature(
        "pagerduty/captured/go-pagerduty.incident.priority_updated.json",
        true,
        PD_GO,
    );
    let a = deliver(
        &app,
        "/webhooks/pagerduty",
        &[("X-PagerDuty-Signature", &bad)],
        fixture("pagerduty/captured/go-pagerduty.incident.priority_updated.json"),
    )
    .await;
    assert_eq!(a.status, 401, "{}", a.body);

    let captured = [
        ("aldaviva.pagey.ping.json", PD_ALDAVIVA, 200),
        ("aldaviva.incident.triggered.json", PD_ALDAVIVA, 202),
        ("aldaviva.incident.acknowledged.json", PD_ALDAVIVA, 202),
        ("aldaviva.incident.annotated.json", PD_ALDAVIVA, 202),
        ("aldaviva.incident.resolved.json", PD_ALDAVIVA, 202),
        ("go-pagerduty.incident.priority_updated.json", PD_GO, 202),
    ];
    for (file, secret, status) in captured {
        let path = format!("pagerduty/captured/{file}");
        let sig = signature(&path, false, secret);
        // Our HMAC reproduces the published value.
        assert_eq!(sign(secret, &fixture(&path)), sig, "{file}");
        let a = deliver(
            &app,
            "/webhooks/pagerduty",
            &[("X-PagerDuty-Signature", &sig)],
            fixture(&path),
        )
        .await;
        assert_eq!(a.status, status, "{file}: {}", a.body);
    }
    // Triggered 03:47:13 (created_at), resolved 03:49:36.358: 143.358 s, low urgency; the
    // service is not mapped, so its PagerDuty name is kept.
    assert_eq!(
        summary(&stored(&app, "Q2CKYRLH85UNN4").await),
        json!({"service": "Webhook Tester", "environment": "production", "severity": "low",
               "opened_at": "2025-04-07T03:47:13Z", "resolved_at": "2025-04-07T03:49:36.358Z"})
    );
    let m = app.metrics("end=2025-04-30T00:00:00Z").await;
    assert_eq!(m["mttr"]["incidents"], 1, "{m}");
    assert_eq!(m["mttr"]["p50_seconds"], 143.358);
    // go-pagerduty's body has no created_at: it opens at the event's occurred_at.
    assert_eq!(
        summary(&stored(&app, PD_INCIDENT).await),
        json!({"service": "api", "environment": "production", "severity": "P1/high",
               "opened_at": "2021-04-26T17:36:27.458Z", "resolved_at": null})
    );
}

/// A human triage decision is never overwritten by a tool's later update.
#[tokio::test]
async fn triage_survives_later_pagerduty_updates() {
    let app = spawn_app_with(settings()).await;
    let d = app
        .deploy(
            json!({"id": "d1", "service": "api", "environment": "production",
                       "deployed_at": "2026-03-10T14:00:00Z"}),
        )
        .await;
    assert_eq!(d.status, 201, "{}", d.body);
    assert_eq!(pd(&app, "incident.triggered.json").await.status, 202);
    let m = app.metrics("end=2026-03-31T00:00:00Z").await;
    assert_eq!(m["untriaged_incidents"], 1, "{m}");

    let triaged = app
        .patch(
            &format!("/api/v1/incidents/{PD_INCIDENT}"),
            &json!({"caused_by_deploy": true, "deployment_id": "d1"}),
        )
        .await;
    assert_eq!(triaged.status, 200, "{}", triaged.body);
    for file in [
        "incident.acknowledged.json",
        "incident.priority_updated.json",
        "incident.resolved.json",
    ] {
        assert_eq!(pd(&app, file).await.status, 202, "{file}");
        let i = stored(&app, PD_INCIDENT).await;
        assert_eq!(i["caused_by_deploy"], true, "{file}: {i}");
        assert_eq!(i["deployment_id"], "d1", "{file}: {i}");
    }
    // Replays too.
    assert_eq!(pd(&app, "incident.triggered.json").await.status, 200);
    let i = stored(&app, PD_INCIDENT).await;
    assert_eq!(
        (i["caused_by_deploy"].clone(), i["deployment_id"].clone()),
        (json!(true), json!("d1"))
    );
    // 1 production deployment, it caused the incident: 100 % of deployments failed; the
    // failure was restored in 2742.208 s (see pd_resolved), and nothing is untriaged.
    let m = app.metrics("end=2026-03-31T00:00:00Z").await;
    assert_eq!(m["untriaged_incidents"], 0, "{m}");
    assert_eq!(m["failed_deployment_recovery_time"]["incidents"], 1, "{m}");
    assert_eq!(
        m["failed_deployment_recovery_time"]["p50_seconds"],
        2742.208
    );
    assert_eq!(m["mttr"]["p50_seconds"], 2742.208);
}

// ---------------------------------------------------------------------------- OpsGenie

/// Alert 052652ac: created 1420452191104 ms = 2015-01-05T10:03:11.104Z; closed at the
/// Close's updatedAt 1420452374669001603 ns = 10:06:14.669Z (truncated to ms).
fn og_closed() -> Value {
    json!({"service": "checkout", "environment": "production", "severity": null,
           "opened_at": "2015-01-05T10:03:11.104Z", "resolved_at": "2015-01-05T10:06:14.669Z"})
}

#[tokio::test]
async fn opsgenie_lifecycle_in_and_out_of_order() {
    let files = [
        "Create.json",
        "Acknowledge.json",
        "AddNote.json",
        "Close.json",
    ];
    let mut reversed = files;
    reversed.reverse();
    for order in [files, reversed] {
        let app = spawn_app_with(settings()).await;
        for file in order {
            let a = og(&app, fixture(&format!("opsgenie/{file}"))).await;
            assert_eq!(a.status, 202, "{order:?} {file}: {}", a.body);
        }
        assert_eq!(
            summary(&stored(&app, OG_INCIDENT).await),
            og_closed(),
            "{order:?}"
        );
        // 10:06:14.669 - 10:03:11.104 = 183.565 s.
        let m = app.metrics("end=2015-01-31T00:00:00Z").await;
        assert_eq!(m["mttr"]["incidents"], 1, "{m}");
        assert_eq!(m["mttr"]["p50_seconds"], 183.565);
        // Every fixture again: already processed, nothing changes.
        for file in order {
            let a = og(&app, fixture(&format!("opsgenie/{file}"))).await;
            assert_eq!(a.status, 200, "{file}: {}", a.body);
            assert_eq!(a.body["already_processed"], true);
        }
        assert_eq!(summary(&stored(&app, OG_INCIDENT).await), og_closed());
    }
}

#[tokio::test]
async fn opsgenie_priorities_and_nanoseconds_are_exact() {
    let app = spawn_app_with(settings()).await;
    // The captured 2020 Create: priority P3, no alias mapping, created 1593475564295 ms.
    let a = og(&app, fixture("opsgenie/Create.captured-2020.json")).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let i = stored(
        &app,
        "opsgenie-7ec331d7-f5f3-4f78-a49c-2ad886df69fe-1593475564295",
    )
    .await;
    assert_eq!(i["severity"], "P3");
    assert_eq!(i["opened_at"], "2020-06-30T00:06:04.295Z");
    assert_eq!(
        i["service"],
        "7ec331d7-f5f3-4f78-a49c-2ad886df69fe-1593475564295"
    );

    // UpdatePriority (no vendor sample exists): Acknowledge's body with the action and an
    // integer priority, 1 s later.
    let mut v: Value = serde_json::from_slice(&fixture("opsgenie/Acknowledge.json")).unwrap();
    v["action"] = json!("UpdatePriority");
    v["alert"]["priority"] = json!(1);
    v["alert"]["updatedAt"] = json!(1_420_452_225_764_002_246_i64);
    assert_eq!(og(&app, fixture("opsgenie/Create.json")).await.status, 202);
    let a = og(&app, v.to_string().into_bytes()).await;
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(stored(&app, OG_INCIDENT).await["severity"], "P1");

    // Two Close deliveries 1 ns apart are two deliveries: through an f64 both updatedAt
    // values (above 2^53) would be the same number and the second a replay.
    let close = String::from_utf8(fixture("opsgenie/Close.json")).unwrap();
    let next = close.replace("1420452374669001603", "1420452374669001604");
    assert_ne!(close, next);
    assert_eq!(og(&app, close.into_bytes()).await.status, 202);
    let a = og(&app, next.into_bytes()).await;
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(a.body["already_processed"], false);

    // A priority OpsGenie does not have names the field and the fix.
    v["alert"]["priority"] = json!("P7");
    v["alert"]["updatedAt"] = json!(1_420_452_226_000_000_000_i64);
    let a = og(&app, v.to_string().into_bytes()).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body["error"].as_str().unwrap().contains("alert.priority"));
}

#[tokio::test]
async fn opsgenie_refuses_missing_or_wrong_credentials() {
    let app = spawn_app_with(settings()).await;
    let files = [
        "Create.json",
        "Acknowledge.json",
        "AddNote.json",
        "Close.json",
        "Create.captured-2020.json",
    ];
    for file in files {
        let body = fixture(&format!("opsgenie/{file}"));
        let a = deliver(&app, "/webhooks/opsgenie", &[], body.clone()).await;
        assert_eq!(a.status, 401, "{file}: {}", a.body);
        let a = deliver(
            &app,
            "/webhooks/opsgenie",
            &[("Authorization", "Bearer og-fixture-tokeN")],
            body,
        )
        .await;
        assert_eq!(a.status, 401, "{file}: {}", a.body);
    }
    assert_eq!(incident_count(&app).await, 0);

    // Basic auth instead, with tags as the service source.
    let mut s = settings();
    s.webhooks.opsgenie.token = None;
    s.webhooks.opsgenie.username = Some("opsgenie".into());
    s.webhooks.opsgenie.password = Some(Secret::new("og-basic-password"));
    s.webhooks.opsgenie.service_from = "tag:service".into();
    let app = spawn_app_with(s).await;
    let mut v: Value = serde_json::from_slice(&fixture("opsgenie/Create.json")).unwrap();
    v["alert"]["tags"] = json!(["tag1", "service:payments-api"]);
    // base64("opsgenie:og-basic-password")
    let good = "Basic b3BzZ2VuaWU6b2ctYmFzaWMtcGFzc3dvcmQ=";
    let bad = "Basic b3BzZ2VuaWU6b2ctYmFzaWMtcGFzc3dvcmQh";
    let a = deliver(
        &app,
        "/webhooks/opsgenie",
        &[("Authorization", bad)],
        v.to_string().into_bytes(),
    )
    .await;
    assert_eq!(a.status, 401, "{}", a.body);
    let a = deliver(
        &app,
        "/webhooks/opsgenie",
        &[("Authorization", good)],
        v.to_string().into_bytes(),
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(stored(&app, OG_INCIDENT).await["service"], "payments-api");

    // Nothing configured: 403 naming the setting.
    let app = spawn_app_with(Settings::default()).await;
    let a = og(&app, fixture("opsgenie/Create.json")).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(
        a.body["error"]
            .as_str()
            .unwrap()
            .contains("webhooks.opsgenie.token")
    );
}

// ---------------------------------------------------------------------------- Alertmanager

/// Both alerts start 14:18:30.512; .17 ends 15:03:30.512 (2700 s), .18 ends 15:02:00.512
/// (2610 s).
fn am_resolved(ends: &str) -> Value {
    json!({"service": "checkout-api", "environment": "production", "severity": "critical",
           "opened_at": "2026-03-10T14:18:30.512Z", "resolved_at": ends})
}

async fn assert_am_restored(app: &TestApp) {
    assert_eq!(
        summary(&stored(app, AM_17).await),
        am_resolved("2026-03-10T15:03:30.512Z")
    );
    assert_eq!(
        summary(&stored(app, AM_18).await),
        am_resolved("2026-03-10T15:02:00.512Z")
    );
    // [2610, 2700]: p50 = 2610 + 0.5 * 90 = 2655, p90 = 2610 + 0.9 * 90 = 2691.
    let m = app.metrics("end=2026-03-31T00:00:00Z").await;
    assert_eq!(m["mttr"]["incidents"], 2, "{m}");
    assert_eq!(m["mttr"]["p50_seconds"], 2655.0);
    assert_eq!(m["mttr"]["p90_seconds"], 2691.0);
}

#[tokio::test]
async fn alertmanager_firing_then_resolved_in_every_payload_version() {
    let app = spawn_app_with(settings()).await;
    let a = am(&app, "firing.wire.json").await;
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(a.body["incidents"].as_array().unwrap().len(), 2);
    let open = stored(&app, AM_17).await;
    assert_eq!(open["opened_at"], "2026-03-10T14:18:30.512Z");
    assert_eq!(open["resolved_at"], Value::Null);
    // The pretty and the v0.34 bodies are the same alerts: replays (repeat_interval).
    for file in ["firing.json", "firing.v0.34.json", "firing.wire.json"] {
        let a = am(&app, file).await;
        assert_eq!(a.status, 200, "{file}: {}", a.body);
        assert_eq!(a.body["already_processed"], true);
    }
    assert_eq!(am(&app, "resolved.json").await.status, 202);
    assert_am_restored(&app).await;
    assert_eq!(am(&app, "resolved.json").await.status, 200);
    assert_eq!(incident_count(&app).await, 2);
}

#[tokio::test]
async fn alertmanager_resolved_before_firing_converges() {
    for firing in ["firing.json", "firing.v0.34.json", "firing.wire.json"] {
        let app = spawn_app_with(settings()).await;
        assert_eq!(am(&app, "resolved.json").await.status, 202);
        let a = am(&app, firing).await;
        assert_eq!(a.status, 202, "{firing}: {}", a.body);
        assert_am_restored(&app).await;
    }
}

#[tokio::test]
async fn alertmanager_alerts_matching_no_matcher_are_ignored() {
    let mut s = settings();
    s.webhooks.alertmanager.matchers = vec![r#"alertname=~".*SLOBurn.*""#.into()];
    let app = spawn_app_with(s).await;
    for file in [
        "firing.json",
        "resolved.json",
        "firing.wire.json",
        "firing.v0.34.json",
    ] {
        let a = am(&app, file).await;
        assert_eq!(a.status, 202, "{file}: {}", a.body);
        assert_eq!(a.body["ignored"], true);
        let skipped = a.body["skipped"].as_array().unwrap();
        assert_eq!(skipped.len(), 2, "{}", a.body);
        assert!(skipped[0].as_str().unwrap().contains("ac4cff7a5cd89636"));
    }
    assert_eq!(incident_count(&app).await, 0);

    // One matcher excluding one instance: the other alert alone is an incident.
    let mut s = settings();
    s.webhooks.alertmanager.matchers = vec![r#"instance!="10.0.4.18:8080""#.into()];
    let app = spawn_app_with(s).await;
    let a = am(&app, "firing.json").await;
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(a.body["id"], AM_17);
    assert_eq!(a.body["skipped"].as_array().unwrap().len(), 1);
    assert_eq!(incident_count(&app).await, 1);
}

/// The same alert firing again after it resolved is a second incident: the first keeps
/// its restore time.
#[tokio::test]
async fn alertmanager_refiring_alert_is_a_new_incident() {
    let app = spawn_app_with(settings()).await;
    assert_eq!(am(&app, "firing.json").await.status, 202);
    assert_eq!(am(&app, "resolved.json").await.status, 202);
    let again = String::from_utf8(fixture("alertmanager/firing.json"))
        .unwrap()
        .replace("2026-03-10T14:18:30.512Z", "2026-03-10T16:00:00Z");
    let a = deliver(
        &app,
        "/webhooks/alertmanager",
        &[("Authorization", &format!("Bearer {AM_TOKEN}"))],
        again.into_bytes(),
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.body);
    // 2026-03-10T16:00:00Z is 1773158400000 ms.
    let second = stored(&app, &format!("{AM_17}-1773158400000")).await;
    assert_eq!(second["opened_at"], "2026-03-10T16:00:00Z");
    assert_eq!(second["resolved_at"], Value::Null);
    assert_eq!(
        summary(&stored(&app, AM_17).await),
        am_resolved("2026-03-10T15:03:30.512Z")
    );
    assert_eq!(incident_count(&app).await, 4);
}

#[tokio::test]
async fn alertmanager_refuses_missing_or_wrong_credentials() {
    let app = spawn_app_with(settings()).await;
    for file in [
        "firing.json",
        "firing.v0.34.json",
        "firing.wire.json",
        "resolved.json",
    ] {
        let body = fixture(&format!("alertmanager/{file}"));
        let a = deliver(&app, "/webhooks/alertmanager", &[], body.clone()).await;
        assert_eq!(a.status, 401, "{file}: {}", a.body);
        let a = deliver(
            &app,
            "/webhooks/alertmanager",
            &[("Authorization", "Bearer am-fixture-token2")],
            body.clone(),
        )
        .await;
        assert_eq!(a.status, 401, "{file}: {}", a.body);
        let a = deliver(
            &app,
            "/webhooks/alertmanager",
            &[("Authorization", AM_TOKEN)],
            body,
        )
        .await;
        assert_eq!(a.status, 401, "{file}: {}", a.body);
    }
    assert_eq!(incident_count(&app).await, 0);

    // basic_auth in http_config.
    let mut s = settings();
    s.webhooks.alertmanager.token = None;
    s.webhooks.alertmanager.username = Some("alertmanager".into());
    s.webhooks.alertmanager.password = Some(Secret::new("am-basic-password"));
    let app = spawn_app_with(s).await;
    // base64("alertmanager:am-basic-password")
    let good = "Basic YWxlcnRtYW5hZ2VyOmFtLWJhc2ljLXBhc3N3b3Jk";
    let a = deliver(
        &app,
        "/webhooks/alertmanager",
        &[("Authorization", good)],
        fixture("alertmanager/firing.wire.json"),
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.body);

    let app = spawn_app_with(Settings::default()).await;
    let a = am(&app, "firing.json").await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(
        a.body["error"]
            .as_str()
            .unwrap()
            .contains("webhooks.alertmanager.token")
    );
}

#[tokio::test]
async fn alertmanager_bad_alert_refuses_the_whole_notification() {
    let app = spawn_app_with(settings()).await;
    let mut v: Value = serde_json::from_slice(&fixture("alertmanager/resolved.json")).unwrap();
    v["alerts"][1]["endsAt"] = json!("yesterday");
    let a = deliver(
        &app,
        "/webhooks/alertmanager",
        &[("Authorization", &format!("Bearer {AM_TOKEN}"))],
        v.to_string().into_bytes(),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.body["error"]
            .as_str()
            .unwrap()
            .contains("alerts[1].endsAt"),
        "{}",
        a.body
    );
    assert_eq!(incident_count(&app).await, 0);
}
