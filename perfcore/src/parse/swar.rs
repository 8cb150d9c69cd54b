//! Word-at-a-time (SWAR) helpers shared by the `key value` parsers (meminfo,
//! vmstat): eight bytes per step with plain integer arithmetic, no `unsafe`.

#[inline]
pub(crate) fn is_space(c: u8) -> bool {
    c == b' ' || c == b'\t' || c == b'\r' || c == b'\x0b' || c == b'\x0c'
}

pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
pub(crate) const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The 8 bytes at `i` as a little-endian word, when there are 8.
#[inline]
pub(crate) fn word_at(b: &[u8], i: usize) -> Option<u64> {
    let chunk: [u8; 8] = b.get(i..i.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// Flags the zero bytes of `x`; the lowest flag is exact (higher ones may be
/// false positives, so only `trailing_zeros` of the result is meaningful).
#[inline]
pub(crate) fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Index of the first non-space byte at or after `i`; runs of `' '` eight a step.
#[inline]
pub(crate) fn skip_spaces(bytes: &[u8], mut i: usize) -> usize {
    loop {
        if let Some(w) = word_at(bytes, i) {
            let x = w ^ (ONES * u64::from(b' '));
            if x == 0 {
                i += 8;
                continue;
            }
            i += (x.trailing_zeros() / 8) as usize;
        }
        match bytes.get(i) {
            Some(&c) if is_space(c) => i += 1,
            _ => return i,
        }
    }
}

/// Flags the bytes of `w` that are not ASCII digits; the lowest flag is exact.
#[inline]
fn non_digits(w: u64) -> u64 {
    (w.wrapping_add(ONES * 0x46) | w.wrapping_sub(ONES * u64::from(b'0')) | w) & HIGHS
}

/// The value of eight digit values (0 to 9), the first in the lowest byte.
#[inline]
fn eight_digits(v: u64) -> u64 {
    let v = (v & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561) >> 8;
    let v = (v & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601) >> 16;
    (v & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001) >> 32
}

const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// Reads the run of ASCII digits at `i`: `(value, digit count)`. The value
/// wraps when there are 20 or more digits; the caller re-checks those.
#[inline]
pub(crate) fn scan_digits(bytes: &[u8], mut i: usize) -> (u64, usize) {
    let start = i;
    let mut value: u64 = 0;
    // The first word on its own: most values have fewer than eight digits,
    // and then there is no earlier value to scale.
    if let Some(w) = word_at(bytes, i) {
        let mask = non_digits(w);
        let digits = w.wrapping_sub(ONES * u64::from(b'0'));
        if mask != 0 {
            let n = mask.trailing_zeros() / 8;
            if n == 0 {
                return (0, 0);
            }
            // Move the n digits to the top bytes (leading zeros below them).
            return (eight_digits(digits << (8 * (8 - n))), n as usize);
        }
        value = eight_digits(digits);
        i += 8;
    }
    while let Some(w) = word_at(bytes, i) {
        let mask = non_digits(w);
        let n = if mask == 0 {
            8
        } else {
            (mask.trailing_zeros() / 8) as usize
        };
        if n > 0 {
            // Move the n digits to the top bytes (leading zeros below them).
            let shifted = w.wrapping_sub(ONES * u64::from(b'0')) << (8 * (8 - n) as u32);
            let scale = POW10.get(n).copied().unwrap_or(1);
            value = value
                .wrapping_mul(scale)
                .wrapping_add(eight_digits(shifted));
        }
        i += n;
        if n < 8 {
            return (value, i - start);
        }
    }
    // Fewer than eight bytes left: one at a time.
    while let Some(&c) = bytes.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        value = value.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    (value, i - start)
}

/// The whole line starting at `start` (for error messages).
pub(crate) fn line_from(b: &[u8], start: usize) -> &[u8] {
    let rest = b.get(start..).unwrap_or_default();
    let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
    rest.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_digits_agrees_with_a_byte_loop() {
        for len in 0..=24usize {
            let digits: String = (0..len)
                .map(|k| char::from(b'0' + (k % 10) as u8))
                .collect();
            for tail in ["", " kB\n", "x", "\n", "1234567 "] {
                for lead in 0..9 {
                    let text = format!("{}{digits}{tail}", " ".repeat(lead));
                    let b = text.as_bytes();
                    let n = b[lead..].iter().take_while(|c| c.is_ascii_digit()).count();
                    let want = b[lead..lead + n].iter().fold(0u64, |v, &c| {
                        v.wrapping_mul(10).wrapping_add(u64::from(c - b'0'))
                    });
                    assert_eq!(scan_digits(b, lead), (want, n), "{text:?}");
                }
            }
        }
    }
}
