//! Crash safety: real `pacer serve` child processes on a SQLite file in a temp dir, killed
//! (SIGKILL) or stopped (SIGTERM) under concurrent ingest, then restarted on the same file.
//! A 2xx must mean the event is on disk: after every restart each acknowledged event is
//! there exactly once and `PRAGMA integrity_check` says ok (docs/reliability.md).

mod sigkill;
mod sigterm;
mod support;
