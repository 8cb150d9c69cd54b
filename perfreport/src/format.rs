//! Units, numbers and times as people read them.

use serde::Serialize;

/// The unit of a series, for axis scaling and table formatting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Unit {
    Percent,
    Bytes,
    BytesPerS,
    PerS,
    PagesPerS,
    Ms,
    Tasks,
    Load,
    Cpus,
    Count,
}

impl Unit {
    /// The unit of a perfcore metric unit string.
    pub(crate) fn from_metric_unit(u: &str) -> Unit {
        match u {
            "%" => Unit::Percent,
            "B" => Unit::Bytes,
            "B/s" => Unit::BytesPerS,
            "1/s" => Unit::PerS,
            "pages/s" => Unit::PagesPerS,
            "ms" => Unit::Ms,
            "tasks" => Unit::Tasks,
            "load" => Unit::Load,
            "CPUs" => Unit::Cpus,
            _ => Unit::Count,
        }
    }

    /// The unit as written after a number.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Unit::Percent => "%",
            Unit::Bytes => "B",
            Unit::BytesPerS => "B/s",
            Unit::PerS => "/s",
            Unit::PagesPerS => "pages/s",
            Unit::Ms => "ms",
            Unit::Tasks => "tasks",
            Unit::Load => "",
            Unit::Cpus => "CPUs",
            Unit::Count => "",
        }
    }
}

/// How an axis shows values of a unit: divide by `div`, name the result `label`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scale {
    pub div: f64,
    pub label: String,
}

const BINARY: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
const DECIMAL: [&str; 5] = ["", "k", "M", "G", "T"];

/// The scale that keeps the axis numbers of `max` (in `unit`) short.
pub(crate) fn scale_for(unit: Unit, max: f64) -> Scale {
    let max = if max.is_finite() { max.abs() } else { 0.0 };
    match unit {
        Unit::Bytes | Unit::BytesPerS => {
            let mut k = 0;
            while k + 1 < BINARY.len() && max >= 1024f64.powi(k as i32 + 1) {
                k += 1;
            }
            let suffix = if unit == Unit::BytesPerS { "/s" } else { "" };
            Scale {
                div: 1024f64.powi(k as i32),
                label: format!("{}{suffix}", BINARY[k]),
            }
        }
        Unit::PerS | Unit::PagesPerS => {
            let mut k = 0;
            while k + 1 < DECIMAL.len() && max >= 1000f64.powi(k as i32 + 1) * 10.0 {
                k += 1;
            }
            let what = if unit == Unit::PagesPerS {
                "pages/s"
            } else {
                "per s"
            };
            Scale {
                div: 1000f64.powi(k as i32),
                label: if k == 0 {
                    what.to_owned()
                } else {
                    format!(
                        "{} {what}",
                        ["", "thousand", "million", "billion", "trillion"][k]
                    )
                },
            }
        }
        Unit::Percent => Scale {
            div: 1.0,
            label: "%".into(),
        },
        Unit::Ms => Scale {
            div: 1.0,
            label: "ms".into(),
        },
        Unit::Tasks => Scale {
            div: 1.0,
            label: "tasks".into(),
        },
        Unit::Load => Scale {
            div: 1.0,
            label: "load".into(),
        },
        Unit::Cpus => Scale {
            div: 1.0,
            label: "CPUs".into(),
        },
        Unit::Count => Scale {
            div: 1.0,
            label: String::new(),
        },
    }
}

/// A number with about three significant digits, no exponent.
pub(crate) fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1e7 {
        // Only nonsense gets here after unit scaling (a mutated file's
        // 1e287): keep it readable rather than 288 digits long.
        sci(v)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        trim(format!("{v:.1}"))
    } else if a >= 1.0 {
        trim(format!("{v:.2}"))
    } else if a >= 0.001 {
        trim(format!("{v:.3}"))
    } else {
        "≈0".into()
    }
}

/// Three significant digits in exponent form: `1.23e9`, `5e287`.
pub(crate) fn sci(v: f64) -> String {
    let s = format!("{v:.2e}");
    match s.split_once('e') {
        Some((m, e)) => format!("{}e{e}", trim(m.to_owned())),
        None => s,
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// A value with its unit, scaled for reading (`1.4 GiB`, `12.5 MiB/s`, `45.2%`).
pub(crate) fn value(v: f64, unit: Unit) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    match unit {
        Unit::Percent => format!("{}%", num(v)),
        Unit::Bytes | Unit::BytesPerS => {
            let s = scale_for(unit, v);
            format!("{} {}", num(v / s.div), s.label)
        }
        Unit::PerS | Unit::PagesPerS => {
            let mut k = 0;
            while k + 1 < DECIMAL.len() && v.abs() >= 1000f64.powi(k as i32 + 1) * 10.0 {
                k += 1;
            }
            let u = if unit == Unit::PagesPerS {
                " pages/s"
            } else {
                "/s"
            };
            format!("{}{}{u}", num(v / 1000f64.powi(k as i32)), DECIMAL[k])
        }
        Unit::Ms => format!("{} ms", num(v)),
        Unit::Tasks | Unit::Cpus | Unit::Load | Unit::Count => num(v),
    }
}

/// A duration in seconds as `9 min 40 s`, `2 h 5 min`, `3 d 4 h`.
pub(crate) fn duration(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "–".into();
    }
    if s < 1.0 {
        return format!("{} ms", (s * 1000.0).round());
    }
    let t = s.round() as u64;
    let (d, h, m, sec) = (t / 86_400, t / 3600 % 24, t / 60 % 60, t % 60);
    if d > 0 {
        if h > 0 {
            format!("{d} d {h} h")
        } else {
            format!("{d} d")
        }
    } else if h > 0 {
        if m > 0 {
            format!("{h} h {m} min")
        } else {
            format!("{h} h")
        }
    } else if m > 0 {
        if sec > 0 {
            format!("{m} min {sec} s")
        } else {
            format!("{m} min")
        }
    } else {
        format!("{sec} s")
    }
}

/// A share (0..=1) as a percentage with sensible digits.
pub(crate) fn share(f: f64) -> String {
    if !f.is_finite() {
        return "–".into();
    }
    let p = f * 100.0;
    if p == 0.0 {
        "0%".into()
    } else if p < 1.0 {
        format!("{}%", trim(format!("{p:.1}")))
    } else {
        format!("{p:.0}%")
    }
}

/// Civil UTC date and time of ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub(crate) fn civil(ms: i64) -> Civil {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem / 60 % 60) as u32,
        second: (rem % 60) as u32,
    }
}

/// `2026-01-10 05:03:48 UTC`.
pub(crate) fn time_utc(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// `2026-01-10`.
pub(crate) fn date_utc(ms: i64) -> String {
    let c = civil(ms);
    format!("{:04}-{:02}-{:02}", c.year, c.month, c.day)
}

/// `05:03:48`.
pub(crate) fn clock_utc(ms: i64) -> String {
    let c = civil(ms);
    format!("{:02}:{:02}:{:02}", c.hour, c.minute, c.second)
}

/// A time range in words: `2026-01-10 05:03:48 to 05:14:08 UTC`.
pub(crate) fn range_utc(start_ms: i64, end_ms: i64) -> String {
    if date_utc(start_ms) == date_utc(end_ms) {
        format!(
            "{} {} to {} UTC",
            date_utc(start_ms),
            clock_utc(start_ms),
            clock_utc(end_ms)
        )
    } else {
        format!(
            "{} {} to {} {} UTC",
            date_utc(start_ms),
            clock_utc(start_ms),
            date_utc(end_ms),
            clock_utc(end_ms)
        )
    }
}

/// Bytes as `3.8 GiB` (for facts).
pub(crate) fn bytes(b: f64) -> String {
    value(b, Unit::Bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_units() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1234.5), "1234");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(0.01234), "0.012");
        assert_eq!(num(9_999_999.0), "9999999");
        assert_eq!(num(12_345_678.0), "1.23e7");
        assert_eq!(num(-5e287), "-5e287");
        assert_eq!(value(3e300, Unit::Percent), "3e300%");
        assert!(
            value(1e300, Unit::Bytes).len() < 20,
            "{}",
            value(1e300, Unit::Bytes)
        );
        assert_eq!(value(45.25, Unit::Percent), "45.2%");
        assert_eq!(
            value(1.5 * 1024.0 * 1024.0 * 1024.0, Unit::Bytes),
            "1.5 GiB"
        );
        assert_eq!(value(2048.0, Unit::BytesPerS), "2 KiB/s");
        assert_eq!(value(25_000.0, Unit::PerS), "25k/s");
        assert_eq!(value(12.5, Unit::Ms), "12.5 ms");
        assert_eq!(scale_for(Unit::BytesPerS, 5e6).label, "MiB/s");
        assert_eq!(scale_for(Unit::PerS, 500.0).div, 1.0);
    }

    #[test]
    fn durations_and_shares() {
        assert_eq!(duration(580.0), "9 min 40 s");
        assert_eq!(duration(7500.0), "2 h 5 min");
        assert_eq!(duration(3.0 * 86_400.0 + 4.0 * 3600.0), "3 d 4 h");
        assert_eq!(duration(0.25), "250 ms");
        assert_eq!(share(0.3512), "35%");
        assert_eq!(share(0.004), "0.4%");
    }

    #[test]
    fn civil_times() {
        assert_eq!(time_utc(1_767_813_021_000), "2026-01-07 19:10:21 UTC");
        assert_eq!(time_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(time_utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(time_utc(-1000), "1969-12-31 23:59:59 UTC");
        assert_eq!(
            range_utc(1_767_813_021_000, 1_767_813_621_000),
            "2026-01-07 19:10:21 to 19:20:21 UTC"
        );
    }
}
