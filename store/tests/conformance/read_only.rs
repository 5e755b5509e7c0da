//! The read-only handle, once per backend: it answers every read of `JobStoreRead` as the
//! writer does (committed work, the owner of a claim, the schedule slot of a fired job),
//! it refuses a missing store and another application's database without creating
//! anything, and opening it starts no epoch.

use std::sync::Arc;
use std::time::Duration;

use jobvisor_store::schedule::{ScheduleDef, Timing};
use jobvisor_store::*;

use super::common::{SCRIPT, completion, options};
use super::{Backend, Sqlite, T0};

/// Every read of the contract, from one handle, for comparing two handles.
async fn all_reads<S: JobStoreRead>(store: &S, ids: &[JobId], script_hash: &str) -> String {
    let mut jobs = Vec::new();
    for &id in ids {
        jobs.push(store.get_job(id).await.unwrap());
    }
    let schedule = store.get_schedule("tick", 5).await.unwrap();
    let state = (
        store.state_get("script:echo", "cursor").await.unwrap(),
        store
            .state_list(StateQuery {
                namespace: "script:echo".into(),
                limit: 10,
                ..StateQuery::default()
            })
            .await
            .unwrap(),
    );
    format!(
        "{jobs:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{schedule:?}",
        store.list_jobs(JobFilter::default()).await.unwrap(),
        store.counts().await.unwrap(),
        store.list_queues().await.unwrap(),
        store.list_scripts().await.unwrap(),
        store.script_source("echo", script_hash).await.unwrap(),
    ) + &format!("\n{:?}\n{state:?}", store.list_schedules().await.unwrap())
}

async fn a_read_only_handle_sees_what_the_writer_committed<B: Backend>() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let mut opts = options(&clock);
    opts.node_id = Some("node-a".into());
    let store = B::open_with(dir.path(), opts);
    store.add_script("echo", SCRIPT).await.unwrap();
    let mut ids = Vec::new();
    for payload in ["{\"n\":1}", "{\"n\":2}"] {
        ids.push(
            store
                .enqueue(EnqueueRequest::new("echo", payload))
                .await
                .unwrap()
                .id,
        );
    }
    let claimed = store.claim_batch(1).await.unwrap().jobs.remove(0);
    let with_effects = Completion {
        effects: AttemptEffects {
            state: vec![StateWrite {
                namespace: "script:echo".into(),
                key: "cursor".into(),
                value: Some("{\"at\":1}".into()),
                ttl: None,
                check: VersionCheck::Absent,
            }],
            children: vec![EnqueueRequest::new("echo", "{\"child\":true}")],
        },
        ..completion(&claimed)
    };
    let Fenced::Applied(Completed::Done { children }) = store.complete(with_effects).await.unwrap()
    else {
        panic!("the completion applies its effects")
    };
    ids.extend(children);
    let tick = ScheduleDef::new(
        "tick",
        "echo",
        Timing::every(Duration::from_secs(60)).unwrap(),
    );
    store.upsert_schedule(tick).await.unwrap();
    clock.advance(Duration::from_secs(61));
    let fired = store.fire_due_schedules().await.unwrap();
    assert_eq!(fired.fired.len(), 1, "one slot due: {fired:?}");
    ids.push(fired.fired[0].job_id);

    let reader = B::open_read_only(dir.path()).unwrap();
    let done = reader.get_job(claimed.id).await.unwrap().unwrap();
    assert_eq!(done.job.state, JobState::Completed);
    assert_eq!(done.job.result.as_deref(), Some("{\"ok\":true}"));
    assert_eq!(done.job.owner_node, Some(NodeId("node-a".into())));
    assert_eq!(done.job.epoch, Some(store.epoch()));
    assert_eq!(done.attempts.len(), 1);
    assert_eq!(done.attempts[0].outcome, OutcomeKind::Completed);
    let queued = reader.get_job(ids[1]).await.unwrap().unwrap();
    assert_eq!(
        (queued.job.state, queued.job.owner_node),
        (JobState::Available, None)
    );
    let scheduled = reader.get_job(ids[3]).await.unwrap().unwrap().job;
    assert_eq!(scheduled.schedule_name.as_deref(), Some("tick"));
    assert_eq!(scheduled.schedule_slot_ms, fired.fired[0].slot_ms);
    assert_eq!(done.children, [ids[2]]);
    let child = reader.get_job(ids[2]).await.unwrap().unwrap().job;
    assert_eq!(child.parent, Some(claimed.id));
    let cursor = reader.state_get("script:echo", "cursor").await.unwrap();
    assert_eq!(
        cursor.map(|entry| entry.value).as_deref(),
        Some("{\"at\":1}")
    );
    assert!(scheduled.schedule_slot_ms.is_some());
    assert_eq!(reader.counts().await.unwrap().epoch, store.epoch());
    assert_eq!(
        all_reads(&reader, &ids, &claimed.script_hash).await,
        all_reads(&store, &ids, &claimed.script_hash).await,
        "the read-only handle answers as the writer"
    );

    // A handle that is already open sees later commits.
    store.cancel(ids[1]).await.unwrap();
    let cancelled = reader.get_job(ids[1]).await.unwrap().unwrap();
    assert_eq!(cancelled.job.state, JobState::Cancelled);
    store.close().await.unwrap();
    // And reads on after the writer is gone.
    assert_eq!(
        reader.get_job(ids[1]).await.unwrap().unwrap().job.state,
        JobState::Cancelled
    );
}

async fn a_read_only_open_refuses_a_missing_or_foreign_store<B: Backend>() {
    let dir = tempfile::tempdir().unwrap();
    let missing = B::open_read_only(dir.path()).unwrap_err();
    assert!(
        matches!(missing, StoreError::Open { .. }),
        "missing store: {missing:?}"
    );
    assert!(
        missing.to_string().contains("never creates"),
        "the error says nothing was created: {missing}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a read-only open of a missing store created a file"
    );
    B::plant_foreign_database(dir.path());
    let foreign = B::open_read_only(dir.path()).unwrap_err();
    assert!(
        matches!(foreign, StoreError::ForeignDatabase { .. }),
        "foreign database: {foreign:?}"
    );
}

async fn opening_read_only_does_not_change_the_next_writers_epoch<B: Backend>() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let first = B::open_with(dir.path(), options(&clock));
    let epoch = first.epoch();
    first.close().await.unwrap();
    for _ in 0..3 {
        let reader = B::open_read_only(dir.path()).unwrap();
        assert_eq!(reader.counts().await.unwrap().epoch, epoch);
    }
    let next = B::open_with(dir.path(), options(&clock));
    assert_eq!(
        next.epoch(),
        epoch + 1,
        "read-only opens in between started epochs"
    );
    next.close().await.unwrap();
}

conformance!(sqlite = Sqlite:
    a_read_only_handle_sees_what_the_writer_committed,
    a_read_only_open_refuses_a_missing_or_foreign_store,
    opening_read_only_does_not_change_the_next_writers_epoch,
);
