//! Performance bands. A value falls in the best band whose condition it meets; the
//! comparison operators are fixed by the contract, the thresholds are configurable.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    // Ordered best to worst so that `max` is "the worst".
    Elite,
    High,
    Medium,
    Low,
}

impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Elite => "elite",
            Band::High => "high",
            Band::Medium => "medium",
            Band::Low => "low",
        }
    }
}

/// Below this many samples a band is flagged as low confidence.
pub const LOW_CONFIDENCE_BELOW_SAMPLES: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeploymentFrequencyThresholds {
    /// elite when per_day > this
    pub elite_above_per_day: f64,
    /// high when per_day >= this
    pub high_from_per_day: f64,
    /// medium when per_day >= this
    pub medium_from_per_day: f64,
}

impl Default for DeploymentFrequencyThresholds {
    fn default() -> Self {
        DeploymentFrequencyThresholds {
            elite_above_per_day: 1.0,
            high_from_per_day: 1.0 / 30.0,
            medium_from_per_day: 1.0 / 182.5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeadTimeThresholds {
    /// elite when p50 < this
    pub elite_below_seconds: f64,
    /// high when p50 <= this
    pub high_up_to_seconds: f64,
    /// medium when p50 <= this
    pub medium_up_to_seconds: f64,
}

impl Default for LeadTimeThresholds {
    fn default() -> Self {
        LeadTimeThresholds {
            elite_below_seconds: 3600.0,
            high_up_to_seconds: 7.0 * 86400.0,
            medium_up_to_seconds: 30.0 * 86400.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChangeFailureRateThresholds {
    /// elite when percent < this
    pub elite_below_percent: f64,
    /// high when percent <= this
    pub high_up_to_percent: f64,
    /// medium when percent <= this
    pub medium_up_to_percent: f64,
}

impl Default for ChangeFailureRateThresholds {
    fn default() -> Self {
        ChangeFailureRateThresholds {
            elite_below_percent: 5.0,
            high_up_to_percent: 10.0,
            medium_up_to_percent: 15.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MttrThresholds {
    /// elite when p50 < this
    pub elite_below_seconds: f64,
    /// high when p50 < this
    pub high_below_seconds: f64,
    /// medium when p50 <= this
    pub medium_up_to_seconds: f64,
}

impl Default for MttrThresholds {
    fn default() -> Self {
        MttrThresholds {
            elite_below_seconds: 3600.0,
            high_below_seconds: 86400.0,
            medium_up_to_seconds: 7.0 * 86400.0,
        }
    }
}

/// The default profile is the handbook's table (see `docs/metrics.md` for its sources).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BandThresholds {
    pub deployment_frequency: DeploymentFrequencyThresholds,
    pub lead_time: LeadTimeThresholds,
    pub change_failure_rate: ChangeFailureRateThresholds,
    pub mttr: MttrThresholds,
}

impl BandThresholds {
    pub fn deployment_frequency(&self, per_day: f64) -> Band {
        let t = &self.deployment_frequency;
        if per_day > t.elite_above_per_day {
            Band::Elite
        } else if per_day >= t.high_from_per_day {
            Band::High
        } else if per_day >= t.medium_from_per_day {
            Band::Medium
        } else {
            Band::Low
        }
    }

    pub fn lead_time(&self, p50_seconds: f64) -> Band {
        let t = &self.lead_time;
        if p50_seconds < t.elite_below_seconds {
            Band::Elite
        } else if p50_seconds <= t.high_up_to_seconds {
            Band::High
        } else if p50_seconds <= t.medium_up_to_seconds {
            Band::Medium
        } else {
            Band::Low
        }
    }

    pub fn change_failure_rate(&self, percent: f64) -> Band {
        let t = &self.change_failure_rate;
        if percent < t.elite_below_percent {
            Band::Elite
        } else if percent <= t.high_up_to_percent {
            Band::High
        } else if percent <= t.medium_up_to_percent {
            Band::Medium
        } else {
            Band::Low
        }
    }

    pub fn mttr(&self, p50_seconds: f64) -> Band {
        let t = &self.mttr;
        if p50_seconds < t.elite_below_seconds {
            Band::Elite
        } else if p50_seconds < t.high_below_seconds {
            Band::High
        } else if p50_seconds <= t.medium_up_to_seconds {
            Band::Medium
        } else {
            Band::Low
        }
    }

    /// Checks that each metric's thresholds run from best to worst.
    pub fn validate(&self) -> Result<(), String> {
        let df = &self.deployment_frequency;
        if !(df.elite_above_per_day >= df.high_from_per_day
            && df.high_from_per_day >= df.medium_from_per_day)
        {
            return Err("bands.deployment_frequency: expected elite_above_per_day >= high_from_per_day >= medium_from_per_day".into());
        }
        let lt = &self.lead_time;
        if !(lt.elite_below_seconds <= lt.high_up_to_seconds
            && lt.high_up_to_seconds <= lt.medium_up_to_seconds)
        {
            return Err("bands.lead_time: expected elite_below_seconds <= high_up_to_seconds <= medium_up_to_seconds".into());
        }
        let c = &self.change_failure_rate;
        if !(c.elite_below_percent <= c.high_up_to_percent
            && c.high_up_to_percent <= c.medium_up_to_percent)
        {
            return Err("bands.change_failure_rate: expected elite_below_percent <= high_up_to_percent <= medium_up_to_percent".into());
        }
        let m = &self.mttr;
        if !(m.elite_below_seconds <= m.high_below_seconds
            && m.high_below_seconds <= m.medium_up_to_seconds)
        {
            return Err("bands.mttr: expected elite_below_seconds <= high_below_seconds <= medium_up_to_seconds".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_edges_follow_the_contract() {
        let b = BandThresholds::default();
        assert_eq!(b.deployment_frequency(1.0), Band::High); // "> 1" for elite
        assert_eq!(b.deployment_frequency(1.01), Band::Elite);
        assert_eq!(b.deployment_frequency(1.0 / 30.0), Band::High);
        assert_eq!(b.deployment_frequency(3.0 / 7.0), Band::High); // 3 a week: in the seed's gap
        assert_eq!(b.deployment_frequency(1.0 / 182.5), Band::Medium);
        assert_eq!(b.deployment_frequency(0.0), Band::Low);
        assert_eq!(b.lead_time(3599.0), Band::Elite);
        assert_eq!(b.lead_time(3600.0), Band::High); // 1 h .. 1 d gap closes to high
        assert_eq!(b.lead_time(7.0 * 86400.0), Band::High);
        assert_eq!(b.lead_time(30.0 * 86400.0), Band::Medium);
        assert_eq!(b.lead_time(30.0 * 86400.0 + 1.0), Band::Low);
        assert_eq!(b.change_failure_rate(4.99), Band::Elite);
        assert_eq!(b.change_failure_rate(5.0), Band::High);
        assert_eq!(b.change_failure_rate(10.0), Band::High);
        assert_eq!(b.change_failure_rate(15.0), Band::Medium);
        assert_eq!(b.change_failure_rate(15.01), Band::Low);
        assert_eq!(b.mttr(3599.0), Band::Elite);
        assert_eq!(b.mttr(3600.0), Band::High);
        assert_eq!(b.mttr(86400.0), Band::Medium);
        assert_eq!(b.mttr(7.0 * 86400.0), Band::Medium);
        assert_eq!(b.mttr(7.0 * 86400.0 + 1.0), Band::Low);
    }

    #[test]
    fn worst_band_is_the_max() {
        assert_eq!(Band::Elite.max(Band::Medium), Band::Medium);
    }
}
