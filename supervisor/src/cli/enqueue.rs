//! `jobvisor enqueue SCRIPT`: add one job to the queue (or, with `--payloads`, one per
//! line of a JSON Lines file, in all-or-nothing batches); prints the ids.

use jobvisor_protocol::control::{EnqueueJob, MAX_ENQUEUE_BATCH, Request, Response};

use super::client::{Client, ClientError, Target, daemon_error};
use super::progress::{Watch, with_progress};
use super::run::read_payload;
use crate::exit_code;
use crate::units::parse_duration;

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
    /// Queue name.
    #[arg(long)]
    pub queue: Option<String>,
    /// Higher runs first.
    #[arg(long, allow_hyphen_values = true)]
    pub priority: Option<i32>,
    /// Run no earlier than this from now (e.g. 5m).
    #[arg(long, value_parser = parse_duration, conflicts_with = "at")]
    pub delay: Option<std::time::Duration>,
    /// Run no earlier than this time (RFC 3339, e.g. 2026-11-23T02:00:00Z).
    #[arg(long, value_parser = parse_rfc3339)]
    pub at: Option<i64>,
    /// Attempts the job may use.
    #[arg(long)]
    pub max_attempts: Option<u32>,
    /// Per-attempt timeout (e.g. 30s).
    #[arg(long, value_parser = parse_duration)]
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
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub target: Target,
}

pub async fn execute(args: &EnqueueArgs) -> Result<u8, ClientError> {
    if let Some(file) = &args.payloads {
        return execute_many(args, file).await;
    }
    let payload = read_payload(&args.payload)
        .map_err(|e| ClientError::new(exit_code::USAGE, e.to_string()))?;
    serde_json::from_str::<serde_json::Value>(&payload).map_err(|e| {
        ClientError::new(
            exit_code::USAGE,
            format!("the payload is not valid JSON ({e}); pass JSON text, @FILE or - for stdin"),
        )
    })?;
    let job = job_of(args, payload);
    let mut client = Client::connect(&args.target).await?;
    match client.request(&Request::Enqueue(job)).await? {
        Response::Enqueued { id, duplicate } => {
            if duplicate {
                eprintln!(
                    "jobvisor: job {id} with this unique key already exists; nothing new was enqueued"
                );
            }
            if args.wait {
                let socket = args.target.socket_path()?;
                return wait(&mut client, &socket, id, args).await;
            }
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({ "id": id, "duplicate": duplicate })
                );
            } else {
                println!("{id}");
            }
            Ok(exit_code::OK)
        }
        Response::Error(err) => Err(daemon_error(&err)),
        other => Err(ClientError::new(
            exit_code::FAILURE,
            format!("unexpected answer: {other:?}"),
        )),
    }
}

/// The job the options describe, with `payload`.
fn job_of(args: &EnqueueArgs, payload: String) -> EnqueueJob {
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
        unique_key: args.unique.clone(),
    }
}

/// Payload bytes per batch request, well inside the control socket's frame limit.
const BATCH_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;

/// `--payloads FILE`: every line checked first (a bad line enqueues nothing), then sent in
/// batches; a batch the daemon refuses stops the run, and what was enqueued before it is
/// said.
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
    let mut jobs: Vec<(usize, EnqueueJob)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        serde_json::from_str::<serde_json::Value>(line).map_err(|e| {
            ClientError::new(
                exit_code::USAGE,
                format!(
                    "{file}, line {}: not a JSON payload ({e}); nothing was enqueued",
                    index + 1
                ),
            )
        })?;
        jobs.push((index + 1, job_of(args, line.to_owned())));
    }
    if jobs.is_empty() {
        return Err(ClientError::new(
            exit_code::USAGE,
            format!("{file} has no payload lines; nothing was enqueued"),
        ));
    }
    let mut client = Client::connect(&args.target).await?;
    let mut ids: Vec<i64> = Vec::with_capacity(jobs.len());
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
        let request = Request::EnqueueBatch(batch.iter().map(|(_, job)| job.clone()).collect());
        let refused = match client.request(&request).await? {
            Response::EnqueuedBatch(enqueued) => {
                ids.extend(enqueued.iter().map(|j| j.id));
                None
            }
            Response::Error(err) => Some(daemon_error(&err)),
            other => Some(super::client::unexpected(&other)),
        };
        if let Some(mut err) = refused {
            let (first, last) = (batch[0].0, batch[batch.len() - 1].0);
            err.message = if ids.is_empty() {
                format!(
                    "lines {first}-{last}: {}; nothing was enqueued",
                    err.message
                )
            } else {
                format!(
                    "lines {first}-{last}: {}; the {} jobs before line {first} were enqueued (ids {}-{})",
                    err.message,
                    ids.len(),
                    ids[0],
                    ids[ids.len() - 1]
                )
            };
            print_ids(&ids, args.json);
            return Err(err);
        }
        rest = after;
    }
    print_ids(&ids, args.json);
    Ok(exit_code::OK)
}

fn print_ids(ids: &[i64], json: bool) {
    if json {
        println!("{}", serde_json::json!({ "ids": ids }));
    } else {
        for id in ids {
            println!("{id}");
        }
    }
}

/// Waits for job `id` to end (or `--wait-timeout`); prints its result (or the whole job
/// with `--json`).
async fn wait(
    client: &mut Client,
    socket: &std::path::Path,
    id: i64,
    args: &EnqueueArgs,
) -> Result<u8, ClientError> {
    let json = args.json;
    let answer = with_progress(socket, Watch::Job(id), async {
        match args.wait_timeout {
            Some(limit) => tokio::time::timeout(limit, client.request(&Request::WaitJob { id }))
                .await
                .ok(),
            None => Some(client.request(&Request::WaitJob { id }).await),
        }
    });
    let Some(answer) = answer.await else {
        let limit = args.wait_timeout.unwrap_or_default();
        return Err(ClientError::new(
            exit_code::WAIT_TIMED_OUT,
            format!(
                "job {id} has not ended after {}; it goes on (see `jobvisor jobs show {id}`)",
                crate::units::format_duration(limit)
            ),
        ));
    };
    let job = match answer? {
        Response::Job(job) => job,
        Response::Error(err) => return Err(daemon_error(&err)),
        other => return Err(super::client::unexpected(&other)),
    };
    let code = outcome_exit_code(&job.summary.state, job.summary.last_outcome.as_deref());
    if json {
        super::jobs::print_json(&super::jobs::job_json(&job));
        return Ok(code);
    }
    match job.summary.state.as_str() {
        "completed" => {
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
                job.summary.last_outcome.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(code)
}

/// The exit code of `enqueue --wait` for a job's final state and last attempt outcome.
pub fn outcome_exit_code(state: &str, last_outcome: Option<&str>) -> u8 {
    match (state, last_outcome) {
        ("completed", _) => exit_code::OK,
        ("cancelled", _) => exit_code::JOB_CANCELLED,
        (_, Some("js_error")) => exit_code::JOB_ERROR,
        (_, Some("timeout")) => exit_code::JOB_TIMEOUT,
        (_, Some("oom")) => exit_code::JOB_OOM,
        _ => exit_code::JOB_CRASHED,
    }
}

/// RFC 3339 (`2026-11-23T02:00:00Z`, `2026-11-23T03:00:00+01:00`) to Unix milliseconds.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let err = || format!("`{text}` is not an RFC 3339 time (e.g. 2026-11-23T02:00:00Z)");
    let bytes = text.as_bytes();
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return Err(err());
    }
    let num = |range: std::ops::Range<usize>| {
        text.get(range)
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(err)
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(err());
    }
    let mut rest = &text[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        if digits == 0 {
            return Err(err());
        }
        let ms_text: String = frac[..digits]
            .chars()
            .chain("000".chars())
            .take(3)
            .collect();
        millis = ms_text.parse().map_err(|_| err())?;
        rest = &frac[digits..];
    }
    let offset_secs = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && &rest[3..4] == ":" =>
        {
            let h: i64 = rest[1..3].parse().map_err(|_| err())?;
            let m: i64 = rest[4..6].parse().map_err(|_| err())?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return Err(err()),
    };
    let days = crate::schedule::civil::days_from_civil(
        year,
        u32::try_from(month).map_err(|_| err())?,
        u32::try_from(day).map_err(|_| err())?,
    );
    Ok((days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs) * 1000 + millis)
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
    }
}
