//! Against `podman-kitchen` (a real Podman export of `kitchen.c`, CRIU 4.2) and its
//! ground truth: what the kernel showed in `/proc` while the container was frozen.
//!
//! - SysV shared memory: `/SYSV<key> (deleted)` with the segment id as inode in `maps`;
//!   `sysvipc/shm` in the kernel's format; the segment's bytes once, in `sysvipc/shm-<id>`.
//! - `PID/net/*` namespace-wide: every process sees the sockets of the whole namespace.
//! - Unix socket names as `/proc/net/unix` prints them, the same in every view.
//! - `fd/N` link texts: memfd names, FIFO paths, `anon_inode:inotify`.
//!
//! Fixtures: `<CARGO_MANIFEST_DIR>/../shared/fixtures` (missing: skip; with CI=true: fail).

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Mount, as_nobody, cat, fixtures, have_fuse, run};
use serde_json::Value;

struct Kitchen {
    m: Mount,
    truth: Value,
}

fn kitchen() -> Option<Kitchen> {
    let fx = fixtures()?;
    if !have_fuse() {
        return None;
    }
    let dir = fx.join("podman-kitchen");
    let truth: Value = common::read_json(&dir.join("ground-truth.json"));
    Some(Kitchen {
        m: Mount::new(&dir.join("checkpoint.tar.gz")),
        truth,
    })
}

impl Kitchen {
    fn text(&self, rel: &str) -> String {
        String::from_utf8_lossy(&cat(&self.m.p(rel))).into_owned()
    }

    /// The ground truth of the process whose PID in the container is `pid`.
    fn proc(&self, pid: u32) -> &Value {
        self.truth["processes"]
            .as_array()
            .expect("processes")
            .iter()
            .find(|p| p["ns_pids"].as_array().and_then(|v| v.last()) == Some(&Value::from(pid)))
            .unwrap_or_else(|| panic!("no process {pid} in the ground truth"))
    }

    fn readlink(&self, rel: &str) -> String {
        let o = run(&["readlink", &self.m.p(rel)]);
        assert!(o.ok(), "readlink {rel}: {o}");
        o.stdout_text().trim_end().to_string()
    }
}

/// The ground truth line of `maps` starting at `start` (hex).
fn truth_maps_line<'a>(p: &'a Value, start: &str) -> &'a str {
    p["maps"]
        .as_array()
        .expect("maps")
        .iter()
        .filter_map(Value::as_str)
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no maps line at {start}"))
}

#[test]
fn sysv_shared_memory_is_named_and_listed_once() {
    let Some(k) = kitchen() else { return };
    for pid in [6, 7] {
        let truth = truth_maps_line(k.proc(pid), "4b1000000000-");
        let maps = k.text(&format!("{pid}/maps"));
        let ours = maps
            .lines()
            .find(|l| l.starts_with("4b1000000000-"))
            .expect("the SysV mapping");
        // Same name at the same column, and the segment id (0) as inode; the device is the host's.
        let cols = |l: &str| {
            let f: Vec<String> = l.split_whitespace().map(String::from).collect();
            (f[0].clone(), f[1].clone(), f[4].clone(), f[5..].join(" "))
        };
        assert_eq!(cols(ours), cols(truth), "PID {pid}:\n{ours}\n{truth}");
        assert_eq!(ours.find("/SYSV"), truth.find("/SYSV"));
        assert!(ours.ends_with("/SYSV4b495443 (deleted)"), "{ours}");
    }

    // sysvipc/shm: the kernel's header, and every column the images carry.
    let truth = k.truth["sysvipc_shm"].as_str().expect("sysvipc_shm");
    let ours = k.text("sysvipc/shm");
    let (th, tl) = truth.split_once('\n').expect("header");
    let (oh, ol) = ours.split_once('\n').expect("header");
    assert_eq!(oh, th);
    let t: Vec<&str> = tl.split_whitespace().collect();
    let o: Vec<&str> = ol.split_whitespace().collect();
    assert_eq!(o.len(), t.len(), "{ol}");
    // key shmid perms size . . nattch uid gid cuid cgid
    for i in [0, 1, 2, 3, 6, 7, 8, 9, 10] {
        assert_eq!(o[i], t[i], "column {i}:\n{ol}\n{tl}");
    }
    // Same widths: the size column ends where the kernel's does.
    assert_eq!(ol.find("65536"), tl.find("65536"));

    // The segment's bytes, readable by path: the marker at offsets 0 and 0x8000. Kitchen maps it,
    // so a walk meets it in 6/memory/ and this is a link into the hidden `.link/` (a
    // procfs-style file: size 0, read to its end).
    let seg = k.m.p("sysvipc/shm-0");
    let link = std::fs::read_link(&seg).expect("sysvipc/shm-0 is a link");
    assert_eq!(link, std::path::Path::new("../.link/sysvipc/shm-0"));
    let bytes = cat(&seg);
    for off in [0usize, 0x8000] {
        assert!(
            bytes[off..].starts_with(b"KITCHEN-SYSV-s1"),
            "marker at {off:#x}"
        );
    }
    let n = bytes
        .windows(15)
        .filter(|w| *w == b"KITCHEN-SYSV-s1")
        .count();
    assert_eq!(n, 2);
}

#[test]
fn net_files_list_the_whole_namespace() {
    let Some(k) = kitchen() else { return };
    // The inodes of a /proc/net table (its last column for unix, column 10 for tcp).
    let inodes = |text: &str, unix: bool| -> BTreeSet<String> {
        text.lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                if unix { f.get(6) } else { f.get(9) }.map(|s| s.to_string())
            })
            .collect()
    };
    for pid in [1, 6, 7] {
        let t = &k.proc(pid)["net"];
        for (file, unix) in [
            ("tcp", false),
            ("tcp6", false),
            ("udp", false),
            ("unix", true),
        ] {
            let truth = t[file].as_str().expect("net file");
            let ours = k.text(&format!("{pid}/net/{file}"));
            assert_eq!(
                inodes(&ours, unix),
                inodes(truth, unix),
                "{pid}/net/{file}:\n{ours}\ntruth:\n{truth}"
            );
        }
    }
    // The shell (PID 1) holds no socket, and still sees kitchen's listener.
    assert!(
        k.text("1/net/tcp")
            .contains("00000000:1B9E 00000000:0000 0A")
    );
}

#[test]
fn unix_socket_names_follow_proc_net_unix() {
    let Some(k) = kitchen() else { return };
    // Per inode, the path column of the truth's /proc/net/unix.
    let names = |text: &str| -> BTreeMap<String, String> {
        text.lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f[6].to_string(), f.get(7).unwrap_or(&"").to_string())
            })
            .collect()
    };
    let truth = names(k.proc(6)["net"]["unix"].as_str().expect("unix"));
    let ours = names(&k.text("6/net/unix"));
    assert_eq!(ours, truth);
    // The same text in triage: no NUL, escaped or not.
    let triage = k.text("triage");
    assert!(
        triage.contains("PID 6 /tmp/kitchen.sock unix-listen:"),
        "{triage}"
    );
    assert!(
        !triage.contains("\\u{0}") && !triage.contains("\\x00") && !triage.contains('\0'),
        "{triage}"
    );
}

#[test]
fn fd_links_as_the_kernel_shows_them() {
    let Some(k) = kitchen() else { return };
    for pid in [1, 6, 7] {
        let fds = k.proc(pid)["fds"].as_object().expect("fds");
        for (fd, want) in fds {
            let want = want.as_str().expect("link text");
            let got = k.readlink(&format!("{pid}/fd/{fd}"));
            // Paths point into rootfs/ inside the mount.
            let got = got.strip_prefix("../../.link/rootfs").unwrap_or(&got);
            assert_eq!(got, want, "{pid}/fd/{fd}");
        }
    }
}

/// The ground truth VMA of process `p` starting at `start` (`0x...`).
fn truth_vma<'a>(p: &'a Value, start: &str) -> &'a Value {
    p["vmas"]
        .as_array()
        .expect("vmas")
        .iter()
        .find(|v| v["start"] == start)
        .unwrap_or_else(|| panic!("no VMA at {start}"))
}

#[test]
fn dev_shm_files_and_their_shared_mappings_come_from_the_devshm_tar() {
    let Some(k) = kitchen() else { return };
    let want = &k.truth["devshm"]["kitchen.s1"];
    let f = k.m.p("rootfs/dev/shm/kitchen.s1");
    assert_eq!(
        common::sha256_hex(&cat(&f)),
        want["sha256"].as_str().expect("sha256")
    );
    assert_eq!(
        std::fs::metadata(&f)
            .expect("rootfs/dev/shm/kitchen.s1")
            .len(),
        want["size"].as_u64().expect("size")
    );
    for pid in [6, 7] {
        let v = truth_vma(k.proc(pid), "0x4b1100000000");
        let mem = k.m.p(format!("{pid}/memory/4b1100000000-4b1100004000"));
        assert_eq!(
            common::sha256_hex(&cat(&mem)),
            v["sha256"].as_str().expect("sha256"),
            "PID {pid}"
        );
        // Holes stay holes: only the file's two non-zero pages are present (16 blocks of 512).
        assert_eq!(
            v["nonzero_page_ranges"],
            serde_json::json!([[0, 0], [2, 2]])
        );
        // (The child's mapping is a link to kitchen's: a walk meets the bytes once.)
        let blocks = common::run_ok(&["stat", "-L", "-c", "%b", &mem]).stdout_text();
        let want_blocks = if pid == 6 { "16" } else { "0" };
        assert_eq!(blocks.trim(), want_blocks, "PID {pid}");
    }
}

/// Writer-made (every fixture runs as root): `rootfs/` shows its layer's owners,
/// groups, modes and times, `PID/` the process's ids; the access rule is ckptfs's own: the
/// mounting user reads a file whatever its owner and mode say, `nobody` reads nothing, and
/// everything with `--allow-other`; never writable.
#[test]
fn owners_and_modes_are_the_checkpoints_and_access_is_checked_by_ckptfs() {
    use ckptfs::writer::{CheckpointWriter, Compression, Layout};
    if !have_fuse() {
        return;
    }
    // SAFETY: no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(!common::ci(), "CI runs as root");
        eprintln!("SKIP: needs root (to switch to nobody)");
        return;
    }
    let t = common::TempDir::new("kitchen-owners");
    let diff = {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o700);
        h.set_uid(100100);
        h.set_gid(100102);
        h.set_mtime(1_764_341_257);
        b.append_data(&mut h, "var/lib/pg/", &[][..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(6);
        h.set_mode(0o600);
        h.set_uid(100100);
        h.set_gid(100102);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, "var/lib/pg/SECRET", &b"SECRET"[..])
            .unwrap();
        b.into_inner().unwrap()
    };
    let mut w = CheckpointWriter::new();
    w.process(1, 0).comm("postgres").creds(100100, 100102);
    w.archive_file("rootfs-diff.tar", &diff);
    let ck = t.join("ck.tar");
    w.write_tar(&ck, &Layout::podman("owners"), Compression::None)
        .unwrap();

    let m = Mount::new(&ck);
    let stat = |f: &str, rel: &str| common::stat(f, &m.p(rel));
    assert_eq!(
        stat("%u:%g %A", "rootfs/var/lib/pg"),
        "100100:100102 drwx------"
    );
    assert_eq!(
        stat("%u:%g %A %Y", "rootfs/var/lib/pg/SECRET"),
        "100100:100102 -rw------- 1700000000"
    );
    // PID directories belong to the process's (effective) ids, as /proc/PID does.
    assert_eq!(stat("%u:%g", "1"), "100100:100102");
    assert_eq!(stat("%u:%g", "1/environ"), "100100:100102");
    // Everything else: the mounting user.
    assert_eq!(stat("%u:%g", "pstree"), "0:0");
    // The mounting user reads what the modes would deny (the kernel does not check them).
    assert_eq!(cat(&m.p("rootfs/var/lib/pg/SECRET")), b"SECRET");
    // nobody, who owns nothing here either, reads nothing.
    let o = as_nobody(&["cat", &m.p("rootfs/var/lib/pg/SECRET")]);
    assert!(!o.ok(), "nobody read the file: {o}");
    let o = as_nobody(&["cat", &m.p("1/environ")]);
    assert!(!o.ok(), "nobody read environ: {o}");
    m.unmount();

    // --allow-other: everyone reads, whatever the owner and mode; still nothing writable.
    let m = Mount::with_args(&ck, &["--allow-other"]).unwrap_or_else(|o| panic!("{o}"));
    let o = as_nobody(&["cat", &m.p("rootfs/var/lib/pg/SECRET")]);
    assert!(o.ok(), "{o}");
    assert_eq!(o.stdout, b"SECRET");
    assert_eq!(
        common::stat("%u:%g %A", &m.p("rootfs/var/lib/pg/SECRET")),
        "100100:100102 -rw-------"
    );
    let o = as_nobody(&[
        "sh",
        "-c",
        &format!("echo x >> {}", m.p("rootfs/var/lib/pg/SECRET")),
    ]);
    assert!(!o.ok(), "{o}");
    let o = as_nobody(&["touch", &m.p("rootfs/var/lib/pg/new")]);
    assert!(!o.ok(), "{o}");
    m.unmount();
}

/// fdinfo of every kind CRIU records, byte for byte against the recorded `/proc/PID/fdinfo`
/// where the images carry the value; what they lack (internal mount ids, the inode numbers of
/// regular files and anonymous inodes, `eventfd-id`, `eventfd-semaphore`, `scm_fds`) is left out,
/// and `it_value` is the time left when CRIU read it (seconds before the truth was read).
#[test]
fn fdinfo_of_every_kind_matches_the_kernel() {
    let Some(k) = kitchen() else { return };
    let missing_ok = [
        "mnt_id:",
        "ino:",
        "eventfd-id:",
        "eventfd-semaphore:",
        "scm_fds:",
    ];
    let mut kinds = BTreeSet::new();
    for pid in [1, 6, 7] {
        let truth = k.proc(pid)["fdinfo"].as_object().expect("fdinfo");
        for (fd, want) in truth {
            let want = want.as_str().expect("text");
            let ours = k.text(&format!("{pid}/fdinfo/{fd}"));
            let tl: Vec<&str> = want.lines().collect();
            let ol: Vec<&str> = ours.lines().collect();
            // Ours: the truth's lines, in its order (it_value within 5 seconds).
            let mut at = 0;
            for l in &ol {
                let found = tl[at..].iter().position(|t| {
                    t == l
                        || (l.starts_with("it_value: (")
                            && t.starts_with("it_value: (")
                            && secs(l).abs_diff(secs(t)) <= 5)
                });
                let Some(i) = found else {
                    panic!("{pid}/fdinfo/{fd}: line {l:?} not in the truth:\n{want}\nours:\n{ours}")
                };
                at += i + 1;
                kinds.insert(l.split([':', ' ']).next().unwrap_or("").to_string());
            }
            // The truth's lines we lack are only those the images do not carry.
            for t in &tl {
                let have = ol.iter().any(|l| l == t) || t.starts_with("it_value:");
                assert!(
                    have || missing_ok.iter().any(|m| t.starts_with(m)),
                    "{pid}/fdinfo/{fd}: lacks {t:?}:\n{ours}"
                );
            }
        }
    }
    for want in [
        "eventfd-count",
        "tfd",
        "sigmask",
        "inotify",
        "clockid",
        "it_interval",
    ] {
        assert!(kinds.contains(want), "no {want} line anywhere: {kinds:?}");
    }
}

/// The seconds of an `it_value: (S, NS)` line.
fn secs(l: &str) -> u64 {
    l.trim_start_matches("it_value: (")
        .split(',')
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u64::MAX / 2)
}

/// `task/TID/syscall` from the saved registers, byte for byte; `status` lines the maps and fd
/// table give (`FDSize`, `VmSize`, `VmData`, `VmStk`, `VmExe`, `VmLib`) as the kernel printed them.
#[test]
fn syscall_and_status_from_registers_maps_and_fds() {
    let Some(k) = kitchen() else { return };
    let mut n = 0;
    for pid in [1, 6, 7] {
        let p = k.proc(pid);
        for t in p["threads"].as_array().expect("threads") {
            let tid = t["ns_tids"]
                .as_array()
                .and_then(|v| v.last())
                .and_then(Value::as_u64)
                .expect("ns_tids");
            let want = t["syscall"].as_str().expect("syscall");
            assert_eq!(
                k.text(&format!("{pid}/task/{tid}/syscall")),
                want,
                "{pid}/task/{tid}/syscall"
            );
            n += 1;
        }
        let status = k.text(&format!("{pid}/status"));
        let truth = p["status"].as_str().expect("status");
        for key in [
            "FDSize:", "VmSize:", "VmData:", "VmStk:", "VmExe:", "VmLib:",
        ] {
            let line = |text: &str| {
                text.lines()
                    .find(|l| l.starts_with(key))
                    .map(str::to_string)
            };
            assert_eq!(line(&status), line(truth), "{pid}/status {key}");
        }
    }
    assert_eq!(n, 4, "threads in the truth");
}

/// The data nobody had read, once each in `buffers/`, named by the inode `fd/N` shows
/// (`pipe:[N]` -> `buffers/pipe-N`, `socket:[N]` -> `buffers/unix-N` / `tcp-N.recv`); the TCP
/// queue lengths in `net/tcp` as the kernel printed them.
#[test]
fn unread_pipe_fifo_and_socket_data_is_readable() {
    let Some(k) = kitchen() else { return };
    let ino = |rel: &str| -> String {
        let l = k.readlink(rel);
        l.trim_start_matches("pipe:[")
            .trim_start_matches("socket:[")
            .trim_end_matches(']')
            .to_string()
    };
    let pipe = ino("6/fd/4");
    let pair_child = ino("7/fd/14");
    let accepted = ino("6/fd/14");
    let tcp = ino("6/fd/19");
    for (file, want) in [
        (format!("buffers/pipe-{pipe}"), "KITCHEN-PIPEBUF-s1"),
        ("buffers/fifo-2".to_string(), "KITCHEN-FIFOBUF-s1"),
        (format!("buffers/unix-{pair_child}"), "KITCHEN-UNIXPAIR-s1"),
        (format!("buffers/unix-{accepted}"), "KITCHEN-UNIXQ-s1"),
        (format!("buffers/tcp-{tcp}.recv"), "KITCHEN-TCPQ-s1"),
    ] {
        assert_eq!(k.text(&file), want, "{file}");
    }
    // The FIFO's inode is the one its descriptors' fdinfo names.
    assert!(k.text("6/fdinfo/6").contains("\nino:\t2\n"));
    // net/tcp: the accepted connection's unread 15 bytes, as the kernel counted them.
    let cols = |text: &str| -> Option<String> {
        text.lines()
            .find(|l| l.split_whitespace().nth(9) == Some(tcp.as_str()))
            .map(|l| l.split_whitespace().take(5).collect::<Vec<_>>().join(" "))
    };
    let truth = k.proc(6)["net"]["tcp"].as_str().expect("tcp");
    let ours = k.text("6/net/tcp");
    assert_eq!(cols(&ours), cols(truth));
    assert!(cols(&ours).is_some_and(|c| c.ends_with("00000000:0000000F")));
}

/// `sockets`: every socket in `ss -tuanxp`'s layout, with its holders, unix pairs resolved both
/// ways (the socketpair between kitchen's fd 13 and the child's fd 14) and the queues the images
/// hold.
#[test]
fn sockets_overview_like_ss() {
    let Some(k) = kitchen() else { return };
    let text = k.text("sockets");
    let rows: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    assert_eq!(
        rows[0].join(" "),
        "Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port Process"
    );
    let ino = |rel: &str| {
        k.readlink(rel)
            .trim_start_matches("socket:[")
            .trim_end_matches(']')
            .to_string()
    };
    let row = |inode: &str| -> String {
        text.lines()
            // A unix row: netid state recv send name inode peer-name peer-inode users.
            .find(|l| l.starts_with("u_") && l.split_whitespace().nth(5) == Some(inode))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| panic!("no row for {inode}:\n{text}"))
    };
    let (a, b) = (ino("6/fd/13"), ino("7/fd/14"));
    assert_eq!(
        row(&a),
        format!("u_str ESTAB 0 0 * {a} * {b} users:((\"kitchen\",pid=6,fd=13))")
    );
    assert_eq!(
        row(&b),
        format!("u_str ESTAB 19 0 * {b} * {a} users:((\"kitchen-child\",pid=7,fd=14))")
    );
    let l = ino("6/fd/15");
    assert_eq!(
        row(&l),
        format!("u_str LISTEN 0 4 /tmp/kitchen.sock {l} * 0 users:((\"kitchen\",pid=6,fd=15))")
    );
    for want in [
        "tcp LISTEN 0 4 0.0.0.0:7070 0.0.0.0:* users:((\"kitchen\",pid=6,fd=16))",
        "tcp ESTAB 15 0 127.0.0.1:7070 127.0.0.1:42232 users:((\"kitchen\",pid=6,fd=19))",
        "tcp ESTAB 0 0 127.0.0.1:42232 127.0.0.1:7070 users:((\"kitchen-child\",pid=7,fd=4))",
    ] {
        assert!(rows.iter().any(|r| r.join(" ") == want), "{want}:\n{text}");
    }
    // Every socket of every process, once.
    assert_eq!(rows.len() - 1, 8, "{text}");
}

/// `memparse -s` over every process: a match in memory several processes share (the SysV
/// segment, the memfd) is listed once, with every PID that maps it; SHARED MEMORY SIZE is the
/// mapped size of the MAP_SHARED mappings (checkpointctl's), SHARED MEMORY DUMPED what CRIU dumped.
#[test]
fn memparse_shared_memory_once_with_every_pid() {
    let Some(fx) = fixtures() else { return };
    let ck = fx.join("podman-kitchen/checkpoint.tar.gz");
    let ck = ck.to_string_lossy();
    let t = common::TempDir::new("kitchen-memparse");
    let cache = t.path().to_string_lossy().into_owned();
    let run = |args: &[&str]| {
        let mut a = vec![common::ckptfs(), "memparse", "--cache-dir", cache.as_str()];
        a.extend_from_slice(args);
        let o = common::run_timeout(60, &a);
        assert!(o.ok(), "{o}");
        o.stdout_text()
    };
    for (marker, base) in [
        ("KITCHEN-SYSV-s1", "00004b10"),
        ("KITCHEN-MEMFD-s1", "00004b12"),
    ] {
        let out = run(&["-s", marker, &ck]);
        let rows: Vec<Vec<&str>> = out
            .lines()
            .skip(2)
            .map(|l| l.split_whitespace().collect())
            .filter(|r: &Vec<&str>| r.get(1).is_some_and(|a| a.starts_with(base)))
            .collect();
        assert_eq!(rows.len(), 2, "{marker}: two offsets, one row each:\n{out}");
        for r in &rows {
            assert_eq!(r[0], "6,7", "{marker}:\n{out}");
        }
    }
    let out = run(&[&ck]);
    let row = |pid: &str| common::cli::table_row(&out, pid);
    // SysV 64 KiB + /dev/shm 16 KiB + memfd 16 KiB mapped; SysV 2 pages + memfd 2 pages dumped.
    for pid in ["6", "7"] {
        assert_eq!(row(pid)[3..], ["96.0 KiB", "16.0 KiB"], "{out}");
    }
}

/// One definition of the checkpoint's dumped memory, each page once (the SysV segment and the
/// memfd that two processes map count once; the /dev/shm pages filled from Podman's tar are not
/// dumped): `info.json`, `diff` and the pages files (`inspect`'s Memory pages size) agree.
#[test]
fn dumped_memory_counts_each_page_once_everywhere() {
    let Some(k) = kitchen() else { return };
    let info: Value =
        serde_json::from_slice(&cat(&k.m.p("checkpoint/info.json"))).expect("info.json");
    let dumped = info["memory"]["dumped_bytes"]
        .as_u64()
        .expect("dumped_bytes");
    let fx = fixtures().expect("fixtures");
    let input = fx.join("podman-kitchen/checkpoint.tar.gz");
    let input = input.to_string_lossy();
    let t = common::TempDir::new("kitchen-diff");
    let cache = t.path().to_string_lossy().into_owned();
    let view = |args: &[&str]| -> Value {
        let mut a = vec![common::ckptfs()];
        a.extend_from_slice(args);
        let o = common::run_timeout(60, &a);
        assert!(o.ok(), "{o}");
        serde_json::from_slice(&o.stdout).expect("JSON")
    };
    let i = view(&["inspect", "--cache-dir", &cache, "--format", "json", &input]);
    let pages = i[0]["checkpoint_size"]["memory_pages_size"]
        .as_u64()
        .or_else(|| i["checkpoint_size"]["memory_pages_size"].as_u64())
        .unwrap_or_else(|| panic!("memory_pages_size in {i}"));
    assert_eq!(dumped, pages, "info.json dumped_bytes vs the pages files");
    let o = common::run_timeout(
        60,
        &[
            common::ckptfs(),
            "diff",
            "--cache-dir",
            &cache,
            "--format",
            "json",
            &input,
            &input,
        ],
    );
    assert!(o.ok(), "{o}");
    let d: Value = serde_json::from_slice(&o.stdout).expect("diff JSON");
    assert_eq!(
        d["checkpoint_a"]["dumped_bytes"].as_u64(),
        Some(pages),
        "{d}"
    );
}

/// `memparse -o FILE` holds checkpoint bytes: it is created owner-only (0600), and an existing
/// file is narrowed to 0600 too.
#[test]
fn memparse_output_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let Some(fx) = fixtures() else { return };
    let input = fx.join("podman-kitchen/checkpoint.tar.gz");
    let t = common::TempDir::new("kitchen-memparse-o");
    let cache = t.path().to_string_lossy().into_owned();
    let fresh = t.join("fresh.hex");
    let existing = t.join("existing.hex");
    std::fs::write(&existing, b"old").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).unwrap();
    for file in [&fresh, &existing] {
        let o = common::run_timeout(
            60,
            &[
                common::ckptfs(),
                "memparse",
                "--cache-dir",
                &cache,
                "-p",
                "6",
                "-o",
                &file.to_string_lossy(),
                &input.to_string_lossy(),
            ],
        );
        assert!(o.ok(), "{o}");
        let md = std::fs::metadata(file).unwrap();
        assert_eq!(md.permissions().mode() & 0o777, 0o600, "{}", file.display());
        assert!(md.len() > 1000);
    }
}

/// `inspect --format json`: each process's `syscalls` (tid -> name and number), the numbers the
/// kernel showed in `task/TID/syscall`.
#[test]
fn inspect_names_each_threads_syscall() {
    let Some(k) = kitchen() else { return };
    let fx = fixtures().expect("fixtures");
    let input = fx.join("podman-kitchen/checkpoint.tar.gz");
    let t = common::TempDir::new("kitchen-inspect");
    let o = common::run_timeout(
        60,
        &[
            common::ckptfs(),
            "inspect",
            "--cache-dir",
            &t.path().to_string_lossy(),
            "--ps-tree",
            "--format",
            "json",
            &input.to_string_lossy(),
        ],
    );
    assert!(o.ok(), "{o}");
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let mut got = BTreeMap::new();
    fn walk(n: &Value, got: &mut BTreeMap<String, String>) {
        if let Some(s) = n["syscalls"].as_object() {
            for (tid, name) in s {
                got.insert(tid.clone(), name.as_str().unwrap_or("").to_string());
            }
        }
        for c in n["children"].as_array().into_iter().flatten() {
            walk(c, got);
        }
    }
    walk(&v[0]["process_tree"], &mut got);
    let names = [
        (130, "rt_sigsuspend"),
        (34, "pause"),
        (0, "read"),
        (230, "clock_nanosleep"),
    ];
    let mut want = BTreeMap::new();
    for pid in [1, 6, 7] {
        for th in k.proc(pid)["threads"].as_array().expect("threads") {
            let tid = th["ns_tids"]
                .as_array()
                .and_then(|a| a.last())
                .expect("tid");
            let nr: i64 = th["syscall"]
                .as_str()
                .and_then(|s| s.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .expect("nr");
            let name = names.iter().find(|(n, _)| *n == nr).expect("known").1;
            want.insert(tid.to_string(), format!("{name} ({nr})"));
        }
    }
    assert_eq!(got, want);
}

/// `inspect --all` of a plain CRIU image directory draws no empty `Metadata` node.
#[test]
fn inspect_all_of_an_image_dir_has_no_empty_metadata_node() {
    let Some(fx) = fixtures() else { return };
    let o = common::run_timeout(
        60,
        &[
            common::ckptfs(),
            "inspect",
            "--all",
            &fx.join("secretd-plain/images").to_string_lossy(),
        ],
    );
    assert!(o.ok(), "{o}");
    let out = o.stdout_text();
    assert!(out.contains("── Process tree"), "{out}");
    assert!(!out.contains("── Metadata"), "{out}");
}

/// `ckptfs list DIR` finds every checkpoint whatever its name (a Podman export, a plain CRIU
/// image directory) and says on stderr what it skipped and why.
#[test]
fn list_finds_checkpoints_whatever_their_names() {
    let Some(fx) = fixtures() else { return };
    let t = common::TempDir::new("kitchen-list");
    let d = t.join("dir");
    std::fs::create_dir_all(d.join("plain-dump")).unwrap();
    std::fs::copy(
        fx.join("podman-kitchen/checkpoint.tar.gz"),
        d.join("kitchen-export.bin"),
    )
    .unwrap();
    for e in std::fs::read_dir(fx.join("secretd-plain/images"))
        .unwrap()
        .flatten()
    {
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), d.join("plain-dump").join(e.file_name())).unwrap();
        }
    }
    std::fs::write(d.join("notes.txt"), b"not a checkpoint\n").unwrap();
    std::fs::write(d.join("README.md"), b"# not a checkpoint\n").unwrap();
    let o = common::run_timeout(60, &[common::ckptfs(), "list", &d.to_string_lossy()]);
    assert!(o.ok(), "{o}");
    let out = o.stdout_text();
    assert!(
        out.lines()
            .any(|l| l.contains("fx-kitchen") && l.ends_with("kitchen-export.bin")),
        "{out}"
    );
    assert!(out.lines().any(|l| l.ends_with("plain-dump")), "{out}");
    assert!(!out.contains("notes.txt"), "{out}");
    // Files that are not checkpoints at all: one line for the directory, naming them; an
    // archive that is not a checkpoint: its own line.
    let err = o.stderr_text();
    assert_eq!(
        err.lines()
            .filter(|l| l.contains("README.md") || l.contains("notes.txt"))
            .collect::<Vec<_>>(),
        [format!(
            "ckptfs: warning: {}: skipped 2 entries that are neither a CRIU image directory nor an archive: README.md, notes.txt",
            d.display()
        )],
        "{err}"
    );
    assert!(!err.contains("ckptfs: ckptfs:"), "{err}");
}
