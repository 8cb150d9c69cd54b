//! Deltas of kernel counters: wrap versus reset.

/// How wide a counter may be in the kernel that printed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// Always 64-bit: a decrease can only be a reset.
    U64,
    /// May be a 32-bit `unsigned int` (diskstats time fields, net counters of some
    /// drivers): a small decrease from below 2^32 is a wrap.
    MaybeU32,
}

/// 2^32, the modulus of a 32-bit counter.
const WRAP_32: u64 = 1 << 32;

/// A wrapped delta is believed only when it is below 10% of the counter's range;
/// a larger one is far more likely a reset (device re-registered, module reload).
const WRAP_LIMIT: u64 = WRAP_32 / 10;

/// The increase of a counter from `prev` to `cur`, or `None` when it was reset.
///
/// A counter that went down is taken as a 32-bit wrap only when it may be 32-bit,
/// both values fit in 32 bits and the wrapped delta is below 10% of 2^32;
/// otherwise it was reset and there is no delta (never a negative or huge one).
#[inline]
pub fn delta(prev: u64, cur: u64, width: Width) -> Option<u64> {
    if cur >= prev {
        return Some(cur - prev);
    }
    if width == Width::MaybeU32 && prev < WRAP_32 {
        let wrapped = WRAP_32 - prev + cur;
        if wrapped < WRAP_LIMIT {
            return Some(wrapped);
        }
    }
    None
}

/// The increase of an optional counter: `None` when either side is absent or it was reset.
#[inline]
pub fn delta_opt(prev: Option<u64>, cur: Option<u64>, width: Width) -> Option<u64> {
    delta(prev?, cur?, width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increase_is_plain_subtraction() {
        assert_eq!(delta(10, 25, Width::U64), Some(15));
        assert_eq!(delta(7, 7, Width::MaybeU32), Some(0));
    }

    #[test]
    fn small_wrap_of_a_32_bit_counter() {
        // prev = 2^32 - 100 = 4294967196, cur = 50:
        // wrapped delta = 2^32 - 4294967196 + 50 = 100 + 50 = 150.
        assert_eq!(delta(4_294_967_196, 50, Width::MaybeU32), Some(150));
    }

    #[test]
    fn wrap_of_a_64_bit_counter_is_a_reset() {
        assert_eq!(delta(4_294_967_196, 50, Width::U64), None);
    }

    #[test]
    fn large_drop_is_a_reset_even_when_32_bit() {
        // prev = 1,000,000, cur = 10: wrapped delta = 2^32 - 999,990 = 4,293,967,306,
        // far above 10% of 2^32 (429,496,729): a reset.
        assert_eq!(delta(1_000_000, 10, Width::MaybeU32), None);
        // Just under the limit: prev = 2^32 - 429,496,000, cur = 0 -> 429,496,000 < 429,496,729.
        assert_eq!(
            delta(4_294_967_296 - 429_496_000, 0, Width::MaybeU32),
            Some(429_496_000)
        );
        // Just over it.
        assert_eq!(delta(4_294_967_296 - 429_496_730, 0, Width::MaybeU32), None);
    }

    #[test]
    fn drop_from_above_32_bits_is_a_reset() {
        assert_eq!(delta(5_000_000_000, 10, Width::MaybeU32), None);
    }

    #[test]
    fn optional_counters() {
        assert_eq!(delta_opt(Some(1), Some(3), Width::U64), Some(2));
        assert_eq!(delta_opt(None, Some(3), Width::U64), None);
        assert_eq!(delta_opt(Some(1), None, Width::U64), None);
    }
}
