//! Data quality: gaps, duplicate timestamps, counter resets, reboots and values
//! out of range, computed from a machine's series.

use perfcore::metrics::Metric;
use serde::Serialize;

use crate::columns::Columns;
use crate::format::Unit;
use crate::series::MachineSeries;

/// How many gaps, duplicates and examples are listed one by one (all are counted).
pub(crate) const LIST_LIMIT: usize = 50;

/// What is wrong with, or missing from, a machine's data.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Quality {
    /// Intervals (rows) in the report.
    pub intervals: u64,
    /// Median step between rows, seconds (`None` with fewer than two rows).
    pub median_interval_s: Option<f64>,
    /// A step longer than this is a gap (seconds).
    pub gap_threshold_s: Option<f64>,
    /// Number of gaps.
    pub gap_count: u64,
    /// Time missing in gaps (seconds beyond one median step each).
    pub gap_missing_s: f64,
    /// The longest gaps, longest first (at most 50).
    pub gaps: Vec<Gap>,
    /// Rows whose timestamp equals the row before.
    pub duplicate_timestamps: u64,
    /// Times of the first duplicates (ms, at most 50).
    pub duplicate_examples_ms: Vec<i64>,
    /// Rows that came earlier in time than the row before them in the input.
    pub out_of_order_rows: u64,
    /// Samples the capture pipeline dropped because their time did not increase.
    pub dropped_samples: u64,
    /// Reboots seen in the data (time of the first sample after each).
    pub reboots_ms: Vec<i64>,
    /// Counter resets per counter; `None` when the source cannot tell (CSV).
    pub counter_resets: Option<Vec<ResetCount>>,
    /// Values outside what the metric allows.
    pub out_of_range: Vec<OutOfRange>,
    /// Input lines skipped as unreadable.
    pub skipped_lines: u64,
    /// Rows and device values left out because their time is not a time (more
    /// than ±31,700 years from 1970).
    pub times_out_of_range: u64,
    /// Metrics present in some rows but not in others.
    pub incomplete_metrics: Vec<Incomplete>,
}

impl Quality {
    /// Whether nothing at all was found.
    pub fn is_clean(&self) -> bool {
        self.gap_count == 0
            && self.duplicate_timestamps == 0
            && self.out_of_order_rows == 0
            && self.dropped_samples == 0
            && self.reboots_ms.is_empty()
            && self.counter_resets.as_ref().is_none_or(|r| r.is_empty())
            && self.out_of_range.is_empty()
            && self.skipped_lines == 0
            && self.times_out_of_range == 0
    }

    /// Total counter resets, when known.
    pub fn reset_total(&self) -> Option<u64> {
        self.counter_resets
            .as_ref()
            .map(|r| r.iter().map(|c| c.count).sum())
    }
}

/// A stretch of time with no rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Gap {
    /// Last row before the gap (ms since the epoch).
    pub from_ms: i64,
    /// First row after it.
    pub to_ms: i64,
    /// Length of the step, seconds.
    pub length_s: f64,
}

/// Resets of one counter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ResetCount {
    /// `disk:sda`, `net:eth0`, `cpu:3`.
    pub counter: String,
    /// How many times.
    pub count: u64,
    /// First time (ms).
    pub first_ms: i64,
}

/// Values of one series that break a rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct OutOfRange {
    /// The series (`cpu_user_pct`, `disk sda util_pct`, `cpu components`).
    pub series: String,
    /// The rule broken (`0 ≤ v ≤ 100`).
    pub rule: String,
    /// How many values break it.
    pub count: u64,
    /// First time it happened (ms).
    pub first_ms: i64,
    /// Smallest offending value.
    pub min: f64,
    /// Largest offending value.
    pub max: f64,
}

/// A metric some rows lack.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Incomplete {
    /// Metric name.
    pub metric: String,
    /// Rows without a value.
    pub missing_rows: u64,
}

/// Percent values may exceed 100 by float noise only.
const PCT_SLACK: f64 = 0.01;

struct Checker {
    found: Vec<OutOfRange>,
}

impl Checker {
    fn check(
        &mut self,
        series: &str,
        rule: &str,
        ts: &[i64],
        values: &[f64],
        bad: impl Fn(f64) -> bool,
    ) {
        // A branch-free count first (it vectorises); the detailed pass only when needed.
        let n_bad: usize = values
            .iter()
            .map(|&v| usize::from(bad(v) & !v.is_nan()))
            .sum();
        if n_bad == 0 {
            return;
        }
        let mut hit: Option<OutOfRange> = None;
        for (i, &v) in values.iter().enumerate() {
            if v.is_nan() || !bad(v) {
                continue;
            }
            match &mut hit {
                Some(h) => {
                    h.count += 1;
                    h.min = h.min.min(v);
                    h.max = h.max.max(v);
                }
                None => {
                    hit = Some(OutOfRange {
                        series: series.to_owned(),
                        rule: rule.to_owned(),
                        count: 1,
                        first_ms: ts.get(i).copied().unwrap_or(0),
                        min: v,
                        max: v,
                    })
                }
            }
        }
        self.found.extend(hit);
    }
}

fn pct_bad(v: f64) -> bool {
    !(-PCT_SLACK..=100.0 + PCT_SLACK).contains(&v)
}

fn neg_bad(v: f64) -> bool {
    v < 0.0 || v.is_infinite()
}

pub(crate) fn assess(series: &MachineSeries, cols: &Columns, bad_times: u64) -> Quality {
    let n = cols.len();
    let mut q = Quality {
        times_out_of_range: bad_times,
        intervals: n as u64,
        out_of_order_rows: cols.out_of_order,
        dropped_samples: series.events.time_not_increasing.len() as u64,
        skipped_lines: series.events.skipped_lines,
        ..Default::default()
    };
    q.reboots_ms = series.events.reboots.clone();
    q.reboots_ms.sort_unstable();
    if cols.median_step_ms > 0 {
        q.median_interval_s = Some(cols.median_step_ms as f64 / 1000.0);
        q.gap_threshold_s = Some(cols.gap_ms as f64 / 1000.0);
    }
    let mut gaps = Vec::new();
    for (i, w) in cols.ts.windows(2).enumerate() {
        let d = w[1] - w[0];
        if d == 0 {
            q.duplicate_timestamps += 1;
            if q.duplicate_examples_ms.len() < LIST_LIMIT {
                q.duplicate_examples_ms.push(w[1]);
            }
        } else if d > cols.gap_ms {
            q.gap_count += 1;
            q.gap_missing_s += (d - cols.median_step_ms) as f64 / 1000.0;
            gaps.push(Gap {
                from_ms: w[0],
                to_ms: cols.ts[i + 1],
                length_s: d as f64 / 1000.0,
            });
        }
    }
    gaps.sort_by(|a, b| {
        b.length_s
            .total_cmp(&a.length_s)
            .then(a.from_ms.cmp(&b.from_ms))
    });
    gaps.truncate(LIST_LIMIT);
    q.gaps = gaps;

    q.counter_resets = series.events.counter_resets.as_ref().map(|resets| {
        let mut out: Vec<ResetCount> = Vec::new();
        for r in resets {
            match out.iter_mut().find(|c| c.counter == r.counter) {
                Some(c) => {
                    c.count += 1;
                    c.first_ms = c.first_ms.min(r.timestamp_ms);
                }
                None => out.push(ResetCount {
                    counter: r.counter.clone(),
                    count: 1,
                    first_ms: r.timestamp_ms,
                }),
            }
        }
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.counter.cmp(&b.counter)));
        out
    });

    let mut ck = Checker { found: Vec::new() };
    for &m in Metric::ALL {
        let Some(v) = cols.get(m) else { continue };
        let missing = v.iter().filter(|x| x.is_nan()).count() as u64;
        if missing > 0 {
            q.incomplete_metrics.push(Incomplete {
                metric: m.name().to_owned(),
                missing_rows: missing,
            });
        }
        let unit = Unit::from_metric_unit(m.unit());
        // Committed_AS can exceed memory + swap: overcommit is allowed.
        if unit == Unit::Percent && m != Metric::MemCommitPct {
            ck.check(m.name(), "0 ≤ value ≤ 100", &cols.ts, v, pct_bad);
        } else {
            ck.check(m.name(), "value ≥ 0", &cols.ts, v, neg_bad);
        }
    }
    // The CPU components add up to 100% (when all of them are recorded).
    use Metric as M;
    let parts = [
        M::CpuUserPct,
        M::CpuNicePct,
        M::CpuSystemPct,
        M::CpuIowaitPct,
        M::CpuIrqPct,
        M::CpuSoftirqPct,
        M::CpuStealPct,
        M::CpuGuestPct,
        M::CpuIdlePct,
    ];
    let cs: Vec<&[f64]> = parts.iter().filter_map(|m| cols.get(*m)).collect();
    if cs.len() == parts.len() {
        let sums: Vec<f64> = (0..n).map(|i| cs.iter().map(|c| c[i]).sum()).collect();
        ck.check(
            "CPU components (user … idle)",
            "sum = 100 ± 1",
            &cols.ts,
            &sums,
            |s| (s - 100.0).abs() > 1.0,
        );
    }
    if let Some(total) = cols.get(M::MemTotalBytes) {
        for m in [M::MemUsedBytes, M::MemAvailableBytes, M::MemFreeBytes] {
            if let Some(v) = cols.get(m) {
                let over: Vec<f64> = v
                    .iter()
                    .zip(total)
                    .map(|(a, t)| if t.is_nan() { f64::NAN } else { a - t })
                    .collect();
                ck.check(
                    &format!("{} − mem_total_bytes", m.name()),
                    "value ≤ MemTotal",
                    &cols.ts,
                    &over,
                    |d| d > 0.0,
                );
            }
        }
    }
    for d in &series.devices {
        let name = format!("{} {} {}", d.kind.as_str(), d.device, d.metric);
        if d.metric.ends_with("_pct") {
            ck.check(
                &name,
                "0 ≤ value ≤ 100",
                &d.timestamps_ms,
                &d.values,
                pct_bad,
            );
        } else {
            ck.check(&name, "value ≥ 0", &d.timestamps_ms, &d.values, neg_bad);
        }
    }
    q.out_of_range = ck.found;
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfcore::metrics::IntervalRow;

    #[test]
    fn gaps_duplicates_and_out_of_range() {
        let mut m = MachineSeries::new("m");
        for (t, user) in [
            (0, 10.0),
            (5, 20.0),
            (10, 130.0),
            (10, 10.0),
            (15, -1.0),
            (60, 5.0),
        ] {
            let mut r = IntervalRow::new(t * 1000, 5.0);
            r.set(Metric::CpuUserPct, Some(user));
            m.rows.push(r);
        }
        m.events.reboots.push(60_000);
        let cols = Columns::new(&m.rows, None);
        let q = assess(&m, &cols, 0);
        assert_eq!(q.intervals, 6);
        assert_eq!(q.median_interval_s, Some(5.0));
        assert_eq!(q.gap_count, 1);
        assert_eq!(q.gaps[0].from_ms, 15_000);
        assert_eq!(q.gaps[0].length_s, 45.0);
        assert_eq!(q.gap_missing_s, 40.0);
        assert_eq!(q.duplicate_timestamps, 1);
        assert_eq!(q.reboots_ms, vec![60_000]);
        assert_eq!(q.counter_resets, None);
        assert_eq!(q.out_of_range.len(), 1);
        let o = &q.out_of_range[0];
        assert_eq!(
            (o.series.as_str(), o.count, o.min, o.max),
            ("cpu_user_pct", 2, -1.0, 130.0)
        );
        assert_eq!(o.first_ms, 10_000);
        assert!(!q.is_clean());
    }

    #[test]
    fn a_clean_series_is_clean() {
        let mut m = MachineSeries::new("m");
        for t in 0..10 {
            let mut r = IntervalRow::new(t * 5000, 5.0);
            r.set(Metric::CpuUserPct, Some(3.0));
            m.rows.push(r);
        }
        m.events.counter_resets = Some(vec![]);
        let q = assess(&m, &Columns::new(&m.rows, None), 0);
        assert!(q.is_clean(), "{q:?}");
        assert_eq!(q.reset_total(), Some(0));
    }
}
