//! `POST /webhooks/github`: `deployment_status` events, signed with `X-Hub-Signature-256`
//! and deduplicated on `X-GitHub-Delivery` (docs/integrations/github-webhooks.md).

use super::{
    Outcome, Payload, WebhookError, WebhookResult, configured, environment, finish, header,
    json_body, lookup, verify_hmac,
};
use crate::api::error::ApiError;
use crate::api::input::read_body;
use crate::app::Pacer;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use axum::response::IntoResponse;
use pacer_core::{DeployStatus, Deployment};
use serde_json::{Value, json};

const SOURCE: &str = "github";

pub(super) async fn receive(
    State(p): State<Pacer>,
    headers: HeaderMap,
    body: Body,
) -> WebhookResult {
    let secret = configured(
        p.settings.webhooks.github.secret.as_ref(),
        "GitHub",
        "webhooks.github.secret",
    )?;
    let bytes = read_body(body, p.settings.server.body_limit_bytes).await?;
    // The signature covers the raw bytes (form-encoded bodies included): check it before
    // reading anything else.
    let signature = header(&headers, "x-hub-signature-256").ok_or_else(|| {
        WebhookError::Unauthorized(
            "X-Hub-Signature-256 is missing: give the webhook a secret in GitHub (Settings > \
             Webhooks > Secret), the same value as webhooks.github.secret"
                .into(),
        )
    })?;
    if !signature.starts_with("sha256=") {
        return Err(WebhookError::Unauthorized(
            "X-Hub-Signature-256 must be sha256=<hex digest>".into(),
        ));
    }
    verify_hmac(secret, &bytes, signature, "X-Hub-Signature-256")
        .map_err(WebhookError::Unauthorized)?;

    let event = header(&headers, "x-github-event").ok_or_else(|| {
        ApiError::bad(
            "missing_header",
            "X-GitHub-Event header is missing; GitHub sends it with every delivery",
        )
    })?;
    let value = body_json(&headers, &bytes)?;
    match event {
        "ping" => {
            let zen = value.get("zen").cloned().unwrap_or(Value::Null);
            return Ok((
                StatusCode::OK,
                Json(json!({
                    "message": "pong: the GitHub receiver is set up; Pacer records \
                                deployment_status events",
                    "zen": zen,
                })),
            )
                .into_response());
        }
        "deployment_status" => {}
        other => {
            let reason = format!(
                "event {other:?} is not used: Pacer records deployments from \
                 deployment_status events only; select just \"Deployment statuses\" in the \
                 webhook's events"
            );
            return finish(&p, SOURCE, Outcome::Ignore(reason)).await;
        }
    }
    let delivery = header(&headers, "x-github-delivery").ok_or_else(|| {
        ApiError::bad(
            "missing_header",
            "X-GitHub-Delivery header is missing; GitHub sends it with every delivery",
        )
    })?;
    let outcome = deployment_status(&p, &value, delivery)?;
    finish(&p, SOURCE, outcome).await
}

/// The JSON of a delivery: the body itself, or its `payload` field when the hook is
/// configured with content type `application/x-www-form-urlencoded`.
fn body_json(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, ApiError> {
    // A JSON body is read as JSON whatever its content type (`curl -d` says form).
    let form = header(headers, CONTENT_TYPE.as_str())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
        && bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{');
    if !form {
        return json_body(bytes, "GitHub webhook payload");
    }
    let payload = form_urlencoded::parse(bytes)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| {
            ApiError::bad(
                "missing_field",
                "form body has no payload field; set the webhook's content type to \
                 application/json",
            )
        })?;
    json_body(payload.as_bytes(), "GitHub webhook payload")
}

fn deployment_status(p: &Pacer, value: &Value, delivery: &str) -> Result<Outcome, ApiError> {
    let payload = Payload::new(value, "a GitHub deployment_status event");
    let state = payload.text("deployment_status.state")?;
    let status = match state.as_str() {
        "success" => DeployStatus::Success,
        "failure" | "error" => DeployStatus::Failure,
        other => {
            return Ok(Outcome::Ignore(format!(
                "deployment_status.state is {other:?}: only success, failure and error end \
                 a deployment, so this status is not recorded"
            )));
        }
    };
    let github_id = payload.text("deployment.id")?;
    let full_name = payload.text("repository.full_name")?;
    let source_environment = match payload.optional_text("deployment.environment")? {
        Some(e) => e,
        None => payload.text("deployment_status.environment")?,
    };
    let deployed_at = match payload.get("deployment_status.created_at") {
        Some(_) => payload.time("deployment_status.created_at")?,
        None => payload.time("deployment_status.updated_at")?,
    };
    let services = &p.settings.webhooks.github.services;
    let service = lookup(services, &format!("{full_name}:{source_environment}"))
        .or_else(|| lookup(services, &full_name))
        .map(String::from)
        .unwrap_or_else(|| {
            full_name
                .rsplit('/')
                .next()
                .unwrap_or(&full_name)
                .to_string()
        });
    // One GitHub deployment is one Pacer deployment whichever delivery reports it; a
    // failed status gets its own id so a later success of the same deployment still counts.
    let id = match status {
        DeployStatus::Success => format!("github-{github_id}"),
        DeployStatus::Failure => format!("github-{github_id}-failure"),
    };
    Ok(Outcome::Deploy {
        delivery_key: delivery.to_string(),
        deployment: Box::new(Deployment {
            id,
            service,
            environment: environment(p, &source_environment),
            status,
            deployed_at,
            sha: payload.optional_text("deployment.sha")?,
            repo: Some(full_name),
            ..Deployment::default()
        }),
    })
}
