//! checkpointctl-style tables: Go's `text/tabwriter` with checkpointctl's (kubectl's) settings.
//!
//! ```text
//! PID   PROCESS NAME   MEMORY SIZE   SHARED MEMORY SIZE
//! ---   ------------   -----------   ------------------
//! 1     sh             72.0 KiB      0 B
//! ```
//!
//! - Headers are upper-cased; under each header a rule of `-` as long as the header.
//! - Every column but the last is padded to its widest cell plus 3 spaces, and at least 6
//!   characters wide (tabwriter `minwidth 6, padding 3`); the last cell of a line is not padded.
//! - Widths count characters (not bytes), like tabwriter does for UTF-8.
//! - Cells come from untrusted input (container names, memory): tabs, newlines and other control
//!   characters are shown escaped ([`cell`]) so they cannot break the layout or drive the terminal.
//!
//! Used by the `show` / `memparse` / `list` / `cache list` views and by `checkpoint/summary`.

/// tabwriter `minwidth`.
const MIN_WIDTH: usize = 6;
/// tabwriter `padding`.
const PADDING: usize = 3;

/// A cell made safe for one table line: control characters escaped ([`super::escape`]).
pub fn cell(s: &str) -> String {
    super::escape(s).into_owned()
}

/// Renders `header` (upper-cased) and `rows` as checkpointctl prints them. Rows shorter than the
/// header are padded with empty cells; longer ones are cut.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    if cols == 0 {
        return String::new();
    }
    let header: Vec<String> = header.iter().map(|h| cell(&h.to_uppercase())).collect();
    let rules: Vec<String> = header
        .iter()
        .map(|h| "-".repeat(h.chars().count()))
        .collect();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            (0..cols)
                .map(|i| r.get(i).map(|c| cell(c)).unwrap_or_default())
                .collect()
        })
        .collect();
    let lines: Vec<&Vec<String>> = [&header, &rules].into_iter().chain(body.iter()).collect();
    // Widths of every column but the last.
    let width: Vec<usize> = (0..cols - 1)
        .map(|i| {
            let w = lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0);
            (w + PADDING).max(MIN_WIDTH)
        })
        .collect();
    let mut out = String::new();
    for l in lines {
        for (i, c) in l.iter().enumerate() {
            out.push_str(c);
            if i + 1 < cols {
                out.extend(std::iter::repeat_n(' ', width[i] - c.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_tabwriter() {
        let t = render(
            &["PID", "Process name", "Memory size", "Shared memory size"],
            &[
                vec!["1".into(), "sh".into(), "72.0 KiB".into(), "0 B".into()],
                vec!["6".into(), "httpd".into(), "68.0 KiB".into(), "0 B".into()],
            ],
        );
        assert_eq!(
            t,
            "PID   PROCESS NAME   MEMORY SIZE   SHARED MEMORY SIZE\n\
             ---   ------------   -----------   ------------------\n\
             1     sh             72.0 KiB      0 B\n\
             6     httpd          68.0 KiB      0 B\n"
        );
    }

    #[test]
    fn min_width_and_last_column_unpadded() {
        let t = render(&["a", "b"], &[vec!["x".into(), "long value".into()]]);
        assert_eq!(t, "A     B\n-     -\nx     long value\n");
        // Short rows get empty cells, long rows are cut.
        let t = render(
            &["a", "b"],
            &[vec!["x".into()], vec!["1".into(), "2".into(), "3".into()]],
        );
        assert_eq!(t, "A     B\n-     -\nx     \n1     2\n");
    }

    #[test]
    fn control_characters_cannot_break_lines() {
        assert_eq!(cell("a\tb\nc\x1b[31m"), "a\\tb\\nc\\x1b[31m");
        let t = render(&["n"], &[vec!["evil\nrow".into()]]);
        assert_eq!(t.lines().count(), 3);
        // Widths are in characters.
        let t = render(&["x", "y"], &[vec!["µµµµµµµ".into(), "z".into()]]);
        assert_eq!(t.lines().nth(2).unwrap(), "µµµµµµµ   z");
    }
}
