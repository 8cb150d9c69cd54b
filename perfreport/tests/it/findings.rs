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
