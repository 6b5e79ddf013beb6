//! The HTTP layer: thin handlers that parse at the edge and call [`crate::app::Pacer`].

pub mod error;
pub mod input;
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
    routes::routes()
        .merge(push::routes())
        .merge(webhooks::routes())
        .merge(crate::web::routes())
        // Routers merge above this layer so that their requests are timed and their
        // refusals counted: `Router::layer` runs after routing, when the matched route
        // template is known (it also wraps the fallback, whose route is "unmatched").
        .layer(axum::middleware::from_fn_with_state(
            pacer.telemetry.clone(),
            telemetry::observe,
        ))
        .with_state(pacer)
        .layer(TraceLayer::new_for_http())
}
