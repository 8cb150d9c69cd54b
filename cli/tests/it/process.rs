//! `perfan process`: capture -> CSV files, in each format, from a file and from stdin.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use perfcore::csv::pcprocess::File;

use super::{fixtures, perfan, text};

/// The fixture captures: (path, has cpuinfo).
fn captures() -> Vec<(PathBuf, bool)> {
    let up = fixtures().join("upstream");
    vec![
        (up.join("azure-b1s-ubuntu/pcc_collection.json"), false),
        (
            up.join("oci-e5-oraclelinux8/vm01_pcc_collection.json"),
            false,
        ),
        (
            up.join("oci-e5-ubuntu24-containers/host_collection.json"),
            true,
        ),
        (up.join("azure-d4s-cpuinfo/loadtest-cpuinfo.json"), true),
    ]
}

/// What a capture holds: tick timestamps and, per file, the keys that get rows.
struct Expect {
    ticks: Vec<i64>,
    keys: BTreeMap<&'static str, BTreeSet<String>>,
}

fn expect(capture: &Path) -> Expect {
    let f = std::fs::File::open(capture).unwrap();
    let samples = perfcore::capture::read_all(std::io::BufReader::new(f)).unwrap();
    let ticks = samples.iter().map(|s| s.timestamp_s()).collect();
    let last = samples.last().unwrap().parse().unwrap();
    let st = last.stat.unwrap();
    let mut keys: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut cpu: BTreeSet<String> = st.cpus.iter().map(|c| c.id.to_string()).collect();
    cpu.insert("-1".into());
    keys.insert("proc/stat", cpu);
    keys.insert("proc/meminfo", [String::new()].into());
    keys.insert(
        "proc/net/dev",
        last.net_dev
            .unwrap()
            .iter()
            .map(|n| n.name.to_owned())
            .collect(),
    );
    // Devices that never completed an I/O get no rows (iostat, the older tool).
    keys.insert(
        "proc/diskstats",
        last.diskstats
            .unwrap()
            .iter()
            .filter(|d| d.reads_completed + d.writes_completed > 0)
            .map(|d| d.name.to_owned())
            .collect(),
    );
    keys.insert(
        "statfs_ALL",
        last.statfs
            .unwrap()
            .iter()
            .map(|m| m.mount_point.to_string())
            .collect(),
    );
    Expect { ticks, keys }
}

/// Rows of a pcprocess file grouped by key (`""` for meminfo): count per key.
fn rows_per_key(path: &Path, f: File) -> (String, BTreeMap<String, usize>, Vec<i64>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_owned();
    let mut per = BTreeMap::new();
    let mut ts = Vec::new();
    for l in lines {
        let cells: Vec<&str> = l.split(',').collect();
        let key = if f == File::Meminfo { "" } else { cells[1] };
        *per.entry(key.to_owned()).or_insert(0) += 1;
        ts.push(cells[0].parse().unwrap());
    }
    (header, per, ts)
}

fn process(input: &str, out: &Path, format: &str, stdin: Option<&[u8]>) -> (String, String) {
    let o = perfan(
        &[
            "process",
            "--input",
            input,
            "--output",
            out.to_str().unwrap(),
            "--format",
            format,
        ],
        stdin,
    );
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{input} {format}: {stderr}");
    (stdout, stderr)
}

#[test]
fn pcprocess_format_writes_n_minus_1_rows_per_key() {
    for (capture, cpuinfo) in captures() {
        let e = expect(&capture);
        let n = e.ticks.len();
        let out = tempfile::tempdir().unwrap();
        let (_, stderr) = process(capture.to_str().unwrap(), out.path(), "pcprocess", None);
        assert_eq!(
            stderr.trim_end(),
            format!(
                "perfan: {n} samples, {} intervals written to {}",
                n - 1,
                out.path().display()
            )
        );
        for f in File::ALL {
            let (header, per, ts) = rows_per_key(&out.path().join(f.path()), f);
            assert_eq!(header, f.header());
            let keys: BTreeSet<String> = per.keys().cloned().collect();
            assert_eq!(
                &keys,
                &e.keys[f.path()],
                "{} {}",
                capture.display(),
                f.path()
            );
            for (key, count) in &per {
                assert_eq!(*count, n - 1, "{} {} {key}", capture.display(), f.path());
            }
            // One timestamp per interval: the later sample's, S1..S(n-1).
            let distinct: Vec<i64> = ts
                .iter()
                .copied()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            assert_eq!(distinct, e.ticks[1..].to_vec());
        }
        assert_eq!(out.path().join("system_info.json").exists(), cpuinfo);
    }
}

#[test]
fn portal_format_writes_one_row_per_interval() {
    for (capture, _) in captures() {
        let e = expect(&capture);
        let out = tempfile::tempdir().unwrap();
        process(capture.to_str().unwrap(), out.path(), "portal", None);
        let text = std::fs::read_to_string(out.path().join("portal.csv")).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(perfcore::csv::portal::HEADER));
        let ts: Vec<i64> = lines
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(ts, e.ticks[1..].to_vec(), "{}", capture.display());
    }
}

#[test]
fn csv_format_writes_wide_and_long_files() {
    for (capture, _) in captures() {
        let e = expect(&capture);
        let n = e.ticks.len();
        let out = tempfile::tempdir().unwrap();
        process(capture.to_str().unwrap(), out.path(), "csv", None);
        let wide = std::fs::read_to_string(out.path().join("intervals.csv")).unwrap();
        let mut lines = wide.lines();
        assert_eq!(
            lines.next().map(str::to_owned),
            Some(perfcore::csv::ours::wide_header())
        );
        let stem = capture.file_stem().unwrap().to_str().unwrap();
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), n - 1, "{}", capture.display());
        assert!(rows.iter().all(|r| r.split(',').nth(1) == Some(stem)));

        let long = std::fs::read_to_string(out.path().join("devices.csv")).unwrap();
        let mut lines = long.lines();
        assert_eq!(lines.next(), Some(perfcore::csv::ours::LONG_HEADER));
        let mut per: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        for l in lines {
            let c: Vec<&str> = l.split(',').collect();
            *per.entry((c[2].into(), c[3].into(), c[4].into()))
                .or_insert(0) += 1;
        }
        assert!(!per.is_empty());
        for (k, count) in per {
            assert_eq!(count, n - 1, "{} {k:?}", capture.display());
        }
    }
}

#[test]
fn stdin_input_gives_the_same_files() {
    let (capture, _) = &captures()[3];
    let bytes = std::fs::read(capture).unwrap();
    let from_file = tempfile::tempdir().unwrap();
    let from_stdin = tempfile::tempdir().unwrap();
    process(
        capture.to_str().unwrap(),
        from_file.path(),
        "pcprocess",
        None,
    );
    process("-", from_stdin.path(), "pcprocess", Some(&bytes));
    for f in File::ALL
        .iter()
        .map(|f| f.path())
        .chain(["system_info.json"])
    {
        assert_eq!(
            std::fs::read(from_file.path().join(f)).unwrap(),
            std::fs::read(from_stdin.path().join(f)).unwrap(),
            "{f}"
        );
    }
    // Our CSV names the machine "stdin" when it came from stdin.
    let out = tempfile::tempdir().unwrap();
    process("-", out.path(), "csv", Some(&bytes));
    let wide = std::fs::read_to_string(out.path().join("intervals.csv")).unwrap();
    assert_eq!(
        wide.lines().nth(1).unwrap().split(',').nth(1),
        Some("stdin")
    );
}

/// The first `lines` lines of a fixture capture followed by `tail`.
fn broken_capture(lines: usize, tail: &str) -> Vec<u8> {
    let (capture, _) = &captures()[3];
    let text = std::fs::read_to_string(capture).unwrap();
    let mut out: String = text.lines().take(lines).map(|l| format!("{l}\n")).collect();
    out.push_str(tail);
    out.into_bytes()
}

#[test]
fn malformed_capture_line_exits_1_with_one_line_naming_it() {
    let bytes = broken_capture(
        14,
        "{\"timestamp\":1767982258,\"subsystem\":\"/proc/stat\",\"measure\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, &bytes).unwrap();
    for (input, stdin) in [(path.to_str().unwrap(), None), ("-", Some(&bytes[..]))] {
        let o = perfan(
            &[
                "process",
                "--input",
                input,
                "--output",
                dir.path().join("out").to_str().unwrap(),
            ],
            stdin,
        );
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert!(stdout.is_empty());
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("perfan: error: processing "), "{stderr}");
        assert!(stderr.contains("capture line 15:"), "{stderr}");
    }
}

#[test]
fn malformed_proc_text_in_a_capture_names_the_file_and_line() {
    let bytes = broken_capture(
        12,
        "{\"timestamp\":1767982258,\"subsystem\":\"/proc/meminfo\",\"measurement\":\"MemTotal: 10 kB\\nMemFree: lots kB\\n\"}\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let o = perfan(
        &[
            "process",
            "--input",
            "-",
            "--output",
            dir.path().to_str().unwrap(),
        ],
        Some(&bytes),
    );
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("/proc/meminfo: line 2"), "{stderr}");
}

/// The older container collector's capture through `perfan process`: the
/// containers.csv the older processor wrote, byte for byte (names from the
/// container_names.json beside the capture); `--format csv` names them too.
#[test]
fn container_capture_gives_the_older_containers_csv() {
    let run = fixtures().join("upstream/oci-e5-ubuntu24-containers");
    let input = run.join("container_collection.json");
    let out = tempfile::tempdir().unwrap();
    process(input.to_str().unwrap(), out.path(), "pcprocess", None);
    let ours = std::fs::read(out.path().join("containers.csv")).unwrap();
    assert!(ours == std::fs::read(run.join("containers.csv")).unwrap());
    let csv = tempfile::tempdir().unwrap();
    process(input.to_str().unwrap(), csv.path(), "csv", None);
    let devices = std::fs::read_to_string(csv.path().join("devices.csv")).unwrap();
    // 126 intervals x 3 containers x 15 metrics, all named.
    assert_eq!(devices.lines().count(), 1 + 126 * 3 * 15);
    let named: BTreeSet<&str> = devices
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).unwrap())
        .collect();
    assert_eq!(
        named.into_iter().collect::<Vec<_>>(),
        [
            "loadtest-container-1",
            "loadtest-container-2",
            "loadtest-container-3"
        ]
    );
    // The host's capture has no container records: no containers.csv.
    let host = tempfile::tempdir().unwrap();
    process(
        run.join("host_collection.json").to_str().unwrap(),
        host.path(),
        "pcprocess",
        None,
    );
    assert!(!host.path().join("containers.csv").exists());
}
