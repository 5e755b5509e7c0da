//! `Intl` through the real `jobvisor run` and a sandboxed `jobvisor-worker`: its locale and
//! time-zone data are compiled into the worker, so formatting in a named time zone makes
//! no file access inside the sandbox. Every expected value is what node 20 prints for the
//! same handler, written here as a literal.

use jobvisor_tests::run_json;
use serde_json::json;

/// The first use of each `Intl` service loads its data; none of it may reach for a file
/// once the system-call filter is on (that kills the worker with SIGSYS).
#[test]
fn intl_with_a_time_zone_completes_inside_the_sandbox() {
    let report = run_json(
        "intl",
        r#"export default function () {
            const at = new Date(Date.UTC(2024, 6, 4, 16, 5, 9));
            const ny = new Intl.DateTimeFormat("en-US", {
                timeZone: "America/New_York", year: "numeric", month: "2-digit", day: "2-digit",
                hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
            });
            return {
                newYork: ny.format(at),
                parts: ny.formatToParts(at).map((p) => p.type + "=" + p.value).join(" "),
                zone: ny.resolvedOptions().timeZone,
                number: new Intl.NumberFormat("de-DE").format(1234567.891),
                percent: new Intl.NumberFormat("en-US", { style: "percent" }).format(0.256),
                collator: ["b", "a", "ä", "z"].sort(new Intl.Collator("de").compare).join(""),
                plural: ["en", "fr"].map((l) => [0, 1, 2].map((n) => new Intl.PluralRules(l).select(n)).join()).join("|"),
                ordinal: [1, 2, 3, 4].map((n) => new Intl.PluralRules("en-US", { type: "ordinal" }).select(n)).join(),
                zones: Intl.supportedValuesOf("timeZone").includes("Europe/Berlin"),
                localeCompare: ["a", "B", "c"].sort((x, y) => x.localeCompare(y)).join(""),
                dateString: at.toLocaleDateString("en-US", { timeZone: "UTC" }),
            };
        }"#,
        &[],
        0,
    );
    assert_eq!(report["outcome"], "completed", "{report}");
    assert_eq!(
        report["result"],
        json!({
            "newYork": "07/04/2024, 12:05:09",
            "parts": "month=07 literal=/ day=04 literal=/ year=2024 literal=,  hour=12 literal=: minute=05 literal=: second=09",
            "zone": "America/New_York",
            "number": "1.234.567,891",
            "percent": "26%",
            "collator": "aäbz",
            "plural": "other,one,other|one,one,other",
            "ordinal": "one,two,few,other",
            "zones": true,
            "localeCompare": "aBc",
            "dateString": "7/4/2024",
        })
    );
}

/// The worker starts with an empty environment; its default locale is `en-US` and its
/// time zone UTC whatever the host's `LANG` and `TZ` say, as node's are with neither set
/// on a host whose zone is UTC.
#[test]
fn the_default_locale_is_en_us() {
    let report = run_json(
        "locale",
        r#"export default function () {
            return {
                locale: new Intl.DateTimeFormat().resolvedOptions().locale,
                number: (1234.5).toLocaleString(),
                collator: new Intl.Collator().resolvedOptions().locale,
                timeZone: new Intl.DateTimeFormat().resolvedOptions().timeZone,
                date: new Date(Date.UTC(2024, 6, 4, 16, 5, 9)).toLocaleString(),
            };
        }"#,
        &[],
        0,
    );
    assert_eq!(report["outcome"], "completed", "{report}");
    assert_eq!(
        report["result"],
        json!({
            "locale": "en-US",
            "number": "1,234.5",
            "collator": "en-US",
            "timeZone": "UTC",
            "date": "7/4/2024, 4:05:09 PM",
        })
    );
}

/// An unknown time zone fails the job with node's RangeError (exit 3, a job error), not
/// with an engine panic or a crash of the worker.
#[test]
fn an_unknown_time_zone_fails_the_job_cleanly() {
    let report = run_json(
        "mars",
        r#"export default () => new Intl.DateTimeFormat("en-US", { timeZone: "Mars/Olympus" })"#,
        &[],
        3,
    );
    assert_eq!(report["outcome"], "js_error", "{report}");
    assert_eq!(report["error"]["kind"], "thrown", "{report}");
    assert_eq!(report["error"]["name"], "RangeError", "{report}");
    assert_eq!(
        report["error"]["message"], "Invalid time zone specified: Mars/Olympus",
        "{report}"
    );
}

/// The engine's other services and the Unicode built-ins load their data on first use
/// too, inside the sandbox.
#[test]
fn the_other_services_load_their_data_inside_the_sandbox() {
    let report = run_json(
        "services",
        r#"export default () => ({
            list: new Intl.ListFormat("en", { type: "disjunction" }).format(["a", "b", "c"]),
            segments: [...new Intl.Segmenter("en", { granularity: "word" }).segment("Hello, world")].filter((s) => s.isWordLike).map((s) => s.segment).join("|"),
            locale: new Intl.Locale("de-CH").maximize().toString(),
            normalize: "e\u0301".normalize("NFC").length,
            upper: "straße".toLocaleUpperCase("de-DE"),
            canonical: Intl.getCanonicalLocales(["EN-us", "zh-hant-tw"]).join(),
            lengths: [Intl.DateTimeFormat.length, Intl.NumberFormat.length],
            german: new Date(Date.UTC(2024, 6, 4, 16, 5, 9)).toLocaleDateString("de-DE", { timeZone: "Europe/Berlin", year: "numeric", month: "long", day: "numeric" }),
        })"#,
        &[],
        0,
    );
    assert_eq!(report["outcome"], "completed", "{report}");
    // node 20, the same handler:
    assert_eq!(
        report["result"],
        json!({
            "list": "a, b, or c",
            "segments": "Hello|world",
            "locale": "de-Latn-CH",
            "normalize": 1,
            "upper": "STRASSE",
            "canonical": "en-US,zh-Hant-TW",
            "lengths": [0, 0],
            "german": "4. Juli 2024",
        })
    );
}
