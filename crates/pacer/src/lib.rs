//! Pacer: DORA metrics from real production deployments and real incidents.

pub mod api;
pub mod app;
pub mod cli;
pub mod demo;
pub mod exposition;
pub mod git;
pub mod github;
pub mod http;
pub mod import;
pub mod present;
pub mod pushgateway;
pub mod render;
pub mod rules;
pub mod server;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod timefmt;
pub mod web;
