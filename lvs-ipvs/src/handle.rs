//! The socket side: one generic-netlink socket and one family look-up for
//! the life of a handle, a timeout on every request, and pipelined batches.

use std::collections::HashMap;
use std::io::Cursor;
use std::net::IpAddr;
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

use neli::consts::genl::{CtrlAttr, CtrlCmd};
use neli::consts::nl::{GenlId, NlmF};
use neli::consts::socket::NlFamily;
use neli::genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, NlattrBuilder};
use neli::nl::{NlPayload, Nlmsghdr, NlmsghdrBuilder};
use neli::socket::NlSocket;
use neli::types::{Buffer, GenlBuffer};
use neli::utils::Groups;
use neli::{FromBytes, FromBytesWithInput, Size, ToBytes};

use crate::diff::{Operation, Table};
use crate::error::{ErrorKind, IpvsError, Op};
use crate::model::*;
use crate::wire::{self, CmdAttr, IpvsCmd, Request};

/// How long a request may wait for the kernel, unless set otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests sent before their acknowledgements are read, in a batch.
pub const BATCH_WINDOW: usize = 256;
const RECEIVE_BUFFER: usize = 1 << 20;

/// One reply message, decoded as far as the transport goes.
enum Reply {
    Data(Box<Genlmsghdr<IpvsCmd, CmdAttr>>),
    Ack,
    Error(i32),
    Done,
}

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
        let io = |e: std::io::Error| IpvsError::new(Op::Connect, ErrorKind::Io(e.to_string()));
        let socket = NlSocket::connect(NlFamily::Generic, None, Groups::empty()).map_err(io)?;
        socket.block().map_err(io)?;
        let mut ipvs = Ipvs {
            socket,
            family: 0,
            seq: 0,
            timeout: DEFAULT_TIMEOUT,
            buffer: vec![0; RECEIVE_BUFFER],
        };
        ipvs.family = ipvs.resolve_family()?;
        Ok(ipvs)
    }

    /// How long each request may wait for the kernel.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The generic-netlink family id of IPVS in this kernel.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    fn resolve_family(&mut self) -> Result<u16, IpvsError> {
        let op = Op::Connect;
        let protocol =
            |e: &dyn std::fmt::Display| IpvsError::new(Op::Connect, ErrorKind::Protocol(e.to_string()));
        let name = NlattrBuilder::default()
            .nla_type(
                AttrTypeBuilder::default()
                    .nla_type(CtrlAttr::FamilyName)
                    .build()
                    .map_err(|e| protocol(&e))?,
            )
            .nla_payload(wire::FAMILY_NAME)
            .build()
            .map_err(|e| protocol(&e))?;
        let genl = GenlmsghdrBuilder::<CtrlCmd, CtrlAttr>::default()
            .cmd(CtrlCmd::Getfamily)
            .version(2)
            .attrs(std::iter::once(name).collect::<GenlBuffer<_, _>>())
            .build()
            .map_err(|e| protocol(&e))?;
        let seq = self.next_seq();
        let message = NlmsghdrBuilder::default()
            .nl_type(GenlId::Ctrl)
            .nl_flags(NlmF::REQUEST | NlmF::ACK)
            .nl_seq(seq)
            .nl_payload(NlPayload::Payload(genl))
            .build()
            .map_err(|e| protocol(&e))?;
        let mut bytes = Cursor::new(vec![0u8; message.padded_size()]);
        message.to_bytes(&mut bytes).map_err(|e| protocol(&e))?;
        self.send(&op, bytes.get_ref())?;
        let deadline = Instant::now() + self.timeout;
        let mut family = None;
        loop {
            let received = self.receive(&op, deadline)?;
            let mut cursor = Cursor::new(&self.buffer[..received]);
            while (cursor.position() as usize) < received {
                let reply = Nlmsghdr::<u16, Buffer>::from_bytes(&mut cursor).map_err(|e| protocol(&e))?;
                if *reply.nl_seq() != seq {
                    continue;
                }
                match reply.nl_payload() {
                    NlPayload::Payload(payload) => {
                        let genl = Genlmsghdr::<CtrlCmd, CtrlAttr>::from_bytes_with_input(
                            &mut Cursor::new(payload.as_ref()),
                            payload.as_ref().len(),
                        )
                        .map_err(|e| protocol(&e))?;
                        family = genl
                            .attrs()
                            .get_attr_handle()
                            .get_attr_payload_as::<u16>(CtrlAttr::FamilyId)
                            .ok();
                    }
                    NlPayload::Err(e) if *e.error() == -libc::ENOENT => {
                        return Err(IpvsError::new(op, ErrorKind::NotAvailable));
                    }
                    NlPayload::Err(e) => return Err(IpvsError::new(op, ErrorKind::Kernel(-*e.error()))),
                    NlPayload::Ack(_) | NlPayload::Empty | NlPayload::DumpExtAck(_) => {
                        return family.ok_or_else(|| {
                            IpvsError::new(Op::Connect, ErrorKind::Protocol("no family id".into()))
                        });
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
            .map_err(|e| IpvsError::new(op.clone(), ErrorKind::Io(format!("send: {e}"))))
    }

    /// Waits for data until `deadline`, then reads one datagram into the buffer.
    fn receive(&mut self, op: &Op, deadline: Instant) -> Result<usize, IpvsError> {
        loop {
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
            let ready = unsafe { libc::poll(&mut poll, 1, millis) };
            if ready < 0 {
                let error = std::io::Error::last_os_error();
                if error.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(IpvsError::new(
                    op.clone(),
                    ErrorKind::Io(format!("poll: {error}")),
                ));
            }
            if ready == 0 {
                continue;
            }
            return match self
                .socket
                .recv(&mut self.buffer[..], neli::consts::socket::Msg::empty())
            {
                Ok((received, _)) => Ok(received),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => Err(IpvsError::new(op.clone(), ErrorKind::Io(format!("receive: {e}")))),
            };
        }
    }

    /// Decodes the messages of one datagram, with their sequence numbers.
    fn decode_datagram(&self, op: &Op, received: usize) -> Result<Vec<(u32, Reply)>, IpvsError> {
        let protocol =
            |e: &dyn std::fmt::Display| IpvsError::new(op.clone(), ErrorKind::Protocol(e.to_string()));
        let mut cursor = Cursor::new(&self.buffer[..received]);
        let mut replies = Vec::new();
        while (cursor.position() as usize) < received {
            let message = Nlmsghdr::<u16, Buffer>::from_bytes(&mut cursor).map_err(|e| protocol(&e))?;
            let reply = match message.nl_payload() {
                NlPayload::Payload(payload) => Reply::Data(Box::new(
                    Genlmsghdr::<IpvsCmd, CmdAttr>::from_bytes_with_input(
                        &mut Cursor::new(payload.as_ref()),
                        payload.as_ref().len(),
                    )
                    .map_err(|e| protocol(&e))?,
                )),
                NlPayload::Ack(_) => Reply::Ack,
                NlPayload::Err(e) => Reply::Error(-*e.error()),
                NlPayload::Empty | NlPayload::DumpExtAck(_) => Reply::Done,
            };
            replies.push((*message.nl_seq(), reply));
        }
        Ok(replies)
    }

    /// Sends one request and returns the data it was answered with.
    fn exchange(
        &mut self,
        op: Op,
        request: &Request,
    ) -> Result<Vec<Genlmsghdr<IpvsCmd, CmdAttr>>, IpvsError> {
        let seq = self.next_seq();
        let bytes = wire::encode(request, self.family, seq)
            .map_err(|e| IpvsError::new(op.clone(), ErrorKind::Protocol(e.to_string())))?;
        self.send(&op, &bytes)?;
        let deadline = Instant::now() + self.timeout;
        let mut data = Vec::new();
        loop {
            let received = self.receive(&op, deadline)?;
            for (reply_seq, reply) in self.decode_datagram(&op, received)? {
                if reply_seq != seq {
                    continue;
                }
                match reply {
                    Reply::Data(message) => {
                        data.push(*message);
                        // A get of one thing is answered by one message and, as we asked, an ACK.
                    }
                    Reply::Ack | Reply::Done => return Ok(data),
                    Reply::Error(errno) => return Err(IpvsError::new(op, ErrorKind::Kernel(errno))),
                }
            }
        }
    }

    fn decode<T>(op: &Op, result: Result<T, wire::WireError>) -> Result<T, IpvsError> {
        result.map_err(|e| IpvsError::new(op.clone(), ErrorKind::Protocol(e.to_string())))
    }

    pub fn add_service(&mut self, service: &Service) -> Result<(), IpvsError> {
        self.exchange(
            op_of(&Operation::AddService(service.clone())),
            &Request::NewService(service.clone()),
        )
        .map(|_| ())
    }

    pub fn edit_service(&mut self, service: &Service) -> Result<(), IpvsError> {
        self.exchange(
            op_of(&Operation::EditService(service.clone())),
            &Request::SetService(service.clone()),
        )
        .map(|_| ())
    }

    /// Deletes a service and its destinations.
    pub fn delete_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError> {
        self.exchange(Op::DeleteService(*key), &Request::DelService(*key))
            .map(|_| ())
    }

    /// One service, with its counters.
    pub fn service(&mut self, key: &ServiceKey) -> Result<Service, IpvsError> {
        let op = Op::GetService(*key);
        let replies = self.exchange(op.clone(), &Request::GetService(*key))?;
        let first = replies
            .first()
            .ok_or_else(|| IpvsError::new(op.clone(), ErrorKind::Protocol("no reply".into())))?;
        Ipvs::decode(&op, wire::decode_service(first))
    }

    /// Every service (one dump), in the kernel's order.
    pub fn services(&mut self) -> Result<Vec<Service>, IpvsError> {
        let op = Op::GetServices;
        let replies = self.exchange(op.clone(), &Request::GetServices)?;
        replies
            .iter()
            .map(|m| Ipvs::decode(&op, wire::decode_service(m)))
            .collect()
    }

    pub fn add_destination(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        self.exchange(Op::AddDest(*key), &Request::NewDest(*key, dest.clone()))
            .map(|_| ())
    }

    pub fn edit_destination(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        self.exchange(Op::EditDest(*key), &Request::SetDest(*key, dest.clone()))
            .map(|_| ())
    }

    pub fn delete_destination(&mut self, key: &ServiceKey, addr: IpAddr, port: u16) -> Result<(), IpvsError> {
        self.exchange(Op::DeleteDest(*key), &Request::DelDest(*key, addr, port))
            .map(|_| ())
    }

    /// The destinations of a service (one dump). A service that does not
    /// exist has none (the kernel answers an empty dump).
    pub fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<Destination>, IpvsError> {
        let op = Op::GetDests(*key);
        let replies = self.exchange(op.clone(), &Request::GetDests(*key))?;
        replies
            .iter()
            .map(|m| Ipvs::decode(&op, wire::decode_dest(m, key.family())))
            .collect()
    }

    pub fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        let replies = self.exchange(Op::GetTimeouts, &Request::GetConfig)?;
        replies
            .first()
            .map(wire::decode_timeouts)
            .ok_or_else(|| IpvsError::new(Op::GetTimeouts, ErrorKind::Protocol("no reply".into())))
    }

    /// Sets the timeouts; a zero leaves that one unchanged.
    pub fn set_timeouts(&mut self, timeouts: Timeouts) -> Result<(), IpvsError> {
        self.exchange(Op::SetTimeouts, &Request::SetConfig(timeouts))
            .map(|_| ())
    }

    pub fn info(&mut self) -> Result<Info, IpvsError> {
        let op = Op::GetInfo;
        let replies = self.exchange(op.clone(), &Request::GetInfo)?;
        let first = replies
            .first()
            .ok_or_else(|| IpvsError::new(op.clone(), ErrorKind::Protocol("no reply".into())))?;
        Ipvs::decode(&op, wire::decode_info(first))
    }

    /// Zeroes the counters of one service, or of every service.
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), IpvsError> {
        self.exchange(Op::Zero(key.copied()), &Request::Zero(key.copied()))
            .map(|_| ())
    }

    /// Deletes every service.
    pub fn flush(&mut self) -> Result<(), IpvsError> {
        self.exchange(Op::Flush, &Request::Flush).map(|_| ())
    }

    pub fn start_daemon(&mut self, daemon: &Daemon) -> Result<(), IpvsError> {
        self.exchange(Op::StartDaemon, &Request::NewDaemon(daemon.clone()))
            .map(|_| ())
    }

    pub fn stop_daemon(&mut self, state: DaemonState) -> Result<(), IpvsError> {
        self.exchange(Op::StopDaemon, &Request::DelDaemon(state))
            .map(|_| ())
    }

    /// The running sync daemons (master first).
    pub fn daemons(&mut self) -> Result<Vec<Daemon>, IpvsError> {
        let op = Op::GetDaemons;
        let replies = self.exchange(op.clone(), &Request::GetDaemons)?;
        replies
            .iter()
            .map(|m| Ipvs::decode(&op, wire::decode_daemon(m)))
            .collect()
    }

    /// The whole table: one service dump, then one destination dump per service.
    pub fn snapshot(&mut self) -> Result<Table, IpvsError> {
        let mut table = Table::default();
        for service in self.services()? {
            let destinations = self.destinations(&service.key)?;
            table.insert(service, destinations);
        }
        Ok(table)
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

    fn apply_window(&mut self, window: &[Operation], options: ApplyOptions) -> Vec<Result<(), IpvsError>> {
        let mut results: Vec<Option<Result<(), IpvsError>>> = vec![None; window.len()];
        let mut pending: HashMap<u32, usize> = HashMap::with_capacity(window.len());
        let mut bytes = Vec::with_capacity(window.len() * 128);
        for (index, operation) in window.iter().enumerate() {
            let seq = self.next_seq();
            match wire::encode(&operation.request(), self.family, seq) {
                Ok(message) => {
                    bytes.extend_from_slice(&message);
                    pending.insert(seq, index);
                }
                Err(e) => {
                    results[index] = Some(Err(IpvsError::new(
                        op_of(operation),
                        ErrorKind::Protocol(e.to_string()),
                    )))
                }
            }
        }
        let fail_pending = |results: &mut Vec<Option<Result<(), IpvsError>>>,
                            pending: &HashMap<u32, usize>,
                            kind: ErrorKind| {
            for &index in pending.values() {
                results[index] = Some(Err(IpvsError::new(op_of(&window[index]), kind.clone())));
            }
        };
        if let Err(e) = self.send(&Op::Flush, &bytes) {
            fail_pending(&mut results, &pending, e.kind);
            return results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect();
        }
        let deadline = Instant::now() + self.timeout;
        while !pending.is_empty() {
            let received = match self.receive(&Op::Flush, deadline) {
                Ok(received) => received,
                Err(e) => {
                    fail_pending(&mut results, &pending, e.kind);
                    break;
                }
            };
            let replies = match self.decode_datagram(&Op::Flush, received) {
                Ok(replies) => replies,
                Err(e) => {
                    fail_pending(&mut results, &pending, e.kind);
                    break;
                }
            };
            for (seq, reply) in replies {
                let Some(index) = pending.remove(&seq) else {
                    continue;
                };
                let operation = &window[index];
                results[index] = Some(match reply {
                    Reply::Ack | Reply::Done | Reply::Data(_) => Ok(()),
                    Reply::Error(errno) if options.idempotent && operation.is_already_done(errno) => Ok(()),
                    Reply::Error(errno) => Err(IpvsError::new(op_of(operation), ErrorKind::Kernel(errno))),
                });
            }
        }
        results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect()
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
