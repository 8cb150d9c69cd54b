//! `/proc/stat`: CPU time per CPU and in total, interrupts, context switches,
//! boot time, forks and task counts.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use smallvec::SmallVec;

use super::net_dev::scan;
use super::swar::{HIGHS, ONES, word_at};
use super::{fields, parse_u64, show};
use crate::error::{Error, Result};

/// The file this module parses, as named in errors.
pub const FILE: &str = "/proc/stat";

/// Names of the softirq vectors in the order the kernel prints them (since 4.x).
pub const SOFTIRQ_NAMES: [&str; 10] = [
    "hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched", "hrtimer", "rcu",
];

/// Cumulative CPU time of one CPU (or all) in USER_HZ jiffies, as printed on a `cpu` line.
///
/// `user` includes `guest` and `nice` includes `guest_nice` (the kernel counts
/// guest time twice); the rate math takes them out as sysstat does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CpuTimes {
    /// Time in user mode.
    pub user: u64,
    /// Time in user mode at low priority.
    pub nice: u64,
    /// Time in kernel mode.
    pub system: u64,
    /// Idle time.
    pub idle: u64,
    /// Time waiting for I/O (since Linux 2.5.41).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iowait: Option<u64>,
    /// Time servicing hardware interrupts (since Linux 2.6.0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub irq: Option<u64>,
    /// Time servicing softirqs (since Linux 2.6.0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub softirq: Option<u64>,
    /// Time stolen by the hypervisor (since Linux 2.6.11).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steal: Option<u64>,
    /// Time running a guest's virtual CPU (since Linux 2.6.24).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest: Option<u64>,
    /// Time running a niced guest (since Linux 2.6.33).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_nice: Option<u64>,
}

impl CpuTimes {
    /// Builds CPU times from the values of a `cpu` line (at least 4, at most 10 used).
    pub fn from_values(v: &[u64]) -> Option<CpuTimes> {
        if v.len() < 4 {
            return None;
        }
        let get = |i: usize| v.get(i).copied();
        Some(CpuTimes {
            user: v[0],
            nice: v[1],
            system: v[2],
            idle: v[3],
            iowait: get(4),
            irq: get(5),
            softirq: get(6),
            steal: get(7),
            guest: get(8),
            guest_nice: get(9),
        })
    }

    /// The ten fields in kernel order, absent ones as 0.
    pub fn to_array(&self) -> [u64; 10] {
        [
            self.user,
            self.nice,
            self.system,
            self.idle,
            self.iowait.unwrap_or(0),
            self.irq.unwrap_or(0),
            self.softirq.unwrap_or(0),
            self.steal.unwrap_or(0),
            self.guest.unwrap_or(0),
            self.guest_nice.unwrap_or(0),
        ]
    }

    /// How many columns the kernel printed (4 to 10).
    pub fn columns(&self) -> usize {
        4 + [
            self.iowait,
            self.irq,
            self.softirq,
            self.steal,
            self.guest,
            self.guest_nice,
        ]
        .iter()
        .take_while(|o| o.is_some())
        .count()
    }
}

/// One `cpuN` line: the CPU's id and its times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cpu {
    /// The CPU id (`N` of `cpuN`); ids may have gaps when CPUs are offline.
    pub id: u32,
    /// Its cumulative times.
    pub times: CpuTimes,
}

/// The `cpuN` lines of a file: up to [`INLINE_CPUS`] of them are kept inside
/// the [`Stat`] itself, more on the heap. A small machine's file is then parsed
/// without allocating (the malloc and free were about 5% of the instructions
/// of [`parse`] on the live 2-CPU file). It derefs to `[Cpu]`.
pub type CpuList = SmallVec<[Cpu; INLINE_CPUS]>;

/// How many `cpuN` lines a [`CpuList`] holds before it allocates.
pub const INLINE_CPUS: usize = 4;

/// A two-value legacy line (`page in out`, `swap in out`), printed by Linux 2.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct InOut {
    /// First value (pages in).
    #[serde(rename = "in")]
    pub in_: u64,
    /// Second value (pages out).
    pub out: u64,
}

/// Parsed `/proc/stat`, borrowing the long `intr` and `softirq` lists from the input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stat<'a> {
    /// The aggregate `cpu` line.
    pub cpu_total: Option<CpuTimes>,
    /// One entry per `cpuN` line, in file order.
    pub cpus: CpuList,
    /// Total interrupts serviced since boot (first value of `intr`).
    pub intr_total: Option<u64>,
    intr_rest: &'a [u8],
    /// Context switches since boot.
    pub ctxt: Option<u64>,
    /// Boot time, unix seconds.
    pub btime: Option<u64>,
    /// Processes (and threads) created since boot.
    pub processes: Option<u64>,
    /// Tasks currently runnable.
    pub procs_running: Option<u64>,
    /// Tasks currently blocked on I/O.
    pub procs_blocked: Option<u64>,
    /// Total softirqs serviced since boot (first value of `softirq`).
    pub softirq_total: Option<u64>,
    softirq_rest: &'a [u8],
    /// Linux 2.4 `page` line (pages paged in and out).
    pub page: Option<InOut>,
    /// Linux 2.4 `swap` line (pages swapped in and out).
    pub swap: Option<InOut>,
}

impl<'a> Stat<'a> {
    /// The per-IRQ counters after the `intr` total, parsed lazily (the line can be
    /// hundreds of KiB on big machines, so [`parse`] does not touch it).
    /// A value that is not a number ends the sequence.
    pub fn intr_numbered(&self) -> impl Iterator<Item = u64> + 'a {
        fields(self.intr_rest).map_while(parse_u64)
    }

    /// The per-vector softirq counters after the total, in [`SOFTIRQ_NAMES`] order.
    pub fn softirq_vectors(&self) -> impl Iterator<Item = u64> + 'a {
        fields(self.softirq_rest).map_while(parse_u64)
    }

    /// The CPU with id `id`, if the file had a `cpu<id>` line.
    pub fn cpu(&self, id: u32) -> Option<&CpuTimes> {
        self.cpus.iter().find(|c| c.id == id).map(|c| &c.times)
    }
}

/// Parses the text of `/proc/stat`.
///
/// Unknown lines are ignored (kernels and patches add keys). A known key whose
/// value is missing or not a number is an error, as is a `cpu` line with fewer
/// than four values.
pub fn parse(bytes: &[u8]) -> Result<Stat<'_>> {
    // The `Stat` (about 900 bytes with the inline CPU list) is copied into the
    // result at the end, a `memcpy` of about 110 instructions; the allocation
    // and free of the CPU list it replaces took about twice as many.
    let mut st = Stat::default();
    parse_lines(bytes, &mut st)?;
    Ok(st)
}

/// Parses like [`parse`] into `out`, keeping the allocation of its CPU list
/// when it has one (more than [`INLINE_CPUS`] CPUs; a reader that parses every
/// second allocates nothing). On an error `out` holds the lines before the bad
/// one.
pub fn parse_into<'a>(bytes: &'a [u8], out: &mut Stat<'a>) -> Result<()> {
    out.clear();
    parse_lines(bytes, out)
}

impl Stat<'_> {
    /// Empties every field in place (the CPU list keeps its allocation).
    fn clear(&mut self) {
        // Destructured so that a new field cannot be forgotten here.
        let Stat {
            cpu_total,
            cpus,
            intr_total,
            intr_rest,
            ctxt,
            btime,
            processes,
            procs_running,
            procs_blocked,
            softirq_total,
            softirq_rest,
            page,
            swap,
        } = self;
        cpus.clear();
        *cpu_total = None;
        (*intr_total, *intr_rest) = (None, &[]);
        (*ctxt, *btime, *processes) = (None, None, None);
        (*procs_running, *procs_blocked) = (None, None);
        (*softirq_total, *softirq_rest) = (None, &[]);
        (*page, *swap) = (None, None);
    }
}

/// The lines of `bytes` into `st` (empty, or as [`parse_into`] leaves it).
#[inline]
fn parse_lines<'a>(bytes: &'a [u8], st: &mut Stat<'a>) -> Result<()> {
    let mut rest = bytes;
    let mut n = 0;
    while !rest.is_empty() {
        n += 1;
        if let Some(used) = common_line(rest, st).or_else(|| fast_line(rest, st)) {
            rest = rest.get(used..).unwrap_or_default();
            continue;
        }
        let (line, after) = match super::memchr_newline(rest) {
            Some(i) => (rest.get(..i), rest.get(i + 1..)),
            None => (Some(rest), None),
        };
        general_line(n, line.unwrap_or_default(), st)?;
        rest = after.unwrap_or_default();
    }
    Ok(())
}

/// Up to eight key bytes as a little-endian word, zero-padded.
const fn key_word(k: &[u8]) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < k.len() && i < 8 {
        w |= (k[i] as u64) << (8 * i);
        i += 1;
    }
    w
}

const CPU: u64 = key_word(b"cpu");
const INTR: u64 = key_word(b"intr");
const CTXT: u64 = key_word(b"ctxt");
const BTIME: u64 = key_word(b"btime");
const SOFTIRQ: u64 = key_word(b"softirq");
/// `processes`, `procs_running` and `procs_blocked`: their first eight bytes
/// and the rest.
const PROCESSES: (u64, u64) = (key_word(b"processe"), key_word(b"s"));
const PROCS_RUNNING: (u64, u64) = (key_word(b"procs_ru"), key_word(b"nning"));
const PROCS_BLOCKED: (u64, u64) = (key_word(b"procs_bl"), key_word(b"ocked"));

/// The bytes of the word `w` before its first byte below `'!'` (a blank, a
/// newline or a control byte), and how many there are; `None` when all eight
/// are at or above it.
#[inline(always)]
fn word_key(w: u64) -> Option<(u64, usize)> {
    // The lowest flag is exact: no borrow comes from the bytes below it.
    let below = w.wrapping_sub(ONES * 0x21) & !w & HIGHS;
    if below == 0 {
        return None;
    }
    let len = (below.trailing_zeros() / 8) as usize;
    Some((w & ((1u64 << (8 * len)) - 1), len))
}

/// Reads the blank-separated numbers of a `cpu` line from `i` to its end,
/// like [`scan::numbers`] (same results, same `None`s) but without its
/// shortcut for runs of zero counters, which costs more than it saves on the
/// few zeros of a `cpu` line, and without its skip of padded columns. A
/// const-generic `scan::numbers` that left out only the zero runs made
/// stat/live 25% slower (paired loop, 2026-12-03: 319 ns against 253 ns).
#[inline(always)]
fn cpu_values(b: &[u8], mut i: usize, out: &mut [u64]) -> Option<(usize, usize)> {
    let mut count = 0;
    loop {
        let Some(&c) = b.get(i) else {
            return Some((count, i));
        };
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            if c == b' ' {
                i += 1;
                continue;
            }
            if c == b'\n' {
                return Some((count, i));
            }
            if scan::is_blank(c) {
                i += 1;
                continue;
            }
            return None;
        }
        let v;
        (v, i) = digit_run(b, i, u64::from(d))?;
        *out.get_mut(count)? = v;
        count += 1;
    }
}

/// [`scan::number`] read with [`digit_run`]: the unsigned decimal number at
/// `i` and the index after it, `None` unless it has 1 to 19 digits and is
/// followed by a blank, a newline or the end.
#[inline(always)]
fn number(b: &[u8], i: usize) -> Option<(u64, usize)> {
    let d = b.get(i)?.wrapping_sub(b'0');
    if d > 9 {
        return None;
    }
    let (v, j) = digit_run(b, i, u64::from(d))?;
    let ends = b.get(j).is_none_or(|&c| c == b'\n' || scan::is_blank(c));
    ends.then_some((v, j))
}

/// The number whose first digit, of value `d`, is at `i`: its value and the
/// index after its last digit, or `None` when it has 20 digits or more (which
/// could overflow: the general path judges those). When 19 bytes follow the
/// first digit they are read as one fixed-size window, unrolled: constant
/// offsets, no bounds check or index update per digit. Otherwise (the last
/// bytes of the input) it is [`scan::digits`].
#[inline(always)]
fn digit_run(b: &[u8], i: usize, d: u64) -> Option<(u64, usize)> {
    let from = i + 1;
    let window = b
        .get(from..from.wrapping_add(19))
        .and_then(|w| <&[u8; 19]>::try_from(w).ok());
    let Some(w) = window else {
        let (v, end) = scan::digits(b, from, d);
        return (end - i <= 19).then_some((v, end));
    };
    let mut v = d;
    macro_rules! digit {
        ($($k:literal)*) => {$(
            let d = w[$k].wrapping_sub(b'0');
            if d > 9 {
                return Some((v, from + $k));
            }
            v = v.wrapping_mul(10).wrapping_add(u64::from(d));
        )*};
    }
    digit!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17);
    // 19 digits so far: a 20th is for the general path.
    (w[18].wrapping_sub(b'0') > 9).then_some((v, from + 18))
}

/// The quickest reading of the line at the start of `b`, for the shape the
/// kernel prints: a known key of up to 16 bytes at the start of the line, one
/// space, then the numbers. The key is found and compared a word at a time
/// instead of a byte at a time. Returns the bytes used including the newline,
/// or `None`, leaving `st` untouched, for anything else (including fewer than
/// 16 bytes left in the file): [`fast_line`] then reads the line, and reads
/// it the same way when this function accepts it.
#[inline(always)]
fn common_line<'a>(b: &'a [u8], st: &mut Stat<'a>) -> Option<usize> {
    let w = word_at(b, 0)?;
    let (key, k) = match word_key(w) {
        Some((lo, k)) => ((lo, 0), k),
        None => {
            let (hi, k) = word_key(word_at(b, 8)?)?;
            ((w, hi), 8 + k)
        }
    };
    if b.get(k) != Some(&b' ') {
        return None;
    }
    if key.1 == 0 && key.0 & 0xFF_FFFF == CPU {
        let mut v = [0u64; 16];
        let (count, end) = cpu_values(b, k, &mut v)?;
        let times = CpuTimes::from_values(&v[..count.min(10)])?;
        if k == 3 {
            st.cpu_total = Some(times);
        } else {
            let digits = b.get(3..k)?;
            let id = scan::number(digits, 0).and_then(|(i, _)| u32::try_from(i).ok())?;
            st.cpus.push(Cpu { id, times });
        }
        return Some(end + 1);
    }
    let slot = match key {
        (CTXT, 0) => &mut st.ctxt,
        (BTIME, 0) => &mut st.btime,
        PROCESSES => &mut st.processes,
        PROCS_RUNNING => &mut st.procs_running,
        PROCS_BLOCKED => &mut st.procs_blocked,
        (INTR | SOFTIRQ, 0) => {
            let (total, j) = number(b, k + 1)?;
            let tail = b.get(j..).unwrap_or_default();
            let end = j + super::memchr_newline(tail).unwrap_or(tail.len());
            let rest = super::trim_start(b.get(j..end).unwrap_or_default());
            if key.0 == INTR {
                (st.intr_total, st.intr_rest) = (Some(total), rest);
            } else {
                (st.softirq_total, st.softirq_rest) = (Some(total), rest);
            }
            return Some(end + 1);
        }
        _ => return None,
    };
    let (v, j) = number(b, k + 1)?;
    *slot = Some(v);
    // Extra values after the first are ignored, as the general path does.
    let end = if b.get(j).is_none_or(|&c| c == b'\n') {
        j
    } else {
        let tail = b.get(j..).unwrap_or_default();
        j + super::memchr_newline(tail).unwrap_or(tail.len())
    };
    Some(end + 1)
}

/// Reads the line at the start of `b` (the rest of the file) when it is in the
/// kernel's own layout: the key at the start of the line, then blank-separated
/// numbers that end at a blank or the line's end. One pass over its bytes; the
/// scan of the numbers finds the end of the line, so only the long `intr` and
/// `softirq` lines (and unknown keys) need a newline search. Returns the bytes
/// used including the newline, or `None`, leaving `st` untouched, for anything
/// else (blank lines, leading blanks, the 2.4 `page`/`swap` lines, numbers of
/// 20 digits, errors): [`general_line`] then reads that line, and reads it the
/// same way when it is well formed.
#[inline(always)]
fn fast_line<'a>(b: &'a [u8], st: &mut Stat<'a>) -> Option<usize> {
    let mut k = 0;
    while let Some(&c) = b.get(k) {
        if c == b'\n' || scan::is_blank(c) {
            break;
        }
        k += 1;
    }
    let key = b.get(..k).filter(|k| !k.is_empty())?;
    // The index of the line's newline (or the end), from `from` on.
    let line_end = |from: usize| {
        let tail = b.get(from..).unwrap_or_default();
        from + super::memchr_newline(tail).unwrap_or(tail.len())
    };
    if let Some(id) = key.strip_prefix(b"cpu") {
        let mut v = [0u64; 16];
        let (count, end) = scan::numbers(b, k, &mut v)?;
        let times = CpuTimes::from_values(&v[..count.min(10)])?;
        if id.is_empty() {
            st.cpu_total = Some(times);
        } else {
            let id = scan::number(id, 0).and_then(|(i, _)| u32::try_from(i).ok())?;
            st.cpus.push(Cpu { id, times });
        }
        return Some(end + 1);
    }
    let slot = match key {
        b"ctxt" => &mut st.ctxt,
        b"btime" => &mut st.btime,
        b"processes" => &mut st.processes,
        b"procs_running" => &mut st.procs_running,
        b"procs_blocked" => &mut st.procs_blocked,
        b"intr" | b"softirq" => {
            let (total, j) = scan::number(b, scan::skip_blanks(b, k))?;
            let end = line_end(j);
            let rest = super::trim_start(b.get(j..end).unwrap_or_default());
            if key == b"intr" {
                (st.intr_total, st.intr_rest) = (Some(total), rest);
            } else {
                (st.softirq_total, st.softirq_rest) = (Some(total), rest);
            }
            return Some(end + 1);
        }
        b"page" | b"swap" => return None,
        _ => return Some(line_end(k) + 1), // unknown keys are ignored
    };
    let (v, j) = scan::number(b, scan::skip_blanks(b, k))?;
    *slot = Some(v);
    // Extra values after the first are ignored, as the general path does.
    let end = if b.get(j).is_none_or(|&c| c == b'\n') {
        j
    } else {
        line_end(j)
    };
    Some(end + 1)
}

/// One line of any layout, split into fields; a known key whose value is
/// missing or not a number is an error.
#[cold]
fn general_line<'a>(n: usize, line: &'a [u8], st: &mut Stat<'a>) -> Result<()> {
    let mut f = fields(line);
    let Some(key) = f.next() else {
        return Ok(());
    };
    let bad = |what: &str| Error::parse(FILE, n, format!("{what}: {:?}", show(line)));
    if key.starts_with(b"cpu") {
        let id = &key[3..];
        let mut v = [0u64; 10];
        let mut count = 0;
        for field in f.by_ref() {
            let x = parse_u64(field).ok_or_else(|| bad("CPU time is not a number"))?;
            if count < 10 {
                v[count] = x;
            }
            count += 1;
        }
        let times = CpuTimes::from_values(&v[..count.min(10)])
            .ok_or_else(|| bad("cpu line has fewer than 4 values"))?;
        if id.is_empty() {
            st.cpu_total = Some(times);
        } else {
            let id = parse_u64(id)
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(|| bad("bad CPU id"))?;
            st.cpus.push(Cpu { id, times });
        }
        return Ok(());
    }
    let one = |f: &mut super::Fields<'_>| -> Result<u64> {
        f.next()
            .and_then(parse_u64)
            .ok_or_else(|| bad("value missing or not a number"))
    };
    match key {
        b"intr" => {
            st.intr_total = Some(one(&mut f)?);
            st.intr_rest = f.remainder();
        }
        b"softirq" => {
            st.softirq_total = Some(one(&mut f)?);
            st.softirq_rest = f.remainder();
        }
        b"ctxt" => st.ctxt = Some(one(&mut f)?),
        b"btime" => st.btime = Some(one(&mut f)?),
        b"processes" => st.processes = Some(one(&mut f)?),
        b"procs_running" => st.procs_running = Some(one(&mut f)?),
        b"procs_blocked" => st.procs_blocked = Some(one(&mut f)?),
        b"page" | b"swap" => {
            let pair = InOut {
                in_: one(&mut f)?,
                out: one(&mut f)?,
            };
            if key == b"page" {
                st.page = Some(pair);
            } else {
                st.swap = Some(pair);
            }
        }
        _ => {}
    }
    Ok(())
}

struct CpuMap<'s>(&'s [Cpu]);

impl Serialize for CpuMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for c in self.0 {
            m.serialize_entry(&c.id.to_string(), &c.times)?;
        }
        m.end()
    }
}

struct Totals<'s> {
    total: u64,
    names: Option<&'s [&'static str]>,
    rest: &'s [u8],
}

impl Serialize for Totals<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("total", &self.total)?;
        if let Some(names) = self.names {
            for (name, v) in names.iter().zip(fields(self.rest).map_while(parse_u64)) {
                m.serialize_entry(name, &v)?;
            }
        }
        m.end()
    }
}

/// Serializes with the kernel's names: `cpu_total`, `cpu` (map by id), `intr.total`, ...
impl Serialize for Stat<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(t) = &self.cpu_total {
            m.serialize_entry("cpu_total", t)?;
        }
        m.serialize_entry("cpu", &CpuMap(&self.cpus))?;
        if let Some(total) = self.intr_total {
            let t = Totals {
                total,
                names: None,
                rest: self.intr_rest,
            };
            m.serialize_entry("intr", &t)?;
        }
        for (k, v) in [
            ("ctxt", self.ctxt),
            ("btime", self.btime),
            ("processes", self.processes),
            ("procs_running", self.procs_running),
            ("procs_blocked", self.procs_blocked),
        ] {
            if let Some(v) = v {
                m.serialize_entry(k, &v)?;
            }
        }
        if let Some(total) = self.softirq_total {
            let t = Totals {
                total,
                names: Some(&SOFTIRQ_NAMES),
                rest: self.softirq_rest,
            };
            m.serialize_entry("softirq", &t)?;
        }
        if let Some(p) = &self.page {
            m.serialize_entry("page", p)?;
        }
        if let Some(p) = &self.swap {
            m.serialize_entry("swap", p)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_into_gives_what_parse_gives_and_keeps_its_cpu_list() {
        let two = b"cpu  10 0 5 100 0 0 0 0 0 0\ncpu0 5 0 2 50 0 0 0 0 0 0\ncpu1 5 0 3 50 0 0 0 0 0 0\nctxt 7\n";
        let one = b"cpu  1 2 3 4\ncpu3 1 2 3 4\nbtime 9\n";
        let mut kept = Stat::default();
        parse_into(two, &mut kept).unwrap();
        assert_eq!(kept, parse(two).unwrap());
        let (cap, ptr) = (kept.cpus.capacity(), kept.cpus.as_ptr());
        // A second file: nothing of the first is left (ctxt, the second CPU), and
        // the list's allocation is the same.
        parse_into(one, &mut kept).unwrap();
        assert_eq!(kept, parse(one).unwrap());
        assert_eq!(kept.ctxt, None);
        assert_eq!(kept.btime, Some(9));
        assert_eq!(kept.cpus.len(), 1);
        assert_eq!(kept.cpus[0].id, 3);
        assert_eq!((kept.cpus.capacity(), kept.cpus.as_ptr()), (cap, ptr));
        assert!(parse_into(b"cpu x\n", &mut kept).is_err());
    }

    const MODERN: &[u8] = b"cpu  373708 4860 107483 67002379 258643 0 12620 0 0 0\n\
cpu0 373708 4860 107483 67002379 258643 0 12620 0 0 0\n\
intr 30273852 0 0 2934\n\
ctxt 56093718\n\
btime 1767134306\n\
processes 105593\n\
procs_running 2\n\
procs_blocked 0\n\
softirq 27098783 0 10254836 4 3329630 0 0 8643355 0 878 4870080\n";

    #[test]
    fn modern_file() {
        let s = parse(MODERN).unwrap();
        let t = s.cpu_total.unwrap();
        assert_eq!(t.user, 373708);
        assert_eq!(t.iowait, Some(258643));
        assert_eq!(t.guest_nice, Some(0));
        assert_eq!(t.columns(), 10);
        assert_eq!(s.cpus.len(), 1);
        assert_eq!(s.cpu(0).unwrap().softirq, Some(12620));
        assert_eq!(s.intr_total, Some(30273852));
        assert_eq!(s.intr_numbered().collect::<Vec<_>>(), vec![0, 0, 2934]);
        assert_eq!(s.ctxt, Some(56093718));
        assert_eq!(s.btime, Some(1767134306));
        assert_eq!(s.processes, Some(105593));
        assert_eq!(s.procs_running, Some(2));
        assert_eq!(s.procs_blocked, Some(0));
        assert_eq!(s.softirq_total, Some(27098783));
        assert_eq!(s.softirq_vectors().nth(2), Some(4));
    }

    #[test]
    fn old_kernel_four_columns() {
        let s = parse(b"cpu 1 2 3 4\ncpu0 1 2 3 4\n").unwrap();
        let t = s.cpu_total.unwrap();
        assert_eq!(t.columns(), 4);
        assert_eq!(t.iowait, None);
        assert_eq!(t.to_array(), [1, 2, 3, 4, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn cpu_ids_with_gaps() {
        let s = parse(b"cpu 1 2 3 4 5\ncpu0 1 2 3 4 5\ncpu7 9 9 9 9 9\n").unwrap();
        assert_eq!(s.cpus.iter().map(|c| c.id).collect::<Vec<_>>(), vec![0, 7]);
        assert_eq!(s.cpu(7).unwrap().user, 9);
        assert!(s.cpu(1).is_none());
    }

    #[test]
    fn empty_file_is_empty_stat() {
        let s = parse(b"").unwrap();
        assert!(s.cpu_total.is_none());
        assert!(s.cpus.is_empty());
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse(b"cpu 1 2 3 4\nbtime\n").unwrap_err().to_string();
        assert!(e.starts_with("/proc/stat: line 2:"), "{e}");
        let e = parse(b"cpu 1 2 x 4\n").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("not a number"), "{e}");
        assert!(parse(b"cpu 1 2 3\n").is_err());
        assert!(parse(b"cpuX 1 2 3 4\n").is_err());
        assert!(parse(b"page 5741\n").is_err());
        assert!(parse(b"ctxt -5\n").is_err());
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let s = parse(b"entropy_avail 1024 2048\nctxt 5\n").unwrap();
        assert_eq!(s.ctxt, Some(5));
    }

    #[test]
    fn legacy_page_and_swap_lines() {
        let s = parse(b"page 5741 1808\nswap 1 0\n").unwrap();
        assert_eq!(
            s.page,
            Some(InOut {
                in_: 5741,
                out: 1808
            })
        );
        assert_eq!(s.swap, Some(InOut { in_: 1, out: 0 }));
    }

    #[test]
    fn json_uses_kernel_names() {
        let s = parse(MODERN).unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["cpu_total"]["user"], 373708);
        assert_eq!(v["cpu"]["0"]["idle"], 67002379);
        assert_eq!(v["intr"]["total"], 30273852);
        assert_eq!(v["softirq"]["total"], 27098783);
        assert_eq!(v["softirq"]["timer"], 10254836);
        assert_eq!(v["procs_blocked"], 0);
        let old = serde_json::to_value(parse(b"cpu 1 2 3 4\n").unwrap()).unwrap();
        assert!(old["cpu_total"].get("iowait").is_none());
    }

    /// The same text through the general path alone.
    fn parse_general(bytes: &[u8]) -> Result<Stat<'_>> {
        let mut st = Stat::default();
        for (n, line) in crate::parse::Lines::new(bytes) {
            general_line(n, line, &mut st)?;
        }
        Ok(st)
    }

    fn fixture(rel: &str) -> Vec<u8> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/");
        std::fs::read(format!("{root}{rel}")).unwrap()
    }

    #[test]
    fn fast_path_reads_fixtures_as_the_general_path_does() {
        for rel in [
            "live/debian12-kernel6.18-2cpu/sample0/proc/stat",
            "corpus/procfs/stat-huge-intr/proc/stat",
            "corpus/node_exporter/stat-guest/proc/stat",
            "corpus/telegraf/kernel-stat-full/proc/stat",
            "corpus/telegraf/kernel-stat-partial/proc/stat",
        ] {
            let b = fixture(rel);
            assert_eq!(parse(&b).unwrap(), parse_general(&b).unwrap(), "{rel}");
        }
        for text in [
            &b"cpu  1 2 3\n"[..],
            b"cpu1x 1 2 3 4\n",
            b"ctxt\n",
            b"ctxt 12a\n",
            b"btime 99999999999999999999\n",
            b"ctxt 18446744073709551615 7\n",
            b" cpu 1 2 3 4\n",
            b"cpu 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\n",
            b"intr 5\r\nsoftirq 6   1 2\t3\n",
            b"cpu99999999999 1 2 3 4\n",
        ] {
            assert_eq!(
                format!("{:?}", parse(text)),
                format!("{:?}", parse_general(text)),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    /// Each line of `text` through [`common_line`] alone: `Some` with what it
    /// read for the lines it takes, `None` for those it leaves to the others.
    fn common_lines(text: &[u8]) -> Vec<Option<String>> {
        let mut rest = text;
        let mut out = Vec::new();
        while !rest.is_empty() {
            let mut st = Stat::default();
            let used = common_line(rest, &mut st);
            let line_len = rest
                .iter()
                .position(|&c| c == b'\n')
                .map_or(rest.len(), |i| i + 1);
            if let Some(used) = used {
                assert_eq!(used, line_len, "{:?}", String::from_utf8_lossy(rest));
                // It read the line as the general path does.
                let line = &rest[..line_len];
                assert_eq!(st, parse_general(line).unwrap());
            } else {
                assert_eq!(st, Stat::default(), "untouched when it declines");
            }
            out.push(used.map(|_| format!("{st:?}")));
            rest = &rest[line_len..];
        }
        out
    }

    #[test]
    fn common_path_takes_every_line_of_a_live_file() {
        let b = fixture("live/debian12-kernel6.18-2cpu/sample0/proc/stat");
        let lines = common_lines(&b);
        assert_eq!(lines.len(), 10);
        // The last line too: `softirq` and its values are 16 bytes and more.
        assert!(lines.iter().all(Option::is_some), "{lines:?}");
        let s = parse(&b).unwrap();
        assert_eq!(s.cpus.len(), 2);
        assert_eq!(s.cpu(1).unwrap().steal, Some(1894));
        assert_eq!(s.intr_total, Some(1937568));
        assert_eq!(s.softirq_vectors().last(), Some(267326));
    }

    #[test]
    fn common_path_and_its_fallbacks_read_the_same() {
        // (text, whether the common path takes its first line)
        let padding = b"\nbtime 1795310377\n";
        for (line, taken) in [
            (&b"cpu  148834 0 30682 82516 1732 0 694 3858 0 0"[..], true),
            (b"cpu0 71574 0 14344 45555 662 0 98 1964 0 0", true),
            (b"cpu4095 1 2 3 4", true),
            (b"cpu 1 2 3 4", true),                 // 4 fields (Linux 2.4)
            (b"cpu 1 2 3 4 5 6 7 8 9 10 11", true), // 11: the first 10 kept
            (b"cpu 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", false), // beyond 16
            (b"cpu 1 2 3", false),                  // too few: an error
            (b"cpu 1 2 3 4 5 6 7 8 9 18446744073709551615", false), // 20 digits
            (b"cpu 1 2 3 4 5 6 7 8 9 18446744073709551616", false), // overflow: an error
            (b"cpu 1 2 3 4 5 6 7 8 9 9999999999999999999", true), // 19 digits
            (b"cpu\t1 2 3 4", false),               // tab after the key
            (b"cpu 1\t2  3 4\r", true),             // blanks between values
            (b"cpu  1 2 3 x", false),
            (b"cpu12345678 1 2 3 4", false), // key of 11 bytes
            (b"cpux 1 2 3 4", false),
            (b"ctxt 4021428", true),
            (b"ctxt 4021428 9", true), // extra value ignored
            (b"ctxt  4021428", false), // two spaces
            (b"ctxt\t4021428", false),
            (b"ctxt 18446744073709551615", false),
            (b"ctxt 12a", false),
            (b"ctxt", false),
            (b"processes 63535", true),
            (b"procs_running 2", true),
            (b"procs_blocked 0", true),
            (b"procs_blockedx 0", false),
            (b"intr 1937568 0 0 1", true),
            (b"intr 1937568", true),
            (b"softirq 772547 0 91700 7", true),
            (b"page 5741 1808", false),
            (b"entropy_avail 256", false),
            (b" ctxt 5", false),
            (b"", false),
        ] {
            let mut text = line.to_vec();
            text.extend_from_slice(padding);
            let got = common_lines(&text);
            assert_eq!(
                got[0].is_some(),
                taken,
                "{:?}",
                String::from_utf8_lossy(line)
            );
            assert_eq!(
                format!("{:?}", parse(&text)),
                format!("{:?}", parse_general(&text)),
                "{:?}",
                String::from_utf8_lossy(line)
            );
            // Without the padding (fewer than 16 bytes after the key: the
            // other paths) and without the final newline.
            for text in [line.to_vec(), [line, b"\n"].concat()] {
                assert_eq!(
                    format!("{:?}", parse(&text)),
                    format!("{:?}", parse_general(&text)),
                    "{:?}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
        let s = parse(b"cpu 1 2 3 4 5 6 7 8 9 10 11\nbtime 1795310377\n").unwrap();
        assert_eq!(s.cpu_total.unwrap().guest_nice, Some(10));
        let s = parse(b"cpu 1 2 3 4\nbtime 1795310377\n").unwrap();
        assert_eq!(s.cpu_total.unwrap().columns(), 4);
        assert_eq!(s.btime, Some(1795310377));
        let s = parse(b"procs_running 2\nprocs_blocked 3\nprocesses 4\nctxt 5\n").unwrap();
        assert_eq!(
            (s.procs_running, s.procs_blocked, s.processes, s.ctxt),
            (Some(2), Some(3), Some(4), Some(5))
        );
        let e = parse(b"cpu 1 2 3 4 5 6 7 8 9 18446744073709551616\nbtime 1795310377\n");
        assert!(e.unwrap_err().to_string().contains("line 1"));
    }

    #[test]
    fn digit_window_and_its_fallback_near_the_end_read_the_same() {
        // Numbers of 1 to 21 digits, followed by 0 to 24 bytes: the 19-byte
        // window after the first digit fits or does not.
        for len in 1..=21usize {
            let digits: String = (0..len).map(|k| char::from(b'1' + (k % 9) as u8)).collect();
            for tail in 0..=24 {
                let pad = " 1".repeat(tail / 2) + if tail % 2 == 1 { "\n" } else { "" };
                for text in [
                    format!("ctxt {digits}{pad}"),
                    format!("cpu 1 2 3 {digits}{pad}"),
                    format!("intr {digits}{pad}"),
                ] {
                    assert_eq!(
                        format!("{:?}", parse(text.as_bytes())),
                        format!("{:?}", parse_general(text.as_bytes())),
                        "{text:?}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_path_agrees_with_the_general_path(
            lines in proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "cpu", "cpu0", "cpu12", "cpux", "intr", "softirq", "ctxt", "btime",
                        "processes", "procs_running", "procs_blocked", "page", "other", "",
                    ]),
                    proptest::collection::vec("[0-9]{1,21}|[ \t]|x|-1", 0..14),
                ),
                0..12,
            )
        ) {
            let mut text = String::new();
            for (key, fields) in &lines {
                text.push_str(key);
                for f in fields {
                    text.push(' ');
                    text.push_str(f);
                }
                text.push('\n');
            }
            let b = text.as_bytes();
            proptest::prop_assert_eq!(
                format!("{:?}", parse(b)),
                format!("{:?}", parse_general(b))
            );
        }
    }
}
