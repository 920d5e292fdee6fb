//! Real packets between the lab's VMs, sent and answered by this process:
//! a thread enters a VM's network namespace (`setns` changes only the
//! calling thread's namespace) and uses ordinary sockets there; a socket
//! stays in the namespace it was made in, whichever thread uses it.
//!
//! A probe has three outcomes, and a test must keep them apart:
//! [`Outcome::Answered`] (the far end's answer came back),
//! [`Outcome::Silent`] (nothing came back within the wait: dropped on the
//! way), and `Err` (the probe could not run, or the far end refused, i.e. a
//! responder is missing). An `Err` is a failed test, never a "denied".

use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// Runs `f` on a new thread inside network namespace `ns` (a name under
/// /var/run/netns).
pub fn spawn_in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        // SAFETY: setns on a valid namespace fd affects only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
}

/// [`spawn_in_netns`] and wait for its result (a panic there panics here).
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    spawn_in_netns(ns, f)
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Listens on TCP `ports` inside namespace `ns` (e.g. a VM's), accepting
/// and closing every connection, for as long as the test process lives.
pub fn tcp_listen_in(ns: &str, ports: &[u16]) {
    serve_in(
        ns,
        ports,
        |p| TcpListener::bind(("0.0.0.0", p)),
        |l| {
            for conn in l.incoming() {
                drop(conn);
            }
        },
    );
}

/// Echoes every UDP datagram to `ports` inside namespace `ns` back to its
/// sender, for as long as the test process lives.
pub fn udp_echo_in(ns: &str, ports: &[u16]) {
    serve_in(
        ns,
        ports,
        |p| UdpSocket::bind(("0.0.0.0", p)),
        |s| {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                let _ = s.send_to(&buf[..n], from);
            }
        },
    );
}

/// Binds one socket per port inside `ns` (all bound when this returns) and
/// serves each on a thread of its own.
fn serve_in<S: Send + 'static>(
    ns: &str,
    ports: &[u16],
    bind: fn(u16) -> std::io::Result<S>,
    serve: fn(S),
) {
    let ports = ports.to_vec();
    let sockets = in_netns(ns, move || {
        ports
            .iter()
            .map(|p| bind(*p).unwrap_or_else(|e| panic!("bind port {p}: {e}")))
            .collect::<Vec<S>>()
    });
    for s in sockets {
        std::thread::spawn(move || serve(s));
    }
}

/// What a probe sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// A TCP connection to the port (answered: the handshake completed).
    Tcp(u16),
    /// A datagram to a [`udp_echo_in`] port (answered: the echo came back).
    Udp(u16),
    /// An ICMP echo request (answered: the echo reply came back).
    Icmp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Answered,
    Silent,
}

/// One probe from the VM in namespace `from_ns`. `sport` is the TCP/UDP
/// source port, or the ICMP echo identifier: the caller gives every probe
/// its own, so that no probe is taken by conntrack for the reply of an
/// earlier one.
#[derive(Debug, Clone)]
pub struct Probe {
    pub from_ns: String,
    pub src: Ipv4Addr,
    pub sport: u16,
    pub dst: Ipv4Addr,
    pub kind: ProbeKind,
}

impl Probe {
    fn send_here(&self, wait: Duration) -> Result<Outcome, String> {
        let what = format!(
            "{:?} {}:{} -> {} in {}",
            self.kind, self.src, self.sport, self.dst, self.from_ns
        );
        let result = match self.kind {
            ProbeKind::Tcp(port) => self.tcp(port, wait),
            ProbeKind::Udp(port) => self.udp(port, wait),
            ProbeKind::Icmp => self.icmp(wait),
        };
        result.map_err(|e| format!("probe {what} failed: {e}"))
    }

    fn tcp(&self, port: u16, wait: Duration) -> std::io::Result<Outcome> {
        let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        sock.set_reuse_address(true)?;
        sock.bind(&SocketAddrV4::new(self.src, self.sport).into())?;
        match sock.connect_timeout(&SocketAddrV4::new(self.dst, port).into(), wait) {
            Ok(()) => Ok(Outcome::Answered),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(Outcome::Silent),
            // Refused (no listener), unreachable, ...: not a dropped SYN.
            Err(e) => Err(e),
        }
    }

    fn udp(&self, port: u16, wait: Duration) -> std::io::Result<Outcome> {
        let sock = UdpSocket::bind((self.src, self.sport))?;
        // Connected: an ICMP port unreachable comes back as an error.
        sock.connect((self.dst, port))?;
        sock.set_read_timeout(Some(wait))?;
        let payload = format!("vpcroute probe {}", self.sport);
        sock.send(payload.as_bytes())?;
        let mut buf = [0u8; 512];
        match sock.recv(&mut buf) {
            Ok(n) if &buf[..n] == payload.as_bytes() => Ok(Outcome::Answered),
            Ok(n) => Err(std::io::Error::other(format!(
                "unexpected answer {:?}",
                String::from_utf8_lossy(&buf[..n])
            ))),
            Err(e) if is_timeout(&e) => Ok(Outcome::Silent),
            Err(e) => Err(e),
        }
    }

    /// A raw socket (root) so that the echo identifier is ours to choose.
    fn icmp(&self, wait: Duration) -> std::io::Result<Outcome> {
        let mut sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))?;
        sock.bind(&SocketAddrV4::new(self.src, 0).into())?;
        let seq = 1u16;
        let request = icmp_echo(self.sport, seq);
        sock.send_to(&request, &SocketAddrV4::new(self.dst, 0).into())?;
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 1500];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Outcome::Silent);
            }
            sock.set_read_timeout(Some(left))?;
            let n = match sock.read(&mut buf) {
                Ok(n) => n,
                Err(e) if is_timeout(&e) => return Ok(Outcome::Silent),
                Err(e) => return Err(e),
            };
            // A raw socket sees every ICMP packet: the IPv4 header first.
            let ihl = usize::from(buf[0] & 0x0f) * 4;
            if n < ihl + 8 {
                continue;
            }
            let from = Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]);
            let icmp = &buf[ihl..n];
            let id = u16::from_be_bytes([icmp[4], icmp[5]]);
            let got_seq = u16::from_be_bytes([icmp[6], icmp[7]]);
            if icmp[0] == 0 && from == self.dst && id == self.sport && got_seq == seq {
                return Ok(Outcome::Answered);
            }
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// An ICMP echo request (type 8, code 0) with its checksum.
fn icmp_echo(id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![8, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"vpcroute probe..");
    let mut sum: u32 = p
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let checksum = !(sum as u16);
    p[2..4].copy_from_slice(&checksum.to_be_bytes());
    p
}

/// Sends all `probes` at once (one thread each) and returns their outcomes
/// in the same order.
pub fn send_all(probes: &[Probe], wait: Duration) -> Vec<Result<Outcome, String>> {
    let handles: Vec<JoinHandle<Result<Outcome, String>>> = probes
        .iter()
        .map(|p| {
            let p = p.clone();
            spawn_in_netns(&p.from_ns.clone(), move || p.send_here(wait))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|_| Err("the probe's thread panicked".to_string()))
        })
        .collect()
}
