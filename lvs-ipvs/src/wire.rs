//! The IPVS generic-netlink messages: commands, typed attributes, encoding
//! of requests and decoding of replies. No sockets here.
//!
//! Byte order is the kernel's: ports, IPv4 netmasks and the IPv4 multicast
//! group in network order, every other integer in host order; addresses are
//! sent as the kernel's 16-byte `union nf_inet_addr`, as ipvsadm sends them.
//!
//! Requests are written straight into one buffer and replies are read in
//! place, attribute by attribute: a batch of 11,000 requests and a dump of
//! 10,000 destinations allocate next to nothing. The command and attribute
//! numbers are neli enums, so they print by name.

use std::net::{IpAddr, Ipv4Addr};

use neli::consts::genl::{Cmd, NlAttrType};
use neli::neli_enum;

use crate::model::*;

/// `IPVS_GENL_NAME`, the family to resolve.
pub const FAMILY_NAME: &str = "IPVS";
/// `IPVS_GENL_VERSION`, sent in every generic-netlink header.
pub const FAMILY_VERSION: u8 = 1;

/// `IPVS_CMD_*`.
#[neli_enum(serialized_type = "u8")]
pub enum IpvsCmd {
    Unspec = 0,
    NewService = 1,
    SetService = 2,
    DelService = 3,
    GetService = 4,
    NewDest = 5,
    SetDest = 6,
    DelDest = 7,
    GetDest = 8,
    NewDaemon = 9,
    DelDaemon = 10,
    GetDaemon = 11,
    SetConfig = 12,
    GetConfig = 13,
    SetInfo = 14,
    GetInfo = 15,
    Zero = 16,
    Flush = 17,
}
impl Cmd for IpvsCmd {}

/// `IPVS_CMD_ATTR_*` (top level). GET_INFO replies reuse 1 and 2 for the
/// version and the connection table size.
#[neli_enum(serialized_type = "u16")]
pub enum CmdAttr {
    Unspec = 0,
    Service = 1,
    Dest = 2,
    Daemon = 3,
    TimeoutTcp = 4,
    TimeoutTcpFin = 5,
    TimeoutUdp = 6,
}
impl NlAttrType for CmdAttr {}

/// `IPVS_SVC_ATTR_*`.
#[neli_enum(serialized_type = "u16")]
pub enum SvcAttr {
    Unspec = 0,
    Af = 1,
    Protocol = 2,
    Addr = 3,
    Port = 4,
    Fwmark = 5,
    SchedName = 6,
    Flags = 7,
    Timeout = 8,
    Netmask = 9,
    Stats = 10,
    PeName = 11,
    Stats64 = 12,
}
impl NlAttrType for SvcAttr {}

/// `IPVS_DEST_ATTR_*`.
#[neli_enum(serialized_type = "u16")]
pub enum DestAttr {
    Unspec = 0,
    Addr = 1,
    Port = 2,
    FwdMethod = 3,
    Weight = 4,
    UThresh = 5,
    LThresh = 6,
    ActiveConns = 7,
    InactConns = 8,
    PersistConns = 9,
    Stats = 10,
    AddrFamily = 11,
    Stats64 = 12,
    TunType = 13,
    TunPort = 14,
    TunFlags = 15,
}
impl NlAttrType for DestAttr {}

/// `IPVS_DAEMON_ATTR_*`.
#[neli_enum(serialized_type = "u16")]
pub enum DaemonAttr {
    Unspec = 0,
    State = 1,
    McastIfn = 2,
    SyncId = 3,
    SyncMaxlen = 4,
    McastGroup = 5,
    McastGroup6 = 6,
    McastPort = 7,
    McastTtl = 8,
}
impl NlAttrType for DaemonAttr {}

/// `IPVS_STATS_ATTR_*`; `Pad` only aligns 64-bit values and is skipped.
#[neli_enum(serialized_type = "u16")]
pub enum StatsAttr {
    Unspec = 0,
    Conns = 1,
    Inpkts = 2,
    Outpkts = 3,
    Inbytes = 4,
    Outbytes = 5,
    Cps = 6,
    Inpps = 7,
    Outpps = 8,
    Inbps = 9,
    Outbps = 10,
    Pad = 11,
}
impl NlAttrType for StatsAttr {}

/// A message could not be built or a reply did not make sense.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    #[error("cannot encode the request: {0}")]
    /// A value could not be encoded.
    Encode(String),
    #[error("malformed reply: {0}")]
    /// A reply could not be decoded.
    Decode(String),
}

/// One IPVS request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `IPVS_CMD_NEW_SERVICE`.
    NewService(Service),
    /// `IPVS_CMD_SET_SERVICE`.
    SetService(Service),
    /// `IPVS_CMD_DEL_SERVICE`.
    DelService(ServiceKey),
    /// `IPVS_CMD_GET_SERVICE` for one service.
    GetService(ServiceKey),
    /// Every service (a dump).
    GetServices,
    /// `IPVS_CMD_NEW_DEST`.
    NewDest(ServiceKey, Destination),
    /// `IPVS_CMD_SET_DEST`.
    SetDest(ServiceKey, Destination),
    /// `IPVS_CMD_DEL_DEST`.
    DelDest(ServiceKey, IpAddr, u16),
    /// Every destination of a service (a dump).
    GetDests(ServiceKey),
    /// `IPVS_CMD_NEW_DAEMON`.
    NewDaemon(Daemon),
    /// `IPVS_CMD_DEL_DAEMON`.
    DelDaemon(DaemonState),
    /// Every sync daemon (a dump).
    GetDaemons,
    /// `IPVS_CMD_SET_CONFIG`.
    SetConfig(Timeouts),
    /// `IPVS_CMD_GET_CONFIG`.
    GetConfig,
    /// `IPVS_CMD_GET_INFO`.
    GetInfo,
    /// Zero the counters of one service, or of all.
    Zero(Option<ServiceKey>),
    /// `IPVS_CMD_FLUSH`.
    Flush,
}

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HEADER: usize = 16;
const GENL_HEADER: usize = 4;

impl Request {
    /// The generic-netlink command that carries it.
    pub fn command(&self) -> IpvsCmd {
        match self {
            Request::NewService(_) => IpvsCmd::NewService,
            Request::SetService(_) => IpvsCmd::SetService,
            Request::DelService(_) => IpvsCmd::DelService,
            Request::GetService(_) | Request::GetServices => IpvsCmd::GetService,
            Request::NewDest(..) => IpvsCmd::NewDest,
            Request::SetDest(..) => IpvsCmd::SetDest,
            Request::DelDest(..) => IpvsCmd::DelDest,
            Request::GetDests(_) => IpvsCmd::GetDest,
            Request::NewDaemon(_) => IpvsCmd::NewDaemon,
            Request::DelDaemon(_) => IpvsCmd::DelDaemon,
            Request::GetDaemons => IpvsCmd::GetDaemon,
            Request::SetConfig(_) => IpvsCmd::SetConfig,
            Request::GetConfig => IpvsCmd::GetConfig,
            Request::GetInfo => IpvsCmd::GetInfo,
            Request::Zero(_) => IpvsCmd::Zero,
            Request::Flush => IpvsCmd::Flush,
        }
    }

    /// Dumps are answered by a series of messages ending in `NLMSG_DONE`.
    pub fn is_dump(&self) -> bool {
        matches!(
            self,
            Request::GetServices | Request::GetDests(_) | Request::GetDaemons
        )
    }

    /// The netlink flags of the request: `REQUEST`, plus `DUMP` for dumps and
    /// `ACK` for everything else, so every request gets exactly one final answer.
    pub fn flags(&self) -> u16 {
        if self.is_dump() {
            NLM_F_REQUEST | NLM_F_DUMP
        } else {
            NLM_F_REQUEST | NLM_F_ACK
        }
    }

    fn write_attrs(&self, w: &mut Writer<'_>) {
        match self {
            Request::NewService(s) | Request::SetService(s) => write_service(w, &s.key, Some(s)),
            Request::DelService(k)
            | Request::GetService(k)
            | Request::GetDests(k)
            | Request::Zero(Some(k)) => write_service(w, k, None),
            Request::NewDest(k, d) | Request::SetDest(k, d) => {
                write_service(w, k, None);
                write_dest(w, d);
            }
            Request::DelDest(k, addr, port) => {
                write_service(w, k, None);
                let nest = w.begin_nest(CmdAttr::Dest.into());
                w.attr(DestAttr::Addr.into(), &inet_addr(*addr));
                w.attr(DestAttr::Port.into(), &port.to_be_bytes());
                w.attr(
                    DestAttr::AddrFamily.into(),
                    &Family::of(*addr).raw().to_ne_bytes(),
                );
                w.end_nest(nest);
            }
            Request::NewDaemon(d) => write_daemon(w, d),
            Request::DelDaemon(state) => {
                let nest = w.begin_nest(CmdAttr::Daemon.into());
                w.attr(DaemonAttr::State.into(), &state.raw().to_ne_bytes());
                w.end_nest(nest);
            }
            Request::SetConfig(t) => {
                w.attr(CmdAttr::TimeoutTcp.into(), &t.tcp.to_ne_bytes());
                w.attr(CmdAttr::TimeoutTcpFin.into(), &t.tcp_fin.to_ne_bytes());
                w.attr(CmdAttr::TimeoutUdp.into(), &t.udp.to_ne_bytes());
            }
            Request::GetServices
            | Request::GetDaemons
            | Request::GetConfig
            | Request::GetInfo
            | Request::Zero(None)
            | Request::Flush => {}
        }
    }
}

/// Appends the complete netlink message for `request` to `out`.
pub fn encode_into(request: &Request, family_id: u16, seq: u32, out: &mut Vec<u8>) {
    encode_with_flags(request, request.flags(), family_id, seq, out);
}

/// Appends `request` without `NLM_F_ACK`: the kernel answers it only if it
/// fails. Batches send their requests so and end with one that is
/// acknowledged, which tells them every earlier one has been answered.
pub fn encode_unacknowledged_into(request: &Request, family_id: u16, seq: u32, out: &mut Vec<u8>) {
    encode_with_flags(request, request.flags() & !NLM_F_ACK, family_id, seq, out);
}

fn encode_with_flags(request: &Request, flags: u16, family_id: u16, seq: u32, out: &mut Vec<u8>) {
    write_message(
        out,
        family_id,
        flags,
        seq,
        [u8::from(request.command()), FAMILY_VERSION],
        |w| request.write_attrs(w),
    );
}

/// One generic-netlink message: the netlink header, the generic header
/// (`command`, `version`), then the attributes, its length patched in.
fn write_message(
    out: &mut Vec<u8>,
    kind: u16,
    flags: u16,
    seq: u32,
    [command, version]: [u8; 2],
    attrs: impl FnOnce(&mut Writer<'_>),
) {
    let start = out.len();
    out.extend_from_slice(&0u32.to_ne_bytes()); // length, patched below
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
    out.extend_from_slice(&[command, version, 0, 0]);
    attrs(&mut Writer { out });
    let length = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&length.to_ne_bytes());
}

/// The generic-netlink controller's id, and its command and attributes for
/// looking a family up by name.
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;

/// `CTRL_CMD_GETFAMILY` for the `IPVS` family, acknowledged.
pub fn encode_family_lookup(seq: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    let mut name = FAMILY_NAME.as_bytes().to_vec();
    name.push(0);
    write_message(
        &mut out,
        GENL_ID_CTRL,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        [CTRL_CMD_GETFAMILY, 1],
        |w| w.attr(CTRL_ATTR_FAMILY_NAME, &name),
    );
    out
}

/// The family id in the controller's answer to [`encode_family_lookup`]
/// (the top-level attributes of its data message), read in place: the
/// answer also lists every operation and policy, none of which is needed.
pub fn decode_family_id(attrs: &[u8]) -> Result<u16, WireError> {
    required(
        Attrs(attrs).get(CTRL_ATTR_FAMILY_ID).and_then(u16_ne),
        "family id",
    )
}

/// The complete netlink message for `request`.
pub fn encode(request: &Request, family_id: u16, seq: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    encode_into(request, family_id, seq, &mut out);
    out
}

/// Writes type-length-value attributes, padded to 4 bytes.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    fn attr(&mut self, kind: u16, payload: &[u8]) {
        self.out
            .extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        self.out.extend_from_slice(&kind.to_ne_bytes());
        self.out.extend_from_slice(payload);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    fn begin_nest(&mut self, kind: u16) -> usize {
        let start = self.out.len();
        self.out.extend_from_slice(&0u16.to_ne_bytes());
        self.out.extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        start
    }

    fn end_nest(&mut self, start: usize) {
        let length = (self.out.len() - start) as u16;
        self.out[start..start + 2].copy_from_slice(&length.to_ne_bytes());
    }
}

/// The kernel's `union nf_inet_addr`: 16 bytes, IPv4 in the first four.
fn inet_addr(ip: IpAddr) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => bytes[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => bytes.copy_from_slice(&v6.octets()),
    }
    bytes
}

fn c_string(w: &mut Writer<'_>, kind: u16, text: &str) {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    bytes.push(0);
    w.attr(kind, &bytes);
}

/// The service nest: the identity, and with `settings` the full service.
fn write_service(w: &mut Writer<'_>, key: &ServiceKey, settings: Option<&Service>) {
    let nest = w.begin_nest(CmdAttr::Service.into());
    w.attr(SvcAttr::Af.into(), &key.family().raw().to_ne_bytes());
    match *key {
        ServiceKey::Addr { protocol, addr, port } => {
            w.attr(SvcAttr::Protocol.into(), &protocol.raw().to_ne_bytes());
            w.attr(SvcAttr::Addr.into(), &inet_addr(addr));
            w.attr(SvcAttr::Port.into(), &port.to_be_bytes());
        }
        ServiceKey::Fwmark { mark, .. } => w.attr(SvcAttr::Fwmark.into(), &mark.to_ne_bytes()),
    }
    if let Some(s) = settings {
        c_string(w, SvcAttr::SchedName.into(), &s.scheduler);
        if let Some(pe) = &s.persistence_engine {
            c_string(w, SvcAttr::PeName.into(), pe);
        }
        // struct ip_vs_flags { flags; mask }: every settable bit is given.
        let mut flags = [0u8; 8];
        flags[..4].copy_from_slice(&s.flags.settable().bits().to_ne_bytes());
        flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
        w.attr(SvcAttr::Flags.into(), &flags);
        w.attr(SvcAttr::Timeout.into(), &s.timeout.to_ne_bytes());
        match s.netmask {
            Netmask::V4(mask) => w.attr(SvcAttr::Netmask.into(), &mask.octets()),
            Netmask::V6(prefix) => w.attr(SvcAttr::Netmask.into(), &u32::from(prefix).to_ne_bytes()),
        }
    }
    w.end_nest(nest);
}

fn write_dest(w: &mut Writer<'_>, d: &Destination) {
    let nest = w.begin_nest(CmdAttr::Dest.into());
    w.attr(DestAttr::Addr.into(), &inet_addr(d.addr));
    w.attr(DestAttr::Port.into(), &d.port.to_be_bytes());
    w.attr(DestAttr::FwdMethod.into(), &d.forward.raw().to_ne_bytes());
    w.attr(DestAttr::Weight.into(), &d.weight.to_ne_bytes());
    w.attr(DestAttr::UThresh.into(), &d.upper_threshold.to_ne_bytes());
    w.attr(DestAttr::LThresh.into(), &d.lower_threshold.to_ne_bytes());
    w.attr(
        DestAttr::AddrFamily.into(),
        &Family::of(d.addr).raw().to_ne_bytes(),
    );
    if let Some(t) = d.tunnel {
        w.attr(DestAttr::TunType.into(), &[t.kind.raw()]);
        w.attr(DestAttr::TunPort.into(), &t.port.to_be_bytes());
        w.attr(DestAttr::TunFlags.into(), &t.flags.to_ne_bytes());
    }
    w.end_nest(nest);
}

fn write_daemon(w: &mut Writer<'_>, d: &Daemon) {
    let nest = w.begin_nest(CmdAttr::Daemon.into());
    w.attr(DaemonAttr::State.into(), &d.state.raw().to_ne_bytes());
    c_string(w, DaemonAttr::McastIfn.into(), &d.mcast_interface);
    w.attr(DaemonAttr::SyncId.into(), &d.sync_id.to_ne_bytes());
    if let Some(maxlen) = d.sync_maxlen {
        w.attr(DaemonAttr::SyncMaxlen.into(), &maxlen.to_ne_bytes());
    }
    match d.mcast_group {
        Some(IpAddr::V4(group)) => w.attr(DaemonAttr::McastGroup.into(), &group.octets()),
        Some(IpAddr::V6(group)) => w.attr(DaemonAttr::McastGroup6.into(), &group.octets()),
        None => {}
    }
    if let Some(port) = d.mcast_port {
        w.attr(DaemonAttr::McastPort.into(), &port.to_ne_bytes());
    }
    if let Some(ttl) = d.mcast_ttl {
        w.attr(DaemonAttr::McastTtl.into(), &[ttl]);
    }
    w.end_nest(nest);
}

// ---- replies -------------------------------------------------------------

/// One message of a reply datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// Data: the command and the top-level attributes after the generic-netlink header.
    Data {
        /// The request's sequence number.
        seq: u32,
        /// The generic-netlink command.
        command: u8,
        /// Its attributes, undecoded.
        attrs: &'a [u8],
    },
    /// An acknowledgement (`NLMSG_ERROR` with error 0).
    Ack {
        /// The request's sequence number.
        seq: u32,
    },
    /// A refusal with the kernel's errno.
    Error {
        /// The request's sequence number.
        seq: u32,
        /// The kernel's errno.
        errno: i32,
    },
    /// The end of a dump.
    Done {
        /// The request's sequence number.
        seq: u32,
    },
}

impl Message<'_> {
    /// The sequence number of the request it answers.
    pub fn seq(&self) -> u32 {
        match *self {
            Message::Data { seq, .. }
            | Message::Ack { seq }
            | Message::Error { seq, .. }
            | Message::Done { seq } => seq,
        }
    }
}

/// The messages of one datagram, read in place.
pub fn messages(datagram: &[u8]) -> Result<Vec<Message<'_>>, WireError> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while rest.len() >= NLMSG_HEADER {
        let length = u32_ne(rest).unwrap_or(0) as usize;
        if length < NLMSG_HEADER || length > rest.len() {
            return Err(WireError::Decode(format!(
                "a message of {length} bytes in {} left",
                rest.len()
            )));
        }
        let kind = u16_ne(&rest[4..]).unwrap_or(0);
        let seq = u32_ne(&rest[8..]).unwrap_or(0);
        let body = &rest[NLMSG_HEADER..length];
        out.push(match kind {
            NLMSG_ERROR => match u32_ne(body).map(|e| e as i32) {
                Some(0) => Message::Ack { seq },
                Some(error) => Message::Error { seq, errno: -error },
                None => return Err(WireError::Decode("an error message without its error".into())),
            },
            NLMSG_DONE => Message::Done { seq },
            _ => {
                if body.len() < GENL_HEADER {
                    return Err(WireError::Decode(
                        "a message shorter than its generic-netlink header".into(),
                    ));
                }
                Message::Data {
                    seq,
                    command: body[0],
                    attrs: &body[GENL_HEADER..],
                }
            }
        });
        let padded = (length + 3) & !3;
        rest = rest.get(padded..).unwrap_or(&[]);
    }
    Ok(out)
}

/// Attributes read in place: `(type, payload)`, the nested flag masked off.
#[derive(Clone, Copy, Debug)]
pub struct Attrs<'a>(pub &'a [u8]);

impl<'a> Attrs<'a> {
    /// The payload of the first attribute of `kind`.
    pub fn get(&self, kind: u16) -> Option<&'a [u8]> {
        self.iter().find(|&(k, _)| k == kind).map(|(_, payload)| payload)
    }

    /// Each attribute's type and payload.
    pub fn iter(&self) -> impl Iterator<Item = (u16, &'a [u8])> + 'a {
        let mut rest = self.0;
        std::iter::from_fn(move || {
            if rest.len() < 4 {
                return None;
            }
            let length = usize::from(u16_ne(rest)?);
            let kind = u16_ne(&rest[2..])? & NLA_TYPE_MASK;
            let payload = rest.get(4..length)?;
            rest = rest.get((length + 3) & !3..).unwrap_or(&[]);
            Some((kind, payload))
        })
    }

    fn nested(&self, kind: u16) -> Option<Attrs<'a>> {
        self.get(kind).map(Attrs)
    }

    /// Every attribute by type, in one pass: a service or destination is
    /// read a dozen attributes at a time, thousands of times per listing.
    fn index(&self) -> AttrIndex<'a> {
        let mut index = AttrIndex([None; INDEXED_TYPES]);
        for (kind, payload) in self.iter() {
            if let Some(slot) = index.0.get_mut(usize::from(kind)) {
                // The first of a type wins, as with `get`.
                slot.get_or_insert(payload);
            }
        }
        index
    }
}

/// Attribute types an index holds (IPVS's are all below 32).
const INDEXED_TYPES: usize = 32;

/// Attribute payloads by type, from [`Attrs::index`].
struct AttrIndex<'a>([Option<&'a [u8]>; INDEXED_TYPES]);

impl<'a> AttrIndex<'a> {
    fn get(&self, kind: u16) -> Option<&'a [u8]> {
        self.0.get(usize::from(kind)).copied().flatten()
    }

    fn nested(&self, kind: u16) -> Option<Attrs<'a>> {
        self.get(kind).map(Attrs)
    }
}

fn u16_ne(bytes: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes(bytes.get(..2)?.try_into().ok()?))
}

fn u32_ne(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(..4)?.try_into().ok()?))
}

fn u16_be(bytes: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(..2)?.try_into().ok()?))
}

fn string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn required<T>(value: Option<T>, what: &str) -> Result<T, WireError> {
    value.ok_or_else(|| WireError::Decode(format!("no {what}")))
}

/// A service from the top-level attributes of a `GET_SERVICE` reply.
pub fn decode_service(attrs: &[u8]) -> Result<Service, WireError> {
    let svc = required(Attrs(attrs).nested(CmdAttr::Service.into()), "service")?.index();
    let get = |kind: SvcAttr| svc.get(kind.into());
    let family = required(
        get(SvcAttr::Af).and_then(u16_ne).and_then(Family::from_raw),
        "service family",
    )?;
    let key = match get(SvcAttr::Fwmark).and_then(u32_ne).filter(|&m| m != 0) {
        Some(mark) => ServiceKey::Fwmark { family, mark },
        None => ServiceKey::Addr {
            protocol: required(
                get(SvcAttr::Protocol)
                    .and_then(u16_ne)
                    .and_then(Protocol::from_raw),
                "service protocol",
            )?,
            addr: required(
                get(SvcAttr::Addr).and_then(|b| ip_from_bytes(family, b)),
                "service address",
            )?,
            port: required(get(SvcAttr::Port).and_then(u16_be), "service port")?,
        },
    };
    let netmask = match family {
        Family::Inet => Netmask::V4(
            get(SvcAttr::Netmask)
                .and_then(|b| <[u8; 4]>::try_from(b.get(..4)?).ok())
                .map_or(Ipv4Addr::BROADCAST, Ipv4Addr::from),
        ),
        Family::Inet6 => Netmask::V6(
            get(SvcAttr::Netmask)
                .and_then(u32_ne)
                .map_or(128, |p| p.min(128) as u8),
        ),
    };
    Ok(Service {
        key,
        scheduler: get(SvcAttr::SchedName).map(string).unwrap_or_default(),
        flags: ServiceFlags::from_bits_retain(get(SvcAttr::Flags).and_then(u32_ne).unwrap_or(0)),
        timeout: get(SvcAttr::Timeout).and_then(u32_ne).unwrap_or(0),
        netmask,
        persistence_engine: get(SvcAttr::PeName).map(string).filter(|s| !s.is_empty()),
        stats: svc
            .nested(SvcAttr::Stats64.into())
            .or_else(|| svc.nested(SvcAttr::Stats.into()))
            .map(decode_stats),
    })
}

/// A destination from the top-level attributes of a `GET_DEST` reply for a
/// service of `family`.
pub fn decode_dest(attrs: &[u8], family: Family) -> Result<Destination, WireError> {
    let dest = required(Attrs(attrs).nested(CmdAttr::Dest.into()), "destination")?.index();
    let get = |kind: DestAttr| dest.get(kind.into());
    let number = |kind: DestAttr| get(kind).and_then(u32_ne).unwrap_or(0);
    // Kernels before 3.18 send no address family: the service's, then.
    let family = get(DestAttr::AddrFamily)
        .and_then(u16_ne)
        .and_then(Family::from_raw)
        .unwrap_or(family);
    let tunnel = get(DestAttr::TunType)
        .and_then(|b| b.first().copied())
        .and_then(TunnelType::from_raw)
        .map(|kind| Tunnel {
            kind,
            port: get(DestAttr::TunPort).and_then(u16_be).unwrap_or(0),
            flags: get(DestAttr::TunFlags).and_then(u16_ne).unwrap_or(0),
        });
    Ok(Destination {
        addr: required(
            get(DestAttr::Addr).and_then(|b| ip_from_bytes(family, b)),
            "destination address",
        )?,
        port: required(get(DestAttr::Port).and_then(u16_be), "destination port")?,
        forward: required(
            ForwardMethod::from_raw(number(DestAttr::FwdMethod)),
            "forwarding method",
        )?,
        weight: number(DestAttr::Weight),
        upper_threshold: number(DestAttr::UThresh),
        lower_threshold: number(DestAttr::LThresh),
        tunnel,
        active_conns: number(DestAttr::ActiveConns),
        inactive_conns: number(DestAttr::InactConns),
        persistent_conns: number(DestAttr::PersistConns),
        stats: dest
            .nested(DestAttr::Stats64.into())
            .or_else(|| dest.nested(DestAttr::Stats.into()))
            .map(decode_stats),
    })
}

/// Counters: 32-bit (`STATS`) or 64-bit (`STATS64`) values by their length; `PAD` skipped.
fn decode_stats(attrs: Attrs<'_>) -> Stats {
    let mut stats = Stats::default();
    for (kind, payload) in attrs.iter() {
        let value = match payload.len() {
            8 => payload.try_into().map_or(0, u64::from_ne_bytes),
            4 => u64::from(u32_ne(payload).unwrap_or(0)),
            _ => continue,
        };
        let field = match StatsAttr::from(kind) {
            StatsAttr::Conns => &mut stats.conns,
            StatsAttr::Inpkts => &mut stats.in_pkts,
            StatsAttr::Outpkts => &mut stats.out_pkts,
            StatsAttr::Inbytes => &mut stats.in_bytes,
            StatsAttr::Outbytes => &mut stats.out_bytes,
            StatsAttr::Cps => &mut stats.cps,
            StatsAttr::Inpps => &mut stats.in_pps,
            StatsAttr::Outpps => &mut stats.out_pps,
            StatsAttr::Inbps => &mut stats.in_bps,
            StatsAttr::Outbps => &mut stats.out_bps,
            _ => continue,
        };
        *field = value;
    }
    stats
}

/// A sync daemon from the top-level attributes of a `GET_DAEMON` reply.
pub fn decode_daemon(attrs: &[u8]) -> Result<Daemon, WireError> {
    let d = required(Attrs(attrs).nested(CmdAttr::Daemon.into()), "daemon")?;
    let get = |kind: DaemonAttr| d.get(kind.into());
    let state = match get(DaemonAttr::State).and_then(u32_ne) {
        Some(1) => DaemonState::Master,
        Some(2) => DaemonState::Backup,
        other => return Err(WireError::Decode(format!("daemon state {other:?}"))),
    };
    let group = get(DaemonAttr::McastGroup6)
        .and_then(|b| ip_from_bytes(Family::Inet6, b))
        .or_else(|| get(DaemonAttr::McastGroup).and_then(|b| ip_from_bytes(Family::Inet, b)));
    Ok(Daemon {
        state,
        mcast_interface: get(DaemonAttr::McastIfn).map(string).unwrap_or_default(),
        sync_id: get(DaemonAttr::SyncId).and_then(u32_ne).unwrap_or(0),
        sync_maxlen: get(DaemonAttr::SyncMaxlen).and_then(u16_ne),
        mcast_group: group,
        mcast_port: get(DaemonAttr::McastPort).and_then(u16_ne),
        mcast_ttl: get(DaemonAttr::McastTtl).and_then(|b| b.first().copied()),
    })
}

/// The timeouts from the top-level attributes of a `GET_CONFIG` reply.
pub fn decode_timeouts(attrs: &[u8]) -> Timeouts {
    let top = Attrs(attrs);
    let value = |kind: CmdAttr| top.get(kind.into()).and_then(u32_ne).unwrap_or(0);
    Timeouts {
        tcp: value(CmdAttr::TimeoutTcp),
        tcp_fin: value(CmdAttr::TimeoutTcpFin),
        udp: value(CmdAttr::TimeoutUdp),
    }
}

/// The version and table size from a `GET_INFO` reply (top-level ids 1 and 2).
pub fn decode_info(attrs: &[u8]) -> Result<Info, WireError> {
    let top = Attrs(attrs);
    Ok(Info {
        version: required(top.get(1).and_then(u32_ne), "version")?,
        conn_tab_size: required(top.get(2).and_then(u32_ne), "connection table size")?,
    })
}
