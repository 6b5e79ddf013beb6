//! Tests of the `pacer` binary as users run it: a child process per command, a temporary
//! directory as its working directory, and no `PACER_*` variables but the ones a test sets.

mod support;

mod action;
mod config;
mod demo;
mod git_lead_time;
mod report;
mod rules;
mod serve;
