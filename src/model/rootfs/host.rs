//! The `--rootfs` directory: walked once at mount without following any symlink, its files read
//! later beneath the directory's descriptor (never outside it, even if it changes meanwhile).

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::{Device, FileData, MAX_NODES, Node, NodeKind, RootFs, Stamp, shown_mode};
use crate::source::Blob;
use crate::warning::Kind;

/// A file of the `--rootfs` directory.
#[derive(Debug, Clone)]
pub struct HostFile {
    pub(super) root: Arc<HostRoot>,
    /// Path relative to the root directory.
    rel: String,
    /// Size seen at mount (what the tree reports; reads never go past it).
    pub size: u64,
}

/// The `--rootfs` directory, held open: every read is resolved beneath it.
#[derive(Debug)]
pub(super) struct HostRoot {
    path: PathBuf,
    fd: OwnedFd,
}

impl HostRoot {
    pub(super) fn open(path: &Path) -> std::io::Result<HostRoot> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(HostRoot {
            path: path.to_path_buf(),
            fd,
        })
    }

    /// Opens `rel` read-only beneath the root, refusing any symlink on the way (openat2 with
    /// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS; on kernels without openat2, O_NOFOLLOW on every
    /// component, walked with openat).
    fn open_file(&self, rel: &str) -> std::io::Result<File> {
        match rustix::fs::openat2(
            &self.fd,
            if rel.is_empty() { "." } else { rel },
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        ) {
            Ok(fd) => Ok(File::from(fd)),
            Err(rustix::io::Errno::NOSYS) => self.open_file_walk(rel),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) fn open_file_walk(&self, rel: &str) -> std::io::Result<File> {
        let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
        let mut dir: Option<OwnedFd> = None;
        for (i, c) in comps.iter().enumerate() {
            if *c == "." || *c == ".." {
                return Err(std::io::Error::from_raw_os_error(libc::EXDEV));
            }
            let last = i + 1 == comps.len();
            let flags = OFlags::RDONLY
                | OFlags::CLOEXEC
                | OFlags::NOFOLLOW
                | if last {
                    OFlags::empty()
                } else {
                    OFlags::DIRECTORY
                };
            let at = dir.as_ref().unwrap_or(&self.fd);
            let fd = rustix::fs::openat(at, *c, flags, Mode::empty())?;
            if last {
                return Ok(File::from(fd));
            }
            dir = Some(fd);
        }
        Err(std::io::Error::from_raw_os_error(libc::EISDIR))
    }
}

impl HostFile {
    /// Reads up to `buf.len()` bytes at `off` (never past the size seen at mount).
    pub fn read_at(&self, off: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        if off >= self.size {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(self.size - off) as usize;
        let f = self.root.open_file(&self.rel)?;
        let mut done = 0;
        while done < want {
            match f.read_at(&mut buf[done..want], off + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// The whole file as a blob (mapped), at most its size at mount.
    pub fn map(&self) -> std::io::Result<Blob> {
        let f = self.root.open_file(&self.rel)?;
        let b = Blob::map(&f)?;
        let n = b
            .len()
            .min(usize::try_from(self.size).unwrap_or(usize::MAX));
        Ok(b.slice(0..n).unwrap_or(b))
    }

    /// The path on the host, for messages.
    pub fn host_path(&self) -> PathBuf {
        self.root.path.join(&self.rel)
    }
}

impl RootFs {
    pub(super) fn add_host_layer(&mut self, root: Arc<HostRoot>) {
        // The walk's own problems are gathered and reported as one line (`--rootfs /` meets
        // thousands); pseudo filesystems mounted below DIR (/proc, /sys, ...) are not walked.
        let outer = std::mem::take(&mut self.warnings);
        let root_dev = std::fs::metadata(&root.path).map(|m| m.dev()).ok();
        let mut pseudo: Vec<String> = Vec::new();
        self.walk_host(&root, root_dev, &mut pseudo);
        let problems = std::mem::replace(&mut self.warnings, outer);
        if !pseudo.is_empty() {
            self.warnings.push(
                Kind::PseudoFsSkipped,
                format!(
                    "--rootfs {}: pseudo filesystems not walked (shown empty): {}{}",
                    root.path.display(),
                    pseudo
                        .iter()
                        .take(8)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    if pseudo.len() > 8 { ", ..." } else { "" }
                ),
            );
        }
        match problems.len() {
            0 => {}
            1 => self.warnings.extend(problems),
            n => self.warnings.push(
                problems[0].kind,
                format!(
                    "--rootfs {}: {n} entries left out or unreadable (first: {})",
                    root.path.display(),
                    problems[0]
                ),
            ),
        }
    }

    /// Walks the `--rootfs` directory (see [`RootFs::add_host_layer`]).
    fn walk_host(&mut self, root: &Arc<HostRoot>, root_dev: Option<u64>, pseudo: &mut Vec<String>) {
        let mut stack: Vec<String> = vec![String::new()];
        let mut count = 0usize;
        while let Some(rel) = stack.pop() {
            let dir = if rel.is_empty() {
                root.path.clone()
            } else {
                root.path.join(&rel)
            };
            let rd = match std::fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) => {
                    self.warnings.push(
                        Kind::Unreadable,
                        format!("--rootfs {}: cannot list: {e}", dir.display()),
                    );
                    continue;
                }
            };
            for ent in rd.flatten() {
                count += 1;
                if count > MAX_NODES {
                    self.warnings.push(
                        Kind::LimitReached,
                        format!(
                            "--rootfs {}: more than {MAX_NODES} entries: the rest is left out",
                            root.path.display()
                        ),
                    );
                    return;
                }
                let name = ent.file_name();
                let Some(name) = name.to_str() else {
                    self.warnings.push(
                        Kind::NameNotUtf8,
                        format!(
                            "--rootfs {}: a name that is not UTF-8: left out",
                            ent.path().display()
                        ),
                    );
                    continue;
                };
                let path = if rel.is_empty() {
                    name.to_string()
                } else {
                    format!("{rel}/{name}")
                };
                let Ok(md) = ent.path().symlink_metadata() else {
                    continue;
                };
                let ft = md.file_type();
                let mode = shown_mode(md.mode());
                let stamp = Some(Stamp {
                    uid: md.uid().into(),
                    gid: md.gid().into(),
                    mtime: u64::try_from(md.mtime()).unwrap_or(0),
                    image_dir: true,
                    layer: 0,
                });
                if ft.is_dir() {
                    self.nodes.insert(
                        path.clone(),
                        Node {
                            kind: NodeKind::Dir,
                            mode,
                            stamp,
                        },
                    );
                    if root_dev.is_some_and(|d| d != md.dev()) && is_pseudo_fs(&ent.path()) {
                        pseudo.push(format!("/{path}"));
                    } else {
                        stack.push(path);
                    }
                } else if ft.is_file() {
                    let data = FileData::Host(HostFile {
                        root: root.clone(),
                        rel: path.clone(),
                        size: md.len(),
                    });
                    self.nodes.insert(
                        path,
                        Node {
                            kind: NodeKind::File(data),
                            mode,
                            stamp,
                        },
                    );
                } else if ft.is_symlink() {
                    match std::fs::read_link(ent.path()) {
                        Ok(t) => match t.to_str() {
                            Some(t) if !t.is_empty() => {
                                self.nodes.insert(
                                    path,
                                    Node {
                                        kind: NodeKind::Symlink {
                                            target: t.to_string(),
                                            shown: String::new(),
                                        },
                                        mode: 0o777,
                                        stamp,
                                    },
                                );
                            }
                            _ => self.warnings.push(
                                Kind::EntryRefused,
                                format!(
                                    "--rootfs {}: symlink target empty or not UTF-8: left out",
                                    ent.path().display()
                                ),
                            ),
                        },
                        Err(e) => self.warnings.push(
                            Kind::Unreadable,
                            format!("--rootfs {}: cannot read link: {e}", ent.path().display()),
                        ),
                    }
                } else if ft.is_fifo() {
                    self.nodes.insert(
                        path,
                        Node {
                            kind: NodeKind::Fifo,
                            mode,
                            stamp,
                        },
                    );
                } else if ft.is_char_device() || ft.is_block_device() {
                    let rdev = md.rdev();
                    let d = Device {
                        block: ft.is_block_device(),
                        major: libc::major(rdev),
                        minor: libc::minor(rdev),
                    };
                    if !d.is_whiteout() && !d.is_harmless() {
                        self.warnings.push(
                            Kind::EntryRefused,
                            format!(
                                "--rootfs {}: device node {}: left out (only the pseudo devices are shown)",
                                ent.path().display(),
                                d.describe()
                            ),
                        );
                    } else if !d.is_whiteout() {
                        self.nodes.insert(
                            path,
                            Node {
                                kind: NodeKind::Device(d),
                                mode,
                                stamp,
                            },
                        );
                    }
                }
                // Sockets are left out: a socket node holds nothing to show.
            }
        }
    }
}

/// True for a directory that is the root of a kernel pseudo filesystem (proc, sysfs, cgroup,
/// debugfs, ...): nothing of the container's files is there, and walking it is slow or endless.
fn is_pseudo_fs(path: &Path) -> bool {
    const PSEUDO: [u64; 19] = [
        0x9fa0,      // proc
        0x6265_6572, // sysfs
        0x1cd1,      // devpts
        0x0027_e0eb, // cgroup
        0x6367_7270, // cgroup2
        0x6462_6720, // debugfs
        0x7472_6163, // tracefs
        0x7363_6673, // securityfs
        0xcafe_4a11, // bpf
        0x6165_676c, // pstore
        0x6265_6570, // configfs
        0x6573_5543, // fusectl
        0x1980_0202, // mqueue
        0x4249_4e4d, // binfmt_misc
        0x9584_58f6, // hugetlbfs
        0x0187,      // autofs
        0xde5e_81e4, // efivarfs
        0xf97c_ff8c, // selinuxfs
        0x6e73_6673, // nsfs
    ];
    rustix::fs::statfs(path).is_ok_and(|s| PSEUDO.contains(&(s.f_type as u64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--rootfs /` does not walk /proc or /sys, and says so in one line.
    #[test]
    fn pseudo_filesystems_are_not_walked() {
        assert!(is_pseudo_fs(Path::new("/proc")));
        assert!(is_pseudo_fs(Path::new("/sys")));
        assert!(!is_pseudo_fs(Path::new(env!("CARGO_MANIFEST_DIR"))));
    }
}
