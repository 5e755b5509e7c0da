//! Human units in the CLI and the config file: durations like `30s`, `1m30s`, `250ms`
//! and sizes like `256MiB`, `1GiB`, `65536`. The bounds they are read against live in
//! [`crate::limits`].

use std::time::Duration;

use crate::limits::{MAX_DELAY, MAX_DURATION, MAX_JOB_TIMEOUT};

/// Parses a duration: one or more `<number><unit>` parts, units `ms`, `s`, `m`, `h`, `d`;
/// at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    parse_duration_at_most(text, MAX_DURATION)
}

/// `--timeout`: a duration of at most [`MAX_JOB_TIMEOUT`].
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    parse_duration_at_most(text, MAX_JOB_TIMEOUT)
}

/// `--delay`: a duration of at most [`MAX_DELAY`].
pub fn parse_delay(text: &str) -> Result<Duration, String> {
    parse_duration_at_most(text, MAX_DELAY)
}

/// Parses a duration and refuses one above `max`, naming the maximum.
pub fn parse_duration_at_most(text: &str, max: Duration) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty duration: write e.g. `30s`, `5m`, `1h30m` or `250ms`".to_owned());
    }
    // Milliseconds in u128: a u64 count of days still fits, so nothing saturates and a
    // value past the maximum is refused rather than silently clamped.
    let mut total_ms: u128 = 0;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration: write e.g. `30s`, `5m`, `1h30m` or `250ms`"
            ));
        }
        let value: u64 = rest[..digits].parse().map_err(|_| too_long(text, max))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit_ms: u128 = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => {
                return Err(format!(
                    "`{text}` has no unit: write e.g. `{value}s` or `{value}ms`"
                ));
            }
            other => {
                return Err(format!(
                    "`{text}`: unknown unit `{other}` (use ms, s, m, h or d)"
                ));
            }
        };
        total_ms += u128::from(value) * unit_ms;
        if total_ms > max.as_millis() {
            return Err(too_long(text, max));
        }
    }
    // At most `max`, which is a `Duration`: the conversion cannot fail.
    Ok(Duration::from_millis(
        u64::try_from(total_ms).unwrap_or(u64::MAX),
    ))
}

fn too_long(text: &str, max: Duration) -> String {
    if max == MAX_DURATION {
        format!(
            "`{text}` is too long: the longest duration jobvisor reads is {}",
            format_duration(max)
        )
    } else {
        format!(
            "`{text}` is too long: at most {} is allowed",
            format_duration(max)
        )
    }
}

/// Formats a duration the way [`parse_duration`] reads it, to the millisecond.
pub fn format_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut secs = ms / 1000;
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// Formats Unix milliseconds as UTC, e.g. `2026-11-22 03:45:10Z`.
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = crate::schedule::civil::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses a size: a byte count with an optional unit (`B`, `KiB`, `MiB`, `GiB`, `KB`, `MB`,
/// `GB`; `K`/`M`/`G` are binary).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let digits = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    if digits == 0 {
        return Err(format!(
            "`{text}` is not a size: write e.g. `256MiB`, `1GiB` or a byte count"
        ));
    }
    let value: u64 = trimmed[..digits]
        .parse()
        .map_err(|_| format!("`{text}`: number too large"))?;
    let multiplier: u64 = match trimmed[digits..].trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "`{text}`: unknown size unit `{other}` (use B, KiB, MiB, GiB, KB, MB or GB)"
            ));
        }
    };
    value
        .checked_mul(multiplier)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Formats a byte count for people, to one decimal: `13.0MiB`, `512KiB`.
pub fn format_size_approx(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes >= 1 << 30 {
        format!("{:.1}GiB", b / f64::from(1u32 << 30))
    } else if bytes >= 1 << 20 {
        format!("{:.1}MiB", b / f64::from(1u32 << 20))
    } else if bytes >= 1 << 10 {
        format!("{}KiB", bytes >> 10)
    } else {
        format!("{bytes}B")
    }
}

/// Formats a byte count with a binary unit, e.g. `256MiB`.
pub fn format_size(bytes: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    if bytes >= 1 << 20 {
        return format!("{:.1}MiB", bytes as f64 / f64::from(1u32 << 20));
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration(" 2d "), Ok(Duration::from_secs(172_800)));
        assert!(parse_duration("30").unwrap_err().contains("no unit"));
        assert!(parse_duration("5y").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
        assert!(
            parse_duration("106751991167d")
                .unwrap_err()
                .contains("36500d")
        );
        assert!(parse_duration("18446744073709551615s").is_err());
        assert!(parse_duration("99999999999999999999999d").is_err());
        assert_eq!(parse_timeout("30d"), Ok(MAX_JOB_TIMEOUT));
        assert!(parse_timeout("30d1ms").unwrap_err().contains("at most 30d"));
        assert!(
            parse_delay("99999999d")
                .unwrap_err()
                .contains("at most 3650d")
        );
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert!(
            parse_size("12 parsecs")
                .unwrap_err()
                .contains("unknown size unit")
        );
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
        assert_eq!(format_size(256 << 20), "256MiB");
        assert_eq!(format_utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(format_utc(1_795_399_200_500), "2026-11-23 02:00:00Z");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00:00Z");
    }
}
