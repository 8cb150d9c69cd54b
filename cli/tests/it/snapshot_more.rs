//! More of the CLI's edges: `perfan snapshot` on malformed /proc files and as a
//! table, a capture that holds only `/proc/stat`, and usage errors on one line.

use std::path::Path;

use super::snapshot::sample0;
use super::{fixtures, perfan, text};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The fixture's proc tree with `file` replaced by a corpus case's malformed input:
/// exit 1, nothing on stdout, one stderr line naming the file and its line.
#[test]
fn snapshot_of_a_malformed_proc_file_fails_with_one_line_naming_it() {
    let corpus = fixtures().join("corpus");
    for (case, file, named) in [
        // "thp_split abcd"
        (
            "telegraf/vmstat-invalid/proc/vmstat",
            "vmstat",
            "/proc/vmstat: line 13",
        ),
        // "btime" without a value
        (
            "telegraf/kernel-stat-invalid-btime/proc/stat",
            "stat",
            "/proc/stat: line 5",
        ),
        // "HugePages_Free:      sixtynine"
        (
            "telegraf/meminfo-hugepages-invalid/proc/meminfo",
            "meminfo",
            "/proc/meminfo: line 4",
        ),
        // "malformed line"
        (
            "procfs/loadavg-inline-variants/malformed.txt",
            "loadavg",
            "/proc/loadavg: line 1",
        ),
        // "some avg10=0.10 avg60=2.00 avg300=3.85 total=oops"
        (
            "procfs/pressure-inline-malformed/malformed-some.txt",
            "pressure/cpu",
            "/proc/pressure/cpu: line 1",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let proc = dir.path().join("proc");
        copy_tree(&sample0(), &proc);
        std::fs::copy(corpus.join(case), proc.join(file)).unwrap();
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir(&rootfs).unwrap();
        for format in ["json", "table"] {
            let out = perfan(
                &[
                    "snapshot",
                    "--proc-root",
                    proc.to_str().unwrap(),
                    "--rootfs",
                    rootfs.to_str().unwrap(),
                    "--format",
                    format,
                ],
                None,
            );
            let (stdout, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(1), "{case} {format}: {stderr}");
            assert!(stdout.is_empty(), "{case} {format}: {stdout}");
            assert_eq!(stderr.lines().count(), 1, "{case} {format}: {stderr}");
            assert!(stderr.starts_with("perfan: error: "), "{case}: {stderr}");
            assert!(stderr.contains(named), "{case}: {stderr}");
            // The file actually read, under the proc root, is named first.
            let real = format!("perfan: error: {}: {named}", proc.join(file).display());
            assert!(stderr.starts_with(&real), "{case}: {stderr}");
        }
    }
    // The unknown-line-type PSI case is not malformed: it is ignored, no error.
    let dir = tempfile::tempdir().unwrap();
    let proc = dir.path().join("proc");
    copy_tree(&sample0(), &proc);
    std::fs::copy(
        corpus.join("procfs/pressure-inline-malformed/unknown-type.txt"),
        proc.join("pressure/io"),
    )
    .unwrap();
    let out = perfan(
        &[
            "snapshot",
            "--proc-root",
            proc.to_str().unwrap(),
            "--rootfs",
            dir.path().to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
}

/// Whether some line of `out` has exactly these whitespace-separated words.
fn has_line(out: &str, words: &[&str]) -> bool {
    out.lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == words)
}

#[test]
fn snapshot_table_shows_the_fixture_values() {
    let rootfs = tempfile::tempdir().unwrap();
    let out = perfan(
        &[
            "snapshot",
            "--proc-root",
            sample0().to_str().unwrap(),
            "--rootfs",
            rootfs.path().to_str().unwrap(),
            "--format",
            "table",
        ],
        None,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let expect: &[&[&str]] = &[
        // stat: "cpu  148834 0 30682 82516 1732 0 694 3858 0 0"
        &[
            "cpu", "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
        ],
        &[
            "all", "148834", "0", "30682", "82516", "1732", "0", "694", "3858",
        ],
        // "cpu0 71574 0 14344 45555 662 0 98 1964 0 0", "cpu1 77259 0 16337 36961 1069 0 596 1894 0 0"
        &[
            "0", "71574", "0", "14344", "45555", "662", "0", "98", "1964",
        ],
        &[
            "1", "77259", "0", "16337", "36961", "1069", "0", "596", "1894",
        ],
        // ctxt 4021428, intr 1937568 ..., processes 63535, procs_running 2, procs_blocked 0
        &[
            "context",
            "switches",
            "4021428",
            "interrupts",
            "1937568",
            "forks",
            "63535",
            "running",
            "2",
            "blocked",
            "0",
        ],
        // loadavg: "1.28 1.61 1.50 2/98 31086"
        &[
            "Load", "average", "1.28", "1.61", "1.50", "(2", "runnable", "of", "98", "tasks)",
        ],
        // meminfo (kB)
        &["MemTotal", "24684092"],
        &["MemFree", "22872852"],
        &["MemAvailable", "23849776"],
        &["Buffers", "11148"],
        &["Cached", "1231496"],
        &["Slab", "220456"],
        &["SwapTotal", "0"],
        // diskstats: "254 0 vda 261036 20937 11883506 431368 45530 100629 46386728 243206 0 39268 ..."
        &["vda", "261036", "45530", "11883506", "46386728", "39268"],
        // net/dev: "eth0: 401005423 16848 0 0 0 0 0 0 1431664 11466 0 0 ..."
        &["eth0", "401005423", "16848", "1431664", "11466", "0", "0"],
        &[
            "lo",
            "4971306654",
            "118806",
            "4971306654",
            "118806",
            "0",
            "0",
        ],
        // pressure/io: "some avg10=0.35 ...", "full avg10=0.18 ..."
        &["cpu", "some", "1.97", "full", "0.00"],
        &["io", "some", "0.35", "full", "0.18"],
        // cpuinfo: two processors, "model name	: AMD EPYC"
        &["CPU", "model", "AMD", "EPYC", "(2", "logical", "CPUs)"],
    ];
    for words in expect {
        assert!(has_line(&stdout, words), "no line {words:?} in:\n{stdout}");
    }
    // Devices that never did I/O (loop*, zram0) are left out.
    assert!(
        !stdout.contains("loop0") && !stdout.contains("zram0"),
        "{stdout}"
    );
}

/// Three `/proc/stat` records (nothing else) of the OCI capture, 2 CPUs, 5 s apart.
fn stat_only_capture() -> Vec<u8> {
    let capture = fixtures().join("upstream/oci-e5-oraclelinux8/vm01_pcc_collection.json");
    let text = std::fs::read_to_string(capture).unwrap();
    let mut out = String::new();
    for l in text
        .lines()
        .filter(|l| l.contains("\"subsystem\":\"/proc/stat\""))
        .take(3)
    {
        out.push_str(l);
        out.push('\n');
    }
    out.into_bytes()
}

// The three samples' lines (timestamps 1767800521, 1767800526, 1767800531):
//   cpu  35757 289 6634 310984 12369 0 44 231 0 0 | 36260 289 6639 311474 12372 0 44 231 | 36769 289 6659 311943 12372 0 45 231
//   cpu0 7891 156 3201 165781 5951 0 23 148       | 7921 156 3205 166245 5953 0 23 149   | 7936 156 3220 166713 5954 0 24 149
//   cpu1 27865 132 3432 145203 6418 0 20 82       | 28338 132 3434 145229 6418 0 20 82   | 28833 132 3438 145230 6418 0 20 82
//   intr 1124282 | 1130334 | 1136945;  ctxt 1285206 | 1287145 | 1291335;  processes 48329 | 48335 | 48367
//   procs_running 4 | 4 | 4;  procs_blocked 0 | 0 | 0;  guest and guest_nice 0 throughout.
//
// Interval 1 (…526), deltas user nice system idle iowait irq softirq steal:
//   all  503 0 5 490 3 0 0 0 = 1001;  cpu0 30 0 4 464 2 0 0 1 = 501;  cpu1 473 0 2 26 0 0 0 0 = 501
// Interval 2 (…531):
//   all  509 0 20 469 0 0 1 0 = 999;  cpu0 15 0 15 468 1 0 1 0 = 500;  cpu1 495 0 4 1 0 0 0 0 = 500
// Each % = Δfield / total × 100. Per second: ctxt 1939/5, 4190/5; intr 6052/5, 6611/5;
// forks 6/5, 32/5.

/// (timestamp, CPU id or -1, [usr, nice, system, iowait, steal, idle]) of the pcprocess file.
fn stat_expect() -> Vec<(i64, i64, [f64; 6])> {
    let p = |d: f64, t: f64| d / t * 100.0;
    vec![
        (
            1767800526,
            -1,
            [
                p(503.0, 1001.0),
                0.0,
                p(5.0, 1001.0),
                p(3.0, 1001.0),
                0.0,
                p(490.0, 1001.0),
            ],
        ),
        (
            1767800526,
            0,
            [
                p(30.0, 501.0),
                0.0,
                p(4.0, 501.0),
                p(2.0, 501.0),
                p(1.0, 501.0),
                p(464.0, 501.0),
            ],
        ),
        (
            1767800526,
            1,
            [
                p(473.0, 501.0),
                0.0,
                p(2.0, 501.0),
                0.0,
                0.0,
                p(26.0, 501.0),
            ],
        ),
        (
            1767800531,
            -1,
            [
                p(509.0, 999.0),
                0.0,
                p(20.0, 999.0),
                0.0,
                0.0,
                p(469.0, 999.0),
            ],
        ),
        (1767800531, 0, [3.0, 0.0, 3.0, 0.2, 0.0, 93.6]),
        (1767800531, 1, [99.0, 0.0, 0.8, 0.0, 0.0, 0.2]),
    ]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9
}

fn process_stdin(bytes: &[u8], out: &Path, format: &str) {
    let o = perfan(
        &[
            "process",
            "--input",
            "-",
            "--output",
            out.to_str().unwrap(),
            "--format",
            format,
        ],
        Some(bytes),
    );
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{format}: {stderr}");
    assert!(
        stderr.starts_with("perfan: 3 samples, 2 intervals written to "),
        "{stderr}"
    );
}

#[test]
fn stat_only_capture_as_pcprocess_has_cpu_rows_and_empty_other_files() {
    let out = tempfile::tempdir().unwrap();
    process_stdin(&stat_only_capture(), out.path(), "pcprocess");
    let stat = std::fs::read_to_string(out.path().join("proc/stat")).unwrap();
    let mut lines = stat.lines();
    assert_eq!(
        lines.next(),
        Some("#timestamp,CPU,%usr,%nice,%system,%iowait,%steal,%idle")
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    let expect = stat_expect();
    assert_eq!(rows.len(), expect.len(), "{stat}");
    for (row, (ts, cpu, pct)) in rows.iter().zip(&expect) {
        assert_eq!(row[0], *ts as f64, "{stat}");
        assert_eq!(row[1], *cpu as f64, "{stat}");
        for (got, want) in row[2..].iter().zip(pct) {
            assert!(
                close(*got, *want),
                "{ts} cpu {cpu}: {got} vs {want}\n{stat}"
            );
        }
    }
    // The subsystems the capture did not hold: a header and no rows.
    for (file, header) in [
        (
            "proc/meminfo",
            "#timestamp,kbmemfree,kbavail,kbmemused,%memused,kbbuffers,kbcached,kbcommit,%commit,kbactive,kbinact,kbdirty",
        ),
        (
            "proc/net/dev",
            "#timestamp,IFACE,rxpck/s,txpck/s,rxkB/s,txkB/s,rxcmp/s,txcmp/s,rxmcst/s,%ifutil",
        ),
        (
            "proc/diskstats",
            "#timestamp,DEV,tps,rtps,wtps,dtps,bread/s,bwrtn/s,bdscd/s",
        ),
        (
            "statfs_ALL",
            "#timestamp,mount,blocksize,blockstotal,blocksavail,use",
        ),
    ] {
        let text = std::fs::read_to_string(out.path().join(file)).unwrap();
        assert_eq!(text.lines().collect::<Vec<_>>(), [header], "{file}");
    }
    // No cpuinfo in the capture: no system_info.json.
    assert!(!out.path().join("system_info.json").exists());
}

#[test]
fn stat_only_capture_as_csv_fills_only_cpu_and_kernel_columns() {
    let out = tempfile::tempdir().unwrap();
    process_stdin(&stat_only_capture(), out.path(), "csv");
    let wide = std::fs::read_to_string(out.path().join("intervals.csv")).unwrap();
    let mut lines = wide.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "{wide}");
    let p = |d: f64, t: f64| d / t * 100.0;
    let expect: [Vec<(&str, f64)>; 2] = [
        vec![
            ("interval_s", 5.0),
            ("cpu_user_pct", p(503.0, 1001.0)),
            ("cpu_nice_pct", 0.0),
            ("cpu_system_pct", p(5.0, 1001.0)),
            ("cpu_iowait_pct", p(3.0, 1001.0)),
            ("cpu_irq_pct", 0.0),
            ("cpu_softirq_pct", 0.0),
            ("cpu_steal_pct", 0.0),
            ("cpu_guest_pct", 0.0),
            ("cpu_idle_pct", p(490.0, 1001.0)),
            ("cpu_count", 2.0),
            ("context_switches_per_s", 387.8),
            ("interrupts_per_s", 1210.4),
            ("forks_per_s", 1.2),
            ("procs_running", 4.0),
            ("procs_blocked", 0.0),
        ],
        vec![
            ("interval_s", 5.0),
            ("cpu_user_pct", p(509.0, 999.0)),
            ("cpu_nice_pct", 0.0),
            ("cpu_system_pct", p(20.0, 999.0)),
            ("cpu_iowait_pct", 0.0),
            ("cpu_irq_pct", 0.0),
            ("cpu_softirq_pct", p(1.0, 999.0)),
            ("cpu_steal_pct", 0.0),
            ("cpu_guest_pct", 0.0),
            ("cpu_idle_pct", p(469.0, 999.0)),
            ("cpu_count", 2.0),
            ("context_switches_per_s", 838.0),
            ("interrupts_per_s", 1322.2),
            ("forks_per_s", 6.4),
            ("procs_running", 4.0),
            ("procs_blocked", 0.0),
        ],
    ];
    let times = ["2026-01-07T15:42:06Z", "2026-01-07T15:42:11Z"]; // 1767800526, …531
    for ((row, want), time) in rows.iter().zip(&expect).zip(times) {
        assert_eq!(row.len(), header.len());
        assert_eq!(row[0], time);
        assert_eq!(row[1], "stdin");
        for (i, name) in header.iter().enumerate().skip(2) {
            match want.iter().find(|(n, _)| n == name) {
                Some((_, v)) => {
                    let got: f64 = row[i]
                        .parse()
                        .unwrap_or_else(|_| panic!("{time} {name}: {:?}", row[i]));
                    assert!(close(got, *v), "{time} {name}: {got} vs {v}");
                }
                // Memory, swap, paging, disk, net, load, PSI, filesystems: not captured.
                None => assert_eq!(row[i], "", "{time} {name} has a value"),
            }
        }
    }
    // The long file: CPU rows only, for CPUs 0 and 1, at both timestamps.
    let long = std::fs::read_to_string(out.path().join("devices.csv")).unwrap();
    let mut lines = long.lines();
    assert_eq!(lines.next(), Some(perfcore::csv::ours::LONG_HEADER));
    let mut seen = std::collections::BTreeSet::new();
    for l in lines {
        let c: Vec<&str> = l.split(',').collect();
        assert_eq!(c[2], "cpu", "{l}");
        seen.insert((c[0].to_owned(), c[3].to_owned()));
        if c[0] == times[1] && c[3] == "1" && c[4] == "user_pct" {
            assert!(close(c[5].parse().unwrap(), 99.0), "{l}");
        }
        if c[0] == times[0] && c[3] == "0" && c[4] == "steal_pct" {
            assert!(close(c[5].parse().unwrap(), p(1.0, 501.0)), "{l}");
        }
    }
    let want: std::collections::BTreeSet<(String, String)> = times
        .iter()
        .flat_map(|t| [(t.to_string(), "0".into()), (t.to_string(), "1".into())])
        .collect();
    assert_eq!(seen, want);
}

/// Usage errors from clap: exactly one stderr line, exit code 2, nothing on stdout.
#[test]
fn usage_errors_are_one_line_with_exit_code_2() {
    for (args, says) in [
        (
            &[
                "process",
                "--input",
                "x.json",
                "--output",
                "o",
                "--frobnicate",
            ][..],
            "unexpected argument '--frobnicate'",
        ),
        (
            &["process", "--input", "x.json"][..],
            "required arguments were not provided: --output <DIR>",
        ),
        (
            &["process"][..],
            "required arguments were not provided: --input <CAPTURE>, --output <DIR>",
        ),
        (&["snapshot", "--proc-rot", "x"][..], "'--proc-root'"),
        (&["snapshot", "--format", "yaml"][..], "json, table"),
        (&["frobnicate"][..], "unrecognized subcommand 'frobnicate'"),
    ] {
        let out = perfan(args, None);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(
            stderr.trim_end().ends_with("try '--help'"),
            "{args:?}: {stderr}"
        );
    }
}

/// Help stays clap's multi-line text on stdout, exit 0.
#[test]
fn help_stays_multi_line() {
    for args in [
        &["--help"][..],
        &["process", "--help"][..],
        &["snapshot", "-h"][..],
    ] {
        let out = perfan(args, None);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
        assert!(stdout.lines().count() > 5, "{args:?}: {stdout}");
        assert!(stdout.contains("Usage: perfan"), "{args:?}: {stdout}");
    }
    let out = perfan(&["--version"], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).0.starts_with("perfan "));
}
