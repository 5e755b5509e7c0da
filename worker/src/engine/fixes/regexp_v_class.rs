//! Character classes of `v`-flag patterns with two different punctuators side by side.
//!
//! The engine's regular-expression parser rejects `[!#]`, `[.*]`, `[+?]` under the `v`
//! flag ("Invalid class set character"): it forbids any two of the punctuators that may
//! not be doubled (`&&`, `!!`, `##`, …) next to each other, where ECMAScript forbids only
//! the same one twice. The pattern means the same with the second punctuator escaped
//! (`[!\#]`), which the parser takes, so that is what the engine is given: by the
//! `RegExp` constructor for a string pattern, and in a module's source for a literal
//! (the parse is retried at the literal the parser reported). `source` then shows the
//! added backslash.

use boa_engine::object::builtins::JsRegExp;
use boa_engine::property::PropertyDescriptor;
use boa_engine::{
    Context, JsError, JsObject, JsResult, JsString, JsSymbol, JsValue, NativeFunction, js_string,
};

use super::builtin;

const BACKSLASH: u16 = b'\\' as u16;
const CLASS_OPEN: u16 = b'[' as u16;
const CLASS_CLOSE: u16 = b']' as u16;
const NEGATION: u16 = b'^' as u16;

/// The parser's message for the rejected classes.
const REJECTED: &str = "Invalid class set character";
/// Literals corrected in one module at most (each costs a parse).
const MAX_CORRECTED_LITERALS: usize = 64;

/// Replaces the global `RegExp` with a constructor that corrects the pattern and hands
/// everything else to the engine's. Instances, `RegExp.prototype` and subclassing are
/// unchanged: the engine's constructor still builds every object.
pub(super) fn install(context: &mut Context) -> JsResult<()> {
    let original = context.intrinsics().constructors().regexp().constructor();
    let wrapper = builtin::replace_constructor(
        "RegExp",
        2,
        NativeFunction::from_copy_closure_with_captures(construct, original.clone()),
        context,
    )?;
    // `get [Symbol.species]() { return this }`, as the engine's.
    let species = builtin::function(
        context,
        "get [Symbol.species]",
        0,
        NativeFunction::from_fn_ptr(|this, _, _| Ok(this.clone())),
    );
    wrapper.define_property_or_throw(
        JsSymbol::species(),
        PropertyDescriptor::builder()
            .get(species)
            .enumerable(false)
            .configurable(true),
        context,
    )?;
    if let Some(escape) = original.get(js_string!("escape"), context)?.as_function() {
        builtin::define_method(&wrapper, "escape", escape, context)?;
    }
    Ok(())
}

/// `new RegExp(pattern, flags)` (`this` is `new.target`) and `RegExp(pattern, flags)`.
fn construct(
    this: &JsValue,
    args: &[JsValue],
    original: &JsObject,
    context: &mut Context,
) -> JsResult<JsValue> {
    let args = corrected_arguments(args);
    if let Some(new_target) = this.as_object().filter(JsObject::is_constructor) {
        return original
            .construct(&args, Some(&new_target), context)
            .map(Into::into);
    }
    // `RegExp(re)` is `re` itself when `re`'s constructor is `RegExp` (now this function,
    // which the engine's would not recognise).
    if let Some(pattern) = args.first().and_then(JsValue::as_object)
        && args.get(1).is_none_or(JsValue::is_undefined)
        && JsRegExp::from_object(pattern.clone()).is_ok()
        && is_regexp_constructor(&pattern.get(js_string!("constructor"), context)?, context)?
    {
        return Ok(pattern.into());
    }
    original.call(&JsValue::undefined(), &args, context)
}

/// Whether `value` is a constructor of `RegExp.prototype` (the engine's or this one).
fn is_regexp_constructor(value: &JsValue, context: &mut Context) -> JsResult<bool> {
    let Some(function) = value.as_object().filter(JsObject::is_constructor) else {
        return Ok(false);
    };
    let prototype = context.intrinsics().constructors().regexp().prototype();
    Ok(function
        .get(js_string!("prototype"), context)?
        .as_object()
        .is_some_and(|p| JsObject::equals(&p, &prototype)))
}

/// The arguments with a string pattern corrected when the flags are a string with `v`.
fn corrected_arguments(args: &[JsValue]) -> Vec<JsValue> {
    let mut args = args.to_vec();
    let v_flag = args
        .get(1)
        .and_then(JsValue::as_string)
        .is_some_and(|flags| flags.to_vec().contains(&u16::from(b'v')));
    if v_flag
        && let Some(pattern) = args.first().and_then(JsValue::as_string)
        && let Some(corrected) = escape_adjacent_punctuators(&pattern.to_vec())
    {
        args[0] = JsString::from(corrected.as_slice()).into();
    }
    args
}

/// The punctuators ECMAScript forbids doubled in a `v`-flag class
/// (ClassSetReservedDoublePunctuator); each may be escaped with a backslash there.
fn is_double_punctuator(unit: u16) -> bool {
    u8::try_from(unit).is_ok_and(|byte| b"&!#$%*+,.:;<=>?@^`~".contains(&byte))
}

/// `pattern` (a `v`-flag pattern) with a backslash before each class punctuator that
/// follows a different one, or `None` when there is none.
pub(super) fn escape_adjacent_punctuators(pattern: &[u16]) -> Option<Vec<u16>> {
    let mut out = Vec::with_capacity(pattern.len() + 2);
    let mut depth = 0_usize;
    // The punctuator just written unescaped inside a class, if the last unit was one.
    let mut previous: Option<u16> = None;
    let mut changed = false;
    let mut units = pattern.iter().copied().peekable();
    while let Some(unit) = units.next() {
        out.push(unit);
        if unit == BACKSLASH {
            out.extend(units.next());
            previous = None;
        } else if unit == CLASS_OPEN {
            depth += 1;
            // A `^` right after `[` negates the class; it is no character.
            out.extend(units.next_if_eq(&NEGATION));
            previous = None;
        } else if depth > 0 && unit == CLASS_CLOSE {
            depth -= 1;
            previous = None;
        } else if depth > 0 && is_double_punctuator(unit) {
            match previous {
                Some(before) if before != unit => {
                    out.pop();
                    out.extend([BACKSLASH, unit]);
                    changed = true;
                    previous = None;
                }
                _ => previous = Some(unit),
            }
        } else {
            previous = None;
        }
    }
    changed.then_some(out)
}

/// Parses a module's `source` with `parse`; when the parser rejects a `v`-flag literal
/// this corrects, corrects it and parses again. Returns the parse and the corrected text,
/// if any (the text the module was compiled from).
pub(in crate::engine) fn parse_correcting_literals<M>(
    source: &str,
    mut parse: impl FnMut(&str) -> Result<M, JsError>,
) -> (Result<M, JsError>, Option<String>) {
    let mut corrected: Option<String> = None;
    for _ in 0..MAX_CORRECTED_LITERALS {
        let text = corrected.as_deref().unwrap_or(source);
        let err = match parse(text) {
            Ok(module) => return (Ok(module), corrected),
            Err(err) => err,
        };
        match corrected_literal(text, &err.to_string()) {
            Some(next) => corrected = Some(next),
            None => return (Err(err), corrected),
        }
    }
    let text = corrected.as_deref().unwrap_or(source);
    (parse(text), corrected)
}

/// `text` with the literal the parser's `message` points at corrected, when the message
/// is the rejection this corrects and the literal has the `v` flag.
fn corrected_literal(text: &str, message: &str) -> Option<String> {
    if !message.contains(REJECTED) {
        return None;
    }
    let (_, position) = message.rsplit_once(" at line ")?;
    let (line, column) = position.split_once(", col ")?;
    // The column may be followed by more text (` (native)`).
    let column = column.split(|c: char| !c.is_ascii_digit()).next()?;
    let (line, column): (usize, usize) = (line.trim().parse().ok()?, column.parse().ok()?);
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let start = line_start
        + text[line_start..]
            .char_indices()
            .nth(column.checked_sub(1)?)?
            .0;
    let literal = &text[start..];
    if !literal.starts_with('/') {
        return None;
    }
    let body_len = literal_body_len(&literal[1..])?;
    let body = &literal[1..=body_len];
    let flags = literal[body_len + 2..]
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>();
    if !flags.contains('v') {
        return None;
    }
    let units: Vec<u16> = body.encode_utf16().collect();
    let fixed = String::from_utf16(&escape_adjacent_punctuators(&units)?).ok()?;
    Some(format!(
        "{}/{fixed}{}",
        &text[..start],
        &text[start + 1 + body_len..]
    ))
}

/// The length in bytes of a regular-expression literal's body (`rest` starts after the
/// opening `/`): up to the first `/` that is neither escaped nor in a class, as the
/// lexer reads it (classes do not nest there).
fn literal_body_len(rest: &str) -> Option<usize> {
    let (mut escaped, mut in_class) = (false, false);
    for (index, c) in rest.char_indices() {
        match c {
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => return None,
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '[' => in_class = true,
            ']' => in_class = false,
            '/' if !in_class => return Some(index),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{corrected_literal, escape_adjacent_punctuators};

    fn fixed(pattern: &str) -> Option<String> {
        let units: Vec<u16> = pattern.encode_utf16().collect();
        escape_adjacent_punctuators(&units).map(|u| String::from_utf16(&u).unwrap())
    }

    #[test]
    fn a_punctuator_after_a_different_one_is_escaped_in_classes_only() {
        assert_eq!(fixed("[!#]").as_deref(), Some(r"[!\#]"));
        assert_eq!(fixed("[.*+?]").as_deref(), Some(r"[.\*+\?]"));
        assert_eq!(fixed("[^!#]").as_deref(), Some(r"[^!\#]"));
        assert_eq!(fixed(r"[[a-z]--[!#]]").as_deref(), Some(r"[[a-z]--[!\#]]"));
        assert_eq!(fixed(r"[\q{!#}]").as_deref(), Some(r"[\q{!\#}]"));
        // Nothing to do: outside classes, escaped, doubled (an error node reports too),
        // the intersection operator, separated.
        assert_eq!(fixed("!#.*"), None);
        assert_eq!(fixed(r"[\!#]"), None);
        assert_eq!(fixed("[!!]"), None);
        assert_eq!(fixed("[a&&b]"), None);
        assert_eq!(fixed("[!a#]"), None);
        assert_eq!(fixed(r"[\-\/]"), None);
    }

    #[test]
    fn the_reported_literal_is_corrected_in_the_source() {
        let source =
            "const a = 1;\nexport default () => [/[!#]/v.test(\"#\"), /[!#]/.test(\"#\")];\n";
        let message = "SyntaxError: Invalid regular expression literal: Invalid class set character at line 2, col 23 (native)";
        assert_eq!(
            corrected_literal(source, message).as_deref(),
            Some(
                "const a = 1;\nexport default () => [/[!\\#]/v.test(\"#\"), /[!#]/.test(\"#\")];\n"
            )
        );
        assert_eq!(
            corrected_literal(source, "SyntaxError: unexpected token at line 2, col 23"),
            None
        );
        // Not a `v` literal there: nothing to correct.
        assert_eq!(
            corrected_literal(source, "Invalid class set character at line 2, col 42"),
            None
        );
    }
}
