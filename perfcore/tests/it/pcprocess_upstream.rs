//! The older processor's outputs in ../shared/fixtures/upstream reproduced.
//!
//! For every fixture set: the capture goes through our writer, and every row the
//! older processor wrote (except its first timestamp, which covered two intervals
//! because it skipped the second sample) must match our row with the same
//! timestamp and key. Then the reader (`read_dir`) on both directories and on
//! broken files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use perfcore::capture::{self, SampleReader};
use perfcore::csv::pcprocess::{File, PcprocessOptions, PcprocessWriter, SystemInfo, read_dir};
use perfcore::metrics::{DeviceKind, Metric};
use perfcore::process::{Collect, run};
use perfcore::{Error, RawSample};

use super::fixtures;

/// One fixture set: its folder, the capture and the older processor's output folder.
struct Set {
    folder: &'static str,
    capture: &'static str,
    processed: &'static str,
    /// Whether the capture has /proc/cpuinfo (then system_info.json exists).
    cpuinfo: bool,
    /// CPU cells where the older tool's own float rounding exceeds 1e-9 (see
    /// `cpu_tolerance`); pinned so that nothing else slips under the allowance.
    float_noise_cells: usize,
}

const SETS: [Set; 4] = [
    Set {
        folder: "azure-b1s-ubuntu",
        capture: "pcc_collection.json",
        processed: "processed",
        cpuinfo: false,
        float_noise_cells: 108,
    },
    Set {
        folder: "oci-e5-oraclelinux8",
        capture: "vm01_pcc_collection.json",
        processed: "vm01_processed",
        cpuinfo: false,
        float_noise_cells: 0,
    },
    Set {
        folder: "oci-e5-ubuntu24-containers",
        capture: "host_collection.json",
        processed: "csv",
        cpuinfo: true,
        float_noise_cells: 0,
    },
    Set {
        folder: "azure-d4s-cpuinfo",
        capture: "loadtest-cpuinfo.json",
        processed: "csv",
        cpuinfo: true,
        float_noise_cells: 0,
    },
];

impl Set {
    fn dir(&self) -> PathBuf {
        fixtures().join("upstream").join(self.folder)
    }
    fn capture_path(&self) -> PathBuf {
        self.dir().join(self.capture)
    }
    fn theirs(&self) -> PathBuf {
        self.dir().join(self.processed)
    }
    fn samples(&self) -> Vec<RawSample> {
        let f = std::fs::File::open(self.capture_path()).unwrap();
        capture::read_all(std::io::BufReader::new(f)).unwrap()
    }
}

/// Runs `samples` through our writer into a fresh directory.
fn write_ours(samples: Vec<RawSample>, opts: PcprocessOptions) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let mut w = PcprocessWriter::create(out.path(), opts).unwrap();
    let stats = run(samples.into_iter().map(Ok), &mut w).unwrap();
    assert_eq!(stats.reboots + stats.time_not_increasing + stats.resets, 0);
    out
}

/// What a column holds, for comparing and for checking the number format.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    /// The CPU id, device, interface or mount.
    Key,
    /// A CPU percentage: within 1e-9 absolute.
    Pct,
    /// A per-second rate: within 1e-9 relative.
    Rate,
    /// An integer gauge (KiB, blocks, use %): exactly.
    Int,
    /// A float gauge from the later sample (`%memused`, `%commit`): exactly.
    Gauge,
    /// `%ifutil`: the older tool wrote 0, we leave it empty (link speed unknown).
    IfUtil,
}

fn kinds(f: File) -> Vec<Kind> {
    use Kind::*;
    match f {
        File::Stat => vec![Key, Pct, Pct, Pct, Pct, Pct, Pct],
        File::Meminfo => vec![Int, Int, Int, Gauge, Int, Int, Int, Gauge, Int, Int, Int],
        File::NetDev => vec![Key, Rate, Rate, Rate, Rate, Rate, Rate, Rate, IfUtil],
        File::Diskstats => vec![Key, Rate, Rate, Rate, Rate, Rate, Rate, Rate],
        File::Statfs => vec![Key, Int, Int, Int, Int],
        _ => unreachable!("a new file kind"),
    }
}

/// A parsed file: header line and rows in file order as (timestamp, key, cells after the timestamp).
struct Table {
    header: String,
    rows: Vec<(i64, String, Vec<String>)>,
}

impl Table {
    fn read(path: &Path, f: File, skip: usize) -> Table {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap().to_owned();
        let keyed = kinds(f)[0] == Kind::Key;
        let mut rows = Vec::new();
        let mut rdr = ::csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(text.as_bytes());
        for rec in rdr.records() {
            let rec = rec.unwrap();
            let cells: Vec<String> = rec.iter().skip(skip).map(str::to_owned).collect();
            let ts: i64 = cells[0].parse().unwrap();
            let key = if keyed {
                cells[1].clone()
            } else {
                String::new()
            };
            rows.push((ts, key, cells[1..].to_vec()));
        }
        Table { header, rows }
    }

    fn timestamps(&self) -> BTreeSet<i64> {
        self.rows.iter().map(|r| r.0).collect()
    }

    fn by_key(&self) -> HashMap<(i64, String), &Vec<String>> {
        let mut m = HashMap::new();
        for (ts, key, cells) in &self.rows {
            assert!(
                m.insert((*ts, key.clone()), cells).is_none(),
                "duplicate row {ts} {key}"
            );
        }
        m
    }
}

/// CPU jiffies (sum of the first eight fields) per (timestamp, CPU id), -1 for the total.
fn cpu_jiffies(samples: &[RawSample]) -> Vec<(i64, HashMap<i64, u64>)> {
    samples
        .iter()
        .map(|s| {
            let snap = s.parse().unwrap();
            let st = snap.stat.unwrap();
            let sum = |t: &perfcore::parse::stat::CpuTimes| t.to_array()[..8].iter().sum::<u64>();
            let mut m = HashMap::new();
            if let Some(t) = &st.cpu_total {
                m.insert(-1, sum(t));
            }
            for c in &st.cpus {
                m.insert(i64::from(c.id), sum(&c.times));
            }
            (s.timestamp_s(), m)
        })
        .collect()
}

/// The tolerance of a CPU % of the older tool over the interval whose CPU jiffies
/// went from `prev` to `cur`.
///
/// Its rows must agree with ours within 1e-9. The older tool, though, summed
/// jiffies/100 as f64 per sample and took the difference of the sums, so its
/// percentages carry the rounding error of a running total of ~10^6 seconds:
/// about one ulp of that total over the interval's seconds, times 100. On the
/// 1-vCPU Azure machine (0.68 million seconds of CPU time since boot) that is up to
/// 2.3e-9, more than 1e-9. Where that bound exceeds 1e-9 the tolerance is four
/// times the bound (its observed maximum is 1.2 bounds); ours is exact (integer
/// deltas, one division).
fn cpu_tolerance(prev: u64, cur: u64) -> f64 {
    let secs = cur as f64 / 100.0;
    let d_secs = cur.saturating_sub(prev) as f64 / 100.0;
    let bound = if d_secs > 0.0 {
        100.0 * (secs.next_up() - secs) / d_secs
    } else {
        0.0
    };
    if bound > 1e-9 { 4.0 * bound } else { 1e-9 }
}

/// Compares one of their rows with ours; returns how many cells needed the
/// float-noise allowance.
fn compare_row(
    f: File,
    ts: i64,
    key: &str,
    theirs: &[String],
    ours: &[String],
    cpu_tol: f64,
) -> usize {
    let kinds = kinds(f);
    assert_eq!(theirs.len(), kinds.len(), "{f:?} {ts} {key}: their cells");
    assert_eq!(ours.len(), kinds.len(), "{f:?} {ts} {key}: our cells");
    let mut noisy = 0;
    for (i, kind) in kinds.iter().enumerate() {
        let (t, o) = (&theirs[i], &ours[i]);
        let what = format!(
            "{} {ts} {key} column {}: theirs {t}, ours {o}",
            f.path(),
            i + 2
        );
        match kind {
            Kind::Key => assert_eq!(t, o, "{what}"),
            Kind::Int => assert_eq!(
                t.parse::<u64>().unwrap(),
                o.parse::<u64>().unwrap(),
                "{what}"
            ),
            Kind::Gauge => assert_eq!(
                t.parse::<f64>().unwrap(),
                o.parse::<f64>().unwrap(),
                "{what}"
            ),
            Kind::Pct => {
                let d = (t.parse::<f64>().unwrap() - o.parse::<f64>().unwrap()).abs();
                if d > 1e-9 {
                    noisy += 1;
                }
                assert!(
                    d <= cpu_tol,
                    "{what}: differ by {d:e}, tolerance {cpu_tol:e}"
                );
            }
            Kind::Rate => {
                let (t, o) = (t.parse::<f64>().unwrap(), o.parse::<f64>().unwrap());
                let scale = t.abs().max(o.abs());
                assert!((t - o).abs() <= 1e-9 * scale, "{what}");
            }
            Kind::IfUtil => {
                assert_eq!(t, "0", "{what}: the older tool always wrote 0");
                assert_eq!(o, "", "{what}: we cannot know the link speed");
            }
        }
    }
    noisy
}

/// Checks that every number we wrote is in Go's %v form.
fn assert_go_number_format(f: File, table: &Table) {
    let kinds = kinds(f);
    for (ts, key, cells) in &table.rows {
        for (kind, text) in kinds.iter().zip(cells) {
            match kind {
                Kind::Pct | Kind::Rate | Kind::Gauge => {
                    let v: f64 = text.parse().unwrap();
                    assert_eq!(
                        &perfcore::gofmt::float(v),
                        text,
                        "{} {ts} {key}: not Go %v",
                        f.path()
                    );
                }
                Kind::Int => {
                    let v: u64 = text.parse().unwrap();
                    assert_eq!(&v.to_string(), text, "{} {ts} {key}", f.path());
                }
                Kind::Key | Kind::IfUtil => {}
            }
        }
    }
}

#[test]
fn every_upstream_set_matches_the_older_processor_except_its_first_row() {
    let mut report = String::new();
    for set in &SETS {
        let samples = set.samples();
        let n = samples.len();
        let jiffies = cpu_jiffies(&samples);
        let ts_index: HashMap<i64, usize> = jiffies
            .iter()
            .enumerate()
            .map(|(i, (ts, _))| (*ts, i))
            .collect();
        let ours_dir = write_ours(samples.clone(), PcprocessOptions::default());
        // The older tool's first row, (S0, S2), reproduced by leaving S1 out.
        let skipped = vec![samples[0].clone(), samples[2].clone()];
        let skip_dir = write_ours(skipped, PcprocessOptions::default());
        let mut noisy = 0;
        for f in File::ALL {
            let theirs = Table::read(&set.theirs().join(f.path()), f, 0);
            let ours = Table::read(&ours_dir.path().join(f.path()), f, 0);
            let s02 = Table::read(&skip_dir.path().join(f.path()), f, 0);
            assert_eq!(ours.header, f.header());
            assert_eq!(ours.header, theirs.header, "{}: header", set.folder);
            assert_go_number_format(f, &ours);

            // Our timestamps: S1..S(n-1); theirs: S2..S(n-1).
            let our_ts = ours.timestamps();
            let their_ts = theirs.timestamps();
            assert_eq!(our_ts.len(), n - 1, "{} {}", set.folder, f.path());
            assert_eq!(their_ts.len(), n - 2, "{} {}", set.folder, f.path());
            let first_theirs = *their_ts.first().unwrap();
            let extra: Vec<i64> = our_ts.difference(&their_ts).copied().collect();
            assert_eq!(extra, vec![samples[1].timestamp_s()], "our extra first row");
            assert_eq!(first_theirs, samples[2].timestamp_s());

            let ours_by = ours.by_key();
            let s02_by = s02.by_key();
            let mut their_keys: BTreeMap<i64, BTreeSet<&str>> = BTreeMap::new();
            for (ts, key, cells) in &theirs.rows {
                their_keys.entry(*ts).or_default().insert(key);
                let tol = match f {
                    File::Stat => {
                        let id: i64 = key.parse().unwrap();
                        let i = ts_index[ts];
                        let prev = if *ts == first_theirs { 0 } else { i - 1 };
                        cpu_tolerance(jiffies[prev].1[&id], jiffies[i].1[&id])
                    }
                    _ => 1e-9,
                };
                let k = (*ts, key.clone());
                if *ts == first_theirs {
                    // Their first row covered (S0, S2): not ours, but it is that pairing.
                    let mine = s02_by.get(&k).unwrap_or_else(|| panic!("(S0,S2) {k:?}"));
                    noisy += compare_row(f, *ts, key, cells, mine, tol);
                    continue;
                }
                let mine = ours_by.get(&k).unwrap_or_else(|| {
                    panic!("{} {}: no row of ours for {k:?}", set.folder, f.path())
                });
                noisy += compare_row(f, *ts, key, cells, mine, tol);
            }
            // What ours has that theirs lacks at their timestamps: nothing.
            for (ts, key, _) in &ours.rows {
                if let Some(keys) = their_keys.get(ts) {
                    assert!(
                        keys.contains(key.as_str()),
                        "{} {}: ours has {ts} {key}, theirs does not",
                        set.folder,
                        f.path()
                    );
                }
            }
            report.push_str(&format!(
                "{} {}: {} rows of theirs, {} of ours\n",
                set.folder,
                f.path(),
                theirs.rows.len(),
                ours.rows.len()
            ));
        }
        assert_eq!(
            noisy, set.float_noise_cells,
            "{}: CPU cells beyond 1e-9 (the older tool's float noise)",
            set.folder
        );

        let their_info = set.theirs().join("system_info.json");
        let our_info = ours_dir.path().join("system_info.json");
        assert_eq!(their_info.exists(), set.cpuinfo);
        if set.cpuinfo {
            assert_eq!(
                std::fs::read(&our_info).unwrap(),
                std::fs::read(&their_info).unwrap(),
                "{}: system_info.json",
                set.folder
            );
        } else {
            assert!(!our_info.exists());
        }
    }
    eprintln!("{report}");
}

#[test]
fn rows_within_a_timestamp_are_in_kernel_file_order() {
    let set = &SETS[2];
    let samples = set.samples();
    let out = write_ours(samples.clone(), PcprocessOptions::default());
    let stat = std::fs::read_to_string(out.path().join("proc/stat")).unwrap();
    let first: Vec<&str> = stat.lines().skip(1).take(3).collect();
    let ts = samples[1].timestamp_s().to_string();
    let ids: Vec<&str> = first.iter().map(|l| l.split(',').nth(1).unwrap()).collect();
    assert_eq!(ids, ["-1", "0", "1"]);
    assert!(first.iter().all(|l| l.starts_with(&ts)));
    let net = std::fs::read_to_string(out.path().join("proc/net/dev")).unwrap();
    let names: Vec<&str> = net
        .lines()
        .skip(1)
        .take(6)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    // /proc/net/dev of this host lists them in this order.
    assert_eq!(
        names,
        [
            "lo",
            "enp0s5",
            "docker0",
            "veth9c000f5",
            "veth18bc060",
            "veth09d29e5"
        ]
    );
    let disks = std::fs::read_to_string(out.path().join("proc/diskstats")).unwrap();
    let devs: Vec<&str> = disks
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with(&ts))
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    // loop5..loop7 never did I/O: left out, as iostat and the older tool do.
    assert_eq!(
        devs,
        [
            "loop0", "loop1", "loop2", "loop3", "loop4", "sda", "sda1", "sda14", "sda15", "sda16"
        ]
    );
}

#[test]
fn site_host_variant_prefixes_every_row() {
    let set = &SETS[3];
    let plain = write_ours(set.samples(), PcprocessOptions::default());
    let mut opts = PcprocessOptions::default();
    opts.site_host = Some(("lab".into(), "vm, 1".into()));
    let r = write_ours(set.samples(), opts);
    for f in File::ALL {
        let p = std::fs::read_to_string(plain.path().join(f.path())).unwrap();
        let s = std::fs::read_to_string(r.path().join(f.path())).unwrap();
        let (ph, prows) = p.split_once('\n').unwrap();
        let (sh, srows) = s.split_once('\n').unwrap();
        assert_eq!(sh, format!("#site,host,{}", &ph[1..]));
        assert_eq!(prows.lines().count(), srows.lines().count());
        for (a, b) in prows.lines().zip(srows.lines()) {
            // The host holds a comma, so it is quoted.
            assert_eq!(b, format!("lab,\"vm, 1\",{a}"));
        }
    }
    let a = read_dir(plain.path()).unwrap();
    let b = read_dir(r.path()).unwrap();
    assert_eq!(a.site_host, None);
    assert_eq!(b.site_host, Some(("lab".to_owned(), "vm, 1".to_owned())));
    assert_eq!(a.rows, b.rows);
    assert_eq!(a.devices, b.devices);
    assert_eq!(a.system_info, b.system_info);
}

#[test]
fn reading_our_files_gives_back_the_intervals() {
    for set in &SETS {
        let samples = set.samples();
        let out = write_ours(samples.clone(), PcprocessOptions::default());
        let mut collect = Collect::default();
        run(samples.into_iter().map(Ok), &mut collect).unwrap();
        let data = read_dir(out.path()).unwrap();
        assert_eq!(data.files, File::ALL.to_vec());
        assert_eq!(data.rows.len(), collect.rows.len(), "{}", set.folder);
        let mut checked = 0;
        for (read, direct) in data.rows.iter().zip(&collect.rows) {
            assert_eq!(read.timestamp_ms, direct.timestamp_ms);
            assert_eq!(read.elapsed_s, direct.elapsed_s, "5 s ticks");
            for &m in Metric::ALL {
                let Some(v) = read.get(m) else { continue };
                if m == Metric::FsMaxUsedPct {
                    // Ours is df's used/(used+avail); the files hold round(100(total-avail)/total).
                    continue;
                }
                // Shortest round-trip text parses to the same f64, and the totals add
                // the same values in the same order.
                assert_eq!(
                    Some(v),
                    direct.get(m),
                    "{} {} {}",
                    set.folder,
                    read.timestamp_ms,
                    m.name()
                );
                checked += 1;
            }
        }
        assert!(checked > 20 * data.rows.len(), "{}: {checked}", set.folder);
        if set.cpuinfo {
            let facts = data.facts.unwrap();
            assert!(facts.cpu_model.is_some());
        } else {
            assert!(data.facts.is_none());
        }
    }
}

#[test]
fn reading_the_older_processors_files() {
    // azure-b1s-ubuntu: sda and sdb are whole disks (sda1, sdb1 partitions, loop*,
    // sr0 do not count); eth0 is the only physical interface.
    let data = read_dir(&SETS[0].theirs()).unwrap();
    assert_eq!(data.rows.len(), 130);
    assert_eq!(data.site_host, None);
    assert!(data.system_info.is_none());
    let r = &data.rows[0];
    assert_eq!(r.timestamp_ms, 1_767_813_021_000);
    assert_eq!(r.elapsed_s, 5.0);
    // 1767813021,-1,0.5010020040107737,0,0.3006012024050973,0.30060120240737553,0,98.8977955911836
    assert_eq!(r.get(Metric::CpuUserPct), Some(0.5010020040107737));
    assert_eq!(r.get(Metric::CpuIdlePct), Some(98.8977955911836));
    assert_eq!(r.get(Metric::CpuCount), Some(1.0));
    // 1767813021,114004,468392,199500,22.957739347378787,42468,429276,481284,55.3844241807712,...,80
    assert_eq!(r.get(Metric::MemFreeBytes), Some(114004.0 * 1024.0));
    assert_eq!(r.get(Metric::MemUsedBytes), Some(199500.0 * 1024.0));
    assert_eq!(r.get(Metric::MemUsedPct), Some(22.957739347378787));
    assert_eq!(r.get(Metric::MemCommitPct), Some(55.3844241807712));
    assert_eq!(r.get(Metric::MemDirtyBytes), Some(80.0 * 1024.0));
    assert_eq!(r.get(Metric::MemTotalBytes), None);
    // sda 53.6 + sdb 0 sectors/s read; 246.4 written.
    assert_eq!(r.get(Metric::DiskReadBytesPerS), Some(53.6 * 512.0));
    assert_eq!(r.get(Metric::DiskWriteBytesPerS), Some(246.4 * 512.0));
    assert_eq!(r.get(Metric::DiskReadsPerS), Some(0.5));
    // eth0 0.633203125 rxkB/s, 3.4000000000000004 rxpck/s.
    assert_eq!(r.get(Metric::NetRxBytesPerS), Some(0.633203125 * 1024.0));
    assert_eq!(r.get(Metric::NetRxPacketsPerS), Some(3.4000000000000004));
    // use: / 12, /boot/efi 6, /mnt 6.
    assert_eq!(r.get(Metric::FsMaxUsedPct), Some(12.0));
    let eth0: Vec<_> = data
        .devices
        .iter()
        .filter(|d| {
            d.kind == DeviceKind::Net && d.device == "eth0" && d.timestamp_ms == r.timestamp_ms
        })
        .map(|d| (d.metric, d.value))
        .collect();
    assert_eq!(
        eth0,
        [
            ("rx_packets_per_s", 3.4000000000000004),
            ("tx_packets_per_s", 3.5000000000000004),
            ("rx_bytes_per_s", 0.633203125 * 1024.0),
            ("tx_bytes_per_s", 0.96591796875 * 1024.0),
            ("rx_compressed_per_s", 0.0),
            ("tx_compressed_per_s", 0.0),
            ("rx_multicast_per_s", 0.0),
        ]
    );
    let boot_efi: Vec<_> = data
        .devices
        .iter()
        .filter(|d| {
            d.kind == DeviceKind::Fs && d.device == "/boot/efi" && d.timestamp_ms == r.timestamp_ms
        })
        .map(|d| (d.metric, d.value))
        .collect();
    assert_eq!(
        boot_efi,
        [
            ("size_bytes", 213663.0 * 512.0),
            ("available_bytes", 201276.0 * 512.0),
            ("use_pct", 6.0)
        ]
    );

    // oci-e5-oraclelinux8: dm-0 (LVM on sda3) must not count twice: totals = sda only.
    let data = read_dir(&SETS[1].theirs()).unwrap();
    let r = &data.rows[0];
    // 1767800531,sda,7.5,7.199999999999999,0.3,0,2266.4,4.3999999999999995,0
    assert_eq!(r.get(Metric::DiskReadsPerS), Some(7.199999999999999));
    assert_eq!(r.get(Metric::DiskReadBytesPerS), Some(2266.4 * 512.0));
    assert_eq!(r.get(Metric::CpuCount), Some(2.0));

    // oci-e5-ubuntu24-containers: docker0, veth* and lo are not physical.
    let data = read_dir(&SETS[2].theirs()).unwrap();
    let r = &data.rows[0];
    // 1768021433,enp0s5,3.2,4.1000000000000005,0.86005859375,5.34560546875,...
    assert_eq!(r.get(Metric::NetRxPacketsPerS), Some(3.2));
    assert_eq!(r.get(Metric::NetTxBytesPerS), Some(5.34560546875 * 1024.0));
    let info = data.system_info.unwrap();
    assert_eq!(info.model_name, "AMD EPYC 9J14 96-Core Processor");
    assert_eq!((info.cpu_cores, info.siblings, info.total_cpus), (1, 2, 2));
    assert_eq!((info.cpu_mhz, info.bogomips), (2596.096, 5192.19));
    let facts = data.facts.unwrap();
    assert_eq!(
        facts.cpu_model.as_deref(),
        Some("AMD EPYC 9J14 96-Core Processor")
    );
    assert_eq!((facts.cpu_count, facts.cpu_sockets), (Some(2), Some(1)));
    // Their system_info.json is what we write for the same cpuinfo.
    let text = std::fs::read(SETS[2].theirs().join("system_info.json")).unwrap();
    assert_eq!(
        SystemInfo::from_json(&text).unwrap().to_json().as_bytes(),
        text
    );
}

/// A copy of our output for azure-d4s-cpuinfo to break.
fn our_copy() -> tempfile::TempDir {
    write_ours(SETS[3].samples(), PcprocessOptions::default())
}

fn replace_line(path: &Path, line_no: usize, new: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[line_no - 1] = new;
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn csv_err(e: Error) -> (u64, String, String) {
    match e {
        Error::Csv {
            line,
            column,
            message,
        } => (line, column, message),
        other => panic!("not a CSV error: {other}"),
    }
}

#[test]
fn bad_cell_names_file_line_and_column() {
    let d = our_copy();
    let p = d.path().join("proc/meminfo");
    replace_line(
        &p,
        3,
        "1767982258,13799684,15537380,346444,2.1,75172,lots,1021608,6.2,606232,1521012,616",
    );
    let (line, column, message) = csv_err(read_dir(d.path()).unwrap_err());
    assert_eq!((line, column.as_str()), (3, "kbcached"));
    assert!(
        message.contains("proc/meminfo") && message.contains("\"lots\""),
        "{message}"
    );
}

#[test]
fn bad_cpu_id_and_timestamp() {
    let d = our_copy();
    let p = d.path().join("proc/stat");
    replace_line(&p, 2, "1767982253,-2,0,0,0,0,0,100");
    let (line, column, message) = csv_err(read_dir(d.path()).unwrap_err());
    assert_eq!((line, column.as_str()), (2, "CPU"));
    assert!(message.contains("proc/stat"), "{message}");

    replace_line(&p, 2, "yesterday,-1,0,0,0,0,0,100");
    let (line, column, _) = csv_err(read_dir(d.path()).unwrap_err());
    assert_eq!((line, column.as_str()), (2, "timestamp"));
}

#[test]
fn wrong_header_and_field_count() {
    let d = our_copy();
    let p = d.path().join("statfs_ALL");
    replace_line(&p, 1, "#timestamp,mount,blocksize");
    let (line, _, message) = csv_err(read_dir(d.path()).unwrap_err());
    assert_eq!(line, 1);
    assert!(
        message.contains("statfs_ALL") && message.contains("header"),
        "{message}"
    );

    let d = our_copy();
    let p = d.path().join("proc/net/dev");
    replace_line(&p, 4, "1767982253,eth0,1,2,3");
    let (line, column, message) = csv_err(read_dir(d.path()).unwrap_err());
    assert_eq!((line, column.as_str()), (4, "-"));
    assert!(message.contains("5 fields, the header has 10"), "{message}");
}

#[test]
fn empty_and_non_utf8_files() {
    let d = our_copy();
    std::fs::write(d.path().join("proc/diskstats"), "").unwrap();
    let (line, _, message) = csv_err(read_dir(d.path()).unwrap_err());
    assert_eq!(line, 1);
    assert!(
        message.contains("proc/diskstats") && message.contains("empty"),
        "{message}"
    );

    let d = our_copy();
    let p = d.path().join("proc/stat");
    let mut bytes = std::fs::read(&p).unwrap();
    let at = bytes.iter().position(|&b| b == b'\n').unwrap() + 3;
    bytes[at] = 0xff;
    std::fs::write(&p, bytes).unwrap();
    let (line, _, message) = csv_err(read_dir(d.path()).unwrap_err());
    assert_eq!(line, 2);
    assert!(
        message.contains("proc/stat") && message.contains("UTF-8"),
        "{message}"
    );
}

#[test]
fn header_only_files_and_missing_files() {
    let d = tempfile::tempdir().unwrap();
    assert!(matches!(read_dir(d.path()), Err(Error::Io { .. })));
    std::fs::create_dir_all(d.path().join("proc")).unwrap();
    std::fs::write(
        d.path().join("proc/meminfo"),
        format!("{}\n", File::Meminfo.header()),
    )
    .unwrap();
    let data = read_dir(d.path()).unwrap();
    assert_eq!(data.files, [File::Meminfo]);
    assert!(data.rows.is_empty());
}

#[test]
fn two_machines_in_one_directory_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("statfs_ALL"),
        "#site,host,timestamp,mount,blocksize,blockstotal,blocksavail,use\n\
         s,a,100,/,4096,10,5,50\ns,b,100,/,4096,10,5,50\n",
    )
    .unwrap();
    let (line, column, message) = csv_err(read_dir(d.path()).unwrap_err());
    assert_eq!((line, column.as_str()), (3, "host"));
    assert!(message.contains("one machine"), "{message}");
}

#[test]
fn broken_system_info_is_a_parse_error() {
    let d = our_copy();
    std::fs::write(
        d.path().join("system_info.json"),
        "{\n  \"cpu_cores\": \"two\"\n}\n",
    )
    .unwrap();
    match read_dir(d.path()).unwrap_err() {
        Error::Parse { file, line, .. } => assert_eq!((file, line), ("system_info.json", 2)),
        other => panic!("{other}"),
    }
}

#[test]
fn reader_never_panics_on_mangled_rows() {
    // Every row of a real file cut at every byte position reads to Ok or Err.
    let d = our_copy();
    let p = d.path().join("proc/net/dev");
    let text = std::fs::read_to_string(&p).unwrap();
    let row = text.lines().nth(2).unwrap().to_owned();
    for cut in 0..row.len() {
        for tail in ["", ",", "\"", ",x"] {
            replace_line(&p, 3, &format!("{}{tail}", &row[..cut]));
            let _ = read_dir(d.path());
        }
    }
}

#[test]
fn counter_reset_and_reboot_give_no_rows() {
    // Three samples of the live fixture's shape: a disk whose counters restart, then a reboot.
    let stat = |btime: u64, user: u64| {
        format!(
            "cpu  {user} 0 0 1000 0 0 0 0 0 0\\ncpu0 {user} 0 0 1000 0 0 0 0 0 0\\nbtime {btime}\\n"
        )
    };
    let disk = |reads: u64| format!("   8       0 sda {reads} 0 8 1 0 0 0 0 0 1 1\\n");
    let rec = |ts: i64, sub: &str, m: &str| {
        format!("{{\"timestamp\":{ts},\"subsystem\":\"{sub}\",\"measurement\":\"{m}\"}}\n")
    };
    let mut cap = String::new();
    for (ts, btime, user, reads) in [
        (100, 1000, 10, 500),
        (105, 1000, 20, 600),
        (110, 1000, 30, 3),
        (115, 9000, 1, 1),
        (120, 9000, 11, 2),
    ] {
        cap.push_str(&rec(ts, "/proc/stat", &stat(btime, user)));
        cap.push_str(&rec(ts, "/proc/diskstats", &disk(reads)));
    }
    let out = tempfile::tempdir().unwrap();
    let mut w = PcprocessWriter::create(out.path(), PcprocessOptions::default()).unwrap();
    let stats = run(SampleReader::new(cap.as_bytes()), &mut w).unwrap();
    assert_eq!((stats.intervals, stats.reboots, stats.resets), (3, 1, 1));
    let disks = std::fs::read_to_string(out.path().join("proc/diskstats")).unwrap();
    // 105: 100 reads in 5 s; 110: reset (600 -> 3), no row; 115: reboot; 120: 1 read.
    assert_eq!(
        disks,
        "#timestamp,DEV,tps,rtps,wtps,dtps,bread/s,bwrtn/s,bdscd/s\n\
         105,sda,20,20,0,,0,0,\n120,sda,0.2,0.2,0,,0,0,\n"
    );
    let stat = std::fs::read_to_string(out.path().join("proc/stat")).unwrap();
    let ts: Vec<&str> = stat.lines().skip(1).map(|l| &l[..3]).collect();
    assert_eq!(ts, ["105", "105", "110", "110", "120", "120"]);
}

#[test]
fn rewriting_a_directory_leaves_no_stale_system_info() {
    // A run with cpuinfo, then one without into the same directory.
    let out = tempfile::tempdir().unwrap();
    for (set, has_info) in [(&SETS[3], true), (&SETS[0], false)] {
        let mut w = PcprocessWriter::create(out.path(), PcprocessOptions::default()).unwrap();
        run(set.samples().into_iter().map(Ok), &mut w).unwrap();
        assert_eq!(out.path().join("system_info.json").exists(), has_info);
    }
    let stat = std::fs::read_to_string(out.path().join("proc/stat")).unwrap();
    assert_eq!(stat.lines().count(), 1 + 131 * 2, "rewritten, not appended");
}

#[test]
fn extreme_timestamps_do_not_overflow() {
    let d = tempfile::tempdir().unwrap();
    let max = i64::MAX / 1000;
    std::fs::write(
        d.path().join("statfs_ALL"),
        format!(
            "{}\n-{max},/,4096,10,5,50\n{max},/,4096,10,5,50\n",
            File::Statfs.header()
        ),
    )
    .unwrap();
    let data = read_dir(d.path()).unwrap();
    assert_eq!(data.rows.len(), 2);
    assert!(data.rows[1].elapsed_s > 1e16);
    std::fs::write(
        d.path().join("statfs_ALL"),
        format!("{}\n{},/,4096,10,5,50\n", File::Statfs.header(), i64::MAX),
    )
    .unwrap();
    let (line, column, _) = csv_err(read_dir(d.path()).unwrap_err());
    assert_eq!((line, column.as_str()), (2, "timestamp"));
}
