//! Inputs at the edges: no machine, no rows, one row, values that are not
//! numbers, machines without devices, inconsistent device series. A report (or a
//! clean error), never a panic.

use perfcore::metrics::{DeviceKind, IntervalRow, Metric};
use perfreport::{CounterReset, DeviceSeries, Error, MachineSeries, ReportOptions, Severity};

use crate::series::{T0, cpu, machine};

fn report(ms: &[MachineSeries]) -> perfreport::Report {
    let r = perfreport::build(ms, &ReportOptions::default()).expect("report");
    let html = r.html();
    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
    let _ = r.json().to_string();
    r
}

#[test]
fn no_machine_is_an_error() {
    assert!(matches!(
        perfreport::build(&[], &ReportOptions::default()),
        Err(Error::NoMachines)
    ));
}

#[test]
fn a_machine_without_rows() {
    let r = report(&[MachineSeries::new("empty")]);
    let m = &r.machines()[0];
    assert!(m.metrics.is_empty());
    assert!(m.chart_ids().is_empty());
    assert!(r.html().contains("no intervals"));
    assert_eq!(r.json()["machines"][0]["quality"]["intervals"], 0);
}

#[test]
fn one_row() {
    let r = report(&[machine("one", 1, |_, r| cpu(r, 99.0, 0.0, 0.0))]);
    let s = r.machines()[0].metric("cpu_user_pct").expect("stats");
    assert_eq!((s.count, s.p50, s.stddev), (1, 99.0, 0.0));
    assert_eq!(r.machines()[0].quality.median_interval_s, None);
    assert!(r.machines()[0].chart_ids().contains(&"cpu"));
    // One interval busy is 100% of the time.
    assert_eq!(r.findings()[0].id, "cpu_saturation");
}

#[test]
fn values_that_are_not_numbers() {
    let r = report(&[machine("nan", 50, |i, r| {
        r.set(Metric::CpuUserPct, Some(f64::NAN));
        r.set(
            Metric::MemUsedBytes,
            Some(if i == 7 { f64::INFINITY } else { 1e9 }),
        );
        r.set(Metric::Load1, Some(if i % 2 == 0 { f64::NAN } else { 1.0 }));
        r.set(Metric::DiskAwaitMs, Some(-3.0));
    })]);
    let m = &r.machines()[0];
    assert!(
        m.metric("cpu_user_pct").is_none(),
        "an all-NaN metric has no statistics"
    );
    assert_eq!(m.metric("load1").map(|s| s.count), Some(25));
    let bad: Vec<&str> = m
        .quality
        .out_of_range
        .iter()
        .map(|o| o.series.as_str())
        .collect();
    assert!(
        bad.contains(&"mem_used_bytes") && bad.contains(&"disk_await_ms"),
        "{bad:?}"
    );
    assert!(r.findings().iter().any(|f| f.id == "data_quality"));
}

#[test]
fn a_machine_without_devices_and_one_with_broken_device_series() {
    let plain = machine("plain", 20, |_, r| cpu(r, 10.0, 0.0, 0.0));
    let mut broken = machine("broken", 20, |_, r| cpu(r, 10.0, 0.0, 0.0));
    // More times than values, times out of order, a series with nothing.
    let mut d = DeviceSeries::new(DeviceKind::Disk, "sda".into(), "util_pct".into());
    d.timestamps_ms = (0..20).rev().map(|i| T0 + i * 5000).collect();
    d.values = vec![50.0; 12];
    broken.devices.push(d);
    broken.devices.push(DeviceSeries::new(
        DeviceKind::Net,
        "eth0".into(),
        "rx_bytes_per_s".into(),
    ));
    let mut reads = DeviceSeries::new(DeviceKind::Disk, "sda".into(), "reads_per_s".into());
    reads.timestamps_ms = (0..20).map(|i| T0 + i * 5000).collect();
    reads.values = vec![1.0; 20];
    broken.devices.push(reads);
    let r = report(&[plain, broken]);
    assert_eq!(r.machines().len(), 2);
    assert!(r.comparison().is_some());
    let util = r.machines()[1]
        .device_metric(DeviceKind::Disk, "sda", "util_pct")
        .expect("util");
    assert_eq!(util.count, 12);
}

#[test]
fn odd_times() {
    // Every row at the same time, and times before 1970.
    let mut same = MachineSeries::new("same");
    for _ in 0..10 {
        let mut r = IntervalRow::new(T0, 0.0);
        cpu(&mut r, 20.0, 0.0, 0.0);
        same.rows.push(r);
    }
    let mut old = MachineSeries::new("old");
    for i in 0..10 {
        let mut r = IntervalRow::new(-1_000_000 + i * 1000, 1.0);
        cpu(&mut r, 20.0, 0.0, 0.0);
        old.rows.push(r);
    }
    let r = report(&[same, old]);
    assert_eq!(r.machines()[0].quality.duplicate_timestamps, 9);
    assert!(r.html().contains("1969-12-31"));
}

#[test]
fn huge_values_and_a_wide_chart() {
    let m = machine("big", 30, |i, r| {
        r.set(Metric::NetRxBytesPerS, Some(1e300 * i as f64));
        r.set(Metric::MemTotalBytes, Some(f64::MAX));
    });
    let mut opts = ReportOptions::default();
    opts.chart_width = 100_000;
    let r = perfreport::build(&[m], &opts).expect("report");
    let html = r.html();
    let svgs: Vec<&str> = html
        .split("<svg class=\"chart\"")
        .skip(1)
        .map(|s| &s[..s.find("</svg>").expect("end of svg")])
        .collect();
    assert_eq!(r.machines()[0].chart_ids(), ["net-throughput"]);
    assert_eq!(svgs.len(), 1);
    let svg = svgs[0];
    // 100,000 pixels asked for, 4000 drawn.
    assert!(
        svg.contains(" width=\"4000\" ") && svg.contains(" viewBox=\"0 0 4000 "),
        "{}",
        &svg[..svg.find('>').unwrap_or(0)]
    );
    let texts: Vec<&str> = svg
        .split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim())
        })
        .collect();
    for t in &texts {
        let l = t.to_lowercase();
        assert!(
            !l.contains("nan") && !l.contains("inf") && !t.contains('∞'),
            "{t}"
        );
    }
    // Received up to 29 × 1e300 B/s = 2.58e286 PiB/s: ticks 0, 1e286, 2e286, 3e286
    // above the axis and the same below it, every one a finite number. Nothing
    // was sent (no column), so only the received half is named.
    assert!(texts.contains(&"PiB/s    ▲ received"), "{texts:?}");
    let ticks: Vec<f64> = texts.iter().filter_map(|t| t.parse::<f64>().ok()).collect();
    assert_eq!(ticks.len(), 7, "{texts:?}");
    for (got, want) in ticks.iter().zip([0.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0]) {
        assert!(
            got.is_finite() && (got / 1e286 - want).abs() < 1e-9,
            "{got}"
        );
    }
    let top = 29.0 * 1e300 / 1024f64.powi(5);
    assert!(ticks[3] >= top && ticks[2] < top);
}

#[test]
fn counter_resets_are_counted_per_counter() {
    // sda reset three times (listed out of order), eth0 and cpu3 once each.
    let mut m = machine("resets", 20, |_, r| cpu(r, 20.0, 0.0, 0.0));
    m.events.counter_resets = Some(vec![
        CounterReset::new(T0 + 40_000, "disk:sda"),
        CounterReset::new(T0 + 65_000, "net:eth0"),
        CounterReset::new(T0 + 15_000, "disk:sda"),
        CounterReset::new(T0 + 90_000, "disk:sda"),
        CounterReset::new(T0 + 30_000, "cpu:3"),
    ]);
    let r = report(&[m]);
    let q = &r.machines()[0].quality;
    let resets: Vec<(&str, u64, i64)> = q
        .counter_resets
        .as_ref()
        .expect("resets known")
        .iter()
        .map(|c| (c.counter.as_str(), c.count, c.first_ms - T0))
        .collect();
    // Most resets first, then by name; the first time is the earliest.
    assert_eq!(
        resets,
        [
            ("disk:sda", 3, 15_000),
            ("cpu:3", 1, 30_000),
            ("net:eth0", 1, 65_000)
        ]
    );
    assert_eq!(q.reset_total(), Some(5));
    assert!(!q.is_clean());
    assert!(r.html().contains(
        "<tr><td>Counter resets</td><td class=\"text\">disk:sda ×3 (first 2026-01-07 19:10:15 UTC), \
         cpu:3 ×1 (first 2026-01-07 19:10:30 UTC), net:eth0 ×1 (first 2026-01-07 19:11:05 UTC)</td></tr>"
    ));
    let j = r.json();
    assert_eq!(j["machines"][0]["quality"]["counter_resets"][0]["count"], 3);
    let f = r
        .findings()
        .into_iter()
        .find(|f| f.id == "data_quality")
        .expect("data_quality finding");
    assert_eq!(f.severity, Severity::Info);
    assert!(
        f.text.starts_with("The data has 5 counter resets."),
        "{}",
        f.text
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.label == "counter resets" && e.value == 5.0)
    );
    // One reset: singular.
    let mut m = machine("one", 20, |_, r| cpu(r, 20.0, 0.0, 0.0));
    m.events.counter_resets = Some(vec![CounterReset::new(T0 + 50_000, "net:eth0")]);
    let r = report(&[m]);
    assert!(
        r.html()
            .contains("<td class=\"text\">net:eth0 ×1 (first 2026-01-07 19:10:50 UTC)</td>")
    );
    assert!(
        r.findings()
            .iter()
            .any(|f| f.text.starts_with("The data has 1 counter reset."))
    );
}

#[test]
fn times_that_are_not_times() {
    // i64::MIN and i64::MAX ms: left out and counted, never overflowing.
    let mut m = machine("t", 10, |_, r| cpu(r, 20.0, 0.0, 0.0));
    for t in [i64::MIN, i64::MAX] {
        let mut r = IntervalRow::new(t, 5.0);
        cpu(&mut r, 20.0, 0.0, 0.0);
        m.rows.push(r);
    }
    let mut d = DeviceSeries::new(DeviceKind::Fs, "/".into(), "used_pct".into());
    d.timestamps_ms = vec![i64::MIN, T0 + 5000, i64::MAX];
    d.values = vec![1.0, 2.0, 3.0];
    m.devices.push(d);
    let r = report(&[m]);
    let q = &r.machines()[0].quality;
    assert_eq!((q.intervals, q.times_out_of_range), (10, 4));
    assert!(r.findings().iter().any(|f| f.id == "data_quality"));
}

mod arbitrary {
    use perfcore::metrics::{DeviceKind, IntervalRow, METRIC_COUNT};
    use perfreport::{DeviceSeries, MachineSeries, ReportOptions};
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![
            4 => (-1e3f64..1e12).prop_map(Some),
            1 => Just(None),
            1 => Just(Some(f64::NAN)),
            1 => Just(Some(f64::INFINITY)),
            1 => Just(Some(-0.0)),
        ]
    }

    fn rows() -> impl Strategy<Value = Vec<IntervalRow>> {
        prop::collection::vec(
            (
                -1_000_000_000_000i64..4_000_000_000_000,
                -10f64..1e6,
                prop::collection::vec(value(), METRIC_COUNT),
            ),
            0..40,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(t, e, vals)| {
                    let mut r = IntervalRow::new(t, e);
                    for (i, x) in vals.into_iter().enumerate() {
                        r.values[i] = x;
                    }
                    r
                })
                .collect()
        })
    }

    fn devices() -> impl Strategy<Value = Vec<DeviceSeries>> {
        let kind = prop_oneof![
            Just(DeviceKind::Cpu),
            Just(DeviceKind::Disk),
            Just(DeviceKind::Net),
            Just(DeviceKind::Fs)
        ];
        let name = prop_oneof![
            Just("0"),
            Just("sda"),
            Just("sda1"),
            Just("eth0"),
            Just("/"),
            Just("")
        ];
        let metric = prop_oneof![
            Just("idle_pct"),
            Just("util_pct"),
            Just("reads_per_s"),
            Just("r_await_ms"),
            Just("rx_errs_per_s"),
            Just("used_pct"),
            Just("size_bytes"),
            Just("x")
        ];
        prop::collection::vec(
            (
                kind,
                name,
                metric,
                prop::collection::vec(0i64..200_000, 0..30),
                prop::collection::vec(value(), 0..30),
            ),
            0..8,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(k, n, m, ts, vals)| {
                    let mut d = DeviceSeries::new(k, n.into(), m.into());
                    d.timestamps_ms = ts;
                    d.values = vals.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect();
                    d
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn any_series_gives_a_report(rows in rows(), devs in devices(), cpus in proptest::option::of(0u32..300)) {
            let mut m = MachineSeries::new("any");
            m.rows = rows;
            m.devices = devs;
            m.facts.cpu_count = cpus;
            let r = perfreport::build(&[m.clone(), m], &ReportOptions::default());
            let r = r.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(r.html().ends_with("</html>\n"));
            prop_assert!(r.json().is_object());
        }
    }
}

/// Absurd values (a mutated file's 1e287) print in exponent form on axes and in
/// tables, not as hundreds of digits; a mirrored chart names only the halves it
/// draws (received traffic and no sent column: no "▼ sent").
#[test]
fn huge_values_and_one_sided_mirrored_charts() {
    let m = machine("huge", 50, |i, r| {
        cpu(r, 20.0, 0.0, 0.0);
        r.set(Metric::Load1, Some(if i == 10 { 5e287 } else { 1.0 }));
        r.set(Metric::NetRxBytesPerS, Some(1000.0 + i as f64));
    });
    let r = report(&[m]);
    let html = r.html();
    assert!(html.contains("5e287"), "the maximum in exponent form");
    let longest_digits = html
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(
        longest_digits < 40,
        "a run of {longest_digits} digits in the page"
    );
    assert!(html.contains("▲ received"));
    assert!(!html.contains("▼ sent"), "no sent data, no sent label");
}
