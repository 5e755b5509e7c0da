-- 0003: the lifecycle rules move from triggers into the store's code (policy.rs, applied
-- by the writer in the same transaction as the state change): the queues' running
-- counters, a schedule's failure streak and auto-disable, and the release of a held run.
-- The data is unchanged; an existing database keeps its counters, streaks and held runs.

DROP TRIGGER IF EXISTS jobs_running_on_update;
DROP TRIGGER IF EXISTS jobs_running_on_delete;
DROP TRIGGER IF EXISTS jobs_schedule_outcome;
DROP TRIGGER IF EXISTS jobs_schedule_release_held;
