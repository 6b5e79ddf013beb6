//! Pacer's own operational metrics: what it ingested, what it refused and how fast it
//! answered. The names are an API (dashboards and alerts use them), so they live here and
//! nowhere else; every label value comes from a small fixed set, never from a request's
//! data (no ids, no shas, no raw paths).

use crate::api::error::ErrorCode;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;

/// `pacer_events_ingested_total{source,kind}` (registered without the suffix: the encoder
/// adds `_total` to counters, and prometheus-client panics in debug builds otherwise).
pub const EVENTS_INGESTED: &str = "pacer_events_ingested";
/// `pacer_events_refused_total{source,reason}`.
pub const EVENTS_REFUSED: &str = "pacer_events_refused";
/// `pacer_http_request_duration_seconds{method,route,status}`.
pub const HTTP_REQUEST_DURATION: &str = "pacer_http_request_duration_seconds";
/// `pacer_build_info{version}`, always 1.
pub const BUILD_INFO: &str = "pacer_build_info";

/// The `route` label of a request that matched no route: raw paths would make the label
/// set as large as the set of URLs anyone cares to try.
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// The `reason` label of a refusal whose answer carries no [`ErrorCode`] (an extractor's
/// own rejection, say).
pub const UNKNOWN_REASON: &str = "unknown";

/// Request duration buckets, in seconds: 1 ms to 10 s in 1-2.5-5 steps. A handler answers in
/// milliseconds; a scrape of a large history or a batched write may take seconds.
const DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Ingest routes by path prefix, and the `source` label their events carry. A new ingest
/// path (a vendor webhook, say) adds one line here to have its refusals counted.
const INGEST_SOURCES: &[(&str, &str)] = &[
    ("/api/v1/deployments", "api"),
    ("/api/v1/incidents", "api"),
    ("/metrics/job", "pushgateway"),
    // The Pushgateway protocol also takes the job name base64-encoded.
    ("/metrics/job@base64", "pushgateway"),
    ("/webhooks/github", "github"),
    ("/webhooks/gitlab", "gitlab"),
    ("/webhooks/flux", "flux"),
    ("/webhooks/argocd", "argocd"),
    ("/webhooks/pagerduty", "pagerduty"),
    ("/webhooks/opsgenie", "opsgenie"),
    ("/webhooks/alertmanager", "alertmanager"),
];

/// The ingest source a request writes to, judged from its method and path; `None` for
/// reads and for everything that is not an ingest route.
pub fn ingest_source(method: &Method, path: &str) -> Option<&'static str> {
    if !matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return None;
    }
    INGEST_SOURCES.iter().find_map(|&(prefix, source)| {
        // Whole path segments only: `/api/v1/deploymentsX` is not under `/api/v1/deployments`.
        let rest = path.strip_prefix(prefix)?;
        (rest.is_empty() || rest.starts_with('/')).then_some(source)
    })
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IngestedLabels {
    source: &'static str,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    source: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    /// The matched route template (`/api/v1/incidents/{id}`) or [`UNMATCHED_ROUTE`].
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

type HistogramFamily = Family<HttpLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// Pacer's operational metrics, one set per server (no global registry).
pub struct Telemetry {
    registry: Registry,
    ingested: Family<IngestedLabels, Counter>,
    refused: Family<RefusedLabels, Counter>,
    durations: HistogramFamily,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new()
    }
}

impl Telemetry {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        // prometheus-client appends a period to every help text.
        let ingested = Family::<IngestedLabels, Counter>::default();
        registry.register(
            EVENTS_INGESTED,
            "Events recorded, by ingest source and kind (a re-delivered deployment id is not counted)",
            ingested.clone(),
        );
        let refused = Family::<RefusedLabels, Counter>::default();
        registry.register(
            EVENTS_REFUSED,
            "Ingest requests answered with a 4xx, by ingest source and API error code",
            refused.clone(),
        );
        let durations = HistogramFamily::new_with_constructor(duration_histogram);
        registry.register(
            HTTP_REQUEST_DURATION,
            "Time to answer an HTTP request, by method, matched route template and status",
            durations.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register(BUILD_INFO, "The running Pacer version, always 1", build);
        Telemetry {
            registry,
            ingested,
            refused,
            durations,
        }
    }

    /// Counts `count` events of `kind` recorded from `source`.
    pub fn ingested(&self, source: &'static str, kind: &'static str, count: u64) {
        self.ingested
            .get_or_create(&IngestedLabels { source, kind })
            .inc_by(count);
    }

    /// Counts one ingest request from `source` refused with the API error code `reason`.
    pub fn refused(&self, source: &'static str, reason: &'static str) {
        self.refused
            .get_or_create(&RefusedLabels { source, reason })
            .inc();
    }

    fn observe(&self, method: &Method, route: String, status: u16, seconds: f64) {
        self.durations
            .get_or_create(&HttpLabels {
                method: method_label(method),
                route,
                status,
            })
            .observe(seconds);
    }

    /// Appends the metrics in Prometheus text format 0.0.4 (no OpenMetrics `# EOF`).
    pub fn encode(&self, out: &mut String) {
        // Writing to a String cannot fail, and none of these metrics fails to encode; should
        // that change, a scrape without our own metrics beats a failed scrape.
        if let Err(e) = prometheus_client::encoding::prometheus_text::encode(out, &self.registry) {
            tracing::error!(error = %e, "could not encode Pacer's operational metrics");
        }
    }
}

/// Methods outside the standard set become `other`: hyper accepts any token as a method,
/// and each would otherwise be a new series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware (`axum::middleware::from_fn_with_state`, added with `Router::layer` so the
/// matched route is known): times every request and counts every 4xx on an ingest route
/// as a refusal, with the error code [`crate::api::error::ApiError`] left on the response.
pub async fn observe(
    State(telemetry): State<Arc<Telemetry>>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED_ROUTE.to_string(), |m| m.as_str().to_string());
    let source = ingest_source(&method, req.uri().path());
    let response = next.run(req).await;
    let status = response.status();
    if let Some(source) = source
        && status.is_client_error()
    {
        let reason = response
            .extensions()
            .get::<ErrorCode>()
            .map_or(UNKNOWN_REASON, |c| c.0);
        telemetry.refused(source, reason);
    }
    telemetry.observe(
        &method,
        route,
        status.as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_sources_are_write_methods_under_the_ingest_paths() {
        assert_eq!(
            ingest_source(&Method::POST, "/api/v1/deployments"),
            Some("api")
        );
        assert_eq!(
            ingest_source(&Method::PATCH, "/api/v1/incidents/i-1"),
            Some("api")
        );
        assert_eq!(
            ingest_source(&Method::PUT, "/metrics/job/deploy/service/api"),
            Some("pushgateway")
        );
        assert_eq!(
            ingest_source(&Method::DELETE, "/metrics/job/deploy"),
            Some("pushgateway")
        );
        assert_eq!(
            ingest_source(&Method::POST, "/metrics/job@base64/ZG9yYQ"),
            Some("pushgateway")
        );
        assert_eq!(
            ingest_source(&Method::POST, "/webhooks/github"),
            Some("github")
        );
        assert_eq!(ingest_source(&Method::POST, "/webhooks/flux"), Some("flux"));
        // Reads, look-alike paths and the scrape endpoint are not ingest.
        assert_eq!(ingest_source(&Method::GET, "/api/v1/deployments"), None);
        assert_eq!(ingest_source(&Method::POST, "/api/v1/deploymentsX"), None);
        assert_eq!(ingest_source(&Method::POST, "/metrics"), None);
        assert_eq!(ingest_source(&Method::POST, "/metrics/jobs"), None);
        assert_eq!(ingest_source(&Method::POST, "/api/v1/metrics"), None);
    }

    #[test]
    fn encodes_text_format_0_0_4() {
        let t = Telemetry::new();
        t.ingested("api", "deployment", 2);
        t.refused("pushgateway", "invalid_exposition");
        t.observe(&Method::GET, "/metrics".into(), 200, 0.003);
        let mut out = String::new();
        t.encode(&mut out);
        assert!(
            out.contains("# TYPE pacer_events_ingested_total counter\n"),
            "{out}"
        );
        assert!(
            out.contains("pacer_events_ingested_total{source=\"api\",kind=\"deployment\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains(
                "pacer_events_refused_total{source=\"pushgateway\",reason=\"invalid_exposition\"} 1\n"
            ),
            "{out}"
        );
        // 0.003 s falls in the 5 ms bucket and above, not in the 2.5 ms one.
        assert!(out.contains("pacer_http_request_duration_seconds_bucket{method=\"GET\",route=\"/metrics\",status=\"200\",le=\"0.0025\"} 0\n"), "{out}");
        assert!(out.contains("pacer_http_request_duration_seconds_bucket{method=\"GET\",route=\"/metrics\",status=\"200\",le=\"0.005\"} 1\n"), "{out}");
        assert!(out.contains("pacer_http_request_duration_seconds_bucket{method=\"GET\",route=\"/metrics\",status=\"200\",le=\"+Inf\"} 1\n"), "{out}");
        assert!(
            out.contains(&format!(
                "pacer_build_info{{version=\"{}\"}} 1\n",
                env!("CARGO_PKG_VERSION")
            )),
            "{out}"
        );
        assert!(!out.contains("# EOF"), "{out}");
    }

    #[test]
    fn unusual_methods_share_one_label() {
        let m = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&m), "other");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
    }
}
