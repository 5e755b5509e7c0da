//! `RegExp.prototype.source`, corrected.
//!
//! The engine escapes every `/` of a pattern, even one the pattern already escapes, so
//! `/a\/b/.source` is `a\\/b` (a different pattern: an escaped backslash, then the end of
//! the literal). Node gives `a\/b`: a `/` gets a backslash only where it has none and is
//! not inside a character class. The engine's getter is kept for what it does right (the
//! type checks, `(?:)`, line terminators); its slashes are undone and escaped again.

use boa_engine::object::builtins::JsFunction;
use boa_engine::property::PropertyDescriptor;
use boa_engine::{Context, JsNativeError, JsResult, JsString, JsValue, NativeFunction, js_string};

use super::builtin;

const SLASH: u16 = b'/' as u16;
const BACKSLASH: u16 = b'\\' as u16;
const CLASS_OPEN: u16 = b'[' as u16;
const CLASS_CLOSE: u16 = b']' as u16;

/// Replaces the `source` getter of `RegExp.prototype`.
pub(super) fn install(context: &mut Context) -> JsResult<()> {
    let prototype = context.intrinsics().constructors().regexp().prototype();
    let get_descriptor = context
        .intrinsics()
        .constructors()
        .object()
        .constructor()
        .get(js_string!("getOwnPropertyDescriptor"), context)?;
    let descriptor = get_descriptor
        .as_callable()
        .ok_or_else(|| {
            JsNativeError::typ().with_message("Object.getOwnPropertyDescriptor is missing")
        })?
        .call(
            &JsValue::undefined(),
            &[prototype.clone().into(), js_string!("source").into()],
            context,
        )?;
    let original = descriptor
        .as_object()
        .map(|d| d.get(js_string!("get"), context))
        .transpose()?
        .and_then(|get| get.as_function())
        .ok_or_else(|| {
            JsNativeError::typ().with_message("RegExp.prototype.source has no getter")
        })?;
    let getter = builtin::function(
        context,
        "get source",
        0,
        NativeFunction::from_copy_closure_with_captures(source, original),
    );
    prototype.define_property_or_throw(
        js_string!("source"),
        PropertyDescriptor::builder()
            .get(getter)
            .enumerable(false)
            .configurable(true),
        context,
    )?;
    Ok(())
}

fn source(
    this: &JsValue,
    _: &[JsValue],
    original: &JsFunction,
    context: &mut Context,
) -> JsResult<JsValue> {
    let escaped = original.call(this, &[], context)?;
    match escaped.as_string() {
        Some(text) => Ok(JsString::from(escape_slashes(&text.to_vec()).as_slice()).into()),
        None => Ok(escaped),
    }
}

/// Takes the engine's output, in which every `/` follows a backslash it added, and gives
/// the pattern with a backslash before each `/` that is neither escaped nor in a class.
fn escape_slashes(engine_output: &[u16]) -> Vec<u16> {
    // The pattern as written: the engine's added backslashes removed.
    let mut pattern: Vec<u16> = Vec::with_capacity(engine_output.len());
    for (index, &unit) in engine_output.iter().enumerate() {
        let added = unit == BACKSLASH && engine_output.get(index + 1) == Some(&SLASH);
        if !added {
            pattern.push(unit);
        }
    }
    let mut out = Vec::with_capacity(pattern.len() + 4);
    let (mut escaped, mut in_class) = (false, false);
    for unit in pattern {
        if escaped {
            escaped = false;
        } else if unit == BACKSLASH {
            escaped = true;
        } else if unit == CLASS_OPEN {
            in_class = true;
        } else if unit == CLASS_CLOSE {
            in_class = false;
        } else if unit == SLASH && !in_class {
            out.push(BACKSLASH);
        }
        out.push(unit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_slashes;

    fn fixed(engine_output: &str) -> String {
        let units: Vec<u16> = engine_output.encode_utf16().collect();
        String::from_utf16_lossy(&escape_slashes(&units))
    }

    #[test]
    fn slashes_are_escaped_once_and_not_in_classes() {
        // Engine output → node's `source` (written with node for the same patterns).
        assert_eq!(fixed(r"a\\/b"), r"a\/b"); // /a\/b/
        assert_eq!(fixed(r"a\/b"), r"a\/b"); // new RegExp("a/b")
        assert_eq!(fixed(r"[\/]\\/"), r"[/]\/"); // /[/]\//
        assert_eq!(fixed(r"\\\/"), r"\\\/"); // new RegExp("\\\\/")
        assert_eq!(fixed(r"a\nb"), r"a\nb");
        assert_eq!(fixed("(?:)"), "(?:)");
    }
}
