//! Container records of the older container collector, through the delta math,
//! against the CSV the older processor derived from the same records.

use std::collections::HashMap;

use perfcore::capture::SampleReader;
use perfcore::process::{Collect, run};

use crate::fixtures;

/// `containers.csv`: (container id, timestamp) -> its columns by name.
fn upstream_rows() -> HashMap<(String, i64), HashMap<String, String>> {
    let path = fixtures().join("upstream/oci-e5-ubuntu24-containers/containers.csv");
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    let mut out = HashMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let row: HashMap<String, String> = header
            .iter()
            .cloned()
            .zip(rec.iter().map(str::to_owned))
            .collect();
        let key = (
            row["container_id"].clone(),
            row["timestamp"].parse().unwrap(),
        );
        out.insert(key, row);
    }
    out
}

#[test]
fn every_interval_agrees_with_the_older_containers_csv() {
    let capture = std::fs::read(
        fixtures().join("upstream/oci-e5-ubuntu24-containers/container_collection.json"),
    )
    .unwrap();
    let mut sink = Collect::default();
    let stats = run(SampleReader::new(capture.as_slice()), &mut sink).unwrap();
    // 127 ticks of 3 containers, 5 s apart.
    assert_eq!(
        (stats.samples, stats.intervals, stats.resets),
        (127, 126, 0)
    );
    let theirs = upstream_rows();
    assert_eq!(theirs.len(), 381);
    let mut compared = 0;
    for r in &sink.rows {
        assert_eq!(r.elapsed_s, 5.0);
    }
    // Our per-container series, matched to their rows by full id and timestamp.
    let mut ours: HashMap<(String, i64), HashMap<&str, f64>> = HashMap::new();
    for d in &sink.devices {
        assert_eq!(d.kind, perfcore::metrics::DeviceKind::Container);
        ours.entry((d.device.clone(), d.timestamp_ms / 1000))
            .or_default()
            .insert(d.metric, d.value);
    }
    for ((id, ts), row) in &theirs {
        let label = &id[..12];
        let Some(m) = ours.get(&(label.to_string(), *ts)) else {
            // Only a container's first record has no interval: its CPU columns are empty.
            assert_eq!(row["cpu_percent"], "", "{id} at {ts}: no interval of ours");
            continue;
        };
        // They print CPU % and memory % with two decimals.
        for (col, metric) in [
            ("cpu_percent", "cpu_pct"),
            ("cpu_user_percent", "cpu_user_pct"),
            ("cpu_system_percent", "cpu_system_pct"),
            ("memory_percent", "mem_pct"),
        ] {
            let t: f64 = row[col].parse().unwrap();
            assert!(
                (m[metric] - t).abs() <= 0.005 + 1e-9,
                "{id} at {ts}: {col} {t} vs our {metric} {}",
                m[metric]
            );
        }
        // Gauges exactly.
        assert_eq!(
            m["mem_bytes"],
            row["memory_current_bytes"].parse::<f64>().unwrap()
        );
        assert_eq!(
            m["mem_limit_bytes"],
            row["memory_max_bytes"].parse::<f64>().unwrap()
        );
        assert_eq!(m["pids"], row["pids_current"].parse::<f64>().unwrap());
        assert_eq!(m["cpu_limit_cores"], 0.5, "quota 50000 / period 100000");
        compared += 1;
    }
    assert_eq!(compared, 378, "every row but each container's first");
}

#[test]
fn io_rates_are_the_byte_counters_over_the_interval() {
    // Container 942b476921d8 between 1768021423 and 1768021428 (from the capture):
    // io_read_bytes 50,896,896 -> 59,875,328: 8,978,432 B / 5 s = 1,795,686.4 B/s;
    // io_read_ops 95 -> 127: 32 / 5 s = 6.4 /s; writes unchanged: 0.
    let capture = std::fs::read(
        fixtures().join("upstream/oci-e5-ubuntu24-containers/container_collection.json"),
    )
    .unwrap();
    let mut sink = Collect::default();
    run(SampleReader::new(capture.as_slice()), &mut sink).unwrap();
    let get = |metric: &str| {
        sink.devices
            .iter()
            .find(|d| {
                d.device == "942b476921d8"
                    && d.timestamp_ms == 1_768_021_428_000
                    && d.metric == metric
            })
            .map(|d| d.value)
    };
    assert_eq!(get("read_bytes_per_s"), Some(1_795_686.4));
    assert_eq!(get("reads_per_s"), Some(6.4));
    assert_eq!(get("write_bytes_per_s"), Some(0.0));
    assert_eq!(get("writes_per_s"), Some(0.0));
}

#[test]
fn a_restarted_container_is_a_reset_and_a_bad_record_names_itself() {
    let rec = |ts: i64, usage: u64| {
        format!(
            "{{\"timestamp\":{ts},\"subsystem\":\"container/docker/abcdef123456\",\"measurement\":\"{{\\\"container_id\\\":\\\"abcdef1234567890\\\",\\\"container_name\\\":\\\"api\\\",\\\"cpu_usage_usec\\\":{usage}}}\"}}\n"
        )
    };
    // 0 -> 1 s of CPU in 10 s: 10 %; then the counter restarts: no rate, a reset.
    let text = format!("{}{}{}", rec(100, 0), rec(110, 1_000_000), rec(120, 5));
    let mut sink = Collect::default();
    let stats = run(SampleReader::new(text.as_bytes()), &mut sink).unwrap();
    assert_eq!(stats.resets, 1);
    let cpu: Vec<(i64, f64)> = sink
        .devices
        .iter()
        .filter(|d| d.metric == "cpu_pct")
        .map(|d| (d.timestamp_ms, d.value))
        .collect();
    assert_eq!(cpu, vec![(110_000, 10.0)]);
    assert_eq!(sink.devices[0].device, "api");

    let bad =
        "{\"timestamp\":1,\"subsystem\":\"container/docker/x\",\"measurement\":\"{not json\"}\n";
    let e = run(SampleReader::new(bad.as_bytes()), &mut Collect::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("container/docker/x"), "{e}");
}

#[test]
fn containers_csv_is_the_older_processors_file_byte_for_byte() {
    use perfcore::csv::pcprocess::{CONTAINERS_CSV, PcprocessOptions, PcprocessWriter};
    let dir = fixtures().join("upstream/oci-e5-ubuntu24-containers");
    let capture = std::fs::read(dir.join("container_collection.json")).unwrap();
    let names = perfcore::container::names_from_json(
        &std::fs::read(dir.join("container_names.json")).unwrap(),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut opts = PcprocessOptions::default();
    opts.container_names = Some(names);
    let mut w = PcprocessWriter::create(out.path(), opts).unwrap();
    run(SampleReader::new(capture.as_slice()), &mut w).unwrap();
    let ours = std::fs::read(out.path().join(CONTAINERS_CSV)).unwrap();
    let theirs = std::fs::read(dir.join("containers.csv")).unwrap();
    assert_eq!(ours.len(), theirs.len());
    assert!(ours == theirs, "containers.csv differs");

    // Without the names file the name column is empty, the rest unchanged.
    let out2 = tempfile::tempdir().unwrap();
    let mut w = PcprocessWriter::create(out2.path(), PcprocessOptions::default()).unwrap();
    run(SampleReader::new(capture.as_slice()), &mut w).unwrap();
    let bare = std::fs::read_to_string(out2.path().join(CONTAINERS_CSV)).unwrap();
    let theirs = String::from_utf8(theirs).unwrap();
    for (a, b) in bare.lines().zip(theirs.lines()).skip(1) {
        let b = b
            .replace(",loadtest-container-1,", ",,")
            .replace(",loadtest-container-2,", ",,")
            .replace(",loadtest-container-3,", ",,");
        assert_eq!(a, b);
    }

    // A capture without container records writes no containers.csv.
    let host = std::fs::read(dir.join("host_collection.json")).unwrap();
    let out3 = tempfile::tempdir().unwrap();
    let mut w = PcprocessWriter::create(out3.path(), PcprocessOptions::default()).unwrap();
    run(SampleReader::new(host.as_slice()), &mut w).unwrap();
    assert!(!out3.path().join(CONTAINERS_CSV).exists());
}
