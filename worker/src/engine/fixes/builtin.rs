//! Defining jobvisor's replacements of engine built-ins, with the attributes the engine's
//! own built-ins have (writable, configurable, not enumerable).

use boa_engine::object::FunctionObjectBuilder;
use boa_engine::object::builtins::JsFunction;
use boa_engine::property::PropertyDescriptor;
use boa_engine::property::PropertyKey;
use boa_engine::{
    Context, JsNativeError, JsObject, JsResult, JsString, JsValue, NativeFunction, js_string,
};

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

/// The getter of the accessor property `holder[key]` (the engine's own, before it is
/// replaced or shared).
pub(super) fn getter(
    holder: &JsObject,
    key: PropertyKey,
    context: &mut Context,
) -> JsResult<JsFunction> {
    let missing = || JsNativeError::typ().with_message(format!("{key} has no getter"));
    let get_descriptor = context
        .intrinsics()
        .constructors()
        .object()
        .constructor()
        .get(js_string!("getOwnPropertyDescriptor"), context)?;
    let key_value: JsValue = match &key {
        PropertyKey::Symbol(symbol) => symbol.clone().into(),
        PropertyKey::String(name) => name.clone().into(),
        PropertyKey::Index(index) => index.get().into(),
    };
    let descriptor = get_descriptor.as_callable().ok_or_else(missing)?.call(
        &JsValue::undefined(),
        &[holder.clone().into(), key_value],
        context,
    )?;
    descriptor
        .as_object()
        .map(|d| d.get(js_string!("get"), context))
        .transpose()?
        .and_then(|get| get.as_function())
        .ok_or_else(|| missing().into())
}
