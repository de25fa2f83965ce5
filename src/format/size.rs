//! Sizes in bytes as checkpointctl and go-criu print them.

/// `1536` → `"1.5 KiB"`: checkpointctl's `ByteToString` (powers of 1024, one decimal, `"512 B"`
/// below 1 KiB).
pub fn human_size(bytes: u64) -> String {
    let (v, exp) = scaled(bytes);
    match exp {
        None => format!("{bytes} B"),
        Some(e) => format!("{v:.1} {}iB", UNITS[e]),
    }
}

/// go-criu's `countBytes` (socket buffers in `inspect --sockets`): `16.0 KB` (powers of 1024,
/// without the `i`).
pub fn count_bytes(bytes: u64) -> String {
    let (v, exp) = scaled(bytes);
    match exp {
        None => format!("{bytes} B"),
        Some(e) => format!("{v:.1} {}B", UNITS[e]),
    }
}

const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];

/// `bytes` in the largest unit of 1024 it reaches (None: below 1 KiB).
fn scaled(bytes: u64) -> (f64, Option<usize>) {
    const UNIT: u64 = 1024;
    if bytes < UNIT {
        return (bytes as f64, None);
    }
    let (mut div, mut exp) = (UNIT, 0usize);
    let mut n = bytes / UNIT;
    while n >= UNIT && exp < 5 {
        div *= UNIT;
        exp += 1;
        n /= UNIT;
    }
    (bytes as f64 / div as f64, Some(exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_like_checkpointctl() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(2048), "2.0 KiB");
        assert_eq!(human_size(252279), "246.4 KiB");
        assert_eq!(human_size(204800), "200.0 KiB");
        assert_eq!(human_size(28_626_124), "27.3 MiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
        assert_eq!(human_size(5 << 40), "5.0 TiB");
        assert_eq!(human_size(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn buffers_like_go_criu() {
        assert_eq!(count_bytes(16384), "16.0 KB");
        assert_eq!(count_bytes(131072), "128.0 KB");
        assert_eq!(count_bytes(212992), "208.0 KB");
        assert_eq!(count_bytes(100), "100 B");
        assert_eq!(count_bytes(3 << 20), "3.0 MB");
    }
}
