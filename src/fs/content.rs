//! What a file's bytes are and how to read and seek them.
//!
//! The only place of the fs layer that calls [`crate::render`]. Text files are rendered lazily, at
//! most once per inode (the first `lookup` / `getattr` / `open` that needs the size), and kept.
//! `mem` and `memory/*` are read straight from the page index: a read inside one dumped run
//! replies with the mmap slice itself (zero copy), a read across runs and holes is assembled into a
//! caller-provided (per-thread, reused) buffer.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use super::{Error, Result};
use crate::model::memory::{Memory, Piece, ReadError};
use crate::model::{Checkpoint, Process, Thread, Vma};
use crate::render;
use crate::render::elfcore::CoreLayout;
use crate::render::files::{self, Render};
use crate::source::Blob;

/// The content of a regular file of the tree.
#[derive(Debug)]
pub enum Content {
    /// Bytes served as-is (metadata files, raw CRIU images).
    Blob(Blob),
    /// A rendered text file.
    Text(Text),
    /// `/<pid>/mem`: the whole address space (index into `Checkpoint::processes`).
    Mem { proc: u32 },
    /// `/<pid>/memory/<start>-<end>`: one VMA's range of `mem`.
    Range { proc: u32, start: u64, end: u64 },
    /// `/<pid>/core`: an ELF core file generated on the fly (see [`Core`]).
    Core(Core),
    /// A regular file of `rootfs/` (see [`super::rootfs`]).
    RootFile(super::rootfs::RootFile),
    /// `/<pid>/pagemap`: generated per read (see [`crate::render::pagemap`]).
    Pagemap { proc: u32 },
    /// `sysvipc/shm-<id>`: a SysV shared memory segment's bytes (index into `objects.shm`).
    Shm { seg: u32 },
    /// A memfd's bytes (index into `objects.memfds`), where its descriptors' links lead.
    Memfd { idx: u32 },
    /// A file served the way procfs serves `/proc/PID/mem`: size 0 (no blocks), direct I/O, read
    /// by offset up to the inner content's real end. The targets of the tree's links (`.link/`)
    /// are such files: a tool that follows links and sizes a file before reading it (yara maps
    /// it) finds nothing there to scan a second time, while `cat`, `xxd -s`, `dd`, `gdb -c` and
    /// `grep -c` read it whole. See `fs/tree/layout.rs` for the layout.
    Procfs(Box<Content>),
}

/// Which text file: a rendered row of the table of files ([`render::files::FILES`]) and what
/// this file of it is about (indices into `Checkpoint::processes`, then into the process's
/// `threads` or `fds`, as its [`render::files::Render`] needs; 0 where it needs none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextSrc {
    row: u16,
    proc: u32,
    sub: u32,
}

/// A text file and its rendering, done once.
#[derive(Debug)]
pub struct Text {
    src: TextSrc,
    cache: OnceLock<std::result::Result<Box<[u8]>, String>>,
}

impl Text {
    pub fn src(&self) -> TextSrc {
        self.src
    }

    /// The rendered bytes, or why they cannot be produced (e.g. `cmdline` over a broken page).
    pub fn rendered(&self, ck: &Checkpoint) -> std::result::Result<&[u8], &str> {
        match self.cache.get_or_init(|| render_text(ck, self.src)) {
            Ok(b) => Ok(b),
            Err(e) => Err(e),
        }
    }
}

impl Content {
    pub fn text(src: TextSrc) -> Content {
        Content::Text(Text {
            src,
            cache: OnceLock::new(),
        })
    }

    /// The memory and size of a SysV segment's or a memfd's content (None for other contents,
    /// or when the checkpoint has no such object).
    fn object<'a>(&self, ck: &'a Checkpoint) -> Option<(&'a Memory, u64)> {
        match self {
            Content::Shm { seg } => ck
                .objects
                .shm
                .get(*seg as usize)
                .map(|s| (&s.memory, s.size)),
            Content::Memfd { idx } => ck
                .objects
                .memfds
                .get(*idx as usize)
                .map(|m| (&m.memory, m.size)),
            _ => None,
        }
    }

    /// (size in bytes, bytes present). For `mem` and `memory/*`, present = dumped bytes.
    pub fn size_and_present(&self, ck: &Checkpoint) -> (u64, u64) {
        match self {
            Content::Blob(b) => (b.len() as u64, b.len() as u64),
            Content::Text(t) => match t.rendered(ck) {
                Ok(b) => (b.len() as u64, b.len() as u64),
                Err(_) => (0, 0),
            },
            Content::Mem { proc } => match process(ck, *proc) {
                Some(p) => {
                    let size = p.mem_size();
                    (size, p.memory.present_in(0, size))
                }
                None => (0, 0),
            },
            Content::Range { proc, start, end } => match process(ck, *proc) {
                Some(p) => (
                    end.saturating_sub(*start),
                    p.memory.present_in(*start, *end),
                ),
                None => (0, 0),
            },
            Content::Core(c) => c.size_and_present(ck),
            Content::RootFile(f) => (f.size(), f.size()),
            Content::Shm { .. } | Content::Memfd { .. } => match self.object(ck) {
                Some((m, size)) => (size, m.present_in(0, size)),
                None => (0, 0),
            },
            // Like the kernel's /proc/PID/pagemap: size 0, served with direct I/O (see
            // `direct_io`). Its real extent (8 bytes per page of the address space, 256 GiB) would
            // make `yara -r`, `grep -r` and backup tools read it whole.
            Content::Pagemap { .. } => (0, 0),
            Content::Procfs(_) => (0, 0),
        }
    }

    /// The `rootfs/` file this is (also seen through [`Content::Procfs`]).
    pub fn root_file(&self) -> Option<&super::rootfs::RootFile> {
        match self {
            Content::RootFile(f) => Some(f),
            Content::Procfs(c) => c.root_file(),
            _ => None,
        }
    }

    /// The size the content really has (what a reader reaches before EOF): as
    /// [`Content::size_and_present`], except that a [`Content::Procfs`] file has its inner size.
    pub fn real_size(&self, ck: &Checkpoint) -> u64 {
        match self {
            Content::Procfs(c) => c.real_size(ck),
            Content::Mem { proc } => process(ck, *proc).map_or(0, Process::mem_size),
            c => c.size_and_present(ck).0,
        }
    }

    /// Files whose reads must bypass the page cache and the size check (size 0, content read by
    /// offset), as procfs does for pagemap.
    pub fn direct_io(&self) -> bool {
        matches!(self, Content::Pagemap { .. } | Content::Procfs(_))
    }

    /// Makes sure the file can be served (at open): a text file that cannot be rendered is `EIO`.
    pub fn prepare(&self, ck: &Checkpoint) -> Result<()> {
        match self {
            Content::Text(t) => t
                .rendered(ck)
                .map(|_| ())
                .map_err(|e| render_error(ck, t.src, e)),
            Content::Mem { proc } | Content::Range { proc, .. } => {
                process(ck, *proc).map(|_| ()).ok_or_else(|| {
                    Error::logged(libc::EIO, "no-process", "inode refers to a missing process")
                })
            }
            Content::Blob(_) | Content::RootFile(_) => Ok(()),
            Content::Shm { .. } | Content::Memfd { .. } => {
                self.object(ck).map(|_| ()).ok_or(Error::errno(libc::EIO))
            }
            Content::Procfs(c) => c.prepare(ck),
            Content::Core(c) => c.parts(ck).map(|_| ()),
            Content::Pagemap { proc } => process(ck, *proc)
                .map(|_| ())
                .ok_or(Error::errno(libc::EIO)),
        }
    }

    /// Up to `len` bytes at `off` (empty at or past the end). The result borrows either the
    /// content itself (mmap, rendered text) or `scratch`, which is reused between calls.
    pub fn read<'a>(
        &'a self,
        ck: &'a Checkpoint,
        off: u64,
        len: u32,
        scratch: &'a mut Vec<u8>,
    ) -> Result<&'a [u8]> {
        match self {
            Content::Blob(b) => Ok(dense(b.bytes(), off, len)),
            Content::Text(t) => match t.rendered(ck) {
                Ok(b) => Ok(dense(b, off, len)),
                Err(e) => Err(render_error(ck, t.src, e)),
            },
            Content::Mem { proc } => {
                let p = process(ck, *proc).ok_or(Error::errno(libc::EIO))?;
                let len = mapped_len(p, off, len)?;
                read_sparse(&p.memory, 0, p.mem_size(), off, len, scratch)
                    .map_err(|e| mem_error(p, "mem", &e))
            }
            Content::Range { proc, start, end } => {
                let p = process(ck, *proc).ok_or(Error::errno(libc::EIO))?;
                read_sparse(
                    &p.memory,
                    *start,
                    end.saturating_sub(*start),
                    off,
                    len,
                    scratch,
                )
                .map_err(|e| mem_error(p, "memory", &e))
            }
            Content::Core(c) => c.read(ck, off, len, scratch),
            Content::RootFile(f) => f.read(off, len, scratch),
            Content::Shm { seg } => {
                let s = ck
                    .objects
                    .shm
                    .get(*seg as usize)
                    .ok_or(Error::errno(libc::EIO))?;
                read_sparse(&s.memory, 0, s.size, off, len, scratch)
                    .map_err(|e| read_error(&format!("sysvipc/shm-{}", s.id), "", &e))
            }
            Content::Memfd { idx } => {
                let m = ck
                    .objects
                    .memfds
                    .get(*idx as usize)
                    .ok_or(Error::errno(libc::EIO))?;
                read_sparse(&m.memory, 0, m.size, off, len, scratch).map_err(|e| {
                    let inode = format!(" (memfd.img inode {})", m.inode_id);
                    read_error(&format!("memfd:{}", m.name), &inode, &e)
                })
            }
            Content::Pagemap { proc } => {
                let p = process(ck, *proc).ok_or(Error::errno(libc::EIO))?;
                let len = pagemap_mapped_len(p, off, len)?;
                scratch.clear();
                let filled = ck.container_fs.filled(p.pid);
                render::pagemap_read(p, filled, off, u64::from(len), scratch);
                Ok(&scratch[..])
            }
            Content::Procfs(c) => c.read(ck, off, len, scratch),
        }
    }

    /// lseek(2) for the whences the kernel forwards (SEEK_DATA / SEEK_HOLE), exact for the
    /// sparse files; SEEK_SET / SEEK_END are answered too. Never ENOSYS.
    pub fn seek(&self, ck: &Checkpoint, off: i64, whence: i32) -> Result<u64> {
        match self {
            Content::Mem { proc } => match process(ck, *proc) {
                Some(p) => seek_sparse(&p.memory, 0, p.mem_size(), off, whence),
                None => seek_dense(0, off, whence),
            },
            Content::Range { proc, start, end } => match process(ck, *proc) {
                Some(p) => seek_sparse(&p.memory, *start, end.saturating_sub(*start), off, whence),
                None => seek_dense(0, off, whence),
            },
            Content::Blob(_)
            | Content::Text(_)
            | Content::RootFile(_)
            | Content::Pagemap { .. } => seek_dense(self.size_and_present(ck).0, off, whence),
            Content::Core(c) => c.seek(ck, off, whence),
            Content::Shm { .. } | Content::Memfd { .. } => match self.object(ck) {
                Some((m, size)) => seek_sparse(m, 0, size, off, whence),
                None => seek_dense(0, off, whence),
            },
            // SEEK_DATA inside the trailing hole answers the real end rather than ENXIO: the
            // kernel sees size 0, so a reader that skips holes (GNU grep) would otherwise fall
            // back to reading every zero up to the end (gigabytes after the last mapping).
            // SEEK_HOLE at the real end answers the end too, so that a SEEK_DATA / SEEK_HOLE loop
            // ends with an empty region there instead of an error.
            Content::Procfs(c) => match c.seek(ck, off, whence) {
                Err(e) if e == Error::NXIO => {
                    let end = c.real_size(ck);
                    match u64::try_from(off) {
                        Ok(o) if o < end && whence == libc::SEEK_DATA => Ok(end),
                        Ok(o) if o == end && whence == libc::SEEK_HOLE => Ok(end),
                        _ => Err(e),
                    }
                }
                r => r,
            },
        }
    }
}

/// The end of the mapped run of `p`'s address space that starts at `addr`, at most `limit`
/// (`addr` itself when nothing is mapped there). Mapped: inside a VMA, or a dumped byte (an
/// extent no VMA covers, which a damaged checkpoint may hold, still reads).
pub fn mapped_until(p: &Process, addr: u64, limit: u64) -> u64 {
    let mut at = addr;
    while at < limit {
        let next = match p.vma_at(at) {
            Some(v) => v.end,
            None if p.memory.next_data(at) == Some(at) => p.memory.next_hole(at),
            None => break,
        };
        if next <= at {
            break;
        }
        at = next;
    }
    at.min(limit).max(addr)
}

/// How many zero bytes an unmapped stretch of `mem` answers right after the mapped run before
/// it (its "lip"), before reads there fail with `EIO`. More than GNU grep's first all-zero
/// buffer (96 KiB), after which grep, in binary mode, seeks to the next data (`SEEK_DATA`).
pub const HOLE_LIP: u64 = 128 << 10;

/// How much of a `len`-byte read of `mem` at `off` to answer. Mapped addresses read up to the
/// end of their mapped run (a short read; never-dumped pages are zeros, as in `/proc`). Where
/// nothing is mapped, `/proc/PID/mem` answers `EIO` at once, which bounds every reader that
/// starts at 0 (`cat`, `strings`, `grep -a`, `rg -a`, walks that follow links) but also breaks
/// `grep -c X PID/mem`: GNU grep reads its first buffer at offset 0, and seeks to the next data
/// (`SEEK_DATA`) only after a buffer of zeros. So an unmapped stretch answers zeros for its
/// first [`HOLE_LIP`] bytes and `EIO` beyond: grep skips every hole after one buffer, and a
/// reader that does not seek ends after at most one lip of zeros, where `/proc` ends at once.
fn mapped_len(p: &Process, off: u64, len: u32) -> Result<u32> {
    if len == 0 || off >= p.mem_size() {
        return Ok(len);
    }
    let end = mapped_until(p, off, off.saturating_add(u64::from(len)));
    match u32::try_from(end - off) {
        Ok(0) => lip_len(p, off, len),
        Ok(n) => Ok(n),
        Err(_) => Ok(len),
    }
}

/// The zeros an unmapped `off` answers: the rest of its stretch's lip (up to the next mapped
/// byte), or `EIO` past the lip.
fn lip_len(p: &Process, off: u64, len: u32) -> Result<u32> {
    let vi = p.vmas.partition_point(|v| v.end <= off);
    let ext = p.memory.extents();
    let ei = ext.partition_point(|e| e.end() <= off);
    let hole_start = vi
        .checked_sub(1)
        .map(|i| p.vmas[i].end)
        .into_iter()
        .chain(ei.checked_sub(1).map(|i| ext[i].end()))
        .max()
        .unwrap_or(0);
    let lip_end = hole_start.saturating_add(HOLE_LIP);
    if off >= lip_end {
        return Err(Error::errno(libc::EIO));
    }
    let next = p
        .vmas
        .get(vi)
        .map(|v| v.start)
        .into_iter()
        .chain(p.memory.next_data(off))
        .min()
        .unwrap_or(u64::MAX);
    let stop = lip_end.min(next).min(off.saturating_add(u64::from(len)));
    Ok(u32::try_from(stop.saturating_sub(off))
        .unwrap_or(len)
        .max(1))
}

/// [`mapped_len`] for `pagemap` (8 bytes per page): the entries of mapped pages read, the others
/// are `EIO`, so that the 256 GiB file is bounded like `mem` (a walk that follows links reads
/// nothing there; a reader of one mapping's entries by offset reads them as before).
fn pagemap_mapped_len(p: &Process, off: u64, len: u32) -> Result<u32> {
    use crate::model::memory::PAGE_SIZE;
    if len == 0 || off >= render::pagemap::pagemap_size(p) {
        return Ok(len);
    }
    let first = off / 8;
    let last = off.saturating_add(u64::from(len)).div_ceil(8);
    let end = mapped_until(
        p,
        first.saturating_mul(PAGE_SIZE),
        last.saturating_mul(PAGE_SIZE),
    );
    let end_off = (end / PAGE_SIZE).saturating_mul(8);
    match u32::try_from(end_off.saturating_sub(off)) {
        Ok(0) => Err(Error::errno(libc::EIO)),
        Ok(n) => Ok(n.min(len)),
        Err(_) => Ok(len),
    }
}

/// The file name of a VMA's `memory/` file (`7f12a000-7f12c000`).
pub fn vma_file_name(v: &Vma) -> String {
    render::vma_range_name(v)
}

fn process(ck: &Checkpoint, i: u32) -> Option<&Process> {
    ck.processes.get(i as usize)
}

fn thread(ck: &Checkpoint, i: u32, j: u32) -> std::result::Result<(&Process, &Thread), String> {
    let p = process(ck, i).ok_or("no such process")?;
    let t = p.threads.get(j as usize).ok_or("no such thread")?;
    Ok((p, t))
}

fn mem_error(p: &Process, file: &str, e: &ReadError) -> Error {
    read_error(&format!("{}/{file}", p.pid), "", e)
}

/// EIO for a failed read of the file `name`, logged once per `name` and reason, the log line
/// naming it with `detail` and the whole error.
fn read_error(name: &str, detail: &str, e: &ReadError) -> Error {
    Error::logged(
        libc::EIO,
        format!("{name}: {}", e.reason),
        format!("{name}{detail}: {e}"),
    )
}

fn render_error(ck: &Checkpoint, src: TextSrc, why: &str) -> Error {
    let name = describe(ck, src);
    Error::logged(
        libc::EIO,
        format!("{name}: {why}"),
        format!("{name}: {why}"),
    )
}

impl TextSrc {
    /// The file of row `row` of the table about process `proc` and its thread or descriptor
    /// `sub`; None if the table has no such row.
    pub fn new(row: usize, proc: u32, sub: u32) -> Option<TextSrc> {
        let row = u16::try_from(row)
            .ok()
            .filter(|&r| files::FILES.len() > usize::from(r))?;
        Some(TextSrc { row, proc, sub })
    }

    /// Its row of the table.
    pub fn row(self) -> &'static files::File {
        // `new` checked the index.
        &files::FILES[usize::from(self.row)]
    }

    /// The file's path pattern: its row's path.
    pub fn pattern(self) -> &'static str {
        self.row().path
    }

    /// The file's name in its directory (`stat` for `PID/task/TID/stat`; a placeholder such as
    /// `N` for a family whose names vary).
    pub fn name(self) -> &'static str {
        files::name(self.pattern())
    }
}

/// The path of a text file, for messages: its pattern with the numbers filled in.
fn describe(ck: &Checkpoint, src: TextSrc) -> String {
    let (pi, sub) = (src.proc, src.sub);
    let pid = process(ck, pi).map_or(0, |p| p.pid);
    let tid = thread(ck, pi, sub).map_or(0, |(_, t)| t.tid);
    let fd = process(ck, pi)
        .and_then(|p| p.fds.get(sub as usize))
        .map_or(0, |f| f.fd);
    let parts: Vec<String> = src
        .pattern()
        .split('/')
        .map(|c| match c {
            "PID" => pid.to_string(),
            "TID" => tid.to_string(),
            "N" => fd.to_string(),
            c => c.to_string(),
        })
        .collect();
    parts.join("/")
}

/// Renders one text file; a failing or panicking renderer gives the reason instead.
fn render_text(ck: &Checkpoint, src: TextSrc) -> std::result::Result<Box<[u8]>, String> {
    match catch_unwind(AssertUnwindSafe(|| render_inner(ck, src))) {
        Ok(r) => r.map(Vec::into_boxed_slice),
        Err(_) => Err("rendering failed (internal error)".into()),
    }
}

/// Runs the row's renderer on what the file is about.
fn render_inner(ck: &Checkpoint, src: TextSrc) -> std::result::Result<Vec<u8>, String> {
    let p = || process(ck, src.proc).ok_or_else(|| "no such process".to_string());
    match src.row().render() {
        Some(Render::Checkpoint(f)) => f(ck),
        Some(Render::Process(f)) => f(ck, p()?),
        Some(Render::Thread(f)) => {
            let (p, t) = thread(ck, src.proc, src.sub)?;
            f(ck, p, t)
        }
        Some(Render::Fd(f)) => {
            let p = p()?;
            let fd = p.fds.get(src.sub as usize).ok_or("no such fd")?;
            f(ck, p, fd)
        }
        None => Err(format!("{}: not a rendered file", src.pattern())),
    }
}

/// `bytes[off..off + len]`, clamped to the end.
fn dense(bytes: &[u8], off: u64, len: u32) -> &[u8] {
    let Ok(off) = usize::try_from(off) else {
        return &[];
    };
    let rest = bytes.get(off..).unwrap_or(&[]);
    rest.get(..len as usize).unwrap_or(rest)
}

/// Largest all-zeros read answered without copying.
const ZEROS_LEN: usize = 1 << 20;

/// A shared buffer of zeros for reads that fall entirely in a hole (calloc'd: the pages are the
/// kernel's zero page until written, and they never are).
fn zeros(n: u64) -> Option<&'static [u8]> {
    static ZEROS: OnceLock<Box<[u8]>> = OnceLock::new();
    let n = usize::try_from(n).ok().filter(|&n| n <= ZEROS_LEN)?;
    ZEROS
        .get_or_init(|| vec![0u8; ZEROS_LEN].into_boxed_slice())
        .get(..n)
}

/// Reads `len` bytes at file offset `off` of a sparse file whose offset 0 is address `base` in
/// `mem` and whose size is `size`. One dumped run → its slice (zero copy); one hole → shared
/// zeros; otherwise the pieces are assembled in `scratch` (cleared, capacity kept).
pub fn read_sparse<'a>(
    mem: &'a Memory,
    base: u64,
    size: u64,
    off: u64,
    len: u32,
    scratch: &'a mut Vec<u8>,
) -> std::result::Result<&'a [u8], ReadError> {
    if off >= size || len == 0 {
        return Ok(&[]);
    }
    let n = (len as u64).min(size - off);
    let Some(addr) = base.checked_add(off) else {
        return Ok(&[]);
    };
    match mem.piece_at(addr, n) {
        Piece::Data(d) if d.len() as u64 == n => return Ok(d),
        Piece::Zeros(z) if z == n => {
            if let Some(zs) = zeros(n) {
                return Ok(zs);
            }
        }
        Piece::Broken(r) => {
            return Err(ReadError {
                addr,
                reason: r.to_string(),
            });
        }
        _ => {}
    }
    scratch.clear();
    // One lookup, then a walk over the extents (a read may cross many small ones).
    for (a, p) in mem.pieces(addr, n) {
        match p {
            Piece::Data(d) => {
                scratch.extend_from_slice(d);
                // Copied: the mapped pages need not stay in the daemon's resident set (released
                // per window of the pages file, not per extent).
                crate::source::blob::release_later(d);
            }
            Piece::Zeros(z) => scratch.resize(scratch.len() + z as usize, 0),
            Piece::Broken(r) => {
                return Err(ReadError {
                    addr: a,
                    reason: r.to_string(),
                });
            }
        }
    }
    Ok(&scratch[..])
}

/// lseek on a sparse file (see [`read_sparse`] for `base` / `size`).
/// SEEK_DATA: the next dumped byte at or after `off`, ENXIO if none before the end.
/// SEEK_HOLE: the next hole at or after `off` (the end counts as one), ENXIO at or past the end.
pub fn seek_sparse(mem: &Memory, base: u64, size: u64, off: i64, whence: i32) -> Result<u64> {
    match whence {
        libc::SEEK_DATA | libc::SEEK_HOLE => {
            let off = u64::try_from(off).map_err(|_| Error::NXIO)?;
            if off >= size {
                return Err(Error::NXIO);
            }
            let addr = base.checked_add(off).ok_or(Error::NXIO)?;
            let end = base.saturating_add(size);
            if whence == libc::SEEK_DATA {
                match mem.next_data(addr) {
                    Some(a) if a < end => Ok(a - base),
                    _ => Err(Error::NXIO),
                }
            } else {
                Ok(mem.next_hole(addr).min(end) - base)
            }
        }
        _ => seek_plain(size, off, whence),
    }
}

/// lseek on a dense file: all data, one hole at the end.
pub fn seek_dense(size: u64, off: i64, whence: i32) -> Result<u64> {
    match whence {
        libc::SEEK_DATA | libc::SEEK_HOLE => {
            let off = u64::try_from(off).map_err(|_| Error::NXIO)?;
            if off >= size {
                Err(Error::NXIO)
            } else if whence == libc::SEEK_DATA {
                Ok(off)
            } else {
                Ok(size)
            }
        }
        _ => seek_plain(size, off, whence),
    }
}

/// SEEK_SET / SEEK_END (the kernel normally handles these itself); anything else is EINVAL.
fn seek_plain(size: u64, off: i64, whence: i32) -> Result<u64> {
    let r = match whence {
        libc::SEEK_SET => Some(off),
        libc::SEEK_END => i64::try_from(size).ok().and_then(|s| s.checked_add(off)),
        _ => None,
    };
    r.and_then(|r| u64::try_from(r).ok()).ok_or(Error::INVAL)
}

// ---- `/<pid>/core` (render::elfcore) ------------------------------------------------------

/// `/<pid>/core`: the layout (ELF header, program headers, notes) is built once, at the first
/// access; the segments' bytes are served from the page index (a read inside one dumped run is
/// the mmap slice itself). SEEK_DATA / SEEK_HOLE follow the page index inside the segments.
#[derive(Debug)]
pub struct Core {
    proc: u32,
    layout: OnceLock<Option<CoreLayout>>,
}

impl Content {
    /// The `core` file of process `proc` (index into `Checkpoint::processes`).
    pub fn core(proc: u32) -> Content {
        Content::Core(Core {
            proc,
            layout: OnceLock::new(),
        })
    }
}

impl Core {
    /// The process and its core layout (built once; a failure is `EIO`, never a panic).
    fn parts<'a>(&'a self, ck: &'a Checkpoint) -> Result<(&'a Process, &'a CoreLayout)> {
        let p = process(ck, self.proc).ok_or_else(|| {
            Error::logged(libc::EIO, "no-process", "inode refers to a missing process")
        })?;
        let l = self
            .layout
            .get_or_init(|| catch_unwind(AssertUnwindSafe(|| CoreLayout::new(ck, p))).ok())
            .as_ref()
            .ok_or_else(|| {
                let m = format!(
                    "{}/core: building the ELF layout failed (internal error)",
                    p.pid
                );
                Error::logged(libc::EIO, m.clone(), m)
            })?;
        Ok((p, l))
    }

    fn size_and_present(&self, ck: &Checkpoint) -> (u64, u64) {
        match self.parts(ck) {
            Ok((p, l)) => (l.size(), l.present_bytes(p)),
            Err(_) => (0, 0),
        }
    }

    fn read<'a>(
        &'a self,
        ck: &'a Checkpoint,
        off: u64,
        len: u32,
        scratch: &'a mut Vec<u8>,
    ) -> Result<&'a [u8]> {
        let (p, l) = self.parts(ck)?;
        if off >= l.size() || len == 0 {
            return Ok(&[]);
        }
        let n = (len as u64).min(l.size() - off);
        let err = |e: ReadError| mem_error(p, "core", &e);
        match l.piece_at(p, off, n) {
            Piece::Data(d) if d.len() as u64 == n => return Ok(d),
            Piece::Zeros(z) if z == n => {
                if let Some(zs) = zeros(n) {
                    return Ok(zs);
                }
            }
            _ => {}
        }
        scratch.clear();
        scratch.resize(n as usize, 0);
        let got = l.read_at(p, off, scratch).map_err(err)?;
        Ok(&scratch[..got])
    }

    fn seek(&self, ck: &Checkpoint, off: i64, whence: i32) -> Result<u64> {
        let Ok((p, l)) = self.parts(ck) else {
            return seek_dense(0, off, whence);
        };
        match whence {
            libc::SEEK_DATA | libc::SEEK_HOLE => {
                let off = u64::try_from(off).map_err(|_| Error::NXIO)?;
                if off >= l.size() {
                    return Err(Error::NXIO);
                }
                if whence == libc::SEEK_DATA {
                    l.next_data(p, off).ok_or(Error::NXIO)
                } else {
                    Ok(l.next_hole(p, off).min(l.size()))
                }
            }
            _ => seek_plain(l.size(), off, whence),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::memory::{Extent, ExtentData};
    use crate::render::testutil::blob_memory as memory;

    fn pattern(n: usize, seed: u8) -> Blob {
        Blob::from_vec(
            (0..n)
                .map(|i| seed.wrapping_add((i / 7) as u8) | 1)
                .collect(),
        )
    }

    /// Every rendered row of the table of files is a text file whose messages name it by its
    /// pattern with the numbers filled in, and whose bytes are its renderer's.
    #[test]
    fn text_files_render_through_their_row() {
        use crate::render::files::{FILES, PLACEHOLDERS};
        let mut p = crate::render::testutil::process(42, Vec::new(), Vec::new());
        p.threads
            .push(crate::render::testutil::thread(43, "worker"));
        p.fds.push(crate::model::process::Fd {
            fd: 7,
            fd_flags: 0,
            file: crate::model::files::FileObject::reg(1, "/etc/hosts"),
        });
        let ck = crate::render::testutil::checkpoint(vec![p]);
        let path = |pattern: &str| {
            let filled: Vec<&str> = pattern
                .split('/')
                .map(|c| match c {
                    "PID" => "42",
                    "TID" => "43",
                    "N" => "7",
                    c => c,
                })
                .collect();
            filled.join("/")
        };
        let mut rendered = 0;
        for (i, row) in FILES.iter().enumerate() {
            let Some(render) = row.render() else {
                continue;
            };
            rendered += 1;
            let sub = u32::from(matches!(render, Render::Thread(_)));
            let src = TextSrc::new(i, 0, sub).unwrap();
            assert_eq!(src.row().path, row.path);
            assert_eq!(describe(&ck, src), path(row.path));
            let name = src.name();
            assert!(
                PLACEHOLDERS.contains(&name)
                    || row.path.ends_with(&format!("/{name}"))
                    || row.path == name,
                "{}",
                row.path
            );
            // No user namespace in this checkpoint: the maps say so; the rest render.
            let r = render_inner(&ck, src);
            assert_eq!(
                r.is_ok(),
                !row.path.ends_with("id_map"),
                "{}: {r:?}",
                row.path
            );
        }
        assert!(rendered > 30, "{rendered} rendered rows");
        let at = |pattern: &str| {
            let i = FILES.iter().position(|f| f.path == pattern).unwrap();
            TextSrc::new(i, 0, 1).unwrap()
        };
        let p = &ck.processes[0];
        assert_eq!(render_inner(&ck, at("PID/comm")).unwrap(), render::comm(p));
        assert_eq!(
            render_inner(&ck, at("PID/task/TID/regs")).unwrap(),
            render::regs(&p.threads[1])
        );
        assert_eq!(describe(&ck, at("PID/task/TID/regs")), "42/task/43/regs");
        // An index the model does not have: still a path, with 0 for the missing numbers, and
        // an error, not a panic.
        let i = FILES
            .iter()
            .position(|f| f.path == "PID/task/TID/regs")
            .unwrap();
        let gone = TextSrc::new(i, 5, 5).unwrap();
        assert_eq!(describe(&ck, gone), "0/task/0/regs");
        assert!(render_inner(&ck, gone).is_err());
        // A row that is not rendered, and one past the table.
        let served = FILES.iter().position(|f| f.path == "PID/mem").unwrap();
        assert!(render_inner(&ck, TextSrc::new(served, 0, 0).unwrap()).is_err());
        assert_eq!(TextSrc::new(FILES.len(), 0, 0), None);
    }

    /// Reference: the byte at `addr`, via the model's own `read_at`.
    fn reference(mem: &Memory, addr: u64, n: usize) -> Vec<u8> {
        let mut v = vec![0xee; n];
        mem.read_at(addr, &mut v).unwrap();
        v
    }

    #[test]
    fn read_within_one_run_is_zero_copy() {
        let b = pattern(3 * 4096, 3);
        let mem = memory(&[(0x10000, &b)]);
        let mut scratch = Vec::new();
        let r = read_sparse(&mem, 0, 1 << 47, 0x10010, 100, &mut scratch).unwrap();
        assert_eq!(r, &b.bytes()[0x10..0x10 + 100]);
        assert!(
            std::ptr::eq(r.as_ptr(), b.bytes()[0x10..].as_ptr()),
            "the mmap slice itself"
        );
        assert_eq!(scratch.capacity(), 0, "no allocation");
        // A read entirely in a hole: shared zeros, no allocation either.
        let r = read_sparse(&mem, 0, 1 << 47, 0x2_0000, 65536, &mut scratch).unwrap();
        assert_eq!(r.len(), 65536);
        assert!(r.iter().all(|&x| x == 0));
        assert_eq!(scratch.capacity(), 0);
    }

    #[test]
    fn read_across_runs_and_holes() {
        let a = pattern(4096, 1);
        let b = pattern(8192, 50);
        let c = pattern(4096, 99);
        // a and b are adjacent but from different blobs; then a hole; then c.
        let mem = memory(&[(0x1000, &a), (0x2000, &b), (0x6000, &c)]);
        let mut scratch = Vec::new();
        for (off, len) in [
            (0u64, 0x8000u32),
            (0xff0, 0x20),
            (0x1ff0, 0x20),
            (0x3ff0, 0x2020),
            (0x5fff, 2),
            (0x6fff, 10),
            (0x0, 1),
            (0x1000, 0x3000),
            (0x3800, 0x3000),
        ] {
            let r = read_sparse(&mem, 0, 0x8000, off, len, &mut scratch)
                .unwrap()
                .to_vec();
            let n = (len as u64).min(0x8000 - off) as usize;
            assert_eq!(r, reference(&mem, off, n), "read at {off:#x} len {len:#x}");
        }
        // With a base (a memory/<range> file) and the size as the bound.
        let r = read_sparse(&mem, 0x1800, 0x1000, 0xf00, 0x1000, &mut scratch)
            .unwrap()
            .to_vec();
        assert_eq!(r, reference(&mem, 0x2700, 0x100));
        // Past the end: empty. At the very end of the address space: no overflow.
        assert!(
            read_sparse(&mem, 0, 0x8000, 0x8000, 10, &mut scratch)
                .unwrap()
                .is_empty()
        );
        assert!(
            read_sparse(&mem, 0, 0x8000, u64::MAX, 10, &mut scratch)
                .unwrap()
                .is_empty()
        );
        assert!(
            read_sparse(&mem, u64::MAX, 2, 1, 10, &mut scratch)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            read_sparse(&mem, 0, 0x8000, 0, 0, &mut scratch)
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn scratch_is_reused() {
        let a = pattern(4096, 1);
        let mem = memory(&[(0x1000, &a)]);
        let mut scratch = Vec::new();
        read_sparse(&mem, 0, 0x4000, 0x800, 0x2000, &mut scratch).unwrap();
        let cap = scratch.capacity();
        let ptr = scratch.as_ptr();
        read_sparse(&mem, 0, 0x4000, 0x900, 0x2000, &mut scratch).unwrap();
        assert_eq!(scratch.capacity(), cap);
        assert_eq!(scratch.as_ptr(), ptr);
    }

    #[test]
    fn broken_is_an_error() {
        let a = pattern(4096, 1);
        let (mem, _) = Memory::from_extents(vec![
            Extent {
                start: 0x1000,
                len: 4096,
                data: ExtentData::Bytes(a.clone()),
            },
            Extent {
                start: 0x3000,
                len: 4096,
                data: ExtentData::Broken(Arc::from("pages file too short")),
            },
        ]);
        let mut scratch = Vec::new();
        let e = read_sparse(&mem, 0, 0x8000, 0x3010, 16, &mut scratch).unwrap_err();
        assert_eq!(e.addr, 0x3010);
        assert!(e.reason.contains("too short"));
        let e = read_sparse(&mem, 0, 0x8000, 0x1000, 0x3000, &mut scratch).unwrap_err();
        assert_eq!(e.addr, 0x3000);
        // Before the broken run: fine.
        assert!(read_sparse(&mem, 0, 0x8000, 0x1000, 0x2000, &mut scratch).is_ok());
    }

    #[test]
    fn seek_data_and_hole_sparse() {
        let a = pattern(4096, 1);
        let b = pattern(8192, 2);
        let mem = memory(&[(0x1000, &a), (0x2000, &b), (0x6000, &a)]);
        let size: u64 = 0x10000;
        let sd = |off: i64| seek_sparse(&mem, 0, size, off, libc::SEEK_DATA);
        let sh = |off: i64| seek_sparse(&mem, 0, size, off, libc::SEEK_HOLE);
        assert_eq!(sd(0), Ok(0x1000));
        assert_eq!(sd(0x1000), Ok(0x1000));
        assert_eq!(sd(0x1800), Ok(0x1800), "inside data: the offset itself");
        assert_eq!(sd(0x4000), Ok(0x6000), "start of a hole: the next run");
        assert_eq!(sd(0x7000), Err(Error::NXIO), "past the last run");
        assert_eq!(sd(size as i64), Err(Error::NXIO));
        assert_eq!(sd(-1), Err(Error::NXIO));
        assert_eq!(sd(i64::MAX), Err(Error::NXIO));
        assert_eq!(sh(0), Ok(0), "in a hole: the offset itself");
        assert_eq!(sh(0x1000), Ok(0x4000), "adjacent runs are one data region");
        assert_eq!(sh(0x3fff), Ok(0x4000));
        assert_eq!(sh(0x6000), Ok(0x7000));
        assert_eq!(sh(size as i64 - 1), Ok(size - 1));
        assert_eq!(sh(size as i64), Err(Error::NXIO));
        assert_eq!(sh(-5), Err(Error::NXIO));
        // Data running up to the end: the hole is the end of the file.
        let full = memory(&[(0x0, &b)]);
        assert_eq!(
            seek_sparse(&full, 0, 0x2000, 0x10, libc::SEEK_HOLE),
            Ok(0x2000)
        );
        assert_eq!(
            seek_sparse(&full, 0, 0x1000, 0x10, libc::SEEK_HOLE),
            Ok(0x1000),
            "clamped to size"
        );
        // Data beyond the file's end does not count.
        assert_eq!(
            seek_sparse(&mem, 0, 0x5000, 0x4000, libc::SEEK_DATA),
            Err(Error::NXIO)
        );
        // With a base: offsets are relative to it.
        assert_eq!(seek_sparse(&mem, 0x1800, 0x6000, 0, libc::SEEK_DATA), Ok(0));
        assert_eq!(
            seek_sparse(&mem, 0x1800, 0x6000, 0, libc::SEEK_HOLE),
            Ok(0x2800)
        );
        assert_eq!(
            seek_sparse(&mem, 0x1800, 0x6000, 0x2800, libc::SEEK_DATA),
            Ok(0x4800)
        );
        assert_eq!(
            seek_sparse(&mem, 0x1800, 0x5000, 0x2800, libc::SEEK_DATA),
            Ok(0x4800)
        );
        assert_eq!(
            seek_sparse(&mem, 0x1800, 0x4800, 0x2800, libc::SEEK_DATA),
            Err(Error::NXIO)
        );
        // Never ENOSYS: other whences are answered.
        assert_eq!(seek_sparse(&mem, 0, size, 5, libc::SEEK_SET), Ok(5));
        assert_eq!(seek_sparse(&mem, 0, size, -1, libc::SEEK_END), Ok(size - 1));
        assert_eq!(seek_sparse(&mem, 0, size, 0, 99), Err(Error::INVAL));
        assert_eq!(
            seek_sparse(&Memory::default(), 0, size, 0, libc::SEEK_DATA),
            Err(Error::NXIO)
        );
        assert_eq!(
            seek_sparse(&Memory::default(), 0, size, 0, libc::SEEK_HOLE),
            Ok(0)
        );
    }

    #[test]
    fn seek_dense_text() {
        assert_eq!(seek_dense(10, 0, libc::SEEK_DATA), Ok(0));
        assert_eq!(seek_dense(10, 9, libc::SEEK_DATA), Ok(9));
        assert_eq!(seek_dense(10, 10, libc::SEEK_DATA), Err(Error::NXIO));
        assert_eq!(seek_dense(10, 3, libc::SEEK_HOLE), Ok(10));
        assert_eq!(seek_dense(10, 10, libc::SEEK_HOLE), Err(Error::NXIO));
        assert_eq!(seek_dense(0, 0, libc::SEEK_DATA), Err(Error::NXIO));
        assert_eq!(seek_dense(10, -1, libc::SEEK_HOLE), Err(Error::NXIO));
        assert_eq!(seek_dense(10, 0, libc::SEEK_CUR), Err(Error::INVAL));
    }

    #[test]
    fn mem_reads_stop_where_nothing_is_mapped() {
        use crate::model::process::VmaName;
        use crate::render::testutil::{process, vma};
        let eio = Err(Error::errno(libc::EIO));
        let p = process(
            1,
            vec![
                vma(0x10000, 0x12000, "rw-p", 0, VmaName::Anon),
                vma(0x12000, 0x13000, "r--p", 0, VmaName::Anon),
                vma(0x20000, 0x21000, "rw-p", 0, VmaName::Anon),
            ],
            // A dumped page no VMA covers (a damaged checkpoint) still reads.
            vec![(0x10000, vec![1; 4096]), (0x30000, vec![2; 4096])],
        );
        // Unmapped: the first HOLE_LIP bytes after a mapped run (or from 0) read as zeros, up
        // to the next mapped byte; beyond them EIO.
        assert_eq!(mapped_len(&p, 0, 4096), Ok(4096), "the lip at 0");
        assert_eq!(mapped_len(&p, 0xffff, 16), Ok(1), "up to the first mapping");
        assert_eq!(mapped_len(&p, 0x10000, 4096), Ok(4096));
        assert_eq!(
            mapped_len(&p, 0x11000, 0x10000),
            Ok(0x2000),
            "adjacent VMAs"
        );
        assert_eq!(mapped_len(&p, 0x12f00, 4096), Ok(0x100), "short at the end");
        assert_eq!(
            mapped_len(&p, 0x13000, 0x100000),
            Ok(0xd000),
            "lip up to 0x20000"
        );
        assert_eq!(mapped_len(&p, 0x20800, 0x10000), Ok(0x800));
        assert_eq!(
            mapped_len(&p, 0x30000, 0x10000),
            Ok(0x1000),
            "dumped, no VMA"
        );
        assert_eq!(
            mapped_len(&p, 0x21000, 1 << 20),
            Ok(0xf000),
            "lip up to the data"
        );
        // A stretch longer than the lip.
        let q = process(
            2,
            vec![
                vma(0x10000, 0x11000, "rw-p", 0, VmaName::Anon),
                vma(0x1000000, 0x1001000, "rw-p", 0, VmaName::Anon),
            ],
            vec![(0x10000, vec![1; 4096])],
        );
        let lip = HOLE_LIP as u32;
        assert_eq!(mapped_len(&q, 0x11000, 1 << 20), Ok(lip), "a whole lip");
        assert_eq!(mapped_len(&q, 0x11000 + HOLE_LIP, 1), eio, "past the lip");
        assert_eq!(mapped_len(&q, 0x11000 + HOLE_LIP - 8, 64), Ok(8));
        assert_eq!(mapped_len(&q, 0x1000000, 64), Ok(64), "the next mapping");
        assert_eq!(mapped_len(&p, 0x10000, 0), Ok(0));
        let end = p.mem_size();
        assert_eq!(mapped_len(&p, end, 10), Ok(10), "EOF, not EIO");
        assert_eq!(mapped_len(&p, u64::MAX, 10), Ok(10));

        // pagemap: 8 bytes per page, page n at offset n * 8.
        let pm = |off: u64, len: u32| pagemap_mapped_len(&p, off, len);
        assert_eq!(pm(0, 8), eio);
        assert_eq!(pm(0x10 * 8, 64), Ok(24), "pages 0x10-0x12, then a gap");
        assert_eq!(pm(0x10 * 8 + 4, 8), Ok(8), "unaligned inside");
        assert_eq!(pm(0x12 * 8 + 4, 64), Ok(4), "the rest of the last entry");
        assert_eq!(pm(0x13 * 8, 8), eio);
        assert_eq!(pm(0x20 * 8, 8), Ok(8));
        assert_eq!(pm(render::pagemap::pagemap_size(&p), 8), Ok(8), "EOF");
        assert_eq!(pm(u64::MAX - 3, 8), Ok(8));
    }

    #[test]
    fn dense_slices() {
        let b = b"hello world";
        assert_eq!(dense(b, 0, 5), b"hello");
        assert_eq!(dense(b, 6, 100), b"world");
        assert_eq!(dense(b, 11, 1), b"");
        assert_eq!(dense(b, u64::MAX, 1), b"");
    }
}
