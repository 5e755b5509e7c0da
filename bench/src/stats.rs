//! Measurements (wall clock, CPU ticks and RSS from `/proc`) and statistics (medians,
//! percentiles).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::report::Percentiles;

pub(crate) fn wall_ms() -> i64 {
    wall_us() / 1000
}

pub(crate) fn wall_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// utime+stime of a process (with cutime+cstime: its reaped children) in clock ticks.
pub(crate) fn proc_ticks(pid: u32, with_children: bool) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    // Fields after the command: state is field 3; utime 14, stime 15, cutime 16, cstime 17.
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let own = fields.iter().take(2).sum::<u64>();
    let children = fields.iter().skip(2).sum::<u64>();
    if with_children { own + children } else { own }
}

pub(crate) fn ticks_to_us(ticks: u64) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    ticks as f64 * 1e6 / hz
}

pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.retain(|v| !v.is_nan());
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

pub(crate) fn percentiles(mut values: Vec<f64>) -> Percentiles {
    if values.is_empty() {
        return Percentiles::default();
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    Percentiles {
        n: values.len(),
        p50: at(0.5),
        p99: at(0.99),
        p999: at(0.999),
        max: at(1.0),
    }
}

pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_medians() {
        let p = percentiles((1..=1000).map(f64::from).collect());
        assert_eq!((p.n, p.p50, p.max), (1000, 501.0, 1000.0));
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn proc_ticks_of_self_are_counted() {
        // Spin until this process has used a clock tick of CPU (10 ms), for 5 s at most.
        let started = std::time::Instant::now();
        while proc_ticks(std::process::id(), false) == 0 && started.elapsed().as_secs() < 5 {}
        assert!(proc_ticks(std::process::id(), true) >= 1);
    }
}
