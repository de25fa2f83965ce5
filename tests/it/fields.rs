//! `checkpoint/fields.json` against the files of the mount: every positional field it calls a
//! placeholder reads as the value it states, every `status` line is one it calls read or
//! derived, and every placeholder differs from what `/proc` showed (so a script reading the
//! file is told which numbers were never measured). On `podman-kitchen` (file mappings, a SysV
//! segment, three processes) and its ground truth.

use crate::common;

use std::path::Path;

use common::{Mount, cat, fixtures, have_fuse};
use serde_json::Value;

fn text(m: &Mount, rel: &str) -> String {
    String::from_utf8_lossy(&cat(&m.p(rel))).into_owned()
}

/// `(position, shown_as)` of the placeholders of `file`.
fn placeholders(fields: &Value, file: &str) -> Vec<(usize, String)> {
    fields["files"][file]
        .as_array()
        .unwrap_or_else(|| panic!("fields.json has no {file}"))
        .iter()
        .filter(|f| f["source"] == "placeholder")
        .map(|f| {
            let pos = f["position"]
                .as_u64()
                .expect("a placeholder has a position") as usize;
            let shown = f["shown_as"].as_str().expect("shown_as").to_string();
            (pos, shown)
        })
        .collect()
}

/// stat's fields, `comm` as one (split around its parentheses, like procps).
fn stat_fields(line: &str) -> Vec<String> {
    let open = line.find('(').expect("comm");
    let close = line.rfind(')').expect("comm");
    let mut v = vec![
        line[..open].trim().to_string(),
        line[open..=close].to_string(),
    ];
    v.extend(line[close + 1..].split_whitespace().map(String::from));
    v
}

/// The ground truth of fixture `case`, and its `input` mounted.
fn truth_and_mount(fx: &Path, case: &str, input: &str) -> (Value, Mount) {
    let dir = fx.join(case);
    (
        common::read_json(&dir.join("ground-truth.json")),
        Mount::new(&dir.join(input)),
    )
}

#[test]
fn fields_json_tells_placeholders_and_they_read_so() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let (truth, m) = truth_and_mount(&fx, "podman-kitchen", "checkpoint.tar.gz");
    let fields: Value =
        serde_json::from_slice(&cat(&m.p("checkpoint/fields.json"))).expect("fields.json is JSON");
    assert_eq!(fields["format"], "ckptfs-fields/1");

    let stat_ph = placeholders(&fields, "PID/stat");
    let names: Vec<&str> = fields["files"]["PID/stat"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["source"] == "placeholder")
        .filter_map(|f| f["field"].as_str())
        .collect();
    for must in ["minflt", "utime", "starttime", "rss"] {
        assert!(
            names.contains(&must),
            "stat {must} is a placeholder: {names:?}"
        );
    }
    let statm_ph = placeholders(&fields, "PID/statm");
    let status_src: Vec<(String, String)> = fields["files"]["PID/status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_string(),
                f["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();

    for p in truth["processes"].as_array().expect("processes") {
        let pid = common::truth::ns_pid(p);
        // stat: every placeholder reads as stated; where /proc showed something else, the
        // value was not measured, and fields.json says so.
        let ours = stat_fields(&text(&m, &format!("{pid}/stat")));
        let live = stat_fields(p["stat"].as_str().expect("truth stat"));
        assert_eq!(ours.len(), 52, "{pid}/stat");
        let mut differ = Vec::new();
        for (pos, shown) in &stat_ph {
            assert_eq!(&ours[pos - 1], shown, "{pid}/stat field {pos}");
            if live[pos - 1] != *shown {
                differ.push(*pos);
            }
        }
        // rss (24) and starttime (22) were non-zero live.
        assert!(
            differ.contains(&24) && differ.contains(&22),
            "{pid}: {differ:?}"
        );

        let statm: Vec<String> = text(&m, &format!("{pid}/statm"))
            .split_whitespace()
            .map(String::from)
            .collect();
        for (pos, shown) in &statm_ph {
            assert_eq!(&statm[pos - 1], shown, "{pid}/statm field {pos}");
        }

        // status: only lines read or derived, none that fields.json leaves out; those read
        // from the core and mm images as /proc showed them.
        let live_status = p["status"].as_str().expect("truth status");
        for key in [
            "SigPnd",
            "ShdPnd",
            "SigBlk",
            "THP_enabled",
            "NoNewPrivs",
            "Seccomp",
        ] {
            let line = |t: &str| {
                t.lines()
                    .find(|l| l.starts_with(&format!("{key}:")))
                    .map(str::to_string)
            };
            let ours = line(&text(&m, &format!("{pid}/status")));
            assert!(ours.is_some(), "{pid}/status has no {key}");
            assert_eq!(ours, line(live_status), "{pid}/status {key}");
        }
        for line in text(&m, &format!("{pid}/status")).lines() {
            let name = line.split(':').next().unwrap();
            let src = status_src
                .iter()
                .find(|(f, _)| f == name)
                .map(|(_, s)| s.as_str());
            assert!(
                matches!(src, Some("image" | "derived")),
                "{pid}/status {name}: {src:?}"
            );
        }

        // maps: the device and inode columns are the placeholders fields.json names, but the
        // inode of shared memory (SysV, shared anonymous, memfd), which is /proc's.
        let maps_ph = placeholders(&fields, "PID/maps");
        let live_maps: Vec<&str> = p["maps"]
            .as_array()
            .expect("maps")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let mut shared = 0;
        for line in text(&m, &format!("{pid}/maps")).lines() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let shmem = ["/SYSV", "/dev/zero (deleted)", "/memfd:"]
                .iter()
                .any(|s| line.contains(s));
            for (pos, shown) in &maps_ph {
                if *pos == 5 && shmem {
                    let live = live_maps
                        .iter()
                        .find(|l| l.starts_with(cols[0]))
                        .unwrap_or_else(|| panic!("{pid}: no live line for {line}"));
                    let live: Vec<&str> = live.split_whitespace().collect();
                    assert_eq!(cols[4], live[4], "{pid}/maps inode: {line}");
                    shared += 1;
                    continue;
                }
                assert_eq!(cols[pos - 1], shown, "{pid}/maps: {line}");
            }
        }
        if pid == 6 {
            // kitchen: its SysV segment (id 0) and its memfd (inode 58).
            assert!(shared >= 2, "{pid}: {shared} shared mappings");
        }
    }

    // sysvipc/shm: cpid, lpid, times, rss, swap.
    let shm_ph = placeholders(&fields, "sysvipc/shm");
    let shm = text(&m, "sysvipc/shm");
    let live = truth["sysvipc_shm"].as_str().expect("sysvipc_shm");
    let row = |t: &str| -> Vec<String> {
        t.lines()
            .nth(1)
            .expect("one segment")
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    let (ours, live) = (row(&shm), row(live));
    for (pos, shown) in &shm_ph {
        assert_eq!(&ours[pos - 1], shown, "sysvipc/shm column {pos}");
    }
    // The segment's rss (15) was non-zero live; ours is the stated placeholder.
    assert_ne!(live[14], "0");
}

/// `maps`' device and inode columns: wherever ckptfs prints more than the placeholders they are
/// what `/proc` showed, and they are printed for every mapping whose numbers the images record
/// (a ghost file: podman-implant's deleted `kworkerd`; memfd, SysV and shared anonymous memory).
#[test]
fn maps_dev_and_inode_where_recorded() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    for (case, input) in [
        ("podman-implant", "checkpoint.tar.gz"),
        ("podman-kitchen", "checkpoint.tar.gz"),
        ("secretd-shm", "images"),
    ] {
        let (truth, m) = truth_and_mount(&fx, case, input);
        let mut recorded = 0;
        for p in truth["processes"].as_array().expect("processes") {
            let pid = common::truth::ns_pid(p);
            let live: Vec<&str> = p["maps"]
                .as_array()
                .expect("maps")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            for line in text(&m, &format!("{pid}/maps")).lines() {
                let ours: Vec<&str> = line.split_whitespace().collect();
                let want: Vec<&str> = live
                    .iter()
                    .find(|l| l.starts_with(&format!("{} ", ours[0])))
                    .unwrap_or_else(|| panic!("{case} {pid}: no live line for {line}"))
                    .split_whitespace()
                    .collect();
                let kept = line.contains(" (deleted)") && !line.contains("/dev/shm/");
                if kept {
                    // Recorded: the inode always, the device for a ghost file.
                    assert_eq!(ours[4], want[4], "{case} {pid}: {line}");
                    if !line.contains("/memfd:")
                        && !line.contains("/SYSV")
                        && !line.contains("/dev/zero")
                    {
                        assert_eq!(ours[3], want[3], "{case} {pid}: {line}");
                    }
                    recorded += 1;
                } else {
                    assert_eq!((ours[3], ours[4]), ("00:00", "0"), "{case} {pid}: {line}");
                }
                if ours[3] != "00:00" {
                    assert_eq!(ours[3], want[3], "{case} {pid}: {line}");
                }
            }
        }
        assert!(
            recorded >= 2,
            "{case}: {recorded} lines with recorded numbers"
        );
    }
}

/// stat's tty_nr and tpgid: the session's terminal as tty-info.img records it. podman-implant's
/// bash runs under `script` on /dev/pts/0 (136:0, 34816), its own foreground group; the other
/// processes have no controlling terminal (`0 -1`), as `/proc` showed.
#[test]
fn stat_controlling_terminal() {
    let Some(fx) = fixtures() else { return };
    if !have_fuse() {
        return;
    }
    let (truth, m) = truth_and_mount(&fx, "podman-implant", "checkpoint.tar.gz");
    let procs = truth["processes"].as_array().expect("processes");
    // The host's PIDs of the truth, as the container's.
    let ns_of = |host: &str| -> String {
        procs
            .iter()
            .find(|p| p["host_pid"].as_u64().map(|h| h.to_string()).as_deref() == Some(host))
            .and_then(|p| p["ns_pids"].as_array()?.last()?.as_u64())
            .map_or_else(|| host.to_string(), |n| n.to_string())
    };
    let mut with_tty = 0;
    for p in procs {
        let pid = common::truth::ns_pid(p);
        let ours = stat_fields(&text(&m, &format!("{pid}/stat")));
        let live = stat_fields(p["stat"].as_str().expect("truth stat"));
        assert_eq!(ours[6], live[6], "{pid}: tty_nr");
        let live_tpgid = if live[7] == "-1" {
            "-1".to_string()
        } else {
            ns_of(&live[7])
        };
        assert_eq!(ours[7], live_tpgid, "{pid}: tpgid");
        if ours[6] != "0" {
            with_tty += 1;
        }
    }
    assert_eq!(with_tty, 1, "bash under script has a terminal");
}
