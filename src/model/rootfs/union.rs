//! The union: the layers laid over each other, bottom to top (see the module docs of
//! [`super`]), and the two operations every layer uses: insert a node, remove a subtree.

use std::path::Path;
use std::sync::Arc;

use super::host::HostRoot;
use super::{FileData, Node, NodeKind, RootFs, Stamp, TmpfsMount, clean, shown_mode};
use crate::source::Blob;
use crate::source::path::parent_of;
use crate::warning::Kind;

impl RootFs {
    /// Builds the layers: `image` (a host directory), then `diff` (rootfs-diff.tar), minus
    /// `deleted` (deleted.files). Only an unreadable `image` directory is an error; problems with
    /// the archive's parts become warnings.
    pub fn build(
        image: Option<&Path>,
        diff: Option<&Blob>,
        deleted: Option<&[u8]>,
    ) -> Result<RootFs, String> {
        Self::build_with_ghosts(image, diff, deleted, &[])
    }

    /// [`RootFs::build`], plus the saved contents of open-but-deleted files, each at
    /// `<path> (deleted)` (where the descriptor's link, `<path> (deleted)` as /proc shows it,
    /// leads).
    pub fn build_with_ghosts(
        image: Option<&Path>,
        diff: Option<&Blob>,
        deleted: Option<&[u8]>,
        ghosts: &[crate::model::ghost::Ghost],
    ) -> Result<RootFs, String> {
        Self::build_all(image, diff, deleted, &[], ghosts)
    }

    /// [`RootFs::build_with_ghosts`], with the tmpfs mounts CRIU saved laid over the layers
    /// before the ghost files (see the module docs).
    pub fn build_all(
        image: Option<&Path>,
        diff: Option<&Blob>,
        deleted: Option<&[u8]>,
        tmpfs: &[TmpfsMount],
        ghosts: &[crate::model::ghost::Ghost],
    ) -> Result<RootFs, String> {
        let mut r = RootFs::empty();
        if let Some(dir) = image {
            let root = HostRoot::open(dir)
                .map_err(|e| format!("--rootfs {}: cannot open: {e}", dir.display()))?;
            r.add_host_layer(Arc::new(root));
        }
        if let Some(tar) = diff {
            r.add_tar_layer(tar);
        }
        if let Some(d) = deleted {
            match serde_json::from_slice::<Vec<String>>(d) {
                Ok(paths) => {
                    for p in paths {
                        if let Some(c) = clean(&p)
                            && !c.is_empty()
                        {
                            r.remove_tree(&c);
                        }
                    }
                }
                Err(e) => r.warnings.push(
                    Kind::BadMetadata,
                    format!("deleted.files: not a JSON array of paths ({e}): ignored"),
                ),
            }
        }
        for t in tmpfs {
            r.add_tmpfs(t);
        }
        for g in ghosts {
            match clean(&format!("{} (deleted)", g.path)) {
                Some(p) if !p.is_empty() => r.insert(
                    p,
                    NodeKind::File(FileData::Blob(g.data.clone())),
                    shown_mode(g.mode),
                    None,
                ),
                _ => r.warnings.push(
                    Kind::EntryRefused,
                    format!(
                        "deleted file {}: a path with `..`: left out of rootfs/",
                        crate::format::escape(&g.path)
                    ),
                ),
            }
        }
        r.rewrite_links();
        Ok(r)
    }

    /// Inserts a node, creating missing parent directories (mode 0o555, no stamp; an existing
    /// directory is kept as it is) and replacing what was there (a non-directory replacing a
    /// directory takes its subtree with it; a directory replacing a directory takes its mode and
    /// stamp, and keeps the subtree).
    pub(super) fn insert(&mut self, path: String, kind: NodeKind, mode: u32, stamp: Option<Stamp>) {
        let mut anc = parent_of(&path).to_string();
        let mut chain = Vec::new();
        while !anc.is_empty() {
            chain.push(anc.clone());
            anc = parent_of(&anc).to_string();
        }
        for a in chain.into_iter().rev() {
            match self.nodes.get(&a).map(|n| &n.kind) {
                Some(NodeKind::Dir) => {}
                _ => {
                    self.nodes.insert(
                        a,
                        Node {
                            kind: NodeKind::Dir,
                            mode: 0o555,
                            stamp: None,
                        },
                    );
                }
            }
        }
        let new_dir = matches!(kind, NodeKind::Dir);
        let old_dir = matches!(self.nodes.get(&path).map(|n| &n.kind), Some(NodeKind::Dir));
        if old_dir && !new_dir {
            self.remove_tree(&path);
        }
        self.nodes.insert(path, Node { kind, mode, stamp });
    }

    /// Removes `path` and everything below it.
    pub(super) fn remove_tree(&mut self, path: &str) {
        if path.is_empty() {
            return;
        }
        self.nodes.remove(path);
        let prefix = format!("{path}/");
        let victims: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for v in victims {
            self.nodes.remove(&v);
        }
    }
}
