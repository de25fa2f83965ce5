use super::style::{Held, Perm, class_colour};
use super::svg::ZOOM_FACTOR;
use super::*;
use crate::model::memory::PAGE_SIZE;
use crate::model::process::{Process, VmaName, vma_status};
use crate::render::report::MarkKind;
use crate::render::report::density::Class;
use crate::render::report::testutil::luminance;
use crate::render::testutil::{file, process, vma};

/// The mappings' boxes on the map (`M{x} {y}h{w}v..`): (id, x, width).
fn rects(html: &str) -> Vec<(String, f64, f64)> {
    let mut v = Vec::new();
    for part in html.split("<path id=\"").skip(1) {
        let id = part.split('"').next().unwrap_or_default().to_string();
        if !id.contains("vma-") {
            continue;
        }
        let d = part.split(" d=\"M").nth(1).unwrap_or_default();
        let x = d
            .split(' ')
            .next()
            .unwrap_or_default()
            .parse()
            .unwrap_or(-1.0);
        let w = d
            .split('h')
            .nth(1)
            .and_then(|s| s.split('v').next())
            .unwrap_or_default()
            .parse()
            .unwrap_or(-1.0);
        v.push((id, x, w));
    }
    v
}

fn huge_gaps() -> Process {
    let mut vmas = vec![
        vma(0x400000, 0x401000, "r-xp", 0, file("/bin/tiny", false)),
        vma(0x401000, 0x402000, "rw-p", 0x1000, file("/bin/tiny", false)),
        vma(0x10000000, 0x10001000, "rw-p", 0, VmaName::Heap),
        // A 64 TiB reservation, then a 4 KiB mapping 128 TiB away from everything.
        vma(0x1000_0000_0000, 0x5000_0000_0000, "---p", 0, VmaName::Anon),
        vma(
            0x7fff_ffff_d000,
            0x7fff_ffff_e000,
            "rw-p",
            0,
            VmaName::Stack,
        ),
        vma(
            0xffff_ffff_ff60_0000,
            0xffff_ffff_ff60_1000,
            "--xp",
            0,
            VmaName::Vsyscall,
        ),
    ];
    for i in 0..200u64 {
        vmas.push(vma(
            0x7f00_0000_0000 + i * 0x3000,
            0x7f00_0000_1000 + i * 0x3000,
            "r--p",
            0,
            file("/usr/lib/libmany.so", false),
        ));
    }
    vmas.sort_by_key(|v| v.start);
    process(7, vmas, vec![(0x10000000, vec![7; 4096])])
}

#[test]
fn every_mapping_is_drawn_at_least_min_width_inside_the_map() {
    let p = huge_gaps();
    let html = address_map(&p, &[], &[], "");
    let r = rects(&html);
    assert_eq!(r.len(), p.vmas.len());
    for (id, x, w) in &r {
        assert!(*w >= 3.0 && *w >= f64::from(MIN_WIDTH), "{id}: width {w}");
        assert!(
            *x >= 0.0 && x + w <= f64::from(WIDTH + 2 * MARGIN),
            "{id}: x {x}"
        );
    }
    for v in &p.vmas {
        assert!(
            html.contains(&format!("id=\"vma-7-{:x}\"", v.start)),
            "{:x}",
            v.start
        );
        assert!(html.contains(&format!("id=\"vma-7-{:x}-row\"", v.start)));
    }
    // The gaps are labelled with their size.
    assert!(
        html.contains(">64 TiB<") || html.contains("64 TiB unmapped"),
        "{html}"
    );
    // The zoom script and the caption agree on the factor.
    assert!(ZOOM.contains(&format!("*{ZOOM_FACTOR}+")));
    assert!(html.contains(&format!("zoom it {ZOOM_FACTOR} times")));
    // A small map is widened to fill its row, never past it.
    let small = process(8, huge_gaps().vmas[..3].to_vec(), Vec::new());
    let r = rects(&address_map(&small, &[], &[], ""));
    let right = r.iter().map(|(_, x, w)| x + w).fold(0.0, f64::max);
    assert!(r[0].2 >= f64::from(3 * MIN_WIDTH), "{r:?}");
    assert!(right <= f64::from(WIDTH + MARGIN), "{r:?}");
    // A 128 TiB gap is not wider than a few mappings.
    assert!(gap_width(128 << 40) < 100);
    assert_eq!(vma_width(4096), MIN_WIDTH);
}

fn assert_distinct_in_grey(colours: &[(&str, &str)], min_ratio: f64) {
    for (i, (na, a)) in colours.iter().enumerate() {
        for (nb, b) in &colours[i + 1..] {
            let (la, lb) = (luminance(a), luminance(b));
            let ratio = (la.max(lb) + 0.05) / (la.min(lb) + 0.05);
            assert!(
                ratio >= min_ratio,
                "{na} {a} and {nb} {b}: luminance {la:.3} vs {lb:.3}, ratio {ratio:.2}"
            );
        }
    }
}

#[test]
fn category_colours_differ_in_lightness() {
    let kinds: Vec<(&str, &str)> = Kind::ALL.iter().map(|k| (k.label(), k.colour())).collect();
    assert_distinct_in_grey(&kinds, 1.3);
    let perms: Vec<(&str, &str)> = Perm::ALL.iter().map(|k| (k.label(), k.colour())).collect();
    assert_distinct_in_grey(&perms, 1.3);
    let held: Vec<(&str, &str)> = Held::ALL.iter().map(|k| (k.label(), k.colour())).collect();
    assert_distinct_in_grey(&held, 1.3);
    let dens: Vec<(&str, &str)> = Class::ALL
        .iter()
        .map(|c| (c.label(), class_colour(*c)))
        .collect();
    assert_distinct_in_grey(&dens, 1.3);
}

#[test]
fn kinds_are_classified() {
    let p = huge_gaps();
    let kinds: Vec<Kind> = p.vmas.iter().map(Kind::of).collect();
    assert!(kinds.contains(&Kind::File));
    assert!(kinds.contains(&Kind::Heap));
    assert!(kinds.contains(&Kind::Stack));
    assert!(kinds.contains(&Kind::Anon));
    assert!(kinds.contains(&Kind::Kernel));
    let mut shm = vma(0x1000, 0x2000, "rw-s", 0, file("/SYSV00000001", true));
    shm.status |= vma_status::SYSVIPC;
    assert_eq!(Kind::of(&shm), Kind::SysV);
    let mut mfd = vma(0x1000, 0x2000, "rw-s", 0, file("/memfd:x", true));
    mfd.status |= vma_status::MEMFD;
    assert_eq!(Kind::of(&mfd), Kind::Memfd);
    assert_eq!(
        Kind::of(&vma(0x1000, 0x2000, "rw-s", 0, VmaName::Anon)),
        Kind::Shared
    );
}

fn finding(address: u64, label: &str, anchor: Option<&str>) -> Mark {
    Mark {
        address,
        len: 0,
        label: label.to_string(),
        anchor: anchor.map(str::to_string),
        kind: MarkKind::Finding,
    }
}

fn changed(address: u64) -> Mark {
    Mark {
        address,
        len: PAGE_SIZE,
        label: "changed".to_string(),
        anchor: None,
        kind: MarkKind::Changed,
    }
}

/// 5000 mappings shaped like the maps of a process that has that many (a JVM or a server
/// with a thousand threads): 200 libraries of four mappings (43-character paths), 1800
/// thread stacks each below its guard page, 400 anonymous arenas, a gap after every tenth
/// mapping; a page in three dumped; 200 findings and 2000 changed pages. With
/// `distinct_names`, every mapping maps its own file (51-character paths) and a gap
/// follows every other one: the worst case for the size.
fn big_process(distinct_names: bool) -> (Process, Vec<Mark>) {
    let mut vmas = Vec::new();
    let mut mem = Vec::new();
    let mut at = 0x7f12_0000_0000u64;
    for i in 0..5000u64 {
        let (perms, name, len) = if distinct_names {
            let n = format!("/usr/lib/x86_64-linux-gnu/libplugin{i:05}.so.1.2.3");
            ("r--p", file(&n, false), 0x3000)
        } else if i < 800 {
            let lib = format!("/usr/lib/x86_64-linux-gnu/libmodule{:03}.so.6", i / 4);
            let perms = ["r--p", "r-xp", "r--p", "rw-p"][(i % 4) as usize];
            (perms, file(&lib, false), 0x1000 * (1 + i % 7))
        } else if i < 4400 {
            if i % 2 == 0 {
                ("---p", VmaName::Anon, 0x1000)
            } else {
                ("rw-p", VmaName::Anon, 0x80_0000)
            }
        } else {
            ("rw-p", VmaName::Anon, 0x10_0000 * (1 + i % 3))
        };
        vmas.push(vma(at, at + len, perms, 0, name));
        if i % 3 == 0 {
            mem.push((at, vec![(i % 251) as u8; 4096]));
        }
        let gap_every = if distinct_names { 2 } else { 10 };
        at += len
            + if i % gap_every == 0 {
                0x1000 * (1 + i % 300)
            } else {
                0
            };
    }
    let starts: Vec<u64> = vmas.iter().map(|v| v.start).collect();
    let marks = (0..200usize)
        .map(|i| finding(starts[i * 25], "yara: rule_x", Some(&format!("f{i}"))))
        .chain((0..2000usize).map(|i| changed(starts[i * 2])))
        .collect();
    (process(42, vmas, mem), marks)
}

#[test]
fn five_thousand_mappings_stay_under_one_and_a_half_megabytes() {
    let (p, marks) = big_process(false);
    let html = address_map(&p, &[], &marks, "");
    assert!(html.len() < 1_500_000, "{} bytes", html.len());
    assert_eq!(rects(&html).len(), 5000);
    // Every mapping with its own long name: still bounded by the same per-mapping cost.
    let (p, marks) = big_process(true);
    let html = address_map(&p, &[], &marks, "");
    assert!(html.len() < 2_500_000, "{} bytes", html.len());
    assert_eq!(rects(&html).len(), 5000);
}

#[test]
fn no_panic_on_odd_models() {
    // No mapping at all.
    let p = process(1, Vec::new(), Vec::new());
    let html = address_map(&p, &[], &[finding(0x1000, "x", None)], "");
    assert!(html.contains("no mapping"), "{html}");
    assert!(html.contains("</table>"));
    // End below start, overlapping, duplicate starts, a mapping at the top of the space,
    // marks outside everything and at the very end.
    let vmas = vec![
        vma(0x5000, 0x1000, "rw-p", 0, VmaName::Anon),
        vma(0x10000, 0x30000, "rw-p", 0, VmaName::Anon),
        vma(0x20000, 0x40000, "r--p", 0, VmaName::Anon),
        vma(0x20000, 0x21000, "r--p", 0, VmaName::Anon),
        vma(u64::MAX - 0xfff, u64::MAX, "r--p", 0, VmaName::Anon),
        vma(0, 0, "r--p", 0, VmaName::Anon),
    ];
    let p = process(2, vmas, vec![(0x10000, vec![1; 0x30000])]);
    let marks = vec![
        finding(0x8, "before", None),
        finding(0x25000, "inside", Some("a1")),
        changed(0x3f000),
        finding(u64::MAX, "last", None),
        changed(0x50_0000),
    ];
    let html = address_map(&p, &[(0x3000, 0x4000), (0x10000, 0x11000)], &marks, "c2-");
    assert_eq!(rects(&html).len(), 6);
    assert!(html.contains(r#"id="c2-vma-2-20000""#));
    assert!(html.contains(r#"id="c2-vma-2-20000-2""#));
    assert!(html.contains("Marks outside every mapping"));
    assert!(html.contains(r##"<a href="#a1"><path id="map-a1""##));
}

#[test]
fn dumped_filled_and_absent_pages_are_told_apart() {
    // One 16-page mapping: pages 0-3 dumped, 4-7 filled from the file, the rest absent.
    let v = vma(0x100000, 0x110000, "r--p", 0, file("/usr/lib/a.so", false));
    let p = process(3, vec![v], vec![(0x100000, vec![b'a'; 0x8000])]);
    let html = address_map(&p, &[(0x104000, 0x108000)], &[], "");
    let lane = |h: Held| format!(r#"<path stroke="{}" stroke-width="4" d="M"#, h.colour());
    for h in Held::ALL {
        assert!(html.contains(&lane(h)), "{h:?} {html}");
    }
    assert!(html.contains("16 KiB dumped</title>"), "{html}");
    assert!(
        html.contains("<td>16 KiB (+16 KiB from file)<td>"),
        "{html}"
    );
    // Nothing held: one absent run, no dumped one.
    let p = process(
        3,
        vec![vma(0x100000, 0x110000, "rw-p", 0, VmaName::Anon)],
        Vec::new(),
    );
    let html = address_map(&p, &[], &[], "");
    assert!(html.contains(&lane(Held::Absent)));
    assert!(!html.contains(&lane(Held::Dumped)));
    assert!(html.contains("<td>—<td>"));
}

#[test]
fn marks_are_drawn_at_their_addresses_and_escaped() {
    let v = vma(0x100000, 0x200000, "rwxp", 0, VmaName::Anon);
    let p = process(4, vec![v], vec![(0x100000, vec![0x90; 0x1000])]);
    let marks = vec![
        finding(0x180000, "<script>alert(1)</script>", Some("find\"x")),
        changed(0x1ff000),
    ];
    let html = address_map(&p, &[], &marks, "");
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; at 0x180000"));
    assert!(html.contains(r##"<a href="#find&quot;x"><path id="map-find&quot;x""##));
    // The mark sits at the middle of the mapping's rect.
    let (_, x, w) = rects(&html)[0].clone();
    let mid = x + w / 2.0;
    let d = html.split(r#"id="map-find&quot;x" d="M"#).nth(1).unwrap();
    let mx: f64 = d.split(' ').next().unwrap().parse().unwrap();
    assert!(
        (mx + 4.0 - mid).abs() <= 1.0,
        "mark at {mx}, rect middle {mid}"
    );
    // The changed page is hatched at the mapping's right end.
    let hatch = html
        .split(r#"<path stroke="url(#hatch-4)" stroke-width="26" d="M"#)
        .nth(1)
        .unwrap();
    let hx: f64 = hatch.split(' ').next().unwrap().parse().unwrap();
    assert!(
        hx >= x + w - 2.5 && hx < x + w,
        "changed at {hx}, rect {x}+{w}"
    );
    assert!(html.contains("</a>; 1 changed (4 KiB)\n"), "{html}");
    // The table row links to the finding.
    assert!(html.contains(r##"<a href="#find&quot;x">&lt;script&gt;"##));
}

#[test]
fn a_huge_mapping_costs_no_more_than_a_small_one() {
    let lo = 0x1000_0000_0000u64;
    let v = vma(lo, lo + (128u64 << 40), "rw-p", 0, VmaName::Anon);
    let chunks = (0..512u64)
        .map(|i| (lo + i * (1u64 << 38), vec![b'x'; 4096]))
        .collect();
    let p = process(5, vec![v], chunks);
    let html = address_map(&p, &[], &[], "");
    assert!(html.contains("<td>0.0 / 0.0; 100%<td>"), "{html}");
    assert!(html.len() < 20_000, "{}", html.len());
    assert_eq!(short_size(128u64 << 40), "128 TiB");
    assert_eq!(short_size(1536), "1.5 KiB");
    assert_eq!(short_size(4096), "4 KiB");
    assert_eq!(short_size(0), "0 B");
}

/// Every mapping of podman-kitchen (SysV segment, /dev/shm file, memfd, heap, stack, vdso,
/// libraries) is drawn and has its row, whose kind agrees with the kernel's own maps line in
/// the fixture's ground truth.
#[test]
fn fixture_kinds_agree_with_the_kernels_maps() {
    use crate::source::test_util::fixtures;
    let Some(fx) = fixtures() else { return };
    let dir = fx.join("podman-kitchen");
    let truth = crate::model::test_util::ground_truth(&dir);
    let ck = crate::model::test_util::load_path(&dir.join("checkpoint.tar.gz"));
    let mut seen = std::collections::BTreeSet::new();
    for tp in truth["processes"].as_array().unwrap() {
        let pid = crate::model::test_util::ns_pid(tp);
        let p = ck.process(pid).unwrap();
        let html = address_map(p, ck.container_fs.filled(pid), &[], "");
        assert_eq!(rects(&html).len(), p.vmas.len());
        for line in tp["maps"].as_array().unwrap() {
            let line = line.as_str().unwrap();
            let f: Vec<&str> = line.split_whitespace().collect();
            let (lo, hi) = f[0].split_once('-').unwrap();
            let (lo, hi) = (
                u64::from_str_radix(lo, 16).unwrap(),
                u64::from_str_radix(hi, 16).unwrap(),
            );
            let name = f.get(5).copied().unwrap_or("");
            let want = match name {
                "" => Kind::Anon,
                "[heap]" => Kind::Heap,
                "[stack]" => Kind::Stack,
                "[vdso]" | "[vvar]" | "[vvar_vclock]" | "[vsyscall]" => Kind::Kernel,
                n if n.starts_with("/SYSV") => Kind::SysV,
                n if n.starts_with("/memfd:") => Kind::Memfd,
                _ if f[1].ends_with('s') => Kind::Shared,
                _ => Kind::File,
            };
            let row = format!(
                r#"<tr id="vma-{pid}-{lo:x}-row"><td>{lo:x}-{hi:x}<td>{}<td>{:x}<td>{}"#,
                f[1],
                u64::from_str_radix(f[2], 16).unwrap(),
                want.label()
            );
            assert!(html.contains(&row), "PID {pid}: {line}: no {row}");
            seen.insert(want.label());
        }
    }
    // The fixture has every kind.
    assert_eq!(seen.len(), Kind::ALL.len(), "{seen:?}");
}
