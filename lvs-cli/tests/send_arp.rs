//! `send_arp`: Piranha's command line and messages, the extensions, and the
//! frames it puts on a real link (in network namespaces; needs root).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::os::unix::process::CommandExt;
use std::process::{Command, Output};
use std::time::Duration;

use lvs_arp::frame::{decode, Decoded};
use lvs_arp::link::Rtnl;
use lvs_arp::packet::Capture;
use lvs_arp::MacAddr;
use testkit::{require_root, veth, Netns};

const SEND_ARP: &str = env!("CARGO_BIN_EXE_send_arp");
const USAGE: &str = "send_arp: sends out custom ARP packet. Yuri Volobuev '97\n\tusage: send_arp [-i dev] src_ip_addr src_hw_addr targ_ip_addr tar_hw_addr\n\n\n";

fn send_arp(args: &[&str]) -> Output {
    Command::new(SEND_ARP).args(args).output().expect("run send_arp")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn wrong_argument_counts_print_piranhas_usage() {
    for args in [
        &[][..],
        &["1.2.3.4"],
        &["1.2.3.4", "001122334455", "1.2.3.4"],
        &["1", "2", "3", "4", "5"],
    ] {
        let out = send_arp(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(err.starts_with(USAGE), "{args:?}: {err:?}");
        assert_eq!(
            err.lines().count(),
            5,
            "usage, blank lines, then one line naming the problem: {err:?}"
        );
    }
    assert!(stderr(&send_arp(&["1.2.3.4", "001122334455"]))
        .ends_with("send_arp: missing <targ_ip_addr> <targ_hw_addr>\n"));
}

#[test]
fn bad_extension_options_print_the_usage_and_the_option() {
    let out = send_arp(&["-c", "0", "1.2.3.4", "001122334455", "1.2.3.4", "ffffffffffff"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with(USAGE));
    assert!(stderr(&out).contains("'-c <COUNT>'"), "{}", stderr(&out));
    let out = send_arp(&["-w", "soon", "1.2.3.4", "001122334455", "1.2.3.4", "ffffffffffff"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("`soon` is not a number of seconds"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_is_not_an_error() {
    let out = send_arp(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("Usage: send_arp [-i dev] [-c COUNT] [-w SECONDS] [-U] src_ip_addr src_hw_addr targ_ip_addr targ_hw_addr"));
}

#[test]
fn without_root_the_socket_is_refused() {
    if !require_root("without_root_the_socket_is_refused") {
        return;
    }
    // Run from a copy: the build may sit where other users cannot enter.
    let (_dir, send_arp) = testkit::TempDir::public_copy("send-arp-nobody", std::path::Path::new(SEND_ARP));
    let out = Command::new(send_arp)
        .args([
            "-i",
            "lo",
            "192.0.2.1",
            "001122334455",
            "192.0.2.1",
            "ffffffffffff",
        ])
        .uid(65534)
        .gid(65534)
        .output()
        .expect("run send_arp as nobody");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "socket: Operation not permitted\nsend_arp: sending raw frames needs root (CAP_NET_RAW)\n"
    );
}

#[test]
fn each_malformed_argument_is_named() {
    if !require_root("each_malformed_argument_is_named") {
        return;
    }
    let ns = Netns::new("sendarp-bad");
    let run = |args: &[&str]| {
        let out = ns.exec(SEND_ARP, args);
        (out.status.code(), stderr(&out))
    };
    let cases: &[(&[&str], &str)] = &[
        (&["-i", "lo", "192.0.2.1", "0011223344", "192.0.2.1", "ffffffffffff"], "Invalid hardware address\nsend_arp: src_hw_addr `0011223344`: expected 12 hex digits, with or without colons (00:11:22:aa:bb:cc)\n"),
        (&["-i", "lo", "192.0.2.1", "001122334455", "192.0.2.1", "ff:ff:ff:ff:ff:fg"], "Invalid hardware address\nsend_arp: targ_hw_addr `ff:ff:ff:ff:ff:fg`: expected 12 hex digits, with or without colons (00:11:22:aa:bb:cc)\n"),
        (&["-i", "lo", "no-such-host.invalid", "001122334455", "192.0.2.1", "ffffffffffff"], "send_arp: unknown host no-such-host.invalid\nsend_arp: src_ip_addr is neither an IP address nor a host name that resolves\n"),
        (&["-i", "lo", "192.0.2.1", "001122334455", "192.0.2.300", "ffffffffffff"], "send_arp: unknown host 192.0.2.300\nsend_arp: targ_ip_addr is neither an IP address nor a host name that resolves\n"),
        (&["-i", "eth9", "192.0.2.1", "001122334455", "192.0.2.1", "ffffffffffff"], "sendto: No such device\nsend_arp: there is no device `eth9` (-i)\n"),
        (&["192.0.2.1", "001122334455", "192.0.2.1", "ffffffffffff"], "sendto: No such device\nsend_arp: there is no device `eth0` (-i)\n"),
        (&["-U", "-i", "lo", "2001:db8::1", "001122334455", "2001:db8::1", "ffffffffffff"], "send_arp: -U (the ARP request form) does not apply to IPv6 addresses\n"),
    ];
    for (args, expected) in cases {
        assert_eq!(run(args), (Some(1), (*expected).to_owned()), "{args:?}");
    }
}

/// Runs send_arp in `router` while capturing on `peer`, and decodes what arrived.
fn frames_from(router: &Netns, peer: &Netns, args: &[&str]) -> Vec<Decoded> {
    let (frames, out) = peer.watch_while(
        |ready| {
            let index = Rtnl::connect()
                .expect("rtnl")
                .interface("eth0")
                .expect("eth0")
                .index;
            let capture = Capture::open(index).expect("capture");
            ready();
            capture
                .collect(Duration::from_millis(1500), |_| true)
                .expect("capture")
        },
        || router.exec(SEND_ARP, args),
    );
    assert_eq!(out.status.code(), Some(0), "send_arp {args:?}: {}", stderr(&out));
    frames.iter().filter_map(|f| decode(&f.bytes)).collect()
}

#[test]
fn the_frames_on_the_wire() {
    if !require_root("the_frames_on_the_wire") {
        return;
    }
    let router = Netns::new("sendarp-r");
    let peer = Netns::new("sendarp-p");
    veth(&router, "eth0", &peer, "eth0");
    let mac: MacAddr = router.mac("eth0").parse().expect("MAC");
    let hex = mac.to_piranha_hex();

    // Piranha's form, as pulse runs it: one reply, sender = target = VIP and MAC.
    let frames = frames_from(
        &router,
        &peer,
        &[
            "-i",
            "eth0",
            "198.51.100.9",
            &hex,
            "198.51.100.255",
            "ffffffffffff",
        ],
    );
    let arps: Vec<_> = frames
        .iter()
        .filter(|f| matches!(f, Decoded::Arp { .. }))
        .collect();
    assert_eq!(arps.len(), 1, "{frames:#?}");
    let vip = "198.51.100.9".parse().expect("literal");
    assert_eq!(
        *arps[0],
        Decoded::Arp {
            eth_destination: MacAddr::BROADCAST,
            eth_source: mac,
            hardware_type: 1,
            protocol_type: 0x0800,
            hw_addr_len: 6,
            proto_addr_len: 4,
            operation: 2,
            sender_mac: mac,
            sender_ip: vip,
            target_mac: mac,
            target_ip: vip,
            length: 60
        }
    );

    // The request form, three times, to a unicast destination.
    let frames = frames_from(
        &router,
        &peer,
        &[
            "-U",
            "-c",
            "3",
            "-w",
            "0.1",
            "-i",
            "eth0",
            "198.51.100.9",
            &mac.to_string(),
            "198.51.100.9",
            "02:00:00:00:00:01",
        ],
    );
    let requests: Vec<_> = frames
        .iter()
        .filter(|f| matches!(f, Decoded::Arp { operation: 1, .. }))
        .collect();
    assert_eq!(requests.len(), 3, "{frames:#?}");
    for request in requests {
        assert_eq!(
            *request,
            Decoded::Arp {
                eth_destination: MacAddr([2, 0, 0, 0, 0, 1]),
                eth_source: mac,
                hardware_type: 1,
                protocol_type: 0x0800,
                hw_addr_len: 6,
                proto_addr_len: 4,
                operation: 1,
                sender_mac: mac,
                sender_ip: vip,
                target_mac: MacAddr::BROADCAST,
                target_ip: vip,
                length: 60
            }
        );
    }

    // IPv6: an unsolicited NA to all nodes.
    let frames = frames_from(
        &router,
        &peer,
        &["-i", "eth0", "2001:db8::9", &hex, "2001:db8::9", "ffffffffffff"],
    );
    let target: std::net::Ipv6Addr = "2001:db8::9".parse().expect("literal");
    let na = frames
        .iter()
        .find(|f| matches!(f, Decoded::NeighborAdvert { target: t, .. } if *t == target));
    match na {
        Some(Decoded::NeighborAdvert {
            eth_destination,
            eth_source,
            ip_source,
            ip_destination,
            hop_limit,
            flags,
            target_mac,
            checksum_ok,
            ..
        }) => {
            assert_eq!((*eth_destination, *eth_source), (MacAddr::IPV6_ALL_NODES, mac));
            assert_eq!(
                *ip_destination,
                "ff02::1".parse::<std::net::Ipv6Addr>().expect("literal")
            );
            assert_eq!((*ip_source, *hop_limit, *flags), (target, 255, 0x20));
            assert_eq!(*target_mac, Some(mac));
            assert!(checksum_ok);
        }
        other => panic!("no NA: {other:?} in {frames:#?}"),
    }
}
