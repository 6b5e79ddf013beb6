-- PostgreSQL translation of migrations/sqlite/0002_webhook_deliveries.sql (same tables, columns and indexes, so one
-- set of portable SQL serves both backends). Types are PostgreSQL's own: BIGINT (int8)
-- is what the Any driver binds for Rust i64, DOUBLE PRECISION for f64.
-- Vendor webhook deliveries already processed, so that a re-delivery (GitHub's
-- X-GitHub-Delivery, GitLab's Idempotency-Key, Flux's object and revision, ...) answers
-- "already processed" and stores nothing. Written in the same transaction as the
-- deployment it recorded: a delivery row never exists without its deployment.
CREATE TABLE webhook_deliveries (
    source        TEXT NOT NULL,
    delivery_key  TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    received_at   BIGINT NOT NULL,
    PRIMARY KEY (source, delivery_key)
);
