//! CSV formats: our schema ([`ours`]), the older processor's per-subsystem files
//! ([`pcprocess`]) and the portal upload CSV ([`portal`]).

pub mod ours;
pub mod pcprocess;
pub mod portal;

use crate::error::Error;

/// Which CSV layout a header line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layout {
    /// Our wide interval schema.
    OursWide,
    /// Our long per-device schema.
    OursLong,
    /// The portal upload CSV.
    Portal,
    /// One of the older processor's per-subsystem files.
    Pcprocess(pcprocess::File),
}

/// Tells the layout from the first line of a CSV file.
pub fn detect(first_line: &str) -> Option<Layout> {
    let line = first_line.trim_end_matches(['\r', '\n']);
    if let Some(f) = pcprocess::File::from_header(line) {
        return Some(Layout::Pcprocess(f));
    }
    let cols: Vec<&str> = line.split(',').map(str::trim).collect();
    if cols.first() == Some(&"timestamp") {
        if cols.get(1) == Some(&"machine_id") && cols.get(2) == Some(&"kind") {
            return Some(Layout::OursLong);
        }
        if cols.get(1) == Some(&"machine_id") {
            return Some(Layout::OursWide);
        }
        if cols.contains(&"cpu_user") {
            return Some(Layout::Portal);
        }
    }
    None
}

/// Formats a float for our CSV: integers without a fraction, others with the
/// shortest digits that round-trip.
pub fn push_number(out: &mut String, v: f64) {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let mut b = itoa::Buffer::new();
        out.push_str(b.format(v as i64));
    } else if v.is_finite() {
        let mut b = ryu::Buffer::new();
        out.push_str(b.format_finite(v));
    } else {
        out.push_str(if v.is_nan() {
            "NaN"
        } else if v > 0.0 {
            "inf"
        } else {
            "-inf"
        });
    }
}

/// Builds the error for a bad cell.
pub(crate) fn cell_error(line: u64, column: &str, message: impl Into<String>) -> Error {
    Error::Csv {
        line,
        column: column.to_owned(),
        message: message.into(),
    }
}

/// Converts a csv crate error, naming the line.
pub(crate) fn csv_error(e: ::csv::Error) -> Error {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    let message = match e.kind() {
        ::csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields, the header has {expected_len}"),
        ::csv::ErrorKind::Utf8 { err, .. } => format!("not UTF-8 (field {})", err.field() + 1),
        ::csv::ErrorKind::Io(err) => format!("read error: {err}"),
        _ => e.to_string(),
    };
    Error::Csv {
        line,
        column: String::from("-"),
        message,
    }
}

/// Parses an optional float cell: empty is `None`.
pub(crate) fn parse_cell(s: &str, line: u64, column: &str) -> Result<Option<f64>, Error> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(cell_error(line, column, format!("not a number: {t:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let f = |v| {
            let mut s = String::new();
            push_number(&mut s, v);
            s
        };
        assert_eq!(f(1024.0), "1024");
        assert_eq!(f(0.5), "0.5");
        assert_eq!(f(-3.0), "-3");
        assert_eq!(f(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn detects_layouts() {
        assert_eq!(
            detect("timestamp,machine_id,interval_s,cpu_user_pct"),
            Some(Layout::OursWide)
        );
        assert_eq!(
            detect("timestamp,machine_id,kind,device,metric,value"),
            Some(Layout::OursLong)
        );
        assert_eq!(detect(portal::HEADER), Some(Layout::Portal));
        assert_eq!(
            detect("#timestamp,CPU,%usr,%nice,%system,%iowait,%steal,%idle"),
            Some(Layout::Pcprocess(pcprocess::File::Stat))
        );
        assert_eq!(detect("a,b,c"), None);
    }
}
