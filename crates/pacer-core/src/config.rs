//! The settings the metric definitions depend on.

use crate::band::BandThresholds;
use serde::{Deserialize, Serialize};

/// How an incident becomes "caused by a deployment" for the change failure rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributionPolicy {
    /// Only incidents triaged `caused_by_deploy = true` count.
    #[default]
    Explicit,
    /// Also untriaged incidents opened within one hour after a production deployment of
    /// the same service. An explicit `false` always wins.
    Window,
}

impl AttributionPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            AttributionPolicy::Explicit => "explicit",
            AttributionPolicy::Window => "window",
        }
    }
}

/// Environment names that are production, compared case-insensitively after trimming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProductionEnvironments(Vec<String>);

impl Default for ProductionEnvironments {
    fn default() -> Self {
        ProductionEnvironments::new(["production", "prod", "prd"])
    }
}

impl ProductionEnvironments {
    pub fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Self {
        ProductionEnvironments(
            names
                .into_iter()
                .map(|n| n.as_ref().trim().to_lowercase())
                .filter(|n| !n.is_empty())
                .collect(),
        )
    }
    pub fn contains(&self, environment: &str) -> bool {
        let env = environment.trim();
        if env.is_ascii() {
            self.0.iter().any(|p| p.eq_ignore_ascii_case(env))
        } else {
            // Names are stored lower-cased with `to_lowercase`; compare the same way so
            // that a non-ASCII name matches case-insensitively too.
            let env = env.to_lowercase();
            self.0.contains(&env)
        }
    }
    pub fn names(&self) -> &[String] {
        &self.0
    }
}

/// `[metrics.rework]`: the rules that make a deployment unplanned by its branch or its
/// labels (the rework rate). Both compare case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReworkRules {
    /// Branch patterns; `*` matches any run of characters (`/` included), everything else
    /// matches itself. A leading `refs/heads/` on the deployment's branch is ignored.
    pub unplanned_branches: Vec<String>,
    /// Label names; a deployment with any of them is unplanned.
    pub unplanned_labels: Vec<String>,
}

impl Default for ReworkRules {
    fn default() -> Self {
        ReworkRules {
            unplanned_branches: vec!["hotfix/*".into(), "revert-*".into()],
            unplanned_labels: vec!["hotfix".into(), "rollback".into(), "incident".into()],
        }
    }
}

impl ReworkRules {
    /// No rule at all: only the sender's marks and redeployed shas make rework.
    pub fn none() -> Self {
        ReworkRules {
            unplanned_branches: Vec::new(),
            unplanned_labels: Vec::new(),
        }
    }

    /// Refuses patterns that would match nothing or everything by accident.
    pub fn validate(&self) -> Result<(), String> {
        for p in &self.unplanned_branches {
            if p.trim().is_empty() {
                return Err("metrics.rework.unplanned_branches has an empty pattern; remove it or write one like \"hotfix/*\"".into());
            }
        }
        for l in &self.unplanned_labels {
            if l.trim().is_empty() {
                return Err("metrics.rework.unplanned_labels has an empty label; remove it or write one like \"hotfix\"".into());
            }
        }
        Ok(())
    }

    /// Whether `branch` or `labels` make a deployment unplanned.
    pub fn matches(&self, branch: Option<&str>, labels: &[String]) -> bool {
        let branch_hit = branch.is_some_and(|b| {
            let b = b.trim();
            let b = b.strip_prefix("refs/heads/").unwrap_or(b).to_lowercase();
            self.unplanned_branches
                .iter()
                .any(|p| glob_matches(&p.trim().to_lowercase(), &b))
        });
        branch_hit
            || labels.iter().any(|l| {
                let l = l.trim().to_lowercase();
                self.unplanned_labels
                    .iter()
                    .any(|u| u.trim().to_lowercase() == l)
            })
    }
}

/// `*` matches any run of characters (possibly empty); every other character itself.
/// Iterative with one backtrack point: linear in practice, never exponential.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            // Let the last `*` swallow one more character and retry from there.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Everything the engine needs besides events and a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsConfig {
    pub production: ProductionEnvironments,
    pub attribution: AttributionPolicy,
    pub bands: BandThresholds,
    pub rework: ReworkRules,
}

/// Seconds after a deployment during which the `window` policy blames untriaged incidents
/// on it, and before an incident during which deployments are triage candidates.
pub const ATTRIBUTION_WINDOW_SECONDS: i64 = 3600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_names_are_case_insensitive() {
        let p = ProductionEnvironments::default();
        assert!(p.contains("Production"));
        assert!(p.contains("PROD"));
        assert!(p.contains(" prd "));
        assert!(!p.contains("staging"));
        assert!(!p.contains("production-eu"));
    }

    #[test]
    fn globs_match_any_run_with_star_only() {
        assert!(glob_matches("hotfix/*", "hotfix/pay-12"));
        assert!(glob_matches("hotfix/*", "hotfix/"));
        assert!(glob_matches("hotfix/*", "hotfix/team/x"));
        assert!(!glob_matches("hotfix/*", "hotfix"));
        assert!(!glob_matches("hotfix/*", "feature/hotfix/x"));
        assert!(glob_matches("revert-*", "revert-311-main"));
        assert!(glob_matches("*-fix-*", "pay-fix-12"));
        assert!(!glob_matches("*-fix-*", "pay-fix"));
        assert!(glob_matches("a*b*c", "aXXbYYbc"));
        assert!(!glob_matches("a*b*c", "aXXbYYb"));
        assert!(glob_matches("main", "main"));
        assert!(!glob_matches("main", "main2"));
        assert!(glob_matches("*", ""));
        // `?` and `[` are literal characters.
        assert!(glob_matches("v?[1]", "v?[1]"));
        assert!(!glob_matches("v?", "v1"));
    }

    #[test]
    fn rework_rules_compare_case_insensitively_and_ignore_refs_heads() {
        let r = ReworkRules::default();
        assert!(r.matches(Some("Hotfix/PAY-1"), &[]));
        assert!(r.matches(Some("refs/heads/hotfix/x"), &[]));
        assert!(!r.matches(Some("feature/x"), &[]));
        assert!(r.matches(None, &["bug".into(), " INCIDENT ".into()]));
        assert!(!r.matches(None, &["incidental".into()]));
        assert!(!ReworkRules::none().matches(Some("hotfix/x"), &["hotfix".into()]));
    }
}
