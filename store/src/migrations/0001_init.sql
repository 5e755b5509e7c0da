-- 0001: initial schema. Applied in one transaction by schema.rs; never edit a released
-- migration, add a new numbered file instead.

-- 'JOBV': lets the open check tell a jobvisor database from another application's.
PRAGMA application_id = 1246708310;

-- Key/value facts about this database: the schema version (mirrors PRAGMA user_version)
-- and the supervisor epoch, bumped at every open and stamped on every claim.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('schema_version', 1), ('epoch', 0);

-- Immutable script versions. A version is identified by (name, sha256(source)); the
-- current version of a name is the one script_heads points at.
CREATE TABLE scripts (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (name, hash)
);

CREATE TABLE script_heads (
    name       TEXT    PRIMARY KEY NOT NULL,
    script_id  INTEGER NOT NULL REFERENCES scripts (id),
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per queue ever used. `running` is maintained by the triggers below so that the
-- concurrency cap never needs a count over jobs on the claim path.
CREATE TABLE queues (
    name        TEXT    PRIMARY KEY NOT NULL,
    paused      INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    concurrency INTEGER CHECK (concurrency IS NULL OR concurrency >= 0),
    running     INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    queue            TEXT    NOT NULL,
    -- The script version resolved at enqueue time.
    script_id        INTEGER NOT NULL REFERENCES scripts (id),
    state            TEXT    NOT NULL CHECK (state IN ('scheduled', 'available', 'running',
                         'retryable', 'completed', 'discarded', 'cancelled')),
    priority         INTEGER NOT NULL DEFAULT 0,
    -- Not before this instant (ms since the Unix epoch). For retryable jobs: the backoff time.
    run_at           INTEGER NOT NULL,
    -- Incremented at claim; refunded for a drain interruption.
    attempt          INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
    timeout_ms       INTEGER CHECK (timeout_ms IS NULL OR timeout_ms > 0),
    backoff_base_ms  INTEGER CHECK (backoff_base_ms IS NULL OR backoff_base_ms >= 0),
    backoff_cap_ms   INTEGER CHECK (backoff_cap_ms IS NULL OR backoff_cap_ms >= 0),
    unique_key       TEXT,
    payload          TEXT    NOT NULL,
    result           TEXT,
    -- Lease of the current attempt: the epoch that claimed it and until when.
    epoch            INTEGER,
    lease_until      INTEGER,
    attempted_at     INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    last_outcome     TEXT,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER
);

-- The one hot index: claims seek it per queue in priority -> run_at -> id order.
CREATE INDEX jobs_claim ON jobs (queue, priority DESC, run_at, id) WHERE state = 'available';
-- Delayed and backing-off jobs, promoted to 'available' when run_at passes.
CREATE INDEX jobs_waiting ON jobs (run_at) WHERE state IN ('scheduled', 'retryable');
-- Uniqueness spans live jobs only: once a job is finished its key may be used again.
CREATE UNIQUE INDEX jobs_unique ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state NOT IN ('completed', 'discarded', 'cancelled');

CREATE TRIGGER jobs_running_on_update AFTER UPDATE OF state ON jobs
    WHEN (old.state = 'running') <> (new.state = 'running')
BEGIN
    UPDATE queues SET running = running + (CASE WHEN new.state = 'running' THEN 1 ELSE -1 END)
     WHERE name = new.queue;
END;

CREATE TRIGGER jobs_running_on_delete AFTER DELETE ON jobs WHEN old.state = 'running'
BEGIN
    UPDATE queues SET running = running - 1 WHERE name = old.queue;
END;

-- One row per ended attempt, written together with the outcome.
CREATE TABLE attempts (
    id                INTEGER PRIMARY KEY,
    job_id            INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt           INTEGER NOT NULL,
    epoch             INTEGER,
    worker_pid        INTEGER,
    started_at        INTEGER,
    finished_at       INTEGER NOT NULL,
    duration_ms       INTEGER,
    outcome           TEXT    NOT NULL CHECK (outcome IN ('completed', 'js_error', 'timeout',
                          'oom', 'crash', 'protocol_error', 'killed', 'interrupted',
                          'lease_expired', 'supervisor_restart')),
    error_name        TEXT,
    error_message     TEXT,
    error_stack       TEXT,
    logs              TEXT    NOT NULL DEFAULT '',
    logs_truncated    INTEGER NOT NULL DEFAULT 0 CHECK (logs_truncated IN (0, 1)),
    cpu_ms            INTEGER,
    peak_memory_bytes INTEGER
);
CREATE INDEX attempts_job ON attempts (job_id);

-- Interval and cron schedules. The scheduler issue fills in the logic.
CREATE TABLE schedules (
    name            TEXT    PRIMARY KEY NOT NULL,
    script_name     TEXT    NOT NULL,
    payload         TEXT    NOT NULL DEFAULT '{}',
    queue           TEXT    NOT NULL DEFAULT 'default',
    kind            TEXT    NOT NULL CHECK (kind IN ('interval', 'cron')),
    spec            TEXT    NOT NULL,
    time_zone       TEXT,
    overlap         TEXT    NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'queue', 'allow')),
    priority        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER,
    timeout_ms      INTEGER,
    enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    disabled_reason TEXT,
    failure_streak  INTEGER NOT NULL DEFAULT 0,
    max_failures    INTEGER,
    next_run_at     INTEGER,
    last_run_at     INTEGER,
    last_job_id     INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) WITHOUT ROWID;
