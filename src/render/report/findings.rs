//! The findings: triage's ([`crate::render::triage`]) and, when rules or IOCs were given, scan's,
//! in one numbered list (ids `finding-N`, N from 1 over the whole page). A finding at an address
//! of a process is also a [`Mark`] on that process's map ([`marks`]), which links back to the
//! finding's row; the row links to the mapping.

use super::html::{capped, esc, esc_cut, hex};
use super::{Input, Mark, MarkKind, Report, ScanHit};
use crate::render::triage::{Finding, Strength};

/// Rows of each table (triage, scan) per input; the page says when more were found.
pub const MAX_ROWS: usize = 2000;

/// A triage finding's place in memory, when its `where` is one: a mapping's `start-end` or an
/// address, inside a mapping of its process. (start, length).
pub fn triage_place(i: &Input<'_>, f: &Finding) -> Option<(u64, u64)> {
    let pid = f.pid?;
    let p = i.ck.process(pid)?;
    let at = f.at.trim_start_matches("0x");
    let is_hex =
        |s: &str| !s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let (start, len) = match at.split_once('-') {
        Some((a, b)) if is_hex(a) && is_hex(b) => {
            let (a, b) = (
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
            );
            (a, b.checked_sub(a)?)
        }
        None if is_hex(at) && at.len() >= 4 => (u64::from_str_radix(at, 16).ok()?, 0),
        _ => return None,
    };
    p.vma_at(start)?;
    Some((start, len))
}

/// The number of the first finding of each input (`finding-N`), and one past the last.
pub(super) fn firsts(r: &Report<'_>) -> Vec<usize> {
    let mut n = 1;
    let mut v = Vec::with_capacity(r.inputs.len() + 1);
    for i in &r.inputs {
        v.push(n);
        n += i.triage.len().min(MAX_ROWS) + i.scan.len().min(MAX_ROWS);
    }
    v.push(n);
    v
}

/// The marks of input `k`'s findings, (PID, mark), each anchored at its row.
pub fn marks(r: &Report<'_>, k: usize) -> Vec<(u32, Mark)> {
    let Some(i) = r.inputs.get(k) else {
        return Vec::new();
    };
    let mut n = firsts(r)[k];
    let mut out = Vec::new();
    for f in i.triage.iter().take(MAX_ROWS) {
        if let (Some(pid), Some((address, len))) = (f.pid, triage_place(i, f)) {
            out.push((
                pid,
                Mark {
                    address,
                    len,
                    label: format!("#{n} {}: {}", f.tag, f.what),
                    anchor: Some(format!("finding-{n}")),
                    kind: MarkKind::Finding,
                },
            ));
        }
        n += 1;
    }
    for h in i.scan.iter().take(MAX_ROWS) {
        if let Some(pid) = h.pid {
            out.push((
                pid,
                Mark {
                    address: h.address,
                    len: h.length,
                    label: format!("#{n} {} {}", h.rule, h.string),
                    anchor: Some(format!("finding-{n}")),
                    kind: MarkKind::Finding,
                },
            ));
        }
        n += 1;
    }
    out
}

/// The link from a finding to its place on the map: the mapping (`vma-PID-START`), when the
/// process's map is on the page (`drawn`: (input, PID)).
fn map_link(i: &Input<'_>, k: usize, pid: u32, address: u64, drawn: &[(usize, u32)]) -> String {
    let vma = i.ck.process(pid).and_then(|p| p.vma_at(address));
    match vma {
        Some(v) if drawn.contains(&(k, pid)) => format!(
            " <a class=\"tomap\" href=\"#{}\">on the map</a>",
            super::addrmap::vma_id(&super::prefix(k), pid, v.start)
        ),
        _ => String::new(),
    }
}

fn pid_cell(k: usize, pid: Option<u32>) -> String {
    match pid {
        Some(p) => format!("<a href=\"#{}proc-{p}\">{p}</a>", super::prefix(k)),
        None => "-".into(),
    }
}

fn strength(s: Strength) -> String {
    format!("<span class=\"s-{0}\">{0}</span>", s.as_str())
}

fn triage_rows(i: &Input<'_>, k: usize, first: usize, maps: &[(usize, u32)]) -> Vec<String> {
    i.triage
        .iter()
        .take(MAX_ROWS)
        .enumerate()
        .map(|(j, f)| {
            let n = first + j;
            let link = match (f.pid, triage_place(i, f)) {
                (Some(pid), Some((a, _))) => map_link(i, k, pid, a, maps),
                _ => String::new(),
            };
            format!(
                "<tr id=\"finding-{n}\" class=\"f-{}\"><td>{n}</td><td>{}</td><td><code>{}</code>{link}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
                f.strength.as_str(),
                pid_cell(k, f.pid),
                esc_cut(&f.at, 120),
                esc(f.tag),
                strength(f.strength),
                esc_cut(&f.what, 600),
            )
        })
        .collect()
}

fn scan_rows(i: &Input<'_>, k: usize, first: usize, maps: &[(usize, u32)]) -> Vec<String> {
    i.scan
        .iter()
        .take(MAX_ROWS)
        .enumerate()
        .map(|(j, h): (usize, &ScanHit)| {
            let n = first + j;
            let (place, link) = match h.pid {
                Some(pid) => (format!("0x{}", hex(h.address)), map_link(i, k, pid, h.address, maps)),
                None => (format!("offset {}", h.address), String::new()),
            };
            format!(
                "<tr id=\"finding-{n}\"><td>{n}</td><td>{}</td><td><code>{place}</code>{link}</td><td><code>{}</code></td><td><code>{}</code> <code>{}</code></td><td><code>{}</code></td></tr>\n",
                pid_cell(k, h.pid),
                esc_cut(&h.path, 200),
                esc_cut(&h.rule, 200),
                esc_cut(&h.string, 200),
                esc_cut(&h.context, 300),
            )
        })
        .collect()
}

fn table_html(caption: &str, head: &[&str], rows: &[String]) -> String {
    let mut s = format!(
        "<table class=\"findings\"><caption>{}</caption><thead><tr>",
        esc(caption)
    );
    for h in head {
        s.push_str(&format!("<th scope=\"col\">{}</th>", esc(h)));
    }
    s.push_str("</tr></thead><tbody>\n");
    s.push_str(&rows.concat());
    s.push_str("</tbody></table>\n");
    s
}

/// The section. `maps`: the (input, PID) whose address-space map is on the page (rows link to
/// their mapping there).
pub fn section(r: &Report<'_>, maps: &[(usize, u32)]) -> String {
    let mut s = String::from("<section id=\"findings\">\n<h2>Findings</h2>\n");
    s.push_str(
        "<p>Triage lists what to look at first: <span class=\"s-strong\">strong</span> findings \
         show the thing itself, which has no ordinary benign reading; \
         <span class=\"s-weak\">weak</span> ones are hints that often have a benign reason. \
         A finding at an address is marked on its process's map.</p>\n",
    );
    let first = firsts(r);
    let multi = r.inputs.len() > 1;
    for (k, i) in r.inputs.iter().enumerate() {
        if multi {
            s.push_str(&format!(
                "<h3 id=\"findings-{}\">Checkpoint {}: {}</h3>\n",
                k + 1,
                k + 1,
                esc(&i.label)
            ));
        }
        if i.triage.is_empty() {
            s.push_str("<p>Triage: no findings.</p>\n");
        } else {
            let rows = triage_rows(i, k, first[k], maps);
            s.push_str(&table_html(
                &format!("Triage findings of checkpoint {}", k + 1),
                &["#", "PID", "Where", "Tag", "Strength", "What"],
                &rows,
            ));
            s.push_str(&capped(rows.len(), i.triage.len(), "ckptfs triage"));
        }
        if r.scanned {
            if i.scan.is_empty() {
                s.push_str("<p>Scan (rules and IOCs): no matches.</p>\n");
            } else {
                let start = first[k] + i.triage.len().min(MAX_ROWS);
                let rows = scan_rows(i, k, start, maps);
                s.push_str(&table_html(
                    &format!("Scan matches of checkpoint {}", k + 1),
                    &["#", "PID", "Address", "File", "Rule / string", "Context"],
                    &rows,
                ));
                s.push_str(&capped(rows.len(), i.scan.len(), "ckptfs scan"));
            }
        }
    }
    s.push_str("</section>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::*;

    fn finding(pid: Option<u32>, at: &str, what: &str) -> Finding {
        Finding {
            pid,
            at: at.into(),
            tag: "rwx-anon",
            strength: Strength::Strong,
            what: what.into(),
        }
    }

    #[test]
    fn findings_are_numbered_linked_and_marked() {
        let p = process(3, vec![anon_vma(0x10000, 0x20000)], vec![]);
        let ck = checkpoint(vec![p]);
        let r = Report {
            inputs: vec![Input {
                label: "x".into(),
                ck: &ck,
                triage: vec![
                    finding(None, "/etc/ld.so.preload", "<b>preload</b>"),
                    finding(Some(3), "10000-20000", "rwx"),
                    finding(Some(3), "fd/8", "deleted"),
                    finding(Some(3), "99999000-9999a000", "outside every mapping"),
                ],
                scan: vec![ScanHit {
                    pid: Some(3),
                    address: 0x10010,
                    length: 4,
                    rule: "string".into(),
                    string: "<x>".into(),
                    path: "3/memory/10000-20000".into(),
                    context: "a<x>b".into(),
                }],
                changed: vec![],
            }],
            failed: vec![],
            command: String::new(),
            made: None,
            changes: vec![],
            scanned: true,
        };
        let s = section(&r, &[(0, 3)]);
        for n in 1..=5 {
            assert!(s.contains(&format!("id=\"finding-{n}\"")), "{n}");
        }
        assert!(!s.contains("<b>") && !s.contains("<x>"), "{s}");
        assert!(s.contains("href=\"#vma-3-10000\""));
        let m = marks(&r, 0);
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[0].1.address, 0x10000);
        assert_eq!(m[0].1.len, 0x10000);
        assert_eq!(m[0].1.anchor.as_deref(), Some("finding-2"));
        assert_eq!(m[1].1.anchor.as_deref(), Some("finding-5"));
        assert_eq!(m[1].1.address, 0x10010);
        // Without the maps on the page, no link leads nowhere.
        assert!(!section(&r, &[]).contains("vma-"));
    }
}
