//! Block device rates between two `/proc/diskstats` readings (iostat's definitions).

use serde::Serialize;

use super::counter::{Width, delta, delta_opt};
use crate::parse::diskstats::{DeviceKind, DiskStat};

/// diskstats counts sectors of 512 bytes whatever the device's own sector size.
pub const SECTOR_BYTES: f64 = 512.0;

/// I/O rates of one block device over one interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DiskRates {
    /// Device name (`sda`, `nvme0n1`, `dm-0`).
    pub name: String,
    /// What kind of device the name says it is.
    #[serde(skip)]
    pub kind: DeviceKind,
    /// Whether it is a whole disk whose I/O counts toward machine totals
    /// (partitions, device-mapper and md devices would count the same I/O twice).
    pub counts_toward_totals: bool,
    /// `r/s`: reads completed per second.
    pub reads_per_s: f64,
    /// `w/s`: writes completed per second.
    pub writes_per_s: f64,
    /// `d/s`: discards completed per second (Linux 4.18+).
    pub discards_per_s: Option<f64>,
    /// `f/s`: flush requests completed per second (Linux 5.5+).
    pub flushes_per_s: Option<f64>,
    /// `rrqm/s`: reads merged per second.
    pub read_merges_per_s: f64,
    /// `wrqm/s`: writes merged per second.
    pub write_merges_per_s: f64,
    /// Bytes read per second (`rkB/s` × 1024).
    pub read_bytes_per_s: f64,
    /// Bytes written per second (`wkB/s` × 1024).
    pub write_bytes_per_s: f64,
    /// Bytes discarded per second (Linux 4.18+).
    pub discard_bytes_per_s: Option<f64>,
    /// `r_await`: average time of a read in ms (0 when no reads).
    pub r_await_ms: f64,
    /// `w_await`: average time of a write in ms (0 when no writes).
    pub w_await_ms: f64,
    /// `d_await`: average time of a discard in ms (Linux 4.18+).
    pub d_await_ms: Option<f64>,
    /// `f_await`: average time of a flush in ms (Linux 5.5+).
    pub f_await_ms: Option<f64>,
    /// `aqu-sz`: average queue length.
    pub aqu_sz: f64,
    /// `%util`: percent of time the device had I/O in flight, capped at 100.
    pub util_pct: f64,
}

impl DiskRates {
    /// `tps`: reads + writes + discards completed per second.
    pub fn tps(&self) -> f64 {
        self.reads_per_s + self.writes_per_s + self.discards_per_s.unwrap_or(0.0)
    }

    /// Average time of any I/O (read, write, discard) in ms, 0 when there was none.
    pub fn await_ms(&self) -> f64 {
        let n = self.tps();
        if n <= 0.0 {
            return 0.0;
        }
        (self.r_await_ms * self.reads_per_s
            + self.w_await_ms * self.writes_per_s
            + self.d_await_ms.unwrap_or(0.0) * self.discards_per_s.unwrap_or(0.0))
            / n
    }
}

fn avg_ms(d_ms: u64, d_ios: u64) -> f64 {
    if d_ios == 0 {
        0.0
    } else {
        d_ms as f64 / d_ios as f64
    }
}

/// Rates of one device between two readings `elapsed_s` seconds apart.
///
/// `None` when a counter was reset (device re-registered): no rates for this
/// interval. The time fields may be 32-bit and wrap; the others are 64-bit.
pub fn disk_rates(prev: &DiskStat<'_>, cur: &DiskStat<'_>, elapsed_s: f64) -> Option<DiskRates> {
    if elapsed_s <= 0.0 {
        return None;
    }
    let c = |p: u64, c: u64| delta(p, c, Width::U64);
    let t = |p: u64, c: u64| delta(p, c, Width::MaybeU32);
    let reads = c(prev.reads_completed, cur.reads_completed)?;
    let writes = c(prev.writes_completed, cur.writes_completed)?;
    let rmerge = c(prev.reads_merged, cur.reads_merged)?;
    let wmerge = c(prev.writes_merged, cur.writes_merged)?;
    let rsec = c(prev.sectors_read, cur.sectors_read)?;
    let wsec = c(prev.sectors_written, cur.sectors_written)?;
    let rms = t(prev.read_time_ms, cur.read_time_ms)?;
    let wms = t(prev.write_time_ms, cur.write_time_ms)?;
    let io_ms = t(prev.io_time_ms, cur.io_time_ms)?;
    let wio_ms = t(prev.weighted_io_time_ms, cur.weighted_io_time_ms)?;
    // Discard and flush fields: present in both readings or not used.
    let both = |p: Option<u64>, q: Option<u64>| p.is_some() && q.is_some();
    let discard = if both(prev.discards_completed, cur.discards_completed) {
        Some((
            delta_opt(prev.discards_completed, cur.discards_completed, Width::U64)?,
            delta_opt(prev.sectors_discarded, cur.sectors_discarded, Width::U64)?,
            delta_opt(prev.discard_time_ms, cur.discard_time_ms, Width::MaybeU32)?,
        ))
    } else {
        None
    };
    let flush = if both(prev.flush_requests_completed, cur.flush_requests_completed) {
        Some((
            delta_opt(
                prev.flush_requests_completed,
                cur.flush_requests_completed,
                Width::U64,
            )?,
            delta_opt(prev.flush_time_ms, cur.flush_time_ms, Width::MaybeU32)?,
        ))
    } else {
        None
    };
    let per_s = |v: u64| v as f64 / elapsed_s;
    let ms_per_s = elapsed_s * 1000.0;
    Some(DiskRates {
        name: cur.name.to_owned(),
        kind: cur.kind(),
        counts_toward_totals: cur.counts_toward_totals(),
        reads_per_s: per_s(reads),
        writes_per_s: per_s(writes),
        discards_per_s: discard.map(|d| per_s(d.0)),
        flushes_per_s: flush.map(|f| per_s(f.0)),
        read_merges_per_s: per_s(rmerge),
        write_merges_per_s: per_s(wmerge),
        read_bytes_per_s: rsec as f64 * SECTOR_BYTES / elapsed_s,
        write_bytes_per_s: wsec as f64 * SECTOR_BYTES / elapsed_s,
        discard_bytes_per_s: discard.map(|d| d.1 as f64 * SECTOR_BYTES / elapsed_s),
        r_await_ms: avg_ms(rms, reads),
        w_await_ms: avg_ms(wms, writes),
        d_await_ms: discard.map(|d| avg_ms(d.2, d.0)),
        f_await_ms: flush.map(|f| avg_ms(f.1, f.0)),
        aqu_sz: wio_ms as f64 / ms_per_s,
        util_pct: (io_ms as f64 / ms_per_s * 100.0).min(100.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::diskstats;

    fn one(line: &str) -> DiskStat<'_> {
        diskstats::parse(line.as_bytes()).unwrap().remove(0)
    }

    #[test]
    fn iostat_definitions() {
        // Over 2 s: Δreads 100, Δrmerge 10, Δsectors_read 2048 (1 MiB), Δread_ms 300,
        // Δwrites 50, Δwmerge 0, Δsectors_written 1024, Δwrite_ms 500,
        // Δio_ms 1500, Δweighted 4000, Δdiscards 4 (Δsectors 8, Δms 2), Δflush 2 (Δms 6).
        let a = one("8 0 sda 1000 5 10000 3000 500 0 5000 2000 0 10000 20000 40 0 80 20 10 30\n");
        let b = one("8 0 sda 1100 15 12048 3300 550 0 6024 2500 1 11500 24000 44 0 88 22 12 36\n");
        let r = disk_rates(&a, &b, 2.0).unwrap();
        assert_eq!(r.reads_per_s, 50.0); // 100 / 2
        assert_eq!(r.writes_per_s, 25.0); // 50 / 2
        assert_eq!(r.read_merges_per_s, 5.0); // 10 / 2
        assert_eq!(r.read_bytes_per_s, 524_288.0); // 2048 * 512 / 2 = 512 KiB/s
        assert_eq!(r.write_bytes_per_s, 262_144.0); // 1024 * 512 / 2
        assert_eq!(r.r_await_ms, 3.0); // 300 ms / 100 reads
        assert_eq!(r.w_await_ms, 10.0); // 500 ms / 50 writes
        assert_eq!(r.aqu_sz, 2.0); // 4000 ms / 2000 ms
        assert_eq!(r.util_pct, 75.0); // 1500 ms / 2000 ms
        assert_eq!(r.discards_per_s, Some(2.0)); // 4 / 2
        assert_eq!(r.discard_bytes_per_s, Some(2048.0)); // 8 * 512 / 2
        assert_eq!(r.d_await_ms, Some(0.5)); // 2 ms / 4
        assert_eq!(r.flushes_per_s, Some(1.0)); // 2 / 2
        assert_eq!(r.f_await_ms, Some(3.0)); // 6 ms / 2
        assert_eq!(r.tps(), 77.0); // 50 + 25 + 2
        // (3*50 + 10*25 + 0.5*2) / 77 = 401 / 77
        assert_eq!(r.await_ms(), 401.0 / 77.0);
        assert!(r.counts_toward_totals);
    }

    #[test]
    fn idle_device_has_zero_awaits_not_nan() {
        let a = one("8 0 sda 1 0 8 1 1 0 8 1 0 2 2\n");
        let r = disk_rates(&a, &a, 1.0).unwrap();
        assert_eq!(
            (r.r_await_ms, r.w_await_ms, r.util_pct, r.aqu_sz),
            (0.0, 0.0, 0.0, 0.0)
        );
        assert_eq!(r.discards_per_s, None); // 14-field line: no discard columns
    }

    #[test]
    fn util_is_capped_at_100() {
        // io_ms grew 1200 ms in 1 s (accounting skew): 120% -> 100.
        let a = one("8 0 sda 0 0 0 0 0 0 0 0 0 0 0\n");
        let b = one("8 0 sda 1 0 8 1 0 0 0 0 0 1200 5\n");
        assert_eq!(disk_rates(&a, &b, 1.0).unwrap().util_pct, 100.0);
    }

    #[test]
    fn wrapped_time_counter_is_used() {
        // io_ms wraps: 4294967196 -> 400: Δ = 100 + 400 = 500 ms in 1 s = 50%.
        let a = one("8 0 sda 0 0 0 0 0 0 0 0 0 4294967196 0\n");
        let b = one("8 0 sda 0 0 0 0 0 0 0 0 0 400 0\n");
        assert_eq!(disk_rates(&a, &b, 1.0).unwrap().util_pct, 50.0);
    }

    #[test]
    fn reset_device_gives_no_rates() {
        // Re-registered device: reads 1,000,000 -> 5.
        let a = one("8 0 sda 1000000 0 0 0 0 0 0 0 0 0 0\n");
        let b = one("8 0 sda 5 0 0 0 0 0 0 0 0 0 0\n");
        assert_eq!(disk_rates(&a, &b, 1.0), None);
    }

    #[test]
    fn partitions_do_not_count_toward_totals() {
        let a = one("8 1 sda1 0 0 0 0 0 0 0 0 0 0 0\n");
        assert!(!disk_rates(&a, &a, 1.0).unwrap().counts_toward_totals);
    }
}
