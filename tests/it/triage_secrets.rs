//! Triage's credentials in process memory (`mem-credential`) and shell history rules (`hist-*`)
//! on the real fixtures, read through a real mount and checked against each fixture's own facts:
//! podman-implant's expected.json (heap credentials with their addresses, history entries with
//! their times), the bytes at each reported address in `PID/mem`, and the credentials the other
//! fixtures really hold (their READMEs).

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::common;

use common::{Mount, cat, fixtures};

fn triage(m: &Mount) -> String {
    String::from_utf8(cat(&m.p("triage"))).expect("triage is UTF-8")
}

/// `len` bytes of `PID/mem` at `addr`, as `xxd -s ADDR -l LEN PID/mem` reads them.
fn mem(m: &Mount, pid: u32, addr: u64, len: usize) -> Vec<u8> {
    let f = File::open(m.join(format!("{pid}/mem"))).expect("open PID/mem");
    let mut b = vec![0u8; len];
    f.read_exact_at(&mut b, addr).expect("read PID/mem");
    b
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("a hex address")
}

/// The finding lines with this tag: (pid, where, the rest after the tag).
fn tagged<'a>(t: &'a str, tag: &str) -> Vec<(u32, &'a str, &'a str)> {
    let mark = format!(" {tag}: ");
    t.lines()
        .filter_map(|l| {
            let (head, rest) = l.split_once(&mark)?;
            let mut w = head.strip_prefix("PID ")?.split(' ');
            let pid = w.next()?.parse().ok()?;
            Some((pid, w.next()?, rest))
        })
        .collect()
}

#[test]
fn podman_implant_heap_credentials_and_history() {
    let Some(fx) = fixtures() else { return };
    let dir = fx.join("podman-implant");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let m = Mount::new(&dir.join("checkpoint.tar.gz"));
    let t = triage(&m);
    eprintln!("{t}");

    // Heap credentials: one finding per value, at its first copy, every copy listed, the value
    // never shown whole.
    let hc = &expected["findings"]["heap_credentials"];
    let pid = hc["pid"].as_u64().unwrap() as u32;
    let creds = tagged(&t, "mem-credential");
    let kinds = [
        ("aws_access_key_id", "AWS access key id"),
        ("aws_secret_access_key", "AWS secret access key"),
        ("jwt", "JWT"),
    ];
    assert_eq!(creds.len(), kinds.len(), "{t}");
    for (key, kind) in kinds {
        let value = hc[key].as_str().unwrap();
        let addrs: Vec<u64> = hc["addresses"][value]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| hex(a.as_str().unwrap()))
            .collect();
        let (p, at, what) = creds
            .iter()
            .find(|c| c.2.contains(&format!("] {kind} in memory: ")))
            .unwrap_or_else(|| panic!("no {kind} finding:\n{t}"));
        assert_eq!(*p, pid, "{what}");
        assert_eq!(hex(at), addrs[0], "{what}");
        let list: Vec<String> = addrs.iter().map(|a| format!("{a:x}")).collect();
        assert!(
            what.ends_with(&format!(
                "in {} rw-p [heap], {} copies: {}",
                hc["heap_vma"].as_str().unwrap().replace("0x", ""),
                addrs.len(),
                list.join(", ")
            )),
            "{what}"
        );
        let shown = format!(
            "{}...{} ({} chars)",
            &value[..4],
            &value[value.len() - 2..],
            value.len()
        );
        assert!(what.contains(&shown), "{what}");
        assert!(!t.contains(value), "{value} shown whole");
        for a in addrs {
            assert_eq!(mem(&m, pid, a, value.len()), value.as_bytes(), "{a:x}");
        }
    }

    // Shell history: the flagged entries at their times; the HIST_ENTRY at each address points
    // at the command's line.
    let bh = &expected["findings"]["bash_history"];
    let bash = bh["pid"].as_u64().unwrap() as u32;
    let flagged = [
        (2, "hist-credential-file", "weak"),
        (3, "hist-download-exec", "strong"),
        (4, "hist-credential-export", "weak"),
        (5, "hist-persistence", "strong"),
    ];
    let mut seen = 0;
    for e in bh["entries"].as_array().unwrap() {
        let n = e["n"].as_u64().unwrap();
        let line = e["line"].as_str().unwrap();
        let time = e["time"].as_str().unwrap().replace(' ', "T") + "Z";
        let hits: Vec<&str> = t
            .lines()
            .filter(|l| l.contains(&format!("history entry of {time}: ")))
            .collect();
        let Some(&(_, tag, strength)) = flagged.iter().find(|f| f.0 == n) else {
            assert!(hits.is_empty(), "entry {n} ({line}) flagged: {hits:?}");
            continue;
        };
        assert_eq!(hits.len(), 1, "entry {n}: {hits:?}");
        let (p, at, what) = tagged(hits[0], tag)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("entry {n} not {tag}: {}", hits[0]));
        assert_eq!(p, bash);
        assert!(what.starts_with(&format!("[{strength}] ")), "{what}");
        let ptr = u64::from_le_bytes(mem(&m, bash, hex(at), 8).try_into().unwrap());
        assert_eq!(
            mem(&m, bash, ptr, line.len() + 1),
            [line.as_bytes(), &[0]].concat()
        );
        seen += 1;
    }
    assert_eq!(seen, flagged.len());
    // The exported credential is quoted redacted.
    assert!(
        t.contains(": export SECRET_TOKEN=IMPL...s2 (32 chars) ("),
        "{t}"
    );
    assert!(!t.contains("IMPLANT-HIST-SECRETTOKEN"), "{t}");

    // HISTFILE=/dev/null in the environment of the two shells that have it (bash, and the
    // reverse shell's sh), at the string's address.
    let off = tagged(&t, "hist-tamper");
    let pids: Vec<u32> = off.iter().map(|o| o.0).collect();
    assert_eq!(pids, [13, bash], "{t}");
    for (p, at, what) in off {
        assert_eq!(
            what,
            "[weak] history switched off in environ: HISTFILE=/dev/null"
        );
        assert_eq!(mem(&m, p, hex(at), 19), b"HISTFILE=/dev/null\0");
    }
}

/// The other fixtures raise a memory credential only where they hold one: podman-redis keeps a
/// (fake) RSA private key in a hash field, twice in redis-server's memory, in both dumps; its
/// AWS-style id `AKIAR5KREDISFX0R5K` (18 characters) and `sk_live_s40Q2w8Y6` (9 after the prefix)
/// are not in those formats. The secretd fixtures' planted secrets are markers, not credentials
/// of a known format; busybox's and kitchen's are in the environment (`env-credential`). None has
/// a bash history.
#[test]
fn other_fixtures_hold_what_they_hold() {
    let Some(fx) = fixtures() else { return };
    let pem = "-----BEGIN RSA PRIVATE KEY-----\n";
    for (input, want) in [
        ("podman-busybox/checkpoint.tar.gz", 0),
        ("podman-kitchen/checkpoint.tar.gz", 0),
        ("podman-redis/checkpoint.tar.zst", 1),
        ("podman-redis/checkpoint2.tar.gz", 1),
        ("secretd-plain/images", 0),
        ("secretd-shm/images", 0),
        ("secretd-incremental/images/dump", 0),
    ] {
        let m = Mount::new(&fx.join(input));
        let t = triage(&m);
        assert!(!t.contains(" hist-"), "{input}:\n{t}");
        let creds = tagged(&t, "mem-credential");
        assert_eq!(creds.len(), want, "{input}:\n{t}");
        for (pid, at, what) in creds {
            assert_eq!(pid, 7, "{what}");
            assert!(
                what.starts_with("[weak] private key in memory: -----BEGIN RSA PRIVATE KEY----- ("),
                "{what}"
            );
            assert!(what.contains(", 2 copies: "), "{what}");
            let addrs = what.rsplit_once("copies: ").unwrap().1.split(", ");
            for a in std::iter::once(at).chain(addrs) {
                assert_eq!(mem(&m, pid, hex(a), pem.len()), pem.as_bytes(), "{a}");
            }
        }
        assert!(!t.contains("REDISFXs4FAKEPEMKEY"), "{t}");
    }
}
