//! What an attempt does beyond its result, once per backend: state writes and child jobs
//! are applied by `complete` in its transaction or not at all (a failed check or an
//! invalid effect applies nothing and fails the attempt under its retry policy), state
//! reads hide expired keys, versions never repeat, listings page in key order, children
//! carry their parent, an attempt's HTTP requests are kept whatever its end, and a script
//! version carries its network grant.

use std::time::Duration;

use jobvisor_store::*;

use super::common::{completion, failure};
use super::{Backend, Fixture, Sqlite, T0, fixture, request};

const NS: &str = "script:echo";

fn set(key: &str, value: &str, check: VersionCheck) -> StateWrite {
    StateWrite {
        namespace: NS.into(),
        key: key.into(),
        value: Some(value.into()),
        ttl: None,
        check,
    }
}

fn delete(key: &str, check: VersionCheck) -> StateWrite {
    StateWrite {
        value: None,
        ..set(key, "null", check)
    }
}

fn with_effects(claimed: &ClaimedJob, effects: AttemptEffects) -> Completion {
    Completion {
        effects,
        ..completion(claimed)
    }
}

fn writes(state: Vec<StateWrite>) -> AttemptEffects {
    AttemptEffects {
        state,
        children: Vec::new(),
    }
}

impl<B: Backend> Fixture<B> {
    async fn get(&self, key: &str) -> Option<StateEntry> {
        self.store.state_get(NS, key).await.unwrap()
    }

    async fn put(&self, write: StateWrite) -> StateWriteOutcome {
        self.store.state_set(write).await.unwrap()
    }

    async fn written(&self, write: StateWrite) -> u64 {
        match self.put(write).await {
            StateWriteOutcome::Written {
                version: Some(version),
            } => version,
            other => panic!("expected a written value, got {other:?}"),
        }
    }

    async fn keys(&self, prefix: &str, after: Option<&str>, limit: u32) -> (Vec<String>, bool) {
        let page = self
            .store
            .state_list(StateQuery {
                namespace: NS.into(),
                prefix: prefix.into(),
                after: after.map(str::to_owned),
                limit,
            })
            .await
            .unwrap();
        let keys = page.entries.into_iter().map(|entry| entry.key).collect();
        (keys, page.more)
    }
}

async fn a_compare_and_set_race_has_exactly_one_winner<B: Backend>() {
    let f = fixture::<B>().await;
    let start = f.written(set("cursor", "1", VersionCheck::Any)).await;
    let a = f.enqueue(request("{}").max_attempts(3)).await;
    let b = f.enqueue(request("{}").max_attempts(3)).await;
    let claimed = f.claim(2).await;
    assert_eq!(claimed.len(), 2);
    let mut done = Vec::new();
    let mut conflicts = Vec::new();
    // Both read version `start` during their attempts; both complete with that check.
    let pending: Vec<_> = claimed
        .iter()
        .map(|job| {
            let value = format!("{}", job.id.0);
            let effects = writes(vec![set("cursor", &value, VersionCheck::Is(start))]);
            (job.id, f.store.complete(with_effects(job, effects)))
        })
        .collect();
    for (id, pending) in pending {
        match pending.await.unwrap() {
            Fenced::Applied(Completed::Done { children }) => {
                assert!(children.is_empty());
                done.push(id);
            }
            Fenced::Applied(Completed::Conflict {
                conflict,
                disposition,
            }) => {
                assert_eq!(conflict.key, "cursor");
                assert_eq!(conflict.expected, VersionCheck::Is(start));
                assert!(conflict.current.is_some_and(|v| v > start), "{conflict:?}");
                assert!(
                    matches!(disposition, FailDisposition::Retry { .. }),
                    "{disposition:?}"
                );
                conflicts.push((id, conflict));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(done.len(), 1, "exactly one winner: {done:?}");
    assert_eq!(conflicts.len(), 1, "exactly one conflict: {conflicts:?}");
    let winner = done[0];
    let entry = f.get("cursor").await.unwrap();
    assert_eq!(entry.value, winner.0.to_string());
    assert!(entry.version > start);
    let (loser, conflict) = &conflicts[0];
    assert_eq!(f.state(winner).await, JobState::Completed);
    let detail = f.job(*loser).await;
    assert_eq!(
        detail.job.state,
        JobState::Retryable,
        "the loser is retried"
    );
    let attempt = &detail.attempts[0];
    assert_eq!(attempt.outcome, OutcomeKind::JsError);
    let error = attempt.error.as_ref().unwrap();
    assert_eq!(error.name, STATE_CONFLICT_ERROR);
    assert_eq!(error.message, conflict.to_string());
    assert!(
        error
            .message
            .contains(&format!("expected to hold version {start}")),
        "{}",
        error.message
    );
    assert!(
        detail.job.result.is_none(),
        "a refused completion keeps no result"
    );
    assert!([a, b].contains(&winner) && [a, b].contains(loser));
}

async fn absent_checks_pass_once_and_a_refused_completion_applies_nothing<B: Backend>() {
    let f = fixture::<B>().await;
    let first = f.enqueue(request("{}")).await;
    let claimed = f.claim(1).await.remove(0);
    let effects = AttemptEffects {
        state: vec![set("seen", "true", VersionCheck::Absent)],
        children: vec![EnqueueRequest::new("echo", "{\"n\":1}")],
    };
    let done = f
        .store
        .complete(with_effects(&claimed, effects))
        .await
        .unwrap();
    let Fenced::Applied(Completed::Done { children }) = done else {
        panic!("{done:?}")
    };
    assert_eq!(children.len(), 1);
    let seen = f.get("seen").await.unwrap();

    // The second attempt stages an unconditional write, a child and an Absent check
    // that fails: none of it lands.
    f.enqueue(request("{}")).await;
    let again = &f.claim(1).await[0];
    let effects = AttemptEffects {
        state: vec![
            set("other", "1", VersionCheck::Any),
            set("seen", "false", VersionCheck::Absent),
        ],
        children: vec![EnqueueRequest::new("echo", "{\"n\":2}")],
    };
    let refused = f
        .store
        .complete(with_effects(again, effects))
        .await
        .unwrap();
    let Fenced::Applied(Completed::Conflict { conflict, .. }) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(conflict.expected, VersionCheck::Absent);
    assert_eq!(conflict.current, Some(seen.version));
    assert_eq!(f.get("seen").await, Some(seen), "the key is as it was");
    assert_eq!(
        f.get("other").await,
        None,
        "an unchecked write of the attempt too"
    );
    assert!(
        f.job(again.id).await.children.is_empty(),
        "no child was enqueued"
    );
    assert_eq!(f.job(first).await.children, children);
}

async fn only_a_completion_applies_effects<B: Backend>() {
    let f = fixture::<B>().await;
    let id = f.enqueue(request("{}").max_attempts(5)).await;
    // A failure and a refund carry no effects at all: the contract has nowhere to put
    // them. What the attempt had staged is gone with it.
    let claimed = f.claim(1).await.remove(0);
    f.store
        .fail(failure(&claimed, OutcomeKind::Timeout))
        .await
        .unwrap();
    f.clock.advance(Duration::from_secs(3600));
    let claimed = f.claim(1).await.remove(0);
    f.store
        .refund(claimed.attempt_ref(), AttemptReport::default())
        .await
        .unwrap();
    assert_eq!(f.get("k").await, None);
    assert!(f.job(id).await.children.is_empty());
    // A stale completion applies nothing either.
    let claimed = f.claim(1).await.remove(0);
    let stale = Completion {
        attempt: AttemptRef {
            attempt: claimed.attempt + 1,
            ..claimed.attempt_ref()
        },
        ..with_effects(
            &claimed,
            AttemptEffects {
                state: vec![set("k", "1", VersionCheck::Any)],
                children: vec![EnqueueRequest::new("echo", "{}")],
            },
        )
    };
    assert!(!f.store.complete(stale).await.unwrap().is_applied());
    assert_eq!(f.get("k").await, None);
    assert!(f.job(id).await.children.is_empty());
    let listed = f.store.list_jobs(JobFilter::default()).await.unwrap();
    assert_eq!(listed.len(), 1, "no child job anywhere: {listed:?}");
}

async fn expired_keys_read_as_absent_and_are_pruned<B: Backend>() {
    let f = fixture::<B>().await;
    let ttl = StateWrite {
        ttl: Some(Duration::from_secs(10)),
        ..set("mark", "1", VersionCheck::Absent)
    };
    f.written(ttl.clone()).await;
    f.written(set("keep", "1", VersionCheck::Any)).await;
    let entry = f.get("mark").await.unwrap();
    assert_eq!(entry.expires_at_ms, Some(T0 + 10_000));
    assert_eq!(entry.updated_at_ms, T0);
    f.clock.advance(Duration::from_millis(9_999));
    assert!(f.get("mark").await.is_some(), "live until its time");
    f.clock.advance(Duration::from_millis(1));
    assert_eq!(f.get("mark").await, None, "expired: absent");
    assert_eq!(f.keys("", None, 10).await.0, ["keep"]);
    // An Absent check passes on an expired key.
    let again = f.written(ttl).await;
    assert!(again > entry.version);
    f.clock.advance(Duration::from_secs(10));
    let report = f
        .store
        .prune(Retention {
            completed: Duration::from_secs(3600),
            failed: Duration::from_secs(3600),
        })
        .await
        .unwrap();
    assert_eq!(report.expired_state, 1, "{report:?}");
    assert_eq!(f.keys("", None, 10).await.0, ["keep"]);
    assert_eq!(
        f.put(set("mark", "2", VersionCheck::Is(again))).await,
        StateWriteOutcome::Conflict { current: None }
    );
}

async fn a_keys_version_never_repeats_even_after_a_delete<B: Backend>() {
    let f = fixture::<B>().await;
    let v1 = f.written(set("k", "1", VersionCheck::Absent)).await;
    assert_eq!(
        f.put(delete("k", VersionCheck::Is(v1))).await,
        StateWriteOutcome::Written { version: None }
    );
    assert_eq!(f.get("k").await, None);
    let v2 = f.written(set("k", "2", VersionCheck::Absent)).await;
    assert!(v2 > v1, "{v2} after {v1}");
    assert_eq!(
        f.put(set("k", "3", VersionCheck::Is(v1))).await,
        StateWriteOutcome::Conflict { current: Some(v2) }
    );
    // Several writes of one completion: a later write of a key wins, each set has a
    // version of its own.
    f.enqueue(request("{}")).await;
    let claimed = f.claim(1).await.remove(0);
    let effects = writes(vec![
        set("k", "\"a\"", VersionCheck::Is(v2)),
        set("j", "{}", VersionCheck::Any),
        set("k", "\"b\"", VersionCheck::Is(v2)),
    ]);
    let done = f
        .store
        .complete(with_effects(&claimed, effects))
        .await
        .unwrap();
    assert!(
        matches!(done, Fenced::Applied(Completed::Done { .. })),
        "{done:?}"
    );
    let k = f.get("k").await.unwrap();
    let j = f.get("j").await.unwrap();
    assert_eq!(k.value, "\"b\"");
    // Versions v2 + 1..=3 went to the three sets in order; the last one of `k` stays.
    assert_eq!((j.version, k.version), (v2 + 2, v2 + 3));
    // Another namespace has keys of its own, from the same counter.
    let other = f
        .store
        .state_set(StateWrite {
            namespace: "shared".into(),
            ..set("k", "1", VersionCheck::Absent)
        })
        .await
        .unwrap();
    assert_eq!(
        other,
        StateWriteOutcome::Written {
            version: Some(v2 + 4)
        }
    );
}

async fn listings_page_in_key_order_within_the_prefix<B: Backend>() {
    let f = fixture::<B>().await;
    for key in [
        "a/3",
        "a/1",
        "b",
        "a",
        "a/2",
        "a/",
        "a/\u{10FFFF}",
        "ab",
        "a0",
    ] {
        f.written(set(key, "1", VersionCheck::Any)).await;
    }
    assert_eq!(
        f.keys("a/", None, 2).await,
        (vec!["a/".to_owned(), "a/1".to_owned()], true)
    );
    assert_eq!(
        f.keys("a/", Some("a/1"), 2).await,
        (vec!["a/2".to_owned(), "a/3".to_owned()], true)
    );
    assert_eq!(
        f.keys("a/", Some("a/3"), 2).await,
        (vec!["a/\u{10FFFF}".to_owned()], false)
    );
    // An `after` before the prefix starts at the prefix.
    assert_eq!(
        f.keys("b", Some("a"), 10).await,
        (vec!["b".to_owned()], false)
    );
    let (all, more) = f.keys("", None, 1000).await;
    assert_eq!(
        all,
        [
            "a",
            "a/",
            "a/1",
            "a/2",
            "a/3",
            "a/\u{10FFFF}",
            "a0",
            "ab",
            "b"
        ]
    );
    assert!(!more);
    // The limit is clamped: 0 lists one key, a huge one the page maximum.
    assert_eq!(f.keys("", None, 0).await, (vec!["a".to_owned()], true));
    assert_eq!(f.keys("", None, u32::MAX).await.0.len(), 9);
    assert_eq!(f.keys("zzz", None, 10).await, (Vec::new(), false));
    let other = f
        .store
        .state_list(StateQuery {
            namespace: "elsewhere".into(),
            limit: 10,
            ..StateQuery::default()
        })
        .await
        .unwrap();
    assert!(other.entries.is_empty());
}

async fn state_requests_are_validated_with_clear_errors<B: Backend>() {
    let f = fixture::<B>().await;
    let refused = |write: StateWrite, said: &'static str| {
        let store = f.store.clone();
        async move {
            let err = store.state_set(write).await.unwrap_err();
            assert!(matches!(err, StoreError::InvalidRequest(_)), "{err:?}");
            assert!(err.to_string().contains(said), "{err}");
        }
    };
    refused(
        set("", "1", VersionCheck::Any),
        "state key must be 1..=512 bytes",
    )
    .await;
    refused(
        set(&"k".repeat(MAX_STATE_KEY_BYTES + 1), "1", VersionCheck::Any),
        "state key must be 1..=512 bytes, not 513",
    )
    .await;
    refused(set("k", "{oops", VersionCheck::Any), "is not JSON").await;
    let big = format!("\"{}\"", "x".repeat(MAX_STATE_VALUE_BYTES));
    refused(
        set("k", &big, VersionCheck::Any),
        "above the limit of 65536",
    )
    .await;
    refused(
        StateWrite {
            namespace: String::new(),
            ..set("k", "1", VersionCheck::Any)
        },
        "state namespace must be 1..=128 bytes",
    )
    .await;
    let at_limit = format!("\"{}\"", "x".repeat(MAX_STATE_VALUE_BYTES - 2));
    f.written(set(
        &"k".repeat(MAX_STATE_KEY_BYTES),
        &at_limit,
        VersionCheck::Any,
    ))
    .await;
    let err = f.store.state_get(NS, "").await.unwrap_err();
    assert!(err.to_string().contains("state key"), "{err}");
    let err = f.store.state_get("", "k").await.unwrap_err();
    assert!(err.to_string().contains("state namespace"), "{err}");
    // In a completion, an invalid write refuses the completion: nothing is applied and
    // the attempt fails with the reason.
    f.enqueue(request("{}")).await;
    let claimed = f.claim(1).await.remove(0);
    let effects = writes(vec![
        set("fine", "1", VersionCheck::Any),
        set("k", &big, VersionCheck::Any),
    ]);
    let refused = f
        .store
        .complete(with_effects(&claimed, effects))
        .await
        .unwrap();
    let Fenced::Applied(Completed::Refused { reason, .. }) = refused else {
        panic!("{refused:?}")
    };
    assert!(reason.contains("above the limit of 65536"), "{reason}");
    assert_eq!(f.get("fine").await, None);
    let error = f.job(claimed.id).await.attempts[0].error.clone().unwrap();
    assert_eq!(
        (error.name.as_str(), error.message),
        (INVALID_EFFECT_ERROR, reason)
    );
}

async fn children_are_enqueued_with_their_parent<B: Backend>() {
    let f = fixture::<B>().await;
    let parent = f.enqueue(request("{}")).await;
    let claimed = f.claim(1).await.remove(0);
    let effects = AttemptEffects {
        state: Vec::new(),
        children: vec![
            EnqueueRequest::new("echo", "{\"n\":1}")
                .queue("mail")
                .priority(5)
                .max_attempts(7)
                .timeout(Duration::from_secs(3)),
            EnqueueRequest::new("echo", "{\"n\":2}").delay(Duration::from_secs(60)),
        ],
    };
    let done = f
        .store
        .complete(with_effects(&claimed, effects))
        .await
        .unwrap();
    let Fenced::Applied(Completed::Done { children }) = done else {
        panic!("{done:?}")
    };
    assert_eq!(children.len(), 2);
    let detail = f.job(parent).await;
    assert_eq!(detail.children, children, "oldest first");
    assert_eq!(detail.job.parent, None);
    let first = f.job(children[0]).await.job;
    assert_eq!(first.parent, Some(parent));
    assert_eq!(
        (first.queue.as_str(), first.priority, first.max_attempts),
        ("mail", 5, 7)
    );
    assert_eq!(first.timeout, Some(Duration::from_secs(3)));
    assert_eq!(first.state, JobState::Available);
    let second = f.job(children[1]).await.job;
    assert_eq!(second.parent, Some(parent));
    assert_eq!(second.state, JobState::Scheduled);
    assert_eq!(
        second.run_at_ms,
        T0 + 60_000,
        "the delay runs from the completion"
    );
    let claimed = f.claim(10).await;
    assert_eq!(
        claimed.iter().map(|job| job.id).collect::<Vec<_>>(),
        [children[0]],
        "the child runs like any job"
    );
    // A pruned parent leaves its children, without the link.
    f.clock.advance(Duration::from_secs(7200));
    f.store
        .prune(Retention {
            completed: Duration::from_secs(3600),
            failed: Duration::from_secs(3600),
        })
        .await
        .unwrap();
    assert!(
        f.store.get_job(parent).await.unwrap().is_none(),
        "parent pruned"
    );
    assert_eq!(f.job(children[1]).await.job.parent, None);
}

async fn a_childs_unique_key_finds_the_live_job<B: Backend>() {
    let f = fixture::<B>().await;
    let existing = f.enqueue(request("{}").unique_key("sync:42")).await;
    let parent = f.enqueue(request("{}").priority(9)).await;
    let claimed = f.claim(1).await.remove(0);
    assert_eq!(claimed.id, parent);
    let effects = AttemptEffects {
        state: Vec::new(),
        children: vec![
            EnqueueRequest::new("echo", "{}").unique_key("sync:42"),
            EnqueueRequest::new("echo", "{}").unique_key("sync:43"),
            EnqueueRequest::new("echo", "{}").unique_key("sync:43"),
        ],
    };
    let done = f
        .store
        .complete(with_effects(&claimed, effects))
        .await
        .unwrap();
    let Fenced::Applied(Completed::Done { children }) = done else {
        panic!("{done:?}")
    };
    assert_eq!(children[0], existing, "the live job's id");
    assert_eq!(
        children[1], children[2],
        "one job per key within a completion too"
    );
    assert_eq!(
        f.job(existing).await.job.parent,
        None,
        "the live job keeps its own"
    );
    assert_eq!(f.job(parent).await.children, [children[1]]);
}

async fn a_child_of_an_unknown_script_refuses_the_completion<B: Backend>() {
    let f = fixture::<B>().await;
    let id = f.enqueue(request("{}").max_attempts(1)).await;
    let claimed = f.claim(1).await.remove(0);
    let effects = AttemptEffects {
        state: vec![set("k", "1", VersionCheck::Any)],
        children: vec![
            EnqueueRequest::new("echo", "{}"),
            EnqueueRequest::new("nosuch", "{}"),
        ],
    };
    let refused = f
        .store
        .complete(with_effects(&claimed, effects))
        .await
        .unwrap();
    let Fenced::Applied(Completed::Refused {
        reason,
        disposition,
    }) = refused
    else {
        panic!("{refused:?}")
    };
    assert_eq!(
        reason,
        "child job 2 names the script `nosuch`, which does not exist"
    );
    assert_eq!(disposition, FailDisposition::Discarded, "its last attempt");
    let detail = f.job(id).await;
    assert_eq!(detail.job.state, JobState::Discarded);
    assert!(detail.children.is_empty());
    assert_eq!(f.get("k").await, None);
    assert_eq!(
        detail.job.last_error.as_deref(),
        Some(format!("{INVALID_EFFECT_ERROR}: {reason}").as_str())
    );
    // An invalid child (checked as `enqueue` would) refuses it too.
    let id = f.enqueue(request("{}")).await;
    let claimed = f.claim(1).await.remove(0);
    let effects = AttemptEffects {
        state: Vec::new(),
        children: vec![EnqueueRequest::new("echo", "{not json")],
    };
    let refused = f
        .store
        .complete(with_effects(&claimed, effects))
        .await
        .unwrap();
    let Fenced::Applied(Completed::Refused { reason, .. }) = refused else {
        panic!("{refused:?}")
    };
    assert!(
        reason.starts_with("child job 1 (script `echo`): "),
        "{reason}"
    );
    assert_eq!(f.state(id).await, JobState::Retryable);
}

fn request_record(url: &str, status: Option<u16>) -> RequestRecord {
    RequestRecord {
        method: "GET".into(),
        url: url.into(),
        status,
        bytes_out: 0,
        bytes_in: 120,
        duration_ms: 8,
        redirects: 1,
        error: status
            .is_none()
            .then(|| "refused: host not in allow_net".to_owned()),
    }
}

async fn requests_are_recorded_on_every_attempt<B: Backend>() {
    let f = fixture::<B>().await;
    let id = f.enqueue(request("{}").max_attempts(5)).await;
    let report = |url: &str, status| AttemptReport {
        requests: vec![
            request_record(url, status),
            request_record("https://b.example/x", Some(404)),
        ],
        ..AttemptReport::default()
    };
    let claimed = f.claim(1).await.remove(0);
    let failed = Failure {
        report: report("https://a.example/fail", None),
        ..failure(&claimed, OutcomeKind::JsError)
    };
    f.store.fail(failed).await.unwrap();
    f.clock.advance(Duration::from_secs(3600));
    let claimed = f.claim(1).await.remove(0);
    f.store
        .refund(
            claimed.attempt_ref(),
            report("https://a.example/refund", Some(200)),
        )
        .await
        .unwrap();
    let claimed = f.claim(1).await.remove(0);
    f.store
        .complete(Completion {
            report: report("https://a.example/done", Some(200)),
            ..completion(&claimed)
        })
        .await
        .unwrap();
    let attempts = f.job(id).await.attempts;
    let urls: Vec<&str> = attempts
        .iter()
        .map(|attempt| attempt.requests[0].url.as_str())
        .collect();
    assert_eq!(
        urls,
        [
            "https://a.example/fail",
            "https://a.example/refund",
            "https://a.example/done"
        ]
    );
    assert_eq!(
        attempts[0].requests,
        report("https://a.example/fail", None).requests
    );
    assert_eq!(attempts[2].requests[1].status, Some(404));
    // An attempt without requests reads back an empty list.
    let other = f.enqueue(request("{}")).await;
    let claimed = f.claim(1).await.remove(0);
    f.store.complete(completion(&claimed)).await.unwrap();
    assert!(f.job(other).await.attempts[0].requests.is_empty());
}

async fn a_script_version_carries_its_network_grant<B: Backend>() {
    let f = fixture::<B>().await;
    let source = "export default () => fetch('https://api.example.com')";
    let plain = f.store.add_script("poll", source).await.unwrap();
    assert_eq!(
        plain.hash,
        sha256_hex(source),
        "no grant: the source's hash"
    );
    let granted = f
        .store
        .add_script_with(
            "poll",
            source,
            vec![
                "b.example:8443".into(),
                "api.example.com".into(),
                "b.example:8443".into(),
            ],
        )
        .await
        .unwrap();
    assert!(granted.created, "another grant is another version");
    assert_ne!(granted.hash, plain.hash);
    let again = f
        .store
        .add_script_with(
            "poll",
            source,
            vec!["api.example.com".into(), "b.example:8443".into()],
        )
        .await
        .unwrap();
    assert_eq!((again.created, &again.hash), (false, &granted.hash));
    let scripts = f.store.list_scripts().await.unwrap();
    let grants: Vec<(&str, &[String], bool)> = scripts
        .iter()
        .filter(|script| script.name == "poll")
        .map(|script| (script.hash.as_str(), &script.allow_net[..], script.current))
        .collect();
    let expected = ["api.example.com".to_owned(), "b.example:8443".to_owned()];
    assert_eq!(
        grants,
        [
            (plain.hash.as_str(), &[][..], false),
            (granted.hash.as_str(), &expected[..], true)
        ]
    );
    let id = f
        .enqueue(EnqueueRequest::new("poll", "{}").priority(100))
        .await;
    f.store.add_script("poll", source).await.unwrap();
    let plain_job = f.enqueue(EnqueueRequest::new("poll", "{}")).await;
    let claimed = f.claim(2).await;
    assert_eq!(claimed[0].id, id);
    assert_eq!(
        claimed[0].allow_net, expected,
        "the grant it was enqueued under"
    );
    assert_eq!(claimed[1].id, plain_job);
    assert!(claimed[1].allow_net.is_empty());
    let source_back = f.store.script_source("poll", &granted.hash).await.unwrap();
    assert_eq!(source_back.as_deref(), Some(source));
    for bad in [
        vec![String::new()],
        vec!["x".repeat(301)],
        vec!["  ".into()],
    ] {
        let err = f
            .store
            .add_script_with("poll", source, bad)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("allow_net entry"), "{err}");
    }
}

conformance!(sqlite = Sqlite:
    a_compare_and_set_race_has_exactly_one_winner,
    absent_checks_pass_once_and_a_refused_completion_applies_nothing,
    only_a_completion_applies_effects,
    expired_keys_read_as_absent_and_are_pruned,
    a_keys_version_never_repeats_even_after_a_delete,
    listings_page_in_key_order_within_the_prefix,
    state_requests_are_validated_with_clear_errors,
    children_are_enqueued_with_their_parent,
    a_childs_unique_key_finds_the_live_job,
    a_child_of_an_unknown_script_refuses_the_completion,
    requests_are_recorded_on_every_attempt,
    a_script_version_carries_its_network_grant,
);
