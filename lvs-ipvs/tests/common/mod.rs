//! Generated tables, shared by the host diff properties and the kernel tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_ipvs::*;
use proptest::prelude::*;

/// A service at slot `index`: TCP, UDP or SCTP over IPv4 or IPv6, or a
/// firewall mark of either family, with a scheduler and maybe persistence.
pub fn arb_service(index: u32) -> impl Strategy<Value = Service> {
    let key = prop_oneof![
        3 => (
            prop_oneof![Just(Protocol::Tcp), Just(Protocol::Udp), Just(Protocol::Sctp)],
            any::<bool>()
        )
            .prop_map(move |(protocol, six)| {
                let addr = if six {
                    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, index as u16 + 1))
                } else {
                    IpAddr::V4(Ipv4Addr::from(0xc000_0200 + index))
                };
                ServiceKey::Addr {
                    protocol,
                    addr,
                    port: 80,
                }
            }),
        1 => prop_oneof![Just(Family::Inet), Just(Family::Inet6)].prop_map(move |family| ServiceKey::Fwmark {
            family,
            mark: index + 1
        }),
    ];
    (
        key,
        prop_oneof![Just("rr"), Just("wlc"), Just("sh"), Just("lc")],
        prop_oneof![Just(0u32), 1u32..3600],
    )
        .prop_map(|(key, scheduler, persistence)| {
            let service = Service::new(key, scheduler);
            if persistence > 0 {
                service.persistent(persistence)
            } else {
                service
            }
        })
}

/// A destination's settings: host number, weight, forwarding method (with
/// tunnel parameters) and thresholds.
type DestSpec = (u8, u32, u8, u8, (u32, u32));

fn destination(family: Family, (host, weight, method, tunnel, (upper, lower)): DestSpec) -> Destination {
    let addr = match family {
        Family::Inet => IpAddr::V4(Ipv4Addr::new(10, 0, 0, host + 1)),
        Family::Inet6 => IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(host) + 1)),
    };
    let forward = [
        ForwardMethod::Masquerade,
        ForwardMethod::DirectRoute,
        ForwardMethod::Tunnel,
    ][method as usize];
    let mut dest = Destination::at(std::net::SocketAddr::new(addr, 80), forward).weight(weight);
    if forward == ForwardMethod::Tunnel {
        dest.tunnel = match tunnel {
            0 => None,
            1 => Some(Tunnel {
                kind: TunnelType::Gue,
                port: 6080 + u16::from(host),
                flags: 1,
            }),
            _ => Some(Tunnel {
                kind: TunnelType::Gre,
                port: 0,
                flags: 2,
            }),
        };
    }
    // The kernel refuses a lower threshold above the upper one (ERANGE).
    dest.upper_threshold = upper;
    dest.lower_threshold = lower.min(upper);
    dest
}

/// A table of up to five services with up to five destinations each.
pub fn arb_table() -> impl Strategy<Value = Table> {
    let dest_spec = (
        0u8..6,
        0u32..5,
        0u8..3,
        0u8..3,
        prop_oneof![Just((0u32, 0u32)), (1u32..1000, 0u32..1000)],
    );
    proptest::collection::vec((0u32..6, proptest::collection::vec(dest_spec, 0..5)), 0..5).prop_flat_map(
        |specs| {
            let strategies: Vec<_> = specs
                .into_iter()
                .map(|(index, dests)| {
                    arb_service(index).prop_map(move |service| {
                        let family = service.key.family();
                        let destinations = dests
                            .iter()
                            .map(|&spec| destination(family, spec))
                            .collect::<Vec<_>>();
                        (service, destinations)
                    })
                })
                .collect();
            strategies.prop_map(|entries| {
                let mut table = Table::default();
                for (service, destinations) in entries {
                    table.insert(service, destinations);
                }
                table
            })
        },
    )
}
