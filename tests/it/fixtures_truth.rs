//! Every fixture mounted for real and compared with its ground truth: PIDs and threads,
//! cmdline / environ / comm byte-equal, every maps line, the sha256 of every anonymous and shared
//! VMA through `memory/`, the README's markers found by `grep -c -F` on `mem` (fast) and at the
//! READY line's addresses, the never-touched page reading as zeros; then the independent
//! `check-mount.py`. The incremental fixture must give the same bytes as a plain dump (its VMA
//! hashes match its own truth, through the PE_PARENT chain).

use crate::common;

use common::truth::{self, CASES};
use common::{Mount, fixtures, ls, run, tree_sha256};

fn case(name: &str) {
    let Some(fx) = fixtures() else { return };
    let input = CASES.iter().find(|c| c.0 == name).unwrap().1;
    let f = truth::load(&fx, name, input);
    let before = tree_sha256(&f.input);
    let m = Mount::new(&f.input);
    truth::check_all(&m, &f, name, true);
    m.unmount();
    assert_eq!(tree_sha256(&f.input), before, "{name}: the input changed");
}

#[test]
fn secretd_plain() {
    case("secretd-plain");
}

#[test]
fn secretd_incremental() {
    case("secretd-incremental");
}

#[test]
fn secretd_shm() {
    case("secretd-shm");
}

#[test]
fn podman_busybox() {
    case("podman-busybox");
}

/// The Podman archive's rootfs-diff.tar file (README marker) shows under `rootfs/`, and its
/// metadata files under `checkpoint/`.
#[test]
fn podman_rootfs_diff_and_metadata() {
    let Some(fx) = fixtures() else { return };
    let f = truth::load(&fx, "podman-busybox", "checkpoint.tar.gz");
    let m = Mount::new(&f.input);
    let top = ls(&m.p(""));
    let ck = ls(&m.p("checkpoint"));
    for want in ["config.dump", "spec.dump"] {
        assert!(
            ck.iter().any(|n| n == want),
            "checkpoint/ lacks {want}: {ck:?}"
        );
    }
    assert!(top.iter().any(|n| n == "rootfs"), "no rootfs/ in {top:?}");
    for mk in &f.rootfs_markers {
        let o = run(&["grep", "-r", "-l", "-F", "--", mk, &m.p("rootfs")]);
        assert!(o.ok(), "{mk} not found under rootfs/: {o}");
        assert!(
            o.stdout_text().contains("data/written-at-runtime.txt"),
            "{mk} found elsewhere: {o}"
        );
    }
}
