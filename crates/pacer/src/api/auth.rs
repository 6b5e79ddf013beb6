//! Bearer tokens (docs/security.md): which requests need one, with which scope.
//!
//! One middleware decides for every route, so a new write route is refused by default: any
//! method other than GET/HEAD/OPTIONS needs the `ingest` scope unless listed here. The
//! exceptions: `/healthz` and `/readyz` (probes), `/webhooks/*` (each vendor's own
//! signature or token, checked by its receiver) and the dashboard's triage form (its token
//! comes in the form body; the handler checks it).
//!
//! A token never reaches a log line or an error body: refusals name the rule, not the value.

use super::error::ErrorCode;
use crate::app::Pacer;
use crate::settings::{AuthSettings, Caller, TokenScope};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// What a request needs before its handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Nothing,
    /// A valid token of any scope (reads with `require_for_reads`).
    AnyToken,
    Scope(TokenScope),
}

/// The rule for `method path` (the path without its query).
pub fn need(method: &Method, path: &str, require_for_reads: bool) -> Need {
    if path == "/healthz" || path == "/readyz" || path.starts_with("/webhooks/") {
        return Need::Nothing;
    }
    let read = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if read {
        return if require_for_reads {
            Need::AnyToken
        } else {
            Need::Nothing
        };
    }
    if is_dashboard_triage(path) {
        // Checked by the form's handler (the token is a form field).
        return Need::Nothing;
    }
    if *method == Method::PATCH && path.starts_with("/api/v1/incidents/") {
        return Need::Scope(TokenScope::Triage);
    }
    Need::Scope(TokenScope::Ingest)
}

/// `POST /incidents/{id}/triage`, the dashboard's form.
fn is_dashboard_triage(path: &str) -> bool {
    path.strip_prefix("/incidents/")
        .and_then(|rest| rest.strip_suffix("/triage"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// The credential a request carries: `Authorization: Bearer <token>`, or Basic with the
/// token as password (what browsers and Pushgateway clients can send).
pub fn credential(headers: &HeaderMap) -> Option<String> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_string()).filter(|t| !t.is_empty());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_, password) = text.split_once(':')?;
        return Some(password.to_string()).filter(|t| !t.is_empty());
    }
    None
}

/// The middleware: refuses what [`need`] says needs a token it does not have, and leaves
/// the [`Caller`] on the request for handlers that record who acted.
pub async fn require(State(p): State<Pacer>, mut request: Request, next: Next) -> Response {
    let auth = &p.settings.auth;
    let need = need(
        request.method(),
        request.uri().path(),
        auth.require_for_reads,
    );
    let caller = credential(request.headers()).and_then(|t| auth.authenticate(&t));
    if let Some(caller) = &caller {
        request.extensions_mut().insert(caller.clone());
    }
    if need == Need::Nothing || auth.is_open() {
        return next.run(request).await;
    }
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    match refusal_for(
        auth,
        need,
        caller.as_ref(),
        request.headers(),
        &method,
        &path,
    ) {
        None => next.run(request).await,
        Some(refusal) => refusal,
    }
}

/// The 401 or 403 for a request that needs `need`, or `None` when it may go on.
fn refusal_for(
    auth: &AuthSettings,
    need: Need,
    caller: Option<&Caller>,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
) -> Option<Response> {
    let Some(caller) = caller else {
        let message = if credential(headers).is_some() {
            "the bearer token matches no [auth.tokens] entry: check the token (--token or \
             PACER_TOKEN), or ask whoever runs the server for one"
                .to_string()
        } else {
            format!(
                "{method} {path} needs an API token: send `Authorization: Bearer <token>` with a \
                 token of the server's [auth.tokens] (--token or PACER_TOKEN on the pacer \
                 command line; docs/security.md)"
            )
        };
        return Some(unauthorized(message, path));
    };
    let Need::Scope(scope) = need else {
        return None;
    };
    let entry = auth.tokens.get(&caller.name);
    if entry.is_some_and(|t| t.allows(scope)) {
        return None;
    }
    let has: Vec<&str> = caller.scopes.iter().map(|s| s.as_str()).collect();
    let message = format!(
        "token {:?} has the scopes [{}]; {method} {path} needs the {} scope (or admin): ask \
         whoever runs the server for a token with it",
        caller.name,
        has.join(", "),
        scope.as_str()
    );
    tracing::warn!(actor = %caller.name, %method, %path, needs = scope.as_str(), "request refused: token lacks the scope");
    Some(refusal(StatusCode::FORBIDDEN, "forbidden", message))
}

/// 401 with the challenge; dashboard pages also offer Basic so a browser asks for the
/// token (any user name, the token as password).
fn unauthorized(message: String, path: &str) -> Response {
    tracing::warn!(%path, error = %message, "request refused: no valid token");
    let mut response = refusal(StatusCode::UNAUTHORIZED, "unauthorized", message);
    let headers = response.headers_mut();
    headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    let api = path.starts_with("/api/") || path.starts_with("/metrics");
    if !api {
        headers.append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"pacer\", charset=\"UTF-8\""),
        );
    }
    response
}

fn refusal(status: StatusCode, code: &'static str, message: String) -> Response {
    let mut response = (status, Json(json!({"error": message, "code": code}))).into_response();
    // The marker ApiError leaves, so refusals are counted by reason.
    response.extensions_mut().insert(ErrorCode(code));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_write_needs_a_scope_and_only_probes_webhooks_and_the_form_are_exempt() {
        let cases = [
            (
                Method::POST,
                "/api/v1/deployments",
                false,
                Need::Scope(TokenScope::Ingest),
            ),
            (
                Method::POST,
                "/api/v1/incidents",
                false,
                Need::Scope(TokenScope::Ingest),
            ),
            (
                Method::PATCH,
                "/api/v1/incidents/i1",
                false,
                Need::Scope(TokenScope::Triage),
            ),
            (
                Method::PUT,
                "/metrics/job/ci",
                false,
                Need::Scope(TokenScope::Ingest),
            ),
            (
                Method::DELETE,
                "/metrics/job/ci",
                false,
                Need::Scope(TokenScope::Ingest),
            ),
            (
                Method::POST,
                "/anything/new",
                false,
                Need::Scope(TokenScope::Ingest),
            ),
            (Method::POST, "/incidents/i1/triage", false, Need::Nothing),
            (
                Method::POST,
                "/incidents/a/b/triage",
                false,
                Need::Scope(TokenScope::Ingest),
            ),
            (Method::POST, "/webhooks/github", true, Need::Nothing),
            (Method::GET, "/api/v1/metrics", false, Need::Nothing),
            (Method::GET, "/api/v1/metrics", true, Need::AnyToken),
            (Method::GET, "/metrics", true, Need::AnyToken),
            (Method::GET, "/", true, Need::AnyToken),
            (Method::GET, "/healthz", true, Need::Nothing),
            (Method::GET, "/readyz", true, Need::Nothing),
        ];
        for (method, path, reads, want) in cases {
            assert_eq!(need(&method, path, reads), want, "{method} {path}");
        }
    }

    #[test]
    fn bearer_and_basic_carry_the_token() {
        let mut h = HeaderMap::new();
        assert_eq!(credential(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(credential(&h).as_deref(), Some("abc"));
        // "user:abc" in base64.
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjphYmM="),
        );
        assert_eq!(credential(&h).as_deref(), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(credential(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Token abc"));
        assert_eq!(credential(&h), None);
    }
}
