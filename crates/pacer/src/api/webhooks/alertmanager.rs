//! `POST /webhooks/alertmanager`: an Alertmanager `webhook_configs` receiver. Each alert of
//! a notification that matches the configured matchers is an incident: firing opens it at
//! `startsAt`, resolved closes it at `endsAt` (docs/integrations/alertmanager.md). This is
//! how degraded service (an SLO burning) counts, not only outages.

use super::{
    IncidentDeliveries, Payload, WebhookError, WebhookResult, basic_auth_matches, bearer,
    finish_incidents, json_body, lookup, token_matches,
};
use crate::api::error::ApiError;
use crate::api::input::read_body;
use crate::app::Pacer;
use crate::settings::AlertmanagerWebhook;
use crate::store::{IncidentEvent, IncidentState};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use regex::Regex;
use serde_json::{Map, Value};

const SOURCE: &str = "alertmanager";

/// One Alertmanager matcher: `name="value"`, `name!="value"`, `name=~"regex"`,
/// `name!~"regex"`. Regexes are anchored at both ends, as in Alertmanager.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    name: String,
    op: Op,
    value: String,
    regex: Option<Regex>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    NotEq,
    Re,
    NotRe,
}

pub(crate) fn parse_matcher(text: &str) -> Result<Matcher, String> {
    let t = text.trim();
    let name_len = t
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(t.len(), |(i, _)| i);
    let name = &t[..name_len];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "{text:?} does not start with a label name; write e.g. severity=\"page\" or \
             alertname=~\".*SLOBurn.*\""
        ));
    }
    let rest = t[name_len..].trim_start();
    let (op, rest) = [
        ("=~", Op::Re),
        ("!~", Op::NotRe),
        ("!=", Op::NotEq),
        ("=", Op::Eq),
    ]
    .into_iter()
    .find_map(|(sym, op)| rest.strip_prefix(sym).map(|r| (op, r)))
    .ok_or_else(|| format!("{text:?} has no operator after {name:?}; use =, !=, =~ or !~"))?;
    let rest = rest.trim();
    let value = match rest.strip_prefix('"') {
        Some(quoted) => {
            let inner = quoted
                .strip_suffix('"')
                .ok_or_else(|| format!("{text:?}: the value's closing quote is missing"))?;
            unescape(inner).ok_or_else(|| {
                format!("{text:?}: the value has an unknown escape; use \\\" \\\\ or \\n")
            })?
        }
        None => rest.to_string(),
    };
    let regex = match op {
        Op::Re | Op::NotRe => Some(
            Regex::new(&format!("^(?:{value})$"))
                .map_err(|e| format!("{text:?}: the regex does not compile ({e})"))?,
        ),
        Op::Eq | Op::NotEq => None,
    };
    Ok(Matcher {
        name: name.to_string(),
        op,
        value,
        regex,
    })
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            _ => return None,
        }
    }
    Some(out)
}

impl Matcher {
    /// As Alertmanager: a missing label has the empty value.
    fn matches(&self, labels: &Map<String, Value>) -> bool {
        let value = labels.get(&self.name).and_then(Value::as_str).unwrap_or("");
        match (self.op, &self.regex) {
            (Op::Eq, _) => value == self.value,
            (Op::NotEq, _) => value != self.value,
            (Op::Re, Some(re)) => re.is_match(value),
            (Op::NotRe, Some(re)) => !re.is_match(value),
            (Op::Re | Op::NotRe, None) => false,
        }
    }
}

pub(super) async fn receive(
    State(p): State<Pacer>,
    headers: HeaderMap,
    body: Body,
) -> WebhookResult {
    let settings = &p.settings.webhooks.alertmanager;
    authenticate(settings, &headers)?;
    let bytes = read_body(body, p.settings.server.body_limit_bytes).await?;
    let value = json_body(&bytes, "Alertmanager webhook payload")?;
    let mut deliveries = alerts(settings, &value)?;
    // A fingerprint is a label set, so an alert that resolves and fires again later keeps
    // it: the later episode gets its start time in its id, so it never reopens (and
    // rewrites) the first one's stored restore time.
    for (_, event) in &mut deliveries.events {
        if let Some(stored) = p.store.incident(&event.incident_id).await?
            && Some(stored.opened_at) != event.opened_at
        {
            let start = event.opened_at.map_or(0, |t| t.millis());
            event.incident_id = format!("{}-{start}", event.incident_id);
        }
    }
    finish_incidents(&p, SOURCE, deliveries).await
}

/// `http_config.authorization` (bearer) or `basic_auth`; neither configured: 403.
fn authenticate(settings: &AlertmanagerWebhook, headers: &HeaderMap) -> Result<(), WebhookError> {
    let basic = settings.username.as_deref().zip(settings.password.as_ref());
    if settings.token.is_none() && basic.is_none() {
        return Err(WebhookError::NotConfigured(
            "the Alertmanager receiver is disabled: set webhooks.alertmanager.token (the \
             receiver's http_config.authorization.credentials), or webhooks.alertmanager.username \
             and password (its http_config.basic_auth); PACER_WEBHOOKS__ALERTMANAGER__TOKEN in \
             the environment. Pacer never accepts unauthenticated deliveries"
                .into(),
        ));
    }
    let bearer_ok = settings
        .token
        .as_ref()
        .is_some_and(|token| bearer(headers).is_some_and(|given| token_matches(token, given)));
    let basic_ok = basic.is_some_and(|(user, pass)| basic_auth_matches(headers, user, pass));
    if bearer_ok || basic_ok {
        return Ok(());
    }
    Err(WebhookError::Unauthorized(
        "Authorization is missing or does not match: set the receiver's http_config \
         authorization.credentials to webhooks.alertmanager.token (or basic_auth to \
         webhooks.alertmanager.username and password)"
            .into(),
    ))
}

/// The incident events of a notification, and what was skipped and why. Every alert is
/// checked before anything is written: one bad alert refuses the whole notification.
fn alerts(settings: &AlertmanagerWebhook, value: &Value) -> Result<IncidentDeliveries, ApiError> {
    let matchers = settings
        .matchers
        .iter()
        .map(|m| parse_matcher(m).map_err(ApiError::invalid))
        .collect::<Result<Vec<_>, _>>()?;
    let list = value
        .get("alerts")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ApiError::bad(
                "missing_field",
                "alerts is missing or not an array; an Alertmanager webhook (version 4) \
                 carries it",
            )
        })?;
    let mut deliveries = IncidentDeliveries {
        events: Vec::new(),
        ignored: Vec::new(),
    };
    let empty = Map::new();
    for (i, alert) in list.iter().enumerate() {
        let payload = Payload::new(alert, "an Alertmanager alert");
        let at = |field: &str| format!("alerts[{i}].{field}");
        let field_err = |e: ApiError| match e {
            ApiError::BadRequest { code, message } => ApiError::BadRequest {
                code,
                message: format!("alerts[{i}].{message}"),
            },
            other => other,
        };
        let labels = alert
            .get("labels")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let fingerprint = payload.text("fingerprint").map_err(field_err)?;
        let alertname = labels
            .get("alertname")
            .and_then(Value::as_str)
            .unwrap_or("(no alertname)");
        if !matchers.iter().all(|m| m.matches(labels)) {
            deliveries.ignored.push(format!(
                "alert {alertname} ({fingerprint}) matches none of webhooks.alertmanager.matchers"
            ));
            continue;
        }
        let status = payload.text("status").map_err(field_err)?;
        let starts_at = payload.time("startsAt").map_err(field_err)?;
        let ends_text = payload.optional_text("endsAt").map_err(field_err)?;
        let (state, occurred_at) = match status.as_str() {
            // endsAt of a firing alert is 0001-01-01 (or a projected end): not a time to keep.
            "firing" => (IncidentState::Open, starts_at),
            "resolved" => {
                let ends_at = payload.time("endsAt").map_err(field_err)?;
                (
                    IncidentState::Resolved {
                        at: ends_at,
                        exact: true,
                    },
                    ends_at,
                )
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "{} is {other:?}; Alertmanager alerts are firing or resolved",
                    at("status")
                )));
            }
        };
        let label = |name: &str| {
            labels
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
        };
        let service = label(settings.service_label.trim()).map(|name| {
            lookup(&settings.services, &name)
                .map(String::from)
                .unwrap_or(name)
        });
        // Repeated notifications (repeat_interval) send the same alert again: one key per
        // state of each alert.
        let key = format!(
            "{fingerprint}:{status}:{}:{}",
            starts_at.millis(),
            ends_text
                .filter(|_| status == "resolved")
                .unwrap_or_default()
        );
        deliveries.events.push((
            key,
            IncidentEvent {
                incident_id: format!("alertmanager-{fingerprint}"),
                occurred_at,
                opened_at: Some(starts_at),
                state: Some(state),
                service,
                severity: label("severity"),
                environment: settings.environment.trim().to_string(),
            },
        ));
    }
    if list.is_empty() {
        deliveries
            .ignored
            .push("the notification carries no alerts".into());
    }
    Ok(deliveries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn matchers_follow_alertmanager() {
        let l = labels(json!({"alertname": "CheckoutSLOBurnFast", "severity": "page"}));
        assert!(
            parse_matcher(r#"alertname=~".*SLOBurn.*""#)
                .unwrap()
                .matches(&l)
        );
        // Anchored: a regex must match the whole value.
        assert!(
            !parse_matcher(r#"alertname=~"SLOBurn""#)
                .unwrap()
                .matches(&l)
        );
        assert!(parse_matcher(r#"severity="page""#).unwrap().matches(&l));
        assert!(parse_matcher("severity = page").unwrap().matches(&l));
        assert!(!parse_matcher(r#"severity!="page""#).unwrap().matches(&l));
        assert!(parse_matcher(r#"team!~"a|b""#).unwrap().matches(&l));
        // A missing label is the empty value.
        assert!(parse_matcher(r#"team="""#).unwrap().matches(&l));
        assert!(
            parse_matcher(r#"x="a\"b""#)
                .unwrap()
                .matches(&labels(json!({"x": "a\"b"})))
        );
    }

    #[test]
    fn bad_matchers_say_why() {
        assert!(parse_matcher("=x").unwrap_err().contains("label name"));
        assert!(
            parse_matcher("severity page")
                .unwrap_err()
                .contains("operator")
        );
        assert!(parse_matcher(r#"a=~"(""#).unwrap_err().contains("regex"));
        assert!(parse_matcher(r#"a="x"#).unwrap_err().contains("quote"));
    }
}
