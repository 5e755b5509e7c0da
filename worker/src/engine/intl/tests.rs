//! `Intl` through the worker's engine, compared with node: every expected value below is
//! what node 20 printed for the same handler, with no `TZ` and no locale set (its default
//! time zone is then the host's, UTC here; a worker's is always UTC).

#![allow(clippy::unwrap_used)]

use std::rc::Rc;
use std::sync::Once;

use jobvisor_protocol::worker::{ErrorKind, Outcome};

use crate::channel::Channel;
use crate::engine::Engine;
use crate::engine::tests::job;

/// The outcome of running `handler` (a module source) once, with the worker's default
/// locale set as `jobvisor-worker` sets it at start.
fn outcome_of(handler: &str) -> Outcome {
    static DEFAULT_LOCALE: Once = Once::new();
    // SAFETY: the standard library serialises its own environment reads and writes, and
    // nothing in the test process reads the environment through libc meanwhile.
    DEFAULT_LOCALE.call_once(|| unsafe { super::set_default_locale() });
    let mut engine = Engine::new(Rc::new(Channel::detached()));
    engine.run(&job(1, Some(handler), "{}")).0
}

fn result_of(handler: &str) -> String {
    match outcome_of(handler) {
        Outcome::Ok { result } => result.unwrap_or_default(),
        other => panic!("the handler failed: {other:?}"),
    }
}

/// Numeric and 2-digit fields in America/New_York (summer and winter) and Asia/Kolkata,
/// `formatToParts`, zone names, `hour12: false` (node's `24`), eras, English and
/// German text, and a zone name given in another case.
#[test]
fn date_time_format_in_named_time_zones_matches_node() {
    // node 20, the same handler:
    let node = r#"{"newYork":"07/04/2024, 12:05:09","kolkata":"07/04/2024, 21:35:09","newYorkParts":"month=07|literal=/|day=04|literal=/|year=2024|literal=, |hour=12|literal=:|minute=05|literal=:|second=09|literal= |timeZoneName=EDT","newYorkWinter":"month=01|literal=/|day=15|literal=/|year=2024|literal=, |hour=00|literal=:|minute=30|literal=:|second=00|literal= |timeZoneName=EST","kolkataParts":"month=07|literal=/|day=04|literal=/|year=2024|literal=, |hour=21|literal=:|minute=35|literal=:|second=09|literal= |timeZoneName=GMT+5:30","hour12False":"24:07","twelveHour":"9:35 PM GMT+05:30","era":"07/04/2024 AD","text":"Thursday, July 4, 2024","german":"Donnerstag, 4. Juli 2024","resolved":{"locale":"en-US","calendar":"gregory","numberingSystem":"latn","timeZone":"America/New_York","hourCycle":"h12","hour12":true,"hour":"numeric"}}"#;
    assert_eq!(
        result_of(include_str!("testdata/date_time_format.js")),
        node
    );
}

/// NumberFormat (decimal, percent), Collator, PluralRules, supportedValuesOf, the
/// `toLocale*String` methods and the defaults (en-US, UTC).
#[test]
fn number_format_collator_plural_rules_and_to_locale_string_match_node() {
    // node 20, the same handler:
    let node = r#"{"decimal":["1,234,567.891","1.234.567,891","3","-3.00"],"percent":["26%","25.7%","15%","50 %","-150%","7%"],"collator":["aAäbBz","azäö","1,2,9,10",0,"resume,Resume,résumé,rèsumé"],"plural":["other,one,other,other","one,one,one,other","many,one,few,many,one,other","one,two,few,other,other,other,other,one,two,few,one"],"zones":[true,true,false,true],"toLocaleString":["1,234,567.891","1.234.567,891","7/4/2024, 4:05:09 PM","7/4/2024","4:05:09 PM","7/4/2024, 12:05:09 PM","09:35 PM","Invalid Date"],"defaults":["en-US","UTC","en-US","en-US","7/4/2024"]}"#;
    assert_eq!(result_of(include_str!("testdata/services.js")), node);
}

/// An unknown zone is a RangeError naming it, as node's (`RangeError: Invalid time zone
/// specified: Mars/Olympus`), and the job fails as a thrown error, not an engine panic.
#[test]
fn an_unknown_time_zone_is_a_range_error_naming_it() {
    let handler =
        r#"export default () => new Intl.DateTimeFormat("en-US", { timeZone: "Mars/Olympus" })"#;
    match outcome_of(handler) {
        Outcome::Err(err) => {
            assert_eq!(err.kind, ErrorKind::Thrown, "{err:?}");
            assert_eq!(err.name, "RangeError");
            assert_eq!(err.message, "Invalid time zone specified: Mars/Olympus");
        }
        other => panic!("expected a RangeError, got {other:?}"),
    }
    let caught = r#"export default () => { try { new Date(0).toLocaleString("en-US", { timeZone: "Nowhere" }); } catch (e) { return e instanceof RangeError && e.message; } }"#;
    assert_eq!(
        result_of(caught),
        r#""Invalid time zone specified: Nowhere""#
    );
}

/// Replacing the built-ins leaves `Intl`'s shape as a script sees it: the same
/// constructors on every read, instances of them, and the engine's other services.
#[test]
fn the_replacements_are_stable_and_compiled_on_first_use() {
    let handler = r#"export default () => {
        const a = Intl.DateTimeFormat, b = Intl.DateTimeFormat;
        const f = new a("en-US");
        return [a === b, f instanceof Intl.DateTimeFormat, Object.prototype.toString.call(f),
            typeof Intl.DateTimeFormat.supportedLocalesOf, Intl.DateTimeFormat("en-US").format(0),
            new Intl.NumberFormat("en-US", { style: "percent" }) instanceof Intl.NumberFormat,
            typeof Intl.PluralRules, Date.prototype.toLocaleString.name];
    }"#;
    // node 20, the same handler:
    let node = r#"[true,true,"[object Intl.DateTimeFormat]","function","1/1/1970",true,"function","toLocaleString"]"#;
    assert_eq!(result_of(handler), node);
}

/// Currency in `en-US` and `en`: CLDR's symbols and narrow symbols, codes, the minor-unit
/// digits of JPY and KWD, accounting, `signDisplay`, NaN and infinities (which the engine's
/// formatter refused), `resolvedOptions` and node's errors for a missing or malformed
/// currency code.
#[test]
fn currency_formatting_in_english_matches_node() {
    // node 20, the same handler:
    let node = r#"["$1,234.50","-€1,234.57","¥1,235","£0.00","CHF 1,234.50","CA$1.00","$1.00","USD 1,234.50","($5.00)","(CHF 1.00)","KWD 1.500","$1,235","$1,234.5","₹1,234.50","-F CFA 1,235","-Cg. 1,234.50","$NaN","+$5.00","-$0.00","$1,200","$12,345,678,901,234,567,890.00","NaN","-∞","NaN%","$1,234.50","en-US,currency,EUR,symbol,standard,2,2","TypeError: Currency code is required with currency style.","RangeError: Invalid currency code : US","RangeError: Value big out of range for Intl.NumberFormat options property currencyDisplay"]"#;
    assert_eq!(result_of(include_str!("testdata/currency.js")), node);
}

/// What the engine cannot format yet is a RangeError that says so, not the engine's
/// "unimplemented" TypeError.
#[test]
fn currency_in_other_locales_and_currency_names_are_clear_errors() {
    let handler = r#"export default () => [
        () => new Intl.NumberFormat("de-DE", { style: "currency", currency: "EUR" }),
        () => (5).toLocaleString("fr", { style: "currency", currency: "EUR" }),
        () => new Intl.NumberFormat(["en-GB"], { style: "currency", currency: "GBP" }),
        () => new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", currencyDisplay: "name" }),
    ].map((make) => { try { make(); return "no error"; } catch (e) { return `${e.name}: ${e.message}`; } })"#;
    assert_eq!(
        result_of(handler),
        r#"["RangeError: Intl.NumberFormat: currency formatting is available for the locales en and en-US only, not de-DE","RangeError: Intl.NumberFormat: currency formatting is available for the locales en and en-US only, not fr","RangeError: Intl.NumberFormat: currency formatting is available for the locales en and en-US only, not en-GB","RangeError: Intl.NumberFormat: currencyDisplay \"name\" is not available in this engine (use \"symbol\", \"narrowSymbol\" or \"code\")"]"#
    );
}
