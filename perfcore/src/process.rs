//! From a stream of samples to intervals, handed to a sink (CSV writers, a store).
//!
//! ```
//! use perfcore::process::{run, Collect};
//! let capture = concat!(
//!     "{\"timestamp\":100,\"subsystem\":\"/proc/stat\",\"measurement\":\"cpu  10 0 10 80 0 0 0 0 0 0\\n\"}\n",
//!     "{\"timestamp\":105,\"subsystem\":\"/proc/stat\",\"measurement\":\"cpu  20 0 20 160 0 0 0 0 0 0\\n\"}\n",
//! );
//! let mut sink = Collect::default();
//! let stats = run(perfcore::capture::SampleReader::new(capture.as_bytes()), &mut sink)?;
//! assert_eq!(stats.intervals, 1);
//! assert_eq!(sink.rows[0].get(perfcore::metrics::Metric::CpuUserPct), Some(10.0));
//! # Ok::<(), perfcore::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::metrics::IntervalRow;
use crate::rates::{Break, Interval};
use crate::snapshot::{RawSample, Snapshot, SnapshotBuffers};

/// Receives each interval (with the later sample, for gauges and raw counters).
pub trait IntervalSink {
    /// Called once per sample, before the interval it closes (if any).
    fn sample(&mut self, _snap: &Snapshot<'_>) -> Result<()> {
        Ok(())
    }

    /// Called once per interval.
    fn interval(&mut self, iv: &Interval, cur: &Snapshot<'_>) -> Result<()>;

    /// Called where two samples give no interval (reboot, clock stepped back).
    fn gap(&mut self, _at_ms: i64, _why: Break) -> Result<()> {
        Ok(())
    }

    /// Called once at the end.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// What a run saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunStats {
    /// Samples read.
    pub samples: u64,
    /// Intervals produced.
    pub intervals: u64,
    /// Reboots seen (boot time changed).
    pub reboots: u64,
    /// Pairs whose time did not increase.
    pub time_not_increasing: u64,
    /// Counters treated as reset.
    pub resets: u64,
    /// First and last sample time (ms since the epoch).
    pub time_range_ms: Option<(i64, i64)>,
}

/// Feeds samples through the delta math into `sink`.
///
/// A sample whose text is malformed is an error naming the tick's time and the
/// file and line. A sample that is not later than the previous one is dropped
/// (the previous one stays the base), so rates never run backwards.
pub fn run<I>(samples: I, sink: &mut dyn IntervalSink) -> Result<RunStats>
where
    I: IntoIterator<Item = Result<RawSample>>,
{
    let mut stats = RunStats::default();
    let mut prev: Option<RawSample> = None;
    // The lists of the two snapshots parsed per tick, kept from tick to tick.
    let (mut cur_bufs, mut prev_bufs) = (SnapshotBuffers::default(), SnapshotBuffers::default());
    for raw in samples {
        let raw = raw?;
        stats.samples += 1;
        let cur = raw
            .parse_with(&mut cur_bufs)
            .map_err(|e| at_tick(&raw, e))?;
        sink.sample(&cur)?;
        let ts = raw.timestamp_ms;
        stats.time_range_ms = Some(match stats.time_range_ms {
            None => (ts, ts),
            Some((a, b)) => (a.min(ts), b.max(ts)),
        });
        let mut keep = true;
        if let Some(p) = &prev {
            // Parsed again rather than kept: a parsed sample borrows its text.
            let ps = p.parse_with(&mut prev_bufs).map_err(|e| at_tick(p, e))?;
            match Interval::between(&ps, &cur) {
                Ok(iv) => {
                    stats.intervals += 1;
                    stats.resets += iv.resets.len() as u64;
                    sink.interval(&iv, &cur)?;
                }
                Err(b @ Break::Reboot { .. }) => {
                    stats.reboots += 1;
                    sink.gap(ts, b)?;
                }
                Err(b) => {
                    stats.time_not_increasing += 1;
                    sink.gap(ts, b)?;
                    keep = false;
                }
            }
            prev_bufs.recycle(ps);
        }
        cur_bufs.recycle(cur);
        if keep {
            prev = Some(raw);
        }
    }
    sink.finish()?;
    Ok(stats)
}

fn at_tick(raw: &RawSample, e: Error) -> Error {
    match e {
        Error::Parse {
            file,
            line,
            message,
        } => Error::Parse {
            file,
            line,
            message: format!(
                "{message} (in the sample at {})",
                crate::time::format_rfc3339_ms(raw.timestamp_ms)
            ),
        },
        other => other,
    }
}

/// A sink that keeps the wide rows in memory.
#[derive(Debug, Default, Clone)]
pub struct Collect {
    /// One row per interval.
    pub rows: Vec<IntervalRow>,
    /// Per-device rows.
    pub devices: Vec<crate::metrics::DeviceRow>,
    /// Gaps: where and why.
    pub gaps: Vec<(i64, Break)>,
}

impl IntervalSink for Collect {
    fn interval(&mut self, iv: &Interval, _cur: &Snapshot<'_>) -> Result<()> {
        self.rows.push(IntervalRow::from_interval(iv));
        self.devices.extend(crate::metrics::device_rows(iv));
        Ok(())
    }

    fn gap(&mut self, at_ms: i64, why: Break) -> Result<()> {
        self.gaps.push((at_ms, why));
        Ok(())
    }
}
