//! `perfan record`: the agent. Samples this machine every interval into a
//! capture or CSV file, or ships it to a server through an on-disk spool.

use std::collections::HashMap;
use std::io::{IsTerminal, Write as _};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use perfcore::capture::Sources;
use perfcore::reader::ReaderConfig;
use perfcore::record::{
    CaptureFileSink, Control, CsvFileSink, Event, LiveSource, PortalFileSink, RecordOptions,
    RecordSink, Recorder, SystemClock, Tee,
};
use perfcore::spool::{ShipFormat, ShipSink, Spool, SpoolConfig, SpoolEvent};

use crate::config::{self, Flags, OutputFormat, Protocol, RecordSettings};
use crate::ship::HttpTransport;

/// Arguments of `perfan record`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Settings come from flags, then the environment (PERFAN_INTERVAL, \
PERFAN_DURATION, PERFAN_OUTPUT, PERFAN_FORMAT, PERFAN_MACHINE, PERFAN_SERVER, PERFAN_API_KEY, \
PERFAN_SPOOL_DIR, PERFAN_SPOOL_MAX, ..., and the older collector's PCC_MODE, PCC_FREQUENCY, \
PCC_DURATION, PCC_COLLECTION, PCC_IDENTIFIER, PCC_SERVER_URL, PCC_APIKEY), then the --config \
file. SIGINT/SIGTERM finish the current sample, flush and exit 0; SIGHUP reopens the output \
file (log rotation)."
)]
pub struct Args {
    /// Time between samples: 100ms to 24h (`10s`, `1m`, `1h30m`, or seconds).
    #[arg(long, short, value_name = "DURATION")]
    interval: Option<String>,
    /// Stop after this long (default: until stopped).
    #[arg(long, short, value_name = "DURATION")]
    duration: Option<String>,
    /// Write samples to this file as they are taken (appended to if it exists).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Format of --output: `pcc` (the older collector's capture), `csv` (our
    /// schema, with FILE.devices.csv beside it) or `portal`. Default: from the
    /// file name (.csv is csv, anything else pcc).
    #[arg(long, short, value_name = "FORMAT")]
    format: Option<String>,
    /// The local store (SQLite path or postgres:// URL) — the default
    /// destination (default: $PERFAN_DB, else
    /// ~/.local/share/perfanalysis/perfanalysis.db).
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// Tenant in the store (default: `default`).
    #[arg(long, value_name = "NAME")]
    tenant: Option<String>,
    /// Commit to the store every this long (one transaction each; default on
    /// SQLite every 60 intervals, at most 60s, its uncommitted rows journaled
    /// beside the file so a kill -9 loses none; 10s on PostgreSQL, where a kill -9
    /// loses at most the uncommitted part).
    #[arg(long, value_name = "DURATION")]
    commit_every: Option<String>,
    /// Machine id (default: /etc/machine-id, else the host name).
    #[arg(long, short, value_name = "ID")]
    machine: Option<String>,
    /// Ship batches to this server (e.g. https://perf.example.com).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// API key for --server.
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
    /// `upload` (gzipped capture batches) or `trickle` (the older collector's
    /// per-tick protocol).
    #[arg(long, value_name = "PROTOCOL")]
    protocol: Option<String>,
    /// Where batches wait for the server (default: $STATE_DIRECTORY/spool,
    /// /var/lib/perfan/spool as root, else ~/.local/state/perfan/spool).
    #[arg(long, value_name = "DIR")]
    spool_dir: Option<PathBuf>,
    /// Bound on the spool (oldest batches dropped past it): e.g. 100MiB.
    #[arg(long, value_name = "SIZE")]
    spool_max: Option<String>,
    /// Time covered by one upload batch (default 60s).
    #[arg(long, value_name = "DURATION")]
    batch: Option<String>,
    /// Timeout of one request to the server (default 10s).
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Longest wait between two tries while the server is away (default 5m;
    /// waits grow from 1s, doubling, with full jitter).
    #[arg(long, value_name = "DURATION")]
    retry_max: Option<String>,
    /// Where procfs is mounted (a container reads the host's at /host/proc).
    #[arg(long, value_name = "DIR")]
    proc_root: Option<PathBuf>,
    /// Where the host's root filesystem is (for filesystem usage and machine-id).
    #[arg(long, value_name = "DIR")]
    rootfs: Option<PathBuf>,
    /// Also record the containers (docker, podman, containerd, CRI-O) found in
    /// the cgroup v2 tree: CPU, throttling, memory, block I/O and tasks each.
    #[arg(long)]
    containers: bool,
    /// The cgroup v2 root for --containers (default: <rootfs>/sys/fs/cgroup).
    #[arg(long, value_name = "DIR")]
    cgroup_root: Option<PathBuf>,
    /// Config file (TOML; keys as the long flags: interval, output, server, ...).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// No status line on a terminal.
    #[arg(long, short)]
    quiet: bool,
}

impl Args {
    fn flags(&self) -> Flags {
        Flags {
            config: self.config.clone(),
            interval: self.interval.clone(),
            duration: self.duration.clone(),
            output: self.output.clone(),
            format: self.format.clone(),
            db: self.db.clone(),
            tenant: self.tenant.clone(),
            commit_every: self.commit_every.clone(),
            machine: self.machine.clone(),
            server: self.server.clone(),
            api_key: self.api_key.clone(),
            protocol: self.protocol.clone(),
            spool_dir: self.spool_dir.clone(),
            spool_max: self.spool_max.clone(),
            batch: self.batch.clone(),
            timeout: self.timeout.clone(),
            retry_max: self.retry_max.clone(),
            proc_root: self.proc_root.clone(),
            rootfs: self.rootfs.clone(),
            quiet: self.quiet,
            containers: self.containers,
            cgroup_root: self.cgroup_root.clone(),
        }
    }
}

/// Warnings, at most one a minute per kind (a day-and-night agent must not
/// flood its log), with the count of those held back.
#[derive(Default)]
pub struct Warn {
    last: HashMap<&'static str, (Instant, u64)>,
    pub tty: bool,
}

impl Warn {
    pub fn warn(&mut self, kind: &'static str, msg: &str) {
        let now = Instant::now();
        let entry = self.last.entry(kind).or_insert((now, u64::MAX));
        if entry.1 != u64::MAX && now.duration_since(entry.0) < Duration::from_secs(60) {
            entry.1 += 1;
            return;
        }
        let held = if entry.1 == u64::MAX { 0 } else { entry.1 };
        *entry = (now, 0);
        let clear = if self.tty { "\r\x1b[2K" } else { "" };
        if held > 0 {
            eprintln!("{clear}perfan: warning: {msg} ({held} more like it since the last one)");
        } else {
            eprintln!("{clear}perfan: warning: {msg}");
        }
    }
}

fn spool_message(e: &SpoolEvent) -> Option<(&'static str, String)> {
    Some(match e {
        SpoolEvent::Failing { reason, queued } => (
            "ship-failing",
            format!("server not reachable ({reason}); spooling, {queued} batch(es) waiting"),
        ),
        SpoolEvent::Recovered { failed_attempts } => (
            "ship-recovered",
            format!(
                "server reachable again after {failed_attempts} failed attempt(s); resending in order"
            ),
        ),
        SpoolEvent::Dropped {
            batches,
            samples,
            total_batches,
        } => (
            "spool-dropped",
            format!(
                "spool over its bound: dropped the oldest {batches} batch(es) ({samples} samples); {total_batches} dropped so far"
            ),
        ),
        SpoolEvent::Quarantined { path, reason } => (
            "spool-quarantined",
            format!(
                "server refused a batch for good ({reason}); kept in {}",
                path.display()
            ),
        ),
        SpoolEvent::WriteFailed { error } => (
            "spool-write",
            format!("cannot write the spool ({error}); holding batches in memory"),
        ),
        SpoolEvent::Resuming { batches } => (
            "spool-resume",
            format!("{batches} batch(es) left from an earlier run will be sent first"),
        ),
        SpoolEvent::Left { on_disk, in_memory } => (
            "spool-left",
            if *in_memory > 0 {
                format!(
                    "{on_disk} batch(es) stay in the spool for the next run; {in_memory} held in memory are lost"
                )
            } else {
                format!("{on_disk} batch(es) stay in the spool for the next run")
            },
        ),
        _ => return None,
    })
}

/// `1 sample`, `2 samples`.
fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The sinks for the settings: a file, a server, or both.
fn build_sinks(
    s: &RecordSettings,
    machine_id: &str,
    warn: &Arc<Mutex<Warn>>,
) -> Result<(Tee, Option<Spool>, String)> {
    let mut sinks: Vec<Box<dyn RecordSink + Send>> = Vec::new();
    let mut targets = Vec::new();
    let mut spool_handle = None;
    if let Some((path, format)) = &s.output {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the directory of {}", path.display()))?;
        }
        let sink: Box<dyn RecordSink + Send> = match format {
            OutputFormat::Pcc => Box::new(CaptureFileSink::create(path, Sources::All)?),
            OutputFormat::Csv => Box::new(CsvFileSink::create(path, machine_id)?),
            OutputFormat::Portal => Box::new(PortalFileSink::create(path)?),
        };
        sinks.push(sink);
        targets.push(path.display().to_string());
    }
    if let Some(srv) = &s.server {
        let spool = Spool::open(
            SpoolConfig::new(&srv.spool_dir)
                .max_bytes(srv.spool_max)
                .backoff(Duration::from_secs(1).min(srv.retry_max), srv.retry_max)
                // Trickle sends every tick: a file and two fsyncs per tick would cost more
                // than the sampling, so its batches reach the disk only when they must wait.
                .write_ahead(srv.protocol == Protocol::Upload),
        )
        .with_context(|| format!("opening the spool {}", srv.spool_dir.display()))?;
        let w = Arc::clone(warn);
        spool.on_event(move |e| {
            if let Some((kind, msg)) = spool_message(e)
                && let Ok(mut w) = w.lock()
            {
                w.warn(kind, &msg);
            }
        });
        let transport = HttpTransport::new(
            &srv.url,
            &srv.api_key,
            machine_id,
            srv.protocol,
            srv.timeout,
        );
        let format = match srv.protocol {
            Protocol::Upload => {
                let per = (srv.batch.as_secs_f64() / s.interval.as_secs_f64()).round();
                ShipFormat::Capture {
                    samples: per.clamp(1.0, 100_000.0) as u32,
                }
            }
            Protocol::Trickle => ShipFormat::Trickle {
                identifier: machine_id.to_owned(),
            },
        };
        // At the end the sender gets a few seconds to deliver what is queued.
        let drain = srv.timeout.min(Duration::from_secs(5));
        spool_handle = Some(spool.clone());
        sinks.push(Box::new(ShipSink::new(spool, format, transport, drain)?));
        targets.push(srv.url.clone());
    }
    // The store is the default destination, and an extra one when --db is given.
    if sinks.is_empty() || s.db.is_some() {
        let url = perfstore::resolve_url(s.db.as_deref())?;
        if let Some(path) = url.strip_prefix("sqlite://")
            && let Some(dir) = std::path::Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let sink = crate::store_sink::StoreSink::open(
            &url,
            &s.tenant,
            machine_id,
            config::hostname(&s.proc_root),
            config::kernel_release(&s.proc_root),
            s.interval,
            s.commit_every
                .unwrap_or_else(|| crate::store_sink::default_commit_every(&url, s.interval)),
        )?;
        sinks.push(Box::new(sink));
        targets.push(perfstore::redact_url(&url));
    }
    Ok((Tee(sinks), spool_handle, targets.join(" + ")))
}

/// Registers SIGINT/SIGTERM (stop), SIGHUP (reopen), and a wake-up pipe so a
/// signal ends the sleep at once. A second SIGINT/SIGTERM while stopping exits at once.
pub fn install_signals(control: &Control) -> Result<SystemClock> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let (read, write) = UnixStream::pair().context("creating the signal pipe")?;
    write.set_nonblocking(true).context("signal pipe")?;
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, control.stop_flag())
            .context("installing signal handlers")?;
        signal_hook::flag::register(sig, control.stop_flag())
            .context("installing signal handlers")?;
    }
    signal_hook::flag::register(SIGHUP, control.reopen_flag())
        .context("installing signal handlers")?;
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        let w = write.try_clone().context("signal pipe")?;
        signal_hook::low_level::pipe::register(sig, w).context("installing signal handlers")?;
    }
    Ok(SystemClock::with_wakeup(read))
}

pub fn run(args: Args) -> Result<()> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let settings = config::resolve(&args.flags(), &env)?;
    let machine_id = settings
        .machine
        .clone()
        .unwrap_or_else(|| config::detect_machine_id(&settings.rootfs, &settings.proc_root));
    let tty = std::io::stderr().is_terminal();
    let warn = Arc::new(Mutex::new(Warn {
        tty,
        ..Default::default()
    }));
    let reader_config = ReaderConfig::with_proc_root(&settings.proc_root).rootfs(&settings.rootfs);
    let per_hour = (3600.0 / settings.interval.as_secs_f64()).ceil().max(1.0) as u64;
    let mut source = LiveSource::open(reader_config)
        .with_context(|| format!("reading {}", settings.proc_root.display()))?
        .cpuinfo_every(per_hour);
    if let Some(root) = &settings.containers {
        if !root.join("cgroup.controllers").is_file() {
            bail!(
                "--containers: {} is not a cgroup v2 root (no cgroup.controllers); give --cgroup-root",
                root.display()
            );
        }
        source = source.containers(root, &settings.rootfs);
    }
    let (mut sink, spool, target) = build_sinks(&settings, &machine_id, &warn)?;

    let control = Control::new();
    let clock = install_signals(&control)?;
    let mut opts = RecordOptions::new(settings.interval);
    if let Some(d) = settings.duration {
        opts = opts.duration(d);
    }
    let status = tty && !settings.quiet;
    let w = Arc::clone(&warn);
    let spool_for_status = spool.clone();
    let mut last_status = String::new();
    let status_target = target.clone();
    let mut recorder = Recorder::new(source, clock, opts)
        .control(control.clone())
        .on_event(move |e| {
            let mut w = match w.lock() {
                Ok(w) => w,
                Err(p) => p.into_inner(),
            };
            match e {
                Event::Sampled { stats, interval } => {
                    if !status {
                        return;
                    }
                    let mut line = format!("perfan record: {}", plural(stats.samples, "sample"));
                    if let Some(iv) = interval {
                        if let Some(c) = &iv.cpu_total {
                            line.push_str(&format!(" · CPU {:.1}%", 100.0 - c.idle_pct));
                        }
                        if let Some(m) = &iv.memory {
                            line.push_str(&format!(" · mem {:.1}%", m.used_pct()));
                        }
                    }
                    line.push_str(&format!(" → {status_target}"));
                    if let Some(sp) = &spool_for_status {
                        let st = sp.stats();
                        if st.queued_batches > 0 {
                            line.push_str(&format!(" · {} batch(es) spooled", st.queued_batches));
                        }
                    }
                    if line != last_status {
                        eprint!("\r\x1b[2K{line}");
                        let _ = std::io::stderr().flush();
                        last_status = line;
                    }
                }
                Event::ReadFailed(err) => w.warn("read", &format!("sample skipped: {err}")),
                Event::ParseFailed(err) => w.warn("parse", &format!("part of a sample left out: {err}")),
                Event::SinkFailed(err) => w.warn("sink", &format!("writing failed: {err}")),
                Event::ClockSteppedBack {
                    wall_ms,
                    previous_ms,
                } => w.warn(
                    "clock",
                    &format!(
                        "the wall clock stepped back {} ms; timestamps follow the monotonic clock until it catches up",
                        previous_ms - wall_ms
                    ),
                ),
                Event::ClockRecovered => w.warn("clock-ok", "the wall clock caught up; timestamps follow it again"),
                Event::TicksSkipped(n) => w.warn("late", &format!("late by more than an interval: {n} tick(s) skipped")),
                Event::Reopened(Some(err)) => w.warn("reopen", &format!("reopening the output failed, still writing the old file: {err}")),
                _ => {}
            }
        });
    let result = recorder.run(&mut sink);
    if status {
        eprintln!();
    }
    let stats = result.context("recording")?;
    if tty && !settings.quiet {
        let mut msg = format!(
            "perfan: {}, {} → {target}",
            plural(stats.samples, "sample"),
            plural(stats.intervals, "interval")
        );
        if let Some(sp) = &spool {
            let st = sp.stats();
            msg.push_str(&format!(
                "; {} batch(es) delivered, {} spooled",
                st.sent_batches, st.queued_batches
            ));
        }
        eprintln!("{msg}");
    }
    Ok(())
}
