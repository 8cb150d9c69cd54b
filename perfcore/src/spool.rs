//! Shipping samples to a server without losing any: batches are written to an
//! on-disk spool first, and a sender thread delivers them oldest first through a
//! [`Transport`], retrying with exponential backoff and full jitter while the
//! server is away.
//!
//! The spool is a directory of numbered batch files. Each is written to a
//! temporary name, synced and renamed, so a crash never leaves a half batch that
//! would be sent. The spool is bounded in bytes: past the bound the oldest
//! batches are dropped, each drop counted and warned about. A batch the server
//! refuses for good (a 4xx other than 408/429) is moved to `quarantine/` rather
//! than retried forever. The server dedupes by (machine, timestamp), so a batch
//! sent twice (its answer was lost) is stored once.
//!
//! HTTP is not here: the CLI implements [`Transport`].
//!
//! ```
//! use perfcore::spool::{BatchMeta, Delivery, Spool, SpoolConfig, Transport};
//!
//! struct Print;
//! impl Transport for Print {
//!     fn send(&mut self, meta: &BatchMeta, body: &[u8]) -> Delivery {
//!         println!("{} samples, {} bytes", meta.samples, body.len());
//!         Delivery::Accepted
//!     }
//! }
//! let dir = tempfile::tempdir()?;
//! let spool = Spool::open(SpoolConfig::new(dir.path()))?;
//! let sender = spool.start_sender(Print)?;
//! spool.push(&BatchMeta::capture(1, 1767813011, 1767813011), b"...")?;
//! spool.shutdown(std::time::Duration::from_secs(5));
//! sender.join().expect("sender thread");
//! assert_eq!(spool.stats().sent_batches, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::capture::{Sources, push_sample};
use crate::error::{Error, Result};
use crate::rates::Interval;
use crate::record::RecordSink;
use crate::snapshot::{RawSample, Snapshot};

/// What a batch's body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BatchKind {
    /// A capture chunk (the older collector's NDJSON), gzip-compressed, for
    /// `POST /api/v1/performance/upload`.
    CaptureGzip,
    /// One tick as the older trickle protocol's JSON body
    /// (`{"identifier":...,"measurements":[...]}`), for `POST /v1/trickle`.
    TrickleJson,
}

/// What a batch holds, kept in the first line of its spool file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchMeta {
    /// The body's format.
    pub kind: BatchKind,
    /// Samples in the batch (including the one repeated from the previous batch).
    pub samples: u32,
    /// Timestamp (unix s) of the first sample.
    pub first_ts: i64,
    /// Timestamp (unix s) of the last sample.
    pub last_ts: i64,
}

impl BatchMeta {
    /// A capture batch.
    pub fn capture(samples: u32, first_ts: i64, last_ts: i64) -> Self {
        BatchMeta {
            kind: BatchKind::CaptureGzip,
            samples,
            first_ts,
            last_ts,
        }
    }

    /// A trickle batch (one tick).
    pub fn trickle(ts: i64) -> Self {
        BatchMeta {
            kind: BatchKind::TrickleJson,
            samples: 1,
            first_ts: ts,
            last_ts: ts,
        }
    }
}

/// The outcome of one attempt to deliver a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// The server stored it (or already had it): remove it from the spool.
    Accepted,
    /// Try again later (connection refused, timeout, 5xx, 408, 429).
    Retry {
        /// What happened, for the warning.
        reason: String,
        /// The server's `Retry-After`, if it gave one.
        after: Option<Duration>,
    },
    /// The server refuses this batch for good (4xx): quarantine it.
    Rejected {
        /// What the server said.
        reason: String,
    },
}

/// Delivers one batch. Implemented by the CLI over HTTP; tests use fakes.
pub trait Transport: Send + 'static {
    /// Tries once to deliver `body`.
    fn send(&mut self, meta: &BatchMeta, body: &[u8]) -> Delivery;
}

/// Settings of a [`Spool`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpoolConfig {
    /// The spool directory (created if missing).
    pub dir: PathBuf,
    /// Bound on the bytes of queued batches; past it the oldest are dropped.
    pub max_bytes: u64,
    /// First retry delay bound (doubled each failure, with full jitter).
    pub backoff_initial: Duration,
    /// Largest retry delay.
    pub backoff_max: Duration,
    /// Quarantined batches kept (the oldest are deleted past this).
    pub quarantine_keep: usize,
    /// Write every batch to disk before its first attempt (`true`, the
    /// default), or only when its first attempt fails or at shutdown (`false`:
    /// for small batches every tick, where a file and two fsyncs per tick
    /// would cost more than the sampling; a kill -9 can then lose the one
    /// batch in flight).
    pub write_ahead: bool,
}

impl SpoolConfig {
    /// Defaults: 100 MiB, backoff from 1 s up to 5 min, 100 quarantined batches kept.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SpoolConfig {
            dir: dir.into(),
            max_bytes: 100 << 20,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            quarantine_keep: 100,
            write_ahead: true,
        }
    }

    /// Sets [`SpoolConfig::write_ahead`].
    pub fn write_ahead(mut self, yes: bool) -> Self {
        self.write_ahead = yes;
        self
    }

    /// Sets the byte bound.
    pub fn max_bytes(mut self, n: u64) -> Self {
        self.max_bytes = n;
        self
    }

    /// Sets the backoff range.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff_initial = initial;
        self.backoff_max = max.max(initial);
        self
    }
}

/// Counters of a spool, since it was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SpoolStats {
    /// Batches waiting now.
    pub queued_batches: u64,
    /// Their bytes.
    pub queued_bytes: u64,
    /// Batches waiting that are held in memory because the spool could not be written.
    pub in_memory_batches: u64,
    /// Batches delivered.
    pub sent_batches: u64,
    /// Samples in the batches delivered (overlap samples included).
    pub sent_samples: u64,
    /// Failed attempts.
    pub failed_attempts: u64,
    /// Batches dropped because the spool was over its bound.
    pub dropped_batches: u64,
    /// Samples in the dropped batches.
    pub dropped_samples: u64,
    /// Batches moved to quarantine.
    pub quarantined_batches: u64,
    /// Batches that could not be written to disk.
    pub write_failures: u64,
}

/// What the spool has to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpoolEvent {
    /// Delivery started failing; batches are kept until the server is back.
    Failing {
        /// Why the last attempt failed.
        reason: String,
        /// Batches waiting.
        queued: u64,
    },
    /// Delivery works again.
    Recovered {
        /// Failed attempts in the outage.
        failed_attempts: u64,
    },
    /// Batches were dropped to stay under the bound.
    Dropped {
        /// Batches dropped now.
        batches: u64,
        /// Samples in them.
        samples: u64,
        /// Batches dropped since the spool was opened.
        total_batches: u64,
    },
    /// The server refused a batch for good; it was moved to quarantine.
    Quarantined {
        /// Where it is now.
        path: PathBuf,
        /// What the server said.
        reason: String,
    },
    /// A batch could not be written to disk; it is held in memory.
    WriteFailed {
        /// The error.
        error: String,
    },
    /// Batches left from an earlier run were found and will be sent.
    Resuming {
        /// How many.
        batches: u64,
    },
    /// At shutdown, batches were still waiting (on disk: sent by the next run).
    Left {
        /// On disk.
        on_disk: u64,
        /// Only in memory (lost).
        in_memory: u64,
    },
}

type EventFn = Box<dyn Fn(&SpoolEvent) + Send + Sync>;

#[derive(Debug)]
struct Entry {
    seq: u64,
    meta: BatchMeta,
    bytes: u64,
    /// Held here when it could not be written to disk.
    memory: Option<Arc<Vec<u8>>>,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Entry>,
    next_seq: u64,
    stats: SpoolStats,
    /// Drain until this instant, then stop.
    shutdown: Option<Instant>,
    write_failing: bool,
    /// The last attempt failed (new batches then go to disk at once).
    delivery_failing: bool,
}

struct Inner {
    config: SpoolConfig,
    batches: PathBuf,
    quarantine: PathBuf,
    state: Mutex<State>,
    wake: Condvar,
    on_event: Mutex<Option<EventFn>>,
    _lock: File,
}

/// The on-disk queue of batches, shared by the sampling thread (which pushes)
/// and the sender thread (which delivers). Cloning gives another handle.
#[derive(Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.inner.config.dir)
            .field("stats", &self.stats())
            .finish()
    }
}

const FILE_SUFFIX: &str = ".batch";
const TMP_PREFIX: &str = ".tmp-";

fn spool_err(path: &Path, message: impl Into<String>) -> Error {
    Error::Spool {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A small random source for jitter (splitmix64), seeded from the clocks.
#[derive(Debug)]
struct Jitter(u64);

impl Jitter {
    fn new() -> Self {
        let seed = crate::reader::monotonic_ns()
            ^ (crate::reader::wall_clock_ms() as u64).rotate_left(32)
            ^ u64::from(std::process::id());
        Jitter(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A delay drawn uniformly from [0, min(max, initial × 2^attempt)] ("full jitter").
    fn backoff(&mut self, attempt: u32, initial: Duration, max: Duration) -> Duration {
        let initial_ms = initial.as_millis().max(1) as u64;
        let cap_ms = max.as_millis() as u64;
        let bound = initial_ms
            .saturating_mul(1u64 << attempt.min(40))
            .min(cap_ms)
            .max(1);
        Duration::from_millis(self.next() % (bound + 1))
    }
}

impl Spool {
    /// Opens (creating) the spool directory, takes its lock, and loads the
    /// batches left by an earlier run. Leftover temporary files (a crash
    /// mid-write) are deleted; batch files whose header does not read are
    /// moved to quarantine.
    pub fn open(config: SpoolConfig) -> Result<Spool> {
        let dir = config.dir.clone();
        let batches = dir.join("batches");
        let quarantine = dir.join("quarantine");
        for d in [&dir, &batches, &quarantine] {
            fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        let lock_path = dir.join("lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |_| {
                spool_err(
                    &dir,
                    "in use by another agent (each agent needs its own spool directory)",
                )
            },
        )?;
        let mut found: Vec<(u64, PathBuf)> = Vec::new();
        for entry in fs::read_dir(&batches).map_err(|e| Error::io(&batches, e))? {
            let entry = entry.map_err(|e| Error::io(&batches, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with(TMP_PREFIX) {
                let _ = fs::remove_file(&path);
            } else if let Some(seq) = name
                .strip_suffix(FILE_SUFFIX)
                .and_then(|s| s.parse::<u64>().ok())
            {
                found.push((seq, path));
            }
        }
        found.sort();
        let mut state = State::default();
        let mut bad = Vec::new();
        for (seq, path) in found {
            match read_header(&path) {
                Ok((meta, _)) => {
                    let bytes = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    state.queue.push_back(Entry {
                        seq,
                        meta,
                        bytes,
                        memory: None,
                    });
                }
                Err(_) => bad.push(path),
            }
            state.next_seq = seq + 1;
        }
        for path in bad {
            if let Some(name) = path.file_name() {
                let _ = fs::rename(&path, quarantine.join(name));
            }
        }
        state.stats.queued_batches = state.queue.len() as u64;
        state.stats.queued_bytes = state.queue.iter().map(|e| e.bytes).sum();
        Ok(Spool {
            inner: Arc::new(Inner {
                config,
                batches,
                quarantine,
                state: Mutex::new(state),
                wake: Condvar::new(),
                on_event: Mutex::new(None),
                _lock: lock,
            }),
        })
    }

    /// Calls `f` for each [`SpoolEvent`] (from either thread).
    pub fn on_event(&self, f: impl Fn(&SpoolEvent) + Send + Sync + 'static) {
        if let Ok(mut g) = self.inner.on_event.lock() {
            *g = Some(Box::new(f));
        }
        let queued = self.stats().queued_batches;
        if queued > 0 {
            self.emit(&SpoolEvent::Resuming { batches: queued });
        }
    }

    fn emit(&self, e: &SpoolEvent) {
        if let Ok(g) = self.inner.on_event.lock()
            && let Some(f) = g.as_ref()
        {
            f(e);
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking sender thread must not take the sampling thread down with it.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.inner.config.dir
    }

    /// Counters so far.
    pub fn stats(&self) -> SpoolStats {
        let s = self.state();
        let mut st = s.stats.clone();
        st.queued_batches = s.queue.len() as u64;
        st.queued_bytes = s.queue.iter().map(|e| e.bytes).sum();
        st.in_memory_batches = s.queue.iter().filter(|e| e.memory.is_some()).count() as u64;
        st
    }

    fn batch_path(&self, seq: u64) -> PathBuf {
        self.inner.batches.join(format!("{seq:016}{FILE_SUFFIX}"))
    }

    /// Queues a batch: written durably to disk (or, if that fails, held in
    /// memory with a warning), then the oldest batches are dropped while the
    /// spool is over its bound (the newest batch is always kept).
    pub fn push(&self, meta: &BatchMeta, body: &[u8]) -> Result<()> {
        let mut header =
            serde_json::to_vec(meta).map_err(|e| spool_err(self.dir(), e.to_string()))?;
        header.push(b'\n');
        let seq = {
            let mut s = self.state();
            let seq = s.next_seq;
            s.next_seq += 1;
            seq
        };
        let bytes = (header.len() + body.len()) as u64;
        let direct = !self.inner.config.write_ahead && {
            let s = self.state();
            s.queue.is_empty() && !s.delivery_failing
        };
        let written = if direct {
            Err(None)
        } else {
            self.write_batch(seq, &header, body).map_err(Some)
        };
        let mut events = Vec::new();
        {
            let mut s = self.state();
            let memory = match written {
                Ok(()) => {
                    s.write_failing = false;
                    None
                }
                Err(None) => {
                    let mut all = header;
                    all.extend_from_slice(body);
                    Some(Arc::new(all))
                }
                Err(Some(e)) => {
                    s.stats.write_failures += 1;
                    if !s.write_failing {
                        s.write_failing = true;
                        events.push(SpoolEvent::WriteFailed {
                            error: e.to_string(),
                        });
                    }
                    let mut all = header;
                    all.extend_from_slice(body);
                    Some(Arc::new(all))
                }
            };
            s.queue.push_back(Entry {
                seq,
                meta: meta.clone(),
                bytes,
                memory,
            });
            let (mut n, mut samples) = (0u64, 0u64);
            let mut total: u64 = s.queue.iter().map(|e| e.bytes).sum();
            while total > self.inner.config.max_bytes && s.queue.len() > 1 {
                let Some(old) = s.queue.pop_front() else {
                    break;
                };
                total -= old.bytes;
                if old.memory.is_none() {
                    let _ = fs::remove_file(self.batch_path(old.seq));
                }
                n += 1;
                samples += u64::from(old.meta.samples);
            }
            if n > 0 {
                s.stats.dropped_batches += n;
                s.stats.dropped_samples += samples;
                events.push(SpoolEvent::Dropped {
                    batches: n,
                    samples,
                    total_batches: s.stats.dropped_batches,
                });
            }
        }
        self.inner.wake.notify_all();
        for e in &events {
            self.emit(e);
        }
        Ok(())
    }

    fn write_batch(&self, seq: u64, header: &[u8], body: &[u8]) -> Result<()> {
        let tmp = self.inner.batches.join(format!("{TMP_PREFIX}{seq}"));
        let dst = self.batch_path(seq);
        let r = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(header)?;
            f.write_all(body)?;
            f.sync_all()?;
            fs::rename(&tmp, &dst)?;
            sync_dir(&self.inner.batches)
        })();
        r.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io(&dst, e)
        })
    }

    /// Writes a batch held in memory to disk (it then leaves memory).
    fn persist(&self, seq: u64) {
        let raw = {
            let s = self.state();
            match s.queue.iter().find(|e| e.seq == seq) {
                Some(Entry {
                    memory: Some(m), ..
                }) => Arc::clone(m),
                _ => return,
            }
        };
        let Some(nl) = raw.iter().position(|&b| b == b'\n') else {
            return;
        };
        if self.write_batch(seq, &raw[..=nl], &raw[nl + 1..]).is_ok() {
            let mut s = self.state();
            match s.queue.iter_mut().find(|e| e.seq == seq) {
                Some(e) => e.memory = None,
                // Dropped meanwhile: the file must not come back as a batch.
                None => {
                    let _ = fs::remove_file(self.batch_path(seq));
                }
            }
        }
    }

    fn persist_all(&self) {
        let held: Vec<u64> = self
            .state()
            .queue
            .iter()
            .filter(|e| e.memory.is_some())
            .map(|e| e.seq)
            .collect();
        for seq in held {
            self.persist(seq);
        }
    }

    fn load(&self, seq: u64, memory: Option<Arc<Vec<u8>>>) -> Option<Vec<u8>> {
        let raw = match memory {
            Some(m) => m.as_ref().clone(),
            None => fs::read(self.batch_path(seq)).ok()?,
        };
        let nl = raw.iter().position(|&b| b == b'\n')?;
        Some(raw[nl + 1..].to_vec())
    }

    fn remove(&self, seq: u64) -> Option<Entry> {
        let mut s = self.state();
        let pos = s.queue.iter().position(|e| e.seq == seq)?;
        let e = s.queue.remove(pos)?;
        if e.memory.is_none() {
            let _ = fs::remove_file(self.batch_path(seq));
        }
        Some(e)
    }

    fn quarantine(&self, seq: u64, body: &[u8], reason: &str) -> PathBuf {
        let dst = self
            .inner
            .quarantine
            .join(format!("{seq:016}{FILE_SUFFIX}"));
        if let Some(e) = self.remove_keep_file(seq) {
            let moved = fs::rename(self.batch_path(seq), &dst);
            if e.memory.is_some() || moved.is_err() {
                let _ = fs::write(&dst, body);
            }
        }
        let _ = fs::write(dst.with_extension("reason"), reason);
        self.state().stats.quarantined_batches += 1;
        self.trim_quarantine();
        dst
    }

    fn remove_keep_file(&self, seq: u64) -> Option<Entry> {
        let mut s = self.state();
        let pos = s.queue.iter().position(|e| e.seq == seq)?;
        s.queue.remove(pos)
    }

    fn trim_quarantine(&self) {
        let Ok(rd) = fs::read_dir(&self.inner.quarantine) else {
            return;
        };
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "batch"))
            .collect();
        files.sort();
        let keep = self.inner.config.quarantine_keep;
        if files.len() > keep {
            for p in &files[..files.len() - keep] {
                let _ = fs::remove_file(p);
                let _ = fs::remove_file(p.with_extension("reason"));
            }
        }
    }

    /// Starts the thread that delivers batches through `transport` until
    /// [`Spool::shutdown`].
    pub fn start_sender(&self, transport: impl Transport) -> Result<JoinHandle<()>> {
        let spool = self.clone();
        let mut transport = transport;
        std::thread::Builder::new()
            .name("perfan-sender".into())
            .spawn(move || spool.send_loop(&mut transport))
            .map_err(|e| Error::io(self.dir(), e))
    }

    fn send_loop(&self, transport: &mut dyn Transport) {
        let mut jitter = Jitter::new();
        let mut attempt: u32 = 0;
        let mut failing = false;
        let mut outage_failures = 0u64;
        loop {
            let (seq, meta, memory) = {
                let mut s = self.state();
                loop {
                    if let Some(deadline) = s.shutdown
                        && (s.queue.is_empty() || Instant::now() >= deadline)
                    {
                        drop(s);
                        // What is left goes to disk for the next run, if the disk lets it.
                        self.persist_all();
                        let s = self.state();
                        let on_disk = s.queue.iter().filter(|e| e.memory.is_none()).count() as u64;
                        let in_memory = s.queue.len() as u64 - on_disk;
                        drop(s);
                        if on_disk + in_memory > 0 {
                            self.emit(&SpoolEvent::Left { on_disk, in_memory });
                        }
                        return;
                    }
                    if let Some(e) = s.queue.front() {
                        break (e.seq, e.meta.clone(), e.memory.clone());
                    }
                    s = self
                        .inner
                        .wake
                        .wait(s)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
            };
            let Some(body) = self.load(seq, memory) else {
                // Dropped (over the bound) or unreadable since it was queued.
                self.remove(seq);
                continue;
            };
            match transport.send(&meta, &body) {
                Delivery::Accepted => {
                    self.remove(seq);
                    {
                        let mut s = self.state();
                        s.stats.sent_batches += 1;
                        s.stats.sent_samples += u64::from(meta.samples);
                        s.delivery_failing = false;
                    }
                    attempt = 0;
                    if failing {
                        failing = false;
                        self.emit(&SpoolEvent::Recovered {
                            failed_attempts: outage_failures,
                        });
                        outage_failures = 0;
                    }
                }
                Delivery::Rejected { reason } => {
                    let path = self.quarantine(seq, &body, &reason);
                    self.emit(&SpoolEvent::Quarantined { path, reason });
                }
                Delivery::Retry { reason, after } => {
                    outage_failures += 1;
                    let queued = {
                        let mut s = self.state();
                        s.stats.failed_attempts += 1;
                        s.delivery_failing = true;
                        s.queue.len() as u64
                    };
                    // Held in memory for a quick first try: to disk now, it may wait long.
                    self.persist(seq);
                    if !failing {
                        failing = true;
                        self.emit(&SpoolEvent::Failing { reason, queued });
                    }
                    let delay = after.unwrap_or_else(|| {
                        jitter.backoff(
                            attempt,
                            self.inner.config.backoff_initial,
                            self.inner.config.backoff_max,
                        )
                    });
                    attempt = attempt.saturating_add(1);
                    let until = Instant::now() + delay;
                    let mut s = self.state();
                    loop {
                        let now = Instant::now();
                        let end = match s.shutdown {
                            Some(d) => until.min(d),
                            None => until,
                        };
                        if now >= end {
                            break;
                        }
                        s = self
                            .inner
                            .wake
                            .wait_timeout(s, end - now)
                            .map(|(g, _)| g)
                            .unwrap_or_else(|poisoned| poisoned.into_inner().0);
                    }
                }
            }
        }
    }

    /// Asks the sender to deliver what it can within `drain`, then stop. Batches
    /// still queued then stay on disk for the next run.
    pub fn shutdown(&self, drain: Duration) {
        self.state().shutdown = Some(Instant::now() + drain);
        self.inner.wake.notify_all();
    }
}

fn read_header(path: &Path) -> Result<(BatchMeta, u64)> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut r = BufReader::new(f.take(4096));
    let mut line = String::new();
    let n = r.read_line(&mut line).map_err(|e| Error::io(path, e))?;
    let meta: BatchMeta = serde_json::from_str(line.trim_end())
        .map_err(|e| spool_err(path, format!("header: {e}")))?;
    Ok((meta, n as u64))
}

/// Reads a spooled batch file: its header and body.
pub fn read_batch_file(path: &Path) -> Result<(BatchMeta, Vec<u8>)> {
    let (meta, header_len) = read_header(path)?;
    let mut all = fs::read(path).map_err(|e| Error::io(path, e))?;
    let body = all.split_off(
        usize::try_from(header_len)
            .unwrap_or(all.len())
            .min(all.len()),
    );
    Ok((meta, body))
}

/// How a [`ShipSink`] cuts and encodes batches.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShipFormat {
    /// Capture chunks of up to `samples` new samples each (gzip), each starting
    /// with the last sample of the previous chunk.
    Capture {
        /// New samples per batch.
        samples: u32,
    },
    /// One trickle body per sample, as the older collector sent them.
    Trickle {
        /// The machine's identifier in the body.
        identifier: String,
    },
}

/// A [`RecordSink`] that cuts samples into batches, spools them and has a
/// sender thread deliver them.
pub struct ShipSink {
    spool: Spool,
    format: ShipFormat,
    sender: Option<JoinHandle<()>>,
    drain: Duration,
    batch: String,
    batch_new: u32,
    batch_samples: u32,
    first_ts: i64,
    last_ts: i64,
    overlap: String,
    overlap_ts: i64,
    one: String,
}

impl std::fmt::Debug for ShipSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShipSink")
            .field("spool", &self.spool)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl ShipSink {
    /// Ships through `transport`, spooling in `spool`; at the end, the sender
    /// gets `drain` to deliver what is queued.
    pub fn new(
        spool: Spool,
        format: ShipFormat,
        transport: impl Transport,
        drain: Duration,
    ) -> Result<Self> {
        let sender = Some(spool.start_sender(transport)?);
        Ok(ShipSink {
            spool,
            format,
            sender,
            drain,
            batch: String::new(),
            batch_new: 0,
            batch_samples: 0,
            first_ts: 0,
            last_ts: 0,
            overlap: String::new(),
            overlap_ts: 0,
            one: String::new(),
        })
    }

    /// The spool (for its counters).
    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    fn close_batch(&mut self) -> Result<()> {
        if self.batch_new == 0 {
            return Ok(());
        }
        let meta = BatchMeta::capture(self.batch_samples, self.first_ts, self.last_ts);
        let body = gzip(self.batch.as_bytes()).map_err(|e| Error::io(self.spool.dir(), e))?;
        self.batch.clear();
        self.batch_new = 0;
        self.batch_samples = 0;
        self.spool.push(&meta, &body)
    }
}

/// Gzip at the fastest level: capture text shrinks about tenfold even so, and
/// the agent's CPU matters more than a few bytes.
pub fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 8 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(data)?;
    enc.finish()
}

/// The trickle body of one sample: `{"identifier":...,"measurements":[...]}`.
pub fn trickle_body(identifier: &str, sample: &RawSample) -> String {
    let mut lines = String::new();
    push_sample(&mut lines, sample, Sources::PccOnly);
    let mut out = String::with_capacity(lines.len() + identifier.len() + 40);
    out.push_str("{\"identifier\":");
    crate::gofmt::push_json_string(&mut out, identifier.as_bytes());
    out.push_str(",\"measurements\":[");
    for (i, l) in lines.lines().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(l);
    }
    out.push_str("]}");
    out
}

impl RecordSink for ShipSink {
    fn whole_seconds(&self) -> bool {
        true
    }

    fn sample(&mut self, raw: &RawSample, _snap: &Snapshot<'_>) -> Result<()> {
        let ts = raw.timestamp_s();
        match &self.format {
            ShipFormat::Trickle { identifier } => {
                let body = trickle_body(identifier, raw);
                self.spool.push(&BatchMeta::trickle(ts), body.as_bytes())
            }
            ShipFormat::Capture { samples } => {
                let per_batch = (*samples).max(1);
                if self.batch_samples == 0 {
                    if self.overlap.is_empty() {
                        self.first_ts = ts;
                    } else {
                        self.batch.push_str(&self.overlap);
                        self.batch_samples = 1;
                        self.first_ts = self.overlap_ts;
                    }
                }
                self.one.clear();
                push_sample(&mut self.one, raw, Sources::All);
                self.batch.push_str(&self.one);
                self.batch_samples += 1;
                self.batch_new += 1;
                self.last_ts = ts;
                std::mem::swap(&mut self.overlap, &mut self.one);
                self.overlap_ts = ts;
                if self.batch_new >= per_batch {
                    self.close_batch()?;
                }
                Ok(())
            }
        }
    }

    fn interval(&mut self, _iv: &Interval, _cur: &Snapshot<'_>) -> Result<()> {
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.close_batch()
    }

    fn finish(&mut self) -> Result<()> {
        let r = self.close_batch();
        self.spool.shutdown(self.drain);
        if let Some(h) = self.sender.take() {
            let _ = h.join();
        }
        r
    }
}

impl Drop for ShipSink {
    fn drop(&mut self) {
        if let Some(h) = self.sender.take() {
            self.spool.shutdown(Duration::ZERO);
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
        let t0 = Instant::now();
        while !f() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    type Received = Arc<Mutex<Vec<(BatchMeta, Vec<u8>)>>>;

    /// Records what it is sent; fails while `down` says so.
    #[derive(Clone, Default)]
    struct Fake {
        got: Received,
        down: Arc<AtomicU32>,
        reject: Arc<AtomicU32>,
    }

    impl Transport for Fake {
        fn send(&mut self, meta: &BatchMeta, body: &[u8]) -> Delivery {
            if self.reject.load(Ordering::SeqCst) > 0 {
                self.reject.fetch_sub(1, Ordering::SeqCst);
                return Delivery::Rejected {
                    reason: "400 bad capture".into(),
                };
            }
            if self.down.load(Ordering::SeqCst) > 0 {
                return Delivery::Retry {
                    reason: "connection refused".into(),
                    after: None,
                };
            }
            self.got.lock().unwrap().push((meta.clone(), body.to_vec()));
            Delivery::Accepted
        }
    }

    fn config(dir: &Path) -> SpoolConfig {
        SpoolConfig::new(dir).backoff(Duration::from_millis(1), Duration::from_millis(20))
    }

    #[test]
    fn batches_are_sent_in_order_after_an_outage() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(config(dir.path())).unwrap();
        let fake = Fake::default();
        fake.down.store(1, Ordering::SeqCst);
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev = Arc::clone(&events);
        spool.on_event(move |e| ev.lock().unwrap().push(e.clone()));
        let h = spool.start_sender(fake.clone()).unwrap();
        for i in 0..5 {
            spool
                .push(&BatchMeta::capture(1, i, i), format!("b{i}").as_bytes())
                .unwrap();
        }
        wait_for("failed attempts", || spool.stats().failed_attempts >= 3);
        assert_eq!(spool.stats().queued_batches, 5);
        assert_eq!(fs::read_dir(dir.path().join("batches")).unwrap().count(), 5);
        fake.down.store(0, Ordering::SeqCst);
        wait_for("delivery", || spool.stats().sent_batches == 5);
        let got: Vec<String> = fake
            .got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| String::from_utf8(b.clone()).unwrap())
            .collect();
        assert_eq!(got, ["b0", "b1", "b2", "b3", "b4"]);
        assert_eq!(fs::read_dir(dir.path().join("batches")).unwrap().count(), 0);
        spool.shutdown(Duration::ZERO);
        h.join().unwrap();
        let ev = events.lock().unwrap();
        assert!(matches!(ev[0], SpoolEvent::Failing { .. }), "{ev:?}");
        assert!(matches!(ev[1], SpoolEvent::Recovered { .. }), "{ev:?}");
    }

    #[test]
    fn over_the_bound_the_oldest_are_dropped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        // Each batch is its header (~70 bytes) + 100 bytes; room for three.
        let spool = Spool::open(config(dir.path()).max_bytes(3 * 175)).unwrap();
        let dropped = Arc::new(Mutex::new(Vec::new()));
        let d = Arc::clone(&dropped);
        spool.on_event(move |e| {
            if let SpoolEvent::Dropped { batches, .. } = e {
                d.lock().unwrap().push(*batches);
            }
        });
        for i in 0..5 {
            spool
                .push(&BatchMeta::capture(2, i, i), &[b'x'; 100])
                .unwrap();
        }
        let st = spool.stats();
        assert_eq!(st.queued_batches, 3);
        assert_eq!((st.dropped_batches, st.dropped_samples), (2, 4));
        assert_eq!(*dropped.lock().unwrap(), [1, 1]);
        // The survivors are the newest three, and they come back after a restart.
        drop(spool);
        let spool = Spool::open(config(dir.path())).unwrap();
        let fake = Fake::default();
        let h = spool.start_sender(fake.clone()).unwrap();
        spool.shutdown(Duration::from_secs(10));
        h.join().unwrap();
        let firsts: Vec<i64> = fake
            .got
            .lock()
            .unwrap()
            .iter()
            .map(|(m, _)| m.first_ts)
            .collect();
        assert_eq!(firsts, [2, 3, 4]);
    }

    #[test]
    fn a_refused_batch_is_quarantined_and_the_rest_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(config(dir.path())).unwrap();
        let fake = Fake::default();
        fake.reject.store(1, Ordering::SeqCst);
        spool.push(&BatchMeta::capture(1, 1, 1), b"bad").unwrap();
        spool.push(&BatchMeta::capture(1, 2, 2), b"good").unwrap();
        let h = spool.start_sender(fake.clone()).unwrap();
        spool.shutdown(Duration::from_secs(10));
        h.join().unwrap();
        assert_eq!(fake.got.lock().unwrap().len(), 1);
        assert_eq!(spool.stats().quarantined_batches, 1);
        let q = dir.path().join("quarantine/0000000000000000.batch");
        let (meta, body) = read_batch_file(&q).unwrap();
        assert_eq!((meta.first_ts, body.as_slice()), (1, &b"bad"[..]));
        assert_eq!(
            fs::read_to_string(q.with_extension("reason")).unwrap(),
            "400 bad capture"
        );
    }

    #[test]
    fn leftovers_of_a_crash_are_cleaned_and_the_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = Spool::open(config(dir.path())).unwrap();
            spool.push(&BatchMeta::capture(1, 7, 7), b"kept").unwrap();
            let e = Spool::open(config(dir.path())).unwrap_err().to_string();
            assert!(e.contains("in use by another agent"), "{e}");
        }
        let b = dir.path().join("batches");
        fs::write(b.join(".tmp-9"), "half a batch").unwrap();
        fs::write(b.join("0000000000000005.batch"), "not json\n").unwrap();
        let spool = Spool::open(config(dir.path())).unwrap();
        assert!(!b.join(".tmp-9").exists());
        assert!(
            dir.path()
                .join("quarantine/0000000000000005.batch")
                .exists()
        );
        assert_eq!(spool.stats().queued_batches, 1);
        // New batches number after the highest seen.
        spool.push(&BatchMeta::capture(1, 8, 8), b"new").unwrap();
        assert!(b.join("0000000000000006.batch").exists());
    }

    #[test]
    fn unwritable_spool_holds_batches_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(config(dir.path())).unwrap();
        // Make the batches directory unusable: replace it by a file.
        fs::remove_dir_all(dir.path().join("batches")).unwrap();
        fs::write(dir.path().join("batches"), "").unwrap();
        spool.push(&BatchMeta::capture(1, 1, 1), b"mem").unwrap();
        let st = spool.stats();
        assert_eq!((st.write_failures, st.in_memory_batches), (1, 1));
        let fake = Fake::default();
        let h = spool.start_sender(fake.clone()).unwrap();
        spool.shutdown(Duration::from_secs(10));
        h.join().unwrap();
        assert_eq!(fake.got.lock().unwrap()[0].1, b"mem");
    }

    #[test]
    fn without_write_ahead_batches_reach_disk_only_when_delivery_fails() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(config(dir.path()).write_ahead(false)).unwrap();
        let files = || fs::read_dir(dir.path().join("batches")).unwrap().count();
        let fake = Fake::default();
        let h = spool.start_sender(fake.clone()).unwrap();
        spool.push(&BatchMeta::trickle(1), b"t1").unwrap();
        wait_for("delivery", || spool.stats().sent_batches == 1);
        assert_eq!(files(), 0);
        // The server goes away: the failed batch is written to disk, and so is
        // every batch after it while delivery fails.
        fake.down.store(1, Ordering::SeqCst);
        spool.push(&BatchMeta::trickle(2), b"t2").unwrap();
        wait_for("a failed attempt", || spool.stats().failed_attempts >= 1);
        wait_for("the batch on disk", || {
            files() == 1 && spool.stats().in_memory_batches == 0
        });
        spool.push(&BatchMeta::trickle(3), b"t3").unwrap();
        assert_eq!(files(), 2);
        assert_eq!(spool.stats().in_memory_batches, 0);
        fake.down.store(0, Ordering::SeqCst);
        wait_for("delivery", || spool.stats().sent_batches == 3);
        spool.shutdown(Duration::ZERO);
        h.join().unwrap();
        let got: Vec<Vec<u8>> = fake
            .got
            .lock()
            .unwrap()
            .iter()
            .map(|g| g.1.clone())
            .collect();
        assert_eq!(got, [b"t1".to_vec(), b"t2".to_vec(), b"t3".to_vec()]);
        assert_eq!(files(), 0);
    }

    #[test]
    fn batches_held_in_memory_are_written_out_at_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = Spool::open(config(dir.path()).write_ahead(false)).unwrap();
            spool.push(&BatchMeta::trickle(1), b"kept").unwrap();
            assert_eq!(spool.stats().in_memory_batches, 1);
            // A sender that never gets to send: shut down at once.
            spool.shutdown(Duration::ZERO);
            let h = spool.start_sender(Fake::default()).unwrap();
            h.join().unwrap();
        }
        let spool = Spool::open(config(dir.path())).unwrap();
        assert_eq!(spool.stats().queued_batches, 1);
    }

    #[test]
    fn full_jitter_stays_within_the_doubling_bound() {
        let mut j = Jitter(1);
        let (a, b) = (Duration::from_millis(100), Duration::from_secs(5));
        for attempt in 0..20 {
            let bound = (100u64 << attempt.min(10)).min(5000);
            for _ in 0..50 {
                let d = j.backoff(attempt, a, b).as_millis() as u64;
                assert!(d <= bound, "attempt {attempt}: {d} > {bound}");
            }
        }
        // Not all the same: it is random.
        let v: Vec<_> = (0..10).map(|_| j.backoff(8, a, b)).collect();
        assert!(v.iter().any(|d| *d != v[0]));
    }

    fn sample(ts: i64, n: u64) -> RawSample {
        let mut r = RawSample::new(ts * 1000);
        r.set(crate::Source::Stat, format!("cpu  {n} 0 0 0\n").as_bytes());
        r
    }

    #[test]
    fn capture_batches_overlap_by_one_sample() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(config(dir.path())).unwrap();
        let fake = Fake::default();
        let mut sink = ShipSink::new(
            spool,
            ShipFormat::Capture { samples: 3 },
            fake.clone(),
            Duration::from_secs(10),
        )
        .unwrap();
        for i in 0..7 {
            let raw = sample(100 + i, i as u64);
            let snap = raw.parse().unwrap();
            sink.sample(&raw, &snap).unwrap();
        }
        sink.flush().unwrap();
        sink.finish().unwrap();
        let got = fake.got.lock().unwrap();
        let ts: Vec<Vec<i64>> = got
            .iter()
            .map(|(_, body)| {
                let mut text = Vec::new();
                flate2::read::GzDecoder::new(body.as_slice())
                    .read_to_end(&mut text)
                    .unwrap();
                crate::capture::read_all(text.as_slice())
                    .unwrap()
                    .iter()
                    .map(|s| s.timestamp_s())
                    .collect()
            })
            .collect();
        assert_eq!(
            ts,
            vec![
                vec![100, 101, 102],
                vec![102, 103, 104, 105],
                vec![105, 106]
            ]
        );
        let metas: Vec<(u32, i64, i64)> = got
            .iter()
            .map(|(m, _)| (m.samples, m.first_ts, m.last_ts))
            .collect();
        assert_eq!(metas, [(3, 100, 102), (4, 102, 105), (2, 105, 106)]);
    }

    #[test]
    fn trickle_bodies_are_the_older_protocol() {
        let raw = sample(1767813011, 5);
        let body = trickle_body("m-1", &raw);
        assert_eq!(
            body,
            "{\"identifier\":\"m-1\",\"measurements\":[{\"timestamp\":1767813011,\"subsystem\":\"/proc/stat\",\"measurement\":\"cpu  5 0 0 0\\n\"}]}"
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["measurements"][0]["subsystem"], "/proc/stat");
    }
}
