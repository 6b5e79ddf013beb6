-- PostgreSQL translation of migrations/sqlite/0004_triage.sql (same tables, columns and indexes, so one
-- set of portable SQL serves both backends). Types are PostgreSQL's own: BIGINT (int8)
-- is what the Any driver binds for Rust i64, DOUBLE PRECISION for f64.
-- Triage by people: a fault class from a fixed vocabulary, a note, and who triaged the
-- incident last and when. triaged_by set means a person triaged it, so an incident
-- tool's later delivery never overwrites the triage fields (docs/triage.md).
ALTER TABLE incidents ADD COLUMN fault_class TEXT;
ALTER TABLE incidents ADD COLUMN note TEXT;
ALTER TABLE incidents ADD COLUMN triaged_by TEXT;
ALTER TABLE incidents ADD COLUMN triaged_at BIGINT;
-- The audit log of triage: one row per PATCH that changed something, written in the same
-- transaction as the change. changes is a JSON object {field: {"old": v, "new": v}}.
CREATE TABLE incident_triage_log (
    incident_id TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    changes     TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
);
