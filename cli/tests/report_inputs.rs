//! `perfan report` on every kind of input it accepts, through the real binary and
//! without a store: our CSV (from `perfan process --format csv`), the portal CSV,
//! the older per-subsystem directory with its `system_info.json`, a capture on
//! standard input; and its options `--png`, `--from`/`--to`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn upstream() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/upstream")
}

fn capture() -> PathBuf {
    upstream().join("oci-e5-oraclelinux8/vm01_pcc_collection.json")
}

fn perfan(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_perfan"))
        .args(args)
        .env_remove("PERFAN_DB")
        .output()
        .expect("run perfan");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "perfan {args:?} failed:\n{err}");
    err
}

/// `perfan report --input INPUT --json` into `dir`; returns the summary.
fn report(dir: &Path, name: &str, input: &Path, extra: &[&str]) -> Value {
    let html = dir.join(format!("{name}.html"));
    let json = dir.join(format!("{name}.json"));
    let mut args = vec![
        "report",
        "--input",
        input.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    perfan(&args);
    assert!(std::fs::metadata(&html).unwrap().len() > 10_000);
    serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap()
}

fn chart_ids(m: &Value) -> Vec<String> {
    m["charts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Our CSV holds the rates at full precision: its report has exactly the statistics,
/// charts, devices and findings of the report from the capture it came from.
#[test]
fn our_csv_report_equals_the_capture_report() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("ours");
    perfan(&[
        "process",
        "--input",
        capture().to_str().unwrap(),
        "--output",
        csv.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    let from_csv = report(dir.path(), "csv", &csv, &["--machine", "vm01"]);
    let from_cap = report(dir.path(), "cap", &capture(), &["--machine", "vm01"]);
    let (a, b) = (&from_csv["machines"][0], &from_cap["machines"][0]);
    assert_eq!(
        a["sources"],
        serde_json::json!(["CSV (ours, wide)", "CSV (ours, per device)"])
    );
    assert_eq!(b["sources"], serde_json::json!(["capture"]));
    let metrics = b["metrics"].as_object().unwrap();
    assert_eq!(metrics.len(), a["metrics"].as_object().unwrap().len());
    assert!(metrics.len() > 30, "{}", metrics.len());
    for (name, stats) in metrics {
        for (stat, v) in stats.as_object().unwrap() {
            if let Some(x) = v.as_f64() {
                let y = a["metrics"][name][stat].as_f64().unwrap();
                assert!(close(x, y), "{name}.{stat}: capture {x}, CSV {y}");
            }
        }
    }
    assert_eq!(b["metrics"]["cpu_busy_pct"]["count"], 131);
    assert_eq!(chart_ids(a), chart_ids(b));
    // 2 CPUs, 6 disks (sda, 3 partitions, 2 LVM volumes), lo and enp0s5, 4 mounts.
    assert_eq!(a["devices"].as_array().unwrap().len(), 2 + 6 + 2 + 4);
    assert_eq!(a["devices"], b["devices"]);
    assert_eq!(from_csv["findings"], from_cap["findings"]);
}

/// The portal CSV (the older upload format): its own columns, checked against
/// averages computed here from the file itself.
#[test]
fn portal_csv_report_matches_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let portal = upstream().join("oci-e5-oraclelinux8/vm01_portal_format.csv");
    let s = report(dir.path(), "portal", &portal, &[]);
    let m = &s["machines"][0];
    assert_eq!(m["machine_id"], "vm01_portal_format");
    assert_eq!(m["sources"], serde_json::json!(["portal CSV"]));
    assert_eq!(
        chart_ids(m),
        ["cpu", "memory", "disk-throughput", "net-throughput"]
    );
    // Mean of cpu_user and of the disk write column, straight from the file.
    let text = std::fs::read_to_string(&portal).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (user, write) = (col("cpu_user"), col("disk_write_bytes"));
    let (mut n, mut su, mut sw) = (0u64, 0.0, 0.0);
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        su += f[user].parse::<f64>().unwrap();
        sw += f[write].parse::<f64>().unwrap();
        n += 1;
    }
    assert_eq!(n, 130);
    assert_eq!(m["metrics"]["cpu_user_pct"]["count"], 130);
    let avg = m["metrics"]["cpu_user_pct"]["avg"].as_f64().unwrap();
    assert!(close(avg, su / n as f64), "{avg} vs {}", su / n as f64);
    let w = m["metrics"]["disk_write_bytes_per_s"]["avg"]
        .as_f64()
        .unwrap();
    assert!(close(w, sw / n as f64), "{w} vs {}", sw / n as f64);
}

/// The older per-subsystem directory: the machine facts come from its
/// `system_info.json`, the time range from its rows.
#[test]
fn per_subsystem_directory_takes_facts_from_system_info() {
    let dir = tempfile::tempdir().unwrap();
    let s = report(
        dir.path(),
        "d4s",
        &upstream().join("azure-d4s-cpuinfo/csv"),
        &[],
    );
    let m = &s["machines"][0];
    assert_eq!(
        m["sources"],
        serde_json::json!(["per-subsystem CSV (pcprocess)"])
    );
    assert_eq!(
        m["facts"]["cpu_model"],
        "Intel(R) Xeon(R) Platinum 8272CL CPU @ 2.60GHz"
    );
    assert_eq!(m["facts"]["cpu_count"], 4);
    assert_eq!(m["facts"]["cpu_sockets"], 1);
    // proc/stat: 80 rows = 16 timestamps × (all CPUs + 4 CPUs).
    assert_eq!(m["metrics"]["cpu_busy_pct"]["count"], 16);
    assert_eq!(m["time_range"]["start"], "2026-01-09T18:10:53Z");
    assert_eq!(m["time_range"]["end"], "2026-01-09T18:12:13Z");
    let heat = chart_ids(m);
    assert!(heat.iter().any(|c| c == "cpu-heatmap"), "{heat:?}");
}

/// `--png DIR` writes one PNG per chart of the summary, named after it.
#[test]
fn png_per_chart() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("png");
    let s = report(
        dir.path(),
        "vm01",
        &capture(),
        &["--machine", "vm01", "--png", png.to_str().unwrap()],
    );
    let ids = chart_ids(&s["machines"][0]);
    let mut files: Vec<String> = std::fs::read_dir(&png)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let mut want: Vec<String> = ids.iter().map(|id| format!("vm01-{id}.png")).collect();
    want.sort();
    assert_eq!(files, want);
    for f in &files {
        let bytes = std::fs::read(png.join(f)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{f}");
        assert!(bytes.len() > 5_000, "{f}: {} bytes", bytes.len());
    }
}

/// `--from`/`--to` keep the intervals whose end lies in the range, both ends
/// included (2026-01-07T15:45:00Z is 1767800700). The expected count comes from
/// the capture itself: every `/proc/stat` tick but the first ends an interval.
#[test]
fn from_and_to_keep_a_time_range() {
    let dir = tempfile::tempdir().unwrap();
    let (lo, hi) = (1_767_800_601_i64, 1_767_800_700_i64);
    let s = report(
        dir.path(),
        "cut",
        &capture(),
        &["--from", "1767800601", "--to", "2026-01-07T15:45:00Z"],
    );
    let text = std::fs::read_to_string(capture()).unwrap();
    let mut ticks: Vec<i64> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["subsystem"] == "/proc/stat")
        .map(|v| v["timestamp"].as_i64().unwrap())
        .collect();
    ticks.sort_unstable();
    let inside: Vec<i64> = ticks[1..]
        .iter()
        .copied()
        .filter(|t| (lo..=hi).contains(t))
        .collect();
    assert!(inside.len() >= 19, "{inside:?}");
    let m = &s["machines"][0];
    assert_eq!(
        m["metrics"]["cpu_busy_pct"]["count"].as_u64().unwrap(),
        inside.len() as u64
    );
    assert_eq!(
        m["time_range"]["end_ms"].as_i64().unwrap(),
        inside.last().unwrap() * 1000
    );
}

/// `--input -` reads a capture from standard input.
#[test]
fn capture_on_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("stdin.html");
    let json = dir.path().join("stdin.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_perfan"))
        .args(["report", "--input", "-", "-o"])
        .arg(&html)
        .arg("--json")
        .arg(&json)
        .env_remove("PERFAN_DB")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(capture()).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("1 machine, 131 intervals"), "{err}");
    let s: Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    assert_eq!(s["machines"][0]["metrics"]["cpu_busy_pct"]["count"], 131);
}

/// The older container collector's capture: records of `container/docker/<id>`
/// only, named by the `container_names.json` beside it; and the run directory,
/// where the host's capture and the containers' are one machine.
#[test]
fn container_capture_and_the_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = upstream().join("oci-e5-ubuntu24-containers");
    let s = report(
        dir.path(),
        "containers",
        &run.join("container_collection.json"),
        &[],
    );
    let m = &s["machines"][0];
    let ids = chart_ids(m);
    for id in ["containers-cpu", "containers-memory", "containers-io"] {
        assert!(ids.contains(&id.to_owned()), "{id} in {ids:?}");
    }
    // No host data: no host charts pretending to have some.
    assert!(!ids.iter().any(|c| c == "cpu" || c == "memory"), "{ids:?}");
    let mut names: Vec<&str> = m["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "container")
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "loadtest-container-1",
            "loadtest-container-2",
            "loadtest-container-3"
        ]
    );
    let html = std::fs::read_to_string(dir.path().join("containers.html")).unwrap();
    assert!(html.contains(">Containers</h3>"));

    // A copy without the names file: short ids, as docker ps shows them.
    let bare = dir.path().join("bare.json");
    std::fs::copy(run.join("container_collection.json"), &bare).unwrap();
    let s = report(dir.path(), "bare", &bare, &[]);
    let mut ids: Vec<&str> = s["machines"][0]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids, ["942b476921d8", "b98291792f12", "c699f0b00fb8"]);

    // The whole run directory: host and containers in one machine.
    let s = report(dir.path(), "run", &run, &[]);
    assert_eq!(s["machines"].as_array().unwrap().len(), 1);
    let m = &s["machines"][0];
    assert_eq!(m["machine_id"], "oci-e5-ubuntu24-containers");
    assert_eq!(m["quality"]["intervals"], 125);
    assert_eq!(m["quality"]["duplicate_timestamps"], 0);
    assert_eq!(
        m["quality"]["skipped_lines"], 0,
        "container_names.json is not a capture"
    );
    let ids = chart_ids(m);
    for id in ["cpu", "cpu-heatmap", "containers-cpu"] {
        assert!(ids.contains(&id.to_owned()), "{id} in {ids:?}");
    }
    assert_eq!(m["facts"]["cpu_model"], "AMD EPYC 9J14 96-Core Processor");
    // system_info/uname.txt of the run folder: the host name and kernel.
    assert_eq!(m["facts"]["kernel"], "6.14.0-1016-oracle");
    assert_eq!(m["facts"]["hostname"], "perftestvm02");

    // Without container_names.json, the docker ps output of the run names them.
    let ps_dir = dir.path().join("ps");
    std::fs::create_dir_all(ps_dir.join("system_info")).unwrap();
    std::fs::copy(run.join("container_collection.json"), ps_dir.join("c.json")).unwrap();
    std::fs::copy(
        run.join("system_info/docker_ps.txt"),
        ps_dir.join("system_info/docker_ps.txt"),
    )
    .unwrap();
    let s = report(dir.path(), "ps", &ps_dir.join("c.json"), &[]);
    let mut names: Vec<&str> = s["machines"][0]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names,
        [
            "loadtest-container-1",
            "loadtest-container-2",
            "loadtest-container-3"
        ]
    );
}
