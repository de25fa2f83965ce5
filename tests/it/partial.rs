//! Partial results, any user: `show`, `inspect`, `memparse` and `list` over several inputs print
//! what they can, one error line per bad input, and exit 2; the cache falls back to a private
//! per-user directory for a user without a writable home; metadata-only commands never write a
//! decompressed copy; a failed run leaves no lock file.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{self, Out, TempDir, run_timeout};

/// Two good inputs (gzip and zstd) from the shared fixtures.
fn good_inputs() -> Option<(PathBuf, PathBuf)> {
    let fx = common::fixtures()?;
    Some((
        fx.join("podman-busybox/checkpoint.tar.gz"),
        fx.join("podman-redis/checkpoint.tar.zst"),
    ))
}

/// Runs `ckptfs ARGS` with a clean environment whose cache is under `home`.
fn ckptfs_in(home: &Path, args: &[&str]) -> Out {
    let mut a: Vec<String> = vec![
        "env".into(),
        "-i".into(),
        "PATH=/usr/bin:/bin".into(),
        format!("HOME={}", home.display()),
        format!("XDG_CACHE_HOME={}", home.join("xdg").display()),
        common::ckptfs().into(),
    ];
    a.extend(args.iter().map(|s| s.to_string()));
    run_timeout(60, &a)
}

/// The `ckptfs: ` lines of stderr that are errors (not warnings).
fn error_lines(o: &Out) -> Vec<String> {
    o.stderr_text()
        .lines()
        .filter(|l| l.starts_with("ckptfs: ") && !l.starts_with("ckptfs: warning: "))
        .map(str::to_string)
        .collect()
}

/// Files left in `dir` (none when it does not exist).
fn files_in(dir: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn partial_results_show_inspect_memparse_list() {
    let Some((gz, zst)) = good_inputs() else {
        return;
    };
    let t = TempDir::new("partial");
    let notes = t.join("notes.txt");
    fs::write(&notes, "not a checkpoint\n").unwrap();
    let missing = t.join("missing.tar");
    let (gz_s, zst_s) = (gz.to_str().unwrap(), zst.to_str().unwrap());
    let (notes_s, missing_s) = (notes.to_str().unwrap(), missing.to_str().unwrap());

    // show: a row for each good input, an error line for each bad one, exit 2.
    let o = ckptfs_in(t.path(), &["show", gz_s, notes_s, zst_s, missing_s]);
    assert_eq!(o.code, Some(2), "{o}");
    let out = o.stdout_text();
    assert!(out.contains(gz_s) && out.contains(zst_s), "{o}");
    assert!(out.contains("fx-busybox"), "{o}");
    let errs = error_lines(&o);
    assert_eq!(errs.len(), 2, "{o}");
    assert!(
        errs[0].contains(notes_s) && errs[1].contains(missing_s),
        "{o}"
    );
    // All good: exit 0, no error line.
    let o = ckptfs_in(t.path(), &["show", gz_s, zst_s]);
    assert!(o.ok() && error_lines(&o).is_empty(), "{o}");

    // inspect, tree and JSON.
    let o = ckptfs_in(t.path(), &["inspect", notes_s, gz_s]);
    assert_eq!(o.code, Some(2), "{o}");
    assert!(
        o.stdout_text().contains(&format!("tree view from {gz_s}")),
        "{o}"
    );
    assert_eq!(error_lines(&o).len(), 1, "{o}");
    let o = ckptfs_in(
        t.path(),
        &["inspect", "--format", "json", gz_s, notes_s, zst_s],
    );
    assert_eq!(o.code, Some(2), "{o}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{o}");
    assert_eq!(error_lines(&o).len(), 1, "{o}");

    // memparse takes several checkpoints too.
    let o = ckptfs_in(t.path(), &["memparse", gz_s, missing_s, zst_s]);
    assert_eq!(o.code, Some(2), "{o}");
    let out = o.stdout_text();
    assert!(
        out.contains(&format!("memory sizes from {gz_s}"))
            && out.contains(&format!("memory sizes from {zst_s}")),
        "{o}"
    );
    assert_eq!(error_lines(&o).len(), 1, "{o}");
    // A bad pattern is said once.
    let o = ckptfs_in(t.path(), &["memparse", "-r", "(", gz_s, zst_s]);
    assert_eq!((o.code, error_lines(&o).len()), (Some(2), 1), "{o}");

    // list: a directory that cannot be listed does not hide the others.
    let dir = t.join("dir");
    fs::create_dir(&dir).unwrap();
    fs::copy(&gz, dir.join("bb.tar.gz")).unwrap();
    let o = ckptfs_in(t.path(), &["list", missing_s, dir.to_str().unwrap()]);
    assert_eq!(o.code, Some(2), "{o}");
    assert!(o.stdout_text().contains("bb.tar.gz"), "{o}");
    let errs = error_lines(&o);
    assert!(errs.len() == 1 && errs[0].contains(missing_s), "{o}");
}

/// A user whose home does not exist (HOME=/nonexistent, no XDG_CACHE_HOME) gets the private
/// per-user cache directory, as `--help` says.
#[test]
fn cache_falls_back_for_a_user_without_a_home() {
    let Some((gz, _)) = good_inputs() else {
        return;
    };
    if !common::have_root("to switch to nobody") {
        return;
    }
    let uid = run_timeout(10, &["id", "-u", "nobody"]).stdout_text();
    let fallback = PathBuf::from(format!("/var/tmp/ckptfs-{}", uid.trim()));
    let existed = fallback.exists();
    let o = common::as_nobody_timeout(
        60,
        &[
            "env",
            "-i",
            "PATH=/usr/bin:/bin",
            "HOME=/nonexistent",
            common::ckptfs(),
            "memparse",
            gz.to_str().unwrap(),
        ],
    );
    let made = files_in(&fallback);
    if !existed {
        let _ = fs::remove_dir_all(&fallback);
    }
    assert!(o.ok(), "{o}");
    assert!(o.stdout_text().contains("memory sizes from"), "{o}");
    assert!(made.iter().any(|n| n.ends_with(".tar")), "{made:?}");
}

/// A truncated archive fails with one error line and leaves nothing in the cache: no partial
/// copy, no meta file, no lock file.
#[test]
fn failed_run_leaves_no_lock_file() {
    let Some((gz, zst)) = good_inputs() else {
        return;
    };
    let t = TempDir::new("faillock");
    let cache = t.join("cache");
    // A cut compressed stream, and a whole gzip stream of a cut tar.
    let tar_cut = {
        let mut tar = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(fs::File::open(&gz).unwrap()),
            &mut tar,
        )
        .unwrap();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, &tar[..tar.len() * 2 / 3]).unwrap();
        e.finish().unwrap()
    };
    let cut_gz = fs::read(&gz).unwrap();
    let cut_zst = fs::read(&zst).unwrap();
    for (bytes, name) in [
        (&cut_gz[..cut_gz.len() / 2], "cut.tar.gz"),
        (&cut_zst[..cut_zst.len() / 2], "cut.tar.zst"),
        (&tar_cut[..], "cut-tar.tar.gz"),
    ] {
        let cut = t.join(name);
        fs::write(&cut, bytes).unwrap();
        for cmd in ["memparse", "show", "inspect"] {
            let o = ckptfs_in(
                t.path(),
                &[
                    cmd,
                    "--cache-dir",
                    cache.to_str().unwrap(),
                    cut.to_str().unwrap(),
                ],
            );
            assert_eq!(o.code, Some(2), "{cmd} {name}: {o}");
            assert_eq!(error_lines(&o).len(), 1, "{cmd} {name}: {o}");
            assert_eq!(files_in(&cache), Vec::<String>::new(), "{cmd} {name}");
        }
    }
}

/// `show`, `list` and `inspect` without memory read a compressed archive as a stream: nothing is
/// written in the cache. `inspect --ps-tree-cmd` reads memory (the command line), and uses it.
#[test]
fn metadata_only_commands_write_no_cache() {
    let Some((gz, zst)) = good_inputs() else {
        return;
    };
    let t = TempDir::new("nocache");
    let cache = t.join("cache");
    let c = cache.to_str().unwrap();
    let (gz_s, zst_s) = (gz.to_str().unwrap(), zst.to_str().unwrap());
    let o = ckptfs_in(t.path(), &["show", "--cache-dir", c, gz_s, zst_s]);
    assert!(o.ok() && o.stdout_text().contains("fx-busybox"), "{o}");
    let o = ckptfs_in(
        t.path(),
        &[
            "inspect",
            "--cache-dir",
            c,
            "--files",
            "--sockets",
            "--mounts",
            "--stats",
            gz_s,
        ],
    );
    assert!(o.ok() && o.stdout_text().contains("Process tree"), "{o}");
    let o = ckptfs_in(t.path(), &["list", gz.parent().unwrap().to_str().unwrap()]);
    assert!(o.ok(), "{o}");
    assert_eq!(files_in(&cache), Vec::<String>::new());
    assert_eq!(files_in(&t.join("xdg")), Vec::<String>::new());
    let o = ckptfs_in(
        t.path(),
        &["inspect", "--cache-dir", c, "--ps-tree-cmd", gz_s],
    );
    assert!(o.ok(), "{o}");
    assert!(files_in(&cache).iter().any(|n| n.ends_with(".tar")));
}
