//! `TextDecoder` with the encodings scripts meet (utf-8, utf-16le, utf-16be and
//! windows-1252, which WHATWG also names `latin1` and `ascii`) and its `fatal` and
//! `ignoreBOM` options, and `TextEncoder.prototype.encodeInto`.
//!
//! The engine runtime's decoder knows neither `fatal` nor windows-1252, so the class is
//! replaced: its argument handling is JavaScript (`text_decoding.js`), the decoding is
//! [`decode`] here, handed to that script as a native function.

use boa_engine::object::builtins::JsUint8Array;
use boa_engine::{
    Context, JsArgs, JsNativeError, JsResult, JsString, JsValue, NativeFunction, js_error,
};

use super::bundled;

/// Replaces `TextDecoder` and adds `TextEncoder.prototype.encodeInto`, compiled on first
/// use of either.
pub(crate) fn register(context: &mut Context) -> JsResult<()> {
    let global = context.global_object();
    bundled::define_lazily(&global, "TextDecoder", install, context)?;
    let encoder = bundled::prototype_of("TextEncoder", context)?;
    bundled::define_lazily(&encoder, "encodeInto", install, context)
}

fn install(context: &mut Context) -> JsResult<()> {
    let decode = NativeFunction::from_fn_ptr(decode_native).to_js_function(context.realm());
    bundled::install(
        "text_decoding.js",
        include_str!("text_decoding.js"),
        &[decode.into()],
        context,
    )
}

/// An encoding the decoder supports, by its WHATWG name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    Windows1252,
}

impl Encoding {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "utf-8" => Some(Self::Utf8),
            "utf-16le" => Some(Self::Utf16Le),
            "utf-16be" => Some(Self::Utf16Be),
            "windows-1252" => Some(Self::Windows1252),
            _ => None,
        }
    }
}

/// Windows-1252 differs from Latin-1 in 0x80..=0x9F only; five of those stay C1 controls.
const WINDOWS_1252_HIGH: [u16; 32] = [
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
];

/// Why a `fatal` decoder refused its input.
#[derive(Debug, PartialEq, Eq)]
struct Malformed(Encoding);

/// Decodes `bytes` to UTF-16 code units. Malformed input becomes U+FFFD, or an error
/// when `fatal`; a leading byte order mark is dropped unless `keep_bom`.
fn decode(
    bytes: &[u8],
    encoding: Encoding,
    fatal: bool,
    keep_bom: bool,
) -> Result<Vec<u16>, Malformed> {
    let units: Vec<u16> = match encoding {
        Encoding::Utf8 => {
            let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
                Some(rest) if !keep_bom => rest,
                _ => bytes,
            };
            let text = if fatal {
                std::str::from_utf8(bytes)
                    .map(std::borrow::Cow::Borrowed)
                    .map_err(|_| Malformed(encoding))?
            } else {
                // Replaces each maximal invalid subpart, as the WHATWG decoder does.
                String::from_utf8_lossy(bytes)
            };
            return Ok(text.encode_utf16().collect());
        }
        Encoding::Utf16Le | Encoding::Utf16Be => {
            let pairs = bytes.chunks_exact(2);
            let odd_tail = !pairs.remainder().is_empty();
            let raw = pairs.map(|pair| match encoding {
                Encoding::Utf16Be => u16::from_be_bytes([pair[0], pair[1]]),
                _ => u16::from_le_bytes([pair[0], pair[1]]),
            });
            let mut units = Vec::with_capacity(bytes.len() / 2 + 1);
            for unit in char::decode_utf16(raw) {
                match unit {
                    Ok(c) => {
                        let mut buf = [0; 2];
                        units.extend_from_slice(c.encode_utf16(&mut buf));
                    }
                    Err(_) if fatal => return Err(Malformed(encoding)),
                    Err(_) => units.push(0xFFFD),
                }
            }
            if odd_tail {
                if fatal {
                    return Err(Malformed(encoding));
                }
                units.push(0xFFFD);
            }
            units
        }
        Encoding::Windows1252 => bytes
            .iter()
            .map(|&byte| match byte {
                0x80..=0x9F => WINDOWS_1252_HIGH[usize::from(byte - 0x80)],
                _ => u16::from(byte),
            })
            .collect(),
    };
    let bom_applies = matches!(encoding, Encoding::Utf16Le | Encoding::Utf16Be);
    if bom_applies && !keep_bom && units.first() == Some(&0xFEFF) {
        return Ok(units[1..].to_vec());
    }
    Ok(units)
}

/// `decode(bytes: Uint8Array, encoding: string, fatal: boolean, ignoreBOM: boolean)`.
fn decode_native(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let view = args
        .get_or_undefined(0)
        .as_object()
        .and_then(|object| JsUint8Array::from_object(object).ok())
        .ok_or_else(|| JsNativeError::typ().with_message("decode needs a Uint8Array"))?;
    let name = args
        .get_or_undefined(1)
        .to_string(context)?
        .to_std_string_lossy();
    let encoding = Encoding::from_name(&name).ok_or_else(|| {
        JsNativeError::range().with_message(format!("unsupported encoding {name}"))
    })?;
    let fatal = args.get_or_undefined(2).to_boolean();
    let keep_bom = args.get_or_undefined(3).to_boolean();

    let offset = view.byte_offset(context)?;
    let length = view.byte_length(context)?;
    let buffer = view.buffer(context)?;
    let buffer = buffer
        .as_object()
        .and_then(|object| boa_engine::object::builtins::JsArrayBuffer::from_object(object).ok())
        .ok_or_else(|| JsNativeError::typ().with_message("the view has no ArrayBuffer"))?;
    let data = buffer
        .data()
        .ok_or_else(|| js_error!(TypeError: "cannot decode a detached ArrayBuffer"))?;
    let bytes = data
        .get(offset..offset + length)
        .ok_or_else(|| js_error!(RangeError: "the view lies outside its ArrayBuffer"))?;
    match decode(bytes, encoding, fatal, keep_bom) {
        Ok(units) => Ok(JsString::from(units.as_slice()).into()),
        Err(Malformed(_)) => Err(JsNativeError::typ()
            .with_message(format!("the encoded data was not valid {name}"))
            .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::{Encoding, Malformed, decode};

    fn text(bytes: &[u8], encoding: Encoding, fatal: bool, keep_bom: bool) -> String {
        String::from_utf16_lossy(&decode(bytes, encoding, fatal, keep_bom).unwrap_or_default())
    }

    #[test]
    fn utf8_replaces_or_refuses_malformed_bytes_and_drops_the_bom() {
        assert_eq!(
            text(b"\xEF\xBB\xBFh\xC3\xA9", Encoding::Utf8, false, false),
            "hé"
        );
        assert_eq!(
            text(b"\xEF\xBB\xBFh", Encoding::Utf8, false, true),
            "\u{FEFF}h"
        );
        assert_eq!(
            text(b"a\xF0\x9F\x98b", Encoding::Utf8, false, false),
            "a\u{FFFD}b"
        );
        assert_eq!(
            decode(b"a\xFFb", Encoding::Utf8, true, false),
            Err(Malformed(Encoding::Utf8))
        );
    }

    #[test]
    fn utf16_handles_the_bom_lone_surrogates_and_an_odd_byte() {
        let le = [0xFF, 0xFE, b'h', 0, 0x3D, 0xD8, 0x00, 0xDE];
        assert_eq!(text(&le, Encoding::Utf16Le, false, false), "h😀");
        assert_eq!(text(&le, Encoding::Utf16Le, false, true), "\u{FEFF}h😀");
        assert_eq!(
            text(&[0x00, 0xD8, b'x', 0], Encoding::Utf16Le, false, false),
            "\u{FFFD}x"
        );
        assert_eq!(
            text(&[b'x', 0, b'y'], Encoding::Utf16Le, false, false),
            "x\u{FFFD}"
        );
        assert_eq!(
            decode(&[b'x', 0, b'y'], Encoding::Utf16Le, true, false),
            Err(Malformed(Encoding::Utf16Le))
        );
        assert_eq!(
            text(&[0, b'h', 0, b'i'], Encoding::Utf16Be, false, false),
            "hi"
        );
    }

    #[test]
    fn windows_1252_maps_the_high_controls_and_is_never_malformed() {
        let bytes = [b'a', 0x80, 0x81, 0x9F, 0xE9, 0xFF];
        assert_eq!(
            text(&bytes, Encoding::Windows1252, true, false),
            "a€\u{81}Ÿéÿ"
        );
    }

    fn eval(code: &str) -> String {
        crate::engine::bundled::eval_with(super::register, code)
    }

    // node 20's output for the same code, except windows-1252's 0x80..=0x9F, where node
    // returns the raw bytes and the WHATWG standard (followed here) the table's characters.
    #[test]
    fn decoder_and_encode_into_behave_as_in_node() {
        let code = r#"
            const out = []; const enc = new TextEncoder(); const buf = new Uint8Array(5);
            out.push(JSON.stringify(enc.encodeInto("hé😀x", buf)), Array.from(buf).join(","));
            const big = new Uint8Array(16);
            out.push(JSON.stringify(enc.encodeInto("a\uD800b", big)), Array.from(big.subarray(0, 5)).join(","));
            out.push(new TextDecoder().decode(new Uint8Array([0xEF, 0xBB, 0xBF, 0x68, 0xC3, 0xA9, 0xFF])));
            out.push(new TextDecoder("utf-8", { ignoreBOM: true }).decode(new Uint8Array([0xEF, 0xBB, 0xBF, 0x68])).length);
            try { new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0x61, 0xFF])) } catch (e) { out.push(e.name) }
            out.push(new TextDecoder("utf-16le").decode(new Uint8Array([0xFF, 0xFE, 0x68, 0, 0x3D, 0xD8, 0, 0xDE])));
            out.push(new TextDecoder(" Latin1 ").encoding, new TextDecoder("latin1").decode(new Uint8Array([0xE9, 0x41])));
            out.push(new TextDecoder("ascii").encoding, new TextDecoder("unicode").encoding);
            const d = new TextDecoder("utf8", { fatal: true }); out.push(d.encoding, d.fatal, d.ignoreBOM);
            try { new TextDecoder("nope") } catch (e) { out.push(e.name) }
            out.push(new TextDecoder().decode(new Uint8Array([0, 0x68, 0x69, 0]).subarray(1, 3)),
                new TextDecoder().decode(new Uint8Array([0x68]).buffer), new TextDecoder().decode());
            JSON.stringify(out)"#;
        assert_eq!(
            eval(code),
            r#"["{\"read\":2,\"written\":3}","104,195,169,0,0","{\"read\":3,\"written\":5}","97,239,191,189,98","hé�",2,"TypeError","h😀","windows-1252","éA","windows-1252","utf-16le","utf-8",true,false,"RangeError","hi","h",""]"#
        );
    }

    #[test]
    fn windows_1252_follows_the_whatwg_table() {
        let code = "new TextDecoder('latin1').decode(new Uint8Array([0x80, 0x9F]))";
        assert_eq!(eval(code), "€Ÿ");
    }

    #[test]
    fn streaming_is_refused_with_a_clear_error() {
        let code = "try { new TextDecoder().decode(new Uint8Array([0x68]), { stream: true }) } \
                    catch (e) { e.name + ': ' + e.message }";
        assert_eq!(
            eval(code),
            "TypeError: TextDecoder.decode: the stream option is not supported; decode the whole input at once"
        );
    }
}
