//! Half-open TCP probes: the engine's TCP connect check for thousands of
//! servers, at a fraction of a full connect's cost.
//!
//! A probe is one SYN sent over a shared raw socket. A SYN-ACK means the
//! server would accept a connection (the kernel answers the SYN-ACK with a
//! reset, as no socket owns our ports); a reset means it refuses; silence
//! until the timeout means it is down or its accept queue is full (a full
//! queue drops SYNs, so a connect would time out as well). No socket is
//! created per check, no handshake is completed and the server never sees an
//! accepted connection.
//!
//! One task drives every probe of a [`SynProber`]. It keeps the schedule of
//! the periodic probes ([`SynProber::watch`]) on one timer, however many
//! there are; it sends the SYNs that fall due together in one system call
//! (`sendmmsg`) and reads replies in batches (`recvmmsg`). It declares a
//! probe timed out only after reading every reply already queued, so a
//! prober that fell behind (a busy runtime) never mistakes its own delay for
//! a silent server.
//!
//! It needs `CAP_NET_RAW` and covers IPv4; callers fall back to a connect
//! otherwise ([`SynProber::new`] fails, [`SynProber::probe`] declines IPv6).
//! A classic BPF filter keeps every TCP packet on the host but the replies
//! to our reserved source ports out of the socket's queue.
//!
//! Consecutive probes of a server go out from different source ports (of
//! [`SOURCE_PORTS`], in turn). A server keeps a half-open connection until
//! our kernel's reset reaches it; if that reset is lost, a new SYN from the
//! same port meets the old connection and is answered with a bare ACK (or
//! nothing) instead of a SYN-ACK, and the probe would time out. From another
//! port it is a new connection, answered as any other.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::tcp::{ipv4_checksum, MutableTcpPacket, TcpFlags, TcpOption, TcpPacket};
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use lvs_core::check::Failure;

/// How long a looked-up source address is trusted before it is looked up
/// again (routes rarely change; a probe that times out looks it up anew).
const SOURCE_LIFETIME: Duration = Duration::from_secs(30);
/// A SYN with an MSS option: 20 bytes of header and 4 of option.
const SYN_LENGTH: usize = 24;
/// Wake-ups are rounded up to these, so that probes falling due close
/// together go out, and time out, in one batch.
const SLOT: Duration = Duration::from_millis(10);
/// A wait with no end in sight: a day.
const FOREVER: Duration = Duration::from_secs(86_400);
/// SYNs per `sendmmsg` call.
const SEND_BATCH: usize = 256;
/// How many source ports the probes take turns on.
pub const SOURCE_PORTS: usize = 4;
/// Replies per `recvmmsg` call, and the room for each: an IPv4 header and a
/// TCP header with every option (60 bytes each) fit.
const RECEIVE_BATCH: usize = 64;
const REPLY_ROOM: usize = 128;

/// What came back for a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    Open,
    Refused,
}

/// A periodic probe's handle, to stop it with [`SynProber::forget`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WatchId(u64);

/// What a periodic probe hands each result to, with the time from its SYN
/// going out to its answer (or its timeout); returning `false` stops it.
pub type OnResult = Box<dyn FnMut(Result<(), Failure>, Duration) -> bool + Send>;

/// When a periodic probe runs.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// The first probe goes out at this instant, and every later one on a
    /// whole number of intervals after it. When that point passes while
    /// the previous probe is still out (or the runtime is busy), the next
    /// one goes out as soon as it can, once, and the probe keeps its place
    /// after that rather than catching up (as a tokio interval that skips
    /// missed ticks).
    pub first: Instant,
    /// The time between probes.
    pub interval: Duration,
    /// How long a probe waits for its reply.
    pub timeout: Duration,
}

enum Command {
    Once {
        token: u64,
        target: SocketAddrV4,
        timeout: Duration,
        reply: oneshot::Sender<Result<(), Failure>>,
    },
    Watch {
        token: u64,
        target: SocketAddrV4,
        schedule: Schedule,
        on_result: OnResult,
    },
    Forget(u64),
}

/// A raw socket shared by every probe, and the task that drives them.
/// Dropping it stops the task, and with it every periodic probe.
pub struct SynProber {
    commands: mpsc::UnboundedSender<Command>,
    tokens: AtomicU64,
    task: JoinHandle<()>,
}

impl SynProber {
    /// Opens the raw socket, reserves the source ports and starts the task that
    /// drives the probes. Must be called inside a tokio runtime; fails
    /// without `CAP_NET_RAW`.
    pub fn new() -> io::Result<SynProber> {
        let driver = Driver::open()?;
        let socket = Arc::clone(&driver.socket);
        let (commands, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(drive(driver, socket, receiver));
        Ok(SynProber {
            commands,
            tokens: AtomicU64::new(0),
            task,
        })
    }

    /// Probes `target` once: `Ok` when it answers the SYN with a SYN-ACK, a
    /// `Connect` failure when it resets, `ConnectTimeout` when nothing comes
    /// back within `timeout`. `None` for targets it does not cover (IPv6).
    pub async fn probe(&self, target: SocketAddr, timeout: Duration) -> Option<Result<(), Failure>> {
        let SocketAddr::V4(target) = target else {
            return None;
        };
        let (reply, answer) = oneshot::channel();
        let sent = self.commands.send(Command::Once {
            token: self.tokens.fetch_add(1, Ordering::Relaxed),
            target,
            timeout,
            reply,
        });
        if sent.is_err() {
            return Some(Err(stopped()));
        }
        Some(answer.await.unwrap_or_else(|_| Err(stopped())))
    }

    /// Probes `target` on `schedule` until [`SynProber::forget`] or until
    /// `on_result` returns `false`, handing it each probe's result (as
    /// [`SynProber::probe`] would return it). `on_result` runs on the
    /// prober's task: it must not block. `None` for targets it does not
    /// cover (IPv6).
    pub fn watch(
        &self,
        target: SocketAddr,
        schedule: Schedule,
        on_result: impl FnMut(Result<(), Failure>, Duration) -> bool + Send + 'static,
    ) -> Option<WatchId> {
        let SocketAddr::V4(target) = target else {
            return None;
        };
        let token = self.tokens.fetch_add(1, Ordering::Relaxed);
        // A send fails only once the task is gone, which dropping the prober does.
        let _ = self.commands.send(Command::Watch {
            token,
            target,
            schedule,
            on_result: Box::new(on_result),
        });
        Some(WatchId(token))
    }

    /// Stops a periodic probe; a reply still on its way is ignored.
    pub fn forget(&self, watch: WatchId) {
        let _ = self.commands.send(Command::Forget(watch.0));
    }
}

impl Drop for SynProber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn stopped() -> Failure {
    Failure::Connect("the half-open prober stopped".into())
}

/// One probe, single or periodic.
struct Probe {
    target: SocketAddrV4,
    timeout: Duration,
    kind: Kind,
    /// The acknowledgement number its reply must carry, while it is out.
    out: Option<u32>,
    /// When it went out, while it is out.
    sent: Option<Instant>,
    /// When it next goes out, while it waits to.
    next: Option<Instant>,
    /// The point of its schedule its last (or next) probe belongs to.
    grid: Instant,
}

enum Kind {
    Once(Option<oneshot::Sender<Result<(), Failure>>>),
    Every {
        first: Instant,
        interval: Duration,
        on_result: OnResult,
    },
}

/// The task's state. The heaps hold entries that may have gone stale (a
/// probe forgotten or answered); an entry counts only while the probe's own
/// `next` or `out` still says the same.
struct Driver {
    socket: Arc<AsyncFd<OwnedFd>>,
    ports: [u16; SOURCE_PORTS],
    /// Hold the source ports: with a bound socket on each, no connection of
    /// this host can take one, so every reply to them is ours.
    _reservations: Vec<tokio::net::TcpSocket>,
    sequences: Sequences,
    sources: HashMap<Ipv4Addr, (Ipv4Addr, Instant)>,
    probes: HashMap<u64, Probe>,
    /// When probes go out: (instant, token).
    due: BinaryHeap<Reverse<(Instant, u64)>>,
    /// When probes out time out: (instant, token, acknowledgement).
    deadlines: BinaryHeap<Reverse<(Instant, u64, u32)>>,
    /// Probes out, by the server and the acknowledgement its reply carries.
    waiting: HashMap<(SocketAddrV4, u32), u64>,
    /// The origin of the wake-up slots.
    epoch: Instant,
    /// Each target's next source port, by turn.
    turns: HashMap<SocketAddrV4, usize>,
}

/// The prober's task. `socket` is the driver's own, held apart so that
/// waiting for it does not borrow the driver the other branches change.
async fn drive(
    mut driver: Driver,
    socket: Arc<AsyncFd<OwnedFd>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let sleep = tokio::time::sleep_until(Instant::now());
    tokio::pin!(sleep);
    loop {
        let wake = driver.next_wake().unwrap_or_else(|| Instant::now() + FOREVER);
        sleep.as_mut().reset(wake);
        tokio::select! {
            biased;
            command = commands.recv() => {
                let Some(command) = command else { return };
                driver.accept(command);
                while let Ok(command) = commands.try_recv() {
                    driver.accept(command);
                }
            }
            ready = socket.readable() => match ready {
                // Cleared before reading: a reply arriving meanwhile makes
                // the socket ready again rather than waiting for the next one.
                Ok(mut guard) => guard.clear_ready(),
                Err(_) => return,
            },
            () = &mut sleep => {}
        }
        driver.turn(Instant::now());
    }
}

impl Driver {
    /// Opens the raw socket and reserves the source ports (inside a tokio
    /// runtime, as root).
    fn open() -> io::Result<Driver> {
        let mut reservations = Vec::with_capacity(SOURCE_PORTS);
        let mut ports = [0u16; SOURCE_PORTS];
        for port in &mut ports {
            let reservation = tokio::net::TcpSocket::new_v4()?;
            reservation.bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))?;
            *port = reservation.local_addr()?.port();
            reservations.push(reservation);
        }
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
        attach_reply_filter(&fd, &ports)?;
        enlarge_receive_buffer(&fd);
        // SAFETY: the AsyncFd owns the descriptor and nothing closes or
        // replaces it while it is registered.
        let socket = Arc::new(unsafe { AsyncFd::register(fd)? });
        Ok(Driver {
            socket,
            ports,
            _reservations: reservations,
            sequences: Sequences::default(),
            sources: HashMap::new(),
            probes: HashMap::new(),
            due: BinaryHeap::new(),
            deadlines: BinaryHeap::new(),
            waiting: HashMap::new(),
            epoch: Instant::now(),
            turns: HashMap::new(),
        })
    }

    fn accept(&mut self, command: Command) {
        match command {
            Command::Once {
                token,
                target,
                timeout,
                reply,
            } => {
                let now = Instant::now();
                self.probes.insert(
                    token,
                    Probe {
                        target,
                        timeout,
                        kind: Kind::Once(Some(reply)),
                        out: None,
                        sent: None,
                        next: Some(now),
                        grid: now,
                    },
                );
                self.due.push(Reverse((now, token)));
            }
            Command::Watch {
                token,
                target,
                schedule,
                on_result,
            } => {
                self.probes.insert(
                    token,
                    Probe {
                        target,
                        timeout: schedule.timeout,
                        kind: Kind::Every {
                            first: schedule.first,
                            interval: schedule.interval.max(Duration::from_millis(1)),
                            on_result,
                        },
                        out: None,
                        sent: None,
                        next: Some(schedule.first),
                        grid: schedule.first,
                    },
                );
                self.due.push(Reverse((schedule.first, token)));
            }
            Command::Forget(token) => {
                if let Some(probe) = self.probes.remove(&token) {
                    self.forgotten(&probe);
                }
                // Turns of targets no probe has any more go, now and then.
                if self.turns.len() > 2 * self.probes.len() + 64 {
                    let live: std::collections::HashSet<SocketAddrV4> =
                        self.probes.values().map(|p| p.target).collect();
                    self.turns.retain(|target, _| live.contains(target));
                }
            }
        }
    }

    /// Forgets `probe`'s reply, if it is out.
    fn forgotten(&mut self, probe: &Probe) {
        if let Some(ack) = probe.out {
            self.waiting.remove(&(probe.target, ack));
        }
    }

    /// Whether a `due` entry still counts: the probe waits to go out then.
    fn waits_until(&self, token: u64, at: Instant) -> bool {
        self.probes.get(&token).is_some_and(|p| p.next == Some(at))
    }

    /// Whether a `deadlines` entry still counts: the probe is out with that
    /// acknowledgement number.
    fn is_out(&self, token: u64, ack: u32) -> bool {
        self.probes.get(&token).is_some_and(|p| p.out == Some(ack))
    }

    /// The next instant something is due (a probe to send, one to time
    /// out), rounded up to a slot; stale heap entries are dropped on the way.
    fn next_wake(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, token))) = self.due.peek() {
            if self.waits_until(token, at) {
                break;
            }
            self.due.pop();
        }
        while let Some(&Reverse((_, token, ack))) = self.deadlines.peek() {
            if self.is_out(token, ack) {
                break;
            }
            self.deadlines.pop();
        }
        let due = self.due.peek().map(|Reverse((at, _))| *at);
        let deadline = self.deadlines.peek().map(|Reverse((at, _, _))| *at);
        let earliest = match (due, deadline) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(grid_point(self.epoch, SLOT, earliest, Rounding::Up))
    }

    /// Everything that is due at `now`, in the order that keeps a late
    /// prober from blaming the servers: queued replies first, then
    /// timeouts, then new probes.
    fn turn(&mut self, now: Instant) {
        self.read_replies(now);
        while let Some(&Reverse((at, token, ack))) = self.deadlines.peek() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            let Some(target) = self
                .probes
                .get(&token)
                .map(|p| p.target)
                .filter(|_| self.is_out(token, ack))
            else {
                continue;
            };
            self.waiting.remove(&(target, ack));
            // The route may have changed under a cached source address.
            self.sources.remove(target.ip());
            self.finish(token, Err(Failure::ConnectTimeout), now);
        }
        self.send_due(now);
    }

    /// Hands `token`'s result on and schedules its next probe.
    fn finish(&mut self, token: u64, result: Result<(), Failure>, now: Instant) {
        let Some(probe) = self.probes.get_mut(&token) else {
            return;
        };
        probe.out = None;
        let took = probe
            .sent
            .take()
            .map_or(Duration::ZERO, |sent| now.saturating_duration_since(sent));
        let grid = probe.grid;
        let next = match &mut probe.kind {
            Kind::Once(reply) => {
                if let Some(reply) = reply.take() {
                    let _ = reply.send(result);
                }
                None
            }
            Kind::Every {
                first,
                interval,
                on_result,
            } => {
                if on_result(result, took) {
                    Some(next_point(*first, *interval, grid, now))
                } else {
                    None
                }
            }
        };
        match next {
            Some((at, grid)) => {
                probe.next = Some(at);
                probe.grid = grid;
                self.due.push(Reverse((at, token)));
            }
            None => {
                if let Some(probe) = self.probes.remove(&token) {
                    self.forgotten(&probe);
                }
            }
        }
    }

    /// Sends every probe due by `now`, in batches. (Not paced: a cap on
    /// each wake-up's probes would cap their rate when the runtime is slow,
    /// and starve the probes at the back.)
    fn send_due(&mut self, now: Instant) {
        let mut batch: Vec<(u64, [u8; SYN_LENGTH], libc::sockaddr_in)> = Vec::new();
        while let Some(&Reverse((at, token))) = self.due.peek() {
            if at > now {
                break;
            }
            self.due.pop();
            // A probe waiting to go out is never out as well.
            let Some(target) = self
                .probes
                .get(&token)
                .map(|p| p.target)
                .filter(|_| self.waits_until(token, at))
            else {
                continue;
            };
            let source = match self.source_for(*target.ip(), now) {
                Ok(source) => source,
                Err(e) => {
                    self.finish(token, Err(Failure::Connect(e.to_string())), now);
                    continue;
                }
            };
            let sequence = self.sequences.next(target);
            let ack = sequence.wrapping_add(1);
            if let Some(probe) = self.probes.get_mut(&token) {
                probe.next = None;
                probe.out = Some(ack);
            }
            let turn = self.turns.entry(target).or_insert(0);
            let port = self.ports[*turn % SOURCE_PORTS];
            *turn = turn.wrapping_add(1);
            self.waiting.insert((target, ack), token);
            batch.push((
                token,
                syn_segment(source, port, target, sequence),
                socket_address(target),
            ));
        }
        // Each timeout runs from now, not from the start of the turn: the
        // replies read and handed on before this took time of their own.
        let sent_at = Instant::now();
        for (token, _, _) in &batch {
            if let Some(probe) = self.probes.get_mut(token) {
                probe.sent = Some(sent_at);
                if let Some(ack) = probe.out {
                    let deadline = sent_at.checked_add(probe.timeout).unwrap_or(sent_at + FOREVER);
                    self.deadlines.push(Reverse((deadline, *token, ack)));
                }
            }
        }
        let fd = self.socket.get_ref().as_raw_fd();
        let mut start = 0;
        while start < batch.len() {
            let end = batch.len().min(start + SEND_BATCH);
            match send_many(fd, &batch[start..end]) {
                Ok(sent) if sent > 0 => start += sent.min(end - start),
                Ok(_) => return self.send_later(&batch[start..], now + SLOT),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The send queue is full: the rest go out a slot later.
                    return self.send_later(&batch[start..], now + SLOT);
                }
                Err(e) => {
                    // The first of the batch failed (no route, say): it alone.
                    let token = batch[start].0;
                    self.take_back(token);
                    self.finish(token, Err(Failure::Connect(e.to_string())), now);
                    start += 1;
                }
            }
        }
    }

    /// Schedules again, at `again`, probes that did not go out.
    fn send_later(&mut self, batch: &[(u64, [u8; SYN_LENGTH], libc::sockaddr_in)], again: Instant) {
        for &(token, _, _) in batch {
            self.take_back(token);
            if let Some(probe) = self.probes.get_mut(&token) {
                probe.next = Some(again);
                self.due.push(Reverse((again, token)));
            }
        }
    }

    /// Forgets that `token`'s probe is out (it did not go out after all).
    fn take_back(&mut self, token: u64) {
        if let Some(probe) = self.probes.get_mut(&token) {
            if let Some(ack) = probe.out.take() {
                self.waiting.remove(&(probe.target, ack));
            }
        }
    }

    /// Reads every queued reply and finishes the probes they answer.
    fn read_replies(&mut self, now: Instant) {
        let fd = self.socket.get_ref().as_raw_fd();
        let mut buffers = [[0u8; REPLY_ROOM]; RECEIVE_BATCH];
        loop {
            let lengths = match receive_many(fd, &mut buffers) {
                Ok(lengths) => lengths,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Would block: all read. Anything else (ENOBUFS) loses a reply at most.
                Err(_) => return,
            };
            let count = lengths.len();
            for (buffer, length) in buffers.iter().zip(lengths) {
                let Some((server, ack, reply)) = parse_reply(&buffer[..length], &self.ports) else {
                    continue;
                };
                let Some(token) = self.waiting.remove(&(server, ack)) else {
                    continue;
                };
                let result = match reply {
                    Reply::Open => Ok(()),
                    Reply::Refused => Err(Failure::Connect(
                        io::Error::from_raw_os_error(libc::ECONNREFUSED).to_string(),
                    )),
                };
                self.finish(token, result, now);
            }
            if count < RECEIVE_BATCH {
                return;
            }
        }
    }

    /// The address the kernel would send from to reach `destination`.
    fn source_for(&mut self, destination: Ipv4Addr, now: Instant) -> io::Result<Ipv4Addr> {
        if let Some((source, when)) = self.sources.get(&destination) {
            if now.saturating_duration_since(*when) < SOURCE_LIFETIME {
                return Ok(*source);
            }
        }
        // Connecting a UDP socket runs the route look-up and sends nothing.
        let socket = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        socket.connect((destination, 9))?;
        let SocketAddr::V4(local) = socket.local_addr()? else {
            return Err(io::Error::other("no IPv4 source address"));
        };
        self.sources.insert(destination, (*local.ip(), now));
        Ok(*local.ip())
    }
}

/// When a periodic probe whose last one belonged to `grid` goes out next,
/// and the point of its schedule (`first` plus whole `interval`s) that
/// one belongs to. As a tokio interval that skips missed ticks: the next
/// point, or at once if that point passed while the last probe was out
/// (a timeout as long as the interval), and then on the schedule again.
fn next_point(first: Instant, interval: Duration, grid: Instant, now: Instant) -> (Instant, Instant) {
    let following = grid.checked_add(interval).unwrap_or(grid);
    if following > now {
        return (following, following);
    }
    (now, grid_point(first, interval, now, Rounding::Down))
}

/// Which way [`grid_point`] rounds.
#[derive(Clone, Copy)]
enum Rounding {
    Down,
    Up,
}

/// The point of `origin` plus whole `step`s nearest `t` on the side
/// `rounding` says (`origin` itself for a `t` before it).
fn grid_point(origin: Instant, step: Duration, t: Instant, rounding: Rounding) -> Instant {
    let step = step.as_nanos().max(1);
    let since = t.saturating_duration_since(origin).as_nanos();
    let steps = match rounding {
        Rounding::Down => since / step,
        Rounding::Up => since.div_ceil(step),
    };
    origin + Duration::from_nanos(u64::try_from(steps * step).unwrap_or(u64::MAX))
}

fn socket_address(target: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(*target.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// One message of a `sendmmsg` or `recvmmsg` batch: one buffer, and the
/// address it goes to (none when receiving).
fn message(iovec: &mut libc::iovec, to: Option<&libc::sockaddr_in>) -> libc::mmsghdr {
    // SAFETY: msghdr is plain data; all-zero is its empty value.
    let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
    if let Some(address) = to {
        header.msg_name = (address as *const libc::sockaddr_in).cast_mut().cast();
        header.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    }
    header.msg_iov = iovec;
    header.msg_iovlen = 1;
    libc::mmsghdr {
        msg_hdr: header,
        msg_len: 0,
    }
}

/// Sends `batch` with one `sendmmsg`: how many went out, or the error of
/// the first (none went out).
fn send_many(fd: RawFd, batch: &[(u64, [u8; SYN_LENGTH], libc::sockaddr_in)]) -> io::Result<usize> {
    let mut iovecs: Vec<libc::iovec> = batch
        .iter()
        .map(|(_, segment, _)| libc::iovec {
            iov_base: segment.as_ptr().cast_mut().cast(),
            iov_len: segment.len(),
        })
        .collect();
    let mut messages: Vec<libc::mmsghdr> = batch
        .iter()
        .zip(iovecs.iter_mut())
        .map(|((_, _, address), iovec)| message(iovec, Some(address)))
        .collect();
    // SAFETY: every header points into `batch` and `iovecs`, which outlive
    // the call; the kernel only reads the segments and addresses.
    let sent = unsafe { libc::sendmmsg(fd, messages.as_mut_ptr(), messages.len() as libc::c_uint, 0) };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sent as usize)
    }
}

/// Reads up to one batch of datagrams with one `recvmmsg`, without
/// waiting: each one's length (truncated to its buffer).
fn receive_many(fd: RawFd, buffers: &mut [[u8; REPLY_ROOM]; RECEIVE_BATCH]) -> io::Result<Vec<usize>> {
    let mut iovecs: Vec<libc::iovec> = buffers
        .iter_mut()
        .map(|buffer| libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: buffer.len(),
        })
        .collect();
    let mut messages: Vec<libc::mmsghdr> = iovecs.iter_mut().map(|iovec| message(iovec, None)).collect();
    // SAFETY: every header points at a live buffer of the stated length;
    // no timeout is passed, and MSG_DONTWAIT keeps the call from blocking.
    let received = unsafe {
        libc::recvmmsg(
            fd,
            messages.as_mut_ptr(),
            messages.len() as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if received < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(messages[..received as usize]
        .iter()
        .map(|m| (m.msg_len as usize).min(REPLY_ROOM))
        .collect())
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
fn parse_reply(datagram: &[u8], ports: &[u16]) -> Option<(SocketAddrV4, u32, Reply)> {
    let ip = Ipv4Packet::new(datagram)?;
    let header = usize::from(ip.get_header_length()) * 4;
    let tcp = TcpPacket::new(datagram.get(header..)?)?;
    if !ports.contains(&tcp.get_destination()) {
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

/// A classic BPF program that passes only TCP segments to `ports` carrying
/// RST, or SYN and ACK: the raw socket would otherwise copy in every TCP
/// segment the host receives.
fn attach_reply_filter(fd: &OwnedFd, ports: &[u16; SOURCE_PORTS]) -> io::Result<()> {
    const LDX_MSH: u16 = (libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH) as u16;
    const LDH_IND: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_IND) as u16;
    const LDB_IND: u16 = (libc::BPF_LD | libc::BPF_B | libc::BPF_IND) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JSET: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
    const AND: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let op = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    let mut program = vec![
        op(LDX_MSH, 0, 0, 0), // X = IP header length
        op(LDH_IND, 0, 0, 2), // A = destination port
    ];
    // One of ours: on to the flags, just past the drop that follows.
    for (i, port) in ports.iter().enumerate() {
        program.push(op(JEQ, (SOURCE_PORTS - i) as u8, 0, u32::from(*port)));
    }
    program.extend([
        op(RET, 0, 0, 0),                         // none of ours: drop
        op(LDB_IND, 0, 0, 13),                    // A = flags
        op(JSET, 2, 0, u32::from(TcpFlags::RST)), // RST: keep
        op(AND, 0, 0, u32::from(TcpFlags::SYN | TcpFlags::ACK)),
        op(JEQ, 0, 1, u32::from(TcpFlags::SYN | TcpFlags::ACK)),
        op(RET, 0, 0, 0xffff), // keep
        op(RET, 0, 0, 0),      // drop
    ]);
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
    fn a_probe_out_past_its_point_goes_again_at_once_then_keeps_its_place() {
        let first = Instant::now();
        let second = Duration::from_secs(1);
        // Answered within the interval: the next point.
        assert_eq!(
            next_point(first, second, first, first + Duration::from_millis(300)),
            (first + second, first + second)
        );
        // Timed out after as long as the interval: at once, then on the schedule.
        let late = first + Duration::from_millis(1_010);
        assert_eq!(next_point(first, second, first, late), (late, first + second));
        assert_eq!(
            next_point(first, second, first + second, late + Duration::from_millis(20)),
            (first + second * 2, first + second * 2)
        );
        // Long stalls skip points rather than catch up.
        let stalled = first + Duration::from_millis(5_500);
        assert_eq!(
            next_point(first, second, first, stalled),
            (stalled, first + second * 5)
        );
    }

    /// The order of a turn: replies that wait in the socket are read before
    /// any timeout is declared, however late the turn comes (here, four
    /// timeouts late: the runtime was busy).
    #[test]
    fn replies_waiting_in_the_socket_are_read_before_any_timeout() {
        if !testkit::require_root("replies_waiting_in_the_socket_are_read_before_any_timeout") {
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let SocketAddr::V4(open) = listener.local_addr().expect("address") else {
            panic!("an IPv4 listener");
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let mut driver = Driver::open().expect("a raw socket as root");
            let mut answers = Vec::new();
            for token in 0..20 {
                let (reply, answer) = oneshot::channel();
                driver.accept(Command::Once {
                    token,
                    target: open,
                    timeout: Duration::from_millis(50),
                    reply,
                });
                answers.push(answer);
            }
            driver.turn(Instant::now());
            assert_eq!(driver.waiting.len(), 20, "all out");
            std::thread::sleep(Duration::from_millis(200));
            driver.turn(Instant::now());
            for answer in answers {
                assert_eq!(answer.await.expect("answered"), Ok(()));
            }
        });
        drop(listener);
    }

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
            parse_reply(&syn_ack, &[40000]),
            Some((target, 0xdead_bef0, Reply::Open))
        );
        let reset = answer(TcpFlags::RST | TcpFlags::ACK);
        assert_eq!(
            parse_reply(&reset, &[40000]),
            Some((target, 0xdead_bef0, Reply::Refused))
        );
        assert_eq!(parse_reply(&syn_ack, &[40001, 40002]), None, "another port's");
        assert_eq!(parse_reply(&answer(TcpFlags::ACK), &[40000]), None, "a bare ACK");
        assert_eq!(parse_reply(&syn_ack[..30], &[40000]), None, "cut short");
    }
}
