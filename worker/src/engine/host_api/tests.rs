//! The host API against a scripted host: the engine runs a job on one end of a socket
//! pair, and a thread on the other end answers its host calls as each test says.

#![allow(clippy::unwrap_used)]

use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::thread::JoinHandle;

use jobvisor_protocol::BlockingTransport;
use jobvisor_protocol::host::{
    ChildJob, FetchRequest, FetchResponse, HostErrorKind, HostOp, HostResult, RedirectMode,
    SignAlgorithm, StateEntry, StateWrite, VersionCheck,
};
use jobvisor_protocol::worker::{AbortReason, FromWorker, Isolation, Outcome, RunJob, ToWorker};

use crate::channel::Channel;
use crate::engine::Engine;
use crate::engine::tests::job;

/// The host's side: for each call (its id and op), the frames to send back.
type Script = Box<dyn FnMut(u64, &HostOp) -> Vec<ToWorker> + Send>;

struct Host {
    thread: JoinHandle<Vec<HostOp>>,
}

impl Host {
    /// Starts a host answering on `theirs` with `script`; returns the calls it saw when
    /// the engine's end closes.
    fn start(theirs: UnixStream, mut script: Script) -> Host {
        let thread = std::thread::spawn(move || {
            let mut transport = BlockingTransport::new(theirs);
            let mut seen = Vec::new();
            while let Ok(Some(frame)) = transport.recv::<FromWorker>() {
                if let FromWorker::HostCall { call_id, op, .. } = frame {
                    let replies = script(call_id, &op);
                    seen.push(op);
                    for reply in replies {
                        // The job may have ended without waiting for this answer.
                        if transport.send(&reply).is_err() {
                            return seen;
                        }
                    }
                }
            }
            seen
        });
        Host { thread }
    }
}

fn reply(call_id: u64, result: HostResult) -> ToWorker {
    ToWorker::HostReply { call_id, result }
}

/// Runs `source` as one job (tweaked by `tweak`) with `script` as the host; returns the
/// handler's result and the host calls made.
fn run_with(
    source: &str,
    tweak: impl FnOnce(&mut RunJob),
    script: Script,
) -> (serde_json::Value, Vec<HostOp>) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let host = Host::start(theirs, script);
    let ends = ours.try_clone().unwrap();
    let mut engine = Engine::new(Rc::new(Channel::new(ours)));
    let mut run = job(1, Some(source), "{}");
    tweak(&mut run);
    let (outcome, _) = engine.run(&run);
    // The engine's contexts may keep the socket until a collection: end the host now.
    ends.shutdown(std::net::Shutdown::Both).unwrap();
    drop(engine);
    let calls = host.thread.join().unwrap();
    let value = match outcome {
        Outcome::Ok { result: Some(text) } => serde_json::from_str(&text).unwrap(),
        Outcome::Ok { result: None } => serde_json::Value::Null,
        other => panic!("expected a result, got {other:?}"),
    };
    (value, calls)
}

fn run_host(source: &str, script: Script) -> (serde_json::Value, Vec<HostOp>) {
    run_with(source, |_| {}, script)
}

/// Runs `source` with no supervisor (the classes alone need none).
fn run_alone(source: &str) -> serde_json::Value {
    let mut engine = Engine::new(Rc::new(Channel::detached()));
    match engine.run(&job(1, Some(source), "{}")).0 {
        Outcome::Ok { result: Some(text) } => serde_json::from_str(&text).unwrap(),
        other => panic!("expected a result, got {other:?}"),
    }
}

fn response(status: u16, body: &[u8], done: bool) -> HostResult {
    HostResult::Response(FetchResponse {
        status,
        status_text: "OK".into(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("set-cookie".into(), "a=1".into()),
            ("set-cookie".into(), "b=2".into()),
        ],
        url: "https://api.example.com/final".into(),
        redirected: true,
        body: body.to_vec(),
        done,
    })
}

// Expected values below are node 20's for the same code where it says so.

#[test]
fn headers_combine_sort_and_keep_set_cookie_apart_as_node_does() {
    let source = r#"export default () => {
        const out = [];
        const h = new Headers([["B", "2"], ["a", " 1 "], ["set-cookie", "x=1"], ["Set-Cookie", "y=2"], ["b", "3"]]);
        out.push([...h], h.get("b"), h.get("set-cookie"), h.getSetCookie(), h.has("A"), h.get("zz"));
        for (const init of [{ "bad name": "x" }, { a: "€" }, { a: "x\ny" }]) {
            try { new Headers(init) } catch (e) { out.push(e.name) }
        }
        out.push(new Headers({ a: "é" }).get("a"));
        const hh = new Headers({ a: "1" }); hh.append("A", "2"); hh.set("c", "3"); hh.delete("zz");
        out.push([...hh.keys()], [...hh.values()]);
        const seen = []; hh.forEach((v, k, o) => seen.push(k + "=" + v + (o === hh))); out.push(seen);
        out.push(Object.prototype.toString.call(hh), [...new Headers(hh).entries()]);
        return out;
    }"#;
    assert_eq!(
        run_alone(source),
        serde_json::json!([
            [
                ["a", "1"],
                ["b", "2, 3"],
                ["set-cookie", "x=1"],
                ["set-cookie", "y=2"]
            ],
            "2, 3",
            "x=1, y=2",
            ["x=1", "y=2"],
            true,
            null,
            "TypeError",
            "TypeError",
            "TypeError",
            "é",
            ["a", "c"],
            ["1, 2", "3"],
            ["a=1, 2true", "c=3true"],
            "[object Headers]",
            [["a", "1, 2"], ["c", "3"]]
        ])
    );
}

#[test]
fn responses_made_by_scripts_behave_as_in_node() {
    let source = r#"export default async () => {
        const out = [];
        const r = new Response("hi");
        out.push(r.status, r.statusText, r.ok, r.type, r.url, r.redirected, r.headers.get("content-type"), r.bodyUsed);
        const j = Response.json({ a: 1 }, { status: 201, headers: { x: "y" } });
        out.push(j.status, [...j.headers], await j.text());
        const e = Response.error(); out.push(e.type, e.status, e.statusText, e.ok);
        const rd = Response.redirect("https://e.com/a", 301); out.push(rd.status, rd.headers.get("location"), rd.type);
        try { Response.redirect("https://e.com/", 200) } catch (e) { out.push(e.name) }
        try { new Response("x", { status: 99 }) } catch (e) { out.push(e.name) }
        try { new Response("x", { status: 204 }) } catch (e) { out.push(e.name) }
        const b = new Response(new Uint8Array([104, 105]));
        out.push(b.headers.get("content-type"), await b.text(), b.bodyUsed);
        try { await b.text() } catch (e) { out.push(e.name) }
        try { b.clone() } catch (e) { out.push(e.name) }
        const c = new Response("abc"); const c2 = c.clone(); out.push(await c.text(), await c2.text());
        out.push(await new Response(new Uint8Array([0xef, 0xbb, 0xbf, 0x61, 0xff])).text());
        out.push(new Uint8Array(await new Response("é").arrayBuffer()).join());
        out.push((await new Response("é").bytes()).constructor.name);
        out.push(Object.prototype.toString.call(r));
        try { await new Response("{x").json() } catch (e) { out.push(e.name) }
        out.push(await new Response(null).text(), new Response(null).headers.get("content-type"), new Response().bodyUsed);
        out.push(new Response("x", { statusText: "Fine" }).statusText);
        try { new Response("x", { statusText: "bad\n" }) } catch (e) { out.push(e.name) }
        const o = new Response({}); out.push(await o.text(), o.headers.get("content-type"));
        out.push((await new Response(new ArrayBuffer(2)).arrayBuffer()).byteLength);
        try { Response.json(undefined) } catch (e) { out.push(e.name) }
        try { e.headers.append("a", "b") } catch (err) { out.push(err.name) }
        return out;
    }"#;
    assert_eq!(
        run_alone(source),
        serde_json::json!([
            200,
            "",
            true,
            "default",
            "",
            false,
            "text/plain;charset=UTF-8",
            false,
            201,
            [["content-type", "application/json"], ["x", "y"]],
            "{\"a\":1}",
            "error",
            0,
            "",
            false,
            301,
            "https://e.com/a",
            "default",
            "RangeError",
            "RangeError",
            "TypeError",
            null,
            "hi",
            true,
            "TypeError",
            "TypeError",
            "abc",
            "abc",
            "a\u{FFFD}",
            "195,169",
            "Uint8Array",
            "[object Response]",
            "SyntaxError",
            "",
            null,
            false,
            "Fine",
            "TypeError",
            "[object Object]",
            "text/plain;charset=UTF-8",
            2,
            "TypeError",
            "TypeError"
        ])
    );
}

#[test]
fn requests_normalise_methods_and_refuse_what_fetch_cannot_send() {
    let source = r#"export default async () => {
        const out = [];
        try { new Request("/x") } catch (e) { out.push(e.name, e.message) }
        const q = new Request("https://e.com/p?q=1", { method: "post", body: new URLSearchParams("a=1&b=2") });
        out.push(q.method, q.url, q.headers.get("content-type"), q.redirect, await q.text());
        out.push(new Request("https://e.com", { method: "patch" }).method, new Request("https://e.com", { method: "Delete" }).method);
        try { new Request("https://e.com", { method: "GET", body: "x" }) } catch (e) { out.push(e.name) }
        try { new Request("https://e.com", { method: "TRACE" }) } catch (e) { out.push(e.name) }
        try { new Request("https://e.com", { redirect: "nope" }) } catch (e) { out.push(e.name) }
        out.push(new Request(new Request("https://e.com/", { method: "PUT", headers: { a: "1" } })).method);
        out.push(new Request("https://e.com/").signal.aborted);
        try { new Request("https://u:p@e.com/") } catch (e) { out.push(e.name) }
        try { new Request("https://e.com/", { signal: {} }) } catch (e) { out.push(e.name) }
        try { new Request("https://e.com/", { method: "POST", body: new Blob(["x"]) }) } catch (e) { out.push(e.name) }
        const p = new Request("https://e.com/", { method: "POST", body: "x" }); const p2 = p.clone();
        out.push(await p.text(), await p2.text(), p.bodyUsed, Object.prototype.toString.call(p));
        return out;
    }"#;
    // `new Blob` is not defined here: the last-but-one push is that ReferenceError's name.
    assert_eq!(
        run_alone(source),
        serde_json::json!([
            "TypeError",
            "Request: \"/x\" is not an absolute URL (there is no base URL to resolve a relative one against)",
            "POST",
            "https://e.com/p?q=1",
            "application/x-www-form-urlencoded;charset=UTF-8",
            "follow",
            "a=1&b=2",
            "patch",
            "DELETE",
            "TypeError",
            "TypeError",
            "TypeError",
            "PUT",
            false,
            "TypeError",
            "TypeError",
            "ReferenceError",
            "x",
            "x",
            true,
            "[object Request]"
        ])
    );
}

#[test]
fn a_fetch_sends_its_request_and_reads_the_body_in_chunks_when_asked() {
    let source = r#"export default async () => {
        const r = await fetch("https://api.example.com/items?x=1", {
            method: "post", headers: { "X-Token": "t", Accept: "application/json" }, body: JSON.stringify({ a: 1 }),
            redirect: "manual",
        });
        const before = r.bodyUsed;
        const json = await r.json();
        return [r.status, r.statusText, r.ok, r.url, r.redirected, r.type, r.headers.get("set-cookie"),
            r.headers.getSetCookie(), before, r.bodyUsed, json];
    }"#;
    let (value, calls) = run_host(
        source,
        Box::new(|id, op| match op {
            HostOp::Fetch(_) => vec![reply(id, response(200, br#"{"items":[1,"#, false))],
            HostOp::ReadBody { fetch } => {
                assert_eq!(*fetch, 1, "the body is read by the fetch's call id");
                vec![reply(
                    id,
                    HostResult::BodyChunk {
                        data: b"2]}".to_vec(),
                        done: true,
                    },
                )]
            }
            other => panic!("unexpected {other:?}"),
        }),
    );
    assert_eq!(
        value,
        serde_json::json!([200, "OK", true, "https://api.example.com/final", true, "basic",
            "a=1, b=2", ["a=1", "b=2"], false, true, { "items": [1, 2] }])
    );
    assert_eq!(
        calls,
        vec![
            HostOp::Fetch(FetchRequest {
                method: "POST".into(),
                url: "https://api.example.com/items?x=1".into(),
                headers: vec![
                    ("x-token".into(), "t".into()),
                    ("accept".into(), "application/json".into()),
                    ("content-type".into(), "text/plain;charset=UTF-8".into()),
                ],
                body: Some(br#"{"a":1}"#.to_vec()),
                redirect: RedirectMode::Manual,
            }),
            HostOp::ReadBody { fetch: 1 },
        ]
    );
}

#[test]
fn an_unread_body_is_never_asked_for() {
    let source = r#"export default async () => (await fetch("https://e.com/")).status"#;
    let (value, calls) = run_host(
        source,
        Box::new(|id, _| vec![reply(id, response(404, b"part", false))]),
    );
    assert_eq!(value, 404);
    assert_eq!(calls.len(), 1, "{calls:?}");
}

#[test]
fn refusals_reject_with_the_errors_fetch_callers_expect() {
    let source = r#"export default async () => {
        const out = [];
        for (let i = 0; i < 4; i++) {
            try { await fetch("https://e.com/" + i) } catch (e) {
                out.push([e.name, e.message, e instanceof TypeError, e instanceof DOMException]);
            }
        }
        return out;
    }"#;
    let (value, _) = run_host(
        source,
        Box::new(|id, _| {
            let (kind, message) = match id {
                1 => (
                    HostErrorKind::Denied,
                    "host e.com is not in allow_net of script t",
                ),
                2 => (HostErrorKind::Limit, "the response body is over 10 MiB"),
                3 => (HostErrorKind::Timeout, "no response in 30 s"),
                _ => (HostErrorKind::Aborted, "the request was cancelled"),
            };
            vec![reply(
                id,
                HostResult::Refused {
                    kind,
                    message: message.into(),
                },
            )]
        }),
    );
    assert_eq!(
        value,
        serde_json::json!([
            [
                "TypeError",
                "host e.com is not in allow_net of script t",
                true,
                false
            ],
            ["TypeError", "the response body is over 10 MiB", true, false],
            ["TimeoutError", "no response in 30 s", false, true],
            ["AbortError", "the request was cancelled", false, true]
        ])
    );
}

#[test]
fn an_abort_during_a_fetch_rejects_with_the_reason_and_cancels_it() {
    let source = r#"export default async () => {
        const out = [];
        const before = AbortSignal.abort();
        try { await fetch("https://e.com/", { signal: before }) } catch (e) { out.push(e.name) }
        const c = new AbortController();
        const pending = fetch("https://e.com/slow", { signal: c.signal });
        setTimeout(() => c.abort(), 20);
        try { await pending } catch (e) { out.push(e.name, e.message) }
        const c2 = new AbortController();
        const r = await fetch("https://e.com/body", { signal: c2.signal });
        c2.abort(new Error("enough"));
        try { await r.text() } catch (e) { out.push(e.message) }
        return out;
    }"#;
    let (value, calls) = run_host(
        source,
        Box::new(|id, op| match op {
            // The first fetch is never answered: the abort settles it.
            HostOp::Fetch(request) if request.url.ends_with("/slow") => vec![],
            HostOp::Fetch(_) => vec![reply(id, response(200, b"x", false))],
            HostOp::CancelFetch { .. } => vec![reply(id, HostResult::Done)],
            other => panic!("unexpected {other:?}"),
        }),
    );
    assert_eq!(
        value,
        serde_json::json!([
            "AbortError",
            "AbortError",
            "This operation was aborted",
            "enough"
        ])
    );
    let ops: Vec<String> = calls
        .iter()
        .map(|op| match op {
            HostOp::Fetch(r) => format!("fetch {}", r.url),
            HostOp::CancelFetch { fetch } => format!("cancel {fetch}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        ops,
        [
            "fetch https://e.com/slow",
            "cancel 1",
            "fetch https://e.com/body",
            "cancel 3"
        ],
        "no call for the signal aborted before"
    );
}

#[test]
fn a_relative_url_and_an_oversized_body_are_refused_before_anything_is_sent() {
    let source = r#"export default async () => {
        const out = [];
        try { await fetch("/relative") } catch (e) { out.push(e.name) }
        try { await fetch("https://e.com/", { method: "POST", body: new Uint8Array(1024 * 1024 + 1) }) }
        catch (e) { out.push(e.name, e.message) }
        return out;
    }"#;
    let (value, calls) = run_host(source, Box::new(|_, op| panic!("sent {op:?}")));
    assert_eq!(
        value,
        serde_json::json!([
            "TypeError",
            "TypeError",
            "fetch: the request body is 1048577 bytes, over the limit of 1048576 bytes"
        ])
    );
    assert!(calls.is_empty());
}

#[test]
fn state_calls_map_to_host_ops_and_back() {
    let source = r#"export default async (p, ctx) => {
        const out = [];
        out.push(await ctx.state.get("cursor"));
        out.push(await ctx.state.getWithVersion("cursor"));
        out.push(await ctx.state.getWithVersion("missing"));
        out.push(await ctx.state.set("cursor", { at: 5 }, { ttl: 60000, ifVersion: 7 }));
        await ctx.state.set("fresh", [1], { ifVersion: null });
        await ctx.state.delete("old");
        try { await ctx.state.set("cursor", 1, { ifVersion: 1 }) } catch (e) { out.push(e.name, e.message) }
        out.push(await ctx.state.list({ prefix: "item:", limit: 2, after: "item:1" }));
        return out;
    }"#;
    let (value, calls) = run_host(
        source,
        Box::new(|id, op| {
            let entry = |key: &str, value: &str, version| StateEntry {
                key: key.into(),
                value: value.into(),
                version,
            };
            let result = match op {
                HostOp::StateGet { key } if key == "missing" => HostResult::State(None),
                HostOp::StateGet { .. } => {
                    HostResult::State(Some(entry("cursor", r#"{"at":4}"#, Some(7))))
                }
                HostOp::StateSet(StateWrite {
                    check: VersionCheck::Is(1),
                    ..
                }) => HostResult::Refused {
                    kind: HostErrorKind::Conflict,
                    message: "cursor is at version 8, not 1".into(),
                },
                HostOp::StateSet(_) => HostResult::StateWritten,
                HostOp::StateList { .. } => HostResult::StateEntries {
                    entries: vec![
                        entry("item:2", "2", Some(3)),
                        entry("item:3", "\"c\"", None),
                    ],
                    more: true,
                },
                other => panic!("unexpected {other:?}"),
            };
            vec![reply(id, result)]
        }),
    );
    assert_eq!(
        value,
        serde_json::json!([
            { "at": 4 },
            { "value": { "at": 4 }, "version": 7 },
            { "version": null },
            null,
            "StateConflict", "cursor is at version 8, not 1",
            { "entries": [
                { "key": "item:2", "value": 2, "version": 3 },
                { "key": "item:3", "value": "c", "version": null }
            ], "more": true }
        ])
    );
    let write = |key: &str, value: Option<&str>, ttl_ms, check| {
        HostOp::StateSet(StateWrite {
            key: key.into(),
            value: value.map(Into::into),
            ttl_ms,
            check,
        })
    };
    assert_eq!(
        calls[3..],
        [
            write(
                "cursor",
                Some(r#"{"at":5}"#),
                Some(60_000),
                VersionCheck::Is(7)
            ),
            write("fresh", Some("[1]"), None, VersionCheck::Absent),
            write("old", None, None, VersionCheck::Any),
            write("cursor", Some("1"), None, VersionCheck::Is(1)),
            HostOp::StateList {
                prefix: "item:".into(),
                after: Some("item:1".into()),
                limit: 2
            },
        ]
    );
}

#[test]
fn bad_state_arguments_are_clear_errors_and_send_nothing() {
    let source = r#"export default async (p, ctx) => {
        const out = [];
        const cyclic = {}; cyclic.self = cyclic;
        for (const [key, value] of [[1, 1], ["", 1], ["k".repeat(513), 1], ["k", undefined], ["k", () => 1],
                                    ["k", cyclic], ["k", "x".repeat(65536)], ["k", 10n]]) {
            try { await ctx.state.set(key, value) } catch (e) { out.push(e.name + ": " + e.message) }
        }
        try { await ctx.state.set("k", 1, { tll: 5 }) } catch (e) { out.push(e.name + ": " + e.message) }
        // Multi-byte text is measured in UTF-8: 171 three-byte characters, 16,384 emoji.
        for (const [key, value] of [["€".repeat(171), 1], ["k", "😀".repeat(16384)]]) {
            try { await ctx.state.set(key, value) } catch (e) { out.push(e.name + ": " + e.message) }
        }
        return out;
    }"#;
    let (value, calls) = run_host(source, Box::new(|_, op| panic!("sent {op:?}")));
    let lines: Vec<&str> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(lines.len(), 11, "{lines:?}");
    assert_eq!(
        lines[0],
        "TypeError: ctx.state.set: the key must be a string, not number"
    );
    assert_eq!(
        lines[1],
        "TypeError: ctx.state.set: the key must not be empty"
    );
    assert_eq!(
        lines[2],
        "RangeError: ctx.state.set: the key is 513 bytes, over the limit of 512 bytes"
    );
    assert_eq!(
        lines[3],
        "TypeError: ctx.state.set: the value is undefined, which has no JSON form"
    );
    assert_eq!(
        lines[4],
        "TypeError: ctx.state.set: the value is a function, which has no JSON form"
    );
    assert!(
        lines[5].starts_with("TypeError: ctx.state.set: the value cannot be serialised as JSON: "),
        "{}",
        lines[5]
    );
    assert_eq!(
        lines[6],
        "RangeError: ctx.state.set: the value is 65538 bytes of JSON, over the limit of 65536 bytes"
    );
    assert!(lines[7].starts_with("TypeError: "), "{}", lines[7]);
    assert_eq!(
        lines[8],
        "TypeError: ctx.state.set: unknown option \"tll\" (known: ttl, ifVersion)"
    );
    assert_eq!(
        lines[9],
        "RangeError: ctx.state.set: the key is 513 bytes, over the limit of 512 bytes"
    );
    assert_eq!(
        lines[10],
        "RangeError: ctx.state.set: the value is 65538 bytes of JSON, over the limit of 65536 bytes"
    );
    assert!(calls.is_empty());
}

#[test]
fn secrets_enqueue_and_sign_send_their_ops() {
    let source = r#"export default async (p, ctx) => {
        const ref = ctx.secrets.ref("GITHUB_TOKEN");
        const value = await ctx.secrets.get("API_KEY");
        const sig = await ctx.secrets.sign("HOOK_KEY", "HS256", "payload");
        const sig2 = await ctx.secrets.sign("SA_KEY", "RS256", new Uint8Array([1, 2, 3]));
        await ctx.enqueue("follow-up", { item: 5 }, { queue: "slow", priority: -2, delay: 5000,
            unique: "item-5", maxAttempts: 3, timeout: 60000 });
        await ctx.enqueue("bare");
        let bad; try { await ctx.secrets.sign("K", "HS512", "x") } catch (e) { bad = e.name }
        let denied; try { await ctx.secrets.get("NOPE") } catch (e) { denied = [e.name, e.message] }
        return [ref, value, Array.from(sig), sig2 instanceof Uint8Array, bad, denied];
    }"#;
    let (value, calls) = run_host(
        source,
        Box::new(|id, op| {
            let result = match op {
                HostOp::SecretValue { name } if name == "NOPE" => HostResult::Refused {
                    kind: HostErrorKind::Denied,
                    message: "secret NOPE is not granted to script t".into(),
                },
                HostOp::SecretValue { .. } => HostResult::Value {
                    text: "s3cr3t".into(),
                },
                HostOp::Sign { .. } => HostResult::Bytes {
                    data: vec![9, 8, 7],
                },
                HostOp::Enqueue(_) => HostResult::Done,
                other => panic!("unexpected {other:?}"),
            };
            vec![reply(id, result)]
        }),
    );
    assert_eq!(
        value,
        serde_json::json!([
            "JOBVISOR-SECRET~GITHUB_TOKEN~",
            "s3cr3t",
            [9, 8, 7],
            true,
            "TypeError",
            ["HostCallDenied", "secret NOPE is not granted to script t"]
        ])
    );
    assert_eq!(
        calls[1..5],
        [
            HostOp::Sign {
                name: "HOOK_KEY".into(),
                algorithm: SignAlgorithm::Hs256,
                data: b"payload".to_vec()
            },
            HostOp::Sign {
                name: "SA_KEY".into(),
                algorithm: SignAlgorithm::Rs256,
                data: vec![1, 2, 3]
            },
            HostOp::Enqueue(ChildJob {
                script: "follow-up".into(),
                payload: r#"{"item":5}"#.into(),
                queue: Some("slow".into()),
                priority: Some(-2),
                delay_ms: Some(5000),
                unique_key: Some("item-5".into()),
                max_attempts: Some(3),
                timeout_ms: Some(60_000),
            }),
            HostOp::Enqueue(ChildJob {
                script: "bare".into(),
                payload: "{}".into(),
                queue: None,
                priority: None,
                delay_ms: None,
                unique_key: None,
                max_attempts: None,
                timeout_ms: None,
            }),
        ]
    );
}

#[test]
fn an_abort_frame_aborts_ctx_signal_and_the_fetch_that_uses_it() {
    let source = r#"export default async (p, ctx) => {
        const events = [];
        ctx.signal.addEventListener("abort", () => events.push("abort event"));
        try { await fetch("https://e.com/", { signal: ctx.signal }) }
        catch (e) { events.push(e.name, e.message, e === ctx.signal.reason) }
        return events;
    }"#;
    let (value, calls) = run_host(
        source,
        Box::new(|id, op| match op {
            HostOp::Fetch(_) => vec![ToWorker::Abort {
                job_id: 1,
                attempt: 1,
                reason: AbortReason::Cancelled,
            }],
            HostOp::CancelFetch { .. } => vec![reply(id, HostResult::Done)],
            other => panic!("unexpected {other:?}"),
        }),
    );
    assert_eq!(
        value,
        serde_json::json!(["abort event", "AbortError", "the job was cancelled", true])
    );
    assert!(
        matches!(calls[1], HostOp::CancelFetch { fetch: 1 }),
        "{calls:?}"
    );
}

#[test]
fn an_abort_before_ctx_signal_is_read_makes_it_aborted() {
    let source = r#"export default async (p, ctx) => {
        await ctx.host.echo("x");
        return [ctx.signal.aborted, ctx.signal.reason.name, ctx.signal.reason.message, ctx.signal === ctx.signal];
    }"#;
    let (value, _) = run_host(
        source,
        Box::new(|id, _| {
            vec![
                ToWorker::Abort {
                    job_id: 1,
                    attempt: 1,
                    reason: AbortReason::Shutdown,
                },
                // The abort of another attempt changes nothing.
                ToWorker::Abort {
                    job_id: 9,
                    attempt: 1,
                    reason: AbortReason::Cancelled,
                },
                reply(id, HostResult::Value { text: "x".into() }),
            ]
        }),
    );
    assert_eq!(
        value,
        serde_json::json!([true, "AbortError", "the supervisor is shutting down", true])
    );
}

#[test]
fn ctx_signal_aborts_its_margin_before_the_deadline() {
    let source = r#"export default async (p, ctx) => {
        const started = Date.now();
        const left = ctx.deadline - started;
        const aborted = await new Promise((resolve) => {
            ctx.signal.onabort = () => resolve(Date.now() - started);
            setTimeout(() => resolve("timer first"), 5000);
        });
        return [ctx.signal.reason.name, aborted, left];
    }"#;
    let (value, _) = run_with(
        source,
        |job| {
            job.deadline_ms = 1000;
            job.signal_margin_ms = 700;
        },
        Box::new(|_, op| panic!("sent {op:?}")),
    );
    assert_eq!(value[0], "TimeoutError", "{value}");
    let aborted = value[1].as_f64().expect("aborted, not the timer");
    assert!(
        (250.0..700.0).contains(&aborted),
        "aborted after {aborted} ms"
    );
    let left = value[2].as_f64().unwrap();
    assert!(
        (900.0..=1000.0).contains(&left),
        "ctx.deadline is {left} ms ahead"
    );
}

#[test]
fn the_new_members_of_ctx_are_not_enumerable_and_work_without_a_supervisor() {
    let source = r#"export default async (p, ctx) => {
        let error; try { await ctx.state.get("k") } catch (e) { error = [e.name, e.message] }
        let fetchError; try { await fetch("https://e.com/") } catch (e) { fetchError = [e.name, e.message] }
        return [Object.keys(ctx), JSON.stringify(ctx), typeof ctx.state.get, typeof ctx.enqueue,
            ctx.signal.aborted, typeof ctx.deadline, error, fetchError];
    }"#;
    assert_eq!(
        run_alone(source),
        serde_json::json!([
            ["job"],
            r#"{"job":{"id":1,"attempt":1,"maxAttempts":1,"queue":"default","script":"t"}}"#,
            "function",
            "function",
            false,
            "number",
            [
                "HostCallFailed",
                "no supervisor is connected to answer host calls"
            ],
            [
                "TypeError",
                "no supervisor is connected to answer host calls"
            ]
        ])
    );
}

#[test]
fn fetch_and_ctx_members_work_with_node_compatibility_and_in_a_fresh_context() {
    let source = r#"export default async (p, ctx) => {
        const r = await fetch("https://e.com/");
        return [typeof Buffer, await r.text(), await ctx.state.get("k"), ctx.signal.aborted];
    }"#;
    for isolation in [Isolation::Script, Isolation::Job] {
        let (value, calls) = run_with(
            source,
            |job| {
                job.script.node_compat = true;
                job.isolation = isolation;
            },
            Box::new(|id, op| match op {
                HostOp::Fetch(_) => vec![reply(id, response(200, b"body", true))],
                HostOp::StateGet { .. } => vec![reply(id, HostResult::State(None))],
                other => panic!("unexpected {other:?}"),
            }),
        );
        assert_eq!(
            value,
            serde_json::json!(["function", "body", null, false]),
            "{isolation:?}"
        );
        assert_eq!(calls.len(), 2);
    }
}
