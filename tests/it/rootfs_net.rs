//! `rootfs/`, `--rootfs`, `PID/net/*`, `fd/N` / `fdinfo/N`, `PID/pagemap` and `PID/mountinfo`,
//! mounted for real and checked with plain tools (cat, grep, sha256sum, readlink, dd, stat).
//!
//! - podman-busybox: `rootfs/` holds rootfs-diff.tar's file (served from the archive); `exe`
//!   points into `rootfs/` and hashing it fails (ENOENT) rather than reaching the host; httpd's
//!   listening socket in `net/tcp6`; pipes; fdinfo; mountinfo from mountpoints-13.img.
//! - podman-busybox `--rootfs DIR`: DIR under the diff; absolute and escaping symlinks of DIR stay
//!   inside `rootfs/`; `exe` hashes the container's file.
//! - secretd-plain: the TCP listener on 127.0.0.1:<READY port> in `net/tcp`; with `--rootfs`
//!   built from `aux/` at the recorded paths, the clean page of the mapped.dat VMA is filled from
//!   the file (sha256 = ground truth, marker found, SEEK_DATA sees it, pagemap bit 61 not 63);
//!   without it, not.
//!
//! Fixtures: `<CARGO_MANIFEST_DIR>/../shared/fixtures` (missing: skip; with CI=true: fail).

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{
    Mount, TempDir, cat, dd, fixtures, grep_count, run, run_ok, sha256_hex, sha256sum, stat,
};

fn readlink(p: &str) -> String {
    let o = run(&["readlink", p]);
    assert!(o.ok(), "readlink {p}: {o}");
    o.stdout_text().trim_end_matches('\n').to_string()
}

fn text(p: &str) -> String {
    String::from_utf8_lossy(&cat(p)).into_owned()
}

/// The pagemap entry of the page at `addr`, read with dd.
fn pagemap_entry(m: &Mount, pid: u32, addr: u64) -> u64 {
    let b = dd(&m.p(format!("{pid}/pagemap")), addr / 4096 * 8, 8);
    u64::from_le_bytes(b.try_into().expect("8 bytes"))
}

const PRESENT: u64 = 1 << 63;
const FILE: u64 = 1 << 61;

fn podman(fx: &Path) -> PathBuf {
    fx.join("podman-busybox/checkpoint.tar.gz")
}

#[test]
fn podman_rootfs_sockets_mountinfo() {
    let Some(fx) = fixtures() else { return };
    let m = Mount::new(&podman(&fx));
    // rootfs-diff.tar's file, read-only whatever its layer's mode (0644, as recorded), its owner.
    let f = m.p("rootfs/data/written-at-runtime.txt");
    assert!(text(&f).contains("PODBB-ROOTFS-DIFF-FILE-MARKER"));
    assert_eq!(grep_count("PODBB-ROOTFS-DIFF-FILE-MARKER", &f).0, 1);
    assert_eq!(stat("%A %u:%g", &f), "-rw-r--r-- 0:0");
    assert_eq!(stat("%F", &m.p("rootfs/data")), "directory");
    // The fixture's rootfs-diff.tar has no entry for `data/` (only the file): the default mode.
    assert_eq!(stat("%A", &m.p("rootfs/data")), "dr-x------");
    assert!(!run(&["touch", &m.p("rootfs/data/x")]).ok());
    // exe points into rootfs/; the binary is not in the checkpoint: hashing fails, never the host's.
    assert_eq!(readlink(&m.p("1/exe")), "../.link/rootfs/bin/busybox");
    let o = run(&["sha256sum", &m.p("1/exe")]);
    assert!(!o.ok(), "{o}");
    assert!(o.stderr_text().contains("No such file"), "{o}");
    assert_eq!(readlink(&m.p("1/root")), "../.link/rootfs");
    // Descriptors: pipes and httpd's socket.
    assert!(readlink(&m.p("1/fd/1")).starts_with("pipe:["));
    let sock = readlink(&m.p("6/fd/3"));
    assert!(sock.starts_with("socket:["), "{sock}");
    let ino = sock
        .trim_start_matches("socket:[")
        .trim_end_matches(']')
        .to_string();
    let fdinfo = text(&m.p("6/fdinfo/3"));
    assert!(fdinfo.starts_with("pos:\t0\n"), "{fdinfo}");
    assert!(fdinfo.contains(&format!("ino:\t{ino}\n")), "{fdinfo}");
    let fdinfo0 = text(&m.p("1/fdinfo/0"));
    assert!(
        fdinfo0.contains("flags:\t0100002\n") && fdinfo0.contains("mnt_id:\t79\n"),
        "{fdinfo0}"
    );
    // httpd listens on the IPv6 wildcard, port 8080 (the kernel shows it in tcp6, as here).
    let tcp6 = text(&m.p("6/net/tcp6"));
    let line = tcp6
        .lines()
        .find(|l| l.contains(&format!(" {ino} ")))
        .unwrap_or_else(|| panic!("socket {ino} not in tcp6:\n{tcp6}"));
    assert!(
        line.starts_with(
            "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A "
        ),
        "{line}"
    );
    assert!(tcp6.starts_with("  sl  local_address                         remote_address"));
    let tcp = text(&m.p("6/net/tcp"));
    assert_eq!(tcp.lines().count(), 1, "{tcp}");
    assert_eq!(tcp.lines().next().unwrap().len(), 149);
    // Namespace-wide: sh holds no socket and still sees httpd's listener.
    assert_eq!(
        text(&m.p("1/net/tcp6")),
        tcp6,
        "1/net/tcp6 lists the namespace"
    );
    assert_eq!(
        text(&m.p("1/net/unix")),
        "Num       RefCount Protocol Flags    Type St Inode Path\n"
    );
    // mountinfo: the kernel's format and order (root first).
    let mi = text(&m.p("1/mountinfo"));
    let first = mi.lines().next().unwrap();
    assert!(
        first.starts_with("77 50 0:40 / / rw,relatime - overlay overlay rw,lowerdir="),
        "{first}"
    );
    assert!(
        mi.contains("\n78 77 0:43 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"),
        "{mi}"
    );
    assert!(mi.contains(" /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=64000k\n"));
    for l in mi.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        let dash = f.iter().position(|x| *x == "-").expect("separator");
        assert!(dash >= 6 && f.len() == dash + 4, "{l}");
    }
    // pagemap: size 0 like the kernel's (so recursive scanners skip it), read by offset:
    // 8 bytes per page of mem; a dumped stack page is present.
    // (`1/pagemap` is a link into the hidden `.link/`: `stat -L` follows it.)
    let pm_size: u64 = run_ok(&["stat", "-L", "-c", "%s", &m.p("1/pagemap")])
        .stdout_text()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pm_size, 0, "pagemap reports size 0 like /proc/PID/pagemap");
    let maps = text(&m.p("1/maps"));
    let stack = maps.lines().find(|l| l.ends_with("[stack]")).unwrap();
    let (s, e) = stack.split(' ').next().unwrap().split_once('-').unwrap();
    let (s, e) = (
        u64::from_str_radix(s, 16).unwrap(),
        u64::from_str_radix(e, 16).unwrap(),
    );
    let top = pagemap_entry(&m, 1, e - 4096);
    assert_eq!(top & PRESENT, PRESENT, "top of the stack is dumped");
    assert_eq!(top & ((1 << 55) - 1), 0, "no PFN");
    // Below the stack nothing is mapped: no entry, EIO (as `mem` answers there).
    let below = common::try_dd(&m.p("1/pagemap"), (s - 4096) / 4096 * 8, 8);
    assert!(
        below
            .as_ref()
            .is_err_and(|e| e.contains("Input/output error")),
        "below the stack: {below:?}"
    );
    // Nothing below rootfs/ leads out of the mount.
    let o = run(&["find", "-L", &m.p("rootfs"), "-type", "f"]);
    assert!(o.ok(), "{o}");
    m.unmount();
}

#[test]
fn podman_with_image_rootfs() {
    let Some(fx) = fixtures() else { return };
    let t = TempDir::new("rootfs-img");
    let img = t.join("image");
    fs::create_dir_all(img.join("bin")).unwrap();
    fs::create_dir_all(img.join("data")).unwrap();
    fs::create_dir_all(img.join("etc")).unwrap();
    fs::write(img.join("bin/busybox"), b"FAKE-BUSYBOX-FROM-IMAGE\n").unwrap();
    let mut perms = fs::metadata(img.join("bin/busybox")).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o4755);
    fs::set_permissions(img.join("bin/busybox"), perms).unwrap();
    fs::write(img.join("data/written-at-runtime.txt"), b"LOWER").unwrap();
    fs::write(img.join("etc/hostname"), b"image-host\n").unwrap();
    std::os::unix::fs::symlink("/bin/busybox", img.join("bin/sh")).unwrap();
    std::os::unix::fs::symlink("/", img.join("bin/up")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../etc/hostname", img.join("bin/far")).unwrap();
    // A host file outside the image, reachable only by following a symlink out of it.
    let outside = t.join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("secret"), b"HOST-SECRET").unwrap();
    std::os::unix::fs::symlink(&outside, img.join("out")).unwrap();

    let m = Mount::with_args(&podman(&fx), &["--rootfs", &img.to_string_lossy()])
        .unwrap_or_else(|o| panic!("mount --rootfs: {o}"));
    // exe hashes the container's file (from the image).
    assert_eq!(
        sha256sum(&m.p("1/exe")),
        sha256_hex(b"FAKE-BUSYBOX-FROM-IMAGE\n")
    );
    // The image file's own mode (4755 here), as recorded: the mount is nosuid and read-only.
    assert_eq!(stat("%A", &m.p("rootfs/bin/busybox")), "-rwsr-xr-x");
    // The diff lies over the image.
    assert!(text(&m.p("rootfs/data/written-at-runtime.txt")).contains("PODBB-ROOTFS-DIFF"));
    // Symlinks: rewritten to stay inside rootfs/.
    assert_eq!(readlink(&m.p("rootfs/bin/sh")), "../bin/busybox");
    assert_eq!(
        sha256sum(&m.p("rootfs/bin/sh")),
        sha256_hex(b"FAKE-BUSYBOX-FROM-IMAGE\n")
    );
    assert_eq!(readlink(&m.p("rootfs/bin/up")), "..");
    assert_eq!(readlink(&m.p("rootfs/bin/far")), "../etc/hostname");
    assert_eq!(text(&m.p("rootfs/bin/far")), "image-host\n");
    let out_target = readlink(&m.p("rootfs/out"));
    assert!(!out_target.starts_with('/'), "{out_target}");
    let o = run(&["cat", &m.p("rootfs/out/secret")]);
    assert!(!o.ok() && !o.stdout_text().contains("HOST-SECRET"), "{o}");
    assert_eq!(
        text(&m.p("rootfs/bin/up/etc/hostname")),
        "image-host\n",
        "`/` means rootfs/"
    );
    // grep -R over the whole mount never reaches the host file.
    // (exit 2: it warns about the `up -> ..` loop and the dangling `out`, as on any rootfs.)
    let o = run(&["grep", "-R", "-l", "HOST-SECRET", &m.p("rootfs")]);
    assert!(matches!(o.code, Some(1) | Some(2)), "{o}");
    assert!(o.stdout.is_empty(), "{o}");
    m.unmount();
    // A missing --rootfs directory is a clear error.
    let o = Mount::with_args(&podman(&fx), &["--rootfs", "/nonexistent-ckptfs-rootfs"]);
    let o = o.err().expect("mount must fail");
    assert!(o.stderr_text().contains("--rootfs"), "{o}");
}

/// Directories of rootfs-diff.tar take their entry's mode as recorded, as files do; implicit
/// parents keep the defaults (owner-only unless `--allow-other`). A synthetic Podman archive, since the fixture's tar has no directory entry.
#[test]
fn rootfs_entry_modes_and_times_from_the_tar() {
    use ckptfs::writer::{CheckpointWriter, Compression, Layout};
    let t = TempDir::new("rootfs-dirs");
    let diff = {
        let mut b = tar::Builder::new(Vec::new());
        for (path, mode) in [
            ("srv/app/", 0o2751),
            ("srv/app/cache", 0o1777),
            ("notes", 0o644),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            h.set_mode(mode);
            h.set_mtime(1_764_341_257);
            b.append_data(&mut h, path, &[][..]).unwrap();
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(6);
        h.set_mode(0o640);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, "srv/app/cache/MARKER", &b"MARKER"[..])
            .unwrap();
        b.into_inner().unwrap()
    };
    let mut w = CheckpointWriter::new();
    w.process(1, 0).comm("app");
    w.archive_file("rootfs-diff.tar", &diff);
    let ck = t.join("ck.tar");
    w.write_tar(&ck, &Layout::podman("dirs"), Compression::None)
        .unwrap();

    let m = Mount::new(&ck);
    // The layer's own bits as recorded, all of them, mount public or not (the tree stays
    // read-only and nosuid whatever they say): 2751, 1777, 644 (no x anywhere: listable by name,
    // not searchable, like a 0644 file is not executable).
    assert_eq!(stat("%A", &m.p("rootfs/srv/app")), "drwxr-s--x");
    assert_eq!(stat("%A", &m.p("rootfs/srv/app/cache")), "drwxrwxrwt");
    assert_eq!(stat("%A", &m.p("rootfs/notes")), "drw-r--r--");
    assert_eq!(stat("%A", &m.p("rootfs/srv")), "dr-x------", "implicit");
    assert_eq!(cat(&m.p("rootfs/srv/app/cache/MARKER")), b"MARKER");
    assert_eq!(
        stat("%A", &m.p("rootfs/srv/app/cache/MARKER")),
        "-rw-r-----"
    );
    // Times: each entry's own from the tar (`ls -l` in rootfs/ shows the layer's times).
    assert_eq!(stat("%Y", &m.p("rootfs/srv/app")), "1764341257");
    assert_eq!(
        stat("%Y", &m.p("rootfs/srv/app/cache/MARKER")),
        "1700000000"
    );
    assert!(!run(&["mkdir", &m.p("rootfs/srv/app/new")]).ok());
    m.unmount();

    // Public: the layer's own bits as recorded; implicit parents r-xr-xr-x.
    let m = Mount::with_args(&ck, &["--allow-other"]).unwrap_or_else(|o| panic!("{o}"));
    assert_eq!(stat("%A", &m.p("rootfs/srv/app")), "drwxr-s--x");
    assert_eq!(stat("%a", &m.p("rootfs/srv/app")), "2751");
    assert_eq!(stat("%A", &m.p("rootfs/srv/app/cache")), "drwxrwxrwt");
    assert_eq!(stat("%A", &m.p("rootfs/notes")), "drw-r--r--");
    assert_eq!(stat("%A", &m.p("rootfs/srv")), "dr-xr-xr-x", "implicit");
    assert_eq!(
        stat("%A", &m.p("rootfs/srv/app/cache/MARKER")),
        "-rw-r-----"
    );
    assert!(!run(&["mkdir", &m.p("rootfs/srv/app/new")]).ok());
    m.unmount();
}

struct Secretd {
    input: PathBuf,
    truth: serde_json::Value,
    port: u16,
}

fn secretd(fx: &Path) -> Secretd {
    let dir = fx.join("secretd-plain");
    let truth: serde_json::Value =
        common::read_json(&dir.join("ground-truth.json"));
    let readme = fs::read_to_string(dir.join("README.md")).unwrap();
    let port = readme
        .split_whitespace()
        .find_map(|w| w.strip_prefix("port="))
        .and_then(|p| p.parse().ok())
        .expect("README READY line has port=");
    Secretd {
        input: dir.join("images"),
        truth,
        port,
    }
}

/// The parent's VMA of mapped.dat: (start, end, recorded path, sha256).
fn mapped_vma(s: &Secretd) -> (u64, u64, String, String) {
    let p = &s.truth["processes"][0];
    let v = p["vmas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| {
            v["path"]
                .as_str()
                .is_some_and(|x| x.ends_with("/mapped.dat"))
        })
        .expect("mapped.dat VMA");
    let hex = |k: &str| u64::from_str_radix(v[k].as_str().unwrap().trim_start_matches("0x"), 16);
    (
        hex("start").unwrap(),
        hex("end").unwrap(),
        v["path"].as_str().unwrap().to_string(),
        v["sha256"].as_str().unwrap().to_string(),
    )
}

fn pid0(s: &Secretd) -> u32 {
    let ns = s.truth["processes"][0]["ns_pids"].as_array().unwrap();
    ns.last().unwrap().as_u64().unwrap() as u32
}

#[test]
fn secretd_tcp_listener() {
    let Some(fx) = fixtures() else { return };
    let s = secretd(&fx);
    let m = Mount::new(&s.input);
    for p in s.truth["processes"].as_array().unwrap() {
        let pid = p["ns_pids"].as_array().unwrap().last().unwrap();
        let truth_link = p["fds"]["4"].as_str().unwrap();
        assert_eq!(readlink(&m.p(format!("{pid}/fd/4"))), truth_link);
        let ino = truth_link
            .trim_start_matches("socket:[")
            .trim_end_matches(']');
        let tcp = text(&m.p(format!("{pid}/net/tcp")));
        let want = format!(
            "   0: 0100007F:{:04X} 00000000:0000 0A 00000000:00000000 00:00000000 00000000 ",
            s.port
        );
        let l = tcp.lines().nth(1).unwrap_or_default();
        assert!(l.starts_with(&want), "{pid}/net/tcp:\n{tcp}");
        assert!(l.contains(&format!(" {ino} ")), "{l}");
        // pipes
        assert_eq!(
            readlink(&m.p(format!("{pid}/fd/5"))),
            p["fds"]["5"].as_str().unwrap()
        );
        let fdinfo = text(&m.p(format!("{pid}/fdinfo/4")));
        assert!(fdinfo.contains(&format!("ino:\t{ino}\n")), "{fdinfo}");
    }
    // No mountpoints image in a plain CRIU dump of a process: an empty mountinfo.
    assert_eq!(cat(&m.p(format!("{}/mountinfo", pid0(&s)))), b"");
    m.unmount();
}

#[test]
fn secretd_file_pages_from_rootfs() {
    let Some(fx) = fixtures() else { return };
    let s = secretd(&fx);
    let (start, end, path, sha) = mapped_vma(&s);
    let pid = pid0(&s);
    let range = format!("{pid}/memory/{start:x}-{end:x}");
    let marker = "SECRETD-MAPPED-FILE-A1";

    // Without --rootfs: the clean page is not in the checkpoint.
    let m = Mount::new(&s.input);
    assert_ne!(sha256sum(&m.p(&range)), sha);
    assert_eq!(grep_count(marker, &m.p(&range)).0, 0);
    assert_eq!(pagemap_entry(&m, pid, start), 0);
    m.unmount();

    // With --rootfs: aux/ files placed at their recorded paths.
    let t = TempDir::new("rootfs-aux");
    let root = t.join("root");
    let aux = fx.join("secretd-plain/aux");
    let dir = Path::new(&path).parent().unwrap();
    let at = root.join(dir.strip_prefix("/").unwrap());
    fs::create_dir_all(&at).unwrap();
    for f in ["mapped.dat", "open.log"] {
        fs::copy(aux.join(f), at.join(f)).unwrap();
    }
    let m = Mount::with_args(&s.input, &["--rootfs", &root.to_string_lossy()])
        .unwrap_or_else(|o| panic!("mount --rootfs: {o}"));
    assert_eq!(
        sha256sum(&m.p(&range)),
        sha,
        "{range} hashes like the live process"
    );
    assert_eq!(grep_count(marker, &m.p(&range)).0, 1);
    // SEEK_DATA in mem reports the filled page (hole-skipping readers find it).
    let f = fs::File::open(m.join(format!("{pid}/mem"))).unwrap();
    // SAFETY: plain lseek on an open descriptor.
    let r = unsafe {
        libc::lseek(
            std::os::fd::AsRawFd::as_raw_fd(&f),
            start as libc::off_t,
            libc::SEEK_DATA,
        )
    };
    assert_eq!(r as u64, start, "SEEK_DATA at the filled page");
    drop(f);
    let e = pagemap_entry(&m, pid, start);
    assert_eq!(e & FILE, FILE, "a file page");
    assert_eq!(e & PRESENT, 0, "not dumped");
    // Dumped pages stay present; the never-touched page of the pattern region stays a hole.
    assert_eq!(pagemap_entry(&m, pid, 0x5ec0_0000_0000) & PRESENT, PRESENT);
    assert_eq!(pagemap_entry(&m, pid, 0x5ec0_0020_0000), 0);
    // fd/3 (open.log) resolves inside the mount to the image's copy.
    let fd3 = readlink(&m.p(format!("{pid}/fd/3")));
    assert!(fd3.starts_with("../../.link/rootfs/"), "{fd3}");
    assert_eq!(
        cat(&m.p(format!("{pid}/fd/3"))),
        fs::read(aux.join("open.log")).unwrap()
    );
    m.unmount();
}

/// A ghost file (open but deleted, content saved by CRIU): a synthetic checkpoint from the
/// in-repo writer plus hand-encoded `remap-fpath.img` and `ghost-file-<id>.img`.
#[test]
fn ghost_file_is_readable_through_its_fd() {
    use ckptfs::image::{decode_all, magic, pb};
    use ckptfs::model::ghost::RemapFilePathEntry;
    use ckptfs::writer::{CheckpointWriter, File, encode_frames, encode_image};

    let t = TempDir::new("ghost");
    let dir = t.join("images");
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("app")
        .cmdline(&["/app"])
        .fd(3, File::reg("/tmp/gone.txt"))
        .fd(4, File::reg("/tmp/kept.txt"))
        .exe("/app");
    w.write_dir(&dir).unwrap();
    let files: Vec<pb::FileEntry> = decode_all(
        "files.img",
        &fs::read(dir.join("files.img")).unwrap(),
        magic::FILES,
    )
    .unwrap();
    let id = files
        .iter()
        .find(|f| f.reg.as_ref().is_some_and(|r| r.name == b"/tmp/gone.txt"))
        .expect("the file object")
        .id;
    let remap = RemapFilePathEntry {
        orig_id: id,
        remap_id: 0x2a,
        remap_type: Some(1),
    };
    fs::write(
        dir.join("remap-fpath.img"),
        encode_image(magic::REMAP_FPATH, &[remap]),
    )
    .unwrap();
    let content = b"GHOST-FILE-CONTENT-MARKER\n";
    let g = pb::GhostFileEntry {
        mode: 0o100640,
        size: Some(content.len() as u64),
        ..Default::default()
    };
    let mut img = encode_frames(magic::GHOST_FILE, &[prost::Message::encode_to_vec(&g)]);
    img.extend_from_slice(content);
    fs::write(dir.join("ghost-file-2a.img"), img).unwrap();

    let m = Mount::new(&dir);
    assert_eq!(
        readlink(&m.p("1/fd/3")),
        "../../.link/rootfs/tmp/gone.txt (deleted)"
    );
    assert_eq!(cat(&m.p("1/fd/3")), content);
    assert_eq!(
        cat(&m.p("rootfs/tmp/gone.txt (deleted)")),
        content,
        "rootfs/ shows it where the link leads"
    );
    let o = run(&[
        "grep",
        "-r",
        "-l",
        "GHOST-FILE-CONTENT-MARKER",
        &m.p("rootfs"),
    ]);
    assert!(o.stdout_text().contains("gone.txt (deleted)"), "{o}");
    assert_eq!(readlink(&m.p("1/fd/4")), "../../.link/rootfs/tmp/kept.txt");
    assert!(!run(&["cat", &m.p("1/fd/4")]).ok(), "not in the checkpoint");
    m.unmount();
}
