//! Pacer: DORA metrics from real production deployments and real incidents.

pub mod api;
pub mod app;
pub mod cli;
pub mod demo;
pub mod present;
pub mod render;
pub mod server;
pub mod settings;
pub mod store;
pub mod timefmt;
