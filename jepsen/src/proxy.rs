//! A fault-injecting TCP proxy: put it between two nodes and cut, stall or slow the link.
//!
//! Faults act the way a network does to TCP, never by corrupting a byte stream:
//! - **stall** (one direction or both): bytes stop moving, and move again, in order, on heal
//!   (a partition that TCP rides out; also "hold, then release");
//! - **sever**: every open connection is closed (a partition long enough to break
//!   connections, or a peer restart); new ones are accepted and stall while stalled;
//! - **delay**: every chunk is held for a fixed time before it is passed on.
//!
//! The proxy runs on a thread of its own, so blocking tests can drive it directly.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Which way bytes go: `Forward` from the proxy's clients to its target, `Back` the other way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Back,
}

/// The faults in force.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Faults {
    stall_forward: bool,
    stall_back: bool,
    delay: Duration,
    /// Bumped by [`Proxy::sever`]: connections older than the current value close.
    generation: u64,
}

impl Faults {
    fn stalled(&self, d: Direction) -> bool {
        match d {
            Direction::Forward => self.stall_forward,
            Direction::Back => self.stall_back,
        }
    }
}

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    faults: watch::Sender<Faults>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Listen on a free loopback port and forward every connection to `target`.
    pub fn start(target: SocketAddr) -> io::Result<Proxy> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (faults, faults_rx) = watch::channel(Faults::default());
        let (stop, stop_rx) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name(format!("proxy-{addr}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(std_listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = accept_loop(listener, target, faults_rx) => {}
                        _ = stop_rx => {}
                    }
                });
            })?;
        Ok(Proxy {
            addr,
            faults,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where to connect to reach the target through the proxy.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stall both directions.
    pub fn cut(&self) {
        self.faults.send_modify(|f| {
            f.stall_forward = true;
            f.stall_back = true;
        });
    }

    /// Stall one direction only.
    pub fn cut_one_way(&self, d: Direction) {
        self.faults.send_modify(|f| match d {
            Direction::Forward => f.stall_forward = true,
            Direction::Back => f.stall_back = true,
        });
    }

    /// Let bytes move both ways again (what was held is delivered, in order).
    pub fn heal(&self) {
        self.faults.send_modify(|f| {
            f.stall_forward = false;
            f.stall_back = false;
        });
    }

    /// Close every open connection.
    pub fn sever(&self) {
        self.faults.send_modify(|f| f.generation += 1);
    }

    /// Hold every chunk this long before passing it on (zero: no delay).
    pub fn delay(&self, d: Duration) {
        self.faults.send_modify(|f| f.delay = d);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, target: SocketAddr, faults: watch::Receiver<Faults>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let faults = faults.clone();
        tokio::spawn(async move {
            let generation = faults.borrow().generation;
            let Ok(server) = TcpStream::connect(target).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            // When either direction ends, the whole connection goes.
            tokio::select! {
                _ = pump(client_read, server_write, Direction::Forward, faults.clone(), generation) => {}
                _ = pump(server_read, client_write, Direction::Back, faults, generation) => {}
            }
        });
    }
}

/// Until the connection is severed (or the proxy stops): wait while `d` is stalled.
async fn until_flowing(
    faults: &mut watch::Receiver<Faults>,
    d: Direction,
    generation: u64,
) -> Result<(), ()> {
    loop {
        {
            let f = faults.borrow_and_update();
            if f.generation != generation {
                return Err(());
            }
            if !f.stalled(d) {
                return Ok(());
            }
        }
        faults.changed().await.map_err(|_| ())?;
    }
}

/// Wait until the connection is severed.
async fn severed(faults: &mut watch::Receiver<Faults>, generation: u64) {
    loop {
        if faults.borrow_and_update().generation != generation {
            return;
        }
        if faults.changed().await.is_err() {
            return;
        }
    }
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    d: Direction,
    mut faults: watch::Receiver<Faults>,
    generation: u64,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if until_flowing(&mut faults, d, generation).await.is_err() {
            return;
        }
        let n = {
            let mut watch = faults.clone();
            tokio::select! {
                r = from.read(&mut buf) => match r {
                    Ok(0) | Err(_) => {
                        let _ = to.shutdown().await;
                        return;
                    }
                    Ok(n) => n,
                },
                _ = severed(&mut watch, generation) => return,
            }
        };
        let delay = faults.borrow().delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        // Bytes read just before a stall are held until it ends.
        if until_flowing(&mut faults, d, generation).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::Instant;

    /// An echo server on a free port.
    fn echo() -> SocketAddr {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn connect(p: &Proxy) -> std::net::TcpStream {
        let s = std::net::TcpStream::connect(p.addr()).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        s
    }

    /// Read exactly `n` bytes, or what came before the read timeout.
    fn read_n(s: &mut std::net::TcpStream, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        let mut got = 0;
        while got < n {
            match s.read(&mut out[got..]) {
                Ok(0) | Err(_) => break,
                Ok(k) => got += k,
            }
        }
        out.truncate(got);
        out
    }

    #[test]
    fn forwards_stalls_and_delivers_what_was_held_on_heal() {
        let p = Proxy::start(echo()).expect("proxy");
        let mut s = connect(&p);
        s.write_all(b"hello").expect("write");
        assert_eq!(read_n(&mut s, 5), b"hello");
        p.cut();
        s.write_all(b"held").expect("write");
        assert_eq!(read_n(&mut s, 4), b"", "nothing moves during a cut");
        p.heal();
        assert_eq!(read_n(&mut s, 4), b"held");
    }

    #[test]
    fn a_one_way_cut_stops_only_one_direction() {
        let p = Proxy::start(echo()).expect("proxy");
        let mut s = connect(&p);
        p.cut_one_way(Direction::Back);
        s.write_all(b"ping").expect("write");
        // Forwarded and echoed, but the echo is held on the way back.
        assert_eq!(read_n(&mut s, 4), b"");
        p.heal();
        assert_eq!(read_n(&mut s, 4), b"ping");
    }

    /// Wait (up to 5 s) until the proxy has closed `s`.
    fn assert_closed(s: &mut std::net::TcpStream) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut buf = [0u8; 1];
            match s.read(&mut buf) {
                Ok(0) => return,
                Err(e)
                    if e.kind() != io::ErrorKind::WouldBlock
                        && e.kind() != io::ErrorKind::TimedOut =>
                {
                    return;
                }
                _ => assert!(Instant::now() < deadline, "connection not closed"),
            }
        }
    }

    #[test]
    fn sever_closes_open_connections_and_new_ones_work() {
        let p = Proxy::start(echo()).expect("proxy");
        let mut s = connect(&p);
        s.write_all(b"a").expect("write");
        assert_eq!(read_n(&mut s, 1), b"a");
        p.sever();
        assert_closed(&mut s);
        let mut s = connect(&p);
        s.write_all(b"b").expect("write");
        assert_eq!(read_n(&mut s, 1), b"b");
    }

    #[test]
    fn sever_closes_stalled_connections_too() {
        let p = Proxy::start(echo()).expect("proxy");
        let mut s = connect(&p);
        s.write_all(b"a").expect("write");
        assert_eq!(read_n(&mut s, 1), b"a");
        p.cut();
        p.sever();
        assert_closed(&mut s);
    }

    #[test]
    fn delay_holds_every_chunk() {
        let p = Proxy::start(echo()).expect("proxy");
        p.delay(Duration::from_millis(100));
        let mut s = connect(&p);
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let t = Instant::now();
        s.write_all(b"x").expect("write");
        assert_eq!(read_n(&mut s, 1), b"x");
        // Once on the way there, once on the way back.
        assert!(
            t.elapsed() >= Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
    }
}
