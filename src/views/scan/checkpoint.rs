//! Scanning one loaded checkpoint: its memory units shared out between threads in parts, the
//! findings merged, then the other files of the tree.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::engine::{PART, PartResult, parts, scan_part, scan_slice};
use super::{Finding, Matchers, Outcome, WINDOW, mapping_text, merge, units};
use crate::model::Checkpoint;
use crate::warning::{Kind, Warnings};

/// How one checkpoint is scanned.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Bytes of context on each side of a match.
    pub context: usize,
    /// Threads sharing out the VMAs (large ones in parts).
    pub threads: usize,
    /// Also the files of `rootfs/`.
    pub rootfs_files: bool,
}

/// Scans one loaded checkpoint with `threads` threads.
pub fn scan_checkpoint(
    ck: &Checkpoint,
    shown: &str,
    m: &Matchers,
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
    on_units: &dyn Fn(u64),
) -> Outcome {
    let Options {
        context,
        threads,
        rootfs_files,
    } = *opts;
    let units = units::units(ck);
    on_units(units.iter().map(|u| u.present).sum());
    // The work: each unit's parts, in address order (a large VMA is several).
    let work_items: Vec<(usize, std::ops::Range<u64>)> = units
        .iter()
        .enumerate()
        .flat_map(|(i, u)| {
            parts(
                &u.proc.memory,
                u.vma.start..u.vma.end,
                u.present,
                WINDOW,
                PART,
            )
            .into_iter()
            .map(move |r| (i, r))
        })
        .collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, PartResult)>> = Mutex::new(Vec::new());
    let work = || {
        let mut sc = m.scanner();
        let mut buf = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some((u, part)) = work_items.get(i) else {
                break;
            };
            let r = scan_part(
                &mut sc,
                &units[*u],
                part.clone(),
                context,
                &mut buf,
                progress,
            );
            lock(&results).push((i, r));
        }
    };
    let threads = threads.clamp(1, work_items.len().max(1));
    if threads == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(work);
            }
        });
    }
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|r| r.0);
    // Warnings in the units' order, whichever thread scanned which part: the errors per window,
    // the broken bytes summed per VMA.
    let mut warnings = Warnings::new();
    let mut broken = vec![0u64; units.len()];
    for (i, r) in &results {
        let u = &units[work_items[*i].0];
        for (w, e) in &r.errs {
            warnings.push(
                e.kind,
                format!("PID {} {} at {w:#x}: {e}", u.proc.pid, mapping_text(u.vma)),
            );
        }
        broken[work_items[*i].0] += r.broken;
    }
    for (u, b) in units.iter().zip(&broken) {
        if *b > 0 {
            warnings.push(
                Kind::ScanGap,
                format!(
                    "PID {} {}: {b} bytes the checkpoint cannot serve were scanned as zeros",
                    u.proc.pid,
                    mapping_text(u.vma)
                ),
            );
        }
    }
    let container = ck.meta.container_name.clone();
    let mut findings = merge::memory_findings(
        &units,
        results.into_iter().map(|(i, r)| (work_items[i].0, r)),
        shown,
        &container,
    );
    let mut warn = Warnings::new();
    let files = units::tree_files(ck, rootfs_files, &mut warn);
    let mut sc = m.scanner();
    for f in files {
        for l in scan_slice(&mut sc, f.blob.bytes(), context, &mut warn) {
            findings.push(Finding {
                checkpoint: shown.to_string(),
                container: container.clone(),
                where_: f.where_,
                path: f.path.clone(),
                sha256: None,
                file: f.file.clone(),
                pid: None,
                comm: String::new(),
                address: l.addr,
                length: l.hit.len,
                mapping: String::new(),
                rule: l.hit.rule,
                string: l.hit.string,
                context: l.context,
                pids: Vec::new(),
                processes: Vec::new(),
                shared: None,
                change: None,
            });
        }
    }
    warnings.extend(warn);
    if !findings.is_empty() {
        let sha = ck.source.input_sha256();
        for f in &mut findings {
            f.sha256.clone_from(&sha);
        }
    }
    Outcome { findings, warnings }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
