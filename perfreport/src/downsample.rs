//! Downsampling for drawing: at most one point per pixel column, each with the
//! minimum, mean and maximum of the samples in it, so spikes stay visible.
//! Statistics never use this: they read every sample.

/// Pixel columns of one time axis: which samples fall in each, and where the
/// data breaks (a gap between two columns).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Buckets {
    /// Time of each column (mean of its first and last sample time).
    pub x: Vec<i64>,
    /// Sample index range of each column.
    pub ranges: Vec<(usize, usize)>,
    /// Whether the line breaks before this column.
    pub break_before: Vec<bool>,
    /// Whether any column holds more than one sample.
    pub reduced: bool,
}

/// Splits sorted times `ts` over `[t0, t1]` into at most `columns` columns.
/// Consecutive samples further apart than `gap_ms` break the line.
pub(crate) fn buckets(ts: &[i64], t0: i64, t1: i64, columns: usize, gap_ms: i64) -> Buckets {
    let n = ts.len();
    let mut b = Buckets {
        x: Vec::new(),
        ranges: Vec::new(),
        break_before: Vec::new(),
        reduced: false,
    };
    if n == 0 {
        return b;
    }
    let columns = columns.max(1);
    if n <= columns {
        for i in 0..n {
            b.x.push(ts[i]);
            b.ranges.push((i, i + 1));
            b.break_before.push(i > 0 && ts[i] - ts[i - 1] > gap_ms);
        }
        return b;
    }
    b.reduced = true;
    let span = (t1 - t0).max(1) as f64;
    let col_of = |t: i64| -> usize {
        let c = ((t - t0) as f64 / span * columns as f64).floor();
        if c.is_nan() || c < 0.0 {
            0
        } else {
            (c as usize).min(columns - 1)
        }
    };
    let mut start = 0;
    let mut cur = col_of(ts[0]);
    for i in 1..=n {
        let c = if i < n { col_of(ts[i]) } else { usize::MAX };
        if c != cur {
            let gap = start > 0 && ts[start] - ts[start - 1] > gap_ms;
            b.x.push(ts[start] + (ts[i - 1] - ts[start]) / 2);
            b.ranges.push((start, i));
            b.break_before.push(gap);
            start = i;
            cur = c;
        }
    }
    b
}

/// Minimum, mean and maximum of `values` per column (NaN where a column has no value).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reduced {
    pub min: Vec<f64>,
    pub avg: Vec<f64>,
    pub max: Vec<f64>,
}

pub(crate) fn reduce(b: &Buckets, values: &[f64]) -> Reduced {
    let k = b.ranges.len();
    let mut r = Reduced {
        min: Vec::with_capacity(k),
        avg: Vec::with_capacity(k),
        max: Vec::with_capacity(k),
    };
    for &(s, e) in &b.ranges {
        let (mut lo, mut hi, mut sum, mut cnt) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
        for &v in values.get(s..e).unwrap_or(&[]) {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
                sum += v;
                cnt += 1;
            }
        }
        if cnt == 0 {
            r.min.push(f64::NAN);
            r.avg.push(f64::NAN);
            r.max.push(f64::NAN);
        } else {
            r.min.push(lo);
            r.avg.push(sum / cnt as f64);
            r.max.push(hi);
        }
    }
    r
}

/// Inserts NaN points where the line breaks, so drawing can split on NaN.
/// Returns the new x and one y vector per input.
pub(crate) fn with_breaks(b: &Buckets, ys: &[&[f64]]) -> (Vec<i64>, Vec<Vec<f64>>) {
    let extra = b.break_before.iter().filter(|x| **x).count();
    let mut x = Vec::with_capacity(b.x.len() + extra);
    let mut out: Vec<Vec<f64>> = ys
        .iter()
        .map(|_| Vec::with_capacity(b.x.len() + extra))
        .collect();
    for i in 0..b.x.len() {
        if b.break_before[i] {
            x.push(b.x[i]);
            for o in &mut out {
                o.push(f64::NAN);
            }
        }
        x.push(b.x[i]);
        for (o, y) in out.iter_mut().zip(ys) {
            o.push(y.get(i).copied().unwrap_or(f64::NAN));
        }
    }
    (x, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_samples_stay_as_they_are() {
        let ts = [0, 5, 10, 40];
        let b = buckets(&ts, 0, 40, 100, 10);
        assert_eq!(b.x, vec![0, 5, 10, 40]);
        assert_eq!(b.break_before, vec![false, false, false, true]);
        assert!(!b.reduced);
        let (x, ys) = with_breaks(&b, &[&[1.0, 2.0, 3.0, 4.0]]);
        assert_eq!(x.len(), 5);
        assert!(ys[0][3].is_nan());
        assert_eq!(ys[0][4], 4.0);
    }

    #[test]
    fn many_samples_keep_min_and_max() {
        // 1000 samples into 10 columns: one spike of 100 must survive as a max.
        let ts: Vec<i64> = (0..1000).collect();
        let mut v = vec![1.0; 1000];
        v[555] = 100.0;
        let b = buckets(&ts, 0, 999, 10, 5);
        assert!(b.reduced);
        assert_eq!(b.ranges.len(), 10);
        assert_eq!(b.ranges[0], (0, 100));
        let r = reduce(&b, &v);
        assert_eq!(r.max[5], 100.0);
        assert_eq!(r.min[5], 1.0);
        assert!((r.avg[5] - 1.99).abs() < 1e-12);
        assert_eq!(r.max[4], 1.0);
        assert!(b.break_before.iter().all(|x| !x));
    }

    #[test]
    fn empty_input() {
        let b = buckets(&[], 0, 0, 10, 1);
        assert!(b.x.is_empty());
        assert!(reduce(&b, &[]).avg.is_empty());
    }
}
