//! Going to the background without losing errors, and stopping cleanly on signals.
//!
//! `ckptfs mount` forks before any thread exists. The child loads the checkpoint and mounts while
//! still attached to the terminal (progress bar, warnings, Ctrl-C), then reports "ready" or the
//! one-line error through a pipe, detaches (setsid, stdio to /dev/null, cwd /) and serves. The
//! parent waits on the pipe and exits 0, or prints the error and exits with the child's code.
//!
//! SIGINT / SIGTERM / SIGHUP reach a watcher thread through signal-hook's self-pipe; the watcher
//! runs the stop action (unmount), whichever thread the kernel delivered the signal to.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::AsRawFd;

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

fn pipe() -> io::Result<(File, File)> {
    let (rd, wr) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    Ok((File::from(rd), File::from(wr)))
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
    use rustix::process::{Pid, WaitOptions, waitpid};
    let status = match Pid::from_raw(pid).map(|p| waitpid(Some(p), WaitOptions::empty())) {
        Some(Ok(Some((p, status)))) if p.as_raw_nonzero().get() == pid => status,
        _ => return "ended".into(),
    };
    if let Some(sig) = status.terminating_signal() {
        format!("was killed by signal {sig}")
    } else if let Some(code) = status.exit_status() {
        format!("exited with status {code}")
    } else {
        "ended".into()
    }
}

/// Detaches from the terminal: new session, stdio on /dev/null, cwd `/` (so the daemon keeps no
/// directory busy). Descriptors 0-2 stay open (fuser asserts the /dev/fuse fd is above 2).
/// `keep_stderr`: stderr stays where it is if it is a terminal or a regular file (a mount of a
/// directory of checkpoints reports there what happens when one is opened on first access: the
/// progress of decompressing it, what it could not show); never a pipe, whose reader would wait
/// for the daemon to end.
/// Best effort, as before: a failing step is skipped.
pub fn detach(keep_stderr: bool) {
    let keep_stderr = keep_stderr && {
        let err = std::io::stderr();
        err.is_terminal()
            || rustix::fs::fstat(&err).is_ok_and(|st| {
                rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile
            })
    };
    let _ = rustix::process::setsid();
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = rustix::stdio::dup2_stdin(&null);
        let _ = rustix::stdio::dup2_stdout(&null);
        if !keep_stderr {
            let _ = rustix::stdio::dup2_stderr(&null);
        }
    }
    let _ = rustix::process::chdir("/");
}

/// On the first SIGINT, SIGTERM or SIGHUP, runs `stop` (with the signal number) on a watcher
/// thread, whichever thread the kernel delivered the signal to (signal-hook's handler only
/// writes to its self-pipe). Later signals are ignored (the stop action is already running).
pub fn on_stop_signal(stop: impl FnOnce(i32) + Send + 'static) -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("ckptfs-signals".into())
        .spawn(move || {
            let mut pending = signals.forever();
            if let Some(sig) = pending.next() {
                stop(sig);
            }
            // Keep the handlers (and so the signals ignored) while the process finishes.
            pending.for_each(drop);
        })?;
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

    #[test]
    fn wait_status_says_how_the_child_ended() {
        // wait_status reaps the child itself.
        #[allow(clippy::zombie_processes)]
        let spawn = |script: &str| {
            let child = std::process::Command::new("sh")
                .args(["-c", script])
                .spawn()
                .unwrap();
            child.id() as libc::pid_t
        };
        assert_eq!(wait_status(spawn("exit 3")), "exited with status 3");
        assert_eq!(wait_status(spawn("kill -9 $$")), "was killed by signal 9");
        // Not our child (any more): nothing to say.
        assert_eq!(wait_status(std::process::id() as libc::pid_t), "ended");
    }
}
