//! Vendor webhook receivers: GitHub `deployment_status`, GitLab Deployment Hooks, Flux
//! notification-controller events and Argo CD notifications become deployments.
//!
//! Every receiver follows the same order, so that a refused request changes nothing:
//! authenticate over the raw body (401; 403 when the receiver has no secret configured),
//! parse (400 naming the field), decide (ignored events answer 202 and say why), then write
//! the deployment and its delivery key in one transaction (a re-delivery answers 200
//! "already processed" and writes nothing). Setup for each vendor: `docs/integrations/`.

mod alertmanager;
mod argocd;
mod flux;
mod github;
mod gitlab;
mod opsgenie;
mod pagerduty;

pub(crate) use alertmanager::parse_matcher as alertmanager_matcher;
pub(crate) use opsgenie::service_source as opsgenie_service_source;

use super::error::{ApiError, ErrorCode};
use crate::app::Pacer;
use crate::settings::Secret;
use crate::store::{Recorded, WebhookDelivery};
use crate::timefmt;
use axum::Json;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, Mac};
use pacer_core::{Deployment, Timestamp};
use serde_json::{Value, json};
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

pub fn routes() -> Router<Pacer> {
    Router::new()
        .route("/webhooks/github", post(github::receive))
        .route("/webhooks/gitlab", post(gitlab::receive))
        .route("/webhooks/flux", post(flux::receive))
        .route("/webhooks/argocd", post(argocd::receive))
        .route("/webhooks/pagerduty", post(pagerduty::receive))
        .route("/webhooks/opsgenie", post(opsgenie::receive))
        .route("/webhooks/alertmanager", post(alertmanager::receive))
}

/// Why a webhook request is refused. Authentication failures are the receivers' own;
/// everything else is an ordinary [`ApiError`].
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Missing or wrong signature or token.
    #[error("{0}")]
    Unauthorized(String),
    /// The receiver has no secret configured: it accepts nothing.
    #[error("{0}")]
    NotConfigured(String),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<crate::store::StoreError> for WebhookError {
    fn from(e: crate::store::StoreError) -> Self {
        WebhookError::Api(e.into())
    }
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            WebhookError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            WebhookError::NotConfigured(_) => (StatusCode::FORBIDDEN, "webhook_not_configured"),
            WebhookError::Api(_) => {
                let WebhookError::Api(e) = self else {
                    unreachable!()
                };
                return e.into_response();
            }
        };
        tracing::warn!(%status, error = %self, "webhook refused");
        let mut response = (
            status,
            Json(json!({"error": self.to_string(), "code": code})),
        )
            .into_response();
        // The same marker ApiError leaves, so refusals are counted by reason.
        response.extensions_mut().insert(ErrorCode(code));
        response
    }
}

type WebhookResult = Result<Response, WebhookError>;

/// What a verified, parsed delivery asks for.
pub(crate) enum Outcome {
    /// Record `deployment` unless `delivery_key` was processed before.
    Deploy {
        delivery_key: String,
        deployment: Box<Deployment>,
    },
    /// Accepted, nothing to record; the reason is said in the answer.
    Ignore(String),
}

/// The configured secret of a receiver, or 403 naming the setting.
fn configured<'a>(
    secret: Option<&'a Secret>,
    vendor: &str,
    setting: &str,
) -> Result<&'a Secret, WebhookError> {
    secret.ok_or_else(|| {
        WebhookError::NotConfigured(format!(
            "the {vendor} receiver is disabled: set {setting} in the config file (or \
             PACER_{} in the environment) to the secret the sender uses; Pacer never \
             accepts unsigned deliveries",
            setting.to_uppercase().replace('.', "__")
        ))
    })
}

/// A header as text; absent or not visible ASCII: `None`.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Whether `expected` is the HMAC of `body` under `key` with the digest `$d`; the
/// comparison is `verify_slice`'s, in constant time. (A macro: hmac's generic bounds over
/// the digest are long, and only four digests are wanted.)
macro_rules! hmac_matches {
    ($d:ty, $key:expr, $body:expr, $expected:expr) => {{
        // Hmac takes keys of any length, so `new_from_slice` does not fail.
        match <Hmac<$d> as Mac>::new_from_slice($key) {
            Ok(mut mac) => {
                mac.update($body);
                mac.verify_slice($expected).is_ok()
            }
            Err(_) => false,
        }
    }};
}

/// Checks a `<algorithm>=<hex>` signature of `body` keyed with `secret` (GitHub's
/// `X-Hub-Signature-256`, Flux's `X-Signature`), in constant time (`verify_slice`).
/// `Err` says what is wrong without revealing the expected value.
fn verify_hmac(secret: &Secret, body: &[u8], signature: &str, name: &str) -> Result<(), String> {
    let (algorithm, hex_digest) = signature
        .split_once('=')
        .ok_or_else(|| format!("{name} is not <algorithm>=<hex digest>"))?;
    let expected = hex::decode(hex_digest.trim())
        .map_err(|e| format!("{name}: the digest is not hexadecimal ({e})"))?;
    let key = secret.expose().as_bytes();
    let matches = match algorithm.trim().to_ascii_lowercase().as_str() {
        "sha256" => hmac_matches!(Sha256, key, body, &expected),
        "sha224" => hmac_matches!(Sha224, key, body, &expected),
        "sha384" => hmac_matches!(Sha384, key, body, &expected),
        "sha512" => hmac_matches!(Sha512, key, body, &expected),
        other => {
            return Err(format!(
                "{name} uses {other:?}; Pacer verifies sha224, sha256, sha384 and sha512"
            ));
        }
    };
    if matches {
        Ok(())
    } else {
        Err(format!(
            "{name} does not match the body: the sender's secret differs from the configured \
             one, or the body was changed on the way"
        ))
    }
}

/// Compares a shared token in constant time. Both sides are hashed first, so neither the
/// content nor the length of the configured token leaks through timing.
fn token_matches(secret: &Secret, given: &str) -> bool {
    let a = Sha256::digest(secret.expose().as_bytes());
    let b = Sha256::digest(given.as_bytes());
    a.ct_eq(&b).into()
}

/// The bearer token of an `Authorization` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = header(headers, "authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Parses a body as JSON, or 400.
fn json_body(bytes: &[u8], what: &str) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad(
            "bad_json",
            format!("request body is empty: send the {what} JSON"),
        ));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad(
            "bad_json",
            format!("request body is not valid JSON ({e}); send the {what} JSON"),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::bad(
            "bad_json",
            format!("request body must be a JSON object (the {what})"),
        ));
    }
    Ok(value)
}

/// Field access by dotted path, with 400s that name the path.
pub(crate) struct Payload<'a> {
    root: &'a Value,
    /// What sends this payload, for messages ("a GitHub deployment_status event").
    what: &'static str,
}

impl<'a> Payload<'a> {
    fn new(root: &'a Value, what: &'static str) -> Self {
        Payload { root, what }
    }

    fn get(&self, path: &str) -> Option<&'a Value> {
        path.split('.')
            .try_fold(self.root, |v, key| v.get(key))
            .filter(|v| !v.is_null())
    }

    fn missing(&self, path: &str) -> ApiError {
        ApiError::bad(
            "missing_field",
            format!("{path} is missing; {} carries it", self.what),
        )
    }

    /// A non-empty string (numbers are accepted and written out: ids are numbers in some
    /// payloads and strings in others).
    fn text(&self, path: &str) -> Result<String, ApiError> {
        match self.get(path) {
            None => Err(self.missing(path)),
            Some(Value::String(s)) if s.trim().is_empty() => Err(ApiError::invalid(format!(
                "{path} is empty; {} carries a value there",
                self.what
            ))),
            Some(Value::String(s)) => checked_text(path, s.trim()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(other) => Err(ApiError::invalid(format!(
                "{path} must be a string, got {other}"
            ))),
        }
    }

    fn optional_text(&self, path: &str) -> Result<Option<String>, ApiError> {
        match self.get(path) {
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            None => Ok(None),
            Some(_) => self.text(path).map(Some),
        }
    }

    /// An RFC 3339 timestamp.
    fn time(&self, path: &str) -> Result<Timestamp, ApiError> {
        let text = self.text(path)?;
        timefmt::parse_rfc3339(&text).map_err(|e| ApiError::invalid(format!("{path}: {e}")))
    }
}

/// Text that fits Pacer's limits (ids and names are at most 1024 bytes, no control
/// characters).
fn checked_text(path: &str, s: &str) -> Result<String, ApiError> {
    if s.len() > super::input::MAX_TEXT_LEN {
        return Err(ApiError::invalid(format!(
            "{path} is {} bytes long; the limit is {}",
            s.len(),
            super::input::MAX_TEXT_LEN
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{path} contains control characters"
        )));
    }
    Ok(s.to_string())
}

/// A configured mapping, exact key first, then ignoring ASCII case (GitHub and GitLab
/// treat repository paths case-insensitively).
fn lookup<'a>(map: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    map.get(key)
        .or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .map(|v| v.trim())
}

/// The Pacer environment of a source environment name (`[webhooks.environments]`).
fn environment(p: &Pacer, source_name: &str) -> String {
    lookup(&p.settings.webhooks.environments, source_name)
        .unwrap_or(source_name)
        .to_string()
}

/// A git commit id: 7 to 64 hexadecimal digits (SHA-1 or SHA-256 object names).
fn is_commit_id(s: &str) -> bool {
    (7..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Records or ignores a delivery and answers the sender.
async fn finish(p: &Pacer, source: &'static str, outcome: Outcome) -> WebhookResult {
    let (delivery_key, deployment) = match outcome {
        Outcome::Ignore(reason) => {
            tracing::info!(source, %reason, "webhook ignored");
            return Ok((
                StatusCode::ACCEPTED,
                Json(json!({"ignored": true, "message": reason})),
            )
                .into_response());
        }
        Outcome::Deploy {
            delivery_key,
            deployment,
        } => (delivery_key, deployment),
    };
    let delivery = p
        .store
        .record_webhook_deployment(source, &delivery_key, &deployment)
        .await?;
    tracing::info!(source, delivery = %delivery_key, id = %deployment.id,
        service = %deployment.service, outcome = ?delivery, "webhook deployment");
    let (status, body) = match delivery {
        WebhookDelivery::AlreadyProcessed { deployment_id } => (
            StatusCode::OK,
            json!({
                "id": deployment_id,
                "already_processed": true,
                "message": format!("delivery {delivery_key:?} was already processed; nothing was stored"),
            }),
        ),
        WebhookDelivery::Processed(recorded) => {
            let created = recorded == Recorded::Created;
            if created {
                p.telemetry.ingested(source, "deployment", 1);
            }
            let mut body = json!({
                "id": deployment.id,
                "service": deployment.service,
                "environment": deployment.environment,
                "status": deployment.status.as_str(),
                "sha": deployment.sha,
                "deployed_at": timefmt::format(deployment.deployed_at),
                "already_recorded": !created,
            });
            if !created {
                body["message"] = json!(format!(
                    "deployment {:?} was already recorded through another delivery; it counts once",
                    deployment.id
                ));
            }
            (
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                body,
            )
        }
    };
    Ok((status, Json(body)).into_response())
}

/// Incident-tool receivers (PagerDuty, OpsGenie, Alertmanager): what one verified,
/// parsed delivery asks for.
pub(crate) struct IncidentDeliveries {
    /// Each event with its delivery key (deduplicated per source).
    pub events: Vec<(String, crate::store::IncidentEvent)>,
    /// Why parts of the delivery were not used (alerts matching no matcher, notes).
    pub ignored: Vec<String>,
}

/// Whether the request carries the configured basic-auth credentials, compared in
/// constant time.
fn basic_auth_matches(headers: &HeaderMap, username: &str, password: &Secret) -> bool {
    use base64::Engine;
    let Some((scheme, encoded)) = header(headers, "authorization").and_then(|v| v.split_once(' '))
    else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, pass)) = text.split_once(':') else {
        return false;
    };
    // Both compared, always: which one is wrong must not show in the timing.
    let user_ok = token_matches(&Secret::new(username), user);
    let pass_ok = token_matches(password, pass);
    user_ok & pass_ok
}

/// Records incident-tool events and answers the sender: 202 when anything was new, 200
/// "already processed" when every event was a replay (or nothing was usable: 202 ignored).
async fn finish_incidents(
    p: &Pacer,
    source: &'static str,
    deliveries: IncidentDeliveries,
) -> WebhookResult {
    use crate::store::IncidentDelivery;
    if deliveries.events.is_empty() {
        let reason = deliveries.ignored.join("; ");
        tracing::info!(source, %reason, "webhook ignored");
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({"ignored": true, "message": reason, "skipped": deliveries.ignored})),
        )
            .into_response());
    }
    let mut items = Vec::with_capacity(deliveries.events.len());
    let mut new = 0;
    for (key, event) in &deliveries.events {
        let outcome = p.store.record_incident_event(source, key, event).await?;
        tracing::info!(source, delivery = %key, id = %event.incident_id, ?outcome, "webhook incident");
        items.push(match outcome {
            IncidentDelivery::AlreadyProcessed { incident_id } => json!({
                "id": incident_id,
                "already_processed": true,
                "message": format!("delivery {key:?} was already processed; nothing was stored"),
            }),
            IncidentDelivery::Processed {
                incident,
                recorded,
                stale,
            } => {
                new += 1;
                let mut item = json!({
                    "id": incident.id,
                    "already_processed": false,
                    "created": recorded == Recorded::Created,
                    "incident": crate::present::incident_json(&incident, &p.config),
                });
                if stale {
                    item["message"] = json!(
                        "this event is older than the incident's stored state, which a newer \
                         event set; its state was not applied"
                    );
                }
                item
            }
        });
    }
    if new > 0 {
        p.telemetry.ingested(source, "incident", new);
    }
    let replay = new == 0;
    let mut body = json!({
        "already_processed": replay,
        "incidents": items,
        "skipped": deliveries.ignored,
    });
    if items_len(&body) == 1 {
        body["id"] = body["incidents"][0]["id"].clone();
    }
    if replay {
        body["message"] =
            json!("every event of this delivery was already processed; nothing was stored");
    }
    let status = if replay {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(body)).into_response())
}

fn items_len(body: &Value) -> usize {
    body["incidents"].as_array().map_or(0, Vec::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_documented_vector() {
        // docs.github.com "Validating webhook deliveries": this secret and body give this value.
        let secret = Secret::new("It's a Secret to Everybody");
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(verify_hmac(&secret, b"Hello, World!", good, "X"), Ok(()));
        assert!(verify_hmac(&secret, b"Hello, World?", good, "X").is_err());
        assert!(verify_hmac(&secret, b"Hello, World!", "sha256=zz", "X").is_err());
        assert!(verify_hmac(&secret, b"Hello, World!", "757107ea", "X").is_err());
        assert!(verify_hmac(&secret, b"Hello, World!", "md5=757107ea", "X").is_err());
    }

    #[test]
    fn tokens_compare_whole() {
        let secret = Secret::new("gitlab-fixture-token");
        assert!(token_matches(&secret, "gitlab-fixture-token"));
        assert!(!token_matches(&secret, "gitlab-fixture-toke"));
        assert!(!token_matches(&secret, "gitlab-fixture-token "));
        assert!(!token_matches(&secret, ""));
    }

    #[test]
    fn commit_ids() {
        assert!(is_commit_id("5f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"));
        assert!(is_commit_id("279484c0"));
        assert!(!is_commit_id("1.2.3"));
        assert!(!is_commit_id("abc"));
    }
}
