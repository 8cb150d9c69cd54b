//! `/proc/net/dev` (and `/proc/<pid>/net/dev`): cumulative traffic counters
//! of every network interface.
//!
//! After two header lines, each line is `name: ` followed by 8 receive and 8
//! transmit counters. The name is right-aligned in a 6-character column, so
//! longer names push the colon right, and a counter wider than its column
//! follows the colon with no space (`eth0:68210035552 ...`). Names are split
//! off at the LAST `:` of the line, so names that contain one (`eth0:1`,
//! `ibr10:30`) keep it.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::{fields, parse_u64, show, trim, utf8};
use crate::error::{Error, Result};

/// The file this module parses, as named in errors.
pub const FILE: &str = "/proc/net/dev";

/// The kernel's names of the 16 counters, in the order they are printed
/// (the header's names prefixed with `rx_` or `tx_`).
pub const COUNTER_NAMES: [&str; 16] = [
    "rx_bytes",
    "rx_packets",
    "rx_errs",
    "rx_drop",
    "rx_fifo",
    "rx_frame",
    "rx_compressed",
    "rx_multicast",
    "tx_bytes",
    "tx_packets",
    "tx_errs",
    "tx_drop",
    "tx_fifo",
    "tx_colls",
    "tx_carrier",
    "tx_compressed",
];

/// One interface line of `/proc/net/dev`.
///
/// All counters are cumulative since the interface appeared; some drivers
/// keep them in 32 bits, so they can wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetDev<'a> {
    /// Interface name, trimmed (may contain `:` or any UTF-8, e.g. `💩0`).
    pub name: &'a str,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors detected by the driver.
    pub rx_errs: u64,
    /// Received packets dropped (no buffer space, unknown protocol, ...).
    pub rx_drop: u64,
    /// Receive FIFO buffer overruns.
    pub rx_fifo: u64,
    /// Receive framing errors.
    pub rx_frame: u64,
    /// Compressed packets received (CSLIP, PPP).
    pub rx_compressed: u64,
    /// Multicast frames received.
    pub rx_multicast: u64,
    /// Bytes transmitted.
    pub tx_bytes: u64,
    /// Packets transmitted.
    pub tx_packets: u64,
    /// Transmit errors detected by the driver.
    pub tx_errs: u64,
    /// Packets dropped on transmit.
    pub tx_drop: u64,
    /// Transmit FIFO buffer errors.
    pub tx_fifo: u64,
    /// Collisions detected on the interface.
    pub tx_colls: u64,
    /// Carrier losses detected by the driver.
    pub tx_carrier: u64,
    /// Compressed packets transmitted (CSLIP, PPP).
    pub tx_compressed: u64,
}

impl<'a> NetDev<'a> {
    /// Builds an entry from a name and the 16 counters in [`COUNTER_NAMES`] order.
    pub fn from_counters(name: &'a str, c: [u64; 16]) -> NetDev<'a> {
        let [
            rx_bytes,
            rx_packets,
            rx_errs,
            rx_drop,
            rx_fifo,
            rx_frame,
            rx_compressed,
            rx_multicast,
            tx_bytes,
            tx_packets,
            tx_errs,
            tx_drop,
            tx_fifo,
            tx_colls,
            tx_carrier,
            tx_compressed,
        ] = c;
        NetDev {
            name,
            rx_bytes,
            rx_packets,
            rx_errs,
            rx_drop,
            rx_fifo,
            rx_frame,
            rx_compressed,
            rx_multicast,
            tx_bytes,
            tx_packets,
            tx_errs,
            tx_drop,
            tx_fifo,
            tx_colls,
            tx_carrier,
            tx_compressed,
        }
    }

    /// The 16 counters in [`COUNTER_NAMES`] order.
    pub fn counters(&self) -> [u64; 16] {
        [
            self.rx_bytes,
            self.rx_packets,
            self.rx_errs,
            self.rx_drop,
            self.rx_fifo,
            self.rx_frame,
            self.rx_compressed,
            self.rx_multicast,
            self.tx_bytes,
            self.tx_packets,
            self.tx_errs,
            self.tx_drop,
            self.tx_fifo,
            self.tx_colls,
            self.tx_carrier,
            self.tx_compressed,
        ]
    }

    /// Whether this is the loopback interface (`lo`), which reports
    /// machine-internal traffic and is usually left out of totals.
    pub fn is_loopback(&self) -> bool {
        self.name == "lo"
    }
}

/// Serializes the 16 counters by the kernel's names (`rx_bytes`, ...,
/// `tx_compressed`); the name is the key of the enclosing [`NetDevJson`] map.
impl Serialize for NetDev<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(16))?;
        for (k, v) in COUNTER_NAMES.iter().zip(self.counters()) {
            m.serialize_entry(k, &v)?;
        }
        m.end()
    }
}

/// Serializes parsed interfaces as `{"<iface>": {counters...}, ...}` in file order.
#[derive(Debug, Clone, Copy)]
pub struct NetDevJson<'s, 'a>(pub &'s [NetDev<'a>]);

impl Serialize for NetDevJson<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for d in self.0 {
            m.serialize_entry(d.name, d)?;
        }
        m.end()
    }
}

/// Parses the text of `/proc/net/dev`, one entry per interface in file order.
///
/// Header lines (no `:`, containing `|`) and blank lines are skipped, so a
/// single data line parses too. Any other line without `:`, an empty or
/// non-UTF-8 name, or anything but exactly 16 unsigned decimal counters
/// after the name is an error naming the line.
pub fn parse(bytes: &[u8]) -> Result<Vec<NetDev<'_>>> {
    let mut out = Vec::new();
    parse_into(bytes, &mut out)?;
    Ok(out)
}

/// Like [`parse`], but fills `out` (cleared first) so that its allocation is
/// reused. On error `out` holds the interfaces before the bad line.
pub fn parse_into<'a>(bytes: &'a [u8], out: &mut Vec<NetDev<'a>>) -> Result<()> {
    out.clear();
    // Lines are about 110 bytes; the header takes ~230 (nothing to do when
    // `out` kept its allocation).
    out.reserve(bytes.len() / 96 + 1);
    let mut rest = bytes;
    let mut n = 0;
    while !rest.is_empty() {
        n += 1;
        // Headers and well-formed lines take the fused scanner; anything it
        // does not accept goes through `parse_line`, which decides whether
        // the line is valid and words the error.
        if let Some((d, used)) = scan_line(rest) {
            out.extend(d);
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

/// One pass over one line. Returns the entry (`None` for a header line)
/// and the bytes used including the newline, or `None` when the line is
/// anything but a header or a plainly well-formed data line (the caller then
/// re-parses it with [`parse_line`]). Never accepts a line that
/// [`parse_line`] rejects, nor reads one differently.
#[inline]
fn scan_line(b: &[u8]) -> Option<(Option<NetDev<'_>>, usize)> {
    // Up to the first ':' (or the end of a line without one).
    let mut i = 0;
    let mut bar = false;
    let colon = loop {
        i = scan::find_colon_newline_bar(b, i);
        match b.get(i) {
            Some(b':') => break i,
            Some(b'|') => bar = true,
            _ => return bar.then_some((None, i + 1)), // header (or blank/garbage)
        }
        i += 1;
    };
    if bar {
        return None; // a '|' in a data line's name: rare, let parse_line judge
    }
    let name = utf8(trim(b.get(..colon)?))?;
    if name.is_empty() {
        return None;
    }
    // Split at the first ':'. A later ':' would sit inside some field, which
    // then fails to scan as a number, so success means first == last.
    let mut c = [0u64; 16];
    let end = scan::counters(b, colon + 1, &mut c)?;
    Some((Some(NetDev::from_counters(name, c)), end + 1))
}

/// Byte scanning for the fast paths of this module and of
/// [`diskstats`](super::diskstats).
///
/// Runs of spaces (the padded columns of `/proc/net/dev`) and the search for
/// the name's colon go eight bytes at a time: a word is loaded as one
/// little-endian `u64` and tested with the SWAR tricks of "Bit Twiddling
/// Hacks". Digits go one byte at a time: converting eight digits at once
/// (simdjson's trick) was measured slower on these files, whose counters
/// are mostly short, than a loop whose exit is the only unpredictable branch.
pub(super) mod scan {
    /// Whitespace that separates fields, as [`fields`](super::super::fields) splits.
    pub(in crate::parse) use super::super::swar::is_space as is_blank;
    /// First index at or after `i` that is not a blank (or `b.len()`).
    pub(in crate::parse) use super::super::swar::skip_spaces as skip_blanks;
    use super::super::swar::word_at as word;
    use super::super::swar::{ONES, zero_bytes};
    /// `b"0 0 0 0 "` as a little-endian word.
    const ZEROS4: u64 = u64::from_le_bytes(*b"0 0 0 0 ");

    /// High bit set in each byte of `w` equal to `c`. Exact for the lowest
    /// such byte, which is all the callers look at.
    #[inline(always)]
    fn bytes_equal(w: u64, c: u8) -> u64 {
        zero_bytes(w ^ (ONES * u64::from(c)))
    }

    /// First index at or after `i` holding ':', '\n' or '|' (or `b.len()`).
    #[inline(always)]
    pub(in crate::parse) fn find_colon_newline_bar(b: &[u8], mut i: usize) -> usize {
        while let Some(w) = word(b, i) {
            let m = bytes_equal(w, b':') | bytes_equal(w, b'\n') | bytes_equal(w, b'|');
            if m != 0 {
                return i + (m.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
        while let Some(&c) = b.get(i) {
            if matches!(c, b':' | b'\n' | b'|') {
                return i;
            }
            i += 1;
        }
        i
    }

    /// Continues a decimal number whose value so far is `v` with the digits from
    /// `i`; returns the value (wrapped: callers reject 20 digits or more) and the
    /// index of the first non-digit.
    #[inline(always)]
    pub(in crate::parse) fn digits(b: &[u8], mut i: usize, mut v: u64) -> (u64, usize) {
        while let Some(&c) = b.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            v = v.wrapping_mul(10).wrapping_add(u64::from(d));
            i += 1;
        }
        (v, i)
    }

    /// The unsigned decimal number at `i` and the index after it. `None`
    /// unless it has 1 to 19 digits (so it cannot overflow; the slow path
    /// judges longer ones) and is followed by a blank, a newline or the end.
    #[inline(always)]
    pub(in crate::parse) fn number(b: &[u8], i: usize) -> Option<(u64, usize)> {
        let (v, j) = digits(b, i, 0);
        let len = j - i;
        let ends = b.get(j).is_none_or(|&c| c == b'\n' || is_blank(c));
        (len > 0 && len < 20 && ends).then_some((v, j))
    }

    /// Scans blank-separated unsigned decimal numbers from `i` up to the end
    /// of the line into `out`. Returns how many there were and the index of
    /// the newline (or `b.len()`), or `None` when the rest of the line holds
    /// anything but digits and blanks, more than `out.len()` numbers, or a
    /// number of 20 digits or more (which could overflow: the slow path
    /// judges those).
    ///
    /// A digit run always ends at a non-digit, so the byte after a number is
    /// checked by the next turn of the loop: no separate terminator test.
    #[inline(always)]
    pub(in crate::parse) fn numbers(
        b: &[u8],
        mut i: usize,
        out: &mut [u64],
    ) -> Option<(usize, usize)> {
        let mut count = 0;
        loop {
            let Some(&c) = b.get(i) else {
                return Some((count, i));
            };
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                if c == b' ' {
                    i += 1;
                    if b.get(i) == Some(&b' ') {
                        i = skip_blanks(b, i); // padded columns
                    }
                    continue;
                }
                match other_separator(c) {
                    Separator::Newline => return Some((count, i)),
                    Separator::Blank => {
                        i += 1;
                        continue;
                    }
                    Separator::Invalid => return None,
                }
            }
            // Four zero counters in a row ("0 0 0 0 "), as idle devices print
            // them (loop, ram, zram and unused discard/flush fields): one word.
            if d == 0
                && word(b, i) == Some(ZEROS4)
                && let Some(slots) = out.get_mut(count..count + 4)
            {
                slots.fill(0);
                count += 4;
                i += 8;
                continue;
            }
            let start = i;
            let v;
            (v, i) = digits(b, i + 1, u64::from(d));
            if i - start > 19 {
                return None;
            }
            *out.get_mut(count)? = v;
            count += 1;
        }
    }

    /// Reads exactly `out.len()` blank-separated unsigned decimal numbers from
    /// `i`, then only blanks up to the newline (or the end), and returns the
    /// index of that newline (or `b.len()`). `None` for anything else: fewer or
    /// more numbers, any other byte, a number of 20 digits or more. The blanks
    /// before each number (the padded columns of `/proc/net/dev`) are skipped a
    /// word at a time, and nothing is tested that those lines never have
    /// (unlike [`numbers`], no shortcut for runs of `0 0 0 0`).
    #[inline(always)]
    pub(in crate::parse) fn counters(b: &[u8], mut i: usize, out: &mut [u64]) -> Option<usize> {
        for slot in out.iter_mut() {
            i = skip_blanks(b, i);
            let start = i;
            let v;
            (v, i) = digits(b, i, 0);
            let len = i - start;
            if len == 0 || len > 19 {
                return None;
            }
            *slot = v;
            // A digit run ends at a non-digit: the next skip and digit test
            // judge it (a stray byte gives an empty number).
        }
        i = skip_blanks(b, i);
        b.get(i).is_none_or(|&c| c == b'\n').then_some(i)
    }

    enum Separator {
        Newline,
        Blank,
        Invalid,
    }

    /// Classifies a byte after a number that is not a space. Kept out of
    /// line so that the hot loop compares with ' ' only, instead of going
    /// through a jump table over all the blanks.
    #[cold]
    #[inline(never)]
    fn other_separator(c: u8) -> Separator {
        if c == b'\n' {
            Separator::Newline
        } else if is_blank(c) {
            Separator::Blank
        } else {
            Separator::Invalid
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn numbers_of_every_length_and_position() {
            for len in 1..=20usize {
                let digits: String = (0..len).map(|k| char::from(b'1' + (k % 9) as u8)).collect();
                for pad in 0..10 {
                    for tail in ["", " ", "\n", " 7", "x"] {
                        let text = format!("{}{digits}{tail}", " ".repeat(pad));
                        let b = text.as_bytes();
                        let i = skip_blanks(b, 0);
                        assert_eq!(i, pad);
                        let got = number(b, i);
                        let want = (len < 20 && tail != "x")
                            .then(|| (digits.parse::<u64>().unwrap(), pad + len));
                        assert_eq!(got, want, "{text:?}");
                    }
                }
            }
            assert_eq!(number(b"", 0), None);
            assert_eq!(number(b"18446744073709551615", 0), None); // 20 digits: slow path
            assert_eq!(
                number(b"9999999999999999999 ", 0),
                Some((9_999_999_999_999_999_999, 19))
            );
            assert_eq!(number(b"12\xff\xff\xff\xff\xff\xff\xff", 0), None);
            assert_eq!(number(b"12:345678", 0), None);
        }

        #[test]
        fn numbers_across_a_line() {
            let mut out = [0u64; 4];
            let b = b"1  22\t333 \r4444\nxx";
            assert_eq!(numbers(b, 0, &mut out), Some((4, 15)));
            assert_eq!(out, [1, 22, 333, 4444]);
            assert_eq!(numbers(b"", 0, &mut out), Some((0, 0)));
            assert_eq!(numbers(b"   ", 0, &mut out), Some((0, 3)));
            assert_eq!(numbers(b"1 2 3 4 5", 0, &mut out), None); // too many
            assert_eq!(numbers(b"1 2x", 0, &mut out), None);
            assert_eq!(numbers(b"1 -2", 0, &mut out), None);
            assert_eq!(numbers(b"99999999999999999999", 0, &mut out), None); // 20 digits
            assert_eq!(numbers(b"9999999999999999999", 0, &mut out), Some((1, 19)));
            assert_eq!(out[0], 9_999_999_999_999_999_999);
        }

        #[test]
        fn counters_reads_exactly_sixteen_padded_numbers() {
            let line = b"    lo: 4971306654  118806    0    0    0     0          0         0 4971306654  118806    0    0    0     0       0          0\n  ifb0:";
            let mut out = [0u64; 16];
            let end = counters(line, 7, &mut out).unwrap();
            assert_eq!(line[end], b'\n');
            assert_eq!(out[0], 4971306654);
            assert_eq!(out[9], 118806);
            assert_eq!(out[15], 0);
            let mut four = [0u64; 4];
            // Tabs, CR and runs of blanks between and after; no final newline.
            assert_eq!(counters(b" 1\t2  \r3 4 \r", 0, &mut four), Some(12));
            assert_eq!(four, [1, 2, 3, 4]);
            assert_eq!(counters(b"1 2 3 4", 0, &mut four), Some(7));
            assert_eq!(counters(b"1 2 3\n4", 0, &mut four), None); // too few
            assert_eq!(counters(b"1 2 3 4 5\n", 0, &mut four), None); // too many
            assert_eq!(counters(b"1 2 3 4x\n", 0, &mut four), None);
            assert_eq!(counters(b"1 2 x 4\n", 0, &mut four), None);
            assert_eq!(counters(b"1 2 3 -4\n", 0, &mut four), None);
            assert_eq!(counters(b"1 2 3 1:6\n", 0, &mut four), None);
            assert_eq!(
                counters(b"1 2 3 99999999999999999999\n", 0, &mut four),
                None
            );
            assert_eq!(
                counters(b"1 2 3 9999999999999999999\n", 0, &mut four),
                Some(25)
            );
            assert_eq!(four[3], 9_999_999_999_999_999_999);
        }

        proptest::proptest! {
            /// `counters` accepts the lines of 16 fields that all parse as
            /// numbers, and reads them as the line parser's `counters` does.
            #[test]
            fn counters_agree_with_fields(
                s in "([ \t\r]{0,9}([0-9]{1,21}|x|-1)){14,18}[ \t\r]{0,3}(\n[0-9 a]{0,5})?"
            ) {
                let b = s.as_bytes();
                let mut out = [0u64; 16];
                let line_end = b.iter().position(|&c| c == b'\n').unwrap_or(b.len());
                let reference = super::super::counters(&b[..line_end]);
                let got = counters(b, 0, &mut out);
                // It declines numbers of 20 digits (which may not fit) but
                // takes every other line the reference takes.
                let long = crate::parse::fields(&b[..line_end]).any(|f| f.len() >= 20);
                proptest::prop_assert!(got.is_none() || reference.is_some());
                proptest::prop_assert!(got.is_some() || reference.is_none() || long);
                if let Some(end) = got {
                    proptest::prop_assert_eq!(end, line_end);
                    proptest::prop_assert_eq!(Some(out), reference);
                }
            }

            /// `numbers` reads a line exactly as splitting it into fields and
            /// parsing each does, whenever it accepts the line.
            #[test]
            fn numbers_agree_with_fields(s in "[0-9 \t\r]{0,80}(\n[0-9 a]{0,5})?") {
                let b = s.as_bytes();
                let mut out = [0u64; 12];
                if let Some((n, end)) = numbers(b, 0, &mut out) {
                    proptest::prop_assert!(b.get(end).is_none_or(|&c| c == b'\n'));
                    let line = b.get(..end).unwrap_or_default();
                    let reference: Vec<Option<u64>> =
                        crate::parse::fields(line).map(crate::parse::parse_u64).collect();
                    let got: Vec<Option<u64>> = out[..n].iter().map(|&v| Some(v)).collect();
                    proptest::prop_assert_eq!(got, reference);
                }
            }
        }

        #[test]
        fn finds_first_special_byte() {
            let line = b"  verylonginterfacename|x:y\n";
            assert_eq!(find_colon_newline_bar(line, 0), 23);
            assert_eq!(find_colon_newline_bar(line, 24), 25);
            assert_eq!(find_colon_newline_bar(line, 26), 27);
            assert_eq!(find_colon_newline_bar(b"abc", 0), 3);
            assert_eq!(find_colon_newline_bar(b"abcdefghijk", 0), 11);
            assert_eq!(find_colon_newline_bar(b"abcdefghij:", 0), 10);
            assert_eq!(skip_blanks(b"        \t        x", 0), 17);
            assert_eq!(skip_blanks(b"   ", 0), 3);
            assert_eq!(skip_blanks(b"   \r\n", 0), 4);
        }
    }
}

/// Parses one line, splitting the name off at the last ':'.
fn parse_line(n: usize, line: &[u8]) -> Result<Option<NetDev<'_>>> {
    let bad = |what: &str| Error::parse(FILE, n, format!("{what}: {:?}", show(line)));
    let Some(last) = line.iter().rposition(|&c| c == b':') else {
        if line.contains(&b'|') || trim(line).is_empty() {
            return Ok(None); // header or blank line
        }
        return Err(bad("no ':' after the interface name"));
    };
    let rest = line.get(last + 1..).unwrap_or_default();
    let counters = counters(rest).ok_or_else(|| bad(&counters_problem(rest)))?;
    let name = trim(line.get(..last).unwrap_or_default());
    if name.is_empty() {
        return Err(bad("empty interface name"));
    }
    let name = utf8(name).ok_or_else(|| bad("interface name is not UTF-8"))?;
    Ok(Some(NetDev::from_counters(name, counters)))
}

/// Exactly 16 unsigned decimal counters, or `None`.
#[inline]
fn counters(rest: &[u8]) -> Option<[u64; 16]> {
    let mut f = fields(rest);
    let mut c = [0u64; 16];
    for slot in &mut c {
        *slot = parse_u64(f.next()?)?;
    }
    match f.next() {
        None => Some(c),
        Some(_) => None,
    }
}

/// Says why [`counters`] rejected `rest` (only on the error path).
fn counters_problem(rest: &[u8]) -> String {
    let count = fields(rest).count();
    if count != 16 {
        format!("expected 16 counters after the name, found {count}")
    } else {
        "counter is not a number".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEADER: &str = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

    fn with_header(body: &str) -> Vec<u8> {
        format!("{HEADER}{body}").into_bytes()
    }

    #[test]
    fn header_and_one_interface() {
        let b = with_header(
            "    lo: 1664039048 1566805    0    0    0     0          0         0 1664039048 1566805    0    0    0     0       0          0\n",
        );
        let v = parse(&b).unwrap();
        assert_eq!(v.len(), 1);
        let lo = v[0];
        assert_eq!(lo.name, "lo");
        assert!(lo.is_loopback());
        assert_eq!(lo.rx_bytes, 1664039048);
        assert_eq!(lo.rx_packets, 1566805);
        assert_eq!(lo.tx_bytes, 1664039048);
        assert_eq!(lo.tx_compressed, 0);
    }

    #[test]
    fn counters_land_in_kernel_order() {
        let v = parse(b"  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16").unwrap();
        let d = v[0];
        assert!(!d.is_loopback());
        assert_eq!(
            [
                d.rx_bytes,
                d.rx_packets,
                d.rx_errs,
                d.rx_drop,
                d.rx_fifo,
                d.rx_frame,
                d.rx_compressed,
                d.rx_multicast
            ],
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
        assert_eq!(
            [
                d.tx_bytes,
                d.tx_packets,
                d.tx_errs,
                d.tx_drop,
                d.tx_fifo,
                d.tx_colls,
                d.tx_carrier,
                d.tx_compressed
            ],
            [9, 10, 11, 12, 13, 14, 15, 16]
        );
        assert_eq!(d.counters(), core::array::from_fn(|i| i as u64 + 1));
        assert_eq!(NetDev::from_counters("eth0", d.counters()), d);
    }

    #[test]
    fn names_split_at_the_last_colon() {
        let v = parse(b"eth0:1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\nibr10:30:0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 7\n  a:b:c:  1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n").unwrap();
        assert_eq!(v[0].name, "eth0:1");
        assert_eq!(v[0].rx_bytes, 1);
        assert_eq!(v[1].name, "ibr10:30");
        assert_eq!(v[1].tx_compressed, 7);
        assert_eq!(v[2].name, "a:b:c");
    }

    #[test]
    fn no_space_after_colon_and_wide_names() {
        let v = parse(b"  eth0:68210035552 520993275    0    0    0     0          0         0 9315587528 43451486    0    0    0     0       0          0\nvethf345468:     648       8    0    0    0     0          0         0      438       5    0    0    0     0       0          0\n").unwrap();
        assert_eq!(v[0].name, "eth0");
        assert_eq!(v[0].rx_bytes, 68210035552);
        assert_eq!(v[0].tx_bytes, 9315587528);
        assert_eq!(v[1].name, "vethf345468");
        assert_eq!(v[1].tx_packets, 5);
    }

    #[test]
    fn utf8_name() {
        let v = parse("💩0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n".as_bytes()).unwrap();
        assert_eq!(v[0].name, "💩0");
    }

    #[test]
    fn empty_header_only_and_blank() {
        assert!(parse(b"").unwrap().is_empty());
        assert!(parse(HEADER.as_bytes()).unwrap().is_empty());
        assert!(parse(b"\n   \n").unwrap().is_empty());
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse(&with_header("  eth0: 1 2 3\n"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/proc/net/dev: line 3:"), "{e}");
        assert!(e.contains("found 3"), "{e}");
        let e = parse(b"eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && e.contains("not a number"), "{e}");
        let many = b"eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n";
        assert!(parse(many).unwrap_err().to_string().contains("found 17"));
        assert!(parse(b"eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n").is_err());
        assert!(parse(b": 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n").is_err());
        assert!(parse(b"  : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n").is_err());
        assert!(parse(b"\xff\xfe: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n").is_err());
        assert!(parse(b"eth0: -1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n").is_err());
        assert!(
            parse(b"eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 18446744073709551616\n").is_err()
        );
        assert!(parse(b"eth0:").is_err());
        assert!(parse(b":").is_err());
        assert!(parse(b"garbage\n").is_err());
        // A colon in the counters is not taken as the name's end.
        assert!(parse(b"eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 1:6\n").is_err());
    }

    #[test]
    fn parse_into_reuses_and_clears() {
        let mut out = Vec::new();
        parse_into(
            b"a: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\nb: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        parse_into(b"c: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "c");
    }

    #[test]
    fn json_uses_kernel_names() {
        let v = parse(b"eth0:1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n").unwrap();
        let j = serde_json::to_value(NetDevJson(&v)).unwrap();
        let m = j["eth0:1"].as_object().unwrap();
        assert_eq!(m.len(), 16);
        for (i, k) in COUNTER_NAMES.iter().enumerate() {
            assert_eq!(m[*k], i as u64 + 1, "{k}");
        }
        assert_eq!(j["eth0:1"]["tx_colls"], 14);
        assert_eq!(j["eth0:1"]["rx_multicast"], 8);
        // Kernel order in the text.
        let text = serde_json::to_string(&v[0]).unwrap();
        assert!(
            text.starts_with("{\"rx_bytes\":1,\"rx_packets\":2,"),
            "{text}"
        );
        assert!(text.ends_with("\"tx_compressed\":16}"), "{text}");
    }

    macro_rules! fixture {
        ($path:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/fixtures/corpus/",
                $path
            ))
        };
    }

    const PROCFS: &[u8] = fixture!("procfs/net-dev/proc/net/dev");
    const PID: &[u8] = fixture!("procfs/net-dev-pid-26231/proc/26231/net/dev");
    const LINE_1: &[u8] = fixture!("procfs/net-dev-line-alias/line-1.txt");
    const LINE_2: &[u8] = fixture!("procfs/net-dev-line-alias/line-2.txt");
    const QUIRKY: &[u8] = fixture!("node_exporter/net-dev-quirky-names-2021/proc/net/dev");

    /// net_dev_test.go TestNetDev (expected.json): counters in COUNTER_NAMES order.
    const PROCFS_EXPECTED: &[(&str, [u64; 16])] = &[
        (
            "vethf345468",
            [648, 8, 0, 0, 0, 0, 0, 0, 438, 5, 0, 0, 0, 0, 0, 0],
        ),
        (
            "lo",
            [
                1664039048, 1566805, 0, 0, 0, 0, 0, 0, 1664039048, 1566805, 0, 0, 0, 0, 0, 0,
            ],
        ),
        (
            "docker0",
            [2568, 38, 0, 0, 0, 0, 0, 0, 438, 5, 0, 0, 0, 0, 0, 0],
        ),
        (
            "eth0",
            [
                874354587, 1036395, 0, 0, 0, 0, 0, 0, 563352563, 732147, 0, 0, 0, 0, 0, 0,
            ],
        ),
    ];

    /// net_dev_test.go TestProcNetDev (expected.json).
    const PID_EXPECTED: &[(&str, [u64; 16])] = &[
        ("lo", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        ("eth0", [438, 5, 0, 0, 0, 0, 0, 0, 648, 8, 0, 0, 0, 0, 0, 0]),
    ];

    /// node_exporter e2e-output.txt @ f23a956c4fec, all 16 counters x 10
    /// interfaces (expected.json), in file order.
    const QUIRKY_EXPECTED: &[(&str, [u64; 16])] = &[
        (
            "tun0",
            [1888, 24, 0, 0, 0, 0, 0, 0, 67120, 934, 0, 0, 0, 0, 0, 0],
        ),
        (
            "veth4B09XN",
            [648, 8, 0, 0, 0, 0, 0, 0, 1943284, 10640, 0, 0, 0, 0, 0, 0],
        ),
        (
            "lo",
            [
                435303245, 1832522, 0, 0, 0, 0, 0, 0, 435303245, 1832522, 0, 0, 0, 0, 0, 0,
            ],
        ),
        (
            "eth0",
            [
                68210035552,
                520993275,
                0,
                0,
                0,
                0,
                0,
                0,
                9315587528,
                43451486,
                0,
                0,
                0,
                0,
                0,
                0,
            ],
        ),
        (
            "lxcbr0",
            [0, 0, 0, 0, 0, 0, 0, 0, 2630299, 28339, 0, 0, 0, 0, 0, 0],
        ),
        (
            "wlan0",
            [
                10437182923,
                13899359,
                0,
                0,
                0,
                0,
                0,
                0,
                2851649360,
                11726200,
                0,
                0,
                0,
                0,
                0,
                0,
            ],
        ),
        (
            "docker0",
            [
                64910168, 1065585, 0, 0, 0, 0, 0, 0, 2681662018, 1929779, 0, 0, 0, 0, 0, 0,
            ],
        ),
        ("ibr10:30", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        (
            "flannel.1",
            [
                18144009813,
                228499337,
                0,
                0,
                0,
                0,
                0,
                0,
                20758990068,
                258369223,
                0,
                64,
                0,
                0,
                0,
                0,
            ],
        ),
        (
            "💩0",
            [
                57750104, 105557, 0, 0, 0, 0, 0, 72, 404570255, 304261, 0, 0, 0, 0, 0, 0,
            ],
        ),
    ];

    fn check(bytes: &[u8], expected: &[(&str, [u64; 16])]) {
        let v = parse(bytes).unwrap();
        let got: Vec<(&str, [u64; 16])> = v.iter().map(|d| (d.name, d.counters())).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn fixture_procfs_net_dev() {
        check(PROCFS, PROCFS_EXPECTED);
        assert_eq!(parse(PROCFS).unwrap().len(), 4);
    }

    #[test]
    fn fixture_procfs_pid_net_dev() {
        check(PID, PID_EXPECTED);
        assert_eq!(parse(PID).unwrap().len(), 2);
    }

    #[test]
    fn fixture_procfs_line_alias() {
        let counting: [u64; 16] = core::array::from_fn(|i| i as u64 + 1);
        check(LINE_1, &[("eth0", counting)]);
        check(LINE_2, &[("eth0:1", counting)]);
    }

    #[test]
    fn fixture_node_exporter_quirky_names() {
        check(QUIRKY, QUIRKY_EXPECTED);
        let v = parse(QUIRKY).unwrap();
        // Old netdev_linux_test.go @ b10ca776 assertions.
        let by = |n: &str| *v.iter().find(|d| d.name == n).unwrap();
        assert_eq!(by("wlan0").rx_bytes, 10437182923);
        assert_eq!(by("eth0").rx_bytes, 68210035552);
        assert_eq!(by("tun0").tx_packets, 934);
        assert_eq!(by("ibr10:30").rx_fifo, 0);
        assert_eq!(by("💩0").rx_multicast, 72);
        assert_eq!(v.iter().filter(|d| !d.name.starts_with("veth")).count(), 9);
        // Transcribed: flannel.1 drops on transmit.
        assert_eq!(by("flannel.1").tx_drop, 64);
        assert_eq!(v.iter().filter(|d| d.is_loopback()).count(), 1);
        let j = serde_json::to_value(NetDevJson(&v)).unwrap();
        assert_eq!(j["💩0"]["rx_multicast"], 72);
        assert_eq!(j["ibr10:30"]["tx_bytes"], 0);
    }

    #[test]
    fn fast_scanner_takes_every_line_of_the_fixtures_but_names_with_a_colon() {
        for file in [PROCFS, PID, QUIRKY, LINE_1, LINE_2] {
            for line in file.split_inclusive(|&c| c == b'\n') {
                let text = line.strip_suffix(b"\n").unwrap_or(line);
                match scan_line(line) {
                    Some((d, used)) => {
                        assert_eq!(used, text.len() + 1);
                        assert_eq!(parse_line(1, text).unwrap(), d);
                    }
                    // `eth0:1: ...`: the line parser splits at the last ':'.
                    None => {
                        assert!(text.iter().filter(|&&c| c == b':').count() > 1);
                        assert!(parse_line(1, text).unwrap().is_some());
                    }
                }
            }
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
        fn colon_soup_never_panics(s in "[0-9 a-z:|\n]{0,300}") {
            let _ = parse(s.as_bytes());
        }

        #[test]
        fn mutated_fixture_never_panics(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..16)
        ) {
            let b = mutate(QUIRKY, &edits);
            if let Ok(v) = parse(&b) {
                for d in &v {
                    prop_assert!(!d.name.is_empty());
                }
            }
        }

        /// The fast scanner reads every line it accepts exactly as the line
        /// parser does (which defines what is valid).
        #[test]
        fn fast_path_agrees_with_line_parser(
            line in "[ a-z0-9|]{0,10}(:[0-9]{1,2})?:( {0,3}[0-9]{1,21}){14,18}[ \t\r]{0,2}",
            noisy in "[ a-z0-9:|\t\r]{0,60}",
            newline in any::<bool>(),
        ) {
            for text in [line, noisy] {
                let mut b = text.clone().into_bytes();
                if newline {
                    b.push(b'\n');
                }
                if let Some((d, used)) = scan_line(&b) {
                    prop_assert_eq!(parse_line(1, text.as_bytes()).ok(), Some(d));
                    prop_assert_eq!(used, text.len() + 1);
                }
            }
        }

        #[test]
        fn any_name_round_trips(name in "[^:\\s]{1,12}(:[0-9]{1,3})?", c in any::<[u64; 16]>()) {
            let line = format!("{name}: {}\n", c.map(|x| x.to_string()).join(" "));
            let v = parse(line.as_bytes()).unwrap();
            prop_assert_eq!(v.len(), 1);
            prop_assert_eq!(v[0].name, name.as_str());
            prop_assert_eq!(v[0].counters(), c);
        }
    }
}
