//! The OpenAPI 3.1 document of API v1, served at `/api/v1/openapi.json` and `/openapi.json`.
//!
//! Request bodies are parsed by hand in [`super::parse`], so their shapes are described here
//! by documentation-only types; responses use the real types of [`crate::present`]. The
//! functions annotated with `#[utoipa::path]` below are never called: they only carry the
//! description of the route of the same name in `routes.rs`.

use crate::present::{DeploymentJson, IncidentJson, MetricsJson, ReportJson, TriageEntryJson};
use std::borrow::Cow;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The OpenAPI document, as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|e| {
        // Serializing plain data cannot fail; keep the endpoint answering if it ever does.
        serde_json::json!({
            "openapi": "3.1.0",
            "info": {"title": "Pacer API", "version": "1", "description": format!("document unavailable: {e}")},
            "paths": {}
        })
    })
}

const API_DESCRIPTION: &str = "\
Self-hosted DORA metrics: record production deployments and incidents, read exact metrics.

* Timestamps in: RFC 3339 strings or integer Unix seconds. Timestamps out: RFC 3339, UTC.
* Durations out: seconds (numbers). A metric with no samples is `null`, never 0.
* Errors: a 4xx status with `{\"error\": \"<what is wrong, and how to fix it>\", \"code\": \"...\"}`; \
a malformed request never gets a 5xx. Unknown body fields and unknown query parameters are refused \
with 400, so a typo never silently becomes a default.
* Any other path answers 404 (`not_found`); a known path with another method answers 405 \
(`method_not_allowed`), both with the error body.
* Bands are the lower-case words `elite`, `high`, `medium`, `low`, or `null`. A band drawn from fewer \
than 5 samples is flagged with `low_confidence: true`.
* Tokens (docs/security.md): when `[auth]` configures tokens, every write needs one with the \
`ingest` scope (`PATCH` of an incident: `triage`), and reads need one when \
`auth.require_for_reads` is set: `Authorization: Bearer <token>`, or Basic auth with the token \
as the password (what Pushgateway clients send). A missing or unknown token answers 401 \
(`unauthorized`), a token without the scope 403 (`forbidden`). `/healthz`, `/readyz` and \
`/webhooks/*` (each vendor's own signature or token) need none.
* Limits (`[limits]`): past the per-client rate, 429 (`rate_limited`, with `Retry-After`); past \
the concurrent requests the server takes, 503 (`overloaded`, with `Retry-After`); a request \
that runs past its time, 408 (`request_timeout`). Any route may answer these.";

#[derive(OpenApi)]
#[openapi(
    info(title = "Pacer API", version = "1", description = API_DESCRIPTION),
    paths(
        liveness,
        readiness,
        post_deployment,
        list_deployments,
        get_deployment,
        post_incident,
        list_incidents,
        get_incident,
        patch_incident,
        get_triage_history,
        get_metrics,
        list_services,
        get_report,
        openapi_v1,
        openapi_root,
        prometheus_metrics,
        push_put,
        push_post,
        push_delete,
        webhook_github,
        webhook_gitlab,
        webhook_flux,
        webhook_argocd,
        webhook_pagerduty,
        webhook_opsgenie,
        webhook_alertmanager,
    ),
    modifiers(&TokenSchemes),
    components(schemas(ErrorBody, Timestamp, Band)),
    tags(
        (name = "events", description = "Recording and listing deployments and incidents"),
        (name = "metrics", description = "The four DORA metrics, per service, team or organisation"),
        (name = "operations", description = "Health checks and this document"),
        (name = "prometheus", description = "Prometheus scrapes, and the Pushgateway protocol of the handbook recipe's CI steps"),
        (name = "webhooks", description = "Vendor deliveries: each checks the vendor's own signature or token (docs/integrations/)"),
    )
)]
struct ApiDoc;

// ---------------------------------------------------------------------------------------------
// Shared schemas
// ---------------------------------------------------------------------------------------------

/// A point in time: an RFC 3339 string (any offset, optional fraction) or integer Unix seconds.
pub struct Timestamp;

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .description(Some(
                "A point in time: an RFC 3339 string (any offset, optional fraction of a second) or \
                 integer Unix seconds (whole seconds, not milliseconds). Times before 1970 are refused.",
            ))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                    .description(Some("RFC 3339, e.g. 2026-03-15T14:23:00Z or 2026-03-15T16:23:00+02:00"))
                    .examples(["2026-03-15T14:23:00Z"]),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(0))
                    .description(Some("Unix seconds"))
                    .examples([1_773_584_580]),
            )
            .into()
    }
}

impl ToSchema for Timestamp {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Timestamp")
    }
}

/// A performance band (survey cluster of the State of DevOps reports), best to worst.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code, reason = "documentation only")]
pub enum Band {
    Elite,
    High,
    Medium,
    Low,
}

/// How an incident becomes "caused by a deployment" for the change failure rate: `explicit`
/// counts only incidents triaged `caused_by_deploy = true`; `window` also counts untriaged
/// incidents opened within 1 hour after a production deployment of the same service (an explicit
/// `false` always wins).
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code, reason = "documentation only")]
pub enum AttributionPolicy {
    Explicit,
    Window,
}

/// What kind of fault an incident was, from a fixed vocabulary (docs/triage.md): it picks
/// the experiment the chaos advisory suggests.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code, reason = "documentation only")]
pub enum FaultClass {
    BadConfiguration,
    CodeDefect,
    DependencyFailure,
    Capacity,
    BadMigration,
    Infrastructure,
    Other,
}

/// The outcome of a deployment. Accepted case-insensitively.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code, reason = "documentation only")]
pub enum DeployStatus {
    Success,
    Failure,
}

/// Every 4xx and 5xx answer has this body.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub struct ErrorBody {
    /// What is wrong, and how to fix it.
    #[schema(examples("service is required: name the deployed service, e.g. \"payments-api\""))]
    error: String,
    /// A stable machine-readable code: `bad_json`, `bad_body`, `missing_field`, `invalid_field`,
    /// `unknown_field`, `unknown_parameter`, `duplicate_parameter` (400); `not_found` (404);
    /// `method_not_allowed` (405); `body_too_large` (413); `internal` (500); `unavailable` (503).
    #[schema(examples("missing_field"))]
    code: String,
}

// ---------------------------------------------------------------------------------------------
// Request bodies (parsed by `super::parse`)
// ---------------------------------------------------------------------------------------------

/// One release of one service to one environment. Only `success` deployments to a production
/// environment count in the metrics; others are stored and shown, never counted. Send either
/// `changes` or `lead_time_seconds`, not both. Text fields are trimmed, must not be empty and are
/// at most 1024 bytes without control characters. `null` is the same as leaving a field out.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "documentation only")]
pub struct DeploymentRequest {
    /// The deployment's id. When absent the server makes one (`dep_...`) and returns it. A
    /// deployment keeps its first recording: re-sending a recorded id changes nothing.
    #[schema(min_length = 1, max_length = 1024, examples("deploy-2026-03-15-1"))]
    id: Option<String>,
    /// The deployed service.
    #[schema(min_length = 1, max_length = 1024, examples("payments-api"))]
    service: String,
    /// The target environment. `production`, `prod` and `prd` (case-insensitive) are
    /// production by default; the list is configurable.
    #[schema(min_length = 1, max_length = 1024, examples("production"))]
    environment: String,
    /// Default `success`.
    #[schema(default = "success")]
    status: Option<DeployStatus>,
    /// When it was deployed. Default: the time the server receives it.
    deployed_at: Option<Timestamp>,
    /// The deployed revision.
    #[schema(min_length = 1, max_length = 1024, examples("9f1c2ab"))]
    sha: Option<String>,
    #[schema(min_length = 1, max_length = 1024, examples("acme/payments"))]
    repo: Option<String>,
    /// The team owning the service (configuration may map the service to a team instead; the
    /// configured team wins).
    #[schema(min_length = 1, max_length = 1024, examples("payments"))]
    team: Option<String>,
    /// The changes this deployment carries (at most 10000). A change counts once per service: in
    /// the first successful production deployment of that service that carries it.
    #[schema(max_items = 10000)]
    changes: Option<Vec<ChangeRequest>>,
    /// A precomputed lead time standing for one change, instead of `changes`. At most 10 years:
    /// a larger value is usually the Unix time itself (an empty first-commit timestamp).
    #[schema(minimum = 0, maximum = 315576000, examples(5400))]
    lead_time_seconds: Option<f64>,
    /// The sender marks it as a hotfix: it counts as unplanned in the rework rate. Default
    /// `false`.
    #[schema(default = false)]
    hotfix: Option<bool>,
    /// The sender marks it as a rollback: it counts as unplanned in the rework rate. Default
    /// `false`. A redeploy of a sha the service ran before is found without it.
    #[schema(default = false)]
    rollback: Option<bool>,
    /// The branch it was built from; `metrics.rework.unplanned_branches` (e.g. `hotfix/*`)
    /// makes it unplanned. A leading `refs/heads/` is ignored.
    #[schema(min_length = 1, max_length = 1024, examples("hotfix/PAY-311"))]
    branch: Option<String>,
    /// Labels of the change it ships (at most 100); any of
    /// `metrics.rework.unplanned_labels` (case-insensitive) makes it unplanned.
    #[schema(max_items = 100, examples(json!(["hotfix"])))]
    labels: Option<Vec<String>>,
}

/// A unit of work reaching production in a deployment.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "documentation only")]
pub struct ChangeRequest {
    /// The change's commit sha or pull request reference.
    #[schema(min_length = 1, max_length = 1024, examples("acme/payments#412"))]
    id: String,
    /// When the change started: for a merged branch the committer time of the first commit of
    /// the branch relative to its base (`git log --format=%ct`), never the time the PR was
    /// opened; for a commit pushed straight to the main branch, its commit time. A start after
    /// the deployment (clock skew) counts as 0 seconds.
    started_at: Timestamp,
}

/// One delivery of an incident from an incident feed. Posting an existing id updates it: the
/// newest state of each field wins, a field left out keeps its stored value, and an explicit
/// `null` clears it (`resolved_at: null` reopens the incident). Text fields are trimmed, must not
/// be empty and are at most 1024 bytes without control characters.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "documentation only")]
pub struct IncidentRequest {
    /// The incident's id in your incident tool.
    #[schema(min_length = 1, max_length = 1024, examples("PD-Q1W2E3"))]
    id: String,
    /// The affected service. Unknown (`null`) incidents count only in the organisation-wide scope,
    /// and their attribution to a deployment is organisation-wide by time.
    #[schema(min_length = 1, max_length = 1024, examples("payments-api"))]
    service: Option<String>,
    /// Default `production` for a new incident; `null` is the same as leaving it out.
    #[schema(min_length = 1, max_length = 1024, default = "production")]
    environment: Option<String>,
    /// When it was opened. Required for a new incident; an update of a known id may leave it
    /// out (the stored value is kept).
    opened_at: Option<Timestamp>,
    /// When service was restored; must not be before `opened_at`.
    resolved_at: Option<Timestamp>,
    #[schema(min_length = 1, max_length = 1024, examples("SEV2"))]
    severity: Option<String>,
    /// Triage: whether a deployment caused it (`null`: not triaged yet).
    caused_by_deploy: Option<bool>,
    /// The deployment it is attributed to. Without it, the latest successful production
    /// deployment of the incident's service at or before `opened_at` is used.
    #[schema(min_length = 1, max_length = 1024)]
    deployment_id: Option<String>,
}

/// Triage of a recorded incident: at least one field. A field left out keeps its stored
/// value; `null` clears it. Each change is written to the incident's triage log with the
/// API token's name (`anonymous` when the server has no `[auth.tokens]`). Once triaged here,
/// an incident tool's later update never changes these fields.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
#[allow(dead_code, reason = "documentation only")]
pub struct TriageRequest {
    /// Whether a deployment caused the incident; `null` marks it untriaged again.
    caused_by_deploy: Option<bool>,
    /// A recorded deployment to attribute the incident to (see the incident's
    /// `candidate_deployments`); `null` clears the attribution.
    #[schema(min_length = 1, max_length = 1024)]
    deployment_id: Option<String>,
    /// The kind of fault; an unknown name is refused with the vocabulary.
    fault_class: Option<FaultClass>,
    /// Free text (line breaks allowed), trimmed, at most 2000 characters.
    #[schema(min_length = 1, max_length = 2000)]
    note: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Response bodies not in `present`
// ---------------------------------------------------------------------------------------------

#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub struct Liveness {
    #[schema(examples("ok"))]
    status: String,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub struct Readiness {
    #[schema(examples("ready"))]
    status: String,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub struct DeploymentRecorded {
    /// The deployment's id (the one sent, or the one the server made).
    #[schema(examples("dep_5f0c1e9a7b3d42c18e6a0b9d2c4f7e13"))]
    id: String,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub struct IncidentRecorded {
    id: String,
    /// The incident's state after this delivery.
    incident: IncidentJson,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub struct IncidentDetail {
    incident: IncidentJson,
    /// Successful production deployments of the incident's service (of any service when it names
    /// none) within 1 hour before it opened, newest first: what to triage it against.
    candidate_deployments: Vec<DeploymentJson>,
    /// Every triage made by hand, oldest first: who, when, and each field's old and new value.
    triage_history: Vec<TriageEntryJson>,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub struct TriageHistory {
    incident_id: String,
    /// Oldest first.
    triage_history: Vec<TriageEntryJson>,
}

/// One page of deployments, newest first.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub struct DeploymentPage {
    deployments: Vec<DeploymentJson>,
    limit: u64,
    offset: u64,
    /// The `offset` of the next page; `null` on the last page.
    #[schema(required = true)]
    next_offset: Option<u64>,
}

/// One page of incidents, newest opened first.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub struct IncidentPage {
    incidents: Vec<IncidentJson>,
    limit: u64,
    offset: u64,
    /// The `offset` of the next page; `null` on the last page.
    #[schema(required = true)]
    next_offset: Option<u64>,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub struct ServiceList {
    /// Every known service (from deployments and configuration), by name.
    services: Vec<ServiceSummary>,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub struct ServiceSummary {
    name: String,
    #[schema(required = true)]
    team: Option<String>,
    /// The latest successful production deployment, of all time (not only in the window).
    #[schema(required = true)]
    last_production_deployment: Option<LastDeployment>,
    /// The service's metrics over the window.
    metrics: MetricsJson,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub struct LastDeployment {
    id: String,
    #[schema(format = DateTime)]
    deployed_at: String,
    #[schema(required = true)]
    sha: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Query parameters
// ---------------------------------------------------------------------------------------------

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documentation only")]
pub struct DeploymentListQuery {
    /// Only this service.
    service: Option<String>,
    /// Only the services of this team.
    team: Option<String>,
    /// Only this environment (case-insensitive).
    environment: Option<String>,
    /// Only `success` or `failure` deployments (case-insensitive).
    #[param(inline)]
    status: Option<DeployStatus>,
    /// Deployed at or after this time: RFC 3339 or integer Unix seconds.
    #[param(value_type = Option<String>, example = "2026-03-01T00:00:00Z")]
    from: Option<String>,
    /// Deployed at or before this time: RFC 3339 or integer Unix seconds; not before `from`.
    #[param(value_type = Option<String>, example = "1773584580")]
    to: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u64>,
    /// Rows to skip (the previous page's `next_offset`).
    #[param(minimum = 0, default = 0)]
    offset: Option<u64>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documentation only")]
pub struct IncidentListQuery {
    /// Only this service.
    service: Option<String>,
    /// Only the services of this team.
    team: Option<String>,
    /// Only this environment (case-insensitive).
    environment: Option<String>,
    /// Opened at or after this time: RFC 3339 or integer Unix seconds.
    #[param(value_type = Option<String>, example = "2026-03-01T00:00:00Z")]
    from: Option<String>,
    /// Opened at or before this time: RFC 3339 or integer Unix seconds; not before `from`.
    #[param(value_type = Option<String>, example = "1773584580")]
    to: Option<String>,
    /// `true`: only incidents whose `caused_by_deploy` is unset; `false`: only triaged ones
    /// (`1`/`0` and `yes`/`no` are accepted too).
    untriaged: Option<bool>,
    /// Page size.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u64>,
    /// Rows to skip (the previous page's `next_offset`).
    #[param(minimum = 0, default = 0)]
    offset: Option<u64>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documentation only")]
pub struct MetricsQuery {
    /// One service. With `team` too, the service must belong to that team (else nothing matches).
    service: Option<String>,
    /// One team: all its services. Neither `service` nor `team`: the whole organisation.
    team: Option<String>,
    /// Window length in days (default: the server's `metrics.default_window_days`, 30 unless
    /// configured). An event belongs to the window when `end - days*86400s < t <= end`.
    #[param(minimum = 1, maximum = 3650)]
    days: Option<u32>,
    /// Window end: RFC 3339 or integer Unix seconds (default: now).
    #[param(value_type = Option<String>, example = "2026-03-31T00:00:00Z")]
    end: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documentation only")]
pub struct WindowQuery {
    /// Window length in days (default: the server's `metrics.default_window_days`, 30 unless
    /// configured). An event belongs to the window when `end - days*86400s < t <= end`.
    #[param(minimum = 1, maximum = 3650)]
    days: Option<u32>,
    /// Window end: RFC 3339 or integer Unix seconds (default: now).
    #[param(value_type = Option<String>, example = "2026-03-31T00:00:00Z")]
    end: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Paths (documentation only; the handlers are in `routes.rs`)
// ---------------------------------------------------------------------------------------------

/// Liveness
///
/// The process is up. Does not touch the database.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Alive", body = Liveness, example = json!({"status": "ok"})))
)]
#[allow(dead_code, reason = "documentation only")]
fn liveness() {}

/// Readiness
///
/// The database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness, example = json!({"status": "ready"})),
        (status = 503, description = "The database is not answering (`unavailable`)", body = ErrorBody),
    )
)]
#[allow(dead_code, reason = "documentation only")]
fn readiness() {}

/// Record a deployment
///
/// Records one deployment. Returns 201 with its id, or 200 with the same body when that id was
/// already recorded (a deployment keeps its first recording; re-delivery never double counts).
#[utoipa::path(
    post,
    path = "/api/v1/deployments",
    tag = "events",
    request_body(
        content = DeploymentRequest,
        description = "The deployment",
        example = json!({
            "service": "payments-api",
            "environment": "production",
            "deployed_at": "2026-03-15T14:23:00Z",
            "sha": "9f1c2ab",
            "changes": [{"id": "acme/payments#412", "started_at": 1773570180}]
        })
    ),
    responses(
        (status = 201, description = "Recorded", body = DeploymentRecorded),
        (status = 200, description = "That id was already recorded; nothing changed", body = DeploymentRecorded),
        (status = 400, description = "Malformed or invalid body (`bad_json`, `missing_field`, `invalid_field`, `unknown_field`, `bad_body`)", body = ErrorBody),
        (status = 413, description = "Body larger than `server.body_limit_bytes` (`body_too_large`)", body = ErrorBody),
        (status = 500, description = "The database failed (`internal`); the server log has the cause", body = ErrorBody),
    )
)]
#[allow(dead_code, reason = "documentation only")]
fn post_deployment() {}

/// List deployments
///
/// Recorded deployments of any status and environment (each says whether it `counts`), newest
/// first, one page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/deployments",
    tag = "events",
    params(DeploymentListQuery),
    responses(
        (status = 200, description = "One page", body = DeploymentPage),
        (status = 400, description = "Invalid query (`invalid_field`, `unknown_parameter`, `duplicate_parameter`)", body = ErrorBody),
        (status = 500, description = "The database failed (`internal`); the server log has the cause", body = ErrorBody),
    )
)]
#[allow(dead_code, reason = "documentation only")]
fn list_deployments() {}

/// Get a deployment
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{id}",
    tag = "events",
    params(("id" = String, Path, description = "The deployment's id")),
    responses(
        (status = 200, description = "The deployment", body = DeploymentJson),
        (status = 404, description = "No deployment with that id (`not_found`)", body = ErrorBody),
        (status = 500, description = "The database failed (`internal`); the server log has the cause", body = ErrorBody),
    )
)]
#[allow(dead_code, reason = "documentation only")]
fn get_deployment() {}

/// Record an incident
///
/// Records one delivery of an incident (an SLO breach or customer-visible impact, degraded
/// service included). Posting an existing id updates it: the newest state of each field wins.
/// Returns 201 for a new incident, 200 for an update, both with the stored state.
#[utoipa::path(
    post,
    path = "/api/v1/incidents",
    tag = "events",
    request_body(
        content = IncidentRequest,
        description = "The incident",
        example = json!({
            "id": "PD-Q1W2E3",
            "service": "payments-api",
            "opened_at": "2026-03-15T15:02:00Z",
            "resolved_at": "2026-03-15T15:30:00Z",
            "severity": "SEV2",
            "caused_by_deploy": true
        })
    ),
    responses(
        (status = 201, description = "Recorded a new incident", body = IncidentRecorded),
        (status = 200, description = "Updated a recorded incident", body = IncidentRecorded),
        (status = 400, description = "Malformed or invalid body, e.g. `resolved_at` before `opened_at` (`bad_json`, `missing_field`, `invalid_field`, `unknown_field`, `bad_body`)", body = ErrorBody),
        (status = 413, description = "Body larger than `server.body_limit_bytes` (`body_too_large`)", body = ErrorBody),
        (status = 500, description = "The database failed (`internal`); the server log has the cause", body = ErrorBody),
    )
)]
#[allow(dead_code, reason = "documentation only")]
fn post_incident() {}

/// List incidents
///
/// Recorded incidents of any environment (each says whether it is `production`), newest opened
/// first, one page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    tag = "events",
    params(IncidentListQuery),
    responses(
        (status = 200, description = "One page", body = IncidentPage),
        (status = 400, description = "Invalid query (`invalid_field`, `unknown_parameter`, `duplicate_parameter`)", body = ErrorBody),
        (status = 500, description = "The database failed (`internal`); the server log has the cause", body = ErrorBody),
    )
)]
#[allow(dead_code, reason = "documentation only")]
fn list_incidents() {}

/// Get an incident
///
/// The incident and the deployments it could be attributed to.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}",
    tag = "events",
    params(("id" = String, Path, description = "The incident's id")),
    responses(
        (status = 200, description = "The incident and its candidate deployments", body = IncidentDetail),
        (status = 404, description = "No incident with that id (`not_found`)", body = ErrorBody),
        (status = 500, description = "The database failed (`internal`); the server log has the cause", body = ErrorBody),
    )
)]
#[allow(dead_code, reason = "documentation only")]
fn get_incident() {}

/// Triage an incident
///
/// Sets whether a recorded incident was caused by a deployment, which one, its fault class and
/// a note, and records who changed what in the incident's triage log. When the server has
/// `[auth.tokens]`, send `Authorization: Bearer <token>`: the token's name is the actor.
#[utoipa::path(
    patch,
    path = "/api/v1/incidents/{id}",
    tag = "events",
    params(("id" = String, Path, description = "The incident's id")),
    request_body(
        content = TriageRequest,
        description = "The triage",
        example = json!({"caused_by_deploy": true, "deployment_id": "deploy-2026-03-15-1", "fault_class": "bad_configuration", "note": "feature flag default flipped in the release"})
    ),
    responses(
        (status = 200, description = "Triaged; the incident and its candidate deployments", body = IncidentDetail),
        (status = 400, description = "Malformed body, no field sent, `deployment_id` not a recorded deployment, or `fault_class` not in the vocabulary (`bad_json`, `missing_field`, `invalid_field`, `unknown_field`, `bad_body`)", body = ErrorBody),
        (status = 401, description = "The server has `[auth.tokens]` and the request carries no matching `Authorization: Bearer` token (`unauthorized`)", body = ErrorBody),
        (status = 404, description = "No incident with that id; record it first with POST /api/v1/incidents (`not_found`)", body = ErrorBody),
        (status = 413, description = "Body larger than `server.body_limit_bytes` (`body_too_large`)", body = ErrorBody),
        (status = 500, description = "The database failed (`internal`); the server log has the cause", body = ErrorBody),
    )
)]
#[allow(dead_code, reason = "documentation only")]
fn patch_incident() {}

/// The triage log of an incident
///
/// Every triage made through `PATCH /api/v1/incidents/{id}`, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/triage",
    tag = "events",
    params(("id" = String, Path, description = "The incident's id")),
    responses(
        (status = 200, description = "The triage log", body = TriageHistory),
        (status = 404, description = "No incident with that id (`not_found`)", body = ErrorBody),
        (status = 500, description = "The database failed (`internal`); the server log has the cause", body = ErrorBody),
    )
)]
#[allow(dead_code, reason = "documentation only")]
fn get_triage_history() {}

/// Metrics of one scope
///
/// The four DORA metrics for one service, one team (all its services) or everything, over a
/// window of `days` days ending at `end`.
#[utoipa::path(
    get,
    path = "/api/v1/metrics",
    tag = "metrics",
    params(MetricsQuery),
    responses(
        (status = 200, description = "The metrics", body = MetricsJson),
        (status = 400, description = "Invalid query (`invalid_field`, `unknown_parameter`, `duplicate_parameter`)", body = ErrorBody),
        (status = 500, description = "The database failed (`internal`); the server log has the cause", body = ErrorBody),
    )
)]
#[allow(dead_code, reason = "documentation only")]
fn get_metrics() {}

/// Services
///
/// Every known service with its team, latest production deployment and metrics over the window.
#[utoipa::path(
    get,
    path = "/api/v1/services",
    tag = "metrics",
    params(WindowQuery),
    responses(
        (status = 200, description = "The services", body = ServiceList),
        (status = 400, description = "Invalid query (`invalid_field`, `unknown_parameter`, `duplicate_parameter`)", body = ErrorBody),
        (status = 500, description = "The database failed (`internal`); the server log has the cause", body = ErrorBody),
    )
)]
#[allow(dead_code, reason = "documentation only")]
fn list_services() {}

/// Report
///
/// Every scope for one window: the organisation, every team and every service (the same shape as
/// `pacer report --format json`).
#[utoipa::path(
    get,
    path = "/api/v1/report",
    tag = "metrics",
    params(WindowQuery),
    responses(
        (status = 200, description = "The report", body = ReportJson),
        (status = 400, description = "Invalid query (`invalid_field`, `unknown_parameter`, `duplicate_parameter`)", body = ErrorBody),
        (status = 500, description = "The database failed (`internal`); the server log has the cause", body = ErrorBody),
    )
)]
#[allow(dead_code, reason = "documentation only")]
fn get_report() {}

/// This document
///
/// The OpenAPI 3.1 description of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
#[allow(dead_code, reason = "documentation only")]
fn openapi_v1() {}

/// This document (alias)
///
/// The same document as `/api/v1/openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
#[allow(dead_code, reason = "documentation only")]
fn openapi_root() {}

/// The two ways to present a token (see the document's description).
struct TokenSchemes;

impl utoipa::Modify for TokenSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token from `[auth]`: `Authorization: Bearer <token>`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "The token as the password of Basic auth (any user name): what \
                         Pushgateway clients such as `curl -u` send",
                    ))
                    .build(),
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Prometheus
// ---------------------------------------------------------------------------------------------

/// Prometheus scrape
///
/// The DORA figures of every scope over the default window (`pacer_dora_*`) and Pacer's own
/// operational metrics, in the Prometheus text format 0.0.4 (docs/prometheus.md).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "prometheus",
    responses(
        (status = 200, description = "Text exposition format 0.0.4", body = String, content_type = "text/plain; version=0.0.4; charset=utf-8"),
        (status = 500, description = "The database failed (`internal`); the server log has the cause", body = ErrorBody),
    )
)]
#[allow(dead_code, reason = "documentation only")]
fn prometheus_metrics() {}

/// Push (Pushgateway protocol)
///
/// What the handbook recipe's CI steps push to a Pushgateway, kept working: the path is a
/// grouping key, `job/<job>` then any `<label>/<value>` pairs (`<label>@base64/<value>` for
/// values with slashes), e.g. `/metrics/job/dora/instance/acme_payments`; the body is Prometheus
/// text. `dora_deployment_timestamp` records a production deployment, `dora_lead_time_seconds`
/// sets the lead time of the latest one, and the recipe's incident gauges record an incident
/// (docs/pushgateway.md). Families Pacer does not use are listed as ignored, not refused.
/// `PUT` and `POST` behave alike: Pacer never replaces a group, it records events.
#[utoipa::path(
    put,
    path = "/metrics/job/{job}",
    tag = "prometheus",
    params(("job" = String, Path, description = "The grouping key's job; more `<label>/<value>` pairs may follow")),
    request_body(
        content = String,
        content_type = "text/plain",
        description = "Prometheus text format (protobuf is refused)",
        example = "# TYPE dora_deployment_timestamp gauge\ndora_deployment_timestamp{repo=\"acme/payments\",env=\"production\"} 1773584580\n"
    ),
    responses(
        (status = 200, description = "Recorded: `grouping_key`, `deployments` (each with `already_recorded`), `lead_times`, `incidents`, `ignored_families`", body = Object),
        (status = 400, description = "Bad grouping key or body (`invalid_grouping_key`, `invalid_exposition`, `invalid_sample`, `unsupported_format`, `invalid_lead_time`)", body = ErrorBody),
        (status = 413, description = "Body larger than `server.body_limit_bytes` (`body_too_large`)", body = ErrorBody),
        (status = 500, description = "The database failed (`internal`); the server log has the cause", body = ErrorBody),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
#[allow(dead_code, reason = "documentation only")]
fn push_put() {}

/// Push (Pushgateway protocol, `POST`)
///
/// The same as `PUT`.
#[utoipa::path(
    post,
    path = "/metrics/job/{job}",
    tag = "prometheus",
    params(("job" = String, Path, description = "The grouping key's job; more `<label>/<value>` pairs may follow")),
    request_body(content = String, content_type = "text/plain", description = "Prometheus text format"),
    responses(
        (status = 200, description = "Recorded, as for `PUT`", body = Object),
        (status = 400, description = "Bad grouping key or body (as for `PUT`)", body = ErrorBody),
        (status = 413, description = "Body larger than `server.body_limit_bytes` (`body_too_large`)", body = ErrorBody),
        (status = 500, description = "The database failed (`internal`); the server log has the cause", body = ErrorBody),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
#[allow(dead_code, reason = "documentation only")]
fn push_post() {}

/// Delete a push group
///
/// Accepted and ignored: Pacer keeps every recorded deployment and incident, so the recipe's
/// cleanup step changes nothing (the answer says so).
#[utoipa::path(
    delete,
    path = "/metrics/job/{job}",
    tag = "prometheus",
    params(("job" = String, Path, description = "The grouping key's job; more `<label>/<value>` pairs may follow")),
    responses(
        (status = 202, description = "Nothing deleted: `{\"grouping_key\": {...}, \"deleted\": false, \"message\": ...}`", body = Object),
        (status = 400, description = "Bad grouping key (`invalid_grouping_key`)", body = ErrorBody),
    ),
    security((), ("bearer" = []), ("basic" = []))
)]
#[allow(dead_code, reason = "documentation only")]
fn push_delete() {}

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

/// GitHub `deployment_status`
///
/// A `success` of a mapped environment records a deployment, `failure`/`error` a failed one;
/// other states and events answer 202 with the reason; `ping` 200. Signed with
/// `X-Hub-Signature-256`; deduplicated on `X-GitHub-Delivery` (docs/integrations/github-webhooks.md).
#[utoipa::path(
    post,
    path = "/webhooks/github",
    tag = "webhooks",
    request_body(content = Object, description = "GitHub's delivery, as GitHub sends it"),
    responses(
        (status = 201, description = "Deployment recorded", body = Object),
        (status = 200, description = "Already processed (a re-delivery), or a ping; nothing written", body = Object),
        (status = 202, description = "Ignored, with the reason; nothing written", body = Object),
        (status = 400, description = "A field the receiver needs is missing or invalid (named)", body = ErrorBody),
        (status = 401, description = "Missing or wrong signature (`unauthorized`); nothing written", body = ErrorBody),
        (status = 403, description = "No secret configured for this receiver (`forbidden`, names the setting)", body = ErrorBody),
    ),
    security(())
)]
#[allow(dead_code, reason = "documentation only")]
fn webhook_github() {}

/// GitLab Deployment Hook
///
/// A `success` records a deployment, `failed` a failed one; others answer 202. Checked with
/// `X-Gitlab-Token`; deduplicated on `Idempotency-Key` / `X-Gitlab-Event-UUID`
/// (docs/integrations/gitlab.md).
#[utoipa::path(
    post,
    path = "/webhooks/gitlab",
    tag = "webhooks",
    request_body(content = Object, description = "GitLab's delivery, as GitLab sends it"),
    responses(
        (status = 201, description = "Deployment recorded", body = Object),
        (status = 200, description = "Already processed; nothing written", body = Object),
        (status = 202, description = "Ignored, with the reason; nothing written", body = Object),
        (status = 400, description = "A field the receiver needs is missing or invalid (named)", body = ErrorBody),
        (status = 401, description = "Missing or wrong token (`unauthorized`); nothing written", body = ErrorBody),
        (status = 403, description = "No secret configured for this receiver (`forbidden`, names the setting)", body = ErrorBody),
    ),
    security(())
)]
#[allow(dead_code, reason = "documentation only")]
fn webhook_gitlab() {}

/// Flux notification
///
/// `ReconciliationSucceeded` of a mapped Kustomization or HelmRelease is a production
/// deployment of the revision's sha. A generic provider with a bearer token, or generic-hmac
/// (`X-Signature`) (docs/integrations/flux.md).
#[utoipa::path(
    post,
    path = "/webhooks/flux",
    tag = "webhooks",
    request_body(content = Object, description = "The notification-controller's event"),
    responses(
        (status = 201, description = "Deployment recorded", body = Object),
        (status = 200, description = "Already processed; nothing written", body = Object),
        (status = 202, description = "Ignored (unmapped object, not a success), with the reason", body = Object),
        (status = 400, description = "A field the receiver needs is missing or invalid (named)", body = ErrorBody),
        (status = 401, description = "Missing or wrong token or signature (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "No secret configured for this receiver (`forbidden`, names the setting)", body = ErrorBody),
    ),
    security(())
)]
#[allow(dead_code, reason = "documentation only")]
fn webhook_flux() {}

/// Argo CD notification
///
/// The documented notifications template, sent with a bearer token
/// (docs/integrations/argocd.md).
#[utoipa::path(
    post,
    path = "/webhooks/argocd",
    tag = "webhooks",
    request_body(content = Object, description = "The body of Pacer's Argo CD notifications template"),
    responses(
        (status = 201, description = "Deployment recorded", body = Object),
        (status = 200, description = "Already processed; nothing written", body = Object),
        (status = 202, description = "Ignored, with the reason", body = Object),
        (status = 400, description = "A field the receiver needs is missing or invalid (named)", body = ErrorBody),
        (status = 401, description = "Missing or wrong token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "No secret configured for this receiver (`forbidden`, names the setting)", body = ErrorBody),
    ),
    security(())
)]
#[allow(dead_code, reason = "documentation only")]
fn webhook_argocd() {}

/// PagerDuty webhook (v3)
///
/// Incident events (triggered, acknowledged, resolved, priority and service changes) update
/// the incident of the same id, newest event first; signed with `X-PagerDuty-Signature`
/// (docs/integrations/pagerduty.md).
#[utoipa::path(
    post,
    path = "/webhooks/pagerduty",
    tag = "webhooks",
    request_body(content = Object, description = "PagerDuty's V3 webhook delivery"),
    responses(
        (status = 202, description = "Applied (or ignored, with the reason)", body = Object),
        (status = 200, description = "Already processed; nothing written", body = Object),
        (status = 400, description = "A field the receiver needs is missing or invalid (named)", body = ErrorBody),
        (status = 401, description = "Missing or wrong signature (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "No secret configured for this receiver (`forbidden`, names the setting)", body = ErrorBody),
    ),
    security(())
)]
#[allow(dead_code, reason = "documentation only")]
fn webhook_pagerduty() {}

/// OpsGenie webhook
///
/// Alert actions (create, acknowledge, close, priority changes) update the incident of the
/// alert; checked with the token header or Basic auth credentials of `[webhooks.opsgenie]`
/// (docs/integrations/opsgenie.md).
#[utoipa::path(
    post,
    path = "/webhooks/opsgenie",
    tag = "webhooks",
    request_body(content = Object, description = "OpsGenie's webhook delivery"),
    responses(
        (status = 202, description = "Applied (or ignored, with the reason)", body = Object),
        (status = 200, description = "Already processed; nothing written", body = Object),
        (status = 400, description = "A field the receiver needs is missing or invalid (named)", body = ErrorBody),
        (status = 401, description = "Missing or wrong credentials (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "No credentials configured for this receiver (`forbidden`, names the setting)", body = ErrorBody),
    ),
    security(())
)]
#[allow(dead_code, reason = "documentation only")]
fn webhook_opsgenie() {}

/// Alertmanager webhook
///
/// Firing and resolved alerts that match the configured matchers open and resolve
/// incidents; Basic or bearer credentials from `[webhooks.alertmanager]`
/// (docs/integrations/alertmanager.md).
#[utoipa::path(
    post,
    path = "/webhooks/alertmanager",
    tag = "webhooks",
    request_body(content = Object, description = "Alertmanager's webhook payload (version 4)"),
    responses(
        (status = 202, description = "Applied (or ignored, with the reason)", body = Object),
        (status = 200, description = "Already processed; nothing written", body = Object),
        (status = 400, description = "A field the receiver needs is missing or invalid (named)", body = ErrorBody),
        (status = 401, description = "Missing or wrong credentials (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "No credentials configured for this receiver (`forbidden`, names the setting)", body = ErrorBody),
    ),
    security(())
)]
#[allow(dead_code, reason = "documentation only")]
fn webhook_alertmanager() {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
        let s = &doc["components"]["schemas"][name];
        assert!(s.is_object(), "no schema {name}");
        s
    }

    fn names(v: &Value) -> Vec<String> {
        let mut n: Vec<String> = v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .or_else(|| v.as_object().map(|o| o.keys().cloned().collect()))
            .unwrap_or_default();
        n.sort();
        n
    }

    fn sorted(list: &[&str]) -> Vec<String> {
        let mut n: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        n.sort();
        n
    }

    #[test]
    fn document_round_trips_as_openapi_3_1() {
        let doc = document();
        let text = serde_json::to_string(&doc).unwrap();
        let parsed: utoipa::openapi::OpenApi =
            serde_json::from_str(&text).expect("parses as OpenAPI");
        assert_eq!(serde_json::to_value(&parsed).unwrap()["openapi"], "3.1.0");
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], "Pacer API");
    }

    #[test]
    fn every_route_is_documented_with_its_methods() {
        let doc = document();
        let expected: &[(&str, &[&str])] = &[
            ("/healthz", &["get"]),
            ("/readyz", &["get"]),
            ("/api/v1/deployments", &["get", "post"]),
            ("/api/v1/deployments/{id}", &["get"]),
            ("/api/v1/incidents", &["get", "post"]),
            ("/api/v1/incidents/{id}", &["get", "patch"]),
            ("/api/v1/incidents/{id}/triage", &["get"]),
            ("/api/v1/metrics", &["get"]),
            ("/api/v1/services", &["get"]),
            ("/api/v1/report", &["get"]),
            ("/api/v1/openapi.json", &["get"]),
            ("/openapi.json", &["get"]),
            ("/metrics", &["get"]),
            ("/metrics/job/{job}", &["delete", "post", "put"]),
            ("/webhooks/github", &["post"]),
            ("/webhooks/gitlab", &["post"]),
            ("/webhooks/flux", &["post"]),
            ("/webhooks/argocd", &["post"]),
            ("/webhooks/pagerduty", &["post"]),
            ("/webhooks/opsgenie", &["post"]),
            ("/webhooks/alertmanager", &["post"]),
        ];
        let paths = doc["paths"].as_object().expect("paths");
        assert_eq!(
            names(&doc["paths"]),
            sorted(&expected.iter().map(|(p, _)| *p).collect::<Vec<_>>())
        );
        for (path, methods) in expected {
            let item = paths[*path].as_object().unwrap();
            let mut got: Vec<&str> = item
                .keys()
                .map(String::as_str)
                .filter(|k| {
                    [
                        "get", "put", "post", "delete", "options", "head", "patch", "trace",
                    ]
                    .contains(k)
                })
                .collect();
            got.sort();
            assert_eq!(got, *methods, "methods of {path}");
            for m in *methods {
                let responses = item[*m]["responses"].as_object().unwrap();
                assert!(!responses.is_empty(), "{m} {path} has no responses");
                for (status, r) in responses {
                    assert!(
                        r["description"].as_str().is_some_and(|d| !d.is_empty()),
                        "{m} {path} {status}"
                    );
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            r["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/ErrorBody",
                            "{m} {path} {status}"
                        );
                    }
                }
            }
        }
        let statuses = |path: &str, m: &str| names(&paths[path][m]["responses"]);
        assert_eq!(
            statuses("/api/v1/deployments", "post"),
            ["200", "201", "400", "413", "500"]
        );
        assert_eq!(
            statuses("/api/v1/incidents", "post"),
            ["200", "201", "400", "413", "500"]
        );
        assert_eq!(
            statuses("/api/v1/incidents/{id}", "patch"),
            ["200", "400", "401", "404", "413", "500"]
        );
        assert_eq!(
            statuses("/api/v1/incidents/{id}/triage", "get"),
            ["200", "404", "500"]
        );
        assert_eq!(
            statuses("/api/v1/deployments/{id}", "get"),
            ["200", "404", "500"]
        );
    }

    #[test]
    fn deployment_request_requires_service_and_environment() {
        let doc = document();
        let s = schema(&doc, "DeploymentRequest");
        assert_eq!(names(&s["required"]), ["environment", "service"]);
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(
            doc["paths"]["/api/v1/deployments"]["post"]["requestBody"]["content"]["application/json"]
                ["schema"]["$ref"],
            "#/components/schemas/DeploymentRequest"
        );
    }

    #[test]
    fn request_schemas_list_exactly_the_accepted_fields() {
        use super::super::parse;
        let doc = document();
        for (name, fields) in [
            ("DeploymentRequest", parse::DEPLOYMENT_FIELDS),
            ("ChangeRequest", parse::CHANGE_FIELDS),
            ("IncidentRequest", parse::INCIDENT_FIELDS),
            ("TriageRequest", parse::TRIAGE_FIELDS),
        ] {
            assert_eq!(
                names(&schema(&doc, name)["properties"]),
                sorted(fields),
                "{name}"
            );
        }
        assert_eq!(
            names(&schema(&doc, "ChangeRequest")["required"]),
            ["id", "started_at"]
        );
        assert_eq!(names(&schema(&doc, "IncidentRequest")["required"]), ["id"]);
        assert!(schema(&doc, "TriageRequest").get("required").is_none());
    }

    #[test]
    fn timestamps_in_are_string_or_integer() {
        let doc = document();
        let kinds: Vec<&str> = schema(&doc, "Timestamp")["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["string", "integer"]);
        let opened = &schema(&doc, "IncidentRequest")["properties"]["opened_at"];
        assert!(
            opened
                .to_string()
                .contains("#/components/schemas/Timestamp"),
            "{opened}"
        );
    }

    #[test]
    fn query_limits_match_the_handlers() {
        use super::super::routes::{DEFAULT_PAGE, MAX_PAGE, MAX_WINDOW_DAYS};
        let doc = document();
        let param = |path: &str, name: &str| -> Value {
            doc["paths"][path]["get"]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("no parameter {name} on {path}"))
                .clone()
        };
        for path in ["/api/v1/deployments", "/api/v1/incidents"] {
            let limit = param(path, "limit");
            assert_eq!(limit["schema"]["maximum"], MAX_PAGE);
            assert_eq!(limit["schema"]["default"], DEFAULT_PAGE);
        }
        for path in ["/api/v1/metrics", "/api/v1/services", "/api/v1/report"] {
            assert_eq!(param(path, "days")["schema"]["maximum"], MAX_WINDOW_DAYS);
        }
    }

    #[test]
    fn metrics_response_uses_the_presented_shape() {
        let doc = document();
        let m = schema(&doc, "Metrics");
        for field in [
            "scope",
            "window",
            "deployment_frequency",
            "lead_time",
            "change_failure_rate",
            "mttr",
            "failed_deployment_recovery_time",
            "untriaged_incidents",
            "overall_band",
            "rework_rate",
        ] {
            assert!(m["properties"].get(field).is_some(), "Metrics.{field}");
        }
        let rework = schema(&doc, "ReworkRate");
        assert_eq!(
            names(&rework["required"]),
            [
                "by_reason",
                "deployments",
                "percent",
                "unplanned_deployments"
            ]
        );
        assert_eq!(
            names(&schema(&doc, "ReworkReasons")["properties"]),
            ["redeployed_sha", "rule", "sender"]
        );
        assert_eq!(
            doc["paths"]["/api/v1/metrics"]["get"]["responses"]["200"]["content"]["application/json"]
                ["schema"]["$ref"],
            "#/components/schemas/Metrics"
        );
        assert_eq!(
            names(&schema(&doc, "Band")["enum"]),
            ["elite", "high", "low", "medium"]
        );
    }
}
