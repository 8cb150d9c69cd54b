//! Our CSV schema (version [`SCHEMA_VERSION`](crate::metrics::SCHEMA_VERSION)):
//! a wide file with one row per interval per machine, and a long file with one
//! row per device value. See `docs/csv-schema.md`.
//!
//! Readers select columns by name, so files written by later versions (which
//! only add columns at the end) still read; missing columns read as empty.

use std::io::{Read, Write};

use super::{csv_error, parse_cell, push_number};
use crate::error::{Error, Result};
use crate::metrics::{DeviceKind, DeviceRow, IntervalRow, METRIC_COUNT, Metric};
use crate::time::{format_rfc3339_ms, parse_time_ms};

/// The fixed columns before the metrics in the wide file.
pub const WIDE_PREFIX: [&str; 3] = ["timestamp", "machine_id", "interval_s"];

/// Header of the long per-device file.
pub const LONG_HEADER: &str = "timestamp,machine_id,kind,device,metric,value";

/// The header line of the wide file (without newline).
pub fn wide_header() -> String {
    let mut h = WIDE_PREFIX.join(",");
    for m in Metric::ALL {
        h.push(',');
        h.push_str(m.name());
    }
    h
}

fn push_field(out: &mut String, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// Writes the wide file.
#[derive(Debug)]
pub struct WideWriter<W: Write> {
    out: W,
    line: String,
}

impl<W: Write> WideWriter<W> {
    /// Starts a file, writing the header.
    pub fn new(mut out: W) -> std::io::Result<Self> {
        let mut h = wide_header();
        h.push('\n');
        out.write_all(h.as_bytes())?;
        Ok(WideWriter {
            out,
            line: String::with_capacity(1024),
        })
    }

    /// Continues a file that already has its header (appending to it).
    pub fn continuing(out: W) -> Self {
        WideWriter {
            out,
            line: String::with_capacity(1024),
        }
    }

    /// Writes one row.
    pub fn write(&mut self, machine_id: &str, row: &IntervalRow) -> std::io::Result<()> {
        let l = &mut self.line;
        l.clear();
        l.push_str(&format_rfc3339_ms(row.timestamp_ms));
        l.push(',');
        push_field(l, machine_id);
        l.push(',');
        push_number(l, row.elapsed_s);
        for v in &row.values {
            l.push(',');
            if let Some(v) = v {
                push_number(l, *v);
            }
        }
        l.push('\n');
        self.out.write_all(l.as_bytes())
    }

    /// The underlying writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes the long per-device file.
#[derive(Debug)]
pub struct LongWriter<W: Write> {
    out: W,
    line: String,
}

impl<W: Write> LongWriter<W> {
    /// Starts a file, writing the header.
    pub fn new(mut out: W) -> std::io::Result<Self> {
        out.write_all(LONG_HEADER.as_bytes())?;
        out.write_all(b"\n")?;
        Ok(LongWriter {
            out,
            line: String::with_capacity(256),
        })
    }

    /// Continues a file that already has its header (appending to it).
    pub fn continuing(out: W) -> Self {
        LongWriter {
            out,
            line: String::with_capacity(256),
        }
    }

    /// Writes rows.
    pub fn write(&mut self, machine_id: &str, rows: &[DeviceRow]) -> std::io::Result<()> {
        let l = &mut self.line;
        l.clear();
        // Rows of one interval share the timestamp and machine: format that prefix once.
        let mut prefix = String::new();
        let mut prefix_ts = None;
        for r in rows {
            if prefix_ts != Some(r.timestamp_ms) {
                prefix.clear();
                prefix.push_str(&format_rfc3339_ms(r.timestamp_ms));
                prefix.push(',');
                push_field(&mut prefix, machine_id);
                prefix.push(',');
                prefix_ts = Some(r.timestamp_ms);
            }
            l.push_str(&prefix);
            l.push_str(r.kind.as_str());
            l.push(',');
            push_field(l, &r.device);
            l.push(',');
            l.push_str(r.metric);
            l.push(',');
            push_number(l, r.value);
            l.push('\n');
        }
        self.out.write_all(l.as_bytes())
    }

    /// The underlying writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One row read from a wide file.
#[derive(Debug, Clone, PartialEq)]
pub struct WideRecord {
    /// The machine the row belongs to.
    pub machine_id: String,
    /// The values.
    pub row: IntervalRow,
}

/// Reads a wide file. A bad cell is an error naming its line and column.
pub fn read_wide<R: Read>(input: R) -> Result<Vec<WideRecord>> {
    let mut rdr = ::csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(input);
    let headers = rdr.headers().map_err(csv_error)?.clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let ts_col =
        col("timestamp").ok_or_else(|| super::cell_error(1, "timestamp", "missing column"))?;
    let machine_col = col("machine_id");
    let interval_col = col("interval_s");
    let metric_cols: Vec<(usize, Metric)> = headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| Metric::from_name(h.trim()).map(|m| (i, m)))
        .collect();
    let mut out = Vec::new();
    let mut rec = ::csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(csv_error)? {
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let ts_text = rec.get(ts_col).unwrap_or("");
        let ts = parse_time_ms(ts_text).map_err(|_| {
            super::cell_error(line, "timestamp", format!("not a time: {ts_text:?}"))
        })?;
        let elapsed = match interval_col {
            Some(i) => parse_cell(rec.get(i).unwrap_or(""), line, "interval_s")?.unwrap_or(0.0),
            None => 0.0,
        };
        let mut row = IntervalRow::new(ts, elapsed);
        for (i, m) in &metric_cols {
            row.values[m.index()] = parse_cell(rec.get(*i).unwrap_or(""), line, m.name())?;
        }
        debug_assert_eq!(row.values.len(), METRIC_COUNT);
        out.push(WideRecord {
            machine_id: machine_col
                .and_then(|i| rec.get(i))
                .unwrap_or("")
                .to_owned(),
            row,
        });
    }
    Ok(out)
}

/// One row read from a long file.
#[derive(Debug, Clone, PartialEq)]
pub struct LongRecord {
    /// The machine.
    pub machine_id: String,
    /// End of the interval, ms since the epoch.
    pub timestamp_ms: i64,
    /// Kind of device.
    pub kind: DeviceKind,
    /// Device name.
    pub device: String,
    /// Metric name.
    pub metric: String,
    /// Value.
    pub value: f64,
}

/// Reads a long file. A bad cell is an error naming its line and column.
pub fn read_long<R: Read>(input: R) -> Result<Vec<LongRecord>> {
    let mut rdr = ::csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(input);
    let headers = rdr.headers().map_err(csv_error)?.clone();
    let want: Vec<&str> = LONG_HEADER.split(',').collect();
    let got: Vec<&str> = headers.iter().map(str::trim).collect();
    if got != want {
        return Err(Error::Csv {
            line: 1,
            column: "-".into(),
            message: format!("expected header {LONG_HEADER:?}"),
        });
    }
    let mut out = Vec::new();
    let mut rec = ::csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(csv_error)? {
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let get = |i: usize| rec.get(i).unwrap_or("");
        let timestamp_ms = parse_time_ms(get(0)).map_err(|_| {
            super::cell_error(line, "timestamp", format!("not a time: {:?}", get(0)))
        })?;
        let kind = DeviceKind::from_name(get(2))
            .ok_or_else(|| super::cell_error(line, "kind", format!("unknown kind {:?}", get(2))))?;
        let value = parse_cell(get(5), line, "value")?
            .ok_or_else(|| super::cell_error(line, "value", "empty"))?;
        out.push(LongRecord {
            machine_id: get(1).to_owned(),
            timestamp_ms,
            kind,
            device: get(3).to_owned(),
            metric: get(4).to_owned(),
            value,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_round_trip() {
        let mut row = IntervalRow::new(1_767_813_021_000, 5.0);
        row.set(Metric::CpuUserPct, Some(12.5));
        row.set(Metric::MemTotalBytes, Some(889_843_712.0));
        let mut w = WideWriter::new(Vec::new()).unwrap();
        w.write("web-1", &row).unwrap();
        let bytes = w.finish().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let second = text.lines().nth(1).unwrap();
        assert!(
            second.starts_with("2026-01-07T19:10:21Z,web-1,5,12.5,"),
            "{second}"
        );
        let back = read_wide(bytes.as_slice()).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].machine_id, "web-1");
        assert_eq!(back[0].row, row);
    }

    #[test]
    fn bad_cell_names_line_and_column() {
        let empty = ",".repeat(METRIC_COUNT - 1);
        let text = format!("{}\n2026-01-07T19:10:21Z,m,5,abc{empty}\n", wide_header());
        let e = read_wide(text.as_bytes()).unwrap_err().to_string();
        assert_eq!(e, "CSV line 2, column cpu_user_pct: not a number: \"abc\"");
        let short = format!("{}\n2026-01-07T19:10:21Z,m,5,1\n", wide_header());
        let e = read_wide(short.as_bytes()).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "CSV line 2, column -: {} fields, the header has {}",
                4,
                METRIC_COUNT + 3
            )
        );
    }

    #[test]
    fn long_round_trip() {
        let rows = vec![DeviceRow {
            timestamp_ms: 1_000,
            kind: DeviceKind::Disk,
            device: "sda".into(),
            metric: "util_pct",
            value: 42.5,
        }];
        let mut w = LongWriter::new(Vec::new()).unwrap();
        w.write("m,1", &rows).unwrap();
        let bytes = w.finish().unwrap();
        assert!(String::from_utf8_lossy(&bytes).contains("\"m,1\",disk,sda,util_pct,42.5"));
        let back = read_long(bytes.as_slice()).unwrap();
        assert_eq!(back[0].machine_id, "m,1");
        assert_eq!(back[0].value, 42.5);
        assert_eq!(back[0].kind, DeviceKind::Disk);
    }
}
