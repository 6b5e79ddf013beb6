//! The overview's figures are the JSON API's, and its filters live in the URL.

use crate::harness::{END_DATE, Env, api_figure, run, wait_for};
use fantoccini::Locator;
use serde_json::Value;

const METRICS: [&str; 5] = [
    "deployment_frequency",
    "lead_time",
    "change_failure_rate",
    "mttr",
    "rework_rate",
];

fn samples(m: &Value, metric: &str) -> u64 {
    let field = match metric {
        "lead_time" => "changes",
        "mttr" => "incidents",
        _ => "deployments",
    };
    m[metric][field].as_u64().expect("sample count")
}

/// Every tile on the page against `GET /api/v1/metrics` for the page's own window
/// (read from `#window[data-end]`, so "now" cannot drift between the two requests).
async fn tiles_match_api(env: &Env, scope_query: &str) -> Value {
    let end = env.attr("#window", "data-end").await;
    let days = env.attr("#window", "data-days").await;
    let api = env
        .app
        .json(&format!(
            "/api/v1/metrics?{scope_query}days={days}&end={end}"
        ))
        .await;
    for metric in METRICS {
        let tile = format!("#tile-{metric}");
        let raw = env.attr(&tile, "data-value").await;
        let shown = (!raw.is_empty()).then(|| raw.parse::<f64>().expect("data-value is a number"));
        assert_eq!(shown, api_figure(&api, metric), "{metric}: page vs {api}");
        let band = env.attr(&tile, "data-band").await;
        let api_band = api[metric]["band"].as_str().unwrap_or_default();
        assert_eq!(band, api_band, "{metric} band");
        assert_eq!(
            env.attr(&tile, "data-samples").await,
            samples(&api, metric).to_string(),
            "{metric} samples"
        );
        let low = api[metric]["low_confidence"].as_bool().unwrap_or(false);
        assert_eq!(
            env.attr(&tile, "data-low-confidence").await,
            low.to_string()
        );
        // The band is written out, not only coloured.
        if !api_band.is_empty() {
            assert!(env.text(&tile).await.contains(&format!("Band: {api_band}")));
        }
    }
    let overall = api["overall_band"].as_str().unwrap_or_default();
    assert_eq!(env.attr("#overall-band", "data-band").await, overall);
    api
}

#[test]
fn overview_figures_equal_the_json_api() {
    run(true, |env| async move {
        env.open(&format!("/?days=30&end={END_DATE}")).await;
        // The end date is inclusive: the window ends at the next midnight (UTC).
        assert_eq!(
            env.attr("#window", "data-end").await,
            "2026-03-31T00:00:00Z"
        );
        let org = tiles_match_api(&env, "").await;
        // The demo history has every metric over 30 days: no tile may be missing.
        for metric in METRICS {
            assert!(
                api_figure(&org, metric).is_some(),
                "{metric} missing in the demo"
            );
        }

        // The table: one row per team and per service, each with the report's band.
        let report = env
            .app
            .json("/api/v1/report?days=30&end=2026-03-31T00:00:00Z")
            .await;
        let rows = env
            .browser
            .find_all(Locator::Css("#scopes tbody tr"))
            .await
            .expect("rows");
        let teams = report["teams"].as_array().expect("teams");
        let services = report["services"].as_array().expect("services");
        assert_eq!(rows.len(), teams.len() + services.len());
        for s in services {
            let name = s["scope"]["service"].as_str().expect("name");
            let row = format!("#scopes tr[data-kind=service][data-name={name:?}]");
            let band = s["overall_band"].as_str().unwrap_or("none");
            assert!(
                env.text(&row).await.ends_with(band),
                "{name}: {}",
                env.text(&row).await
            );
            assert_eq!(
                env.attr(&format!("{row} a"), "href").await,
                format!("/services/{name}")
            );
        }

        // A service's view equals the API for that service.
        env.open(&format!("/?service=payments-api&days=90&end={END_DATE}"))
            .await;
        tiles_match_api(&env, "service=payments-api&").await;
        env.screenshot("overview-service-payments-api").await;
        env
    });
}

#[test]
fn filters_change_the_url_and_the_figures() {
    run(true, |env| async move {
        env.open(&format!("/?end={END_DATE}")).await;
        let before = env.attr("#tile-deployment_frequency", "data-value").await;
        env.browser
            .find(Locator::Id("f-team"))
            .await
            .expect("team filter")
            .select_by_value("payments")
            .await
            .expect("select team");
        env.browser
            .find(Locator::Id("f-days"))
            .await
            .expect("days filter")
            .select_by_value("7")
            .await
            .expect("select days");
        env.browser
            .find(Locator::Id("apply-filters"))
            .await
            .expect("apply")
            .click()
            .await
            .expect("click");
        let url = wait_for("the filters in the URL", || async {
            let url = env.url().await;
            (url.contains("team=payments") && url.contains("days=7")).then_some(url)
        })
        .await;
        assert!(url.contains(&format!("end={END_DATE}")), "{url}");
        assert!(env.text("h1").await.contains("team payments"));
        let after = env.attr("#tile-deployment_frequency", "data-value").await;
        assert_ne!(
            before, after,
            "the team's 7 days must differ from the organisation's 30"
        );
        tiles_match_api(&env, "team=payments&").await;

        // The URL is the view: opening it afresh shows the same figures.
        env.browser.goto(&url).await.expect("reload");
        assert_eq!(
            env.attr("#tile-deployment_frequency", "data-value").await,
            after
        );
        assert_eq!(
            env.attr("#f-team option[selected]", "value").await,
            "payments"
        );
        env
    });
}
