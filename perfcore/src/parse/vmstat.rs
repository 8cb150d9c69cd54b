//! `/proc/vmstat`: virtual memory counters, one `key value` pair a line, kept
//! in file order, with O(1) accessors for the paging and fault counters.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::swar::{HIGHS, ONES, is_space, line_from, scan_digits, skip_spaces, word_at};
use super::{parse_u64, show, utf8};
use crate::error::{Error, Result};

/// The file this module parses, as named in errors.
pub const FILE: &str = "/proc/vmstat";

/// Keys with typed accessors; the constants below index it.
const KNOWN: [&str; 7] = [
    "pgpgin",
    "pgpgout",
    "pswpin",
    "pswpout",
    "pgfault",
    "pgmajfault",
    "oom_kill",
];

/// The longest key of [`KNOWN`] (at most 16).
const KNOWN_MAX_LEN: usize = {
    let mut m = 0;
    let mut i = 0;
    while i < KNOWN.len() {
        if KNOWN[i].len() > m {
            m = KNOWN[i].len();
        }
        i += 1;
    }
    assert!(m <= 16, "known vmstat keys fit in 16 bytes");
    m
};

const PGPGIN: usize = 0;
const PGPGOUT: usize = 1;
const PSWPIN: usize = 2;
const PSWPOUT: usize = 3;
const PGFAULT: usize = 4;
const PGMAJFAULT: usize = 5;
const OOM_KILL: usize = 6;

/// Parsed `/proc/vmstat`: every counter in file order, names borrowed from
/// the input, plus O(1) accessors for the counters the rate code uses.
///
/// Counters are as printed (vmstat has no units column: `pgpgin`/`pgpgout`
/// are KiB, `pswp*` pages, the rest mostly counts of events or pages). When a
/// key appears twice (never seen from a real kernel), both entries are kept
/// and the accessors give the first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Vmstat<'a> {
    entries: Vec<(&'a str, u64)>,
    known: [Option<u64>; KNOWN.len()],
}

impl<'a> Vmstat<'a> {
    /// Every `(key, value)` pair, in file order.
    pub fn entries(&self) -> &[(&'a str, u64)] {
        &self.entries
    }

    /// The value of `key` (e.g. `"nr_free_pages"`), by a linear search.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.entries.iter().find(|e| e.0 == key).map(|e| e.1)
    }

    /// `pgpgin`: KiB paged in from block devices since boot.
    pub fn pgpgin(&self) -> Option<u64> {
        self.known[PGPGIN]
    }

    /// `pgpgout`: KiB paged out to block devices since boot.
    pub fn pgpgout(&self) -> Option<u64> {
        self.known[PGPGOUT]
    }

    /// `pswpin`: pages swapped in since boot.
    pub fn pswpin(&self) -> Option<u64> {
        self.known[PSWPIN]
    }

    /// `pswpout`: pages swapped out since boot.
    pub fn pswpout(&self) -> Option<u64> {
        self.known[PSWPOUT]
    }

    /// `pgfault`: page faults (minor and major) since boot.
    pub fn pgfault(&self) -> Option<u64> {
        self.known[PGFAULT]
    }

    /// `pgmajfault`: major page faults (that needed I/O) since boot.
    pub fn pgmajfault(&self) -> Option<u64> {
        self.known[PGMAJFAULT]
    }

    /// `oom_kill`: processes killed by the OOM killer since boot (since Linux 4.13).
    pub fn oom_kill(&self) -> Option<u64> {
        self.known[OOM_KILL]
    }
}

// ---- Key lookup: a hash of the key's bytes into a small table, no branch per key.

/// Multiplier of the key hash, chosen so that the known keys do not collide
/// (checked at compile time by [`build_table`]).
const HASH_MUL: u64 = 0x91b7_584a_2265_b1f5;
const HASH_BITS: u32 = 5;

/// Up to 16 key bytes as two little-endian words, zero-padded.
const fn key_words(k: &[u8]) -> (u64, u64) {
    let mut w = [0u64; 2];
    let mut i = 0;
    while i < k.len() && i < 16 {
        w[i / 8] |= (k[i] as u64) << (8 * (i % 8));
        i += 1;
    }
    (w[0], w[1])
}

const fn key_hash(w: (u64, u64), len: usize) -> usize {
    ((w.0 ^ w.1.rotate_left(29) ^ len as u64).wrapping_mul(HASH_MUL) >> (64 - HASH_BITS)) as usize
}

/// Hash slot -> 1 + index into [`KNOWN`] (0 = no key), and each known key's words.
struct Table {
    slot: [u8; 1 << HASH_BITS],
    words: [(u64, u64); KNOWN.len()],
}

const fn build_table() -> Table {
    let mut t = Table {
        slot: [0; 1 << HASH_BITS],
        words: [(0, 0); KNOWN.len()],
    };
    let mut i = 0;
    while i < KNOWN.len() {
        let k = KNOWN[i].as_bytes();
        assert!(k.len() <= 16, "known vmstat keys fit in 16 bytes");
        let w = key_words(k);
        let h = key_hash(w, k.len());
        assert!(t.slot[h] == 0, "known vmstat keys collide: change HASH_MUL");
        t.slot[h] = i as u8 + 1;
        t.words[i] = w;
        i += 1;
    }
    t
}

const TABLE: Table = build_table();

/// Keeps the low `n` bytes of `w` (all of them when `n >= 8`).
#[inline]
fn low_bytes(w: u64, n: usize) -> u64 {
    if n >= 8 {
        w
    } else {
        w & ((1u64 << (8 * n)) - 1)
    }
}

/// The index into [`KNOWN`] of the key `bytes[ks..ks + len]`, if it is one.
#[inline]
fn known_index(bytes: &[u8], ks: usize, len: usize) -> Option<usize> {
    // Most keys are longer than every known one: no hash for them.
    if len == 0 || len > KNOWN_MAX_LEN {
        return None;
    }
    let w = match (word_at(bytes, ks), word_at(bytes, ks + 8)) {
        (Some(a), Some(b)) => (low_bytes(a, len), low_bytes(b, len.saturating_sub(8))),
        // Near the end of the input: build the words byte by byte.
        _ => key_words(bytes.get(ks..ks + len)?),
    };
    let i = usize::from(*TABLE.slot.get(key_hash(w, len))?).checked_sub(1)?;
    let same = TABLE.words.get(i) == Some(&w) && KNOWN.get(i).map(|k| k.len()) == Some(len);
    same.then_some(i)
}

// ---- Byte scanning, eight bytes a step.

/// Index of the first byte at or after `i` that is a space or a newline, or
/// `bytes.len()`. Control bytes stop the word scan and are then checked one by one.
#[inline]
fn find_key_end(bytes: &[u8], mut i: usize) -> usize {
    loop {
        if let Some(w) = word_at(bytes, i) {
            // Flags bytes below 0x21 (space and control bytes); the lowest is exact.
            let m = w.wrapping_sub(ONES * 0x21) & !w & HIGHS;
            if m == 0 {
                i += 8;
                continue;
            }
            i += (m.trailing_zeros() / 8) as usize;
        }
        match bytes.get(i) {
            None => return i,
            Some(&c) if c == b'\n' || is_space(c) => return i,
            Some(_) if word_at(bytes, i).is_some() => i += 1,
            Some(_) => {
                // Tail of the input: byte by byte.
                while let Some(&c) = bytes.get(i) {
                    if c == b'\n' || is_space(c) {
                        break;
                    }
                    i += 1;
                }
                return i;
            }
        }
    }
}

/// The line at `start` when it has the kernel's shape: a key that does not start
/// with a blank, one space, 1 to 19 digits, a newline. Returns the key's end, the
/// value and the next line's start; `None` sends the line to the general path.
#[inline(always)]
fn kernel_line(bytes: &[u8], start: usize) -> Option<(usize, u64, usize)> {
    if bytes.get(start).is_none_or(|&c| is_space(c) || c == b'\n') {
        return None;
    }
    let ke = find_key_end(bytes, start);
    if bytes.get(ke) != Some(&b' ') {
        return None;
    }
    let (value, digits) = scan_digits(bytes, ke + 1);
    let end = ke + 1 + digits;
    (digits > 0 && digits < 20 && bytes.get(end) == Some(&b'\n')).then_some((ke, value, end + 1))
}

/// Parses the text of `/proc/vmstat`.
///
/// Each non-blank line must be `key value` with an unsigned decimal value;
/// unknown keys are kept like known ones. A line without a value, with a
/// value that is not a number, with more than two fields, or whose key is not
/// UTF-8 is an error naming the line. An empty input gives an empty `Vmstat`.
///
/// ```
/// let v = perfcore::parse::vmstat::parse(b"nr_free_pages 977769\npgmajfault 507162\n")?;
/// assert_eq!(v.pgmajfault(), Some(507162));
/// assert_eq!(v.oom_kill(), None); // no oom_kill line before Linux 4.13
/// assert_eq!(v.entries()[0], ("nr_free_pages", 977769));
/// # Ok::<(), perfcore::Error>(())
/// ```
pub fn parse(bytes: &[u8]) -> Result<Vmstat<'_>> {
    let mut v = Vmstat {
        // A 6.x kernel prints about 180 lines of about 24 bytes.
        entries: Vec::with_capacity(bytes.len() / 20 + 8),
        known: [None; KNOWN.len()],
    };
    parse_lines(bytes, &mut v)?;
    Ok(v)
}

/// Parses like [`parse`] into `out`, keeping the allocation of its entries (a
/// reader that parses every second allocates nothing). On an error `out` holds
/// the lines before the bad one.
pub fn parse_into<'a>(bytes: &'a [u8], out: &mut Vmstat<'a>) -> Result<()> {
    // A local `Vmstat`, put back at the end: the loop keeps it in registers
    // and on the stack rather than behind `out`.
    let mut v = Vmstat::with_entries(std::mem::take(&mut out.entries));
    // A 6.x kernel prints about 180 lines of about 24 bytes.
    v.entries.reserve(bytes.len() / 20 + 8);
    let r = parse_lines(bytes, &mut v);
    *out = v;
    r
}

impl<'a> Vmstat<'a> {
    /// An empty `Vmstat` on the allocation of `entries` (see [`super::recycle`]).
    pub(crate) fn with_entries(mut entries: Vec<(&'a str, u64)>) -> Self {
        entries.clear();
        Vmstat {
            entries,
            known: [None; KNOWN.len()],
        }
    }

    /// Its entries, for their allocation.
    pub(crate) fn into_entries(self) -> Vec<(&'a str, u64)> {
        self.entries
    }
}

/// The lines of `bytes`, appended to `v`.
#[inline(always)]
fn parse_lines<'a>(bytes: &'a [u8], v: &mut Vmstat<'a>) -> Result<()> {
    // One validation of the whole text lets keys be sliced as `&str` without
    // checking each; a file that is not UTF-8 falls back to checking per key.
    let text = std::str::from_utf8(bytes).ok();
    let mut i = 0;
    let mut n = 0;
    while i < bytes.len() {
        n += 1;
        let start = i;
        let bad = |what: &str| {
            Error::parse(
                FILE,
                n,
                format!("{what}: {:?}", show(line_from(bytes, start))),
            )
        };
        if let Some((ke, value, next)) = kernel_line(bytes, start) {
            // What the general path below reads from such a line, without its
            // skips and checks.
            let key = match text {
                Some(t) => t.get(start..ke),
                None => bytes.get(start..ke).and_then(utf8),
            };
            let Some(key) = key else {
                return Err(bad("key is not UTF-8"));
            };
            if let Some(k) = known_index(bytes, start, ke - start)
                && let Some(slot @ None) = v.known.get_mut(k)
            {
                *slot = Some(value);
            }
            v.entries.push((key, value));
            i = next;
            continue;
        }
        let ks = skip_spaces(bytes, i);
        let ke = find_key_end(bytes, ks);
        if ks == ke {
            // Blank line: `ke` is at its newline (or the end).
            i = ke + 1;
            continue;
        }
        i = skip_spaces(bytes, ke);
        let vs = i;
        let (mut value, digits) = scan_digits(bytes, i);
        i += digits;
        match bytes.get(i) {
            Some(b'\n') => i += 1,
            None => {}
            Some(&c) => {
                let ends_token = is_space(c);
                if digits == 0 || !ends_token {
                    return Err(bad(if digits == 0 && ends_token {
                        "value missing"
                    } else {
                        "value is not a number"
                    }));
                }
                i = skip_spaces(bytes, i);
                match bytes.get(i) {
                    Some(b'\n') => i += 1,
                    None => {}
                    Some(_) => return Err(bad("unexpected text after the value")),
                }
            }
        }
        if digits == 0 {
            return Err(bad("value missing"));
        }
        if digits >= 20 {
            // Could have wrapped: check it properly.
            value = parse_u64(bytes.get(vs..vs + digits).unwrap_or_default())
                .ok_or_else(|| bad("value is not a number"))?;
        }
        let key = match text {
            Some(t) => t.get(ks..ke),
            None => bytes.get(ks..ke).and_then(utf8),
        };
        let Some(key) = key else {
            return Err(bad("key is not UTF-8"));
        };
        if let Some(k) = known_index(bytes, ks, ke - ks)
            && let Some(slot @ None) = v.known.get_mut(k)
        {
            *slot = Some(value);
        }
        v.entries.push((key, value));
    }
    Ok(())
}

/// Serializes as a map of the keys to the values as printed, in file order:
/// `{"nr_free_pages": 977769, ..., "oom_kill": 0}`.
impl Serialize for Vmstat<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/corpus/");

    fn fixture(case: &str) -> Vec<u8> {
        let path = format!("{CORPUS}{case}/proc/vmstat");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn node_fixture() -> &'static [u8] {
        static B: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        B.get_or_init(|| fixture("node_exporter/vmstat"))
    }

    const SMALL: &[u8] = b"nr_free_pages 977769\n\
pgpgin 7344136\n\
pgpgout 1541180581\n\
pswpin 1476\n\
pswpout 35045\n\
pgfault 2320168809\n\
pgmajfault 507162\n\
oom_kill 3\n";

    #[test]
    fn small_file() {
        let v = parse(SMALL).unwrap();
        assert_eq!(v.entries().len(), 8);
        assert_eq!(v.entries()[0], ("nr_free_pages", 977769));
        assert_eq!(v.pgpgin(), Some(7344136));
        assert_eq!(v.pgpgout(), Some(1541180581));
        assert_eq!(v.pswpin(), Some(1476));
        assert_eq!(v.pswpout(), Some(35045));
        assert_eq!(v.pgfault(), Some(2320168809));
        assert_eq!(v.pgmajfault(), Some(507162));
        assert_eq!(v.oom_kill(), Some(3));
        assert_eq!(v.get("nr_free_pages"), Some(977769));
        assert_eq!(v.get("nope"), None);
    }

    #[test]
    fn parse_into_gives_what_parse_gives_and_keeps_its_allocation() {
        let one = b"nr_free_pages 977769\npgpgin 5\npgmajfault 507162\noom_kill 1\n";
        let mut kept = Vmstat::default();
        parse_into(one, &mut kept).unwrap();
        assert_eq!(kept, parse(one).unwrap());
        let ptr = kept.entries().as_ptr();
        // A second, shorter file: nothing of the first is left, known keys
        // included, and the entries are on the same allocation.
        let two = b"pgpgout 9\n";
        parse_into(two, &mut kept).unwrap();
        assert_eq!(kept, parse(two).unwrap());
        assert_eq!(
            (kept.pgpgin(), kept.pgpgout(), kept.oom_kill()),
            (None, Some(9), None)
        );
        assert_eq!(kept.entries().as_ptr(), ptr);
        // An error leaves the lines before the bad one.
        assert!(parse_into(b"pgpgin 5\npgpgout x\n", &mut kept).is_err());
        assert_eq!(kept.entries(), &[("pgpgin", 5)]);
        assert_eq!(kept.pgpgin(), Some(5));
    }

    #[test]
    fn empty_and_blank_input() {
        assert!(parse(b"").unwrap().entries().is_empty());
        assert!(parse(b"\n \n\t\n").unwrap().entries().is_empty());
        let v = parse(b"\npgfault 5\n\n").unwrap();
        assert_eq!(v.pgfault(), Some(5));
        assert_eq!(v.entries().len(), 1);
    }

    #[test]
    fn old_kernel_without_oom_kill() {
        let v = parse(b"pgpgin 1\npgpgout 2\n").unwrap();
        assert_eq!(v.oom_kill(), None);
        assert_eq!(v.pswpin(), None);
    }

    #[test]
    fn separators_and_line_endings() {
        let v = parse(b"pgpgin\t7\r\npgpgout   8  \noom_kill 9").unwrap();
        assert_eq!(v.pgpgin(), Some(7));
        assert_eq!(v.pgpgout(), Some(8));
        assert_eq!(v.oom_kill(), Some(9));
    }

    #[test]
    fn near_miss_keys_are_not_known() {
        let v = parse(b"pgpgin_x 1\npgpgi 2\nPGPGIN 3\noom_kil 4\npgmajfaults 5\n").unwrap();
        assert_eq!(v.pgpgin(), None);
        assert_eq!(v.oom_kill(), None);
        assert_eq!(v.pgmajfault(), None);
        assert_eq!(v.entries().len(), 5);
    }

    #[test]
    fn keys_with_control_bytes_and_long_keys() {
        let v = parse(b"a\x01b 1\nnr_a_very_long_key_name_indeed_for_scanning 2\n").unwrap();
        assert_eq!(v.entries()[0], ("a\u{1}b", 1));
        assert_eq!(
            v.get("nr_a_very_long_key_name_indeed_for_scanning"),
            Some(2)
        );
    }

    #[test]
    fn duplicate_key_keeps_both_and_accessor_gives_first() {
        let v = parse(b"pgfault 1\npgfault 2\n").unwrap();
        assert_eq!(v.entries().len(), 2);
        assert_eq!(v.pgfault(), Some(1));
    }

    #[test]
    fn values_of_every_width() {
        let mut x: u64 = 0;
        for width in 1..=20 {
            x = x * 10 + (width % 10);
            let text = format!("pgmajfault {x}\nnr_x 1\n");
            assert_eq!(parse(text.as_bytes()).unwrap().pgmajfault(), Some(x));
            let text = format!("pgmajfault {x}");
            assert_eq!(parse(text.as_bytes()).unwrap().pgmajfault(), Some(x));
        }
        assert!(parse(b"pgfault 18446744073709551616\n").is_err());
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse(b"pgpgin 1\n\nthp_split abcd").unwrap_err();
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
        let e = e.to_string();
        assert!(e.starts_with("/proc/vmstat: line 3:"), "{e}");
        assert!(e.contains("not a number") && e.contains("abcd"), "{e}");
        assert!(
            parse(b"pgpgin\n")
                .unwrap_err()
                .to_string()
                .contains("missing")
        );
        assert!(parse(b"pgpgin").is_err());
        assert!(parse(b"pgpgin -1\n").is_err());
        assert!(parse(b"pgpgin 1.5\n").is_err());
        assert!(parse(b"pgpgin 12x\n").is_err());
        assert!(parse(b"pgpgin 1 2\n").is_err());
        assert!(parse(b"pg\xffin 1\n").is_err());
    }

    #[test]
    fn json_is_a_map_in_file_order() {
        let v = parse(SMALL).unwrap();
        let s = serde_json::to_string(&v).unwrap();
        assert!(
            s.starts_with(r#"{"nr_free_pages":977769,"pgpgin":7344136,"pgpgout":1541180581,"#),
            "{s}"
        );
        let j: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(j["oom_kill"], 3);
        assert_eq!(j["pgfault"], 2320168809u64);
    }

    // ---- Corpus fixtures: literal values from each case's expected.json ----

    /// `node_exporter/vmstat/expected.json` (`vmstat.*`).
    const NODE: &[(&str, u64)] = &[
        ("oom_kill", 0),
        ("pgfault", 2320168809),
        ("pgmajfault", 507162),
        ("pgpgin", 7344136),
        ("pgpgout", 1541180581),
        ("pswpin", 1476),
        ("pswpout", 35045),
    ];
    /// `telegraf/vmstat-full/expected.json` (`vmstat.*`).
    const TG_FULL: &[(&str, u64)] = &[
        ("nr_free_pages", 78730),
        ("nr_inactive_anon", 426259),
        ("nr_active_anon", 2515657),
        ("nr_inactive_file", 2366791),
        ("nr_active_file", 2244914),
        ("nr_unevictable", 0),
        ("nr_mlock", 0),
        ("nr_anon_pages", 1358675),
        ("nr_mapped", 558821),
        ("nr_file_pages", 5153546),
        ("nr_dirty", 5690),
        ("nr_writeback", 0),
        ("nr_slab_reclaimable", 459806),
        ("nr_slab_unreclaimable", 47859),
        ("nr_page_table_pages", 11115),
        ("nr_kernel_stack", 579),
        ("nr_unstable", 0),
        ("nr_bounce", 0),
        ("nr_vmscan_write", 6206),
        ("nr_writeback_temp", 0),
        ("nr_isolated_anon", 0),
        ("nr_isolated_file", 0),
        ("nr_shmem", 541689),
        ("numa_hit", 6690743595),
        ("numa_miss", 0),
        ("numa_foreign", 0),
        ("numa_interleave", 35793),
        ("numa_local", 5113399878),
        ("numa_other", 0),
        ("nr_anon_transparent_hugepages", 2034),
        ("pgpgin", 219717626),
        ("pgpgout", 3495885510),
        ("pswpin", 2092),
        ("pswpout", 6206),
        ("pgalloc_dma", 0),
        ("pgalloc_dma32", 122480220),
        ("pgalloc_normal", 5233176719),
        ("pgalloc_movable", 0),
        ("pgfree", 5359765021),
        ("pgactivate", 375664931),
        ("pgdeactivate", 122735906),
        ("pgfault", 8699921410),
        ("pgmajfault", 122210),
        ("pgrefill_dma", 0),
        ("pgrefill_dma32", 1180010),
        ("pgrefill_normal", 119866676),
        ("pgrefill_movable", 0),
        ("pgsteal_dma", 0),
        ("pgsteal_dma32", 4466436),
        ("pgsteal_normal", 318463755),
        ("pgsteal_movable", 0),
        ("pgscan_kswapd_dma", 0),
        ("pgscan_kswapd_dma32", 4480608),
        ("pgscan_kswapd_normal", 287857984),
        ("pgscan_kswapd_movable", 0),
        ("pgscan_direct_dma", 0),
        ("pgscan_direct_dma32", 12256),
        ("pgscan_direct_normal", 31501600),
        ("pgscan_direct_movable", 0),
        ("zone_reclaim_failed", 0),
        ("pginodesteal", 9188431),
        ("slabs_scanned", 93775616),
        ("kswapd_steal", 291534428),
        ("kswapd_inodesteal", 29770874),
        ("kswapd_low_wmark_hit_quickly", 8756),
        ("kswapd_high_wmark_hit_quickly", 25439),
        ("kswapd_skip_congestion_wait", 0),
        ("pageoutrun", 505006),
        ("allocstall", 81496),
        ("pgrotated", 60620),
        ("compact_blocks_moved", 238196),
        ("compact_pages_moved", 6370588),
        ("compact_pagemigrate_failed", 0),
        ("compact_stall", 142092),
        ("compact_fail", 135220),
        ("compact_success", 6872),
        ("htlb_buddy_alloc_success", 0),
        ("htlb_buddy_alloc_fail", 0),
        ("unevictable_pgs_culled", 1531),
        ("unevictable_pgs_scanned", 0),
        ("unevictable_pgs_rescued", 5426),
        ("unevictable_pgs_mlocked", 6988),
        ("unevictable_pgs_munlocked", 6988),
        ("unevictable_pgs_cleared", 0),
        ("unevictable_pgs_stranded", 0),
        ("unevictable_pgs_mlockfreed", 0),
        ("thp_fault_alloc", 346219),
        ("thp_fault_fallback", 895453),
        ("thp_collapse_alloc", 24857),
        ("thp_collapse_alloc_failed", 102214),
        ("thp_split", 9817),
    ];
    /// `telegraf/vmstat-partial/expected.json` (`vmstat.*`).
    const TG_PARTIAL: &[(&str, u64)] = &[
        ("unevictable_pgs_culled", 1531),
        ("unevictable_pgs_scanned", 0),
        ("unevictable_pgs_rescued", 5426),
        ("unevictable_pgs_mlocked", 6988),
        ("unevictable_pgs_munlocked", 6988),
        ("unevictable_pgs_cleared", 0),
        ("unevictable_pgs_stranded", 0),
        ("unevictable_pgs_mlockfreed", 0),
        ("thp_fault_alloc", 346219),
        ("thp_fault_fallback", 895453),
        ("thp_collapse_alloc", 24857),
        ("thp_collapse_alloc_failed", 102214),
        ("thp_split", 9817),
    ];

    fn check_table(v: &Vmstat<'_>, table: &[(&str, u64)], case: &str) {
        for &(k, want) in table {
            assert_eq!(v.get(k), Some(want), "{case}: {k}");
        }
    }

    #[test]
    fn fixture_node_exporter() {
        let v = parse(node_fixture()).unwrap();
        assert_eq!(v.entries().len(), 120);
        check_table(&v, NODE, "node_exporter/vmstat");
        assert_eq!(v.oom_kill(), Some(0));
        assert_eq!(v.pgfault(), Some(2320168809));
        assert_eq!(v.pgmajfault(), Some(507162));
        assert_eq!(v.pgpgin(), Some(7344136));
        assert_eq!(v.pgpgout(), Some(1541180581));
        assert_eq!(v.pswpin(), Some(1476));
        assert_eq!(v.pswpout(), Some(35045));
        assert_eq!(v.entries().last(), Some(&("oom_kill", 0)));
    }

    #[test]
    fn fixture_telegraf_full() {
        let b = fixture("telegraf/vmstat-full");
        let v = parse(&b).unwrap();
        assert_eq!(v.entries().len(), 91);
        check_table(&v, TG_FULL, "telegraf/vmstat-full");
        assert_eq!(v.pgpgin(), Some(219717626));
        assert_eq!(v.pgpgout(), Some(3495885510));
        assert_eq!(v.pswpin(), Some(2092));
        assert_eq!(v.pswpout(), Some(6206));
        assert_eq!(v.pgfault(), Some(8699921410));
        assert_eq!(v.pgmajfault(), Some(122210));
        // A <= 3.x field set: no oom_kill line.
        assert_eq!(v.oom_kill(), None);
    }

    #[test]
    fn fixture_telegraf_partial() {
        let b = fixture("telegraf/vmstat-partial");
        let v = parse(&b).unwrap();
        assert_eq!(v.entries().len(), 13);
        check_table(&v, TG_PARTIAL, "telegraf/vmstat-partial");
        assert_eq!(v.pgpgin(), None);
        assert_eq!(v.pgfault(), None);
    }

    #[test]
    fn fixture_telegraf_invalid_is_an_error() {
        let b = fixture("telegraf/vmstat-invalid");
        let e = parse(&b).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Parse {
                    file: FILE,
                    line: 13,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("thp_split abcd"), "{e}");
    }

    #[test]
    fn fixture_json() {
        let v = parse(node_fixture()).unwrap();
        let j = serde_json::to_value(&v).unwrap();
        let obj = j.as_object().unwrap();
        assert_eq!(obj.len(), 120);
        for &(k, want) in NODE {
            assert_eq!(obj[k], want, "{k}");
        }
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

    /// What the general path of [`parse`] reads from the line at `start`, in the
    /// same terms as [`kernel_line`]: key end, value and next line, for a line it
    /// accepts with a newline after the value.
    fn general_line(b: &[u8], start: usize) -> Option<(usize, u64, usize)> {
        let ks = skip_spaces(b, start);
        let ke = find_key_end(b, ks);
        if ks == ke {
            return None;
        }
        let vs = skip_spaces(b, ke);
        let (v, n) = scan_digits(b, vs);
        (n > 0 && n < 20 && b.get(vs + n) == Some(&b'\n')).then_some((ke, v, vs + n + 1))
    }

    #[test]
    fn kernel_lines_read_as_the_general_path_reads_them() {
        // A real kernel's file (6.18, 192 lines).
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/live/debian12-kernel6.18-2cpu/sample0/proc/vmstat"
        );
        let text = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut lines = 0;
        let mut start = 0;
        while start < text.len() {
            let got = kernel_line(&text, start).expect("a kernel line");
            assert_eq!(Some(got), general_line(&text, start));
            start = got.2;
            lines += 1;
        }
        assert!(lines > 100, "{lines} lines");
        // Shapes it leaves to the general path.
        for odd in [
            &b" pgpgin 1\n"[..],
            b"pgpgin  1\n",
            b"pgpgin\t1\n",
            b"pgpgin 1 \n",
            b"pgpgin 1",
            b"pgpgin 12345678901234567890\n",
            b"pgpgin x\n",
            b"\n",
        ] {
            assert_eq!(
                kernel_line(odd, 0),
                None,
                "{:?}",
                String::from_utf8_lossy(odd)
            );
        }
    }

    proptest! {
        #[test]
        fn kernel_line_agrees_with_the_general_path(
            bytes in prop::collection::vec(prop_oneof![
                Just(b' '), Just(b'\t'), Just(b'\n'), Just(b'\x01'), Just(0xc3u8),
                b'0'..=b'9', b'a'..=b'z', Just(b'_'),
            ], 0..200),
        ) {
            for start in 0..bytes.len() {
                if let Some(got) = kernel_line(&bytes, start) {
                    prop_assert_eq!(Some(got), general_line(&bytes, start));
                }
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..1024)) {
            if let Ok(v) = parse(&b) {
                let _ = serde_json::to_string(&v);
            }
        }

        #[test]
        fn vmstat_like_bytes_never_panic(
            b in proptest::collection::vec(
                proptest::sample::select(b"0123456789 \n\tpgfault_\x00\xff".to_vec()),
                0..512,
            )
        ) {
            if let Ok(v) = parse(&b) {
                for (k, _) in v.entries() {
                    prop_assert!(v.get(k).is_some());
                }
            }
        }

        #[test]
        fn values_match_std_parsing(x in any::<u64>(), key in "[a-z_]{1,30}", nl in any::<bool>()) {
            let text = format!("{key} {x}{}", if nl { "\n" } else { "" });
            let v = parse(text.as_bytes()).unwrap();
            prop_assert_eq!(v.entries(), &[(key.as_str(), x)][..]);
        }

        #[test]
        fn mutated_fixture_never_panics(
            ops in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..16)
        ) {
            let b = mutate(node_fixture(), &ops);
            if let Ok(v) = parse(&b) {
                let _ = serde_json::to_string(&v);
                prop_assert!(v.entries().len() <= 121 + ops.len());
            }
        }
    }
}
