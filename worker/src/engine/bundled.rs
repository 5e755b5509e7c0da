//! Runs a JavaScript file compiled into the worker that defines globals: the file
//! evaluates to a function, which is called with the native helpers it needs, so those
//! helpers never get a global name a script could reach.

use std::path::Path;

use boa_engine::property::PropertyDescriptor;
use boa_engine::{
    Context, JsNativeError, JsObject, JsResult, JsString, JsValue, NativeFunction, Source,
    js_string,
};
use boa_gc::Trace;

/// Evaluates `source` (a function expression) and calls the function with `helpers`.
pub(crate) fn install(
    name: &str,
    source: &str,
    helpers: &[JsValue],
    context: &mut Context,
) -> JsResult<()> {
    // Frames in these scripts name them as the worker's own, apart from the job's script.
    let path = format!("jobvisor:{name}");
    let install = context.eval(Source::from_bytes(source).with_path(Path::new(&path)))?;
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
        .unwrap_or_else(|err| panic!("the test code threw {err}"));
    value
        .to_string(&mut context)
        .expect("the result converts to a string")
        .to_std_string_escaped()
}

/// Installs a group of bundled globals.
pub(crate) type Install = fn(&mut Context) -> JsResult<()>;

/// Defines `target[name]` as a placeholder that runs `install` on its first read (or
/// write) and then answers as the real property. Compiling the bundled scripts costs
/// more than building the rest of a context, so a job pays for a group only if it uses it.
///
/// A value `install` defines as a data property is turned back into an accessor over
/// that value ([`keep_accessor`]): the place in the code whose read ran the placeholder
/// remembers an accessor, and must find one on its next turn.
pub(crate) fn define_lazily(
    target: &JsObject,
    name: &'static str,
    install: Install,
    context: &mut Context,
) -> JsResult<()> {
    let receiver_of = |this: &JsValue, context: &Context| {
        this.as_object().unwrap_or_else(|| context.global_object())
    };
    let getter = NativeFunction::from_copy_closure_with_captures(
        move |this, _, target, context| {
            install(context)?;
            keep_accessor(target, name, context)?;
            receiver_of(this, context).get(JsString::from(name), context)
        },
        target.clone(),
    );
    let setter = NativeFunction::from_copy_closure_with_captures(
        move |this, args, target, context| {
            install(context)?;
            keep_accessor(target, name, context)?;
            let value = args.first().cloned().unwrap_or_default();
            receiver_of(this, context).set(JsString::from(name), value, true, context)?;
            Ok(JsValue::undefined())
        },
        target.clone(),
    );
    define_accessor(target, name, getter, setter, context)
}

/// Defines `target[name]` as a configurable, non-enumerable accessor of `getter` and
/// `setter`.
fn define_accessor(
    target: &JsObject,
    name: &'static str,
    getter: NativeFunction,
    setter: NativeFunction,
    context: &mut Context,
) -> JsResult<()> {
    let realm = context.realm().clone();
    let accessor = PropertyDescriptor::builder()
        .get(getter.to_js_function(&realm))
        .set(setter.to_js_function(&realm))
        .enumerable(false)
        .configurable(true)
        .build();
    target.define_property_or_throw(JsString::from(name), accessor, context)?;
    Ok(())
}

/// If `target[name]` is now a data property, defines it as an accessor (not enumerable,
/// configurable) that reads and writes the same value, so the property keeps its kind.
fn keep_accessor(target: &JsObject, name: &'static str, context: &mut Context) -> JsResult<()> {
    let object = context.intrinsics().constructors().object().constructor();
    let describe = object
        .get(js_string!("getOwnPropertyDescriptor"), context)?
        .as_function()
        .ok_or_else(|| {
            JsNativeError::typ().with_message("Object.getOwnPropertyDescriptor is missing")
        })?;
    let descriptor = describe.call(
        &object.clone().into(),
        &[target.clone().into(), JsString::from(name).into()],
        context,
    )?;
    let Some(descriptor) = descriptor.as_object() else {
        return Ok(());
    };
    if !descriptor.has_own_property(js_string!("value"), context)? {
        return Ok(());
    }
    let cell = JsObject::with_null_proto();
    let value = descriptor.get(js_string!("value"), context)?;
    cell.set(js_string!("value"), value, true, context)?;
    let getter = NativeFunction::from_copy_closure_with_captures(
        |_, _, cell, context| cell.get(js_string!("value"), context),
        cell.clone(),
    );
    let setter = NativeFunction::from_copy_closure_with_captures(
        |_, args, cell, context| {
            let value = args.first().cloned().unwrap_or_default();
            cell.set(js_string!("value"), value, true, context)?;
            Ok(JsValue::undefined())
        },
        cell,
    );
    define_accessor(target, name, getter, setter, context)
}

/// Installs a group of bundled globals on `holder`, with what the group needs besides.
pub(crate) type InstallOn<T> = fn(&JsObject, &T, &mut Context) -> JsResult<()>;

/// Defines `target[name]`, for each of `names`, as an accessor that answers from `holder`
/// and fills it with `install(holder, with)` on the first read or write of any of them.
///
/// Unlike [`define_lazily`]'s placeholders, these stay accessors (a write replaces what
/// they answer): the engine caches where a property's value lives after the read that ran
/// the getter, so a getter that replaced its own accessor with a data property would leave
/// the next read from the same place in the code calling the value as the getter (or, on
/// the global object, reading another slot). Installing changes nothing in `target`.
pub(crate) fn define_held<T: Clone + Trace + 'static>(
    target: &JsObject,
    names: &[&'static str],
    holder: &JsObject,
    with: T,
    install: InstallOn<T>,
    context: &mut Context,
) -> JsResult<()> {
    for &name in names {
        let getter = NativeFunction::from_copy_closure_with_captures(
            move |_, _, (holder, with), context| {
                let key = JsString::from(name);
                if !holder.has_own_property(key.clone(), context)? {
                    install(holder, with, context)?;
                }
                holder.get(key, context)
            },
            (holder.clone(), with.clone()),
        );
        let setter = NativeFunction::from_copy_closure_with_captures(
            move |_, args, (holder, with), context| {
                let key = JsString::from(name);
                if !holder.has_own_property(key.clone(), context)? {
                    install(holder, with, context)?;
                }
                let value = args.first().cloned().unwrap_or_default();
                holder.set(key, value, true, context)?;
                Ok(JsValue::undefined())
            },
            (holder.clone(), with.clone()),
        );
        define_accessor(target, name, getter, setter, context)?;
    }
    Ok(())
}

/// `globalThis[constructor].prototype`, for placing a lazy method on a runtime class.
pub(crate) fn prototype_of(constructor: &str, context: &mut Context) -> JsResult<JsObject> {
    let global = context.global_object();
    global
        .get(JsString::from(constructor), context)?
        .as_object()
        .map(|class| class.get(js_string!("prototype"), context))
        .transpose()?
        .and_then(|prototype| prototype.as_object())
        .ok_or_else(|| {
            JsNativeError::typ()
                .with_message(format!("the runtime has no `{constructor}` class"))
                .into()
        })
}
