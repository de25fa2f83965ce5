//! Credentials in process memory (`mem-credential`): values of well-known, precise credential
//! formats found in the memory a process wrote, whatever put them there (a heap buffer, a
//! configuration read at run time, a token received), not only in its environment or arguments.
//!
//! The formats ([`Kind`]), each chosen for a low false-positive rate (a fixed prefix and a fixed
//! alphabet and length, or a structure that is checked):
//! - AWS access key id: `AKIA` or `ASIA` and 16 characters of `A-Z2-7`, not inside a longer word;
//! - AWS secret access key: the value (16-128 characters of `A-Za-z0-9/+=_-`) after
//!   `aws_secret_access_key` (any case, `_` optional) or `SecretAccessKey` and `=` or `:` (a
//!   credentials file, an environment block, STS's JSON); the value alone has no format;
//! - JWT: three base64url parts joined by `.`, header and payload starting `eyJ` (`{"`), and the
//!   header decoding to a JSON object with an `"alg"`;
//! - private key: a PEM `-----BEGIN ... PRIVATE KEY-----` line (RSA, EC, DSA, OPENSSH, ENCRYPTED,
//!   PGP or none) followed by at least 32 characters of base64 (libraries hold the header alone
//!   as a format string: not reported); the value is the block up to its `-----END` line;
//! - GitHub token: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and 36 alphanumerics, or
//!   `github_pat_` and 82;
//! - GitLab personal access token: `glpat-` and 20 to 64 characters of `A-Za-z0-9_-`;
//! - Slack token: `xoxb-`, `xoxp-`, `xoxa-`, `xoxo-`, `xoxs-`, `xoxr-`, 8 to 13 digits, `-`, and
//!   8 or more characters of `A-Za-z0-9-`;
//! - Stripe key: `sk_live_`, `sk_test_`, `rk_live_` or `rk_test_` and 24 to 99 alphanumerics.
//!
//! Where: every mapping whose bytes the process can have written: anonymous memory (`[heap]`,
//! `[stack]`, private and shared), writable file mappings, shared memory. Read-only and
//! executable file mappings are left out: their bytes are the file's (a library's format
//! strings), and the file is in the tree to search. Only dumped bytes are searched (one pass of
//! [`crate::model::memory::search`] over them), then, in a process with a finding, one more pass
//! counts every copy of each value found.
//!
//! One finding per distinct value per process, at the address of its first copy; the value is
//! shown redacted ([`redact`]): `xxd -s ADDR -l LEN PID/mem` or `ckptfs scan --string` shows it.

use std::sync::OnceLock;

use regex::bytes::Regex;

use super::{Finding, Strength};
use crate::model::memory::Memory;
use crate::model::memory::search::{Pattern, Searchable};
use crate::model::process::{Process, Vma, VmaName};

/// A credential format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    AwsAccessKeyId,
    AwsSecretAccessKey,
    Jwt,
    PrivateKey,
    GitHubToken,
    GitLabToken,
    SlackToken,
    StripeKey,
}

impl Kind {
    /// Every kind, in the order their patterns are tried.
    pub const ALL: [Kind; 8] = [
        Kind::AwsAccessKeyId,
        Kind::AwsSecretAccessKey,
        Kind::Jwt,
        Kind::PrivateKey,
        Kind::GitHubToken,
        Kind::GitLabToken,
        Kind::SlackToken,
        Kind::StripeKey,
    ];

    /// What the finding calls it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::AwsAccessKeyId => "AWS access key id",
            Kind::AwsSecretAccessKey => "AWS secret access key",
            Kind::Jwt => "JWT",
            Kind::PrivateKey => "private key",
            Kind::GitHubToken => "GitHub token",
            Kind::GitLabToken => "GitLab token",
            Kind::SlackToken => "Slack token",
            Kind::StripeKey => "Stripe key",
        }
    }

    /// How a value (or, for the AWS secret, its name) starts: what the one pass over memory
    /// looks for (literals only: the search stays at the speed of a literal search).
    fn prefixes(self) -> &'static [&'static str] {
        match self {
            Kind::AwsAccessKeyId => &["AKIA", "ASIA"],
            Kind::AwsSecretAccessKey => &[
                "aws_secret_access_key",
                "AWS_SECRET_ACCESS_KEY",
                "SecretAccessKey",
                "secretAccessKey",
            ],
            Kind::Jwt => &["eyJ"],
            Kind::PrivateKey => &["-----BEGIN "],
            Kind::GitHubToken => &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
            Kind::GitLabToken => &["glpat-"],
            Kind::SlackToken => &["xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxs-", "xoxr-"],
            Kind::StripeKey => &["sk_live_", "sk_test_", "rk_live_", "rk_test_"],
        }
    }

    /// The whole pattern, checked at each prefix found (bytes, Unicode off). The AWS secret's
    /// value is its first group; every other pattern's match is the value.
    fn pattern(self) -> &'static str {
        match self {
            Kind::AwsAccessKeyId => r"(?:AKIA|ASIA)[A-Z2-7]{16}",
            Kind::AwsSecretAccessKey => {
                r#"(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|SecretAccessKey|secretAccessKey)["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9/+=_-]{16,128})"#
            }
            Kind::Jwt => r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
            Kind::PrivateKey => {
                r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----\r?\n(?:[A-Za-z-]{1,32}: [^\r\n]{0,256}\r?\n)*(?:\r?\n)?[A-Za-z0-9+/]{32}"
            }
            Kind::GitHubToken => r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82}",
            Kind::GitLabToken => r"glpat-[A-Za-z0-9_-]{20,64}",
            Kind::SlackToken => r"xox[abposr]-[0-9]{8,13}-[A-Za-z0-9-]{8,128}",
            Kind::StripeKey => r"[rs]k_(?:live|test)_[0-9A-Za-z]{24,99}",
        }
    }

    /// Whether byte `b` continues the value (a value touching such a byte before or after it
    /// is part of a longer word, not this format); None for no check.
    fn word(self, b: u8) -> Option<bool> {
        let alnum = b.is_ascii_alphanumeric();
        match self {
            Kind::AwsAccessKeyId => Some(alnum),
            Kind::AwsSecretAccessKey => Some(alnum || b"/+=_-".contains(&b)),
            Kind::Jwt | Kind::GitLabToken => Some(alnum || b == b'_' || b == b'-'),
            Kind::GitHubToken | Kind::StripeKey => Some(alnum || b == b'_'),
            Kind::SlackToken => Some(alnum || b == b'-'),
            Kind::PrivateKey => None,
        }
    }
}

/// One pattern per kind, anchored, in [`Kind::ALL`] order (to tell which kind a match of
/// [`combined`] is).
fn anchored() -> &'static [Regex] {
    static RE: OnceLock<Vec<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Kind::ALL
            .iter()
            .map(|k| {
                regex::bytes::RegexBuilder::new(&format!("^(?:{})", k.pattern()))
                    .unicode(false)
                    .build()
                    .expect("a valid pattern")
            })
            .collect()
    })
}

/// Every kind's prefixes in one pattern, for one pass over memory.
fn combined() -> &'static Pattern {
    static P: OnceLock<Pattern> = OnceLock::new();
    P.get_or_init(|| {
        let all: Vec<String> = Kind::ALL
            .iter()
            .flat_map(|k| k.prefixes())
            .map(|p| regex::escape(p))
            .collect();
        Pattern::regex(&all.join("|")).expect("a valid pattern")
    })
}

/// Longest value kept whole (a private key block is cut here: the cut block still names it).
const MAX_VALUE: usize = 3072;
/// How far after a private key's header its `-----END` line is looked for.
const PEM_REACH: usize = 16 << 10;
/// Bytes read at a private key's header: the longest block looked at and the byte after it.
const REACH: usize = PEM_REACH + 1;
/// Bytes read at any other prefix found: the longest JWT found whole (4 KiB; a longer one is
/// cut there) and the byte after it; every other kind's value is shorter.
const SHORT_REACH: usize = 4097;

/// The credential that starts at `text[0]`, if any: its kind and the value's offsets in `text`
/// (checked: the bytes around it, a JWT's header, a private key's end), given the byte before
/// `text` (`before`, 0 when none). `text` holds what follows in memory, as far as the longest
/// value reaches.
pub fn classify(before: u8, text: &[u8]) -> Option<(Kind, usize, usize)> {
    let (kind, caps) = Kind::ALL
        .iter()
        .zip(anchored())
        .find_map(|(&k, re)| Some((k, re.captures(text)?)))?;
    let m = caps.get(0)?.as_bytes();
    let (start, end) = match caps.get(1) {
        Some(g) => (g.start(), g.end()),
        None => (0, m.len()),
    };
    let after = text.get(end).copied().unwrap_or(0);
    let touches = |b: u8| kind.word(b) == Some(true);
    if (start == 0 && touches(before)) || touches(after) {
        return None;
    }
    match kind {
        Kind::Jwt => {
            let header = m.split(|&b| b == b'.').next()?;
            let json = base64url(header)?;
            let json = String::from_utf8(json).ok()?;
            let json = json.trim_start();
            (json.starts_with('{') && json.contains("\"alg\"")).then_some((kind, 0, end))
        }
        Kind::PrivateKey => Some((kind, 0, pem_end(text).unwrap_or(end))),
        _ => Some((kind, start, end)),
    }
}

/// The end of a PEM block starting at `text[0]`: past its `-----END ...-----` line, when that
/// comes within [`PEM_REACH`] bytes and every byte up to it is text; capped at [`MAX_VALUE`].
fn pem_end(text: &[u8]) -> Option<usize> {
    let t = &text[..text.len().min(PEM_REACH)];
    let at = memchr::memmem::find(t, b"-----END ")?;
    let close = memchr::memmem::find(&t[at + 9..], b"-----")? + at + 9 + 5;
    let block = &t[..close];
    if !block
        .iter()
        .all(|&b| (32..127).contains(&b) || b == b'\n' || b == b'\r')
    {
        return None;
    }
    Some(close.min(MAX_VALUE))
}

/// base64url (or base64) without padding, decoded; None if it holds another byte.
fn base64url(s: &[u8]) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in s.iter().take_while(|&&c| c != b'=') {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A credential value as triage shows it: its first 4 and last 2 characters and its length
/// (`AKIA...S2 (20 chars)`); a value under 12 characters shows its length only. Bytes outside
/// printable ASCII are shown as `?`.
pub fn redact(v: &[u8]) -> String {
    let p = crate::model::memory::search::printable;
    if v.len() < 12 {
        return format!("[{} chars]", v.len());
    }
    format!(
        "{}...{} ({} chars)",
        p(&v[..4]),
        p(&v[v.len() - 2..]),
        v.len()
    )
}

/// How a value of `kind` is shown: [`redact`]ed; a private key shows its header line (the
/// key's type) and its body redacted.
fn shown(kind: Kind, v: &[u8]) -> String {
    if kind == Kind::PrivateKey
        && let Some(nl) = v.iter().position(|&b| b == b'\n')
    {
        let header = String::from_utf8_lossy(&v[..nl]);
        let body = &v[nl + 1..];
        let body = memchr::memmem::find(body, b"-----END").map_or(body, |e| &body[..e]);
        let body: Vec<u8> = body
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        return format!(
            "{} ({} bytes), body {}",
            header.trim_end(),
            v.len(),
            redact(&body)
        );
    }
    redact(v)
}

/// Whether triage searches `v` for credentials: anything the process can have written
/// (anonymous memory, writable or shared mappings), not read-only file mappings or the
/// kernel's special mappings.
fn searched(v: &Vma) -> bool {
    let file = v.file.is_some() || matches!(v.name, VmaName::File { .. } | VmaName::Unknown { .. });
    (!file || v.writable() || v.shared()) && !super::special(v) && v.end > v.start
}

/// One value found in a process.
struct Found {
    kind: Kind,
    value: Vec<u8>,
    copies: Vec<u64>,
}

/// The memory of `p` that triage searches ([`searched`]).
fn searched_memory(p: &Process) -> Memory {
    let mut ranges: Vec<(u64, u64)> = p
        .vmas
        .iter()
        .filter(|v| searched(v))
        .map(|v| (v.start, v.end))
        .collect();
    ranges.sort_unstable();
    ranges.dedup_by(|b, a| b.0 < a.1);
    p.memory.restricted(&ranges)
}

/// The bytes at `addr..addr + len` of `mem` (holes as zeros), or None where they cannot be read.
fn read(mem: &Memory, addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut b = vec![0u8; len];
    mem.read_at(addr, &mut b).ok()?;
    Some(b)
}

/// **Credentials in process memory** (see the module documentation): one finding per distinct
/// value, `<where>` the address of its first copy, with its mapping and every copy's address
/// (at most 8 listed). Tag `mem-credential` (weak: a process holding a credential is how
/// services work; the finding says which credentials a compromise of this process exposes).
pub fn memory_credentials(p: &Process) -> Vec<Finding> {
    let mem = searched_memory(p);
    if mem.present_bytes() == 0 {
        return Vec::new();
    }
    let s = Searchable::new(&mem);
    let mut found: Vec<Found> = Vec::new();
    for m in s.find(combined()) {
        let before = match m.addr.checked_sub(1) {
            Some(a) => read(&mem, a, 1).map_or(0, |b| b[0]),
            None => 0,
        };
        // A private key reaches further (to its end line) than any other value.
        let pem = read(&mem, m.addr, m.len).is_some_and(|b| b.starts_with(b"-----"));
        let reach = if pem { REACH } else { SHORT_REACH };
        let Some(text) = read(&mem, m.addr, reach).or_else(|| read(&mem, m.addr, m.len)) else {
            continue;
        };
        let Some((kind, start, end)) = classify(before, &text) else {
            continue;
        };
        let value = &text[start..end];
        let addr = m.addr + start as u64;
        match found.iter_mut().find(|f| f.value == value) {
            Some(f) => f.copies.push(addr),
            None => found.push(Found {
                kind,
                value: value.to_vec(),
                copies: vec![addr],
            }),
        }
    }
    if found.is_empty() {
        return Vec::new();
    }
    // Every copy of each value, wherever it stands (a value found by its context once, such as
    // an AWS secret after its name, is counted where it stands alone too).
    let values: Vec<String> = found
        .iter()
        .map(|f| regex::escape(&String::from_utf8_lossy(&f.value)))
        .collect();
    if let Ok(pat) = Pattern::regex(&values.join("|")) {
        for m in s.find(&pat) {
            let Some(b) = read(&mem, m.addr, m.len) else {
                continue;
            };
            if let Some(f) = found.iter_mut().find(|f| f.value == b) {
                f.copies.push(m.addr);
            }
        }
    }
    let mut out: Vec<(u64, Finding)> = found
        .into_iter()
        .map(|mut f| {
            f.copies.sort_unstable();
            f.copies.dedup();
            let first = f.copies[0];
            let mapping = p.vma_at(first).map_or_else(String::new, |v| {
                let name =
                    crate::render::maps::vma_name(v).map_or_else(String::new, |n| format!(" {n}"));
                format!(" in {} {}{name}", super::range(v), v.perms())
            });
            let n = f.copies.len();
            let mut list: Vec<String> = f.copies.iter().take(8).map(|a| format!("{a:x}")).collect();
            if n > 8 {
                list.push(format!("and {} more", n - 8));
            }
            let what = format!(
                "{} in memory: {}{mapping}, {n} cop{}: {}",
                f.kind.name(),
                shown(f.kind, &f.value),
                if n == 1 { "y" } else { "ies" },
                list.join(", ")
            );
            (
                first,
                Finding::new(
                    p.pid,
                    format!("{first:x}"),
                    "mem-credential",
                    Strength::Weak,
                    what,
                ),
            )
        })
        .collect();
    out.sort_by_key(|(a, _)| *a);
    out.into_iter().map(|(_, f)| f).collect()
}

/// [`memory_credentials`] of every process, in order, searched on every core (a thread takes
/// the next process when it is done with one: the largest does not hold the others up).
pub fn each_process(processes: &[Process]) -> Vec<Vec<Finding>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(processes.len());
    if threads <= 1 {
        return processes.iter().map(memory_credentials).collect();
    }
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Vec<Finding>>> = Mutex::new(vec![Vec::new(); processes.len()]);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = processes.get(i) else { break };
                    let f = memory_credentials(p);
                    if let Ok(mut o) = out.lock() {
                        o[i] = f;
                    }
                }
            });
        }
    });
    out.into_inner().unwrap_or_default()
}

/// `s` with every value of a known format ([`Kind`]) [`redact`]ed in place (a command line
/// quoted by a history finding).
pub fn redact_known(s: &str) -> String {
    let Pattern::Regex(re) = combined() else {
        return s.to_string();
    };
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for m in re.find_iter(b) {
        let before = m.start().checked_sub(1).map_or(0, |i| b[i]);
        let Some((kind, st, en)) = classify(before, &b[m.start()..]) else {
            continue;
        };
        let (vs, ve) = (m.start() + st, m.start() + en);
        if vs < last || !s.is_char_boundary(vs) || !s.is_char_boundary(ve) {
            continue;
        }
        out.push_str(&s[last..vs]);
        out.push_str(&shown(kind, &b[vs..ve]));
        last = ve;
    }
    out.push_str(&s[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::{file, process, vma};

    const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";

    /// The kind and value `classify` finds at the start of `text`.
    fn found(before: u8, text: &str) -> Option<(Kind, String)> {
        let (k, s, e) = classify(before, text.as_bytes())?;
        Some((k, text[s..e].to_string()))
    }

    #[test]
    fn each_format_and_its_near_misses() {
        let key = "AKIAIOSFODNN7EXAMPLE";
        assert_eq!(
            found(b' ', &format!("{key} x")),
            Some((Kind::AwsAccessKeyId, key.into()))
        );
        assert_eq!(
            found(b'=', &format!("ASIA{}\n", &key[4..])).map(|f| f.0),
            Some(Kind::AwsAccessKeyId)
        );
        // Inside a longer word, before or after; a character outside base32; too short.
        assert_eq!(found(b'X', key), None);
        assert_eq!(found(b' ', &format!("{key}Q")), None);
        assert_eq!(found(b' ', "AKIAIOSFODNN7EXAMP1E"), None);
        assert_eq!(found(b' ', "AKIAIOSFODNN7EXAMPL"), None);

        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        for text in [
            format!("aws_secret_access_key = {secret}\n"),
            format!("AWS_SECRET_ACCESS_KEY={secret}"),
            // STS's JSON, from the name on (where the search finds it).
            format!("SecretAccessKey\": \"{secret}\","),
        ] {
            assert_eq!(
                found(0, &text),
                Some((Kind::AwsSecretAccessKey, secret.into())),
                "{text}"
            );
        }
        // A format string, a short placeholder: no value.
        assert_eq!(found(0, "aws_secret_access_key = %s\n"), None);
        assert_eq!(found(0, "aws_secret_access_key = CHANGEME\n"), None);

        assert_eq!(
            found(b' ', &format!("{JWT}\"")),
            Some((Kind::Jwt, JWT.into()))
        );
        // Preceded by a base64url character; a payload that is not an object; a header that
        // does not decode to one with "alg".
        assert_eq!(found(b'a', JWT), None);
        assert_eq!(
            found(
                b' ',
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.abcdefghijkl.sig"
            ),
            None
        );
        assert_eq!(found(b' ', "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0.c2ln"), None);

        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nAbCd==\n-----END RSA PRIVATE KEY-----";
        assert_eq!(
            found(0, &format!("{pem}\ntrailing")),
            Some((Kind::PrivateKey, pem.into()))
        );
        let ssh =
            "-----BEGIN OPENSSH PRIVATE KEY-----\r\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ";
        assert_eq!(found(0, ssh).map(|f| f.0), Some(Kind::PrivateKey));
        // A library's header alone (a format string), a public key.
        assert_eq!(
            found(0, "-----BEGIN RSA PRIVATE KEY-----\n%s\n-----END"),
            None
        );
        assert_eq!(
            found(
                0,
                "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"
            ),
            None
        );

        let gh = format!("ghp_{}", "a1B2".repeat(9));
        assert_eq!(found(b' ', &gh), Some((Kind::GitHubToken, gh.clone())));
        assert_eq!(found(b' ', &format!("{gh}x")), None);
        assert_eq!(found(b' ', &gh[..39]), None);
        let pat = format!("github_pat_{}", "A".repeat(82));
        assert_eq!(found(b' ', &pat).map(|f| f.0), Some(Kind::GitHubToken));
        assert_eq!(
            found(b' ', "glpat-abcdefghij0123456789 "),
            Some((Kind::GitLabToken, "glpat-abcdefghij0123456789".into()))
        );
        assert_eq!(found(b' ', "glpat-abcdefghij012345678 "), None);
        let slack = "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx";
        assert_eq!(found(b' ', slack), Some((Kind::SlackToken, slack.into())));
        assert_eq!(found(b' ', "xoxb-not-a-token"), None);
        let stripe = format!("sk_live_{}", "4eC39HqLyjWDarjtT1zdp7dc");
        assert_eq!(
            found(b'"', &stripe),
            Some((Kind::StripeKey, stripe.clone()))
        );
        // podman-redis's marker: a Stripe-like prefix with 9 characters is not a key.
        assert_eq!(found(b'-', "sk_live_s40Q2w8Y6"), None);
    }

    #[test]
    fn redaction() {
        assert_eq!(redact(b"AKIAIOSFODNN7EXAMPLE"), "AKIA...LE (20 chars)");
        assert_eq!(redact(b"hunter2"), "[7 chars]");
        assert_eq!(
            redact_known(&format!("key AKIAIOSFODNN7EXAMPLE and {JWT}.")),
            "key AKIA...LE (20 chars) and eyJh...Jl (65 chars)."
        );
        assert_eq!(redact_known("nothing here"), "nothing here");
    }

    #[test]
    fn one_finding_per_value_with_its_copies() {
        let key = b"AKIAIOSFODNN7EXAMPLE";
        let mut heap = vec![0u8; 0x2000];
        heap[0x10..0x10 + key.len()].copy_from_slice(key);
        heap[0x1ff0..0x1ff0 + 4].copy_from_slice(&key[..4]);
        // The second copy crosses the page boundary at 0x1000.
        heap[0xff8..0xff8 + key.len()].copy_from_slice(key);
        let text = b"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
        heap[0x400..0x400 + text.len()].copy_from_slice(text);
        // The secret alone, without its name: counted as a copy.
        heap[0x800..0x800 + 40].copy_from_slice(&text[24..64]);
        let lib = b"-----BEGIN RSA PRIVATE KEY-----\nAKIAIOSFODNN7EXAMPLF";
        let p = process(
            5,
            vec![
                vma(0x10000, 0x12000, "rw-p", 0, VmaName::Heap),
                // A read-only file mapping: its bytes are the file's, not searched.
                vma(0x20000, 0x21000, "r--p", 0, file("/usr/lib/libx.so", false)),
            ],
            vec![(0x10000, heap), (0x20000, lib.to_vec())],
        );
        let f = memory_credentials(&p);
        let lines: Vec<String> = f.iter().map(Finding::line).collect();
        assert_eq!(
            lines,
            [
                "PID 5 10010 mem-credential: [weak] AWS access key id in memory: AKIA...LE (20 chars) in 10000-12000 rw-p [heap], 2 copies: 10010, 10ff8",
                "PID 5 10418 mem-credential: [weak] AWS secret access key in memory: wJal...EY (40 chars) in 10000-12000 rw-p [heap], 2 copies: 10418, 10800",
            ],
            "{lines:#?}"
        );
        // Nothing to find: nothing reported.
        let p = process(
            6,
            vec![vma(0x10000, 0x11000, "rw-p", 0, VmaName::Heap)],
            vec![(0x10000, vec![b'A'; 0x1000])],
        );
        assert!(memory_credentials(&p).is_empty());
    }
}
