-- PostgreSQL translation of migrations/sqlite/0001_init.sql (same tables, columns and indexes, so one
-- set of portable SQL serves both backends). Types are PostgreSQL's own: BIGINT (int8)
-- is what the Any driver binds for Rust i64, DOUBLE PRECISION for f64.
-- Times are Unix milliseconds (BIGINT): they sort and compare the same way in SQLite and
-- PostgreSQL. env_key is lower(trim(environment)), so production filters use an index
-- whatever the configured spelling.
CREATE TABLE deployments (
    id                TEXT PRIMARY KEY,
    service           TEXT NOT NULL,
    environment       TEXT NOT NULL,
    env_key           TEXT NOT NULL,
    status            TEXT NOT NULL,
    deployed_at       BIGINT NOT NULL,
    sha               TEXT,
    repo              TEXT,
    team              TEXT,
    lead_time_seconds DOUBLE PRECISION,
    received_at       BIGINT NOT NULL
);
-- (deployed_at, id) in that order: "the latest deployment at or before t" orders by both,
-- and an index that ends in id answers it without sorting every earlier row.
CREATE INDEX deployments_service_time ON deployments (service, deployed_at, id);
CREATE INDEX deployments_time ON deployments (deployed_at, id);

CREATE TABLE deployment_changes (
    deployment_id TEXT NOT NULL REFERENCES deployments (id),
    position      BIGINT NOT NULL,
    service       TEXT NOT NULL,
    change_id     TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    PRIMARY KEY (deployment_id, position)
);
CREATE INDEX deployment_changes_service_change ON deployment_changes (service, change_id);

CREATE TABLE incidents (
    id               TEXT PRIMARY KEY,
    service          TEXT,
    environment      TEXT NOT NULL,
    env_key          TEXT NOT NULL,
    opened_at        BIGINT NOT NULL,
    resolved_at      BIGINT,
    severity         TEXT,
    caused_by_deploy BIGINT,
    deployment_id    TEXT,
    received_at      BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX incidents_service_opened ON incidents (service, opened_at);
CREATE INDEX incidents_opened ON incidents (opened_at);
CREATE INDEX incidents_resolved ON incidents (resolved_at);
CREATE INDEX incidents_deployment ON incidents (deployment_id);

-- Every service any event named, with the team of its latest deployment that names one
-- (latest by deployed_at, then id, so delivery order never matters).
CREATE TABLE services (
    name                 TEXT PRIMARY KEY,
    team                 TEXT,
    team_deployed_at     BIGINT,
    team_deployment_id   TEXT
);
