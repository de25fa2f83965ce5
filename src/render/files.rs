//! The files of one checkpoint's tree: one row each, with its path pattern, what it holds and,
//! for a rendered file, the function that renders it.
//!
//! The fs layer builds the tree's rendered files from these rows (one node per row and per
//! process, thread or descriptor its [`Render`] is about, where its [`When`] holds), names them
//! and renders them through the row. docs/views.md prints this table ([`markdown`]), and tests
//! check that the README's tree and the table of render/mod.rs mention every row. Adding a
//! rendered file is a render function and a row here.
//!
//! In a pattern, `PID`, `TID`, `N` (a descriptor), `RANGE` (a mapping's `start-end`), `ID` (a
//! SysV segment), `NAME` and `PATH` stand for the names that vary.

use crate::model::process::Fd;
use crate::model::{Checkpoint, Process, Thread};
use crate::render;

/// What a renderer gives: the whole file, or why it cannot be made (one line).
pub type Output = Result<Vec<u8>, String>;

/// A rendered file's function, by what one file of it is about. That also says where the files
/// are: one under the tree's root for the checkpoint, one under each `PID/` for a process, one
/// under each `PID/task/TID/` for a thread, one `PID/fdinfo/N` for a descriptor ([`Render::base`]).
#[derive(Clone, Copy, Debug)]
pub enum Render {
    Checkpoint(fn(&Checkpoint) -> Output),
    Process(fn(&Checkpoint, &Process) -> Output),
    Thread(fn(&Checkpoint, &Process, &Thread) -> Output),
    /// One file per descriptor, named by its number (the pattern's `N`).
    Fd(fn(&Checkpoint, &Process, &Fd) -> Output),
}

impl Render {
    /// The pattern of the directory one file of this kind is under: a row's path is this and its
    /// path inside that directory.
    pub fn base(self) -> &'static str {
        match self {
            Render::Checkpoint(_) => "",
            Render::Process(_) => "PID/",
            Render::Thread(_) => "PID/task/TID/",
            Render::Fd(_) => "PID/fdinfo/",
        }
    }
}

/// How the bytes of a file are produced.
#[derive(Clone, Copy, Debug)]
pub enum Made {
    /// Rendered whole by a function of `render/` (listed in render/mod.rs's table), once, when
    /// first needed.
    Rendered(Render),
    /// Generated piece by piece as it is read, by code of `render/` (`core`, `pagemap`: too large
    /// to render whole); the fs layer builds these nodes itself.
    Streamed,
    /// The checkpoint's own bytes (an image, a layer's file, a dumped page), or a link.
    Served,
}

impl Made {
    /// Made by `render/` (rendered or streamed), not served as the checkpoint holds it.
    pub fn by_render(self) -> bool {
        !matches!(self, Made::Served)
    }
}

/// When a rendered file is in the tree, besides there being what it is about.
#[derive(Clone, Copy, Debug)]
pub enum When {
    Always,
    /// The input is an image directory, whose files a manifest lists.
    Manifest,
    /// The container has a user namespace of its own.
    UserNs,
    /// The process passes the test.
    Process(fn(&Process) -> bool),
}

/// One file (or family of files) of the tree.
#[derive(Clone, Copy, Debug)]
pub struct File {
    /// The path in one checkpoint's tree, with the placeholders above.
    pub path: &'static str,
    /// What it holds, in one line.
    pub about: &'static str,
    pub made: Made,
    pub when: When,
    /// Shown in its directory's listing; false: found by name only.
    pub listed: bool,
}

impl File {
    /// The row's renderer, for a rendered file.
    pub fn render(&self) -> Option<Render> {
        match self.made {
            Made::Rendered(r) => Some(r),
            Made::Streamed | Made::Served => None,
        }
    }

    /// The row's path inside the directory of one file of it (`net/tcp` for `PID/net/tcp`).
    pub fn rel(&self) -> Option<&'static str> {
        self.path.strip_prefix(self.render()?.base())
    }

    const fn when(self, when: When) -> File {
        File { when, ..self }
    }

    const fn unlisted(self) -> File {
        File {
            listed: false,
            ..self
        }
    }
}

/// The words of a pattern that stand for varying names.
pub const PLACEHOLDERS: &[&str] = &["PID", "TID", "N", "RANGE", "ID", "NAME", "PATH"];

const fn file(path: &'static str, about: &'static str, made: Made) -> File {
    File {
        path,
        about,
        made,
        when: When::Always,
        listed: true,
    }
}

const fn rendered(path: &'static str, about: &'static str, render: Render) -> File {
    file(path, about, Made::Rendered(render))
}

const fn streamed(path: &'static str, about: &'static str) -> File {
    file(path, about, Made::Streamed)
}

const fn served(path: &'static str, about: &'static str) -> File {
    file(path, about, Made::Served)
}

/// Every file of the tree, in the order of the README's tree.
pub const FILES: &[File] = &[
    rendered(
        "checkpoint/info.json",
        "the checkpoint's identity, runtime, sizes and warnings as JSON",
        Render::Checkpoint(|ck| Ok(render::info_json(ck))),
    ),
    rendered(
        "checkpoint/summary",
        "checkpointctl's summary: container, pod, network, CRIU",
        Render::Checkpoint(|ck| Ok(render::summary(ck))),
    ),
    served(
        "checkpoint/images/NAME",
        "the raw CRIU images (those shown decoded elsewhere are links into .link/)",
    ),
    served(
        "checkpoint/NAME",
        "the archive's metadata files as-is (config.dump, spec.dump, ...)",
    ),
    served(
        "checkpoint/container.log",
        "the container's stdout/stderr, whatever the runtime named it",
    ),
    rendered(
        "checkpoint/fields.json",
        "for every generated file, which fields are read, derived or not recorded",
        Render::Checkpoint(|_| Ok(render::fields::fields_json())),
    ),
    rendered(
        "checkpoint/manifest.sha256",
        "the SHA-256 of every input file of an image directory (sha256sum -c format)",
        Render::Checkpoint(|ck| Ok(render::info::manifest_sha256(ck))),
    )
    .when(When::Manifest),
    served(
        "rootfs/PATH",
        "the container's files as far as the checkpoint knows them",
    ),
    rendered(
        "pstree",
        "the process tree",
        Render::Checkpoint(|ck| Ok(render::pstree(ck))),
    ),
    rendered(
        "sysvipc/shm",
        "the /proc/sysvipc/shm table of the SysV segments",
        Render::Checkpoint(|ck| Ok(render::sysvipc::shm(ck))),
    ),
    served("sysvipc/shm-ID", "a SysV segment's bytes"),
    rendered(
        "sockets",
        "every socket, as ss -tuanxp prints them",
        Render::Checkpoint(|ck| Ok(render::sockets::sockets(ck))),
    ),
    served(
        "buffers/NAME",
        "unread pipe, FIFO and socket data (pipe-N, fifo-N, unix-N, tcp-N.recv, tcp-N.send)",
    ),
    rendered(
        "triage",
        "what to look at first, one finding per line with a strength",
        Render::Checkpoint(|ck| Ok(render::triage::triage(ck))),
    ),
    rendered(
        "timeline",
        "every time the checkpoint records, sorted, one event a line",
        Render::Checkpoint(|ck| {
            let input = ck.source.input.path.display().to_string();
            Ok(render::timeline::timeline(ck, &input))
        }),
    ),
    // Found by name, not listed: whole-tree commands (`grep -r`, `find`) never render it nor
    // meet its text a second time.
    rendered(
        "report.html",
        "the case report: one self-contained HTML page (found by name, not listed)",
        Render::Checkpoint(report),
    )
    .unlisted(),
    rendered(
        "PID/cmdline",
        "the arguments, NUL-separated, from the dumped stack",
        Render::Process(|_, p| render::cmdline(p).map_err(|e| e.to_string())),
    ),
    rendered(
        "PID/environ",
        "the environment, NUL-separated, from the dumped stack",
        Render::Process(|_, p| render::environ(p).map_err(|e| e.to_string())),
    ),
    rendered(
        "PID/comm",
        "the command name",
        Render::Process(|_, p| Ok(render::comm(p))),
    ),
    rendered(
        "PID/status",
        "/proc's status lines the images record",
        Render::Process(|ck, p| Ok(render::status(ck, p))),
    ),
    rendered(
        "PID/stat",
        "/proc's stat line",
        Render::Process(|ck, p| Ok(render::stat(ck, p))),
    ),
    rendered(
        "PID/statm",
        "/proc's statm line",
        Render::Process(|_, p| Ok(render::statm(p))),
    ),
    rendered(
        "PID/maps",
        "the mappings, in /proc's maps format",
        Render::Process(|_, p| Ok(render::maps(p))),
    ),
    rendered(
        "PID/auxv",
        "the auxiliary vector, binary as /proc's",
        Render::Process(|_, p| Ok(render::auxv(p))),
    ),
    rendered(
        "PID/limits",
        "the resource limits, in /proc's table",
        Render::Process(|_, p| Ok(render::limits(p))),
    ),
    rendered(
        "PID/mountinfo",
        "the process's mounts, in /proc's mountinfo format",
        Render::Process(|ck, p| {
            let mounts = ck.container_fs.mounts.for_pid(p.pid).unwrap_or(&[]);
            Ok(render::mountinfo(mounts))
        }),
    ),
    rendered(
        "PID/uid_map",
        "the user namespace's uid map (when the container has its own)",
        Render::Process(|ck, _| {
            let ns = ck.container_fs.userns.as_ref().ok_or("no user namespace")?;
            Ok(crate::model::userns::render_map(&ns.uid_map))
        }),
    )
    .when(When::UserNs),
    rendered(
        "PID/gid_map",
        "the user namespace's gid map (when the container has its own)",
        Render::Process(|ck, _| {
            let ns = ck.container_fs.userns.as_ref().ok_or("no user namespace")?;
            Ok(crate::model::userns::render_map(&ns.gid_map))
        }),
    )
    .when(When::UserNs),
    served(
        "PID/memory/RANGE",
        "one file per mapping, sparse: the dumped bytes at their offset in the mapping",
    ),
    served(
        "PID/mem",
        "link to .link/PID/mem: the address space, offset = virtual address",
    ),
    streamed(
        "PID/core",
        "link to .link/PID/core (found by name, not listed): an ELF core file",
    )
    .unlisted(),
    streamed(
        "PID/pagemap",
        "link to .link/PID/pagemap: the kernel's pagemap format, bit 63 = dumped",
    ),
    served(
        "PID/fd/N",
        "links to the open files (into .link/rootfs/ for files)",
    ),
    rendered(
        "PID/fdinfo/N",
        "the fdinfo lines the images carry, byte for byte",
        Render::Fd(|_, p, fd| Ok(render::fdinfo(p, fd))),
    ),
    served("PID/cwd", "link to the working directory"),
    served("PID/exe", "link to the executable"),
    served("PID/root", "link to the root directory"),
    rendered(
        "PID/net/tcp",
        "the namespace's IPv4 TCP sockets, /proc/net/tcp format",
        Render::Process(|ck, p| Ok(net(ck, p, render::NetFile::Tcp))),
    ),
    rendered(
        "PID/net/tcp6",
        "the namespace's IPv6 TCP sockets, /proc/net/tcp6 format",
        Render::Process(|ck, p| Ok(net(ck, p, render::NetFile::Tcp6))),
    ),
    rendered(
        "PID/net/udp",
        "the namespace's IPv4 UDP sockets, /proc/net/udp format",
        Render::Process(|ck, p| Ok(net(ck, p, render::NetFile::Udp))),
    ),
    rendered(
        "PID/net/udp6",
        "the namespace's IPv6 UDP sockets, /proc/net/udp6 format",
        Render::Process(|ck, p| Ok(net(ck, p, render::NetFile::Udp6))),
    ),
    rendered(
        "PID/net/unix",
        "the namespace's unix sockets, /proc/net/unix format",
        Render::Process(|ck, p| Ok(net(ck, p, render::NetFile::Unix))),
    ),
    rendered(
        "PID/task/TID/comm",
        "the thread's name",
        Render::Thread(|_, _, t| Ok(render::thread_comm(t))),
    ),
    rendered(
        "PID/task/TID/status",
        "the thread's status lines",
        Render::Thread(|ck, p, t| Ok(render::thread_status(ck, p, t))),
    ),
    rendered(
        "PID/task/TID/stat",
        "the thread's stat line",
        Render::Thread(|ck, p, t| Ok(render::thread_stat(ck, p, t))),
    ),
    rendered(
        "PID/task/TID/regs",
        "the thread's saved registers",
        Render::Thread(|_, _, t| Ok(render::regs(t))),
    ),
    rendered(
        "PID/task/TID/syscall",
        "the saved system call line, as /proc showed it while frozen",
        Render::Thread(|_, _, t| Ok(render::syscall::syscall(t))),
    ),
    rendered(
        "PID/bash_history",
        "bash processes: the history recovered from bash's heap, in HISTFILE format",
        Render::Process(|_, p| Ok(render::bash_history(p))),
    )
    .when(When::Process(crate::model::bash_history::is_bash)),
    served(
        ".link/",
        "the targets of the tree's links, served with size 0 as /proc serves mem",
    ),
];

/// `PID/net/*`: the sockets of the process's network namespace.
fn net(ck: &Checkpoint, p: &Process, which: render::NetFile) -> Vec<u8> {
    render::net_of(&ck.net_ns_peers(p.pid), &ck.objects.tcp_queues, which)
}

/// `report.html`: the case report, quoting the command that made the mount (this process's,
/// which `ckptfs mount` forked) and the time it is first read.
fn report(ck: &Checkpoint) -> Output {
    let command =
        render::report::shell_line(std::env::args_os().map(|a| a.to_string_lossy().into_owned()));
    Ok(render::report::single(ck, &command, now()).into_bytes())
}

/// Now, in RFC 3339 (UTC, whole seconds).
fn now() -> Option<String> {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(crate::format::time::rfc3339(
        i64::try_from(d.as_secs()).ok()?,
    ))
}

/// The row of `path`, if the table has it.
pub fn row(path: &str) -> Option<&'static File> {
    FILES.iter().find(|f| f.path == path)
}

/// The last name of a pattern (`stat` for `PID/task/TID/stat`).
pub fn name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

/// The table as markdown, as docs/views.md prints it.
pub fn markdown() -> String {
    let mut out = String::from("| file | what it holds | made by |\n|---|---|---|\n");
    for f in FILES {
        let made = if f.made.by_render() {
            "render/"
        } else {
            "the checkpoint's bytes"
        };
        out.push_str(&format!("| `{}` | {} | {made} |\n", f.path, f.about));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words of a text: runs of name characters.
    fn words(text: &str) -> std::collections::HashSet<&str> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || "_.-".contains(c)))
            .map(|w| w.trim_end_matches(['.', '-']))
            .filter(|w| !w.is_empty())
            .collect()
    }

    /// The names of a pattern that do not vary (`task`, `stat` for `PID/task/TID/stat`).
    fn fixed_names(path: &str) -> impl Iterator<Item = &str> {
        path.split('/')
            .filter(|c| !c.is_empty() && !PLACEHOLDERS.contains(c))
    }

    #[test]
    fn paths_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for f in FILES {
            assert!(seen.insert(f.path), "{} twice", f.path);
            assert!(
                !f.path.starts_with('/') && !f.about.is_empty(),
                "{}",
                f.path
            );
            assert!(
                !f.about.contains('\n') && !f.about.contains('|'),
                "{}",
                f.path
            );
            assert_eq!(row(f.path).map(|r| r.path), Some(f.path));
        }
        assert_eq!(name("PID/task/TID/stat"), "stat");
        assert_eq!(name(".link/"), ".link");
    }

    /// A rendered row's path is its renderer's directory and a path in it whose only varying
    /// name is a descriptor's file (the fs layer makes the fixed directories and names the
    /// files from it).
    #[test]
    fn rendered_rows_are_under_their_renderers_directory() {
        for f in FILES {
            let Some(r) = f.render() else { continue };
            let rel = f.rel();
            assert!(
                rel.is_some_and(|rel| !rel.is_empty()),
                "{} under {}",
                f.path,
                r.base()
            );
            let varying: Vec<&str> = rel
                .into_iter()
                .flat_map(|rel| rel.split('/'))
                .filter(|c| PLACEHOLDERS.contains(c))
                .collect();
            let want: &[&str] = if matches!(r, Render::Fd(_)) {
                &["N"]
            } else {
                &[]
            };
            assert_eq!(varying, want, "{}", f.path);
        }
    }

    /// The README's tree names every file of the table.
    #[test]
    fn readme_tree_lists_every_file() {
        let readme = include_str!("../../README.md");
        let tree = readme
            .split_once("## The tree\n\n```\n")
            .and_then(|(_, rest)| rest.split_once("\n```"))
            .map(|(tree, _)| tree)
            .unwrap_or_default();
        assert!(!tree.is_empty(), "README.md has no tree section");
        let words = words(tree);
        for f in FILES {
            for n in fixed_names(f.path) {
                assert!(
                    words.contains(n),
                    "README.md's tree does not name `{n}` of {}",
                    f.path
                );
            }
        }
    }

    /// render/mod.rs's table of views names every rendered file by its path.
    #[test]
    fn render_table_lists_every_rendered_file() {
        let doc = include_str!("mod.rs");
        for f in FILES.iter().filter(|f| f.made.by_render()) {
            assert!(
                doc.contains(&format!("`{}`", f.path)),
                "render/mod.rs's table does not list `{}`",
                f.path
            );
        }
    }

    /// docs/views.md prints this table as it is.
    #[test]
    fn views_md_prints_the_table() {
        let doc = include_str!("../../docs/views.md");
        let table = markdown();
        assert!(
            doc.contains(&table),
            "docs/views.md's table of files differs from render/files.rs; it should be:\n{table}"
        );
    }
}
