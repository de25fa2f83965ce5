//! Secret and loader rules: credentials by name in the environment and the arguments, loader
//! variables, and `/etc/ld.so.preload`.

use std::sync::OnceLock;

use regex::Regex;

use super::credentials::redact;
use super::history::redact_command;
use super::{Finding, Strength, argv};
use crate::model::Checkpoint;
use crate::model::process::Process;
use crate::model::rootfs::FileData;

/// After `SECRET`, `TOKEN` or `KEY` inside a word of a name, what may follow for the word to
/// still name a credential (`SECRETS`, `TOKENID`, `KEYFILE`; not `SECRETD`, `TOKENIZERS`,
/// `KEYBOARD`).
const AFTER: [&str; 8] = ["", "S", "ID", "FILE", "PAIR", "TAB", "STORE", "RING"];

/// Whether a variable's or an option's name looks like it holds a credential
/// (case-insensitive, per word of the name, words split at any character that is not a letter
/// or digit):
/// - a word contains `PASSWORD`, `PASSWD`, `PASSPHRASE` or `CREDENTIAL`, or is or ends in `PASS`
///   (`DBPASS`, `requirepass`; not `BYPASS`, `COMPASS`);
/// - a word contains `SECRET`, `TOKEN` or `KEY` followed by nothing, `S`, `ID`, `FILE`, `PAIR`,
///   `TAB`, `STORE` or `RING` (`AWS_SECRET_ACCESS_KEY`, `APIKEY`, `KEYTAB`; not `SECRETD_CASE`,
///   `TOKENIZERS_PARALLELISM`, `KEYBOARD`);
/// - the last word is or ends in `AUTH` (`REDISCLI_AUTH`, `NPM_CONFIG__AUTH`; not
///   `SSH_AUTH_SOCK`).
pub fn credential_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    let words: Vec<&str> = n
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let keyword = |w: &str, k: &str| {
        w.match_indices(k)
            .any(|(i, _)| AFTER.contains(&&w[i + k.len()..]))
    };
    words.iter().any(|w| {
        ["PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL"]
            .iter()
            .any(|k| w.contains(k))
            || (w.ends_with("PASS") && !["BYPASS", "COMPASS", "SURPASS"].contains(w))
            || ["SECRET", "TOKEN", "KEY"].iter().any(|k| keyword(w, k))
    }) || words.last().is_some_and(|w| w.ends_with("AUTH"))
}

fn url_userinfo() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s/:@]*:[^\s/@]+@").expect("a valid pattern")
    })
}

fn json_pair() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r#""([^"\\]{1,64})"\s*:\s*"((?:[^"\\]|\\.)*)""#).expect("a valid pattern")
    })
}

/// Whether a value holds a URL with a password (`scheme://user:pass@host`).
pub fn url_with_password(value: &str) -> bool {
    url_userinfo().is_match(value)
}

/// **Credentials in the environment**: every `NAME=value` of an initial environment whose name
/// looks like a credential ([`credential_name`]) or whose value holds a URL with a password
/// (`scheme://user:pass@host`), one finding per variable (name and value) with every PID that
/// carries it (children inherit their parent's environment: one finding, not one per process).
/// `<where>` is the variable's name; the value is shown redacted ([`redact`]; for a URL, its
/// password). Tag `env-credential` (weak: a name is a guess, and the value may be a placeholder
/// or a path).
pub fn env_credentials(processes: &[Process]) -> Vec<Finding> {
    let mut seen: Vec<(Vec<u8>, Vec<u32>)> = Vec::new();
    for p in processes {
        let Ok(env) = super::super::cmdline::environ(p) else {
            continue;
        };
        for s in env.split(|&b| b == 0) {
            let Some(eq) = s.iter().position(|&b| b == b'=') else {
                continue;
            };
            if !credential_name(&String::from_utf8_lossy(&s[..eq]))
                && !url_with_password(&String::from_utf8_lossy(&s[eq + 1..]))
            {
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
        .filter_map(|(var, pids)| {
            let text = String::from_utf8_lossy(&var).into_owned();
            let (name, value) = text.split_once('=').unwrap_or((&text, ""));
            let shown = if credential_name(name) {
                format!("{name}={}", redact(value.as_bytes()))
            } else {
                redact_command(&text)
            };
            let name = name.to_string();
            let list: Vec<String> = pids.iter().map(u32::to_string).collect();
            Some(Finding::new(
                *pids.first()?,
                name,
                "env-credential",
                Strength::Weak,
                format!(
                    "credential-looking variable in environ of PID{} {}: {}",
                    if pids.len() == 1 { "" } else { "s" },
                    list.join(", "),
                    shown
                ),
            ))
        })
        .collect()
}

/// **Credentials in the arguments** (`PID/cmdline`), one finding per argument and form found,
/// `<where>` `argv[N]`:
/// - an option whose name looks like a credential ([`credential_name`]) with its value:
///   `--password X`, `--password=X`, `-requirepass X`;
/// - `NAME=value` words inside an argument (`password=...`, a libpq connection string, a query);
/// - a JSON `"name": "value"` pair inside an argument (`{"db_password": "..."}`);
/// - a URL with a password (`scheme://user:pass@host`).
///
/// The argument is quoted with its credential values redacted ([`redact_command`]; a JSON
/// pair's value by [`redact`]). Tag `argv-credential` (weak, as for the environment).
pub fn argv_credentials(p: &Process) -> Vec<Finding> {
    let Some(args) = argv(p) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut push = |i: usize, text: String| {
        out.push(Finding::new(
            p.pid,
            format!("argv[{i}]"),
            "argv-credential",
            Strength::Weak,
            format!("credential-looking argument: {}", redact_command(&text)),
        ));
    };
    for (i, arg) in args.iter().enumerate() {
        if let Some(opt) = arg.strip_prefix('-') {
            let opt = opt.trim_start_matches('-');
            match opt.split_once('=') {
                Some((n, v)) if credential_name(n) && !v.is_empty() => {
                    push(i, arg.clone());
                    continue;
                }
                None if credential_name(opt) => {
                    if let Some(v) = args.get(i + 1).filter(|v| !v.is_empty()) {
                        push(i, format!("{arg} {v}"));
                    }
                    continue;
                }
                _ => {}
            }
        }
        let mut hit = false;
        for (n, v) in arg
            .split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '?' | ',' | '{' | '}'))
            .filter_map(|w| w.split_once('='))
        {
            if credential_name(n.trim_start_matches('-')) && !v.is_empty() {
                push(i, format!("{n}={v}"));
                hit = true;
            }
        }
        for c in json_pair().captures_iter(arg) {
            if credential_name(&c[1]) {
                push(i, format!("\"{}\": {}", &c[1], redact(c[2].as_bytes())));
                hit = true;
            }
        }
        if !hit && url_with_password(arg) {
            push(i, arg.clone());
        }
    }
    out
}

/// Environment variables that make the dynamic loader load or audit other code.
pub const LOADER_VARS: [&str; 3] = ["LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"];

/// **Loader hijacking variables** in the initial environment (`PID/environ`, read from memory):
/// `LD_PRELOAD`, `LD_LIBRARY_PATH`, `LD_AUDIT`, even when empty. `<where>` is the string's
/// address. Tag `ld-env`: strong for `LD_PRELOAD` and `LD_AUDIT` with a value (code loaded into
/// the process), weak for `LD_LIBRARY_PATH` (common in ordinary images) and empty values.
pub fn loader_env(p: &Process) -> Vec<Finding> {
    let Some(mm) = &p.mm else { return Vec::new() };
    let Ok(env) = super::super::cmdline::environ(p) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut off = 0u64;
    for s in env.split(|&b| b == 0) {
        let len = s.len() as u64 + 1;
        if let Some(eq) = s.iter().position(|&b| b == b'=') {
            let name = &s[..eq];
            if LOADER_VARS.iter().any(|v| v.as_bytes() == name) {
                let strong = name != b"LD_LIBRARY_PATH" && eq + 1 < s.len();
                out.push(Finding::new(
                    p.pid,
                    format!("{:x}", mm.env_start.saturating_add(off)),
                    "ld-env",
                    if strong {
                        Strength::Strong
                    } else {
                        Strength::Weak
                    },
                    format!("loader variable in environ: {}", String::from_utf8_lossy(s)),
                ));
            }
        }
        off = off.saturating_add(len);
    }
    out
}

/// **`/etc/ld.so.preload` in the container's files** (the layer, or `--rootfs`): the dynamic
/// loader maps every library it lists into every dynamically linked program (a classic
/// userland rootkit). `<pid>` `-`, `<where>` the path; the entries are quoted (comments and
/// blank lines dropped). Tag `ld-so-preload`: strong when it lists something, weak when empty.
pub fn ld_so_preload(ck: &Checkpoint) -> Vec<Finding> {
    const PATH: &str = "/etc/ld.so.preload";
    let Some(d) = ck.container_fs.rootfs.file(PATH) else {
        return Vec::new();
    };
    let origin = match d {
        FileData::Host(_) => "--rootfs",
        FileData::Blob(_) => "the container's layer",
    };
    let mut head = vec![0u8; 4096];
    let n = match d {
        FileData::Blob(b) => {
            let n = b.len().min(head.len());
            head[..n].copy_from_slice(&b.bytes()[..n]);
            n
        }
        FileData::Host(h) => h.read_at(0, &mut head).unwrap_or(0),
    };
    let text = String::from_utf8_lossy(&head[..n]);
    let entries: Vec<&str> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.split(|c: char| c.is_whitespace() || c == ':'))
        .filter(|w| !w.is_empty())
        .collect();
    vec![Finding {
        pid: None,
        at: PATH.into(),
        tag: "ld-so-preload",
        strength: if entries.is_empty() {
            Strength::Weak
        } else {
            Strength::Strong
        },
        what: if entries.is_empty() {
            format!("{PATH} exists (from {origin}) and lists nothing")
        } else {
            format!(
                "{PATH} (from {origin}) preloads into every dynamically linked program: {}",
                entries.join(" ")
            )
        },
    }]
}

/// Why a path of the container's files is a place attackers persist, and how strong that is;
/// `None` for other paths. `path` is normalized (no leading `/`).
pub(super) fn persistence_kind(path: &str) -> Option<(Strength, &'static str)> {
    let parts: Vec<&str> = path.split('/').collect();
    let ssh_keys = |f: &str| f == "authorized_keys" || f == "authorized_keys2";
    let startup = |f: &str| matches!(f, ".bashrc" | ".profile" | ".bash_profile" | ".bash_login");
    match parts.as_slice() {
        ["root", ".ssh", f] | ["home", _, ".ssh", f] if ssh_keys(f) => Some((
            Strength::Strong,
            "an SSH authorized_keys file: each key in it logs in as its user",
        )),
        ["etc", "crontab"]
        | [
            "etc",
            "cron.d" | "cron.hourly" | "cron.daily" | "cron.weekly" | "cron.monthly",
            _,
        ]
        | ["var", "spool", "cron", ..] => {
            Some((Strength::Strong, "a crontab: cron runs what it lists"))
        }
        ["etc", "sudoers"] | ["etc", "sudoers.d", _] => Some((
            Strength::Strong,
            "a sudoers file: it grants root to the users it names",
        )),
        ["etc", "systemd", "system", ..] | ["etc", "rc.local"] | ["etc", "init.d", _] => Some((
            Strength::Strong,
            "a service definition: the init system starts what it names",
        )),
        ["etc", "passwd" | "shadow" | "group"] => Some((
            Strength::Weak,
            "an account database: accounts or passwords may have been added",
        )),
        ["root", f] | ["home", _, f] if startup(f) => Some((
            Strength::Weak,
            "a shell startup file: every login shell of the user runs it",
        )),
        ["etc", "profile" | "bash.bashrc"] | ["etc", "profile.d", _] => Some((
            Strength::Weak,
            "a shell startup file: every login shell runs it",
        )),
        _ => None,
    }
}

/// **Persistence files written in the container**: a regular file of the checkpoint's own tars
/// (the writable layer `rootfs-diff.tar`, a tmpfs CRIU saved), not of `--rootfs`, at a path
/// attackers use to come back: SSH `authorized_keys` (with the comment of each key), crontabs,
/// sudoers, service definitions (strong); account databases and shell startup files (weak: a
/// package install changes them too). `<pid>` `-`, `<where>` the path. Tag `persistence-file`.
pub fn persistence_files(ck: &Checkpoint) -> Vec<Finding> {
    let rootfs = &ck.container_fs.rootfs;
    let mut out = Vec::new();
    for (path, node) in rootfs.nodes() {
        let (Some(st), crate::model::rootfs::NodeKind::File(data)) = (&node.stamp, &node.kind)
        else {
            continue;
        };
        if st.image_dir {
            continue;
        }
        let Some((strength, why)) = persistence_kind(path) else {
            continue;
        };
        let mut what = format!(
            "/{path} is in the container's written files ({}, modified {}, {} bytes): {why}",
            rootfs.layer_name(st),
            crate::format::time::rfc3339(i64::try_from(st.mtime).unwrap_or(i64::MAX)),
            data.size()
        );
        if path.ends_with("authorized_keys") || path.ends_with("authorized_keys2") {
            let comments = key_comments(data);
            if !comments.is_empty() {
                what.push_str(&format!("; keys: {}", comments.join(", ")));
            }
        }
        out.push(Finding {
            pid: None,
            at: format!("/{path}"),
            tag: "persistence-file",
            strength,
            what: super::clean(&what),
        });
    }
    out
}

/// Each key line of an `authorized_keys` file (its first 64 KiB), by its comment (the last
/// field), else its type; comments and blank lines skipped; at most 8, then `...`.
fn key_comments(data: &FileData) -> Vec<String> {
    let mut head = vec![0u8; 64 * 1024];
    let n = match data {
        FileData::Blob(b) => {
            let n = b.len().min(head.len());
            head[..n].copy_from_slice(&b.bytes()[..n]);
            n
        }
        FileData::Host(h) => h.read_at(0, &mut head).unwrap_or(0),
    };
    let text = String::from_utf8_lossy(&head[..n]);
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if out.len() == 8 {
            out.push("...".into());
            break;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        // `[options] type base64 [comment]`: the comment follows the key, when there is one.
        let key = fields
            .iter()
            .position(|f| f.starts_with("ssh-") || f.starts_with("ecdsa-") || f.starts_with("sk-"));
        let shown = match key {
            Some(k) if fields.len() > k + 2 => fields[k + 2..].join(" "),
            Some(k) => format!("{} key without a comment", fields[k]),
            None => "a line that is not a key".into(),
        };
        out.push(shown);
    }
    out
}
