-- PostgreSQL translation of migrations/sqlite/0005_incident_events.sql (same tables, columns and indexes, so one
-- set of portable SQL serves both backends). Types are PostgreSQL's own: BIGINT (int8)
-- is what the Any driver binds for Rust i64, DOUBLE PRECISION for f64.
-- Incident-tool deliveries (PagerDuty, OpsGenie, Alertmanager) already processed, so a
-- re-delivery answers "already processed" and changes nothing. Written in the same
-- transaction as the incident change it made.
CREATE TABLE incident_deliveries (
    source        TEXT NOT NULL,
    delivery_key  TEXT NOT NULL,
    incident_id   TEXT NOT NULL,
    received_at   BIGINT NOT NULL,
    PRIMARY KEY (source, delivery_key)
);
-- Per incident fed by a tool: the event time (Unix ms) of the newest event applied to each
-- part of its state. Tools deliver out of order (resolved before triggered); an older
-- event never overwrites what a newer one set. A table of its own, so the incidents
-- table (and its triage columns) stays as the API writes it.
CREATE TABLE incident_event_state (
    incident_id  TEXT PRIMARY KEY,
    state_at     BIGINT,
    severity_at  BIGINT,
    service_at   BIGINT
);
