//! Debian's Prometheus scrapes a running Pacer and evaluates the rules `pacer rules`
//! writes; the recorded series equal Pacer's JSON API figures.

use crate::support::{Server, free_port, get_json, now, pacer, serve, tool, wait_for};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

/// A running Prometheus; killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Prometheus on loopback, scraping `pacer` every second and evaluating `rules`
/// every second.
fn start_prometheus(dir: &Path, pacer: &Server, rules: &str) -> Prometheus {
    let binary = tool("prometheus", "prometheus");
    // Evaluate every second in the test (the generated groups may pin a longer interval).
    let rules = rules
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("interval:") {
                let indent = &l[..l.len() - l.trim_start().len()];
                format!("{indent}interval: 1s")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("rules.yml"), rules).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - {rules}\n\
         scrape_configs:\n  - job_name: pacer\n    static_configs:\n      - targets: ['{target}']\n",
        rules = dir.join("rules.yml").display(),
        target = pacer.addr
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let child = std::process::Command::new(binary)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// The value of `query`'s single series, once Prometheus has one.
async fn instant(prometheus: &Prometheus, query: &str) -> f64 {
    let url = format!(
        "{}/api/v1/query?query={}",
        prometheus.url,
        form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
    );
    wait_for(query, Duration::from_secs(90), || async {
        let body: Value = pacer::http::client()
            .get(&url)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let result = body["data"]["result"].as_array()?;
        assert!(result.len() <= 1, "{query}: several series {result:?}");
        result.first()?["value"][1].as_str()?.parse().ok()
    })
    .await
}

async fn post(server: &Server, path: &str, body: Value) {
    let r = pacer::http::client()
        .post(server.at(path))
        .json(&body)
        .send()
        .await
        .expect("post");
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

#[tokio::test]
async fn prometheus_recording_rules_equal_the_json_api() {
    tool("promtool", "prometheus");
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let now = now();
    let h = |hours: i64| now - hours * 3600;
    // api (team payments): 3 deploys, lead times 1800, 3600 and 10800 s; one incident caused
    // by the second deploy, restored in 40 min. web: 1 deploy, no incidents.
    let deployments = [
        json!({"id": "a1", "service": "api", "team": "payments", "environment": "production",
               "deployed_at": h(72), "lead_time_seconds": 1800}),
        json!({"id": "a2", "service": "api", "team": "payments", "environment": "production",
               "deployed_at": h(48), "changes": [{"id": "c1", "started_at": h(49)}]}),
        json!({"id": "a3", "service": "api", "team": "payments", "environment": "production",
               "deployed_at": h(24), "lead_time_seconds": 10800}),
        json!({"id": "w1", "service": "web", "team": "storefront", "environment": "production",
               "deployed_at": h(30), "lead_time_seconds": 600}),
        json!({"id": "w0", "service": "web", "environment": "staging", "deployed_at": h(31)}),
    ];
    for d in deployments {
        post(&server, "/api/v1/deployments", d).await;
    }
    post(
        &server,
        "/api/v1/incidents",
        json!({"id": "i1", "service": "api", "opened_at": h(47), "resolved_at": h(47) + 2400,
               "caused_by_deploy": true}),
    )
    .await;

    let rules = pacer().arg("rules").output().expect("pacer rules");
    assert!(
        rules.status.success(),
        "{}",
        String::from_utf8_lossy(&rules.stderr)
    );
    let prometheus = start_prometheus(
        dir.path(),
        &server,
        &String::from_utf8(rules.stdout).unwrap(),
    );

    for service in ["api", "web"] {
        let m = get_json(&server.at(&format!("/api/v1/metrics?service={service}"))).await;
        let sel = format!("{{scope=\"service\",repo=\"{service}\",env=\"production\"}}");
        let freq = instant(
            &prometheus,
            &format!("dora:deployment_frequency:rate30d{sel}"),
        )
        .await;
        assert_eq!(
            freq,
            m["deployment_frequency"]["per_day"].as_f64().unwrap(),
            "{service}"
        );
        let lead = instant(&prometheus, &format!("dora:lead_time_seconds:p50{sel}")).await;
        assert_eq!(
            lead,
            m["lead_time"]["p50_seconds"].as_f64().unwrap(),
            "{service}"
        );
        let cfr = instant(
            &prometheus,
            &format!("dora:change_failure_rate:ratio30d{sel}"),
        )
        .await;
        assert_eq!(
            cfr,
            m["change_failure_rate"]["percent"].as_f64().unwrap(),
            "{service}"
        );
    }
    // By hand for api: 3/30 per day; lead times [1800, 3600, 10800] -> p50 3600; 1 of 3
    // deployments failed -> 33.33 %; MTTR 2400 s.
    let api = "{scope=\"service\",repo=\"api\"}";
    assert_eq!(
        instant(
            &prometheus,
            &format!("dora:deployment_frequency:rate30d{api}")
        )
        .await,
        3.0 / 30.0
    );
    assert_eq!(
        instant(&prometheus, &format!("dora:lead_time_seconds:p50{api}")).await,
        3600.0
    );
    assert_eq!(
        instant(
            &prometheus,
            &format!("dora:change_failure_rate:ratio30d{api}")
        )
        .await,
        1.0 / 3.0 * 100.0
    );
    assert_eq!(
        instant(&prometheus, &format!("dora:mttr_seconds:p50{api}")).await,
        2400.0
    );

    // The organisation: 4 deployments; lead times [600, 1800, 3600, 10800] -> p50 2700;
    // 1 of 4 failed -> 25 %; MTTR 2400.
    let org = get_json(&server.at("/api/v1/metrics")).await;
    let sel = "{scope=\"organization\",env=\"production\"}";
    for (record, json_value, by_hand) in [
        (
            "dora:deployment_frequency:rate30d",
            &org["deployment_frequency"]["per_day"],
            4.0 / 30.0,
        ),
        (
            "dora:lead_time_seconds:p50",
            &org["lead_time"]["p50_seconds"],
            2700.0,
        ),
        (
            "dora:change_failure_rate:ratio30d",
            &org["change_failure_rate"]["percent"],
            25.0,
        ),
        ("dora:mttr_seconds:p50", &org["mttr"]["p50_seconds"], 2400.0),
    ] {
        let value = instant(&prometheus, &format!("{record}{sel}")).await;
        assert_eq!(value, json_value.as_f64().unwrap(), "{record}");
        assert_eq!(value, by_hand, "{record}");
    }

    // web has no incident feed of its own: its MTTR is missing, and says so.
    let missing = instant(
        &prometheus,
        "pacer_dora_metric_missing{scope=\"service\",service=\"web\",metric=\"time_to_restore\"}",
    )
    .await;
    assert_eq!(missing, 1.0);
}
