//! `checkpoints`, the table at the top of a mount of a directory of checkpoints: one row per
//! checkpoint, `ckptfs show`'s columns between the directory it is shown as and its state.
//!
//! ```text
//! NAME                                      NAMESPACE   POD   CONTAINER   IMAGE   ID   RUNTIME   CREATED   ENGINE   CHKPT SIZE   ROOT FS DIFF SIZE   CHECKPOINTED           STATE        SOURCE
//! default_web_nginx_2026-11-28T14:47:37Z    default     web   nginx       ...                              CRI-O    1.2 MiB      2.0 KiB             2026-11-28T14:47:37Z   opened       checkpoint-web_default-nginx-2026-11-28T14:47:37Z.tar
//! ```
//!
//! A checkpoint is opened on first access: until then what `config.dump` / `spec.dump` say is
//! shown and the sizes are `-`.

use std::time::SystemTime;

use crate::format::table;
use crate::format::time::{rfc3339, short_time};
use crate::model::catalog::Listed;
use crate::model::metadata::Metadata;
use crate::render::summary::meta_row;

/// Where a checkpoint of the directory is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Named from its metadata, not opened yet.
    NotOpened,
    /// Being opened (a compressed archive is decompressed into the cache).
    Opening,
    /// Opened: its tree is served.
    Opened,
    /// It could not be opened: why.
    Failed(String),
}

/// One row: the checkpoint's directory name in the mount, what it said about itself before it was
/// opened, its container metadata (the opened checkpoint's once it is: an archive whose metadata
/// lies too deep to be read when listing is named by its file until then), its sizes once opened
/// (CRIU images, rootfs-diff.tar), when it was taken once opened (the time its tree shows: the
/// engine's `checkpointedTime`, else when CRIU wrote `inventory.img`), its state.
pub struct Row<'a> {
    pub name: &'a str,
    pub listed: &'a Listed,
    pub meta: &'a Metadata,
    pub sizes: Option<(u64, Option<u64>)>,
    pub time: Option<SystemTime>,
    pub state: State,
}

const HEADER_BEFORE: [&str; 4] = ["Name", "Namespace", "Pod", "Container"];
const HEADER_AFTER: [&str; 3] = ["Checkpointed", "State", "Source"];

/// The text of `checkpoints`.
pub fn table(rows: &[Row<'_>]) -> String {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut header: Vec<&str> = HEADER_BEFORE.to_vec();
    // show's columns from Image on (Container is already there).
    header.extend_from_slice(&crate::render::summary::SHOW_HEADER[1..]);
    header.extend_from_slice(&HEADER_AFTER);
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let (l, m) = (r.listed, r.meta);
            let show = meta_row(m, r.sizes.map(|s| s.0), r.sizes.and_then(|s| s.1));
            let or =
                |a: &Option<String>, b: &Option<String>| dash(&a.clone().or_else(|| b.clone()));
            let mut v = vec![
                r.name.to_string(),
                or(&l.namespace, &m.pod_namespace),
                or(&l.pod, &m.pod_name),
                or(&l.container, &m.container_name),
            ];
            v.extend(show.into_iter().skip(1));
            // As the engine or the kubelet's file name says, else as the opened tree shows it
            // (Podman 4 writes no checkpointedTime; CRIU's inventory.img has its time).
            let taken = r
                .time
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok());
            let taken = taken.map(|d| rfc3339(d.as_secs() as i64));
            v.push(or(
                &l.time,
                &m.checkpointed.as_deref().map(short_time).or(taken),
            ));
            v.push(match &r.state {
                State::NotOpened => "not opened".into(),
                State::Opening => "opening".into(),
                State::Opened => "opened".into(),
                State::Failed(why) => format!("error: {}", crate::format::escape::escape(why)),
            });
            v.push(l.name.clone());
            v
        })
        .collect();
    table::render(&header, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_show_metadata_sizes_and_state() {
        let mut web = Listed {
            namespace: Some("default".into()),
            pod: Some("web".into()),
            container: Some("nginx".into()),
            engine: Some("CRI-O".into()),
            time: Some("2026-11-28T14:47:37Z".into()),
            name: "checkpoint-web_default-nginx-2026-11-28T14:47:37Z.tar".into(),
            ..Listed::default()
        };
        web.meta.image = Some("docker.io/library/nginx:1.27".into());
        web.meta.engine = Some("CRI-O".into());
        let plain = Listed {
            name: "dump-1".into(),
            ..Listed::default()
        };
        // Known only once opened.
        let opened = Metadata {
            container_name: Some("late".into()),
            ..Metadata::default()
        };
        let t = table(&[
            Row {
                name: "default_web_nginx_2026-11-28T14:47:37Z",
                listed: &web,
                meta: &web.meta,
                sizes: Some((1 << 20, Some(2048))),
                time: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1)),
                state: State::Opened,
            },
            Row {
                name: "dump-1",
                listed: &plain,
                meta: &opened,
                sizes: None,
                time: None,
                state: State::Failed("pstree.img: truncated\nat 12".into()),
            },
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[0].starts_with("NAME "), "{t}");
        for h in [
            "CHKPT SIZE",
            "ROOT FS DIFF SIZE",
            "CHECKPOINTED",
            "STATE",
            "SOURCE",
        ] {
            assert!(lines[0].contains(h), "{h}: {t}");
        }
        let cols = |l: &str| {
            l.split("   ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        };
        let web_row = cols(lines[2]);
        assert_eq!(web_row[0], "default_web_nginx_2026-11-28T14:47:37Z");
        assert!(
            web_row.contains(&"docker.io/library/nginx:1.27".to_string()),
            "{t}"
        );
        assert!(web_row.contains(&"1.0 MiB".to_string()), "{t}");
        assert!(web_row.contains(&"2.0 KiB".to_string()), "{t}");
        assert!(lines[2].contains(" opened "), "{t}");
        assert!(lines[2].ends_with("checkpoint-web_default-nginx-2026-11-28T14:47:37Z.tar"));
        // The engine's time wins over the opened tree's.
        assert!(!t.contains("1970"), "{t}");
        // Unknown values are '-', an error stays on its row.
        assert!(lines[3].starts_with("dump-1 "), "{t}");
        assert!(lines[3].contains("error: pstree.img: truncated"), "{t}");
        assert!(cols(lines[3]).contains(&"late".to_string()), "{t}");
        assert!(!lines[3].contains('\n'));
        // Opened, with no time in its metadata: the tree's (when CRIU wrote inventory.img).
        let t = table(&[Row {
            name: "dump-1",
            listed: &plain,
            meta: &plain.meta,
            sizes: None,
            time: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_764_341_257)),
            state: State::Opened,
        }]);
        assert!(t.contains(" 2025-11-28T14:47:37Z "), "{t}");
    }
}
