//! The whole daemon in the test process: `serve::run` on a runtime of its own, with real
//! `jobvisor-worker` processes, a real SQLite file in a temporary directory and the real
//! control socket; its signals come from a channel the test sends on, so the drain it
//! starts is the one SIGTERM starts, and `run` hands back the drain's report. What the
//! daemon did is read back through the store's read-only view.

#![allow(clippy::unwrap_used)]

use std::sync::Once;
use std::time::Duration;

use jobvisor_protocol::control::{DrainReport, Request};
use jobvisor_supervisor::config::Config;
use jobvisor_supervisor::serve::ServeError;
use jobvisor_supervisor::signals::{SignalKind, SignalSource};
use jobvisor_tests::config::ConfigBuilder;
use jobvisor_tests::daemon::{Daemon, job, process_alive};
use jobvisor_tests::store_view::{JobState, OutcomeKind};

const TRIVIAL: &str = "export default (p) => ({ sum: p.a + p.b })";
const SLEEPY: &str = "export default async (p, ctx) => { await new Promise(r => setTimeout(r, p.ms)); return ctx.job.attempt }";

/// A daemon running inside this process.
struct InProcess {
    /// Its config, state and socket (no child process: `child` stays `None`).
    daemon: Daemon,
    signals: tokio::sync::mpsc::UnboundedSender<SignalKind>,
    run: Option<std::thread::JoinHandle<Result<DrainReport, ServeError>>>,
}

impl InProcess {
    /// Writes `config` into a temporary directory and runs the daemon on it until it
    /// answers `status`.
    fn start(config: &ConfigBuilder) -> InProcess {
        use_the_built_worker();
        let daemon = Daemon::prepare_in(&std::env::temp_dir(), config);
        let config = Config::load(&daemon.config).expect("the test config loads");
        let (signals, source) = SignalSource::channel();
        let run = std::thread::spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(jobvisor_supervisor::serve::run(config, source))
        });
        let mut started = InProcess {
            daemon,
            signals,
            run: Some(run),
        };
        started
            .daemon
            .wait_for("the daemon to answer", Duration::from_secs(20), || {
                if started.run.as_ref().is_some_and(|run| run.is_finished()) {
                    let ended = started.run.take().unwrap().join();
                    panic!("serve::run ended before it answered: {ended:?}");
                }
                started.daemon.try_request(&Request::Status).is_ok()
            });
        started
    }

    /// Sends the stop signal through the channel and waits for `run` to return.
    fn stop(&mut self, within: Duration) -> DrainReport {
        self.signals
            .send(SignalKind::Stop)
            .expect("the daemon listens");
        let run = self.run.take().expect("running");
        self.daemon
            .wait_for("serve::run to return", within, || run.is_finished());
        run.join()
            .expect("serve::run did not panic")
            .expect("serve::run ended cleanly")
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        // A test that failed half-way still ends its daemon before the temp dir goes.
        if let Some(run) = self.run.take() {
            let _ = self.signals.send(SignalKind::Stop);
            let _ = self.signals.send(SignalKind::Stop);
            let _ = run.join();
        }
    }
}

/// The daemon finds its worker through `JOBVISOR_WORKER` (this test binary has no
/// `jobvisor-worker` next to it).
fn use_the_built_worker() {
    static SET: Once = Once::new();
    SET.call_once(|| {
        let worker = jobvisor_tests::bin("jobvisor-worker");
        // SAFETY: every test of this binary calls this first, and the other tests wait
        // on the `Once` meanwhile: no thread reads the environment while it is written.
        unsafe { std::env::set_var("JOBVISOR_WORKER", worker) };
    });
}

#[test]
fn an_in_process_daemon_runs_jobs_and_drains_on_the_stop_signal_leaving_nothing_behind() {
    let mut inproc = InProcess::start(
        &ConfigBuilder::new()
            .workers(2)
            .raw("drain_timeout = \"30s\"\njob_timeout = \"60s\"")
            .script("trivial", TRIVIAL)
            .script("sleepy", SLEEPY),
    );
    let daemon = &inproc.daemon;
    let mut ids =
        daemon.enqueue_many((0..20).map(|i| job("trivial", &format!(r#"{{"a":{i},"b":1}}"#))));
    daemon.wait_for("20 completed jobs", Duration::from_secs(60), || {
        daemon.count_in_state(JobState::Completed) == 20
    });
    let result = daemon.store().job(ids[7]).job.result;
    assert_eq!(result.as_deref(), Some(r#"{"sum":8}"#));

    // One job is still running when the stop comes: the drain lets it finish.
    let running = daemon.enqueue(job("sleepy", r#"{"ms":700}"#));
    ids.push(running);
    daemon.wait_for("the sleepy job running", Duration::from_secs(20), || {
        daemon.busy_workers() == 1
    });
    let workers = daemon.worker_pids();
    assert_eq!(workers.len(), 2, "two live workers before the stop");

    let report = inproc.stop(Duration::from_secs(30));
    assert_eq!(
        (report.finished, report.requeued, report.failed),
        (1, 0, 0),
        "the drain report: {report:?}"
    );
    let daemon = &inproc.daemon;
    assert_eq!(daemon.job_state(running), JobState::Completed);
    assert_eq!(daemon.attempts(running), [(1, OutcomeKind::Completed)]);
    for pid in workers {
        assert!(!process_alive(pid), "worker {pid} outlived serve::run");
    }
    let states = daemon.assert_invariants(&ids);
    assert_eq!(states.get(&JobState::Completed), Some(&21), "{states:?}");
}

#[test]
fn an_in_process_daemon_stopped_with_a_job_past_the_drain_deadline_kills_it_and_refunds_it() {
    let mut inproc = InProcess::start(
        &ConfigBuilder::new()
            .workers(1)
            .raw("drain_timeout = \"300ms\"\njob_timeout = \"60s\"")
            .script("sleepy", SLEEPY),
    );
    let daemon = &inproc.daemon;
    let long = daemon.enqueue(job("sleepy", r#"{"ms":30000}"#));
    daemon.wait_for("the long job running", Duration::from_secs(20), || {
        daemon.busy_workers() == 1
    });
    let worker = daemon.worker_pids();

    let report = inproc.stop(Duration::from_secs(15));
    assert_eq!(
        (report.finished, report.requeued, report.failed),
        (0, 1, 0),
        "the drain report: {report:?}"
    );
    assert!(
        report.duration_ms >= 300,
        "the drain ended before its deadline: {report:?}"
    );
    let daemon = &inproc.daemon;
    assert_eq!(daemon.job_state(long), JobState::Available);
    assert_eq!(daemon.attempts(long), [(1, OutcomeKind::Interrupted)]);
    let attempt = daemon.store().job(long).job.attempt;
    assert_eq!(attempt, 0, "the interrupted attempt was refunded");
    for pid in worker {
        assert!(!process_alive(pid), "worker {pid} outlived serve::run");
    }
    daemon.assert_invariants(&[long]);
}
