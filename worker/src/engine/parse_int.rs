//! `parseInt`, exact for decimal numbers of any length.
//!
//! The engine accumulates decimal digits in a double one by one, which rounds at every
//! step once the value passes 2^53: `parseInt("1234567890123456789")` came out as
//! `1234567890123457000`, where node gives the nearest double, `1234567890123456800`.
//! Decimal input (radix absent, 0 or 10) is parsed here, correctly rounded; any other
//! radix goes to the engine's own function, given the already converted arguments so
//! that no `toString`/`valueOf` runs twice.

use boa_engine::object::builtins::JsFunction;
use boa_engine::{Context, JsNativeError, JsResult, JsValue, NativeFunction, js_string};

use super::builtin;

/// Replaces `parseInt` on the global object and `Number.parseInt` (the same function).
pub(super) fn install(context: &mut Context) -> JsResult<()> {
    let global = context.global_object();
    let original = global
        .get(js_string!("parseInt"), context)?
        .as_function()
        .ok_or_else(|| JsNativeError::typ().with_message("parseInt is missing"))?;
    let function = builtin::function(
        context,
        "parseInt",
        2,
        NativeFunction::from_copy_closure_with_captures(parse_int, original),
    );
    let number = context.intrinsics().constructors().number().constructor();
    for holder in [global, number] {
        builtin::define_method(&holder, "parseInt", function.clone(), context)?;
    }
    Ok(())
}

fn parse_int(
    _: &JsValue,
    args: &[JsValue],
    original: &JsFunction,
    context: &mut Context,
) -> JsResult<JsValue> {
    let input = args
        .first()
        .cloned()
        .unwrap_or_default()
        .to_string(context)?;
    let radix = args.get(1).cloned().unwrap_or_default().to_i32(context)?;
    let text = input.to_std_string_lossy();
    match (radix, decimal(&text, radix == 0)) {
        (0 | 10, Some(value)) => Ok(JsValue::new(value)),
        _ => original.call(
            &JsValue::undefined(),
            &[input.into(), radix.into()],
            context,
        ),
    }
}

/// The value of the decimal digits at the start of `text` (after white space and a sign),
/// or `None` when there are none, or when `hex_allowed` and the text is `0x…` (the engine
/// handles those).
fn decimal(text: &str, hex_allowed: bool) -> Option<f64> {
    let trimmed = text.trim_start_matches(is_js_white_space);
    let (negative, unsigned) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if hex_allowed && (unsigned.starts_with("0x") || unsigned.starts_with("0X")) {
        return None;
    }
    let digits = unsigned.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    // Rust's float parsing is correctly rounded for any number of digits.
    let magnitude: f64 = unsigned[..digits].parse().ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// ECMAScript's WhiteSpace and LineTerminator (which differ from Unicode's White_Space:
/// U+FEFF is one, U+0085 is not).
fn is_js_white_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}
