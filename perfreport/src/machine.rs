//! The analysis of one machine: statistics of every metric and device series,
//! data quality, findings and charts.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use perfcore::metrics::{DeviceKind, MachineFacts, Metric};
use perfcore::stats::{Summary, summarize};
use serde::Serialize;

use crate::chart::render;
use crate::columns::Columns;
use crate::devices::Devices;
use crate::error::{Error, Result};
use crate::figures::{self, Figure, Notes};
use crate::findings::{self, Check, Finding, Thresholds};
use crate::input::facts_from_rows;
use crate::quality::{self, Quality};
use crate::series::MachineSeries;

/// Statistics of one metric over every sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MetricStats {
    /// Column name (`cpu_user_pct`), or a derived name (`cpu_busy_pct`).
    pub name: String,
    /// Unit (`%`, `B`, `B/s`, ...).
    pub unit: String,
    /// What it is.
    pub description: String,
    /// Computed by the report from other metrics.
    pub derived: bool,
    /// min, max, avg, stddev and percentiles (p50 … p100), NaN left out.
    pub summary: Summary,
    /// The last value (the portal's `current`).
    pub last: Option<f64>,
}

/// Statistics of every metric of one device.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DeviceStats {
    /// `cpu`, `disk`, `net`, `fs`.
    pub kind: String,
    /// Device name.
    pub device: String,
    /// What it is (`whole disk`, `partition`, `interface`, ...).
    pub role: String,
    /// Per metric (derived ones too: `iops`, `await_ms`, `busy_pct`).
    pub metrics: BTreeMap<String, Summary>,
    /// The last value of each metric.
    pub last: BTreeMap<String, f64>,
}

/// Everything the report says about one machine.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MachineReport {
    /// The machine.
    pub machine_id: String,
    /// Facts from the data (CPU model and count, memory, boot time, ...).
    pub facts: MachineFacts,
    /// First interval's start (ms since the epoch).
    pub start_ms: Option<i64>,
    /// Last interval's end (ms).
    pub end_ms: Option<i64>,
    /// Statistics of each metric present, in column order, derived ones first.
    pub metrics: Vec<MetricStats>,
    /// Statistics of each device.
    pub devices: Vec<DeviceStats>,
    /// Gaps, duplicates, resets, reboots, values out of range.
    pub quality: Quality,
    /// Findings, most serious first.
    pub findings: Vec<Finding>,
    /// Every rule and whether the data allowed it to run.
    pub checks: Vec<Check>,
    /// Where the data came from.
    pub sources: Vec<String>,
    pub(crate) figures: Vec<Figure>,
    pub(crate) svgs: Vec<String>,
    pub(crate) notes: Notes,
}

impl MachineReport {
    /// Statistics of a metric by name (`cpu_user_pct`, `cpu_busy_pct`, ...).
    pub fn metric(&self, name: &str) -> Option<&Summary> {
        self.metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| &m.summary)
    }

    /// Statistics of one device's metric.
    pub fn device_metric(&self, kind: DeviceKind, device: &str, metric: &str) -> Option<&Summary> {
        self.devices
            .iter()
            .find(|d| d.kind == kind.as_str() && d.device == device)
            .and_then(|d| d.metrics.get(metric))
    }

    /// Ids of the charts, in page order.
    pub fn chart_ids(&self) -> Vec<&str> {
        self.figures.iter().map(|f| f.chart.id.as_str()).collect()
    }
}

/// perfcore's summary, without its full passes when every value is the same
/// (idle devices and zero counters: most series of a quiet machine). The result
/// is identical: for n equal values `summarize` gives that value as min, max,
/// mean and every percentile, and a standard deviation of 0.
pub(crate) fn summary(v: &[f64]) -> Option<Summary> {
    let mut first: Option<u64> = None;
    let mut count = 0u64;
    for x in v {
        if x.is_nan() {
            continue;
        }
        count += 1;
        match first {
            None => first = Some(x.to_bits()),
            Some(b) if b != x.to_bits() => return summarize(v),
            Some(_) => {}
        }
    }
    let mut s = summarize(&[f64::from_bits(first?)])?;
    s.count = count;
    Some(s)
}

/// Summaries of many series, on all cores when the work is large.
pub(crate) fn summarize_all(jobs: &[&[f64]]) -> Vec<Option<Summary>> {
    let total: usize = jobs.iter().map(|j| j.len()).sum();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8)
        .min(jobs.len());
    if threads <= 1 || total < 200_000 {
        return jobs.iter().map(|j| summary(j)).collect();
    }
    let next = AtomicUsize::new(0);
    let parts: Vec<Vec<(usize, Option<Summary>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        out.push((i, summary(job)));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut res: Vec<Option<Option<Summary>>> = vec![None; jobs.len()];
    for (i, s) in parts.into_iter().flatten() {
        res[i] = Some(s);
    }
    res.into_iter()
        .zip(jobs)
        .map(|(r, j)| r.unwrap_or_else(|| summary(j)))
        .collect()
}

/// Runs `f` over items on all cores; results in input order.
pub(crate) fn parallel_map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8)
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    let next = AtomicUsize::new(0);
    let f = &f;
    let mut parts: Vec<(usize, U)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(item)));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    parts.sort_by_key(|(i, _)| *i);
    if parts.len() == items.len() {
        parts.into_iter().map(|(_, u)| u).collect()
    } else {
        // A worker panicked: do the work here so the caller sees the panic, if any.
        items.iter().map(f).collect()
    }
}

/// What the comparison page needs from a machine (kept after its columns are dropped).
pub(crate) struct Analysed {
    pub report: MachineReport,
    pub cols: Columns,
}

pub(crate) fn analyse(
    series: &MachineSeries,
    bad_times: u64,
    all_device_statistics: bool,
    thresholds: &Thresholds,
    width: u32,
    max_devices: usize,
) -> Result<Analysed> {
    let facts = facts_from_rows(series);
    let cols = Columns::new(&series.rows, facts.cpu_count);

    // Every metric and every device series, summarised over every sample.
    let mut names: Vec<(String, String, String, bool)> = Vec::new();
    let mut jobs: Vec<&[f64]> = Vec::new();
    for (name, unit, desc, v) in [
        (
            "cpu_busy_pct",
            "%",
            "CPU busy: 100 − idle − iowait − steal",
            cols.busy.as_deref(),
        ),
        (
            "mem_available_pct",
            "%",
            "Available memory over total (MemAvailable, else free + buffers + cached)",
            cols.mem_available_pct.as_deref(),
        ),
        (
            "load1_per_cpu",
            "load",
            "1-minute load average per CPU",
            cols.load_per_cpu.as_deref(),
        ),
    ] {
        if let Some(v) = v {
            names.push((name.into(), unit.into(), desc.into(), true));
            jobs.push(v);
        }
    }
    for &m in Metric::ALL {
        if let Some(v) = cols.get(m) {
            names.push((
                m.name().into(),
                m.unit().into(),
                m.description().into(),
                false,
            ));
            jobs.push(v);
        }
    }
    let n_metric_jobs = jobs.len();

    // Device series: every metric of disks, interfaces and filesystems, and the
    // derived IOPS and await of disks; of CPUs only their busy share (the
    // per-CPU components add nothing the machine's own columns lack, and would
    // be hundreds of series on a big machine).
    let devs = Devices::new(series);
    parallel_map(&devs.all, |d| {
        match d.kind {
            DeviceKind::Disk => {
                d.iops();
                d.await_ms();
            }
            DeviceKind::Cpu => {
                d.cpu_busy();
            }
            _ => {}
        };
    });
    let mut dev_jobs: Vec<(usize, String)> = Vec::new();
    for (i, d) in devs.all.iter().enumerate() {
        if d.kind != DeviceKind::Cpu {
            for s in &d.series {
                if all_device_statistics || shown_on_page(d.kind, &s.metric) {
                    dev_jobs.push((i, s.metric.clone()));
                    jobs.push(&s.values);
                }
            }
        }
        for (name, derived) in [
            ("iops", d.iops()),
            ("await_ms", d.await_ms()),
            ("busy_pct", d.cpu_busy()),
        ] {
            let wanted = match d.kind {
                DeviceKind::Disk => name != "busy_pct",
                DeviceKind::Cpu => name == "busy_pct" && all_device_statistics,
                _ => false,
            };
            if let (true, Some((_, v))) = (wanted, derived) {
                dev_jobs.push((i, name.to_owned()));
                jobs.push(v);
            }
        }
    }
    // Charts and the quality pass need no statistics: they run beside them.
    let fig_ctx = figures::Ctx::new(&devs, &cols, width, max_devices, facts.cpu_count);
    let (summaries, quality, drawn) = std::thread::scope(|s| {
        let drawn = s.spawn(|| {
            let (figures, notes) = figures::build(&fig_ctx);
            render_all(&figures).map(|svgs| (figures, notes, svgs))
        });
        let quality = s.spawn(|| quality::assess(series, &cols, bad_times));
        let summaries = summarize_all(&jobs);
        let quality = quality
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        let drawn = drawn
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (summaries, quality, drawn)
    });
    let (figures, notes, svgs) = drawn?;

    let mut metrics = Vec::new();
    let mut stats: HashMap<String, Summary> = HashMap::new();
    for (((name, unit, description, derived), s), job) in
        names.into_iter().zip(&summaries).zip(&jobs)
    {
        if let Some(s) = s {
            stats.insert(name.clone(), *s);
            metrics.push(MetricStats {
                name,
                unit,
                description,
                derived,
                summary: *s,
                last: last_finite(job),
            });
        }
    }
    let mut dev_stats: Vec<DeviceStats> = devs
        .all
        .iter()
        .map(|d| DeviceStats {
            kind: d.kind.as_str().to_owned(),
            device: d.name.to_owned(),
            role: d.role().to_owned(),
            metrics: BTreeMap::new(),
            last: BTreeMap::new(),
        })
        .collect();
    for ((i, metric), s) in dev_jobs.into_iter().zip(&summaries[n_metric_jobs..]) {
        if let (Some(s), Some(d)) = (s, dev_stats.get_mut(i)) {
            d.metrics.insert(metric, *s);
        }
    }
    // The last value of every device series, summarised or not.
    for (d, stats) in devs.all.iter().zip(&mut dev_stats) {
        for s in &d.series {
            if let Some(l) = last_finite(&s.values) {
                stats.last.insert(s.metric.clone(), l);
            }
        }
    }

    let mut fctx = findings::Ctx {
        series,
        devices: &devs,
        device_stats: &dev_stats,
        cols: &cols,
        stats: &stats,
        quality: &quality,
        t: thresholds,
        cpu_count: facts.cpu_count,
        findings: Vec::new(),
        checks: Vec::new(),
    };
    findings::evaluate(&mut fctx);
    let (found, checks) = (fctx.findings, fctx.checks);

    let report = MachineReport {
        machine_id: series.machine_id.clone(),
        facts,
        start_ms: cols
            .ts
            .first()
            .map(|t| t - (cols.weight_s.first().copied().unwrap_or(0.0) * 1000.0) as i64),
        end_ms: cols.ts.last().copied(),
        metrics,
        devices: dev_stats,
        quality,
        findings: found,
        checks,
        sources: series.events.sources.clone(),
        figures,
        svgs,
        notes,
    };
    Ok(Analysed { report, cols })
}

/// Device metrics the page itself shows (tables and findings); the others are
/// summarised for the JSON summary only.
fn shown_on_page(kind: DeviceKind, metric: &str) -> bool {
    match kind {
        DeviceKind::Disk => matches!(
            metric,
            "util_pct" | "read_bytes_per_s" | "write_bytes_per_s"
        ),
        DeviceKind::Net => matches!(
            metric,
            "rx_bytes_per_s"
                | "tx_bytes_per_s"
                | "rx_packets_per_s"
                | "tx_packets_per_s"
                | "rx_errs_per_s"
                | "tx_errs_per_s"
                | "rx_drop_per_s"
                | "tx_drop_per_s"
        ),
        DeviceKind::Fs => matches!(metric, "used_pct" | "inodes_used_pct"),
        DeviceKind::Container => matches!(
            metric,
            "cpu_pct"
                | "cpu_limit_cores"
                | "throttled_pct"
                | "mem_bytes"
                | "mem_limit_bytes"
                | "mem_pct"
                | "read_bytes_per_s"
                | "write_bytes_per_s"
                | "pids"
        ),
        _ => false,
    }
}

fn last_finite(v: &[f64]) -> Option<f64> {
    v.iter().rev().find(|x| x.is_finite()).copied()
}

pub(crate) fn render_all(figures: &[Figure]) -> Result<Vec<String>> {
    parallel_map(figures, |f| {
        render::svg(&f.chart).map_err(|message| Error::Chart {
            chart: f.chart.id.clone(),
            message,
        })
    })
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_fast_path_equals_perfcore() {
        for v in [
            vec![0.0; 10_000],
            vec![42.5; 3],
            vec![f64::NAN, 7.0, f64::NAN, 7.0],
            vec![1.0],
        ] {
            assert_eq!(summary(&v), summarize(&v), "{v:?}");
        }
        assert_eq!(summary(&[]), None);
        assert_eq!(summary(&[f64::NAN]), None);
        let mixed = [0.0, -0.0, 0.0];
        assert_eq!(summary(&mixed), summarize(&mixed));
        let varied: Vec<f64> = (0..5000).map(f64::from).collect();
        assert_eq!(summary(&varied), summarize(&varied));
    }
}
