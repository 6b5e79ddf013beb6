//! The HTTP layer: thin handlers that parse at the edge and call [`crate::app::Pacer`].

pub mod auth;
pub mod error;
pub mod input;
pub mod limits;
pub mod openapi;
pub mod parse;
mod push;
mod routes;
pub mod webhooks;

use crate::app::Pacer;
use crate::telemetry;
use axum::Router;
use tower_http::trace::TraceLayer;

/// The whole HTTP application.
pub fn router(pacer: Pacer) -> Router {
    let limits = limits::Limits::new(&pacer.settings.limits);
    routes::routes()
        .merge(push::routes())
        .merge(webhooks::routes())
        .merge(crate::web::routes())
        // Routers merge above this layer so that their requests are timed and their
        // refusals counted: `Router::layer` runs after routing, when the matched route
        // template is known (it also wraps the fallback, whose route is "unmatched").
        // Tokens inside it, so refusals (401/403) are counted too (docs/security.md).
        .layer(axum::middleware::from_fn_with_state(
            pacer.clone(),
            auth::require,
        ))
        .layer(axum::middleware::from_fn_with_state(
            pacer.telemetry.clone(),
            telemetry::observe,
        ))
        .with_state(pacer)
        // [limits], outermost first: rate (cheap, per client), then concurrency, then the
        // time a request may take (see api/limits.rs).
        .layer(axum::middleware::from_fn_with_state(
            limits.clone(),
            limits::timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits.clone(),
            limits::concurrency,
        ))
        .layer(axum::middleware::from_fn_with_state(limits, limits::rate))
        .layer(TraceLayer::new_for_http())
}
