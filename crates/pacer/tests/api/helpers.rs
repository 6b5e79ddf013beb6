use pacer::app::Pacer;
use pacer::settings::Settings;
use serde_json::Value;
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
    let store = pacer::store::open(&settings.server.database)
        .await
        .expect("open store");
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
        client: reqwest::Client::new(),
        pacer,
        _dir: dir,
    }
}

/// A response's status and JSON body.
pub struct Answer {
    pub status: u16,
    pub body: Value,
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
    let text = r.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, body }
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

/// `2026-03-01T00:00:00Z` plus `hours`, as Unix seconds.
pub fn t(hours: f64) -> i64 {
    1_772_323_200 + (hours * 3600.0) as i64
}
