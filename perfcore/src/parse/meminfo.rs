//! `/proc/meminfo`: every `Key: value [kB]` pair, in file order, plus O(1)
//! typed accessors for the keys the rate and report code uses.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::swar::{ONES, is_space, line_from, scan_digits, skip_spaces, word_at, zero_bytes};
use super::{parse_u64, show, utf8};
use crate::error::{Error, Result};

/// The file this module parses, as named in errors.
pub const FILE: &str = "/proc/meminfo";

/// One `Key: value [unit]` line of `/proc/meminfo`, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MeminfoEntry<'a> {
    /// The key as printed, e.g. `MemTotal` or `Active(anon)`.
    pub key: &'a str,
    /// The value as printed (KiB when `unit` is `kB`, otherwise a count).
    pub value: u64,
    /// The unit as printed: `Some("kB")`, or `None` for counts such as `HugePages_Total`.
    pub unit: Option<&'a str>,
}

/// Keys with typed accessors, in the kernel's order; the constants below index it.
const KNOWN: [&str; 28] = [
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "SwapCached",
    "Active",
    "Inactive",
    "SwapTotal",
    "SwapFree",
    "Dirty",
    "Writeback",
    "AnonPages",
    "Mapped",
    "Shmem",
    "Slab",
    "SReclaimable",
    "SUnreclaim",
    "KernelStack",
    "PageTables",
    "CommitLimit",
    "Committed_AS",
    "VmallocUsed",
    "HugePages_Total",
    "HugePages_Free",
    "HugePages_Rsvd",
    "HugePages_Surp",
    "Hugepagesize",
];

/// Every key a kernel is known to print (up to 16 bytes): [`KNOWN`] first, then
/// the rest. A line whose key is one of them borrows the key from this table, so
/// the input need not be checked as UTF-8; any other key is checked on its own.
const NAMES: [&str; KNOWN.len() + EXTRA.len()] = {
    let mut t = [""; KNOWN.len() + EXTRA.len()];
    let mut i = 0;
    while i < KNOWN.len() {
        t[i] = KNOWN[i];
        i += 1;
    }
    while i < t.len() {
        t[i] = EXTRA[i - KNOWN.len()];
        i += 1;
    }
    t
};

/// Keys without typed accessors.
const EXTRA: [&str; 35] = [
    "Active(anon)",
    "Inactive(anon)",
    "Active(file)",
    "Inactive(file)",
    "Unevictable",
    "Mlocked",
    "Zswap",
    "Zswapped",
    "WritebackTmp",
    "VmallocTotal",
    "VmallocChunk",
    "Percpu",
    "SecPageTables",
    "NFS_Unstable",
    "Bounce",
    "KReclaimable",
    "AnonHugePages",
    "ShmemHugePages",
    "ShmemPmdMapped",
    "FileHugePages",
    "FilePmdMapped",
    "Hugetlb",
    "DirectMap4k",
    "DirectMap2M",
    "DirectMap1G",
    "CmaTotal",
    "CmaFree",
    "Unaccepted",
    "Balloon",
    "Quicklists",
    "MmapCopy",
    "HighTotal",
    "HighFree",
    "LowTotal",
    "LowFree",
];

const MEM_TOTAL: usize = 0;
const MEM_FREE: usize = 1;
const MEM_AVAILABLE: usize = 2;
const BUFFERS: usize = 3;
const CACHED: usize = 4;
const SWAP_CACHED: usize = 5;
const ACTIVE: usize = 6;
const INACTIVE: usize = 7;
const SWAP_TOTAL: usize = 8;
const SWAP_FREE: usize = 9;
const DIRTY: usize = 10;
const WRITEBACK: usize = 11;
const ANON_PAGES: usize = 12;
const MAPPED: usize = 13;
const SHMEM: usize = 14;
const SLAB: usize = 15;
const SRECLAIMABLE: usize = 16;
const SUNRECLAIM: usize = 17;
const KERNEL_STACK: usize = 18;
const PAGE_TABLES: usize = 19;
const COMMIT_LIMIT: usize = 20;
const COMMITTED_AS: usize = 21;
const VMALLOC_USED: usize = 22;
const HUGEPAGES_TOTAL: usize = 23;
const HUGEPAGES_FREE: usize = 24;
const HUGEPAGES_RSVD: usize = 25;
const HUGEPAGES_SURP: usize = 26;
const HUGEPAGESIZE: usize = 27;

/// Multiplier of the key hash, chosen so that the keys of [`NAMES`] do not collide
/// (checked at compile time by [`build_table`]).
const HASH_MUL: u64 = 0x7f7b_eb31_7c6a_4f0f;
const HASH_BITS: u32 = 8;

/// Up to 16 key bytes as a little-endian word, zero-padded.
const fn key_words(k: &[u8]) -> u128 {
    let mut w = 0u128;
    let mut i = 0;
    while i < k.len() && i < 16 {
        w |= (k[i] as u128) << (8 * i);
        i += 1;
    }
    w
}

const fn key_hash(w: u128, len: usize) -> usize {
    key_hash2(w as u64, (w >> 64) as u64, len)
}

/// [`key_hash`] of the key word's two halves.
#[inline(always)]
const fn key_hash2(lo: u64, hi: u64, len: usize) -> usize {
    ((lo ^ hi.rotate_left(29) ^ len as u64).wrapping_mul(HASH_MUL) >> (64 - HASH_BITS)) as usize
}

/// One slot of the key table: a key's bytes, length and index into [`NAMES`].
#[derive(Clone, Copy)]
struct Slot {
    words: u128,
    len: u8,
    index: u8,
}

const fn build_table() -> [Slot; 1 << HASH_BITS] {
    // An empty slot has length 0, which no looked-up key has.
    let mut t = [Slot {
        words: 0,
        len: 0,
        index: 0,
    }; 1 << HASH_BITS];
    let mut i = 0;
    while i < NAMES.len() {
        let k = NAMES[i].as_bytes();
        assert!(
            !k.is_empty() && k.len() <= 16,
            "known meminfo keys fit in 16 bytes"
        );
        let h = key_hash(key_words(k), k.len());
        assert!(t[h].len == 0, "known meminfo keys collide: change HASH_MUL");
        t[h] = Slot {
            words: key_words(k),
            len: k.len() as u8,
            index: i as u8,
        };
        i += 1;
    }
    t
}

/// Known keys by hash, built (and checked for collisions) at compile time.
const TABLE: [Slot; 1 << HASH_BITS] = build_table();

/// `KEY_MASK[n]` keeps the low `n` bytes of a 16-byte word (`n` from 0 to 16).
const KEY_MASK: [u128; 17] = {
    let mut t = [0u128; 17];
    let mut n = 1;
    while n <= 16 {
        t[n] = u128::MAX >> (128 - 8 * n);
        n += 1;
    }
    t
};

/// The index into [`KNOWN`] of the key `bytes[ks..ks + len]`, if it is one:
/// a hash, a table load and one comparison, with no branch per known key.
#[inline]
fn known_index(bytes: &[u8], ks: usize, len: usize) -> Option<usize> {
    if len == 0 || len > 16 {
        return None;
    }
    let w = match bytes.get(ks..ks + 16) {
        Some(chunk) => {
            let chunk: [u8; 16] = chunk.try_into().ok()?;
            // Keep the key's `len` bytes (1 to 16): a table load instead of a
            // 128-bit shift by a variable amount.
            u128::from_le_bytes(chunk) & KEY_MASK.get(len).copied().unwrap_or(0)
        }
        // Near the end of the input: build the word byte by byte.
        None => key_words(bytes.get(ks..ks + len)?),
    };
    let slot = TABLE.get(key_hash(w, len))?;
    (slot.words == w && usize::from(slot.len) == len).then_some(usize::from(slot.index))
}

/// Parsed `/proc/meminfo`: all entries in file order, borrowing keys and units
/// from the input, plus O(1) typed accessors.
///
/// Values are as printed: KiB for lines with a `kB` unit, counts for the
/// unitless `HugePages_*` lines. When a key appears twice (never seen from a
/// real kernel), both entries are kept and the accessors give the first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Meminfo<'a> {
    entries: Vec<MeminfoEntry<'a>>,
    known: [Option<u64>; KNOWN.len()],
}

impl<'a> Meminfo<'a> {
    /// Every entry, in file order.
    pub fn entries(&self) -> &[MeminfoEntry<'a>] {
        &self.entries
    }

    /// The value of `key` (as printed, e.g. `"Active(anon)"`), by a linear search.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.entries.iter().find(|e| e.key == key).map(|e| e.value)
    }

    /// `MemTotal`: usable RAM, KiB.
    pub fn mem_total_kib(&self) -> Option<u64> {
        self.known[MEM_TOTAL]
    }

    /// `MemFree`: unused RAM, KiB.
    pub fn mem_free_kib(&self) -> Option<u64> {
        self.known[MEM_FREE]
    }

    /// `MemAvailable`: the kernel's estimate of memory available without
    /// swapping, KiB (since Linux 3.14; `None` before).
    pub fn mem_available_kib(&self) -> Option<u64> {
        self.known[MEM_AVAILABLE]
    }

    /// `Buffers`: block-device buffers, KiB.
    pub fn buffers_kib(&self) -> Option<u64> {
        self.known[BUFFERS]
    }

    /// `Cached`: page cache (excluding `SwapCached`), KiB.
    pub fn cached_kib(&self) -> Option<u64> {
        self.known[CACHED]
    }

    /// `SwapCached`: swapped-out memory also still in RAM, KiB.
    pub fn swap_cached_kib(&self) -> Option<u64> {
        self.known[SWAP_CACHED]
    }

    /// `Active`: recently used memory, KiB.
    pub fn active_kib(&self) -> Option<u64> {
        self.known[ACTIVE]
    }

    /// `Inactive`: less recently used memory, KiB.
    pub fn inactive_kib(&self) -> Option<u64> {
        self.known[INACTIVE]
    }

    /// `Dirty`: memory waiting to be written back, KiB.
    pub fn dirty_kib(&self) -> Option<u64> {
        self.known[DIRTY]
    }

    /// `Writeback`: memory being written back, KiB.
    pub fn writeback_kib(&self) -> Option<u64> {
        self.known[WRITEBACK]
    }

    /// `AnonPages`: anonymous pages mapped into user page tables, KiB (since Linux 2.6.18).
    pub fn anon_pages_kib(&self) -> Option<u64> {
        self.known[ANON_PAGES]
    }

    /// `Mapped`: files mapped into memory, KiB.
    pub fn mapped_kib(&self) -> Option<u64> {
        self.known[MAPPED]
    }

    /// `Shmem`: shared memory and tmpfs, KiB (since Linux 2.6.32).
    pub fn shmem_kib(&self) -> Option<u64> {
        self.known[SHMEM]
    }

    /// `Slab`: kernel slab caches, KiB.
    pub fn slab_kib(&self) -> Option<u64> {
        self.known[SLAB]
    }

    /// `SReclaimable`: reclaimable part of `Slab`, KiB (since Linux 2.6.19).
    pub fn sreclaimable_kib(&self) -> Option<u64> {
        self.known[SRECLAIMABLE]
    }

    /// `SUnreclaim`: unreclaimable part of `Slab`, KiB (since Linux 2.6.19).
    pub fn sunreclaim_kib(&self) -> Option<u64> {
        self.known[SUNRECLAIM]
    }

    /// `KernelStack`: kernel stacks, KiB (since Linux 2.6.32).
    pub fn kernel_stack_kib(&self) -> Option<u64> {
        self.known[KERNEL_STACK]
    }

    /// `PageTables`: page tables, KiB (since Linux 2.6.18).
    pub fn page_tables_kib(&self) -> Option<u64> {
        self.known[PAGE_TABLES]
    }

    /// `CommitLimit`: the overcommit limit, KiB (since Linux 2.6.10).
    pub fn commit_limit_kib(&self) -> Option<u64> {
        self.known[COMMIT_LIMIT]
    }

    /// `Committed_AS`: memory committed to (allocated by) processes, KiB.
    pub fn committed_as_kib(&self) -> Option<u64> {
        self.known[COMMITTED_AS]
    }

    /// `VmallocUsed`: used vmalloc area, KiB (0 on some kernels from 4.4 to 5.2).
    pub fn vmalloc_used_kib(&self) -> Option<u64> {
        self.known[VMALLOC_USED]
    }

    /// `SwapTotal`: total swap space, KiB.
    pub fn swap_total_kib(&self) -> Option<u64> {
        self.known[SWAP_TOTAL]
    }

    /// `SwapFree`: unused swap space, KiB.
    pub fn swap_free_kib(&self) -> Option<u64> {
        self.known[SWAP_FREE]
    }

    /// `HugePages_Total`: size of the huge page pool, a count of pages.
    pub fn hugepages_total(&self) -> Option<u64> {
        self.known[HUGEPAGES_TOTAL]
    }

    /// `HugePages_Free`: huge pages not yet allocated, a count of pages.
    pub fn hugepages_free(&self) -> Option<u64> {
        self.known[HUGEPAGES_FREE]
    }

    /// `HugePages_Rsvd`: huge pages reserved but not yet allocated, a count
    /// of pages (since Linux 2.6.17).
    pub fn hugepages_rsvd(&self) -> Option<u64> {
        self.known[HUGEPAGES_RSVD]
    }

    /// `HugePages_Surp`: surplus huge pages above the pool size, a count of
    /// pages (since Linux 2.6.24).
    pub fn hugepages_surp(&self) -> Option<u64> {
        self.known[HUGEPAGES_SURP]
    }

    /// `Hugepagesize`: the default huge page size, KiB.
    pub fn hugepagesize_kib(&self) -> Option<u64> {
        self.known[HUGEPAGESIZE]
    }
}

/// The key of the line at `start` when it is in the shape the kernel prints:
/// 1 to 15 bytes then `:`, with no `\n` before the `:` and no blank (nor any
/// byte up to `' '`) first or last. Returns the index of the `:` and the
/// key's index into [`NAMES`] (`NAMES.len()` for an unknown key), both from
/// the line's first 16 bytes, loaded once: they serve the search for the
/// colon, the trim test and the table lookup, which the general search does
/// one after the other. `None` for any other line (and fewer than 16 bytes
/// from `start` to the end): the general search then reads it, and reads a
/// key this function accepts the same way.
#[inline(always)]
fn short_key(bytes: &[u8], start: usize) -> Option<(usize, usize)> {
    let w: &[u8; 16] = bytes.get(start..)?.first_chunk()?;
    // Two word loads; the bytes tested below are taken from these words
    // (indexing `w` made LLVM rebuild the words from byte loads).
    let lo = u64::from_le_bytes(*w.first_chunk::<8>()?);
    let hi = u64::from_le_bytes(*w.last_chunk::<8>()?);
    let colon = |v: u64| zero_bytes(v ^ (ONES * u64::from(b':')));
    let newline = |v: u64| zero_bytes(v ^ (ONES * u64::from(b'\n')));
    // The lowest flag of each mask is exact: the colon must come first.
    let (k, key_lo, key_hi, last) = {
        let (c, n) = (colon(lo), newline(lo));
        if c | n != 0 {
            if c.trailing_zeros() >= n.trailing_zeros() || c.trailing_zeros() < 8 {
                return None; // a newline first, or an empty key
            }
            let k = (c.trailing_zeros() / 8) as usize;
            let key = lo & ((1u64 << (8 * k)) - 1);
            (k, key, 0, (key >> (8 * (k - 1))) as u8)
        } else {
            let (c, n) = (colon(hi), newline(hi));
            if c.trailing_zeros() >= n.trailing_zeros() {
                return None;
            }
            let j = (c.trailing_zeros() / 8) as usize;
            let key = hi & ((1u64 << (8 * j)) - 1);
            // The byte before the colon: lo's last byte when `j` is 0.
            let last = (((key << 8) | (lo >> 56)) >> (8 * j)) as u8;
            (8 + j, lo, key, last)
        }
    };
    if (lo as u8) <= b' ' || last <= b' ' {
        return None;
    }
    let slot = TABLE.get(key_hash2(key_lo, key_hi, k))?;
    let index = if slot.words == (u128::from(key_hi) << 64 | u128::from(key_lo))
        && usize::from(slot.len) == k
    {
        usize::from(slot.index)
    } else {
        NAMES.len()
    };
    Some((start + k, index))
}

/// Index of the first `a` or `b` byte at or after `i`, or `b.len()`; eight bytes a step.
#[inline]
fn find2(bytes: &[u8], mut i: usize, a: u8, b: u8) -> usize {
    while let Some(w) = word_at(bytes, i) {
        let m = zero_bytes(w ^ (ONES * u64::from(a))) | zero_bytes(w ^ (ONES * u64::from(b)));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = bytes.get(i) {
        if c == a || c == b {
            break;
        }
        i += 1;
    }
    i
}

/// Parses the text of `/proc/meminfo`.
///
/// Each non-blank line must be `Key: value` or `Key: value unit`; unknown keys
/// are kept like known ones. A line without `:`, with a value that is not an
/// unsigned integer, with text after the unit, or whose key or unit is not
/// UTF-8 is an error naming the line. An empty input gives an empty `Meminfo`.
///
/// ```
/// let m = perfcore::parse::meminfo::parse(b"MemTotal: 868988 kB\nActive(anon): 12 kB\nHugePages_Total: 0\n")?;
/// assert_eq!(m.mem_total_kib(), Some(868988));
/// assert_eq!(m.mem_available_kib(), None); // no MemAvailable before Linux 3.14
/// assert_eq!(m.get("Active(anon)"), Some(12));
/// assert_eq!(m.entries()[2].unit, None);
/// # Ok::<(), perfcore::Error>(())
/// ```
pub fn parse(bytes: &[u8]) -> Result<Meminfo<'_>> {
    // Not `parse_into` on a new `Meminfo`, which would copy the 470-byte
    // struct once more.
    // A 6.x kernel prints about 55 lines.
    let mut entries = Vec::with_capacity(64);
    let mut known = [None; KNOWN.len()];
    parse_lines(bytes, &mut entries, &mut known)?;
    Ok(Meminfo { entries, known })
}

/// Parses like [`parse`] into `out`, keeping the allocation of its entries (a
/// reader that parses every second allocates nothing). On an error `out` holds
/// the lines before the bad one.
pub fn parse_into<'a>(bytes: &'a [u8], out: &mut Meminfo<'a>) -> Result<()> {
    // Local vectors and array, put back at the end: the loop keeps them in
    // registers and on the stack rather than behind `out`.
    let mut entries = std::mem::take(&mut out.entries);
    entries.clear();
    // A 6.x kernel prints about 55 lines.
    entries.reserve(64);
    let mut known = [None; KNOWN.len()];
    let r = parse_lines(bytes, &mut entries, &mut known);
    *out = Meminfo { entries, known };
    r
}

impl<'a> Meminfo<'a> {
    /// An empty `Meminfo` on the allocation of `entries` (see [`super::recycle`]).
    pub(crate) fn with_entries(mut entries: Vec<MeminfoEntry<'a>>) -> Self {
        entries.clear();
        Meminfo {
            entries,
            known: [None; KNOWN.len()],
        }
    }

    /// Its entries, for their allocation.
    pub(crate) fn into_entries(self) -> Vec<MeminfoEntry<'a>> {
        self.entries
    }
}

/// The lines of `bytes`, appended to `entries`, with the known keys' values in `known`.
#[inline(always)]
fn parse_lines<'a>(
    bytes: &'a [u8],
    entries: &mut Vec<MeminfoEntry<'a>>,
    known: &mut [Option<u64>; KNOWN.len()],
) -> Result<()> {
    let mut i = 0;
    let mut n = 0;
    while i < bytes.len() {
        n += 1;
        let start = i;
        // A small closure, inlined at each use, around a cold function: a
        // closure holding the formatting was called out of line, and its
        // captures were stored for it on every line.
        let bad = |what: &str| line_error(bytes, n, start, what);
        // The key runs to the first ':'.
        let (ks, ke, index) = if let Some((colon, k)) = short_key(bytes, start) {
            i = colon;
            (start, colon, Some(k))
        } else {
            i = find2(bytes, i, b':', b'\n');
            if bytes.get(i) != Some(&b':') {
                let line = bytes.get(start..i).unwrap_or_default();
                if line.iter().all(|&c| is_space(c)) {
                    // Blank line.
                    i += 1;
                    continue;
                }
                return Err(bad("no ':' after the key"));
            }
            let (mut ks, mut ke) = (start, i);
            while ks < ke && bytes.get(ks).is_some_and(|&c| is_space(c)) {
                ks += 1;
            }
            while ke > ks && bytes.get(ke - 1).is_some_and(|&c| is_space(c)) {
                ke -= 1;
            }
            (ks, ke, None)
        };
        i = skip_spaces(bytes, i + 1);
        // The value: decimal digits, eight a step.
        let vs = i;
        let (mut value, digits) = scan_digits(bytes, i);
        i += digits;
        // The common ending " kB\n" in one comparison, else the general path.
        let unit: Option<&str> = if bytes.get(i..i + 4) == Some(b" kB\n") {
            i += 4;
            Some("kB")
        } else {
            let ends_token = match bytes.get(i) {
                None | Some(b'\n') => true,
                Some(&c) => is_space(c),
            };
            if digits == 0 || !ends_token {
                let what = if digits > 0 || !ends_token {
                    "value is not a number"
                } else {
                    "value missing"
                };
                return Err(bad(what));
            }
            i = skip_spaces(bytes, i);
            let us = i;
            while let Some(&c) = bytes.get(i) {
                if c == b'\n' || is_space(c) {
                    break;
                }
                i += 1;
            }
            let ue = i;
            i = skip_spaces(bytes, i);
            match bytes.get(i) {
                None => {}
                Some(b'\n') => i += 1,
                Some(_) => return Err(bad("unexpected text after the unit")),
            }
            match bytes.get(us..ue).unwrap_or_default() {
                b"" => None,
                b"kB" => Some("kB"),
                other => match utf8(other) {
                    Some(u) => Some(u),
                    None => return Err(bad("unit is not UTF-8")),
                },
            }
        };
        if digits == 0 {
            return Err(bad("value missing"));
        }
        if digits >= 20 {
            // Could have wrapped: check it properly.
            value = parse_u64(bytes.get(vs..vs + digits).unwrap_or_default())
                .ok_or_else(|| bad("value is not a number"))?;
        }
        if ks == ke {
            return Err(bad("empty key"));
        }
        let k = index.or_else(|| known_index(bytes, ks, ke - ks));
        // A key of the table is that table's string (equal bytes); any other is
        // checked as UTF-8 by itself.
        let key = match k.and_then(|k| NAMES.get(k)) {
            Some(&name) => name,
            None => match bytes.get(ks..ke).and_then(utf8) {
                Some(key) => key,
                None => return Err(bad("key is not UTF-8")),
            },
        };
        if let Some(k) = k
            && let Some(slot @ None) = known.get_mut(k)
        {
            *slot = Some(value);
        }
        entries.push(MeminfoEntry { key, value, unit });
    }
    Ok(())
}

/// The error for line `n`, which starts at `start`.
#[cold]
#[inline(never)]
fn line_error(bytes: &[u8], n: usize, start: usize, what: &str) -> Error {
    Error::parse(
        FILE,
        n,
        format!("{what}: {:?}", show(line_from(bytes, start))),
    )
}

/// Serializes as a map of the keys as printed to the values as printed, in
/// file order: `{"MemTotal": 868988, "HugePages_Total": 0, ...}`.
impl Serialize for Meminfo<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.entries.len()))?;
        for e in &self.entries {
            m.serialize_entry(e.key, &e.value)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/corpus/");

    fn procfs_fixture() -> &'static [u8] {
        static B: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        B.get_or_init(|| fixture("procfs/meminfo-no-memavailable"))
    }

    fn fixture(case: &str) -> Vec<u8> {
        let path = format!("{CORPUS}{case}/proc/meminfo");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const SMALL: &[u8] = b"MemTotal:         868988 kB\n\
MemFree:          151236 kB\n\
MemAvailable:     584588 kB\n\
Active(anon):      12345 kB\n\
HugePages_Total:       0\n\
Hugepagesize:       2048 kB\n\
VmallocTotal:   34359738367 kB\n";

    #[test]
    fn small_file() {
        let m = parse(SMALL).unwrap();
        assert_eq!(m.entries().len(), 7);
        assert_eq!(
            m.entries()[0],
            MeminfoEntry {
                key: "MemTotal",
                value: 868988,
                unit: Some("kB")
            }
        );
        assert_eq!(m.entries()[3].key, "Active(anon)");
        assert_eq!(m.entries()[4].unit, None);
        assert_eq!(m.mem_total_kib(), Some(868988));
        assert_eq!(m.mem_free_kib(), Some(151236));
        assert_eq!(m.mem_available_kib(), Some(584588));
        assert_eq!(m.hugepages_total(), Some(0));
        assert_eq!(m.hugepagesize_kib(), Some(2048));
        assert_eq!(m.get("Active(anon)"), Some(12345));
        assert_eq!(m.get("VmallocTotal"), Some(34359738367));
        assert_eq!(m.get("Nope"), None);
        assert_eq!(m.buffers_kib(), None);
    }

    #[test]
    fn parse_into_gives_what_parse_gives_and_keeps_its_allocation() {
        let mut kept = Meminfo::default();
        parse_into(SMALL, &mut kept).unwrap();
        assert_eq!(kept, parse(SMALL).unwrap());
        let ptr = kept.entries().as_ptr();
        // A second, shorter file: nothing of the first is left, known keys
        // included, and the entries are on the same allocation.
        let two = b"MemFree: 7 kB\nHugePages_Free: 3\n";
        parse_into(two, &mut kept).unwrap();
        assert_eq!(kept, parse(two).unwrap());
        assert_eq!(kept.mem_total_kib(), None);
        assert_eq!(kept.mem_free_kib(), Some(7));
        assert_eq!(kept.entries().as_ptr(), ptr);
        // An error leaves the lines before the bad one.
        assert!(parse_into(b"MemTotal: 5 kB\nMemFree 6 kB\n", &mut kept).is_err());
        assert_eq!(kept.entries().len(), 1);
        assert_eq!(kept.mem_total_kib(), Some(5));
        assert_eq!(kept.mem_free_kib(), None);
    }

    #[test]
    fn empty_and_blank_input() {
        assert!(parse(b"").unwrap().entries().is_empty());
        assert!(parse(b"\n\n  \n\t\n").unwrap().entries().is_empty());
        let m = parse(b"\nMemTotal: 5 kB\n\n").unwrap();
        assert_eq!(m.mem_total_kib(), Some(5));
    }

    #[test]
    fn last_line_without_newline_and_crlf() {
        let m = parse(b"MemFree: 7 kB\r\nHugePages_Free: 3").unwrap();
        assert_eq!(m.mem_free_kib(), Some(7));
        assert_eq!(m.entries()[0].unit, Some("kB"));
        assert_eq!(m.hugepages_free(), Some(3));
        assert_eq!(m.entries()[1].unit, None);
    }

    #[test]
    fn no_space_after_colon() {
        let m = parse(b"Cached:12 kB\n").unwrap();
        assert_eq!(m.cached_kib(), Some(12));
    }

    #[test]
    fn known_keys_at_the_very_end_of_the_input() {
        // Fewer than 16 bytes after the key: the byte-by-byte paths.
        assert_eq!(parse(b"Slab: 1").unwrap().slab_kib(), Some(1));
        assert_eq!(parse(b"Dirty:2\n").unwrap().dirty_kib(), Some(2));
        assert_eq!(
            parse(b"HugePages_Total: 9").unwrap().hugepages_total(),
            Some(9)
        );
        let m = parse(b"MemTotal:  123456789012 kB").unwrap();
        assert_eq!(m.mem_total_kib(), Some(123456789012));
    }

    #[test]
    fn values_of_every_width() {
        let mut v: u64 = 0;
        for width in 1..=20 {
            v = v * 10 + (width % 10);
            for pad in ["", " ", "        ", "                 "] {
                let text = format!("MemFree:{pad}{v} kB\nX: 1\n");
                let m = parse(text.as_bytes()).unwrap();
                assert_eq!(m.mem_free_kib(), Some(v), "{text:?}");
                let text = format!("MemFree:{pad}{v}");
                assert_eq!(parse(text.as_bytes()).unwrap().mem_free_kib(), Some(v));
            }
        }
    }

    #[test]
    fn unknown_keys_are_data() {
        let m = parse(b"FutureThing(x): 42 kB\nSecondThing: 7\n").unwrap();
        assert_eq!(m.get("FutureThing(x)"), Some(42));
        assert_eq!(m.get("SecondThing"), Some(7));
        assert_eq!(m.mem_total_kib(), None);
    }

    #[test]
    fn duplicate_key_keeps_both_and_accessor_gives_first() {
        let m = parse(b"MemTotal: 1 kB\nMemTotal: 2 kB\n").unwrap();
        assert_eq!(m.entries().len(), 2);
        assert_eq!(m.mem_total_kib(), Some(1));
        assert_eq!(m.get("MemTotal"), Some(1));
    }

    #[test]
    fn max_and_overflowing_values() {
        let m = parse(b"X: 18446744073709551615 kB\n").unwrap();
        assert_eq!(m.get("X"), Some(u64::MAX));
        assert!(parse(b"X: 18446744073709551616 kB\n").is_err());
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse(b"MemTotal: 1 kB\nHugePages_Free:      sixtynine\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/proc/meminfo: line 2:"), "{e}");
        assert!(e.contains("not a number") && e.contains("sixtynine"), "{e}");
        let e = parse(b"MemTotal: 1 kB\n\nno colon here\n").unwrap_err();
        assert!(
            matches!(
                e,
                Error::Parse {
                    file: FILE,
                    line: 3,
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            parse(b"MemTotal:\n")
                .unwrap_err()
                .to_string()
                .contains("missing")
        );
        assert!(parse(b"MemTotal: kB\n").is_err());
        assert!(parse(b"MemTotal: -1 kB\n").is_err());
        assert!(parse(b"MemTotal: 1.5 kB\n").is_err());
        assert!(parse(b"MemTotal: 1 kB extra\n").is_err());
        assert!(parse(b": 1 kB\n").is_err());
        assert!(parse(b"Mem\xffTotal: 1 kB\n").is_err());
        assert!(parse(b"MemTotal: 1 k\xffB\n").is_err());
        assert!(parse(b"MemTotal 1 kB\n").is_err());
    }

    #[test]
    fn every_accessor_reads_its_key() {
        let keys = [
            "MemTotal",
            "MemFree",
            "MemAvailable",
            "Buffers",
            "Cached",
            "SwapCached",
            "Active",
            "Inactive",
            "Dirty",
            "Writeback",
            "AnonPages",
            "Mapped",
            "Shmem",
            "Slab",
            "SReclaimable",
            "SUnreclaim",
            "KernelStack",
            "PageTables",
            "CommitLimit",
            "Committed_AS",
            "VmallocUsed",
            "SwapTotal",
            "SwapFree",
            "HugePages_Total",
            "HugePages_Free",
            "HugePages_Rsvd",
            "HugePages_Surp",
            "Hugepagesize",
        ];
        let mut text = String::new();
        for (i, k) in keys.iter().enumerate() {
            text.push_str(&format!("{k}: {} kB\n", 100 + i));
        }
        let m = parse(text.as_bytes()).unwrap();
        let got = [
            m.mem_total_kib(),
            m.mem_free_kib(),
            m.mem_available_kib(),
            m.buffers_kib(),
            m.cached_kib(),
            m.swap_cached_kib(),
            m.active_kib(),
            m.inactive_kib(),
            m.dirty_kib(),
            m.writeback_kib(),
            m.anon_pages_kib(),
            m.mapped_kib(),
            m.shmem_kib(),
            m.slab_kib(),
            m.sreclaimable_kib(),
            m.sunreclaim_kib(),
            m.kernel_stack_kib(),
            m.page_tables_kib(),
            m.commit_limit_kib(),
            m.committed_as_kib(),
            m.vmalloc_used_kib(),
            m.swap_total_kib(),
            m.swap_free_kib(),
            m.hugepages_total(),
            m.hugepages_free(),
            m.hugepages_rsvd(),
            m.hugepages_surp(),
            m.hugepagesize_kib(),
        ];
        for (i, (k, v)) in keys.iter().zip(got).enumerate() {
            assert_eq!(v, Some(100 + i as u64), "{k}");
        }
        // Near misses (same length, other case) are not known keys.
        let m = parse(b"memtotal: 1 kB\nSlaB: 2 kB\nHugePages_total: 3\n").unwrap();
        assert_eq!(m.mem_total_kib(), None);
        assert_eq!(m.slab_kib(), None);
        assert_eq!(m.hugepages_total(), None);
    }

    #[test]
    fn json_is_a_map_in_file_order() {
        let m = parse(SMALL).unwrap();
        let s = serde_json::to_string(&m).unwrap();
        assert!(
            s.starts_with(r#"{"MemTotal":868988,"MemFree":151236,"MemAvailable":584588,"Active(anon)":12345,"HugePages_Total":0,"#),
            "{s}"
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["VmallocTotal"], 34359738367u64);
        assert_eq!(v["Hugepagesize"], 2048);
        let e = serde_json::to_value(m.entries()[4]).unwrap();
        assert_eq!(e["key"], "HugePages_Total");
        assert!(e["unit"].is_null());
    }

    // ---- Corpus fixtures: literal values from each case's expected.json ----

    /// `procfs/meminfo-no-memavailable/expected.json`: `meminfo.*` (as printed).
    const PROCFS_KB: &[(&str, u64)] = &[
        ("MemTotal", 15666184),
        ("MemFree", 440324),
        ("Buffers", 1020128),
        ("Cached", 12007640),
        ("SwapCached", 0),
        ("Active", 6761276),
        ("Inactive", 6532708),
        ("Active(anon)", 267256),
        ("Inactive(anon)", 268),
        ("Active(file)", 6494020),
        ("Inactive(file)", 6532440),
        ("Unevictable", 0),
        ("Mlocked", 0),
        ("SwapTotal", 0),
        ("SwapFree", 0),
        ("Zswap", 22414),
        ("Zswapped", 10502),
        ("Dirty", 768),
        ("Writeback", 0),
        ("AnonPages", 266216),
        ("Mapped", 44204),
        ("Shmem", 1308),
        ("Slab", 1807264),
        ("SReclaimable", 1738124),
        ("SUnreclaim", 69140),
        ("KernelStack", 1616),
        ("PageTables", 5288),
        ("NFS_Unstable", 0),
        ("Bounce", 0),
        ("WritebackTmp", 0),
        ("CommitLimit", 7833092),
        ("Committed_AS", 530844),
        ("VmallocTotal", 34359738367),
        ("VmallocUsed", 36596),
        ("VmallocChunk", 34359637840),
        ("Percpu", 26176),
        ("HardwareCorrupted", 0),
        ("AnonHugePages", 12288),
        ("HugePages_Total", 0),
        ("HugePages_Free", 0),
        ("HugePages_Rsvd", 0),
        ("HugePages_Surp", 0),
        ("Hugepagesize", 2048),
        ("DirectMap4k", 91136),
        ("DirectMap2M", 16039936),
    ];
    /// `procfs/meminfo-no-memavailable/expected.json`: `meminfo_bytes.*` (kB x 1024).
    const PROCFS_BYTES: &[(&str, u64)] = &[
        ("MemTotal", 16042172416),
        ("MemFree", 450891776),
        ("Buffers", 1044611072),
        ("Cached", 12295823360),
        ("SwapCached", 0),
        ("Active", 6923546624),
        ("Inactive", 6689492992),
        ("Active(anon)", 273670144),
        ("Inactive(anon)", 274432),
        ("Active(file)", 6649876480),
        ("Inactive(file)", 6689218560),
        ("Unevictable", 0),
        ("Mlocked", 0),
        ("SwapTotal", 0),
        ("SwapFree", 0),
        ("Zswap", 22951936),
        ("Zswapped", 10754048),
        ("Dirty", 786432),
        ("Writeback", 0),
        ("AnonPages", 272605184),
        ("Mapped", 45264896),
        ("Shmem", 1339392),
        ("Slab", 1850638336),
        ("SReclaimable", 1779838976),
        ("SUnreclaim", 70799360),
        ("KernelStack", 1654784),
        ("PageTables", 5414912),
        ("NFS_Unstable", 0),
        ("Bounce", 0),
        ("WritebackTmp", 0),
        ("CommitLimit", 8021086208),
        ("Committed_AS", 543584256),
        ("VmallocTotal", 35184372087808),
        ("VmallocUsed", 37474304),
        ("VmallocChunk", 35184269148160),
        ("Percpu", 26804224),
        ("HardwareCorrupted", 0),
        ("AnonHugePages", 12582912),
        ("Hugepagesize", 2097152),
        ("DirectMap4k", 93323264),
        ("DirectMap2M", 16424894464),
    ];
    /// `node_exporter/meminfo-no-memavailable/expected.json`: `meminfo.*` (as printed).
    const NODE_KB: &[(&str, u64)] = &[
        ("Active(anon)", 2020004),
        ("Active", 2233416),
        ("Active(file)", 213412),
        ("AnonHugePages", 0),
        ("AnonPages", 2244172),
        ("Bounce", 0),
        ("Buffers", 22040),
        ("Cached", 930888),
        ("CommitLimit", 6065372),
        ("Committed_AS", 7835436),
        ("DirectMap2M", 3698688),
        ("DirectMap4k", 185660),
        ("Dirty", 1052),
        ("HardwareCorrupted", 0),
        ("HugePages_Free", 0),
        ("HugePages_Rsvd", 0),
        ("HugePages_Surp", 0),
        ("HugePages_Total", 0),
        ("Hugepagesize", 2048),
        ("Inactive(anon)", 883052),
        ("Inactive", 1028728),
        ("Inactive(file)", 145676),
        ("KernelStack", 5800),
        ("Mapped", 239220),
        ("MemFree", 225472),
        ("MemTotal", 3742148),
        ("Mlocked", 32),
        ("NFS_Unstable", 0),
        ("PageTables", 75212),
        ("SReclaimable", 44772),
        ("SUnreclaim", 54160),
        ("Shmem", 593840),
        ("Slab", 98932),
        ("SwapCached", 192504),
        ("SwapFree", 3155360),
        ("SwapTotal", 4194300),
        ("Unevictable", 32),
        ("VmallocChunk", 34359338876),
        ("VmallocTotal", 34359738367),
        ("VmallocUsed", 352840),
        ("WritebackTmp", 0),
        ("Writeback", 0),
    ];
    /// `node_exporter/meminfo-no-memavailable/expected.json`: `meminfo_bytes.*` (kB x 1024).
    const NODE_BYTES: &[(&str, u64)] = &[("MemTotal", 3831959552), ("DirectMap2M", 3787456512)];
    /// `telegraf/meminfo-normal/expected.json`: `meminfo_bytes.*` (kB x 1024).
    const TG_NORMAL_BYTES: &[(&str, u64)] = &[
        ("Active(anon)", 5765169152),
        ("Inactive(anon)", 1082245120),
        ("Active(file)", 3535425536),
        ("Inactive(file)", 4421992448),
        ("Unevictable", 143360),
        ("Percpu", 5767168),
    ];
    /// `telegraf/meminfo-missing-fields/expected.json`: `meminfo_bytes.*` (kB x 1024).
    const TG_MISSING_BYTES: &[(&str, u64)] = &[
        ("Active(anon)", 5765169152),
        ("Inactive(anon)", 1082245120),
        ("Active(file)", 3535425536),
        ("Inactive(file)", 4421992448),
        ("Unevictable", 0),
        ("Percpu", 0),
    ];
    /// `telegraf/meminfo-hugepages/expected.json`: `meminfo.*` (as printed).
    const TG_HUGE_KB: &[(&str, u64)] = &[
        ("AnonHugePages", 0),
        ("ShmemHugePages", 0),
        ("FileHugePages", 0),
        ("HugePages_Total", 2048),
        ("HugePages_Free", 883),
        ("HugePages_Rsvd", 0),
        ("HugePages_Surp", 0),
        ("Hugepagesize", 2048),
        ("Hugetlb", 12582912),
    ];

    fn check_table(m: &Meminfo<'_>, table: &[(&str, u64)], scale: u64, case: &str) {
        for &(k, want) in table {
            let got = m.get(k).unwrap_or_else(|| panic!("{case}: {k} missing"));
            assert_eq!(got * scale, want, "{case}: {k}");
        }
    }

    #[test]
    fn fixture_procfs_no_memavailable() {
        let b = fixture("procfs/meminfo-no-memavailable");
        let m = parse(&b).unwrap();
        assert_eq!(m.entries().len(), 45);
        check_table(&m, PROCFS_KB, 1, "procfs");
        check_table(&m, PROCFS_BYTES, 1024, "procfs");
        // absent_keys: MemAvailable.
        assert_eq!(m.mem_available_kib(), None);
        assert_eq!(m.get("MemAvailable"), None);
        // Units: kB everywhere except the four HugePages_* counts.
        for e in m.entries() {
            let unitless = e.key.starts_with("HugePages_");
            assert_eq!(
                e.unit,
                if unitless { None } else { Some("kB") },
                "{}",
                e.key
            );
        }
        assert_eq!(m.mem_total_kib(), Some(15666184));
        assert_eq!(m.mem_free_kib(), Some(440324));
        assert_eq!(m.buffers_kib(), Some(1020128));
        assert_eq!(m.cached_kib(), Some(12007640));
        assert_eq!(m.swap_cached_kib(), Some(0));
        assert_eq!(m.active_kib(), Some(6761276));
        assert_eq!(m.inactive_kib(), Some(6532708));
        assert_eq!(m.dirty_kib(), Some(768));
        assert_eq!(m.writeback_kib(), Some(0));
        assert_eq!(m.slab_kib(), Some(1807264));
        assert_eq!(m.sreclaimable_kib(), Some(1738124));
        assert_eq!(m.committed_as_kib(), Some(530844));
        assert_eq!(m.swap_total_kib(), Some(0));
        assert_eq!(m.swap_free_kib(), Some(0));
        assert_eq!(m.hugepages_total(), Some(0));
        assert_eq!(m.hugepages_free(), Some(0));
        assert_eq!(m.hugepages_rsvd(), Some(0));
        assert_eq!(m.hugepages_surp(), Some(0));
        assert_eq!(m.hugepagesize_kib(), Some(2048));
        assert_eq!(m.get("VmallocTotal"), Some(34359738367));
    }

    #[test]
    fn fixture_node_exporter_no_memavailable() {
        let b = fixture("node_exporter/meminfo-no-memavailable");
        let m = parse(&b).unwrap();
        assert_eq!(m.entries().len(), 42);
        check_table(&m, NODE_KB, 1, "node_exporter");
        check_table(&m, NODE_BYTES, 1024, "node_exporter");
        assert_eq!(m.mem_available_kib(), None);
        assert_eq!(m.mem_total_kib(), Some(3742148));
        assert_eq!(m.swap_total_kib(), Some(4194300));
        assert_eq!(m.swap_free_kib(), Some(3155360));
        assert_eq!(m.swap_cached_kib(), Some(192504));
        assert_eq!(m.committed_as_kib(), Some(7835436));
    }

    #[test]
    fn fixture_telegraf_normal() {
        let b = fixture("telegraf/meminfo-normal");
        let m = parse(&b).unwrap();
        assert_eq!(m.entries().len(), 51);
        check_table(&m, TG_NORMAL_BYTES, 1024, "telegraf/normal");
        assert_eq!(m.mem_available_kib(), Some(14221924));
        assert_eq!(m.get("DirectMap1G"), Some(2097152));
    }

    #[test]
    fn fixture_telegraf_missing_fields() {
        let b = fixture("telegraf/meminfo-missing-fields");
        let m = parse(&b).unwrap();
        assert_eq!(m.entries().len(), 49);
        // absent_keys: Unevictable, Percpu. telegraf reports them as 0.
        assert_eq!(m.get("Unevictable"), None);
        assert_eq!(m.get("Percpu"), None);
        for &(k, want) in TG_MISSING_BYTES {
            assert_eq!(m.get(k).unwrap_or(0) * 1024, want, "{k}");
        }
    }

    #[test]
    fn fixture_telegraf_hugepages() {
        let b = fixture("telegraf/meminfo-hugepages");
        let m = parse(&b).unwrap();
        check_table(&m, TG_HUGE_KB, 1, "telegraf/hugepages");
        assert_eq!(m.hugepages_total(), Some(2048));
        assert_eq!(m.hugepages_free(), Some(883));
        assert_eq!(m.hugepages_rsvd(), Some(0));
        assert_eq!(m.hugepages_surp(), Some(0));
        assert_eq!(m.hugepagesize_kib(), Some(2048));
        assert_eq!(m.mem_total_kib(), Some(264026876));
    }

    #[test]
    fn fixture_telegraf_hugepages_invalid_is_an_error() {
        let b = fixture("telegraf/meminfo-hugepages-invalid");
        let e = parse(&b).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Parse {
                    file: FILE,
                    line: 4,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("sixtynine"), "{e}");
    }

    #[test]
    fn fixture_json_round_trip() {
        let b = fixture("procfs/meminfo-no-memavailable");
        let m = parse(&b).unwrap();
        let v = serde_json::to_value(&m).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 45);
        for &(k, want) in PROCFS_KB {
            assert_eq!(obj[k], want, "{k}");
        }
        assert!(obj.get("MemAvailable").is_none());
    }

    fn mutate(base: &[u8], ops: &[(u8, usize, u8)]) -> Vec<u8> {
        let mut b = base.to_vec();
        for &(kind, pos, byte) in ops {
            match kind % 3 {
                0 if !b.is_empty() => {
                    let i = pos % b.len();
                    b[i] = byte;
                }
                1 => b.insert(pos % (b.len() + 1), byte),
                _ if !b.is_empty() => {
                    b.remove(pos % b.len());
                }
                _ => {}
            }
        }
        b
    }

    /// What the general search makes of the key at `start`: the colon's
    /// index and the key's index into `NAMES` (`NAMES.len()` when unknown),
    /// when the key needs no trimming.
    fn general_key(b: &[u8], start: usize) -> Option<(usize, usize)> {
        let colon = find2(b, start, b':', b'\n');
        if b.get(colon) != Some(&b':') || colon == start {
            return None;
        }
        if is_space(b[start]) || is_space(b[colon - 1]) {
            return None;
        }
        Some((
            colon,
            known_index(b, start, colon - start).unwrap_or(NAMES.len()),
        ))
    }

    fn check_short_key(text: &[u8]) {
        for start in 0..text.len() {
            if let Some(got) = short_key(text, start) {
                assert_eq!(
                    Some(got),
                    general_key(text, start),
                    "{:?} at {start}",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }

    #[test]
    fn short_key_reads_keys_as_the_general_search_does() {
        let mut lines: Vec<String> = KNOWN.iter().map(|k| format!("{k}:   12 kB")).collect();
        lines.extend(
            [
                "Active(anon):     142188 kB",
                "Inactive(file):   942940 kB",
                "HugePages_Total:       0",
                "HugePages_Totals:       0",
                "ShmemPmdMapped:        0 kB",
                "MemTotalX: 5 kB",
                "MemTota: 5 kB",
                " MemTotal: 5 kB",
                "MemTotal : 5 kB",
                "\tMemTotal:\t5 kB",
                "Mem Total: 5 kB",
                ":5 kB",
                "MemTotal 5 kB",
                "Mem\nTotal: 5 kB",
                "A: 1",
                "Abcdefg: 1",
                "Abcdefgh: 1",
                "Abcdefghi: 1",
                "Abcdefghijklmno: 1",
                "Abcdefghijklmnop: 1",
                "caf\u{e9}: 1 kB",
            ]
            .map(String::from),
        );
        for line in &lines {
            let text = format!("{line}\nMemFree: 1 kB\nBuffers: 2 kB\n");
            check_short_key(text.as_bytes());
            // The same line last in the input, with and without its newline.
            check_short_key(format!("{line}\n").as_bytes());
            check_short_key(line.as_bytes());
        }
        let m = parse(b"HugePages_Surp:        7\nHugepagesize:       2048 kB\nMemFree:   1 kB\n")
            .unwrap();
        assert_eq!(m.hugepages_surp(), Some(7));
        assert_eq!(m.hugepagesize_kib(), Some(2048));
    }

    proptest! {
        #[test]
        fn short_key_agrees_with_the_general_search(
            b in proptest::collection::vec(
                proptest::sample::select(b"MemTotalHugePages_Frex:: \t\n(a)\xc3\xa9".to_vec()),
                0..64,
            )
        ) {
            check_short_key(&b);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..1024)) {
            if let Ok(m) = parse(&b) {
                let _ = serde_json::to_string(&m);
            }
        }

        #[test]
        fn meminfo_like_bytes_never_panic(
            b in proptest::collection::vec(
                proptest::sample::select(b"0123456789:( )\n\tkBMem_\xff".to_vec()),
                0..512,
            )
        ) {
            if let Ok(m) = parse(&b) {
                for e in m.entries() {
                    prop_assert_eq!(m.get(e.key).is_some(), true);
                }
            }
        }

        #[test]
        fn values_match_std_parsing(v in any::<u64>(), pad in 0usize..20, tail in "( kB)?(\n)?") {
            let text = format!("Buffers:{}{v}{tail}", " ".repeat(pad));
            let m = parse(text.as_bytes()).unwrap();
            prop_assert_eq!(m.buffers_kib(), Some(v));
            prop_assert_eq!(m.entries()[0].unit, if tail.contains("kB") { Some("kB") } else { None });
        }

        #[test]
        fn mutated_fixture_never_panics(
            ops in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..16)
        ) {
            let b = mutate(procfs_fixture(), &ops);
            if let Ok(m) = parse(&b) {
                let _ = serde_json::to_string(&m);
                prop_assert!(m.entries().len() <= 46 + ops.len());
            }
        }
    }
}
