//! Node compatibility end to end: a `[[script]]` with `node_compat = true` and `jobvisor
//! run --node-compat` give a script `Buffer` and `process.nextTick` through the real
//! binaries, and a script without the opt-in has neither.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use jobvisor_tests::config::ConfigBuilder;
use jobvisor_tests::daemon::{Daemon, job};
use jobvisor_tests::run_json;
use jobvisor_tests::store_view::JobState;
use serde_json::json;

/// Uses `Buffer` at load time (as csv-parse does) and in the handler, and orders a tick
/// against a promise job.
const NODE_SCRIPT: &str = r#"
const bom = Buffer.from([0xef, 0xbb, 0xbf]);
export default async (payload) => {
  const order = [];
  Promise.resolve().then(() => order.push("promise"));
  process.nextTick((n) => order.push(`tick ${n}`), payload.n);
  await null;
  await null;
  const text = Buffer.from(payload.text);
  return {
    hex: text.toString("hex"),
    base64: text.toString("base64"),
    back: Buffer.from(text.toString("base64url"), "base64url").toString(),
    bom: Buffer.concat([bom, text]).indexOf(text),
    order,
    env: Object.keys(process.env).length,
  };
};
"#;

const PLAIN_SCRIPT: &str = "export default () => [typeof Buffer, typeof process];";

fn expected() -> serde_json::Value {
    json!({
        "hex": "68c3a9e282ac",
        "base64": "aMOp4oKs",
        "back": "hé€",
        "bom": 3,
        "order": ["tick 7", "promise"],
        "env": 0,
    })
}

fn result_of(daemon: &Daemon, id: i64) -> serde_json::Value {
    let out = daemon.cli(&["jobs", "show", &id.to_string(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    shown["result"].clone()
}

#[test]
fn a_config_script_with_node_compat_gets_buffer_and_next_tick_and_others_do_not() {
    let daemon = Daemon::start_with(
        ConfigBuilder::new()
            .workers(1)
            .node_compat_script("nodey", NODE_SCRIPT)
            .script("plain", PLAIN_SCRIPT),
    );
    let payload = r#"{"text":"hé€","n":7}"#;
    let ids = [
        daemon.enqueue(job("nodey", payload)),
        daemon.enqueue(job("plain", "{}")),
        // The same worker again: its warm context of each script keeps its own globals.
        daemon.enqueue(job("nodey", payload)),
        daemon.enqueue(job("plain", "{}")),
    ];
    daemon.wait_for("the jobs to complete", Duration::from_secs(30), || {
        ids.iter()
            .all(|&id| daemon.job_state(id) == JobState::Completed)
    });
    let results: Vec<_> = ids.iter().map(|&id| result_of(&daemon, id)).collect();
    let plain = json!(["undefined", "undefined"]);
    assert_eq!(results, [expected(), plain.clone(), expected(), plain]);
}

#[test]
fn run_with_node_compat_gets_buffer_and_without_it_the_script_does_not_load() {
    let args = ["--payload", r#"{"text":"hé€","n":7}"#, "--node-compat"];
    let report = run_json("nodey", NODE_SCRIPT, &args, 0);
    assert_eq!(report["outcome"], "completed", "{report}");
    assert_eq!(report["result"], expected());

    let report = run_json("nodey", NODE_SCRIPT, &args[..2], 3);
    assert_eq!(report["error"]["name"], "ReferenceError", "{report}");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Buffer"),
        "{report}"
    );
    let report = run_json("plain", PLAIN_SCRIPT, &[], 0);
    assert_eq!(report["result"], json!(["undefined", "undefined"]));
}
