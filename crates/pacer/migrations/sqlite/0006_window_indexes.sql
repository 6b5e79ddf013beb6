-- Indexes that let a window load answer its two look-backs with seeks (measured at 10^7
-- stored events, docs/benchmarks.md).
--
-- "Did this service run this sha before the window?" (rework: rollbacks) asks for the
-- latest such deployment at or before a time. With (service, sha) alone SQLite preferred
-- (service, deployed_at) and walked the service's whole history backwards, reading each
-- row for its sha: 23 ms per service request at 10^7 stored events. With the time and id
-- in the index the answer is one seek, already in the order asked for.
DROP INDEX deployments_service_sha;
CREATE INDEX deployments_service_sha_time ON deployments (service, sha, deployed_at, id);
-- "Did an earlier production deployment of this service carry this change?" (a change
-- counts in its first) joins each change of the window to the other rows of the same
-- (service, change_id). With the deployment id in the index that side of the join never
-- reads the table.
CREATE INDEX deployment_changes_carriers ON deployment_changes (service, change_id, deployment_id);
DROP INDEX deployment_changes_service_change;
