//! One full live sample of six sources (`/proc/stat`, `meminfo`, `diskstats`,
//! `net/dev`, `loadavg`, `vmstat`) read and parsed, beside the floor (bare
//! `pread`, no parse), the `procfs` crate and `sysinfo`, in one run.
//!
//! ```text
//! cargo bench -p perfan-benches --bench live
//! ```
//!
//! Before criterion's groups, a paired loop times the floor, perfcore and
//! procfs in turn, round after round, and prints the median of each and their
//! ratios (`paired:` lines): on a shared, bursty machine this ratio is steadier
//! than one taken between criterion benchmarks measured seconds apart.
//!
//! sysinfo refuses to refresh CPU usage twice within 200 ms
//! (`MINIMUM_CPU_UPDATE_INTERVAL`), so its refreshes are spaced 210 ms apart
//! with `iter_custom`, the sleeps left out of the time. Spacing also leaves the
//! caches cold, so perfcore is measured the same way beside it.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use perfan_benches::{LIVE_SIX, ReadFloor};
use perfcore::reader::{LiveReader, ReaderConfig};
use perfcore::snapshot::{RawSample, SnapshotBuffers};
use procfs::prelude::*;

/// More than sysinfo's `MINIMUM_CPU_UPDATE_INTERVAL` (200 ms).
const SPACING: Duration = Duration::from_millis(210);

fn procfs_six() -> procfs::ProcResult<usize> {
    let stat = procfs::KernelStats::current()?;
    let mem = procfs::Meminfo::current()?;
    let disks = procfs::diskstats()?;
    let nets = procfs::net::dev_status()?;
    let load = procfs::LoadAverage::current()?;
    let vm = procfs::vmstat()?;
    black_box((&stat, &mem, &disks, &nets, &load, &vm));
    Ok(stat.cpu_time.len() + disks.len() + nets.len() + vm.len())
}

/// What sysinfo refreshes for the same data.
struct Sysinfo {
    sys: sysinfo::System,
    disks: sysinfo::Disks,
    nets: sysinfo::Networks,
}

impl Sysinfo {
    fn new() -> Self {
        let mut s = Sysinfo {
            sys: sysinfo::System::new().expect("sysinfo System"),
            disks: sysinfo::Disks::new_with_refreshed_list().expect("sysinfo Disks"),
            nets: sysinfo::Networks::new_with_refreshed_list().expect("sysinfo Networks"),
        };
        s.sys.refresh_cpu_all();
        s.sys.refresh_memory();
        std::thread::sleep(SPACING);
        s
    }

    /// The calls named in the bench plan: `refresh_cpu_all` (usage and
    /// frequency), `refresh_memory`, `Disks::refresh`, `Networks::refresh`, plus
    /// `load_average` (sysinfo reads loadavg on demand; it has no vmstat).
    fn refresh_all(&mut self) {
        self.sys.refresh_cpu_all();
        self.sys.refresh_memory();
        self.disks.refresh(false);
        self.nets.refresh(false);
        black_box(sysinfo::System::load_average().ok());
        black_box((self.sys.global_cpu_usage(), self.sys.used_memory()));
    }

    /// The narrowest sysinfo equivalent of the six files: CPU usage only (no
    /// frequency), RAM and swap, disk I/O counters only (no statvfs, no kind).
    fn refresh_narrow(&mut self) {
        use sysinfo::{CpuRefreshKind, DiskRefreshKind, MemoryRefreshKind};
        self.sys
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        self.sys
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram().with_swap());
        self.disks
            .refresh_specifics(false, DiskRefreshKind::nothing().with_io_usage());
        self.nets.refresh(false);
        black_box(sysinfo::System::load_average().ok());
        black_box((self.sys.global_cpu_usage(), self.sys.used_memory()));
    }
}

/// Times `f` once per iteration, each after an untimed sleep of [`SPACING`].
fn spaced(iters: u64, mut f: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        std::thread::sleep(SPACING);
        let t = Instant::now();
        f();
        total += t.elapsed();
    }
    total
}

/// Median of `v` (sorted in place), in nanoseconds.
fn median_ns(v: &mut [Duration]) -> f64 {
    v.sort_unstable();
    v.get(v.len() / 2).map_or(f64::NAN, |d| d.as_nanos() as f64)
}

/// Times each contender once per round, in an order that rotates every round,
/// so that all of them see the same machine; prints medians and ratios.
fn paired(
    rounds: usize,
    reader: &mut LiveReader,
    sample: &mut RawSample,
    bufs: &mut SnapshotBuffers,
    floor: &mut ReadFloor,
) {
    const N: usize = 5;
    let mut times: [Vec<Duration>; N] = Default::default();
    for round in 0..rounds {
        for k in 0..N {
            let which = (round + k) % N;
            let t = Instant::now();
            match which {
                0 => {
                    black_box(floor.read_to_eof().expect("read"));
                }
                1 => {
                    black_box(floor.read_once().expect("read"));
                }
                2 => {
                    // As the recorder does: the snapshot's lists are built on
                    // the allocations of the one before.
                    reader.read(sample).expect("read");
                    let snap = sample.parse_with(bufs).expect("parse");
                    black_box(snap.stat.as_ref().map(|s| s.cpus.len()));
                    bufs.recycle(snap);
                }
                3 => {
                    // The read alone: what the parse adds is the difference.
                    reader.read(sample).expect("read");
                    black_box(sample.is_empty());
                }
                _ => {
                    black_box(procfs_six().expect("procfs"));
                }
            }
            times[which].push(t.elapsed());
        }
    }
    let [eof, once, ours, read, procfs] = times.each_mut().map(|v| median_ns(v));
    println!(
        "paired: rounds={rounds} floor_eof_ns={eof:.0} floor_once_ns={once:.0} perfcore_ns={ours:.0} perfcore_read_only_ns={read:.0} procfs_ns={procfs:.0}"
    );
    println!(
        "paired: perfcore/floor_eof={:.3} perfcore/floor_once={:.3} read_only/floor_eof={:.3} procfs/perfcore={:.2}",
        ours / eof,
        ours / once,
        read / eof,
        procfs / ours
    );
}

fn bench_live(c: &mut Criterion) {
    let proc_root = Path::new("/proc");
    let mut reader = LiveReader::open(ReaderConfig::with_proc_root(proc_root).sources(&LIVE_SIX))
        .expect("open /proc");
    assert_eq!(reader.sources().len(), 6, "all six files exist");
    let mut sample = RawSample::default();
    let mut bufs = SnapshotBuffers::default();
    let mut floor = ReadFloor::open(proc_root, &LIVE_SIX).expect("open /proc");
    assert_eq!(floor.len(), 6);
    procfs_six().expect("procfs reads the six files");
    let mut si = Sysinfo::new();
    let rounds = std::env::var("PERFAN_BENCH_PAIRED_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    paired(rounds, &mut reader, &mut sample, &mut bufs, &mut floor);

    let mut g = c.benchmark_group("live_sample");
    g.bench_function("perfcore read+parse", |b| {
        b.iter(|| {
            reader.read(&mut sample).expect("read");
            let snap = sample.parse_with(&mut bufs).expect("parse");
            black_box(snap.stat.as_ref().map(|s| s.cpus.len()));
            bufs.recycle(snap);
        })
    });
    g.bench_function("perfcore read only", |b| {
        b.iter(|| {
            reader.read(&mut sample).expect("read");
            black_box(&sample);
        })
    });
    g.bench_function("floor pread to EOF", |b| {
        b.iter(|| black_box(floor.read_to_eof().expect("read")))
    });
    g.bench_function("floor one pread per file", |b| {
        b.iter(|| black_box(floor.read_once().expect("read")))
    });
    g.bench_function("procfs current()", |b| {
        b.iter(|| black_box(procfs_six().expect("procfs")))
    });

    // Spaced 210 ms apart for sysinfo; perfcore measured the same way beside it.
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    g.bench_function("spaced/perfcore read+parse", |b| {
        b.iter_custom(|iters| {
            spaced(iters, || {
                reader.read(&mut sample).expect("read");
                let snap = sample.parse_with(&mut bufs).expect("parse");
                black_box(snap.stat.as_ref().map(|s| s.cpus.len()));
                bufs.recycle(snap);
            })
        })
    });
    g.bench_function("spaced/sysinfo narrow", |b| {
        b.iter_custom(|iters| spaced(iters, || si.refresh_narrow()))
    });
    g.bench_function("spaced/sysinfo refresh_cpu_all etc", |b| {
        b.iter_custom(|iters| spaced(iters, || si.refresh_all()))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args()
}

criterion_group! {
    name = live;
    config = config();
    targets = bench_live
}
criterion_main!(live);
