//! The demo's child processes: each started with its output in a log, watched while the
//! demo serves, and stopped (SIGTERM, then SIGKILL at a deadline) at the end.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a process is given to stop after SIGTERM before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(15);
/// How often a process (or anything the demo waits for) is looked at again.
pub(super) const POLL: Duration = Duration::from_millis(50);

/// A child process with a name for messages; SIGKILLed if still running when dropped (an
/// error or panic part-way must not leave processes behind).
#[derive(Debug)]
pub(super) struct Proc {
    pub(super) name: String,
    child: Child,
    log: PathBuf,
    exited: Option<ExitStatus>,
}

impl Proc {
    pub(super) fn spawn(
        name: String,
        program: &Path,
        args: &[String],
        log: PathBuf,
    ) -> Result<Proc, String> {
        let out =
            File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        Ok(Proc {
            name,
            child,
            log,
            exited: None,
        })
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status the first time it is seen to have ended.
    pub(super) fn newly_exited(&mut self) -> Option<ExitStatus> {
        if self.exited.is_some() {
            return None;
        }
        self.exited = self.child.try_wait().ok().flatten();
        self.exited
    }

    /// `Err` with the end of its log if it has ended: for failures while starting.
    pub(super) fn check_running(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(format!(
                "{} exited ({status}) while starting; the end of {}:\n{}",
                self.name,
                self.log.display(),
                log_tail(&self.log)
            )),
            _ => Ok(()),
        }
    }

    fn terminate(&mut self) {
        if self.exited.is_none() && matches!(self.child.try_wait(), Ok(None)) {
            let _ = kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM);
        }
    }

    /// Wait until it has ended; SIGKILL at the deadline. `true` if it stopped by itself.
    fn reap(&mut self, deadline: Instant) -> bool {
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return true,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return false;
                }
                Ok(None) => std::thread::sleep(POLL),
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// SIGTERM to every one, then wait for them all, with one deadline; SIGKILL at it.
pub(super) fn stop_all(procs: &mut [Proc]) {
    for p in procs.iter_mut() {
        p.terminate();
    }
    let deadline = Instant::now() + STOP_DEADLINE;
    for p in procs.iter_mut() {
        if !p.reap(deadline) {
            eprintln!("{} did not stop within {STOP_DEADLINE:?}; killed", p.name);
        }
    }
}
