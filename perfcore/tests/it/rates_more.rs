//! More delta math at the `Interval` level, on samples built from /proc text:
//! the `sar -w` / `-I SUM` counters, interfaces that come and go, per-CPU
//! counters that go backwards and a hot-plugged CPU. Every expected number is
//! worked out by hand from the text (DESIGN.md 2.2).

use perfcore::{Interval, RawSample, Source};

const LIVE: &str = "live/debian12-kernel6.18-2cpu";

fn live_text(n: u32, rel: &str) -> String {
    std::fs::read_to_string(crate::fixtures().join(format!("{LIVE}/sample{n}/proc/{rel}"))).unwrap()
}

/// A sample at `ts_ms` (wall clock only, as replayed from a capture) with these sources.
fn sample(ts_ms: i64, parts: &[(Source, &str)]) -> RawSample {
    let mut s = RawSample::new(ts_ms);
    for (src, text) in parts {
        s.set(*src, text.as_bytes());
    }
    s
}

fn interval(a: &RawSample, b: &RawSample) -> Interval {
    Interval::between(&a.parse().unwrap(), &b.parse().unwrap()).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

/// The two live samples 0 and 1 are 3.05 s apart (uptime 1347.15 -> 1350.20).
const T0: i64 = 1_795_311_724_150;
const T1: i64 = T0 + 3_050;

fn stat_lines(n: u32, replace: &[(&str, &str)], extra: &str) -> String {
    let mut out = String::new();
    for l in live_text(n, "stat").lines() {
        let key = l.split_whitespace().next().unwrap_or("");
        match replace.iter().find(|(k, _)| *k == key) {
            Some((_, new)) => out.push_str(new),
            None => out.push_str(l),
        }
        out.push('\n');
    }
    out.push_str(extra);
    out
}

#[test]
fn system_rates_of_the_live_fixture() {
    let a = sample(T0, &[(Source::Stat, &live_text(0, "stat"))]);
    let b = sample(T1, &[(Source::Stat, &live_text(1, "stat"))]);
    let iv = interval(&a, &b);
    assert!(close(iv.elapsed_s, 3.05));
    let s = iv.system.unwrap();
    // ctxt 4021428 -> 4025023: Δ3595 / 3.05 s = 1178.69 cswch/s.
    assert!(close(s.context_switches_per_s.unwrap(), 3595.0 / 3.05));
    // intr 1937568 -> 1940628 (first value, the total): Δ3060 / 3.05 = 1003.28 intr/s.
    assert!(close(s.interrupts_per_s.unwrap(), 3060.0 / 3.05));
    // processes 63535 -> 63554: Δ19 / 3.05 = 6.23 proc/s.
    assert!(close(s.forks_per_s.unwrap(), 19.0 / 3.05));
    // softirq 772547 -> 777599 (first value, the total): Δ5052 / 3.05 = 1656.39 /s.
    assert!(close(s.softirqs_per_s.unwrap(), 5052.0 / 3.05));
    // Task gauges come from the later sample: procs_running 3, procs_blocked 0.
    assert_eq!((iv.procs_running, iv.procs_blocked), (Some(3), Some(0)));
    assert!(iv.resets.is_empty());
}

#[test]
fn system_rates_round_numbers_missing_and_decreasing_counters() {
    let a = sample(
        10_000,
        &[(
            Source::Stat,
            "cpu 1 0 1 10 0 0 0 0 0 0\nintr 500 400 100\nctxt 1000\nprocesses 100\nsoftirq 300 0 300\n",
        )],
    );
    let b = sample(
        12_000,
        &[(
            Source::Stat,
            "cpu 2 0 2 20 0 0 0 0 0 0\nintr 1500 1200 300\nctxt 5000\nprocesses 110\nsoftirq 900 0 900\n",
        )],
    );
    let s = interval(&a, &b).system.unwrap();
    // Over 2 s: ctxt Δ4000 -> 2000/s; intr Δ1000 -> 500/s; processes Δ10 -> 5/s;
    // softirq Δ600 -> 300/s.
    assert_eq!(s.context_switches_per_s, Some(2000.0));
    assert_eq!(s.interrupts_per_s, Some(500.0));
    assert_eq!(s.forks_per_s, Some(5.0));
    assert_eq!(s.softirqs_per_s, Some(300.0));

    // An older kernel without the softirq line, and a ctxt that went down (a
    // 64-bit counter cannot wrap: a reset): no rate for those two, never a
    // negative or huge one; the others are unaffected.
    let c = sample(
        12_000,
        &[(
            Source::Stat,
            "cpu 2 0 2 20 0 0 0 0 0 0\nintr 1500 1200 300\nctxt 10\nprocesses 110\n",
        )],
    );
    let s = interval(&a, &c).system.unwrap();
    assert_eq!(s.context_switches_per_s, None);
    assert_eq!(s.softirqs_per_s, None);
    assert_eq!(s.interrupts_per_s, Some(500.0));
    assert_eq!(s.forks_per_s, Some(5.0));
}

#[test]
fn interfaces_that_appear_or_vanish_have_no_rates_and_others_are_unaffected() {
    let a = sample(T0, &[(Source::NetDev, &live_text(0, "net/dev"))]);
    let b_plain = sample(T1, &[(Source::NetDev, &live_text(1, "net/dev"))]);
    // Later sample: ifb1 vanished and eth1 appeared (inserted before eth0).
    let changed: String = live_text(1, "net/dev")
        .lines()
        .filter(|l| !l.trim_start().starts_with("ifb1:"))
        .flat_map(|l| {
            let mut v = Vec::new();
            if l.trim_start().starts_with("eth0:") {
                v.push("  eth1: 5000000 5000 0 0 0 0 0 0 6000000 6000 0 0 0 0 0 0".to_owned());
            }
            v.push(l.to_owned());
            v
        })
        .map(|l| l + "\n")
        .collect();
    let b = sample(T1, &[(Source::NetDev, &changed)]);
    let iv = interval(&a, &b);
    let names: Vec<&str> = iv.nets.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["lo", "ifb0", "eth0"]);
    // Neither is a reset: one was not there before, the other is not there now.
    assert!(iv.resets.is_empty());

    // lo: rx bytes 4971306654 -> 5080417772: Δ109111118 / 3.05 s = 35,774,137.0 B/s;
    // packets 118806 -> 121215: Δ2409 / 3.05 = 789.8/s; tx the same (loopback).
    let lo = &iv.nets[0];
    assert!(close(lo.rx_bytes_per_s, 109_111_118.0 / 3.05));
    assert!(close(lo.tx_bytes_per_s, 109_111_118.0 / 3.05));
    assert!(close(lo.rx_packets_per_s, 2409.0 / 3.05));
    assert!(close(lo.tx_packets_per_s, 2409.0 / 3.05));
    assert!(!lo.counts_toward_totals);
    // eth0 and ifb0 did not move: 0, present.
    assert_eq!(iv.nets[2].rx_bytes_per_s, 0.0);
    assert_eq!(iv.nets[1].tx_packets_per_s, 0.0);
    // Exactly what the interval without the change gives for them.
    let plain = interval(&a, &b_plain);
    for n in &iv.nets {
        assert_eq!(Some(n), plain.nets.iter().find(|p| p.name == n.name));
    }
    assert!(plain.nets.iter().any(|n| n.name == "ifb1"));
}

#[test]
fn a_cpu_whose_counters_restarted_has_no_row_and_the_total_is_right() {
    let a = sample(T0, &[(Source::Stat, &live_text(0, "stat"))]);
    // cpu1 went offline and back, its counters restarting near 0:
    // raw sum 10 + 5 + 20 = 35 < 77259 + 16337 + 36961 + 1069 + 596 + 1894 = 134116.
    let text = stat_lines(1, &[("cpu1", "cpu1 10 0 5 20 0 0 0 0 0 0")], "");
    let b = sample(T1, &[(Source::Stat, &text)]);
    let iv = interval(&a, &b);
    assert_eq!(iv.cpus.iter().map(|c| c.0).collect::<Vec<_>>(), [0]);
    assert_eq!(iv.resets, ["cpu:1"]);
    // cpu0 71574 0 14344 45555 662 0 98 1964 -> 71774 0 14414 45585 664 0 101 1965:
    // Δ user 200, system 70, idle 30, iowait 2, softirq 3, steal 1 -> total 306.
    let c0 = iv.cpus[0].1;
    assert_eq!(c0.total_jiffies, 306);
    assert!(close(c0.user_pct, 200.0 / 306.0 * 100.0));
    assert!(close(c0.system_pct, 70.0 / 306.0 * 100.0));
    assert!(close(c0.idle_pct, 30.0 / 306.0 * 100.0));
    assert!(close(c0.steal_pct, 1.0 / 306.0 * 100.0));
    // The aggregate `cpu` line: 148834 0 30682 82516 1732 0 694 3858 ->
    // 149226 0 30768 82632 1736 0 701 3861: Δ 392 + 86 + 116 + 4 + 7 + 3 = 608.
    let t = iv.cpu_total.unwrap();
    assert_eq!(t.total_jiffies, 608);
    assert!(close(t.user_pct, 392.0 / 608.0 * 100.0));
    assert!(close(t.idle_pct, 116.0 / 608.0 * 100.0));
    // The system counters do not depend on the CPU lines.
    assert!(close(
        iv.system.unwrap().context_switches_per_s.unwrap(),
        3595.0 / 3.05
    ));
}

#[test]
fn a_per_cpu_idle_counter_going_backwards_is_floored_not_a_reset() {
    let a = sample(T0, &[(Source::Stat, &live_text(0, "stat"))]);
    // Tickless idle accounting moved cpu1's idle back by 11 jiffies while the rest grew:
    // cpu1 77259 0 16337 36961 1069 0 596 1894 -> 77452 0 16354 36950 1071 0 599 1896.
    // Raw sum 134116 -> 134322 still grows, so no reset. Δ user 193, system 17,
    // idle -11 floored to 0, iowait 2, softirq 3, steal 2 -> total 217.
    let text = stat_lines(
        1,
        &[("cpu1", "cpu1 77452 0 16354 36950 1071 0 599 1896 0 0")],
        "",
    );
    let b = sample(T1, &[(Source::Stat, &text)]);
    let iv = interval(&a, &b);
    assert!(iv.resets.is_empty());
    let (id, c1) = iv.cpus[1];
    assert_eq!(id, 1);
    assert_eq!(c1.total_jiffies, 217);
    assert_eq!(c1.idle_pct, 0.0);
    assert!(close(c1.user_pct, 193.0 / 217.0 * 100.0));
    assert!(close(c1.system_pct, 17.0 / 217.0 * 100.0));
    assert!(close(c1.iowait_pct, 2.0 / 217.0 * 100.0));
    assert!(close(c1.softirq_pct, 3.0 / 217.0 * 100.0));
    assert!(close(c1.steal_pct, 2.0 / 217.0 * 100.0));
    let sum = c1.user_pct + c1.system_pct + c1.iowait_pct + c1.softirq_pct + c1.steal_pct;
    assert!(close(sum, 100.0));
}

#[test]
fn a_hot_plugged_cpu_has_no_row_and_the_others_are_unaffected() {
    let a = sample(T0, &[(Source::Stat, &live_text(0, "stat"))]);
    // cpu2 came online between the samples: in the later sample only.
    let text = stat_lines(1, &[], "cpu2 5 0 3 40 0 0 0 0 0 0\n");
    let b = sample(T1, &[(Source::Stat, &text)]);
    let iv = interval(&a, &b);
    assert_eq!(iv.cpus.iter().map(|c| c.0).collect::<Vec<_>>(), [0, 1]);
    assert!(iv.resets.is_empty());
    // cpu0: total 306 as above; cpu1 77259 0 16337 36961 1069 0 596 1894 ->
    // 77452 0 16354 37046 1071 0 599 1896: Δ 193 + 17 + 85 + 2 + 3 + 2 = 302.
    assert_eq!(iv.cpus[0].1.total_jiffies, 306);
    let c1 = iv.cpus[1].1;
    assert_eq!(c1.total_jiffies, 302);
    assert!(close(c1.idle_pct, 85.0 / 302.0 * 100.0));
    assert_eq!(iv.cpu_total.unwrap().total_jiffies, 608);
}
