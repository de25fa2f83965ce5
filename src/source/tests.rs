//! Tests of [`open`] across input kinds, the cache, and the real fixtures.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::test_util::*;
use super::*;

fn opts(cache: &Path) -> OpenOptions {
    OpenOptions {
        cache_dir: Some(cache.to_path_buf()),
        ..Default::default()
    }
}

fn podman_like() -> Vec<u8> {
    let pages: Vec<u8> = (0..3 * 4096u32).map(|i| (i % 251) as u8).collect();
    TarSpec::new()
        .file("./config.dump", b"{\"name\":\"c\"}")
        .file("./spec.dump", b"{}")
        .dir("./checkpoint/", 0o700)
        .file("./checkpoint/inventory.img", b"INV")
        .file("./checkpoint/pstree.img", b"PSTREE")
        .file("./checkpoint/pages-1.img", &pages)
        .file("./rootfs-diff.tar", &[0u8; 1024])
        .build_gnu()
}

fn images_of(s: &Source) -> Vec<(String, Vec<u8>)> {
    s.images
        .files
        .iter()
        .map(|(k, v)| (k.clone(), v.bytes().to_vec()))
        .collect()
}

fn metadata_of(s: &Source) -> Vec<(String, Vec<u8>)> {
    s.metadata
        .iter()
        .map(|(k, v)| (k.clone(), v.bytes().to_vec()))
        .collect()
}

#[test]
fn tar_gz_zst_give_identical_blobs() {
    let t = TempDir::new("kinds");
    let tar = podman_like();
    fs::write(t.join("a.tar"), &tar).unwrap();
    fs::write(t.join("a.tar.gz"), gzip(&tar)).unwrap();
    fs::write(t.join("a.zst.bin"), zstd(&tar)).unwrap(); // the name does not matter
    let cache = t.join("cache");
    let plain = open(&t.join("a.tar"), &opts(&cache)).unwrap();
    let gz = open(&t.join("a.tar.gz"), &opts(&cache)).unwrap();
    let zst = open(&t.join("a.zst.bin"), &opts(&cache)).unwrap();
    assert_eq!(plain.input.kind, InputKind::Tar);
    assert_eq!(gz.input.kind, InputKind::TarGz);
    assert_eq!(zst.input.kind, InputKind::TarZst);
    for s in [&plain, &gz, &zst] {
        assert_eq!(s.layout, Layout::ContainerArchive);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        assert_eq!(images_of(s), images_of(&plain));
        assert_eq!(metadata_of(s), metadata_of(&plain));
    }
    assert_eq!(
        plain.metadata.keys().collect::<Vec<_>>(),
        ["config.dump", "rootfs-diff.tar", "spec.dump"]
    );
    assert!(plain.input.cache_path.is_none());
    assert!(gz.input.cache_path.as_ref().unwrap().starts_with(&cache));
    assert_eq!(plain.input_sha256().unwrap(), sha256_file(&t.join("a.tar")));
    assert_eq!(gz.input_sha256().unwrap(), sha256_file(&t.join("a.tar.gz")));
    assert_eq!(
        zst.input_sha256().unwrap(),
        sha256_file(&t.join("a.zst.bin"))
    );
    assert_eq!(
        gz.input.size,
        fs::metadata(t.join("a.tar.gz")).unwrap().len()
    );
    // The cache holds exactly the tar bytes.
    assert_eq!(
        fs::read(gz.input.cache_path.as_ref().unwrap()).unwrap(),
        tar
    );
    assert_eq!(
        fs::metadata(&cache).unwrap().permissions().mode() & 0o7777,
        0o700
    );
    let m = fs::metadata(gz.input.cache_path.as_ref().unwrap()).unwrap();
    assert_eq!(m.permissions().mode() & 0o077, 0);
}

#[test]
fn cache_is_reused_then_rebuilt_when_untrustworthy() {
    let t = TempDir::new("reuse");
    let tar = podman_like();
    let input = t.join("c.tar.zst");
    fs::write(&input, zstd(&tar)).unwrap();
    let cache = t.join("cache");
    let first = open(&input, &opts(&cache)).unwrap();
    let cp = first.input.cache_path.clone().unwrap();
    let m1 = fs::metadata(&cp).unwrap();
    let sha = first.input_sha256().unwrap();
    let first_images = images_of(&first);
    drop(first);
    std::thread::sleep(std::time::Duration::from_millis(20));

    let second = open(&input, &opts(&cache)).unwrap();
    let m2 = fs::metadata(&cp).unwrap();
    assert_eq!(
        (m1.ino(), m1.mtime(), m1.mtime_nsec()),
        (m2.ino(), m2.mtime(), m2.mtime_nsec())
    );
    assert_eq!(second.input_sha256().unwrap(), sha);
    assert!(second.warnings.is_empty(), "{:?}", second.warnings);
    // (Truncating a mapped file would make readers of the old mapping fault: drop them first.)
    drop(second);

    // Truncated cached tar: rebuilt, with a warning.
    let f = fs::OpenOptions::new().write(true).open(&cp).unwrap();
    f.set_len(1000).unwrap();
    drop(f);
    let third = open(&input, &opts(&cache)).unwrap();
    assert!(
        third.warnings.kinds() == [Kind::CacheRebuilt],
        "{:?}",
        third.warnings
    );
    assert_eq!(fs::read(&cp).unwrap(), tar);
    assert_eq!(images_of(&third), first_images);
    drop(third);

    // Wrong meta: rebuilt.
    let meta = cp.with_extension("meta");
    let text = fs::read_to_string(&meta).unwrap();
    fs::write(&meta, text.replace(&sha, &"0".repeat(64))).unwrap();
    let m = fs::metadata(&cp).unwrap();
    let before = (m.ino(), m.mtime(), m.mtime_nsec());
    // Same size but different identity field also counts: change tar_size instead.
    let text = fs::read_to_string(&meta).unwrap();
    let bad = text.replace(&format!("\"tar_size\": {}", tar.len()), "\"tar_size\": 1");
    assert_ne!(bad, text);
    fs::write(&meta, bad).unwrap();
    let fourth = open(&input, &opts(&cache)).unwrap();
    assert!(
        fourth.warnings.kinds() == [Kind::CacheRebuilt],
        "{:?}",
        fourth.warnings
    );
    let m = fs::metadata(&cp).unwrap();
    assert_ne!((m.ino(), m.mtime(), m.mtime_nsec()), before);
    assert_eq!(fourth.input_sha256().unwrap(), sha);
    // A new entry's meta file is rewritten once its tar is synced (beside the work that follows
    // the open): wait for that before tampering with it.
    fourth.wait_cache_recorded();
    assert!(fs::read_to_string(&meta).unwrap().contains(&sha));

    // Garbage meta: rebuilt.
    fs::write(&meta, b"not json").unwrap();
    let fifth = open(&input, &opts(&cache)).unwrap();
    assert!(
        fifth.warnings.kinds() == [Kind::CacheRebuilt],
        "{:?}",
        fifth.warnings
    );

    // A changed input (new mtime) gets a new cache entry.
    fs::write(&input, zstd(&podman_like())).unwrap();
    let f = fs::File::options().write(true).open(&input).unwrap();
    f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(12345))
        .unwrap();
    drop(f);
    let sixth = open(&input, &opts(&cache)).unwrap();
    assert_ne!(sixth.input.cache_path.unwrap(), cp);
}

/// A new entry's meta file is written at once, marked with this boot's id until the tar is
/// synced; an entry marked with another boot's id (written before a restart, never synced) is
/// rebuilt, not trusted.
#[test]
fn unsynced_entries_are_trusted_only_in_the_boot_that_wrote_them() {
    let t = TempDir::new("unsynced");
    let tar = podman_like();
    let input = t.join("c.tar.gz");
    fs::write(&input, gzip(&tar)).unwrap();
    let cache = t.join("cache");
    let first = open(&input, &opts(&cache)).unwrap();
    let cp = first.input.cache_path.clone().unwrap();
    let meta = cp.with_extension("meta");
    // Written before open returned; synced (and the mark cleared) by the time the wait ends.
    assert!(meta.exists());
    first.wait_cache_recorded();
    let text = fs::read_to_string(&meta).unwrap();
    assert!(!text.contains("unsynced_boot"), "{text}");
    drop(first);

    // Marked as written in this boot and not synced yet: reused as is.
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let boot = boot.trim();
    let mark = |b: &str| {
        let v = text.trim_end().strip_suffix('}').unwrap().trim_end();
        fs::write(&meta, format!("{v},\n  \"unsynced_boot\": \"{b}\"\n}}\n")).unwrap();
    };
    mark(boot);
    let stamp = |m: fs::Metadata| (m.ino(), m.ctime(), m.ctime_nsec());
    let before = stamp(fs::metadata(&cp).unwrap());
    let again = open(&input, &opts(&cache)).unwrap();
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
    assert_eq!(stamp(fs::metadata(&cp).unwrap()), before);
    drop(again);

    // Written in another boot and never synced: rebuilt, with a warning that says why.
    mark("00000000-0000-0000-0000-000000000000");
    let rebuilt = open(&input, &opts(&cache)).unwrap();
    assert!(
        rebuilt
            .warnings
            .of(Kind::CacheRebuilt)
            .any(|w| w.message.contains("before the last restart")),
        "{:?}",
        rebuilt.warnings
    );
    assert_ne!(stamp(fs::metadata(&cp).unwrap()), before);
    assert_eq!(fs::read(&cp).unwrap(), tar);
}

#[test]
fn concurrent_opens_share_one_writer() {
    let t = TempDir::new("conc");
    let big: Vec<u8> = (0..4_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let tar = TarSpec::new()
        .file("inventory.img", b"I")
        .file("pstree.img", b"P")
        .file("pages-1.img", &big)
        .build_gnu();
    let input = t.join("x.tgz");
    fs::write(&input, gzip(&tar)).unwrap();
    let cache = t.join("cache");
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let (i, c) = (input.clone(), cache.clone());
            std::thread::spawn(move || {
                open(&i, &opts(&c)).map(|s| (s.input.cache_path.clone(), images_of(&s)))
            })
        })
        .collect();
    let rs: Vec<_> = hs.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
    for r in &rs {
        assert_eq!(r, &rs[0]);
    }
    let leftovers: Vec<_> = fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn decompression_bomb_is_stopped() {
    let t = TempDir::new("bomb");
    let zeros = vec![0u8; 8 << 20];
    let tar = TarSpec::new()
        .file("pstree.img", b"P")
        .file("pages-1.img", &zeros)
        .build_gnu();
    let input = t.join("bomb.tar.gz");
    fs::write(&input, gzip(&tar)).unwrap();
    assert!(fs::metadata(&input).unwrap().len() < 100_000);
    let cache = t.join("cache");
    let o = OpenOptions {
        max_size: Some(1 << 20),
        ..opts(&cache)
    };
    let e = open(&input, &o).unwrap_err().to_string();
    assert!(e.contains("exceeds the limit of 1048576 bytes"), "{e}");
    assert!(e.contains("bomb.tar.gz"), "{e}");
    let left: Vec<_> = fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // zstd too
    fs::write(&input, zstd(&tar)).unwrap();
    let e = open(&input, &o).unwrap_err().to_string();
    assert!(e.contains("exceeds the limit"), "{e}");
}

#[test]
fn corrupt_compressed_inputs() {
    let t = TempDir::new("corrupt");
    let tar = podman_like();
    let cache = t.join("cache");
    let gz = gzip(&tar);
    let p = t.join("t.gz");
    fs::write(&p, &gz[..gz.len() / 2]).unwrap();
    let e = open(&p, &opts(&cache)).unwrap_err().to_string();
    assert!(e.contains("gzip decompression failed"), "{e}");
    let z = zstd(&tar);
    fs::write(&p, &z[..z.len() / 2]).unwrap();
    let e = open(&p, &opts(&cache)).unwrap_err().to_string();
    assert!(e.contains("zstd decompression failed"), "{e}");
    // compressed, but not a tar
    fs::write(&p, gzip(&[b'x'; 5000])).unwrap();
    let e = open(&p, &opts(&cache)).unwrap_err().to_string();
    assert!(e.contains("not a tar archive"), "{e}");
    let n = fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".lock"))
        .count();
    assert_eq!(n, 0);
}

#[test]
fn garbage_and_odd_inputs_are_not_checkpoints() {
    let t = TempDir::new("garbage");
    let p = t.join("x.tar.gz");
    fs::write(&p, b"hello, this is not an archive at all").unwrap();
    let e = open(&p, &OpenOptions::default()).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: not a checkpoint: neither a CRIU image directory nor a tar/tar.gz/tar.zst archive",
            p.display()
        )
    );
    fs::write(&p, b"").unwrap();
    let e = open(&p, &OpenOptions::default()).unwrap_err().to_string();
    assert!(e.contains("(empty file)"), "{e}");
    let e = open(Path::new("/dev/null"), &OpenOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a regular file"), "{e}");
    let e = open(&t.join("missing"), &OpenOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing: cannot open"), "{e}");
}

#[test]
fn hostile_tar_is_rejected_and_input_untouched() {
    let t = TempDir::new("hostile");
    let tar = TarSpec::new()
        .file("./checkpoint/pstree.img", b"P")
        .raw_file("./checkpoint/../../x", b"evil")
        .build_gnu();
    let p = t.join("h.tar");
    fs::write(&p, &tar).unwrap();
    let before = sha256_file(&p);
    let e = open(&p, &OpenOptions::default()).unwrap_err().to_string();
    assert!(e.contains("entry ./checkpoint/../../x"), "{e}");
    assert_eq!(sha256_file(&p), before);
    // Compressed too: rejected; nothing written but the (complete) decompressed cache file.
    let pz = t.join("h.tar.gz");
    fs::write(&pz, gzip(&tar)).unwrap();
    let e = open(&pz, &opts(&t.join("cache"))).unwrap_err().to_string();
    assert!(e.contains("entry ./checkpoint/../../x"), "{e}");
    assert!(!t.join("x").exists());
}

#[test]
fn input_bytes_unchanged_by_open() {
    let t = TempDir::new("ro");
    let tar = podman_like();
    for (name, bytes) in [
        ("a.tar", tar.clone()),
        ("a.tgz", gzip(&tar)),
        ("a.tzst", zstd(&tar)),
    ] {
        let p = t.join(name);
        fs::write(&p, &bytes).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o444)).unwrap();
        let before = sha256_file(&p);
        let m0 = fs::metadata(&p).unwrap();
        let s = open(&p, &opts(&t.join("cache"))).unwrap();
        assert_eq!(s.input_sha256().unwrap(), before);
        assert_eq!(sha256_file(&p), before);
        let m1 = fs::metadata(&p).unwrap();
        assert_eq!(
            (m0.mtime(), m0.mtime_nsec(), m0.len()),
            (m1.mtime(), m1.mtime_nsec(), m1.len())
        );
    }
}

#[test]
fn directory_input() {
    let t = TempDir::new("dirin");
    let d = t.join("dump");
    fs::create_dir(&d).unwrap();
    fs::write(d.join("inventory.img"), b"INV").unwrap();
    fs::write(d.join("pages-1.img"), vec![1u8; 100_000]).unwrap();
    let s = open(&d, &OpenOptions::default()).unwrap();
    assert_eq!(s.input.kind, InputKind::ImageDir);
    assert_eq!(s.layout, Layout::ImageDir);
    assert_eq!(s.input.size, 100_003);
    // A directory's hash is its manifest's (the sha256sum list of every file served).
    let m = s.manifest().expect("a directory has a manifest");
    assert_eq!(s.input_sha256(), Some(m.digest()));
    assert_eq!(s.images.get("pages-1.img").unwrap().len(), 100_000);
}

#[test]
fn fixture_incremental_dir() {
    let Some(fx) = fixtures() else { return };
    let d = fx.join("secretd-incremental/images/dump");
    let s = open(&d, &OpenOptions::default()).unwrap();
    assert_eq!(s.layout, Layout::ImageDir);
    assert_eq!(s.input.kind, InputKind::ImageDir);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let chain: Vec<&ImageDir> = s.images.chain().collect();
    assert_eq!(chain.len(), 3, "dump -> pre2 -> pre");
    assert!(chain[0].files.contains_key("pstree.img"));
    assert!(chain[1].label.ends_with("/pre2"), "{}", chain[1].label);
    assert!(chain[2].label.ends_with("/pre"), "{}", chain[2].label);
    assert_eq!(chain[2].files["pages-1.img"].len(), 4_329_472);
    assert!(!chain[0].files.contains_key("parent"));
}

#[test]
fn fixture_podman_archive() {
    let Some(fx) = fixtures() else { return };
    let p = fx.join("podman-busybox/checkpoint.tar.gz");
    let t = TempDir::new("podman");
    let before = sha256_file(&p);
    let s = open(&p, &opts(&t.join("cache"))).unwrap();
    assert_eq!(s.input.kind, InputKind::TarGz);
    assert_eq!(s.layout, Layout::ContainerArchive);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    for f in [
        "pstree.img",
        "core-1.img",
        "inventory.img",
        "pages-1.img",
        "descriptors.json",
    ] {
        assert!(s.images.files.contains_key(f), "{f}");
    }
    assert_eq!(s.images.files["pages-1.img"].len(), 73728);
    for f in [
        "config.dump",
        "spec.dump",
        "rootfs-diff.tar",
        "network.status",
        "stats-dump",
        "ctr.log",
        "devshm-checkpoint.tar",
    ] {
        assert!(s.metadata.contains_key(f), "{f}");
    }
    assert!(s.metadata.keys().all(|k| !k.starts_with("checkpoint/")));
    assert!(s.images.parent.is_none());
    assert_eq!(s.input_sha256().unwrap(), before);
    assert_eq!(sha256_file(&p), before);
}

/// Manual check: `CKPTFS_OPEN=PATH cargo test --release --lib source::tests::open_env_path -- --ignored --nocapture`.
#[test]
#[ignore]
fn open_env_path() {
    let Some(p) = std::env::var_os("CKPTFS_OPEN") else {
        return;
    };
    let t0 = std::time::Instant::now();
    let o = OpenOptions {
        cache_dir: std::env::var_os("CKPTFS_CACHE").map(Into::into),
        progress: true,
        metadata_only: false,
        ..Default::default()
    };
    let s = open(Path::new(&p), &o).unwrap();
    let t1 = t0.elapsed();
    eprintln!(
        "open: {t1:?}; kind {:?}, layout {:?}, {} images, {} metadata, chain {}, warnings {:?}",
        s.input.kind,
        s.layout,
        s.images.files.len(),
        s.metadata.len(),
        s.images.chain().count(),
        s.warnings
    );
    let t0 = std::time::Instant::now();
    eprintln!("sha256 {:?} in {:?}", s.input_sha256(), t0.elapsed());
}

/// Archives written by GNU tar itself (if installed) in its formats: `./` prefixes, long names,
/// hardlinks, a `parent` symlink chain.
#[test]
fn gnu_tar_formats() {
    use std::os::unix::fs::symlink;
    use std::process::Command;
    if Command::new("tar").arg("--version").output().is_err() {
        crate::source::test_util::skip("no tar binary");
        return;
    }
    let t = TempDir::new("gnutar");
    let src = t.join("src");
    fs::create_dir_all(src.join("dump")).unwrap();
    fs::create_dir_all(src.join("pre")).unwrap();
    let long = format!("{}.img", "l".repeat(150));
    fs::write(src.join("dump/inventory.img"), b"INV").unwrap();
    fs::write(src.join("dump/pstree.img"), b"PS").unwrap();
    fs::write(src.join("dump").join(&long), b"LONG").unwrap();
    fs::hard_link(src.join("dump/pstree.img"), src.join("dump/hard.img")).unwrap();
    symlink("../pre", src.join("dump/parent")).unwrap();
    fs::write(src.join("pre/inventory.img"), b"I0").unwrap();
    for (fmt, has_long) in [
        ("gnu", true),
        ("oldgnu", true),
        ("pax", true),
        ("v7", false),
    ] {
        let out = t.join(&format!("{fmt}.tar"));
        let st = Command::new("tar")
            .arg(format!("--format={fmt}"))
            .arg("-cf")
            .arg(&out)
            .arg("-C")
            .arg(&src)
            .arg(".")
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        // v7 cannot store the long name: tar says so and exits 2, but writes the rest.
        assert!(st.success() || !has_long, "{fmt}");
        let s = open(&out, &OpenOptions::default()).unwrap_or_else(|e| panic!("{fmt}: {e}"));
        assert_eq!(s.images.label, format!("{}:dump", out.display()));
        assert_eq!(s.images.files["hard.img"].bytes(), b"PS", "{fmt}");
        assert_eq!(s.images.files["pstree.img"].bytes(), b"PS", "{fmt}");
        if has_long {
            assert_eq!(s.images.files[&long].bytes(), b"LONG", "{fmt}");
        }
        let p = s
            .images
            .parent
            .as_ref()
            .unwrap_or_else(|| panic!("{fmt}: {:?}", s.warnings));
        assert_eq!(p.files["inventory.img"].bytes(), b"I0");
    }
}
