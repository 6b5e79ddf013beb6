//! `POST /webhooks/flux`: Flux notification-controller events from a `generic-hmac`
//! provider (`X-Signature`) or a `generic` provider with a bearer token
//! (docs/integrations/flux.md).

use super::{
    Outcome, Payload, WebhookError, WebhookResult, bearer, configured, finish, header,
    is_commit_id, json_body, lookup, token_matches, verify_hmac,
};
use crate::api::error::ApiError;
use crate::api::input::read_body;
use crate::app::Pacer;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use pacer_core::{DeployStatus, Deployment};
use serde_json::Value;

const SOURCE: &str = "flux";

/// Objects whose successful reconciliation rolls out a release.
const DEPLOYING_KINDS: &[&str] = &["Kustomization", "HelmRelease"];
/// Reasons of a successful reconciliation: kustomize-controller's, and helm-controller's
/// for an install or upgrade.
const SUCCESS_REASONS: &[&str] = &[
    "ReconciliationSucceeded",
    "InstallSucceeded",
    "UpgradeSucceeded",
];

pub(super) async fn receive(
    State(p): State<Pacer>,
    headers: HeaderMap,
    body: Body,
) -> WebhookResult {
    let settings = &p.settings.webhooks.flux;
    if settings.secret.is_none() && settings.token.is_none() {
        configured(None, "Flux", "webhooks.flux.secret")?;
    }
    let bytes = read_body(body, p.settings.server.body_limit_bytes).await?;
    if let Some(signature) = header(&headers, "x-signature") {
        // generic-hmac: the signature covers the raw body.
        let secret = configured(settings.secret.as_ref(), "Flux", "webhooks.flux.secret")?;
        verify_hmac(secret, &bytes, signature, "X-Signature")
            .map_err(WebhookError::Unauthorized)?;
    } else if let Some(token) = bearer(&headers) {
        let expected = configured(settings.token.as_ref(), "Flux", "webhooks.flux.token")?;
        if !token_matches(expected, token) {
            return Err(WebhookError::Unauthorized(
                "the bearer token does not match webhooks.flux.token".into(),
            ));
        }
    } else {
        return Err(WebhookError::Unauthorized(
            "neither X-Signature nor Authorization is sent: use a generic-hmac Provider whose \
             secret's token is webhooks.flux.secret, or a generic Provider whose secret's \
             headers send Authorization: Bearer <webhooks.flux.token>"
                .into(),
        ));
    }
    let value = json_body(&bytes, "Flux event")?;
    let outcome = event(&p, &value)?;
    finish(&p, SOURCE, outcome).await
}

fn event(p: &Pacer, value: &Value) -> Result<Outcome, ApiError> {
    let payload = Payload::new(value, "a Flux notification-controller event");
    let kind = payload.text("involvedObject.kind")?;
    let namespace = payload.text("involvedObject.namespace")?;
    let name = payload.text("involvedObject.name")?;
    let object = format!("{kind}/{namespace}/{name}");
    if !DEPLOYING_KINDS.contains(&kind.as_str()) {
        return Ok(Outcome::Ignore(format!(
            "{object}: only Kustomization and HelmRelease reconciliations deploy; events of a \
             {kind} are not recorded"
        )));
    }
    let settings = &p.settings.webhooks.flux;
    let Some(service) = lookup(&settings.services, &object) else {
        return Ok(Outcome::Ignore(format!(
            "{object} is not mapped to a service: add \"{object}\" = \"<service>\" to \
             [webhooks.flux.services] to record its reconciliations as deployments"
        )));
    };
    let reason = payload.text("reason")?;
    let severity = payload.text("severity")?;
    if severity != "info" || !SUCCESS_REASONS.contains(&reason.as_str()) {
        return Ok(Outcome::Ignore(format!(
            "{object}: reason {reason} (severity {severity}) is not a successful \
             reconciliation; only {} with severity info are deployments",
            SUCCESS_REASONS.join(", ")
        )));
    }
    let revision = revision(&payload)?;
    let sha = commit_of(&revision);
    let deployed_at = payload.time("timestamp")?;
    // Ids are used in URLs (/api/v1/deployments/{id}): no slashes.
    let id = format!(
        "flux:{kind}:{namespace}:{name}:{}",
        sha.clone().unwrap_or_else(|| revision.replace('/', ":"))
    );
    Ok(Outcome::Deploy {
        // Flux has no delivery id, and sends the same event again on later reconciliations
        // of an unchanged revision: the object and its revision name one rollout.
        delivery_key: format!("{object}@{revision}"),
        deployment: Box::new(Deployment {
            id,
            service: service.to_string(),
            environment: settings.environment.trim().to_string(),
            status: DeployStatus::Success,
            deployed_at,
            sha,
            ..Deployment::default()
        }),
    })
}

/// `metadata.revision` (notification-controller >= v1.5 strips the API group) or the
/// legacy `metadata["<group>/revision"]`.
fn revision(payload: &Payload<'_>) -> Result<String, ApiError> {
    if let Some(revision) = payload.optional_text("metadata.revision")? {
        return Ok(revision);
    }
    let legacy = payload
        .get("metadata")
        .and_then(Value::as_object)
        .and_then(|m| {
            m.iter()
                .find(|(k, _)| k.ends_with(".fluxcd.io/revision"))
                .and_then(|(_, v)| v.as_str())
        })
        .map(str::trim)
        .filter(|r| !r.is_empty());
    match legacy {
        Some(r) => super::checked_text("metadata.revision", r),
        None => Err(ApiError::bad(
            "missing_field",
            "metadata.revision is missing (nor is there a legacy \
             metadata[\"<group>.toolkit.fluxcd.io/revision\"]); a successful Flux \
             reconciliation carries the revision it applied",
        )),
    }
}

/// The commit of a Flux revision: `main@sha1:<sha>` (Flux >= 2.0), `sha1:<sha>`, or the
/// legacy `main/<sha>`; `None` for a chart version or anything else.
fn commit_of(revision: &str) -> Option<String> {
    let tail = revision
        .rsplit_once(':')
        .map(|(_, t)| t)
        .or_else(|| revision.rsplit_once('/').map(|(_, t)| t))?;
    is_commit_id(tail).then(|| tail.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions() {
        let sha = "5f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6";
        assert_eq!(commit_of(&format!("main@sha1:{sha}")).as_deref(), Some(sha));
        assert_eq!(commit_of(&format!("sha1:{sha}")).as_deref(), Some(sha));
        assert_eq!(commit_of(&format!("main/{sha}")).as_deref(), Some(sha));
        assert_eq!(commit_of("6.3.5"), None);
        assert_eq!(commit_of("main@sha256:zz"), None);
    }
}
