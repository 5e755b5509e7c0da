-- 0005: what the host API keeps. Durable script state (one row per key of a namespace,
-- versioned from one store-wide counter), the parent of a job enqueued by another job's
-- completion, the HTTP requests of an attempt, and a script version's network grant.

-- One key of one namespace. `value` is JSON text; `version` comes from the meta row
-- 'state_version', bumped at every committed write, so a key's version never repeats,
-- even after a delete and a new write. A row whose `expires_at` has passed reads as
-- absent and is deleted by pruning. A rowid table (not WITHOUT ROWID): values reach
-- 64 KiB, far past the row size that layout suits.
CREATE TABLE state (
    namespace  TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (namespace, key)
);
-- Pruning's search for expired rows.
CREATE INDEX state_expiry ON state (expires_at) WHERE expires_at IS NOT NULL;
INSERT INTO meta (key, value) VALUES ('state_version', 0);

-- The job whose completion enqueued this one. Pruning the parent sets it to NULL (in the
-- pruning step, jobs.rs): the child stays, and only loses the link. Not a foreign key:
-- ON DELETE SET NULL ran a sub-program for every pruned row and halved the pruning rate
-- (measured with the store benchmark), children or not.
ALTER TABLE jobs ADD COLUMN parent_id INTEGER;
-- A parent's children, oldest first; partial, so that jobs without a parent (most)
-- cost the index nothing. Also serves pruning's clearing of the links.
CREATE INDEX jobs_parent ON jobs (parent_id, id) WHERE parent_id IS NOT NULL;

-- JSON array of the attempt's HTTP requests (RequestRecord); NULL when it made none.
ALTER TABLE attempts ADD COLUMN requests TEXT;

-- JSON array of the hosts the version may fetch from, as given to `scripts add
-- --allow-net` (the supervisor parses them); NULL: none.
ALTER TABLE scripts ADD COLUMN allow_net TEXT;
