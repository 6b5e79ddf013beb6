//! The Pushgateway push protocol: `PUT|POST|DELETE /metrics/job/<job>{/<label>/<value>}`.
//!
//! The handbook recipe's `curl` steps work unchanged against these routes; what the pushed
//! gauges mean is read by [`crate::pushgateway`].

use super::error::ApiError;
use super::input::read_body;
use crate::app::Pacer;
use crate::pushgateway::{self, IncidentPush};
use crate::store::{LeadTimeSet, Recorded};
use crate::timefmt;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use pacer_core::{Deployment, IncidentUpdate, Timestamp};
use serde_json::{Value, json};

pub fn routes() -> Router<Pacer> {
    Router::new().route("/metrics/{*grouping}", put(push).post(push).delete(delete))
}

/// The grouping key of a push URL, `job` first.
fn grouping_key(uri: &Uri) -> Result<Vec<(String, String)>, ApiError> {
    let path = uri.path().strip_prefix("/metrics/").unwrap_or_default();
    promtext::parse_grouping_key(path)
        .map_err(|e| ApiError::bad("invalid_grouping_key", format!("{e} (in {})", uri.path())))
}

fn grouping_json(grouping: &[(String, String)]) -> Value {
    Value::Object(
        grouping
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

async fn delete(uri: Uri) -> Result<Response, ApiError> {
    let grouping = grouping_key(&uri)?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({
            "grouping_key": grouping_json(&grouping),
            "deleted": false,
            "message": "Pacer keeps every recorded deployment and incident: deleting a push group \
                        removes nothing (use the API to inspect events)",
        })),
    )
        .into_response())
}

/// The incident update a push stands for, given what is stored: resolved at push time
/// (or when it was first resolved, for a re-push), opened `duration` earlier.
fn incident_update(
    push: &IncidentPush,
    stored: Option<&pacer_core::Incident>,
    now: Timestamp,
) -> Result<IncidentUpdate, ApiError> {
    let mut update = IncidentUpdate {
        id: push.id.clone(),
        service: push.service.clone().map(Some),
        environment: Some(push.environment.clone()),
        caused_by_deploy: push.caused_by_deploy.map(Some),
        ..IncidentUpdate::default()
    };
    match (push.duration_seconds, stored) {
        (Some(duration), stored) => {
            let resolved = stored.and_then(|s| s.resolved_at).unwrap_or(now);
            update.resolved_at = Some(Some(resolved));
            update.opened_at = Some(Timestamp::from_millis(
                resolved.millis() - (duration * 1000.0).round() as i64,
            ));
        }
        (None, Some(_)) => {}
        (None, None) => {
            return Err(ApiError::bad(
                "invalid_sample",
                format!(
                    "incident {:?}: {} without {}: Pacer cannot tell when an unknown incident \
                     opened; push both gauges in one body, as the recipe does",
                    push.id,
                    pushgateway::INCIDENT_CAUSED_BY_DEPLOY,
                    pushgateway::INCIDENT_DURATION
                ),
            ));
        }
    }
    Ok(update)
}

/// The old-format id (before schema version 9) under which `d` is stored already, if it
/// is: only a deployment at or before the latest time such an id can have is looked up.
async fn stored_under_legacy_id(p: &Pacer, d: &Deployment) -> Result<Option<String>, ApiError> {
    match p.store.legacy_push_ids_until() {
        Some(until) if d.deployed_at <= until => {
            let legacy =
                pushgateway::legacy_deployment_id(&d.service, &d.environment, d.deployed_at);
            Ok(p.store.deployment(&legacy).await?.map(|_| legacy))
        }
        _ => Ok(None),
    }
}

async fn push(
    State(p): State<Pacer>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let grouping = grouping_key(&uri)?;
    if let Some(kind) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        && kind.contains("protobuf")
    {
        return Err(ApiError::bad(
            "unsupported_format",
            format!(
                "content type {kind:?} (protobuf) is not accepted: push Prometheus text format, \
                 e.g. `curl --data-binary @- URL` with a text body"
            ),
        ));
    }
    let bytes = read_body(body, p.settings.server.body_limit_bytes).await?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        ApiError::bad(
            "invalid_exposition",
            format!(
                "body is not UTF-8 text (invalid byte at offset {}): push Prometheus text format",
                e.valid_up_to()
            ),
        )
    })?;
    let exposition = promtext::parse(text).map_err(|e| {
        ApiError::bad(
            "invalid_exposition",
            format!("body is not valid Prometheus text format: {e}"),
        )
    })?;
    let now = timefmt::now();
    let push = pushgateway::interpret(&exposition, &grouping, now)
        .map_err(|e| ApiError::bad("invalid_sample", e.0))?;

    // Everything that can refuse the push as a whole is checked before the first write.
    let mut incident_updates = Vec::with_capacity(push.incidents.len());
    for incident in &push.incidents {
        let stored = p.store.incident(&incident.id).await?;
        incident_updates.push(incident_update(incident, stored.as_ref(), now)?);
    }

    let mut deployments = Vec::new();
    for d in &push.deployments {
        let (id, recorded) = match stored_under_legacy_id(&p, d).await? {
            Some(legacy) => (legacy, Recorded::AlreadyRecorded),
            None => (d.id.clone(), p.store.record_deployment(d).await?),
        };
        if recorded == Recorded::Created {
            p.telemetry.ingested("pushgateway", "deployment", 1);
        }
        tracing::debug!(%id, service = %d.service, ?recorded, "pushed deployment");
        deployments.push(json!({
            "id": id,
            "service": d.service,
            "environment": d.environment,
            "deployed_at": timefmt::format(d.deployed_at),
            "already_recorded": recorded == Recorded::AlreadyRecorded,
        }));
    }

    let mut refusals: Vec<String> = push
        .refused_lead_times
        .iter()
        .map(|r| {
            format!(
                "line {} ({} of {} to {}): {}",
                r.line,
                pushgateway::LEAD_TIME,
                r.service,
                r.environment,
                r.message
            )
        })
        .collect();
    let mut lead_times = Vec::new();
    for lt in &push.lead_times {
        let latest = p
            .store
            .latest_deployment(&lt.service, &[lt.environment.to_lowercase()])
            .await?;
        let Some(deployment) = latest else {
            refusals.push(format!(
                "line {} ({}): no deployment of {:?} to {:?} is recorded yet, so this lead time \
                 belongs to none; push {} for it first (the recipe's first step)",
                lt.line,
                pushgateway::LEAD_TIME,
                lt.service,
                lt.environment,
                pushgateway::DEPLOYMENT_TIMESTAMP
            ));
            continue;
        };
        match p.store.set_lead_time(&deployment.id, lt.seconds).await? {
            LeadTimeSet::Set => {
                p.telemetry.ingested("pushgateway", "lead_time", 1);
                lead_times.push(json!({"deployment_id": deployment.id, "seconds": lt.seconds}));
            }
            LeadTimeSet::CarriesChanges => refusals.push(format!(
                "line {} ({}): deployment {} lists its changes, whose commit times give its \
                 lead time; a pushed lead time would count twice",
                lt.line,
                pushgateway::LEAD_TIME,
                deployment.id
            )),
            LeadTimeSet::UnknownDeployment => refusals.push(format!(
                "line {} ({}): deployment {} disappeared while the lead time was set; push again",
                lt.line,
                pushgateway::LEAD_TIME,
                deployment.id
            )),
        }
    }

    let mut incidents = Vec::new();
    for update in incident_updates {
        let (incident, recorded) = p.store.record_incident(update).await?;
        p.telemetry.ingested("pushgateway", "incident", 1);
        tracing::debug!(id = %incident.id, ?recorded, "pushed incident");
        incidents.push(json!({
            "id": incident.id,
            "opened_at": timefmt::format(incident.opened_at),
            "resolved_at": incident.resolved_at.map(timefmt::format),
            "caused_by_deploy": incident.caused_by_deploy,
            "created": recorded == Recorded::Created,
        }));
    }

    if !refusals.is_empty() {
        let recorded = if deployments.is_empty() && incidents.is_empty() {
            String::new()
        } else {
            format!(
                " (recorded anyway: {} deployment(s), {} incident(s))",
                deployments.len(),
                incidents.len()
            )
        };
        return Err(ApiError::bad(
            "invalid_lead_time",
            format!("{}{recorded}", refusals.join("; ")),
        ));
    }
    let ignored: Vec<&String> = push.ignored_families.iter().collect();
    Ok(axum::Json(json!({
        "grouping_key": grouping_json(&grouping),
        "deployments": deployments,
        "lead_times": lead_times,
        "incidents": incidents,
        "ignored_families": ignored,
    }))
    .into_response())
}
