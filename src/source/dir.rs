//! A checkpoint given as a directory: a CRIU image directory (with its `parent` chain followed on
//! the filesystem) or an extracted container archive (`checkpoint/` + metadata files).
//!
//! Files are opened read-only, without following symlinks and without updating atime where
//! permitted; small files are read into memory, larger ones mapped.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::error::{Error, show};
use super::layout::{
    CHECKPOINT_DIR, Found, Stop, not_an_image_dir, parent_link_text, parent_to_follow,
};
use super::tar::MAX_ENTRIES;
use super::{Blob, ImageDir, Layout, MAX_PARENT_DEPTH};
use crate::warning::{Kind, Warnings};

/// Files up to this size are read into memory rather than mapped (a mapping per small file would
/// waste address-space entries: the kernel caps a process at ~65530).
const SMALL_FILE: u64 = 64 * 1024;
/// Deepest directory level walked for metadata.
const MAX_WALK_DEPTH: usize = 64;

/// Opens a file read-only for evidence: never creates, never blocks on a FIFO, `O_NOATIME` when
/// the kernel allows it, `O_NOFOLLOW` unless `follow`. Fails unless it is a regular file.
pub(crate) fn open_evidence(path: &Path, follow: bool) -> std::io::Result<File> {
    let base = libc::O_NONBLOCK | if follow { 0 } else { libc::O_NOFOLLOW };
    let open = |flags: i32| {
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(path)
    };
    let f = match open(base | libc::O_NOATIME) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => open(base)?,
        r => r?,
    };
    let md = f.metadata()?;
    if !md.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(f)
}

/// A regular file's bytes: read when small, mapped otherwise. No symlink following.
pub(crate) fn load_file(path: &Path) -> std::io::Result<Blob> {
    let f = open_evidence(path, false)?;
    let len = f.metadata()?.len();
    if len <= SMALL_FILE {
        let mut v = Vec::with_capacity(len as usize);
        f.take(SMALL_FILE + 1).read_to_end(&mut v)?;
        if v.len() as u64 <= SMALL_FILE {
            return Ok(Blob::from_vec(v));
        }
        // It grew while we read: map it instead.
        let f = open_evidence(path, false)?;
        return Blob::map(&f);
    }
    Blob::map(&f)
}

fn is_regular(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.is_file())
}

/// True when `dir` directly holds `inventory.img` or `pstree.img` (regular files).
pub(crate) fn has_images(dir: &Path) -> bool {
    is_regular(&dir.join("inventory.img")) || is_regular(&dir.join("pstree.img"))
}

/// True when `dir` is one checkpoint (a CRIU image directory or an extracted container archive,
/// as [`open_dir`] takes them) rather than a directory holding checkpoints.
pub fn is_checkpoint_dir(dir: &Path) -> bool {
    has_images(dir)
        || fs::symlink_metadata(dir.join(CHECKPOINT_DIR)).is_ok_and(|m| m.is_dir())
        || super::oci::detect_dir(dir).is_some()
}

/// Opens a directory input.
pub(crate) fn open_dir(abs: &Path) -> Result<Found, Error> {
    let root =
        fs::canonicalize(abs).map_err(|e| Error::io(abs, "cannot resolve the directory", e))?;
    let mut warnings = Warnings::new();
    let mut count = 0usize;
    if has_images(&root) {
        let images = image_dir(
            &root,
            abs.display().to_string(),
            &mut Vec::new(),
            &mut warnings,
            &mut count,
        )?;
        return Ok(Found {
            layout: Layout::ImageDir,
            images,
            metadata: BTreeMap::new(),
            warnings,
        });
    }
    let ckpt = root.join(CHECKPOINT_DIR);
    if fs::symlink_metadata(&ckpt).is_ok_and(|m| m.is_dir()) {
        let engine_metadata = ["config.dump", "spec.dump"]
            .iter()
            .any(|n| fs::symlink_metadata(root.join(n)).is_ok_and(|m| m.is_file()));
        if !has_images(&ckpt) && !engine_metadata {
            return Err(Error::invalid(
                abs,
                "an extracted container archive whose checkpoint/ holds neither inventory.img nor pstree.img",
            ));
        }
        let label = abs.join(CHECKPOINT_DIR).display().to_string();
        let images = image_dir(&ckpt, label, &mut Vec::new(), &mut warnings, &mut count)?;
        let mut metadata = BTreeMap::new();
        walk(&root, "", 0, &mut metadata, &mut warnings, &mut count, abs)?;
        return Ok(Found {
            layout: Layout::ContainerArchive,
            images,
            metadata,
            warnings,
        });
    }
    let mut hint = String::new();
    if let Ok(rd) = fs::read_dir(&root) {
        let mut subs: Vec<String> = rd
            .flatten()
            .take(10_000)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && has_images(&e.path()))
            .map(|e| show(e.file_name().as_encoded_bytes()))
            .collect();
        subs.sort();
        if !subs.is_empty() {
            hint = format!(
                "; it holds image directories: {} (give one of them)",
                subs.iter()
                    .take(5)
                    .map(|s| format!("{s}/"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Err(Error::NotCheckpoint {
        path: abs.to_path_buf(),
        why: format!(
            "a directory that is neither a CRIU image directory (no inventory.img or pstree.img) nor an extracted container archive (no checkpoint/){hint}"
        ),
    })
}

fn count_one(count: &mut usize, at: &Path) -> Result<(), Error> {
    *count += 1;
    if *count > MAX_ENTRIES {
        return Err(Error::invalid(
            at,
            format!("more than {MAX_ENTRIES} files: refused as pathological"),
        ));
    }
    Ok(())
}

/// The name of `ent` (at `path`), or None with a warning when it is not UTF-8 (the entry is
/// ignored).
fn utf8_name(ent: &fs::DirEntry, path: &Path, warnings: &mut Warnings) -> Option<String> {
    let name = ent.file_name().to_str().map(str::to_string);
    if name.is_none() {
        warnings.push(
            Kind::NameNotUtf8,
            format!(
                "{}: name is not UTF-8: ignored",
                show(path.as_os_str().as_encoded_bytes())
            ),
        );
    }
    name
}

/// The image directory `dir` (canonical) and its parent chain.
fn image_dir(
    dir: &Path,
    label: String,
    visited: &mut Vec<PathBuf>,
    warnings: &mut Warnings,
    count: &mut usize,
) -> Result<ImageDir, Error> {
    visited.push(dir.to_path_buf());
    let mut files = BTreeMap::new();
    let rd = fs::read_dir(dir).map_err(|e| Error::io(dir, "cannot list the image directory", e))?;
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(dir, "cannot list the image directory", e))?;
        count_one(count, dir)?;
        let path = ent.path();
        let Some(name) = utf8_name(&ent, &path, warnings) else {
            continue;
        };
        if name == "parent" {
            continue;
        }
        let ft = ent
            .file_type()
            .map_err(|e| Error::io(&path, "cannot stat", e))?;
        if ft.is_file() {
            let blob = load_file(&path).map_err(|e| Error::io(&path, "cannot read", e))?;
            files.insert(name, blob);
        } else if ft.is_symlink() {
            warnings.push(Kind::EntryIgnored, format!(
                "{}: a symlink in the image directory: ignored (only `parent` links are followed)",
                path.display()
            ));
        } else if !ft.is_dir() {
            warnings.push(
                Kind::EntryIgnored,
                format!("{}: not a regular file: ignored", path.display()),
            );
        }
    }
    let found = parent_dir(dir);
    let parent = parent_to_follow(found, visited, warnings, |stop, p| match stop {
        Stop::Loop => format!(
            "{}: the parent chain loops back to {}: stopped there",
            dir.join("parent").display(),
            p.display()
        ),
        Stop::TooLong => format!(
            "{}: parent chain longer than {MAX_PARENT_DEPTH}: stopped here",
            dir.display()
        ),
    })
    .and_then(|p| {
        if !has_images(&p) && !has_pagemap(&p) {
            let w = not_an_image_dir(&p.display().to_string(), &dir.display().to_string());
            warnings.push(Kind::ParentChain, w);
        }
        let label = p.display().to_string();
        match image_dir(&p, label, visited, warnings, count) {
            Ok(d) => Some(Box::new(d)),
            Err(e) => {
                warnings.push(
                    Kind::ParentChain,
                    format!("{e}: incremental pages of the parent are unavailable"),
                );
                None
            }
        }
    });
    let written = ["inventory.img", "pstree.img"].iter().find_map(|n| {
        fs::symlink_metadata(dir.join(n))
            .and_then(|m| m.modified())
            .ok()
    });
    Ok(ImageDir {
        label,
        files,
        parent,
        written,
    })
}

fn has_pagemap(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|rd| {
        rd.flatten().take(100_000).any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with("pagemap-") && n.ends_with(".img"))
        })
    })
}

/// Where `dir/parent` leads (canonical): a symlink (followed on the filesystem, anywhere), a
/// directory (a dereferenced copy), or a regular file holding the link text (a copy that did not
/// keep the symlink). `Err(warning)` when it cannot be followed.
fn parent_dir(dir: &Path) -> Result<Option<PathBuf>, String> {
    let link = dir.join("parent");
    let unavailable = "incremental pages of the parent are unavailable";
    let md = match fs::symlink_metadata(&link) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}: {unavailable}", link.display())),
        Ok(m) => m,
    };
    let target: PathBuf = if md.is_symlink() {
        fs::read_link(&link).map_err(|e| format!("{}: {e}: {unavailable}", link.display()))?
    } else if md.is_dir() {
        PathBuf::from("parent")
    } else if md.is_file() {
        let text = load_file(&link)
            .ok()
            .and_then(|b| parent_link_text(b.bytes()))
            .ok_or_else(|| {
                format!(
                    "{}: a regular file that does not hold a link target: {unavailable}",
                    link.display()
                )
            })?;
        PathBuf::from(text)
    } else {
        return Err(format!(
            "{}: not a link, directory or file: {unavailable}",
            link.display()
        ));
    };
    let joined = dir.join(&target);
    match fs::canonicalize(&joined) {
        Ok(p) if p.is_dir() => Ok(Some(p)),
        Ok(p) => Err(format!(
            "parent link {} -> {} leads to {}, which is not a directory: {unavailable}",
            link.display(),
            target.display(),
            p.display()
        )),
        Err(e) => Err(format!(
            "parent link {} -> {}: {e}: {unavailable}",
            link.display(),
            target.display()
        )),
    }
}

/// Every regular file under `root` except those directly in `checkpoint/`, by relative path.
/// Symlinks are not followed (ignored with a warning, except `parent` links).
fn walk(
    dir: &Path,
    rel: &str,
    depth: usize,
    out: &mut BTreeMap<String, Blob>,
    warnings: &mut Warnings,
    count: &mut usize,
    top: &Path,
) -> Result<(), Error> {
    if depth > MAX_WALK_DEPTH {
        warnings.push(
            Kind::LimitReached,
            format!(
                "{}: deeper than {MAX_WALK_DEPTH} levels: not walked",
                dir.display()
            ),
        );
        return Ok(());
    }
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            warnings.push(
                Kind::Unreadable,
                format!("{}: cannot list: {e}: skipped", dir.display()),
            );
            return Ok(());
        }
    };
    let mut ents: Vec<_> = rd.flatten().collect();
    ents.sort_by_key(|e| e.file_name());
    for ent in ents {
        count_one(count, top)?;
        let path = ent.path();
        let Some(name) = utf8_name(&ent, &path, warnings) else {
            continue;
        };
        let relp = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let Ok(ft) = ent.file_type() else { continue };
        if ft.is_dir() {
            walk(&path, &relp, depth + 1, out, warnings, count, top)?;
        } else if ft.is_file() {
            if rel == CHECKPOINT_DIR {
                continue; // an image
            }
            match load_file(&path) {
                Ok(b) => {
                    out.insert(relp, b);
                }
                Err(e) => warnings.push(
                    Kind::Unreadable,
                    format!("{}: cannot read: {e}: skipped", path.display()),
                ),
            }
        } else if ft.is_symlink() {
            if name != "parent" {
                warnings.push(
                    Kind::EntryIgnored,
                    format!("{}: a symlink: ignored", path.display()),
                );
            }
        } else {
            warnings.push(
                Kind::EntryIgnored,
                format!("{}: not a regular file: ignored", path.display()),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::test_util::*;
    use std::os::unix::fs::symlink;

    fn mkdump(dir: &Path, files: &[(&str, &[u8])]) {
        fs::create_dir_all(dir).unwrap();
        for (n, d) in files {
            fs::write(dir.join(n), d).unwrap();
        }
    }

    #[test]
    fn parent_chain_by_symlink() {
        let t = TempDir::new("chain");
        mkdump(
            &t.join("pre"),
            &[("inventory.img", b"I0"), ("pages-1.img", b"P0")],
        );
        mkdump(&t.join("pre2"), &[("inventory.img", b"I1")]);
        symlink("../pre", t.join("pre2/parent")).unwrap();
        mkdump(
            &t.join("dump"),
            &[("inventory.img", b"I2"), ("pstree.img", b"PS")],
        );
        symlink("../pre2", t.join("dump/parent")).unwrap();
        symlink("/etc/passwd", t.join("dump/evil.img")).unwrap();
        let f = open_dir(&t.join("dump")).unwrap();
        assert_eq!(f.layout, Layout::ImageDir);
        assert_eq!(
            f.images.files.keys().collect::<Vec<_>>(),
            ["inventory.img", "pstree.img"]
        );
        let p = f.images.parent.as_ref().unwrap();
        assert!(p.label.ends_with("/pre2"), "{}", p.label);
        let pp = p.parent.as_ref().unwrap();
        assert_eq!(pp.files["pages-1.img"].bytes(), b"P0");
        assert!(pp.parent.is_none());
        assert_eq!(f.warnings.kinds(), [Kind::EntryIgnored], "{:?}", f.warnings);
        assert!(f.warnings[0].message.contains("evil.img"));
    }

    #[test]
    fn parent_loop_and_missing() {
        let t = TempDir::new("loop");
        mkdump(&t.join("a"), &[("pstree.img", b"P")]);
        mkdump(&t.join("b"), &[("inventory.img", b"I")]);
        symlink("../b", t.join("a/parent")).unwrap();
        symlink("../a", t.join("b/parent")).unwrap();
        let f = open_dir(&t.join("a")).unwrap();
        assert!(f.images.parent.as_ref().unwrap().parent.is_none());
        assert!(f.warnings.has(Kind::ParentChain), "{:?}", f.warnings);

        // self loop
        mkdump(&t.join("c"), &[("pstree.img", b"P")]);
        symlink(".", t.join("c/parent")).unwrap();
        let f = open_dir(&t.join("c")).unwrap();
        assert!(f.images.parent.is_none());
        assert!(f.warnings.has(Kind::ParentChain), "{:?}", f.warnings);

        mkdump(&t.join("d"), &[("pstree.img", b"P")]);
        symlink("../nonexistent", t.join("d/parent")).unwrap();
        let f = open_dir(&t.join("d")).unwrap();
        assert!(f.images.parent.is_none());
        assert_eq!(f.warnings.kinds(), [Kind::ParentChain], "{:?}", f.warnings);
    }

    #[test]
    fn parent_as_regular_file() {
        let t = TempDir::new("pfile");
        mkdump(&t.join("pre"), &[("inventory.img", b"I0")]);
        mkdump(
            &t.join("dump"),
            &[("pstree.img", b"PS"), ("parent", b"../pre")],
        );
        let f = open_dir(&t.join("dump")).unwrap();
        assert!(f.images.parent.is_some());
        assert!(!f.images.files.contains_key("parent"));
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    }

    #[test]
    fn extracted_container_archive() {
        let t = TempDir::new("ctr");
        mkdump(
            &t.join("checkpoint"),
            &[("inventory.img", b"I"), ("core-1.img", b"C")],
        );
        mkdump(t.path(), &[("config.dump", b"{}"), ("spec.dump", b"{}")]);
        mkdump(&t.join("artifacts/x"), &[("y", b"Y")]);
        let f = open_dir(t.path()).unwrap();
        assert_eq!(f.layout, Layout::ContainerArchive);
        assert_eq!(f.images.files.len(), 2);
        assert_eq!(
            f.metadata.keys().collect::<Vec<_>>(),
            ["artifacts/x/y", "config.dump", "spec.dump"]
        );
    }

    #[test]
    fn not_a_checkpoint_dir_hints() {
        let t = TempDir::new("none");
        mkdump(&t.join("dump"), &[("pstree.img", b"P")]);
        let e = open_dir(t.path()).unwrap_err().to_string();
        assert!(e.contains("not a checkpoint"), "{e}");
        assert!(e.contains("dump/"), "{e}");
    }

    #[test]
    fn fifo_is_not_opened() {
        let t = TempDir::new("fifo");
        mkdump(t.path(), &[("pstree.img", b"P")]);
        let c =
            std::ffi::CString::new(t.join("pages-1.img").as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: plain libc call with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let f = open_dir(t.path()).unwrap();
        assert!(!f.images.files.contains_key("pages-1.img"));
        assert!(
            f.warnings[0].kind == Kind::EntryIgnored
                && f.warnings[0].message.contains("pages-1.img"),
            "{:?}",
            f.warnings
        );
    }
}
