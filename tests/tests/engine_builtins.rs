//! Engine built-ins that real npm libraries rely on, through the real `jobvisor run` and a
//! sandboxed `jobvisor-worker`. Every expected value is what node 20 prints for the same
//! handler, written here as a literal.

#![allow(clippy::unwrap_used)]

use jobvisor_tests::run_json;
use serde_json::json;

/// Runs `handler` as script `name` with an empty payload and checks that its result is
/// `node_result`, the JSON node printed for the same handler.
fn assert_like_node(name: &str, handler: &str, node_result: &str) {
    let report = run_json(name, handler, &[], 0);
    assert_eq!(report["outcome"], "completed", "{report}");
    let expected: serde_json::Value = serde_json::from_str(node_result).unwrap();
    assert_eq!(report["result"], expected);
}

/// The first `Symbol.for` of a process initialises the engine's symbol registry, which
/// once read `/proc/self/cgroup` inside the sandbox and killed the worker.
#[test]
fn symbol_for_completes_inside_the_sandbox() {
    let report = run_json(
        "registry",
        r#"export default function () {
            const s = Symbol.for("app.key");
            return { same: s === Symbol.for("app.key"), key: Symbol.keyFor(s) };
        }"#,
        &[],
        0,
    );
    assert_eq!(report["outcome"], "completed", "{report}");
    assert_eq!(report["result"], json!({"same": true, "key": "app.key"}));
}

/// Built-ins whose first use initialises something lazily (time zone, Unicode tables,
/// random seed, locale-free formatting) all run inside the sandbox.
#[test]
fn lazily_initialised_built_ins_run_inside_the_sandbox() {
    assert_like_node(
        "builtins",
        r#"export default function () {
            const d = new Date(2020, 0, 15, 10, 30);
            return {
                number: (1234.5).toLocaleString().length > 0,
                date: d.getHours() === 10 && typeof d.getTimezoneOffset() === "number",
                localDate: d.toString().length > 0 && d.toLocaleString().length > 0
                    && d.toLocaleDateString().length > 0 && d.toLocaleTimeString().length > 0,
                parsed: !Number.isNaN(Date.parse("2020-01-15T10:30:00")),
                unicode: /\p{L}+/u.test("é") && /\p{Script=Greek}/u.test("α") && /[\p{Lu}]/v.test("A"),
                caseFold: /É/iu.test("é"),
                random: Math.random() < 1,
                normalize: "e\u0301".normalize("NFC") === "\u00e9",
                locale: "a".localeCompare("b") < 0 && "i".toLocaleUpperCase() === "I",
                bigint: (2n ** 64n).toLocaleString().length > 0,
                weak: new WeakRef({}) instanceof WeakRef && typeof new FinalizationRegistry(() => {}).register,
                arrays: [3, 1, 2].toSorted().join() + new Float64Array([1.5]).join(),
                strings: "abc".at(-1) + "x".padStart(3, "-") + String.raw`a\n`,
                json: JSON.stringify(JSON.parse('{"b":1,"a":[1,2]}')),
                errors: new AggregateError([], "m").message + String(new Error("e", { cause: 1 }).cause),
            };
        }"#,
        r#"{"number":true,"date":true,"localDate":true,"parsed":true,"unicode":true,"caseFold":true,"random":true,"normalize":true,"locale":true,"bigint":true,"weak":"function","arrays":"1,2,31.5","strings":"c--xa\\n","json":"{\"b\":1,\"a\":[1,2]}","errors":"m1"}"#,
    );
}

/// Annex B of ECMAScript (the web-legacy built-ins and syntax many npm libraries still use)
/// is enabled: `substr`, `escape`/`unescape`, `trimLeft`, the HTML methods,
/// `RegExp.prototype.compile`, `__proto__`, HTML-like comments and legacy octals in
/// sloppy code.
#[test]
fn annex_b_legacy_built_ins_behave_as_in_node() {
    assert_like_node(
        "legacy",
        r#"export default function () {
          const out = {};
          const cases = {
            substr: () => ["abcdef".substr(1, 3), "abcdef".substr(-2), "abcdef".substr(2), "abc".substr(5, 1)].join("|"),
            escape: () => escape("a b+c/ä€@*_-.") ,
            unescape: () => unescape("%u20AC%E4%20x%zz"),
            trim: () => "[" + "  x ".trimLeft() + "][" + " y  ".trimRight() + "]",
            html: () => "x".anchor('a"b') + "y".bold() + "z".link("u"),
            compile: () => { const r = /a/g; r.compile("b+", "i"); return r.source + "/" + r.flags + "/" + r.test("BB"); },
            protoLiteral: () => Object.getPrototypeOf({ __proto__: Array.prototype }) === Array.prototype,
            protoAccessor: () => { const o = {}; o.__proto__ = { k: 1 }; return o.k + ":" + (o.__proto__.k); },
            htmlComment: () => eval("1 <!-- comment\n+ 1"),
            legacyOctal: () => (0, eval)("010 + 0o10"),
            blockFunction: () => { if (true) { function inner() { return "hoisted"; } } return typeof inner; },
            defineGetter: () => typeof Object.prototype.__defineGetter__,
          };
          for (const [k, f] of Object.entries(cases)) { try { out[k] = f(); } catch (e) { out[k] = "throws " + e.name; } }
          return out;
        }"#,
        r#"{"substr":"bcd|ef|cdef|","escape":"a%20b+c/%E4%u20AC@*_-.","unescape":"€ä x%zz","trim":"[x ][ y]","html":"<a name=\"a&quot;b\">x</a><b>y</b><a href=\"u\">z</a>","compile":"b+/i/true","protoLiteral":true,"protoAccessor":"1:1","htmlComment":2,"legacyOctal":16,"blockFunction":"undefined","defineGetter":"function"}"#,
    );
}

/// The payload's objects keep the key order of its text, as `JSON.parse` gives it in node:
/// index-like keys first and ascending, the others as written, a repeated key in its first
/// place with its last value. The result text keeps the order the handler built.
#[test]
fn payload_keys_keep_the_order_of_the_json_text() {
    let payload = r#"{"b":1,"a":2,"10":"x","2":"y","-1":"n","01":"z","b":3,"z":{"y":1,"x":2,"4294967295":0,"4294967294":1},"list":[{"k":1,"c":2},{"__proto__":5,"m":1}]}"#;
    let out = jobvisor_tests::run_script(
        "order",
        "export default function (p, ctx) {
            return { keys: Object.keys(p), nested: Object.keys(p.z), dup: p.b,
                arr: p.list.map(o => Object.keys(o).join()), text: JSON.stringify(p),
                job: Object.keys(ctx.job) };
        }",
        &["--payload", payload],
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    // node: the same handler on JSON.parse(payload); `job` is the documented order of `ctx.job`.
    assert_eq!(
        out.stdout.trim(),
        r#"{"keys":["2","10","b","a","-1","01","z","list"],"nested":["4294967294","y","x","4294967295"],"dup":3,"arr":["k,c","__proto__,m"],"text":"{\"2\":\"y\",\"10\":\"x\",\"b\":3,\"a\":2,\"-1\":\"n\",\"01\":\"z\",\"z\":{\"4294967294\":1,\"y\":1,\"x\":2,\"4294967295\":0},\"list\":[{\"k\":1,\"c\":2},{\"__proto__\":5,\"m\":1}]}","job":["id","attempt","maxAttempts","queue","script"]}"#
    );
}

/// `Array.prototype.sort` with a comparator that is not a consistent order returns a
/// permutation, as V8 does; the engine's own sort panicked on one (`EnginePanic`). The
/// ordinary cases (string order, holes, `undefined`, stability, array-likes, a throwing
/// comparator) give node's answers.
#[test]
fn array_sort_tolerates_any_comparator_as_node_does() {
    assert_like_node(
        "sorting",
        r#"export default function () {
          const out = {};
          let seed = 7; const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
          const big = Array.from({ length: 500 }, (_, i) => i);
          const shuffled = big.slice().sort(() => rand() - 0.5);
          out.permutation = shuffled.slice().sort((a, b) => a - b).join() === big.join() && shuffled.length === 500;
          let flip = 0; const weird = big.slice().sort(() => (flip++ % 3) - 1);
          out.inconsistent = weird.slice().sort((a, b) => a - b).join() === big.join();
          out.toSorted = big.toSorted(() => rand() - 0.5).toSorted((a, b) => a - b).join() === big.join();
          out.defaultOrder = [10, 9, 1, "b", "a", undefined, null, true, 2].sort().map(String).join();
          out.holes = (() => { const a = [3, , undefined, 1, , 2]; a.sort(); return [a.length, 0 in a, 3 in a, 4 in a, 5 in a, String(a[3])].join(); })();
          out.stable = [{ k: 1, v: "a" }, { k: 0, v: "b" }, { k: 1, v: "c" }, { k: 0, v: "d" }].sort((x, y) => x.k - y.k).map(o => o.v).join("");
          out.nanAndStrings = [3, 1, 2].sort(() => NaN).join() + "|" + [3, 1, 2].sort((a, b) => String(a - b)).join();
          out.arrayLike = JSON.stringify(Array.prototype.sort.call({ 0: "c", 1: "a", 2: "b", length: 3 }));
          out.utf16 = ["\u{1F600}", "\uFFFF", "a"].sort().map(s => s.codePointAt(0)).join();
          try { [2, 1].sort(() => { throw new Error("cmp"); }); } catch (e) { out.throws = e.message; }
          try { [2, 1].sort(1); } catch (e) { out.badComparator = e.name; }
          out.returnsSame = (() => { const a = [2, 1]; return a.sort() === a; })();
          out.desc = [Array.prototype.sort.name, Array.prototype.sort.length, Object.getOwnPropertyDescriptor(Array.prototype, "sort").enumerable, Array.prototype.toSorted.length].join();
          return out;
        }"#,
        r#"{"permutation":true,"inconsistent":true,"toSorted":true,"defaultOrder":"1,10,2,9,a,b,null,true,undefined","holes":"6,true,true,false,false,undefined","stable":"bdac","nanAndStrings":"3,1,2|1,2,3","arrayLike":"{\"0\":\"a\",\"1\":\"b\",\"2\":\"c\",\"length\":3}","utf16":"97,128512,65535","throws":"cmp","badComparator":"TypeError","returnsSame":true,"desc":"sort,1,false,1"}"#,
    );
}

/// `RegExp.prototype.source` escapes a `/` once (the engine escaped an escaped one again),
/// and decimal `parseInt` is correctly rounded for 16 to 25 digits (the engine rounded at
/// each digit), as in node; other radixes are unchanged.
#[test]
fn regexp_source_and_parse_int_match_node() {
    assert_like_node(
        "legacy_numbers",
        r#"export default function () {
          return {
            literal: /a\/b/.source, ctor: new RegExp("a/b").source, ctorEscaped: new RegExp("a\\/b").source, klass: /[/]\//.source, str: String(/x\/y/g), empty: new RegExp("").source, nl: new RegExp("a\nb").source,
            p16: parseInt("1234567890123456"), p17: parseInt("12345678901234567"), p19: parseInt("1234567890123456789"), p20: parseInt("12345678901234567890"), p20b: parseInt("98765432109876543210"), neg: parseInt("-9007199254740993"), hex: parseInt("0x1fffffffffffff1"), r36: parseInt("zzzzzzzzzzzzz", 36), big: parseInt("1".repeat(25)),
          };
        }"#,
        r#"{"literal":"a\\/b","ctor":"a\\/b","ctorEscaped":"a\\/b","klass":"[/]\\/","str":"/x\\/y/g","empty":"(?:)","nl":"a\\nb","p16":1234567890123456,"p17":12345678901234568,"p19":1234567890123456800,"p20":12345678901234567000,"p20b":98765432109876540000,"neg":-9007199254740992,"hex":144115188075855860,"r36":170581728179578200000,"big":1.1111111111111111e+24}"#,
    );
}

/// `parseInt`'s edge cases (white space, signs, `-0`, prefixes, radixes, conversions) are
/// node's after the replacement.
#[test]
fn parse_int_edge_cases_match_node() {
    let report = run_json(
        "parse_int",
        r#"export default function () {
            return [Object.is(parseInt("\uFEFF -0"), -0), parseInt("12abc"), parseInt("0x1A"), parseInt("  +42"), parseInt("1e3"), parseInt(""), parseInt("-"), parseInt("0b11"), parseInt(null), parseInt("123", 0), Number.parseInt === parseInt, parseInt.length, parseInt("9007199254740993"), parseInt("08"), parseInt("\u0085 1"), parseInt("123", 10.9), parseInt({ toString() { return "77" } }), parseInt("ff", 16), parseInt("1".repeat(400))].map(String).join();
        }"#,
        &[],
        0,
    );
    assert_eq!(
        report["result"],
        "true,12,26,42,1,NaN,NaN,0,NaN,123,true,2,9007199254740992,8,NaN,123,77,255,Infinity"
    );
}
