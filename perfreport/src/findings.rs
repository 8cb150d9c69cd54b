//! Findings: what the data says, in plain words, with the evidence and the
//! thresholds used. Every rule is described in `docs/report.md`.

use std::collections::HashMap;

use perfcore::metrics::Metric;
use perfcore::stats::Summary;
use serde::Serialize;

use crate::columns::{Columns, median_step, weights_from_steps};
use crate::devices::{Device, Devices};
use crate::format::{self, Unit};
use crate::machine::DeviceStats;
use crate::quality::Quality;
use crate::series::MachineSeries;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing; nothing to fix.
    Info,
    /// A limit was reached for a noticeable share of the time.
    Warning,
    /// A limit was reached most of the time, or a resource is nearly exhausted.
    Critical,
}

impl Severity {
    /// `info`, `warning`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// The limits findings are judged by. The defaults are documented in
/// `docs/report.md`; every finding lists the ones it used.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Thresholds {
    /// A condition must hold for at least this share of the time (0..1) to be a finding.
    pub time_share: f64,
    /// From this share of the time on, a finding is critical.
    pub critical_share: f64,
    /// CPU busy (100 − idle − iowait − steal) at or above this is saturation (%).
    pub cpu_busy_pct: f64,
    /// More runnable tasks than CPUs while CPU busy is under this is work held back (%).
    pub held_back_busy_pct: f64,
    /// iowait at or above this is CPUs waiting on storage (%).
    pub iowait_pct: f64,
    /// steal at or above this is a noisy neighbour or exhausted credits (%).
    pub steal_pct: f64,
    /// Available memory below this share of total is memory pressure (%).
    pub mem_available_pct: f64,
    /// Swapping (pages in + out per second above 0) for this share of the time is sustained.
    pub swap_time_share: f64,
    /// %util at or above this is a busy device (%).
    pub disk_util_pct: f64,
    /// await at or above this, together with high %util, is a saturated device (ms).
    pub disk_await_ms: f64,
    /// await at or above this is slow I/O whatever the %util (ms).
    pub disk_slow_await_ms: f64,
    /// A filesystem used at or above this is nearly full (%).
    pub fs_used_pct: f64,
    /// A filesystem used at or above this is critical (%).
    pub fs_critical_pct: f64,
    /// PSI `some` at or above this is tasks stalling on a resource (%).
    pub psi_some_pct: f64,
    /// Drops above this share of packets make drops a warning (%).
    pub net_drop_pct: f64,
    /// A container throttled in at least this share of its CFS periods is held back by its CPU limit (%).
    pub container_throttled_pct: f64,
    /// A container using at least this share of its memory limit is near it (%).
    pub container_mem_pct: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            time_share: 0.10,
            critical_share: 0.50,
            cpu_busy_pct: 90.0,
            held_back_busy_pct: 70.0,
            iowait_pct: 20.0,
            steal_pct: 10.0,
            mem_available_pct: 10.0,
            swap_time_share: 0.05,
            disk_util_pct: 90.0,
            disk_await_ms: 20.0,
            disk_slow_await_ms: 50.0,
            fs_used_pct: 90.0,
            fs_critical_pct: 95.0,
            psi_some_pct: 10.0,
            net_drop_pct: 0.1,
            container_throttled_pct: 25.0,
            container_mem_pct: 90.0,
        }
    }
}

/// One thing the data says about a machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// Rule id (`cpu_saturation`, `steal`, `disk_saturation`, ...).
    pub id: &'static str,
    /// The machine.
    pub machine_id: String,
    /// The device, interface or mount it is about, if any.
    pub subject: Option<String>,
    /// How serious.
    pub severity: Severity,
    /// A short title.
    pub title: String,
    /// What happened, in plain words.
    pub text: String,
    /// The numbers behind it.
    pub evidence: Vec<Evidence>,
    /// The limits it was judged by.
    pub thresholds: Vec<Threshold>,
    /// Share of the time (0..1) the condition held, when it is about time.
    pub time_share: Option<f64>,
    /// The longest unbroken stretch of it.
    pub longest: Option<Stretch>,
}

/// One number behind a finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Evidence {
    /// What it is.
    pub label: String,
    /// The value, in `unit`.
    pub value: f64,
    /// Unit of `value` (`%`, `ms`, `B`, `s`, ...).
    pub unit: String,
    /// The value as the report prints it.
    pub display: String,
}

/// One limit a finding used.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Threshold {
    /// What is compared (`cpu_busy_pct ≥`).
    pub name: String,
    /// The limit.
    pub value: f64,
    /// Its unit.
    pub unit: String,
}

/// An unbroken stretch of time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Stretch {
    /// Start (ms since the epoch).
    pub from_ms: i64,
    /// End (ms).
    pub to_ms: i64,
    /// Length (seconds).
    pub length_s: f64,
}

/// One rule and whether the data allowed it to be checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Check {
    /// Rule id.
    pub id: &'static str,
    /// What it looks for.
    pub title: &'static str,
    /// Whether the data had what the rule needs.
    pub evaluated: bool,
    /// Findings it produced.
    pub fired: u32,
}

/// How much of the time a condition held.
#[derive(Debug, Clone, Default)]
pub(crate) struct Exceed {
    pub share: f64,
    pub time_s: f64,
    pub total_s: f64,
    pub longest: Option<Stretch>,
}

/// Time share of the points where `pred` holds, over the points where it is
/// defined (`None` = no data at that point). Runs break at gaps.
pub(crate) fn exceed(
    ts: &[i64],
    w: &[f64],
    gap_ms: i64,
    pred: impl Fn(usize) -> Option<bool>,
) -> Exceed {
    let mut e = Exceed::default();
    let mut run: Option<(usize, f64)> = None;
    let mut best: Option<(usize, usize, f64)> = None;
    let close =
        |run: &mut Option<(usize, f64)>, end: usize, best: &mut Option<(usize, usize, f64)>| {
            if let Some((start, len)) = run.take()
                && best.is_none_or(|b| len > b.2)
            {
                *best = Some((start, end, len));
            }
        };
    for i in 0..ts.len() {
        let wi = w.get(i).copied().unwrap_or(0.0);
        if i > 0 && ts[i] - ts[i - 1] > gap_ms {
            close(&mut run, i - 1, &mut best);
        }
        match pred(i) {
            None => close(&mut run, i.saturating_sub(1), &mut best),
            Some(hit) => {
                e.total_s += wi;
                if hit {
                    e.time_s += wi;
                    run = Some(match run {
                        Some((s, len)) => (s, len + wi),
                        None => (i, wi),
                    });
                } else {
                    close(&mut run, i.saturating_sub(1), &mut best);
                }
            }
        }
    }
    close(&mut run, ts.len().saturating_sub(1), &mut best);
    if e.total_s > 0.0 {
        e.share = e.time_s / e.total_s;
    }
    e.longest = best.map(|(s, end, len)| Stretch {
        from_ms: ts[s] - (w.get(s).copied().unwrap_or(0.0) * 1000.0) as i64,
        to_ms: ts[end],
        length_s: len,
    });
    e
}

fn ev(label: impl Into<String>, value: f64, unit: Unit) -> Evidence {
    Evidence {
        label: label.into(),
        value,
        unit: unit.symbol().trim().to_owned(),
        display: format::value(value, unit),
    }
}

fn ev_share(label: impl Into<String>, share: f64) -> Evidence {
    Evidence {
        label: label.into(),
        value: share * 100.0,
        unit: "%".into(),
        display: format::share(share),
    }
}

fn ev_secs(label: impl Into<String>, s: f64) -> Evidence {
    Evidence {
        label: label.into(),
        value: s,
        unit: "s".into(),
        display: format::duration(s),
    }
}

fn th(name: impl Into<String>, value: f64, unit: &str) -> Threshold {
    Threshold {
        name: name.into(),
        value,
        unit: unit.into(),
    }
}

fn time_words(e: &Exceed) -> String {
    let mut s = format!(
        "for {} of the time ({} of {})",
        format::share(e.share),
        format::duration(e.time_s),
        format::duration(e.total_s)
    );
    if let Some(l) = &e.longest
        && l.length_s < e.time_s
    {
        s.push_str(&format!(
            "; the longest stretch lasted {} ({})",
            format::duration(l.length_s),
            format::range_utc(l.from_ms, l.to_ms)
        ));
    }
    s
}

fn time_evidence(e: &Exceed) -> Vec<Evidence> {
    let mut v = vec![
        ev_share("share of the time", e.share),
        ev_secs("time above the threshold", e.time_s),
    ];
    if let Some(l) = &e.longest {
        v.push(ev_secs("longest stretch", l.length_s));
    }
    v
}

pub(crate) struct Ctx<'a> {
    pub series: &'a MachineSeries,
    pub devices: &'a Devices<'a>,
    pub device_stats: &'a [DeviceStats],
    pub cols: &'a Columns,
    pub stats: &'a HashMap<String, Summary>,
    pub quality: &'a Quality,
    pub t: &'a Thresholds,
    pub cpu_count: Option<u32>,
    pub findings: Vec<Finding>,
    pub checks: Vec<Check>,
}

impl Ctx<'_> {
    fn severity(&self, share: f64) -> Severity {
        if share >= self.t.critical_share {
            Severity::Critical
        } else {
            Severity::Warning
        }
    }

    fn stat(&self, name: &str) -> Option<&Summary> {
        self.stats.get(name)
    }

    fn device_stat(&self, kind: &str, device: &str, metric: &str) -> Option<&'_ Summary> {
        self.device_stats
            .iter()
            .find(|d| d.kind == kind && d.device == device)
            .and_then(|d| d.metrics.get(metric))
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        id: &'static str,
        subject: Option<String>,
        severity: Severity,
        title: String,
        text: String,
        evidence: Vec<Evidence>,
        thresholds: Vec<Threshold>,
        e: Option<&Exceed>,
    ) {
        self.findings.push(Finding {
            id,
            machine_id: self.series.machine_id.clone(),
            subject,
            severity,
            title,
            text,
            evidence,
            thresholds,
            time_share: e.map(|e| e.share),
            longest: e.and_then(|e| e.longest.clone()),
        });
    }

    fn check(&mut self, id: &'static str, title: &'static str, evaluated: bool, before: usize) {
        let fired = self.findings.len().saturating_sub(before) as u32;
        self.checks.push(Check {
            id,
            title,
            evaluated,
            fired,
        });
    }

    fn col_exceed(&self, v: &[f64], pred: impl Fn(f64) -> bool) -> Exceed {
        let c = self.cols;
        exceed(&c.ts, &c.weight_s, c.gap_ms, |i| {
            let x = v[i];
            (!x.is_nan()).then(|| pred(x))
        })
    }
}

pub(crate) fn evaluate(ctx: &mut Ctx<'_>) {
    cpu(ctx);
    memory(ctx);
    psi(ctx);
    disks(ctx);
    nets(ctx);
    filesystems(ctx);
    containers(ctx);
    data_quality(ctx);
    ctx.findings.sort_by(|a, b| {
        b.severity.cmp(&a.severity).then(
            b.time_share
                .unwrap_or(0.0)
                .total_cmp(&a.time_share.unwrap_or(0.0)),
        )
    });
}

fn cpu(ctx: &mut Ctx<'_>) {
    let t = ctx.t.clone();
    let before = ctx.findings.len();
    let busy = ctx.cols.busy.clone();
    if let Some(busy) = &busy {
        let e = ctx.col_exceed(busy, |v| v >= t.cpu_busy_pct);
        if e.share >= t.time_share {
            let mut text = format!(
                "The CPUs were {}% busy or more {}.",
                format::num(t.cpu_busy_pct),
                time_words(&e)
            );
            let mut evidence = time_evidence(&e);
            if let Some(s) = ctx.stat("cpu_busy_pct") {
                text.push_str(&format!(
                    " Busy averaged {} (p95 {}).",
                    format::value(s.avg, Unit::Percent),
                    format::value(s.p95, Unit::Percent)
                ));
                evidence.push(ev("CPU busy, average", s.avg, Unit::Percent));
                evidence.push(ev("CPU busy, p95", s.p95, Unit::Percent));
            }
            if let Some(s) = ctx.stat("load1_per_cpu") {
                evidence.push(ev("1-minute load per CPU, p95", s.p95, Unit::Load));
                if s.p95 > 1.0 {
                    text.push_str(&format!(
                        " Work queued for CPU: the 1-minute load per CPU reached {} (p95).",
                        format::num(s.p95)
                    ));
                }
            }
            if let (Some(s), Some(n)) = (ctx.stat(Metric::ProcsRunning.name()), ctx.cpu_count) {
                evidence.push(ev("runnable tasks, p95", s.p95, Unit::Tasks));
                evidence.push(ev("CPUs", f64::from(n), Unit::Count));
                if s.p95 > f64::from(n) {
                    text.push_str(&format!(
                        " {} tasks were runnable (p95) for {} CPU{}.",
                        format::num(s.p95),
                        n,
                        if n == 1 { "" } else { "s" }
                    ));
                }
            }
            let sev = ctx.severity(e.share);
            ctx.push(
                "cpu_saturation",
                None,
                sev,
                "CPU saturated".into(),
                text,
                evidence,
                vec![
                    th("cpu_busy_pct ≥", t.cpu_busy_pct, "%"),
                    th("share of the time ≥", t.time_share * 100.0, "%"),
                ],
                Some(&e),
            );
        }
    }
    ctx.check("cpu_saturation", "CPU saturation", busy.is_some(), before);
    let saturated = ctx.findings.len() > before;
    cpu_single(ctx, saturated);
    cpu_held_back(ctx);

    let before = ctx.findings.len();
    let iowait = ctx.cols.get(Metric::CpuIowaitPct).map(<[f64]>::to_vec);
    if let Some(v) = &iowait {
        let e = ctx.col_exceed(v, |x| x >= t.iowait_pct);
        if e.share >= t.time_share {
            let mut evidence = time_evidence(&e);
            let mut text = format!(
                "The CPUs sat idle waiting for storage (iowait {}% or more) {}.",
                format::num(t.iowait_pct),
                time_words(&e)
            );
            if let Some(s) = ctx.stat(Metric::CpuIowaitPct.name()) {
                evidence.push(ev("iowait, p95", s.p95, Unit::Percent));
                evidence.push(ev("iowait, max", s.max, Unit::Percent));
                text.push_str(&format!(
                    " iowait p95 {}, max {}. See the disk charts for the device.",
                    format::value(s.p95, Unit::Percent),
                    format::value(s.max, Unit::Percent)
                ));
            }
            let sev = ctx.severity(e.share);
            ctx.push(
                "iowait",
                None,
                sev,
                "CPUs waiting on I/O".into(),
                text,
                evidence,
                vec![
                    th("cpu_iowait_pct ≥", t.iowait_pct, "%"),
                    th("share of the time ≥", t.time_share * 100.0, "%"),
                ],
                Some(&e),
            );
        }
    }
    ctx.check("iowait", "CPUs waiting on I/O", iowait.is_some(), before);

    let before = ctx.findings.len();
    let steal = ctx.cols.get(Metric::CpuStealPct).map(<[f64]>::to_vec);
    if let Some(v) = &steal {
        let e = ctx.col_exceed(v, |x| x >= t.steal_pct);
        if e.share >= t.time_share {
            let mut evidence = time_evidence(&e);
            let mut text = format!(
                "The hypervisor gave this machine's CPU time to others: steal above {}% {}. \
                 This is a noisy neighbour on the host, or a burstable instance out of CPU credits; \
                 the workload got less CPU than it asked for.",
                format::num(t.steal_pct),
                time_words(&e)
            );
            if let Some(s) = ctx.stat(Metric::CpuStealPct.name()) {
                evidence.push(ev("steal, average", s.avg, Unit::Percent));
                evidence.push(ev("steal, p95", s.p95, Unit::Percent));
                text.push_str(&format!(
                    " Steal averaged {} (p95 {}).",
                    format::value(s.avg, Unit::Percent),
                    format::value(s.p95, Unit::Percent)
                ));
            }
            let sev = ctx.severity(e.share);
            ctx.push(
                "steal",
                None,
                sev,
                "CPU steal: noisy neighbour or exhausted credits".into(),
                text,
                evidence,
                vec![
                    th("cpu_steal_pct ≥", t.steal_pct, "%"),
                    th("share of the time ≥", t.time_share * 100.0, "%"),
                ],
                Some(&e),
            );
        }
    }
    ctx.check("steal", "CPU steal", steal.is_some(), before);
}

/// More tasks runnable than CPUs while the CPUs idle: something other than CPU
/// time holds the work back (a cgroup quota, CPU affinity, a hypervisor cap).
fn cpu_held_back(ctx: &mut Ctx<'_>) {
    let t = ctx.t.clone();
    let before = ctx.findings.len();
    let (Some(busy), Some(running), Some(n)) = (
        ctx.cols.busy.as_deref(),
        ctx.cols.get(Metric::ProcsRunning),
        ctx.cpu_count,
    ) else {
        ctx.check(
            "cpu_held_back",
            "Runnable tasks waiting while CPUs idle",
            false,
            before,
        );
        return;
    };
    let cpus = f64::from(n);
    let c = ctx.cols;
    let e = exceed(&c.ts, &c.weight_s, c.gap_ms, |i| {
        let (b, r) = (busy[i], running[i]);
        (!b.is_nan() && !r.is_nan()).then_some(r > cpus && b < t.held_back_busy_pct)
    });
    if e.share >= t.time_share {
        let mut evidence = time_evidence(&e);
        if let Some(s) = ctx.stat(Metric::ProcsRunning.name()) {
            evidence.push(ev("runnable tasks, median", s.p50, Unit::Tasks));
        }
        evidence.push(ev("CPUs", cpus, Unit::Count));
        if let Some(s) = ctx.stat("cpu_busy_pct") {
            evidence.push(ev("CPU busy, average", s.avg, Unit::Percent));
        }
        let text = format!(
            "More tasks were runnable than there are CPUs ({n}), yet the CPUs were less than {}% busy, {}. \
             Something other than CPU time holds the work back: a cgroup CPU quota (containers, systemd \
             CPUQuota), CPU affinity that pins the tasks to fewer CPUs, or a cap set by the hypervisor. \
             Runnable tasks are counted at each sample and include the collector itself.",
            format::num(t.held_back_busy_pct),
            time_words(&e)
        );
        ctx.push(
            "cpu_held_back",
            None,
            Severity::Warning,
            "Runnable tasks waiting while CPUs idle".into(),
            text,
            evidence,
            vec![
                th("procs_running >", cpus, "(the CPU count)"),
                th("and cpu_busy_pct <", t.held_back_busy_pct, "%"),
                th("share of the time ≥", t.time_share * 100.0, "%"),
            ],
            Some(&e),
        );
    }
    ctx.check(
        "cpu_held_back",
        "Runnable tasks waiting while CPUs idle",
        true,
        before,
    );
}

/// Some CPU saturated while the machine as a whole was not: work that does not
/// spread over the CPUs.
fn cpu_single(ctx: &mut Ctx<'_>, machine_saturated: bool) {
    let t = ctx.t.clone();
    let before = ctx.findings.len();
    let devs = ctx.devices;
    let busy: Vec<(String, Vec<f64>)> = devs
        .cpus()
        .iter()
        .filter_map(|d| {
            let (ts, v) = d.cpu_busy()?;
            // Onto the rows' times (the same in practice; joined when not).
            let col: Vec<f64> = if *ts == ctx.cols.ts {
                v.clone()
            } else {
                ctx.cols
                    .ts
                    .iter()
                    .map(|t| match ts.binary_search(t) {
                        Ok(i) => v.get(i).copied().unwrap_or(f64::NAN),
                        Err(_) => f64::NAN,
                    })
                    .collect()
            };
            Some((format!("cpu{}", d.name), col))
        })
        .collect();
    let evaluated = busy.len() >= 2;
    if evaluated && !machine_saturated {
        let n = ctx.cols.len();
        let max: Vec<f64> = (0..n)
            .map(|i| {
                busy.iter()
                    .map(|(_, v)| v[i])
                    .filter(|x| !x.is_nan())
                    .fold(f64::NAN, f64::max)
            })
            .collect();
        let e = ctx.col_exceed(&max, |x| x >= t.cpu_busy_pct);
        if e.share >= t.time_share {
            let mut per: Vec<(String, f64)> = busy
                .iter()
                .map(|(name, v)| {
                    (
                        name.clone(),
                        ctx.col_exceed(v, |x| x >= t.cpu_busy_pct).share,
                    )
                })
                .collect();
            per.sort_by(|a, b| b.1.total_cmp(&a.1));
            let mut evidence = time_evidence(&e);
            for (name, share) in per.iter().filter(|p| p.1 > 0.0).take(3) {
                evidence.push(ev_share(
                    format!("{name} at or above the threshold"),
                    *share,
                ));
            }
            let avg = ctx.stat("cpu_busy_pct");
            if let Some(s) = avg {
                evidence.push(ev("all CPUs busy, average", s.avg, Unit::Percent));
            }
            let text = format!(
                "At least one CPU was {}% busy or more {}, while all {} CPUs together averaged {} busy. \
                 The work does not spread over the CPUs: a single-threaded process, or interrupts handled on \
                 one CPU. More CPUs will not help it; see the per-CPU heat map.",
                format::num(t.cpu_busy_pct),
                time_words(&e),
                busy.len(),
                avg.map(|s| format::value(s.avg, Unit::Percent))
                    .unwrap_or_else(|| "–".into())
            );
            let sev = ctx.severity(e.share);
            ctx.push(
                "cpu_single",
                per.first().map(|p| p.0.clone()),
                if sev == Severity::Critical {
                    Severity::Warning
                } else {
                    sev
                },
                "One CPU saturated".into(),
                text,
                evidence,
                vec![
                    th("busiest CPU's busy ≥", t.cpu_busy_pct, "%"),
                    th("share of the time ≥", t.time_share * 100.0, "%"),
                ],
                Some(&e),
            );
        }
    }
    ctx.check(
        "cpu_single",
        "One CPU saturated (work not spread)",
        evaluated,
        before,
    );
}

fn memory(ctx: &mut Ctx<'_>) {
    let t = ctx.t.clone();
    let before = ctx.findings.len();
    let avail = ctx.cols.mem_available_pct.clone();
    if let Some(v) = &avail {
        let e = ctx.col_exceed(v, |x| x < t.mem_available_pct);
        if e.share >= t.time_share {
            let mut evidence = time_evidence(&e);
            let mut text = format!(
                "Less than {}% of memory was available {}.",
                format::num(t.mem_available_pct),
                time_words(&e)
            );
            if let Some(s) = ctx.stat("mem_available_pct") {
                evidence.push(ev("available memory, minimum", s.min, Unit::Percent));
                text.push_str(&format!(
                    " At the lowest, {} was available.",
                    format::value(s.min, Unit::Percent)
                ));
            }
            if let Some(s) = ctx.stat(Metric::MajorFaultsPerS.name()) {
                evidence.push(ev("major page faults, p95", s.p95, Unit::PerS));
            }
            let sev = ctx.severity(e.share);
            ctx.push(
                "memory_pressure",
                None,
                sev,
                "Memory pressure".into(),
                text,
                evidence,
                vec![
                    th("available memory <", t.mem_available_pct, "% of total"),
                    th("share of the time ≥", t.time_share * 100.0, "%"),
                ],
                Some(&e),
            );
        }
    }
    ctx.check(
        "memory_pressure",
        "Memory pressure",
        avail.is_some(),
        before,
    );

    let before = ctx.findings.len();
    let sin = ctx.cols.get(Metric::SwapInPagesPerS).map(<[f64]>::to_vec);
    let sout = ctx.cols.get(Metric::SwapOutPagesPerS).map(<[f64]>::to_vec);
    let evaluated = sin.is_some() || sout.is_some();
    if evaluated {
        let n = ctx.cols.len();
        let both: Vec<f64> = (0..n)
            .map(|i| {
                let a = sin.as_ref().map(|v| v[i]).unwrap_or(f64::NAN);
                let b = sout.as_ref().map(|v| v[i]).unwrap_or(f64::NAN);
                match (a.is_nan(), b.is_nan()) {
                    (true, true) => f64::NAN,
                    (true, false) => b,
                    (false, true) => a,
                    (false, false) => a + b,
                }
            })
            .collect();
        let e = ctx.col_exceed(&both, |x| x > 0.0);
        let pages = |v: &Option<Vec<f64>>| -> f64 {
            v.as_ref()
                .map(|v| {
                    v.iter()
                        .zip(&ctx.cols.weight_s)
                        .filter(|(x, _)| x.is_finite())
                        .map(|(x, w)| x * w)
                        .sum()
                })
                .unwrap_or(0.0)
        };
        let (pin, pout) = (pages(&sin), pages(&sout));
        if e.time_s > 0.0 {
            let sustained = e.share >= t.swap_time_share;
            let text = format!(
                "The machine swapped {}: {} pages in and {} pages out in total.{}",
                time_words(&e),
                format::num(pin.round()),
                format::num(pout.round()),
                if sustained {
                    " Sustained swapping slows everything that touches the swapped pages; \
                     the working set does not fit in memory."
                } else {
                    " Short bursts; not sustained."
                }
            );
            let mut evidence = time_evidence(&e);
            evidence.push(ev("pages swapped in", pin, Unit::Count));
            evidence.push(ev("pages swapped out", pout, Unit::Count));
            let sev = if sustained {
                ctx.severity(e.share)
            } else {
                Severity::Info
            };
            ctx.push(
                "swapping",
                None,
                sev,
                if sustained {
                    "Sustained swapping".into()
                } else {
                    "Some swapping".into()
                },
                text,
                evidence,
                vec![
                    th("swap in + out >", 0.0, "pages/s"),
                    th(
                        "sustained: share of the time ≥",
                        t.swap_time_share * 100.0,
                        "%",
                    ),
                ],
                Some(&e),
            );
        }
    } else if let Some(s) = ctx.stat(Metric::SwapUsedBytes.name())
        && s.max > 0.0
    {
        let (max, min) = (s.max, s.min);
        let pct = ctx.stat(Metric::SwapUsedPct.name()).map(|p| p.max);
        let text = format!(
            "Swap was in use: between {} and {}{}. The data has no swap-in/out rates \
             (no /proc/vmstat), so whether pages moved during this time is unknown.",
            format::bytes(min),
            format::bytes(max),
            pct.map(|p| format!(" ({} of swap at most)", format::value(p, Unit::Percent)))
                .unwrap_or_default()
        );
        ctx.push(
            "swapping",
            None,
            Severity::Info,
            "Swap in use".into(),
            text,
            vec![ev("swap used, max", max, Unit::Bytes)],
            vec![th("swap used >", 0.0, "B")],
            None,
        );
    }
    ctx.check(
        "swapping",
        "Swapping (swap-in/out rates)",
        evaluated,
        before,
    );
}

fn psi(ctx: &mut Ctx<'_>) {
    let t = ctx.t.clone();
    let before = ctx.findings.len();
    let mut evaluated = false;
    for (m, full, what) in [
        (Metric::PsiCpuSomePct, None, "CPU"),
        (
            Metric::PsiMemorySomePct,
            Some(Metric::PsiMemoryFullPct),
            "memory",
        ),
        (Metric::PsiIoSomePct, Some(Metric::PsiIoFullPct), "I/O"),
    ] {
        let Some(v) = ctx.cols.get(m).map(<[f64]>::to_vec) else {
            continue;
        };
        evaluated = true;
        let e = ctx.col_exceed(&v, |x| x >= t.psi_some_pct);
        if e.share < t.time_share {
            continue;
        }
        let mut evidence = time_evidence(&e);
        let mut text = format!(
            "Some tasks were stalled waiting for {what} {}% of the time or more (PSI) {}.",
            format::num(t.psi_some_pct),
            time_words(&e)
        );
        if let Some(s) = ctx.stat(m.name()) {
            evidence.push(ev(
                format!("{what} pressure (some), p95"),
                s.p95,
                Unit::Percent,
            ));
        }
        if let Some(f) = full.and_then(|f| ctx.stat(f.name()))
            && f.max > 0.0
        {
            evidence.push(ev(
                format!("{what} pressure (full), max"),
                f.max,
                Unit::Percent,
            ));
            text.push_str(&format!(
                " At times all tasks stalled at once (full pressure up to {}).",
                format::value(f.max, Unit::Percent)
            ));
        }
        let sev = ctx.severity(e.share);
        ctx.push(
            "psi",
            Some(what.to_owned()),
            sev,
            format!("Tasks stalled on {what} (PSI)"),
            text,
            evidence,
            vec![
                th(format!("{} ≥", m.name()), t.psi_some_pct, "%"),
                th("share of the time ≥", t.time_share * 100.0, "%"),
            ],
            Some(&e),
        );
    }
    ctx.check("psi", "Pressure stalls (PSI)", evaluated, before);
}

/// Weights for a device series' own timestamps (the rows' when they are the same).
fn device_weights<'c>(cols: &'c Columns, ts: &[i64]) -> (std::borrow::Cow<'c, [f64]>, i64) {
    if ts == cols.ts.as_slice() {
        return (std::borrow::Cow::Borrowed(&cols.weight_s), cols.gap_ms);
    }
    let median = if cols.median_step_ms > 0 {
        cols.median_step_ms
    } else {
        median_step(ts)
    };
    let gap = if median > 0 {
        median * crate::columns::GAP_FACTOR
    } else {
        i64::MAX
    };
    (
        std::borrow::Cow::Owned(weights_from_steps(ts, median, gap)),
        gap,
    )
}

fn disks(ctx: &mut Ctx<'_>) {
    let t = ctx.t.clone();
    let before = ctx.findings.len();
    let devs = ctx.devices;
    let (shown, _) = devs.disks();
    let evaluated = shown.iter().any(|d| d.get("util_pct").is_some());
    for d in &shown {
        let Some(util) = d.get("util_pct") else {
            continue;
        };
        let (w, gap) = device_weights(ctx.cols, &util.timestamps_ms);
        let aw: Option<&[f64]> = d.await_ms().and_then(|(ts, v)| {
            if *ts == util.timestamps_ms {
                Some(v.as_slice())
            } else {
                None
            }
        });
        let sat = exceed(&util.timestamps_ms, &w, gap, |i| {
            let u = util.values[i];
            if u.is_nan() {
                return None;
            }
            let a = aw.as_ref().map(|a| a[i]).unwrap_or(f64::NAN);
            Some(u >= t.disk_util_pct && a >= t.disk_await_ms)
        });
        let busy = exceed(&util.timestamps_ms, &w, gap, |i| {
            let u = util.values[i];
            (!u.is_nan()).then_some(u >= t.disk_util_pct)
        });
        let await_stats = ctx.device_stat("disk", d.name, "await_ms").copied();
        let util_stats = ctx.device_stat("disk", d.name, "util_pct").copied();
        let mut evidence = Vec::new();
        if let Some(s) = &util_stats {
            evidence.push(ev("%util, p95", s.p95, Unit::Percent));
        }
        if let Some(s) = &await_stats {
            evidence.push(ev("await, p95", s.p95, Unit::Ms));
            evidence.push(ev("await, max", s.max, Unit::Ms));
        }
        let name = d.name.to_owned();
        if sat.share >= t.time_share {
            let mut ev2 = time_evidence(&sat);
            ev2.extend(evidence.clone());
            let text = format!(
                "{name} ({}) was saturated: %util {}% or more while each I/O waited {} ms or more, {}. \
                 Requests queued at the device; whatever waits on it (iowait, slow queries) waited too.",
                d.role(),
                format::num(t.disk_util_pct),
                format::num(t.disk_await_ms),
                time_words(&sat)
            );
            let sev = ctx.severity(sat.share);
            ctx.push(
                "disk_saturation",
                Some(name.clone()),
                sev,
                format!("Disk {name} saturated"),
                text,
                ev2,
                vec![
                    th("util_pct ≥", t.disk_util_pct, "%"),
                    th("await ≥", t.disk_await_ms, "ms"),
                    th("share of the time ≥", t.time_share * 100.0, "%"),
                ],
                Some(&sat),
            );
            continue;
        }
        if busy.share >= t.time_share {
            let mut ev2 = time_evidence(&busy);
            ev2.extend(evidence.clone());
            let text = format!(
                "{name} showed %util of {}% or more {}, but I/O stayed fast (await under {} ms). \
                 %util counts time with any I/O in flight; SSDs and NVMe serve many requests at once, so this is \
                 not saturation by itself.",
                format::num(t.disk_util_pct),
                time_words(&busy),
                format::num(t.disk_await_ms)
            );
            ctx.push(
                "disk_busy",
                Some(name.clone()),
                Severity::Info,
                format!("Disk {name} busy, latency fine"),
                text,
                ev2,
                vec![
                    th("util_pct ≥", t.disk_util_pct, "%"),
                    th("await <", t.disk_await_ms, "ms"),
                ],
                Some(&busy),
            );
        }
        if let Some(aw) = &aw {
            let slow = exceed(&util.timestamps_ms, &w, gap, |i| {
                let a = aw[i];
                (!a.is_nan()).then_some(a >= t.disk_slow_await_ms)
            });
            if slow.share >= t.time_share {
                let mut ev2 = time_evidence(&slow);
                ev2.extend(evidence.clone());
                let text = format!(
                    "I/O on {name} took {} ms or more on average {} (of the time with I/O). \
                     A slow or throttled device (cloud volumes cap IOPS and throughput).",
                    format::num(t.disk_slow_await_ms),
                    time_words(&slow)
                );
                ctx.push(
                    "disk_latency",
                    Some(name.clone()),
                    Severity::Warning,
                    format!("Slow I/O on {name}"),
                    text,
                    ev2,
                    vec![
                        th("await ≥", t.disk_slow_await_ms, "ms"),
                        th("share of the time with I/O ≥", t.time_share * 100.0, "%"),
                    ],
                    Some(&slow),
                );
            }
        }
    }
    ctx.check(
        "disk_saturation",
        "Saturated disks (high %util and await)",
        evaluated,
        before,
    );
}

fn nets(ctx: &mut Ctx<'_>) {
    let t = ctx.t.clone();
    let before = ctx.findings.len();
    let devs = ctx.devices;
    let all = devs.of(perfcore::metrics::DeviceKind::Net);
    let evaluated = !all.is_empty() || ctx.cols.get(Metric::NetErrorsPerS).is_some();
    let count = |ctx: &Ctx<'_>, d: &Device<'_>, metric: &str| -> f64 {
        d.get(metric)
            .map(|s| {
                let (w, _) = device_weights(ctx.cols, &s.timestamps_ms);
                s.values
                    .iter()
                    .zip(w.iter())
                    .filter(|(v, _)| v.is_finite())
                    .map(|(v, w)| v * w)
                    .sum()
            })
            .unwrap_or(0.0)
    };
    for d in &all {
        let rx_err = count(ctx, d, "rx_errs_per_s");
        let tx_err = count(ctx, d, "tx_errs_per_s");
        let rx_drop = count(ctx, d, "rx_drop_per_s");
        let tx_drop = count(ctx, d, "tx_drop_per_s");
        let packets = count(ctx, d, "rx_packets_per_s") + count(ctx, d, "tx_packets_per_s");
        let name = d.name.to_owned();
        if rx_err + tx_err >= 0.5 {
            let text = format!(
                "{name} counted {} receive and {} transmit errors. Errors are frames the NIC or driver \
                 could not handle (bad checksum, length, FIFO overrun): check cabling, duplex, driver and \
                 the host's virtual switch.",
                format::num(rx_err.round()),
                format::num(tx_err.round())
            );
            ctx.push(
                "net_errors",
                Some(name.clone()),
                Severity::Warning,
                format!("Network errors on {name}"),
                text,
                vec![
                    ev("receive errors", rx_err.round(), Unit::Count),
                    ev("transmit errors", tx_err.round(), Unit::Count),
                    ev("packets", packets.round(), Unit::Count),
                ],
                vec![th("errors >", 0.0, "")],
                None,
            );
        }
        if rx_drop + tx_drop >= 0.5 {
            let pct = if packets > 0.0 {
                (rx_drop + tx_drop) / packets * 100.0
            } else {
                100.0
            };
            let high = pct >= t.net_drop_pct;
            let text = format!(
                "{name} dropped {} received and {} sent packets ({} of its packets).{}",
                format::num(rx_drop.round()),
                format::num(tx_drop.round()),
                format::value(pct, Unit::Percent),
                if high {
                    " Full queues or buffers (ring buffer, backlog, qdisc): packets were lost and had to be resent."
                } else {
                    " A small share: Linux also counts packets for protocols nobody listens to as receive drops."
                }
            );
            ctx.push(
                "net_drops",
                Some(name.clone()),
                if high {
                    Severity::Warning
                } else {
                    Severity::Info
                },
                format!("Dropped packets on {name}"),
                text,
                vec![
                    ev("received packets dropped", rx_drop.round(), Unit::Count),
                    ev("sent packets dropped", tx_drop.round(), Unit::Count),
                    ev("share of packets", pct, Unit::Percent),
                ],
                vec![
                    th("drops >", 0.0, ""),
                    th("warning: drops ≥", t.net_drop_pct, "% of packets"),
                ],
                None,
            );
        }
    }
    if all.is_empty()
        && let Some(v) = ctx.cols.get(Metric::NetErrorsPerS).map(<[f64]>::to_vec)
    {
        let total: f64 = v
            .iter()
            .zip(&ctx.cols.weight_s)
            .filter(|(x, _)| x.is_finite())
            .map(|(x, w)| x * w)
            .sum();
        if total >= 0.5 {
            ctx.push(
                "net_errors",
                None,
                Severity::Warning,
                "Network errors".into(),
                format!(
                    "The interfaces counted {} errors in total.",
                    format::num(total.round())
                ),
                vec![ev("errors", total.round(), Unit::Count)],
                vec![th("errors >", 0.0, "")],
                None,
            );
        }
    }
    ctx.check("net_errors", "Network errors and drops", evaluated, before);
}

fn filesystems(ctx: &mut Ctx<'_>) {
    let t = ctx.t.clone();
    let before = ctx.findings.len();
    let devs = ctx.devices;
    let fss = devs.filesystems();
    let mut evaluated = false;
    for d in &fss {
        let Some(used) = d.get("used_pct") else {
            continue;
        };
        evaluated = true;
        let Some(&last) = used.values.iter().rev().find(|v| v.is_finite()) else {
            continue;
        };
        let max = used
            .values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        let name = d.name.to_owned();
        let mut evidence = vec![
            ev("used at the end", last, Unit::Percent),
            ev("used, max", max, Unit::Percent),
        ];
        // Growth: bytes used from first to last sample, projected to full.
        let mut projection = String::new();
        let mut fills_soon = false;
        if let (Some(ub), Some(size)) = (d.get("used_bytes"), d.get("size_bytes")) {
            let first = ub
                .values
                .iter()
                .zip(&ub.timestamps_ms)
                .find(|(v, _)| v.is_finite());
            let lastb = ub
                .values
                .iter()
                .zip(&ub.timestamps_ms)
                .rev()
                .find(|(v, _)| v.is_finite());
            let sz = size.values.iter().rev().find(|v| v.is_finite()).copied();
            if let (Some((a, ta)), Some((b, tb)), Some(sz)) = (first, lastb, sz) {
                let span_s = (tb - ta) as f64 / 1000.0;
                if span_s >= 3600.0 && b > a {
                    let rate = (b - a) / span_s;
                    let left_s = (sz - b).max(0.0) / rate;
                    evidence.push(ev("growth", rate, Unit::BytesPerS));
                    if left_s < 7.0 * 86_400.0 {
                        fills_soon = true;
                        projection = format!(
                            " It grew by {} over {}; at that rate it is full in about {}.",
                            format::bytes(b - a),
                            format::duration(span_s),
                            format::duration(left_s)
                        );
                        evidence.push(ev_secs("time to full at that rate", left_s));
                    }
                }
            }
        }
        let inodes_last = d
            .get("inodes_used_pct")
            .and_then(|s| s.values.iter().rev().find(|v| v.is_finite()).copied());
        if last >= t.fs_used_pct || fills_soon {
            let sev = if last >= t.fs_critical_pct {
                Severity::Critical
            } else {
                Severity::Warning
            };
            ctx.push(
                "fs_full",
                Some(name.clone()),
                sev,
                format!("Filesystem {name} nearly full"),
                format!(
                    "{name} was {} full at the end (at most {}).{projection}",
                    format::value(last, Unit::Percent),
                    format::value(max, Unit::Percent)
                ),
                evidence,
                vec![
                    th("used_pct ≥", t.fs_used_pct, "%"),
                    th("critical: used_pct ≥", t.fs_critical_pct, "%"),
                    th("or full within", 7.0, "days at the observed growth"),
                ],
                None,
            );
        } else if max >= t.fs_used_pct {
            ctx.push(
                "fs_full",
                Some(name.clone()),
                Severity::Info,
                format!("Filesystem {name} was nearly full"),
                format!(
                    "{name} reached {} used, and was {} at the end.",
                    format::value(max, Unit::Percent),
                    format::value(last, Unit::Percent)
                ),
                evidence,
                vec![th("used_pct ≥", t.fs_used_pct, "%")],
                None,
            );
        }
        if let Some(il) = inodes_last
            && il >= t.fs_used_pct
        {
            ctx.push(
                "fs_inodes",
                Some(name.clone()),
                if il >= t.fs_critical_pct {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                format!("Filesystem {name} running out of inodes"),
                format!(
                    "{name} had {} of its inodes in use at the end: new files fail when they run out, \
                     whatever the free space.",
                    format::value(il, Unit::Percent)
                ),
                vec![ev("inodes used at the end", il, Unit::Percent)],
                vec![th("inodes_used_pct ≥", t.fs_used_pct, "%")],
                None,
            );
        }
    }
    if !evaluated && let Some(s) = ctx.stat(Metric::FsMaxUsedPct.name()) {
        evaluated = true;
        let last = ctx
            .cols
            .get(Metric::FsMaxUsedPct)
            .and_then(|v| v.iter().rev().find(|x| x.is_finite()).copied())
            .unwrap_or(s.max);
        if last >= t.fs_used_pct {
            let sev = if last >= t.fs_critical_pct {
                Severity::Critical
            } else {
                Severity::Warning
            };
            ctx.push(
                "fs_full",
                None,
                sev,
                "A filesystem is nearly full".into(),
                format!(
                    "The fullest filesystem was {} used at the end.",
                    format::value(last, Unit::Percent)
                ),
                vec![ev("fullest filesystem at the end", last, Unit::Percent)],
                vec![th("used_pct ≥", t.fs_used_pct, "%")],
                None,
            );
        }
    }
    ctx.check("fs_full", "Filesystems nearly full", evaluated, before);
}

fn containers(ctx: &mut Ctx<'_>) {
    let t = ctx.t.clone();
    let before = ctx.findings.len();
    let devs = ctx.devices.containers();
    let last = |d: &Device<'_>, m: &str| {
        d.get(m)
            .and_then(|s| s.values.iter().rev().find(|v| v.is_finite()).copied())
    };
    let mut evaluated = false;
    for d in &devs {
        let name = d.name.to_owned();
        if let Some(thr) = d.get("throttled_pct") {
            evaluated = true;
            let (w, gap) = device_weights(ctx.cols, &thr.timestamps_ms);
            let e = exceed(&thr.timestamps_ms, &w, gap, |i| {
                let v = thr.values[i];
                (!v.is_nan()).then_some(v >= t.container_throttled_pct)
            });
            if e.share >= t.time_share {
                let limit = last(d, "cpu_limit_cores");
                let mut evidence = time_evidence(&e);
                if let Some(s) = ctx.device_stat("container", d.name, "throttled_pct") {
                    evidence.push(ev("throttled periods, avg", s.avg, Unit::Percent));
                }
                if let Some(s) = ctx.device_stat("container", d.name, "cpu_pct") {
                    evidence.push(ev("CPU, p95 (% of one CPU)", s.p95, Unit::Percent));
                }
                if let Some(l) = limit {
                    evidence.push(ev("CPU limit", l, Unit::Cpus));
                }
                let text = format!(
                    "Container {name} ran out of its CPU quota{} in {}% or more of its scheduling periods {}. \
                     Its threads were ready to run but held back until the next period, which shows as latency \
                     inside the container however idle the host is: raise its CPU limit or give it less work.",
                    match limit {
                        Some(l) => format!(" ({} CPU)", format::num(l)),
                        None => String::new(),
                    },
                    format::num(t.container_throttled_pct),
                    time_words(&e)
                );
                let sev = ctx.severity(e.share);
                ctx.push(
                    "container_cpu_throttled",
                    Some(name.clone()),
                    sev,
                    format!("Container {name} throttled by its CPU limit"),
                    text,
                    evidence,
                    vec![
                        th("throttled periods ≥", t.container_throttled_pct, "%"),
                        th("share of the time ≥", t.time_share * 100.0, "%"),
                    ],
                    Some(&e),
                );
            }
        }
        if let Some(mem) = d.get("mem_pct") {
            evaluated = true;
            let (w, gap) = device_weights(ctx.cols, &mem.timestamps_ms);
            let e = exceed(&mem.timestamps_ms, &w, gap, |i| {
                let v = mem.values[i];
                (!v.is_nan()).then_some(v >= t.container_mem_pct)
            });
            if e.share >= t.time_share {
                let mut evidence = time_evidence(&e);
                if let Some(s) = ctx.device_stat("container", d.name, "mem_pct") {
                    evidence.push(ev("memory % of limit, max", s.max, Unit::Percent));
                }
                if let Some(l) = last(d, "mem_limit_bytes") {
                    evidence.push(ev("memory limit", l, Unit::Bytes));
                }
                let anon = last(d, "mem_anon_bytes");
                if let Some(a) = anon {
                    evidence.push(ev("anonymous memory at the end", a, Unit::Bytes));
                }
                let text = format!(
                    "Container {name} used {}% or more of its memory limit {}. At the limit the kernel reclaims \
                     the container's page cache first and then kills a task in it (OOM).{}",
                    format::num(t.container_mem_pct),
                    time_words(&e),
                    match (anon, last(d, "mem_limit_bytes")) {
                        (Some(a), Some(l)) => format!(
                            " Of that, anonymous memory (which cannot be reclaimed without swap) was {} of the {} \
                             limit at the end.",
                            format::bytes(a),
                            format::bytes(l)
                        ),
                        _ => String::new(),
                    }
                );
                let sev = ctx.severity(e.share);
                ctx.push(
                    "container_memory_limit",
                    Some(name.clone()),
                    sev,
                    format!("Container {name} near its memory limit"),
                    text,
                    evidence,
                    vec![
                        th("memory % of limit ≥", t.container_mem_pct, "%"),
                        th("share of the time ≥", t.time_share * 100.0, "%"),
                    ],
                    Some(&e),
                );
            }
        }
    }
    ctx.check(
        "container_limits",
        "Containers held back by their CPU or memory limits",
        evaluated,
        before,
    );
}

fn data_quality(ctx: &mut Ctx<'_>) {
    let before = ctx.findings.len();
    let q = ctx.quality;
    let mut parts = Vec::new();
    let mut evidence = Vec::new();
    let mut sev = Severity::Info;
    if q.gap_count > 0 {
        parts.push(format!(
            "{} gap{} ({} missing)",
            q.gap_count,
            if q.gap_count == 1 { "" } else { "s" },
            format::duration(q.gap_missing_s)
        ));
        evidence.push(ev("gaps", q.gap_count as f64, Unit::Count));
        evidence.push(ev_secs("time missing", q.gap_missing_s));
    }
    if !q.reboots_ms.is_empty() {
        parts.push(format!(
            "{} reboot{} (first at {})",
            q.reboots_ms.len(),
            if q.reboots_ms.len() == 1 { "" } else { "s" },
            format::time_utc(q.reboots_ms[0])
        ));
        evidence.push(ev("reboots", q.reboots_ms.len() as f64, Unit::Count));
    }
    if let Some(n) = q.reset_total()
        && n > 0
    {
        parts.push(format!(
            "{n} counter reset{}",
            if n == 1 { "" } else { "s" }
        ));
        evidence.push(ev("counter resets", n as f64, Unit::Count));
    }
    let dup = q.duplicate_timestamps + q.dropped_samples;
    if dup > 0 {
        parts.push(format!("{dup} duplicate or out-of-order timestamps"));
        evidence.push(ev("duplicate timestamps", dup as f64, Unit::Count));
    }
    if !q.out_of_range.is_empty() {
        let n: u64 = q.out_of_range.iter().map(|o| o.count).sum();
        parts.push(format!(
            "{n} value{} out of range in {} series",
            if n == 1 { "" } else { "s" },
            q.out_of_range.len()
        ));
        evidence.push(ev("values out of range", n as f64, Unit::Count));
        sev = Severity::Warning;
    }
    if q.times_out_of_range > 0 {
        parts.push(format!(
            "{} rows or values with impossible times left out",
            q.times_out_of_range
        ));
        evidence.push(ev(
            "times out of range",
            q.times_out_of_range as f64,
            Unit::Count,
        ));
        sev = Severity::Warning;
    }
    if q.skipped_lines > 0 {
        parts.push(format!(
            "{} unreadable input lines skipped",
            q.skipped_lines
        ));
        evidence.push(ev("lines skipped", q.skipped_lines as f64, Unit::Count));
    }
    if !parts.is_empty() {
        let text = format!(
            "The data has {}. Charts show gaps as breaks; statistics use only the data present. \
             Details are in the data-quality section.",
            parts.join(", ")
        );
        ctx.push(
            "data_quality",
            None,
            sev,
            "Data quality".into(),
            text,
            evidence,
            vec![th(
                "gap: step > median interval ×",
                crate::columns::GAP_FACTOR as f64,
                "",
            )],
            None,
        );
    }
    ctx.check("data_quality", "Data quality", true, before);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceed_weights_time_and_finds_the_longest_run() {
        let ts: Vec<i64> = (1..=10).map(|i| i * 1000).collect();
        let w = vec![1.0; 10];
        let v = [
            95.0,
            95.0,
            10.0,
            95.0,
            95.0,
            95.0,
            f64::NAN,
            10.0,
            10.0,
            10.0,
        ];
        let e = exceed(&ts, &w, 2000, |i| (!v[i].is_nan()).then_some(v[i] >= 90.0));
        assert_eq!(e.total_s, 9.0);
        assert_eq!(e.time_s, 5.0);
        assert!((e.share - 5.0 / 9.0).abs() < 1e-12);
        let l = e.longest.unwrap();
        assert_eq!((l.from_ms, l.to_ms, l.length_s), (3000, 6000, 3.0));
    }

    #[test]
    fn runs_break_at_gaps() {
        let ts = [1000, 2000, 10_000, 11_000];
        let e = exceed(&ts, &[1.0; 4], 2000, |_| Some(true));
        assert_eq!(e.share, 1.0);
        assert_eq!(e.longest.unwrap().length_s, 2.0);
    }

    #[test]
    fn nothing_to_exceed() {
        let e = exceed(&[], &[], 0, |_| Some(true));
        assert_eq!((e.share, e.total_s), (0.0, 0.0));
        assert!(e.longest.is_none());
    }
}
