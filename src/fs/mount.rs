//! Mounting and unmounting: the session configuration, mount point checks, readiness and the
//! unmount helpers (`umount2` as root, `fusermount3 -u` / `fusermount -u` otherwise).
//!
//! fuser's `AutoUnmount` is never used (broken here: stale mounts, hangs); the CLI unmounts
//! explicitly on SIGINT / SIGTERM / SIGHUP and `ckptfs umount` works on stale mounts too.

use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use rustix::mount::UnmountFlags;

use fuser::{BackgroundSession, Config, Session, SessionACL};
use log::debug;

/// The session configuration: multi-threaded (2 to 8 threads), one cloned /dev/fuse fd per
/// thread; `allow_other` lets every user in (the modes then open reading to all).
///
/// The mount itself is done by [`mount_fuse`], not by fuser: fuser's unmount-on-drop would
/// unmount the path again when the session ends after an external unmount, and could so take
/// down a new mount made at the same place in the meantime.
pub fn config(allow_other: bool) -> Config {
    let mut c = Config::default();
    c.acl = if allow_other {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    let n = std::thread::available_parallelism().map_or(2, |n| n.get());
    c.n_threads = Some(n.clamp(2, 8));
    c.clone_fd = true;
    c
}

/// Mount flags: read-only, no setuid, no devices, no exec, no atime.
const MS_FLAGS: rustix::mount::MountFlags = rustix::mount::MountFlags::RDONLY
    .union(rustix::mount::MountFlags::NOSUID)
    .union(rustix::mount::MountFlags::NODEV)
    .union(rustix::mount::MountFlags::NOEXEC)
    .union(rustix::mount::MountFlags::NOATIME);

/// Mounts a FUSE file system at `mountpoint` (type `fuse.ckptfs`, source `ckptfs`) and returns
/// the /dev/fuse descriptor the kernel will talk on. Root mounts with mount(2); other users
/// through the setuid helper `fusermount3` (or `fusermount`), as libfuse does. Without
/// `default_permissions`: the modes and owners we report are the checkpoint's evidence, and who
/// may read is decided by ckptfs itself (`fs::fuse`: the mounting user, or everyone with
/// `allow_other`; the kernel already turns away other users without it).
pub fn mount_fuse(mountpoint: &Path, allow_other: bool) -> io::Result<OwnedFd> {
    let (uid, gid) = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/fuse");
    let dev = match dev {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(io::Error::new(
                e.kind(),
                "/dev/fuse does not exist (is the fuse module loaded? try: modprobe fuse)",
            ));
        }
        // Not root and no access to /dev/fuse: the helper can still do it.
        Err(_) if uid != 0 => return fusermount_mount(mountpoint, allow_other),
        Err(e) => return Err(e),
    };
    let opts = format!(
        "fd={},rootmode=40000,user_id={uid},group_id={gid}{}",
        dev.as_raw_fd(),
        if allow_other { ",allow_other" } else { "" }
    );
    let target = cstr(mountpoint.as_os_str().as_bytes())?;
    let data = cstr(opts.as_bytes())?;
    let mut last = io::Error::from_raw_os_error(libc::EINVAL);
    for fstype in ["fuse.ckptfs", "fuse"] {
        let r = rustix::mount::mount(
            "ckptfs",
            target.as_c_str(),
            fstype,
            MS_FLAGS,
            data.as_c_str(),
        );
        match r {
            Ok(()) => return Ok(dev.into()),
            Err(e) => last = e.into(),
        }
        match last.raw_os_error() {
            // Not allowed to mount: let the setuid helper do it.
            Some(libc::EPERM) if uid != 0 => return fusermount_mount(mountpoint, allow_other),
            // An old kernel without subtypes: plain "fuse".
            Some(libc::EINVAL) | Some(libc::ENODEV) => continue,
            _ => break,
        }
    }
    Err(last)
}

fn cstr(b: &[u8]) -> io::Result<CString> {
    CString::new(b)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Mounts through `fusermount3` / `fusermount`: it mounts and passes the /dev/fuse descriptor
/// back over a socket (`_FUSE_COMMFD`, SCM_RIGHTS).
fn fusermount_mount(mountpoint: &Path, allow_other: bool) -> io::Result<OwnedFd> {
    let mut opts = "ro,nosuid,nodev,noexec,noatime,fsname=ckptfs,subtype=ckptfs".to_string();
    if allow_other {
        opts.push_str(",allow_other");
    }
    let mut not_found = None;
    for bin in ["fusermount3", "fusermount"] {
        let (ours, theirs) = UnixStream::pair()?;
        let theirs_fd = theirs.as_raw_fd();
        let mut cmd = Command::new(bin);
        cmd.arg("-o")
            .arg(&opts)
            .arg("--")
            .arg(mountpoint)
            .env("_FUSE_COMMFD", theirs_fd.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: the closure only calls fcntl (async-signal-safe) on a descriptor that stays
        // open in the child until exec.
        unsafe {
            cmd.pre_exec(move || {
                let fl = libc::fcntl(theirs_fd, libc::F_GETFD);
                if fl == -1 || libc::fcntl(theirs_fd, libc::F_SETFD, fl & !libc::FD_CLOEXEC) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                not_found = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        drop(theirs);
        let received = receive_fd(&ours);
        drop(ours);
        let out = child.wait_with_output()?;
        return match received {
            Ok(fd) => Ok(fd),
            Err(e) => {
                let err = String::from_utf8_lossy(&out.stderr);
                let line = err.lines().next().unwrap_or("").trim();
                Err(io::Error::other(if line.is_empty() {
                    format!("{bin}: {e}")
                } else if line.starts_with(bin) {
                    line.to_string()
                } else {
                    format!("{bin}: {line}")
                }))
            }
        };
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "mounting as a normal user needs fusermount3 (install fuse3): {}",
            not_found.map_or_else(String::new, |e| e.to_string())
        ),
    ))
}

/// Receives one descriptor sent with SCM_RIGHTS.
fn receive_fd(sock: &UnixStream) -> io::Result<OwnedFd> {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut byte = [0u8; 1];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let msg = loop {
        match rustix::net::recvmsg(
            sock,
            &mut [io::IoSliceMut::new(&mut byte)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            r => break r?,
        }
    };
    if msg.bytes == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "no descriptor received",
        ));
    }
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = m
            && let Some(fd) = fds.next()
        {
            return Ok(fd);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "no descriptor in the message",
    ))
}

/// Mounts `fs` at `mountpoint` and starts serving it in background threads. When this returns,
/// the kernel has completed the FUSE handshake and requests are being answered: the tree is
/// ready. [`BackgroundSession::join`] waits until the tree is unmounted ([`unmount`], by
/// `ckptfs umount` or from the signal watcher). Nothing unmounts on drop.
pub fn start<FS: super::Filesystem>(
    fs: FS,
    mountpoint: &Path,
    allow_other: bool,
) -> io::Result<BackgroundSession> {
    let fd = mount_fuse(mountpoint, allow_other)?;
    let cfg = config(allow_other);
    let acl = cfg.acl;
    let session = match Session::from_fd(super::fuse::Fuse::new(fs), fd, acl, cfg) {
        Ok(s) => s,
        Err(e) => {
            let _ = unmount(mountpoint, true);
            return Err(e);
        }
    };
    let bg = match session.spawn() {
        Ok(bg) => bg,
        Err(e) => {
            let _ = unmount(mountpoint, true);
            return Err(e);
        }
    };
    raise_readahead(mountpoint);
    Ok(bg)
}

/// As root, raises the mount's readahead (the bdi's read_ahead_kb, 128 KiB by default) to 1 MiB,
/// so sequential readers get 1 MiB requests. Best effort: failures are only logged.
pub fn raise_readahead(mountpoint: &Path) {
    if !rustix::process::geteuid().is_root() {
        return;
    }
    let dev = match std::fs::metadata(mountpoint) {
        Ok(m) => m.dev(),
        Err(e) => {
            debug!("readahead: stat {}: {e}", mountpoint.display());
            return;
        }
    };
    let (maj, min) = (libc::major(dev), libc::minor(dev));
    let path = format!("/sys/class/bdi/{maj}:{min}/read_ahead_kb");
    match std::fs::write(&path, "1024") {
        Ok(()) => debug!("readahead: {path} = 1024"),
        Err(e) => debug!("readahead: {path}: {e}"),
    }
}

/// Why a directory cannot be used as a mount point.
#[derive(Debug)]
pub enum MountpointError {
    Missing,
    NotDir,
    NotEmpty,
    AlreadyMounted,
    /// A FUSE mount whose daemon is gone (ENOTCONN).
    Stale,
    Io(io::Error),
}

impl fmt::Display for MountpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MountpointError::Missing => write!(f, "mount point does not exist"),
            MountpointError::NotDir => write!(f, "mount point is not a directory"),
            MountpointError::NotEmpty => write!(f, "mount point is not empty"),
            MountpointError::AlreadyMounted => {
                write!(f, "already a mount point (unmount it first: ckptfs umount)")
            }
            MountpointError::Stale => write!(
                f,
                "a stale mount is there (its daemon is gone): run ckptfs umount on it first"
            ),
            MountpointError::Io(e) => {
                let s = e.to_string();
                write!(f, "{}", s.split(" (os error ").next().unwrap_or(&s))
            }
        }
    }
}

/// Checks that `path` is an existing, empty directory that is not a mount point, and returns
/// its canonical (absolute) form.
pub fn check_mountpoint(path: &Path) -> Result<PathBuf, MountpointError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(MountpointError::Missing),
        Err(e) if is_dead_connection(&e) => return Err(MountpointError::Stale),
        Err(e) => return Err(MountpointError::Io(e)),
    };
    if !meta.is_dir() {
        return Err(MountpointError::NotDir);
    }
    let canon = std::fs::canonicalize(path).map_err(stale_or_io)?;
    let mounted = find_mount(&canon).is_some() || is_mount_root(&canon, &meta);
    // A dead FUSE mount may still answer stat from the kernel's cache; listing it tells.
    let mut entries = std::fs::read_dir(&canon).map_err(stale_or_io)?;
    if mounted {
        return Err(MountpointError::AlreadyMounted);
    }
    if entries.next().is_some() {
        return Err(MountpointError::NotEmpty);
    }
    Ok(canon)
}

/// A FUSE mount whose daemon died answers ENOTCONN, or ECONNABORTED while the kernel is still
/// tearing down the connection's in-flight requests.
pub fn is_dead_connection(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOTCONN) | Some(libc::ECONNABORTED)
    )
}

fn stale_or_io(e: io::Error) -> MountpointError {
    if is_dead_connection(&e) {
        MountpointError::Stale
    } else {
        MountpointError::Io(e)
    }
}

/// True when `path` is on another device than its parent (the root of a mount).
fn is_mount_root(path: &Path, meta: &std::fs::Metadata) -> bool {
    match path.parent().map(std::fs::metadata) {
        Some(Ok(pm)) => pm.dev() != meta.dev() || pm.ino() == meta.ino(),
        _ => true,
    }
}

/// A line of /proc/self/mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    pub fstype: String,
    pub source: String,
}

/// The last mount at `path` in /proc/self/mountinfo (the one visible there), if any.
pub fn find_mount(path: &Path) -> Option<MountEntry> {
    let text = std::fs::read("/proc/self/mountinfo").ok()?;
    parse_mountinfo(&text)
        .into_iter()
        .rfind(|m| m.mount_point == path)
}

/// Parses mountinfo (`36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw`), with
/// its octal escapes (`\040` for a space).
pub fn parse_mountinfo(text: &[u8]) -> Vec<MountEntry> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == b"-") else {
            continue;
        };
        let (Some(mp), Some(fstype), Some(source)) =
            (fields.get(4), fields.get(sep + 1), fields.get(sep + 2))
        else {
            continue;
        };
        out.push(MountEntry {
            mount_point: PathBuf::from(std::ffi::OsStr::from_bytes(&unescape(mp))),
            fstype: String::from_utf8_lossy(&unescape(fstype)).into_owned(),
            source: String::from_utf8_lossy(&unescape(source)).into_owned(),
        });
    }
    out
}

fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if let (Some(b'\\'), Some(oct)) = (s.get(i), s.get(i + 1..i + 4))
            && oct.iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = oct.iter().fold(0u32, |a, c| a * 8 + u32::from(c - b'0'));
            if let Ok(b) = u8::try_from(v) {
                out.push(b);
                i += 4;
                continue;
            }
        }
        if let Some(&b) = s.get(i) {
            out.push(b);
        }
        i += 1;
    }
    out
}

/// An absolute, lexically normalised form of `path` that touches nothing on disk (so it works
/// on a stale mount, where stat answers ENOTCONN).
pub fn absolute(path: &Path) -> io::Result<PathBuf> {
    let base = if path.is_absolute() {
        PathBuf::from("/")
    } else {
        std::env::current_dir()?
    };
    let mut out = base;
    for c in path.components() {
        match c {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
        }
    }
    Ok(out)
}

/// Why an unmount failed.
#[derive(Debug)]
pub enum UnmountError {
    NotMounted,
    Busy,
    Other(String),
}

impl fmt::Display for UnmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnmountError::NotMounted => write!(f, "not mounted"),
            UnmountError::Busy => write!(
                f,
                "busy: a process is using it (its working directory or an open file); close it, or use --lazy"
            ),
            UnmountError::Other(s) => write!(f, "{s}"),
        }
    }
}

/// Unmounts the FUSE mount at `path` (also a stale one). If it is busy: with `lazy`, detaches it
/// (it goes away when its last user does), else [`UnmountError::Busy`].
/// As root with umount2(2); otherwise through the setuid helper `fusermount3 -u` (or `fusermount`).
pub fn unmount(path: &Path, lazy: bool) -> Result<(), UnmountError> {
    if rustix::process::geteuid().is_root() {
        match umount2(path, UnmountFlags::empty()) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && lazy => {
                umount2(path, UnmountFlags::DETACH).map_err(|e| UnmountError::Other(e.to_string()))
            }
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => Err(UnmountError::Busy),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Err(UnmountError::NotMounted),
            Err(e) => Err(UnmountError::Other(e.to_string())),
        }
    } else {
        match fusermount(path, false) {
            Err(UnmountError::Busy) if lazy => fusermount(path, true),
            r => r,
        }
    }
}

fn umount2(path: &Path, flags: UnmountFlags) -> io::Result<()> {
    Ok(rustix::mount::unmount(path, flags)?)
}

fn fusermount(path: &Path, lazy: bool) -> Result<(), UnmountError> {
    let mut last = None;
    for bin in ["fusermount3", "fusermount"] {
        let mut cmd = Command::new(bin);
        cmd.arg("-u");
        if lazy {
            cmd.arg("-z");
        }
        cmd.arg("--").arg(path);
        match cmd.output() {
            Ok(out) if out.status.success() => return Ok(()),
            Ok(out) => {
                let err = String::from_utf8_lossy(&out.stderr);
                let line = err.lines().next().unwrap_or("").trim().to_string();
                return Err(if line.contains("busy") {
                    UnmountError::Busy
                } else if line.contains("not found in") || line.contains("not mounted") {
                    UnmountError::NotMounted
                } else {
                    UnmountError::Other(format!("{bin}: {line}"))
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => last = Some(e),
            Err(e) => return Err(UnmountError::Other(format!("{bin}: {e}"))),
        }
    }
    Err(UnmountError::Other(format!(
        "unmounting needs root or fusermount3 / fusermount (install fuse3): {}",
        last.map_or_else(String::new, |e| e.to_string())
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_parsing() {
        let text = b"22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
            97 22 0:50 / /tmp/with\\040space rw,nosuid,nodev,relatime - fuse ckptfs ro,user_id=0\n\
            98 22 0:51 / /x rw shared:1 master:2 - fuse.sshfs a@b:/ rw\n\
            garbage line\n";
        let v = parse_mountinfo(text);
        assert_eq!(v.len(), 3);
        assert_eq!(v[1].mount_point, PathBuf::from("/tmp/with space"));
        assert_eq!(v[1].fstype, "fuse");
        assert_eq!(v[1].source, "ckptfs");
        assert_eq!(v[2].fstype, "fuse.sshfs");
        assert_eq!(v[2].mount_point, PathBuf::from("/x"));
    }

    #[test]
    fn receive_fd_takes_the_descriptor_sent_with_scm_rights() {
        use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
        use std::os::fd::AsFd;
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        let (ours, theirs) = UnixStream::pair().unwrap();
        let fds = [file.as_fd()];
        let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
        sendmsg(
            &theirs,
            &[io::IoSlice::new(b"x")],
            &mut control,
            SendFlags::empty(),
        )
        .unwrap();
        let got = std::fs::File::from(receive_fd(&ours).unwrap());
        let (a, b) = (got.metadata().unwrap(), file.metadata().unwrap());
        assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()));
        let cloexec = rustix::io::fcntl_getfd(&got).unwrap();
        assert!(cloexec.contains(rustix::io::FdFlags::CLOEXEC));

        // A byte without a descriptor, then the peer gone.
        sendmsg(
            &theirs,
            &[io::IoSlice::new(b"x")],
            &mut SendAncillaryBuffer::default(),
            SendFlags::empty(),
        )
        .unwrap();
        let e = receive_fd(&ours).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        drop(theirs);
        let e = receive_fd(&ours).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
    }

    #[test]
    fn absolute_is_lexical() {
        assert_eq!(
            absolute(Path::new("/a/./b/../c/")).unwrap(),
            PathBuf::from("/a/c")
        );
        assert_eq!(absolute(Path::new("/../..")).unwrap(), PathBuf::from("/"));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute(Path::new("x")).unwrap(), cwd.join("x"));
    }

    #[test]
    fn mountpoint_checks() {
        let base = std::env::temp_dir().join(format!("ckptfs-mp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("empty")).unwrap();
        std::fs::create_dir_all(base.join("full/x")).unwrap();
        std::fs::write(base.join("file"), b"x").unwrap();
        assert!(check_mountpoint(&base.join("empty")).is_ok());
        assert!(matches!(
            check_mountpoint(&base.join("full")),
            Err(MountpointError::NotEmpty)
        ));
        assert!(matches!(
            check_mountpoint(&base.join("file")),
            Err(MountpointError::NotDir)
        ));
        assert!(matches!(
            check_mountpoint(&base.join("nope")),
            Err(MountpointError::Missing)
        ));
        assert!(matches!(
            check_mountpoint(Path::new("/proc")),
            Err(MountpointError::AlreadyMounted)
        ));
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn session_config() {
        let c = config(false);
        assert_eq!(c.acl, SessionACL::Owner);
        assert!(c.clone_fd);
        assert!(matches!(c.n_threads, Some(2..=8)));
        assert!(c.mount_options.is_empty(), "we mount ourselves");
        assert_eq!(config(true).acl, SessionACL::All);
    }
}
