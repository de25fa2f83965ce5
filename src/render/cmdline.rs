//! `PID/cmdline`, `PID/environ` and `PID/comm` (and `task/TID/comm`).
//!
//! `cmdline` and `environ` are read from the dumped memory at the mm's argument / environment
//! ranges, exactly as Linux 6.x does (`get_mm_cmdline()` / `environ_read()` of fs/proc/base.c):
//! - no mm (zombie or dead task), or `arg_end <= arg_start`: empty;
//! - if the byte at `arg_end - 1` is not NUL, the process rewrote its title (`setproctitle()`):
//!   the result is the bytes from `arg_start` up to and including the first NUL, within one page,
//!   and (when the environment directly follows the arguments) at most up to `env_end`;
//! - otherwise the bytes `arg_start..arg_end`.
//!
//! `environ` is `env_start..env_end`. Sizes come from the images and are not trusted: a range is
//! truncated to [`MAX_RANGE`] bytes. Bytes the checkpoint does not hold read as zeros (as the whole
//! `mem` view does); bytes the checkpoint holds but cannot serve make the read fail with the
//! [`ReadError`].

use crate::model::PAGE_SIZE;
use crate::model::memory::ReadError;
use crate::model::process::{Process, Thread};
use crate::render::task::comm_bytes;

/// The most bytes `cmdline` / `environ` return (the kernel's own bound is `ARG_MAX`-like; 16 MiB
/// is far above any real argument block and keeps a corrupt range from allocating gigabytes).
pub const MAX_RANGE: u64 = 16 << 20;

/// Reads `len` bytes at `start` (capped at [`MAX_RANGE`] and at the end of the address space).
fn read_range(p: &Process, start: u64, len: u64) -> Result<Vec<u8>, ReadError> {
    let len = len.min(MAX_RANGE).min(u64::MAX - start);
    let mut buf = vec![0u8; len as usize];
    p.memory.read_at(start, &mut buf)?;
    Ok(buf)
}

/// The text of `PID/cmdline`.
pub fn cmdline(p: &Process) -> Result<Vec<u8>, ReadError> {
    let Some(mm) = &p.mm else {
        return Ok(Vec::new());
    };
    let (arg_start, arg_end) = (mm.arg_start, mm.arg_end);
    if arg_start >= arg_end {
        return Ok(Vec::new());
    }
    // setproctitle() may overflow past arg_end, but only into the environment.
    let env_end = if mm.env_start != arg_end || mm.env_end < mm.env_start {
        arg_end
    } else {
        mm.env_end
    };
    let len = env_end - arg_start;

    let mut last = [0u8; 1];
    p.memory.read_at(arg_end - 1, &mut last)?;
    if last[0] != 0 {
        // get_mm_proctitle(): one page from arg_start (the kernel's remote read stops at the end
        // of the mapping), up to and including the first NUL.
        let mut want = PAGE_SIZE.min(len);
        if let Some(v) = p.vma_at(arg_start) {
            want = want.min(v.end.saturating_sub(arg_start));
        }
        let mut buf = read_range(p, arg_start, want)?;
        if let Some(nul) = buf.iter().position(|&c| c == 0) {
            buf.truncate(nul + 1);
        }
        return Ok(buf);
    }
    read_range(p, arg_start, arg_end - arg_start)
}

/// The text of `PID/environ`.
pub fn environ(p: &Process) -> Result<Vec<u8>, ReadError> {
    let Some(mm) = &p.mm else {
        return Ok(Vec::new());
    };
    if mm.env_end == 0 || mm.env_end <= mm.env_start {
        return Ok(Vec::new());
    }
    read_range(p, mm.env_start, mm.env_end - mm.env_start)
}

/// `PID/comm`: the process name and a newline (unescaped, like the kernel).
pub fn comm(p: &Process) -> Vec<u8> {
    let mut out = comm_bytes(&p.comm).to_vec();
    out.push(b'\n');
    out
}

/// `task/TID/comm`: the thread's name and a newline.
pub fn thread_comm(t: &Thread) -> Vec<u8> {
    let mut out = comm_bytes(&t.comm).to_vec();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::process::{MmInfo, VmaName};
    use crate::render::testutil::*;

    fn with_mm(mem: Vec<(u64, Vec<u8>)>, vmas: Vec<crate::model::Vma>, mm: MmInfo) -> Process {
        let mut p = process(1, vmas, mem);
        p.mm = Some(mm);
        p
    }

    #[test]
    fn secretd_argv_and_environ() {
        let p = secretd_plain_8259();
        let mm = p.mm.as_ref().unwrap();
        // The ranges of the truth's stat line.
        assert_eq!(mm.arg_end - mm.arg_start, 140735281569657 - 140735281569550);
        assert_eq!(mm.env_end - mm.env_start, 140735281569774 - 140735281569657);
        let c = cmdline(&p).unwrap();
        let parts: Vec<&[u8]> = c.split(|&b| b == 0).collect();
        assert_eq!(
            parts,
            [
                &b"./secretd"[..],
                b"A1",
                b"/tmp/criu-fixture-work/secretd-plain/mapped.dat",
                b"/tmp/criu-fixture-work/secretd-plain/open.log",
                b""
            ]
        );
        let e = environ(&p).unwrap();
        assert!(e.starts_with(b"PATH=/usr/local/bin:/usr/bin:/bin\0HOME=/root\0"));
        assert!(e.ends_with(b"SECRETD_CASE=secretd-plain\0"));
        assert_eq!(comm(&p), b"secretd\n");
        assert_eq!(thread_comm(&p.threads[1]), b"secretd\n");
    }

    #[test]
    fn setproctitle_reads_to_first_nul_within_a_page() {
        // argv was "postgres\0-D\0/data\0" (19 bytes), overwritten by a longer title that runs into
        // the environment; the title ends with a NUL inside the environment area.
        let base = 0x7ffd_0000_0000u64;
        let title = b"postgres: checkpointer process with a long title\0garbage";
        let mut bytes = title.to_vec();
        bytes.resize(64, b'x');
        let mm = MmInfo {
            arg_start: base,
            arg_end: base + 19,
            env_start: base + 19,
            env_end: base + 64,
            ..MmInfo::default()
        };
        let stack = vma(base - 0x1000, base + 0x1000, "rw-p", 0, VmaName::Stack);
        let p = with_mm(vec![(base, bytes.clone())], vec![stack.clone()], mm.clone());
        assert_eq!(
            cmdline(&p).unwrap(),
            b"postgres: checkpointer process with a long title\0"
        );
        // No NUL at all within env_end: everything up to env_end.
        let mut nonul = vec![b'y'; 64];
        nonul[18] = b'z';
        let p = with_mm(vec![(base, nonul)], vec![stack.clone()], mm.clone());
        assert_eq!(
            cmdline(&p).unwrap(),
            vec![b'y'; 18]
                .into_iter()
                .chain([b'z'])
                .chain(vec![b'y'; 45])
                .collect::<Vec<u8>>()
        );
        // Environment not adjacent: limited to arg_end.
        let mut mm2 = mm.clone();
        mm2.env_start = base + 0x100;
        mm2.env_end = base + 0x200;
        let p = with_mm(vec![(base, vec![b'q'; 64])], vec![stack.clone()], mm2);
        assert_eq!(cmdline(&p).unwrap(), vec![b'q'; 19]);
        // A title page at the end of the mapping stops there.
        let mut mm3 = mm.clone();
        mm3.arg_start = base + 0x1000 - 8;
        mm3.arg_end = base + 0x1000 - 1;
        mm3.env_start = base + 0x1000 - 1;
        mm3.env_end = base + 0x3000;
        let p = with_mm(
            vec![(base + 0x1000 - 8, vec![b'w'; 0x2000])],
            vec![stack],
            mm3,
        );
        assert_eq!(cmdline(&p).unwrap(), vec![b'w'; 8]);
    }

    #[test]
    fn ranges_never_trusted() {
        let mm = MmInfo {
            arg_start: 0x2000,
            arg_end: 0x1000,
            env_start: 0x5000,
            env_end: 0x4000,
            ..MmInfo::default()
        };
        let p = with_mm(vec![], vec![], mm);
        assert!(cmdline(&p).unwrap().is_empty());
        assert!(environ(&p).unwrap().is_empty());
        // Huge ranges are truncated, not allocated.
        let mm = MmInfo {
            arg_start: 0x1000,
            arg_end: u64::MAX,
            env_start: 0,
            env_end: u64::MAX,
            ..MmInfo::default()
        };
        let p = with_mm(vec![], vec![], mm);
        assert_eq!(cmdline(&p).unwrap().len() as u64, MAX_RANGE);
        assert_eq!(environ(&p).unwrap().len() as u64, MAX_RANGE);
        let mm = MmInfo {
            arg_start: u64::MAX - 10,
            arg_end: u64::MAX,
            env_start: u64::MAX,
            env_end: u64::MAX,
            ..MmInfo::default()
        };
        let p = with_mm(vec![], vec![], mm);
        assert_eq!(cmdline(&p).unwrap().len(), 10);
        // No mm: empty.
        let mut p = process(1, vec![], vec![]);
        p.mm = None;
        assert!(cmdline(&p).unwrap().is_empty());
        assert!(environ(&p).unwrap().is_empty());
    }

    #[test]
    fn broken_memory_is_an_error() {
        use crate::model::memory::{Extent, ExtentData, Memory};
        let mut p = process(1, vec![], vec![]);
        p.memory = Memory::from_extents(vec![Extent {
            start: 0x1000,
            len: 0x1000,
            data: ExtentData::Broken("pages file too short".into()),
        }])
        .0;
        p.mm = Some(MmInfo {
            arg_start: 0x1000,
            arg_end: 0x1010,
            env_start: 0x1010,
            env_end: 0x1020,
            ..MmInfo::default()
        });
        assert!(cmdline(&p).is_err());
        assert!(environ(&p).is_err());
    }

    #[test]
    fn comm_is_capped_and_unescaped() {
        let mut p = process(1, vec![], vec![]);
        p.comm = "a\nb".into();
        assert_eq!(comm(&p), b"a\nb\n");
        p.comm = "x".repeat(100);
        assert_eq!(comm(&p).len(), 65);
    }
}
