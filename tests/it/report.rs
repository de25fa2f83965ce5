//! The case report: `ckptfs report` on the shared fixtures (the `podman-redis` pair: two dumps of
//! one redis container) and the mount's `MOUNT/report.html`. The page must be one self-contained
//! file: nothing loaded, every link to an id of the page.

use std::path::Path;

use crate::common;
use common::{TempDir, fixtures, run};

const A: &str = "podman-redis/checkpoint.tar.zst";
const B: &str = "podman-redis/checkpoint2.tar.gz";

/// Runs `ckptfs report` with `args` (the cache in `cache`).
fn report(cache: &Path, args: &[String]) -> common::Out {
    let mut all: Vec<String> = vec![
        common::ckptfs().into(),
        "report".into(),
        "--cache-dir".into(),
        cache.display().to_string(),
    ];
    all.extend(args.iter().cloned());
    run(&all)
}

/// Every attribute `name="value"` of the page's tags (checkpoint text has its `<` escaped, so
/// every `<` opens a tag).
fn attributes(page: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in page.split('<').skip(1) {
        let Some((inner, _)) = t.split_once('>') else {
            continue;
        };
        let mut rest = inner;
        while let Some(eq) = rest.find("=\"") {
            let key = rest[..eq].rsplit(char::is_whitespace).next().unwrap_or("");
            let after = &rest[eq + 2..];
            let end = after.find('"').unwrap_or(after.len());
            out.push((key.to_ascii_lowercase(), after[..end].to_string()));
            rest = &after[(end + 1).min(after.len())..];
        }
    }
    out
}

/// Nothing loaded, every href to an id of the page.
pub fn assert_self_contained(page: &str) {
    let attrs = attributes(page);
    let ids: std::collections::HashSet<&str> = attrs
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.as_str())
        .collect();
    let n = attrs.iter().filter(|(k, _)| k == "id").count();
    assert_eq!(n, ids.len(), "every id once");
    for (k, v) in &attrs {
        assert!(
            !["src", "srcset", "action", "poster", "data", "xlink:href"].contains(&k.as_str()),
            "{k}=\"{v}\""
        );
        if k == "href" {
            let id = v.strip_prefix('#').unwrap_or_else(|| panic!("href {v:?}"));
            assert!(ids.contains(id), "href to #{id}, which the page lacks");
        }
    }
    let lower = page.to_ascii_lowercase();
    for t in ["<script src", "<link", "<img", "<iframe", "@import"] {
        assert!(!lower.contains(t), "{t}");
    }
    // `url(#id)`: a pattern of the page's own SVG; any other url( would load something.
    assert_eq!(
        lower.matches("url(").count(),
        lower.matches("url(#").count()
    );
}

#[test]
fn the_redis_pair_report_shows_both_dumps_and_what_changed() {
    let Some(f) = fixtures() else { return };
    let tmp = TempDir::new("report");
    let out = tmp.join("case.html");
    let o = report(
        tmp.path(),
        &[
            f.join(A).display().to_string(),
            f.join(B).display().to_string(),
            "-o".into(),
            out.display().to_string(),
        ],
    );
    assert!(o.ok(), "{}", o.stderr_text());
    let page = std::fs::read_to_string(&out).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.len() < 5 << 20, "{} bytes", page.len());
    assert_self_contained(&page);
    // Every process of each dump (redis-entry.sh 1, redis-server 7, redis-cli 37).
    for pid in [1, 7, 37] {
        assert!(page.contains(&format!("id=\"proc-{pid}\"")), "{pid}");
        assert!(page.contains(&format!("id=\"c1-proc-{pid}\"")), "{pid}");
    }
    // What changed, as the fixture's README lists it: the file written, the second pubsub
    // message (the log and the subscriber's TCP stream), the new keys in redis-server's memory.
    let changed = page
        .split("<section id=\"changed\">")
        .nth(1)
        .expect("a What changed section");
    for want in [
        "/data/s4-note2.txt",
        "REDISFX-s4-SECOND-PUBSUB-MSG-2",
        "81 sent between the dumps",
        "REDISFX-s4-SECOND-key1",
        "REDISFX-s4-SECOND-hash",
    ] {
        assert!(changed.contains(want), "{want} not in What changed");
    }
    // Triage's credential finding and the timeline's events of both dumps.
    assert!(page.contains("REDIS_ADMIN_TOKEN") && page.contains("id=\"finding-1\""));
    assert!(page.contains("<section id=\"timeline\">") && page.contains("Images Written"));
}

#[test]
fn a_bad_input_is_one_line_and_the_page_has_the_others() {
    let Some(f) = fixtures() else { return };
    let tmp = TempDir::new("report-bad");
    let bad = tmp.join("notes.txt");
    std::fs::write(&bad, "not a checkpoint\n").unwrap();
    let o = report(
        tmp.path(),
        &[
            bad.display().to_string(),
            f.join(A).display().to_string(),
            "--string".into(),
            "REDISFX-s4-big".into(),
            "-o".into(),
            "-".into(),
        ],
    );
    assert_eq!(o.code, Some(2), "{}", o.stderr_text());
    let err = o.stderr_text();
    let lines: Vec<&str> = err.lines().filter(|l| !l.contains("warning:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("notes.txt"), "{err}");
    let page = o.stdout_text();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_self_contained(&page);
    assert!(page.contains("notes.txt") && page.contains("could not be read"));
    assert!(page.contains("id=\"proc-7\""));
    // The scan's matches are findings of the page, after triage's.
    let scan = page
        .split("Scan matches of checkpoint 1")
        .nth(1)
        .expect("scan findings");
    assert!(scan.contains("REDISFX-s4-big") && scan.contains("id=\"finding-"));
}

#[test]
fn the_mount_serves_report_html_by_name_only() {
    let Some(f) = fixtures() else { return };
    let m = common::Mount::new(&f.join("podman-implant/checkpoint.tar.gz"));
    let page = String::from_utf8(common::cat(&m.p("report.html"))).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_self_contained(&page);
    // Every process of the checkpoint has its row.
    let pids: Vec<String> = std::fs::read_dir(m.join(""))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    assert!(pids.len() > 2, "{pids:?}");
    for pid in &pids {
        assert!(page.contains(&format!("id=\"proc-{pid}\"")), "{pid}");
        // Every mapping of its maps file has its place on the process's map.
        let maps = String::from_utf8(common::cat(&m.p(format!("{pid}/maps")))).unwrap();
        for line in maps.lines() {
            let start = line.split('-').next().unwrap().trim_start_matches('0');
            let start = if start.is_empty() { "0" } else { start };
            let id = format!("id=\"vma-{pid}-{start}\"");
            assert!(page.contains(&id), "{id} ({line})");
        }
    }
    // The mount's command, and triage's findings.
    assert!(page.contains(" mount "), "the mount's command");
    assert!(page.contains("id=\"finding-1\""));
    // Not listed: ls and whole-tree walks never meet it.
    let ls = run(&["ls", "-a", &m.p("")]);
    assert!(ls.ok() && !ls.stdout_text().contains("report.html"), "{ls}");
    let find = run(&["find", &m.p(""), "-name", "report.html"]);
    assert!(find.stdout_text().is_empty(), "{find}");
    let grep = run(&["grep", "-r", "-l", "Case report:", &m.p("")]);
    assert!(grep.stdout_text().is_empty(), "{grep}");
}

#[test]
fn rootfs_gives_triage_the_image_to_compare_code_with() {
    let Some(f) = fixtures() else { return };
    let tmp = TempDir::new("report-rootfs");
    let ck = f
        .join("podman-implant/checkpoint.tar.gz")
        .display()
        .to_string();
    let page = |extra: &[String]| {
        let mut args = vec![ck.clone(), "-o".into(), "-".into()];
        args.extend(extra.iter().cloned());
        let o = report(tmp.path(), &args);
        assert!(o.ok(), "{}", o.stderr_text());
        o.stdout_text()
    };
    // libc's patched getpid page: only comparable with the image's libc.
    assert!(!page(&[]).contains(">code-patched<"));
    let rootfs = f.join("podman-implant/image-rootfs").display().to_string();
    let with = page(&["--rootfs".into(), rootfs]);
    assert!(with.contains(">code-patched<"), "no code-patched finding");
    assert_self_contained(&with);
}
