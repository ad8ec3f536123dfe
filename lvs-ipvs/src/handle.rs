//! The socket side: one generic-netlink socket and one family look-up for
//! the life of a handle, a timeout on every request, and pipelined batches.

use std::net::IpAddr;
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

use neli::consts::socket::NlFamily;
use neli::socket::NlSocket;
use neli::utils::Groups;

use crate::diff::{Operation, Table};
use crate::error::{ErrorKind, IpvsError, Op};
use crate::model::*;
use crate::wire::{self, Message, Request, WireError};

/// How long a request may wait for the kernel, unless set otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests sent before their acknowledgements are read, in a batch.
pub const BATCH_WINDOW: usize = 256;
const RECEIVE_BUFFER: usize = 1 << 20;
/// One received datagram's room: the kernel's netlink messages to us stay
/// well under it (dumps are cut at 32 KiB).
const SLOT: usize = 64 * 1024;
const SLOTS: usize = RECEIVE_BUFFER / SLOT;
/// The most service dumps one listing takes (see [`Ipvs::services`]).
pub const DUMP_ATTEMPTS: usize = 8;
/// Dumps in a row that must find nothing new before a large listing is taken.
const QUIET_DUMPS: usize = 2;
/// Services that surely fit in one dump read (the kernel fills up to 32 KiB).
const SERVICES_PER_READ: usize = 64;

/// Options of [`Ipvs::apply`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Count as done an add of what exists and a delete of what is gone
    /// (and starting a running daemon, stopping a stopped one).
    pub idempotent: bool,
}

/// A handle on the IPVS table of the calling thread's network namespace.
pub struct Ipvs {
    socket: NlSocket,
    family: u16,
    seq: u32,
    timeout: Duration,
    buffer: Vec<u8>,
    /// Datagrams read but not yet handed out: ranges of `buffer`.
    queued: std::collections::VecDeque<std::ops::Range<usize>>,
}

impl Ipvs {
    /// Opens the socket and resolves the `IPVS` family. When the family is
    /// missing it runs `modprobe -- ip_vs` once and tries again, as ipvsadm does.
    pub fn connect() -> Result<Ipvs, IpvsError> {
        match Ipvs::connect_without_modprobe() {
            Err(e) if e.kind == ErrorKind::NotAvailable => {
                let loaded = std::process::Command::new("/sbin/modprobe")
                    .args(["--", "ip_vs"])
                    .status();
                if loaded.is_ok_and(|s| s.success()) {
                    Ipvs::connect_without_modprobe()
                } else {
                    Err(e)
                }
            }
            other => other,
        }
    }

    /// Opens the socket and resolves the family, loading nothing.
    pub fn connect_without_modprobe() -> Result<Ipvs, IpvsError> {
        let mut ipvs = Ipvs::on_socket(Ipvs::open_socket()?, 0, DEFAULT_TIMEOUT);
        ipvs.family = ipvs.resolve_family()?;
        Ok(ipvs)
    }

    /// A second handle on the same table: a socket of its own in the
    /// namespace of the calling thread, the family id already known (no
    /// second look-up). For reading with several sockets at once.
    fn another(&self) -> Result<Ipvs, IpvsError> {
        Ok(Ipvs::on_socket(Ipvs::open_socket()?, self.family, self.timeout))
    }

    /// A blocking generic-netlink socket in the calling thread's namespace.
    fn open_socket() -> Result<NlSocket, IpvsError> {
        let io = |e: std::io::Error| IpvsError::new(Op::Connect, ErrorKind::io("", e));
        let socket = NlSocket::connect(NlFamily::Generic, None, Groups::empty()).map_err(io)?;
        socket.block().map_err(io)?;
        Ok(socket)
    }

    fn on_socket(socket: NlSocket, family: u16, timeout: Duration) -> Ipvs {
        Ipvs {
            socket,
            family,
            seq: 0,
            timeout,
            buffer: vec![0; RECEIVE_BUFFER],
            queued: std::collections::VecDeque::new(),
        }
    }

    /// How long each request may wait for the kernel.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The generic-netlink family id of IPVS in this kernel.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    /// Looks the `IPVS` family up with the controller, encoded and read by
    /// the wire module (the answer is read in place, not parsed whole).
    fn resolve_family(&mut self) -> Result<u16, IpvsError> {
        let op = Op::Connect;
        let protocol = |e: WireError| IpvsError::new(Op::Connect, ErrorKind::Protocol(e.to_string()));
        let seq = self.next_seq();
        self.send(&op, &wire::encode_family_lookup(seq))?;
        let deadline = Instant::now() + self.timeout;
        let mut family = None;
        loop {
            let received = self.receive(&op, deadline)?;
            for message in wire::messages(&self.buffer[received]).map_err(protocol)? {
                if message.seq() != seq {
                    continue;
                }
                match message {
                    Message::Data { attrs, .. } => {
                        family = Some(wire::decode_family_id(attrs).map_err(protocol)?)
                    }
                    Message::Error { errno, .. } if errno == libc::ENOENT => {
                        return Err(IpvsError::new(op, ErrorKind::NotAvailable))
                    }
                    Message::Error { errno, .. } => return Err(IpvsError::new(op, ErrorKind::Kernel(errno))),
                    Message::Ack { .. } | Message::Done { .. } => {
                        return family.ok_or_else(|| {
                            IpvsError::new(Op::Connect, ErrorKind::Protocol("no family id".into()))
                        })
                    }
                }
            }
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn send(&self, op: &Op, bytes: &[u8]) -> Result<(), IpvsError> {
        self.socket
            .send(bytes, neli::consts::socket::Msg::empty())
            .map(|_| ())
            .map_err(|e| IpvsError::new(op.clone(), ErrorKind::io("send: ", e)))
    }

    /// The next datagram from the kernel, as a range of the buffer, waiting
    /// for one until `deadline`. Datagrams are read as many as are waiting
    /// per system call (`recvmmsg`): a dump's last data and its `NLMSG_DONE`
    /// (which the kernel queues while the data is read) come in one call.
    /// A range stays valid until the next call.
    fn receive(&mut self, op: &Op, deadline: Instant) -> Result<std::ops::Range<usize>, IpvsError> {
        loop {
            if let Some(range) = self.queued.pop_front() {
                return Ok(range);
            }
            let io = |e: std::io::Error| IpvsError::new(op.clone(), ErrorKind::io("receive: ", e));
            match self.receive_waiting() {
                Ok(0) => {}
                Ok(_) => continue,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(IpvsError::new(op.clone(), ErrorKind::Timeout(self.timeout)));
            }
            let mut poll = libc::pollfd {
                fd: self.socket.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let millis = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd for the duration of the call.
            if unsafe { libc::poll(&mut poll, 1, millis) } < 0 {
                let error = std::io::Error::last_os_error();
                if error.kind() != std::io::ErrorKind::Interrupted {
                    return Err(IpvsError::new(op.clone(), ErrorKind::io("poll: ", error)));
                }
            }
        }
    }

    /// Reads the datagrams waiting on the socket, without blocking, into the
    /// buffer's slots; queues their ranges and returns how many there were.
    fn receive_waiting(&mut self) -> std::io::Result<usize> {
        let base = self.buffer.as_mut_ptr();
        let mut iovecs: [libc::iovec; SLOTS] = std::array::from_fn(|i| libc::iovec {
            // SAFETY: each slot lies within the buffer, which outlives the call.
            iov_base: unsafe { base.add(i * SLOT) }.cast(),
            iov_len: SLOT,
        });
        // SAFETY: an all-zero mmsghdr is valid (no name, no control data).
        let mut headers: [libc::mmsghdr; SLOTS] = unsafe { std::mem::zeroed() };
        for (header, iovec) in headers.iter_mut().zip(iovecs.iter_mut()) {
            header.msg_hdr.msg_iov = iovec;
            header.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: the headers and iovecs point into live memory for the call.
        let count = unsafe {
            libc::recvmmsg(
                self.socket.as_raw_fd(),
                headers.as_mut_ptr(),
                SLOTS as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if count < 0 {
            return Err(std::io::Error::last_os_error());
        }
        for (i, header) in headers.iter().take(count as usize).enumerate() {
            if header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                return Err(std::io::Error::other("a reply did not fit its buffer"));
            }
            self.queued
                .push_back(i * SLOT..i * SLOT + header.msg_len as usize);
        }
        Ok(count as usize)
    }

    /// Sends one request and decodes each data message of its answer with `decode`.
    fn exchange<T>(
        &mut self,
        op: Op,
        request: &Request,
        mut decode: impl FnMut(&[u8]) -> Result<T, WireError>,
    ) -> Result<Vec<T>, IpvsError> {
        let protocol = |op: &Op, e: WireError| IpvsError::new(op.clone(), ErrorKind::Protocol(e.to_string()));
        let seq = self.next_seq();
        self.send(&op, &wire::encode(request, self.family, seq))?;
        let deadline = Instant::now() + self.timeout;
        let mut data = Vec::new();
        loop {
            let received = self.receive(&op, deadline)?;
            for message in wire::messages(&self.buffer[received]).map_err(|e| protocol(&op, e))? {
                if message.seq() != seq {
                    continue;
                }
                match message {
                    Message::Data { attrs, .. } => data.push(decode(attrs).map_err(|e| protocol(&op, e))?),
                    Message::Ack { .. } | Message::Done { .. } => return Ok(data),
                    Message::Error { errno, .. } => return Err(IpvsError::new(op, ErrorKind::Kernel(errno))),
                }
            }
        }
    }

    /// Sends a request answered by an acknowledgement alone.
    fn command(&mut self, op: Op, request: &Request) -> Result<(), IpvsError> {
        self.exchange(op, request, |_| Ok(())).map(|_| ())
    }

    /// Sends a request answered by one data message.
    fn get_one<T>(
        &mut self,
        op: Op,
        request: &Request,
        decode: impl FnMut(&[u8]) -> Result<T, WireError>,
    ) -> Result<T, IpvsError> {
        self.exchange(op.clone(), request, decode)?
            .into_iter()
            .next()
            .ok_or_else(|| IpvsError::new(op, ErrorKind::Protocol("no reply".into())))
    }

    /// Adds `service` (`ipvsadm -A`).
    pub fn add_service(&mut self, service: &Service) -> Result<(), IpvsError> {
        let operation = Operation::AddService(service.clone());
        self.command(op_of(&operation), &operation.request())
    }

    /// Changes `service`'s settings (`ipvsadm -E`).
    pub fn edit_service(&mut self, service: &Service) -> Result<(), IpvsError> {
        let operation = Operation::EditService(service.clone());
        self.command(op_of(&operation), &operation.request())
    }

    /// Deletes a service and its destinations.
    pub fn delete_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError> {
        self.command(Op::DeleteService(*key), &Request::DelService(*key))
    }

    /// One service, with its counters.
    pub fn service(&mut self, key: &ServiceKey) -> Result<Service, IpvsError> {
        self.get_one(
            Op::GetService(*key),
            &Request::GetService(*key),
            wire::decode_service,
        )
    }

    /// Every service, in the kernel's order.
    ///
    /// The kernel resumes a dump that spans several reads by counting the
    /// services of *every* network namespace, so a service deleted in another
    /// namespace between two reads can make a dump skip one of ours (and an
    /// added one, repeat one). So a large dump is repeated until two dumps in
    /// a row find no service the earlier ones missed (at most
    /// [`DUMP_ATTEMPTS`] dumps), and the services found are listed once each.
    /// A dump that fits one read is taken as it is.
    pub fn services(&mut self) -> Result<Vec<Service>, IpvsError> {
        let mut found = self.services_dump()?;
        let mut keys: std::collections::HashSet<ServiceKey> =
            std::collections::HashSet::with_capacity(found.len());
        found.retain(|s| keys.insert(s.key));
        if found.len() <= SERVICES_PER_READ {
            return Ok(found);
        }
        let mut quiet_dumps = 0;
        for _ in 1..DUMP_ATTEMPTS {
            let before = found.len();
            for service in self.services_dump()? {
                if keys.insert(service.key) {
                    found.push(service);
                }
            }
            quiet_dumps = if found.len() == before { quiet_dumps + 1 } else { 0 };
            if quiet_dumps == QUIET_DUMPS {
                break;
            }
        }
        Ok(found)
    }

    /// One service dump, as the kernel gives it.
    fn services_dump(&mut self) -> Result<Vec<Service>, IpvsError> {
        self.exchange(Op::GetServices, &Request::GetServices, wire::decode_service)
    }

    /// Adds `dest` to the service `key` (`ipvsadm -a`).
    pub fn add_destination(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        self.command(Op::AddDest(*key), &Request::NewDest(*key, dest.clone()))
    }

    /// Changes `dest`'s settings in the service `key` (`ipvsadm -e`).
    pub fn edit_destination(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        self.command(Op::EditDest(*key), &Request::SetDest(*key, dest.clone()))
    }

    /// Deletes the destination at `addr`:`port` from the service `key` (`ipvsadm -d`).
    pub fn delete_destination(&mut self, key: &ServiceKey, addr: IpAddr, port: u16) -> Result<(), IpvsError> {
        self.command(Op::DeleteDest(*key), &Request::DelDest(*key, addr, port))
    }

    /// The destinations of a service (one dump). A service that does not
    /// exist has none (the kernel answers an empty dump).
    pub fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<Destination>, IpvsError> {
        let family = key.family();
        self.exchange(Op::GetDests(*key), &Request::GetDests(*key), |attrs| {
            wire::decode_dest(attrs, family)
        })
    }

    /// The connection timeouts (`ipvsadm -L --timeout`).
    pub fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        self.get_one(Op::GetTimeouts, &Request::GetConfig, |attrs| {
            Ok(wire::decode_timeouts(attrs))
        })
    }

    /// Sets the timeouts; a zero leaves that one unchanged.
    pub fn set_timeouts(&mut self, timeouts: Timeouts) -> Result<(), IpvsError> {
        self.command(Op::SetTimeouts, &Request::SetConfig(timeouts))
    }

    /// The IPVS version and connection table size.
    pub fn info(&mut self) -> Result<Info, IpvsError> {
        self.get_one(Op::GetInfo, &Request::GetInfo, wire::decode_info)
    }

    /// Zeroes the counters of one service, or of every service.
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), IpvsError> {
        self.command(Op::Zero(key.copied()), &Request::Zero(key.copied()))
    }

    /// Deletes every service.
    pub fn flush(&mut self) -> Result<(), IpvsError> {
        self.command(Op::Flush, &Request::Flush)
    }

    /// Starts a connection-sync daemon (`ipvsadm --start-daemon`).
    pub fn start_daemon(&mut self, daemon: &Daemon) -> Result<(), IpvsError> {
        self.command(Op::StartDaemon, &Request::NewDaemon(daemon.clone()))
    }

    /// Stops the sync daemon of `state`.
    ///
    /// The request is followed by a dump of the daemons as a barrier. When the
    /// kernel stops a daemon thread that has not yet run, `kthread_stop`
    /// returns `EINTR`, and netlink sends no acknowledgement for `EINTR`
    /// (`netlink_rcv_skb`): a caller waiting for one would wait forever,
    /// although the daemon is gone. The kernel answers one socket's requests
    /// in order, so once the dump is answered the stop has been handled; if
    /// its acknowledgement never came, the dump tells whether it worked.
    pub fn stop_daemon(&mut self, state: DaemonState) -> Result<(), IpvsError> {
        let op = Op::StopDaemon;
        let protocol = |e: WireError| IpvsError::new(Op::StopDaemon, ErrorKind::Protocol(e.to_string()));
        let stop_seq = self.next_seq();
        let mut bytes = wire::encode(&Request::DelDaemon(state), self.family, stop_seq);
        let dump_seq = self.next_seq();
        wire::encode_into(&Request::GetDaemons, self.family, dump_seq, &mut bytes);
        self.send(&op, &bytes)?;
        let deadline = Instant::now() + self.timeout;
        let mut stop_result = None;
        let mut still_running = false;
        loop {
            let received = self.receive(&op, deadline)?;
            for message in wire::messages(&self.buffer[received]).map_err(protocol)? {
                match message {
                    Message::Ack { seq, .. } if seq == stop_seq => stop_result = Some(Ok(())),
                    Message::Error { seq, errno, .. } if seq == stop_seq => {
                        stop_result = Some(Err(IpvsError::new(op.clone(), ErrorKind::Kernel(errno))))
                    }
                    Message::Data { seq, attrs, .. } if seq == dump_seq => {
                        still_running |= wire::decode_daemon(attrs).map_err(protocol)?.state == state;
                    }
                    Message::Done { seq, .. } | Message::Ack { seq, .. } | Message::Error { seq, .. }
                        if seq == dump_seq =>
                    {
                        return match stop_result {
                            Some(result) => result,
                            // The acknowledgement was swallowed (EINTR): the dump decides.
                            None if !still_running => Ok(()),
                            None => Err(IpvsError::new(
                                op,
                                ErrorKind::Protocol(
                                    "the kernel neither acknowledged the stop nor stopped the daemon".into(),
                                ),
                            )),
                        };
                    }
                    _ => {}
                }
            }
        }
    }

    /// The running sync daemons (master first).
    pub fn daemons(&mut self) -> Result<Vec<Daemon>, IpvsError> {
        self.exchange(Op::GetDaemons, &Request::GetDaemons, wire::decode_daemon)
    }

    /// The whole table: one service dump, then one destination dump per service.
    pub fn snapshot(&mut self) -> Result<Table, IpvsError> {
        let mut table = Table::default();
        for (service, destinations) in self.listing()? {
            table.insert(service, destinations);
        }
        Ok(table)
    }

    /// How many active connections the table holds: every destination's
    /// (ipvsadm's `ActiveConn`, established TCP connections). Connections a
    /// backup sync daemon brings count too, so routers can compare their
    /// tables; inactive ones (closing, or UDP) are left out, since a
    /// closing connection is not sent again and would never match.
    pub fn active_connections(&mut self) -> Result<u64, IpvsError> {
        Ok(self
            .listing()?
            .iter()
            .flat_map(|(_, destinations)| destinations)
            .map(|d| u64::from(d.active_conns))
            .sum())
    }

    /// Every service with its destinations, in the kernel's order (the order
    /// `ipvsadm --nosort` shows). The destinations of a large table are read
    /// over two sockets at once, half of the services each: a dump per
    /// service is most of the time a listing takes.
    pub fn listing(&mut self) -> Result<Vec<(Service, Vec<Destination>)>, IpvsError> {
        const PARALLEL_FROM: usize = 64;
        let services = self.services()?;
        let (first_half, second_half) = services.split_at(services.len() / 2);
        let read = |ipvs: &mut Ipvs, part: &[Service]| -> Result<Vec<Vec<Destination>>, IpvsError> {
            part.iter().map(|s| ipvs.destinations(&s.key)).collect()
        };
        // The second socket is opened here, in this thread's namespace.
        let second = if services.len() >= PARALLEL_FROM {
            self.another().ok()
        } else {
            None
        };
        let (first, second) = match second {
            Some(mut other) => std::thread::scope(|scope| {
                let worker = scope.spawn(move || read(&mut other, second_half));
                let first = read(self, first_half);
                let second = worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (first, second)
            }),
            None => (read(self, first_half), read(self, second_half)),
        };
        let destinations = first?.into_iter().chain(second?);
        Ok(services.into_iter().zip(destinations).collect())
    }

    /// Applies many operations, sending up to [`BATCH_WINDOW`] requests at
    /// once before reading their acknowledgements. Returns one result per
    /// operation, in order; a failure does not stop the rest.
    pub fn apply(&mut self, operations: &[Operation], options: ApplyOptions) -> Vec<Result<(), IpvsError>> {
        let mut results: Vec<Result<(), IpvsError>> = Vec::with_capacity(operations.len());
        for window in operations.chunks(BATCH_WINDOW) {
            results.extend(self.apply_window(window, options));
        }
        results
    }

    /// Sends a window of operations in one message buffer, unacknowledged,
    /// followed by an acknowledged `GET_INFO`: the kernel handles them in
    /// order, so once that is answered, every operation without an error
    /// message has succeeded.
    fn apply_window(&mut self, window: &[Operation], options: ApplyOptions) -> Vec<Result<(), IpvsError>> {
        let mut results: Vec<Result<(), IpvsError>> = Vec::with_capacity(window.len());
        let first_seq = self.seq.wrapping_add(1);
        let mut bytes = Vec::with_capacity(window.len() * 136 + 32);
        for operation in window {
            let seq = self.next_seq();
            wire::encode_unacknowledged_into(&operation.request(), self.family, seq, &mut bytes);
            results.push(Ok(()));
        }
        let barrier = self.next_seq();
        wire::encode_into(&Request::GetInfo, self.family, barrier, &mut bytes);
        let fail_all = |results: &mut Vec<Result<(), IpvsError>>, kind: ErrorKind| {
            for (index, result) in results.iter_mut().enumerate() {
                *result = Err(IpvsError::new(op_of(&window[index]), kind.clone()));
            }
        };
        if let Err(e) = self.send(&Op::Flush, &bytes) {
            fail_all(&mut results, e.kind);
            return results;
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            let received = match self.receive(&Op::Flush, deadline) {
                Ok(received) => received,
                Err(e) => {
                    // Unknown whether the kernel got to them: say so for every one.
                    fail_all(&mut results, e.kind);
                    return results;
                }
            };
            let messages = match wire::messages(&self.buffer[received]) {
                Ok(messages) => messages,
                Err(e) => {
                    fail_all(&mut results, ErrorKind::Protocol(e.to_string()));
                    return results;
                }
            };
            for message in messages {
                if message.seq() == barrier {
                    if matches!(message, Message::Ack { .. } | Message::Error { .. }) {
                        return results;
                    }
                    continue;
                }
                let index = message.seq().wrapping_sub(first_seq) as usize;
                if let (Some(operation), Message::Error { errno, .. }) = (window.get(index), message) {
                    if !(options.idempotent && operation.is_already_done(errno)) {
                        results[index] = Err(IpvsError::new(op_of(operation), ErrorKind::Kernel(errno)));
                    }
                }
            }
        }
    }
}

/// The error context of an operation.
pub(crate) fn op_of(operation: &Operation) -> Op {
    match operation {
        Operation::AddService(s) => Op::AddService {
            key: s.key,
            scheduler: s.scheduler.clone(),
            persistence_engine: s.persistence_engine.clone(),
        },
        Operation::EditService(s) => Op::EditService {
            key: s.key,
            scheduler: s.scheduler.clone(),
            persistence_engine: s.persistence_engine.clone(),
        },
        Operation::DeleteService(key) => Op::DeleteService(*key),
        Operation::AddDest(key, _) => Op::AddDest(*key),
        Operation::EditDest(key, _) => Op::EditDest(*key),
        Operation::DeleteDest(key, ..) => Op::DeleteDest(*key),
        Operation::SetTimeouts(_) => Op::SetTimeouts,
        Operation::Zero(key) => Op::Zero(*key),
        Operation::Flush => Op::Flush,
        Operation::StartDaemon(_) => Op::StartDaemon,
        Operation::StopDaemon(_) => Op::StopDaemon,
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::{FromRawFd, OwnedFd};

    use super::*;

    /// A handle whose "kernel" is the other end of a datagram socket pair:
    /// it receives every request and answers none.
    fn unanswered(timeout: Duration) -> (Ipvs, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: fds has room for the two descriptors socketpair writes.
        let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0, fds.as_mut_ptr()) };
        assert_eq!(rc, 0, "socketpair: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors are fresh and owned by nothing else.
        let (socket, peer) = unsafe { (NlSocket::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        (Ipvs::on_socket(socket, 0x2a, timeout), peer)
    }

    fn next_request(peer: &OwnedFd) -> Vec<u8> {
        let mut buffer = vec![0u8; 4096];
        // SAFETY: the buffer is valid for its length.
        let n = unsafe {
            libc::recv(
                std::os::fd::AsRawFd::as_raw_fd(peer),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                libc::MSG_DONTWAIT,
            )
        };
        assert!(n > 0, "no request was sent: {}", std::io::Error::last_os_error());
        buffer.truncate(n as usize);
        buffer
    }

    #[test]
    fn a_request_never_answered_times_out_with_its_operation() {
        let timeout = Duration::from_millis(150);
        let (mut ipvs, peer) = unanswered(timeout);
        let started = Instant::now();
        let error = ipvs.info().expect_err("nobody answers");
        assert!(
            started.elapsed() >= timeout,
            "gave up early: {:?}",
            started.elapsed()
        );
        assert_eq!((error.op, error.kind), (Op::GetInfo, ErrorKind::Timeout(timeout)));
        assert_eq!(next_request(&peer), wire::encode(&Request::GetInfo, 0x2a, 1));

        // The same for a stop with its barrier, and for a batch: every
        // operation of an unanswered batch says it timed out.
        let error = ipvs.stop_daemon(DaemonState::Master).expect_err("nobody answers");
        assert_eq!(
            (error.op, error.kind),
            (Op::StopDaemon, ErrorKind::Timeout(timeout))
        );
        let results = ipvs.apply(
            &[Operation::Flush, Operation::Zero(None)],
            ApplyOptions::default(),
        );
        assert_eq!(results.len(), 2);
        for result in results {
            assert_eq!(result.expect_err("unanswered").kind, ErrorKind::Timeout(timeout));
        }
    }
}
