//! Chain of custody: `checkpoint/manifest.sha256` holds the SHA-256 of every input file in
//! `sha256sum -c` format (paths relative to the directory given), and `info.json` has the same
//! list and the manifest's own SHA-256. An archive has its own hash only.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::common::{self, Mount, TempDir, cat, have_fuse};

fn hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// `cd dir && sha256sum -c manifest`: (success, output).
fn sha256sum_check(dir: &Path, manifest: &Path) -> (bool, String) {
    let o = Command::new("sha256sum")
        .current_dir(dir)
        .arg("-c")
        .arg(manifest)
        .output()
        .unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// Every regular file of an image directory and of its parent chain but the `parent` links, as
/// the manifest names them: relative to `dir` (walked here on the filesystem; the fixture's
/// `parent` links are files holding the target).
fn files_of_chain(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut prefix = String::new();
    let mut d = dir.to_path_buf();
    for _ in 0..64 {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_file() && name != "parent" {
                out.push(format!("{prefix}{name}"));
            }
        }
        let link = d.join("parent");
        let Ok(target) =
            fs::read_link(&link).or_else(|_| fs::read_to_string(&link).map(PathBuf::from))
        else {
            break;
        };
        d = fs::canonicalize(d.join(target.to_string_lossy().trim())).unwrap();
        // The fixture's dumps are siblings: `../pre2`, `../pre`.
        assert_eq!(d.parent(), fs::canonicalize(dir).unwrap().parent());
        prefix = format!("../{}/", d.file_name().unwrap().to_string_lossy());
    }
    out.sort();
    out
}

fn manifest_paths(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_once("  ").unwrap().1.to_string())
        .collect()
}

fn info(m: &Mount) -> serde_json::Value {
    serde_json::from_slice(&cat(&m.p("checkpoint/info.json"))).unwrap()
}

#[test]
fn manifest_of_an_image_directory_checks_with_sha256sum() {
    let Some(fx) = common::fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let dir = fx.join("secretd-incremental/images/dump");
    let m = Mount::new(&dir);
    let text = String::from_utf8(cat(&m.p("checkpoint/manifest.sha256"))).unwrap();
    let want = files_of_chain(&dir);
    assert!(want.iter().any(|p| p.starts_with("../pre/")), "{want:?}");
    assert!(want.iter().any(|p| p.starts_with("../pre2/")), "{want:?}");
    assert_eq!(manifest_paths(&text), want);
    let (ok, out) = sha256sum_check(&dir, &m.join("checkpoint/manifest.sha256"));
    assert!(ok, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.ends_with(": OK")).count(),
        want.len()
    );
    // info.json: the same list, and the manifest's own hash as the source's.
    let v = info(&m);
    assert_eq!(v["source"]["sha256"], hex(text.as_bytes()));
    let listed: Vec<String> = v["source"]["manifest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, want);
    let first = &v["source"]["manifest"][0];
    let bytes = fs::read(dir.join(first["path"].as_str().unwrap())).unwrap();
    assert_eq!(first["sha256"], hex(&bytes));
    assert_eq!(first["size"], bytes.len());
}

/// The manifest is evidence of what was mounted: a file changed afterwards fails the check,
/// named by `sha256sum`. An extracted container archive lists `checkpoint/` and its metadata.
#[test]
fn manifest_catches_a_changed_file() {
    let Some(fx) = common::fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let t = TempDir::new("custody");
    let root = t.join("ctr");
    common::archive::extract(&fx.join("podman-busybox/checkpoint.tar.gz"), &root);
    let m = Mount::new(&root);
    let text = cat(&m.p("checkpoint/manifest.sha256"));
    drop(m);
    let saved = t.join("manifest.sha256");
    fs::write(&saved, &text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let paths = manifest_paths(&text);
    assert!(paths.iter().any(|p| p == "config.dump"), "{paths:?}");
    assert!(
        paths.iter().any(|p| p == "checkpoint/pstree.img"),
        "{paths:?}"
    );
    let (ok, out) = sha256sum_check(&root, &saved);
    assert!(ok, "{out}");
    let victim = root.join("checkpoint/pstree.img");
    let mut b = fs::read(&victim).unwrap();
    b[0] ^= 1;
    fs::write(&victim, b).unwrap();
    let (ok, out) = sha256sum_check(&root, &saved);
    assert!(!ok, "{out}");
    assert!(out.contains("checkpoint/pstree.img: FAILED"), "{out}");
}

/// An archive has no manifest (its own hash is `info.json`'s `source.sha256`): the tree of an
/// archive does not depend on the archive's file name.
#[test]
fn an_archive_has_its_hash_and_no_manifest() {
    let Some(fx) = common::fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let input: PathBuf = fx.join("podman-busybox/checkpoint.tar.gz");
    let m = Mount::new(&input);
    assert!(!m.join("checkpoint/manifest.sha256").exists());
    let v = info(&m);
    assert_eq!(v["source"]["sha256"], hex(&fs::read(&input).unwrap()));
    assert_eq!(v["source"]["manifest"], serde_json::Value::Null);
}
