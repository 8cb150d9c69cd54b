//! Per-device views: which devices a report shows, in which order, and the
//! series derived from several metrics of one device (IOPS, await, busy).

use std::sync::OnceLock as OnceCell;

use perfcore::metrics::DeviceKind;
use perfcore::parse::diskstats::DeviceKind as DiskKind;

use crate::columns::combine;
use crate::series::{DeviceSeries, MachineSeries};

/// A series derived from several metrics of a device: times and values.
pub(crate) type Derived = (Vec<i64>, Vec<f64>);

/// One device with all its metric series (derived series computed once, on use).
pub(crate) struct Device<'a> {
    pub kind: DeviceKind,
    pub name: &'a str,
    pub series: Vec<&'a DeviceSeries>,
    iops: OnceCell<Option<Derived>>,
    await_ms: OnceCell<Option<Derived>>,
    busy: OnceCell<Option<Derived>>,
}

impl<'a> Device<'a> {
    pub(crate) fn get(&self, metric: &str) -> Option<&'a DeviceSeries> {
        self.series.iter().copied().find(|s| s.metric == metric)
    }

    /// Mean of a metric over its points (NaN ignored), 0 if none.
    pub(crate) fn mean(&self, metric: &str) -> f64 {
        self.get(metric).map(|s| mean(&s.values)).unwrap_or(0.0)
    }

    /// Sum of a metric over its points (NaN ignored).
    pub(crate) fn sum(&self, metric: &str) -> f64 {
        self.get(metric)
            .map(|s| s.values.iter().filter(|v| v.is_finite()).sum())
            .unwrap_or(0.0)
    }

    /// What the device is, in words.
    pub(crate) fn role(&self) -> &'static str {
        match self.kind {
            DeviceKind::Cpu => "CPU",
            DeviceKind::Disk => match DiskKind::from_name(self.name) {
                DiskKind::Disk => "whole disk",
                DiskKind::Partition => "partition",
                DiskKind::DeviceMapper => "device-mapper (LVM, LUKS)",
                DiskKind::Md => "software RAID",
                DiskKind::Loop => "loop device",
                DiskKind::Ram | DiskKind::Zram => "RAM disk",
                DiskKind::Optical => "optical drive",
                DiskKind::Floppy => "floppy",
                _ => "block device",
            },
            DeviceKind::Net => {
                if self.name == "lo" {
                    "loopback"
                } else if perfcore::rates::net::counts_toward_totals(self.name) {
                    "interface"
                } else {
                    "virtual interface"
                }
            }
            DeviceKind::Fs => "filesystem",
            DeviceKind::Container => "container",
            _ => "device",
        }
    }

    /// Disks: whole disks, device-mapper and RAID devices are charted;
    /// partitions (counted in their disk), loop, RAM and optical devices are not.
    pub(crate) fn disk_is_charted(&self) -> bool {
        matches!(
            DiskKind::from_name(self.name),
            DiskKind::Disk | DiskKind::DeviceMapper | DiskKind::Md | DiskKind::Other
        )
    }

    /// IOPS: reads + writes + discards per second.
    pub(crate) fn iops(&self) -> Option<&Derived> {
        self.iops.get_or_init(|| self.compute_iops()).as_ref()
    }

    fn compute_iops(&self) -> Option<Derived> {
        combine(
            &[
                self.get("reads_per_s"),
                self.get("writes_per_s"),
                self.get("discards_per_s"),
            ],
            sum_present,
        )
    }

    /// Average time of one I/O (ms), weighted by the I/O of each kind
    /// (iostat's await); NaN where there was no I/O.
    pub(crate) fn await_ms(&self) -> Option<&Derived> {
        self.await_ms.get_or_init(|| self.compute_await()).as_ref()
    }

    fn compute_await(&self) -> Option<Derived> {
        self.get("r_await_ms")?;
        combine(
            &[
                self.get("reads_per_s"),
                self.get("r_await_ms"),
                self.get("writes_per_s"),
                self.get("w_await_ms"),
                self.get("discards_per_s"),
                self.get("d_await_ms"),
            ],
            |v| {
                let mut n = 0.0;
                let mut t = 0.0;
                for pair in v.chunks(2) {
                    let (ops, ms) = (pair[0], pair.get(1).copied().unwrap_or(f64::NAN));
                    if ops.is_finite() && ms.is_finite() && ops > 0.0 {
                        n += ops;
                        t += ops * ms;
                    }
                }
                if n > 0.0 { t / n } else { f64::NAN }
            },
        )
    }

    /// Bytes per second read + written (disks) or received + sent (interfaces).
    pub(crate) fn total_bytes_per_s(&self) -> f64 {
        match self.kind {
            DeviceKind::Net => self.mean("rx_bytes_per_s") + self.mean("tx_bytes_per_s"),
            _ => self.mean("read_bytes_per_s") + self.mean("write_bytes_per_s"),
        }
    }

    /// CPU busy % of one CPU (100 − idle − iowait − steal).
    pub(crate) fn cpu_busy(&self) -> Option<&Derived> {
        self.busy.get_or_init(|| self.compute_busy()).as_ref()
    }

    fn compute_busy(&self) -> Option<Derived> {
        self.get("idle_pct")?;
        combine(
            &[
                self.get("idle_pct"),
                self.get("iowait_pct"),
                self.get("steal_pct"),
            ],
            |v| {
                if v[0].is_nan() {
                    return f64::NAN;
                }
                let z = |x: f64| if x.is_nan() { 0.0 } else { x };
                (100.0 - v[0] - z(v[1]) - z(v[2])).clamp(0.0, 100.0)
            },
        )
    }
}

fn sum_present(v: &[f64]) -> f64 {
    let mut any = false;
    let mut s = 0.0;
    for x in v {
        if x.is_finite() {
            s += x;
            any = true;
        }
    }
    if any { s } else { f64::NAN }
}

pub(crate) fn mean(v: &[f64]) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for x in v {
        if x.is_finite() {
            s += x;
            n += 1;
        }
    }
    if n == 0 { 0.0 } else { s / n as f64 }
}

/// Every device of a machine, grouped by kind (CPUs by numeric id, the others
/// in first-seen order).
pub(crate) struct Devices<'a> {
    pub all: Vec<Device<'a>>,
}

impl<'a> Devices<'a> {
    pub(crate) fn new(series: &'a MachineSeries) -> Self {
        let mut all: Vec<Device<'a>> = Vec::new();
        for s in &series.devices {
            match all
                .iter_mut()
                .find(|d| d.kind == s.kind && d.name == s.device)
            {
                Some(d) => d.series.push(s),
                None => all.push(Device {
                    kind: s.kind,
                    name: &s.device,
                    series: vec![s],
                    iops: OnceCell::new(),
                    await_ms: OnceCell::new(),
                    busy: OnceCell::new(),
                }),
            }
        }
        let rank = |k: DeviceKind| match k {
            DeviceKind::Cpu => 0,
            DeviceKind::Disk => 1,
            DeviceKind::Net => 2,
            _ => 3,
        };
        // Stable: first-seen order within a kind, CPUs by id.
        all.sort_by(|a, b| {
            rank(a.kind).cmp(&rank(b.kind)).then_with(|| {
                if a.kind == DeviceKind::Cpu {
                    let id = |d: &Device<'_>| d.name.parse::<u64>().unwrap_or(u64::MAX);
                    id(a).cmp(&id(b)).then(a.name.cmp(b.name))
                } else {
                    std::cmp::Ordering::Equal
                }
            })
        });
        Devices { all }
    }

    /// Devices of one kind.
    pub(crate) fn of(&self, kind: DeviceKind) -> Vec<&Device<'a>> {
        self.all.iter().filter(|d| d.kind == kind).collect()
    }

    /// CPUs sorted by numeric id.
    pub(crate) fn cpus(&self) -> Vec<&Device<'a>> {
        self.of(DeviceKind::Cpu)
    }

    /// Disks to chart (no partitions, no idle devices), busiest first (by mean
    /// %util, then by throughput); and the ones left out.
    pub(crate) fn disks(&self) -> (Vec<&Device<'a>>, Vec<&Device<'a>>) {
        let (mut shown, mut left): (Vec<_>, Vec<_>) =
            self.of(DeviceKind::Disk).into_iter().partition(|d| {
                d.disk_is_charted() && (d.sum("reads_per_s") + d.sum("writes_per_s")) > 0.0
            });
        shown.sort_by(|a, b| {
            b.mean("util_pct")
                .total_cmp(&a.mean("util_pct"))
                .then(b.total_bytes_per_s().total_cmp(&a.total_bytes_per_s()))
                .then(a.name.cmp(b.name))
        });
        left.sort_by(|a, b| a.name.cmp(b.name));
        (shown, left)
    }

    /// Interfaces to chart (not loopback, some traffic), busiest first; and the rest.
    pub(crate) fn nets(&self) -> (Vec<&Device<'a>>, Vec<&Device<'a>>) {
        let (mut shown, mut left): (Vec<_>, Vec<_>) =
            self.of(DeviceKind::Net).into_iter().partition(|d| {
                d.name != "lo"
                    && (d.sum("rx_packets_per_s")
                        + d.sum("tx_packets_per_s")
                        + d.sum("rx_bytes_per_s"))
                        > 0.0
            });
        shown.sort_by(|a, b| {
            let pa = perfcore::rates::net::counts_toward_totals(a.name);
            let pb = perfcore::rates::net::counts_toward_totals(b.name);
            pb.cmp(&pa)
                .then(b.total_bytes_per_s().total_cmp(&a.total_bytes_per_s()))
                .then(a.name.cmp(b.name))
        });
        left.sort_by(|a, b| a.name.cmp(b.name));
        (shown, left)
    }

    /// Containers, busiest first (by mean CPU), then by name.
    pub(crate) fn containers(&self) -> Vec<&Device<'a>> {
        let mut v = self.of(DeviceKind::Container);
        v.sort_by(|a, b| {
            b.mean("cpu_pct")
                .total_cmp(&a.mean("cpu_pct"))
                .then(a.name.cmp(b.name))
        });
        v
    }

    /// Filesystems, fullest first (by last used %).
    pub(crate) fn filesystems(&self) -> Vec<&Device<'a>> {
        let mut v = self.of(DeviceKind::Fs);
        let last = |d: &Device<'_>| {
            d.get("used_pct")
                .and_then(|s| s.values.iter().rev().find(|v| v.is_finite()).copied())
                .unwrap_or(f64::NEG_INFINITY)
        };
        v.sort_by(|a, b| last(b).total_cmp(&last(a)).then(a.name.cmp(b.name)));
        v
    }
}
