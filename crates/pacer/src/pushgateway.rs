//! The handbook recipe's Pushgateway traffic, read as events.
//!
//! The recipe pushes gauges; Pacer records what they stand for. This module is pure: it
//! turns one push (grouping key + text-format body) into deployments, lead times and
//! incident reports, or says precisely what is wrong. The handler applies them.
//!
//! - `dora_deployment_timestamp{repo, env} <unix seconds>`: a successful deployment of the
//!   service `repo` to `env` at that time. Its id is derived from (service, environment,
//!   time), so a re-push of the same value (a retried CI step) finds it already recorded,
//!   and two deployments a second apart are two deployments.
//! - `dora_lead_time_seconds{repo, env} <seconds>`: the lead time of the latest deployment
//!   of `repo` to `env` (the deployment the same CI job pushed just before).
//! - `dora_incident_duration_seconds{id} <seconds>` and `dora_incident_caused_by_deploy{id}
//!   <0|1>`: a production incident resolved at push time, opened `duration` earlier, triaged
//!   as the flag says.
//!
//! Any other family is accepted and ignored (and named in the answer), as the Pushgateway
//! would store it without Pacer having a use for it.

use crate::api::parse::MAX_LEAD_TIME_SECONDS;
use pacer_core::{DeployStatus, Deployment, Timestamp};
use promtext::{Exposition, Sample};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

pub const DEPLOYMENT_TIMESTAMP: &str = "dora_deployment_timestamp";
pub const LEAD_TIME: &str = "dora_lead_time_seconds";
pub const INCIDENT_DURATION: &str = "dora_incident_duration_seconds";
pub const INCIDENT_CAUSED_BY_DEPLOY: &str = "dora_incident_caused_by_deploy";

/// Earliest deployment time taken from a push: 2000-01-01. Anything earlier is a unit or
/// arithmetic slip in the CI step, not a deployment.
const EARLIEST_DEPLOYMENT_SECONDS: f64 = 946_684_800.0;
/// How far in the future a pushed deployment time may lie (CI runner clock skew).
const FUTURE_TOLERANCE_SECONDS: f64 = 86_400.0;

/// A lead time to attach to the latest deployment of `service` in `environment`.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadTimePush {
    pub service: String,
    pub environment: String,
    pub seconds: f64,
    pub line: usize,
}

/// A lead time that cannot be one; the push's other events are still recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedLeadTime {
    pub service: String,
    pub environment: String,
    pub line: usize,
    pub message: String,
}

/// What an incident push says; merged with any stored state by the handler.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentPush {
    pub id: String,
    pub service: Option<String>,
    pub environment: String,
    pub duration_seconds: Option<f64>,
    pub caused_by_deploy: Option<bool>,
}

/// One push, read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Push {
    pub deployments: Vec<Deployment>,
    pub lead_times: Vec<LeadTimePush>,
    pub refused_lead_times: Vec<RefusedLeadTime>,
    pub incidents: Vec<IncidentPush>,
    /// Families Pacer does not use, by name.
    pub ignored_families: BTreeSet<String>,
}

/// Why a push was refused as a whole; nothing of it is recorded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PushError(pub String);

/// A sample's label, else the grouping key's (the Pushgateway adds the grouping labels
/// to every pushed sample).
fn label<'a>(sample: &'a Sample, grouping: &'a [(String, String)], name: &str) -> Option<&'a str> {
    sample
        .labels
        .iter()
        .chain(grouping.iter())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn at(sample: &Sample) -> String {
    format!("line {} ({})", sample.line, sample.name)
}

/// The service a sample names: its `service` label, else `repo` (the recipe's).
fn service_of(
    sample: &Sample,
    grouping: &[(String, String)],
) -> Result<(String, Option<String>), PushError> {
    let repo = label(sample, grouping, "repo").map(String::from);
    match label(sample, grouping, "service")
        .map(String::from)
        .or(repo.clone())
    {
        Some(service) => Ok((service, repo)),
        None => Err(PushError(format!(
            "{}: no repo label: name the deployed service, e.g. {}{{repo=\"acme/payments\",env=\"production\"}}",
            at(sample),
            sample.name
        ))),
    }
}

/// The environment a deployment sample names. Required: guessing production would let
/// staging pushes into the figures.
fn environment_of(sample: &Sample, grouping: &[(String, String)]) -> Result<String, PushError> {
    label(sample, grouping, "env")
        .or_else(|| label(sample, grouping, "environment"))
        .map(String::from)
        .ok_or_else(|| {
            PushError(format!(
                "{}: no env label: say which environment was deployed, e.g. env=\"production\" \
                 (Pacer never assumes production)",
                at(sample)
            ))
        })
}

/// The stable id of a pushed deployment: the same (service, environment, time) is the
/// same deployment, however often it is pushed. `push_` and 24 hex digits: the deployment
/// time in Unix milliseconds (12 digits), then 48 bits of a SHA-256 of the three.
///
/// Time first, so that pushes, which arrive about in the order they happened, add their
/// entries at the end of the id index instead of into a random page of it: one page write
/// less per push on the ingest path, and a working set that does not grow with the store
/// (docs/benchmarks.md). Pacer before schema version 9 made [`legacy_deployment_id`]s;
/// the push endpoint still finds those (`Store::legacy_push_ids_until`).
pub fn deployment_id(service: &str, environment: &str, deployed_at: Timestamp) -> String {
    let digest = id_digest(service, environment, deployed_at);
    // Push times are refused beyond 1e11 s (1e14 ms < 2^47): the prefix holds every one.
    format!(
        "push_{}{}",
        crate::timefmt::id_time_prefix(deployed_at),
        hex::encode(&digest[..6])
    )
}

/// The id Pacer gave the same pushed deployment before schema version 9: `push_` and the
/// first 24 hex digits of the SHA-256, which scattered the ids over the index.
pub fn legacy_deployment_id(service: &str, environment: &str, deployed_at: Timestamp) -> String {
    let digest = id_digest(service, environment, deployed_at);
    format!("push_{}", hex::encode(&digest[..12]))
}

fn id_digest(service: &str, environment: &str, deployed_at: Timestamp) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(service.as_bytes());
    hash.update([0]);
    hash.update(environment.to_lowercase().as_bytes());
    hash.update([0]);
    hash.update(deployed_at.millis().to_be_bytes());
    hash.finalize().into()
}

fn deployment(
    sample: &Sample,
    grouping: &[(String, String)],
    now: Timestamp,
) -> Result<Deployment, PushError> {
    let (service, repo) = service_of(sample, grouping)?;
    let environment = environment_of(sample, grouping)?;
    let v = sample.value;
    let now_seconds = now.millis() as f64 / 1000.0;
    if !v.is_finite() {
        return Err(PushError(format!(
            "{}: {v} is not a time: push the deployment's Unix time in seconds, e.g. $(date +%s)",
            at(sample)
        )));
    }
    if v > 1e11 {
        return Err(PushError(format!(
            "{}: {v} looks like Unix milliseconds; push Unix seconds, e.g. $(date +%s)",
            at(sample)
        )));
    }
    if v < EARLIEST_DEPLOYMENT_SECONDS {
        return Err(PushError(format!(
            "{}: {v} is before 2000-01-01: push the deployment's Unix time in seconds, e.g. $(date +%s)",
            at(sample)
        )));
    }
    if v > now_seconds + FUTURE_TOLERANCE_SECONDS {
        return Err(PushError(format!(
            "{}: {v} is more than a day in the future (now is {}): check the CI runner's clock",
            at(sample),
            now_seconds.floor()
        )));
    }
    let deployed_at = Timestamp::from_millis((v * 1000.0).round() as i64);
    Ok(Deployment {
        id: deployment_id(&service, &environment, deployed_at),
        service,
        environment,
        status: DeployStatus::Success,
        deployed_at,
        sha: None,
        repo,
        team: None,
        changes: Vec::new(),
        lead_time_seconds: None,
        // The recipe's gauges carry no rework marks.
        ..Deployment::default()
    })
}

/// Checks a pushed lead time; `Err` carries the message that explains the refusal.
pub fn check_lead_time(seconds: f64, now: Timestamp) -> Result<(), String> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!(
            "lead time {seconds} must be zero or more seconds: push DEPLOY_TS - FIRST_COMMIT_TS"
        ));
    }
    if seconds > MAX_LEAD_TIME_SECONDS {
        let now_seconds = now.millis() as f64 / 1000.0;
        let cause = if (seconds - now_seconds).abs() <= 7.0 * 86_400.0 {
            format!(
                "it equals the deploy timestamp (now is {}), so FIRST_COMMIT_TS was empty",
                now_seconds.floor()
            )
        } else {
            "that is no lead time; usually FIRST_COMMIT_TS was empty or 0".to_string()
        };
        return Err(format!(
            "lead time {seconds} s is longer than 10 years: {cause}. On main after a merge, \
             `git log origin/main..HEAD` is empty, so DEPLOY_TS - FIRST_COMMIT_TS is the Unix time \
             itself. Take the first commit of the merged branch instead (e.g. \
             `git log --reverse --format=%ct HEAD^1..HEAD^2 | head -1` for a merge commit), or let \
             `pacer deployment record` compute it. The deployment itself is recorded; only this \
             lead time is refused"
        ));
    }
    Ok(())
}

fn incident(
    sample: &Sample,
    grouping: &[(String, String)],
    pushes: &mut Vec<IncidentPush>,
) -> Result<(), PushError> {
    let id = label(sample, grouping, "id")
        .or_else(|| label(sample, grouping, "incident_id"))
        .or_else(|| label(sample, grouping, "instance"))
        .map(String::from)
        .ok_or_else(|| {
            PushError(format!(
                "{}: no id label: name the incident, e.g. {}{{id=\"Q1W2E3R4T5Y6U7\"}}",
                at(sample),
                sample.name
            ))
        })?;
    let service = label(sample, grouping, "service")
        .or_else(|| label(sample, grouping, "repo"))
        .map(String::from);
    // The recipe's incident gauges carry no env label: its incidents are production ones.
    let environment = label(sample, grouping, "env")
        .or_else(|| label(sample, grouping, "environment"))
        .unwrap_or("production")
        .to_string();
    let index = match pushes.iter().position(|p| p.id == id) {
        Some(i) => i,
        None => {
            pushes.push(IncidentPush {
                id: id.clone(),
                service: None,
                environment: environment.clone(),
                duration_seconds: None,
                caused_by_deploy: None,
            });
            pushes.len() - 1
        }
    };
    let push = &mut pushes[index];
    if service.is_some() {
        push.service = service;
    }
    push.environment = environment;
    let v = sample.value;
    if sample.name == INCIDENT_DURATION {
        if !v.is_finite() || v < 0.0 {
            return Err(PushError(format!(
                "{}: duration {v} must be zero or more seconds: push RESOLVED_AT - TRIGGERED_AT",
                at(sample)
            )));
        }
        if v > MAX_LEAD_TIME_SECONDS {
            return Err(PushError(format!(
                "{}: duration {v} s is longer than 10 years: TRIGGERED_AT was probably empty; \
                 push RESOLVED_AT - TRIGGERED_AT in seconds",
                at(sample)
            )));
        }
        push.duration_seconds = Some(v);
    } else {
        push.caused_by_deploy = Some(if v == 1.0 {
            true
        } else if v == 0.0 {
            false
        } else {
            return Err(PushError(format!(
                "{}: {v} is not a triage flag: push 1 (caused by a deployment) or 0 (not)",
                at(sample)
            )));
        });
    }
    Ok(())
}

/// Reads one push. `grouping` is the grouping key from the URL (`job` first).
pub fn interpret(
    exposition: &Exposition,
    grouping: &[(String, String)],
    now: Timestamp,
) -> Result<Push, PushError> {
    let mut push = Push::default();
    for sample in &exposition.samples {
        match sample.name.as_str() {
            DEPLOYMENT_TIMESTAMP => {
                let d = deployment(sample, grouping, now)?;
                if !push.deployments.iter().any(|known| known.id == d.id) {
                    push.deployments.push(d);
                }
            }
            LEAD_TIME => {
                let (service, _) = service_of(sample, grouping)?;
                let environment = environment_of(sample, grouping)?;
                match check_lead_time(sample.value, now) {
                    Ok(()) => push.lead_times.push(LeadTimePush {
                        service,
                        environment,
                        seconds: sample.value,
                        line: sample.line,
                    }),
                    Err(message) => push.refused_lead_times.push(RefusedLeadTime {
                        service,
                        environment,
                        line: sample.line,
                        message,
                    }),
                }
            }
            INCIDENT_DURATION | INCIDENT_CAUSED_BY_DEPLOY => {
                incident(sample, grouping, &mut push.incidents)?;
            }
            _ => {
                push.ignored_families
                    .insert(exposition.family_of(&sample.name));
            }
        }
    }
    // TYPE or HELP lines of families with no sample are ignored too.
    for name in exposition.types.keys().chain(exposition.help.keys()) {
        if ![
            DEPLOYMENT_TIMESTAMP,
            LEAD_TIME,
            INCIDENT_DURATION,
            INCIDENT_CAUSED_BY_DEPLOY,
        ]
        .contains(&name.as_str())
        {
            push.ignored_families.insert(name.clone());
        }
    }
    Ok(push)
}

#[cfg(test)]
mod id_tests {
    use super::*;

    const AT: i64 = 1_764_633_600_000; // 2025-12-02T00:00:00Z = 0x19ADC5BE000 ms

    #[test]
    fn push_ids_begin_with_the_time_and_sort_by_it() {
        let id = deployment_id("acme/payments", "Production", Timestamp::from_millis(AT));
        assert_eq!(id.len(), 5 + 24, "{id}");
        assert!(id.starts_with("push_019adc5be000"), "{id}");
        // The hash part is the legacy id's first 12 digits (the same SHA-256).
        assert_eq!(&id[17..], "02f3984a7a12", "{id}");
        // Environment spelling does not matter; service and time do.
        assert_eq!(
            id,
            deployment_id("acme/payments", "production", Timestamp::from_millis(AT))
        );
        assert_ne!(
            id,
            deployment_id("acme/orders", "production", Timestamp::from_millis(AT))
        );
        let later = deployment_id("acme/aaa", "production", Timestamp::from_millis(AT + 1));
        assert!(id < later, "{id} {later}");
    }

    #[test]
    fn legacy_push_ids_are_what_pacer_made_before_schema_version_9() {
        // The id Pacer at schema version 8 made for this deployment.
        assert_eq!(
            legacy_deployment_id("acme/payments", "Production", Timestamp::from_millis(AT)),
            "push_02f3984a7a12fbe183080a06"
        );
    }
}
