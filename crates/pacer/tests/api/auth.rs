//! Authentication (docs/security.md): scoped tokens stored as hashes, 401/403 with
//! nothing stored, reads optionally protected, open mode only on loopback, and tokens never
//! printed by the server's log or `pacer config`.

use crate::helpers::{Answer, TestApp, spawn_app, spawn_app_with};
use pacer::settings::{ApiToken, Settings, TokenScope};
use serde_json::{Value, json};
use std::io::Read;
use std::process::{Command, Stdio};

const CI: &str = "ci-ingest-token-0123456789abcdef";
const ALICE: &str = "alice-triage-token-0123456789abcdef";
const ROOT: &str = "root-admin-token-0123456789abcdef";
const NOBODY: &str = "nobody-has-this-token-0123456789";

fn settings_with_tokens() -> Settings {
    let mut s = Settings::default();
    for (name, token, scope) in [
        ("ci", CI, TokenScope::Ingest),
        ("alice", ALICE, TokenScope::Triage),
        ("root", ROOT, TokenScope::Admin),
    ] {
        s.auth
            .tokens
            .insert(name.into(), ApiToken::new(token, &[scope]));
    }
    s
}

/// `method path` with `body` and an optional `Authorization` value.
async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> (Answer, reqwest::header::HeaderMap) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = app
        .client
        .request(method, app.url(path))
        .body(body.to_string());
    if let Some(value) = auth {
        request = request.header("authorization", value);
    }
    let r = request.send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    let answer = Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text.clone())),
        content_type: None,
        text,
    };
    (answer, headers)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn deployment(id: &str) -> String {
    json!({"id": id, "service": "api", "environment": "production",
           "deployed_at": "2026-03-15T10:00:00Z"})
    .to_string()
}

/// Asserts a 401 that challenges for a bearer token and says how to send one.
fn assert_unauthorized(a: &Answer, headers: &reqwest::header::HeaderMap) {
    assert_eq!(a.status, 401, "{}", a.body);
    assert_eq!(a.body["code"], "unauthorized");
    assert_eq!(headers["www-authenticate"], "Bearer");
    let e = a.error();
    assert!(e.contains("PACER_TOKEN"), "{e}");
}

#[tokio::test]
async fn writes_need_a_token_with_the_ingest_scope_and_refusals_store_nothing() {
    let app = spawn_app_with(settings_with_tokens()).await;
    for (path, body) in [
        ("/api/v1/deployments", deployment("d1")),
        (
            "/api/v1/incidents",
            json!({"id": "i1", "service": "api", "opened_at": "2026-03-15T10:20:00Z"}).to_string(),
        ),
    ] {
        // No token, a token nobody has, a configured token's prefix: 401.
        for auth in [
            None,
            Some(bearer(NOBODY)),
            Some(bearer(&CI[..CI.len() - 1])),
        ] {
            let (a, h) = call(&app, "POST", path, auth.as_deref(), &body).await;
            assert_unauthorized(&a, &h);
            assert!(
                !a.text.contains(NOBODY),
                "the token is not echoed: {}",
                a.text
            );
        }
        // A valid token without the scope: 403 naming the scope it needs.
        let (a, _) = call(&app, "POST", path, Some(&bearer(ALICE)), &body).await;
        assert_eq!(a.status, 403, "{}", a.body);
        assert_eq!(a.body["code"], "forbidden");
        let e = a.error();
        assert!(
            e.contains("\"alice\"") && e.contains("needs the ingest scope"),
            "{e}"
        );
        assert!(!e.contains(ALICE), "{e}");
    }
    // Nothing was stored by any refusal.
    assert_eq!(
        app.get("/api/v1/deployments").await.body["deployments"],
        json!([])
    );
    assert_eq!(
        app.get("/api/v1/incidents").await.body["incidents"],
        json!([])
    );

    // The ingest token and the admin token (admin implies ingest) write.
    let (a, _) = call(
        &app,
        "POST",
        "/api/v1/deployments",
        Some(&bearer(CI)),
        &deployment("d1"),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let (a, _) = call(
        &app,
        "POST",
        "/api/v1/deployments",
        Some(&bearer(ROOT)),
        &deployment("d2"),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    // Basic auth with the token as password (what Pushgateway clients can send) works too.
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("ci:{CI}"))
    );
    let (a, _) = call(
        &app,
        "POST",
        "/api/v1/deployments",
        Some(&basic),
        &deployment("d3"),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    // Reads stay open by default.
    let list = app.get("/api/v1/deployments").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["deployments"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn triage_needs_the_triage_scope_and_records_the_tokens_name() {
    let app = spawn_app_with(settings_with_tokens()).await;
    let (a, _) = call(
        &app,
        "POST",
        "/api/v1/deployments",
        Some(&bearer(CI)),
        &deployment("d1"),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let incident = json!({"id": "i1", "service": "api", "opened_at": "2026-03-15T10:20:00Z"});
    let (a, _) = call(
        &app,
        "POST",
        "/api/v1/incidents",
        Some(&bearer(CI)),
        &incident.to_string(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);

    let body = json!({"caused_by_deploy": true, "deployment_id": "d1"}).to_string();
    let (a, h) = call(&app, "PATCH", "/api/v1/incidents/i1", None, &body).await;
    assert_unauthorized(&a, &h);
    let (a, _) = call(
        &app,
        "PATCH",
        "/api/v1/incidents/i1",
        Some(&bearer(CI)),
        &body,
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.error().contains("needs the triage scope"), "{}", a.body);
    assert_eq!(
        app.get("/api/v1/incidents/i1").await.body["incident"]["caused_by_deploy"],
        Value::Null
    );

    let (a, _) = call(
        &app,
        "PATCH",
        "/api/v1/incidents/i1",
        Some(&bearer(ALICE)),
        &body,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["incident"]["triaged_by"], "alice");
    // Admin implies triage (a different decision, so it is recorded as a new triage).
    let undo = json!({"caused_by_deploy": false, "deployment_id": null}).to_string();
    let (a, _) = call(
        &app,
        "PATCH",
        "/api/v1/incidents/i1",
        Some(&bearer(ROOT)),
        &undo,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["incident"]["triaged_by"], "root");
}

#[tokio::test]
async fn the_push_endpoint_needs_ingest_and_webhooks_keep_their_own_signatures() {
    let app = spawn_app_with(settings_with_tokens()).await;
    let group = "/metrics/job/dora/instance/acme_payments";
    let body = "# TYPE dora_deployment_timestamp gauge\n\
                dora_deployment_timestamp{repo=\"acme/payments\",env=\"production\"} 1773568800\n";
    for method in ["PUT", "POST", "DELETE"] {
        let (a, h) = call(&app, method, group, None, body).await;
        assert_unauthorized(&a, &h);
        let (a, _) = call(&app, method, group, Some(&bearer(ALICE)), body).await;
        assert_eq!(a.status, 403, "{method}: {}", a.body);
    }
    assert_eq!(
        app.get("/api/v1/deployments").await.body["deployments"],
        json!([])
    );
    let (a, _) = call(&app, "POST", group, Some(&bearer(CI)), body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["deployments"][0]["service"], "acme/payments");

    // A webhook needs no bearer token: its receiver checks the vendor's signature (here
    // none is configured, so it answers with its own refusal naming the setting).
    let (a, _) = call(&app, "POST", "/webhooks/github", None, "{}").await;
    assert_ne!(a.body["code"], "unauthorized", "{}", a.body);
    assert!(a.text.contains("webhooks.github.secret"), "{}", a.text);
}

#[tokio::test]
async fn with_require_for_reads_every_read_but_the_probes_needs_a_token_of_any_scope() {
    let mut settings = settings_with_tokens();
    settings.auth.require_for_reads = true;
    let app = spawn_app_with(settings).await;
    for path in [
        "/api/v1/metrics",
        "/api/v1/deployments",
        "/metrics",
        "/",
        "/incidents",
    ] {
        let (a, h) = call(&app, "GET", path, None, "").await;
        assert_unauthorized(&a, &h);
        // Dashboard pages also offer Basic, so a browser asks for the token.
        let challenges: Vec<_> = h.get_all("www-authenticate").iter().collect();
        let dashboard = !(path.starts_with("/api/") || path.starts_with("/metrics"));
        assert_eq!(challenges.len(), if dashboard { 2 } else { 1 }, "{path}");
        for token in [CI, ALICE, ROOT] {
            let (a, _) = call(&app, "GET", path, Some(&bearer(token)), "").await;
            assert_eq!(a.status, 200, "{path}: {}", a.text);
        }
        let (a, _) = call(&app, "GET", path, Some(&bearer(NOBODY)), "").await;
        assert_eq!(a.status, 401, "{path}");
    }
    for path in ["/healthz", "/readyz"] {
        assert_eq!(app.get(path).await.status, 200, "{path}");
    }
}

#[tokio::test]
async fn the_dashboard_triage_form_needs_a_token_with_the_triage_scope() {
    let app = spawn_app_with(settings_with_tokens()).await;
    let incident = json!({"id": "i1", "service": "api", "opened_at": "2026-03-15T10:20:00Z"});
    let (a, _) = call(
        &app,
        "POST",
        "/api/v1/incidents",
        Some(&bearer(CI)),
        &incident.to_string(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let form = |token: &str| format!("caused_by_deploy=false&token={token}");
    let post = |body: String| {
        app.client
            .post(app.url("/incidents/i1/triage"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let r = post(form("")).await.expect("request");
    assert_eq!(r.status().as_u16(), 401);
    let r = post(form(CI)).await.expect("request");
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("triage scope"));
    assert_eq!(
        app.get("/api/v1/incidents/i1").await.body["incident"]["caused_by_deploy"],
        Value::Null
    );
    // Accepted: 303 to the queue, which reqwest follows.
    let r = post(form(ALICE)).await.expect("request");
    assert_eq!(r.status().as_u16(), 200);
    let stored = app.get("/api/v1/incidents/i1").await.body;
    assert_eq!(stored["incident"]["caused_by_deploy"], false);
    assert_eq!(stored["incident"]["triaged_by"], "alice");
}

/// Open mode (no tokens, on loopback, as every other test runs): writes need nothing and
/// triage is anonymous.
#[tokio::test]
async fn in_open_mode_on_loopback_writes_need_no_token() {
    let app = spawn_app().await;
    let (a, _) = call(&app, "POST", "/api/v1/deployments", None, &deployment("d1")).await;
    assert_eq!(a.status, 201, "{}", a.body);
    // A token sent to an open server is ignored, not refused.
    let (a, _) = call(
        &app,
        "POST",
        "/api/v1/deployments",
        Some(&bearer(NOBODY)),
        &deployment("d2"),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
}

#[test]
fn exposure_rule_allows_open_mode_only_on_loopback_or_when_accepted() {
    use pacer::server::check_exposure;
    let open = Settings::default().auth;
    for addr in ["127.0.0.1:7077", "[::1]:7077", "127.0.0.2:80"] {
        assert!(
            check_exposure(&open, addr.parse().unwrap()).is_ok(),
            "{addr}"
        );
    }
    for addr in ["0.0.0.0:7077", "[::]:7077", "192.168.1.10:7077"] {
        let e = check_exposure(&open, addr.parse().unwrap()).unwrap_err();
        assert!(
            e.contains(&format!("refusing to listen on {addr}"))
                && e.contains("allow_unauthenticated = true")
                && e.contains("docs/security.md"),
            "{e}"
        );
    }
    let mut accepted = open.clone();
    accepted.allow_unauthenticated = true;
    assert!(check_exposure(&accepted, "0.0.0.0:7077".parse().unwrap()).is_ok());
    let tokens = settings_with_tokens().auth;
    assert!(check_exposure(&tokens, "0.0.0.0:7077".parse().unwrap()).is_ok());
}

// ---------------------------------------------------------------------------------------
// The binary: `pacer serve`, `pacer config`, `pacer token`

fn pacer() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pacer"));
    for var in ["PACER_SERVER", "PACER_CONFIG", "PACER_TOKEN", "RUST_LOG"] {
        c.env_remove(var);
    }
    c
}

/// A config file with the three tokens, as hashes.
fn config_file(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let mut text = String::new();
    for (name, token, scope) in [
        ("ci", CI, "ingest"),
        ("alice", ALICE, "triage"),
        ("root", ROOT, "admin"),
    ] {
        text.push_str(&format!(
            "[auth.tokens.{name}]\nsha256 = \"{}\"\nscopes = [\"{scope}\"]\n\n",
            pacer::settings::hash_token(token)
        ));
    }
    text.push_str(extra);
    let path = dir.join("pacer.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Starts `pacer serve` with `args` and waits for its "listening" line.
fn serve(args: &[&str], env: &[(&str, &str)]) -> crate::common::serve::Served {
    crate::common::serve::start(
        pacer()
            .arg("serve")
            .args(args)
            .envs(env.iter().copied())
            .stderr(Stdio::piped()),
    )
}

#[test]
fn serving_beyond_loopback_without_tokens_fails_unless_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let out = pacer()
        .args(["serve", "--listen", "0.0.0.0:0", "--database", &db])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:") && stderr.contains("[auth.tokens]"),
        "{stderr}"
    );

    let accepted = dir.path().join("open.toml");
    std::fs::write(&accepted, "[auth]\nallow_unauthenticated = true\n").unwrap();
    let child = serve(
        &[
            "--listen",
            "0.0.0.0:0",
            "--database",
            &db,
            "--config",
            accepted.to_str().unwrap(),
        ],
        &[],
    );
    assert!(child.url.starts_with("http://0.0.0.0:"), "{}", child.url);
    drop(child);

    let config = config_file(dir.path(), "");
    let child = serve(
        &[
            "--listen",
            "0.0.0.0:0",
            "--database",
            &db,
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    );
    assert!(child.url.starts_with("http://0.0.0.0:"), "{}", child.url);
}

/// The tokens never reach the server's log (at debug), nor `pacer config`, whether they
/// are accepted, refused or lack the scope.
#[tokio::test]
async fn tokens_never_appear_in_the_log_or_the_printed_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), "");
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let mut child = serve(
        &[
            "--listen",
            "127.0.0.1:0",
            "--database",
            &db,
            "--config",
            config.to_str().unwrap(),
        ],
        &[("RUST_LOG", "debug")],
    );
    let client = pacer::http::client();
    let base = child.url.trim_end_matches('/').to_string();
    let mut statuses = Vec::new();
    for token in [CI, ALICE, NOBODY] {
        let r = client
            .post(format!("{base}/api/v1/deployments"))
            .bearer_auth(token)
            .body(deployment("d1"))
            .send()
            .await
            .expect("request");
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [201, 403, 401]);
    let _ = child.child.kill();
    let mut log = String::new();
    child
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    child
        .child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        log.contains("request refused"),
        "the refusals are logged: {log}"
    );
    for token in [CI, ALICE, NOBODY] {
        assert!(!log.contains(token), "{token} in the log:\n{log}");
    }

    let out = pacer()
        .args(["config", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.contains("[auth.tokens.ci]") && printed.contains("<redacted>"),
        "{printed}"
    );
    for token in [CI, ALICE, ROOT] {
        assert!(!printed.contains(token), "{printed}");
        assert!(
            !printed.contains(&pacer::settings::hash_token(token)),
            "{printed}"
        );
    }
}

#[test]
fn plain_tokens_in_the_config_are_refused_with_how_to_hash_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.toml");
    std::fs::write(&path, format!("[auth.tokens]\nalice = \"{ALICE}\"\n")).unwrap();
    let out = pacer()
        .args(["config", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("plain tokens in [auth.tokens] are no longer accepted")
            && stderr.contains("pacer token hash"),
        "{stderr}"
    );
    assert!(!stderr.contains(ALICE), "{stderr}");

    std::fs::write(
        &path,
        "[auth.tokens.alice]\nsha256 = \"abc\"\nscopes = [\"triage\"]\n",
    )
    .unwrap();
    let out = pacer()
        .args(["config", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("auth.tokens.\"alice\".sha256 is not 64 hex digits"),
        "{stderr}"
    );

    std::fs::write(
        &path,
        format!(
            "[auth.tokens.alice]\nsha256 = \"{}\"\nscopes = [\"owner\"]\n",
            pacer::settings::hash_token(ALICE)
        ),
    )
    .unwrap();
    let out = pacer()
        .args(["config", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("owner") && stderr.contains("ingest"),
        "{stderr}"
    );
}

#[test]
fn pacer_token_hash_and_new_make_entries_the_server_accepts() {
    // sha256 of "pacer-test-token-0123456789", from `printf %s ... | sha256sum`.
    let mut child = pacer()
        .args(["token", "hash"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"pacer-test-token-0123456789\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "3600c1ecd03e8077fa7e2b8e161f25633a61a71ed4ab0da5e55f9866ab05f147\n"
    );

    let out = pacer()
        .args([
            "token",
            "new",
            "--name",
            "deployer",
            "--scope",
            "ingest,triage",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("token line");
    assert_eq!(token.len(), 64, "{text}");
    // The printed entry is a config the server loads, and it authenticates the token.
    let config: String = text
        .lines()
        .skip_while(|l| !l.starts_with('['))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.toml");
    std::fs::write(&path, config).unwrap();
    let settings = Settings::load(Some(&path)).expect("loads");
    let caller = settings.auth.authenticate(token).expect("authenticates");
    assert_eq!(caller.name, "deployer");
    assert_eq!(caller.scopes, [TokenScope::Ingest, TokenScope::Triage]);
}

/// `--token` and `PACER_TOKEN` on the client commands.
#[tokio::test]
async fn the_cli_sends_its_token() {
    let app = spawn_app_with(settings_with_tokens()).await;
    let address = app.address.clone();
    let run = move |args: Vec<String>, env: Vec<(&'static str, String)>| {
        tokio::task::spawn_blocking(move || {
            pacer().args(&args).envs(env).output().expect("run pacer")
        })
    };
    let record = |extra: &[&str]| {
        let mut args: Vec<String> = [
            "deployment",
            "record",
            "--server",
            &address,
            "--service",
            "api",
            "--environment",
            "production",
            "--deployed-at",
            "2026-03-15T10:00:00Z",
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let out = run(record(&["--id", "d1"]), vec![]).await.unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs an API token"), "{stderr}");
    let out = run(record(&["--id", "d1", "--token", CI]), vec![])
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        record(&["--id", "d2"]),
        vec![("PACER_TOKEN", CI.to_string())],
    )
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        [
            "incident",
            "open",
            "--server",
            &app.address,
            "--id",
            "i1",
            "--service",
            "api",
            "--opened-at",
            "2026-03-15T10:20:00Z",
            "--token",
            CI,
        ]
        .map(String::from)
        .to_vec(),
        vec![],
    )
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        app.get("/api/v1/deployments").await.body["deployments"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

/// `pacer report --server` sends `--token` too, for a server that protects reads.
#[tokio::test]
async fn the_report_command_sends_its_token_when_reads_need_one() {
    let mut settings = settings_with_tokens();
    settings.auth.require_for_reads = true;
    let app = spawn_app_with(settings).await;
    let address = app.address.clone();
    let out = tokio::task::spawn_blocking(move || {
        let report = |extra: &[&str]| {
            pacer()
                .args(["report", "--server", &address, "--format", "json"])
                .args(extra)
                .output()
                .expect("run pacer")
        };
        (report(&[]), report(&["--token", ALICE]))
    })
    .await
    .unwrap();
    let (refused, served) = out;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("needs an API token"), "{stderr}");
    assert!(
        served.status.success(),
        "{}",
        String::from_utf8_lossy(&served.stderr)
    );
    let report: Value = serde_json::from_slice(&served.stdout).expect("json report");
    assert!(report.get("organisation").is_some(), "{report}");
}
