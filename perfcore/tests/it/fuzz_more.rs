//! More property tests of single parsers: `statfs`, `stat` and `pressure` fed
//! arbitrary bytes, token soup and real files with random edits. None may
//! panic; where one returns `Ok`, what it returns must agree with the lines
//! that were left alone.

use std::sync::LazyLock;

use perfcore::parse::pressure::{self, Pressure, Resource};
use perfcore::parse::stat::{self, Stat};
use perfcore::parse::statfs::{self, FsStat};
use perfcore::rates::FsUsage;
use proptest::prelude::*;

use crate::fuzz::{Edit, apply, edits};

fn read(rel: &str) -> Vec<u8> {
    let p = crate::fixtures().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every real `/proc/stat` in the fixtures (the two invalid telegraf cases too:
/// an edit may repair them, and the untouched lines must still agree).
static STAT_FILES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    [
        "live/debian12-kernel6.18-2cpu/sample0/proc/stat",
        "live/debian12-kernel6.18-2cpu/sample1/proc/stat",
        "live/debian12-kernel6.18-2cpu/sample2/proc/stat",
        "corpus/node_exporter/stat-guest/proc/stat",
        "corpus/telegraf/kernel-stat-full/proc/stat",
        "corpus/telegraf/kernel-stat-partial/proc/stat",
        "corpus/telegraf/kernel-stat-invalid-btime/proc/stat",
        "corpus/telegraf/kernel-stat-invalid-page/proc/stat",
        "corpus/procfs/stat-huge-intr/proc/stat",
    ]
    .iter()
    .map(|r| read(r))
    .collect()
});

/// Every real PSI file in the fixtures, with its resource (irq only in node_exporter's case).
static PSI_FILES: LazyLock<Vec<(Resource, Vec<u8>)>> = LazyLock::new(|| {
    let mut v = Vec::new();
    for case in [
        "corpus/node_exporter/pressure",
        "corpus/node_exporter/pressure-cpu-some-only-2019",
        "corpus/procfs/pressure",
        "corpus/telegraf/pressure",
        "live/debian12-kernel6.18-2cpu/sample0",
        "live/debian12-kernel6.18-2cpu/sample1",
        "live/debian12-kernel6.18-2cpu/sample2",
    ] {
        for r in Resource::ALL {
            let p = crate::fixtures().join(format!("{case}/proc/pressure/{}", r.name()));
            if let Ok(b) = std::fs::read(p) {
                v.push((r, b));
            }
        }
    }
    let have = |r: Resource| v.iter().any(|(x, _)| *x == r);
    assert!(
        Resource::ALL.into_iter().all(have),
        "a PSI resource has no fixture"
    );
    v
});

/// Real `statfs[*]` measurements: the first one of two upstream captures.
static STATFS_TEXTS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    [
        "upstream/oci-e5-oraclelinux8/vm01_pcc_collection.json",
        "upstream/azure-b1s-ubuntu/pcc_collection.json",
    ]
    .iter()
    .map(|rel| {
        let text = read(rel);
        let line = text
            .split(|&c| c == b'\n')
            .find(|l| l.windows(11).any(|w| w == b"\"statfs[*]\""))
            .unwrap();
        let rec: serde_json::Value = serde_json::from_slice(line).unwrap();
        rec["measurement"].as_str().unwrap().as_bytes().to_vec()
    })
    .collect()
});

/// Bytes made of pieces of the formats (keys, numbers at the u64 limit, separators).
fn soup(pieces: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(pieces).prop_map(|s| s.as_bytes().to_vec()),
            1 => any::<u8>().prop_map(|b| vec![b]),
        ],
        0..200,
    )
    .prop_map(|v| v.concat())
}

const STAT_PIECES: &[&str] = &[
    "cpu",
    "cpu0",
    "cpu12",
    "cpu4294967296",
    "intr",
    "ctxt",
    "btime",
    "processes",
    "procs_running",
    "procs_blocked",
    "softirq",
    "page",
    "swap",
    " ",
    "  ",
    "\t",
    "\r",
    "\n",
    "\n",
    "0",
    "0 0 0 0 ",
    "7",
    "123456",
    "9999999999999999999",
    "18446744073709551615",
    "18446744073709551616",
    "x",
    "-",
];

const PSI_PIECES: &[&str] = &[
    "some",
    "full",
    " ",
    " ",
    "\t",
    "\n",
    "\n",
    "avg10=",
    "avg60=",
    "avg300=",
    "total=",
    "0.00",
    "1.5",
    "300",
    "1e3",
    "inf",
    "nan",
    "-1",
    "=",
    "123",
    "18446744073709551615",
    "18446744073709551616",
    "x",
];

/// Splits `text` at newlines, applies `e` to line `which` (mod the line count) only,
/// and joins again. Returns the new text and the index of the edited line; the
/// edited line may have become several (an inserted newline) or none.
fn edit_one_line(text: &[u8], which: usize, e: &[Edit]) -> (Vec<Vec<u8>>, usize, Vec<u8>) {
    let lines: Vec<Vec<u8>> = text.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
    let i = which % lines.len();
    let edited = apply(lines[i].clone(), e);
    let mut out = Vec::new();
    for (k, l) in lines.iter().enumerate() {
        if k > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(if k == i { &edited } else { l });
    }
    (lines, i, out)
}

fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c')
}

/// The first blank-separated word of a line.
fn key(line: &[u8]) -> &[u8] {
    line.split(|&c| is_blank(c))
        .find(|w| !w.is_empty())
        .unwrap_or_default()
}

/// Every line of `text` with one blank put in front: that keeps the parser off
/// its fast path, so every line goes through the general one.
fn indented(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 64);
    for (k, l) in text.split(|&c| c == b'\n').enumerate() {
        if k > 0 {
            out.push(b'\n');
        }
        out.push(b' ');
        out.extend_from_slice(l);
    }
    out
}

/// A `/proc/stat` value that one line sets, by key, for comparing whole files with lines.
fn stat_value(s: &Stat<'_>, key: &[u8]) -> Option<String> {
    Some(match key {
        b"cpu" => format!("{:?}", s.cpu_total),
        b"intr" => format!(
            "{:?} {:?}",
            s.intr_total,
            s.intr_numbered().collect::<Vec<_>>()
        ),
        b"softirq" => format!(
            "{:?} {:?}",
            s.softirq_total,
            s.softirq_vectors().collect::<Vec<_>>()
        ),
        b"ctxt" => format!("{:?}", s.ctxt),
        b"btime" => format!("{:?}", s.btime),
        b"processes" => format!("{:?}", s.processes),
        b"procs_running" => format!("{:?}", s.procs_running),
        b"procs_blocked" => format!("{:?}", s.procs_blocked),
        b"page" => format!("{:?}", s.page),
        b"swap" => format!("{:?}", s.swap),
        _ => return None,
    })
}

/// The fast and the general path read every input alike: same value, or both an error.
fn check_paths_agree(text: &[u8]) -> Result<(), TestCaseError> {
    let ind = indented(text);
    match (stat::parse(text), stat::parse(&ind)) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        (a, b) => prop_assert!(false, "fast {:?} but general {:?}", a, b),
    }
    Ok(())
}

/// `/proc/stat` with one line edited: if it parses, every value whose last line
/// was left alone is what that line says by itself, every untouched `cpuN` line
/// is in the list, and an untouched line that is an error alone makes it an error.
fn check_stat_one_line_edit(text: &[u8], which: usize, e: &[Edit]) -> Result<(), TestCaseError> {
    let (lines, i, out) = edit_one_line(text, which, e);
    let got = stat::parse(&out);
    let edited_keys: Vec<Vec<u8>> = {
        let seg = apply(lines[i].clone(), e);
        seg.split(|&c| c == b'\n')
            .map(|l| key(l).to_vec())
            .collect()
    };
    let untouched = lines.iter().enumerate().filter(|(k, _)| *k != i);
    let Ok(got) = got else {
        return Ok(());
    };
    for (k, l) in untouched {
        let alone = stat::parse(l);
        prop_assert!(
            alone.is_ok(),
            "line {} alone is an error but the file parsed",
            k + 1
        );
        let alone = alone.unwrap();
        let kk = key(l);
        if kk.starts_with(b"cpu") && kk.len() > 3 {
            let cpu = alone.cpus[0];
            prop_assert!(got.cpus.contains(&cpu), "cpu line {} lost", k + 1);
            continue;
        }
        // The last line with this key decides the value.
        let later_untouched = lines
            .iter()
            .enumerate()
            .any(|(j, m)| j > k && j != i && key(m) == kk);
        let later_edited = i > k && edited_keys.iter().any(|x| x == kk);
        if later_untouched || later_edited {
            continue;
        }
        if let Some(want) = stat_value(&alone, kk) {
            prop_assert_eq!(stat_value(&got, kk), Some(want), "line {}", k + 1);
        }
    }
    Ok(())
}

/// Usage computed from any record stays within 0..=100 %.
fn check_usage(v: &[FsStat<'_>]) -> Result<(), TestCaseError> {
    for s in v {
        let u = FsUsage::from_stat(s);
        for p in [u.used_pct, u.inodes_used_pct].into_iter().flatten() {
            prop_assert!(p.is_finite() && (0.0..=100.0).contains(&p), "{}", p);
        }
        prop_assert!(u.used_bytes <= u.size_bytes);
    }
    Ok(())
}

/// A parse that succeeded is written back and read again to the same records.
fn check_statfs_round_trip(v: &[FsStat<'_>]) -> Result<(), TestCaseError> {
    let text = statfs::write(v);
    let back = statfs::parse(text.as_bytes());
    prop_assert!(back.is_ok(), "{:?}", back);
    let back = back.unwrap();
    prop_assert_eq!(back.as_slice(), v);
    Ok(())
}

fn check_psi_sane(p: &Pressure) -> Result<(), TestCaseError> {
    for l in [p.some, p.full].into_iter().flatten() {
        for a in [l.avg10, l.avg60, l.avg300] {
            prop_assert!(a.is_finite() && a >= 0.0, "average {}", a);
        }
    }
    Ok(())
}

/// NDJSON mount records: mostly well formed (every key, in any order, numbers up
/// to the u64 limit, any printable mount point), sometimes with a value of the
/// wrong type, a repeated or unknown key, or a key left out.
fn statfs_records() -> impl Strategy<Value = Vec<u8>> {
    let number = prop_oneof![
        150 => any::<u64>().prop_map(|v| v.to_string()),
        150 => (0u64..100).prop_map(|v| v.to_string()),
        1 => Just("18446744073709551616".to_owned()),
        1 => Just("-1".to_owned()),
        1 => Just("1.5".to_owned()),
        1 => Just("null".to_owned()),
    ];
    let mount = prop_oneof![
        40 => "[ -~]{0,12}".prop_map(|m| serde_json::to_string(&m).unwrap()),
        1 => Just("\"/mnt/a\\u0026b\"".to_owned()),
        1 => Just("\"\\ud800\"".to_owned()),
        1 => Just("7".to_owned()),
    ];
    const KEYS: [&str; 6] = [
        "block_size",
        "blocks_total",
        "blocks_free",
        "blocks_available",
        "files_total",
        "files_free",
    ];
    let record = (
        mount,
        prop::collection::vec(number.clone(), 6),
        prop::option::weighted(0.1, (prop::sample::select(&KEYS[..]), number)),
        0usize..60,
    )
        .prop_flat_map(|(m, nums, extra, drop)| {
            let mut kv = vec![("mount_point".to_owned(), m)];
            kv.extend(KEYS.iter().map(|k| (*k).to_owned()).zip(nums));
            kv.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
            if drop < kv.len() && drop != 5 && drop != 6 {
                kv.remove(drop); // a required key missing (files_* are optional)
            }
            Just(kv).prop_shuffle()
        })
        .prop_map(|kv| {
            let body: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", body.join(","))
        });
    prop::collection::vec(
        prop_oneof![8 => record, 1 => Just(String::new()), 1 => Just("  ".to_owned())],
        0..6,
    )
    .prop_map(|lines| lines.join("\n").into_bytes())
}

const PSI_TRAILER: &[u8] = b"\nfull avg10=1.50 avg60=0.25 avg300=0.00 total=789\n";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn statfs_arbitrary_bytes_round_trip_or_error(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(v) = statfs::parse(&bytes) {
            let non_blank = bytes
                .split(|&c| c == b'\n')
                .filter(|l| l.iter().any(|&c| !c.is_ascii_whitespace()))
                .count();
            prop_assert!(v.len() <= non_blank);
            check_statfs_round_trip(&v)?;
            check_usage(&v)?;
        }
    }

    #[test]
    fn statfs_generated_records_round_trip_or_error(bytes in statfs_records(), e in prop::option::weighted(0.25, edits())) {
        let bytes = match e {
            Some(e) => apply(bytes, &e),
            None => bytes,
        };
        if let Ok(v) = statfs::parse(&bytes) {
            check_statfs_round_trip(&v)?;
            check_usage(&v)?;
        }
    }

    #[test]
    fn statfs_mutated_capture_is_read_line_by_line(which_text in 0usize..2, which in any::<usize>(), e in edits()) {
        let text = &STATFS_TEXTS[which_text];
        let (lines, i, out) = edit_one_line(text, which, &e);
        let got = statfs::parse(&out);
        // Records are one per line: the result is the untouched lines' records
        // around those of the edited segment, or an error when any piece is one.
        let pieces: Vec<Vec<u8>> = lines
            .iter()
            .enumerate()
            .map(|(k, l)| if k == i { apply(l.clone(), &e) } else { l.clone() })
            .collect();
        let parsed: Vec<_> = pieces.iter().map(|p| statfs::parse(p)).collect();
        if parsed.iter().all(Result::is_ok) {
            let want: Vec<FsStat<'_>> = parsed.into_iter().flat_map(Result::unwrap).collect();
            prop_assert!(got.is_ok(), "{:?}", got);
            let got = got.unwrap();
            prop_assert_eq!(&got, &want);
            check_statfs_round_trip(&got)?;
            check_usage(&got)?;
        } else {
            prop_assert!(got.is_err());
        }
    }

    #[test]
    fn stat_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        if let Ok(s) = stat::parse(&bytes) {
            let _ = s.intr_numbered().count();
            let _ = s.softirq_vectors().count();
            let _ = serde_json::to_string(&s).unwrap();
        }
        check_paths_agree(&bytes)?;
    }

    #[test]
    fn stat_lines_after_arbitrary_bytes_are_read_exactly(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let mut text = bytes.clone();
        text.extend_from_slice(b"\ncpu7 1 2 3 4 5 6 7 8 9 10\nctxt 42\nintr 9 1 2 3\n");
        let got = stat::parse(&text);
        // The known lines are fine, so the whole is Ok exactly when the random part is.
        prop_assert_eq!(got.is_ok(), stat::parse(&bytes).is_ok());
        if let Ok(s) = got {
            let last = s.cpus.last().unwrap();
            prop_assert_eq!(last.id, 7);
            prop_assert_eq!(last.times.to_array(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
            prop_assert_eq!(s.ctxt, Some(42));
            prop_assert_eq!(s.intr_total, Some(9));
            prop_assert_eq!(s.intr_numbered().collect::<Vec<_>>(), vec![1, 2, 3]);
        }
    }

    #[test]
    fn stat_token_soup_fast_and_general_paths_agree(bytes in soup(STAT_PIECES)) {
        check_paths_agree(&bytes)?;
    }

    #[test]
    fn stat_real_files_with_one_line_edited(f in 0usize..9, which in any::<usize>(), e in edits()) {
        check_stat_one_line_edit(&STAT_FILES[f], which, &e)?;
    }

    #[test]
    fn stat_real_files_with_edits_anywhere(f in 0usize..9, e in edits()) {
        let text = apply(STAT_FILES[f].clone(), &e);
        if let Ok(s) = stat::parse(&text) {
            let _ = s.intr_numbered().count();
            prop_assert!(s.cpus.len() <= text.split(|&c| c == b'\n').count());
        }
        check_paths_agree(&text)?;
    }

    #[test]
    fn pressure_arbitrary_bytes_for_every_resource(bytes in prop::collection::vec(any::<u8>(), 0..2048), r in 0usize..4) {
        let res = Resource::ALL[r];
        if let Ok(p) = pressure::parse(&bytes, res) {
            check_psi_sane(&p)?;
        }
        // A valid `full` line after the random part: if the whole parses, `full`
        // is that line exactly (a second `full` line would be an error).
        let mut text = bytes.clone();
        text.extend_from_slice(PSI_TRAILER);
        if let Ok(p) = pressure::parse(&text, res) {
            let f = p.full.unwrap();
            prop_assert_eq!((f.avg10, f.avg60, f.avg300, f.total_us), (1.5, 0.25, 0.0, 789));
            check_psi_sane(&p)?;
        }
    }

    #[test]
    fn pressure_token_soup_is_sane(bytes in soup(PSI_PIECES), r in 0usize..4) {
        if let Ok(p) = pressure::parse(&bytes, Resource::ALL[r]) {
            check_psi_sane(&p)?;
        }
    }

    #[test]
    fn pressure_real_files_with_one_line_edited(f in any::<prop::sample::Index>(), which in any::<usize>(), e in edits()) {
        let (res, text) = &PSI_FILES[f.index(PSI_FILES.len())];
        let (lines, i, out) = edit_one_line(text, which, &e);
        if let Ok(p) = pressure::parse(&out, *res) {
            check_psi_sane(&p)?;
            // An untouched `some` or `full` line reads as it does alone.
            for (k, l) in lines.iter().enumerate().filter(|(k, _)| *k != i) {
                let alone = pressure::parse(l, *res).unwrap();
                match key(l) {
                    b"some" => prop_assert_eq!(p.some, alone.some, "line {}", k + 1),
                    b"full" => prop_assert_eq!(p.full, alone.full, "line {}", k + 1),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn pressure_real_files_with_edits_anywhere(f in any::<prop::sample::Index>(), e in edits()) {
        let (res, text) = &PSI_FILES[f.index(PSI_FILES.len())];
        let out = apply(text.clone(), &e);
        if let Ok(p) = pressure::parse(&out, *res) {
            check_psi_sane(&p)?;
            let _ = serde_json::to_string(&p).unwrap();
        }
    }
}
