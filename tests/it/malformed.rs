//! Broken inputs: `ckptfs mount` must fail cleanly: exit code 2, one clear stderr line naming
//! the file, no panic, the input byte-identical afterwards, nothing mounted. Inputs come from
//! the writer (`ckptfs::writer`) and from copies of fixture images.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use ckptfs::image::magic;
use ckptfs::image::pb;
use ckptfs::writer::{CheckpointWriter, Compression, Layout, encode_frames, encode_image};
use common::{Mount, TempDir, copy_tree, fixtures, is_mounted, tree_sha256};

const A: u64 = 0x5000_0000_0000;

fn base() -> CheckpointWriter {
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("sh")
        .cmdline(&["/bin/sh"])
        .environ(&["A=B"])
        .anon(A, 64 * 4096)
        .pages(A, &vec![0x5au8; 64 * 4096]);
    w.process(2, 1).comm("child").cmdline(&["child"]);
    w
}

fn pstree_entries() -> Vec<pb::PstreeEntry> {
    vec![pb::PstreeEntry {
        pid: 1,
        ppid: 0,
        pgid: 1,
        sid: 1,
        threads: vec![1],
    }]
}

/// Mounts `input`, which must fail cleanly; `names` must all appear in the one stderr line.
fn must_fail(input: &Path, names: &[&str]) {
    let before = tree_sha256(input);
    let o = Mount::expect_failure(input, &[]);
    let err = o.stderr_text();
    assert!(!err.contains("panicked"), "{}: panic: {o}", input.display());
    assert_eq!(o.code, Some(2), "{}: exit code: {o}", input.display());
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{}: want one stderr line: {o}",
        input.display()
    );
    assert!(lines[0].starts_with("ckptfs: "), "{o}");
    for n in names {
        assert!(
            lines[0].contains(n),
            "{}: stderr does not name {n}: {o}",
            input.display()
        );
    }
    eprintln!("{}: {}", input.display(), lines[0]);
    assert_eq!(
        tree_sha256(input),
        before,
        "{}: the input changed",
        input.display()
    );
    assert!(o.stdout.is_empty(), "stdout: {o}");
}

fn dir_with(t: &TempDir, name: &str, w: &CheckpointWriter) -> PathBuf {
    let d = t.join(name);
    w.write_dir(&d).unwrap();
    d
}

#[test]
fn truncated_image() {
    let t = TempDir::new("mf-trunc");
    let good = base().encode_files();
    let ps = &good["pstree.img"];
    for cut in [3usize, 8, ps.len() - 1] {
        let mut w = base();
        w.raw_file("pstree.img", &ps[..cut]);
        let d = dir_with(&t, &format!("cut{cut}"), &w);
        must_fail(&d, &[&d.to_string_lossy(), "pstree.img"]);
    }
}

#[test]
fn bad_magic() {
    let t = TempDir::new("mf-magic");
    // the per-image magic of another image
    let mut w = base();
    w.raw_file("pstree.img", &encode_image(magic::CORE, &pstree_entries()));
    let d = dir_with(&t, "wrong", &w);
    must_fail(&d, &["pstree.img"]);
    // a wrong lead magic
    let mut bytes = encode_image(magic::PSTREE, &pstree_entries());
    bytes[0] ^= 0xff;
    let mut w = base();
    w.raw_file("pstree.img", &bytes);
    let d = dir_with(&t, "lead", &w);
    must_fail(&d, &["pstree.img"]);
}

#[test]
fn corrupt_protobuf() {
    let t = TempDir::new("mf-proto");
    for (i, body) in [
        &[0xffu8, 0xff, 0xff, 0xff][..],
        &[0x0a, 0x40, 0x01][..], // a field claiming more bytes than the message has
        &[0x2a, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff][..],
    ]
    .iter()
    .enumerate()
    {
        let mut w = base();
        w.raw_file("pstree.img", &encode_frames(magic::PSTREE, &[body]));
        let d = dir_with(&t, &format!("p{i}"), &w);
        must_fail(&d, &["pstree.img"]);
    }
    // an empty process tree, and none at all
    let mut w = base();
    w.raw_file("pstree.img", &encode_frames::<&[u8]>(magic::PSTREE, &[]));
    let d = dir_with(&t, "empty", &w);
    must_fail(&d, &["pstree.img"]);
    let mut w = base();
    w.remove_file("pstree.img");
    let d = dir_with(&t, "missing", &w);
    must_fail(&d, &["pstree.img"]);
}

#[test]
fn fixture_copy_with_broken_pstree() {
    let Some(fx) = fixtures() else { return };
    let t = TempDir::new("mf-fx");
    let d = t.join("images");
    copy_tree(&fx.join("secretd-plain/images"), &d);
    let ps = fs::read(d.join("pstree.img")).unwrap();
    fs::write(d.join("pstree.img"), &ps[..ps.len() / 2]).unwrap();
    must_fail(&d, &["pstree.img"]);
    let mut bad = ps.clone();
    bad[4..8].copy_from_slice(&magic::MM.to_le_bytes());
    fs::write(d.join("pstree.img"), &bad).unwrap();
    must_fail(&d, &["pstree.img"]);
}

/// A tar of the writer's checkpoint plus one entry whose raw name is `evil`.
fn tar_with_raw_name(path: &Path, evil: &str) {
    let files = base().encode_files();
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    for (name, bytes) in &files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &bytes[..]).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    let name = &mut h.as_gnu_mut().unwrap().name;
    name.fill(0);
    name[..evil.len()].copy_from_slice(evil.as_bytes());
    h.set_cksum();
    b.append(&h, &b"evil"[..]).unwrap();
    b.into_inner().unwrap();
}

#[test]
fn tar_with_escaping_names() {
    let t = TempDir::new("mf-dotdot");
    for (i, evil) in ["../x", "a/../../x", "/etc/x"].iter().enumerate() {
        let p = t.join(format!("evil{i}.tar"));
        tar_with_raw_name(&p, evil);
        must_fail(&p, &[&p.to_string_lossy()]);
        assert!(!t.join("x").exists() && !Path::new("/etc/x").exists());
    }
}

#[test]
fn tar_truncated_mid_entry() {
    let t = TempDir::new("mf-tartrunc");
    let full = t.join("full.tar");
    base()
        .write_tar(&full, &Layout::Bare, Compression::None)
        .unwrap();
    let bytes = fs::read(&full).unwrap();
    // inside the data of the big pages file (the last 1 KiB + end blocks are cut, and more)
    for cut in [bytes.len() / 2 + 100, 700] {
        let p = t.join(format!("cut{cut}.tar"));
        fs::write(&p, &bytes[..cut]).unwrap();
        must_fail(&p, &[&p.to_string_lossy()]);
    }
    // a compressed archive cut short
    for (c, ext) in [
        (Compression::Gzip, "tar.gz"),
        (Compression::Zstd, "tar.zst"),
    ] {
        let full = t.join(format!("full.{ext}"));
        base().write_tar(&full, &Layout::podman("x"), c).unwrap();
        let bytes = fs::read(&full).unwrap();
        let p = t.join(format!("cut.{ext}"));
        fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        must_fail(&p, &[&p.to_string_lossy()]);
    }
}

#[test]
fn garbage_and_empty_files() {
    let t = TempDir::new("mf-garbage");
    let g = t.join("garbage.tar.gz");
    let junk: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(&g, &junk).unwrap();
    must_fail(&g, &[&g.to_string_lossy()]);
    // gzip magic, then garbage
    let mut gz = vec![0x1f, 0x8b, 0x08, 0x00];
    gz.extend_from_slice(&junk[..5000]);
    let p = t.join("bad.gz");
    fs::write(&p, &gz).unwrap();
    must_fail(&p, &[&p.to_string_lossy()]);
    let e = t.join("empty");
    fs::write(&e, b"").unwrap();
    must_fail(&e, &[&e.to_string_lossy()]);
    // An empty directory is a directory of checkpoints that holds none yet (the kubelet's, before
    // the first checkpoint): mounted, with a note saying so, the table alone in it.
    let d = t.join("emptydir");
    fs::create_dir_all(&d).unwrap();
    let m = Mount::new(&d);
    assert!(
        m.out.stderr_text().contains("holds no checkpoint yet"),
        "{}",
        m.out
    );
    assert_eq!(common::ls(&m.p("")), ["checkpoints"]);
    drop(m);
    let missing = t.join("does-not-exist");
    let o = Mount::expect_failure(&missing, &[]);
    assert_eq!(o.code, Some(2), "{o}");
    assert!(o.stderr_text().contains("does-not-exist"), "{o}");
}

/// A damaged image that is not essential (one process's mm) does not stop the mount: the rest
/// of the tree is served and the warning names the file.
#[test]
fn damaged_secondary_image_degrades() {
    let t = TempDir::new("mf-degrade");
    let good = base().encode_files();
    let mm = &good["mm-2.img"];
    let mut w = base();
    w.raw_file("mm-2.img", &mm[..mm.len() / 2]);
    let d = dir_with(&t, "d", &w);
    let before = tree_sha256(&d);
    let m = Mount::new(&d);
    let err = m.out.stderr_text();
    assert!(!err.contains("panicked"), "{}", m.out);
    assert!(
        err.contains("mm-2.img"),
        "the warning names the file: {}",
        m.out
    );
    assert_eq!(common::cat(&m.p("1/cmdline")), b"/bin/sh\0");
    assert!(m.join("2").is_dir());
    let mnt = m.mnt.clone();
    drop(m);
    assert!(!is_mounted(&mnt));
    assert_eq!(tree_sha256(&d), before);
}
