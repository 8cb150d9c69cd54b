//! Shared helpers for the PerfAnalysis benches.
//!
//! The benches compare perfcore side by side with peer crates (`procfs`,
//! `sysinfo`) in one criterion run each; this crate holds what several of them
//! need: the fixture paths, the six live sources, the read floor (bare `pread`
//! with no parsing) and the synthesis of a day-long capture.
//!
//! ```
//! let stat = perfan_benches::fixture("live/debian12-kernel6.18-2cpu/sample0/proc/stat");
//! assert!(stat.starts_with(b"cpu "));
//! ```

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use perfcore::capture::{Sources, push_sample};
use perfcore::reader::{LiveReader, ReaderConfig};
use perfcore::snapshot::{RawSample, Source};

/// The six sources of the live-sample comparison: what sar/node_exporter read
/// every tick (`/proc/stat`, `meminfo`, `diskstats`, `net/dev`, `loadavg`, `vmstat`).
pub const LIVE_SIX: [Source; 6] = [
    Source::Stat,
    Source::Meminfo,
    Source::Diskstats,
    Source::NetDev,
    Source::Loadavg,
    Source::Vmstat,
];

/// The live fixture machine (Debian 12 VM, kernel 6.18, 2 CPUs), relative to [`fixtures_root`].
pub const LIVE_MACHINE: &str = "live/debian12-kernel6.18-2cpu";

/// `shared/fixtures`, found from this crate's manifest directory.
pub fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

/// The bytes of a fixture file, `rel` being relative to [`fixtures_root`].
///
/// # Panics
/// When the file cannot be read: a bench without its input measures nothing.
pub fn fixture(rel: &str) -> Vec<u8> {
    let path = fixtures_root().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
}

/// The proc tree of live fixture sample `n` (0, 1 or 2).
pub fn live_proc_root(n: usize) -> PathBuf {
    fixtures_root().join(format!("{LIVE_MACHINE}/sample{n}/proc"))
}

/// Unix time (ms) given to live fixture sample 0 when it is used as a capture tick.
pub const FIXTURE_EPOCH_MS: i64 = 1_767_225_600_000;

/// Live fixture sample `n` as a [`RawSample`] of every procfs source it has, read
/// through [`LiveReader`], with clocks taken from its `uptime` so that the
/// interval between two samples has the length it had on the machine.
///
/// # Panics
/// When the fixture tree is missing or malformed.
pub fn live_fixture_sample(n: usize) -> RawSample {
    let root = live_proc_root(n);
    let sources: Vec<Source> = Source::ALL
        .into_iter()
        .filter(|s| *s != Source::Statfs)
        .collect();
    let mut reader = LiveReader::open(ReaderConfig::with_proc_root(&root).sources(&sources))
        .unwrap_or_else(|e| panic!("opening {}: {e}", root.display()));
    let mut sample = RawSample::default();
    reader
        .read(&mut sample)
        .unwrap_or_else(|e| panic!("reading {}: {e}", root.display()));
    let uptime = std::fs::read_to_string(root.join("uptime"))
        .unwrap_or_else(|e| panic!("reading uptime of sample {n}: {e}"));
    let uptime_s: f64 = uptime
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad uptime in sample {n}: {uptime:?}"));
    let uptime_ms = (uptime_s * 1000.0).round() as i64;
    sample.monotonic_ns = Some(uptime_ms as u64 * 1_000_000);
    let up0_ms = 1_347_150; // sample 0's uptime: 1347.15 s
    sample.timestamp_ms = FIXTURE_EPOCH_MS + (uptime_ms - up0_ms);
    sample
}

/// The floor of a live sample: the same files, kept open, read with bare
/// `pread` into preallocated buffers, and not parsed.
///
/// procfs files have no size (`stat` says 0) and a `seq_file` read returns at
/// most about a page per call, so a complete read ends only at a read that
/// returns 0 bytes: [`ReadFloor::read_to_eof`] is the floor of any correct
/// reader. [`ReadFloor::read_once`] (one `pread` per file) is shown beside it
/// as an absolute lower bound; it is complete only for files that fit one read.
#[derive(Debug)]
pub struct ReadFloor {
    files: Vec<File>,
    bufs: Vec<Vec<u8>>,
}

impl ReadFloor {
    /// Opens `sources` under `proc_root` (absent files are skipped) with a 64 KiB buffer each.
    ///
    /// # Errors
    /// When a file exists but cannot be opened.
    pub fn open(proc_root: &Path, sources: &[Source]) -> io::Result<Self> {
        let mut files = Vec::new();
        for rel in sources.iter().filter_map(|s| s.proc_path()) {
            match File::open(proc_root.join(rel)) {
                Ok(f) => files.push(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let bufs = files.iter().map(|_| vec![0u8; 64 * 1024]).collect();
        Ok(ReadFloor { files, bufs })
    }

    /// Number of files open.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file is open.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Reads every file from offset 0 until a read returns 0 bytes; returns the bytes read.
    ///
    /// # Errors
    /// A failed read.
    pub fn read_to_eof(&mut self) -> io::Result<usize> {
        let mut total = 0;
        for (f, buf) in self.files.iter().zip(self.bufs.iter_mut()) {
            let mut filled = 0;
            loop {
                if filled == buf.len() {
                    buf.resize(buf.len() * 2, 0);
                }
                let n = f.read_at(&mut buf[filled..], filled as u64)?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            total += filled;
        }
        Ok(total)
    }

    /// One `pread` per file at offset 0; returns the bytes read.
    ///
    /// # Errors
    /// A failed read.
    pub fn read_once(&mut self) -> io::Result<usize> {
        let mut total = 0;
        for (f, buf) in self.files.iter().zip(self.bufs.iter_mut()) {
            total += f.read_at(buf, 0)?;
        }
        Ok(total)
    }
}

/// How one number of a kernel file moves from tick to tick in a synthetic capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    /// A gauge or an identity (btime, major:minor, in-flight I/O): kept as in sample 0.
    Fixed,
    /// A counter: grows every tick by its sample0→sample1 delta, at least `min`.
    Counter { min: u64 },
}

#[derive(Debug, Clone)]
enum Seg {
    Text(Vec<u8>),
    Number { base: u64, step: u64 },
}

/// A kernel file whose numbers can be advanced tick by tick.
#[derive(Debug, Clone)]
struct Template {
    segs: Vec<Seg>,
}

/// The numeric tokens of a line: `(start, end)` of each run of digits that stands
/// alone (after start of line, a space, `:` or `=`; before a space or end of line).
fn numbers(line: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if line[i].is_ascii_digit() && (i == 0 || matches!(line[i - 1], b' ' | b'\t' | b':' | b'='))
        {
            let start = i;
            while i < line.len() && line[i].is_ascii_digit() {
                i += 1;
            }
            if i == line.len() || matches!(line[i], b' ' | b'\t' | b'\n') {
                out.push((start, i));
            }
        } else {
            i += 1;
        }
    }
    out
}

fn to_u64(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |v, &c| {
        v.wrapping_mul(10).wrapping_add(u64::from(c - b'0'))
    })
}

impl Template {
    /// Builds a template from two samples of one file; `rule(first word, number index)`.
    fn new(t0: &[u8], t1: &[u8], rule: impl Fn(&[u8], usize) -> Move) -> Template {
        let mut segs = Vec::new();
        let lines1: Vec<&[u8]> = t1.split(|&c| c == b'\n').collect();
        let mut text = Vec::new();
        for (li, line) in t0.split_inclusive(|&c| c == b'\n').enumerate() {
            let key = line
                .split(|c| c.is_ascii_whitespace())
                .find(|w| !w.is_empty())
                .unwrap_or(b"");
            let nums1 = lines1.get(li).map(|l| (*l, numbers(l)));
            let mut at = 0;
            for (ni, (s, e)) in numbers(line).into_iter().enumerate() {
                let base = to_u64(&line[s..e]);
                let step = match rule(key, ni) {
                    Move::Fixed => continue,
                    Move::Counter { min } => {
                        let later = nums1
                            .as_ref()
                            .and_then(|(l, n)| n.get(ni).map(|&(a, b)| to_u64(&l[a..b])));
                        later.map_or(0, |v| v.saturating_sub(base)).max(min)
                    }
                };
                text.extend_from_slice(&line[at..s]);
                segs.push(Seg::Text(std::mem::take(&mut text)));
                segs.push(Seg::Number { base, step });
                at = e;
            }
            text.extend_from_slice(&line[at..]);
        }
        segs.push(Seg::Text(text));
        Template { segs }
    }

    fn render(&self, tick: u64, out: &mut Vec<u8>) {
        out.clear();
        let mut b = itoa_buf::Buf::default();
        for s in &self.segs {
            match s {
                Seg::Text(t) => out.extend_from_slice(t),
                Seg::Number { base, step } => {
                    out.extend_from_slice(b.format(base.wrapping_add(step.wrapping_mul(tick))))
                }
            }
        }
    }
}

/// A tiny integer formatter (the benches avoid a dependency for it).
mod itoa_buf {
    #[derive(Default)]
    pub(crate) struct Buf([u8; 20]);

    impl Buf {
        pub(crate) fn format(&mut self, mut v: u64) -> &[u8] {
            let mut i = self.0.len();
            loop {
                i -= 1;
                self.0[i] = b'0' + (v % 10) as u8;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            &self.0[i..]
        }
    }
}

fn rule_for(source: Source) -> fn(&[u8], usize) -> Move {
    match source {
        Source::Stat => |key, i| match key {
            b"btime" | b"procs_running" | b"procs_blocked" => Move::Fixed,
            // Per-IRQ and per-vector counters: as they moved (mostly not at all).
            b"intr" | b"softirq" if i > 0 => Move::Counter { min: 0 },
            _ => Move::Counter { min: 1 },
        },
        // major, minor and the in-flight I/O count (the 9th counter) are not counters.
        Source::Diskstats => |_, i| match i {
            0 | 1 | 10 => Move::Fixed,
            _ => Move::Counter { min: 1 },
        },
        Source::NetDev
        | Source::Vmstat
        | Source::PressureCpu
        | Source::PressureIo
        | Source::PressureMemory => |_, _| Move::Counter { min: 1 },
        _ => |_, _| Move::Fixed,
    }
}

/// A day (or any length) of capture made from the live fixture samples 0 and 1:
/// every counter grows each tick by what it grew between the two samples (at
/// least 1, so every interval has non-zero deltas), gauges stay as in sample 0,
/// and a `statfs[*]` record of one mount is added.
#[derive(Debug, Clone)]
pub struct CaptureSynth {
    templates: Vec<(Source, Template)>,
}

impl Default for CaptureSynth {
    fn default() -> Self {
        Self::new()
    }
}

impl CaptureSynth {
    /// Sources written each tick (the capture order of [`Source::ALL`]).
    pub const SOURCES: [Source; 9] = [
        Source::Stat,
        Source::Meminfo,
        Source::NetDev,
        Source::Diskstats,
        Source::Loadavg,
        Source::Vmstat,
        Source::PressureCpu,
        Source::PressureIo,
        Source::PressureMemory,
    ];

    /// Builds the templates from live fixture samples 0 and 1.
    ///
    /// # Panics
    /// When the fixtures are missing.
    pub fn new() -> Self {
        let s0 = live_fixture_sample(0);
        let s1 = live_fixture_sample(1);
        let templates = Self::SOURCES
            .into_iter()
            .filter_map(|src| {
                let t0 = s0.get(src)?;
                let t1 = s1.get(src).unwrap_or(t0);
                Some((src, Template::new(t0, t1, rule_for(src))))
            })
            .collect();
        CaptureSynth { templates }
    }

    /// Fills `sample` with tick `tick`, taken `tick × step_s` seconds after the fixture epoch.
    pub fn sample(&self, tick: u64, step_s: u64, sample: &mut RawSample) {
        sample.clear();
        sample.timestamp_ms = FIXTURE_EPOCH_MS + (tick * step_s * 1000) as i64;
        for (src, t) in &self.templates {
            t.render(tick, sample.buf_mut(*src));
        }
        let free = 6_000_000u64.saturating_sub(tick % 100_000);
        let statfs = format!(
            "{{\"mount_point\":\"/\",\"block_size\":4096,\"blocks_total\":13107200,\"blocks_free\":{free},\"blocks_available\":{}}}\n",
            free.saturating_sub(650_000)
        );
        sample.set(Source::Statfs, statfs.as_bytes());
    }

    /// The capture text (NDJSON, as the older collector wrote it) of `ticks` ticks
    /// `step_s` seconds apart, written with [`push_sample`].
    pub fn capture(&self, ticks: u64, step_s: u64) -> String {
        let mut out = String::with_capacity(ticks as usize * 10 * 1024);
        let mut sample = RawSample::default();
        for tick in 0..ticks {
            self.sample(tick, step_s, &mut sample);
            push_sample(&mut out, &sample, Sources::All);
        }
        out
    }
}

/// Ticks in 24 hours at 5 s: the `perfan process` throughput case.
pub const DAY_TICKS_5S: u64 = 24 * 3600 / 5;

#[cfg(test)]
mod tests {
    use super::*;
    use perfcore::process::{Collect, run};

    #[test]
    fn number_tokens_stand_alone() {
        let l = b"  eth0:68210035552 5 0 cpu0 avg10=1.97 total=12 2/98 7";
        let got: Vec<&[u8]> = numbers(l).into_iter().map(|(s, e)| &l[s..e]).collect();
        assert_eq!(got, vec![&b"68210035552"[..], b"5", b"0", b"12", b"7"]);
    }

    #[test]
    fn synthetic_capture_has_moving_counters_and_parses() {
        let synth = CaptureSynth::new();
        let text = synth.capture(20, 5);
        let mut sink = Collect::default();
        let stats = run(
            perfcore::capture::SampleReader::new(text.as_bytes()),
            &mut sink,
        )
        .expect("synthetic capture processes");
        assert_eq!(stats.samples, 20);
        assert_eq!(stats.intervals, 19);
        assert_eq!(stats.resets, 0);
        assert!(sink.gaps.is_empty());
        use perfcore::metrics::Metric as M;
        for row in &sink.rows {
            assert_eq!(row.elapsed_s, 5.0);
            for m in [
                M::CpuUserPct,
                M::DiskReadBytesPerS,
                M::DiskWriteBytesPerS,
                M::NetRxBytesPerS,
                M::NetTxBytesPerS,
            ] {
                let v = row.get(m).unwrap_or(0.0);
                assert!(v > 0.0, "{m:?} = {v}");
            }
        }
    }

    #[test]
    fn floor_reads_whole_files() {
        let root = live_proc_root(0);
        let mut f = ReadFloor::open(&root, &LIVE_SIX).expect("open fixture files");
        assert_eq!(f.len(), 6);
        let want: usize = LIVE_SIX
            .iter()
            .filter_map(|s| s.proc_path())
            .map(|p| fixture(&format!("{LIVE_MACHINE}/sample0/proc/{p}")).len())
            .sum();
        assert_eq!(f.read_to_eof().expect("read"), want);
        assert_eq!(f.read_once().expect("read"), want);
    }
}
