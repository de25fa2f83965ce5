use super::*;
use crate::model::test_util::load_written;
use crate::writer::{CheckpointWriter, Vma as WVma};

const HEAP: u64 = 0x5555_5555_0000;
const LEN: u64 = 0x4000;

/// A heap being laid out as malloc would: strings and structs at 16-byte aligned offsets.
struct Heap {
    bytes: Vec<u8>,
    next: usize,
}

impl Heap {
    fn new() -> Heap {
        Heap {
            bytes: vec![0; LEN as usize],
            next: 0x10,
        }
    }
    /// Allocates `b`, returns its address.
    fn put(&mut self, b: &[u8]) -> u64 {
        let at = self.next;
        self.bytes[at..at + b.len()].copy_from_slice(b);
        // A chunk header's worth of room, 16-byte aligned.
        self.next = (at + b.len() + 0x10 + 15) & !15;
        HEAP + at as u64
    }
    fn string(&mut self, s: &str) -> u64 {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.put(&b)
    }
    fn words(&mut self, w: &[u64]) -> u64 {
        let b: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.put(&b)
    }
    /// One HIST_ENTRY { line, timestamp, data }.
    fn entry(&mut self, line: &str, time: u64) -> u64 {
        let l = self.string(line);
        let t = self.string(&format!("#{time}"));
        self.words(&[l, t, 0])
    }
}

fn bash(w: &mut CheckpointWriter, pid: u32, comm: &str, exe: &str, heap: &Heap) {
    w.process(pid, 0)
        .comm(comm)
        .cmdline(&[comm, "-i"])
        .exe(exe)
        .vma(WVma::heap(HEAP, LEN))
        .pages(HEAP, &heap.bytes);
}

/// Three entries allocated in one order and listed by the history array in another: the array's
/// order, each with its time, written as HISTFILE with `#<seconds>` lines.
#[test]
fn entries_in_the_history_arrays_order_with_their_times() {
    let mut h = Heap::new();
    let b = h.entry("cat /etc/shadow", 1_796_495_202);
    let a = h.entry("id", 1_796_495_200);
    let c = h.entry("for i in 1 2; do\necho $i\ndone", 1_796_495_204);
    // the_history: NULL-terminated.
    h.words(&[a, b, c, 0]);
    let mut w = CheckpointWriter::new();
    bash(&mut w, 7, "bash", "/usr/bin/bash", &h);
    let ck = load_written(&w);
    let p = &ck.processes[0];
    assert!(is_bash(p));
    let e = recover(p);
    let lines: Vec<&[u8]> = e.iter().map(|e| e.line.as_slice()).collect();
    assert_eq!(
        lines,
        [
            &b"id"[..],
            b"cat /etc/shadow",
            b"for i in 1 2; do\necho $i\ndone"
        ]
    );
    assert_eq!(e[0].addr, a);
    assert_eq!(
        String::from_utf8(histfile(&e)).unwrap(),
        "#1796495200\nid\n#1796495202\ncat /etc/shadow\n#1796495204\nfor i in 1 2; do\necho $i\ndone\n"
    );
}

/// What is not an entry: a timestamp string nobody points to, a freed entry (malloc's links over
/// its first two words), a pointer to a timestamp after a pointer to binary bytes. Without the
/// array the entries are in time order.
#[test]
fn lookalikes_are_not_entries_and_no_array_means_time_order() {
    let mut h = Heap::new();
    h.string("#1700000000");
    let freed = h.entry("rm -rf /tmp/x", 1_700_000_001);
    let junk = h.put(&[0x01, 0x02, 0xff, 0]);
    let t = h.string("#1700000002");
    h.words(&[junk, t, 0]);
    let late = h.entry("echo late", 1_700_000_009);
    let early = h.entry("echo early", 1_700_000_003);
    let mut w = CheckpointWriter::new();
    // The freed entry: tcache next pointer and key where line and timestamp were.
    let off = (freed - HEAP) as usize;
    h.bytes[off..off + 16].copy_from_slice(&[0x11; 16]);
    bash(&mut w, 7, "bash", "/bin/bash", &h);
    let ck = load_written(&w);
    let e = recover(&ck.processes[0]);
    let got: Vec<(&[u8], Option<u64>, u64)> = e
        .iter()
        .map(|e| (e.line.as_slice(), e.time, e.addr))
        .collect();
    assert_eq!(
        got,
        [
            (&b"echo early"[..], Some(1_700_000_003), early),
            (&b"echo late"[..], Some(1_700_000_009), late)
        ]
    );
}

/// bash is known by its comm or its executable; other shells get nothing.
#[test]
fn only_bash() {
    let mut h = Heap::new();
    let a = h.entry("id", 1_796_495_200);
    h.words(&[a, 0]);
    let mut w = CheckpointWriter::new();
    bash(&mut w, 1, "dash", "/usr/bin/dash", &h);
    bash(&mut w, 2, "sh", "/usr/bin/bash", &h);
    bash(&mut w, 3, "bash", "/usr/local/bin/shell", &h);
    let ck = load_written(&w);
    let is: Vec<bool> = ck.processes.iter().map(is_bash).collect();
    assert_eq!(is, [false, true, true]);
    assert!(recover(&ck.processes[1]).len() == 1);
    assert_eq!(histfile(&[]), b"");
}
