//! Axis ticks: round numbers for values, round UTC times for time.

use crate::format::{self, civil};

/// A tick step of 1, 2, 2.5 or 5 × 10^k such that `max / step` ≤ `n`.
pub(crate) fn nice_step(max: f64, n: usize) -> f64 {
    if !max.is_finite() || max <= 0.0 {
        return 1.0;
    }
    let raw = max / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * mag >= raw {
            return m * mag;
        }
    }
    10.0 * mag
}

/// Top of the axis and its ticks for data up to `max` (about `n` ticks).
pub(crate) fn value_ticks(max: f64, n: usize) -> (f64, Vec<f64>) {
    let step = nice_step(max, n);
    let top = if max.is_finite() && max > 0.0 {
        (max / step).ceil() * step
    } else {
        step
    };
    let count = (top / step).round() as usize;
    ((top), (0..=count).map(|i| i as f64 * step).collect())
}

/// A tick label: as few digits as the step needs.
pub(crate) fn value_label(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() >= 1e7 || step >= 1e6 {
        return format::sci(v);
    }
    // The fewest decimals that show every multiple of the step exactly.
    let decimals = (0..=6)
        .find(|d| {
            let x = step * 10f64.powi(*d);
            (x - x.round()).abs() < 1e-6 * x.abs().max(1.0)
        })
        .unwrap_or(6) as usize;
    format!("{v:.decimals$}")
}

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

const STEPS: [i64; 22] = [
    SEC,
    2 * SEC,
    5 * SEC,
    10 * SEC,
    15 * SEC,
    30 * SEC,
    MIN,
    2 * MIN,
    5 * MIN,
    10 * MIN,
    15 * MIN,
    30 * MIN,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
    14 * DAY,
    28 * DAY,
];

/// Round UTC times within `[t0, t1]`, at most `n` of them, and their labels.
pub(crate) fn time_ticks(t0: i64, t1: i64, n: usize, relative: bool) -> Vec<(i64, String)> {
    let span = (t1 - t0).max(1);
    let n = n.max(2) as i64;
    let step = STEPS
        .iter()
        .copied()
        .find(|s| span / s < n)
        .unwrap_or_else(|| {
            let d = span / n / DAY + 1;
            d * DAY
        });
    let first = t0.div_euclid(step) * step + if t0.rem_euclid(step) == 0 { 0 } else { step };
    let multi_day = !relative && format::date_utc(t0) != format::date_utc(t1);
    let mut out = Vec::new();
    let mut t = first;
    while t <= t1 && out.len() < 100 {
        out.push((t, time_label(t, step, multi_day, relative)));
        t += step;
    }
    out
}

fn time_label(t: i64, step: i64, multi_day: bool, relative: bool) -> String {
    if relative {
        let neg = t < 0;
        let a = t.abs();
        let (d, h, m, s) = (a / DAY, a / HOUR % 24, a / MIN % 60, a / SEC % 60);
        let sign = if neg { "-" } else { "" };
        return if step < MIN {
            format!("{sign}{}:{m:02}:{s:02}", d * 24 + h)
        } else if d > 0 && step >= DAY {
            format!("{sign}{d} d")
        } else {
            format!("{sign}{}:{m:02}", d * 24 + h)
        };
    }
    let c = civil(t);
    if step >= DAY {
        format!("{:02}-{:02}", c.month, c.day)
    } else if step < MIN {
        format!("{:02}:{:02}:{:02}", c.hour, c.minute, c.second)
    } else if multi_day && (c.hour == 0 && c.minute == 0) {
        format!("{:02}-{:02}", c.month, c.day)
    } else if multi_day && step >= 6 * HOUR {
        format!("{:02}-{:02} {:02}h", c.month, c.day, c.hour)
    } else {
        format!("{:02}:{:02}", c.hour, c.minute)
    }
}

/// What the time axis shows, for its caption.
pub(crate) fn time_caption(t0: i64, t1: i64, relative: bool) -> String {
    if relative {
        "Time since each machine's first sample (h:mm)".into()
    } else if format::date_utc(t0) == format::date_utc(t1) {
        format!("Time (UTC) on {}", format::date_utc(t0))
    } else {
        format!(
            "Time (UTC), {} to {}",
            format::date_utc(t0),
            format::date_utc(t1)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_values() {
        assert_eq!(
            value_ticks(97.0, 5),
            (100.0, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0])
        );
        assert_eq!(value_ticks(0.0, 5).0, 1.0);
        assert_eq!(nice_step(7.3, 5), 2.0);
        assert_eq!(nice_step(11.0, 5), 2.5);
        assert_eq!(value_label(2.5, 2.5), "2.5");
        assert_eq!(value_label(0.2, 0.2), "0.2");
        assert_eq!(value_label(0.25, 0.05), "0.25");
        assert_eq!(value_label(40.0, 20.0), "40");
        assert_eq!(value_label(2e287, 1e287), "2e287");
        assert_eq!(value_label(2.5e7, 5e6), "2.5e7");
        assert_eq!(value_label(5e6, 5e6), "5e6", "one form along an axis");
    }

    #[test]
    fn round_utc_ticks() {
        // 2026-01-10 05:03:48 to 05:14:08 UTC: ticks every 2 minutes on the minute.
        let t0 = 1_768_021_428_000;
        let t1 = 1_768_022_048_000;
        let ticks = time_ticks(t0, t1, 8, false);
        assert_eq!(ticks[0].1, "05:04");
        assert_eq!(ticks[1].1, "05:06");
        assert!(
            ticks
                .iter()
                .all(|(t, _)| t % (2 * MIN) == 0 && *t >= t0 && *t <= t1)
        );
        assert_eq!(time_caption(t0, t1, false), "Time (UTC) on 2026-01-10");
        // 11.5 days: ticks on day boundaries, labelled by date.
        let ticks = time_ticks(t0, t0 + 1_000_000 * SEC, 9, false);
        assert!(ticks.iter().all(|(t, _)| t % DAY == 0));
        assert_eq!(ticks[0].1, "01-11");
        assert_eq!(time_ticks(0, 90 * MIN, 4, true)[1].1, "0:30");
    }
}
