//! A tar layer: the entries of a tar (`rootfs-diff.tar`, Podman's `/dev/shm`, a tmpfs archive)
//! as slices of the archive (zero copy), with overlay whiteouts (`.wh.NAME`) and opaque
//! directories (`.wh..wh..opq`) hiding the layers below.

use std::collections::HashMap;

use super::links::climbs_out;
use super::{Device, FileData, MAX_NODES, NodeKind, RootFs, Stamp, clean, shown_mode};
use crate::source::Blob;
use crate::source::path::{base_name, parent_of};
use crate::warning::Kind;

impl RootFs {
    /// Adds Podman's `devshm-checkpoint.tar` (the container's `/dev/shm`, a bind mount CRIU does
    /// not dump) as `dev/shm/`.
    pub fn add_devshm(&mut self, tar: &Blob) {
        self.add_tar_layer_at(tar, "devshm-checkpoint.tar", "dev/shm", false);
        self.rewrite_links();
    }

    /// Indexes rootfs-diff.tar (uncompressed, in `tar`) and lays it over what is there.
    pub(super) fn add_tar_layer(&mut self, tar: &Blob) {
        self.add_tar_layer_at(tar, "rootfs-diff.tar", "", false);
    }

    /// Adds the entries of `tar` (named `label` in warnings) below the directory `at` (a
    /// normalized path; `""` is the root). `relative_only`: an entry with an absolute name is
    /// left out with a warning (CRIU's tmpfs archives name everything `./...`), rather than taken
    /// as relative to `at`.
    pub(super) fn add_tar_layer_at(
        &mut self,
        tar: &Blob,
        label: &str,
        at: &str,
        relative_only: bool,
    ) {
        struct Item {
            path: String,
            kind: NodeKind,
            mode: u32,
            stamp: Stamp,
        }
        let layer = self.layer_index(label);
        let bytes = tar.bytes();
        let mut items: Vec<Item> = Vec::new();
        let mut whiteouts: Vec<String> = Vec::new();
        let mut opaque: Vec<String> = Vec::new();
        let mut ar = tar::Archive::new(std::io::Cursor::new(bytes));
        let entries = match ar.entries_with_seek() {
            Ok(e) => e,
            Err(e) => {
                self.warnings.push(
                    Kind::Unreadable,
                    format!("{label}: cannot read: {e}: left out"),
                );
                return;
            }
        };
        let mut files: HashMap<String, (Blob, u32)> = HashMap::new();
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        for (n, entry) in entries.enumerate() {
            if n >= MAX_NODES {
                self.warnings.push(
                    Kind::LimitReached,
                    format!("{label}: more than {MAX_NODES} entries: the rest is left out"),
                );
                break;
            }
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.warnings.push(
                        Kind::TruncatedArchive,
                        format!("{label}: entry {n}: {e}: the rest of the archive is left out"),
                    );
                    break;
                }
            };
            let raw = entry.path_bytes().into_owned();
            if relative_only && raw.first() == Some(&b'/') {
                self.warnings.push(
                    Kind::EntryRefused,
                    format!(
                        "{label}: entry {}: an absolute name: left out",
                        crate::format::escape_bytes(&raw)
                    ),
                );
                continue;
            }
            let Some(path) = std::str::from_utf8(&raw).ok().and_then(clean) else {
                self.warnings.push(
                    Kind::EntryRefused,
                    format!(
                        "{label}: entry {}: name with `..` or not UTF-8: left out",
                        crate::format::escape_bytes(&raw)
                    ),
                );
                continue;
            };
            let path = match (at.is_empty(), path.is_empty()) {
                (true, true) => continue,
                (true, false) => path,
                (false, true) => at.to_string(),
                (false, false) => format!("{at}/{path}"),
            };
            let h = entry.header();
            let mode = h.mode().unwrap_or(0o644);
            let stamp = Stamp {
                uid: h.uid().unwrap_or(0),
                gid: h.gid().unwrap_or(0),
                mtime: h.mtime().unwrap_or(0),
                image_dir: false,
                layer,
            };
            let base = base_name(&path);
            if base == ".wh..wh..opq" {
                opaque.push(parent_of(&path).to_string());
                continue;
            }
            if let Some(victim) = base.strip_prefix(".wh.") {
                let dir = parent_of(&path);
                whiteouts.push(if dir.is_empty() {
                    victim.to_string()
                } else {
                    format!("{dir}/{victim}")
                });
                continue;
            }
            let et = entry.header().entry_type();
            let kind = match et {
                tar::EntryType::Directory => NodeKind::Dir,
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let pos = entry.raw_file_position();
                    let size = entry.size();
                    let slice = usize::try_from(pos).ok().and_then(|p| {
                        let e = p.checked_add(usize::try_from(size).ok()?)?;
                        tar.slice(p..e)
                    });
                    match slice {
                        Some(b) => {
                            files.insert(path.clone(), (b.clone(), mode));
                            NodeKind::File(FileData::Blob(b))
                        }
                        None => {
                            self.warnings.push(Kind::TruncatedArchive, format!(
                                "{label}: {path}: data runs past the end of the archive: left out"
                            ));
                            continue;
                        }
                    }
                }
                tar::EntryType::Symlink => {
                    let t = entry
                        .link_name_bytes()
                        .and_then(|t| std::str::from_utf8(&t).ok().map(str::to_string));
                    match t {
                        Some(t) if !t.is_empty() && !t.contains('\0') => {
                            if mode & 0o6000 != 0 {
                                self.warnings.push(
                                    Kind::SymlinkMode,
                                    format!(
                                        "{label}: {path}: a symlink with mode {:04o}: shown as a \
                                     link (a link has no mode of its own)",
                                        mode & 0o7777
                                    ),
                                );
                            }
                            if climbs_out(parent_of(&path), &t) {
                                self.warnings.push(
                                    Kind::SymlinkEscapes,
                                    format!(
                                        "{label}: {path}: symlink target {} climbs above the \
                                     container's root: shown resolved inside rootfs/",
                                        crate::format::escape(&t)
                                    ),
                                );
                            }
                            NodeKind::Symlink {
                                target: t,
                                shown: String::new(),
                            }
                        }
                        _ => {
                            self.warnings.push(
                                Kind::EntryRefused,
                                format!(
                                    "{label}: {path}: symlink without a usable target: left out"
                                ),
                            );
                            continue;
                        }
                    }
                }
                tar::EntryType::Link => {
                    let t = entry
                        .link_name_bytes()
                        .and_then(|t| std::str::from_utf8(&t).ok().and_then(clean))
                        .map(|t| {
                            if at.is_empty() {
                                t
                            } else {
                                format!("{at}/{t}")
                            }
                        });
                    let found = t.as_ref().and_then(|t| {
                        files
                            .get(t)
                            .map(|(b, _)| FileData::Blob(b.clone()))
                            .or_else(|| match self.nodes.get(t).map(|n| &n.kind) {
                                Some(NodeKind::File(d)) => Some(d.clone()),
                                _ => None,
                            })
                    });
                    match found {
                        Some(d) => NodeKind::File(d),
                        None => {
                            self.warnings.push(Kind::EntryRefused, format!(
                                "{label}: {path}: hardlink to a file not in the layers: left out"
                            ));
                            continue;
                        }
                    }
                }
                tar::EntryType::Fifo => NodeKind::Fifo,
                tar::EntryType::Char | tar::EntryType::Block => {
                    let d = Device {
                        block: matches!(et, tar::EntryType::Block),
                        major: h.device_major().ok().flatten().unwrap_or(0),
                        minor: h.device_minor().ok().flatten().unwrap_or(0),
                    };
                    if d.is_whiteout() {
                        whiteouts.push(path);
                        continue;
                    }
                    if !d.is_harmless() {
                        self.warnings.push(
                                Kind::EntryRefused,
                                format!(
                                    "{label}: {path}: device node {}: left out (only the pseudo devices null, zero, full, random, urandom, tty, console, ptmx and pty slaves are shown)",
                                    d.describe()
                                ),
                            );
                        continue;
                    }
                    NodeKind::Device(d)
                }
                _ => continue, // sockets and other types: nothing a tree can show
            };
            if !seen.insert(path.clone()) {
                self.warnings.push(
                    Kind::Duplicate,
                    format!("{label}: {path}: more than one entry: the last one is shown"),
                );
            }
            items.push(Item {
                path,
                kind,
                mode: if matches!(et, tar::EntryType::Symlink) {
                    0o777
                } else {
                    shown_mode(mode)
                },
                stamp,
            });
        }
        // Whiteouts and opaque directories hide the lower layer only.
        for w in whiteouts {
            self.remove_tree(&w);
        }
        for d in opaque {
            if d.is_empty() {
                self.nodes.retain(|k, _| k.is_empty());
                continue;
            }
            // Everything below `d`, but `d` itself stays.
            let keep = self.nodes.remove(&d);
            self.remove_tree(&d);
            if let Some(n) = keep {
                self.nodes.insert(d, n);
            }
        }
        for it in items {
            self.insert(it.path, it.kind, it.mode, Some(it.stamp));
        }
    }
}
