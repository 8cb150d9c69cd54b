//! Times `perfreport::build` + `Report::html` on synthetic machines.
//!
//! ```sh
//! cargo run --release -p perfreport --example timing            # 1,000,000 intervals at 1 s, and 24 h at 5 s
//! cargo run --release -p perfreport --example timing -- 50000 1 # N intervals at S seconds
//! cargo run --release -p perfreport --example timing -- 1000000 1 big.html   # and keep the page
//! ```
//!
//! The machine is a 4-CPU server with two disks (one with partitions), two
//! interfaces and loopback, three filesystems, every wide metric filled, a
//! daily load pattern with bursts, and a few gaps. Figures go to
//! docs/performance.md ("The report").

use std::time::Instant;

use perfcore::metrics::{DeviceKind, IntervalRow, Metric};
use perfreport::{DeviceSeries, MachineSeries, ReportOptions};

/// xorshift64*: deterministic noise without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A synthetic machine of `n` intervals `step_s` apart.
pub fn synthetic(n: usize, step_s: u32) -> MachineSeries {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut m = MachineSeries::new("synthetic-1");
    m.facts.cpu_model = Some("Synthetic CPU @ 2.0GHz".into());
    m.facts.cpu_count = Some(4);
    m.facts.mem_total_bytes = Some(16 << 30);
    m.facts.swap_total_bytes = Some(2 << 30);
    m.facts.kernel = Some("6.1.0-synthetic".into());
    let t0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    let step_ms = i64::from(step_s) * 1000;
    let mut ts = Vec::with_capacity(n);
    let mut t = t0;
    for i in 0..n {
        // A 10-minute outage every ~3 days of samples.
        if i > 0 && i % 250_000 == 0 {
            t += 600_000;
        }
        t += step_ms;
        ts.push(t);
    }
    let mem_total = (16u64 << 30) as f64;
    m.rows.reserve(n);
    let cpus = 4;
    let disks = ["nvme0n1", "nvme0n1p1", "nvme0n1p2", "sdb"];
    let nets = ["eth0", "eth1", "lo"];
    let fss = ["/", "/var", "/data"];
    let mut dev: Vec<DeviceSeries> = Vec::new();
    let mut add = |kind, device: &str, metric: &str| {
        let mut s = DeviceSeries::new(kind, device.to_owned(), metric.to_owned());
        s.timestamps_ms = ts.clone();
        s.values = Vec::with_capacity(n);
        dev.push(s);
        dev.len() - 1
    };
    let cpu_ix: Vec<[usize; 4]> = (0..cpus)
        .map(|c| {
            let c = c.to_string();
            [
                add(DeviceKind::Cpu, &c, "user_pct"),
                add(DeviceKind::Cpu, &c, "system_pct"),
                add(DeviceKind::Cpu, &c, "iowait_pct"),
                add(DeviceKind::Cpu, &c, "idle_pct"),
            ]
        })
        .collect();
    let disk_metrics = [
        "reads_per_s",
        "writes_per_s",
        "read_bytes_per_s",
        "write_bytes_per_s",
        "r_await_ms",
        "w_await_ms",
        "aqu_sz",
        "util_pct",
    ];
    let disk_ix: Vec<Vec<usize>> = disks
        .iter()
        .map(|d| {
            disk_metrics
                .iter()
                .map(|mt| add(DeviceKind::Disk, d, mt))
                .collect()
        })
        .collect();
    let net_metrics = [
        "rx_bytes_per_s",
        "tx_bytes_per_s",
        "rx_packets_per_s",
        "tx_packets_per_s",
        "rx_errs_per_s",
        "tx_errs_per_s",
        "rx_drop_per_s",
        "tx_drop_per_s",
    ];
    let net_ix: Vec<Vec<usize>> = nets
        .iter()
        .map(|d| {
            net_metrics
                .iter()
                .map(|mt| add(DeviceKind::Net, d, mt))
                .collect()
        })
        .collect();
    let fs_metrics = ["size_bytes", "used_bytes", "available_bytes", "used_pct"];
    let fs_ix: Vec<Vec<usize>> = fss
        .iter()
        .map(|d| {
            fs_metrics
                .iter()
                .map(|mt| add(DeviceKind::Fs, d, mt))
                .collect()
        })
        .collect();

    for (i, &t) in ts.iter().enumerate() {
        let day = ((t - t0) as f64 / 86_400_000.0 * std::f64::consts::TAU).sin() * 0.5 + 0.5;
        let burst = if (i / 600) % 17 == 3 { 40.0 } else { 0.0 };
        let mut r = IntervalRow::new(t, f64::from(step_s));
        let user = (15.0 + 45.0 * day + burst + rng.next() * 10.0).min(95.0);
        let system = 3.0 + rng.next() * 4.0;
        let iowait = rng.next() * 2.0;
        let steal = if (i / 3000) % 29 == 5 {
            12.0 + rng.next() * 5.0
        } else {
            rng.next() * 0.5
        };
        let idle = (100.0 - user - system - iowait - steal).max(0.0);
        r.set(Metric::CpuUserPct, Some(user));
        r.set(Metric::CpuNicePct, Some(0.0));
        r.set(Metric::CpuSystemPct, Some(system));
        r.set(Metric::CpuIowaitPct, Some(iowait));
        r.set(Metric::CpuIrqPct, Some(0.0));
        r.set(Metric::CpuSoftirqPct, Some(0.3));
        r.set(Metric::CpuStealPct, Some(steal));
        r.set(Metric::CpuGuestPct, Some(0.0));
        r.set(Metric::CpuIdlePct, Some((idle - 0.3).max(0.0)));
        r.set(Metric::CpuCount, Some(4.0));
        r.set(Metric::ContextSwitchesPerS, Some(2000.0 + 3000.0 * day));
        r.set(Metric::InterruptsPerS, Some(1500.0 + rng.next() * 500.0));
        r.set(Metric::ForksPerS, Some(rng.next() * 5.0));
        r.set(
            Metric::ProcsRunning,
            Some((1.0 + user / 25.0 + rng.next()).floor()),
        );
        r.set(
            Metric::ProcsBlocked,
            Some(if rng.next() > 0.97 { 1.0 } else { 0.0 }),
        );
        r.set(Metric::Load1, Some(user / 25.0 + rng.next() * 0.3));
        r.set(Metric::Load5, Some(user / 25.0));
        r.set(Metric::Load15, Some(user / 26.0));
        let used = mem_total * (0.35 + 0.2 * day);
        let cached = mem_total * 0.3;
        let buffers = mem_total * 0.02;
        let slab = mem_total * 0.03;
        let free = mem_total - used - cached - buffers - slab;
        r.set(Metric::MemTotalBytes, Some(mem_total));
        r.set(Metric::MemFreeBytes, Some(free));
        r.set(
            Metric::MemAvailableBytes,
            Some(free + cached * 0.8 + buffers),
        );
        r.set(Metric::MemUsedBytes, Some(used));
        r.set(Metric::MemUsedPct, Some(used / mem_total * 100.0));
        r.set(Metric::MemBuffersBytes, Some(buffers));
        r.set(Metric::MemCachedBytes, Some(cached));
        r.set(Metric::MemSlabBytes, Some(slab));
        r.set(Metric::MemDirtyBytes, Some(rng.next() * 1e6));
        r.set(Metric::MemCommittedBytes, Some(used * 1.4));
        r.set(
            Metric::MemCommitPct,
            Some(used * 1.4 / (mem_total * 1.125) * 100.0),
        );
        r.set(Metric::SwapTotalBytes, Some((2u64 << 30) as f64));
        r.set(Metric::SwapUsedBytes, Some(5e7));
        r.set(Metric::SwapUsedPct, Some(5e7 / (2u64 << 30) as f64 * 100.0));
        r.set(Metric::PageInBytesPerS, Some(rng.next() * 1e5));
        r.set(Metric::PageOutBytesPerS, Some(rng.next() * 5e5));
        r.set(Metric::PageFaultsPerS, Some(1e4 * day));
        r.set(Metric::MajorFaultsPerS, Some(rng.next()));
        r.set(Metric::SwapInPagesPerS, Some(0.0));
        r.set(Metric::SwapOutPagesPerS, Some(0.0));
        let rd = 100.0 + 400.0 * day * rng.next();
        let wr = 300.0 + 200.0 * rng.next();
        let util = (20.0 + 60.0 * day + rng.next() * 10.0).min(100.0);
        let aw = 0.3 + rng.next();
        r.set(Metric::DiskReadsPerS, Some(rd));
        r.set(Metric::DiskWritesPerS, Some(wr));
        r.set(Metric::DiskReadBytesPerS, Some(rd * 16384.0));
        r.set(Metric::DiskWriteBytesPerS, Some(wr * 32768.0));
        r.set(Metric::DiskAwaitMs, Some(aw));
        r.set(Metric::DiskUtilMaxPct, Some(util));
        let rx = 5e6 * day + rng.next() * 1e6;
        let tx = 2e6 * day + rng.next() * 1e6;
        r.set(Metric::NetRxBytesPerS, Some(rx));
        r.set(Metric::NetTxBytesPerS, Some(tx));
        r.set(Metric::NetRxPacketsPerS, Some(rx / 900.0));
        r.set(Metric::NetTxPacketsPerS, Some(tx / 700.0));
        r.set(Metric::NetErrorsPerS, Some(0.0));
        r.set(
            Metric::NetDropsPerS,
            Some(if rng.next() > 0.999 { 1.0 } else { 0.0 }),
        );
        r.set(Metric::PsiCpuSomePct, Some(user / 10.0));
        r.set(Metric::PsiMemorySomePct, Some(0.0));
        r.set(Metric::PsiMemoryFullPct, Some(0.0));
        r.set(Metric::PsiIoSomePct, Some(iowait));
        r.set(Metric::PsiIoFullPct, Some(iowait / 2.0));
        let root_used = 60.0 + 20.0 * (i as f64 / n as f64);
        r.set(Metric::FsMaxUsedPct, Some(root_used));
        m.rows.push(r);

        for (c, ix) in cpu_ix.iter().enumerate() {
            let u = if c == 0 {
                (user * 1.2).min(99.0)
            } else {
                user * (0.8 + 0.1 * c as f64)
            };
            dev[ix[0]].values.push(u.min(99.0));
            dev[ix[1]].values.push(system);
            dev[ix[2]].values.push(iowait);
            dev[ix[3]]
                .values
                .push((100.0 - u.min(99.0) - system - iowait).max(0.0));
        }
        for (d, ix) in disk_ix.iter().enumerate() {
            let f = [1.0, 0.7, 0.3, 0.05][d];
            let vals = [
                rd * f,
                wr * f,
                rd * f * 16384.0,
                wr * f * 32768.0,
                aw,
                aw * 1.5,
                util * f / 50.0,
                util * f,
            ];
            for (k, v) in ix.iter().zip(vals) {
                dev[*k].values.push(v);
            }
        }
        for (d, ix) in net_ix.iter().enumerate() {
            let f = [1.0, 0.2, 0.01][d];
            let vals = [
                rx * f,
                tx * f,
                rx * f / 900.0,
                tx * f / 700.0,
                0.0,
                0.0,
                0.0,
                0.0,
            ];
            for (k, v) in ix.iter().zip(vals) {
                dev[*k].values.push(v);
            }
        }
        for (d, ix) in fs_ix.iter().enumerate() {
            let size = [50e9, 200e9, 2e12][d];
            let pct = [root_used, 40.0, 91.0][d];
            let used = size * pct / 100.0;
            for (k, v) in ix.iter().zip([size, used, size - used, pct]) {
                dev[*k].values.push(v);
            }
        }
    }
    m.devices = dev;
    m.events.counter_resets = Some(vec![]);
    m
}

/// CPU time of this process so far (user + system, seconds), from /proc/self/stat.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Best of three: wall and CPU seconds of `f`, and its last result.
fn best_of_3<T>(mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let (mut wall, mut cpu) = (f64::INFINITY, f64::INFINITY);
    let mut last = None;
    for _ in 0..3 {
        let (t, c) = (Instant::now(), cpu_s());
        last = Some(f());
        wall = wall.min(t.elapsed().as_secs_f64());
        cpu = cpu.min(cpu_s() - c);
    }
    match last {
        Some(v) => (wall, cpu, v),
        None => unreachable!("three runs"),
    }
}

fn time(n: usize, step_s: u32, out: Option<&str>) {
    let t = Instant::now();
    let m = synthetic(n, step_s);
    let gen_s = t.elapsed().as_secs_f64();
    let machines = std::slice::from_ref(&m);
    let build = |all: bool| {
        let mut opts = ReportOptions::default();
        opts.all_device_statistics = all;
        match perfreport::build(machines, &opts) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("build failed: {e}");
                std::process::exit(1);
            }
        }
    };
    // What `perfan report -o report.html` does: the page.
    let (wall, cpu, (html, findings)) = best_of_3(|| {
        let r = build(false);
        (r.html(), r.findings().len())
    });
    println!(
        "{n:>9} intervals at {step_s} s ({} device series): HTML report {wall:.3} s (CPU {cpu:.2} s), \
         {:.2} MB, {findings} findings",
        m.devices.len(),
        html.len() as f64 / 1e6,
    );
    // With `--json`: every device series summarised, the page and the summary.
    let (wall, cpu, json) = best_of_3(|| {
        let r = build(true);
        let _ = r.html();
        r.json().to_string()
    });
    println!(
        "{:>9} + JSON summary ({:.0} KB, every device series): {wall:.3} s (CPU {cpu:.2} s); data generated in {gen_s:.1} s",
        "",
        json.len() as f64 / 1e3,
    );
    if let Some(path) = out
        && let Err(e) = std::fs::write(path, &html)
    {
        eprintln!("{path}: {e}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let (Some(n), Some(s)) = (args.first(), args.get(1)) {
        let n = n.parse().unwrap_or(1_000_000);
        let s = s.parse().unwrap_or(1);
        time(n, s, args.get(2).map(String::as_str));
        return;
    }
    time(17_280, 5, None);
    time(1_000_000, 1, None);
}
