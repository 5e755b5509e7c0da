//! Exit codes of the `jobvisor` binary. Documented in docs/cli.md; never renumber.

/// Success.
pub const OK: u8 = 0;
/// jobvisor itself failed (cannot start a worker, I/O error).
pub const FAILURE: u8 = 1;
/// Bad command line or bad input (unreadable file, payload that is not JSON).
pub const USAGE: u8 = 2;
/// The job failed in JavaScript: it threw, rejected, never settled, hit an engine limit,
/// or the script could not be loaded.
pub const JOB_ERROR: u8 = 3;
/// The job ran past its timeout and was stopped.
pub const JOB_TIMEOUT: u8 = 4;
/// The job ran out of memory: its worker was stopped by the memory limit.
pub const JOB_OOM: u8 = 5;
/// The worker crashed, broke the protocol or was killed from outside.
pub const JOB_CRASHED: u8 = 6;
/// `enqueue --wait`: the job was cancelled.
pub const JOB_CANCELLED: u8 = 7;
/// `state set|delete --if-version`: the key holds another version; nothing was written.
pub const CONFLICT: u8 = 8;
/// `enqueue --wait --wait-timeout`: the job had not ended when the wait timed out (it
/// goes on). 124 as `timeout(1)` uses.
pub const WAIT_TIMED_OUT: u8 = 124;
/// `serve`: the configuration (or the database it names) is unusable; restarting will not
/// help (EX_CONFIG, for systemd's RestartPreventExitStatus).
pub const CONFIG: u8 = 78;
/// `serve`: another daemon already runs on this state directory or control socket.
pub const ALREADY_RUNNING: u8 = 75;
/// Client commands: the daemon is not running (no control socket).
pub const NOT_RUNNING: u8 = 69;
