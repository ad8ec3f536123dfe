//! Every message encoded and decoded without a kernel, checked against bytes
//! laid out by hand from the protocol description: netlink header, generic
//! netlink header, then type-length-value attributes padded to 4 bytes, with
//! ports and IPv4 netmasks in network order and other integers in host order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_ipvs::wire::{self, Request};
use lvs_ipvs::*;

const FAMILY: u16 = 0x1d;
const NLA_F_NESTED: u16 = 0x8000;
const REQUEST_ACK: u16 = 0x1 | 0x4;
const REQUEST_DUMP: u16 = 0x1 | 0x300;

fn tlv(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}

fn nest(kind: u16, children: &[Vec<u8>]) -> Vec<u8> {
    tlv(kind | NLA_F_NESTED, &children.concat())
}

fn genl_body(cmd: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![cmd, 1, 0, 0];
    out.extend(attrs.concat());
    out
}

fn message(flags: u16, seq: u32, cmd: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
    let body = genl_body(cmd, attrs);
    let mut out = Vec::new();
    out.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    out.extend_from_slice(&FAMILY.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend(body);
    out
}

fn addr16(ip: IpAddr) -> Vec<u8> {
    let mut bytes = vec![0u8; 16];
    match ip {
        IpAddr::V4(v4) => bytes[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => bytes.copy_from_slice(&v6.octets()),
    }
    bytes
}

fn cstr(s: &str) -> Vec<u8> {
    let mut b = s.as_bytes().to_vec();
    b.push(0);
    b
}

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

fn web_key() -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        port: 80,
    }
}

fn v6_key() -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: "2001:db8::53".parse().expect("literal"),
        port: 53,
    }
}

fn key_attrs(key: &ServiceKey) -> Vec<Vec<u8>> {
    match *key {
        ServiceKey::Addr { protocol, addr, port } => vec![
            tlv(
                1,
                &(if addr.is_ipv4() { AF_INET } else { AF_INET6 }).to_ne_bytes(),
            ),
            tlv(2, &protocol.raw().to_ne_bytes()),
            tlv(3, &addr16(addr)),
            tlv(4, &port.to_be_bytes()),
        ],
        ServiceKey::Fwmark { family, mark } => {
            vec![tlv(1, &family.raw().to_ne_bytes()), tlv(5, &mark.to_ne_bytes())]
        }
    }
}

fn check(request: Request, seq: u32, expected: Vec<u8>) {
    let encoded = wire::encode(&request, FAMILY, seq);
    assert_eq!(encoded, expected, "{request:?}");
}

#[test]
fn new_service_ipv4_with_persistence() {
    let service = Service::new(web_key(), "wlc").persistent(300);
    let mut service = service;
    service.netmask = Netmask::V4(Ipv4Addr::new(255, 255, 255, 0));
    let mut attrs = key_attrs(&web_key());
    attrs.push(tlv(6, &cstr("wlc")));
    attrs.push(tlv(7, &[1u32.to_ne_bytes(), u32::MAX.to_ne_bytes()].concat()));
    attrs.push(tlv(8, &300u32.to_ne_bytes()));
    attrs.push(tlv(9, &[255, 255, 255, 0]));
    check(
        Request::NewService(service),
        7,
        message(REQUEST_ACK, 7, 1, &[nest(1, &attrs)]),
    );
}

#[test]
fn set_service_ipv6_with_a_persistence_engine_and_flags() {
    let mut service = Service::new(v6_key(), "sh");
    service.flags = ServiceFlags::ONE_PACKET | ServiceFlags::SCHED2 | ServiceFlags::HASHED;
    service.persistence_engine = Some("sip".into());
    let mut attrs = key_attrs(&v6_key());
    attrs.push(tlv(6, &cstr("sh")));
    attrs.push(tlv(11, &cstr("sip")));
    // HASHED is the kernel's own and never sent.
    attrs.push(tlv(
        7,
        &[(0x4u32 | 0x10).to_ne_bytes(), u32::MAX.to_ne_bytes()].concat(),
    ));
    attrs.push(tlv(8, &0u32.to_ne_bytes()));
    attrs.push(tlv(9, &128u32.to_ne_bytes()));
    check(
        Request::SetService(service),
        1,
        message(REQUEST_ACK, 1, 2, &[nest(1, &attrs)]),
    );
}

#[test]
fn service_identity_requests() {
    let fwm = ServiceKey::Fwmark {
        family: Family::Inet6,
        mark: 42,
    };
    for (request, cmd, flags) in [
        (Request::DelService(web_key()), 3, REQUEST_ACK),
        (Request::GetService(web_key()), 4, REQUEST_ACK),
        (Request::Zero(Some(web_key())), 16, REQUEST_ACK),
        (Request::GetDests(web_key()), 8, REQUEST_DUMP),
    ] {
        check(
            request,
            2,
            message(flags, 2, cmd, &[nest(1, &key_attrs(&web_key()))]),
        );
    }
    check(
        Request::DelService(fwm),
        3,
        message(REQUEST_ACK, 3, 3, &[nest(1, &key_attrs(&fwm))]),
    );
}

#[test]
fn requests_without_attributes() {
    for (request, cmd, flags) in [
        (Request::GetServices, 4, REQUEST_DUMP),
        (Request::GetDaemons, 11, REQUEST_DUMP),
        (Request::GetConfig, 13, REQUEST_ACK),
        (Request::GetInfo, 15, REQUEST_ACK),
        (Request::Zero(None), 16, REQUEST_ACK),
        (Request::Flush, 17, REQUEST_ACK),
    ] {
        check(request, 9, message(flags, 9, cmd, &[]));
    }
}

#[test]
fn destinations() {
    let mut dest = Destination::at(
        std::net::SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 8080),
        ForwardMethod::Masquerade,
    )
    .weight(5);
    dest.upper_threshold = 100;
    dest.lower_threshold = 10;
    let dest_attrs = vec![
        tlv(1, &addr16(dest.addr)),
        tlv(2, &8080u16.to_be_bytes()),
        tlv(3, &0u32.to_ne_bytes()),
        tlv(4, &5u32.to_ne_bytes()),
        tlv(5, &100u32.to_ne_bytes()),
        tlv(6, &10u32.to_ne_bytes()),
        tlv(11, &AF_INET.to_ne_bytes()),
    ];
    let svc = nest(1, &key_attrs(&web_key()));
    check(
        Request::NewDest(web_key(), dest.clone()),
        4,
        message(REQUEST_ACK, 4, 5, &[svc.clone(), nest(2, &dest_attrs)]),
    );
    check(
        Request::SetDest(web_key(), dest.clone()),
        5,
        message(REQUEST_ACK, 5, 6, &[svc.clone(), nest(2, &dest_attrs)]),
    );
    let del = vec![
        tlv(1, &addr16(dest.addr)),
        tlv(2, &8080u16.to_be_bytes()),
        tlv(11, &AF_INET.to_ne_bytes()),
    ];
    check(
        Request::DelDest(web_key(), dest.addr, 8080),
        6,
        message(REQUEST_ACK, 6, 7, &[svc, nest(2, &del)]),
    );
}

#[test]
fn a_tunnelled_ipv6_destination_of_an_ipv4_service() {
    let addr: IpAddr = "2001:db8::7".parse().expect("literal");
    let mut dest = Destination::at(std::net::SocketAddr::new(addr, 80), ForwardMethod::Tunnel).weight(1);
    dest.tunnel = Some(Tunnel {
        kind: TunnelType::Gue,
        port: 6080,
        flags: 1,
    });
    let dest_attrs = vec![
        tlv(1, &addr16(addr)),
        tlv(2, &80u16.to_be_bytes()),
        tlv(3, &2u32.to_ne_bytes()),
        tlv(4, &1u32.to_ne_bytes()),
        tlv(5, &0u32.to_ne_bytes()),
        tlv(6, &0u32.to_ne_bytes()),
        tlv(11, &AF_INET6.to_ne_bytes()),
        tlv(13, &[1]),
        tlv(14, &6080u16.to_be_bytes()),
        tlv(15, &1u16.to_ne_bytes()),
    ];
    check(
        Request::NewDest(web_key(), dest),
        8,
        message(
            REQUEST_ACK,
            8,
            5,
            &[nest(1, &key_attrs(&web_key())), nest(2, &dest_attrs)],
        ),
    );
}

#[test]
fn daemons_and_timeouts() {
    let mut daemon = Daemon::new(DaemonState::Backup, "eth1", 7);
    daemon.sync_maxlen = Some(1400);
    daemon.mcast_group = Some(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 82)));
    daemon.mcast_port = Some(8849);
    daemon.mcast_ttl = Some(2);
    let attrs = vec![
        tlv(1, &2u32.to_ne_bytes()),
        tlv(2, &cstr("eth1")),
        tlv(3, &7u32.to_ne_bytes()),
        tlv(4, &1400u16.to_ne_bytes()),
        tlv(5, &[224, 0, 0, 82]),
        tlv(7, &8849u16.to_ne_bytes()),
        tlv(8, &[2]),
    ];
    check(
        Request::NewDaemon(daemon),
        1,
        message(REQUEST_ACK, 1, 9, &[nest(3, &attrs)]),
    );
    let mut v6 = Daemon::new(DaemonState::Master, "eth0", 0);
    let group: Ipv6Addr = "ff02::81".parse().expect("literal");
    v6.mcast_group = Some(IpAddr::V6(group));
    let attrs = vec![
        tlv(1, &1u32.to_ne_bytes()),
        tlv(2, &cstr("eth0")),
        tlv(3, &0u32.to_ne_bytes()),
        tlv(6, &group.octets()),
    ];
    check(
        Request::NewDaemon(v6),
        2,
        message(REQUEST_ACK, 2, 9, &[nest(3, &attrs)]),
    );
    check(
        Request::DelDaemon(DaemonState::Master),
        3,
        message(REQUEST_ACK, 3, 10, &[nest(3, &[tlv(1, &1u32.to_ne_bytes())])]),
    );
    let timeouts = Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    };
    check(
        Request::SetConfig(timeouts),
        4,
        message(
            REQUEST_ACK,
            4,
            12,
            &[
                tlv(4, &900u32.to_ne_bytes()),
                tlv(5, &120u32.to_ne_bytes()),
                tlv(6, &300u32.to_ne_bytes()),
            ],
        ),
    );
}

// ---- replies ---------------------------------------------------------------

/// A reply datagram of one message, as the kernel would send it, read back
/// with `wire::messages`; returns its top-level attributes.
fn reply(cmd: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
    let datagram = message(0, 5, cmd, attrs);
    let messages = wire::messages(&datagram).expect("a datagram parses");
    match messages.as_slice() {
        [wire::Message::Data {
            seq: 5,
            command,
            attrs,
        }] => {
            assert_eq!(*command, cmd);
            attrs.to_vec()
        }
        other => panic!("one data message expected, got {other:?}"),
    }
}

#[test]
fn acknowledgements_errors_and_done() {
    let mut datagram = Vec::new();
    for (seq, error) in [(1u32, 0i32), (2, -17)] {
        datagram.extend_from_slice(&36u32.to_ne_bytes());
        datagram.extend_from_slice(&2u16.to_ne_bytes());
        datagram.extend_from_slice(&0u16.to_ne_bytes());
        datagram.extend_from_slice(&seq.to_ne_bytes());
        datagram.extend_from_slice(&0u32.to_ne_bytes());
        datagram.extend_from_slice(&error.to_ne_bytes());
        datagram.extend_from_slice(&[0u8; 16]);
    }
    datagram.extend_from_slice(&20u32.to_ne_bytes());
    datagram.extend_from_slice(&3u16.to_ne_bytes());
    datagram.extend_from_slice(&2u16.to_ne_bytes());
    datagram.extend_from_slice(&3u32.to_ne_bytes());
    datagram.extend_from_slice(&0u32.to_ne_bytes());
    datagram.extend_from_slice(&0u32.to_ne_bytes());
    let messages = wire::messages(&datagram).expect("parses");
    assert_eq!(
        messages,
        vec![
            wire::Message::Ack { seq: 1 },
            wire::Message::Error { seq: 2, errno: 17 },
            wire::Message::Done { seq: 3 }
        ]
    );
    assert!(
        wire::messages(&datagram[..30]).is_err(),
        "a truncated message is an error"
    );
}

fn u64_attr(kind: u16, v: u64) -> Vec<u8> {
    tlv(kind, &v.to_ne_bytes())
}

#[test]
fn decode_a_service_with_64_bit_counters_and_padding() {
    let mut attrs = key_attrs(&web_key());
    attrs.push(tlv(6, &cstr("rr")));
    attrs.push(tlv(
        7,
        &[(1u32 | 2).to_ne_bytes(), u32::MAX.to_ne_bytes()].concat(),
    ));
    attrs.push(tlv(8, &360u32.to_ne_bytes()));
    attrs.push(tlv(9, &[255, 255, 0, 0]));
    attrs.push(nest(10, &[tlv(1, &5u32.to_ne_bytes()), u64_attr(4, 1000)]));
    attrs.push(nest(
        12,
        &[
            tlv(11, &[]),
            u64_attr(1, 1 << 40),
            u64_attr(2, 7),
            u64_attr(4, 9_000_000_000),
            u64_attr(10, 3),
        ],
    ));
    let service = wire::decode_service(&reply(1, &[nest(1, &attrs)])).expect("decodes");
    assert_eq!(service.key, web_key());
    assert_eq!(service.scheduler, "rr");
    assert!(service.flags.contains(ServiceFlags::PERSISTENT) && service.flags.contains(ServiceFlags::HASHED));
    assert_eq!(service.timeout, 360);
    assert_eq!(service.netmask, Netmask::V4(Ipv4Addr::new(255, 255, 0, 0)));
    let stats = service.stats.expect("stats");
    assert_eq!(
        (stats.conns, stats.in_pkts, stats.in_bytes, stats.out_bps),
        (1 << 40, 7, 9_000_000_000, 3)
    );
    let mut expected = Service::new(web_key(), "rr").persistent(360);
    expected.netmask = Netmask::V4(Ipv4Addr::new(255, 255, 0, 0));
    assert!(service.same_settings(&expected));
}

#[test]
fn decode_fwmark_and_ipv6_services_and_32_bit_counters() {
    let fwm = ServiceKey::Fwmark {
        family: Family::Inet6,
        mark: 9,
    };
    let mut attrs = key_attrs(&fwm);
    attrs.push(tlv(2, &6u16.to_ne_bytes()));
    attrs.push(tlv(6, &cstr("none")));
    attrs.push(tlv(9, &64u32.to_ne_bytes()));
    attrs.push(nest(10, &[tlv(1, &5u32.to_ne_bytes()), u64_attr(4, 1000)]));
    let service = wire::decode_service(&reply(1, &[nest(1, &attrs)])).expect("decodes");
    assert_eq!(service.key, fwm);
    assert_eq!(service.netmask, Netmask::V6(64));
    assert_eq!(service.stats.map(|s| (s.conns, s.in_bytes)), Some((5, 1000)));
}

#[test]
fn decode_destinations() {
    let dest_attrs = vec![
        tlv(1, &addr16("2001:db8::9".parse().expect("literal"))),
        tlv(2, &443u16.to_be_bytes()),
        tlv(3, &3u32.to_ne_bytes()),
        tlv(4, &7u32.to_ne_bytes()),
        tlv(5, &50u32.to_ne_bytes()),
        tlv(6, &5u32.to_ne_bytes()),
        tlv(7, &2u32.to_ne_bytes()),
        tlv(8, &3u32.to_ne_bytes()),
        tlv(9, &4u32.to_ne_bytes()),
        tlv(11, &AF_INET6.to_ne_bytes()),
        nest(12, &[u64_attr(1, 11)]),
        tlv(13, &[2]),
        tlv(14, &0u16.to_be_bytes()),
        tlv(15, &2u16.to_ne_bytes()),
    ];
    let dest = wire::decode_dest(&reply(5, &[nest(2, &dest_attrs)]), Family::Inet).expect("decodes");
    assert_eq!(dest.addr, "2001:db8::9".parse::<IpAddr>().expect("literal"));
    assert_eq!(
        (dest.port, dest.forward, dest.weight),
        (443, ForwardMethod::DirectRoute, 7)
    );
    assert_eq!((dest.upper_threshold, dest.lower_threshold), (50, 5));
    assert_eq!(
        (dest.active_conns, dest.inactive_conns, dest.persistent_conns),
        (2, 3, 4)
    );
    assert_eq!(
        dest.tunnel,
        Some(Tunnel {
            kind: TunnelType::Gre,
            port: 0,
            flags: 2
        })
    );
    assert_eq!(dest.stats.map(|s| s.conns), Some(11));
    // Without ADDR_FAMILY (kernels before 3.18) the service's family applies.
    let old = vec![
        tlv(1, &addr16(IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1)))),
        tlv(2, &80u16.to_be_bytes()),
        tlv(3, &0u32.to_ne_bytes()),
    ];
    let dest = wire::decode_dest(&reply(5, &[nest(2, &old)]), Family::Inet).expect("decodes");
    assert_eq!(dest.addr, IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1)));
}

#[test]
fn decode_daemons_timeouts_and_info() {
    let attrs = vec![
        tlv(1, &1u32.to_ne_bytes()),
        tlv(2, &cstr("eth0")),
        tlv(3, &3u32.to_ne_bytes()),
        tlv(4, &1472u16.to_ne_bytes()),
        tlv(5, &[224, 0, 0, 81]),
        tlv(7, &8848u16.to_ne_bytes()),
        tlv(8, &[1]),
    ];
    let daemon = wire::decode_daemon(&reply(9, &[nest(3, &attrs)])).expect("decodes");
    assert_eq!(daemon.state, DaemonState::Master);
    assert_eq!(
        (
            daemon.mcast_interface.as_str(),
            daemon.sync_id,
            daemon.sync_maxlen
        ),
        ("eth0", 3, Some(1472))
    );
    assert_eq!(daemon.mcast_group, Some(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 81))));
    assert_eq!((daemon.mcast_port, daemon.mcast_ttl), (Some(8848), Some(1)));

    let timeouts = wire::decode_timeouts(&reply(
        12,
        &[
            tlv(4, &900u32.to_ne_bytes()),
            tlv(5, &120u32.to_ne_bytes()),
            tlv(6, &300u32.to_ne_bytes()),
        ],
    ));
    assert_eq!(
        timeouts,
        Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        }
    );

    let info = wire::decode_info(&reply(
        14,
        &[tlv(1, &0x010201u32.to_ne_bytes()), tlv(2, &4096u32.to_ne_bytes())],
    ))
    .expect("decodes");
    assert_eq!(
        (info.version_string(), info.conn_tab_size),
        ("1.2.1".to_owned(), 4096)
    );
}

#[test]
fn malformed_replies_are_errors_not_panics() {
    assert!(wire::decode_service(&reply(1, &[])).is_err());
    assert!(wire::decode_service(&reply(1, &[nest(1, &[tlv(1, &AF_INET.to_ne_bytes())])])).is_err());
    assert!(wire::decode_dest(
        &reply(5, &[nest(2, &[tlv(2, &80u16.to_be_bytes())])]),
        Family::Inet
    )
    .is_err());
    assert!(wire::decode_daemon(&reply(9, &[nest(3, &[tlv(1, &9u32.to_ne_bytes())])])).is_err());
    assert!(wire::decode_info(&reply(14, &[])).is_err());
}

/// The family look-up: `CTRL_CMD_GETFAMILY` (3, version 1) to the controller
/// (id 0x10), acknowledged, with `CTRL_ATTR_FAMILY_NAME` (2) = "IPVS\0".
#[test]
fn family_lookup_golden_bytes_and_answer() {
    let mut expected = Vec::new();
    expected.extend_from_slice(&32u32.to_ne_bytes());
    expected.extend_from_slice(&0x10u16.to_ne_bytes());
    expected.extend_from_slice(&(0x1u16 | 0x4).to_ne_bytes());
    expected.extend_from_slice(&7u32.to_ne_bytes());
    expected.extend_from_slice(&0u32.to_ne_bytes());
    expected.extend_from_slice(&[3, 1, 0, 0]);
    expected.extend_from_slice(&tlv(2, b"IPVS\0"));
    assert_eq!(wire::encode_family_lookup(7), expected);

    // An answer as the controller sends it: the name, the id, and more.
    let answer = [
        tlv(2, b"IPVS\0"),
        tlv(1, &0x1du16.to_ne_bytes()),
        tlv(3, &1u32.to_ne_bytes()),
        nest(6, &[nest(1, &[tlv(1, &1u32.to_ne_bytes())])]),
    ]
    .concat();
    assert_eq!(wire::decode_family_id(&answer), Ok(0x1d));
    assert!(wire::decode_family_id(&tlv(2, b"IPVS\0")).is_err());
}
