//! Test helpers: temp dirs, tar archives with raw (unvalidated) names, fixtures.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "ckptfs-src-test-{tag}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
    pub(crate) fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Make everything writable again (tests create 0500 dirs) and remove.
        fn chmod_all(p: &Path) {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(md) = std::fs::symlink_metadata(p) {
                if md.is_dir() {
                    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700));
                    if let Ok(rd) = std::fs::read_dir(p) {
                        for e in rd.flatten() {
                            chmod_all(&e.path());
                        }
                    }
                }
            }
        }
        chmod_all(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn sha256_file(p: &Path) -> String {
    let d = Sha256::digest(std::fs::read(p).unwrap());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

enum Item {
    File(String, Vec<u8>),
    Dir(String, u32),
    Symlink(String, String),
    Hardlink(String, String),
}

/// Builds tar archives with names written as given (`./`, `..`, absolute: no validation), long names
/// as GNU long-name headers ([`TarSpec::build_gnu`]) or PAX `path` records ([`TarSpec::build_pax`]).
#[derive(Default)]
pub(crate) struct TarSpec {
    items: Vec<Item>,
}

impl TarSpec {
    pub(crate) fn new() -> TarSpec {
        TarSpec::default()
    }
    pub(crate) fn file(mut self, name: &str, data: &[u8]) -> TarSpec {
        self.items.push(Item::File(name.into(), data.to_vec()));
        self
    }
    /// Same as `file`; named for readability where the name is hostile.
    pub(crate) fn raw_file(self, name: &str, data: &[u8]) -> TarSpec {
        self.file(name, data)
    }
    pub(crate) fn dir(mut self, name: &str, mode: u32) -> TarSpec {
        self.items.push(Item::Dir(name.into(), mode));
        self
    }
    pub(crate) fn symlink(mut self, name: &str, target: &str) -> TarSpec {
        self.items.push(Item::Symlink(name.into(), target.into()));
        self
    }
    pub(crate) fn hardlink(mut self, name: &str, target: &str) -> TarSpec {
        self.items.push(Item::Hardlink(name.into(), target.into()));
        self
    }
    pub(crate) fn build_gnu(&self) -> Vec<u8> {
        self.build(false)
    }
    pub(crate) fn build_pax(&self) -> Vec<u8> {
        self.build(true)
    }

    fn build(&self, pax: bool) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for it in &self.items {
            let (name, kind, data, mode, link): (&str, tar::EntryType, &[u8], u32, &str) = match it
            {
                Item::File(n, d) => (n, tar::EntryType::Regular, d, 0o644, ""),
                Item::Dir(n, m) => (n, tar::EntryType::Directory, &[], *m, ""),
                Item::Symlink(n, t) => (n, tar::EntryType::Symlink, &[], 0o777, t),
                Item::Hardlink(n, t) => (n, tar::EntryType::Link, &[], 0o644, t),
            };
            let mut h = if pax {
                tar::Header::new_ustar()
            } else {
                tar::Header::new_gnu()
            };
            if name.len() > 100 {
                if pax {
                    let rec = pax_record("path", name);
                    let mut x = tar::Header::new_ustar();
                    x.set_entry_type(tar::EntryType::XHeader);
                    x.as_old_mut().name[..9].copy_from_slice(b"PaxHeader");
                    x.set_size(rec.len() as u64);
                    x.set_mode(0o644);
                    x.set_cksum();
                    b.append(&x, &rec[..]).unwrap();
                } else {
                    let mut l = tar::Header::new_gnu();
                    l.set_entry_type(tar::EntryType::GNULongName);
                    l.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
                    let mut d = name.as_bytes().to_vec();
                    d.push(0);
                    l.set_size(d.len() as u64);
                    l.set_mode(0o644);
                    l.set_cksum();
                    b.append(&l, &d[..]).unwrap();
                }
            }
            let nb = name.as_bytes();
            let n = nb.len().min(100);
            h.as_old_mut().name[..n].copy_from_slice(&nb[..n]);
            let lb = link.as_bytes();
            h.as_old_mut().linkname[..lb.len()].copy_from_slice(lb);
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_size(data.len() as u64);
            h.set_mtime(1_700_000_000);
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        b.into_inner().unwrap()
    }
}

fn pax_record(key: &str, value: &str) -> Vec<u8> {
    // "LEN key=value\n" where LEN counts itself.
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    loop {
        let s = format!("{len}{body}");
        if s.len() == len {
            return s.into_bytes();
        }
        len = s.len();
    }
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub(crate) fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

/// The shared fixtures dir (`<CARGO_MANIFEST_DIR>/../shared/fixtures`), or `None` after
/// [`skip`] when it is absent (the caller returns early).
pub(crate) fn fixtures() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"));
    if p.is_dir() {
        return Some(p);
    }
    skip(&format!("fixtures not found at {}", p.display()));
    None
}

/// Says that the calling test skips (it returns early right after): a panic under `CI=true`,
/// where nothing may be skipped; else one line `SKIPPED: <test>: <why>` written straight to
/// stderr, past the test harness's capture, so that it shows in `cargo test`'s output (where
/// scripts/test.sh counts it). Same as `skip` in tests/common.
pub(crate) fn skip(why: &str) {
    use std::io::Write;
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why} (CI=true: nothing may be skipped)"
    );
    let thread = std::thread::current();
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {}: {why}",
        thread.name().unwrap_or("?")
    );
}
