//! Time zones for `intl.js`, from the IANA database compiled into the worker (jiff's
//! bundled copy, the one cron schedules use): a name's canonical spelling, a zone's
//! offset and abbreviation at an instant, and the list of names. Nothing here reads
//! `/usr/share/zoneinfo` or `/etc/localtime`, so it works the same inside the sandbox and
//! on every host.

use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, JsNativeError, JsResult, JsString, JsValue, js_string};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// `zone(name)`: the zone's name as the database spells it (`america/new_york` is
/// `America/New_York`), or `undefined` when the database has no such zone.
pub(super) fn zone(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let name = text_arg(args, 0, context)?;
    Ok(TimeZone::get(&name)
        .ok()
        .and_then(|tz| tz.iana_name().map(|n| JsString::from(n).into()))
        .unwrap_or_default())
}

/// `offset(name, epochMilliseconds)`: `[offset in seconds east of UTC, abbreviation]` of
/// the zone at that instant.
pub(super) fn offset(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let name = text_arg(args, 0, context)?;
    let millis = args
        .get(1)
        .cloned()
        .unwrap_or_default()
        .to_number(context)?;
    let tz = TimeZone::get(&name).map_err(|_| {
        JsNativeError::range().with_message(format!("Invalid time zone specified: {name}"))
    })?;
    // The caller has checked the time value's range (±8.64e15 ms), so it is an integer
    // that fits a Timestamp.
    let at = Timestamp::from_millisecond(millis as i64)
        .map_err(|err| JsNativeError::range().with_message(format!("Invalid time value: {err}")))?;
    let info = tz.to_offset_info(at);
    let pair = [
        JsValue::from(info.offset().seconds()),
        JsString::from(info.abbreviation()).into(),
    ];
    Ok(JsArray::from_iter(pair, context).into())
}

/// `zones()`: the database's zone names, sorted, without the legacy and POSIX-style
/// aliases node does not list (`US/Eastern`, `EST5EDT`, `Etc/GMT+5`).
pub(super) fn zones(_: &JsValue, _: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|name| name.as_str().to_owned())
        .filter(|name| listed(name))
        .collect();
    names.sort();
    names.dedup();
    let values = names.into_iter().map(|n| JsValue::from(JsString::from(n)));
    Ok(JsArray::from_iter(values, context).into())
}

/// Whether node's `Intl.supportedValuesOf("timeZone")` has names of this kind: region
/// zones (`Europe/Berlin`) and `UTC`.
fn listed(name: &str) -> bool {
    const AREAS: [&str; 10] = [
        "Africa/",
        "America/",
        "Antarctica/",
        "Arctic/",
        "Asia/",
        "Atlantic/",
        "Australia/",
        "Europe/",
        "Indian/",
        "Pacific/",
    ];
    name == "UTC" || AREAS.iter().any(|area| name.starts_with(area))
}

fn text_arg(args: &[JsValue], index: usize, context: &mut Context) -> JsResult<String> {
    Ok(args
        .get(index)
        .cloned()
        .unwrap_or_else(|| js_string!("").into())
        .to_string(context)?
        .to_std_string_lossy())
}
