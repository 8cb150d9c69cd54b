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
        self.parse_with(&mut SnapshotBuffers::default())
    }

    /// Parses like [`RawSample::parse`], building the snapshot's lists on the
    /// allocations kept in `bufs` (see [`SnapshotBuffers`]): a reader that
    /// hands each snapshot back with [`SnapshotBuffers::recycle`] allocates
    /// nothing per sample.
    pub fn parse_with(&self, bufs: &mut SnapshotBuffers) -> Result<Snapshot<'_>> {
        let mut snap = Snapshot::empty(self);
        for source in self.sources() {
            snap.fill(source, self.bufs[source.index()].as_slice(), bufs)?;
        }
        for o in &self.other {
            snap.fill_other(o)?;
        }
        Ok(snap)
    }

    /// Parses every present source, leaving out the malformed ones and returning
    /// their errors beside the snapshot.
    pub fn parse_lenient(&self) -> (Snapshot<'_>, Vec<crate::Error>) {
        self.parse_lenient_with(&mut SnapshotBuffers::default())
    }

    /// Parses like [`RawSample::parse_lenient`], on the allocations kept in
    /// `bufs` (see [`RawSample::parse_with`]).
    pub fn parse_lenient_with(
        &self,
        bufs: &mut SnapshotBuffers,
    ) -> (Snapshot<'_>, Vec<crate::Error>) {
        let mut snap = Snapshot::empty(self);
        let mut errors = Vec::new();
        for source in self.sources() {
            if let Err(e) = snap.fill(source, self.bufs[source.index()].as_slice(), bufs) {
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

/// The allocations of parsed samples, kept to build the next ones on.
///
/// A [`Snapshot`] holds a list per source (meminfo's and vmstat's entries,
/// one entry per disk, interface and mount, the CPU list beyond
/// [`stat::INLINE_CPUS`]). [`RawSample::parse`] allocates them afresh and
/// frees them with the snapshot, which costs about as much as parsing
/// `/proc/meminfo` when the sample is read live (a malloc of a few KiB after the
/// kernel's reads is a cold one). [`RawSample::parse_with`] takes them from
/// here instead, and [`SnapshotBuffers::recycle`] puts a snapshot's back.
///
/// ```
/// use perfcore::snapshot::{RawSample, SnapshotBuffers, Source};
///
/// let mut raw = RawSample::new(0);
/// let mut bufs = SnapshotBuffers::default();
/// for tick in 0..3 {
///     raw.clear();
///     raw.set(Source::Meminfo, format!("MemTotal: {tick} kB\n").as_bytes());
///     let snap = raw.parse_with(&mut bufs)?;
///     assert_eq!(snap.meminfo.as_ref().and_then(|m| m.mem_total_kib()), Some(tick));
///     bufs.recycle(snap); // from the second tick on, nothing is allocated
/// }
/// # Ok::<(), perfcore::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct SnapshotBuffers {
    cpus: stat::CpuList,
    meminfo: Vec<meminfo::MeminfoEntry<'static>>,
    vmstat: Vec<(&'static str, u64)>,
    diskstats: Vec<diskstats::DiskStat<'static>>,
    net_dev: Vec<net_dev::NetDev<'static>>,
    statfs: Vec<statfs::FsStat<'static>>,
}

impl SnapshotBuffers {
    /// Takes back the allocations of `snap`'s lists (the rest of it is dropped).
    pub fn recycle(&mut self, snap: Snapshot<'_>) {
        use crate::parse::recycle;
        // Destructured so that a list added to `Snapshot` is not forgotten here.
        let Snapshot {
            stat,
            meminfo,
            diskstats,
            net_dev,
            vmstat,
            statfs,
            timestamp_ms: _,
            monotonic_ns: _,
            loadavg: _,
            pressure: _,
            cpuinfo: _,
            containers: _,
            kernel_release: _,
        } = snap;
        // A CPU list is worth keeping only when it is on the heap.
        if let Some(st) = stat
            && st.cpus.spilled()
        {
            self.cpus = st.cpus;
        }
        if let Some(m) = meminfo {
            self.meminfo = recycle(m.into_entries());
        }
        if let Some(v) = vmstat {
            self.vmstat = recycle(v.into_entries());
        }
        if let Some(d) = diskstats {
            self.diskstats = recycle(d);
        }
        if let Some(n) = net_dev {
            self.net_dev = recycle(n);
        }
        if let Some(f) = statfs {
            self.statfs = recycle(f);
        }
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

    fn fill(&mut self, source: Source, bytes: &'a [u8], bufs: &mut SnapshotBuffers) -> Result<()> {
        use crate::parse::recycle;
        match source {
            Source::Cpuinfo => self.cpuinfo = Some(cpuinfo::parse(bytes)?),
            Source::Stat => {
                // Parsed in place: a `Stat` is about 900 bytes (its inline CPU list).
                let st = self.stat.insert(stat::Stat::default());
                if bufs.cpus.spilled() {
                    // Only a list on the heap is worth moving (not 4 inline CPUs).
                    st.cpus = std::mem::take(&mut bufs.cpus);
                }
                if let Err(e) = stat::parse_into(bytes, st) {
                    self.stat = None;
                    return Err(e);
                }
            }
            Source::Meminfo => {
                let mut m =
                    meminfo::Meminfo::with_entries(recycle(std::mem::take(&mut bufs.meminfo)));
                meminfo::parse_into(bytes, &mut m)?;
                self.meminfo = Some(m);
            }
            Source::NetDev => {
                let mut v = recycle(std::mem::take(&mut bufs.net_dev));
                net_dev::parse_into(bytes, &mut v)?;
                self.net_dev = Some(v);
            }
            Source::Diskstats => {
                let mut v = recycle(std::mem::take(&mut bufs.diskstats));
                diskstats::parse_into(bytes, &mut v)?;
                self.diskstats = Some(v);
            }
            Source::Statfs => {
                let mut v = recycle(std::mem::take(&mut bufs.statfs));
                statfs::parse_into(bytes, &mut v)?;
                self.statfs = Some(v);
            }
            Source::Loadavg => self.loadavg = Some(loadavg::parse(bytes)?),
            Source::Vmstat => {
                let mut v = vmstat::Vmstat::with_entries(recycle(std::mem::take(&mut bufs.vmstat)));
                vmstat::parse_into(bytes, &mut v)?;
                self.vmstat = Some(v);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/live/debian12-kernel6.18-2cpu/"
    );

    /// A sample of every file of a live fixture sample, plus a statfs text.
    fn fixture_sample(n: usize) -> RawSample {
        let mut raw = RawSample::new(1_700_000_000_000 + 3_000 * n as i64);
        for source in Source::ALL {
            if let Some(rel) = source.proc_path()
                && let Ok(text) = std::fs::read(format!("{LIVE}sample{n}/proc/{rel}"))
            {
                raw.set(source, &text);
            }
        }
        raw.set(
            Source::Statfs,
            b"{\"mount_point\":\"/\",\"block_size\":4096,\"blocks_total\":100,\"blocks_free\":40,\"blocks_available\":30}\n",
        );
        raw
    }

    #[test]
    fn parse_with_gives_what_parse_gives_sample_after_sample() {
        let mut bufs = SnapshotBuffers::default();
        for n in [0, 1, 2, 0] {
            let raw = fixture_sample(n);
            for s in [
                Source::Stat,
                Source::Meminfo,
                Source::Vmstat,
                Source::NetDev,
            ] {
                assert!(raw.has(s), "sample{n} has {s:?}");
            }
            let snap = raw.parse_with(&mut bufs).unwrap();
            // Debug shows every field of every source.
            assert_eq!(format!("{snap:?}"), format!("{:?}", raw.parse().unwrap()));
            let (lenient, errors) = raw.parse_lenient_with(&mut bufs);
            assert!(errors.is_empty());
            assert_eq!(format!("{lenient:?}"), format!("{snap:?}"));
            bufs.recycle(lenient);
            bufs.recycle(snap);
        }
    }

    #[test]
    fn recycled_lists_are_reused() {
        let mut raw = fixture_sample(0);
        // Eight CPUs: the CPU list is on the heap.
        let mut stat = String::from("cpu  8 0 8 80 0 0 0 0 0 0\n");
        for id in 0..8 {
            stat.push_str(&format!("cpu{id} 1 0 1 10 0 0 0 0 0 0\n"));
        }
        raw.set(Source::Stat, stat.as_bytes());
        let mut bufs = SnapshotBuffers::default();
        let ptrs = |s: &Snapshot<'_>| {
            (
                s.stat.as_ref().map(|v| v.cpus.as_ptr() as usize),
                s.meminfo.as_ref().map(|v| v.entries().as_ptr() as usize),
                s.vmstat.as_ref().map(|v| v.entries().as_ptr() as usize),
                s.diskstats.as_ref().map(|v| v.as_ptr() as usize),
                s.net_dev.as_ref().map(|v| v.as_ptr() as usize),
                s.statfs.as_ref().map(|v| v.as_ptr() as usize),
            )
        };
        let first = raw.parse_with(&mut bufs).unwrap();
        assert_eq!(first.stat.as_ref().map(|s| s.cpus.len()), Some(8));
        let before = ptrs(&first);
        bufs.recycle(first);
        // Another sample's text: its lists are built on the same allocations.
        let other = fixture_sample(1);
        let mut raw2 = other.clone();
        raw2.set(Source::Stat, stat.as_bytes());
        let second = raw2.parse_with(&mut bufs).unwrap();
        assert_eq!(ptrs(&second), before);
        assert_eq!(
            second.meminfo.as_ref().map(|m| m.entries().len()),
            other.parse().unwrap().meminfo.map(|m| m.entries().len())
        );
    }

    #[test]
    fn a_malformed_source_leaves_no_list_behind_for_the_next_sample() {
        let mut bufs = SnapshotBuffers::default();
        let good = fixture_sample(0);
        let snap = good.parse_with(&mut bufs).unwrap();
        bufs.recycle(snap);
        let mut bad = fixture_sample(1);
        bad.set(Source::Meminfo, b"MemTotal: 5 kB\nMemFree 6 kB\n");
        assert!(bad.parse_with(&mut bufs).is_err());
        let (snap, errors) = bad.parse_lenient_with(&mut bufs);
        assert_eq!(errors.len(), 1);
        assert!(snap.meminfo.is_none(), "a malformed source is left out");
        assert!(snap.vmstat.is_some());
        bufs.recycle(snap);
        // The next sample parses whole, with nothing of the bad one.
        let next = good.parse_with(&mut bufs).unwrap();
        assert_eq!(format!("{next:?}"), format!("{:?}", good.parse().unwrap()));
    }
}
