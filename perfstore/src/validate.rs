//! Checks of a batch before anything is written: one bad row rejects the batch.

use perfcore::metrics::{DeviceRow, IntervalRow, Metric};

use crate::error::{Error, Result};

/// Latest timestamp accepted: 9999-12-31T23:59:59.999Z.
const MAX_TS_MS: i64 = 253_402_300_799_999;

/// Longest device or metric name accepted.
const MAX_NAME_LEN: usize = 255;

fn bad(what: &'static str, index: usize, timestamp_ms: i64, message: String) -> Error {
    Error::BadRow {
        what,
        index,
        timestamp_ms,
        message,
    }
}

fn check_ts(what: &'static str, index: usize, ts: i64) -> Result<()> {
    if !(0..=MAX_TS_MS).contains(&ts) {
        return Err(bad(
            what,
            index,
            ts,
            "timestamp outside 1970-01-01 .. 9999-12-31".into(),
        ));
    }
    Ok(())
}

/// Checks every row; the first bad one is named in the error.
pub(crate) fn check_batch(rows: &[IntervalRow], devices: &[DeviceRow]) -> Result<()> {
    for (i, r) in rows.iter().enumerate() {
        check_ts("row", i, r.timestamp_ms)?;
        if !r.elapsed_s.is_finite() || r.elapsed_s < 0.0 {
            return Err(bad(
                "row",
                i,
                r.timestamp_ms,
                format!("interval_s is {} (must be finite, >= 0)", r.elapsed_s),
            ));
        }
        for (m, v) in Metric::ALL.iter().zip(&r.values) {
            if let Some(v) = v
                && !v.is_finite()
            {
                return Err(bad(
                    "row",
                    i,
                    r.timestamp_ms,
                    format!("{} is {v} (values must be finite)", m.name()),
                ));
            }
        }
    }
    for (i, d) in devices.iter().enumerate() {
        check_ts("device row", i, d.timestamp_ms)?;
        if d.device.is_empty() || d.device.len() > MAX_NAME_LEN {
            return Err(bad(
                "device row",
                i,
                d.timestamp_ms,
                format!("device name must be 1 to {MAX_NAME_LEN} bytes"),
            ));
        }
        if d.metric.is_empty() || d.metric.len() > MAX_NAME_LEN {
            return Err(bad(
                "device row",
                i,
                d.timestamp_ms,
                format!("metric name must be 1 to {MAX_NAME_LEN} bytes"),
            ));
        }
        if !d.value.is_finite() {
            return Err(bad(
                "device row",
                i,
                d.timestamp_ms,
                format!(
                    "{} {} {} is {} (values must be finite)",
                    d.kind.as_str(),
                    d.device,
                    d.metric,
                    d.value
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_first_bad_row() {
        let mut rows: Vec<IntervalRow> = (0..5).map(|i| IntervalRow::new(i * 1000, 5.0)).collect();
        assert!(check_batch(&rows, &[]).is_ok());
        rows[3].set(Metric::Load1, Some(f64::NAN));
        let e = check_batch(&rows, &[]).unwrap_err().to_string();
        assert_eq!(
            e,
            "batch rejected, nothing stored: row 3 (timestamp 3000 ms): load1 is NaN (values must be finite)"
        );
        rows[3].set(Metric::Load1, Some(1.0));
        rows[1].elapsed_s = -1.0;
        assert!(matches!(
            check_batch(&rows, &[]),
            Err(Error::BadRow { index: 1, .. })
        ));
        rows[1].elapsed_s = 1.0;
        rows[4].timestamp_ms = -5;
        assert!(matches!(
            check_batch(&rows, &[]),
            Err(Error::BadRow { index: 4, .. })
        ));
    }
}
