//! API errors: the one place that maps errors to HTTP statuses and JSON bodies.

use crate::store::StoreError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pacer_core::IncidentError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or invalid; the message names the field and the fix.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error(
        "request body is larger than the limit of {limit} bytes; send a smaller body or raise server.body_limit_bytes"
    )]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::bad("invalid_field", message)
    }
}

/// The machine code of an error answer, left on the response so that middleware (the
/// refused-events counter) can read it without parsing the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode(pub &'static str);

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: String,
    code: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, *code),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            // A new incident without opened_at: the same code as any other missing field.
            ApiError::Store(StoreError::Invalid(IncidentError::MissingOpenedAt)) => {
                (StatusCode::BAD_REQUEST, "missing_field")
            }
            ApiError::Store(StoreError::Invalid(_)) => (StatusCode::BAD_REQUEST, "invalid_field"),
            ApiError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let error = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // The cause goes to the log; the body stays opaque.
            tracing::error!(error = %self, "request failed");
            "internal error; the server log has the cause".to_string()
        } else {
            self.to_string()
        };
        let mut response = (status, Json(ErrorBody { error, code })).into_response();
        response.extensions_mut().insert(ErrorCode(code));
        response
    }
}
