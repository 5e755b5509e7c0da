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

/// The engine's function `holder[name]`, which a replacement keeps to call.
pub(crate) fn engine_function(
    holder: &JsObject,
    name: &str,
    context: &mut Context,
) -> JsResult<JsFunction> {
    holder
        .get(JsString::from(name), context)?
        .as_function()
        .ok_or_else(|| {
            JsNativeError::typ()
                .with_message(format!("the engine's `{name}` is missing"))
                .into()
        })
}

/// Sets `holder[name]` to `value` as a built-in method (or constructor) is set.
pub(super) fn define_method(
    holder: &JsObject,
    name: &str,
    value: impl Into<JsValue>,
    context: &mut Context,
) -> JsResult<()> {
    holder.define_property_or_throw(
        JsString::from(name),
        PropertyDescriptor::builder()
            .value(value)
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

/// Makes `body` the global constructor `name` in front of the engine's: it gets the
/// engine's `prototype` (whose `constructor` becomes it) and is returned for its statics.
pub(super) fn replace_constructor(
    name: &str,
    length: usize,
    body: NativeFunction,
    context: &mut Context,
) -> JsResult<JsObject> {
    let engine_constructor = context
        .global_object()
        .get(JsString::from(name), context)?
        .as_object()
        .ok_or_else(|| JsNativeError::typ().with_message(format!("{name} is missing")))?;
    let prototype = engine_constructor
        .get(js_string!("prototype"), context)?
        .as_object()
        .ok_or_else(|| JsNativeError::typ().with_message(format!("{name} has no prototype")))?;
    let constructor: JsObject = FunctionObjectBuilder::new(context.realm(), body)
        .name(JsString::from(name))
        .length(length)
        .constructor(true)
        .build()
        .into();
    constructor.define_property_or_throw(
        js_string!("prototype"),
        PropertyDescriptor::builder()
            .value(prototype.clone())
            .writable(false)
            .enumerable(false)
            .configurable(false),
        context,
    )?;
    define_method(&prototype, "constructor", constructor.clone(), context)?;
    define_method(&context.global_object(), name, constructor.clone(), context)?;
    Ok(constructor)
}
