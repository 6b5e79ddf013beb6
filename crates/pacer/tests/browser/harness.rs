//! A real server on port 0 (in-process, fresh SQLite file), Debian's chromedriver as a
//! child process on a free port, and headless chromium driven through WebDriver.
//!
//! Browser tests run one at a time: two chromiums on a 2-core machine make each other's
//! timeouts. Every wait polls a condition with a deadline; nothing sleeps a fixed time.

use fantoccini::{Client, ClientBuilder, Locator};
use pacer::app::Pacer;
use pacer::settings::Settings;
use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long any condition may take to become true.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The demo history ends here (so its figures are the same on every run).
pub const DEMO_NOW: &str = "2026-03-31T00:00:00Z";
/// The end date the tests put in the filter: through the end of 2026-03-30 (UTC), which is
/// the window ending at [`DEMO_NOW`].
pub const END_DATE: &str = "2026-03-30";

static ONE_BROWSER_AT_A_TIME: Mutex<()> = Mutex::new(());

const INSTALL: &str = "apt-get install -y chromium chromium-driver";

/// A running Pacer.
pub struct App {
    pub address: String,
    pub pacer: Pacer,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl App {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A JSON API answer, asserting 200.
    pub async fn json(&self, path: &str) -> Value {
        let r = self.http.get(self.url(path)).send().await.expect("request");
        let status = r.status();
        let body: Value = r.json().await.expect("json body");
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    pub async fn post_json(&self, path: &str, body: Value) {
        let r = self
            .http
            .post(self.url(path))
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        let status = r.status();
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            r.text().await.unwrap_or_default()
        );
    }
}

pub async fn spawn_app() -> App {
    spawn_app_with(Settings::default()).await
}

pub async fn spawn_app_with(mut settings: Settings) -> App {
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
    App {
        address: format!("http://{addr}"),
        pacer,
        http: pacer::http::client(),
        _dir: dir,
    }
}

/// Loads the generated 90-day demo history the way `pacer demo` does (its default seed),
/// ending at [`DEMO_NOW`].
pub async fn seed_demo(app: &App) {
    let now = pacer::timefmt::parse_rfc3339(DEMO_NOW).expect("time");
    let data = pacer::demo::generate(now, 90, 7);
    for d in &data.deployments {
        app.pacer.store.record_deployment(d).await.expect("deploy");
    }
    for i in data.incidents {
        app.pacer.store.record_incident(i).await.expect("incident");
    }
}

/// chromedriver as a child process, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

async fn start_driver() -> Driver {
    let driver = find_tool("chromedriver").unwrap_or_else(|| {
        panic!("chromedriver is not installed; the browser tests need Debian's chromium and its driver: {INSTALL}")
    });
    assert!(
        find_tool("chromium").is_some(),
        "chromium is not installed; the browser tests need Debian's chromium and its driver: {INSTALL}"
    );
    // A free port: bind port 0, read it, let it go for chromedriver.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(r) = http.get(format!("{}/status", driver.url)).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not answer on {} within {PATIENCE:?}",
            driver.url
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    let mut chrome = serde_json::json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1024"]
    });
    if let Some(binary) = find_tool("chromium") {
        chrome["binary"] = Value::String(binary.display().to_string());
    }
    caps.insert("goog:chromeOptions".into(), chrome);
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a chromium session through chromedriver")
}

/// What a browser test gets.
pub struct Env {
    pub app: App,
    pub browser: Client,
}

/// Runs one browser test against a Pacer with the demo history (`demo`) or an empty one.
pub fn run<F, Fut>(demo: bool, test: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    let _one = ONE_BROWSER_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let app = spawn_app().await;
        if demo {
            seed_demo(&app).await;
        }
        let driver = start_driver().await;
        let browser = browser(&driver).await;
        let env = test(Env { app, browser }).await;
        let _ = env.browser.close().await;
        drop(driver);
    });
}

/// Polls `check` until it gives `Some`, failing with `what` after [`PATIENCE`].
pub async fn wait_for<T, Fut>(what: &str, mut check: impl FnMut() -> Fut) -> T
where
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {PATIENCE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Env {
    /// Opens a page and waits until its `<h1>` is there.
    pub async fn open(&self, path: &str) {
        self.browser
            .goto(&self.app.url(path))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
        self.browser
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css("h1"))
            .await
            .unwrap_or_else(|e| panic!("{path} has no h1: {e}"));
    }

    /// An attribute of the first element matching `css` (empty when unset).
    pub async fn attr(&self, css: &str, name: &str) -> String {
        let el = self
            .browser
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"));
        el.attr(name).await.expect("attr").unwrap_or_default()
    }

    pub async fn text(&self, css: &str) -> String {
        self.browser
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
            .text()
            .await
            .expect("text")
    }

    pub async fn url(&self) -> String {
        self.browser.current_url().await.expect("url").to_string()
    }

    /// Writes a PNG of the page to `target/browser-artifacts/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.browser.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir).expect("artifact dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// The element that has keyboard focus, described by `tag#id.class[value]`.
    pub async fn focused(&self) -> String {
        let v = self
            .browser
            .execute(
                "const e = document.activeElement; return e.tagName + '#' + e.id + '.' + e.className + '[' + (e.value ?? '') + ']';",
                vec![],
            )
            .await
            .expect("script");
        v.as_str().unwrap_or_default().to_string()
    }

    /// Presses keys on the focused element.
    pub async fn press(&self, keys: &str) {
        self.browser
            .active_element()
            .await
            .expect("focused element")
            .send_keys(keys)
            .await
            .expect("keys");
    }

    /// Tabs (at most `limit` times) until the focused element matches `wanted`.
    pub async fn tab_to(&self, wanted: &str, limit: usize) {
        for _ in 0..limit {
            self.press(&fantoccini::key::Key::Tab.to_string()).await;
            if self.focused().await.contains(wanted) {
                return;
            }
        }
        panic!(
            "{wanted} was not reachable with the Tab key in {limit} presses (focus is on {})",
            self.focused().await
        );
    }
}

/// `target/browser-artifacts/` of the workspace (or of `CARGO_TARGET_DIR`).
pub fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("browser-artifacts")
}

/// The number the JSON API gives for a tile's metric (`None`: missing there too).
pub fn api_figure(m: &Value, metric: &str) -> Option<f64> {
    match metric {
        "deployment_frequency" => {
            let d = &m["deployment_frequency"];
            (d["deployments"].as_u64() > Some(0)).then(|| d["per_day"].as_f64().expect("per_day"))
        }
        "lead_time" => m["lead_time"]["p50_seconds"].as_f64(),
        "change_failure_rate" => m["change_failure_rate"]["percent"].as_f64(),
        "mttr" => m["mttr"]["p50_seconds"].as_f64(),
        "rework_rate" => m["rework_rate"]["percent"].as_f64(),
        other => panic!("unknown metric {other}"),
    }
}
