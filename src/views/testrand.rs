//! Deterministic pseudo-random input for the differential tests of the searches (xorshift64:
//! the same bytes on every run and machine, no dependency).

/// `rnd(n)`: the next number below `n` of the xorshift64 sequence from `seed` (not 0).
pub fn xorshift(mut x: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}

/// `len` bytes drawn from `alphabet` (a small one makes matches cross every boundary).
pub fn text(rnd: &mut impl FnMut(u64) -> u64, alphabet: &[u8], len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| alphabet[rnd(alphabet.len() as u64) as usize])
        .collect()
}
