//! Delta math on real samples (the live fixture: a 2-CPU Debian 12 VM on 6.18,
//! three samples about 3 s apart with CPU and disk load), and the break rules.

use perfcore::rates::Break;
use perfcore::reader::{LiveReader, ReaderConfig};
use perfcore::{Interval, RawSample, Source};

fn live(n: u32) -> RawSample {
    let root = crate::fixtures().join(format!("live/debian12-kernel6.18-2cpu/sample{n}/proc"));
    let mut r = LiveReader::open(ReaderConfig::with_proc_root(&root)).unwrap();
    let mut s = RawSample::default();
    r.read(&mut s).unwrap();
    // The samples carry the kernel's uptime: use it as the monotonic clock.
    let up = std::fs::read_to_string(root.join("uptime")).unwrap();
    let secs: f64 = up.split_whitespace().next().unwrap().parse().unwrap();
    s.monotonic_ns = Some((secs * 1e9).round() as u64);
    s.timestamp_ms = 1_795_310_377_000 + (secs * 1000.0).round() as i64;
    s
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn cpu_and_disk_rates_of_the_live_fixture() {
    let (a, b) = (live(0), live(1));
    let iv = Interval::between(&a.parse().unwrap(), &b.parse().unwrap()).unwrap();
    // uptime 1347.15 -> 1350.20: 3.05 s.
    assert!(close(iv.elapsed_s, 3.05));
    // cpu  148834 0 30682 82516 1732 0 694 3858 0 0
    // cpu  149226 0 30768 82632 1736 0 701 3861 0 0
    // Δ user 392, system 86, idle 116, iowait 4, softirq 7, steal 3 -> total 608.
    let c = iv.cpu_total.unwrap();
    assert_eq!(c.total_jiffies, 608);
    assert!(close(c.user_pct, 392.0 / 608.0 * 100.0)); // 64.47%
    assert!(close(c.system_pct, 86.0 / 608.0 * 100.0));
    assert!(close(c.idle_pct, 116.0 / 608.0 * 100.0));
    assert!(close(c.iowait_pct, 4.0 / 608.0 * 100.0));
    assert!(close(c.softirq_pct, 7.0 / 608.0 * 100.0));
    assert!(close(c.steal_pct, 3.0 / 608.0 * 100.0));
    // cpu1 77259 0 16337 36961 1069 0 596 1894 -> 77452 0 16354 37046 1071 0 599 1896:
    // Δ 193 + 17 + 85 + 2 + 3 + 2 = 302.
    let (id, c1) = iv.cpus[1];
    assert_eq!(id, 1);
    assert_eq!(c1.total_jiffies, 302);
    assert!(close(c1.user_pct, 193.0 / 302.0 * 100.0));

    // vda: 261036 20937 11883506 431368 45530 100629 46386728 243206 0 39268 681670 36535 66 21864288 6634 6245 460
    //   -> 261062 20944 11883938 431376 46064 101181 46986176 243680 0 39428 682152 36536 66 21864296 6634 6261 461
    let d = iv.disks.iter().find(|d| d.name == "vda").unwrap();
    assert!(close(d.reads_per_s, 26.0 / 3.05));
    assert!(close(d.writes_per_s, 534.0 / 3.05));
    assert!(close(d.read_bytes_per_s, 432.0 * 512.0 / 3.05)); // 72,518 B/s
    assert!(close(d.write_bytes_per_s, 599_448.0 * 512.0 / 3.05)); // 100.6 MB/s
    assert!(close(d.r_await_ms, 8.0 / 26.0));
    assert!(close(d.w_await_ms, 474.0 / 534.0));
    assert!(close(d.util_pct, 160.0 / 3050.0 * 100.0)); // 5.25%
    assert!(close(d.aqu_sz, 482.0 / 3050.0));
    assert!(close(d.discards_per_s.unwrap(), 1.0 / 3.05));
    assert_eq!(d.d_await_ms, Some(0.0)); // one discard, 0 ms
    assert!(close(d.flushes_per_s.unwrap(), 16.0 / 3.05));
    assert_eq!(d.f_await_ms, Some(1.0 / 16.0));
    // eth0 did not move: 0 B/s, not missing.
    let n = iv.nets.iter().find(|n| n.name == "eth0").unwrap();
    assert_eq!(n.rx_bytes_per_s, 0.0);
    assert!(iv.resets.is_empty());
}

#[test]
fn gauges_come_from_the_later_sample() {
    let (a, b) = (live(1), live(2));
    let (pa, pb) = (a.parse().unwrap(), b.parse().unwrap());
    let iv = Interval::between(&pa, &pb).unwrap();
    let m = pb.meminfo.as_ref().unwrap();
    let g = iv.memory.unwrap();
    assert_eq!(g.total_kib, m.mem_total_kib().unwrap());
    assert_eq!(g.free_kib, m.mem_free_kib().unwrap());
    assert_eq!(iv.load.unwrap().load1, pb.loadavg.unwrap().load1);
    // PSI totals are in µs: the stall share is Δtotal / (Δt × 10^6).
    let cpu = iv
        .pressure(perfcore::parse::pressure::Resource::Cpu)
        .unwrap();
    let t = |s: &perfcore::Snapshot<'_>| {
        s.pressure
            .as_ref()
            .unwrap()
            .cpu
            .as_ref()
            .unwrap()
            .some
            .unwrap()
            .total_us
    };
    let want = (t(&pb) - t(&pa)) as f64 / (iv.elapsed_s * 1e6) * 100.0;
    assert!(close(cpu.some_pct.unwrap(), want));
}

fn with_stat(base: &RawSample, stat: &str) -> RawSample {
    let mut s = base.clone();
    s.set(Source::Stat, stat.as_bytes());
    s
}

#[test]
fn a_changed_boot_time_is_a_reboot() {
    let a = with_stat(&live(0), "cpu 1 0 1 10 0 0 0 0 0 0\nbtime 1795310377\n");
    let mut b = with_stat(&live(1), "cpu 1 0 1 10 0 0 0 0 0 0\nbtime 1795320000\n");
    b.monotonic_ns = None; // a new boot: the monotonic clock restarted too
    let e = Interval::between(&a.parse().unwrap(), &b.parse().unwrap()).unwrap_err();
    assert_eq!(
        e,
        Break::Reboot {
            prev_btime: 1_795_310_377,
            cur_btime: 1_795_320_000
        }
    );
    // A one-second wobble of btime (it is derived from wall clock and uptime) is not a reboot.
    let c = with_stat(&live(1), "cpu 2 0 2 20 0 0 0 0 0 0\nbtime 1795310378\n");
    assert!(Interval::between(&a.parse().unwrap(), &c.parse().unwrap()).is_ok());
}

#[test]
fn time_going_backwards_gives_no_interval() {
    let (a, b) = (live(1), live(0));
    let e = Interval::between(&a.parse().unwrap(), &b.parse().unwrap()).unwrap_err();
    assert_eq!(e, Break::TimeNotIncreasing);
}

#[test]
fn cpus_and_devices_that_appear_or_vanish_have_no_row() {
    let a = live(0);
    // cpu1 went offline and sdz was hot-plugged in the later sample.
    let mut b = with_stat(
        &live(1),
        "cpu  149226 0 30768 82632 1736 0 701 3861 0 0\ncpu0 71774 0 14414 45585 664 0 101 1965 0 0\n",
    );
    let disks = format!(
        "{} 8 0 sdz 5 0 40 1 0 0 0 0 0 1 1\n",
        String::from_utf8_lossy(b.get(Source::Diskstats).unwrap())
    );
    b.set(Source::Diskstats, disks.as_bytes());
    let iv = Interval::between(&a.parse().unwrap(), &b.parse().unwrap()).unwrap();
    assert_eq!(iv.cpus.iter().map(|c| c.0).collect::<Vec<_>>(), vec![0]);
    assert!(iv.disks.iter().any(|d| d.name == "vda"));
    assert!(!iv.disks.iter().any(|d| d.name == "sdz"));
}

#[test]
fn a_reset_device_is_reported_and_has_no_rates() {
    let a = live(0);
    let mut b = live(1);
    // vda re-registered: counters restart near zero.
    let text = String::from_utf8_lossy(b.get(Source::Diskstats).unwrap())
        .lines()
        .map(|l| {
            if l.contains(" vda ") {
                " 254       0 vda 10 0 80 1 0 0 0 0 0 1 1 0 0 0 0 0 0".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    b.set(Source::Diskstats, text.as_bytes());
    let iv = Interval::between(&a.parse().unwrap(), &b.parse().unwrap()).unwrap();
    assert!(!iv.disks.iter().any(|d| d.name == "vda"));
    assert_eq!(iv.resets, vec!["disk:vda".to_owned()]);
}
