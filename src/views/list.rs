//! `ckptfs list [DIR...]`: the checkpoints in the kubelet's checkpoint directory (default
//! `/var/lib/kubelet/checkpoints`) or in the given directories.
//!
//! ```text
//! Listing checkpoints in path: /var/lib/kubelet/checkpoints
//! NAMESPACE   POD    CONTAINER   ENGINE   TIME CHECKPOINTED      CHECKPOINT NAME
//! ---------   ---    ---------   ------   -----------------      ---------------
//! default     web    nginx       CRI-O    2026-11-28T14:47:37Z   checkpoint-web_default-nginx-2026-11-28T14:47:37Z.tar
//! ```
//!
//! Every entry of the directory is looked at, whatever its name (the kubelet's
//! `checkpoint-*.tar`, a Podman export, an extracted archive, a plain CRIU image directory), in
//! name order. Entries that are neither a CRIU image directory nor an archive by their content,
//! nor named like one (`checkpoint*`, `*.tar`, `*.tar.gz`, `*.tar.zst`, ...), such as a README or a
//! JSON file, are skipped with one line per directory on stderr that counts and names them; any
//! other entry that cannot be read is skipped with its own line saying why.
//! Only `config.dump` and `spec.dump` are read: a `.tar` is scanned header by header (seeking
//! past the other entries), a `.tar.gz` / `.tar.zst` is decompressed as a stream only until both
//! are found, nothing is written anywhere. Namespace, pod and container come from the metadata
//! (CRI-O / containerd annotations); what the metadata lacks is taken from the kubelet's file
//! name `checkpoint-<pod>_<namespace>-<container>-<time>.tar`. TIME CHECKPOINTED is
//! `config.dump`'s `checkpointedTime`, else the name's time (marked `(checkpoint name)`), else
//! when CRIU wrote the images (`inventory.img`'s modification time in the archive's header or
//! the directory, marked `(images written)`: Podman records no checkpointed time), in RFC 3339
//! without fractional seconds (checkpointctl: RFC 822, `28 Nov 26 14:47 UTC`, which drops the
//! seconds and the century). A checkpoint image (OCI layout directory or tar, `oci-archive`,
//! `docker-archive`, containerd's checkpoint) is read without decompressing its layer: its index,
//! manifest (annotations: `io.podman.annotations.checkpoint.*`, `org.criu.checkpoint.*`) and
//! config, and the start of the layer holding the checkpoint (a plain layer header by header; a
//! compressed one as a stream within the same 64 MiB, and for Podman's images only up to
//! `inventory.img`): what the layer's `config.dump` / `spec.dump` say comes first, the
//! annotations fill in where they are silent, as when the image is opened. When no time is
//! found the image config's `created` is shown, marked `(image created)`. Image metadata that
//! cannot be read keeps the entry, `-` where unknown, with one line on stderr saying why.
//! An entry that cannot be read is reported on stderr and skipped. A directory given
//! on the command line that does not exist is an error; the default one missing just means no
//! checkpoints. `--format json` / `jsonl` gives the same rows as JSON objects (`directory`,
//! `name`, `path`, `namespace`, `pod`, `container`, `engine`, `checkpointed`, `checkpointed_from`:
//! `config.dump checkpointedTime`, `checkpoint name`, `images written` or `image created`;
//! `checkpoint_image`: the image's form, reference, digest, repo tags and annotations; null when
//! unknown), and no heading lines: no checkpoint found is `[]` (or nothing).

use std::io::Write;
use std::path::PathBuf;

use super::{Error, RowFormat, write_out};
use crate::format::table;
use crate::model::catalog::{FROM_CONFIG, FROM_IMAGE_CREATED, Listed, describe};

/// The kubelet's checkpoint directory.
pub const DEFAULT_DIR: &str = "/var/lib/kubelet/checkpoints";

/// Writes the `list` output for `dirs` (none: the kubelet's directory) to `out`.
pub fn run(dirs: &[PathBuf], format: RowFormat, out: &mut dyn Write) -> Result<(), Error> {
    let explicit = !dirs.is_empty();
    let dirs: Vec<PathBuf> = if explicit {
        dirs.to_vec()
    } else {
        vec![PathBuf::from(DEFAULT_DIR)]
    };
    let mut rows = Vec::new();
    let mut json = Vec::new();
    let mut s = String::new();
    // A directory that cannot be listed has its error line on stderr; the others are listed.
    let listed = super::each_input(&dirs, |dir| {
        let mut names: Vec<(String, PathBuf)> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .collect(),
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(Error::input(format!("{}: cannot list: {e}", dir.display())));
            }
        };
        if names.is_empty() {
            return Ok(());
        }
        names.sort();
        s.push_str(&format!("Listing checkpoints in path: {}\n", dir.display()));
        let mut others: Vec<String> = Vec::new();
        for (name, path) in names {
            if crate::source::sniff(&path).is_none() && !looks_like_a_checkpoint(&name) {
                others.push(name);
                continue;
            }
            match describe(&path) {
                Ok(l) => {
                    for w in &l.warnings {
                        crate::views::warn(format_args!("{}: {w}", path.display()));
                    }
                    rows.push(row(&l));
                    json.push(json_row(&l, dir, &path));
                }
                Err(e) => crate::views::warn(format_args!(
                    "{}: skipped, not a checkpoint: {e}",
                    path.display()
                )),
            }
        }
        if !others.is_empty() {
            const SHOWN: usize = 5;
            let more = if others.len() > SHOWN {
                format!(", and {} more", others.len() - SHOWN)
            } else {
                String::new()
            };
            let n = others.len();
            others.truncate(SHOWN);
            crate::views::warn(format_args!(
                "{}: skipped {n} entr{} that {} neither a CRIU image directory nor an archive: {}{more}",
                dir.display(),
                if n == 1 { "y" } else { "ies" },
                if n == 1 { "is" } else { "are" },
                others.join(", ")
            ));
        }
        Ok(())
    });
    if format != RowFormat::Table {
        write_out(out, format.json_rows(&json).as_bytes())?;
        return listed;
    }
    if rows.is_empty() && s.is_empty() {
        listed.clone()?;
        let shown: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        return write_out(
            out,
            format!("No checkpoints found in [{}]\n", shown.join(" ")).as_bytes(),
        );
    }
    s.push_str(&table::render(
        &[
            "Namespace",
            "Pod",
            "Container",
            "Engine",
            "Time Checkpointed",
            "Checkpoint Name",
        ],
        &rows,
    ));
    write_out(out, s.as_bytes())?;
    listed
}

/// Whether a name says "checkpoint archive" (the kubelet's `checkpoint-*`, a tar, a compressed
/// tar): such an entry that cannot be read is worth its own line (a corrupt or truncated
/// checkpoint), whatever its content.
fn looks_like_a_checkpoint(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("checkpoint")
        || [
            ".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst", ".gz", ".zst",
        ]
        .iter()
        .any(|e| n.ends_with(e))
}

/// A checkpoint's row as JSON (field names in docs/views.md).
fn json_row(l: &Listed, dir: &std::path::Path, path: &std::path::Path) -> serde_json::Value {
    serde_json::json!({
        "directory": dir.display().to_string(),
        "name": l.name,
        "path": path.display().to_string(),
        "namespace": l.namespace,
        "pod": l.pod,
        "container": l.container,
        "engine": l.engine,
        "checkpointed": l.time.as_ref().or(l.image_created.as_ref()),
        "checkpointed_from": l.time_from.or(l.image_created.as_ref().map(|_| FROM_IMAGE_CREATED)),
        "checkpoint_image": l.meta.image_wrapper,
    })
}

fn row(l: &Listed) -> Vec<String> {
    let d = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    vec![
        d(&l.namespace),
        d(&l.pod),
        d(&l.container),
        d(&l.engine),
        match (&l.time, l.time_from, &l.image_created) {
            (Some(t), Some(from), _) if from != FROM_CONFIG => format!("{t} ({from})"),
            (None, _, Some(c)) => format!("{c} ({FROM_IMAGE_CREATED})"),
            (t, _, _) => d(t),
        },
        l.name.clone(),
    ]
}
