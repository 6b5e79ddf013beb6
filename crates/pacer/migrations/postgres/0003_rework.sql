-- PostgreSQL translation of migrations/sqlite/0003_rework.sql (same tables, columns and indexes, so one
-- set of portable SQL serves both backends). Types are PostgreSQL's own: BIGINT (int8)
-- is what the Any driver binds for Rust i64, DOUBLE PRECISION for f64.
-- Rework rate (DORA 2024): what makes a deployment unplanned. The sender's marks are
-- 0/1 integers (portable; the Any driver carries integers natively); labels are a JSON
-- array of strings, NULL when there are none. Column names avoid the SQL keyword ROLLBACK.
ALTER TABLE deployments ADD COLUMN marked_hotfix BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN marked_rollback BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN branch TEXT;
ALTER TABLE deployments ADD COLUMN labels TEXT;
-- "Has this service run this sha before the window?" is one index seek per window
-- deployment, not a scan of the service's history.
CREATE INDEX deployments_service_sha ON deployments (service, sha);
