//! The rows of one machine turned into columns (one `Vec<f64>` per metric,
//! NaN where a row has no value), sorted by time, with each row's weight in
//! seconds. Statistics, findings and charts all read these.

use perfcore::metrics::{IntervalRow, METRIC_COUNT, Metric};

use crate::series::DeviceSeries;

/// Columns of one machine.
pub(crate) struct Columns {
    /// Interval end times, ascending.
    pub ts: Vec<i64>,
    /// How many seconds each row stands for (its interval, else the median step).
    pub weight_s: Vec<f64>,
    /// Median step between consecutive rows (ms); 0 with fewer than two rows.
    pub median_step_ms: i64,
    /// Rows further apart than this are a gap (ms).
    pub gap_ms: i64,
    /// Rows whose time was earlier than the row before them in the input.
    pub out_of_order: u64,
    cols: Vec<Option<Vec<f64>>>,
    /// CPU busy % (derived), when CPU data is present.
    pub busy: Option<Vec<f64>>,
    /// MemAvailable over MemTotal in % (derived).
    pub mem_available_pct: Option<Vec<f64>>,
    /// 1-minute load per CPU (derived).
    pub load_per_cpu: Option<Vec<f64>>,
}

/// A gap is a step longer than this many median steps.
pub(crate) const GAP_FACTOR: i64 = 2;

/// Median of positive steps between sorted times (ms), 0 if none.
pub(crate) fn median_step(ts: &[i64]) -> i64 {
    let mut d: Vec<i64> = ts
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0)
        .collect();
    if d.is_empty() {
        return 0;
    }
    let mid = d.len() / 2;
    let (_, m, _) = d.select_nth_unstable(mid);
    *m
}

/// Weights (seconds) of points at sorted times: the step to the previous point
/// when it is not a gap, else the median step.
pub(crate) fn weights_from_steps(ts: &[i64], median_ms: i64, gap_ms: i64) -> Vec<f64> {
    let fallback = if median_ms > 0 {
        median_ms as f64 / 1000.0
    } else {
        1.0
    };
    let mut w = Vec::with_capacity(ts.len());
    for (i, &t) in ts.iter().enumerate() {
        let d = if i == 0 { 0 } else { t - ts[i - 1] };
        w.push(if d > 0 && d <= gap_ms {
            d as f64 / 1000.0
        } else {
            fallback
        });
    }
    w
}

impl Columns {
    /// Transposes `rows` (any order; sorted stably by time here).
    pub(crate) fn new(rows: &[IntervalRow], cpu_count: Option<u32>) -> Columns {
        let n = rows.len();
        let mut out_of_order = 0u64;
        let mut sorted = true;
        for w in rows.windows(2) {
            if w[1].timestamp_ms < w[0].timestamp_ms {
                out_of_order += 1;
                sorted = false;
            }
        }
        let order: Option<Vec<usize>> = if sorted {
            None
        } else {
            let mut idx: Vec<usize> = (0..n).collect();
            idx.sort_by_key(|&i| rows[i].timestamp_ms);
            Some(idx)
        };
        let row = |k: usize| -> &IntervalRow {
            match &order {
                Some(o) => &rows[o[k]],
                None => &rows[k],
            }
        };
        let mut ts = Vec::with_capacity(n);
        let mut elapsed = Vec::with_capacity(n);
        for k in 0..n {
            let r = row(k);
            ts.push(r.timestamp_ms);
            elapsed.push(r.elapsed_s);
        }
        // One column per metric some row has; metrics split over the cores.
        // Block by block (a block of rows stays in cache while each of its
        // metrics is copied out), appending to every column; columns no row has
        // are dropped at the end.
        let transpose = |ms: std::ops::Range<usize>| -> Vec<Option<Vec<f64>>> {
            const BLOCK: usize = 256;
            let mut cols: Vec<Vec<f64>> = ms.clone().map(|_| Vec::with_capacity(n)).collect();
            let mut present = vec![false; ms.len()];
            let mut block: Vec<&IntervalRow> = Vec::with_capacity(BLOCK);
            let mut k = 0;
            while k < n {
                block.clear();
                block.extend((k..(k + BLOCK).min(n)).map(row));
                for ((col, seen), m) in cols.iter_mut().zip(&mut present).zip(ms.clone()) {
                    let mut any = false;
                    col.extend(block.iter().map(|r| {
                        let v = r.values[m];
                        any |= v.is_some();
                        v.unwrap_or(f64::NAN)
                    }));
                    *seen |= any;
                }
                k += BLOCK;
            }
            cols.into_iter()
                .zip(present)
                .map(|(c, p)| p.then_some(c))
                .collect()
        };
        let cols: Vec<Option<Vec<f64>>> = if n >= 100_000 {
            let mid = METRIC_COUNT / 2;
            std::thread::scope(|s| {
                let hi = s.spawn(|| transpose(mid..METRIC_COUNT));
                let mut lo = transpose(0..mid);
                match hi.join() {
                    Ok(h) => lo.extend(h),
                    Err(e) => std::panic::resume_unwind(e),
                }
                lo
            })
        } else {
            transpose(0..METRIC_COUNT)
        };
        let median_step_ms = median_step(&ts);
        let gap_ms = if median_step_ms > 0 {
            median_step_ms * GAP_FACTOR
        } else {
            i64::MAX
        };
        let fallback = if median_step_ms > 0 {
            median_step_ms as f64 / 1000.0
        } else {
            1.0
        };
        // A row's own interval is its weight, unless it is missing or absurd
        // (CSV without interval_s, or an interval far longer than the rows'
        // spacing because samples were missed).
        let limit = fallback * 1000.0;
        let weight_s = elapsed
            .iter()
            .map(|&e| {
                if e.is_finite() && e > 0.0 && e <= limit {
                    e
                } else {
                    fallback
                }
            })
            .collect();
        let mut c = Columns {
            ts,
            weight_s,
            median_step_ms,
            gap_ms,
            out_of_order,
            cols,
            busy: None,
            mem_available_pct: None,
            load_per_cpu: None,
        };
        c.derive(cpu_count);
        c
    }

    /// The column of `m`, if any row has it.
    pub(crate) fn get(&self, m: Metric) -> Option<&[f64]> {
        self.cols.get(m.index())?.as_deref()
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.ts.len()
    }

    fn derive(&mut self, cpu_count: Option<u32>) {
        use Metric as M;
        let n = self.len();
        let at = |c: Option<&[f64]>, i: usize| c.map(|c| c[i]).filter(|v| !v.is_nan());
        // CPU busy: time the CPUs ran work for this machine = 100 − idle − iowait −
        // steal (iowait is idle time; steal ran someone else). Without idle, the sum
        // of the working components.
        let idle = self.get(M::CpuIdlePct);
        let iowait = self.get(M::CpuIowaitPct);
        let steal = self.get(M::CpuStealPct);
        let parts: Vec<&[f64]> = [
            M::CpuUserPct,
            M::CpuNicePct,
            M::CpuSystemPct,
            M::CpuIrqPct,
            M::CpuSoftirqPct,
            M::CpuGuestPct,
        ]
        .iter()
        .filter_map(|m| self.get(*m))
        .collect();
        if idle.is_some() || !parts.is_empty() {
            let mut busy = Vec::with_capacity(n);
            for i in 0..n {
                let v = match at(idle, i) {
                    Some(idle) => {
                        100.0 - idle - at(iowait, i).unwrap_or(0.0) - at(steal, i).unwrap_or(0.0)
                    }
                    None => {
                        let vals: Vec<f64> =
                            parts.iter().map(|p| p[i]).filter(|v| !v.is_nan()).collect();
                        if vals.is_empty() {
                            f64::NAN
                        } else {
                            vals.iter().sum()
                        }
                    }
                };
                busy.push(if v.is_nan() { v } else { v.clamp(0.0, 100.0) });
            }
            self.busy = Some(busy);
        }
        // MemTotal, or (per-subsystem CSV, which has no kbmemtotal) used / %used.
        let estimated_total: Option<Vec<f64>> = match (
            self.get(M::MemTotalBytes),
            self.get(M::MemUsedBytes),
            self.get(M::MemUsedPct),
        ) {
            (None, Some(u), Some(p)) => Some(
                u.iter()
                    .zip(p)
                    .map(|(u, p)| if *p > 0.0 { u / p * 100.0 } else { f64::NAN })
                    .collect(),
            ),
            _ => None,
        };
        let total = self.get(M::MemTotalBytes).or(estimated_total.as_deref());
        let available_pct: Option<Vec<f64>> = match (self.get(M::MemAvailableBytes), total) {
            (Some(avail), Some(total)) => Some(
                avail
                    .iter()
                    .zip(total)
                    .map(|(a, t)| if *t > 0.0 { a / t * 100.0 } else { f64::NAN })
                    .collect(),
            ),
            // Before Linux 3.14 there is no MemAvailable: free + buffers + cached is
            // what sar and free(1) used instead.
            (None, Some(total)) => self.get(M::MemFreeBytes).map(|free| {
                let buf = self.get(M::MemBuffersBytes);
                let cached = self.get(M::MemCachedBytes);
                (0..n)
                    .map(|i| {
                        let t = total[i];
                        if t > 0.0 {
                            (free[i] + at(buf, i).unwrap_or(0.0) + at(cached, i).unwrap_or(0.0)) / t
                                * 100.0
                        } else {
                            f64::NAN
                        }
                    })
                    .collect()
            }),
            _ => None,
        };
        self.mem_available_pct = available_pct;
        if let Some(load) = self.get(M::Load1) {
            let cpus = self.get(M::CpuCount);
            let fixed = cpu_count.map(f64::from);
            let v: Vec<f64> = (0..n)
                .map(|i| {
                    let c = at(cpus, i).or(fixed).unwrap_or(f64::NAN);
                    if c > 0.0 { load[i] / c } else { f64::NAN }
                })
                .collect();
            if v.iter().any(|x| !x.is_nan()) {
                self.load_per_cpu = Some(v);
            }
        }
    }
}

/// Values of several aligned device series combined per point; `None` when a
/// needed series is missing. Series whose timestamps differ from the first are
/// joined on time.
pub(crate) fn combine(
    series: &[Option<&DeviceSeries>],
    f: impl Fn(&[f64]) -> f64,
) -> Option<(Vec<i64>, Vec<f64>)> {
    let first = series.iter().flatten().next()?;
    let ts = &first.timestamps_ms;
    let mut buf = vec![f64::NAN; series.len()];
    let aligned: Vec<Option<std::borrow::Cow<'_, [f64]>>> = series
        .iter()
        .map(|s| {
            s.map(|s| {
                if s.timestamps_ms == *ts {
                    std::borrow::Cow::Borrowed(s.values.as_slice())
                } else {
                    std::borrow::Cow::Owned(
                        ts.iter()
                            .map(|t| match s.timestamps_ms.binary_search(t) {
                                Ok(i) => s.values.get(i).copied().unwrap_or(f64::NAN),
                                Err(_) => f64::NAN,
                            })
                            .collect(),
                    )
                }
            })
        })
        .collect();
    let mut out = Vec::with_capacity(ts.len());
    for i in 0..ts.len() {
        for (k, s) in aligned.iter().enumerate() {
            buf[k] = match s {
                Some(v) => v.get(i).copied().unwrap_or(f64::NAN),
                None => f64::NAN,
            };
        }
        out.push(f(&buf));
    }
    Some((ts.clone(), out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ts: i64, idle: f64, iowait: f64, steal: f64) -> IntervalRow {
        let mut r = IntervalRow::new(ts, 5.0);
        r.set(Metric::CpuIdlePct, Some(idle));
        r.set(Metric::CpuIowaitPct, Some(iowait));
        r.set(Metric::CpuStealPct, Some(steal));
        r
    }

    #[test]
    fn transposes_sorts_and_derives_busy() {
        let rows = vec![
            row(10_000, 50.0, 10.0, 0.0),
            row(5_000, 100.0, 0.0, 0.0),
            row(15_000, 0.0, 0.0, 20.0),
        ];
        let c = Columns::new(&rows, Some(2));
        assert_eq!(c.ts, vec![5_000, 10_000, 15_000]);
        assert_eq!(c.out_of_order, 1);
        assert_eq!(c.get(Metric::CpuIdlePct), Some(&[100.0, 50.0, 0.0][..]));
        assert_eq!(c.busy.as_deref(), Some(&[0.0, 40.0, 80.0][..]));
        assert!(c.get(Metric::MemTotalBytes).is_none());
        assert_eq!(c.median_step_ms, 5_000);
        assert_eq!(c.weight_s, vec![5.0, 5.0, 5.0]);
    }

    #[test]
    fn empty_and_single_rows() {
        let c = Columns::new(&[], None);
        assert_eq!(c.len(), 0);
        assert!(c.busy.is_none());
        let c = Columns::new(&[row(1, 90.0, 0.0, 0.0)], None);
        assert_eq!(c.median_step_ms, 0);
        assert_eq!(c.weight_s, vec![5.0]);
    }

    #[test]
    fn weights_fall_back_to_the_median_step_at_gaps() {
        let ts = [0, 5_000, 10_000, 60_000, 65_000];
        assert_eq!(median_step(&ts), 5_000);
        assert_eq!(
            weights_from_steps(&ts, 5_000, 10_000),
            vec![5.0, 5.0, 5.0, 5.0, 5.0]
        );
    }
}
