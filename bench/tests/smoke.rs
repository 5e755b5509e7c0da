//! Smoke test of `jobvisor-bench`: a small burst and a short trickle through a real daemon,
//! checking that the JSON report has sane fields, so the harness cannot rot. No timing
//! assertions: the numbers depend on the machine.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use serde_json::Value;

fn bench(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_jobvisor-bench"))
        .args(args)
        .args(["--runs", "1", "--baseline-iterations", "200", "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "jobvisor-bench {args:?} failed: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not one JSON object ({e}):\n{stdout}\nstderr:\n{stderr}"))
}

fn positive(value: &Value, what: &str) -> f64 {
    let number = value
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {value}"));
    assert!(number.is_finite() && number > 0.0, "{what} = {number}");
    number
}

fn check_baseline(report: &Value) {
    let baseline = &report["baseline"];
    assert_eq!(baseline["iterations"], 200);
    positive(&baseline["jobs_per_s"], "baseline.jobs_per_s");
    positive(&baseline["median_us"], "baseline.median_us");
    assert!(baseline["median_cpu_us"].as_f64().unwrap() >= 0.0);
    positive(&report["cpu_overhead"], "cpu_overhead");
}

#[test]
fn burst_reports_throughput_cpu_and_memory() {
    let report = bench(&["--workload", "trivial", "--mode", "burst", "--jobs", "200"]);
    assert_eq!(report["workload"], "trivial");
    assert_eq!(report["mode"], "burst");
    let burst = &report["burst"];
    let runs = burst["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["jobs"], 200);
    assert_eq!(run["not_completed"], 0);
    let jobs_per_s = positive(&run["jobs_per_s"], "jobs_per_s");
    let total_s = positive(&run["total_s"], "total_s");
    assert!((jobs_per_s * total_s - 200.0).abs() < 1.0);
    positive(&run["enqueue_per_s"], "enqueue_per_s");
    assert!(run["cpu_per_job_us"].as_f64().unwrap() >= 0.0);
    positive(&run["daemon_rss_bytes"], "daemon_rss_bytes");
    let workers = run["worker_rss_bytes"].as_array().unwrap();
    assert_eq!(workers.len(), 2, "two workers by default");
    for rss in workers {
        positive(rss, "worker_rss_bytes");
    }
    assert_eq!(burst["median_jobs_per_s"], run["jobs_per_s"]);
    check_baseline(&report);
    positive(&report["throughput_overhead"], "throughput_overhead");
}

#[test]
fn trickle_reports_latency_percentiles() {
    let report = bench(&[
        "--workload",
        "trivial",
        "--mode",
        "trickle",
        "--rate",
        "100",
        "--duration",
        "2s",
    ]);
    assert_eq!(report["mode"], "trickle");
    let runs = report["trickle"]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["jobs"], 200);
    assert_eq!(run["not_completed"], 0);
    positive(&run["achieved_rate"], "achieved_rate");
    let waitjob = &run["latency_waitjob_us"];
    assert_eq!(waitjob["n"], 20, "every 10th job is sampled");
    let p50 = positive(&waitjob["p50"], "waitjob p50");
    assert!(waitjob["p99"].as_f64().unwrap() >= p50);
    assert!(waitjob["p999"].as_f64().unwrap() >= waitjob["p99"].as_f64().unwrap());
    let db = &run["latency_db_ms"];
    assert_eq!(db["n"], 200, "every job has a finished_at");
    assert!(db["p50"].as_f64().unwrap() >= -1.0);
    positive(&run["enqueue_latency_us"]["p50"], "enqueue latency p50");
    positive(&run["daemon_rss_bytes"], "daemon_rss_bytes");
    check_baseline(&report);
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["--workload", "trivial", "--mode", "burst", "--jobs", "0"][..],
        &["--workload", "trivial", "--mode", "trickle", "--rate", "-5"][..],
        &["--workload", "nope", "--mode", "burst"][..],
        &[
            "--workload",
            "trivial",
            "--mode",
            "burst",
            "--duration",
            "soon",
        ][..],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_jobvisor-bench"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?} says why");
    }
}
