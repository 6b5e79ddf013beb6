//! The untriaged queue: a triage click changes the change failure rate shown, and the
//! triage form works from the keyboard.

use crate::harness::{Env, run, wait_for};
use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::json;

/// Five production deployments of `api` (10-14 March 2026, 10:00 UTC) and two untriaged
/// incidents: `inc-1` opens 20 minutes after `d3` (its only candidate), `inc-2` two hours
/// after `d5` (no candidate).
async fn record(env: &Env) {
    for k in 1..=5 {
        env.app
            .post_json(
                "/api/v1/deployments",
                json!({"id": format!("d{k}"), "service": "api", "environment": "production",
                       "team": "core", "deployed_at": format!("2026-03-{:02}T10:00:00Z", 9 + k),
                       "changes": [{"id": format!("c{k}"), "started_at": format!("2026-03-{:02}T08:00:00Z", 9 + k)}]}),
            )
            .await;
    }
    env.app
        .post_json(
            "/api/v1/incidents",
            json!({"id": "inc-1", "service": "api", "severity": "SEV2",
                   "opened_at": "2026-03-12T10:20:00Z", "resolved_at": "2026-03-12T10:50:00Z"}),
        )
        .await;
    env.app
        .post_json(
            "/api/v1/incidents",
            json!({"id": "inc-2", "service": "api", "opened_at": "2026-03-14T12:00:00Z",
                   "resolved_at": "2026-03-14T12:30:00Z"}),
        )
        .await;
}

const OVERVIEW: &str = "/?days=30&end=2026-03-30";
const API: &str = "/api/v1/metrics?days=30&end=2026-03-31T00:00:00Z";

async fn cfr_shown(env: &Env) -> String {
    env.open(OVERVIEW).await;
    env.attr("#tile-change_failure_rate", "data-value").await
}

#[test]
fn a_triage_click_changes_the_change_failure_rate_shown() {
    run(false, |env| async move {
        record(&env).await;
        // Before: 5 deployments, none blamed (untriaged incidents count for nothing under
        // the default `explicit` attribution): 0 / 5 = 0 %.
        assert_eq!(cfr_shown(&env).await, "0");
        let api = env.app.json(API).await;
        assert_eq!(api["change_failure_rate"]["percent"], json!(0.0));
        assert_eq!(env.attr("#untriaged-count", "href").await, "/incidents");
        assert_eq!(env.text("#untriaged-count").await, "2");

        env.open("/incidents").await;
        env.screenshot("incidents-queue").await;
        let item = "li[data-incident=\"inc-1\"]";
        // The candidates are the API's: d3 only (d2 is 24 h before, d4 after it opened).
        let buttons = env
            .browser
            .find_all(Locator::Css(&format!("{item} button.caused-by")))
            .await
            .expect("candidates");
        assert_eq!(buttons.len(), 1);
        assert_eq!(
            buttons[0].attr("value").await.expect("attr").as_deref(),
            Some("d3")
        );
        env.browser
            .find(Locator::Css(&format!("{item} select[name=fault_class]")))
            .await
            .expect("fault class select")
            .select_by_value("code_defect")
            .await
            .expect("select");
        buttons[0].click().await.expect("click");
        wait_for("the redirect back to the queue", || async {
            env.url().await.contains("triaged=inc-1").then_some(())
        })
        .await;
        assert!(env.text("#triaged-notice").await.contains("inc-1"));
        assert!(
            env.browser
                .find_all(Locator::Css(item))
                .await
                .expect("find")
                .is_empty(),
            "inc-1 left the queue"
        );
        let triaged = env.app.json("/api/v1/incidents/inc-1").await;
        assert_eq!(triaged["incident"]["caused_by_deploy"], json!(true));
        assert_eq!(triaged["incident"]["deployment_id"], json!("d3"));
        assert_eq!(triaged["incident"]["fault_class"], json!("code_defect"));

        // After: d3 failed: 1 / 5 = 20 %, on the page and in the JSON.
        assert_eq!(cfr_shown(&env).await, "20");
        let api = env.app.json(API).await;
        assert_eq!(api["change_failure_rate"]["percent"], json!(20.0));
        assert_eq!(api["change_failure_rate"]["failed_deployments"], json!(1));
        assert!(
            env.text("#tile-change_failure_rate")
                .await
                .contains("1 of 5 deployments failed")
        );
        env.screenshot("overview-after-triage").await;
        env
    });
}

#[test]
fn the_triage_form_works_from_the_keyboard() {
    run(false, |env| async move {
        record(&env).await;
        env.open("/incidents").await;
        // The queue is newest first: inc-2's buttons come first in tab order.
        env.tab_to("BUTTON#.not-caused[false]", 60).await;
        env.press(&Key::Enter.to_string()).await;
        wait_for("the keyboard triage to land", || async {
            env.url().await.contains("triaged=inc-2").then_some(())
        })
        .await;
        let triaged = env.app.json("/api/v1/incidents/inc-2").await;
        assert_eq!(triaged["incident"]["caused_by_deploy"], json!(false));
        // Not caused by a deployment: the change failure rate stays 0 / 5.
        assert_eq!(cfr_shown(&env).await, "0");
        assert_eq!(env.text("#untriaged-count").await, "1");
        env
    });
}
