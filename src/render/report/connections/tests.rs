use super::graph::{BOTH, Graph, Kind, MAX_OBJECTS, Object};
use super::svg::{CHAR_W10, P_W, fit};
use super::*;
use crate::model::test_util::{load_path, load_written};
use crate::render::report::testutil::luminance;
use crate::source::test_util::fixtures;
use crate::writer::{CheckpointWriter, File, Vma as WVma};

/// A fixture's checkpoint.tar.gz, loaded; None (skipped) when the fixtures are absent.
fn load_fixture(case: &str) -> Option<Checkpoint> {
    Some(load_path(&fixtures()?.join(case).join("checkpoint.tar.gz")))
}

fn process(w: &mut CheckpointWriter, pid: u32, ppid: u32, comm: &str) {
    w.process(pid, ppid)
        .comm(comm)
        .cmdline(&[comm])
        .exe("/usr/bin/app")
        .file_vma(0x40_0000, 0x1000, "/usr/bin/app", 0, 1 | 4)
        .vma(WVma::anon(0x7000_0000_0000, 0x2000));
}

fn unix(ino: u32, peer: u32) -> File {
    File::Unix {
        sock_type: libc::SOCK_STREAM as u32,
        state: 1,
        name: Vec::new(),
        peer,
        ino,
    }
}

/// The holds of `o` as (PID, fds, role), for comparing.
fn held(o: &Object) -> Vec<(u32, Vec<u32>, &'static str)> {
    o.holds
        .iter()
        .map(|h| (h.pid, h.fds.clone(), h.role))
        .collect()
}

/// The one object that `pid` holds on `fd`.
fn on(g: &Graph, pid: u32, fd: u32) -> &Object {
    let found: Vec<&Object> = g
        .objects
        .iter()
        .filter(|o| o.holds.iter().any(|h| h.pid == pid && h.fds.contains(&fd)))
        .collect();
    assert_eq!(found.len(), 1, "PID {pid} fd {fd}: {:?}", g.objects);
    found[0]
}

fn peer_of<'a>(g: &'a Graph, o: &Object) -> Option<&'a str> {
    o.peer.map(|p| g.peers[p].label.as_str())
}

/// Every `href` / `src` of the fragment is an anchor of the fragment itself.
fn self_contained(html: &str) {
    assert!(!html.contains("http"), "{html}");
    assert!(!html.contains("src="), "{html}");
    for part in html.split("href=\"").skip(1) {
        let target = part.split('"').next().unwrap();
        let anchor = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{target}"));
        assert!(
            html.contains(&format!("id=\"{anchor}\"")),
            "no element {anchor}"
        );
    }
}

fn writer_case() -> CheckpointWriter {
    let mut w = CheckpointWriter::new();
    process(&mut w, 1, 0, "app");
    process(&mut w, 2, 1, "<b>evil</b>");
    w.process(1, 0)
        .fd(1, File::pipe(7, true))
        .fd(3, File::tcp_listen(8080))
        .fd(
            4,
            File::tcp_established([10, 0, 0, 2], 40000, [203, 0, 113, 7], 443),
        )
        .fd(5, unix(900, 901))
        .fd(
            8,
            File::tcp_established([127, 0, 0, 1], 8081, [127, 0, 0, 1], 5000),
        );
    w.process(2, 1)
        .fd(0, File::pipe(7, false))
        .fd(1, File::pipe(8, true))
        .fd(2, File::pipe(8, true))
        .fd(6, unix(901, 900))
        .fd(
            7,
            File::tcp_established([127, 0, 0, 1], 5000, [127, 0, 0, 1], 8081),
        )
        .fd(9, File::udp(53))
        .fd(10, unix(902, 999))
        .fd(11, File::unix_listen(b"/tmp/<i>\"x'.sock\0"));
    w
}

/// Both ends joined when the checkpoint holds both; peers outside it drawn as peers; pipe ends
/// by access mode; what has no other end in the checkpoint says so.
#[test]
fn objects_joined_and_peers_from_a_writer_made_checkpoint() {
    let ck = load_written(&writer_case());
    let g = Graph::of(&ck);
    assert_eq!(
        g.procs,
        [(1, "app".to_string()), (2, "<b>evil</b>".to_string())]
    );

    let pipe = on(&g, 1, 1);
    assert_eq!(
        (pipe.kind, pipe.label.as_str(), pipe.other.as_str()),
        (Kind::Pipe, "pipe:[7]", BOTH)
    );
    assert_eq!(held(pipe), [(1, vec![1], "write"), (2, vec![0], "read")]);
    let lonely = on(&g, 2, 1);
    assert_eq!(held(lonely), [(2, vec![1, 2], "write")]);
    assert_eq!(lonely.other, "read end: no process of the checkpoint");

    let listen = on(&g, 1, 3);
    assert_eq!(
        (listen.kind, listen.label.as_str(), listen.state.as_str()),
        (Kind::Tcp, "0.0.0.0:8080", "LISTEN")
    );
    assert_eq!((listen.other.as_str(), listen.peer), ("listening", None));

    let out = on(&g, 1, 4);
    assert_eq!(out.label, "10.0.0.2:40000 → 203.0.113.7:443");
    assert_eq!(peer_of(&g, out), Some("203.0.113.7:443"));

    let tcp = on(&g, 1, 8);
    assert_eq!(held(tcp), [(1, vec![8], ""), (2, vec![7], "")]);
    assert_eq!((tcp.peer, tcp.other.as_str()), (None, BOTH));
    assert!(
        tcp.label.contains("127.0.0.1:8081") && tcp.label.contains("127.0.0.1:5000"),
        "{tcp:?}"
    );

    let pair = on(&g, 1, 5);
    assert_eq!(held(pair), [(1, vec![5], ""), (2, vec![6], "")]);
    assert_eq!(pair.kind, Kind::Unix);
    assert_eq!(pair.label, "stream socket:[900] ⇄ socket:[901]");
    assert_eq!(pair.peer, None);

    let half = on(&g, 2, 10);
    assert_eq!(peer_of(&g, half), Some("unix socket:[999]"));
    assert_eq!(half.other, "unix socket:[999]: not in the checkpoint");

    let udp = on(&g, 2, 9);
    assert_eq!(
        (udp.kind, udp.label.as_str(), udp.state.as_str()),
        (Kind::Udp, "0.0.0.0:53", "unconnected")
    );

    let named = on(&g, 2, 11);
    assert_eq!(
        (named.label.as_str(), named.other.as_str()),
        ("stream /tmp/<i>\"x'.sock", "listening")
    );

    // Two peers outside, each once; nine objects.
    assert_eq!(g.peers.len(), 2, "{:?}", g.peers);
    assert_eq!(g.objects.len(), 9, "{:?}", g.objects);
}

/// The fragment: a node and a table row per object, each node linking to its row; every text
/// escaped; nothing outside itself referenced.
#[test]
fn graph_and_table_hold_the_same_facts() {
    let ck = load_written(&writer_case());
    let g = Graph::of(&ck);
    let html = connections(&ck);
    self_contained(&html);
    assert!(!html.contains("<b>evil"), "{html}");
    assert!(!html.contains("<i>") && !html.contains("x'.sock"), "{html}");
    assert!(html.contains("/tmp/&lt;i&gt;&quot;x&#39;.sock"), "{html}");
    assert!(html.contains("PID 2 &lt;b&gt;evil&lt;/b&gt;"), "{html}");
    assert_eq!(html.matches("<svg").count(), 1);
    assert_eq!(html.matches("class=\"conn-process\"").count(), 2);
    assert_eq!(
        html.matches("class=\"conn-object\"").count(),
        g.objects.len()
    );
    assert_eq!(html.matches("class=\"conn-peer\"").count(), 2);
    for n in 1..=g.objects.len() {
        assert!(html.contains(&format!("<tr id=\"conn-o{n}\">")), "{n}");
        assert!(html.contains(&format!("href=\"#conn-o{n}\"")), "{n}");
    }
    assert!(html.contains("PID 1 (app) fd 4: 10.0.0.2:40000 socket:["));
    assert!(html.contains("203.0.113.7:443: no socket of the checkpoint"));
    assert!(html.contains("fd 0 read"));
    // One edge per hold and one per peer.
    let holds: usize = g.objects.iter().map(|o| o.holds.len()).sum();
    assert_eq!(html.matches("<path ").count(), holds + 2);
    // Another prefix changes every id.
    let other = connections_in(&ck, "ck2-conn");
    self_contained(&other);
    assert!(!other.contains("id=\"conn-"), "{other}");
    assert!(other.contains("<tr id=\"ck2-conn-o1\">"));
}

/// Long labels are cut to their box, with an ellipsis, and never cut inside an escape.
#[test]
fn labels_fit_their_boxes() {
    let long = "<".repeat(200);
    let cut = fit(&long, P_W);
    assert!(cut.ends_with('…'), "{cut}");
    assert_eq!(cut.matches("&lt;").count(), cut.chars().count() / 4);
    let shown = (P_W - 12) * 10 / CHAR_W10;
    assert_eq!(cut.matches("&lt;").count() as u32, shown - 1);
    assert_eq!(fit("PID 1 app", P_W), "PID 1 app");
}

/// The kinds' fills stay apart on a greyscale printer, and their text is readable on them
/// (contrast at least 4.5:1).
#[test]
fn kinds_differ_in_lightness() {
    let mut l: Vec<f64> = Kind::ALL.iter().map(|k| luminance(k.fill())).collect();
    l.sort_by(f64::total_cmp);
    for pair in l.windows(2) {
        assert!(pair[1] - pair[0] >= 0.05, "{l:?}");
    }
    for k in Kind::ALL {
        let (a, b) = (luminance(k.fill()), luminance(k.ink()));
        let contrast = (a.max(b) + 0.05) / (a.min(b) + 0.05);
        assert!(contrast >= 4.5, "{k:?}: {contrast}");
    }
}

/// podman-implant: the C2 listener's two connections joined with the implant and the reverse
/// shell, the listener, `script`'s pseudo-terminal with bash, the pipe from sleep to script, and
/// the runtime's log pipes (read end outside the container).
#[test]
fn podman_implant_c2_and_reverse_shell() {
    let Some(ck) = load_fixture("podman-implant") else {
        return;
    };
    let g = Graph::of(&ck);
    let shell = on(&g, 13, 0);
    assert_eq!(shell.kind, Kind::Tcp);
    assert_eq!(held(shell), [(6, vec![5], ""), (13, vec![0, 1, 2], "")]);
    assert_eq!(shell.other, BOTH);
    assert!(
        shell.label.contains("127.0.0.1:4444") && shell.label.contains("127.0.0.1:53678"),
        "{shell:?}"
    );
    let implant = on(&g, 11, 4);
    assert_eq!(held(implant), [(6, vec![4], ""), (11, vec![4], "")]);
    let listen = on(&g, 6, 3);
    assert_eq!(
        (listen.label.as_str(), listen.state.as_str()),
        ("127.0.0.1:4444", "LISTEN")
    );
    let pty = on(&g, 17, 0);
    assert_eq!(pty.kind, Kind::Pty);
    assert_eq!(
        held(pty),
        [
            (15, vec![3], "master"),
            (15, vec![4], "slave"),
            (17, vec![0, 1, 2, 255], "slave")
        ]
    );
    let pipe = on(&g, 15, 0);
    assert_eq!(held(pipe), [(14, vec![1], "write"), (15, vec![0], "read")]);
    let log = on(&g, 1, 1);
    assert_eq!(log.other, "read end: no process of the checkpoint");
    assert!(g.peers.is_empty(), "{:?}", g.peers);
    let html = connections(&ck);
    self_contained(&html);
    for p in &ck.processes {
        assert!(
            html.contains(&format!("PID {} {}", p.pid, esc(&p.comm))),
            "{}",
            p.pid
        );
    }
}

/// podman-kitchen: two unix socket pairs across the parent and child (one accepted on
/// /tmp/kitchen.sock), the listener, a TCP connection over loopback, a pipe with both ends in
/// one process, and the FIFO.
#[test]
fn podman_kitchen_pipes_and_unix_pairs() {
    let Some(ck) = load_fixture("podman-kitchen") else {
        return;
    };
    let g = Graph::of(&ck);
    let pair = on(&g, 6, 13);
    assert_eq!(pair.kind, Kind::Unix);
    assert_eq!(held(pair), [(6, vec![13], ""), (7, vec![14], "")]);
    assert_eq!(pair.other, BOTH);
    let accepted = on(&g, 7, 3);
    assert_eq!(held(accepted), [(6, vec![14], ""), (7, vec![3], "")]);
    assert!(accepted.label.contains("/tmp/kitchen.sock"), "{accepted:?}");
    let listen = on(&g, 6, 15);
    assert_eq!(
        (listen.label.as_str(), listen.other.as_str()),
        ("stream /tmp/kitchen.sock", "listening")
    );
    let tcp = on(&g, 6, 19);
    assert_eq!(held(tcp), [(6, vec![19], ""), (7, vec![4], "")]);
    let pipe = on(&g, 6, 4);
    assert_eq!(pipe.kind, Kind::Pipe);
    assert_eq!(held(pipe), [(6, vec![4], "read"), (6, vec![5], "write")]);
    assert_eq!(pipe.other, BOTH);
    let fifo = on(&g, 6, 6);
    assert_eq!(fifo.kind, Kind::Fifo);
    assert!(
        fifo.label.starts_with("/tmp/kitchen.fifo (inode "),
        "{fifo:?}"
    );
    assert_eq!(fifo.holds.len(), 2, "{fifo:?}");
    assert!(g.peers.is_empty(), "{:?}", g.peers);
    self_contained(&connections(&ck));
}

/// Bounded: at most MAX_OBJECTS objects, the page says how many there are; processes that hold
/// nothing are left out of the graph (the processes section lists them).
#[test]
fn objects_are_capped_and_idle_processes_left_out() {
    let mut w = CheckpointWriter::new();
    process(&mut w, 1, 0, "many");
    process(&mut w, 2, 1, "idle");
    for i in 0..=MAX_OBJECTS as u32 {
        w.process(1, 0).fd(3 + i, File::pipe(100 + i, true));
    }
    let ck = load_written(&w);
    let g = Graph::of(&ck);
    assert_eq!(
        (g.objects.len(), g.total_objects),
        (MAX_OBJECTS, MAX_OBJECTS + 1)
    );
    assert_eq!((g.procs.len(), g.total_procs), (1, 2));
    let html = connections(&ck);
    assert!(
        html.contains(&format!(
            "The first {MAX_OBJECTS} of {} rows are shown",
            MAX_OBJECTS + 1
        )),
        "{}",
        &html[html.len() - 400..]
    );
    assert!(html.contains("1 of 2 processes hold 1001 pipes"));
    assert!(!html.contains("PID 2 idle"));
}

/// The page's section: one heading, an h3 per checkpoint when there are several, ids prefixed
/// per input, processes linked to their rows in the processes section.
#[test]
fn the_section_of_two_checkpoints() {
    let a = load_written(&writer_case());
    let b = load_written(&writer_case());
    let input = |ck| super::super::Input {
        label: "in<put>".into(),
        ck,
        triage: Vec::new(),
        scan: Vec::new(),
        changed: Vec::new(),
    };
    let r = super::super::Report {
        inputs: vec![input(&a), input(&b)],
        failed: Vec::new(),
        command: "ckptfs report".into(),
        made: None,
        changes: Vec::new(),
        scanned: false,
    };
    let s = section(&r);
    assert!(s.starts_with("<section id=\"connections\">\n<h2>Connections</h2>\n"));
    assert_eq!(s.matches("<h2>").count(), 1);
    assert!(s.contains("<h3 id=\"connections-1\">Checkpoint 1: in&lt;put&gt;</h3>"));
    assert!(s.contains("<h3 id=\"connections-2\">Checkpoint 2: in&lt;put&gt;</h3>"));
    // Every id once.
    let ids: Vec<&str> = s
        .split(" id=\"")
        .skip(1)
        .map(|x| x.split('"').next().unwrap())
        .collect();
    let unique: std::collections::HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "{ids:?}");
    for p in ["", "c1-"] {
        assert!(s.contains(&format!("<tr id=\"{p}conn-o1\">")), "{p}");
        assert!(s.contains(&format!("href=\"#{p}conn-o1\"")), "{p}");
        assert!(
            s.contains(&format!("<a href=\"#{p}proc-2\" class=\"conn-process\">")),
            "{p}"
        );
        assert!(
            s.contains(&format!("<a href=\"#{p}proc-2\">PID 2</a> (&lt;b&gt;evil")),
            "{p}"
        );
    }
    // One checkpoint: no h3.
    let one = super::super::Report {
        inputs: vec![input(&a)],
        ..r
    };
    assert!(!section(&one).contains("<h3"));
}

/// podman-implant's section with its triage: the reverse shell's and the implant's connections
/// carry their findings (linked to their rows, the node outlined and flagged); the pipes carry
/// none.
#[test]
fn podman_implant_findings_on_their_sockets() {
    let Some(ck) = load_fixture("podman-implant") else {
        return;
    };
    let triage = crate::render::triage::findings(&ck);
    let number = |tag: &str, pid: u32| {
        1 + triage
            .iter()
            .position(|f| f.tag == tag && f.pid == Some(pid))
            .unwrap_or_else(|| panic!("no {tag} for {pid}"))
    };
    let (rs, c2) = (number("reverse-shell", 13), number("c2-connection", 11));
    let r = super::super::Report {
        inputs: vec![super::super::Input {
            label: "checkpoint.tar.gz".into(),
            ck: &ck,
            triage,
            scan: Vec::new(),
            changed: Vec::new(),
        }],
        failed: Vec::new(),
        command: "ckptfs report".into(),
        made: None,
        changes: Vec::new(),
        scanned: false,
    };
    let s = section(&r);
    let g = Graph::of(&ck);
    let row = |pid: u32, fd: u32| {
        let o = on(&g, pid, fd);
        let n = 1 + g.objects.iter().position(|x| std::ptr::eq(x, o)).unwrap();
        let at = s.find(&format!("<tr id=\"conn-o{n}\">")).unwrap();
        s[at..at + s[at..].find("</tr>").unwrap()].to_string()
    };
    let shell = row(13, 0);
    assert!(
        shell.contains(&format!("<a href=\"#finding-{rs}\">#{rs}</a> <span class=\"s-strong\">strong</span> reverse-shell")),
        "{shell}"
    );
    assert!(row(11, 4).contains(&format!("href=\"#finding-{c2}\"")));
    assert!(!row(15, 0).contains("finding-"), "{}", row(15, 0));
    // Flagged nodes: the reverse shell's and the implant's connections.
    assert_eq!(s.matches("⚑").count(), 2, "{s}");
    assert!(s.contains(&format!("finding #{rs} reverse-shell")));
}
