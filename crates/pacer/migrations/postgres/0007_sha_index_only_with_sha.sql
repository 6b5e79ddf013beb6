-- Only a deployment that names a sha can be a "run before" of a sha (rework: rollbacks),
-- so only those are indexed by (service, sha, ...). Deployments pushed through the
-- Pushgateway recipe carry no sha: each one wrote a leaf page of this index for nothing,
-- on the write path that ingest is bound by (docs/benchmarks.md). The look-back query
-- says `sha IS NOT NULL`, so the planner may use the partial index.
DROP INDEX deployments_service_sha_time;
CREATE INDEX deployments_service_sha_time ON deployments (service, sha, deployed_at, id)
    WHERE sha IS NOT NULL;
