//! Generates a large synthetic checkpoint for benchmarks (see `scripts/bench.sh` and
//! `docs/performance.md`) with the in-repo writer ([`ckptfs::writer`]).
//!
//! ```text
//! cargo run --release --example gen_checkpoint -- OUTDIR SIZE [--formats dir,tar,gz,zst] [--seed N]
//!     [--run-pages N] [--procs N] [--maps N] [--region-max SIZE]
//! ```
//!
//! SIZE is the amount of dumped page data (`64M`, `512M`, `2G`, `0.5G`, or bytes). Written into
//! OUTDIR (created):
//! - `img/dump/` — a CRIU image directory whose `parent` links to `img/predump/` (the pre-dump
//!   holding ~4% of the pages, referenced as PE_PARENT),
//! - `ck.tar`, `ck.tar.gz` (gzip level 1), `ck.tar.zst` (zstd level 3) — Podman exports,
//! - `markers.txt` — `PID ADDRESS STRING` of every marker (also printed),
//! - `runs.txt` — `PID START LEN` of every dumped run (for random readers),
//! - `manifest.txt` — `key=value` facts (dumped bytes, pids, marker prefix and count, ...).
//!
//! Four processes share the dumped bytes 5/45/30/20 %. Each has a private file text mapping
//! (not dumped: a hole), a data mapping with a few dumped pages, a heap, anonymous regions of
//! up to 64 MiB and a stack; the second also maps a memfd (shared memory). In every 1 MiB of a
//! region 960 KiB are dumped and 64 KiB are a hole. Page content is decided per 64 KiB block
//! from the address: random bytes (35 %), text (30 %), zero pages (13 %), repeated template
//! pages (15 %), pointer-like words (7 %). Markers `CKPTFS-MARKER-<pid>-<n>` sit on lines of
//! their own (`\n` before and after) at known addresses: in random and text pages, across a
//! page boundary, in shared memory and in parent pages. Everything is deterministic for a seed.
//!
//! Knobs for fragmentation and scale (absent, the layout above is unchanged byte for byte):
//! - `--run-pages N`: the heap and the anonymous regions are dumped runs of N pages, each followed
//!   by a one-page hole (so one pagemap entry per run: `--run-pages 1` gives about one entry per
//!   dumped page, the address span twice the dumped bytes). The data mapping (8 pages) and the
//!   shared memory stay contiguous.
//! - `--procs N`: N processes instead of 4 (the first four as above, the others `worker` children
//!   of PID 1 with PIDs 100, 101, ...); each of the extra ones gets an equal share of what the four
//!   leave (the four keep 5/45/30/20 % of 4/N of the bytes when N > 4).
//! - `--maps N`: the second process (PID 7) has N more mappings: two-page private file mappings
//!   of `/usr/lib/x86_64-linux-gnu/libgenK.so` with no dumped page (holes), like a process that
//!   maps many libraries or arenas.
//! - `--region-max SIZE`: the largest anonymous region (64 MiB without it): `--procs 1
//!   --region-max 4G` puts most of the bytes in one VMA, like a JVM or Go heap.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use ckptfs::writer::{CheckpointWriter, Compression, Layout, PAGE, PageFn, Vma};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
/// A region is made of 1 MiB blocks, each with this much dumped (the rest is a hole).
const BLOCK: u64 = MIB;
const BLOCK_DUMPED: u64 = 960 * KIB;
/// Largest anonymous region.
const REGION_MAX: u64 = 64 * MIB;
const MARKERS_PER_PROC: usize = 12;
const MARKER_PREFIX: &str = "CKPTFS-MARKER";

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// xorshift64* over whole words.
fn fill_random(state: u64, buf: &mut [u8]) {
    let mut s = state | 1;
    for chunk in buf.chunks_exact_mut(8) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        chunk.copy_from_slice(&s.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
}

const TEXT_LEN: usize = 1 << 20;

/// 1 MiB (+ a page) of log-like and config-like text, built once.
fn text_corpus(seed: u64) -> &'static [u8] {
    static TEXT: OnceLock<Vec<u8>> = OnceLock::new();
    TEXT.get_or_init(|| {
        const WORDS: &str = "the user session connection from host select insert update where id = \
            value error warning info debug request GET POST /api/v1/items HTTP/1.1 200 404 500 \
            json token timeout retry database postgres table index commit rollback cache hit miss \
            worker thread pool queue message received sent bytes ms ok failed config path \
            /var/lib/app localhost port 5432 8080 true false null name email example.com password";
        let words: Vec<&str> = WORDS.split_whitespace().collect();
        let mut out = Vec::with_capacity(TEXT_LEN + PAGE as usize);
        let mut s = splitmix(seed ^ 0x7e57);
        let mut line = 0u64;
        while out.len() < TEXT_LEN + PAGE as usize {
            line += 1;
            let _ = write!(
                Wrapper(&mut out),
                "2026-11-28T10:{:02}:{:02}.{:03}Z [{}] ",
                (line / 60) % 60,
                line % 60,
                line % 1000,
                ["INFO", "WARN", "DEBUG", "ERROR"][(line % 4) as usize]
            );
            let n = 4 + (s % 12);
            for _ in 0..n {
                s = splitmix(s);
                out.extend_from_slice(words[(s % words.len() as u64) as usize].as_bytes());
                out.push(b' ');
            }
            out.push(b'\n');
        }
        out.truncate(TEXT_LEN + PAGE as usize);
        out
    })
}

struct Wrapper<'a>(&'a mut Vec<u8>);
impl std::fmt::Write for Wrapper<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Template pages for "repeated" content (e.g. identical allocator pages, copied buffers).
fn templates(seed: u64) -> &'static [[u8; 4096]; 4] {
    static T: OnceLock<Box<[[u8; 4096]; 4]>> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = Box::new([[0u8; 4096]; 4]);
        for (i, p) in t.iter_mut().enumerate() {
            match i {
                0 => fill_random(splitmix(seed ^ 0x7e11), p),
                1 => p.copy_from_slice(&text_corpus(seed)[12345..12345 + 4096]),
                2 => {
                    for (j, w) in p.chunks_exact_mut(8).enumerate() {
                        w.copy_from_slice(&(0xdead_beef_0000_0000u64 | j as u64).to_le_bytes());
                    }
                }
                _ => p.fill(0xa5),
            }
        }
        t
    })
}

/// The content kind of the 64 KiB block holding `addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Random,
    Text,
    Zero,
    Repeated,
    Pointers,
}

fn kind_at(seed: u64, addr: u64) -> Kind {
    match splitmix(seed ^ (addr >> 16)) % 100 {
        0..35 => Kind::Random,
        35..65 => Kind::Text,
        65..78 => Kind::Zero,
        78..93 => Kind::Repeated,
        _ => Kind::Pointers,
    }
}

fn fill_page(seed: u64, addr: u64, buf: &mut [u8]) {
    let h = splitmix(seed ^ addr.rotate_left(17));
    match kind_at(seed, addr) {
        Kind::Random => fill_random(h, buf),
        Kind::Text => {
            let off = (h as usize) % TEXT_LEN;
            buf.copy_from_slice(&text_corpus(seed)[off..off + buf.len()]);
        }
        Kind::Zero => {}
        Kind::Repeated => buf.copy_from_slice(&templates(seed)[(h % 4) as usize]),
        Kind::Pointers => {
            let mut s = h | 1;
            for w in buf.chunks_exact_mut(8) {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let v = match s % 4 {
                    0 => 0x7f00_0000_0000 | ((s >> 20) & 0xff_ffff_fff8),
                    1 => 0x5555_5600_0000 | ((s >> 24) & 0xff_fff8),
                    2 => (s >> 40) & 0xffff,
                    _ => 0,
                };
                w.copy_from_slice(&v.to_le_bytes());
            }
        }
    }
}

fn page_fn(seed: u64) -> PageFn {
    Arc::new(move |addr, buf: &mut [u8]| fill_page(seed, addr, buf))
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mul) = match s.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&s[..s.len() - 1], KIB),
        Some('M') => (&s[..s.len() - 1], MIB),
        Some('G') => (&s[..s.len() - 1], 1024 * MIB),
        Some('T') => (&s[..s.len() - 1], 1024 * 1024 * MIB),
        _ => (s, 1),
    };
    let v: f64 = num.parse().map_err(|_| format!("bad size {s:?}"))?;
    if v.is_nan() || v <= 0.0 {
        return Err(format!("bad size {s:?}"));
    }
    Ok((v * mul as f64) as u64)
}

/// One dumped run.
#[derive(Clone, Copy)]
struct Run {
    start: u64,
    len: u64,
}

struct Marker {
    pid: u32,
    addr: u64,
    text: String,
}

#[derive(Clone, Copy)]
struct ProcPlan {
    pid: u32,
    comm: &'static str,
    exe: &'static str,
    share: u64, // percent of the dumped bytes
}

const PROCS: [ProcPlan; 4] = [
    ProcPlan {
        pid: 1,
        comm: "tini",
        exe: "/usr/bin/tini",
        share: 5,
    },
    ProcPlan {
        pid: 7,
        comm: "postgres",
        exe: "/usr/lib/postgresql/16/bin/postgres",
        share: 45,
    },
    ProcPlan {
        pid: 23,
        comm: "java",
        exe: "/usr/lib/jvm/java-21/bin/java",
        share: 30,
    },
    ProcPlan {
        pid: 41,
        comm: "python3",
        exe: "/usr/bin/python3.12",
        share: 20,
    },
];

/// The processes: [`PROCS`] for 4 (or fewer), then `worker`s. `share` is in units of 1/`scale`.
fn plans(n: usize) -> (Vec<ProcPlan>, u64) {
    const WORKER: ProcPlan = ProcPlan {
        pid: 0,
        comm: "worker",
        exe: "/usr/bin/worker",
        share: 0,
    };
    if n == PROCS.len() {
        return (PROCS.to_vec(), 100);
    }
    if n < PROCS.len() {
        // The first n, sharing everything in the same proportions.
        return (
            PROCS[..n].to_vec(),
            PROCS[..n].iter().map(|p| p.share).sum(),
        );
    }
    // In units of 1/(100 * n): the four keep 4/n of the bytes, each worker 1/n.
    let n64 = n as u64;
    let mut v: Vec<ProcPlan> = PROCS
        .iter()
        .map(|p| ProcPlan {
            share: p.share * 4,
            ..*p
        })
        .collect();
    for i in 0..n - PROCS.len() {
        v.push(ProcPlan {
            pid: 100 + i as u32,
            share: 100,
            ..WORKER
        });
    }
    (v, 100 * n64)
}

/// Lays `pages` dumped pages out as regions from `base`: returns the VMAs' (start, len) and the
/// dumped runs. `run_pages`: runs of that many pages separated by one-page holes instead of the
/// default 960 KiB in every 1 MiB.
fn regions(base: u64, pages: u64, max: u64, run_pages: Option<u64>) -> (Vec<(u64, u64)>, Vec<Run>) {
    match run_pages {
        Some(n) => regions_fragmented(base, pages, max, n.max(1)),
        None => regions_blocks(base, pages, max),
    }
}

fn regions_fragmented(
    base: u64,
    mut pages: u64,
    max: u64,
    run: u64,
) -> (Vec<(u64, u64)>, Vec<Run>) {
    let cap = (max / PAGE).max(run + 1);
    let mut vmas = Vec::new();
    let mut runs = Vec::new();
    let mut at = base;
    while pages > 0 {
        let start = at;
        let mut used = 0;
        while pages > 0 && used + 1 < cap {
            let n = pages.min(run).min(cap - used - 1);
            runs.push(Run {
                start: at,
                len: n * PAGE,
            });
            pages -= n;
            at += (n + 1) * PAGE;
            used += n + 1;
        }
        vmas.push((start, used * PAGE));
        at = start + used * PAGE + 16 * MIB;
    }
    (vmas, runs)
}

fn regions_blocks(base: u64, mut pages: u64, max: u64) -> (Vec<(u64, u64)>, Vec<Run>) {
    let per_block = BLOCK_DUMPED / PAGE;
    let mut vmas = Vec::new();
    let mut runs = Vec::new();
    let mut at = base;
    while pages > 0 {
        let blocks = pages.div_ceil(per_block).min(max / BLOCK).max(1);
        let start = at;
        for _ in 0..blocks {
            let n = pages.min(per_block);
            if n == 0 {
                break;
            }
            runs.push(Run {
                start: at,
                len: n * PAGE,
            });
            pages -= n;
            at += BLOCK;
        }
        vmas.push((start, blocks * BLOCK));
        // a gap between regions (other mappings, guard pages)
        at = start + blocks * BLOCK + 16 * MIB;
    }
    (vmas, runs)
}

struct Built {
    dump: CheckpointWriter,
    markers: Vec<Marker>,
    runs: Vec<(u32, Run)>,
    dumped: u64,
    parent_bytes: u64,
    shmem_bytes: u64,
    vmas: usize,
    pids: Vec<u32>,
}

/// The generator's knobs (all `None`: the default layout).
#[derive(Clone, Copy, Default)]
struct Knobs {
    run_pages: Option<u64>,
    procs: Option<usize>,
    maps: Option<usize>,
    region_max: Option<u64>,
}

fn build(size: u64, seed: u64, knobs: Knobs) -> Built {
    let total_pages = (size / PAGE).max(64);
    let f = page_fn(seed);
    let mut dump = CheckpointWriter::new();
    let mut parent = CheckpointWriter::new();
    let mut markers = Vec::new();
    let mut all_runs = Vec::new();
    let mut dumped = 0u64;
    let mut parent_bytes = 0u64;
    let mut shmem_bytes = 0u64;
    let mut nvmas = 0usize;

    let (plans, scale) = plans(knobs.procs.unwrap_or(PROCS.len()).max(1));
    for (pi, plan) in plans.iter().enumerate() {
        let pid = plan.pid;
        let mut pages = (total_pages * plan.share / scale).max(16);
        // Addresses: the four first as always; the others reuse their slots (each process has
        // its own address space).
        let slot = (pi % PROCS.len()) as u64;
        let p = dump.process(pid, if pid == 1 { 0 } else { 1 });
        p.comm(plan.comm)
            .cmdline(&[plan.exe, "--bench", "synthetic"])
            .environ(&[
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME=/root",
                "CKPTFS_SECRET=hunter2",
            ])
            .exe(plan.exe)
            .stopped();
        // text: a private file mapping, never dumped (a hole in mem, zeros in memory/)
        let text = 0x5555_5555_4000u64 + slot * 0x10_0000_0000;
        p.vma(Vma::file(text, 2 * MIB, plan.exe, 0).rx());
        // data: private file mapping, a few pages written (dumped, PRESENT)
        let data = text + 2 * MIB;
        p.vma(Vma::file(data, 256 * KIB, plan.exe, 2 * MIB).rw());
        p.pages_fn(data, 8, f.clone());
        pages = pages.saturating_sub(8);
        let mut runs = vec![Run {
            start: data,
            len: 8 * PAGE,
        }];
        nvmas += 2;
        // many small mappings (libraries, arenas): holes only
        if pi == 1.min(plans.len() - 1) {
            for k in 0..knobs.maps.unwrap_or(0) {
                let lib = format!("/usr/lib/x86_64-linux-gnu/libgen{k}.so");
                p.vma(Vma::file(0x6000_0000_0000 + k as u64 * 3 * PAGE, 2 * PAGE, &lib, 0).r());
                nvmas += 1;
            }
        }

        // shared memory (postgres' shared buffers): a memfd, 10 % of its pages
        if pi == 1 {
            let shm_pages = pages / 10;
            if shm_pages > 0 {
                let shm = 0x7e00_0000_0000u64;
                let len = shm_pages.div_ceil(256) * 256 * PAGE;
                p.vma(Vma::memfd(shm, len, "/dev/zero", 3));
                p.pages_fn(shm, shm_pages, f.clone());
                runs.push(Run {
                    start: shm,
                    len: shm_pages * PAGE,
                });
                shmem_bytes += shm_pages * PAGE;
                pages -= shm_pages;
                nvmas += 1;
            }
        }

        // heap: a quarter (at most 256 MiB), then anonymous regions
        let heap_pages = (pages / 4).min(256 * MIB / PAGE);
        let heap_base = 0x5555_5700_0000u64 + slot * 0x10_0000_0000;
        let (hv, hr) = regions(heap_base, heap_pages, 512 * MIB, knobs.run_pages);
        // one [heap] VMA spanning all of it
        let heap_len = hv.last().map_or(0, |(s, l)| s + l - heap_base);
        if heap_len > 0 {
            p.heap(heap_base, heap_len);
            nvmas += 1;
        }
        let (av, ar) = regions(
            0x7f00_0000_0000 + slot * 0x10_0000_0000,
            pages - heap_pages,
            knobs.region_max.unwrap_or(REGION_MAX),
            knobs.run_pages,
        );
        for (s, l) in &av {
            p.anon(*s, *l);
        }
        nvmas += av.len() + 1; // + stack
        let mut anon_runs: Vec<Run> = hr.iter().chain(ar.iter()).copied().collect();

        // the parent dump holds the first runs of the biggest anonymous region of postgres and
        // java (about 4 % of all pages)
        let mut parent_runs = Vec::new();
        if pi == 1 || pi == 2 {
            let want = (pages * 8 / 100).max(1);
            let mut got = 0;
            for r in ar.iter() {
                if got >= want {
                    break;
                }
                parent_runs.push(*r);
                got += r.len / PAGE;
            }
        }
        let in_parent: std::collections::HashSet<u64> =
            parent_runs.iter().map(|q| q.start).collect();
        for r in &anon_runs {
            if in_parent.contains(&r.start) {
                p.parent_pages(r.start, r.len / PAGE);
            } else {
                p.pages_fn(r.start, r.len / PAGE, f.clone());
            }
        }
        runs.append(&mut anon_runs);

        // markers: spread over the process's dumped pages
        let total: u64 = runs.iter().map(|r| r.len / PAGE).sum();
        let place = |i: usize, page_idx: u64, off: u64| {
            let mut idx = page_idx % total;
            let mut addr = 0;
            for r in &runs {
                let n = r.len / PAGE;
                if idx < n {
                    addr = r.start + idx * PAGE + off;
                    break;
                }
                idx -= n;
            }
            let text = format!("{MARKER_PREFIX}-{pid}-{i}");
            (addr, text)
        };
        let mut pm = Vec::new();
        for i in 0..MARKERS_PER_PROC {
            let (addr, text) = match i {
                // across a page boundary, inside a run
                0 => place(i, 3, PAGE - 7),
                _ => place(
                    i,
                    splitmix(seed ^ ((pid as u64) << 8) ^ i as u64) % total,
                    64 + (i as u64 * 331) % 3900,
                ),
            };
            pm.push((addr, text));
        }
        // one marker surely in shared memory and one in parent pages
        if let Some(r) = runs
            .iter()
            .find(|r| r.start >= 0x7e00_0000_0000 && r.start < 0x7f00_0000_0000)
        {
            pm.push((
                r.start + 5 * PAGE + 100,
                format!("{MARKER_PREFIX}-{pid}-shm"),
            ));
        }
        if let Some(r) = parent_runs.first() {
            // (runs of fewer than 3 pages: in the first page)
            let page = if r.len >= 3 * PAGE { 2 * PAGE } else { 0 };
            pm.push((
                r.start + page + 200,
                format!("{MARKER_PREFIX}-{pid}-parent"),
            ));
        }
        if !parent_runs.is_empty() {
            let pp = parent.process(pid, if pid == 1 { 0 } else { 1 });
            for (s, l) in &av {
                pp.anon(*s, *l);
            }
            for r in &parent_runs {
                pp.pages_fn(r.start, r.len / PAGE, f.clone());
                parent_bytes += r.len;
            }
        }
        for (addr, text) in pm {
            let line = format!("\n{text}\n");
            let in_parent = parent_runs
                .iter()
                .any(|r| addr >= r.start && addr + line.len() as u64 <= r.start + r.len);
            if in_parent {
                parent
                    .get_process(pid)
                    .expect("parent process")
                    .pages(addr - 1, line.as_bytes());
            } else {
                dump.get_process(pid)
                    .expect("process")
                    .pages(addr - 1, line.as_bytes());
            }
            markers.push(Marker { pid, addr, text });
        }
        for r in &runs {
            dumped += r.len;
            all_runs.push((pid, *r));
        }
    }
    dump.with_parent("predump", parent);
    Built {
        dump,
        markers,
        runs: all_runs,
        dumped,
        parent_bytes,
        shmem_bytes,
        vmas: nvmas,
        pids: plans.iter().map(|p| p.pid).collect(),
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("gen_checkpoint: {e}");
        std::process::exit(1);
    }
}

const USAGE: &str = "usage: gen_checkpoint OUTDIR SIZE [--formats dir,tar,gz,zst] [--seed N] \
    [--run-pages N] [--procs N] [--maps N] [--region-max SIZE]";

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut pos = Vec::new();
    let mut formats = "dir,tar,gz,zst".to_string();
    let mut seed = 0x5eed_u64;
    let mut knobs = Knobs::default();
    let number = |name: &str, v: Option<String>| -> Result<u64, String> {
        v.and_then(|s| s.parse::<u64>().ok())
            .filter(|&n| n > 0)
            .ok_or(format!("{name} needs a positive number"))
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--run-pages" => knobs.run_pages = Some(number("--run-pages", args.next())?),
            "--procs" => knobs.procs = Some(number("--procs", args.next())? as usize),
            "--maps" => knobs.maps = Some(number("--maps", args.next())? as usize),
            "--region-max" => {
                let v = args.next().ok_or("--region-max needs a size")?;
                knobs.region_max = Some(parse_size(&v)?.max(PAGE))
            }
            "--formats" => formats = args.next().ok_or("--formats needs a value")?,
            "--seed" => {
                seed = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--seed needs a number")?
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ => pos.push(a),
        }
    }
    let [out, size] = &pos[..] else {
        return Err(USAGE.into());
    };
    let out = PathBuf::from(out);
    let size = parse_size(size)?;
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;

    let t0 = Instant::now();
    let b = build(size, seed, knobs);
    let _ = text_corpus(seed);
    let _ = templates(seed);
    eprintln!(
        "planned {} MiB dumped ({} MiB in the parent dump, {} MiB shared memory), {} processes, {} VMAs, {} dumped runs in {:.2?}",
        b.dumped / MIB,
        b.parent_bytes / MIB,
        b.shmem_bytes / MIB,
        b.pids.len(),
        b.vmas,
        b.runs.len(),
        t0.elapsed()
    );

    let mut text = String::new();
    for m in &b.markers {
        let _ = writeln!(text, "{} {:#x} {}", m.pid, m.addr, m.text);
    }
    print!("{text}");
    write(&out.join("markers.txt"), text.as_bytes())?;
    let mut runs = String::new();
    for (pid, r) in &b.runs {
        let _ = writeln!(runs, "{pid} {:#x} {}", r.start, r.len);
    }
    write(&out.join("runs.txt"), runs.as_bytes())?;
    let pids: Vec<String> = b.pids.iter().map(|p| p.to_string()).collect();
    let mut manifest = format!(
        "dumped_bytes={}\nparent_bytes={}\nshmem_bytes={}\npids={}\nmarker_prefix={MARKER_PREFIX}\nmarkers={}\nvmas={}\nseed={seed}\n",
        b.dumped,
        b.parent_bytes,
        b.shmem_bytes,
        pids.join(","),
        b.markers.len(),
        b.vmas
    );
    // Only with a knob: the default manifest stays as it was.
    if let Some(n) = knobs.run_pages {
        let _ = writeln!(manifest, "run_pages={n}");
    }
    if let Some(n) = knobs.procs {
        let _ = writeln!(manifest, "procs={n}");
    }
    if let Some(n) = knobs.maps {
        let _ = writeln!(manifest, "maps={n}");
    }
    if let Some(n) = knobs.region_max {
        let _ = writeln!(manifest, "region_max={n}");
    }
    if knobs.run_pages.is_some()
        || knobs.procs.is_some()
        || knobs.maps.is_some()
        || knobs.region_max.is_some()
    {
        let _ = writeln!(manifest, "runs={}", b.runs.len());
    }
    write(&out.join("manifest.txt"), manifest.as_bytes())?;

    let layout = Layout::podman("bench");
    let jobs: Vec<(&str, PathBuf)> = formats
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|f| match f {
            "dir" => Ok(("dir", out.join("img/dump"))),
            "tar" => Ok(("tar", out.join("ck.tar"))),
            "gz" => Ok(("gz", out.join("ck.tar.gz"))),
            "zst" => Ok(("zst", out.join("ck.tar.zst"))),
            _ => Err(format!("unknown format {f:?} (dir, tar, gz, zst)")),
        })
        .collect::<Result<_, _>>()?;
    // Two at a time (this is a 2-core machine; compression is the slow part).
    let dump = &b.dump;
    let layout = &layout;
    let results: Vec<Result<String, String>> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for (kind, path) in jobs {
            handles.push(s.spawn(move || {
                let t = Instant::now();
                let r = match kind {
                    "dir" => {
                        let _ = std::fs::remove_dir_all(path.parent().unwrap_or(Path::new(".")));
                        dump.write_dir(&path)
                    }
                    "tar" => dump.write_tar(&path, layout, Compression::None),
                    "gz" => dump.write_tar(&path, layout, Compression::Gzip),
                    _ => dump.write_tar(&path, layout, Compression::Zstd),
                };
                r.map_err(|e| format!("{}: {e}", path.display()))?;
                let len = disk_size(&path);
                Ok(format!(
                    "wrote {} ({} MiB) in {:.1?}",
                    path.display(),
                    len / MIB,
                    t.elapsed()
                ))
            }));
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("writer thread panicked".into()))
            })
            .collect()
    });
    for r in results {
        eprintln!("{}", r?);
    }
    eprintln!("done in {:.1?}", t0.elapsed());
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn disk_size(p: &Path) -> u64 {
    let Ok(m) = std::fs::metadata(p) else {
        return 0;
    };
    if !m.is_dir() {
        return m.len();
    }
    let mut n = 0;
    for dir in [p.to_path_buf(), p.with_file_name("predump")] {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                n += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    n
}
