//! Network-namespace tests: real interfaces, real frames, real neighbour
//! tables. They need root; CI runs them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use lvs_arp::announce::{send_burst, send_burst_blocking, Burst};
use lvs_arp::frame::{decode, Announcement, Decoded};
use lvs_arp::link::{Change, Rtnl};
use lvs_arp::packet::{Capture, CapturedFrame, PacketSocket};
use lvs_arp::{LinkError, MacAddr};
use testkit::{require_root, veth, Netns};

fn mac_of(ns: &Netns, device: &str) -> MacAddr {
    ns.mac(device).parse().expect("ip prints a MAC")
}

/// Captures, in `ns` on `device` for `within`, the frames `keep` accepts
/// while `send` runs; returns them with what `send` returned.
fn capture_frames_while<A>(
    ns: &Netns,
    device: &str,
    within: Duration,
    keep: impl FnMut(&CapturedFrame) -> bool + Send,
    send: impl FnOnce() -> A,
) -> (Vec<CapturedFrame>, A) {
    ns.watch_while(
        |ready| {
            let index = Rtnl::connect()
                .expect("rtnl")
                .interface(device)
                .expect("device")
                .index;
            let capture = Capture::open(index).expect("capture socket");
            ready();
            capture.collect(within, keep).expect("capture")
        },
        send,
    )
}

/// Captures, in `ns` on `device`, the announcement frames `send` causes.
fn capture_while(ns: &Netns, device: &str, send: impl FnOnce()) -> Vec<Decoded> {
    let (frames, ()) = capture_frames_while(ns, device, Duration::from_millis(1500), |_| true, send);
    frames.iter().filter_map(|f| decode(&f.bytes)).collect()
}

#[test]
fn each_frame_kind_reaches_the_peer_with_every_field() {
    if !require_root("each_frame_kind_reaches_the_peer_with_every_field") {
        return;
    }
    let router = Netns::new("arp-r");
    let peer = Netns::new("arp-p");
    veth(&router, "eth0", &peer, "eth0");
    let mac = mac_of(&router, "eth0");
    let vip4 = Ipv4Addr::new(198, 51, 100, 7);
    let vip6: Ipv6Addr = "2001:db8:77::7".parse().expect("literal");

    let frames = capture_while(&peer, "eth0", || {
        router.run(|| {
            let index = Rtnl::connect()
                .expect("rtnl")
                .interface("eth0")
                .expect("eth0")
                .index;
            let socket = PacketSocket::open().expect("packet socket");
            for announcement in [
                Announcement::PiranhaGarp {
                    ip: vip4,
                    mac,
                    eth_destination: MacAddr::BROADCAST,
                },
                Announcement::ArpRequest {
                    ip: vip4,
                    mac,
                    eth_destination: MacAddr::BROADCAST,
                },
                Announcement::for_address(IpAddr::V6(vip6), mac),
            ] {
                send_burst_blocking(&socket, index, &announcement, Burst::ONCE).expect("send");
            }
        })
    });

    let arps: Vec<_> = frames
        .iter()
        .filter(|f| matches!(f, Decoded::Arp { sender_ip, .. } if *sender_ip == vip4))
        .collect();
    assert_eq!(arps.len(), 2, "{frames:#?}");
    for (frame, operation, target_mac) in [(arps[0], 2, mac), (arps[1], 1, MacAddr::BROADCAST)] {
        match frame {
            Decoded::Arp {
                eth_destination,
                eth_source,
                hardware_type,
                protocol_type,
                hw_addr_len,
                proto_addr_len,
                operation: op,
                sender_mac,
                sender_ip,
                target_mac: tm,
                target_ip,
                length,
            } => {
                assert_eq!(*eth_destination, MacAddr::BROADCAST);
                assert_eq!(*eth_source, mac);
                assert_eq!(
                    (*hardware_type, *protocol_type, *hw_addr_len, *proto_addr_len),
                    (1, 0x0800, 6, 4)
                );
                assert_eq!(*op, operation);
                assert_eq!(*sender_mac, mac);
                assert_eq!((*sender_ip, *target_ip), (vip4, vip4));
                assert_eq!(*tm, target_mac);
                assert_eq!(*length, 60);
            }
            other => panic!("not ARP: {other:?}"),
        }
    }
    let na = frames
        .iter()
        .find(|f| matches!(f, Decoded::NeighborAdvert { target, .. } if *target == vip6))
        .unwrap_or_else(|| panic!("no NA for {vip6}: {frames:#?}"));
    match na {
        Decoded::NeighborAdvert {
            eth_destination,
            eth_source,
            ip_source,
            ip_destination,
            hop_limit,
            flags,
            target_mac,
            checksum_ok,
            ..
        } => {
            assert_eq!(*eth_destination, MacAddr::IPV6_ALL_NODES);
            assert_eq!(*eth_source, mac);
            assert_eq!(*ip_source, vip6);
            assert_eq!(*ip_destination, "ff02::1".parse::<Ipv6Addr>().expect("literal"));
            assert_eq!(*hop_limit, 255);
            assert_eq!(*flags, 0x20, "Override only");
            assert_eq!(*target_mac, Some(mac));
            assert!(checksum_ok);
        }
        other => panic!("not an NA: {other:?}"),
    }
}

/// Two routers and a client on one bridge: the client's namespace holds the bridge.
struct Lan {
    client: Netns,
    r1: Netns,
    r2: Netns,
}

impl Lan {
    fn new() -> Lan {
        let client = Netns::new("lan-c");
        let r1 = Netns::new("lan-r1");
        let r2 = Netns::new("lan-r2");
        client.ip(&["link", "add", "br0", "type", "bridge"]);
        client.ip(&["link", "set", "br0", "up"]);
        for (router, port) in [(&r1, "p1"), (&r2, "p2")] {
            veth(router, "eth0", &client, port);
            client.ip(&["link", "set", port, "master", "br0"]);
        }
        client.ip(&["addr", "add", "10.77.0.1/24", "dev", "br0"]);
        client.ip(&["addr", "add", "fd77::1/64", "dev", "br0", "nodad"]);
        r1.ip(&["addr", "add", "10.77.0.11/24", "dev", "eth0"]);
        r2.ip(&["addr", "add", "10.77.0.12/24", "dev", "eth0"]);
        Lan { client, r1, r2 }
    }

    /// The client's neighbour entry for `ip`.
    fn neighbour(&self, ip: &str) -> String {
        self.client.ip(&["neigh", "show", ip, "dev", "br0"])
    }

    /// Sends a datagram to `ip` from the client, so that its kernel resolves the
    /// address (ARP or neighbour solicitation), and waits for the entry.
    fn resolve(&self, ip: &str) {
        let target: IpAddr = ip.parse().expect("literal");
        self.client.run(|| {
            let bind = if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
            let socket = std::net::UdpSocket::bind(bind).expect("bind");
            socket.send_to(b"hello", (target, 9)).expect("send");
        });
        eventually(&format!("the client resolves {ip}"), || {
            let entry = self.neighbour(ip);
            (!entry.contains("lladdr")).then_some(entry)
        });
    }

    /// Moves `vip` from r1 to r2 with the library and announces it from r2.
    fn move_vip(&self, vip: IpAddr, prefix: u8) {
        let removed = self.r1.run(|| {
            Rtnl::connect()
                .expect("rtnl")
                .remove_vip("eth0:1", vip)
                .expect("remove")
        });
        assert_eq!(removed, Change::Removed);
        // Linux ignores ARP updates to an entry changed within the last second (locktime).
        std::thread::sleep(Duration::from_millis(1200));
        self.r2.run(|| {
            let mut rtnl = Rtnl::connect().expect("rtnl");
            let eth0 = rtnl.add_vip("eth0:1", vip, prefix).expect("add");
            let mac = eth0.mac.expect("veth has a MAC");
            let socket = PacketSocket::open().expect("packet socket");
            let burst = Burst {
                count: 2,
                interval: Duration::from_millis(100),
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("runtime");
            runtime
                .block_on(send_burst(
                    &socket,
                    eth0.index,
                    &Announcement::for_address(vip, mac),
                    burst,
                ))
                .expect("send");
        });
    }
}

/// Waits up to two seconds for `check` to hold.
fn eventually(what: &str, mut check: impl FnMut() -> Option<String>) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match check() {
            None => return,
            Some(state) if Instant::now() > deadline => panic!("{what}: {state}"),
            Some(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[test]
fn a_moved_ipv4_vip_is_learned_from_the_gratuitous_arp() {
    if !require_root("a_moved_ipv4_vip_is_learned_from_the_gratuitous_arp") {
        return;
    }
    let lan = Lan::new();
    let vip: IpAddr = "10.77.0.100".parse().expect("literal");
    lan.r1.run(|| {
        Rtnl::connect()
            .expect("rtnl")
            .add_vip("eth0:1", vip, 24)
            .expect("add")
    });
    lan.resolve("10.77.0.100");
    let (r1_mac, r2_mac) = (lan.r1.mac("eth0"), lan.r2.mac("eth0"));
    assert!(
        lan.neighbour("10.77.0.100").contains(&r1_mac),
        "{}",
        lan.neighbour("10.77.0.100")
    );

    lan.move_vip(vip, 24);
    eventually("the client learns r2's MAC for the VIP", || {
        let entry = lan.neighbour("10.77.0.100");
        (!entry.contains(&r2_mac)).then_some(entry)
    });
}

#[test]
fn a_moved_ipv6_vip_is_learned_from_the_unsolicited_na() {
    if !require_root("a_moved_ipv6_vip_is_learned_from_the_unsolicited_na") {
        return;
    }
    let lan = Lan::new();
    let vip: IpAddr = "fd77::100".parse().expect("literal");
    lan.r1.run(|| {
        Rtnl::connect()
            .expect("rtnl")
            .add_vip("eth0:1", vip, 64)
            .expect("add")
    });
    lan.resolve("fd77::100");
    let (r1_mac, r2_mac) = (lan.r1.mac("eth0"), lan.r2.mac("eth0"));
    assert!(
        lan.neighbour("fd77::100").contains(&r1_mac),
        "{}",
        lan.neighbour("fd77::100")
    );

    lan.move_vip(vip, 64);
    eventually("the client learns r2's MAC for the VIP", || {
        let entry = lan.neighbour("fd77::100");
        (!entry.contains(&r2_mac)).then_some(entry)
    });
}

#[test]
fn vips_are_added_and_removed_idempotently_with_their_label() {
    if !require_root("vips_are_added_and_removed_idempotently_with_their_label") {
        return;
    }
    let ns = Netns::new("vip");
    ns.ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]);
    ns.ip(&["link", "set", "eth0", "up"]);
    let v4: IpAddr = "192.0.2.50".parse().expect("literal");
    let v6: IpAddr = "2001:db8::50".parse().expect("literal");
    ns.run(|| {
        let mut rtnl = Rtnl::connect().expect("rtnl");
        let eth0 = rtnl.interface("eth0").expect("eth0");
        assert!(eth0.up);
        assert!(!rtnl.has_vip("eth0:1", v4).expect("look-up"));

        rtnl.add_vip("eth0:1", v4, 24).expect("add");
        assert!(rtnl.has_vip("eth0:1", v4).expect("look-up"));
        let present = rtnl
            .find_address(eth0.index, v4)
            .expect("look-up")
            .expect("present");
        assert_eq!(
            (present.prefix_len, present.label.as_deref()),
            (24, Some("eth0:1"))
        );
        assert_eq!(
            rtnl.add_address(eth0.index, v4, 24, Some("eth0:1"))
                .expect("add again"),
            Change::AlreadyPresent
        );
        // A second add through the VIP call is a no-op too, and keeps the label.
        assert_eq!(
            rtnl.add_vip("eth0:1", v4, 24).expect("add again").index,
            eth0.index
        );
        let again = rtnl
            .find_address(eth0.index, v4)
            .expect("look-up")
            .expect("still present");
        assert_eq!(again, present);

        assert_eq!(
            rtnl.add_address(eth0.index, v6, 64, Some("eth0:1"))
                .expect("add v6"),
            Change::Added
        );
        assert_eq!(
            rtnl.add_address(eth0.index, v6, 64, None).expect("add v6 again"),
            Change::AlreadyPresent
        );
    });
    // iproute2 sees the same, label included, and the IPv6 VIP is not tentative.
    let v4_listing = ns.ip(&["-4", "addr", "show", "dev", "eth0"]);
    assert!(
        v4_listing.contains("inet 192.0.2.50/24 brd 192.0.2.255 scope global eth0:1"),
        "{v4_listing}"
    );
    let v6_listing = ns.ip(&["-6", "addr", "show", "dev", "eth0"]);
    assert!(
        v6_listing.contains("inet6 2001:db8::50/64 scope global"),
        "{v6_listing}"
    );
    assert!(!v6_listing.contains("tentative"), "{v6_listing}");

    ns.run(|| {
        let mut rtnl = Rtnl::connect().expect("rtnl");
        for ip in [v4, v6] {
            assert_eq!(rtnl.remove_vip("eth0:1", ip).expect("remove"), Change::Removed);
            assert!(!rtnl.has_vip("eth0", ip).expect("look-up"));
            assert_eq!(
                rtnl.remove_vip("eth0:1", ip).expect("remove again"),
                Change::AlreadyAbsent
            );
        }
        assert!(
            matches!(rtnl.add_vip("eth9:1", v4, 24), Err(LinkError::NoSuchDevice(name)) if name == "eth9")
        );
    });
    assert!(!ns.ip(&["addr", "show", "dev", "eth0"]).contains("192.0.2.50"));
}

#[test]
fn interfaces_are_looked_up_with_mac_and_link_state() {
    if !require_root("interfaces_are_looked_up_with_mac_and_link_state") {
        return;
    }
    let ns = Netns::new("ifaces");
    ns.ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth1"]);
    ns.ip(&["link", "set", "eth0", "up"]);
    let eth0_mac = mac_of(&ns, "eth0");
    let eth1_mac = mac_of(&ns, "eth1");
    ns.run(|| {
        let mut rtnl = Rtnl::connect().expect("rtnl");
        let eth0 = rtnl.interface("eth0").expect("eth0");
        let eth1 = rtnl.interface("eth1").expect("eth1");
        assert_eq!(eth0.mac, Some(eth0_mac));
        assert_eq!(eth1.mac, Some(eth1_mac));
        assert_ne!(eth0.index, eth1.index);
        // eth0 is up, but its peer is down, so it has no carrier; eth1 is down.
        assert!(eth0.up && !eth0.carrier, "{eth0:?}");
        assert!(!eth1.up && !eth1.carrier, "{eth1:?}");
        let all = rtnl.interfaces().expect("list");
        assert!(all.iter().any(|i| i.name == "lo"));
        assert!(all.contains(&eth0) && all.contains(&eth1));
        assert!(matches!(rtnl.interface("eth9"), Err(LinkError::NoSuchDevice(name)) if name == "eth9"));
    });
    ns.ip(&["link", "set", "eth1", "up"]);
    ns.run(|| {
        let mut rtnl = Rtnl::connect().expect("rtnl");
        // Carrier follows the peer shortly after it comes up.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let eth0 = rtnl.interface("eth0").expect("eth0");
            let eth1 = rtnl.interface("eth1").expect("eth1");
            if eth0.carrier && eth1.carrier && eth1.up {
                break;
            }
            assert!(Instant::now() < deadline, "no carrier: {eth0:?} {eth1:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    });
}

/// A burst arrives as `count` frames `interval` apart, and sending it on a
/// tokio runtime leaves the runtime free for its other tasks meanwhile.
#[test]
fn bursts_keep_their_count_and_interval_without_blocking_the_runtime() {
    if !require_root("bursts_keep_their_count_and_interval_without_blocking_the_runtime") {
        return;
    }
    let router = Netns::new("burst-r");
    let peer = Netns::new("burst-p");
    veth(&router, "eth0", &peer, "eth0");
    let mac = mac_of(&router, "eth0");
    let vip = Ipv4Addr::new(198, 51, 100, 8);
    let burst = Burst {
        count: 4,
        interval: Duration::from_millis(250),
    };
    let (frames, ticks) = capture_frames_while(
        &peer,
        "eth0",
        Duration::from_millis(2000),
        |f| matches!(decode(&f.bytes), Some(Decoded::Arp { sender_ip, .. }) if sender_ip == vip),
        || {
            router.run(|| {
                let index = Rtnl::connect()
                    .expect("rtnl")
                    .interface("eth0")
                    .expect("eth0")
                    .index;
                let socket = PacketSocket::open().expect("packet socket");
                let announcement = Announcement::PiranhaGarp {
                    ip: vip,
                    mac,
                    eth_destination: MacAddr::BROADCAST,
                };
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .expect("runtime");
                runtime.block_on(async {
                    // Another task on the same thread ticks every 10 ms while the burst waits.
                    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
                    let counter = ticks.clone();
                    let ticker = tokio::spawn(async move {
                        loop {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    });
                    send_burst(&socket, index, &announcement, burst)
                        .await
                        .expect("burst");
                    ticker.abort();
                    ticks.load(std::sync::atomic::Ordering::Relaxed)
                })
            })
        },
    );
    assert_eq!(frames.len(), 4, "{frames:#?}");
    for pair in frames.windows(2) {
        let gap = pair[1].received_at - pair[0].received_at;
        assert!(
            gap >= Duration::from_millis(200) && gap < Duration::from_millis(500),
            "gap {gap:?} for an interval of 250 ms"
        );
    }
    // The burst took 750 ms: about 75 ticks; a blocked runtime would show none.
    assert!(
        ticks >= 30,
        "the runtime ticked only {ticks} times during the burst"
    );
}
