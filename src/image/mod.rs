//! CRIU image decoding: magic, framing, protobuf messages.
//!
//! This layer turns the bytes of one CRIU image file into prost messages ([`pb`]). It is
//! pure (no I/O), bounds-checked and never panics, whatever the input: every fault is an
//! [`Error`] naming the file, the entry, the byte offset and what is wrong.
//!
//! # Format
//! * Header: `u32` LE [`magic::IMG_COMMON_MAGIC`] then the image's own magic; except
//!   `inventory.img` (its own magic alone) and the service files `stats-*` and
//!   `irmap-cache` ([`magic::IMG_SERVICE_MAGIC`] then their magic). The header shape is
//!   chosen by the expected magic ([`magic::Header::for_magic`]); [`magic_for`] gives the
//!   expected magic of a file name. `pages-*.img` are raw page data with no header.
//! * Then entries until the end of the file: `u32` LE length, then that many bytes of
//!   protobuf message. An image holding only its header is valid and empty.
//! * Some images carry raw bytes after each entry (pipes-data: `PipeDataEntry.bytes`;
//!   tcp-stream: `inq_len + outq_len`; ghost-file: the file content):
//!   [`decode_with_payload`] takes them by the length the entry gives.
//!
//! # Limits
//! An entry's declared length must fit in the bytes left, so a hostile file cannot make
//! us read or allocate more than its own size suggests; entries cannot outnumber
//! `file_len / 4`; prost bounds message nesting depth.

pub mod magic;
pub mod pagemap;
pub mod pb;

mod error;
mod framing;

pub use error::{Error, ErrorKind};
pub use magic::magic_for;
pub use pagemap::{PE_LAZY, PE_PARENT, PE_PRESENT, PageRun, decode_pagemap};

use framing::{Frames, capacity_hint, check_header, decode_frame};

/// Decodes all entries of the image `name` (used in error messages) whose per-image magic
/// must be `magic`. The header is checked as its kind requires (common, inventory or
/// service header, chosen by `magic`).
pub fn decode_all<M: prost::Message + Default>(
    name: &str,
    bytes: &[u8],
    magic: u32,
) -> Result<Vec<M>, Error> {
    let start = check_header(name, bytes, magic)?;
    let mut frames = Frames::new(name, bytes, start);
    let mut out = Vec::with_capacity(capacity_hint(&frames));
    while let Some(frame) = frames.next_frame() {
        out.push(decode_frame(name, &frame?)?);
    }
    Ok(out)
}

/// Decodes an image that must hold exactly one entry (core, mm, inventory, fs, ids, ...):
/// an error if it holds none or more than one.
pub fn decode_one<M: prost::Message + Default>(
    name: &str,
    bytes: &[u8],
    magic: u32,
) -> Result<M, Error> {
    let start = check_header(name, bytes, magic)?;
    let mut frames = Frames::new(name, bytes, start);
    let first = match frames.next_frame() {
        Some(frame) => frame?,
        None => return Err(Error::new(name, None, start, ErrorKind::NoEntry)),
    };
    let entry = decode_frame(name, &first)?;
    if let Some(second) = frames.next_frame() {
        let second = second?;
        // Count the rest for the message; framing faults after the first surplus entry
        // do not change the verdict.
        let mut count = 2;
        while let Some(Ok(_)) = frames.next_frame() {
            count += 1;
        }
        return Err(Error::new(
            name,
            Some(second.index),
            second.offset,
            ErrorKind::TooManyEntries { count },
        ));
    }
    Ok(entry)
}

/// Decodes an image whose entries are each followed by a raw payload of
/// `payload_len(&entry)` bytes (pipes-data, fifo-data, tcp-stream, ghost-file without
/// chunks, ...). Returns each entry with its payload's byte range within `bytes`.
pub fn decode_with_payload<M: prost::Message + Default>(
    name: &str,
    bytes: &[u8],
    magic: u32,
    payload_len: impl Fn(&M) -> u64,
) -> Result<Vec<(M, std::ops::Range<usize>)>, Error> {
    let start = check_header(name, bytes, magic)?;
    let mut frames = Frames::new(name, bytes, start);
    let mut out = Vec::with_capacity(capacity_hint(&frames));
    while let Some(frame) = frames.next_frame() {
        let frame = frame?;
        let entry: M = decode_frame(name, &frame)?;
        let range = frames.take_payload(&frame, payload_len(&entry))?;
        out.push((entry, range));
    }
    debug_assert!(frames.pos() <= bytes.len());
    Ok(out)
}

#[cfg(test)]
mod tests;
