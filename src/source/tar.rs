//! Index of an uncompressed tar archive held in a [`Blob`]: entry name -> data (zero copy).
//!
//! Iteration uses the `tar` crate over the mapped bytes (`entries_with_seek`, so file data is
//! skipped, never read); each regular file becomes a slice of the archive's blob at
//! `raw_file_position()`. Names are normalized (`./` and empty components dropped); `..`
//! components and absolute names are rejected. Symlinks are kept as links (resolved only inside the
//! archive namespace); hardlinks take their target's data.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use super::Blob;
use super::error::{Error, show};
use super::path::{self, Root};
pub(crate) use super::path::{Unresolved, base_name, join, normalize, parent_of};
use crate::warning::{Kind, Warnings};

/// At most this many entries (headers yielded by the tar crate) in one archive.
pub(crate) const MAX_ENTRIES: usize = 1_000_000;
/// Longest accepted entry or link name, in bytes (PATH_MAX).
pub(crate) const MAX_NAME: usize = 4096;
/// Largest accepted GNU long-name / long-link / PAX extension header (the tar crate reads them
/// into memory).
const MAX_EXTENSION: u64 = 1 << 20;
const BLOCK: u64 = 512;

/// One indexed entry.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// A regular file (or a hardlink to one): its data.
    File(Blob),
    /// An explicit directory entry.
    Dir,
    /// A symlink whose target (relative, not escaping the archive root lexically) is kept as text.
    Symlink(String),
}

/// A tar archive's entries by normalized path (no leading `./`, no trailing `/`; `""` is the root).
#[derive(Debug, Clone)]
pub(crate) struct TarIndex {
    /// The archive as named in messages (the user's input path).
    pub archive: PathBuf,
    nodes: BTreeMap<String, Node>,
    /// Regular files' modification times (seconds since the epoch, from their headers).
    mtimes: BTreeMap<String, u64>,
    /// Directories implied by deeper entries (a tar need not contain directory entries).
    implied: BTreeSet<String>,
    /// Non-fatal problems found while indexing.
    pub warnings: Warnings,
}

/// Rounds up to the tar block size.
fn round_up(n: u64) -> Option<u64> {
    Some(n.checked_add(BLOCK - 1)? & !(BLOCK - 1))
}

/// True when a link `target`, read relative to `dir`, stays inside the archive lexically.
fn stays_inside(dir: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return false;
    }
    let mut depth: usize = if dir.is_empty() {
        0
    } else {
        dir.split('/').count()
    };
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            _ => depth += 1,
        }
    }
    true
}

/// True when `head` (the first 512 bytes of a file) is a tar header: the `ustar` magic at offset
/// 257 (POSIX and GNU formats), or, for old v7 archives without magic, a valid header checksum
/// over a non-empty name.
pub(crate) fn looks_like_tar(head: &[u8]) -> bool {
    let Some(h) = head.get(..512) else {
        return false;
    };
    if &h[257..262] == b"ustar" {
        return true;
    }
    if h[0] == 0 {
        return false;
    }
    let field = &h[148..156];
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(b))
        .collect();
    if digits.is_empty() {
        return false;
    }
    let Ok(stored) = u32::from_str_radix(std::str::from_utf8(&digits).unwrap_or("x"), 8) else {
        return false;
    };
    let sum: u32 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                u32::from(b' ')
            } else {
                u32::from(b)
            }
        })
        .sum();
    sum == stored
}

/// Before the tar crate reads the next member, checks the extension headers (GNU long name / long
/// link, PAX) that precede it: the crate reads those into memory, so their size is capped here.
fn check_extensions(bytes: &[u8], mut pos: u64) -> Result<(), (u64, String)> {
    for _ in 0..16 {
        let Some(end) = pos.checked_add(BLOCK) else {
            return Ok(());
        };
        let (Ok(start), Ok(end)) = (usize::try_from(pos), usize::try_from(end)) else {
            return Ok(());
        };
        let Some(raw) = bytes.get(start..end) else {
            return Ok(()); // the crate reports the short header
        };
        if raw.iter().all(|&b| b == 0) {
            return Ok(());
        }
        let kind = raw[156];
        if !matches!(kind, b'L' | b'K' | b'x' | b'g') {
            return Ok(());
        }
        let mut header = tar::Header::new_old();
        header.as_mut_bytes().copy_from_slice(raw);
        let size = match header.entry_size() {
            Ok(s) => s,
            Err(_) => return Ok(()), // the crate reports the bad field
        };
        if size > MAX_EXTENSION {
            return Err((
                pos,
                format!(
                    "extension header (type '{}') declares {size} bytes, more than the {MAX_EXTENSION} accepted",
                    kind as char
                ),
            ));
        }
        pos = match round_up(size)
            .and_then(|s| s.checked_add(BLOCK))
            .and_then(|s| pos.checked_add(s))
        {
            Some(p) => p,
            None => return Ok(()),
        };
    }
    Ok(())
}

impl TarIndex {
    /// Indexes the tar archive in `data`. `archive` names it in messages.
    pub(crate) fn build(archive: &Path, data: &Blob) -> Result<TarIndex, Error> {
        let mut idx = TarIndex {
            archive: archive.to_path_buf(),
            nodes: BTreeMap::new(),
            mtimes: BTreeMap::new(),
            implied: BTreeSet::new(),
            warnings: Warnings::new(),
        };
        let bytes = data.bytes();
        let len = bytes.len() as u64;
        // The tar crate's messages quote header bytes as they are (newlines, escape sequences):
        // escape them, so the error stays one clean line.
        let corrupt = |offset: u64, why: String| Error::Corrupt {
            archive: archive.to_path_buf(),
            offset,
            why: show(why.as_bytes()),
        };
        let mut ar = tar::Archive::new(io::Cursor::new(bytes));
        let mut entries = ar
            .entries_with_seek()
            .map_err(|e| corrupt(0, e.to_string()))?;
        let mut next_pos: u64 = 0;
        let mut count: usize = 0;
        loop {
            check_extensions(bytes, next_pos).map_err(|(off, why)| corrupt(off, why))?;
            let mut entry = match entries.next() {
                None => break,
                Some(Err(e)) => {
                    let why = if e.kind() == io::ErrorKind::UnexpectedEof {
                        format!("incomplete header ({e}): the archive is truncated")
                    } else {
                        e.to_string()
                    };
                    return Err(corrupt(next_pos, why));
                }
                Some(Ok(e)) => e,
            };
            count += 1;
            if count > MAX_ENTRIES {
                return Err(Error::invalid(
                    archive,
                    format!("more than {MAX_ENTRIES} entries: refused as pathological"),
                ));
            }
            let header_pos = entry.raw_header_position();
            let pos = entry.raw_file_position();
            let size = entry.size();
            let raw_name = entry.path_bytes().into_owned();
            let shown = show(&raw_name);
            let data_end = pos.checked_add(size);
            next_pos = match round_up(size).and_then(|s| pos.checked_add(s)) {
                Some(p) => p,
                None => {
                    return Err(Error::Truncated {
                        archive: archive.to_path_buf(),
                        entry: shown,
                        size,
                        offset: pos,
                        len,
                    });
                }
            };
            let entry_type = entry.header().entry_type();
            if entry_type == tar::EntryType::XGlobalHeader {
                continue;
            }
            let bad = |why: String| Error::BadEntry {
                archive: archive.to_path_buf(),
                entry: shown.clone(),
                why,
            };
            if raw_name.len() > MAX_NAME {
                return Err(bad(format!(
                    "name of {} bytes at offset {header_pos}: longer than {MAX_NAME}",
                    raw_name.len()
                )));
            }
            if raw_name.contains(&0) {
                return Err(bad(format!(
                    "name contains a NUL byte (offset {header_pos})"
                )));
            }
            let Ok(name_str) = std::str::from_utf8(&raw_name) else {
                idx.warnings.push(
                    Kind::NameNotUtf8,
                    format!(
                        "{}: entry {shown}: name is not UTF-8: ignored",
                        archive.display()
                    ),
                );
                continue;
            };
            let name = normalize(name_str).map_err(|why| bad(why.to_string()))?;
            let is_dir_name = name_str.ends_with('/');
            match entry_type {
                tar::EntryType::Directory => {
                    if !name.is_empty() {
                        idx.insert(name, Node::Dir);
                    }
                }
                tar::EntryType::Regular | tar::EntryType::Continuous if is_dir_name => {
                    if !name.is_empty() {
                        idx.insert(name, Node::Dir);
                    }
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    if name.is_empty() {
                        return Err(bad("a regular file with an empty name".into()));
                    }
                    let pax_sparse = entry
                        .pax_extensions()
                        .ok()
                        .flatten()
                        .map(|exts| {
                            exts.filter_map(|x| x.ok())
                                .any(|x| x.key_bytes().starts_with(b"GNU.sparse."))
                        })
                        .unwrap_or(false);
                    if pax_sparse {
                        return Err(bad(
                            "a PAX sparse file: not supported (repack the archive without --sparse)"
                                .into(),
                        ));
                    }
                    let blob = match data_end {
                        Some(end) if end <= len => usize::try_from(pos)
                            .ok()
                            .zip(usize::try_from(end).ok())
                            .and_then(|(s, e)| data.slice(s..e)),
                        _ => None,
                    };
                    let Some(blob) = blob else {
                        return Err(Error::Truncated {
                            archive: archive.to_path_buf(),
                            entry: shown,
                            size,
                            offset: pos,
                            len,
                        });
                    };
                    if let Ok(t) = entry.header().mtime() {
                        idx.mtimes.insert(name.clone(), t);
                    }
                    idx.insert(name, Node::File(blob));
                }
                tar::EntryType::GNUSparse => {
                    return Err(bad(
                        "a GNU sparse file: not supported (repack the archive without --sparse)"
                            .into(),
                    ));
                }
                tar::EntryType::Symlink => {
                    let target = idx.link_target(&entry, &bad)?;
                    if name.is_empty() {
                        return Err(bad("a symlink with an empty name".into()));
                    }
                    let dir = parent_of(&name);
                    if !stays_inside(dir, &target) {
                        let (kind, msg) = if base_name(&name) == "parent" {
                            let m = format!(
                                "{}: parent link {name} -> {} points outside the archive: incremental pages of the parent are unavailable",
                                archive.display(),
                                show(target.as_bytes())
                            );
                            (Kind::ParentChain, m)
                        } else {
                            let m = format!(
                                "{}: symlink {name} -> {} points outside the archive: ignored",
                                archive.display(),
                                show(target.as_bytes())
                            );
                            (Kind::EntryRefused, m)
                        };
                        idx.warnings.push(kind, msg);
                        continue;
                    }
                    idx.insert(name, Node::Symlink(target));
                }
                tar::EntryType::Link => {
                    let target = idx.link_target(&entry, &bad)?;
                    let tnorm = normalize(&target).map_err(|why| {
                        bad(format!("hardlink to {}: {why}", show(target.as_bytes())))
                    })?;
                    if name.is_empty() {
                        return Err(bad("a hardlink with an empty name".into()));
                    }
                    match idx.nodes.get(&tnorm) {
                        Some(n @ (Node::File(_) | Node::Symlink(_))) => {
                            let n = n.clone();
                            idx.insert(name, n);
                        }
                        _ => {
                            return Err(bad(format!(
                                "hardlink to {}: no such file earlier in the archive",
                                show(tnorm.as_bytes())
                            )));
                        }
                    }
                }
                tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                    idx.warnings.push(
                        Kind::EntryIgnored,
                        format!(
                            "{}: entry {shown}: device or fifo entry: ignored",
                            archive.display()
                        ),
                    );
                }
                other => {
                    idx.warnings.push(
                        Kind::EntryIgnored,
                        format!(
                            "{}: entry {shown}: unsupported entry type '{}': ignored",
                            archive.display(),
                            show(&[other.as_byte()])
                        ),
                    );
                }
            }
        }
        if next_pos > len {
            // Only possible for a non-file entry with data (files are checked above).
            return Err(corrupt(
                next_pos,
                format!("the last entry runs past the end of the archive ({len} bytes)"),
            ));
        }
        if next_pos == len {
            idx.warnings.push(Kind::TruncatedArchive, format!(
                "{}: no end-of-archive marker after the last entry: the archive may be truncated",
                archive.display()
            ));
        }
        Ok(idx)
    }

    /// The link name of a symlink / hardlink entry, checked.
    fn link_target<R: io::Read>(
        &self,
        entry: &tar::Entry<'_, R>,
        bad: &dyn Fn(String) -> Error,
    ) -> Result<String, Error> {
        let Some(raw) = entry.link_name_bytes() else {
            return Err(bad("link without a target".into()));
        };
        if raw.is_empty() {
            return Err(bad("link with an empty target".into()));
        }
        if raw.len() > MAX_NAME {
            return Err(bad(format!(
                "link target of {} bytes: longer than {MAX_NAME}",
                raw.len()
            )));
        }
        if raw.contains(&0) {
            return Err(bad("link target contains a NUL byte".into()));
        }
        match std::str::from_utf8(&raw) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => Err(bad(format!("link target {} is not UTF-8", show(&raw)))),
        }
    }

    fn insert(&mut self, name: String, node: Node) {
        let mut dir = parent_of(&name);
        while !dir.is_empty() {
            if !self.implied.insert(dir.to_string()) {
                break; // its ancestors are already there
            }
            dir = parent_of(dir);
        }
        let new_is_dir = matches!(node, Node::Dir);
        if let Some(old) = self.nodes.insert(name.clone(), node) {
            if !(new_is_dir && matches!(old, Node::Dir)) {
                self.warnings.push(
                    Kind::Duplicate,
                    format!(
                        "{}: duplicate entry {}: the later one wins (as tar extraction does)",
                        self.archive.display(),
                        show(name.as_bytes())
                    ),
                );
            }
        }
    }

    /// The modification time a regular file's header records (not following links).
    pub(crate) fn mtime(&self, path: &str) -> Option<std::time::SystemTime> {
        let t = *self.mtimes.get(path)?;
        std::time::SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(t))
    }

    /// The node at a normalized path (no link following).
    pub(crate) fn node(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// True when `path` is a directory (explicit, implied, or the root). No link following.
    pub(crate) fn is_dir(&self, path: &str) -> bool {
        path.is_empty()
            || matches!(self.nodes.get(path), Some(Node::Dir))
            || self.implied.contains(path)
    }

    /// The entries directly inside directory `dir` (`""`: the root): (name, node).
    pub(crate) fn children<'a>(
        &'a self,
        dir: &str,
    ) -> impl Iterator<Item = (&'a str, &'a Node)> + 'a {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let plen = prefix.len();
        self.nodes
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .filter_map(move |(k, n)| {
                let rest = &k[plen..];
                (!rest.is_empty() && !rest.contains('/')).then_some((rest, n))
            })
    }

    /// Every directory (explicit or implied), in order, without the root.
    pub(crate) fn dirs(&self) -> impl Iterator<Item = &str> {
        let explicit = self
            .nodes
            .iter()
            .filter(|(_, n)| matches!(n, Node::Dir))
            .map(|(k, _)| k.as_str());
        let mut all: BTreeSet<&str> = explicit.collect();
        all.extend(self.implied.iter().map(|s| s.as_str()));
        all.into_iter()
    }

    /// Every node, in path order.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|(k, n)| (k.as_str(), n))
    }

    /// Resolves `target` read relative to directory `from_dir`, following symlinks inside the
    /// archive (every hop checked). Returns the normalized path reached; it may not exist.
    pub(crate) fn resolve(&self, from_dir: &str, target: &str) -> Result<String, Unresolved> {
        path::resolve(from_dir, target, Root::Confined, true, |p| {
            match self.nodes.get(p) {
                Some(Node::Symlink(t)) => Some(t.as_str()),
                _ => None,
            }
        })
    }

    /// The data of the regular file reached from `from_dir` by `target` (following symlinks).
    pub(crate) fn file_at(&self, from_dir: &str, target: &str) -> Option<Blob> {
        let p = self.resolve(from_dir, target).ok()?;
        match self.nodes.get(&p) {
            Some(Node::File(b)) => Some(b.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::source::test_util::*;

    fn index(bytes: Vec<u8>) -> Result<TarIndex, Error> {
        TarIndex::build(Path::new("/t/a.tar"), &Blob::from_vec(bytes))
    }

    #[test]
    fn tar_detection() {
        let t = TarSpec::new().file("a", b"1").build_gnu();
        assert!(looks_like_tar(&t));
        let mut v7 = t.clone();
        v7[257..265].fill(0); // drop the magic, fix the checksum
        let mut h = tar::Header::new_old();
        h.as_mut_bytes().copy_from_slice(&v7[..512]);
        h.set_cksum();
        v7[..512].copy_from_slice(h.as_bytes());
        assert!(looks_like_tar(&v7));
        v7[0] ^= 1;
        assert!(!looks_like_tar(&v7));
        assert!(!looks_like_tar(&[0u8; 512]));
        assert!(!looks_like_tar(b"short"));
    }

    #[test]
    fn stays_inside_lexically() {
        assert!(stays_inside("dump", "../pre2"));
        assert!(!stays_inside("dump", "../../pre2"));
        assert!(!stays_inside("", "../x"));
        assert!(!stays_inside("a", "/abs"));
        assert!(stays_inside("a/b", "../../c"));
    }

    #[test]
    fn index_dot_prefix_and_gnu_long_names() {
        let long = format!("./checkpoint/{}.img", "x".repeat(200));
        let t = TarSpec::new()
            .dir("./checkpoint/", 0o700)
            .file("./checkpoint/pstree.img", b"PSTREE")
            .file(&long, b"LONG")
            .file("./config.dump", b"{}")
            .build_gnu();
        let idx = index(t).unwrap();
        assert!(idx.is_dir("checkpoint"));
        let kids: Vec<_> = idx
            .children("checkpoint")
            .map(|(n, _)| n.to_string())
            .collect();
        assert_eq!(kids.len(), 2);
        assert_eq!(
            idx.file_at("", "checkpoint/pstree.img").unwrap().bytes(),
            b"PSTREE"
        );
        let lname = &long[13..];
        assert_eq!(idx.file_at("checkpoint", lname).unwrap().bytes(), b"LONG");
        assert_eq!(idx.file_at("", "config.dump").unwrap().bytes(), b"{}");
        assert!(idx.warnings.is_empty(), "{:?}", idx.warnings);
    }

    #[test]
    fn index_pax_long_names() {
        let long = format!("images/{}/inventory.img", "d".repeat(150));
        let t = TarSpec::new().file(&long, b"INV").build_pax();
        let idx = index(t).unwrap();
        assert_eq!(idx.file_at("", &long).unwrap().bytes(), b"INV");
    }

    #[test]
    fn dotdot_is_rejected_naming_the_entry() {
        let t = TarSpec::new()
            .file("ok.img", b"a")
            .raw_file("../x", b"evil")
            .build_gnu();
        let e = index(t).unwrap_err().to_string();
        assert!(e.contains("entry ../x"), "{e}");
        assert!(e.contains("`..`"), "{e}");
    }

    #[test]
    fn absolute_is_rejected() {
        let t = TarSpec::new().raw_file("/etc/evil", b"evil").build_gnu();
        let e = index(t).unwrap_err().to_string();
        assert!(e.contains("entry /etc/evil"), "{e}");
        assert!(e.contains("absolute"), "{e}");
    }

    #[test]
    fn escaping_symlink_is_ignored_with_warning() {
        let t = TarSpec::new()
            .file("dump/pstree.img", b"P")
            .symlink("dump/parent", "../../outside")
            .symlink("dump/evil", "/etc/passwd")
            .symlink("dump/ok", "pstree.img")
            .build_gnu();
        let idx = index(t).unwrap();
        assert!(idx.node("dump/parent").is_none());
        assert!(idx.node("dump/evil").is_none());
        assert_eq!(
            idx.warnings.kinds(),
            [Kind::ParentChain, Kind::EntryRefused],
            "{:?}",
            idx.warnings
        );
        assert!(
            idx.warnings[0]
                .message
                .contains("dump/parent -> ../../outside")
        );
        assert!(idx.warnings[1].message.contains("dump/evil"));
        assert_eq!(idx.file_at("dump", "ok").unwrap().bytes(), b"P");
    }

    #[test]
    fn hardlinks() {
        let t = TarSpec::new()
            .file("a/data.img", b"DATA")
            .hardlink("b/copy.img", "a/data.img")
            .build_gnu();
        let idx = index(t).unwrap();
        assert_eq!(idx.file_at("", "b/copy.img").unwrap().bytes(), b"DATA");

        let t = TarSpec::new().hardlink("x", "../../etc/shadow").build_gnu();
        let e = index(t).unwrap_err().to_string();
        assert!(e.contains("entry x: hardlink to ../../etc/shadow"), "{e}");

        let t = TarSpec::new().hardlink("x", "/etc/shadow").build_gnu();
        assert!(index(t).unwrap_err().to_string().contains("absolute"));

        let t = TarSpec::new().hardlink("x", "missing").build_gnu();
        assert!(
            index(t)
                .unwrap_err()
                .to_string()
                .contains("no such file earlier")
        );
    }

    #[test]
    fn duplicates_later_wins() {
        let t = TarSpec::new().file("a", b"1").file("./a", b"2").build_gnu();
        let idx = index(t).unwrap();
        assert_eq!(idx.file_at("", "a").unwrap().bytes(), b"2");
        assert_eq!(
            idx.warnings.kinds(),
            [Kind::Duplicate],
            "{:?}",
            idx.warnings
        );
    }

    #[test]
    fn truncated_archive() {
        let big = vec![7u8; 100_000];
        let mut t = TarSpec::new()
            .file("checkpoint/inventory.img", b"I")
            .file("checkpoint/pages-1.img", &big)
            .build_gnu();
        t.truncate(3000);
        let e = index(t).unwrap_err().to_string();
        assert!(
            e.contains("truncated archive: entry checkpoint/pages-1.img declares 100000 bytes at offset 1536, archive has 3000"),
            "{e}"
        );
    }

    #[test]
    fn truncated_in_header() {
        let mut t = TarSpec::new().file("a", b"1").file("b", b"2").build_gnu();
        t.truncate(1024 + 100);
        let e = index(t).unwrap_err().to_string();
        assert!(e.contains("corrupt tar archive at offset 1024"), "{e}");
    }

    #[test]
    fn missing_end_marker_warns() {
        let mut t = TarSpec::new().file("a", b"1").build_gnu();
        t.truncate(1024);
        let idx = index(t).unwrap();
        assert_eq!(
            idx.warnings.kinds(),
            [Kind::TruncatedArchive],
            "{:?}",
            idx.warnings
        );
    }

    #[test]
    fn bad_checksum() {
        let mut t = TarSpec::new().file("a", b"1").build_gnu();
        t[0] ^= 1;
        let e = index(t).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
    }

    /// Regression (fuzz, archive_source): a header whose checksum field is not a number made
    /// the tar crate's message quote raw header bytes (a newline, control bytes) into our error.
    #[test]
    fn corrupt_header_error_is_one_clean_line() {
        let mut t = TarSpec::new().file("a", b"1").build_gnu();
        t[..6].copy_from_slice(b"x\n\x1b[3m");
        t[148..156].copy_from_slice(b"\n\x1bzz\x07\x01\x02\x03");
        let e = index(t).unwrap_err().to_string();
        assert!(!e.chars().any(|c| c.is_control()), "{e:?}");
        assert!(e.contains("corrupt tar archive"), "{e}");
    }

    #[test]
    fn huge_long_name_header_is_refused() {
        // A GNU long-name header declaring 1 GiB: refused before the tar crate reads it.
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::GNULongName);
        h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
        h.set_size(1 << 30);
        h.set_cksum();
        let mut t = h.as_bytes().to_vec();
        t.extend(vec![b'a'; 4096]);
        let e = index(t).unwrap_err().to_string();
        assert!(e.contains("extension header"), "{e}");
    }

    #[test]
    fn resolve_inside() {
        let t = TarSpec::new()
            .file("pre/inventory.img", b"1")
            .symlink("pre2/parent", "../pre")
            .symlink("dump/parent", "../pre2")
            .symlink("loop/a", "b")
            .symlink("loop/b", "a")
            .build_gnu();
        let idx = index(t).unwrap();
        assert_eq!(idx.resolve("dump", "parent").unwrap(), "pre2");
        assert_eq!(idx.resolve("dump", "parent/parent").unwrap(), "pre");
        assert_eq!(idx.resolve("loop", "a"), Err(Unresolved::Loop));
        assert_eq!(idx.resolve("dump", "../../x"), Err(Unresolved::Escapes));
        assert!(idx.is_dir("pre"));
    }
}
