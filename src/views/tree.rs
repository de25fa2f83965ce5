//! Tree drawing as checkpointctl's `treeprint` does it (the tree view of `inspect` and `diff`).
//!
//! ```text
//! fx-busybox
//! ├── Image: localhost/fixture-busybox:latest
//! └── Process tree
//!     └── [1]  sh
//!         ├── [6]  httpd
//!         └── [7]  sleep
//! ```
//!
//! A node is `VALUE` or, with a meta value, `[META]  VALUE`. A value of several lines (a shell
//! script as command line) continues on the next lines after a padding that repeats the link edges
//! of the node's ancestors and of the node itself (four spaces where that node is the last of its
//! siblings, `│` and three spaces elsewhere), as treeprint does; like treeprint, the padding does
//! not draw the link to the node's own children.
//!
//! Values come from untrusted input: control characters other than tab and newline are shown
//! escaped (`\x1b`), so a checkpoint cannot drive the analyst's terminal. Tabs and newlines are kept
//! (checkpointctl prints them, and a multi-line command line is shown as lines).

/// One node of a tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    pub meta: Option<String>,
    pub value: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn new(value: impl Into<String>) -> Node {
        Node {
            meta: None,
            value: value.into(),
            children: Vec::new(),
        }
    }

    pub fn with_meta(meta: impl Into<String>, value: impl Into<String>) -> Node {
        Node {
            meta: Some(meta.into()),
            value: value.into(),
            children: Vec::new(),
        }
    }

    /// Adds a child and returns it (for building deeper).
    pub fn add(&mut self, child: Node) -> &mut Node {
        self.children.push(child);
        self.children.last_mut().expect("just pushed")
    }

    /// Adds a leaf `value` and returns self (for chaining).
    pub fn leaf(&mut self, value: impl Into<String>) -> &mut Node {
        self.children.push(Node::new(value));
        self
    }

    /// The tree as text, ending with a newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&label(self));
        out.push('\n');
        let mut last_flags = Vec::new();
        render_children(&mut out, &self.children, &mut last_flags);
        out
    }
}

/// `VALUE` or `[META]  VALUE`, sanitised.
fn label(n: &Node) -> String {
    match &n.meta {
        Some(m) => format!("[{}]  {}", clean(m), clean(&n.value)),
        None => clean(&n.value),
    }
}

/// Escapes control characters other than `\t` and `\n` ([`crate::format::escape`]'s rule).
pub fn clean(s: &str) -> String {
    crate::format::escape::escape_except(s, &['\t', '\n']).into_owned()
}

/// `last_flags[l]`: whether the ancestor at level `l` is the last of its siblings.
fn render_children(out: &mut String, nodes: &[Node], last_flags: &mut Vec<bool>) {
    for (i, n) in nodes.iter().enumerate() {
        let last = i + 1 == nodes.len();
        let mut prefix = String::new();
        for &ended in last_flags.iter() {
            prefix.push_str(if ended { "    " } else { "│   " });
        }
        let edge = if last { "└──" } else { "├──" };
        let text = label(n);
        let mut lines = text.split('\n');
        out.push_str(&prefix);
        out.push_str(edge);
        out.push(' ');
        out.push_str(lines.next().unwrap_or(""));
        out.push('\n');
        let pad = format!("{prefix}{}", if last { "    " } else { "│   " });
        for l in lines {
            out.push_str(&pad);
            out.push_str(l);
            out.push('\n');
        }
        if !n.children.is_empty() {
            last_flags.push(last);
            render_children(out, &n.children, last_flags);
            last_flags.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_treeprint() {
        let mut root = Node::new("fx-busybox");
        root.leaf("Image: x");
        let size = root.add(Node::new("Checkpoint size: 1 KiB"));
        size.leaf("Memory pages size: 1 KiB");
        let ps = root.add(Node::new("Process tree"));
        let p1 = ps.add(Node::with_meta("1", "/bin/sh -c \n\t\techo hi\n"));
        p1.add(Node::new("Environment variables")).leaf("A=b");
        p1.add(Node::with_meta("6", "httpd"));
        root.leaf("Overview of mounts");
        assert_eq!(
            root.render(),
            "fx-busybox\n\
             ├── Image: x\n\
             ├── Checkpoint size: 1 KiB\n\
             │   └── Memory pages size: 1 KiB\n\
             ├── Process tree\n\
             │   └── [1]  /bin/sh -c \n\
             │       \t\techo hi\n\
             │       \n\
             │       ├── Environment variables\n\
             │       │   └── A=b\n\
             │       └── [6]  httpd\n\
             └── Overview of mounts\n"
        );
    }

    #[test]
    fn escapes_terminal_controls() {
        let mut root = Node::new("r\x1b]0;x\x07");
        root.add(Node::with_meta("1\r", "a\tb"));
        assert_eq!(root.render(), "r\\x1b]0;x\\x07\n└── [1\\r]  a\tb\n");
    }
}
