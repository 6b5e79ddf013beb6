//! Integration tests of the HTTP API: a real server on port 0 with a fresh SQLite file
//! and a fresh PostgreSQL database per test, mirrored (see `helpers::spawn_app` and
//! `common::backends`).

#[path = "../common/mod.rs"]
mod common;
mod helpers;

mod auth;
mod bad_input;
mod deployments;
mod differential;
mod grafana;
mod incident_webhooks;
mod incidents;
mod limits;
mod lists;
mod metrics;
mod overview;
mod prometheus_metrics;
mod push;
mod rework;
mod scopes;
mod triage;
mod webhooks;
