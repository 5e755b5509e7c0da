//! Engine tests that need a hook no script can reach in a real build: a native function
//! that panics, to prove the per-job `catch_unwind` and the context rebuild after it.

#![allow(clippy::unwrap_used)]

use std::rc::Rc;

use boa_engine::{Context, NativeFunction, js_string};
use jobvisor_protocol::worker::{ErrorKind, Isolation, JobLimits, Outcome, RunJob, ScriptRef};

use super::Engine;
use crate::channel::Channel;

pub(super) fn register_test_hooks(context: &mut Context) {
    context
        .register_global_callable(
            js_string!("__jobvisor_test_panic"),
            0,
            NativeFunction::from_fn_ptr(|_, _, _| panic!("deliberate test panic")),
        )
        .unwrap();
}

pub(super) fn job(id: i64, source: Option<&str>, payload: &str) -> RunJob {
    RunJob {
        job_id: id,
        attempt: 1,
        max_attempts: 1,
        queue: "default".into(),
        script: ScriptRef {
            name: "t".into(),
            hash: "h".into(),
            source: source.map(Into::into),
            node_compat: false,
        },
        payload: payload.into(),
        deadline_ms: 5_000,
        signal_margin_ms: 0,
        limits: JobLimits::default(),
        isolation: Isolation::Script,
    }
}

#[test]
fn a_panic_in_the_engine_is_caught_and_the_context_rebuilt() {
    let mut engine = Engine::new(Rc::new(Channel::detached()));
    let source =
        "let n = 0\nexport default (p) => { n++; if (p.panic) __jobvisor_test_panic(); return n }";
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));

    let (first, _) = engine.run(&job(1, Some(source), "{}"));
    let (second, stats) = engine.run(&job(2, None, "{}"));
    let (panicked, _) = engine.run(&job(3, None, r#"{"panic":true}"#));
    let (after, after_stats) = engine.run(&job(4, None, "{}"));

    std::panic::set_hook(previous_hook);
    assert_eq!(
        first,
        Outcome::Ok {
            result: Some("1".into())
        }
    );
    assert_eq!(
        second,
        Outcome::Ok {
            result: Some("2".into())
        }
    );
    assert!(stats.warm);
    match panicked {
        Outcome::Err(err) => {
            assert_eq!(err.kind, ErrorKind::Panic);
            assert!(
                err.message.contains("deliberate test panic"),
                "{}",
                err.message
            );
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    assert_eq!(
        after,
        Outcome::Ok {
            result: Some("1".into())
        },
        "a fresh context after the panic"
    );
    assert!(!after_stats.warm);
}

#[test]
fn a_payload_that_is_not_json_is_a_payload_error() {
    let mut engine = Engine::new(Rc::new(Channel::detached()));
    let (outcome, _) = engine.run(&job(1, Some("export default (p) => p"), "{nope"));
    match outcome {
        Outcome::Err(err) => {
            assert_eq!(err.kind, ErrorKind::Payload);
            assert!(err.message.contains("not valid JSON"), "{}", err.message);
        }
        other => panic!("expected a payload error, got {other:?}"),
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .map(|v| v.trim().trim_end_matches("kB").trim().parse().unwrap())
        .unwrap()
}

/// A fresh context per job must not leave the previous ones behind. (Reading the handler
/// through the module namespace object kept every context alive: ~350 KiB per job.)
#[test]
fn fresh_contexts_are_freed() {
    let mut engine = Engine::new(Rc::new(Channel::detached()));
    let source = "export default (p) => ({ sum: p.a + p.b })";
    let mut run = |id: i64| {
        let mut j = job(id, Some(source), r#"{"a":1,"b":2}"#);
        j.isolation = Isolation::Job;
        let (outcome, _) = engine.run(&j);
        assert_eq!(
            outcome,
            Outcome::Ok {
                result: Some(r#"{"sum":3}"#.into())
            }
        );
    };
    for id in 0..300 {
        run(id);
    }
    let settled = rss_kib();
    for id in 300..1300 {
        run(id);
    }
    let growth = rss_kib().saturating_sub(settled);
    assert!(
        growth < 40 * 1024,
        "1000 fresh contexts grew RSS by {growth} KiB"
    );
}
