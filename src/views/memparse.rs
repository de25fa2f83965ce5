//! `ckptfs memparse CHECKPOINT`: memory sizes per process, a process's memory as a hexdump, and
//! search over dumped memory.
//!
//! ```text
//!
//! Displaying processes memory sizes from checkpoint.tar.gz
//!
//! PID   PROCESS NAME   MEMORY SIZE   SHARED MEMORY SIZE   SHARED MEMORY DUMPED
//! ---   ------------   -----------   ------------------   --------------------
//! 1     sh             72.0 KiB      0 B                  0 B
//! ```
//!
//! - The table lists the processes in tree order. MEMORY SIZE is the process's dumped private
//!   memory (its pagemap's pages); SHARED MEMORY SIZE, as checkpointctl's, the *mapped size* of
//!   its `MAP_SHARED` mappings, dumped or not; SHARED MEMORY DUMPED (ckptfs's own column) the
//!   bytes of those mappings CRIU dumped (shared anonymous memory, SysV segments, memfd). Per
//!   process: memory shared by several processes counts in each.
//! - `-p PID`: the process's dumped memory as a hexdump, `ADDRESS  16 hex bytes |ASCII|`, one
//!   block per run of contiguous dumped memory (private and shared), runs in address order.
//!   On stdout repeated lines are collapsed to `*`; when a run ends inside such a repetition its
//!   last line is printed, so where the data stops is visible. checkpointctl collapses lines
//!   whose *ASCII column* equals the previous one, hiding lines whose bytes differ but are all
//!   non-printable; ckptfs collapses only identical bytes, like `hexdump -C`. With `-o FILE` the
//!   dump goes to FILE, every line written (as checkpointctl does).
//! - `-s STRING` / `-r REGEX` (with `-p PID`, or over every process without it): each match's
//!   address, the match with `-c N` bytes of context on each side (non-printable bytes as `?`),
//!   and its number in its process (INSTANCE counts per process, also over every process). See [`crate::model::memory::search`] for what is searched and how: unlike checkpointctl,
//!   matches that cross a page, a pagemap entry or a pages file are found, at exact addresses; a
//!   string is found at every address where it occurs; regexes match raw bytes (checkpointctl
//!   turns non-printable bytes into `?` before matching, so its `\x00`-style patterns and `?`
//!   behave differently). Over every process, a match in shared memory (a SysV segment, shared
//!   anonymous memory, a memfd, a shared file mapping) is one row whose PID column lists every
//!   process that maps it (`6,7`), at the first one's address.
//! - `--format json` / `jsonl`: the sizes, the runs of `-p` (ranges, not bytes) or the matches as
//!   rows (docs/views.md has the fields).

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use super::{Error, write_out};
use crate::format::human_size;
use crate::format::table;
use crate::model::Checkpoint;
use crate::model::memory::Memory;
use crate::model::memory::search::{Pattern, Searchable, Skipped, printable};
use crate::model::process::Process;
use crate::source::OpenOptions;
use crate::source::blob::Releaser;

/// What `memparse` is asked for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The checkpoint.
    pub checkpoint: PathBuf,
    /// The process to dump or search (None: the sizes table, or search every process).
    pub pid: Option<u32>,
    /// Write the dump or the search results to this file instead of the output.
    pub output: Option<PathBuf>,
    pub search: Option<Search>,
    /// Bytes of context shown on each side of a match.
    pub context: usize,
    /// Table (checkpointctl's text) or rows as JSON.
    pub format: super::RowFormat,
}

/// What to search the dumped memory for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    Literal(String),
    /// A regular expression over bytes.
    Regex(String),
}

/// Writes the `memparse` output for `args` to `out` (or to `args.output`).
pub fn run(args: &Request, open: &OpenOptions, out: &mut dyn Write) -> Result<(), Error> {
    let pattern = match &args.search {
        Some(Search::Literal(s)) => {
            Some((Pattern::literal(s.as_bytes()).map_err(Error::input)?, s))
        }
        Some(Search::Regex(r)) => Some((Pattern::regex(r).map_err(Error::input)?, r)),
        None => None,
    };
    let ck = super::load_for_view(&args.checkpoint, open)?;
    if ck.processes.is_empty() {
        return Err(Error::input(format!(
            "{}: pstree.img is missing: the checkpoint holds no process tree, so no memory to show",
            args.checkpoint.display()
        )));
    }
    let shown = args.checkpoint.display();
    if args.format != super::RowFormat::Table {
        let rows = json_rows(&ck, args, pattern.as_ref().map(|p| &p.0))?;
        return with_output(args, out, |w| {
            write_out(w, args.format.json_rows(&rows).as_bytes())
        });
    }
    if let Some((pat, text)) = pattern {
        let procs: Vec<&Process> = match args.pid {
            Some(pid) => vec![super::process(&ck, pid)?],
            None => super::tree_order(&ck),
        };
        return with_output(args, out, |w| {
            search_table(w, &procs, &pat, text, args.context, args.pid.is_some())
        });
    }
    match args.pid {
        Some(pid) => {
            let p = super::process(&ck, pid)?;
            match &args.output {
                Some(path) => {
                    write_out(
                        out,
                        format!(
                            "\nWriting memory pages content for process ID {pid} from checkpoint: {shown} to file: {}...\n",
                            path.display()
                        )
                        .as_bytes(),
                    )?;
                    with_output(args, out, |w| hexdump(w, &p.memory, false))
                }
                None => {
                    write_out(
                        out,
                        format!(
                            "\nDisplaying memory pages content for process ID {pid} from checkpoint: {shown}\n\n"
                        )
                        .as_bytes(),
                    )?;
                    hexdump(out, &p.memory, true)
                }
            }
        }
        None => with_output(args, out, |w| {
            let mut s = format!("\nDisplaying processes memory sizes from {shown}\n\n");
            s.push_str(&sizes_table(&ck));
            write_out(w, s.as_bytes())
        }),
    }
}

/// Opens `-o FILE` for checkpoint bytes: owner-only, as the mount is. A new file is created 0600
/// and an existing regular file is narrowed to 0600; anything else (`/dev/null`, a FIFO, a
/// terminal) is written as it is and its mode never touched.
fn create_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    if f.metadata()?.file_type().is_file() {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

/// Runs `f` on `-o FILE` when given, else on `out`.
fn with_output(
    args: &Request,
    out: &mut dyn Write,
    f: impl FnOnce(&mut dyn Write) -> Result<(), Error>,
) -> Result<(), Error> {
    match &args.output {
        Some(path) => {
            let file = create_private(path)
                .map_err(|e| Error::output(&format!("cannot create {}", path.display()), &e))?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            f(&mut w)?;
            w.flush()
                .map_err(|e| Error::output(&format!("cannot write {}", path.display()), &e))
        }
        None => f(out),
    }
}

/// The mapped size of a process's `MAP_SHARED` mappings, dumped or not (checkpointctl's SHARED
/// MEMORY SIZE).
pub fn shared_mapped(p: &Process) -> u64 {
    p.vmas
        .iter()
        .filter(|v| v.shared())
        .map(|v| v.end.saturating_sub(v.start))
        .fold(0, u64::saturating_add)
}

/// A process's dumped private and shared memory, in bytes.
pub fn memory_sizes(p: &Process) -> (u64, u64) {
    let shared: u64 = p
        .vmas
        .iter()
        .filter(|v| v.shared())
        .map(|v| p.memory.present_in(v.start, v.end))
        .fold(0, u64::saturating_add);
    (p.memory.present_bytes().saturating_sub(shared), shared)
}

/// The PID / PROCESS NAME / MEMORY SIZE / SHARED MEMORY SIZE / SHARED MEMORY DUMPED table.
pub fn sizes_table(ck: &Checkpoint) -> String {
    let rows: Vec<Vec<String>> = super::tree_order(ck)
        .into_iter()
        .map(|p| {
            let (private, shared) = memory_sizes(p);
            vec![
                p.pid.to_string(),
                p.comm.clone(),
                human_size(private),
                human_size(shared_mapped(p)),
                human_size(shared),
            ]
        })
        .collect();
    table::render(
        &[
            "PID",
            "Process name",
            "Memory size",
            "Shared memory size",
            "Shared memory dumped",
        ],
        &rows,
    )
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// How much of a run the hexdump prints between two hand-overs of its pages to the releaser.
const HEXDUMP_RELEASE: u64 = 1 << 20;

fn hex_line(buf: &mut Vec<u8>, addr: u64, b: &[u8]) {
    buf.extend_from_slice(format!("{addr:016x}  ").as_bytes());
    for &c in b {
        buf.push(HEX[(c >> 4) as usize]);
        buf.push(HEX[(c & 15) as usize]);
        buf.push(b' ');
    }
    for _ in b.len()..16 {
        buf.extend_from_slice(b"   ");
    }
    buf.extend_from_slice(b" |");
    for &c in b {
        buf.push(if (32..127).contains(&c) { c } else { b'.' });
    }
    buf.extend_from_slice(b"|\n");
}

/// The hexdump of `mem` (see the module docs), with its two header lines.
pub fn hexdump(out: &mut dyn Write, mem: &Memory, compact: bool) -> Result<(), Error> {
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    buf.extend_from_slice(
        b"Address           Hexadecimal                                       ASCII            \n\
          -------------------------------------------------------------------------------------\n",
    );
    let (runs, skipped) = crate::model::memory::search::runs(mem);
    // The pages printed so far are released per window: the resident set stays bounded however
    // big the dump (a window plus the output buffer), and many small runs cost one release per
    // window of the pages file.
    let mut rel = Releaser::new();
    let mut skipped = skipped.iter().peekable();
    let flush = |buf: &mut Vec<u8>, out: &mut dyn Write| -> Result<(), Error> {
        write_out(out, buf)?;
        buf.clear();
        Ok(())
    };
    for r in &runs {
        while let Some(k) = skipped.next_if(|k| k.start < r.start) {
            skipped_line(&mut buf, k);
        }
        let mut prev = [0u8; 16];
        let mut prev_len = usize::MAX;
        let mut dup: Option<u64> = None;
        let mut addr = r.start;
        let mut released = addr;
        while addr < r.end() {
            let line = r.bytes(addr, addr.saturating_add(16).min(r.end()));
            if compact && line.len() == prev_len && line[..] == prev[..prev_len] {
                if dup.is_none() {
                    buf.extend_from_slice(b"*\n");
                }
                dup = Some(addr);
            } else {
                hex_line(&mut buf, addr, &line);
                dup = None;
                prev[..line.len()].copy_from_slice(&line);
                prev_len = line.len();
            }
            addr += line.len() as u64;
            if buf.len() >= 1 << 16 {
                flush(&mut buf, out)?;
            }
            if addr - released >= HEXDUMP_RELEASE {
                r.release(released, addr, &mut rel);
                released = addr;
            }
        }
        r.release(released, addr, &mut rel);
        if let Some(last) = dup {
            hex_line(&mut buf, last, &prev[..prev_len]);
        }
    }
    for k in skipped {
        skipped_line(&mut buf, k);
    }
    flush(&mut buf, out)
}

/// The line of a hexdump that stands for a range the checkpoint claims but cannot serve.
fn skipped_line(buf: &mut Vec<u8>, k: &Skipped) {
    buf.extend_from_slice(
        format!(
            "{:016x}  ** {} bytes the checkpoint claims but cannot serve: {} **\n",
            k.start,
            k.len,
            printable(k.reason.as_bytes())
        )
        .as_bytes(),
    );
}

/// The search result table. With one PID: ADDRESS / MATCH / INSTANCE, as checkpointctl; over
/// several processes a PID column comes first, and INSTANCE still counts within each process.
/// Where a byte of shared memory lives, the same for every process that maps it: the shared
/// object and the offset in it.
type SharedAt = (crate::model::process::SharedObject, u64);

/// The shared object and offset of `addr` in `p`, when `addr` lies in a `MAP_SHARED` mapping.
fn shared_at(p: &Process, addr: u64) -> Option<SharedAt> {
    let v = p.vmas.iter().find(|v| v.start <= addr && addr < v.end)?;
    Some((v.shared_object()?, v.pgoff.saturating_add(addr - v.start)))
}

/// One row of a search: the processes that see the match (several for shared memory), the
/// address in the first, the match with its context, its number in the first process.
struct Hit {
    pids: Vec<u32>,
    addr: u64,
    text: String,
    instance: usize,
}

fn search_hits(procs: &[&Process], pat: &Pattern, context: usize, one_pid: bool) -> Vec<Hit> {
    let mut hits: Vec<Hit> = Vec::new();
    // A match in memory several processes share is one row, with every PID that maps it.
    let mut shared_rows: std::collections::HashMap<SharedAt, usize> =
        std::collections::HashMap::new();
    for p in procs {
        // INSTANCE numbers the matches of one process (checkpointctl searches one process).
        let mut instance = 0usize;
        let s = Searchable::new(&p.memory);
        for k in &s.skipped {
            crate::views::warn(format_args!(
                "PID {}: {} bytes at {:#x} not searched: {}",
                p.pid, k.len, k.start, k.reason
            ));
        }
        for m in s.find(pat) {
            let at = if one_pid { None } else { shared_at(p, m.addr) };
            if let Some(i) = at.as_ref().and_then(|k| shared_rows.get(k)) {
                if let Some(h) = hits.get_mut(*i) {
                    h.pids.push(p.pid);
                }
                continue;
            }
            if let Some(k) = at {
                shared_rows.insert(k, hits.len());
            }
            instance += 1;
            hits.push(Hit {
                pids: vec![p.pid],
                addr: m.addr,
                text: s.context_text(&m, context),
                instance,
            });
        }
    }
    hits
}

fn search_table(
    out: &mut dyn Write,
    procs: &[&Process],
    pat: &Pattern,
    text: &str,
    context: usize,
    one_pid: bool,
) -> Result<(), Error> {
    let hits = search_hits(procs, pat, context, one_pid);
    if hits.is_empty() {
        let whose = match procs {
            [p] if one_pid => format!("PID {}", p.pid),
            _ => "the checkpoint's processes".to_string(),
        };
        return write_out(
            out,
            format!("No matches for pattern \"{text}\" in the memory of {whose}\n").as_bytes(),
        );
    }
    let rows: Vec<Vec<String>> = hits
        .into_iter()
        .map(|h| {
            let mut row = Vec::with_capacity(4);
            if !one_pid {
                let pids: Vec<String> = h.pids.iter().map(u32::to_string).collect();
                row.push(pids.join(","));
            }
            row.push(format!("{:016x}", h.addr));
            row.push(h.text);
            row.push(h.instance.to_string());
            row
        })
        .collect();
    let header: &[&str] = if one_pid {
        &["Address", "Match", "Instance"]
    } else {
        &["PID", "Address", "Match", "Instance"]
    };
    write_out(out, table::render(header, &rows).as_bytes())
}

fn hex_addr(a: u64) -> String {
    format!("{a:#x}")
}

/// The rows of `--format json|jsonl` (field names in docs/views.md): the sizes per process; with
/// `-p PID` the runs of dumped memory (and the ranges that cannot be served); with a search, the
/// matches.
fn json_rows(
    ck: &Checkpoint,
    args: &Request,
    pat: Option<&Pattern>,
) -> Result<Vec<serde_json::Value>, Error> {
    use serde_json::json;
    if let Some(pat) = pat {
        let procs: Vec<&Process> = match args.pid {
            Some(pid) => vec![super::process(ck, pid)?],
            None => super::tree_order(ck),
        };
        return Ok(search_hits(&procs, pat, args.context, args.pid.is_some())
            .into_iter()
            .map(|h| {
                json!({
                    "pid": h.pids.first(),
                    "pids": h.pids,
                    "address": hex_addr(h.addr),
                    "match": h.text,
                    "instance": h.instance,
                })
            })
            .collect());
    }
    if let Some(pid) = args.pid {
        let p = super::process(ck, pid)?;
        let (runs, skipped) = crate::model::memory::search::runs(&p.memory);
        let mut rows: Vec<(u64, serde_json::Value)> = runs
            .iter()
            .map(|r| {
                (
                    r.start,
                    json!({
                        "pid": pid,
                        "start": hex_addr(r.start),
                        "end": hex_addr(r.end()),
                        "size": r.end() - r.start,
                        "error": null,
                    }),
                )
            })
            .collect();
        rows.extend(skipped.iter().map(|k| {
            (
                k.start,
                json!({
                    "pid": pid,
                    "start": hex_addr(k.start),
                    "end": hex_addr(k.start.saturating_add(k.len)),
                    "size": k.len,
                    "error": k.reason.to_string(),
                }),
            )
        }));
        rows.sort_by_key(|r| r.0);
        return Ok(rows.into_iter().map(|r| r.1).collect());
    }
    Ok(super::tree_order(ck)
        .into_iter()
        .map(|p| {
            let (private, shared) = memory_sizes(p);
            json!({
                "pid": p.pid,
                "comm": p.comm,
                "memory_size": private,
                "shared_memory_size": shared_mapped(p),
                "shared_memory_dumped": shared,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::memory::{Extent, ExtentData};
    use crate::source::Blob;

    /// `-o` narrows a regular file to 0600 but never changes the mode of a device: a bench ran
    /// `memparse -o /dev/null` and left the machine's `/dev/null` owner-only. Checked on a null
    /// device node of our own (mknod needs root: skipped otherwise).
    #[test]
    fn output_file_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ckptfs-memparse-o-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let reg = dir.join("out");
        std::fs::write(&reg, b"old").unwrap();
        std::fs::set_permissions(&reg, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_private(&reg).unwrap();
        assert_eq!(mode(&reg), 0o600);
        assert_eq!(std::fs::read(&reg).unwrap(), b"", "truncated");
        let new = dir.join("new");
        create_private(&new).unwrap();
        assert_eq!(mode(&new), 0o600);
        let null = dir.join("null");
        let made = std::process::Command::new("mknod")
            .args(["-m", "666"])
            .arg(&null)
            .args(["c", "1", "3"])
            .status()
            .is_ok_and(|s| s.success());
        if made {
            create_private(&null).unwrap();
            assert_eq!(mode(&null), 0o666, "a device keeps its mode");
        } else {
            eprintln!("SKIPPED: output_file_modes: mknod needs root (device part only)");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn dump(mem: &Memory, compact: bool) -> String {
        let mut v = Vec::new();
        hexdump(&mut v, mem, compact).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn collapses_identical_lines_only() {
        let mut bytes = vec![0u8; 96];
        bytes[16] = 1; // differs from line 0 but prints the same ASCII (all dots)
        bytes[48..64].copy_from_slice(b"0123456789abcdef");
        let b = Blob::from_vec(bytes);
        let (mem, _) = Memory::from_extents(vec![Extent {
            start: 0x1000,
            len: 96,
            data: ExtentData::Bytes(b),
        }]);
        let d = dump(&mem, true);
        let lines: Vec<&str> = d.lines().skip(2).collect();
        assert_eq!(
            lines,
            [
                "0000000000001000  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  |................|",
                "0000000000001010  01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  |................|",
                "0000000000001020  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  |................|",
                "0000000000001030  30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66  |0123456789abcdef|",
                "0000000000001040  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  |................|",
                "*",
                "0000000000001050  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  |................|",
            ]
        );
        // Uncompacted: every line.
        assert_eq!(dump(&mem, false).lines().count(), 2 + 6);
    }

    /// The hexdump of a mapped pages file leaves none of its pages in our page tables (they are
    /// released per window as the dump goes): its resident set does not grow with the dump. The
    /// file is 5,000 one-page extents with holes between, then one 24 MiB extent.
    #[test]
    fn hexdump_releases_what_it_printed() {
        let resident = crate::source::blob::resident;
        let (small, big) = (5000usize, 24usize << 20);
        let bytes: Vec<u8> = (0..small * 4096 + big).map(|i| (i / 7) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pages-1.img");
        std::fs::write(&path, &bytes).unwrap();
        let b = Blob::map_file(&path).unwrap();
        let mut v: Vec<Extent> = (0..small)
            .map(|i| Extent {
                start: 0x10_0000 + 2 * 4096 * i as u64,
                len: 4096,
                data: ExtentData::Bytes(b.slice(i * 4096..(i + 1) * 4096).unwrap()),
            })
            .collect();
        v.push(Extent {
            start: 0x1000_0000,
            len: big as u64,
            data: ExtentData::Bytes(b.slice(small * 4096..small * 4096 + big).unwrap()),
        });
        let (mem, _) = Memory::from_extents(v);
        let mut out = std::io::sink();
        hexdump(&mut out, &mem, false).unwrap();
        let p0 = b.bytes().as_ptr() as usize;
        let kept = (0..bytes.len() / 4096)
            .filter(|&i| resident(p0 + i * 4096))
            .count();
        assert_eq!(kept, 0, "pages left mapped after the hexdump");
    }

    #[test]
    fn runs_restart_after_holes_and_broken_ranges_are_shown() {
        let b = Blob::from_vec(vec![7u8; 32]);
        let (mem, _) = Memory::from_extents(vec![
            Extent {
                start: 0x1000,
                len: 32,
                data: ExtentData::Bytes(b.clone()),
            },
            Extent {
                start: 0x3000,
                len: 16,
                data: ExtentData::Broken("pages file too short".into()),
            },
            Extent {
                start: 0x5000,
                len: 16,
                data: ExtentData::Bytes(b.slice(0..16).unwrap()),
            },
        ]);
        let d = dump(&mem, true);
        let lines: Vec<&str> = d.lines().skip(2).collect();
        assert_eq!(lines.len(), 5, "{d}");
        assert!(lines[0].starts_with("0000000000001000  07"));
        assert_eq!(lines[1], "*");
        assert!(
            lines[2].starts_with("0000000000001010  07"),
            "the run's last line"
        );
        assert!(lines[3].starts_with("0000000000003000  ** 16 bytes"));
        assert!(
            lines[4].starts_with("0000000000005000  07"),
            "a new run prints its first line"
        );
    }
}
