//! Layered configuration: defaults, then a TOML file, then `PACER_*` environment
//! variables, then command-line flags.

use anyhow::Context;
use pacer_core::{AttributionPolicy, Band, BandThresholds, MetricsConfig, ProductionEnvironments};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:7077";
pub const DEFAULT_DATABASE: &str = "sqlite://pacer.db";
pub const DEFAULT_BODY_LIMIT_BYTES: usize = 1024 * 1024;
pub const DEFAULT_WINDOW_DAYS: u32 = 30;
pub const ENV_PREFIX: &str = "PACER";
/// Environment variables the command line reads itself (`--config`, `--server`): they are
/// not settings, and must not be read as a `config` key or as the `server` section.
pub const CLI_ENV_VARS: &[&str] = &["PACER_CONFIG", "PACER_SERVER"];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub metrics: MetricsSettings,
    /// Service name -> team name. Wins over the team named by deployments.
    pub teams: BTreeMap<String, String>,
    /// What the alerting rules of `pacer rules` fire on.
    pub alerts: AlertSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address the server listens on.
    pub listen: String,
    /// `sqlite://PATH` (created if missing).
    pub database: String,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Environment names that count as production (case-insensitive).
    pub production_environments: Vec<String>,
    /// `explicit` or `window`.
    pub attribution: AttributionPolicy,
    /// Window used when a request gives no `days`.
    pub default_window_days: u32,
    pub bands: BandThresholds,
}

/// `[alerts]`: what the alerting rules printed by `pacer rules` fire on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// The change failure rate alert fires when a scope falls out of this band into a worse
    /// one: `elite`, `high` or `medium` (`low` has no bound to cross). Its threshold comes
    /// from `metrics.bands.change_failure_rate`.
    #[serde(deserialize_with = "band_name")]
    pub change_failure_rate_band: Band,
    /// How long a condition must hold before its alert fires, as a Prometheus duration
    /// (`15m`, `1h30m`).
    #[serde(rename = "for")]
    pub for_duration: String,
}

pub const DEFAULT_ALERT_FOR: &str = "15m";

/// A band by name, any case, with an error that lists the names (serde's own says "enum Band
/// does not have variant constructor").
fn band_name<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Band, D::Error> {
    let name = String::deserialize(deserializer)?;
    [Band::Elite, Band::High, Band::Medium, Band::Low]
        .into_iter()
        .find(|b| b.as_str().eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown band {name:?}; use \"elite\", \"high\" or \"medium\""
            ))
        })
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            change_failure_rate_band: Band::High,
            for_duration: DEFAULT_ALERT_FOR.into(),
        }
    }
}

impl AlertSettings {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.change_failure_rate_band == Band::Low {
            anyhow::bail!(
                "alerts.change_failure_rate_band = \"low\" cannot be alerted on: the low band has no upper bound to cross; use \"elite\", \"high\" or \"medium\""
            );
        }
        if !is_prometheus_duration(&self.for_duration) {
            anyhow::bail!(
                "alerts.for = {:?} is not a Prometheus duration; write one like \"15m\" or \"1h30m\" (units y, w, d, h, m, s, ms, largest first)",
                self.for_duration
            );
        }
        Ok(())
    }
}

/// Whether `text` is a duration Prometheus accepts in a rule's `for:` (`1h30m`, `90s`, `0s`):
/// number-unit pairs with the units in decreasing size, each at most once.
pub fn is_prometheus_duration(text: &str) -> bool {
    // Largest first, the order Prometheus' `model.ParseDuration` requires.
    const UNITS: [&str; 7] = ["y", "w", "d", "h", "m", "s", "ms"];
    let mut rest = text;
    let mut next_unit = 0;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        // "ms" before "m": the longer unit wins at each position.
        let unit = if rest.starts_with("ms") {
            "ms"
        } else {
            match rest.get(..1) {
                Some(u) => u,
                None => return false,
            }
        };
        let Some(position) = UNITS.iter().position(|u| *u == unit) else {
            return false;
        };
        if position < next_unit {
            return false;
        }
        next_unit = position + 1;
        rest = &rest[unit.len()..];
    }
    true
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: DEFAULT_LISTEN.into(),
            database: DEFAULT_DATABASE.into(),
            body_limit_bytes: DEFAULT_BODY_LIMIT_BYTES,
        }
    }
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            production_environments: ProductionEnvironments::default().names().to_vec(),
            attribution: AttributionPolicy::default(),
            default_window_days: DEFAULT_WINDOW_DAYS,
            bands: BandThresholds::default(),
        }
    }
}

/// The process environment without [`CLI_ENV_VARS`] (and without names or values that
/// are not Unicode, which no setting uses).
fn settings_env() -> config::Map<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !CLI_ENV_VARS.contains(&k.as_str()))
        .collect()
}

impl Settings {
    /// Defaults, then `file` (if given), then `PACER_SECTION__KEY` environment variables.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut builder = config::Config::builder().add_source(
            config::Config::try_from(&Settings::default()).context("default settings")?,
        );
        if let Some(path) = file {
            if !path.exists() {
                anyhow::bail!(
                    "config file {} does not exist; check --config or PACER_CONFIG",
                    path.display()
                );
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .source(Some(settings_env()))
                .prefix_separator("_")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("metrics.production_environments")
                .try_parsing(true),
        );
        let settings: Settings = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.metrics.default_window_days == 0 {
            anyhow::bail!("metrics.default_window_days must be at least 1");
        }
        if self
            .metrics
            .production_environments
            .iter()
            .all(|e| e.trim().is_empty())
        {
            anyhow::bail!(
                "metrics.production_environments is empty: name at least one environment, e.g. [\"production\"]"
            );
        }
        if self.server.body_limit_bytes == 0 {
            anyhow::bail!("server.body_limit_bytes must be at least 1");
        }
        self.metrics
            .bands
            .validate()
            .map_err(|e| anyhow::anyhow!(e))?;
        self.alerts.validate()?;
        Ok(())
    }

    pub fn metrics_config(&self) -> MetricsConfig {
        MetricsConfig {
            production: ProductionEnvironments::new(&self.metrics.production_environments),
            attribution: self.metrics.attribution,
            bands: self.metrics.bands.clone(),
        }
    }

    /// The effective configuration as TOML (what `pacer config` prints).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render settings: {e}\n"))
    }
}
