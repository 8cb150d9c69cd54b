//! Parsers for kernel files: pure functions over bytes, borrowing from them.
//!
//! Each module is named after the file it reads and exposes a `parse` function
//! (and, where a reader re-parses every tick, a `parse_into` that reuses
//! allocations). Kernel differences are data (`Option`s), malformed text is an
//! [`Error::Parse`](crate::Error::Parse) naming the file and line, and no input
//! can make a parser panic.

pub mod cpuinfo;
pub mod diskstats;
pub mod loadavg;
pub mod meminfo;
pub mod net_dev;
pub mod pressure;
pub mod stat;
pub mod statfs;
mod swar;
pub mod vmstat;

/// Iterates over the lines of a file, yielding `(1-based line number, line)`.
///
/// A missing final newline is fine; an empty final segment is not yielded.
#[derive(Debug, Clone)]
pub(crate) struct Lines<'a> {
    rest: &'a [u8],
    number: usize,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Lines {
            rest: bytes,
            number: 0,
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a [u8]);

    // Always inlined, as LLVM chose before the stat and meminfo changes of
    // 2026-12-04; after them it left it out of line, a call per line, and
    // pressure took 537-545 ns instead of 508-527 ns (paired loop; 561-572 ns
    // against 502-531 ns in a second, smaller binary). pressure is still
    // slower than before those changes (512-526 ns against 455-466 ns) with
    // no change to its code: see docs/performance.md on code layout.
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        self.number += 1;
        let line = match memchr_newline(self.rest) {
            Some(i) => {
                let (line, rest) = self.rest.split_at(i);
                self.rest = &rest[1..];
                line
            }
            None => std::mem::take(&mut self.rest),
        };
        Some((self.number, line))
    }
}

/// Index of the first `\n` in `b`.
///
/// A plain byte-at-a-time search cost more than the rest of the `/proc/stat`
/// parse, whose `intr` line is about 1 KiB on a small VM and over 100 KiB on a
/// big machine; see [`newline_chunk`] for the fast part.
#[inline]
pub(crate) fn memchr_newline(b: &[u8]) -> Option<usize> {
    let from = newline_chunk(b);
    let rest = b.get(from..)?;
    // Within the 64-byte chunk: 16 bytes at a time, then byte by byte.
    let mut at = 0;
    for part in rest.chunks_exact(16).take(4) {
        if let Ok(a) = <&[u8; 16]>::try_from(part)
            && a.iter().fold(false, |acc, &c| acc | (c == b'\n'))
        {
            break;
        }
        at += 16;
    }
    let tail = rest.get(at..)?;
    tail.iter().position(|&c| c == b'\n').map(|i| from + at + i)
}

/// Offset of the first 64-byte chunk of `b` that holds a `\n`, or of the tail
/// shorter than 64 bytes when none does.
///
/// The OR-reduction of compares over a fixed-size array is what LLVM turns
/// into vector compares (four SSE2 `pcmpeqb`, three `por` and one `pmovmskb`
/// per chunk on x86-64; NEON on arm64), with no `unsafe` and no dependency.
/// It stays a function of its own, out of line: inlined beside the byte search
/// that follows, LLVM vectorized the reduction only in part (checked with
/// objdump, rustc 1.95).
#[inline(never)]
fn newline_chunk(b: &[u8]) -> usize {
    const CHUNK: usize = 64;
    let mut at = 0;
    for chunk in b.chunks_exact(CHUNK) {
        let Ok(a) = <&[u8; CHUNK]>::try_from(chunk) else {
            break; // not reached: chunks_exact gives CHUNK bytes
        };
        if a.iter().fold(false, |acc, &c| acc | (c == b'\n')) {
            break;
        }
        at += CHUNK;
    }
    at
}

/// Splits a line on runs of ASCII whitespace (space, tab, CR), skipping empty fields.
#[derive(Debug, Clone)]
pub(crate) struct Fields<'a> {
    rest: &'a [u8],
}

#[inline]
pub(crate) fn fields(line: &[u8]) -> Fields<'_> {
    Fields { rest: line }
}

#[inline]
fn is_space(c: u8) -> bool {
    c == b' ' || c == b'\t' || c == b'\r' || c == b'\x0b' || c == b'\x0c'
}

impl<'a> Fields<'a> {
    /// What is left of the line after the fields taken so far (leading space trimmed).
    pub(crate) fn remainder(&self) -> &'a [u8] {
        trim_start(self.rest)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let b = self.rest;
        let mut i = 0;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i == b.len() {
            self.rest = &[];
            return None;
        }
        let start = i;
        while i < b.len() && !is_space(b[i]) {
            i += 1;
        }
        self.rest = &b[i..];
        Some(&b[start..i])
    }
}

/// Trims ASCII whitespace at the start.
#[inline]
pub(crate) fn trim_start(b: &[u8]) -> &[u8] {
    let mut i = 0;
    while i < b.len() && is_space(b[i]) {
        i += 1;
    }
    &b[i..]
}

/// Trims ASCII whitespace at both ends.
#[inline]
pub(crate) fn trim(b: &[u8]) -> &[u8] {
    let b = trim_start(b);
    let mut end = b.len();
    while end > 0 && is_space(b[end - 1]) {
        end -= 1;
    }
    &b[..end]
}

/// Parses an unsigned decimal integer made only of ASCII digits (no sign, no space).
#[inline]
pub(crate) fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    if b.len() < 20 {
        // 19 digits cannot overflow u64.
        for &c in b {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + d as u64;
        }
        Some(v)
    } else {
        for &c in b {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v.checked_mul(10)?.checked_add(d as u64)?;
        }
        Some(v)
    }
}

/// Parses a float as the kernel prints it (`0.05`, `300.00`); rejects NaN and infinities.
#[inline]
pub(crate) fn parse_f64(b: &[u8]) -> Option<f64> {
    // Fast path for the kernel's fixed-point `d+.dd` form.
    let (int, frac) = match b.iter().position(|&c| c == b'.') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b[..0]),
    };
    if !int.is_empty()
        && int.len() <= 15
        && frac.len() <= 6
        && let (Some(i), Some(f)) = (parse_u64(int), parse_u64_or_empty(frac))
    {
        {
            const POW: [f64; 7] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6];
            if frac.is_empty() && b.len() == int.len() {
                return Some(i as f64);
            }
            if !frac.is_empty() {
                // Both operands are exact integers below 2^53, so the one IEEE
                // division rounds the exact decimal value correctly.
                let scale = POW[frac.len()];
                let whole = i as f64 * scale + f as f64;
                if whole < 9_007_199_254_740_992.0 {
                    return Some(whole / scale);
                }
            }
        }
    }
    let s = std::str::from_utf8(b).ok()?;
    let v: f64 = s.parse().ok()?;
    if v.is_finite() { Some(v) } else { None }
}

#[inline]
fn parse_u64_or_empty(b: &[u8]) -> Option<u64> {
    if b.is_empty() { Some(0) } else { parse_u64(b) }
}

/// An empty `Vec` on the allocation of `v`, for items that borrow from other
/// bytes: a parse of one sample reuses the vector of a parse of another.
///
/// Collecting a `vec::IntoIter` through `filter_map` is done in place by std
/// when both item types have the same size and alignment (here: one type, two
/// lifetimes), so no allocation is made or freed; the test
/// `recycle_keeps_the_allocation` checks that this stays so.
pub(crate) fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// Borrows bytes as UTF-8 text, or `None` when they are not valid UTF-8.
#[inline]
pub(crate) fn utf8(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

/// Shows a line in an error message: lossy UTF-8, cut at 80 characters.
pub(crate) fn show(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line);
    let mut out: String = s.chars().take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_numbers_and_last_line_without_newline() {
        let v: Vec<_> = Lines::new(b"a\n\nb c\nd").collect();
        assert_eq!(
            v,
            vec![
                (1, &b"a"[..]),
                (2, &b""[..]),
                (3, &b"b c"[..]),
                (4, &b"d"[..])
            ]
        );
        assert_eq!(Lines::new(b"").count(), 0);
        assert_eq!(Lines::new(b"x\n").count(), 1);
    }

    #[test]
    fn memchr_newline_agrees_with_a_plain_search() {
        for len in 0..100 {
            for nl in (0..len).chain([usize::MAX]) {
                let mut b = vec![b'x'; len];
                if nl < len {
                    b[nl] = b'\n';
                    if nl + 5 < len {
                        b[nl + 5] = b'\n';
                    }
                }
                assert_eq!(
                    memchr_newline(&b),
                    b.iter().position(|&c| c == b'\n'),
                    "len {len}, newline at {nl}"
                );
            }
        }
    }

    #[test]
    fn recycle_keeps_the_allocation() {
        let text = String::from("abc");
        let mut v: Vec<&str> = Vec::with_capacity(100);
        v.push(&text);
        let ptr = v.as_ptr() as usize;
        let r: Vec<&'static str> = recycle(v);
        assert!(r.is_empty());
        assert!(r.capacity() >= 100);
        assert_eq!(r.as_ptr() as usize, ptr, "the same allocation");
    }

    #[test]
    fn fields_skip_runs_of_space_and_tabs() {
        let v: Vec<_> = fields(b"  a\t\tbb  c ").collect();
        assert_eq!(v, vec![&b"a"[..], b"bb", b"c"]);
        assert_eq!(fields(b"   ").count(), 0);
    }

    #[test]
    fn parse_u64_limits() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"99999999999999999999"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"12a"), None);
        assert_eq!(parse_u64(b"-1"), None);
    }

    #[test]
    fn parse_f64_kernel_forms() {
        assert_eq!(parse_f64(b"0.05"), Some(0.05));
        assert_eq!(parse_f64(b"300.00"), Some(300.0));
        assert_eq!(parse_f64(b"12"), Some(12.0));
        assert_eq!(parse_f64(b"3000.000000"), Some(3000.0));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"abc"), None);
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b"inf"), None);
        assert_eq!(parse_f64(b"."), None);
        assert_eq!(parse_f64(b""), None);
    }
}
