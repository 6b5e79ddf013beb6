//! End-to-end tests from outside: a `pacer serve` child process driven by the tools users
//! run beside it (the handbook's shell steps with curl and git, Debian's Prometheus).

mod prometheus;
mod recipe;
mod support;
