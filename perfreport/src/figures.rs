//! Which charts a machine gets, built from its columns and device series
//! (downsampled here; drawn by `chart::render`).

use perfcore::metrics::Metric;

use crate::chart::{Area, Bar, BarPlot, Body, Chart, HeatPlot, Line, RefLine, TimePlot};
use crate::chart::{Rgb, palette};
use crate::columns::{Columns, median_step};
use crate::devices::{Device, Devices};
use crate::downsample::{Buckets, buckets, reduce, with_breaks};
use crate::format::{self, Unit};

/// Report sections, in page order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Section {
    Cpu,
    Load,
    Memory,
    Disk,
    Network,
    Filesystems,
    Containers,
    Pressure,
}

impl Section {
    pub(crate) const ALL: [Section; 8] = [
        Section::Cpu,
        Section::Load,
        Section::Memory,
        Section::Disk,
        Section::Network,
        Section::Filesystems,
        Section::Containers,
        Section::Pressure,
    ];

    pub(crate) fn title(self) -> &'static str {
        match self {
            Section::Cpu => "CPU",
            Section::Load => "Load and run queue",
            Section::Memory => "Memory and swap",
            Section::Disk => "Disks",
            Section::Network => "Network",
            Section::Filesystems => "Filesystems",
            Section::Containers => "Containers",
            Section::Pressure => "Pressure stalls (PSI)",
        }
    }

    pub(crate) fn anchor(self) -> &'static str {
        match self {
            Section::Cpu => "cpu",
            Section::Load => "load",
            Section::Memory => "memory",
            Section::Disk => "disk",
            Section::Network => "network",
            Section::Filesystems => "fs",
            Section::Containers => "containers",
            Section::Pressure => "psi",
        }
    }
}

/// A chart and the words under it.
#[derive(Debug, Clone)]
pub(crate) struct Figure {
    pub section: Section,
    pub chart: Chart,
    pub caption: String,
}

/// Notes a section prints above its charts (devices left out, missing data).
#[derive(Debug, Clone, Default)]
pub(crate) struct Notes {
    pub per_section: Vec<(Section, String)>,
}

impl Notes {
    fn add(&mut self, s: Section, text: String) {
        self.per_section.push((s, text));
    }
}

pub(crate) struct Ctx<'a> {
    pub devices: &'a Devices<'a>,
    pub cols: &'a Columns,
    pub width: u32,
    pub max_devices: usize,
    pub cpu_count: Option<u32>,
    pub t0: i64,
    pub t1: i64,
    pub buckets: Buckets,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        devices: &'a Devices<'a>,
        cols: &'a Columns,
        width: u32,
        max_devices: usize,
        cpu_count: Option<u32>,
    ) -> Self {
        let t0 = cols.ts.first().copied().unwrap_or(0);
        let t1 = cols.ts.last().copied().unwrap_or(0);
        let b = buckets(&cols.ts, t0, t1, columns(width), cols.gap_ms);
        Ctx {
            devices,
            cols,
            width,
            max_devices,
            cpu_count,
            t0,
            t1,
            buckets: b,
        }
    }

    fn time_plot(&self, unit: Unit) -> TimePlot {
        TimePlot {
            x0: self.t0,
            x1: self.t1,
            relative: false,
            unit,
            y_max_fixed: None,
            mirrored: None,
            areas: Vec::new(),
            lines: Vec::new(),
            refs: Vec::new(),
            reduced: self.buckets.reduced,
        }
    }

    /// A line of a row column (with its min–max band when columns hold several samples).
    fn line(&self, label: &str, color: Rgb, values: &[f64], band: bool) -> Line {
        line_from(&self.buckets, label, color, values, band)
    }

    /// A line of a device series (own timestamps).
    fn device_line(&self, label: &str, color: Rgb, ts: &[i64], values: &[f64], down: bool) -> Line {
        let b = if ts == self.cols.ts.as_slice() {
            self.buckets.clone()
        } else {
            let med = median_step(ts);
            let gap = if med > 0 {
                med * crate::columns::GAP_FACTOR
            } else {
                i64::MAX
            };
            buckets(ts, self.t0, self.t1, columns(self.width), gap)
        };
        let mut l = line_from(&b, label, color, values, true);
        l.down = down;
        l
    }

    fn chart(
        &self,
        id: &str,
        title: &str,
        body: Body,
        legend_items: usize,
        label_chars: usize,
    ) -> Chart {
        Chart {
            id: id.to_owned(),
            title: title.to_owned(),
            width: self.width,
            height: height_for(self.width, legend_items, label_chars),
            body,
        }
    }
}

/// Drawing columns for a chart of this width (about one per pixel of the plot).
fn columns(width: u32) -> usize {
    (width.saturating_sub(110) as usize).max(50)
}

/// Chart height: a fixed plot plus the legend rows its labels need.
pub(crate) fn height_for(width: u32, items: usize, label_chars: usize) -> u32 {
    let per_item = 26 + 18 + 9 * (label_chars / items.max(1)) as u32;
    let per_row = ((width.saturating_sub(24)) / per_item.max(1)).max(1) as usize;
    let rows = items.div_ceil(per_row).max(1) as u32;
    320 + 24 * rows
}

fn line_from(b: &Buckets, label: &str, color: Rgb, values: &[f64], band: bool) -> Line {
    let r = reduce(b, values);
    let (x, ys) = with_breaks(b, &[&r.avg, &r.min, &r.max]);
    let mut it = ys.into_iter();
    let avg = it.next().unwrap_or_default();
    let min = it.next().unwrap_or_default();
    let max = it.next().unwrap_or_default();
    Line {
        label: label.to_owned(),
        color,
        x,
        y: avg,
        band: (band && b.reduced).then_some((min, max)),
        down: false,
        width: 2,
        legend: true,
    }
}

/// Largest value drawn by any line (band maximum included).
fn max_of(lines: &[Line]) -> f64 {
    lines
        .iter()
        .flat_map(|l| l.band.as_ref().map(|b| &b.1).unwrap_or(&l.y).iter())
        .filter(|v| v.is_finite())
        .fold(0.0, |a: f64, v| a.max(*v))
}

fn any_nonzero(v: &[f64]) -> bool {
    v.iter().any(|x| x.is_finite() && *x != 0.0)
}

fn labels_len(labels: &[&str]) -> usize {
    labels.iter().map(|s| s.chars().count()).sum()
}

pub(crate) fn build(ctx: &Ctx<'_>) -> (Vec<Figure>, Notes) {
    let mut figs = Vec::new();
    let mut notes = Notes::default();
    if ctx.cols.len() == 0 {
        return (figs, notes);
    }
    cpu(ctx, &mut figs, &mut notes);
    load(ctx, &mut figs);
    memory(ctx, &mut figs, &mut notes);
    disks(ctx, &mut figs, &mut notes);
    nets(ctx, &mut figs, &mut notes);
    filesystems(ctx, &mut figs);
    containers(ctx, &mut figs, &mut notes);
    psi(ctx, &mut figs, &mut notes);
    (figs, notes)
}

fn cpu(ctx: &Ctx<'_>, figs: &mut Vec<Figure>, notes: &mut Notes) {
    use Metric as M;
    let layers: [(M, &str, Rgb); 8] = [
        (M::CpuUserPct, "user", palette::BLUE),
        (M::CpuNicePct, "nice", palette::SKY),
        (M::CpuSystemPct, "system", palette::VERMILLION),
        (M::CpuIrqPct, "irq", palette::PURPLE),
        (M::CpuSoftirqPct, "softirq", palette::YELLOW),
        (M::CpuGuestPct, "guest", palette::GREEN),
        (M::CpuIowaitPct, "iowait", palette::ORANGE),
        (M::CpuStealPct, "steal", palette::BLACK),
    ];
    let mut plot = ctx.time_plot(Unit::Percent);
    plot.y_max_fixed = Some(100.0);
    let mut cum: Option<Vec<f64>> = None;
    let mut zero = Vec::new();
    let mut labels = Vec::new();
    for (m, label, color) in layers {
        let Some(v) = ctx.cols.get(m) else { continue };
        if !any_nonzero(v) && !matches!(m, M::CpuUserPct | M::CpuSystemPct) {
            zero.push(label);
            continue;
        }
        let r = reduce(&ctx.buckets, v);
        let (x, ys) = with_breaks(&ctx.buckets, &[&r.avg]);
        let avg = ys.into_iter().next().unwrap_or_default();
        let lo = cum.clone().unwrap_or_else(|| {
            avg.iter()
                .map(|v| if v.is_nan() { f64::NAN } else { 0.0 })
                .collect()
        });
        let hi: Vec<f64> = lo
            .iter()
            .zip(&avg)
            .map(|(a, b)| {
                if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else {
                    a + b
                }
            })
            .collect();
        cum = Some(hi.clone());
        labels.push(label);
        plot.areas.push(Area {
            label: label.to_owned(),
            color,
            x,
            lo,
            hi,
        });
    }
    if !plot.areas.is_empty() {
        let mut caption = String::from(
            "Share of CPU time of all CPUs together, stacked: the top of the stack is everything but idle.",
        );
        // The top of the stack (everything but idle) at its highest in each column.
        let non_idle: Option<Vec<f64>> = ctx
            .cols
            .get(M::CpuIdlePct)
            .map(|idle| idle.iter().map(|v| 100.0 - v).collect())
            .or_else(|| ctx.cols.busy.clone());
        if let Some(top) = &non_idle
            && ctx.buckets.reduced
        {
            let r = reduce(&ctx.buckets, top);
            let (x, ys) = with_breaks(&ctx.buckets, &[&r.max]);
            plot.lines.push(Line {
                label: "not idle, highest sample in the column".into(),
                color: palette::BLACK,
                x,
                y: ys.into_iter().next().unwrap_or_default(),
                band: None,
                down: false,
                width: 1,
                legend: true,
            });
            labels.push("not idle, highest sample in the column");
            caption.push_str(
                " Each pixel column averages several samples; the thin line is the top of the stack at its highest sample in it.",
            );
        }
        if !zero.is_empty() {
            caption.push_str(&format!(
                " Zero throughout, so not drawn: {}.",
                zero.join(", ")
            ));
        }
        let n = plot.areas.len() + plot.lines.len();
        figs.push(Figure {
            section: Section::Cpu,
            chart: ctx.chart(
                "cpu",
                "CPU time by kind (%)",
                Body::Time(plot),
                n,
                labels_len(&labels),
            ),
            caption,
        });
    }

    // Per-CPU heat map.
    let cpus = ctx.devices.cpus();
    if cpus.len() >= 2 {
        if let Some(h) = cpu_heat(ctx, &cpus) {
            figs.push(h);
        }
    } else if cpus.len() == 1 {
        notes.add(
            Section::Cpu,
            "One CPU: the chart below is that CPU, so there is no per-CPU heat map.".into(),
        );
    }
}

/// Columns for the heat map: at most `max_cells` cells in all.
fn cpu_heat(ctx: &Ctx<'_>, cpus: &[&Device<'_>]) -> Option<Figure> {
    let max_cells = 24_000usize;
    let k_max = (max_cells / cpus.len()).clamp(20, 400);
    let ts = &ctx.cols.ts;
    let w = &ctx.cols.weight_s;
    let cols: Vec<(i64, i64)> = if ts.len() <= k_max {
        // A cell spans its interval, cut to the time axis: the first interval
        // ends where the axis starts, and is not drawn over the row labels.
        ts.iter()
            .zip(w)
            .map(|(t, w)| ((t - (w * 1000.0) as i64).max(ctx.t0), *t))
            .collect()
    } else {
        let span = (ctx.t1 - ctx.t0).max(1) as f64;
        (0..k_max)
            .map(|k| {
                (
                    ctx.t0 + (span * k as f64 / k_max as f64) as i64,
                    ctx.t0 + (span * (k + 1) as f64 / k_max as f64) as i64,
                )
            })
            .collect()
    };
    let ends: Vec<i64> = cols.iter().map(|c| c.1).collect();
    let mut rows = Vec::new();
    let mut values = Vec::new();
    for d in cpus {
        let Some((dts, busy)) = d.cpu_busy() else {
            continue;
        };
        let mut sum = vec![0.0; cols.len()];
        let mut cnt = vec![0u32; cols.len()];
        // Both sorted by time: walk them together.
        let mut k = 0;
        for (t, v) in dts.iter().zip(busy) {
            while k < ends.len() && ends[k] < *t {
                k += 1;
            }
            if !v.is_finite() {
                continue;
            }
            if let Some(c) = cols.get(k)
                && *t > c.0
            {
                sum[k] += v;
                cnt[k] += 1;
            }
        }
        rows.push(format!("cpu{}", d.name));
        values.push(
            sum.iter()
                .zip(&cnt)
                .map(|(s, n)| if *n > 0 { s / f64::from(*n) } else { f64::NAN })
                .collect(),
        );
    }
    if rows.is_empty() {
        return None;
    }
    let row_h = if rows.len() <= 16 {
        18
    } else {
        (320 / rows.len()).max(2)
    };
    let height = (136 + row_h * rows.len()).max(220) as u32;
    Some(Figure {
        section: Section::Cpu,
        caption: format!(
            "Busy share (100 − idle − iowait − steal) of each of the {} CPUs; darker is busier. \
             One CPU pinned while others idle points at a single-threaded bottleneck.",
            rows.len()
        ),
        chart: Chart {
            id: "cpu-heatmap".into(),
            title: "Per-CPU busy (%)".into(),
            width: ctx.width,
            height,
            body: Body::Heat(HeatPlot {
                x0: ctx.t0,
                x1: ctx.t1,
                rows,
                cols,
                values,
                max: 100.0,
                what: "CPU busy".into(),
            }),
        },
    })
}

fn load(ctx: &Ctx<'_>, figs: &mut Vec<Figure>) {
    use Metric as M;
    let mut plot = ctx.time_plot(Unit::Load);
    let mut labels = Vec::new();
    for (m, label, color, band) in [
        (M::Load1, "load, 1 min", palette::BLUE, true),
        (M::Load5, "load, 5 min", palette::SKY, false),
        (M::Load15, "load, 15 min", palette::GREEN, false),
        (M::ProcsRunning, "runnable tasks", palette::ORANGE, true),
        (
            M::ProcsBlocked,
            "tasks blocked on I/O",
            palette::VERMILLION,
            true,
        ),
    ] {
        if let Some(v) = ctx.cols.get(m) {
            plot.lines.push(ctx.line(label, color, v, band));
            labels.push(label);
        }
    }
    if plot.lines.is_empty() {
        return;
    }
    let mut caption = String::from(
        "Load averages count tasks running or waiting to run (and, on Linux, in uninterruptible sleep). \
         Above the CPU count, work queues for CPU.",
    );
    if let Some(n) = ctx.cpu_count {
        plot.refs.push(RefLine {
            label: format!("CPUs ({n})"),
            value: f64::from(n),
            color: palette::BLACK,
        });
        labels.push("CPUs (00)");
    }
    if ctx.cols.get(M::Load1).is_none() {
        caption = String::from(
            "No load averages in this data (/proc/loadavg was not recorded); runnable tasks come from /proc/stat. \
             Runnable tasks above the CPU count wait for CPU.",
        );
    }
    plot.unit = Unit::Tasks;
    let n = plot.lines.len() + plot.refs.len();
    let title = if ctx.cols.get(M::Load1).is_some() {
        "Load average and run queue (tasks)"
    } else {
        "Run queue (tasks)"
    };
    figs.push(Figure {
        section: Section::Load,
        chart: ctx.chart("load", title, Body::Time(plot), n, labels_len(&labels)),
        caption,
    });
}

fn memory(ctx: &Ctx<'_>, figs: &mut Vec<Figure>, notes: &mut Notes) {
    use Metric as M;
    let mut plot = ctx.time_plot(Unit::Bytes);
    let mut cum: Option<Vec<f64>> = None;
    let mut labels = Vec::new();
    for (m, label, color) in [
        (M::MemUsedBytes, "used", palette::BLUE),
        (M::MemBuffersBytes, "buffers", palette::SKY),
        (M::MemCachedBytes, "cached", palette::GREEN),
        (M::MemFreeBytes, "free", (200, 200, 200)),
    ] {
        let Some(v) = ctx.cols.get(m) else { continue };
        let r = reduce(&ctx.buckets, v);
        let (x, ys) = with_breaks(&ctx.buckets, &[&r.avg]);
        let avg = ys.into_iter().next().unwrap_or_default();
        let lo = cum.clone().unwrap_or_else(|| {
            avg.iter()
                .map(|v| if v.is_nan() { f64::NAN } else { 0.0 })
                .collect()
        });
        let hi: Vec<f64> = lo
            .iter()
            .zip(&avg)
            .map(|(a, b)| {
                if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else {
                    a + b
                }
            })
            .collect();
        cum = Some(hi.clone());
        labels.push(label);
        plot.areas.push(Area {
            label: label.to_owned(),
            color,
            x,
            lo,
            hi,
        });
    }
    if let Some(v) = ctx.cols.get(M::MemAvailableBytes) {
        let mut l = ctx.line("available", palette::ORANGE, v, true);
        l.width = 3;
        plot.lines.push(l);
        labels.push("available");
    }
    if let Some(total) = ctx
        .cols
        .get(M::MemTotalBytes)
        .and_then(|v| v.iter().rev().find(|x| x.is_finite()).copied())
    {
        plot.refs.push(RefLine {
            label: format!("total ({})", format::bytes(total)),
            value: total,
            color: palette::BLACK,
        });
        labels.push("total (000.0 GiB)");
    }
    if !plot.areas.is_empty() || !plot.lines.is_empty() {
        let n = plot.areas.len() + plot.lines.len() + plot.refs.len();
        figs.push(Figure {
            section: Section::Memory,
            chart: ctx.chart("memory", "Memory", Body::Time(plot), n, labels_len(&labels)),
            caption: "Used = total − free − buffers − cached − slab (sar's kbmemused); slab is the gap between the \
                      stack and the total. Available is the kernel's estimate of memory usable without swapping."
                .into(),
        });
    }

    // Swap: space in use, and pages moving.
    let swap_total = ctx
        .cols
        .get(M::SwapTotalBytes)
        .and_then(|v| v.iter().rev().find(|x| x.is_finite()).copied())
        .unwrap_or(0.0);
    let (sin, sout) = (
        ctx.cols.get(M::SwapInPagesPerS),
        ctx.cols.get(M::SwapOutPagesPerS),
    );
    let moved = sin.is_some_and(any_nonzero) || sout.is_some_and(any_nonzero);
    if (sin.is_some() || sout.is_some()) && !moved {
        notes.add(
            Section::Memory,
            "No swapping: pages swapped in and out were 0 throughout.".into(),
        );
    }
    if moved {
        let mut plot = ctx.time_plot(Unit::PagesPerS);
        plot.mirrored = Some(("swapped in".into(), "swapped out".into()));
        if let Some(v) = sin {
            plot.lines.push(ctx.line("swap in", palette::BLUE, v, true));
        }
        if let Some(v) = sout {
            let mut l = ctx.line("swap out", palette::VERMILLION, v, true);
            l.down = true;
            plot.lines.push(l);
        }
        figs.push(Figure {
            section: Section::Memory,
            chart: ctx.chart("swap-activity", "Swapping (pages/s)", Body::Time(plot), 2, 16),
            caption: "Pages read from (up) and written to (down) swap per second. Sustained swapping means the \
                      working set does not fit in memory."
                .into(),
        });
    }
    if swap_total > 0.0
        && let Some(v) = ctx.cols.get(M::SwapUsedBytes)
    {
        let mut plot = ctx.time_plot(Unit::Bytes);
        plot.lines
            .push(ctx.line("swap used", palette::PURPLE, v, true));
        plot.refs.push(RefLine {
            label: format!("swap size ({})", format::bytes(swap_total)),
            value: swap_total,
            color: palette::BLACK,
        });
        figs.push(Figure {
            section: Section::Memory,
            chart: ctx.chart("swap-used", "Swap in use", Body::Time(plot), 2, 30),
            caption: "Swap space holding pages. Space in use alone is not a problem; pages moving in and out is."
                .into(),
        });
    }
}

fn names_list(devs: &[&Device<'_>]) -> String {
    let mut names: Vec<&str> = devs.iter().map(|d| d.name).collect();
    let more = names.len().saturating_sub(12);
    names.truncate(12);
    let mut s = names.join(", ");
    if more > 0 {
        s.push_str(&format!(" and {more} more"));
    }
    s
}

/// Mirrored per-device chart: `up` metric above, `down` below.
#[allow(clippy::too_many_arguments)]
fn mirrored(
    ctx: &Ctx<'_>,
    devs: &[&Device<'_>],
    id: &str,
    title: &str,
    unit: Unit,
    up: (&str, &str),
    down: (&str, &str),
) -> Option<(Chart, usize)> {
    let mut plot = ctx.time_plot(unit);
    plot.mirrored = Some((up.1.to_owned(), down.1.to_owned()));
    let mut labels = Vec::new();
    for (i, d) in devs.iter().enumerate() {
        let color = palette::series(i);
        let (a, b) = (d.get(up.0), d.get(down.0));
        if a.is_none() && b.is_none() {
            continue;
        }
        if let Some(s) = a {
            plot.lines
                .push(ctx.device_line(d.name, color, &s.timestamps_ms, &s.values, false));
        }
        if let Some(s) = b {
            let mut l = ctx.device_line(d.name, color, &s.timestamps_ms, &s.values, true);
            l.legend = a.is_none();
            plot.lines.push(l);
        }
        labels.push(d.name);
    }
    if plot.lines.is_empty() {
        return None;
    }
    let n = labels.len();
    Some((
        ctx.chart(id, title, Body::Time(plot), n, labels_len(&labels)),
        n,
    ))
}

fn disks(ctx: &Ctx<'_>, figs: &mut Vec<Figure>, notes: &mut Notes) {
    let (shown, left) = ctx.devices.disks();
    let total = shown.len();
    let top: Vec<&Device<'_>> = shown.into_iter().take(ctx.max_devices).collect();
    if !left.is_empty() {
        let (parts, idle): (Vec<_>, Vec<_>) = left.into_iter().partition(|d| !d.disk_is_charted());
        let (parts, other): (Vec<_>, Vec<_>) =
            parts.into_iter().partition(|d| d.role() == "partition");
        let mut s = Vec::new();
        if !parts.is_empty() {
            s.push(format!(
                "partitions {} (their I/O is counted in their disk)",
                names_list(&parts)
            ));
        }
        let idle: Vec<&Device<'_>> = idle.into_iter().chain(other).collect();
        if !idle.is_empty() {
            s.push(format!(
                "{} (loop, RAM or optical devices, or no I/O)",
                names_list(&idle)
            ));
        }
        notes.add(Section::Disk, format!("Not charted: {}.", s.join("; ")));
    }
    if total > top.len() {
        notes.add(
            Section::Disk,
            format!(
                "Charts show the {} busiest of {} devices; the table lists all of them.",
                top.len(),
                total
            ),
        );
    }
    if top.is_empty() {
        // Only machine totals (portal CSV).
        use Metric as M;
        let (r, w) = (
            ctx.cols.get(M::DiskReadBytesPerS),
            ctx.cols.get(M::DiskWriteBytesPerS),
        );
        if r.is_some() || w.is_some() {
            let mut plot = ctx.time_plot(Unit::BytesPerS);
            plot.mirrored = Some(("read".into(), "written".into()));
            if let Some(v) = r {
                plot.lines.push(ctx.line("read", palette::BLUE, v, true));
            }
            if let Some(v) = w {
                let mut l = ctx.line("written", palette::ORANGE, v, true);
                l.down = true;
                plot.lines.push(l);
            }
            figs.push(Figure {
                section: Section::Disk,
                chart: ctx.chart("disk-throughput", "Disk throughput, all disks", Body::Time(plot), 2, 12),
                caption: "Bytes read (up) and written (down) per second, summed over whole disks. This data has no \
                          per-device series."
                    .into(),
            });
        }
        return;
    }
    if let Some((c, _)) = mirrored(
        ctx,
        &top,
        "disk-throughput",
        "Disk throughput",
        Unit::BytesPerS,
        ("read_bytes_per_s", "read"),
        ("write_bytes_per_s", "written"),
    ) {
        figs.push(Figure {
            section: Section::Disk,
            chart: c,
            caption: "Bytes read (up) and written (down) per second, per device, busiest first."
                .into(),
        });
    }
    if let Some((c, _)) = mirrored(
        ctx,
        &top,
        "disk-iops",
        "Disk I/O operations (per second)",
        Unit::PerS,
        ("reads_per_s", "reads"),
        ("writes_per_s", "writes"),
    ) {
        figs.push(Figure {
            section: Section::Disk,
            chart: c,
            caption: "Reads (up) and writes (down) completed per second (iostat r/s, w/s).".into(),
        });
    }
    let mut plot = ctx.time_plot(Unit::Ms);
    let mut labels = Vec::new();
    for (i, d) in top.iter().enumerate() {
        if let Some((ts, v)) = d.await_ms() {
            plot.lines
                .push(ctx.device_line(d.name, palette::series(i), ts, v, false));
            labels.push(d.name);
        }
    }
    if !plot.lines.is_empty() {
        // The 20 ms mark only where it is near the data; else it squashes the lines.
        if max_of(&plot.lines) >= 10.0 {
            plot.refs.push(RefLine {
                label: "20 ms".into(),
                value: 20.0,
                color: palette::GREY,
            });
        }
        let n = plot.lines.len() + 1;
        figs.push(Figure {
            section: Section::Disk,
            chart: ctx.chart("disk-await", "Disk await (ms per I/O)", Body::Time(plot), n, labels_len(&labels) + 5),
            caption: "Average time each I/O took, queueing included (iostat await, reads, writes and discards \
                      weighted by their count). Breaks where a device did no I/O."
                .into(),
        });
    }
    let mut plot = ctx.time_plot(Unit::Percent);
    plot.y_max_fixed = Some(100.0);
    let mut labels = Vec::new();
    for (i, d) in top.iter().enumerate() {
        if let Some(s) = d.get("util_pct") {
            plot.lines.push(ctx.device_line(
                d.name,
                palette::series(i),
                &s.timestamps_ms,
                &s.values,
                false,
            ));
            labels.push(d.name);
        }
    }
    if !plot.lines.is_empty() {
        // A 0–100% axis only when some device got busy; low %util gets its own scale.
        if max_of(&plot.lines) >= 45.0 {
            plot.y_max_fixed = Some(100.0);
            plot.refs.push(RefLine {
                label: "90%".into(),
                value: 90.0,
                color: palette::GREY,
            });
        } else {
            plot.y_max_fixed = None;
        }
        let n = plot.lines.len() + 1;
        figs.push(Figure {
            section: Section::Disk,
            chart: ctx.chart("disk-util", "Disk utilisation (%util)", Body::Time(plot), n, labels_len(&labels) + 3),
            caption: "Share of time each device had I/O in flight (iostat %util). Near 100% a single-queue disk is \
                      saturated; SSDs and NVMe serve many requests at once, so read it together with await."
                .into(),
        });
    }
}

fn nets(ctx: &Ctx<'_>, figs: &mut Vec<Figure>, notes: &mut Notes) {
    let (shown, left) = ctx.devices.nets();
    let total = shown.len();
    let top: Vec<&Device<'_>> = shown.into_iter().take(ctx.max_devices).collect();
    if !left.is_empty() {
        notes.add(
            Section::Network,
            format!(
                "Not charted: {} (loopback, or no traffic).",
                names_list(&left)
            ),
        );
    }
    if total > top.len() {
        notes.add(
            Section::Network,
            format!(
                "Charts show the {} busiest of {} interfaces; the table lists all of them.",
                top.len(),
                total
            ),
        );
    }
    if top.is_empty() && !left.is_empty() {
        // Interfaces there are, but none moved a byte beyond loopback: a flat chart
        // would say nothing the note above does not.
        notes.add(
            Section::Network,
            "No traffic on any physical interface in this range.".to_string(),
        );
        return;
    }
    if top.is_empty() {
        use Metric as M;
        let (r, t) = (
            ctx.cols.get(M::NetRxBytesPerS),
            ctx.cols.get(M::NetTxBytesPerS),
        );
        if r.is_some() || t.is_some() {
            let mut plot = ctx.time_plot(Unit::BytesPerS);
            plot.mirrored = Some(("received".into(), "sent".into()));
            if let Some(v) = r {
                plot.lines
                    .push(ctx.line("received", palette::BLUE, v, true));
            }
            if let Some(v) = t {
                let mut l = ctx.line("sent", palette::ORANGE, v, true);
                l.down = true;
                plot.lines.push(l);
            }
            figs.push(Figure {
                section: Section::Network,
                chart: ctx.chart("net-throughput", "Network throughput, all interfaces", Body::Time(plot), 2, 12),
                caption: "Bytes received (up) and sent (down) per second over the physical interfaces. This data has \
                          no per-interface series."
                    .into(),
            });
        }
        return;
    }
    if let Some((c, _)) = mirrored(
        ctx,
        &top,
        "net-throughput",
        "Network throughput",
        Unit::BytesPerS,
        ("rx_bytes_per_s", "received"),
        ("tx_bytes_per_s", "sent"),
    ) {
        figs.push(Figure {
            section: Section::Network,
            chart: c,
            caption:
                "Bytes received (up) and sent (down) per second, per interface, busiest first."
                    .into(),
        });
    }
    if let Some((c, _)) = mirrored(
        ctx,
        &top,
        "net-packets",
        "Network packets (per second)",
        Unit::PerS,
        ("rx_packets_per_s", "received"),
        ("tx_packets_per_s", "sent"),
    ) {
        figs.push(Figure {
            section: Section::Network,
            chart: c,
            caption: "Packets received (up) and sent (down) per second.".into(),
        });
    }
    // Errors and drops: only when there are any.
    let all = ctx.devices.of(perfcore::metrics::DeviceKind::Net);
    let mut plot = ctx.time_plot(Unit::PerS);
    let mut labels: Vec<String> = Vec::new();
    let mut i = 0;
    for d in &all {
        for (metrics, what) in [
            (["rx_errs_per_s", "tx_errs_per_s"], "errors"),
            (["rx_drop_per_s", "tx_drop_per_s"], "drops"),
        ] {
            let (a, b) = (d.get(metrics[0]), d.get(metrics[1]));
            let Some((ts, v)) =
                crate::columns::combine(&[a, b], |v| v.iter().filter(|x| x.is_finite()).sum())
            else {
                continue;
            };
            if !any_nonzero(&v) {
                continue;
            }
            let label = format!("{} {what}", d.name);
            plot.lines
                .push(ctx.device_line(&label, palette::series(i), &ts, &v, false));
            labels.push(label);
            i += 1;
        }
    }
    if plot.lines.is_empty() {
        if !all.is_empty() {
            notes.add(
                Section::Network,
                "No interface counted any error or drop.".into(),
            );
        }
    } else {
        let n = plot.lines.len();
        let chars = labels.iter().map(|l| l.chars().count()).sum();
        figs.push(Figure {
            section: Section::Network,
            chart: ctx.chart(
                "net-errors",
                "Network errors and drops (per second)",
                Body::Time(plot),
                n,
                chars,
            ),
            caption: "Receive + transmit errors and drops per second, per interface.".into(),
        });
    }
}

fn filesystems(ctx: &Ctx<'_>, figs: &mut Vec<Figure>) {
    let fss = ctx.devices.filesystems();
    let mut bars = Vec::new();
    for d in fss.iter().take(24) {
        let Some(s) = d.get("used_pct") else { continue };
        let Some(last) = s.values.iter().rev().find(|v| v.is_finite()).copied() else {
            continue;
        };
        let max = s
            .values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        let size = d
            .get("size_bytes")
            .and_then(|s| s.values.iter().rev().find(|v| v.is_finite()).copied());
        let color = if last >= 95.0 {
            palette::VERMILLION
        } else if last >= 90.0 {
            palette::ORANGE
        } else {
            palette::BLUE
        };
        bars.push(Bar {
            label: d.name.to_owned(),
            value: last,
            marker: (max > last + 0.5).then_some(max),
            color,
            note: match size {
                Some(sz) => format!(
                    "{} of {}",
                    format::value(last, Unit::Percent),
                    format::bytes(sz)
                ),
                None => format::value(last, Unit::Percent),
            },
        });
    }
    if !bars.is_empty() {
        let n = bars.len() as u32;
        figs.push(Figure {
            section: Section::Filesystems,
            chart: Chart {
                id: "fs-usage".into(),
                title: "Filesystem use (%)".into(),
                width: ctx.width,
                height: 130 + 26 * n,
                body: Body::Bars(BarPlot {
                    unit: Unit::Percent,
                    max: 100.0,
                    bars,
                    refs: vec![RefLine {
                        label: "90%: nearly full".into(),
                        value: 90.0,
                        color: palette::VERMILLION,
                    }],
                }),
            },
            caption: "Space used at the end of the report, fullest first (as df shows it: used over used + available \
                      to unprivileged users). A black mark shows a higher level reached earlier."
                .into(),
        });
    }
    // Over time, when some filesystem changed noticeably.
    let changing: Vec<&&Device<'_>> = fss
        .iter()
        .filter(|d| {
            d.get("used_pct").is_some_and(|s| {
                let (lo, hi) = s
                    .values
                    .iter()
                    .filter(|v| v.is_finite())
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                        (a.min(*v), b.max(*v))
                    });
                hi - lo >= 1.0
            })
        })
        .take(ctx.max_devices)
        .collect();
    if !changing.is_empty() {
        let mut plot = ctx.time_plot(Unit::Percent);
        plot.y_max_fixed = Some(100.0);
        let mut labels = Vec::new();
        for (i, d) in changing.iter().enumerate() {
            if let Some(s) = d.get("used_pct") {
                plot.lines.push(ctx.device_line(
                    d.name,
                    palette::series(i),
                    &s.timestamps_ms,
                    &s.values,
                    false,
                ));
                labels.push(d.name);
            }
        }
        let n = plot.lines.len();
        figs.push(Figure {
            section: Section::Filesystems,
            chart: ctx.chart(
                "fs-over-time",
                "Filesystem use over time (%)",
                Body::Time(plot),
                n,
                labels_len(&labels),
            ),
            caption: "Filesystems whose use changed by at least one percentage point.".into(),
        });
    }
}

/// The value every container shares for `metric` at its last point, if they all agree.
fn common_last(devs: &[&Device<'_>], metric: &str) -> Option<f64> {
    let mut it = devs.iter().map(|d| {
        d.get(metric)
            .and_then(|s| s.values.iter().rev().find(|v| v.is_finite()).copied())
    });
    let first = it.next()??;
    it.all(|v| v == Some(first)).then_some(first)
}

fn containers(ctx: &Ctx<'_>, figs: &mut Vec<Figure>, notes: &mut Notes) {
    let (shown, total) = {
        let all = ctx.devices.containers();
        let n = all.len();
        (all.into_iter().take(ctx.max_devices).collect::<Vec<_>>(), n)
    };
    if shown.is_empty() {
        return;
    }
    if total > shown.len() {
        notes.add(
            Section::Containers,
            format!(
                "Charts show the {} busiest of {} containers (by mean CPU); the table lists all of them.",
                shown.len(),
                total
            ),
        );
    }
    let names: Vec<&str> = shown.iter().map(|d| d.name).collect();
    let per_container = |metric: &str, unit: Unit| {
        let mut plot = ctx.time_plot(unit);
        for (i, d) in shown.iter().enumerate() {
            if let Some(s) = d.get(metric) {
                plot.lines.push(ctx.device_line(
                    d.name,
                    palette::series(i),
                    &s.timestamps_ms,
                    &s.values,
                    false,
                ));
            }
        }
        plot
    };
    // CPU, % of one CPU, with the limit when all containers share one.
    let mut plot = per_container("cpu_pct", Unit::Percent);
    if !plot.lines.is_empty() {
        let limit = common_last(&shown, "cpu_limit_cores");
        if let Some(l) = limit {
            plot.refs.push(RefLine {
                label: format!("limit: {} CPU", format::num(l)),
                value: l * 100.0,
                color: palette::VERMILLION,
            });
        }
        let n = plot.lines.len();
        figs.push(Figure {
            section: Section::Containers,
            chart: ctx.chart(
                "containers-cpu",
                "CPU by container (% of one CPU)",
                Body::Time(plot),
                n,
                labels_len(&names),
            ),
            caption: format!(
                "CPU time used by each container's cgroup (user + system), as a share of one CPU: 100% is one \
                 core busy, as docker stats shows it.{}",
                match limit {
                    Some(l) => format!(
                        " The red line is the containers' CPU limit (quota / period = {} CPU).",
                        format::num(l)
                    ),
                    None => String::new(),
                }
            ),
        });
    }
    let throttled = shown.iter().any(|d| {
        d.get("throttled_pct")
            .is_some_and(|s| any_nonzero(&s.values))
    });
    if throttled {
        let mut plot = per_container("throttled_pct", Unit::Percent);
        plot.y_max_fixed = Some(100.0);
        let n = plot.lines.len();
        figs.push(Figure {
            section: Section::Containers,
            chart: ctx.chart(
                "containers-throttled",
                "CPU throttling (% of scheduling periods)",
                Body::Time(plot),
                n,
                labels_len(&names),
            ),
            caption: "Share of each container's CFS periods in which its quota ran out and its runnable threads \
                      were held back until the next period."
                .into(),
        });
    }
    let mut plot = per_container("mem_bytes", Unit::Bytes);
    if !plot.lines.is_empty() {
        let limit = common_last(&shown, "mem_limit_bytes");
        if let Some(l) = limit {
            plot.refs.push(RefLine {
                label: format!("limit: {}", format::bytes(l)),
                value: l,
                color: palette::VERMILLION,
            });
        }
        let n = plot.lines.len();
        figs.push(Figure {
            section: Section::Containers,
            chart: ctx.chart(
                "containers-memory",
                "Memory by container",
                Body::Time(plot),
                n,
                labels_len(&names),
            ),
            caption: format!(
                "Memory charged to each container's cgroup (memory.current: anonymous memory, page cache and \
                 kernel memory).{}",
                if limit.is_some() {
                    " The red line is the containers' memory limit (memory.max)."
                } else {
                    ""
                }
            ),
        });
    }
    let io = shown.iter().any(|d| {
        ["read_bytes_per_s", "write_bytes_per_s"]
            .iter()
            .any(|m| d.get(m).is_some_and(|s| any_nonzero(&s.values)))
    });
    if io
        && let Some((chart, _)) = mirrored(
            ctx,
            &shown,
            "containers-io",
            "Block I/O by container",
            Unit::BytesPerS,
            ("read_bytes_per_s", "read"),
            ("write_bytes_per_s", "written"),
        )
    {
        figs.push(Figure {
            section: Section::Containers,
            chart,
            caption: "Bytes each container read from (above the line) and wrote to (below) block devices \
                      (io.stat); page-cache hits do not count."
                .into(),
        });
    }
}

fn psi(ctx: &Ctx<'_>, figs: &mut Vec<Figure>, notes: &mut Notes) {
    use Metric as M;
    let mut plot = ctx.time_plot(Unit::Percent);
    let mut labels = Vec::new();
    let mut zero = Vec::new();
    for (m, label, color) in [
        (M::PsiCpuSomePct, "CPU some", palette::BLUE),
        (M::PsiMemorySomePct, "memory some", palette::GREEN),
        (M::PsiMemoryFullPct, "memory full", palette::BLACK),
        (M::PsiIoSomePct, "I/O some", palette::ORANGE),
        (M::PsiIoFullPct, "I/O full", palette::VERMILLION),
    ] {
        if let Some(v) = ctx.cols.get(m) {
            if any_nonzero(v) {
                plot.lines.push(ctx.line(label, color, v, true));
                labels.push(label);
            } else {
                zero.push(label);
            }
        }
    }
    if plot.lines.is_empty() {
        if !zero.is_empty() {
            notes.add(
                Section::Pressure,
                format!("No pressure stalls: {} were 0 throughout.", zero.join(", ")),
            );
        }
        return;
    }
    let n = plot.lines.len();
    let mut caption = String::from(
        "Share of time some task (some) or every non-idle task (full) was stalled waiting for the resource \
         (/proc/pressure). Unlike utilisation, this measures lost work directly.",
    );
    if !zero.is_empty() {
        caption.push_str(&format!(
            " Zero throughout, so not drawn: {}.",
            zero.join(", ")
        ));
    }
    figs.push(Figure {
        section: Section::Pressure,
        chart: ctx.chart(
            "psi",
            "Pressure stall information (% of time)",
            Body::Time(plot),
            n,
            labels_len(&labels),
        ),
        caption,
    });
}
