//! `task/TID/regs`: the thread's general registers as text, one `name: 0x%016x` per line, in
//! gdb's `info registers` order (`rax rbx rcx rdx rsi rdi rbp rsp r8`..`r15 rip eflags cs ss ds es
//! fs gs fs_base gs_base`), then `orig_rax` (the syscall number the thread was in, or -1).
//! From `CoreEntry.thread_info.gpregs`; empty when the images have none (e.g. another arch).

use std::fmt::Write;

use crate::model::process::Thread;

/// Display order (gdb's), by `X86Regs::named()` name.
const ORDER: [&str; 27] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15", "rip", "eflags", "cs", "ss", "ds", "es", "fs", "gs", "fs_base", "gs_base",
    "orig_rax",
];

/// The text of `task/TID/regs`.
pub fn regs(t: &Thread) -> Vec<u8> {
    let Some(r) = &t.regs else {
        return Vec::new();
    };
    let named = r.named();
    let mut s = String::with_capacity(27 * 28);
    for want in ORDER {
        if let Some((name, v)) = named.iter().find(|(n, _)| *n == want) {
            let _ = writeln!(s, "{name}: 0x{v:016x}");
        }
    }
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::process::X86Regs;
    use crate::render::testutil::*;

    #[test]
    fn all_registers_once() {
        let mut t = thread(5, "t");
        assert!(regs(&t).is_empty());
        t.regs = Some(X86Regs {
            ip: 0x7f9d8372b220,
            sp: 0x7fff7c771000,
            fs_base: 0x7f9d83691740,
            orig_ax: u64::MAX,
            ..X86Regs::default()
        });
        let text = String::from_utf8(regs(&t)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 27);
        assert_eq!(lines[0], "rax: 0x0000000000000000");
        assert!(lines.contains(&"rip: 0x00007f9d8372b220"));
        assert!(lines.contains(&"rsp: 0x00007fff7c771000"));
        assert!(lines.contains(&"fs_base: 0x00007f9d83691740"));
        assert_eq!(lines[26], "orig_rax: 0xffffffffffffffff");
        // Every name of the model appears exactly once.
        for (n, _) in X86Regs::default().named() {
            assert_eq!(
                lines
                    .iter()
                    .filter(|l| l.starts_with(&format!("{n}: ")))
                    .count(),
                1,
                "{n}"
            );
        }
    }
}
