//! Memory rules: executable anonymous memory, writable + executable file mappings, deleted files
//! and memfds (mapped, executed, or held open), and file-backed code that was patched in memory.

use std::collections::HashMap;

use super::{Finding, Strength, elf, range, special};
use crate::model::process::{Process, Vma, VmaName, vma_status};
use crate::model::rootfs::FileData;
use crate::model::{Checkpoint, FileKind, PAGE_SIZE};
use crate::source::Blob;

/// True for anonymous memory: private anonymous, heap, stack, and shared anonymous memory
/// (`/dev/zero (deleted)`, which the kernel names like a file).
fn anonymous(v: &Vma) -> bool {
    match &v.name {
        VmaName::Anon | VmaName::Heap | VmaName::Stack => true,
        VmaName::File { .. } => dev_zero(v),
        _ => false,
    }
}

/// A shared anonymous mapping (CRIU's ANON_SHARED, or the `/dev/zero` memfd form of recent kernels).
fn dev_zero(v: &Vma) -> bool {
    match &v.name {
        VmaName::File { path, deleted } => path == "/dev/zero" && *deleted,
        _ => false,
    }
}

/// **Executable anonymous memory** (JIT, shellcode, unpacked payloads): a VMA with PROT_EXEC that
/// no file backs (private anonymous, heap, stack, shared anonymous), except the kernel's own
/// `[vdso]` / `[vsyscall]` (and `[vvar]`). Tag `rwx-anon` when also writable, else `exec-anon`.
pub fn exec_anon(p: &Process) -> Vec<Finding> {
    p.vmas
        .iter()
        .filter(|v| v.executable() && !special(v) && anonymous(v))
        .map(|v| {
            let (tag, strength, what) = if v.writable() {
                (
                    "rwx-anon",
                    Strength::Strong,
                    "writable and executable anonymous mapping",
                )
            } else {
                ("exec-anon", Strength::Weak, "executable anonymous mapping")
            };
            let name = match &v.name {
                VmaName::Heap => " [heap]",
                VmaName::Stack => " [stack]",
                _ if dev_zero(v) => " (shared)",
                _ => "",
            };
            Finding::new(
                p.pid,
                range(v),
                tag,
                strength,
                format!("{what}{name} {}", v.perms()),
            )
        })
        .collect()
}

/// **Writable and executable file mappings**: PROT_WRITE|PROT_EXEC on a file-backed VMA (memory a
/// program can rewrite and run; anonymous ones are [`exec_anon`]'s `rwx-anon`). Tag `wx-file`.
pub fn writable_exec(p: &Process) -> Vec<Finding> {
    p.vmas
        .iter()
        .filter(|v| v.writable() && v.executable() && !special(v) && !anonymous(v))
        .map(|v| {
            Finding::new(
                p.pid,
                range(v),
                "wx-file",
                Strength::Weak,
                format!(
                    "writable and executable mapping {} {}",
                    v.perms(),
                    vma_label(v)
                ),
            )
        })
        .collect()
}

fn vma_label(v: &Vma) -> String {
    match &v.name {
        VmaName::File { path, deleted } => {
            if *deleted {
                format!("{path} (deleted)")
            } else {
                path.clone()
            }
        }
        VmaName::Unknown { file_id } => format!("(file id {file_id})"),
        VmaName::Anon => String::new(),
        VmaName::Heap => "[heap]".into(),
        VmaName::Stack => "[stack]".into(),
        VmaName::Vdso => "[vdso]".into(),
        VmaName::Vvar => "[vvar]".into(),
        VmaName::VvarVclock => "[vvar_vclock]".into(),
        VmaName::Vsyscall => "[vsyscall]".into(),
        VmaName::Uprobes => "[uprobes]".into(),
    }
}

/// What backs a file VMA, for the deleted / memfd rule.
enum Backing {
    Deleted(String),
    Memfd(String),
}

fn backing(v: &Vma) -> Option<Backing> {
    if dev_zero(v) || sysv(v) {
        return None;
    }
    if let Some(f) = &v.file {
        match &f.kind {
            FileKind::Memfd { name, .. } => {
                let n = match &v.name {
                    VmaName::File { path, .. } => path.clone(),
                    _ => format!("/memfd:{name}"),
                };
                return Some(Backing::Memfd(n));
            }
            FileKind::Reg { path, deleted, .. } if *deleted => {
                return Some(Backing::Deleted(path.clone()));
            }
            _ => {}
        }
    }
    match &v.name {
        VmaName::File { path, .. } if path.starts_with("/memfd:") => {
            Some(Backing::Memfd(path.clone()))
        }
        VmaName::File { path, deleted } if *deleted => Some(Backing::Deleted(path.clone())),
        VmaName::File { path, .. } if path.ends_with(" (deleted)") => Some(Backing::Deleted(
            path.trim_end_matches(" (deleted)").to_string(),
        )),
        _ => None,
    }
}

/// A System V shared memory attachment, which the kernel names `/SYSV<key> (deleted)`: not a
/// file anyone deleted.
fn sysv(v: &Vma) -> bool {
    v.status & vma_status::SYSVIPC != 0
        || (v.shared()
            && matches!(&v.name, VmaName::File { path, .. } if path.starts_with("/SYSV")))
}

/// **Code from deleted files and memfds** (fileless execution, replaced binaries): every VMA
/// mapping a memfd or a deleted file — executable ones tagged `exec-memfd` / `exec-deleted`, the
/// others `memfd` / `deleted-file` (memfd data mappings are also where payloads are staged).
/// Shared anonymous memory, which the kernel shows as `/dev/zero (deleted)`, and System V
/// segments (`/SYSV<key> (deleted)`) are not files and are not reported. Also the process's
/// `exe` itself when it is a memfd (`exe-memfd`) or deleted (`exe-deleted`), and every
/// descriptor of a regular file that was deleted while open (`fd-deleted`, `<where>` `fd/N`: a
/// dropped tool, a log removed to hide it, or an ordinary temporary file).
pub fn deleted_or_memfd(p: &Process) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(exe) = &p.exe {
        match &exe.kind {
            FileKind::Memfd { name, .. } => out.push(Finding::new(
                p.pid,
                "-",
                "exe-memfd",
                Strength::Strong,
                format!("the executable is a memfd: /memfd:{name}"),
            )),
            FileKind::Reg { path, deleted, .. }
                if *deleted || path.ends_with(" (deleted)") || path.starts_with("/memfd:") =>
            {
                let tag = if path.starts_with("/memfd:") {
                    "exe-memfd"
                } else {
                    "exe-deleted"
                };
                out.push(Finding::new(
                    p.pid,
                    "-",
                    tag,
                    Strength::Strong,
                    format!(
                        "the executable was deleted or is not a file: {}",
                        exe.link_text()
                    ),
                ))
            }
            _ => {}
        }
    }
    for v in &p.vmas {
        let Some(b) = backing(v) else { continue };
        let x = v.executable();
        let (tag, strength, what) = match (&b, x) {
            (Backing::Memfd(n), true) => (
                "exec-memfd",
                Strength::Strong,
                format!("executable mapping of {n}"),
            ),
            (Backing::Memfd(n), false) => ("memfd", Strength::Weak, format!("mapping of {n}")),
            (Backing::Deleted(n), true) => (
                "exec-deleted",
                Strength::Strong,
                format!("executable mapping of a deleted file: {n}"),
            ),
            (Backing::Deleted(n), false) => (
                "deleted-file",
                Strength::Weak,
                format!("mapping of a deleted file: {n}"),
            ),
        };
        out.push(Finding::new(
            p.pid,
            range(v),
            tag,
            strength,
            format!("{what} {}", v.perms()),
        ));
    }
    for fd in &p.fds {
        if let FileKind::Reg {
            path,
            deleted: true,
            ..
        } = &fd.file.kind
        {
            out.push(Finding::new(
                p.pid,
                format!("fd/{}", fd.fd),
                "fd-deleted",
                Strength::Weak,
                format!(
                    "open descriptor of a deleted file: fd/{} -> {} (deleted)",
                    fd.fd,
                    path.trim_end_matches(" (deleted)")
                ),
            ));
        }
    }
    out
}

/// The bytes of mapped files, looked up once per path for every process, with where they came
/// from (`--rootfs`, `the layer`, `saved copy of the deleted file`).
#[derive(Default)]
pub struct FileCache {
    files: HashMap<(String, bool), Option<(Blob, &'static str)>>,
}

impl FileCache {
    /// The file a private mapping maps, if the tree holds it: a deleted file's saved copy (CRIU's
    /// ghost file, `rootfs/PATH (deleted)`), else the file in `rootfs/` (the layer or `--rootfs`).
    fn get(&mut self, ck: &Checkpoint, path: &str, deleted: bool) -> Option<(Blob, &'static str)> {
        let base = path.trim_end_matches(" (deleted)");
        self.files
            .entry((base.to_string(), deleted))
            .or_insert_with(|| {
                let rootfs = &ck.container_fs.rootfs;
                let (d, origin) = if deleted {
                    (
                        rootfs.file(&format!("{base} (deleted)"))?,
                        "saved copy of the deleted file",
                    )
                } else {
                    let d = rootfs.file(base)?;
                    let origin = match d {
                        FileData::Host(_) => "--rootfs",
                        FileData::Blob(_) => "the layer",
                    };
                    (d, origin)
                };
                d.blob().ok().map(|b| (b, origin))
            })
            .clone()
    }
}

/// The address CRIU's parasite used: the start of the first executable VMA below the top of the
/// user address space at least a page long (`get_exec_start()` in CRIU). CRIU writes its
/// injection code there during the dump and restores the bytes, so that page is dumped (it was
/// copied on write) and equals the file.
fn parasite_page(p: &Process) -> Option<u64> {
    let top = p.mem_size();
    p.vmas
        .iter()
        .find(|v| v.executable() && v.start < top && v.len() >= PAGE_SIZE)
        .map(|v| v.start)
}

/// The page addresses of `v` that the dump holds (not filled from a file).
fn dumped_pages(ck: &Checkpoint, p: &Process, v: &Vma) -> Vec<u64> {
    use crate::model::memory::ExtentData;
    let filled = ck.container_fs.filled(p.pid);
    let is_filled = |a: u64| filled.iter().any(|&(s, e)| s <= a && a < e);
    let ext = p.memory.extents();
    let first = ext.partition_point(|e| e.end() <= v.start);
    let mut out = Vec::new();
    for e in &ext[first..] {
        if e.start >= v.end {
            break;
        }
        if !matches!(e.data, ExtentData::Bytes(_)) {
            continue;
        }
        let mut a = e.start.max(v.start) & !(PAGE_SIZE - 1);
        let end = e.end().min(v.end);
        while a < end {
            if !is_filled(a) {
                out.push(a);
            }
            a = a.saturating_add(PAGE_SIZE);
        }
    }
    out
}

/// Runs of differing bytes of two equally long slices: (offset, length).
fn diff_runs(a: &[u8], b: &[u8]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x == y {
            continue;
        }
        match out.last_mut() {
            Some((s, n)) if *s + *n == i => *n += 1,
            _ => out.push((i, 1)),
        }
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Most findings per VMA (the rest are counted in the last one), and most runs described per
/// finding.
const MAX_FINDINGS: usize = 16;
const MAX_RUNS: usize = 4;

/// **Code patched in memory** (inline hooks, injected code in a library's text): the pages of a
/// private, executable file mapping that the dump holds. CRIU dumps only the pages of such a
/// mapping that were copied on write, i.e. written since they were mapped; each is compared with
/// the mapped file at its offset (the page tail past the end of the file as zeros). The file is
/// what the tree holds: a deleted file's saved copy, the container's layer, or `--rootfs`.
/// - A page that differs: `code-patched` (strong), `<where>` the page, with the file offset, each
///   differing run (offset in the page, length, file offset, the ELF symbol that holds it when the
///   file has a symbol table) and the first run's bytes in memory and in the file.
/// - A page equal to the file is not reported: CRIU's own parasite leaves one such page in the
///   first executable mapping of every process (`parasite_page`), and a debugger's removed
///   breakpoint leaves others.
/// - Without the file: `exec-page-unverified` (weak), "dumped executable page, file not
///   available to compare", except for the parasite's page.
///
/// memfd mappings are not compared (their pages are the memfd's own, shared content; a memfd's
/// code is `exec-memfd` already). Every dumped page is examined; at most `MAX_FINDINGS` (16) are
/// reported per VMA, the last one counting the others.
pub fn patched_code(ck: &Checkpoint, p: &Process, files: &mut FileCache) -> Vec<Finding> {
    let parasite = parasite_page(p);
    let mut out = Vec::new();
    for v in &p.vmas {
        if !v.executable() || v.shared() || special(v) || anonymous(v) {
            continue;
        }
        let Some(FileKind::Reg { path, deleted, .. }) = v.file.as_ref().map(|f| &f.kind) else {
            continue;
        };
        let deleted = *deleted || path.ends_with(" (deleted)");
        let shown = path.trim_end_matches(" (deleted)");
        let pages = dumped_pages(ck, p, v);
        if pages.is_empty() {
            continue;
        }
        let file = files.get(ck, path, deleted);
        let first = out.len();
        let mut extra = 0usize;
        for page in pages {
            if out.len() - first >= MAX_FINDINGS {
                // Counted, not described: compare on, without building the text.
                extra += usize::from(match &file {
                    None => Some(page) != parasite,
                    Some((blob, _)) => page_differs(
                        p,
                        page,
                        blob.bytes(),
                        v.pgoff.saturating_add(page - v.start),
                    ),
                });
                continue;
            }
            let file_off = v.pgoff.saturating_add(page - v.start);
            let Some((blob, origin)) = &file else {
                if Some(page) != parasite {
                    out.push(Finding::new(
                        p.pid,
                        format!("{page:x}-{:x}", page.saturating_add(PAGE_SIZE)),
                        "exec-page-unverified",
                        Strength::Weak,
                        format!(
                            "dumped executable page, file not available to compare: {shown}{} at file offset {file_off:#x} (written since mapped; --rootfs can give the file)",
                            if deleted { " (deleted)" } else { "" }
                        ),
                    ));
                }
                continue;
            };
            let mut mem = vec![0u8; PAGE_SIZE as usize];
            if p.memory.read_at(page, &mut mem).is_err() {
                continue;
            }
            let mut want = vec![0u8; PAGE_SIZE as usize];
            let bytes = blob.bytes();
            if let Ok(off) = usize::try_from(file_off)
                && off < bytes.len()
            {
                let n = (bytes.len() - off).min(want.len());
                want[..n].copy_from_slice(&bytes[off..off + n]);
            }
            let runs = diff_runs(&mem, &want);
            if runs.is_empty() {
                continue;
            }
            let total: usize = runs.iter().map(|r| r.1).sum();
            let described: Vec<String> = runs
                .iter()
                .take(MAX_RUNS)
                .map(|&(o, n)| {
                    let at = file_off.saturating_add(o as u64);
                    let sym = elf::symbol_at(bytes, at)
                        .map(|(s, d)| format!(", {s}+{d:#x}"))
                        .unwrap_or_default();
                    format!(
                        "+{o:#x} {n} byte{} (file offset {at:#x}{sym})",
                        if n == 1 { "" } else { "s" }
                    )
                })
                .collect();
            let more = if runs.len() > MAX_RUNS {
                format!(", {} more runs", runs.len() - MAX_RUNS)
            } else {
                String::new()
            };
            let (o, n) = runs[0];
            let n = n.min(16);
            out.push(Finding::new(
                p.pid,
                format!("{page:x}-{:x}", page.saturating_add(PAGE_SIZE)),
                "code-patched",
                Strength::Strong,
                format!(
                    "executable page differs from {shown}{} at file offset {file_off:#x} (file from {origin}): {total} byte{} in {} run{}: {}{more}; memory {} file {}",
                    if deleted { " (deleted)" } else { "" },
                    if total == 1 { "" } else { "s" },
                    runs.len(),
                    if runs.len() == 1 { "" } else { "s" },
                    described.join(", "),
                    hex(&mem[o..o + n]),
                    hex(&want[o..o + n]),
                ),
            ));
        }
        if extra > 0
            && let Some(last) = out.last_mut()
        {
            last.what
                .push_str(&format!(" (and {extra} more such pages in this mapping)"));
        }
    }
    out
}

/// Whether the dumped page at `page` differs from `file` at `file_off` (tail past EOF as zeros);
/// an unreadable page does not count.
fn page_differs(p: &Process, page: u64, file: &[u8], file_off: u64) -> bool {
    let mut mem = vec![0u8; PAGE_SIZE as usize];
    if p.memory.read_at(page, &mut mem).is_err() {
        return false;
    }
    let mut want = vec![0u8; PAGE_SIZE as usize];
    if let Ok(off) = usize::try_from(file_off)
        && off < file.len()
    {
        let n = (file.len() - off).min(want.len());
        want[..n].copy_from_slice(&file[off..off + n]);
    }
    mem != want
}
