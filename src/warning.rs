//! A problem that did not stop a checkpoint from being read, as a value: its [`Kind`] (what sort
//! of problem, for a program: tests, `info.json`'s `kind`) and its message (one line for a
//! person: what, where — the file, offset or PID — and what ckptfs did about it).
//!
//! Beside [`crate::format`] at the bottom of the layering: it imports nothing from the rest of
//! the crate, so every layer (even `source`) gathers its problems as [`Warnings`].

use std::fmt;

/// Declares [`Kind`], [`Kind::ALL`], [`Kind::name`] and [`Kind::description`] from one list, so
/// none can miss a kind.
macro_rules! kinds {
    ($($(#[doc = $doc:literal])* $v:ident => $name:literal,)*) => {
        /// What sort of problem a [`Warning`] reports. [`Kind::name`] is the stable,
        /// machine-readable name `info.json` writes (`docs/views.md` lists them).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $($(#[doc = $doc])* $v,)*
        }

        impl Kind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [Kind] = &[$(Kind::$v,)*];

            /// The stable, machine-readable name (`info.json`'s `kind`): lower case, words
            /// joined by `-`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Kind::$v => $name,)*
                }
            }

            /// What the kind means: its documentation, on one line.
            pub fn description(self) -> &'static str {
                match self {
                    $(Kind::$v => concat!($($doc),*).trim_ascii_start(),)*
                }
            }
        }
    };
}

kinds! {
    // The input as a set of files.
    /// A name that is not UTF-8 (an image directory's file, an archive's entry, a `--rootfs`
    /// entry): left out.
    NameNotUtf8 => "name-not-utf8",
    /// An entry of a kind not served where it is (a symlink or device in an image directory, a
    /// device or FIFO entry in an archive, an unknown tar entry type, an OCI index entry without
    /// a digest): ignored.
    EntryIgnored => "entry-ignored",
    /// A name that is not safe or not possible to serve (absolute, with `..`, empty, a loop, a
    /// link that leads nowhere, a file that is also a directory): left out.
    EntryRefused => "entry-refused",
    /// The same name or id twice (an archive entry, a file id in `files.img`, a PID in
    /// `pstree.img`, a name in one directory): one of them is used.
    Duplicate => "duplicate",
    /// A file or directory of the input or of `--rootfs` that cannot be read or listed (a layer,
    /// the rootfs diff, the saved `/dev/shm`): what it holds is left out.
    Unreadable => "unreadable",
    /// A bound ckptfs sets (entries, depth) was reached: the rest is left out.
    LimitReached => "limit-reached",
    /// An archive that ends early (no end-of-archive marker, an entry running past the end).
    TruncatedArchive => "truncated-archive",
    /// A pre-dump's `parent` chain that loops, is too long, or leads to no image directory:
    /// followed as far as it goes.
    ParentChain => "parent-chain",
    /// A cache entry ckptfs could not trust: removed and rebuilt.
    CacheRebuilt => "cache-rebuilt",
    /// An OCI blob or layer whose content does not hash to its name or descriptor.
    AlteredBlob => "altered-blob",
    /// An OCI media type ckptfs does not expect where it is found.
    UnexpectedMediaType => "unexpected-media-type",
    /// A metadata file (`config.dump`, `spec.dump`, `config.v2.json`, `network.status`,
    /// `deleted.files`, ...) that does not parse: what it would give is unknown.
    BadMetadata => "bad-metadata",
    /// Metadata the input lacks (containerd's runtime spec, Docker's rw layer).
    MissingMetadata => "missing-metadata",

    // CRIU's images.
    /// An image (or a part of one: a thread's core, a segment's pages) that is missing.
    MissingImage => "missing-image",
    /// An image that ends early (or a pages file with bytes its pagemap's entries do not use: the
    /// pagemap was cut).
    TruncatedImage => "truncated-image",
    /// An image that does not decode or whose contents contradict themselves.
    CorruptImage => "corrupt-image",
    /// Pages stored in a form ckptfs does not read (compressed pages): not served.
    UnsupportedPages => "unsupported-pages",
    /// Lazy pages, not in the checkpoint: they read as zeros.
    LazyPages => "lazy-pages",
    /// Two sources of the same addresses (pagemap entries, private and shared pages, dumped
    /// and file pages): those bytes fail to read.
    PagesOverlap => "pages-overlap",
    /// A memory mapping (VMA, guard region) that is empty, inverted, unaligned or overlapping:
    /// ignored.
    BadMapping => "bad-mapping",
    /// An id that names an object the checkpoint lacks (a file id, a socket id, a SysV
    /// segment).
    DanglingReference => "dangling-reference",
    /// A process that could not be loaded at all.
    ProcessNotLoaded => "process-not-loaded",
    /// The container's user namespace is unknown: owners are shown as the layers record them.
    UnknownUserNamespace => "unknown-user-namespace",

    // The container's files.
    /// A file of `rootfs/` that is not the one a process mapped (its size differs): its clean
    /// pages are left as holes.
    FileMismatch => "file-mismatch",
    /// A symlink whose target climbs above the container's root: shown resolved inside
    /// `rootfs/`.
    SymlinkEscapes => "symlink-escapes",
    /// A symlink entry carrying a mode: shown as a link (a link has no mode of its own).
    SymlinkMode => "symlink-mode",
    /// Pseudo filesystems below `--rootfs DIR` (`/proc`, `/sys`, ...): not walked.
    PseudoFsSkipped => "pseudo-fs-skipped",
    /// A tmpfs image that cannot be read: `rootfs/` lacks that mount's contents.
    TmpfsUnreadable => "tmpfs-unreadable",
    /// Several memfds share a name: their descriptors' links are left dangling.
    AmbiguousMemfd => "ambiguous-memfd",

    // Scanning.
    /// Bytes a scan could not read (the checkpoint claims them but cannot serve them).
    ScanGap => "scan-gap",
    /// A YARA rule's error while scanning (a timeout).
    RuleError => "rule-error",

    // Comparing.
    /// `diff` of checkpoints of two different containers (their container ids differ, or
    /// without ids their names or images): compared anyway.
    DifferentContainers => "different-containers",
}

impl Kind {
    /// Every kind as a markdown table (name, meaning), as docs/views.md prints it.
    pub fn markdown() -> String {
        let mut s = String::from("| kind | what happened |\n| --- | --- |\n");
        for k in Kind::ALL {
            s.push_str(&format!("| `{}` | {} |\n", k.name(), k.description()));
        }
        s
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One problem: its kind and its message. `Display` is the message alone, as printed after
/// `ckptfs: warning: `.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Warning {
    pub kind: Kind,
    pub message: String,
}

impl Warning {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Warning {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The warnings of one load, in the order met. Derefs to a slice of [`Warning`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Warnings(Vec<Warning>);

impl Warnings {
    pub fn new() -> Self {
        Warnings(Vec::new())
    }

    /// Adds a warning of `kind`.
    pub fn push(&mut self, kind: Kind, message: impl Into<String>) {
        self.0.push(Warning::new(kind, message));
    }

    /// Whether any warning is of `kind`.
    pub fn has(&self, kind: Kind) -> bool {
        self.0.iter().any(|w| w.kind == kind)
    }

    /// The warnings of `kind`.
    pub fn of(&self, kind: Kind) -> impl Iterator<Item = &Warning> {
        self.0.iter().filter(move |w| w.kind == kind)
    }

    /// The kinds, in order, repeated as often as they occur.
    pub fn kinds(&self) -> Vec<Kind> {
        self.0.iter().map(|w| w.kind).collect()
    }

    /// Moves every warning of `other` to the end of `self`.
    pub fn append(&mut self, other: &mut Warnings) {
        self.0.append(&mut other.0);
    }
}

impl std::ops::Deref for Warnings {
    type Target = [Warning];
    fn deref(&self) -> &[Warning] {
        &self.0
    }
}

impl Extend<Warning> for Warnings {
    fn extend<I: IntoIterator<Item = Warning>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl FromIterator<Warning> for Warnings {
    fn from_iter<I: IntoIterator<Item = Warning>>(iter: I) -> Self {
        Warnings(iter.into_iter().collect())
    }
}

impl IntoIterator for Warnings {
    type Item = Warning;
    type IntoIter = std::vec::IntoIter<Warning>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Warnings {
    type Item = &'a Warning;
    type IntoIter = std::slice::Iter<'a, Warning>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once_with_a_distinct_kebab_name() {
        let mut names = std::collections::BTreeSet::new();
        for k in Kind::ALL {
            let n = k.name();
            assert!(
                !n.is_empty()
                    && n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !n.starts_with('-')
                    && !n.ends_with('-'),
                "{k:?}: {n}"
            );
            assert!(names.insert(n), "{n} twice");
        }
        assert!(Kind::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    /// docs/views.md prints the table of kinds as it is.
    #[test]
    fn views_md_lists_every_kind() {
        let doc = include_str!("../docs/views.md");
        let table = Kind::markdown();
        assert!(
            doc.contains(&table),
            "docs/views.md's table of warning kinds differs from src/warning.rs; it should be:\n{table}"
        );
    }

    #[test]
    fn a_warning_prints_its_message_and_serializes_its_kind_by_name() {
        let w = Warning::new(
            Kind::PagesOverlap,
            "pagemap-1.img: entries overlap at 0x1000-0x2000",
        );
        assert_eq!(
            w.to_string(),
            "pagemap-1.img: entries overlap at 0x1000-0x2000"
        );
        assert_eq!(
            serde_json::to_value(&w).unwrap(),
            serde_json::json!({
                "kind": "pages-overlap",
                "message": "pagemap-1.img: entries overlap at 0x1000-0x2000",
            })
        );
    }

    #[test]
    fn warnings_answer_by_kind() {
        let mut ws = Warnings::new();
        ws.push(Kind::MissingImage, "a");
        ws.push(Kind::Duplicate, "b");
        ws.push(Kind::MissingImage, "c");
        assert!(ws.has(Kind::Duplicate) && !ws.has(Kind::LazyPages));
        assert_eq!(
            ws.of(Kind::MissingImage)
                .map(|w| w.message.as_str())
                .collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(
            ws.kinds(),
            [Kind::MissingImage, Kind::Duplicate, Kind::MissingImage]
        );
        assert_eq!(ws.len(), 3);
    }
}
