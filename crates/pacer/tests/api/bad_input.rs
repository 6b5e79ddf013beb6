//! A battery of malformed and invalid requests: each gets the right 4xx with a JSON
//! `{"error", "code"}` body naming the field, never a 5xx, and none of them changes what
//! the server reports.

use crate::helpers::{
    Answer, END, TestApp, observe, record_history, rfc, spawn_app, spawn_app_with, t,
};
use pacer::settings::Settings;
use serde_json::{Value, json};

const DEPLOYMENTS: &str = "/api/v1/deployments";
const INCIDENTS: &str = "/api/v1/incidents";

/// One bad request and what must come back.
struct Case {
    what: String,
    method: &'static str,
    path: String,
    body: Option<Vec<u8>>,
    status: u16,
    code: &'static str,
    /// A substring of the error message (the field it names, usually).
    needle: String,
}

fn case(
    what: &str,
    method: &'static str,
    path: impl Into<String>,
    body: Option<&str>,
    status: u16,
    code: &'static str,
    needle: &str,
) -> Case {
    Case {
        what: what.to_string(),
        method,
        path: path.into(),
        body: body.map(|b| b.as_bytes().to_vec()),
        status,
        code,
        needle: needle.to_string(),
    }
}

/// A JSON body sent with `method` to `path`, expected to fail with 400.
fn bad(
    what: &str,
    method: &'static str,
    path: &str,
    body: Value,
    code: &'static str,
    needle: &str,
) -> Case {
    let text = body.to_string();
    case(what, method, path, Some(&text), 400, code, needle)
}

/// A GET with a bad query, expected to fail with 400.
fn bad_query(path: &str, code: &'static str, needle: &str) -> Case {
    case(path, "GET", path, None, 400, code, needle)
}

/// A valid deployment with `field` set to `value`, or removed when `value` is `None`.
fn deployment_with(field: &str, value: Option<Value>) -> Value {
    let mut d = json!({"id": "bad", "service": "api", "environment": "production",
                       "deployed_at": rfc(200.0), "changes": [{"id": "x1", "started_at": rfc(199.0)}]});
    match value {
        Some(v) => d[field] = v,
        None => {
            d.as_object_mut().unwrap().remove(field);
        }
    }
    d
}

/// A valid new incident with `field` set to `value`, or removed when `value` is `None`.
fn incident_with(field: &str, value: Option<Value>) -> Value {
    let mut i = json!({"id": "bad-incident", "service": "api", "opened_at": rfc(200.0),
                       "resolved_at": rfc(201.0), "severity": "SEV2"});
    match value {
        Some(v) => i[field] = v,
        None => {
            i.as_object_mut().unwrap().remove(field);
        }
    }
    i
}

/// What every JSON-body endpoint must refuse before looking at fields.
#[rustfmt::skip]
fn body_cases(method: &'static str, path: &str, what: &str) -> Vec<Case> {
    let c = |name: &str, body: Option<&str>, needle: &str| {
        case(&format!("{what}: {name}"), method, path, body, 400, "bad_json", needle)
    };
    let mut cases = vec![
        c("malformed JSON", Some(r#"{"service": "api","#), "not valid JSON"),
        c("not JSON at all", Some("service=api"), "not valid JSON"),
        c("empty body", Some(""), "request body is empty"),
        c("no body", None, "request body is empty"),
        c("whitespace body", Some(" \n\t "), "request body is empty"),
        c("array", Some(r#"[{"service": "api"}]"#), "request body must be a JSON object, got an array"),
        c("null", Some("null"), "request body must be a JSON object, got null"),
        c("string", Some(r#""api""#), "request body must be a JSON object, got a string"),
        c("trailing garbage", Some(r#"{"id": "x"} {}"#), "not valid JSON"),
        c("nested too deep", Some(&"[".repeat(100_000)), "not valid JSON"),
    ];
    cases.push(Case {
        body: Some(b"{\"service\": \"\xff\xfe\"}".to_vec()),
        ..c("invalid UTF-8", None, "not valid JSON")
    });
    cases
}

#[rustfmt::skip]
fn deployment_cases() -> Vec<Case> {
    let post = |what: &str, body: Value, code: &'static str, needle: &str| {
        bad(what, "POST", DEPLOYMENTS, body, code, needle)
    };
    let with = |field: &str, value: Value| deployment_with(field, Some(value));
    let without = |field: &str| deployment_with(field, None);
    let lead_time = |value: Value| {
        let mut d = without("changes");
        d["lead_time_seconds"] = value;
        d
    };
    let mut typo = without("deployed_at");
    typo["deployed_At"] = json!(rfc(200.0));
    let huge = format!(r#"{{"service": "api", "environment": "production", "sha": "{}"}}"#, "a".repeat(1024 * 1024));

    let mut cases = body_cases("POST", DEPLOYMENTS, "deployment");
    cases.extend([
        post("missing service", without("service"), "missing_field", "service is required"),
        post("null service", with("service", Value::Null), "missing_field", "service is required"),
        post("missing environment", without("environment"), "missing_field", "environment is required"),
        post("number for service", with("service", json!(42)), "invalid_field", "service must be a string, got a number"),
        post("number for id", with("id", json!(7)), "invalid_field", "id must be a string"),
        post("array for team", with("team", json!(["a"])), "invalid_field", "team must be a string, got an array"),
        post("empty service", with("service", json!("")), "invalid_field", "service must not be empty"),
        post("whitespace service", with("service", json!("  \t ")), "invalid_field", "service must not be empty"),
        post("whitespace environment", with("environment", json!(" ")), "invalid_field", "environment must not be empty"),
        post("control characters", with("service", json!("api\u{0}x")), "invalid_field", "service contains control characters"),
        post("overlong service", with("service", json!("s".repeat(2000))), "invalid_field", "service is 2000 bytes long"),
        post("object for changes", with("changes", json!({"id": "x"})), "invalid_field", "changes must be an array, got an object"),
        post("unparseable deployed_at", with("deployed_at", json!("yesterday")), "invalid_field", "deployed_at: \"yesterday\" is not an RFC 3339 timestamp"),
        post("date without time", with("deployed_at", json!("2026-03-05")), "invalid_field", "deployed_at"),
        post("impossible date", with("deployed_at", json!("2026-02-30T10:00:00Z")), "invalid_field", "deployed_at: \"2026-02-30T10:00:00Z\""),
        post("float Unix seconds", with("deployed_at", json!(1_772_323_200.5)), "invalid_field", "deployed_at: 1772323200.5 is not integer Unix seconds"),
        post("negative Unix seconds", with("deployed_at", json!(-1)), "invalid_field", "deployed_at: -1 is before 1970"),
        post("milliseconds for seconds", with("deployed_at", json!(1_772_323_200_000_i64)), "invalid_field", "deployed_at: 1772323200000 is out of range"),
        post("beyond i64", with("deployed_at", json!(u64::MAX)), "invalid_field", "deployed_at"),
        post("boolean deployed_at", with("deployed_at", json!(true)), "invalid_field", "deployed_at must be an RFC 3339 string or integer Unix seconds, got a boolean"),
        post("pre-1970 RFC 3339", with("deployed_at", json!("1969-12-31T23:59:59Z")), "invalid_field", "deployed_at"),
        post("unknown status", with("status", json!("rolled-back")), "invalid_field", "status \"rolled-back\" is not one of: success, failure"),
        post("number for status", with("status", json!(1)), "invalid_field", "status must be a string"),
        post("typo deployed_At", typo, "unknown_field", "unknown field \"deployed_At\""),
        post("change missing started_at", with("changes", json!([{"id": "x1"}])), "missing_field", "changes[0].started_at is required"),
        post("change started at Unix 0 (an empty git log)", with("changes", json!([{"id": "x1", "started_at": 0}])), "invalid_field", "changes[0].started_at is more than 10 years before deployed_at"),
        post("second change missing started_at", with("changes", json!([{"id": "x1", "started_at": rfc(199.0)}, {"id": "x2"}])), "missing_field", "changes[1].started_at is required"),
        post("change missing id", with("changes", json!([{"started_at": rfc(199.0)}])), "missing_field", "changes[0].id is required"),
        post("change with impossible started_at", with("changes", json!([{"id": "x1", "started_at": "2026-02-30T00:00:00Z"}])), "invalid_field", "changes[0].started_at"),
        post("change with float started_at", with("changes", json!([{"id": "x1", "started_at": 1.5}])), "invalid_field", "changes[0].started_at"),
        post("change that is a string", with("changes", json!(["x1"])), "bad_json", "changes[0] must be a JSON object, got a string"),
        post("change with unknown field", with("changes", json!([{"id": "x1", "started_at": rfc(199.0), "startedAt": 1}])), "unknown_field", "changes[0].startedAt"),
        post("both changes and lead_time_seconds", with("lead_time_seconds", json!(60)), "invalid_field", "either changes or lead_time_seconds"),
        post("negative lead_time_seconds", lead_time(json!(-5)), "invalid_field", "lead_time_seconds -5 must be zero or more"),
        post("lead_time_seconds over 10 years", lead_time(json!(1_772_323_200)), "invalid_field", "lead_time_seconds 1772323200 is longer than 10 years"),
        post("string lead_time_seconds", lead_time(json!("60")), "invalid_field", "lead_time_seconds must be a number, got a string"),
        post("too many changes", with("changes", Value::Array((0..10_001).map(|i| json!({"id": format!("c{i}"), "started_at": 1})).collect())), "invalid_field", "changes has 10001 entries; the limit is 10000"),
        post("overlong id", with("id", json!("i".repeat(1025))), "invalid_field", "id is 1025 bytes long; the limit is 1024"),
        // A known id with an invalid body is refused before the id is looked at.
        post("known id, bad body", json!({"id": "d1", "service": "api"}), "missing_field", "environment is required"),
        case("body over the 1 MiB default", "POST", DEPLOYMENTS, Some(&huge), 413, "body_too_large", "limit of 1048576 bytes"),
    ]);
    cases
}

#[rustfmt::skip]
fn incident_cases() -> Vec<Case> {
    let post = |what: &str, body: Value, code: &'static str, needle: &str| {
        bad(what, "POST", INCIDENTS, body, code, needle)
    };
    let with = |field: &str, value: Value| incident_with(field, Some(value));
    let without = |field: &str| incident_with(field, None);
    let mut typo = without("opened_at");
    typo["openedAt"] = json!(rfc(200.0));

    let mut cases = body_cases("POST", INCIDENTS, "incident");
    cases.extend([
        post("missing id", without("id"), "missing_field", "id is required"),
        post("empty id", with("id", json!("")), "invalid_field", "id must not be empty"),
        post("new incident without opened_at", without("opened_at"), "missing_field", "opened_at is required"),
        post("new incident with null opened_at", with("opened_at", Value::Null), "missing_field", "opened_at is required"),
        post("number for service", with("service", json!(3)), "invalid_field", "service must be a string"),
        post("whitespace service", with("service", json!("   ")), "invalid_field", "service must not be empty"),
        post("string for caused_by_deploy", with("caused_by_deploy", json!("true")), "invalid_field", "caused_by_deploy must be true, false or null, got a string"),
        post("number for caused_by_deploy", with("caused_by_deploy", json!(1)), "invalid_field", "caused_by_deploy must be true, false or null, got a number"),
        post("unparseable opened_at", with("opened_at", json!("last tuesday")), "invalid_field", "opened_at: \"last tuesday\""),
        post("impossible date", with("opened_at", json!("2026-02-30T10:00:00Z")), "invalid_field", "opened_at: \"2026-02-30T10:00:00Z\""),
        post("float resolved_at", with("resolved_at", json!(1_772_323_200.25)), "invalid_field", "resolved_at: 1772323200.25 is not integer Unix seconds"),
        post("negative opened_at", with("opened_at", json!(-3600)), "invalid_field", "opened_at: -3600 is before 1970"),
        post("resolved before opened", with("resolved_at", json!(rfc(199.0))), "invalid_field", "resolved_at"),
        // i1 is stored resolved at t(11.5): a later opening would make it resolve before it opens.
        post("resolved before opened across two deliveries", json!({"id": "i1", "opened_at": rfc(12.0)}), "invalid_field", "resolved_at"),
        // i3 is stored open since t(100): an update may leave opened_at out, and the stored one
        // still bounds resolved_at.
        post("resolved before the stored opening", json!({"id": "i3", "resolved_at": t(99.0)}), "invalid_field", "is before opened_at"),
        post("typo openedAt", typo, "unknown_field", "unknown field \"openedAt\""),
        post("unknown field", with("status", json!("resolved")), "unknown_field", "unknown field \"status\""),
        post("number for severity", with("severity", json!(2)), "invalid_field", "severity must be a string"),
    ]);
    cases
}

#[rustfmt::skip]
fn triage_cases() -> Vec<Case> {
    let p = "/api/v1/incidents/i3";
    let patch = |what: &str, body: Value, code: &'static str, needle: &str| {
        bad(what, "PATCH", p, body, code, needle)
    };
    let mut cases = body_cases("PATCH", p, "triage");
    cases.extend([
        patch("nothing to triage", json!({}), "missing_field", "caused_by_deploy"),
        patch("string for caused_by_deploy", json!({"caused_by_deploy": "yes"}), "invalid_field", "caused_by_deploy must be true, false or null"),
        patch("number for deployment_id", json!({"deployment_id": 5}), "invalid_field", "deployment_id must be a string"),
        patch("field triage does not take", json!({"caused_by_deploy": true, "resolved_at": rfc(101.0)}), "unknown_field", "unknown field \"resolved_at\""),
        patch("unrecorded deployment", json!({"caused_by_deploy": true, "deployment_id": "no-such-deploy"}), "invalid_field", "deployment_id \"no-such-deploy\" is not a recorded deployment"),
        case("unknown incident", "PATCH", "/api/v1/incidents/no-such-incident", Some(r#"{"caused_by_deploy": true}"#), 404, "not_found", "no incident with id \"no-such-incident\""),
    ]);
    cases
}

#[rustfmt::skip]
fn query_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for path in ["/api/v1/metrics", "/api/v1/services", "/api/v1/report"] {
        cases.extend([
            bad_query(&format!("{path}?days=0"), "invalid_field", "days=\"0\" must be a whole number from 1 to 3650"),
            bad_query(&format!("{path}?days=abc"), "invalid_field", "days=\"abc\""),
            bad_query(&format!("{path}?days=99999"), "invalid_field", "days=\"99999\""),
            bad_query(&format!("{path}?days=-1"), "invalid_field", "days=\"-1\""),
            bad_query(&format!("{path}?days=7.5"), "invalid_field", "days=\"7.5\""),
            bad_query(&format!("{path}?end=yesterday"), "invalid_field", "query parameter end: \"yesterday\""),
            bad_query(&format!("{path}?end=2026-02-30T00:00:00Z"), "invalid_field", "query parameter end"),
            bad_query(&format!("{path}?end=-5"), "invalid_field", "query parameter end: -5"),
            bad_query(&format!("{path}?dayz=7"), "unknown_parameter", "unknown query parameter \"dayz\""),
            bad_query(&format!("{path}?days=7&days=30"), "duplicate_parameter", "\"days\" is given more than once"),
        ]);
    }
    cases.extend([
        bad_query("/api/v1/metrics?servce=api", "unknown_parameter", "\"servce\""),
        bad_query("/api/v1/services?service=api", "unknown_parameter", "\"service\""),
        bad_query("/api/v1/report?team=payments", "unknown_parameter", "\"team\""),
    ]);
    for path in [DEPLOYMENTS, INCIDENTS] {
        cases.extend([
            bad_query(&format!("{path}?limit=0"), "invalid_field", "limit=\"0\" must be a whole number from 1 to 1000"),
            bad_query(&format!("{path}?limit=1001"), "invalid_field", "limit=\"1001\""),
            bad_query(&format!("{path}?limit=ten"), "invalid_field", "limit=\"ten\""),
            bad_query(&format!("{path}?offset=-1"), "invalid_field", "offset=\"-1\""),
            bad_query(&format!("{path}?from=soon"), "invalid_field", "query parameter from: \"soon\""),
            bad_query(&format!("{path}?to=2026-02-30T00:00:00Z"), "invalid_field", "query parameter to"),
            bad_query(&format!("{path}?from={}&to={}", t(10.0), t(5.0)), "invalid_field", "from is after to"),
            bad_query(&format!("{path}?sevice=api"), "unknown_parameter", "\"sevice\""),
            bad_query(&format!("{path}?service=api&service=web"), "duplicate_parameter", "\"service\""),
        ]);
    }
    cases.extend([
        bad_query("/api/v1/deployments?status=rolled-back", "invalid_field", "status=\"rolled-back\" must be success or failure"),
        bad_query("/api/v1/deployments?untriaged=true", "unknown_parameter", "\"untriaged\""),
        bad_query("/api/v1/incidents?status=success", "unknown_parameter", "\"status\""),
        bad_query("/api/v1/incidents?untriaged=maybe", "invalid_field", "untriaged=\"maybe\" must be true or false"),
    ]);
    cases
}

#[rustfmt::skip]
fn route_cases() -> Vec<Case> {
    vec![
        case("unknown route", "GET", "/api/v1/nope", None, 404, "not_found", "no endpoint GET /api/v1/nope"),
        case("unknown version", "GET", "/api/v2/metrics", None, 404, "not_found", "/api/v2/metrics"),
        case("POST to an unknown route", "POST", "/api/v1/deploy", Some("{}"), 404, "not_found", "no endpoint POST /api/v1/deploy"),
        case("unknown deployment", "GET", "/api/v1/deployments/no-such", None, 404, "not_found", "no deployment with id \"no-such\""),
        case("unknown incident", "GET", "/api/v1/incidents/no-such", None, 404, "not_found", "no incident with id \"no-such\""),
        case("DELETE a collection", "DELETE", DEPLOYMENTS, None, 405, "method_not_allowed", "DELETE is not allowed on /api/v1/deployments"),
        case("DELETE a deployment", "DELETE", "/api/v1/deployments/d1", None, 405, "method_not_allowed", "DELETE is not allowed"),
        case("PUT an incident", "PUT", "/api/v1/incidents/i1", Some(r#"{"caused_by_deploy": false}"#), 405, "method_not_allowed", "PUT is not allowed"),
        case("POST to metrics", "POST", "/api/v1/metrics", Some("{}"), 405, "method_not_allowed", "POST is not allowed on /api/v1/metrics"),
        case("PATCH a deployment", "PATCH", "/api/v1/deployments/d1", Some(r#"{"status": "failure"}"#), 405, "method_not_allowed", "PATCH is not allowed"),
    ]
}

/// What is wrong with the answer to `c`, if anything.
fn check(c: &Case, a: &Answer) -> Option<String> {
    let problem = |p: String| {
        Some(format!(
            "{} ({} {}): {p}; got {} {}",
            c.what, c.method, c.path, a.status, a.text
        ))
    };
    if a.status >= 500 {
        return problem("a malformed request got a 5xx".into());
    }
    if a.status != c.status {
        return problem(format!("expected status {}", c.status));
    }
    if !a
        .content_type
        .as_deref()
        .is_some_and(|t| t.starts_with("application/json"))
    {
        return problem(format!("content-type {:?} is not JSON", a.content_type));
    }
    let Some(obj) = a.body.as_object() else {
        return problem("body is not a JSON object".into());
    };
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["code", "error"] {
        return problem(format!("body keys {keys:?} are not [code, error]"));
    }
    if a.body["code"] != c.code {
        return problem(format!("expected code {:?}", c.code));
    }
    let error = a.body["error"].as_str().unwrap_or_default();
    if !error.contains(&c.needle) {
        return problem(format!("the message does not contain {:?}", c.needle));
    }
    None
}

async fn run(app: &TestApp, cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for c in cases {
        let a = app.send(c.method, &c.path, c.body.clone()).await;
        failures.extend(check(c, &a));
    }
    failures
}

#[tokio::test]
async fn every_bad_request_gets_a_named_4xx_and_writes_nothing() {
    let app = spawn_app().await;
    record_history(&app).await;
    let before = observe(&app).await;

    let mut cases = deployment_cases();
    cases.extend(incident_cases());
    cases.extend(triage_cases());
    cases.extend(query_cases());
    cases.extend(route_cases());
    let failures = run(&app, &cases).await;
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    let after = observe(&app).await;
    for ((path, b), (_, a)) in before.iter().zip(&after) {
        assert_eq!(
            b, a,
            "{path} changed after the bad requests (a partial write?)"
        );
    }
    // And the store holds none of the refused events.
    let store = &app.pacer.store;
    assert!(store.deployment("bad").await.unwrap().is_none());
    assert!(store.incident("bad-incident").await.unwrap().is_none());
    let services: Vec<String> = store
        .services()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(services, ["api", "web"]);
}

#[tokio::test]
async fn a_small_configured_body_limit_is_enforced() {
    let mut settings = Settings::default();
    settings.server.body_limit_bytes = 200;
    let app = spawn_app_with(settings).await;
    let small =
        json!({"id": "d1", "service": "api", "environment": "production", "deployed_at": t(1.0)});
    assert!(small.to_string().len() < 200);
    assert_eq!(app.deploy(small).await.status, 201);

    let big =
        json!({"id": "d2", "service": "api", "environment": "production", "sha": "f".repeat(300)});
    let cases = [
        Case {
            what: "deployment over the configured limit".into(),
            method: "POST",
            path: DEPLOYMENTS.into(),
            body: Some(big.to_string().into_bytes()),
            status: 413,
            code: "body_too_large",
            needle: "limit of 200 bytes".into(),
        },
        Case {
            what: "incident over the configured limit".into(),
            method: "POST",
            path: INCIDENTS.into(),
            body: Some(
                json!({"id": "i1", "opened_at": t(1.0), "severity": "x".repeat(300)})
                    .to_string()
                    .into_bytes(),
            ),
            status: 413,
            code: "body_too_large",
            needle: "server.body_limit_bytes".into(),
        },
    ];
    let failures = run(&app, &cases).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The limit counts bytes, not JSON: a PATCH is held to it too.
    let patch = json!({"caused_by_deploy": true, "deployment_id": "d".repeat(300)});
    assert!(
        app.patch("/api/v1/incidents/i1", &patch)
            .await
            .error()
            .contains("limit of 200 bytes")
    );
    assert_eq!(app.get("/api/v1/deployments/d2").await.status, 404);
    assert_eq!(app.get("/api/v1/incidents/i1").await.status, 404);
}

#[tokio::test]
async fn an_error_body_is_what_users_read() {
    let app = spawn_app().await;
    let a = app
        .deploy(json!({"service": "api", "environment": "production",
                       "changes": [{"id": "abc123"}]}))
        .await;
    assert_eq!(a.status, 400);
    insta::assert_json_snapshot!("missing_change_start", a.body);
    let a = app
        .deploy(json!({"service": "api", "environment": "production", "deployed_At": t(1.0)}))
        .await;
    assert_eq!(a.status, 400);
    insta::assert_json_snapshot!("typo_in_field_name", a.body);
    let a = app.get("/api/v1/metrics?days=0").await;
    insta::assert_json_snapshot!("days_zero", a.body);
}

#[tokio::test]
async fn redelivery_leaves_the_figures_unchanged() {
    let app = spawn_app().await;
    record_history(&app).await;
    // A person's triage is an event of its own (it records who and when); re-sending it
    // below is the re-delivery.
    let a = app
        .patch("/api/v1/incidents/i1", &json!({"caused_by_deploy": true}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let before = observe(&app).await;

    // The same deployment id again: the same body, then a different one (first recording wins).
    let again = app
        .deploy(json!({"id": "d1", "service": "api", "environment": "production", "team": "payments",
                       "sha": "a1a1", "repo": "acme/api", "deployed_at": rfc(10.0),
                       "changes": [{"id": "c1", "started_at": rfc(9.0)}, {"id": "c2", "started_at": t(8.0)}]}))
        .await;
    assert_eq!((again.status, &again.body), (200, &json!({"id": "d1"})));
    let changed = app
        .deploy(
            json!({"id": "d2", "service": "web", "environment": "production", "status": "failure",
                       "deployed_at": rfc(300.0), "team": "other"}),
        )
        .await;
    assert_eq!((changed.status, &changed.body), (200, &json!({"id": "d2"})));

    // The same incident state, twice.
    for _ in 0..2 {
        let a = app
            .incident(json!({"id": "i1", "service": "api", "opened_at": rfc(10.5), "resolved_at": rfc(11.5),
                             "severity": "SEV1", "caused_by_deploy": true}))
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["incident"]["duration_seconds"], 3600.0);
    }
    // The same triage, twice.
    for _ in 0..2 {
        let a = app
            .patch("/api/v1/incidents/i1", &json!({"caused_by_deploy": true}))
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
    }

    let after = observe(&app).await;
    for ((path, b), (_, a)) in before.iter().zip(&after) {
        assert_eq!(b, a, "{path} changed after re-delivery");
    }
    // And the figures are the hand-computed ones.
    let m = app.metrics(&format!("end={END}")).await;
    assert_eq!(m["deployment_frequency"]["deployments"], 3);
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 1);
    assert_eq!(m["mttr"]["incidents"], 2);
}
