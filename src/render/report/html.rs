//! Text from a checkpoint made safe inside HTML and SVG: every name, path and command line is
//! untrusted.

/// `s` escaped for HTML text and attribute values (`&`, `<`, `>`, `"`, `'`), with control
/// characters written as [`crate::format::escape::escape`] writes them.
pub fn esc(s: &str) -> String {
    let s = crate::format::escape::escape(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `v` escaped, or [`super::NOT_RECORDED`] (styled) when the checkpoint does not hold it.
pub fn opt(v: Option<&str>) -> String {
    match v {
        Some(s) if !s.is_empty() => esc(s),
        _ => not_recorded(),
    }
}

/// [`super::NOT_RECORDED`], styled.
pub fn not_recorded() -> String {
    format!("<span class=\"nr\">{}</span>", super::NOT_RECORDED)
}

/// At most `max` characters of `s` (then `...`), escaped.
pub fn esc_cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", esc(&s[..i])),
        None => esc(s),
    }
}

/// The note under a table that shows only the first `shown` of `total` rows.
pub fn capped(shown: usize, total: usize, whole: &str) -> String {
    if total > shown {
        format!(
            "<p class=\"cap\">The first {shown} of {total} rows are shown; {} lists them all.</p>\n",
            esc(whole)
        )
    } else {
        String::new()
    }
}

/// A table: a caption, the header cells and the rows (cells already HTML).
pub fn table(class: &str, caption: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!("<table class=\"{class}\">");
    if !caption.is_empty() {
        s.push_str(&format!("<caption>{}</caption>", esc(caption)));
    }
    s.push_str("<thead><tr>");
    for h in head {
        s.push_str(&format!("<th scope=\"col\">{}</th>", esc(h)));
    }
    s.push_str("</tr></thead><tbody>\n");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            s.push_str(&format!("<td>{c}</td>"));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n");
    s
}

/// `bytes` in base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(char::from(A[(n >> shift & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A hexadecimal address as `maps` writes it.
pub fn hex(a: u64) -> String {
    format!("{a:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(
            esc("<script>a&b\"c'</script>\x1b[0m"),
            "&lt;script&gt;a&amp;b&quot;c&#39;&lt;/script&gt;\\x1b[0m"
        );
        assert_eq!(esc("plain /usr/bin/x"), "plain /usr/bin/x");
    }

    /// RFC 4648's test vectors.
    #[test]
    fn base64_as_rfc_4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o, "{i}");
        }
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn unknown_is_not_recorded_and_cuts_are_marked() {
        assert!(opt(None).contains("not recorded"));
        assert!(opt(Some("")).contains("not recorded"));
        assert_eq!(opt(Some("<x>")), "&lt;x&gt;");
        assert_eq!(esc_cut("abcdef", 3), "abc...");
        assert_eq!(esc_cut("ab<", 3), "ab&lt;");
        assert_eq!(capped(5, 5, "x"), "");
        assert!(capped(5, 9, "ckptfs x").contains("first 5 of 9"));
    }
}
