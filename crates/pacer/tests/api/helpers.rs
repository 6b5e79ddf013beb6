use pacer::app::Pacer;
use pacer::settings::Settings;
use serde_json::{Value, json};
use std::net::SocketAddr;

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub pacer: Pacer,
    // Dropped with the app: the database lives as long as the test.
    _dir: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Settings::default()).await
}

pub async fn spawn_app_with(mut settings: Settings) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    settings.server.database = format!("sqlite://{}", dir.path().join("pacer.db").display());
    // SQLite and PostgreSQL, mirrored: every API test runs on both (tests/common/backends.rs).
    let store = crate::common::backends::fresh_store(dir.path()).await;
    let pacer = Pacer::new(store, settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let app = pacer.clone();
    tokio::spawn(async move {
        pacer::server::run(listener, app, std::future::pending())
            .await
            .expect("serve");
    });
    TestApp {
        address: format!("http://{addr}"),
        client: pacer::http::client(),
        pacer,
        _dir: dir,
    }
}

/// A response's status and JSON body.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// The `content-type` header, if any.
    pub content_type: Option<String>,
    /// The body exactly as sent.
    pub text: String,
}

impl Answer {
    /// The error message of a 4xx answer (fails the test on anything else).
    pub fn error(&self) -> &str {
        assert!(
            (400..500).contains(&self.status),
            "expected a 4xx, got {} {}",
            self.status,
            self.body
        );
        self.body["error"]
            .as_str()
            .expect("error body has an error string")
    }
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let text = r.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
    Answer {
        status,
        body,
        content_type,
        text,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }
    pub async fn get(&self, path: &str) -> Answer {
        answer(
            self.client
                .get(self.url(path))
                .send()
                .await
                .expect("request"),
        )
        .await
    }
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Answer {
        answer(
            self.client
                .post(self.url(path))
                .body(body)
                .send()
                .await
                .expect("request"),
        )
        .await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.post_raw(path, body.to_string()).await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Answer {
        answer(
            self.client
                .patch(self.url(path))
                .body(body.to_string())
                .send()
                .await
                .expect("request"),
        )
        .await
    }
    /// Any method, any raw body (`None`: no body at all).
    pub async fn send(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        answer(request.send().await.expect("request")).await
    }
    pub async fn deploy(&self, body: Value) -> Answer {
        self.post("/api/v1/deployments", &body).await
    }
    pub async fn incident(&self, body: Value) -> Answer {
        self.post("/api/v1/incidents", &body).await
    }
    pub async fn metrics(&self, query: &str) -> Value {
        let a = self.get(&format!("/api/v1/metrics?{query}")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body
    }
}

/// POSTs `body` to `path` as JSON with extra `headers`: a webhook delivery.
pub async fn deliver(app: &TestApp, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request.send().await.expect("request")).await
}

/// `2026-03-01T00:00:00Z` plus `hours`, as Unix seconds.
pub fn t(hours: f64) -> i64 {
    1_772_323_200 + (hours * 3600.0) as i64
}

/// `t(hours)` as an RFC 3339 string.
pub fn rfc(hours: f64) -> String {
    pacer::timefmt::format(pacer_core::Timestamp::from_seconds(t(hours)))
}

/// The fixed window end the tests use: `2026-03-31T00:00:00Z` (30 days after `t(0)`).
pub const END: &str = "2026-03-31T00:00:00Z";

/// Settings with `service = team` entries in `teams`.
pub fn settings_with_teams(teams: &[(&str, &str)]) -> Settings {
    Settings {
        teams: teams
            .iter()
            .map(|(s, t)| (s.to_string(), t.to_string()))
            .collect(),
        ..Settings::default()
    }
}

/// Records a small known history (two services, two teams), asserting every delivery is
/// accepted. Figures over the 30 days ending at [`END`], worked out by hand:
///
/// - production deploys d1 (api, `production`), d2 (api, `prod`, precomputed lead time)
///   and d3 (web, `Production`); d4 is web in staging and d5 a failed api deploy;
/// - lead times: c1 3600 s, c2 7200 s (d1), 1800 s (d2), w1 7200 s (d3);
/// - i1 (api) caused by d1, restored in 3600 s; i2 (web) untriaged, restored in 6300 s;
///   i3 (api) still open, untriaged.
pub async fn record_history(app: &TestApp) {
    let deployments = [
        json!({"id": "d1", "service": "api", "environment": "production", "team": "payments",
               "sha": "a1a1", "repo": "acme/api", "deployed_at": rfc(10.0),
               "changes": [{"id": "c1", "started_at": rfc(9.0)}, {"id": "c2", "started_at": t(8.0)}]}),
        json!({"id": "d2", "service": "api", "environment": "prod", "deployed_at": t(50.0),
               "lead_time_seconds": 1800}),
        json!({"id": "d3", "service": "web", "environment": "Production", "team": "storefront",
               "deployed_at": rfc(60.0), "changes": [{"id": "w1", "started_at": rfc(58.0)}]}),
        json!({"id": "d4", "service": "web", "environment": "staging", "team": "storefront",
               "deployed_at": rfc(59.0), "changes": [{"id": "w1", "started_at": rfc(58.0)}]}),
        json!({"id": "d5", "service": "api", "environment": "production", "status": "failure",
               "deployed_at": rfc(70.0)}),
    ];
    for d in deployments {
        let a = app.deploy(d).await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let incidents = [
        json!({"id": "i1", "service": "api", "opened_at": rfc(10.5), "resolved_at": rfc(11.5),
               "severity": "SEV1", "caused_by_deploy": true}),
        json!({"id": "i2", "service": "web", "opened_at": t(60.25), "resolved_at": t(62.0)}),
        json!({"id": "i3", "service": "api", "opened_at": rfc(100.0), "severity": "SEV2"}),
    ];
    for i in incidents {
        let a = app.incident(i).await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
}

/// Every read a user can make of [`record_history`]'s data, as exact response text.
pub async fn observe(app: &TestApp) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in [
        format!("/api/v1/metrics?end={END}"),
        format!("/api/v1/metrics?service=api&end={END}"),
        format!("/api/v1/metrics?service=web&end={END}"),
        format!("/api/v1/metrics?team=payments&end={END}"),
        format!("/api/v1/services?end={END}"),
        format!("/api/v1/report?end={END}"),
        "/api/v1/deployments?limit=1000".to_string(),
        "/api/v1/incidents?limit=1000".to_string(),
        "/api/v1/deployments/d1".to_string(),
        "/api/v1/incidents/i1".to_string(),
        "/api/v1/incidents/i3".to_string(),
    ] {
        let a = app.get(&path).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        out.push((path, a.text));
    }
    out
}
