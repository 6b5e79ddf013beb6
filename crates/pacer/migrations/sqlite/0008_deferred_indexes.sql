-- Indexes `pacer import` dropped to load a history into an empty store and builds again
-- at its end (sorted, in one pass, instead of one random page write per row): name and
-- CREATE statement. A row left here by an import that stopped early is built when the
-- store is next opened. SQLite only; the table exists on PostgreSQL so both schemas keep
-- one version.
CREATE TABLE deferred_indexes (
    name TEXT PRIMARY KEY,
    sql  TEXT NOT NULL
);
