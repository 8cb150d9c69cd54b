//! Property tests: no input makes the capture reader, the CSV readers, the
//! parsers or the delta math panic, and the math never yields a negative,
//! infinite or out-of-range value.

use perfcore::capture::SampleReader;
use perfcore::metrics::{IntervalRow, Metric};
use perfcore::process::{Collect, run};
use perfcore::{Interval, RawSample, Source};
use proptest::prelude::*;

fn capture_text() -> Vec<u8> {
    let p = crate::fixtures().join("upstream/azure-d4s-cpuinfo/loadtest-cpuinfo.json");
    let mut v = std::fs::read(p).unwrap();
    // The first few ticks are enough and keep each case fast.
    let cut = v
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == b'\n')
        .nth(24)
        .map(|(i, _)| i + 1)
        .unwrap_or(v.len());
    v.truncate(cut);
    v
}

fn live_file(n: u32, rel: &str) -> Vec<u8> {
    std::fs::read(crate::fixtures().join(format!(
        "live/debian12-kernel6.18-2cpu/sample{n}/proc/{rel}"
    )))
    .unwrap()
}

/// Checks what must hold for every row the math produces.
fn sane(row: &IntervalRow) {
    for m in Metric::ALL {
        if let Some(v) = row.get(*m) {
            assert!(v.is_finite(), "{} = {v}", m.name());
            assert!(v >= 0.0, "{} = {v}", m.name());
            if m.unit() == "%" && !m.name().starts_with("psi_") {
                assert!(v <= 100.0 + 1e-9, "{} = {v}", m.name());
            }
        }
    }
}

/// One random change to a real file (shared by the property tests of this crate).
#[derive(Debug, Clone)]
pub(crate) enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

/// `v` with `edits` applied (positions taken modulo the length at that moment).
pub(crate) fn apply(mut v: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        match *e {
            Edit::Replace(i, b) if !v.is_empty() => {
                let i = i % v.len();
                v[i] = b;
            }
            Edit::Insert(i, b) => {
                let i = i % (v.len() + 1);
                v.insert(i, b);
            }
            Edit::Delete(i) if !v.is_empty() => {
                let i = i % v.len();
                v.remove(i);
            }
            _ => {}
        }
    }
    v
}

/// Random edits, bytes biased to what the formats are made of: digits,
/// separators, quotes and JSON punctuation.
pub(crate) fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let byte = prop_oneof![
        Just(b'0'),
        Just(b'9'),
        Just(b' '),
        Just(b'\t'),
        Just(b'\n'),
        Just(b':'),
        Just(b'='),
        Just(b'.'),
        Just(b','),
        Just(b'{'),
        Just(b'"'),
        Just(b'\\'),
        Just(b'-'),
        any::<u8>()
    ];
    prop::collection::vec(
        prop_oneof![
            (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Replace(i, b)),
            (any::<usize>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
            any::<usize>().prop_map(Edit::Delete),
        ],
        1..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn capture_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        for s in SampleReader::new(bytes.as_slice()).flatten() {
            let _ = s.parse_lenient();
        }
    }

    #[test]
    fn mutated_captures_give_sane_rows_or_errors(e in edits()) {
        let text = apply(capture_text(), &e);
        let mut sink = Collect::default();
        if run(SampleReader::new(text.as_slice()), &mut sink).is_ok() {
            for r in &sink.rows {
                sane(r);
            }
        }
    }

    #[test]
    fn every_parser_survives_mutated_live_files(e in edits(), which in 0usize..9) {
        let (src, rel) = [
            (Source::Stat, "stat"),
            (Source::Meminfo, "meminfo"),
            (Source::Diskstats, "diskstats"),
            (Source::NetDev, "net/dev"),
            (Source::Loadavg, "loadavg"),
            (Source::Vmstat, "vmstat"),
            (Source::PressureCpu, "pressure/cpu"),
            (Source::PressureIo, "pressure/io"),
            (Source::Cpuinfo, "cpuinfo"),
        ][which];
        let mut s = RawSample::new(0);
        s.set(src, &apply(live_file(0, rel), &e));
        let _ = s.parse();
        let _ = serde_json::to_string(&s.parse_lenient().0);
    }

    #[test]
    fn random_counters_never_give_negative_or_infinite_rates(
        a in prop::collection::vec(any::<u32>(), 30),
        b in prop::collection::vec(any::<u32>(), 30),
        dt_ms in 1i64..100_000,
    ) {
        let stat = |v: &[u32]| format!(
            "cpu {} {} {} {} {} {} {} {} {} {}\ncpu0 {} {} {} {} {} {} {} {} {} {}\nctxt {}\nbtime 5\n",
            v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9],
            v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]
        );
        let disk = |v: &[u32]| format!(
            "8 0 sda {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {}\n",
            v[11], v[12], v[13], v[14], v[15], v[16], v[17], v[18], v[19], v[20], v[21],
            v[22], v[23], v[24], v[25], v[26], v[27]
        );
        let net = |v: &[u32]| format!(
            "Inter-|   Receive\n face |bytes\neth0: {} {} 0 0 0 0 0 0 {} {} 0 0 0 0 0 0\n", v[28], v[29], v[29], v[28]
        );
        let mk = |v: &[u32], ts: i64| {
            let mut s = RawSample::new(ts);
            s.set(Source::Stat, stat(v).as_bytes());
            s.set(Source::Diskstats, disk(v).as_bytes());
            s.set(Source::NetDev, net(v).as_bytes());
            s
        };
        let (sa, sb) = (mk(&a, 1_000), mk(&b, 1_000 + dt_ms));
        let iv = Interval::between(&sa.parse().unwrap(), &sb.parse().unwrap()).unwrap();
        sane(&IntervalRow::from_interval(&iv));
        for d in &iv.disks {
            prop_assert!(d.util_pct <= 100.0 && d.r_await_ms >= 0.0 && d.aqu_sz >= 0.0);
        }
    }

    #[test]
    fn csv_readers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let _ = perfcore::csv::ours::read_wide(bytes.as_slice());
        let _ = perfcore::csv::ours::read_long(bytes.as_slice());
        let _ = perfcore::csv::portal::read(bytes.as_slice());
    }

    #[test]
    fn portal_csv_with_a_mutated_row_is_an_error_or_sane(e in edits()) {
        let p = crate::fixtures().join("upstream/azure-b1s-ubuntu/azure_pcc-test-01_performance.csv");
        let text = apply(std::fs::read(p).unwrap(), &e);
        if let Err(err) = perfcore::csv::portal::read(text.as_slice()) {
            let msg = err.to_string();
            prop_assert!(msg.starts_with("CSV line "), "{}", msg);
        }
    }
}
