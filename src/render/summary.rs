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
//! Like checkpointctl: columns padded to the widest cell plus three spaces, the last column not
//! padded, a dash rule under each header as long as the header, the ID cut to 12 characters, the
//! creation time without fractional seconds (`2026-11-28T14:47:37.419807618Z` →
//! `2026-11-28T14:47:37Z`), sizes as [`human_size`]. `CHKPT SIZE` is the sum of the sizes of the
//! CRIU image directory's files (checkpointctl: the size of `checkpoint/`), `ROOT FS DIFF SIZE` the
//! size of `rootfs-diff.tar`. A value the checkpoint does not have (a plain CRIU dump has no
//! container metadata) is `-`. The tree is [`pstree`](super::pstree())'s.

use crate::model::Checkpoint;
use crate::render::pstree::pstree;

/// `1536` → `"1.5 KiB"`: checkpointctl's `ByteToString` (powers of 1024, one decimal, `"512 B"` below 1 KiB).
pub fn human_size(bytes: u64) -> String {
    const UNIT: u64 = 1024;
    if bytes < UNIT {
        return format!("{bytes} B");
    }
    let mut div = UNIT;
    let mut exp = 0;
    let mut n = bytes / UNIT;
    while n >= UNIT && exp < 5 {
        div *= UNIT;
        exp += 1;
        n /= UNIT;
    }
    let unit = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"][exp];
    format!("{:.1} {unit}", bytes as f64 / div as f64)
}

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
    let files = &ck.source.images.files;
    let len = |b: &crate::source::Blob| b.len() as u64;
    CheckpointSizes {
        images: files.values().map(len).fold(0, u64::saturating_add),
        pages: files
            .iter()
            .filter(|(n, _)| n.starts_with("pages-") && n.ends_with(".img"))
            .map(|(_, b)| len(b))
            .fold(0, u64::saturating_add),
        root_fs_diff: ck.source.metadata.get("rootfs-diff.tar").map(len),
    }
}

/// `secs` since the epoch as RFC 3339 in UTC, without fractional seconds.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// An RFC 3339 time without its fractional seconds, as checkpointctl prints it.
pub(crate) fn short_time(t: &str) -> String {
    let Some(tpos) = t.find('T') else {
        return t.to_string();
    };
    match t[tpos..].find('.') {
        Some(dot) => {
            let dot = tpos + dot;
            let digits = t[dot + 1..].bytes().take_while(u8::is_ascii_digit).count();
            format!("{}{}", &t[..dot], &t[dot + 1 + digits..])
        }
        None => t.to_string(),
    }
}

/// A checkpointctl-style table: cells padded to the column's widest cell + 3 spaces, the last
/// column unpadded, a dash rule as long as each header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = String>| {
        let mut l = String::new();
        for (i, c) in cells.take(cols).enumerate() {
            l.push_str(&c);
            if i + 1 < cols {
                let pad = width[i] + 3 - c.chars().count();
                l.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().map(|h| h.to_string()));
    line(&mut header.iter().map(|h| "-".repeat(h.chars().count())));
    for r in rows {
        line(&mut r.iter().cloned().chain(std::iter::repeat(String::new())));
    }
    out
}

/// The `show` table alone (for the CLI's `show`).
pub fn show_table(ck: &Checkpoint) -> String {
    let m = &ck.meta;
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let sizes = checkpoint_sizes(ck);
    let row = vec![
        dash(&m.container_name),
        dash(&m.image),
        m.container_id
            .as_ref()
            .map_or_else(|| "-".into(), |id| id.chars().take(12).collect()),
        dash(&m.runtime),
        m.created.as_deref().map_or_else(|| "-".into(), short_time),
        dash(&m.engine),
        human_size(sizes.images),
        sizes.root_fs_diff.map_or_else(|| "-".into(), human_size),
    ];
    table(
        &[
            "CONTAINER",
            "IMAGE",
            "ID",
            "RUNTIME",
            "CREATED",
            "ENGINE",
            "CHKPT SIZE",
            "ROOT FS DIFF SIZE",
        ],
        &[row],
    )
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
    fn human_sizes_like_checkpointctl() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(2048), "2.0 KiB");
        assert_eq!(human_size(252279), "246.4 KiB");
        assert_eq!(human_size(204800), "200.0 KiB");
        assert_eq!(human_size(28_626_124), "27.3 MiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
        assert_eq!(human_size(5 << 40), "5.0 TiB");
        assert_eq!(human_size(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn times() {
        assert_eq!(
            short_time("2026-11-28T14:47:37.419807618Z"),
            "2026-11-28T14:47:37Z"
        );
        assert_eq!(
            short_time("2026-11-28T14:47:37+02:00"),
            "2026-11-28T14:47:37+02:00"
        );
        assert_eq!(
            short_time("2026-11-28T14:47:37.5+02:00"),
            "2026-11-28T14:47:37+02:00"
        );
        assert_eq!(short_time("garbage.1"), "garbage.1");
    }

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
}
