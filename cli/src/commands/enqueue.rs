//! `jobvisor enqueue SCRIPT`: add one job to the queue (or, with `--payloads`, one per
//! line of a JSON Lines file, in all-or-nothing batches); prints the ids. Values are
//! checked against the documented maxima here, before anything is sent.

use std::io::Write as _;

use jobvisor_protocol::control::{AttemptOutcome, EnqueueJob, JobState, MAX_ENQUEUE_BATCH};
use serde::Serialize;

use crate::args::{Output, Target};
use crate::client::{Client, ClientError};
use crate::progress::{Watch, with_progress};
use jobvisor_supervisor::cli::run::read_payload;
use jobvisor_supervisor::config::MAX_PAYLOAD_LIMIT;
use jobvisor_supervisor::exit_code;
use jobvisor_supervisor::limits::{MAX_ATTEMPTS, MAX_DELAY};
use jobvisor_supervisor::units::{format_duration, parse_delay, parse_duration, parse_timeout};

#[derive(Debug, clap::Args)]
pub struct EnqueueArgs {
    /// The script (by name) the job runs.
    pub script: String,
    /// The payload: JSON text, `@FILE`, or `-` for stdin.
    #[arg(long, default_value = "{}")]
    pub payload: String,
    /// Many jobs: one JSON payload per line of FILE (`-` for stdin), the other options
    /// applying to each. Sent in batches that are each all or nothing; prints one id per
    /// line.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["payload", "wait", "unique"])]
    pub payloads: Option<String>,
    /// With --payloads: skip the lines before line N (to enqueue the rest of a file after
    /// a run that stopped half-way; the error of that run names N).
    #[arg(long, value_name = "N", requires = "payloads",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub from_line: Option<u64>,
    /// With --payloads: give the job of line N the unique key PREFIX:N, so that running
    /// the same file again enqueues nothing twice while its jobs are live.
    #[arg(long, value_name = "PREFIX", requires = "payloads")]
    pub unique_prefix: Option<String>,
    /// Queue name.
    #[arg(long)]
    pub queue: Option<String>,
    /// Higher runs first.
    #[arg(long, allow_hyphen_values = true)]
    pub priority: Option<i32>,
    /// Run no earlier than this from now (e.g. 5m; at most 3650d).
    #[arg(long, value_parser = parse_delay, conflicts_with = "at")]
    pub delay: Option<std::time::Duration>,
    /// Run no earlier than this time (RFC 3339, e.g. 2026-11-23T02:00:00Z; at most 3650d
    /// ahead). A time in the past runs now, with a warning.
    #[arg(long, value_parser = parse_rfc3339)]
    pub at: Option<i64>,
    /// Attempts the job may use (1 to 1000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_ATTEMPTS)))]
    pub max_attempts: Option<u32>,
    /// Per-attempt timeout (e.g. 30s; at most 30d).
    #[arg(long, value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,
    /// At most one live job per key: a second enqueue returns the first job's id.
    #[arg(long)]
    pub unique: Option<String>,
    /// Wait for the job to end (however long it runs) and print its result; the exit code
    /// says how it ended (0 completed, 3 JavaScript error, 4 timeout, 5 out of memory,
    /// 6 crash, 7 cancelled). Shows progress on stderr when it is a terminal.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up waiting after this long (e.g. 10m) and exit 124; the job goes
    /// on.
    #[arg(long, value_parser = parse_duration, requires = "wait", value_name = "DURATION")]
    pub wait_timeout: Option<std::time::Duration>,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub target: Target,
}

pub async fn execute(args: &EnqueueArgs) -> Result<u8, ClientError> {
    if let Some(at) = args.at
        && at < jiff::Timestamp::now().as_millisecond()
    {
        eprintln!(
            "jobvisor: warning: --at {} is in the past; the job runs now",
            jobvisor_supervisor::units::format_utc(at)
        );
    }
    if let Some(file) = &args.payloads {
        return execute_many(args, file).await;
    }
    let payload = read_payload(&args.payload)
        .map_err(|e| ClientError::new(exit_code::USAGE, e.to_string()))?;
    check_payload_size(payload.len(), "the payload")?;
    serde_json::from_str::<serde_json::Value>(&payload).map_err(|e| {
        ClientError::new(
            exit_code::USAGE,
            format!("the payload is not valid JSON ({e}); pass JSON text, @FILE or - for stdin"),
        )
    })?;
    let job = job_of(args, payload, args.unique.clone());
    let mut client = Client::connect(&args.target).await?;
    let enqueued = client.enqueue(job).await?;
    if enqueued.duplicate {
        eprintln!(
            "jobvisor: job {} with this unique key already exists; nothing new was enqueued",
            enqueued.id
        );
    }
    if args.wait {
        let socket = args.target.socket_path()?;
        return wait(&mut client, &socket, enqueued.id, args).await;
    }
    args.output
        .print(&enqueued, |enqueued| println!("{}", enqueued.id));
    Ok(exit_code::OK)
}

/// Refuses a payload no daemon accepts (above the largest `[jobs] payload_limit`) before it is
/// sent: the daemon's own limit is checked there, and names itself.
fn check_payload_size(len: usize, what: &str) -> Result<(), ClientError> {
    if len as u64 > MAX_PAYLOAD_LIMIT {
        return Err(ClientError::new(
            exit_code::USAGE,
            format!(
                "{what} is {len} bytes, above the limit of {MAX_PAYLOAD_LIMIT} bytes (the largest `[jobs] payload_limit` a daemon accepts); nothing was enqueued"
            ),
        ));
    }
    Ok(())
}

/// The job the options describe, with `payload` and `unique_key`.
fn job_of(args: &EnqueueArgs, payload: String, unique_key: Option<String>) -> EnqueueJob {
    EnqueueJob {
        script: args.script.clone(),
        payload,
        queue: args.queue.clone(),
        priority: args.priority,
        delay_ms: args
            .delay
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        run_at_ms: args.at,
        max_attempts: args.max_attempts,
        timeout_ms: args
            .timeout
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        unique_key,
    }
}

/// Payload bytes per batch request, well inside the control socket's frame limit.
const BATCH_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;

/// `--payloads FILE`: every line checked first (a bad line enqueues nothing), then sent in
/// batches. Each batch's ids are printed as its answer arrives, so that when a batch is
/// refused or the daemon goes away, what is printed is exactly what is in, and the error
/// says which lines are in and where to resume (`--from-line`).
async fn execute_many(args: &EnqueueArgs, file: &str) -> Result<u8, ClientError> {
    let text = if file == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| ClientError::new(exit_code::USAGE, format!("reading stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| ClientError::new(exit_code::USAGE, format!("cannot read {file}: {e}")))?
    };
    let from_line = usize::try_from(args.from_line.unwrap_or(1)).unwrap_or(usize::MAX);
    let mut jobs: Vec<(usize, EnqueueJob)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || number < from_line {
            continue;
        }
        check_payload_size(line.len(), &format!("{file}, line {number}: the payload"))?;
        serde_json::from_str::<serde_json::Value>(line).map_err(|e| {
            ClientError::new(
                exit_code::USAGE,
                format!("{file}, line {number}: not a JSON payload ({e}); nothing was enqueued"),
            )
        })?;
        let unique_key = args
            .unique_prefix
            .as_ref()
            .map(|prefix| format!("{prefix}:{number}"));
        jobs.push((number, job_of(args, line.to_owned(), unique_key)));
    }
    if jobs.is_empty() {
        return Err(ClientError::new(
            exit_code::USAGE,
            format!("{file} has no payload lines from line {from_line} on; nothing was enqueued"),
        ));
    }
    let mut client = Client::connect(&args.target).await?;
    // Ids printed so far, and the last line whose job they include.
    let mut enqueued: Vec<i64> = Vec::with_capacity(jobs.len());
    let mut last_enqueued_line = None;
    let mut rest = jobs.as_slice();
    while !rest.is_empty() {
        let mut bytes = 0;
        let take = rest
            .iter()
            .take(MAX_ENQUEUE_BATCH)
            .take_while(|(_, job)| {
                bytes += job.payload.len();
                bytes <= BATCH_PAYLOAD_BYTES
            })
            .count()
            .max(1);
        let (batch, after) = rest.split_at(take);
        let (first, last) = (batch[0].0, batch[batch.len() - 1].0);
        let jobs_of_batch = batch.iter().map(|(_, job)| job.clone()).collect();
        let mut err = match client.enqueue_batch(jobs_of_batch).await {
            Ok(answer) => {
                let ids: Vec<i64> = answer.iter().map(|j| j.id).collect();
                print_ids(ids.clone(), args.output);
                enqueued.extend(ids);
                last_enqueued_line = Some(last);
                rest = after;
                continue;
            }
            Err(err) => err,
        };
        // A request that got no answer may or may not have been committed.
        let answered = err.answered;
        let before = match last_enqueued_line {
            Some(line) => format!(
                "lines {}-{line} were enqueued ({} jobs, ids {}-{})",
                jobs[0].0,
                enqueued.len(),
                enqueued[0],
                enqueued[enqueued.len() - 1]
            ),
            None => format!("nothing before line {first} was enqueued"),
        };
        let this_batch = if answered {
            "they were not enqueued".to_owned()
        } else if args.unique_prefix.is_some() {
            "no answer came, so they may or may not have been enqueued (the same --unique-prefix skips those that were)".to_owned()
        } else {
            "no answer came, so they may or may not have been enqueued (check with `jobvisor jobs list`; --unique-prefix makes a rerun safe)".to_owned()
        };
        err.message = format!(
            "lines {first}-{last}: {}; {this_batch}; {before}; rerun with --from-line {first} to enqueue the rest",
            err.message
        );
        return Err(err);
    }
    Ok(exit_code::OK)
}

/// One batch's ids: one per line, or with `--json` one `{"ids": [...]}` line per batch.
/// `enqueue --payloads --json`: the ids of one batch.
#[derive(Debug, Serialize)]
struct BatchIds {
    ids: Vec<i64>,
}

fn print_ids(ids: Vec<i64>, output: Output) {
    output.print(&BatchIds { ids }, |batch| {
        let mut out = std::io::stdout().lock();
        let _ = batch.ids.iter().try_for_each(|id| writeln!(out, "{id}"));
    });
    // Flushed per batch: a caller reading the pipe sees each batch as it is committed.
    let _ = std::io::stdout().flush();
}

/// Waits for job `id` to end (or `--wait-timeout`); prints its result (or the whole job
/// with `--json`).
async fn wait(
    client: &mut Client,
    socket: &std::path::Path,
    id: i64,
    args: &EnqueueArgs,
) -> Result<u8, ClientError> {
    let answer = with_progress(socket, Watch::Job(id), async {
        match args.wait_timeout {
            Some(limit) => tokio::time::timeout(limit, client.wait_job(id)).await.ok(),
            None => Some(client.wait_job(id).await),
        }
    });
    let Some(answer) = answer.await else {
        let limit = args.wait_timeout.unwrap_or_default();
        return Err(ClientError::new(
            exit_code::WAIT_TIMED_OUT,
            format!(
                "job {id} has not ended after {}; it goes on (see `jobvisor jobs show {id}`)",
                jobvisor_supervisor::units::format_duration(limit)
            ),
        ));
    };
    let job = answer?;
    let code = outcome_exit_code(job.summary.state, job.summary.last_outcome);
    if args.output.json {
        crate::output::print_json(&super::jobs::JobJson::of(&job));
        return Ok(code);
    }
    match job.summary.state {
        JobState::Completed => {
            if let Some(result) = &job.result {
                println!("{result}");
            }
        }
        state => {
            let error = job
                .summary
                .last_error
                .as_deref()
                .unwrap_or("no error recorded");
            eprintln!(
                "jobvisor: job {id} {state} after {} attempt{} ({}): {error}",
                job.summary.attempt,
                if job.summary.attempt == 1 { "" } else { "s" },
                job.summary.last_outcome.map_or("-", AttemptOutcome::as_str)
            );
        }
    }
    Ok(code)
}

/// The exit code of `enqueue --wait` for a job's final state and last attempt outcome.
pub fn outcome_exit_code(state: JobState, last_outcome: Option<AttemptOutcome>) -> u8 {
    match (state, last_outcome) {
        (JobState::Completed, _) => exit_code::OK,
        (JobState::Cancelled, _) => exit_code::JOB_CANCELLED,
        (_, Some(AttemptOutcome::JsError)) => exit_code::JOB_ERROR,
        (_, Some(AttemptOutcome::Timeout)) => exit_code::JOB_TIMEOUT,
        (_, Some(AttemptOutcome::Oom)) => exit_code::JOB_OOM,
        _ => exit_code::JOB_CRASHED,
    }
}

/// `--at`: RFC 3339 (`2026-11-23T02:00:00Z`, `2026-11-23T03:00:00+01:00`) to Unix
/// milliseconds. Impossible dates (`2026-02-30`) and offsets (`+99:00`) are refused, and so
/// is a time more than [`MAX_DELAY`] ahead.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let at: jiff::Timestamp = text.trim().parse().map_err(|e| {
        format!(
            "`{text}` is not an RFC 3339 time (e.g. 2026-11-23T02:00:00Z or 2026-11-23T03:00:00+01:00): {e}"
        )
    })?;
    let at_ms = at.as_millisecond();
    let latest = jiff::Timestamp::now()
        .as_millisecond()
        .saturating_add(jobvisor_supervisor::store::duration_ms(MAX_DELAY));
    if at_ms > latest {
        return Err(format!(
            "`{text}` is too far ahead: at most {} from now is allowed",
            format_duration(MAX_DELAY)
        ));
    }
    Ok(at_ms)
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("2026-11-23T02:00:00Z"), Ok(1_795_399_200_000));
        assert_eq!(
            parse_rfc3339("2026-11-23T03:00:00+01:00"),
            Ok(1_795_399_200_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-23T02:00:00.5Z"),
            Ok(1_795_399_200_500)
        );
        assert!(parse_rfc3339("tomorrow").is_err());
        assert!(parse_rfc3339("2026-13-01T00:00:00Z").is_err());
        assert!(parse_rfc3339("2026-02-30T00:00:00Z").is_err());
        assert!(parse_rfc3339("2026-11-23T02:00:00+99:00").is_err());
        assert!(parse_rfc3339("2026-11-23T02:00:00+0é00").is_err());
        assert!(
            parse_rfc3339("2999-01-01T00:00:00Z")
                .unwrap_err()
                .contains("at most 3650d")
        );
    }
}
