//! `ckptfs cache list` / `ckptfs cache clean`, run as the built binary against a temp cache
//! directory filled by the binary itself (decompressing small archives).

use crate::common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ckptfs(args: &[&str], home: &Path) -> Output {
    Command::new(common::ckptfs())
        .args(args)
        // Never the user's own cache, whatever happens.
        .env("XDG_CACHE_HOME", home.join("xdg"))
        .env("HOME", home)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok(args: &[&str], home: &Path) -> String {
    let o = ckptfs(args, home);
    assert!(
        o.status.success(),
        "ckptfs {args:?}: {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(&o)
}

/// A small Podman-like archive (not a complete checkpoint: decompression is all that matters).
fn archive(tag: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("config.dump", &b"{}"[..]),
        ("checkpoint/inventory.img", tag),
        ("checkpoint/pages-1.img", &[7u8; 8192][..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// Opens `input` with the binary so that it lands in `cache` (`memparse` reads memory, so it
/// decompresses into the cache; the view itself may fail: these archives hold no real
/// checkpoint).
fn cache_it(input: &Path, cache: &Path, home: &Path) {
    ckptfs(
        &[
            "memparse",
            "--cache-dir",
            cache.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        home,
    );
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn list_and_clean() {
    let t = common::TempDir::new("cache-cmd");
    let home = t.path();
    let cache: PathBuf = home.join("cache");
    let c = cache.to_str().unwrap();

    // Missing directory: said so, exit 0; nothing created.
    let out = ok(&["cache", "list", "--cache-dir", c], home);
    assert!(out.contains("No cache directory"), "{out}");
    let out = ok(&["cache", "clean", "--cache-dir", c], home);
    assert!(out.contains("No cache directory"), "{out}");
    assert!(!cache.exists());

    let a = home.join("a.tar.gz");
    let b = home.join("b.tar.zst");
    fs::write(&a, gzip(&archive(b"A"))).unwrap();
    fs::write(&b, zstd::encode_all(&archive(b"B")[..], 1).unwrap()).unwrap();
    cache_it(&a, &cache, home);
    cache_it(&b, &cache, home);
    let tars = names(&cache).iter().filter(|n| n.ends_with(".tar")).count();
    assert_eq!(tars, 2, "{:?}", names(&cache));
    let a_sha = common::sha256_hex(&fs::read(&a).unwrap());

    // b's input is gone: stale. Plus a partial, an orphan meta, an unrelated file.
    fs::remove_file(&b).unwrap();
    let k = |c: &str| c.repeat(64);
    fs::write(cache.join(format!("{}.tar.partial", k("1"))), [0u8; 3000]).unwrap();
    fs::write(cache.join(format!("{}.meta", k("2"))), b"{}").unwrap();
    fs::write(cache.join("notes.txt"), b"mine").unwrap();

    // Table.
    let out = ok(&["cache", "list", "--cache-dir", c], home);
    for want in [
        "STATE",
        "INPUT SHA256",
        "ok ",
        "stale ",
        "partial ",
        "orphan ",
        &a_sha[..12],
        a.to_str().unwrap(),
        "no longer exists",
        "notes.txt",
        "zstd",
        "gzip",
        "KiB",
    ] {
        assert!(out.contains(want), "no {want:?} in:\n{out}");
    }
    assert!(
        !out.contains(&a_sha[..13]),
        "the table shows 12 hex digits\n{out}"
    );
    let total = out.lines().last().unwrap();
    assert!(
        total.starts_with("Total: 4 entries,") && total.contains("1 stale"),
        "{total}"
    );

    // JSON (the cache dir also works before the subcommand).
    let out = ok(
        &["cache", "--cache-dir", c, "list", "--format", "json"],
        home,
    );
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entries = j["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "{out}");
    let mut states: Vec<&str> = entries
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    states.sort();
    assert_eq!(states, ["ok", "orphan", "partial", "stale"]);
    let ok_entry = entries.iter().find(|e| e["state"] == "ok").unwrap();
    assert_eq!(ok_entry["input_sha256"], a_sha.as_str());
    assert_eq!(ok_entry["input"], a.to_str().unwrap());
    assert_eq!(ok_entry["compression"], "gzip");
    assert!(ok_entry["tar_size"].as_u64().unwrap() >= 10240);
    assert_eq!(j["other_files"][0]["name"], "notes.txt");
    assert_eq!(
        j["total_size"].as_u64().unwrap(),
        entries
            .iter()
            .map(|e| e["size"].as_u64().unwrap())
            .sum::<u64>()
    );

    // Dry run: reported, nothing removed.
    let before = names(&cache);
    let out = ok(&["cache", "clean", "--cache-dir", c, "--dry-run"], home);
    assert!(out.contains("Would remove"), "{out}");
    assert!(out.contains("dry run"), "{out}");
    assert_eq!(names(&cache), before);

    // --older-than: nothing is a day old.
    let out = ok(
        &["cache", "clean", "--cache-dir", c, "--older-than", "1d"],
        home,
    );
    assert!(out.contains("Nothing to remove"), "{out}");
    assert_eq!(names(&cache), before);

    // Default: stale, partial, orphan.
    let out = ok(&["cache", "clean", "--cache-dir", c], home);
    assert!(out.contains("Removed:") && out.contains("Freed "), "{out}");
    assert!(out.contains("notes.txt"), "{out}");
    let left = names(&cache);
    assert_eq!(left.len(), 4, "{left:?}"); // a's tar, meta, lock + notes.txt
    assert!(left.contains(&"notes.txt".to_string()));
    let out = ok(&["cache", "list", "--cache-dir", c], home);
    assert!(
        out.lines().last().unwrap().starts_with("Total: 1 entry,"),
        "{out}"
    );

    // Selectors are exclusive; durations need a unit.
    let o = ckptfs(
        &["cache", "clean", "--cache-dir", c, "--all", "--stale"],
        home,
    );
    assert_eq!(o.status.code(), Some(2));
    let o = ckptfs(
        &["cache", "clean", "--cache-dir", c, "--older-than", "7"],
        home,
    );
    assert_eq!(o.status.code(), Some(2));

    // --all: everything but the unrelated file.
    let out = ok(&["cache", "clean", "--cache-dir", c, "--all"], home);
    assert!(out.contains(a.to_str().unwrap()), "{out}");
    assert_eq!(names(&cache), ["notes.txt"]);
    let out = ok(&["cache", "list", "--cache-dir", c], home);
    assert!(out.contains("No cache entries"), "{out}");
    fs::remove_file(cache.join("notes.txt")).unwrap();
    let out = ok(&["cache", "list", "--cache-dir", c], home);
    assert!(out.contains("is empty"), "{out}");
    assert!(!home.join("xdg").exists(), "the default cache was used");
}
