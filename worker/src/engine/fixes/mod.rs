//! jobvisor's corrections of engine built-ins that deviate from V8 in ways real npm
//! libraries hit: each module replaces one faulty built-in (or a family of them) with a
//! native one, and [`install`] is the one place a new context gets them all.
//!
//! Every replacement is checked against node's output for the same code (the expected
//! values in the tests are what node 20 printed). A replacement must cost a fresh context
//! next to nothing: installing is defining a few properties, never compiling JavaScript.

mod array_sort;
pub(super) mod builtin;
mod date;
mod date_parse;
mod json_parse;
mod parse_int;
mod regexp_source;
mod regexp_v_class;
#[cfg(test)]
mod tests;
mod typed_array_sort;

use boa_engine::{Context, JsError, JsNativeError};

pub(super) use regexp_v_class::parse_correcting_literals;

/// Installs one correction on a context.
type Install = fn(&mut Context) -> Result<(), JsError>;

/// Installs every correction on `context`; the error names the one that failed.
pub(super) fn install(context: &mut Context) -> Result<(), JsError> {
    let fixes: [(&str, Install); 7] = [
        ("Array.prototype.sort", array_sort::install),
        ("TypedArray.prototype.sort", typed_array_sort::install),
        ("RegExp.prototype.source", regexp_source::install),
        ("RegExp", regexp_v_class::install),
        ("parseInt", parse_int::install),
        ("Date", date::install),
        ("JSON.parse", json_parse::install),
    ];
    for (what, install) in fixes {
        install(context).map_err(|err| {
            JsNativeError::typ().with_message(format!("cannot install {what}: {err}"))
        })?;
    }
    Ok(())
}
