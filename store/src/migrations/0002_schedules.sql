-- 0002: schedules. Jobs remember the schedule (and slot) that enqueued them; schedules
-- get their catch-up policy, jitter, source and slot bookkeeping; triggers keep the
-- failure streak and release runs held by the `queue` overlap policy in the same
-- transaction that ends a run.

-- The schedule that enqueued the job (NULL for ordinary jobs), and its slot (NULL for a
-- manual run). Kept when the schedule is removed: it is history.
ALTER TABLE jobs ADD COLUMN schedule_name TEXT;
ALTER TABLE jobs ADD COLUMN schedule_slot_ms INTEGER;

-- Recent runs of a schedule, newest first.
CREATE INDEX jobs_schedule ON jobs (schedule_name, id) WHERE schedule_name IS NOT NULL;
-- Live runs of a schedule: the overlap check.
CREATE INDEX jobs_schedule_live ON jobs (schedule_name, id)
    WHERE schedule_name IS NOT NULL
      AND state IN ('scheduled', 'available', 'running', 'retryable');

-- max_failures (0001) is the disable-after-N-failures limit; 0 or NULL = never.
ALTER TABLE schedules ADD COLUMN catch_up TEXT NOT NULL DEFAULT 'coalesce'
    CHECK (catch_up IN ('coalesce', 'skip'));
ALTER TABLE schedules ADD COLUMN jitter_ms INTEGER NOT NULL DEFAULT 0 CHECK (jitter_ms >= 0);
ALTER TABLE schedules ADD COLUMN source TEXT NOT NULL DEFAULT 'cli'
    CHECK (source IN ('config', 'cli'));
-- The last slot consumed (run or skipped). A slot at or before it is never enqueued
-- again, whatever the wall clock says.
ALTER TABLE schedules ADD COLUMN last_slot_ms INTEGER;
ALTER TABLE schedules ADD COLUMN skipped_runs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE schedules ADD COLUMN last_skip TEXT;

CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled = 1;

-- A run of a schedule ended: completed resets the failure streak, discarded extends it
-- and disables the schedule at its limit. Cancelled runs (an operator's decision) leave
-- the streak alone.
CREATE TRIGGER jobs_schedule_outcome AFTER UPDATE OF state ON jobs
    WHEN new.schedule_name IS NOT NULL
     AND new.state IN ('completed', 'discarded')
     AND old.state NOT IN ('completed', 'discarded', 'cancelled')
BEGIN
    UPDATE schedules
       SET failure_streak = CASE WHEN new.state = 'completed' THEN 0 ELSE failure_streak + 1 END,
           disabled_reason = CASE
               WHEN new.state = 'discarded' AND enabled = 1 AND coalesce(max_failures, 0) > 0
                    AND failure_streak + 1 >= max_failures
               THEN printf('disabled after %d consecutive failed runs; last error: %s',
                           failure_streak + 1,
                           coalesce(new.last_error, new.last_outcome, 'unknown'))
               ELSE disabled_reason END,
           next_run_at = CASE
               WHEN new.state = 'discarded' AND enabled = 1 AND coalesce(max_failures, 0) > 0
                    AND failure_streak + 1 >= max_failures
               THEN NULL ELSE next_run_at END,
           enabled = CASE
               WHEN new.state = 'discarded' AND coalesce(max_failures, 0) > 0
                    AND failure_streak + 1 >= max_failures
               THEN 0 ELSE enabled END
     WHERE name = new.schedule_name;
END;

-- A run of a schedule ended: release the run held behind it (overlap policy `queue`),
-- unless another run of the schedule is still live.
CREATE TRIGGER jobs_schedule_release_held AFTER UPDATE OF state ON jobs
    WHEN new.schedule_name IS NOT NULL
     AND new.state IN ('completed', 'discarded', 'cancelled')
     AND old.state NOT IN ('completed', 'discarded', 'cancelled')
BEGIN
    UPDATE jobs SET state = 'available', run_at = coalesce(new.finished_at, new.run_at)
     WHERE id = (SELECT min(id) FROM jobs
                  WHERE schedule_name = new.schedule_name AND state = 'scheduled'
                    AND run_at = 253402300799999)
       AND NOT EXISTS (SELECT 1 FROM jobs
                        WHERE schedule_name = new.schedule_name
                          AND state IN ('scheduled', 'available', 'running', 'retryable')
                          AND run_at <> 253402300799999);
END;
