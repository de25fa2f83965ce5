//! `task/TID/regs`: the thread's general registers as text, one `name: 0x%016x` per line, in
//! gdb's `info registers` order (`rax rbx rcx rdx rsi rdi rbp rsp r8`..`r15 rip eflags cs ss ds es
//! fs gs fs_base gs_base`), then `orig_rax` (the syscall number the thread was in, or -1).
//! From `CoreEntry.thread_info.gpregs`; empty when the images have none.
//!
//! aarch64 (`ti_aarch64`): `x0`..`x30 sp pc cpsr` (pstate), then `fpsr fpcr tpidr_el0`.
//! riscv64 (`ti_riscv64`): gdb's order `ra sp gp tp t0 t1 t2 fp s1 a0`..`a7 s2`..`s11 t3`..`t6 pc`
//! (`fp` is `s0`), then `fcsr`.

use std::fmt::Write;

use crate::model::process::{ArchRegs, Riscv64Regs, Thread};

/// Display order (gdb's), by `X86Regs::named()` name.
const ORDER: [&str; 27] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15", "rip", "eflags", "cs", "ss", "ds", "es", "fs", "gs", "fs_base", "gs_base",
    "orig_rax",
];

/// The text of `task/TID/regs`.
pub fn regs(t: &Thread) -> Vec<u8> {
    if let Some(a) = &t.arch_regs {
        return arch_regs(a);
    }
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

fn arch_regs(a: &ArchRegs) -> Vec<u8> {
    let mut s = String::with_capacity(40 * 28);
    let mut line = |name: &str, v: u64| {
        let _ = writeln!(s, "{name}: 0x{v:016x}");
    };
    match a {
        ArchRegs::Aarch64(r) => {
            for (i, v) in r.x.iter().enumerate() {
                line(&format!("x{i}"), *v);
            }
            line("sp", r.sp);
            line("pc", r.pc);
            line("cpsr", r.pstate);
            line("fpsr", u64::from(r.fpsr));
            line("fpcr", u64::from(r.fpcr));
            line("tpidr_el0", r.tls);
        }
        ArchRegs::Riscv64(r) => {
            for (i, name) in Riscv64Regs::NAMES.iter().enumerate().skip(1) {
                line(if *name == "s0" { "fp" } else { name }, r.regs[i]);
            }
            line("pc", r.regs[0]);
            line("fcsr", u64::from(r.fcsr));
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
    fn aarch64_and_riscv64() {
        use crate::model::process::{Aarch64Regs, ArchRegs, Riscv64Regs};
        let mut t = thread(5, "t");
        let mut x = [0u64; 31];
        x[0] = 0xa0;
        x[30] = 0x40_1234;
        t.arch_regs = Some(ArchRegs::Aarch64(Aarch64Regs {
            x,
            sp: 0xffff_f000_0000,
            pc: 0x40_0abc,
            pstate: 0x6000_0000,
            tls: 0xffff_b7ff_7020,
            ..Aarch64Regs::default()
        }));
        let text = String::from_utf8(regs(&t)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 37);
        assert_eq!(lines[0], "x0: 0x00000000000000a0");
        assert_eq!(lines[30], "x30: 0x0000000000401234");
        assert_eq!(lines[31], "sp: 0x0000fffff0000000");
        assert_eq!(lines[32], "pc: 0x0000000000400abc");
        assert_eq!(lines[33], "cpsr: 0x0000000060000000");
        assert_eq!(lines[36], "tpidr_el0: 0x0000ffffb7ff7020");
        let mut r = [0u64; 32];
        r[0] = 0x1_0abc;
        r[2] = 0x3f_fff0_0000;
        r[8] = 0x88;
        t.arch_regs = Some(ArchRegs::Riscv64(Riscv64Regs {
            regs: r,
            f: vec![],
            fcsr: 0,
        }));
        let text = String::from_utf8(regs(&t)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 33);
        assert_eq!(lines[0], "ra: 0x0000000000000000");
        assert_eq!(lines[1], "sp: 0x0000003ffff00000");
        assert_eq!(lines[7], "fp: 0x0000000000000088");
        assert_eq!(lines[31], "pc: 0x0000000000010abc");
        assert_eq!(lines[32], "fcsr: 0x0000000000000000");
    }

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
