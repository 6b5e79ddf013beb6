-- SQLite's inbox of acknowledged deployments (see the SQLite migration of this version).
-- PostgreSQL writes deployments straight into their tables and never uses these; they
-- exist so that both schemas keep one version and one shape.
CREATE TABLE deployment_inbox (
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
    received_at       BIGINT NOT NULL,
    marked_hotfix     BIGINT NOT NULL,
    marked_rollback   BIGINT NOT NULL,
    branch            TEXT,
    labels            TEXT
);
CREATE TABLE deployment_change_inbox (
    deployment_id TEXT NOT NULL,
    position      INTEGER NOT NULL,
    service       TEXT NOT NULL,
    change_id     TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    PRIMARY KEY (deployment_id, position)
);
