//! `POST /webhooks/argocd`: Argo CD notifications sent by a webhook service with the
//! template of docs/integrations/argocd.md, authenticated with a bearer token.

use super::{
    Outcome, Payload, WebhookError, WebhookResult, bearer, configured, environment, finish,
    json_body, lookup, token_matches,
};
use crate::api::error::ApiError;
use crate::api::input::read_body;
use crate::app::Pacer;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use pacer_core::{DeployStatus, Deployment};
use serde_json::Value;

const SOURCE: &str = "argocd";

pub(super) async fn receive(
    State(p): State<Pacer>,
    headers: HeaderMap,
    body: Body,
) -> WebhookResult {
    let token = configured(
        p.settings.webhooks.argocd.token.as_ref(),
        "Argo CD",
        "webhooks.argocd.token",
    )?;
    let bytes = read_body(body, p.settings.server.body_limit_bytes).await?;
    let given = bearer(&headers).ok_or_else(|| {
        WebhookError::Unauthorized(
            "Authorization: Bearer <token> is missing: add it to the webhook service's \
             headers in argocd-notifications-cm (docs/integrations/argocd.md)"
                .into(),
        )
    })?;
    if !token_matches(token, given) {
        return Err(WebhookError::Unauthorized(
            "the bearer token does not match webhooks.argocd.token".into(),
        ));
    }
    let value = json_body(&bytes, "Argo CD notification (docs/integrations/argocd.md)")?;
    let outcome = notification(&p, &value)?;
    finish(&p, SOURCE, outcome).await
}

fn notification(p: &Pacer, value: &Value) -> Result<Outcome, ApiError> {
    let payload = Payload::new(value, "the Argo CD template of docs/integrations/argocd.md");
    let event = payload.text("event")?;
    let status = match event.as_str() {
        "app-deployed" => DeployStatus::Success,
        "app-sync-failed" => DeployStatus::Failure,
        other => {
            return Ok(Outcome::Ignore(format!(
                "event {other:?} is not used: Pacer records app-deployed and app-sync-failed"
            )));
        }
    };
    let app = payload.text("app")?;
    let namespace = payload.optional_text("appNamespace")?;
    let revision = payload.optional_text("revision")?.ok_or_else(|| {
        ApiError::bad(
            "missing_field",
            "revision is missing or empty; for a multi-source application render \
             {{index .app.status.operationState.syncResult.revisions 0}} instead of \
             .syncResult.revision",
        )
    })?;
    let finished_at = payload.time("finishedAt")?;
    let settings = &p.settings.webhooks.argocd;
    let service = namespace
        .as_deref()
        .and_then(|ns| lookup(&settings.services, &format!("{ns}/{app}")))
        .or_else(|| lookup(&settings.services, &app))
        .map(String::from)
        .unwrap_or_else(|| app.clone());
    let environment = match payload.optional_text("environment")? {
        Some(e) => environment(p, &e),
        None => settings.environment.trim().to_string(),
    };
    let ns = namespace.unwrap_or_else(|| "-".into());
    // Argo CD has no delivery id. The operation's end time tells a retried notification
    // (same time) from a later sync of the same revision (a rollback: a new deployment).
    let operation = format!("{ns}:{app}:{revision}:{}", finished_at.millis() / 1000);
    let id = match status {
        DeployStatus::Success => format!("argocd:{operation}"),
        DeployStatus::Failure => format!("argocd:{operation}:failed"),
    };
    Ok(Outcome::Deploy {
        delivery_key: format!("{event}:{operation}"),
        deployment: Box::new(Deployment {
            id: id.replace('/', ":"),
            service,
            environment,
            status,
            deployed_at: finished_at,
            sha: Some(revision),
            repo: payload.optional_text("repoURL")?,
            ..Deployment::default()
        }),
    })
}
