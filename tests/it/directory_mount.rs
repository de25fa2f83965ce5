//! A mount of a directory of checkpoints (`ckptfs mount /var/lib/kubelet/checkpoints /mnt/all`).
//!
//! - `directory_of_mixed_checkpoints`: a directory holding two Podman exports (`.tar.gz`), a
//!   plain CRIU image directory, the fixtures' images in containerd 2.x's and CRI-O's archive
//!   layouts (written by the in-repo writer, named as the kubelet names them), a checkpoint whose
//!   images are garbage, and a file that is no checkpoint. Checked: mounting opens nothing (the
//!   table says `not opened` for all, also after `ls -l`); the names (`<ns>_<pod>_<container>_<time>`
//!   from the metadata, else the file name); `grep -r -l SECRETD-GLOBAL-` (secretd's markers) over the whole mount finds
//!   exactly what the same grep finds in a mount of each checkpoint alone, under the checkpoint's
//!   directory, and reports the broken one as an I/O error (nothing else on stderr); the table
//!   then says `opened` with sizes, and `error: ...` for the broken one (`tar -c` of the mount
//!   meanwhile archives the table it sized); a checkpoint added to the
//!   directory appears at the next listing and is served; a removed one disappears.
//! - `first_access_opens_one`: reading one file of one checkpoint opens that one only.
//! - `every_member_is_its_single_mount`: every fixture that mounts, in one directory: each
//!   member's subtree equals a mount of the same input alone (`find -printf` of type, size, mode,
//!   owner, time and link target, and the SHA-256 of every regular file; `checkpoint/info.json`
//!   apart from the cache copy's path; the top directory apart from its time), and both agree with the ground truth (`check-mount.py` gives
//!   the same report on both; the markers the checkpoint holds in `rootfs/` and in memory are
//!   found there by `grep -r`).
//! - `case_folders`: checkpoints in case folders below the directory (beside notes), found and
//!   named by their path, each member's subtree equal to its mount alone.
//! - `mountpoint_inside_the_directory`: the mount point (and a link to it) in the directory.
//! - `progress_on_the_mount_terminal`: the daemon draws a decompression's progress on the terminal
//!   it was mounted from, at the first access.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ckptfs::writer::{K8sArchive, K8sContainer};
use common::truth::CASES;
use common::{Mount, TempDir, fixtures, have_fuse, run, run_timeout};

/// The fixtures' images of `case` (an extracted copy for the Podman archive).
fn images(fx: &Path, case: &str, staging: &TempDir) -> PathBuf {
    if case == "podman-busybox" {
        let root = staging.join("podman-busybox-extracted");
        if !root.exists() {
            common::archive::extract(&fx.join(case).join("checkpoint.tar.gz"), &root);
        }
        return root.join("checkpoint");
    }
    let input = CASES.iter().find(|c| c.0 == case).unwrap().1;
    fx.join(case).join(input)
}

/// `images` as a runtime's archive named as the kubelet names it, in `dir`.
fn kube_archive(images: &Path, crio: bool, ns: &str, pod: &str, ctr: &str, dir: &Path) -> PathBuf {
    let mut a = K8sArchive::new(K8sContainer::new(ns, pod, ctr));
    a.images_from = Some(images.to_path_buf());
    a.log = b"2026-11-28T10:00:01Z stdout F hello\n".to_vec();
    common::writer::kube_archive_in(dir, a, crio)
}

/// The lines of `MNT/checkpoints` as (name, state) pairs (the state is `not opened`, `opened`
/// or `error: ...`).
fn table(m: &Mount) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(m.join("checkpoints")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let state_col = header.find("STATE").expect("STATE column");
    let source_col = header.find("SOURCE").expect("SOURCE column");
    lines
        .skip(1)
        .map(|l| {
            let name = l.split("   ").next().unwrap().trim().to_string();
            let state = l
                .get(state_col..source_col)
                .unwrap_or("")
                .trim()
                .to_string();
            (name, state)
        })
        .collect()
}

/// `grep -r -l PATTERN DIR` (bounded): the files named, relative to `dir`, sorted; and stderr.
fn grep_files(dir: &Path, pattern: &str) -> (Vec<String>, String, Option<i32>) {
    let dir = dir.to_str().unwrap().trim_end_matches('/');
    let o = run(&["timeout", "120", "grep", "-r", "-l", pattern, dir]);
    let prefix = format!("{dir}/");
    let mut files: Vec<String> = o
        .stdout_text()
        .lines()
        .map(|l| l.strip_prefix(&prefix).unwrap_or(l).to_string())
        .collect();
    files.sort();
    (files, o.stderr_text(), o.code)
}

const NS: &str = "prod";
const TIME: &str = "2026-11-28T10:05:00Z";

struct Dir {
    _staging: TempDir,
    dir: PathBuf,
    /// (name in the mount, the checkpoint alone) of every good checkpoint.
    members: Vec<(String, PathBuf)>,
    broken: String,
}

/// The directory of mixed checkpoints (see the module doc).
fn mixed(fx: &Path) -> Dir {
    let staging = TempDir::new("many");
    let dir = staging.join("checkpoints");
    std::fs::create_dir_all(&dir).unwrap();
    let mut members = Vec::new();
    for (case, name) in [
        ("podman-busybox", "busybox-export.tar.gz"),
        ("podman-kitchen", "kitchen-export.tar.gz"),
    ] {
        let src = fx.join(case).join("checkpoint.tar.gz");
        std::fs::copy(&src, dir.join(name)).unwrap();
        members.push((name.to_string(), src));
    }
    let plain = images(fx, "secretd-plain", &staging);
    std::os::unix::fs::symlink(&plain, dir.join("secretd-plain")).unwrap();
    members.push(("secretd-plain".into(), plain.clone()));
    for (case, crio) in [
        ("secretd-shm", false),
        ("secretd-plain", true),
        ("podman-busybox", false),
    ] {
        let runtime = if crio { "crio" } else { "containerd" };
        let pod = format!("{case}-{runtime}");
        let a = kube_archive(&images(fx, case, &staging), crio, NS, &pod, case, &dir);
        members.push((format!("{NS}_{pod}_{case}_{TIME}"), a));
    }
    // Metadata that names it, images that are garbage: listed, fails when opened.
    let broken = dir.join("broken-dump");
    std::fs::create_dir_all(broken.join("checkpoint")).unwrap();
    std::fs::write(broken.join("checkpoint/inventory.img"), b"\x01\x02garbage").unwrap();
    std::fs::write(broken.join("checkpoint/pstree.img"), b"\x01\x02garbage").unwrap();
    std::fs::write(
        broken.join("spec.dump"),
        br#"{"annotations":{"io.kubernetes.cri.sandbox-namespace":"prod","io.kubernetes.cri.sandbox-name":"bad","io.kubernetes.cri.container-name":"x"}}"#,
    )
    .unwrap();
    std::fs::write(
        broken.join("config.dump"),
        br#"{"checkpointedTime":"2026-11-28T11:00:00Z"}"#,
    )
    .unwrap();
    std::fs::write(dir.join("README.txt"), b"not a checkpoint\n").unwrap();
    Dir {
        _staging: staging,
        dir,
        members,
        broken: "prod_bad_x_2026-11-28T11:00:00Z".into(),
    }
}

#[test]
fn directory_of_mixed_checkpoints() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let d = mixed(&fx);
    let m = Mount::new(&d.dir);
    let mut want: Vec<String> = d.members.iter().map(|(n, _)| n.clone()).collect();
    want.push(d.broken.clone());
    want.sort();

    // Listed (ls -l stats every entry) without opening anything.
    let mut listed = common::ls(&m.p(""));
    listed.sort();
    let mut expected = want.clone();
    expected.push("checkpoints".into());
    expected.sort();
    assert_eq!(
        listed, expected,
        "README.txt skipped, every checkpoint named"
    );
    assert!(run(&["ls", "-l", &m.p("")]).ok());
    let t = table(&m);
    assert_eq!(
        t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        want,
        "the table lists the same checkpoints in the same order"
    );
    for (n, s) in &t {
        assert_eq!(s, "not opened", "{n} was opened by listing the mount");
    }

    // tar sizes each file first: the table it archives is the one it sized, even as tar's own
    // reads open the checkpoints and change their rows.
    let archive = d._staging.join("all.tar");
    let o = run(&[
        "timeout",
        "300",
        "tar",
        "-cf",
        archive.to_str().unwrap(),
        "-C",
        m.p("").as_str(),
        ".",
    ]);
    assert!(
        // (tar writes the broken one's name with its colons escaped)
        o.stderr_text()
            .lines()
            .all(|l| l.contains("prod_bad_x_") || l.contains("Exiting with failure status")),
        "tar: {o}"
    );
    let listed = run(&["tar", "-tf", archive.to_str().unwrap()]).stdout_text();
    assert!(listed.lines().any(|l| l == "./checkpoints"), "{listed}");

    // grep -r over everything: the hits of each checkpoint mounted alone, under its directory.
    let (hits, err, code) = grep_files(&m.join(""), "SECRETD-GLOBAL-");
    let mut expected_hits = Vec::new();
    for (name, alone) in &d.members {
        let one = Mount::new(alone);
        let (h, e, _) = grep_files(&one.join(""), "SECRETD-GLOBAL-");
        assert!(e.is_empty(), "{name} alone: {e}");
        expected_hits.extend(h.into_iter().map(|f| format!("{name}/{f}")));
    }
    expected_hits.sort();
    assert!(
        expected_hits.len() >= 3,
        "the marker is in three checkpoints: {expected_hits:?}"
    );
    assert_eq!(hits, expected_hits);
    for h in &hits {
        let parts: Vec<&str> = h.split('/').collect();
        assert!(
            parts.len() == 4 && parts[1].parse::<u32>().is_ok() && parts[2] == "memory",
            "a hit names checkpoint, PID and mapping: {h}"
        );
    }
    // The broken checkpoint is an error grep reports; nothing else is.
    assert_eq!(
        code,
        Some(2),
        "grep exit code with one unreadable checkpoint"
    );
    let errs: Vec<&str> = err.lines().collect();
    assert!(
        !errs.is_empty() && errs.iter().all(|l| l.contains(&d.broken)),
        "grep's errors: {err}"
    );

    // The table a reader sized is kept for a quarter of a second; then it shows the news.
    std::thread::sleep(Duration::from_millis(300));
    let t = table(&m);
    for (n, s) in &t {
        if *n == d.broken {
            assert!(s.starts_with("error: "), "{n}: {s}");
        } else {
            assert_eq!(s, "opened", "{n}");
        }
    }
    let text = std::fs::read_to_string(m.join("checkpoints")).unwrap();
    let busy = text
        .lines()
        .find(|l| l.starts_with("busybox-export.tar.gz "))
        .unwrap();
    assert!(
        busy.contains("fx-busybox") && busy.contains("KiB"),
        "sizes once opened: {busy}"
    );
    // Podman 4 writes no checkpointedTime: once opened, the time its tree shows (when CRIU wrote
    // inventory.img), the one `ls -l` gives.
    let shown = std::fs::metadata(m.join("busybox-export.tar.gz/pstree"))
        .and_then(|md| md.modified())
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let shown = ckptfs::format::time::rfc3339(shown as i64);
    assert!(busy.contains(&format!(" {shown} ")), "{shown}: {busy}");

    // Added later: listed at the next listing, and served; removed: gone.
    let extra = fx.join("secretd-shm").join("images");
    std::os::unix::fs::symlink(&extra, d.dir.join("late-shm")).unwrap();
    assert!(common::ls(&m.p("")).contains(&"late-shm".to_string()));
    assert!(std::fs::read(m.join("late-shm/pstree")).is_ok_and(|p| !p.is_empty()));
    std::fs::remove_file(d.dir.join("late-shm")).unwrap();
    std::fs::remove_file(d.dir.join("busybox-export.tar.gz")).unwrap();
    let now = common::ls(&m.p(""));
    assert!(
        !now.contains(&"late-shm".to_string())
            && !now.contains(&"busybox-export.tar.gz".to_string()),
        "{now:?}"
    );
    // Past the root entries' cache time, a lookup by name fails too.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!m.join("late-shm").exists());
    assert!(!m.join("busybox-export.tar.gz/pstree").exists());
    assert!(table(&m).iter().all(|(n, _)| n != "late-shm"));
}

#[test]
fn first_access_opens_one() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let d = mixed(&fx);
    let m = Mount::new(&d.dir);
    let one = format!("{NS}_secretd-shm-containerd_secretd-shm_{TIME}");
    let pstree = std::fs::read_to_string(m.join(format!("{one}/pstree"))).unwrap();
    assert!(pstree.contains("secretd"), "{pstree}");
    for (n, s) in table(&m) {
        let want = if n == one { "opened" } else { "not opened" };
        assert_eq!(s, want, "{n}");
    }
    // The checkpoint's own files as a mount of it alone shows them.
    let alone = Mount::new(&d.members.iter().find(|(n, _)| *n == one).unwrap().1);
    for f in ["pstree", "checkpoint/container.log", "checkpoint/summary"] {
        assert_eq!(
            std::fs::read(m.join(format!("{one}/{f}"))).unwrap(),
            std::fs::read(alone.join(f)).unwrap(),
            "{f}"
        );
    }
}

/// A folder of cases, as evidence is often kept: each checkpoint in its own case folder beside
/// notes (one as `case-a/checkpoint.tar.gz`, one as `case-b/host-1/images/`), a README at the
/// top. Each is found, named by its path from the mounted folder, its SOURCE that path, and its
/// subtree equals a mount of it alone; the notes and the README are no members.
#[test]
fn case_folders() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let staging = TempDir::new("case-folders");
    let dir = staging.join("cases");
    std::fs::create_dir_all(dir.join("case-a")).unwrap();
    std::fs::create_dir_all(dir.join("case-b/host-1")).unwrap();
    std::fs::write(dir.join("README.md"), "# cases\n").unwrap();
    std::fs::write(dir.join("case-a/notes.txt"), "seized 10:02\n").unwrap();
    let busybox = fx.join("podman-busybox/checkpoint.tar.gz");
    let plain = fx.join("secretd-plain/images");
    std::os::unix::fs::symlink(&busybox, dir.join("case-a/checkpoint.tar.gz")).unwrap();
    std::os::unix::fs::symlink(&plain, dir.join("case-b/host-1/images")).unwrap();
    let all = Mount::new(&dir);
    let names: Vec<String> = table(&all).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["case-a_checkpoint.tar.gz", "case-b_host-1_images"],
        "{}",
        std::fs::read_to_string(all.join("checkpoints")).unwrap()
    );
    let text = std::fs::read_to_string(all.join("checkpoints")).unwrap();
    for source in ["case-a/checkpoint.tar.gz", "case-b/host-1/images"] {
        assert!(
            text.lines().any(|l| l.ends_with(&format!("   {source}"))),
            "{source}: {text}"
        );
    }
    for (name, input) in [
        ("case-a_checkpoint.tar.gz", &busybox),
        ("case-b_host-1_images", &plain),
    ] {
        let alone = Mount::new(input);
        let (a, m) = (subtree(&alone.mnt), subtree(&all.join(name)));
        assert!(
            !a.is_empty() && a == m,
            "{name}: differs from its mount alone"
        );
    }
}

/// A CRIU pre-dump is not a member (it has no process tree; its pages are read through the dump
/// whose `parent` link leads to it), at the top or below: the listing holds the dump only and a
/// `grep -r` over the mount meets no unreadable entry.
#[test]
fn pre_dumps_are_not_members() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let staging = TempDir::new("pre-dumps");
    let dir = staging.join("cases");
    std::fs::create_dir_all(&dir).unwrap();
    let images = fx.join("secretd-incremental/images");
    std::os::unix::fs::symlink(&images, dir.join("inc")).unwrap();
    std::os::unix::fs::symlink(images.join("pre"), dir.join("pre")).unwrap();
    let all = Mount::new(&dir);
    let names: Vec<String> = table(&all).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["inc_dump"]);
    let out = std::process::Command::new("grep")
        .args(["-r", "-l", "NO-SUCH-STRING-ANYWHERE"])
        .arg(&all.mnt)
        .output()
        .unwrap();
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).as_ref()
        ),
        (Some(1), "")
    );
}

/// The mount point inside the directory it shows, and a link in that directory back to the mount:
/// neither is taken for a checkpoint (describing it would go through the mount itself), the
/// mount lists and greps as usual, nothing hangs.
#[test]
fn mountpoint_inside_the_directory() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let staging = TempDir::new("many-inside");
    let dir = staging.join("checkpoints");
    std::fs::create_dir_all(dir.join("mnt")).unwrap();
    std::os::unix::fs::symlink(dir.join("mnt"), dir.join("loop")).unwrap();
    let plain = fx.join("secretd-plain/images");
    std::os::unix::fs::symlink(&plain, dir.join("secretd-plain")).unwrap();
    let mnt = dir.join("mnt");
    let out = common::mount_at(
        60,
        &dir,
        &mnt,
        &["--cache-dir", staging.join("cache").to_str().unwrap()],
    );
    assert!(out.ok() && common::is_mounted(&mnt), "{out}");
    let o = common::run_timeout(30, &["ls", mnt.to_str().unwrap()]);
    assert!(o.ok(), "{o}");
    assert_eq!(o.stdout_text(), "checkpoints\nsecretd-plain\n");
    let o = common::run_timeout(
        60,
        &[
            "grep",
            "-r",
            "-l",
            "SECRETD-GLOBAL-A1",
            mnt.to_str().unwrap(),
        ],
    );
    assert_eq!(o.code, Some(0), "{o}");
    assert_eq!(o.stdout_text().lines().count(), 2, "{o}");
    common::force_unmount(&mnt);
}

/// Mounted from a terminal (`script` gives the command one), the daemon keeps the terminal as its
/// stderr: the first access to a compressed checkpoint draws the decompression's progress there,
/// after the mount command has returned.
#[test]
fn progress_on_the_mount_terminal() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() || !common::have_tool("script", "apt-get install bsdutils") {
        return;
    }
    let staging = TempDir::new("many-tty");
    let dir = staging.join("checkpoints");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        fx.join("podman-busybox/checkpoint.tar.gz"),
        dir.join("busybox.tar.gz"),
    )
    .unwrap();
    let mnt = staging.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let typescript = staging.join("typescript");
    let cmd = format!(
        "{} mount {} {} --cache-dir {} && sleep 30",
        common::ckptfs(),
        dir.display(),
        mnt.display(),
        staging.join("cache").display()
    );
    let mut script = std::process::Command::new("script")
        .args(["-q", "-f", "-e", "-c", &cmd])
        .arg(&typescript)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("the mount", 60, || common::is_mounted(&mnt));
    let before = std::fs::read_to_string(&typescript).unwrap_or_default();
    assert!(!before.contains("decompressing"), "{before}");
    let pstree = std::fs::read_to_string(mnt.join("busybox.tar.gz/pstree")).unwrap();
    assert!(
        pstree.contains("busybox") || pstree.contains("sh"),
        "{pstree}"
    );
    common::wait_until("the progress on the terminal", 10, || {
        std::fs::read_to_string(&typescript)
            .unwrap_or_default()
            .contains("decompressing busybox.tar.gz")
    });
    common::force_unmount(&mnt);
    let _ = script.kill();
    let _ = script.wait();
}

/// One fixture as a member of the directory: its name there, its input (under the fixtures), its
/// ground truth, and markers `grep -r` must find in the member's `rootfs/` and in its
/// `PID/memory/` files.
struct Case {
    name: &'static str,
    input: &'static str,
    truth: &'static str,
    in_rootfs: &'static [&'static str],
    in_memory: &'static [&'static str],
}

const EVERY_FIXTURE: &[Case] = &[
    Case {
        name: "busybox.tar.gz",
        input: "podman-busybox/checkpoint.tar.gz",
        truth: "podman-busybox/ground-truth.json",
        in_rootfs: &["PODBB-ROOTFS-DIFF-FILE-MARKER"],
        in_memory: &["PODBB-SHELL-VAR-MARKER-77e1"],
    },
    Case {
        name: "kitchen.tar.gz",
        input: "podman-kitchen/checkpoint.tar.gz",
        truth: "podman-kitchen/ground-truth.json",
        // The /dev/shm file and its MAP_SHARED mapping (content only in devshm-checkpoint.tar).
        in_rootfs: &["KITCHEN-DEVSHM-s1"],
        in_memory: &["KITCHEN-DEVSHM-s1"],
    },
    Case {
        name: "redis.tar.zst",
        input: "podman-redis/checkpoint.tar.zst",
        truth: "podman-redis/ground-truth.json",
        in_rootfs: &["REDISFX-s4-NOTE-FILE-4b7a"],
        in_memory: &["REDISFX-s4-PASS-Zq8wLm2vN4"],
    },
    Case {
        name: "redis2.tar.gz",
        input: "podman-redis/checkpoint2.tar.gz",
        truth: "podman-redis/ground-truth2.json",
        in_rootfs: &["REDISFX-s4-SECOND-NOTE-FILE-8e21"],
        in_memory: &["REDISFX-s4-SECOND-VALUE-91d3e0"],
    },
    Case {
        name: "implant.tar.gz",
        input: "podman-implant/checkpoint.tar.gz",
        truth: "podman-implant/ground-truth.json",
        in_rootfs: &["IMPLANT-LIBX-PRELOAD-s2"],
        in_memory: &["IMPLANT-RWX-SHELLCODE-s2"],
    },
    Case {
        name: "secretd-plain",
        input: "secretd-plain/images",
        truth: "secretd-plain/ground-truth.json",
        in_rootfs: &[],
        in_memory: &["SECRETD-GLOBAL-"],
    },
    Case {
        name: "secretd-incremental",
        input: "secretd-incremental/images/dump",
        truth: "secretd-incremental/ground-truth.json",
        in_rootfs: &[],
        in_memory: &["SECRETD-GLOBAL-"],
    },
    Case {
        name: "secretd-shm",
        input: "secretd-shm/images",
        truth: "secretd-shm/ground-truth.json",
        in_rootfs: &[],
        in_memory: &["SECRETD-GLOBAL-"],
    },
];

/// Read at most this much of a regular file that reports size 0 (a procfs-style file sized by
/// its reads): enough to tell two trees apart, bounded whatever it holds.
const UNSIZED_CAP: u64 = 16 << 20;

/// The SHA-256 of `path`'s bytes (streamed; at most [`UNSIZED_CAP`] when it reports size 0).
fn file_sha256(path: &Path, size: u64) -> String {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r: Box<dyn Read> = if size == 0 {
        Box::new(f.take(UNSIZED_CAP))
    } else {
        Box::new(f)
    };
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) => {
                // An unreadable file is part of what is compared: both must fail alike.
                h.update(format!("error: {:?}", e.raw_os_error()).as_bytes());
                break;
            }
        }
    }
    common::hex(&h.finalize())
}

/// The subtree at `top` without following links: one line per entry (`find -printf` of path,
/// type, size, mode, owner, group, modification time, link target), each regular file's line
/// followed by its SHA-256. `checkpoint/info.json` is left out (it names the decompressed copy in
/// the mount's own cache), and so is the time of `top` itself (a member's top directory has its
/// file's).
fn subtree(top: &Path) -> Vec<String> {
    let o = run_timeout(
        300,
        &[
            "find",
            top.to_str().unwrap(),
            "-printf",
            "%P\\0%y\\0%s\\0%m\\0%U\\0%G\\0%T@\\0%l\\n",
        ],
    );
    assert!(o.ok(), "find {}: {o}", top.display());
    let mut lines = Vec::new();
    for l in o.stdout_text().lines() {
        let f: Vec<&str> = l.split('\0').collect();
        assert_eq!(f.len(), 8, "{l:?}");
        if f[0] == "checkpoint/info.json" {
            continue;
        }
        let mut f = f;
        if f[0].is_empty() {
            f[6] = "-";
        }
        let mut line = f.join(" ");
        if f[1] == "f" {
            let size: u64 = f[2].parse().unwrap();
            line.push_str(" sha256=");
            line.push_str(&file_sha256(&top.join(f[0]), size));
        }
        lines.push(line);
    }
    lines
}

/// `checkpoint/info.json` under `top`, without the path of the input's decompressed copy (each
/// mount here has its own cache directory). The input's path stays: a member is named by its
/// real path, as a mount of it alone is.
fn info_without_cache_path(top: &Path) -> serde_json::Value {
    let text = std::fs::read(top.join("checkpoint/info.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let source = v.get_mut("source").and_then(|s| s.as_object_mut());
    source.expect("info.json has a source").remove("cache_path");
    v
}

/// `check-mount.py TOP TRUTH`: its report (failures, then `passed/total`) and exit code.
fn ground_truth_report(fx: &Path, top: &Path, truth: &Path) -> (String, Option<i32>) {
    let tool = fx.join("../tools/check-mount.py");
    let o = run_timeout(
        300,
        &[
            "python3",
            tool.to_str().unwrap(),
            top.to_str().unwrap(),
            truth.to_str().unwrap(),
        ],
    );
    (format!("{}{}", o.stderr_text(), o.stdout_text()), o.code)
}

/// The files `grep -r -l -a -F marker` finds in `paths`, then its error lines (paths relative to
/// `top`).
fn grep_hits(top: &Path, marker: &str, paths: &[PathBuf]) -> Vec<String> {
    if paths.is_empty() {
        return Vec::new();
    }
    let mut args: Vec<String> = ["grep", "-r", "-l", "-a", "-F", "--", marker]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(paths.iter().map(|p| p.to_string_lossy().into_owned()));
    let o = run_timeout(300, &args);
    // 2: some file could not be read; what grep says about it is compared too.
    assert!(matches!(o.code, Some(0..=2)), "grep: {o}");
    let prefix = format!("{}/", top.display());
    o.stdout_text()
        .lines()
        .chain(o.stderr_text().lines())
        .map(|l| l.replace(&prefix, ""))
        .collect()
}

/// Where the markers of `c` are found under `top` (a mount of it, alone or as a member): the
/// files holding each `rootfs/` marker and each memory marker (`missing: ...` for one not found).
fn markers_found(top: &Path, c: &Case) -> Vec<String> {
    let mut found = Vec::new();
    for mk in c.in_rootfs {
        let hits = grep_hits(top, mk, &[top.join("rootfs")]);
        if hits.is_empty() {
            found.push(format!("missing: {mk} in rootfs/"));
        }
        found.extend(hits);
    }
    let memory: Vec<PathBuf> = std::fs::read_dir(top)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .map(|e| e.path().join("memory"))
        .collect();
    for mk in c.in_memory {
        let hits = grep_hits(top, mk, &memory);
        if hits.is_empty() {
            found.push(format!("missing: {mk} in PID/memory/"));
        }
        found.extend(hits);
    }
    found
}

#[test]
fn every_member_is_its_single_mount() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() || !common::have_tool("python3", "apt-get install python3") {
        return;
    }
    let staging = TempDir::new("dirmount");
    let dir = staging.join("checkpoints");
    std::fs::create_dir_all(&dir).unwrap();
    for c in EVERY_FIXTURE {
        let input = fx.join(c.input);
        assert!(input.exists(), "{} missing", input.display());
        std::os::unix::fs::symlink(&input, dir.join(c.name)).unwrap();
    }
    let all = Mount::new(&dir);
    let listed = common::ls(&all.p(""));
    let mut failures = Vec::new();
    for c in EVERY_FIXTURE {
        assert!(
            listed.contains(&c.name.to_string()),
            "{}: {listed:?}",
            c.name
        );
        let member = all.join(c.name);
        let alone = Mount::new(&fx.join(c.input));
        let (a, m) = (subtree(&alone.mnt), subtree(&member));
        if a != m {
            let (sa, sm): (BTreeSet<&String>, BTreeSet<&String>) =
                (a.iter().collect(), m.iter().collect());
            let only_alone: Vec<_> = sa.difference(&sm).take(8).collect();
            let only_member: Vec<_> = sm.difference(&sa).take(8).collect();
            failures.push(format!(
                "{}: {} entries alone, {} as a member; only alone: {only_alone:#?}; only as a \
                 member: {only_member:#?}",
                c.name,
                a.len(),
                m.len()
            ));
        }
        if info_without_cache_path(&alone.mnt) != info_without_cache_path(&member) {
            failures.push(format!("{}: checkpoint/info.json differs", c.name));
        }
        let truth = fx.join(c.truth);
        let (ra, ca) = ground_truth_report(&fx, &alone.mnt, &truth);
        let (rm, cm) = ground_truth_report(&fx, &member, &truth);
        eprintln!("{}: check-mount.py alone: {}", c.name, ra.trim());
        if (ra.as_str(), ca) != (rm.as_str(), cm) {
            failures.push(format!(
                "{}: check-mount.py alone ({ca:?}):\n{ra}as a member ({cm:?}):\n{rm}",
                c.name
            ));
        }
        let (fa, fm) = (markers_found(&alone.mnt, c), markers_found(&member, c));
        if fa != fm || fa.iter().any(|h| h.starts_with("missing: ")) {
            failures.push(format!(
                "{}: markers alone {fa:?}, as a member {fm:?}",
                c.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
