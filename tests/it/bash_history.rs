//! `PID/bash_history` through a real mount: the interactive bash of podman-implant, whose
//! history exists only in its memory (HISTFILE=/dev/null), read with `cat`.

use std::path::Path;

use crate::common;

use common::{Mount, cat, fixtures};
use serde_json::Value;

/// Every entry the fixture's expected.json lists, in order, each after its `#<seconds>` line;
/// no other process (dash, sh, script, ...) has the file.
#[test]
fn podman_implant_interactive_bash() {
    let Some(fx) = fixtures() else { return };
    let dir = fx.join("podman-implant");
    let expected: Value = common::read_json(&dir.join("expected.json"));
    let h = &expected["findings"]["bash_history"];
    let pid = h["pid"].as_u64().unwrap();
    let entries = h["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 6);
    let mut want = String::new();
    for e in entries {
        want.push_str(&format!(
            "#{}\n{}\n",
            e["epoch"].as_u64().unwrap(),
            e["line"].as_str().unwrap()
        ));
    }
    // The export and the checkpoint image (a second, consecutive dump of the frozen container).
    for input in ["checkpoint.tar.gz", "ckimg.oci.tar"] {
        let m = Mount::new(&dir.join(input));
        let got = String::from_utf8(cat(&m.p(format!("{pid}/bash_history")))).unwrap();
        assert_eq!(got, want, "{input}");
        let with_file: Vec<u64> = expected["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pid"].as_u64().unwrap())
            .filter(|p| Path::new(&m.p(format!("{p}/bash_history"))).exists())
            .collect();
        assert_eq!(with_file, [pid], "{input}");
    }
}
