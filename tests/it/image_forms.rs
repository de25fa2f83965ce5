//! Checkpoints as they travel: wrapped as OCI images (oci-archive, docker-archive, a tarred OCI
//! layout directory), Docker's and containerd's own checkpoints, hostile images, and the formats
//! still coming upstream (compressed pages, encrypted images), which are refused, never read as
//! plain pages.
//!
//! - `oci_forms_give_the_export_tree`: each OCI form of `podman-implant` (a second dump made
//!   right after the export, README) mounts with the same processes, maps, fd links and memory
//!   as the export, page by page apart from the pages holding a thread's `struct rseq`
//!   (rseq-pages.json), and `show` / `inspect` / info.json name the image and its annotations.
//! - `docker_and_containerd_checkpoints`: `docker-redis`: Docker's layout (container records two
//!   levels up, the rw layer given with `--rw-layer`) and containerd's `ctr` export, against their
//!   `*-proc-facts.json` (cmdline, maps) and markers.
//! - `hostile_images`: writer-made layouts with a missing blob, an oversized one, a digest that is
//!   a path, a blob altered after naming, several images without `--image`: one line each, no
//!   escape; a gzip bomb is stopped at the size limit.
//! - `coming_formats_are_refused`: a pagemap entry with a field criu-dev's compressed pages add,
//!   an image directory with `cipher.img`.
//! - `list_fills_in_image_forms`: `list` of each form, unopened, against ckimg-inspect.json and
//!   `show` of the same image (container, engine, time, annotations); containerd's too.
//! - `checkpointctl_plugin_protocol`: `checkpointctl-ckptfs --plugin-description` prints the
//!   description and exits 42, as checkpointctl's plugin host expects.

use crate::common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::{Mount, TempDir, fixtures, have_fuse, run, run_ok};
use serde_json::Value;
use sha2::{Digest, Sha256};

const PAGE: usize = 4096;

fn hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Per process: maps, fd link targets, and per `memory/` file the sha256 of each page (or the
/// read error), with `skip` page addresses left out.
type Tree = BTreeMap<String, (String, Vec<(String, String)>, BTreeMap<String, Vec<String>>)>;

fn tree_of(m: &Mount, skip: &BTreeMap<String, Vec<u64>>) -> Tree {
    let mut out = Tree::new();
    for e in std::fs::read_dir(&m.mnt).unwrap().flatten() {
        let pid = e.file_name().to_string_lossy().to_string();
        if !pid.bytes().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let maps =
            String::from_utf8(std::fs::read(m.join(format!("{pid}/maps"))).unwrap()).unwrap();
        let mut fds: Vec<(String, String)> = std::fs::read_dir(m.join(format!("{pid}/fd")))
            .unwrap()
            .flatten()
            .map(|f| {
                let t = std::fs::read_link(f.path()).unwrap();
                (
                    f.file_name().to_string_lossy().to_string(),
                    t.to_string_lossy().to_string(),
                )
            })
            .collect();
        fds.sort();
        let skip_here = skip.get(&pid).cloned().unwrap_or_default();
        let mut mem = BTreeMap::new();
        for f in std::fs::read_dir(m.join(format!("{pid}/memory")))
            .unwrap()
            .flatten()
        {
            let name = f.file_name().to_string_lossy().to_string();
            let Some(start) = name
                .split('-')
                .next()
                .and_then(|s| u64::from_str_radix(s, 16).ok())
            else {
                continue;
            };
            let pages = match std::fs::read(f.path()) {
                Ok(b) => b
                    .chunks(PAGE)
                    .enumerate()
                    .filter(|(i, _)| !skip_here.contains(&(start + (*i * PAGE) as u64)))
                    .map(|(_, c)| hex(c)[..16].to_string())
                    .collect(),
                Err(e) => vec![format!("error: {}", e.kind())],
            };
            mem.insert(name, pages);
        }
        out.insert(pid, (maps, fds, mem));
    }
    out
}

#[test]
fn oci_forms_give_the_export_tree() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let dir = fx.join("podman-implant");
    let rseq: BTreeMap<String, Vec<u64>> = common::read_json(&dir.join("rseq-pages.json"));
    let export = Mount::new(&dir.join("checkpoint.tar.gz"));
    let want = tree_of(&export, &rseq);
    assert!(want.len() >= 5, "the export has the implant's processes");
    for form in ["ckimg.oci.tar", "ckimg.docker.tar", "ckimg.ocidir.tar"] {
        let m = Mount::new(&dir.join(form));
        let got = tree_of(&m, &rseq);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{form}: processes"
        );
        for (pid, (maps, fds, mem)) in &want {
            let (gmaps, gfds, gmem) = &got[pid];
            assert_eq!(gmaps, maps, "{form}: {pid}/maps");
            assert_eq!(gfds, fds, "{form}: {pid}/fd");
            assert_eq!(
                gmem.keys().collect::<Vec<_>>(),
                mem.keys().collect::<Vec<_>>(),
                "{form}: {pid}/memory"
            );
            for (name, pages) in mem {
                assert_eq!(
                    &gmem[name], pages,
                    "{form}: {pid}/memory/{name}, page by page"
                );
            }
        }
        // The image, named, with its annotations.
        let info: Value = common::read_json(&m.join("checkpoint/info.json"));
        let img = &info["checkpoint_image"];
        assert_eq!(info["container_name"], "fx-implant-s2", "{form}");
        if form == "ckimg.docker.tar" {
            assert_eq!(img["form"], "docker-archive");
            assert_eq!(img["reference"], "localhost/ckimg-s2:1");
        } else {
            assert_eq!(img["form"], "oci-layout");
            assert_eq!(img["reference"], "localhost/ckimg-s2:1");
            assert_eq!(
                img["annotations"]["io.podman.annotations.checkpoint.name"],
                "fx-implant-s2"
            );
            assert_eq!(
                img["annotations"]["io.podman.annotations.checkpoint.criu.version"],
                "40200"
            );
        }
        let warnings = common::info_warnings(&info);
        assert!(
            !warnings.iter().any(|(k, _)| k == "altered-blob"),
            "{form}: no blob altered: {warnings:#?}"
        );
        let show = run_ok(&[common::ckptfs(), "show", &dir.join(form).to_string_lossy()]);
        assert!(
            show.stdout_text().contains("fx-implant-s2"),
            "{form}: show\n{}",
            show.stdout_text()
        );
        let inspect = run_ok(&[
            common::ckptfs(),
            "inspect",
            &dir.join(form).to_string_lossy(),
        ]);
        assert!(
            inspect
                .stdout_text()
                .contains("Checkpoint image: localhost/ckimg-s2:1"),
            "{form}: inspect\n{}",
            inspect.stdout_text()
        );
    }
}

/// The maps lines of a proc-facts process, as `PID/maps` shows them (paths only: the images
/// carry no device or inode).
fn facts_maps(p: &Value) -> Vec<(String, String, String)> {
    let maps: Vec<String> = p["maps"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    maps_lines(&maps)
}

fn maps_lines(maps: &[String]) -> Vec<(String, String, String)> {
    maps.iter()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f.get(5..).map(|p| p.join(" ")).unwrap_or_default(),
            )
        })
        .collect()
}

fn mount_maps(m: &Mount, pid: &str) -> Vec<(String, String, String)> {
    let text = String::from_utf8(std::fs::read(m.join(format!("{pid}/maps"))).unwrap()).unwrap();
    maps_lines(&text.lines().map(str::to_string).collect::<Vec<_>>())
}

fn grep_count(pattern: &str, dir: &Path) -> usize {
    let o = run(&[
        "grep",
        "-r",
        "-a",
        "-o",
        "-F",
        pattern,
        &dir.to_string_lossy(),
    ]);
    o.stdout_text().lines().count()
}

/// The marker of `markers.txt` (space-separated) that starts with `prefix`.
fn marker(dir: &Path, prefix: &str) -> String {
    std::fs::read_to_string(dir.join("markers.txt"))
        .unwrap()
        .split_whitespace()
        .find(|m| m.starts_with(prefix))
        .unwrap_or_else(|| panic!("no marker {prefix}*"))
        .to_string()
}

#[test]
fn docker_and_containerd_checkpoints() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let dir = fx.join("docker-redis");
    let ck1 = std::fs::read_dir(dir.join("docker/containers"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("checkpoints/ck1"))
        .find(|p| p.is_dir())
        .unwrap();
    let rw = dir.join("docker/rwlayer.tar");
    for (case, src, extra, facts, prefix) in [
        (
            "docker",
            ck1.clone(),
            vec!["--rw-layer", rw.to_str().unwrap()],
            "docker-proc-facts.json",
            "DOCKERFX-S3",
        ),
        (
            "ctr",
            dir.join("ctrfx-ck.oci.tar"),
            vec![],
            "ctrfx-proc-facts.json",
            "CTRFX-S3",
        ),
    ] {
        let m = Mount::with_args(&src, &extra).unwrap_or_else(|o| panic!("{case}: {o}"));
        let facts: Value = common::read_json(&dir.join(facts));
        for p in facts["processes"].as_array().unwrap() {
            let pid = p["ns_pids"].as_array().unwrap().last().unwrap().to_string();
            let cmdline: Vec<u8> = std::fs::read(m.join(format!("{pid}/cmdline"))).unwrap();
            let want = p["cmdline"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect::<Vec<_>>()
                .join("\0");
            assert_eq!(
                String::from_utf8_lossy(&cmdline).trim_end_matches('\0'),
                want,
                "{case}: {pid}/cmdline"
            );
            assert_eq!(mount_maps(&m, &pid), facts_maps(p), "{case}: {pid}/maps");
        }
        let info: Value = common::read_json(&m.join("checkpoint/info.json"));
        // Markers: the memory ones in memory/, the file in rootfs/ (the rw layer).
        for kind in ["VALUE", "HASHVAL", "LIST", "PASS"] {
            let marker = marker(&dir, &format!("{prefix}-{kind}-"));
            assert!(
                grep_count(&marker, &m.mnt) >= 1,
                "{case}: {marker} in the mount"
            );
        }
        let file_marker = marker(&dir, &format!("{prefix}-FILE-"));
        let note = std::fs::read_to_string(m.join("rootfs/tmp/note.txt")).unwrap();
        assert!(note.contains(&file_marker), "{case}: rootfs/tmp/note.txt");
        match case {
            "docker" => {
                assert_eq!(info["engine"], "Docker");
                assert_eq!(info["container_name"], "dfx");
                assert_eq!(info["image"], "local/redis-fx:1");
                assert!(m.join("checkpoint/config.v2.json").exists());
            }
            _ => {
                assert_eq!(info["engine"], "containerd");
                assert_eq!(info["image"], "local/redis-fx:1");
                assert_eq!(info["runtime"], "io.containerd.runc.v2");
                assert_eq!(info["checkpoint_image"]["reference"], "local/ctrfx-ck:1");
                assert_eq!(info["checkpoint_image"]["containerd_checkpoint"], true);
            }
        }
    }
    // Copied out of Docker's layout, the container's records come from --container-dir.
    let t = TempDir::new("docker-ck1");
    let copy = t.join("ck1");
    std::fs::create_dir(&copy).unwrap();
    for e in std::fs::read_dir(&ck1).unwrap().flatten() {
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    let ctr = ck1.parent().unwrap().parent().unwrap();
    let o = run(&[common::ckptfs(), "show", &copy.to_string_lossy()]);
    assert!(
        o.ok() && !o.stdout_text().contains("dfx"),
        "no records: {o}"
    );
    let o = run(&[
        common::ckptfs(),
        "show",
        &copy.to_string_lossy(),
        "--container-dir",
        &ctr.to_string_lossy(),
    ]);
    assert!(
        o.ok() && o.stdout_text().contains("dfx"),
        "--container-dir: {o}"
    );
    // Without the rw layer, Docker's checkpoint says its files are elsewhere.
    let o = run(&[common::ckptfs(), "show", &ck1.to_string_lossy()]);
    assert!(o.ok(), "{o}");
    assert!(
        o.stdout_text().contains("dfx") && o.stdout_text().contains("Docker"),
        "{o}"
    );
    assert!(o.stderr_text().contains("--rw-layer"), "{o}");
}

/// A minimal OCI layout: `layer` (a plain tar holding `checkpoint/`, from the writer) as a
/// gzip blob, a manifest and an index; `edit` changes the index or manifest JSON before they
/// are written.
fn layout(out: &Path, layer: &[u8], edit: impl Fn(&mut Value, &mut Value)) {
    let blobs = out.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(layer).unwrap();
    let gz = gz.finish().unwrap();
    let put = |b: &[u8]| {
        let h = hex(b);
        std::fs::write(blobs.join(&h), b).unwrap();
        (format!("sha256:{h}"), b.len())
    };
    let (ld, ll) = put(&gz);
    let (cd, cl) = put(b"{}");
    let mut manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cl},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ll}],
        "annotations": {"org.criu.checkpoint.container.name": "synth"}
    });
    let mut index = serde_json::json!({"schemaVersion": 2, "manifests": []});
    edit(&mut index, &mut manifest);
    let mb = serde_json::to_vec(&manifest).unwrap();
    let (md, ml) = put(&mb);
    if index["manifests"].as_array().unwrap().is_empty() {
        index["manifests"] = serde_json::json!([{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md, "size": ml,
            "annotations": {"org.opencontainers.image.ref.name": "synth:1"}
        }]);
    }
    std::fs::write(out.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(out.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// One process with a page of memory.
fn writer() -> ckptfs::writer::CheckpointWriter {
    let mut w = ckptfs::writer::CheckpointWriter::new();
    w.process(1, 0)
        .comm("sh")
        .cmdline(&["/bin/sh"])
        .anon(0x10000, 4096)
        .pages(0x10000, &[0x5a; 4096]);
    w
}

/// A container archive as a plain tar (the writer's Podman layout).
fn archive_tar(t: &TempDir) -> Vec<u8> {
    let p = t.join("ck.tar");
    let layout = ckptfs::writer::Layout::Podman {
        config_json: r#"{"id":"abc"}"#.into(),
        spec_json: r#"{"annotations":{"io.container.manager":"libpod"}}"#.into(),
    };
    writer()
        .write_tar(&p, &layout, ckptfs::writer::Compression::None)
        .unwrap();
    std::fs::read(p).unwrap()
}

#[test]
fn hostile_images() {
    let t = TempDir::new("hostile-oci");
    let layer = archive_tar(&t);
    let show = |p: &Path, extra: &[&str]| {
        let mut a = vec![common::ckptfs(), "show"];
        let ps = p.to_string_lossy().to_string();
        a.push(&ps);
        a.extend_from_slice(extra);
        run(&a)
    };
    // The good one first: it opens, named by its annotation.
    let good = t.join("good");
    layout(&good, &layer, |_, _| {});
    let o = show(&good, &[]);
    assert!(o.ok(), "{o}");
    assert!(o.stdout_text().contains("synth"), "{o}");

    type Edit = Box<dyn Fn(&mut Value, &mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "missing",
            Box::new(|_, m| {
                m["layers"][0]["digest"] = Value::from(format!("sha256:{}", "a".repeat(64)))
            }),
            "is missing from the image",
        ),
        (
            "oversized",
            Box::new(|_, m| m["layers"][0]["size"] = Value::from(1u64 << 40)),
            "its descriptor says",
        ),
        (
            "path",
            Box::new(|_, m| m["layers"][0]["digest"] = Value::from("sha256:../../../etc/passwd")),
            "not sha256:<64 hex digits>",
        ),
    ];
    for (name, edit, want) in cases {
        let d = t.join(name);
        layout(&d, &layer, edit);
        let o = show(&d, &[]);
        assert!(!o.ok(), "{name}: {o}");
        let err = o.stderr_text();
        assert!(err.contains(want), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: one line: {err}");
    }

    // A blob altered after it was named: served, with a warning naming it.
    let altered = t.join("altered");
    layout(&altered, &layer, |_, _| {});
    let manifest = std::fs::read_dir(altered.join("blobs/sha256"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).contains("\"synth\""))
        .unwrap();
    // Same size, other bytes: the manifest's annotation rewritten.
    let text = String::from_utf8(std::fs::read(&manifest).unwrap()).unwrap();
    std::fs::write(&manifest, text.replace("\"synth\"", "\"SYNTH\"")).unwrap();
    let o = show(&altered, &[]);
    assert!(o.ok(), "{o}");
    assert!(
        o.stderr_text().contains("hashes to") && o.stderr_text().contains("altered"),
        "{o}"
    );

    // Two images: a clear line listing them, and --image chooses.
    let two = t.join("two");
    layout(&two, &layer, |_, _| {});
    let mut idx: Value = common::read_json(&two.join("index.json"));
    let mut second = idx["manifests"][0].clone();
    second["annotations"]["org.opencontainers.image.ref.name"] = Value::from("other:2");
    idx["manifests"].as_array_mut().unwrap().push(second);
    std::fs::write(two.join("index.json"), serde_json::to_vec(&idx).unwrap()).unwrap();
    let o = show(&two, &[]);
    assert!(!o.ok(), "{o}");
    assert!(
        o.stderr_text().contains("--image") && o.stderr_text().contains("other:2"),
        "{o}"
    );
    let o = show(&two, &["--image", "other:2"]);
    assert!(o.ok(), "{o}");

    // The layout tarred, with a member leaving the archive: the tar index refuses it, in one
    // line, and nothing is written outside the cache.
    let evil = t.join("evil.tar");
    {
        let f = std::fs::File::create(&evil).unwrap();
        let mut b = tar::Builder::new(f);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, "blobs/sha256/x", "/etc/passwd")
            .unwrap();
        b.append_dir_all("", &good).unwrap();
        b.finish().unwrap();
    }
    let o = show(&evil, &[]);
    // Either refused in one line, or opened without ever following the link out.
    if !o.ok() {
        assert_eq!(o.stderr_text().trim().lines().count(), 1, "{o}");
    } else {
        assert!(!o.stdout_text().contains("root:x:0:0"), "{o}");
    }

    // A gzip bomb as the layer: stopped at the decompression limit, one line.
    let bomb = t.join("bomb");
    let zeros = vec![0u8; 64 << 20];
    layout(&bomb, &zeros, |_, _| {});
    let o = Mount::expect_failure(&bomb, &["--max-size", "1M"]);
    assert_eq!(o.stderr_text().trim().lines().count(), 1, "{o}");
    assert!(o.stderr_text().contains("limit"), "{o}");
}

/// The writer's image directory of one process, to edit.
fn image_dir(t: &TempDir) -> PathBuf {
    let d = t.join("images");
    writer().write_dir(&d).unwrap();
    d
}

#[test]
fn coming_formats_are_refused() {
    let t = TempDir::new("coming-formats");
    // cipher.img: the images are encrypted.
    let enc = image_dir(&t);
    std::fs::write(enc.join("cipher.img"), [0u8; 64]).unwrap();
    let o = run(&[common::ckptfs(), "show", &enc.to_string_lossy()]);
    assert!(!o.ok(), "{o}");
    assert!(o.stderr_text().contains("encrypted"), "{o}");
    assert!(o.stderr_text().contains("cipher.img"), "{o}");

    // A pagemap entry carrying a field criu-dev's compressed pages add: refused for that
    // process by name, never read as plain pages.
    let t2 = TempDir::new("coming-formats-2");
    let d = image_dir(&t2);
    let pm = std::fs::read_dir(&d)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with("pagemap-") && !n.contains("shmem")
        })
        .unwrap();
    let b = std::fs::read(&pm).unwrap();
    // header (8), then frames: length (4) + body; add `field 6 = 1` to the second frame (the
    // first entry).
    let head_len = u32::from_le_bytes(b[8..12].try_into().unwrap()) as usize;
    let at = 12 + head_len;
    let len = u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let mut nb = b[..at].to_vec();
    nb.extend_from_slice(&((len + 2) as u32).to_le_bytes());
    nb.extend_from_slice(&b[at + 4..at + 4 + len]);
    nb.extend_from_slice(&[0x30, 0x01]);
    nb.extend_from_slice(&b[at + 4 + len..]);
    std::fs::write(&pm, nb).unwrap();
    let o = run(&[common::ckptfs(), "memparse", &d.to_string_lossy()]);
    let all = format!("{}{}", o.stdout_text(), o.stderr_text());
    let name = pm.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        all.contains(&name) && all.contains("compressed pages"),
        "{all}"
    );
    assert!(all.contains("not supported yet"), "{all}");
}

#[test]
fn checkpointctl_plugin_protocol() {
    let t = TempDir::new("plugin");
    let link = t.join("checkpointctl-ckptfs");
    std::os::unix::fs::symlink(common::ckptfs(), &link).unwrap();
    let o = run(&[
        link.to_string_lossy().to_string(),
        "--plugin-description".into(),
    ]);
    assert_eq!(o.code, Some(42), "{o}");
    assert_eq!(o.stdout_text().lines().count(), 1, "{o}");
    assert!(o.stdout_text().contains("ckptfs"), "{o}");
    // The plugin runs as checkpointctl runs it: `checkpointctl ckptfs show X` is
    // `checkpointctl-ckptfs show X`.
    let o = run(&[link.to_string_lossy().to_string(), "--version".into()]);
    assert!(o.ok(), "{o}");
}

/// `show` and `inspect` of a checkpoint image read its layer as a stream: nothing is written to
/// the cache; a mount keeps the layer there, named by its digest, for the next open.
#[test]
fn metadata_views_of_an_image_write_nothing() {
    let Some(fx) = fixtures() else { return };
    let t = TempDir::new("oci-nocache");
    let cache = t.join("cache");
    for form in ["ckimg.oci.tar", "ckimg.docker.tar"] {
        let input = fx.join("podman-implant").join(form);
        for view in ["show", "inspect"] {
            let o = run_ok(&[
                common::ckptfs(),
                view,
                &input.to_string_lossy(),
                "--cache-dir",
                &cache.to_string_lossy(),
            ]);
            assert!(
                o.stdout_text().contains("fx-implant-s2"),
                "{form} {view}: {o}"
            );
            let left: Vec<_> = std::fs::read_dir(&cache)
                .map(|d| d.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default();
            assert!(left.is_empty(), "{form} {view} wrote {left:?}");
        }
    }
}

/// `list` of podman-implant fills in each image form's row before it is opened, as `podman
/// image inspect` (ckimg-inspect.json) and `show` of the same image say: the container from
/// the annotations (the docker-archive, which has none, from the layer's config.dump), engine
/// Podman, the time CRIU wrote the images (as `show` gives it, marked), the image's reference
/// and annotations in the JSON; nothing is written. containerd's checkpoint image (docker-redis)
/// as `show` gives it.
#[test]
fn list_fills_in_image_forms() {
    let Some(fx) = fixtures() else { return };
    let dir = fx.join("podman-implant");
    let inspect: Value =
        serde_json::from_slice(&std::fs::read(dir.join("ckimg-inspect.json")).unwrap()).unwrap();
    let inspect = &inspect[0];
    let annotations = inspect["Annotations"].as_object().unwrap();
    let name = &annotations["io.podman.annotations.checkpoint.name"];
    assert!(
        annotations
            .keys()
            .any(|k| k.starts_with("io.podman.annotations.checkpoint.")),
        "Podman's annotations: engine Podman"
    );
    let created = inspect["Created"].as_str().unwrap();
    let created = ckptfs::format::time::parse_rfc3339(created).unwrap();
    let t = TempDir::new("list-oci");
    let cache = t.join("cache");
    let list = |format: &str| {
        let o = std::process::Command::new(common::ckptfs())
            .args(["list", "--format", format, &dir.to_string_lossy()])
            .env("XDG_CACHE_HOME", &cache)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        String::from_utf8(o.stdout).unwrap()
    };
    let rows: Vec<Value> = serde_json::from_str(&list("json")).unwrap();
    let table = list("table");
    for form in ["ckimg.oci.tar", "ckimg.docker.tar", "ckimg.ocidir.tar"] {
        let row = rows
            .iter()
            .find(|r| r["name"] == form)
            .unwrap_or_else(|| panic!("{form} listed: {rows:#?}"));
        assert_eq!(&row["container"], name, "{form}");
        assert_eq!(row["engine"], "Podman", "{form}");
        assert!(row["namespace"].is_null() && row["pod"].is_null(), "{form}");
        let img = &row["checkpoint_image"];
        assert_eq!(img["reference"], inspect["RepoTags"][0], "{form}");
        if form == "ckimg.docker.tar" {
            assert_eq!(img["form"], "docker-archive");
            assert_eq!(img["annotations"], serde_json::json!({}), "{form}");
        } else {
            assert_eq!(img["form"], "oci-layout");
            assert_eq!(img["annotations"], inspect["Annotations"], "{form}");
        }
        // The time as `show` of the same image gives it, from the layer's inventory.img; the
        // image was made after it.
        let show = run_ok(&[
            common::ckptfs(),
            "show",
            "--format",
            "json",
            &dir.join(form).to_string_lossy(),
        ]);
        let show: Value = serde_json::from_str(&show.stdout_text()).unwrap();
        let show = &show[0];
        assert_eq!(row["checkpointed"], show["checkpointed"], "{form}");
        assert_eq!(row["checkpointed_from"], "images written", "{form}");
        assert_eq!(show["checkpointed_from"], "images written", "{form}");
        assert_eq!(row["container"], show["container"], "{form}");
        assert_eq!(row["engine"], show["engine"], "{form}");
        let when = row["checkpointed"].as_str().unwrap();
        let when = ckptfs::format::time::parse_rfc3339(when).unwrap();
        assert!(when <= created, "{form}: written before the image was made");
        // The table row says the same, the time marked as derived.
        let line = table
            .lines()
            .find(|l| l.ends_with(form))
            .unwrap_or_else(|| panic!("{form}: {table}"));
        let cells: Vec<&str> = line
            .split("   ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            cells[..5],
            [
                "-",
                "-",
                name.as_str().unwrap(),
                "Podman",
                &format!("{} (images written)", row["checkpointed"].as_str().unwrap())
            ],
            "{form}: {line}"
        );
    }
    // containerd's own checkpoint image (docker-redis): as `show` gives it.
    let ctr = fx.join("docker-redis/ctrfx-ck.oci.tar");
    let o = run_ok(&[
        common::ckptfs(),
        "list",
        "--format",
        "json",
        &ctr.parent().unwrap().to_string_lossy(),
    ]);
    let rows: Vec<Value> = serde_json::from_str(&o.stdout_text()).unwrap();
    let row = rows
        .iter()
        .find(|r| r["name"] == "ctrfx-ck.oci.tar")
        .unwrap_or_else(|| panic!("ctrfx-ck.oci.tar listed: {rows:#?}"));
    let show = run_ok(&[
        common::ckptfs(),
        "show",
        "--format",
        "json",
        &ctr.to_string_lossy(),
    ]);
    let show: Value = serde_json::from_str(&show.stdout_text()).unwrap();
    for k in ["container", "engine", "checkpointed", "checkpointed_from"] {
        assert_eq!(row[k], show[0][k], "ctrfx-ck.oci.tar: {k}");
    }
    assert_eq!(row["engine"], "containerd");
    assert_eq!(row["checkpoint_image"]["containerd_checkpoint"], true);
    let left: Vec<_> = std::fs::read_dir(&cache)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "list wrote {left:?}");
}
