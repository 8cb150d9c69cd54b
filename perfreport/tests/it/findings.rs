//! Statistics and findings on series whose answers are known.

use perfcore::metrics::{DeviceKind, Metric};
use perfreport::{Finding, ReportOptions, Severity};

use crate::series::{cpu, device, machine};

fn build(m: perfreport::MachineSeries) -> perfreport::Report {
    perfreport::build(&[m], &ReportOptions::default()).expect("report")
}

fn ids(r: &perfreport::Report) -> Vec<&'static str> {
    r.findings().iter().map(|f| f.id).collect()
}

fn find<'a>(r: &'a perfreport::Report, id: &str) -> &'a Finding {
    r.findings()
        .into_iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no {id} finding in {:?}", ids(r)))
}

#[test]
fn percentile_table_of_a_known_series() {
    // user = 1, 2, …, 100: type-7 percentiles are 1 + 99p.
    let m = machine("m", 100, |i, r| cpu(r, (i + 1) as f64 * 0.5, 0.0, 0.0));
    let mut m = m;
    for (i, r) in m.rows.iter_mut().enumerate() {
        r.set(Metric::Load1, Some((i + 1) as f64));
    }
    let r = build(m);
    let s = r.machines()[0].metric("load1").expect("load1 stats");
    assert_eq!((s.count, s.min, s.max, s.avg), (100, 1.0, 100.0, 50.5));
    assert!((s.p50 - 50.5).abs() < 1e-9);
    assert!((s.p90 - 90.1).abs() < 1e-9);
    assert!((s.p95 - 95.05).abs() < 1e-9);
    assert!((s.p97_5 - 97.525).abs() < 1e-9);
    assert!((s.p99 - 99.01).abs() < 1e-9);
    let j = r.json();
    assert_eq!(j["machines"][0]["metrics"]["load1"]["p50"], 50.5);
    assert_eq!(j["machines"][0]["metrics"]["load1"]["unit"], "load");
    // The HTML row: min, avg, p50, p90, p95, p97.5, p99, max, samples.
    let html = r.html();
    assert!(
        html.contains("<td title=\"1-minute load average\">load1</td><td>1</td><td>50.5</td><td>50.5</td><td>90.1</td><td>95</td><td>97.5</td><td>99</td><td>100</td><td>100</td>"),
        "percentile row of load1"
    );
    // Derived: busy = 100 − idle = user here.
    let b = r.machines()[0].metric("cpu_busy_pct").expect("busy");
    assert!((b.avg - 25.25).abs() < 1e-9);
}

#[test]
fn steal_fires_above_its_threshold_for_long_enough() {
    // Steal 20% for 35 of 100 intervals: a noisy neighbour.
    let r = build(machine("vm", 100, |i, r| {
        cpu(r, 30.0, 0.0, if i < 35 { 20.0 } else { 1.0 })
    }));
    let f = find(&r, "steal");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.time_share, Some(0.35));
    assert!(
        f.text.contains("steal above 10% for 35% of the time"),
        "{}",
        f.text
    );
    assert!(
        f.thresholds
            .iter()
            .any(|t| t.name.starts_with("cpu_steal_pct") && t.value == 10.0)
    );
    // 5% steal all the time is not.
    let r = build(machine("vm", 100, |_, r| cpu(r, 30.0, 0.0, 5.0)));
    assert!(!ids(&r).contains(&"steal"));
    // Nor 20% for 5% of the time.
    let r = build(machine("vm", 100, |i, r| {
        cpu(r, 30.0, 0.0, if i < 5 { 20.0 } else { 0.0 })
    }));
    assert!(!ids(&r).contains(&"steal"));
}

#[test]
fn cpu_saturation_is_critical_most_of_the_time() {
    let r = build(machine("m", 100, |i, r| {
        cpu(r, if i < 60 { 95.0 } else { 10.0 }, 0.0, 0.0)
    }));
    let f = find(&r, "cpu_saturation");
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.time_share, Some(0.6));
    let l = f.longest.as_ref().expect("stretch");
    assert_eq!(l.length_s, 300.0);
    let r = build(machine("m", 100, |i, r| {
        cpu(r, if i < 20 { 95.0 } else { 10.0 }, 0.0, 0.0)
    }));
    assert_eq!(find(&r, "cpu_saturation").severity, Severity::Warning);
    let r = build(machine("m", 100, |_, r| cpu(r, 50.0, 0.0, 0.0)));
    assert!(r.findings().is_empty(), "{:?}", ids(&r));
}

#[test]
fn iowait_memory_and_swapping() {
    let r = build(machine("m", 100, |i, r| {
        cpu(r, 10.0, if i % 4 == 0 { 40.0 } else { 0.0 }, 0.0);
        r.set(Metric::MemTotalBytes, Some(1000.0));
        r.set(
            Metric::MemAvailableBytes,
            Some(if i < 20 { 50.0 } else { 600.0 }),
        );
        r.set(
            Metric::SwapInPagesPerS,
            Some(if i < 10 { 5.0 } else { 0.0 }),
        );
        r.set(Metric::SwapOutPagesPerS, Some(0.0));
    }));
    assert_eq!(find(&r, "iowait").time_share, Some(0.25));
    let mem = find(&r, "memory_pressure");
    assert_eq!(mem.time_share, Some(0.2));
    assert!(mem.text.contains("5% was available"), "{}", mem.text);
    let swap = find(&r, "swapping");
    assert_eq!(swap.severity, Severity::Warning);
    // 10 intervals × 5 s × 5 pages/s.
    assert!(
        swap.evidence
            .iter()
            .any(|e| e.label == "pages swapped in" && e.value == 250.0)
    );
    // A single interval of swapping is only information.
    let r = build(machine("m", 100, |i, r| {
        cpu(r, 10.0, 0.0, 0.0);
        r.set(
            Metric::SwapInPagesPerS,
            Some(if i == 3 { 1.0 } else { 0.0 }),
        );
    }));
    assert_eq!(find(&r, "swapping").severity, Severity::Info);
}

#[test]
fn saturated_disk_needs_util_and_await() {
    let mut m = machine("db", 100, |_, r| cpu(r, 20.0, 5.0, 0.0));
    let hot = |i: usize| i < 30;
    m.devices
        .push(device(&m, DeviceKind::Disk, "sda", "util_pct", |i| {
            if hot(i) { 97.0 } else { 10.0 }
        }));
    m.devices
        .push(device(&m, DeviceKind::Disk, "sda", "reads_per_s", |_| {
            100.0
        }));
    m.devices
        .push(device(&m, DeviceKind::Disk, "sda", "writes_per_s", |_| {
            50.0
        }));
    m.devices
        .push(device(&m, DeviceKind::Disk, "sda", "r_await_ms", |i| {
            if hot(i) { 40.0 } else { 2.0 }
        }));
    m.devices
        .push(device(&m, DeviceKind::Disk, "sda", "w_await_ms", |i| {
            if hot(i) { 25.0 } else { 2.0 }
        }));
    // A partition of it, busy too: not a second finding, not charted.
    m.devices
        .push(device(&m, DeviceKind::Disk, "sda1", "util_pct", |i| {
            if hot(i) { 97.0 } else { 10.0 }
        }));
    m.devices
        .push(device(&m, DeviceKind::Disk, "sda1", "reads_per_s", |_| {
            100.0
        }));
    m.devices
        .push(device(&m, DeviceKind::Disk, "sda1", "writes_per_s", |_| {
            50.0
        }));
    // An NVMe device busy but fast.
    m.devices
        .push(device(&m, DeviceKind::Disk, "nvme0n1", "util_pct", |_| {
            99.0
        }));
    m.devices.push(device(
        &m,
        DeviceKind::Disk,
        "nvme0n1",
        "reads_per_s",
        |_| 5000.0,
    ));
    m.devices.push(device(
        &m,
        DeviceKind::Disk,
        "nvme0n1",
        "writes_per_s",
        |_| 0.0,
    ));
    m.devices.push(device(
        &m,
        DeviceKind::Disk,
        "nvme0n1",
        "r_await_ms",
        |_| 0.2,
    ));
    m.devices.push(device(
        &m,
        DeviceKind::Disk,
        "nvme0n1",
        "w_await_ms",
        |_| 0.0,
    ));
    let r = build(m);
    let f = find(&r, "disk_saturation");
    assert_eq!(f.subject.as_deref(), Some("sda"));
    assert_eq!(f.time_share, Some(0.3));
    assert_eq!(f.severity, Severity::Warning);
    let subjects: Vec<_> = r
        .findings()
        .iter()
        .filter_map(|f| f.subject.clone())
        .collect();
    assert!(!subjects.contains(&"sda1".to_owned()), "{subjects:?}");
    assert_eq!(find(&r, "disk_busy").subject.as_deref(), Some("nvme0n1"));
    // await of sda when hot: (100 × 40 + 50 × 25) / 150 = 35 ms.
    let aw = r.machines()[0]
        .device_metric(DeviceKind::Disk, "sda", "await_ms")
        .expect("await stats");
    assert!((aw.max - 35.0).abs() < 1e-9);
    let ids_charts = r.machines()[0].chart_ids();
    assert!(ids_charts.contains(&"disk-util"));
    // Busiest first: nvme0n1 (99% util) before sda; the partition left out.
    let html = r.html();
    assert!(html.contains("Not charted: partitions sda1"));
    let util_svg = html
        .split("data-chart=\"disk-util\"")
        .nth(1)
        .expect("disk-util chart");
    let util_svg = &util_svg[..util_svg.find("</svg>").expect("end of svg")];
    let legend: Vec<&str> = util_svg
        .split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim())
        })
        .filter(|t| t.starts_with("nvme") || t.starts_with("sd"))
        .collect();
    assert_eq!(legend, ["nvme0n1", "sda"]);
    // In the disk table too, the partition last.
    let row = |d: &str| {
        html.find(&format!("<tr><td>{d}</td>"))
            .unwrap_or_else(|| panic!("table row of {d}"))
    };
    assert!(row("nvme0n1") < row("sda") && row("sda") < row("sda1"));
}

#[test]
fn network_errors_and_full_filesystems() {
    let mut m = machine("web", 100, |_, r| cpu(r, 20.0, 0.0, 0.0));
    m.devices.push(device(
        &m,
        DeviceKind::Net,
        "eth0",
        "rx_packets_per_s",
        |_| 1000.0,
    ));
    m.devices.push(device(
        &m,
        DeviceKind::Net,
        "eth0",
        "tx_packets_per_s",
        |_| 1000.0,
    ));
    m.devices
        .push(device(&m, DeviceKind::Net, "eth0", "rx_errs_per_s", |i| {
            if i < 3 { 2.0 } else { 0.0 }
        }));
    m.devices
        .push(device(&m, DeviceKind::Net, "eth0", "tx_errs_per_s", |_| {
            0.0
        }));
    m.devices
        .push(device(&m, DeviceKind::Fs, "/var", "used_pct", |i| {
            90.0 + i as f64 * 0.07
        }));
    m.devices
        .push(device(&m, DeviceKind::Fs, "/", "used_pct", |_| 40.0));
    let r = build(m);
    let e = find(&r, "net_errors");
    assert_eq!(e.subject.as_deref(), Some("eth0"));
    assert!(
        e.evidence
            .iter()
            .any(|x| x.label == "receive errors" && x.value == 30.0)
    );
    let fs = find(&r, "fs_full");
    assert_eq!(fs.subject.as_deref(), Some("/var"));
    assert_eq!(fs.severity, Severity::Critical);
    assert!(
        !r.findings()
            .iter()
            .any(|f| f.subject.as_deref() == Some("/"))
    );
}

#[test]
fn one_cpu_pinned_and_work_held_back() {
    // Two CPUs: cpu0 pinned at 100%, cpu1 idle; the machine at 50%. Three
    // runnable tasks on two CPUs half idle: held back.
    let mut m = machine("m", 60, |_, r| {
        cpu(r, 50.0, 0.0, 0.0);
        r.set(Metric::ProcsRunning, Some(3.0));
    });
    m.facts.cpu_count = Some(2);
    m.devices
        .push(device(&m, DeviceKind::Cpu, "0", "idle_pct", |_| 0.0));
    m.devices
        .push(device(&m, DeviceKind::Cpu, "1", "idle_pct", |_| 100.0));
    let r = build(m);
    assert_eq!(find(&r, "cpu_single").subject.as_deref(), Some("cpu0"));
    assert_eq!(find(&r, "cpu_held_back").time_share, Some(1.0));
    assert!(!ids(&r).contains(&"cpu_saturation"));
    assert!(r.machines()[0].chart_ids().contains(&"cpu-heatmap"));
}

#[test]
fn thresholds_can_be_changed() {
    let m = machine("vm", 100, |_, r| cpu(r, 30.0, 0.0, 5.0));
    let mut opts = ReportOptions::default();
    opts.thresholds.steal_pct = 4.0;
    let r = perfreport::build(&[m], &opts).expect("report");
    assert_eq!(find(&r, "steal").time_share, Some(1.0));
    assert_eq!(r.json()["thresholds"]["steal_pct"], 4.0);
}

fn fires(r: &perfreport::Report, id: &str) -> bool {
    r.findings().iter().any(|f| f.id == id)
}

/// The rule ran on this data (so that not firing means something).
fn evaluated(r: &perfreport::Report, id: &str) -> bool {
    r.machines()[0]
        .checks
        .iter()
        .any(|c| c.id == id && c.evaluated)
}

fn evidence(f: &Finding, label: &str) -> f64 {
    f.evidence
        .iter()
        .find(|e| e.label == label)
        .unwrap_or_else(|| panic!("no evidence {label:?} in {:?}", f.evidence))
        .value
}

#[test]
fn cpu_saturation_at_its_threshold() {
    // Busy exactly 90% for 10 of 100 intervals: 10% of the time.
    let r = build(machine("m", 100, |i, r| {
        cpu(r, if i < 10 { 90.0 } else { 10.0 }, 0.0, 0.0)
    }));
    let f = find(&r, "cpu_saturation");
    assert_eq!((f.severity, f.time_share), (Severity::Warning, Some(0.1)));
    assert!(
        f.text.starts_with(
            "The CPUs were 90% busy or more for 10% of the time (50 s of 8 min 20 s)."
        ),
        "{}",
        f.text
    );
    assert_eq!(evidence(f, "time above the threshold"), 50.0);
    // Busy 89.9% all the time, or 90% for 9% of the time: no finding.
    let r = build(machine("m", 100, |_, r| cpu(r, 89.9, 0.0, 0.0)));
    assert!(evaluated(&r, "cpu_saturation") && !fires(&r, "cpu_saturation"));
    let r = build(machine("m", 100, |i, r| {
        cpu(r, if i < 9 { 90.0 } else { 10.0 }, 0.0, 0.0)
    }));
    assert!(!fires(&r, "cpu_saturation"), "{:?}", ids(&r));
}

#[test]
fn steal_at_its_threshold() {
    let r = build(machine("vm", 100, |i, r| {
        cpu(r, 30.0, 0.0, if i < 10 { 10.0 } else { 0.0 })
    }));
    let f = find(&r, "steal");
    assert_eq!((f.severity, f.time_share), (Severity::Warning, Some(0.1)));
    assert!(
        f.text
            .contains("steal above 10% for 10% of the time (50 s of 8 min 20 s)"),
        "{}",
        f.text
    );
    // Average 1%, p95 10% (type 7: between the 95th and 96th of 100 sorted values).
    assert_eq!(evidence(f, "steal, average"), 1.0);
    assert_eq!(evidence(f, "steal, p95"), 10.0);
    let r = build(machine("vm", 100, |_, r| cpu(r, 30.0, 0.0, 9.9)));
    assert!(evaluated(&r, "steal") && !fires(&r, "steal"));
    let r = build(machine("vm", 100, |i, r| {
        cpu(r, 30.0, 0.0, if i < 9 { 10.0 } else { 0.0 })
    }));
    assert!(!fires(&r, "steal"));
}

#[test]
fn iowait_at_its_threshold() {
    let r = build(machine("m", 100, |i, r| {
        cpu(r, 10.0, if i < 10 { 20.0 } else { 1.0 }, 0.0)
    }));
    let f = find(&r, "iowait");
    assert_eq!((f.severity, f.time_share), (Severity::Warning, Some(0.1)));
    assert!(
        f.text.contains("(iowait 20% or more) for 10% of the time")
            && f.text.contains("iowait p95 20%, max 20%."),
        "{}",
        f.text
    );
    assert_eq!(evidence(f, "iowait, max"), 20.0);
    let r = build(machine("m", 100, |_, r| cpu(r, 10.0, 19.9, 0.0)));
    assert!(evaluated(&r, "iowait") && !fires(&r, "iowait"));
    let r = build(machine("m", 100, |i, r| {
        cpu(r, 10.0, if i < 9 { 20.0 } else { 1.0 }, 0.0)
    }));
    assert!(!fires(&r, "iowait"));
}

#[test]
fn memory_pressure_at_its_threshold() {
    let mem = |low: usize, avail: f64| {
        build(machine("m", 100, move |i, r| {
            cpu(r, 10.0, 0.0, 0.0);
            r.set(Metric::MemTotalBytes, Some(1000.0));
            r.set(
                Metric::MemAvailableBytes,
                Some(if i < low { avail } else { 600.0 }),
            );
        }))
    };
    // 9.9% available for 10% of the time.
    let r = mem(10, 99.0);
    let f = find(&r, "memory_pressure");
    assert_eq!((f.severity, f.time_share), (Severity::Warning, Some(0.1)));
    assert!(
        f.text.starts_with(
            "Less than 10% of memory was available for 10% of the time (50 s of 8 min 20 s). \
             At the lowest, 9.9% was available."
        ),
        "{}",
        f.text
    );
    assert!((evidence(f, "available memory, minimum") - 9.9).abs() < 1e-9);
    // Exactly 10% available is not below 10%; 9.9% for 9% of the time is too short.
    let r = mem(100, 100.0);
    assert!(evaluated(&r, "memory_pressure") && !fires(&r, "memory_pressure"));
    let r = mem(9, 99.0);
    assert!(!fires(&r, "memory_pressure"));
}

#[test]
fn swapping_is_sustained_from_five_percent_of_the_time() {
    let swap = |n: usize| {
        build(machine("m", 100, move |i, r| {
            cpu(r, 10.0, 0.0, 0.0);
            r.set(Metric::SwapInPagesPerS, Some(if i < n { 4.0 } else { 0.0 }));
            r.set(
                Metric::SwapOutPagesPerS,
                Some(if i < n { 2.0 } else { 0.0 }),
            );
        }))
    };
    let r = swap(5);
    let f = find(&r, "swapping");
    assert_eq!((f.severity, f.time_share), (Severity::Warning, Some(0.05)));
    assert_eq!(f.title, "Sustained swapping");
    // 5 intervals × 5 s × 4 pages/s in, × 2 out.
    assert_eq!(evidence(f, "pages swapped in"), 100.0);
    assert_eq!(evidence(f, "pages swapped out"), 50.0);
    assert!(
        f.text.contains("100 pages in and 50 pages out in total"),
        "{}",
        f.text
    );
    let r = swap(4);
    let f = find(&r, "swapping");
    assert_eq!((f.severity, f.time_share), (Severity::Info, Some(0.04)));
    assert_eq!(f.title, "Some swapping");
    assert!(
        f.text.ends_with("Short bursts; not sustained."),
        "{}",
        f.text
    );
    let r = swap(0);
    assert!(evaluated(&r, "swapping") && !fires(&r, "swapping"));
}

#[test]
fn cpu_held_back_at_its_thresholds() {
    // Two CPUs; `running` tasks and `busy` % for the first `n` intervals.
    let held = |n: usize, running: f64, busy: f64| {
        let mut m = machine("m", 100, move |i, r| {
            let hot = i < n;
            cpu(r, if hot { busy } else { 20.0 }, 0.0, 0.0);
            r.set(Metric::ProcsRunning, Some(if hot { running } else { 1.0 }));
        });
        m.facts.cpu_count = Some(2);
        build(m)
    };
    let r = held(10, 3.0, 69.0);
    let f = find(&r, "cpu_held_back");
    assert_eq!((f.severity, f.time_share), (Severity::Warning, Some(0.1)));
    assert!(
        f.text.starts_with(
            "More tasks were runnable than there are CPUs (2), yet the CPUs were less than 70% busy, \
             for 10% of the time (50 s of 8 min 20 s)."
        ),
        "{}",
        f.text
    );
    assert_eq!(evidence(f, "CPUs"), 2.0);
    // Not more tasks than CPUs; not under 70% busy; not for long enough.
    for r in [held(10, 2.0, 69.0), held(10, 3.0, 70.0), held(9, 3.0, 69.0)] {
        assert!(evaluated(&r, "cpu_held_back") && !fires(&r, "cpu_held_back"));
    }
}

#[test]
fn one_cpu_saturated_at_its_threshold() {
    // cpu0 at `idle0` % idle for the first `n` intervals; cpu1 10% busy.
    let single = |n: usize, idle0: f64, machine_user: f64| {
        let mut m = machine("m", 100, |_, r| cpu(r, machine_user, 0.0, 0.0));
        m.facts.cpu_count = Some(2);
        m.devices
            .push(device(&m, DeviceKind::Cpu, "0", "idle_pct", |i| {
                if i < n { idle0 } else { 60.0 }
            }));
        m.devices
            .push(device(&m, DeviceKind::Cpu, "1", "idle_pct", |_| 90.0));
        build(m)
    };
    let r = single(10, 10.0, 50.0);
    let f = find(&r, "cpu_single");
    assert_eq!(f.subject.as_deref(), Some("cpu0"));
    assert_eq!((f.severity, f.time_share), (Severity::Warning, Some(0.1)));
    assert_eq!(evidence(f, "cpu0 at or above the threshold"), 10.0);
    assert!(
        f.text.contains(
            "for 10% of the time (50 s of 8 min 20 s), while all 2 CPUs together averaged 50% busy"
        ),
        "{}",
        f.text
    );
    // 89.9% busy, or 90% for 9% of the time: no finding.
    for r in [single(10, 10.1, 50.0), single(9, 10.0, 50.0)] {
        assert!(evaluated(&r, "cpu_single") && !fires(&r, "cpu_single"));
    }
    // The whole machine saturated: that finding, not this one.
    let r = single(100, 0.0, 95.0);
    assert!(fires(&r, "cpu_saturation"));
    assert!(!fires(&r, "cpu_single"), "{:?}", ids(&r));
    // Pinned all the time: still a warning, never critical.
    let r = single(100, 0.0, 50.0);
    let f = find(&r, "cpu_single");
    assert_eq!((f.severity, f.time_share), (Severity::Warning, Some(1.0)));
}

#[test]
fn psi_fires_at_its_threshold() {
    // I/O pressure 10% for 10 of 100 intervals (full up to 4%); CPU pressure 30%
    // for 60 of them.
    let r = build(machine("m", 100, |i, r| {
        cpu(r, 20.0, 0.0, 0.0);
        r.set(Metric::PsiIoSomePct, Some(if i < 10 { 10.0 } else { 2.0 }));
        r.set(Metric::PsiIoFullPct, Some(if i < 10 { 4.0 } else { 0.0 }));
        r.set(Metric::PsiCpuSomePct, Some(if i < 60 { 30.0 } else { 1.0 }));
    }));
    let psi: Vec<_> = r.findings().into_iter().filter(|f| f.id == "psi").collect();
    let subjects: Vec<_> = psi.iter().map(|f| f.subject.as_deref()).collect();
    assert_eq!(subjects, [Some("CPU"), Some("I/O")], "critical first");
    let (c, io) = (psi[0], psi[1]);
    assert_eq!((c.severity, c.time_share), (Severity::Critical, Some(0.6)));
    assert_eq!(evidence(c, "CPU pressure (some), p95"), 30.0);
    assert_eq!((io.severity, io.time_share), (Severity::Warning, Some(0.1)));
    assert_eq!(
        io.text,
        "Some tasks were stalled waiting for I/O 10% of the time or more (PSI) for 10% of the time \
         (50 s of 8 min 20 s). At times all tasks stalled at once (full pressure up to 4%)."
    );
    assert_eq!(evidence(io, "I/O pressure (some), p95"), 10.0);
    assert_eq!(evidence(io, "I/O pressure (full), max"), 4.0);
    assert_eq!(io.longest.as_ref().map(|l| l.length_s), Some(50.0));
    assert!(
        io.thresholds
            .iter()
            .any(|t| t.name == "psi_io_some_pct ≥" && t.value == 10.0)
    );
    // 9.9% for 10% of the time, or 10% for 9% of the time: nothing.
    for (n, v) in [(10, 9.9), (9, 10.0)] {
        let r = build(machine("m", 100, |i, r| {
            cpu(r, 20.0, 0.0, 0.0);
            r.set(Metric::PsiIoSomePct, Some(if i < n { v } else { 2.0 }));
            r.set(Metric::PsiMemorySomePct, Some(if i < n { v } else { 0.0 }));
        }));
        assert!(evaluated(&r, "psi") && !fires(&r, "psi"), "{:?}", ids(&r));
    }
}

/// A disk `name` with %util, reads and read await given per interval (no writes).
fn disk(
    m: &mut perfreport::MachineSeries,
    name: &str,
    util: impl Fn(usize) -> f64,
    reads: impl Fn(usize) -> f64,
    r_await: impl Fn(usize) -> f64,
) {
    let series = [
        device(m, DeviceKind::Disk, name, "util_pct", util),
        device(m, DeviceKind::Disk, name, "reads_per_s", reads),
        device(m, DeviceKind::Disk, name, "writes_per_s", |_| 0.0),
        device(m, DeviceKind::Disk, name, "r_await_ms", r_await),
        device(m, DeviceKind::Disk, name, "w_await_ms", |_| 0.0),
    ];
    m.devices.extend(series);
}

#[test]
fn disk_saturation_and_busy_at_their_thresholds() {
    // sda at `util` % and `aw` ms in the intervals `hot_u` / `hot_a` picks.
    let sda = |hot_u: fn(usize) -> bool, util: f64, hot_a: fn(usize) -> bool, aw: f64| {
        let mut m = machine("db", 100, |_, r| cpu(r, 20.0, 5.0, 0.0));
        disk(
            &mut m,
            "sda",
            move |i| if hot_u(i) { util } else { 10.0 },
            |_| 100.0,
            move |i| if hot_a(i) { aw } else { 2.0 },
        );
        build(m)
    };
    let first10: fn(usize) -> bool = |i| i < 10;
    let r = sda(first10, 90.0, first10, 20.0);
    let f = find(&r, "disk_saturation");
    assert_eq!(f.subject.as_deref(), Some("sda"));
    assert_eq!((f.severity, f.time_share), (Severity::Warning, Some(0.1)));
    assert!(
        f.text.starts_with(
            "sda (whole disk) was saturated: %util 90% or more while each I/O waited 20 ms or more, \
             for 10% of the time (50 s of 8 min 20 s)."
        ),
        "{}",
        f.text
    );
    assert_eq!(evidence(f, "await, max"), 20.0);
    assert!(!fires(&r, "disk_busy"), "saturated, not merely busy");
    // await 19.9 ms: busy but fast.
    let r = sda(first10, 90.0, first10, 19.9);
    assert!(!fires(&r, "disk_saturation"));
    let f = find(&r, "disk_busy");
    assert_eq!((f.severity, f.time_share), (Severity::Info, Some(0.1)));
    assert_eq!(evidence(f, "%util, p95"), 90.0);
    // High %util and high await in different intervals: not saturation.
    let r = sda(first10, 90.0, |i| (10..20).contains(&i), 20.0);
    assert!(!fires(&r, "disk_saturation"));
    assert_eq!(find(&r, "disk_busy").time_share, Some(0.1));
    // %util 89.9%, or 90% for 9% of the time: neither.
    for r in [
        sda(first10, 89.9, first10, 20.0),
        sda(|i| i < 9, 90.0, |i| i < 9, 20.0),
    ] {
        assert!(evaluated(&r, "disk_saturation"));
        assert!(!fires(&r, "disk_saturation") && !fires(&r, "disk_busy"));
    }
}

#[test]
fn disk_latency_over_the_intervals_with_io() {
    // Reads in the first 50 intervals only; the first `slow` of them at `aw` ms,
    // the others at 5 ms. %util stays low: not busy, not saturated.
    let lat = |slow: usize, aw: f64| {
        let mut m = machine("db", 100, |_, r| cpu(r, 20.0, 5.0, 0.0));
        disk(
            &mut m,
            "sdb",
            |_| 30.0,
            |i| if i < 50 { 10.0 } else { 0.0 },
            move |i| {
                if i < slow {
                    aw
                } else if i < 50 {
                    5.0
                } else {
                    0.0
                }
            },
        );
        build(m)
    };
    // 5 slow intervals of 50 with I/O: 10% (of all the time it would be 5%).
    let r = lat(5, 50.0);
    let f = find(&r, "disk_latency");
    assert_eq!(f.subject.as_deref(), Some("sdb"));
    assert_eq!((f.severity, f.time_share), (Severity::Warning, Some(0.1)));
    assert_eq!(
        f.text,
        "I/O on sdb took 50 ms or more on average for 10% of the time (25 s of 4 min 10 s) \
         (of the time with I/O). A slow or throttled device (cloud volumes cap IOPS and throughput)."
    );
    assert_eq!(evidence(f, "await, max"), 50.0);
    assert_eq!(evidence(f, "time above the threshold"), 25.0);
    let aw = r.machines()[0]
        .device_metric(DeviceKind::Disk, "sdb", "await_ms")
        .expect("await stats");
    assert_eq!(aw.count, 50, "await only where there was I/O");
    assert!(!fires(&r, "disk_busy") && !fires(&r, "disk_saturation"));
    // 49.9 ms, or 50 ms in 4 of 50 intervals (8%): nothing.
    for r in [lat(5, 49.9), lat(4, 50.0)] {
        assert!(evaluated(&r, "disk_saturation"));
        assert!(!fires(&r, "disk_latency"), "{:?}", ids(&r));
    }
}

/// eth0 with 1000 packets/s each way over 100 intervals of 5 s (1,000,000
/// packets), and `drops` received packets dropped and `errs` receive errors per
/// second in the first interval.
fn eth0(drops: f64, errs: f64) -> perfreport::Report {
    let mut m = machine("web", 100, |_, r| cpu(r, 20.0, 0.0, 0.0));
    let first = |v: f64| move |i: usize| if i == 0 { v } else { 0.0 };
    let series = [
        device(&m, DeviceKind::Net, "eth0", "rx_packets_per_s", |_| 1000.0),
        device(&m, DeviceKind::Net, "eth0", "tx_packets_per_s", |_| 1000.0),
        device(&m, DeviceKind::Net, "eth0", "rx_drop_per_s", first(drops)),
        device(&m, DeviceKind::Net, "eth0", "tx_drop_per_s", |_| 0.0),
        device(&m, DeviceKind::Net, "eth0", "rx_errs_per_s", first(errs)),
        device(&m, DeviceKind::Net, "eth0", "tx_errs_per_s", |_| 0.0),
    ];
    m.devices.extend(series);
    build(m)
}

#[test]
fn net_drops_warn_from_a_tenth_of_a_percent() {
    // 210/s for 5 s: 1050 drops of 1,000,000 packets, 0.105%.
    let r = eth0(210.0, 0.0);
    let f = find(&r, "net_drops");
    assert_eq!(f.subject.as_deref(), Some("eth0"));
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(evidence(f, "received packets dropped"), 1050.0);
    assert_eq!(evidence(f, "sent packets dropped"), 0.0);
    assert!((evidence(f, "share of packets") - 0.105).abs() < 1e-12);
    assert!(
        f.text.starts_with(
            "eth0 dropped 1050 received and 0 sent packets (0.105% of its packets). Full queues"
        ),
        "{}",
        f.text
    );
    // 950 drops, 0.095%: only information.
    let r = eth0(190.0, 0.0);
    let f = find(&r, "net_drops");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(evidence(f, "received packets dropped"), 950.0);
    assert!(
        f.text.starts_with(
            "eth0 dropped 950 received and 0 sent packets (0.095% of its packets). A small share"
        ),
        "{}",
        f.text
    );
    assert!(!fires(&r, "net_errors"));
}

#[test]
fn net_drops_and_errors_count_whole_packets() {
    // 0.12/s for 5 s is 0.6: one packet.
    let r = eth0(0.12, 0.12);
    let d = find(&r, "net_drops");
    assert_eq!(d.severity, Severity::Info);
    assert_eq!(evidence(d, "received packets dropped"), 1.0);
    let e = find(&r, "net_errors");
    assert_eq!(e.severity, Severity::Warning);
    assert_eq!(evidence(e, "receive errors"), 1.0);
    assert_eq!(evidence(e, "packets"), 1_000_000.0);
    assert!(
        e.text
            .starts_with("eth0 counted 1 receive and 0 transmit errors."),
        "{}",
        e.text
    );
    // 0.08/s for 5 s is 0.4: less than one packet, nothing.
    let r = eth0(0.08, 0.08);
    assert!(evaluated(&r, "net_errors"));
    assert!(
        !fires(&r, "net_drops") && !fires(&r, "net_errors"),
        "{:?}",
        ids(&r)
    );
}

#[test]
fn full_filesystems_at_their_thresholds() {
    let mut m = machine("fs", 100, |_, r| cpu(r, 20.0, 0.0, 0.0));
    let series = [
        device(&m, DeviceKind::Fs, "/a", "used_pct", |_| 90.0),
        device(&m, DeviceKind::Fs, "/b", "used_pct", |_| 89.9),
        device(&m, DeviceKind::Fs, "/c", "used_pct", |i| {
            if i < 50 { 92.0 } else { 85.0 }
        }),
        device(&m, DeviceKind::Fs, "/d", "used_pct", |_| 95.0),
        device(&m, DeviceKind::Fs, "/e", "used_pct", |_| 94.9),
    ];
    m.devices.extend(series);
    let r = build(m);
    let mut fs: Vec<(&str, Severity)> = r
        .findings()
        .iter()
        .filter(|f| f.id == "fs_full")
        .map(|f| (f.subject.as_deref().unwrap_or("?"), f.severity))
        .collect();
    fs.sort();
    assert_eq!(
        fs,
        [
            ("/a", Severity::Warning),
            ("/c", Severity::Info),
            ("/d", Severity::Critical),
            ("/e", Severity::Warning),
        ]
    );
    let a = r
        .findings()
        .into_iter()
        .find(|f| f.subject.as_deref() == Some("/a"))
        .expect("/a");
    assert_eq!(a.text, "/a was 90% full at the end (at most 90%).");
    assert_eq!(evidence(a, "used at the end"), 90.0);
    let c = r
        .findings()
        .into_iter()
        .find(|f| f.subject.as_deref() == Some("/c"))
        .expect("/c");
    assert_eq!(c.text, "/c reached 92% used, and was 85% at the end.");
    assert_eq!(evidence(c, "used, max"), 92.0);
}

/// "/data", 1 TB, growing 1 MB/s over `n` intervals of 5 s, with `left_s`
/// seconds of growth left at the end.
fn growing(n: usize, left_s: f64) -> perfreport::Report {
    let size = 1e12;
    let end = size - left_s * 1e6;
    let start = end - (n - 1) as f64 * 5e6;
    let mut m = machine("fs", n, |_, r| cpu(r, 20.0, 0.0, 0.0));
    let used = move |i: usize| start + i as f64 * 5e6;
    let series = [
        device(&m, DeviceKind::Fs, "/data", "size_bytes", |_| size),
        device(&m, DeviceKind::Fs, "/data", "used_bytes", used),
        device(&m, DeviceKind::Fs, "/data", "used_pct", move |i| {
            used(i) / size * 100.0
        }),
    ];
    m.devices.extend(series);
    build(m)
}

#[test]
fn a_filesystem_full_within_seven_days() {
    // 721 intervals: an hour from first to last; 6.9 days left at 1 MB/s.
    let r = growing(721, 6.9 * 86_400.0);
    let f = find(&r, "fs_full");
    assert_eq!(f.subject.as_deref(), Some("/data"));
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.text,
        "/data was 40.4% full at the end (at most 40.4%). It grew by 3.35 GiB over 1 h; \
         at that rate it is full in about 6 d 21 h."
    );
    assert_eq!(evidence(f, "growth"), 1e6);
    assert_eq!(evidence(f, "time to full at that rate"), 596_160.0);
    // 7.1 days left: not within a week.
    let r = growing(721, 7.1 * 86_400.0);
    assert!(
        evaluated(&r, "fs_full") && !fires(&r, "fs_full"),
        "{:?}",
        ids(&r)
    );
    // 6.9 days left, but seen for 5 s less than an hour: too short to project.
    let r = growing(720, 6.9 * 86_400.0);
    assert!(!fires(&r, "fs_full"), "{:?}", ids(&r));
}

#[test]
fn filesystems_running_out_of_inodes() {
    let mut m = machine("fs", 100, |_, r| cpu(r, 20.0, 0.0, 0.0));
    let mut fs = |name: &str, inodes: fn(usize) -> f64| {
        let s = [
            device(&m, DeviceKind::Fs, name, "used_pct", |_| 50.0),
            device(&m, DeviceKind::Fs, name, "inodes_used_pct", inodes),
        ];
        m.devices.extend(s);
    };
    // Judged at the end: 99% before, 90% at the end is a warning.
    fs("/a", |i| if i < 50 { 99.0 } else { 90.0 });
    fs("/b", |_| 95.0);
    // 99% before, 89.9% at the end: nothing.
    fs("/c", |i| if i < 50 { 99.0 } else { 89.9 });
    fs("/d", |_| 94.9);
    let r = build(m);
    let mut found: Vec<(&str, Severity, f64)> = r
        .findings()
        .iter()
        .filter(|f| f.id == "fs_inodes")
        .map(|f| {
            (
                f.subject.as_deref().unwrap_or("?"),
                f.severity,
                evidence(f, "inodes used at the end"),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(b.0));
    assert_eq!(
        found,
        [
            ("/a", Severity::Warning, 90.0),
            ("/b", Severity::Critical, 95.0),
            ("/d", Severity::Warning, 94.9),
        ]
    );
    let a = r
        .findings()
        .into_iter()
        .find(|f| f.id == "fs_inodes" && f.subject.as_deref() == Some("/a"))
        .expect("/a");
    assert!(
        a.text
            .starts_with("/a had 90% of its inodes in use at the end: new files fail"),
        "{}",
        a.text
    );
    assert!(
        a.thresholds
            .iter()
            .any(|t| t.name == "inodes_used_pct ≥" && t.value == 90.0)
    );
    assert!(!fires(&r, "fs_full"), "space is fine: {:?}", ids(&r));
}

/// Container findings: throttled in 25% or more of the CFS periods, memory at
/// 90% or more of the limit, each for at least 10% of the time (50% = critical).
#[test]
fn container_limits_at_their_thresholds() {
    let mut m = machine("ctr", 100, |_, r| cpu(r, 20.0, 0.0, 0.0));
    let c = DeviceKind::Container;
    let series = [
        // "web": throttled 30% of periods in 10 of 100 intervals: 10% of the time, warning.
        device(&m, c, "web", "throttled_pct", |i| {
            if i < 10 { 30.0 } else { 0.0 }
        }),
        device(&m, c, "web", "cpu_pct", |_| 50.0),
        device(&m, c, "web", "cpu_limit_cores", |_| 0.5),
        // "batch": throttled exactly 25% all the time: critical.
        device(&m, c, "batch", "throttled_pct", |_| 25.0),
        // "idle": throttled 24.9% (below) all the time, and in 9 intervals 100%: 9% < 10%.
        device(&m, c, "idle", "throttled_pct", |i| {
            if i < 9 { 100.0 } else { 24.9 }
        }),
        // "db": memory at 90% of its limit for 60 of 100 intervals: critical.
        device(&m, c, "db", "mem_pct", |i| if i < 60 { 90.0 } else { 50.0 }),
        device(&m, c, "db", "mem_limit_bytes", |_| 1_073_741_824.0),
        device(&m, c, "db", "mem_anon_bytes", |_| 805_306_368.0),
        // "cache": 89.9% all the time: below.
        device(&m, c, "cache", "mem_pct", |_| 89.9),
    ];
    m.devices.extend(series);
    let r = build(m);
    let mut got: Vec<(&str, &str, Severity)> = r
        .findings()
        .iter()
        .filter(|f| f.id.starts_with("container_"))
        .map(|f| (f.id, f.subject.as_deref().unwrap_or("?"), f.severity))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("container_cpu_throttled", "batch", Severity::Critical),
            ("container_cpu_throttled", "web", Severity::Warning),
            ("container_memory_limit", "db", Severity::Critical),
        ]
    );
    assert!(evaluated(&r, "container_limits"));
    let web = r
        .findings()
        .into_iter()
        .find(|f| f.subject.as_deref() == Some("web"))
        .expect("web");
    assert!((web.time_share.unwrap() - 0.10).abs() < 1e-12);
    assert_eq!(evidence(web, "CPU limit"), 0.5);
    // 10 intervals at 30% and 90 at 0%: mean 3%.
    assert!((evidence(web, "throttled periods, avg") - 3.0).abs() < 1e-9);
    assert!(web.text.contains("(0.5 CPU)"), "{}", web.text);
    let db = r
        .findings()
        .into_iter()
        .find(|f| f.subject.as_deref() == Some("db"))
        .expect("db");
    assert!((db.time_share.unwrap() - 0.60).abs() < 1e-12);
    assert_eq!(evidence(db, "memory % of limit, max"), 90.0);
    assert!(
        db.text.contains("768 MiB of the 1 GiB limit"),
        "{}",
        db.text
    );
}

#[test]
fn container_rules_are_not_evaluated_without_containers() {
    let r = build(machine("plain", 10, |_, r| cpu(r, 20.0, 0.0, 0.0)));
    assert!(!evaluated(&r, "container_limits"));
    assert!(!r.html().contains("id=\"plain-containers\""));
}
