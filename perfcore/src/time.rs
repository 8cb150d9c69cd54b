//! Timestamps: parsing RFC 3339 or unix seconds, printing RFC 3339 UTC.

use crate::error::{Error, Result};

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
    fn formatting() {
        assert_eq!(format_rfc3339_ms(1_767_813_021_000), "2026-01-07T19:10:21Z");
        assert_eq!(
            format_rfc3339_ms(1_767_813_021_250),
            "2026-01-07T19:10:21.250Z"
        );
    }
}
