//! The dashboard's answers to bad input and hostile names, over plain HTTP (no browser):
//! 4xx HTML pages that say what to fix, escaped text, and the API left as it was.

use crate::harness::{App, spawn_app, spawn_app_with};
use serde_json::json;

async fn get(app: &App, path: &str) -> (u16, String, String) {
    let r = app.http.get(app.url(path)).send().await.expect("request");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, ct, r.text().await.expect("body"))
}

async fn post_form(app: &App, path: &str, form: &str) -> (u16, String) {
    let r = app
        .http
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .await
        .expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

#[tokio::test]
async fn bad_filters_get_a_400_page_that_says_what_to_fix() {
    let app = spawn_app().await;
    for (path, says) in [
        (
            "/?days=0",
            "days=\"0\" must be a whole number of days from 1 to 3650",
        ),
        (
            "/?end=2026-02-30",
            "end=\"2026-02-30\" is not a date; use YYYY-MM-DD",
        ),
        ("/?sort=owner", "sort=\"owner\" is not a column"),
        ("/?tema=payments", "unknown query parameter \"tema\""),
        (
            "/data-quality?quiet_days=-1",
            "quiet_days=\"-1\" must be a whole number",
        ),
    ] {
        let (status, ct, body) = get(&app, path).await;
        assert_eq!(status, 400, "{path}");
        assert!(ct.starts_with("text/html"), "{path}: {ct}");
        // askama escapes the quotes of the message.
        let says = says.replace('"', "&#34;");
        assert!(body.contains(&says), "{path}: {body}");
    }
    let (status, _, body) = get(&app, "/teams/nobody").await;
    assert_eq!(status, 404);
    assert!(body.contains("no team named"), "{body}");
    // The API's own fallback is untouched: JSON.
    let (status, ct, _) = get(&app, "/api/v1/nothing").await;
    assert_eq!((status, ct.as_str()), (404, "application/json"));
    let (status, ct, _) = get(&app, "/assets/dashboard.css").await;
    assert_eq!((status, ct.as_str()), (200, "text/css; charset=utf-8"));
}

#[tokio::test]
async fn names_are_escaped() {
    let app = spawn_app().await;
    app.post_json(
        "/api/v1/deployments",
        json!({"service": "<script>alert(1)</script>", "environment": "production",
               "deployed_at": "2026-03-10T10:00:00Z", "team": "a\"b"}),
    )
    .await;
    let (status, _, body) = get(&app, "/?end=2026-03-30").await;
    assert_eq!(status, 200);
    assert!(!body.contains("<script>alert(1)"), "{body}");
    assert!(
        body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{body}"
    );
    let (status, _, body) = get(&app, "/services/%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert_eq!(status, 200);
    assert!(!body.contains("<script>alert(1)"));
}

#[tokio::test]
async fn a_bad_triage_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.post_json(
        "/api/v1/incidents",
        json!({"id": "i1", "service": "api", "opened_at": "2026-03-12T10:20:00Z"}),
    )
    .await;
    for (form, status, says) in [
        (
            "deployment_id=nope",
            400,
            "deployment_id &#34;nope&#34; is not a recorded deployment",
        ),
        (
            "fault_class=gremlins&caused_by_deploy=false",
            400,
            "fault_class &#34;gremlins&#34; is not in the vocabulary",
        ),
        (
            "caused_by_deploy=maybe",
            400,
            "caused_by_deploy=&#34;maybe&#34; must be true or false",
        ),
        ("fault_class=capacity", 400, "choose a triage"),
    ] {
        let (got, body) = post_form(&app, "/incidents/i1/triage", form).await;
        assert_eq!(got, status, "{form}: {body}");
        assert!(body.contains(says), "{form}: {body}");
    }
    let (got, body) = post_form(&app, "/incidents/i9/triage", "caused_by_deploy=false").await;
    assert_eq!(got, 404, "{body}");
    let stored = app.json("/api/v1/incidents/i1").await;
    assert_eq!(stored["incident"]["caused_by_deploy"], json!(null));
    assert_eq!(stored["incident"]["fault_class"], json!(null));

    // A good one answers 303 back to the queue, and is the API's triage (actor included).
    let r = app
        .http
        .post(app.url("/incidents/i1/triage"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("caused_by_deploy=false&fault_class=capacity&note=disk+full")
        .send()
        .await
        .expect("request");
    // reqwest follows the redirect: the final page is the queue with the notice.
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.url().as_str().ends_with("/incidents?triaged=i1"),
        "{}",
        r.url()
    );
    let stored = app.json("/api/v1/incidents/i1").await;
    assert_eq!(stored["incident"]["caused_by_deploy"], json!(false));
    assert_eq!(stored["incident"]["fault_class"], json!("capacity"));
    assert_eq!(stored["incident"]["note"], json!("disk full"));
}

#[tokio::test]
async fn with_auth_tokens_the_triage_form_needs_one_and_names_its_actor() {
    use pacer::settings::{ApiToken, TokenScope};
    const CI: &str = "a-long-random-token-for-ci-0123456789";
    let mut settings = pacer::settings::Settings::default();
    settings.auth.tokens.insert(
        "alice".to_string(),
        ApiToken::new(
            "a-long-random-token-for-alice-0123456789",
            &[TokenScope::Triage],
        ),
    );
    settings
        .auth
        .tokens
        .insert("ci".to_string(), ApiToken::new(CI, &[TokenScope::Ingest]));
    let app = spawn_app_with(settings).await;
    // Recording the incident needs the ingest token (docs/security.md).
    let r = app
        .http
        .post(app.url("/api/v1/incidents"))
        .bearer_auth(CI)
        .body(
            json!({"id": "i1", "service": "api", "opened_at": "2026-03-12T10:20:00Z"}).to_string(),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 201);
    let (_, _, page) = get(&app, "/incidents").await;
    assert!(page.contains("name=\"token\""), "the form asks for a token");
    for form in [
        "caused_by_deploy=false",
        "caused_by_deploy=false&token=wrong",
    ] {
        let (status, body) = post_form(&app, "/incidents/i1/triage", form).await;
        assert_eq!(status, 401, "{form}: {body}");
        assert!(body.contains("[auth.tokens]"), "{body}");
    }
    let stored = app.json("/api/v1/incidents/i1").await;
    assert_eq!(stored["incident"]["caused_by_deploy"], json!(null));
    let (status, _) = post_form(
        &app,
        "/incidents/i1/triage",
        "caused_by_deploy=false&token=a-long-random-token-for-alice-0123456789",
    )
    .await;
    assert_eq!(status, 200);
    let stored = app.json("/api/v1/incidents/i1").await;
    assert_eq!(stored["incident"]["caused_by_deploy"], json!(false));
    let history = stored["triage_history"].to_string();
    assert!(history.contains("alice"), "{history}");
}

#[tokio::test]
async fn without_script_the_sort_buttons_sort_on_the_server() {
    let app = spawn_app().await;
    for (service, day) in [("alpha", "10"), ("beta", "11"), ("beta", "12")] {
        app.post_json(
            "/api/v1/deployments",
            json!({"service": service, "environment": "production",
                   "deployed_at": format!("2026-03-{day}T10:00:00Z")}),
        )
        .await;
    }
    // A sort button submits the filter form with its `sortdir`, which wins over the form's
    // current sort. Deployment frequency: beta 2/30 per day, alpha 1/30.
    let order = |body: &str| body.find("data-name=\"alpha\"") < body.find("data-name=\"beta\"");
    let (_, _, body) = get(&app, "/?end=2026-03-30&sort=name&dir=asc").await;
    assert!(order(&body), "by name: alpha first");
    let (_, _, body) = get(
        &app,
        "/?end=2026-03-30&sort=name&dir=asc&sortdir=deployment_frequency%3Adesc",
    )
    .await;
    assert!(!order(&body), "most frequent first: beta");
    assert!(body.contains("aria-sort=\"descending\" data-column=\"deployment_frequency\""));
}
