//! Turns whatever a handler threw into a bounded [`JobError`] with name, message and
//! stack — without trusting the thrown value: its `toString` may throw, it may be cyclic,
//! it may not be an object at all.

use boa_engine::error::{EngineError, JsNativeErrorKind};
use boa_engine::{Context, JsError, JsValue, js_string};
use jobvisor_protocol::worker::{ErrorKind, JobError};

use super::position::ScriptText;
use crate::outbox::floor_char_boundary;

const MAX_NAME: usize = 200;
const MAX_MESSAGE: usize = 8 * 1024;
const MAX_STACK: usize = 16 * 1024;

/// Builds a bounded error record.
pub(crate) fn job_error(
    kind: ErrorKind,
    name: impl Into<String>,
    message: impl Into<String>,
    stack: Option<String>,
) -> JobError {
    JobError {
        kind,
        name: bounded(name.into(), MAX_NAME),
        message: bounded(message.into(), MAX_MESSAGE),
        stack: stack
            .map(|s| bounded(s, MAX_STACK))
            .filter(|s| !s.is_empty()),
    }
}

fn bounded(mut s: String, max: usize) -> String {
    if s.len() > max {
        let lost = s.len() - max;
        let cut = floor_char_boundary(&s, max);
        s.truncate(cut);
        s.push_str(&format!("… [{lost} more bytes]"));
    }
    s
}

/// Describes an error raised while running the handler or its promise jobs; `script` is
/// the text it ran from, to place the innermost frame in.
pub(crate) fn describe_js_error(
    err: &JsError,
    kind: ErrorKind,
    script: Option<&ScriptText>,
    context: &mut Context,
) -> JobError {
    if let Some(engine) = err.as_engine() {
        return match engine {
            EngineError::RuntimeLimit(limit) => job_error(
                ErrorKind::RuntimeLimit,
                "RuntimeLimitError",
                limit.to_string(),
                None,
            ),
            EngineError::Panic(panic) => {
                job_error(ErrorKind::Panic, "EnginePanic", panic.message(), None)
            }
            #[expect(unreachable_patterns, reason = "EngineError is non_exhaustive")]
            other => job_error(ErrorKind::Panic, "EngineError", other.to_string(), None),
        };
    }
    if let Some(native) = err.as_native() {
        let name = native_name(native.kind());
        let message = native.message().to_owned();
        // An Error object of the right kind gives us the engine's backtrace.
        let stack = err.clone().into_opaque(context).ok().and_then(|value| {
            let stack = string_property(&value, "stack", context)?;
            Some(placed(stack, &value, &name, &message, script))
        });
        return job_error(kind, name, message, stack);
    }
    match err.as_opaque() {
        Some(value) => describe_thrown_value(&value.clone(), kind, script, context),
        None => job_error(kind, "Error", err.to_string(), None),
    }
}

/// Describes a value thrown with `throw` or passed to `reject`.
pub(crate) fn describe_thrown_value(
    value: &JsValue,
    kind: ErrorKind,
    script: Option<&ScriptText>,
    context: &mut Context,
) -> JobError {
    let Some(object) = value.as_object() else {
        // A primitive: `throw 42`, `throw "boom"`, `throw undefined`.
        let message = match value.as_string() {
            Some(s) => s.to_std_string_escaped(),
            None => value.display().to_string(),
        };
        return job_error(kind, format!("Uncaught {}", value.type_of()), message, None);
    };
    let is_error = object.is::<boa_engine::builtins::error::Error>();
    let name = string_property(value, "name", context);
    let message = string_property(value, "message", context);
    let stack = string_property(value, "stack", context);
    if is_error || message.is_some() {
        let name = name.unwrap_or_else(|| "Error".to_owned());
        let message = message.unwrap_or_default();
        let stack = stack.map(|stack| placed(stack, value, &name, &message, script));
        return job_error(kind, name, message, stack);
    }
    // A plain object: show its JSON if it has one, else its class.
    let message = safe_json(value, context).unwrap_or_else(|| "[object Object]".to_owned());
    job_error(kind, "Uncaught object", message, stack)
}

/// The stack with its innermost frame at the failing line and column.
fn placed(
    stack: String,
    error: &JsValue,
    name: &str,
    message: &str,
    script: Option<&ScriptText>,
) -> String {
    match script {
        // Opaque, so that only the backtrace is in its `Debug` text.
        Some(script) => script.place(&JsError::from_opaque(error.clone()), name, message, stack),
        None => stack,
    }
}

/// Reads a property as a string if it already is one. Never calls `toString`; a getter
/// that throws gives `None`.
fn string_property(value: &JsValue, key: &'static str, context: &mut Context) -> Option<String> {
    let object = value.as_object()?;
    let property = object.get(js_string!(key), context).ok()?;
    property.as_string().map(|s| s.to_std_string_escaped())
}

/// `JSON.stringify(value)` through the intrinsic (not whatever the handler put on the
/// global `JSON`), swallowing any error (cyclic, throwing `toJSON`).
fn safe_json(value: &JsValue, context: &mut Context) -> Option<String> {
    let json = context.intrinsics().objects().json();
    let stringify = json.get(js_string!("stringify"), context).ok()?;
    let stringify = stringify.as_function()?;
    let out = stringify
        .call(&JsValue::undefined(), std::slice::from_ref(value), context)
        .ok()?;
    out.as_string().map(|s| s.to_std_string_escaped())
}

fn native_name(kind: &JsNativeErrorKind) -> String {
    match kind {
        JsNativeErrorKind::Aggregate(_) => "AggregateError",
        JsNativeErrorKind::Error => "Error",
        JsNativeErrorKind::Eval => "EvalError",
        JsNativeErrorKind::Range => "RangeError",
        JsNativeErrorKind::Reference => "ReferenceError",
        JsNativeErrorKind::Syntax => "SyntaxError",
        JsNativeErrorKind::Type => "TypeError",
        JsNativeErrorKind::Uri => "URIError",
        _ => "Error",
    }
    .to_owned()
}
