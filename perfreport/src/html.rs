//! The self-contained HTML page: inline CSS and SVG, no script, nothing fetched.

use std::fmt::Write as _;

use perfcore::stats::Summary;

use crate::compare::Comparison;
use crate::figures::{Figure, Section};
use crate::findings::{Finding, Severity};
use crate::format::{self, Unit};
use crate::machine::MachineReport;
use crate::{Report, VERSION};

const CSS: &str = r#"
:root{--fg:#1f1f1f;--muted:#555;--line:#d9d9d9;--crit:#b3261e;--warn:#8a5300;--info:#0b5394}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:var(--fg);background:#fff}
header.top,main,footer{max-width:1120px;margin:0 auto;padding:0 16px}
h1{font-size:1.7em;margin:.8em 0 .1em;line-height:1.2}
h2{font-size:1.45em;border-bottom:2px solid var(--fg);padding-bottom:.15em;margin:2.2em 0 .6em}
h3{font-size:1.15em;margin:1.8em 0 .5em}
h4{font-size:1em;margin:0 0 .3em}
a{color:#0b5394}
.sub,.note,figcaption{color:var(--muted)}
nav{margin:.6em 0 1em;padding:.5em .8em;background:#f5f5f5;border-radius:4px}
nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.2em 1.1em}
nav li.m{font-weight:600}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1.2em;margin:.5em 0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0}
figure{margin:1em 0 1.8em;break-inside:avoid;page-break-inside:avoid}
.chart{overflow-x:auto;-webkit-overflow-scrolling:touch}
svg.chart{display:block;width:100%;height:auto;min-width:620px}
figcaption{font-size:.9em;margin-top:.3em}
.table{overflow-x:auto;margin:.5em 0 1em}
table{border-collapse:collapse;font-size:.9em;font-variant-numeric:tabular-nums}
th,td{padding:.22em .6em;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
td.text{text-align:left;white-space:normal;min-width:14em}
thead th{border-bottom:2px solid #888;vertical-align:bottom;white-space:normal;min-width:4em}
tr.group th{text-align:left;background:#f1f1f1;font-weight:600}
.finding{border-left:6px solid var(--info);background:#f3f6fa;padding:.6em 1em .7em;margin:.8em 0;break-inside:avoid;page-break-inside:avoid}
.finding.critical{border-color:var(--crit);background:#fbefee}
.finding.warning{border-color:#c77c00;background:#fdf5e8}
.finding p{margin:.2em 0 .5em}
.finding table{font-size:.85em}
.sev{display:inline-block;font-size:.72em;font-weight:700;text-transform:uppercase;letter-spacing:.05em;padding:.1em .5em;border-radius:3px;color:#fff;background:var(--info);margin-right:.5em;vertical-align:.12em}
.critical .sev{background:var(--crit)}
.warning .sev{background:var(--warn)}
.ok{border-left:6px solid #2e7d32;background:#eef6ee;padding:.6em 1em}
.thresholds{font-size:.85em;color:var(--muted)}
footer{margin-top:3em;padding-bottom:2em;font-size:.85em;color:var(--muted);border-top:1px solid var(--line)}
@media (max-width:700px){body{font-size:14px}svg.chart{min-width:560px}dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:.3em}h2{margin-top:1.6em}}
@media print{nav{display:none}body{font-size:10pt}section.machine:not(:first-child){break-before:page}.sev{color:#000;background:none;border:1px solid #000}.finding{border-left-width:4px}svg.chart{min-width:0}.chart,.table{overflow:visible}a{color:inherit;text-decoration:none}h2,h3{break-after:avoid}.finding,.ok{background:none}}
"#;

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An id fragment from any text.
pub(crate) fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t = out.trim_matches('-').to_owned();
    if t.is_empty() { "machine".into() } else { t }
}

/// The SVG of plotters with its size attributes kept (for print) and a class,
/// a role and a label added.
fn inline_svg(out: &mut String, svg: &str, id: &str, title: &str) {
    let body = svg.trim_start();
    match body.strip_prefix("<svg ") {
        Some(rest) => {
            let _ = write!(
                out,
                "<svg class=\"chart\" role=\"img\" aria-label=\"{}\" data-chart=\"{}\" preserveAspectRatio=\"xMidYMid meet\" {}",
                esc(title),
                esc(id),
                rest
            );
        }
        None => out.push_str(body),
    }
}

fn figure(out: &mut String, f: &Figure, svg: &str, machine: &str) {
    let _ = write!(
        out,
        "<figure id=\"{}-{}\"><div class=\"chart\">",
        slug(machine),
        esc(&f.chart.id)
    );
    inline_svg(out, svg, &f.chart.id, &f.chart.title);
    let _ = writeln!(
        out,
        "</div><figcaption>{}</figcaption></figure>",
        esc(&f.caption)
    );
}

fn stat_cells(out: &mut String, s: &Summary, unit: Unit) {
    for v in [s.min, s.avg, s.p50, s.p90, s.p95, s.p97_5, s.p99, s.max] {
        let _ = write!(out, "<td>{}</td>", esc(&format::value(v, unit)));
    }
}

const STAT_HEAD: &str = "<th>min</th><th>avg</th><th>p50</th><th>p90</th><th>p95</th><th>p97.5</th><th>p99</th><th>max</th>";

fn group_of(name: &str) -> &'static str {
    if name.starts_with("cpu_")
        || name.ends_with("_per_s")
            && (name.starts_with("context")
                || name.starts_with("interrupts")
                || name.starts_with("forks"))
    {
        "CPU"
    } else if name.starts_with("load") || name.starts_with("procs_") {
        "Load and run queue"
    } else if name.starts_with("mem_")
        || name.starts_with("swap_used")
        || name.starts_with("swap_total")
    {
        "Memory and swap"
    } else if name.starts_with("page_") || name.starts_with("major_") || name.starts_with("swap_") {
        "Paging"
    } else if name.starts_with("disk_") {
        "Disks (whole disks together)"
    } else if name.starts_with("net_") {
        "Network (physical interfaces together)"
    } else if name.starts_with("psi_") {
        "Pressure stalls"
    } else if name.starts_with("fs_") {
        "Filesystems"
    } else {
        "Other"
    }
}

const GROUP_ORDER: [&str; 9] = [
    "CPU",
    "Load and run queue",
    "Memory and swap",
    "Paging",
    "Disks (whole disks together)",
    "Network (physical interfaces together)",
    "Pressure stalls",
    "Filesystems",
    "Other",
];

fn percentile_table(out: &mut String, m: &MachineReport) {
    if m.metrics.is_empty() {
        out.push_str("<p class=\"note\">No metric has any value.</p>\n");
        return;
    }
    let _ = writeln!(
        out,
        "<div class=\"table\"><table class=\"percentiles\"><thead><tr><th>metric</th>{STAT_HEAD}<th>samples</th></tr></thead><tbody>"
    );
    for g in GROUP_ORDER {
        let rows: Vec<_> = m
            .metrics
            .iter()
            .filter(|s| group_of(&s.name) == g)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "<tr class=\"group\"><th colspan=\"10\">{}</th></tr>",
            esc(g)
        );
        for s in rows {
            let unit = Unit::from_metric_unit(&s.unit);
            let _ = write!(
                out,
                "<tr><td title=\"{}\">{}</td>",
                esc(&s.description),
                esc(&s.name)
            );
            stat_cells(out, &s.summary, unit);
            let _ = writeln!(out, "<td>{}</td></tr>", s.summary.count);
        }
    }
    out.push_str("</tbody></table></div>\n");
}

fn finding_html(out: &mut String, f: &Finding, with_machine: bool) {
    let sev = f.severity.as_str();
    let _ = write!(
        out,
        "<article class=\"finding {sev}\"><h4><span class=\"sev\">{sev}</span>"
    );
    if with_machine {
        let _ = write!(out, "{}: ", esc(&f.machine_id));
    }
    let _ = write!(out, "{}</h4><p>{}</p>", esc(&f.title), esc(&f.text));
    if !f.evidence.is_empty() {
        out.push_str("<div class=\"table\"><table><tbody>");
        for e in &f.evidence {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(&e.label),
                esc(&e.display)
            );
        }
        out.push_str("</tbody></table></div>");
    }
    if !f.thresholds.is_empty() {
        let t: Vec<String> = f
            .thresholds
            .iter()
            .map(|t| {
                if t.unit.is_empty() {
                    format!("{} {}", t.name, format::num(t.value))
                } else if t.unit == "%" {
                    format!("{} {}%", t.name, format::num(t.value))
                } else {
                    format!("{} {} {}", t.name, format::num(t.value), t.unit)
                }
            })
            .collect();
        let _ = write!(
            out,
            "<p class=\"thresholds\">Thresholds: {}</p>",
            esc(&t.join("; "))
        );
    }
    out.push_str("</article>\n");
}

fn findings_html(out: &mut String, m: &MachineReport) {
    let count = |s: Severity| m.findings.iter().filter(|f| f.severity == s).count();
    if m.findings.is_empty() {
        let checked: Vec<&str> = m
            .checks
            .iter()
            .filter(|c| c.evaluated)
            .map(|c| c.title)
            .collect();
        let _ = writeln!(
            out,
            "<p class=\"ok\">Nothing stood out. Checked: {}.</p>",
            esc(&checked.join(", "))
        );
    } else {
        let _ = writeln!(
            out,
            "<p>{} critical, {} warning{}, {} for information.</p>",
            count(Severity::Critical),
            count(Severity::Warning),
            if count(Severity::Warning) == 1 {
                ""
            } else {
                "s"
            },
            count(Severity::Info)
        );
        for f in &m.findings {
            finding_html(out, f, false);
        }
    }
    let not: Vec<&str> = m
        .checks
        .iter()
        .filter(|c| !c.evaluated)
        .map(|c| c.title)
        .collect();
    if !not.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"note\">Not checked, the data has no series for them: {}.</p>",
            esc(&not.join(", "))
        );
    }
}

fn facts_html(out: &mut String, m: &MachineReport) {
    let f = &m.facts;
    let mut rows: Vec<(&str, String)> = Vec::new();
    if let Some(h) = &f.hostname {
        rows.push(("Host", h.clone()));
    }
    if let Some(c) = &f.cpu_model {
        rows.push(("CPU model", c.clone()));
    }
    if let Some(n) = f.cpu_count {
        let mut s = format!("{n} logical CPU{}", if n == 1 { "" } else { "s" });
        if let Some(k) = f.cpu_sockets {
            let _ = write!(s, " in {k} socket{}", if k == 1 { "" } else { "s" });
        }
        rows.push(("CPUs", s));
    }
    if let Some(b) = f.mem_total_bytes {
        rows.push(("Memory", format::bytes(b as f64)));
    }
    if let Some(b) = f.swap_total_bytes {
        rows.push((
            "Swap",
            if b == 0 {
                "none".into()
            } else {
                format::bytes(b as f64)
            },
        ));
    }
    if let Some(k) = &f.kernel {
        rows.push(("Kernel", k.clone()));
    }
    if let Some(b) = f.boot_time_s {
        rows.push(("Booted", format::time_utc(b as i64 * 1000)));
    }
    match (m.start_ms, m.end_ms) {
        (Some(a), Some(b)) => {
            rows.push(("Time range", format::range_utc(a, b)));
            rows.push(("Duration", format::duration((b - a) as f64 / 1000.0)));
        }
        _ => rows.push(("Time range", "no intervals".into())),
    }
    if let Some(i) = m.quality.median_interval_s {
        rows.push(("Interval", format!("{} (median)", format::duration(i))));
    }
    rows.push(("Intervals", m.quality.intervals.to_string()));
    if !m.sources.is_empty() {
        rows.push(("Source", m.sources.join(", ")));
    }
    out.push_str("<dl class=\"facts\">");
    for (k, v) in rows {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
    }
    out.push_str("</dl>\n");
}

fn device_tables(out: &mut String, m: &MachineReport, section: Section) {
    use crate::machine::DeviceStats;
    let kind = match section {
        Section::Disk => "disk",
        Section::Network => "net",
        Section::Filesystems => "fs",
        Section::Containers => "container",
        _ => return,
    };
    let g =
        |d: &DeviceStats, metric: &str, stat: &str| d.metrics.get(metric).and_then(|s| s.get(stat));
    let last = |d: &DeviceStats, metric: &str| d.last.get(metric).copied();
    let cell = |v: Option<f64>, unit: Unit| {
        esc(&v
            .map(|v| format::value(v, unit))
            .unwrap_or_else(|| "–".into()))
    };
    // Devices that did something; the idle ones are named in the section's note.
    let mut devs: Vec<&DeviceStats> = m
        .devices
        .iter()
        .filter(|d| d.kind == kind)
        .filter(|d| match kind {
            "disk" => g(d, "iops", "max").unwrap_or(0.0) > 0.0,
            "net" => {
                d.device != "lo"
                    && (g(d, "rx_packets_per_s", "max").unwrap_or(0.0)
                        + g(d, "tx_packets_per_s", "max").unwrap_or(0.0))
                        > 0.0
            }
            _ => true,
        })
        .collect();
    if devs.is_empty() {
        return;
    }
    match kind {
        "disk" => devs.sort_by(|a, b| {
            (a.role == "partition")
                .cmp(&(b.role == "partition"))
                .then(
                    g(b, "util_pct", "avg")
                        .unwrap_or(0.0)
                        .total_cmp(&g(a, "util_pct", "avg").unwrap_or(0.0)),
                )
                .then(a.device.cmp(&b.device))
        }),
        "net" => devs.sort_by(|a, b| {
            let t = |d: &DeviceStats| {
                g(d, "rx_bytes_per_s", "avg").unwrap_or(0.0)
                    + g(d, "tx_bytes_per_s", "avg").unwrap_or(0.0)
            };
            (a.role != "interface")
                .cmp(&(b.role != "interface"))
                .then(t(b).total_cmp(&t(a)))
        }),
        "container" => devs.sort_by(|a, b| {
            g(b, "cpu_pct", "avg")
                .unwrap_or(0.0)
                .total_cmp(&g(a, "cpu_pct", "avg").unwrap_or(0.0))
                .then(a.device.cmp(&b.device))
        }),
        _ => devs.sort_by(|a, b| {
            last(b, "used_pct")
                .unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&last(a, "used_pct").unwrap_or(f64::NEG_INFINITY))
                .then(a.device.cmp(&b.device))
        }),
    }
    out.push_str("<div class=\"table\"><table><thead><tr>");
    match kind {
        "disk" => {
            out.push_str("<th>device</th><th>kind</th><th>IOPS avg</th><th>IOPS p95</th><th>read avg</th><th>written avg</th><th>await p95</th><th>await max</th><th>%util avg</th><th>%util p95</th><th>%util max</th></tr></thead><tbody>");
            for d in devs {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&d.device),
                    esc(&d.role),
                    cell(g(d, "iops", "avg"), Unit::PerS),
                    cell(g(d, "iops", "p95"), Unit::PerS),
                    cell(g(d, "read_bytes_per_s", "avg"), Unit::BytesPerS),
                    cell(g(d, "write_bytes_per_s", "avg"), Unit::BytesPerS),
                    cell(g(d, "await_ms", "p95"), Unit::Ms),
                    cell(g(d, "await_ms", "max"), Unit::Ms),
                    cell(g(d, "util_pct", "avg"), Unit::Percent),
                    cell(g(d, "util_pct", "p95"), Unit::Percent),
                    cell(g(d, "util_pct", "max"), Unit::Percent),
                );
            }
        }
        "net" => {
            out.push_str("<th>interface</th><th>kind</th><th>received avg</th><th>received p95</th><th>sent avg</th><th>sent p95</th><th>packets in p95</th><th>packets out p95</th><th>errors, most per s</th><th>drops, most per s</th></tr></thead><tbody>");
            for d in devs {
                let most = |a: &str, b: &str| {
                    [g(d, a, "max"), g(d, b, "max")]
                        .into_iter()
                        .flatten()
                        .reduce(f64::max)
                };
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&d.device),
                    esc(&d.role),
                    cell(g(d, "rx_bytes_per_s", "avg"), Unit::BytesPerS),
                    cell(g(d, "rx_bytes_per_s", "p95"), Unit::BytesPerS),
                    cell(g(d, "tx_bytes_per_s", "avg"), Unit::BytesPerS),
                    cell(g(d, "tx_bytes_per_s", "p95"), Unit::BytesPerS),
                    cell(g(d, "rx_packets_per_s", "p95"), Unit::PerS),
                    cell(g(d, "tx_packets_per_s", "p95"), Unit::PerS),
                    cell(most("rx_errs_per_s", "tx_errs_per_s"), Unit::PerS),
                    cell(most("rx_drop_per_s", "tx_drop_per_s"), Unit::PerS),
                );
            }
        }
        "container" => {
            out.push_str("<th>container</th><th>CPU avg</th><th>CPU p95</th><th>CPU max</th><th>CPU limit</th><th>throttled avg</th><th>memory max</th><th>memory limit</th><th>memory % of limit, max</th><th>read avg</th><th>written avg</th><th>tasks max</th></tr></thead><tbody>");
            for d in devs {
                let limit = last(d, "cpu_limit_cores")
                    .map(|c| format!("{} CPU", format::num(c)))
                    .unwrap_or_else(|| "none".into());
                let mem_limit = match last(d, "mem_limit_bytes") {
                    Some(b) => format::value(b, Unit::Bytes),
                    None => "none".into(),
                };
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&d.device),
                    cell(g(d, "cpu_pct", "avg"), Unit::Percent),
                    cell(g(d, "cpu_pct", "p95"), Unit::Percent),
                    cell(g(d, "cpu_pct", "max"), Unit::Percent),
                    esc(&limit),
                    cell(g(d, "throttled_pct", "avg"), Unit::Percent),
                    cell(g(d, "mem_bytes", "max"), Unit::Bytes),
                    esc(&mem_limit),
                    cell(g(d, "mem_pct", "max"), Unit::Percent),
                    cell(g(d, "read_bytes_per_s", "avg"), Unit::BytesPerS),
                    cell(g(d, "write_bytes_per_s", "avg"), Unit::BytesPerS),
                    cell(g(d, "pids", "max"), Unit::Count),
                );
            }
        }
        _ => {
            out.push_str("<th>mount</th><th>size</th><th>used at the end</th><th>used %, end</th><th>used %, max</th><th>inodes used %, end</th></tr></thead><tbody>");
            for d in devs {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&d.device),
                    cell(last(d, "size_bytes"), Unit::Bytes),
                    cell(last(d, "used_bytes"), Unit::Bytes),
                    cell(last(d, "used_pct"), Unit::Percent),
                    cell(g(d, "used_pct", "max"), Unit::Percent),
                    cell(last(d, "inodes_used_pct"), Unit::Percent),
                );
            }
        }
    }
    out.push_str("</tbody></table></div>\n");
}

fn quality_html(out: &mut String, m: &MachineReport) {
    let q = &m.quality;
    if q.is_clean() && q.intervals > 0 {
        out.push_str("<p class=\"ok\">No gaps, duplicate timestamps, reboots, counter resets or values out of range.</p>\n");
    }
    out.push_str("<div class=\"table\"><table><tbody>");
    let mut row = |k: &str, v: String| {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"text\">{}</td></tr>",
            esc(k),
            esc(&v)
        );
    };
    row("Intervals", q.intervals.to_string());
    if let Some(i) = q.median_interval_s {
        row("Median interval", format::duration(i));
    }
    row(
        "Gaps",
        match q.gap_threshold_s {
            Some(t) if q.gap_count > 0 => format!(
                "{} (steps longer than {}), {} missing in all",
                q.gap_count,
                format::duration(t),
                format::duration(q.gap_missing_s)
            ),
            Some(t) => format!("none (no step longer than {})", format::duration(t)),
            None => "cannot tell with fewer than two intervals".into(),
        },
    );
    row("Duplicate timestamps", q.duplicate_timestamps.to_string());
    row(
        "Rows out of order in the input",
        q.out_of_order_rows.to_string(),
    );
    row(
        "Samples dropped (time did not increase)",
        q.dropped_samples.to_string(),
    );
    row(
        "Reboots",
        if q.reboots_ms.is_empty() {
            "none seen".into()
        } else {
            q.reboots_ms
                .iter()
                .map(|t| format::time_utc(*t))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    row(
        "Counter resets",
        match &q.counter_resets {
            None => "not known: this source holds rates, not counters".into(),
            Some(r) if r.is_empty() => "none".into(),
            Some(r) => r
                .iter()
                .map(|c| {
                    format!(
                        "{} ×{} (first {})",
                        c.counter,
                        c.count,
                        format::time_utc(c.first_ms)
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        },
    );
    row("Unreadable lines skipped", q.skipped_lines.to_string());
    if q.times_out_of_range > 0 {
        row(
            "Left out: times more than ±31,700 years from 1970",
            q.times_out_of_range.to_string(),
        );
    }
    row(
        "Values out of range",
        if q.out_of_range.is_empty() {
            "none".into()
        } else {
            format!("{} series, listed below", q.out_of_range.len())
        },
    );
    if !q.incomplete_metrics.is_empty() {
        row(
            "Metrics missing in some rows",
            q.incomplete_metrics
                .iter()
                .map(|i| format!("{} ({} rows)", i.metric, i.missing_rows))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    out.push_str("</tbody></table></div>\n");
    if !q.gaps.is_empty() {
        out.push_str("<h4>Longest gaps</h4><div class=\"table\"><table><thead><tr><th>from</th><th>to</th><th>length</th></tr></thead><tbody>");
        for g in q.gaps.iter().take(10) {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&format::time_utc(g.from_ms)),
                esc(&format::time_utc(g.to_ms)),
                esc(&format::duration(g.length_s))
            );
        }
        out.push_str("</tbody></table></div>\n");
    }
    if !q.out_of_range.is_empty() {
        out.push_str("<h4>Values out of range</h4><div class=\"table\"><table><thead><tr><th>series</th><th>rule</th><th>values</th><th>lowest</th><th>highest</th><th>first</th></tr></thead><tbody>");
        for o in &q.out_of_range {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&o.series),
                esc(&o.rule),
                o.count,
                esc(&format::num(o.min)),
                esc(&format::num(o.max)),
                esc(&format::time_utc(o.first_ms))
            );
        }
        out.push_str("</tbody></table></div>\n");
    }
}

fn machine_html(out: &mut String, m: &MachineReport) {
    let id = slug(&m.machine_id);
    let _ = writeln!(
        out,
        "<section class=\"machine\" id=\"m-{id}\"><h2>{}</h2>",
        esc(&m.machine_id)
    );
    facts_html(out, m);
    let _ = writeln!(out, "<h3 id=\"{id}-findings\">Findings</h3>");
    findings_html(out, m);
    for s in Section::ALL {
        let figs: Vec<(usize, &Figure)> = m
            .figures
            .iter()
            .enumerate()
            .filter(|(_, f)| f.section == s)
            .collect();
        let notes: Vec<&String> = m
            .notes
            .per_section
            .iter()
            .filter(|(x, _)| *x == s)
            .map(|(_, t)| t)
            .collect();
        let has_devices = matches!(
            s,
            Section::Disk | Section::Network | Section::Filesystems | Section::Containers
        ) && m.devices.iter().any(|d| {
            d.kind
                == match s {
                    Section::Disk => "disk",
                    Section::Network => "net",
                    Section::Containers => "container",
                    _ => "fs",
                }
        });
        if figs.is_empty() && !has_devices && notes.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "<h3 id=\"{id}-{}\">{}</h3>",
            s.anchor(),
            esc(s.title())
        );
        for n in notes {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(n));
        }
        for (i, f) in figs {
            figure(
                out,
                f,
                m.svgs.get(i).map(String::as_str).unwrap_or(""),
                &m.machine_id,
            );
        }
        device_tables(out, m, s);
    }
    let _ = writeln!(out, "<h3 id=\"{id}-percentiles\">Percentiles</h3>");
    out.push_str(
        "<p class=\"note\">Every statistic uses every sample (p50 … p99: type 7 percentiles, as R and numpy compute them). \
         Hover a metric for what it is.</p>\n",
    );
    percentile_table(out, m);
    let _ = writeln!(out, "<h3 id=\"{id}-quality\">Data quality</h3>");
    quality_html(out, m);
    out.push_str("</section>\n");
}

fn comparison_html(out: &mut String, c: &Comparison, report: &Report) {
    out.push_str("<section id=\"comparison\"><h2>Comparison</h2>\n");
    out.push_str("<div class=\"table\"><table><thead><tr><th></th>");
    for m in &c.machines {
        let _ = write!(out, "<th><a href=\"#m-{}\">{}</a></th>", slug(m), esc(m));
    }
    out.push_str("</tr></thead><tbody>");
    for (row, unit) in c.rows.iter().zip(&c.units) {
        let _ = write!(out, "<tr><td>{}</td>", esc(&row.label));
        for v in &row.values {
            let s = match v {
                Some(v) => format::value(*v, *unit),
                None => "–".into(),
            };
            let _ = write!(out, "<td>{}</td>", esc(&s));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>\n");
    for (f, svg) in c.figures.iter().zip(&c.svgs) {
        figure(out, f, svg, "compare");
    }
    let all: Vec<&Finding> = report
        .machines
        .iter()
        .flat_map(|m| m.findings.iter())
        .filter(|f| f.severity >= Severity::Warning)
        .collect();
    if !all.is_empty() {
        out.push_str("<h3>Warnings and critical findings, all machines</h3>\n");
        for f in all {
            finding_html(out, f, true);
        }
    }
    out.push_str("</section>\n");
}

pub(crate) fn render(report: &Report) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let title = report.title();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // Nothing may load from anywhere: no script, no font, no image but inline data.
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n");
    let _ = writeln!(
        out,
        "<meta name=\"generator\" content=\"perfreport {VERSION}\">\n<title>{}</title>",
        esc(&title)
    );
    let _ = writeln!(
        out,
        "<style>{CSS}</style></head><body>\n<header class=\"top\"><h1>{}</h1>",
        esc(&title)
    );
    let range = match (
        report.machines.iter().filter_map(|m| m.start_ms).min(),
        report.machines.iter().filter_map(|m| m.end_ms).max(),
    ) {
        (Some(a), Some(b)) => format::range_utc(a, b),
        _ => "no intervals".into(),
    };
    let _ = writeln!(
        out,
        "<p class=\"sub\">{} machine{} · {}{} · perfreport {VERSION}</p>",
        report.machines.len(),
        if report.machines.len() == 1 { "" } else { "s" },
        esc(&range),
        report
            .options
            .generated_at_ms
            .map(|t| format!(" · made {}", format::time_utc(t)))
            .unwrap_or_default(),
    );
    out.push_str("<nav><ul>");
    if report.comparison.is_some() {
        out.push_str("<li class=\"m\"><a href=\"#comparison\">Comparison</a></li>");
    }
    let single = report.machines.len() == 1;
    for m in &report.machines {
        let id = slug(&m.machine_id);
        let _ = write!(
            out,
            "<li class=\"m\"><a href=\"#m-{id}\">{}</a></li>",
            esc(&m.machine_id)
        );
        if !single {
            continue;
        }
        let _ = write!(
            out,
            "<li><a href=\"#{id}-findings\">Findings ({})</a></li>",
            m.findings.len()
        );
        for s in Section::ALL {
            if m.figures.iter().any(|f| f.section == s)
                || m.notes.per_section.iter().any(|(x, _)| *x == s)
            {
                let _ = write!(
                    out,
                    "<li><a href=\"#{id}-{}\">{}</a></li>",
                    s.anchor(),
                    esc(s.title())
                );
            }
        }
        let _ = write!(
            out,
            "<li><a href=\"#{id}-percentiles\">Percentiles</a></li><li><a href=\"#{id}-quality\">Data quality</a></li>"
        );
    }
    out.push_str("</ul></nav></header>\n<main>\n");
    if let Some(c) = &report.comparison {
        comparison_html(&mut out, c, report);
    }
    for m in &report.machines {
        machine_html(&mut out, m);
    }
    out.push_str(
        "</main>\n<footer><p>How to read this report: statistics and findings use every sample; charts draw at most one \
         point per pixel column (the mean, with the minimum–maximum of the samples in the column as a shaded band, so \
         short spikes stay visible). Times are UTC. Each finding names the thresholds it used; the rules are described \
         in docs/report.md of PerfAnalysis. CPU busy = 100 − idle − iowait − steal. Sizes use binary units \
         (1 KiB = 1024 B).</p></footer>\n</body></html>\n",
    );
    out
}
