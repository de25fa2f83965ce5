//! The case report in a real browser: headless Chromium (Debian's `chromium`, installed by
//! scripts/deps.sh) opens the page from a file, and one run gives its DOM (`--dump-dom`), a
//! screenshot (`--screenshot`) and its console: with `--enable-logging=stderr --v=0` every
//! console message and uncaught exception is a `:CONSOLE` line on stderr (a page that throws
//! proves it below), and so is a resource the page's Content-Security-Policy refused.
//!
//! Checks: the DOM holds every process and the start address of every mapping; the screenshot
//! is not blank (the PNG decoded here: many distinct colours, much of it not background); the
//! browser logs nothing to the console; the file references nothing outside itself (every
//! `src` / `href` / `url()` is `#...` or `data:`).

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use ckptfs::model::Checkpoint;
use ckptfs::model::load::load;
use ckptfs::source::{OpenOptions, open};

use crate::common::*;

/// What one Chromium run saw.
struct Rendered {
    /// The DOM after the page loaded, serialized.
    dom: String,
    /// The screenshot (PNG).
    png: Vec<u8>,
    /// The console's lines (messages, uncaught exceptions, refused resources).
    console: Vec<String>,
    elapsed: Duration,
}

/// The window the screenshot is taken in.
const WINDOW: &str = "1400,3000";

fn have_chromium() -> bool {
    have_tool(
        "chromium",
        "apt-get install chromium; scripts/deps.sh installs it",
    )
}

/// Opens `page` in headless Chromium (its own profile under `dir`, every host name resolving
/// to nothing, so that a fetch could not succeed either): its DOM, screenshot and console.
fn render(page: &Path, dir: &TempDir) -> Rendered {
    let shot = dir.join("shot.png");
    let _ = std::fs::remove_file(&shot);
    let args = [
        "chromium".to_string(),
        "--headless".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--no-first-run".into(),
        "--host-resolver-rules=MAP * ~NOTFOUND".into(),
        format!("--user-data-dir={}", dir.join("profile").display()),
        "--enable-logging=stderr".into(),
        "--v=0".into(),
        format!("--window-size={WINDOW}"),
        format!("--screenshot={}", shot.display()),
        "--dump-dom".into(),
        format!("file://{}", page.display()),
    ];
    let out = run_timeout(60, &args);
    assert!(out.ok(), "chromium failed: {out}");
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot: {e}: {out}"));
    let console = out
        .stderr_text()
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    Rendered {
        dom: out.stdout_text(),
        png,
        console,
        elapsed: out.elapsed,
    }
}

/// A PNG's pixels as RGB: 8-bit RGB or RGBA, not interlaced (what Chromium writes).
fn png_rgb(png: &[u8]) -> (usize, usize, Vec<[u8; 3]>) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (mut w, mut h, mut channels) = (0usize, 0usize, 0usize);
    let mut idat = Vec::new();
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = &png[at + 4..at + 8];
        let data = &png[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => {
                w = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
                h = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                assert_eq!(data[8], 8, "bit depth");
                channels = match data[9] {
                    2 => 3,
                    6 => 4,
                    t => panic!("colour type {t}"),
                };
                assert_eq!(data[12], 0, "interlaced");
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .unwrap();
    let stride = w * channels;
    assert_eq!(raw.len(), h * (stride + 1), "image data size");
    // Undo each scanline's filter (PNG spec section 9).
    let mut prev = vec![0u8; stride];
    let mut pixels = Vec::with_capacity(w * h);
    for y in 0..h {
        let line = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let mut cur = line[1..].to_vec();
        for i in 0..stride {
            let a = if i >= channels { cur[i - channels] } else { 0 };
            let b = prev[i];
            let c = if i >= channels { prev[i - channels] } else { 0 };
            cur[i] = cur[i].wrapping_add(match line[0] {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => {
                    let p = i16::from(a) + i16::from(b) - i16::from(c);
                    let (pa, pb, pc) = (
                        (p - i16::from(a)).abs(),
                        (p - i16::from(b)).abs(),
                        (p - i16::from(c)).abs(),
                    );
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("filter {f}"),
            });
        }
        pixels.extend(cur.chunks(channels).map(|p| [p[0], p[1], p[2]]));
        prev = cur;
    }
    (w, h, pixels)
}

/// How a screenshot looks: (distinct colours, share of pixels unlike the top-left one).
fn looks(png: &[u8]) -> (usize, f64) {
    let (w, h, px) = png_rgb(png);
    assert_eq!(px.len(), w * h);
    let colours: HashSet<[u8; 3]> = px.iter().copied().collect();
    let ground = px[0];
    let ink = px.iter().filter(|p| **p != ground).count();
    (colours.len(), ink as f64 / px.len() as f64)
}

/// Not blank: many colours (text, fills, lines), and at least 2% of the window drawn on.
fn not_blank(png: &[u8]) -> Result<(), String> {
    let (colours, ink) = looks(png);
    if colours >= 16 && ink >= 0.02 {
        Ok(())
    } else {
        Err(format!(
            "blank: {colours} colours, {:.2}% drawn",
            ink * 100.0
        ))
    }
}

/// Every reference of the page to something outside itself: the values of `src`, `href`,
/// `srcset`, `action`, `poster`, `data` attributes and CSS `url()` that are not `#...` or
/// `data:`, and any `@import`, `<base>`, `<link>`, frame, embedded object or refresh. Text is
/// not a reference: a URL the checkpoint holds (a shell history's `curl http://...`) is
/// evidence the page shows as text.
fn outside_references(html: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let lower = html.to_ascii_lowercase();
    for attr in [
        "src",
        "href",
        "srcset",
        "action",
        "poster",
        "data",
        "xlink:href",
    ] {
        for quote in ['"', '\''] {
            let pat = format!(" {attr}={quote}");
            for (i, _) in lower.match_indices(&pat) {
                let v = &html[i + pat.len()..];
                let v = &v[..v.find(quote).unwrap_or(v.len())];
                if !(v.starts_with('#') || v.starts_with("data:")) {
                    bad.push(format!("{attr}={v}"));
                }
            }
        }
        // Unquoted values.
        let pat = format!(" {attr}=");
        for (i, _) in lower.match_indices(&pat) {
            let v = &html[i + pat.len()..];
            if v.starts_with(['"', '\'']) {
                continue;
            }
            let v = &v[..v.find([' ', '>']).unwrap_or(v.len())];
            if !(v.starts_with('#') || v.starts_with("data:")) {
                bad.push(format!("{attr}={v}"));
            }
        }
    }
    for (i, _) in lower.match_indices("url(") {
        let v = html[i + 4..].trim_start_matches(['"', '\'', ' ']);
        let v = &v[..v.find([')', '"', '\'']).unwrap_or(v.len())];
        if !(v.starts_with('#') || v.starts_with("data:")) {
            bad.push(format!("url({v})"));
        }
    }
    for tag in [
        "@import",
        "<base",
        "<link",
        "<iframe",
        "<embed",
        "<object",
        "http-equiv=\"refresh",
    ] {
        if lower.contains(tag) {
            bad.push(tag.into());
        }
    }
    bad
}

/// The harness itself can fail: a page that throws and logs an error is caught, a blank page
/// is blank, a drawn page is not, and references out of a page are found.
#[test]
fn the_harness_sees_errors_blank_pages_and_outside_references() {
    if !have_chromium() {
        return;
    }
    let dir = TempDir::new("browser-harness");
    let page = dir.join("throws.html");
    let mut blocks = String::new();
    for i in 0..40u32 {
        blocks.push_str(&format!(
            "<div style=\"background:#{:02x}{:02x}{:02x};height:20px\">{i}</div>",
            i * 6,
            255 - i * 6,
            (i * 37) % 256
        ));
    }
    std::fs::write(
        &page,
        format!(
            "<!DOCTYPE html><html><body><p id=\"x\">drawn</p>{blocks}<script>console.error(\"harness-console\"); null.harness;</script></body></html>"
        ),
    )
    .unwrap();
    let r = render(&page, &dir);
    assert!(r.dom.contains("<p id=\"x\">drawn</p>"), "{}", r.dom);
    assert!(
        r.console.iter().any(|l| l.contains("harness-console")),
        "{:?}",
        r.console
    );
    assert!(
        r.console.iter().any(|l| l.contains("Uncaught TypeError")),
        "{:?}",
        r.console
    );
    not_blank(&r.png).unwrap();

    std::fs::write(&page, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let r = render(&page, &dir);
    assert!(r.console.is_empty(), "{:?}", r.console);
    assert!(not_blank(&r.png).is_err());

    assert_eq!(
        outside_references(
            "<img src=\"x.png\"><a href='https://e.com'>x</a><a href=#ok></a><img src=\"data:image/png;base64,AA\"><div style=\"background:url(http://e/x)\"></div><a href=other.html><link rel=stylesheet href=\"#s\"><p>curl http://198.51.100.7/x.sh</p>"
        ),
        [
            "src=x.png",
            "href=https://e.com",
            "href=other.html",
            "url(http://e/x)",
            "<link"
        ]
    );
    assert!(
        outside_references("<a href=\"#proc-1\">1</a><svg><use href=\"#m\"/></svg>").is_empty()
    );
}

/// Every link lands: each id once in the DOM, each `#` link to one of them.
fn links_land(dom: &str) {
    let ids: Vec<&str> = dom
        .split(" id=\"")
        .skip(1)
        .map(|x| x.split('"').next().unwrap_or(""))
        .collect();
    let mut seen = HashSet::new();
    let twice: Vec<&str> = ids.iter().copied().filter(|i| !seen.insert(*i)).collect();
    assert!(twice.is_empty(), "ids used twice: {twice:?}");
    for link in dom.split(" href=\"#").skip(1) {
        let target = link.split('"').next().unwrap_or("");
        assert!(
            seen.contains(target),
            "a link to #{target}, which no element has"
        );
    }
}

/// Runs `ckptfs report INPUTS -o DIR/case.html` (its cache in `dir`): the page's path.
fn report(dir: &TempDir, inputs: &[&Path]) -> std::path::PathBuf {
    let file = dir.join("case.html");
    let cache = dir.join("cache").display().to_string();
    let mut args: Vec<String> = vec![
        ckptfs().into(),
        "report".into(),
        "--cache-dir".into(),
        cache,
    ];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    args.extend(["-o".to_string(), file.display().to_string()]);
    let out = run_timeout(120, &args);
    assert!(out.ok(), "{out}");
    file
}

/// Two dumps of one container (podman-redis) on one page, with what changed between them:
/// a silent console, a drawn screenshot, every process of both inputs in the DOM under its
/// input's ids, each id once, every link landing.
#[test]
fn podman_redis_pair_report_in_chromium() {
    if !have_chromium() {
        return;
    }
    let Some(fx) = fixtures() else {
        return;
    };
    let dir = TempDir::new("browser-redis");
    let a = fx.join("podman-redis/checkpoint.tar.zst");
    let b = fx.join("podman-redis/checkpoint2.tar.gz");
    let file = report(&dir, &[&a, &b]);
    let html = std::fs::read_to_string(&file).unwrap();
    assert_eq!(outside_references(&html), Vec::<String>::new());
    let r = render(&file, &dir);
    assert!(r.console.is_empty(), "console: {:?}", r.console);
    not_blank(&r.png).unwrap();
    assert!(r.dom.contains("<section id=\"changed\">"));
    for (k, input) in [&a, &b].into_iter().enumerate() {
        let ck = load_fixture(input, &dir);
        let pre = if k == 0 {
            String::new()
        } else {
            format!("c{k}-")
        };
        for p in &ck.processes {
            assert!(
                r.dom.contains(&format!("id=\"{pre}proc-{}\"", p.pid)),
                "input {k}: PID {} not in the DOM",
                p.pid
            );
        }
    }
    links_land(&r.dom);
}

/// A fixture's checkpoint, loaded (its cache in `dir`): the model the page is checked against.
fn load_fixture(input: &Path, dir: &TempDir) -> Checkpoint {
    let src = open(
        input,
        &OpenOptions {
            cache_dir: Some(dir.join("cache")),
            ..Default::default()
        },
    )
    .unwrap();
    load(src).unwrap()
}

/// `ckptfs report` of podman-implant in Chromium: every process and the start of every mapping
/// in the DOM, a drawn screenshot, a silent console, nothing outside the file.
#[test]
fn podman_implant_report_in_chromium() {
    if !have_chromium() {
        return;
    }
    let Some(fx) = fixtures() else {
        return;
    };
    let dir = TempDir::new("browser-implant");
    let input = fx.join("podman-implant/checkpoint.tar.gz");
    let file = report(&dir, &[&input]);
    let html = std::fs::read_to_string(&file).unwrap();
    assert_eq!(outside_references(&html), Vec::<String>::new());
    let ck = load_fixture(&input, &dir);

    let r = render(&file, &dir);
    assert!(r.console.is_empty(), "console: {:?}", r.console);
    not_blank(&r.png).unwrap();
    for p in &ck.processes {
        assert!(
            r.dom.contains(&format!("id=\"proc-{}\"", p.pid)),
            "PID {} not in the DOM",
            p.pid
        );
        assert!(r.dom.contains(&p.comm), "{} not in the DOM", p.comm);
    }
    // Every mapping of the fixture's ground truth (read from the live processes, not from the
    // checkpoint), by its start address as maps writes it, at the start of a range.
    let truth: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fx.join("podman-implant/ground-truth.json")).unwrap(),
    )
    .unwrap();
    let mut missing = Vec::new();
    let mut n = 0;
    for p in truth["processes"].as_array().unwrap() {
        for v in p["vmas"].as_array().unwrap() {
            let start = v["start"].as_str().unwrap().trim_start_matches("0x");
            let start = u64::from_str_radix(start, 16).unwrap();
            n += 1;
            if !r.dom.contains(&format!("{start:x}-")) {
                missing.push(format!("{start:x} {}", v["path"]));
            }
        }
    }
    assert!(n > 100, "{n} mappings in the ground truth");
    links_land(&r.dom);
    assert!(missing.is_empty(), "mappings not in the DOM: {missing:?}");
    eprintln!(
        "podman-implant report: {} bytes, rendered in {:?}",
        html.len(),
        r.elapsed
    );
}
