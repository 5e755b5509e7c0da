//! Multi-file scripts end to end: a directory read as one script version through
//! `jobvisor run DIR`, `jobvisor scripts add NAME DIR` and `[[script]] path = "DIR"`, its
//! imports resolved inside it by the real worker, and every way a graph can be wrong
//! refused with a message that names the file and the import. The fixtures are in
//! `tests/fixtures/modules/`.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use jobvisor_tests::config::ConfigBuilder;
use jobvisor_tests::daemon::{Daemon, job};
use jobvisor_tests::run_file;
use jobvisor_tests::store_view::JobState;
use serde_json::json;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/modules")
        .join(name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

const GRAPH_PAYLOAD: &str = r#"{"items":[2,3,5]}"#;

fn graph_result() -> serde_json::Value {
    json!({"label": "10 EUR (check 0)", "sum": 10, "version": 3})
}

#[test]
fn run_dir_runs_a_graph_with_a_json_module_and_a_nested_directory() {
    let out = run_file(&fixture("graph"), &["--json", "--payload", GRAPH_PAYLOAD]);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let report = out.report();
    assert_eq!(report["outcome"], "completed");
    assert_eq!(report["result"], graph_result());
}

#[test]
fn run_dir_shows_frames_and_the_source_line_of_the_file_that_threw() {
    let out = run_file(&fixture("graph"), &["--payload", r#"{"items":5}"#]);
    assert_eq!(out.code, 3, "stdout: {}", out.stdout);
    assert!(
        out.stderr.starts_with(
            "lib/math.js:2\n  return items.reduce((sum, item) => sum + item, 0);\n                     ^\n"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("    at total (lib/math.js:2:22)\n    at default (index.js:7:20)"),
        "{}",
        out.stderr
    );
}

#[test]
fn run_dir_takes_a_named_entry() {
    let out = run_file(
        &fixture("named"),
        &["--entry", "src/start.js", "--payload", r#"{"name":"ada"}"#],
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(out.stdout.trim(), r#""hello ada""#);

    let out = run_file(&fixture("named"), &[]);
    assert_eq!(out.code, 2, "stdout: {}", out.stdout);
    assert!(
        out.stderr
            .contains("has no entry module: add index.js, index.mjs or main.js"),
        "{}",
        out.stderr
    );
}

/// Every error case of a graph, with the words its message must have.
const BROKEN: [(&str, &str, &str); 5] = [
    (
        "missing",
        "ModuleError",
        "`lib/helper.js` imports `./gone.js`: the script has no file `lib/gone.js`",
    ),
    (
        "bare",
        "ModuleError",
        "`index.js` imports `lodash`, a bare specifier: a script imports only its own files, by a relative path such as `./lib.js`; bundle npm packages with esbuild",
    ),
    (
        "escape",
        "ModuleError",
        "`lib/up.js` imports `../../outside.js`, which is outside the script's directory",
    ),
    (
        "cycle",
        "SyntaxError",
        "the modules import each other in a cycle: a.js → b.js → a.js",
    ),
    (
        "badjson",
        "SyntaxError",
        "`settings.json` is not valid JSON: expected value at line 3 column 22",
    ),
];

#[test]
fn run_dir_names_each_broken_graph_s_problem() {
    for (name, error_name, words) in BROKEN {
        let out = run_file(&fixture(name), &["--json"]);
        assert_eq!(out.code, 3, "{name}: stderr: {}", out.stderr);
        let report = out.report();
        let error = &report["error"];
        assert_eq!(error["name"], error_name, "{name}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(words), "{name}: {message}");
    }
}

#[test]
fn run_dir_refuses_a_directory_over_the_file_cap() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.js"), "export default () => 1").unwrap();
    for n in 0..jobvisor_supervisor::limits::MAX_SCRIPT_FILES {
        std::fs::write(dir.path().join(format!("f{n}.js")), "").unwrap();
    }
    let out = run_file(dir.path(), &[]);
    assert_eq!(out.code, 2, "stdout: {}", out.stdout);
    assert!(
        out.stderr
            .contains("at most 256 files are allowed (the script file cap)"),
        "{}",
        out.stderr
    );
}

#[test]
fn scripts_add_dir_stores_one_version_that_jobs_run() {
    let daemon = Daemon::start_with(ConfigBuilder::new().workers(1));
    let dir = fixture("graph");
    let added = succeeded(&daemon.cli(&["scripts", "add", "graph", dir.to_str().unwrap()]));
    assert!(added.contains("script graph version"), "{added}");
    // The same directory again is the same version: one hash over all its files.
    let again = succeeded(&daemon.cli(&["scripts", "add", "graph", dir.to_str().unwrap()]));
    assert!(again.contains("is already current"), "{again}");

    let id = daemon.enqueue(job("graph", GRAPH_PAYLOAD));
    daemon.wait_for("the job to complete", Duration::from_secs(20), || {
        daemon.job_state(id) == JobState::Completed
    });
    let shown: serde_json::Value = serde_json::from_str(&succeeded(&daemon.cli(&[
        "jobs",
        "show",
        &id.to_string(),
        "--json",
    ])))
    .unwrap();
    assert_eq!(shown["result"], graph_result(), "{shown}");

    let failing = daemon.enqueue(job("graph", r#"{"items":5}"#));
    daemon.wait_for("the job to fail", Duration::from_secs(20), || {
        !matches!(daemon.job_state(failing).as_str(), "available" | "running")
    });
    let shown = succeeded(&daemon.cli(&["jobs", "show", &failing.to_string()]));
    assert!(shown.contains("at total (lib/math.js:2:22)"), "{shown}");

    let script = succeeded(&daemon.cli(&["scripts", "show", "graph"]));
    assert!(script.contains("4 files, entry index.js"), "{script}");
    for file in [
        "--- config.json",
        "--- index.js",
        "--- lib/deep/format.js",
        "--- lib/math.js",
    ] {
        assert!(script.contains(file), "{file}: {script}");
    }
    let versions = daemon.store().scripts();
    assert_eq!(
        versions.iter().filter(|v| v.name == "graph").count(),
        1,
        "one stored version: {versions:?}"
    );
}

#[test]
fn scripts_add_dir_refuses_each_broken_graph_with_its_message() {
    let daemon = Daemon::start_with(ConfigBuilder::new().workers(1));
    for (name, _, words) in BROKEN {
        let dir = fixture(name);
        let out = daemon.cli(&["scripts", "add", name, dir.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("was not added") && stderr.contains(words),
            "{name}: {stderr}"
        );
    }
    let listed = succeeded(&daemon.cli(&["scripts", "list"]));
    assert!(listed.contains("no scripts yet"), "{listed}");
}

#[test]
fn a_config_script_may_be_a_directory() {
    let dir = fixture("named");
    let daemon = Daemon::start_with(ConfigBuilder::new().workers(1).script_dir_with_entry(
        "greet",
        &dir,
        "src/start.js",
    ));
    let id = daemon.enqueue(job("greet", r#"{"name":"bo"}"#));
    daemon.wait_for("the job to complete", Duration::from_secs(20), || {
        daemon.job_state(id) == JobState::Completed
    });
    let shown: serde_json::Value = serde_json::from_str(&succeeded(&daemon.cli(&[
        "jobs",
        "show",
        &id.to_string(),
        "--json",
    ])))
    .unwrap();
    assert_eq!(shown["result"], json!("hello bo"), "{shown}");
}

#[test]
fn a_malformed_bundle_sent_over_the_socket_is_refused_and_nothing_is_stored() {
    use jobvisor_protocol::bundle::BUNDLE_MARKER;
    use jobvisor_protocol::control::{ErrorCode, Request, Response};

    let daemon = Daemon::start_with(ConfigBuilder::new().workers(1));
    for (source, words) in [
        (
            format!("{BUNDLE_MARKER}entry 8:index.js\nfile 8:index.js 999:export default 1\n"),
            "the bundle is malformed: a length runs past the end",
        ),
        (
            format!("{BUNDLE_MARKER}entry 8:index.js\nfile 11:../index.js 0:\n"),
            "the bundle path `../index.js` has an empty, `.` or `..` component",
        ),
    ] {
        let answer = daemon.request(&Request::AddScript {
            name: "forged".into(),
            source,
            allow_net: Vec::new(),
        });
        match answer {
            Response::Error(err) => {
                assert_eq!(err.code, ErrorCode::BadRequest, "{err:?}");
                assert!(err.message.contains(words), "{}", err.message);
            }
            other => panic!("a malformed bundle was accepted: {other:?}"),
        }
    }
    let stored = daemon.store().scripts();
    assert!(stored.is_empty(), "a forged bundle was stored: {stored:?}");
}

#[test]
fn a_single_file_script_keeps_its_hash() {
    let daemon = Daemon::start_with(ConfigBuilder::new().workers(1));
    let file = daemon.dir.path().join("one.js");
    let source = "export default () => 1\n";
    std::fs::write(&file, source).unwrap();
    let out = succeeded(&daemon.cli(&["scripts", "add", "one", file.to_str().unwrap(), "--json"]));
    let added: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        added["hash"].as_str().unwrap(),
        jobvisor_supervisor::store::sha256_hex(source)
    );
    let stored = daemon
        .store()
        .script_source("one", added["hash"].as_str().unwrap());
    assert_eq!(
        stored.as_deref(),
        Some(source),
        "a single file is stored as it is"
    );
}
