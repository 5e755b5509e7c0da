//! `Intl`: the engine's ECMA-402 built-ins, with their locale data compiled into the
//! worker, the locale and time zone a job gets when it names none, and jobvisor's
//! `Intl.DateTimeFormat`, percent and currency formatting, `Intl.RelativeTimeFormat` and
//! `Intl.supportedValuesOf` in front of the engine's (`intl.js`).
//!
//! The engine's date formatter ignores `hour12`, `hourCycle` and `2-digit`, prints
//! two-digit years by default, names zones by their BCP 47 ids and has no
//! `formatToParts`; its percent style prints the unscaled fraction, its currency style
//! throws "unimplemented"; it has no `Intl.RelativeTimeFormat` and no
//! `Intl.supportedValuesOf`. Date libraries (luxon, date-fns-tz, dayjs's timezone
//! plugin) read zone offsets through exactly those, so they are replaced. Time zones
//! come from the IANA database compiled into the worker ([`zones`]); nothing here reads a
//! file, so all of it works inside the sandbox.
//!
//! The replacements are compiled on a job's first use. As with `crypto`, installing them
//! must not change the layout of an object the script already reads: `Intl`'s properties
//! stay accessors that answer from a holder object, and the `toLocale*String` methods are
//! native functions that forward to it.

mod zones;

#[cfg(test)]
mod tests;

use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::JsFunction;
use boa_engine::property::PropertyDescriptor;
use boa_engine::{Context, JsNativeError, JsObject, JsResult, JsString, NativeFunction, js_string};

use super::bundled;
use super::fixes::builtin::engine_function;

/// The locale of `Intl` services, `toLocaleString` and `localeCompare` when a script names
/// none: node's with no locale configured, so results do not depend on the host.
pub(crate) const DEFAULT_LOCALE: &str = "en-US";

/// `Intl`'s properties that `intl.js` replaces.
const INTL_PROPERTIES: [&str; 4] = [
    "DateTimeFormat",
    "NumberFormat",
    "RelativeTimeFormat",
    "supportedValuesOf",
];

/// The methods `intl.js` replaces: (constructor, method, the holder's key).
const METHODS: [(&str, &str, &str); 4] = [
    ("Date", "toLocaleString", "Date.toLocaleString"),
    ("Date", "toLocaleDateString", "Date.toLocaleDateString"),
    ("Date", "toLocaleTimeString", "Date.toLocaleTimeString"),
    ("Number", "toLocaleString", "Number.toLocaleString"),
];

/// Makes [`DEFAULT_LOCALE`] the engine's default locale.
///
/// The engine takes its default locale from the environment (`LANGUAGE` first, then
/// `LC_ALL`, `LC_MESSAGES`, `LANG`) each time it needs one; the supervisor starts workers
/// with an empty environment, which would give the undetermined locale `und`. Setting
/// `LANGUAGE` decides it and changes nothing else: the worker never calls `setlocale`,
/// so libc does not read it.
///
/// # Safety
///
/// No other thread may read or write the environment while this runs.
pub(crate) unsafe fn set_default_locale() {
    // SAFETY: the caller guarantees no concurrent access to the environment.
    unsafe {
        std::env::set_var("LANGUAGE", DEFAULT_LOCALE);
    }
}

/// Defines jobvisor's `Intl` replacements on `context`, compiled on first use.
pub(crate) fn register(context: &mut Context) -> JsResult<()> {
    let global = context.global_object();
    let intl = object_at(&global, "Intl", context)?;
    let holder = JsObject::with_null_proto();
    let engine = Engine {
        date_time_format: engine_function(&intl, "DateTimeFormat", context)?,
        number_format: engine_function(&intl, "NumberFormat", context)?,
        number_to_locale_string: {
            let number = object_at(&global, "Number", context)?;
            let prototype = object_at(&number, "prototype", context)?;
            engine_function(&prototype, "toLocaleString", context)?
        },
    };
    bundled::define_held(
        &intl,
        &INTL_PROPERTIES,
        &holder,
        engine.clone(),
        install,
        context,
    )?;
    let realm = context.realm().clone();
    for (constructor, method, key) in METHODS {
        let constructor = object_at(&global, constructor, context)?;
        let prototype = object_at(&constructor, "prototype", context)?;
        let forward = NativeFunction::from_copy_closure_with_captures(
            move |this, args, (holder, engine), context| {
                let key = JsString::from(key);
                if !holder.has_own_property(key.clone(), context)? {
                    install(holder, engine, context)?;
                }
                let target = holder.get(key, context)?;
                let target = target.as_callable().ok_or_else(|| {
                    JsNativeError::typ().with_message(format!("`{method}` is not installed"))
                })?;
                target.call(this, args, context)
            },
            (holder.clone(), engine.clone()),
        );
        let function = boa_engine::object::FunctionObjectBuilder::new(&realm, forward)
            .name(JsString::from(method))
            .length(0)
            .build();
        prototype.define_property_or_throw(
            JsString::from(method),
            PropertyDescriptor::builder()
                .value(function)
                .writable(true)
                .enumerable(false)
                .configurable(true),
            context,
        )?;
    }
    Ok(())
}

/// The engine's built-ins `intl.js` builds on, kept before they are replaced.
#[derive(Clone, boa_gc::Trace, boa_gc::Finalize)]
struct Engine {
    date_time_format: JsFunction,
    number_format: JsFunction,
    number_to_locale_string: JsFunction,
}

/// Compiles `intl.js`, which puts the replacements on `holder`.
fn install(holder: &JsObject, engine: &Engine, context: &mut Context) -> JsResult<()> {
    let native = ObjectInitializer::new(context)
        .property(
            js_string!("DateTimeFormat"),
            engine.date_time_format.clone(),
            boa_engine::property::Attribute::all(),
        )
        .property(
            js_string!("NumberFormat"),
            engine.number_format.clone(),
            boa_engine::property::Attribute::all(),
        )
        .property(
            js_string!("numberToLocaleString"),
            engine.number_to_locale_string.clone(),
            boa_engine::property::Attribute::all(),
        )
        .function(
            NativeFunction::from_fn_ptr(zones::zone),
            js_string!("zone"),
            1,
        )
        .function(
            NativeFunction::from_fn_ptr(zones::offset),
            js_string!("offset"),
            2,
        )
        .function(
            NativeFunction::from_fn_ptr(zones::zones),
            js_string!("zones"),
            0,
        )
        .build();
    bundled::install(
        "intl.js",
        include_str!("intl.js"),
        &[native.into(), holder.clone().into()],
        context,
    )
}

/// `holder[name]`, which must be an object.
fn object_at(holder: &JsObject, name: &str, context: &mut Context) -> JsResult<JsObject> {
    holder
        .get(JsString::from(name), context)?
        .as_object()
        .ok_or_else(|| {
            JsNativeError::typ()
                .with_message(format!("the engine's `{name}` is missing"))
                .into()
        })
}
