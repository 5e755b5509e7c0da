//! Cron expressions: parsing (5 fields, or 6 with seconds first; `*`, lists, ranges,
//! steps, month and weekday names, weekday 7 = Sunday, `@daily`-style macros) and the
//! search for the next matching *civil* (wall-clock) second. Time zones, DST gaps and
//! folds are `spec.rs`'s business: nothing here knows about instants.
//!
//! Day rule (Vixie cron): when both day-of-month and day-of-week are restricted (neither
//! field starts with `*`), a day matches if *either* matches; otherwise both must.

use std::fmt;

use super::civil::{SECONDS_PER_DAY, civil_from_days, days_from_civil, days_in_month, weekday};
use super::spec::SpecError;

/// How far ahead the civil search looks before it gives up: a Feb-29-only expression
/// matches at least every 8 years.
pub(crate) const SEARCH_YEARS: i64 = 10;

/// The fields of a cron expression, named in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronField {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl CronField {
    fn range(self) -> (u32, u32) {
        match self {
            CronField::Second | CronField::Minute => (0, 59),
            CronField::Hour => (0, 23),
            CronField::DayOfMonth => (1, 31),
            CronField::Month => (1, 12),
            // 7 is accepted as another Sunday and folded to 0.
            CronField::DayOfWeek => (0, 7),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            CronField::Month => &[
                "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
            ],
            CronField::DayOfWeek => &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
            _ => &[],
        }
    }

    /// The value of `names()[0]`.
    fn first_name_value(self) -> u32 {
        match self {
            CronField::Month => 1,
            _ => 0,
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CronField::Second => "second",
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
        })
    }
}

/// A parsed cron expression: one bit per allowed value of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CronExpr {
    seconds: u64,
    minutes: u64,
    hours: u32,
    /// Bits 1..=31.
    days_of_month: u32,
    /// Bits 1..=12.
    months: u32,
    /// Bits 0..=6, Sunday = 0.
    days_of_week: u32,
    dom_star: bool,
    dow_star: bool,
    /// The hour field starts with `*`: the schedule repeats within a day, so both
    /// occurrences of a repeated (DST fold) hour are slots. See `spec.rs`.
    pub(crate) hour_star: bool,
}

fn field_error(field: CronField, text: &str, problem: impl Into<String>) -> SpecError {
    SpecError::CronField {
        field,
        text: text.to_owned(),
        problem: problem.into(),
    }
}

fn parse_value(field: CronField, whole: &str, token: &str) -> Result<u32, SpecError> {
    let (min, max) = field.range();
    if token.is_empty() {
        return Err(field_error(field, whole, "a value is missing"));
    }
    let value = if token.bytes().all(|b| b.is_ascii_digit()) {
        token.parse::<u32>().map_err(|_| {
            field_error(field, whole, format!("{token} is out of range {min}-{max}"))
        })?
    } else {
        let upper = token.to_ascii_uppercase();
        match field.names().iter().position(|name| *name == upper) {
            Some(index) => field.first_name_value() + index as u32,
            None if field.names().is_empty() => {
                return Err(field_error(
                    field,
                    whole,
                    format!("{token:?} is not a number"),
                ));
            }
            None => {
                return Err(field_error(
                    field,
                    whole,
                    format!(
                        "{token:?} is neither a number nor one of {}",
                        field.names().join(" ")
                    ),
                ));
            }
        }
    };
    if value < min || value > max {
        return Err(field_error(
            field,
            whole,
            format!("{value} is out of range {min}-{max}"),
        ));
    }
    Ok(value)
}

/// Parses one field into a bit set; returns it and whether the field starts with `*`.
fn parse_field(field: CronField, text: &str) -> Result<(u64, bool), SpecError> {
    let (min, max) = field.range();
    let star = text.starts_with('*') || text.starts_with('?');
    let mut bits = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(field_error(field, text, "empty list item"));
        }
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => {
                let step: u32 = step.parse().map_err(|_| {
                    field_error(
                        field,
                        text,
                        format!("step {step:?} is not a positive number"),
                    )
                })?;
                if step == 0 {
                    return Err(field_error(field, text, "step must be at least 1"));
                }
                (base, Some(step))
            }
            None => (item, None),
        };
        let (start, end) = if base == "*" || base == "?" {
            if base == "?" && !matches!(field, CronField::DayOfMonth | CronField::DayOfWeek) {
                return Err(field_error(
                    field,
                    text,
                    "`?` is only allowed in day-of-month and day-of-week",
                ));
            }
            (
                min,
                if field == CronField::DayOfWeek {
                    6
                } else {
                    max
                },
            )
        } else if let Some((from, to)) = base.split_once('-') {
            let from = parse_value(field, text, from)?;
            let to = parse_value(field, text, to)?;
            if from > to {
                return Err(field_error(
                    field,
                    text,
                    format!("range {from}-{to} runs backwards (ranges do not wrap around)"),
                ));
            }
            (from, to)
        } else {
            let value = parse_value(field, text, base)?;
            // `a/n` means `a-max/n`, as in most crons that accept it.
            let end = if step.is_some() { max } else { value };
            (value, end)
        };
        let step = step.unwrap_or(1);
        let mut value = start;
        while value <= end {
            bits |= 1 << value;
            value += step;
        }
    }
    if field == CronField::DayOfWeek && bits & (1 << 7) != 0 {
        bits = (bits & !(1 << 7)) | 1;
    }
    Ok((bits, star))
}

fn expand_macro(expr: &str) -> Result<&str, SpecError> {
    Ok(match expr.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => {
            return Err(SpecError::CronMacro {
                expr: expr.to_owned(),
            });
        }
    })
}

/// Lowest set bit at or above `from`, if any.
fn next_bit(bits: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = bits >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

impl CronExpr {
    pub(crate) fn parse(expr: &str) -> Result<CronExpr, SpecError> {
        let trimmed = expr.trim();
        let text = if trimmed.starts_with('@') {
            expand_macro(trimmed)?
        } else {
            trimmed
        };
        let fields: Vec<&str> = text.split_whitespace().collect();
        let (second, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            found => {
                return Err(SpecError::CronFieldCount {
                    expr: expr.to_owned(),
                    found,
                });
            }
        };
        let (seconds, _) = parse_field(CronField::Second, second)?;
        let (minutes, _) = parse_field(CronField::Minute, rest[0])?;
        let (hours, hour_star) = parse_field(CronField::Hour, rest[1])?;
        let (days_of_month, dom_star) = parse_field(CronField::DayOfMonth, rest[2])?;
        let (months, _) = parse_field(CronField::Month, rest[3])?;
        let (days_of_week, dow_star) = parse_field(CronField::DayOfWeek, rest[4])?;
        // Field ranges keep every set within 32 bits except seconds and minutes.
        let parsed = CronExpr {
            seconds,
            minutes,
            hours: hours as u32,
            days_of_month: days_of_month as u32,
            months: months as u32,
            days_of_week: days_of_week as u32,
            dom_star,
            dow_star,
            hour_star,
        };
        parsed.check_satisfiable(expr)?;
        Ok(parsed)
    }

    /// Refuses expressions that name only days that never exist (`0 0 30 2 *`).
    fn check_satisfiable(&self, expr: &str) -> Result<(), SpecError> {
        if !self.dom_star && !self.dow_star {
            return Ok(()); // OR rule: any weekday matches somewhere
        }
        let possible = (1..=12u32)
            .filter(|month| self.months & (1 << month) != 0)
            .any(|month| {
                (1..=days_in_month(2000, month)).any(|day| self.days_of_month & (1 << day) != 0)
            });
        if possible {
            Ok(())
        } else {
            Err(SpecError::CronNeverMatches {
                expr: expr.to_owned(),
            })
        }
    }

    fn day_matches(&self, days: i64, day: u32) -> bool {
        let dom = self.days_of_month & (1 << day) != 0;
        let dow = self.days_of_week & (1 << weekday(days)) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// First second of the day at or after `second_of_day` that matches, if any.
    fn next_time_in_day(&self, second_of_day: i64) -> Option<i64> {
        let start_hour = (second_of_day / 3600) as u32;
        let start_minute = ((second_of_day / 60) % 60) as u32;
        let start_second = (second_of_day % 60) as u32;
        let mut hour = next_bit(u64::from(self.hours), start_hour)?;
        loop {
            let mut minute_from = if hour == start_hour { start_minute } else { 0 };
            while let Some(minute) = next_bit(self.minutes, minute_from) {
                let second_from = if hour == start_hour && minute == start_minute {
                    start_second
                } else {
                    0
                };
                if let Some(second) = next_bit(self.seconds, second_from) {
                    return Some(i64::from(hour * 3600 + minute * 60 + second));
                }
                minute_from = minute + 1;
            }
            hour = next_bit(u64::from(self.hours), hour + 1)?;
        }
    }

    /// The first matching civil second at or after `from` (seconds since 1970-01-01T00:00
    /// in local wall-clock time), searching at most `SEARCH_YEARS` ahead.
    pub(crate) fn next_local_match(&self, from: i64) -> Option<i64> {
        let limit_days = from.div_euclid(SECONDS_PER_DAY) + SEARCH_YEARS * 366;
        let mut days = from.div_euclid(SECONDS_PER_DAY);
        let mut second_of_day = from.rem_euclid(SECONDS_PER_DAY);
        while days <= limit_days {
            let (year, month, day) = civil_from_days(days);
            if self.months & (1 << month) == 0 {
                let (next_year, next_month) = match next_bit(u64::from(self.months), month + 1) {
                    Some(next) => (year, next),
                    None => (year + 1, next_bit(u64::from(self.months), 1)?),
                };
                days = days_from_civil(next_year, next_month, 1);
                second_of_day = 0;
                continue;
            }
            if self.day_matches(days, day)
                && let Some(second) = self.next_time_in_day(second_of_day)
            {
                return Some(days * SECONDS_PER_DAY + second);
            }
            days += 1;
            second_of_day = 0;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(year: i64, month: u32, day: u32, hour: i64, minute: i64, second: i64) -> i64 {
        days_from_civil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second
    }

    fn next(expr: &str, from: i64) -> i64 {
        CronExpr::parse(expr)
            .unwrap()
            .next_local_match(from)
            .unwrap()
    }

    #[test]
    fn fields_and_steps() {
        let base = at(2026, 1, 1, 0, 0, 0);
        assert_eq!(next("*/5 * * * *", base + 1), at(2026, 1, 1, 0, 5, 0));
        assert_eq!(
            next("1-10/2 * * * *", at(2026, 1, 1, 0, 4, 0)),
            at(2026, 1, 1, 0, 5, 0)
        );
        assert_eq!(
            next("1-10/2 * * * *", at(2026, 1, 1, 0, 9, 1)),
            at(2026, 1, 1, 1, 1, 0)
        );
        assert_eq!(next("30 2 * * *", base), at(2026, 1, 1, 2, 30, 0));
        assert_eq!(next("*/15 * * * * *", base + 1), base + 15);
        assert_eq!(next("0 0 1 JAN,jul *", base + 1), at(2026, 7, 1, 0, 0, 0));
        // 2026-01-01 is a Thursday.
        assert_eq!(
            next("0 9 * * MON-FRI", at(2026, 1, 2, 10, 0, 0)),
            at(2026, 1, 5, 9, 0, 0)
        );
        assert_eq!(next("0 9 * * 7", base), at(2026, 1, 4, 9, 0, 0));
        assert_eq!(next("0 9 * * 0", base), at(2026, 1, 4, 9, 0, 0));
        assert_eq!(next("0 9 * * 5-7", base), at(2026, 1, 2, 9, 0, 0));
        assert_eq!(next("0 0 29 2 *", base), at(2028, 2, 29, 0, 0, 0));
        assert_eq!(next("@hourly", base + 1), at(2026, 1, 1, 1, 0, 0));
        assert_eq!(next("5/20 * * * *", base), at(2026, 1, 1, 0, 5, 0));
    }

    #[test]
    fn day_of_month_or_day_of_week_when_both_restricted() {
        // The 13th, or any Friday (Vixie cron): 2026-02-06 is a Friday.
        let from = at(2026, 2, 1, 0, 0, 0);
        assert_eq!(next("0 0 13 * FRI", from), at(2026, 2, 6, 0, 0, 0));
        assert_eq!(
            next("0 0 13 * FRI", at(2026, 2, 7, 0, 0, 0)),
            at(2026, 2, 13, 0, 0, 0)
        );
        // A star in either field makes it AND: `*/2` days that are also Fridays.
        assert_eq!(next("0 0 */2 * FRI", from), at(2026, 2, 13, 0, 0, 0));
    }

    #[test]
    fn errors_name_the_field_and_problem() {
        let cases = [
            ("* * * *", "has 4 fields"),
            (
                "61 * * * *",
                "cron field minute (\"61\"): 61 is out of range 0-59",
            ),
            (
                "* 24 * * *",
                "cron field hour (\"24\"): 24 is out of range 0-23",
            ),
            ("* * 0 * *", "day-of-month (\"0\"): 0 is out of range 1-31"),
            (
                "* * * FOO *",
                "month (\"FOO\"): \"FOO\" is neither a number nor one of JAN",
            ),
            ("* * * * 8", "day-of-week (\"8\"): 8 is out of range 0-7"),
            ("*/0 * * * *", "step must be at least 1"),
            ("*/x * * * *", "step \"x\" is not a positive number"),
            ("5-1 * * * *", "range 5-1 runs backwards"),
            ("1,,2 * * * *", "empty list item"),
            ("a * * * *", "\"a\" is not a number"),
            ("0 0 30 2 *", "never matches"),
            ("@reboot", "@reboot"),
            ("? * * * *", "only allowed in day-of-month"),
        ];
        for (expr, expected) in cases {
            let message = CronExpr::parse(expr).unwrap_err().to_string();
            assert!(message.contains(expected), "{expr}: {message}");
        }
    }
}
