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

/// Everything the engine needs besides events and a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsConfig {
    pub production: ProductionEnvironments,
    pub attribution: AttributionPolicy,
    pub bands: BandThresholds,
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
}
