//! Which cache directory: `--cache-dir`, else the first usable of the XDG / home / per-user
//! candidates; a directory is used only when it is owned by the current user and not writable by
//! group or others.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::euid;
use crate::source::error::Error;

/// The cache directories to try, in order: `explicit` alone when given, else
/// `$XDG_CACHE_HOME/ckptfs`, `$HOME/.cache/ckptfs` and the private per-user
/// `/var/tmp/ckptfs-$UID`. Relative or empty environment values are left out.
fn cache_dir_candidates(
    explicit: Option<&Path>,
    xdg: Option<OsString>,
    home: Option<OsString>,
    uid: u32,
) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    let abs = |v: Option<OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    let mut out = Vec::with_capacity(3);
    if let Some(x) = abs(xdg) {
        out.push(x.join("ckptfs"));
    }
    if let Some(h) = abs(home) {
        out.push(h.join(".cache").join("ckptfs"));
    }
    out.push(PathBuf::from(format!("/var/tmp/ckptfs-{uid}")));
    out
}

/// The candidates for `explicit` (`--cache-dir`) and this process's environment, made absolute.
fn candidates_here(explicit: Option<&Path>) -> Vec<PathBuf> {
    cache_dir_candidates(
        explicit,
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
        euid(),
    )
    .into_iter()
    .map(|d| std::path::absolute(&d).unwrap_or(d))
    .collect()
}

/// The cache directory as `ckptfs cache list` / `clean` see it, without creating anything: the
/// first candidate that exists, else the first candidate.
pub(crate) fn resolve_cache_dir(explicit: Option<&Path>) -> PathBuf {
    let all = candidates_here(explicit);
    all.iter()
        .find(|d| fs::symlink_metadata(d).is_ok())
        .or(all.first())
        .cloned()
        .unwrap_or_else(|| PathBuf::from(format!("/var/tmp/ckptfs-{}", euid())))
}

/// The cache directory to write in, created (mode 0700) if needed: the first candidate that is,
/// or can be made, a directory owned by the current user and not writable by group or others.
/// A user without a writable home gets the per-user directory under `/var/tmp`. A candidate that
/// exists but is refused as unsafe is skipped with a warning in the log; `--cache-dir` is the
/// only candidate when given. The error names every candidate and why it was refused.
pub(crate) fn usable_cache_dir(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    usable_of(&candidates_here(explicit))
}

fn usable_of(candidates: &[PathBuf]) -> Result<PathBuf, Error> {
    let mut refused = Vec::new();
    for d in candidates {
        let existed = fs::symlink_metadata(d).is_ok();
        match ensure_cache_dir(d) {
            Ok(()) => return Ok(d.clone()),
            Err(e) => {
                let why = match e {
                    Error::Cache { why, .. } => why,
                    e => e.to_string(),
                };
                if existed && candidates.len() > 1 {
                    log::warn!("cache directory {}: {why}; trying the next", d.display());
                }
                refused.push((d.clone(), why));
            }
        }
    }
    let mut it = refused.into_iter();
    let (path, mut why) = it.next().unwrap_or_default();
    for (p, w) in it {
        why.push_str(&format!("; fallback {}: {w}", p.display()));
    }
    if candidates.len() > 1 {
        why.push_str("; use --cache-dir");
    }
    Err(Error::Cache { path, why })
}

/// Creates the cache directory (mode 0700) if needed and checks it is safe: a directory owned by
/// the current user, not writable by group or others.
fn ensure_cache_dir(dir: &Path) -> Result<(), Error> {
    if let Err(e) = fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        return Err(Error::Cache {
            path: dir.to_path_buf(),
            why: format!("cannot create it: {e}"),
        });
    }
    check_cache_dir(dir)
}

/// Checks that the existing cache directory is safe: a directory owned by the current user, not
/// writable by group or others.
pub(super) fn check_cache_dir(dir: &Path) -> Result<(), Error> {
    let cache_err = |why: String| Error::Cache {
        path: dir.to_path_buf(),
        why,
    };
    let md = fs::metadata(dir).map_err(|e| cache_err(format!("cannot stat it: {e}")))?;
    if !md.is_dir() {
        return Err(cache_err("not a directory".into()));
    }
    let me = euid();
    if md.uid() != me {
        return Err(cache_err(format!(
            "owned by uid {}, not by the current user (uid {me}): refusing to use it",
            md.uid()
        )));
    }
    let mode = md.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(cache_err(format!(
            "writable by group or others (mode {mode:04o}): refusing to use it"
        )));
    }
    Ok(())
}

/// Bytes available to the current user on the filesystem holding `dir`.
pub(in crate::source) fn free_space(dir: &Path) -> io::Result<u64> {
    let st = rustix::fs::statvfs(dir)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dir_choice() {
        let x = Some(OsString::from("/x"));
        let h = Some(OsString::from("/home/u"));
        let v = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(
            cache_dir_candidates(Some(Path::new("/c")), x.clone(), h.clone(), 7),
            v(&["/c"])
        );
        assert_eq!(
            cache_dir_candidates(None, x, h.clone(), 7),
            v(&["/x/ckptfs", "/home/u/.cache/ckptfs", "/var/tmp/ckptfs-7"])
        );
        assert_eq!(
            cache_dir_candidates(None, Some("rel".into()), h, 7),
            v(&["/home/u/.cache/ckptfs", "/var/tmp/ckptfs-7"])
        );
        assert_eq!(
            cache_dir_candidates(None, None, Some("".into()), 7),
            v(&["/var/tmp/ckptfs-7"])
        );
    }

    /// A candidate that cannot be created (a home that does not exist, under a file) or that is
    /// unsafe is passed over for the next; when none is usable the error names each.
    #[test]
    fn cache_dir_falls_back_to_the_next_candidate() {
        use crate::source::test_util::TempDir;
        let t = TempDir::new("cfall");
        fs::write(t.join("file"), b"").unwrap();
        let no_home = t.join("file").join(".cache").join("ckptfs");
        let open = t.join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let good = t.join("private");
        let got = usable_of(&[no_home.clone(), open.clone(), good.clone()]).unwrap();
        assert_eq!(got, good);
        assert_eq!(
            fs::metadata(&good).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let e = usable_of(&[no_home.clone(), open.clone()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("{}: cannot create it", no_home.display())),
            "{e}"
        );
        assert!(
            e.contains(&format!("fallback {}: writable by group", open.display())),
            "{e}"
        );
        assert!(e.contains("use --cache-dir"), "{e}");
        // An explicit directory is the only candidate: no fallback, the plain message.
        let e = usable_of(std::slice::from_ref(&no_home))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("fallback") && !e.contains("--cache-dir"), "{e}");
    }

    #[test]
    fn unsafe_cache_dir_is_refused() {
        let t = crate::source::test_util::TempDir::new("cdir");
        let d = t.join("c");
        ensure_cache_dir(&d).unwrap();
        assert_eq!(
            fs::metadata(&d).unwrap().permissions().mode() & 0o7777,
            0o700
        );
        fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_cache_dir(&d).unwrap_err().to_string();
        assert!(e.contains("writable by group or others"), "{e}");
        let f = t.join("file");
        fs::write(&f, b"").unwrap();
        assert!(ensure_cache_dir(&f).is_err());
        if euid() == 0 {
            let o = t.join("other");
            fs::create_dir(&o).unwrap();
            std::os::unix::fs::chown(&o, Some(12345), Some(12345)).unwrap();
            let e = ensure_cache_dir(&o).unwrap_err().to_string();
            assert!(e.contains("owned by uid 12345"), "{e}");
        }
    }
}
