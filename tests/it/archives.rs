//! Every fixture re-packed (with the tar / flate2 / zstd crates) as `.tar`, `.tar.gz` and
//! `.tar.zst`, both as a bare image directory and in the Podman layout (`checkpoint/` +
//! `config.dump` / `spec.dump`; the incremental chain with its `parent` links and the parent
//! dumps beside it), mounted, and held to the same truth checks as the fixtures themselves.

use crate::common;

use common::archive::{self, Comp, Form};
use common::truth::{self, CASES, Checker, Failures};
use common::{Mount, TempDir, fixtures, ls, tree_sha256};

fn all_forms(name: &str) {
    let Some(fx) = fixtures() else { return };
    let input = CASES.iter().find(|c| c.0 == name).unwrap().1;
    let f = truth::load(&fx, name, input);
    let staging = TempDir::new("arch");
    let mut failures = Failures::default();
    for form in [Form::Bare, Form::Podman] {
        for comp in [Comp::None, Comp::Gzip, Comp::Zstd] {
            let label = format!("{name} {form:?} .{}", comp.ext());
            let a = archive::build(&f, &staging, form, comp);
            let before = tree_sha256(&a);
            let Some(m) = failures.mount(&label, &a, &[]) else {
                continue;
            };
            let mut c = Checker::new(&label);
            truth::check_tree(&m, &f, &mut c);
            if form == Form::Podman {
                let ck = ls(&m.p("checkpoint"));
                for want in ["config.dump", "spec.dump"] {
                    c.check(ck.iter().any(|n| n == want), || {
                        format!("checkpoint/ lacks {want}: {ck:?}")
                    });
                }
            }
            drop(m);
            c.check(tree_sha256(&a) == before, || "the archive changed".into());
            failures.add(c);
        }
    }
    failures.finish();
}

#[test]
fn secretd_plain_archives() {
    all_forms("secretd-plain");
}

#[test]
fn secretd_incremental_archives() {
    all_forms("secretd-incremental");
}

#[test]
fn secretd_shm_archives() {
    all_forms("secretd-shm");
}

#[test]
fn podman_busybox_archives() {
    all_forms("podman-busybox");
}

/// The input's sha256 is computed after the mount is ready, not before. Whenever it
/// is read, `checkpoint/info.json` of a `.tar.zst` mount gives the same sha256 as `sha256sum` of
/// the archive (its reader waits for it), and its size is the size of what it shows; once the
/// daemon is gone, the cache entry records the same hash.
#[test]
fn tar_zst_info_json_has_the_sha256_of_the_archive() {
    let Some(fx) = fixtures() else { return };
    if !common::have_fuse() {
        return;
    }
    let name = "secretd-plain";
    let input = CASES.iter().find(|c| c.0 == name).unwrap().1;
    let f = truth::load(&fx, name, input);
    let staging = TempDir::new("arch-sha");
    let a = archive::build(&f, &staging, Form::Podman, Comp::Zstd);
    let want = common::sha256sum(&a.to_string_lossy());
    let m = Mount::new(&a);
    let info = m.p("checkpoint/info.json");
    // The size first (a lookup renders the file), then the bytes.
    let size: u64 = common::stat("%s", &info).parse().unwrap();
    let text = String::from_utf8(common::cat(&info)).unwrap();
    assert_eq!(size, text.len() as u64, "info.json's size vs its bytes");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["source"]["kind"], "tar.zst", "{text}");
    assert_eq!(v["source"]["sha256"], want.as_str(), "{text}");
    let pid = m.daemon_pid();
    let cache = m.cache_dir();
    m.unmount();
    common::wait_until("the daemon to exit", 60, || !common::pid_alive(pid));
    let out = common::run_ok(&[
        common::ckptfs(),
        "cache",
        "list",
        "--format",
        "json",
        "--cache-dir",
        &cache.to_string_lossy(),
    ]);
    let j: serde_json::Value = serde_json::from_str(&out.stdout_text()).unwrap();
    let entries = j["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{j}");
    assert_eq!(entries[0]["state"], "ok", "{j}");
    assert_eq!(entries[0]["input_sha256"], want.as_str(), "{j}");
}
