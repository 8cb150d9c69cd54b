//! Timestamps and durations: parsing RFC 3339 or unix seconds, printing
//! RFC 3339 UTC, and Go-style durations (`630s`, `1h30m`, `1.5s`).

use std::time::Duration;

use crate::error::{Error, Result};

/// Parses a duration as Go's `time.ParseDuration` does: a sequence of decimal
/// numbers, each with an optional fraction and a unit (`ns`, `us`/`µs`, `ms`,
/// `s`, `m`, `h`), e.g. `630s`, `24h`, `1h30m`, `100ms`, `1.5s`; `0` alone is
/// zero. Negative durations are refused (nothing here can wait a negative time).
///
/// ```
/// use std::time::Duration;
/// use perfcore::time::parse_go_duration;
/// assert_eq!(parse_go_duration("1h30m")?, Duration::from_secs(5400));
/// assert_eq!(parse_go_duration("1.5s")?, Duration::from_millis(1500));
/// assert!(parse_go_duration("10").is_err()); // Go wants a unit
/// # Ok::<(), perfcore::Error>(())
/// ```
pub fn parse_go_duration(s: &str) -> Result<Duration> {
    let bad = |why: &str| Error::Duration {
        input: s.to_owned(),
        message: why.to_owned(),
    };
    let mut rest = s.trim();
    if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    } else if rest.starts_with('-') {
        return Err(bad("negative durations are not allowed"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad("empty"));
    }
    let mut total_ns: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, r) = rest.split_at(int_len);
        let (frac_part, r) = match r.strip_prefix('.') {
            Some(r) => {
                let n = r.bytes().take_while(u8::is_ascii_digit).count();
                r.split_at(n)
            }
            None => ("", r),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad("expected a number (like 10s, 1h30m, 100ms)"));
        }
        let unit_len = r
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(r.len(), |(i, _)| i);
        let (unit, r) = r.split_at(unit_len);
        let unit_ns: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(bad("missing unit (ns, us, ms, s, m, h)")),
            _ => return Err(bad(&format!("unknown unit {unit:?} (ns, us, ms, s, m, h)"))),
        };
        let overflow = || bad("too large");
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| overflow())?
        };
        let mut ns = int.checked_mul(unit_ns).ok_or_else(overflow)?;
        // The fraction: digits beyond what the unit can resolve are dropped, as Go does.
        let mut scale = unit_ns;
        for d in frac_part.bytes() {
            scale /= 10;
            if scale == 0 {
                break;
            }
            ns += u128::from(d - b'0') * scale;
        }
        total_ns = total_ns.checked_add(ns).ok_or_else(overflow)?;
        rest = r;
    }
    // Go's limit: a Duration is an int64 of nanoseconds (about 292 years).
    if total_ns > i64::MAX as u128 {
        return Err(bad("too large"));
    }
    Ok(Duration::from_nanos(total_ns as u64))
}

/// Formats a duration the way Go's `Duration.String` does (`1h30m0s`, `1.5s`,
/// `100ms`, `0s`).
pub fn format_go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_owned();
    }
    if ns < 1_000_000_000 {
        let (v, unit, div) = if ns < 1_000 {
            (ns, "ns", 1)
        } else if ns < 1_000_000 {
            (ns, "\u{b5}s", 1_000)
        } else {
            (ns, "ms", 1_000_000)
        };
        return format!("{}{unit}", frac(v, div));
    }
    let secs_ns = ns % 60_000_000_000;
    let mins = (ns / 60_000_000_000) % 60;
    let hours = ns / 3_600_000_000_000;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || mins > 0 {
        out.push_str(&format!("{mins}m"));
    }
    out.push_str(&format!("{}s", frac(secs_ns, 1_000_000_000)));
    out
}

/// `v / div` in decimal, trailing zeros of the fraction dropped.
fn frac(v: u128, div: u128) -> String {
    let whole = v / div;
    let mut rem = v % div;
    if rem == 0 {
        return whole.to_string();
    }
    let mut digits = String::new();
    let mut d = div;
    while rem > 0 && d > 1 {
        d /= 10;
        digits.push(char::from(b'0' + (rem / d) as u8));
        rem %= d;
    }
    format!("{whole}.{digits}")
}

/// Parses a time given as RFC 3339 (`2026-01-07T19:10:21Z`, with offset or fraction)
/// or unix seconds (`1767813021`, `1767813021.5`), to ms since the epoch.
pub fn parse_time_ms(s: &str) -> Result<i64> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<i64>() {
        return secs
            .checked_mul(1000)
            .ok_or_else(|| Error::Interval(format!("time out of range: {t}")));
    }
    if let Ok(secs) = t.parse::<f64>()
        && secs.is_finite()
        && secs.abs() < 1e15
    {
        return Ok((secs * 1000.0).round() as i64);
    }
    let ts: jiff::Timestamp = t.parse().map_err(|e| {
        Error::Interval(format!(
            "not a time (RFC 3339 like 2026-01-07T19:10:21Z, or unix seconds): {t:?}: {e}"
        ))
    })?;
    Ok(ts.as_millisecond())
}

/// Formats ms since the epoch as RFC 3339 UTC (`2026-01-07T19:10:21Z`, with
/// milliseconds only when they are not zero).
pub fn format_rfc3339_ms(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => {
            if ms.rem_euclid(1000) == 0 {
                format!("{ts:.0}")
            } else {
                format!("{ts:.3}")
            }
        }
        Err(_) => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        assert_eq!(parse_time_ms("1767813021").unwrap(), 1_767_813_021_000);
        assert_eq!(parse_time_ms("1767813021.5").unwrap(), 1_767_813_021_500);
        assert_eq!(
            parse_time_ms("2026-01-07T19:10:21Z").unwrap(),
            1_767_813_021_000
        );
        assert_eq!(
            parse_time_ms("2026-01-07T20:10:21+01:00").unwrap(),
            1_767_813_021_000
        );
        assert!(parse_time_ms("yesterday").is_err());
    }

    #[test]
    fn go_durations() {
        let d = |s| parse_go_duration(s).unwrap();
        assert_eq!(d("630s"), Duration::from_secs(630));
        assert_eq!(d("24h"), Duration::from_secs(86_400));
        assert_eq!(d("70m"), Duration::from_secs(4_200));
        assert_eq!(d("1h30m"), Duration::from_secs(5_400));
        assert_eq!(d("100ms"), Duration::from_millis(100));
        assert_eq!(d("1.5s"), Duration::from_millis(1_500));
        assert_eq!(d(".5s"), Duration::from_millis(500));
        assert_eq!(d("1.5h"), Duration::from_secs(5_400));
        assert_eq!(d("2h45m30.5s"), Duration::from_millis(9_930_500));
        assert_eq!(d("1us"), Duration::from_micros(1));
        assert_eq!(d("1\u{b5}s"), Duration::from_micros(1));
        assert_eq!(d("7ns"), Duration::from_nanos(7));
        assert_eq!(d("0"), Duration::ZERO);
        assert_eq!(d("+5s"), Duration::from_secs(5));
        assert_eq!(d("0.000000001s"), Duration::from_nanos(1));
        for bad in [
            "",
            "10",
            "s",
            "5x",
            "-5s",
            "1.s5",
            "5s3",
            ".s",
            "1e3s",
            "9999999999999h",
        ] {
            let e = parse_go_duration(bad);
            assert!(e.is_err(), "{bad:?} gave {e:?}");
        }
        let msg = parse_go_duration("5x").unwrap_err().to_string();
        assert_eq!(
            msg,
            "duration \"5x\": unknown unit \"x\" (ns, us, ms, s, m, h)"
        );
    }

    #[test]
    fn go_duration_strings() {
        let f = |ms| format_go_duration(Duration::from_millis(ms));
        assert_eq!(f(0), "0s");
        assert_eq!(f(100), "100ms");
        assert_eq!(f(1_500), "1.5s");
        assert_eq!(f(630_000), "10m30s");
        assert_eq!(f(5_400_000), "1h30m0s");
        assert_eq!(f(86_400_000), "24h0m0s");
        assert_eq!(format_go_duration(Duration::from_micros(1500)), "1.5ms");
        for s in ["1h30m0s", "1.5s", "100ms", "10m30s"] {
            assert_eq!(format_go_duration(parse_go_duration(s).unwrap()), s);
        }
    }

    #[test]
    fn formatting() {
        assert_eq!(format_rfc3339_ms(1_767_813_021_000), "2026-01-07T19:10:21Z");
        assert_eq!(
            format_rfc3339_ms(1_767_813_021_250),
            "2026-01-07T19:10:21.250Z"
        );
    }
}
