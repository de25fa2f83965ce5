//! Every fixture re-packed (with the tar / flate2 / zstd crates) as `.tar`, `.tar.gz` and
//! `.tar.zst`, both as a bare image directory and in the Podman layout (`checkpoint/` +
//! `config.dump` / `spec.dump`; the incremental chain with its `parent` links and the parent
//! dumps beside it), mounted, and held to the same truth checks as the fixtures themselves.

use crate::common;

use common::archive::{self, Comp, Form};
use common::truth::{self, CASES, Checker};
use common::{Mount, TempDir, fixtures, ls, tree_sha256};

fn all_forms(name: &str) {
    let Some(fx) = fixtures() else { return };
    let input = CASES.iter().find(|c| c.0 == name).unwrap().1;
    let f = truth::load(&fx, name, input);
    let staging = TempDir::new("arch");
    let mut failures = Vec::new();
    for form in [Form::Bare, Form::Podman] {
        for comp in [Comp::None, Comp::Gzip, Comp::Zstd] {
            let label = format!("{name} {form:?} .{}", comp.ext());
            let a = archive::build(&f, &staging, form, comp);
            let before = tree_sha256(&a);
            let m = match Mount::with_args(&a, &[]) {
                Ok(m) => m,
                Err(o) => {
                    failures.push(format!("{label}: mount failed: {o}"));
                    continue;
                }
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
            eprintln!("{label}: {} checks passed, {} failed", c.ok, c.fails.len());
            failures.extend(c.fails.iter().map(|x| format!("{label}: {x}")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
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
