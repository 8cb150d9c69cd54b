//! Memory gauges of one sample (sar -r definitions) and paging rates between two.

use serde::Serialize;

use super::counter::{Width, delta_opt};
use crate::parse::meminfo::Meminfo;
use crate::parse::vmstat::Vmstat;

/// Memory and swap in KiB as `/proc/meminfo` prints them, plus sar's derived values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MemoryGauges {
    /// MemTotal.
    pub total_kib: u64,
    /// MemFree (`kbmemfree`).
    pub free_kib: u64,
    /// MemAvailable (`kbavail`; Linux 3.14+).
    pub available_kib: Option<u64>,
    /// Buffers.
    pub buffers_kib: u64,
    /// Cached.
    pub cached_kib: u64,
    /// Slab.
    pub slab_kib: u64,
    /// sar's `kbmemused`: MemTotal − MemFree − Buffers − Cached − Slab, not below 0.
    pub used_kib: u64,
    /// Committed_AS (`kbcommit`).
    pub committed_kib: Option<u64>,
    /// Active.
    pub active_kib: Option<u64>,
    /// Inactive.
    pub inactive_kib: Option<u64>,
    /// Dirty.
    pub dirty_kib: Option<u64>,
    /// SwapTotal.
    pub swap_total_kib: u64,
    /// SwapFree.
    pub swap_free_kib: u64,
    /// SwapCached.
    pub swap_cached_kib: Option<u64>,
}

impl MemoryGauges {
    /// Gauges from one meminfo; `None` without MemTotal and MemFree.
    pub fn from_meminfo(m: &Meminfo<'_>) -> Option<MemoryGauges> {
        let total = m.mem_total_kib()?;
        let free = m.mem_free_kib()?;
        let buffers = m.buffers_kib().unwrap_or(0);
        let cached = m.cached_kib().unwrap_or(0);
        let slab = m.slab_kib().unwrap_or(0);
        let used = total
            .saturating_sub(free)
            .saturating_sub(buffers)
            .saturating_sub(cached)
            .saturating_sub(slab);
        Some(MemoryGauges {
            total_kib: total,
            free_kib: free,
            available_kib: m.mem_available_kib(),
            buffers_kib: buffers,
            cached_kib: cached,
            slab_kib: slab,
            used_kib: used,
            committed_kib: m.committed_as_kib(),
            active_kib: m.active_kib(),
            inactive_kib: m.inactive_kib(),
            dirty_kib: m.dirty_kib(),
            swap_total_kib: m.swap_total_kib().unwrap_or(0),
            swap_free_kib: m.swap_free_kib().unwrap_or(0),
            swap_cached_kib: m.swap_cached_kib(),
        })
    }

    /// `%memused`: used / MemTotal × 100.
    pub fn used_pct(&self) -> f64 {
        pct(self.used_kib, self.total_kib)
    }

    /// `%commit`: Committed_AS / (MemTotal + SwapTotal) × 100.
    pub fn commit_pct(&self) -> Option<f64> {
        self.committed_kib
            .map(|c| pct(c, self.total_kib + self.swap_total_kib))
    }

    /// Swap in use: SwapTotal − SwapFree.
    pub fn swap_used_kib(&self) -> u64 {
        self.swap_total_kib.saturating_sub(self.swap_free_kib)
    }

    /// `%swpused`; 0 without swap.
    pub fn swap_used_pct(&self) -> f64 {
        pct(self.swap_used_kib(), self.swap_total_kib)
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64 * 100.0
    }
}

/// Paging and swapping per second (sar -B and -W), from `/proc/vmstat`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PagingRates {
    /// `pgpgin/s`: KiB paged in from disk per second.
    pub pgpgin_kib_per_s: Option<f64>,
    /// `pgpgout/s`: KiB paged out to disk per second.
    pub pgpgout_kib_per_s: Option<f64>,
    /// `fault/s`: page faults (minor and major) per second.
    pub pgfault_per_s: Option<f64>,
    /// `majflt/s`: major faults per second.
    pub pgmajfault_per_s: Option<f64>,
    /// `pswpin/s`: pages swapped in per second.
    pub pswpin_per_s: Option<f64>,
    /// `pswpout/s`: pages swapped out per second.
    pub pswpout_per_s: Option<f64>,
    /// OOM kills during the interval (Linux 4.13+).
    pub oom_kills: Option<u64>,
}

/// Paging rates between two vmstat readings `elapsed_s` apart; a reset counter gives `None`
/// for that rate only.
pub fn paging_rates(prev: &Vmstat<'_>, cur: &Vmstat<'_>, elapsed_s: f64) -> PagingRates {
    let r =
        |p: Option<u64>, c: Option<u64>| delta_opt(p, c, Width::U64).map(|d| d as f64 / elapsed_s);
    PagingRates {
        pgpgin_kib_per_s: r(prev.pgpgin(), cur.pgpgin()),
        pgpgout_kib_per_s: r(prev.pgpgout(), cur.pgpgout()),
        pgfault_per_s: r(prev.pgfault(), cur.pgfault()),
        pgmajfault_per_s: r(prev.pgmajfault(), cur.pgmajfault()),
        pswpin_per_s: r(prev.pswpin(), cur.pswpin()),
        pswpout_per_s: r(prev.pswpout(), cur.pswpout()),
        oom_kills: delta_opt(prev.oom_kill(), cur.oom_kill(), Width::U64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{meminfo, vmstat};

    #[test]
    fn sar_memory_definitions() {
        let text = b"MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 600 kB\nBuffers: 50 kB\n\
Cached: 300 kB\nSlab: 50 kB\nCommitted_AS: 900 kB\nSwapTotal: 500 kB\nSwapFree: 400 kB\n";
        let m = meminfo::parse(text).unwrap();
        let g = MemoryGauges::from_meminfo(&m).unwrap();
        // used = 1000 - 100 - 50 - 300 - 50 = 500
        assert_eq!(g.used_kib, 500);
        assert_eq!(g.used_pct(), 50.0);
        // %commit = 900 / (1000 + 500) * 100 = 60
        assert_eq!(g.commit_pct(), Some(60.0));
        assert_eq!(g.swap_used_kib(), 100);
        assert_eq!(g.swap_used_pct(), 20.0);
        assert_eq!(g.available_kib, Some(600));
    }

    #[test]
    fn used_is_not_below_zero() {
        // Cached counts shmem too, so Free + Buffers + Cached + Slab can exceed Total.
        let m = meminfo::parse(b"MemTotal: 100 kB\nMemFree: 50 kB\nCached: 80 kB\n").unwrap();
        assert_eq!(MemoryGauges::from_meminfo(&m).unwrap().used_kib, 0);
    }

    #[test]
    fn paging_per_second() {
        let a = vmstat::parse(b"pgpgin 100\npgpgout 200\npgfault 1000\npgmajfault 10\npswpin 0\npswpout 0\noom_kill 1\n").unwrap();
        let b = vmstat::parse(b"pgpgin 300\npgpgout 200\npgfault 3000\npgmajfault 14\npswpin 8\npswpout 0\noom_kill 2\n").unwrap();
        let r = paging_rates(&a, &b, 2.0);
        assert_eq!(r.pgpgin_kib_per_s, Some(100.0)); // (300 - 100) / 2
        assert_eq!(r.pgfault_per_s, Some(1000.0)); // 2000 / 2
        assert_eq!(r.pgmajfault_per_s, Some(2.0));
        assert_eq!(r.pswpin_per_s, Some(4.0));
        assert_eq!(r.oom_kills, Some(1));
    }
}
