//! The live reader: keeps `/proc` files open and re-reads them with `pread`
//! into reused buffers, stamping each sample with a monotonic and a wall clock.
//!
//! ```no_run
//! use perfcore::reader::{LiveReader, ReaderConfig};
//! use perfcore::snapshot::RawSample;
//!
//! let mut reader = LiveReader::open(ReaderConfig::default())?;
//! let mut sample = RawSample::default();
//! reader.read(&mut sample)?;
//! let snap = sample.parse()?;
//! println!("{:?}", snap.loadavg);
//! # Ok::<(), perfcore::Error>(())
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::parse::statfs::FsStat;
use crate::snapshot::{RawSample, Source};

/// Settings of a [`LiveReader`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReaderConfig {
    /// Where procfs is mounted (`/proc`; `/host/proc` in a container).
    pub proc_root: PathBuf,
    /// Where the host's root filesystem is visible, for statvfs of its mounts
    /// (`/`; `/host` in a container).
    pub rootfs: PathBuf,
    /// The sources to read. Missing files are skipped, not errors.
    pub sources: Vec<Source>,
    /// How long one statvfs may take before its mount is skipped for this sample.
    pub statfs_timeout: Duration,
    /// The mounts table is read again every this many samples (at least 1);
    /// statvfs of the mounts known runs every sample. Formatting the table is
    /// a noticeable part of the kernel's cost of a sample, and mounts seldom change.
    pub mounts_every: u32,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        ReaderConfig {
            proc_root: PathBuf::from("/proc"),
            rootfs: PathBuf::from("/"),
            sources: Source::ALL.to_vec(),
            statfs_timeout: Duration::from_millis(500),
            mounts_every: 10,
        }
    }
}

impl ReaderConfig {
    /// The default configuration reading procfs at `proc_root`.
    pub fn with_proc_root(proc_root: impl Into<PathBuf>) -> Self {
        ReaderConfig {
            proc_root: proc_root.into(),
            ..Default::default()
        }
    }

    /// Sets the root under which mount points are statted.
    pub fn rootfs(mut self, rootfs: impl Into<PathBuf>) -> Self {
        self.rootfs = rootfs.into();
        self
    }

    /// Limits the sources read.
    pub fn sources(mut self, sources: &[Source]) -> Self {
        self.sources = sources.to_vec();
        self
    }

    /// Sets the statvfs timeout.
    pub fn statfs_timeout(mut self, t: Duration) -> Self {
        self.statfs_timeout = t;
        self
    }

    /// Reads the mounts table again every `n` samples (1: every sample).
    pub fn mounts_every(mut self, n: u32) -> Self {
        self.mounts_every = n.max(1);
        self
    }
}

struct OpenFile {
    source: Source,
    path: PathBuf,
    file: File,
}

/// Reads samples of the live system (or of a directory laid out like procfs).
pub struct LiveReader {
    config: ReaderConfig,
    files: Vec<OpenFile>,
    statfs: Option<StatfsPool>,
    mounts_path: Option<PathBuf>,
    mounts_file: Option<File>,
    /// The mounts table as last read, and the real mounts parsed from it.
    mounts_text: Vec<u8>,
    mounts_scratch: Vec<u8>,
    mounts: Vec<Mount>,
    statfs_text: String,
    /// Samples read (for the mounts table's schedule).
    reads: u64,
}

impl std::fmt::Debug for LiveReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveReader")
            .field("proc_root", &self.config.proc_root)
            .field(
                "open",
                &self.files.iter().map(|f| f.source).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Reads from a file, starting at offset 0, until end of file, into `buf`
/// (cleared first). The kernel writes into the spare capacity of `buf`
/// (rustix's `spare_capacity`), so nothing is zeroed or copied per read; the
/// capacity is kept between calls and doubles when a read fills it.
fn pread_to_end(file: &File, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.clear();
    loop {
        if buf.len() == buf.capacity() {
            // procfs files have no size: one page to start with, then double.
            buf.reserve(buf.capacity().max(4096));
        }
        let offset = buf.len() as u64;
        let n = rustix::io::pread(file, rustix::buffer::spare_capacity(buf), offset)?;
        if n == 0 {
            return Ok(());
        }
    }
}

impl LiveReader {
    /// Opens every configured source that exists under the proc root.
    ///
    /// Fails only when the proc root itself cannot be read.
    pub fn open(config: ReaderConfig) -> Result<Self> {
        let root = &config.proc_root;
        std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
        let mut files = Vec::new();
        for &source in &config.sources {
            let Some(rel) = source.proc_path() else {
                continue;
            };
            let path = root.join(rel);
            match File::open(&path) {
                Ok(file) => files.push(OpenFile { source, path, file }),
                Err(e) if is_absent(&e) => {}
                Err(e) => return Err(Error::io(path, e)),
            }
        }
        let wants_statfs = config.sources.contains(&Source::Statfs);
        let mounts_path = wants_statfs
            .then(|| {
                [root.join("1/mounts"), root.join("mounts")]
                    .into_iter()
                    .find(|p| File::open(p).is_ok())
            })
            .flatten();
        let statfs = mounts_path.as_ref().map(|_| StatfsPool::new(statvfs));
        let mounts_file = mounts_path.as_ref().and_then(|p| File::open(p).ok());
        Ok(LiveReader {
            config,
            files,
            statfs,
            mounts_path,
            mounts_file,
            mounts_text: Vec::new(),
            mounts_scratch: Vec::new(),
            mounts: Vec::new(),
            statfs_text: String::new(),
            reads: 0,
        })
    }

    /// The sources this reader will fill (the configured ones that exist).
    pub fn sources(&self) -> Vec<Source> {
        let mut v: Vec<Source> = self.files.iter().map(|f| f.source).collect();
        if self.statfs.is_some() {
            v.push(Source::Statfs);
        }
        v.sort();
        v
    }

    /// The configuration.
    pub fn config(&self) -> &ReaderConfig {
        &self.config
    }

    /// Fills `sample` with a new reading, reusing its buffers.
    ///
    /// The timestamps are taken before the first file is read. A file that
    /// vanished since it was opened (a PSI file on a kernel booted with
    /// `psi=0`) is left out of the sample.
    pub fn read(&mut self, sample: &mut RawSample) -> Result<()> {
        sample.clear();
        sample.monotonic_ns = Some(monotonic_ns());
        sample.timestamp_ms = wall_clock_ms();
        for f in &mut self.files {
            match pread_to_end(&f.file, sample.buf_mut(f.source)) {
                Ok(()) => {}
                Err(e) if is_absent(&e) || e.raw_os_error() == Some(95) => sample.remove(f.source),
                Err(e) => return Err(Error::io(&f.path, e)),
            }
        }
        if let (Some(pool), Some(path), Some(file)) = (
            self.statfs.as_mut(),
            self.mounts_path.as_ref(),
            self.mounts_file.as_ref(),
        ) {
            // The mounts table is kept open and re-read every few samples; it is
            // parsed again only when its text changed.
            if self
                .reads
                .is_multiple_of(u64::from(self.config.mounts_every.max(1)))
            {
                pread_to_end(file, &mut self.mounts_scratch).map_err(|e| Error::io(path, e))?;
                if self.mounts_scratch != self.mounts_text {
                    self.mounts_text.clear();
                    self.mounts_text.extend_from_slice(&self.mounts_scratch);
                    self.mounts = real_mounts(&self.mounts_text);
                }
            }
            self.reads += 1;
            let stats = pool.stat_all(
                &self.config.rootfs,
                &self.mounts,
                self.config.statfs_timeout,
            );
            self.statfs_text.clear();
            for s in &stats {
                s.write_ndjson(&mut self.statfs_text);
            }
            sample
                .buf_mut(Source::Statfs)
                .extend_from_slice(self.statfs_text.as_bytes());
        }
        Ok(())
    }

    /// Mounts whose statvfs did not answer within the timeout last time.
    pub fn stuck_mounts(&self) -> Vec<String> {
        self.statfs.as_ref().map(|p| p.stuck()).unwrap_or_default()
    }
}

fn is_absent(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
    ) || e.raw_os_error() == Some(19) // ENODEV: PSI disabled at boot
}

/// CLOCK_MONOTONIC in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

/// Wall clock in milliseconds since the unix epoch.
pub fn wall_clock_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Filesystem types that hold no user data (node_exporter's default exclusions,
/// plus tmpfs and overlay which the older collector did not record either).
const VIRTUAL_FS: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fusectl",
    "hugetlbfs",
    "iso9660",
    "mqueue",
    "nsfs",
    "overlay",
    "proc",
    "procfs",
    "pstore",
    "ramfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "erofs",
    "sysfs",
    "tracefs",
    "tmpfs",
    "fuse.lxcfs",
    "fuse.portal",
    "nfsd",
];

/// Mount points under which nothing is a user filesystem.
const VIRTUAL_PREFIXES: &[&str] = &["/dev", "/proc", "/sys", "/run/credentials"];

/// One entry of a mounts table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mount {
    /// The mounted device or source (`/dev/vda1`, `server:/export`).
    pub device: String,
    /// Where it is mounted, with the table's octal escapes decoded.
    pub mount_point: String,
    /// Filesystem type.
    pub fs_type: String,
}

/// Filesystem types whose statvfs can block for as long as a server or daemon
/// does not answer: network filesystems and FUSE.
const MAY_HANG_FS: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ceph",
    "glusterfs",
    "9p",
    "afs",
    "lustre",
    "gpfs",
    "beegfs",
    "davfs",
    "sshfs",
    "ncpfs",
    "coda",
    "orangefs",
];

impl Mount {
    /// Whether a statvfs of it may block (network or FUSE filesystem); those are
    /// statted on worker threads with a timeout, local ones directly.
    pub fn may_hang(&self) -> bool {
        self.fs_type.starts_with("fuse") || MAY_HANG_FS.contains(&self.fs_type.as_str())
    }
}

/// Decodes the octal escapes (`\040` for a space) of a mounts-table field.
fn unescape_mount_field(b: &[u8]) -> String {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The real (non-virtual) filesystems of a `/proc/mounts` text, each mount point once.
pub fn real_mounts(text: &[u8]) -> Vec<Mount> {
    let mut out: Vec<Mount> = Vec::new();
    for line in text.split(|&c| c == b'\n') {
        let mut f = crate::parse::fields(line);
        let (Some(dev), Some(mp), Some(ty)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let fs_type = String::from_utf8_lossy(ty).into_owned();
        if VIRTUAL_FS.contains(&fs_type.as_str()) {
            continue;
        }
        let mount_point = unescape_mount_field(mp);
        let under_virtual = VIRTUAL_PREFIXES
            .iter()
            .any(|p| mount_point == *p || mount_point.starts_with(&format!("{p}/")));
        if under_virtual || !mount_point.starts_with('/') {
            continue;
        }
        let m = Mount {
            device: unescape_mount_field(dev),
            mount_point,
            fs_type,
        };
        // A later mount on the same point hides the earlier one.
        if let Some(prev) = out.iter_mut().find(|p| p.mount_point == m.mount_point) {
            *prev = m;
        } else {
            out.push(m);
        }
    }
    out
}

/// statvfs of one path, as the older collector recorded it.
pub fn statvfs(path: &Path, mount_point: &str) -> std::io::Result<FsStat<'static>> {
    let s = rustix::fs::statvfs(path)?;
    Ok(FsStat {
        mount_point: mount_point.to_owned().into(),
        block_size: s.f_frsize,
        blocks_total: s.f_blocks,
        blocks_free: s.f_bfree,
        blocks_available: s.f_bavail,
        files_total: Some(s.f_files),
        files_free: Some(s.f_ffree),
    })
}

type StatReply = (String, std::io::Result<FsStat<'static>>);

struct Worker {
    tx: mpsc::Sender<(PathBuf, String)>,
    busy_since: Option<Instant>,
}

/// One worker thread per mount, so that a stuck network mount blocks only its
/// own thread; a mount whose last statvfs has not returned is skipped.
struct StatfsPool {
    workers: HashMap<String, Worker>,
    replies: Option<(mpsc::Sender<StatReply>, mpsc::Receiver<StatReply>)>,
    stat: StatFn,
}

/// How a mount is statted (a parameter so tests can make one hang).
type StatFn = fn(&Path, &str) -> std::io::Result<FsStat<'static>>;

impl StatfsPool {
    fn new(stat: StatFn) -> Self {
        StatfsPool {
            workers: HashMap::new(),
            replies: None,
            stat,
        }
    }

    fn stuck(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .workers
            .iter()
            .filter(|(_, w)| w.busy_since.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        v.sort();
        v
    }

    fn stat_all(
        &mut self,
        rootfs: &Path,
        mounts: &[Mount],
        timeout: Duration,
    ) -> Vec<FsStat<'static>> {
        let (reply_tx, reply_rx) = self.replies.get_or_insert_with(mpsc::channel);
        // Collect answers that arrived late from earlier samples.
        while let Ok((mp, _)) = reply_rx.try_recv() {
            if let Some(w) = self.workers.get_mut(&mp) {
                w.busy_since = None;
            }
        }
        let mut asked = 0usize;
        let stat = self.stat;
        let path_of = |m: &Mount| {
            let rel = m.mount_point.trim_start_matches('/');
            if rel.is_empty() {
                rootfs.to_path_buf()
            } else {
                rootfs.join(rel)
            }
        };
        let mut got: Vec<FsStat<'static>> = Vec::with_capacity(mounts.len());
        for m in mounts {
            if !m.may_hang() {
                // A local filesystem answers from memory: no thread round trip.
                if let Ok(s) = stat(&path_of(m), &m.mount_point) {
                    got.push(s);
                }
                continue;
            }
            let worker = self
                .workers
                .entry(m.mount_point.clone())
                .or_insert_with(|| {
                    let (tx, rx) = mpsc::channel::<(PathBuf, String)>();
                    let reply = reply_tx.clone();
                    let spawned = std::thread::Builder::new()
                        .name("perfan-statfs".into())
                        .spawn(move || {
                            for (path, mp) in rx {
                                let r = stat(&path, &mp);
                                if reply.send((mp, r)).is_err() {
                                    break;
                                }
                            }
                        });
                    // Without a thread the request below fails and the mount is skipped.
                    drop(spawned);
                    Worker {
                        tx,
                        busy_since: None,
                    }
                });
            if worker.busy_since.is_some() {
                continue;
            }
            if worker.tx.send((path_of(m), m.mount_point.clone())).is_ok() {
                worker.busy_since = Some(Instant::now());
                asked += 1;
            }
        }
        let deadline = Instant::now() + timeout;
        while asked > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match reply_rx.recv_timeout(left) {
                Ok((mp, r)) => {
                    if let Some(w) = self.workers.get_mut(&mp)
                        && w.busy_since.take().is_some()
                    {
                        asked -= 1;
                    }
                    if let Ok(s) = r {
                        got.push(s);
                    }
                }
                Err(_) => break,
            }
        }
        // Keep the mount table's order.
        got.sort_by_key(|s| {
            mounts
                .iter()
                .position(|m| *m.mount_point == *s.mount_point)
                .unwrap_or(usize::MAX)
        });
        got
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_mounts_skip_virtual_filesystems() {
        let text = b"proc /proc proc rw 0 0\n/dev/vda / ext4 rw 0 0\ntmpfs /dev/shm tmpfs rw 0 0\n\
/dev/vdb1 /mnt/my\\040data xfs rw 0 0\nserver:/x /nfs nfs4 rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n/dev/vda / ext4 ro 0 0\n";
        let m = real_mounts(text);
        let points: Vec<_> = m.iter().map(|m| m.mount_point.as_str()).collect();
        assert_eq!(points, vec!["/", "/mnt/my data", "/nfs"]);
        assert_eq!(m[2].fs_type, "nfs4");
    }

    #[test]
    fn reads_a_fixture_tree() {
        let root = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/live/debian12-kernel6.18-2cpu/sample0/proc"
        );
        let mut r = LiveReader::open(ReaderConfig::with_proc_root(root).sources(&[
            Source::Stat,
            Source::Loadavg,
            Source::PressureIrq,
        ]))
        .unwrap();
        assert_eq!(r.sources(), vec![Source::Stat, Source::Loadavg]);
        let mut s = RawSample::default();
        r.read(&mut s).unwrap();
        let want = std::fs::read(format!("{root}/stat")).unwrap();
        assert_eq!(s.get(Source::Stat), Some(want.as_slice()));
        assert!(s.monotonic_ns.is_some());
        assert!(s.timestamp_ms > 1_600_000_000_000);
        // A second read into the same sample gives the same text (buffers reused).
        r.read(&mut s).unwrap();
        assert_eq!(s.get(Source::Stat), Some(want.as_slice()));
    }

    #[test]
    fn pread_grows_past_the_hint() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let f = File::open(&p).unwrap();
        let mut buf = Vec::new();
        pread_to_end(&f, &mut buf).unwrap();
        assert_eq!(buf, data);
        // A second, shorter read into the same buffer gives just the new text,
        // on the same allocation.
        let ptr = buf.as_ptr();
        std::fs::write(&p, b"short").unwrap();
        pread_to_end(&f, &mut buf).unwrap();
        assert_eq!(buf, b"short");
        assert_eq!(buf.as_ptr(), ptr);
        // Exactly a page, then exactly the doubled capacity: the read that
        // fills the buffer is followed by one that finds the end.
        for len in [4096, 8192] {
            let data = vec![b'x'; len];
            std::fs::write(&p, &data).unwrap();
            let mut buf = Vec::new();
            pread_to_end(&f, &mut buf).unwrap();
            assert_eq!(buf, data);
        }
    }

    #[test]
    fn missing_root_is_an_error() {
        let e = LiveReader::open(ReaderConfig::with_proc_root("/nonexistent/proc")).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/proc:"), "{e}");
    }

    static NFS_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    fn fake_stat(_path: &Path, mp: &str) -> std::io::Result<FsStat<'static>> {
        if mp == "/nfs" {
            // A server that answers late, every time.
            NFS_CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(800));
        }
        Ok(FsStat {
            mount_point: mp.to_owned().into(),
            block_size: 4096,
            blocks_total: 100,
            blocks_free: 50,
            blocks_available: 40,
            files_total: None,
            files_free: None,
        })
    }

    #[test]
    fn a_stuck_network_mount_does_not_stall_the_sample() {
        let mounts = real_mounts(
            b"/dev/vda / ext4 rw 0 0\nsrv:/x /nfs nfs4 rw 0 0\n/dev/vdb /data xfs rw 0 0\n",
        );
        assert_eq!(
            mounts.iter().map(Mount::may_hang).collect::<Vec<_>>(),
            vec![false, true, false]
        );
        let mut pool = StatfsPool::new(fake_stat);
        let t = Instant::now();
        let got = pool.stat_all(Path::new("/"), &mounts, Duration::from_millis(100));
        // The sample waits the timeout at most, and keeps the local mounts in table order.
        assert!(
            t.elapsed() < Duration::from_millis(600),
            "{:?}",
            t.elapsed()
        );
        let points: Vec<_> = got.iter().map(|s| s.mount_point.to_string()).collect();
        assert_eq!(points, vec!["/", "/data"]);
        assert_eq!(pool.stuck(), vec!["/nfs".to_owned()]);
        // While it is still stuck, the next sample does not wait for it at all.
        let t = Instant::now();
        let got = pool.stat_all(Path::new("/"), &mounts, Duration::from_millis(100));
        assert!(t.elapsed() < Duration::from_millis(50), "{:?}", t.elapsed());
        assert_eq!(got.len(), 2);
        assert_eq!(NFS_CALLS.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Once its late answer is in, it is asked again with the next sample.
        std::thread::sleep(Duration::from_millis(900));
        let got = pool.stat_all(Path::new("/"), &mounts, Duration::from_millis(100));
        assert_eq!(got.len(), 2);
        assert_eq!(NFS_CALLS.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn the_mounts_table_is_read_again_every_n_samples() {
        let dir = tempfile::tempdir().unwrap();
        let (proc, rootfs) = (dir.path().join("proc"), dir.path().join("root"));
        std::fs::create_dir_all(&proc).unwrap();
        for m in ["a", "b"] {
            std::fs::create_dir_all(rootfs.join(m)).unwrap();
        }
        std::fs::write(proc.join("mounts"), "/dev/vda1 /a ext4 rw 0 0\n").unwrap();
        let config = ReaderConfig::with_proc_root(&proc)
            .rootfs(&rootfs)
            .sources(&[Source::Statfs])
            .mounts_every(3);
        let mut r = LiveReader::open(config).unwrap();
        let mut raw = RawSample::default();
        let points = |raw: &RawSample| -> Vec<String> {
            crate::parse::statfs::parse(raw.get(Source::Statfs).unwrap_or_default())
                .unwrap()
                .iter()
                .map(|s| s.mount_point.to_string())
                .collect()
        };
        r.read(&mut raw).unwrap(); // sample 0 reads the table
        assert_eq!(points(&raw), ["/a"]);
        std::fs::write(
            proc.join("mounts"),
            "/dev/vda1 /a ext4 rw 0 0\n/dev/vdb /b xfs rw 0 0\n",
        )
        .unwrap();
        for _ in 1..3 {
            r.read(&mut raw).unwrap(); // samples 1 and 2 keep the table they know
            assert_eq!(points(&raw), ["/a"]);
        }
        r.read(&mut raw).unwrap(); // sample 3 reads it again
        assert_eq!(points(&raw), ["/a", "/b"]);
    }

    #[test]
    fn statvfs_of_root_works_live() {
        let s = statvfs(Path::new("/"), "/").unwrap();
        assert!(s.blocks_total > 0 && s.block_size > 0);
    }
}
