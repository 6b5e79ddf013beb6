//! Triage by people (`PATCH /api/v1/incidents/{id}`): fault classes, notes, the audit log
//! with who and when, tokens, tools that never overwrite a person's decision, and the chaos
//! advisory in `/api/v1/metrics`, `/api/v1/report` and `pacer report`.

use crate::helpers::{Answer, END, TestApp, spawn_app, spawn_app_with, t};
use pacer::settings::{ApiToken, Settings, TokenScope};
use serde_json::{Value, json};

const ALICE: &str = "alice-token-0123456789abcdef";
const BOB: &str = "bob-token-0123456789abcdef";

/// The ingest token the deployments and incidents of these tests are recorded with.
const CI: &str = "ci-token-0123456789abcdef";

fn settings_with_tokens() -> Settings {
    let mut s = Settings::default();
    s.auth.tokens = [
        ("alice", ALICE, TokenScope::Triage),
        ("bob", BOB, TokenScope::Triage),
        ("ci", CI, TokenScope::Ingest),
    ]
    .into_iter()
    .map(|(n, t, scope)| (n.to_string(), ApiToken::new(t, &[scope])))
    .collect();
    s
}

/// A server with [`settings_with_tokens`] whose client sends the ingest token (requests
/// built by [`triage`] carry their own `Authorization`, or none).
async fn spawn_app_with_tokens() -> TestApp {
    let mut app = spawn_app_with(settings_with_tokens()).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        bearer(CI).parse().expect("header"),
    );
    app.client = pacer::http::builder()
        .default_headers(headers)
        .build()
        .expect("client");
    app
}

/// `PATCH /api/v1/incidents/{id}` with an optional `Authorization` header value.
async fn triage(app: &TestApp, id: &str, authorization: Option<&str>, body: Value) -> Answer {
    let mut request = pacer::http::client()
        .patch(app.url(&format!("/api/v1/incidents/{id}")))
        .body(body.to_string());
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let r = request.send().await.expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text.clone())),
        content_type: None,
        text,
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Two api deployments and one untriaged incident after the first.
async fn two_deployments_and_an_incident(app: &TestApp) {
    for (id, h) in [("d1", 10.0), ("d2", 20.0)] {
        let a = app
            .deploy(json!({"id": id, "service": "api", "environment": "production", "deployed_at": t(h)}))
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let a = app
        .incident(
            json!({"id": "i1", "service": "api", "opened_at": t(10.5), "resolved_at": t(11.0)}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
}

fn cfr(m: &Value) -> (u64, Value) {
    (
        m["change_failure_rate"]["failed_deployments"]
            .as_u64()
            .unwrap(),
        m["change_failure_rate"]["percent"].clone(),
    )
}

#[tokio::test]
async fn triage_flips_the_change_failure_rate_and_the_log_records_who_when_and_what() {
    let app = spawn_app_with_tokens().await;
    two_deployments_and_an_incident(&app).await;
    let query = format!("service=api&end={END}");

    // Untriaged (explicit policy): 0 failed of 2.
    assert_eq!(cfr(&app.metrics(&query).await), (0, json!(0.0)));
    let queue = app.get("/api/v1/incidents?untriaged=true").await;
    assert_eq!(
        queue.body["incidents"][0]["candidate_deployment_ids"],
        json!(["d1"])
    );

    let before = pacer::timefmt::now();
    let a = triage(
        &app,
        "i1",
        Some(&bearer(ALICE)),
        json!({"caused_by_deploy": true, "deployment_id": "d1",
               "fault_class": "bad_configuration", "note": "flag default flipped\nrolled back"}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let incident = &a.body["incident"];
    assert_eq!(incident["fault_class"], "bad_configuration");
    assert_eq!(incident["note"], "flag default flipped\nrolled back");
    assert_eq!(incident["triaged_by"], "alice");
    // d1 failed: 1 of 2 = 50 %.
    assert_eq!(cfr(&app.metrics(&query).await), (1, json!(50.0)));
    // Triaged: out of the queue.
    let queue = app.get("/api/v1/incidents?untriaged=true").await;
    assert_eq!(queue.body["incidents"], json!([]));

    let a = triage(
        &app,
        "i1",
        Some(&bearer(BOB)),
        json!({"caused_by_deploy": false}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let after = pacer::timefmt::now();
    // Back to 0 of 2; the fault class and note stay (bob changed only caused_by_deploy).
    assert_eq!(cfr(&app.metrics(&query).await), (0, json!(0.0)));
    assert_eq!(a.body["incident"]["fault_class"], "bad_configuration");
    assert_eq!(a.body["incident"]["triaged_by"], "bob");

    // The same PATCH again is a re-delivery: not logged, and who/when stay bob's first.
    let again = triage(
        &app,
        "i1",
        Some(&bearer(BOB)),
        json!({"caused_by_deploy": false}),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["incident"], a.body["incident"]);

    let detail = app.get("/api/v1/incidents/i1").await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    let history = detail.body["triage_history"].as_array().unwrap().clone();
    assert_eq!(history.len(), 2, "{}", detail.body);
    let at = |e: &Value| pacer::timefmt::parse_flexible(e["at"].as_str().unwrap()).unwrap();
    for e in &history {
        // RFC 3339 keeps milliseconds, so the logged time sits between the two clocks.
        assert!(before <= at(e) && at(e) <= after, "{e}");
    }
    assert_eq!(history[0]["actor"], "alice");
    assert_eq!(
        history[0]["changes"],
        json!([
            {"field": "caused_by_deploy", "old": null, "new": true},
            {"field": "deployment_id", "old": null, "new": "d1"},
            {"field": "fault_class", "old": null, "new": "bad_configuration"},
            {"field": "note", "old": null, "new": "flag default flipped\nrolled back"},
        ])
    );
    assert_eq!(history[1]["actor"], "bob");
    assert_eq!(
        history[1]["changes"],
        json!([{"field": "caused_by_deploy", "old": true, "new": false}])
    );
    assert!(at(&history[0]) <= at(&history[1]));
    assert_eq!(detail.body["candidate_deployments"][0]["id"], "d1");

    // The history endpoint shows the same log.
    let log = app.get("/api/v1/incidents/i1/triage").await;
    assert_eq!(log.status, 200, "{}", log.body);
    assert_eq!(
        log.body,
        json!({"incident_id": "i1", "triage_history": history})
    );
    assert_eq!(app.get("/api/v1/incidents/nope/triage").await.status, 404);
}

#[tokio::test]
async fn with_tokens_configured_a_missing_or_wrong_token_gets_401_and_changes_nothing() {
    let app = spawn_app_with_tokens().await;
    two_deployments_and_an_incident(&app).await;
    let body = json!({"caused_by_deploy": true, "fault_class": "capacity"});
    let refusals = [
        None,
        Some(bearer("not-a-configured-token-at-all")),
        // Right token, wrong scheme.
        Some(format!("Basic {ALICE}")),
        Some("Bearer ".to_string()),
        // A configured token's prefix is not the token.
        Some(bearer(&ALICE[..ALICE.len() - 1])),
    ];
    for authorization in refusals {
        let a = triage(&app, "i1", authorization.as_deref(), body.clone()).await;
        assert_eq!(a.status, 401, "{authorization:?}: {}", a.body);
        assert_eq!(a.body["code"], "unauthorized");
        let error = a.error();
        assert!(
            error.contains("Authorization: Bearer") || error.contains("bearer token"),
            "{error}"
        );
        assert!(error.contains("PACER_TOKEN"), "{error}");
    }
    // 401 comes before anything else: an unknown incident or a bad body says nothing.
    let a = triage(&app, "nope", None, json!({"fault_class": "nonsense"})).await;
    assert_eq!(a.status, 401, "{}", a.body);

    let detail = app.get("/api/v1/incidents/i1").await;
    assert_eq!(detail.body["incident"]["caused_by_deploy"], Value::Null);
    assert_eq!(detail.body["incident"]["fault_class"], Value::Null);
    assert_eq!(detail.body["incident"]["triaged_by"], Value::Null);
    assert_eq!(detail.body["triage_history"], json!([]));
}

/// With no `[auth.tokens]`, triage is open and recorded as `anonymous` (issue 8 will
/// require tokens on every write).
#[tokio::test]
async fn without_tokens_the_actor_is_anonymous() {
    let app = spawn_app().await;
    two_deployments_and_an_incident(&app).await;
    let a = app
        .patch(
            "/api/v1/incidents/i1",
            &json!({"fault_class": "other", "note": "unclear"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["incident"]["triaged_by"], "anonymous");
    assert_eq!(a.body["triage_history"][0]["actor"], "anonymous");
    // A fault class alone is not a verdict: still untriaged for the rate and the queue.
    assert_eq!(a.body["incident"]["caused_by_deploy"], Value::Null);
    assert_eq!(
        app.metrics(&format!("service=api&end={END}")).await["untriaged_incidents"],
        1
    );
}

#[tokio::test]
async fn bad_triage_input_is_refused_with_what_to_send_and_writes_nothing() {
    let app = spawn_app().await;
    two_deployments_and_an_incident(&app).await;
    let cases = [
        (
            json!({"fault_class": "config"}),
            "fault_class \"config\" is not in the vocabulary; use one of: bad_configuration, code_defect, dependency_failure, capacity, bad_migration, infrastructure, other",
        ),
        (
            json!({"fault_class": "Bad_Configuration"}),
            "use one of: bad_configuration",
        ),
        (json!({"fault_class": 3}), "fault_class must be a string"),
        (
            json!({"note": "x".repeat(2001)}),
            "note is 2001 characters long; the limit is 2000",
        ),
        (
            json!({"note": "   "}),
            "note must not be empty; send null to clear it",
        ),
        (
            json!({"note": "bell\u{7}"}),
            "note contains control characters",
        ),
        (json!({"note": 5}), "note must be a string"),
        (json!({}), "send at least one of caused_by_deploy"),
        (json!({"fault_clas": "capacity"}), "fault_clas"),
        (
            json!({"caused_by_deploy": true, "fault_class": "capacity", "deployment_id": "nope"}),
            "deployment_id \"nope\" is not a recorded deployment",
        ),
    ];
    for (body, message) in cases {
        let a = app.patch("/api/v1/incidents/i1", &body).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        assert!(a.error().contains(message), "{body}: {}", a.error());
    }
    // 2000 characters (not bytes: 'é' is two bytes) is within the bound.
    let long = "é".repeat(2000);
    let a = app
        .patch("/api/v1/incidents/i1", &json!({"note": long}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let detail = app.get("/api/v1/incidents/i1").await;
    assert_eq!(detail.body["incident"]["fault_class"], Value::Null);
    assert_eq!(detail.body["incident"]["caused_by_deploy"], Value::Null);
    assert_eq!(detail.body["triage_history"].as_array().unwrap().len(), 1);
    // Unknown incident: 404 naming the fix.
    let a = app
        .patch(
            "/api/v1/incidents/nope",
            &json!({"fault_class": "capacity"}),
        )
        .await;
    assert_eq!(a.status, 404, "{}", a.body);
}

/// An incident tool re-posting the incident (POST /api/v1/incidents) never overwrites a
/// person's triage; before any person triaged, the tool's triage applies as before.
#[tokio::test]
async fn a_tool_repost_does_not_override_a_human_triage() {
    let app = spawn_app().await;
    two_deployments_and_an_incident(&app).await;
    let query = format!("service=api&end={END}");

    // No person has triaged yet: the tool's caused_by_deploy applies (1 of 2 failed).
    let a = app
        .incident(json!({"id": "i1", "caused_by_deploy": true, "deployment_id": "d1"}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["incident"]["caused_by_deploy"], true);
    assert!(a.body.get("triage_kept").is_none(), "{}", a.body);
    assert_eq!(cfr(&app.metrics(&query).await), (1, json!(50.0)));

    // A person decides it was not the deployment.
    let a = app
        .patch("/api/v1/incidents/i1", &json!({"caused_by_deploy": false, "deployment_id": null, "fault_class": "infrastructure"}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(cfr(&app.metrics(&query).await), (0, json!(0.0)));

    // The tool re-posts with its own triage and a new resolution time: the resolution
    // applies, the triage does not, and the answer says so.
    let a = app
        .incident(json!({"id": "i1", "resolved_at": t(12.0), "caused_by_deploy": true, "deployment_id": "d1"}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let incident = &a.body["incident"];
    assert_eq!(incident["resolved_at"], crate::helpers::rfc(12.0));
    assert_eq!(incident["caused_by_deploy"], false);
    assert_eq!(incident["deployment_id"], Value::Null);
    assert_eq!(incident["fault_class"], "infrastructure");
    let kept = a.body["triage_kept"]
        .as_str()
        .expect("triage_kept says why");
    assert!(
        kept.contains("anonymous triaged this incident by hand"),
        "{kept}"
    );
    assert!(kept.contains("PATCH /api/v1/incidents/i1"), "{kept}");
    // Still 0 of 2, and the tool wrote nothing to the log.
    assert_eq!(cfr(&app.metrics(&query).await), (0, json!(0.0)));
    let detail = app.get("/api/v1/incidents/i1").await;
    assert_eq!(detail.body["triage_history"].as_array().unwrap().len(), 1);
    // A re-post without triage fields says nothing about triage.
    let a = app.incident(json!({"id": "i1", "severity": "SEV3"})).await;
    assert!(a.body.get("triage_kept").is_none(), "{}", a.body);

    // A later PATCH still changes it.
    let a = app
        .patch(
            "/api/v1/incidents/i1",
            &json!({"caused_by_deploy": true, "deployment_id": "d1"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(cfr(&app.metrics(&query).await), (1, json!(50.0)));
}

/// A person confirming what a tool set changes no field, but is logged (with no changes)
/// and protects the triage from then on; confirming again is a re-delivery.
#[tokio::test]
async fn confirming_a_tools_triage_protects_it_and_is_logged_once() {
    let app = spawn_app().await;
    two_deployments_and_an_incident(&app).await;
    let a = app
        .incident(json!({"id": "i1", "caused_by_deploy": true, "deployment_id": "d1"}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let first = app
        .patch("/api/v1/incidents/i1", &json!({"caused_by_deploy": true}))
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["incident"]["triaged_by"], "anonymous");
    let history = first.body["triage_history"].as_array().unwrap().clone();
    assert_eq!(history.len(), 1, "{}", first.body);
    assert_eq!(history[0]["changes"], json!([]));
    let again = app
        .patch("/api/v1/incidents/i1", &json!({"caused_by_deploy": true}))
        .await;
    assert_eq!(again.body["incident"], first.body["incident"]);
    assert_eq!(again.body["triage_history"], first.body["triage_history"]);
    // The tool now says otherwise: the person's confirmation stands (1 of 2 failed).
    let a = app
        .incident(json!({"id": "i1", "caused_by_deploy": false}))
        .await;
    assert_eq!(a.body["incident"]["caused_by_deploy"], true);
    assert!(a.body["triage_kept"].is_string(), "{}", a.body);
    assert_eq!(
        cfr(&app.metrics(&format!("service=api&end={END}")).await),
        (1, json!(50.0))
    );
}

/// Runs `pacer` with `args`, returning stdout (fails the test on a non-zero exit).
async fn pacer_cli(args: Vec<String>, env: Vec<(&'static str, String)>) -> String {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pacer"))
            .args(&args)
            .env_remove("PACER_SERVER")
            .env_remove("PACER_CONFIG")
            .env_remove("PACER_TOKEN")
            .envs(env)
            .output()
            .expect("run pacer");
        assert!(
            out.status.success(),
            "pacer {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    })
    .await
    .expect("join")
}

/// The advisory with the default rule (above 10 % for 4 consecutive weeks). The weeks end
/// at END (2026-03-31T00:00Z = t(720 h)): w0 = (t(552), t(720)], w1 = (t(384), t(552)],
/// w2 = (t(216), t(384)], w3 = (t(48), t(216)]. Each week has two api deployments,
/// `dK-a` at the week's middle and `dK-b` an hour later, and one incident `iK` 30 min after
/// `dK-a`, triaged as caused by it: every week is 1 failed of 2 = 50 %. i3 starts triaged
/// `caused_by_deploy = false`, so w3 is 0 %: only 3 weeks are above, and there is no
/// advisory until the CLI triages i3 as caused.
#[tokio::test]
async fn the_chaos_advisory_appears_exactly_when_four_weeks_are_above_the_threshold() {
    let app = spawn_app_with_tokens().await;
    let classes = [
        Some("bad_configuration"),
        Some("bad_configuration"),
        Some("capacity"),
        None,
    ];
    for (k, class) in classes.iter().enumerate() {
        let mid = 720.0 - 168.0 * k as f64 - 84.0;
        for (suffix, h) in [("a", mid), ("b", mid + 1.0)] {
            let a = app
                .deploy(json!({"id": format!("d{k}-{suffix}"), "service": "api",
                               "environment": "production", "deployed_at": t(h)}))
                .await;
            assert_eq!(a.status, 201, "{}", a.body);
        }
        let id = format!("i{k}");
        let a = app
            .incident(json!({"id": id, "service": "api", "opened_at": t(mid + 0.5), "resolved_at": t(mid + 1.5)}))
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        let mut body = json!({"caused_by_deploy": k != 3, "deployment_id": format!("d{k}-a")});
        if let Some(c) = class {
            body["fault_class"] = json!(c);
        }
        let a = triage(&app, &id, Some(&bearer(ALICE)), body).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }

    // Three weeks above 10 % are not enough (w3 is 0 %).
    let m = app.metrics(&format!("service=api&days=7&end={END}")).await;
    assert_eq!(cfr(&m), (1, json!(50.0)));
    assert_eq!(m["chaos_advisory"], Value::Null);

    // The CLI triages i3 as caused by d3-a (PACER_TOKEN names bob).
    let out = pacer_cli(
        [
            "incident",
            "triage",
            "--server",
            &app.address,
            "--id",
            "i3",
            "--caused-by-deploy",
            "true",
        ]
        .map(String::from)
        .to_vec(),
        vec![("PACER_TOKEN", BOB.to_string())],
    )
    .await;
    let answer: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(answer["incident"]["triaged_by"], "bob");
    assert_eq!(answer["triage_history"][1]["actor"], "bob");

    // Now all four weeks are 50 %. Incidents of those weeks that were deploy-caused: i0, i1
    // (bad_configuration), i2 (capacity), i3 (unclassified).
    let expected = json!({
        "weeks": 4,
        "threshold_percent": 10.0,
        "weekly_percent": [50.0, 50.0, 50.0, 50.0],
        "fault_classes": [
            {"class": "bad_configuration", "incidents": 2, "examples": ["i0", "i1"],
             "experiment": pacer_core::advisory::experiment(Some(pacer_core::FaultClass::BadConfiguration))},
            {"class": "capacity", "incidents": 1, "examples": ["i2"],
             "experiment": pacer_core::advisory::experiment(Some(pacer_core::FaultClass::Capacity))},
            {"class": "unclassified", "incidents": 1, "examples": ["i3"],
             "experiment": pacer_core::advisory::experiment(None)},
        ],
    });
    // A 7-day window still gets the 4 weeks' advisory (the load covers 28 days).
    let m = app.metrics(&format!("service=api&days=7&end={END}")).await;
    assert_eq!(m["chaos_advisory"], expected);
    let m = app.metrics(&format!("end={END}")).await;
    assert_eq!(m["chaos_advisory"], expected);
    assert!(
        expected["fault_classes"][0]["experiment"]
            .as_str()
            .unwrap()
            .starts_with("canary config rollout")
    );

    // The report carries it per scope, and `pacer report` shows it.
    let report = app.get(&format!("/api/v1/report?end={END}")).await;
    assert_eq!(report.status, 200, "{}", report.body);
    assert_eq!(report.body["organisation"]["chaos_advisory"], expected);
    assert_eq!(report.body["services"][0]["chaos_advisory"], expected);
    let table = pacer_cli(
        [
            "report",
            "--server",
            &app.address,
            "--end",
            END,
            "--color",
            "never",
        ]
        .map(String::from)
        .to_vec(),
        vec![],
    )
    .await;
    for line in [
        "chaos advisory for organisation: change failure rate above 10% for 4 consecutive weeks (50.0%, 50.0%, 50.0%, 50.0%, oldest first); suggested GameDays:",
        "chaos advisory for service api: change failure rate above 10% for 4 consecutive weeks (50.0%, 50.0%, 50.0%, 50.0%, oldest first); suggested GameDays:",
        "  capacity: 1 incident(s), e.g. i2 -> load test: drive traffic to the expected peak plus headroom and check autoscaling, rate limits and saturation alerts",
        "  unclassified: 1 incident(s), e.g. i3 -> triage the fault class first: set fault_class on these incidents (PATCH /api/v1/incidents/{id}) so that an experiment can be chosen",
    ] {
        assert!(table.lines().any(|l| l == line), "no {line:?} in\n{table}");
    }
    assert!(
        table.contains("  bad_configuration: 2 incident(s), e.g. i0, i1 -> canary config rollout"),
        "{table}"
    );

    // A week later the newest week, (t(720), t(888)], has no deployment: no rate, so the
    // streak is broken and there is no advisory.
    let later = pacer::timefmt::format(pacer_core::Timestamp::from_seconds(t(720.0 + 168.0)));
    let m = app.metrics(&format!("service=api&end={later}")).await;
    assert_eq!(m["chaos_advisory"], Value::Null);
}

/// `[auth.tokens]` and `[metrics.chaos]` are checked at start-up, and tokens never print.
#[test]
fn auth_and_chaos_settings_are_validated_and_tokens_redacted() {
    let s = settings_with_tokens();
    s.validate().expect("valid");
    let printed = s.to_toml();
    assert!(
        !printed.contains(ALICE) && printed.contains("<redacted>"),
        "{printed}"
    );

    // A token where its hash belongs is refused (tokens are stored only as hashes).
    let mut plain = Settings::default();
    plain.auth.tokens.insert(
        "carol".into(),
        ApiToken {
            sha256: pacer::settings::Secret::new("carol-token-0123456789abcdef"),
            scopes: vec![TokenScope::Triage],
        },
    );
    let e = plain.validate().unwrap_err().to_string();
    assert!(
        e.contains("auth.tokens.\"carol\".sha256 is not 64 hex digits")
            && e.contains("pacer token hash")
            && !e.contains("carol-token"),
        "{e}"
    );

    let mut shared = settings_with_tokens();
    shared
        .auth
        .tokens
        .insert("carol".into(), ApiToken::new(ALICE, &[TokenScope::Admin]));
    let e = shared.validate().unwrap_err().to_string();
    assert!(e.contains("has the same token as another name"), "{e}");

    let mut chaos = Settings::default();
    chaos.metrics.chaos.consecutive_weeks = 0;
    let e = chaos.validate().unwrap_err().to_string();
    assert!(
        e.contains("metrics.chaos.consecutive_weeks = 0 must be between 1 and 52"),
        "{e}"
    );
    chaos.metrics.chaos.consecutive_weeks = 4;
    chaos.metrics.chaos.threshold_percent = 100.0;
    let e = chaos.validate().unwrap_err().to_string();
    assert!(e.contains("metrics.chaos.threshold_percent = 100"), "{e}");
}
