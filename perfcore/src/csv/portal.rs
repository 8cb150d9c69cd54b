//! The portal upload CSV: the machine-to-server contract of the older portal.
//!
//! ```text
//! timestamp,cpu_user,cpu_system,cpu_idle,cpu_iowait,cpu_steal,mem_total_kb,mem_used_kb,mem_free_kb,mem_cached_kb,disk_read_bytes,disk_write_bytes,net_rx_bytes,net_tx_bytes
//! ```
//!
//! Timestamps are unix seconds; cpu in percent; memory in KiB; disk and net in
//! bytes per second despite their names. Files written by the older tools are
//! accepted as they are (empty cells where a subsystem had no row; `mem_total_kb`
//! computed in two different ways). We write `mem_total_kb` = MemTotal, disk as
//! the sum over whole disks and net over physical interfaces.

use std::io::{Read, Write};

use super::{csv_error, parse_cell};
use crate::error::{Error, Result};
use crate::gofmt::push_float;
use crate::metrics::{IntervalRow, Metric};
use crate::rates::Interval;

/// The header, exactly.
pub const HEADER: &str = "timestamp,cpu_user,cpu_system,cpu_idle,cpu_iowait,cpu_steal,mem_total_kb,mem_used_kb,mem_free_kb,mem_cached_kb,disk_read_bytes,disk_write_bytes,net_rx_bytes,net_tx_bytes";

/// The value columns after `timestamp`, in order.
pub const COLUMNS: [&str; 13] = [
    "cpu_user",
    "cpu_system",
    "cpu_idle",
    "cpu_iowait",
    "cpu_steal",
    "mem_total_kb",
    "mem_used_kb",
    "mem_free_kb",
    "mem_cached_kb",
    "disk_read_bytes",
    "disk_write_bytes",
    "net_rx_bytes",
    "net_tx_bytes",
];

/// Index in [`COLUMNS`] of `mem_total_kb`, the first of the columns the older tools
/// wrote as integers.
const FIRST_INTEGER_COLUMN: usize = 5;

/// One portal row.
#[derive(Debug, Clone, PartialEq)]
pub struct PortalRow {
    /// Unix seconds.
    pub timestamp_s: i64,
    /// Values in [`COLUMNS`] order; `None` for an empty cell.
    pub values: [Option<f64>; 13],
}

impl PortalRow {
    /// The portal row of one interval.
    pub fn from_interval(iv: &Interval) -> Self {
        let row = IntervalRow::from_interval(iv);
        let mut p = Self::from_row(&row);
        p.timestamp_s = iv.timestamp_s();
        p
    }

    /// The portal row of a wide row (memory from bytes to KiB).
    pub fn from_row(row: &IntervalRow) -> Self {
        use Metric as M;
        let kib = |m: Metric| row.get(m).map(|b| (b / 1024.0).round());
        PortalRow {
            timestamp_s: row.timestamp_ms.div_euclid(1000),
            values: [
                row.get(M::CpuUserPct),
                row.get(M::CpuSystemPct),
                row.get(M::CpuIdlePct),
                row.get(M::CpuIowaitPct),
                row.get(M::CpuStealPct),
                kib(M::MemTotalBytes),
                kib(M::MemUsedBytes),
                kib(M::MemFreeBytes),
                kib(M::MemCachedBytes),
                row.get(M::DiskReadBytesPerS),
                row.get(M::DiskWriteBytesPerS),
                row.get(M::NetRxBytesPerS),
                row.get(M::NetTxBytesPerS),
            ],
        }
    }

    /// The wide row this portal row carries (other metrics empty).
    pub fn to_row(&self) -> IntervalRow {
        use Metric as M;
        let mut r = IntervalRow::new(self.timestamp_s.saturating_mul(1000), 0.0);
        let v = &self.values;
        let bytes = |x: Option<f64>| x.map(|k| k * 1024.0);
        r.set(M::CpuUserPct, v[0]);
        r.set(M::CpuSystemPct, v[1]);
        r.set(M::CpuIdlePct, v[2]);
        r.set(M::CpuIowaitPct, v[3]);
        r.set(M::CpuStealPct, v[4]);
        r.set(M::MemTotalBytes, bytes(v[5]));
        r.set(M::MemUsedBytes, bytes(v[6]));
        r.set(M::MemFreeBytes, bytes(v[7]));
        r.set(M::MemCachedBytes, bytes(v[8]));
        if let (Some(used), Some(total)) = (v[6], v[5])
            && total > 0.0
        {
            r.set(M::MemUsedPct, Some(used / total * 100.0));
        }
        r.set(M::DiskReadBytesPerS, v[9]);
        r.set(M::DiskWriteBytesPerS, v[10]);
        r.set(M::NetRxBytesPerS, v[11]);
        r.set(M::NetTxBytesPerS, v[12]);
        r
    }
}

/// Writes portal CSV as the older tools did: floats in Go's `%v` form, memory, disk
/// and network as integers, CRLF line ends.
#[derive(Debug)]
pub struct PortalWriter<W: Write> {
    out: W,
    line: String,
}

impl<W: Write> PortalWriter<W> {
    /// Starts a file, writing the header.
    pub fn new(mut out: W) -> std::io::Result<Self> {
        out.write_all(HEADER.as_bytes())?;
        out.write_all(b"\r\n")?;
        Ok(PortalWriter {
            out,
            line: String::with_capacity(256),
        })
    }

    /// Writes one row.
    pub fn write(&mut self, row: &PortalRow) -> std::io::Result<()> {
        let l = &mut self.line;
        l.clear();
        let mut b = itoa::Buffer::new();
        l.push_str(b.format(row.timestamp_s));
        for (i, v) in row.values.iter().enumerate() {
            l.push(',');
            match v {
                // The older tools wrote memory (KiB), disk and net (bytes/s) as integers:
                // 3570992, where Go's %v of a float would print 3.570992e+06.
                Some(v) if i >= FIRST_INTEGER_COLUMN && v.fract() == 0.0 && v.abs() < 9.0e15 => {
                    l.push_str(b.format(*v as i64));
                }
                Some(v) => push_float(l, *v),
                None => {}
            }
        }
        // The older tools' portal files end lines with CRLF (every upstream fixture).
        l.push_str("\r\n");
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

/// Reads a portal CSV. Columns are matched by name; `timestamp` is required and
/// must be unix seconds (integer or float) or RFC 3339. A bad cell is an error
/// naming its line and column.
pub fn read<R: Read>(input: R) -> Result<Vec<PortalRow>> {
    let mut rdr = ::csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(input);
    let headers = rdr.headers().map_err(csv_error)?.clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let ts_col = col("timestamp").ok_or_else(|| Error::Csv {
        line: 1,
        column: "timestamp".into(),
        message: "missing column".into(),
    })?;
    let idx: Vec<Option<usize>> = COLUMNS.iter().map(|c| col(c)).collect();
    let mut out = Vec::new();
    let mut rec = ::csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(csv_error)? {
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let ts_text = rec.get(ts_col).unwrap_or("").trim();
        let ts_ms = crate::time::parse_time_ms(ts_text).map_err(|_| Error::Csv {
            line,
            column: "timestamp".into(),
            message: format!("not a time: {ts_text:?}"),
        })?;
        let mut values = [None; 13];
        for (k, i) in idx.iter().enumerate() {
            if let Some(i) = i {
                values[k] = parse_cell(rec.get(*i).unwrap_or(""), line, COLUMNS[k])?;
            }
        }
        out.push(PortalRow {
            timestamp_s: ts_ms.div_euclid(1000),
            values,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "timestamp,cpu_user,cpu_system,cpu_idle,cpu_iowait,cpu_steal,mem_total_kb,mem_used_kb,mem_free_kb,mem_cached_kb,disk_read_bytes,disk_write_bytes,net_rx_bytes,net_tx_bytes\n\
1767813021,0.5010020040107737,0.3006012024050973,98.8977955911836,0.30060120240737553,0,785248,199500,114004,429276,27443,126156,648,989\n\
1767813026,1.0020040080124342,1.2024048096249458,97.79559118234894,0,0,785204,199944,113500,429292,,,,\n";

    #[test]
    fn reads_and_rewrites_the_older_file_byte_for_byte() {
        let rows = read(OLD.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].timestamp_s, 1767813021);
        assert_eq!(rows[0].values[0], Some(0.5010020040107737));
        assert_eq!(rows[1].values[9], None);
        let mut w = PortalWriter::new(Vec::new()).unwrap();
        for r in &rows {
            w.write(r).unwrap();
        }
        assert_eq!(
            String::from_utf8(w.finish().unwrap()).unwrap(),
            OLD.replace('\n', "\r\n")
        );
    }

    #[test]
    fn large_integer_columns_stay_integers() {
        // Regression: 3570992 KiB came back as Go's float form 3.570992e+06.
        let text = format!(
            "{HEADER}\n1767800531,50.60000000000002,1.25,47.95000000000016,0.15000000000000568,0,3570992,365928,1221336,1983700,1160396,2252,821,561\n"
        );
        let rows = read(text.as_bytes()).unwrap();
        let mut w = PortalWriter::new(Vec::new()).unwrap();
        w.write(&rows[0]).unwrap();
        assert_eq!(
            String::from_utf8(w.finish().unwrap()).unwrap(),
            text.replace('\n', "\r\n")
        );
    }

    #[test]
    fn to_wide_row_converts_units() {
        let rows = read(OLD.as_bytes()).unwrap();
        let r = rows[0].to_row();
        assert_eq!(r.get(Metric::MemTotalBytes), Some(785248.0 * 1024.0));
        assert_eq!(r.get(Metric::DiskReadBytesPerS), Some(27443.0));
        assert_eq!(r.timestamp_ms, 1_767_813_021_000);
    }

    #[test]
    fn bad_cell_is_named() {
        let text = format!("{HEADER}\n1,2,3,4,5,6,7,8,9,10,x,12,13,14\n");
        let e = read(text.as_bytes()).unwrap_err().to_string();
        assert_eq!(e, "CSV line 2, column disk_read_bytes: not a number: \"x\"");
        let short = format!("{HEADER}\n1,2,3\n");
        let e = read(short.as_bytes()).unwrap_err().to_string();
        assert!(e.starts_with("CSV line 2"), "{e}");
    }
}
