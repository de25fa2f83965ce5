//! The chain of custody of an input: the SHA-256 of every file read, as `sha256sum` writes them.
//!
//! For an image directory (or an extracted container archive) every file the source serves is
//! listed by its path relative to the directory given: the images (`inventory.img`, or
//! `checkpoint/inventory.img` in a container archive), the images of each parent dump by the
//! path of its directory (`../pre/pages-1.img`), and the metadata files (`config.dump`,
//! `artifacts/...`); a file read from outside the directory (Docker's container record, an
//! rw layer given by path) by its absolute path. So `cd DIR && sha256sum -c MANIFEST` checks
//! the directory against it (an archive has no manifest: its own hash says it all). The hash is of the bytes the source serves (the file as read or mapped at open).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Blob, ImageDir, Layout, layout::CHECKPOINT_DIR};

/// One file of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ManifestEntry {
    /// Relative to the input directory (for an archive: the archive's file name).
    pub path: String,
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
}

/// The SHA-256 of every input file, in path order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub entries: Vec<ManifestEntry>,
}

/// How much is hashed between two releases of a mapping's pages.
const CHUNK: usize = 4 << 20;

impl Manifest {
    /// The `sha256sum` text: `HASH  PATH` a line, in path order. A path holding a backslash,
    /// a newline or a carriage return is escaped as `sha256sum` does (the line starts with `\`).
    pub fn text(&self) -> String {
        let mut s = String::with_capacity(self.entries.len() * 96);
        for e in &self.entries {
            if e.path.contains(['\\', '\n', '\r']) {
                let p = e
                    .path
                    .replace('\\', "\\\\")
                    .replace('\n', "\\n")
                    .replace('\r', "\\r");
                s.push_str(&format!("\\{}  {p}\n", e.sha256));
            } else {
                s.push_str(&format!("{}  {}\n", e.sha256, e.path));
            }
        }
        s
    }

    /// The SHA-256 of [`Manifest::text`]: one value that vouches for every file.
    pub fn digest(&self) -> String {
        super::cache::hex(&Sha256::digest(self.text().as_bytes()))
    }
}

/// The SHA-256 of a blob, read in chunks; the pages of a mapped file are released after each
/// chunk, so hashing gigabytes does not grow the resident set.
pub(super) fn sha256_of(b: &Blob) -> String {
    let mut h = Sha256::new();
    for c in b.bytes().chunks(CHUNK) {
        h.update(c);
        super::blob::release(c);
    }
    super::cache::hex(&h.finalize())
}

/// `to` relative to `from` (both absolute and canonical): `../pre` for a sibling.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let (f, t): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}

/// The files of a directory input, by their path relative to it (`root`: the directory,
/// canonical). A parent dump is reached by its own directory's path (`../pre/pages-1.img`: the
/// `parent` link may be a symlink or, in some copies, a file holding the target); without
/// `root` (or when a parent's label is not a path), by `parent/` links.
pub(super) fn files_of<'a>(
    layout: Layout,
    root: Option<&Path>,
    images: &'a ImageDir,
    metadata: &'a std::collections::BTreeMap<String, Blob>,
    outside: &'a [(PathBuf, Blob)],
) -> Vec<(String, &'a Blob)> {
    let top = match layout {
        Layout::ImageDir => String::new(),
        Layout::ContainerArchive => format!("{CHECKPOINT_DIR}/"),
    };
    let mut out = Vec::new();
    let mut linked = top.clone();
    for (depth, d) in images.chain().enumerate() {
        let label = Path::new(&d.label);
        let prefix = match root {
            Some(r) if depth > 0 && label.is_absolute() => {
                let rel = relative(r, label);
                if rel.as_os_str().is_empty() {
                    String::new()
                } else {
                    format!("{}/", rel.to_string_lossy())
                }
            }
            _ => linked.clone(),
        };
        for (name, b) in &d.files {
            out.push((format!("{prefix}{name}"), b));
        }
        linked.push_str("parent/");
    }
    // Files read from elsewhere are listed by their own path, not under the name the
    // metadata gives them.
    let elsewhere = |name: &str| {
        outside
            .iter()
            .any(|(p, _)| p.file_name().is_some_and(|f| f == name))
    };
    for (name, b) in metadata {
        if !elsewhere(name) {
            out.push((name.clone(), b));
        }
    }
    for (p, b) in outside {
        out.push((p.to_string_lossy().into_owned(), b));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Hashes every file.
pub(super) fn compute(files: &[(String, &Blob)]) -> Manifest {
    Manifest {
        entries: files
            .iter()
            .map(|(path, b)| ManifestEntry {
                path: path.clone(),
                size: b.len() as u64,
                sha256: sha256_of(b),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn blob(s: &str) -> Blob {
        Blob::from_vec(s.as_bytes().to_vec())
    }

    #[test]
    fn paths_and_sha256sum_text() {
        let parent = ImageDir {
            label: "pre".into(),
            files: BTreeMap::from([("pages-1.img".to_string(), blob("old"))]),
            parent: None,
            written: None,
        };
        let images = ImageDir {
            label: "dump".into(),
            files: BTreeMap::from([
                ("inventory.img".to_string(), blob("inv")),
                ("pages-1.img".to_string(), blob("new")),
            ]),
            parent: Some(Box::new(parent)),
            written: None,
        };
        let meta = BTreeMap::from([
            ("config.dump".to_string(), blob("{}")),
            ("odd\\na\nme".to_string(), blob("")),
        ]);
        let files = files_of(Layout::ContainerArchive, None, &images, &meta, &[]);
        let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "checkpoint/inventory.img",
                "checkpoint/pages-1.img",
                "checkpoint/parent/pages-1.img",
                "config.dump",
                "odd\\na\nme"
            ]
        );
        let m = compute(&files);
        // sha256("inv"), as `printf inv | sha256sum` prints it.
        assert_eq!(
            m.entries[0].sha256,
            "89270a50341bb8e83734ee062603c63c219320ed4a40fb9fb8c2792358548e8a"
        );
        let text = m.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[0].ends_with("  checkpoint/inventory.img"));
        assert_eq!(lines[0].len(), 64 + 2 + "checkpoint/inventory.img".len());
        assert_eq!(
            lines[4],
            format!(
                "\\{}  odd\\\\na\\nme",
                super::super::cache::hex(&Sha256::digest(b""))
            )
        );
        assert_eq!(m.entries[2].size, 3);
        let none = BTreeMap::new();
        let bare = files_of(Layout::ImageDir, None, &images, &none, &[]);
        assert_eq!(bare[2].0, "parent/pages-1.img");
        assert_ne!(m.digest(), compute(&bare).digest());
        // A parent reached by its own path, from the directory given.
        let mut images = images;
        if let Some(p) = images.parent.as_mut() {
            p.label = "/ev/images/pre".into();
        }
        let bare = files_of(
            Layout::ImageDir,
            Some(Path::new("/ev/images/dump")),
            &images,
            &none,
            &[],
        );
        // A file read from outside the directory: by its own path, not its metadata name.
        let cfg = BTreeMap::from([("config.v2.json".to_string(), blob("{}"))]);
        let outside = [(
            PathBuf::from("/var/lib/docker/c/config.v2.json"),
            blob("{}"),
        )];
        let docker = files_of(Layout::ImageDir, None, &images, &cfg, &outside);
        let names: Vec<&str> = docker.iter().map(|f| f.0.as_str()).collect();
        assert!(
            names.contains(&"/var/lib/docker/c/config.v2.json"),
            "{names:?}"
        );
        assert!(!names.contains(&"config.v2.json"), "{names:?}");
        assert_eq!(bare[0].0, "../pre/pages-1.img");
        assert_eq!(
            relative(Path::new("/a/b"), Path::new("/a/b/c")),
            PathBuf::from("c")
        );
    }
}
