//! The sampling loop behind `perfan record` and `perfan watch` (and the Python
//! `Recorder`): read a sample every interval, compute the interval since the
//! previous one, hand both to a [`RecordSink`].
//!
//! ```no_run
//! use std::time::Duration;
//! use perfcore::reader::ReaderConfig;
//! use perfcore::record::{CaptureFileSink, LiveSource, RecordOptions, Recorder, SystemClock};
//!
//! let source = LiveSource::open(ReaderConfig::default())?;
//! let mut sink = CaptureFileSink::create("capture.json", perfcore::capture::Sources::All)?;
//! let opts = RecordOptions::new(Duration::from_secs(1)).duration(Duration::from_secs(10));
//! let mut rec = Recorder::new(source, SystemClock::new(), opts);
//! let stats = rec.run(&mut sink)?;
//! assert_eq!(stats.samples, 11); // at 0 s, 1 s, ..., 10 s
//! # Ok::<(), perfcore::Error>(())
//! ```
//!
//! Ticking: the first sample is taken at start, then one every interval on the
//! monotonic clock (tick `k` is due at `start + k × interval`, so the schedule
//! does not drift). A tick that is late by more than an interval is skipped
//! rather than caught up in a burst. Rates use the monotonic clock; the stored
//! wall-clock timestamps stay strictly increasing even when the wall clock
//! steps back: the timestamp is then the previous one plus the monotonic time
//! elapsed less 1%, until the wall clock is past it again (a step back of
//! one second is absorbed in 100 s).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::capture::{CaptureWriter, Sources};
use crate::csv::ours::{LongWriter, WideWriter};
use crate::csv::portal::{PortalRow, PortalWriter};
use crate::error::{Error, Result};
use crate::metrics::{IntervalRow, device_rows};
use crate::rates::{Break, Interval};
use crate::reader::{LiveReader, ReaderConfig};
use crate::snapshot::{RawSample, Snapshot, SnapshotBuffers, Source};

self_cell::self_cell!(
    /// A sample's text with its parsed view, kept together so the view can
    /// outlive the tick that parsed it (the previous sample of the next interval).
    struct ParsedSample {
        owner: RawSample,
        #[covariant]
        dependent: Snapshot,
    }
);

/// Where samples come from: the live system, or anything that fills a [`RawSample`].
pub trait SampleSource {
    /// Fills `raw` with the text of each source (its clocks are set by the loop).
    fn read(&mut self, raw: &mut RawSample) -> Result<()>;
}

impl SampleSource for LiveReader {
    fn read(&mut self, raw: &mut RawSample) -> Result<()> {
        LiveReader::read(self, raw)
    }
}

/// The live system, with `/proc/cpuinfo` read only now and then.
///
/// `/proc/cpuinfo` is the most expensive file to read (on x86 the kernel asks
/// every CPU for its frequency) and changes only with CPU hot-plug, so it is
/// read with the first sample and then every [`LiveSource::cpuinfo_every`]
/// samples (default: one hour's worth at a 10 s interval).
#[derive(Debug)]
pub struct LiveSource {
    main: LiveReader,
    cpuinfo: Option<LiveReader>,
    cpuinfo_sample: RawSample,
    every: u64,
    reads: u64,
    containers: Option<crate::cgroup::Containers>,
    osrelease: PathBuf,
}

impl LiveSource {
    /// Opens the sources of `config`; `/proc/cpuinfo` (when configured) is read apart.
    pub fn open(config: ReaderConfig) -> Result<Self> {
        let osrelease = config.proc_root.join("sys/kernel/osrelease");
        let wants_cpuinfo = config.sources.contains(&Source::Cpuinfo);
        let rest: Vec<Source> = config
            .sources
            .iter()
            .copied()
            .filter(|s| *s != Source::Cpuinfo)
            .collect();
        let cpuinfo = if wants_cpuinfo {
            Some(LiveReader::open(
                config.clone().sources(&[Source::Cpuinfo]),
            )?)
        } else {
            None
        };
        Ok(LiveSource {
            main: LiveReader::open(config.sources(&rest))?,
            cpuinfo,
            cpuinfo_sample: RawSample::default(),
            every: 360,
            reads: 0,
            containers: None,
            osrelease,
        })
    }

    /// Also reads the containers under this cgroup v2 root (`/sys/fs/cgroup`)
    /// every sample, as records of the older container collector's form, named
    /// from the runtimes' state under `rootfs` where readable.
    pub fn containers(
        mut self,
        cgroup_root: impl Into<PathBuf>,
        rootfs: impl Into<PathBuf>,
    ) -> Self {
        self.containers = Some(crate::cgroup::Containers::new(cgroup_root).names_from(rootfs));
        self
    }

    /// Reads `/proc/cpuinfo` every `n` samples (at least 1).
    pub fn cpuinfo_every(mut self, n: u64) -> Self {
        self.every = n.max(1);
        self
    }

    /// Reads `/proc/cpuinfo` again with the next sample.
    pub fn refresh_cpuinfo(&mut self) {
        self.reads = 0;
    }

    /// The live reader of every source but `/proc/cpuinfo`.
    pub fn reader(&self) -> &LiveReader {
        &self.main
    }
}

impl SampleSource for LiveSource {
    fn read(&mut self, raw: &mut RawSample) -> Result<()> {
        self.main.read(raw)?;
        if let Some(ci) = self.cpuinfo.as_mut()
            && self.reads.is_multiple_of(self.every)
        {
            ci.read(&mut self.cpuinfo_sample)?;
            if let Some(text) = self.cpuinfo_sample.get(Source::Cpuinfo) {
                raw.set(Source::Cpuinfo, text);
            }
        }
        // The kernel release, with the first sample and then as often as cpuinfo.
        if self.reads.is_multiple_of(self.every)
            && let Ok(text) = std::fs::read(&self.osrelease)
        {
            raw.other.push(crate::snapshot::OtherRecord {
                subsystem: crate::snapshot::OSRELEASE.to_owned(),
                measurement: text,
            });
        }
        if let Some(c) = self.containers.as_mut() {
            c.read_into(raw);
        }
        self.reads += 1;
        Ok(())
    }
}

/// The clocks and the sleeping of the loop, injectable so tests can step time.
pub trait Clock {
    /// CLOCK_MONOTONIC in nanoseconds.
    fn monotonic_ns(&mut self) -> u64;
    /// Wall clock in milliseconds since the unix epoch.
    fn wall_ms(&mut self) -> i64;
    /// Waits until the monotonic clock reaches `deadline_ns`, or less when woken
    /// (the loop then checks its [`Control`] and sleeps again if nothing is asked).
    fn sleep_until(&mut self, deadline_ns: u64);
}

/// The system's clocks. Sleeps can be cut short by writing to a wake-up socket
/// (the CLI writes to it from its signal handlers).
#[derive(Debug, Default)]
pub struct SystemClock {
    wake: Option<UnixStream>,
}

impl SystemClock {
    /// Clocks whose sleeps end only at their deadline (checked every 250 ms for a stop).
    pub fn new() -> Self {
        SystemClock { wake: None }
    }

    /// Clocks whose sleeps also end when anything is written to the peer of `wake`.
    pub fn with_wakeup(wake: UnixStream) -> Self {
        SystemClock { wake: Some(wake) }
    }
}

impl Clock for SystemClock {
    fn monotonic_ns(&mut self) -> u64 {
        crate::reader::monotonic_ns()
    }

    fn wall_ms(&mut self) -> i64 {
        crate::reader::wall_clock_ms()
    }

    fn sleep_until(&mut self, deadline_ns: u64) {
        let now = crate::reader::monotonic_ns();
        if now >= deadline_ns {
            return;
        }
        let left = Duration::from_nanos(deadline_ns - now);
        let Some(wake) = self.wake.as_mut() else {
            std::thread::sleep(left.min(Duration::from_millis(250)));
            return;
        };
        if wake.set_read_timeout(Some(left)).is_err() {
            std::thread::sleep(left.min(Duration::from_millis(250)));
            return;
        }
        let mut buf = [0u8; 64];
        match wake.read(&mut buf) {
            // The peer is gone: no more wake-ups, plain sleeps from now on.
            Ok(0) => self.wake = None,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(_) => {
                self.wake = None;
                std::thread::sleep(left.min(Duration::from_millis(250)));
            }
        }
    }
}

/// Requests from outside the loop (signal handlers, another thread, a sink):
/// stop after the current sample, reopen the outputs.
///
/// Cloning gives another handle on the same flags.
#[derive(Debug, Clone, Default)]
pub struct Control {
    stop: Arc<AtomicBool>,
    reopen: Arc<AtomicBool>,
}

impl Control {
    /// Fresh flags, nothing requested.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stop flag (for `signal_hook::flag::register`).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// The reopen flag (for `signal_hook::flag::register`).
    pub fn reopen_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.reopen)
    }

    /// Asks the loop to stop after the sample it is taking.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Asks the loop to reopen its outputs before the next sample.
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::SeqCst);
    }

    fn take_reopen(&self) -> bool {
        self.reopen.swap(false, Ordering::SeqCst)
    }
}

/// Receives what the loop produces. Every method but [`RecordSink::interval`]
/// has a default that does nothing.
pub trait RecordSink {
    /// Called once per sample with its raw text and its parsed view.
    fn sample(&mut self, _raw: &RawSample, _snap: &Snapshot<'_>) -> Result<()> {
        Ok(())
    }

    /// Called once per interval (from the second sample on), after [`RecordSink::sample`].
    fn interval(&mut self, iv: &Interval, cur: &Snapshot<'_>) -> Result<()>;

    /// Called where two samples give no interval (a reboot between them).
    fn gap(&mut self, _at_ms: i64, _why: Break) -> Result<()> {
        Ok(())
    }

    /// Makes everything written so far durable (called at the end, and by sinks
    /// themselves as they see fit).
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    /// Reopens output files by path (after log rotation moved them).
    fn reopen(&mut self) -> Result<()> {
        Ok(())
    }

    /// Called once when the loop ends, after the last [`RecordSink::flush`].
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }

    /// Whether the sink writes timestamps in whole seconds (the older capture
    /// format, the portal CSV, shipping): the recorder then never gives two samples
    /// the same second, even while the wall clock is behind.
    fn whole_seconds(&self) -> bool {
        false
    }

    /// The newest timestamp (ms) the sink already holds from an earlier run (a
    /// store the agent records into again): the recorder stamps every new sample
    /// after it, so a wall clock that went back across a restart cannot make new
    /// samples collide with stored ones.
    fn resume_after_ms(&self) -> Option<i64> {
        None
    }
}

impl<S: RecordSink + ?Sized> RecordSink for Box<S> {
    fn sample(&mut self, raw: &RawSample, snap: &Snapshot<'_>) -> Result<()> {
        (**self).sample(raw, snap)
    }
    fn interval(&mut self, iv: &Interval, cur: &Snapshot<'_>) -> Result<()> {
        (**self).interval(iv, cur)
    }
    fn gap(&mut self, at_ms: i64, why: Break) -> Result<()> {
        (**self).gap(at_ms, why)
    }
    fn flush(&mut self) -> Result<()> {
        (**self).flush()
    }
    fn reopen(&mut self) -> Result<()> {
        (**self).reopen()
    }
    fn finish(&mut self) -> Result<()> {
        (**self).finish()
    }
    fn whole_seconds(&self) -> bool {
        (**self).whole_seconds()
    }
    fn resume_after_ms(&self) -> Option<i64> {
        (**self).resume_after_ms()
    }
}

/// Several sinks fed the same samples (e.g. a capture file and a server).
///
/// Every sink is called even when an earlier one fails; the first error is returned.
#[derive(Default)]
pub struct Tee(pub Vec<Box<dyn RecordSink + Send>>);

impl std::fmt::Debug for Tee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tee({} sinks)", self.0.len())
    }
}

impl Tee {
    fn each(&mut self, mut f: impl FnMut(&mut dyn RecordSink) -> Result<()>) -> Result<()> {
        let mut first = None;
        for s in &mut self.0 {
            if let Err(e) = f(s.as_mut()) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl RecordSink for Tee {
    fn sample(&mut self, raw: &RawSample, snap: &Snapshot<'_>) -> Result<()> {
        self.each(|s| s.sample(raw, snap))
    }
    fn interval(&mut self, iv: &Interval, cur: &Snapshot<'_>) -> Result<()> {
        self.each(|s| s.interval(iv, cur))
    }
    fn gap(&mut self, at_ms: i64, why: Break) -> Result<()> {
        self.each(|s| s.gap(at_ms, why))
    }
    fn flush(&mut self) -> Result<()> {
        self.each(|s| s.flush())
    }
    fn reopen(&mut self) -> Result<()> {
        self.each(|s| s.reopen())
    }
    fn finish(&mut self) -> Result<()> {
        self.each(|s| s.finish())
    }
    fn whole_seconds(&self) -> bool {
        self.0.iter().any(|s| s.whole_seconds())
    }
    fn resume_after_ms(&self) -> Option<i64> {
        self.0.iter().filter_map(|s| s.resume_after_ms()).max()
    }
}

/// How long and how often to sample.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordOptions {
    /// Time between samples.
    pub interval: Duration,
    /// Stop after the sample due at this time after start (`None`: until stopped).
    pub duration: Option<Duration>,
    /// Stop after this many samples (`None`: no limit).
    pub max_samples: Option<u64>,
    /// Put the ticks in the middle of wall-clock seconds (when the interval is
    /// a whole number of seconds), so that second-resolution timestamps (a
    /// capture's) of consecutive samples always differ, whatever the jitter.
    pub align_to_wall_seconds: bool,
}

impl RecordOptions {
    /// Sampling every `interval` until stopped.
    pub fn new(interval: Duration) -> Self {
        RecordOptions {
            interval,
            duration: None,
            max_samples: None,
            align_to_wall_seconds: true,
        }
    }

    /// Sets [`RecordOptions::align_to_wall_seconds`] (on by default).
    pub fn align_to_wall_seconds(mut self, yes: bool) -> Self {
        self.align_to_wall_seconds = yes;
        self
    }

    /// Stops after the sample due `d` after start.
    pub fn duration(mut self, d: Duration) -> Self {
        self.duration = Some(d);
        self
    }

    /// Stops after `n` samples.
    pub fn max_samples(mut self, n: u64) -> Self {
        self.max_samples = Some(n);
        self
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordStats {
    /// Samples taken and handed to the sink.
    pub samples: u64,
    /// Intervals handed to the sink.
    pub intervals: u64,
    /// Reboots seen between two samples.
    pub gaps: u64,
    /// Ticks whose sample could not be read (the tick is skipped).
    pub read_errors: u64,
    /// Sources that did not parse (the sample is kept without them).
    pub parse_errors: u64,
    /// Calls into the sink that failed (the loop goes on; the run then ends in an error).
    pub sink_errors: u64,
    /// Ticks skipped because the loop was late by more than an interval.
    pub skipped_ticks: u64,
    /// Samples whose timestamp was clamped because the wall clock had stepped back.
    pub clamped_timestamps: u64,
    /// Times the outputs were reopened.
    pub reopens: u64,
}

/// Something worth telling the person running the loop.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A sample was taken (and the interval it closed, if any).
    Sampled {
        /// Counters so far.
        stats: &'a RecordStats,
        /// The interval ending at this sample.
        interval: Option<&'a Interval>,
    },
    /// A tick's sample could not be read; the tick is skipped.
    ReadFailed(&'a Error),
    /// A source of a sample did not parse; the sample is kept without it.
    ParseFailed(&'a Error),
    /// A sink failed; the loop goes on.
    SinkFailed(&'a Error),
    /// The wall clock is behind the last timestamp: timestamps follow the
    /// monotonic clock until it catches up.
    ClockSteppedBack {
        /// The wall clock now (ms since the epoch).
        wall_ms: i64,
        /// The previous sample's timestamp.
        previous_ms: i64,
    },
    /// The wall clock is past the last timestamp again.
    ClockRecovered,
    /// The loop was late and skipped ticks.
    TicksSkipped(u64),
    /// The outputs were reopened (or failed to be, with the error).
    Reopened(Option<&'a Error>),
}

const NS_PER_S: u64 = 1_000_000_000;

type EventHook<'h> = Box<dyn FnMut(&Event<'_>) + 'h>;

/// The sampling loop.
pub struct Recorder<'h, S: SampleSource, C: Clock> {
    source: S,
    clock: C,
    opts: RecordOptions,
    control: Control,
    on_event: Option<EventHook<'h>>,
}

impl<S: SampleSource, C: Clock> std::fmt::Debug for Recorder<'_, S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl<'h, S: SampleSource, C: Clock> Recorder<'h, S, C> {
    /// A loop reading `source` on `clock`'s schedule.
    pub fn new(source: S, clock: C, opts: RecordOptions) -> Self {
        Recorder {
            source,
            clock,
            opts,
            control: Control::new(),
            on_event: None,
        }
    }

    /// Uses `control` for stop and reopen requests.
    pub fn control(mut self, control: Control) -> Self {
        self.control = control;
        self
    }

    /// A handle on the loop's stop and reopen flags.
    pub fn control_handle(&self) -> Control {
        self.control.clone()
    }

    /// Calls `f` for each [`Event`].
    pub fn on_event(mut self, f: impl FnMut(&Event<'_>) + 'h) -> Self {
        self.on_event = Some(Box::new(f));
        self
    }

    /// The source.
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    fn emit(&mut self, e: Event<'_>) {
        if let Some(f) = self.on_event.as_mut() {
            f(&e);
        }
    }

    /// Runs until the duration or sample count is reached or a stop is asked,
    /// then flushes and finishes the sink.
    ///
    /// Errors reading or parsing a sample, and errors of the sink, do not stop
    /// the loop (an agent keeps going); they are reported as events and counted,
    /// and the run returns the first sink error at the end. An interval of zero
    /// is an error.
    pub fn run(&mut self, sink: &mut dyn RecordSink) -> Result<RecordStats> {
        let interval_ns = u64::try_from(self.opts.interval.as_nanos()).unwrap_or(u64::MAX);
        if interval_ns == 0 {
            return Err(Error::Duration {
                input: "0s".into(),
                message: "the interval must be longer than zero".into(),
            });
        }
        // The last tick: `--duration 10s` at 1 s is ticks 0..=10.
        let last_tick = self
            .opts
            .duration
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX) / interval_ns);
        let mut stats = RecordStats::default();
        let mut first_sink_error: Option<Error> = None;
        // The previous sample stays parsed (its snapshot borrows its text), so each
        // tick parses only the new one; its buffers are reused for the next read.
        let mut prev: Option<ParsedSample> = None;
        let mut cur = RawSample::default();
        // The lists of the snapshot before the previous one, for the next parse
        // to build on (no malloc and free of them per tick).
        let mut bufs = SnapshotBuffers::default();
        let start = self.clock.monotonic_ns();
        // (timestamp, monotonic) of the last sample, for clamping; seeded from what
        // the sink holds from an earlier run.
        let mut last_stamp: Option<(i64, u64)> = sink.resume_after_ms().map(|t| (t, start));
        let mut clamping = false;
        // Timestamps compare at the sink's resolution: whole seconds for a sink that
        // writes them (two samples in one second would be one to it).
        let whole = sink.whole_seconds();
        let resolution = |ms: i64| if whole { ms.div_euclid(1000) } else { ms };
        // Tick 0 is taken at start; tick k ≥ 1 is due at `base + k × interval`.
        // Aligned, `base` puts the ticks half-way through wall-clock seconds: a
        // tick can then be up to half a second late (or the wall clock drift as
        // far) before two samples would share a whole-second timestamp.
        let align = self.opts.align_to_wall_seconds && interval_ns.is_multiple_of(NS_PER_S);
        let mut base = start;
        if align {
            // The nearest mid-second: the first interval is within half a second of
            // the others.
            let phase_ms = self.clock.wall_ms().rem_euclid(1000);
            let shift_ms = (500 - phase_ms).rem_euclid(1000);
            base = if shift_ms > 500 {
                start.saturating_sub(u64::try_from(1000 - shift_ms).unwrap_or(0) * 1_000_000)
            } else {
                start + u64::try_from(shift_ms).unwrap_or(0) * 1_000_000
            };
        }
        let mut tick: u64 = 0;
        let mut deadline = start;
        loop {
            if self.control.take_reopen() {
                stats.reopens += 1;
                match sink.reopen() {
                    Ok(()) => self.emit(Event::Reopened(None)),
                    Err(e) => self.emit(Event::Reopened(Some(&e))),
                }
            }
            let mono = self.clock.monotonic_ns();
            let wall = self.clock.wall_ms();
            match self.source.read(&mut cur) {
                Err(e) => {
                    stats.read_errors += 1;
                    self.emit(Event::ReadFailed(&e));
                }
                Ok(()) => {
                    cur.monotonic_ns = Some(mono);
                    cur.timestamp_ms = match last_stamp {
                        Some((last_ts, last_mono)) if resolution(wall) <= resolution(last_ts) => {
                            stats.clamped_timestamps += 1;
                            if !clamping {
                                clamping = true;
                                self.emit(Event::ClockSteppedBack {
                                    wall_ms: wall,
                                    previous_ms: last_ts,
                                });
                            }
                            // Follow the monotonic clock 1% slow, so the timestamps meet
                            // the wall clock again (after 100 s per second stepped back),
                            // but always into the next unit of the sink's resolution.
                            // In whole seconds at a 1 s interval there is no room to slow
                            // down (n samples need n distinct seconds): the timestamps
                            // then stay ahead of the wall clock by the step until the
                            // agent restarts; at 2 s and more they meet it again.
                            let elapsed_ms = mono.saturating_sub(last_mono) / 1_000_000;
                            let slewed = last_ts.saturating_add(
                                i64::try_from(elapsed_ms - elapsed_ms / 100).unwrap_or(i64::MAX),
                            );
                            let next = if whole {
                                last_ts
                                    .div_euclid(1000)
                                    .saturating_add(1)
                                    .saturating_mul(1000)
                            } else {
                                last_ts.saturating_add(1)
                            };
                            slewed.max(next)
                        }
                        _ => {
                            if clamping {
                                clamping = false;
                                self.emit(Event::ClockRecovered);
                            }
                            wall
                        }
                    };
                    last_stamp = Some((cur.timestamp_ms, mono));
                    if align && tick > 0 {
                        // Where the tick fell on the wall clock (lateness taken out).
                        // The two clocks drift apart (NTP slews the wall clock by up
                        // to 500 ppm) or the wall clock steps: bring the ticks back to
                        // mid-second when they are more than 200 ms off.
                        let late_ms =
                            i64::try_from(mono.saturating_sub(deadline) / 1_000_000).unwrap_or(0);
                        let off = (wall - late_ms).rem_euclid(1000) - 500;
                        if off.abs() > 200 {
                            let shift = off.unsigned_abs() * 1_000_000;
                            base = if off > 0 {
                                base.saturating_sub(shift)
                            } else {
                                base.saturating_add(shift)
                            };
                        }
                    }
                    let mut errors = Vec::new();
                    let parsed = ParsedSample::new(std::mem::take(&mut cur), |raw| {
                        let (snap, e) = raw.parse_lenient_with(&mut bufs);
                        errors = e;
                        snap
                    });
                    for e in &errors {
                        stats.parse_errors += 1;
                        self.emit(Event::ParseFailed(e));
                    }
                    stats.samples += 1;
                    let (raw, snap) = (parsed.borrow_owner(), parsed.borrow_dependent());
                    let mut sink_result = sink.sample(raw, snap);
                    let mut interval = None;
                    if let Some(p) = &prev {
                        match Interval::between(p.borrow_dependent(), snap) {
                            Ok(iv) => {
                                stats.intervals += 1;
                                let r = sink.interval(&iv, snap);
                                sink_result = sink_result.and(r);
                                interval = Some(iv);
                            }
                            Err(why) => {
                                stats.gaps += 1;
                                sink_result = sink_result.and(sink.gap(raw.timestamp_ms, why));
                            }
                        }
                    }
                    if let Err(e) = sink_result {
                        stats.sink_errors += 1;
                        self.emit(Event::SinkFailed(&e));
                        first_sink_error.get_or_insert(e);
                    }
                    let snapshot_stats = stats.clone();
                    self.emit(Event::Sampled {
                        stats: &snapshot_stats,
                        interval: interval.as_ref(),
                    });
                    if let Some(mut old) = prev.replace(parsed) {
                        old.with_dependent_mut(|_, snap| bufs.recycle(std::mem::take(snap)));
                        cur = old.into_owner();
                    }
                }
            }
            if self.control.stop_requested()
                || self.opts.max_samples.is_some_and(|n| stats.samples >= n)
            {
                break;
            }
            // The next tick due after now; ticks already past are skipped, not bunched.
            let now = self.clock.monotonic_ns();
            let due = (now.saturating_sub(base) / interval_ns).saturating_add(1);
            let next = due.max(tick + 1);
            if next > tick + 1 {
                let n = next - tick - 1;
                stats.skipped_ticks += n;
                self.emit(Event::TicksSkipped(n));
            }
            tick = next;
            if last_tick.is_some_and(|n| tick > n) {
                break;
            }
            deadline = base.saturating_add(tick.saturating_mul(interval_ns));
            while !self.control.stop_requested() && self.clock.monotonic_ns() < deadline {
                self.clock.sleep_until(deadline);
            }
            if self.control.stop_requested() {
                break;
            }
        }
        for r in [sink.flush(), sink.finish()] {
            if let Err(e) = r {
                stats.sink_errors += 1;
                self.emit(Event::SinkFailed(&e));
                first_sink_error.get_or_insert(e);
            }
        }
        match first_sink_error {
            Some(e) => Err(e),
            None => Ok(stats),
        }
    }
}

/// A file written by appending whole records, reopened by path on request.
///
/// A record is written with one `write` call into the page cache, so a killed
/// process leaves every record written before the kill. A record that fails
/// half-way (disk full) is cut off again, so the file never holds a torn
/// record followed by good ones.
#[derive(Debug)]
pub struct AppendFile {
    path: PathBuf,
    file: File,
    len: u64,
}

impl AppendFile {
    /// Opens `path` for appending, creating it (not its directory) if missing.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        Ok(AppendFile { path, file, len })
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether nothing was written to the file yet (a header is due).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `bytes` whole, or not at all.
    pub fn append(&mut self, bytes: &[u8]) -> Result<()> {
        if let Err(e) = self.file.write_all(bytes) {
            // Cut a partial record off; if even that fails the reader skips a torn line.
            let _ = self.file.set_len(self.len);
            return Err(Error::io(&self.path, e));
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Writes the file's data to disk.
    pub fn sync(&mut self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }

    /// Closes the file and opens the path again (a new file if it was moved away).
    /// On failure the old file stays open.
    pub fn reopen(&mut self) -> Result<()> {
        let _ = self.file.sync_data();
        *self = AppendFile::open(self.path.clone())?;
        Ok(())
    }
}

/// Writes each sample as a capture (the older collector's NDJSON).
#[derive(Debug)]
pub struct CaptureFileSink {
    file: AppendFile,
    writer: CaptureWriter<Vec<u8>>,
}

impl CaptureFileSink {
    /// Appends to the capture at `path` (created if missing).
    pub fn create(path: impl Into<PathBuf>, sources: Sources) -> Result<Self> {
        Ok(CaptureFileSink {
            file: AppendFile::open(path)?,
            writer: CaptureWriter::with_sources(Vec::with_capacity(1 << 16), sources),
        })
    }
}

impl RecordSink for CaptureFileSink {
    fn whole_seconds(&self) -> bool {
        true
    }

    fn sample(&mut self, raw: &RawSample, _snap: &Snapshot<'_>) -> Result<()> {
        let buf = self.writer.get_mut();
        buf.clear();
        self.writer
            .write_sample(raw)
            .map_err(|e| Error::io(self.file.path(), e))?;
        self.file.append(self.writer.get_mut())
    }

    fn interval(&mut self, _iv: &Interval, _cur: &Snapshot<'_>) -> Result<()> {
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.file.sync()
    }

    fn reopen(&mut self) -> Result<()> {
        self.file.reopen()
    }
}

/// The per-device file beside a wide CSV file: `x.csv` → `x.devices.csv`.
pub fn devices_path(wide: &Path) -> PathBuf {
    let stem = wide
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = if wide.extension().is_some_and(|e| e == "csv") {
        stem
    } else {
        wide.file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    wide.with_file_name(format!("{stem}.devices.csv"))
}

/// Writes our CSV schema as it goes: one wide row per interval to `path`, the
/// per-device rows to [`devices_path`]`(path)`.
#[derive(Debug)]
pub struct CsvFileSink {
    machine_id: String,
    wide_file: AppendFile,
    long_file: AppendFile,
    wide: WideWriter<Vec<u8>>,
    long: LongWriter<Vec<u8>>,
}

impl CsvFileSink {
    /// Appends to `path` and its devices file (a header is written to an empty file).
    pub fn create(path: impl Into<PathBuf>, machine_id: impl Into<String>) -> Result<Self> {
        let path = path.into();
        let long_path = devices_path(&path);
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |e| Error::io(p, e)
        };
        let mut s = CsvFileSink {
            machine_id: machine_id.into(),
            wide_file: AppendFile::open(&path)?,
            long_file: AppendFile::open(&long_path)?,
            wide: WideWriter::new(Vec::new()).map_err(io(&path))?,
            long: LongWriter::new(Vec::new()).map_err(io(&long_path))?,
        };
        s.write_headers()?;
        Ok(s)
    }

    fn write_headers(&mut self) -> Result<()> {
        // The writers put their header in their buffer when made.
        let wide_header = crate::csv::ours::wide_header() + "\n";
        let long_header = format!("{}\n", crate::csv::ours::LONG_HEADER);
        self.wide.get_mut().clear();
        self.long.get_mut().clear();
        if self.wide_file.is_empty() {
            self.wide_file.append(wide_header.as_bytes())?;
        }
        if self.long_file.is_empty() {
            self.long_file.append(long_header.as_bytes())?;
        }
        Ok(())
    }
}

impl RecordSink for CsvFileSink {
    fn interval(&mut self, iv: &Interval, _cur: &Snapshot<'_>) -> Result<()> {
        self.wide.get_mut().clear();
        self.long.get_mut().clear();
        let row = IntervalRow::from_interval(iv);
        self.wide
            .write(&self.machine_id, &row)
            .map_err(|e| Error::io(self.wide_file.path(), e))?;
        self.long
            .write(&self.machine_id, &device_rows(iv))
            .map_err(|e| Error::io(self.long_file.path(), e))?;
        self.wide_file.append(self.wide.get_mut())?;
        self.long_file.append(self.long.get_mut())
    }

    fn flush(&mut self) -> Result<()> {
        self.wide_file.sync()?;
        self.long_file.sync()
    }

    fn reopen(&mut self) -> Result<()> {
        self.wide_file.reopen()?;
        self.long_file.reopen()?;
        self.write_headers()
    }
}

/// Writes the portal upload CSV as it goes.
#[derive(Debug)]
pub struct PortalFileSink {
    file: AppendFile,
    writer: PortalWriter<Vec<u8>>,
}

impl PortalFileSink {
    /// Appends to `path` (a header is written to an empty file).
    pub fn create(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let mut s = PortalFileSink {
            writer: PortalWriter::new(Vec::new()).map_err(|e| Error::io(&path, e))?,
            file: AppendFile::open(path)?,
        };
        s.write_header()?;
        Ok(s)
    }

    fn write_header(&mut self) -> Result<()> {
        self.writer.get_mut().clear();
        if self.file.is_empty() {
            // CRLF, as the rows and the older tools' files.
            let h = format!("{}\r\n", crate::csv::portal::HEADER);
            self.file.append(h.as_bytes())?;
        }
        Ok(())
    }
}

impl RecordSink for PortalFileSink {
    fn whole_seconds(&self) -> bool {
        true
    }

    fn interval(&mut self, iv: &Interval, _cur: &Snapshot<'_>) -> Result<()> {
        self.writer.get_mut().clear();
        self.writer
            .write(&PortalRow::from_interval(iv))
            .map_err(|e| Error::io(self.file.path(), e))?;
        self.file.append(self.writer.get_mut())
    }

    fn flush(&mut self) -> Result<()> {
        self.file.sync()
    }

    fn reopen(&mut self) -> Result<()> {
        self.file.reopen()?;
        self.write_header()
    }
}

/// A clock for tests and replays: time moves only when the loop sleeps (to the
/// deadline, plus any lateness scheduled), and the wall clock can be stepped.
#[derive(Debug, Clone)]
pub struct ManualClock {
    /// Monotonic now (ns).
    pub mono_ns: u64,
    /// Wall clock now (ms since the epoch).
    pub wall_ms: i64,
    /// Added to the wall clock at the n-th sleep: `(sleep number, ms)`, e.g. a step back.
    pub wall_steps: Vec<(u64, i64)>,
    /// Extra monotonic time at the n-th sleep: `(sleep number, ns)`, to make the loop late.
    pub late: Vec<(u64, u64)>,
    /// Sleeps so far.
    pub sleeps: u64,
    /// Asked to stop at this sleep, when set.
    pub stop_at_sleep: Option<(u64, Control)>,
}

impl ManualClock {
    /// Starts at monotonic `mono_ns` and wall `wall_ms`.
    pub fn new(mono_ns: u64, wall_ms: i64) -> Self {
        ManualClock {
            mono_ns,
            wall_ms,
            wall_steps: Vec::new(),
            late: Vec::new(),
            sleeps: 0,
            stop_at_sleep: None,
        }
    }
}

impl Clock for ManualClock {
    fn monotonic_ns(&mut self) -> u64 {
        self.mono_ns
    }

    fn wall_ms(&mut self) -> i64 {
        self.wall_ms
    }

    fn sleep_until(&mut self, deadline_ns: u64) {
        self.sleeps += 1;
        let mut advance = deadline_ns.saturating_sub(self.mono_ns);
        for (n, extra) in &self.late {
            if *n == self.sleeps {
                advance += extra;
            }
        }
        self.mono_ns += advance;
        self.wall_ms += i64::try_from(advance / 1_000_000).unwrap_or(i64::MAX);
        for (n, step) in &self.wall_steps {
            if *n == self.sleeps {
                self.wall_ms += step;
            }
        }
        if let Some((n, c)) = &self.stop_at_sleep
            && *n == self.sleeps
        {
            c.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake /proc: CPU counters that advance 100 jiffies per sample, one disk.
    struct Fake {
        n: u64,
        fail_at: Option<u64>,
    }

    impl SampleSource for Fake {
        fn read(&mut self, raw: &mut RawSample) -> Result<()> {
            self.n += 1;
            if Some(self.n) == self.fail_at {
                return Err(Error::io("/proc/stat", std::io::Error::other("gone")));
            }
            raw.clear();
            let u = 10 * self.n;
            let stat = format!(
                "cpu  {u} 0 {u} {} 0 0 0 0 0 0\ncpu0 {u} 0 {u} {} 0 0 0 0 0 0\nbtime 1000\n",
                80 * self.n,
                80 * self.n
            );
            raw.set(Source::Stat, stat.as_bytes());
            raw.set(
                Source::Meminfo,
                b"MemTotal: 1000 kB\nMemFree: 500 kB\nBuffers: 0 kB\nCached: 100 kB\nSlab: 0 kB\n",
            );
            Ok(())
        }
    }

    #[derive(Default)]
    struct Keep {
        samples: Vec<(i64, u64)>,
        intervals: Vec<(i64, f64, Option<f64>)>,
        flushed: u32,
        reopened: u32,
        fail_intervals: bool,
        /// Plays a whole-second sink.
        whole: bool,
        /// Plays a sink holding data up to this timestamp from an earlier run.
        resume: Option<i64>,
    }

    impl RecordSink for Keep {
        fn sample(&mut self, raw: &RawSample, _snap: &Snapshot<'_>) -> Result<()> {
            self.samples
                .push((raw.timestamp_ms, raw.monotonic_ns.unwrap_or(0)));
            Ok(())
        }
        fn interval(&mut self, iv: &Interval, _cur: &Snapshot<'_>) -> Result<()> {
            if self.fail_intervals {
                return Err(Error::Interval("sink broke".into()));
            }
            self.intervals
                .push((iv.end_ms, iv.elapsed_s, iv.cpu_total.map(|c| c.user_pct)));
            Ok(())
        }
        fn flush(&mut self) -> Result<()> {
            self.flushed += 1;
            Ok(())
        }
        fn reopen(&mut self) -> Result<()> {
            self.reopened += 1;
            Ok(())
        }
        fn whole_seconds(&self) -> bool {
            self.whole
        }
        fn resume_after_ms(&self) -> Option<i64> {
            self.resume
        }
    }

    const S: u64 = 1_000_000_000;
    /// Half-way through a wall-clock second, where aligned ticks fall.
    const T0: i64 = 1_767_813_000_500;

    fn fake() -> Fake {
        Fake {
            n: 0,
            fail_at: None,
        }
    }

    #[test]
    fn samples_at_start_then_every_interval_for_the_duration() {
        let clock = ManualClock::new(5 * S, T0);
        let opts = RecordOptions::new(Duration::from_secs(1)).duration(Duration::from_secs(10));
        let mut rec = Recorder::new(fake(), clock, opts);
        let mut sink = Keep::default();
        let stats = rec.run(&mut sink).unwrap();
        assert_eq!(stats.samples, 11);
        assert_eq!(stats.intervals, 10);
        assert_eq!(sink.flushed, 1);
        let ts: Vec<i64> = sink.samples.iter().map(|s| s.0 - T0).collect();
        assert_eq!(ts, (0..=10).map(|k| k * 1000).collect::<Vec<_>>());
        let mono: Vec<u64> = sink.samples.iter().map(|s| s.1).collect();
        assert_eq!(mono, (0..=10).map(|k| 5 * S + k * S).collect::<Vec<_>>());
        // 10 user + 10 system + 80 idle jiffies per sample: 10% user.
        assert_eq!(sink.intervals[0], (T0 + 1000, 1.0, Some(10.0)));
    }

    #[test]
    fn ticks_fall_half_way_through_wall_clock_seconds() {
        // Started 300 ms into a second: the next ticks come at .500.
        let start = T0 - 200;
        let clock = ManualClock::new(10 * S, start);
        let opts = RecordOptions::new(Duration::from_secs(1)).duration(Duration::from_secs(3));
        let mut sink = Keep::default();
        Recorder::new(fake(), clock, opts).run(&mut sink).unwrap();
        let ts: Vec<i64> = sink.samples.iter().map(|s| s.0 - start).collect();
        assert_eq!(ts, vec![0, 1200, 2200, 3200]);
        // Started 800 ms into a second: the schedule moves 300 ms earlier, not 700 later.
        let start = T0 + 300;
        let clock = ManualClock::new(10 * S, start);
        let opts = RecordOptions::new(Duration::from_secs(1)).duration(Duration::from_secs(3));
        let mut sink = Keep::default();
        Recorder::new(fake(), clock, opts).run(&mut sink).unwrap();
        let ts: Vec<i64> = sink.samples.iter().map(|s| s.0 - start).collect();
        assert_eq!(ts, vec![0, 700, 1700, 2700]);
        let start = T0 - 200;
        // Not aligned: on the start's own phase.
        let clock = ManualClock::new(10 * S, start);
        let opts = RecordOptions::new(Duration::from_secs(1))
            .duration(Duration::from_secs(3))
            .align_to_wall_seconds(false);
        let mut sink = Keep::default();
        Recorder::new(fake(), clock, opts).run(&mut sink).unwrap();
        let ts: Vec<i64> = sink.samples.iter().map(|s| s.0 - start).collect();
        assert_eq!(ts, vec![0, 1000, 2000, 3000]);
    }

    #[test]
    fn ticks_come_back_to_mid_second_when_the_clocks_drift_apart() {
        let mut clock = ManualClock::new(10 * S, T0);
        // The wall clock jumps 400 ms ahead after the 2nd sample.
        clock.wall_steps = vec![(2, 400)];
        let opts = RecordOptions::new(Duration::from_secs(1)).max_samples(5);
        let mut sink = Keep::default();
        Recorder::new(fake(), clock, opts).run(&mut sink).unwrap();
        let mono: Vec<u64> = sink
            .samples
            .iter()
            .map(|s| (s.1 - 10 * S) / 1_000_000)
            .collect();
        let ts: Vec<i64> = sink.samples.iter().map(|s| s.0 - T0).collect();
        // The sample at wall .900 moves the schedule 400 ms earlier: back to .500.
        assert_eq!(mono, vec![0, 1000, 2000, 2600, 3600]);
        assert_eq!(ts, vec![0, 1000, 2400, 3000, 4000]);
    }

    #[test]
    fn late_ticks_are_skipped_not_bunched() {
        let mut clock = ManualClock::new(0, T0);
        // At the 3rd sleep the loop wakes 2.5 intervals late.
        clock.late = vec![(3, 2 * S + S / 2)];
        let opts = RecordOptions::new(Duration::from_secs(1)).duration(Duration::from_secs(8));
        let mut rec = Recorder::new(fake(), clock, opts);
        let mut sink = Keep::default();
        let stats = rec.run(&mut sink).unwrap();
        let mono: Vec<u64> = sink.samples.iter().map(|s| s.1 / (S / 2)).collect();
        // Ticks 0,1,2 on time; tick 3 read at 5.5 s; 4 and 5 skipped; back on 6, 7, 8.
        assert_eq!(mono, vec![0, 2, 4, 11, 12, 14, 16]);
        assert_eq!(stats.skipped_ticks, 2);
        // The interval across the late tick is 3.5 s long by the monotonic clock.
        assert_eq!(sink.intervals[2].1, 3.5);
    }

    #[test]
    fn wall_clock_stepping_back_keeps_timestamps_ordered_and_rates_right() {
        let mut clock = ManualClock::new(0, T0);
        // After the 3rd sample the wall clock jumps back an hour.
        clock.wall_steps = vec![(3, -3_600_000)];
        let opts = RecordOptions::new(Duration::from_secs(1)).max_samples(6);
        let mut events = Vec::new();
        let mut rec =
            Recorder::new(fake(), clock, opts).on_event(|e| events.push(format!("{e:?}")));
        let mut sink = Keep::default();
        let stats = rec.run(&mut sink).unwrap();
        drop(rec);
        let ts: Vec<i64> = sink.samples.iter().map(|s| s.0 - T0).collect();
        // Clamped from the 4th sample on, spaced by the monotonic second less 1%.
        assert_eq!(ts, vec![0, 1000, 2000, 2990, 3980, 4970]);
        assert_eq!(stats.clamped_timestamps, 3);
        assert_eq!(stats.intervals, 5);
        assert!(
            sink.intervals
                .iter()
                .all(|i| i.1 == 1.0 && i.2 == Some(10.0))
        );
        let stepped: Vec<_> = events
            .iter()
            .filter(|e| e.starts_with("ClockSteppedBack"))
            .collect();
        assert_eq!(stepped.len(), 1, "{events:?}");
    }

    #[test]
    fn a_whole_second_sink_never_gets_one_second_twice_after_a_step_back() {
        let mut clock = ManualClock::new(0, T0);
        // An hour back after the 3rd sample, at 1 s: 150 samples.
        clock.wall_steps = vec![(3, -3_600_000)];
        let opts = RecordOptions::new(Duration::from_secs(1)).max_samples(150);
        let mut rec = Recorder::new(fake(), clock, opts);
        let mut sink = Keep {
            whole: true,
            ..Keep::default()
        };
        let stats = rec.run(&mut sink).unwrap();
        let secs: Vec<i64> = sink.samples.iter().map(|s| s.0.div_euclid(1000)).collect();
        // Slewing 1% slow would reach a repeated second after ~50 samples (.500,
        // .490, ... .000, .990 of the same second): each sample must get the next one.
        let t0 = T0.div_euclid(1000);
        let want: Vec<i64> = (0..150).map(|k| t0 + k).collect();
        assert_eq!(secs, want);
        assert_eq!(stats.clamped_timestamps, 147);
        // Within its second, the stamp still slews: 2.500 + 990 ms = 3.490, ...
        assert_eq!(sink.samples[3].0 - T0, 2990);
        assert_eq!(sink.samples[4].0 - T0, 3980);
        // Sample k ≥ 3 at 990 k + 20 ms after T0 (a .500 second), i.e. 990 k + 520
        // into second t0: in second k up to k = 52 (52,000); sample 53 would land at
        // 52,990, still second 52, so it goes to the start of second 53 (52,500
        // after T0), and every later one a second further.
        assert_eq!(sink.samples[52].0 - T0, 51_500);
        assert_eq!(sink.samples[53].0 - T0, 52_500);
        assert_eq!(sink.samples[149].0 - T0, 148_500);
    }

    #[test]
    fn a_whole_second_sink_meets_the_wall_clock_again_at_10_s() {
        let mut clock = ManualClock::new(0, T0);
        // Back 20 s before the 3rd sample: its wall clock reads 10 s before the 2nd's.
        clock.wall_steps = vec![(2, -20_000)];
        let opts = RecordOptions::new(Duration::from_secs(10)).max_samples(115);
        let mut events = Vec::new();
        let mut rec =
            Recorder::new(fake(), clock, opts).on_event(|e| events.push(format!("{e:?}")));
        let mut sink = Keep {
            whole: true,
            ..Keep::default()
        };
        let stats = rec.run(&mut sink).unwrap();
        drop(rec);
        let ts: Vec<i64> = sink.samples.iter().map(|s| s.0 - T0).collect();
        // Sample k ≥ 2: wall 10,000 (k − 2) ms after T0 (a .500 second); clamped,
        // 10,000 + 9,900 (k − 1): 100 ms a sample closer. At k = 102 the wall clock
        // (1,000,000) equals the last stamp; k = 103..107 read the wall clock in the
        // same second as the last stamp (its phase falls .400, .300, ... .000, then
        // .900 of the second before): clamped on. At k = 108 the wall clock
        // (1,060,000, second t0 + 1060) is a second past the last stamp (1,059,400,
        // second t0 + 1059): recovered after 106 clamped samples.
        assert_eq!(ts[2], 19_900);
        assert_eq!(ts[3], 29_800);
        assert_eq!(ts[101], 1_000_000);
        assert_eq!(ts[107], 1_059_400);
        assert_eq!(ts[108], 1_060_000);
        assert_eq!(ts[114], 1_120_000);
        assert_eq!(stats.clamped_timestamps, 106);
        assert!(
            ts.windows(2)
                .all(|w| w[1].div_euclid(1000) > w[0].div_euclid(1000))
        );
        assert!(events.iter().any(|e| e == "ClockRecovered"), "{events:?}");
    }

    #[test]
    fn a_sink_holding_later_data_gets_samples_after_it() {
        // The store holds a sample an hour ahead of this run's wall clock (the clock
        // was stepped back while the agent was stopped).
        let ahead = T0 + 3_600_000;
        let clock = ManualClock::new(0, T0);
        let opts = RecordOptions::new(Duration::from_secs(1)).max_samples(4);
        let mut rec = Recorder::new(fake(), clock, opts);
        let mut sink = Keep {
            resume: Some(ahead),
            ..Keep::default()
        };
        let stats = rec.run(&mut sink).unwrap();
        let ts: Vec<i64> = sink.samples.iter().map(|s| s.0 - ahead).collect();
        // 1 ms after the stored one, then the monotonic second less 1%.
        assert_eq!(ts, vec![1, 991, 1981, 2971]);
        assert_eq!(stats.clamped_timestamps, 4);
        // Behind the wall clock, a sink's older data changes nothing.
        let mut rec = Recorder::new(
            fake(),
            ManualClock::new(0, T0),
            RecordOptions::new(Duration::from_secs(1)).max_samples(2),
        );
        let mut sink = Keep {
            resume: Some(T0 - 10_000),
            ..Keep::default()
        };
        let stats = rec.run(&mut sink).unwrap();
        assert_eq!(sink.samples[0].0, T0);
        assert_eq!(stats.clamped_timestamps, 0);
    }

    #[test]
    fn wall_clock_catching_up_ends_the_clamping() {
        let mut clock = ManualClock::new(0, T0);
        // Back 1.02 s after the 2nd sample: the wall clock is behind for three samples.
        clock.wall_steps = vec![(2, -1_020)];
        let opts = RecordOptions::new(Duration::from_secs(1)).max_samples(6);
        let mut events = Vec::new();
        let mut rec =
            Recorder::new(fake(), clock, opts).on_event(|e| events.push(format!("{e:?}")));
        let mut sink = Keep::default();
        let stats = rec.run(&mut sink).unwrap();
        drop(rec);
        let ts: Vec<i64> = sink.samples.iter().map(|s| s.0 - T0).collect();
        // Wall: 0, 1000, 980, 1980, 2980, 3980. Clamped: 1990, 2980, 3970; then the
        // wall clock (3980) is past the last timestamp again and is used as it is.
        assert_eq!(ts, vec![0, 1000, 1990, 2980, 3970, 3980]);
        assert_eq!(stats.clamped_timestamps, 3);
        assert!(events.iter().any(|e| e == "ClockRecovered"), "{events:?}");
    }

    #[test]
    fn stop_finishes_the_sample_and_flushes() {
        let control = Control::new();
        let mut clock = ManualClock::new(0, T0);
        clock.stop_at_sleep = Some((4, control.clone()));
        let mut rec = Recorder::new(fake(), clock, RecordOptions::new(Duration::from_secs(1)))
            .control(control);
        let mut sink = Keep::default();
        let stats = rec.run(&mut sink).unwrap();
        // Stop asked during the 4th sleep: no sample after it.
        assert_eq!(stats.samples, 4);
        assert_eq!(sink.flushed, 1);
    }

    #[test]
    fn reopen_is_passed_to_the_sink() {
        let control = Control::new();
        control.reopen();
        let mut rec = Recorder::new(
            fake(),
            ManualClock::new(0, T0),
            RecordOptions::new(Duration::from_secs(1)).max_samples(2),
        )
        .control(control);
        let mut sink = Keep::default();
        let stats = rec.run(&mut sink).unwrap();
        assert_eq!((sink.reopened, stats.reopens), (1, 1));
    }

    #[test]
    fn a_failed_read_skips_the_tick_and_the_loop_goes_on() {
        let src = Fake {
            n: 0,
            fail_at: Some(3),
        };
        let opts = RecordOptions::new(Duration::from_secs(1)).duration(Duration::from_secs(4));
        let mut rec = Recorder::new(src, ManualClock::new(0, T0), opts);
        let mut sink = Keep::default();
        let stats = rec.run(&mut sink).unwrap();
        assert_eq!((stats.samples, stats.read_errors), (4, 1));
        // The interval over the missing tick spans 2 s.
        assert_eq!(sink.intervals[1].1, 2.0);
    }

    #[test]
    fn sink_errors_are_counted_and_the_first_is_returned() {
        let opts = RecordOptions::new(Duration::from_secs(1)).max_samples(4);
        let mut rec = Recorder::new(fake(), ManualClock::new(0, T0), opts);
        let mut sink = Keep {
            fail_intervals: true,
            ..Default::default()
        };
        let e = rec.run(&mut sink).unwrap_err();
        assert_eq!(e.to_string(), "interval: sink broke");
        assert_eq!(sink.samples.len(), 4);
        assert_eq!(sink.flushed, 1);
    }

    #[test]
    fn zero_interval_is_refused() {
        let mut rec = Recorder::new(
            fake(),
            ManualClock::new(0, T0),
            RecordOptions::new(Duration::ZERO),
        );
        assert!(rec.run(&mut Keep::default()).is_err());
    }

    #[test]
    fn capture_sink_appends_whole_ticks_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cap.json");
        let mut sink = CaptureFileSink::create(&path, Sources::PccOnly).unwrap();
        let opts = RecordOptions::new(Duration::from_secs(1)).max_samples(3);
        let control = Control::new();
        let mut rec = Recorder::new(fake(), ManualClock::new(0, T0), opts).control(control.clone());
        rec.run(&mut sink).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let samples = crate::capture::read_all(text.as_bytes()).unwrap();
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[2].timestamp_s(), T0 / 1000 + 2);
        // Rotation: the file is moved away, reopen makes a new one.
        let moved = dir.path().join("cap.json.1");
        std::fs::rename(&path, &moved).unwrap();
        control.reopen();
        let mut rec = Recorder::new(
            fake(),
            ManualClock::new(0, T0 + 10_000),
            RecordOptions::new(Duration::from_secs(1)).max_samples(2),
        )
        .control(control);
        rec.run(&mut sink).unwrap();
        let new = crate::capture::read_all(std::fs::read(&path).unwrap().as_slice()).unwrap();
        assert_eq!(new.len(), 2);
        assert_eq!(new[0].timestamp_s(), T0 / 1000 + 10);
        let old = crate::capture::read_all(std::fs::read(&moved).unwrap().as_slice()).unwrap();
        assert_eq!(old.len(), 3);
    }

    #[test]
    fn csv_sinks_write_one_header_even_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let portal = dir.path().join("portal.csv");
        for run in 0..2 {
            let mut sink = Tee(vec![
                Box::new(CsvFileSink::create(&path, "m1").unwrap()),
                Box::new(PortalFileSink::create(&portal).unwrap()),
            ]);
            let opts = RecordOptions::new(Duration::from_secs(1)).max_samples(3);
            let clock = ManualClock::new(0, T0 + run * 100_000);
            Recorder::new(fake(), clock, opts).run(&mut sink).unwrap();
        }
        let wide = std::fs::read_to_string(&path).unwrap();
        let rows = crate::csv::ours::read_wide(wide.as_bytes()).unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].machine_id, "m1");
        assert_eq!(
            rows[0].row.get(crate::metrics::Metric::CpuUserPct),
            Some(10.0)
        );
        let long = std::fs::read_to_string(devices_path(&path)).unwrap();
        assert_eq!(long.matches("timestamp,").count(), 1);
        assert!(long.contains(",m1,cpu,0,user_pct,10\n"), "{long}");
        let p = crate::csv::portal::read(std::fs::File::open(&portal).unwrap()).unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p[0].values[0], Some(10.0));
    }

    #[test]
    fn devices_path_names() {
        assert_eq!(
            devices_path(Path::new("/x/run.csv")),
            PathBuf::from("/x/run.devices.csv")
        );
        assert_eq!(
            devices_path(Path::new("/x/run.txt")),
            PathBuf::from("/x/run.txt.devices.csv")
        );
    }

    #[test]
    fn append_file_cuts_a_failed_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = AppendFile::open(dir.path().join("a")).unwrap();
        assert!(f.is_empty());
        f.append(b"one\n").unwrap();
        assert!(!f.is_empty());
        let mut g = AppendFile::open(dir.path().join("a")).unwrap();
        g.append(b"two\n").unwrap();
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"one\ntwo\n");
    }

    #[test]
    fn live_source_reads_cpuinfo_only_now_and_then() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("stat"), "cpu  1 2 3 4\n").unwrap();
        std::fs::write(dir.path().join("cpuinfo"), "processor\t: 0\n\n").unwrap();
        let config =
            ReaderConfig::with_proc_root(dir.path()).sources(&[Source::Cpuinfo, Source::Stat]);
        let mut src = LiveSource::open(config).unwrap().cpuinfo_every(3);
        let mut raw = RawSample::default();
        let mut seen = Vec::new();
        for _ in 0..7 {
            src.read(&mut raw).unwrap();
            assert!(raw.has(Source::Stat));
            seen.push(raw.has(Source::Cpuinfo));
        }
        assert_eq!(seen, [true, false, false, true, false, false, true]);
        src.refresh_cpuinfo();
        src.read(&mut raw).unwrap();
        assert!(raw.has(Source::Cpuinfo));
    }

    #[test]
    fn system_clock_wakes_early_when_written_to() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut clock = SystemClock::with_wakeup(a);
        b.write_all(b"x").unwrap();
        let t0 = std::time::Instant::now();
        let deadline = clock.monotonic_ns() + 30 * S;
        clock.sleep_until(deadline);
        assert!(t0.elapsed() < Duration::from_secs(10));
    }
}
