//! `PID/limits`: the resource limits table exactly as `proc_pid_limits()` prints it:
//! a header, then one row per rlimit in the kernel's order (`%-25s %-20s %-20s %-10s`), soft and
//! hard values in decimal or `unlimited` for `RLIM_INFINITY`, the unit column left out (just the
//! newline) for the two limits without a unit.
//!
//! From `TaskCoreEntry.rlimits` (kernel order). An image with fewer than the 16 limits prints the
//! rows it has; extra entries (a newer kernel's) are ignored.

use std::fmt::Write;

use crate::model::process::Process;

/// `(name, unit)` per rlimit, in `RLIMIT_*` order.
const LIMITS: [(&str, Option<&str>); 16] = [
    ("Max cpu time", Some("seconds")),
    ("Max file size", Some("bytes")),
    ("Max data size", Some("bytes")),
    ("Max stack size", Some("bytes")),
    ("Max core file size", Some("bytes")),
    ("Max resident set", Some("bytes")),
    ("Max processes", Some("processes")),
    ("Max open files", Some("files")),
    ("Max locked memory", Some("bytes")),
    ("Max address space", Some("bytes")),
    ("Max file locks", Some("locks")),
    ("Max pending signals", Some("signals")),
    ("Max msgqueue size", Some("bytes")),
    ("Max nice priority", None),
    ("Max realtime priority", None),
    ("Max realtime timeout", Some("us")),
];

fn value(v: u64) -> String {
    if v == u64::MAX {
        "unlimited".to_string()
    } else {
        v.to_string()
    }
}

/// The text of `PID/limits`.
pub fn limits(p: &Process) -> Vec<u8> {
    let mut s = String::with_capacity(1400);
    let _ = writeln!(
        s,
        "{:<25} {:<20} {:<20} {:<10}",
        "Limit", "Soft Limit", "Hard Limit", "Units"
    );
    for ((name, unit), &(cur, max)) in LIMITS.iter().zip(&p.rlimits) {
        let _ = write!(s, "{:<25} {:<20} {:<20} ", name, value(cur), value(max));
        match unit {
            Some(u) => {
                let _ = writeln!(s, "{u:<10}");
            }
            None => s.push('\n'),
        }
    }
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::*;

    #[test]
    fn kernel_table() {
        let p = secretd_plain_8259();
        let text = String::from_utf8(limits(&p)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 17);
        assert_eq!(
            lines[0],
            "Limit                     Soft Limit           Hard Limit           Units     "
        );
        assert_eq!(
            lines[1],
            "Max cpu time              unlimited            unlimited            seconds   "
        );
        assert_eq!(
            lines[4],
            "Max stack size            8388608              unlimited            bytes     "
        );
        assert_eq!(
            lines[8],
            "Max open files            1024                 524288               files     "
        );
        assert_eq!(
            lines[14],
            "Max nice priority         0                    0                    "
        );
        assert_eq!(
            lines[16],
            "Max realtime timeout      unlimited            unlimited            us        "
        );
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn short_and_long_lists() {
        let mut p = process(1, vec![], vec![]);
        assert_eq!(limits(&p).iter().filter(|&&b| b == b'\n').count(), 1);
        p.rlimits = vec![(1, 2); 20];
        assert_eq!(limits(&p).iter().filter(|&&b| b == b'\n').count(), 17);
    }
}
