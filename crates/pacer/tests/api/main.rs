//! Integration tests of the HTTP API: a real server on port 0 with a fresh SQLite file
//! per test (see `helpers::spawn_app`).

mod helpers;

mod bad_input;
mod deployments;
mod differential;
mod grafana;
mod incident_webhooks;
mod incidents;
mod lists;
mod metrics;
mod overview;
mod prometheus_metrics;
mod push;
mod rework;
mod scopes;
mod triage;
mod webhooks;
