//! Work done by a forked child, as Redis writes its RDB: the child sees this process's
//! memory as it was at the fork (the kernel copies a page only when one side writes to it),
//! so the thread that forks pauses for the fork alone (page tables: a few ms per GB), not
//! for a copy of the data.

// fork(2), and what the child does before it runs the work, need the C library directly.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// A child running [`spawn`]'s work. Dropped without [`Child::wait`], it is killed and
/// reaped (no zombie is left).
#[derive(Debug)]
pub struct Child {
    pid: libc::pid_t,
    /// The read end of the pipe the child writes its error to; at its end, the child exited.
    report: File,
    reaped: bool,
}

/// Set in a forked child only: the panic hook installed before the first fork says
/// nothing there (the default hook takes stderr's lock, which another thread of the
/// parent may have held at the fork).
static IN_CHILD: AtomicBool = AtomicBool::new(false);
static QUIET_HOOK: Once = Once::new();

/// The child's nice value at least: its work (a snapshot, a full sync's stream) yields to
/// the serving thread where the two share a core (a 142 MB snapshot forked during a
/// pipelined LPOP took the core for half a second, and the row's rate by a third, with the
/// server on one core), and takes what the others leave.
const CHILD_NICE: libc::c_int = 10;

/// Exit codes of the child.
const FAILED: i32 = 1;
const PANICKED: i32 = 2;

/// Run `work` in a child process forked from this one; [`Child::wait`] gives its result.
///
/// The child has one thread, this one: a lock another thread held at the fork stays held
/// in the child forever, so `work` must only read memory, allocate and make system calls.
/// The allocator is safe (jemalloc, like glibc's malloc, takes its locks around a fork and
/// renews them in the child); logging is not (the subscriber's writer has a lock), so the
/// child reports its error through a pipe and the parent logs it. The child keeps no file
/// of this process open (a listening socket would otherwise outlive a restart of the
/// server) and has the default signal handlers (this process's write to its own pipes).
pub fn spawn(work: impl FnOnce() -> Result<(), String>) -> io::Result<Child> {
    fork(None, |_| work())
}

/// [`spawn`], and what `work` writes to the file it is given (a pipe) is read from the
/// file returned. Should the parent close that file early, the child's next write ends it
/// (SIGPIPE).
pub fn spawn_writing(
    work: impl FnOnce(&mut File) -> Result<(), String>,
) -> io::Result<(Child, File)> {
    let (read, write) = pipe()?;
    let child = fork(Some(write), |output| match output {
        Some(out) => work(out),
        None => Err("no output".into()),
    })?;
    Ok((child, File::from(read)))
}

/// Fork; the child runs `work` with `output` (the parent's copy closes on return).
fn fork(
    output: Option<OwnedFd>,
    work: impl FnOnce(Option<&mut File>) -> Result<(), String>,
) -> io::Result<Child> {
    // Installed in this process, not in the child: setting a hook takes a lock.
    QUIET_HOOK.call_once(|| {
        let parent_hook = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_CHILD.load(Ordering::Relaxed) {
                parent_hook(info);
            }
        }));
    });
    let (read, write) = pipe()?;
    // SAFETY: the child runs only `in_child`, under the rules above, and leaves with
    // `_exit`, which runs no destructor or exit handler of this process's.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            let code = in_child(work, write, output);
            // SAFETY: ends the child; nothing after it runs.
            unsafe { libc::_exit(code) }
        }
        pid => Ok(Child {
            pid,
            report: File::from(read),
            reaped: false,
        }),
    }
}

impl Child {
    /// Wait for the child to end: its work's error, or how it ended if not by its work.
    pub fn wait(mut self) -> Result<(), String> {
        let mut report = Vec::new();
        // End of file: the child exited (or closed the pipe just before).
        let _ = self.report.read_to_end(&mut report);
        let report = String::from_utf8_lossy(&report).into_owned();
        let status = self.reap()?;
        match (libc::WIFEXITED(status), libc::WEXITSTATUS(status)) {
            (true, 0) => Ok(()),
            (true, FAILED) if !report.is_empty() => Err(report),
            (true, PANICKED) => Err(format!("child {} panicked", self.pid)),
            (true, code) => Err(format!("child {} exited with {code}", self.pid)),
            (false, _) if libc::WIFSIGNALED(status) => Err(format!(
                "child {} was killed by signal {}",
                self.pid,
                libc::WTERMSIG(status)
            )),
            (false, _) => Err(format!("child {} ended with status {status}", self.pid)),
        }
    }

    /// Wait for the child's exit: its status.
    fn reap(&mut self) -> Result<i32, String> {
        self.reaped = true;
        let mut status = 0;
        loop {
            // SAFETY: `status` is a valid place for the result; `pid` is our own child,
            // waited for only here, once.
            if unsafe { libc::waitpid(self.pid, &mut status, 0) } != -1 {
                return Ok(status);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(format!("waiting for child {}: {e}", self.pid));
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: `pid` is our own child, not yet reaped, so the number is still its.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            let _ = self.reap();
        }
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [RawFd; 2] = [-1; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are new descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The child's side: returns its exit code.
fn in_child(
    work: impl FnOnce(Option<&mut File>) -> Result<(), String>,
    report: OwnedFd,
    output: Option<OwnedFd>,
) -> i32 {
    IN_CHILD.store(true, Ordering::Relaxed);
    default_signals();
    yield_to_the_server();
    let mut keep = vec![report.as_raw_fd()];
    keep.extend(output.as_ref().map(AsRawFd::as_raw_fd));
    close_files_but(&mut keep);
    let mut output = output.map(File::from);
    match panic::catch_unwind(AssertUnwindSafe(|| work(output.as_mut()))) {
        Ok(Ok(())) => 0,
        Ok(Err(why)) => {
            let _ = File::from(report).write_all(why.as_bytes());
            FAILED
        }
        Err(_) => PANICKED,
    }
}

/// Lower the child's priority to [`CHILD_NICE`] (never raise it: a node started niced
/// stays so).
fn yield_to_the_server() {
    // SAFETY: both calls take plain integers; 0 names the calling thread, the child's one.
    unsafe {
        if libc::getpriority(libc::PRIO_PROCESS, 0) < CHILD_NICE {
            libc::setpriority(libc::PRIO_PROCESS, 0, CHILD_NICE);
        }
    }
}

/// Every signal back to its default action: this process's handlers write to its pipes.
fn default_signals() {
    for sig in 1..32 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: SIG_DFL is a valid disposition for every other signal.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
}

/// Close every descriptor but stdin, stdout, stderr and those in `keep`.
fn close_files_but(keep: &mut [RawFd]) {
    keep.sort_unstable();
    let mut first = 3u32;
    for &fd in keep.iter() {
        let Ok(fd) = u32::try_from(fd) else { continue };
        if fd >= first {
            close_range(first, fd - 1);
            first = fd + 1;
        }
    }
    close_range(first, u32::MAX);
}

#[cfg(target_os = "linux")]
fn close_range(first: u32, last: u32) {
    if first > last {
        return;
    }
    // SAFETY: close_range(2) takes two descriptor numbers and flags; closing descriptors
    // the child does not use is its purpose.
    let done = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) } == 0;
    if !done {
        close_each(first, last);
    }
}

#[cfg(not(target_os = "linux"))]
fn close_range(first: u32, last: u32) {
    close_each(first, last);
}

/// Where close_range(2) is missing: one close(2) per descriptor up to the process's limit.
fn close_each(first: u32, last: u32) {
    // SAFETY: sysconf has no preconditions.
    let open_max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) };
    let limit = u32::try_from(open_max).unwrap_or(65_536).min(1 << 20);
    for fd in first..=last.min(limit) {
        // SAFETY: closing a descriptor number, open or not, the child does not use.
        unsafe { libc::close(fd as RawFd) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_child_reports_success_its_error_or_its_panic() {
        assert_eq!(spawn(|| Ok(())).expect("fork").wait(), Ok(()));
        assert_eq!(
            spawn(|| Err("the disk is full".into()))
                .expect("fork")
                .wait(),
            Err("the disk is full".into())
        );
        let panicked = spawn(|| panic!("boom")).expect("fork").wait();
        assert!(
            panicked.as_ref().is_err_and(|e| e.ends_with("panicked")),
            "{panicked:?}"
        );
    }

    /// The child runs niced (the parent not): where they share a core, the server goes
    /// first.
    #[test]
    fn the_child_yields_to_the_server() {
        // SAFETY: reads this thread's nice value.
        let parent = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let child = spawn(move || {
            // SAFETY: as above, in the child.
            let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
            let expected = parent.max(CHILD_NICE);
            (nice == expected)
                .then_some(())
                .ok_or(format!("nice {nice}, not {expected}"))
        });
        assert_eq!(child.expect("fork").wait(), Ok(()));
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }, parent);
    }

    #[test]
    fn what_the_child_writes_is_read_and_an_early_close_ends_it() {
        let (child, mut out) = spawn_writing(|out| {
            (0..1000u32)
                .try_for_each(|i| out.write_all(&i.to_le_bytes()).map_err(|e| e.to_string()))
        })
        .expect("fork");
        let mut read = Vec::new();
        out.read_to_end(&mut read).expect("read");
        assert_eq!(child.wait(), Ok(()));
        let expected: Vec<u8> = (0..1000u32).flat_map(u32::to_le_bytes).collect();
        assert_eq!(read, expected);

        // The reader goes before the child has written all it would: it ends, not hangs.
        let (child, out) = spawn_writing(|out| {
            loop {
                out.write_all(&[0; 4096]).map_err(|e| e.to_string())?;
            }
        })
        .expect("fork");
        drop(out);
        let ended = child.wait();
        assert!(ended.is_err(), "{ended:?}");
    }

    #[test]
    fn a_child_dropped_unwaited_is_killed_and_reaped() {
        let child = spawn(|| {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        })
        .expect("fork");
        let pid = child.pid;
        drop(child);
        // SAFETY: signal 0 only asks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } == -1;
        assert!(gone, "child {pid} is still there (a zombie, or running)");
    }

    #[test]
    fn the_child_sees_memory_as_it_was_at_the_fork() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("seen");
        let mut value = vec![1u8; 1 << 20];
        let child =
            spawn(|| std::fs::write(&path, &value).map_err(|e| e.to_string())).expect("fork");
        // The parent's change after the fork is not the child's.
        value.fill(2);
        assert_eq!(child.wait(), Ok(()));
        let seen = std::fs::read(&path).expect("read");
        assert_eq!(seen.len(), 1 << 20);
        assert!(seen.iter().all(|&b| b == 1));
    }
}
