//! The image layer's error: which file, which entry, which byte offset, what is wrong.

use std::fmt;

use super::magic;

/// What is wrong with an image (the [`Error`] around it says where).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file is shorter than its header.
    #[error("file of {file_len} bytes is too short for its {need}-byte header")]
    TruncatedHeader {
        /// The header's length in bytes.
        need: usize,
        /// The file's length in bytes.
        file_len: usize,
    },
    /// The first word is not the lead magic this kind of image starts with
    /// (`IMG_COMMON_MAGIC`, `IMG_SERVICE_MAGIC`, or the inventory's own magic).
    #[error("header magic {} where {} is expected", Magic(*.found), Magic(*.expected))]
    BadLeadMagic {
        /// What the file holds.
        found: u32,
        /// What was expected.
        expected: u32,
    },
    /// The per-image magic is not the expected one (the file is another kind of image).
    #[error("image magic {} where {} is expected", Magic(*.found), Magic(*.expected))]
    WrongMagic {
        /// What the file holds.
        found: u32,
        /// What was expected.
        expected: u32,
    },
    /// Fewer than 4 bytes remain where an entry's length is expected.
    #[error("only {left} bytes left, too few for an entry length (file is {file_len} bytes)")]
    TruncatedLength {
        /// The bytes left.
        left: usize,
        /// The file's length in bytes.
        file_len: usize,
    },
    /// An entry's declared length runs past the end of the file.
    #[error("length {len} runs past end of file ({file_len} bytes)")]
    LengthPastEnd {
        /// The declared length.
        len: u64,
        /// The file's length in bytes.
        file_len: usize,
    },
    /// The protobuf message does not decode.
    #[error("corrupt protobuf message: {0}")]
    Decode(prost::DecodeError),
    /// The raw payload announced by an entry runs past the end of the file.
    #[error("payload of {len} bytes runs past end of file ({file_len} bytes)")]
    PayloadPastEnd {
        /// The announced payload length.
        len: u64,
        /// The file's length in bytes.
        file_len: usize,
    },
    /// The image holds no entry where exactly one is expected.
    #[error("no entry, exactly one expected")]
    NoEntry,
    /// The image holds more than the one entry expected.
    #[error("{count} entries, exactly one expected")]
    TooManyEntries {
        /// How many it holds.
        count: usize,
    },
    /// A pagemap image holds no `PagemapHead`.
    #[error("no pagemap head entry")]
    NoPagemapHead,
    /// A pagemap entry's address is not page aligned.
    #[error("vaddr {vaddr:#x} is not page aligned")]
    UnalignedVaddr {
        /// The address.
        vaddr: u64,
    },
    /// A pagemap head or entry carries fields or flags this version does not know: pages stored
    /// another way (criu-dev's compressed pages add such fields; the schema is not settled), which
    /// must never be read as plain pages.
    #[error(
        "{what}: pages stored in a form ckptfs does not read yet (compressed pages, as criu-dev writes them, are not supported yet); this process's memory is not served"
    )]
    UnsupportedPages {
        /// What was found (`field 6`, `flags 0x8`).
        what: String,
    },
    /// A pagemap entry's `vaddr + nr_pages * 4096` overflows 64 bits.
    #[error("vaddr {vaddr:#x} + {nr_pages} pages overflows the address space")]
    RangeOverflow {
        /// The address.
        vaddr: u64,
        /// The page count.
        nr_pages: u64,
    },
}

/// An image decoding error.
///
/// Its `Display` names the image file, the entry index when known, the byte offset and
/// what is wrong, e.g.
/// `core-8259.img: entry 0 at offset 8: length 4294967295 runs past end of file (2298 bytes)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}: {kind}", Location(*.entry, *.offset))]
pub struct Error {
    file: String,
    entry: Option<usize>,
    offset: usize,
    kind: ErrorKind,
}

impl Error {
    pub(crate) fn new(file: &str, entry: Option<usize>, offset: usize, kind: ErrorKind) -> Self {
        Error {
            file: file.to_owned(),
            entry,
            offset,
            kind,
        }
    }

    /// The image file's name, as the caller gave it.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The index of the entry at fault (0 = the first entry after the header), if known.
    pub fn entry(&self) -> Option<usize> {
        self.entry
    }

    /// The byte offset in the file where the fault lies (the entry's length word, or the
    /// header).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What is wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The kind of warning this error is when the load goes on without the image.
    pub fn warning_kind(&self) -> crate::warning::Kind {
        use crate::warning::Kind;
        match self.kind {
            ErrorKind::TruncatedHeader { .. }
            | ErrorKind::TruncatedLength { .. }
            | ErrorKind::LengthPastEnd { .. }
            | ErrorKind::PayloadPastEnd { .. } => Kind::TruncatedImage,
            ErrorKind::UnsupportedPages { .. } => Kind::UnsupportedPages,
            ErrorKind::BadLeadMagic { .. }
            | ErrorKind::WrongMagic { .. }
            | ErrorKind::Decode(_)
            | ErrorKind::NoEntry
            | ErrorKind::TooManyEntries { .. }
            | ErrorKind::NoPagemapHead
            | ErrorKind::UnalignedVaddr { .. }
            | ErrorKind::RangeOverflow { .. } => Kind::CorruptImage,
        }
    }
}

/// "entry N at offset O" or "at offset O".
struct Location(Option<usize>, usize);

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(i) => write!(f, "entry {i} at offset {}", self.1),
            None => write!(f, "at offset {}", self.1),
        }
    }
}

/// A magic number, with CRIU's name for it when known.
struct Magic(u32);

impl fmt::Display for Magic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match magic::name(self.0) {
            Some(n) => write!(f, "{:#010x} ({n})", self.0),
            None => write!(f, "{:#010x}", self.0),
        }
    }
}
