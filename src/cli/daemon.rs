//! Going to the background without losing errors, and stopping cleanly on signals.
//!
//! `ckptfs mount` forks before any thread exists. The child loads the checkpoint and mounts while
//! still attached to the terminal (progress bar, warnings, Ctrl-C), then reports "ready" or the
//! one-line error through a pipe, detaches (setsid, stdio to /dev/null, cwd /) and serves. The
//! parent waits on the pipe and exits 0, or prints the error and exits with the child's code.
//!
//! SIGINT / SIGTERM / SIGHUP are turned into bytes on a self-pipe (the only thing the handler
//! does); a watcher thread reads it and runs the stop action (unmount), whichever thread the
//! kernel delivered the signal to.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use super::{CliError, EXIT_FAILURE};

/// After [`fork`]: which side we are.
pub enum Forked {
    /// The parent, once the child reported: `Ok` if the mount is ready, else the child's error.
    Parent(Result<(), CliError>),
    /// The child, with the way to report to the parent.
    Child(Reporter),
}

/// The child's end of the readiness pipe.
pub struct Reporter {
    pipe: Option<File>,
}

impl Reporter {
    /// Tells the parent the mount is ready. False if the parent is gone (the user interrupted).
    pub fn ready(&mut self) -> bool {
        match self.pipe.take() {
            Some(mut p) => p.write_all(b"ok\n").is_ok(),
            None => true,
        }
    }

    /// Sends the parent the error (no-op once ready was sent).
    pub fn fail(&mut self, e: &CliError) {
        if let Some(mut p) = self.pipe.take() {
            let _ = writeln!(p, "E{} {}", e.code, super::one_line(&e.msg));
        }
    }
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn pipe() -> io::Result<(File, File)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded: both descriptors are open and owned by nobody else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// Forks. Must be called while the process has a single thread.
pub fn fork() -> Result<Forked, CliError> {
    let (mut rd, wr) = pipe().map_err(|e| CliError::failure("mount: pipe", e))?;
    // SAFETY: the process is single-threaded here (nothing has spawned a thread yet), so the
    // child may run arbitrary code.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(CliError::failure("mount: fork", io::Error::last_os_error())),
        0 => {
            drop(rd);
            close_inherited(wr.as_raw_fd());
            Ok(Forked::Child(Reporter { pipe: Some(wr) }))
        }
        child => {
            drop(wr);
            let mut msg = String::new();
            let _ = rd.read_to_string(&mut msg);
            Ok(Forked::Parent(parse_report(&msg).unwrap_or_else(|| {
                Err(CliError::failure(
                    "mount",
                    format!(
                        "the background process {} before the mount was ready (run with -f to see more)",
                        wait_status(child)
                    ),
                ))
            })))
        }
    }
}

/// Closes every descriptor above 2 except `keep`: the daemon outlives its caller and must not
/// hold the caller's pipes open (`out=$(ckptfs mount ...)` would never finish).
fn close_inherited(keep: libc::c_int) {
    let keep = keep.max(3) as libc::c_uint;
    // SAFETY: close_range only closes descriptors; nothing else in this (single-threaded) child
    // refers to the inherited ones.
    unsafe {
        if keep > 3 {
            libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                keep - 1,
                0 as libc::c_uint,
            );
        }
        libc::syscall(
            libc::SYS_close_range,
            keep + 1,
            libc::c_uint::MAX,
            0 as libc::c_uint,
        );
    }
}

/// The child's message: `ok` or `E<code> <message>`; None if there is none.
fn parse_report(msg: &str) -> Option<Result<(), CliError>> {
    let line = msg.lines().next()?;
    if line == "ok" {
        return Some(Ok(()));
    }
    let rest = line.strip_prefix('E')?;
    let (code, text) = rest.split_once(' ')?;
    Some(Err(CliError {
        code: code.parse().unwrap_or(EXIT_FAILURE),
        msg: text.to_string(),
    }))
}

/// How the child ended, for the message.
fn wait_status(pid: libc::pid_t) -> String {
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer; `pid` is our child.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    if r != pid {
        return "ended".into();
    }
    if libc::WIFSIGNALED(status) {
        format!("was killed by signal {}", libc::WTERMSIG(status))
    } else if libc::WIFEXITED(status) {
        format!("exited with status {}", libc::WEXITSTATUS(status))
    } else {
        "ended".into()
    }
}

/// Detaches from the terminal: new session, stdio on /dev/null, cwd `/` (so the daemon keeps no
/// directory busy). Descriptors 0-2 stay open (fuser asserts the /dev/fuse fd is above 2).
pub fn detach() {
    // SAFETY: plain syscalls on descriptors we own or on the standard ones.
    unsafe {
        libc::setsid();
        if let Ok(null) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
        {
            for fd in 0..3 {
                libc::dup2(null.as_raw_fd(), fd);
            }
        }
        libc::chdir(c"/".as_ptr());
    }
}

/// The write end of the self-pipe, for the signal handler.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    // Async-signal-safe: one write(2), errno preserved.
    // SAFETY: __errno_location returns this thread's errno; write on a valid fd or -1 is safe.
    unsafe {
        let errno = *libc::__errno_location();
        let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
        if fd >= 0 {
            let b = sig as u8;
            libc::write(fd, (&b as *const u8).cast(), 1);
        }
        *libc::__errno_location() = errno;
    }
}

/// On the first SIGINT, SIGTERM or SIGHUP, runs `stop` (with the signal number) on a watcher
/// thread. Later signals are ignored (the stop action is already running).
pub fn on_stop_signal(stop: impl FnOnce(i32) + Send + 'static) -> io::Result<()> {
    let (mut rd, wr) = pipe()?;
    // Never block in the handler.
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let fl = cvt(libc::fcntl(wr.as_raw_fd(), libc::F_GETFL))?;
        cvt(libc::fcntl(
            wr.as_raw_fd(),
            libc::F_SETFL,
            fl | libc::O_NONBLOCK,
        ))?;
    }
    let wr: OwnedFd = wr.into();
    // The write end lives as long as the process.
    let prev = SIGNAL_PIPE.swap(std::os::fd::IntoRawFd::into_raw_fd(wr), Ordering::SeqCst);
    if prev >= 0 {
        // SAFETY: `prev` was a descriptor we leaked on an earlier call.
        unsafe { libc::close(prev) };
    }
    std::thread::Builder::new()
        .name("ckptfs-signals".into())
        .spawn(move || {
            let mut b = [0u8; 1];
            loop {
                match rd.read(&mut b) {
                    Ok(1) => {
                        stop(i32::from(b[0]));
                        return;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    _ => return,
                }
            }
        })?;
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installs a handler that only calls async-signal-safe functions.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            cvt(libc::sigaction(sig, &sa, std::ptr::null_mut()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        assert_eq!(parse_report("ok\n"), Some(Ok(())));
        assert_eq!(
            parse_report("E2 /x: not a checkpoint: no inventory.img\n"),
            Some(Err(CliError {
                code: 2,
                msg: "/x: not a checkpoint: no inventory.img".into()
            }))
        );
        assert_eq!(parse_report(""), None);
        assert_eq!(parse_report("garbage"), None);
    }
}
