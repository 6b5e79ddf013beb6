//! Rework rate (DORA 2024): unplanned successful production deployments in the window over
//! all of them, with the reasons counted (`docs/metrics.md`, "Rework rate").

use crate::support::*;
use pacer_core::engine::{ReworkRate, ReworkReasons};
use pacer_core::{Deployment, MetricsConfig, ReworkRules, Scope};

trait ReworkExt {
    fn sha(self, sha: &str) -> Self;
    fn hotfix(self) -> Self;
    fn rollback(self) -> Self;
    fn branch(self, branch: &str) -> Self;
    fn label(self, label: &str) -> Self;
}

impl ReworkExt for Deployment {
    fn sha(mut self, sha: &str) -> Self {
        self.sha = Some(sha.to_string());
        self
    }
    fn hotfix(mut self) -> Self {
        self.hotfix = true;
        self
    }
    fn rollback(mut self) -> Self {
        self.rollback = true;
        self
    }
    fn branch(mut self, branch: &str) -> Self {
        self.branch = Some(branch.to_string());
        self
    }
    fn label(mut self, label: &str) -> Self {
        self.labels.push(label.to_string());
        self
    }
}

/// api runs a1 and b2 before the window, then ten deployments in it; web one.
fn history(config: MetricsConfig) -> History {
    let mut h = History::with_config(config);
    h.deploy(deploy("p0", "api", END - 40 * DAY).sha("a1"))
        .deploy(deploy("p1", "api", END - 35 * DAY).sha("b2"))
        // Back to a1 while b2 runs: a rollback, known only from before the window.
        .deploy(deploy("d01", "api", END - 20 * DAY).sha("a1"))
        // a1 again right after a1: a retry.
        .deploy(deploy("d02", "api", END - 19 * DAY).sha("a1"))
        .deploy(deploy("d03", "api", END - 18 * DAY).sha("c3").hotfix())
        .deploy(
            deploy("d04", "api", END - 17 * DAY)
                .sha("d4")
                .branch("hotfix/pay-1"),
        )
        // Two reasons: the sender's rollback mark and the `incident` label (any case).
        .deploy(
            deploy("d05", "api", END - 16 * DAY)
                .sha("e5")
                .rollback()
                .label("Incident"),
        )
        // Back to c3 (d03) while e5 runs.
        .deploy(deploy("d06", "api", END - 15 * DAY).sha("c3"))
        .deploy(deploy("d07", "api", END - 14 * DAY))
        // e5 ran before, but what ran right before it (d07) is unknown: not counted.
        .deploy(deploy("d08", "api", END - 13 * DAY).sha("e5"))
        .deploy(
            deploy("d09", "api", END - 12 * DAY)
                .sha("f6")
                .branch("feature/hotfix"),
        )
        // A failed deployment never ran: d10 follows f6, so it is a retry.
        .deploy(deploy("fail", "api", END - 11 * DAY).sha("zz").failed())
        .deploy(deploy("d10", "api", END - 10 * DAY).sha("f6"))
        // Staging counts for nothing, marks or not.
        .deploy(
            deploy("stg", "api", END - 9 * DAY)
                .sha("a1")
                .hotfix()
                .env("staging"),
        )
        // web's first deployment: a1 ran in api, not in web.
        .deploy(deploy("w1", "web", END - 5 * DAY).sha("a1"));
    h
}

#[test]
fn rework_counts_each_reason_over_successful_production_deployments() {
    let h = history(MetricsConfig::default());
    // api in the window: d01..d10 = 10. Unplanned: d01 (redeployed sha), d03 (sender),
    // d04 (rule: hotfix/*), d05 (sender + rule), d06 (redeployed sha) = 5.
    // 5 / 10 = 50 %. Reasons: sender d03, d05 = 2; rule d04, d05 = 2; sha d01, d06 = 2.
    assert_eq!(
        h.service("api").rework_rate,
        ReworkRate {
            deployments: 10,
            unplanned_deployments: 5,
            percent: Some(50.0),
            by_reason: ReworkReasons {
                sender: 2,
                rule: 2,
                redeployed_sha: 2,
            },
        }
    );
    // web: w1 alone, planned: 0 / 1 = 0 %.
    let web = h.service("web").rework_rate;
    assert_eq!((web.deployments, web.unplanned_deployments), (1, 0));
    assert_eq!(web.percent, Some(0.0));
    // Organisation: 11 deployments, 5 unplanned: 5 / 11 * 100 = 45.4545... %.
    let org = h.org().rework_rate;
    assert_eq!((org.deployments, org.unplanned_deployments), (11, 5));
    assert_close(org.percent, 500.0 / 11.0);
}

#[test]
fn a_redeploy_is_judged_on_history_before_the_window() {
    let h = history(MetricsConfig::default());
    // 16 days ending at END start at END - 16 d (excluded): d06..d10 = 5. Only d06 is
    // unplanned (c3 ran in d03, before this window, and e5 ran right before): 1 / 5 = 20 %.
    let m = h.metrics(Scope::service("api"), END, 16);
    assert_eq!(
        m.rework_rate,
        ReworkRate {
            deployments: 5,
            unplanned_deployments: 1,
            percent: Some(20.0),
            by_reason: ReworkReasons {
                sender: 0,
                rule: 0,
                redeployed_sha: 1,
            },
        }
    );
    // 21 days: d01 is the window's first deployment; b2 (p1, before the window) ran
    // right before it and a1 (p0) earlier still: still a rollback. d01..d10: 5 / 10.
    let m = h.metrics(Scope::service("api"), END, 21);
    assert_eq!(m.rework_rate.by_reason.redeployed_sha, 2);
    assert_eq!(m.rework_rate.percent, Some(50.0));
}

#[test]
fn rules_are_configurable_and_can_be_switched_off() {
    let h = history(MetricsConfig {
        rework: ReworkRules::none(),
        ..MetricsConfig::default()
    });
    // Without rules d04 is planned; d05 keeps its sender's mark: d01, d03, d05, d06 = 4.
    // 4 / 10 = 40 %.
    let m = h.service("api").rework_rate;
    assert_eq!(m.unplanned_deployments, 4);
    assert_eq!(m.percent, Some(40.0));
    assert_eq!(
        m.by_reason,
        ReworkReasons {
            sender: 2,
            rule: 0,
            redeployed_sha: 2,
        }
    );

    // A rule that matches feature branches: d09 (feature/hotfix) too: 6 / 10 = 60 %.
    let h = history(MetricsConfig {
        rework: ReworkRules {
            unplanned_branches: vec!["hotfix/*".into(), "feature/*".into()],
            unplanned_labels: Vec::new(),
        },
        ..MetricsConfig::default()
    });
    let m = h.service("api").rework_rate;
    // d04, d09 by branch; d05 loses its label rule but keeps its mark.
    assert_eq!(m.by_reason.rule, 2);
    assert_eq!(m.unplanned_deployments, 6);
    assert_eq!(m.percent, Some(60.0));
}

#[test]
fn rework_rate_is_null_without_deployments_and_ties_order_by_id() {
    // No deployment: null, never 0.
    let m = History::new().org().rework_rate;
    assert_eq!(m.deployments, 0);
    assert_eq!(m.percent, None);

    // Same instant: r-1 before r-2 by id. x, then y and x at the same instant: r-2 (x)
    // follows r-1 (y) and x ran in r-0: a rollback. 1 / 3 = 33.33 %.
    let t = END - DAY;
    let mut h = History::new();
    h.deploy(deploy("r-0", "api", t - HOUR).sha("x"))
        .deploy(deploy("r-2", "api", t).sha("x"))
        .deploy(deploy("r-1", "api", t).sha("y"));
    let m = h.org().rework_rate;
    assert_eq!((m.deployments, m.unplanned_deployments), (3, 1));
    assert_close(m.percent, 100.0 / 3.0);
    assert_eq!(m.by_reason.redeployed_sha, 1);
}
