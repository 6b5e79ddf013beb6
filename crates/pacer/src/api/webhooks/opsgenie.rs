//! `POST /webhooks/opsgenie`: OpsGenie outgoing Webhook integration alerts as incidents,
//! authenticated by a configured custom header or basic auth; OpsGenie signs nothing
//! (docs/integrations/opsgenie.md).

use super::{
    IncidentDeliveries, Outcome, Payload, WebhookError, WebhookResult, basic_auth_matches, finish,
    finish_incidents, header, json_body, lookup, token_matches,
};
use crate::api::error::ApiError;
use crate::api::input::read_body;
use crate::app::Pacer;
use crate::settings::OpsgenieWebhook;
use crate::store::{IncidentEvent, IncidentState};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use pacer_core::Timestamp;
use serde_json::Value;

const SOURCE: &str = "opsgenie";

/// Where an alert's service comes from (`webhooks.opsgenie.service_from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServiceSource {
    /// A tag `<key>:<name>` (or `<key>=<name>`).
    Tag(String),
    Entity,
    Alias,
}

pub(crate) fn service_source(text: &str) -> Result<ServiceSource, String> {
    match text.trim() {
        "entity" => Ok(ServiceSource::Entity),
        "alias" => Ok(ServiceSource::Alias),
        t => match t.strip_prefix("tag:").map(str::trim) {
            Some(key) if !key.is_empty() => Ok(ServiceSource::Tag(key.to_string())),
            _ => Err(format!(
                "{text:?} is not a service source; use \"tag:<key>\" (a tag like \
                 service:checkout), \"entity\" or \"alias\""
            )),
        },
    }
}

pub(super) async fn receive(
    State(p): State<Pacer>,
    headers: HeaderMap,
    body: Body,
) -> WebhookResult {
    let settings = &p.settings.webhooks.opsgenie;
    authenticate(settings, &headers)?;
    let bytes = read_body(body, p.settings.server.body_limit_bytes).await?;
    let value = json_body(&bytes, "OpsGenie webhook payload")?;
    match event(settings, &value)? {
        Some((key, event)) => {
            let deliveries = IncidentDeliveries {
                events: vec![(key, event)],
                ignored: Vec::new(),
            };
            finish_incidents(&p, SOURCE, deliveries).await
        }
        None => {
            let action = value["action"].as_str().unwrap_or_default();
            let reason = format!(
                "action {action:?} does not change an incident: Pacer records Create, \
                 Acknowledge, UnAcknowledge, AddNote, UpdatePriority and Close"
            );
            finish(&p, SOURCE, Outcome::Ignore(reason)).await
        }
    }
}

/// The configured header or basic auth (either may be set; a request passing either is
/// accepted); neither configured: 403 naming the settings.
fn authenticate(settings: &OpsgenieWebhook, headers: &HeaderMap) -> Result<(), WebhookError> {
    let basic = settings.username.as_deref().zip(settings.password.as_ref());
    if settings.token.is_none() && basic.is_none() {
        return Err(WebhookError::NotConfigured(
            "the OpsGenie receiver is disabled: set webhooks.opsgenie.token (the value of the \
             custom header webhooks.opsgenie.header the integration sends), or \
             webhooks.opsgenie.username and webhooks.opsgenie.password for basic auth \
             (PACER_WEBHOOKS__OPSGENIE__TOKEN in the environment); Pacer never accepts \
             unauthenticated deliveries"
                .into(),
        ));
    }
    let header_ok = settings.token.as_ref().is_some_and(|token| {
        header(headers, settings.header.trim()).is_some_and(|given| token_matches(token, given))
    });
    let basic_ok = basic.is_some_and(|(user, pass)| basic_auth_matches(headers, user, pass));
    if header_ok || basic_ok {
        return Ok(());
    }
    let header_name = settings.header.trim();
    Err(WebhookError::Unauthorized(match (&settings.token, basic) {
        (Some(_), None) => format!(
            "{header_name} is missing or does not match webhooks.opsgenie.token: add it as a \
             custom header of the OpsGenie Webhook integration"
        ),
        (None, _) => "basic auth credentials are missing or do not match \
                      webhooks.opsgenie.username and password"
            .to_string(),
        (Some(_), Some(_)) => format!(
            "neither {header_name} (webhooks.opsgenie.token) nor basic auth \
             (webhooks.opsgenie.username and password) matches"
        ),
    }))
}

/// An epoch integer (`createdAt` milliseconds, `updatedAt` nanoseconds): JSON integers are
/// read as integers (`updatedAt` exceeds 2^53, so an f64 would round it), digit strings too.
fn epoch(payload: &Payload<'_>, path: &str) -> Result<Option<i64>, ApiError> {
    match payload.get(path) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_i64().filter(|v| *v >= 0).map(Some).ok_or_else(|| {
            ApiError::invalid(format!(
                "{path} is {n}; OpsGenie sends a non-negative integer (epoch time)"
            ))
        }),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 0)
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "{path} is {s:?}; OpsGenie sends a non-negative integer (epoch time)"
                ))
            }),
        Some(other) => Err(ApiError::invalid(format!(
            "{path} must be an integer epoch time, got {other}"
        ))),
    }
}

/// `P1`..`P5`, or the integer 1..5 of older deliveries.
fn priority(payload: &Payload<'_>) -> Result<Option<String>, ApiError> {
    let n = match payload.get("alert.priority") {
        None => return Ok(None),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => {
            let t = s.trim();
            t.strip_prefix(['P', 'p']).unwrap_or(t).parse::<u64>().ok()
        }
        Some(_) => None,
    };
    match n {
        Some(n @ 1..=5) => Ok(Some(format!("P{n}"))),
        _ => Err(ApiError::invalid(format!(
            "alert.priority is {}; OpsGenie priorities are \"P1\" to \"P5\" (or 1 to 5)",
            payload.get("alert.priority").cloned().unwrap_or_default()
        ))),
    }
}

fn service(settings: &OpsgenieWebhook, payload: &Payload<'_>) -> Result<Option<String>, ApiError> {
    // Validated at start-up; a bad value here would have stopped the server.
    let source = service_source(&settings.service_from).map_err(ApiError::invalid)?;
    let name = match source {
        ServiceSource::Entity => payload.optional_text("alert.entity")?,
        ServiceSource::Alias => payload.optional_text("alert.alias")?,
        ServiceSource::Tag(key) => payload
            .get("alert.tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find_map(|tag| {
                let (k, v) = tag.split_once([':', '='])?;
                (k.trim().eq_ignore_ascii_case(&key) && !v.trim().is_empty())
                    .then(|| v.trim().to_string())
            }),
    };
    Ok(name.map(|n| {
        lookup(&settings.services, &n)
            .map(String::from)
            .unwrap_or(n)
    }))
}

/// The event of a delivery with its dedupe key; `None` for actions that change nothing.
fn event(
    settings: &OpsgenieWebhook,
    value: &Value,
) -> Result<Option<(String, IncidentEvent)>, ApiError> {
    let payload = Payload::new(value, "an OpsGenie webhook");
    let action = payload.text("action")?;
    let state = match action.as_str() {
        "Create" | "Acknowledge" | "UnAcknowledge" => Some(IncidentState::Open),
        "Close" => None, // set below, at the close time
        "AddNote" | "UpdatePriority" => None,
        _ => return Ok(None),
    };
    let alert_id = payload.text("alert.alertId")?;
    let created_ms =
        epoch(&payload, "alert.createdAt")?.ok_or_else(|| payload.missing("alert.createdAt"))?;
    let updated_ns = epoch(&payload, "alert.updatedAt")?;
    // The payload has no closedAt: a Close's updatedAt is when it closed.
    let occurred_at = match updated_ns {
        Some(ns) => Timestamp::from_millis(ns / 1_000_000),
        None if action == "Create" => Timestamp::from_millis(created_ms),
        None => return Err(payload.missing("alert.updatedAt")),
    };
    let state = if action == "Close" {
        Some(IncidentState::Resolved {
            at: occurred_at,
            exact: true,
        })
    } else {
        state
    };
    // OpsGenie sends Create again when a team is added to the alert: one Create per alert.
    let key = match (action.as_str(), updated_ns) {
        ("Create", _) | (_, None) => format!("{action}:{alert_id}"),
        (_, Some(ns)) => format!("{action}:{alert_id}:{ns}"),
    };
    Ok(Some((
        key,
        IncidentEvent {
            incident_id: format!("opsgenie-{alert_id}"),
            occurred_at,
            opened_at: Some(Timestamp::from_millis(created_ms)),
            state,
            service: service(settings, &payload)?,
            severity: priority(&payload)?,
            environment: settings.environment.trim().to_string(),
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nanoseconds_stay_exact() {
        // 1420452374669001603 is above 2^53: as an f64 it would read ...001536.
        let v: Value =
            serde_json::from_str(r#"{"alert":{"updatedAt":1420452374669001603}}"#).unwrap();
        let p = Payload::new(&v, "x");
        assert_eq!(
            epoch(&p, "alert.updatedAt").unwrap(),
            Some(1_420_452_374_669_001_603)
        );
        let v = json!({"alert": {"updatedAt": 1.5}});
        assert!(epoch(&Payload::new(&v, "x"), "alert.updatedAt").is_err());
    }

    #[test]
    fn priorities() {
        for (given, want) in [(json!("P1"), "P1"), (json!(3), "P3"), (json!("p5"), "P5")] {
            let v = json!({"alert": {"priority": given}});
            assert_eq!(
                priority(&Payload::new(&v, "x")).unwrap().as_deref(),
                Some(want)
            );
        }
        for bad in [json!("P9"), json!(0), json!("urgent")] {
            let v = json!({"alert": {"priority": bad}});
            assert!(priority(&Payload::new(&v, "x")).is_err());
        }
    }

    #[test]
    fn service_sources() {
        assert_eq!(
            service_source("tag:service"),
            Ok(ServiceSource::Tag("service".into()))
        );
        assert_eq!(service_source("entity"), Ok(ServiceSource::Entity));
        assert!(service_source("tag:").is_err());
        assert!(service_source("team").is_err());
    }
}
