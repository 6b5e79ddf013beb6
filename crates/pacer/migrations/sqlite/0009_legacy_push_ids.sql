-- Pushed deployments' ids now begin with the deployment time (pushgateway::deployment_id),
-- so that new entries go at the end of the id index. Ids stored before this version were
-- a hash alone: a re-push of one of those deployments must still find it. This remembers
-- the latest deployment time any such id can have: the push endpoint looks for the old id
-- only for a deployment at or before it (NULL: the store holds no old push id, never look).
-- Written once, here: nothing makes old ids any more.
CREATE TABLE legacy_push_ids (
    stored_until BIGINT
);
-- Newest first along the (deployed_at, id) index, which holds the id: the scan stops at the
-- latest push id, usually among the last rows. (`+id` keeps SQLite off the id index, whose
-- range would read the row of every push id, at random, on a store of millions.) 'push`' is
-- the first string after every 'push_...' in binary order.
INSERT INTO legacy_push_ids (stored_until)
VALUES ((SELECT deployed_at FROM deployments WHERE +id >= 'push_' AND +id < 'push`'
         ORDER BY deployed_at DESC, id DESC LIMIT 1));
