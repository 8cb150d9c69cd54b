//! Summary statistics of a series: min, max, mean, standard deviation and
//! percentiles, computed over every value in one or two passes.
//!
//! Percentiles use linear interpolation between closest ranks (R's type 7, numpy's
//! default), so they match what analysts get in a notebook. They are found by a
//! radix selection on the bits of the values rather than by sorting: one pass
//! builds a histogram of the top 16 bits, a second gathers only the values in the
//! buckets holding the wanted ranks.

use serde::Serialize;

/// The percentiles reported, as fractions.
pub const PERCENTILES: [f64; 7] = [0.50, 0.75, 0.90, 0.95, 0.975, 0.99, 1.0];

/// Statistics of one series (NaN values are left out).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// Number of values.
    pub count: u64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean.
    pub avg: f64,
    /// Sample standard deviation (n − 1 in the denominator; 0 for one value).
    pub stddev: f64,
    /// Median.
    pub p50: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 97.5th percentile.
    pub p97_5: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 100th percentile (the maximum).
    pub p100: f64,
}

impl Summary {
    /// The value of a named statistic (`min`, `p97_5`, ...).
    pub fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "count" => self.count as f64,
            "min" => self.min,
            "max" => self.max,
            "avg" => self.avg,
            "stddev" => self.stddev,
            "p50" => self.p50,
            "p75" => self.p75,
            "p90" => self.p90,
            "p95" => self.p95,
            "p97_5" => self.p97_5,
            "p99" => self.p99,
            "p100" => self.p100,
            _ => return None,
        })
    }

    /// Names of the statistics, in report order.
    pub const NAMES: [&'static str; 11] = [
        "min", "max", "avg", "stddev", "p50", "p75", "p90", "p95", "p97_5", "p99", "p100",
    ];
}

/// Maps a float to an integer with the same order (negative values reversed).
#[inline]
fn key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

const BUCKET_BITS: u32 = 16;

/// Values at the given 0-based ranks of the sorted data (ranks ascending, < n).
fn values_at_ranks(data: &[f64], ranks: &[usize]) -> Vec<f64> {
    let n = data.len();
    if n <= 4096 {
        let mut v = data.to_vec();
        v.sort_unstable_by(f64::total_cmp);
        return ranks.iter().map(|&r| v[r]).collect();
    }
    let mut hist = vec![0u32; 1 << BUCKET_BITS];
    for &v in data {
        hist[(key(v) >> (64 - BUCKET_BITS)) as usize] += 1;
    }
    // For each rank: its bucket and its rank within the bucket.
    let mut wanted: Vec<(usize, usize)> = Vec::with_capacity(ranks.len());
    let mut cum = 0usize;
    let mut bucket = 0usize;
    for &r in ranks {
        while cum + hist[bucket] as usize <= r {
            cum += hist[bucket] as usize;
            bucket += 1;
        }
        wanted.push((bucket, r - cum));
    }
    let mut buckets: Vec<usize> = wanted.iter().map(|w| w.0).collect();
    buckets.dedup();
    let mut gathered: Vec<Vec<f64>> = buckets
        .iter()
        .map(|&b| Vec::with_capacity(hist[b] as usize))
        .collect();
    // Mark wanted buckets for a branch-light gather.
    let mut slot = vec![u8::MAX; 1 << BUCKET_BITS];
    for (i, &b) in buckets.iter().enumerate() {
        slot[b] = i as u8;
    }
    for &v in data {
        let s = slot[(key(v) >> (64 - BUCKET_BITS)) as usize];
        if s != u8::MAX {
            gathered[s as usize].push(v);
        }
    }
    // Within each bucket, select the wanted ranks (ascending) instead of sorting it:
    // buckets can be large when values repeat (two-decimal percentages).
    let mut out = vec![0.0; wanted.len()];
    for (bi, &b) in buckets.iter().enumerate() {
        let g = &mut gathered[bi];
        let mut lo = 0usize;
        let mut last: Option<(usize, f64)> = None;
        for (k, &(wb, r)) in wanted.iter().enumerate() {
            if wb != b {
                continue;
            }
            let v = match last {
                Some((lr, lv)) if lr == r => lv,
                _ => {
                    let (_, v, _) = g[lo..].select_nth_unstable_by(r - lo, f64::total_cmp);
                    let v = *v;
                    lo = r + 1;
                    v
                }
            };
            last = Some((r, v));
            out[k] = v;
        }
    }
    out
}

/// Summarises `values` (NaNs ignored); `None` when no value is left.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    if values.iter().any(|v| v.is_nan()) {
        let clean: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        return summarize_clean(&clean);
    }
    summarize_clean(values)
}

fn summarize_clean(data: &[f64]) -> Option<Summary> {
    let n = data.len();
    if n == 0 {
        return None;
    }
    let (Moments { mean, m2, .. }, min, max) = moments_min_max(data);
    // A mean outside [min, max] can only come from rounding: clamp it.
    let mean = mean.clamp(min, max);
    let stddev = if n > 1 {
        (m2 / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let ranks = wanted_ranks(n);
    let vals = values_at_ranks(data, &ranks);
    Some(assemble(n, min, max, mean, stddev, &ranks, &vals))
}

/// The 0-based ranks the percentiles need (two per percentile), ascending, unique.
fn wanted_ranks(n: usize) -> Vec<usize> {
    // Type 7: h = (n − 1) p; value = x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋ + 1] − x[⌊h⌋]).
    let mut ranks: Vec<usize> = Vec::with_capacity(PERCENTILES.len() * 2);
    for p in PERCENTILES {
        let h = (n - 1) as f64 * p;
        let lo = h.floor() as usize;
        ranks.push(lo);
        ranks.push((lo + 1).min(n - 1));
    }
    ranks.sort_unstable();
    ranks.dedup();
    ranks
}

/// A [`Summary`] from the moments and the values at `ranks` (from [`wanted_ranks`]).
fn assemble(
    n: usize,
    min: f64,
    max: f64,
    mean: f64,
    stddev: f64,
    ranks: &[usize],
    vals: &[f64],
) -> Summary {
    let at = |r: usize| vals[ranks.binary_search(&r).unwrap_or(0)];
    let pct = |p: f64| {
        let h = (n - 1) as f64 * p;
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(n - 1);
        let (a, b) = (at(lo), at(hi));
        a + (h - lo as f64) * (b - a)
    };
    Summary {
        count: n as u64,
        min,
        max,
        avg: mean,
        stddev,
        p50: pct(0.50),
        p75: pct(0.75),
        p90: pct(0.90),
        p95: pct(0.95),
        p97_5: pct(0.975),
        p99: pct(0.99),
        p100: max,
    }
}

/// The moments, minimum and maximum of NaN-free `data`: two passes with four
/// accumulators each (the sums vectorise), the second (deviations from the mean)
/// keeping the variance accurate.
fn moments_min_max(data: &[f64]) -> (Moments, f64, f64) {
    let n = data.len();
    if n == 0 {
        return (Moments::default(), f64::INFINITY, f64::NEG_INFINITY);
    }
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut acc = [0.0f64; 4];
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        for k in 0..4 {
            acc[k] += c[k];
            min = min.min(c[k]);
            max = max.max(c[k]);
        }
    }
    for &x in tail {
        acc[0] += x;
        min = min.min(x);
        max = max.max(x);
    }
    let mean = ((acc[0] + acc[1]) + (acc[2] + acc[3])) / n as f64;
    let mut sq = [0.0f64; 4];
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        for k in 0..4 {
            let d = c[k] - mean;
            sq[k] += d * d;
        }
    }
    for &x in tail {
        let d = x - mean;
        sq[0] += d * d;
    }
    let m2 = (sq[0] + sq[1]) + (sq[2] + sq[3]);
    (
        Moments {
            count: n as u64,
            mean,
            m2,
        },
        min,
        max,
    )
}

/// Count, mean and sum of squared deviations of a series, mergeable: what the mean
/// and the standard deviation of a union of series are computed from.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Moments {
    /// Number of values.
    pub count: u64,
    /// Their mean (0 for none).
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}

impl Moments {
    /// The moments of `values` (NaN-free), in two passes for accuracy.
    pub fn of(values: &[f64]) -> Moments {
        moments_min_max(values).0
    }

    /// The moments of the union of two series (Chan, Golub and LeVeque's update).
    pub fn merge(self, other: Moments) -> Moments {
        if self.count == 0 {
            return other;
        }
        if other.count == 0 {
            return self;
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        Moments {
            count: self.count + other.count,
            mean: self.mean + delta * (nb / n),
            m2: self.m2 + other.m2 + delta * delta * (na * nb / n),
        }
    }
}

/// The 0-based ranks (ascending, unique) whose values a summary of `n` values
/// needs: for a caller that finds them itself, e.g. from a store's block sketches.
pub fn summary_ranks(n: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    wanted_ranks(n)
}

/// The summary of `n` values from their minimum, maximum, merged [`Moments`] and the
/// values at [`summary_ranks`]`(n)`, in that order; `None` for no values or a wrong
/// number of rank values.
pub fn summary_from_ranks(
    n: usize,
    min: f64,
    max: f64,
    moments: Moments,
    vals: &[f64],
) -> Option<Summary> {
    let ranks = summary_ranks(n);
    if n == 0 || vals.len() != ranks.len() {
        return None;
    }
    let mean = moments.mean.clamp(min, max);
    let stddev = if n > 1 {
        (moments.m2.max(0.0) / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    Some(assemble(n, min, max, mean, stddev, &ranks, vals))
}

/// Summarises the union of `runs`, each already sorted ascending by
/// [`f64::total_cmp`] and free of NaN (as a store keeps compacted blocks).
///
/// The statistics equal [`summarize`] of the concatenation: min, max, count and the
/// percentiles exactly, the mean and standard deviation up to rounding (the sums run
/// in another order). The percentiles are found by a selection over the runs that
/// touches O(runs × log n) values per rank instead of every value.
pub fn summarize_sorted(runs: &[&[f64]]) -> Option<Summary> {
    let moments = runs
        .iter()
        .map(|r| Moments::of(r))
        .fold(Moments::default(), Moments::merge);
    summarize_sorted_with(runs, moments)
}

/// [`summarize_sorted`] with the runs' merged [`Moments`] already known (a store
/// works them out per block while it decodes it, with the block in cache).
pub fn summarize_sorted_with(runs: &[&[f64]], moments: Moments) -> Option<Summary> {
    let runs: Vec<&[f64]> = runs.iter().copied().filter(|r| !r.is_empty()).collect();
    let n: usize = runs.iter().map(|r| r.len()).sum();
    if n == 0 {
        return None;
    }
    let min = runs.iter().map(|r| r[0]).fold(f64::INFINITY, f64::min);
    let max = runs
        .iter()
        .map(|r| r[r.len() - 1])
        .fold(f64::NEG_INFINITY, f64::max);
    let mean = moments.mean.clamp(min, max);
    let stddev = if n > 1 {
        (moments.m2.max(0.0) / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let ranks = wanted_ranks(n);
    let vals = select_sorted(&runs, &ranks);
    Some(assemble(n, min, max, mean, stddev, &ranks, &vals))
}

/// Active elements at or below which a search gathers them and selects directly.
const GATHER_MIN: usize = 2048;

/// The values at 0-based `ranks` (ascending, < total length) of the union of sorted
/// runs.
///
/// Elements are ordered by value ([`f64::total_cmp`]), then run, then position, so
/// every element has one rank. For each rank the search keeps, per run, a window
/// `[lo, hi)` that holds the wanted element if that run does. Each step takes as
/// pivot the median of the windows' middle elements and counts the elements below it
/// by a binary search in each window; once few elements are left in the windows they
/// are gathered and the rank selected among them. Everything before a window is
/// below the answer, so the next rank starts from the same windows' lower ends.
fn select_sorted(runs: &[&[f64]], ranks: &[usize]) -> Vec<f64> {
    let b = runs.len();
    let gather_at = GATHER_MIN.max(8 * b);
    let mut lo = vec![0usize; b];
    let mut hi: Vec<usize> = runs.iter().map(|r| r.len()).collect();
    let mut below = vec![0usize; b];
    let mut cand: Vec<(f64, usize, usize)> = Vec::with_capacity(b);
    let mut buf: Vec<f64> = Vec::new();
    let mut out = Vec::with_capacity(ranks.len());
    // The value at the rank after the last one answered, when it was at hand.
    let mut next: Option<(usize, f64)> = None;
    for &k in ranks {
        if let Some((nk, v)) = next
            && nk == k
        {
            out.push(v);
            continue;
        }
        for (h, r) in hi.iter_mut().zip(runs) {
            *h = r.len();
        }
        loop {
            let base: usize = lo.iter().sum();
            let total: usize = lo.iter().zip(&hi).map(|(l, h)| h - l).sum();
            if total == 0 || k < base {
                return out; // cannot happen for a rank < n; leaves `out` short
            }
            if total <= gather_at {
                buf.clear();
                for i in 0..b {
                    buf.extend_from_slice(&runs[i][lo[i]..hi[i]]);
                }
                let j = k - base;
                if j >= buf.len() {
                    return out;
                }
                let (_, v, right) = buf.select_nth_unstable_by(j, f64::total_cmp);
                let v = *v;
                out.push(v);
                // The next rank: the smallest of the rest, or of what lies past the
                // windows.
                let after = right
                    .iter()
                    .copied()
                    .chain((0..b).filter_map(|i| runs[i].get(hi[i]).copied()))
                    .min_by(f64::total_cmp);
                next = after.map(|a| (k + 1, a));
                break;
            }
            cand.clear();
            for i in 0..b {
                let w = hi[i] - lo[i];
                if w > 0 {
                    let m = lo[i] + w / 2;
                    cand.push((runs[i][m], i, m));
                }
            }
            let mid = cand.len() / 2;
            let (_, pick, _) =
                cand.select_nth_unstable_by(mid, |x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            let (p, pr, pm) = *pick;
            let mut count = 0usize;
            for i in 0..b {
                let w = &runs[i][lo[i]..hi[i]];
                let c = if i < pr {
                    lo[i] + w.partition_point(|x| x.total_cmp(&p).is_le())
                } else if i > pr {
                    lo[i] + w.partition_point(|x| x.total_cmp(&p).is_lt())
                } else {
                    pm
                };
                below[i] = c;
                count += c;
            }
            match k.cmp(&count) {
                std::cmp::Ordering::Less => hi.copy_from_slice(&below),
                std::cmp::Ordering::Greater => {
                    lo.copy_from_slice(&below);
                    lo[pr] += 1;
                }
                std::cmp::Ordering::Equal => {
                    // The pivot is the answer; everything before it stays below.
                    lo.copy_from_slice(&below);
                    out.push(p);
                    let after = (0..b)
                        .filter_map(|i| runs[i].get(lo[i] + usize::from(i == pr)).copied())
                        .min_by(f64::total_cmp);
                    next = after.map(|a| (k + 1, a));
                    break;
                }
            }
        }
    }
    out
}

/// One percentile (fraction `p` in 0..=1) of `values` by the same definition.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let clean: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    let n = clean.len();
    if n == 0 || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let v = values_at_ranks(&clean, &if lo == hi { vec![lo] } else { vec![lo, hi] });
    let (a, b) = (v[0], *v.last().unwrap_or(&v[0]));
    Some(a + (h - lo as f64) * (b - a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_series_worked_by_hand() {
        // 1..=10: mean 5.5; sample variance = 82.5 / 9 = 9.1666..; sd = 3.0276503540974917
        // p50: h = 9 * 0.5 = 4.5 -> 5 + 0.5 * (6 - 5) = 5.5
        // p90: h = 8.1 -> 9 + 0.1 * 1 = 9.1 ; p97.5: h = 8.775 -> 9.775
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = summarize(&v).unwrap();
        assert_eq!(s.count, 10);
        assert_eq!((s.min, s.max, s.avg), (1.0, 10.0, 5.5));
        assert!((s.stddev - 3.0276503540974917).abs() < 1e-12);
        assert_eq!(s.p50, 5.5);
        assert!((s.p90 - 9.1).abs() < 1e-12);
        assert!((s.p97_5 - 9.775).abs() < 1e-12);
        assert_eq!(s.p100, 10.0);
    }

    #[test]
    fn one_value_and_nans() {
        let s = summarize(&[f64::NAN, 3.0, f64::NAN]).unwrap();
        assert_eq!(
            (s.count, s.min, s.p50, s.p99, s.stddev),
            (1, 3.0, 3.0, 3.0, 0.0)
        );
        assert!(summarize(&[]).is_none());
        assert!(summarize(&[f64::NAN]).is_none());
    }

    fn sorted_percentile(v: &[f64], p: f64) -> f64 {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let h = (s.len() - 1) as f64 * p;
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(s.len() - 1);
        s[lo] + (h - lo as f64) * (s[hi] - s[lo])
    }

    #[test]
    fn radix_path_matches_sorting_on_a_large_series() {
        // 100,000 values spread over negative and positive ranges exercise the histogram path.
        let v: Vec<f64> = (0..100_000u64)
            .map(|i| ((i * 2_654_435_761) % 1_000_003) as f64 / 1000.0 - 300.0)
            .collect();
        let s = summarize(&v).unwrap();
        for (p, got) in PERCENTILES
            .iter()
            .zip([s.p50, s.p75, s.p90, s.p95, s.p97_5, s.p99, s.p100])
        {
            assert_eq!(got, sorted_percentile(&v, *p), "p{p}");
        }
    }

    #[test]
    fn repeated_two_decimal_values_match_a_sort() {
        // Many equal values in few buckets: the selection path, not the sort.
        let v: Vec<f64> = (0..200_000u64)
            .map(|i| ((i * 7919) % 10_000) as f64 / 100.0)
            .collect();
        let s = summarize(&v).unwrap();
        for (p, got) in PERCENTILES
            .iter()
            .zip([s.p50, s.p75, s.p90, s.p95, s.p97_5, s.p99, s.p100])
        {
            assert_eq!(got, sorted_percentile(&v, *p), "p{p}");
        }
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((s.avg - mean).abs() < 1e-9);
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (v.len() - 1) as f64;
        assert!((s.stddev - var.sqrt()).abs() < 1e-9);
    }

    fn sorted_runs(v: &[f64], cuts: &[usize]) -> Vec<Vec<f64>> {
        let mut runs = Vec::new();
        let mut start = 0;
        for &c in cuts {
            let end = (start + c).min(v.len());
            let mut r = v[start..end].to_vec();
            r.sort_by(f64::total_cmp);
            runs.push(r);
            start = end;
        }
        let mut r = v[start..].to_vec();
        r.sort_by(f64::total_cmp);
        runs.push(r);
        runs
    }

    fn assert_same(sorted: &Summary, plain: &Summary) {
        assert_eq!(sorted.count, plain.count);
        for name in [
            "min", "max", "p50", "p75", "p90", "p95", "p97_5", "p99", "p100",
        ] {
            assert_eq!(
                sorted.get(name).map(f64::to_bits),
                plain.get(name).map(f64::to_bits),
                "{name}: {sorted:?} vs {plain:?}"
            );
        }
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()));
        assert!(close(sorted.avg, plain.avg), "{sorted:?} vs {plain:?}");
        assert!(
            close(sorted.stddev, plain.stddev),
            "{sorted:?} vs {plain:?}"
        );
    }

    #[test]
    fn sorted_runs_worked_by_hand() {
        // Runs {1, 4, 9}, {2, 3}, {5..=8, 10}: together 1..=10, so the same figures
        // as `small_series_worked_by_hand`: p50 5.5, p90 9.1, p97.5 9.775.
        let a = [1.0, 4.0, 9.0];
        let b = [2.0, 3.0];
        let c = [5.0, 6.0, 7.0, 8.0, 10.0];
        let s = summarize_sorted(&[&a, &[], &b, &c]).unwrap();
        assert_eq!(
            (s.count, s.min, s.max, s.avg, s.p50),
            (10, 1.0, 10.0, 5.5, 5.5)
        );
        assert!((s.p90 - 9.1).abs() < 1e-12);
        assert!((s.p97_5 - 9.775).abs() < 1e-12);
        assert!((s.stddev - 3.0276503540974917).abs() < 1e-12);
        assert!(summarize_sorted(&[]).is_none());
        assert!(summarize_sorted(&[&[], &[]]).is_none());
    }

    #[test]
    fn sorted_runs_match_summarize_on_a_large_series() {
        // 245 runs of 4,096 (a million rows in a store's blocks), then a short tail.
        let v: Vec<f64> = (0..1_003_520u64)
            .map(|i| ((i * 2_654_435_761) % 1_000_003) as f64 / 1000.0 - 300.0)
            .collect();
        let cuts = vec![4096; 245];
        let runs = sorted_runs(&v, &cuts);
        let refs: Vec<&[f64]> = runs.iter().map(Vec::as_slice).collect();
        assert_same(&summarize_sorted(&refs).unwrap(), &summarize(&v).unwrap());
    }

    #[test]
    fn sorted_runs_with_many_ties_and_signed_zeros() {
        let pool = [-0.0, 0.0, 1.5, 1.5, -2.0, 7.0];
        let v: Vec<f64> = (0..50_000usize)
            .map(|i| pool[(i * 7919) % pool.len()])
            .collect();
        let runs = sorted_runs(&v, &[1, 0, 4096, 17, 10_000, 3]);
        let refs: Vec<&[f64]> = runs.iter().map(Vec::as_slice).collect();
        assert_same(&summarize_sorted(&refs).unwrap(), &summarize(&v).unwrap());
    }

    proptest! {
        #[test]
        fn percentiles_match_a_sort(v in prop::collection::vec(-1e6f64..1e6, 1..6000), p in 0.0f64..=1.0) {
            prop_assert_eq!(percentile(&v, p).unwrap(), sorted_percentile(&v, p));
        }

        #[test]
        fn sorted_runs_match_summarize(
            v in prop::collection::vec(prop_oneof![-1e6f64..1e6, (-3i32..4).prop_map(f64::from)], 1..3000),
            cuts in prop::collection::vec(0usize..700, 0..12),
        ) {
            let runs = sorted_runs(&v, &cuts);
            let refs: Vec<&[f64]> = runs.iter().map(Vec::as_slice).collect();
            assert_same(&summarize_sorted(&refs).unwrap(), &summarize(&v).unwrap());
        }
    }
}
