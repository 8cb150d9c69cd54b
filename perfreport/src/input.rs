//! Reading [`MachineSeries`] from what perfcore reads: a capture (NDJSON of the
//! older collector), our CSV schema (wide and long files) and portal CSV.
//!
//! ```
//! let capture = concat!(
//!     "{\"timestamp\":100,\"subsystem\":\"/proc/stat\",\"measurement\":\"cpu  10 0 10 80 0 0 0 0 0 0\\n\"}\n",
//!     "{\"timestamp\":105,\"subsystem\":\"/proc/stat\",\"measurement\":\"cpu  20 0 20 160 0 0 0 0 0 0\\n\"}\n",
//! );
//! let m = perfreport::input::from_capture("web-1", capture.as_bytes())?;
//! assert_eq!(m.rows.len(), 1);
//! # Ok::<(), perfreport::Error>(())
//! ```

use std::io::{BufRead, Read};

use perfcore::capture::SampleReader;
use perfcore::csv::Layout;
use perfcore::metrics::{DeviceKind, IntervalRow, MachineFacts, device_rows};
use perfcore::process::{IntervalSink, run};
use perfcore::rates::{Break, Interval};
use perfcore::snapshot::Snapshot;

use crate::error::{Error, Result};
use crate::series::{CounterReset, Grouper, MachineSeries};

struct CaptureSink {
    series: MachineSeries,
    grouper: Grouper,
    resets: Vec<CounterReset>,
}

impl IntervalSink for CaptureSink {
    fn sample(&mut self, snap: &Snapshot<'_>) -> perfcore::Result<()> {
        self.series.facts.update(snap);
        Ok(())
    }

    fn interval(&mut self, iv: &Interval, _cur: &Snapshot<'_>) -> perfcore::Result<()> {
        self.series.rows.push(IntervalRow::from_interval(iv));
        for r in device_rows(iv) {
            let i = self
                .grouper
                .index(&mut self.series.devices, r.kind, &r.device, r.metric);
            self.series.devices[i].push(r.timestamp_ms, r.value);
        }
        for name in &iv.resets {
            self.resets.push(CounterReset::new(iv.end_ms, name.clone()));
        }
        Ok(())
    }

    fn gap(&mut self, at_ms: i64, why: Break) -> perfcore::Result<()> {
        match why {
            Break::Reboot { .. } => self.series.events.reboots.push(at_ms),
            _ => self.series.events.time_not_increasing.push(at_ms),
        }
        Ok(())
    }
}

/// Reads a capture through perfcore's delta math: rows, per-device series,
/// facts, reboots, counter resets and dropped samples. Unreadable lines are
/// skipped and counted (a capture torn by a crash ends in a partial line).
pub fn from_capture<R: BufRead>(machine_id: &str, input: R) -> Result<MachineSeries> {
    let mut sink = CaptureSink {
        series: MachineSeries::new(machine_id),
        grouper: Grouper::new(&[]),
        resets: Vec::new(),
    };
    let mut reader = SampleReader::new(input).skip_bad_lines(true);
    run(&mut reader, &mut sink)?;
    let mut series = sink.series;
    series.events.counter_resets = Some(sink.resets);
    series.events.skipped_lines = reader.bad_lines().len() as u64;
    series.events.sources.push("capture".into());
    Ok(series)
}

/// Reads our wide CSV: one series per `machine_id` in the file (`default_id`
/// where the column is empty or missing).
pub fn from_wide_csv<R: Read>(default_id: &str, input: R) -> Result<Vec<MachineSeries>> {
    let records = perfcore::csv::ours::read_wide(input)?;
    let mut out: Vec<MachineSeries> = Vec::new();
    for rec in records {
        let id = if rec.machine_id.is_empty() {
            default_id
        } else {
            rec.machine_id.as_str()
        };
        let i = match out.iter().position(|m| m.machine_id == id) {
            Some(i) => i,
            None => {
                let mut m = MachineSeries::new(id);
                m.events.sources.push("CSV (ours, wide)".into());
                out.push(m);
                out.len() - 1
            }
        };
        out[i].rows.push(rec.row);
    }
    Ok(out)
}

/// Reads our long per-device CSV: one series per `machine_id` (devices only).
pub fn from_long_csv<R: Read>(default_id: &str, input: R) -> Result<Vec<MachineSeries>> {
    let records = perfcore::csv::ours::read_long(input)?;
    let mut out: Vec<(MachineSeries, Grouper)> = Vec::new();
    for rec in records {
        let id = if rec.machine_id.is_empty() {
            default_id
        } else {
            rec.machine_id.as_str()
        };
        let i = match out.iter().position(|(m, _)| m.machine_id == id) {
            Some(i) => i,
            None => {
                let mut m = MachineSeries::new(id);
                m.events.sources.push("CSV (ours, per device)".into());
                out.push((m, Grouper::new(&[])));
                out.len() - 1
            }
        };
        let (m, g) = &mut out[i];
        let d = g.index(&mut m.devices, rec.kind, &rec.device, &rec.metric);
        m.devices[d].push(rec.timestamp_ms, rec.value);
    }
    Ok(out.into_iter().map(|(m, _)| m).collect())
}

/// Reads a portal upload CSV (CPU, memory, and disk and network totals only).
pub fn from_portal_csv<R: Read>(machine_id: &str, input: R) -> Result<MachineSeries> {
    let rows = perfcore::csv::portal::read(input)?;
    let mut m = MachineSeries::new(machine_id);
    m.rows = rows.iter().map(|r| r.to_row()).collect();
    m.events.sources.push("portal CSV".into());
    Ok(m)
}

/// Reads what the older processor's per-subsystem CSV directory holds
/// (`proc/stat`, `proc/meminfo`, `proc/net/dev`, `proc/diskstats`, `statfs_ALL`,
/// `system_info.json`), as [`perfcore::csv::pcprocess::read_dir`] gives it.
///
/// The machine is the files' `host` column when they have one (the R report's
/// variant), else `default_id`. Filesystem use comes as the older tool's rounded
/// `use` (whole percent): it is the report's `used_pct` for these files.
pub fn from_pcprocess(
    default_id: &str,
    data: perfcore::csv::pcprocess::PcprocessData,
) -> MachineSeries {
    let id = data
        .site_host
        .as_ref()
        .map(|(_, host)| host.as_str())
        .filter(|h| !h.is_empty())
        .unwrap_or(default_id);
    let mut m = MachineSeries::new(id);
    if let Some(f) = data.facts {
        m.facts = f;
    }
    m.rows = data.rows;
    let has_used = data
        .devices
        .iter()
        .any(|d| d.kind == DeviceKind::Fs && d.metric == "used_pct");
    m.add_device_rows(data.devices.into_iter().map(|mut d| {
        if !has_used && d.kind == DeviceKind::Fs && d.metric == "use_pct" {
            d.metric = "used_pct";
        }
        d
    }));
    m.events
        .sources
        .push("per-subsystem CSV (pcprocess)".into());
    m
}

/// Reads a per-subsystem CSV directory (see [`from_pcprocess`]).
pub fn from_pcprocess_dir(default_id: &str, dir: &std::path::Path) -> Result<MachineSeries> {
    let data = perfcore::csv::pcprocess::read_dir(dir)?;
    Ok(from_pcprocess(default_id, data))
}

/// What kind of input some bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputKind {
    /// A capture (NDJSON, one object per subsystem per tick).
    Capture,
    /// Our wide CSV.
    WideCsv,
    /// Our long per-device CSV.
    LongCsv,
    /// The portal upload CSV.
    PortalCsv,
    /// One file of the older per-subsystem CSV directory (read the directory instead).
    PcprocessFile,
}

/// Tells a capture from the CSV layouts by the first non-blank line.
pub fn detect(bytes: &[u8]) -> Option<InputKind> {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]);
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let first = first.trim_start_matches('\u{feff}');
    if first.starts_with('{') {
        return perfcore::capture::looks_like_record(first).then_some(InputKind::Capture);
    }
    match perfcore::csv::detect(first)? {
        Layout::OursWide => Some(InputKind::WideCsv),
        Layout::OursLong => Some(InputKind::LongCsv),
        Layout::Portal => Some(InputKind::PortalCsv),
        Layout::Pcprocess(_) => Some(InputKind::PcprocessFile),
        _ => None,
    }
}

/// Reads a capture or a CSV file of any layout we know (detected from its
/// content); `default_id` names the machine where the data does not.
pub fn from_bytes(default_id: &str, bytes: &[u8]) -> Result<Vec<MachineSeries>> {
    match detect(bytes) {
        Some(InputKind::Capture) => Ok(vec![from_capture(default_id, bytes)?]),
        Some(InputKind::WideCsv) => from_wide_csv(default_id, bytes),
        Some(InputKind::LongCsv) => from_long_csv(default_id, bytes),
        Some(InputKind::PortalCsv) => Ok(vec![from_portal_csv(default_id, bytes)?]),
        Some(InputKind::PcprocessFile) => Err(Error::Input(
            "this is one file of the older per-subsystem CSV directory: give the directory".into(),
        )),
        None => Err(Error::Input(
            "not a capture (NDJSON) nor a CSV layout we know (our wide or long schema, portal, per-subsystem)".into(),
        )),
    }
}

/// Names the containers of `series` whose label is their (short) id, from a map
/// of full id to name (see [`perfcore::container::names_in_dir`]). Returns how many were named.
pub fn name_containers(series: &mut MachineSeries, names: &perfcore::container::Names) -> usize {
    let mut renamed: Vec<String> = Vec::new();
    for d in &mut series.devices {
        if d.kind != DeviceKind::Container {
            continue;
        }
        if let Some(name) = perfcore::container::name_for(names, &d.device) {
            if !renamed.contains(&d.device) {
                renamed.push(d.device.clone());
            }
            d.device = name.to_owned();
        }
    }
    renamed.len()
}

/// Fills the host name and kernel release of `facts`, where unknown, from
/// `uname -a` output (`Linux web-1 6.14.0-1016-oracle #16~24.04.1-Ubuntu ...`;
/// the older tools kept it as `system_info/uname.txt`).
pub fn facts_from_uname(facts: &mut MachineFacts, text: &str) {
    let mut f = text.split_whitespace();
    if f.next() != Some("Linux") {
        return;
    }
    if let (Some(host), Some(release)) = (f.next(), f.next()) {
        if facts.hostname.is_none() {
            facts.hostname = Some(host.to_owned());
        }
        if facts.kernel.is_none() {
            facts.kernel = Some(release.to_owned());
        }
    }
}

/// Merges parts of the same machine (same id) in order of first appearance.
pub fn merge(parts: Vec<MachineSeries>) -> Vec<MachineSeries> {
    let mut out: Vec<MachineSeries> = Vec::new();
    for p in parts {
        match out.iter_mut().find(|m| m.machine_id == p.machine_id) {
            Some(m) => m.merge(p),
            None => out.push(p),
        }
    }
    out
}

/// Facts a report can tell from the rows when the source did not record them
/// (CPU count and memory from CSV columns).
pub(crate) fn facts_from_rows(series: &MachineSeries) -> MachineFacts {
    use perfcore::metrics::Metric as M;
    let mut f = series.facts.clone();
    let last = |m: M| series.rows.iter().rev().find_map(|r| r.get(m));
    if f.cpu_count.is_none() {
        f.cpu_count = last(M::CpuCount)
            .filter(|v| v.is_finite() && *v >= 1.0 && *v < 1e6)
            .map(|v| v as u32)
            .or_else(|| {
                let n = series
                    .devices
                    .iter()
                    .filter(|d| d.kind == DeviceKind::Cpu && d.metric == "idle_pct")
                    .count();
                (n > 0).then_some(n as u32)
            });
    }
    if f.mem_total_bytes.is_none() {
        f.mem_total_bytes = last(M::MemTotalBytes)
            .filter(|v| v.is_finite() && *v > 0.0)
            .map(|v| v as u64);
    }
    if f.swap_total_bytes.is_none() {
        f.swap_total_bytes = last(M::SwapTotalBytes)
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| v as u64);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfcore::metrics::Metric;

    #[test]
    fn facts_from_a_uname_line() {
        let mut f = MachineFacts::default();
        facts_from_uname(
            &mut f,
            "Linux perftestvm02 6.14.0-1016-oracle #16~24.04.1-Ubuntu SMP Mon Oct 20 21:11:02 UTC 2025 x86_64 GNU/Linux\n",
        );
        assert_eq!(f.kernel.as_deref(), Some("6.14.0-1016-oracle"));
        assert_eq!(f.hostname.as_deref(), Some("perftestvm02"));
        let mut g = MachineFacts::default();
        g.kernel = Some("known".into());
        facts_from_uname(&mut g, "Darwin mac 23.0\n");
        facts_from_uname(&mut g, "Linux h 6.1\n");
        assert_eq!(g.kernel.as_deref(), Some("known"), "known facts are kept");
        assert_eq!(g.hostname.as_deref(), Some("h"));
    }

    #[test]
    fn detects_inputs() {
        assert_eq!(detect(b"\n{\"timestamp\":1}"), Some(InputKind::Capture));
        assert_eq!(
            detect(perfcore::csv::portal::HEADER.as_bytes()),
            Some(InputKind::PortalCsv)
        );
        assert_eq!(
            detect(b"timestamp,machine_id,kind,device,metric,value\n"),
            Some(InputKind::LongCsv)
        );
        assert_eq!(detect(b"hello"), None);
        assert_eq!(detect(b""), None);
        assert!(from_bytes("m", b"garbage").is_err());
    }

    #[test]
    fn portal_rows_keep_cpu_and_memory() {
        let text = format!(
            "{}\n1767813021,10,5,80,4,1,1000,400,600,100,1,2,3,4\n",
            perfcore::csv::portal::HEADER
        );
        let m = &from_bytes("p", text.as_bytes()).unwrap()[0];
        assert_eq!(m.machine_id, "p");
        assert_eq!(m.rows[0].get(Metric::CpuUserPct), Some(10.0));
        assert_eq!(m.rows[0].get(Metric::MemTotalBytes), Some(1000.0 * 1024.0));
        assert_eq!(facts_from_rows(m).mem_total_bytes, Some(1_024_000));
    }

    #[test]
    fn capture_keeps_reboots_and_resets() {
        let stat = |btime: u64, user: u64| {
            format!(
                "{{\"timestamp\":{},\"subsystem\":\"/proc/stat\",\"measurement\":\"cpu  {user} 0 10 80 0 0 0 0 0 0\\ncpu0 {user} 0 10 80 0 0 0 0 0 0\\nbtime {btime}\\n\"}}\n",
                100 + user
            )
        };
        let capture = [
            stat(1000, 10),
            stat(1000, 20),
            stat(5000, 30),
            stat(5000, 40),
        ]
        .concat();
        let m = from_capture("m", capture.as_bytes()).unwrap();
        assert_eq!(m.rows.len(), 2);
        assert_eq!(m.events.reboots, vec![130_000]);
        assert_eq!(m.events.counter_resets, Some(vec![]));
        assert_eq!(m.facts.cpu_count, Some(1));
        assert!(
            m.devices
                .iter()
                .any(|d| d.device == "0" && d.metric == "idle_pct")
        );
    }
}
