//! Schedule timing through the public API: DST gap and fold with explicit instants in
//! Europe/Berlin and America/New_York, a two-year property test of "a daily schedule
//! fires once per calendar day" and "an hourly one once per hour that exists", interval
//! alignment, and parse errors.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jobvisor_store::schedule::{SpecError, Timing};
use proptest::prelude::*;

/// Unix ms of an RFC 3339 instant.
fn ms(instant: &str) -> i64 {
    instant.parse::<Timestamp>().unwrap().as_millisecond()
}

fn cron(expr: &str, zone: &str) -> Timing {
    Timing::cron(expr, Some(zone)).unwrap()
}

/// Every slot in `[from, to)`.
fn slots(timing: &Timing, from: i64, to: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut at = from - 1;
    while let Some(slot) = timing.next_after(at) {
        if slot >= to {
            break;
        }
        out.push(slot);
        at = slot;
    }
    out
}

#[test]
fn berlin_spring_forward_daily_runs_once_moved_forward() {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC). 02:30 does not exist.
    let daily = cron("30 2 * * *", "Europe/Berlin");
    let day = slots(
        &daily,
        ms("2026-03-28T23:00:00Z"),
        ms("2026-03-29T22:00:00Z"),
    );
    // Moved forward by the gap: 03:30 CEST = 01:30 UTC.
    assert_eq!(day, vec![ms("2026-03-29T01:30:00Z")]);
    assert_eq!(
        daily.next_after(ms("2026-03-28T12:00:00Z")),
        Some(ms("2026-03-29T01:30:00Z"))
    );
    assert_eq!(
        daily.next_after(ms("2026-03-29T01:30:00Z")),
        Some(ms("2026-03-30T00:30:00Z")),
        "02:30 CEST the next day"
    );
    assert_eq!(
        daily.next_after(ms("2026-03-27T12:00:00Z")),
        Some(ms("2026-03-28T01:30:00Z")),
        "02:30 CET the day before"
    );
    // Asking from inside the gap's mapped window still finds the moved slot.
    assert_eq!(
        daily.next_after(ms("2026-03-29T01:10:00Z")),
        Some(ms("2026-03-29T01:30:00Z"))
    );
}

#[test]
fn berlin_fall_back_daily_runs_once_at_the_first_occurrence() {
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00 UTC). 02:30 happens twice.
    let daily = cron("30 2 * * *", "Europe/Berlin");
    let day = slots(
        &daily,
        ms("2026-10-24T22:00:00Z"),
        ms("2026-10-25T23:00:00Z"),
    );
    assert_eq!(day, vec![ms("2026-10-25T00:30:00Z")], "02:30 CEST only");
    assert_eq!(
        daily.next_after(ms("2026-10-25T00:30:00Z")),
        Some(ms("2026-10-26T01:30:00Z")),
        "not again at 02:30 CET: the next run is the next day"
    );
    // Asked from between the two occurrences, it does not fire the second one either.
    assert_eq!(
        daily.next_after(ms("2026-10-25T01:00:00Z")),
        Some(ms("2026-10-26T01:30:00Z"))
    );
}

#[test]
fn hourly_runs_23_24_25_times_on_dst_days() {
    let hourly = cron("0 * * * *", "Europe/Berlin");
    let spring = slots(
        &hourly,
        ms("2026-03-28T23:00:00Z"),
        ms("2026-03-29T22:00:00Z"),
    );
    assert_eq!(spring.len(), 23);
    let fall = slots(
        &hourly,
        ms("2026-10-24T22:00:00Z"),
        ms("2026-10-25T23:00:00Z"),
    );
    assert_eq!(fall.len(), 25, "each distinct instant is a slot");
    assert!(fall.contains(&ms("2026-10-25T00:00:00Z")), "02:00 CEST");
    assert!(fall.contains(&ms("2026-10-25T01:00:00Z")), "02:00 CET");
    let normal = slots(
        &hourly,
        ms("2026-06-01T22:00:00Z"),
        ms("2026-06-02T22:00:00Z"),
    );
    assert_eq!(normal.len(), 24);
    // A wildcard hour with minute 30 also gets both 02:30s, and 23 runs in spring.
    let half = cron("30 * * * *", "Europe/Berlin");
    assert_eq!(
        slots(
            &half,
            ms("2026-10-24T22:00:00Z"),
            ms("2026-10-25T23:00:00Z")
        )
        .len(),
        25
    );
    assert_eq!(
        slots(
            &half,
            ms("2026-03-28T23:00:00Z"),
            ms("2026-03-29T22:00:00Z")
        )
        .len(),
        23
    );
}

#[test]
fn new_york_transitions() {
    // 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC); 2026-11-01 02:00 EDT -> 01:00 EST.
    let daily = cron("30 2 * * *", "America/New_York");
    assert_eq!(
        slots(
            &daily,
            ms("2026-03-08T05:00:00Z"),
            ms("2026-03-09T04:00:00Z")
        ),
        vec![ms("2026-03-08T07:30:00Z")],
        "03:30 EDT"
    );
    let early = cron("30 1 * * *", "America/New_York");
    assert_eq!(
        slots(
            &early,
            ms("2026-11-01T04:00:00Z"),
            ms("2026-11-02T05:00:00Z")
        ),
        vec![ms("2026-11-01T05:30:00Z")],
        "01:30 EDT, not 01:30 EST"
    );
}

#[test]
fn timezone_defaults_to_utc_and_seconds_field_works() {
    let utc = Timing::cron("*/20 * * * * *", None).unwrap();
    assert_eq!(
        utc.next_after(ms("2026-01-01T00:00:00Z")),
        Some(ms("2026-01-01T00:00:20Z"))
    );
    assert_eq!(
        utc.next_after(ms("2026-01-01T00:00:00.001Z")),
        Some(ms("2026-01-01T00:00:20Z"))
    );
    assert_eq!(utc.timezone(), Some("UTC"));
}

#[test]
fn intervals_are_aligned_to_the_epoch_whatever_the_query_time() {
    let every = Timing::every(Duration::from_secs(300)).unwrap();
    for after in [0, 1, 299_999, 1_700_000_123_456] {
        let slot = every.next_after(after).unwrap();
        assert_eq!(slot % 300_000, 0);
        assert!(slot > after && slot - after <= 300_000);
    }
    assert!(matches!(
        Timing::every(Duration::from_millis(500)),
        Err(SpecError::IntervalTooShort { .. })
    ));
}

#[test]
fn parse_errors_name_field_and_problem() {
    let message = |expr: &str| Timing::cron(expr, None).unwrap_err().to_string();
    assert_eq!(
        message("0 25 * * *"),
        "cron field hour (\"25\"): 25 is out of range 0-23"
    );
    assert_eq!(
        message("0 0 * 13 *"),
        "cron field month (\"13\"): 13 is out of range 1-12"
    );
    assert_eq!(
        message("0 0 * * MON-XYZ"),
        "cron field day-of-week (\"MON-XYZ\"): \"XYZ\" is neither a number nor one of SUN MON TUE WED THU FRI SAT"
    );
    assert!(message("1 2 3").contains("has 3 fields; expected 5"));
    assert!(message("0 0 31 4,6 *").contains("never matches"));
    let zone = Timing::cron("0 0 * * *", Some("Europe/Atlantis")).unwrap_err();
    assert!(matches!(zone, SpecError::UnknownTimeZone { .. }));
}

/// Local calendar date of an instant.
fn local_date(zone: &TimeZone, slot_ms: i64) -> Date {
    Timestamp::from_millisecond(slot_ms)
        .unwrap()
        .to_zoned(zone.clone())
        .date()
}

/// Length in hours of each local day between two dates (23, 24 or 25 around DST).
fn day_hours(zone: &TimeZone, date: Date) -> i64 {
    let start = date.to_zoned(zone.clone()).unwrap().timestamp().as_second();
    let end = date
        .tomorrow()
        .unwrap()
        .to_zoned(zone.clone())
        .unwrap()
        .timestamp()
        .as_second();
    (end - start) / 3600
}

const ZONES: [&str; 2] = ["Europe/Berlin", "America/New_York"];

fn two_years_from(start_day: i64) -> (i64, i64) {
    // Start days in 2025..2027; then two years.
    let from = ms("2025-01-01T00:00:00Z") + start_day * 86_400_000;
    (from, from + 2 * 365 * 86_400_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A daily schedule at a random time fires exactly once per local calendar day for
    /// two years, at its wall-clock time (or an hour later when that time is skipped).
    #[test]
    fn daily_fires_once_per_local_day(
        zone_index in 0..ZONES.len(),
        hour in 0u32..24,
        minute in 0u32..60,
        start_day in 0i64..730,
    ) {
        let name = ZONES[zone_index];
        let zone = jiff::tz::db().get(name).unwrap();
        let timing = cron(&format!("{minute} {hour} * * *"), name);
        let (from, to) = two_years_from(start_day);
        let mut per_day: BTreeMap<Date, u32> = BTreeMap::new();
        for slot in slots(&timing, from, to) {
            let local = Timestamp::from_millisecond(slot).unwrap().to_zoned(zone.clone());
            let wall = (local.hour() as u32) * 60 + local.minute() as u32;
            let wanted = hour * 60 + minute;
            prop_assert!(
                wall == wanted || wall == wanted + 60,
                "slot {local} is neither {hour:02}:{minute:02} nor moved forward by the gap"
            );
            *per_day.entry(local.date()).or_default() += 1;
        }
        let first = local_date(&zone, from).tomorrow().unwrap();
        let last = local_date(&zone, to).yesterday().unwrap();
        let mut day = first;
        while day <= last {
            prop_assert_eq!(per_day.get(&day).copied(), Some(1), "{} in {}", day, name);
            day = day.tomorrow().unwrap();
        }
        prop_assert!(per_day.values().all(|&count| count == 1));
    }

    /// An hourly schedule at a random minute fires once per existing hour: 23, 24 or 25
    /// times a local day, with distinct instants an hour apart.
    #[test]
    fn hourly_fires_once_per_real_hour(
        zone_index in 0..ZONES.len(),
        minute in 0u32..60,
        start_day in 0i64..730,
    ) {
        let name = ZONES[zone_index];
        let zone = jiff::tz::db().get(name).unwrap();
        let timing = cron(&format!("{minute} * * * *"), name);
        let (from, to) = two_years_from(start_day);
        let all = slots(&timing, from, to);
        for pair in all.windows(2) {
            prop_assert_eq!(pair[1] - pair[0], 3_600_000);
        }
        let mut per_day: BTreeMap<Date, i64> = BTreeMap::new();
        for &slot in &all {
            *per_day.entry(local_date(&zone, slot)).or_default() += 1;
        }
        let first = local_date(&zone, from).tomorrow().unwrap();
        let last = local_date(&zone, to).yesterday().unwrap();
        let mut short_and_long = 0;
        let mut day = first;
        while day <= last {
            let hours = day_hours(&zone, day);
            short_and_long += i32::from(hours != 24);
            prop_assert_eq!(per_day.get(&day).copied(), Some(hours), "{} in {}", day, name);
            day = day.tomorrow().unwrap();
        }
        prop_assert!(short_and_long >= 3, "two years hold DST days");
    }
}
