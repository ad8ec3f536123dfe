//! keepalived.conf into lvs.cf: a configuration in the shape of
//! keepalived's documented sample (written afresh), every construct of the
//! syntax (includes, conditional lines, parameters, sequences, groups,
//! every checker), and every kind of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use lvs_cf::{
    CheckType, DnsTransport, Host, HttpVersion, Network, Payload, Protocol, RecordType, Scheduler,
    SchedulerFlag, StatusRange, TunnelChecksum, TunnelType,
};
use lvs_import::{Fate, ImportError, Imported, Importer, Source};
use testkit::TempDir;

fn importer(id: &str) -> Importer {
    Importer::new(Source::Keepalived).config_id(id)
}

fn import(text: &str) -> Imported {
    importer("lb1")
        .import_text("keepalived.conf", text)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> ImportError {
    match importer("lb1").import_text("keepalived.conf", text) {
        Ok(imported) => panic!("imported:\n{}", lvs_cf::write(&imported.config)),
        Err(e) => e,
    }
}

fn fate<'a>(imported: &'a Imported, file: &Path, line: usize, directive: &str) -> &'a Fate {
    &imported
        .report
        .entries
        .iter()
        .find(|e| e.at.file == file && e.at.line == line && e.directive.starts_with(directive))
        .unwrap_or_else(|| {
            panic!(
                "no entry for {directive} at {}:{line}:\n{}",
                file.display(),
                imported.report
            )
        })
        .fate
}

fn ip(text: &str) -> Host {
    Host::Ip(text.parse::<IpAddr>().unwrap())
}

/// The shape of keepalived's sample configuration: mail settings, one VRRP
/// instance with a VIP, a NAT virtual server with persistence, a sorry
/// server and real servers checked by a digest of a page. The lab test
/// `keepalived_itself_accepts_the_sample_the_import_tests_read` has
/// keepalived check the same file.
const SAMPLE: &str = include_str!("data/keepalived-sample.conf");

#[test]
fn the_documented_samples_shape_becomes_one_nat_service_with_its_checks() {
    let imported = import(SAMPLE);
    let file = Path::new("keepalived.conf");
    let config = &imported.config;
    assert_eq!(config.network, Network::Nat);
    assert_eq!(config.keepalive.as_duration(), Duration::from_secs(1));
    // Three adverts and a skew of (256 - 100)/256 of one.
    assert_eq!(config.deadtime.as_duration(), Duration::from_millis(3609));
    let service = &config.virtual_services[0];
    assert_eq!(service.name, "vs_10_10_10_2_1358");
    let address = service.address.as_ref().unwrap();
    assert_eq!(
        (address.host.clone(), address.device.as_str()),
        (ip("10.10.10.2"), "eth0:1")
    );
    assert_eq!(service.port, 1358);
    assert_eq!(service.scheduler, Scheduler::Rr);
    assert_eq!(service.persistent, 50);
    assert_eq!(service.protocol, Protocol::Tcp);
    assert_eq!(
        service.check_interval.unwrap().as_duration(),
        Duration::from_secs(6)
    );
    assert_eq!(service.sorry_server, Some("192.168.200.200".parse().unwrap()));
    assert_eq!(service.sorry_port, None, "the service's port");
    // keepalived takes a server out after retry + 1 failures in a row.
    assert_eq!(service.failure_count, 4);
    assert_eq!(service.reentry, 0);
    // Both servers check the same two URLs: the checks go to the service.
    assert_eq!(service.checks.len(), 2);
    let (first, second) = (&service.checks[0], &service.checks[1]);
    assert_eq!(first.kind, CheckType::Http);
    assert_eq!(first.path.as_deref(), Some("/testurl/test.jsp"));
    assert_eq!(first.digest.map(|d| d[0]), Some(0x64));
    assert_eq!(first.timeout.unwrap().as_duration(), Duration::from_secs(3));
    assert_eq!(second.name, "http_get_2");
    assert_eq!(
        second.status,
        [
            StatusRange { low: 200, high: 200 },
            StatusRange { low: 301, high: 302 }
        ]
    );
    let weights: Vec<u32> = service.servers.iter().map(|s| s.weight).collect();
    assert_eq!(weights, [1, 2]);
    assert!(service
        .servers
        .iter()
        .all(|s| s.checks.is_empty() && s.port == Some(1358)));

    assert!(matches!(
        fate(&imported, file, 7, "notification_email_from"),
        Fate::Dropped(_)
    ));
    assert!(
        matches!(fate(&imported, file, 19, "authentication"), Fate::Dropped(why) if why.contains("heartbeat_key"))
    );
    assert!(matches!(fate(&imported, file, 40, "url"), Fate::Mapped(how) if how == "check http_get"));
    assert!(matches!(
        fate(&imported, file, 49, "retry"),
        Fate::Approximated(_)
    ));
    // In reading order, each directive once per place.
    let lines: Vec<usize> = imported.report.entries.iter().map(|e| e.at.line).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{}", imported.report);

    let written = lvs_cf::write(config);
    assert_eq!(&lvs_cf::parse(&written).unwrap().config, config);
    // VRRP over multicast names no partner: the report says what pulse would refuse.
    assert!(!imported.report.needs_edits(), "{}", imported.report);
    assert!(config.primary.is_none());
}

#[test]
fn includes_conditions_parameters_and_sequences_are_read_as_keepalived_reads_them() {
    let dir = TempDir::new("syntax");
    let main = dir.file(
        "keepalived.conf",
        "\
$VIP=192.0.2.10
$CHECK= \\
    TCP_CHECK { \\
        connect_timeout 2 \\
    }
vrrp_instance VI_1 {
    @lb1 state MASTER
    @^lb1 state BACKUP
    interface bond0
    @lb1 unicast_src_ip 198.51.100.1
    @lb2 unicast_src_ip 198.51.100.2
    unicast_peer {
        @lb1 198.51.100.2
        @lb2 198.51.100.1
    }
    advert_int 0.2
    virtual_ipaddress {
        ${VIP}/24 dev bond0 label bond0:web
    }
    notify_master \"/usr/local/bin/up.sh master\"
}
include services/*.conf
",
    );
    dir.file(
        "services/a-web.conf",
        "\
virtual_server $VIP 80 {
    lb_algo wlc
    lb_kind DR
    protocol TCP
    ~SEQ(n, 3) real_server 10.0.0.$n 80 { weight $n }
}
include ../more/b.conf
",
    );
    dir.file(
        "more/b.conf",
        "\
virtual_server $VIP 443 {
    lb_kind DR
    protocol TCP
    real_server 10.0.3.1 443 {
        $CHECK
    }
}
",
    );
    let imported = importer("lb1")
        .import_file(&main)
        .unwrap_or_else(|e| panic!("{e}"));
    let config = &imported.config;
    assert_eq!(config.primary, Some(ip("198.51.100.1")));
    assert_eq!(config.backup, Some(ip("198.51.100.2")));
    assert!(config.backup_active);
    assert_eq!(config.keepalive.as_duration(), Duration::from_millis(200));
    assert_eq!(config.active_cmd.as_deref(), Some("/usr/local/bin/up.sh master"));
    let [web, tls] = &config.virtual_services[..] else {
        panic!("{}", lvs_cf::write(config));
    };
    let address = web.address.as_ref().unwrap();
    assert_eq!(
        (address.host.clone(), address.device.as_str()),
        (ip("192.0.2.10"), "bond0:web")
    );
    assert_eq!(web.vip_nmask, Some(lvs_cf::Netmask::Prefix(24)));
    let servers: Vec<(Host, u32)> = web
        .servers
        .iter()
        .map(|s| (s.address.clone().unwrap(), s.weight))
        .collect();
    assert_eq!(
        servers,
        [(ip("10.0.0.1"), 1), (ip("10.0.0.2"), 2), (ip("10.0.0.3"), 3)]
    );
    // The multi-line parameter is the server's checker; the nested include
    // was read relative to the file that names it.
    assert_eq!(tls.port, 443);
    let check = &tls.checks[0];
    assert_eq!(check.kind, CheckType::Tcp);
    assert_eq!(check.timeout.unwrap().as_duration(), Duration::from_secs(2));

    // The other router's config id reads the other lines: the same routers, the other role.
    let other = importer("lb2").import_file(&main).unwrap();
    assert_eq!(other.config.primary, Some(ip("198.51.100.1")));
    assert_eq!(other.config.backup, Some(ip("198.51.100.2")));

    let include = fate(&imported, &main, 22, "include");
    assert!(
        matches!(include, Fate::Mapped(how) if how.contains("a-web.conf")),
        "{include:?}"
    );
}

#[test]
fn sequences_of_hex_and_lists_expand_to_one_line_each() {
    let imported = import(
        "\
$W=4
virtual_server 192.0.2.20 53 {
    protocol UDP
    lb_kind DR
    ~SEQx(n, 10, 2, 14) real_server 2001:db8::$n 53 { weight 1 }
    ~LST({a,w}, {1,5}, {2,6}) real_server 10.0.2.$a 53 { weight $w }
    ~SEQ(n, 3, -1, 2) real_server 10.0.3.$n 53 { weight $W }
}
",
    );
    let service = &imported.config.virtual_services[0];
    let servers: Vec<(String, u32)> = service
        .servers
        .iter()
        .map(|s| (s.address.clone().unwrap().to_string(), s.weight))
        .collect();
    let expected = [
        ("2001:db8::a", 1),
        ("2001:db8::c", 1),
        ("2001:db8::e", 1),
        ("10.0.2.1", 5),
        ("10.0.2.2", 6),
        ("10.0.3.3", 4),
        ("10.0.3.2", 4),
    ]
    .map(|(a, w)| (a.to_owned(), w));
    assert_eq!(servers, expected);
}

#[test]
fn every_checker_and_setting_of_a_virtual_server_maps() {
    let imported = import(
        "\
SSL {
    ca /etc/keepalived/ca.pem
    certificate /etc/keepalived/client.pem
    key /etc/keepalived/client.key
}
track_file web_weight {
    file /run/web.weight
}
global_defs {
    lvs_sync_daemon eth1 inst VI_1 id 7 maxlen 1400
    lvs_timeouts tcp 900 tcpfin 60 udp 30
}
virtual_server_group web {
    192.0.2.30-32 80
    192.0.2.40/31 80
    fwmark 9
}
virtual_server group web {
    delay_loop 3
    lvs_sched mh
    mh-port
    flag-1
    lvs_method TUN type gue port 6080 csum
    protocol TCP
    quorum 3
    hysteresis 1
    quorum_down \"/usr/local/bin/quorum down\"
    sorry_server 192.0.2.99 8080
    sorry_server_lvs_method DR
    inhibit_on_failure
    virtualhost www.example.org
    real_server 10.0.0.1 80 {
        weight 5
        uthreshold 1000
        lthreshold 800
        lvs_method NAT
        notify_down /usr/local/bin/down
        SSL_GET {
            url {
                path /health
                regex \"^ok\"
            }
            sni_name www.example.org
            http_protocol 1.1
            connect_ip 10.0.9.1
            connect_port 8443
            bindto 10.0.8.1
        }
        SMTP_CHECK {
            helo_name lb.example.org
            host {
                connect_ip 10.0.0.1
                connect_port 25
            }
            host {
                connect_ip 10.0.0.1
                connect_port 587
            }
        }
        DNS_CHECK {
            type MX
            name example.org
        }
        PING_CHECK { }
        UDP_CHECK {
            payload 0a0b0c
            require_reply 0aXX
        }
        MISC_CHECK {
            misc_path \"/usr/local/bin/check %h\"
            misc_timeout 5
            misc_dynamic
        }
        FILE_CHECK {
            track_file web_weight
        }
        BFD_CHECK {
            name bfd1
        }
        TCP_CHECK { connect_timeout 2 }
    }
}
",
    );
    let config = &imported.config;
    assert!(config.syncdaemon);
    assert_eq!((config.syncd_iface.as_str(), config.syncd_id), ("eth1", 7));
    assert_eq!(
        (config.tcp_timeout, config.tcpfin_timeout, config.udp_timeout),
        (900, 60, 30)
    );
    // The group's members: a range of three, a /31 of two, and a mark.
    let names: Vec<&str> = config.virtual_services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "vs_192_0_2_30_80",
            "vs_192_0_2_31_80",
            "vs_192_0_2_32_80",
            "vs_192_0_2_40_80",
            "vs_192_0_2_41_80",
            "vs_fwmark_9"
        ]
    );
    let service = &config.virtual_services[0];
    assert_eq!(service.scheduler, Scheduler::Mh);
    assert_eq!(
        service.scheduler_flags,
        [SchedulerFlag::MhPort, SchedulerFlag::MhFallback]
    );
    // Its one server is entered by NAT, the file's method; the service's own is GUE.
    assert_eq!(config.network, Network::Nat);
    assert_eq!(service.server_options.network, Some(Network::Tunnel));
    assert_eq!(service.server_options.tunnel_type, Some(TunnelType::Gue));
    assert_eq!(service.server_options.tunnel_port, Some(6080));
    assert_eq!(
        service.server_options.tunnel_checksum,
        Some(TunnelChecksum::Checksum)
    );
    assert_eq!((service.quorum, service.hysteresis), (Some(3), Some(1)));
    assert_eq!(service.notify.as_deref(), Some("/usr/local/bin/quorum down"));
    assert_eq!(
        service.sorry_port, None,
        "keepalived gives a DR sorry server the service's port"
    );
    assert_eq!(service.sorry_network, Some(Network::Direct));
    assert!(service.quiesce_server);
    let fwmark = &config.virtual_services[5];
    assert_eq!(fwmark.fwmark, 9);
    assert_eq!(fwmark.servers[0].port, None, "a mark's servers take no port");

    let server = &service.servers[0];
    assert_eq!(server.weight, 5);
    assert_eq!(server.options.network, Some(Network::Nat));
    assert_eq!(
        (server.options.upper_threshold, server.options.lower_threshold),
        (Some(1000), Some(800))
    );
    assert_eq!(server.notify.as_deref(), Some("/usr/local/bin/down"));
    // The one server's checks are its service's.
    assert!(server.checks.is_empty());
    let checks = &service.checks;
    let kinds: Vec<CheckType> = checks.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            CheckType::Https,
            CheckType::Smtp,
            CheckType::Smtp,
            CheckType::Dns,
            CheckType::Ping,
            CheckType::Udp,
            CheckType::Program,
            CheckType::File,
            CheckType::Tcp
        ]
    );
    let https = &checks[0];
    assert_eq!(https.body.as_deref(), Some("^ok"));
    assert_eq!(
        https.host.as_deref(),
        Some("www.example.org"),
        "the virtual server's virtualhost"
    );
    assert_eq!(https.sni.as_deref(), Some("www.example.org"));
    assert_eq!(https.http_version, HttpVersion::Http11);
    assert_eq!(https.address, Some("10.0.9.1".parse().unwrap()));
    assert_eq!(https.port, Some(8443));
    assert_eq!(https.source, Some("10.0.8.1".parse().unwrap()));
    assert!(https.verify, "the SSL block's ca");
    assert_eq!(https.ca_file.as_deref(), Some("/etc/keepalived/ca.pem"));
    assert_eq!(https.client_key.as_deref(), Some("/etc/keepalived/client.key"));
    assert_eq!((checks[1].port, checks[2].port), (Some(25), Some(587)));
    assert_ne!(checks[1].name, checks[2].name);
    let dns = &checks[3];
    assert_eq!(
        (dns.record, dns.query.as_deref(), dns.transport),
        (RecordType::Mx, Some("example.org"), DnsTransport::Udp)
    );
    let udp = &checks[5];
    assert_eq!(udp.send, Some(Payload::Hex(vec![0x0a, 0x0b, 0x0c])));
    assert_eq!(
        udp.expect,
        Some(Payload::Hex(vec![0x0a])),
        "the bytes before the wildcard"
    );
    let program = &checks[6];
    assert_eq!(program.command.as_deref(), Some("/usr/local/bin/check %h"));
    assert!(program.dynamic);
    assert_eq!(program.timeout.unwrap().as_duration(), Duration::from_secs(5));
    assert_eq!(checks[7].file.as_deref(), Some("/run/web.weight"));
    assert_eq!(checks[8].timeout.unwrap().as_duration(), Duration::from_secs(2));

    let report = imported.report.to_string();
    assert!(report.contains("dropped: BFD_CHECK { }"), "{report}");
    assert!(
        report.contains("approximated: lvs_sync_daemon eth1 inst VI_1 id 7 maxlen 1400"),
        "{report}"
    );
    let written = lvs_cf::write(config);
    assert_eq!(&lvs_cf::parse(&written).unwrap().config, config);
}

#[test]
fn bad_input_names_the_file_and_line_and_imports_nothing() {
    let cases: &[(&str, usize, &str)] = &[
        ("virtual_server 10.0.0.1 80 {\n  lb_algo rr\n", 1, "never closed"),
        ("virtual_server 10.0.0.1 80 {\n}\n}\n", 3, "closes no block"),
        ("virtual_server 10.0.0.1 80 {\n  real_server 10.0.0.2 80 {\n    FANCY_CHECK {\n    }\n  }\n}\n", 3, "unknown checker FANCY_CHECK"),
        ("virtual_server 10.0.0.1 80 {\n  lb_algo rr\n  colour blue\n}\n", 3, "unknown keyword colour in virtual_server"),
        ("frobnicate {\n}\n", 1, "unknown keyword frobnicate"),
        ("virtual_server 10.0.0.1 80 {\n  lb_algo fastest\n}\n", 2, "not an IPVS scheduler"),
        ("virtual_server 10.0.0.1 80 {\n  lb_kind BRIDGE\n}\n", 2, "not NAT, DR or TUN"),
        ("virtual_server www.example.org 80 {\n}\n", 1, "takes no names"),
        ("virtual_server 10.0.0.1 80 {\n  notify_up \"/bin/x\n}\n", 2, "double quote"),
        ("virtual_server group nowhere {\n}\n", 1, "no virtual_server_group nowhere"),
        ("~SEQ(n, 1, 0, 5) virtual_server 10.0.0.$n 80 { }\n", 1, "never reaches"),
        ("includer /nonexistent/*.conf\n", 1, "matches no file"),
        (
            "virtual_server 10.0.0.1 80 {\n  real_server 10.0.0.2 80 {\n    HTTP_GET {\n      url {\n        path /\n        regex_no_match x\n      }\n    }\n  }\n}\n",
            6,
            "program check",
        ),
    ];
    for (text, line, words) in cases {
        let e = error(text);
        let at = e.position().unwrap_or_else(|| panic!("{text:?}: {e}"));
        assert_eq!(
            (at.file.as_path(), at.line),
            (Path::new("keepalived.conf"), *line),
            "{text:?}: {e}"
        );
        assert!(e.to_string().contains(words), "{text:?}: {e}");
    }
    // The unclosed quote is found at its column.
    let e = error("virtual_server 10.0.0.1 80 {\n  notify_up \"/bin/x\n}\n");
    assert_eq!(e.position().unwrap().column, 13, "{e}");
}

#[test]
fn an_include_cycle_is_refused_at_the_line_that_closes_it() {
    let dir = TempDir::new("cycle");
    let main = dir.file("keepalived.conf", "global_defs {\n}\ninclude a.conf\n");
    let a = dir.file("a.conf", "include b.conf\n");
    dir.file("b.conf", "\n\ninclude a.conf\n");
    let e = importer("lb1").import_file(&main).unwrap_err();
    assert!(matches!(e, ImportError::IncludeCycle { .. }), "{e}");
    let at = e.position().unwrap();
    assert_eq!((at.file.clone(), at.line), (dir.path().join("b.conf"), 3), "{e}");
    assert!(e.to_string().contains(&a.display().to_string()), "{e}");
}

#[test]
fn what_would_run_away_is_refused_and_odd_corners_read_as_keepalived_reads_them() {
    // Expansions without end are errors, not a hung or crashed import.
    let doubling = "$A=x\n".to_owned() + &(0..40).map(|_| "$A=${A} ${A}\n").collect::<String>() + "${A}\n";
    assert!(error(&doubling).to_string().contains("expands to more than"));
    let deep = "global_defs {\n".repeat(100) + &"}\n".repeat(100);
    assert!(error(&deep).to_string().contains("nest deeper"));
    let e = error("virtual_server_group g {\n    10.0.0.0/33 80\n}\n");
    assert!(e.to_string().contains("/33 is not an IPv4 prefix length"), "{e}");
    // A form feed parts words as a blank does (C's isspace).
    let imported = import("virtual_server 10.0.0.1 80 {\n    protocol\u{0c}TCP\n}\n");
    assert_eq!(imported.config.virtual_services[0].protocol, Protocol::Tcp);
    // The old positional lvs_sync_daemon form: interface, instance, id.
    let imported = import("global_defs {\n    lvs_sync_daemon eth1 7 9\n}\n");
    assert_eq!(
        (imported.config.syncd_iface.as_str(), imported.config.syncd_id),
        ("eth1", 9)
    );
    let big = "~SEQ(i, 9223372036854775806, 9223372036854775807) global_defs {\n}\n";
    let _ = importer("lb1").import_text("keepalived.conf", big).map(|_| ());
    let e = error("virtual_server 10.0.0.1 80 {\n protocol UDP\n real_server 10.0.0.2 80 {\n  UDP_CHECK {\n   require_reply a\u{e9}X\n  }\n }\n}\n");
    assert!(e.to_string().contains("hex digits with X"), "{e}");

    // ~SEQ(i, 0) counts 1, 0; a server without a checker stays in; VIPs no
    // VRRP instance names get labels of their own.
    let imported = import(
        "\
virtual_server 10.0.0.8 80 {
    protocol TCP
    ~SEQ(i, 0) real_server 10.0.1.$i 80 { weight 1 }
}
virtual_server 10.0.0.9 80 {
    protocol TCP
    real_server 10.0.2.1 80 {
        weight 1
    }
}
",
    );
    let [eight, nine] = &imported.config.virtual_services[..] else {
        panic!("{}", lvs_cf::write(&imported.config));
    };
    let addresses: Vec<String> = eight
        .servers
        .iter()
        .map(|s| s.address.clone().unwrap().to_string())
        .collect();
    assert_eq!(addresses, ["10.0.1.1", "10.0.1.0"]);
    assert_eq!(nine.checks[0].command.as_deref(), Some("/bin/true"));
    let labels = [eight, nine].map(|s| s.address.clone().unwrap().device);
    assert_ne!(labels[0], labels[1]);

    // `include "pattern"` with braces, relative to the including file.
    let dir = TempDir::new("braces");
    let main = dir.file("keepalived.conf", "include \"conf.d/{web,dns}.conf\"\n");
    dir.file(
        "conf.d/web.conf",
        "virtual_server 10.0.0.1 80 {\n protocol TCP\n}\n",
    );
    dir.file(
        "conf.d/dns.conf",
        "virtual_server 10.0.0.1 53 {\n protocol UDP\n}\n",
    );
    dir.file(
        "conf.d/other.conf",
        "virtual_server 10.0.0.1 25 {\n protocol TCP\n}\n",
    );
    let imported = importer("lb1")
        .import_file(&main)
        .unwrap_or_else(|e| panic!("{e}"));
    let ports: Vec<u16> = imported.config.virtual_services.iter().map(|s| s.port).collect();
    assert_eq!(ports, [80, 53]);
}
