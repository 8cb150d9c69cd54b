//! The comparison page of several machines: key statistics side by side, a
//! radar of the percent-valued ones (as the older R report had), and the main
//! series of every machine on shared axes.

use perfcore::metrics::Metric;
use serde::Serialize;

use crate::chart::palette;
use crate::chart::{Body, Chart, Line, RadarPlot, TimePlot};
use crate::downsample::{buckets, reduce, with_breaks};
use crate::error::Result;
use crate::figures::{Figure, Section};
use crate::findings::Severity;
use crate::format::Unit;
use crate::machine::{Analysed, render_all};

/// One statistic compared across machines.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CompareRow {
    /// Key (`cpu_busy_pct.p95`).
    pub key: String,
    /// In words.
    pub label: String,
    /// Unit of the values.
    pub unit: String,
    /// One value per machine, in report order (`None` where a machine has no data).
    pub values: Vec<Option<f64>>,
}

/// The comparison of several machines.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Comparison {
    /// Machines, in report order.
    pub machines: Vec<String>,
    /// Statistics side by side.
    pub rows: Vec<CompareRow>,
    /// Whether time axes show time since each machine's start (ranges do not overlap).
    pub relative_time: bool,
    pub(crate) units: Vec<Unit>,
    pub(crate) figures: Vec<Figure>,
    pub(crate) svgs: Vec<String>,
}

struct Key {
    key: &'static str,
    label: &'static str,
    metric: &'static str,
    stat: &'static str,
    unit: Unit,
    radar: Option<&'static str>,
}

const KEYS: &[Key] = &[
    Key {
        key: "cpu_busy_pct.avg",
        label: "CPU busy, average",
        metric: "cpu_busy_pct",
        stat: "avg",
        unit: Unit::Percent,
        radar: None,
    },
    Key {
        key: "cpu_busy_pct.p95",
        label: "CPU busy, p95",
        metric: "cpu_busy_pct",
        stat: "p95",
        unit: Unit::Percent,
        radar: Some("CPU busy p95"),
    },
    Key {
        key: "cpu_iowait_pct.p95",
        label: "iowait, p95",
        metric: "cpu_iowait_pct",
        stat: "p95",
        unit: Unit::Percent,
        radar: Some("iowait p95"),
    },
    Key {
        key: "cpu_steal_pct.p95",
        label: "steal, p95",
        metric: "cpu_steal_pct",
        stat: "p95",
        unit: Unit::Percent,
        radar: Some("steal p95"),
    },
    Key {
        key: "load1_per_cpu.p95",
        label: "load per CPU, p95",
        metric: "load1_per_cpu",
        stat: "p95",
        unit: Unit::Load,
        radar: None,
    },
    Key {
        key: "procs_running.p95",
        label: "runnable tasks, p95",
        metric: "procs_running",
        stat: "p95",
        unit: Unit::Tasks,
        radar: None,
    },
    Key {
        key: "mem_used_pct.p95",
        label: "memory used, p95",
        metric: "mem_used_pct",
        stat: "p95",
        unit: Unit::Percent,
        radar: Some("memory used p95"),
    },
    Key {
        key: "mem_available_pct.min",
        label: "memory available, lowest",
        metric: "mem_available_pct",
        stat: "min",
        unit: Unit::Percent,
        radar: None,
    },
    Key {
        key: "swap_used_pct.max",
        label: "swap used, highest",
        metric: "swap_used_pct",
        stat: "max",
        unit: Unit::Percent,
        radar: Some("swap used max"),
    },
    Key {
        key: "disk_util_max_pct.p95",
        label: "busiest disk %util, p95",
        metric: "disk_util_max_pct",
        stat: "p95",
        unit: Unit::Percent,
        radar: Some("disk %util p95"),
    },
    Key {
        key: "disk_await_ms.p95",
        label: "disk await, p95",
        metric: "disk_await_ms",
        stat: "p95",
        unit: Unit::Ms,
        radar: None,
    },
    Key {
        key: "net_rx_bytes_per_s.p95",
        label: "network received, p95",
        metric: "net_rx_bytes_per_s",
        stat: "p95",
        unit: Unit::BytesPerS,
        radar: None,
    },
    Key {
        key: "net_tx_bytes_per_s.p95",
        label: "network sent, p95",
        metric: "net_tx_bytes_per_s",
        stat: "p95",
        unit: Unit::BytesPerS,
        radar: None,
    },
    Key {
        key: "fs_max_used_pct.max",
        label: "fullest filesystem",
        metric: "fs_max_used_pct",
        stat: "max",
        unit: Unit::Percent,
        radar: Some("fullest filesystem"),
    },
];

pub(crate) fn compare(machines: &[Analysed], width: u32) -> Result<Comparison> {
    let ids: Vec<String> = machines
        .iter()
        .map(|m| m.report.machine_id.clone())
        .collect();
    let mut rows = Vec::new();
    let mut units = Vec::new();
    let count = |m: &Analysed, s: Severity| {
        m.report.findings.iter().filter(|f| f.severity == s).count() as f64
    };
    rows.push(CompareRow {
        key: "cpu_count".into(),
        label: "CPUs".into(),
        unit: String::new(),
        values: machines
            .iter()
            .map(|m| m.report.facts.cpu_count.map(f64::from))
            .collect(),
    });
    units.push(Unit::Count);
    rows.push(CompareRow {
        key: "mem_total_bytes".into(),
        label: "memory".into(),
        unit: "B".into(),
        values: machines
            .iter()
            .map(|m| m.report.facts.mem_total_bytes.map(|b| b as f64))
            .collect(),
    });
    units.push(Unit::Bytes);
    rows.push(CompareRow {
        key: "intervals".into(),
        label: "intervals".into(),
        unit: String::new(),
        values: machines
            .iter()
            .map(|m| Some(m.report.quality.intervals as f64))
            .collect(),
    });
    units.push(Unit::Count);
    for k in KEYS {
        let values: Vec<Option<f64>> = machines
            .iter()
            .map(|m| m.report.metric(k.metric).and_then(|s| s.get(k.stat)))
            .collect();
        if values.iter().any(Option::is_some) {
            rows.push(CompareRow {
                key: k.key.into(),
                label: k.label.into(),
                unit: k.unit.symbol().trim().into(),
                values,
            });
            units.push(k.unit);
        }
    }
    for (s, label) in [
        (Severity::Critical, "critical findings"),
        (Severity::Warning, "warnings"),
    ] {
        rows.push(CompareRow {
            key: format!("findings.{}", s.as_str()),
            label: label.into(),
            unit: String::new(),
            values: machines.iter().map(|m| Some(count(m, s))).collect(),
        });
        units.push(Unit::Count);
    }

    // Time axis: shared when the ranges overlap, else time since each start.
    let ranges: Vec<(i64, i64)> = machines
        .iter()
        .filter_map(|m| Some((*m.cols.ts.first()?, *m.cols.ts.last()?)))
        .collect();
    let latest_start = ranges.iter().map(|r| r.0).max().unwrap_or(0);
    let earliest_end = ranges.iter().map(|r| r.1).min().unwrap_or(0);
    let relative = latest_start > earliest_end;
    let (x0, x1) = if relative {
        (0, ranges.iter().map(|r| r.1 - r.0).max().unwrap_or(0))
    } else {
        (
            ranges.iter().map(|r| r.0).min().unwrap_or(0),
            ranges.iter().map(|r| r.1).max().unwrap_or(0),
        )
    };

    let mut figures = Vec::new();
    // Radar of the percent-valued keys.
    let radar_keys: Vec<&Key> = KEYS
        .iter()
        .filter(|k| k.radar.is_some())
        .filter(|k| machines.iter().any(|m| m.report.metric(k.metric).is_some()))
        .collect();
    if radar_keys.len() >= 3 {
        let series = machines
            .iter()
            .enumerate()
            .map(|(i, m)| {
                (
                    m.report.machine_id.clone(),
                    palette::series(i),
                    radar_keys
                        .iter()
                        .map(|k| {
                            m.report
                                .metric(k.metric)
                                .and_then(|s| s.get(k.stat))
                                .unwrap_or(0.0)
                        })
                        .collect(),
                )
            })
            .collect();
        figures.push(Figure {
            section: Section::Cpu,
            caption: "Each axis runs from 0 to 100%; further out is busier or fuller. Missing data counts as 0."
                .into(),
            chart: Chart {
                id: "compare-radar".into(),
                title: "Machines compared (%)".into(),
                width,
                height: 560,
                body: Body::Radar(RadarPlot {
                    axes: radar_keys.iter().map(|k| k.radar.unwrap_or(k.label).to_owned()).collect(),
                    max: 100.0,
                    series,
                }),
            },
        });
    }
    type Pick = fn(&Analysed) -> Option<Vec<f64>>;
    type Overlay = (&'static str, &'static str, Unit, Option<f64>, Pick, Section);
    let overlays: [Overlay; 4] = [
        (
            "compare-cpu",
            "CPU busy (%)",
            Unit::Percent,
            Some(100.0),
            |m| m.cols.busy.clone(),
            Section::Cpu,
        ),
        (
            "compare-mem",
            "Memory used (%)",
            Unit::Percent,
            Some(100.0),
            |m| m.cols.get(Metric::MemUsedPct).map(<[f64]>::to_vec),
            Section::Memory,
        ),
        (
            "compare-disk",
            "Busiest disk %util (%)",
            Unit::Percent,
            Some(100.0),
            |m| m.cols.get(Metric::DiskUtilMaxPct).map(<[f64]>::to_vec),
            Section::Disk,
        ),
        (
            "compare-net",
            "Network received + sent",
            Unit::BytesPerS,
            None,
            |m| {
                let rx = m.cols.get(Metric::NetRxBytesPerS)?;
                let tx = m.cols.get(Metric::NetTxBytesPerS)?;
                Some(rx.iter().zip(tx).map(|(a, b)| a + b).collect())
            },
            Section::Network,
        ),
    ];
    let cols_px = (width.saturating_sub(110) as usize).max(50);
    for (id, title, unit, fixed, pick, section) in overlays {
        let mut plot = TimePlot {
            x0,
            x1,
            relative,
            unit,
            y_max_fixed: fixed,
            mirrored: None,
            areas: Vec::new(),
            lines: Vec::new(),
            refs: Vec::new(),
            reduced: false,
        };
        let mut chars = 0;
        for (i, m) in machines.iter().enumerate() {
            let Some(v) = pick(m) else { continue };
            let Some(&start) = m.cols.ts.first() else {
                continue;
            };
            let ts: Vec<i64> = if relative {
                m.cols.ts.iter().map(|t| t - start).collect()
            } else {
                m.cols.ts.clone()
            };
            let b = buckets(&ts, x0, x1, cols_px, m.cols.gap_ms);
            plot.reduced |= b.reduced;
            let r = reduce(&b, &v);
            let (x, ys) = with_breaks(&b, &[&r.avg, &r.min, &r.max]);
            let mut it = ys.into_iter();
            let avg = it.next().unwrap_or_default();
            let min = it.next().unwrap_or_default();
            let max = it.next().unwrap_or_default();
            chars += m.report.machine_id.chars().count();
            plot.lines.push(Line {
                label: m.report.machine_id.clone(),
                color: palette::series(i),
                x,
                y: avg,
                band: b.reduced.then_some((min, max)),
                down: false,
                width: 2,
                legend: true,
            });
        }
        if id == "compare-disk" {
            // A 0–100% axis only when some disk got busy; low %util gets its own scale.
            let top = plot
                .lines
                .iter()
                .flat_map(|l| l.band.as_ref().map(|b| &b.1).unwrap_or(&l.y).iter())
                .filter(|v| v.is_finite())
                .fold(0.0f64, |a, v| a.max(*v));
            if top < 45.0 {
                plot.y_max_fixed = None;
            }
        }
        if plot.lines.len() >= 2 {
            let n = plot.lines.len();
            figures.push(Figure {
                section,
                caption: if relative {
                    "The machines' time ranges do not overlap: the time axis is time since each machine's first sample."
                        .into()
                } else {
                    "All machines on one time axis (UTC).".into()
                },
                chart: Chart {
                    id: id.into(),
                    title: title.into(),
                    width,
                    height: crate::figures::height_for(width, n, chars),
                    body: Body::Time(plot),
                },
            });
        }
    }
    let svgs = render_all(&figures)?;
    Ok(Comparison {
        machines: ids,
        rows,
        relative_time: relative,
        units,
        figures,
        svgs,
    })
}
