//! Re-packing the fixtures as `.tar` / `.tar.gz` / `.tar.zst`, as a bare image directory or in
//! the Podman layout (`checkpoint/` + `config.dump` / `spec.dump`), with the `tar`, `flate2` and
//! `zstd` crates.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::TempDir;
use super::truth::Fixture;

/// Where the images go in the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// The CRIU image directory itself (an incremental chain: its `dump/`, `pre2/`, `pre/`).
    Bare,
    /// `checkpoint/` + `config.dump` + `spec.dump` (+ the parents beside `checkpoint/`).
    Podman,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comp {
    None,
    Gzip,
    Zstd,
}

impl Comp {
    pub fn ext(self) -> &'static str {
        match self {
            Comp::None => "tar",
            Comp::Gzip => "tar.gz",
            Comp::Zstd => "tar.zst",
        }
    }
}

enum Node {
    Dir,
    File(PathBuf),
    Symlink(PathBuf),
}

fn add_tree(out: &mut Vec<(String, Node)>, src: &Path, prefix: &str) {
    if !prefix.is_empty() {
        out.push((prefix.to_string(), Node::Dir));
    }
    let mut ents: Vec<_> = fs::read_dir(src).unwrap().map(|e| e.unwrap()).collect();
    ents.sort_by_key(|e| e.file_name());
    for e in ents {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let t = e.file_type().unwrap();
        if name_is_parent(&path)
            && let Some(target) = parent_target(&e.path())
        {
            // CRIU's `parent` is a symlink; the fixtures store its text in a regular file.
            out.push((path, Node::Symlink(target)));
        } else if t.is_symlink() {
            out.push((path, Node::Symlink(fs::read_link(e.path()).unwrap())));
        } else if t.is_dir() {
            add_tree(out, &e.path(), &path);
        } else {
            out.push((path, Node::File(e.path())));
        }
    }
}

fn name_is_parent(path: &str) -> bool {
    path == "parent" || path.ends_with("/parent")
}

/// The target of an image directory's `parent` link: a symlink, or a regular file holding the
/// link text (as the fixtures store it).
fn parent_target(p: &Path) -> Option<PathBuf> {
    if let Ok(t) = fs::read_link(p) {
        return Some(t);
    }
    let md = fs::symlink_metadata(p).ok()?;
    if !md.is_file() || md.len() > 4096 {
        return None;
    }
    let s = fs::read_to_string(p).ok()?;
    let s = s.trim_end_matches('\n');
    (!s.is_empty() && !s.contains('\n')).then(|| PathBuf::from(s))
}

/// Extracts a (compressed) tar into `dest` with the tar crate (for the podman fixture).
pub fn extract(archive: &Path, dest: &Path) {
    let f = fs::File::open(archive).unwrap();
    let mut head = [0u8; 4];
    std::io::Read::read_exact(&mut fs::File::open(archive).unwrap(), &mut head).unwrap();
    let r: Box<dyn io::Read> = if head[..2] == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(f))
    } else if head == [0x28, 0xb5, 0x2f, 0xfd] {
        Box::new(zstd::Decoder::new(f).unwrap())
    } else {
        Box::new(f)
    };
    fs::create_dir_all(dest).unwrap();
    tar::Archive::new(r).unpack(dest).unwrap();
}

/// The image trees of a fixture: (the directory holding the images to mount, its ancestors in
/// the incremental chain as (name, dir)), and for an original Podman archive its extracted root.
struct Trees {
    images: PathBuf,
    parents: Vec<(String, PathBuf)>,
    podman_root: Option<PathBuf>,
}

fn trees(f: &Fixture, staging: &Path) -> Trees {
    if f.case == "podman-busybox" {
        let root = staging.join("podman-extracted");
        if !root.exists() {
            extract(&f.input, &root);
        }
        return Trees {
            images: root.join("checkpoint"),
            parents: vec![],
            podman_root: Some(root),
        };
    }
    let mut parents = Vec::new();
    let mut dir = f.input.clone();
    while let Some(t) = parent_target(&dir.join("parent")) {
        let p = dir.join(&t);
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let p = fs::canonicalize(&p).unwrap();
        parents.push((name, p.clone()));
        dir = p;
    }
    Trees {
        images: f.input.clone(),
        parents,
        podman_root: None,
    }
}

/// Builds `<staging>/<case>-<form>.<ext>` from the fixture and returns its path.
pub fn build(f: &Fixture, staging: &TempDir, form: Form, comp: Comp) -> PathBuf {
    let t = trees(f, staging.path());
    let mut nodes: Vec<(String, Node)> = Vec::new();
    let main_name = fs::canonicalize(&t.images)
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    match form {
        Form::Bare if t.parents.is_empty() => add_tree(&mut nodes, &t.images, ""),
        Form::Bare => {
            // the whole images/ tree: dump/ plus its parents beside it, `parent` links as they are
            add_tree(&mut nodes, &t.images, &main_name);
            for (name, dir) in &t.parents {
                add_tree(&mut nodes, dir, name);
            }
        }
        Form::Podman => match &t.podman_root {
            Some(root) => add_tree(&mut nodes, root, ""),
            None => {
                let (config, spec) = match ckptfs::writer::Layout::podman(&f.case) {
                    ckptfs::writer::Layout::Podman {
                        config_json,
                        spec_json,
                    } => (config_json, spec_json),
                    _ => unreachable!(),
                };
                let cfg = staging.join(format!("{}-config.dump", f.case));
                let spc = staging.join(format!("{}-spec.dump", f.case));
                fs::write(&cfg, config).unwrap();
                fs::write(&spc, spec).unwrap();
                nodes.push(("config.dump".into(), Node::File(cfg)));
                nodes.push(("spec.dump".into(), Node::File(spc)));
                add_tree(&mut nodes, &t.images, "checkpoint");
                for (name, dir) in &t.parents {
                    add_tree(&mut nodes, dir, name);
                }
            }
        },
    }
    let form_name = match form {
        Form::Bare => "bare",
        Form::Podman => "podman",
    };
    let out = staging.join(format!("{}-{form_name}.{}", f.case, comp.ext()));
    let file = io::BufWriter::new(fs::File::create(&out).unwrap());
    match comp {
        Comp::None => {
            write_tar(file, &nodes).unwrap().flush().unwrap();
        }
        Comp::Gzip => {
            let e = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            write_tar(e, &nodes)
                .unwrap()
                .finish()
                .unwrap()
                .flush()
                .unwrap();
        }
        Comp::Zstd => {
            let e = zstd::Encoder::new(file, 3).unwrap();
            write_tar(e, &nodes)
                .unwrap()
                .finish()
                .unwrap()
                .flush()
                .unwrap();
        }
    }
    out
}

fn write_tar<W: Write>(w: W, nodes: &[(String, Node)]) -> io::Result<W> {
    let mut b = tar::Builder::new(w);
    for (name, node) in nodes {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_764_324_000);
        h.set_uid(0);
        h.set_gid(0);
        match node {
            Node::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, format!("{name}/"), io::empty())?;
            }
            Node::File(p) => {
                let f = fs::File::open(p)?;
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(f.metadata()?.len());
                b.append_data(&mut h, name, f)?;
            }
            Node::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, name, target)?;
            }
        }
    }
    b.into_inner()
}
