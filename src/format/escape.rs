//! Untrusted text (names, command lines, paths from a checkpoint) made safe to print: one rule
//! everywhere. Control characters are written C-style, `\t`, `\n`, `\r`, and `\xNN` for each
//! byte of any other (`\x1b`, `\x7f`, `\xc2\x85` for U+0085); invalid UTF-8 bytes as `\xNN`.
//! Everything else (backslashes included) is kept as is.
//!
//! The kernel's own escapings (octal in `mountinfo`, `\n` in `maps` paths) are formats of their
//! files and stay with their renderers.

use std::borrow::Cow;

/// `s` with every control character escaped (so it stays on one line and cannot drive a
/// terminal).
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_except(s, &[])
}

/// `s` with control characters escaped, except those in `keep` (the tree view keeps `\t` and
/// `\n`: multi-line command lines are drawn as several lines).
pub fn escape_except<'a>(s: &'a str, keep: &[char]) -> Cow<'a, str> {
    let bad = |c: char| c.is_control() && !keep.contains(&c);
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Bytes that may not be UTF-8 (a name from a tar header, a directory entry), escaped like
/// [`escape`], invalid UTF-8 bytes as `\xNN`.
pub fn escape_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

/// Raw memory as one line of ASCII that maps back to the bytes exactly: printable ASCII as is,
/// `\\` for a backslash, every other byte `\xNN` (the context of `ckptfs scan` findings).
pub fn escape_ascii(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            32..127 => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c => {
            let mut b = [0u8; 4];
            for byte in c.encode_utf8(&mut b).bytes() {
                out.push_str(&format!("\\x{byte:02x}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_controls() {
        assert_eq!(escape("a/b.img"), "a/b.img");
        assert!(matches!(escape("plain µ"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\tb\nc\r\x1b[31m\x7f"),
            "a\\tb\\nc\\r\\x1b[31m\\x7f"
        );
        assert_eq!(escape("\u{85}"), "\\xc2\\x85");
        assert_eq!(escape("back\\slash"), "back\\slash");
        assert_eq!(escape_except("a\tb\nc\r", &['\t', '\n']), "a\tb\nc\\r");
        assert_eq!(escape_bytes(b"x\n\x1b[31m"), "x\\n\\x1b[31m");
        assert_eq!(escape_bytes(b"\xffz"), "\\xffz");
    }
}
