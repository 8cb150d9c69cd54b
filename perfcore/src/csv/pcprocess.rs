//! The older processor's per-subsystem CSV files (`proc/stat`, `proc/meminfo`,
//! `proc/net/dev`, `proc/diskstats`, `statfs_ALL`, `system_info.json`).
//!
//! [`PcprocessWriter`] writes them from intervals (an [`IntervalSink`]), with
//! sysstat's definitions and Go's `%v` number format, so files written here read
//! in the older tools; [`read_dir`] reads a directory of them (ours or the older
//! processor's) back into wide rows and per-device rows. `docs/compat.md` lists
//! every way our files differ from the older processor's.
//!
//! ```
//! use perfcore::capture::SampleReader;
//! use perfcore::csv::pcprocess::{read_dir, PcprocessOptions, PcprocessWriter};
//! let capture = concat!(
//!     "{\"timestamp\":100,\"subsystem\":\"/proc/stat\",\"measurement\":\"cpu  10 0 10 80 0 0 0 0 0 0\\ncpu0 10 0 10 80 0 0 0 0 0 0\\n\"}\n",
//!     "{\"timestamp\":105,\"subsystem\":\"/proc/stat\",\"measurement\":\"cpu  20 0 20 160 0 0 0 0 0 0\\ncpu0 20 0 20 160 0 0 0 0 0 0\\n\"}\n",
//! );
//! let dir = tempfile::tempdir()?;
//! let mut writer = PcprocessWriter::create(dir.path(), PcprocessOptions::default())?;
//! perfcore::process::run(SampleReader::new(capture.as_bytes()), &mut writer)?;
//! let stat = std::fs::read_to_string(dir.path().join("proc/stat"))?;
//! assert_eq!(stat, "#timestamp,CPU,%usr,%nice,%system,%iowait,%steal,%idle\n\
//!                   105,-1,10,0,10,0,0,80\n105,0,10,0,10,0,0,80\n");
//! let data = read_dir(dir.path())?;
//! assert_eq!(data.rows[0].get(perfcore::metrics::Metric::CpuIdlePct), Some(80.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{csv_error, parse_cell};
use crate::error::{Error, Result};
use crate::gofmt::{push_float, push_json_string};
use crate::metrics::{DeviceKind, DeviceRow, IntervalRow, MachineFacts, Metric};
use crate::parse::cpuinfo::CpuInfo;
use crate::parse::diskstats::{self, DiskStat};
use crate::process::IntervalSink;
use crate::rates::Interval;
use crate::rates::disk::SECTOR_BYTES;
use crate::snapshot::Snapshot;

/// One of the per-subsystem files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum File {
    /// `proc/stat`: CPU percentages.
    Stat,
    /// `proc/meminfo`: memory in KiB.
    Meminfo,
    /// `proc/net/dev`: interface rates.
    NetDev,
    /// `proc/diskstats`: block device rates.
    Diskstats,
    /// `statfs_ALL`: filesystem usage.
    Statfs,
}

impl File {
    /// Every file, in the order the older processor wrote them.
    pub const ALL: [File; 5] = [
        File::Stat,
        File::Meminfo,
        File::NetDev,
        File::Diskstats,
        File::Statfs,
    ];

    /// Path relative to the output directory.
    pub fn path(self) -> &'static str {
        match self {
            File::Stat => "proc/stat",
            File::Meminfo => "proc/meminfo",
            File::NetDev => "proc/net/dev",
            File::Diskstats => "proc/diskstats",
            File::Statfs => "statfs_ALL",
        }
    }

    /// The exact header line (without newline).
    pub fn header(self) -> &'static str {
        match self {
            File::Stat => "#timestamp,CPU,%usr,%nice,%system,%iowait,%steal,%idle",
            File::Meminfo => {
                "#timestamp,kbmemfree,kbavail,kbmemused,%memused,kbbuffers,kbcached,kbcommit,%commit,kbactive,kbinact,kbdirty"
            }
            File::NetDev => {
                "#timestamp,IFACE,rxpck/s,txpck/s,rxkB/s,txkB/s,rxcmp/s,txcmp/s,rxmcst/s,%ifutil"
            }
            File::Diskstats => "#timestamp,DEV,tps,rtps,wtps,dtps,bread/s,bwrtn/s,bdscd/s",
            File::Statfs => "#timestamp,mount,blocksize,blockstotal,blocksavail,use",
        }
    }

    /// The file whose header this is (also with the R report's `#site,host,` prefix).
    pub fn from_header(line: &str) -> Option<File> {
        let line = line.trim_end_matches(['\r', '\n']);
        let line = match line.strip_prefix("#site,host,") {
            Some(rest) => format!("#{rest}"),
            None => line.to_owned(),
        };
        File::ALL.into_iter().find(|f| f.header() == line)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The name of the machine-facts file beside the CSV files.
pub const SYSTEM_INFO: &str = "system_info.json";

/// Options of the per-subsystem writer.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PcprocessOptions {
    /// Prefix every row with `site,host` (the R report's variant): the header
    /// becomes `#site,host,timestamp,...`.
    pub site_host: Option<(String, String)>,
    /// Container names by full id (the collector's `container_names.json`), for
    /// the `container_name` column of [`CONTAINERS_CSV`] where the record has none.
    pub container_names: Option<crate::container::Names>,
}

/// The per-container file, written when the capture has container records.
pub const CONTAINERS_CSV: &str = "containers.csv";

/// The exact header of [`CONTAINERS_CSV`].
pub const CONTAINERS_HEADER: &str = "timestamp,container_id,container_name,runtime,cpu_percent,cpu_user_percent,cpu_system_percent,memory_current_bytes,memory_max_bytes,memory_percent,io_read_bytes,io_write_bytes,io_read_ops,io_write_ops,pids_current";

/// Rows of [`CONTAINERS_CSV`], one per container record, grouped by container
/// in order of first appearance (as the older processor wrote them).
#[derive(Debug, Default)]
struct Containers {
    /// Per container: full id, the previous record's time and CPU counters, its rows.
    each: Vec<ContainerRows>,
}

/// A container's previous record: unix seconds and CPU usage, user and system (µs).
type PrevCpu = (i64, Option<u64>, Option<u64>, Option<u64>);

#[derive(Debug)]
struct ContainerRows {
    id: String,
    prev: Option<PrevCpu>,
    rows: String,
}

impl Containers {
    fn push(
        &mut self,
        ts: i64,
        c: &crate::container::ContainerStat,
        names: Option<&crate::container::Names>,
    ) {
        let i = match self.each.iter().position(|e| e.id == c.id) {
            Some(i) => i,
            None => {
                self.each.push(ContainerRows {
                    id: c.id.clone(),
                    prev: None,
                    rows: String::new(),
                });
                self.each.len() - 1
            }
        };
        let Some(e) = self.each.get_mut(i) else {
            return;
        };
        let name = if c.name.is_empty() {
            names
                .and_then(|n| crate::container::name_for(n, &c.id))
                .unwrap_or_default()
        } else {
            c.name.as_str()
        };
        let l = &mut e.rows;
        push_int(l, ts);
        l.push(',');
        push_field(l, &c.id);
        l.push(',');
        push_field(l, name);
        l.push(',');
        push_field(l, &c.runtime);
        // CPU % of one CPU over the time since this container's previous record;
        // empty for its first record or when a counter went down (a restart).
        let cur = (c.cpu_usage_usec, c.cpu_user_usec, c.cpu_system_usec);
        let pct = |p: Option<u64>, q: Option<u64>, dt: i64| match (p, q) {
            (Some(p), Some(q)) if q >= p && dt > 0 => {
                Some((q - p) as f64 / (dt as f64 * 1e6) * 100.0)
            }
            _ => None,
        };
        let cpu = match e.prev {
            Some((pts, pu, pus, psy)) => {
                let dt = ts - pts;
                match pct(pu, cur.0, dt) {
                    Some(total) => [Some(total), pct(pus, cur.1, dt), pct(psy, cur.2, dt)],
                    None => [None; 3],
                }
            }
            None => [None; 3],
        };
        for v in cpu {
            l.push(',');
            if let Some(v) = v {
                push_fixed2(l, v);
            }
        }
        for v in [c.memory_current, c.memory_max] {
            l.push(',');
            push_opt_int(l, v);
        }
        l.push(',');
        if let (Some(m), Some(max)) = (c.memory_current, c.memory_max) {
            push_fixed2(l, m as f64 / max as f64 * 100.0);
        }
        for v in [
            c.io_read_bytes,
            c.io_write_bytes,
            c.io_read_ops,
            c.io_write_ops,
            c.pids_current,
        ] {
            l.push(',');
            push_opt_int(l, v);
        }
        // The older processor wrote this file with Python's csv module: CRLF.
        l.push_str("\r\n");
        e.prev = Some((ts, cur.0, cur.1, cur.2));
    }

    fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(CONTAINERS_CSV);
        let f = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut out = Out {
            path,
            w: BufWriter::with_capacity(1 << 16, f),
        };
        out.write(CONTAINERS_HEADER)?;
        out.write("\r\n")?;
        for e in &self.each {
            out.write(&e.rows)?;
        }
        out.flush()
    }
}

/// Two decimals, as the older processor printed percentages.
fn push_fixed2(out: &mut String, v: f64) {
    use std::fmt::Write as _;
    let _ = write!(out, "{v:.2}");
}

/// The CPU facts the older processor wrote to `system_info.json`, from the first
/// processor of `/proc/cpuinfo`.
///
/// A key whose line is missing (other architectures) holds Go's zero value
/// (`""` or `0`), as the older processor's Go struct did.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SystemInfo {
    /// `vendor_id` (`GenuineIntel`, `AuthenticAMD`).
    pub vendor_id: String,
    /// `model name`.
    pub model_name: String,
    /// `cpu cores`: cores per package.
    pub cpu_cores: u32,
    /// `siblings`: logical CPUs per package.
    pub siblings: u32,
    /// `cpu MHz` of the first processor when sampled.
    pub cpu_mhz: f64,
    /// `cache size` as printed (`512 KB`).
    pub cache_size: String,
    /// Number of processors listed.
    pub total_cpus: u32,
    /// Number of distinct `physical id`s (packages).
    pub physical_cpus: u32,
    /// `bogomips`.
    pub bogomips: f64,
    /// `flags`, space-separated as printed.
    pub flags: String,
}

impl SystemInfo {
    /// The facts of a parsed `/proc/cpuinfo`; `None` when it lists no processor.
    pub fn from_cpuinfo(ci: &CpuInfo<'_>) -> Option<SystemInfo> {
        let p = ci.processors().first()?;
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Some(SystemInfo {
            vendor_id: p.vendor_id().unwrap_or_default().to_owned(),
            model_name: p.model_name().unwrap_or_default().to_owned(),
            cpu_cores: p.cpu_cores().unwrap_or(0),
            siblings: p.siblings().unwrap_or(0),
            cpu_mhz: p.cpu_mhz().unwrap_or(0.0),
            cache_size: p.cache_size().unwrap_or_default().to_owned(),
            total_cpus: count(ci.len()),
            physical_cpus: count(ci.physical_cpus()),
            bogomips: p.bogomips().unwrap_or(0.0),
            flags: p
                .get("flags")
                .or_else(|| p.get("Features"))
                .or_else(|| p.get("features"))
                .unwrap_or_default()
                .to_owned(),
        })
    }

    /// The JSON text exactly as the older processor wrote it: Go's
    /// `json.MarshalIndent(v, "", "  ")` and a final newline.
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(256 + self.flags.len());
        o.push_str("{\n  \"vendor_id\": ");
        push_json_string(&mut o, self.vendor_id.as_bytes());
        o.push_str(",\n  \"model_name\": ");
        push_json_string(&mut o, self.model_name.as_bytes());
        let _ = write!(
            o,
            ",\n  \"cpu_cores\": {},\n  \"siblings\": {},\n  \"cpu_mhz\": ",
            self.cpu_cores, self.siblings
        );
        push_go_json_float(&mut o, self.cpu_mhz);
        o.push_str(",\n  \"cache_size\": ");
        push_json_string(&mut o, self.cache_size.as_bytes());
        let _ = write!(
            o,
            ",\n  \"total_cpus\": {},\n  \"physical_cpus\": {},\n  \"bogomips\": ",
            self.total_cpus, self.physical_cpus
        );
        push_go_json_float(&mut o, self.bogomips);
        o.push_str(",\n  \"flags\": ");
        push_json_string(&mut o, self.flags.as_bytes());
        o.push_str("\n}\n");
        o
    }

    /// Parses a `system_info.json` (missing keys read as zero values).
    pub fn from_json(text: &[u8]) -> Result<SystemInfo> {
        serde_json::from_slice(text).map_err(|e| Error::parse(SYSTEM_INFO, e.line(), e.to_string()))
    }

    /// The machine facts these say.
    pub fn facts(&self) -> MachineFacts {
        let mut f = MachineFacts::default();
        if !self.model_name.is_empty() {
            f.cpu_model = Some(self.model_name.clone());
        }
        if self.total_cpus > 0 {
            f.cpu_count = Some(self.total_cpus);
        }
        if self.physical_cpus > 0 {
            f.cpu_sockets = Some(self.physical_cpus);
        }
        f
    }
}

/// Appends a float as Go's `encoding/json` writes a `float64`: shortest
/// round-trip digits, plain from 1e-6 up to 1e21, else `1e-07` style cleaned to `1e-7`.
fn push_go_json_float(out: &mut String, v: f64) {
    if !v.is_finite() {
        // Go refuses to encode these; the zero value keeps the file readable.
        out.push('0');
        return;
    }
    let a = v.abs();
    if a == 0.0 || (1e-6..1e21).contains(&a) {
        // Rust's Display prints the shortest round-trip digits without an exponent.
        let _ = write!(out, "{v}");
        return;
    }
    let mut sci = String::with_capacity(32);
    let _ = write!(sci, "{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    out.push_str(mantissa);
    if exp < 0 {
        let _ = write!(out, "e-{}", exp.unsigned_abs());
    } else {
        let _ = write!(out, "e+{exp:02}");
    }
}

/// Appends a CSV field, quoted (RFC 4180) only when it holds a comma, a quote or a line break.
fn push_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        for c in s.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn push_int(out: &mut String, v: impl itoa::Integer) {
    let mut b = itoa::Buffer::new();
    out.push_str(b.format(v));
}

fn push_opt_int(out: &mut String, v: Option<u64>) {
    if let Some(v) = v {
        push_int(out, v);
    }
}

fn push_opt_float(out: &mut String, v: Option<f64>) {
    if let Some(v) = v {
        push_float(out, v);
    }
}

/// Whether a device has completed any I/O since boot (iostat and the older
/// processor leave out devices that have not).
fn ever_did_io(d: &DiskStat<'_>) -> bool {
    d.reads_completed != 0
        || d.writes_completed != 0
        || d.discards_completed.unwrap_or(0) != 0
        || d.flush_requests_completed.unwrap_or(0) != 0
}

#[derive(Debug)]
struct Out {
    path: PathBuf,
    w: BufWriter<std::fs::File>,
}

impl Out {
    fn create(path: PathBuf, header: &str, prefixed: bool) -> Result<Out> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let f = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut out = Out {
            path,
            w: BufWriter::with_capacity(1 << 16, f),
        };
        let line = match header.strip_prefix('#') {
            Some(rest) if prefixed => format!("#site,host,{rest}\n"),
            _ => format!("{header}\n"),
        };
        out.write(&line)?;
        Ok(out)
    }

    fn write(&mut self, s: &str) -> Result<()> {
        self.w
            .write_all(s.as_bytes())
            .map_err(|e| Error::io(&self.path, e))
    }

    fn flush(&mut self) -> Result<()> {
        self.w.flush().map_err(|e| Error::io(&self.path, e))
    }
}

/// Writes the per-subsystem files into a directory, one row per interval per
/// CPU, device, interface and mount.
///
/// Each interval `(S[i-1], S[i])` gives rows stamped with the later sample's unix
/// seconds: `proc/stat` (the total as CPU `-1`, then each CPU in `/proc/stat`
/// order), `proc/meminfo`, `proc/net/dev` and `proc/diskstats` (in the kernel
/// file's order), `statfs_ALL`. Devices that have never completed an I/O are left
/// out, as iostat and the older processor do; `%ifutil` is left empty (the link
/// speed is not in a capture). `system_info.json` is written from the first sample
/// that has `/proc/cpuinfo`.
#[derive(Debug)]
pub struct PcprocessWriter {
    dir: PathBuf,
    outs: Vec<Out>,
    /// `site,host,` already quoted, or empty.
    prefix: String,
    line: String,
    system_info_done: bool,
    container_names: Option<crate::container::Names>,
    containers: Option<Containers>,
}

impl PcprocessWriter {
    /// Creates `dir` (if missing) and the five files under it, each with its header.
    pub fn create(dir: &Path, opts: PcprocessOptions) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut prefix = String::new();
        if let Some((site, host)) = &opts.site_host {
            push_field(&mut prefix, site);
            prefix.push(',');
            push_field(&mut prefix, host);
            prefix.push(',');
        }
        // A system_info.json or containers.csv of an earlier run would describe another capture.
        for name in [SYSTEM_INFO, CONTAINERS_CSV] {
            let old = dir.join(name);
            match std::fs::remove_file(&old) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(old, e));
                }
                _ => {}
            }
        }
        let mut outs = Vec::with_capacity(File::ALL.len());
        for f in File::ALL {
            outs.push(Out::create(
                dir.join(f.path()),
                f.header(),
                opts.site_host.is_some(),
            )?);
        }
        Ok(PcprocessWriter {
            dir: dir.to_owned(),
            outs,
            prefix,
            line: String::with_capacity(512),
            system_info_done: false,
            container_names: opts.container_names,
            containers: None,
        })
    }

    /// Starts a row in the scratch line: prefix and timestamp.
    fn start(&mut self, ts: i64) {
        self.line.clear();
        self.line.push_str(&self.prefix);
        push_int(&mut self.line, ts);
        self.line.push(',');
    }

    fn emit(&mut self, f: File) -> Result<()> {
        self.line.push('\n');
        match self.outs.get_mut(f.index()) {
            Some(o) => o.write(&self.line),
            None => Ok(()),
        }
    }

    fn cpu_row(&mut self, ts: i64, id: i64, c: &crate::rates::CpuRates) -> Result<()> {
        self.start(ts);
        let l = &mut self.line;
        push_int(l, id);
        for v in [
            c.user_pct,
            c.nice_pct,
            c.system_pct,
            c.iowait_pct,
            c.steal_pct,
            c.idle_pct,
        ] {
            l.push(',');
            push_float(l, v);
        }
        self.emit(File::Stat)
    }

    fn write_system_info(&mut self, ci: &CpuInfo<'_>) -> Result<()> {
        if let Some(info) = SystemInfo::from_cpuinfo(ci) {
            let path = self.dir.join(SYSTEM_INFO);
            std::fs::write(&path, info.to_json()).map_err(|e| Error::io(&path, e))?;
            self.system_info_done = true;
        }
        Ok(())
    }
}

impl IntervalSink for PcprocessWriter {
    fn sample(&mut self, snap: &Snapshot<'_>) -> Result<()> {
        if !self.system_info_done
            && let Some(ci) = &snap.cpuinfo
        {
            self.write_system_info(ci)?;
        }
        if let Some(cs) = &snap.containers {
            let acc = self.containers.get_or_insert_with(Containers::default);
            let ts = snap.timestamp_ms.div_euclid(1000);
            for c in cs {
                acc.push(ts, c, self.container_names.as_ref());
            }
        }
        Ok(())
    }

    fn interval(&mut self, iv: &Interval, cur: &Snapshot<'_>) -> Result<()> {
        let ts = iv.timestamp_s();

        if let Some(c) = &iv.cpu_total {
            self.cpu_row(ts, -1, c)?;
        }
        for (id, c) in &iv.cpus {
            self.cpu_row(ts, i64::from(*id), c)?;
        }

        if let Some(m) = &iv.memory {
            self.start(ts);
            let l = &mut self.line;
            push_int(l, m.free_kib);
            l.push(',');
            push_opt_int(l, m.available_kib);
            l.push(',');
            push_int(l, m.used_kib);
            l.push(',');
            push_float(l, m.used_pct());
            l.push(',');
            push_int(l, m.buffers_kib);
            l.push(',');
            push_int(l, m.cached_kib);
            l.push(',');
            push_opt_int(l, m.committed_kib);
            l.push(',');
            push_opt_float(l, m.commit_pct());
            l.push(',');
            push_opt_int(l, m.active_kib);
            l.push(',');
            push_opt_int(l, m.inactive_kib);
            l.push(',');
            push_opt_int(l, m.dirty_kib);
            self.emit(File::Meminfo)?;
        }

        for n in &iv.nets {
            self.start(ts);
            let l = &mut self.line;
            push_field(l, &n.name);
            for v in [
                n.rx_packets_per_s,
                n.tx_packets_per_s,
                n.rx_bytes_per_s / 1024.0,
                n.tx_bytes_per_s / 1024.0,
                n.rx_compressed_per_s,
                n.tx_compressed_per_s,
                n.rx_multicast_per_s,
            ] {
                l.push(',');
                push_float(l, v);
            }
            // %ifutil needs the link speed, which a capture does not hold: unknown, not 0.
            l.push(',');
            self.emit(File::NetDev)?;
        }

        // iv.disks is in the order of cur's diskstats (a subsequence of it): walk both.
        let raw: &[DiskStat<'_>] = cur.diskstats.as_deref().unwrap_or(&[]);
        let mut at = 0;
        for d in &iv.disks {
            let found = raw
                .get(at..)
                .and_then(|r| r.iter().position(|s| s.name == d.name))
                .and_then(|i| {
                    at += i + 1;
                    raw.get(at - 1)
                });
            if !found.is_none_or(ever_did_io) {
                continue;
            }
            self.start(ts);
            let l = &mut self.line;
            push_field(l, &d.name);
            // bread/s and friends are 512-byte sectors per second.
            let sectors = |bytes_per_s: f64| bytes_per_s / SECTOR_BYTES;
            for v in [
                Some(d.tps()),
                Some(d.reads_per_s),
                Some(d.writes_per_s),
                d.discards_per_s,
                Some(sectors(d.read_bytes_per_s)),
                Some(sectors(d.write_bytes_per_s)),
                d.discard_bytes_per_s.map(sectors),
            ] {
                l.push(',');
                push_opt_float(l, v);
            }
            self.emit(File::Diskstats)?;
        }

        if let Some(fs) = &cur.statfs {
            for f in fs {
                self.start(ts);
                let l = &mut self.line;
                push_field(l, &f.mount_point);
                l.push(',');
                push_int(l, f.block_size);
                l.push(',');
                push_int(l, f.blocks_total);
                l.push(',');
                push_int(l, f.blocks_available);
                l.push(',');
                push_opt_int(l, f.use_pct_rounded());
                self.emit(File::Statfs)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        for o in &mut self.outs {
            o.flush()?;
        }
        if let Some(c) = &self.containers {
            c.write(&self.dir)?;
        }
        Ok(())
    }
}

/// What a directory of per-subsystem files holds.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct PcprocessData {
    /// One wide row per timestamp found in any file, in time order, with the
    /// metrics the files carry: CPU % (total row), CPU count, memory, disk totals
    /// over whole disks, network totals over physical interfaces, and
    /// `fs_max_used_pct` as the largest `use` (round(100 × (total − avail) / total)).
    /// `elapsed_s` is the time since the previous timestamp (for the first row,
    /// the gap to the second: the files do not say).
    pub rows: Vec<IntervalRow>,
    /// Per CPU, disk, interface and mount values, in file order per file.
    ///
    /// Metric names follow [`metrics::device_rows`](crate::metrics::device_rows);
    /// `rx_compressed_per_s`, `tx_compressed_per_s`, `rx_multicast_per_s` (net)
    /// and `use_pct` (fs, the older tool's rounded `use`) are only found here.
    pub devices: Vec<DeviceRow>,
    /// `system_info.json`, when the directory has it.
    pub system_info: Option<SystemInfo>,
    /// The machine facts of `system_info.json`, when the directory has it.
    pub facts: Option<MachineFacts>,
    /// The `site,host` of the R report's variant, when the files have those columns.
    pub site_host: Option<(String, String)>,
    /// The CSV files found.
    pub files: Vec<File>,
}

/// Reads a directory of per-subsystem files, as written by [`PcprocessWriter`]
/// or the older processor (with or without the `#site,host,` columns).
///
/// Missing files are not recorded subsystems; a directory with none of them is an
/// error. A malformed cell is an [`Error::Csv`] whose message names the file.
pub fn read_dir(dir: &Path) -> Result<PcprocessData> {
    let mut acc = Acc::default();
    let mut data = PcprocessData::default();
    for file in File::ALL {
        let path = dir.join(file.path());
        let f = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&path, e)),
        };
        data.files.push(file);
        read_file(file, &path, std::io::BufReader::new(f), &mut acc)?;
    }
    let info_path = dir.join(SYSTEM_INFO);
    match std::fs::read(&info_path) {
        Ok(bytes) => {
            let info = SystemInfo::from_json(&bytes)?;
            data.facts = Some(info.facts());
            data.system_info = Some(info);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&info_path, e)),
    }
    if data.files.is_empty() && data.system_info.is_none() {
        return Err(Error::io(
            dir,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no per-subsystem files (proc/stat, proc/meminfo, proc/net/dev, proc/diskstats, statfs_ALL)",
            ),
        ));
    }
    let times: Vec<i64> = acc.rows.keys().copied().collect();
    let first_gap = match times.as_slice() {
        [a, b, ..] => (*b as f64 - *a as f64) / 1000.0,
        _ => 0.0,
    };
    let mut prev: Option<i64> = None;
    data.rows = acc
        .rows
        .into_values()
        .map(|mut r| {
            r.elapsed_s = match prev {
                Some(p) => (r.timestamp_ms as f64 - p as f64) / 1000.0,
                None => first_gap,
            };
            prev = Some(r.timestamp_ms);
            r
        })
        .collect();
    data.devices = acc.devices;
    data.site_host = acc.site_host;
    Ok(data)
}

#[derive(Default)]
struct Acc {
    rows: BTreeMap<i64, IntervalRow>,
    devices: Vec<DeviceRow>,
    site_host: Option<(String, String)>,
}

impl Acc {
    fn row(&mut self, ts_ms: i64) -> &mut IntervalRow {
        self.rows
            .entry(ts_ms)
            .or_insert_with(|| IntervalRow::new(ts_ms, 0.0))
    }
}

fn add(r: &mut IntervalRow, m: Metric, v: f64) {
    let cur = r.get(m).unwrap_or(0.0);
    r.set(m, Some(cur + v));
}

/// Adds the file's path to a CSV error's message.
fn in_file(e: Error, path: &Path) -> Error {
    match e {
        Error::Csv {
            line,
            column,
            message,
        } => Error::Csv {
            line,
            column,
            message: format!("{}: {message}", path.display()),
        },
        other => other,
    }
}

fn read_file<R: Read>(file: File, path: &Path, input: R, acc: &mut Acc) -> Result<()> {
    read_records(file, input, acc).map_err(|e| in_file(e, path))
}

fn read_records<R: Read>(file: File, input: R, acc: &mut Acc) -> Result<()> {
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut rec = ::csv::StringRecord::new();
    if !rdr.read_record(&mut rec).map_err(csv_error)? {
        return Err(super::cell_error(
            1,
            "-",
            format!("empty file: expected the header {}", file.header()),
        ));
    }
    let header = rec.iter().collect::<Vec<_>>().join(",");
    let prefixed = header.starts_with("#site,host,");
    if File::from_header(&header) != Some(file) {
        return Err(super::cell_error(
            1,
            "-",
            format!(
                "header is {header:?}, expected {:?} (optionally with #site,host,)",
                file.header()
            ),
        ));
    }
    let columns: Vec<String> = rec
        .iter()
        .map(|c| c.trim_start_matches('#').to_owned())
        .collect();
    let skip = if prefixed { 2 } else { 0 };
    let col = |i: usize| columns.get(i + skip).map(String::as_str).unwrap_or("-");
    while rdr.read_record(&mut rec).map_err(csv_error)? {
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.len() == 1 && rec.get(0).is_some_and(|c| c.trim().is_empty()) {
            continue;
        }
        if rec.len() != columns.len() {
            return Err(super::cell_error(
                line,
                "-",
                format!("{} fields, the header has {}", rec.len(), columns.len()),
            ));
        }
        if prefixed {
            let site = rec.get(0).unwrap_or_default();
            let host = rec.get(1).unwrap_or_default();
            match &acc.site_host {
                None => acc.site_host = Some((site.to_owned(), host.to_owned())),
                Some((s, h)) if s == site && h == host => {}
                Some((s, h)) => {
                    return Err(super::cell_error(
                        line,
                        "host",
                        format!("{site},{host} after {s},{h}: one directory holds one machine"),
                    ));
                }
            }
        }
        let cell = |i: usize| rec.get(i + skip).unwrap_or_default();
        let num = |i: usize| parse_cell(cell(i), line, col(i));
        let ts_text = cell(0).trim();
        let ts_s: i64 = ts_text.parse().map_err(|_| {
            super::cell_error(
                line,
                col(0),
                format!("not a unix time in seconds: {ts_text:?}"),
            )
        })?;
        let ts = ts_s
            .checked_mul(1000)
            .ok_or_else(|| super::cell_error(line, col(0), "time out of range"))?;
        let key = cell(1);
        let mut push_dev = |kind: DeviceKind, metric: &'static str, v: Option<f64>| {
            if let Some(value) = v {
                acc.devices.push(DeviceRow {
                    timestamp_ms: ts,
                    kind,
                    device: key.to_owned(),
                    metric,
                    value,
                });
            }
        };
        match file {
            File::Stat => {
                let id: i64 = key.trim().parse().map_err(|_| {
                    super::cell_error(line, col(1), format!("not a CPU id: {key:?}"))
                })?;
                let vals = [num(2)?, num(3)?, num(4)?, num(5)?, num(6)?, num(7)?];
                const NAMES: [&str; 6] = [
                    "user_pct",
                    "nice_pct",
                    "system_pct",
                    "iowait_pct",
                    "steal_pct",
                    "idle_pct",
                ];
                const METRICS: [Metric; 6] = [
                    Metric::CpuUserPct,
                    Metric::CpuNicePct,
                    Metric::CpuSystemPct,
                    Metric::CpuIowaitPct,
                    Metric::CpuStealPct,
                    Metric::CpuIdlePct,
                ];
                if id == -1 {
                    let r = acc.row(ts);
                    for (m, v) in METRICS.iter().zip(vals) {
                        if v.is_some() {
                            r.set(*m, v);
                        }
                    }
                } else if u32::try_from(id).is_ok() {
                    for (name, v) in NAMES.iter().zip(vals) {
                        push_dev(DeviceKind::Cpu, name, v);
                    }
                    add(acc.row(ts), Metric::CpuCount, 1.0);
                } else {
                    return Err(super::cell_error(
                        line,
                        col(1),
                        format!("not a CPU id (-1 for all, else 0 or more): {id}"),
                    ));
                }
            }
            File::Meminfo => {
                let kib = |v: Option<f64>| v.map(|k| k * 1024.0);
                let v = [
                    num(1)?,
                    num(2)?,
                    num(3)?,
                    num(4)?,
                    num(5)?,
                    num(6)?,
                    num(7)?,
                    num(8)?,
                    num(9)?,
                    num(10)?,
                    num(11)?,
                ];
                let get = |i: usize| v.get(i - 1).copied().flatten();
                let r = acc.row(ts);
                for (m, val) in [
                    (Metric::MemFreeBytes, kib(get(1))),
                    (Metric::MemAvailableBytes, kib(get(2))),
                    (Metric::MemUsedBytes, kib(get(3))),
                    (Metric::MemUsedPct, get(4)),
                    (Metric::MemBuffersBytes, kib(get(5))),
                    (Metric::MemCachedBytes, kib(get(6))),
                    (Metric::MemCommittedBytes, kib(get(7))),
                    (Metric::MemCommitPct, get(8)),
                    (Metric::MemDirtyBytes, kib(get(11))),
                ] {
                    if val.is_some() {
                        r.set(m, val);
                    }
                }
            }
            File::NetDev => {
                let v = [
                    num(2)?,
                    num(3)?,
                    num(4)?,
                    num(5)?,
                    num(6)?,
                    num(7)?,
                    num(8)?,
                ];
                // %ifutil (column 9) is read for validity only: the older tool always
                // wrote 0 and we write nothing, so it never carries a value.
                num(9)?;
                let kib = |x: Option<f64>| x.map(|k| k * 1024.0);
                for (name, val) in [
                    ("rx_packets_per_s", v[0]),
                    ("tx_packets_per_s", v[1]),
                    ("rx_bytes_per_s", kib(v[2])),
                    ("tx_bytes_per_s", kib(v[3])),
                    ("rx_compressed_per_s", v[4]),
                    ("tx_compressed_per_s", v[5]),
                    ("rx_multicast_per_s", v[6]),
                ] {
                    push_dev(DeviceKind::Net, name, val);
                }
                let physical = crate::rates::net::counts_toward_totals(key);
                let r = acc.row(ts);
                for (m, val) in [
                    (Metric::NetRxPacketsPerS, v[0]),
                    (Metric::NetTxPacketsPerS, v[1]),
                    (Metric::NetRxBytesPerS, kib(v[2])),
                    (Metric::NetTxBytesPerS, kib(v[3])),
                ] {
                    add(r, m, if physical { val.unwrap_or(0.0) } else { 0.0 });
                }
            }
            File::Diskstats => {
                let v = [
                    num(2)?,
                    num(3)?,
                    num(4)?,
                    num(5)?,
                    num(6)?,
                    num(7)?,
                    num(8)?,
                ];
                let bytes = |x: Option<f64>| x.map(|s| s * SECTOR_BYTES);
                for (name, val) in [
                    ("reads_per_s", v[1]),
                    ("writes_per_s", v[2]),
                    ("discards_per_s", v[3]),
                    ("read_bytes_per_s", bytes(v[4])),
                    ("write_bytes_per_s", bytes(v[5])),
                    ("discard_bytes_per_s", bytes(v[6])),
                ] {
                    push_dev(DeviceKind::Disk, name, val);
                }
                let whole = diskstats::DeviceKind::from_name(key).counts_toward_totals();
                let r = acc.row(ts);
                for (m, val) in [
                    (Metric::DiskReadsPerS, v[1]),
                    (Metric::DiskWritesPerS, v[2]),
                    (Metric::DiskReadBytesPerS, bytes(v[4])),
                    (Metric::DiskWriteBytesPerS, bytes(v[5])),
                ] {
                    add(r, m, if whole { val.unwrap_or(0.0) } else { 0.0 });
                }
            }
            File::Statfs => {
                let (bsize, total, avail, usep) = (num(2)?, num(3)?, num(4)?, num(5)?);
                push_dev(
                    DeviceKind::Fs,
                    "size_bytes",
                    bsize.zip(total).map(|(b, t)| b * t),
                );
                push_dev(
                    DeviceKind::Fs,
                    "available_bytes",
                    bsize.zip(avail).map(|(b, a)| b * a),
                );
                push_dev(DeviceKind::Fs, "use_pct", usep);
                let r = acc.row(ts);
                if let Some(u) = usep {
                    let max = r.get(Metric::FsMaxUsedPct).map_or(u, |m| m.max(u));
                    r.set(Metric::FsMaxUsedPct, Some(max));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_json_floats() {
        let f = |v: f64| {
            let mut s = String::new();
            push_go_json_float(&mut s, v);
            s
        };
        // What Go's json.Marshal prints for each float64.
        assert_eq!(f(2600.0), "2600");
        assert_eq!(f(2596.096), "2596.096");
        assert_eq!(f(5192.19), "5192.19");
        assert_eq!(f(0.0), "0");
        assert_eq!(f(1e20), "100000000000000000000");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(1.5e-7), "1.5e-7");
        assert_eq!(f(1e-10), "1e-10");
        assert_eq!(f(0.000001), "0.000001");
    }

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let f = |s: &str| {
            let mut o = String::new();
            push_field(&mut o, s);
            o
        };
        assert_eq!(f("/mnt/data"), "/mnt/data");
        assert_eq!(f("/mnt/a b"), "/mnt/a b");
        assert_eq!(f("/mnt/a,b"), "\"/mnt/a,b\"");
        assert_eq!(f("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn headers_with_and_without_site_host() {
        assert_eq!(
            File::from_header("#site,host,timestamp,mount,blocksize,blockstotal,blocksavail,use"),
            Some(File::Statfs)
        );
        assert_eq!(
            File::from_header(File::Meminfo.header()),
            Some(File::Meminfo)
        );
        assert_eq!(File::from_header("#timestamp,CPU"), None);
    }

    #[test]
    fn system_info_json_round_trips() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon <x>\n\
cpu MHz\t\t: 2600.000\ncache size\t: 36608 KB\nphysical id\t: 0\nsiblings\t: 2\ncpu cores\t: 1\n\
flags\t\t: fpu vme\nbogomips\t: 5187.81\n\nprocessor\t: 1\nphysical id\t: 0\n";
        let ci = crate::parse::cpuinfo::parse(text.as_bytes()).unwrap();
        let info = SystemInfo::from_cpuinfo(&ci).unwrap();
        let json = info.to_json();
        assert_eq!(
            json,
            "{\n  \"vendor_id\": \"GenuineIntel\",\n  \"model_name\": \"Xeon \\u003cx\\u003e\",\n  \
\"cpu_cores\": 1,\n  \"siblings\": 2,\n  \"cpu_mhz\": 2600,\n  \"cache_size\": \"36608 KB\",\n  \
\"total_cpus\": 2,\n  \"physical_cpus\": 1,\n  \"bogomips\": 5187.81,\n  \"flags\": \"fpu vme\"\n}\n"
        );
        assert_eq!(SystemInfo::from_json(json.as_bytes()).unwrap(), info);
        let facts = info.facts();
        assert_eq!(facts.cpu_model.as_deref(), Some("Xeon <x>"));
        assert_eq!((facts.cpu_count, facts.cpu_sockets), (Some(2), Some(1)));
        assert!(SystemInfo::from_cpuinfo(&crate::parse::cpuinfo::parse(b"").unwrap()).is_none());
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_read_to_ok_or_err(
            which in 0usize..5,
            prefixed in proptest::bool::ANY,
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
        ) {
            let f = File::ALL[which];
            let mut text = if prefixed {
                format!("#site,host,{}\n", &f.header()[1..]).into_bytes()
            } else {
                format!("{}\n", f.header()).into_bytes()
            };
            text.extend_from_slice(&body);
            let _ = read_records(f, text.as_slice(), &mut Acc::default());
            let _ = read_records(f, body.as_slice(), &mut Acc::default());
        }

        #[test]
        fn numeric_rows_read_to_ok_or_err(
            which in 0usize..5,
            cells in proptest::collection::vec("[-0-9.e,x ]{0,12}", 0..14),
        ) {
            let f = File::ALL[which];
            let text = format!("{}\n{}\n", f.header(), cells.join(","));
            let _ = read_records(f, text.as_bytes(), &mut Acc::default());
        }
    }

    #[test]
    fn never_used_devices() {
        let d = diskstats::parse(b"7 4 loop4 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n7 0 loop0 11 0 28 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
            .unwrap();
        assert!(!ever_did_io(&d[0]));
        assert!(ever_did_io(&d[1]));
    }
}
