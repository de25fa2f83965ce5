//! `PID/maps` and the names of the `PID/memory/<range>` files.
//!
//! One line per VMA in the kernel's format (`show_map_vma()` of fs/proc/task_mmu.c):
//! `start-end perms offset major:minor inode`, hex at least 8 digits wide, then, when the VMA has
//! a name, spaces up to column 73 (`seq_pad()` with the width `25 + sizeof(void *) * 6 - 1`) and the
//! name. A line without a name keeps the space after the inode, as the kernel's does.
//!
//! Device and inode, as the kernel shows them, where the images record them: a deleted file
//! CRIU saved as a ghost file has both (its ghost-file image's `dev`, `ino`); shared memory has
//! its inode only: a SysV segment's mapping shows the segment id (`/SYSV<key> (deleted)`), a
//! shared anonymous mapping (`/dev/zero (deleted)`) its shmem inode (CRIU's `shmid`), a memfd
//! mapping the memfd's inode (memfd.img `shmid`). Anything else is not recorded (the dumping
//! host's numbers; for a file of an overlay layer the kernel shows the layer's filesystem, not
//! the mount's): `00:00` and `0`. The columns stay where the kernel puts them.
//! Names: `[heap]`, `[stack]`, `[vdso]`, `[vvar]`, `[vvar_vclock]`, `[vsyscall]`, a file's path
//! (newlines escaped as `\012`, like `seq_file_path()`), with ` (deleted)` for unlinked files
//! (this is how `/dev/zero (deleted)` and `/memfd:NAME (deleted)` shared mappings show), and for a
//! file VMA whose files.img entry is missing, `[ckptfs: unresolved file id N]`.

use std::borrow::Cow;

use crate::model::process::{Process, Vma, VmaName};

/// `seq_setwidth(m, 25 + sizeof(void *) * 6 - 1)`: the header is padded with spaces to this width,
/// then one more space is written, so a name starts at column 73 (0-based).
const PAD_WIDTH: usize = 25 + 8 * 6 - 1;

/// The text of `PID/maps`.
pub fn maps(p: &Process) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.vmas.len() * 96);
    for v in &p.vmas {
        maps_line(&mut out, v);
    }
    out
}

/// Appends one maps line (with its newline) for `v`.
pub(crate) fn maps_line(out: &mut Vec<u8>, v: &Vma) {
    let line_start = out.len();
    let (dev, ino) = dev_inode(v);
    let header = format!(
        "{:08x}-{:08x} {} {:08x} {:02x}:{:02x} {} ",
        v.start,
        v.end,
        v.perms(),
        v.offset(),
        dev >> 20,
        dev & 0xf_ffff,
        ino
    );
    out.extend_from_slice(header.as_bytes());
    if let Some(name) = vma_name(v) {
        let used = out.len() - line_start;
        if used < PAD_WIDTH {
            out.resize(line_start + PAD_WIDTH, b' ');
        }
        out.push(b' ');
        push_escaped_path(out, name.as_bytes());
    }
    out.push(b'\n');
}

/// The device (the kernel's encoding) and inode columns, where the images record them: a deleted
/// file saved as a ghost file has both (`GhostFileEntry.dev`, `ino`); shared memory has its
/// inode (a SysV segment's id, which the kernel uses as its inode number; a shared anonymous
/// mapping's shmem inode, CRIU's `shmid`; a memfd's inode) but not the device of the kernel's
/// internal mount. Anything else: `0`, `0`.
fn dev_inode(v: &Vma) -> (u32, u64) {
    use crate::model::files::FileKind;
    use crate::model::process::vma_status as vs;
    match v.file.as_ref().map(|f| &f.kind) {
        Some(FileKind::Memfd { shmid, .. }) => return (0, shmid.unwrap_or(0)),
        Some(FileKind::Reg {
            dev_ino: Some(di), ..
        }) => return *di,
        _ => {}
    }
    if v.status & vs::SYSVIPC != 0
        || (v.status & vs::ANON_SHARED != 0 && v.status & vs::MEMFD == 0 && v.file.is_none())
    {
        return (0, v.shmid);
    }
    (0, 0)
}

/// The name column of `v` (unescaped), or `None` for an anonymous mapping.
pub fn vma_name(v: &Vma) -> Option<Cow<'_, str>> {
    Some(match &v.name {
        VmaName::Anon => return None,
        VmaName::Heap => Cow::Borrowed("[heap]"),
        VmaName::Stack => Cow::Borrowed("[stack]"),
        VmaName::Vdso => Cow::Borrowed("[vdso]"),
        VmaName::Vvar => Cow::Borrowed("[vvar]"),
        VmaName::VvarVclock => Cow::Borrowed("[vvar_vclock]"),
        VmaName::Vsyscall => Cow::Borrowed("[vsyscall]"),
        VmaName::Uprobes => Cow::Borrowed("[uprobes]"),
        VmaName::File { path, deleted } => {
            if *deleted {
                Cow::Owned(format!("{path} (deleted)"))
            } else {
                Cow::Borrowed(path.as_str())
            }
        }
        VmaName::Unknown { file_id } => {
            Cow::Owned(format!("[ckptfs: unresolved file id {file_id}]"))
        }
    })
}

/// `mangle_path(.., "\n")`: a newline becomes the octal escape `\012`.
fn push_escaped_path(out: &mut Vec<u8>, name: &[u8]) {
    for &c in name {
        if c == b'\n' {
            out.extend_from_slice(b"\\012");
        } else {
            out.push(c);
        }
    }
}

/// The name of the `memory/` file of `v`: its maps range, e.g. `7f12a000-7f12c000`.
///
/// Lowercase hex exactly as the maps line prints the range (the kernel pads to at least 8 digits,
/// which only shows for addresses below `0x10000000`, e.g. a static binary at `00400000`), so the
/// range copied from `maps` is the file name.
pub fn vma_range_name(v: &Vma) -> String {
    format!("{:08x}-{:08x}", v.start, v.end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::*;

    /// Where a name starts.
    const NAME_COLUMN: usize = PAD_WIDTH + 1;

    /// Lines whose dev/inode are `00:00 0` in the truth too must match byte for byte; file lines
    /// must match except the dev/inode columns, and their name must start at the same column.
    fn assert_line_matches(ours: &str, truth: &str) {
        let f_ours: Vec<&str> = ours.split_whitespace().take(3).collect();
        let f_truth: Vec<&str> = truth.split_whitespace().take(3).collect();
        assert_eq!(f_ours, f_truth, "range/perms/offset of {truth:?}");
        let dev_inode: Vec<&str> = truth.split_whitespace().skip(3).take(2).collect();
        if dev_inode == ["00:00", "0"] {
            assert_eq!(ours, truth);
        } else {
            assert_eq!(ours.len(), truth.len(), "{ours:?} vs {truth:?}");
            assert_eq!(ours[NAME_COLUMN..], truth[NAME_COLUMN..]);
            assert!(ours[..NAME_COLUMN].ends_with("  "));
            assert_eq!(&truth[NAME_COLUMN - 2..NAME_COLUMN], "  ");
            assert_ne!(truth.as_bytes()[NAME_COLUMN], b' ');
        }
    }

    #[test]
    fn golden_secretd_plain_all_lines() {
        let p = process_from_maps(8259, PLAIN_8259_MAPS);
        let text = String::from_utf8(maps(&p)).unwrap();
        let ours: Vec<&str> = text.lines().collect();
        let truth: Vec<&str> = PLAIN_8259_MAPS.lines().collect();
        assert_eq!(ours.len(), truth.len());
        for (o, t) in ours.iter().zip(&truth) {
            assert_line_matches(o, t);
        }
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn golden_hand_built_lines() {
        // Built by hand (not parsed from the truth), one of each kind, from secretd-plain /
        // secretd-shm ground-truth.json.
        let vmas = vec![
            vma(
                0x5632c44f6000,
                0x5632c44f7000,
                "r-xp",
                0x1000,
                file("/tmp/criu-fixture-work/secretd-plain/secretd", false),
            ),
            vma(0x5632f2701000, 0x5632f2722000, "rw-p", 0, VmaName::Heap),
            vma(0x5ec000000000, 0x5ec000400000, "rw-p", 0, VmaName::Anon),
            vma(
                0x5ec100000000,
                0x5ec100100000,
                "rw-s",
                0,
                file("/dev/zero", true),
            ),
            vma(
                0x5ec200000000,
                0x5ec200010000,
                "rw-s",
                0,
                file("/memfd:secretd-memfd", true),
            ),
            vma(0x7f9d838a9000, 0x7f9d838ad000, "r--p", 0, VmaName::Vvar),
            vma(
                0x7f9d838ad000,
                0x7f9d838af000,
                "r--p",
                0,
                VmaName::VvarVclock,
            ),
            vma(0x7f9d838af000, 0x7f9d838b1000, "r-xp", 0, VmaName::Vdso),
            vma(0x7fff7c751000, 0x7fff7c772000, "rw-p", 0, VmaName::Stack),
            vma(
                0xffffffffff600000,
                0xffffffffff601000,
                "--xp",
                0,
                VmaName::Vsyscall,
            ),
        ];
        let truth = [
            "5632c44f6000-5632c44f7000 r-xp 00001000 fe:00 10159163                   /tmp/criu-fixture-work/secretd-plain/secretd",
            "5632f2701000-5632f2722000 rw-p 00000000 00:00 0                          [heap]",
            "5ec000000000-5ec000400000 rw-p 00000000 00:00 0 ",
            "5ec100000000-5ec100100000 rw-s 00000000 00:01 109                        /dev/zero (deleted)",
            "5ec200000000-5ec200010000 rw-s 00000000 00:01 110                        /memfd:secretd-memfd (deleted)",
            "7f9d838a9000-7f9d838ad000 r--p 00000000 00:00 0                          [vvar]",
            "7f9d838ad000-7f9d838af000 r--p 00000000 00:00 0                          [vvar_vclock]",
            "7f9d838af000-7f9d838b1000 r-xp 00000000 00:00 0                          [vdso]",
            "7fff7c751000-7fff7c772000 rw-p 00000000 00:00 0                          [stack]",
            "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
        ];
        let p = process(8259, vmas, vec![]);
        let text = String::from_utf8(maps(&p)).unwrap();
        let ours: Vec<&str> = text.lines().collect();
        assert_eq!(ours.len(), truth.len());
        for (o, t) in ours.iter().zip(truth) {
            assert_line_matches(o, t);
        }
    }

    /// Shared memory shows its recorded inode, as secretd-shm's truth has it (`/dev/zero` 109,
    /// the memfd 110), a ghost file its device and inode; a regular file's are not recorded.
    #[test]
    fn shared_memory_inodes() {
        use crate::model::files::{FileKind, FileObject};
        use crate::model::process::vma_status;
        let mut zero = vma(0x5ec100000000, 0x5ec100100000, "rw-s", 0, VmaName::Anon);
        zero.name = file("/dev/zero", true);
        zero.shmid = 109;
        let mut memfd = vma(
            0x5ec200000000,
            0x5ec200010000,
            "rw-s",
            0,
            file("/memfd:secretd-memfd", true),
        );
        memfd.status |= vma_status::MEMFD;
        memfd.shmid = 7;
        memfd.file = Some(std::sync::Arc::new(FileObject {
            id: 7,
            kind: FileKind::Memfd {
                name: "memfd:secretd-memfd".into(),
                inode_id: 1,
                shmid: Some(110),
                flags: 2,
                pos: 0,
            },
        }));
        let mut reg = vma(0x400000, 0x401000, "r--p", 0, file("/bin/busybox", false));
        reg.shmid = 3;
        let cols = |v: &Vma| {
            let mut out = Vec::new();
            maps_line(&mut out, v);
            let line = String::from_utf8(out).unwrap();
            let f: Vec<String> = line.split_whitespace().map(String::from).collect();
            (f[3].clone(), f[4].clone(), line.find('/'))
        };
        assert_eq!(
            cols(&zero),
            ("00:00".into(), "109".into(), Some(NAME_COLUMN))
        );
        assert_eq!(
            cols(&memfd),
            ("00:00".into(), "110".into(), Some(NAME_COLUMN))
        );
        assert_eq!(cols(&reg), ("00:00".into(), "0".into(), Some(NAME_COLUMN)));
        // A ghost file: its recorded device (kernel encoding, major << 20 | minor) and inode.
        reg.file = Some(std::sync::Arc::new(FileObject {
            id: 3,
            kind: FileKind::Reg {
                path: "/tmp/.hidden/kworkerd".into(),
                pos: 0,
                flags: 0,
                mnt_id: None,
                size: None,
                mode: None,
                deleted: true,
                dev_ino: Some((8 << 20 | 0x12, 1181264)),
            },
        }));
        assert_eq!(
            cols(&reg),
            ("08:12".into(), "1181264".into(), Some(NAME_COLUMN))
        );
    }

    #[test]
    fn low_addresses_pad_like_the_kernel() {
        let v = vma(0x400000, 0x401000, "r--p", 0, file("/bin/busybox", false));
        let mut out = Vec::new();
        maps_line(&mut out, &v);
        let want = format!(
            "{:<73}/bin/busybox\n",
            "00400000-00401000 r--p 00000000 00:00 0 "
        );
        assert_eq!(String::from_utf8(out).unwrap(), want);
        assert_eq!(vma_range_name(&v), "00400000-00401000");
        let v = vma(0x7f12a000, 0x7f12c000, "rw-p", 0, VmaName::Anon);
        assert_eq!(vma_range_name(&v), "7f12a000-7f12c000");
        let v = vma(0x5632c44f5000, 0x5632c44f6000, "rw-p", 0, VmaName::Anon);
        assert_eq!(vma_range_name(&v), "5632c44f5000-5632c44f6000");
    }

    #[test]
    fn odd_names_and_bad_vmas() {
        let vmas = vec![
            vma(0x1000, 0x2000, "rw-p", 0, file("/tmp/a\nb", true)),
            vma(
                0x3000,
                0x2000,
                "rw-p",
                u64::MAX,
                VmaName::Unknown { file_id: 42 },
            ),
            vma(u64::MAX, 0, "---p", 0, VmaName::Anon),
        ];
        let p = process(1, vmas, vec![]);
        let text = String::from_utf8(maps(&p)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].ends_with(" /tmp/a\\012b (deleted)"),
            "{}",
            lines[0]
        );
        assert_eq!(lines[0].find('/'), Some(NAME_COLUMN));
        assert!(lines[1].starts_with("00003000-00002000 rw-p ffffffffffffffff 00:00 0 "));
        assert!(lines[1].ends_with("[ckptfs: unresolved file id 42]"));
        assert_eq!(lines[2], "ffffffffffffffff-00000000 ---p 00000000 00:00 0 ");
        assert!(maps(&process(1, vec![], vec![])).is_empty());
    }
}
