//! The one ELF question triage asks: which symbol holds a file offset. ELF64 little-endian only
//! (the checkpoints' x86_64 / aarch64 / riscv64); every read is bounds-checked, so a truncated or
//! hostile file gives `None`, never a panic.

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(o..o.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(o..o.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(o..o.checked_add(8)?)?.try_into().ok()?,
    ))
}
fn usz(v: u64) -> Option<usize> {
    usize::try_from(v).ok()
}

const PT_LOAD: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_DYNSYM: u32 = 11;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
/// Most symbols read from one table (a hostile header cannot make this loop for long).
const MAX_SYMS: usize = 1 << 20;

/// The virtual address (as the ELF's program headers place it) of file offset `off`.
fn vaddr_of(b: &[u8], off: u64) -> Option<u64> {
    let phoff = usz(u64_at(b, 0x20)?)?;
    let phentsize = usize::from(u16_at(b, 0x36)?);
    let phnum = usize::from(u16_at(b, 0x38)?);
    if phentsize < 56 {
        return None;
    }
    (0..phnum).find_map(|i| {
        let h = phoff.checked_add(i.checked_mul(phentsize)?)?;
        if u32_at(b, h)? != PT_LOAD {
            return None;
        }
        let p_offset = u64_at(b, h + 8)?;
        let p_vaddr = u64_at(b, h + 16)?;
        let p_filesz = u64_at(b, h + 32)?;
        (p_offset <= off && off < p_offset.checked_add(p_filesz)?)
            .then(|| p_vaddr.wrapping_add(off - p_offset))
    })
}

/// The function or object symbol whose range holds file offset `off`, and the offset into it:
/// `.symtab` when the file has one, else `.dynsym`. None for a file that is not ELF64
/// little-endian, has no symbol tables, or no sized symbol there.
pub fn symbol_at(b: &[u8], off: u64) -> Option<(String, u64)> {
    if b.get(0..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let addr = vaddr_of(b, off)?;
    let shoff = usz(u64_at(b, 0x28)?)?;
    let shentsize = usize::from(u16_at(b, 0x3a)?);
    let shnum = usize::from(u16_at(b, 0x3c)?);
    if shentsize < 64 {
        return None;
    }
    let section = |i: usize| -> Option<usize> { shoff.checked_add(i.checked_mul(shentsize)?) };
    for want in [SHT_SYMTAB, SHT_DYNSYM] {
        for i in 0..shnum {
            let Some(h) = section(i) else { continue };
            if u32_at(b, h + 4) != Some(want) {
                continue;
            }
            if let Some(found) = lookup(b, h, &section, addr) {
                return Some(found);
            }
        }
    }
    None
}

/// Looks `addr` up in the symbol table whose section header is at `h`.
fn lookup(
    b: &[u8],
    h: usize,
    section: &dyn Fn(usize) -> Option<usize>,
    addr: u64,
) -> Option<(String, u64)> {
    let off = usz(u64_at(b, h + 24)?)?;
    let size = usz(u64_at(b, h + 32)?)?;
    let link = usz(u64::from(u32_at(b, h + 40)?))?;
    let entsize = usz(u64_at(b, h + 56)?)?.max(24);
    let strh = section(link)?;
    let stroff = usz(u64_at(b, strh + 24)?)?;
    let strsize = usz(u64_at(b, strh + 32)?)?;
    let strtab = b.get(stroff..stroff.checked_add(strsize)?)?;
    let n = (size / entsize).min(MAX_SYMS);
    // Aliases share an address (`getpid`, `__getpid`): the public name wins (fewest leading
    // underscores, then the shortest).
    let mut best: Option<(String, u64)> = None;
    let rank = |s: &str| (s.len() - s.trim_start_matches('_').len(), s.len());
    for k in 0..n {
        let s = off.checked_add(k.checked_mul(entsize)?)?;
        let info = *b.get(s + 4)?;
        if !matches!(info & 0xf, STT_FUNC | STT_OBJECT) {
            continue;
        }
        let value = u64_at(b, s + 8)?;
        let len = u64_at(b, s + 16)?;
        if len == 0 || addr < value || addr - value >= len {
            continue;
        }
        let name_off = usz(u64::from(u32_at(b, s)?))?;
        let rest = strtab.get(name_off..)?;
        let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
        let name = String::from_utf8_lossy(&rest[..end]).into_owned();
        if name.is_empty() {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| rank(&name) < rank(b)) {
            best = Some((name, addr - value));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64: one PT_LOAD (file 0x0.. -> vaddr 0x1000), a .dynsym with `hook` at vaddr
    /// 0x1100 (size 0x20) and its string table.
    fn tiny() -> Vec<u8> {
        let mut b = vec![0u8; 0x400];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let put64 =
            |b: &mut Vec<u8>, o: usize, v: u64| b[o..o + 8].copy_from_slice(&v.to_le_bytes());
        let put32 =
            |b: &mut Vec<u8>, o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_le_bytes());
        let put16 =
            |b: &mut Vec<u8>, o: usize, v: u16| b[o..o + 2].copy_from_slice(&v.to_le_bytes());
        put64(&mut b, 0x20, 0x40); // phoff
        put64(&mut b, 0x28, 0x100); // shoff
        put16(&mut b, 0x36, 56);
        put16(&mut b, 0x38, 1);
        put16(&mut b, 0x3a, 64);
        put16(&mut b, 0x3c, 3);
        // PT_LOAD: offset 0, vaddr 0x1000, filesz 0x400.
        put32(&mut b, 0x40, PT_LOAD);
        put64(&mut b, 0x48, 0);
        put64(&mut b, 0x50, 0x1000);
        put64(&mut b, 0x60, 0x400);
        // Section 1: dynsym at 0x200, 2 entries, link 2.
        let s1 = 0x100 + 64;
        put32(&mut b, s1 + 4, SHT_DYNSYM);
        put64(&mut b, s1 + 24, 0x200);
        put64(&mut b, s1 + 32, 48);
        put32(&mut b, s1 + 40, 2);
        put64(&mut b, s1 + 56, 24);
        // Section 2: strtab at 0x300.
        let s2 = 0x100 + 128;
        put64(&mut b, s2 + 24, 0x300);
        put64(&mut b, s2 + 32, 16);
        b[0x300..0x306].copy_from_slice(b"\0hook\0");
        // Symbol 1: name 1, FUNC, value 0x1100, size 0x20.
        let y = 0x200 + 24;
        put32(&mut b, y, 1);
        b[y + 4] = STT_FUNC | 0x10;
        put64(&mut b, y + 8, 0x1100);
        put64(&mut b, y + 16, 0x20);
        b
    }

    #[test]
    fn symbol_of_a_file_offset() {
        let b = tiny();
        assert_eq!(symbol_at(&b, 0x105), Some(("hook".to_string(), 5)));
        assert_eq!(symbol_at(&b, 0x120), None);
        assert_eq!(symbol_at(&b, 0x0ff), None);
        // Truncated anywhere, or not ELF: None, never a panic.
        for n in 0..b.len() {
            let _ = symbol_at(&b[..n], 0x105);
        }
        assert_eq!(symbol_at(b"MZ", 0), None);
    }
}
