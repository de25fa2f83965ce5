//! A directory of checkpoints (the kubelet's `/var/lib/kubelet/checkpoints`, a folder of
//! exports, a mix of archives and image directories), as one mount shows it: one member per
//! checkpoint, named so a person recognises it, opened on first access.
//!
//! Pure of FUSE: the mount's tree ([`super::directory`]) asks this type for the listing, a member
//! by name or by slot, and a member's opened filesystem; tests use any `T`.
//!
//! - **Scanning** reads the directory and `stat`s each entry; an entry seen for the first time
//!   (by device, inode, size and modification time: a rewritten file is a new entry) is
//!   described from its `config.dump` / `spec.dump` only ([`crate::model::catalog::describe`]:
//!   a `.tar` is read header by header, a compressed archive as a stream until both are found;
//!   a checkpoint image from its annotations and the start of its layer).
//!   What is not a checkpoint is skipped, logged once (below the top, and for a directory holding
//!   a checkpoint, only in the debug log). A directory that is not a checkpoint is looked into,
//!   down to [`MAX_DEPTH`] levels, each directory once; the mount itself, reached through a link,
//!   never. Names starting with `.` are skipped (partial downloads, caches). A checkpoint removed from the directory leaves the listing
//!   at the next scan, and its slot with it.
//! - **Names**: `<namespace>_<pod>_<container>_<time>` when the metadata (or the kubelet's file
//!   name) gives all four, else the file name (below the top: the path from the mounted
//!   directory, `case-7/checkpoint.tar.gz`, which is also its SOURCE); made safe as one path component (no `/`, no NUL, no
//!   control characters, not `.` or `..`, at most 255 bytes) and unique (`~2`, `~3` in the order
//!   found, never `checkpoints`, the table's name). A member keeps its name while it is listed.
//! - **Slots**: each member gets a slot number, never reused during the mount; the mount's inode
//!   tree ([`super::directory`]) numbers a member's inodes by its slot.
//! - **Opening** happens once, on first need, by the loader given at construction (which
//!   decompresses, loads the model and builds the tree); concurrent users wait for the same
//!   opening, other members are not blocked. A failure is remembered (and shown in the table)
//!   until the file changes.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use log::{debug, warn};

use crate::model::catalog::{Listed, describe};
use crate::render::catalog::State;

/// The name of the table at the top of the mount.
pub const TABLE_NAME: &str = "checkpoints";

/// The longest name a directory entry may have.
const NAME_MAX: usize = 255;

/// Opens a member given its path.
pub type Loader<T> = Box<dyn Fn(&Path) -> Result<T, String> + Send + Sync>;

/// What identifies a directory entry's content: a rewritten or replaced file is a new member.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

/// An entry a scan met.
#[derive(Clone)]
struct Found {
    /// Its path from the mounted directory (`case-7/checkpoint.tar.gz`).
    rel: String,
    path: PathBuf,
    id: Identity,
    mtime: SystemTime,
    dir: bool,
    /// 1 for an entry of the mounted directory, 2 for one of its subdirectories...
    depth: usize,
}

/// How deep a scan looks for checkpoints in directories that are not checkpoints: Docker keeps
/// one at `<docker root>/containers/<id>/checkpoints/<name>`, so a case folder holding a copy of
/// Docker's directory needs six levels (`DIR/case/docker/containers/<id>/checkpoints/ck1`).
const MAX_DEPTH: usize = 6;

/// At most this many entries below the top level are looked at per scan (a case folder holding
/// a whole root filesystem is not walked to its end).
const MAX_NESTED: usize = 10_000;

/// One checkpoint of the directory.
pub struct Member<T> {
    pub slot: u64,
    /// Its directory's name in the mount.
    pub name: String,
    pub path: PathBuf,
    /// What it said about itself before it was opened.
    pub listed: Listed,
    /// The file's modification time (the directory's time in the mount).
    pub mtime: SystemTime,
    opening: AtomicBool,
    opened: OnceLock<Result<T, String>>,
}

impl<T> Member<T> {
    /// Where it is, for the table.
    pub fn state(&self) -> State {
        match self.opened.get() {
            Some(Ok(_)) => State::Opened,
            Some(Err(e)) => State::Failed(e.clone()),
            None if self.opening.load(Ordering::Relaxed) => State::Opening,
            None => State::NotOpened,
        }
    }

    /// Its opened filesystem, if it has been opened.
    pub fn opened(&self) -> Option<&T> {
        self.opened.get().and_then(|r| r.as_ref().ok())
    }
}

/// What a scan found at a directory entry.
enum Seen<T> {
    Member(Arc<Member<T>>),
    /// Not a checkpoint (why was logged once).
    Skipped,
}

struct State_<T> {
    /// The members listed by the last scan, in name order.
    listing: Vec<Arc<Member<T>>>,
    /// Every entry of the last scan by identity.
    seen: HashMap<Identity, Seen<T>>,
    next_slot: u64,
    scanned: Option<Instant>,
    /// Why the last scan could not read the directory.
    error: Option<String>,
}

/// A directory of checkpoints.
pub struct Collection<T> {
    dir: PathBuf,
    loader: Loader<T>,
    state: Mutex<State_<T>>,
    /// Held while scanning: scans do not overlap.
    scanning: Mutex<()>,
    /// A path in the directory that is never a member (the mount point, when it is in `dir`).
    exclude: Option<PathBuf>,
}

impl<T: Clone> Collection<T> {
    /// The collection of `dir`; nothing is read until the first [`Collection::scan`].
    pub fn new(dir: PathBuf, loader: Loader<T>) -> Collection<T> {
        Collection {
            dir,
            loader,
            scanning: Mutex::new(()),
            exclude: None,
            state: Mutex::new(State_ {
                listing: Vec::new(),
                seen: HashMap::new(),
                next_slot: 1,
                scanned: None,
                error: None,
            }),
        }
    }

    /// Never lists `path` (the mount point: a mount of the directory it is in must not describe
    /// itself through itself).
    pub fn excluding(mut self, path: PathBuf) -> Collection<T> {
        self.exclude = Some(path);
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, State_<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the directory again: new checkpoints join (described, named, given a slot), removed
    /// or rewritten ones leave. Cheap when nothing changed (one `stat` per entry). Waits for a
    /// scan in progress, then scans.
    pub fn scan(&self) {
        let _scanning = self.scanning.lock().unwrap_or_else(|p| p.into_inner());
        self.scan_locked();
    }

    /// Scans unless the last scan is younger than `max_age`, or a scan is in progress (then the
    /// listing stays as it is: this may be called from within a scan, when something in the
    /// directory leads back into the mount).
    pub fn refresh(&self, max_age: Duration) {
        let fresh = self.lock().scanned.is_some_and(|t| t.elapsed() < max_age);
        if fresh {
            return;
        }
        if let Ok(_scanning) = self.scanning.try_lock() {
            self.scan_locked();
        }
    }

    fn scan_locked(&self) {
        let top = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) => {
                let why = format!("{}: cannot list: {e}", self.dir.display());
                let mut st = self.lock();
                if st.error.as_deref() != Some(why.as_str()) {
                    warn!("{why}");
                }
                st.error = Some(why);
                st.scanned = Some(Instant::now());
                return;
            }
        };
        // Level by level: a directory that is not a checkpoint is looked into (a case folder
        // holding the checkpoint beside its notes), down to MAX_DEPTH, each directory once.
        let mut found: Vec<Found> = Vec::new();
        let mut described: Vec<(Found, Result<Listed, String>)> = Vec::new();
        let mut visited: HashSet<(u64, u64)> = HashSet::new();
        let own = std::fs::metadata(&self.dir).ok();
        if let Some(md) = &own {
            visited.insert((md.dev(), md.ino()));
        }
        // The mount itself, reached through a link, is never looked into: that would read the
        // mount from within. Its device comes from the kernel's mount table, not from a `stat`
        // through the mount.
        let mount = self
            .exclude
            .as_deref()
            .and_then(mount_device)
            .filter(|d| own.as_ref().is_none_or(|o| o.dev() != *d));
        let mut level = self.entries(top, "", mount);
        let mut nested = 0usize;
        for depth in 1..=MAX_DEPTH {
            // Describe the new entries without holding the lock (a compressed archive is read
            // as a stream until its metadata is found).
            let new: Vec<&Found> = {
                let st = self.lock();
                level
                    .iter()
                    .filter(|f| !st.seen.contains_key(&f.id))
                    .collect()
            };
            let mut not_checkpoints: HashSet<Identity> = HashSet::new();
            for f in new {
                let mut result = describe(&f.path);
                match &mut result {
                    // Below the top, the path from the mounted directory names it.
                    Ok(listed) if depth > 1 => listed.name = f.rel.clone(),
                    Ok(_) => {}
                    Err(_) => {
                        not_checkpoints.insert(f.id);
                    }
                }
                described.push((f.clone(), result));
            }
            let mut next = Vec::new();
            if depth < MAX_DEPTH {
                let st = self.lock();
                for f in level.iter().filter(|f| f.dir) {
                    let skipped = not_checkpoints.contains(&f.id)
                        || matches!(st.seen.get(&f.id), Some(Seen::Skipped));
                    if !skipped || !visited.insert((f.id.dev, f.id.ino)) {
                        continue;
                    }
                    if nested >= MAX_NESTED {
                        debug!(
                            "{}: not looked into: {MAX_NESTED} entries seen",
                            f.path.display()
                        );
                        continue;
                    }
                    if let Ok(rd) = std::fs::read_dir(&f.path) {
                        let inner = self.entries(rd, &f.rel, mount);
                        nested += inner.len();
                        next.extend(inner);
                    }
                }
            }
            found.extend(level);
            level = next;
            if level.is_empty() {
                break;
            }
        }
        // The same file reached by two names (links) is one checkpoint, under its first name.
        let mut ids = HashSet::new();
        found.retain(|f| ids.insert(f.id));
        let mut once = HashSet::new();
        described.retain(|d| once.insert(d.0.id));
        // Where a checkpoint lies below a directory that is not one, that directory is not
        // worth a warning.
        let holders: Vec<PathBuf> = described
            .iter()
            .filter(|d| d.1.is_ok() && d.0.depth > 1)
            .map(|d| d.0.path.clone())
            .collect();

        let mut st = self.lock();
        st.error = None;
        let mut seen: HashMap<Identity, Seen<T>> = HashMap::with_capacity(found.len());
        for f in &found {
            if let Some(s) = st.seen.remove(&f.id) {
                seen.insert(f.id, s);
            }
        }
        let mut taken: HashSet<String> = seen
            .values()
            .filter_map(|s| match s {
                Seen::Member(m) => Some(m.name.clone()),
                Seen::Skipped => None,
            })
            .collect();
        for (f, result) in described {
            let Found {
                id, path, mtime, ..
            } = f.clone();
            match result {
                Ok(listed) => {
                    for w in &listed.warnings {
                        warn!("{}: {w}", path.display());
                    }
                    let name = unique(&display_name(&listed), &mut taken);
                    let slot = st.next_slot;
                    st.next_slot += 1;
                    debug!("{}: shown as {name} (slot {slot})", path.display());
                    seen.insert(
                        id,
                        Seen::Member(Arc::new(Member {
                            slot,
                            name,
                            path,
                            listed,
                            mtime,
                            opening: AtomicBool::new(false),
                            opened: OnceLock::new(),
                        })),
                    );
                }
                Err(why) => {
                    let holds = f.dir && holders.iter().any(|h| h.starts_with(&path));
                    if f.depth == 1 && !holds {
                        warn!("{}: skipped, not a checkpoint: {why}", path.display());
                    } else {
                        debug!("{}: not a checkpoint: {why}", path.display());
                    }
                    seen.insert(id, Seen::Skipped);
                }
            }
        }
        let mut listing: Vec<Arc<Member<T>>> = seen
            .values()
            .filter_map(|s| match s {
                Seen::Member(m) => Some(m.clone()),
                Seen::Skipped => None,
            })
            .collect();
        listing.sort_by(|a, b| a.name.cmp(&b.name));
        st.listing = listing;
        st.seen = seen;
        st.scanned = Some(Instant::now());
    }

    /// The entries of one directory worth a look, in name order: regular files and directories
    /// (links followed), not hidden, not the mount point nor anything in the mount. `rel` is the
    /// directory's path from the mounted one.
    fn entries(&self, rd: std::fs::ReadDir, rel: &str, mount: Option<u64>) -> Vec<Found> {
        let depth = if rel.is_empty() {
            1
        } else {
            rel.matches('/').count() + 2
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let file_name = e.file_name().to_string_lossy().into_owned();
            if file_name.starts_with('.') {
                continue;
            }
            let path = e.path();
            if self.exclude.as_deref() == Some(path.as_path()) {
                continue;
            }
            // Follows a symbolic link (a directory of links to evidence elsewhere works).
            let Ok(md) = std::fs::metadata(&path) else {
                debug!("{}: cannot stat; skipped", path.display());
                continue;
            };
            if !md.is_file() && !md.is_dir() {
                continue;
            }
            if mount == Some(md.dev()) {
                debug!("{}: the mount itself; skipped", path.display());
                continue;
            }
            let id = Identity {
                dev: md.dev(),
                ino: md.ino(),
                size: if md.is_dir() { 0 } else { md.len() },
                mtime: md.mtime(),
                mtime_nsec: md.mtime_nsec(),
            };
            out.push(Found {
                rel: if rel.is_empty() {
                    file_name
                } else {
                    format!("{rel}/{file_name}")
                },
                path,
                id,
                mtime: md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                dir: md.is_dir(),
                depth,
            });
        }
        out.sort_by(|a, b| a.rel.cmp(&b.rel));
        out
    }

    /// The members of the last scan, in name order.
    pub fn listing(&self) -> Vec<Arc<Member<T>>> {
        self.lock().listing.clone()
    }

    /// Why the last scan could not read the directory.
    pub fn error(&self) -> Option<String> {
        self.lock().error.clone()
    }

    /// The listed member called `name`.
    pub fn by_name(&self, name: &str) -> Option<Arc<Member<T>>> {
        let st = self.lock();
        st.listing
            .binary_search_by(|m| m.name.as_str().cmp(name))
            .ok()
            .map(|i| st.listing[i].clone())
    }

    /// The listed member with slot `slot`.
    pub fn by_slot(&self, slot: u64) -> Option<Arc<Member<T>>> {
        self.lock().listing.iter().find(|m| m.slot == slot).cloned()
    }

    /// `m` opened (once: later calls answer the same result; concurrent callers wait for the one
    /// opening).
    pub fn open(&self, m: &Member<T>) -> Result<T, String> {
        m.opened
            .get_or_init(|| {
                m.opening.store(true, Ordering::Relaxed);
                let started = Instant::now();
                let r = (self.loader)(&m.path);
                match &r {
                    Ok(_) => debug!(
                        "{}: opened as {} in {:.3} s",
                        m.path.display(),
                        m.name,
                        started.elapsed().as_secs_f64()
                    ),
                    Err(e) => warn!("{}: cannot open: {e}", m.path.display()),
                }
                r
            })
            .clone()
    }
}

/// The device of what is mounted at `mountpoint`, from `/proc/self/mountinfo` (the last mount
/// there wins); `None` when nothing is, or the table cannot be read.
fn mount_device(mountpoint: &Path) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo_device(&table, mountpoint)
}

/// [`mount_device`] on the text of a mountinfo table: `ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ...`,
/// the mount point with space, tab, newline and backslash written as octal escapes.
fn mountinfo_device(table: &str, mountpoint: &Path) -> Option<u64> {
    let want = mountpoint.as_os_str().as_encoded_bytes();
    table
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let (major, minor) = f.get(2)?.split_once(':')?;
            if unescape_octal(f.get(4)?) != want {
                return None;
            }
            Some(libc::makedev(major.parse().ok()?, minor.parse().ok()?))
        })
        .next_back()
}

/// `\NNN` octal escapes of a mountinfo field undone.
fn unescape_octal(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let code = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
        match code {
            Some(c) => {
                out.push(c);
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

/// What a member is called before it is made safe and unique.
fn display_name(l: &Listed) -> String {
    let name = l.kube_name().unwrap_or_else(|| l.name.clone());
    let safe = safe_component(&name);
    if safe.is_empty() {
        safe_component(&l.name)
    } else {
        safe
    }
}

/// `s` as one directory entry name: `/`, NUL and control characters become `_`, `.` and `..`
/// become `_`, at most [`NAME_MAX`] bytes.
fn safe_component(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c == '/' || c.is_control() { '_' } else { c })
        .collect();
    if out == "." || out == ".." {
        out = "_".repeat(out.len());
    }
    truncate(&mut out, NAME_MAX);
    out
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// `name`, or `name~2`, `name~3`... : the first not in `taken` (nor the table's name); added to
/// `taken`.
fn unique(name: &str, taken: &mut HashSet<String>) -> String {
    let base = if name.is_empty() { "checkpoint" } else { name };
    let mut candidate = base.to_string();
    let mut n = 2u64;
    while candidate == TABLE_NAME || taken.contains(&candidate) {
        let suffix = format!("~{n}");
        let mut b = base.to_string();
        truncate(&mut b, NAME_MAX - suffix.len());
        candidate = b + &suffix;
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// An extracted container archive `name` under `dir` with this `spec.dump`, or (`None`) a
    /// plain CRIU image directory.
    fn checkpoint_dir(dir: &Path, name: &str, spec: Option<&str>) -> PathBuf {
        let p = dir.join(name);
        let images = if spec.is_some() {
            p.join("checkpoint")
        } else {
            p.clone()
        };
        std::fs::create_dir_all(&images).unwrap();
        std::fs::write(images.join("inventory.img"), b"x").unwrap();
        std::fs::write(images.join("pstree.img"), b"x").unwrap();
        if let Some(spec) = spec {
            std::fs::write(p.join("spec.dump"), spec).unwrap();
            std::fs::write(p.join("config.dump"), "{}").unwrap();
        }
        p
    }

    fn kube_spec(ns: &str, pod: &str, ctr: &str) -> String {
        format!(
            r#"{{"annotations":{{"io.kubernetes.cri.sandbox-namespace":"{ns}","io.kubernetes.cri.sandbox-name":"{pod}","io.kubernetes.cri.container-name":"{ctr}"}}}}"#
        )
    }

    fn names<T: Clone>(c: &Collection<T>) -> Vec<String> {
        c.listing().iter().map(|m| m.name.clone()).collect()
    }

    #[test]
    fn scans_names_and_follows_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let opens = Arc::new(AtomicUsize::new(0));
        let counter = opens.clone();
        let c: Collection<String> = Collection::new(
            d.to_path_buf(),
            Box::new(move |p| {
                counter.fetch_add(1, Ordering::SeqCst);
                if p.ends_with("broken") {
                    Err("pstree.img: truncated".into())
                } else {
                    Ok(format!("{}", p.display()))
                }
            }),
        );
        c.scan();
        assert!(c.listing().is_empty());
        checkpoint_dir(d, "plain-dump", None);
        checkpoint_dir(d, "broken", None);
        std::fs::write(d.join("notes.txt"), "not a checkpoint").unwrap();
        std::fs::write(d.join(".partial.tar"), "").unwrap();
        // The kubelet's name where the metadata has no time: the file name gives it.
        checkpoint_dir(
            d,
            "checkpoint-web_prod-nginx-2026-11-28T14:47:37Z",
            Some(&kube_spec("prod", "web", "nginx")),
        );
        // A name from hostile metadata.
        let evil = checkpoint_dir(d, "evil", Some(&kube_spec("..", "a/b", r"c\nd")));
        std::fs::write(
            evil.join("config.dump"),
            r#"{"checkpointedTime":"2026-11-28T14:47:37.5Z"}"#,
        )
        .unwrap();
        // The table's name is never a member's.
        checkpoint_dir(d, "checkpoints", None);
        c.scan();
        assert_eq!(
            names(&c),
            [
                ".._a_b_c_d_2026-11-28T14:47:37Z",
                "broken",
                "checkpoints~2",
                "plain-dump",
                "prod_web_nginx_2026-11-28T14:47:37Z"
            ],
        );
        let evil = c.by_name(".._a_b_c_d_2026-11-28T14:47:37Z").unwrap();
        assert_eq!(evil.listed.pod.as_deref(), Some("a/b"));
        // Nothing opened yet; opening once, the result kept.
        assert_eq!(opens.load(Ordering::SeqCst), 0);
        let m = c.by_name("plain-dump").unwrap();
        assert_eq!(m.state(), State::NotOpened);
        let first = c.open(&m).unwrap();
        assert_eq!(c.open(&m).unwrap(), first);
        assert_eq!(opens.load(Ordering::SeqCst), 1);
        assert_eq!(m.state(), State::Opened);
        let b = c.by_name("broken").unwrap();
        assert!(c.open(&b).is_err());
        assert!(c.open(&b).is_err());
        assert_eq!(opens.load(Ordering::SeqCst), 2);
        assert_eq!(b.state(), State::Failed("pstree.img: truncated".into()));
        // Removed: gone from the listing and its slot too; added: listed with a new slot.
        let slot = m.slot;
        std::fs::remove_dir_all(d.join("plain-dump")).unwrap();
        checkpoint_dir(d, "new-dump", None);
        c.scan();
        assert_eq!(
            names(&c),
            [
                ".._a_b_c_d_2026-11-28T14:47:37Z",
                "broken",
                "checkpoints~2",
                "new-dump",
                "prod_web_nginx_2026-11-28T14:47:37Z"
            ]
        );
        assert!(c.by_slot(slot).is_none());
        let n = c.by_name("new-dump").unwrap();
        assert!(
            n.slot > evil.slot && n.slot > slot,
            "slots are never reused"
        );
        assert_eq!(c.by_slot(evil.slot).unwrap().name, evil.name);
    }

    #[test]
    fn kube_names_and_collisions() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for n in ["a", "b"] {
            let p = checkpoint_dir(d, n, Some(&kube_spec("prod", "web", "nginx")));
            std::fs::write(
                p.join("config.dump"),
                r#"{"checkpointedTime":"2026-11-28T14:47:37.123Z"}"#,
            )
            .unwrap();
        }
        let c: Collection<()> = Collection::new(d.to_path_buf(), Box::new(|_| Ok(())));
        c.scan();
        assert_eq!(
            names(&c),
            [
                "prod_web_nginx_2026-11-28T14:47:37Z",
                "prod_web_nginx_2026-11-28T14:47:37Z~2"
            ]
        );
        // Unchanged directory: the same members (names and slots) after a rescan.
        let before: Vec<u64> = c.listing().iter().map(|m| m.slot).collect();
        c.scan();
        let after: Vec<u64> = c.listing().iter().map(|m| m.slot).collect();
        assert_eq!(before, after);
    }

    #[test]
    fn safe_names() {
        assert_eq!(safe_component("a/b\0c\n"), "a_b_c_");
        assert_eq!(safe_component(".."), "__");
        assert_eq!(safe_component("."), "_");
        let long = "é".repeat(200);
        let s = safe_component(&long);
        assert!(s.len() <= 255 && s.chars().all(|c| c == 'é'));
        let mut taken = HashSet::new();
        assert_eq!(unique("x", &mut taken), "x");
        assert_eq!(unique("x", &mut taken), "x~2");
        assert_eq!(unique("x", &mut taken), "x~3");
        assert_eq!(unique(TABLE_NAME, &mut taken), "checkpoints~2");
        let long = "y".repeat(255);
        assert_eq!(unique(&long, &mut taken), long);
        let second = unique(&long, &mut taken);
        assert!(second.len() <= 255 && second.ends_with("~2"));
    }

    #[test]
    fn looks_into_folders_that_are_not_checkpoints() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let c: Collection<String> =
            Collection::new(d.to_path_buf(), Box::new(|p| Ok(p.display().to_string())));
        // A case folder: the checkpoint beside the analyst's notes.
        std::fs::create_dir_all(d.join("case-1")).unwrap();
        std::fs::write(d.join("case-1/notes.txt"), "not a checkpoint").unwrap();
        checkpoint_dir(&d.join("case-1"), "dump", None);
        // Docker's own layout, six levels down.
        let docker = d.join("case-2/docker/containers/abc/checkpoints");
        std::fs::create_dir_all(&docker).unwrap();
        checkpoint_dir(&docker, "ck1", None);
        // Seven levels down: not looked for.
        let deep = d.join("a/b/c/d/e/f");
        std::fs::create_dir_all(&deep).unwrap();
        checkpoint_dir(&deep, "ck", None);
        // A link back up is looked into once.
        std::os::unix::fs::symlink(d, d.join("case-1/up")).unwrap();
        // Nothing below a checkpoint is looked into; one at the top keeps its file name.
        let top = checkpoint_dir(d, "top", None);
        checkpoint_dir(&top, "inner", None);
        c.scan();
        assert_eq!(
            names(&c),
            [
                "case-1_dump",
                "case-2_docker_containers_abc_checkpoints_ck1",
                "top"
            ]
        );
        let m = c.by_name("case-1_dump").unwrap();
        assert_eq!(m.listed.name, "case-1/dump");
        assert_eq!(m.path, d.join("case-1/dump"));
        assert_eq!(c.by_name("top").unwrap().listed.name, "top");
        // Added to a folder already looked into: found by the next scan, the others kept.
        checkpoint_dir(&d.join("case-2/docker"), "later", None);
        c.scan();
        assert_eq!(
            names(&c),
            [
                "case-1_dump",
                "case-2_docker_containers_abc_checkpoints_ck1",
                "case-2_docker_later",
                "top"
            ]
        );
        assert_eq!(c.by_name("case-1_dump").unwrap().slot, m.slot);
    }

    #[test]
    fn mount_device_from_mountinfo() {
        let table = "22 1 0:21 / /proc rw - proc proc rw\n\
                     90 29 0:77 / /tmp/a\\040b/mnt rw,nosuid - fuse ckptfs rw\n\
                     91 29 0:78 / /tmp/a\\040b/mnt rw,nosuid - fuse ckptfs rw\n";
        assert_eq!(
            mountinfo_device(table, Path::new("/tmp/a b/mnt")),
            Some(libc::makedev(0, 78))
        );
        assert_eq!(mountinfo_device(table, Path::new("/tmp/a")), None);
        assert_eq!(unescape_octal(r"a\134b\011"), b"a\\b\t");
    }
}
