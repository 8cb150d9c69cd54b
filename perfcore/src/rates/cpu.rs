//! CPU utilisation between two `/proc/stat` readings, as sysstat computes it.

use serde::Serialize;

use crate::parse::stat::CpuTimes;

/// Percent of CPU time per mode over one interval (each 0 to 100, summing to 100).
///
/// `user_pct` excludes guest time and `nice_pct` excludes guest-nice time, which
/// the kernel also counts in user and nice (sysstat's `%usr` and `%nice`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CpuRates {
    /// `%usr`: user mode, guest time excluded.
    pub user_pct: f64,
    /// `%nice`: niced user mode, guest-nice time excluded.
    pub nice_pct: f64,
    /// `%sys`: kernel mode.
    pub system_pct: f64,
    /// `%iowait`: idle with I/O outstanding.
    pub iowait_pct: f64,
    /// `%irq`: hardware interrupts.
    pub irq_pct: f64,
    /// `%soft`: softirqs.
    pub softirq_pct: f64,
    /// `%steal`: time the hypervisor gave to others.
    pub steal_pct: f64,
    /// `%guest`: running a guest's virtual CPU.
    pub guest_pct: f64,
    /// `%gnice`: running a niced guest.
    pub guest_nice_pct: f64,
    /// `%idle`.
    pub idle_pct: f64,
    /// Jiffies the percentages are of (sum of the floored deltas); 0 for a tickless idle CPU.
    pub total_jiffies: u64,
}

impl CpuRates {
    /// The rates of a CPU that accounted no time at all: 100% idle.
    pub fn idle() -> Self {
        CpuRates {
            user_pct: 0.0,
            nice_pct: 0.0,
            system_pct: 0.0,
            iowait_pct: 0.0,
            irq_pct: 0.0,
            softirq_pct: 0.0,
            steal_pct: 0.0,
            guest_pct: 0.0,
            guest_nice_pct: 0.0,
            idle_pct: 100.0,
            total_jiffies: 0,
        }
    }

    /// Time not idle, not waiting for I/O and not stolen: what this machine's work used.
    pub fn busy_pct(&self) -> f64 {
        (100.0 - self.idle_pct - self.iowait_pct - self.steal_pct).max(0.0)
    }
}

/// Sum of the raw fields, guest excluded (it is already inside user and nice).
fn raw_sum(t: &CpuTimes) -> u128 {
    let a = t.to_array();
    a[..8].iter().map(|&v| v as u128).sum()
}

/// Utilisation of one CPU (or the total) between two readings.
///
/// `user' = user − guest` and `nice' = nice − guest_nice`; each field's delta is
/// floored at 0 (idle and iowait go backwards on tickless kernels); the total is
/// the sum of the floored deltas of the ten fields. A CPU whose counters went
/// backwards as a whole was taken offline and back (its counters restarted):
/// `None`, no rates for this interval, as sysstat does. A total of 0 is a
/// tickless idle CPU: 100% idle.
pub fn cpu_rates(prev: &CpuTimes, cur: &CpuTimes) -> Option<CpuRates> {
    if raw_sum(cur) < raw_sum(prev) {
        return None;
    }
    let p = prev.to_array();
    let c = cur.to_array();
    let user = |a: &[u64; 10]| a[0] as i128 - a[8] as i128;
    let nice = |a: &[u64; 10]| a[1] as i128 - a[9] as i128;
    let floor = |d: i128| d.max(0) as u64;
    let d_user = floor(user(&c) - user(&p));
    let d_nice = floor(nice(&c) - nice(&p));
    let d = |i: usize| c[i].saturating_sub(p[i]);
    let (d_system, d_idle, d_iowait, d_irq, d_softirq, d_steal, d_guest, d_gnice) =
        (d(2), d(3), d(4), d(5), d(6), d(7), d(8), d(9));
    let total = d_user
        + d_nice
        + d_system
        + d_idle
        + d_iowait
        + d_irq
        + d_softirq
        + d_steal
        + d_guest
        + d_gnice;
    if total == 0 {
        return Some(CpuRates::idle());
    }
    let pct = |v: u64| v as f64 / total as f64 * 100.0;
    Some(CpuRates {
        user_pct: pct(d_user),
        nice_pct: pct(d_nice),
        system_pct: pct(d_system),
        iowait_pct: pct(d_iowait),
        irq_pct: pct(d_irq),
        softirq_pct: pct(d_softirq),
        steal_pct: pct(d_steal),
        guest_pct: pct(d_guest),
        guest_nice_pct: pct(d_gnice),
        idle_pct: pct(d_idle),
        total_jiffies: total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: [u64; 10]) -> CpuTimes {
        CpuTimes::from_values(&v).unwrap()
    }

    #[test]
    fn plain_interval() {
        // Δ = user 30, nice 0, system 10, idle 50, iowait 5, irq 1, softirq 4 -> total 100.
        let prev = t([100, 0, 50, 1000, 10, 0, 0, 0, 0, 0]);
        let cur = t([130, 0, 60, 1050, 15, 1, 4, 0, 0, 0]);
        let r = cpu_rates(&prev, &cur).unwrap();
        assert_eq!(r.total_jiffies, 100);
        assert_eq!(r.user_pct, 30.0);
        assert_eq!(r.system_pct, 10.0);
        assert_eq!(r.idle_pct, 50.0);
        assert_eq!(r.iowait_pct, 5.0);
        assert_eq!(r.irq_pct, 1.0);
        assert_eq!(r.softirq_pct, 4.0);
        assert_eq!(r.busy_pct(), 45.0);
    }

    #[test]
    fn guest_is_taken_out_of_user_and_nice() {
        // user 100->180 (Δ80) with guest 0->20 (Δ20): user' Δ = 60.
        // nice 10->20 (Δ10) with guest_nice 0->5: nice' Δ = 5.
        // system Δ10, idle Δ5, others 0; total = 60 + 5 + 10 + 5 + guest 20 + gnice 5 = 105.
        let prev = t([100, 10, 0, 0, 0, 0, 0, 0, 0, 0]);
        let cur = t([180, 20, 10, 5, 0, 0, 0, 0, 20, 5]);
        let r = cpu_rates(&prev, &cur).unwrap();
        assert_eq!(r.total_jiffies, 105);
        assert_eq!(r.user_pct, 60.0 / 105.0 * 100.0);
        assert_eq!(r.nice_pct, 5.0 / 105.0 * 100.0);
        assert_eq!(r.guest_pct, 20.0 / 105.0 * 100.0);
        assert_eq!(r.guest_nice_pct, 5.0 / 105.0 * 100.0);
        let sum =
            r.user_pct + r.nice_pct + r.system_pct + r.idle_pct + r.guest_pct + r.guest_nice_pct;
        assert!((sum - 100.0).abs() < 1e-9);
    }

    #[test]
    fn iowait_going_backwards_is_floored_at_zero() {
        // Tickless kernels move time from iowait to idle: iowait 50 -> 45 (Δ -5 -> 0),
        // idle 1000 -> 1100 (Δ100), user Δ100. Raw sum still grows. total = 200.
        let prev = t([0, 0, 0, 1000, 50, 0, 0, 0, 0, 0]);
        let cur = t([100, 0, 0, 1100, 45, 0, 0, 0, 0, 0]);
        let r = cpu_rates(&prev, &cur).unwrap();
        assert_eq!(r.total_jiffies, 200);
        assert_eq!(r.iowait_pct, 0.0);
        assert_eq!(r.user_pct, 50.0);
        assert_eq!(r.idle_pct, 50.0);
    }

    #[test]
    fn tickless_idle_cpu_with_no_ticks_is_idle() {
        let same = t([5, 0, 5, 100, 0, 0, 0, 0, 0, 0]);
        let r = cpu_rates(&same, &same).unwrap();
        assert_eq!(r.idle_pct, 100.0);
        assert_eq!(r.total_jiffies, 0);
    }

    #[test]
    fn cpu_whose_counters_went_backwards_has_no_rates() {
        // Offlined and back online: all counters restart near 0 (sum 110 < 1160).
        let prev = t([100, 0, 50, 1000, 10, 0, 0, 0, 0, 0]);
        let cur = t([10, 0, 0, 100, 0, 0, 0, 0, 0, 0]);
        assert_eq!(cpu_rates(&prev, &cur), None);
    }

    #[test]
    fn old_kernel_with_four_columns() {
        let prev = CpuTimes::from_values(&[10, 0, 10, 80]).unwrap();
        let cur = CpuTimes::from_values(&[20, 0, 20, 160]).unwrap();
        let r = cpu_rates(&prev, &cur).unwrap();
        // Δ user 10, system 10, idle 80 -> total 100.
        assert_eq!((r.user_pct, r.system_pct, r.idle_pct), (10.0, 10.0, 80.0));
    }
}
