//! Two owners on one store file, with the real daemon and a real SIGKILL: daemon A (this
//! node) holds a slow job and is killed; meanwhile another node, `node-b`, holds a job
//! with a live lease (claimed through the store API, then left without renewals, as a
//! supervisor on another host that stopped would leave it). A restarted on the same state
//! dir (the same node) releases its own job at once and leaves b's alone until b's lease
//! has passed; then it releases and runs it.

use std::time::Duration;

use jobvisor_protocol::control::{JobState, JobView, Request, Response};
use jobvisor_supervisor::store::{EnqueueRequest, SqliteStore, StoreOptions};
use jobvisor_tests::daemon::{Daemon, job};
use jobvisor_tests::memory_cgroup_available;

const ECHO: &str = "export default (p) => p;";
const SLOW: &str =
    "export default async (p) => { await new Promise((r) => setTimeout(r, 1500)); return p; };";

fn show(daemon: &Daemon, id: i64) -> JobView {
    match daemon.request(&Request::ShowJob { id }) {
        Response::Job(view) => *view,
        other => panic!("jobs show {id}: {other:?}"),
    }
}

fn outcomes(view: &JobView) -> Vec<(u32, String)> {
    view.attempts
        .iter()
        .map(|attempt| (attempt.attempt, attempt.outcome.to_string()))
        .collect()
}

#[test]
fn a_restarted_node_releases_its_own_jobs_at_once_and_another_owners_after_its_lease() {
    // Releasing this node's jobs at once needs the proof that its old workers are dead:
    // their cgroups (without them the restart waits for every lease).
    if !memory_cgroup_available(
        "owners::a_restarted_node_releases_its_own_jobs_at_once_and_another_owners_after_its_lease",
    ) {
        return;
    }
    let mut daemon = Daemon::start(
        "workers = 1\n[store]\nnode_id = \"node-a\"\n",
        &[("slow", SLOW), ("echo", ECHO)],
    );
    let own = daemon.enqueue(job("slow", "{}"));
    daemon.wait_for("the slow job runs", Duration::from_secs(20), || {
        daemon.job_state(own) == "running"
    });
    daemon.signal(libc::SIGKILL);
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), None, "killed");

    // Another node's claim, with a lease of its timeout plus one second of grace.
    let options = StoreOptions {
        node_id: Some("node-b".into()),
        lease_grace: Duration::from_secs(1),
        ..StoreOptions::default()
    };
    let b = SqliteStore::open(daemon.database(), options).expect("open the store as node-b");
    let theirs = b
        .enqueue(
            EnqueueRequest::new("echo", "{}")
                .queue("b")
                .timeout(Duration::from_secs(8)),
        )
        .wait()
        .expect("enqueue")
        .id;
    let claimed = b.claim_batch(5).wait().expect("claim").jobs;
    assert_eq!(claimed.len(), 1, "only b's job is available: {claimed:?}");
    assert_eq!(claimed[0].id, theirs);
    let lease_until = claimed[0].lease_until_ms;
    b.close().expect("close");

    daemon.launch();
    let restarted = show(&daemon, own);
    assert_eq!(
        outcomes(&restarted).first(),
        Some(&(1, "supervisor_restart".to_owned())),
        "this node's job was released at start: {restarted:?}"
    );
    let held = show(&daemon, theirs.0);
    assert_eq!(
        held.summary.state,
        JobState::Running,
        "b's live lease is left alone"
    );
    assert!(held.attempts.is_empty(), "{held:?}");

    daemon.wait_for("both jobs completed", Duration::from_secs(40), || {
        daemon.job_state(own) == "completed" && daemon.job_state(theirs.0) == "completed"
    });
    let released = show(&daemon, theirs.0);
    assert_eq!(
        outcomes(&released),
        [(1, "lease_expired".to_owned()), (1, "completed".to_owned())],
        "{released:?}"
    );
    assert!(
        released.attempts[0].finished_at_ms >= lease_until,
        "released at {} ms, before its lease ended at {lease_until} ms",
        released.attempts[0].finished_at_ms
    );
    let own_done = show(&daemon, own);
    assert_eq!(
        outcomes(&own_done),
        [
            (1, "supervisor_restart".to_owned()),
            (1, "completed".to_owned())
        ]
    );
    daemon.stop();
    daemon.assert_invariants(&[own, theirs.0]);
}
