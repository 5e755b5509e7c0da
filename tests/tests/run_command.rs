//! `jobvisor run` end to end: the JavaScript contract, failures of every kind, and the
//! time and memory limits, through the real `jobvisor` and `jobvisor-worker` binaries.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use jobvisor_tests::fixture::{self, generated};
use jobvisor_tests::{memory_cgroup_available, run_json, run_script};
use serde_json::json;

#[test]
fn sync_handler_result_goes_to_stdout() {
    let out = run_script(
        "sum",
        &fixture::job("sum-function"),
        &["--payload", r#"{"a":2,"b":3}"#],
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(out.stdout.trim(), r#"{"sum":5}"#);
}

#[test]
fn async_handler_gets_payload_and_job_context() {
    let report = run_json(
        "ctx",
        &fixture::job("payload-and-job"),
        &["--payload", r#"{"name":"ada"}"#],
        0,
    );
    assert_eq!(report["outcome"], "completed");
    assert_eq!(
        report["result"],
        json!({"name": "ada", "job": {"id": 1, "attempt": 1, "maxAttempts": 1, "queue": "default", "script": "ctx"}})
    );
}

#[test]
fn async_arrow_default_export_is_accepted() {
    let report = run_json(
        "arrow",
        &fixture::job("double"),
        &["--payload", r#"{"n":21}"#],
        0,
    );
    assert_eq!(report["result"], json!({"doubled": 42}));
}

#[test]
fn awaited_timer_sleeps_instead_of_spinning() {
    let report = run_json("timer", &fixture::job("timer-1s"), &[], 0);
    let waited = report["result"].as_f64().unwrap();
    assert!(waited >= 990.0, "waited only {waited} ms");
    let cpu = report["cpu_ms"].as_f64().unwrap();
    assert!(
        cpu < 150.0,
        "a 1 s timer cost {cpu} ms of CPU: the executor is spinning"
    );
}

#[test]
fn intervals_run_and_are_dropped_when_the_handler_settles() {
    let report = run_json("interval", &fixture::job("interval-three-ticks"), &[], 0);
    assert_eq!(report["result"], json!(3));
}

#[test]
fn console_is_captured_with_levels_and_never_reaches_stdout() {
    let report = run_json("console", &fixture::job("console-levels"), &[], 0);
    let console = report["console"].as_array().unwrap();
    let levels: Vec<_> = console
        .iter()
        .map(|l| l["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["info", "info", "warn", "error", "debug"]);
    assert!(console[0]["text"].as_str().unwrap().starts_with("a {"));
    // Human mode: the result alone on stdout, console lines on stderr.
    let out = run_script("console2", &fixture::job("console-then-seven"), &[]);
    assert_eq!(out.stdout.trim(), "7");
    assert!(out.stderr.contains("to stderr"), "stderr: {}", out.stderr);
}

#[test]
fn console_output_is_capped_and_the_cut_is_marked() {
    let report = run_json("chatty", &fixture::job("console-5000-lines"), &[], 0);
    let console = report["console"].as_array().unwrap();
    assert_eq!(console.len(), 1001, "1000 lines and one marker");
    assert!(
        console[1000]["text"]
            .as_str()
            .unwrap()
            .contains("console output truncated")
    );
    assert_eq!(report["console_dropped"], json!(4000));
}

#[test]
fn console_shows_values_as_node_does() {
    let report = run_json(
        "inspect",
        r#"class Foo { constructor() { this.x = 1 } }
export default function () {
  console.log({ a: { b: { c: { d: 1 } } } }, new Map([[1, 2]]), new Set([1, 2]));
  console.log(new Date(Date.UTC(2026, 0, 1)), new Foo(), [1, 2, 3], 'raw', ['nested']);
  const circular = { name: 'c' }; circular.self = circular;
  console.warn('%s is %d, %j', 'x', 42, { j: 1 }, circular, -0, 1n, Symbol('s'));
  console.log({ alpha: 'aaaaaaaaaaaaaaa', beta: 'bbbbbbbbbbbbbbbbbb', gamma: 'ccccccccccccccccc', delta: 1 });
  console.group('Group %d', 1); console.info('inside'); console.group(); console.log([1]);
  console.groupEnd(); console.groupEnd(); console.log('group: is text');
  return 'done';
}"#,
        &[],
        0,
    );
    let texts: Vec<&str> = report["console"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "{ a: { b: { c: [Object] } } } Map(1) { 1 => 2 } Set(2) { 1, 2 }",
            "2026-01-01T00:00:00.000Z Foo { x: 1 } [ 1, 2, 3 ] raw [ 'nested' ]",
            "x is 42, {\"j\":1} <ref *1> { name: 'c', self: [Circular *1] } -0 1n Symbol(s)",
            "{\n  alpha: 'aaaaaaaaaaaaaaa',\n  beta: 'bbbbbbbbbbbbbbbbbb',\n  gamma: 'ccccccccccccccccc',\n  delta: 1\n}",
            "Group 1",
            "  inside",
            "    [ 1 ]",
            "group: is text",
        ]
    );
}

#[test]
fn logging_a_huge_value_stops_at_the_console_cap() {
    let report = run_json(
        "hugelog",
        &fixture::job("console-huge-value"),
        &["--timeout", "60s"],
        0,
    );
    assert_eq!(report["result"], "done");
    let console = report["console"].as_array().unwrap();
    let first = console[0]["text"].as_str().unwrap();
    assert!(
        first.starts_with("{\n  key0: { value: 'vvvv"),
        "{}",
        &first[..80]
    );
    assert!(first.len() <= 64 * 1024 + 64, "{} bytes", first.len());
    assert!(first.contains("… [truncated"), "the cut is marked");
    assert!(
        console.iter().skip(1).all(|line| line["text"] != "after"),
        "the attempt's console bytes are used up by the huge line"
    );
}

/// Every kind of thrown value ends as a clean, bounded error with exit code 3.
#[test]
fn thrown_values_of_every_kind_become_clean_errors() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "error",
            "throw new TypeError('bad thing')",
            "TypeError",
            "bad thing",
        ),
        ("number", "throw 42", "Uncaught number", "42"),
        (
            "undefined",
            "throw undefined",
            "Uncaught undefined",
            "undefined",
        ),
        ("string", "throw 'plain'", "Uncaught string", "plain"),
        (
            "throwing-tostring",
            "throw { toString() { throw new Error('no') } }",
            "Uncaught object",
            "{}",
        ),
        (
            "circular",
            "const o = { a: 1 }; o.self = o; throw o",
            "Uncaught object",
            "[object Object]",
        ),
        (
            "custom",
            "class MyErr extends Error { constructor() { super('mine'); this.name = 'MyErr' } } throw new MyErr()",
            "MyErr",
            "mine",
        ),
        (
            "huge-message",
            "throw new Error('x'.repeat(1e6))",
            "Error",
            "xxxx",
        ),
    ];
    for (name, body, expected_name, expected_message) in cases {
        let source = generated::handler_with_body(body);
        let report = run_json(name, &source, &[], 3);
        assert_eq!(report["outcome"], "js_error", "{name}");
        let error = &report["error"];
        assert_eq!(error["name"], *expected_name, "{name}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.starts_with(expected_message), "{name}: {message}");
        assert!(
            message.len() <= 9 * 1024,
            "{name}: message of {} bytes is not bounded",
            message.len()
        );
    }
}

#[test]
fn errors_carry_a_stack_naming_the_script() {
    let report = run_json("stacky", &fixture::job("throws-in-inner"), &[], 3);
    let stack = report["error"]["stack"].as_str().unwrap();
    assert!(
        stack.contains("inner") && stack.contains("stacky"),
        "stack: {stack}"
    );
}

const TE6: &str =
    "export default function (p) {\n  const n = 1;\n  return p.missing.map((x) => x * n);\n}\n";

#[test]
fn an_error_inside_a_call_points_at_its_line_and_column_with_the_source_line() {
    let out = run_script("te6", TE6, &[]);
    assert_eq!(out.code, 3, "stderr: {}", out.stderr);
    assert!(
        out.stderr
            .contains("te6.js:3\n  return p.missing.map((x) => x * n);\n                   ^\n"),
        "stderr: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("at default (te6.js:3:20)"),
        "stderr: {}",
        out.stderr
    );
}

#[test]
fn an_undefined_global_called_points_at_its_name() {
    let source = "export default async function (p) {\n  await null;\n  const n = 1;\n  return undefinedThing(n);\n}\n";
    let report = run_json("te7", source, &[], 3);
    assert_eq!(report["error"]["name"], "ReferenceError");
    let stack = report["error"]["stack"].as_str().unwrap();
    assert!(
        stack.starts_with("    at default (te7.js:4:10)"),
        "stack: {stack}"
    );
}

#[test]
fn an_error_in_a_called_function_points_into_it() {
    let source = "function helper(o) {\n  return o.list.map(String);\n}\nexport default function (p) {\n  return helper(p);\n}\n";
    let report = run_json("nested6", source, &[], 3);
    let stack = report["error"]["stack"].as_str().unwrap();
    assert!(
        stack.starts_with("    at helper (nested6.js:2:17)\n    at default (nested6.js:5:"),
        "stack: {stack}"
    );
}

#[test]
fn an_async_arrow_one_liner_is_placed_in_the_line_as_written() {
    let out = run_script("arrow6", "export default async (p) => p.a.b.c", &[]);
    assert_eq!(out.code, 3, "stderr: {}", out.stderr);
    assert!(
        out.stderr.contains(
            "arrow6.js:1\nexport default async (p) => p.a.b.c\n                                ^\n"
        ),
        "stderr: {}",
        out.stderr
    );
}

#[test]
fn a_rejected_promise_is_an_error() {
    let report = run_json("rejects", &fixture::job("rejects-late"), &[], 3);
    assert_eq!(report["error"]["name"], "RangeError");
    assert_eq!(report["error"]["message"], "late");
}

#[test]
fn a_promise_that_never_settles_is_an_error_not_a_hang() {
    let out = run_script(
        "never",
        &fixture::job("pending"),
        &["--json", "--timeout", "20s"],
    );
    assert_eq!(out.code, 3, "stderr: {}", out.stderr);
    assert!(
        out.elapsed < Duration::from_secs(5),
        "took {:?}",
        out.elapsed
    );
    assert_eq!(out.report()["error"]["kind"], "neversettled");
}

#[test]
fn an_infinite_loop_is_killed_at_the_timeout() {
    let out = run_script(
        "spin",
        &fixture::job("spin"),
        &["--json", "--timeout", "1s"],
    );
    assert_eq!(out.code, 4, "stderr: {}", out.stderr);
    assert!(
        out.elapsed < Duration::from_secs(2),
        "killed after {:?}",
        out.elapsed
    );
    let report = out.report();
    assert_eq!(report["outcome"], "timeout");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("timeout of 1s")
    );
}

#[test]
fn a_catastrophic_regex_is_killed_at_the_timeout() {
    let out = run_script(
        "redos",
        &fixture::job("redos"),
        &["--json", "--timeout", "1s"],
    );
    assert_eq!(out.code, 4, "stderr: {}", out.stderr);
    assert!(
        out.elapsed < Duration::from_secs(2),
        "killed after {:?}",
        out.elapsed
    );
}

#[test]
fn a_timer_past_the_deadline_ends_the_job_without_a_kill() {
    let report = run_json(
        "late-timer",
        &fixture::job("timer-60s"),
        &["--timeout", "500ms"],
        4,
    );
    assert_eq!(report["outcome"], "timeout");
    assert_eq!(
        report["error"]["kind"], "deadline",
        "the worker stopped the job itself"
    );
}

#[test]
fn deep_recursion_is_a_clean_error() {
    let report = run_json("recurse", &fixture::job("recursion"), &[], 3);
    assert_eq!(report["error"]["name"], "RuntimeLimitError");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("recursive calls")
    );
    // Recursion within the limit is fine.
    let ok = run_json("recurse-ok", &fixture::job("recursion-400"), &[], 0);
    assert_eq!(ok["result"], json!(400));
}

#[test]
fn deeply_nested_source_is_refused_or_parsed_never_a_crash_or_hang() {
    let at_limit = generated::returning_nested(1, "(", ")", 1000);
    let report = run_json("nested-1000", &at_limit, &[], 0);
    assert_eq!(report["result"], json!(1));
    let over = generated::returning_nested(1, "[", "]", 5000);
    let report = run_json("nested-5000", &over, &[], 3);
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("deeper than 1000")
    );
}

#[test]
fn no_process_require_or_module_loading() {
    let report = run_json("sandbox", &fixture::job("no-process-or-imports"), &[], 0);
    assert_eq!(report["result"]["process"], "undefined");
    assert_eq!(report["result"]["require"], "undefined");
    // `fetch` exists, but is a host call: the worker has no network of its own.
    assert_eq!(report["result"]["fetch"], "function");
    assert!(
        report["result"]["imported"]
            .as_str()
            .unwrap()
            .starts_with("refused")
    );
    let static_import = run_json("static-import", &fixture::job("static-import"), &[], 3);
    assert_eq!(static_import["outcome"], "js_error");
}

#[test]
fn web_platform_helpers_are_there() {
    let report = run_json("helpers", &fixture::job("web-helpers"), &[], 0);
    assert_eq!(
        report["result"],
        json!({"text": "héllo", "b64": "aGk=", "path": "/a/b", "clone": {"x": [1]}})
    );
}

/// The result follows `JSON.stringify` exactly.
#[test]
fn result_serialisation_follows_json_stringify() {
    let cases: &[(&str, serde_json::Value)] = &[
        ("({ a: undefined, b: 1 })", json!({"b": 1})),
        (
            "({ d: new Date(0) })",
            json!({"d": "1970-01-01T00:00:00.000Z"}),
        ),
        (
            "({ f() {}, n: NaN, i: Infinity })",
            json!({"n": null, "i": null}),
        ),
        ("({ [Symbol('s')]: 1, x: 1 })", json!({"x": 1})),
        ("({ get g() { return 5 } })", json!({"g": 5})),
        ("({ toJSON() { return 'custom' } })", json!("custom")),
        (
            "[undefined, () => 1, Symbol('x')]",
            json!([null, null, null]),
        ),
        (
            "({ m: new Map([[1, 2]]), s: new Set([1]) })",
            json!({"m": {}, "s": {}}),
        ),
        ("'text'", json!("text")),
        ("-0", json!(0)),
        ("null", json!(null)),
        (
            "({ nested: { deep: [1, { x: 'y' }] } })",
            json!({"nested": {"deep": [1, {"x": "y"}]}}),
        ),
    ];
    for (expr, expected) in cases {
        let report = run_json("json", &generated::returning(expr), &[], 0);
        assert_eq!(&report["result"], expected, "JSON.stringify({expr})");
    }
    // A handler may replace the global JSON; the result still uses the real one.
    let report = run_json("json-hijack", &fixture::job("json-hijacked"), &[], 0);
    assert_eq!(report["result"], json!({"ok": true}));
    // Nothing to serialise: no result at all.
    let report = run_json("json-undefined", &fixture::job("returns-undefined"), &[], 0);
    assert!(report.get("result").is_none(), "{report}");
}

#[test]
fn unserialisable_results_are_clear_errors() {
    let report = run_json("cyclic", &fixture::job("cyclic-result"), &[], 3);
    assert_eq!(report["error"]["kind"], "result");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cyclic")
    );
    let report = run_json("bigint", &fixture::job("bigint-result"), &[], 3);
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bigint")
    );
    let report = run_json("too-big", &fixture::job("huge-result"), &[], 3);
    assert_eq!(report["error"]["name"], "ResultTooLarge");
}

#[test]
fn script_errors_name_the_problem() {
    let report = run_json("broken", &fixture::job("syntax-error"), &[], 3);
    assert_eq!(report["error"]["name"], "SyntaxError");
    let report = run_json("no-default", &fixture::job("no-default-export"), &[], 3);
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no default export function")
    );
    let report = run_json("top-throw", &fixture::job("throws-at-load"), &[], 3);
    assert_eq!(report["error"]["message"], "at load");
}

#[test]
fn both_isolation_modes_run_the_job() {
    for mode in ["script", "job"] {
        let report = run_json("iso", &fixture::job("counter"), &["--isolation", mode], 0);
        assert_eq!(report["result"], json!(1), "isolation={mode}");
    }
}

#[test]
fn a_memory_bomb_is_stopped_by_the_cgroup_limit() {
    if !memory_cgroup_available("a_memory_bomb_is_stopped_by_the_cgroup_limit") {
        return;
    }
    let report = run_json(
        "bomb",
        &fixture::job("bomb"),
        &[
            "--memory",
            "128MiB",
            "--limiter",
            "cgroup",
            "--timeout",
            "20s",
        ],
        5,
    );
    assert_eq!(report["outcome"], "oom");
    assert_eq!(report["memory_limit"]["enforced_by"], "cgroup_v1");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("128MiB")
    );
}

#[test]
fn a_memory_bomb_of_small_objects_is_stopped_by_the_cgroup_limit() {
    if !memory_cgroup_available("a_memory_bomb_of_small_objects_is_stopped_by_the_cgroup_limit") {
        return;
    }
    let report = run_json(
        "bomb-objects",
        &fixture::job("bomb-small-objects"),
        &[
            "--memory",
            "96MiB",
            "--limiter",
            "cgroup",
            "--timeout",
            "30s",
        ],
        5,
    );
    assert_eq!(report["outcome"], "oom");
}

#[test]
fn a_memory_bomb_is_stopped_by_the_rlimit_fallback() {
    let report = run_json(
        "bomb-rlimit",
        &fixture::job("bomb"),
        &[
            "--memory",
            "128MiB",
            "--limiter",
            "rlimit",
            "--timeout",
            "20s",
        ],
        5,
    );
    assert_eq!(report["outcome"], "oom");
    assert_eq!(report["memory_limit"]["enforced_by"], "rlimit");
}

#[test]
fn a_job_under_its_memory_limit_is_unaffected() {
    let report = run_json(
        "modest",
        &fixture::job("hundred-thousand-objects"),
        &["--memory", "128MiB"],
        0,
    );
    assert_eq!(report["result"], json!(100000));
}

#[test]
fn bad_input_is_refused_with_a_clear_message() {
    let out = run_script("ok", &fixture::job("one"), &["--payload", "{not json"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("payload is not valid JSON"),
        "{}",
        out.stderr
    );

    let out = jobvisor_tests::run_file(std::path::Path::new("/nonexistent/script.js"), &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("cannot read script /nonexistent/script.js"),
        "{}",
        out.stderr
    );

    let out = run_script("ok", &fixture::job("one"), &["--timeout", "soon"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("not a duration"), "{}", out.stderr);

    let out = run_script("ok", &fixture::job("one"), &["--memory", "1MiB"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("at least 16MiB"), "{}", out.stderr);

    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("payload.json");
    std::fs::write(&payload, r#"{"from":"file"}"#).unwrap();
    let arg = format!("@{}", payload.display());
    let out = run_script("echo", &fixture::job("echo"), &["--payload", &arg]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), r#"{"from":"file"}"#);
}

#[test]
fn a_payload_can_come_from_stdin() {
    use std::io::Write;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("echo.js");
    std::fs::write(&file, fixture::job("increment")).unwrap();
    let mut child = jobvisor_tests::jobvisor()
        .args(["run", file.to_str().unwrap(), "--payload", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"n": 41}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
}

#[test]
fn a_missing_worker_binary_is_a_clear_failure() {
    let file = fixture::job_path("one");
    let out = jobvisor_tests::jobvisor()
        .env("JOBVISOR_WORKER", "/nonexistent/jobvisor-worker")
        .args(["run", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/jobvisor-worker"), "{stderr}");
}

/// A `jobvisor run` killed with SIGKILL cannot remove its cgroup; the next `jobvisor run`
/// removes the groups of runs that are gone.
#[test]
fn a_killed_runs_cgroup_is_removed_by_the_next_run() {
    if !memory_cgroup_available("a_killed_runs_cgroup_is_removed_by_the_next_run") {
        return;
    }
    let script = fixture::job_path("sleep-20s");
    let mut run = jobvisor_tests::jobvisor()
        .args(["run", "--limiter", "cgroup", "--timeout", "60s"])
        .arg(&script)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let name = format!("jobvisor-run-{}", run.id());
    let group = || {
        jobvisor_tests::daemon::worker_cgroups()
            .into_iter()
            .find(|g| g.ends_with(&name))
    };
    let started = std::time::Instant::now();
    while group().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no group {name}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    run.kill().unwrap();
    run.wait().unwrap();
    // (Another test's `jobvisor run`, in parallel, may already have removed it.)

    let out = run_script("ok", &fixture::job("one"), &["--limiter", "cgroup"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(group().is_none(), "the next run removed {name}");
}

/// `global` and `performance` answer as in node (expected values taken from node 20).
#[test]
fn global_alias_and_performance_clock_match_node() {
    let report = run_json(
        "clock-globals",
        r#"export default () => {
            const a = performance.now(); const b = performance.now();
            return { alias: global === globalThis, now: typeof a, ordered: b >= a && a >= 0,
                origin: typeof performance.timeOrigin,
                sane: Math.abs(performance.timeOrigin + performance.now() - Date.now()) < 1000 };
        }"#,
        &[],
        0,
    );
    assert_eq!(
        report["result"],
        json!({"alias":true,"now":"number","ordered":true,"origin":"number","sane":true})
    );
}

/// `URLSearchParams` and `URL.prototype.searchParams` (expected values taken from node 20).
#[test]
fn url_search_params_match_node_and_follow_the_url() {
    let report = run_json(
        "search-params",
        r#"export default () => {
            const p = new URLSearchParams("?a=1&b=2&a=3&c=%20x+y&e&%zz=%G1");
            p.append("sp ace", "ä/~*!'()"); p.set("b", "x"); p.sort();
            const u = new URL("https://example.com/p?x=1#h");
            u.searchParams.append("z", "a b"); const href = u.href;
            u.search = "?k=v";
            return [p.toString(), [...p.keys()].join("|"), p.getAll("a"), p.size, href,
                u.searchParams.get("k"), u.searchParams === u.searchParams];
        }"#,
        &[],
        0,
    );
    assert_eq!(
        report["result"],
        json!([
            "%25zz=%25G1&a=1&a=3&b=x&c=+x+y&e=&sp+ace=%C3%A4%2F%7E*%21%27%28%29",
            "%zz|a|a|b|c|e|sp ace",
            ["1", "3"],
            7,
            "https://example.com/p?x=1&z=a+b#h",
            "v",
            true
        ])
    );
}

/// Events, abort signals (a real timer for `AbortSignal.timeout`), `DOMException` and
/// `queueMicrotask` (expected values taken from node 20).
#[test]
fn events_and_abort_signals_match_node() {
    let report = run_json(
        "events",
        r#"export default async () => {
            const out = []; const t = new EventTarget();
            t.addEventListener("ping", (e) => out.push("once:" + (e.target === t)), { once: true });
            t.dispatchEvent(new Event("ping")); t.dispatchEvent(new Event("ping"));
            const c = new AbortController(); c.signal.onabort = () => out.push("onabort"); c.abort();
            out.push(c.signal.reason.name, AbortSignal.any([c.signal]).aborted);
            let micro = "no"; queueMicrotask(() => { micro = "yes" });
            const s = AbortSignal.timeout(10);
            await new Promise((resolve) => s.addEventListener("abort", resolve));
            out.push(micro, s.reason.name, s.reason.message, s.reason instanceof DOMException);
            return out;
        }"#,
        &[],
        0,
    );
    assert_eq!(
        report["result"],
        json!([
            "once:true",
            "onabort",
            "AbortError",
            true,
            "yes",
            "TimeoutError",
            "The operation was aborted due to timeout",
            true
        ])
    );
}

/// `TextEncoder.encodeInto` and `TextDecoder`'s encodings and options (expected values
/// taken from node 20).
#[test]
fn text_encoding_matches_node() {
    let report = run_json(
        "text",
        r#"export default () => {
            const buf = new Uint8Array(5);
            const into = new TextEncoder().encodeInto("hé😀x", buf);
            let fatal; try { new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0x61, 0xFF])) } catch (e) { fatal = e.name }
            return [into, Array.from(buf), fatal,
                new TextDecoder().decode(new Uint8Array([0xEF, 0xBB, 0xBF, 0x68, 0xFF])),
                new TextDecoder("utf-16le").decode(new Uint8Array([0xFF, 0xFE, 0x68, 0])),
                new TextDecoder("latin1").encoding, new TextDecoder("latin1").decode(new Uint8Array([0xE9]))];
        }"#,
        &[],
        0,
    );
    assert_eq!(
        report["result"],
        json!([{"read": 2, "written": 3}, [104, 195, 169, 0, 0], "TypeError", "h\u{FFFD}", "h",
            "windows-1252", "é"])
    );
}
