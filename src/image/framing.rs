//! Image framing: the header, then `u32` little-endian length + protobuf message, repeated
//! until the end of the file; optionally a raw payload after each message.

use super::error::{Error, ErrorKind};
use super::magic::{self, Header};

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
}

/// Checks the header of `bytes` for an image whose per-image magic must be `magic` (its
/// shape chosen by [`Header::for_magic`]) and returns the offset of the first entry.
pub(crate) fn check_header(name: &str, bytes: &[u8], magic: u32) -> Result<usize, Error> {
    let header = Header::for_magic(magic);
    let need = header.size();
    if bytes.len() < need {
        return Err(Error::new(
            name,
            None,
            0,
            ErrorKind::TruncatedHeader {
                need,
                file_len: bytes.len(),
            },
        ));
    }
    let (lead, own_at) = match header {
        Header::Bare => (None, 0),
        Header::Common => (Some(magic::IMG_COMMON_MAGIC), 4),
        Header::Service => (Some(magic::IMG_SERVICE_MAGIC), 4),
    };
    if let Some(expected) = lead {
        let found = read_u32(bytes, 0).unwrap_or_default();
        if found != expected {
            return Err(Error::new(
                name,
                None,
                0,
                ErrorKind::BadLeadMagic { found, expected },
            ));
        }
    }
    let found = read_u32(bytes, own_at).unwrap_or_default();
    if found != magic {
        return Err(Error::new(
            name,
            None,
            own_at,
            ErrorKind::WrongMagic {
                found,
                expected: magic,
            },
        ));
    }
    Ok(need)
}

/// One framed entry: its index, the offset of its length word, its message bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame<'a> {
    pub index: usize,
    pub offset: usize,
    pub body: &'a [u8],
}

/// Walks the entries of an image after its header. Every step is bounds-checked: a
/// declared length must fit in the bytes left, so no entry can claim more than the file
/// holds, and entries cannot outnumber `file_len / 4`.
pub(crate) struct Frames<'a> {
    name: &'a str,
    bytes: &'a [u8],
    pos: usize,
    index: usize,
    failed: bool,
}

impl<'a> Frames<'a> {
    /// Starts at `pos` (just after the header).
    pub(crate) fn new(name: &'a str, bytes: &'a [u8], pos: usize) -> Self {
        Frames {
            name,
            bytes,
            pos,
            index: 0,
            failed: false,
        }
    }

    /// The current position (just after the last entry or payload taken).
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// An upper bound on the entries left (each takes at least its 4-byte length word).
    pub(crate) fn max_remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos) / 4
    }

    /// The next entry, `None` at the end of the file.
    pub(crate) fn next_frame(&mut self) -> Option<Result<Frame<'a>, Error>> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let offset = self.pos;
        let index = self.index;
        let left = self.bytes.len() - offset;
        let Some(len) = read_u32(self.bytes, offset) else {
            return Some(self.fail(ErrorKind::TruncatedLength {
                left,
                file_len: self.bytes.len(),
            }));
        };
        let start = offset + 4;
        let Some(body) = usize::try_from(len)
            .ok()
            .and_then(|l| start.checked_add(l))
            .and_then(|end| self.bytes.get(start..end))
        else {
            return Some(self.fail(ErrorKind::LengthPastEnd {
                len: u64::from(len),
                file_len: self.bytes.len(),
            }));
        };
        self.pos = start + body.len();
        self.index += 1;
        Some(Ok(Frame {
            index,
            offset,
            body,
        }))
    }

    /// Takes `len` raw payload bytes following the entry `frame` (just returned); returns
    /// their range in the file.
    pub(crate) fn take_payload(
        &mut self,
        frame: &Frame<'_>,
        len: u64,
    ) -> Result<std::ops::Range<usize>, Error> {
        let start = self.pos;
        let range = usize::try_from(len)
            .ok()
            .and_then(|l| start.checked_add(l))
            .filter(|&end| end <= self.bytes.len())
            .map(|end| start..end);
        match range {
            Some(r) => {
                self.pos = r.end;
                Ok(r)
            }
            None => {
                self.failed = true;
                Err(Error::new(
                    self.name,
                    Some(frame.index),
                    frame.offset,
                    ErrorKind::PayloadPastEnd {
                        len,
                        file_len: self.bytes.len(),
                    },
                ))
            }
        }
    }

    fn fail(&mut self, kind: ErrorKind) -> Result<Frame<'a>, Error> {
        self.failed = true;
        Err(Error::new(self.name, Some(self.index), self.pos, kind))
    }
}

/// Decodes one entry's message, naming the entry on failure.
pub(crate) fn decode_frame<M: prost::Message + Default>(
    name: &str,
    frame: &Frame<'_>,
) -> Result<M, Error> {
    M::decode(frame.body)
        .map_err(|e| Error::new(name, Some(frame.index), frame.offset, ErrorKind::Decode(e)))
}

/// A capacity hint that never trusts the file for more than a modest allocation up front.
pub(crate) fn capacity_hint(frames: &Frames<'_>) -> usize {
    frames.max_remaining().min(1024)
}
