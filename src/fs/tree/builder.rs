//! Building the node table: adding nodes under their parent with checked names, and sorting
//! the listings at the end. What goes where is the layout's ([`super::layout`]).

use std::collections::HashMap;

use super::{
    Dir, Entry, Ino, Kind, LayerDir, Node, NodeKind, Order, ROOT_INO, Tree, index, natural_key,
};
use crate::fs::content::Content;
use crate::source::Blob;
use crate::warning::{self, Warnings};

/// The node table under construction: nodes get the next inode number as they are added.
/// Names are validated and de-duplicated here; [`Builder::finish`] sorts the listings.
pub(super) struct Builder {
    nodes: Vec<Node>,
    /// `PID/` directories (and their `.link/` twins) -> index of their process.
    pid_dirs: HashMap<Ino, u32>,
    names: HashMap<(Ino, Box<str>), Ino>,
    warnings: Warnings,
}

impl Builder {
    pub(super) fn new() -> Builder {
        Builder {
            nodes: vec![Node {
                parent: ROOT_INO,
                kind: NodeKind::Dir(Dir::new(Order::Natural)),
            }],
            pid_dirs: HashMap::new(),
            names: HashMap::new(),
            warnings: Warnings::new(),
        }
    }

    /// Adds a node named `name` under `parent`. Refuses (with a warning) names that are not a
    /// single path component, and names already taken (the first one wins).
    pub(super) fn add(&mut self, parent: Ino, name: &str, kind: NodeKind) -> Option<Ino> {
        self.add_entry(parent, name, kind, false)
    }

    /// [`Builder::add`], for an entry that listings leave out when `hidden`.
    pub(super) fn add_entry(
        &mut self,
        parent: Ino,
        name: &str,
        kind: NodeKind,
        hidden: bool,
    ) -> Option<Ino> {
        if name.is_empty()
            || name == "."
            || name == ".."
            || name.contains('/')
            || name.contains('\0')
            || name.len() > 255
        {
            self.warnings.push(
                warning::Kind::EntryRefused,
                format!(
                    "{}: not a usable file name, left out of the mount",
                    crate::format::escape(name)
                ),
            );
            return None;
        }
        let key = (parent, Box::<str>::from(name));
        if self.names.contains_key(&key) {
            self.warnings.push(
                warning::Kind::Duplicate,
                format!(
                    "{}: name used twice in one directory, only the first is shown",
                    crate::format::escape(name)
                ),
            );
            return None;
        }
        let ino = self.nodes.len() as Ino + 1;
        let is_dir = matches!(kind, NodeKind::Dir(_));
        let Some(Node {
            kind: NodeKind::Dir(dir),
            ..
        }) = index(parent).and_then(|i| self.nodes.get_mut(i))
        else {
            return None;
        };
        dir.entries.push(Entry {
            name: key.1.clone(),
            ino,
            hidden,
        });
        if is_dir {
            dir.subdirs = dir.subdirs.saturating_add(1);
        }
        self.names.insert(key, ino);
        self.nodes.push(Node { parent, kind });
        Some(ino)
    }

    pub(super) fn dir(&mut self, parent: Ino, name: &str, order: Order) -> Option<Ino> {
        self.add(parent, name, NodeKind::Dir(Dir::new(order)))
    }

    pub(super) fn file(&mut self, parent: Ino, name: &str, c: Content) -> Option<Ino> {
        self.add(parent, name, NodeKind::File(c))
    }

    /// The directory `name` under `parent`, made (in [`Order::Natural`]) unless it exists.
    pub(super) fn subdir(&mut self, parent: Ino, name: &str) -> Option<Ino> {
        match self.names.get(&(parent, Box::<str>::from(name))) {
            Some(&ino) if matches!(self.node_kind(ino), Some(Kind::Dir)) => Some(ino),
            // A file of that name: refused, with a warning.
            _ => self.dir(parent, name, Order::Natural),
        }
    }

    pub(super) fn link(&mut self, parent: Ino, name: &str, target: Vec<u8>) -> Option<Ino> {
        self.add(parent, name, NodeKind::Link(target.into_boxed_slice()))
    }

    /// Adds a blob at a relative path (`artifacts/x`), creating the directories on the way.
    /// `where_` names the base directory for warnings.
    pub(super) fn file_at_path(&mut self, base: Ino, where_: &str, path: &str, blob: &Blob) {
        let comps: Vec<&str> = path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        let Some((last, dirs)) = comps.split_last() else {
            self.warnings.push(
                warning::Kind::EntryRefused,
                format!(
                    "{where_}/{}: empty name, left out",
                    crate::format::escape(path)
                ),
            );
            return;
        };
        if comps.contains(&"..") {
            self.warnings.push(
                warning::Kind::EntryRefused,
                format!(
                    "{where_}/{}: a name with '..', left out",
                    crate::format::escape(path)
                ),
            );
            return;
        }
        let mut at = base;
        for d in dirs {
            at = match self.names.get(&(at, Box::<str>::from(*d))) {
                Some(&ino) if matches!(self.node_kind(ino), Some(Kind::Dir)) => ino,
                Some(_) => {
                    self.warnings.push(
                        warning::Kind::EntryRefused,
                        format!(
                            "{where_}/{}: {d} is both a file and a directory, left out",
                            crate::format::escape(path)
                        ),
                    );
                    return;
                }
                None => match self.dir(at, d, Order::Natural) {
                    Some(i) => i,
                    None => return,
                },
            };
        }
        self.file(at, last, Content::Blob(blob.clone()));
    }

    /// Gives the directory `ino` its layer's attributes.
    pub(super) fn set_layer(&mut self, ino: Ino, l: LayerDir) {
        if let Some(Node {
            kind: NodeKind::Dir(d),
            ..
        }) = index(ino).and_then(|i| self.nodes.get_mut(i))
        {
            d.layer = Some(l);
        }
    }

    fn node_kind(&self, ino: Ino) -> Option<Kind> {
        index(ino).and_then(|i| self.nodes.get(i)).map(Node::kind)
    }

    /// Records that directory `ino` (and what is under it) belongs to process `pi`.
    pub(super) fn owned_by(&mut self, ino: Ino, pi: u32) {
        self.pid_dirs.insert(ino, pi);
    }

    /// Says why something was left out of the tree.
    pub(super) fn warn(&mut self, kind: warning::Kind, line: String) {
        self.warnings.push(kind, line);
    }

    /// The tree: every directory's listing sorted ([`Order`]) and indexed by name.
    pub(super) fn finish(mut self) -> Tree {
        for node in &mut self.nodes {
            if let NodeKind::Dir(d) = &mut node.kind {
                if d.order == Order::Natural {
                    d.entries
                        .sort_by(|a, b| natural_key(&a.name).cmp(&natural_key(&b.name)));
                }
                let mut idx: Vec<u32> = (0..d.entries.len() as u32).collect();
                idx.sort_by(|&a, &b| {
                    let name = |i: u32| {
                        d.entries
                            .get(i as usize)
                            .map_or(&[][..], |e| e.name.as_bytes())
                    };
                    name(a).cmp(name(b))
                });
                d.by_name = idx;
            }
        }
        Tree {
            nodes: self.nodes,
            pid_dirs: self.pid_dirs,
            warnings: self.warnings,
        }
    }
}
