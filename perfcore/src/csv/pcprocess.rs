//! The older processor's per-subsystem CSV files (`proc/stat`, `proc/meminfo`,
//! `proc/net/dev`, `proc/diskstats`, `statfs_ALL`, `system_info.json`).

/// One of the per-subsystem files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum File {
    /// `proc/stat`: CPU percentages.
    Stat,
    /// `proc/meminfo`: memory in KiB.
    Meminfo,
    /// `proc/net/dev`: interface rates.
    NetDev,
    /// `proc/diskstats`: block device rates.
    Diskstats,
    /// `statfs_ALL`: filesystem usage.
    Statfs,
}

impl File {
    /// Every file, in the order the older processor wrote them.
    pub const ALL: [File; 5] = [
        File::Stat,
        File::Meminfo,
        File::NetDev,
        File::Diskstats,
        File::Statfs,
    ];

    /// Path relative to the output directory.
    pub fn path(self) -> &'static str {
        match self {
            File::Stat => "proc/stat",
            File::Meminfo => "proc/meminfo",
            File::NetDev => "proc/net/dev",
            File::Diskstats => "proc/diskstats",
            File::Statfs => "statfs_ALL",
        }
    }

    /// The exact header line (without newline).
    pub fn header(self) -> &'static str {
        match self {
            File::Stat => "#timestamp,CPU,%usr,%nice,%system,%iowait,%steal,%idle",
            File::Meminfo => {
                "#timestamp,kbmemfree,kbavail,kbmemused,%memused,kbbuffers,kbcached,kbcommit,%commit,kbactive,kbinact,kbdirty"
            }
            File::NetDev => {
                "#timestamp,IFACE,rxpck/s,txpck/s,rxkB/s,txkB/s,rxcmp/s,txcmp/s,rxmcst/s,%ifutil"
            }
            File::Diskstats => "#timestamp,DEV,tps,rtps,wtps,dtps,bread/s,bwrtn/s,bdscd/s",
            File::Statfs => "#timestamp,mount,blocksize,blockstotal,blocksavail,use",
        }
    }

    /// The file whose header this is (also with the R report's `#site,host,` prefix).
    pub fn from_header(line: &str) -> Option<File> {
        let line = line.trim_end_matches(['\r', '\n']);
        let line = match line.strip_prefix("#site,host,") {
            Some(rest) => format!("#{rest}"),
            None => line.to_owned(),
        };
        File::ALL.into_iter().find(|f| f.header() == line)
    }
}

/// Options of the per-subsystem writer.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PcprocessOptions {
    /// Prefix every row with `site,host` (the R report's variant).
    pub site_host: Option<(String, String)>,
}

/// Writes the per-subsystem files into a directory (being built: issue 2).
#[derive(Debug)]
pub struct PcprocessWriter {
    _private: (),
}

impl PcprocessWriter {
    /// Creates the files under `dir`.
    pub fn create(_dir: &std::path::Path, _opts: PcprocessOptions) -> crate::Result<Self> {
        Err(crate::Error::Interval(
            "pcprocess output is not built yet".into(),
        ))
    }
}

impl crate::process::IntervalSink for PcprocessWriter {
    fn interval(
        &mut self,
        _iv: &crate::rates::Interval,
        _cur: &crate::snapshot::Snapshot<'_>,
    ) -> crate::Result<()> {
        Ok(())
    }
}
