//! Defining jobvisor's replacements of engine built-ins, with the attributes the engine's
//! own built-ins have (writable, configurable, not enumerable).

use boa_engine::object::FunctionObjectBuilder;
use boa_engine::object::builtins::JsFunction;
use boa_engine::property::PropertyDescriptor;
use boa_engine::{Context, JsObject, JsResult, JsString, NativeFunction};

/// A native function named `name` with `length` declared parameters.
pub(super) fn function(
    context: &Context,
    name: &str,
    length: usize,
    body: NativeFunction,
) -> JsFunction {
    FunctionObjectBuilder::new(context.realm(), body)
        .name(JsString::from(name))
        .length(length)
        .build()
}

/// Sets `holder[name]` to `function` as a built-in method.
pub(super) fn define_method(
    holder: &JsObject,
    name: &str,
    function: JsFunction,
    context: &mut Context,
) -> JsResult<()> {
    holder.define_property_or_throw(
        JsString::from(name),
        PropertyDescriptor::builder()
            .value(function)
            .writable(true)
            .enumerable(false)
            .configurable(true),
        context,
    )?;
    Ok(())
}
