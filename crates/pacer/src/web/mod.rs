//! The web dashboard at `/`: server-rendered HTML (askama templates, compiled into the
//! binary and HTML-escaped), CSS and a small script embedded with `include_str!`, charts
//! as inline SVG. Every page works without JavaScript, and every figure comes from the
//! same engine calls as the JSON API (`docs/dashboard.md`).

mod assets;
mod view;

use crate::api::error::ApiError;
use crate::api::parse;
use crate::app::Pacer;
use crate::present::{MetricsJson, metrics_json};
use crate::store::{ListQuery, StoreError};
use crate::timefmt;
use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use pacer_core::config::ATTRIBUTION_WINDOW_SECONDS;
use pacer_core::{Deployment, Incident, Scope, Timestamp, Window};
use std::collections::BTreeMap;
use view::{Chart, Row, Tile};

pub fn routes() -> Router<Pacer> {
    Router::new()
        .route("/", get(overview))
        .route("/services/{name}", get(service_page))
        .route("/teams/{name}", get(team_page))
        .route("/incidents", get(incidents_page))
        .route("/incidents/{id}/triage", post(triage))
        .route("/data-quality", get(data_quality))
        .route("/assets/{file}", get(assets::serve))
}

const DAY_MS: i64 = 86_400_000;
/// Weeks of history on the service and team pages (six months).
const TREND_WEEKS: i64 = 26;
/// Rows of recent deployments and incidents on the service and team pages.
const RECENT: u32 = 20;
/// The untriaged queue shows at most this many incidents (the API pages through more).
const QUEUE: u32 = 100;
/// A source with no event for longer than this is "quiet" (data-quality page).
const DEFAULT_QUIET_DAYS: u32 = 14;

/// An error page: the status and what to do about it, as HTML (the API's errors are JSON).
#[derive(Debug)]
pub struct WebError {
    status: StatusCode,
    message: String,
}

impl WebError {
    fn bad(message: impl Into<String>) -> Self {
        WebError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
    fn not_found(message: impl Into<String>) -> Self {
        WebError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        let status = match &e {
            ApiError::BadRequest { .. } | ApiError::Store(StoreError::Invalid(_)) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // The cause goes to the log; the page stays opaque, as the API's 500 does.
            tracing::error!(error = %e, "dashboard request failed");
            "internal error; the server log has the cause".to_string()
        } else {
            e.to_string()
        };
        WebError { status, message }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: &'static str,
    status: u16,
    reason: String,
    message: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            nav: "",
            status: self.status.as_u16(),
            reason: self
                .status
                .canonical_reason()
                .unwrap_or("error")
                .to_string(),
            message: self.message,
        };
        (self.status, page).into_response()
    }
}

type WebResult = Result<Response, WebError>;

/// The query string of a page: only known keys, empty values meaning "not set" (a GET
/// form sends every field).
struct Params(BTreeMap<String, String>);

impl Params {
    fn parse(raw: Option<&str>, known: &[&str]) -> Result<Params, WebError> {
        let mut map = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if !known.contains(&k.as_ref()) {
                return Err(WebError::bad(format!(
                    "unknown query parameter {k:?}; this page takes: {}",
                    known.join(", ")
                )));
            }
            let v = v.trim().to_string();
            if !v.is_empty() {
                map.insert(k.into_owned(), v);
            }
        }
        Ok(Params(map))
    }
    fn get(&self, key: &str) -> String {
        self.0.get(key).cloned().unwrap_or_default()
    }
}

/// The window filters every page shares: `days` and `end`.
struct WindowFilter {
    days: u32,
    /// As typed (a date `2026-03-31`, an RFC 3339 time or Unix seconds); empty: now.
    end_input: String,
    window: Window,
}

impl WindowFilter {
    fn parse(p: &Pacer, q: &Params) -> Result<WindowFilter, WebError> {
        let days = match q.0.get("days") {
            None => p.settings.metrics.default_window_days,
            Some(d) => d
                .parse::<u32>()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .ok_or_else(|| {
                    WebError::bad(format!(
                        "days={d:?} must be a whole number of days from 1 to 3650, e.g. 7, 30 or 90"
                    ))
                })?,
        };
        let end_input = q.get("end");
        let end = if end_input.is_empty() {
            timefmt::now()
        } else {
            end_time(&end_input)?
        };
        Ok(WindowFilter {
            days,
            end_input,
            window: Window::new(end, days),
        })
    }
}

/// An end date `YYYY-MM-DD` means "through the end of that day (UTC)"; a full time is
/// taken as it is.
fn end_time(input: &str) -> Result<Timestamp, WebError> {
    let is_date = input.len() == 10 && input.as_bytes()[4] == b'-' && input.as_bytes()[7] == b'-';
    if is_date {
        let midnight = timefmt::parse_rfc3339(&format!("{input}T00:00:00Z")).map_err(|_| {
            WebError::bad(format!(
                "end={input:?} is not a date; use YYYY-MM-DD, e.g. 2026-03-31"
            ))
        })?;
        return Ok(Timestamp::from_millis(midnight.millis() + DAY_MS));
    }
    timefmt::parse_flexible(input).map_err(|e| {
        WebError::bad(format!(
            "end: {e}; or send a date YYYY-MM-DD (the window then ends with that day)"
        ))
    })
}

fn date(t: Timestamp) -> String {
    timefmt::format(t).chars().take(10).collect()
}

/// `2026-03-31 14:05 UTC`.
fn minute(t: Timestamp) -> String {
    let s = timefmt::format(t);
    format!("{} {} UTC", &s[..10], &s[11..16])
}

fn window_text(w: Window) -> String {
    format!(
        "{} days: after {} until {}",
        w.days,
        minute(w.start()),
        minute(w.end)
    )
}

// ---------------------------------------------------------------------------------------
// Overview

#[derive(Template, WebTemplate)]
#[template(path = "overview.html")]
struct Overview {
    nav: &'static str,
    team: String,
    service: String,
    days: u32,
    end_input: String,
    sort: String,
    dir: String,
    teams: Vec<String>,
    services: Vec<String>,
    scope_label: String,
    window_text: String,
    window_end: String,
    api_href: String,
    tiles: Vec<Tile>,
    overall_band: Option<&'static str>,
    overall_missing: String,
    untriaged: usize,
    chaos_advisory: Option<Advisory>,
    rows: Vec<Row>,
    /// Sort links of the table headers, by column.
    /// Per column: key, label, the direction a click sorts by, `aria-sort`.
    sort_links: Vec<(String, String, &'static str, &'static str)>,
}

/// `sortdir` (`column:asc`) is what a sort button of the table submits with the filter
/// form: it wins over the form's current `sort` and `dir`, so sorting works without script.
const OVERVIEW_PARAMS: &[&str] = &["team", "service", "days", "end", "sort", "dir", "sortdir"];
const SORT_COLUMNS: [(&str, &str); 6] = [
    ("name", "Name"),
    ("deployment_frequency", "Deployment frequency"),
    ("lead_time", "Lead time (median)"),
    ("change_failure_rate", "Change failure rate"),
    ("mttr", "Time to restore (median)"),
    ("band", "Overall band"),
];

fn scope_of(team: &str, service: &str) -> Scope {
    Scope {
        service: (!service.is_empty()).then(|| service.to_string()),
        team: (!team.is_empty()).then(|| team.to_string()),
    }
}

fn scope_label(scope: &Scope) -> String {
    match (&scope.service, &scope.team) {
        (None, None) => "the whole organisation".to_string(),
        (Some(s), None) => format!("service {s}"),
        (None, Some(t)) => format!("team {t}"),
        (Some(s), Some(t)) => format!("service {s} of team {t}"),
    }
}

/// The chaos advisory of the metrics JSON, in words.
struct Advisory {
    summary: String,
    /// Per fault class: class, incidents, examples, suggested experiment.
    classes: Vec<(String, usize, String, String)>,
}

fn advisory(m: &MetricsJson) -> Option<Advisory> {
    let a = m.chaos_advisory.as_ref()?;
    let weekly: Vec<String> = a
        .weekly_percent
        .iter()
        .map(|p| format!("{p:.1} %"))
        .collect();
    Some(Advisory {
        summary: format!(
            "The change failure rate stayed above {:.1} % in each of the last {} weeks ({}). Run the experiments below, chosen by the fault classes of the incidents that deployments caused.",
            a.threshold_percent,
            a.weeks,
            weekly.join(", ")
        ),
        classes: a
            .fault_classes
            .iter()
            .map(|c| {
                (
                    c.class.clone(),
                    c.incidents,
                    c.examples.join(", "),
                    c.experiment.clone(),
                )
            })
            .collect(),
    })
}

async fn overview(State(p): State<Pacer>, RawQuery(raw): RawQuery) -> WebResult {
    let q = Params::parse(raw.as_deref(), OVERVIEW_PARAMS)?;
    let wf = WindowFilter::parse(&p, &q)?;
    let (team, service) = (q.get("team"), q.get("service"));
    let sortdir = q.get("sortdir");
    let (sort, dir_param) = match sortdir.split_once(':') {
        Some((s, d)) => (s.to_string(), d.to_string()),
        None => (q.get("sort"), q.get("dir")),
    };
    if !sort.is_empty() && !SORT_COLUMNS.iter().any(|(k, _)| *k == sort) {
        return Err(WebError::bad(format!(
            "sort={sort:?} is not a column; use one of: {}",
            SORT_COLUMNS.map(|(k, _)| k).join(", ")
        )));
    }
    let dir = match dir_param.as_str() {
        "" | "asc" => "asc",
        "desc" => "desc",
        other => {
            return Err(WebError::bad(format!("dir={other:?} must be asc or desc")));
        }
    };
    let scope = scope_of(&team, &service);
    let window = wf.window;
    let previous = Window::new(window.start(), wf.days);
    let cur = metrics_json(&p.metrics(&scope, window).await?, &p.config);
    let prev = metrics_json(&p.metrics(&scope, previous).await?, &p.config);
    let report = p.report(window).await?;
    let known = p.store.services().await?;
    let anything_recorded = !known.is_empty();
    let (team_map, _) = p.team_map().await?;

    let tiles: Vec<Tile> = view::TILE_KEYS
        .iter()
        .map(|k| view::tile(k, &cur, &prev, anything_recorded))
        .collect();
    let overall_missing = if cur.overall_band.is_some() {
        String::new()
    } else {
        let missing: Vec<&str> = tiles
            .iter()
            .filter(|t| t.key != "rework_rate" && t.band.is_none())
            .map(|t| t.label)
            .collect();
        format!(
            "no overall band: it needs a band for each of the four metrics, and these have none: {}",
            missing.join(", ")
        )
    };

    let mut rows: Vec<Row> = Vec::new();
    for m in &report.teams {
        if !team.is_empty() && m.scope.team.as_deref() != Some(team.as_str()) {
            continue;
        }
        rows.push(view::row("team", &metrics_json(m, &p.config)));
    }
    for m in &report.services {
        let of_team = team.is_empty() || m.scope.team.as_deref() == Some(team.as_str());
        let is_service = service.is_empty() || m.scope.service.as_deref() == Some(&*service);
        if of_team && is_service {
            rows.push(view::row("service", &metrics_json(m, &p.config)));
        }
    }
    let column = if sort.is_empty() { "name" } else { &sort };
    view::sort_rows(&mut rows, column, dir == "desc");

    let end_text = timefmt::format(window.end);
    let days_text = wf.days.to_string();
    let sort_links = SORT_COLUMNS
        .iter()
        .map(|(key, label)| {
            let active = *key == column;
            // The next click on the active column flips its direction.
            let next_dir = if active && dir == "asc" {
                "desc"
            } else {
                "asc"
            };
            let aria = match (active, dir) {
                (false, _) => "none",
                (true, "desc") => "descending",
                (true, _) => "ascending",
            };
            (key.to_string(), label.to_string(), next_dir, aria)
        })
        .collect();
    let page = Overview {
        nav: "overview",
        api_href: format!(
            "/api/v1/metrics?{}",
            view::query(&[
                ("team", &team),
                ("service", &service),
                ("days", &days_text),
                ("end", &end_text),
            ])
        ),
        teams: team_map.teams().into_iter().map(String::from).collect(),
        services: known.into_iter().map(|s| s.name).collect(),
        scope_label: scope_label(&scope),
        window_text: window_text(window),
        window_end: end_text,
        overall_band: cur.overall_band.map(pacer_core::Band::as_str),
        overall_missing,
        untriaged: cur.untriaged_incidents,
        chaos_advisory: advisory(&cur),
        tiles,
        rows,
        sort_links,
        team,
        service,
        days: wf.days,
        end_input: wf.end_input,
        sort: column.to_string(),
        dir: dir.to_string(),
    };
    Ok(page.into_response())
}

// ---------------------------------------------------------------------------------------
// Service and team pages

struct DeploymentRow {
    id: String,
    service: String,
    deployed_at: String,
    environment: String,
    status: String,
    counts: bool,
    sha: String,
    /// Each change and its lead time.
    changes: Vec<(String, String)>,
    /// A precomputed lead time (no change list).
    lead_time: Option<String>,
}

fn deployment_row(d: &Deployment, p: &Pacer) -> DeploymentRow {
    DeploymentRow {
        id: d.id.clone(),
        service: d.service.clone(),
        deployed_at: minute(d.deployed_at),
        environment: d.environment.clone(),
        status: d.status.as_str().to_string(),
        counts: d.status == pacer_core::DeployStatus::Success
            && p.config.production.contains(&d.environment),
        sha: d.sha.clone().unwrap_or_default(),
        changes: d
            .changes
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    view::duration(d.deployed_at.seconds_since(c.started_at)),
                )
            })
            .collect(),
        lead_time: d.lead_time_seconds.map(view::duration),
    }
}

struct IncidentRow {
    id: String,
    service: String,
    severity: String,
    opened_at: String,
    duration: String,
    triage: String,
    production: bool,
}

fn triage_text(i: &Incident) -> String {
    match (i.caused_by_deploy, &i.deployment_id) {
        (None, _) => "untriaged".to_string(),
        (Some(true), Some(d)) => format!("caused by deployment {d}"),
        (Some(true), None) => "caused by a deployment (attributed by time)".to_string(),
        (Some(false), _) => "not caused by a deployment".to_string(),
    }
}

fn incident_row(i: &Incident, p: &Pacer) -> IncidentRow {
    IncidentRow {
        id: i.id.clone(),
        service: i.service.clone().unwrap_or_else(|| "(none)".to_string()),
        severity: i.severity.clone().unwrap_or_default(),
        opened_at: minute(i.opened_at),
        duration: match i.resolved_at {
            Some(r) => view::duration(r.seconds_since(i.opened_at)),
            None => "still open".to_string(),
        },
        triage: triage_text(i),
        production: p.config.production.contains(&i.environment),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "scope.html")]
struct ScopePage {
    nav: &'static str,
    kind: &'static str,
    name: String,
    /// For a service: its team; for a team: its services.
    related: Vec<(String, String)>,
    overview_href: String,
    weeks_text: String,
    charts: Vec<Chart>,
    chart_height: u32,
    chart_width: u32,
    deployments: Vec<DeploymentRow>,
    incidents: Vec<IncidentRow>,
}

async fn weekly(p: &Pacer, scope: &Scope, end: Timestamp) -> Result<Vec<Chart>, WebError> {
    let mut weeks = Vec::with_capacity(TREND_WEEKS as usize);
    for k in (0..TREND_WEEKS).rev() {
        let week_end = Timestamp::from_millis(end.millis() - k * 7 * DAY_MS);
        let m = p.metrics(scope, Window::new(week_end, 7)).await?;
        weeks.push((
            format!("week ending {}", date(week_end)),
            metrics_json(&m, &p.config),
        ));
    }
    Ok(view::TILE_KEYS
        .iter()
        .map(|k| view::chart(k, &weeks))
        .collect())
}

async fn scope_page(p: &Pacer, kind: &'static str, name: String, raw: Option<&str>) -> WebResult {
    let q = Params::parse(raw, &["end"])?;
    let end_input = q.get("end");
    let end = if end_input.is_empty() {
        timefmt::now()
    } else {
        end_time(&end_input)?
    };
    let (teams, service_names) = p.team_map().await?;
    let (scope, services, related) = if kind == "service" {
        let known = service_names.contains(&name) || p.settings.teams.contains_key(&name);
        if !known {
            return Err(WebError::not_found(format!(
                "no service named {name:?} has sent an event; the overview lists every service"
            )));
        }
        let team = teams.team_of(&name).map(String::from);
        let related = team
            .map(|t| {
                vec![(
                    format!("/teams/{}", view::path_segment(&t)),
                    format!("team {t}"),
                )]
            })
            .unwrap_or_default();
        (Scope::service(&name), vec![name.clone()], related)
    } else {
        let services: Vec<String> = teams
            .services_of(&name)
            .into_iter()
            .map(String::from)
            .collect();
        if services.is_empty() {
            return Err(WebError::not_found(format!(
                "no team named {name:?} owns a service; the overview lists every team"
            )));
        }
        let related = services
            .iter()
            .map(|s| (format!("/services/{}", view::path_segment(s)), s.clone()))
            .collect();
        (Scope::team(&name), services, related)
    };
    let charts = weekly(p, &scope, end).await?;
    let list = ListQuery {
        service: (kind == "service").then(|| name.clone()),
        services: (kind == "team").then_some(services),
        limit: RECENT,
        ..ListQuery::default()
    };
    let deployments = p.store.list_deployments(&list).await?;
    let incidents = p.store.list_incidents(&list).await?;
    let overview_query = if kind == "service" {
        view::query(&[("service", &name), ("end", &end_input)])
    } else {
        view::query(&[("team", &name), ("end", &end_input)])
    };
    let page = ScopePage {
        nav: "",
        kind,
        related,
        overview_href: format!("/?{overview_query}"),
        weeks_text: format!(
            "{TREND_WEEKS} weeks ending {}; each bar is one 7-day window computed like GET /api/v1/metrics?days=7",
            minute(end)
        ),
        charts,
        chart_height: view::CHART_HEIGHT,
        chart_width: view::BAR_WIDTH * TREND_WEEKS as u32,
        deployments: deployments.iter().map(|d| deployment_row(d, p)).collect(),
        incidents: incidents.iter().map(|i| incident_row(i, p)).collect(),
        name,
    };
    Ok(page.into_response())
}

async fn service_page(
    State(p): State<Pacer>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> WebResult {
    scope_page(&p, "service", name, raw.as_deref()).await
}

async fn team_page(
    State(p): State<Pacer>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> WebResult {
    scope_page(&p, "team", name, raw.as_deref()).await
}

// ---------------------------------------------------------------------------------------
// Incidents: the untriaged queue and the triage form

struct QueueItem {
    incident: IncidentRow,
    form_id: String,
    candidates: Vec<DeploymentRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    nav: &'static str,
    triaged: String,
    items: Vec<QueueItem>,
    more: bool,
    fault_classes: Vec<String>,
    takes_note: bool,
    /// The server has `[auth.tokens]`: the form asks for a token (its name is the actor).
    needs_token: bool,
}

/// The fault class vocabulary of the triage API, in its order.
fn fault_classes() -> Vec<String> {
    pacer_core::FaultClass::ALL
        .iter()
        .map(|c| c.as_str().to_string())
        .collect()
}

async fn incidents_page(State(p): State<Pacer>, RawQuery(raw): RawQuery) -> WebResult {
    let q = Params::parse(raw.as_deref(), &["triaged"])?;
    let list = ListQuery {
        untriaged: Some(true),
        limit: QUEUE + 1,
        ..ListQuery::default()
    };
    let mut incidents = p.store.list_incidents(&list).await?;
    let more = incidents.len() > QUEUE as usize;
    incidents.truncate(QUEUE as usize);
    let mut items = Vec::new();
    for i in incidents
        .iter()
        .filter(|i| p.config.production.contains(&i.environment))
    {
        // The same candidates as GET /api/v1/incidents/{id}: successful production
        // deployments of its service (any when it names none) in the hour before it opened.
        let candidates = p
            .store
            .deployments_between(
                i.service.as_deref(),
                &p.production_keys(),
                i.opened_at.minus_seconds(ATTRIBUTION_WINDOW_SECONDS),
                i.opened_at,
            )
            .await?;
        items.push(QueueItem {
            form_id: format!("triage-{}", items.len()),
            incident: incident_row(i, &p),
            candidates: candidates.iter().map(|d| deployment_row(d, &p)).collect(),
        });
    }
    Ok(IncidentsPage {
        nav: "incidents",
        triaged: q.get("triaged"),
        items,
        more,
        fault_classes: fault_classes(),
        takes_note: true,
        needs_token: !p.settings.auth.is_open(),
    }
    .into_response())
}

/// `POST /incidents/{id}/triage` from the queue's form: the same triage as
/// `PATCH /api/v1/incidents/{id}` (the form becomes that JSON body and goes through the
/// same parser and checks), then back to the queue with 303.
async fn triage(
    State(p): State<Pacer>,
    Path(id): Path<String>,
    caller: Option<axum::Extension<crate::settings::Caller>>,
    body: Bytes,
) -> WebResult {
    let mut json = serde_json::Map::new();
    let mut caused: Option<bool> = None;
    let mut token = String::new();
    for (k, v) in form_urlencoded::parse(&body) {
        let v = v.trim().to_string();
        match k.as_ref() {
            "token" => token = v,
            "deployment_id" if !v.is_empty() => {
                caused = Some(true);
                json.insert("deployment_id".into(), v.into());
            }
            "caused_by_deploy" => match v.as_str() {
                "true" => caused = Some(true),
                "false" => {
                    caused = Some(false);
                    // Not caused by a deployment: no deployment is to blame.
                    json.insert("deployment_id".into(), serde_json::Value::Null);
                }
                other => {
                    return Err(WebError::bad(format!(
                        "caused_by_deploy={other:?} must be true or false"
                    )));
                }
            },
            "fault_class" | "note" if !v.is_empty() => {
                json.insert(k.into_owned(), v.into());
            }
            _ => {}
        }
    }
    // Who triages comes first, as in the API: a refused request learns nothing more.
    let actor = triage_actor(&p.settings.auth, &token, caller.as_ref().map(|c| &c.0))?;
    let Some(caused) = caused else {
        return Err(WebError::bad(
            "choose a triage: a candidate deployment, \"caused by a deployment\" or \"not caused by a deployment\"",
        ));
    };
    json.insert("caused_by_deploy".into(), caused.into());
    let bytes = serde_json::Value::Object(json).to_string().into_bytes();
    let mut update = parse::triage(&bytes, id.clone())?;
    if p.store.incident(&id).await?.is_none() {
        return Err(WebError::not_found(format!(
            "no incident with id {id:?}; the queue at /incidents lists the untriaged ones"
        )));
    }
    if let Some(Some(dep)) = &update.deployment_id
        && p.store.deployment(dep).await?.is_none()
    {
        return Err(WebError::bad(format!(
            "deployment_id {dep:?} is not a recorded deployment; pick one of the incident's candidates"
        )));
    }
    update.triage_by = Some(pacer_core::TriageBy {
        actor,
        at: timefmt::now(),
    });
    let (incident, _) = p.store.record_incident(update).await?;
    p.telemetry.ingested("dashboard", "triage", 1);
    tracing::info!(id = %incident.id, caused_by_deploy = ?incident.caused_by_deploy, "triage from the dashboard");
    Ok(Redirect::to(&format!("/incidents?{}", view::query(&[("triaged", &id)]))).into_response())
}

/// The actor of a triage, as `PATCH /api/v1/incidents/{id}` names it: `anonymous` when the
/// server has no `[auth.tokens]`, else the name of the token typed into the form (or, when
/// the field is empty, of the token the browser sent, e.g. after a Basic prompt). The token
/// needs the triage scope (docs/security.md).
fn triage_actor(
    auth: &crate::settings::AuthSettings,
    token: &str,
    sent: Option<&crate::settings::Caller>,
) -> Result<String, WebError> {
    if auth.is_open() {
        return Ok(crate::settings::ANONYMOUS.to_string());
    }
    let refuse = |status, message: String| {
        tracing::warn!(error = %message, "dashboard triage refused");
        WebError { status, message }
    };
    let caller = if token.is_empty() {
        sent.cloned().ok_or_else(|| {
            refuse(
                StatusCode::UNAUTHORIZED,
                "triage needs an API token: type a token of the server's [auth.tokens] into the form's token field".into(),
            )
        })?
    } else {
        auth.authenticate(token).ok_or_else(|| {
            refuse(
                StatusCode::UNAUTHORIZED,
                "the token matches no [auth.tokens] entry: check it, or ask whoever runs the server for one".into(),
            )
        })?
    };
    let allowed = auth
        .tokens
        .get(&caller.name)
        .is_some_and(|t| t.allows(crate::settings::TokenScope::Triage));
    if !allowed {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!(
                "the token {:?} may not triage: it needs the triage scope (or admin); ask whoever runs the server for one",
                caller.name
            ),
        ));
    }
    Ok(caller.name)
}

// ---------------------------------------------------------------------------------------
// Data quality

struct QuietSource {
    source: String,
    last: String,
    age: String,
    quiet: bool,
}

struct MissingFigure {
    scope: String,
    href: String,
    metric: &'static str,
    reason: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "quality.html")]
struct QualityPage {
    nav: &'static str,
    days: u32,
    end_input: String,
    quiet_days: u32,
    window_text: String,
    production_deployments: usize,
    with_changes: usize,
    change_share: String,
    incidents_total: usize,
    without_service: usize,
    untriaged: usize,
    sources: Vec<QuietSource>,
    missing: Vec<MissingFigure>,
}

async fn data_quality(State(p): State<Pacer>, RawQuery(raw): RawQuery) -> WebResult {
    let q = Params::parse(raw.as_deref(), &["days", "end", "quiet_days"])?;
    let wf = WindowFilter::parse(&p, &q)?;
    let quiet_days = match q.0.get("quiet_days") {
        None => DEFAULT_QUIET_DAYS,
        Some(d) => d.parse::<u32>().ok().filter(|d| *d >= 1).ok_or_else(|| {
            WebError::bad(format!(
                "quiet_days={d:?} must be a whole number of days, at least 1"
            ))
        })?,
    };
    let window = wf.window;
    let keys = p.production_keys();
    // The organisation's window load holds every successful production deployment of the
    // window with its changes, and every production incident that touches it.
    let events = p.store.load_window(None, &keys, window).await?;
    let prod: Vec<&Deployment> = events
        .deployments
        .iter()
        .filter(|d| {
            window.contains(d.deployed_at)
                && d.status == pacer_core::DeployStatus::Success
                && p.config.production.contains(&d.environment)
        })
        .collect();
    let with_changes = prod
        .iter()
        .filter(|d| !d.changes.is_empty() || d.lead_time_seconds.is_some())
        .count();
    let incidents: Vec<&Incident> = events
        .incidents
        .iter()
        .filter(|i| window.contains(i.opened_at) && p.config.production.contains(&i.environment))
        .collect();
    let without_service = incidents.iter().filter(|i| i.service.is_none()).count();
    let report = p.report(window).await?;

    // Quiet sources: the latest production deployment of each service, the latest incident.
    let now = timefmt::now();
    let quiet_after = f64::from(quiet_days) * 86_400.0;
    let mut sources = Vec::new();
    for s in p.store.services().await? {
        let last = p.store.latest_deployment(&s.name, &keys).await?;
        sources.push(match last {
            Some(d) => {
                let age = now.seconds_since(d.deployed_at);
                QuietSource {
                    source: format!("deployments of {}", s.name),
                    last: minute(d.deployed_at),
                    age: view::duration(age),
                    quiet: age > quiet_after,
                }
            }
            None => QuietSource {
                source: format!("deployments of {}", s.name),
                last: "no production deployment yet".to_string(),
                age: String::new(),
                quiet: true,
            },
        });
    }
    let latest_incident = p
        .store
        .list_incidents(&ListQuery {
            limit: 1,
            ..ListQuery::default()
        })
        .await?;
    sources.push(match latest_incident.first() {
        Some(i) => {
            let age = now.seconds_since(i.opened_at);
            QuietSource {
                source: "incident feed".to_string(),
                last: minute(i.opened_at),
                age: view::duration(age),
                quiet: age > quiet_after,
            }
        }
        None => QuietSource {
            source: "incident feed".to_string(),
            last: "no incident received yet: MTTR cannot be computed".to_string(),
            age: String::new(),
            quiet: true,
        },
    });

    let anything_recorded = sources.len() > 1;
    let mut missing = Vec::new();
    let org = metrics_json(&report.organisation, &p.config);
    let scopes = std::iter::once(("the organisation".to_string(), "/".to_string(), org)).chain(
        report.teams.iter().chain(&report.services).map(|m| {
            let j = metrics_json(m, &p.config);
            let (label, href) = match (&m.scope.service, &m.scope.team) {
                (Some(s), _) => (
                    format!("service {s}"),
                    format!("/services/{}", view::path_segment(s)),
                ),
                (None, Some(t)) => (
                    format!("team {t}"),
                    format!("/teams/{}", view::path_segment(t)),
                ),
                (None, None) => ("the organisation".to_string(), "/".to_string()),
            };
            (label, href, j)
        }),
    );
    for (scope, href, m) in scopes {
        for key in view::TILE_KEYS {
            if let Some(reason) = view::missing_reason(&m, key, anything_recorded) {
                missing.push(MissingFigure {
                    scope: scope.clone(),
                    href: href.clone(),
                    metric: view::chart(key, &[]).label,
                    reason,
                });
            }
        }
    }

    Ok(QualityPage {
        nav: "data-quality",
        days: wf.days,
        end_input: wf.end_input,
        quiet_days,
        window_text: window_text(window),
        production_deployments: prod.len(),
        with_changes,
        change_share: if prod.is_empty() {
            "no production deployment in this window".to_string()
        } else {
            format!("{:.1} %", with_changes as f64 / prod.len() as f64 * 100.0)
        },
        incidents_total: incidents.len(),
        without_service,
        untriaged: report.organisation.untriaged_incidents,
        sources,
        missing,
    }
    .into_response())
}
