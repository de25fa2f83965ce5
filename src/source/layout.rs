//! Where the CRIU images are inside an archive: a Podman / CRI-O container archive (`checkpoint/`
//! plus metadata files), a tar of a bare image directory (at the root, or in one directory), and
//! `parent` chains of incremental dumps resolved inside the archive namespace.

use std::collections::BTreeMap;

use super::error::{Error, show};
use super::tar::{Node, TarIndex, Unresolved, join, parent_of};
use super::{Blob, ImageDir, Layout, MAX_PARENT_DEPTH};
use crate::warning::{Kind, Warnings};

/// The images directory of a container archive.
pub(crate) const CHECKPOINT_DIR: &str = "checkpoint";

/// What an archive holds, ready to become a [`super::Source`].
#[derive(Debug)]
pub(crate) struct Found {
    pub layout: Layout,
    pub images: ImageDir,
    pub metadata: BTreeMap<String, Blob>,
    pub warnings: Warnings,
}

/// The link text of a `parent` stored as a regular file (as happens when an image directory is
/// copied without preserving symlinks: the file holds the link's target, e.g. `../pre2`).
pub(crate) fn parent_link_text(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() || bytes.len() > super::tar::MAX_NAME {
        return None;
    }
    let s = std::str::from_utf8(bytes).ok()?;
    let s = s.strip_suffix('\n').unwrap_or(s);
    if s.is_empty() || s.contains(['\0', '\n', '\r']) {
        return None;
    }
    Some(s.to_string())
}

fn has_images(idx: &TarIndex, dir: &str) -> bool {
    idx.file_at(dir, "inventory.img").is_some() || idx.file_at(dir, "pstree.img").is_some()
}

/// The engine's metadata files at the root of a container archive (Podman, CRI-O, containerd
/// all write `config.dump` and `spec.dump`).
fn has_engine_metadata(idx: &TarIndex) -> bool {
    idx.file_at("", "config.dump").is_some() || idx.file_at("", "spec.dump").is_some()
}

fn looks_like_image_dir(idx: &TarIndex, dir: &str) -> bool {
    has_images(idx, dir)
        || idx
            .children(dir)
            .any(|(n, _)| n.starts_with("pagemap-") && n.ends_with(".img"))
}

/// Why the parent of an image directory is not followed.
pub(super) enum Stop {
    /// It is already in the chain.
    Loop,
    /// The chain is longer than [`MAX_PARENT_DEPTH`].
    TooLong,
}

/// The parent to follow of an image directory whose chain so far is `visited`, from what its
/// `parent` link gave (`found`: none, the parent, or a warning why it cannot be followed). None,
/// with a warning, when finding it failed, when it is already in the chain or when the chain is
/// too long (those two worded by `stopped`, which names the places as its input does).
pub(super) fn parent_to_follow<P: PartialEq>(
    found: Result<Option<P>, String>,
    visited: &[P],
    warnings: &mut Warnings,
    stopped: impl FnOnce(Stop, &P) -> String,
) -> Option<P> {
    let p = match found {
        Ok(p) => p?,
        Err(w) => {
            warnings.push(Kind::ParentChain, w);
            return None;
        }
    };
    let stop = if visited.contains(&p) {
        Stop::Loop
    } else if visited.len() > MAX_PARENT_DEPTH {
        Stop::TooLong
    } else {
        return Some(p);
    };
    warnings.push(Kind::ParentChain, stopped(stop, &p));
    None
}

/// The warning for a `parent` of image directory `child` that has none of the images (it is
/// followed all the same).
pub(super) fn not_an_image_dir(parent: &str, child: &str) -> String {
    format!(
        "{parent}: the parent of {child} does not look like a CRIU image directory (no inventory.img, pstree.img or pagemap-*.img)"
    )
}

/// How image directory `dir` of the archive is named in messages: `ARCHIVE:DIR` (`ARCHIVE:.` for
/// the root), to which the model adds `/NAME` for one of its images.
fn label(idx: &TarIndex, dir: &str) -> String {
    if dir.is_empty() {
        format!("{}:.", idx.archive.display())
    } else {
        format!("{}:{}", idx.archive.display(), show(dir.as_bytes()))
    }
}

/// Where `dir/parent` leads inside the archive: `Ok(None)` when there is no parent,
/// `Err(warning)` when it cannot be followed.
fn parent_dir(idx: &TarIndex, dir: &str) -> Result<Option<String>, String> {
    let link = join(dir, "parent");
    let shown = show(link.as_bytes());
    let unavailable = "incremental pages of the parent are unavailable";
    let target = match idx.node(&link) {
        None => return Ok(None),
        // `tar -h` stores the parent dump itself under `parent/`.
        Some(Node::Dir) => return Ok(Some(link)),
        Some(Node::Symlink(t)) => t.clone(),
        Some(Node::File(b)) => match parent_link_text(b.bytes()) {
            Some(t) => t,
            None => {
                return Err(format!(
                    "{}: {shown} is a regular file that does not hold a link target: {unavailable}",
                    idx.archive.display()
                ));
            }
        },
    };
    let t = show(target.as_bytes());
    match idx.resolve(dir, &target) {
        Ok(p) if idx.is_dir(&p) => Ok(Some(p)),
        Ok(p) => Err(format!(
            "{}: parent link {shown} -> {t} leads to {}, which is not a directory in the archive: {unavailable}",
            idx.archive.display(),
            show(p.as_bytes())
        )),
        Err(Unresolved::Escapes) => Err(format!(
            "{}: parent link {shown} -> {t} points outside the archive: {unavailable}",
            idx.archive.display()
        )),
        Err(Unresolved::Loop) => Err(format!(
            "{}: parent link {shown} -> {t}: too many symlink hops (a loop): {unavailable}",
            idx.archive.display()
        )),
    }
}

/// The image directory `dir` of the archive with its `parent` chain.
fn image_dir(
    idx: &TarIndex,
    dir: &str,
    visited: &mut Vec<String>,
    warnings: &mut Warnings,
) -> ImageDir {
    visited.push(dir.to_string());
    let mut files = BTreeMap::new();
    for (name, node) in idx.children(dir) {
        if name == "parent" {
            continue;
        }
        match node {
            Node::File(b) => {
                files.insert(name.to_string(), b.clone());
            }
            Node::Symlink(t) => match idx.file_at(dir, name) {
                Some(b) => {
                    files.insert(name.to_string(), b);
                }
                None => warnings.push(
                    Kind::ParentChain,
                    format!(
                        "{}: symlink {} -> {} does not lead to a file in the archive: ignored",
                        idx.archive.display(),
                        show(join(dir, name).as_bytes()),
                        show(t.as_bytes())
                    ),
                ),
            },
            Node::Dir => {}
        }
    }
    let found = parent_dir(idx, dir);
    let parent = parent_to_follow(found, visited, warnings, |stop, p| match stop {
        Stop::Loop => format!(
            "{}: the parent chain loops back to {}: stopped there",
            idx.archive.display(),
            label(idx, p)
        ),
        Stop::TooLong => format!(
            "{}: parent chain longer than {MAX_PARENT_DEPTH}: stopped at {}",
            idx.archive.display(),
            label(idx, dir)
        ),
    })
    .map(|p| {
        if !looks_like_image_dir(idx, &p) {
            let w = not_an_image_dir(&label(idx, &p), &label(idx, dir));
            warnings.push(Kind::ParentChain, w);
        }
        Box::new(image_dir(idx, &p, visited, warnings))
    });
    ImageDir {
        label: label(idx, dir),
        files,
        parent,
        written: ["inventory.img", "pstree.img"]
            .iter()
            .find_map(|n| idx.mtime(&join(dir, n))),
    }
}

/// True when the archive holds CRIU images where a checkpoint archive has them: at its root, in
/// `checkpoint/`, or in one directory (an archive of an image directory).
pub(crate) fn holds_images(idx: &TarIndex) -> bool {
    has_images(idx, "") || idx.is_dir(CHECKPOINT_DIR) || find_image_dir(idx).is_ok()
}

/// Finds the images in an indexed archive and splits images from metadata.
pub(crate) fn from_archive(idx: &TarIndex) -> Result<Found, Error> {
    let mut warnings = idx.warnings.clone();
    let (layout, dir) = if has_images(idx, "") {
        (Layout::ImageDir, String::new())
    } else if idx.is_dir(CHECKPOINT_DIR) {
        // A container archive whose checkpoint/ lost its images still has its engine's
        // metadata to show (the model warns that the images are missing).
        if !has_images(idx, CHECKPOINT_DIR) && !has_engine_metadata(idx) {
            return Err(Error::invalid(
                &idx.archive,
                "a container archive whose checkpoint/ holds neither inventory.img nor pstree.img",
            ));
        }
        (Layout::ContainerArchive, CHECKPOINT_DIR.to_string())
    } else {
        (Layout::ImageDir, find_image_dir(idx)?)
    };
    let images = image_dir(idx, &dir, &mut Vec::new(), &mut warnings);
    let mut metadata = BTreeMap::new();
    if layout == Layout::ContainerArchive {
        for (path, node) in idx.nodes() {
            if parent_of(path) == CHECKPOINT_DIR {
                continue;
            }
            match node {
                Node::File(b) => {
                    metadata.insert(path.to_string(), b.clone());
                }
                Node::Symlink(_) => {
                    if let Some(b) = idx.file_at(parent_of(path), super::tar::base_name(path)) {
                        metadata.insert(path.to_string(), b);
                    }
                }
                Node::Dir => {}
            }
        }
    }
    Ok(Found {
        layout,
        images,
        metadata,
        warnings,
    })
}

/// An archive of a bare image directory not at the root: the one directory holding `pstree.img`
/// (a dump; pre-dumps have none), else `inventory.img`; among several, the one that is no other's
/// parent.
fn find_image_dir(idx: &TarIndex) -> Result<String, Error> {
    let with = |f: &str| -> Vec<String> {
        idx.dirs()
            .filter(|d| idx.file_at(d, f).is_some())
            .map(str::to_string)
            .collect()
    };
    let mut cands = with("pstree.img");
    if cands.is_empty() {
        cands = with("inventory.img");
    }
    if cands.len() > 1 {
        let parents: Vec<String> = cands
            .iter()
            .filter_map(|d| parent_dir(idx, d).ok().flatten())
            .collect();
        cands.retain(|d| !parents.contains(d));
    }
    match cands.len() {
        1 => Ok(cands.remove(0)),
        0 => Err(Error::NotCheckpoint {
            path: idx.archive.clone(),
            why: "a tar archive without CRIU images (no inventory.img or pstree.img at its root, in checkpoint/ or in a directory)".into(),
        }),
        _ => {
            let list: Vec<String> = cands.iter().take(5).map(|d| format!("{}/", show(d.as_bytes()))).collect();
            Err(Error::invalid(
                &idx.archive,
                format!(
                    "several CRIU image directories, none the parent of the others ({}{}): cannot tell which to open",
                    list.join(", "),
                    if cands.len() > 5 { ", ..." } else { "" }
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::test_util::*;
    use std::path::Path;

    fn found(t: Vec<u8>) -> Result<Found, Error> {
        let idx = TarIndex::build(Path::new("/t/a.tar"), &Blob::from_vec(t))?;
        from_archive(&idx)
    }

    #[test]
    fn container_archive_with_dot_prefix() {
        let t = TarSpec::new()
            .dir("./", 0o755)
            .file("./config.dump", b"{\"id\":\"x\"}")
            .file("./spec.dump", b"{}")
            .dir("./checkpoint/", 0o700)
            .file("./checkpoint/inventory.img", b"INV")
            .file("./checkpoint/pstree.img", b"PS")
            .file("./artifacts/a/b.txt", b"art")
            .build_gnu();
        let f = found(t).unwrap();
        assert_eq!(f.layout, Layout::ContainerArchive);
        assert_eq!(f.images.label, "/t/a.tar:checkpoint");
        assert_eq!(
            f.images.files.keys().collect::<Vec<_>>(),
            ["inventory.img", "pstree.img"]
        );
        assert_eq!(
            f.metadata.keys().collect::<Vec<_>>(),
            ["artifacts/a/b.txt", "config.dump", "spec.dump"]
        );
        assert_eq!(f.metadata["config.dump"].bytes(), b"{\"id\":\"x\"}");
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    }

    #[test]
    fn bare_image_archive_at_root_and_in_one_dir() {
        let t = TarSpec::new()
            .file("inventory.img", b"I")
            .file("core-1.img", b"C")
            .build_gnu();
        let f = found(t).unwrap();
        assert_eq!(f.layout, Layout::ImageDir);
        assert_eq!(f.images.files.len(), 2);
        assert!(f.metadata.is_empty());

        let t = TarSpec::new()
            .file("images/inventory.img", b"I")
            .file("images/pstree.img", b"P")
            .build_gnu();
        let f = found(t).unwrap();
        assert_eq!(f.images.label, "/t/a.tar:images");
        assert_eq!(f.images.files.len(), 2);
    }

    #[test]
    fn incremental_chain_in_archive() {
        let t = TarSpec::new()
            .file("pre/inventory.img", b"I0")
            .file("pre/pages-1.img", b"P0")
            .file("pre2/inventory.img", b"I1")
            .symlink("pre2/parent", "../pre")
            .file("dump/inventory.img", b"I2")
            .file("dump/pstree.img", b"PS")
            .symlink("dump/parent", "../pre2")
            .build_gnu();
        let f = found(t).unwrap();
        assert_eq!(f.images.label, "/t/a.tar:dump");
        assert!(!f.images.files.contains_key("parent"));
        let p = f.images.parent.as_ref().unwrap();
        assert_eq!(p.label, "/t/a.tar:pre2");
        let pp = p.parent.as_ref().unwrap();
        assert_eq!(pp.files["pages-1.img"].bytes(), b"P0");
        assert!(pp.parent.is_none());
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    }

    #[test]
    fn chain_loop_and_missing_parent_warn() {
        let t = TarSpec::new()
            .file("a/pstree.img", b"P")
            .file("a/inventory.img", b"I")
            .symlink("a/parent", "../b")
            .file("b/inventory.img", b"I")
            .symlink("b/parent", "../a")
            .build_gnu();
        let f = found(t).unwrap();
        assert_eq!(f.images.label, "/t/a.tar:a");
        let b = f.images.parent.as_ref().unwrap();
        assert!(b.parent.is_none());
        // The model names an image as `LABEL/NAME`: one slash between them.
        assert_eq!(
            format!("{}/pagemap-1.img", b.label),
            "/t/a.tar:b/pagemap-1.img"
        );
        // One warning, naming the directory the chain loops back to.
        assert_eq!(f.warnings.kinds(), [Kind::ParentChain], "{:?}", f.warnings);
        assert!(
            f.warnings[0]
                .message
                .ends_with("loops back to /t/a.tar:a: stopped there"),
            "{:?}",
            f.warnings
        );

        let t = TarSpec::new()
            .file("checkpoint/pstree.img", b"P")
            .symlink("checkpoint/parent", "../pre-checkpoint")
            .build_gnu();
        let f = found(t).unwrap();
        assert!(f.images.parent.is_none());
        assert!(
            f.warnings.kinds() == [Kind::ParentChain],
            "{:?}",
            f.warnings
        );

        let t = TarSpec::new()
            .file("checkpoint/pstree.img", b"P")
            .symlink("checkpoint/parent", "../../pre")
            .build_gnu();
        let f = found(t).unwrap();
        assert!(f.images.parent.is_none());
        assert!(
            f.warnings.kinds() == [Kind::ParentChain]
                && f.warnings[0]
                    .message
                    .contains("checkpoint/parent -> ../../pre"),
            "{:?}",
            f.warnings
        );
    }

    #[test]
    fn parent_as_regular_file_holding_the_target() {
        let t = TarSpec::new()
            .file("pre/inventory.img", b"I0")
            .file("dump/pstree.img", b"PS")
            .file("dump/parent", b"../pre")
            .build_gnu();
        let f = found(t).unwrap();
        assert_eq!(f.images.parent.as_ref().unwrap().label, "/t/a.tar:pre");
        assert!(!f.images.files.contains_key("parent"));
    }

    #[test]
    fn no_images_and_ambiguous() {
        let t = TarSpec::new().file("readme.txt", b"x").build_gnu();
        let e = found(t).unwrap_err().to_string();
        assert!(e.contains("not a checkpoint"), "{e}");
        let t = TarSpec::new()
            .file("a/pstree.img", b"x")
            .file("b/pstree.img", b"y")
            .build_gnu();
        let e = found(t).unwrap_err().to_string();
        assert!(e.contains("several CRIU image directories"), "{e}");
        let t = TarSpec::new().file("checkpoint/x", b"x").build_gnu();
        let e = found(t).unwrap_err().to_string();
        assert!(e.contains("checkpoint/ holds neither"), "{e}");
        // With the engine's metadata it is a container archive without images.
        let t = TarSpec::new()
            .file("config.dump", b"{}")
            .file("checkpoint/x", b"x")
            .build_gnu();
        let f = found(t).unwrap();
        assert_eq!(f.layout, Layout::ContainerArchive);
        assert!(f.metadata.contains_key("config.dump"));
        assert!(!f.images.files.contains_key("pstree.img"));
    }
}
