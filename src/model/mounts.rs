//! Mount points (`mountpoints-<mnt_ns_id>.img`), for `PID/mountinfo`.
//!
//! CRIU writes one image per mount namespace, named by the namespace's id; `ids-<pid>.img`
//! (`TaskKobjIdsEntry.mnt_ns_id`) says which namespace a process is in.

use std::collections::BTreeMap;

use crate::image::{self, magic, pb};
use crate::source::ImageDir;
use crate::warning::Warnings;

/// One mount (`MntEntry`), as the kernel showed it in mountinfo at dump time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountPoint {
    pub mnt_id: u32,
    pub parent_mnt_id: u32,
    /// The superblock's device as the kernel encodes it (`major << 20 | minor`).
    pub root_dev: u32,
    /// Root of the mount inside its filesystem.
    pub root: String,
    pub mountpoint: String,
    /// Per-mount flags (`MS_RDONLY`, `MS_NOSUID`, ...).
    pub flags: u32,
    /// Superblock flags (`MS_RDONLY`, `MS_SYNCHRONOUS`, ...), when recorded.
    pub sb_flags: Option<u32>,
    /// The filesystem type's name (`proc`, `tmpfs`, `overlay`, ...).
    pub fstype: String,
    pub source: String,
    /// Superblock options other than the flags (`size=65536k,mode=755`).
    pub options: String,
    pub shared_id: Option<u32>,
    pub master_id: Option<u32>,
}

/// The mount namespaces of a checkpoint and which process is in which.
#[derive(Clone, Debug, Default)]
pub struct Mounts {
    /// Mount namespace id -> its mounts, in the kernel's order (parents first).
    pub by_ns: BTreeMap<u32, Vec<MountPoint>>,
    /// PID -> mount namespace id (from `ids-<pid>.img`).
    pub ns_of_pid: BTreeMap<u32, u32>,
}

impl Mounts {
    /// The mounts `pid` sees: its namespace's, or the only namespace's when its id is unknown.
    pub fn for_pid(&self, pid: u32) -> Option<&[MountPoint]> {
        if let Some(ns) = self.ns_of_pid.get(&pid) {
            if let Some(v) = self.by_ns.get(ns) {
                return Some(v);
            }
        }
        if self.by_ns.len() == 1 {
            return self.by_ns.values().next().map(Vec::as_slice);
        }
        None
    }
}

/// The name CRIU's `fstype` enum stands for (`fsname` wins when set).
pub fn fstype_name(code: u32) -> &'static str {
    match code {
        1 => "proc",
        2 => "sysfs",
        3 => "devtmpfs",
        4 => "binfmt_misc",
        5 => "tmpfs",
        6 => "devpts",
        7 => "simfs",
        8 => "pstore",
        9 => "securityfs",
        10 => "fusectl",
        11 => "debugfs",
        12 => "cgroup",
        13 => "aufs",
        14 => "mqueue",
        15 => "fuse",
        17 => "overlay",
        18 => "autofs",
        19 => "tracefs",
        23 => "cgroup2",
        // UNSUPPORTED (0): CRIU keeps no name for it (e.g. ext4 bind mounts of the host).
        _ => "unknown",
    }
}

fn mount_from(e: &pb::MntEntry) -> MountPoint {
    let fstype = match e.fsname.as_deref() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => fstype_name(e.fstype).to_string(),
    };
    MountPoint {
        mnt_id: e.mnt_id,
        parent_mnt_id: e.parent_mnt_id,
        root_dev: e.root_dev,
        root: e.root.clone(),
        mountpoint: e.mountpoint.clone(),
        flags: e.flags,
        sb_flags: e.sb_flags,
        fstype,
        source: e.source.clone(),
        options: e.options.clone(),
        shared_id: e.shared_id.filter(|&i| i != 0),
        master_id: e.master_id.filter(|&i| i != 0),
    }
}

/// Decodes every `mountpoints-*.img` of `dir` and the mount namespace of each of `pids`.
/// A broken image becomes a warning.
pub fn load(dir: &ImageDir, pids: &[u32], warnings: &mut Warnings) -> Mounts {
    let mut m = Mounts::default();
    for (name, blob) in &dir.files {
        let Some(id) = name
            .strip_prefix("mountpoints-")
            .and_then(|r| r.strip_suffix(".img"))
        else {
            continue;
        };
        // CRIU names the image by the namespace id in decimal (`mountpoints-%u`), the same
        // sequence as netns-N / utsns-N.
        let Some(ns) = id.parse().ok() else {
            continue;
        };
        match image::decode_all::<pb::MntEntry>(name, blob.bytes(), magic::MNTS) {
            Ok(v) => {
                // CRIU writes them in the reverse order of /proc/PID/mountinfo.
                m.by_ns.insert(ns, v.iter().rev().map(mount_from).collect());
            }
            Err(e) => warnings.push(e.warning_kind(), format!("{}: {e}", dir.label)),
        }
    }
    for &pid in pids {
        let name = format!("ids-{pid}.img");
        if let Some(b) = dir.files.get(&name)
            && let Ok(ids) = image::decode_one::<pb::TaskKobjIdsEntry>(&name, b.bytes(), magic::IDS)
            && let Some(ns) = ids.mnt_ns_id
        {
            m.ns_of_pid.insert(pid, ns);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_pid_falls_back_to_the_only_namespace() {
        let mut m = Mounts::default();
        assert!(m.for_pid(1).is_none());
        m.by_ns.insert(13, vec![MountPoint::default()]);
        assert_eq!(m.for_pid(1).map(<[_]>::len), Some(1));
        m.by_ns.insert(14, vec![]);
        assert!(m.for_pid(1).is_none());
        m.ns_of_pid.insert(1, 14);
        assert_eq!(m.for_pid(1).map(<[_]>::len), Some(0));
    }
}
