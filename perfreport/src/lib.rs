//! perfreport: the report people hand to each other.
//!
//! From the series of one or more machines ([`MachineSeries`]: wide interval
//! rows, per-device series, and what the source saw), [`build`] computes the
//! statistics of every metric over every sample, a data-quality assessment,
//! findings in plain words with their evidence and thresholds, and charts. The
//! [`Report`] then gives
//! - one self-contained HTML page ([`Report::html`]): inline CSS and SVG charts
//!   drawn with plotters, no script, nothing fetched from anywhere, readable
//!   printed and on a phone;
//! - a JSON summary with every statistic and finding ([`Report::json`]);
//! - a PNG per chart ([`Report::pngs`]), drawn with a bundled font so that no
//!   system font library is needed.
//!
//! Long series are downsampled for drawing only (minimum, mean and maximum per
//! pixel column); statistics always use every sample.
//!
//! ```
//! use perfcore::metrics::{IntervalRow, Metric};
//! use perfreport::{MachineSeries, ReportOptions};
//!
//! let mut m = MachineSeries::new("web-1");
//! for i in 0..120 {
//!     let mut r = IntervalRow::new(1_767_813_000_000 + i * 5000, 5.0);
//!     let busy = if i < 60 { 97.0 } else { 20.0 };
//!     r.set(Metric::CpuUserPct, Some(busy));
//!     r.set(Metric::CpuIdlePct, Some(100.0 - busy));
//!     m.rows.push(r);
//! }
//! let report = perfreport::build(&[m], &ReportOptions::default())?;
//! assert!(report.html().starts_with("<!DOCTYPE html>"));
//! assert_eq!(report.findings()[0].id, "cpu_saturation");
//! assert_eq!(report.json()["machines"][0]["metrics"]["cpu_user_pct"]["max"], 97.0);
//! # Ok::<(), perfreport::Error>(())
//! ```
#![warn(missing_docs)]

mod chart;
mod columns;
pub mod compare;
mod devices;
mod downsample;
mod error;
mod figures;
pub mod findings;
mod format;
mod html;
pub mod input;
mod machine;
pub mod quality;
mod series;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

pub use compare::Comparison;
pub use error::{Error, Result};
pub use findings::{Finding, Severity, Thresholds};
pub use machine::{DeviceStats, MachineReport, MetricStats};
pub use quality::Quality;
pub use series::{CounterReset, DeviceSeries, MachineSeries, SeriesEvents};

/// Version of perfreport, printed in reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Schema name of the JSON summary.
pub const JSON_SCHEMA: &str = "perfreport.summary/1";

/// How a report is made.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReportOptions {
    /// Title of the page (default: "Performance report: " and the machine ids).
    pub title: Option<String>,
    /// Chart width in pixels (PNG size; the SVG scales to the page).
    pub chart_width: u32,
    /// At most this many devices (disks, interfaces) per chart; all are in the tables.
    pub max_devices_charted: usize,
    /// When the report was made (ms since the epoch), printed if set.
    pub generated_at_ms: Option<i64>,
    /// The limits findings are judged by.
    pub thresholds: Thresholds,
    /// Statistics of every device series (true, the default), or only of those
    /// the page shows (disks: IOPS, await, %util, throughput; interfaces; filesystem
    /// use): the JSON summary then lacks the others, and a long report is faster.
    pub all_device_statistics: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            title: None,
            chart_width: 960,
            max_devices_charted: 6,
            generated_at_ms: None,
            thresholds: Thresholds::default(),
            all_device_statistics: true,
        }
    }
}

/// A built report: statistics, findings, quality and rendered charts of each
/// machine, and the comparison when there are several.
#[derive(Debug, Clone)]
pub struct Report {
    machines: Vec<MachineReport>,
    comparison: Option<Comparison>,
    options: ReportOptions,
}

/// Builds the report of one or more machines.
///
/// Fails only with no machine at all, or when a chart cannot be drawn; empty
/// series, a single row, metrics without values and machines without disks
/// give a report that says so.
pub fn build(series: &[MachineSeries], options: &ReportOptions) -> Result<Report> {
    if series.is_empty() {
        return Err(Error::NoMachines);
    }
    let width = options.chart_width.clamp(480, 4000);
    let max_devices = options.max_devices_charted.max(1);
    let analysed = series
        .iter()
        .map(|s| {
            let (s, bad_times) = series::prepared(s);
            machine::analyse(
                &s,
                bad_times,
                options.all_device_statistics,
                &options.thresholds,
                width,
                max_devices,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let comparison = if analysed.len() >= 2 {
        Some(compare::compare(&analysed, width)?)
    } else {
        None
    };
    Ok(Report {
        machines: analysed.into_iter().map(|a| a.report).collect(),
        comparison,
        options: options.clone(),
    })
}

impl Report {
    /// The machines, in input order.
    pub fn machines(&self) -> &[MachineReport] {
        &self.machines
    }

    /// The comparison of several machines (`None` for one).
    pub fn comparison(&self) -> Option<&Comparison> {
        self.comparison.as_ref()
    }

    /// Every finding of every machine, most serious first within each machine.
    pub fn findings(&self) -> Vec<&Finding> {
        self.machines
            .iter()
            .flat_map(|m| m.findings.iter())
            .collect()
    }

    /// The page title.
    pub fn title(&self) -> String {
        match &self.options.title {
            Some(t) => t.clone(),
            None => {
                let ids: Vec<&str> = self
                    .machines
                    .iter()
                    .map(|m| m.machine_id.as_str())
                    .collect();
                let shown = if ids.len() > 4 {
                    format!("{} and {} more", ids[..3].join(", "), ids.len() - 3)
                } else {
                    ids.join(", ")
                };
                format!("Performance report: {shown}")
            }
        }
    }

    /// The whole report as one self-contained HTML page.
    pub fn html(&self) -> String {
        html::render(self)
    }

    /// Every statistic, quality item and finding as JSON (schema [`JSON_SCHEMA`]).
    pub fn json(&self) -> Value {
        let machines: Vec<Value> = self.machines.iter().map(machine_json).collect();
        let comparison = self.comparison.as_ref().map(|c| {
            json!({
                "machines": c.machines,
                "relative_time": c.relative_time,
                "rows": c.rows,
                "charts": c.figures.iter().map(|f| json!({"id": f.chart.id, "title": f.chart.title})).collect::<Vec<_>>(),
            })
        });
        json!({
            "schema": JSON_SCHEMA,
            "generator": format!("perfreport {VERSION}"),
            "title": self.title(),
            "generated_at": self.options.generated_at_ms.map(perfcore::time::format_rfc3339_ms),
            "thresholds": self.options.thresholds,
            "device_statistics": if self.options.all_device_statistics { "all" } else { "shown" },
            "machines": machines,
            "comparison": comparison,
            "findings": self.findings(),
        })
    }

    /// Writes one PNG per chart into `dir` (created if missing), named
    /// `MACHINE-CHART.png` (`compare-CHART.png` for the comparison).
    /// Returns the files written.
    pub fn pngs(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut jobs: Vec<(PathBuf, &chart::Chart)> = Vec::new();
        for m in &self.machines {
            for f in &m.figures {
                jobs.push((
                    dir.join(format!("{}-{}.png", html::slug(&m.machine_id), f.chart.id)),
                    &f.chart,
                ));
            }
        }
        if let Some(c) = &self.comparison {
            for f in &c.figures {
                jobs.push((dir.join(format!("{}.png", f.chart.id)), &f.chart));
            }
        }
        let results = machine::parallel_map(&jobs, |(path, chart)| write_png(path, chart));
        let mut out = Vec::new();
        for (r, (path, _)) in results.into_iter().zip(&jobs) {
            r?;
            out.push(path.clone());
        }
        Ok(out)
    }
}

fn write_png(path: &Path, chart: &chart::Chart) -> Result<()> {
    let px = chart::render::rgb(chart).map_err(|message| Error::Chart {
        chart: chart.id.clone(),
        message,
    })?;
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), chart.width, chart.height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let png_err = |e: png::EncodingError| Error::Png {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut w = enc.write_header().map_err(png_err)?;
    w.write_image_data(&px).map_err(png_err)?;
    w.finish().map_err(png_err)?;
    Ok(())
}

fn machine_json(m: &MachineReport) -> Value {
    let metrics: serde_json::Map<String, Value> = m
        .metrics
        .iter()
        .map(|s| {
            let mut v = serde_json::to_value(s.summary).unwrap_or(Value::Null);
            if let Value::Object(o) = &mut v {
                o.insert("unit".into(), json!(s.unit));
                o.insert("description".into(), json!(s.description));
                o.insert("derived".into(), json!(s.derived));
            }
            (s.name.clone(), v)
        })
        .collect();
    json!({
        "machine_id": m.machine_id,
        "facts": m.facts,
        "time_range": {
            "start": m.start_ms.map(perfcore::time::format_rfc3339_ms),
            "end": m.end_ms.map(perfcore::time::format_rfc3339_ms),
            "start_ms": m.start_ms,
            "end_ms": m.end_ms,
        },
        "sources": m.sources,
        "metrics": metrics,
        "devices": m.devices,
        "quality": m.quality,
        "findings": m.findings,
        "checks": m.checks,
        "charts": m.figures.iter().map(|f| json!({
            "id": f.chart.id,
            "title": f.chart.title,
            "section": f.section.title(),
        })).collect::<Vec<_>>(),
    })
}
