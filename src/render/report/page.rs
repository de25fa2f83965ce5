//! The document: one self-contained HTML page. Inline CSS (with a print stylesheet), inline SVG,
//! one script (the maps' zoom handler, allowed by its hash), nothing fetched: no URL outside the
//! page (a Content-Security-Policy says so to the browser too), so it opens offline. Headings an outline can follow: h1 the case, h2 the
//! sections, h3 per checkpoint, process or comparison. A table of contents links the sections.
//!
//! Colour categories (finding strength, kinds of change, timeline lanes) differ in lightness, so
//! a greyscale print keeps them apart; each also has its word or position on the page.

use super::html::esc;
use super::{Report, changed, connections, findings, maps, processes, timeline};

/// Backgrounds of the categories of the page's own CSS: (class, fill). Within each group the
/// fills differ in lightness ([`tests::assert_lightness_apart`]).
pub const STRENGTH_FILLS: &[(&str, &str)] = &[("s-strong", "#8b1a1a"), ("s-weak", "#f3d98b")];
pub const CHANGE_FILLS: &[(&str, &str)] = &[
    ("c-added", "#1d5c2a"),
    ("c-changed", "#d98c1f"),
    ("c-removed", "#f6cfcf"),
    ("c-unreadable", "#262626"),
];

const CSS: &str = r#"
:root{--fg:#1a1a1a;--muted:#555;--line:#c8c8c8;--head:#f0f0f0}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:0 auto;max-width:1200px;padding:0 1.2em 3em}
header{border-bottom:3px solid var(--fg);margin-bottom:1em}
h1{font-size:1.7em;margin:.8em 0 .2em}
h2{font-size:1.35em;border-bottom:1px solid var(--line);margin-top:2em;padding-bottom:.15em}
h3{font-size:1.1em;margin-top:1.6em}
h4{font-size:1em;margin:1.2em 0 .3em}
p.sub{color:var(--muted);margin:0 0 .8em}
code{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.92em;overflow-wrap:anywhere}
code.hash{font-size:.85em}
table{border-collapse:collapse;margin:.6em 0 1em;width:100%}
caption{text-align:left;font-weight:600;padding:.2em 0}
th,td{border:1px solid var(--line);padding:.2em .45em;text-align:left;vertical-align:top}
thead th{background:var(--head)}
table.kv{width:auto;min-width:60%}
table.kv th{background:var(--head);white-space:nowrap;font-weight:600}
td.t{white-space:nowrap}
.nr{color:var(--muted);font-style:italic}
.cap,.note{color:var(--muted);font-size:.9em}
nav.toc ol{columns:2;padding-left:1.4em}
.s-strong,.s-weak,.c-added,.c-changed,.c-removed,.c-unreadable{padding:0 .35em;border-radius:3px;font-weight:600;white-space:nowrap}
.s-strong{background:#8b1a1a;color:#fff}
.s-weak{background:#f3d98b;color:#1a1a1a}
.c-added{background:#1d5c2a;color:#fff}
.c-changed{background:#d98c1f;color:#1a1a1a}
.c-removed{background:#f6cfcf;color:#1a1a1a}
.c-unreadable{background:#262626;color:#fff}
tr.f-strong td:first-child{border-left:4px solid #8b1a1a}
table.findings td:nth-child(4){white-space:nowrap}
ul.glance{font-size:1.05em}
:target{outline:3px solid #1f4e9e;outline-offset:1px}
a.back,a.tomap{font-size:.8em;font-weight:normal;white-space:nowrap}
svg{display:block;max-width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:#1a1a1a}
svg.timeline .lane{fill:#fff;stroke:#ccc;stroke-width:.5}
svg.timeline .ev{stroke:#000;stroke-width:.4}
svg.timeline .tick{fill:#555}
svg.timeline .break line{stroke:#555;stroke-dasharray:3 3;stroke-width:1.5}
svg.timeline .l0{fill:#152547}svg.timeline .l1{fill:#6f2020}svg.timeline .l2{fill:#1c5f1c}
svg.timeline .l3{fill:#8a6128}svg.timeline .l4{fill:#9c65d2}svg.timeline .l5{fill:#39a3c6}
svg.timeline .l6{fill:#e198aa}svg.timeline .l7{fill:#a9d56d}svg.timeline .l8{fill:#e9e0b4}
footer{margin-top:3em;border-top:1px solid var(--line);color:var(--muted);font-size:.9em}
@media print{
 body{max-width:none;padding:0;font-size:10pt}
 nav.toc{break-after:page}
 h2{break-before:page}
 h2,h3,h4{break-after:avoid}
 tr,svg{break-inside:avoid}
 a{color:inherit;text-decoration:none}
 table{font-size:8.5pt}
 .s-strong,.s-weak,.c-added,.c-changed,.c-removed,.c-unreadable{-webkit-print-color-adjust:exact;print-color-adjust:exact;border:1px solid #000}
 svg{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"#;

/// The page's title: the containers' names, or the inputs'.
fn title(r: &Report<'_>) -> String {
    let mut names: Vec<String> = Vec::new();
    for i in &r.inputs {
        let n =
            i.ck.meta
                .container_name
                .clone()
                .unwrap_or_else(|| i.label.clone());
        if !names.contains(&n) {
            names.push(n);
        }
    }
    match names.len() {
        0 => "no checkpoint".into(),
        1..=3 => names.join(", "),
        n => format!("{}, {} and {} more", names[0], names[1], n - 2),
    }
}

/// Strong findings listed at a glance.
const GLANCE_FINDINGS: usize = 12;

/// The first section: what the page holds, in a few lines a reader who reads nothing else
/// needs: each checkpoint in one line, the strong findings (linked), the counts, what changed.
fn glance(r: &Report<'_>) -> String {
    use super::html::{esc_cut, opt};
    let mut s =
        String::from("<section id=\"glance\">\n<h2>At a glance</h2>\n<ul class=\"glance\">\n");
    for (k, i) in r.inputs.iter().enumerate() {
        let m = &i.ck.meta;
        let when = m.checkpointed.clone().or_else(|| {
            i.ck.source
                .images
                .written
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_secs()).ok())
                .map(crate::format::time::rfc3339)
        });
        s.push_str(&format!(
            "<li>Checkpoint {}: container {} of image {}, dumped {}; {} process{}.</li>\n",
            k + 1,
            opt(m.container_name.as_deref()),
            opt(m.image.as_deref()),
            opt(when.as_deref()),
            i.ck.processes.len(),
            if i.ck.processes.len() == 1 { "" } else { "es" }
        ));
    }
    let strong: usize = r
        .inputs
        .iter()
        .map(|i| {
            i.triage
                .iter()
                .filter(|f| f.strength == crate::render::triage::Strength::Strong)
                .count()
        })
        .sum();
    let weak: usize = r.inputs.iter().map(|i| i.triage.len()).sum::<usize>() - strong;
    let mut line =
        format!("<li><a href=\"#findings\">Findings</a>: {strong} strong, {weak} weak (triage)");
    if r.scanned {
        let n: usize = r.inputs.iter().map(|i| i.scan.len()).sum();
        line.push_str(&format!(
            "; {n} scan match{}",
            if n == 1 { "" } else { "es" }
        ));
    }
    line.push_str(".</li>\n");
    s.push_str(&line);
    if !r.failed.is_empty() {
        s.push_str(&format!(
            "<li><a href=\"#case\">{} input(s) could not be read</a>.</li>\n",
            r.failed.len()
        ));
    }
    for c in &r.changes {
        s.push_str(&format!(
            "<li><a href=\"#changed-{}-{}\">From checkpoint {} to {}</a>: {}.</li>\n",
            c.a + 1,
            c.b + 1,
            c.a + 1,
            c.b + 1,
            if c.summary.is_empty() {
                "nothing compared differs".to_string()
            } else {
                esc(&c.summary.join("; "))
            }
        ));
    }
    s.push_str("</ul>\n");
    let first = findings::firsts(r);
    let mut listed = Vec::new();
    for (k, i) in r.inputs.iter().enumerate() {
        for (j, f) in i.triage.iter().enumerate().take(findings::MAX_ROWS) {
            if f.strength == crate::render::triage::Strength::Strong {
                listed.push((first[k] + j, k, f));
            }
        }
    }
    if !listed.is_empty() {
        s.push_str("<p>Strong findings:</p>\n<ol class=\"strong\">\n");
        for (n, k, f) in listed.iter().take(GLANCE_FINDINGS) {
            let pid = f.pid.map_or_else(String::new, |p| {
                if r.inputs.len() > 1 {
                    format!("checkpoint {} PID {p}: ", k + 1)
                } else {
                    format!("PID {p}: ")
                }
            });
            s.push_str(&format!(
                "<li><a href=\"#finding-{n}\">#{n}</a> {pid}<code>{}</code> {}</li>\n",
                esc(f.tag),
                esc_cut(&f.what, 200)
            ));
        }
        s.push_str("</ol>\n");
        if listed.len() > GLANCE_FINDINGS {
            s.push_str(&format!(
                "<p class=\"cap\">and {} more strong findings under Findings.</p>\n",
                listed.len() - GLANCE_FINDINGS
            ));
        }
    }
    s.push_str("</section>\n");
    s
}

/// The whole page.
pub fn page(r: &Report<'_>) -> String {
    let mut events = Vec::new();
    for i in &r.inputs {
        events.extend(crate::render::timeline::collect(i.ck, &i.label));
    }
    crate::render::timeline::sort(&mut events);
    let labels: Vec<String> = r.inputs.iter().map(|i| i.label.clone()).collect();
    let drawn = maps::drawn(r);
    // (id, heading, body)
    let mut sections: Vec<(&str, &str, String)> = vec![
        ("glance", "At a glance", glance(r)),
        ("case", "The case", super::case::section(r)),
        ("processes", "Processes", processes::section(r, &drawn)),
        ("maps", "Address spaces", maps::section(r, &drawn)),
        ("findings", "Findings", findings::section(r, &drawn)),
        ("connections", "Connections", connections::section(r)),
        ("timeline", "Timeline", timeline::section(&events, &labels)),
    ];
    if !r.changes.is_empty() {
        sections.push((
            "changed",
            "What changed",
            changed::section(&r.changes, &labels),
        ));
    }
    let t = title(r);
    let mut s = String::with_capacity(64 << 10);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    // Nothing fetched, inline CSS, and of scripts only the maps' zoom handler (by its hash).
    s.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-hashes' {}\">\n",
        super::addrmap::zoom_csp_source()
    ));
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    s.push_str("<meta name=\"generator\" content=\"ckptfs\">\n");
    s.push_str(&format!("<title>Case report: {}</title>\n", esc(&t)));
    s.push_str("<style>");
    s.push_str(CSS);
    s.push_str("</style>\n</head>\n<body>\n<header>\n");
    s.push_str(&format!("<h1>Case report: {}</h1>\n", esc(&t)));
    s.push_str(&format!(
        "<p class=\"sub\">{} checkpoint{} · made by ckptfs {}{}</p>\n</header>\n",
        r.inputs.len(),
        if r.inputs.len() == 1 { "" } else { "s" },
        esc(env!("CARGO_PKG_VERSION")),
        r.made
            .as_deref()
            .map_or_else(String::new, |m| format!(" at {}", esc(m)))
    ));
    s.push_str(
        "<nav class=\"toc\" aria-label=\"Contents\">\n<h2 id=\"contents\">Contents</h2>\n<ol>\n",
    );
    for (id, h, _) in &sections {
        s.push_str(&format!("<li><a href=\"#{id}\">{h}</a></li>\n"));
    }
    s.push_str("</ol>\n</nav>\n<main>\n");
    for (_, _, body) in &sections {
        s.push_str(body);
    }
    s.push_str(
        "</main>\n<footer>\n<p>Made by ckptfs from the checkpoints named above, read-only. ",
    );
    s.push_str("Values a checkpoint does not record are shown as <span class=\"nr\">not recorded</span>, never as 0. ");
    s.push_str(
        "This page is self-contained: it fetches nothing.</p>\n</footer>\n</body>\n</html>\n",
    );
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::render::report::{Input, ScanHit};
    use crate::render::testutil::*;
    use crate::render::triage::{Finding, Strength};

    /// CIE L* of a `#rrggbb` colour.
    fn lightness(hex: &str) -> f64 {
        let h = hex.trim_start_matches('#');
        let c = |i: usize| {
            let v = f64::from(u8::from_str_radix(&h[i..i + 2], 16).unwrap()) / 255.0;
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        let y = 0.2126 * c(0) + 0.7152 * c(2) + 0.0722 * c(4);
        if y > 216.0 / 24389.0 {
            116.0 * y.cbrt() - 16.0
        } else {
            y * 24389.0 / 27.0
        }
    }

    /// Every two of `fills` differ by at least `min` in L*.
    pub(crate) fn assert_lightness_apart(fills: &[&str], min: f64) {
        for (i, a) in fills.iter().enumerate() {
            for b in &fills[i + 1..] {
                let d = (lightness(a) - lightness(b)).abs();
                assert!(d >= min, "{a} and {b} differ by L* {d:.1} < {min}");
            }
        }
    }

    #[test]
    fn categories_differ_in_lightness() {
        for group in [STRENGTH_FILLS, CHANGE_FILLS] {
            let fills: Vec<&str> = group.iter().map(|(_, f)| *f).collect();
            assert_lightness_apart(&fills, 15.0);
            for (class, fill) in group {
                assert!(
                    CSS.contains(&format!(".{class}{{background:{fill};")),
                    "{class} in the CSS"
                );
            }
        }
        assert!((lightness("#ffffff") - 100.0).abs() < 0.1);
        assert!(lightness("#000000").abs() < 0.1);
    }

    /// The tags of a page (text between `<` and `>`: checkpoint text has its `<` escaped, so
    /// every `<` left opens a tag) and their attributes, `name="value"`.
    pub(crate) fn tags(page: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut out = Vec::new();
        for t in page.split('<').skip(1) {
            let Some((inner, _)) = t.split_once('>') else {
                continue;
            };
            let name = inner
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            let mut attrs = Vec::new();
            let mut rest = inner;
            while let Some(eq) = rest.find("=\"") {
                let key = rest[..eq]
                    .rsplit(|c: char| c.is_whitespace())
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let after = &rest[eq + 2..];
                let end = after.find('"').unwrap_or(after.len());
                attrs.push((key, after[..end].to_string()));
                rest = &after[(end + 1).min(after.len())..];
            }
            out.push((name, attrs));
        }
        out
    }

    /// Nothing on the page is loaded from anywhere, and every link leads to an id on it.
    pub(crate) fn assert_self_contained(page: &str) {
        let tags = tags(page);
        let ids: std::collections::HashSet<&str> = tags
            .iter()
            .flat_map(|(_, a)| a.iter())
            .filter(|(k, _)| k == "id")
            .map(|(_, v)| v.as_str())
            .collect();
        let n = tags
            .iter()
            .flat_map(|(_, a)| a.iter())
            .filter(|(k, _)| k == "id")
            .count();
        assert_eq!(n, ids.len(), "ids are unique");
        for (name, attrs) in &tags {
            assert!(
                ![
                    "script", "link", "img", "iframe", "object", "embed", "image", "use", "base"
                ]
                .contains(&name.as_str())
                    || name == "script" && attrs.is_empty(),
                "a <{name}> tag"
            );
            for (k, v) in attrs {
                assert!(
                    ![
                        "src",
                        "srcset",
                        "action",
                        "poster",
                        "data",
                        "xlink:href",
                        "background"
                    ]
                    .contains(&k.as_str()),
                    "<{name} {k}=\"{v}\">"
                );
                if k == "href" {
                    let id = v
                        .strip_prefix('#')
                        .unwrap_or_else(|| panic!("href to {v:?}, not to an id"));
                    assert!(ids.contains(id), "href to #{id}, which the page lacks");
                }
                // `url(#id)` refers to a pattern of the page's own SVG; any other url( loads.
                let v = v.to_ascii_lowercase();
                assert!(
                    v.matches("url(").count() == v.matches("url(#").count(),
                    "url( in <{name} {k}>"
                );
            }
        }
        let lower = page.to_ascii_lowercase();
        let style = lower
            .split("<style>")
            .nth(1)
            .and_then(|s| s.split("</style>").next())
            .unwrap_or("");
        assert!(!style.contains("url(") && !style.contains("@import"));
    }

    #[test]
    #[should_panic(expected = "not to an id")]
    fn a_link_out_is_caught() {
        assert_self_contained("<p id=\"a\"><a href=\"http://x/\">x</a>");
    }

    #[test]
    #[should_panic(expected = "src")]
    fn a_loaded_resource_is_caught() {
        assert_self_contained("<div src=\"x.png\"></div>");
    }

    #[test]
    fn the_page_is_self_contained_and_outlined() {
        let mut p = process_with_args(1, 0, "<svg onload=alert(1)>", b"sh\0http://evil/\0");
        p.vmas = vec![anon_vma(0x10000, 0x20000)];
        let ck = checkpoint(vec![p, process_with_args(5, 1, "x", b"x\0")]);
        let r = Report {
            inputs: vec![Input {
                label: "https://x/<y>.tar".into(),
                ck: &ck,
                triage: vec![Finding {
                    pid: Some(1),
                    at: "10000-20000".into(),
                    tag: "rwx-anon",
                    strength: Strength::Strong,
                    what: "src=\"x\" <a href=http://e>".into(),
                }],
                scan: vec![ScanHit {
                    pid: Some(1),
                    address: 0x10004,
                    length: 3,
                    rule: "string".into(),
                    string: "abc".into(),
                    path: "1/memory/10000-20000".into(),
                    context: "abc".into(),
                }],
                changed: vec![],
            }],
            failed: vec![],
            command: "ckptfs report 'https://x' -o -".into(),
            made: Some("2026-12-05T22:00:00Z".into()),
            changes: vec![],
            scanned: true,
        };
        let page = page(&r);
        // Hostile names come out as text: escaped, so no tag, attribute or URL is live.
        assert!(!page.contains("<svg onload"));
        assert!(page.contains("&lt;svg onload=alert(1)&gt;"));
        // URLs in the checkpoint's text stay text: no tag loads or links anything outside.
        assert!(page.contains("src=&quot;x&quot; &lt;a href=http://e&gt;"));
        assert_self_contained(&page);
        // The outline: one h1, h2 per section, and the contents link every h2 section.
        assert_eq!(page.matches("<h1>").count(), 1);
        for id in [
            "glance",
            "case",
            "processes",
            "maps",
            "findings",
            "timeline",
        ] {
            assert!(
                page.contains(&format!("<section id=\"{id}\">\n<h2>")),
                "{id}"
            );
            assert!(
                page.contains(&format!("href=\"#{id}\"")),
                "{id} in the contents"
            );
        }
        assert!(
            !page.contains("id=\"changed\""),
            "no comparison, no section"
        );
        assert!(page.contains("@media print"));
        for pid in [1, 5] {
            assert!(page.contains(&format!("id=\"proc-{pid}\"")));
            assert!(page.contains(&format!("id=\"map-{pid}\"")));
        }
        // Every mapping on the map, and the finding linked to it.
        assert!(page.contains("id=\"vma-1-10000\"") && page.contains("href=\"#vma-1-10000\""));
        assert!(page.contains("id=\"finding-1\"") && page.contains("id=\"finding-2\""));
        // At a glance: the counts, and the strong finding linked.
        let glance = page.split("<section id=\"glance\">").nth(1).unwrap();
        let glance = glance.split("</section>").next().unwrap();
        assert!(
            glance.contains("1 strong, 0 weak (triage); 1 scan match."),
            "{glance}"
        );
        assert!(glance.contains("href=\"#finding-1\""));
    }
}
