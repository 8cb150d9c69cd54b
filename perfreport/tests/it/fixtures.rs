//! Reports of the older tools' real captures and CSV files
//! (`../shared/fixtures/upstream/`): what a performance engineer would expect
//! from them.

use std::path::PathBuf;

use perfreport::{ReportOptions, Severity, input};

fn upstream(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/upstream")
        .join(rel)
}

fn capture(id: &str, rel: &str) -> perfreport::MachineSeries {
    let f = std::fs::File::open(upstream(rel)).expect("fixture");
    input::from_capture(id, std::io::BufReader::new(f)).expect("capture")
}

#[test]
fn azure_b1s_under_sysbench() {
    // sysbench_cpu.log: one thread, 600 s, on a 1-vCPU B1s; 131 intervals of 5 s.
    let m = capture("b1s", "azure-b1s-ubuntu/pcc_collection.json");
    let r = perfreport::build(&[m], &ReportOptions::default()).expect("report");
    let mr = &r.machines()[0];
    assert_eq!(mr.quality.intervals, 131);
    assert_eq!(mr.quality.median_interval_s, Some(5.0));
    assert!(mr.quality.is_clean(), "{:?}", mr.quality);
    assert_eq!(mr.facts.cpu_count, Some(1));
    assert_eq!(mr.facts.mem_total_bytes, Some(889_843_712));
    let f = &r.findings()[0];
    assert_eq!((f.id, f.severity), ("cpu_saturation", Severity::Critical));
    // 600 s of load in 655 s of data.
    let share = f.time_share.expect("share");
    assert!((0.85..0.95).contains(&share), "{share}");
    let charts = mr.chart_ids();
    for c in [
        "cpu",
        "load",
        "memory",
        "disk-throughput",
        "disk-util",
        "net-throughput",
        "fs-usage",
    ] {
        assert!(charts.contains(&c), "{c} in {charts:?}");
    }
    assert!(!charts.contains(&"cpu-heatmap"), "one CPU: no heat map");
    // Partitions and idle loop devices are not charted but named.
    let html = r.html();
    assert!(html.contains("Not charted: partitions sda1"));
}

#[test]
fn oci_host_with_containers() {
    let m = capture("host", "oci-e5-ubuntu24-containers/host_collection.json");
    let r = perfreport::build(&[m], &ReportOptions::default()).expect("report");
    let mr = &r.machines()[0];
    assert_eq!(
        mr.facts.cpu_model.as_deref(),
        Some("AMD EPYC 9J14 96-Core Processor")
    );
    assert!(mr.chart_ids().contains(&"cpu-heatmap"));
    assert_eq!(r.findings()[0].id, "cpu_saturation");
    // Two CPUs busy together: not a single-CPU bottleneck.
    assert!(!r.findings().iter().any(|f| f.id == "cpu_single"));
}

#[test]
fn oci_host_and_its_containers_in_one_report() {
    let host = capture("oci", "oci-e5-ubuntu24-containers/host_collection.json");
    let ctr = capture(
        "oci",
        "oci-e5-ubuntu24-containers/container_collection.json",
    );
    let host_rows = host.rows.len();
    assert_eq!(host_rows, 125);
    // The container capture has no host sources: its rows carry only timestamps.
    assert!(
        ctr.rows
            .iter()
            .all(|r| r.values.iter().all(Option::is_none))
    );
    let mut merged = input::merge(vec![host, ctr]);
    assert_eq!(merged.len(), 1);
    assert_eq!(
        merged[0].rows.len(),
        host_rows,
        "no empty rows beside the host's"
    );
    let names = perfcore::container::names_in_dir(&upstream("oci-e5-ubuntu24-containers"))
        .unwrap()
        .expect("container_names.json");
    assert_eq!(input::name_containers(&mut merged[0], &names), 3);
    let r = perfreport::build(&merged, &ReportOptions::default()).expect("report");
    let mr = &r.machines()[0];
    assert_eq!(mr.quality.duplicate_timestamps, 0);
    for id in [
        "containers-cpu",
        "containers-memory",
        "containers-io",
        "cpu-heatmap",
    ] {
        assert!(mr.chart_ids().contains(&id), "{id} in {:?}", mr.chart_ids());
    }
    let j = r.json();
    let devs = j["machines"][0]["devices"].as_array().unwrap();
    let ctrs: Vec<&serde_json::Value> = devs.iter().filter(|d| d["kind"] == "container").collect();
    let mut labels: Vec<&str> = ctrs.iter().map(|d| d["device"].as_str().unwrap()).collect();
    labels.sort();
    assert_eq!(
        labels,
        [
            "loadtest-container-1",
            "loadtest-container-2",
            "loadtest-container-3"
        ]
    );
    // Each ran sysbench capped at 0.5 CPU but got about a third of one CPU: the
    // host's own two-thread sysbench kept both CPUs busy (containers.csv shows
    // 32.55% to 34.05% while they ran).
    for d in &ctrs {
        let cpu = &d["metrics"]["cpu_pct"];
        let max = cpu["max"].as_f64().unwrap();
        assert!((33.0..34.1).contains(&max), "{}: {max}", d["device"]);
        assert_eq!(d["last"]["cpu_limit_cores"], 0.5);
        assert_eq!(d["last"]["mem_limit_bytes"], 536_870_912.0);
    }
    let html = r.html();
    assert!(
        html.contains("id=\"oci-containers\""),
        "the Containers section"
    );
    assert!(html.contains("<td>loadtest-container-2</td>"));
    // Neither throttled for long nor near its memory limit.
    assert!(!r.findings().iter().any(|f| f.id.starts_with("container_")));
}

#[test]
fn portal_csv_of_the_same_run_finds_the_same_load() {
    let bytes = std::fs::read(upstream(
        "azure-b1s-ubuntu/azure_pcc-test-01_performance.csv",
    ))
    .expect("csv");
    let ms = input::from_bytes("portal", &bytes).expect("portal csv");
    let r = perfreport::build(&ms, &ReportOptions::default()).expect("report");
    assert_eq!(r.findings()[0].id, "cpu_saturation");
    let mr = &r.machines()[0];
    assert_eq!(
        mr.quality.counter_resets, None,
        "CSV carries rates, not counters"
    );
    // Only totals: disk and network charts of all devices together.
    assert!(mr.chart_ids().contains(&"disk-throughput"));
    assert!(!mr.chart_ids().contains(&"disk-util"));
}

#[test]
fn idle_machine_has_nothing_to_say() {
    let m = capture("d4s", "azure-d4s-cpuinfo/loadtest-cpuinfo.json");
    let r = perfreport::build(&[m], &ReportOptions::default()).expect("report");
    assert!(r.findings().is_empty(), "{:?}", r.findings());
    assert!(r.html().contains("Nothing stood out"));
    assert_eq!(r.machines()[0].facts.cpu_count, Some(4));
}

#[test]
fn per_subsystem_csv_directory_agrees_with_its_capture() {
    // processed/ is what the older pcprocess wrote from pcc_collection.json.
    let csv = input::from_pcprocess_dir("b1s", &upstream("azure-b1s-ubuntu/processed"))
        .expect("read_dir");
    let cap = capture("b1s", "azure-b1s-ubuntu/pcc_collection.json");
    let opts = ReportOptions::default();
    let r_csv = perfreport::build(&[csv], &opts).expect("report");
    let r_cap = perfreport::build(&[cap], &opts).expect("report");
    assert_eq!(r_csv.findings()[0].id, "cpu_saturation");
    // Memory available: MemTotal is not in the files; used / %used gives it back.
    let a = r_csv.machines()[0]
        .metric("mem_available_pct")
        .expect("csv");
    let b = r_cap.machines()[0]
        .metric("mem_available_pct")
        .expect("capture");
    assert!((a.min - b.min).abs() < 1e-9 && (a.max - b.max).abs() < 1e-9);
    assert!(r_csv.machines()[0].chart_ids().contains(&"fs-usage"));
}
