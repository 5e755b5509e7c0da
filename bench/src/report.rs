//! The report: one run's numbers, the medians over the runs, and the two ways it is
//! printed (a table, or one JSON object with `--json`).

use serde::Serialize;

use crate::Mode;
use crate::stats::median;
use crate::workload::Workload;

#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) workload: Workload,
    pub(crate) mode: Mode,
    pub(crate) workers: u32,
    pub(crate) runs: u32,
    pub(crate) payload_bytes: usize,
    pub(crate) method: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) burst: Option<BurstSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) trickle: Option<TrickleSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) scale: Option<ScaleSummary>,
    pub(crate) baseline: Option<Baseline>,
    /// baseline jobs/s ÷ end-to-end jobs/s (burst and scale).
    pub(crate) throughput_overhead: Option<f64>,
    /// end-to-end CPU per job ÷ baseline median CPU time per job.
    pub(crate) cpu_overhead: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BurstRun {
    pub(crate) jobs: u64,
    pub(crate) connections: u32,
    /// Jobs per enqueue request.
    pub(crate) batch: u32,
    /// First frame sent → last acknowledgement.
    pub(crate) enqueue_s: f64,
    pub(crate) enqueue_per_s: f64,
    /// First frame sent → every job final.
    pub(crate) total_s: f64,
    pub(crate) jobs_per_s: f64,
    /// First frame sent (wall clock) → the batch's largest `finished_at`, from the DB.
    pub(crate) db_span_s: f64,
    /// Jobs of the batch not `completed`.
    pub(crate) not_completed: u64,
    pub(crate) cpu_per_job_us: f64,
    pub(crate) daemon_cpu_per_job_us: f64,
    pub(crate) worker_cpu_per_job_us: f64,
    pub(crate) daemon_rss_bytes: u64,
    pub(crate) worker_rss_bytes: Vec<u64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct BurstSummary {
    pub(crate) runs: Vec<BurstRun>,
    pub(crate) median_jobs_per_s: f64,
    pub(crate) median_enqueue_per_s: f64,
    pub(crate) median_total_s: f64,
    pub(crate) median_cpu_per_job_us: f64,
    pub(crate) median_daemon_cpu_per_job_us: f64,
    pub(crate) median_worker_cpu_per_job_us: f64,
    pub(crate) median_daemon_rss_bytes: f64,
    pub(crate) median_worker_rss_bytes: f64,
}

#[derive(Debug, Serialize)]
pub(crate) struct ScaleSummary {
    pub(crate) rows_finished: u64,
    pub(crate) rows_queued_paused: u64,
    pub(crate) prefill_s: f64,
    pub(crate) store_bytes: u64,
    pub(crate) empty: BurstSummary,
    pub(crate) prefilled: BurstSummary,
    /// prefilled median jobs/s ÷ empty median jobs/s.
    pub(crate) ratio: f64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Percentiles {
    pub(crate) n: usize,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) p999: f64,
    pub(crate) max: f64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TrickleRun {
    pub(crate) jobs: u64,
    pub(crate) target_rate: f64,
    /// Acknowledgements per second over the enqueue window.
    pub(crate) achieved_rate: f64,
    /// Enqueue frame sent → acknowledgement, µs.
    pub(crate) enqueue_latency_us: Percentiles,
    /// Acknowledgement → `WaitJob` answer (monotonic clock), µs, sampled jobs.
    pub(crate) latency_waitjob_us: Percentiles,
    /// `finished_at` − acknowledgement wall clock, ms, every job (±1 ms).
    pub(crate) latency_db_ms: Percentiles,
    pub(crate) not_completed: u64,
    pub(crate) cpu_per_job_us: f64,
    pub(crate) daemon_rss_bytes: u64,
    pub(crate) worker_rss_bytes: Vec<u64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct TrickleSummary {
    pub(crate) runs: Vec<TrickleRun>,
    pub(crate) median_achieved_rate: f64,
    pub(crate) median_enqueue_latency_p50_us: f64,
    pub(crate) median_waitjob_p50_us: f64,
    pub(crate) median_waitjob_p99_us: f64,
    pub(crate) median_waitjob_p999_us: f64,
    pub(crate) median_db_p50_ms: f64,
    pub(crate) median_db_p99_ms: f64,
    pub(crate) median_db_p999_ms: f64,
    pub(crate) median_cpu_per_job_us: f64,
    pub(crate) median_daemon_rss_bytes: f64,
    pub(crate) median_worker_rss_bytes: f64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub(crate) struct Baseline {
    pub(crate) iterations: u32,
    pub(crate) jobs_per_s: f64,
    /// Wall time per job.
    pub(crate) median_us: f64,
    /// The engine thread's CPU time per job.
    #[serde(default)]
    pub(crate) median_cpu_us: f64,
}

pub(crate) fn summarize_burst(runs: Vec<BurstRun>) -> BurstSummary {
    let m = |f: fn(&BurstRun) -> f64| median(runs.iter().map(f).collect());
    BurstSummary {
        median_jobs_per_s: m(|r| r.jobs_per_s),
        median_enqueue_per_s: m(|r| r.enqueue_per_s),
        median_total_s: m(|r| r.total_s),
        median_cpu_per_job_us: m(|r| r.cpu_per_job_us),
        median_daemon_cpu_per_job_us: m(|r| r.daemon_cpu_per_job_us),
        median_worker_cpu_per_job_us: m(|r| r.worker_cpu_per_job_us),
        median_daemon_rss_bytes: m(|r| r.daemon_rss_bytes as f64),
        median_worker_rss_bytes: median(
            runs.iter()
                .flat_map(|r| r.worker_rss_bytes.iter().map(|&b| b as f64))
                .collect(),
        ),
        runs,
    }
}

pub(crate) fn summarize_trickle(runs: Vec<TrickleRun>) -> TrickleSummary {
    let m = |f: fn(&TrickleRun) -> f64| median(runs.iter().map(f).collect());
    TrickleSummary {
        median_achieved_rate: m(|r| r.achieved_rate),
        median_enqueue_latency_p50_us: m(|r| r.enqueue_latency_us.p50),
        median_waitjob_p50_us: m(|r| r.latency_waitjob_us.p50),
        median_waitjob_p99_us: m(|r| r.latency_waitjob_us.p99),
        median_waitjob_p999_us: m(|r| r.latency_waitjob_us.p999),
        median_db_p50_ms: m(|r| r.latency_db_ms.p50),
        median_db_p99_ms: m(|r| r.latency_db_ms.p99),
        median_db_p999_ms: m(|r| r.latency_db_ms.p999),
        median_cpu_per_job_us: m(|r| r.cpu_per_job_us),
        median_daemon_rss_bytes: m(|r| r.daemon_rss_bytes as f64),
        median_worker_rss_bytes: median(
            runs.iter()
                .flat_map(|r| r.worker_rss_bytes.iter().map(|&b| b as f64))
                .collect(),
        ),
        runs,
    }
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

fn print_burst(
    out: &mut impl std::io::Write,
    title: &str,
    b: &BurstSummary,
) -> std::io::Result<()> {
    writeln!(out, "{title}")?;
    writeln!(
        out,
        "  {:<8} {:>8} {:>11} {:>12} {:>10} {:>12} {:>12} {:>12} {:>11} {:>11}",
        "run",
        "jobs",
        "enqueue/s",
        "jobs/s",
        "total s",
        "cpu/job µs",
        "daemon µs",
        "workers µs",
        "daemon RSS",
        "worker RSS"
    )?;
    for (i, r) in b.runs.iter().enumerate() {
        let worker_rss = median(r.worker_rss_bytes.iter().map(|&x| x as f64).collect());
        writeln!(
            out,
            "  {:<8} {:>8} {:>11.0} {:>12.0} {:>10.2} {:>12.1} {:>12.1} {:>12.1} {:>11} {:>11}{}",
            i + 1,
            r.jobs,
            r.enqueue_per_s,
            r.jobs_per_s,
            r.total_s,
            r.cpu_per_job_us,
            r.daemon_cpu_per_job_us,
            r.worker_cpu_per_job_us,
            mib(r.daemon_rss_bytes as f64),
            mib(worker_rss),
            if r.not_completed > 0 {
                format!("  ({} not completed)", r.not_completed)
            } else {
                String::new()
            }
        )?;
    }
    writeln!(
        out,
        "  {:<8} {:>8} {:>11.0} {:>12.0} {:>10.2} {:>12.1} {:>12.1} {:>12.1} {:>11} {:>11}",
        "median",
        "",
        b.median_enqueue_per_s,
        b.median_jobs_per_s,
        b.median_total_s,
        b.median_cpu_per_job_us,
        b.median_daemon_cpu_per_job_us,
        b.median_worker_cpu_per_job_us,
        mib(b.median_daemon_rss_bytes),
        mib(b.median_worker_rss_bytes),
    )
}

pub(crate) fn print_table(out: &mut impl std::io::Write, report: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "workload {:?}, mode {:?}, {} workers, {} runs, payload {} bytes",
        report.workload, report.mode, report.workers, report.runs, report.payload_bytes
    )?;
    if let Some(b) = &report.burst {
        print_burst(out, "burst", b)?;
    }
    if let Some(s) = &report.scale {
        print_burst(out, "burst, empty store", &s.empty)?;
        print_burst(
            out,
            &format!(
                "burst, store with {} completed + {} queued (paused) jobs ({}, prefilled in {:.1} s)",
                s.rows_finished,
                s.rows_queued_paused,
                mib(s.store_bytes as f64),
                s.prefill_s
            ),
            &s.prefilled,
        )?;
        writeln!(
            out,
            "scale ratio (prefilled / empty jobs/s): {:.3}",
            s.ratio
        )?;
    }
    if let Some(t) = &report.trickle {
        writeln!(out, "trickle")?;
        writeln!(
            out,
            "  {:<8} {:>7} {:>8} {:>11} {:>26} {:>26} {:>10} {:>11} {:>11}",
            "run",
            "jobs",
            "rate",
            "enq p50 µs",
            "waitjob p50/p99/p999 µs",
            "db p50/p99/p999 ms",
            "cpu/job µs",
            "daemon RSS",
            "worker RSS"
        )?;
        for (i, r) in t.runs.iter().enumerate() {
            let w = &r.latency_waitjob_us;
            let d = &r.latency_db_ms;
            writeln!(
                out,
                "  {:<8} {:>7} {:>8.1} {:>11.0} {:>26} {:>26} {:>10.1} {:>11} {:>11}{}",
                i + 1,
                r.jobs,
                r.achieved_rate,
                r.enqueue_latency_us.p50,
                format!("{:.0} / {:.0} / {:.0} (n={})", w.p50, w.p99, w.p999, w.n),
                format!("{:.0} / {:.0} / {:.0}", d.p50, d.p99, d.p999),
                r.cpu_per_job_us,
                mib(r.daemon_rss_bytes as f64),
                mib(median(
                    r.worker_rss_bytes.iter().map(|&x| x as f64).collect()
                )),
                if r.not_completed > 0 {
                    format!("  ({} not completed)", r.not_completed)
                } else {
                    String::new()
                }
            )?;
        }
        writeln!(
            out,
            "  {:<8} {:>7} {:>8.1} {:>11.0} {:>26} {:>26} {:>10.1} {:>11} {:>11}",
            "median",
            "",
            t.median_achieved_rate,
            t.median_enqueue_latency_p50_us,
            format!(
                "{:.0} / {:.0} / {:.0}",
                t.median_waitjob_p50_us, t.median_waitjob_p99_us, t.median_waitjob_p999_us
            ),
            format!(
                "{:.0} / {:.0} / {:.0}",
                t.median_db_p50_ms, t.median_db_p99_ms, t.median_db_p999_ms
            ),
            t.median_cpu_per_job_us,
            mib(t.median_daemon_rss_bytes),
            mib(t.median_worker_rss_bytes),
        )?;
    }
    if let Some(b) = &report.baseline {
        writeln!(
            out,
            "in-process baseline ({} jobs, one thread): {:.0} jobs/s, median {:.1} µs/job ({:.1} µs CPU)",
            b.iterations, b.jobs_per_s, b.median_us, b.median_cpu_us
        )?;
    }
    if let Some(r) = report.throughput_overhead {
        writeln!(
            out,
            "throughput overhead (baseline jobs/s ÷ end-to-end jobs/s): {r:.2}×"
        )?;
    }
    if let Some(r) = report.cpu_overhead {
        writeln!(
            out,
            "CPU overhead (end-to-end CPU per job ÷ baseline CPU per job): {r:.2}×"
        )?;
    }
    Ok(())
}
