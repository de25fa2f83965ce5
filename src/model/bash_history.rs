//! bash's command history, recovered from the heap of a bash process.
//!
//! GNU readline's history library (`lib/readline/history.c`, used by bash) keeps the history
//! list as `HIST_ENTRY **the_history`, `history_length` entries, each a
//! `HIST_ENTRY { char *line; char *timestamp; histdata_t data; }` allocated with malloc. Each
//! interactive command gets a timestamp when it is added (`hist_inittime`): a malloc'd string
//! `#<unix seconds>` (bash's history comment character, then the decimal seconds), whether or
//! not `HISTTIMEFORMAT` asks for it to be shown or written.
//!
//! The recovery follows the memory, as Volatility's `linux.bash` does: every `#<digits>` string
//! in the process's writable anonymous memory (`[heap]` first) is a candidate timestamp; every
//! aligned pointer to one of them, preceded by a pointer to a NUL-terminated line of text, is a
//! candidate `HIST_ENTRY` (`line` at +0, `timestamp` at +8). A freed entry is not found: malloc
//! overwrites its first two words with its free-list links. The entries are ordered as the
//! `the_history` array holds them (the longest run of consecutive pointers to entries); entries
//! outside that run (or when no array is found) by their time, then by address.
//!
//! What cannot be found this way: entries without a timestamp string (read from a history file
//! that had none: their timestamp is an empty string), and pages CRIU did not dump.

use std::collections::{BTreeMap, HashMap};

use super::process::{Process, VmaName};

/// Longest history line accepted (bash has no limit; a longer run of text is not a command).
const MAX_LINE: usize = 64 << 10;
/// Most bytes read from one VMA.
const MAX_REGION: u64 = 256 << 20;
/// PROT_READ | PROT_WRITE.
const RW: u32 = 0x1 | 0x2;
/// MAP_SHARED.
const MAP_SHARED: u32 = 0x1;

/// One history entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The command line as bash stored it (may hold newlines: a multi-line command).
    pub line: Vec<u8>,
    /// The time bash recorded (unix seconds), when its timestamp string was found.
    pub time: Option<u64>,
    /// The `HIST_ENTRY`'s address.
    pub addr: u64,
}

/// Whether `p` is bash: its comm or its executable's name is `bash`.
pub fn is_bash(p: &Process) -> bool {
    let exe = p
        .exe
        .as_ref()
        .and_then(|e| e.path())
        .map(|s| s.rsplit('/').next().unwrap_or(s));
    p.comm == "bash" || exe == Some("bash")
}

/// A region of the process's memory, read.
struct Region {
    start: u64,
    bytes: Vec<u8>,
}

impl Region {
    fn u64_at(&self, addr: u64) -> Option<u64> {
        let off = usize::try_from(addr.checked_sub(self.start)?).ok()?;
        let b = self.bytes.get(off..off.checked_add(8)?)?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    }
}

/// The writable private anonymous memory of `p` (`[heap]` and anonymous VMAs), read with holes
/// as zeros; a page that cannot be served reads as zeros too.
fn regions(p: &Process) -> Vec<Region> {
    let mut out = Vec::new();
    for v in &p.vmas {
        let anon = matches!(v.name, VmaName::Heap | VmaName::Anon);
        if !anon || v.prot & RW != RW || v.flags & MAP_SHARED != 0 || v.end <= v.start {
            continue;
        }
        let len = (v.end - v.start).min(MAX_REGION);
        if p.memory.present_in(v.start, v.start + len) == 0 {
            continue;
        }
        let Ok(n) = usize::try_from(len) else {
            continue;
        };
        let mut bytes = vec![0u8; n];
        if p.memory.read_at(v.start, &mut bytes).is_err() {
            // Page by page: the broken ones stay zeros.
            for (i, page) in bytes.chunks_mut(4096).enumerate() {
                let _ = p.memory.read_at(v.start + (i as u64) * 4096, page);
            }
        }
        out.push(Region {
            start: v.start,
            bytes,
        });
    }
    out
}

/// A `#<digits>` string (9 to 11 digits, NUL-terminated) at `off`: its value.
fn timestamp_at(b: &[u8], off: usize) -> Option<u64> {
    if b.get(off) != Some(&b'#') {
        return None;
    }
    let digits = b[off + 1..]
        .iter()
        .take(12)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if !(9..=11).contains(&digits) || b.get(off + 1 + digits) != Some(&0) {
        return None;
    }
    std::str::from_utf8(&b[off + 1..off + 1 + digits])
        .ok()?
        .parse()
        .ok()
}

/// The NUL-terminated text at `addr` in `p`'s memory, if it looks like a command line: not
/// empty, at most [`MAX_LINE`] bytes, no control bytes but tab and newline.
fn line_at(p: &Process, regions: &[Region], addr: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = addr;
    let mut page = [0u8; 256];
    loop {
        let chunk: &[u8] = match regions
            .iter()
            .find(|r| at >= r.start && at - r.start < r.bytes.len() as u64)
        {
            Some(r) => &r.bytes[usize::try_from(at - r.start).ok()?..],
            None => {
                // Outside the regions read (a string in another mapping): read it from memory,
                // and only where the checkpoint holds the bytes.
                if p.memory.present_in(at, at + page.len() as u64) == 0 {
                    return None;
                }
                p.memory.read_at(at, &mut page).ok()?;
                &page
            }
        };
        let chunk = &chunk[..chunk.len().min(MAX_LINE + 1 - out.len())];
        match chunk.iter().position(|&c| c == 0) {
            Some(n) => {
                out.extend_from_slice(&chunk[..n]);
                break;
            }
            None => {
                out.extend_from_slice(chunk);
                if out.len() > MAX_LINE || chunk.is_empty() {
                    return None;
                }
                at += chunk.len() as u64;
            }
        }
    }
    let ok = !out.is_empty()
        && out
            .iter()
            .all(|&c| c >= 0x20 && c != 0x7f || c == b'\t' || c == b'\n');
    ok.then_some(out)
}

/// The history entries found in `p`'s memory, in history order (see the module comment).
pub fn recover(p: &Process) -> Vec<Entry> {
    let regions = regions(p);
    // Candidate timestamps: `#<digits>` at an 8-byte aligned address (malloc's alignment).
    let mut stamps: HashMap<u64, u64> = HashMap::new();
    for r in &regions {
        for off in (0..r.bytes.len()).step_by(8) {
            if let Some(t) = timestamp_at(&r.bytes, off) {
                stamps.insert(r.start + off as u64, t);
            }
        }
    }
    if stamps.is_empty() {
        return Vec::new();
    }
    // Candidate entries: a pointer to a timestamp, after a pointer to a line.
    let mut entries: BTreeMap<u64, Entry> = BTreeMap::new();
    for r in &regions {
        for off in (8..r.bytes.len().saturating_sub(7)).step_by(8) {
            let at = r.start + off as u64;
            let Some(v) = r.u64_at(at) else { continue };
            let Some(&time) = stamps.get(&v) else {
                continue;
            };
            let addr = at - 8;
            let Some(lp) = r.u64_at(addr) else { continue };
            if lp == 0 || stamps.contains_key(&lp) {
                continue;
            }
            if let Some(line) = line_at(p, &regions, lp) {
                entries.insert(
                    addr,
                    Entry {
                        line,
                        time: Some(time),
                        addr,
                    },
                );
            }
        }
    }
    if entries.is_empty() {
        return Vec::new();
    }
    // The history array: the longest run of consecutive aligned pointers to distinct entries.
    let mut best: Vec<u64> = Vec::new();
    for r in &regions {
        let mut run: Vec<u64> = Vec::new();
        for off in (0..r.bytes.len().saturating_sub(7)).step_by(8) {
            match r.u64_at(r.start + off as u64) {
                Some(v) if entries.contains_key(&v) && !run.contains(&v) => run.push(v),
                v => {
                    if run.len() > best.len() {
                        best = std::mem::take(&mut run);
                    }
                    run.clear();
                    if let Some(v) = v.filter(|v| entries.contains_key(v)) {
                        run.push(v);
                    }
                }
            }
        }
        if run.len() > best.len() {
            best = run;
        }
    }
    let pos: HashMap<u64, usize> = best.iter().enumerate().map(|(i, a)| (*a, i)).collect();
    let mut out: Vec<Entry> = entries.into_values().collect();
    if out.iter().all(|e| pos.contains_key(&e.addr)) {
        out.sort_by_key(|e| pos.get(&e.addr).copied());
    } else {
        out.sort_by_key(|e| {
            (
                e.time,
                pos.get(&e.addr).copied().unwrap_or(usize::MAX),
                e.addr,
            )
        });
    }
    out
}

/// The entries in HISTFILE format, as bash writes it with `HISTTIMEFORMAT` set: `#<seconds>`
/// before each entry whose time is known, then the line and a newline.
pub fn histfile(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        if let Some(t) = e.time {
            out.extend_from_slice(format!("#{t}\n").as_bytes());
        }
        out.extend_from_slice(&e.line);
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests;
