//! Per-interval work after the parse: the delta math between two live fixture
//! samples (sample0 → sample1, 3.05 s apart), the wide metrics row, and one row
//! of each CSV format.
//!
//! ```text
//! cargo bench -p perfan-benches --bench interval
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use perfan_benches::live_fixture_sample;
use perfcore::csv::ours::{LongWriter, WideWriter};
use perfcore::csv::portal::{PortalRow, PortalWriter};
use perfcore::metrics::{IntervalRow, device_rows};
use perfcore::rates::Interval;

fn bench_delta(c: &mut Criterion) {
    let (raw0, raw1) = (live_fixture_sample(0), live_fixture_sample(1));
    let (s0, s1) = (
        raw0.parse().expect("sample0 parses"),
        raw1.parse().expect("sample1 parses"),
    );
    let iv = Interval::between(&s0, &s1).expect("an interval");
    assert!(iv.resets.is_empty());
    let mut g = c.benchmark_group("delta");
    g.bench_function("Interval::between", |b| {
        b.iter(|| {
            Interval::between(black_box(&s0), black_box(&s1)).map(|iv| black_box(iv.cpus.len()))
        })
    });
    g.bench_function("IntervalRow::from_interval", |b| {
        b.iter(|| black_box(IntervalRow::from_interval(black_box(&iv))))
    });
    g.bench_function("device_rows", |b| {
        b.iter(|| black_box(device_rows(black_box(&iv)).len()))
    });
    // What `perfan process` does per tick: parse both samples (the earlier one is
    // re-parsed, as a parsed sample borrows its text), then the interval and row.
    g.bench_function("parse both + between + row", |b| {
        b.iter(|| {
            let p = black_box(&raw0).parse().expect("parse");
            let q = black_box(&raw1).parse().expect("parse");
            let iv = Interval::between(&p, &q).expect("interval");
            black_box(IntervalRow::from_interval(&iv))
        })
    });
    g.finish();
}

fn bench_csv(c: &mut Criterion) {
    let (raw0, raw1) = (live_fixture_sample(0), live_fixture_sample(1));
    let (s0, s1) = (
        raw0.parse().expect("sample0 parses"),
        raw1.parse().expect("sample1 parses"),
    );
    let iv = Interval::between(&s0, &s1).expect("an interval");
    let row = IntervalRow::from_interval(&iv);
    let devices = device_rows(&iv);
    let portal = PortalRow::from_interval(&iv);
    let machine = "debian12-vm";

    let mut g = c.benchmark_group("csv_row");
    let mut wide = WideWriter::new(std::io::sink()).expect("header");
    g.bench_function("ours wide", |b| {
        b.iter(|| wide.write(machine, black_box(&row)).expect("write"))
    });
    let mut long = LongWriter::new(std::io::sink()).expect("header");
    // One call writes every device value of the interval (disks, nets, CPUs).
    assert!(!devices.is_empty());
    g.bench_function("ours long (one interval)", |b| {
        b.iter(|| long.write(machine, black_box(&devices)).expect("write"))
    });
    let mut port = PortalWriter::new(std::io::sink()).expect("header");
    g.bench_function("portal", |b| {
        b.iter(|| port.write(black_box(&portal)).expect("write"))
    });
    g.bench_function("portal incl. PortalRow::from_interval", |b| {
        b.iter(|| {
            port.write(&PortalRow::from_interval(black_box(&iv)))
                .expect("write")
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

criterion_group! {
    name = interval;
    config = config();
    targets = bench_delta, bench_csv
}
criterion_main!(interval);
