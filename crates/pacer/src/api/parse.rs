//! Request bodies into domain types.

use super::error::ApiError;
use super::input::{Fields, MAX_TEXT_LEN};
use pacer_core::{Change, DeployStatus, Deployment, FaultClass, IncidentUpdate, Timestamp};
use serde_json::Value;

pub const DEPLOYMENT_FIELDS: &[&str] = &[
    "id",
    "service",
    "environment",
    "status",
    "deployed_at",
    "sha",
    "repo",
    "team",
    "changes",
    "lead_time_seconds",
    "hotfix",
    "rollback",
    "branch",
    "labels",
];
pub const CHANGE_FIELDS: &[&str] = &["id", "started_at"];
pub const INCIDENT_FIELDS: &[&str] = &[
    "id",
    "service",
    "environment",
    "opened_at",
    "resolved_at",
    "severity",
    "caused_by_deploy",
    "deployment_id",
];
pub const TRIAGE_FIELDS: &[&str] = &["caused_by_deploy", "deployment_id", "fault_class", "note"];
/// Longest triage note, in characters: room for a paragraph and a link, not a postmortem.
pub const MAX_NOTE_CHARS: usize = 2000;

/// Most changes one deployment may carry.
pub const MAX_CHANGES: usize = 10_000;
/// A lead time longer than this is a bug in the sender (usually the Unix time itself,
/// from an empty `git log A..B` range), not a lead time.
pub const MAX_LEAD_TIME_SECONDS: f64 = 10.0 * 365.25 * 86400.0;

/// Most labels one deployment may carry.
pub const MAX_LABELS: usize = 100;

/// A new id for a deployment that came without one: 32 hex digits, the first 12 the
/// receipt time in Unix milliseconds, the other 20 random (80 bits).
///
/// Time first, so that ids made one after another sort one after another: each new
/// deployment's entry in the id index (and its changes' in theirs, which begin with the
/// id) goes at the end of the index, next to the previous one, instead of into a random
/// page of it. Random ids dirtied one random page of each per deployment: two page
/// writes per request on the ingest path, and a working set that grew with the store
/// (docs/benchmarks.md).
pub fn new_id(prefix: &str, now: Timestamp) -> String {
    let random = fastrand::u128(..) & ((1 << 80) - 1);
    format!(
        "{prefix}_{}{random:020x}",
        crate::timefmt::id_time_prefix(now)
    )
}

pub fn deployment(bytes: &[u8], now: Timestamp) -> Result<Deployment, ApiError> {
    let mut f = Fields::from_body(bytes, DEPLOYMENT_FIELDS)?;
    let id = f.optional_text("id")?.unwrap_or_else(|| new_id("dep", now));
    let service = f.required_text(
        "service",
        "name the deployed service, e.g. \"payments-api\"",
    )?;
    let environment = f.required_text(
        "environment",
        "name the target environment, e.g. \"production\"",
    )?;
    let status = match f.optional_text("status")? {
        None => DeployStatus::Success,
        Some(s) => DeployStatus::parse(&s.to_lowercase()).ok_or_else(|| {
            ApiError::invalid(format!("status {s:?} is not one of: success, failure"))
        })?,
    };
    let deployed_at = f.nullable_time("deployed_at")?.flatten().unwrap_or(now);
    let sha = f.optional_text("sha")?;
    let repo = f.optional_text("repo")?;
    let team = f.optional_text("team")?;
    let lead_time_seconds = f.optional_number("lead_time_seconds")?;
    let raw_changes = f.optional_array("changes")?;
    // Rework: the sender's marks, and what the `metrics.rework` rules look at.
    let hotfix = f.nullable_bool("hotfix")?.flatten().unwrap_or(false);
    let rollback = f.nullable_bool("rollback")?.flatten().unwrap_or(false);
    let branch = f.optional_text("branch")?;
    let labels = labels(f.optional_array("labels")?.unwrap_or_default())?;
    f.finish()?;

    if let Some(lt) = lead_time_seconds {
        if !lt.is_finite() || lt < 0.0 {
            return Err(ApiError::invalid(format!(
                "lead_time_seconds {lt} must be zero or more seconds"
            )));
        }
        if lt > MAX_LEAD_TIME_SECONDS {
            return Err(ApiError::invalid(format!(
                "lead_time_seconds {lt} is longer than 10 years: this is usually the Unix time itself, \
                 because the first-commit timestamp came out empty (e.g. `git log origin/main..HEAD` on main \
                 after a merge); compute it from the first commit of the change's branch"
            )));
        }
    }
    let mut changes = Vec::new();
    if let Some(raw) = raw_changes {
        if lead_time_seconds.is_some() && !raw.is_empty() {
            return Err(ApiError::invalid(
                "send either changes or lead_time_seconds, not both: lead_time_seconds stands for one change",
            ));
        }
        if raw.len() > MAX_CHANGES {
            return Err(ApiError::invalid(format!(
                "changes has {} entries; the limit is {MAX_CHANGES} per deployment",
                raw.len()
            )));
        }
        for (i, value) in raw.into_iter().enumerate() {
            let c = change(value, i)?;
            if deployed_at.seconds_since(c.started_at) > MAX_LEAD_TIME_SECONDS {
                return Err(ApiError::invalid(format!(
                    "changes[{i}].started_at is more than 10 years before deployed_at: an empty \
                     first-commit timestamp (0, from an empty `git log A..B` range) usually causes this; \
                     send the committer time of the first commit of the change's branch"
                )));
            }
            changes.push(c);
        }
    }
    Ok(Deployment {
        id,
        service,
        environment,
        status,
        deployed_at,
        sha,
        repo,
        team,
        changes,
        lead_time_seconds,
        hotfix,
        rollback,
        branch,
        labels,
    })
}

/// `labels`: non-empty plain strings, trimmed; a label sent twice is kept once.
fn labels(raw: Vec<Value>) -> Result<Vec<String>, ApiError> {
    if raw.len() > MAX_LABELS {
        return Err(ApiError::invalid(format!(
            "labels has {} entries; the limit is {MAX_LABELS} per deployment",
            raw.len()
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, value) in raw.into_iter().enumerate() {
        let Value::String(label) = value else {
            return Err(ApiError::invalid(format!(
                "labels[{i}] must be a string, e.g. \"hotfix\"; send labels as an array of strings"
            )));
        };
        let label = label.trim();
        if label.is_empty() {
            return Err(ApiError::invalid(format!(
                "labels[{i}] must not be empty; leave it out instead"
            )));
        }
        if label.len() > MAX_TEXT_LEN || label.chars().any(char::is_control) {
            return Err(ApiError::invalid(format!(
                "labels[{i}] must be plain text of at most {MAX_TEXT_LEN} bytes"
            )));
        }
        if !out.iter().any(|l| l == label) {
            out.push(label.to_string());
        }
    }
    Ok(out)
}

fn change(value: Value, i: usize) -> Result<Change, ApiError> {
    let mut f = Fields::from_value(value, format!("changes[{i}]."), CHANGE_FIELDS)?;
    let id = f.required_text("id", "the change's commit sha or pull request reference")?;
    let started_at = f.required_time("started_at")?;
    f.finish()?;
    Ok(Change { id, started_at })
}

pub fn incident(bytes: &[u8]) -> Result<IncidentUpdate, ApiError> {
    let mut f = Fields::from_body(bytes, INCIDENT_FIELDS)?;
    let id = f.required_text(
        "id",
        "the incident's id in your incident tool, e.g. \"PD-Q1W2E3\"",
    )?;
    let service = f.nullable_text("service")?;
    let environment = f.optional_text("environment")?;
    // Required for a new incident (the store says so); an update may leave it out.
    let opened_at = f.nullable_time("opened_at")?.flatten();
    let resolved_at = f.nullable_time("resolved_at")?;
    let severity = f.nullable_text("severity")?;
    let caused_by_deploy = f.nullable_bool("caused_by_deploy")?;
    let deployment_id = f.nullable_text("deployment_id")?;
    f.finish()?;
    Ok(IncidentUpdate {
        id,
        service,
        environment,
        opened_at,
        resolved_at,
        severity,
        caused_by_deploy,
        deployment_id,
        ..IncidentUpdate::default()
    })
}

pub fn triage(bytes: &[u8], id: String) -> Result<IncidentUpdate, ApiError> {
    let mut f = Fields::from_body(bytes, TRIAGE_FIELDS)?;
    let caused_by_deploy = f.nullable_bool("caused_by_deploy")?;
    let deployment_id = f.nullable_text("deployment_id")?;
    let fault_class = match f.nullable_text("fault_class")? {
        None => None,
        Some(None) => Some(None),
        Some(Some(name)) => Some(Some(FaultClass::parse(&name).ok_or_else(|| {
            ApiError::invalid(format!(
                "fault_class {name:?} is not in the vocabulary; use one of: {} (docs/triage.md)",
                FaultClass::vocabulary()
            ))
        })?)),
    };
    let note = note(f.take("note"))?;
    f.finish()?;
    let update = IncidentUpdate {
        id,
        caused_by_deploy,
        deployment_id,
        fault_class,
        note,
        ..IncidentUpdate::default()
    };
    if !update.carries_triage() {
        return Err(ApiError::bad(
            "missing_field",
            "send at least one of caused_by_deploy (true, false or null), deployment_id, fault_class or note to triage the incident",
        ));
    }
    Ok(update)
}

/// `note`: free text (line breaks allowed), trimmed, at most [`MAX_NOTE_CHARS`]
/// characters; `null` clears it.
fn note(value: Option<Value>) -> Result<Option<Option<String>>, ApiError> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(text)) => {
            let text = text.trim();
            let chars = text.chars().count();
            if text.is_empty() {
                Err(ApiError::invalid(
                    "note must not be empty; send null to clear it",
                ))
            } else if chars > MAX_NOTE_CHARS {
                Err(ApiError::invalid(format!(
                    "note is {chars} characters long; the limit is {MAX_NOTE_CHARS}: link to the postmortem instead of pasting it"
                )))
            } else if text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
            {
                Err(ApiError::invalid(
                    "note contains control characters other than line breaks and tabs; send plain text",
                ))
            } else {
                Ok(Some(Some(text.to_string())))
            }
        }
        Some(_) => Err(ApiError::invalid(
            "note must be a string (or null to clear it)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_32_hex_digits_that_sort_by_time() {
        let at = |ms| new_id("dep", Timestamp::from_millis(ms));
        let id = at(1_764_633_600_000);
        // 2025-12-02T00:00:00Z is 1,764,633,600,000 ms = 0x19ADC5BE000: the first 12 digits.
        assert_eq!(&id[..16], "dep_019adc5be000", "{id}");
        assert_eq!(id.len(), 4 + 32);
        assert!(
            id[4..].chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
            "{id}"
        );
        // One millisecond later sorts after, whatever the random part.
        for _ in 0..100 {
            assert!(at(1_764_633_600_000) < at(1_764_633_600_001));
        }
        // Two ids in the same millisecond still differ (80 random bits).
        assert_ne!(at(1_764_633_600_000), at(1_764_633_600_000));
    }
}
