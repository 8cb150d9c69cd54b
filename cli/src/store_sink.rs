//! The default destination of `perfan record`: the local store (SQLite by
//! default), as interval rows and per-device series, committed in batches.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use perfcore::csv::ours::{LongWriter, WideWriter, read_long, read_wide};
use perfcore::metrics::{DeviceKind, DeviceRow, IntervalRow, MachineFacts, device_rows_into};
use perfcore::record::RecordSink;
use perfcore::{Interval, RawSample, Snapshot};
use perfstore::{Labels, MachineId, Store, TenantId};

use crate::import::MetricNames;

/// Rows held while the store refuses them (e.g. the disk is full), at most;
/// past this the oldest are dropped (about 3 hours at 1 s).
const MAX_HELD_ROWS: usize = 10_000;

/// The rows taken but not yet committed, also appended to two files beside a
/// SQLite store as they are taken (one write per interval, in our CSV schema), so
/// a `kill -9` loses none of them: the next `record` into the same store for the
/// same machine stores them first. Ingest is idempotent on machine and
/// timestamp, so rows committed just before the kill are not stored twice. The
/// files are emptied after each commit.
pub struct Journal {
    rows_path: PathBuf,
    devices_path: PathBuf,
    rows: WideWriter<File>,
    devices: LongWriter<File>,
}

/// What a journal held when it was opened: rows an earlier run took but did not
/// commit.
#[derive(Debug, Default)]
pub struct Leftovers {
    /// Interval rows.
    pub rows: Vec<IntervalRow>,
    /// Per-device rows.
    pub devices: Vec<DeviceRow>,
    /// The length of each file's complete lines (rows, devices), when it has rows.
    kept: [Option<usize>; 2],
}

/// How often the store sink commits unless told. Into a SQLite file, whose
/// uncommitted rows the journal keeps, every 60 intervals, at most every 60 s
/// (fewer, larger transactions cost less per sample: each writes the pages it
/// touches once; 60 intervals bound what a batch holds in memory and how long
/// its commit takes at short intervals). Elsewhere every 10 s, where a
/// `kill -9` loses the uncommitted part.
pub fn default_commit_every(url: &str, interval: Duration) -> Duration {
    if sqlite_file(url).is_some() {
        interval.saturating_mul(60).min(Duration::from_secs(60))
    } else {
        Duration::from_secs(10)
    }
}

/// The SQLite file of a store URL, when it is one (not PostgreSQL, not in memory).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let path = match url.strip_prefix("sqlite://") {
        Some(p) => p,
        None => match url.strip_prefix("sqlite:") {
            Some(p) => p,
            None if !url.contains("://") => url,
            None => return None,
        },
    };
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// A file-name-safe form of a machine key (kept as is when it already is one).
fn file_key(machine: &str) -> String {
    if !machine.is_empty()
        && machine
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !machine.starts_with('.')
    {
        return machine.to_owned();
    }
    let mut out = String::from("x");
    for b in machine.bytes() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The text of a journal file up to its last complete line (a write cut short by
/// a crash leaves at most one partial line), or `None` when it has no row.
fn complete_lines(path: &Path) -> Result<Option<Vec<u8>>> {
    let mut bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let end = bytes.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
    bytes.truncate(end);
    // A header and nothing more is an empty journal.
    let lines = bytes.iter().filter(|&&c| c == b'\n').count();
    Ok((lines > 1).then_some(bytes))
}

/// A journal file opened for appending: when it holds rows (`kept`, the length
/// of its complete lines), cut after them and continued, so they stay on disk
/// until they are committed; otherwise started afresh with `fresh`'s header.
fn reopen<W>(
    path: &Path,
    kept: Option<usize>,
    fresh: impl FnOnce(File) -> std::io::Result<W>,
    continuing: impl FnOnce(File) -> W,
) -> Result<W> {
    let ctx = || format!("opening {}", path.display());
    match kept {
        Some(len) => {
            let f = std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .with_context(ctx)?;
            f.set_len(len as u64).with_context(ctx)?;
            Ok(continuing(f))
        }
        None => Ok(fresh(File::create(path).with_context(ctx)?).with_context(ctx)?),
    }
}

impl Journal {
    /// Opens the journal of `machine` beside the store file `db`, with what an
    /// earlier run left in it: those rows stay in the files (past a torn last
    /// line, which is cut) until a commit empties them. A journal that cannot be
    /// read is moved aside (`.bad`) with a warning, not deleted.
    pub fn open(db: &Path, machine: &str) -> Result<(Journal, Leftovers)> {
        let mut dir = db.as_os_str().to_owned();
        dir.push(".pending");
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let key = file_key(machine);
        let rows_path = dir.join(format!("{key}.rows.csv"));
        let devices_path = dir.join(format!("{key}.devices.csv"));
        let left = match Self::read(&rows_path, &devices_path) {
            Ok(left) => left,
            Err(e) => {
                for p in [&rows_path, &devices_path] {
                    let mut bad = p.as_os_str().to_owned();
                    bad.push(".bad");
                    let _ = std::fs::rename(p, PathBuf::from(&bad));
                }
                eprintln!(
                    "perfan: warning: the uncommitted rows in {} could not be read ({e:#}); \
                     moved aside as *.bad",
                    dir.display()
                );
                Leftovers::default()
            }
        };
        let j = Journal {
            rows: reopen(
                &rows_path,
                left.kept[0],
                WideWriter::new,
                WideWriter::continuing,
            )?,
            devices: reopen(
                &devices_path,
                left.kept[1],
                LongWriter::new,
                LongWriter::continuing,
            )?,
            rows_path,
            devices_path,
        };
        Ok((j, left))
    }

    /// The rows of both files.
    fn read(rows_path: &Path, devices_path: &Path) -> Result<Leftovers> {
        let mut left = Leftovers::default();
        if let Some(text) = complete_lines(rows_path)? {
            left.rows = read_wide(text.as_slice())
                .with_context(|| format!("reading {}", rows_path.display()))?
                .into_iter()
                .map(|r| r.row)
                .collect();
            left.kept[0] = Some(text.len());
        }
        if let Some(text) = complete_lines(devices_path)? {
            let mut names = MetricNames::default();
            left.devices = read_long(text.as_slice())
                .with_context(|| format!("reading {}", devices_path.display()))?
                .into_iter()
                .map(|r| names.row(r))
                .collect();
            left.kept[1] = Some(text.len());
        }
        Ok(left)
    }

    /// Appends one interval: its device rows, then its row.
    pub fn append(
        &mut self,
        machine: &str,
        row: &IntervalRow,
        devices: &[DeviceRow],
    ) -> std::io::Result<()> {
        if !devices.is_empty() {
            self.devices.write(machine, devices)?;
        }
        self.rows.write(machine, row)
    }

    /// Removes the (empty) files, and their directory when nothing else is in it.
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.rows_path);
        let _ = std::fs::remove_file(&self.devices_path);
        if let Some(dir) = self.rows_path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }

    /// Starts both files again, holding `rows` and `devices` (none after a commit).
    pub fn rewrite(
        &mut self,
        machine: &str,
        rows: &[IntervalRow],
        devices: &[DeviceRow],
    ) -> std::io::Result<()> {
        self.rows = WideWriter::new(File::create(&self.rows_path)?)?;
        self.devices = LongWriter::new(File::create(&self.devices_path)?)?;
        for r in rows {
            self.rows.write(machine, r)?;
        }
        if !devices.is_empty() {
            self.devices.write(machine, devices)?;
        }
        Ok(())
    }
}

/// Gives the heap memory a commit freed back to the system. glibc keeps freed
/// memory in its arenas (here mostly the SQLite worker thread's: a minute's
/// statements, pages and rows), so without this the agent's resident set creeps
/// up to the most a commit ever needed. Once a minute, a few microseconds.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim_heap() {
    // SAFETY: malloc_trim takes no pointer and only returns free memory of glibc's
    // own arenas to the kernel; it locks each arena, so it is safe beside other
    // threads' allocations.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other C libraries return memory on their own terms.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() {}

/// Writes intervals to the store, one transaction per batch of `commit_every`
/// worth of intervals (at least one). Every committed row stays after a
/// `kill -9`; on SQLite the [`Journal`] keeps the uncommitted ones for the next
/// run, elsewhere a `kill -9` loses at most that much of the newest data.
pub struct StoreSink {
    rt: tokio::runtime::Runtime,
    store: Store,
    tenant: TenantId,
    machine_key: String,
    machine: MachineId,
    hostname: Option<String>,
    facts: MachineFacts,
    facts_stored: MachineFacts,
    rows: Vec<IntervalRow>,
    devices: Vec<DeviceRow>,
    rows_per_commit: usize,
    /// Rows dropped because the store refused them for too long.
    pub dropped_rows: u64,
    /// The machine's newest stored interval when the sink opened.
    resume_after_ms: Option<i64>,
    /// The uncommitted rows on disk (SQLite stores only).
    journal: Option<Journal>,
}

impl StoreSink {
    /// Opens the store at `url` (migrating it), the tenant, and the machine.
    pub fn open(
        url: &str,
        tenant: &str,
        machine_key: &str,
        hostname: Option<String>,
        kernel: Option<String>,
        interval: Duration,
        commit_every: Duration,
    ) -> Result<StoreSink> {
        // One thread: the agent makes one call at a time.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let store = rt
            .block_on(Store::open_with(url, &perfstore::OpenOptions::small()))
            .with_context(|| format!("opening {}", perfstore::redact_url(url)))?;
        let t = rt.block_on(crate::db::tenant(&store, tenant))?;
        let m = rt.block_on(store.upsert_machine(
            t.id,
            machine_key,
            hostname.as_deref(),
            &Labels::new(),
            &MachineFacts::default(),
        ))?;
        let (journal, left) = match sqlite_file(url) {
            Some(db) => {
                let (j, left) = Journal::open(&db, machine_key)?;
                (Some(j), left)
            }
            None => (None, Leftovers::default()),
        };
        let newest_left = left
            .rows
            .iter()
            .map(|r| r.timestamp_ms)
            .chain(left.devices.iter().map(|d| d.timestamp_ms))
            .max();
        let mut sink = StoreSink {
            rt,
            store,
            tenant: t.id,
            machine_key: machine_key.to_owned(),
            machine: m.id,
            hostname,
            // The kernel release is not in any sampled file: read once here.
            facts: {
                let mut f = MachineFacts::default();
                f.kernel = kernel;
                f
            },
            facts_stored: MachineFacts::default(),
            rows: Vec::new(),
            devices: Vec::new(),
            rows_per_commit: (commit_every.as_secs_f64() / interval.as_secs_f64())
                .round()
                .clamp(1.0, 100_000.0) as usize,
            dropped_rows: 0,
            resume_after_ms: m.last_seen_ms.max(newest_left),
            journal,
        };
        if !left.rows.is_empty() || !left.devices.is_empty() {
            eprintln!(
                "perfan: storing {} intervals an earlier run took but did not commit",
                left.rows.len()
            );
            // Still in the journal until they are stored (now, or at a later commit).
            sink.rows = left.rows;
            sink.devices = left.devices;
            let _ = sink.commit();
        }
        Ok(sink)
    }

    /// Empties the journal (after a commit), or rewrites it with the rows still
    /// held. A journal that cannot be written is given up with a warning: the rows
    /// are still committed, only a `kill -9` before the next commit would lose them.
    fn sync_journal(&mut self) {
        if let Some(j) = self.journal.as_mut()
            && let Err(e) = j.rewrite(&self.machine_key, &self.rows, &self.devices)
        {
            eprintln!(
                "perfan: warning: the journal of uncommitted rows failed ({e}); going on without it"
            );
            self.journal = None;
        }
    }

    fn commit(&mut self) -> perfcore::Result<()> {
        if self.rows.is_empty() && self.devices.is_empty() {
            return Ok(());
        }
        let r = self.rt.block_on(self.store.ingest(
            self.tenant,
            self.machine,
            &self.rows,
            &self.devices,
        ));
        match r {
            Ok(_) => {
                self.rows.clear();
                self.devices.clear();
                self.sync_journal();
                trim_heap();
                Ok(())
            }
            Err(e) => {
                // Keep them for the next commit, within a bound.
                if self.rows.len() > MAX_HELD_ROWS {
                    let n = self.rows.len() - MAX_HELD_ROWS;
                    let cut = self.rows[n].timestamp_ms;
                    self.rows.drain(..n);
                    self.devices.retain(|d| d.timestamp_ms >= cut);
                    self.dropped_rows += n as u64;
                    eprintln!(
                        "perfan: warning: the store has refused rows for too long: dropped the \
                         {n} oldest held rows ({} dropped in all, {} still held)",
                        self.dropped_rows,
                        self.rows.len()
                    );
                    self.sync_journal();
                }
                Err(perfcore::Error::Io {
                    path: "store".into(),
                    source: std::io::Error::other(e.to_string()),
                })
            }
        }
    }
}

impl RecordSink for StoreSink {
    fn resume_after_ms(&self) -> Option<i64> {
        self.resume_after_ms
    }

    fn sample(&mut self, _raw: &RawSample, snap: &Snapshot<'_>) -> perfcore::Result<()> {
        self.facts.update(snap);
        if self.facts.hostname.is_none() {
            self.facts.hostname = self.hostname.clone();
        }
        if self.facts != self.facts_stored {
            let r = self.rt.block_on(self.store.upsert_machine(
                self.tenant,
                &self.machine_key,
                self.hostname.as_deref(),
                &Labels::new(),
                &self.facts,
            ));
            match r {
                Ok(_) => self.facts_stored = self.facts.clone(),
                Err(e) => {
                    return Err(perfcore::Error::Io {
                        path: "store".into(),
                        source: std::io::Error::other(e.to_string()),
                    });
                }
            }
        }
        Ok(())
    }

    fn interval(&mut self, iv: &Interval, cur: &Snapshot<'_>) -> perfcore::Result<()> {
        self.rows.push(IntervalRow::from_interval(iv));
        let before = self.devices.len();
        // Like sar -d: no series for block devices that have done no I/O since boot,
        // nor for interfaces that have never moved a packet (unused loop devices,
        // zram, ifb and dummy interfaces would otherwise be most of the per-device
        // rows, and each value costs an index insert). They get series from the
        // first interval they are used in.
        let disks = cur.diskstats.as_deref().unwrap_or_default();
        let nets = cur.net_dev.as_deref().unwrap_or_default();
        device_rows_into(iv, &mut self.devices, |kind, name| match kind {
            DeviceKind::Disk => !disks.iter().any(|d| {
                d.name == name
                    && d.reads_completed + d.writes_completed + d.discards_completed.unwrap_or(0)
                        == 0
            }),
            DeviceKind::Net => !nets
                .iter()
                .any(|n| n.name == name && n.rx_packets == 0 && n.tx_packets == 0),
            _ => true,
        });
        if let Some(j) = self.journal.as_mut()
            && let Some(row) = self.rows.last()
            && let Err(e) = j.append(&self.machine_key, row, &self.devices[before..])
        {
            eprintln!(
                "perfan: warning: the journal of uncommitted rows failed ({e}); going on without it"
            );
            self.journal = None;
        }
        if self.rows.len() >= self.rows_per_commit {
            self.commit()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> perfcore::Result<()> {
        self.commit()
    }

    fn finish(&mut self) -> perfcore::Result<()> {
        let r = self.commit();
        if r.is_ok()
            && let Some(j) = self.journal.take()
        {
            j.remove();
        }
        self.rt.block_on(self.store.close());
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: i64) -> IntervalRow {
        let mut r = IntervalRow::new(1_767_813_021_000 + i * 1000, 1.0);
        r.set(perfcore::metrics::Metric::CpuUserPct, Some(1.5 * i as f64));
        r
    }

    fn dev(i: i64) -> DeviceRow {
        DeviceRow {
            timestamp_ms: 1_767_813_021_000 + i * 1000,
            kind: DeviceKind::Disk,
            device: "sda".into(),
            metric: "util_pct",
            value: 0.25 * i as f64,
        }
    }

    #[test]
    fn sqlite_file_names_the_file_of_a_sqlite_url_only() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/p.db"),
            Some("/var/lib/p.db".into())
        );
        assert_eq!(sqlite_file("sqlite://p.db?mode=rwc"), Some("p.db".into()));
        assert_eq!(sqlite_file("sqlite:p.db"), Some("p.db".into()));
        assert_eq!(sqlite_file("/tmp/p.db"), Some("/tmp/p.db".into()));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
        let every = |url, ms| default_commit_every(url, Duration::from_millis(ms));
        assert_eq!(every("/tmp/p.db", 1000), Duration::from_secs(60));
        assert_eq!(every("/tmp/p.db", 100), Duration::from_secs(6));
        assert_eq!(every("/tmp/p.db", 10_000), Duration::from_secs(60));
        assert_eq!(every("postgres://u@h/db", 1000), Duration::from_secs(10));
    }

    #[test]
    fn file_keys_are_safe_and_distinct() {
        assert_eq!(file_key("web-1.example_a"), "web-1.example_a");
        assert_eq!(file_key("../etc"), "x2e2e2f657463");
        assert_eq!(file_key("a/b"), "x612f62");
        assert_ne!(file_key("a b"), file_key("a_b"));
        assert_eq!(file_key(""), "x");
    }

    #[test]
    fn journal_keeps_what_it_was_given_until_a_commit_empties_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("p.db");
        let (mut j, left) = Journal::open(&db, "m1").unwrap();
        assert!(left.rows.is_empty() && left.devices.is_empty());
        for i in 0..3 {
            j.append("m1", &row(i), &[dev(i)]).unwrap();
        }
        drop(j); // as a kill -9 would leave it
        let (mut j, left) = Journal::open(&db, "m1").unwrap();
        assert_eq!(left.rows, vec![row(0), row(1), row(2)]);
        assert_eq!(left.devices, vec![dev(0), dev(1), dev(2)]);
        // They stay in the files until a commit empties them, and new intervals
        // follow them (one header, or the next read would fail).
        j.append("m1", &row(7), &[]).unwrap();
        drop(j);
        let (mut j, left) = Journal::open(&db, "m1").unwrap();
        assert_eq!(left.rows, vec![row(0), row(1), row(2), row(7)]);
        assert_eq!(left.devices, vec![dev(0), dev(1), dev(2)]);
        // Another machine's journal is its own.
        let (_, other) = Journal::open(&db, "m2").unwrap();
        assert!(other.rows.is_empty());
        // A commit empties it.
        j.rewrite("m1", &[], &[]).unwrap();
        drop(j);
        let (j, left) = Journal::open(&db, "m1").unwrap();
        assert!(left.rows.is_empty() && left.devices.is_empty());
        j.remove();
        assert!(!dir.path().join("p.db.pending/m1.rows.csv").exists());
    }

    #[test]
    fn a_torn_last_line_is_left_out_and_a_bad_journal_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("p.db");
        let (mut j, _) = Journal::open(&db, "m").unwrap();
        j.append("m", &row(0), &[dev(0)]).unwrap();
        j.append("m", &row(1), &[dev(1)]).unwrap();
        drop(j);
        // A write cut short: half a line at the end of each file.
        let pending = dir.path().join("p.db.pending");
        for (f, tail) in [
            ("m.rows.csv", "2026-01-07T19:10:2"),
            ("m.devices.csv", "2026-01-07T19:10:23Z,m,disk,sd"),
        ] {
            let mut text = std::fs::read_to_string(pending.join(f)).unwrap();
            text.push_str(tail);
            std::fs::write(pending.join(f), text).unwrap();
        }
        let (mut j, left) = Journal::open(&db, "m").unwrap();
        assert_eq!(left.rows, vec![row(0), row(1)]);
        assert_eq!(left.devices, vec![dev(0), dev(1)]);
        // The torn tails were cut: the next interval is whole after them.
        j.append("m", &row(2), &[dev(2)]).unwrap();
        drop(j);
        let (j, left) = Journal::open(&db, "m").unwrap();
        assert_eq!(left.rows, vec![row(0), row(1), row(2)]);
        assert_eq!(left.devices, vec![dev(0), dev(1), dev(2)]);
        drop(j);
        // A damaged cell: nothing is read, and the files are kept as *.bad.
        std::fs::write(
            pending.join("m.rows.csv"),
            format!(
                "{}\nnot a time,m,1{}\n",
                perfcore::csv::ours::wide_header(),
                ",".repeat(perfcore::metrics::METRIC_COUNT)
            ),
        )
        .unwrap();
        let (_, left) = Journal::open(&db, "m").unwrap();
        assert!(left.rows.is_empty());
        assert!(pending.join("m.rows.csv.bad").exists());
    }
}
