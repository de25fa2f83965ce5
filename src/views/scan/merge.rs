//! Merging the findings of a checkpoint's memory: one per match, whichever parts and processes
//! found it. A match in shared memory is one finding naming every process that maps the range,
//! each with its address; findings sorted by PID, address, rule and string.

use std::collections::{BTreeMap, HashSet};

use super::engine::{Located, PartResult};
use super::units::Unit;
use super::{Finding, Seen, Shared, mapping_text};

/// The findings of the parts scanned (`results`: each with its unit's index in `units`, in the
/// units' and parts' order), merged: one per (object or process, offset or address, rule,
/// string), sorted.
pub(super) fn memory_findings(
    units: &[Unit<'_>],
    results: impl IntoIterator<Item = (usize, PartResult)>,
    shown: &str,
    container: &Option<String>,
) -> Vec<Finding> {
    // Merge: one finding per (object or process, offset or address, rule, string).
    let mut merged: BTreeMap<(String, u64, String, String), Finding> = BTreeMap::new();
    // A rule that matched without a string: once per VMA (each part reports it once).
    let mut whole: HashSet<(usize, String)> = Default::default();
    for (ui, r) in results {
        let u = &units[ui];
        for Located {
            hit: h,
            addr,
            context: ctx,
        } in r.out
        {
            if h.len == 0 && !whole.insert((ui, h.rule.clone())) {
                continue;
            }
            let rel = addr - u.vma.start;
            let mut seen: Vec<Seen> = u
                .sharers
                .iter()
                .map(|(p, v)| Seen {
                    pid: p.pid,
                    comm: p.comm.clone(),
                    address: v.start + rel,
                    mapping: mapping_text(v),
                })
                .collect();
            seen.sort_by_key(|s| s.pid);
            seen.dedup();
            let (key, pos, shared) = match &u.object {
                Some(o) => (
                    o.clone(),
                    u.vma.pgoff + rel,
                    Some(Shared {
                        object: o.clone(),
                        offset: u.vma.pgoff + rel,
                    }),
                ),
                None => (format!("pid:{}", u.proc.pid), addr, None),
            };
            // The file in the tree: the lowest PID's memory/ file (the others' are links to it).
            let (low_pid, path) = u
                .sharers
                .iter()
                .min_by_key(|(p, _)| p.pid)
                .map(|(p, v)| {
                    (
                        p.pid,
                        format!("{}/memory/{}", p.pid, crate::fs::content::vma_file_name(v)),
                    )
                })
                .unwrap_or_default();
            let k = (key, pos, h.rule.clone(), h.string.clone());
            if let Some(f) = merged.get_mut(&k) {
                if f.processes.first().is_some_and(|s| low_pid < s.pid) {
                    f.path = path;
                }
                for s in seen {
                    if !f.processes.contains(&s) {
                        f.processes.push(s);
                    }
                }
                f.processes.sort_by_key(|s| s.pid);
                continue;
            }
            let first = seen[0].clone();
            merged.insert(
                k,
                Finding {
                    checkpoint: shown.to_string(),
                    container: container.clone(),
                    where_: "memory",
                    path,
                    sha256: None,
                    file: None,
                    pid: Some(first.pid),
                    comm: first.comm,
                    address: first.address,
                    length: h.len,
                    mapping: first.mapping,
                    rule: h.rule,
                    string: h.string,
                    context: ctx,
                    pids: Vec::new(),
                    processes: seen,
                    shared,
                    change: None,
                },
            );
        }
    }
    let mut findings: Vec<Finding> = merged
        .into_values()
        .map(|mut f| {
            let mut pids: Vec<u32> = f.processes.iter().map(|s| s.pid).collect();
            pids.dedup();
            f.pids = pids;
            let first = &f.processes[0];
            f.pid = Some(first.pid);
            f.comm = first.comm.clone();
            f.address = first.address;
            f.mapping = first.mapping.clone();
            f
        })
        .collect();
    findings.sort_by(|a, b| {
        (a.pid, a.address, &a.rule, &a.string).cmp(&(b.pid, b.address, &b.rule, &b.string))
    });
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::process::VmaName;
    use crate::render::testutil::{process, vma};
    use crate::views::scan::matchers::Hit;

    fn located(rule: &str, string: &str, addr: u64, len: usize) -> Located {
        Located {
            hit: Hit {
                rule: rule.into(),
                string: string.into(),
                off: 0,
                len,
            },
            addr,
            context: format!("at {addr:x}"),
        }
    }

    /// A shared range found in one process's copy names every process that maps it, each with
    /// its own address, the lowest PID first; a rule without a string is one finding per VMA
    /// whichever parts report it; findings sort by PID and numeric address (0x9000 before
    /// 0x10000), and addresses print as `0x` hex.
    #[test]
    fn shared_matches_name_every_process_and_sort_by_address() {
        let mut shared_hi = vma(0x7000_0000, 0x7000_1000, "rw-s", 0, VmaName::Anon);
        shared_hi.shmid = 7;
        let mut shared_lo = vma(0x5000_0000, 0x5000_1000, "rw-s", 0, VmaName::Anon);
        shared_lo.shmid = 7;
        let private = vma(0x9000, 0x20000, "rw-p", 0, VmaName::Anon);
        let p20 = process(20, vec![shared_hi.clone()], Vec::new());
        let p10 = process(10, vec![shared_lo.clone(), private.clone()], Vec::new());
        let units = [
            Unit {
                proc: &p20,
                vma: &shared_hi,
                object: Some("shmem:7".into()),
                sharers: vec![(&p20, &shared_hi), (&p10, &shared_lo)],
                present: 0x1000,
            },
            Unit {
                proc: &p10,
                vma: &private,
                object: None,
                sharers: vec![(&p10, &private)],
                present: 0x17000,
            },
        ];
        let part = |out| PartResult {
            out,
            ..Default::default()
        };
        let results = vec![
            (0, part(vec![located("string", "KEY", 0x7000_0010, 3)])),
            (
                1,
                part(vec![
                    located("string", "KEY", 0x10000, 3),
                    located("string", "KEY", 0x9000, 3),
                    located("r", "", 0x9000, 0),
                ]),
            ),
            (1, part(vec![located("r", "", 0x18000, 0)])),
        ];
        let f = memory_findings(&units, results, "ck", &None);
        let got: Vec<(Option<u32>, u64, &str)> = f
            .iter()
            .map(|f| (f.pid, f.address, f.rule.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(10), 0x9000, "r"),
                (Some(10), 0x9000, "string"),
                (Some(10), 0x10000, "string"),
                (Some(10), 0x5000_0010, "string"),
            ]
        );
        let shared = &f[3];
        assert_eq!(shared.pids, vec![10, 20]);
        assert_eq!(shared.path, "10/memory/50000000-50001000");
        let j = serde_json::to_value(shared).unwrap();
        assert_eq!(j["address"], "0x50000010");
        assert_eq!(j["shared"]["offset"], "0x10");
        assert_eq!(j["shared"]["object"], "shmem:7");
        let seen: Vec<&str> = j["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["address"].as_str().unwrap())
            .collect();
        assert_eq!(seen, vec!["0x50000010", "0x70000010"]);
        assert_eq!(f[0].context, "at 9000");
    }
}
