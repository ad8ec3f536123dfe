//! The IPVS generic-netlink messages: commands, typed attributes, encoding
//! of requests and decoding of replies. No sockets here.
//!
//! Byte order is the kernel's: ports, IPv4 netmasks and the IPv4 multicast
//! group in network order, every other integer in host order; addresses are
//! sent as the kernel's 16-byte `union nf_inet_addr`, as ipvsadm sends them.

use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr};

use neli::consts::genl::{Cmd, NlAttrType};
use neli::consts::nl::NlmF;
use neli::genl::{AttrTypeBuilder, GenlAttrHandle, Genlmsghdr, GenlmsghdrBuilder, Nlattr, NlattrBuilder};
use neli::neli_enum;
use neli::nl::{NlPayload, NlmsghdrBuilder};
use neli::types::{Buffer, GenlBuffer};
use neli::{Size, ToBytes};

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
pub enum WireError {
    #[error("cannot encode the request: {0}")]
    Encode(String),
    #[error("malformed reply: {0}")]
    Decode(String),
}

fn encode_error(e: impl std::fmt::Display) -> WireError {
    WireError::Encode(e.to_string())
}

fn decode_error(e: impl std::fmt::Display) -> WireError {
    WireError::Decode(e.to_string())
}

/// One IPVS request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    NewService(Service),
    SetService(Service),
    DelService(ServiceKey),
    GetService(ServiceKey),
    /// Every service (a dump).
    GetServices,
    NewDest(ServiceKey, Destination),
    SetDest(ServiceKey, Destination),
    DelDest(ServiceKey, IpAddr, u16),
    /// Every destination of a service (a dump).
    GetDests(ServiceKey),
    NewDaemon(Daemon),
    DelDaemon(DaemonState),
    /// Every sync daemon (a dump).
    GetDaemons,
    SetConfig(Timeouts),
    GetConfig,
    GetInfo,
    /// Zero the counters of one service, or of all.
    Zero(Option<ServiceKey>),
    Flush,
}

impl Request {
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

    /// Requests answered by data rather than an acknowledgement alone.
    pub fn expects_data(&self) -> bool {
        self.is_dump()
            || matches!(
                self,
                Request::GetService(_) | Request::GetConfig | Request::GetInfo
            )
    }

    /// The generic-netlink message.
    pub fn genl(&self) -> Result<Genlmsghdr<IpvsCmd, CmdAttr>, WireError> {
        let mut attrs: GenlBuffer<CmdAttr, Buffer> = GenlBuffer::new();
        match self {
            Request::NewService(s) | Request::SetService(s) => attrs.push(service_attr(&s.key, Some(s))?),
            Request::DelService(k)
            | Request::GetService(k)
            | Request::GetDests(k)
            | Request::Zero(Some(k)) => attrs.push(service_attr(k, None)?),
            Request::NewDest(k, d) | Request::SetDest(k, d) => {
                attrs.push(service_attr(k, None)?);
                attrs.push(dest_attr(d)?);
            }
            Request::DelDest(k, addr, port) => {
                attrs.push(service_attr(k, None)?);
                let mut dest = nested(CmdAttr::Dest)?;
                for child in [
                    attr(DestAttr::Addr, inet_addr(*addr))?,
                    attr(DestAttr::Port, port.to_be_bytes().to_vec())?,
                    attr(DestAttr::AddrFamily, Family::of(*addr).raw())?,
                ] {
                    dest = dest.nest(&child).map_err(encode_error)?;
                }
                attrs.push(dest);
            }
            Request::NewDaemon(d) => attrs.push(daemon_attr(d)?),
            Request::DelDaemon(state) => {
                let child = attr(DaemonAttr::State, state.raw())?;
                attrs.push(nested(CmdAttr::Daemon)?.nest(&child).map_err(encode_error)?);
            }
            Request::SetConfig(t) => {
                attrs.push(attr(CmdAttr::TimeoutTcp, t.tcp)?);
                attrs.push(attr(CmdAttr::TimeoutTcpFin, t.tcp_fin)?);
                attrs.push(attr(CmdAttr::TimeoutUdp, t.udp)?);
            }
            Request::GetServices
            | Request::GetDaemons
            | Request::GetConfig
            | Request::GetInfo
            | Request::Zero(None)
            | Request::Flush => {}
        }
        GenlmsghdrBuilder::default()
            .cmd(self.command())
            .version(FAMILY_VERSION)
            .attrs(attrs)
            .build()
            .map_err(encode_error)
    }

    /// The netlink flags of the request: `REQUEST`, plus `DUMP` for dumps and
    /// `ACK` for everything else, so every request gets exactly one final answer.
    pub fn flags(&self) -> NlmF {
        if self.is_dump() {
            NlmF::REQUEST | NlmF::DUMP
        } else {
            NlmF::REQUEST | NlmF::ACK
        }
    }
}

/// The complete netlink message for `request`, as bytes.
pub fn encode(request: &Request, family_id: u16, seq: u32) -> Result<Vec<u8>, WireError> {
    let message = NlmsghdrBuilder::default()
        .nl_type(family_id)
        .nl_flags(request.flags())
        .nl_seq(seq)
        .nl_pid(0)
        .nl_payload(NlPayload::Payload(request.genl()?))
        .build()
        .map_err(encode_error)?;
    let mut bytes = Cursor::new(vec![0u8; message.padded_size()]);
    message.to_bytes(&mut bytes).map_err(encode_error)?;
    Ok(bytes.into_inner())
}

fn attr<T: NlAttrType, P: Size + ToBytes>(kind: T, payload: P) -> Result<Nlattr<T, Buffer>, WireError> {
    NlattrBuilder::default()
        .nla_type(
            AttrTypeBuilder::default()
                .nla_type(kind)
                .build()
                .map_err(encode_error)?,
        )
        .nla_payload(payload)
        .build()
        .map_err(encode_error)
}

fn nested<T: NlAttrType>(kind: T) -> Result<Nlattr<T, Buffer>, WireError> {
    attr(kind, Vec::<u8>::new())
}

fn nest<T: NlAttrType, C: NlAttrType>(
    kind: T,
    children: Vec<Nlattr<C, Buffer>>,
) -> Result<Nlattr<T, Buffer>, WireError> {
    let mut parent = nested(kind)?;
    for child in &children {
        parent = parent.nest(child).map_err(encode_error)?;
    }
    Ok(parent)
}

/// The kernel's `union nf_inet_addr`: 16 bytes, IPv4 in the first four.
fn inet_addr(ip: IpAddr) -> Vec<u8> {
    let mut bytes = vec![0u8; 16];
    match ip {
        IpAddr::V4(v4) => bytes[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => bytes.copy_from_slice(&v6.octets()),
    }
    bytes
}

fn c_string(text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0);
    bytes
}

/// The service nest: the identity, and with `settings` the full service.
fn service_attr(key: &ServiceKey, settings: Option<&Service>) -> Result<Nlattr<CmdAttr, Buffer>, WireError> {
    let mut children = vec![attr(SvcAttr::Af, key.family().raw())?];
    match *key {
        ServiceKey::Addr { protocol, addr, port } => {
            children.push(attr(SvcAttr::Protocol, protocol.raw())?);
            children.push(attr(SvcAttr::Addr, inet_addr(addr))?);
            children.push(attr(SvcAttr::Port, port.to_be_bytes().to_vec())?);
        }
        ServiceKey::Fwmark { mark, .. } => children.push(attr(SvcAttr::Fwmark, mark)?),
    }
    if let Some(s) = settings {
        children.push(attr(SvcAttr::SchedName, c_string(&s.scheduler))?);
        if let Some(pe) = &s.persistence_engine {
            children.push(attr(SvcAttr::PeName, c_string(pe))?);
        }
        // struct ip_vs_flags { flags; mask }: every settable bit is given.
        let mut flags = s.flags.settable().0.to_ne_bytes().to_vec();
        flags.extend_from_slice(&u32::MAX.to_ne_bytes());
        children.push(attr(SvcAttr::Flags, flags)?);
        children.push(attr(SvcAttr::Timeout, s.timeout)?);
        let netmask = match s.netmask {
            Netmask::V4(mask) => mask.octets().to_vec(),
            Netmask::V6(prefix) => u32::from(prefix).to_ne_bytes().to_vec(),
        };
        children.push(attr(SvcAttr::Netmask, netmask)?);
    }
    nest(CmdAttr::Service, children)
}

fn dest_attr(d: &Destination) -> Result<Nlattr<CmdAttr, Buffer>, WireError> {
    let mut children = vec![
        attr(DestAttr::Addr, inet_addr(d.addr))?,
        attr(DestAttr::Port, d.port.to_be_bytes().to_vec())?,
        attr(DestAttr::FwdMethod, d.forward.raw())?,
        attr(DestAttr::Weight, d.weight)?,
        attr(DestAttr::UThresh, d.upper_threshold)?,
        attr(DestAttr::LThresh, d.lower_threshold)?,
        attr(DestAttr::AddrFamily, Family::of(d.addr).raw())?,
    ];
    if let Some(t) = d.tunnel {
        children.push(attr(DestAttr::TunType, t.kind.raw())?);
        children.push(attr(DestAttr::TunPort, t.port.to_be_bytes().to_vec())?);
        children.push(attr(DestAttr::TunFlags, t.flags)?);
    }
    nest(CmdAttr::Dest, children)
}

fn daemon_attr(d: &Daemon) -> Result<Nlattr<CmdAttr, Buffer>, WireError> {
    let mut children = vec![
        attr(DaemonAttr::State, d.state.raw())?,
        attr(DaemonAttr::McastIfn, c_string(&d.mcast_interface))?,
        attr(DaemonAttr::SyncId, d.sync_id)?,
    ];
    if let Some(maxlen) = d.sync_maxlen {
        children.push(attr(DaemonAttr::SyncMaxlen, maxlen)?);
    }
    match d.mcast_group {
        Some(IpAddr::V4(group)) => children.push(attr(DaemonAttr::McastGroup, group.octets().to_vec())?),
        Some(IpAddr::V6(group)) => children.push(attr(DaemonAttr::McastGroup6, group.octets().to_vec())?),
        None => {}
    }
    if let Some(port) = d.mcast_port {
        children.push(attr(DaemonAttr::McastPort, port)?);
    }
    if let Some(ttl) = d.mcast_ttl {
        children.push(attr(DaemonAttr::McastTtl, ttl)?);
    }
    nest(CmdAttr::Daemon, children)
}

// ---- replies -------------------------------------------------------------

fn payload<T: NlAttrType>(handle: &GenlAttrHandle<'_, T>, kind: T) -> Option<Vec<u8>> {
    handle
        .get_attribute(kind)
        .map(|a| a.nla_payload().as_ref().to_vec())
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

fn top_level(message: &Genlmsghdr<IpvsCmd, CmdAttr>) -> GenlAttrHandle<'_, CmdAttr> {
    message.attrs().get_attr_handle()
}

/// A service from a `GET_SERVICE` reply.
pub fn decode_service(message: &Genlmsghdr<IpvsCmd, CmdAttr>) -> Result<Service, WireError> {
    let top = top_level(message);
    let svc = top
        .get_nested_attributes::<SvcAttr>(CmdAttr::Service)
        .map_err(decode_error)?;
    let family = required(
        payload(&svc, SvcAttr::Af)
            .and_then(|b| u16_ne(&b))
            .and_then(Family::from_raw),
        "service family",
    )?;
    let key = match payload(&svc, SvcAttr::Fwmark)
        .and_then(|b| u32_ne(&b))
        .filter(|&m| m != 0)
    {
        Some(mark) => ServiceKey::Fwmark { family, mark },
        None => {
            let protocol = required(
                payload(&svc, SvcAttr::Protocol)
                    .and_then(|b| u16_ne(&b))
                    .and_then(Protocol::from_raw),
                "service protocol",
            )?;
            let addr = required(
                payload(&svc, SvcAttr::Addr).and_then(|b| ip_from_bytes(family, &b)),
                "service address",
            )?;
            let port = required(
                payload(&svc, SvcAttr::Port).and_then(|b| u16_be(&b)),
                "service port",
            )?;
            ServiceKey::Addr { protocol, addr, port }
        }
    };
    let scheduler = payload(&svc, SvcAttr::SchedName)
        .map(|b| string(&b))
        .unwrap_or_default();
    let flags = ServiceFlags(
        payload(&svc, SvcAttr::Flags)
            .and_then(|b| u32_ne(&b))
            .unwrap_or(0),
    );
    let timeout = payload(&svc, SvcAttr::Timeout)
        .and_then(|b| u32_ne(&b))
        .unwrap_or(0);
    let netmask_bytes = payload(&svc, SvcAttr::Netmask).unwrap_or_default();
    let netmask = match family {
        Family::Inet => Netmask::V4(
            <[u8; 4]>::try_from(netmask_bytes.get(..4).unwrap_or(&[255; 4]))
                .map_or(Ipv4Addr::BROADCAST, Ipv4Addr::from),
        ),
        Family::Inet6 => Netmask::V6(u32_ne(&netmask_bytes).map_or(128, |p| p.min(128) as u8)),
    };
    let persistence_engine = payload(&svc, SvcAttr::PeName)
        .map(|b| string(&b))
        .filter(|s| !s.is_empty());
    let stats = svc
        .get_nested_attributes::<StatsAttr>(SvcAttr::Stats64)
        .or_else(|_| svc.get_nested_attributes::<StatsAttr>(SvcAttr::Stats))
        .ok()
        .map(|h| decode_stats(&h));
    Ok(Service {
        key,
        scheduler,
        flags,
        timeout,
        netmask,
        persistence_engine,
        stats,
    })
}

/// A destination from a `GET_DEST` reply of a service of `family`.
pub fn decode_dest(message: &Genlmsghdr<IpvsCmd, CmdAttr>, family: Family) -> Result<Destination, WireError> {
    let top = top_level(message);
    let dest = top
        .get_nested_attributes::<DestAttr>(CmdAttr::Dest)
        .map_err(decode_error)?;
    // Kernels before 3.18 send no address family: the service's, then.
    let family = payload(&dest, DestAttr::AddrFamily)
        .and_then(|b| u16_ne(&b))
        .and_then(Family::from_raw)
        .unwrap_or(family);
    let number = |kind| payload(&dest, kind).and_then(|b| u32_ne(&b)).unwrap_or(0);
    let addr = required(
        payload(&dest, DestAttr::Addr).and_then(|b| ip_from_bytes(family, &b)),
        "destination address",
    )?;
    let port = required(
        payload(&dest, DestAttr::Port).and_then(|b| u16_be(&b)),
        "destination port",
    )?;
    let forward = required(
        ForwardMethod::from_raw(number(DestAttr::FwdMethod)),
        "forwarding method",
    )?;
    let tunnel = payload(&dest, DestAttr::TunType)
        .and_then(|b| b.first().copied())
        .and_then(TunnelType::from_raw)
        .map(|kind| Tunnel {
            kind,
            port: payload(&dest, DestAttr::TunPort)
                .and_then(|b| u16_be(&b))
                .unwrap_or(0),
            flags: payload(&dest, DestAttr::TunFlags)
                .and_then(|b| u16_ne(&b))
                .unwrap_or(0),
        });
    let stats = dest
        .get_nested_attributes::<StatsAttr>(DestAttr::Stats64)
        .or_else(|_| dest.get_nested_attributes::<StatsAttr>(DestAttr::Stats))
        .ok()
        .map(|h| decode_stats(&h));
    Ok(Destination {
        addr,
        port,
        forward,
        weight: number(DestAttr::Weight),
        upper_threshold: number(DestAttr::UThresh),
        lower_threshold: number(DestAttr::LThresh),
        tunnel,
        active_conns: number(DestAttr::ActiveConns),
        inactive_conns: number(DestAttr::InactConns),
        persistent_conns: number(DestAttr::PersistConns),
        stats,
    })
}

/// Counters: 32-bit (`STATS`) or 64-bit (`STATS64`) values by their length; `PAD` skipped.
fn decode_stats(handle: &GenlAttrHandle<'_, StatsAttr>) -> Stats {
    let value = |kind| {
        handle.get_attribute(kind).map_or(0, |a| {
            let b = a.nla_payload().as_ref();
            match b.len() {
                8 => u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])),
                4 => u64::from(u32::from_ne_bytes(b.try_into().unwrap_or([0; 4]))),
                _ => 0,
            }
        })
    };
    Stats {
        conns: value(StatsAttr::Conns),
        in_pkts: value(StatsAttr::Inpkts),
        out_pkts: value(StatsAttr::Outpkts),
        in_bytes: value(StatsAttr::Inbytes),
        out_bytes: value(StatsAttr::Outbytes),
        cps: value(StatsAttr::Cps),
        in_pps: value(StatsAttr::Inpps),
        out_pps: value(StatsAttr::Outpps),
        in_bps: value(StatsAttr::Inbps),
        out_bps: value(StatsAttr::Outbps),
    }
}

/// A sync daemon from a `GET_DAEMON` reply.
pub fn decode_daemon(message: &Genlmsghdr<IpvsCmd, CmdAttr>) -> Result<Daemon, WireError> {
    let top = top_level(message);
    let d = top
        .get_nested_attributes::<DaemonAttr>(CmdAttr::Daemon)
        .map_err(decode_error)?;
    let state = match payload(&d, DaemonAttr::State).and_then(|b| u32_ne(&b)) {
        Some(1) => DaemonState::Master,
        Some(2) => DaemonState::Backup,
        other => return Err(WireError::Decode(format!("daemon state {other:?}"))),
    };
    let group = payload(&d, DaemonAttr::McastGroup6)
        .and_then(|b| ip_from_bytes(Family::Inet6, &b))
        .or_else(|| payload(&d, DaemonAttr::McastGroup).and_then(|b| ip_from_bytes(Family::Inet, &b)));
    Ok(Daemon {
        state,
        mcast_interface: payload(&d, DaemonAttr::McastIfn)
            .map(|b| string(&b))
            .unwrap_or_default(),
        sync_id: payload(&d, DaemonAttr::SyncId)
            .and_then(|b| u32_ne(&b))
            .unwrap_or(0),
        sync_maxlen: payload(&d, DaemonAttr::SyncMaxlen).and_then(|b| u16_ne(&b)),
        mcast_group: group,
        mcast_port: payload(&d, DaemonAttr::McastPort).and_then(|b| u16_ne(&b)),
        mcast_ttl: payload(&d, DaemonAttr::McastTtl).and_then(|b| b.first().copied()),
    })
}

/// The timeouts from a `GET_CONFIG` reply (top-level attributes).
pub fn decode_timeouts(message: &Genlmsghdr<IpvsCmd, CmdAttr>) -> Timeouts {
    let top = top_level(message);
    let value = |kind| payload(&top, kind).and_then(|b| u32_ne(&b)).unwrap_or(0);
    Timeouts {
        tcp: value(CmdAttr::TimeoutTcp),
        tcp_fin: value(CmdAttr::TimeoutTcpFin),
        udp: value(CmdAttr::TimeoutUdp),
    }
}

/// The version and table size from a `GET_INFO` reply (top-level ids 1 and 2).
pub fn decode_info(message: &Genlmsghdr<IpvsCmd, CmdAttr>) -> Result<Info, WireError> {
    let top = top_level(message);
    Ok(Info {
        version: required(
            payload(&top, CmdAttr::Service).and_then(|b| u32_ne(&b)),
            "version",
        )?,
        conn_tab_size: required(
            payload(&top, CmdAttr::Dest).and_then(|b| u32_ne(&b)),
            "connection table size",
        )?,
    })
}
