//! Against the real kernel: every command, IPv4 and IPv6, every error the
//! reference lists, a 10,000-destination dump, batches, and the diff property.
//!
//! `cargo xtask test` runs these in the kernel test lab (a VM whose kernel
//! has IPVS) with `LVS_KERNEL_TESTS=1`; each test works in a network
//! namespace of its own, so each has a table of its own. Where the kernel has
//! no IPVS and that variable is unset, they skip with a printed reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_ipvs::*;
use proptest::prelude::*;
use testkit::{kernel_lab, KernelProbe, Netns};

mod common;
use common::arb_table;

/// A namespace to test in, or `None` (with the reason printed) to skip.
fn lab(test: &str) -> Option<Netns> {
    kernel_lab(test, "ipvs", || match Ipvs::connect_without_modprobe() {
        Ok(_) => KernelProbe::Ready,
        Err(e) if e.kind == ErrorKind::NotAvailable => KernelProbe::NotAvailable,
        Err(e) => KernelProbe::Failed(e.to_string()),
    })
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn v6(text: &str) -> IpAddr {
    text.parse::<Ipv6Addr>().expect("literal").into()
}

fn tcp(addr: IpAddr, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr,
        port,
    }
}

fn errno_of<T: std::fmt::Debug>(result: Result<T, IpvsError>) -> (i32, String) {
    let error = result.expect_err("the kernel refuses");
    (
        error
            .errno()
            .unwrap_or_else(|| panic!("not a kernel error: {error}")),
        error.ipvsadm_message(),
    )
}

#[test]
fn services_of_every_kind() {
    let Some(ns) = lab("services_of_every_kind") else {
        return;
    };
    ns.run(|| {
        let mut ipvs = Ipvs::connect().expect("connect");
        let mut web = Service::new(tcp(v4(192, 0, 2, 1), 80), "wlc").persistent(300);
        web.netmask = Netmask::V4(Ipv4Addr::new(255, 255, 255, 0));
        let mut dns6 = Service::new(
            ServiceKey::Addr {
                protocol: Protocol::Udp,
                addr: v6("2001:db8::53"),
                port: 53,
            },
            "rr",
        );
        dns6.flags = ServiceFlags::ONE_PACKET;
        let sctp = Service::new(
            ServiceKey::Addr {
                protocol: Protocol::Sctp,
                addr: v4(192, 0, 2, 1),
                port: 3868,
            },
            "lc",
        );
        let mut fwm4 = Service::new(
            ServiceKey::Fwmark {
                family: Family::Inet,
                mark: 7,
            },
            "sh",
        );
        fwm4.flags = ServiceFlags::SCHED1 | ServiceFlags::SCHED2;
        let fwm6 = Service::new(
            ServiceKey::Fwmark {
                family: Family::Inet6,
                mark: 7,
            },
            "mh",
        )
        .persistent(60);
        let mut v6_persist = Service::new(tcp(v6("2001:db8::80"), 443), "wrr").persistent(120);
        v6_persist.netmask = Netmask::V6(64);
        let mut sip = Service::new(
            ServiceKey::Addr {
                protocol: Protocol::Udp,
                addr: v4(192, 0, 2, 5),
                port: 5060,
            },
            "rr",
        )
        .persistent(30);
        sip.persistence_engine = Some("sip".into());
        // The same kinds with the other family: SCTP, the SIP engine and
        // scheduler flags over IPv6, one-packet scheduling over IPv4.
        let sctp6 = Service::new(
            ServiceKey::Addr {
                protocol: Protocol::Sctp,
                addr: v6("2001:db8::5"),
                port: 3868,
            },
            "lc",
        );
        let mut sip6 = Service::new(
            ServiceKey::Addr {
                protocol: Protocol::Udp,
                addr: v6("2001:db8::5"),
                port: 5060,
            },
            "rr",
        )
        .persistent(30);
        sip6.persistence_engine = Some("sip".into());
        let mut sh6 = Service::new(tcp(v6("2001:db8::6"), 80), "sh");
        sh6.flags = ServiceFlags::SCHED1 | ServiceFlags::SCHED2;
        let mut dns4 = Service::new(
            ServiceKey::Addr {
                protocol: Protocol::Udp,
                addr: v4(192, 0, 2, 53),
                port: 53,
            },
            "rr",
        );
        dns4.flags = ServiceFlags::ONE_PACKET;
        let all = [
            web, dns6, sctp, fwm4, fwm6, v6_persist, sip, sctp6, sip6, sh6, dns4,
        ];
        for service in &all {
            ipvs.add_service(service).unwrap_or_else(|e| panic!("{e}"));
        }
        let listed = ipvs.services().expect("dump");
        assert_eq!(listed.len(), all.len());
        for service in &all {
            let got = ipvs.service(&service.key).expect("get");
            assert!(got.same_settings(service), "{service:?}\n{got:?}");
            assert!(listed.iter().any(|l| l.same_settings(service)));
            assert!(got.stats.is_some());
        }
        // Edit in place: scheduler and persistence, IPv4 and IPv6.
        let mut edited = all[0].clone();
        edited.scheduler = "rr".into();
        edited.timeout = 900;
        ipvs.edit_service(&edited).expect("edit");
        assert!(ipvs.service(&edited.key).expect("get").same_settings(&edited));
        let mut edited6 = all[5].clone();
        edited6.scheduler = "lc".into();
        edited6.netmask = Netmask::V6(48);
        ipvs.edit_service(&edited6).expect("edit v6");
        assert!(ipvs.service(&edited6.key).expect("get").same_settings(&edited6));
        for service in &all {
            ipvs.delete_service(&service.key).expect("delete");
        }
        assert!(ipvs.services().expect("dump").is_empty());
    });
}

#[test]
fn destinations_of_every_kind() {
    let Some(ns) = lab("destinations_of_every_kind") else {
        return;
    };
    ns.run(|| {
        let mut ipvs = Ipvs::connect().expect("connect");
        let key4 = tcp(v4(192, 0, 2, 1), 80);
        let key6 = tcp(v6("2001:db8::1"), 80);
        ipvs.add_service(&Service::new(key4, "wlc")).expect("service");
        ipvs.add_service(&Service::new(key6, "wlc")).expect("service");
        let mut masq = Destination::at(
            std::net::SocketAddr::new(v4(10, 0, 0, 1), 8080),
            ForwardMethod::Masquerade,
        )
        .weight(3);
        masq.upper_threshold = 100;
        masq.lower_threshold = 10;
        let route = Destination::at(
            std::net::SocketAddr::new(v4(10, 0, 0, 2), 80),
            ForwardMethod::DirectRoute,
        )
        .weight(0);
        let ipip = Destination::at(
            std::net::SocketAddr::new(v4(10, 0, 0, 3), 80),
            ForwardMethod::Tunnel,
        )
        .weight(1);
        let mut gue = Destination::at(
            std::net::SocketAddr::new(v4(10, 0, 0, 4), 80),
            ForwardMethod::Tunnel,
        )
        .weight(1);
        gue.tunnel = Some(Tunnel {
            kind: TunnelType::Gue,
            port: 6080,
            flags: 1,
        });
        let mut gre = Destination::at(
            std::net::SocketAddr::new(v4(10, 0, 0, 5), 80),
            ForwardMethod::Tunnel,
        )
        .weight(1);
        gre.tunnel = Some(Tunnel {
            kind: TunnelType::Gre,
            port: 0,
            flags: 2,
        });
        // A tunnel may reach a real server of the other family.
        let mixed = Destination::at(
            std::net::SocketAddr::new(v6("2001:db8::99"), 80),
            ForwardMethod::Tunnel,
        )
        .weight(2);
        let v4_dests = [masq, route, ipip, gue, gre, mixed];
        for dest in &v4_dests {
            ipvs.add_destination(&key4, dest)
                .unwrap_or_else(|e| panic!("{dest:?}: {e}"));
        }
        let mut gue6 = Destination::at(
            std::net::SocketAddr::new(v6("2001:db8::12"), 80),
            ForwardMethod::Tunnel,
        )
        .weight(1);
        gue6.tunnel = Some(Tunnel {
            kind: TunnelType::Gue,
            port: 6081,
            flags: 2,
        });
        let mut gre6 = Destination::at(
            std::net::SocketAddr::new(v6("2001:db8::13"), 80),
            ForwardMethod::Tunnel,
        )
        .weight(1);
        gre6.tunnel = Some(Tunnel {
            kind: TunnelType::Gre,
            port: 0,
            flags: 1,
        });
        let mut mixed4 = Destination::at(
            std::net::SocketAddr::new(v4(10, 0, 0, 9), 80),
            ForwardMethod::Tunnel,
        )
        .weight(4);
        mixed4.upper_threshold = 50;
        mixed4.lower_threshold = 5;
        let v6_dests = [
            Destination::at(
                std::net::SocketAddr::new(v6("2001:db8::10"), 80),
                ForwardMethod::Masquerade,
            )
            .weight(5),
            Destination::at(
                std::net::SocketAddr::new(v6("2001:db8::11"), 80),
                ForwardMethod::DirectRoute,
            )
            .weight(1),
            Destination::at(
                std::net::SocketAddr::new(v6("2001:db8::14"), 80),
                ForwardMethod::Tunnel,
            )
            .weight(1),
            gue6,
            gre6,
            // A tunnel from an IPv6 service to an IPv4 real server.
            mixed4,
        ];
        for dest in &v6_dests {
            ipvs.add_destination(&key6, dest).expect("add v6");
        }
        for (key, expected) in [(key4, &v4_dests[..]), (key6, &v6_dests[..])] {
            let got = ipvs.destinations(&key).expect("dump");
            assert_eq!(got.len(), expected.len());
            for dest in expected {
                assert!(
                    got.iter().any(|g| g.same_settings(dest)),
                    "{dest:?} not in {got:#?}"
                );
            }
        }
        let mut heavier = v4_dests[0].clone();
        heavier.weight = 10;
        heavier.forward = ForwardMethod::DirectRoute;
        ipvs.edit_destination(&key4, &heavier).expect("edit");
        assert!(ipvs
            .destinations(&key4)
            .expect("dump")
            .iter()
            .any(|d| d.same_settings(&heavier)));
        ipvs.delete_destination(&key4, heavier.addr, heavier.port)
            .expect("delete");
        assert_eq!(ipvs.destinations(&key4).expect("dump").len(), v4_dests.len() - 1);
        let mut v6_edited = v6_dests[1].clone();
        v6_edited.weight = 9;
        v6_edited.upper_threshold = 1000;
        ipvs.edit_destination(&key6, &v6_edited).expect("edit v6");
        assert!(ipvs
            .destinations(&key6)
            .expect("dump")
            .iter()
            .any(|d| d.same_settings(&v6_edited)));
        ipvs.delete_destination(&key6, v6_dests[0].addr, 80)
            .expect("delete v6");
        assert_eq!(ipvs.destinations(&key6).expect("dump").len(), v6_dests.len() - 1);
        // Outside tunnelling, a real server of the other family is refused.
        let error = ipvs
            .add_destination(
                &key6,
                &Destination::at(
                    std::net::SocketAddr::new(v4(10, 0, 0, 10), 80),
                    ForwardMethod::Masquerade,
                )
                .weight(1),
            )
            .expect_err("mixed families outside a tunnel");
        assert_eq!(error.errno(), Some(libc::EINVAL));
        // A service that does not exist has an empty destination dump.
        assert!(ipvs
            .destinations(&tcp(v4(192, 0, 2, 99), 1))
            .expect("dump")
            .is_empty());
    });
}

#[test]
fn every_error_the_reference_lists() {
    let Some(ns) = lab("every_error_the_reference_lists") else {
        return;
    };
    ns.run(|| {
        let mut ipvs = Ipvs::connect().expect("connect");
        let key = tcp(v4(192, 0, 2, 1), 80);
        let missing = tcp(v4(192, 0, 2, 2), 80);
        let service = Service::new(key, "wlc");
        ipvs.add_service(&service).expect("add");
        let dest = Destination::at(
            std::net::SocketAddr::new(v4(10, 0, 0, 1), 80),
            ForwardMethod::Masquerade,
        )
        .weight(1);
        ipvs.add_destination(&key, &dest).expect("add dest");

        assert_eq!(
            errno_of(ipvs.add_service(&service)),
            (libc::EEXIST, "Service already exists".into())
        );
        assert_eq!(
            errno_of(ipvs.add_destination(&key, &dest)),
            (libc::EEXIST, "Destination already exists".into())
        );
        assert_eq!(
            errno_of(ipvs.delete_service(&missing)),
            (libc::ESRCH, "No such service".into())
        );
        assert_eq!(
            errno_of(ipvs.edit_service(&Service::new(missing, "rr"))),
            (libc::ESRCH, "No such service".into())
        );
        assert_eq!(
            errno_of(ipvs.service(&missing)),
            (libc::ESRCH, "No such service".into())
        );
        assert_eq!(
            errno_of(ipvs.zero(Some(&missing))),
            (libc::ESRCH, "No such service".into())
        );
        assert_eq!(
            errno_of(ipvs.add_destination(&missing, &dest)),
            (libc::ESRCH, "Service not defined".into())
        );
        assert_eq!(
            errno_of(ipvs.delete_destination(&key, v4(10, 0, 0, 9), 80)),
            (libc::ENOENT, "No such destination".into())
        );
        assert_eq!(
            errno_of(
                ipvs.edit_destination(
                    &key,
                    &Destination::at(
                        std::net::SocketAddr::new(v4(10, 0, 0, 9), 80),
                        ForwardMethod::Masquerade
                    )
                    .weight(1)
                )
            ),
            (libc::ENOENT, "No such destination".into())
        );

        let error = ipvs
            .add_service(&Service::new(missing, "nosuch"))
            .expect_err("no such scheduler");
        assert_eq!(error.errno(), Some(libc::ENOENT));
        assert_eq!(
            error.ipvsadm_message(),
            "Scheduler or persistence engine not found"
        );
        assert!(
            error.explanation().unwrap_or_default().contains("ip_vs_nosuch"),
            "{error}"
        );

        let mut thresholds = Destination::at(
            std::net::SocketAddr::new(v4(10, 0, 0, 2), 80),
            ForwardMethod::Masquerade,
        )
        .weight(1);
        thresholds.upper_threshold = 5;
        thresholds.lower_threshold = 10;
        let error = ipvs.add_destination(&key, &thresholds).expect_err("l > u");
        assert_eq!(error.errno(), Some(libc::ERANGE));
        assert!(error.explanation().is_some());

        let mut gue = Destination::at(
            std::net::SocketAddr::new(v4(10, 0, 0, 3), 80),
            ForwardMethod::Tunnel,
        )
        .weight(1);
        gue.tunnel = Some(Tunnel {
            kind: TunnelType::Gue,
            port: 0,
            flags: 0,
        });
        let invalid =
            "Invalid operation.  Possibly wrong module version, address not unicast, ...".to_owned();
        assert_eq!(
            errno_of(ipvs.add_destination(&key, &gue)),
            (libc::EINVAL, invalid.clone())
        );
        let mixed = Destination::at(
            std::net::SocketAddr::new(v6("2001:db8::5"), 80),
            ForwardMethod::Masquerade,
        )
        .weight(1);
        assert_eq!(
            errno_of(ipvs.add_destination(&key, &mixed)),
            (libc::EINVAL, invalid.clone())
        );
        let mut bad_prefix = Service::new(tcp(v6("2001:db8::1"), 80), "wlc").persistent(10);
        bad_prefix.netmask = Netmask::V6(0);
        assert_eq!(errno_of(ipvs.add_service(&bad_prefix)), (libc::EINVAL, invalid));

        assert_eq!(
            errno_of(ipvs.stop_daemon(DaemonState::Master)),
            (libc::ESRCH, "No daemon is running".into())
        );
    });
}

#[test]
fn timeouts_info_zero_and_flush() {
    let Some(ns) = lab("timeouts_info_zero_and_flush") else {
        return;
    };
    ns.run(|| {
        let mut ipvs = Ipvs::connect().expect("connect");
        let info = ipvs.info().expect("info");
        assert_eq!(info.version_string(), "1.2.1");
        assert!(info.conn_tab_size > 0);
        assert_eq!(
            ipvs.timeouts().expect("get"),
            Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            }
        );
        ipvs.set_timeouts(Timeouts {
            tcp: 3600,
            tcp_fin: 0,
            udp: 60,
        })
        .expect("set");
        assert_eq!(
            ipvs.timeouts().expect("get"),
            Timeouts {
                tcp: 3600,
                tcp_fin: 120,
                udp: 60
            },
            "0 leaves a timeout unchanged"
        );

        let key = tcp(v4(192, 0, 2, 1), 80);
        ipvs.add_service(&Service::new(key, "rr")).expect("add");
        ipvs.zero(Some(&key)).expect("zero one");
        ipvs.zero(None).expect("zero all");
        assert_eq!(ipvs.service(&key).expect("get").stats, Some(Stats::default()));
        ipvs.add_service(&Service::new(tcp(v6("2001:db8::1"), 80), "rr"))
            .expect("add");
        ipvs.flush().expect("flush");
        assert!(ipvs.services().expect("dump").is_empty());
    });
}

#[test]
fn sync_daemons() {
    let Some(ns) = lab("sync_daemons") else { return };
    ns.ip(&["link", "add", "sync0", "type", "veth", "peer", "name", "sync1"]);
    ns.ip(&["link", "set", "sync0", "up"]);
    ns.ip(&["link", "set", "sync1", "up"]);
    ns.run(|| {
        let mut ipvs = Ipvs::connect().expect("connect");
        // Stopping a daemon waits for its kernel thread, which takes long in an emulated VM under load.
        ipvs.set_timeout(std::time::Duration::from_secs(60));
        let mut master = Daemon::new(DaemonState::Master, "sync0", 9);
        master.sync_maxlen = Some(1200);
        master.mcast_group = Some(v4(224, 0, 0, 82));
        master.mcast_port = Some(8849);
        master.mcast_ttl = Some(2);
        let mut backup = Daemon::new(DaemonState::Backup, "sync1", 9);
        backup.sync_maxlen = Some(1400);
        backup.mcast_group = Some(v6("ff02::82"));
        backup.mcast_port = Some(8850);
        ipvs.start_daemon(&master).expect("master");
        ipvs.start_daemon(&backup).expect("backup");
        assert_eq!(
            errno_of(ipvs.start_daemon(&master)),
            (libc::EEXIST, "Daemon has already run".into())
        );
        let running = ipvs.daemons().expect("list");
        assert_eq!(running.len(), 2, "{running:?}");
        let find = |state| {
            running
                .iter()
                .find(|d| d.state == state)
                .unwrap_or_else(|| panic!("{state:?} listed: {running:?}"))
        };
        assert_eq!(find(DaemonState::Master), &master);
        // The kernel fills in the TTL it uses when none is given.
        let got_backup = find(DaemonState::Backup);
        assert_eq!(
            (
                got_backup.mcast_interface.as_str(),
                got_backup.sync_id,
                got_backup.sync_maxlen,
                got_backup.mcast_group,
                got_backup.mcast_port,
                got_backup.mcast_ttl
            ),
            ("sync1", 9, Some(1400), Some(v6("ff02::82")), Some(8850), Some(1))
        );
        ipvs.stop_daemon(DaemonState::Master).expect("stop master");
        let running = ipvs.daemons().expect("list");
        assert_eq!(running.len(), 1);
        assert_eq!(running[0].state, DaemonState::Backup);
        ipvs.stop_daemon(DaemonState::Backup).expect("stop backup");
        assert!(ipvs.daemons().expect("list").is_empty());
        assert_eq!(
            errno_of(ipvs.stop_daemon(DaemonState::Backup)),
            (libc::ESRCH, "No daemon is running".into())
        );
        let error = ipvs
            .start_daemon(&Daemon::new(DaemonState::Master, "nosuch0", 1))
            .expect_err("no device");
        assert_eq!(error.errno(), Some(libc::ENODEV));
    });
}

/// A daemon stopped the moment it has started: when its kernel thread has
/// not run yet, the kernel stops it with `EINTR` and sends no
/// acknowledgement. The stop must still return, and say it worked.
#[test]
fn a_daemon_stopped_as_soon_as_it_starts() {
    let Some(ns) = lab("a_daemon_stopped_as_soon_as_it_starts") else {
        return;
    };
    ns.ip(&["link", "add", "sync0", "type", "veth", "peer", "name", "sync1"]);
    ns.ip(&["link", "set", "sync0", "up"]);
    ns.ip(&["link", "set", "sync1", "up"]);
    ns.run(|| {
        let mut ipvs = Ipvs::connect().expect("connect");
        ipvs.set_timeout(std::time::Duration::from_secs(30));
        for round in 0..20 {
            for (state, device) in [(DaemonState::Backup, "sync1"), (DaemonState::Master, "sync0")] {
                ipvs.start_daemon(&Daemon::new(state, device, round))
                    .unwrap_or_else(|e| panic!("round {round}: start {state:?}: {e}"));
                ipvs.stop_daemon(state)
                    .unwrap_or_else(|e| panic!("round {round}: stop {state:?}: {e}"));
                assert!(
                    ipvs.daemons().expect("list").is_empty(),
                    "round {round}: {state:?} still runs"
                );
            }
        }
    });
}

/// 1,000 services of 10 destinations each.
fn large_table() -> Table {
    let mut table = Table::default();
    for s in 0..1000u32 {
        let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + s));
        let service = Service::new(tcp(addr, 80), if s % 2 == 0 { "wlc" } else { "rr" });
        let dests = (0..10u32)
            .map(|d| {
                Destination::at(
                    std::net::SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0xac10_0000 + s * 10 + d)), 8080),
                    ForwardMethod::Masquerade,
                )
                .weight(d + 1)
            })
            .collect();
        table.insert(service, dests);
    }
    table
}

#[test]
fn a_table_of_ten_thousand_destinations_reads_back_exactly() {
    let Some(ns) = lab("a_table_of_ten_thousand_destinations_reads_back_exactly") else {
        return;
    };
    ns.run(|| {
        let mut ipvs = Ipvs::connect().expect("connect");
        let table = large_table();
        assert_eq!(table.destination_count(), 10_000);
        let results = ipvs.apply(&table.build_operations(), ApplyOptions::default());
        assert_eq!(results.len(), 11_000);
        assert!(
            results.iter().all(Result::is_ok),
            "{:?}",
            results.iter().find(|r| r.is_err())
        );
        let read = ipvs.snapshot().expect("snapshot");
        assert_eq!(read.destination_count(), 10_000);
        assert!(read.same_settings(&table));
    });
}

#[test]
fn batches_report_each_operation_and_can_be_idempotent() {
    let Some(ns) = lab("batches_report_each_operation_and_can_be_idempotent") else {
        return;
    };
    ns.run(|| {
        let mut ipvs = Ipvs::connect().expect("connect");
        let key = tcp(v4(192, 0, 2, 1), 80);
        let dest = Destination::at(
            std::net::SocketAddr::new(v4(10, 0, 0, 1), 80),
            ForwardMethod::Masquerade,
        )
        .weight(1);
        let ops = vec![
            Operation::AddService(Service::new(key, "wlc")),
            Operation::AddDest(tcp(v4(192, 0, 2, 9), 80), dest.clone()),
            Operation::AddDest(key, dest.clone()),
            Operation::DeleteDest(key, v4(10, 0, 0, 7), 80),
        ];
        let results = ipvs.apply(&ops, ApplyOptions::default());
        assert!(results[0].is_ok() && results[2].is_ok());
        assert_eq!(
            results[1].as_ref().err().and_then(IpvsError::errno),
            Some(libc::ESRCH)
        );
        assert_eq!(
            results[3].as_ref().err().and_then(IpvsError::errno),
            Some(libc::ENOENT)
        );
        // Again: the adds exist now; idempotence counts them, and the delete of what is gone, as done.
        let again = ipvs.apply(&ops, ApplyOptions::default());
        assert_eq!(
            again[0].as_ref().err().and_then(IpvsError::errno),
            Some(libc::EEXIST)
        );
        let idempotent = ipvs.apply(&ops, ApplyOptions { idempotent: true });
        assert!(idempotent[0].is_ok() && idempotent[2].is_ok() && idempotent[3].is_ok());
        assert_eq!(
            idempotent[1].as_ref().err().and_then(IpvsError::errno),
            Some(libc::ESRCH),
            "adding to a missing service is still an error"
        );
    });
}

// ---- the diff property ----------------------------------------------------

#[test]
fn applying_the_diff_of_a_and_b_to_a_gives_b() {
    let Some(ns) = lab("applying_the_diff_of_a_and_b_to_a_gives_b") else {
        return;
    };
    ns.run(|| {
        let config = ProptestConfig {
            cases: 64,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        proptest!(config, |(a in arb_table(), b in arb_table())| {
            let mut ipvs = Ipvs::connect().map_err(|e| TestCaseError::fail(e.to_string()))?;
            ipvs.flush().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let built = ipvs.apply(&a.build_operations(), ApplyOptions::default());
            prop_assert!(built.iter().all(Result::is_ok), "{:?}", built);
            let before = ipvs.snapshot().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(before.same_settings(&a));
            let operations = diff(&before, &b);
            let applied = ipvs.apply(&operations, ApplyOptions::default());
            prop_assert!(applied.iter().all(Result::is_ok), "{:?}\n{:?}", operations, applied);
            let after = ipvs.snapshot().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(after.same_settings(&b), "{:?}\n{:?}", after, b);
            prop_assert!(diff(&after, &b).is_empty());
        });
    });
}
