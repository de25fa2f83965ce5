//! `checkpoint/summary`: the `checkpointctl show` table, the details it has no column for (pod,
//! network, checkpoint time, CRIU statistics: [`details`](super::container::details)), then the
//! process tree, as text.
//!
//! ```text
//! CONTAINER    IMAGE                              ID             RUNTIME   CREATED                ENGINE   CHKPT SIZE   ROOT FS DIFF SIZE
//! ---------    -----                              --             -------   -------                ------   ----------   -----------------
//! fx-busybox   localhost/fixture-busybox:latest   2a5c15b736f0   runc      2026-11-28T14:47:37Z   Podman   246.4 KiB    2.0 KiB
//!
//! Process tree
//! 1 sh [S] /bin/sh -c ...
//!   6 httpd [S] httpd -f -p 8080 -h /var/www
//! ```
//!
//! Like checkpointctl (the one table builder, [`crate::format::table`]): columns padded to the
//! widest cell plus three spaces and at least 6 wide, the last column not padded, a dash rule under
//! each header as long as the header, control characters escaped, the ID cut to 12 characters, the
//! creation time without fractional seconds (`2026-11-28T14:47:37.419807618Z` →
//! `2026-11-28T14:47:37Z`), sizes as [`human_size`]. `CHKPT SIZE` is the sum of the sizes of the
//! CRIU image directory's files (checkpointctl: the size of `checkpoint/`), `ROOT FS DIFF SIZE` the
//! size of `rootfs-diff.tar`. A value the checkpoint does not have (a plain CRIU dump has no
//! container metadata) is `-`. The tree is [`pstree`](super::pstree())'s.

use crate::format::human_size;
use crate::format::table;
use crate::format::time::short_time;
use crate::model::Checkpoint;
use crate::model::metadata::Metadata;
use crate::render::pstree::pstree;

/// Sizes shown for a checkpoint, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckpointSizes {
    /// Sum of the sizes of the CRIU image directory's files (`CHKPT SIZE`).
    pub images: u64,
    /// Sum of the sizes of its `pages-*.img` files (checkpointctl's "Memory pages size").
    pub pages: u64,
    /// Size of `rootfs-diff.tar`, when the archive has one.
    pub root_fs_diff: Option<u64>,
}

/// The sizes of `ck`'s images and root fs diff.
pub fn checkpoint_sizes(ck: &Checkpoint) -> CheckpointSizes {
    let len = |b: &crate::source::Blob| b.len() as u64;
    CheckpointSizes {
        root_fs_diff: ck.source.file("rootfs-diff.tar").map(len),
        ..image_dir_sizes(&ck.source.images)
    }
}

/// The sizes of one image directory's files and `pages-*.img` files (not its parents').
pub fn image_dir_sizes(dir: &crate::source::ImageDir) -> CheckpointSizes {
    let files = &dir.files;
    let len = |b: &crate::source::Blob| b.len() as u64;
    CheckpointSizes {
        images: files.values().map(len).fold(0, u64::saturating_add),
        pages: files
            .iter()
            .filter(|(n, _)| n.starts_with("pages-") && n.ends_with(".img"))
            .map(|(_, b)| len(b))
            .fold(0, u64::saturating_add),
        root_fs_diff: None,
    }
}

/// The columns of the `show` table (upper-cased by [`table::render`]).
pub const SHOW_HEADER: [&str; 8] = [
    "Container",
    "Image",
    "ID",
    "Runtime",
    "Created",
    "Engine",
    "CHKPT Size",
    "Root FS Diff Size",
];

/// `ck`'s row of the `show` table (for `checkpoint/summary` and `ckptfs show`).
pub fn show_row(ck: &Checkpoint) -> Vec<String> {
    let sizes = checkpoint_sizes(ck);
    meta_row(&ck.meta, Some(sizes.images), sizes.root_fs_diff)
}

/// A `show` row from the container metadata alone, with the sizes when they are known (a
/// checkpoint not opened yet: `-`).
pub fn meta_row(m: &Metadata, images: Option<u64>, root_fs_diff: Option<u64>) -> Vec<String> {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    vec![
        dash(&m.container_name),
        dash(&m.image),
        m.container_id
            .as_ref()
            .map_or_else(|| "-".into(), |id| id.chars().take(12).collect()),
        dash(&m.runtime),
        m.created.as_deref().map_or_else(|| "-".into(), short_time),
        dash(&m.engine),
        images.map_or_else(|| "-".into(), human_size),
        root_fs_diff.map_or_else(|| "-".into(), human_size),
    ]
}

/// The `show` table alone (for the CLI's `show`).
pub fn show_table(ck: &Checkpoint) -> String {
    table::render(&SHOW_HEADER, &[show_row(ck)])
}

/// The text of `checkpoint/summary`.
pub fn summary(ck: &Checkpoint) -> Vec<u8> {
    let mut s = show_table(ck).into_bytes();
    // Pod, network, checkpoint time, CRIU statistics (render/container.rs).
    s.extend_from_slice(super::container::details(ck).as_bytes());
    s.extend_from_slice(b"\nProcess tree\n");
    s.extend_from_slice(&pstree(ck));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::*;

    #[test]
    fn golden_show_table() {
        let ck = busybox_checkpoint();
        assert_eq!(
            show_table(&ck),
            "CONTAINER    IMAGE                              ID             RUNTIME   CREATED                ENGINE   CHKPT SIZE   ROOT FS DIFF SIZE\n\
             ---------    -----                              --             -------   -------                ------   ----------   -----------------\n\
             fx-busybox   localhost/fixture-busybox:latest   2a5c15b736f0   runc      2026-11-28T14:47:37Z   Podman   246.4 KiB    2.0 KiB\n"
        );
        let s = String::from_utf8(summary(&ck)).unwrap();
        assert!(
            s.contains("\nProcess tree\n1 sh [S] /bin/sh -c\n  6 httpd [S] httpd -f\n"),
            "{s}"
        );
    }

    #[test]
    fn plain_dump_has_dashes() {
        let ck = checkpoint(vec![]);
        let t = show_table(&ck);
        let row = t.lines().nth(2).unwrap();
        assert_eq!(
            row.split_whitespace().filter(|c| *c == "-").count(),
            7,
            "{row}"
        );
        assert!(row.contains("0 B"));
        assert!(
            String::from_utf8(summary(&ck))
                .unwrap()
                .ends_with("Process tree\n")
        );
    }

    /// `checkpoint/summary` and `ckptfs show` had two table builders: the summary's did not
    /// escape control characters and had no minimum width. Now both are `format::table`'s.
    #[test]
    fn one_table_with_escaping_and_min_width() {
        let mut ck = checkpoint(vec![]);
        ck.meta.container_name = Some("evil\nname\x1b[31m".into());
        let t = show_table(&ck);
        assert_eq!(t.lines().count(), 3, "{t}");
        assert!(t.contains("evil\\nname\\x1b[31m"), "{t}");
        // The ID column (`ID`, `-`) is tabwriter's minimum 6 wide.
        assert!(t.contains("   ID    RUNTIME   "), "{t}");
        assert_eq!(t, table::render(&SHOW_HEADER, &[show_row(&ck)]));
    }
}
