//! Delta math: from two samples of the same boot to one [`Interval`] of rates.
//!
//! The definitions are sysstat's (`sar`, `iostat`), so every number can be
//! checked against those tools. Counters that went down are a wrap only where
//! a 32-bit counter is possible ([`counter`]); otherwise the counter was reset
//! and that device has no rates for the interval. A changed boot time is a
//! reboot: no interval at all.

pub mod counter;
pub mod cpu;
pub mod disk;
pub mod memory;
pub mod net;

use serde::Serialize;

use crate::parse::loadavg::LoadAvg;
use crate::parse::pressure::{Pressure, PressureAll, Resource};
use crate::parse::statfs::FsStat;
use crate::snapshot::Snapshot;
use counter::{Width, delta_opt};
pub use cpu::CpuRates;
pub use disk::DiskRates;
pub use memory::{MemoryGauges, PagingRates};
pub use net::NetRates;

/// Why two samples give no interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Break {
    /// The boot time changed: the machine rebooted between the samples.
    Reboot {
        /// Boot time (unix s) of the earlier sample.
        prev_btime: u64,
        /// Boot time (unix s) of the later sample.
        cur_btime: u64,
    },
    /// The later sample is not later (clock stepped back, or duplicate timestamp).
    TimeNotIncreasing,
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Reboot {
                prev_btime,
                cur_btime,
            } => write!(f, "reboot (boot time {prev_btime} -> {cur_btime})"),
            Break::TimeNotIncreasing => write!(f, "time did not increase"),
        }
    }
}

/// Context switches, interrupts, forks and softirqs per second (sar -w, -I SUM).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SystemRates {
    /// `cswch/s`.
    pub context_switches_per_s: Option<f64>,
    /// `intr/s`.
    pub interrupts_per_s: Option<f64>,
    /// `proc/s`: tasks created per second.
    pub forks_per_s: Option<f64>,
    /// Softirqs serviced per second.
    pub softirqs_per_s: Option<f64>,
}

/// Pressure stall information of one resource over an interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PressureRates {
    /// Which resource.
    #[serde(serialize_with = "ser_resource")]
    pub resource: Resource,
    /// Percent of the interval some task was stalled (from the `some` total).
    pub some_pct: Option<f64>,
    /// Percent of the interval all non-idle tasks were stalled (from the `full` total).
    pub full_pct: Option<f64>,
    /// The kernel's own `some avg10` at the end of the interval.
    pub some_avg10: Option<f64>,
    /// The kernel's own `full avg10` at the end of the interval.
    pub full_avg10: Option<f64>,
}

fn ser_resource<S: serde::Serializer>(r: &Resource, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.name())
}

/// Usage of one filesystem at the end of an interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FsUsage {
    /// Mount point.
    pub mount_point: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Bytes in use.
    pub used_bytes: u64,
    /// Bytes available to unprivileged users.
    pub available_bytes: u64,
    /// Percent used as df shows it.
    pub used_pct: Option<f64>,
    /// Percent of inodes used, when recorded.
    pub inodes_used_pct: Option<f64>,
}

impl FsUsage {
    /// Usage of one statvfs record.
    pub fn from_stat(s: &FsStat<'_>) -> Self {
        FsUsage {
            mount_point: s.mount_point.to_string(),
            size_bytes: s.size_bytes(),
            used_bytes: s.used_bytes(),
            available_bytes: s.available_bytes(),
            used_pct: s.use_pct(),
            inodes_used_pct: match (s.files_total, s.files_free) {
                (Some(t), Some(f)) if t > 0 => Some(t.saturating_sub(f) as f64 / t as f64 * 100.0),
                _ => None,
            },
        }
    }
}

/// Everything measured over one interval between two samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Interval {
    /// Wall-clock time of the earlier sample (ms since the epoch).
    pub start_ms: i64,
    /// Wall-clock time of the later sample (ms since the epoch): the interval's timestamp.
    pub end_ms: i64,
    /// Length in seconds (monotonic clock when both samples have it, else wall clock).
    pub elapsed_s: f64,
    /// All CPUs together.
    pub cpu_total: Option<CpuRates>,
    /// Per CPU id; a CPU in only one sample, or whose counters restarted, is left out.
    pub cpus: Vec<(u32, CpuRates)>,
    /// Context switches, interrupts, forks.
    pub system: Option<SystemRates>,
    /// Tasks runnable at the end (`procs_running`).
    pub procs_running: Option<u64>,
    /// Tasks blocked on I/O at the end (`procs_blocked`).
    pub procs_blocked: Option<u64>,
    /// Load averages at the end.
    pub load: Option<LoadAvg>,
    /// Memory at the end.
    pub memory: Option<MemoryGauges>,
    /// Paging and swapping.
    pub paging: Option<PagingRates>,
    /// Per block device (devices in both samples and not reset).
    pub disks: Vec<DiskRates>,
    /// Per network interface (in both samples and not reset).
    pub nets: Vec<NetRates>,
    /// Pressure stalls per resource present.
    pub pressure: Vec<PressureRates>,
    /// Filesystems at the end.
    pub filesystems: Vec<FsUsage>,
    /// Per container (in both samples and not restarted), in the later sample's order.
    pub containers: Vec<crate::container::ContainerRates>,
    /// Counters that went down and were taken as resets (`disk:sda`, `net:eth0`,
    /// `cpu:3`, `container:<label>`).
    pub resets: Vec<String>,
}

fn elapsed_s(prev: &Snapshot<'_>, cur: &Snapshot<'_>) -> f64 {
    match (prev.monotonic_ns, cur.monotonic_ns) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
        (Some(_), Some(_)) => 0.0,
        _ => (cur.timestamp_ms - prev.timestamp_ms) as f64 / 1000.0,
    }
}

fn pressure_rates(
    res: Resource,
    prev: Option<&Pressure>,
    cur: &Pressure,
    elapsed_s: f64,
) -> PressureRates {
    let stall = |p: Option<u64>, c: Option<u64>| {
        delta_opt(p, c, Width::U64).map(|d| (d as f64 / (elapsed_s * 1e6) * 100.0).min(100.0))
    };
    let prev_some = prev.and_then(|p| p.some.as_ref()).map(|l| l.total_us);
    let prev_full = prev.and_then(|p| p.full.as_ref()).map(|l| l.total_us);
    PressureRates {
        resource: res,
        some_pct: stall(prev_some, cur.some.as_ref().map(|l| l.total_us)),
        full_pct: stall(prev_full, cur.full.as_ref().map(|l| l.total_us)),
        some_avg10: cur.some.as_ref().map(|l| l.avg10),
        full_avg10: cur.full.as_ref().map(|l| l.avg10),
    }
}

impl Interval {
    /// The interval from `prev` to `cur`.
    ///
    /// Rates use the monotonic clock when both samples carry it (live reading),
    /// else the wall clock (captures). Gauges come from `cur`.
    pub fn between(prev: &Snapshot<'_>, cur: &Snapshot<'_>) -> Result<Interval, Break> {
        if let (Some(a), Some(b)) = (prev.btime(), cur.btime()) {
            // btime is computed from the wall clock and uptime, so NTP can move it by a
            // second; a reboot moves it by at least the uptime of the earlier boot.
            if a.abs_diff(b) > 1 {
                return Err(Break::Reboot {
                    prev_btime: a,
                    cur_btime: b,
                });
            }
        }
        let dt = elapsed_s(prev, cur);
        if dt <= 0.0 || cur.timestamp_ms < prev.timestamp_ms {
            return Err(Break::TimeNotIncreasing);
        }
        let mut resets = Vec::new();
        let mut iv = Interval {
            start_ms: prev.timestamp_ms,
            end_ms: cur.timestamp_ms,
            elapsed_s: dt,
            cpu_total: None,
            cpus: Vec::new(),
            system: None,
            procs_running: None,
            procs_blocked: None,
            load: cur.loadavg,
            memory: cur.meminfo.as_ref().and_then(MemoryGauges::from_meminfo),
            paging: None,
            disks: Vec::new(),
            nets: Vec::new(),
            pressure: Vec::new(),
            filesystems: Vec::new(),
            containers: Vec::new(),
            resets: Vec::new(),
        };
        if let Some(c) = &cur.stat {
            iv.procs_running = c.procs_running;
            iv.procs_blocked = c.procs_blocked;
        }
        if let (Some(p), Some(c)) = (&prev.stat, &cur.stat) {
            if let (Some(pt), Some(ct)) = (&p.cpu_total, &c.cpu_total) {
                iv.cpu_total = cpu::cpu_rates(pt, ct);
                if iv.cpu_total.is_none() {
                    resets.push("cpu:all".to_owned());
                }
            }
            for cc in &c.cpus {
                if let Some(pt) = p.cpu(cc.id) {
                    match cpu::cpu_rates(pt, &cc.times) {
                        Some(r) => iv.cpus.push((cc.id, r)),
                        None => resets.push(format!("cpu:{}", cc.id)),
                    }
                }
            }
            let r =
                |a: Option<u64>, b: Option<u64>| delta_opt(a, b, Width::U64).map(|d| d as f64 / dt);
            iv.system = Some(SystemRates {
                context_switches_per_s: r(p.ctxt, c.ctxt),
                interrupts_per_s: r(p.intr_total, c.intr_total),
                forks_per_s: r(p.processes, c.processes),
                softirqs_per_s: r(p.softirq_total, c.softirq_total),
            });
        }
        if let (Some(p), Some(c)) = (&prev.vmstat, &cur.vmstat) {
            iv.paging = Some(memory::paging_rates(p, c, dt));
        }
        if let (Some(p), Some(c)) = (&prev.diskstats, &cur.diskstats) {
            for cd in c {
                // Match by name; the same major:minor can be reused by another device.
                if let Some(pd) = p.iter().find(|d| d.name == cd.name) {
                    match disk::disk_rates(pd, cd, dt) {
                        Some(r) => iv.disks.push(r),
                        None => resets.push(format!("disk:{}", cd.name)),
                    }
                }
            }
        }
        if let (Some(p), Some(c)) = (&prev.net_dev, &cur.net_dev) {
            for cn in c {
                if let Some(pn) = p.iter().find(|n| n.name == cn.name) {
                    match net::net_rates(pn, cn, dt) {
                        Some(r) => iv.nets.push(r),
                        None => resets.push(format!("net:{}", cn.name)),
                    }
                }
            }
        }
        if let Some(c) = &cur.pressure {
            for res in Resource::ALL {
                if let Some(cp) = c.get(res) {
                    let pp = prev
                        .pressure
                        .as_ref()
                        .and_then(|p: &PressureAll| p.get(res));
                    iv.pressure.push(pressure_rates(res, pp, cp, dt));
                }
            }
        }
        if let Some(fs) = &cur.statfs {
            iv.filesystems = fs.iter().map(FsUsage::from_stat).collect();
        }
        if let (Some(p), Some(c)) = (&prev.containers, &cur.containers) {
            for cc in c {
                if let Some(pc) = p.iter().find(|x| x.id == cc.id) {
                    match crate::container::ContainerRates::between(pc, cc, dt) {
                        Some(r) => iv.containers.push(r),
                        None => resets.push(format!("container:{}", cc.label())),
                    }
                }
            }
        }
        iv.resets = resets;
        Ok(iv)
    }

    /// The interval's timestamp in whole unix seconds (that of the later sample).
    pub fn timestamp_s(&self) -> i64 {
        self.end_ms.div_euclid(1000)
    }

    /// Disks whose I/O counts toward totals (whole disks).
    pub fn whole_disks(&self) -> impl Iterator<Item = &DiskRates> {
        self.disks.iter().filter(|d| d.counts_toward_totals)
    }

    /// Interfaces whose traffic counts toward totals.
    pub fn physical_nets(&self) -> impl Iterator<Item = &NetRates> {
        self.nets.iter().filter(|n| n.counts_toward_totals)
    }

    /// Pressure rates of `res`, if recorded.
    pub fn pressure(&self, res: Resource) -> Option<&PressureRates> {
        self.pressure.iter().find(|p| p.resource == res)
    }
}
