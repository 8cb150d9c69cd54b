//! `perfan process --format portal` against the portal CSVs the older tools derived
//! from the same captures (`fixtures/upstream/*`).
//!
//! What inspecting the older files shows (and what these tests hold them to):
//! - Same header, same column order, CRLF line ends.
//! - Rows: the older processor paired samples (S0,S2), (S2,S3), ..., so its file
//!   starts at S2 and its first row covers two intervals; ours starts at S1. Every
//!   other row covers the same two samples as our row with the same timestamp.
//!   The first row is checked separately: it equals what we compute with S1
//!   removed from the capture.
//! - CPU %: the older tool worked on jiffies / 100 as floats and made `%idle` "the
//!   rest". Where the cumulative counters are large (azure-b1s: idle ~6.7e7
//!   jiffies) that float error is ~2e-9, above 1e-9. So the tolerance is 1e-9 or
//!   the first-order float error bound of that arithmetic, 100 × 4u × S / T
//!   (u = 2^-53, S = sum of the later sample's counters / 100, T = Δtotal / 100),
//!   whichever is larger.
//! - Rates (disk, net): the older portal took its per-subsystem CSV values
//!   (kB/s, 512-byte sectors/s) back to bytes/s and TRUNCATED them to integers
//!   (3276.8 -> 3276; 1.8701171874999998 kB/s -> 1914 where the exact rate is
//!   1915). So the rule is: the older integer is the truncation of a value
//!   within 1e-9 relative of ours.
//! - `mem_total_kb`: the older file wrote MemFree + used + Buffers + Cached (which
//!   is MemTotal − Slab); we write MemTotal (DESIGN.md 2.4). So its column is
//!   checked against our free + used + cached plus the capture's Buffers, and ours
//!   against the capture's MemTotal. The other memory gauges agree exactly.
//! - Disk: the older file used the first of sda/vda/nvme0n1; we sum the whole
//!   disks. Its values are compared with our per-device rate for the same device
//!   (our pcprocess output), and with our portal column on the rows where no
//!   other whole disk did any I/O (there the definitions give the same number).
//! - Net: the older file used the first non-`lo` row of its own net/dev CSV, whose
//!   rows come in random order per timestamp: on the docker host it sometimes
//!   picked `docker0` (0 B/s) instead of `eth0`. Its values are compared with our
//!   per-interface rate for the interface it picked, and with our portal column
//!   on the rows where every other non-`lo` interface was idle.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use perfcore::csv::portal::{COLUMNS, HEADER};

use super::{fixtures, perfan, text};

struct Case {
    dir: &'static str,
    capture: &'static str,
    portal: &'static str,
    /// The older processor's per-subsystem CSV directory.
    processed: &'static str,
}

const CASES: [Case; 3] = [
    Case {
        dir: "azure-b1s-ubuntu",
        capture: "pcc_collection.json",
        portal: "azure_pcc-test-01_performance.csv",
        processed: "processed",
    },
    Case {
        dir: "oci-e5-oraclelinux8",
        capture: "vm01_pcc_collection.json",
        portal: "vm01_portal_format.csv",
        processed: "vm01_processed",
    },
    Case {
        dir: "azure-d4s-cpuinfo",
        capture: "loadtest-cpuinfo.json",
        portal: "loadtest-cpuinfo-portal.csv",
        processed: "csv",
    },
];

impl Case {
    fn path(&self, name: &str) -> PathBuf {
        fixtures().join("upstream").join(self.dir).join(name)
    }
}

const CPU_COLS: usize = 5;
const MEM_TOTAL: usize = 5;
const MEM_USED: usize = 6;
const MEM_FREE: usize = 7;
const MEM_CACHED: usize = 8;
const DISK_READ: usize = 9;
const DISK_WRITE: usize = 10;
const NET_RX: usize = 11;
const NET_TX: usize = 12;

/// A portal file: header line and rows by timestamp (cells as text, in order).
struct Portal {
    header: String,
    crlf: bool,
    order: Vec<i64>,
    rows: BTreeMap<i64, Vec<f64>>,
}

fn read_portal(path: &Path) -> Portal {
    let text = std::fs::read_to_string(path).unwrap();
    let crlf = text.split_inclusive('\n').all(|l| l.ends_with("\r\n"));
    let mut lines = text.lines();
    let header = lines.next().unwrap().trim_end_matches('\r').to_owned();
    let mut order = Vec::new();
    let mut rows = BTreeMap::new();
    for l in lines {
        let cells: Vec<&str> = l.trim_end_matches('\r').split(',').collect();
        assert_eq!(cells.len(), 1 + COLUMNS.len(), "{}: {l}", path.display());
        let ts: i64 = cells[0].parse().unwrap();
        // None of these files has an empty cell (every subsystem was captured).
        let values = cells[1..]
            .iter()
            .map(|c| c.parse::<f64>().unwrap())
            .collect();
        order.push(ts);
        rows.insert(ts, values);
    }
    Portal {
        header,
        crlf,
        order,
        rows,
    }
}

/// Rows of a per-subsystem CSV (`#timestamp,KEY,...`): (timestamp, key, values), in
/// file order.
fn read_keyed(path: &Path) -> Vec<(i64, String, Vec<f64>)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let vals = c[2..]
                .iter()
                .map(|v| v.parse::<f64>().unwrap_or(0.0))
                .collect();
            (c[0].parse().unwrap(), c[1].to_owned(), vals)
        })
        .collect()
}

/// One tick of a capture: the aggregate `cpu` line and the meminfo values (kB).
struct Tick {
    cpu: Vec<u64>,
    meminfo: BTreeMap<String, u64>,
}

fn read_capture(bytes: &[u8]) -> BTreeMap<i64, Tick> {
    let mut ticks: BTreeMap<i64, Tick> = BTreeMap::new();
    for line in std::str::from_utf8(bytes).unwrap().lines() {
        let o: serde_json::Value = serde_json::from_str(line).unwrap();
        let ts = o["timestamp"].as_i64().unwrap();
        let m = o["measurement"].as_str().unwrap_or("");
        let t = ticks.entry(ts).or_insert_with(|| Tick {
            cpu: Vec::new(),
            meminfo: BTreeMap::new(),
        });
        match o["subsystem"].as_str().unwrap() {
            "/proc/stat" => {
                let l = m.lines().find(|l| l.starts_with("cpu ")).unwrap();
                t.cpu = l[4..]
                    .split_whitespace()
                    .map(|v| v.parse().unwrap())
                    .collect();
            }
            "/proc/meminfo" => {
                for l in m.lines() {
                    let (k, v) = l.split_once(':').unwrap();
                    let v = v.split_whitespace().next().unwrap().parse().unwrap();
                    t.meminfo.insert(k.to_owned(), v);
                }
            }
            _ => {}
        }
    }
    ticks
}

/// Runs `perfan process` on `input` (a file) and returns the output directory.
fn process(input: &Path, format: &str) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let o = perfan(
        &[
            "process",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.path().to_str().unwrap(),
            "--format",
            format,
        ],
        None,
    );
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{}: {stderr}", input.display());
    out
}

/// The CPU tolerance of one interval (see the module comment).
fn cpu_tolerance(prev: &Tick, cur: &Tick) -> f64 {
    let s: f64 = cur.cpu.iter().sum::<u64>() as f64 / 100.0;
    let t: f64 = cur
        .cpu
        .iter()
        .zip(&prev.cpu)
        .map(|(c, p)| c.saturating_sub(*p))
        .sum::<u64>() as f64
        / 100.0;
    let u = f64::EPSILON / 2.0;
    (100.0 * 4.0 * u * s / t).max(1e-9)
}

/// The older tool's integer rate agrees with our rate: it is the truncation of a
/// value within 1e-9 relative of ours.
fn truncated_rate_agrees(theirs: f64, ours: f64) -> bool {
    theirs == theirs.trunc()
        && (ours * (1.0 - 1e-9)).floor() <= theirs
        && theirs <= (ours * (1.0 + 1e-9)).floor()
}

/// Compares one older row with ours for the same two samples: CPU and the memory
/// gauges (the disk and net columns are compared by the caller).
fn compare_cpu_and_memory(
    what: &str,
    theirs: &[f64],
    ours: &[f64],
    prev: &Tick,
    cur: &Tick,
) -> Vec<String> {
    let mut bad = Vec::new();
    let tol = cpu_tolerance(prev, cur);
    for c in 0..CPU_COLS {
        if (theirs[c] - ours[c]).abs() > tol {
            bad.push(format!(
                "{what} {}: {} vs ours {} (tolerance {tol:e})",
                COLUMNS[c], theirs[c], ours[c]
            ));
        }
    }
    for c in [MEM_USED, MEM_FREE, MEM_CACHED] {
        if theirs[c] != ours[c] {
            bad.push(format!(
                "{what} {}: {} vs ours {}",
                COLUMNS[c], theirs[c], ours[c]
            ));
        }
    }
    // Theirs: free + used + buffers + cached; ours: MemTotal.
    let buffers = cur.meminfo["Buffers"] as f64;
    let older_total = ours[MEM_FREE] + ours[MEM_USED] + ours[MEM_CACHED] + buffers;
    if theirs[MEM_TOTAL] != older_total {
        bad.push(format!(
            "{what} mem_total_kb: {} vs free+used+buffers+cached {older_total}",
            theirs[MEM_TOTAL]
        ));
    }
    if ours[MEM_TOTAL] != cur.meminfo["MemTotal"] as f64 {
        bad.push(format!(
            "{what} our mem_total_kb {} is not MemTotal",
            ours[MEM_TOTAL]
        ));
    }
    bad
}

#[test]
fn portal_csv_matches_the_older_portal_files_row_for_row() {
    for case in &CASES {
        let capture = case.path(case.capture);
        let ticks = read_capture(&std::fs::read(&capture).unwrap());
        let ts: Vec<i64> = ticks.keys().copied().collect();
        let out = process(&capture, "portal");
        let ours = read_portal(&out.path().join("portal.csv"));
        let theirs = read_portal(&case.path(case.portal));

        // Same header and line ends.
        assert_eq!(theirs.header, HEADER, "{}", case.dir);
        assert_eq!(ours.header, HEADER, "{}", case.dir);
        assert!(theirs.crlf && ours.crlf, "{}", case.dir);
        // Ours: S1..S(n-1); theirs: S2..S(n-1).
        assert_eq!(ours.order, ts[1..].to_vec(), "{}", case.dir);
        assert_eq!(theirs.order, ts[2..].to_vec(), "{}", case.dir);

        // Our per-device rates, for the disk and net columns.
        let pcp = process(&capture, "pcprocess");
        let our_disks = read_keyed(&pcp.path().join("proc/diskstats"));
        let our_nets = read_keyed(&pcp.path().join("proc/net/dev"));
        let their_nets = read_keyed(&case.path(case.processed).join("proc/net/dev"));
        let disk = ["sda", "vda", "nvme0n1"]
            .into_iter()
            .find(|d| our_disks.iter().any(|r| r.1 == *d))
            .unwrap();

        let mut bad = Vec::new();
        let (mut direct_disk, mut direct_net) = (0, 0);
        // (S2,S3), (S3,S4), ...: the older file's rows after its first.
        for w in ts.windows(2).skip(2) {
            let (prev_ts, t) = (w[0], w[1]);
            let what = format!("{} {t}", case.dir);
            let (a, b) = (&theirs.rows[&t], &ours.rows[&t]);
            bad.extend(compare_cpu_and_memory(
                &what,
                a,
                b,
                &ticks[&prev_ts],
                &ticks[&t],
            ));

            // Disk: bread/s and bwrtn/s are 512-byte sectors per second.
            let at = |rows: &[(i64, String, Vec<f64>)], key: &str| -> Vec<f64> {
                rows.iter()
                    .find(|r| r.0 == t && r.1 == key)
                    .map(|r| r.2.clone())
                    .unwrap_or_else(|| panic!("{what}: no row for {key}"))
            };
            let d = at(&our_disks, disk);
            let (rd, wr) = (d[4] * 512.0, d[5] * 512.0);
            for (c, v) in [(DISK_READ, rd), (DISK_WRITE, wr)] {
                if !truncated_rate_agrees(a[c], v) {
                    bad.push(format!("{what} {}: {} vs our {disk} {v}", COLUMNS[c], a[c]));
                }
            }
            let others_idle = our_disks.iter().filter(|r| r.0 == t).all(|r| {
                r.1.starts_with(disk)
                    || r.1.starts_with("dm-")
                    || r.1.starts_with("md")
                    || (r.2[4] == 0.0 && r.2[5] == 0.0)
            });
            if others_idle {
                direct_disk += 1;
                for c in [DISK_READ, DISK_WRITE] {
                    if !truncated_rate_agrees(a[c], b[c]) {
                        bad.push(format!("{what} {}: {} vs ours {}", COLUMNS[c], a[c], b[c]));
                    }
                }
            }

            // Net: the interface the older portal picked; rxkB/s and txkB/s are KiB/s.
            let picked = their_nets
                .iter()
                .find(|r| r.0 == t && r.1 != "lo")
                .map(|r| r.1.clone())
                .unwrap();
            let n = at(&our_nets, &picked);
            for (c, v) in [(NET_RX, n[2] * 1024.0), (NET_TX, n[3] * 1024.0)] {
                if !truncated_rate_agrees(a[c], v) {
                    bad.push(format!(
                        "{what} {}: {} vs our {picked} {v}",
                        COLUMNS[c], a[c]
                    ));
                }
            }
            let others_idle = our_nets
                .iter()
                .filter(|r| r.0 == t && r.1 != "lo" && r.1 != picked)
                .all(|r| r.2[2] == 0.0 && r.2[3] == 0.0);
            if others_idle {
                direct_net += 1;
                for c in [NET_RX, NET_TX] {
                    if !truncated_rate_agrees(a[c], b[c]) {
                        bad.push(format!("{what} {}: {} vs ours {}", COLUMNS[c], a[c], b[c]));
                    }
                }
            }
        }
        assert!(
            bad.is_empty(),
            "{} mismatches:\n{}",
            bad.len(),
            bad.join("\n")
        );
        // The direct comparisons did happen (all rows but the d4s docker0 picks).
        let rows = theirs.order.len() - 1;
        assert_eq!(direct_disk, rows, "{}", case.dir);
        assert!(direct_net > 0, "{}", case.dir);
        if case.dir != "azure-d4s-cpuinfo" {
            assert_eq!(direct_net, rows, "{}", case.dir);
        }
    }
}

/// The older file's first row covers (S0,S2): with S1 taken out of the capture our
/// first row covers the same two samples and agrees with it under the same rules.
#[test]
fn the_older_first_row_covers_s0_to_s2() {
    for case in &CASES {
        let bytes = std::fs::read(case.path(case.capture)).unwrap();
        let ticks = read_capture(&bytes);
        let ts: Vec<i64> = ticks.keys().copied().collect();
        let s1 = format!("{{\"timestamp\":{},", ts[1]);
        let text = std::str::from_utf8(&bytes).unwrap();
        let without_s1: String = text
            .lines()
            .filter(|l| !l.starts_with(&s1))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(
            without_s1.len() < text.len(),
            "{}: S1 not removed",
            case.dir
        );
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join(case.capture);
        std::fs::write(&input, without_s1).unwrap();
        let out = process(&input, "portal");
        let ours = read_portal(&out.path().join("portal.csv"));
        let theirs = read_portal(&case.path(case.portal));
        assert_eq!(ours.order[0], ts[2], "{}", case.dir);
        let (a, b) = (&theirs.rows[&ts[2]], &ours.rows[&ts[2]]);
        let bad = compare_cpu_and_memory(
            &format!("{} first row", case.dir),
            a,
            b,
            &ticks[&ts[0]],
            &ticks[&ts[2]],
        );
        assert!(bad.is_empty(), "{}", bad.join("\n"));
        // Over the 10 s interval the rates still truncate from ours (the capture's
        // other whole disks and interfaces were idle then).
        for c in [DISK_READ, DISK_WRITE, NET_RX, NET_TX] {
            assert!(
                truncated_rate_agrees(a[c], b[c]),
                "{} first row {}: {} vs ours {}",
                case.dir,
                COLUMNS[c],
                a[c],
                b[c]
            );
        }
        // And it differs from our (S1,S2) row, which the older file has no row for.
        let normal = read_portal(
            &process(&case.path(case.capture), "portal")
                .path()
                .join("portal.csv"),
        );
        assert_ne!(normal.rows[&ts[2]], *b, "{}", case.dir);
    }
}
