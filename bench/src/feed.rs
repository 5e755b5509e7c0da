//! Feeding a real daemon: the daemon of one run (started, warmed up, measured), the
//! burst (many pipelined connections, `EnqueueBatch`) and the trickle (one paced
//! connection, completions timed with `WaitJob` and from the store).

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use jobvisor_protocol::BlockingTransport;
use jobvisor_protocol::control::{EnqueueJob, Request, Response, StatusReport};
use jobvisor_tests::config::{ConfigBuilder, SyncSetting};
use jobvisor_tests::daemon::Daemon;
use jobvisor_tests::store_view::{JobState, StoreView};

use crate::report::{BurstRun, TrickleRun};
use crate::stats::{percentiles, proc_ticks, ticks_to_us, wall_ms, wall_us};
use crate::{BenchArgs, SAMPLE_CONNECTIONS, SCRIPT, Setup, WAIT_TAIL};

/// The daemon of one run: the tests' daemon (`workers = K`, `synchronous = "full"`) on a
/// fresh state directory, every worker idle and the warm-up done.
pub(crate) struct BenchDaemon {
    daemon: Daemon,
    workers: u32,
}

impl BenchDaemon {
    /// Starts a daemon on a copy of `store` (if given) and runs the warm-up.
    pub(crate) fn start(setup: &Setup, store: Option<&Path>) -> anyhow::Result<BenchDaemon> {
        let mut config = ConfigBuilder::new()
            .workers(setup.workers)
            .synchronous(SyncSetting::Full)
            .script(SCRIPT, setup.source);
        for (name, source) in &setup.extra_scripts {
            config = config.script(name, source);
        }
        if let Some(timeout) = setup.job_timeout {
            config = config.job_timeout(timeout);
        }
        if !setup.extra_config.is_empty() {
            // The builder has no typed setters for `[fetch]`; its text goes in as written.
            config = config.raw(&setup.extra_config);
        }
        let mut daemon = Daemon::prepare_in(&setup.base, &config);
        if let Some(store) = store {
            let database = daemon.database();
            let data = database.parent().context("the database has a directory")?;
            std::fs::create_dir_all(data)
                .with_context(|| format!("creating {}", data.display()))?;
            std::fs::copy(store, &database)
                .with_context(|| format!("copying the prefilled store to {}", data.display()))?;
            // Written back now, not by the kernel during the measurement (it would
            // compete with the daemon's fsyncs).
            std::fs::File::open(&database)
                .and_then(|file| file.sync_all())
                .context("syncing the copied store")?;
        }
        daemon.launch();
        daemon.wait_idle_workers(setup.workers as usize, Duration::from_secs(120));
        let daemon = BenchDaemon {
            daemon,
            workers: setup.workers,
        };
        daemon.warm_up(&setup.payload)?;
        Ok(daemon)
    }

    fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// Enqueues one job of `script` and returns its id.
    pub(crate) fn enqueue(&self, script: &str, payload: &str) -> anyhow::Result<i64> {
        let mut conn = self.connect()?;
        let job = EnqueueJob {
            script: script.to_owned(),
            payload: payload.to_owned(),
            ..EnqueueJob::default()
        };
        match request(&mut conn, &Request::Enqueue(job))? {
            Response::Enqueued { id, .. } => Ok(id),
            other => bail!("enqueue of a {script} job: {}", describe(&other)),
        }
    }

    /// Waits for a job to be final and returns its result, or fails with its error.
    pub(crate) fn wait_result(&self, id: i64) -> anyhow::Result<String> {
        let mut conn = self.connect()?;
        let view = match request(&mut conn, &Request::WaitJob { id })? {
            Response::Job(view) => view,
            other => bail!("waiting for job {id}: {}", describe(&other)),
        };
        match (view.summary.state, view.result) {
            (jobvisor_protocol::control::JobState::Completed, Some(result)) => Ok(result),
            (state, _) => bail!(
                "job {id} ({}) ended {state:?}: {}",
                view.summary.script,
                view.summary
                    .last_error
                    .as_deref()
                    .unwrap_or("no error recorded")
            ),
        }
    }

    /// One `Status` request, timed: connect, send, answer.
    pub(crate) fn timed_status(&self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut conn = self.connect()?;
        match request(&mut conn, &Request::Status)? {
            Response::Status(_) => Ok(started.elapsed()),
            other => bail!("status: {}", describe(&other)),
        }
    }

    /// `jobvisor status` run as a process, timed from spawn to exit.
    pub(crate) fn timed_status_command(&self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let output = self.daemon.cli(&["status"]);
        let took = started.elapsed();
        if !output.status.success() {
            bail!(
                "jobvisor status failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(took)
    }

    /// Workers with a job in hand.
    pub(crate) fn busy_workers(&self) -> usize {
        self.daemon.busy_workers()
    }

    fn warm_up(&self, payload: &str) -> anyhow::Result<()> {
        let n = (2 * self.workers).max(4);
        let mut conn = self.connect()?;
        let mut ids = Vec::new();
        for _ in 0..n {
            match request(&mut conn, &Request::Enqueue(job(payload)))? {
                Response::Enqueued { id, .. } => ids.push(id),
                other => bail!("warm-up enqueue: {}", describe(&other)),
            }
        }
        for id in ids {
            wait_job(&mut conn, id)?;
        }
        Ok(())
    }

    fn connect(&self) -> anyhow::Result<BlockingTransport<UnixStream>> {
        self.daemon.try_connect().map_err(|e| anyhow!(e))
    }

    fn status(&self) -> StatusReport {
        self.daemon.status()
    }

    /// The daemon's resident memory.
    fn rss_bytes(&self) -> u64 {
        self.daemon.rss_kib() * 1024
    }

    /// A read-only view of the daemon's store.
    fn store(&self) -> anyhow::Result<StoreView> {
        let database = self.daemon.database();
        StoreView::try_open(&database)
            .with_context(|| format!("opening {} read-only", database.display()))
    }

    /// CPU ticks of the daemon (with its reaped children) and its live workers.
    fn cpu_ticks(&self, status: &StatusReport) -> (u64, u64) {
        let daemon = proc_ticks(self.pid(), true);
        let workers = status
            .workers
            .iter()
            .filter_map(|w| w.pid)
            .map(|pid| proc_ticks(pid, false))
            .sum();
        (daemon, workers)
    }

    /// SIGTERM and a clean exit; the directory and the workers' cgroups go with it.
    pub(crate) fn stop(mut self) {
        self.daemon.stop();
    }
}

fn job(payload: &str) -> EnqueueJob {
    EnqueueJob {
        script: SCRIPT.to_owned(),
        payload: payload.to_owned(),
        ..EnqueueJob::default()
    }
}

fn request(
    conn: &mut BlockingTransport<UnixStream>,
    request: &Request,
) -> anyhow::Result<Response> {
    conn.send(request).context("sending to the daemon")?;
    conn.recv::<Response>()
        .context("reading the daemon's answer")?
        .ok_or_else(|| anyhow!("the daemon closed the connection"))
}

/// Waits for a job to be final (a wait has no request timeout: it answers when the job
/// ends).
fn wait_job(conn: &mut BlockingTransport<UnixStream>, id: i64) -> anyhow::Result<()> {
    match request(conn, &Request::WaitJob { id })? {
        Response::Job(_) => Ok(()),
        other => bail!("waiting for job {id}: {}", describe(&other)),
    }
}

fn describe(response: &Response) -> String {
    match response {
        Response::Error(err) => format!("{:?}: {}", err.code, err.message),
        other => format!("unexpected answer {other:?}"),
    }
}

/// A connection split in two: frames are written on `tx`, answers read on `rx`.
fn split(
    conn: BlockingTransport<UnixStream>,
) -> anyhow::Result<(BlockingTransport<UnixStream>, BlockingTransport<UnixStream>)> {
    let stream = conn.into_inner();
    let writer = stream.try_clone().context("cloning a socket")?;
    Ok((
        BlockingTransport::new(writer),
        BlockingTransport::new(stream),
    ))
}

pub(crate) fn burst(
    daemon: &BenchDaemon,
    args: &BenchArgs,
    payload: &str,
) -> anyhow::Result<BurstRun> {
    let n = args.jobs;
    let batch = args.batch;
    let connections = (args.connections as u64).min(n) as usize;
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(split(daemon.connect()?)?);
    }
    let mut waiter = daemon.connect()?;
    let status = daemon.status();
    let (daemon_before, workers_before) = daemon.cpu_ticks(&status);

    let start_wall_ms = wall_ms();
    let started = Instant::now();
    let results: Vec<anyhow::Result<Vec<i64>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(c, (mut tx, mut rx))| {
                let count = n / connections as u64 + u64::from((c as u64) < n % connections as u64);
                let job = job(payload);
                let batch = u64::from(batch);
                // Request sizes: full batches, then the rest.
                let requests: Vec<u64> = (0..count.div_ceil(batch))
                    .map(|i| batch.min(count - i * batch))
                    .collect();
                let answers = requests.len();
                scope.spawn(move || -> anyhow::Result<Vec<i64>> {
                    let writer = std::thread::spawn(move || -> anyhow::Result<()> {
                        for size in requests {
                            let frame = if batch == 1 {
                                Request::Enqueue(job.clone())
                            } else {
                                Request::EnqueueBatch(vec![job.clone(); size as usize])
                            };
                            tx.send(&frame).context("sending an enqueue")?;
                        }
                        Ok(())
                    });
                    let mut ids = Vec::with_capacity(count as usize);
                    for _ in 0..answers {
                        match rx
                            .recv::<Response>()
                            .context("reading an acknowledgement")?
                        {
                            Some(Response::Enqueued { id, .. }) => ids.push(id),
                            Some(Response::EnqueuedBatch(jobs)) => {
                                ids.extend(jobs.iter().map(|j| j.id));
                            }
                            Some(other) => bail!("enqueue: {}", describe(&other)),
                            None => bail!("the daemon closed an enqueue connection"),
                        }
                    }
                    writer
                        .join()
                        .map_err(|_| anyhow!("an enqueue writer thread panicked"))??;
                    Ok(ids)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("an enqueue thread panicked")))
            })
            .collect()
    });
    let mut ids = Vec::with_capacity(n as usize);
    for result in results {
        ids.extend(result?);
    }
    let enqueue_s = started.elapsed().as_secs_f64();
    ids.sort_unstable();
    let (first, last) = match (ids.first(), ids.last()) {
        (Some(&first), Some(&last)) => (first, last),
        _ => bail!("no job was enqueued"),
    };

    // Pipelined waits on the highest ids; the daemon answers them in order.
    let tail: Vec<i64> = ids.iter().rev().take(WAIT_TAIL).copied().collect();
    for &id in &tail {
        waiter
            .send(&Request::WaitJob { id })
            .context("sending WaitJob")?;
    }
    for &id in &tail {
        match waiter
            .recv::<Response>()
            .context("reading a WaitJob answer")?
        {
            Some(Response::Job(_)) => {}
            Some(other) => bail!("waiting for job {id}: {}", describe(&other)),
            None => bail!("the daemon closed the WaitJob connection"),
        }
    }
    let mut total_s = started.elapsed().as_secs_f64();
    let store = daemon.store()?;
    if store.unfinished_between(first, last) > 0 {
        let deadline = Instant::now() + Duration::from_secs(600);
        while store.unfinished_between(first, last) > 0 {
            if Instant::now() > deadline {
                bail!("the burst's jobs did not all finish within 10 minutes");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        total_s = started.elapsed().as_secs_f64();
    }

    let status = daemon.status();
    let (daemon_after, workers_after) = daemon.cpu_ticks(&status);
    let jobs = store.jobs_between(first, last);
    let not_completed = jobs
        .iter()
        .filter(|job| job.state != JobState::Completed)
        .count() as u64;
    let max_finished = jobs.iter().filter_map(|job| job.finished_at_ms).max();
    let per_job_us = |ticks: u64| ticks_to_us(ticks) / n as f64;
    let daemon_ticks = daemon_after.saturating_sub(daemon_before);
    let worker_ticks = workers_after.saturating_sub(workers_before);
    Ok(BurstRun {
        jobs: n,
        connections: connections as u32,
        batch,
        enqueue_s,
        enqueue_per_s: n as f64 / enqueue_s,
        total_s,
        jobs_per_s: n as f64 / total_s,
        db_span_s: max_finished.map_or(f64::NAN, |f| (f - start_wall_ms) as f64 / 1000.0),
        not_completed,
        cpu_per_job_us: per_job_us(daemon_ticks + worker_ticks),
        daemon_cpu_per_job_us: per_job_us(daemon_ticks),
        worker_cpu_per_job_us: per_job_us(worker_ticks),
        daemon_rss_bytes: daemon.rss_bytes(),
        worker_rss_bytes: status.workers.iter().filter_map(|w| w.rss_bytes).collect(),
    })
}

/// One acknowledged job: its id, when its frame was sent and when the answer arrived.
struct Ack {
    id: i64,
    sent: Instant,
    acked: Instant,
    acked_wall_us: i64,
}

pub(crate) fn trickle(
    daemon: &BenchDaemon,
    args: &BenchArgs,
    payload: &str,
) -> anyhow::Result<TrickleRun> {
    let total = (args.rate * args.duration.as_secs_f64()).floor() as u64;
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let (mut tx, mut rx) = split(daemon.connect()?)?;
    let mut samplers = Vec::new();
    for _ in 0..SAMPLE_CONNECTIONS {
        samplers.push(split(daemon.connect()?)?);
    }
    let status = daemon.status();
    let (daemon_before, workers_before) = daemon.cpu_ticks(&status);
    let sample_every = args.sample_every;

    let started = Instant::now();
    let (sent_tx, sent_rx) = mpsc::channel::<Instant>();
    let job = job(payload);
    let writer = std::thread::spawn(move || -> anyhow::Result<()> {
        let frame = Request::Enqueue(job);
        for i in 0..total {
            let due = started + interval.mul_f64(i as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let _ = sent_tx.send(Instant::now());
            tx.send(&frame).context("sending an enqueue")?;
        }
        Ok(())
    });

    // Sampled WaitJobs: round-robin over the sampler connections, each pipelined.
    let mut sample_txs = Vec::new();
    let mut sample_threads = Vec::new();
    for (s_tx, s_rx) in samplers {
        let (jobs_tx, jobs_rx) = mpsc::channel::<(i64, Instant)>();
        sample_txs.push(jobs_tx);
        sample_threads.push(std::thread::spawn(move || sampler(s_tx, s_rx, jobs_rx)));
    }

    let mut acks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let answer = rx
            .recv::<Response>()
            .context("reading an acknowledgement")?;
        let acked = Instant::now();
        let acked_wall_us = wall_us();
        let sent = sent_rx.recv().unwrap_or(acked);
        match answer {
            Some(Response::Enqueued { id, .. }) => {
                if i % sample_every == 0 {
                    let target = &sample_txs[(i / sample_every) as usize % sample_txs.len()];
                    let _ = target.send((id, acked));
                }
                acks.push(Ack {
                    id,
                    sent,
                    acked,
                    acked_wall_us,
                });
            }
            Some(other) => bail!("enqueue: {}", describe(&other)),
            None => bail!("the daemon closed the enqueue connection"),
        }
    }
    let enqueue_s = started.elapsed().as_secs_f64();
    writer
        .join()
        .map_err(|_| anyhow!("the enqueue writer thread panicked"))??;
    drop(sample_txs);
    let mut sampled = Vec::new();
    for handle in sample_threads {
        sampled.extend(
            handle
                .join()
                .map_err(|_| anyhow!("a WaitJob sampler thread panicked"))??,
        );
    }

    let (first, last) = match (acks.first(), acks.last()) {
        (Some(a), Some(b)) => (a.id.min(b.id), a.id.max(b.id)),
        _ => bail!("no job was enqueued"),
    };
    let store = daemon.store()?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if store.unfinished_between(first, last) == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("the trickle's jobs did not all finish within 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = daemon.status();
    let (daemon_after, workers_after) = daemon.cpu_ticks(&status);

    let mut finished = std::collections::HashMap::new();
    let mut not_completed = 0;
    for job in store.jobs_between(first, last) {
        if job.state != JobState::Completed {
            not_completed += 1;
        }
        if let Some(at) = job.finished_at_ms {
            finished.insert(job.id.0, at);
        }
    }
    let db_latencies: Vec<f64> = acks
        .iter()
        .filter_map(|a| {
            finished
                .get(&a.id)
                .map(|&f| (f * 1000 - a.acked_wall_us) as f64 / 1000.0)
        })
        .collect();
    let enqueue_latencies: Vec<f64> = acks
        .iter()
        .map(|a| a.acked.saturating_duration_since(a.sent).as_secs_f64() * 1e6)
        .collect();
    let ticks =
        daemon_after.saturating_sub(daemon_before) + workers_after.saturating_sub(workers_before);
    Ok(TrickleRun {
        jobs: total,
        target_rate: args.rate,
        achieved_rate: total as f64 / enqueue_s,
        enqueue_latency_us: percentiles(enqueue_latencies),
        latency_waitjob_us: percentiles(sampled),
        latency_db_ms: percentiles(db_latencies),
        not_completed,
        cpu_per_job_us: ticks_to_us(ticks) / total as f64,
        daemon_rss_bytes: daemon.rss_bytes(),
        worker_rss_bytes: status.workers.iter().filter_map(|w| w.rss_bytes).collect(),
    })
}

/// Sends `WaitJob` for each (id, acknowledged at) it is given and returns the latencies
/// (µs) from acknowledgement to answer.
fn sampler(
    mut tx: BlockingTransport<UnixStream>,
    mut rx: BlockingTransport<UnixStream>,
    jobs: mpsc::Receiver<(i64, Instant)>,
) -> anyhow::Result<Vec<f64>> {
    let (pending_tx, pending_rx) = mpsc::channel::<(i64, Instant)>();
    let writer = std::thread::spawn(move || -> anyhow::Result<()> {
        for (id, acked) in jobs {
            let _ = pending_tx.send((id, acked));
            tx.send(&Request::WaitJob { id })
                .context("sending WaitJob")?;
        }
        Ok(())
    });
    let mut latencies = Vec::new();
    for (id, acked) in pending_rx {
        match rx.recv::<Response>().context("reading a WaitJob answer")? {
            Some(Response::Job(_)) => {
                latencies.push(acked.elapsed().as_secs_f64() * 1e6);
            }
            Some(other) => bail!("waiting for job {id}: {}", describe(&other)),
            None => bail!("the daemon closed a WaitJob connection"),
        }
    }
    writer
        .join()
        .map_err(|_| anyhow!("a WaitJob writer thread panicked"))??;
    Ok(latencies)
}
