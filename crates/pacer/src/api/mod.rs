//! The HTTP layer: thin handlers that parse at the edge and call [`crate::app::Pacer`].

pub mod error;
pub mod input;
pub mod openapi;
pub mod parse;
mod routes;

use crate::app::Pacer;
use axum::Router;
use tower_http::trace::TraceLayer;

/// The whole HTTP application.
pub fn router(pacer: Pacer) -> Router {
    routes::routes()
        .with_state(pacer)
        .layer(TraceLayer::new_for_http())
}
