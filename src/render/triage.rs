//! `triage` (at the mount root): what an analyst looks at first, one finding per line.
//!
//! ```text
//! # ckptfs triage: 3 findings (format: PID <pid> <where> <tag>: <what>)
//! PID 1 - shell: sh is a shell: /bin/sh -c ...
//! PID 6 0.0.0.0:8080 tcp-listen: listening TCP socket (fd 3)
//! PID 42 7f12a000-7f12c000 rwx-anon: writable and executable anonymous mapping
//! ```
//!
//! Each line is `PID <pid> <where> <tag>: <what>`: `<where>` is the VMA range as `maps` and
//! `memory/` name it, the address of an environment string, a socket's `addr:port` (or
//! `addr:port->addr:port`), or `-` when nothing more precise applies; `<tag>` is one word, stable,
//! for `grep`. Findings are ordered by PID, then in rule order, then by address. A checkpoint with
//! nothing to report gives the header line and `no findings`.
//!
//! The rules, each a pure function over one [`Process`] (documented at the function):
//! - [`exec_anon`]: executable anonymous memory (`rwx-anon`, `exec-anon`); vdso / vsyscall excluded.
//! - [`writable_exec`]: writable + executable file mappings (`wx-file`).
//! - [`deleted_or_memfd`]: mappings of deleted files and memfds (`exec-deleted`, `exec-memfd`,
//!   `deleted-file`, `memfd`), and an `exe` that is deleted or a memfd (`exe-deleted`, `exe-memfd`).
//! - [`loader_env`]: `LD_PRELOAD`, `LD_LIBRARY_PATH`, `LD_AUDIT` in the environment (`ld-env`).
//! - [`exe_mismatch`]: `exe` and `argv[0]` name different programs (`exe-mismatch`).
//! - [`sockets`]: listening and connected sockets (`tcp-listen`, `tcp-established`, `udp-bound`,
//!   `unix-listen`, `unix-connected`).
//! - [`shells`]: shells among the processes (`shell`).
//! - [`env_credentials`]: credential-looking environment variables, one finding per variable
//!   with every PID that carries it (`env-credential`).
//!
//! Rules never panic and never fail: memory that cannot be read (environ, cmdline) is skipped.

use crate::format::escape;
use crate::format::net::{
    AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SOCK_DGRAM, SOCK_STREAM, TCP_ESTABLISHED, TCP_LISTEN,
    ip_host,
};
use crate::model::process::{Process, Vma, VmaName, vma_status};
use crate::model::{Checkpoint, FileKind};

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub pid: u32,
    /// Where: a VMA range, an address, a socket address, or `-`.
    pub at: String,
    /// A stable one-word tag.
    pub tag: &'static str,
    /// What was found, for a human.
    pub what: String,
}

impl Finding {
    fn new(pid: u32, at: impl Into<String>, tag: &'static str, what: impl Into<String>) -> Finding {
        Finding {
            pid,
            at: at.into(),
            tag,
            what: what.into(),
        }
    }

    /// The finding as one line (no newline); control characters are escaped.
    pub fn line(&self) -> String {
        format!(
            "PID {} {} {}: {}",
            self.pid,
            clean(&self.at),
            self.tag,
            clean(&self.what)
        )
    }
}

/// One line, printable: control characters (newlines included) escaped ([`escape`]), long
/// texts cut.
fn clean(s: &str) -> String {
    const MAX: usize = 160;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", escape(&s[..i])),
        None => escape(s).into_owned(),
    }
}

fn range(v: &Vma) -> String {
    format!("{:x}-{:x}", v.start, v.end)
}

/// Every finding of every rule, ordered by PID (the model's order), then rule, then address; a
/// finding about several processes ([`env_credentials`]) comes under the first of them.
pub fn findings(ck: &Checkpoint) -> Vec<Finding> {
    let creds = env_credentials(&ck.processes);
    let mut out = Vec::new();
    for p in &ck.processes {
        out.extend(process_findings(p));
        out.extend(creds.iter().filter(|f| f.pid == p.pid).cloned());
    }
    out
}

/// Whether an environment variable's name looks like it holds a credential: it contains
/// `PASSWORD`, `PASSWD`, `TOKEN` or `SECRET`, or ends in `_KEY` (case-insensitive).
pub fn credential_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    ["PASSWORD", "PASSWD", "TOKEN", "SECRET"]
        .iter()
        .any(|w| n.contains(w))
        || n.ends_with("_KEY")
}

/// **Credentials in the environment**: every `NAME=value` of an initial environment whose name
/// looks like a credential ([`credential_name`]), one finding per variable (name and value) with
/// every PID that carries it (children inherit their parent's environment: one finding, not
/// one per process). `<where>` is the variable's name. Tag `env-credential`.
pub fn env_credentials(processes: &[Process]) -> Vec<Finding> {
    let mut seen: Vec<(Vec<u8>, Vec<u32>)> = Vec::new();
    for p in processes {
        let Ok(env) = super::cmdline::environ(p) else {
            continue;
        };
        for s in env.split(|&b| b == 0) {
            let Some(eq) = s.iter().position(|&b| b == b'=') else {
                continue;
            };
            if !credential_name(&String::from_utf8_lossy(&s[..eq])) {
                continue;
            }
            match seen.iter_mut().find(|(v, _)| v.as_slice() == s) {
                Some((_, pids)) => {
                    if !pids.contains(&p.pid) {
                        pids.push(p.pid);
                    }
                }
                None => seen.push((s.to_vec(), vec![p.pid])),
            }
        }
    }
    seen.into_iter()
        .map(|(var, pids)| {
            let text = String::from_utf8_lossy(&var).into_owned();
            let name = text.split('=').next().unwrap_or("").to_string();
            let list: Vec<String> = pids.iter().map(u32::to_string).collect();
            Finding::new(
                pids[0],
                name,
                "env-credential",
                format!(
                    "credential-looking variable in environ of PID{} {}: {text}",
                    if pids.len() == 1 { "" } else { "s" },
                    list.join(", ")
                ),
            )
        })
        .collect()
}

/// Every finding for one process, in rule order.
pub fn process_findings(p: &Process) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(shells(p));
    out.extend(exe_mismatch(p));
    out.extend(exec_anon(p));
    out.extend(writable_exec(p));
    out.extend(deleted_or_memfd(p));
    out.extend(loader_env(p));
    out.extend(sockets(p));
    out
}

/// The text of the `triage` file.
pub fn triage(ck: &Checkpoint) -> Vec<u8> {
    let f = findings(ck);
    let mut s = format!(
        "# ckptfs triage: {} finding{} (format: PID <pid> <where> <tag>: <what>)\n",
        f.len(),
        if f.len() == 1 { "" } else { "s" }
    );
    if f.is_empty() {
        s.push_str("no findings\n");
    }
    for x in &f {
        s.push_str(&x.line());
        s.push('\n');
    }
    s.into_bytes()
}

/// True for the kernel's special mappings, which are executable by design.
fn special(v: &Vma) -> bool {
    matches!(
        v.name,
        VmaName::Vdso | VmaName::Vvar | VmaName::VvarVclock | VmaName::Vsyscall | VmaName::Uprobes
    ) || v.status
        & (vma_status::VDSO | vma_status::VSYSCALL | vma_status::VVAR | vma_status::UPROBES)
        != 0
}

/// True for anonymous memory: private anonymous, heap, stack, and shared anonymous memory
/// (`/dev/zero (deleted)`, which the kernel names like a file).
fn anonymous(v: &Vma) -> bool {
    match &v.name {
        VmaName::Anon | VmaName::Heap | VmaName::Stack => true,
        VmaName::File { .. } => dev_zero(v),
        _ => false,
    }
}

/// A shared anonymous mapping (CRIU's ANON_SHARED, or the `/dev/zero` memfd form of recent kernels).
fn dev_zero(v: &Vma) -> bool {
    match &v.name {
        VmaName::File { path, deleted } => path == "/dev/zero" && *deleted,
        _ => false,
    }
}

/// **Executable anonymous memory** (JIT, shellcode, unpacked payloads): a VMA with PROT_EXEC that
/// no file backs (private anonymous, heap, stack, shared anonymous), except the kernel's own
/// `[vdso]` / `[vsyscall]` (and `[vvar]`). Tag `rwx-anon` when also writable, else `exec-anon`.
pub fn exec_anon(p: &Process) -> Vec<Finding> {
    p.vmas
        .iter()
        .filter(|v| v.executable() && !special(v) && anonymous(v))
        .map(|v| {
            let (tag, what) = if v.writable() {
                ("rwx-anon", "writable and executable anonymous mapping")
            } else {
                ("exec-anon", "executable anonymous mapping")
            };
            let name = match &v.name {
                VmaName::Heap => " [heap]",
                VmaName::Stack => " [stack]",
                _ if dev_zero(v) => " (shared)",
                _ => "",
            };
            Finding::new(p.pid, range(v), tag, format!("{what}{name} {}", v.perms()))
        })
        .collect()
}

/// **Writable and executable file mappings**: PROT_WRITE|PROT_EXEC on a file-backed VMA (memory a
/// program can rewrite and run; anonymous ones are [`exec_anon`]'s `rwx-anon`). Tag `wx-file`.
pub fn writable_exec(p: &Process) -> Vec<Finding> {
    p.vmas
        .iter()
        .filter(|v| v.writable() && v.executable() && !special(v) && !anonymous(v))
        .map(|v| {
            Finding::new(
                p.pid,
                range(v),
                "wx-file",
                format!(
                    "writable and executable mapping {} {}",
                    v.perms(),
                    vma_label(v)
                ),
            )
        })
        .collect()
}

fn vma_label(v: &Vma) -> String {
    match &v.name {
        VmaName::File { path, deleted } => {
            if *deleted {
                format!("{path} (deleted)")
            } else {
                path.clone()
            }
        }
        VmaName::Unknown { file_id } => format!("(file id {file_id})"),
        VmaName::Anon => String::new(),
        VmaName::Heap => "[heap]".into(),
        VmaName::Stack => "[stack]".into(),
        VmaName::Vdso => "[vdso]".into(),
        VmaName::Vvar => "[vvar]".into(),
        VmaName::VvarVclock => "[vvar_vclock]".into(),
        VmaName::Vsyscall => "[vsyscall]".into(),
        VmaName::Uprobes => "[uprobes]".into(),
    }
}

/// What backs a file VMA, for the deleted / memfd rule.
enum Backing {
    Deleted(String),
    Memfd(String),
}

fn backing(v: &Vma) -> Option<Backing> {
    if dev_zero(v) {
        return None;
    }
    if let Some(f) = &v.file {
        match &f.kind {
            FileKind::Memfd { name, .. } => {
                let n = match &v.name {
                    VmaName::File { path, .. } => path.clone(),
                    _ => format!("/memfd:{name}"),
                };
                return Some(Backing::Memfd(n));
            }
            FileKind::Reg { path, deleted, .. } if *deleted => {
                return Some(Backing::Deleted(path.clone()));
            }
            _ => {}
        }
    }
    match &v.name {
        VmaName::File { path, .. } if path.starts_with("/memfd:") => {
            Some(Backing::Memfd(path.clone()))
        }
        VmaName::File { path, deleted } if *deleted => Some(Backing::Deleted(path.clone())),
        VmaName::File { path, .. } if path.ends_with(" (deleted)") => Some(Backing::Deleted(
            path.trim_end_matches(" (deleted)").to_string(),
        )),
        _ => None,
    }
}

/// **Code from deleted files and memfds** (fileless execution, replaced binaries): every VMA
/// mapping a memfd or a deleted file — executable ones tagged `exec-memfd` / `exec-deleted`, the
/// others `memfd` / `deleted-file` (memfd data mappings are also where payloads are staged).
/// Shared anonymous memory, which the kernel shows as `/dev/zero (deleted)`, is not a file and is
/// not reported. Also the process's `exe` itself when it is a memfd (`exe-memfd`) or deleted
/// (`exe-deleted`).
pub fn deleted_or_memfd(p: &Process) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(exe) = &p.exe {
        match &exe.kind {
            FileKind::Memfd { name, .. } => out.push(Finding::new(
                p.pid,
                "-",
                "exe-memfd",
                format!("the executable is a memfd: /memfd:{name}"),
            )),
            FileKind::Reg { path, deleted, .. }
                if *deleted || path.ends_with(" (deleted)") || path.starts_with("/memfd:") =>
            {
                let tag = if path.starts_with("/memfd:") {
                    "exe-memfd"
                } else {
                    "exe-deleted"
                };
                out.push(Finding::new(
                    p.pid,
                    "-",
                    tag,
                    format!(
                        "the executable was deleted or is not a file: {}",
                        exe.link_text()
                    ),
                ))
            }
            _ => {}
        }
    }
    for v in &p.vmas {
        let Some(b) = backing(v) else { continue };
        let x = v.executable();
        let (tag, what) = match (&b, x) {
            (Backing::Memfd(n), true) => ("exec-memfd", format!("executable mapping of {n}")),
            (Backing::Memfd(n), false) => ("memfd", format!("mapping of {n}")),
            (Backing::Deleted(n), true) => (
                "exec-deleted",
                format!("executable mapping of a deleted file: {n}"),
            ),
            (Backing::Deleted(n), false) => {
                ("deleted-file", format!("mapping of a deleted file: {n}"))
            }
        };
        out.push(Finding::new(
            p.pid,
            range(v),
            tag,
            format!("{what} {}", v.perms()),
        ));
    }
    out
}

/// Environment variables that make the dynamic loader load or audit other code.
pub const LOADER_VARS: [&str; 3] = ["LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"];

/// **Loader hijacking variables** in the initial environment (`PID/environ`, read from memory):
/// `LD_PRELOAD`, `LD_LIBRARY_PATH`, `LD_AUDIT`, even when empty. `<where>` is the string's
/// address. Tag `ld-env`.
pub fn loader_env(p: &Process) -> Vec<Finding> {
    let Some(mm) = &p.mm else { return Vec::new() };
    let Ok(env) = super::cmdline::environ(p) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut off = 0u64;
    for s in env.split(|&b| b == 0) {
        let len = s.len() as u64 + 1;
        if let Some(eq) = s.iter().position(|&b| b == b'=') {
            let name = &s[..eq];
            if LOADER_VARS.iter().any(|v| v.as_bytes() == name) {
                out.push(Finding::new(
                    p.pid,
                    format!("{:x}", mm.env_start.saturating_add(off)),
                    "ld-env",
                    format!("loader variable in environ: {}", String::from_utf8_lossy(s)),
                ));
            }
        }
        off = off.saturating_add(len);
    }
    out
}

/// Multi-call binaries: one executable, many program names (argv[0] picks the applet).
const MULTICALL: [&str; 4] = ["busybox", "toybox", "coreutils", "rescue"];

/// Shell program names.
pub const SHELLS: [&str; 12] = [
    "sh", "bash", "dash", "zsh", "ash", "ksh", "mksh", "pdksh", "csh", "tcsh", "fish", "rbash",
];

fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// The program name argv[0] gives: up to the first `:` or blank (setproctitle titles such as
/// `postgres: checkpointer` or `nginx: worker process`), basename, without a login shell's `-`.
fn argv0_name(argv0: &str) -> &str {
    let head = argv0
        .split(|c: char| c == ':' || c.is_whitespace())
        .next()
        .unwrap_or(argv0);
    basename(head).trim_start_matches('-')
}

/// `python3.11` → `python3`; `bash5` stays: strips a trailing `.N[.N...]` or `-N...` version.
fn unversioned(name: &str) -> &str {
    let cut = name
        .char_indices()
        .find(|&(i, c)| {
            (c == '.' || c == '-')
                && name[i + 1..].starts_with(|d: char| d.is_ascii_digit())
                && name[i + 1..]
                    .chars()
                    .all(|d| d.is_ascii_digit() || d == '.' || d == '-')
        })
        .map_or(name.len(), |(i, _)| i);
    &name[..cut]
}

/// The argument vector (`PID/cmdline` split at NULs), when readable.
fn argv(p: &Process) -> Option<Vec<String>> {
    let b = super::cmdline::cmdline(p).ok()?;
    if b.is_empty() {
        return None;
    }
    let b = b.strip_suffix(&[0]).unwrap_or(&b);
    Some(
        b.split(|&c| c == 0)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
    )
}

/// Whether `exe_name` (basename of the executable) and `arg_name` (program name from argv[0])
/// plausibly name the same program. Benign, not reported:
/// - equal names, or equal after dropping a version suffix (`python3` / `python3.11`);
/// - one name is a prefix of the other longer than 2 characters (`postgres` / `postmaster` is not,
///   but `php-fpm8.2` / `php-fpm` is; comm-style truncation `systemd-journal` / `systemd-journald`);
/// - a multi-call binary (`busybox`, `toybox`, `coreutils`): argv[0] names the applet;
/// - both are shells (`/bin/sh` → `dash` or `bash`): the shell link, and scripts run by an
///   interpreter named in a `#!` line (argv[0] is then the interpreter path as the `#!` line
///   spells it, which may be a link to the real shell);
/// - an empty argv[0] (nothing to compare).
///
/// Anything else (`exe` `/usr/bin/nc` but argv[0] `[kworker/0:1]`, a renamed binary) is reported.
pub fn same_program(exe_name: &str, arg_name: &str) -> bool {
    if arg_name.is_empty() || exe_name.is_empty() {
        return true;
    }
    let (e, a) = (unversioned(exe_name), unversioned(arg_name));
    if e == a || exe_name == arg_name {
        return true;
    }
    let (short, long) = if e.len() <= a.len() { (e, a) } else { (a, e) };
    if short.len() > 2 && long.starts_with(short) {
        return true;
    }
    if MULTICALL.contains(&e) {
        return true;
    }
    SHELLS.contains(&e) && SHELLS.contains(&a)
}

/// **`exe` differs from `argv[0]`** (masquerading: a process renamed itself, or a binary was
/// started under another name): compares the basename of `exe` with the program name of argv[0]
/// by [`same_program`]'s rules. Processes without an exe or a readable argv are skipped. Tag
/// `exe-mismatch`.
pub fn exe_mismatch(p: &Process) -> Vec<Finding> {
    let Some(exe) = &p.exe else { return Vec::new() };
    let exe_path = match &exe.kind {
        FileKind::Reg { path, .. } => path.trim_end_matches(" (deleted)").to_string(),
        FileKind::Memfd { name, .. } => format!("/memfd:{name}"),
        _ => return Vec::new(),
    };
    let Some(args) = argv(p) else {
        return Vec::new();
    };
    let a0 = args.first().map(String::as_str).unwrap_or("");
    let exe_name = basename(&exe_path);
    if same_program(exe_name, argv0_name(a0)) {
        return Vec::new();
    }
    vec![Finding::new(
        p.pid,
        "-",
        "exe-mismatch",
        format!("exe is {exe_path} but argv[0] is {a0:?}"),
    )]
}

/// **Shells** (an interactive or scripted shell in a service container is worth a look): the
/// process's comm, exe basename or argv[0] program name is a shell ([`SHELLS`]), or argv[0] names
/// a shell applet of a multi-call binary (`busybox sh`). Tag `shell`.
pub fn shells(p: &Process) -> Vec<Finding> {
    let args = argv(p).unwrap_or_default();
    let a0 = args.first().map(String::as_str).unwrap_or("");
    let mut names = vec![p.comm.as_str(), argv0_name(a0)];
    let exe_name = p
        .exe
        .as_ref()
        .and_then(|e| e.path())
        .map(basename)
        .unwrap_or("");
    names.push(exe_name);
    if MULTICALL.contains(&exe_name) || MULTICALL.contains(&argv0_name(a0)) {
        // `busybox sh -c ...`: the applet is argv[1].
        if let Some(a1) = args.get(1) {
            names.push(argv0_name(a1));
        }
    }
    let Some(which) = names.iter().find(|n| SHELLS.contains(&unversioned(n))) else {
        return Vec::new();
    };
    let cmd = if args.is_empty() {
        format!("[{}]", p.comm)
    } else {
        args.join(" ")
    };
    vec![Finding::new(
        p.pid,
        "-",
        "shell",
        format!("{which} is a shell: {cmd}"),
    )]
}

/// **Network exposure**: per descriptor, listening TCP sockets (`tcp-listen`), established TCP
/// connections (`tcp-established`, `<where>` = `local->remote`), UDP sockets bound to a port
/// (`udp-bound`), listening unix sockets (`unix-listen`) and connected unix stream sockets with a
/// bound name (`unix-connected`). A socket shared by several descriptors of one process is
/// reported once (its lowest fd); one inherited by a child is reported in each process.
pub fn sockets(p: &Process) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for fd in &p.fds {
        if !seen.insert(fd.file.id) {
            continue;
        }
        match &fd.file.kind {
            FileKind::InetSocket(s) => {
                let v6 = s.family == AF_INET6;
                let fam = if v6 { "6" } else { "" };
                let local = format!("{}:{}", ip_host(&s.src_addr), s.src_port);
                let tcp = s.proto == IPPROTO_TCP || (s.proto == 0 && s.sock_type == SOCK_STREAM);
                let udp = s.proto == IPPROTO_UDP || (s.proto == 0 && s.sock_type == SOCK_DGRAM);
                if tcp && s.state == TCP_LISTEN {
                    out.push(Finding::new(
                        p.pid,
                        local,
                        "tcp-listen",
                        format!(
                            "listening TCP{fam} socket (fd {}, socket:[{}])",
                            fd.fd, s.ino
                        ),
                    ));
                } else if tcp && s.state == TCP_ESTABLISHED {
                    let remote = format!("{}:{}", ip_host(&s.dst_addr), s.dst_port);
                    out.push(Finding::new(
                        p.pid,
                        format!("{local}->{remote}"),
                        "tcp-established",
                        format!(
                            "established TCP{fam} connection (fd {}, socket:[{}])",
                            fd.fd, s.ino
                        ),
                    ));
                } else if udp && s.src_port != 0 {
                    out.push(Finding::new(
                        p.pid,
                        local,
                        "udp-bound",
                        format!(
                            "UDP{fam} socket bound to a port (fd {}, socket:[{}])",
                            fd.fd, s.ino
                        ),
                    ));
                }
            }
            FileKind::UnixSocket(s) => {
                let name = unix_name(s);
                if s.state == TCP_LISTEN {
                    out.push(Finding::new(
                        p.pid,
                        name,
                        "unix-listen",
                        format!("listening unix socket (fd {}, socket:[{}])", fd.fd, s.ino),
                    ));
                } else if s.state == TCP_ESTABLISHED && !s.name.is_empty() {
                    out.push(Finding::new(
                        p.pid,
                        name,
                        "unix-connected",
                        format!(
                            "connected unix socket with a bound name (fd {}, socket:[{}])",
                            fd.fd, s.ino
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

/// A unix socket name as /proc/net/unix shows it (`@` for the abstract namespace), or `-`.
fn unix_name(s: &crate::model::files::UnixSocket) -> String {
    match s.shown_name() {
        n if n.is_empty() => "-".into(),
        n => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::load::load;
    use crate::source::{self, OpenOptions};
    use crate::writer::{CheckpointWriter, File, Vma as WVma};

    /// Writes `w` as an image directory, loads it.
    fn load_w(w: &CheckpointWriter) -> Checkpoint {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("img");
        w.write_dir(&img).unwrap();
        let src = source::open(
            &img,
            &OpenOptions {
                cache_dir: Some(dir.path().join("cache")),
                ..Default::default()
            },
        )
        .unwrap();
        // The blobs are mmapped: they stay valid after the directory is removed.
        let ck = load(src).unwrap();
        drop(dir);
        ck
    }

    fn tags(f: &[Finding]) -> Vec<&'static str> {
        f.iter().map(|x| x.tag).collect()
    }

    /// A plain, unremarkable process: pid 1, `/usr/bin/app` run as `app`, r-x text, rw data.
    fn base(w: &mut CheckpointWriter, pid: u32) {
        w.process(pid, 0)
            .comm("app")
            .cmdline(&["/usr/bin/app", "--serve"])
            .environ(&["PATH=/usr/bin", "HOME=/"])
            .exe("/usr/bin/app")
            .file_vma(0x40_0000, 0x1000, "/usr/bin/app", 0, 1 | 4)
            .vma(WVma::anon(0x7000_0000_0000, 0x2000))
            .vma(WVma::vdso(0x7fff_f000_0000, 0x2000))
            .vma(WVma::vsyscall());
    }

    /// One finding per credential-looking variable, with every PID that carries it.
    #[test]
    fn credentials_in_the_environment() {
        let mut w = CheckpointWriter::new();
        base(&mut w, 1);
        base(&mut w, 2);
        base(&mut w, 3);
        let env = [
            "PATH=/usr/bin",
            "PGPASSWORD=hunter2",
            "GITHUB_TOKEN=ghp_x",
            "AWS_SECRET_ACCESS_KEY=abc",
            "SSH_KEY=k",
            "KEYBOARD=us",
        ];
        w.process(1, 0).environ(&env);
        w.process(2, 1).environ(&env);
        w.process(3, 1)
            .environ(&["PGPASSWORD=other", "db_password=x"]);
        let ck = load_w(&w);
        let f: Vec<String> = findings(&ck)
            .iter()
            .filter(|f| f.tag == "env-credential")
            .map(Finding::line)
            .collect();
        assert_eq!(
            f,
            [
                "PID 1 PGPASSWORD env-credential: credential-looking variable in environ of PIDs 1, 2: PGPASSWORD=hunter2",
                "PID 1 GITHUB_TOKEN env-credential: credential-looking variable in environ of PIDs 1, 2: GITHUB_TOKEN=ghp_x",
                "PID 1 AWS_SECRET_ACCESS_KEY env-credential: credential-looking variable in environ of PIDs 1, 2: AWS_SECRET_ACCESS_KEY=abc",
                "PID 1 SSH_KEY env-credential: credential-looking variable in environ of PIDs 1, 2: SSH_KEY=k",
                "PID 3 PGPASSWORD env-credential: credential-looking variable in environ of PID 3: PGPASSWORD=other",
                "PID 3 db_password env-credential: credential-looking variable in environ of PID 3: db_password=x",
            ]
        );
    }

    #[test]
    fn clean_process_has_no_findings() {
        let mut w = CheckpointWriter::new();
        base(&mut w, 1);
        let ck = load_w(&w);
        let f = findings(&ck);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(
            String::from_utf8(triage(&ck)).unwrap(),
            "# ckptfs triage: 0 findings (format: PID <pid> <where> <tag>: <what>)\nno findings\n"
        );
    }

    #[test]
    fn executable_anonymous_memory() {
        let mut w = CheckpointWriter::new();
        base(&mut w, 1);
        w.process(1, 0)
            .vma(WVma::anon(0x7f12_a000, 0x2000).rwx())
            .vma(WVma::anon(0x7f20_0000, 0x1000).rx())
            .vma(WVma::anon(0x7f30_0000, 0x1000).rw());
        let ck = load_w(&w);
        let p = ck.process(1).unwrap();
        let f = exec_anon(p);
        assert_eq!(tags(&f), ["rwx-anon", "exec-anon"], "{f:?}");
        assert_eq!(
            f[0].line(),
            "PID 1 7f12a000-7f12c000 rwx-anon: writable and executable anonymous mapping rwxp"
        );
        assert_eq!(f[1].at, "7f200000-7f201000");
        // vdso (r-x) and vsyscall (--x) are not reported, nor is the rwx-anon VMA twice.
        assert!(writable_exec(p).is_empty());
        let all = String::from_utf8(triage(&ck)).unwrap();
        assert!(
            all.contains("\nPID 1 7f12a000-7f12c000 rwx-anon: "),
            "{all}"
        );
        assert!(
            !all.contains("vdso") && !all.contains("ffffffffff600000"),
            "{all}"
        );
    }

    #[test]
    fn executable_heap_and_stack() {
        let mut w = CheckpointWriter::new();
        base(&mut w, 1);
        w.process(1, 0)
            .vma(WVma::heap(0x5555_0000_0000, 0x21000).rwx());
        let ck = load_w(&w);
        let f = exec_anon(ck.process(1).unwrap());
        assert_eq!(tags(&f), ["rwx-anon"]);
        assert!(f[0].what.contains("[heap]"), "{f:?}");
    }

    #[test]
    fn writable_executable_file_mapping() {
        let mut w = CheckpointWriter::new();
        base(&mut w, 1);
        w.process(1, 0)
            .file_vma(0x50_0000, 0x1000, "/usr/lib/libjit.so", 0, 7)
            .file_vma(0x60_0000, 0x1000, "/usr/lib/libok.so", 0, 5);
        let ck = load_w(&w);
        let p = ck.process(1).unwrap();
        let f = writable_exec(p);
        assert_eq!(tags(&f), ["wx-file"]);
        assert_eq!(f[0].at, "500000-501000");
        assert!(f[0].what.contains("/usr/lib/libjit.so"));
        assert!(exec_anon(p).is_empty());
    }

    #[test]
    fn memfd_and_deleted_mappings() {
        let mut w = CheckpointWriter::new();
        base(&mut w, 1);
        w.process(1, 0)
            .vma(WVma::memfd(0x5ec2_0000_0000, 0x10000, "payload", 7).rx())
            .vma(WVma::memfd(0x5ec3_0000_0000, 0x10000, "data", 8))
            .vma(WVma::memfd(0x5ec1_0000_0000, 0x10000, "/dev/zero", 9))
            .file_vma(0x70_0000, 0x1000, "/usr/lib/libgone.so", 0, 5)
            .file_vma(0x80_0000, 0x1000, "/var/gone.dat", 0, 1);
        let mut ck = load_w(&w);
        // The writer cannot express an unlinked file: mark the two as the kernel names them.
        for v in &mut ck.processes[0].vmas {
            if let VmaName::File { path, deleted } = &mut v.name
                && path.contains("gone")
            {
                *deleted = true;
            }
        }
        let p = ck.process(1).unwrap();
        let f = deleted_or_memfd(p);
        assert_eq!(
            tags(&f),
            ["exec-deleted", "deleted-file", "exec-memfd", "memfd"],
            "{f:?}"
        );
        assert_eq!(f[2].at, "5ec200000000-5ec200010000");
        assert!(f[2].what.contains("/memfd:payload"), "{f:?}");
        assert!(f[3].what.contains("/memfd:data rw-s"), "{f:?}");
        assert!(f[0].what.contains("/usr/lib/libgone.so"), "{f:?}");
        // /dev/zero (shared anonymous) is not a file; rw-s is not executable anonymous memory.
        assert!(!f.iter().any(|x| x.what.contains("/dev/zero")));
        assert!(exec_anon(p).is_empty());

        // Negative: nothing deleted, no memfd.
        let mut w = CheckpointWriter::new();
        base(&mut w, 1);
        w.process(1, 0).shared_anon(0x5ec1_0000_0000, 0x1000, 3);
        let ck = load_w(&w);
        assert!(deleted_or_memfd(ck.process(1).unwrap()).is_empty());
    }

    #[test]
    fn deleted_exe() {
        let mut w = CheckpointWriter::new();
        base(&mut w, 1);
        let mut ck = load_w(&w);
        let p = &mut ck.processes[0];
        let mut exe = (**p.exe.as_ref().unwrap()).clone();
        if let FileKind::Reg { deleted, .. } = &mut exe.kind {
            *deleted = true;
        }
        p.exe = Some(std::sync::Arc::new(exe));
        let f = deleted_or_memfd(&ck.processes[0]);
        assert_eq!(tags(&f), ["exe-deleted"]);
        assert!(f[0].what.contains("/usr/bin/app (deleted)"), "{f:?}");
    }

    #[test]
    fn loader_variables() {
        let mut w = CheckpointWriter::new();
        base(&mut w, 1);
        w.process(1, 0).environ(&[
            "PATH=/usr/bin",
            "LD_PRELOAD=/tmp/.x/libhook.so",
            "NOT_LD_PRELOAD=x",
            "LD_LIBRARY_PATH=",
        ]);
        base(&mut w, 2);
        w.process(2, 1).environ(&["LD_PRELOADX=1", "HOME=/"]);
        let ck = load_w(&w);
        let p = ck.process(1).unwrap();
        let f = loader_env(p);
        assert_eq!(tags(&f), ["ld-env", "ld-env"], "{f:?}");
        assert!(f[0].what.ends_with("LD_PRELOAD=/tmp/.x/libhook.so"));
        assert!(f[1].what.ends_with("LD_LIBRARY_PATH="));
        // The address is where the string lies in memory.
        let mm = p.mm.as_ref().unwrap();
        let addr = u64::from_str_radix(&f[0].at, 16).unwrap();
        assert_eq!(addr, mm.env_start + "PATH=/usr/bin\0".len() as u64);
        let mut buf = [0u8; 10];
        p.memory.read_at(addr, &mut buf).unwrap();
        assert_eq!(&buf, b"LD_PRELOAD");
        assert!(loader_env(ck.process(2).unwrap()).is_empty());
    }

    #[test]
    fn exe_argv0_rules() {
        // Benign.
        for (exe, arg) in [
            ("app", "app"),
            ("python3.11", "python3"),
            ("busybox", "httpd"),
            ("dash", "sh"),
            ("bash", "-bash"),
            ("postgres", "postgres"),
            ("php-fpm8.2", "php-fpm"),
            ("x", ""),
        ] {
            assert!(same_program(exe, argv0_name(arg)), "{exe} vs {arg}");
        }
        assert_eq!(argv0_name("postgres: checkpointer"), "postgres");
        assert_eq!(argv0_name("nginx: worker process"), "nginx");
        assert_eq!(argv0_name("/usr/sbin/sshd"), "sshd");
        // Suspicious.
        for (exe, arg) in [
            ("nc", "[kworker/0:1]"),
            ("xmrig", "nginx"),
            ("python3", "sshd"),
            ("sh", "apache2"),
        ] {
            assert!(!same_program(exe, argv0_name(arg)), "{exe} vs {arg}");
        }
    }

    #[test]
    fn exe_differs_from_argv0() {
        let mut w = CheckpointWriter::new();
        base(&mut w, 1);
        w.process(2, 1)
            .comm("kworker/0:1")
            .cmdline(&["[kworker/0:1]"])
            .exe("/tmp/.cache/miner");
        w.process(3, 1)
            .comm("sh")
            .cmdline(&["/bin/sh", "/app/run.sh"])
            .exe("/usr/bin/dash");
        w.process(4, 1)
            .comm("httpd")
            .cmdline(&["httpd", "-f"])
            .exe("/bin/busybox");
        let ck = load_w(&w);
        let f = exe_mismatch(ck.process(2).unwrap());
        assert_eq!(tags(&f), ["exe-mismatch"]);
        assert_eq!(
            f[0].line(),
            "PID 2 - exe-mismatch: exe is /tmp/.cache/miner but argv[0] is \"[kworker/0:1]\""
        );
        for pid in [1, 3, 4] {
            assert!(exe_mismatch(ck.process(pid).unwrap()).is_empty(), "{pid}");
        }
    }

    #[test]
    fn shells_found() {
        let mut w = CheckpointWriter::new();
        base(&mut w, 1);
        w.process(2, 1)
            .comm("bash")
            .cmdline(&["-bash"])
            .exe("/bin/bash");
        w.process(3, 1)
            .comm("busybox")
            .cmdline(&["busybox", "ash"])
            .exe("/bin/busybox");
        w.process(4, 1)
            .comm("sh")
            .cmdline(&["/bin/sh", "-c", "sleep 1\nexit"])
            .exe("/bin/busybox");
        w.process(5, 1)
            .comm("shellcheck")
            .cmdline(&["shellcheck", "x.sh"])
            .exe("/usr/bin/shellcheck");
        let ck = load_w(&w);
        assert!(shells(ck.process(1).unwrap()).is_empty());
        assert!(shells(ck.process(5).unwrap()).is_empty());
        for pid in [2, 3, 4] {
            assert_eq!(tags(&shells(ck.process(pid).unwrap())), ["shell"], "{pid}");
        }
        let f = shells(ck.process(4).unwrap());
        assert_eq!(
            f[0].line(),
            "PID 4 - shell: sh is a shell: /bin/sh -c sleep 1\\nexit"
        );
    }

    #[test]
    fn sockets_listening_and_connected() {
        let mut w = CheckpointWriter::new();
        base(&mut w, 1);
        w.process(1, 0)
            .fd(3, File::tcp_listen(8080))
            .fd(
                4,
                File::tcp_established([10, 0, 0, 2], 40000, [1, 2, 3, 4], 443),
            )
            .fd(5, File::tcp6_listen(22))
            .fd(6, File::udp(53))
            .fd(7, File::unix_listen(b"/run/app.sock"))
            .fd(8, File::unix_listen(b"\0abstract"))
            .fd(9, File::reg("/etc/passwd"))
            .fd(10, File::pipe(77, false));
        base(&mut w, 2);
        let ck = load_w(&w);
        let f = sockets(ck.process(1).unwrap());
        assert_eq!(
            tags(&f),
            [
                "tcp-listen",
                "tcp-established",
                "tcp-listen",
                "udp-bound",
                "unix-listen",
                "unix-listen"
            ],
            "{f:?}"
        );
        assert_eq!(f[0].at, "0.0.0.0:8080");
        assert!(
            f[0].line()
                .starts_with("PID 1 0.0.0.0:8080 tcp-listen: listening TCP socket (fd 3")
        );
        assert_eq!(f[1].at, "10.0.0.2:40000->1.2.3.4:443");
        assert_eq!(f[2].at, "[::]:22");
        assert!(f[2].what.contains("TCP6"));
        assert_eq!(f[3].at, "0.0.0.0:53");
        assert_eq!(f[4].at, "/run/app.sock");
        assert_eq!(f[5].at, "@abstract");
        assert!(sockets(ck.process(2).unwrap()).is_empty());
    }

    #[test]
    fn order_and_hostile_text() {
        let mut w = CheckpointWriter::new();
        base(&mut w, 1);
        w.process(1, 0).fd(3, File::tcp_listen(1));
        w.process(7, 1)
            .comm("sh")
            .cmdline(&["sh\n", "x"])
            .exe("/bin/sh")
            .vma(WVma::anon(0x1000_0000, 0x1000).rwx());
        let ck = load_w(&w);
        let text = String::from_utf8(triage(&ck)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("# ckptfs triage: 3 findings"),
            "{text}"
        );
        assert!(lines[1].starts_with("PID 1 0.0.0.0:1 tcp-listen"), "{text}");
        assert!(
            lines[2].starts_with("PID 7 - shell: sh is a shell: sh\\n x"),
            "{text}"
        );
        assert!(
            lines[3].starts_with("PID 7 10000000-10001000 rwx-anon"),
            "{text}"
        );
        assert_eq!(lines.len(), 4);
    }
}
