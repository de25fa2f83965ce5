//! `triage` (at the mount root, and `ckptfs triage`): what an analyst looks at first, one finding
//! per line.
//!
//! ```text
//! # ckptfs triage: 3 findings (format: PID <pid> <where> <tag>: [<strength>] <what>)
//! PID 1 - shell: [weak] sh is a shell: /bin/sh -c ...
//! PID 6 0.0.0.0:8080 tcp-listen: [weak] listening TCP socket (fd 3, socket:[91])
//! PID 42 7f12a000-7f12c000 rwx-anon: [strong] writable and executable anonymous mapping rwxp
//! ```
//!
//! Each line is `PID <pid> <where> <tag>: [<strength>] <what>`:
//! - `<pid>` is the process (PID inside the container), or `-` for a finding about the container's
//!   files rather than a process (`/etc/ld.so.preload`);
//! - `<where>` is the VMA range or page as `maps` and `memory/` name it, the address of an
//!   environment string, a descriptor (`fd/8`), an argument (`argv[2]`), a socket's `addr:port`
//!   (or `addr:port->addr:port`), a path, or `-` when nothing more precise applies;
//! - `<tag>` is one word, stable, for `grep`;
//! - `<strength>` is `strong` (the tree shows the thing itself, which has no ordinary benign
//!   reading) or `weak` (a hint that often has a benign reason, or a fact the tree cannot check);
//! - `<what>` says what was found and the evidence for it.
//!
//! Findings about the container's files come first, then per PID (the model's order) in rule
//! order, then by address. A checkpoint with nothing to report gives the header line and
//! `no findings`.
//!
//! The rules, each a pure function over one [`Process`] (and the checkpoint where it needs the
//! files or the other processes), documented at the function:
//! - [`memory::exec_anon`]: executable anonymous memory (`rwx-anon`, `exec-anon`).
//! - [`memory::writable_exec`]: writable + executable file mappings (`wx-file`).
//! - [`memory::deleted_or_memfd`]: mappings of deleted files and memfds (`exec-deleted`,
//!   `exec-memfd`, `deleted-file`, `memfd`), an `exe` that is deleted or a memfd (`exe-deleted`,
//!   `exe-memfd`), and descriptors of deleted files (`fd-deleted`).
//! - [`memory::patched_code`]: dumped private executable file pages that differ from the file
//!   (`code-patched`), or that cannot be compared (`exec-page-unverified`).
//! - [`secrets::loader_env`]: `LD_PRELOAD`, `LD_LIBRARY_PATH`, `LD_AUDIT` in the environment
//!   (`ld-env`); [`secrets::ld_so_preload`]: `/etc/ld.so.preload` in the files (`ld-so-preload`).
//! - [`secrets::persistence_files`]: SSH keys, crontabs, sudoers, services, accounts and shell
//!   startup files among the files the checkpoint itself holds (`persistence-file`).
//! - [`identity::exe_mismatch`]: `exe` and `argv[0]` name different programs (`exe-mismatch`).
//! - [`identity::kernel_thread_name`]: a process named like a kernel thread (`kthread-name`).
//! - [`net::sockets`]: listening and connected sockets (`tcp-listen`, `tcp-established`,
//!   `udp-bound`, `unix-listen`, `unix-connected`).
//! - [`identity::shells`]: shells among the processes (`shell`); [`net::reverse_shell`]: a shell
//!   whose standard streams are a socket (`reverse-shell`).
//! - [`net::c2`]: established connections of a process that raised another signal
//!   (`c2-connection`).
//! - [`secrets::env_credentials`] / [`secrets::argv_credentials`]: credential-looking variables
//!   and arguments (`env-credential`, one finding per variable with every PID that carries it;
//!   `argv-credential`).
//! - [`history::shell_history`]: entries of a bash process's in-memory history that download and
//!   execute, open a reverse shell, write persistence, read credential stores, export a
//!   credential or hide the history (`hist-download-exec`, `hist-reverse-shell`,
//!   `hist-persistence`, `hist-credential-file`, `hist-credential-export`, `hist-tamper`);
//!   [`history::history_off_env`]: a shell whose environment switches its history off
//!   (`hist-tamper`).
//! - [`credentials::memory_credentials`]: values of well-known credential formats (AWS keys, JWTs,
//!   private keys, GitHub / GitLab / Slack / Stripe tokens) in the memory a process wrote, one
//!   finding per value with its copies, the value redacted (`mem-credential`); every process's
//!   memory searched at once, on every core.
//!
//! Rules never panic and never fail: memory that cannot be read (environ, cmdline) is skipped.

pub mod credentials;
pub mod elf;
pub mod history;
pub mod identity;
pub mod memory;
pub mod net;
pub mod secrets;

use crate::format::escape;
use crate::model::Checkpoint;
use crate::model::process::{Process, Vma, VmaName, vma_status};

pub use identity::{SHELLS, same_program};
pub use secrets::{LOADER_VARS, credential_name};

/// How much a finding says on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    /// The tree shows the thing itself, and it has no ordinary benign reading.
    Strong,
    /// A hint that often has a benign reason, or a fact the tree cannot check.
    Weak,
}

impl Strength {
    pub fn as_str(self) -> &'static str {
        match self {
            Strength::Strong => "strong",
            Strength::Weak => "weak",
        }
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The process, or None for a finding about the container's files.
    pub pid: Option<u32>,
    /// Where: a VMA range, an address, a descriptor, a socket address, a path, or `-`.
    #[serde(rename = "where")]
    pub at: String,
    /// A stable one-word tag.
    pub tag: &'static str,
    pub strength: Strength,
    /// What was found and the evidence, for a human.
    pub what: String,
}

impl Finding {
    fn new(
        pid: u32,
        at: impl Into<String>,
        tag: &'static str,
        strength: Strength,
        what: impl Into<String>,
    ) -> Finding {
        Finding {
            pid: Some(pid),
            at: at.into(),
            tag,
            strength,
            what: what.into(),
        }
    }

    /// The finding as one line (no newline); control characters are escaped.
    pub fn line(&self) -> String {
        let pid = self.pid.map_or_else(|| "-".to_string(), |p| p.to_string());
        format!(
            "PID {pid} {} {}: [{}] {}",
            clean(&self.at).replace(' ', "_"),
            self.tag,
            self.strength.as_str(),
            clean(&self.what)
        )
    }
}

/// One line, printable: control characters (newlines included) escaped ([`escape`]), long
/// texts cut.
fn clean(s: &str) -> String {
    const MAX: usize = 400;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", escape(&s[..i])),
        None => escape(s).into_owned(),
    }
}

fn range(v: &Vma) -> String {
    format!("{:x}-{:x}", v.start, v.end)
}

/// Every finding of every rule: the container's files first, then by PID (the model's order),
/// then rule, then address; a finding about several processes
/// ([`secrets::env_credentials`]) comes under the first of them.
pub fn findings(ck: &Checkpoint) -> Vec<Finding> {
    let creds = secrets::env_credentials(&ck.processes);
    let mut in_memory = credentials::each_process(&ck.processes).into_iter();
    let mut files = memory::FileCache::default();
    let mut out = secrets::ld_so_preload(ck);
    out.extend(secrets::persistence_files(ck));
    let mut per_pid: Vec<Vec<Finding>> = Vec::with_capacity(ck.processes.len());
    for p in &ck.processes {
        let mut f = process_findings(ck, p, &mut files);
        f.extend(in_memory.next().into_iter().flatten());
        f.extend(creds.iter().filter(|c| c.pid == Some(p.pid)).cloned());
        per_pid.push(f);
    }
    for (p, f) in ck.processes.iter().zip(per_pid.iter_mut()) {
        let c2 = net::c2(ck, p, f);
        f.extend(c2);
    }
    out.extend(per_pid.into_iter().flatten());
    out
}

/// Every finding for one process that needs no other process's findings, in rule order, but
/// for [`credentials::memory_credentials`] (searched for every process at once, in parallel:
/// [`findings`] puts them after these).
pub fn process_findings(
    ck: &Checkpoint,
    p: &Process,
    files: &mut memory::FileCache,
) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(identity::shells(p));
    out.extend(net::reverse_shell(ck, p));
    out.extend(identity::kernel_thread_name(p));
    out.extend(identity::exe_mismatch(ck, p));
    out.extend(memory::exec_anon(p));
    out.extend(memory::writable_exec(p));
    out.extend(memory::deleted_or_memfd(p));
    out.extend(memory::patched_code(ck, p, files));
    out.extend(secrets::loader_env(p));
    out.extend(secrets::argv_credentials(p));
    out.extend(history::shell_history(p));
    out.extend(history::history_off_env(p));
    out.extend(net::sockets(p));
    out
}

/// The header line's format description.
pub const FORMAT: &str = "PID <pid> <where> <tag>: [<strength>] <what>";

/// The text of the `triage` file for these findings.
pub fn text(f: &[Finding]) -> Vec<u8> {
    let mut s = format!(
        "# ckptfs triage: {} finding{} (format: {FORMAT})\n",
        f.len(),
        if f.len() == 1 { "" } else { "s" }
    );
    if f.is_empty() {
        s.push_str("no findings\n");
    }
    for x in f {
        s.push_str(&x.line());
        s.push('\n');
    }
    s.into_bytes()
}

/// The text of the `triage` file.
pub fn triage(ck: &Checkpoint) -> Vec<u8> {
    text(&findings(ck))
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

#[cfg(test)]
mod tests;
