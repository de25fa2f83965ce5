//! `PID/mountinfo`: the kernel's format (man 5 proc; `show_mountinfo()` of
//! fs/proc_namespace.c), one line per mount of the process's mount namespace, from
//! `mountpoints-<ns>.img`:
//!
//! `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
//!
//! mount id, parent id, `major:minor` of the superblock, root, mount point, per-mount options
//! (`ro`/`rw` then `nosuid`, `nodev`, `noexec`, `noatime`, `nodiratime`, `relatime`,
//! `nosymfollow` from the mount flags), optional fields (`shared:N`, `master:N`), `-`, the
//! filesystem type, the source (`none` when empty), the superblock options (`ro`/`rw`, `sync`,
//! `dirsync`, `mand`, `lazytime` from the superblock flags, then the filesystem's own options).
//! Space, tab, newline and backslash in paths are escaped as octal (`\040`), as the kernel does.
//! `propagate_from:N` and `unbindable` are not in the images.

use std::fmt::Write;

use crate::model::mounts::MountPoint;

const MS_RDONLY: u32 = 1;
const MS_NOSUID: u32 = 2;
const MS_NODEV: u32 = 4;
const MS_NOEXEC: u32 = 8;
const MS_SYNCHRONOUS: u32 = 16;
const MS_MANDLOCK: u32 = 64;
const MS_DIRSYNC: u32 = 128;
const MS_NOSYMFOLLOW: u32 = 256;
const MS_NOATIME: u32 = 1024;
const MS_NODIRATIME: u32 = 2048;
const MS_RELATIME: u32 = 1 << 21;
const MS_LAZYTIME: u32 = 1 << 25;

/// `seq_escape(s, " \t\n\\")`: those bytes as `\ooo`.
fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            ' ' | '\t' | '\n' | '\\' => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// One mountinfo line.
fn line(out: &mut String, m: &MountPoint) {
    let _ = write!(
        out,
        "{} {} {}:{} ",
        m.mnt_id,
        m.parent_mnt_id,
        m.root_dev >> 20,
        m.root_dev & 0xf_ffff
    );
    escape(out, if m.root.is_empty() { "/" } else { &m.root });
    out.push(' ');
    let mp = m.mountpoint.strip_prefix('.').unwrap_or(&m.mountpoint);
    escape(out, if mp.is_empty() { "/" } else { mp });
    out.push_str(if m.flags & MS_RDONLY != 0 {
        " ro"
    } else {
        " rw"
    });
    for (bit, name) in [
        (MS_NOSUID, ",nosuid"),
        (MS_NODEV, ",nodev"),
        (MS_NOEXEC, ",noexec"),
        (MS_NOATIME, ",noatime"),
        (MS_NODIRATIME, ",nodiratime"),
        (MS_RELATIME, ",relatime"),
        (MS_NOSYMFOLLOW, ",nosymfollow"),
    ] {
        if m.flags & bit != 0 {
            out.push_str(name);
        }
    }
    if let Some(s) = m.shared_id {
        let _ = write!(out, " shared:{s}");
    }
    if let Some(s) = m.master_id {
        let _ = write!(out, " master:{s}");
    }
    out.push_str(" - ");
    escape(out, &m.fstype);
    out.push(' ');
    escape(
        out,
        if m.source.is_empty() {
            "none"
        } else {
            &m.source
        },
    );
    // Superblock options: CRIU keeps ro/sync/dirsync/mand/lazytime in sb_flags and the rest in
    // `options`; older images leave sb_flags out and keep everything in `options`.
    let opts = m.options.as_str();
    match m.sb_flags {
        Some(sb) => {
            out.push_str(if sb & MS_RDONLY != 0 { " ro" } else { " rw" });
            for (bit, name) in [
                (MS_SYNCHRONOUS, ",sync"),
                (MS_DIRSYNC, ",dirsync"),
                (MS_MANDLOCK, ",mand"),
                (MS_LAZYTIME, ",lazytime"),
            ] {
                if sb & bit != 0 {
                    out.push_str(name);
                }
            }
            if !opts.is_empty() {
                out.push(',');
                escape(out, opts);
            }
        }
        None => {
            out.push(' ');
            escape(out, if opts.is_empty() { "rw" } else { opts });
        }
    }
    out.push('\n');
}

/// The text of `PID/mountinfo` for the mounts of the process's namespace.
pub fn mountinfo(mounts: &[MountPoint]) -> Vec<u8> {
    let mut out = String::new();
    for m in mounts {
        line(&mut out, m);
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_format() {
        let m = [
            MountPoint {
                mnt_id: 36,
                parent_mnt_id: 35,
                root_dev: 98 << 20,
                root: "/mnt1".into(),
                mountpoint: "/mnt2".into(),
                flags: MS_NOATIME,
                sb_flags: Some(0),
                fstype: "ext3".into(),
                source: "/dev/root".into(),
                options: "errors=continue".into(),
                shared_id: None,
                master_id: Some(1),
            },
            MountPoint {
                mnt_id: 40,
                parent_mnt_id: 36,
                root_dev: 23, // 0:23
                root: "/".into(),
                mountpoint: "./with space".into(),
                flags: MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME,
                sb_flags: Some(MS_RDONLY),
                fstype: "proc".into(),
                source: "".into(),
                options: "".into(),
                shared_id: Some(7),
                master_id: None,
            },
        ];
        assert_eq!(
            String::from_utf8(mountinfo(&m)).unwrap(),
            "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
             40 36 0:23 / /with\\040space ro,nosuid,nodev,noexec,relatime shared:7 - proc none ro\n"
        );
    }
}
