//! Paths inside a checkpoint's namespaces (an archive, the container's root file system):
//! normalized names (no leading `/`, no empty or `.` components; `""` is the root) and the one
//! symlink walker both use, with its hop limit.

/// Symlink hops allowed when resolving one path (Linux's `MAXSYMLINKS`).
pub const MAX_HOPS: usize = 40;

/// Why a path could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// The path (or a link on the way) leads outside the root ([`Root::Confined`] only).
    Escapes,
    /// Too many symlink hops (a loop).
    Loop,
}

/// What the root of the namespace does to names that would leave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// An archive: an absolute name, or a `..` above the root, is refused ([`Unresolved::Escapes`]).
    Confined,
    /// A container's root (chroot semantics): `..` at the root stays there, an absolute name
    /// starts again from the root.
    Chroot,
}

/// Resolves `path`, read relative to the normalized directory `from_dir`, following the symlinks
/// that `link` reports (normalized path → target), every hop checked. `follow_last`: follow a
/// final symlink too. Returns the normalized path reached; it may not exist.
pub fn resolve<'a>(
    from_dir: &str,
    path: &str,
    root: Root,
    follow_last: bool,
    link: impl Fn(&str) -> Option<&'a str>,
) -> Result<String, Unresolved> {
    let absolute = path.starts_with('/');
    if absolute && root == Root::Confined {
        return Err(Unresolved::Escapes);
    }
    let mut stack: Vec<String> = if absolute || from_dir.is_empty() {
        Vec::new()
    } else {
        from_dir.split('/').map(str::to_string).collect()
    };
    // Components still to apply (reversed) and whether each is the path's last.
    let mut todo: Vec<(String, bool)> = Vec::new();
    push_components(&mut todo, path, true);
    let mut hops = 0usize;
    while let Some((c, last)) = todo.pop() {
        match c.as_str() {
            "." => {}
            ".." => {
                if stack.pop().is_none() && root == Root::Confined {
                    return Err(Unresolved::Escapes);
                }
            }
            name => {
                stack.push(name.to_string());
                if last && !follow_last {
                    continue;
                }
                let Some(target) = link(&stack.join("/")) else {
                    continue;
                };
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(Unresolved::Loop);
                }
                stack.pop();
                if target.starts_with('/') {
                    if root == Root::Confined {
                        return Err(Unresolved::Escapes);
                    }
                    stack.clear();
                }
                push_components(&mut todo, target, last);
            }
        }
    }
    Ok(stack.join("/"))
}

/// Pushes `path`'s non-empty components on `todo`, reversed; the final one is marked last when
/// `last` is.
fn push_components(todo: &mut Vec<(String, bool)>, path: &str, last: bool) {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let n = comps.len();
    for (i, c) in comps.into_iter().enumerate().rev() {
        todo.push((c.to_string(), last && i + 1 == n));
    }
}

/// Normalizes an archive path: drops empty and `.` components. `Err` for an absolute path or a
/// `..` component.
pub fn normalize(raw: &str) -> Result<String, &'static str> {
    if raw.starts_with('/') {
        return Err("absolute path: refused (it would escape the archive)");
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("path has a `..` component: refused (it could escape the archive)"),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// The parent directory of a normalized path (`""` for a top-level name).
pub fn parent_of(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// The last component of a normalized path.
pub fn base_name(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

/// `dir/name`, or `name` at the root.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize("./checkpoint/").unwrap(), "checkpoint");
        assert_eq!(normalize("./a//b/./c").unwrap(), "a/b/c");
        assert_eq!(normalize(".").unwrap(), "");
        assert!(normalize("../x").is_err());
        assert!(normalize("a/../../x").is_err());
        assert!(normalize("/etc/passwd").is_err());
        assert_eq!((parent_of("a/b/c"), base_name("a/b/c")), ("a/b", "c"));
        assert_eq!((parent_of("a"), base_name("a")), ("", "a"));
        assert_eq!((join("", "a"), join("a", "b")), ("a".into(), "a/b".into()));
    }

    #[test]
    fn one_walker_two_roots() {
        let links: HashMap<&str, &str> = HashMap::from([
            ("d/up", "../x"),
            ("d/abs", "/usr/lib"),
            ("loop1", "loop2"),
            ("loop2", "loop1"),
            ("last", "d"),
        ]);
        let link = |p: &str| links.get(p).copied();
        let r =
            |from: &str, p: &str, root: Root, follow: bool| resolve(from, p, root, follow, link);
        use Root::{Chroot, Confined};
        // Both: relative links, `.`, empty components.
        assert_eq!(r("d", "up", Confined, true), Ok("x".into()));
        assert_eq!(r("", "./d//up/y", Chroot, true), Ok("x/y".into()));
        // An archive refuses what leaves it; a container's root clamps it.
        assert_eq!(r("d", "../../x", Confined, true), Err(Unresolved::Escapes));
        assert_eq!(r("d", "../../x", Chroot, true), Ok("x".into()));
        assert_eq!(r("", "/d", Confined, true), Err(Unresolved::Escapes));
        assert_eq!(r("q", "/d", Chroot, true), Ok("d".into()));
        assert_eq!(r("", "d/abs", Confined, true), Err(Unresolved::Escapes));
        assert_eq!(r("", "d/abs/x", Chroot, true), Ok("usr/lib/x".into()));
        // A final link is followed only when asked.
        assert_eq!(r("", "last", Chroot, true), Ok("d".into()));
        assert_eq!(r("", "last", Chroot, false), Ok("last".into()));
        assert_eq!(r("", "last/up", Chroot, false), Ok("d/up".into()));
        assert_eq!(r("", "last/up/z", Chroot, false), Ok("x/z".into()));
        // Loops end after MAX_HOPS.
        assert_eq!(r("", "loop1", Confined, true), Err(Unresolved::Loop));
        assert_eq!(r("", "loop1", Chroot, true), Err(Unresolved::Loop));
    }
}
