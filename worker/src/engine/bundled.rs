//! Runs a JavaScript file compiled into the worker that defines globals: the file
//! evaluates to a function, which is called with the native helpers it needs, so those
//! helpers never get a global name a script could reach.

use boa_engine::{Context, JsNativeError, JsResult, JsValue, Source};

/// Evaluates `source` (a function expression) and calls the function with `helpers`.
pub(crate) fn install(
    name: &str,
    source: &str,
    helpers: &[JsValue],
    context: &mut Context,
) -> JsResult<()> {
    let install = context.eval(Source::from_bytes(source))?;
    let install = install.as_function().ok_or_else(|| {
        JsNativeError::typ().with_message(format!("the bundled `{name}` script is not a function"))
    })?;
    install.call(&JsValue::undefined(), helpers, context)?;
    Ok(())
}

/// For the tests of the bundled globals: the result of `code`, as a string, in a context
/// with the engine runtime's globals and those `register` adds.
#[cfg(test)]
pub(crate) fn eval_with(register: fn(&mut Context) -> JsResult<()>, code: &str) -> String {
    let mut context = Context::default();
    let console = boa_runtime::extensions::ConsoleExtension(boa_runtime::NullLogger);
    boa_runtime::register(console, None, &mut context).expect("the runtime registers");
    register(&mut context).expect("the bundled globals register");
    let value = context
        .eval(Source::from_bytes(code))
        .expect("the test code runs");
    value
        .to_string(&mut context)
        .expect("the result converts to a string")
        .to_std_string_escaped()
}
