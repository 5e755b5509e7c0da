-- 0004: owners. A claim records the node that made it (with the epoch it already
-- records), so that a supervisor's recovery releases at once only its own node's earlier
-- runs and leaves another node's live lease alone. NULL on jobs claimed before this
-- migration: they were claimed by the single supervisor that used the file, and count as
-- this node's.
ALTER TABLE jobs ADD COLUMN owner_node TEXT;

-- The running jobs of one owner: lease renewal and recovery read only these.
CREATE INDEX jobs_running ON jobs (owner_node, epoch) WHERE state = 'running';
