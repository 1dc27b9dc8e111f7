//! Servers as real processes (gdc-node, redis-server) for tests, benchmarks and the
//! consistency suite: started on a port, waited for until they answer PING, killed when
//! dropped.

use std::io;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// Poll `f` until it returns `Some`, or panic naming `what` at the deadline: how tests and
/// benchmarks wait for a condition instead of sleeping.
pub fn wait_for<T>(what: &str, deadline: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A TCP port nothing listens on right now, below Linux's ephemeral range (32768 and
/// up): the kernel never hands it out as the source port of an outgoing connection, so a
/// server that is killed and started again on it finds it free (an ephemeral port can be
/// taken by any of the thousands of connections a faulty cluster makes meanwhile).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 10_000;
    const SPAN: u32 = 22_000;
    // A start that differs between processes, then a stride coprime to SPAN: every port
    // of the range in turn, none twice in one process.
    static START: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = *START.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        std::process::id().wrapping_mul(7919) ^ nanos
    });
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = LOW + start.wrapping_add(n.wrapping_mul(7001)) % SPAN;
        if std::net::TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
    panic!("no free port below 32768")
}

/// A connection to the server on `port` that has answered PING, if one can be made now.
pub fn try_connect(port: u16) -> Option<redis::Connection> {
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .ok()?
        .get_connection_with_timeout(Duration::from_secs(2))
        .ok()?;
    redis::cmd("PING").query::<String>(&mut c).ok()?;
    Some(c)
}

/// A connection to the server on `port`, waiting (up to a minute) until it answers PING.
pub fn connect(port: u16) -> redis::Connection {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if let Some(c) = try_connect(port) {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "nothing answers PING on port {port}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A server process; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    /// Run `program` with `args` (which make it listen on `port`, output discarded) and
    /// wait until it answers PING. An error if it cannot be started, exits first, or does
    /// not answer within a minute.
    pub fn start(program: &Path, args: &[String], port: u16) -> io::Result<Server> {
        Server::start_logged(program, args, port, None)
    }

    /// [`Server::start`], with its output appended to `log` if given.
    pub fn start_logged(
        program: &Path,
        args: &[String],
        port: u16,
        log: Option<&Path>,
    ) -> io::Result<Server> {
        Server::start_with_env(program, args, port, log, &[])
    }

    /// [`Server::start_logged`], with these environment variables set (`None`: removed).
    pub fn start_with_env(
        program: &Path,
        args: &[String],
        port: u16,
        log: Option<&Path>,
        env: &[(&str, Option<&str>)],
    ) -> io::Result<Server> {
        let (out, err) = match log {
            Some(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                (Stdio::from(f.try_clone()?), Stdio::from(f))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let mut command = Command::new(program);
        command.args(args).stdout(out).stderr(err);
        for (name, value) in env {
            match value {
                Some(v) => command.env(name, v),
                None => command.env_remove(name),
            };
        }
        let child = command.spawn()?;
        let mut server = Server { child, port };
        // Dropped on an error: the process is killed.
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if try_connect(port).is_some() {
                return Ok(server);
            }
            // A process that cannot start (its port taken, a bad flag) is reported at once.
            if let Some(status) = server.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "{} exited before it answered PING on port {port}: {status}",
                    program.display()
                )));
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("nothing answers PING on port {port}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn client(&self) -> redis::Connection {
        try_connect(self.port).expect("connect")
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }

    /// Wait for the process to exit by itself (SHUTDOWN).
    pub fn wait_exit(mut self) {
        let _ = self.child.wait();
    }

    /// SIGTERM, and wait for the process to exit.
    pub fn terminate(mut self) {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }

    /// SIGSTOP (`true`: it hangs) or SIGCONT (it resumes).
    pub fn pause(&self, stop: bool) {
        self.signal(if stop {
            nix::sys::signal::Signal::SIGSTOP
        } else {
            nix::sys::signal::Signal::SIGCONT
        });
    }

    fn signal(&self, s: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), s);
    }

    /// SHUTDOWN, and the exit status once the process has ended.
    pub fn shutdown(mut self) -> io::Result<ExitStatus> {
        let _ = redis::cmd("SHUTDOWN").query::<()>(&mut self.client());
        self.child.wait()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
