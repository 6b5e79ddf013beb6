//! `POST /webhooks/pagerduty`: PagerDuty webhooks v3 incident events, signed with
//! `X-PagerDuty-Signature` (docs/integrations/pagerduty.md).

use super::{
    IncidentDeliveries, Outcome, Payload, WebhookError, WebhookResult, configured, finish,
    finish_incidents, header, json_body, lookup,
};
use crate::api::error::ApiError;
use crate::api::input::read_body;
use crate::app::Pacer;
use crate::settings::Secret;
use crate::store::{IncidentEvent, IncidentState};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const SOURCE: &str = "pagerduty";

pub(super) async fn receive(
    State(p): State<Pacer>,
    headers: HeaderMap,
    body: Body,
) -> WebhookResult {
    let settings = &p.settings.webhooks.pagerduty;
    configured(
        settings.secrets.first(),
        "PagerDuty",
        "webhooks.pagerduty.secrets",
    )?;
    let bytes = read_body(body, p.settings.server.body_limit_bytes).await?;
    let given = header(&headers, "x-pagerduty-signature").ok_or_else(|| {
        WebhookError::Unauthorized(
            "X-PagerDuty-Signature is missing: PagerDuty v3 webhooks sign every delivery; \
             check that the subscription is a v3 webhook and points at this URL"
                .into(),
        )
    })?;
    verify_signature(&settings.secrets, &bytes, given).map_err(WebhookError::Unauthorized)?;
    let value = json_body(&bytes, "PagerDuty webhook v3 payload")?;
    match event(&p, &value)? {
        Parsed::Ping => Ok((
            StatusCode::OK,
            Json(json!({"message": "pagey.ping received; the subscription reaches Pacer"})),
        )
            .into_response()),
        Parsed::Ignore(reason) => finish(&p, SOURCE, Outcome::Ignore(reason)).await,
        Parsed::Event(key, event) => {
            let deliveries = IncidentDeliveries {
                events: vec![(key, *event)],
                ignored: Vec::new(),
            };
            finish_incidents(&p, SOURCE, deliveries).await
        }
    }
}

/// Checks `X-PagerDuty-Signature`: comma-separated `v1=<hex HMAC-SHA256>` values (one per
/// active secret while a secret is rotated); any of them matching under any configured
/// secret accepts. Other versions are skipped, as PagerDuty's own verifier does. The
/// secret is used as sent, not base64-decoded (the go-pagerduty vector proves it).
fn verify_signature(secrets: &[Secret], body: &[u8], header: &str) -> Result<(), String> {
    let signatures: Vec<Vec<u8>> = header
        .split(',')
        .filter_map(|s| s.trim().strip_prefix("v1="))
        .filter_map(|hex_digest| hex::decode(hex_digest).ok())
        .collect();
    if signatures.is_empty() {
        return Err(
            "X-PagerDuty-Signature has no v1=<hex> signature; PagerDuty v3 sends \
             v1=<HMAC-SHA256 of the body in hex>"
                .into(),
        );
    }
    for secret in secrets {
        for signature in &signatures {
            // Hmac takes keys of any length, so `new_from_slice` does not fail.
            let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
            else {
                continue;
            };
            mac.update(body);
            // verify_slice compares in constant time.
            if mac.verify_slice(signature).is_ok() {
                return Ok(());
            }
        }
    }
    Err(
        "X-PagerDuty-Signature does not match the body under any of webhooks.pagerduty.secrets: \
         the subscription's secret differs from the configured ones, or the body was changed \
         on the way"
            .into(),
    )
}

enum Parsed {
    Ping,
    Ignore(String),
    Event(String, Box<IncidentEvent>),
}

fn event(p: &Pacer, value: &Value) -> Result<Parsed, ApiError> {
    let payload = Payload::new(value, "a PagerDuty v3 webhook");
    let event_type = payload.text("event.event_type")?;
    if event_type == "pagey.ping" {
        return Ok(Parsed::Ping);
    }
    let data_type = payload.optional_text("event.data.type")?;
    if event_type == "incident.annotated" || data_type.as_deref() == Some("incident_note") {
        return Ok(Parsed::Ignore(
            "incident.annotated: a note changes neither the incident's state nor its times, \
             so nothing is recorded"
                .into(),
        ));
    }
    if data_type.as_deref() != Some("incident") {
        return Ok(Parsed::Ignore(format!(
            "event type {event_type:?} is not about an incident's state; Pacer records \
             incident.triggered, acknowledged, resolved, reopened, priority_updated and other \
             incident events"
        )));
    }
    let delivery_key = payload.text("event.id")?;
    let occurred_at = payload.time("event.occurred_at")?;
    let incident_id = payload.text("event.data.id")?;
    let status = payload.text("event.data.status")?;
    // Every incident event carries the whole incident as of `occurred_at`, so its status
    // is the state then; only incident.resolved says when the resolution happened.
    let state = match status.as_str() {
        "triggered" | "acknowledged" => IncidentState::Open,
        "resolved" => IncidentState::Resolved {
            at: occurred_at,
            exact: event_type == "incident.resolved",
        },
        other => {
            return Err(ApiError::invalid(format!(
                "event.data.status is {other:?}; PagerDuty incidents are triggered, \
                 acknowledged or resolved"
            )));
        }
    };
    let opened_at = match payload.optional_text("event.data.created_at")? {
        Some(_) => Some(payload.time("event.data.created_at")?),
        None => None,
    };
    let settings = &p.settings.webhooks.pagerduty;
    let names = [
        payload.optional_text("event.data.service.summary")?,
        payload.optional_text("event.data.service.name")?,
        payload.optional_text("event.data.service.id")?,
    ];
    let service = names
        .iter()
        .flatten()
        .find_map(|n| lookup(&settings.services, n))
        .map(String::from)
        .or_else(|| names.iter().flatten().next().cloned());
    let priority = match payload.optional_text("event.data.priority.summary")? {
        Some(p) => Some(p),
        None => payload.optional_text("event.data.priority.name")?,
    };
    let urgency = payload.optional_text("event.data.urgency")?;
    let severity = match (priority, urgency) {
        (Some(p), Some(u)) => Some(format!("{p}/{u}")),
        (p, u) => p.or(u),
    };
    Ok(Parsed::Event(
        delivery_key,
        Box::new(IncidentEvent {
            incident_id,
            occurred_at,
            opened_at,
            state: Some(state),
            service,
            severity,
            environment: settings.environment.trim().to_string(),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_pagerduty_vector_and_rotation() {
        // PagerDuty/go-pagerduty webhookv3_test.go: this secret signs `defaultBody` so.
        let secret =
            Secret::new("lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK");
        let body = br#"{"event":{"id":"01BWDWL3NYY7LUFPZCC28QUCMK"}}"#;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes()).unwrap();
        mac.update(body);
        let good = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
        let other = Secret::new("another");
        assert!(verify_signature(std::slice::from_ref(&secret), body, &good).is_ok());
        // Rotation: any configured secret, any listed signature.
        let both = format!("v1=00ff,{good}");
        assert!(verify_signature(&[other.clone(), secret.clone()], body, &both).is_ok());
        assert!(verify_signature(std::slice::from_ref(&other), body, &good).is_err());
        assert!(verify_signature(std::slice::from_ref(&secret), b"{}", &good).is_err());
        assert!(verify_signature(std::slice::from_ref(&secret), body, "v0=abc").is_err());
        assert!(verify_signature(std::slice::from_ref(&secret), body, "").is_err());
    }
}
