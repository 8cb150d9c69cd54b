//! `/proc/diskstats`: cumulative I/O counters of every block device and partition.
//!
//! Each line is `major minor name` followed by the counters the kernel knows:
//! 11 before Linux 4.18, 15 since 4.18 (discards), 17 since 5.5 (flushes).
//! Linux 2.6.0 to 2.6.24 printed only 4 counters for partitions (reads,
//! sectors read, writes, sectors written), which is also accepted.
//! Sectors are always 512 bytes here, whatever the device's sector size.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::net_dev::scan;
use super::{fields, parse_u64, show, utf8};
use crate::error::{Error, Result};

/// The file this module parses, as named in errors.
pub const FILE: &str = "/proc/diskstats";

/// What a device is, judged from its name alone (captures carry no sysfs).
///
/// Used to keep totals from counting the same I/O twice: see
/// [`DeviceKind::counts_toward_totals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeviceKind {
    /// A whole physical or virtual disk: `sda`, `vda`, `xvda`, `hda`,
    /// `nvme0n1`, `mmcblk0`, `dasda`, `cciss!c0d0`.
    Disk,
    /// A partition of another device: `sda1`, `xvda1`, `nvme0n1p1`,
    /// `mmcblk0p1`, `nbd0p1`, `loop0p1`, `md0p1`.
    Partition,
    /// A device-mapper device (`dm-0`: LVM, LUKS, multipath).
    DeviceMapper,
    /// A software RAID array (`md0`, `md_d0`).
    Md,
    /// A loop device (`loop0`).
    Loop,
    /// A RAM disk (`ram0`).
    Ram,
    /// A compressed RAM disk (`zram0`).
    Zram,
    /// A CD/DVD drive (`sr0`, `scd0`).
    Optical,
    /// A floppy drive (`fd0`).
    Floppy,
    /// Anything else (`nbd0`, `rbd0`, `bcache0`, `zd0`, `nvme0c0n1`, ...).
    Other,
}

impl DeviceKind {
    /// Classifies a device by its `/proc/diskstats` name.
    pub fn from_name(name: &str) -> DeviceKind {
        classify(name.as_bytes())
    }

    /// Whether this kind of device adds to machine-wide disk totals.
    ///
    /// Only whole disks do. sysstat sums the same way (`sar -b` keeps the
    /// devices that have `/sys/block/<dev>/device`, i.e. whole, non-virtual
    /// disks): a partition's I/O is already counted in its disk, and the I/O
    /// of a dm, md or loop device is also counted on the disks below it, so
    /// adding them would count it twice. RAM disks and zram never reach a
    /// disk. Unlike sysstat, optical and floppy drives are left out as well:
    /// their I/O is removable media, not the storage a machine's workload uses.
    pub fn counts_toward_totals(self) -> bool {
        self == DeviceKind::Disk
    }
}

/// One line of `/proc/diskstats`: a device's cumulative counters.
///
/// Counters are as printed: operations, 512-byte sectors and milliseconds.
/// The `*_time_ms` fields and `io_time_ms` are 32-bit on some kernels and wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiskStat<'a> {
    /// Major device number.
    pub major: u32,
    /// Minor device number. Neither number is unique in every file: key
    /// devices by [`name`](Self::name).
    pub minor: u32,
    /// Device name as the kernel prints it (`/` in names shows as `!`).
    pub name: &'a str,
    /// Reads completed successfully (reads issued on 2.6.0–2.6.24 partition lines).
    pub reads_completed: u64,
    /// Adjacent reads merged into one.
    pub reads_merged: u64,
    /// Sectors read (512 bytes each).
    pub sectors_read: u64,
    /// Milliseconds spent by all reads.
    pub read_time_ms: u64,
    /// Writes completed successfully (writes issued on 2.6.0–2.6.24 partition lines).
    pub writes_completed: u64,
    /// Adjacent writes merged into one.
    pub writes_merged: u64,
    /// Sectors written (512 bytes each).
    pub sectors_written: u64,
    /// Milliseconds spent by all writes.
    pub write_time_ms: u64,
    /// I/Os currently in progress (a gauge, not a counter).
    pub ios_in_progress: u64,
    /// Milliseconds during which the device had I/O in flight (basis of %util).
    pub io_time_ms: u64,
    /// Milliseconds of I/O in flight weighted by the number in flight (basis of aqu-sz).
    pub weighted_io_time_ms: u64,
    /// Discards completed successfully (since Linux 4.18).
    pub discards_completed: Option<u64>,
    /// Adjacent discards merged into one (since Linux 4.18).
    pub discards_merged: Option<u64>,
    /// Sectors discarded (since Linux 4.18).
    pub sectors_discarded: Option<u64>,
    /// Milliseconds spent by all discards (since Linux 4.18).
    pub discard_time_ms: Option<u64>,
    /// Flush requests completed successfully (since Linux 5.5).
    pub flush_requests_completed: Option<u64>,
    /// Milliseconds spent by all flush requests (since Linux 5.5).
    pub flush_time_ms: Option<u64>,
    /// Fields on the line, including major, minor and name: 7, 14, 18 or 20.
    fields: u8,
}

impl<'a> DiskStat<'a> {
    /// How many fields the line had, including major, minor and name:
    /// 14 (before Linux 4.18), 18 (4.18+), 20 (5.5+), or 7 for a partition
    /// line of Linux 2.6.0–2.6.24, which has only `reads_completed`,
    /// `sectors_read`, `writes_completed` and `sectors_written` (the other
    /// counters are then 0 and left out of the JSON form).
    pub fn field_count(&self) -> usize {
        usize::from(self.fields)
    }

    /// What the device is, judged from its name.
    pub fn kind(&self) -> DeviceKind {
        DeviceKind::from_name(self.name)
    }

    /// Whether this device adds to machine-wide totals (whole disks only);
    /// see [`DeviceKind::counts_toward_totals`].
    pub fn counts_toward_totals(&self) -> bool {
        self.kind().counts_toward_totals()
    }

    /// The counters the line had, as `(kernel name, value)` in kernel order.
    pub fn counters(&self) -> impl Iterator<Item = (&'static str, u64)> + use<'a> {
        let all = [
            ("reads_completed", Some(self.reads_completed)),
            ("reads_merged", Some(self.reads_merged)),
            ("sectors_read", Some(self.sectors_read)),
            ("read_time_ms", Some(self.read_time_ms)),
            ("writes_completed", Some(self.writes_completed)),
            ("writes_merged", Some(self.writes_merged)),
            ("sectors_written", Some(self.sectors_written)),
            ("write_time_ms", Some(self.write_time_ms)),
            ("ios_in_progress", Some(self.ios_in_progress)),
            ("io_time_ms", Some(self.io_time_ms)),
            ("weighted_io_time_ms", Some(self.weighted_io_time_ms)),
            ("discards_completed", self.discards_completed),
            ("discards_merged", self.discards_merged),
            ("sectors_discarded", self.sectors_discarded),
            ("discard_time_ms", self.discard_time_ms),
            ("flush_requests_completed", self.flush_requests_completed),
            ("flush_time_ms", self.flush_time_ms),
        ];
        let short = self.fields == SHORT_PARTITION_FIELDS;
        all.into_iter()
            .enumerate()
            .filter(move |(i, _)| !short || matches!(i, 0 | 2 | 4 | 6))
            .filter_map(|(_, (k, v))| Some((k, v?)))
    }
}

/// Field count of a Linux 2.6.0–2.6.24 partition line.
const SHORT_PARTITION_FIELDS: u8 = 7;

/// Serializes the counters the line had, by their kernel names
/// (`reads_completed`, ..., `flush_time_ms`); absent ones are left out.
impl Serialize for DiskStat<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = match self.fields {
            SHORT_PARTITION_FIELDS => 4,
            f => usize::from(f).saturating_sub(3),
        };
        let mut m = s.serialize_map(Some(n))?;
        for (k, v) in self.counters() {
            m.serialize_entry(k, &v)?;
        }
        m.end()
    }
}

/// Serializes parsed diskstats as `{"<device name>": {counters...}, ...}` in file order.
#[derive(Debug, Clone, Copy)]
pub struct DiskstatsJson<'s, 'a>(pub &'s [DiskStat<'a>]);

impl Serialize for DiskstatsJson<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for d in self.0 {
            m.serialize_entry(d.name, d)?;
        }
        m.end()
    }
}

/// Parses the text of `/proc/diskstats`, one entry per line in file order.
///
/// Blank lines are skipped. A line whose field count is not 7, 14, 18 or 20,
/// whose device numbers or counters are not unsigned decimal numbers, or
/// whose name is not UTF-8 is an error naming the line.
pub fn parse(bytes: &[u8]) -> Result<Vec<DiskStat<'_>>> {
    let mut out = Vec::new();
    parse_into(bytes, &mut out)?;
    Ok(out)
}

/// Like [`parse`], but fills `out` (cleared first) so that its allocation is
/// reused. On error `out` holds the lines before the bad one.
pub fn parse_into<'a>(bytes: &'a [u8], out: &mut Vec<DiskStat<'a>>) -> Result<()> {
    out.clear();
    // About 100 bytes per line on a busy machine; a little spare is cheaper
    // than regrowing (and nothing to do when `out` kept its allocation).
    out.reserve(bytes.len() / 64 + 1);
    let mut rest = bytes;
    let mut n = 0;
    while !rest.is_empty() {
        n += 1;
        // Well-formed lines take the fused scanner; anything it does not
        // accept goes through the field splitter, which decides whether the
        // line is valid and words the error.
        if let Some(used) = scan_line(rest, out) {
            rest = rest.get(used..).unwrap_or_default();
            continue;
        }
        let (line, after) = match rest.iter().position(|&c| c == b'\n') {
            Some(i) => (rest.get(..i), rest.get(i + 1..)),
            None => (Some(rest), None),
        };
        out.extend(parse_line(n, line.unwrap_or_default())?);
        rest = after.unwrap_or_default();
    }
    Ok(())
}

/// Most counters a line can have (Linux 5.5+).
const MAX_COUNTERS: usize = 17;

/// One pass over one line, pushing its entry (if not blank) straight into
/// `out`. Returns the bytes used including the newline, or `None` (having
/// pushed nothing) when the line is anything but plainly well formed; the
/// caller then re-parses it with [`parse_line`]. Never accepts a line that
/// [`parse_line`] rejects, nor reads one differently.
#[inline(always)]
fn scan_line<'a>(b: &'a [u8], out: &mut Vec<DiskStat<'a>>) -> Option<usize> {
    let mut i = scan::skip_blanks(b, 0);
    if b.get(i).is_none_or(|&c| c == b'\n') {
        return Some(i + 1); // blank line
    }
    let (major, j) = scan::number(b, i)?;
    let major = u32::try_from(major).ok()?;
    i = scan::skip_blanks(b, j);
    let (minor, j) = scan::number(b, i)?;
    let minor = u32::try_from(minor).ok()?;
    i = scan::skip_blanks(b, j);
    let start = i;
    while b.get(i).is_some_and(|&c| c != b'\n' && !scan::is_blank(c)) {
        i += 1;
    }
    let name = utf8(b.get(start..i)?)?;
    if name.is_empty() {
        return None;
    }
    let mut v = [0u64; MAX_COUNTERS];
    let (count, end) = scan::numbers(b, i, &mut v)?;
    if !valid_count(count) {
        return None;
    }
    out.push(build(major, minor, name, v, count));
    Some(end + 1)
}

#[inline]
fn parse_line(n: usize, line: &[u8]) -> Result<Option<DiskStat<'_>>> {
    let bad = |what: &str| Error::parse(FILE, n, format!("{what}: {:?}", show(line)));
    let mut f = fields(line);
    let Some(major) = f.next() else {
        return Ok(None); // blank line
    };
    let (Some(minor), Some(name)) = (f.next(), f.next()) else {
        return Err(bad("expected major, minor and name"));
    };
    let major = parse_u32(major).ok_or_else(|| bad("major number is not a number"))?;
    let minor = parse_u32(minor).ok_or_else(|| bad("minor number is not a number"))?;
    let name = utf8(name).ok_or_else(|| bad("device name is not UTF-8"))?;
    let mut v = [0u64; MAX_COUNTERS];
    let mut count = 0usize;
    for field in f {
        let slot = v
            .get_mut(count)
            .ok_or_else(|| bad("too many fields (expected 14, 18 or 20)"))?;
        *slot = parse_u64(field).ok_or_else(|| bad("counter is not a number"))?;
        count += 1;
    }
    if !valid_count(count) {
        return Err(bad(&format!(
            "expected 14, 18 or 20 fields (or 7 for a Linux 2.6 partition), found {}",
            count + 3
        )));
    }
    Ok(Some(build(major, minor, name, v, count)))
}

/// Whether a line may have `count` counters: 4 (2.6.0–2.6.24 partitions),
/// 11, 15 (4.18+) or 17 (5.5+).
#[inline(always)]
fn valid_count(count: usize) -> bool {
    matches!(count, 4 | 11 | 15 | 17)
}

/// An entry from its parsed fields; `count` has passed [`valid_count`].
/// (Returning the entry itself, not an `Option`, lets it be built in place.)
#[inline(always)]
fn build(major: u32, minor: u32, name: &str, v: [u64; MAX_COUNTERS], count: usize) -> DiskStat<'_> {
    let [
        c0,
        c1,
        c2,
        c3,
        c4,
        c5,
        c6,
        c7,
        c8,
        c9,
        c10,
        c11,
        c12,
        c13,
        c14,
        c15,
        c16,
    ] = v;
    match count {
        4 => DiskStat {
            major,
            minor,
            name,
            reads_completed: c0,
            reads_merged: 0,
            sectors_read: c1,
            read_time_ms: 0,
            writes_completed: c2,
            writes_merged: 0,
            sectors_written: c3,
            write_time_ms: 0,
            ios_in_progress: 0,
            io_time_ms: 0,
            weighted_io_time_ms: 0,
            discards_completed: None,
            discards_merged: None,
            sectors_discarded: None,
            discard_time_ms: None,
            flush_requests_completed: None,
            flush_time_ms: None,
            fields: SHORT_PARTITION_FIELDS,
        },
        _ => {
            let discard = count >= 15;
            let flush = count >= 17;
            DiskStat {
                major,
                minor,
                name,
                reads_completed: c0,
                reads_merged: c1,
                sectors_read: c2,
                read_time_ms: c3,
                writes_completed: c4,
                writes_merged: c5,
                sectors_written: c6,
                write_time_ms: c7,
                ios_in_progress: c8,
                io_time_ms: c9,
                weighted_io_time_ms: c10,
                discards_completed: discard.then_some(c11),
                discards_merged: discard.then_some(c12),
                sectors_discarded: discard.then_some(c13),
                discard_time_ms: discard.then_some(c14),
                flush_requests_completed: flush.then_some(c15),
                flush_time_ms: flush.then_some(c16),
                // count is 11, 15 or 17 here.
                fields: (count + 3) as u8,
            }
        }
    }
}

#[inline]
fn parse_u32(b: &[u8]) -> Option<u32> {
    parse_u64(b).and_then(|v| u32::try_from(v).ok())
}

/// `prefix` removed from `b`, when `b` starts with it.
#[inline]
fn after<'b>(b: &'b [u8], prefix: &[u8]) -> Option<&'b [u8]> {
    b.strip_prefix(prefix)
}

/// Splits leading ASCII digits off `b`: `(digits, rest)`.
#[inline]
fn split_digits(b: &[u8]) -> (&[u8], &[u8]) {
    let i = b.iter().take_while(|c| c.is_ascii_digit()).count();
    b.split_at(i)
}

/// Non-empty and all ASCII digits.
#[inline]
fn is_number(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

/// `N` → whole, `NpM` → partition; anything else → `None`.
fn number_then_partition(rest: &[u8], whole: DeviceKind) -> Option<DeviceKind> {
    let (d, tail) = split_digits(rest);
    if d.is_empty() {
        return None;
    }
    if tail.is_empty() {
        return Some(whole);
    }
    match tail.split_first() {
        Some((b'p', m)) if is_number(m) => Some(DeviceKind::Partition),
        _ => None,
    }
}

fn classify(b: &[u8]) -> DeviceKind {
    use DeviceKind::*;
    if let Some(r) = after(b, b"dm-")
        && is_number(r)
    {
        return DeviceMapper;
    }
    if let Some(r) = after(b, b"zram")
        && is_number(r)
    {
        return Zram;
    }
    if let Some(r) = after(b, b"ram")
        && is_number(r)
    {
        return Ram;
    }
    if let Some(k) = after(b, b"loop").and_then(|r| number_then_partition(r, Loop)) {
        return k;
    }
    // `md_d0` is the old partitionable array name; check it before `md`.
    if let Some(k) = after(b, b"md_d").and_then(|r| number_then_partition(r, Md)) {
        return k;
    }
    if let Some(k) = after(b, b"md").and_then(|r| number_then_partition(r, Md)) {
        return k;
    }
    if let Some(r) = after(b, b"sr").or_else(|| after(b, b"scd"))
        && is_number(r)
    {
        return Optical;
    }
    if let Some(r) = after(b, b"fd")
        && is_number(r)
    {
        return Floppy;
    }
    if let Some(r) = after(b, b"nvme") {
        // nvme<ctrl>n<ns>[p<part>]; nvme<ctrl>c<path>n<ns> is a hidden
        // multipath leg whose I/O is also counted on nvme<ctrl>n<ns>.
        let (ctrl, r) = split_digits(r);
        if !ctrl.is_empty()
            && let Some(ns) = after(r, b"n")
            && let Some(k) = number_then_partition(ns, Disk)
        {
            return k;
        }
        return Other;
    }
    if let Some(r) = after(b, b"mmcblk") {
        let (d, tail) = split_digits(r);
        // mmcblk0boot0 is an eMMC hardware boot area, a disk of its own.
        if !d.is_empty()
            && let Some(m) = after(tail, b"boot")
            && is_number(m)
        {
            return Disk;
        }
        if let Some(k) = number_then_partition(r, Disk) {
            return k;
        }
        return Other;
    }
    if let Some(k) = after(b, b"nbd").and_then(|r| number_then_partition(r, Other)) {
        return k;
    }
    // Letter-named disks: sda, sdaa, hda, vda, xvda, dasda; a number after the
    // letters makes a partition (sda1, xvda1, dasda1).
    for prefix in [&b"sd"[..], b"hd", b"vd", b"xvd", b"dasd"] {
        if let Some(r) = after(b, prefix) {
            let letters = r.iter().take_while(|c| c.is_ascii_lowercase()).count();
            let (l, digits) = r.split_at(letters);
            if !l.is_empty() {
                if digits.is_empty() {
                    return Disk;
                }
                if is_number(digits) {
                    return Partition;
                }
            }
        }
    }
    // Controller-style names with `/` shown as `!`: cciss!c0d0, cciss!c0d0p1.
    if let Some(i) = b.iter().position(|&c| c == b'!')
        && let Some(r) = b.get(i + 1..).and_then(|r| after(r, b"c"))
    {
        let (ctrl, r) = split_digits(r);
        if !ctrl.is_empty()
            && let Some(r) = after(r, b"d")
            && let Some(k) = number_then_partition(r, Disk)
        {
            return k;
        }
    }
    // Any other `<name><digit>p<digits>` is a partition (rbd0p1, zd0p1).
    if let Some(p) = b.iter().rposition(|&c| c == b'p')
        && p > 0
        && b.get(p - 1).is_some_and(u8::is_ascii_digit)
        && b.get(p + 1..).is_some_and(is_number)
    {
        return Partition;
    }
    Other
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const V14: &[u8] = b"   8       0 sda 25354637 34367663 1003346126 18492372 28444756 11134226 505697032 63877960 0 9653880 82621804\n";
    const V18: &[u8] = b"   8      16 sdb 326552 841 9657779 84 41822 2895 1972905 5007 0 60730 67070 68851 0 1925173784 11130\n";
    const V20: &[u8] = b"   8      32 sdc 126552 141 1657779 14 11822 1895 172905 1007 0 10730 17070 18851 0 125173784 11130 1555 1944\n";

    /// A counter by its kernel name, for table-driven assertions.
    fn counter(d: &DiskStat<'_>, field: &str) -> Option<u64> {
        match field {
            "reads_completed" => Some(d.reads_completed),
            "reads_merged" => Some(d.reads_merged),
            "sectors_read" => Some(d.sectors_read),
            "read_time_ms" => Some(d.read_time_ms),
            "writes_completed" => Some(d.writes_completed),
            "writes_merged" => Some(d.writes_merged),
            "sectors_written" => Some(d.sectors_written),
            "write_time_ms" => Some(d.write_time_ms),
            "ios_in_progress" => Some(d.ios_in_progress),
            "io_time_ms" => Some(d.io_time_ms),
            "weighted_io_time_ms" => Some(d.weighted_io_time_ms),
            "discards_completed" => d.discards_completed,
            "discards_merged" => d.discards_merged,
            "sectors_discarded" => d.sectors_discarded,
            "discard_time_ms" => d.discard_time_ms,
            "flush_requests_completed" => d.flush_requests_completed,
            "flush_time_ms" => d.flush_time_ms,
            "field_count" => Some(d.field_count() as u64),
            _ => panic!("unknown field {field}"),
        }
    }

    #[test]
    fn fourteen_fields_before_4_18() {
        let v = parse(V14).unwrap();
        assert_eq!(v.len(), 1);
        let d = &v[0];
        assert_eq!((d.major, d.minor, d.name), (8, 0, "sda"));
        assert_eq!(d.reads_completed, 25354637);
        assert_eq!(d.reads_merged, 34367663);
        assert_eq!(d.sectors_read, 1003346126);
        assert_eq!(d.read_time_ms, 18492372);
        assert_eq!(d.writes_completed, 28444756);
        assert_eq!(d.writes_merged, 11134226);
        assert_eq!(d.sectors_written, 505697032);
        assert_eq!(d.write_time_ms, 63877960);
        assert_eq!(d.ios_in_progress, 0);
        assert_eq!(d.io_time_ms, 9653880);
        assert_eq!(d.weighted_io_time_ms, 82621804);
        assert_eq!(d.discards_completed, None);
        assert_eq!(d.discard_time_ms, None);
        assert_eq!(d.flush_requests_completed, None);
        assert_eq!(d.field_count(), 14);
        assert_eq!(d.kind(), DeviceKind::Disk);
        assert!(d.counts_toward_totals());
    }

    #[test]
    fn eighteen_fields_since_4_18() {
        let d = parse(V18).unwrap()[0];
        assert_eq!(d.field_count(), 18);
        assert_eq!(d.weighted_io_time_ms, 67070);
        assert_eq!(d.discards_completed, Some(68851));
        assert_eq!(d.discards_merged, Some(0));
        assert_eq!(d.sectors_discarded, Some(1925173784));
        assert_eq!(d.discard_time_ms, Some(11130));
        assert_eq!(d.flush_requests_completed, None);
        assert_eq!(d.flush_time_ms, None);
    }

    #[test]
    fn twenty_fields_since_5_5() {
        let d = parse(V20).unwrap()[0];
        assert_eq!(d.field_count(), 20);
        assert_eq!(d.discard_time_ms, Some(11130));
        assert_eq!(d.flush_requests_completed, Some(1555));
        assert_eq!(d.flush_time_ms, Some(1944));
    }

    #[test]
    fn seven_field_partition_line_of_linux_2_6() {
        let v =
            parse(b"   8    0 sda 100 2 3 4 5 6 7 8 0 9 10\n   8    1 sda1 41 328 7 56\n").unwrap();
        let p = v[1];
        assert_eq!(p.name, "sda1");
        assert_eq!(p.field_count(), 7);
        assert_eq!(p.reads_completed, 41);
        assert_eq!(p.sectors_read, 328);
        assert_eq!(p.writes_completed, 7);
        assert_eq!(p.sectors_written, 56);
        assert_eq!((p.reads_merged, p.read_time_ms, p.io_time_ms), (0, 0, 0));
        assert_eq!(p.discards_completed, None);
        let j = serde_json::to_value(p).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"reads_completed": 41, "sectors_read": 328,
                "writes_completed": 7, "sectors_written": 56})
        );
    }

    #[test]
    fn empty_and_blank_input() {
        assert!(parse(b"").unwrap().is_empty());
        assert!(parse(b"\n\n  \n").unwrap().is_empty());
    }

    #[test]
    fn no_trailing_newline() {
        let v = parse(&V14[..V14.len() - 1]).unwrap();
        assert_eq!(v[0].weighted_io_time_ms, 82621804);
    }

    #[test]
    fn mixed_field_counts_in_one_file() {
        let mut all = V14.to_vec();
        all.extend_from_slice(V18);
        all.extend_from_slice(V20);
        let v = parse(&all).unwrap();
        let counts: Vec<_> = v.iter().map(DiskStat::field_count).collect();
        assert_eq!(counts, vec![14, 18, 20]);
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse(b"   8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n   8 1 sda1 1 2 3 4 5 6 7 8 9 10\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/proc/diskstats: line 2:"), "{e}");
        assert!(e.contains("found 13"), "{e}");
        let e = parse(b"8 0 sda 1 2 3 4 5 6 7 x 9 10 11\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && e.contains("not a number"), "{e}");
        // Short, long, garbage, signs, overflow.
        assert!(parse(b"8 0\n").is_err());
        assert!(parse(b"8 0 sda\n").is_err());
        assert!(parse(b"8 0 sda 1 2 3 4 5\n").is_err());
        assert!(parse(b"8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\n").is_err());
        assert!(parse(b"x 0 sda 1 2 3 4 5 6 7 8 9 10 11\n").is_err());
        assert!(parse(b"8 -1 sda 1 2 3 4 5 6 7 8 9 10 11\n").is_err());
        assert!(parse(b"4294967296 0 sda 1 2 3 4 5 6 7 8 9 10 11\n").is_err());
        assert!(parse(b"8 0 sda 1 2 3 4 5 6 7 8 9 10 18446744073709551616\n").is_err());
        assert!(parse(b"8 0 \xff 1 2 3 4 5 6 7 8 9 10 11\n").is_err());
        assert!(parse(b"hello world\n").is_err());
    }

    #[test]
    fn max_values() {
        let d = parse(b"4294967295 4294967295 x 18446744073709551615 0 0 0 0 0 0 0 0 0 0\n")
            .unwrap()[0];
        assert_eq!((d.major, d.minor), (u32::MAX, u32::MAX));
        assert_eq!(d.reads_completed, u64::MAX);
    }

    #[test]
    fn parse_into_reuses_and_clears() {
        let mut out = Vec::new();
        parse_into(V18, &mut out).unwrap();
        parse_into(V20, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "sdc");
    }

    #[test]
    fn device_kinds_from_names() {
        use DeviceKind::*;
        let cases = [
            ("sda", Disk),
            ("sdaa", Disk),
            ("hda", Disk),
            ("vda", Disk),
            ("xvda", Disk),
            ("nvme0n1", Disk),
            ("nvme12n3", Disk),
            ("mmcblk0", Disk),
            ("mmcblk0boot0", Disk),
            ("dasda", Disk),
            ("cciss!c0d0", Disk),
            ("sda1", Partition),
            ("sdaa12", Partition),
            ("vdb2", Partition),
            ("xvda1", Partition),
            ("hda1", Partition),
            ("nvme0n1p1", Partition),
            ("mmcblk0p1", Partition),
            ("nbd0p1", Partition),
            ("loop0p1", Partition),
            ("md0p1", Partition),
            ("md_d0p1", Partition),
            ("dasda1", Partition),
            ("cciss!c0d0p1", Partition),
            ("rbd0p1", Partition),
            ("dm-0", DeviceMapper),
            ("dm-12", DeviceMapper),
            ("md0", Md),
            ("md127", Md),
            ("md_d0", Md),
            ("loop0", Loop),
            ("loop17", Loop),
            ("ram0", Ram),
            ("ram15", Ram),
            ("zram0", Zram),
            ("sr0", Optical),
            ("scd0", Optical),
            ("fd0", Floppy),
            ("nbd0", Other),
            ("nvme0c0n1", Other),
            ("rbd0", Other),
            ("bcache0", Other),
            ("dm-", Other),
            ("sd", Other),
            ("sda1x", Other),
            ("", Other),
            ("p1", Other),
            ("💩0p1", Partition),
        ];
        for (name, kind) in cases {
            assert_eq!(DeviceKind::from_name(name), kind, "{name}");
        }
        for (name, kind) in cases {
            assert_eq!(kind.counts_toward_totals(), kind == Disk, "{name}");
        }
    }

    #[test]
    fn json_uses_kernel_names() {
        let mut all = V14.to_vec();
        all.extend_from_slice(V18);
        all.extend_from_slice(V20);
        let v = parse(&all).unwrap();
        let j = serde_json::to_value(DiskstatsJson(&v)).unwrap();
        let sda = j["sda"].as_object().unwrap();
        let keys: Vec<&str> = sda.keys().map(String::as_str).collect();
        let mut expected = vec![
            "reads_completed",
            "reads_merged",
            "sectors_read",
            "read_time_ms",
            "writes_completed",
            "writes_merged",
            "sectors_written",
            "write_time_ms",
            "ios_in_progress",
            "io_time_ms",
            "weighted_io_time_ms",
        ];
        let mut sorted = expected.clone();
        sorted.sort_unstable();
        let mut got = keys.clone();
        got.sort_unstable();
        assert_eq!(got, sorted);
        assert_eq!(sda["weighted_io_time_ms"], 82621804);
        assert!(sda.get("discards_completed").is_none());
        assert_eq!(j["sdb"].as_object().unwrap().len(), 15);
        assert_eq!(j["sdb"]["sectors_discarded"], 1925173784u64);
        assert!(j["sdb"].get("flush_time_ms").is_none());
        expected.extend([
            "discards_completed",
            "discards_merged",
            "sectors_discarded",
            "discard_time_ms",
            "flush_requests_completed",
            "flush_time_ms",
        ]);
        // Serialized in kernel order (serde_json keeps insertion order only
        // with preserve_order, so check through the string form).
        let text = serde_json::to_string(&v[2]).unwrap();
        let mut last = 0;
        for k in &expected {
            let at = text.find(&format!("\"{k}\"")).unwrap();
            assert!(at >= last, "{k} out of order in {text}");
            last = at;
        }
        assert_eq!(j["sdc"]["flush_time_ms"], 1944);
        assert_eq!(j["sdc"]["flush_requests_completed"], 1555);
    }

    const PROCFS: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/corpus/procfs/diskstats-14-18-20-fields/proc/diskstats"
    ));
    const NODE_EXPORTER: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/corpus/node_exporter/diskstats-14-18-20-fields/proc/diskstats"
    ));

    #[test]
    fn fixture_procfs_14_18_20_fields() {
        let v = parse(PROCFS).unwrap();
        // blockdevice/stats_test.go assertions (expected.json).
        assert_eq!(v.len(), 52);
        assert_eq!(v[0].name, "ram0");
        assert_eq!(v[1].field_count(), 14);
        assert_eq!(v[24].name, "sda");
        assert_eq!(v[24].writes_completed, 28444756);
        assert_eq!(v[48].name, "sdb2");
        assert_eq!(v[48].discard_time_ms, Some(11130));
        assert_eq!(v[48].field_count(), 18);
        assert_eq!(v[49].name, "sdc");
        assert_eq!(v[49].field_count(), 20);
        assert_eq!(v[49].flush_requests_completed, Some(127));
        assert_eq!(v[49].flush_time_ms, Some(182));
        // Transcribed by the corpus builder.
        assert_eq!((v[46].major, v[46].minor, v[46].name), (8, 0, "sdb"));
        assert_eq!((v[49].major, v[49].minor), (8, 0)); // same numbers as sdb
        assert_eq!(v[46].sectors_discarded, Some(1925173784));
        assert_eq!(v[47].name, "sdb1");
        assert_eq!(v[47].sectors_read, 34466);
        assert_eq!(v[51].name, "sdc2");
        assert_eq!(v[51].weighted_io_time_ms, 50449);
        assert_eq!(v[51].flush_time_ms, Some(0));
        assert_eq!(v[29].name, "dm-0");
        assert_eq!(v[29].write_time_ms, 1158557800);
        assert_eq!(v[38].name, "fd0");
        assert_eq!(v[38].read_time_ms, 80);
        let counts = v.iter().fold([0; 3], |mut c, d| {
            c[match d.field_count() {
                14 => 0,
                18 => 1,
                _ => 2,
            }] += 1;
            c
        });
        assert_eq!(counts, [46, 3, 3]);
        // Kinds of everything in the file.
        let disks: Vec<&str> = v
            .iter()
            .filter(|d| d.counts_toward_totals())
            .map(|d| d.name)
            .collect();
        assert_eq!(
            disks,
            vec!["sda", "mmcblk0", "vda", "nvme0n1", "sdb", "sdc"]
        );
        assert_eq!(v[30].kind(), DeviceKind::DeviceMapper);
        assert_eq!(v[15].kind(), DeviceKind::Ram);
        assert_eq!(v[16].kind(), DeviceKind::Loop);
        assert_eq!(v[38].kind(), DeviceKind::Floppy);
        assert_eq!(v[42].kind(), DeviceKind::Optical);
        assert_eq!(v[45].kind(), DeviceKind::Partition);
        // Duplicate device numbers stay distinct by name in JSON.
        let j = serde_json::to_value(DiskstatsJson(&v)).unwrap();
        assert_eq!(j.as_object().unwrap().len(), 52);
        assert_eq!(j["sdc"]["flush_time_ms"], 182);
    }

    /// collector/diskstats_linux_test.go, converted back to sectors and ms
    /// (expected.json): (device, field, value, source line).
    const NODE_EXPORTER_EXPECTED: &[(&str, &str, u64, u32)] = &[
        ("sdb", "discard_time_ms", 11130, 84),
        ("sdc", "discard_time_ms", 11130, 85),
        ("sdb", "sectors_discarded", 1925173784, 88),
        ("sdc", "sectors_discarded", 125173784, 89),
        ("sdb", "discards_completed", 68851, 92),
        ("sdc", "discards_completed", 18851, 93),
        ("sdb", "discards_merged", 0, 96),
        ("sdc", "discards_merged", 0, 97),
        ("sdc", "flush_time_ms", 1944, 112),
        ("sdc", "flush_requests_completed", 1555, 115),
        ("dm-0", "ios_in_progress", 0, 135),
        ("dm-1", "ios_in_progress", 0, 136),
        ("dm-2", "ios_in_progress", 0, 137),
        ("dm-3", "ios_in_progress", 0, 138),
        ("dm-4", "ios_in_progress", 0, 139),
        ("dm-5", "ios_in_progress", 0, 140),
        ("mmcblk0", "ios_in_progress", 0, 141),
        ("mmcblk0p1", "ios_in_progress", 0, 142),
        ("mmcblk0p2", "ios_in_progress", 0, 143),
        ("nvme0n1", "ios_in_progress", 0, 144),
        ("sda", "ios_in_progress", 0, 145),
        ("sdb", "ios_in_progress", 0, 146),
        ("sdc", "ios_in_progress", 0, 147),
        ("sr0", "ios_in_progress", 0, 148),
        ("vda", "ios_in_progress", 0, 149),
        ("dm-0", "io_time_ms", 11325968, 152),
        ("dm-1", "io_time_ms", 76, 153),
        ("dm-2", "io_time_ms", 65400, 154),
        ("dm-3", "io_time_ms", 16, 155),
        ("dm-4", "io_time_ms", 24, 156),
        ("dm-5", "io_time_ms", 58848, 157),
        ("mmcblk0", "io_time_ms", 136, 158),
        ("mmcblk0p1", "io_time_ms", 24, 159),
        ("mmcblk0p2", "io_time_ms", 68, 160),
        ("nvme0n1", "io_time_ms", 222766, 161),
        ("sda", "io_time_ms", 9653880, 162),
        ("sdb", "io_time_ms", 60730, 163),
        ("sdc", "io_time_ms", 10730, 164),
        ("sr0", "io_time_ms", 0, 165),
        ("vda", "io_time_ms", 41614592, 166),
        ("dm-0", "weighted_io_time_ms", 1206301256, 169),
        ("dm-1", "weighted_io_time_ms", 84, 170),
        ("dm-2", "weighted_io_time_ms", 129416, 171),
        ("dm-3", "weighted_io_time_ms", 104, 172),
        ("dm-4", "weighted_io_time_ms", 44, 173),
        ("dm-5", "weighted_io_time_ms", 105632, 174),
        ("mmcblk0", "weighted_io_time_ms", 156, 175),
        ("mmcblk0p1", "weighted_io_time_ms", 24, 176),
        ("mmcblk0p2", "weighted_io_time_ms", 68, 177),
        ("nvme0n1", "weighted_io_time_ms", 1032546, 178),
        ("sda", "weighted_io_time_ms", 82621804, 179),
        ("sdb", "weighted_io_time_ms", 67070, 180),
        ("sdc", "weighted_io_time_ms", 17070, 181),
        ("sr0", "weighted_io_time_ms", 0, 182),
        ("vda", "weighted_io_time_ms", 2077872228, 183),
        ("dm-0", "sectors_read", 1003337218, 186),
        ("dm-1", "sectors_read", 3104, 187),
        ("dm-2", "sectors_read", 308350, 188),
        ("dm-3", "sectors_read", 3870, 189),
        ("dm-4", "sectors_read", 1034, 190),
        ("dm-5", "sectors_read", 84279, 191),
        ("mmcblk0", "sectors_read", 1560, 192),
        ("mmcblk0p1", "sectors_read", 160, 193),
        ("mmcblk0p2", "sectors_read", 760, 194),
        ("nvme0n1", "sectors_read", 4643973, 195),
        ("sda", "sectors_read", 1003346126, 196),
        ("sdb", "sectors_read", 9657779, 197),
        ("sdc", "sectors_read", 1657779, 198),
        ("sr0", "sectors_read", 0, 199),
        ("vda", "sectors_read", 32670882, 200),
        ("dm-0", "read_time_ms", 46229572, 203),
        ("dm-1", "read_time_ms", 84, 204),
        ("dm-2", "read_time_ms", 6536, 205),
        ("dm-3", "read_time_ms", 104, 206),
        ("dm-4", "read_time_ms", 28, 207),
        ("dm-5", "read_time_ms", 924, 208),
        ("mmcblk0", "read_time_ms", 156, 209),
        ("mmcblk0p1", "read_time_ms", 24, 210),
        ("mmcblk0p2", "read_time_ms", 68, 211),
        ("nvme0n1", "read_time_ms", 21650, 212),
        ("sda", "read_time_ms", 18492372, 213),
        ("sdb", "read_time_ms", 84, 214),
        ("sdc", "read_time_ms", 14, 215),
        ("sr0", "read_time_ms", 0, 216),
        ("vda", "read_time_ms", 8655768, 217),
        ("dm-0", "reads_completed", 59910002, 220),
        ("dm-1", "reads_completed", 388, 221),
        ("dm-2", "reads_completed", 11571, 222),
        ("dm-3", "reads_completed", 3870, 223),
        ("dm-4", "reads_completed", 392, 224),
        ("dm-5", "reads_completed", 3729, 225),
        ("mmcblk0", "reads_completed", 192, 226),
        ("mmcblk0p1", "reads_completed", 17, 227),
        ("mmcblk0p2", "reads_completed", 95, 228),
        ("nvme0n1", "reads_completed", 47114, 229),
        ("sda", "reads_completed", 25354637, 230),
        ("sdb", "reads_completed", 326552, 231),
        ("sdc", "reads_completed", 126552, 232),
        ("sr0", "reads_completed", 0, 233),
        ("vda", "reads_completed", 1775784, 234),
        ("dm-0", "reads_merged", 0, 237),
        ("dm-1", "reads_merged", 0, 238),
        ("dm-2", "reads_merged", 0, 239),
        ("dm-3", "reads_merged", 0, 240),
        ("dm-4", "reads_merged", 0, 241),
        ("dm-5", "reads_merged", 0, 242),
        ("mmcblk0", "reads_merged", 3, 243),
        ("mmcblk0p1", "reads_merged", 3, 244),
        ("mmcblk0p2", "reads_merged", 0, 245),
        ("nvme0n1", "reads_merged", 4, 246),
        ("sda", "reads_merged", 34367663, 247),
        ("sdb", "reads_merged", 841, 248),
        ("sdc", "reads_merged", 141, 249),
        ("sr0", "reads_merged", 0, 250),
        ("vda", "reads_merged", 15386, 251),
        ("dm-0", "write_time_ms", 1158557800, 254),
        ("dm-1", "write_time_ms", 0, 255),
        ("dm-2", "write_time_ms", 122884, 256),
        ("dm-3", "write_time_ms", 0, 257),
        ("dm-4", "write_time_ms", 16, 258),
        ("dm-5", "write_time_ms", 104684, 259),
        ("mmcblk0", "write_time_ms", 0, 260),
        ("mmcblk0p1", "write_time_ms", 0, 261),
        ("mmcblk0p2", "write_time_ms", 0, 262),
        ("nvme0n1", "write_time_ms", 1011053, 263),
        ("sda", "write_time_ms", 63877960, 264),
        ("sdb", "write_time_ms", 5007, 265),
        ("sdc", "write_time_ms", 1007, 266),
        ("sr0", "write_time_ms", 0, 267),
        ("vda", "write_time_ms", 2069221364, 268),
        ("dm-0", "writes_completed", 39231014, 271),
        ("dm-1", "writes_completed", 74, 272),
        ("dm-2", "writes_completed", 153522, 273),
        ("dm-3", "writes_completed", 0, 274),
        ("dm-4", "writes_completed", 38, 275),
        ("dm-5", "writes_completed", 98918, 276),
        ("mmcblk0", "writes_completed", 0, 277),
        ("mmcblk0p1", "writes_completed", 0, 278),
        ("mmcblk0p2", "writes_completed", 0, 279),
        ("nvme0n1", "writes_completed", 1078320, 280),
        ("sda", "writes_completed", 28444756, 281),
        ("sdb", "writes_completed", 41822, 282),
        ("sdc", "writes_completed", 11822, 283),
        ("sr0", "writes_completed", 0, 284),
        ("vda", "writes_completed", 6038856, 285),
        ("dm-0", "writes_merged", 0, 288),
        ("dm-1", "writes_merged", 0, 289),
        ("dm-2", "writes_merged", 0, 290),
        ("dm-3", "writes_merged", 0, 291),
        ("dm-4", "writes_merged", 0, 292),
        ("dm-5", "writes_merged", 0, 293),
        ("mmcblk0", "writes_merged", 0, 294),
        ("mmcblk0p1", "writes_merged", 0, 295),
        ("mmcblk0p2", "writes_merged", 0, 296),
        ("nvme0n1", "writes_merged", 43950, 297),
        ("sda", "writes_merged", 11134226, 298),
        ("sdb", "writes_merged", 2895, 299),
        ("sdc", "writes_merged", 1895, 300),
        ("sr0", "writes_merged", 0, 301),
        ("vda", "writes_merged", 20711856, 302),
        ("dm-0", "sectors_written", 505696880, 305),
        ("dm-1", "sectors_written", 592, 306),
        ("dm-2", "sectors_written", 5093416, 307),
        ("dm-3", "sectors_written", 0, 308),
        ("dm-4", "sectors_written", 137, 309),
        ("dm-5", "sectors_written", 1151688, 310),
        ("mmcblk0", "sectors_written", 0, 311),
        ("mmcblk0p1", "sectors_written", 0, 312),
        ("mmcblk0p2", "sectors_written", 0, 313),
        ("nvme0n1", "sectors_written", 39451633, 314),
        ("sda", "sectors_written", 505697032, 315),
        ("sdb", "sectors_written", 1972905, 316),
        ("sdc", "sectors_written", 172905, 317),
        ("sr0", "sectors_written", 0, 318),
        ("vda", "sectors_written", 213637440, 319),
    ];

    #[test]
    fn fixture_node_exporter_14_18_20_fields() {
        let v = parse(NODE_EXPORTER).unwrap();
        assert_eq!(v.len(), 51);
        for &(dev, field, want, line) in NODE_EXPORTER_EXPECTED {
            let d = v
                .iter()
                .find(|d| d.name == dev)
                .unwrap_or_else(|| panic!("{dev} missing"));
            assert_eq!(
                counter(d, field),
                Some(want),
                "{dev}.{field} (test line {line})"
            );
        }
        assert_eq!(NODE_EXPORTER_EXPECTED.len(), 175);
        // Absent fields stay absent rather than misaligned.
        let sdb = v.iter().find(|d| d.name == "sdb").unwrap();
        assert_eq!(sdb.flush_requests_completed, None);
        let sda = v.iter().find(|d| d.name == "sda").unwrap();
        assert_eq!(sda.discards_completed, None);
        // Transcribed by the corpus builder.
        let sdc1 = v.last().unwrap();
        assert_eq!((sdc1.major, sdc1.minor, sdc1.name), (8, 33, "sdc1"));
        assert_eq!(sdc1.field_count(), 20);
        assert_eq!(sdc1.sectors_read, 34466);
        assert_eq!(sdc1.flush_time_ms, Some(0));
        // node_exporter's default exclusion regex drops exactly what our
        // kinds flag as partitions, ram, loop and floppy.
        for d in &v {
            let excluded = matches!(
                d.kind(),
                DeviceKind::Partition | DeviceKind::Ram | DeviceKind::Loop | DeviceKind::Floppy
            ) && !d.name.starts_with("mmcblk");
            let asserted = NODE_EXPORTER_EXPECTED.iter().any(|e| e.0 == d.name);
            assert_eq!(excluded, !asserted, "{}", d.name);
        }
    }

    fn mutate(base: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
        let mut b = base.to_vec();
        for &(pos, op, byte) in edits {
            let len = b.len();
            match op % 3 {
                0 if len > 0 => b[pos % len] = byte,
                1 => b.insert(pos % (len + 1), byte),
                _ if len > 0 => {
                    b.remove(pos % len);
                }
                _ => {}
            }
        }
        b
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn digit_soup_never_panics(s in "[0-9 a-z\n-]{0,300}") {
            let _ = parse(s.as_bytes());
        }

        #[test]
        fn mutated_fixture_never_panics(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..16)
        ) {
            let b = mutate(NODE_EXPORTER, &edits);
            if let Ok(v) = parse(&b) {
                for d in &v {
                    prop_assert!(matches!(d.field_count(), 7 | 14 | 18 | 20));
                    let _ = d.kind();
                }
            }
        }

        /// The fast scanner reads every line it accepts exactly as the line
        /// parser does (which defines what is valid).
        #[test]
        fn fast_path_agrees_with_line_parser(
            line in "[ \t]{0,4}[0-9]{1,11}[ \t]{1,3}[0-9]{1,11} [a-z0-9!-]{1,8}( {1,2}[0-9]{1,21}){3,18}[ \t\r]{0,2}",
            noisy in "[ 0-9a-z\t\r-]{0,80}",
            newline in any::<bool>(),
        ) {
            for text in [line, noisy] {
                let mut b = text.clone().into_bytes();
                if newline {
                    b.push(b'\n');
                }
                let mut out = Vec::new();
                if let Some(used) = scan_line(&b, &mut out) {
                    prop_assert!(out.len() <= 1);
                    prop_assert_eq!(parse_line(1, text.as_bytes()).ok(), Some(out.pop()));
                    prop_assert_eq!(used, text.len() + 1);
                } else {
                    prop_assert!(out.is_empty());
                }
            }
        }

        /// Idle devices print runs of single zeros, which the scanner takes
        /// four at a time.
        #[test]
        fn zero_runs_read_as_the_line_parser_does(
            line in "[0-9]{1,3} [0-9]{1,3} loop[0-9]( (0|0|0|0|00|[0-9]{1,2})){3,19}[ \t]{0,2}",
        ) {
            let b = format!("{line}\n").into_bytes();
            let mut out = Vec::new();
            if let Some(used) = scan_line(&b, &mut out) {
                prop_assert_eq!(parse_line(1, line.as_bytes()).ok(), Some(out.pop()));
                prop_assert_eq!(used, b.len());
            } else {
                prop_assert!(out.is_empty());
            }
            prop_assert_eq!(
                parse(&b).map_err(|e| e.to_string()),
                parse_line(1, line.as_bytes()).map(|d| d.into_iter().collect::<Vec<_>>()).map_err(|e| e.to_string())
            );
        }

        #[test]
        fn any_name_classifies(name in "\\PC{0,12}") {
            let _ = DeviceKind::from_name(&name);
        }
    }
}
