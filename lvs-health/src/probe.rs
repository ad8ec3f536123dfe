//! Half-open TCP probes: the engine's TCP connect check for thousands of
//! servers, at a fraction of a full connect's cost.
//!
//! A probe is one SYN sent over a shared raw socket. A SYN-ACK means the
//! server would accept a connection (the kernel answers the SYN-ACK with a
//! reset, as no socket owns our port); a reset means it refuses; silence
//! until the timeout means it is down or its accept queue is full (a full
//! queue drops SYNs, so a connect would time out as well). No socket is
//! created per check, no handshake is completed and the server never sees an
//! accepted connection.
//!
//! It needs `CAP_NET_RAW` and covers IPv4; callers fall back to a connect
//! otherwise ([`SynProber::new`] fails, [`SynProber::probe`] declines IPv6).
//! A classic BPF filter keeps every TCP packet on the host but the replies
//! to our reserved source port out of the socket's queue.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::tcp::{ipv4_checksum, MutableTcpPacket, TcpFlags, TcpOption, TcpPacket};
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use lvs_core::check::Failure;

/// How long a looked-up source address is trusted before it is looked up
/// again (routes rarely change; a stale one only costs a failed probe).
const SOURCE_LIFETIME: Duration = Duration::from_secs(30);
/// A SYN with an MSS option: 20 bytes of header and 4 of option.
const SYN_LENGTH: usize = 24;

/// What came back for a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    Open,
    Refused,
}

/// Probes waiting for their reply, keyed by the server and the
/// acknowledgement number its reply must carry (our sequence number + 1).
#[derive(Default)]
struct Waiting {
    sequences: Sequences,
    replies: HashMap<(SocketAddrV4, u32), oneshot::Sender<Reply>>,
    sources: HashMap<Ipv4Addr, (Ipv4Addr, Instant)>,
}

struct Shared {
    socket: AsyncFd<OwnedFd>,
    port: u16,
    waiting: Mutex<Waiting>,
}

impl Shared {
    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A raw socket shared by every probe, and the task that reads its replies.
/// Dropping it stops the task.
pub struct SynProber {
    shared: Arc<Shared>,
    reader: JoinHandle<()>,
    /// Holds the source port: with a bound socket on it, no connection of
    /// this host can take it, so every reply to it is ours.
    _reservation: tokio::net::TcpSocket,
}

impl SynProber {
    /// Opens the raw socket and reserves a source port. Must be called
    /// inside a tokio runtime; fails without `CAP_NET_RAW`.
    pub fn new() -> io::Result<SynProber> {
        let reservation = tokio::net::TcpSocket::new_v4()?;
        reservation.bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))?;
        let port = reservation.local_addr()?.port();
        // SAFETY: socket(2) with constant arguments; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::IPPROTO_TCP,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        attach_reply_filter(&fd, port)?;
        enlarge_receive_buffer(&fd);
        // SAFETY: the AsyncFd owns the descriptor and nothing closes or
        // replaces it while it is registered.
        let socket = unsafe { AsyncFd::register(fd)? };
        let shared = Arc::new(Shared {
            socket,
            port,
            waiting: Mutex::new(Waiting::default()),
        });
        let reader = tokio::spawn(read_replies(Arc::clone(&shared)));
        Ok(SynProber {
            shared,
            reader,
            _reservation: reservation,
        })
    }

    /// Probes `target`: `Ok` when it answers the SYN with a SYN-ACK, a
    /// `Connect` failure when it resets, `ConnectTimeout` when nothing comes
    /// back within `limit`. `None` for targets it does not cover (IPv6).
    pub async fn probe(&self, target: SocketAddr, limit: Duration) -> Option<Result<(), Failure>> {
        let SocketAddr::V4(target) = target else {
            return None;
        };
        Some(self.probe_v4(target, limit).await)
    }

    async fn probe_v4(&self, target: SocketAddrV4, limit: Duration) -> Result<(), Failure> {
        let source = self
            .source_for(*target.ip())
            .map_err(|e| Failure::Connect(e.to_string()))?;
        let (sender, receiver) = oneshot::channel();
        let sequence = {
            let mut waiting = self.shared.waiting();
            let sequence = waiting.sequences.next(target);
            waiting.replies.insert((target, sequence.wrapping_add(1)), sender);
            sequence
        };
        // Removes the entry however the probe ends, timeout or cancellation.
        let _entry = Entry {
            shared: &self.shared,
            key: (target, sequence.wrapping_add(1)),
        };
        let segment = syn_segment(source, self.shared.port, target, sequence);
        self.send(&segment, target)
            .await
            .map_err(|e| Failure::Connect(e.to_string()))?;
        match tokio::time::timeout(limit, receiver).await {
            Ok(Ok(Reply::Open)) => Ok(()),
            Ok(Ok(Reply::Refused)) => Err(Failure::Connect(
                io::Error::from_raw_os_error(libc::ECONNREFUSED).to_string(),
            )),
            // The sender is only dropped with the prober itself.
            Ok(Err(_)) | Err(_) => Err(Failure::ConnectTimeout),
        }
    }

    /// The address the kernel would send from to reach `destination`.
    fn source_for(&self, destination: Ipv4Addr) -> io::Result<Ipv4Addr> {
        let now = Instant::now();
        if let Some((source, when)) = self.shared.waiting().sources.get(&destination) {
            if now.duration_since(*when) < SOURCE_LIFETIME {
                return Ok(*source);
            }
        }
        // Connecting a UDP socket runs the route look-up and sends nothing.
        let socket = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        socket.connect((destination, 9))?;
        let SocketAddr::V4(local) = socket.local_addr()? else {
            return Err(io::Error::other("no IPv4 source address"));
        };
        self.shared
            .waiting()
            .sources
            .insert(destination, (*local.ip(), now));
        Ok(*local.ip())
    }

    async fn send(&self, segment: &[u8], target: SocketAddrV4) -> io::Result<()> {
        let address = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(*target.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        loop {
            let mut guard = self.shared.socket.writable().await?;
            let sent = guard.try_io(|fd| {
                // SAFETY: sendto(2) with a live buffer and a correctly sized address.
                let sent = unsafe {
                    libc::sendto(
                        fd.as_raw_fd(),
                        segment.as_ptr().cast(),
                        segment.len(),
                        0,
                        (&address as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                };
                if sent < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
            match sent {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

impl Drop for SynProber {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

struct Entry<'a> {
    shared: &'a Shared,
    key: (SocketAddrV4, u32),
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        self.shared.waiting().replies.remove(&self.key);
    }
}

/// Sequence numbers no one outside can predict: a keyed hash (SipHash,
/// with keys the standard library draws from the operating system) of the
/// target and a counter, in the manner of RFC 6528's initial sequence
/// numbers. A server that sees its own probes learns nothing about the
/// numbers of the others, so it cannot answer for them; and a reply left
/// over from an earlier run matches no probe of this one.
struct Sequences {
    key: std::collections::hash_map::RandomState,
    counter: u64,
}

impl Default for Sequences {
    fn default() -> Sequences {
        Sequences {
            key: std::collections::hash_map::RandomState::new(),
            counter: 0,
        }
    }
}

impl Sequences {
    fn next(&mut self, target: SocketAddrV4) -> u32 {
        use std::hash::BuildHasher as _;
        self.counter += 1;
        // The low 32 bits of a 64-bit keyed hash.
        self.key.hash_one((target, self.counter)) as u32
    }
}

/// A SYN from `source:port` to `target` with sequence number `sequence`.
fn syn_segment(source: Ipv4Addr, port: u16, target: SocketAddrV4, sequence: u32) -> [u8; SYN_LENGTH] {
    let mut buffer = [0u8; SYN_LENGTH];
    if let Some(mut syn) = MutableTcpPacket::new(&mut buffer) {
        syn.set_source(port);
        syn.set_destination(target.port());
        syn.set_sequence(sequence);
        syn.set_data_offset((SYN_LENGTH / 4) as u8);
        syn.set_flags(TcpFlags::SYN);
        syn.set_window(64240);
        syn.set_options(&[TcpOption::mss(1460)]);
        let checksum = ipv4_checksum(&syn.to_immutable(), &source, target.ip());
        syn.set_checksum(checksum);
    }
    buffer
}

/// What a received IPv4 datagram says about a probe: the server, the
/// acknowledgement number and whether it accepts or refuses.
fn parse_reply(datagram: &[u8], port: u16) -> Option<(SocketAddrV4, u32, Reply)> {
    let ip = Ipv4Packet::new(datagram)?;
    let header = usize::from(ip.get_header_length()) * 4;
    let tcp = TcpPacket::new(datagram.get(header..)?)?;
    if tcp.get_destination() != port {
        return None;
    }
    let flags = tcp.get_flags();
    let reply = if flags & TcpFlags::RST != 0 {
        Reply::Refused
    } else if flags & (TcpFlags::SYN | TcpFlags::ACK) == TcpFlags::SYN | TcpFlags::ACK {
        Reply::Open
    } else {
        return None;
    };
    let server = SocketAddrV4::new(ip.get_source(), tcp.get_source());
    Some((server, tcp.get_acknowledgement(), reply))
}

async fn read_replies(shared: Arc<Shared>) {
    let mut buffer = [0u8; 256];
    loop {
        let Ok(mut guard) = shared.socket.readable().await else {
            return;
        };
        loop {
            let received = guard.try_io(|fd| {
                // SAFETY: recv(2) into a live buffer of the given size.
                let read = unsafe { libc::recv(fd.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len(), 0) };
                if read < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(read as usize)
                }
            });
            let read = match received {
                Ok(Ok(read)) => read,
                // Transient errors (ENOBUFS, EINTR) lose a reply at most.
                Ok(Err(_)) => continue,
                Err(_would_block) => break,
            };
            let Some((server, acknowledgement, reply)) = parse_reply(&buffer[..read], shared.port) else {
                continue;
            };
            if let Some(waiter) = shared.waiting().replies.remove(&(server, acknowledgement)) {
                let _ = waiter.send(reply);
            }
        }
    }
}

/// How many bytes of replies the raw socket may hold: a burst of thousands
/// of SYN-ACKs (checks that fell due together after the runtime was busy)
/// must wait in the queue, not be dropped and read as timeouts.
const RECEIVE_BUFFER: libc::c_int = 8 << 20;

/// Asks for [`RECEIVE_BUFFER`]: past the system's `rmem_max` with
/// `SO_RCVBUFFORCE` (root, which the raw socket needs anyway), else as
/// much as `SO_RCVBUF` gives. A smaller buffer only costs replies in a burst.
fn enlarge_receive_buffer(fd: &OwnedFd) {
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: setsockopt(2) on a live socket with a pointer to a local int of the given size.
        let set = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&RECEIVE_BUFFER as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if set == 0 {
            return;
        }
    }
}

/// A classic BPF program that passes only TCP segments to `port` carrying
/// RST, or SYN and ACK: the raw socket would otherwise copy in every TCP
/// segment the host receives.
fn attach_reply_filter(fd: &OwnedFd, port: u16) -> io::Result<()> {
    const LDX_MSH: u16 = (libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH) as u16;
    const LDH_IND: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_IND) as u16;
    const LDB_IND: u16 = (libc::BPF_LD | libc::BPF_B | libc::BPF_IND) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JSET: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
    const AND: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let op = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    let program = [
        op(LDX_MSH, 0, 0, 0),                     // X = IP header length
        op(LDH_IND, 0, 0, 2),                     // A = destination port
        op(JEQ, 0, 5, u32::from(port)),           // ours, or drop
        op(LDB_IND, 0, 0, 13),                    // A = flags
        op(JSET, 2, 0, u32::from(TcpFlags::RST)), // RST: keep
        op(AND, 0, 0, u32::from(TcpFlags::SYN | TcpFlags::ACK)),
        op(JEQ, 0, 1, u32::from(TcpFlags::SYN | TcpFlags::ACK)),
        op(RET, 0, 0, 0xffff), // keep
        op(RET, 0, 0, 0),      // drop
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: setsockopt(2) with a program that outlives the call; the
    // kernel copies it.
    let result = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_do_not_follow_from_one_another() {
        let a: SocketAddrV4 = "10.0.0.1:80".parse().expect("literal");
        let b: SocketAddrV4 = "10.0.0.2:80".parse().expect("literal");
        let mut sequences = Sequences::default();
        let mut other_run = Sequences::default();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let (x, y) = (sequences.next(a), sequences.next(b));
            // What a server sees of its own probe says nothing of the next one.
            for delta in [0u32, 1, 2] {
                assert_ne!(y, x.wrapping_add(delta));
            }
            assert_ne!(x, other_run.next(a), "two runs share numbers");
            seen.insert(x);
        }
        assert!(seen.len() > 9_990, "{} distinct of 10000", seen.len());
    }

    #[test]
    fn a_syn_and_the_replies_to_it() {
        let source = Ipv4Addr::new(10, 0, 0, 1);
        let target = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let syn = syn_segment(source, 40000, target, 0xdead_beef);
        let parsed = TcpPacket::new(&syn).expect("a whole header");
        assert_eq!(parsed.get_flags(), TcpFlags::SYN);
        assert_eq!((parsed.get_source(), parsed.get_destination()), (40000, 80));
        assert_eq!(parsed.get_sequence(), 0xdead_beef);
        assert_eq!(parsed.get_data_offset(), 6);
        assert_eq!(&syn[20..24], &[2, 4, 0x05, 0xb4], "MSS 1460");
        assert_eq!(
            parsed.get_checksum(),
            ipv4_checksum(&parsed, &source, target.ip())
        );

        // The server's answer, as an IPv4 datagram: 20 bytes of IP header.
        let answer = |flags: u8| {
            let mut datagram = vec![0u8; 40];
            datagram[0] = 0x45;
            datagram[9] = 6;
            datagram[12..16].copy_from_slice(&target.ip().octets());
            datagram[16..20].copy_from_slice(&source.octets());
            let mut tcp = MutableTcpPacket::new(&mut datagram[20..]).expect("room for a header");
            tcp.set_source(80);
            tcp.set_destination(40000);
            tcp.set_acknowledgement(0xdead_bef0);
            tcp.set_data_offset(5);
            tcp.set_flags(flags);
            datagram
        };
        let syn_ack = answer(TcpFlags::SYN | TcpFlags::ACK);
        assert_eq!(
            parse_reply(&syn_ack, 40000),
            Some((target, 0xdead_bef0, Reply::Open))
        );
        let reset = answer(TcpFlags::RST | TcpFlags::ACK);
        assert_eq!(
            parse_reply(&reset, 40000),
            Some((target, 0xdead_bef0, Reply::Refused))
        );
        assert_eq!(parse_reply(&syn_ack, 40001), None, "another port's");
        assert_eq!(parse_reply(&answer(TcpFlags::ACK), 40000), None, "a bare ACK");
        assert_eq!(parse_reply(&syn_ack[..30], 40000), None, "cut short");
    }
}
