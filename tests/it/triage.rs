//! `MNT/triage` on the real fixtures and on a synthetic checkpoint with one of everything, read
//! with `cat` through a real mount. (Each rule's positive and negative cases are unit-tested in
//! src/render/triage.rs.)

use std::path::Path;

use crate::common;

use ckptfs::writer::{CheckpointWriter, Compression, File, Layout, Vma};
use common::{Mount, TempDir, cat, fixtures};

fn triage(m: &Mount) -> String {
    String::from_utf8(cat(&m.p("triage"))).expect("triage is UTF-8")
}

fn finding_lines(t: &str) -> Vec<&str> {
    t.lines().filter(|l| l.starts_with("PID ")).collect()
}

fn has(t: &str, prefix: &str) -> bool {
    t.lines().any(|l| l.starts_with(prefix))
}

#[test]
fn podman_busybox_shell_and_listener() {
    let Some(fx) = fixtures() else { return };
    let m = Mount::new(&fx.join("podman-busybox/checkpoint.tar.gz"));
    let t = triage(&m);
    eprintln!("{t}");
    assert!(t.starts_with("# ckptfs triage: "), "{t}");
    assert!(
        has(&t, "PID 1 - shell: [weak] sh is a shell: /bin/sh -c "),
        "{t}"
    );
    // busybox httpd binds the IPv6 wildcard (dual stack): 0.0.0.0:8080 from inside the netns.
    assert!(has(&t, "PID 6 [::]:8080 tcp-listen: [weak] "), "{t}");
    // httpd and sleep run from the busybox multi-call binary: no exe/argv[0] mismatch; no
    // executable anonymous memory in a static busybox; no shell finding for httpd / sleep.
    assert!(!t.contains("exe-mismatch"), "{t}");
    assert!(!t.contains("-anon"), "{t}");
    assert!(
        !has(&t, "PID 6 - shell") && !has(&t, "PID 7 - shell"),
        "{t}"
    );
    // The environment's planted credentials: one finding per variable, with every
    // process that inherited it.
    // Their values are quoted redacted (first 4 and last 2 characters, the length).
    for var in [
        "POSTGRES_PASSWORD=PODB...ed (28 chars)",
        "APP_TOKEN=PODB...1d (20 chars)",
    ] {
        let name = var.split('=').next().unwrap();
        assert!(
            has(
                &t,
                &format!(
                    "PID 1 {name} env-credential: [weak] credential-looking variable in environ of PIDs 1, 6, 7: {var}"
                )
            ),
            "{t}"
        );
    }
    assert_eq!(finding_lines(&t).len(), 4, "{t}");
}

#[test]
fn secretd_listener_and_memfd() {
    let Some(fx) = fixtures() else { return };
    let m = Mount::new(&fx.join("secretd-shm/images"));
    let t = triage(&m);
    eprintln!("{t}");
    // READY ... port=42441; both processes hold the listener (the child inherited it).
    for pid in [8410, 8414] {
        assert!(
            has(
                &t,
                &format!("PID {pid} 127.0.0.1:42441 tcp-listen: [weak] listening TCP socket (fd 4")
            ),
            "{t}"
        );
        assert!(
            has(
                &t,
                &format!(
                    "PID {pid} 5ec200000000-5ec200010000 memfd: [weak] mapping of /memfd:secretd-memfd rw-s"
                )
            ),
            "{t}"
        );
    }
    // MAP_SHARED|MAP_ANONYMOUS (`/dev/zero (deleted)`) is not a file: not flagged.
    assert!(!t.contains("5ec100000000"), "{t}");
    assert!(!t.contains("shell") && !t.contains("exe-mismatch"), "{t}");

    let m = Mount::new(&fx.join("secretd-plain/images"));
    let t = triage(&m);
    assert!(
        has(&t, "PID 8259 127.0.0.1:43285 tcp-listen: [weak] "),
        "{t}"
    );
    assert!(!t.contains("memfd"), "{t}");
}

#[test]
fn synthetic_everything_mounted() {
    let dir = TempDir::new("triage-syn");
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("sh")
        .cmdline(&["/bin/sh", "/entrypoint.sh"])
        .environ(&["PATH=/bin", "LD_PRELOAD=/dev/shm/.l.so"])
        .exe("/bin/dash")
        .fd(
            3,
            File::tcp_established([10, 0, 0, 5], 51000, [203, 0, 113, 9], 4444),
        );
    w.process(20, 1)
        .comm("kworker/0:1")
        .cmdline(&["[kworker/0:1]"])
        .environ(&["HOME=/"])
        .exe("/tmp/.x/miner")
        .vma(Vma::anon(0x7f12_a000, 0x2000).rwx())
        .pages(0x7f12_a000, b"\x90\x90\xcc")
        .vma(Vma::memfd(0x5ec2_0000_0000, 0x1000, "stage2", 5).rx())
        .fd(4, File::tcp_listen(31337));
    w.process(30, 1)
        .comm("app")
        .cmdline(&["/usr/bin/app"])
        .environ(&["HOME=/"])
        .exe("/usr/bin/app")
        .vma(Vma::vdso(0x7fff_f000_0000, 0x2000));
    let tar = dir.join("x.tar.zst");
    w.write_tar(&tar, &Layout::podman("evil"), Compression::Zstd)
        .unwrap();
    let m = Mount::new(&tar);
    let t = triage(&m);
    eprintln!("{t}");
    for want in [
        "PID 1 - shell: [weak] sh is a shell: /bin/sh /entrypoint.sh",
        "PID 20 - exe-mismatch: [weak] exe is /tmp/.x/miner but argv[0] is \"[kworker/0:1]\"",
        "PID 20 - kthread-name: [strong] user-space process named like a kernel thread: comm \"kworker/0:1\"",
        "PID 1 10.0.0.5:51000->203.0.113.9:4444 c2-connection: [strong] established TCP connection (fd 3, socket:[",
        "PID 20 7f12a000-7f12c000 rwx-anon: [strong] writable and executable anonymous mapping rwxp",
        "PID 20 5ec200000000-5ec200001000 exec-memfd: [strong] executable mapping of /memfd:stage2 r-xs",
        "PID 20 0.0.0.0:31337 tcp-listen: [weak] ",
        "PID 1 10.0.0.5:51000->203.0.113.9:4444 tcp-established: [weak] ",
    ] {
        assert!(has(&t, want), "missing {want:?} in:\n{t}");
    }
    let ld = t
        .lines()
        .find(|l| l.contains(" ld-env: "))
        .unwrap_or_else(|| panic!("no ld-env line:\n{t}"));
    assert!(
        ld.starts_with("PID 1 ") && ld.ends_with("LD_PRELOAD=/dev/shm/.l.so"),
        "{ld}"
    );
    // The address given is where the string is: read it back from PID/mem with dd.
    let addr = u64::from_str_radix(ld.split(' ').nth(2).unwrap(), 16).unwrap();
    assert_eq!(common::dd(&m.p("1/mem"), addr, 10), b"LD_PRELOAD");
    // Nothing about the clean process (its vdso included); /bin/sh run as dash is benign.
    assert!(!t.contains("PID 30 "), "{t}");
    assert!(!has(&t, "PID 1 - exe-mismatch"), "{t}");
    let n = finding_lines(&t).len();
    assert_eq!(n, 9, "{t}");
    assert!(
        t.starts_with(&format!("# ckptfs triage: {n} findings")),
        "{t}"
    );
}

/// A library and the executable unlinked while mapped, as CRIU records it (`remap-fpath.img`,
/// LINKED remaps): `exec-deleted` for the library's code, `deleted-file` for its data,
/// `exe-deleted` for the process's executable.
#[test]
fn deleted_library_via_remap_fpath() {
    use ckptfs::image::magic;
    use ckptfs::model::ghost::RemapFilePathEntry;
    use ckptfs::model::load::load;
    use ckptfs::source::{OpenOptions, open};

    let dir = TempDir::new("triage-del");
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("app")
        .cmdline(&["/usr/bin/app"])
        .environ(&["HOME=/"])
        .exe("/usr/bin/app")
        .file_vma(0x7f00_0000_0000, 0x1000, "/usr/lib/libevil.so", 0, 5)
        .file_vma(0x7f00_0000_1000, 0x1000, "/usr/lib/libevil.so", 0x1000, 1)
        .file_vma(0x7f00_0000_2000, 0x1000, "/usr/lib/libc.so.6", 0, 5);
    // The writer's file ids: load once, then mark two of them unlinked.
    let first = dir.join("first");
    w.write_dir(&first).unwrap();
    let opts = OpenOptions {
        cache_dir: Some(dir.join("cache")),
        ..Default::default()
    };
    let ck = load(open(&first, &opts).unwrap()).unwrap();
    let id_of = |path: &str| {
        *ck.files
            .iter()
            .find(|(_, f)| f.path() == Some(path))
            .unwrap_or_else(|| panic!("{path} not in files.img"))
            .0
    };
    let remaps = [
        RemapFilePathEntry {
            orig_id: id_of("/usr/lib/libevil.so"),
            remap_id: 1000,
            remap_type: Some(0),
        },
        RemapFilePathEntry {
            orig_id: id_of("/usr/bin/app"),
            remap_id: 1001,
            remap_type: Some(0),
        },
    ];
    w.raw_file(
        "remap-fpath.img",
        &ckptfs::writer::encode_image(magic::REMAP_FPATH, &remaps),
    );
    let img = dir.join("img");
    w.write_dir(&img).unwrap();
    let m = Mount::new(&img);
    let t = triage(&m);
    eprintln!("{t}");
    for want in [
        "PID 1 - exe-deleted: [strong] the executable was deleted or is not a file: /usr/bin/app (deleted)",
        "PID 1 7f0000000000-7f0000001000 exec-deleted: [strong] executable mapping of a deleted file: /usr/lib/libevil.so r-xp",
        "PID 1 7f0000001000-7f0000002000 deleted-file: [weak] mapping of a deleted file: /usr/lib/libevil.so r--p",
    ] {
        assert!(has(&t, want), "missing {want:?} in:\n{t}");
    }
    assert!(!t.contains("libc.so.6"), "{t}");
    assert_eq!(finding_lines(&t).len(), 3, "{t}");
}

/// The implant fixture: each planted signal, with its evidence, through a real mount.
#[test]
fn podman_implant_signals() {
    let Some(fx) = fixtures() else { return };
    let ck = fx.join("podman-implant/checkpoint.tar.gz");
    let m = Mount::new(&ck);
    let t = triage(&m);
    eprintln!("{t}");
    for want in [
        "PID 11 - kthread-name: [strong] user-space process named like a kernel thread: comm \"kworker/0:1\", argv[0] \"[kworker/0:1]\"",
        "PID 12 - kthread-name: [strong] user-space process named like a kernel thread: comm \"memfd:kworker-p\", argv[0] \"[kworker/u4:2]\"",
        "PID 11 - exe-mismatch: [strong] exe is /tmp/.hidden/kworkerd but argv[0] is \"[kworker/0:1]\"; the exe is deleted",
        "PID 12 - exe-mismatch: [strong] exe is /memfd:kworker-payload but argv[0] is \"[kworker/u4:2]\"; the exe is a memfd",
        "PID 11 1d000000000-1d000001000 rwx-anon: [strong] ",
        "PID 12 400000-401000 exec-memfd: [strong] ",
        "PID 13 127.0.0.1:53678->127.0.0.1:4444 reverse-shell: [strong] shell sh with fds 0, 1, 2 on INETSK socket:[171036]; peer PID 6 fd 5 (c2-listener)",
        "PID 11 127.0.0.1:53676->127.0.0.1:4444 c2-connection: [strong] established TCP connection (fd 4, socket:[171032]) of a process that raised ",
        "PID 13 7ffef8e19f70 ld-env: [strong] loader variable in environ: LD_PRELOAD=/tmp/.hidden/libx.so",
        // libc is in the image, not in the checkpoint: the written page cannot be compared.
        "PID 11 7fa053e6a000-7fa053e6b000 exec-page-unverified: [weak] dumped executable page, file not available to compare: /usr/lib/x86_64-linux-gnu/libc.so.6 at file offset 0xe3000",
    ] {
        assert!(has(&t, want), "missing {want:?} in:\n{t}");
    }
    // The SSH key the attacker's shell appended (README: history entry 5, at 18:26:48; the file
    // is in rootfs-diff.tar, 101 bytes), once, with the key's comment.
    let keys: Vec<&str> = t
        .lines()
        .filter(|l| l.contains(" persistence-file: "))
        .collect();
    assert_eq!(
        keys,
        [
            "PID - /root/.ssh/authorized_keys persistence-file: [strong] /root/.ssh/authorized_keys is in the container's written files (rootfs-diff.tar, modified 2026-12-05T18:26:48Z, 101 bytes): an SSH authorized_keys file: each key in it logs in as its user; keys: IMPLANT-HIST-SSHKEY-s2"
        ],
        "{t}"
    );
    let c2 = t
        .lines()
        .find(|l| l.contains(" c2-connection: ") && l.starts_with("PID 11 "))
        .unwrap_or("");
    assert!(c2.ends_with("; peer PID 6 fd 4 (c2-listener)"), "{c2}");
    // CRIU's parasite page (one per process, equal to the file) is never reported; the listener
    // (no other signal) has no c2-connection.
    assert_eq!(t.matches("exec-page-unverified").count(), 1, "{t}");
    assert!(!t.contains("code-patched"), "{t}");
    assert!(
        !has(&t, "PID 6 127.0.0.1:4444->127.0.0.1:53676 c2-connection"),
        "{t}"
    );
    drop(m);

    // With the image's files, the page is compared: the two patched runs of getpid.
    let rootfs = fx.join("podman-implant/image-rootfs");
    let m = Mount::with_args(&ck, &["--rootfs", rootfs.to_str().unwrap()]).expect("mount --rootfs");
    let t = triage(&m);
    eprintln!("{t}");
    let patched: Vec<&str> = t
        .lines()
        .filter(|l| l.contains(" code-patched: "))
        .collect();
    assert_eq!(patched.len(), 1, "{t}");
    assert!(
        patched[0].starts_with(
            "PID 11 7fa053e6a000-7fa053e6b000 code-patched: [strong] executable page differs from /usr/lib/x86_64-linux-gnu/libc.so.6 at file offset 0xe3000 (file from --rootfs): 9 bytes in 2 runs: +0xb20 2 bytes (file offset 0xe3b20, getpid+0x0), +0xb25 7 bytes (file offset 0xe3b25, getpid+0x5); memory "
        ),
        "{}",
        patched[0]
    );
    assert!(!t.contains("exec-page-unverified"), "{t}");

    // The second, consecutive dump of the same frozen container (the checkpoint image): CRIU's
    // parasite pages differ from the first dump's, the finding is the same.
    let ckimg = fx.join("podman-implant/ckimg.oci.tar");
    let cache = TempDir::new("triage-ckimg");
    let o = common::run_ok(&[
        common::ckptfs(),
        "triage",
        "--cache-dir",
        cache.path().to_str().unwrap(),
        "--rootfs",
        rootfs.to_str().unwrap(),
        ckimg.to_str().unwrap(),
    ]);
    let t2 = o.stdout_text();
    let patched2: Vec<&str> = t2
        .lines()
        .filter(|l| l.contains(" code-patched: "))
        .collect();
    assert_eq!(patched2, patched, "{t2}");
    assert!(!t2.contains("exec-page-unverified"), "{t2}");
}

/// None of the implant signals fires on the fixtures that hold no implant (CRIU's parasite page
/// included), with or without the image's files.
#[test]
fn no_implant_signal_on_clean_fixtures() {
    let Some(fx) = fixtures() else { return };
    for ck in [
        "podman-busybox/checkpoint.tar.gz",
        "podman-kitchen/checkpoint.tar.gz",
        "podman-redis/checkpoint.tar.zst",
        "podman-redis/checkpoint2.tar.gz",
        "docker-redis/ctrfx-ck.oci.tar",
        "secretd-plain/images",
        "secretd-shm/images",
        "secretd-incremental/images/dump",
    ] {
        let m = Mount::new(&fx.join(ck));
        let t = triage(&m);
        for tag in [
            "code-patched",
            "exec-page-unverified",
            "reverse-shell",
            "c2-connection",
            "kthread-name",
            "ld-so-preload",
            "rwx-anon",
            "exe-deleted",
            "exec-deleted",
            "exe-memfd",
            "exec-memfd",
            "persistence-file",
        ] {
            assert!(!t.contains(&format!(" {tag}: ")), "{ck}: {tag} in:\n{t}");
        }
        // A SysV segment is not a deleted file (podman-kitchen maps one).
        assert!(!t.contains("/SYSV"), "{ck}:\n{t}");
    }
}

/// The redis fixtures' `redis-server -> redis-check-rdb` link lives in the image:
/// weak; the kitchen's deleted-but-open file and redis-cli's REDISCLI_AUTH are found.
#[test]
fn fixture_triage_rates_and_misses() {
    let Some(fx) = fixtures() else { return };
    let m = Mount::new(&fx.join("podman-redis/checkpoint.tar.zst"));
    let t = triage(&m);
    assert!(
        has(
            &t,
            "PID 7 - exe-mismatch: [weak] exe is /usr/bin/redis-check-rdb but argv[0] is \"redis-server 0.0.0.0:6379\""
        ),
        "{t}"
    );
    assert!(
        t.lines()
            .any(|l| l.contains(" REDISCLI_AUTH env-credential: [weak] ")
                && l.ends_with(": REDISCLI_AUTH=REDI...N4 (26 chars)")),
        "{t}"
    );
    drop(m);
    let m = Mount::new(&fx.join("podman-kitchen/checkpoint.tar.gz"));
    let t = triage(&m);
    assert!(
        has(
            &t,
            "PID 6 fd/8 fd-deleted: [weak] open descriptor of a deleted file: fd/8 -> /tmp/kitchen-ghost (deleted)"
        ),
        "{t}"
    );
}

/// `ckptfs triage` prints what the mount's `triage` file holds (with `--rootfs` too), as text,
/// JSON and JSON lines; a bad input is one error line, the others are still triaged (exit 2).
#[test]
fn triage_subcommand_without_a_mount() {
    let Some(fx) = fixtures() else { return };
    let ck = fx.join("podman-implant/checkpoint.tar.gz");
    let rootfs = fx.join("podman-implant/image-rootfs");
    let (ck, rootfs) = (ck.to_str().unwrap(), rootfs.to_str().unwrap());
    let cache = TempDir::new("triage-cmd");
    let cache_dir = cache.path().to_str().unwrap();
    let m = Mount::with_args(Path::new(ck), &["--rootfs", rootfs]).expect("mount --rootfs");
    let mounted = triage(&m);
    let o = common::run_ok(&[
        common::ckptfs(),
        "triage",
        "--cache-dir",
        cache_dir,
        "--rootfs",
        rootfs,
        ck,
    ]);
    assert_eq!(o.stdout_text(), mounted);
    assert!(mounted.contains(" code-patched: [strong] "), "{mounted}");

    let o = common::run_ok(&[
        common::ckptfs(),
        "triage",
        "--cache-dir",
        cache_dir,
        "--format",
        "jsonl",
        ck,
    ]);
    let lines: Vec<serde_json::Value> = o
        .stdout_text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let rs = lines
        .iter()
        .find(|v| v["tag"] == "reverse-shell")
        .expect("a reverse-shell line");
    assert_eq!(rs["pid"], 13);
    assert_eq!(rs["where"], "127.0.0.1:53678->127.0.0.1:4444");
    assert_eq!(rs["strength"], "strong");
    assert_eq!(rs["checkpoint"], ck);
    assert_eq!(
        lines.len(),
        finding_lines(&triage(&Mount::new(Path::new(ck)))).len()
    );

    let bad = cache.join("missing.tar");
    let o = common::run(&[
        common::ckptfs(),
        "triage",
        "--cache-dir",
        cache_dir,
        "--format",
        "json",
        bad.to_str().unwrap(),
        ck,
    ]);
    assert_eq!(o.code, Some(2), "{o}");
    let err = o.stderr_text();
    assert_eq!(
        err.lines().filter(|l| l.contains("missing.tar")).count(),
        1,
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v[0]["checkpoint"], ck);
    assert!(
        v[0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["tag"] == "kthread-name" && f["pid"] == 11),
        "{v}"
    );
}
