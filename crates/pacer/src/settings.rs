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
pub const CLI_ENV_VARS: &[&str] = &["PACER_CONFIG", "PACER_SERVER", "PACER_TOKEN"];
/// Prefixes of the test and benchmark harnesses' variables (`PACER_TEST_BACKENDS`,
/// `PACER_REQUIRE_POSTGRES`, `PACER_BENCH_*`): set for a whole `cargo test` run (CI sets
/// `PACER_REQUIRE_POSTGRES=1`), they reach every `pacer` a test starts, and are not settings.
pub const HARNESS_ENV_PREFIXES: &[&str] = &["PACER_TEST_", "PACER_REQUIRE_", "PACER_BENCH_"];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub metrics: MetricsSettings,
    /// Service name -> team name. Wins over the team named by deployments.
    pub teams: BTreeMap<String, String>,
    /// What the alerting rules of `pacer rules` fire on.
    pub alerts: AlertSettings,
    /// `[webhooks]`: the signed vendor receivers (docs/integrations/).
    pub webhooks: WebhookSettings,
    /// `[auth]`: API tokens, naming who triages (docs/triage.md).
    pub auth: AuthSettings,
    /// `[limits]`: body size, timeout, concurrency and per-client rate (docs/security.md).
    pub limits: LimitsSettings,
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
    /// `[metrics.rework]`: branch and label rules that make a deployment unplanned.
    pub rework: pacer_core::ReworkRules,
    /// `[metrics.chaos]`: when the chaos advisory appears (docs/triage.md).
    pub chaos: pacer_core::ChaosRules,
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
            rework: pacer_core::ReworkRules::default(),
            chaos: pacer_core::ChaosRules::default(),
        }
    }
}

/// The process environment without [`CLI_ENV_VARS`] (and without names or values that
/// are not Unicode, which no setting uses).
fn settings_env() -> config::Map<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !CLI_ENV_VARS.contains(&k.as_str()))
        .filter(|(k, _)| !HARNESS_ENV_PREFIXES.iter().any(|p| k.starts_with(p)))
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
                .with_list_parse_key("metrics.rework.unplanned_branches")
                .with_list_parse_key("metrics.rework.unplanned_labels")
                .with_list_parse_key("webhooks.pagerduty.secrets")
                .try_parsing(true),
        );
        let mut settings: Settings = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        // `[limits] body_limit_bytes` is the new name of `server.body_limit_bytes`, which
        // every handler reads: the new name wins when both are set.
        if let Some(limit) = settings.limits.body_limit_bytes {
            settings.server.body_limit_bytes = limit;
        }
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
        self.metrics
            .rework
            .validate()
            .map_err(|e| anyhow::anyhow!(e))?;
        self.webhooks.validate()?;
        self.metrics
            .chaos
            .validate()
            .map_err(|e| anyhow::anyhow!(e))?;
        self.auth.validate()?;
        self.limits.validate()?;
        Ok(())
    }

    pub fn metrics_config(&self) -> MetricsConfig {
        MetricsConfig {
            production: ProductionEnvironments::new(&self.metrics.production_environments),
            attribution: self.metrics.attribution,
            bands: self.metrics.bands.clone(),
            rework: self.metrics.rework.clone(),
        }
    }

    /// The effective configuration as TOML (what `pacer config` prints).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render settings: {e}\n"))
    }
}

/// A shared secret from the configuration. `Debug` and `pacer config` never show it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// What `pacer config` prints in place of a configured secret.
pub const REDACTED: &str = "<redacted>";

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// `[auth]`: who may call the server (docs/security.md). Tokens are stored only as
/// SHA-256 hashes, each with a name (the audit log's actor) and scopes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// `[auth.tokens.<name>]`: `sha256` (of the token, from `pacer token hash`) and
    /// `scopes`. Sent as `Authorization: Bearer <token>`. With none configured the server
    /// is in open mode: writes need no token, and it refuses to listen beyond loopback
    /// unless `allow_unauthenticated` is set.
    pub tokens: BTreeMap<String, ApiToken>,
    /// Reads (the JSON API, the dashboard, `/metrics`) need a token of any scope too;
    /// `/healthz` and `/readyz` stay open.
    pub require_for_reads: bool,
    /// Serve without tokens on a non-loopback address: anyone who can reach it can write.
    pub allow_unauthenticated: bool,
}

/// What a token may do. `admin` implies every other scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// Record deployments and incidents (`POST /api/v1/...`) and push metrics.
    Ingest,
    /// Triage incidents (`PATCH /api/v1/incidents/{id}`, the dashboard's triage form).
    Triage,
    Admin,
}

/// A scope by name, any case, with an error that lists the names (serde's own says "enum
/// TokenScope does not have variant constructor").
impl<'de> Deserialize<'de> for TokenScope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        TokenScope::parse(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown token scope {name:?}; use \"ingest\", \"triage\" or \"admin\""
            ))
        })
    }
}

impl TokenScope {
    pub fn parse(name: &str) -> Option<TokenScope> {
        [TokenScope::Ingest, TokenScope::Triage, TokenScope::Admin]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Ingest => "ingest",
            TokenScope::Triage => "triage",
            TokenScope::Admin => "admin",
        }
    }
}

/// One `[auth.tokens.<name>]` entry. The hash is not the token, but `pacer config` and
/// `Debug` redact it anyway (a hash of a weak token can be guessed offline).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiToken {
    /// Lower- or upper-case hex of the SHA-256 of the token.
    pub sha256: Secret,
    pub scopes: Vec<TokenScope>,
}

impl ApiToken {
    /// The entry for a plain `token` (what `pacer token hash` computes).
    pub fn new(token: &str, scopes: &[TokenScope]) -> Self {
        ApiToken {
            sha256: Secret::new(hash_token(token)),
            scopes: scopes.to_vec(),
        }
    }

    pub fn allows(&self, needed: TokenScope) -> bool {
        self.scopes
            .iter()
            .any(|s| *s == needed || *s == TokenScope::Admin)
    }
}

/// The table form, parsed once the old plain-string form has been ruled out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiTokenTable {
    sha256: Secret,
    scopes: Vec<TokenScope>,
}

impl<'de> Deserialize<'de> for ApiToken {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ApiToken;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table with sha256 and scopes")
            }
            // The old `[auth.tokens] name = "token"` form: refused, and the message never
            // repeats the value (it is a live token).
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<ApiToken, E> {
                Err(E::custom(PLAIN_TOKEN_REFUSED))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ApiToken, A::Error> {
                let t =
                    ApiTokenTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(ApiToken {
                    sha256: t.sha256,
                    scopes: t.scopes,
                })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Why a plain `[auth.tokens] name = "token"` entry is refused, and how to migrate.
pub const PLAIN_TOKEN_REFUSED: &str = "plain tokens in [auth.tokens] are no longer accepted: \
     Pacer stores only hashes; run `pacer token hash` (it reads the token on standard input) and \
     write [auth.tokens.<name>] sha256 = \"<hash>\" scopes = [\"ingest\", \"triage\"] \
     (docs/security.md)";

/// Hex SHA-256 of a token: what `[auth.tokens.<name>] sha256` holds.
pub fn hash_token(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The holder of a valid token: its name (the actor of a triage) and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub scopes: Vec<TokenScope>,
}

/// The actor of a triage when the server has no `[auth.tokens]`.
pub const ANONYMOUS: &str = "anonymous";

impl AuthSettings {
    /// Open mode: no tokens, writes need none (loopback only, unless allowed).
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The entry whose hash is the hash of `given`, if any.
    ///
    /// `given` is hashed once, every configured hash is compared with `ct_eq` (the same
    /// length each time, the same time wherever they differ), and every entry is compared
    /// whether one matched or not.
    pub fn authenticate(&self, given: &str) -> Option<Caller> {
        use sha2::{Digest, Sha256};
        use subtle::ConstantTimeEq;
        let given = Sha256::digest(given.as_bytes());
        let mut found = None;
        for (name, token) in &self.tokens {
            // Validated as 64 hex digits at start-up; a bad one matches nothing.
            let stored = hex::decode(token.sha256.expose().trim()).unwrap_or_default();
            let same: bool = stored.len() == given.len() && bool::from(stored.ct_eq(&given));
            if same {
                found = Some(Caller {
                    name: name.clone(),
                    scopes: token.scopes.clone(),
                });
            }
        }
        found
    }

    /// The name of the `[auth.tokens]` entry of `given`, if any.
    pub fn token_name(&self, given: &str) -> Option<String> {
        self.authenticate(given).map(|c| c.name)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, token) in &self.tokens {
            if name.trim().is_empty() || name.chars().any(char::is_control) {
                anyhow::bail!(
                    "auth.tokens has an empty or unprintable name {name:?}; name the person or tool, e.g. \"alice\""
                );
            }
            let hash = token.sha256.expose().trim();
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                anyhow::bail!(
                    "auth.tokens.{name:?}.sha256 is not 64 hex digits (a SHA-256); write the output of `pacer token hash`, not the token itself"
                );
            }
            if token.scopes.is_empty() {
                anyhow::bail!(
                    "auth.tokens.{name:?}.scopes is empty; give it \"ingest\", \"triage\" and/or \"admin\""
                );
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (name, token) in &self.tokens {
            if !seen.insert(token.sha256.expose().trim().to_ascii_lowercase()) {
                anyhow::bail!(
                    "auth.tokens.{name:?} has the same token as another name; give each name its own token so the audit log knows who acted"
                );
            }
        }
        Ok(())
    }
}

/// `[limits]`: what one request, and one client, may cost (docs/security.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSettings {
    /// Largest request body in bytes; when set it wins over `server.body_limit_bytes`
    /// (kept as an alias for existing configurations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_limit_bytes: Option<usize>,
    /// A request (its body included) must be answered within this; past it: 408.
    /// Connections that send nothing for twice this long are closed.
    pub request_timeout_seconds: u64,
    /// Requests handled at once; past it: 503 with `Retry-After` at once (no queue).
    pub max_concurrent_requests: usize,
    /// Sustained requests per second per client IP address; 0 turns the limit off.
    pub rate_per_second: u32,
    /// Requests a client may send at once above the sustained rate.
    pub rate_burst: u32,
}

pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 30;
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 512;
pub const DEFAULT_RATE_PER_SECOND: u32 = 200;
pub const DEFAULT_RATE_BURST: u32 = 400;

impl Default for LimitsSettings {
    fn default() -> Self {
        LimitsSettings {
            body_limit_bytes: None,
            request_timeout_seconds: DEFAULT_REQUEST_TIMEOUT_SECONDS,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            rate_per_second: DEFAULT_RATE_PER_SECOND,
            rate_burst: DEFAULT_RATE_BURST,
        }
    }
}

impl LimitsSettings {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.body_limit_bytes == Some(0) {
            anyhow::bail!("limits.body_limit_bytes must be at least 1");
        }
        if !(1..=3600).contains(&self.request_timeout_seconds) {
            anyhow::bail!(
                "limits.request_timeout_seconds = {} must be between 1 and 3600",
                self.request_timeout_seconds
            );
        }
        if self.max_concurrent_requests == 0 {
            anyhow::bail!("limits.max_concurrent_requests must be at least 1");
        }
        if self.rate_per_second > 0 && self.rate_burst == 0 {
            anyhow::bail!(
                "limits.rate_burst must be at least 1 while limits.rate_per_second is set (0 turns the rate limit off)"
            );
        }
        Ok(())
    }
}

/// Shortest accepted API token: long enough that guessing it is not a plan.
pub const MIN_TOKEN_LEN: usize = 16;

/// `[webhooks]`: one table per vendor receiver. A receiver without its secret or token
/// refuses every request (403 naming the setting): unsigned traffic is never accepted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    pub github: GithubWebhook,
    pub gitlab: GitlabWebhook,
    pub flux: FluxWebhook,
    pub argocd: ArgoCdWebhook,
    /// `[webhooks.pagerduty]`: PagerDuty webhooks v3 incidents.
    pub pagerduty: PagerDutyWebhook,
    /// `[webhooks.opsgenie]`: OpsGenie outgoing webhook alerts as incidents.
    pub opsgenie: OpsgenieWebhook,
    /// `[webhooks.alertmanager]`: Alertmanager webhook receiver; matching alerts are incidents.
    pub alertmanager: AlertmanagerWebhook,
    /// Source environment name -> Pacer environment, for every receiver whose payload names
    /// an environment (GitHub, GitLab, Argo CD's optional `environment`). Case-insensitive;
    /// a name not listed is kept as sent.
    pub environments: BTreeMap<String, String>,
}

/// `[webhooks.github]`: `deployment_status` events, `X-Hub-Signature-256`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GithubWebhook {
    /// The webhook's secret (the HMAC key of `X-Hub-Signature-256`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// `"owner/repo:environment"` or `"owner/repo"` -> service; default: the repository name.
    pub services: BTreeMap<String, String>,
}

/// `[webhooks.gitlab]`: Deployment Hook events, `X-Gitlab-Token`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitlabWebhook {
    /// The webhook's secret token, sent as `X-Gitlab-Token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// `"group/project:environment"` or `"group/project"` -> service; default: the last
    /// segment of the project path.
    pub services: BTreeMap<String, String>,
}

pub const DEFAULT_GITOPS_ENVIRONMENT: &str = "production";

/// `[webhooks.flux]`: notification-controller `generic-hmac` (or `generic`) providers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FluxWebhook {
    /// The Provider secret's `token`: the HMAC key of `X-Signature` (`generic-hmac`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// For the `generic` provider (no signature): the Provider secret's `headers` send
    /// `Authorization: Bearer <token>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// `"Kind/namespace/name"` (a Kustomization or HelmRelease) -> service. Objects not
    /// listed are not deployments of anything Pacer measures, and are ignored.
    pub services: BTreeMap<String, String>,
    /// The Pacer environment the mapped objects deploy to.
    pub environment: String,
}

impl Default for FluxWebhook {
    fn default() -> Self {
        FluxWebhook {
            secret: None,
            token: None,
            services: BTreeMap::new(),
            environment: DEFAULT_GITOPS_ENVIRONMENT.into(),
        }
    }
}

/// `[webhooks.argocd]`: Argo CD notifications through a webhook service (template in
/// docs/integrations/argocd.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArgoCdWebhook {
    /// The webhook service's `Authorization: Bearer <token>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// `"namespace/app"` or `"app"` -> service; default: the application name.
    pub services: BTreeMap<String, String>,
    /// The Pacer environment of a notification whose body names none.
    pub environment: String,
}

impl Default for ArgoCdWebhook {
    fn default() -> Self {
        ArgoCdWebhook {
            token: None,
            services: BTreeMap::new(),
            environment: DEFAULT_GITOPS_ENVIRONMENT.into(),
        }
    }
}

impl WebhookSettings {
    pub fn validate(&self) -> anyhow::Result<()> {
        let secrets = [
            ("webhooks.github.secret", &self.github.secret),
            ("webhooks.gitlab.token", &self.gitlab.token),
            ("webhooks.flux.secret", &self.flux.secret),
            ("webhooks.flux.token", &self.flux.token),
            ("webhooks.argocd.token", &self.argocd.token),
        ];
        for (key, secret) in secrets {
            if secret
                .as_ref()
                .is_some_and(|s| s.expose().trim().is_empty())
            {
                anyhow::bail!(
                    "{key} is empty: set it to the secret the sender uses, or remove it to \
                     disable the receiver"
                );
            }
        }
        let maps = [
            ("webhooks.github.services", &self.github.services),
            ("webhooks.gitlab.services", &self.gitlab.services),
            ("webhooks.flux.services", &self.flux.services),
            ("webhooks.argocd.services", &self.argocd.services),
            ("webhooks.environments", &self.environments),
        ];
        for (table, map) in maps {
            if let Some((key, _)) = map.iter().find(|(_, v)| v.trim().is_empty()) {
                anyhow::bail!(
                    "{table}.{key:?} maps to an empty name; name a service or environment"
                );
            }
        }
        if let Some(key) = self
            .flux
            .services
            .keys()
            .find(|k| k.split('/').filter(|p| !p.is_empty()).count() != 3)
        {
            anyhow::bail!(
                "webhooks.flux.services key {key:?} is not Kind/namespace/name; write e.g. \
                 \"Kustomization/flux-system/apps\" or \"HelmRelease/podinfo/podinfo\""
            );
        }
        for (key, environment) in [
            ("webhooks.flux.environment", &self.flux.environment),
            ("webhooks.argocd.environment", &self.argocd.environment),
        ] {
            if environment.trim().is_empty() {
                anyhow::bail!("{key} is empty; name the environment, e.g. \"production\"");
            }
        }
        self.validate_incident_receivers()?;
        Ok(())
    }
}

/// `[webhooks.pagerduty]`: webhooks v3, `X-PagerDuty-Signature` (docs/integrations/pagerduty.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerDutyWebhook {
    /// The subscription's signing secrets. Several may be active while one is rotated
    /// (current and next); a delivery signed by any of them is accepted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// PagerDuty service name or id -> Pacer service; default: the PagerDuty service name.
    pub services: BTreeMap<String, String>,
    /// The Pacer environment of PagerDuty incidents.
    pub environment: String,
}

impl Default for PagerDutyWebhook {
    fn default() -> Self {
        PagerDutyWebhook {
            secrets: Vec::new(),
            services: BTreeMap::new(),
            environment: DEFAULT_INCIDENT_ENVIRONMENT.into(),
        }
    }
}

pub const DEFAULT_INCIDENT_ENVIRONMENT: &str = "production";

/// `[webhooks.opsgenie]`: the outgoing Webhook integration, authenticated by a custom
/// header or basic auth (OpsGenie signs nothing) (docs/integrations/opsgenie.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsgenieWebhook {
    /// The custom header the integration sends (`header` = `token`).
    pub header: String,
    /// The exact value of that header, e.g. `"Bearer <random>"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// Basic auth instead of (or beside) the header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Where the service comes from: `"tag:<key>"` (a tag `<key>:<name>`), `"entity"` or
    /// `"alias"`.
    pub service_from: String,
    /// Name found there -> Pacer service; default: the name itself.
    pub services: BTreeMap<String, String>,
    pub environment: String,
}

impl Default for OpsgenieWebhook {
    fn default() -> Self {
        OpsgenieWebhook {
            header: "Authorization".into(),
            token: None,
            username: None,
            password: None,
            service_from: "tag:service".into(),
            services: BTreeMap::new(),
            environment: DEFAULT_INCIDENT_ENVIRONMENT.into(),
        }
    }
}

/// `[webhooks.alertmanager]`: a `webhook_configs` receiver, authenticated by the
/// receiver's `http_config` (bearer `authorization` or `basic_auth`)
/// (docs/integrations/alertmanager.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertmanagerWebhook {
    /// `http_config.authorization.credentials` (sent as `Authorization: Bearer ...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// `http_config.basic_auth`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Alertmanager matchers (`name="v"`, `!=`, `=~`, `!~`; regexes anchored); an alert
    /// becomes an incident only when it matches all of them. Empty: every alert sent.
    pub matchers: Vec<String>,
    /// The label naming the service.
    pub service_label: String,
    /// Label value -> Pacer service; default: the value itself.
    pub services: BTreeMap<String, String>,
    pub environment: String,
}

impl Default for AlertmanagerWebhook {
    fn default() -> Self {
        AlertmanagerWebhook {
            token: None,
            username: None,
            password: None,
            matchers: Vec::new(),
            service_label: "service".into(),
            services: BTreeMap::new(),
            environment: DEFAULT_INCIDENT_ENVIRONMENT.into(),
        }
    }
}

impl WebhookSettings {
    fn validate_incident_receivers(&self) -> anyhow::Result<()> {
        let (pd, og, am) = (&self.pagerduty, &self.opsgenie, &self.alertmanager);
        if pd.secrets.iter().any(|s| s.expose().trim().is_empty()) {
            anyhow::bail!(
                "webhooks.pagerduty.secrets has an empty secret: list the subscription's \
                 signing secrets, or remove the setting to disable the receiver"
            );
        }
        let secrets = [
            ("webhooks.opsgenie.token", &og.token),
            ("webhooks.opsgenie.password", &og.password),
            ("webhooks.alertmanager.token", &am.token),
            ("webhooks.alertmanager.password", &am.password),
        ];
        for (key, secret) in secrets {
            if secret
                .as_ref()
                .is_some_and(|s| s.expose().trim().is_empty())
            {
                anyhow::bail!(
                    "{key} is empty: set it to the credential the sender uses, or remove it \
                     to disable that way in"
                );
            }
        }
        for (prefix, user, password) in [
            ("webhooks.opsgenie", &og.username, &og.password),
            ("webhooks.alertmanager", &am.username, &am.password),
        ] {
            if user.is_some() != password.is_some() {
                anyhow::bail!(
                    "{prefix}.username and {prefix}.password go together: set both for basic \
                     auth, or neither"
                );
            }
        }
        if og.header.trim().is_empty()
            || axum::http::HeaderName::from_bytes(og.header.trim().as_bytes()).is_err()
        {
            anyhow::bail!(
                "webhooks.opsgenie.header = {:?} is not an HTTP header name; use e.g. \
                 \"Authorization\" or \"X-Pacer-Token\"",
                og.header
            );
        }
        crate::api::webhooks::opsgenie_service_source(&og.service_from)
            .map_err(|e| anyhow::anyhow!("webhooks.opsgenie.service_from: {e}"))?;
        for m in &am.matchers {
            crate::api::webhooks::alertmanager_matcher(m)
                .map_err(|e| anyhow::anyhow!("webhooks.alertmanager.matchers: {e}"))?;
        }
        if am.service_label.trim().is_empty() {
            anyhow::bail!(
                "webhooks.alertmanager.service_label is empty; name a label, e.g. \"service\""
            );
        }
        let maps = [
            ("webhooks.pagerduty.services", &pd.services),
            ("webhooks.opsgenie.services", &og.services),
            ("webhooks.alertmanager.services", &am.services),
        ];
        for (table, map) in maps {
            if let Some((key, _)) = map.iter().find(|(_, v)| v.trim().is_empty()) {
                anyhow::bail!("{table}.{key:?} maps to an empty name; name a service");
            }
        }
        for (key, environment) in [
            ("webhooks.pagerduty.environment", &pd.environment),
            ("webhooks.opsgenie.environment", &og.environment),
            ("webhooks.alertmanager.environment", &am.environment),
        ] {
            if environment.trim().is_empty() {
                anyhow::bail!("{key} is empty; name the environment, e.g. \"production\"");
            }
        }
        Ok(())
    }
}
