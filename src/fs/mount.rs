//! Mounting and unmounting: the session configuration, mount point checks, readiness and the
//! unmount helpers (`umount2` as root, `fusermount3 -u` / `fusermount -u` otherwise).
//!
//! fuser's `AutoUnmount` is never used (broken here: stale mounts, hangs); the CLI unmounts
//! explicitly on SIGINT / SIGTERM / SIGHUP and `ckptfs umount` works on stale mounts too.

use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use fuser::{BackgroundSession, Config, MountOption, Session, SessionACL};
use log::debug;

use super::fuse::CkptFs;

/// The session configuration: read-only, nosuid, nodev, noexec, kernel permission checks on the
/// modes we report; `allow_other` opens it to every user. Multi-threaded, one cloned fd per thread.
pub fn config(allow_other: bool) -> Config {
    let mut c = Config::default();
    c.mount_options = vec![
        MountOption::FSName("ckptfs".into()),
        MountOption::Subtype("ckptfs".into()),
        MountOption::RO,
        MountOption::NoSuid,
        MountOption::NoDev,
        MountOption::NoExec,
        MountOption::NoAtime,
        MountOption::DefaultPermissions,
    ];
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

/// Mounts `fs` at `mountpoint` and starts serving it in background threads. When this returns,
/// the kernel has completed the FUSE handshake and requests are being answered: the tree is
/// ready. Dropping the handle unmounts; [`BackgroundSession::join`] waits until someone else
/// unmounts (`ckptfs umount`, or [`unmount`] from a signal handler thread).
pub fn start(fs: CkptFs, mountpoint: &Path, allow_other: bool) -> io::Result<BackgroundSession> {
    let session = Session::new(fs, mountpoint, &config(allow_other))?;
    let bg = session.spawn()?;
    raise_readahead(mountpoint);
    Ok(bg)
}

/// As root, raises the mount's readahead (the bdi's read_ahead_kb, 128 KiB by default) to 1 MiB,
/// so sequential readers get 1 MiB requests. Best effort: failures are only logged.
pub fn raise_readahead(mountpoint: &Path) {
    // SAFETY: no preconditions.
    if unsafe { libc::geteuid() } != 0 {
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
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => return Err(MountpointError::Stale),
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

fn stale_or_io(e: io::Error) -> MountpointError {
    if e.raw_os_error() == Some(libc::ENOTCONN) {
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
        .filter(|m| m.mount_point == path)
        .last()
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
    // SAFETY: no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        match umount2(path, 0) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && lazy => {
                umount2(path, libc::MNT_DETACH).map_err(|e| UnmountError::Other(e.to_string()))
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

fn umount2(path: &Path, flags: libc::c_int) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    if unsafe { libc::umount2(c.as_ptr(), flags) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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
    fn absolute_is_lexical() {
        assert_eq!(absolute(Path::new("/a/./b/../c/")).unwrap(), PathBuf::from("/a/c"));
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
        assert!(matches!(check_mountpoint(&base.join("full")), Err(MountpointError::NotEmpty)));
        assert!(matches!(check_mountpoint(&base.join("file")), Err(MountpointError::NotDir)));
        assert!(matches!(check_mountpoint(&base.join("nope")), Err(MountpointError::Missing)));
        assert!(matches!(check_mountpoint(Path::new("/proc")), Err(MountpointError::AlreadyMounted)));
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn session_config() {
        let c = config(false);
        assert_eq!(c.acl, SessionACL::Owner);
        assert!(c.clone_fd);
        assert!(matches!(c.n_threads, Some(2..=8)));
        assert!(c.mount_options.contains(&MountOption::RO));
        assert!(!c.mount_options.contains(&MountOption::AutoUnmount));
        assert_eq!(config(true).acl, SessionACL::All);
    }
}
