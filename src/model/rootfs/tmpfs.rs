//! The tmpfs mounts CRIU saved (`tmpfs-dev-<dev>.tar.gz.img`): which mounts they are, and their
//! contents laid over the layers at their mount points, as the mounts hid them in the container.

use super::{NodeKind, RootFs, clean};
use crate::source::Blob;
use crate::source::path::{base_name, parent_of};
use crate::warning::{Kind, Warnings};

/// A tmpfs mount whose contents CRIU saved: where it is mounted in the container and its
/// archive, decompressed.
#[derive(Debug, Clone)]
pub struct TmpfsMount {
    /// The mount point as the container saw it (`/tmp`).
    pub mountpoint: String,
    /// The image's name, for warnings (`tmpfs-dev-45.tar.gz.img`).
    pub image: String,
    /// The archive as a plain tar.
    pub tar: Blob,
}

/// The tmpfs mounts of `mounts` (one mount namespace's, parents first) whose contents the
/// checkpoint holds, in mount order: CRIU names the archive by the superblock's device
/// (`tmpfs-dev-<root_dev>.tar.gz.img`; before CRIU 3.x by the mount id, `tmpfs-<mnt_id>.tar.gz.img`).
/// Only mounts of a tmpfs's root (`root` = `/`) are taken: a bind mount of a subdirectory or
/// file shows a part of a tree already shown at its own mount point. `tar` decompresses an
/// image (None: absent); its failures become warnings.
pub fn tmpfs_mounts(
    mounts: &[crate::model::mounts::MountPoint],
    mut tar: impl FnMut(&str) -> Option<Result<Blob, String>>,
    warnings: &mut Warnings,
) -> Vec<TmpfsMount> {
    let mut out = Vec::new();
    for m in mounts {
        if m.fstype != "tmpfs" || m.root != "/" {
            continue;
        }
        for image in [
            format!("tmpfs-dev-{}.tar.gz.img", m.root_dev),
            format!("tmpfs-{}.tar.gz.img", m.mnt_id),
        ] {
            match tar(&image) {
                None => continue,
                Some(Ok(t)) => out.push(TmpfsMount {
                    mountpoint: m.mountpoint.clone(),
                    image,
                    tar: t,
                }),
                Some(Err(e)) => warnings.push(
                    Kind::TmpfsUnreadable,
                    format!(
                        "{e}; rootfs{} lacks the tmpfs's contents",
                        crate::format::escape(&m.mountpoint)
                    ),
                ),
            }
            break;
        }
    }
    out
}

impl RootFs {
    /// Lays one tmpfs mount's saved contents over its mount point: what the layers hold there
    /// is hidden (removed), the tar's root entry gives the mount point its mode, owner and time.
    pub(super) fn add_tmpfs(&mut self, t: &TmpfsMount) {
        let label = format!("{} ({})", t.image, crate::format::escape(&t.mountpoint));
        let at =
            match clean(&t.mountpoint) {
                Some(at) if t.mountpoint.starts_with('/') => at,
                _ => {
                    self.warnings.push(Kind::EntryRefused, format!(
                    "{label}: the mount point is not a plain absolute path: left out of rootfs/"
                ));
                    return;
                }
            };
        // A mount point below a symlink of the layers: the mount is where the link leads.
        let at = match parent_of(&at) {
            "" => at,
            parent => match self.resolve(parent, true) {
                Some(p) if p.is_empty() => base_name(&at).to_string(),
                Some(p) => format!("{p}/{}", base_name(&at)),
                None => {
                    self.warnings.push(Kind::EntryRefused, format!(
                        "{label}: the mount point's parent is a symlink loop: left out of rootfs/"
                    ));
                    return;
                }
            },
        };
        if at.is_empty() {
            self.nodes.retain(|k, _| k.is_empty());
        } else {
            self.remove_tree(&at);
        }
        self.add_tar_layer_at(&t.tar, &label, &at, true);
        if !at.is_empty() && !self.nodes.contains_key(&at) {
            // An archive without a root entry: the mount point still exists.
            self.insert(at, NodeKind::Dir, 0o555, None);
        }
    }
}
