//! Eight bytes at a time in plain integer arithmetic (the crate forbids `unsafe` SIMD): the
//! byte scans of the parser and the evaluator (string ends, colons, wildcards, digits) share
//! these two steps.

/// One in every byte lane.
pub(crate) const LANES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The eight bytes of `b` from `i`, little-endian, if there are eight.
#[inline]
pub(crate) fn word(b: &[u8], i: usize) -> Option<u64> {
    b.get(i..i + 8)?
        .first_chunk::<8>()
        .map(|w| u64::from_le_bytes(*w))
}

/// The high bit of each byte lane of `x` below `n` (`n` at most 128). Whether any is set is
/// exact; the lowest set lane is always a true one, while lanes above it may be flagged
/// falsely (the subtraction borrows only out of a lane that is below `n`).
#[inline]
pub(crate) fn below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(LANES * u64::from(n)) & !x & HIGH
}

/// The lanes of `x` equal to `c`, as [`below`] flags them.
#[inline]
pub(crate) fn equal(x: u64, c: u8) -> u64 {
    below(x ^ (LANES * u64::from(c)), 1)
}
