-- Deployments acknowledged but not yet in `deployments` (store/writer/sqlite_thread.rs).
-- An ingest commit appends here: a few pages at the end of two small tables, instead of a
-- leaf of each of the three indexes that begin with the service, at random places of
-- them, per deployment (137 pages per commit of ~38 API deployments). The writer moves
-- the rows into `deployments` and `deployment_changes`: in short steps between batches
-- once 16,384 have gathered, service by service, so that a service's rows share leaves;
-- and all at once before any other kind of write and whenever an event read asks for it.
-- The event readers ask first whenever the inbox holds anything, so no read misses an
-- acknowledged deployment. Rows left by a stop are moved when the store is next opened.
-- Same columns as `deployments` and `deployment_changes`.
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
