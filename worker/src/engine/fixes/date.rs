//! `Date.parse`, `new Date(string)` and `Date.prototype.toString`, as V8 gives them.
//!
//! The engine reads only ECMAScript's own date format and what it prints itself, so
//! `Date.parse("Tue, 15 Nov 1994 08:12:31 +0200")` and `new Date("11/15/1994")` were
//! NaN; a string the engine cannot read is now read as V8 reads it ([`date_parse`]).
//! The engine's `toString` and `toTimeString` end at the offset (`GMT+0000`), where V8
//! adds the zone's name. A worker's local time zone is always UTC (the engine finds no
//! other in a process with several threads), so the name is `Coordinated Universal
//! Time`; for another offset no name is added.
//!
//! The global `Date` is replaced by a constructor that converts a single string argument
//! this way and hands everything to the engine's; instances and `Date.prototype` are the
//! engine's.

use boa_engine::object::builtins::JsFunction;
use boa_engine::{Context, JsObject, JsResult, JsString, JsValue, NativeFunction};
use boa_gc::{Finalize, Trace};

use super::builtin;
use super::date_parse::{self, Fields};

/// What V8 appends to a date printed in UTC.
const UTC_SUFFIX: &str = " (Coordinated Universal Time)";
/// How the engine's `toString` ends for a date in UTC.
const UTC_OFFSET: &str = "GMT+0000";
/// ECMAScript's limit of a time value: 10^8 days either side of 1970.
const MAX_TIME: f64 = 8.64e15;

/// The engine's constructor and `Date.parse`, which the replacements call.
#[derive(Clone, Trace, Finalize)]
struct Engine {
    constructor: JsObject,
    parse: JsFunction,
}

/// Replaces the global `Date`, `Date.parse` and the two methods that print a zone.
pub(super) fn install(context: &mut Context) -> JsResult<()> {
    let constructors = context.intrinsics().constructors();
    let original = constructors.date().constructor();
    let prototype = constructors.date().prototype();
    let engine = Engine {
        constructor: original.clone(),
        parse: builtin::engine_function(&original, "parse", context)?,
    };
    for name in ["toString", "toTimeString"] {
        let engine_method = builtin::engine_function(&prototype, name, context)?;
        let function = builtin::function(
            context,
            name,
            0,
            NativeFunction::from_copy_closure_with_captures(
                |this, args, engine_method: &JsFunction, context| {
                    let printed = engine_method.call(this, args, context)?;
                    Ok(with_zone_name(printed))
                },
                engine_method,
            ),
        );
        builtin::define_method(&prototype, name, function, context)?;
    }
    let wrapper = builtin::replace_constructor(
        "Date",
        7,
        NativeFunction::from_copy_closure_with_captures(construct, engine.clone()),
        context,
    )?;
    for name in ["now", "UTC"] {
        let function = builtin::engine_function(&original, name, context)?;
        builtin::define_method(&wrapper, name, function, context)?;
    }
    let parse_function = builtin::function(
        context,
        "parse",
        1,
        NativeFunction::from_copy_closure_with_captures(parse, engine),
    );
    builtin::define_method(&wrapper, "parse", parse_function, context)?;
    Ok(())
}

/// `new Date(…)` (`this` is `new.target`) and `Date()`.
fn construct(
    this: &JsValue,
    args: &[JsValue],
    engine: &Engine,
    context: &mut Context,
) -> JsResult<JsValue> {
    let Some(new_target) = this.as_object().filter(JsObject::is_constructor) else {
        // `Date()`: the current time as `toString` prints it.
        let printed = engine
            .constructor
            .call(&JsValue::undefined(), &[], context)?;
        return Ok(with_zone_name(printed));
    };
    let converted;
    let args = match args {
        [text] if text.is_string() => {
            converted = [JsValue::new(time_value(text, engine, context)?)];
            &converted[..]
        }
        _ => args,
    };
    engine
        .constructor
        .construct(args, Some(&new_target), context)
        .map(Into::into)
}

/// `Date.parse(string)`.
fn parse(
    _: &JsValue,
    args: &[JsValue],
    engine: &Engine,
    context: &mut Context,
) -> JsResult<JsValue> {
    let text: JsValue = args
        .first()
        .cloned()
        .unwrap_or_default()
        .to_string(context)?
        .into();
    Ok(JsValue::new(time_value(&text, engine, context)?))
}

/// The time value of the string `text`: the engine's reading, else V8's.
fn time_value(text: &JsValue, engine: &Engine, context: &mut Context) -> JsResult<f64> {
    let read = engine
        .parse
        .call(&JsValue::undefined(), std::slice::from_ref(text), context)?
        .to_number(context)?;
    if !read.is_nan() {
        return Ok(read);
    }
    let text = text.to_string(context)?.to_std_string_lossy();
    Ok(date_parse::parse(&text).map_or(f64::NAN, |fields| time_of(&fields, context)))
}

/// The time value of parsed fields (local time when they have no offset), or NaN when it
/// is out of range.
fn time_of(fields: &Fields, context: &Context) -> f64 {
    if fields.year.abs() > 400_000 {
        return f64::NAN;
    }
    let days = days_from_civil(fields.year, fields.month) + (fields.day - 1);
    let in_day =
        ((fields.hour * 60 + fields.minute) * 60 + fields.second) * 1000 + fields.millisecond;
    let local = days as f64 * 86_400_000.0 + in_day as f64;
    let offset_ms = match fields.offset_minutes {
        Some(minutes) => minutes as f64 * 60_000.0,
        None => {
            let seconds = (local / 1000.0) as i64;
            f64::from(context.host_hooks().local_timezone_offset_seconds(seconds)) * 1000.0
        }
    };
    let time = local - offset_ms;
    if time.abs() > MAX_TIME {
        f64::NAN
    } else {
        time
    }
}

/// Days from 1970-01-01 to the first of `month` (1 to 12) of `year`, proleptic Gregorian.
fn days_from_civil(year: i64, month: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The engine's printed date with V8's zone name after a UTC offset.
fn with_zone_name(printed: JsValue) -> JsValue {
    match printed.as_string() {
        Some(text) if text.to_std_string_lossy().ends_with(UTC_OFFSET) => {
            let mut units = text.to_vec();
            units.extend(UTC_SUFFIX.encode_utf16());
            JsString::from(units.as_slice()).into()
        }
        _ => printed,
    }
}

#[cfg(test)]
mod tests {
    use super::days_from_civil;

    #[test]
    fn days_from_civil_counts_from_the_epoch() {
        assert_eq!(days_from_civil(1970, 1), 0);
        assert_eq!(days_from_civil(2000, 3), 11_017);
        assert_eq!(days_from_civil(1969, 12), -31);
        assert_eq!(days_from_civil(2024, 2) + 29, days_from_civil(2024, 3));
    }
}
