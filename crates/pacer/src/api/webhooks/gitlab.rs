//! `POST /webhooks/gitlab`: Deployment Hook events, authenticated with `X-Gitlab-Token`
//! (docs/integrations/gitlab.md).

use super::{
    Outcome, Payload, WebhookError, WebhookResult, configured, environment, finish, header,
    is_commit_id, json_body, lookup, token_matches,
};
use crate::api::error::ApiError;
use crate::api::input::read_body;
use crate::app::Pacer;
use crate::timefmt;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use pacer_core::{DeployStatus, Deployment, Timestamp};
use serde_json::Value;

const SOURCE: &str = "gitlab";

pub(super) async fn receive(
    State(p): State<Pacer>,
    headers: HeaderMap,
    body: Body,
) -> WebhookResult {
    let token = configured(
        p.settings.webhooks.gitlab.token.as_ref(),
        "GitLab",
        "webhooks.gitlab.token",
    )?;
    let bytes = read_body(body, p.settings.server.body_limit_bytes).await?;
    let given = header(&headers, "x-gitlab-token").ok_or_else(|| {
        WebhookError::Unauthorized(
            "X-Gitlab-Token is missing: set the webhook's Secret token in GitLab (Settings > \
             Webhooks) to the value of webhooks.gitlab.token"
                .into(),
        )
    })?;
    if !token_matches(token, given) {
        return Err(WebhookError::Unauthorized(
            "X-Gitlab-Token does not match webhooks.gitlab.token".into(),
        ));
    }
    let event = header(&headers, "x-gitlab-event").ok_or_else(|| {
        ApiError::bad(
            "missing_header",
            "X-Gitlab-Event header is missing; GitLab sends it with every delivery",
        )
    })?;
    if event != "Deployment Hook" {
        let reason = format!(
            "event {event:?} is not used: Pacer records deployments from Deployment Hook \
             events only; tick just \"Deployment events\" in the webhook's triggers"
        );
        return finish(&p, SOURCE, Outcome::Ignore(reason)).await;
    }
    let value = json_body(&bytes, "GitLab Deployment Hook payload")?;
    // GitLab >= 17.4 keeps Idempotency-Key across retries; X-Gitlab-Event-UUID is per
    // event; older versions send neither, and the deployment and its status identify
    // the event.
    let delivery = header(&headers, "idempotency-key")
        .or_else(|| header(&headers, "x-gitlab-event-uuid"))
        .map(String::from);
    let outcome = deployment_event(&p, &value, delivery)?;
    finish(&p, SOURCE, outcome).await
}

fn deployment_event(
    p: &Pacer,
    value: &Value,
    delivery: Option<String>,
) -> Result<Outcome, ApiError> {
    let payload = Payload::new(value, "a GitLab Deployment Hook event");
    let status_text = payload.text("status")?;
    let status = match status_text.as_str() {
        "success" => DeployStatus::Success,
        "failed" => DeployStatus::Failure,
        other => {
            return Ok(Outcome::Ignore(format!(
                "status is {other:?}: only success and failed end a deployment, so this \
                 event is not recorded"
            )));
        }
    };
    let gitlab_id = payload.text("deployment_id")?;
    let project = payload.text("project.path_with_namespace")?;
    let source_environment = payload.text("environment")?;
    let changed_at = payload.text("status_changed_at")?;
    let deployed_at = gitlab_time(&changed_at)
        .map_err(|e| ApiError::invalid(format!("status_changed_at: {changed_at:?} {e}")))?;
    // The body carries only the 8-digit short sha; the full one ends commit_url.
    let sha = match payload.optional_text("commit_url")? {
        Some(url) => url
            .rsplit_once("/-/commit/")
            .map(|(_, sha)| sha.to_string())
            .filter(|sha| is_commit_id(sha)),
        None => None,
    };
    let sha = match sha {
        Some(sha) => Some(sha),
        None => payload.optional_text("short_sha")?,
    };
    let services = &p.settings.webhooks.gitlab.services;
    let service = lookup(services, &format!("{project}:{source_environment}"))
        .or_else(|| lookup(services, &project))
        .map(String::from)
        .unwrap_or_else(|| project.rsplit('/').next().unwrap_or(&project).to_string());
    let id = match status {
        DeployStatus::Success => format!("gitlab-{gitlab_id}"),
        DeployStatus::Failure => format!("gitlab-{gitlab_id}-failed"),
    };
    Ok(Outcome::Deploy {
        delivery_key: delivery.unwrap_or_else(|| format!("deployment:{gitlab_id}:{status_text}")),
        deployment: Box::new(Deployment {
            id,
            service,
            environment: environment(p, &source_environment),
            status,
            deployed_at,
            sha,
            repo: Some(project),
            ..Deployment::default()
        }),
    })
}

/// GitLab's `2021-04-28 21:50:00 +0200` (not RFC 3339), or RFC 3339.
fn gitlab_time(text: &str) -> Result<Timestamp, String> {
    match jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S %z", text.trim())
        .and_then(|t| t.to_timestamp())
    {
        Ok(ts) => timefmt::parse_rfc3339(&ts.to_string()),
        Err(_) => timefmt::parse_rfc3339(text).map_err(|_| {
            "is not a GitLab time (\"2021-04-28 21:50:00 +0200\") or RFC 3339 timestamp".to_string()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitlab_times_carry_their_offset() {
        // 21:50 at +02:00 is 19:50 UTC.
        assert_eq!(
            gitlab_time("2021-04-28 21:50:00 +0200"),
            timefmt::parse_rfc3339("2021-04-28T19:50:00Z")
        );
        assert_eq!(
            gitlab_time("2021-04-28T19:50:00Z"),
            timefmt::parse_rfc3339("2021-04-28T19:50:00Z")
        );
        assert!(gitlab_time("2021-04-28 21:50").is_err());
    }
}
