//! Two samples of this machine one second apart, through perfcore's live
//! reader and delta math: CPU, memory, the busiest disk and interface.
//!
//! ```text
//! cargo run -p perfanalysis-examples --example live_sample [-- PROC_ROOT]
//! ```

use std::time::Duration;

use perfcore::reader::{LiveReader, ReaderConfig};
use perfcore::{Interval, RawSample};

fn main() -> anyhow::Result<()> {
    let root = std::env::args().nth(1).unwrap_or_else(|| "/proc".into());
    // Files stay open; every read is a pread into the same buffers.
    let mut reader = LiveReader::open(ReaderConfig::with_proc_root(&root))?;
    let (mut a, mut b) = (RawSample::default(), RawSample::default());
    reader.read(&mut a)?;
    std::thread::sleep(Duration::from_secs(1));
    reader.read(&mut b)?;
    let iv = Interval::between(&a.parse()?, &b.parse()?)
        .map_err(|why| anyhow::anyhow!("no interval between the two samples: {why:?}"))?;

    println!("interval: {:.3} s", iv.elapsed_s);
    if let Some(c) = &iv.cpu_total {
        println!(
            "cpu: user {:.1}%  system {:.1}%  iowait {:.1}%  steal {:.1}%  idle {:.1}%",
            c.user_pct, c.system_pct, c.iowait_pct, c.steal_pct, c.idle_pct
        );
    }
    if let Some(cs) = iv.system.as_ref().and_then(|s| s.context_switches_per_s) {
        println!("context switches: {cs:.0}/s");
    }
    if let Some(m) = &iv.memory {
        let avail = m
            .available_kib
            .unwrap_or(m.free_kib + m.buffers_kib + m.cached_kib);
        println!(
            "memory: {} MiB total, {} MiB available",
            m.total_kib / 1024,
            avail / 1024
        );
    }
    if let Some(d) = iv
        .whole_disks()
        .max_by(|x, y| x.util_pct.total_cmp(&y.util_pct))
    {
        println!(
            "busiest disk: {} r/s {:.1} w/s {:.1} rkB/s {:.1} wkB/s {:.1} %util {:.1}",
            d.name,
            d.reads_per_s,
            d.writes_per_s,
            d.read_bytes_per_s / 1024.0,
            d.write_bytes_per_s / 1024.0,
            d.util_pct
        );
    }
    if let Some(n) = iv.nets.iter().max_by(|x, y| {
        let t = |n: &perfcore::rates::net::NetRates| n.rx_bytes_per_s + n.tx_bytes_per_s;
        t(x).total_cmp(&t(y))
    }) {
        println!(
            "busiest interface: {} rx {:.1} kB/s tx {:.1} kB/s",
            n.name,
            n.rx_bytes_per_s / 1024.0,
            n.tx_bytes_per_s / 1024.0
        );
    }
    Ok(())
}
