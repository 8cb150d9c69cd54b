//! One sample: the raw text of each source at one instant, and its parsed view.
//!
//! A [`RawSample`] owns the bytes exactly as the kernel gave them (this is also
//! what a capture stores, so replaying a capture is the same as reading live).
//! [`RawSample::parse`] gives a [`Snapshot`] that borrows from those bytes.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::container::ContainerStat;
use crate::error::Result;
use crate::parse::{
    cpuinfo, diskstats, loadavg, meminfo, net_dev,
    pressure::{self, PressureAll, Resource},
    stat, statfs, vmstat,
};

/// A source of data: a kernel file, or the statvfs of mounts.
///
/// The order of the variants is the order in which the older collector wrote a
/// tick's records (its sources first), followed by the ones it did not record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Source {
    /// `/proc/cpuinfo`.
    Cpuinfo,
    /// `/proc/stat`.
    Stat,
    /// `/proc/meminfo`.
    Meminfo,
    /// `/proc/net/dev`.
    NetDev,
    /// `/proc/diskstats`.
    Diskstats,
    /// statvfs of the real mounts (capture name `statfs[*]`).
    Statfs,
    /// `/proc/loadavg`.
    Loadavg,
    /// `/proc/vmstat`.
    Vmstat,
    /// `/proc/pressure/cpu`.
    PressureCpu,
    /// `/proc/pressure/io`.
    PressureIo,
    /// `/proc/pressure/memory`.
    PressureMemory,
    /// `/proc/pressure/irq`.
    PressureIrq,
}

impl Source {
    /// Every source, in capture order.
    pub const ALL: [Source; 12] = [
        Source::Cpuinfo,
        Source::Stat,
        Source::Meminfo,
        Source::NetDev,
        Source::Diskstats,
        Source::Statfs,
        Source::Loadavg,
        Source::Vmstat,
        Source::PressureCpu,
        Source::PressureIo,
        Source::PressureMemory,
        Source::PressureIrq,
    ];

    /// The sources the older collector recorded (the rest are ours).
    pub const PCC: [Source; 6] = [
        Source::Cpuinfo,
        Source::Stat,
        Source::Meminfo,
        Source::NetDev,
        Source::Diskstats,
        Source::Statfs,
    ];

    /// The `subsystem` name of this source in a capture.
    pub fn subsystem(self) -> &'static str {
        match self {
            Source::Cpuinfo => "/proc/cpuinfo",
            Source::Stat => "/proc/stat",
            Source::Meminfo => "/proc/meminfo",
            Source::NetDev => "/proc/net/dev",
            Source::Diskstats => "/proc/diskstats",
            Source::Statfs => "statfs[*]",
            Source::Loadavg => "/proc/loadavg",
            Source::Vmstat => "/proc/vmstat",
            Source::PressureCpu => "/proc/pressure/cpu",
            Source::PressureIo => "/proc/pressure/io",
            Source::PressureMemory => "/proc/pressure/memory",
            Source::PressureIrq => "/proc/pressure/irq",
        }
    }

    /// The source with this capture `subsystem` name.
    pub fn from_subsystem(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.subsystem() == name)
    }

    /// The path of the file relative to the proc root (`None` for statvfs).
    pub fn proc_path(self) -> Option<&'static str> {
        self.subsystem().strip_prefix("/proc/")
    }

    /// Index into per-source arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The pressure resource of a `Pressure*` source.
    pub fn pressure_resource(self) -> Option<Resource> {
        match self {
            Source::PressureCpu => Some(Resource::Cpu),
            Source::PressureIo => Some(Resource::Io),
            Source::PressureMemory => Some(Resource::Memory),
            Source::PressureIrq => Some(Resource::Irq),
            _ => None,
        }
    }
}

/// Number of [`Source`] variants.
pub const SOURCE_COUNT: usize = Source::ALL.len();

/// The subsystem of the kernel-release record the agent adds now and then
/// (older readers skip subsystems they do not know).
pub const OSRELEASE: &str = "/proc/sys/kernel/osrelease";

/// A capture record whose subsystem we do not interpret (e.g. per-container data),
/// kept so that nothing is lost on a rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherRecord {
    /// Its `subsystem` name.
    pub subsystem: String,
    /// Its `measurement` text.
    pub measurement: Vec<u8>,
}

/// The raw text of every source at one instant.
///
/// Buffers are kept when a source is cleared, so a reader can refill the same
/// sample every tick without allocating.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawSample {
    /// Wall-clock time of the sample, milliseconds since the unix epoch.
    pub timestamp_ms: i64,
    /// Monotonic clock (CLOCK_MONOTONIC, ns) when read live; `None` from a capture.
    pub monotonic_ns: Option<u64>,
    bufs: [Vec<u8>; SOURCE_COUNT],
    present: u32,
    /// Records of subsystems this library does not interpret, in capture order.
    pub other: Vec<OtherRecord>,
}

impl RawSample {
    /// An empty sample taken at `timestamp_ms`.
    pub fn new(timestamp_ms: i64) -> Self {
        RawSample {
            timestamp_ms,
            ..Default::default()
        }
    }

    /// Wall-clock time in whole unix seconds (what a capture records).
    pub fn timestamp_s(&self) -> i64 {
        self.timestamp_ms.div_euclid(1000)
    }

    /// The text of `source`, if it was read.
    pub fn get(&self, source: Source) -> Option<&[u8]> {
        (self.present & (1 << source.index()) != 0).then(|| self.bufs[source.index()].as_slice())
    }

    /// Whether `source` was read.
    pub fn has(&self, source: Source) -> bool {
        self.present & (1 << source.index()) != 0
    }

    /// Sets the text of `source`.
    pub fn set(&mut self, source: Source, bytes: &[u8]) {
        let buf = self.buf_mut(source);
        buf.extend_from_slice(bytes);
    }

    /// Clears `source`'s buffer, marks it present and returns it for filling.
    pub fn buf_mut(&mut self, source: Source) -> &mut Vec<u8> {
        self.present |= 1 << source.index();
        let buf = &mut self.bufs[source.index()];
        buf.clear();
        buf
    }

    /// Marks `source` as absent (keeps its buffer for reuse).
    pub fn remove(&mut self, source: Source) {
        self.present &= !(1 << source.index());
    }

    /// Marks every source absent and drops other records (buffers are kept).
    pub fn clear(&mut self) {
        self.present = 0;
        self.other.clear();
        self.monotonic_ns = None;
    }

    /// The sources present, in capture order.
    pub fn sources(&self) -> impl Iterator<Item = Source> + '_ {
        Source::ALL.into_iter().filter(|s| self.has(*s))
    }

    /// Whether no source was read.
    pub fn is_empty(&self) -> bool {
        self.present == 0 && self.other.is_empty()
    }

    /// Parses every present source.
    ///
    /// A malformed source is an error naming the file and line: one bad file
    /// makes the whole sample an error, so the caller decides whether to skip
    /// the sample or use [`RawSample::parse_lenient`].
    pub fn parse(&self) -> Result<Snapshot<'_>> {
        let mut snap = Snapshot::empty(self);
        for source in self.sources() {
            snap.fill(source, self.bufs[source.index()].as_slice())?;
        }
        for o in &self.other {
            snap.fill_other(o)?;
        }
        Ok(snap)
    }

    /// Parses every present source, leaving out the malformed ones and returning
    /// their errors beside the snapshot.
    pub fn parse_lenient(&self) -> (Snapshot<'_>, Vec<crate::Error>) {
        let mut snap = Snapshot::empty(self);
        let mut errors = Vec::new();
        for source in self.sources() {
            if let Err(e) = snap.fill(source, self.bufs[source.index()].as_slice()) {
                errors.push(e);
            }
        }
        for o in &self.other {
            if let Err(e) = snap.fill_other(o) {
                errors.push(e);
            }
        }
        (snap, errors)
    }
}

/// One sample, parsed: each source that was present, borrowing from the raw text.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Snapshot<'a> {
    /// Wall-clock time of the sample, milliseconds since the unix epoch.
    pub timestamp_ms: i64,
    /// Monotonic clock (ns) when read live.
    pub monotonic_ns: Option<u64>,
    /// `/proc/stat`.
    pub stat: Option<stat::Stat<'a>>,
    /// `/proc/meminfo`.
    pub meminfo: Option<meminfo::Meminfo<'a>>,
    /// `/proc/diskstats`.
    pub diskstats: Option<Vec<diskstats::DiskStat<'a>>>,
    /// `/proc/net/dev`.
    pub net_dev: Option<Vec<net_dev::NetDev<'a>>>,
    /// `/proc/loadavg`.
    pub loadavg: Option<loadavg::LoadAvg>,
    /// `/proc/vmstat`.
    pub vmstat: Option<vmstat::Vmstat<'a>>,
    /// `/proc/pressure/*` (each resource present or not).
    pub pressure: Option<PressureAll>,
    /// `/proc/cpuinfo`.
    pub cpuinfo: Option<cpuinfo::CpuInfo<'a>>,
    /// statvfs of the real mounts.
    pub statfs: Option<Vec<statfs::FsStat<'a>>>,
    /// Per-container cgroup records (`container/<runtime>/<id>` in a capture).
    pub containers: Option<Vec<ContainerStat>>,
    /// The kernel release (`/proc/sys/kernel/osrelease`, what `uname -r` prints),
    /// when the sample carries it.
    pub kernel_release: Option<String>,
}

impl<'a> Snapshot<'a> {
    fn empty(raw: &RawSample) -> Self {
        Snapshot {
            timestamp_ms: raw.timestamp_ms,
            monotonic_ns: raw.monotonic_ns,
            ..Default::default()
        }
    }

    fn fill(&mut self, source: Source, bytes: &'a [u8]) -> Result<()> {
        match source {
            Source::Cpuinfo => self.cpuinfo = Some(cpuinfo::parse(bytes)?),
            Source::Stat => self.stat = Some(stat::parse(bytes)?),
            Source::Meminfo => self.meminfo = Some(meminfo::parse(bytes)?),
            Source::NetDev => self.net_dev = Some(net_dev::parse(bytes)?),
            Source::Diskstats => self.diskstats = Some(diskstats::parse(bytes)?),
            Source::Statfs => self.statfs = Some(statfs::parse(bytes)?),
            Source::Loadavg => self.loadavg = Some(loadavg::parse(bytes)?),
            Source::Vmstat => self.vmstat = Some(vmstat::parse(bytes)?),
            Source::PressureCpu
            | Source::PressureIo
            | Source::PressureMemory
            | Source::PressureIrq => {
                let Some(res) = source.pressure_resource() else {
                    return Ok(());
                };
                let p = pressure::parse(bytes, res)?;
                self.pressure
                    .get_or_insert_with(PressureAll::default)
                    .set(res, p);
            }
        }
        Ok(())
    }

    fn fill_other(&mut self, o: &OtherRecord) -> Result<()> {
        if o.subsystem == OSRELEASE {
            let k = String::from_utf8_lossy(&o.measurement).trim().to_owned();
            if !k.is_empty() {
                self.kernel_release = Some(k);
            }
            return Ok(());
        }
        if crate::container::is_container_subsystem(&o.subsystem) {
            let c = crate::container::parse(&o.subsystem, &o.measurement)?;
            self.containers.get_or_insert_with(Vec::new).push(c);
        }
        Ok(())
    }

    /// Boot time (unix seconds) from `/proc/stat`, used to detect reboots.
    pub fn btime(&self) -> Option<u64> {
        self.stat.as_ref().and_then(|s| s.btime)
    }
}

/// Serializes with a key per source present: `stat`, `meminfo`, `diskstats`,
/// `net_dev`, `loadavg`, `vmstat`, `pressure`, `cpuinfo`, `statfs`; values in the
/// kernel's own units and names.
impl Serialize for Snapshot<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(v) = &self.stat {
            m.serialize_entry("stat", v)?;
        }
        if let Some(v) = &self.meminfo {
            m.serialize_entry("meminfo", v)?;
        }
        if let Some(v) = &self.diskstats {
            m.serialize_entry("diskstats", &diskstats::DiskstatsJson(v))?;
        }
        if let Some(v) = &self.net_dev {
            m.serialize_entry("net_dev", &net_dev::NetDevJson(v))?;
        }
        if let Some(v) = &self.loadavg {
            m.serialize_entry("loadavg", v)?;
        }
        if let Some(v) = &self.vmstat {
            m.serialize_entry("vmstat", v)?;
        }
        if let Some(v) = &self.pressure {
            m.serialize_entry("pressure", v)?;
        }
        if let Some(v) = &self.cpuinfo {
            m.serialize_entry("cpuinfo", v)?;
        }
        if let Some(v) = &self.statfs {
            m.serialize_entry("statfs", v)?;
        }
        if let Some(v) = &self.containers {
            m.serialize_entry("containers", v)?;
        }
        m.end()
    }
}
