//! A progress line on a terminal while a long control request (drain, restart, wait) is
//! waiting for its answer: once a second, a second connection asks the daemon how far the
//! work got. Only when stderr is a terminal; scripts and pipes see the answer alone.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use jobvisor_protocol::control::{Request, Response};

use crate::client::Client;

/// How often the line is refreshed.
const REFRESH: Duration = Duration::from_secs(1);

/// What the waiting command reports on.
pub enum Watch {
    /// `drain`: jobs still running and the time they have left.
    Drain,
    /// `restart`: workers replaced so far (`worker`: only this one).
    Restart { worker: Option<u32> },
    /// `enqueue --wait`: the job's state and attempt.
    Job(i64),
}

/// Runs `work`, showing a progress line on stderr meanwhile if it is a terminal; the line
/// is cleared before `work`'s result is returned.
pub async fn with_progress<T>(socket: &Path, watch: Watch, work: impl Future<Output = T>) -> T {
    if !std::io::stderr().is_terminal() {
        return work.await;
    }
    tokio::pin!(work);
    let started = Instant::now();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + REFRESH, REFRESH);
    let mut asking: Option<Client> = None;
    let mut first_pids: Option<Vec<Option<u32>>> = None;
    let mut shown = false;
    if matches!(watch, Watch::Restart { .. }) {
        // The workers' pids before the request is sent (`work` has not run yet).
        asking = Client::connect_path(socket).await.ok();
        if let Some(client) = asking.as_mut() {
            let _ = progress_line(client, &watch, &mut first_pids, 0).await;
        }
    }
    loop {
        tokio::select! {
            done = &mut work => {
                if shown {
                    eprint!("\r\x1b[2K");
                }
                return done;
            }
            _ = tick.tick() => {
                if asking.is_none() {
                    asking = Client::connect_path(socket).await.ok();
                }
                let Some(client) = asking.as_mut() else {
                    continue;
                };
                let waited = started.elapsed().as_secs();
                match progress_line(client, &watch, &mut first_pids, waited).await {
                    Some(line) => {
                        eprint!("\r\x1b[2K{line}");
                        let _ = std::io::stderr().flush();
                        shown = true;
                    }
                    // The daemon went away or answered oddly: try again next time.
                    None => asking = None,
                }
            }
        }
    }
}

async fn progress_line(
    client: &mut Client,
    watch: &Watch,
    first_pids: &mut Option<Vec<Option<u32>>>,
    waited: u64,
) -> Option<String> {
    let request = match watch {
        Watch::Drain | Watch::Restart { .. } => Request::Status,
        Watch::Job(id) => Request::ShowJob { id: *id },
    };
    let response = client.request(&request).await.ok()?;
    match (watch, response) {
        (Watch::Drain, Response::Status(status)) => {
            let running = status.workers.iter().filter(|w| w.job.is_some()).count();
            let left = status
                .drain_left_ms
                .map(|ms| format!(", {} s left", ms.div_ceil(1000)))
                .unwrap_or_default();
            Some(format!(
                "draining: {running} job{} running{left}",
                plural(running)
            ))
        }
        (Watch::Restart { worker }, Response::Status(status)) => {
            let pids: Vec<Option<u32>> = status.workers.iter().map(|w| w.pid).collect();
            let before = first_pids.get_or_insert_with(|| pids.clone());
            let targets: Vec<usize> = match worker {
                Some(id) => vec![*id as usize],
                None => (0..pids.len()).collect(),
            };
            let replaced = targets
                .iter()
                .filter(|&&i| {
                    pids.get(i).copied().flatten().is_some() && pids.get(i) != before.get(i)
                })
                .count();
            Some(format!(
                "restarting: {replaced} of {} worker{} replaced ({waited} s)",
                targets.len(),
                plural(targets.len())
            ))
        }
        (Watch::Job(id), Response::Job(job)) => Some(format!(
            "waiting for job {id}: {}, attempt {} of {} ({waited} s)",
            job.summary.state, job.summary.attempt, job.summary.max_attempts
        )),
        _ => None,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
