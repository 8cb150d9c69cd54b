//! What both backends share: column lists, bucket widths, statistics in Rust.

use perfcore::metrics::{DeviceRow, IntervalRow, Metric};
use perfcore::stats::{Moments, Summary, summarize};

use crate::error::{Error, Result};

/// Metrics whose presence is tracked in a machine's `metric_mask` (one bit each in a
/// signed 64-bit column); later metrics are always read.
const MASK_BITS: usize = 63;

/// Bit `i` set when some row has a value for metric `i`.
pub(crate) fn metric_mask(rows: &[IntervalRow]) -> i64 {
    let mut mask = 0i64;
    for r in rows {
        for (i, v) in r.values.iter().enumerate().take(MASK_BITS) {
            if v.is_some() {
                mask |= 1 << i;
            }
        }
    }
    mask
}

/// A hash map with foldhash (seeded per process) instead of SipHash: resolving the
/// series of a batch hashes every value's (kind, device, metric), and SipHash made
/// that a third of the agent's commit.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::quality::RandomState>;

/// The distinct (kind, device, metric) keys of a batch of device values, sorted.
/// A batch repeats the same few keys once per interval, so they are deduplicated
/// through a hash set before the (string) sort.
pub(crate) fn series_keys(devices: &[DeviceRow]) -> Vec<(&str, &str, &str)> {
    let set: std::collections::HashSet<(&str, &str, &str), foldhash::quality::RandomState> =
        devices
            .iter()
            .map(|d| (d.kind.as_str(), d.device.as_str(), d.metric))
            .collect();
    let mut keys: Vec<_> = set.into_iter().collect();
    keys.sort_unstable();
    keys
}

/// Appends a part of a column read in parts, taking it whole when the column is
/// still empty (as most are: one read part).
pub(crate) fn append_column(all: &mut Vec<f64>, mut part: Vec<f64>) {
    if all.is_empty() {
        *all = part;
    } else {
        all.append(&mut part);
    }
}

/// The metrics that may have values on a machine with this mask, in column order:
/// reads skip the columns that were never written.
pub(crate) fn present_metrics(mask: i64) -> Vec<Metric> {
    Metric::ALL
        .iter()
        .copied()
        .filter(|m| m.index() >= MASK_BITS || mask & (1 << m.index()) != 0)
        .collect()
}

/// `m1, m2` for a list of metrics.
pub(crate) fn column_list(metrics: &[Metric]) -> String {
    metrics
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Clamps a requested range `[from, to)` to the data's `[first, last]` and returns the
/// bucket width giving at most `points` buckets.
pub(crate) fn bucket_plan(
    from_ms: i64,
    to_ms: i64,
    first_ms: i64,
    last_ms: i64,
    points: u32,
) -> Option<(i64, i64, i64)> {
    let from = from_ms.max(first_ms);
    let to = to_ms.min(last_ms.saturating_add(1));
    if to <= from || points == 0 {
        return None;
    }
    let span = to as i128 - from as i128;
    let width = ((span + points as i128 - 1) / points as i128).max(1);
    Some((from, to, i64::try_from(width).unwrap_or(i64::MAX)))
}

/// Checks a points argument.
pub(crate) fn check_points(points: u32) -> Result<()> {
    if points == 0 {
        return Err(Error::Invalid("points must be at least 1".into()));
    }
    Ok(())
}

/// Summaries of columns (NULLs already left out), computed on worker threads so the
/// async runtime is not blocked; metrics without values are left out.
pub(crate) async fn summarize_columns(
    columns: Vec<(Metric, Vec<f64>)>,
) -> Result<Vec<(Metric, Summary)>> {
    tokio::task::spawn_blocking(move || summarize_parallel(&columns))
        .await
        .map_err(|e| Error::Task(e.to_string()))
}

/// Summaries of columns on up to `available_parallelism` threads, in input order.
pub fn summarize_parallel(columns: &[(Metric, Vec<f64>)]) -> Vec<(Metric, Summary)> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(columns.len())
        .max(1);
    let mut out: Vec<Option<Summary>> = vec![None; columns.len()];
    if threads == 1 {
        for (slot, (_, v)) in out.iter_mut().zip(columns) {
            *slot = summarize(v);
        }
    } else {
        // Interleaved split: neighbouring metrics often have similar costs.
        let results: Vec<Vec<(usize, Option<Summary>)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        (t..columns.len())
                            .step_by(threads)
                            .map(|i| (i, summarize(&columns[i].1)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (i, s) in results.into_iter().flatten() {
            out[i] = s;
        }
    }
    columns
        .iter()
        .zip(out)
        .filter_map(|((m, _), s)| s.map(|s| (*m, s)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_the_data_range() {
        // 0..=999 ms of data, asked for 0..10_000 in 10 points: clamped to 0..1000, width 100.
        assert_eq!(bucket_plan(0, 10_000, 0, 999, 10), Some((0, 1000, 100)));
        // Unbounded request: no overflow.
        assert_eq!(bucket_plan(i64::MIN, i64::MAX, 5, 5, 3), Some((5, 6, 1)));
        assert_eq!(bucket_plan(10, 5, 0, 100, 3), None);
        assert_eq!(bucket_plan(0, 100, 0, 100, 0), None);
        // 7 ms in 2 points -> width 4 (ceil).
        assert_eq!(bucket_plan(0, 7, 0, 6, 2), Some((0, 7, 4)));
    }

    #[test]
    fn mask_tracks_metrics_with_values() {
        let mut a = IntervalRow::new(0, 1.0);
        a.set(Metric::CpuUserPct, Some(1.0));
        let mut b = IntervalRow::new(1, 1.0);
        b.set(Metric::FsMaxUsedPct, Some(2.0));
        let mask = metric_mask(&[a, b]);
        assert_eq!(
            present_metrics(mask),
            vec![Metric::CpuUserPct, Metric::FsMaxUsedPct]
        );
        assert!(present_metrics(0).is_empty());
        assert_eq!(present_metrics(-1).len(), Metric::ALL.len());
    }

    #[test]
    fn parallel_summaries_keep_order_and_skip_empty() {
        let cols = vec![
            (Metric::CpuUserPct, vec![1.0, 2.0, 3.0]),
            (Metric::CpuNicePct, vec![]),
            (Metric::Load1, vec![5.0]),
        ];
        let s = summarize_parallel(&cols);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, Metric::CpuUserPct);
        assert_eq!(s[0].1.avg, 2.0);
        assert_eq!(s[1].0, Metric::Load1);
        assert_eq!(s[1].1.p99, 5.0);
    }
}

// ---- compacted blocks -----------------------------------------------------------

/// Interval rows per compacted block at most, by default: a block holds each metric's
/// values of that many consecutive rows, sorted, with a sketch of every 64th.
///
/// A summary reads a few slices per block and percentile (PostgreSQL) or whole
/// blocks (SQLite), and the rows of the blocks its range cuts from the table:
/// 16,384 rows (4.6 hours at 1 s, 1.9 days at 10 s) keep both the slices and those
/// rows few.
pub const BLOCK_ROWS: usize = 16_384;

/// The block size of a store's options.
pub(crate) fn block_rows(options: &crate::OpenOptions) -> usize {
    options.block_rows.unwrap_or(BLOCK_ROWS).max(1)
}

/// A compacted span of a machine's rows: `[first_ms, last_ms]`, `rows` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub first_ms: i64,
    pub last_ms: i64,
    pub rows: i64,
}

/// A metric's values in one block, as stored: NaN left out, sorted ascending by
/// [`f64::total_cmp`].
pub(crate) fn sorted_block(mut values: Vec<f64>) -> Vec<f64> {
    values.retain(|v| !v.is_nan());
    values.sort_unstable_by(f64::total_cmp);
    values
}

/// Values as the blocks store them: little-endian f64, one after another.
pub(crate) fn le_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A metric's compacted blocks, decoded into one buffer (reused from metric to
/// metric, so a summary holds one metric's values at a time, not all of them).
#[derive(Debug, Default)]
pub(crate) struct FlatRuns {
    /// Every block's values, block after block.
    pub values: Vec<f64>,
    /// Each block's start and length in `values`, and its moments.
    pub runs: Vec<(usize, usize, Moments)>,
}

impl FlatRuns {
    /// Empties it, keeping the memory.
    pub fn clear(&mut self) {
        self.values.clear();
        self.runs.clear();
    }

    /// Appends a stored block, checked to be what [`sorted_block`] and [`le_bytes`] write: whole
    /// values, `count` of them, no NaN, ascending.
    pub fn push(&mut self, bytes: &[u8], count: i64) -> Result<()> {
        let corrupt =
            |why: &str| Error::Invalid(format!("a stored summary block is corrupt: {why}"));
        if !bytes.len().is_multiple_of(8) || i64::try_from(bytes.len() / 8).ok() != Some(count) {
            return Err(corrupt("its length does not match its count"));
        }
        let start = self.values.len();
        self.values.extend(
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])),
        );
        let block = &self.values[start..];
        // Compared as order-preserving integers, all pairs without an early exit (so
        // the loop vectorises); NaN has its own test.
        let key = |v: f64| {
            let b = v.to_bits();
            if b >> 63 == 1 { !b } else { b | (1 << 63) }
        };
        let unsorted = block
            .windows(2)
            .fold(false, |bad, w| bad | (key(w[0]) > key(w[1])));
        let nan = block.iter().fold(false, |bad, v| bad | v.is_nan());
        if unsorted || nan {
            self.values.truncate(start);
            return Err(corrupt("its values are not sorted"));
        }
        // While the block is in cache.
        let moments = Moments::of(block);
        self.runs.push((start, block.len(), moments));
        Ok(())
    }

    /// The statistics of these blocks and `loose` values (rows outside any block).
    pub fn summarize_with(&self, loose: &mut Vec<f64>) -> Option<Summary> {
        loose.retain(|v| !v.is_nan());
        loose.sort_unstable_by(f64::total_cmp);
        let moments = self
            .runs
            .iter()
            .map(|r| r.2)
            .fold(Moments::of(loose), Moments::merge);
        let mut refs: Vec<&[f64]> = self
            .runs
            .iter()
            .map(|&(start, len, _)| &self.values[start..start + len])
            .collect();
        refs.push(loose);
        perfcore::stats::summarize_sorted_with(&refs, moments)
    }
}

/// The parts of `[from, to)` that no span covers, in order (spans ordered, disjoint).
pub(crate) fn gaps(spans: &[Span], from: i64, to: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::with_capacity(spans.len() + 1);
    let mut at = from;
    for s in spans {
        if s.first_ms > at {
            out.push((at, s.first_ms.min(to)));
        }
        at = at.max(s.last_ms.saturating_add(1));
    }
    if at < to {
        out.push((at, to));
    }
    out.retain(|(a, b)| a < b);
    out
}

/// Cuts the sorted timestamps of uncovered rows into blocks of `size` rows, the last
/// one possibly short. A short block at the end of a machine's rows is built again,
/// with the rows stored after it, by the next compaction that finds such rows
/// ([`reopened_tail`]).
pub(crate) fn plan_blocks(timestamps: &[i64], size: usize) -> Vec<Span> {
    timestamps
        .chunks(size.max(1))
        .filter_map(|c| {
            Some(Span {
                first_ms: *c.first()?,
                last_ms: *c.last()?,
                rows: c.len() as i64,
            })
        })
        .collect()
}

/// The machine's last span, when it is short (fewer than `size` rows): compaction
/// drops it and builds its rows again with the rows stored after it, if there are
/// any, so that the spans stay full but for the last.
pub(crate) fn reopened_tail(spans: &[Span], size: usize) -> Option<Span> {
    spans.last().copied().filter(|s| (s.rows as usize) < size)
}

/// `n` emptied buffers, taken from `bufs` first.
pub(crate) fn reuse(mut bufs: Vec<FlatRuns>, n: usize) -> Vec<FlatRuns> {
    bufs.resize_with(n, FlatRuns::default);
    for b in &mut bufs {
        b.clear();
    }
    bufs
}

/// Compacted spans in a range and, per requested metric, their sorted values.
pub(crate) type BlockRuns = (Vec<Span>, Vec<FlatRuns>);

#[cfg(test)]
mod block_tests {
    use super::*;

    fn span(first_ms: i64, last_ms: i64) -> Span {
        Span {
            first_ms,
            last_ms,
            rows: 1,
        }
    }

    #[test]
    fn gaps_are_what_no_span_covers() {
        // Spans [10, 19] and [30, 39] inside [0, 50): gaps [0, 10), [20, 30), [40, 50).
        let spans = [span(10, 19), span(30, 39)];
        assert_eq!(gaps(&spans, 0, 50), [(0, 10), (20, 30), (40, 50)]);
        // Touching spans leave no gap between them; a range inside one span has none.
        assert_eq!(gaps(&[span(0, 9), span(10, 19)], 0, 20), []);
        assert_eq!(gaps(&spans, 12, 15), []);
        assert_eq!(gaps(&[], 5, 7), [(5, 7)]);
        // The whole time line (what compaction looks at): the last gap is open.
        assert_eq!(
            gaps(&spans, i64::MIN, i64::MAX),
            [(i64::MIN, 10), (20, 30), (40, i64::MAX)]
        );
    }

    #[test]
    fn blocks_are_full_but_the_last() {
        let ts: Vec<i64> = (0..BLOCK_ROWS as i64 * 2 + 5).map(|i| i * 10).collect();
        let blocks = plan_blocks(&ts, BLOCK_ROWS);
        assert_eq!(blocks.len(), 3);
        assert_eq!(
            blocks[1],
            Span {
                first_ms: BLOCK_ROWS as i64 * 10,
                last_ms: (BLOCK_ROWS as i64 * 2 - 1) * 10,
                rows: BLOCK_ROWS as i64
            }
        );
        assert_eq!(blocks[2].rows, 5);
        assert!(plan_blocks(&[], 7).is_empty());
        // Only a short last span is reopened.
        let full = Span {
            first_ms: 0,
            last_ms: 9,
            rows: 10,
        };
        let short = Span {
            first_ms: 10,
            last_ms: 12,
            rows: 3,
        };
        assert_eq!(reopened_tail(&[full, short], 10), Some(short));
        assert_eq!(reopened_tail(&[short, full], 10), None);
        assert_eq!(reopened_tail(&[], 10), None);
    }

    #[test]
    fn blocks_decode_what_was_encoded_and_refuse_damage() {
        let sorted = sorted_block(vec![3.0, f64::NAN, -1.5, 2.0, 2.0]);
        assert_eq!(sorted, [-1.5, 2.0, 2.0, 3.0]);
        let (count, bytes) = (sorted.len() as i64, le_bytes(&sorted));
        assert_eq!(count, 4);
        assert_eq!(&bytes[..8], &(-1.5f64).to_le_bytes());
        let mut f = FlatRuns::default();
        f.push(&bytes, count).unwrap();
        assert_eq!(f.values, [-1.5, 2.0, 2.0, 3.0]);
        assert_eq!(f.runs[0].2, Moments::of(&[-1.5, 2.0, 2.0, 3.0]));
        // Wrong count, torn value, unsorted, NaN: errors, and nothing is kept.
        for (b, c) in [
            (bytes.clone(), 3),
            (bytes[..31].to_vec(), 4),
            ([&bytes[8..16], &bytes[..8]].concat(), 2),
            ([f64::NAN.to_le_bytes()].concat(), 1),
        ] {
            let e = f.push(&b, c).unwrap_err();
            assert!(e.to_string().contains("corrupt"), "{e}");
            assert_eq!(f.values.len(), 4);
        }
        let mut loose = vec![10.0, -2.0];
        let s = f.summarize_with(&mut loose).unwrap();
        let want = summarize(&[-1.5, 2.0, 2.0, 3.0, 10.0, -2.0]).unwrap();
        assert_eq!(
            (s.count, s.min, s.max, s.p50),
            (want.count, want.min, want.max, want.p50)
        );
    }
}
