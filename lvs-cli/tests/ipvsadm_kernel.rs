//! ipvsadm-rs's listings against the real ipvsadm 1.31, byte for byte, on
//! the same kernel table (in a network namespace of the kernel test lab).

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use lvs_cli::ipvsadm_list::{list, save, Columns, ListOptions};
use lvs_ipvs::*;
use testkit::Netns;

fn lab(test: &str) -> Option<Netns> {
    let required = std::env::var_os("LVS_KERNEL_TESTS").is_some();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(!required, "{test}: needs root");
        eprintln!("skipped {test}: needs root and a kernel with IPVS (cargo xtask test runs it in the VM)");
        return None;
    }
    let ns = Netns::new("ipvsadm");
    match ns.run(Ipvs::connect_without_modprobe) {
        Ok(_) => Some(ns),
        Err(e) if e.kind == ErrorKind::NotAvailable && !required => {
            eprintln!("skipped {test}: this kernel has no IPVS (cargo xtask test runs it in the VM)");
            None
        }
        Err(e) => panic!("{test}: {e}"),
    }
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// A table with something of everything ipvsadm prints.
fn build(ipvs: &mut Ipvs) {
    let mut web = Service::new(
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: v4(192, 0, 2, 10),
            port: 80,
        },
        "wlc",
    )
    .persistent(300);
    web.netmask = Netmask::V4(Ipv4Addr::new(255, 255, 255, 0));
    let mut dns = Service::new(
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: v4(192, 0, 2, 10),
            port: 53,
        },
        "rr",
    );
    dns.flags = ServiceFlags(ServiceFlags::ONE_PACKET);
    let mut v6 = Service::new(
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "2001:db8::80".parse().expect("literal"),
            port: 443,
        },
        "sh",
    );
    v6.flags = ServiceFlags(ServiceFlags::SCHED2);
    let fwm = Service::new(
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark: 1,
        },
        "rr",
    );
    let mut v6p = Service::new(
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "2001:db8::81".parse().expect("literal"),
            port: 80,
        },
        "lc",
    )
    .persistent(60);
    v6p.netmask = Netmask::V6(64);
    let high = Service::new(
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: v4(200, 0, 0, 1),
            port: 80,
        },
        "wrr",
    );
    let mut thresholds = Destination::new(v4(10, 0, 0, 2), 80, ForwardMethod::DirectRoute, 0);
    thresholds.upper_threshold = 100;
    thresholds.lower_threshold = 10;
    let entries = [
        (
            web,
            vec![
                Destination::new(v4(10, 0, 0, 1), 80, ForwardMethod::DirectRoute, 1),
                thresholds,
            ],
        ),
        (
            dns,
            vec![Destination::new(
                v4(10, 0, 0, 3),
                53,
                ForwardMethod::Masquerade,
                1,
            )],
        ),
        (
            v6,
            vec![Destination::new(
                "2001:db8::a0a0".parse().expect("literal"),
                443,
                ForwardMethod::Masquerade,
                1,
            )],
        ),
        (
            fwm,
            vec![Destination::new(v4(10, 0, 0, 4), 0, ForwardMethod::Tunnel, 1)],
        ),
        (v6p, vec![]),
        (
            high,
            vec![
                Destination::new(v4(220, 0, 0, 1), 80, ForwardMethod::Masquerade, 65535),
                Destination::new(v4(10, 9, 9, 9), 80, ForwardMethod::Masquerade, 2),
            ],
        ),
    ];
    for (service, dests) in entries {
        ipvs.add_service(&service).expect("service");
        for dest in dests {
            ipvs.add_destination(&service.key, &dest).expect("destination");
        }
    }
}

#[test]
fn listings_match_ipvsadm_byte_for_byte() {
    let Some(ns) = lab("listings_match_ipvsadm_byte_for_byte") else {
        return;
    };
    let (info, table) = ns.run(|| {
        let mut ipvs = Ipvs::connect().expect("connect");
        build(&mut ipvs);
        let info = ipvs.info().expect("info");
        let services = ipvs.services().expect("services");
        let table: Vec<(Service, Vec<Destination>)> = services
            .into_iter()
            .map(|s| {
                let dests = ipvs.destinations(&s.key).expect("destinations");
                (s, dests)
            })
            .collect();
        (info, table)
    });
    for (flags, columns, nosort) in [
        (&["-Ln"][..], Columns::Default, false),
        (&["-Ln", "--stats"][..], Columns::Stats, false),
        (&["-Ln", "--rate"][..], Columns::Rate, false),
        (&["-Ln", "--thresholds"][..], Columns::Thresholds, false),
        (&["-Ln", "--persistent-conn"][..], Columns::PersistentConn, false),
        (&["-Ln", "--nosort"][..], Columns::Default, true),
    ] {
        let theirs = Command::new("ip")
            .args(["netns", "exec", &ns.name, "ipvsadm"])
            .args(flags)
            .output()
            .expect("run ipvsadm");
        assert!(
            theirs.status.success(),
            "ipvsadm {flags:?}: {}",
            String::from_utf8_lossy(&theirs.stderr)
        );
        let ours = list(
            &info,
            &table,
            ListOptions {
                columns,
                exact: false,
                nosort,
            },
        );
        assert_eq!(ours, String::from_utf8_lossy(&theirs.stdout), "ipvsadm {flags:?}");
    }
    let theirs = Command::new("ip")
        .args(["netns", "exec", &ns.name, "ipvsadm", "-S", "-n"])
        .output()
        .expect("run ipvsadm");
    assert_eq!(
        save(&table, false),
        String::from_utf8_lossy(&theirs.stdout),
        "ipvsadm -S -n"
    );
}
