//! The case: the report's own provenance (ckptfs version, the command, when) and each input
//! with what identifies it: its SHA-256 (an image directory's manifest: every file's), the
//! engine, container, image, runtime, the times the checkpoint records, CRIU and the dump's
//! kernel, and the counts of processes, threads and dumped bytes.

use super::html::{esc, esc_cut, not_recorded, opt, table};
use super::{Input, Report};
use crate::format::human_size;
use crate::source::InputKind;

/// Manifest lines shown per input (an image directory has a few files per process).
pub const MANIFEST_ROWS: usize = 200;

fn kind(k: InputKind) -> &'static str {
    match k {
        InputKind::ImageDir => "CRIU image directory",
        InputKind::Tar => "tar archive",
        InputKind::TarGz => "gzip-compressed tar archive",
        InputKind::TarZst => "zstd-compressed tar archive",
    }
}

fn row(name: &str, value: String) -> String {
    format!(
        "<tr><th scope=\"row\">{}</th><td>{value}</td></tr>\n",
        esc(name)
    )
}

fn time_of(t: std::time::SystemTime) -> Option<String> {
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(crate::format::time::rfc3339(
        i64::try_from(d.as_secs()).ok()?,
    ))
}

/// One input's table (and its manifest).
pub fn input(k: usize, i: &Input<'_>) -> String {
    let ck = i.ck;
    let m = &ck.meta;
    let src = &ck.source;
    let mut s = String::new();
    s.push_str(&format!(
        "<table class=\"kv\" id=\"input-{}\"><caption>Checkpoint {}: {}</caption><tbody>\n",
        k + 1,
        k + 1,
        esc(&i.label)
    ));
    s.push_str(&row("Input", format!("<code>{}</code>", esc(&i.label))));
    s.push_str(&row(
        "Form",
        format!("{}, {} bytes", kind(src.input.kind), src.input.size),
    ));
    let sha = src.input_sha256();
    let what = if src.input.kind == InputKind::ImageDir {
        "SHA-256 (of the manifest below)"
    } else {
        "SHA-256"
    };
    s.push_str(&row(
        what,
        match &sha {
            Some(h) => format!("<code class=\"hash\">{}</code>", esc(h)),
            None => format!(
                "{} (the input could not be read to its end unchanged)",
                not_recorded()
            ),
        },
    ));
    if let Some(img) = &m.image_wrapper {
        s.push_str(&row(
            "Checkpoint image",
            format!(
                "{} {}",
                opt(img.reference.as_deref()),
                img.digest.as_deref().map(esc).unwrap_or_default()
            ),
        ));
    }
    s.push_str(&row("Engine", opt(m.engine.as_deref())));
    s.push_str(&row("Container", opt(m.container_name.as_deref())));
    s.push_str(&row(
        "Container ID",
        m.container_id
            .as_deref()
            .map_or_else(not_recorded, |v| format!("<code>{}</code>", esc(v))),
    ));
    s.push_str(&row("Image", opt(m.image.as_deref())));
    s.push_str(&row("Image ID", opt(m.image_id.as_deref())));
    s.push_str(&row("Runtime", opt(m.runtime.as_deref())));
    s.push_str(&row("Pod", opt(m.pod_name.as_deref())));
    s.push_str(&row("Created", opt(m.created.as_deref())));
    s.push_str(&row("Started", opt(m.started.as_deref())));
    s.push_str(&row("Checkpointed", opt(m.checkpointed.as_deref())));
    s.push_str(&row(
        "Images written",
        opt(src.images.written.and_then(time_of).as_deref()),
    ));
    s.push_str(&row("CRIU", opt(m.criu_version.as_deref())));
    s.push_str(&row("Dump kernel", opt(m.dump_kernel.as_deref())));
    s.push_str(&row("Architecture", opt(m.arch.as_deref())));
    let threads: usize = ck.processes.iter().map(|p| p.threads.len()).sum();
    s.push_str(&row(
        "Processes",
        format!("{} ({threads} threads)", ck.processes.len()),
    ));
    let dumped = ck.dumped_bytes();
    s.push_str(&row(
        "Dumped memory",
        format!("{} ({dumped} bytes, each page once)", human_size(dumped)),
    ));
    let mut warnings: Vec<&str> = ck
        .warnings
        .iter()
        .chain(&src.warnings)
        .map(|w| w.message.as_str())
        .collect();
    warnings.dedup();
    if !warnings.is_empty() {
        let shown: Vec<String> = warnings
            .iter()
            .take(50)
            .map(|w| format!("<li>{}</li>", esc_cut(w, 400)))
            .collect();
        let more = if warnings.len() > 50 {
            format!(
                "<li>{} more (<code>checkpoint/info.json</code> lists them all)</li>",
                warnings.len() - 50
            )
        } else {
            String::new()
        };
        s.push_str(&row(
            "Warnings",
            format!("<ul class=\"warn\">{}{more}</ul>", shown.concat()),
        ));
    }
    s.push_str("</tbody></table>\n");
    if let Some(man) = src.manifest() {
        let rows: Vec<Vec<String>> = man
            .entries
            .iter()
            .take(MANIFEST_ROWS)
            .map(|e| {
                vec![
                    format!("<code class=\"hash\">{}</code>", esc(&e.sha256)),
                    e.size.to_string(),
                    format!("<code>{}</code>", esc(&e.path)),
                ]
            })
            .collect();
        s.push_str(&table(
            "manifest",
            &format!("Manifest of checkpoint {} (every input file)", k + 1),
            &["SHA-256", "Bytes", "File"],
            &rows,
        ));
        s.push_str(&super::html::capped(
            rows.len(),
            man.entries.len(),
            "checkpoint/manifest.sha256 of the mount",
        ));
    }
    s
}

/// The section: the report's provenance, then each input (and those that could not be read).
pub fn section(r: &Report<'_>) -> String {
    let mut s = String::from("<section id=\"case\">\n<h2>The case</h2>\n");
    s.push_str("<table class=\"kv\"><caption>This report</caption><tbody>\n");
    s.push_str(&row(
        "Made by",
        format!("ckptfs {}", esc(env!("CARGO_PKG_VERSION"))),
    ));
    s.push_str(&row(
        "Command",
        format!("<code>{}</code>", esc_cut(&r.command, 4000)),
    ));
    s.push_str(&row("Made at", opt(r.made.as_deref())));
    s.push_str(&row(
        "Checkpoints",
        format!(
            "{} read{}",
            r.inputs.len(),
            if r.failed.is_empty() {
                String::new()
            } else {
                format!(", {} could not be read", r.failed.len())
            }
        ),
    ));
    s.push_str("</tbody></table>\n");
    for (k, i) in r.inputs.iter().enumerate() {
        s.push_str(&input(k, i));
    }
    if !r.failed.is_empty() {
        let rows: Vec<Vec<String>> = r
            .failed
            .iter()
            .map(|(p, why)| vec![format!("<code>{}</code>", esc(p)), esc_cut(why, 400)])
            .collect();
        s.push_str(&table(
            "failed",
            "Inputs that could not be read (not in this report)",
            &["Input", "Why"],
            &rows,
        ));
    }
    s.push_str("</section>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::*;

    fn report<'a>(ck: &'a crate::model::Checkpoint, label: &str) -> Report<'a> {
        Report {
            inputs: vec![Input {
                label: label.into(),
                ck,
                triage: vec![],
                scan: vec![],
                changed: vec![],
            }],
            failed: vec![("bad<.tar".into(), "not a checkpoint".into())],
            command: "ckptfs report x -o y".into(),
            made: None,
            changes: vec![],
            scanned: false,
        }
    }

    #[test]
    fn the_case_names_the_input_and_says_what_is_not_recorded() {
        let ck = busybox_checkpoint();
        let s = section(&report(&ck, "/ev/<b>.tar.gz"));
        assert!(
            s.contains("&lt;b&gt;.tar.gz") && !s.contains("<b>.tar"),
            "{s}"
        );
        assert!(s.contains("fx-busybox") && s.contains("Podman"));
        // The test checkpoint has no hash, no start time, no CRIU version: said so.
        let nr = s.matches("not recorded").count();
        assert!(nr >= 3, "{s}");
        assert!(s.contains("bad&lt;.tar") && s.contains("could not be read"));
        assert!(s.contains("ckptfs report x -o y"));
        assert!(s.contains(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn an_empty_checkpoint_is_all_not_recorded() {
        let ck = checkpoint(vec![]);
        let s = input(0, &report(&ck, "x").inputs[0]);
        for field in ["Engine", "Container", "Image", "Created", "Checkpointed"] {
            let at = s.find(&format!(">{field}<")).unwrap();
            assert!(
                s[at..]
                    .split("</tr>")
                    .next()
                    .unwrap()
                    .contains("not recorded"),
                "{field}: {s}"
            );
        }
        assert!(s.contains("0 (0 threads)"));
    }
}
