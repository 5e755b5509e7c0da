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

/// `Intl.RelativeTimeFormat` in English, which the engine lacks: every unit in the three
/// styles, `numeric: "auto"`'s words, fractions, negative zero, `formatToParts`,
/// `resolvedOptions` and node's errors.
#[test]
fn relative_time_format_in_english_matches_node() {
    // node 20, the same handler:
    let node = r#"["2 seconds ago","1 second ago","in 0 seconds","in 1 second","in 2 seconds","in 1.5 seconds","0 seconds ago","2 minutes ago","1 minute ago","in 0 minutes","in 1 minute","in 2 minutes","in 1.5 minutes","0 minutes ago","2 hours ago","1 hour ago","in 0 hours","in 1 hour","in 2 hours","in 1.5 hours","0 hours ago","2 days ago","1 day ago","in 0 days","in 1 day","in 2 days","in 1.5 days","0 days ago","2 weeks ago","1 week ago","in 0 weeks","in 1 week","in 2 weeks","in 1.5 weeks","0 weeks ago","2 months ago","1 month ago","in 0 months","in 1 month","in 2 months","in 1.5 months","0 months ago","2 quarters ago","1 quarter ago","in 0 quarters","in 1 quarter","in 2 quarters","in 1.5 quarters","0 quarters ago","2 years ago","1 year ago","in 0 years","in 1 year","in 2 years","in 1.5 years","0 years ago","2 seconds ago","1 second ago","now","in 1 second","in 2 seconds","in 1.5 seconds","now","2 minutes ago","1 minute ago","this minute","in 1 minute","in 2 minutes","in 1.5 minutes","this minute","2 hours ago","1 hour ago","this hour","in 1 hour","in 2 hours","in 1.5 hours","this hour","2 days ago","yesterday","today","tomorrow","in 2 days","in 1.5 days","today","2 weeks ago","last week","this week","next week","in 2 weeks","in 1.5 weeks","this week","2 months ago","last month","this month","next month","in 2 months","in 1.5 months","this month","2 quarters ago","last quarter","this quarter","next quarter","in 2 quarters","in 1.5 quarters","this quarter","2 years ago","last year","this year","next year","in 2 years","in 1.5 years","this year","2 sec. ago","1 sec. ago","in 0 sec.","in 1 sec.","in 2 sec.","in 1.5 sec.","0 sec. ago","2 min. ago","1 min. ago","in 0 min.","in 1 min.","in 2 min.","in 1.5 min.","0 min. ago","2 hr. ago","1 hr. ago","in 0 hr.","in 1 hr.","in 2 hr.","in 1.5 hr.","0 hr. ago","2 days ago","1 day ago","in 0 days","in 1 day","in 2 days","in 1.5 days","0 days ago","2 wk. ago","1 wk. ago","in 0 wk.","in 1 wk.","in 2 wk.","in 1.5 wk.","0 wk. ago","2 mo. ago","1 mo. ago","in 0 mo.","in 1 mo.","in 2 mo.","in 1.5 mo.","0 mo. ago","2 qtrs. ago","1 qtr. ago","in 0 qtrs.","in 1 qtr.","in 2 qtrs.","in 1.5 qtrs.","0 qtrs. ago","2 yr. ago","1 yr. ago","in 0 yr.","in 1 yr.","in 2 yr.","in 1.5 yr.","0 yr. ago","2 sec. ago","1 sec. ago","now","in 1 sec.","in 2 sec.","in 1.5 sec.","now","2 min. ago","1 min. ago","this minute","in 1 min.","in 2 min.","in 1.5 min.","this minute","2 hr. ago","1 hr. ago","this hour","in 1 hr.","in 2 hr.","in 1.5 hr.","this hour","2 days ago","yesterday","today","tomorrow","in 2 days","in 1.5 days","today","2 wk. ago","last wk.","this wk.","next wk.","in 2 wk.","in 1.5 wk.","this wk.","2 mo. ago","last mo.","this mo.","next mo.","in 2 mo.","in 1.5 mo.","this mo.","2 qtrs. ago","last qtr.","this qtr.","next qtr.","in 2 qtrs.","in 1.5 qtrs.","this qtr.","2 yr. ago","last yr.","this yr.","next yr.","in 2 yr.","in 1.5 yr.","this yr.","2s ago","1s ago","in 0s","in 1s","in 2s","in 1.5s","0s ago","2m ago","1m ago","in 0m","in 1m","in 2m","in 1.5m","0m ago","2h ago","1h ago","in 0h","in 1h","in 2h","in 1.5h","0h ago","2d ago","1d ago","in 0d","in 1d","in 2d","in 1.5d","0d ago","2w ago","1w ago","in 0w","in 1w","in 2w","in 1.5w","0w ago","2mo ago","1mo ago","in 0mo","in 1mo","in 2mo","in 1.5mo","0mo ago","2q ago","1q ago","in 0q","in 1q","in 2q","in 1.5q","0q ago","2y ago","1y ago","in 0y","in 1y","in 2y","in 1.5y","0y ago","2s ago","1s ago","now","in 1s","in 2s","in 1.5s","now","2m ago","1m ago","this minute","in 1m","in 2m","in 1.5m","this minute","2h ago","1h ago","this hour","in 1h","in 2h","in 1.5h","this hour","2d ago","yesterday","today","tomorrow","in 2d","in 1.5d","today","2w ago","last wk.","this wk.","next wk.","in 2w","in 1.5w","this wk.","2mo ago","last mo.","this mo.","next mo.","in 2mo","in 1.5mo","this mo.","2q ago","last qtr.","this qtr.","next qtr.","in 2q","in 1.5q","this qtr.","2y ago","last yr.","this yr.","next yr.","in 2y","in 1.5y","this yr.","in 1,234.5 days","1 year ago","in 3 hours","in 1.235 minutes","[{\"type\":\"integer\",\"value\":\"1\",\"unit\":\"day\"},{\"type\":\"group\",\"value\":\",\",\"unit\":\"day\"},{\"type\":\"integer\",\"value\":\"234\",\"unit\":\"day\"},{\"type\":\"decimal\",\"value\":\".\",\"unit\":\"day\"},{\"type\":\"fraction\",\"value\":\"5\",\"unit\":\"day\"},{\"type\":\"literal\",\"value\":\" days ago\"}]","[{\"type\":\"literal\",\"value\":\"yesterday\"}]","{\"locale\":\"en\",\"style\":\"narrow\",\"numeric\":\"always\",\"numberingSystem\":\"latn\"}",0,"[object Intl.RelativeTimeFormat]",true,"RangeError: Invalid unit argument for Intl.RelativeTimeFormat.prototype.format() 'Day'","RangeError: Invalid unit argument for Intl.RelativeTimeFormat.prototype.format() 'decade'","RangeError: Value need to be finite number for Intl.RelativeTimeFormat.prototype.format()","RangeError: Value tiny out of range for Intl.RelativeTimeFormat options property style","TypeError: Constructor Intl.RelativeTimeFormat requires 'new'","TypeError: Method Intl.RelativeTimeFormat.prototype.format called on incompatible receiver #<Object>"]"#;
    assert_eq!(
        result_of(include_str!("testdata/relative_time_format.js")),
        node
    );
}
