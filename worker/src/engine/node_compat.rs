//! The node compatibility globals a script opts in to (`node_compat`): `Buffer`, and a
//! minimal `process` with `env` and `nextTick`. A context of a script that did not opt in
//! has none of them.
//!
//! `Buffer` is JavaScript (`node_compat.js`): its overloads, argument checks and node's
//! error messages are plain language. The byte work is here, handed to that script as
//! native functions no script can reach by name: encoding a string in one of node's
//! encodings, decoding bytes to a string, and a string's UTF-8 length. `process.nextTick`
//! queues its callback on the context's [`RunLoop`], which runs such callbacks before the
//! promise jobs of the same turn, as node does.

use std::rc::Rc;

use boa_engine::object::builtins::{JsArray, JsUint8Array};
use boa_engine::{
    Context, Finalize, JsArgs, JsNativeError, JsObject, JsResult, JsString, JsValue,
    NativeFunction, Trace, js_error,
};

use jobvisor_protocol::worker::JobError;

use super::bundled;
use super::executor::RunLoop;

/// The globals `node_compat.js` defines.
const GLOBALS: [&str; 2] = ["Buffer", "process"];

/// Defines `Buffer` and `process` as accessors of the global object that compile
/// `node_compat.js` on first use of either. They stay accessors after that, as `crypto`
/// does and for the same reason ([`bundled::define_held`]): replacing a global's accessor
/// with a data property from its own getter would make the next read from the same place
/// in the code call `Buffer` as if it were the getter.
pub(crate) fn register(context: &mut Context, run_loop: &Rc<RunLoop>) -> JsResult<()> {
    let global = context.global_object();
    let holder = JsObject::with_null_proto();
    let ticks = TickQueue {
        run_loop: run_loop.clone(),
    };
    bundled::define_held(&global, &GLOBALS, &holder, ticks, install, context)
}

/// Compiles `node_compat.js`, which puts `Buffer` and `process` on `holder`.
fn install(holder: &JsObject, ticks: &TickQueue, context: &mut Context) -> JsResult<()> {
    let realm = context.realm().clone();
    let encode = NativeFunction::from_fn_ptr(encode_native).to_js_function(&realm);
    let decode = NativeFunction::from_fn_ptr(decode_native).to_js_function(&realm);
    let utf8_length = NativeFunction::from_fn_ptr(utf8_length_native).to_js_function(&realm);
    let enqueue_tick = NativeFunction::from_copy_closure_with_captures(enqueue_tick, ticks.clone())
        .to_js_function(&realm);
    bundled::install(
        "node_compat.js",
        include_str!("node_compat.js"),
        &[
            encode.into(),
            decode.into(),
            utf8_length.into(),
            enqueue_tick.into(),
            holder.clone().into(),
        ],
        context,
    )
}

/// What `enqueueTick` holds: the context's run loop.
#[derive(Clone, Trace, Finalize)]
struct TickQueue {
    #[unsafe_ignore_trace]
    run_loop: Rc<RunLoop>,
}

/// `err` with a hint when it is the `ReferenceError` of a script that reached for `Buffer`
/// or `process` without node compatibility, which is how such a script first fails.
pub(crate) fn explain_missing_global(mut err: JobError, node_compat: bool) -> JobError {
    let missing = GLOBALS
        .iter()
        .any(|name| err.message == format!("{name} is not defined"));
    if !node_compat && err.name == "ReferenceError" && missing {
        err.message.push_str(
            " (node's `Buffer` and `process` exist only for a script with node compatibility: \
             `node_compat = true` in its [[script]] entry, or `jobvisor run --node-compat`)",
        );
    }
    err
}

/// One of node's encodings, by the canonical name `node_compat.js` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Hex,
    Base64,
    Base64Url,
    Latin1,
    Ascii,
    Utf16Le,
}

impl Encoding {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "utf8" => Some(Self::Utf8),
            "hex" => Some(Self::Hex),
            "base64" => Some(Self::Base64),
            "base64url" => Some(Self::Base64Url),
            "latin1" => Some(Self::Latin1),
            "ascii" => Some(Self::Ascii),
            "utf16le" => Some(Self::Utf16Le),
            _ => None,
        }
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The bytes of a string (UTF-16 code units) in `encoding`, as node's `Buffer.from`
/// makes them.
fn encode(units: &[u16], encoding: Encoding) -> Vec<u8> {
    match encoding {
        // A lone surrogate becomes U+FFFD.
        Encoding::Utf8 => char::decode_utf16(units.iter().copied())
            .map(|unit| unit.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect::<String>()
            .into_bytes(),
        // Node keeps the low byte of each code unit for both.
        Encoding::Latin1 | Encoding::Ascii => units.iter().map(|&unit| unit as u8).collect(),
        Encoding::Utf16Le => units.iter().flat_map(|unit| unit.to_le_bytes()).collect(),
        // Pairs of hex digits, up to the first pair that is not one (an odd digit at the
        // end is dropped).
        Encoding::Hex => units
            .chunks_exact(2)
            .map_while(|pair| Some(hex_digit(pair[0])? << 4 | hex_digit(pair[1])?))
            .collect(),
        // Both alphabets are read whatever the name; other characters are skipped and
        // the first `=` ends the data.
        Encoding::Base64 | Encoding::Base64Url => decode_base64(units),
    }
}

fn hex_digit(unit: u16) -> Option<u8> {
    char::from_u32(u32::from(unit))
        .and_then(|c| c.to_digit(16))
        .and_then(|digit| u8::try_from(digit).ok())
}

fn base64_value(unit: u16) -> Option<u32> {
    let value = match u8::try_from(unit).ok()? {
        c @ b'A'..=b'Z' => c - b'A',
        c @ b'a'..=b'z' => c - b'a' + 26,
        c @ b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

fn decode_base64(units: &[u16]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(units.len() / 4 * 3 + 2);
    let mut bits: u32 = 0;
    let mut count = 0;
    for &unit in units {
        if unit == u16::from(b'=') {
            break;
        }
        let Some(value) = base64_value(unit) else {
            continue;
        };
        bits = bits << 6 | value;
        count += 1;
        if count == 4 {
            bytes.extend_from_slice(&bits.to_be_bytes()[1..]);
            bits = 0;
            count = 0;
        }
    }
    // A last group of two or three characters gives one or two bytes; one gives none.
    match count {
        2 => bytes.push((bits >> 4) as u8),
        3 => bytes.extend_from_slice(&((bits >> 2) as u16).to_be_bytes()),
        _ => {}
    }
    bytes
}

fn encode_base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> Vec<u16> {
    let mut units = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let bits = group.iter().enumerate().fold(0u32, |bits, (i, &byte)| {
            bits | u32::from(byte) << (16 - 8 * i)
        });
        let characters = group.len() + 1;
        for i in 0..4 {
            if i < characters {
                let index = (bits >> (18 - 6 * i)) & 0x3F;
                units.push(u16::from(alphabet[index as usize]));
            } else if pad {
                units.push(u16::from(b'='));
            }
        }
    }
    units
}

/// The string (UTF-16 code units) of `bytes` read in `encoding`, as node's
/// `buf.toString` reads them.
fn decode(bytes: &[u8], encoding: Encoding) -> Vec<u16> {
    match encoding {
        // Each maximal invalid sequence becomes one U+FFFD, as WHATWG (and node) decode.
        Encoding::Utf8 => String::from_utf8_lossy(bytes).encode_utf16().collect(),
        Encoding::Latin1 => bytes.iter().map(|&byte| u16::from(byte)).collect(),
        Encoding::Ascii => bytes.iter().map(|&byte| u16::from(byte & 0x7F)).collect(),
        // An odd byte at the end is dropped; lone surrogates are kept as they are.
        Encoding::Utf16Le => bytes
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect(),
        Encoding::Hex => bytes
            .iter()
            .flat_map(|&byte| [byte >> 4, byte & 0xF])
            .map(|digit| u16::from(b"0123456789abcdef"[usize::from(digit)]))
            .collect(),
        Encoding::Base64 => encode_base64(bytes, BASE64, true),
        Encoding::Base64Url => encode_base64(bytes, BASE64_URL, false),
    }
}

fn encoding_arg(value: &JsValue, context: &mut Context) -> JsResult<Encoding> {
    let name = value.to_string(context)?.to_std_string_lossy();
    Encoding::from_name(&name)
        .ok_or_else(|| JsNativeError::typ().with_message(format!("Unknown encoding: {name}")))
        .map_err(Into::into)
}

/// `encode(string, encoding)`: a new Uint8Array of the string's bytes.
fn encode_native(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let text = args.get_or_undefined(0).to_string(context)?;
    let encoding = encoding_arg(args.get_or_undefined(1), context)?;
    let bytes = encode(&text.to_vec(), encoding);
    Ok(JsUint8Array::from_iter(bytes, context)?.into())
}

/// `decode(bytes, start, end, encoding)`: the string of `bytes[start..end]`.
fn decode_native(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let view = args
        .get_or_undefined(0)
        .as_object()
        .and_then(|object| JsUint8Array::from_object(object).ok())
        .ok_or_else(|| JsNativeError::typ().with_message("decode needs a Uint8Array"))?;
    let index = |value: &JsValue, context: &mut Context| -> JsResult<usize> {
        Ok(value.to_length(context)? as usize)
    };
    let start = index(args.get_or_undefined(1), context)?;
    let end = index(args.get_or_undefined(2), context)?;
    let encoding = encoding_arg(args.get_or_undefined(3), context)?;
    let bytes = view.to_vec(context)?;
    let bytes = bytes
        .get(start..end.min(bytes.len()))
        .ok_or_else(|| js_error!(RangeError: "Attempt to access memory outside buffer bounds"))?;
    Ok(JsString::from(decode(bytes, encoding).as_slice()).into())
}

/// `utf8Length(string)`: the number of bytes of the string in UTF-8, a lone surrogate
/// counting three (it is written as U+FFFD).
fn utf8_length_native(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let text = args.get_or_undefined(0).to_string(context)?;
    let length: usize = char::decode_utf16(text.iter())
        .map(|unit| unit.map_or(3, char::len_utf8))
        .sum();
    Ok(JsValue::from(length as f64))
}

/// `enqueueTick(callback, args)`: queues `callback(...args)` for `process.nextTick`.
fn enqueue_tick(
    _: &JsValue,
    args: &[JsValue],
    queue: &TickQueue,
    context: &mut Context,
) -> JsResult<JsValue> {
    let callback = args
        .get_or_undefined(0)
        .as_function()
        .ok_or_else(|| JsNativeError::typ().with_message("nextTick needs a function"))?;
    let arguments = match args.get_or_undefined(1).as_object() {
        Some(list) => arguments_of(&list, context)?,
        None => Vec::new(),
    };
    queue.run_loop.push_tick(callback, arguments);
    Ok(JsValue::undefined())
}

fn arguments_of(list: &JsObject, context: &mut Context) -> JsResult<Vec<JsValue>> {
    let list = JsArray::from_object(list.clone())?;
    let length = list.length(context)?;
    (0..length).map(|i| list.get(i, context)).collect()
}

#[cfg(test)]
mod tests;
