//! Parsing requests at the edge: JSON bodies and query strings become domain values here,
//! with errors that name the field and say how to fix it.

use super::error::ApiError;
use crate::timefmt;
use axum::body::Body;
use pacer_core::Timestamp;
use serde_json::{Map, Value};

/// Longest accepted id, name or free-text field.
pub const MAX_TEXT_LEN: usize = 1024;

/// Reads the whole body, refusing more than `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::PayloadTooLarge { limit }
        } else {
            ApiError::bad("bad_body", format!("could not read the request body: {e}"))
        }
    })
}

/// A JSON object whose fields are taken one by one; whatever is left is unknown.
pub struct Fields {
    map: Map<String, Value>,
    /// Prefix for field paths in messages, e.g. `changes[2].`.
    prefix: String,
    known: &'static [&'static str],
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Fields {
    pub fn from_body(bytes: &[u8], known: &'static [&'static str]) -> Result<Fields, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad(
                "bad_json",
                "request body is empty: send a JSON object",
            ));
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            ApiError::bad(
                "bad_json",
                format!("request body is not valid JSON ({e}); send a JSON object"),
            )
        })?;
        Fields::from_value(value, String::new(), known)
    }

    pub fn from_value(
        value: Value,
        prefix: String,
        known: &'static [&'static str],
    ) -> Result<Fields, ApiError> {
        match value {
            Value::Object(map) => Ok(Fields { map, prefix, known }),
            other => Err(ApiError::bad(
                "bad_json",
                format!(
                    "{} must be a JSON object, got {}",
                    if prefix.is_empty() {
                        "request body".to_string()
                    } else {
                        prefix.trim_end_matches('.').to_string()
                    },
                    type_name(&other)
                ),
            )),
        }
    }

    fn path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Absent: `None`; explicit null: `Some(Value::Null)`.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key)
    }

    fn text(&self, key: &str, v: Value) -> Result<String, ApiError> {
        match v {
            Value::String(s) => {
                let s = s.trim().to_string();
                if s.is_empty() {
                    Err(ApiError::invalid(format!(
                        "{} must not be empty",
                        self.path(key)
                    )))
                } else if s.len() > MAX_TEXT_LEN {
                    Err(ApiError::invalid(format!(
                        "{} is {} bytes long; the limit is {MAX_TEXT_LEN}",
                        self.path(key),
                        s.len()
                    )))
                } else if s.chars().any(char::is_control) {
                    Err(ApiError::invalid(format!(
                        "{} contains control characters; send plain text",
                        self.path(key)
                    )))
                } else {
                    Ok(s)
                }
            }
            other => Err(ApiError::invalid(format!(
                "{} must be a string, got {}",
                self.path(key),
                type_name(&other)
            ))),
        }
    }

    pub fn required_text(&mut self, key: &str, hint: &str) -> Result<String, ApiError> {
        match self.take(key) {
            None | Some(Value::Null) => Err(ApiError::bad(
                "missing_field",
                format!("{} is required: {hint}", self.path(key)),
            )),
            Some(v) => self.text(key, v),
        }
    }

    pub fn optional_text(&mut self, key: &str) -> Result<Option<String>, ApiError> {
        Ok(self.nullable_text(key)?.flatten())
    }

    /// Absent: `None`; `null`: `Some(None)`.
    pub fn nullable_text(&mut self, key: &str) -> Result<Option<Option<String>>, ApiError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(v) => Ok(Some(Some(self.text(key, v)?))),
        }
    }

    fn time(&self, key: &str, v: Value) -> Result<Timestamp, ApiError> {
        let path = self.path(key);
        match v {
            Value::String(s) => {
                timefmt::parse_rfc3339(&s).map_err(|e| ApiError::invalid(format!("{path}: {e}")))
            }
            Value::Number(n) => match n.as_i64() {
                Some(secs) => timefmt::from_unix_seconds(secs)
                    .map_err(|e| ApiError::invalid(format!("{path}: {e}"))),
                None => Err(ApiError::invalid(format!(
                    "{path}: {n} is not integer Unix seconds; send whole seconds or an RFC 3339 string"
                ))),
            },
            other => Err(ApiError::invalid(format!(
                "{path} must be an RFC 3339 string or integer Unix seconds, got {}",
                type_name(&other)
            ))),
        }
    }

    pub fn required_time(&mut self, key: &str) -> Result<Timestamp, ApiError> {
        match self.take(key) {
            None | Some(Value::Null) => Err(ApiError::bad(
                "missing_field",
                format!(
                    "{} is required: send an RFC 3339 string or integer Unix seconds",
                    self.path(key)
                ),
            )),
            Some(v) => self.time(key, v),
        }
    }

    pub fn nullable_time(&mut self, key: &str) -> Result<Option<Option<Timestamp>>, ApiError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(v) => Ok(Some(Some(self.time(key, v)?))),
        }
    }

    pub fn nullable_bool(&mut self, key: &str) -> Result<Option<Option<bool>>, ApiError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::Bool(b)) => Ok(Some(Some(b))),
            Some(other) => Err(ApiError::invalid(format!(
                "{} must be true, false or null, got {}",
                self.path(key),
                type_name(&other)
            ))),
        }
    }

    pub fn optional_number(&mut self, key: &str) -> Result<Option<f64>, ApiError> {
        match self.take(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(other) => Err(ApiError::invalid(format!(
                "{} must be a number, got {}",
                self.path(key),
                type_name(&other)
            ))),
        }
    }

    pub fn optional_array(&mut self, key: &str) -> Result<Option<Vec<Value>>, ApiError> {
        match self.take(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(ApiError::invalid(format!(
                "{} must be an array, got {}",
                self.path(key),
                type_name(&other)
            ))),
        }
    }

    /// Fails on any field nobody took: a typo must not silently become a default.
    pub fn finish(self) -> Result<(), ApiError> {
        if let Some(unknown) = self.map.keys().next() {
            return Err(ApiError::bad(
                "unknown_field",
                format!(
                    "unknown field {:?}; known fields are: {}",
                    self.path(unknown),
                    self.known.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// Query-string parameters, each taken once; unknown ones are refused.
pub struct QueryParams {
    pairs: Vec<(String, String)>,
    known: &'static [&'static str],
}

impl QueryParams {
    pub fn parse(
        raw: Option<&str>,
        known: &'static [&'static str],
    ) -> Result<QueryParams, ApiError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (k, _) in &pairs {
            if !known.contains(&k.as_str()) {
                return Err(ApiError::bad(
                    "unknown_parameter",
                    format!(
                        "unknown query parameter {k:?}; known parameters are: {}",
                        known.join(", ")
                    ),
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (k, _) in &pairs {
            if !seen.insert(k.as_str()) {
                return Err(ApiError::bad(
                    "duplicate_parameter",
                    format!("query parameter {k:?} is given more than once; give it once"),
                ));
            }
        }
        Ok(QueryParams { pairs, known })
    }

    /// A non-empty value; an empty `?service=` means "not given".
    pub fn text(&self, key: &str) -> Option<String> {
        debug_assert!(self.known.contains(&key));
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub fn time(&self, key: &str) -> Result<Option<Timestamp>, ApiError> {
        self.text(key)
            .map(|v| {
                timefmt::parse_flexible(&v)
                    .map_err(|e| ApiError::invalid(format!("query parameter {key}: {e}")))
            })
            .transpose()
    }

    pub fn integer(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>, ApiError> {
        self.text(key)
            .map(|v| match v.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid(format!(
                    "query parameter {key}={v:?} must be a whole number from {min} to {max}"
                ))),
            })
            .transpose()
    }

    pub fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.text(key)
            .map(|v| match v.as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(ApiError::invalid(format!(
                    "query parameter {key}={v:?} must be true or false"
                ))),
            })
            .transpose()
    }
}
