//! The dashboard's static files, compiled into the binary: nothing is read at run time and
//! nothing comes from a CDN, so the dashboard works offline.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const STYLE: &str = include_str!("../../assets/dashboard.css");
const SCRIPT: &str = include_str!("../../assets/dashboard.js");

pub async fn serve(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "dashboard.css" => (STYLE, "text/css; charset=utf-8"),
        "dashboard.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => {
            return super::WebError::not_found(format!(
                "no asset {file:?}; the dashboard serves dashboard.css and dashboard.js"
            ))
            .into_response();
        }
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            // Small files that change only with the binary; an hour is enough to spare
            // reloads and short enough for an upgrade.
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
