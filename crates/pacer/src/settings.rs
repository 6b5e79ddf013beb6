//! Layered configuration: defaults, then a TOML file, then `PACER_*` environment
//! variables, then command-line flags.

use anyhow::Context;
use pacer_core::{AttributionPolicy, BandThresholds, MetricsConfig, ProductionEnvironments};
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
