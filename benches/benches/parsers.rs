//! Every perfcore parser beside the `procfs` crate's parser of the same file, on
//! the same bytes, in one run.
//!
//! ```text
//! cargo bench -p perfan-benches --bench parsers
//! ```
//!
//! Both sides get the bytes from memory: ours through `parse(&[u8])`, procfs
//! through its `FromBufRead`/`FromRead` impls on a `&[u8]` (a `&[u8]` is already
//! a `BufRead`, so procfs pays no extra buffer). Before measuring, each pair is
//! checked to parse the input and agree on a value, so no side is timed on an
//! error path.
//!
//! Before criterion's groups, a paired loop times both sides of each input in
//! turn (a batch of calls of one, then of the other, order rotating every
//! round) and prints the median time per call of each and their ratio
//! (`paired:` lines): on a shared, bursty machine that ratio is steadier than
//! one between two criterion benchmarks measured seconds apart.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use perfan_benches::{LIVE_MACHINE, fixture};
use perfcore::parse::{cpuinfo, diskstats, loadavg, meminfo, net_dev, pressure, stat, vmstat};
use procfs::prelude::*;

const SI: procfs::ExplicitSystemInfo = procfs::ExplicitSystemInfo {
    boot_time_secs: 1_795_310_377,
    ticks_per_second: 100,
    page_size: 4096,
    is_little_endian: true,
};

fn live(rel: &str) -> Vec<u8> {
    fixture(&format!("{LIVE_MACHINE}/sample0/proc/{rel}"))
}

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn group<'a>(c: &'a mut Criterion, name: &str, input: &[u8]) -> Group<'a> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(input.len() as u64));
    g
}

fn bench_stat(c: &mut Criterion) {
    for (name, input) in [
        ("stat/live-2cpu", live("stat")),
        (
            "stat/huge-intr-129KiB",
            fixture("corpus/procfs/stat-huge-intr/proc/stat"),
        ),
    ] {
        let ours = stat::parse(&input).expect("ours parses");
        let theirs = procfs::KernelStats::from_buf_read(&input[..], &SI).expect("procfs parses");
        assert_eq!(ours.ctxt, Some(theirs.ctxt));
        assert_eq!(ours.cpus.len(), theirs.cpu_time.len());
        let mut g = group(c, name, &input);
        g.bench_function("perfcore", |b| {
            b.iter(|| stat::parse(black_box(&input)).map(|s| black_box(s.cpus.len())))
        });
        let mut kept = stat::Stat::default();
        g.bench_function("perfcore parse_into", |b| {
            b.iter(|| {
                stat::parse_into(black_box(&input), &mut kept).map(|()| black_box(kept.cpus.len()))
            })
        });
        g.bench_function("procfs", |b| {
            b.iter(|| {
                procfs::KernelStats::from_buf_read(black_box(&input[..]), &SI)
                    .map(|s| black_box(s.cpu_time.len()))
            })
        });
        g.finish();
    }
}

fn bench_meminfo(c: &mut Criterion) {
    let input = live("meminfo");
    let ours = meminfo::parse(&input).expect("ours parses");
    let theirs = procfs::Meminfo::from_buf_read(&input[..]).expect("procfs parses");
    assert_eq!(
        ours.mem_total_kib().map(|k| k * 1024),
        Some(theirs.mem_total)
    );
    let mut g = group(c, "meminfo/live", &input);
    g.bench_function("perfcore", |b| {
        b.iter(|| meminfo::parse(black_box(&input)).map(|m| black_box(m.mem_free_kib())))
    });
    g.bench_function("procfs", |b| {
        b.iter(|| {
            procfs::Meminfo::from_buf_read(black_box(&input[..])).map(|m| black_box(m.mem_free))
        })
    });
    g.finish();
}

fn bench_diskstats(c: &mut Criterion) {
    for (name, input) in [
        ("diskstats/live-10-lines", live("diskstats")),
        (
            "diskstats/corpus-52-lines",
            fixture("corpus/procfs/diskstats-14-18-20-fields/proc/diskstats"),
        ),
    ] {
        let ours = diskstats::parse(&input).expect("ours parses");
        let theirs = procfs::DiskStats::from_buf_read(&input[..]).expect("procfs parses");
        assert_eq!(ours.len(), theirs.0.len());
        let mut g = group(c, name, &input);
        g.bench_function("perfcore", |b| {
            b.iter(|| diskstats::parse(black_box(&input)).map(|d| black_box(d.len())))
        });
        // What a reader that re-parses every tick uses: the Vec is kept.
        let mut out = Vec::new();
        g.bench_function("perfcore parse_into", |b| {
            b.iter(|| {
                diskstats::parse_into(black_box(&input), &mut out).map(|()| black_box(out.len()))
            })
        });
        g.bench_function("procfs", |b| {
            b.iter(|| {
                procfs::DiskStats::from_buf_read(black_box(&input[..]))
                    .map(|d| black_box(d.0.len()))
            })
        });
        g.finish();
    }
}

/// procfs splits `/proc/net/dev` lines on whitespace, so it cannot read an
/// interface whose counter touches the colon (`eth0:68210035552`, which the
/// kernel prints for big counters): it fails on that line. Both sides get a copy
/// with a space after that colon, so both do the full work; ours reads the
/// original too (checked below).
fn procfs_readable_net_dev(original: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(original).replace("eth0:68210035552", "eth0: 68210035552");
    text.into_bytes()
}

fn bench_net_dev(c: &mut Criterion) {
    let quirky = fixture("corpus/node_exporter/net-dev-quirky-names-2021/proc/net/dev");
    assert!(procfs::net::InterfaceDeviceStatus::from_buf_read(&quirky[..]).is_err());
    assert_eq!(
        net_dev::parse(&quirky)
            .expect("ours parses the original")
            .len(),
        10
    );
    for (name, input) in [
        ("net_dev/live-4-ifaces", live("net/dev")),
        ("net_dev/corpus-10-ifaces", procfs_readable_net_dev(&quirky)),
    ] {
        let ours = net_dev::parse(&input).expect("ours parses");
        let theirs =
            procfs::net::InterfaceDeviceStatus::from_buf_read(&input[..]).expect("procfs parses");
        assert_eq!(ours.len(), theirs.0.len());
        let mut g = group(c, name, &input);
        g.bench_function("perfcore", |b| {
            b.iter(|| net_dev::parse(black_box(&input)).map(|d| black_box(d.len())))
        });
        let mut out = Vec::new();
        g.bench_function("perfcore parse_into", |b| {
            b.iter(|| {
                net_dev::parse_into(black_box(&input), &mut out).map(|()| black_box(out.len()))
            })
        });
        g.bench_function("procfs", |b| {
            b.iter(|| {
                procfs::net::InterfaceDeviceStatus::from_buf_read(black_box(&input[..]))
                    .map(|d| black_box(d.0.len()))
            })
        });
        g.finish();
    }
}

fn bench_loadavg(c: &mut Criterion) {
    let input = live("loadavg");
    let ours = loadavg::parse(&input).expect("ours parses");
    let theirs = procfs::LoadAverage::from_read(&input[..]).expect("procfs parses");
    assert_eq!(ours.last_pid, Some(u64::from(theirs.latest_pid)));
    let mut g = group(c, "loadavg/live", &input);
    g.bench_function("perfcore", |b| {
        b.iter(|| loadavg::parse(black_box(&input)).map(|l| black_box(l.load1)))
    });
    g.bench_function("procfs", |b| {
        b.iter(|| procfs::LoadAverage::from_read(black_box(&input[..])).map(|l| black_box(l.one)))
    });
    g.finish();
}

fn bench_vmstat(c: &mut Criterion) {
    let input = live("vmstat");
    let ours = vmstat::parse(&input).expect("ours parses");
    let theirs = procfs::VmStat::from_buf_read(&input[..]).expect("procfs parses");
    assert_eq!(ours.entries().len(), theirs.0.len());
    let mut g = group(c, "vmstat/live", &input);
    g.bench_function("perfcore", |b| {
        b.iter(|| vmstat::parse(black_box(&input)).map(|v| black_box(v.pgfault())))
    });
    g.bench_function("procfs", |b| {
        b.iter(|| {
            procfs::VmStat::from_buf_read(black_box(&input[..])).map(|v| black_box(v.0.len()))
        })
    });
    g.finish();
}

fn bench_pressure(c: &mut Criterion) {
    let (cpu, io, mem) = (
        live("pressure/cpu"),
        live("pressure/io"),
        live("pressure/memory"),
    );
    let total = cpu.len() + io.len() + mem.len();
    let ours = pressure::parse(&io, pressure::Resource::Io).expect("ours parses");
    let theirs = procfs::IoPressure::from_buf_read(&io[..]).expect("procfs parses");
    assert_eq!(ours.some.map(|s| s.total_us), Some(theirs.some.total));
    let mut g = c.benchmark_group("pressure/live-cpu+io+memory");
    g.throughput(criterion::Throughput::Bytes(total as u64));
    g.bench_function("perfcore", |b| {
        b.iter(|| {
            use pressure::Resource as R;
            let a = pressure::parse(black_box(&cpu), R::Cpu);
            let b = pressure::parse(black_box(&io), R::Io);
            let m = pressure::parse(black_box(&mem), R::Memory);
            black_box((a, b, m))
        })
    });
    g.bench_function("procfs", |b| {
        b.iter(|| {
            let a = procfs::CpuPressure::from_buf_read(black_box(&cpu[..]));
            let b = procfs::IoPressure::from_buf_read(black_box(&io[..]));
            let m = procfs::MemoryPressure::from_buf_read(black_box(&mem[..]));
            black_box((a, b, m))
        })
    });
    g.finish();
}

fn bench_cpuinfo(c: &mut Criterion) {
    for (name, input) in [
        ("cpuinfo/live-2cpu", live("cpuinfo")),
        (
            "cpuinfo/x86-8cpu",
            fixture("corpus/procfs/cpuinfo-x86/proc/cpuinfo"),
        ),
    ] {
        let ours = cpuinfo::parse(&input).expect("ours parses");
        let theirs = procfs::CpuInfo::from_buf_read(&input[..]).expect("procfs parses");
        assert_eq!(ours.len(), theirs.num_cores());
        let mut g = group(c, name, &input);
        g.bench_function("perfcore", |b| {
            b.iter(|| cpuinfo::parse(black_box(&input)).map(|i| black_box(i.len())))
        });
        g.bench_function("procfs", |b| {
            b.iter(|| {
                procfs::CpuInfo::from_buf_read(black_box(&input[..]))
                    .map(|i| black_box(i.num_cores()))
            })
        });
        g.finish();
    }
}

/// One input: its name and both parsers as closures over it.
type Pair = (String, Box<dyn FnMut()>, Box<dyn FnMut()>);

fn pairs() -> Vec<Pair> {
    fn pair(name: &str, ours: impl FnMut() + 'static, theirs: impl FnMut() + 'static) -> Pair {
        (name.to_owned(), Box::new(ours), Box::new(theirs))
    }
    let stat_live = live("stat");
    let stat_huge = fixture("corpus/procfs/stat-huge-intr/proc/stat");
    let mem = live("meminfo");
    let disk_live = live("diskstats");
    let disk_52 = fixture("corpus/procfs/diskstats-14-18-20-fields/proc/diskstats");
    let net_live = live("net/dev");
    let net_10 = procfs_readable_net_dev(&fixture(
        "corpus/node_exporter/net-dev-quirky-names-2021/proc/net/dev",
    ));
    let load = live("loadavg");
    let vm = live("vmstat");
    let (pc, pi, pm) = (
        live("pressure/cpu"),
        live("pressure/io"),
        live("pressure/memory"),
    );
    let cpu_live = live("cpuinfo");
    let cpu_x86 = fixture("corpus/procfs/cpuinfo-x86/proc/cpuinfo");
    macro_rules! both {
        ($name:expr, $input:expr, |$b:ident| $ours:expr, |$t:ident| $theirs:expr) => {{
            let (x, y) = ($input.clone(), $input.clone());
            pair(
                $name,
                move || {
                    let $b = black_box(&x[..]);
                    black_box($ours.is_ok());
                },
                move || {
                    let $t = black_box(&y[..]);
                    black_box($theirs.is_ok());
                },
            )
        }};
    }
    use pressure::Resource as R;
    vec![
        both!("stat/live-2cpu", stat_live, |b| stat::parse(b), |t| {
            procfs::KernelStats::from_buf_read(t, &SI)
        }),
        both!(
            "stat/huge-intr-129KiB",
            stat_huge,
            |b| stat::parse(b),
            |t| { procfs::KernelStats::from_buf_read(t, &SI) }
        ),
        {
            // The Stat kept between calls borrows its input: leaked, as a reader's
            // buffer outlives its parses.
            let x: &'static [u8] = Box::leak(stat_live.clone().into_boxed_slice());
            let y = stat_live.clone();
            let mut kept = stat::Stat::default();
            pair(
                "stat/live-2cpu (parse_into, Vec kept)",
                move || {
                    black_box(stat::parse_into(black_box(x), &mut kept).is_ok());
                },
                move || {
                    black_box(procfs::KernelStats::from_buf_read(black_box(&y[..]), &SI).is_ok());
                },
            )
        },
        both!("meminfo/live", mem, |b| meminfo::parse(b), |t| {
            procfs::Meminfo::from_buf_read(t)
        }),
        both!(
            "diskstats/live-10-lines",
            disk_live,
            |b| diskstats::parse(b),
            |t| { procfs::DiskStats::from_buf_read(t) }
        ),
        both!(
            "diskstats/corpus-52-lines",
            disk_52,
            |b| diskstats::parse(b),
            |t| { procfs::DiskStats::from_buf_read(t) }
        ),
        both!(
            "net_dev/live-4-ifaces",
            net_live,
            |b| net_dev::parse(b),
            |t| { procfs::net::InterfaceDeviceStatus::from_buf_read(t) }
        ),
        both!(
            "net_dev/corpus-10-ifaces",
            net_10,
            |b| net_dev::parse(b),
            |t| { procfs::net::InterfaceDeviceStatus::from_buf_read(t) }
        ),
        both!("loadavg/live", load, |b| loadavg::parse(b), |t| {
            procfs::LoadAverage::from_read(t)
        }),
        both!("vmstat/live", vm, |b| vmstat::parse(b), |t| {
            procfs::VmStat::from_buf_read(t)
        }),
        pair(
            "pressure/live-cpu+io+memory",
            {
                let (c, i, m) = (pc.clone(), pi.clone(), pm.clone());
                move || {
                    black_box(pressure::parse(black_box(&c), R::Cpu).is_ok());
                    black_box(pressure::parse(black_box(&i), R::Io).is_ok());
                    black_box(pressure::parse(black_box(&m), R::Memory).is_ok());
                }
            },
            move || {
                black_box(procfs::CpuPressure::from_buf_read(black_box(&pc[..])).is_ok());
                black_box(procfs::IoPressure::from_buf_read(black_box(&pi[..])).is_ok());
                black_box(procfs::MemoryPressure::from_buf_read(black_box(&pm[..])).is_ok());
            },
        ),
        both!("cpuinfo/live-2cpu", cpu_live, |b| cpuinfo::parse(b), |t| {
            procfs::CpuInfo::from_buf_read(t)
        }),
        both!("cpuinfo/x86-8cpu", cpu_x86, |b| cpuinfo::parse(b), |t| {
            procfs::CpuInfo::from_buf_read(t)
        }),
    ]
}

/// Median time per call of `f` over `rounds` batches of `batch` calls, the two
/// sides alternating batch by batch.
fn paired_parsers() {
    let rounds: usize = std::env::var("PERFAN_BENCH_PAIRED_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    for (name, mut ours, mut theirs) in pairs() {
        // Batches of about 200 µs of the slower side.
        let t = Instant::now();
        theirs();
        let one = t.elapsed().as_nanos().max(1) as usize;
        let batch = (200_000 / one).clamp(1, 20_000);
        let mut times = [Vec::with_capacity(rounds), Vec::with_capacity(rounds)];
        for round in 0..rounds {
            for k in 0..2 {
                let side = (round + k) % 2;
                let t = Instant::now();
                for _ in 0..batch {
                    if side == 0 {
                        ours();
                    } else {
                        theirs();
                    }
                }
                times[side].push(t.elapsed().as_nanos() as f64 / batch as f64);
            }
        }
        let [o, p] = times.map(|mut v| {
            v.sort_unstable_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        });
        println!(
            "paired: {name} perfcore_ns={o:.1} procfs_ns={p:.1} ratio={:.2}",
            p / o
        );
    }
}

fn bench_paired(_c: &mut Criterion) {
    paired_parsers();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

/// The `statfs[*]` record of a capture (statvfs of every real mount, NDJSON):
/// ours into typed fields, beside one `serde_json::Value` per line (procfs has
/// no reader for it; sysinfo only reads it live).
fn bench_statfs(c: &mut Criterion) {
    let capture = fixture("upstream/azure-b1s-ubuntu/pcc_collection.json");
    let rec = capture
        .split(|b| *b == b'\n')
        .filter_map(|l| perfcore::capture::parse_record(l, 1).ok())
        .find(|r| r.subsystem == "statfs[*]")
        .expect("a statfs record");
    let m = rec.measurement.as_bytes().to_vec();
    let ours = perfcore::parse::statfs::parse(&m).expect("ours parses");
    let n = ours.len();
    assert!(n > 0);
    let mut g = group(c, "statfs/capture-record", &m);
    g.bench_function("perfcore", |b| {
        b.iter(|| perfcore::parse::statfs::parse(black_box(&m)).map(|v| black_box(v.len())))
    });
    g.bench_function("serde_json-Value", |b| {
        b.iter(|| {
            let mut k = 0;
            for line in black_box(&m)
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
            {
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) {
                    k += usize::from(v.is_object());
                }
            }
            black_box(k)
        })
    });
    g.finish();
}

/// A container record of the older container collector (the first of the
/// upstream capture): ours into typed fields, beside a generic `serde_json::Value`
/// (what a script reading the capture would do; neither procfs nor sysinfo reads
/// these records).
fn bench_container(c: &mut Criterion) {
    let capture = fixture("upstream/oci-e5-ubuntu24-containers/container_collection.json");
    let line = capture.split(|b| *b == b'\n').next().expect("a line");
    let rec = perfcore::capture::parse_record(line, 1).expect("record");
    let (sub, m) = (
        rec.subsystem.to_string(),
        rec.measurement.as_bytes().to_vec(),
    );
    let ours = perfcore::container::parse(&sub, &m).expect("ours parses");
    assert_eq!(ours.cpu_usage_usec, Some(2_923_730));
    let mut g = group(c, "container/record", &m);
    g.bench_function("perfcore", |b| {
        b.iter(|| {
            perfcore::container::parse(black_box(&sub), black_box(&m))
                .map(|c| black_box(c.cpu_usage_usec))
        })
    });
    g.bench_function("serde_json-Value", |b| {
        b.iter(|| {
            serde_json::from_slice::<serde_json::Value>(black_box(&m))
                .map(|v| black_box(v["cpu_usage_usec"].as_u64()))
        })
    });
    g.finish();
}

criterion_group! {
    name = parsers;
    config = config();
    targets = bench_paired, bench_stat, bench_meminfo, bench_diskstats, bench_net_dev, bench_loadavg,
        bench_vmstat, bench_pressure, bench_cpuinfo, bench_container, bench_statfs
}
criterion_main!(parsers);
