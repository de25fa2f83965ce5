//! `rootfs/` as the checkpoint records it: modes (all bits), tmpfs contents merged at their mount
//! points, FIFOs as FIFO nodes, and hostile layers staying inside the mount.
//!
//! - podman-kitchen: `/tmp` is a tmpfs (`--tmpfs /tmp:mode=1777`) holding the FIFO
//!   `kitchen.fifo` that fd 6 and 7 of kitchen hold; its unread bytes are in `buffers/`.
//! - podman-busybox: Podman's `/dev` tmpfs (its `stdin` / `ptmx` links, `pts/`, `shm/`).
//! - writer-made: a layer with setuid / setgid / sticky / 0600 entries; a tmpfs archive with
//!   `..`, absolute names, links climbing out and a setuid symlink.
//!
//! Fixtures: `<CARGO_MANIFEST_DIR>/../shared/fixtures` (missing: skip; with CI=true: fail).

use crate::common;

use std::io::Write;

use common::{Mount, TempDir, cat, fixtures, have_fuse, run, run_ok, run_timeout, stat};

fn readlink(p: &str) -> String {
    let o = run(&["readlink", p]);
    assert!(o.ok(), "readlink {p}: {o}");
    o.stdout_text().trim_end_matches('\n').to_string()
}

#[test]
fn kitchen_tmpfs_and_its_fifo_are_in_rootfs() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let m = Mount::new(&fx.join("podman-kitchen/checkpoint.tar.gz"));
    // The tmpfs root's own entry: mode 1777 as mounted (`--tmpfs /tmp:mode=1777`).
    assert_eq!(stat("%A %u:%g", &m.p("rootfs/tmp")), "drwxrwxrwt 0:0");
    let fifo = m.p("rootfs/tmp/kitchen.fifo");
    assert_eq!(stat("%F %a", &fifo), "fifo 600");
    // fd 6 and 7 resolve to it inside the mount (no dangling link).
    for fd in [6, 7] {
        let l = m.p(format!("6/fd/{fd}"));
        assert!(readlink(&l).ends_with(".link/rootfs/tmp/kitchen.fifo"));
        assert_eq!(stat("%F", &readlink_f(&l)), "fifo", "fd {fd}");
        assert!(run(&["test", "-p", &l]).ok(), "test -p fd/{fd}");
    }
    // Recursive tools: find lists it as a FIFO, grep -r skips it (never blocks on it) and finds
    // the unread bytes once, in buffers/.
    let found = run_ok(&["find", &m.p("rootfs"), "-type", "p"]).stdout_text();
    assert_eq!(found.trim(), fifo);
    let g = run_timeout(60, &["grep", "-r", "-l", "KITCHEN-FIFOBUF-s1", &m.p("")]);
    assert_eq!(g.code, Some(0), "{g}");
    let hits: Vec<String> = g.stdout_text().lines().map(str::to_string).collect();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].contains("/buffers/"), "{hits:?}");
    // cp -a copies it as a node.
    let t = TempDir::new("kitchen-fifo");
    let o = run_timeout(
        60,
        &[
            "cp",
            "-a",
            &m.p("rootfs/tmp"),
            &t.join("tmp").to_string_lossy(),
        ],
    );
    assert!(o.ok(), "{o}");
    assert_eq!(
        stat("%F %a", &t.join("tmp/kitchen.fifo").to_string_lossy()),
        "fifo 600"
    );
    // The ghost file of the same tmpfs is still beside it.
    assert!(
        String::from_utf8_lossy(&cat(&m.p("rootfs/tmp/kitchen-ghost (deleted)")))
            .contains("KITCHEN-GHOST-s1")
    );
    m.unmount();
}

fn readlink_f(p: &str) -> String {
    run_ok(&["readlink", "-f", p])
        .stdout_text()
        .trim_end()
        .to_string()
}

#[test]
fn busybox_dev_tmpfs_is_in_rootfs() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let m = Mount::new(&fx.join("podman-busybox/checkpoint.tar.gz"));
    assert_eq!(stat("%A", &m.p("rootfs/dev")), "drwxr-xr-x");
    assert_eq!(readlink(&m.p("rootfs/dev/ptmx")), "pts/ptmx");
    assert_eq!(stat("%F", &m.p("rootfs/dev/pts")), "directory");
    // An absolute link of the tmpfs stays inside the mount.
    assert_eq!(readlink(&m.p("rootfs/dev/stdin")), "../proc/self/fd/0");
    m.unmount();
}

/// A tar with `entries`: (name, kind, mode, target or data). Names are written as given (the
/// tar crate refuses `..` and absolute names in `append_data`, so the raw header is set).
fn raw_tar(entries: &[(&str, tar::EntryType, u32, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, mode, extra) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(*mode);
        h.set_mtime(1_764_341_257);
        {
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        }
        let data: &[u8] = if *kind == tar::EntryType::Regular {
            extra.as_bytes()
        } else {
            if *kind == tar::EntryType::Symlink || *kind == tar::EntryType::Link {
                h.set_link_name(extra).unwrap();
            }
            &[]
        };
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// Modes as recorded, all bits; a hostile tmpfs archive and a setuid symlink in the layer: one
/// warning line each, nothing outside the mount reached.
#[test]
fn modes_as_recorded_and_hostile_layers_stay_inside() {
    use ckptfs::writer::{CheckpointWriter, Compression, Layout};
    use tar::EntryType as E;
    if !have_fuse() {
        return;
    }
    let t = TempDir::new("rootfs-evidence");
    let diff = raw_tar(&[
        ("srv/app/", E::Directory, 0o2751, ""),
        ("srv/app/cache/", E::Directory, 0o1777, ""),
        ("usr/bin/planted", E::Regular, 0o4755, "ELF-PLANTED"),
        ("usr/bin/wall", E::Regular, 0o2755, "wall"),
        ("root/.secret", E::Regular, 0o600, "SECRET"),
        ("usr/bin/su", E::Symlink, 0o4755, "/etc/shadow"),
    ]);
    let tmp = gzip(&raw_tar(&[
        ("./", E::Directory, 0o1777, ""),
        ("./ok.txt", E::Regular, 0o640, "TMPFS-FILE"),
        ("./q.fifo", E::Fifo, 0o620, ""),
        ("../escape.txt", E::Regular, 0o644, "ESCAPED"),
        ("/abs.txt", E::Regular, 0o644, "ABSOLUTE"),
        ("./out", E::Symlink, 0o777, "../../../../../../etc/passwd"),
    ]));
    let mut w = CheckpointWriter::new();
    w.process(1, 0).comm("app");
    w.archive_file("rootfs-diff.tar", &diff);
    w.tmpfs("/tmp", 45, &tmp);
    let ck = t.join("ck.tar");
    w.write_tar(&ck, &Layout::podman("modes"), Compression::None)
        .unwrap();

    let m = Mount::new(&ck);
    let st = |p: &str| stat("%A", &m.p(p));
    assert_eq!(st("rootfs/srv/app"), "drwxr-s--x");
    assert_eq!(st("rootfs/srv/app/cache"), "drwxrwxrwt");
    assert_eq!(st("rootfs/usr/bin/planted"), "-rwsr-xr-x");
    assert_eq!(st("rootfs/usr/bin/wall"), "-rwxr-sr-x");
    assert_eq!(st("rootfs/root/.secret"), "-rw-------");
    assert_eq!(st("rootfs/usr/bin/su"), "lrwxrwxrwx");
    assert_eq!(readlink(&m.p("rootfs/usr/bin/su")), "../../etc/shadow");
    // Read-only whatever the modes say; the mount stays nosuid, nodev, noexec.
    assert!(!run(&["touch", &m.p("rootfs/root/.secret")]).ok());
    assert!(
        !run(&[
            "sh",
            "-c",
            &format!("echo x >> '{}'", m.p("rootfs/tmp/ok.txt"))
        ])
        .ok()
    );
    let opts = run_ok(&["findmnt", "-n", "-o", "OPTIONS", &m.p("")]).stdout_text();
    for o in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(opts.split(',').any(|x| x.trim() == o), "{o} in {opts}");
    }
    assert_eq!(cat(&m.p("rootfs/root/.secret")), b"SECRET");
    // The tmpfs: its own root mode, its file and FIFO; the hostile entries left out.
    assert_eq!(st("rootfs/tmp"), "drwxrwxrwt");
    assert_eq!(cat(&m.p("rootfs/tmp/ok.txt")), b"TMPFS-FILE");
    assert_eq!(stat("%F %a", &m.p("rootfs/tmp/q.fifo")), "fifo 620");
    assert_eq!(readlink(&m.p("rootfs/tmp/out")), "../etc/passwd");
    let all = run_ok(&["find", &m.p("")]).stdout_text();
    assert!(
        !all.contains("escape.txt") && !all.contains("abs.txt"),
        "{all}"
    );
    let g = run_timeout(
        60,
        &[
            "grep",
            "-r",
            "-l",
            "-e",
            "ESCAPED",
            "-e",
            "ABSOLUTE",
            &m.p(""),
        ],
    );
    assert_eq!(g.code, Some(1), "{g}");
    // One warning line each, in info.json.
    let info: serde_json::Value =
        serde_json::from_slice(&cat(&m.p("checkpoint/info.json"))).unwrap();
    let warnings = common::info_warnings(&info);
    let count = |kind: &str, needle: &str| {
        warnings
            .iter()
            .filter(|(k, m)| k == kind && m.contains(needle))
            .count()
    };
    assert_eq!(count("entry-refused", "../escape.txt"), 1, "{warnings:#?}");
    assert_eq!(count("entry-refused", "/abs.txt"), 1, "{warnings:#?}");
    assert_eq!(count("symlink-escapes", "tmp/out"), 1, "{warnings:#?}");
    assert_eq!(count("symlink-mode", "usr/bin/su"), 1, "{warnings:#?}");
    m.unmount();
}

fn sha256_of(p: &str) -> String {
    let o = run_ok(&["sha256sum", p]).stdout_text();
    o.split_whitespace().next().unwrap_or_default().to_string()
}

/// A memfd's descriptor opens its bytes: podman-kitchen's fd 3 (`memfd:kitchen-memfd`, mapped
/// shared at 0x4b1200000000) hashes like the mapping did in `/proc`.
#[test]
fn kitchen_memfd_fd_opens_its_bytes() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let dir = fx.join("podman-kitchen");
    let truth: serde_json::Value = common::read_json(&dir.join("ground-truth.json"));
    let vma_sha = truth["processes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["vmas"].as_array().unwrap())
        .find(|v| v["path"] == "/memfd:kitchen-memfd (deleted)")
        .and_then(|v| v["sha256"].as_str())
        .expect("the memfd mapping in the ground truth")
        .to_string();
    let m = Mount::new(&dir.join("checkpoint.tar.gz"));
    let fd = m.p("6/fd/3");
    assert!(readlink(&fd).ends_with("/memfd:kitchen-memfd (deleted)"));
    let bytes = cat(&fd);
    assert_eq!(bytes.len(), 16384);
    assert_eq!(&bytes[..16], b"KITCHEN-MEMFD-s1");
    assert_eq!(&bytes[0x1000..0x1010], b"KITCHEN-MEMFD-s1");
    assert_eq!(sha256_of(&fd), vma_sha);
    // A walk still meets the bytes once (the link target is under .link/).
    let g = run_timeout(60, &["grep", "-r", "-c", "KITCHEN-MEMFD-s1", &m.p("")]);
    let files: Vec<&str> = g
        .stdout
        .split(|&b| b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok())
        .filter(|l| !l.ends_with(":0") && !l.is_empty())
        .collect();
    assert!(files.iter().all(|l| !l.contains(".link")), "{files:?}");
    m.unmount();
}

/// podman-implant: the memfd-executed child's `exe` and the implant's memfd fd open the payload
/// (sha256 from expected.json); the pty master fd is `/dev/pts/ptmx` with `tty-index`, its slave
/// `/dev/pts/0`, each with fdinfo as `/proc` showed it (less `ino`, which CRIU does not record).
#[test]
fn implant_memfd_exe_and_pty_fds() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let dir = fx.join("podman-implant");
    let expected: serde_json::Value = common::read_json(&dir.join("expected.json"));
    let truth: serde_json::Value = common::read_json(&dir.join("ground-truth.json"));
    let payload = expected["findings"]["memfd_exec"]["sha256"]
        .as_str()
        .expect("expected.json findings.memfd_exec.sha256");
    let m = Mount::new(&dir.join("checkpoint.tar.gz"));
    assert_eq!(sha256_of(&m.p("12/exe")), payload);
    assert_eq!(sha256_of(&m.p("11/fd/3")), payload);
    let proc_of = |pid: u64| {
        truth["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["ns_pids"].as_array().and_then(|v| v.last()) == Some(&pid.into()))
            .unwrap_or_else(|| panic!("PID {pid} in the ground truth"))
    };
    let script = proc_of(15);
    for fd in ["3", "4"] {
        let want_link = script["fds"][fd].as_str().unwrap();
        assert!(
            readlink(&m.p(format!("15/fd/{fd}"))).ends_with(&format!(".link/rootfs{want_link}")),
            "fd {fd}: {want_link}"
        );
        let want: String = script["fdinfo"][fd]
            .as_str()
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("ino:") && !l.is_empty())
            .map(|l| format!("{l}\n"))
            .collect();
        let got = String::from_utf8(cat(&m.p(format!("15/fdinfo/{fd}")))).unwrap();
        assert_eq!(got, want, "15/fdinfo/{fd}");
    }
    assert!(readlink(&m.p("15/fd/3")).ends_with("/dev/pts/ptmx"));
    m.unmount();
}

/// A user-namespaced container: CRIU records the tasks' ids in the container's view (100), the
/// layer tar the host's (100100). Both show the container's view, and `PID/uid_map` /
/// `PID/gid_map` show the maps as `/proc` did; an id the namespace does not map shows as 65534.
/// Without a user namespace there are no map files and ids stay as recorded.
#[test]
fn user_namespace_one_view_of_owners_and_the_id_maps() {
    use ckptfs::writer::{CheckpointWriter, Compression, Layout};
    if !have_fuse() {
        return;
    }
    let t = TempDir::new("userns");
    let diff = {
        let mut b = tar::Builder::new(Vec::new());
        for (path, uid, gid) in [("var/lib/pg/SECRET", 100_100, 100_102), ("etc/odd", 7, 7)] {
            let mut h = tar::Header::new_gnu();
            h.set_size(6);
            h.set_mode(0o600);
            h.set_uid(uid);
            h.set_gid(gid);
            b.append_data(&mut h, path, &b"SECRET"[..]).unwrap();
        }
        b.into_inner().unwrap()
    };
    let build = |userns: bool, name: &str| {
        let mut w = CheckpointWriter::new();
        w.process(1, 0).comm("postgres").creds(100, 102);
        w.archive_file("rootfs-diff.tar", &diff);
        if userns {
            w.userns(
                &[(0, 100_000, 65536)],
                &[(0, 100_000, 65536), (70000, 7, 1)],
            );
        }
        let ck = t.join(name);
        w.write_tar(&ck, &Layout::podman("userns"), Compression::None)
            .unwrap();
        ck
    };
    let m = Mount::new(&build(true, "userns.tar"));
    assert_eq!(stat("%u:%g", &m.p("1")), "100:102");
    assert_eq!(stat("%u:%g", &m.p("rootfs/var/lib/pg/SECRET")), "100:102");
    assert_eq!(stat("%u:%g", &m.p("rootfs/etc/odd")), "65534:70000");
    assert_eq!(
        cat(&m.p("1/uid_map")),
        b"         0     100000      65536\n"
    );
    assert_eq!(
        cat(&m.p("1/gid_map")),
        b"         0     100000      65536\n     70000          7          1\n"
    );
    m.unmount();
    let m = Mount::new(&build(false, "plain.tar"));
    assert_eq!(
        stat("%u:%g", &m.p("rootfs/var/lib/pg/SECRET")),
        "100100:100102"
    );
    assert!(!m.join("1/uid_map").exists());
    m.unmount();
}

/// A FIFO whose data image is truncated (the entry says 64 bytes, 10 follow): the FIFO node is
/// still shown, its buffer is not (never a partial buffer shown as whole), one warning line says
/// why, and the mount serves the rest.
#[test]
fn truncated_fifo_data_is_one_warning() {
    use ckptfs::image::{magic, pb};
    use ckptfs::writer::{CheckpointWriter, Compression, Layout, encode_image};
    use tar::EntryType as E;
    if !have_fuse() {
        return;
    }
    let t = TempDir::new("fifo-trunc");
    let tmp = gzip(&raw_tar(&[
        ("./", E::Directory, 0o1777, ""),
        ("./q.fifo", E::Fifo, 0o600, ""),
    ]));
    let mut data = encode_image(
        magic::FIFO_DATA,
        &[pb::PipeDataEntry {
            pipe_id: 4242,
            bytes: 64,
            size: None,
        }],
    );
    data.extend_from_slice(b"FIFO-TRUNC");
    let mut w = CheckpointWriter::new();
    w.process(1, 0).comm("app");
    w.tmpfs("/tmp", 45, &tmp);
    w.raw_file("fifo-data.img", &data);
    let ck = t.join("ck.tar");
    w.write_tar(&ck, &Layout::podman("fifo"), Compression::None)
        .unwrap();
    let m = Mount::new(&ck);
    assert_eq!(stat("%F %a", &m.p("rootfs/tmp/q.fifo")), "fifo 600");
    assert!(!m.join("buffers/fifo-4242").exists());
    let info: serde_json::Value =
        serde_json::from_slice(&cat(&m.p("checkpoint/info.json"))).unwrap();
    let warnings = common::info_warnings(&info);
    assert_eq!(
        warnings
            .iter()
            .filter(|(k, m)| k == "truncated-image" && m.contains("fifo-data.img"))
            .count(),
        1,
        "{warnings:#?}"
    );
    assert!(String::from_utf8_lossy(&cat(&m.p("1/comm"))).starts_with("app"));
    m.unmount();
}

/// podman-kitchen's memfd is mapped (its bytes are in `6/memory/4b1200000000-4b1200004000`): it
/// is not a file of `rootfs/` too (a walk meets each byte once), only its descriptor's target.
#[test]
fn kitchen_mapped_memfd_is_not_in_rootfs() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let m = Mount::new(&fx.join("podman-kitchen/checkpoint.tar.gz"));
    assert!(!m.join("rootfs/memfd:kitchen-memfd (deleted)").exists());
    assert!(
        m.join(".link/rootfs/memfd:kitchen-memfd (deleted)")
            .exists()
    );
    m.unmount();
}

/// Podman's `/dev` tmpfs holds the container's device nodes (`null`, `zero`, `tty`...): they
/// are in `rootfs/dev` as recorded (type, number, mode), so every `fd/N` of a file the
/// checkpoint holds resolves inside the mount, `fd/0 -> /dev/null` included. The mount is
/// `nodev`: opening one fails at once and never reaches a host device; recursive tools skip
/// them.
#[test]
fn podman_dev_nodes_are_recorded_nodes_and_every_fd_link_resolves() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    // Terminals name devpts (`/dev/pts/ptmx`, `/dev/pts/N`) as /proc does: a kernel filesystem
    // the checkpoint does not save (the pty's facts are in fdinfo).
    for case in [
        "podman-kitchen/checkpoint.tar.gz",
        "podman-busybox/checkpoint.tar.gz",
        "podman-implant/checkpoint.tar.gz",
        "podman-redis/checkpoint.tar.zst",
    ] {
        let m = Mount::new(&fx.join(case));
        assert_eq!(
            stat("%F %t:%T %a %u:%g", &m.p("rootfs/dev/null")),
            "character special file 1:3 666 0:0",
            "{case}"
        );
        assert_eq!(
            stat("%F %t:%T", &m.p("rootfs/dev/zero")),
            "character special file 1:5",
            "{case}"
        );
        // Opening a device node of the mount is refused by the kernel (nodev), as root too.
        let o = run(&["head", "-c", "1", &m.p("rootfs/dev/zero")]);
        assert!(!o.ok(), "{case}: reading rootfs/dev/zero must fail: {o}");
        assert!(o.stderr_text().contains("Permission denied"), "{case}: {o}");
        // Every descriptor link into the mount resolves, unless it names a file the checkpoint
        // does not hold: one of the image (the entry scripts), which no tar of it lists.
        let mut held = String::new();
        for tar in std::fs::read_dir(m.p("checkpoint")).unwrap().flatten() {
            let p = tar.path().to_string_lossy().to_string();
            if p.ends_with(".tar") {
                held += &run_ok(&["tar", "tf", &p]).stdout_text();
            }
        }
        for img in std::fs::read_dir(m.p("checkpoint/images"))
            .unwrap()
            .flatten()
        {
            let p = img.path().to_string_lossy().to_string();
            if p.contains("tmpfs-dev-") {
                held += &run_ok(&["tar", "tzf", &p]).stdout_text();
            }
        }
        let mut checked = 0;
        for pid in std::fs::read_dir(m.p("")).unwrap().flatten() {
            let name = pid.file_name().to_string_lossy().to_string();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            for fd in std::fs::read_dir(pid.path().join("fd")).unwrap().flatten() {
                let l = fd.path().to_string_lossy().to_string();
                let target = readlink(&l);
                if !target.contains(".link/") || target.contains(".link/rootfs/dev/pts/") {
                    continue;
                }
                let name = target.rsplit('/').next().unwrap_or_default();
                if !held
                    .lines()
                    .any(|h| h.ends_with(&format!("/{name}")) || h == name)
                {
                    eprintln!("{case}: {l} -> {target}: a file the checkpoint does not hold");
                    continue;
                }
                let o = run(&["readlink", "-e", &l]);
                assert!(o.ok(), "{case}: {l} -> {} dangles", readlink(&l));
                checked += 1;
            }
        }
        assert!(checked >= 1, "{case}: no fd link into the mount");
        // Recursive tools skip them: grep -r, and find -L -type f.
        let g = run_timeout(
            60,
            &["grep", "-r", "-c", "no such text", &m.p("rootfs/dev")],
        );
        assert_eq!(g.code, Some(1), "{case}: {g}");
        assert!(!g.stderr_text().contains("/null"), "{case}: {g}");
        m.unmount();
    }
}
