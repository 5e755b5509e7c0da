//! The corrected built-ins, run through the worker's engine and compared with node: every
//! expected value below is what node 20 printed for the same handler.

#![allow(clippy::unwrap_used)]

use std::rc::Rc;

use jobvisor_protocol::worker::Outcome;

use crate::channel::Channel;
use crate::engine::Engine;
use crate::engine::tests::job;

/// Runs `handler` (a default-export function body source) once and returns its JSON result.
pub(super) fn result_of(handler: &str) -> String {
    let mut engine = Engine::new(Rc::new(Channel::detached()));
    match engine.run(&job(1, Some(handler), "{}")).0 {
        Outcome::Ok { result } => result.unwrap_or_default(),
        other => panic!("the handler failed: {other:?}"),
    }
}

#[test]
fn typed_array_sort_accepts_any_comparator_and_is_stable() {
    let handler = include_str!("testdata/typed_array_sort.js");
    // node 20, the same handler:
    let node = r#"{"permutation":true,"inconsistent":true,"toSorted":true,"desc":"300,7,5,-1","stable":"1.5,1.25,1.75,2","zeroCmp":"3,1,2","nan":"-1,0,0,3,NaN|3,1,2","bigint":"10,3,-5","copy":"Uint16Array,7,8,9,9,8,7,true","same":true,"throws":"cmp","bad":"TypeError","notTyped":"TypeError","notTyped2":"TypeError","names":"sort,1,toSorted,true"}"#;
    assert_eq!(result_of(handler), node);
}

/// Values, key order (array-index keys first, a repeated key in its first place with its
/// last value, `__proto__` an own property), numbers at the edges of a double (`-0`,
/// subnormals, more digits than a double holds), escapes, the syntax errors, non-string
/// input and revivers.
#[test]
fn json_parse_reads_what_node_reads() {
    let handler = include_str!("testdata/json_parse.js");
    // node 20, the same handler:
    let node = r#"{"values":["number:5","boolean:true","object:null","string:x","|[]","|{}","0,1|[1,[2,[3]]]","a|{\"a\":{\"b\":[1,{\"c\":null}]}}"],"order":["b,a,c|{\"b\":1,\"a\":2,\"c\":3}","0,1,2,a|{\"0\":4,\"1\":2,\"2\":1,\"a\":3}","a,b|{\"a\":3,\"b\":2}","__proto__,x|{\"__proto__\":1,\"x\":2}"],"proto":true,"ownProto":true,"numbers":["number:0","number:-0","number:-0","number:1","number:0.1","number:0.30000000000000004","number:1e+21","number:100000","number:-1.5e-7","number:9007199254740992","number:18446744073709552000","number:1.2345678901234568e+29","number:2.225073858507201e-308","number:5e-324","number:0","number:1.7976931348623157e+308","number:1","number:1e+47","number:3.141592653589793"],"strings":["string:é\n\t\"\\/","string:😀","string:é😀","string:  "],"deep":202,"errors":["throws SyntaxError","throws SyntaxError","throws SyntaxError","throws SyntaxError","throws SyntaxError","throws SyntaxError","throws SyntaxError","throws SyntaxError","throws SyntaxError","throws SyntaxError","throws SyntaxError","throws SyntaxError","throws SyntaxError","throws SyntaxError","throws SyntaxError","throws SyntaxError","throws SyntaxError"],"input":[5,null,7,"s"],"reviver":"{\"a\":10,\"b\":[20,30]}","reviverCalls":5,"notCallableReviver":"{\"a\":1}","shape":["parse",2,"function",false,true,true],"roundTrip":true}"#;
    assert_eq!(result_of(handler), node);
}

/// Where the engine's `JSON.parse` (which the native one hands these to) still differs
/// from node, which accepts all of them: numbers out of a double's range (node: ±Infinity),
/// lone surrogates, raw or escaped, and nesting deeper than 128 levels. Documented in
/// docs/javascript.md; this test shows when a fix lands.
#[test]
fn json_parse_still_refuses_what_the_engine_refuses() {
    let handler = r#"export default () => ["1e400", "-1e400", '"\\ud800"', '"' + String.fromCharCode(0xdc00) + '"',
        "[".repeat(200) + "]".repeat(200)].map((text) => { try { JSON.parse(text); return "parsed"; } catch (e) { return e.name; } })"#;
    assert_eq!(
        result_of(handler),
        r#"["SyntaxError","SyntaxError","SyntaxError","SyntaxError","SyntaxError"]"#
    );
}

/// 16 to 20 decimal digits, drawn from a fixed seed, each read as is, negated with a
/// trailing letter and with a leading space and radix 10.
#[test]
fn parse_int_of_16_to_20_digits_is_nodes_double() {
    let handler = include_str!("testdata/parse_int.js");
    // node 20, the same handler:
    let node = r#""7466190009214822:-7466190009214822:7466190009214822,20954953570653676:-20954953570653676:20954953570653676,781267527801618800:-781267527801618800:781267527801618800,2595583261444590000:-2595583261444590000:2595583261444590000,91582934592109990000:-91582934592109990000:91582934592109990000,3848191924430361:-3848191924430361:3848191924430361,29194633426390920:-29194633426390920:29194633426390920,586939072531324000:-586939072531324000:586939072531324000,6594804104203398000:-6594804104203398000:6594804104203398000,23370359857966110000:-23370359857966110000:23370359857966110000,4488767561188158:-4488767561188158:4488767561188158,88405986487538290:-88405986487538290:88405986487538290,537213090226362900:-537213090226362900:537213090226362900,6542453646984633000:-6542453646984633000:6542453646984633000,30195308458567810000:-30195308458567810000:30195308458567810000,1669230859274962:-1669230859274962:1669230859274962,60743637479513060:-60743637479513060:60743637479513060,682607747947403400:-682607747947403400:682607747947403400,3180235040588211700:-3180235040588211700:3180235040588211700,94726618277258480000:-94726618277258480000:94726618277258480000,1206158009631126:-1206158009631126:1206158009631126,20775958917393316:-20775958917393316:20775958917393316,770503214337513700:-770503214337513700:770503214337513700,4842139282492358000:-4842139282492358000:4842139282492358000,89295021076185780000:-89295021076185780000:89295021076185780000""#;
    assert_eq!(result_of(handler), node);
}

/// The date strings of `testdata/date_parse.js`: RFC 2822 with offsets and zone names,
/// month names, slashes, a space for the `T`, 12-hour times, comments, and the strings V8
/// refuses. A worker's local time zone is UTC, so node ran with `TZ=UTC`.
#[test]
fn date_parse_reads_what_v8_reads() {
    let handler = include_str!("testdata/date_parse.js");
    // node 20 (TZ=UTC), the same handler:
    let node = r#""784887151000,784879951000,784905151000,784887120000,784905151000,784912351000,784887151000,784887151000,784887151000,784857600000,784857600000,784893600000,784893600000,784857600000,784894800000,784857600000,784894830000,1579084200000,1579084200000,1579077000000,1579077000000,1579046400000,1579084200000,1579084200000,1594816245000,1594809045000,1594809045000,1594771200000,-3600000,1594841445000,1704083400000,1704103200123,1704412800000,1704146400000,1704146400000,1704067200000,1704099600000,1709287200000,NaN,NaN,1704067200000,NaN,NaN,784887151000,784887151000,1704153600000,1704067200000,784887151500,946684799000,819898200000,988675200000,1005782400000,1007200800000,NaN,1704153600000,NaN,1704103200000,1704085200000,1704085200000,1704083400000,NaN,1704067200000,1704103200500,1704103200123,NaN,1704067200000,978393600000,1041465600000,NaN,1706745600000,NaN,1704067200000,1704103200000,1704067200000,1704110400000,1704153600000,NaN,253402300800000,NaN,1704103200000,1704103200000,1704083400000,1704103200500,1704146400000,NaN,1704070923000,1704103200000,NaN,1709251200000,1704099600500,1704067200000,1704117600000,784915951000,784887120000,784857600000,784857600000,784857600000,1704103200000,1705276800000,NaN,1704099600000,1704067200000,1704099600000,1704110400000,1704069000000,915148800000,2493072000000,-631152000000,-59011459200000,1704067200000,NaN,NaN,NaN,NaN,1704083400000,NaN,1704099600000,1704016800000,1704097260000,1704085200000,1704084780000,NaN,1704103200000,1717228800000""#;
    assert_eq!(result_of(handler), node);
}

/// `toString`, `toTimeString` and `Date()` end with the zone's name; `new Date(string)`
/// reads strings as `Date.parse` does; the replaced `Date` is otherwise the engine's.
#[test]
fn dates_print_and_construct_as_in_node() {
    let handler = include_str!("testdata/date_object.js");
    // node 20 (TZ=UTC), the same handler:
    let node = r#"{"toString":"Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)|Wed Jul 15 2020 12:30:45 GMT+0000 (Coordinated Universal Time)|Fri Jan 02 1970 00:00:00 GMT+0000 (Coordinated Universal Time)","toTimeString":"00:00:00 GMT+0000 (Coordinated Universal Time)","invalid":"Invalid Date|NaN|Invalid Date","call":"string:true","ctorString":"784879951000|1994-11-15T10:20:00.000Z|2020-01-15T10:30:00.000Z","ctorOther":"2020-01-31T05:00:00.000Z|5|7|1577836800000|1","roundTrip":"true,true,true","shape":"Date,7,parse,1,number,946684800000,true,true,[object Date],false,toString","subclass":"true|true|1994|Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)","json":"{\"d\":\"1994-11-15T08:12:31.000Z\"}","parseConversion":"NaN,NaN,946684800000"}"#;
    assert_eq!(result_of(handler), node);
}

/// Runs each of `cases` in `testdata/property_cache.js` as a job of its own (an engine panic
/// ends the whole job) and returns `name=result` lines, `name=NAME: message` for a failed job.
fn property_cache_results(cases: &[&str]) -> String {
    let source = include_str!("testdata/property_cache.js");
    let mut lines = Vec::new();
    for name in cases {
        let handler = format!(
            "{source}\nexport default function () {{ return attempt(cases[\"{name}\"]); }}"
        );
        let mut engine = Engine::new(Rc::new(Channel::detached()));
        let result = match engine.run(&job(1, Some(&handler), "{}")).0 {
            Outcome::Ok { result } => result.unwrap_or_default(),
            Outcome::Err(error) => format!("{}: {}", error.name, error.message),
        };
        lines.push(format!("{name}={result}"));
    }
    lines.join("\n")
}

/// A getter that redefines its own property (or deletes and adds others) must not change
/// what the next read at the same place in the code sees. The engine's property-by-name
/// read (`get_by_name` in boa_engine 0.22's `vm/opcode/get/property.rs`) fills its cache
/// after `[[Get]]` returned, with the shape the getter left and the slot found before it
/// ran: the next read takes the new data value for the getter and calls it ("not a callable
/// function", or the function is called), reads past the object's storage (a panic,
/// `EnginePanic`), or runs a prototype's memoising getter again ("cannot redefine
/// property"). It is inside the interpreter, where no replaced built-in reaches (the stale
/// entry is written after the last JavaScript or native code of the read has run); this is
/// the reproduction, to run when the engine is upgraded.
#[test]
#[ignore = "engine defect: a read's cache entry pairs the getter's new shape with the old slot"]
fn a_getter_that_redefines_its_object_does_not_break_property_reads() {
    let cases = [
        "ownGetter",
        "defineProperties",
        "reflectDefineProperty",
        "functionValue",
        "prototypeGetter",
        "otherProperties",
    ];
    // node 20, the same cases (the engine: `TypeError: not a callable function` for the
    // first three, "string" for functionValue, `TypeError: cannot redefine property:
    // value` for prototypeGetter, an index-out-of-bounds `EnginePanic` for otherProperties):
    let node = r#"ownGetter=[0,"{}"]
defineProperties=[0,[1]]
reflectDefineProperty=[0,{"r":1}]
functionValue="function"
prototypeGetter=true
otherProperties=[3,7,7,["c","d"]]"#;
    assert_eq!(property_cache_results(&cases), node);
}

/// A property found on an instance's prototype is cached under the instance's shape alone,
/// which names the prototype object but not its layout: redefining the prototype's accessor
/// as a data property, or deleting a property before it, leaves an entry that reads the old
/// slot of the prototype. Also inside the interpreter; the reproduction for an upgrade.
#[test]
#[ignore = "engine defect: a prototype's cached slot is not checked against its shape"]
fn a_prototype_changed_after_a_read_is_read_anew() {
    // node 20, the same cases (the engine: `TypeError: not a callable function`, and
    // `undefined`, the prototype's empty setter slot):
    let node = r#"prototypeRedefined={"y":1}
prototypeShifted=1"#;
    assert_eq!(
        property_cache_results(&["prototypeRedefined", "prototypeShifted"]),
        node
    );
}

/// Not a check: prints the CPU time building a fresh context costs, to compare before and
/// after a change to the corrections (`cargo test -p jobvisor-worker --lib
/// context_build_cost -- --ignored --nocapture`, best of five rounds of 200 contexts).
#[test]
#[ignore = "a measurement, run by hand"]
fn context_build_cost() {
    use crate::engine::executor::RunLoop;
    use crate::engine::host::HostCalls;
    use crate::engine::loader::ScriptLoader;
    use crate::outbox::Outbox;
    use jobvisor_protocol::worker::JobLimits;

    let channel = Rc::new(Channel::detached());
    let outbox = Rc::new(Outbox::new(channel.clone()));
    let run_loop = Rc::new(RunLoop::new(Rc::new(HostCalls::new(channel))));
    let loader = Rc::new(ScriptLoader::default());
    let limits = JobLimits::default();
    let mut best = std::time::Duration::MAX;
    for _ in 0..5 {
        let started = crate::sys::thread_cpu_time();
        for _ in 0..200 {
            drop(super::super::new_context(&run_loop, &loader, &outbox, &limits, false).unwrap());
        }
        best = best.min((crate::sys::thread_cpu_time() - started) / 200);
    }
    println!("one context: {best:?} of CPU time");
}

#[test]
fn v_flag_classes_with_different_punctuators_side_by_side_are_accepted() {
    let handler = include_str!("testdata/regexp_v_class.js");
    // node 20, the same handler:
    let node = r#"{"literal":"true,true,true,false","ctor":"true,true,true","unchanged":"false,true,true","doubled":"SyntaxError","identity":"true,false,false,true,true","shape":"RegExp,2,function,true,true,false","subclass":"true,true,true","split":"a|b|c","replace":"a-b-c","flags":"v","objectPattern":true}"#;
    assert_eq!(result_of(handler), node);
}
