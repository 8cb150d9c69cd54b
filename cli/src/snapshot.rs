//! `perfan snapshot`: one parsed sample.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use perfcore::reader::{LiveReader, ReaderConfig};
use perfcore::{RawSample, Snapshot};

/// Arguments of `perfan snapshot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where procfs is mounted (a container reads the host's at /host/proc).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/proc",
        env = "PERFAN_PROC_ROOT"
    )]
    proc_root: PathBuf,
    /// Where the host's root filesystem is, for filesystem usage.
    #[arg(long, value_name = "DIR", default_value = "/", env = "PERFAN_ROOTFS")]
    rootfs: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// One JSON object, a key per source (kernel units and names).
    Json,
    /// A human-readable summary.
    Table,
}

/// Names the file actually read when procfs is elsewhere (`--proc-root
/// /host/proc`): `/host/proc/vmstat (/proc/vmstat): line 13: ...`.
fn read_under(proc_root: &std::path::Path, e: perfcore::Error) -> anyhow::Error {
    if let perfcore::Error::Parse { file, .. } = &e
        && proc_root != std::path::Path::new("/proc")
        && let Some(rel) = file.strip_prefix("/proc/")
    {
        return anyhow::anyhow!("{}: {e}", proc_root.join(rel).display());
    }
    e.into()
}

pub fn run(args: Args) -> Result<()> {
    let config = ReaderConfig::with_proc_root(&args.proc_root).rootfs(&args.rootfs);
    let mut reader = LiveReader::open(config)?;
    let mut raw = RawSample::default();
    reader.read(&mut raw)?;
    let snap = raw.parse().map_err(|e| read_under(&args.proc_root, e))?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &snap).context("writing JSON")?;
            writeln!(out)?;
        }
        Format::Table => out.write_all(table(&snap).as_bytes())?,
    }
    Ok(())
}

fn table(s: &Snapshot<'_>) -> String {
    let mut o = String::new();
    if let Some(st) = &s.stat {
        let _ = writeln!(
            o,
            "CPU time since boot (jiffies)\n  {:<6}{:>12}{:>10}{:>12}{:>14}{:>10}{:>8}{:>10}{:>8}",
            "cpu", "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"
        );
        let mut line = |name: &str, t: &perfcore::parse::stat::CpuTimes| {
            let _ = writeln!(
                o,
                "  {:<6}{:>12}{:>10}{:>12}{:>14}{:>10}{:>8}{:>10}{:>8}",
                name,
                t.user,
                t.nice,
                t.system,
                t.idle,
                t.iowait.unwrap_or(0),
                t.irq.unwrap_or(0),
                t.softirq.unwrap_or(0),
                t.steal.unwrap_or(0)
            );
        };
        if let Some(t) = &st.cpu_total {
            line("all", t);
        }
        for c in &st.cpus {
            line(&c.id.to_string(), &c.times);
        }
        let _ = writeln!(
            o,
            "  context switches {}  interrupts {}  forks {}  running {}  blocked {}",
            opt(st.ctxt),
            opt(st.intr_total),
            opt(st.processes),
            opt(st.procs_running),
            opt(st.procs_blocked)
        );
    }
    if let Some(l) = &s.loadavg {
        let _ = writeln!(
            o,
            "\nLoad average  {:.2} {:.2} {:.2}  ({} runnable of {} tasks)",
            l.load1,
            l.load5,
            l.load15,
            opt(l.runnable),
            opt(l.total_tasks)
        );
    }
    if let Some(m) = &s.meminfo {
        let _ = writeln!(o, "\nMemory (KiB)");
        for (k, v) in [
            ("MemTotal", m.mem_total_kib()),
            ("MemFree", m.mem_free_kib()),
            ("MemAvailable", m.mem_available_kib()),
            ("Buffers", m.buffers_kib()),
            ("Cached", m.cached_kib()),
            ("Slab", m.slab_kib()),
            ("SwapTotal", m.swap_total_kib()),
            ("SwapFree", m.swap_free_kib()),
        ] {
            if let Some(v) = v {
                let _ = writeln!(o, "  {k:<14}{v:>14}");
            }
        }
    }
    if let Some(d) = &s.diskstats {
        let _ = writeln!(
            o,
            "\nBlock devices (counters since boot)\n  {:<12}{:>12}{:>12}{:>16}{:>16}{:>12}",
            "device", "reads", "writes", "sectors read", "sectors written", "io ms"
        );
        for d in d
            .iter()
            .filter(|d| d.reads_completed + d.writes_completed > 0)
        {
            let _ = writeln!(
                o,
                "  {:<12}{:>12}{:>12}{:>16}{:>16}{:>12}",
                d.name,
                d.reads_completed,
                d.writes_completed,
                d.sectors_read,
                d.sectors_written,
                d.io_time_ms
            );
        }
    }
    if let Some(n) = &s.net_dev {
        let _ = writeln!(
            o,
            "\nNetwork interfaces (counters since boot)\n  {:<16}{:>16}{:>12}{:>16}{:>12}{:>8}{:>8}",
            "iface", "rx bytes", "rx packets", "tx bytes", "tx packets", "errs", "drops"
        );
        for n in n {
            let _ = writeln!(
                o,
                "  {:<16}{:>16}{:>12}{:>16}{:>12}{:>8}{:>8}",
                n.name,
                n.rx_bytes,
                n.rx_packets,
                n.tx_bytes,
                n.tx_packets,
                n.rx_errs + n.tx_errs,
                n.rx_drop + n.tx_drop
            );
        }
    }
    if let Some(p) = &s.pressure {
        let _ = writeln!(o, "\nPressure stall (avg10 %)");
        for res in perfcore::parse::pressure::Resource::ALL {
            if let Some(r) = p.get(res) {
                let _ = writeln!(
                    o,
                    "  {:<8} some {:>6}  full {:>6}",
                    res.name(),
                    r.some
                        .as_ref()
                        .map(|l| format!("{:.2}", l.avg10))
                        .unwrap_or_else(|| "-".into()),
                    r.full
                        .as_ref()
                        .map(|l| format!("{:.2}", l.avg10))
                        .unwrap_or_else(|| "-".into())
                );
            }
        }
    }
    if let Some(fs) = &s.statfs {
        let _ = writeln!(
            o,
            "\nFilesystems\n  {:<28}{:>14}{:>14}{:>6}",
            "mount", "size MiB", "avail MiB", "use%"
        );
        for f in fs {
            let _ = writeln!(
                o,
                "  {:<28}{:>14}{:>14}{:>5}%",
                f.mount_point,
                f.size_bytes() / (1 << 20),
                f.available_bytes() / (1 << 20),
                f.use_pct_rounded()
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into())
            );
        }
    }
    if let Some(c) = &s.cpuinfo {
        let _ = writeln!(
            o,
            "\nCPU model  {} ({} logical CPUs)",
            c.model_name().unwrap_or("unknown"),
            c.len()
        );
    }
    o
}

fn opt(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}
