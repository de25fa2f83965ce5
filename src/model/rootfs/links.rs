//! Symlinks: resolution inside the namespace with chroot semantics, and each link's target as
//! shown, rewritten so that following it from inside the mount never leaves `rootfs/`.

use super::{FileData, Node, NodeKind, RootFs};
use crate::source::path::{Root, parent_of};

pub(super) fn depth_of_dir(dir: &str) -> usize {
    if dir.is_empty() {
        0
    } else {
        dir.split('/').count()
    }
}

/// True when symlink `target`, read from directory `dir` (a normalized path), climbs above the
/// root lexically (`..` past the top); absolute targets start at the root and never do.
pub(super) fn climbs_out(dir: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return false;
    }
    let mut depth = depth_of_dir(dir) as i64;
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

impl RootFs {
    /// Resolves `path` (absolute inside the container, or relative to the root) in the
    /// namespace, following symlinks with chroot semantics. `follow_last`: follow a final
    /// symlink too. Returns the normalized path reached (which may not exist); `None` on a loop.
    pub fn resolve(&self, path: &str, follow_last: bool) -> Option<String> {
        self.resolve_from("", path, follow_last)
    }

    fn resolve_from(&self, dir: &str, path: &str, follow_last: bool) -> Option<String> {
        let link = |p: &str| match self.nodes.get(p).map(|n| &n.kind) {
            Some(NodeKind::Symlink { target, .. }) => Some(target.as_str()),
            _ => None,
        };
        crate::source::path::resolve(dir, path, Root::Chroot, follow_last, link).ok()
    }

    /// The file a path names, following symlinks (for mapped files and links).
    pub fn file(&self, path: &str) -> Option<&FileData> {
        let p = self.resolve(path, true)?;
        match self.nodes.get(&p).map(|n| &n.kind) {
            Some(NodeKind::File(d)) => Some(d),
            _ => None,
        }
    }

    /// Computes every symlink's shown target (see the module docs).
    pub(super) fn rewrite_links(&mut self) {
        let links: Vec<(String, String)> = self
            .nodes
            .iter()
            .filter_map(|(k, n)| match &n.kind {
                NodeKind::Symlink { target, .. } => Some((k.clone(), target.clone())),
                _ => None,
            })
            .collect();
        for (path, target) in links {
            let dir = parent_of(&path);
            let depth = depth_of_dir(dir);
            let shown = safe_form(&target, depth).unwrap_or_else(|| {
                // Replace by where it leads in the namespace (a loop: to the root).
                let to = self.resolve_from(dir, &target, true).unwrap_or_default();
                relative_to_root(depth, &to)
            });
            if let Some(Node {
                kind: NodeKind::Symlink { shown: s, .. },
                ..
            }) = self.nodes.get_mut(&path)
            {
                *s = shown;
            }
        }
    }
}

/// `../` × `depth` + `to` (a normalized path from the root), or `.` when both are empty.
fn relative_to_root(depth: usize, to: &str) -> String {
    let mut s = "../".repeat(depth);
    s.push_str(to);
    if s.is_empty() {
        ".".into()
    } else if s.ends_with('/') {
        s.pop();
        s
    } else {
        s
    }
}

/// The target as shown, when it is of a form that cannot leave `rootfs/` from a link in a
/// directory `depth` levels below the root: `..` only at the start and at most `depth` of them,
/// then only names (an absolute target counts as `depth` `..`s). `None` otherwise.
fn safe_form(target: &str, depth: usize) -> Option<String> {
    let comps: Vec<&str> = target
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let ups = if target.starts_with('/') {
        if comps.contains(&"..") {
            return None;
        }
        depth
    } else {
        let k = comps.iter().take_while(|c| **c == "..").count();
        if k > depth || comps[k..].contains(&"..") {
            return None;
        }
        k
    };
    let names: Vec<&str> = comps.into_iter().filter(|c| *c != "..").collect();
    Some(relative_to_root(ups, &names.join("/")))
}
