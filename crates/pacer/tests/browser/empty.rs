//! A fresh, empty database: every page says why a figure is missing, never 0.

use crate::harness::{Env, run};
use fantoccini::Locator;
use pacer_core::engine::MTTR_NO_FEED;

const METRICS: [&str; 5] = [
    "deployment_frequency",
    "lead_time",
    "change_failure_rate",
    "mttr",
    "rework_rate",
];

async fn no_figures(env: &Env) {
    for metric in METRICS {
        let tile = format!("#tile-{metric}");
        assert_eq!(env.attr(&tile, "data-value").await, "", "{metric}");
        let value = env.text(&format!("{tile} .value")).await;
        assert_eq!(value, "No figure", "{metric} shows {value:?}");
        let why = env.text(&format!("{tile} [data-missing-reason]")).await;
        assert!(!why.is_empty(), "{metric} says why");
    }
}

#[test]
fn an_empty_database_says_why_figures_are_missing() {
    run(false, |env| async move {
        env.open("/").await;
        no_figures(&env).await;
        assert_eq!(
            env.text("#tile-mttr [data-missing-reason]").await,
            MTTR_NO_FEED
        );
        assert!(
            env.text("#tile-deployment_frequency [data-missing-reason]")
                .await
                .contains("no deployment has been recorded yet")
        );
        assert!(env.text("#overall-band").await.contains("no band"));
        assert!(env.text("#no-rows").await.contains("No team or service"));
        env.screenshot("empty-overview").await;

        env.open("/data-quality").await;
        assert!(
            env.text("#sources")
                .await
                .contains("no incident received yet: MTTR cannot be computed")
        );
        assert!(
            env.text("#change-data")
                .await
                .contains("no production deployment in this window")
        );
        let reasons = env
            .browser
            .find_all(Locator::Css("#missing td.why"))
            .await
            .expect("reasons");
        assert_eq!(
            reasons.len(),
            5,
            "one reason per metric of the organisation"
        );
        env.screenshot("empty-data-quality").await;

        env.open("/incidents").await;
        assert!(env.text("#queue-empty").await.contains("No untriaged"));
        env
    });
}
