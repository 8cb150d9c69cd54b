//! `perfan process` throughput: a 24-hour capture at 5 s (17,280 ticks), made
//! in memory from the live fixture samples, run through `perfcore::process::run`
//! into the CSV writers.
//!
//! ```text
//! cargo bench -p perfan-benches --bench process
//! ```
//!
//! Each iteration processes the whole day (about a second), so the group takes
//! ten samples. Set `PERFAN_BENCH_TICKS` to process a shorter capture (CI smoke
//! runs); the capture can also be written to a file for timing the `perfan`
//! binary end to end: `PERFAN_BENCH_WRITE_CAPTURE=/tmp/day.json`.

use std::hint::black_box;
use std::io::Write;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use perfan_benches::{CaptureSynth, DAY_TICKS_5S};
use perfcore::capture::SampleReader;
use perfcore::csv::ours::{LongWriter, WideWriter};
use perfcore::csv::portal::{PortalRow, PortalWriter};
use perfcore::metrics::{IntervalRow, device_rows};
use perfcore::process::{IntervalSink, run};
use perfcore::rates::Interval;
use perfcore::snapshot::Snapshot;

/// Our schema: the wide file and the long per-device file.
struct Ours<'a> {
    wide: WideWriter<&'a mut Vec<u8>>,
    long: LongWriter<&'a mut Vec<u8>>,
}

impl IntervalSink for Ours<'_> {
    fn interval(&mut self, iv: &Interval, _cur: &Snapshot<'_>) -> perfcore::Result<()> {
        self.wide
            .write("bench", &IntervalRow::from_interval(iv))
            .map_err(|e| perfcore::Error::io("intervals.csv", e))?;
        self.long
            .write("bench", &device_rows(iv))
            .map_err(|e| perfcore::Error::io("devices.csv", e))
    }
}

/// The portal upload CSV.
struct Portal<'a>(PortalWriter<&'a mut Vec<u8>>);

impl IntervalSink for Portal<'_> {
    fn interval(&mut self, iv: &Interval, _cur: &Snapshot<'_>) -> perfcore::Result<()> {
        self.0
            .write(&PortalRow::from_interval(iv))
            .map_err(|e| perfcore::Error::io("portal.csv", e))
    }
}

/// All three files in one pass.
struct All<'a>(Ours<'a>, Portal<'a>);

impl IntervalSink for All<'_> {
    fn interval(&mut self, iv: &Interval, cur: &Snapshot<'_>) -> perfcore::Result<()> {
        self.0.interval(iv, cur)?;
        self.1.interval(iv, cur)
    }
}

/// Counts intervals and writes nothing: the pipeline alone.
#[derive(Default)]
struct Count(u64);

impl IntervalSink for Count {
    fn interval(&mut self, iv: &Interval, _cur: &Snapshot<'_>) -> perfcore::Result<()> {
        self.0 += 1;
        black_box(iv);
        Ok(())
    }
}

fn ticks() -> u64 {
    std::env::var("PERFAN_BENCH_TICKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DAY_TICKS_5S)
}

fn bench_process(c: &mut Criterion) {
    let ticks = ticks();
    let capture = CaptureSynth::new().capture(ticks, 5);
    if let Ok(path) = std::env::var("PERFAN_BENCH_WRITE_CAPTURE") {
        let mut f = std::fs::File::create(&path).expect("create capture file");
        f.write_all(capture.as_bytes()).expect("write capture file");
        eprintln!("wrote {} bytes of capture to {path}", capture.len());
    }
    let input = capture.as_bytes();
    let (mut a, mut b, mut p) = (Vec::new(), Vec::new(), Vec::new());
    {
        let mut sink = All(
            Ours {
                wide: WideWriter::new(&mut a).expect("header"),
                long: LongWriter::new(&mut b).expect("header"),
            },
            Portal(PortalWriter::new(&mut p).expect("header")),
        );
        let stats = run(SampleReader::new(input), &mut sink).expect("process");
        assert_eq!(stats.samples, ticks);
        assert_eq!(stats.intervals, ticks - 1);
        assert_eq!(stats.resets, 0);
    }
    eprintln!(
        "capture: {ticks} ticks, {} MiB; output: intervals.csv {} MiB, devices.csv {} MiB, portal.csv {} MiB",
        input.len() >> 20,
        a.len() >> 20,
        b.len() >> 20,
        p.len() >> 20
    );

    let mut g = c.benchmark_group("process_day_5s");
    g.throughput(Throughput::Elements(ticks))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(12));
    g.bench_function("pipeline only (no CSV)", |bch| {
        bch.iter(|| {
            let mut sink = Count::default();
            run(SampleReader::new(input), &mut sink).expect("process");
            black_box(sink.0)
        })
    });
    g.bench_function("ours wide+long", |bch| {
        bch.iter(|| {
            a.clear();
            b.clear();
            let mut sink = Ours {
                wide: WideWriter::new(&mut a).expect("header"),
                long: LongWriter::new(&mut b).expect("header"),
            };
            run(SampleReader::new(input), &mut sink).expect("process")
        })
    });
    g.bench_function("portal", |bch| {
        bch.iter(|| {
            p.clear();
            let mut sink = Portal(PortalWriter::new(&mut p).expect("header"));
            run(SampleReader::new(input), &mut sink).expect("process")
        })
    });
    g.bench_function("ours wide+long and portal, one pass", |bch| {
        bch.iter(|| {
            a.clear();
            b.clear();
            p.clear();
            let mut sink = All(
                Ours {
                    wide: WideWriter::new(&mut a).expect("header"),
                    long: LongWriter::new(&mut b).expect("header"),
                },
                Portal(PortalWriter::new(&mut p).expect("header")),
            );
            run(SampleReader::new(input), &mut sink).expect("process")
        })
    });
    g.finish();
}

criterion_group!(process, bench_process);
criterion_main!(process);
