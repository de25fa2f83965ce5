//! `PID/auxv`: the saved auxiliary vector, binary, as the kernel serves it (`proc_pid_auxv()`):
//! native-endian (x86_64: little-endian) `u64` pairs up to and including the first `AT_NULL`
//! pair (key 0). From `MmEntry.mm_saved_auxv`.
//!
//! No mm (zombie or dead task): empty. An image vector without an `AT_NULL` key (truncated or
//! corrupt) gets the terminating pair the kernel's always has; a trailing odd word is dropped.

use crate::model::process::Process;

/// `AT_NULL`.
const AT_NULL: u64 = 0;

/// The bytes of `PID/auxv`.
pub fn auxv(p: &Process) -> Vec<u8> {
    let Some(mm) = &p.mm else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(mm.auxv.len() * 8 + 16);
    for pair in mm.auxv.chunks_exact(2) {
        out.extend_from_slice(&pair[0].to_le_bytes());
        out.extend_from_slice(&pair[1].to_le_bytes());
        if pair[0] == AT_NULL {
            return out;
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::*;

    fn words(b: &[u8]) -> Vec<u64> {
        b.chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn stops_after_at_null() {
        let mut p = process(1, vec![], vec![]);
        // The kernel's saved_auxv is followed by zero padding; images carry the whole array.
        p.mm.as_mut().unwrap().auxv = vec![33, 0x7ffd_1000, 6, 4096, 0, 0, 0, 0, 0, 0];
        let b = auxv(&p);
        assert_eq!(b.len(), 48);
        assert_eq!(words(&b), [33, 0x7ffd_1000, 6, 4096, 0, 0]);
        // A value of 0 is not a terminator; only the key is.
        p.mm.as_mut().unwrap().auxv = vec![23, 0, 0, 5];
        assert_eq!(words(&auxv(&p)), [23, 0, 0, 5]);
    }

    #[test]
    fn missing_terminator_odd_length_and_no_mm() {
        let mut p = process(1, vec![], vec![]);
        p.mm.as_mut().unwrap().auxv = vec![6, 4096, 25];
        assert_eq!(words(&auxv(&p)), [6, 4096, 0, 0]);
        p.mm.as_mut().unwrap().auxv = vec![];
        assert_eq!(words(&auxv(&p)), [0, 0]);
        p.mm = None;
        assert!(auxv(&p).is_empty());
        assert_eq!(
            words(&auxv(&secretd_plain_8259())),
            [33, 0x7f9d838af000, 6, 4096, 0, 0]
        );
    }
}
