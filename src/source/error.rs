//! The source layer's error: every variant says what went wrong, where (file, entry, offset) and why.

use std::io;
use std::path::PathBuf;

/// An error opening a checkpoint. `Display` is one line meant for the user: it names the file (and
/// the archive entry or offset where relevant) and the reason, including the underlying I/O error's
/// text. Entry names taken from an archive are shown with control characters escaped.
///
/// The underlying `io::Error` (if any) is reachable with [`Error::io_error`] (e.g. to pick an errno);
/// it is not exposed as `source()` because `Display` already includes its text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation on `path` failed.
    #[error("{}: {what}: {err}", path.display())]
    Io {
        path: PathBuf,
        what: String,
        err: io::Error,
    },
    /// The input is neither a CRIU image directory, an extracted container archive, nor a tar /
    /// tar.gz / tar.zst archive (of one).
    #[error("{}: not a checkpoint: {why}", path.display())]
    NotCheckpoint { path: PathBuf, why: String },
    /// An archive entry that must not be served (`..`, absolute path, escaping hardlink, ...).
    #[error("{}: entry {entry}: {why}", archive.display())]
    BadEntry {
        archive: PathBuf,
        entry: String,
        why: String,
    },
    /// An entry's data runs past the end of the archive.
    #[error(
        "{}: truncated archive: entry {entry} declares {size} bytes at offset {offset}, archive has {len}",
        archive.display()
    )]
    Truncated {
        archive: PathBuf,
        entry: String,
        size: u64,
        offset: u64,
        len: u64,
    },
    /// The tar structure itself is broken (bad header checksum, incomplete header, ...).
    #[error("{}: corrupt tar archive at offset {offset}: {why}", archive.display())]
    Corrupt {
        archive: PathBuf,
        offset: u64,
        why: String,
    },
    /// Decompression produced more than the allowed number of bytes (decompression bomb, or not
    /// enough room in the cache).
    #[error(
        "{}: decompressed size exceeds the limit of {limit} bytes ({why}); stopped and removed the partial copy",
        path.display()
    )]
    TooLarge {
        path: PathBuf,
        limit: u64,
        why: String,
    },
    /// The compressed stream is corrupt or truncated.
    #[error(
        "{}: {format} decompression failed after {offset} compressed bytes: {err}",
        path.display()
    )]
    Decompress {
        path: PathBuf,
        format: &'static str,
        offset: u64,
        err: io::Error,
    },
    /// The cache directory cannot be used safely.
    #[error("cache directory {}: {why}", path.display())]
    Cache { path: PathBuf, why: String },
    /// Any other problem with the input's content or shape (too many entries, ambiguous layout, ...).
    #[error("{}: {why}", path.display())]
    Invalid { path: PathBuf, why: String },
}

impl Error {
    /// The underlying I/O error, if this error wraps one.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::Io { err, .. } | Error::Decompress { err, .. } => Some(err),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, what: impl Into<String>, err: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            what: what.into(),
            err,
        }
    }

    pub(crate) fn invalid(path: impl Into<PathBuf>, why: impl Into<String>) -> Error {
        Error::Invalid {
            path: path.into(),
            why: why.into(),
        }
    }
}

/// A name from untrusted input, made safe to print on one line: control characters (newlines,
/// escape sequences) and invalid UTF-8 are escaped.
pub(crate) fn show(name: &[u8]) -> String {
    crate::format::escape_bytes(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_escapes_controls() {
        assert_eq!(show(b"a/b.img"), "a/b.img");
        assert_eq!(show(b"x\n\x1b[31m"), "x\\n\\x1b[31m");
        assert_eq!(show(b"\xffz"), "\\xffz");
    }

    #[test]
    fn display_names_file_and_entry() {
        let e = Error::Truncated {
            archive: "/x/a.tar".into(),
            entry: "checkpoint/pages-1.img".into(),
            size: 4325376,
            offset: 1536,
            len: 4096,
        };
        assert_eq!(
            e.to_string(),
            "/x/a.tar: truncated archive: entry checkpoint/pages-1.img declares 4325376 bytes at offset 1536, archive has 4096"
        );
    }
}
