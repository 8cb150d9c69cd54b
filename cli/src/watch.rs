//! `perfan watch`: a sar-like line per interval (sar's column names and
//! layout), or NDJSON with the same names.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use perfcore::parse::diskstats::DeviceKind;
use perfcore::reader::ReaderConfig;
use perfcore::record::{Control, RecordOptions, RecordSink, Recorder};
use perfcore::{Interval, Snapshot, Source};

use crate::config::{self, UsageError};

/// Arguments of `perfan watch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to show: cpu (sar -u), mem (sar -r), disk (sar -d), net (sar -n DEV),
    /// all (those four), or containers (each cgroup v2 container, like docker stats).
    #[arg(value_enum, default_value_t = Section::Cpu)]
    what: Section,
    /// Time between lines (100ms to 24h).
    #[arg(long, short, value_name = "DURATION", default_value = "1s")]
    interval: String,
    /// Stop after this many intervals (default: until Ctrl-C).
    #[arg(long, short = 'n', value_name = "N")]
    count: Option<u64>,
    /// `table` (sar's layout) or `json` (one object per row, NDJSON).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Where procfs is mounted (a container reads the host's at /host/proc).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/proc",
        env = "PERFAN_PROC_ROOT"
    )]
    proc_root: PathBuf,
    /// The cgroup v2 root for `containers`.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/sys/fs/cgroup",
        env = "PERFAN_CGROUP_ROOT"
    )]
    cgroup_root: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Section {
    Cpu,
    Mem,
    Disk,
    Net,
    All,
    Containers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

/// Which column a value goes to, and how it prints.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Num(f64),
    Int(u64),
}

/// One printed row: its key (CPU/DEV/IFACE or none) and values.
type Row = (Option<String>, Vec<Cell>);

const CPU_COLS: [&str; 7] = [
    "CPU", "%user", "%nice", "%system", "%iowait", "%steal", "%idle",
];
const MEM_COLS: [&str; 11] = [
    "kbmemfree",
    "kbavail",
    "kbmemused",
    "%memused",
    "kbbuffers",
    "kbcached",
    "kbcommit",
    "%commit",
    "kbactive",
    "kbinact",
    "kbdirty",
];
const DISK_COLS: [&str; 9] = [
    "DEV", "tps", "rkB/s", "wkB/s", "dkB/s", "areq-sz", "aqu-sz", "await", "%util",
];
const NET_COLS: [&str; 9] = [
    "IFACE", "rxpck/s", "txpck/s", "rxkB/s", "txkB/s", "rxcmp/s", "txcmp/s", "rxmcst/s", "%ifutil",
];

const CONTAINER_COLS: [&str; 9] = [
    "CONTAINER",
    "%cpu",
    "%thrtl",
    "kbmem",
    "kblimit",
    "%mem",
    "rkB/s",
    "wkB/s",
    "pids",
];

/// Per container, as docker stats shows it: CPU in % of one CPU, memory and its
/// limit (0: none), block I/O; busiest first.
fn container_rows(iv: &Interval) -> Vec<Row> {
    let mut cs: Vec<&perfcore::container::ContainerRates> = iv.containers.iter().collect();
    cs.sort_by(|a, b| {
        b.cpu_pct
            .unwrap_or(0.0)
            .total_cmp(&a.cpu_pct.unwrap_or(0.0))
            .then(a.label.cmp(&b.label))
    });
    let kb = |v: Option<f64>| Cell::Int((v.unwrap_or(0.0) / 1024.0).round() as u64);
    cs.into_iter()
        .map(|c| {
            (
                Some(c.label.clone()),
                vec![
                    Cell::Num(c.cpu_pct.unwrap_or(0.0)),
                    Cell::Num(c.throttled_pct.unwrap_or(0.0)),
                    kb(c.mem_bytes),
                    kb(c.mem_limit_bytes),
                    Cell::Num(c.mem_pct.unwrap_or(0.0)),
                    Cell::Num(c.read_bytes_per_s.unwrap_or(0.0) / 1024.0),
                    Cell::Num(c.write_bytes_per_s.unwrap_or(0.0) / 1024.0),
                    Cell::Int(c.pids.unwrap_or(0.0) as u64),
                ],
            )
        })
        .collect()
}

fn cpu_rows(iv: &Interval) -> Vec<Row> {
    iv.cpu_total
        .iter()
        .map(|c| {
            (
                Some("all".to_owned()),
                vec![
                    Cell::Num(c.user_pct),
                    Cell::Num(c.nice_pct),
                    Cell::Num(c.system_pct),
                    Cell::Num(c.iowait_pct),
                    Cell::Num(c.steal_pct),
                    // sar's %idle is what the other columns leave (irq, softirq, guest count as busy).
                    Cell::Num(c.idle_pct),
                ],
            )
        })
        .collect()
}

fn mem_rows(iv: &Interval) -> Vec<Row> {
    iv.memory
        .iter()
        .map(|m| {
            let total_with_swap = m.total_kib + m.swap_total_kib;
            let commit = m.committed_kib.unwrap_or(0);
            (
                None,
                vec![
                    Cell::Int(m.free_kib),
                    Cell::Int(m.available_kib.unwrap_or(0)),
                    Cell::Int(m.used_kib),
                    Cell::Num(m.used_pct()),
                    Cell::Int(m.buffers_kib),
                    Cell::Int(m.cached_kib),
                    Cell::Int(commit),
                    Cell::Num(if total_with_swap > 0 {
                        commit as f64 / total_with_swap as f64 * 100.0
                    } else {
                        0.0
                    }),
                    Cell::Int(m.active_kib.unwrap_or(0)),
                    Cell::Int(m.inactive_kib.unwrap_or(0)),
                    Cell::Int(m.dirty_kib.unwrap_or(0)),
                ],
            )
        })
        .collect()
}

fn disk_rows(iv: &Interval, cur: &Snapshot<'_>) -> Vec<Row> {
    // Like sar -d: whole devices (disks, dm, md), not partitions, and not devices
    // that have done no I/O at all since boot (unused loop devices).
    let used = |name: &str| {
        cur.diskstats.as_ref().is_none_or(|ds| {
            ds.iter().any(|d| {
                d.name == name
                    && d.reads_completed + d.writes_completed + d.discards_completed.unwrap_or(0)
                        > 0
            })
        })
    };
    iv.disks
        .iter()
        .filter(|d| d.kind != DeviceKind::Partition && used(&d.name))
        .map(|d| {
            let dkb = d.discard_bytes_per_s.unwrap_or(0.0) / 1024.0;
            let (rkb, wkb) = (d.read_bytes_per_s / 1024.0, d.write_bytes_per_s / 1024.0);
            let tps = d.tps();
            (
                Some(d.name.clone()),
                vec![
                    Cell::Num(tps),
                    Cell::Num(rkb),
                    Cell::Num(wkb),
                    Cell::Num(dkb),
                    // iostat's areq-sz: kB per request.
                    Cell::Num(if tps > 0.0 {
                        (rkb + wkb + dkb) / tps
                    } else {
                        0.0
                    }),
                    Cell::Num(d.aqu_sz),
                    Cell::Num(d.await_ms()),
                    Cell::Num(d.util_pct),
                ],
            )
        })
        .collect()
}

/// Link speed (Mb/s) and duplex of interfaces, from sysfs, refreshed every minute.
struct Links {
    sys_class_net: PathBuf,
    cache: HashMap<String, (Option<(u64, bool)>, Instant)>,
}

impl Links {
    fn new(proc_root: &Path) -> Self {
        // /proc → /sys; /host/proc → /host/sys.
        let sys = if proc_root == Path::new("/proc") {
            PathBuf::from("/sys")
        } else {
            proc_root.parent().unwrap_or(Path::new("/")).join("sys")
        };
        Links {
            sys_class_net: sys.join("class/net"),
            cache: HashMap::new(),
        }
    }

    fn get(&mut self, iface: &str) -> Option<(u64, bool)> {
        let now = Instant::now();
        if let Some((v, at)) = self.cache.get(iface)
            && now.duration_since(*at) < Duration::from_secs(60)
        {
            return *v;
        }
        let dir = self.sys_class_net.join(iface);
        let speed = std::fs::read_to_string(dir.join("speed"))
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|s| *s > 0)
            .map(|s| s as u64);
        let full = std::fs::read_to_string(dir.join("duplex"))
            .map(|s| s.trim() == "full")
            .unwrap_or(true);
        let v = speed.map(|s| (s, full));
        self.cache.insert(iface.to_owned(), (v, now));
        v
    }
}

/// sar's %ifutil: the busier direction (full duplex) or both (half) over the link speed.
fn ifutil(rx_bytes_per_s: f64, tx_bytes_per_s: f64, link: Option<(u64, bool)>) -> f64 {
    match link {
        Some((mbps, full)) => {
            let bits = if full {
                rx_bytes_per_s.max(tx_bytes_per_s)
            } else {
                rx_bytes_per_s + tx_bytes_per_s
            } * 8.0;
            (bits / (mbps as f64 * 1e6) * 100.0).min(100.0)
        }
        None => 0.0,
    }
}

fn net_rows(iv: &Interval, links: &mut Links) -> Vec<Row> {
    iv.nets
        .iter()
        .map(|n| {
            (
                Some(n.name.clone()),
                vec![
                    Cell::Num(n.rx_packets_per_s),
                    Cell::Num(n.tx_packets_per_s),
                    Cell::Num(n.rx_bytes_per_s / 1024.0),
                    Cell::Num(n.tx_bytes_per_s / 1024.0),
                    Cell::Num(n.rx_compressed_per_s),
                    Cell::Num(n.tx_compressed_per_s),
                    Cell::Num(n.rx_multicast_per_s),
                    Cell::Num(ifutil(
                        n.rx_bytes_per_s,
                        n.tx_bytes_per_s,
                        links.get(&n.name),
                    )),
                ],
            )
        })
        .collect()
}

/// Running sums for sar's `Average:` lines, per section and row key.
#[derive(Default)]
struct Averages {
    sums: BTreeMap<(usize, String), (Vec<f64>, u64, usize)>,
}

impl Averages {
    fn add(&mut self, section: usize, rows: &[Row]) {
        for (i, (key, cells)) in rows.iter().enumerate() {
            let k = (section, key.clone().unwrap_or_default());
            let e = self
                .sums
                .entry(k)
                .or_insert_with(|| (vec![0.0; cells.len()], 0, i));
            for (s, c) in e.0.iter_mut().zip(cells) {
                *s += match c {
                    Cell::Num(v) => *v,
                    Cell::Int(v) => *v as f64,
                };
            }
            e.1 += 1;
        }
    }
}

struct WatchSink {
    sections: Vec<Section>,
    json: bool,
    links: Links,
    out: std::io::StdoutLock<'static>,
    line: String,
    tz: jiff::tz::TimeZone,
    printed_header: bool,
    averages: Averages,
    int_kinds: Vec<Vec<bool>>,
    /// Stops the loop when stdout is gone (`perfan watch | head`).
    control: Control,
}

fn columns(s: Section) -> &'static [&'static str] {
    match s {
        Section::Cpu => &CPU_COLS,
        Section::Mem => &MEM_COLS,
        Section::Disk => &DISK_COLS,
        Section::Net => &NET_COLS,
        Section::Containers => &CONTAINER_COLS,
        Section::All => &[],
    }
}

fn section_name(s: Section) -> &'static str {
    match s {
        Section::Cpu => "cpu",
        Section::Mem => "mem",
        Section::Disk => "disk",
        Section::Net => "net",
        Section::Containers => "containers",
        Section::All => "all",
    }
}

/// Right-aligns a sar column: 8 wide for CPU, 24 for container names, 10 for
/// the rest (one space + 9).
fn push_col(l: &mut String, name: &str, text: &str) {
    let w = match name {
        "CPU" => 8,
        "CONTAINER" => 24,
        _ => 10,
    };
    let _ = write!(l, "{text:>w$}");
}

fn push_cell(l: &mut String, name: &str, c: Cell) {
    let t = match c {
        Cell::Num(v) => format!("{v:.2}"),
        Cell::Int(v) => v.to_string(),
    };
    push_col(l, name, &t);
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

impl WatchSink {
    fn rows(&mut self, s: Section, iv: &Interval, cur: &Snapshot<'_>) -> Vec<Row> {
        match s {
            Section::Cpu => cpu_rows(iv),
            Section::Mem => mem_rows(iv),
            Section::Disk => disk_rows(iv, cur),
            Section::Net => net_rows(iv, &mut self.links),
            Section::Containers => container_rows(iv),
            Section::All => Vec::new(),
        }
    }

    fn table(&mut self, label: &str, s: Section, rows: &[Row], header: bool) {
        let cols = columns(s);
        let l = &mut self.line;
        if header {
            let _ = write!(l, "\n{label:<11}");
            for c in cols {
                push_col(l, c, c);
            }
            l.push('\n');
        }
        for (key, cells) in rows {
            let _ = write!(l, "{label:<11}");
            let mut names = cols.iter();
            if let Some(k) = key
                && let Some(n) = names.next()
            {
                push_col(l, n, k);
            }
            for (c, n) in cells.iter().zip(names) {
                push_cell(l, n, *c);
            }
            l.push('\n');
        }
    }

    /// One object per row, keys in sar's column order after `timestamp` and `section`.
    fn json(&mut self, ts: &str, s: Section, rows: &[Row]) {
        let cols = columns(s);
        let l = &mut self.line;
        for (key, cells) in rows {
            let _ = write!(
                l,
                "{{\"timestamp\":\"{ts}\",\"section\":\"{}\"",
                section_name(s)
            );
            let mut names = cols.iter();
            if let Some(k) = key
                && let Some(n) = names.next()
            {
                let _ = write!(l, ",\"{n}\":{}", serde_json::Value::from(k.as_str()));
            }
            for (c, n) in cells.iter().zip(names) {
                match c {
                    Cell::Num(v) if v.is_finite() => {
                        let _ = write!(l, ",\"{n}\":{}", round2(*v));
                    }
                    Cell::Num(_) => {
                        let _ = write!(l, ",\"{n}\":null");
                    }
                    Cell::Int(v) => {
                        let _ = write!(l, ",\"{n}\":{v}");
                    }
                }
            }
            l.push_str("}\n");
        }
    }

    fn emit(&mut self) -> perfcore::Result<()> {
        let r = self
            .out
            .write_all(self.line.as_bytes())
            .and_then(|()| self.out.flush());
        self.line.clear();
        match r {
            // The reader went away: stop quietly, like sar piped into head.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.control.stop();
                Ok(())
            }
            r => r.map_err(|e| perfcore::Error::io("stdout", e)),
        }
    }
}

impl RecordSink for WatchSink {
    fn interval(&mut self, iv: &Interval, cur: &Snapshot<'_>) -> perfcore::Result<()> {
        let sections = self.sections.clone();
        if self.json {
            let ts = perfcore::time::format_rfc3339_ms(iv.end_ms);
            for (i, s) in sections.iter().enumerate() {
                let rows = self.rows(*s, iv, cur);
                self.averages.add(i, &rows);
                self.json(&ts, *s, &rows);
            }
            return self.emit();
        }
        let label = jiff::Timestamp::from_millisecond(iv.end_ms)
            .map(|t| t.to_zoned(self.tz.clone()).strftime("%H:%M:%S").to_string())
            .unwrap_or_default();
        // Like sar: one header for a single one-row report, a header per interval otherwise.
        let per_interval = sections.len() > 1
            || matches!(
                sections[0],
                Section::Disk | Section::Net | Section::Containers
            );
        for (i, s) in sections.iter().enumerate() {
            let rows = self.rows(*s, iv, cur);
            self.averages.add(i, &rows);
            if self.int_kinds.len() <= i {
                self.int_kinds.push(
                    rows.first()
                        .map(|r| r.1.iter().map(|c| matches!(c, Cell::Int(_))).collect())
                        .unwrap_or_default(),
                );
            }
            let header = per_interval || !self.printed_header;
            self.table(&label, *s, &rows, header);
        }
        self.printed_header = true;
        self.emit()
    }

    fn finish(&mut self) -> perfcore::Result<()> {
        if self.json || self.averages.sums.is_empty() {
            return Ok(());
        }
        let sections = self.sections.clone();
        let sums = std::mem::take(&mut self.averages.sums);
        for (i, s) in sections.iter().enumerate() {
            let mut rows: Vec<(usize, Row)> = sums
                .iter()
                .filter(|((sec, _), _)| *sec == i)
                .map(|((_, key), (sum, n, order))| {
                    let ints = self.int_kinds.get(i).cloned().unwrap_or_default();
                    let cells = sum
                        .iter()
                        .enumerate()
                        .map(|(j, v)| {
                            let avg = v / *n as f64;
                            if ints.get(j).copied().unwrap_or(false) {
                                Cell::Int(avg.round() as u64)
                            } else {
                                Cell::Num(avg)
                            }
                        })
                        .collect();
                    (*order, ((!key.is_empty()).then(|| key.clone()), cells))
                })
                .collect();
            rows.sort_by_key(|r| r.0);
            let rows: Vec<Row> = rows.into_iter().map(|r| r.1).collect();
            let per_interval = sections.len() > 1
                || matches!(s, Section::Disk | Section::Net | Section::Containers);
            self.table("Average:", *s, &rows, per_interval);
        }
        self.emit()
    }
}

fn banner(proc_root: &Path) -> String {
    let release =
        std::fs::read_to_string(proc_root.join("sys/kernel/osrelease")).unwrap_or_default();
    let host = config::hostname(proc_root).unwrap_or_else(|| "?".into());
    let cpus = std::fs::read_to_string(proc_root.join("stat"))
        .map(|s| {
            s.lines()
                .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
                .count()
        })
        .unwrap_or(0);
    let date = jiff::Zoned::now().strftime("%m/%d/%y").to_string();
    format!(
        "Linux {} ({host}) \t{date} \t_{}_\t({cpus} CPU)\n",
        release.trim(),
        std::env::consts::ARCH
    )
}

pub fn run(args: Args) -> Result<()> {
    let interval = config::parse_duration(&args.interval, "--interval")?;
    if !(config::MIN_INTERVAL..=config::MAX_INTERVAL).contains(&interval) {
        return Err(UsageError("--interval: between 100ms and 24h".into()).into());
    }
    if args.count == Some(0) {
        return Err(UsageError("--count: at least 1".into()).into());
    }
    let sections = match args.what {
        Section::All => vec![Section::Cpu, Section::Mem, Section::Disk, Section::Net],
        s => vec![s],
    };
    let mut sources = vec![Source::Stat];
    for s in &sections {
        match s {
            Section::Mem => sources.push(Source::Meminfo),
            Section::Disk => sources.push(Source::Diskstats),
            Section::Net => sources.push(Source::NetDev),
            _ => {}
        }
    }
    let config = ReaderConfig::with_proc_root(&args.proc_root).sources(&sources);
    let mut reader = perfcore::record::LiveSource::open(config)
        .with_context(|| format!("reading {}", args.proc_root.display()))?;
    if sections.contains(&Section::Containers) {
        if !args.cgroup_root.join("cgroup.controllers").is_file() {
            anyhow::bail!(
                "{} is not a cgroup v2 root (no cgroup.controllers); give --cgroup-root",
                args.cgroup_root.display()
            );
        }
        reader = reader.containers(&args.cgroup_root, "/");
    }
    let json = args.format == Format::Json;
    let mut sink = WatchSink {
        sections,
        json,
        links: Links::new(&args.proc_root),
        out: std::io::stdout().lock(),
        line: String::new(),
        tz: jiff::tz::TimeZone::system(),
        printed_header: false,
        averages: Averages::default(),
        int_kinds: Vec::new(),
        control: Control::new(),
    };
    if !json {
        sink.line.push_str(&banner(&args.proc_root));
    }
    let control = sink.control.clone();
    let clock = crate::record::install_signals(&control)?;
    let mut opts = RecordOptions::new(interval);
    if let Some(n) = args.count {
        opts = opts.max_samples(n + 1);
    }
    let mut rec = Recorder::new(reader, clock, opts).control(control);
    rec.run(&mut sink).context("watching")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifutil_like_sar() {
        // 100 Mb/s full duplex, 6.25 MB/s received: 50%.
        assert_eq!(ifutil(6_250_000.0, 1000.0, Some((100, true))), 50.0);
        // Half duplex adds both directions.
        assert_eq!(ifutil(3_125_000.0, 3_125_000.0, Some((100, false))), 50.0);
        assert_eq!(ifutil(1e9, 0.0, None), 0.0);
    }

    #[test]
    fn sar_column_layout() {
        let mut l = String::new();
        let _ = write!(l, "{:<11}", "02:50:25");
        for c in CPU_COLS {
            push_col(&mut l, c, c);
        }
        assert_eq!(
            l,
            "02:50:25        CPU     %user     %nice   %system   %iowait    %steal     %idle"
        );
        let mut l = String::new();
        let _ = write!(l, "{:<11}", "02:50:28");
        for c in DISK_COLS {
            push_col(&mut l, c, c);
        }
        assert_eq!(
            l,
            "02:50:28          DEV       tps     rkB/s     wkB/s     dkB/s   areq-sz    aqu-sz     await     %util"
        );
    }
}
