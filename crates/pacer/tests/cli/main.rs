//! Tests of the `pacer` binary as users run it: a child process per command, a temporary
//! directory as its working directory, and no `PACER_*` variables but the ones a test sets.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod action;
mod config;
mod demo;
mod git_lead_time;
mod import;
mod report;
mod rules;
mod serve;
