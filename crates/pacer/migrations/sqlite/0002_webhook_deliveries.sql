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
