//! ckptfs: mount a CRIU / Podman / CRI-O container checkpoint read-only as a `/proc`-like tree.
//!
//! Layers, data flowing one way (see `docs/architecture.md`; the CRIU facts relied on: `docs/criu-format.md`):
//! 1. [`source`]: open the input (image dir, `.tar`, `.tar.gz`, `.tar.zst`) and give named, immutable byte blobs.
//! 2. [`image`]: CRIU image decoding (magic, framing, protobuf messages from `proto/`).
//! 3. [`model`]: the checkpoint as Rust types; the per-process page index (`model::memory`).
//! 4. [`render`]: pure functions model -> bytes for every text file of the tree.
//! 5. [`fs`]: the inode tree and the thin FUSE adapter.
//! 6. [`cli`]: command-line front end.
//!
//! Beside them: [`views`] (checkpointctl's subcommands: model -> text, between `render` and `cli`)
//! and, under every layer, [`format`] (values as text: times, sizes, addresses, escaping) and
//! [`warning`] (the problems a load tolerates, typed by kind).

// The few `unsafe` blocks left (fork, close_range, a pre_exec hook, mmap, madvise) each say why
// they are sound; system calls with a safe wrapper go through `rustix`.
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cli;
pub mod format;
pub mod fs;
pub mod image;
pub mod model;
pub mod render;
pub mod source;
pub mod views;
pub mod warning;
/// Synthetic checkpoints for tests, benches and examples (the `writer` feature; not in the
/// shipped binary).
#[cfg(any(test, feature = "writer"))]
pub mod writer;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// The repository's top-level directories and `src/`'s modules: a path in the docs that
    /// starts with one of them names a file of the repository.
    fn roots(repo: &Path) -> Vec<String> {
        let mut v = Vec::new();
        for dir in [repo.to_path_buf(), repo.join("src")] {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                if e.path().is_dir() {
                    v.push(e.file_name().to_string_lossy().into_owned());
                }
            }
        }
        v
    }

    /// Whether `name` is found anywhere in the repository (build output and VCS data aside).
    fn anywhere(dir: &Path, name: &str) -> bool {
        std::fs::read_dir(dir).unwrap().flatten().any(|e| {
            let n = e.file_name();
            let skip = n == "target" || n == ".git";
            n.to_string_lossy() == name || (!skip && e.path().is_dir() && anywhere(&e.path(), name))
        })
    }

    /// The paths a doc names that are not in the repository. A path with a `/` is looked up from
    /// the directory of the path named before it in the same section and its parents up to the
    /// root (`model/load.rs` then `files/load.rs`), and from `src/`; a bare file name in that
    /// directory (`views/scan/` then `matchers.rs`) or anywhere.
    /// Placeholders (`views/NAME.rs`) are skipped; a path leading out (`../x.md`) is an error.
    fn missing_paths(doc: &str, repo: &Path) -> Vec<String> {
        const PLACEHOLDERS: &[&str] = &["NAME", "PID", "ADDR", "N", "DIR", "MNT", "MOUNT"];
        let file = regex::Regex::new(r"[A-Za-z0-9_./-]+\.(rs|md|sh|py|toml)\b").unwrap();
        let code = regex::Regex::new(r"`([^`]+)`").unwrap();
        let roots = roots(repo);
        let mut bad = Vec::new();
        let mut base = repo.join("src");
        for line in doc.lines() {
            if line.starts_with('#') {
                base = repo.join("src");
            }
            // Files anywhere in the text; directories in code spans, when they start with a
            // directory of the repository.
            let mut paths: Vec<(usize, &str)> = file
                .find_iter(line)
                .map(|m| (m.start(), m.as_str()))
                .collect();
            for c in code.captures_iter(line) {
                let (Some(all), Some(t)) = (c.get(0), c.get(1)) else {
                    continue;
                };
                let t = t.as_str();
                let first = t.split('/').next().unwrap_or("");
                let plain = t
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "_./-".contains(ch));
                if plain && t.contains('/') && !file.is_match(t) && roots.iter().any(|r| r == first)
                {
                    paths.push((all.start(), t));
                }
            }
            paths.sort();
            for (_, p) in paths {
                if p.starts_with("../") || p.starts_with('/') {
                    bad.push(format!("{p} (outside the repository)"));
                    continue;
                }
                let rel = p.trim_end_matches('/');
                if rel
                    .split('/')
                    .any(|c| PLACEHOLDERS.contains(&c.split('.').next().unwrap_or(c)))
                {
                    continue;
                }
                let found = if rel.contains('/') {
                    // From the section's directory, its parents up to the root, and `src/`.
                    base.ancestors()
                        .take_while(|d| d.starts_with(repo))
                        .map(|d| d.join(rel))
                        .chain([repo.join("src").join(rel)])
                        .find(|q| q.exists())
                } else {
                    let here = base.join(rel);
                    if here.exists() {
                        Some(here)
                    } else {
                        anywhere(repo, rel).then(PathBuf::new)
                    }
                };
                match found {
                    Some(q) if rel.contains('/') => {
                        base = if q.is_dir() {
                            q
                        } else {
                            q.parent().unwrap().to_path_buf()
                        };
                    }
                    Some(_) => {}
                    None => bad.push(p.to_string()),
                }
            }
        }
        bad
    }

    /// docs/architecture.md names only files that exist in the repository.
    #[test]
    fn architecture_names_only_files_of_the_repository() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let doc = include_str!("../docs/architecture.md");
        assert_eq!(missing_paths(doc, repo), Vec::<String>::new());
    }

    /// The check finds a renamed file, a bare name missing from its section's directory and
    /// everywhere, a directory, and a path out of the repository.
    #[test]
    fn missing_paths_are_found() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let doc = "## a\n`views/scan/` has `matchers.rs` and `nothing.rs`; see `fs/gone.rs`, \
                   `views/absent/`, ../../shared/DESIGN.md and `views/NAME.rs`.\n\
                   ## b\nREADME.md and `render/files.rs`, `tests/it/scan.rs`, `model/load.rs`, \
                   `files/load.rs`, `process/mm.rs`, `scan/gone.rs`.\n";
        assert_eq!(
            missing_paths(doc, repo),
            [
                "nothing.rs",
                "fs/gone.rs",
                "views/absent/",
                "../../shared/DESIGN.md (outside the repository)",
                "scan/gone.rs"
            ]
        );
    }
}
