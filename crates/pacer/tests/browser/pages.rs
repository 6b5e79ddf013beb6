//! Every page opens, is navigable by keyboard, and is photographed for the artifacts.

use crate::harness::{END_DATE, Env, run, wait_for};
use fantoccini::Locator;
use fantoccini::key::Key;

async fn first_row(env: &Env) -> String {
    env.attr("#scopes tbody tr", "data-name").await
}

#[test]
fn the_sort_buttons_work_from_the_keyboard() {
    run(true, |env| async move {
        env.open(&format!("/?days=30&end={END_DATE}")).await;
        // Default: by name, ascending; auth-service comes first.
        assert_eq!(first_row(&env).await, "auth-service");
        env.tab_to("BUTTON#.sort[mttr:asc]", 80).await;
        env.press(&Key::Enter.to_string()).await;
        let th = "#scopes th[data-column=mttr]";
        wait_for("the table sorted by time to restore", || async {
            (env.attr(th, "aria-sort").await == "ascending").then_some(())
        })
        .await;
        // The rows are in ascending order of their time to restore, missing ones last.
        let cells = env
            .browser
            .find_all(Locator::Css("#scopes tbody tr td:nth-of-type(6)"))
            .await
            .expect("mttr cells");
        let mut keys = Vec::new();
        for c in cells {
            keys.push(c.attr("data-sort").await.expect("attr").unwrap_or_default());
        }
        let figures: Vec<f64> = keys
            .iter()
            .filter(|k| !k.is_empty())
            .map(|k| k.parse().expect("number"))
            .collect();
        assert!(figures.len() > 2, "{keys:?}");
        assert!(figures.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
        let first_missing = keys.iter().position(String::is_empty).unwrap_or(keys.len());
        assert!(
            keys[first_missing..].iter().all(String::is_empty),
            "{keys:?}"
        );
        // The sorted view is shareable.
        wait_for("the sort in the URL", || async {
            env.url().await.contains("sort=mttr").then_some(())
        })
        .await;
        env.screenshot("overview-sorted-by-mttr").await;
        env
    });
}

#[test]
fn every_page_renders_and_is_photographed() {
    run(true, |env| async move {
        let pages = [
            ("overview", format!("/?days=30&end={END_DATE}")),
            (
                "service-checkout-web",
                format!("/services/checkout-web?end={END_DATE}"),
            ),
            ("team-payments", format!("/teams/payments?end={END_DATE}")),
            ("incidents", "/incidents".to_string()),
            ("data-quality", format!("/data-quality?end={END_DATE}")),
            ("not-found", "/services/no-such-service".to_string()),
        ];
        for (name, path) in &pages {
            env.open(path).await;
            // A skip link first in tab order, leading to the main content.
            env.tab_to("A#.skip-link", 1).await;
            assert_eq!(env.attr("a.skip-link", "href").await, "#main");
            env.screenshot(name).await;
            assert!(
                crate::harness::artifacts_dir()
                    .join(format!("{name}.png"))
                    .is_file(),
                "{name}: screenshot written"
            );
        }
        assert!(env.text("h1").await.contains("404"));
        assert!(env.text("#error-message").await.contains("no-such-service"));

        // The service page's latest weekly bar is the API's 7-day figure.
        env.open(&format!("/services/checkout-web?end={END_DATE}"))
            .await;
        let weeks = env
            .browser
            .find_all(Locator::Css("#chart-deployment_frequency table tbody td"))
            .await
            .expect("weekly rows");
        assert_eq!(weeks.len(), 26);
        let last = weeks[25]
            .attr("data-value")
            .await
            .expect("attr")
            .unwrap_or_default();
        let api = env
            .app
            .json("/api/v1/metrics?service=checkout-web&days=7&end=2026-03-31T00:00:00Z")
            .await;
        assert_eq!(
            last.parse::<f64>().ok(),
            crate::harness::api_figure(&api, "deployment_frequency")
        );
        let deployments = env
            .browser
            .find_all(Locator::Css("#deployments tbody tr"))
            .await
            .expect("deployments");
        assert_eq!(deployments.len(), 20);
        env
    });
}
