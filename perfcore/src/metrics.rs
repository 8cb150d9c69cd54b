//! The wide interval row: one value per metric per interval per machine.
//!
//! This is the unit of storage, charts and our CSV schema. The metric list is
//! versioned by [`SCHEMA_VERSION`]; columns are only ever added at the end.
//! Per-device values (each disk, interface, CPU, filesystem) go to the long
//! [`DeviceRow`] series instead.

use serde::Serialize;

use crate::parse::pressure::Resource;
use crate::rates::Interval;

/// Version of the metric list (and of our CSV header).
pub const SCHEMA_VERSION: u32 = 1;

const KIB: f64 = 1024.0;

macro_rules! metrics {
    ($( $variant:ident = $name:literal, $unit:literal, $doc:literal; )*) => {
        /// One column of the wide interval row.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum Metric {
            $( #[doc = $doc] $variant, )*
        }

        impl Metric {
            /// Every metric, in column order.
            pub const ALL: &'static [Metric] = &[ $( Metric::$variant, )* ];

            /// The column name (units in the name).
            pub fn name(self) -> &'static str {
                match self { $( Metric::$variant => $name, )* }
            }

            /// The unit, for axis labels.
            pub fn unit(self) -> &'static str {
                match self { $( Metric::$variant => $unit, )* }
            }

            /// What the metric is, in a few words.
            pub fn description(self) -> &'static str {
                match self { $( Metric::$variant => $doc, )* }
            }
        }
    };
}

metrics! {
    CpuUserPct = "cpu_user_pct", "%", "CPU time in user mode, guest excluded (sar %usr)";
    CpuNicePct = "cpu_nice_pct", "%", "CPU time in niced user mode (sar %nice)";
    CpuSystemPct = "cpu_system_pct", "%", "CPU time in kernel mode (sar %sys)";
    CpuIowaitPct = "cpu_iowait_pct", "%", "CPU idle with I/O outstanding (sar %iowait)";
    CpuIrqPct = "cpu_irq_pct", "%", "CPU time in hardware interrupts (sar %irq)";
    CpuSoftirqPct = "cpu_softirq_pct", "%", "CPU time in softirqs (sar %soft)";
    CpuStealPct = "cpu_steal_pct", "%", "CPU time stolen by the hypervisor (sar %steal)";
    CpuGuestPct = "cpu_guest_pct", "%", "CPU time running guests (sar %guest + %gnice)";
    CpuIdlePct = "cpu_idle_pct", "%", "CPU idle (sar %idle)";
    CpuCount = "cpu_count", "CPUs", "CPUs with data in the interval";
    ContextSwitchesPerS = "context_switches_per_s", "1/s", "Context switches per second (sar cswch/s)";
    InterruptsPerS = "interrupts_per_s", "1/s", "Interrupts per second (sar intr/s)";
    ForksPerS = "forks_per_s", "1/s", "Tasks created per second (sar proc/s)";
    ProcsRunning = "procs_running", "tasks", "Runnable tasks at the end of the interval";
    ProcsBlocked = "procs_blocked", "tasks", "Tasks blocked on I/O at the end of the interval";
    Load1 = "load1", "load", "1-minute load average";
    Load5 = "load5", "load", "5-minute load average";
    Load15 = "load15", "load", "15-minute load average";
    MemTotalBytes = "mem_total_bytes", "B", "Memory in total (MemTotal)";
    MemFreeBytes = "mem_free_bytes", "B", "Unused memory (MemFree)";
    MemAvailableBytes = "mem_available_bytes", "B", "Memory available without swapping (MemAvailable)";
    MemUsedBytes = "mem_used_bytes", "B", "Used memory: total - free - buffers - cached - slab (sar kbmemused)";
    MemUsedPct = "mem_used_pct", "%", "Used memory over total (sar %memused)";
    MemBuffersBytes = "mem_buffers_bytes", "B", "Buffers";
    MemCachedBytes = "mem_cached_bytes", "B", "Page cache (Cached)";
    MemSlabBytes = "mem_slab_bytes", "B", "Kernel slab";
    MemDirtyBytes = "mem_dirty_bytes", "B", "Dirty pages waiting for writeback";
    MemCommittedBytes = "mem_committed_bytes", "B", "Committed address space (Committed_AS)";
    MemCommitPct = "mem_commit_pct", "%", "Committed_AS over memory + swap (sar %commit)";
    SwapTotalBytes = "swap_total_bytes", "B", "Swap in total";
    SwapUsedBytes = "swap_used_bytes", "B", "Swap in use";
    SwapUsedPct = "swap_used_pct", "%", "Swap in use over total (sar %swpused)";
    PageInBytesPerS = "page_in_bytes_per_s", "B/s", "Paged in from disk (sar pgpgin/s x 1024)";
    PageOutBytesPerS = "page_out_bytes_per_s", "B/s", "Paged out to disk (sar pgpgout/s x 1024)";
    PageFaultsPerS = "page_faults_per_s", "1/s", "Page faults per second (sar fault/s)";
    MajorFaultsPerS = "major_faults_per_s", "1/s", "Major page faults per second (sar majflt/s)";
    SwapInPagesPerS = "swap_in_pages_per_s", "pages/s", "Pages swapped in (sar pswpin/s)";
    SwapOutPagesPerS = "swap_out_pages_per_s", "pages/s", "Pages swapped out (sar pswpout/s)";
    DiskReadsPerS = "disk_reads_per_s", "1/s", "Reads per second, whole disks";
    DiskWritesPerS = "disk_writes_per_s", "1/s", "Writes per second, whole disks";
    DiskReadBytesPerS = "disk_read_bytes_per_s", "B/s", "Bytes read per second, whole disks";
    DiskWriteBytesPerS = "disk_write_bytes_per_s", "B/s", "Bytes written per second, whole disks";
    DiskAwaitMs = "disk_await_ms", "ms", "Average I/O time over all whole disks";
    DiskUtilMaxPct = "disk_util_max_pct", "%", "%util of the busiest disk";
    NetRxBytesPerS = "net_rx_bytes_per_s", "B/s", "Bytes received per second, physical interfaces";
    NetTxBytesPerS = "net_tx_bytes_per_s", "B/s", "Bytes sent per second, physical interfaces";
    NetRxPacketsPerS = "net_rx_packets_per_s", "1/s", "Packets received per second, physical interfaces";
    NetTxPacketsPerS = "net_tx_packets_per_s", "1/s", "Packets sent per second, physical interfaces";
    NetErrorsPerS = "net_errors_per_s", "1/s", "Receive + transmit errors per second, all interfaces";
    NetDropsPerS = "net_drops_per_s", "1/s", "Receive + transmit drops per second, all interfaces";
    PsiCpuSomePct = "psi_cpu_some_pct", "%", "Time some task waited for CPU (PSI)";
    PsiMemorySomePct = "psi_memory_some_pct", "%", "Time some task stalled on memory (PSI)";
    PsiMemoryFullPct = "psi_memory_full_pct", "%", "Time all tasks stalled on memory (PSI)";
    PsiIoSomePct = "psi_io_some_pct", "%", "Time some task stalled on I/O (PSI)";
    PsiIoFullPct = "psi_io_full_pct", "%", "Time all tasks stalled on I/O (PSI)";
    FsMaxUsedPct = "fs_max_used_pct", "%", "Use% of the fullest filesystem";
}

/// Number of metrics in a row.
pub const METRIC_COUNT: usize = Metric::ALL.len();

impl Metric {
    /// The metric with this column name.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// Column index in a row.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One wide row: the timestamp of the interval's end and a value per metric
/// (`None` where the source was not recorded).
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalRow {
    /// End of the interval, ms since the epoch.
    pub timestamp_ms: i64,
    /// Length of the interval in seconds.
    pub elapsed_s: f64,
    /// Values in [`Metric::ALL`] order.
    pub values: [Option<f64>; METRIC_COUNT],
}

impl IntervalRow {
    /// Whether no metric has a value (a capture with only per-device records,
    /// such as containers, gives such rows).
    pub fn is_empty(&self) -> bool {
        self.values.iter().all(Option::is_none)
    }

    /// An empty row at `timestamp_ms`.
    pub fn new(timestamp_ms: i64, elapsed_s: f64) -> Self {
        IntervalRow {
            timestamp_ms,
            elapsed_s,
            values: [None; METRIC_COUNT],
        }
    }

    /// The value of `m`.
    pub fn get(&self, m: Metric) -> Option<f64> {
        self.values[m.index()]
    }

    /// Sets the value of `m`.
    pub fn set(&mut self, m: Metric, v: Option<f64>) {
        self.values[m.index()] = v;
    }

    /// The row of one interval.
    pub fn from_interval(iv: &Interval) -> Self {
        use Metric as M;
        let mut r = IntervalRow::new(iv.end_ms, iv.elapsed_s);
        if let Some(c) = &iv.cpu_total {
            r.set(M::CpuUserPct, Some(c.user_pct));
            r.set(M::CpuNicePct, Some(c.nice_pct));
            r.set(M::CpuSystemPct, Some(c.system_pct));
            r.set(M::CpuIowaitPct, Some(c.iowait_pct));
            r.set(M::CpuIrqPct, Some(c.irq_pct));
            r.set(M::CpuSoftirqPct, Some(c.softirq_pct));
            r.set(M::CpuStealPct, Some(c.steal_pct));
            r.set(M::CpuGuestPct, Some(c.guest_pct + c.guest_nice_pct));
            r.set(M::CpuIdlePct, Some(c.idle_pct));
        }
        if !iv.cpus.is_empty() {
            r.set(M::CpuCount, Some(iv.cpus.len() as f64));
        }
        if let Some(s) = &iv.system {
            r.set(M::ContextSwitchesPerS, s.context_switches_per_s);
            r.set(M::InterruptsPerS, s.interrupts_per_s);
            r.set(M::ForksPerS, s.forks_per_s);
        }
        r.set(M::ProcsRunning, iv.procs_running.map(|v| v as f64));
        r.set(M::ProcsBlocked, iv.procs_blocked.map(|v| v as f64));
        if let Some(l) = &iv.load {
            r.set(M::Load1, Some(l.load1));
            r.set(M::Load5, Some(l.load5));
            r.set(M::Load15, Some(l.load15));
        }
        if let Some(m) = &iv.memory {
            let b = |kib: u64| Some(kib as f64 * KIB);
            r.set(M::MemTotalBytes, b(m.total_kib));
            r.set(M::MemFreeBytes, b(m.free_kib));
            r.set(M::MemAvailableBytes, m.available_kib.and_then(b));
            r.set(M::MemUsedBytes, b(m.used_kib));
            r.set(M::MemUsedPct, Some(m.used_pct()));
            r.set(M::MemBuffersBytes, b(m.buffers_kib));
            r.set(M::MemCachedBytes, b(m.cached_kib));
            r.set(M::MemSlabBytes, b(m.slab_kib));
            r.set(M::MemDirtyBytes, m.dirty_kib.and_then(b));
            r.set(M::MemCommittedBytes, m.committed_kib.and_then(b));
            r.set(M::MemCommitPct, m.commit_pct());
            r.set(M::SwapTotalBytes, b(m.swap_total_kib));
            r.set(M::SwapUsedBytes, b(m.swap_used_kib()));
            r.set(M::SwapUsedPct, Some(m.swap_used_pct()));
        }
        if let Some(p) = &iv.paging {
            r.set(M::PageInBytesPerS, p.pgpgin_kib_per_s.map(|v| v * KIB));
            r.set(M::PageOutBytesPerS, p.pgpgout_kib_per_s.map(|v| v * KIB));
            r.set(M::PageFaultsPerS, p.pgfault_per_s);
            r.set(M::MajorFaultsPerS, p.pgmajfault_per_s);
            r.set(M::SwapInPagesPerS, p.pswpin_per_s);
            r.set(M::SwapOutPagesPerS, p.pswpout_per_s);
        }
        if !iv.disks.is_empty() {
            let (mut rd, mut wr, mut rb, mut wb, mut wait_ms, mut ios) =
                (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
            for d in iv.whole_disks() {
                rd += d.reads_per_s;
                wr += d.writes_per_s;
                rb += d.read_bytes_per_s;
                wb += d.write_bytes_per_s;
                wait_ms += d.await_ms() * d.tps();
                ios += d.tps();
            }
            r.set(M::DiskReadsPerS, Some(rd));
            r.set(M::DiskWritesPerS, Some(wr));
            r.set(M::DiskReadBytesPerS, Some(rb));
            r.set(M::DiskWriteBytesPerS, Some(wb));
            r.set(
                M::DiskAwaitMs,
                Some(if ios > 0.0 { wait_ms / ios } else { 0.0 }),
            );
            let util = iv.whole_disks().map(|d| d.util_pct).fold(0.0, f64::max);
            r.set(M::DiskUtilMaxPct, Some(util));
        }
        if !iv.nets.is_empty() {
            let (mut rx, mut tx, mut rp, mut tp) = (0.0, 0.0, 0.0, 0.0);
            for n in iv.physical_nets() {
                rx += n.rx_bytes_per_s;
                tx += n.tx_bytes_per_s;
                rp += n.rx_packets_per_s;
                tp += n.tx_packets_per_s;
            }
            let errs: f64 = iv
                .nets
                .iter()
                .map(|n| n.rx_errs_per_s + n.tx_errs_per_s)
                .sum();
            let drops: f64 = iv
                .nets
                .iter()
                .map(|n| n.rx_drop_per_s + n.tx_drop_per_s)
                .sum();
            r.set(M::NetRxBytesPerS, Some(rx));
            r.set(M::NetTxBytesPerS, Some(tx));
            r.set(M::NetRxPacketsPerS, Some(rp));
            r.set(M::NetTxPacketsPerS, Some(tp));
            r.set(M::NetErrorsPerS, Some(errs));
            r.set(M::NetDropsPerS, Some(drops));
        }
        if let Some(p) = iv.pressure(Resource::Cpu) {
            r.set(M::PsiCpuSomePct, p.some_pct);
        }
        if let Some(p) = iv.pressure(Resource::Memory) {
            r.set(M::PsiMemorySomePct, p.some_pct);
            r.set(M::PsiMemoryFullPct, p.full_pct);
        }
        if let Some(p) = iv.pressure(Resource::Io) {
            r.set(M::PsiIoSomePct, p.some_pct);
            r.set(M::PsiIoFullPct, p.full_pct);
        }
        if !iv.filesystems.is_empty() {
            let max = iv
                .filesystems
                .iter()
                .filter_map(|f| f.used_pct)
                .fold(0.0, f64::max);
            r.set(M::FsMaxUsedPct, Some(max));
        }
        r
    }
}

/// What kind of thing a [`DeviceRow`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeviceKind {
    /// One CPU (device = its id).
    Cpu,
    /// A block device.
    Disk,
    /// A network interface.
    Net,
    /// A mounted filesystem (device = mount point).
    Fs,
    /// A container (device = its name, else its short id).
    Container,
}

impl DeviceKind {
    /// The name used in CSV and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Disk => "disk",
            DeviceKind::Net => "net",
            DeviceKind::Fs => "fs",
            DeviceKind::Container => "container",
        }
    }

    /// The kind with this name.
    pub fn from_name(s: &str) -> Option<DeviceKind> {
        match s {
            "cpu" => Some(DeviceKind::Cpu),
            "disk" => Some(DeviceKind::Disk),
            "net" => Some(DeviceKind::Net),
            "fs" => Some(DeviceKind::Fs),
            "container" => Some(DeviceKind::Container),
            _ => None,
        }
    }
}

/// One value of one device in one interval (the long per-device series).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceRow {
    /// End of the interval, ms since the epoch.
    pub timestamp_ms: i64,
    /// CPU, disk, interface or filesystem.
    pub kind: DeviceKind,
    /// Its name (`3`, `sda`, `eth0`, `/var`).
    pub device: String,
    /// Metric name, units in the name (`util_pct`, `read_bytes_per_s`).
    pub metric: &'static str,
    /// The value.
    pub value: f64,
}

/// The per-device rows of one interval.
pub fn device_rows(iv: &Interval) -> Vec<DeviceRow> {
    let mut out = Vec::with_capacity(iv.cpus.len() * 9 + iv.disks.len() * 13 + iv.nets.len() * 8);
    device_rows_into(iv, &mut out, |_, _| true);
    out
}

/// Appends the per-device rows of one interval to `out`, for the devices `keep`
/// accepts (by kind and name): a sink that leaves some devices out builds no
/// rows for them.
pub fn device_rows_into(
    iv: &Interval,
    out: &mut Vec<DeviceRow>,
    keep: impl Fn(DeviceKind, &str) -> bool,
) {
    let ts = iv.end_ms;
    let mut push = |kind, device: &str, metric, value: Option<f64>| {
        if let Some(value) = value {
            out.push(DeviceRow {
                timestamp_ms: ts,
                kind,
                device: device.to_owned(),
                metric,
                value,
            });
        }
    };
    for (id, c) in &iv.cpus {
        let id = id.to_string();
        if !keep(DeviceKind::Cpu, &id) {
            continue;
        }
        for (m, v) in [
            ("user_pct", c.user_pct),
            ("nice_pct", c.nice_pct),
            ("system_pct", c.system_pct),
            ("iowait_pct", c.iowait_pct),
            ("irq_pct", c.irq_pct),
            ("softirq_pct", c.softirq_pct),
            ("steal_pct", c.steal_pct),
            ("guest_pct", c.guest_pct + c.guest_nice_pct),
            ("idle_pct", c.idle_pct),
        ] {
            push(DeviceKind::Cpu, &id, m, Some(v));
        }
    }
    for d in &iv.disks {
        if !keep(DeviceKind::Disk, &d.name) {
            continue;
        }
        for (m, v) in [
            ("reads_per_s", Some(d.reads_per_s)),
            ("writes_per_s", Some(d.writes_per_s)),
            ("discards_per_s", d.discards_per_s),
            ("flushes_per_s", d.flushes_per_s),
            ("read_bytes_per_s", Some(d.read_bytes_per_s)),
            ("write_bytes_per_s", Some(d.write_bytes_per_s)),
            ("discard_bytes_per_s", d.discard_bytes_per_s),
            ("r_await_ms", Some(d.r_await_ms)),
            ("w_await_ms", Some(d.w_await_ms)),
            ("d_await_ms", d.d_await_ms),
            ("f_await_ms", d.f_await_ms),
            ("aqu_sz", Some(d.aqu_sz)),
            ("util_pct", Some(d.util_pct)),
        ] {
            push(DeviceKind::Disk, &d.name, m, v);
        }
    }
    for n in &iv.nets {
        if !keep(DeviceKind::Net, &n.name) {
            continue;
        }
        for (m, v) in [
            ("rx_bytes_per_s", n.rx_bytes_per_s),
            ("tx_bytes_per_s", n.tx_bytes_per_s),
            ("rx_packets_per_s", n.rx_packets_per_s),
            ("tx_packets_per_s", n.tx_packets_per_s),
            ("rx_errs_per_s", n.rx_errs_per_s),
            ("tx_errs_per_s", n.tx_errs_per_s),
            ("rx_drop_per_s", n.rx_drop_per_s),
            ("tx_drop_per_s", n.tx_drop_per_s),
        ] {
            push(DeviceKind::Net, &n.name, m, Some(v));
        }
    }
    for f in &iv.filesystems {
        if !keep(DeviceKind::Fs, &f.mount_point) {
            continue;
        }
        push(
            DeviceKind::Fs,
            &f.mount_point,
            "size_bytes",
            Some(f.size_bytes as f64),
        );
        push(
            DeviceKind::Fs,
            &f.mount_point,
            "used_bytes",
            Some(f.used_bytes as f64),
        );
        push(
            DeviceKind::Fs,
            &f.mount_point,
            "available_bytes",
            Some(f.available_bytes as f64),
        );
        push(DeviceKind::Fs, &f.mount_point, "used_pct", f.used_pct);
        push(
            DeviceKind::Fs,
            &f.mount_point,
            "inodes_used_pct",
            f.inodes_used_pct,
        );
    }
    for c in &iv.containers {
        if !keep(DeviceKind::Container, &c.label) {
            continue;
        }
        for (m, v) in [
            ("cpu_pct", c.cpu_pct),
            ("cpu_user_pct", c.cpu_user_pct),
            ("cpu_system_pct", c.cpu_system_pct),
            ("cpu_limit_cores", c.cpu_limit_cores),
            ("throttled_pct", c.throttled_pct),
            ("mem_bytes", c.mem_bytes),
            ("mem_limit_bytes", c.mem_limit_bytes),
            ("mem_pct", c.mem_pct),
            ("mem_anon_bytes", c.mem_anon_bytes),
            ("mem_file_bytes", c.mem_file_bytes),
            ("read_bytes_per_s", c.read_bytes_per_s),
            ("write_bytes_per_s", c.write_bytes_per_s),
            ("reads_per_s", c.reads_per_s),
            ("writes_per_s", c.writes_per_s),
            ("pids", c.pids),
        ] {
            push(DeviceKind::Container, &c.label, m, v);
        }
    }
}

/// What a report says about a machine, gathered from its samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct MachineFacts {
    /// CPU model name (first processor of `/proc/cpuinfo`).
    pub cpu_model: Option<String>,
    /// Logical CPUs (per-CPU lines of `/proc/stat`, else cpuinfo processors).
    pub cpu_count: Option<u32>,
    /// Physical packages (distinct physical ids in cpuinfo).
    pub cpu_sockets: Option<u32>,
    /// MemTotal in bytes.
    pub mem_total_bytes: Option<u64>,
    /// SwapTotal in bytes.
    pub swap_total_bytes: Option<u64>,
    /// Boot time, unix seconds.
    pub boot_time_s: Option<u64>,
    /// Kernel release, when known (`uname -r`).
    pub kernel: Option<String>,
    /// Host name, when known.
    pub hostname: Option<String>,
}

impl MachineFacts {
    /// Facts from one parsed sample.
    pub fn from_snapshot(s: &crate::snapshot::Snapshot<'_>) -> Self {
        let mut f = MachineFacts::default();
        f.update(s);
        f
    }

    /// Fills facts still unknown from another sample (the first sample with a source wins,
    /// except the CPU count and memory, which follow the latest sample).
    pub fn update(&mut self, s: &crate::snapshot::Snapshot<'_>) {
        if let Some(ci) = &s.cpuinfo {
            if self.cpu_model.is_none() {
                self.cpu_model = ci.model_name().map(str::to_owned);
            }
            if self.cpu_sockets.is_none() && !ci.is_empty() {
                self.cpu_sockets = Some(ci.physical_cpus() as u32);
            }
            if self.cpu_count.is_none() && !ci.is_empty() {
                self.cpu_count = Some(ci.len() as u32);
            }
        }
        if let Some(st) = &s.stat {
            if !st.cpus.is_empty() {
                self.cpu_count = Some(st.cpus.len() as u32);
            }
            if st.btime.is_some() {
                self.boot_time_s = st.btime;
            }
        }
        if let Some(m) = &s.meminfo {
            if let Some(t) = m.mem_total_kib() {
                self.mem_total_bytes = Some(t * 1024);
            }
            if let Some(t) = m.swap_total_kib() {
                self.swap_total_bytes = Some(t * 1024);
            }
        }
        if let Some(k) = &s.kernel_release {
            self.kernel = Some(k.clone());
        }
    }
}
