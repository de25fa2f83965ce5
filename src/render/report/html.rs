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
}
