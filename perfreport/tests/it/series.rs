//! Builders of known series for the tests.

use perfcore::metrics::{DeviceKind, IntervalRow, Metric};
use perfreport::{DeviceSeries, MachineSeries};

/// 2026-01-07T19:10:00Z.
pub const T0: i64 = 1_767_813_000_000;

/// A machine with `n` rows 5 s apart; `f(i, row)` fills row `i`.
pub fn machine(id: &str, n: usize, f: impl Fn(usize, &mut IntervalRow)) -> MachineSeries {
    let mut m = MachineSeries::new(id);
    for i in 0..n {
        let mut r = IntervalRow::new(T0 + (i as i64 + 1) * 5000, 5.0);
        f(i, &mut r);
        m.rows.push(r);
    }
    m
}

/// CPU columns that add up to 100: `busy` split as user, the rest idle.
pub fn cpu(r: &mut IntervalRow, user: f64, iowait: f64, steal: f64) {
    r.set(Metric::CpuUserPct, Some(user));
    r.set(Metric::CpuNicePct, Some(0.0));
    r.set(Metric::CpuSystemPct, Some(0.0));
    r.set(Metric::CpuIowaitPct, Some(iowait));
    r.set(Metric::CpuIrqPct, Some(0.0));
    r.set(Metric::CpuSoftirqPct, Some(0.0));
    r.set(Metric::CpuStealPct, Some(steal));
    r.set(Metric::CpuGuestPct, Some(0.0));
    r.set(Metric::CpuIdlePct, Some(100.0 - user - iowait - steal));
}

/// A device series on the machine's row times.
pub fn device(
    m: &MachineSeries,
    kind: DeviceKind,
    name: &str,
    metric: &str,
    f: impl Fn(usize) -> f64,
) -> DeviceSeries {
    let mut d = DeviceSeries::new(kind, name.to_owned(), metric.to_owned());
    for (i, r) in m.rows.iter().enumerate() {
        d.push(r.timestamp_ms, f(i));
    }
    d
}
