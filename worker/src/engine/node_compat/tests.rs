//! Tests of the node compatibility globals. The expected strings are node 20's output for
//! the same code (its `Buffer`, and `process.nextTick` called from a timer, where a turn
//! of node's event loop starts as a job's handler call starts here).

use std::rc::Rc;

use boa_engine::context::ContextBuilder;
use boa_engine::{Context, Source};
use boa_runtime::extensions::ConsoleExtension;
use jobvisor_protocol::worker::Outcome;

use super::super::Engine;
use super::super::executor::RunLoop;
use super::super::host::HostCalls;
use super::super::tests::job;
use crate::channel::Channel;

/// The result of `code`, as a string, in a context with the engine runtime's globals and,
/// if `node_compat`, `Buffer` and `process`; the run loop is drained after it.
fn eval_in(node_compat: bool, code: &str) -> String {
    let host = Rc::new(HostCalls::new(Rc::new(Channel::detached())));
    let run_loop = Rc::new(RunLoop::new(host));
    let mut context = ContextBuilder::new()
        .job_executor(run_loop.clone())
        .build()
        .expect("a context builds");
    let console = ConsoleExtension(boa_runtime::NullLogger);
    boa_runtime::register(console, None, &mut context).expect("the runtime registers");
    if node_compat {
        super::register(&mut context, &run_loop).expect("the node globals register");
    }
    let value = context
        .eval(Source::from_bytes(code))
        .unwrap_or_else(|err| panic!("the test code threw {err}"));
    run_loop
        .run_until_settled(None, &mut context)
        .unwrap_or_else(|_| panic!("the run loop stopped"));
    text_of(&value, &mut context)
}

fn text_of(value: &boa_engine::JsValue, context: &mut Context) -> String {
    value
        .to_string(context)
        .expect("the result converts to a string")
        .to_std_string_escaped()
}

fn eval(code: &str) -> String {
    eval_in(true, code)
}

/// Every encoding of a string with non-ASCII text, an astral character and a lone surrogate.
#[test]
fn strings_encode_as_node_encodes_them() {
    let code = r#"
        const text = "héllo €😀\ud800!";
        JSON.stringify(["utf8", "utf-8", "UTF8", "hex", "base64", "base64url", "latin1", "binary", "ascii", "utf16le", "ucs2", "ucs-2", "utf-16le"]
          .map((e) => [e, Buffer.from(e === "hex" || e.startsWith("base64") ? Buffer.from(text).toString(e) : text, e).toString("hex")]))"#;
    assert_eq!(
        eval(code),
        r#"[["utf8","68c3a96c6c6f20e282acf09f9880efbfbd21"],["utf-8","68c3a96c6c6f20e282acf09f9880efbfbd21"],["UTF8","68c3a96c6c6f20e282acf09f9880efbfbd21"],["hex","68c3a96c6c6f20e282acf09f9880efbfbd21"],["base64","68c3a96c6c6f20e282acf09f9880efbfbd21"],["base64url","68c3a96c6c6f20e282acf09f9880efbfbd21"],["latin1","68e96c6c6f20ac3d000021"],["binary","68e96c6c6f20ac3d000021"],["ascii","68e96c6c6f20ac3d000021"],["utf16le","6800e9006c006c006f002000ac203dd800de00d82100"],["ucs2","6800e9006c006c006f002000ac203dd800de00d82100"],["ucs-2","6800e9006c006c006f002000ac203dd800de00d82100"],["utf-16le","6800e9006c006c006f002000ac203dd800de00d82100"]]"#
    );
}

/// Every encoding of bytes, including malformed UTF-8 and an odd UTF-16 byte.
#[test]
fn bytes_decode_as_node_decodes_them() {
    let code = r#"
        const bytes = Buffer.from([0x68, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80, 0xff, 0x80, 0xe2, 0x82, 0x41, 0xed, 0xa0, 0x80, 0x00, 0xfe]);
        JSON.stringify(["utf8", "hex", "base64", "base64url", "latin1", "binary", "ascii", "utf16le", "ucs2"]
          .map((e) => [e, bytes.toString(e), bytes.toString(e, 1, 9)]).concat([[bytes.toString(), String(bytes)]]))"#;
    assert_eq!(
        eval(code),
        r#"[["utf8","hé😀���A���\u0000�","é😀��"],["hex","68c3a9f09f9880ff80e28241eda08000fe","c3a9f09f9880ff80"],["base64","aMOp8J+YgP+A4oJB7aCAAP4=","w6nwn5iA/4A="],["base64url","aMOp8J-YgP-A4oJB7aCAAP4","w6nwn5iA_4A"],["latin1","hÃ©ðÿâAí \u0000þ","Ã©ðÿ"],["binary","hÃ©ðÿâAí \u0000þ","Ã©ðÿ"],["ascii","hC)p\u001f\u0018\u0000\u0000b\u0002Am \u0000\u0000~","C)p\u001f\u0018\u0000\u0000"],["utf16le","써颟ﾀ䆂ꃭ","꧃鿰肘胿"],["ucs2","써颟ﾀ䆂ꃭ","꧃鿰肘胿"],["hé😀���A���\u0000�","hé😀���A���\u0000�"]]"#
    );
}

/// Whitespace and stray characters, padding, both alphabets, a short last group; hex up to the first bad pair.
#[test]
fn base64_and_hex_decoding_is_lenient_as_in_node() {
    let code = r#"
        JSON.stringify([
          "aGVsbG8=", "aGVsbG8", "aGVs bG8\n", "aGV$sbG8", "aG=VsbG8", "-_-_", "+/+/", "a", "abc", "ab==", "", "////",
        ].map((s) => [Buffer.from(s, "base64").toString("hex"), Buffer.from(s, "base64url").toString("hex")])
          .concat([["12zz34", "123", "ABcd", "0x12", "é1"].map((s) => Buffer.from(s, "hex").toString("hex"))]))"#;
    assert_eq!(
        eval(code),
        r#"[["68656c6c6f","68656c6c6f"],["68656c6c6f","68656c6c6f"],["68656c6c6f","68656c6c6f"],["68656c6c6f","68656c6c6f"],["68","68"],["fbffbf","fbffbf"],["fbffbf","fbffbf"],["",""],["69b7","69b7"],["69","69"],["",""],["ffffff","ffffff"],["12","12","abcd","",""]]"#
    );
}

/// alloc with fills, byteLength, concat, compare, isBuffer and isEncoding.
#[test]
fn the_static_functions_behave_as_in_node() {
    let code = r#"
        JSON.stringify([
          Buffer.alloc(5).toString("hex"), Buffer.alloc(5, "ab").toString(), Buffer.alloc(4, 257).toString("hex"),
          Buffer.alloc(6, "aGk=", "base64").toString(), Buffer.alloc(3, Buffer.from([1, 2])).toString("hex"),
          Buffer.allocUnsafe(3).length, Buffer.allocUnsafeSlow(2).length, Buffer.alloc(0).length,
          [Buffer.byteLength("héllo €😀\ud800"), Buffer.byteLength("aGVsbG8=", "base64"), Buffer.byteLength("abc", "hex"),
            Buffer.byteLength("ab", "nope"), Buffer.byteLength("abc", "ucs2"), Buffer.byteLength("é", "latin1"),
            Buffer.byteLength(new Uint16Array(3)), Buffer.byteLength(new ArrayBuffer(7))],
          Buffer.concat([Buffer.from("ab"), new Uint8Array([99]), Buffer.from("def")]).toString(),
          Buffer.concat([Buffer.from("ab"), Buffer.from("cd")], 3).toString(), Buffer.concat([Buffer.from("ab")], 4).toString("hex"),
          Buffer.concat([]).length,
          [Buffer.compare(Buffer.from("a"), Buffer.from("b")), Buffer.compare(Buffer.from("b"), Buffer.from("a")),
            Buffer.compare(Buffer.from("ab"), Buffer.from("a")), Buffer.compare(Buffer.from(""), Buffer.from(""))],
          [Buffer.isBuffer(Buffer.alloc(1)), Buffer.isBuffer(new Uint8Array(1)), Buffer.isBuffer("a"), Buffer.isBuffer(null)],
          ["utf8", "UTF-8", "hex", "binary", "latin1", "ucs2", "utf16le", "base64url", "utf16", "", "nope", 5].map((e) => Buffer.isEncoding(e)),
          Buffer.poolSize,
        ])"#;
    assert_eq!(
        eval(code),
        r#"["0000000000","ababa","01010101","hihihi","010201",3,2,0,[17,5,1,2,6,1,6,7],"abcdef","abc","61620000",0,[-1,1,1,0],[true,false,false,false],[true,true,true,true,true,true,true,true,false,false,false,false],8192]"#
    );
}

/// The class and what `from` accepts: arrays, array-likes, typed arrays, ArrayBuffers, toJSON's output, String objects.
#[test]
fn buffers_are_uint8_arrays_made_by_from() {
    let code = r#"
        const ab = new ArrayBuffer(6); new Uint8Array(ab).set([1, 2, 3, 4, 5, 6]);
        const view = Buffer.from(ab, 2, 3); new Uint8Array(ab)[2] = 9;
        const copy = Buffer.from(view); view[0] = 7;
        JSON.stringify([
          typeof Buffer, Object.getPrototypeOf(Buffer) === Uint8Array, Buffer.from("a") instanceof Uint8Array,
          Buffer.from("a") instanceof Buffer, Buffer.prototype.constructor === Buffer, Object.getPrototypeOf(Buffer.prototype) === Uint8Array.prototype,
          Buffer.from("ab").map((b) => b + 1) instanceof Buffer, Buffer.from([1, 2]).filter((b) => b > 1) instanceof Buffer,
          Buffer.from([1, 256, -1, 3.7, "4", "x"]).toString("hex"), Buffer.from({ length: 2, 0: 5, 1: 6 }).toString("hex"),
          Buffer.from(new Uint16Array([1, 256, 65535])).toString("hex"), view.toString("hex"), copy.toString("hex"),
          Buffer.from(ab).length, Buffer.from(ab, 4).toString("hex"),
          Buffer.from(Buffer.from("hi").toJSON()).toString(), JSON.stringify(Buffer.from("hi")), JSON.stringify(Buffer.alloc(0)),
          Buffer.from(new String("str")).toString(), Buffer.from({ [Symbol.toPrimitive]: () => "prim" }).toString(),
          Buffer.from(new DataView(ab)).length, Buffer.of(1, 2).toString("hex"), Buffer(3).length, new Buffer("new").toString(),
          Object.prototype.toString.call(Buffer.from("a")),
          Buffer.from("ab", 5).toString("hex"), Buffer.from("ab", null).toString("hex"), Buffer.from("ab", "").toString("hex"),
        ])"#;
    assert_eq!(
        eval(code),
        r#"["function",true,true,true,true,true,true,true,"0100ff030400","0506","0100ff","070405","090405",6,"0506","hi","{\"type\":\"Buffer\",\"data\":[104,105]}","{\"type\":\"Buffer\",\"data\":[]}","str","prim",0,"0102",3,"new","[object Uint8Array]","6162","6162","6162"]"#
    );
}

/// slice/subarray share memory, equals, compare with ranges, copy with overlap, write of partial characters, fill, indexOf.
#[test]
fn views_copies_and_comparisons_behave_as_in_node() {
    let code = r#"
        const b = Buffer.from("héllo world");
        const s = b.slice(1, -1); s[0] = 0x41;
        const sub = b.subarray(-5); const neg = b.slice(-3, -1).toString(); const empty = b.slice(5, 2).length;
        const c = Buffer.from("abcdef"); const copied = c.copy(c, 2, 0, 4);
        const t = Buffer.alloc(3); const copiedOver = Buffer.from("wxyz").copy(t, 1);
        const w = Buffer.alloc(5);
        const written = [w.write("€€"), w.toString("hex"), w.write("ab", 4), w.write("cd", 1, 1), w.write("6869", 2, "hex"), w.write("zz", "latin1"), w.toString("hex")];
        JSON.stringify([
          b.toString(), sub.toString(), neg, empty, s.toString("latin1"),
          Buffer.from("abc").equals(Buffer.from("abc")), Buffer.from("abc").equals(new Uint8Array([97, 98])),
          Buffer.from("abc").compare(Buffer.from("abd")), Buffer.from("abc").compare(Buffer.from("xbcx"), 1, 3, 1),
          Buffer.from("abc").compare(Buffer.from("ab")),
          copied, c.toString(), copiedOver, t.toString("hex"), written,
          Buffer.from("hello").fill("€", 1).toString("hex"), Buffer.alloc(4).fill(0x101).toString("hex"), Buffer.alloc(4).fill("").toString("hex"),
          Buffer.alloc(5).fill("ab", 1, 4).toString("hex"), Buffer.alloc(4).fill("6869", "hex").toString(),
          [b.indexOf("o"), b.indexOf("o", 6), b.lastIndexOf("o"), b.indexOf(0x77), b.indexOf(Buffer.from("wor")), b.includes("xyz"),
            b.indexOf("o", -3), b.indexOf("6f", "hex"), b.lastIndexOf("l", 4), b.indexOf("")],
          Buffer.from([1, 2, 3, 4]).swap16().toString("hex"), Buffer.from([1, 2, 3, 4]).swap32().toString("hex"),
          Buffer.from("abc").toString("utf8", 1), Buffer.from("abc").toString("utf8", 5), Buffer.from("abc").toString("utf8", -1, 2),
          Buffer.from("abc").toString(undefined, 1, 2), Buffer.from("abcd").toString("hex", 1, 100),
          Buffer.from("héllo").utf8Slice(0, 3), Buffer.from("hi").hexSlice(), Buffer.from("hi").latin1Slice(1),
        ])"#;
    assert_eq!(
        eval(code),
        r#"["hA�llo world","world","rl",0,"A©llo worl",true,false,-1,0,1,4,"ababcd",2,"007778",[3,"e282ac0000",1,1,2,2,"7a7a686961"],"68e282ace2","01010101","00000000","0061626100","hihi",[5,8,8,7,7,false,-1,5,4,0],"02010403","04030201","bc","","ab","b","626364","hé","6869","i"]"#
    );
}

/// The integer, float and BigInt readers and writers in both byte orders.
#[test]
fn numbers_read_and_write_as_in_node() {
    let code = r#"
        const b = Buffer.alloc(16);
        const ends = [b.writeUInt8(255, 0), b.writeInt8(-2, 1), b.writeUInt16LE(0x1234, 2), b.writeUInt16BE(0x1234, 4),
          b.writeInt16LE(-2, 6), b.writeInt32BE(-123456, 8), b.writeUInt32LE(0xdeadbeef, 12)];
        const bytes1 = b.toString("hex");
        const reads1 = [b.readUInt8(0), b.readInt8(0), b.readInt8(1), b.readUInt16LE(2), b.readUInt16BE(2), b.readInt16LE(6),
          b.readInt32BE(8), b.readUInt32LE(12), b.readUInt32BE(12), b.readInt32LE(12), b.readUint16LE(2), b.readUintBE(12, 3),
          b.readUIntLE(10, 6), b.readIntLE(10, 6), b.readIntBE(0, 5), b.readUIntBE(0, 1)];
        const f = Buffer.alloc(24);
        const ends2 = [f.writeFloatLE(1.5, 0), f.writeFloatBE(-0.1, 4), f.writeDoubleLE(Math.PI, 8), f.writeDoubleBE(1e300, 16)];
        const reads2 = [f.readFloatLE(0), f.readFloatBE(4), f.readDoubleLE(8), f.readDoubleBE(16), f.toString("hex")];
        const g = Buffer.alloc(16);
        const ends3 = [g.writeBigUInt64LE(2n ** 64n - 2n, 0), g.writeBigInt64BE(-5n, 8)];
        const reads3 = [g.readBigUInt64LE(0), g.readBigInt64LE(0), g.readBigInt64BE(8), g.readBigUInt64BE(8)].map(String);
        const h = Buffer.alloc(6);
        const ends4 = [h.writeUIntBE(0x123456, 0, 3), h.writeIntLE(-300, 3, 3), h.toString("hex"), h.writeUIntLE(2 ** 48 - 1, 0, 6), h.toString("hex"), h.writeInt32LE(-1.9, 0), h.toString("hex")];
        JSON.stringify([ends, bytes1, reads1, ends2, reads2, ends3, reads3, g.toString("hex"), ends4])"#;
    assert_eq!(
        eval(code),
        r#"[[1,2,4,6,8,12,16],"fffe34121234fefffffe1dc0efbeadde",[255,-1,-2,4660,13330,-2,-123456,3735928559,4022250974,-559038737,4660,15711917,244837814091805,-36637162618851,-30141934,255],[4,8,16,24],[1.5,-0.10000000149011612,3.141592653589793,1e+300,"0000c03fbdcccccd182d4454fb2109407e37e43c8800759c"],[8,16],["18446744073709551614","-2","-5","18446744073709551611"],"fefffffffffffffffffffffffffffffb",[3,6,"123456d4feff",6,"ffffffffffff",4,"ffffffffffff"]]"#
    );
}

/// Wrong arguments throw what node throws, with the same code and message.
#[test]
fn errors_have_nodes_names_codes_and_messages() {
    let code = r#"
        const out = [];
        const t = (f) => { try { out.push(String(f())); } catch (e) { out.push(`${e.name}|${e.code}|${e.message}|${String(e)}`); } };
        t(() => Buffer.from(123)); t(() => Buffer.from(null)); t(() => Buffer.from(undefined)); t(() => Buffer.from({}));
        t(() => Buffer.from(Symbol("q"))); t(() => Buffer.from(() => 1)); t(() => Buffer.from(true));
        t(() => Buffer.from("abc", "nope")); t(() => Buffer.from("abc").toString("nope")); t(() => Buffer.from("abc").toString(null));
        t(() => Buffer.alloc(-1)); t(() => Buffer.alloc("5")); t(() => Buffer.alloc(2 ** 32 + 1)); t(() => Buffer.alloc(NaN));
        t(() => Buffer(5, "utf8"));
        t(() => Buffer.from("ab").readUInt16LE(1)); t(() => Buffer.from("ab").readUInt8(1.5)); t(() => Buffer.from("ab").readUInt8("1"));
        t(() => Buffer.from("ab").readUInt32LE()); t(() => Buffer.from("abc").readUInt8(-1)); t(() => Buffer.from("ab").readUIntLE(0, 7));
        t(() => Buffer.alloc(4).writeUInt8(256)); t(() => Buffer.alloc(4).writeUInt32LE(2 ** 32)); t(() => Buffer.alloc(8).writeUIntLE(2 ** 48, 0, 6));
        t(() => Buffer.alloc(8).writeIntBE(2 ** 47, 0, 6)); t(() => Buffer.alloc(8).writeBigUInt64LE(2n ** 64n)); t(() => Buffer.alloc(8).writeBigInt64LE(5));
        t(() => Buffer.alloc(8).writeInt16LE(-40000)); t(() => Buffer.alloc(3).writeUInt16LE(1, 2)); t(() => Buffer.alloc(4).writeUInt32BE(1, 1));
        t(() => Buffer.concat("x")); t(() => Buffer.concat([1])); t(() => Buffer.concat([Buffer.from("a"), "b"]));
        t(() => Buffer.from("ab").equals("ab")); t(() => Buffer.compare("a", Buffer.from("b"))); t(() => Buffer.compare(Buffer.from("b"), [1]));
        t(() => Buffer.byteLength(5)); t(() => Buffer.from("abc").copy(Buffer.alloc(2), 0, 10)); t(() => Buffer.from("abc").copy("x"));
        t(() => Buffer.alloc(3).fill("zz", "hex")); t(() => Buffer.alloc(3).write(5)); t(() => Buffer.from([1, 2, 3]).swap16());
        t(() => Buffer.from(new ArrayBuffer(2), 3)); t(() => Buffer.from(new ArrayBuffer(2), 1, 2)); t(() => Buffer.from("a").compare(5));
        t(() => Buffer.from("a".repeat(40)).equals(new Uint16Array(1).toString() + "a".repeat(40)));
        out.join("\n")"#;
    assert_eq!(
        eval(code),
        r#"TypeError|ERR_INVALID_ARG_TYPE|The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received type number (123)|TypeError [ERR_INVALID_ARG_TYPE]: The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received type number (123)
TypeError|ERR_INVALID_ARG_TYPE|The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received null|TypeError [ERR_INVALID_ARG_TYPE]: The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received null
TypeError|ERR_INVALID_ARG_TYPE|The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received undefined|TypeError [ERR_INVALID_ARG_TYPE]: The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received undefined
TypeError|ERR_INVALID_ARG_TYPE|The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received an instance of Object|TypeError [ERR_INVALID_ARG_TYPE]: The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received an instance of Object
TypeError|ERR_INVALID_ARG_TYPE|The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received type symbol (Symbol(q))|TypeError [ERR_INVALID_ARG_TYPE]: The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received type symbol (Symbol(q))
TypeError|ERR_INVALID_ARG_TYPE|The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received function |TypeError [ERR_INVALID_ARG_TYPE]: The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received function 
TypeError|ERR_INVALID_ARG_TYPE|The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received type boolean (true)|TypeError [ERR_INVALID_ARG_TYPE]: The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received type boolean (true)
TypeError|ERR_UNKNOWN_ENCODING|Unknown encoding: nope|TypeError [ERR_UNKNOWN_ENCODING]: Unknown encoding: nope
TypeError|ERR_UNKNOWN_ENCODING|Unknown encoding: nope|TypeError [ERR_UNKNOWN_ENCODING]: Unknown encoding: nope
TypeError|ERR_UNKNOWN_ENCODING|Unknown encoding: null|TypeError [ERR_UNKNOWN_ENCODING]: Unknown encoding: null
RangeError|ERR_OUT_OF_RANGE|The value of "size" is out of range. It must be >= 0 && <= 4294967296. Received -1|RangeError [ERR_OUT_OF_RANGE]: The value of "size" is out of range. It must be >= 0 && <= 4294967296. Received -1
TypeError|ERR_INVALID_ARG_TYPE|The "size" argument must be of type number. Received type string ('5')|TypeError [ERR_INVALID_ARG_TYPE]: The "size" argument must be of type number. Received type string ('5')
RangeError|ERR_OUT_OF_RANGE|The value of "size" is out of range. It must be >= 0 && <= 4294967296. Received 4_294_967_297|RangeError [ERR_OUT_OF_RANGE]: The value of "size" is out of range. It must be >= 0 && <= 4294967296. Received 4_294_967_297
RangeError|ERR_OUT_OF_RANGE|The value of "size" is out of range. It must be >= 0 && <= 4294967296. Received NaN|RangeError [ERR_OUT_OF_RANGE]: The value of "size" is out of range. It must be >= 0 && <= 4294967296. Received NaN
TypeError|ERR_INVALID_ARG_TYPE|The "string" argument must be of type string. Received type number (5)|TypeError [ERR_INVALID_ARG_TYPE]: The "string" argument must be of type string. Received type number (5)
RangeError|ERR_OUT_OF_RANGE|The value of "offset" is out of range. It must be >= 0 and <= 0. Received 1|RangeError [ERR_OUT_OF_RANGE]: The value of "offset" is out of range. It must be >= 0 and <= 0. Received 1
RangeError|ERR_OUT_OF_RANGE|The value of "offset" is out of range. It must be an integer. Received 1.5|RangeError [ERR_OUT_OF_RANGE]: The value of "offset" is out of range. It must be an integer. Received 1.5
TypeError|ERR_INVALID_ARG_TYPE|The "offset" argument must be of type number. Received type string ('1')|TypeError [ERR_INVALID_ARG_TYPE]: The "offset" argument must be of type number. Received type string ('1')
RangeError|ERR_BUFFER_OUT_OF_BOUNDS|Attempt to access memory outside buffer bounds|RangeError [ERR_BUFFER_OUT_OF_BOUNDS]: Attempt to access memory outside buffer bounds
RangeError|ERR_OUT_OF_RANGE|The value of "offset" is out of range. It must be >= 0 and <= 2. Received -1|RangeError [ERR_OUT_OF_RANGE]: The value of "offset" is out of range. It must be >= 0 and <= 2. Received -1
RangeError|ERR_OUT_OF_RANGE|The value of "byteLength" is out of range. It must be >= 1 and <= 6. Received 7|RangeError [ERR_OUT_OF_RANGE]: The value of "byteLength" is out of range. It must be >= 1 and <= 6. Received 7
RangeError|ERR_OUT_OF_RANGE|The value of "value" is out of range. It must be >= 0 and <= 255. Received 256|RangeError [ERR_OUT_OF_RANGE]: The value of "value" is out of range. It must be >= 0 and <= 255. Received 256
RangeError|ERR_OUT_OF_RANGE|The value of "value" is out of range. It must be >= 0 and <= 4294967295. Received 4294967296|RangeError [ERR_OUT_OF_RANGE]: The value of "value" is out of range. It must be >= 0 and <= 4294967295. Received 4294967296
RangeError|ERR_OUT_OF_RANGE|The value of "value" is out of range. It must be >= 0 and < 2 ** 48. Received 281_474_976_710_656|RangeError [ERR_OUT_OF_RANGE]: The value of "value" is out of range. It must be >= 0 and < 2 ** 48. Received 281_474_976_710_656
RangeError|ERR_OUT_OF_RANGE|The value of "value" is out of range. It must be >= -(2 ** 47) and < 2 ** 47. Received 140_737_488_355_328|RangeError [ERR_OUT_OF_RANGE]: The value of "value" is out of range. It must be >= -(2 ** 47) and < 2 ** 47. Received 140_737_488_355_328
RangeError|ERR_OUT_OF_RANGE|The value of "value" is out of range. It must be >= 0n and < 2n ** 64n. Received 18_446_744_073_709_551_616n|RangeError [ERR_OUT_OF_RANGE]: The value of "value" is out of range. It must be >= 0n and < 2n ** 64n. Received 18_446_744_073_709_551_616n
TypeError|undefined|Cannot mix BigInt and other types, use explicit conversions|TypeError: Cannot mix BigInt and other types, use explicit conversions
RangeError|ERR_OUT_OF_RANGE|The value of "value" is out of range. It must be >= -32768 and <= 32767. Received -40000|RangeError [ERR_OUT_OF_RANGE]: The value of "value" is out of range. It must be >= -32768 and <= 32767. Received -40000
RangeError|ERR_OUT_OF_RANGE|The value of "offset" is out of range. It must be >= 0 and <= 1. Received 2|RangeError [ERR_OUT_OF_RANGE]: The value of "offset" is out of range. It must be >= 0 and <= 1. Received 2
RangeError|ERR_OUT_OF_RANGE|The value of "offset" is out of range. It must be >= 0 and <= 0. Received 1|RangeError [ERR_OUT_OF_RANGE]: The value of "offset" is out of range. It must be >= 0 and <= 0. Received 1
TypeError|ERR_INVALID_ARG_TYPE|The "list" argument must be an instance of Array. Received type string ('x')|TypeError [ERR_INVALID_ARG_TYPE]: The "list" argument must be an instance of Array. Received type string ('x')
TypeError|ERR_INVALID_ARG_TYPE|The "list[0]" argument must be an instance of Buffer or Uint8Array. Received type number (1)|TypeError [ERR_INVALID_ARG_TYPE]: The "list[0]" argument must be an instance of Buffer or Uint8Array. Received type number (1)
TypeError|ERR_INVALID_ARG_TYPE|The "list[1]" argument must be an instance of Buffer or Uint8Array. Received type string ('b')|TypeError [ERR_INVALID_ARG_TYPE]: The "list[1]" argument must be an instance of Buffer or Uint8Array. Received type string ('b')
TypeError|ERR_INVALID_ARG_TYPE|The "otherBuffer" argument must be an instance of Buffer or Uint8Array. Received type string ('ab')|TypeError [ERR_INVALID_ARG_TYPE]: The "otherBuffer" argument must be an instance of Buffer or Uint8Array. Received type string ('ab')
TypeError|ERR_INVALID_ARG_TYPE|The "buf1" argument must be an instance of Buffer or Uint8Array. Received type string ('a')|TypeError [ERR_INVALID_ARG_TYPE]: The "buf1" argument must be an instance of Buffer or Uint8Array. Received type string ('a')
TypeError|ERR_INVALID_ARG_TYPE|The "buf2" argument must be an instance of Buffer or Uint8Array. Received an instance of Array|TypeError [ERR_INVALID_ARG_TYPE]: The "buf2" argument must be an instance of Buffer or Uint8Array. Received an instance of Array
TypeError|ERR_INVALID_ARG_TYPE|The "string" argument must be of type string or an instance of Buffer or ArrayBuffer. Received type number (5)|TypeError [ERR_INVALID_ARG_TYPE]: The "string" argument must be of type string or an instance of Buffer or ArrayBuffer. Received type number (5)
RangeError|ERR_OUT_OF_RANGE|The value of "sourceStart" is out of range. It must be >= 0 && <= 3. Received 10|RangeError [ERR_OUT_OF_RANGE]: The value of "sourceStart" is out of range. It must be >= 0 && <= 3. Received 10
TypeError|ERR_INVALID_ARG_TYPE|The "target" argument must be an instance of Buffer or Uint8Array. Received type string ('x')|TypeError [ERR_INVALID_ARG_TYPE]: The "target" argument must be an instance of Buffer or Uint8Array. Received type string ('x')
TypeError|ERR_INVALID_ARG_VALUE|The argument 'value' is invalid. Received 'zz'|TypeError [ERR_INVALID_ARG_VALUE]: The argument 'value' is invalid. Received 'zz'
TypeError|ERR_INVALID_ARG_TYPE|argument must be a string|TypeError: argument must be a string
RangeError|ERR_INVALID_BUFFER_SIZE|Buffer size must be a multiple of 16-bits|RangeError [ERR_INVALID_BUFFER_SIZE]: Buffer size must be a multiple of 16-bits
RangeError|ERR_BUFFER_OUT_OF_BOUNDS|"offset" is outside of buffer bounds|RangeError [ERR_BUFFER_OUT_OF_BOUNDS]: "offset" is outside of buffer bounds
RangeError|ERR_BUFFER_OUT_OF_BOUNDS|"length" is outside of buffer bounds|RangeError [ERR_BUFFER_OUT_OF_BOUNDS]: "length" is outside of buffer bounds
TypeError|ERR_INVALID_ARG_TYPE|The "target" argument must be an instance of Buffer or Uint8Array. Received type number (5)|TypeError [ERR_INVALID_ARG_TYPE]: The "target" argument must be an instance of Buffer or Uint8Array. Received type number (5)
TypeError|ERR_INVALID_ARG_TYPE|The "otherBuffer" argument must be an instance of Buffer or Uint8Array. Received type string ('0aaaaaaaaaaaaaaaaaaaaaaaa...')|TypeError [ERR_INVALID_ARG_TYPE]: The "otherBuffer" argument must be an instance of Buffer or Uint8Array. Received type string ('0aaaaaaaaaaaaaaaaaaaaaaaa...')"#
    );
}

/// The minimal `process`: an empty `env`, `nextTick` that refuses a non-function.
#[test]
fn process_has_an_empty_env_and_next_tick() {
    let code = r#"
        let error;
        try { process.nextTick(5); } catch (e) { error = `${e.name}|${e.code}|${e.message}`; }
        JSON.stringify([typeof process, typeof process.env, Object.keys(process.env).length, process.env.NODE_ENV === undefined,
          typeof process.nextTick, error])"#;
    assert_eq!(
        eval(code),
        r#"["object","object",0,true,"function","TypeError|ERR_INVALID_ARG_TYPE|The \"callback\" argument must be of type function. Received type number (5)"]"#
    );
}

#[test]
fn without_the_opt_in_there_is_no_buffer_and_no_process() {
    let code =
        "[typeof Buffer, typeof process, 'Buffer' in globalThis, 'process' in globalThis].join()";
    assert_eq!(eval_in(false, code), "undefined,undefined,false,false");
    assert_eq!(eval_in(true, code), "function,object,true,true");
}

/// They stay accessors of the global object, so that one place in the code reading them
/// again and again (a loop) keeps getting them.
#[test]
fn the_globals_are_accessors_compiled_on_first_use() {
    let code = r#"
        const kinds = [];
        for (let i = 0; i < 3; i++) kinds.push(typeof Buffer.from, Buffer.from("ab").length);
        const buffer = Object.getOwnPropertyDescriptor(globalThis, "Buffer");
        const process = Object.getOwnPropertyDescriptor(globalThis, "process");
        [kinds.join(" "), typeof buffer.get, buffer.enumerable, typeof process.get, typeof globalThis.process.nextTick].join()"#;
    assert_eq!(
        eval(code),
        "function 2 function 2 function 2,function,false,function,function"
    );
    assert_eq!(
        eval("process = 5; [process, typeof Buffer].join()"),
        "5,function"
    );
}

#[test]
fn next_tick_runs_before_the_promise_jobs_of_its_turn_as_in_node() {
    let source = format!(
        "export default {};",
        r#"async () => {
  const log = [];
  Promise.resolve().then(() => log.push("promise 1"));
  process.nextTick((a, b) => log.push(`tick ${a} ${b}`), 1, 2);
  queueMicrotask(() => {
    log.push("microtask");
    process.nextTick(() => log.push("tick from microtask"));
    Promise.resolve().then(() => log.push("promise from microtask"));
  });
  process.nextTick(() => {
    log.push("tick 2");
    process.nextTick(() => log.push("tick from tick"));
    Promise.resolve().then(() => log.push("promise from tick"));
  });
  await new Promise((resolve) => setTimeout(() => {
    Promise.resolve().then(() => log.push("promise in timer"));
    process.nextTick(() => log.push("tick in timer"));
    log.push("timer");
    resolve();
  }, 1));
  log.push("after await");
  return log.join(", ");
}"#
    );
    let mut engine = Engine::new(Rc::new(Channel::detached()));
    let mut run = job(1, Some(&source), "{}");
    run.script.node_compat = true;
    let (outcome, _) = engine.run(&run);
    let Outcome::Ok {
        result: Some(result),
    } = outcome
    else {
        panic!("the job failed: {outcome:?}");
    };
    assert_eq!(
        result,
        r#""tick 1 2, tick 2, tick from tick, promise 1, microtask, promise from tick, promise from microtask, tick from microtask, timer, tick in timer, promise in timer, after await""#
    );
}

#[test]
fn a_throwing_tick_fails_the_job_with_its_error() {
    let source = "export default async () => { process.nextTick(() => { throw new RangeError('tick') }); await null; return 1; }";
    let mut engine = Engine::new(Rc::new(Channel::detached()));
    let mut run = job(1, Some(source), "{}");
    run.script.node_compat = true;
    let (outcome, _) = engine.run(&run);
    let Outcome::Err(err) = outcome else {
        panic!("the job succeeded: {outcome:?}");
    };
    assert_eq!(
        (err.name.as_str(), err.message.as_str()),
        ("RangeError", "tick")
    );
}

#[test]
fn a_warm_context_is_kept_apart_for_each_setting_of_the_same_version() {
    let source = "export default () => typeof Buffer";
    let mut engine = Engine::new(Rc::new(Channel::detached()));
    let mut with = job(1, Some(source), "{}");
    with.script.node_compat = true;
    let without = job(2, None, "{}");
    let mut with_again = job(3, None, "{}");
    with_again.script.node_compat = true;
    let results: Vec<_> = [with, without, with_again]
        .iter()
        .map(|run| match engine.run(run) {
            (Outcome::Ok { result }, stats) => (result.unwrap_or_default(), stats.warm),
            (Outcome::Err(err), _) => panic!("the job failed: {err:?}"),
        })
        .collect();
    assert_eq!(
        results,
        [
            ("\"function\"".to_owned(), false),
            ("\"undefined\"".to_owned(), false),
            ("\"function\"".to_owned(), true),
        ]
    );
}

#[test]
fn a_script_that_uses_buffer_at_load_is_checked_with_the_opt_in_only() {
    let source = "const bom = Buffer.from([0xef, 0xbb, 0xbf]); export default () => bom.length;";
    let engine = Engine::new(Rc::new(Channel::detached()));
    assert!(engine.check("s", source, true).is_ok());
    let err = engine
        .check("s", source, false)
        .expect_err("no Buffer without the opt-in");
    assert_eq!(err.name, "ReferenceError", "{err:?}");
    assert!(
        err.message.starts_with("Buffer is not defined (node's `Buffer` and `process` exist only for a script with node compatibility: `node_compat = true`"),
        "{err:?}"
    );
    let err = engine
        .check("s", "undefinedThing; export default () => 1", false)
        .expect_err("an undefined name");
    assert_eq!(err.message, "undefinedThing is not defined");
}
