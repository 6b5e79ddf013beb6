use super::error::ApiError;
use super::input::{QueryParams, read_body};
use super::parse;
use crate::app::Pacer;
use crate::exposition;
use crate::present::{
    TriageEntryJson, deployment_json, incident_json, metrics_json, triage_entry_json,
};
use crate::settings::Caller;
use crate::store::{ListQuery, Recorded};
use crate::timefmt;
use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use pacer_core::config::ATTRIBUTION_WINDOW_SECONDS;
use pacer_core::{Scope, TriageBy, Window};
use serde_json::json;

pub fn routes() -> Router<Pacer> {
    Router::new()
        .route("/healthz", get(liveness))
        .route("/readyz", get(readiness))
        .route(
            "/api/v1/deployments",
            get(list_deployments).post(post_deployment),
        )
        .route("/api/v1/deployments/{id}", get(get_deployment))
        .route("/api/v1/incidents", get(list_incidents).post(post_incident))
        .route(
            "/api/v1/incidents/{id}",
            get(get_incident).patch(patch_incident),
        )
        .route("/api/v1/incidents/{id}/triage", get(get_triage_history))
        .route("/api/v1/metrics", get(get_metrics))
        .route("/api/v1/services", get(list_services))
        .route("/api/v1/report", get(get_report))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/openapi.json", get(openapi))
        // Exactly `/metrics`: pushes go to `/metrics/job/...` (see `push.rs`).
        .route("/metrics", get(prometheus_metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

type ApiResult = Result<Response, ApiError>;

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no endpoint {method} {}; the API is described at /api/v1/openapi.json",
        uri.path()
    ))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{method} is not allowed on {}; the API is described at /api/v1/openapi.json",
        uri.path()
    ))
}

async fn liveness() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readiness(State(p): State<Pacer>) -> ApiResult {
    p.store
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(format!("database is not answering: {e}")))?;
    Ok(Json(json!({"status": "ready"})).into_response())
}

async fn openapi() -> Json<serde_json::Value> {
    Json(super::openapi::document())
}

async fn post_deployment(State(p): State<Pacer>, body: Body) -> ApiResult {
    let bytes = read_body(body, p.settings.server.body_limit_bytes).await?;
    let deployment = parse::deployment(&bytes, timefmt::now())?;
    let recorded = p.store.record_deployment(&deployment).await?;
    let status = match recorded {
        Recorded::Created => {
            // A re-delivered id is not a new event.
            p.telemetry.ingested("api", "deployment", 1);
            StatusCode::CREATED
        }
        Recorded::AlreadyRecorded => StatusCode::OK,
    };
    tracing::debug!(id = %deployment.id, service = %deployment.service, ?recorded, "deployment");
    Ok((status, Json(json!({"id": deployment.id}))).into_response())
}

async fn get_deployment(State(p): State<Pacer>, Path(id): Path<String>) -> ApiResult {
    let d = p
        .store
        .deployment(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no deployment with id {id:?}")))?;
    Ok(Json(deployment_json(&d, &p.config)).into_response())
}

const LIST_PARAMS: &[&str] = &[
    "service",
    "team",
    "environment",
    "status",
    "from",
    "to",
    "limit",
    "offset",
];
const INCIDENT_LIST_PARAMS: &[&str] = &[
    "service",
    "team",
    "environment",
    "from",
    "to",
    "untriaged",
    "limit",
    "offset",
];
pub const DEFAULT_PAGE: u64 = 100;
pub const MAX_PAGE: u64 = 1000;

async fn list_query(p: &Pacer, q: &QueryParams, incidents: bool) -> Result<ListQuery, ApiError> {
    let services = match q.text("team") {
        None => None,
        Some(team) => {
            let (teams, _) = p.team_map().await?;
            Some(
                teams
                    .services_of(&team)
                    .into_iter()
                    .map(String::from)
                    .collect(),
            )
        }
    };
    let status = if incidents {
        None
    } else {
        q.text("status")
            .map(|s| match s.to_lowercase().as_str() {
                v @ ("success" | "failure") => Ok(v.to_string()),
                _ => Err(ApiError::invalid(format!(
                    "query parameter status={s:?} must be success or failure"
                ))),
            })
            .transpose()?
    };
    let (from, to) = (q.time("from")?, q.time("to")?);
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::invalid(
            "query parameter from is after to; swap them",
        ));
    }
    Ok(ListQuery {
        service: q.text("service"),
        services,
        environment: q.text("environment"),
        status,
        from,
        to,
        untriaged: if incidents {
            q.boolean("untriaged")?
        } else {
            None
        },
        // One extra row tells whether there is a next page.
        limit: q.integer("limit", 1, MAX_PAGE)?.unwrap_or(DEFAULT_PAGE) as u32 + 1,
        offset: q.integer("offset", 0, i64::MAX as u64)?.unwrap_or(0),
    })
}

fn page<T: serde::Serialize>(key: &str, mut items: Vec<T>, lq: &ListQuery) -> Response {
    let limit = (lq.limit - 1) as usize;
    let more = items.len() > limit;
    items.truncate(limit);
    let next = more.then(|| lq.offset + limit as u64);
    Json(json!({key: items, "limit": limit, "offset": lq.offset, "next_offset": next}))
        .into_response()
}

async fn list_deployments(State(p): State<Pacer>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = QueryParams::parse(raw.as_deref(), LIST_PARAMS)?;
    let lq = list_query(&p, &q, false).await?;
    let items = p.store.list_deployments(&lq).await?;
    let items: Vec<_> = items
        .iter()
        .map(|d| deployment_json(d, &p.config))
        .collect();
    Ok(page("deployments", items, &lq))
}

async fn list_incidents(State(p): State<Pacer>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = QueryParams::parse(raw.as_deref(), INCIDENT_LIST_PARAMS)?;
    let lq = list_query(&p, &q, true).await?;
    let incidents = p.store.list_incidents(&lq).await?;
    let mut items = Vec::with_capacity(incidents.len());
    for incident in &incidents {
        let mut item = incident_json(incident, &p.config);
        if incident.caused_by_deploy.is_none() && item.production {
            let candidates = candidate_deployments(&p, incident).await?;
            item.candidate_deployment_ids = Some(candidates.into_iter().map(|d| d.id).collect());
        }
        items.push(item);
    }
    Ok(page("incidents", items, &lq))
}

async fn post_incident(State(p): State<Pacer>, body: Body) -> ApiResult {
    let bytes = read_body(body, p.settings.server.body_limit_bytes).await?;
    let update = parse::incident(&bytes)?;
    let sent_triage = update.carries_triage();
    let (incident, recorded) = p.store.record_incident(update).await?;
    // Created or updated: either way a new state of the incident was recorded.
    p.telemetry.ingested("api", "incident", 1);
    let status = match recorded {
        Recorded::Created => StatusCode::CREATED,
        Recorded::AlreadyRecorded => StatusCode::OK,
    };
    tracing::debug!(id = %incident.id, ?recorded, "incident");
    let mut answer = json!({"id": incident.id, "incident": incident_json(&incident, &p.config)});
    // POST never marks a human triage, so a human-triaged result means the triage fields
    // sent here were ignored: say so rather than answer as if they had been applied.
    if sent_triage && let Some(by) = &incident.triaged_by {
        answer["triage_kept"] = json!(format!(
            "caused_by_deploy and deployment_id were not applied: {by} triaged this incident by hand, and a person's triage decision is kept over an incident tool's update; change it with PATCH /api/v1/incidents/{}",
            incident.id
        ));
    }
    Ok((status, Json(answer)).into_response())
}

async fn get_incident(State(p): State<Pacer>, Path(id): Path<String>) -> ApiResult {
    let incident = p
        .store
        .incident(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no incident with id {id:?}")))?;
    incident_detail(&p, &incident).await
}

/// An incident with its candidate deployments and its triage log.
async fn incident_detail(p: &Pacer, incident: &pacer_core::Incident) -> ApiResult {
    let candidates = candidates(p, incident).await?;
    let history = triage_history_json(p, &incident.id).await?;
    Ok(Json(json!({
        "incident": incident_json(incident, &p.config),
        "candidate_deployments": candidates,
        "triage_history": history,
    }))
    .into_response())
}

async fn triage_history_json(p: &Pacer, id: &str) -> Result<Vec<TriageEntryJson>, ApiError> {
    Ok(p.store
        .triage_history(id)
        .await?
        .iter()
        .map(triage_entry_json)
        .collect())
}

async fn get_triage_history(State(p): State<Pacer>, Path(id): Path<String>) -> ApiResult {
    if p.store.incident(&id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no incident with id {id:?}")));
    }
    let history = triage_history_json(&p, &id).await?;
    Ok(Json(json!({"incident_id": id, "triage_history": history})).into_response())
}

/// Successful production deployments of the incident's service (any service when it
/// names none) within one hour before it opened, newest first.
async fn candidate_deployments(
    p: &Pacer,
    incident: &pacer_core::Incident,
) -> Result<Vec<pacer_core::Deployment>, ApiError> {
    let from = incident.opened_at.minus_seconds(ATTRIBUTION_WINDOW_SECONDS);
    Ok(p.store
        .deployments_between(
            incident.service.as_deref(),
            &p.production_keys(),
            from,
            incident.opened_at,
        )
        .await?)
}

async fn candidates(
    p: &Pacer,
    incident: &pacer_core::Incident,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let list = candidate_deployments(p, incident).await?;
    Ok(list
        .iter()
        .map(|d| serde_json::to_value(deployment_json(d, &p.config)).unwrap_or_default())
        .collect())
}

async fn patch_incident(
    State(p): State<Pacer>,
    Path(id): Path<String>,
    caller: Option<Extension<Caller>>,
    body: Body,
) -> Response {
    // The token (with the triage scope) was checked by `auth::require` before the body or
    // the incident was looked at: a refused request learns nothing about either.
    let actor = triage_actor(caller.as_ref().map(|c| &c.0));
    triage(p, id, actor, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn triage(p: Pacer, id: String, actor: String, body: Body) -> ApiResult {
    let bytes = read_body(body, p.settings.server.body_limit_bytes).await?;
    let mut update = parse::triage(&bytes, id.clone())?;
    if p.store.incident(&id).await?.is_none() {
        return Err(ApiError::NotFound(format!(
            "no incident with id {id:?}; record it first with POST /api/v1/incidents"
        )));
    }
    if let Some(Some(dep)) = &update.deployment_id
        && p.store.deployment(dep).await?.is_none()
    {
        return Err(ApiError::invalid(format!(
            "deployment_id {dep:?} is not a recorded deployment; GET /api/v1/incidents/{id} lists the candidates"
        )));
    }
    update.triage_by = Some(TriageBy {
        actor: actor.clone(),
        at: timefmt::now(),
    });
    let (incident, _) = p.store.record_incident(update).await?;
    p.telemetry.ingested("api", "triage", 1);
    tracing::info!(
        id = %incident.id,
        %actor,
        caused_by_deploy = ?incident.caused_by_deploy,
        fault_class = ?incident.fault_class,
        "triage"
    );
    incident_detail(&p, &incident).await
}

/// The name a triage is recorded under: the `[auth.tokens]` entry whose token the request
/// carries, or `anonymous` in open mode (no tokens configured).
fn triage_actor(caller: Option<&Caller>) -> String {
    caller.map_or_else(
        || crate::settings::ANONYMOUS.to_string(),
        |c| c.name.clone(),
    )
}

/// The DORA figures of every scope over the default window ending now, then Pacer's own
/// metrics, in Prometheus text format 0.0.4. Computed per scrape: Prometheus scrapes
/// every 15 s to 1 min, and a report is one window load.
async fn prometheus_metrics(State(p): State<Pacer>) -> ApiResult {
    let window = Window::new(timefmt::now(), p.settings.metrics.default_window_days);
    let report = p.report(window).await?;
    let mut body = String::new();
    exposition::encode_report(&report, &mut body);
    p.telemetry.encode(&mut body);
    Ok(([(header::CONTENT_TYPE, exposition::CONTENT_TYPE)], body).into_response())
}

const METRICS_PARAMS: &[&str] = &["service", "team", "days", "end"];
pub const MAX_WINDOW_DAYS: u64 = 3650;

fn window(p: &Pacer, q: &QueryParams) -> Result<Window, ApiError> {
    let days = q
        .integer("days", 1, MAX_WINDOW_DAYS)?
        .map_or(p.settings.metrics.default_window_days, |d| d as u32);
    let end = q.time("end")?.unwrap_or_else(timefmt::now);
    Ok(Window::new(end, days))
}

async fn get_metrics(State(p): State<Pacer>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = QueryParams::parse(raw.as_deref(), METRICS_PARAMS)?;
    let window = window(&p, &q)?;
    let scope = Scope {
        service: q.text("service"),
        team: q.text("team"),
    };
    let metrics = p.metrics(&scope, window).await?;
    Ok(Json(metrics_json(&metrics, &p.config)).into_response())
}

async fn list_services(State(p): State<Pacer>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = QueryParams::parse(raw.as_deref(), &["days", "end"])?;
    let window = window(&p, &q)?;
    let report = p.report(window).await?;
    let envs = p.production_keys();
    let mut services = Vec::new();
    for m in &report.services {
        let name = m.scope.service.clone().unwrap_or_default();
        let last = p.store.latest_deployment(&name, &envs).await?;
        services.push(json!({
            "name": name,
            "team": m.scope.team,
            "last_production_deployment": last.map(|d| json!({
                "id": d.id, "deployed_at": timefmt::format(d.deployed_at), "sha": d.sha,
            })),
            "metrics": metrics_json(m, &p.config),
        }));
    }
    Ok(Json(json!({"services": services})).into_response())
}

async fn get_report(State(p): State<Pacer>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = QueryParams::parse(raw.as_deref(), &["days", "end"])?;
    let report = p.report(window(&p, &q)?).await?;
    // Streamed in chunks: the body of a 10,000-service report is 10.6 MB. Encoding our own
    // figures cannot fail (serde_json writes non-finite numbers as null); were it to, the
    // client would see a truncated body, which no JSON parser accepts.
    let chunks = crate::present::ReportJsonChunks::new(report, p.config.clone());
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(futures_util::stream::iter(chunks)),
    )
        .into_response())
}
