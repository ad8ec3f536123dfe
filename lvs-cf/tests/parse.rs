//! Parsing: Piranha's directives, defaults, value rules and quirks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use lvs_cf::*;

fn v4(a: u8, b: u8, c: u8, d: u8) -> Host {
    Host::Ip(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
}

fn opts() -> ParseOptions<'static> {
    ParseOptions {
        strict: false,
        services: Some(Services::builtin()),
    }
}

fn strict() -> ParseOptions<'static> {
    ParseOptions {
        strict: true,
        services: Some(Services::builtin()),
    }
}

fn ok(text: &str) -> Config {
    match parse_with(text, &opts()) {
        Ok(parsed) => parsed.config,
        Err(e) => panic!("expected {text:?} to parse, got:\n{e}"),
    }
}

/// One virtual service around `body`, for value tests.
fn in_virtual(body: &str) -> VirtualService {
    ok(&format!("virtual v {{\n{body}\n}}\n"))
        .virtual_services
        .remove(0)
}

fn sample() -> Config {
    let text = include_str!("data/sample.cf");
    parse_with(text, &opts()).expect("sample.cf parses").config
}

#[test]
fn upstream_sample_cf_globals() {
    let c = sample();
    assert_eq!(c.service, ServiceType::Lvs);
    assert_eq!(c.primary, Some(v4(207, 175, 44, 150)));
    assert_eq!(c.primary_private, Some(v4(10, 11, 12, 1)));
    assert_eq!(c.primary_shared.as_deref(), Some("/dev/sdb"));
    assert_eq!(c.backup, Some(v4(207, 175, 44, 196)));
    assert_eq!(c.backup_private, Some(v4(10, 11, 12, 2)));
    assert_eq!(c.backup_shared.as_deref(), Some("/dev/sdb"));
    assert!(c.backup_active);
    assert!(c.heartbeat);
    assert_eq!(c.heartbeat_port, 1050);
    assert_eq!(c.keepalive, Seconds::whole(6));
    assert_eq!(c.deadtime, Seconds::whole(18));
    assert_eq!(c.reservation_conflict_action, Some(ConflictAction::Preempt));
    assert_eq!(c.debug_level, "NONE");
    assert_eq!(c.rsh_command, "rsh");
    assert_eq!(c.network, Network::Nat);
    assert_eq!(
        c.nat_router,
        Some(AddressOnDevice {
            host: v4(192, 168, 10, 100),
            device: "eth1:1".into()
        })
    );
    assert_eq!(c.nat_nmask, Some(Netmask::Dotted(Ipv4Addr::BROADCAST)));
    // Defaults of what the sample does not set.
    assert!(c.hard_shutdown);
    assert_eq!(c.ipvsadm, "/sbin/ipvsadm");
    assert_eq!(c.syncd_iface, "eth0");
    assert_eq!((c.tcp_timeout, c.tcpfin_timeout, c.udp_timeout), (0, 0, 0));
}

#[test]
fn upstream_sample_cf_virtual_services() {
    let c = sample();
    assert_eq!(c.virtual_services.len(), 2);
    let s1 = &c.virtual_services[0];
    assert_eq!(s1.name, "server1");
    assert!(s1.active);
    assert_eq!(
        s1.address,
        Some(AddressOnDevice {
            host: v4(207, 175, 44, 252),
            device: "eth0:1".into()
        })
    );
    assert_eq!(s1.vip_nmask, Some(Netmask::Dotted(Ipv4Addr::BROADCAST)));
    assert_eq!(s1.fwmark, 100);
    assert_eq!(s1.load_monitor.as_deref(), Some("uptime"));
    assert_eq!(s1.timeout, Seconds::whole(5));
    assert_eq!(s1.reentry, 10);
    assert_eq!(s1.port, 80, "port = http");
    assert_eq!(s1.send, Some(Text::quoted(r"GET / HTTP/1.0\r\n\r\n")));
    assert_eq!(s1.expect, Some(Text::quoted("HTTP")));
    assert_eq!(s1.scheduler, Scheduler::Wlc);
    assert_eq!(s1.persistent, 60);
    assert_eq!(s1.pmask, Some(Netmask::Dotted(Ipv4Addr::BROADCAST)));
    assert_eq!(
        s1.effective_pmask(),
        None,
        "Piranha rewrites 255.255.255.255 to no mask"
    );
    assert_eq!(s1.protocol, Protocol::Tcp);
    let names: Vec<_> = s1.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Real1", "Real2"]);
    assert_eq!(s1.servers[0].address, Some(v4(192, 168, 10, 2)));
    assert_eq!(s1.servers[1].address, Some(v4(192, 168, 10, 3)));
    assert!(s1
        .servers
        .iter()
        .all(|s| s.active && s.weight == 1 && s.port.is_none()));
    assert_eq!(s1.server_port(&s1.servers[0]), 80);

    let s2 = &c.virtual_services[1];
    assert_eq!(s2.name, "server2");
    assert!(!s2.active);
    assert_eq!(s2.port, 21);
    assert_eq!(s2.send, Some(Text::quoted(r"\n")));
    assert_eq!(s2.scheduler, Scheduler::Wlc);
    assert_eq!(s2.servers.len(), 2);
    assert!(s2.servers.iter().all(|s| s.weight == 1 && s.active));
}

#[test]
fn upstream_sample_cf_failover_services() {
    let c = sample();
    assert_eq!(c.failover_services.len(), 2);
    let web = &c.failover_services[0];
    assert_eq!(web.name, "web1");
    assert!(web.active);
    assert_eq!(web.port, 1010);
    assert_eq!(web.timeout, Seconds::whole(10));
    assert_eq!(web.start_cmd, Some(Text::quoted("/etc/rc.d/init.d/httpd start")));
    assert_eq!(web.stop_cmd, Some(Text::quoted("/etc/rc.d/init.d/httpd stop")));
    assert_eq!(
        web.start_cmd.as_ref().map(Text::piranha_value).as_deref(),
        Some("\"/etc/rc.d/init.d/httpd start\"")
    );
    let ftp = &c.failover_services[1];
    assert_eq!(ftp.name, "ftp");
    assert!(!ftp.active);
    assert_eq!(ftp.port, 21);
}

#[test]
fn upstream_sample_cf_has_no_errors_and_dumps_to_the_same_model() {
    let parsed = parse_with(include_str!("data/sample.cf"), &opts()).expect("parses");
    let diagnostics = parsed.diagnostics();
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    let dumped = write(&parsed.config);
    assert_eq!(
        parse_with(&dumped, &opts()).expect("dump parses").config,
        parsed.config
    );
    assert_eq!(
        parse_with(&dumped, &strict())
            .expect("dump parses strictly")
            .config,
        parsed.config
    );
}

const GUI_FILE: &str = "serial_no = 48
primary = 192.168.1.10
service = lvs
backup_active = 1
backup = 192.168.1.11
heartbeat = 1
heartbeat_port = 539
keepalive = 6
deadtime = 18
network = direct
debug_level = NONE
active_cmd = /etc/sysconfig/ha/active.sh
inactive_cmd = /etc/sysconfig/ha/inactive.sh
monitor_links = 1
syncdaemon = 1
virtual vpn443 {
     active = 1
     address = 192.168.1.100 eth0:1
     port = 443
     persistent = 10
     send = \"GET /hapage.html\\r\\n\\r\\n\"
     expect = \"HTTP/1.1 200 OK\"
     scheduler = rr
     protocol = tcp
     timeout = 6
     reentry = 15
     quiesce_server = 1
     server web1 {
         address = 10.0.0.1
         active = 1
         weight = 5
     }
     server web2 {
         address = 10.0.0.2
         active = 0
         weight = 1
     }
  }
";

#[test]
fn gui_style_file() {
    let c = ok(GUI_FILE);
    assert_eq!(c.serial_no, 48);
    assert_eq!(c.network, Network::Direct);
    assert_eq!(c.active_cmd.as_deref(), Some("/etc/sysconfig/ha/active.sh"));
    assert!(c.monitor_links && c.syncdaemon);
    let vs = &c.virtual_services[0];
    assert_eq!((vs.port, vs.persistent, vs.scheduler), (443, 10, Scheduler::Rr));
    assert_eq!(vs.timeout, Seconds::whole(6));
    assert!(vs.quiesce_server);
    assert_eq!(vs.send, Some(Text::quoted(r"GET /hapage.html\r\n\r\n")));
    assert_eq!(vs.servers[0].weight, 5);
    assert!(!vs.servers[1].active);
    assert_eq!(vs.server_port(&vs.servers[1]), 443);
}

#[test]
fn piranha_defaults() {
    let c = ok("virtual v {\nserver s {\n}\n}\n");
    assert_eq!(c.heartbeat_port, 539);
    assert_eq!(c.keepalive, Seconds::whole(2));
    assert_eq!(c.deadtime, Seconds::whole(5));
    assert_eq!(c.network, Network::Nat);
    assert!(c.hard_shutdown);
    assert!(!c.backup_active);
    let vs = &c.virtual_services[0];
    assert!(!vs.active);
    assert_eq!(vs.port, 80);
    assert_eq!(vs.protocol, Protocol::Tcp);
    assert_eq!(vs.scheduler, Scheduler::Wlc);
    assert_eq!(vs.timeout, Seconds::whole(10));
    assert_eq!(vs.reentry, 180);
    assert_eq!(vs.client_monitor, "/usr/sbin/nanny");
    assert_eq!(vs.load_monitor, None);
    let server = &vs.servers[0];
    assert!(!server.active);
    assert_eq!(server.weight, 1);
    assert_eq!(server.address, None);
}

#[test]
fn integers_read_like_strtol_base_0() {
    assert_eq!(in_virtual("reentry = 010").reentry, 8);
    assert_eq!(in_virtual("reentry = 0x10").reentry, 16);
    assert_eq!(in_virtual("reentry = 0X1f").reentry, 31);
    assert_eq!(in_virtual("persistent = +20").persistent, 20);
    assert_eq!(ok("keepalive = 010\n").keepalive, Seconds::whole(8));
    assert!(in_virtual("active = 0x1").active);
    assert!(in_virtual("active = 01").active);
}

#[test]
fn ports_through_the_services_database() {
    assert_eq!(in_virtual("port = http").port, 80);
    assert_eq!(in_virtual("port = https").port, 443);
    assert_eq!(in_virtual("port = ftp").port, 21);
    assert_eq!(ok("heartbeat_port = ssh\n").heartbeat_port, 22);
    // The system database is used when none is given.
    let system = parse("virtual v {\nport = http\n}\n").expect("parses");
    assert_eq!(system.config.virtual_services[0].port, 80);
    // A custom database.
    let db = Services::from_etc_services("lvsweb 8088/tcp\n");
    let parsed = parse_with(
        "virtual v {\nport = lvsweb\n}\n",
        &ParseOptions {
            strict: false,
            services: Some(&db),
        },
    );
    assert_eq!(parsed.expect("parses").config.virtual_services[0].port, 8088);
}

#[test]
fn server_ports_take_no_service_names() {
    let e = parse_with("virtual v {\nserver s {\nport = http\n}\n}\n", &opts()).unwrap_err();
    assert_eq!((e.line, e.kind), (3, ErrorKind::IntExpected));
}

#[test]
fn addresses_as_ips_or_host_names() {
    let c = ok("primary = lvs1.example.com\nbackup = 10.1\n");
    assert_eq!(c.primary, Some(Host::Name("lvs1.example.com".into())));
    assert_eq!(
        c.backup,
        Some(v4(10, 0, 0, 1)),
        "inet_aton reads 10.1 as 10.0.0.1"
    );
    let vs = in_virtual("address = 0x7f.1 eth0:1\nserver s {\naddress = web1\n}");
    assert_eq!(
        vs.address,
        Some(AddressOnDevice {
            host: v4(127, 0, 0, 1),
            device: "eth0:1".into()
        })
    );
    assert_eq!(vs.servers[0].address, Some(Host::Name("web1".into())));
}

#[test]
fn host_names_resolve_on_request() {
    assert_eq!(
        v4(10, 0, 0, 1).resolve().expect("a literal"),
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))
    );
    let localhost = Host::Name("localhost".into())
        .resolve()
        .expect("localhost resolves from /etc/hosts");
    assert!(localhost.is_loopback());
    assert!(Host::Name("no-such-host.invalid".into()).resolve().is_err());
}

#[test]
fn ip_device_pairs_take_exactly_two_values() {
    let vs = in_virtual("address = 192.0.2.1 eth0:1");
    assert_eq!(vs.address.map(|a| a.device), Some("eth0:1".to_owned()));
    let e = parse_with("virtual v {\naddress = 192.0.2.1\n}\n", &opts()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::MissingArgs);
    let e = parse_with("nat_router = 10.0.0.1 eth1:1 extra\n", &opts()).unwrap_err();
    assert_eq!((e.kind, e.column), (ErrorKind::ExtraArgs, 30));
}

#[test]
fn quoted_strings_are_kept_verbatim() {
    let vs = in_virtual(r#"send = "GET / HTTP/1.0\r\n\r\n""#);
    assert_eq!(
        vs.send.map(|t| t.value),
        Some(r"GET / HTTP/1.0\r\n\r\n".to_owned())
    );
    let vs = in_virtual(r"expect = 'a \d+ b'");
    assert_eq!(
        vs.expect,
        Some(Text {
            value: r"a \d+ b".into(),
            quote: Quote::Single
        })
    );
    assert_eq!(
        vs.expect.map(|t| t.piranha_value()),
        Some(r"'a \d+ b'".to_owned())
    );
    let vs = in_virtual("send_program = \"/usr/local/bin/check %h %p\"");
    assert_eq!(vs.send_program, Some(Text::quoted("/usr/local/bin/check %h %p")));
    // active_cmd keeps no quotes: Piranha strips them.
    assert_eq!(
        ok("active_cmd = \"/bin/echo up\"\n").active_cmd.as_deref(),
        Some("/bin/echo up")
    );
    // An unquoted value is one token.
    assert_eq!(in_virtual("expect = HTTP").expect, Some(Text::bare("HTTP")));
}

#[test]
fn a_later_duplicate_key_wins() {
    let c = ok("backup_active = 0\nbackup_active = 1\nbackup = 1.2.3.4\n");
    assert!(c.backup_active);
    assert_eq!(in_virtual("port = 80\nport = 8080").port, 8080);
}

#[test]
fn crlf_and_cr_line_ends() {
    let crlf = "primary = 1.2.3.4\r\nvirtual v {\r\n\tport = 81\r\n}\r\n";
    let c = ok(crlf);
    assert_eq!(c.primary, Some(v4(1, 2, 3, 4)));
    assert_eq!(c.virtual_services[0].port, 81);
    assert_eq!(
        ok("primary = 1.2.3.4\rbackup = 1.2.3.5\r").backup,
        Some(v4(1, 2, 3, 5))
    );
    // Line numbers count physical lines.
    let e = parse_with("primary = 1.2.3.4\r\n\r\nbogus = 1\r\n", &opts()).unwrap_err();
    assert_eq!(e.line, 3);
}

#[test]
fn port_inheritance_as_of_the_server_block() {
    let vs = in_virtual("port = 443\nserver a {\n}\nport = 8443\nserver b {\n}\nserver c {\nport = 9000\n}");
    assert_eq!(vs.port, 8443);
    assert_eq!(vs.servers[0].port, Some(443), "a was read while port was 443");
    assert_eq!(vs.servers[1].port, None, "b takes the final port");
    assert_eq!(vs.servers[2].port, Some(9000));
    assert_eq!(vs.server_port(&vs.servers[0]), 443);
    assert_eq!(vs.server_port(&vs.servers[1]), 8443);
}

#[test]
fn a_server_before_port_gets_port_80_with_a_warning() {
    let parsed =
        parse_with("virtual v {\nactive = 1\nserver a {\n}\nport = 443\n}\n", &opts()).expect("parses");
    let vs = &parsed.config.virtual_services[0];
    assert_eq!(vs.server_port(&vs.servers[0]), 80);
    let warning = parsed
        .warnings
        .iter()
        .find(|d| d.line == Some(3))
        .expect("a warning on the server line");
    assert_eq!(warning.severity, Severity::Warning);
    assert!(warning.message.contains("takes port 80"), "{}", warning.message);
    assert!(warning.message.contains("line 5"), "{}", warning.message);
}

#[test]
fn monitor_links_is_a_number_not_a_boolean() {
    assert!(ok("monitor_links = 2\n").monitor_links);
    assert!(!ok("monitor_links = 0\n").monitor_links);
}

#[test]
fn dirs_lists_and_legacy_keys() {
    let vs = in_virtual("dirs = [ /etc /var/www ]\nmaster = 10.0.0.9");
    assert_eq!(vs.dirs, Some(vec!["/etc".to_owned(), "/var/www".to_owned()]));
    assert_eq!(vs.master, Some(v4(10, 0, 0, 9)));
}

#[test]
fn all_global_keys() {
    let c = ok("serial_no = -3
service = fos
primary = 10.0.0.1
primary_private = 10.1.0.1
primary_shared = /dev/sda
backup = 10.0.0.2
backup_private = 10.1.0.2
backup_shared = /dev/sdb
backup_active = 1
heartbeat = 0
heartbeat_port = 1050
keepalive = 1
deadtime = 3
network = tunnel
nat_router = 10.2.0.1 eth1:1
nat_nmask = 255.255.255.0
reservation_conflict_action = nothing
debug_level = LOW
rsh_command = ssh
ipvsadm = /usr/sbin/ipvsadm
sync = 1
active_cmd = /bin/up
inactive_cmd = /bin/down
monitor_links = 1
hard_shutdown = 0
syncdaemon = 1
syncd_iface = eth2
syncd_id = 7
tcp_timeout = 900
tcpfin_timeout = 120
udp_timeout = 300
");
    assert_eq!(c.serial_no, -3);
    assert_eq!(c.service, ServiceType::Fos);
    assert_eq!(c.effective_primary_private(), Some(&v4(10, 1, 0, 1)));
    assert_eq!(c.effective_backup_private(), Some(&v4(10, 1, 0, 2)));
    assert_eq!(c.network, Network::Tunnel);
    assert_eq!(c.reservation_conflict_action, Some(ConflictAction::Nothing));
    assert_eq!(c.debug_level, "LOW");
    assert_eq!(c.rsh_command, "ssh");
    assert_eq!(c.ipvsadm, "/usr/sbin/ipvsadm");
    assert!(c.sync && !c.heartbeat && !c.hard_shutdown && c.syncdaemon);
    assert_eq!(c.syncd_iface, "eth2");
    assert_eq!(c.syncd_id, 7);
    assert_eq!((c.tcp_timeout, c.tcpfin_timeout, c.udp_timeout), (900, 120, 300));
}

#[test]
fn without_primary_private_both_private_addresses_are_the_public_ones() {
    let c = ok("primary = 10.0.0.1\nbackup = 10.0.0.2\nbackup_private = 10.9.9.9\n");
    assert_eq!(c.effective_primary_private(), Some(&v4(10, 0, 0, 1)));
    assert_eq!(
        c.effective_backup_private(),
        Some(&v4(10, 0, 0, 2)),
        "Piranha overwrites backup_private"
    );
}

#[test]
fn all_virtual_keys() {
    let vs = in_virtual(
        "active = 1
address = 192.0.2.1 eth0:2
vip_nmask = 255.255.255.0
sorry_server = 10.0.0.99
port = 8080
protocol = udp
fwmark = 0x20
scheduler = lblcr
persistent = 300
pmask = 255.255.0.0
client_monitor = /usr/local/sbin/nanny
send_program = /bin/check
send = ping
expect = pong
use_regex = 1
timeout = 4
reentry = 40
load_monitor = ruptime
quiesce_server = 1
start_cmd = /bin/start
stop_cmd = /bin/stop",
    );
    assert_eq!(
        vs.vip_nmask,
        Some(Netmask::Dotted(Ipv4Addr::new(255, 255, 255, 0)))
    );
    assert_eq!(vs.sorry_server, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99))));
    assert_eq!((vs.port, vs.protocol, vs.fwmark), (8080, Protocol::Udp, 32));
    assert_eq!(vs.scheduler, Scheduler::Lblcr);
    assert_eq!(
        vs.effective_pmask(),
        Some(Netmask::Dotted(Ipv4Addr::new(255, 255, 0, 0)))
    );
    assert_eq!(vs.client_monitor, "/usr/local/sbin/nanny");
    assert!(vs.use_regex && vs.quiesce_server);
    assert_eq!((vs.timeout, vs.reentry), (Seconds::whole(4), 40));
    assert_eq!(vs.load_monitor.as_deref(), Some("ruptime"));
    assert_eq!(vs.start_cmd, Some(Text::bare("/bin/start")));
}

#[test]
fn every_piranha_scheduler() {
    for (word, scheduler) in [
        ("rr", Scheduler::Rr),
        ("wrr", Scheduler::Wrr),
        ("lc", Scheduler::Lc),
        ("wlc", Scheduler::Wlc),
        ("lblc", Scheduler::Lblc),
        ("lblcr", Scheduler::Lblcr),
        ("dh", Scheduler::Dh),
        ("sh", Scheduler::Sh),
    ] {
        let text = format!("virtual v {{\nscheduler = {word}\n}}\n");
        assert_eq!(
            parse_with(&text, &strict())
                .expect("strict accepts it")
                .config
                .virtual_services[0]
                .scheduler,
            scheduler
        );
    }
}

// ---- extensions: accepted by default, rejected with --strict as Piranha does

fn strict_error(text: &str) -> ParseError {
    parse_with(text, &strict()).expect_err("--strict rejects it")
}

#[test]
fn extension_key_equals_value_without_blanks() {
    for text in ["keepalive=3\n", "keepalive= 3\n", "keepalive =3\n"] {
        assert_eq!(ok(text).keepalive, Seconds::whole(3), "{text}");
    }
    assert_eq!(
        in_virtual("address=192.0.2.1 eth0:1\nsend=\"GET /\"").send,
        Some(Text::quoted("GET /"))
    );
    let e = strict_error("keepalive=3\n");
    assert_eq!((e.kind, e.line, e.column), (ErrorKind::BadCommand, 1, 1));
    assert!(e.note.as_deref().unwrap_or("").contains("--strict"));
    assert_eq!(strict_error("keepalive =3\n").kind, ErrorKind::EqualExpected);
    assert_eq!(strict_error("keepalive= 3\n").kind, ErrorKind::BadCommand);
}

#[test]
fn extension_trailing_comments() {
    assert_eq!(ok("keepalive = 3 # seconds\n").keepalive, Seconds::whole(3));
    assert_eq!(
        in_virtual("send = \"GET / HTTP/1.0\" # the request").send,
        Some(Text::quoted("GET / HTTP/1.0"))
    );
    assert_eq!(
        in_virtual("expect = a#b").expect,
        Some(Text::bare("a#b")),
        "a # inside a token is not a comment"
    );
    let e = strict_error("keepalive = 3 # seconds\n");
    assert_eq!((e.kind, e.column), (ErrorKind::ExtraArgs, 15));
    // After a quoted value with a blank, the comment is more arguments; after
    // one without, Piranha's tokenizer looks for another quote and fails.
    let e = strict_error("virtual v {\nsend = \"GET /\" # the request\n}\n");
    assert_eq!((e.kind, e.line, e.column), (ErrorKind::ExtraArgs, 2, 16));
    let e = strict_error("virtual v {\nexpect = \"HTTP\" # the reply\n}\n");
    assert_eq!((e.kind, e.line, e.column), (ErrorKind::BadQuoting, 2, 10));
}

#[test]
fn extension_ipv6_addresses_and_vips() {
    let vs = in_virtual("address = 2001:db8::80 eth0\nvip_nmask = /64\nsorry_server = [2001:db8::99]\nserver s {\naddress = 2001:db8::a\n}");
    let vip: Ipv6Addr = "2001:db8::80".parse().expect("literal");
    assert_eq!(vs.address.map(|a| a.host), Some(Host::Ip(IpAddr::V6(vip))));
    assert_eq!(vs.vip_nmask, Some(Netmask::Prefix(64)));
    assert!(matches!(vs.sorry_server, Some(IpAddr::V6(_))));
    assert!(matches!(vs.servers[0].address, Some(Host::Ip(IpAddr::V6(_)))));
    assert_eq!(
        ok("primary = fd00::1\n")
            .primary
            .and_then(|h| h.ip())
            .map(|ip| ip.is_ipv6()),
        Some(true)
    );

    let e = strict_error("primary = fd00::1\n");
    assert_eq!((e.kind, e.column), (ErrorKind::BadArgument, 11));
    assert_eq!(
        strict_error("virtual v {\naddress = 2001:db8::80 eth0\n}\n").kind,
        ErrorKind::BadArgument
    );
    assert_eq!(
        strict_error("virtual v {\nsorry_server = 2001:db8::1\n}\n").kind,
        ErrorKind::BadHostname
    );
    assert_eq!(
        strict_error("virtual v {\nvip_nmask = /64\n}\n").kind,
        ErrorKind::BadNetmask
    );
}

#[test]
fn extension_fractional_seconds() {
    let c = ok("keepalive = 0.1\ndeadtime = 0.3\nvirtual v {\ntimeout = 1.5\n}\n");
    assert_eq!(c.keepalive, Seconds(Duration::from_millis(100)));
    assert_eq!(c.deadtime, Seconds(Duration::from_millis(300)));
    assert_eq!(
        c.virtual_services[0].timeout,
        Seconds(Duration::from_millis(1500))
    );
    let e = strict_error("keepalive = 0.1\n");
    assert_eq!((e.kind, e.column), (ErrorKind::IntExpected, 13));
    let e = strict_error("deadtime = 0.3\n");
    assert_eq!((e.kind, e.line, e.column), (ErrorKind::IntExpected, 1, 12));
    assert_eq!(
        strict_error("virtual v {\ntimeout = 1.5\n}\n").kind,
        ErrorKind::IntExpected
    );
    // Other integers never take fractions.
    assert_eq!(
        parse_with("virtual v {\nreentry = 1.5\n}\n", &opts())
            .unwrap_err()
            .kind,
        ErrorKind::IntExpected
    );
}

#[test]
fn extension_schedulers_and_sctp() {
    assert_eq!(in_virtual("scheduler = mh").scheduler, Scheduler::Mh);
    assert_eq!(in_virtual("protocol = sctp").protocol, Protocol::Sctp);
    let e = strict_error("virtual v {\nscheduler = mh\n}\n");
    assert_eq!(e.kind, ErrorKind::BadArgument);
    assert!(e.note.as_deref().unwrap_or("").contains("extension"));
    assert_eq!(
        strict_error("virtual v {\nprotocol = sctp\n}\n").kind,
        ErrorKind::BadArgument
    );
}

#[test]
fn strict_accepts_what_piranha_accepts() {
    let parsed = parse_with(include_str!("data/sample.cf"), &strict()).expect("sample.cf is Piranha's");
    assert_eq!(parsed.config, sample());
    parse_with(GUI_FILE, &strict()).expect("a GUI file is Piranha's");
}

#[test]
fn unknown_keys_name_the_key_and_the_nearest_known_one() {
    let e = parse_with("virtual v {\n  prot = 80\n}\n", &opts()).unwrap_err();
    assert_eq!((e.kind, e.line, e.column), (ErrorKind::BadCommand, 2, 3));
    assert_eq!(
        e.note.as_deref(),
        Some("unknown key `prot`; did you mean `port`?")
    );
    let e = parse_with("keepalvie = 2\n", &opts()).unwrap_err();
    assert_eq!(
        e.note.as_deref(),
        Some("unknown key `keepalvie`; did you mean `keepalive`?")
    );
    let e = parse_with("virtual v {\ndeadtime = 2\n}\n", &opts()).unwrap_err();
    assert!(e
        .note
        .as_deref()
        .unwrap_or("")
        .contains("belongs at the top level"));
    let e = parse_with("virtual v {\nserver s {\nnmask = 255.255.255.0\n}\n}\n", &opts()).unwrap_err();
    assert!(e.note.as_deref().unwrap_or("").contains("nmask"));
}

// ---- every error message, with its line and column -----------------------

fn err(text: &str) -> ParseError {
    parse_with(text, &opts()).expect_err("an error")
}

#[test]
fn error_messages_are_piranhas() {
    let cases: &[(&str, ErrorKind, &str, usize, usize)] = &[
        (
            "virtual v {\nsend = \"abc\n}\n",
            ErrorKind::BadQuoting,
            "quotation mismatch",
            2,
            8,
        ),
        (
            "virtual v {\nport = 80\n",
            ErrorKind::Eof,
            "unexpected end of file",
            1,
            1,
        ),
        (
            "keepalive = 2 3\n",
            ErrorKind::ExtraArgs,
            "unexpected arguments",
            1,
            15,
        ),
        (
            "keepalive 2\n",
            ErrorKind::EqualExpected,
            "equal (=) expected after command",
            1,
            11,
        ),
        (
            "keepalive =\n",
            ErrorKind::MissingArgs,
            "missing arguments",
            1,
            12,
        ),
        (
            "primary = 0.0.0.0\n",
            ErrorKind::BadHostname,
            "invalid host name or ip address",
            1,
            11,
        ),
        (
            "virtual v {\nsorry_server = nowhere\n}\n",
            ErrorKind::BadHostname,
            "invalid host name or ip address",
            2,
            16,
        ),
        (
            "network = bridge\n",
            ErrorKind::BadArgument,
            "invalid argument",
            1,
            11,
        ),
        (
            "primary = 1.2.3.4.5\n",
            ErrorKind::BadArgument,
            "invalid argument",
            1,
            11,
        ),
        (
            "keepalive = two\n",
            ErrorKind::IntExpected,
            "integer expected",
            1,
            13,
        ),
        (
            "heartbeat = 2\n",
            ErrorKind::BoolExpected,
            "boolean expected",
            1,
            13,
        ),
        ("bogus = 1\n", ErrorKind::BadCommand, "unknown command", 1, 1),
        (
            "virtual v {\ndirs = /etc\n}\n",
            ErrorKind::ListExpected,
            "list expected",
            2,
            8,
        ),
        (
            "virtual v {\ndirs = [ /etc\n}\n",
            ErrorKind::ListExpected,
            "list expected",
            2,
            14,
        ),
        (
            "nat_nmask = 255.255.255.x\n",
            ErrorKind::BadNetmask,
            "Bad subnet mask specified",
            1,
            13,
        ),
        (
            "virtual v {\nport = 70000\n}\n",
            ErrorKind::OutOfRange,
            "value out of range",
            2,
            8,
        ),
    ];
    for &(text, kind, message, line, column) in cases {
        let e = err(text);
        assert_eq!((e.kind, e.line, e.column), (kind, line, column), "{text:?}: {e}");
        assert_eq!(e.kind.to_string(), message);
        assert!(
            e.to_string()
                .starts_with(&format!("line {line}, column {column}: {message}\n")),
            "{e}"
        );
    }
    let e = err("");
    assert_eq!(e.kind, ErrorKind::Empty);
    assert_eq!(e.kind.to_string(), "Empty configuration");
}

#[test]
fn errors_show_the_line_with_a_caret() {
    let e = err("primary = 1.2.3.4\n\tkeepalive 2\n");
    assert_eq!(e.to_string(), "line 2, column 12: equal (=) expected after command\n 2 | \tkeepalive 2\n   | \t          ^\n   = note: write `keepalive = value`");
}

#[test]
fn block_syntax_errors() {
    assert_eq!(err("virtual v\n").kind, ErrorKind::MissingArgs);
    assert_eq!(err("virtual v (\n}\n").kind, ErrorKind::MissingArgs);
    assert_eq!(err("virtual v { x\n}\n").kind, ErrorKind::ExtraArgs);
    assert_eq!(err("virtual v {\n} x\n").kind, ErrorKind::ExtraArgs);
    assert_eq!(err("}\n").kind, ErrorKind::BadCommand);
    let e = err("server s {\n}\n");
    assert_eq!(e.kind, ErrorKind::BadCommand);
    assert!(e.note.as_deref().unwrap_or("").contains("inside a `virtual`"));
    // A block the file does not close: Piranha accepts the truncated file.
    let e = err("virtual web {\nactive = 1\nserver s {\naddress = 1.2.3.4\n");
    assert_eq!((e.kind, e.line), (ErrorKind::Eof, 3));
    assert!(e.note.as_deref().unwrap_or("").contains("line 4"), "{e}");
}

#[test]
fn the_first_error_in_file_order_is_reported() {
    let e = err("bogus = 1\nvirtual v {\nsend = \"abc\n}\n");
    assert_eq!((e.kind, e.line), (ErrorKind::BadCommand, 1));
}

#[test]
fn values_out_of_range() {
    for (text, line) in [
        ("virtual v {\nport = -1\n}\n", 2),
        ("virtual v {\nserver s {\nweight = 65536\n}\n}\n", 3),
        ("virtual v {\npersistent = 2678401\n}\n", 2),
        ("virtual v {\ntimeout = 0\n}\n", 2),
        ("keepalive = 0\n", 1),
        ("deadtime = -5\n", 1),
        ("syncd_id = 256\n", 1),
        ("heartbeat_port = 65536\n", 1),
        ("virtual v {\nfwmark = 4294967296\n}\n", 2),
        ("serial_no = 99999999999999999999999\n", 1),
    ] {
        let e = err(text);
        assert_eq!((e.kind, e.line), (ErrorKind::OutOfRange, line), "{text:?}");
    }
}

#[test]
fn octal_mistakes_are_explained() {
    let e = err("virtual v {\nreentry = 090\n}\n");
    assert_eq!(e.kind, ErrorKind::IntExpected);
    assert!(e.note.as_deref().unwrap_or("").contains("octal"));
    // A port that is no number is looked up as a service name, as Piranha does.
    let e = err("virtual v {\nport = 08080\n}\n");
    assert_eq!(e.kind, ErrorKind::BadArgument);
    assert!(e.note.as_deref().unwrap_or("").contains("octal"));
}

#[test]
fn bytes_that_are_not_utf8() {
    let mut bytes = b"# caf\xe9 comment\nprimary = 1.2.3.4\n".to_vec();
    let parsed = parse_bytes(&bytes, &opts()).expect("Latin-1 in a comment is fine");
    assert_eq!(parsed.config.primary, Some(v4(1, 2, 3, 4)));
    bytes.extend_from_slice(b"debug_level = caf\xe9\n");
    let e = parse_bytes(&bytes, &opts()).unwrap_err();
    assert_eq!((e.kind, e.line, e.column), (ErrorKind::InvalidUtf8, 3, 18));
}

#[test]
fn parse_file_names_the_file() {
    let dir = std::env::temp_dir().join(format!("lvs-cf-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("lvs.cf");
    std::fs::write(&path, "keepalive 2\n").expect("write");
    match parse_file(&path, &opts()) {
        Err(LoadError::Parse { path: p, error }) => {
            assert_eq!(p, path);
            assert_eq!(error.kind, ErrorKind::EqualExpected);
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    let missing = dir.join("missing.cf");
    let e = parse_file(&missing, &opts()).unwrap_err();
    assert!(matches!(e, LoadError::Io { .. }));
    assert!(e.to_string().starts_with(&format!(
        "cannot read {}: I/O error while reading configuration: ",
        missing.display()
    )));
    // A directory opens but cannot be read: Piranha's short-read case.
    let e = parse_file(&dir, &opts()).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "cannot read {}: I/O error while reading configuration: ",
            dir.display()
        )),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn json_of_the_model() {
    let c = ok("keepalive = 0.5\nvirtual web {\nactive = 1\naddress = 192.0.2.1 eth0:1\nsend = \"GET /\"\nserver a {\naddress = 10.0.0.1\n}\n}\n");
    let json = serde_json::to_value(&c).expect("serializes");
    assert_eq!(json["keepalive"], serde_json::json!(0.5));
    assert_eq!(json["deadtime"], serde_json::json!(5));
    assert_eq!(json["network"], "nat");
    let web = &json["virtual_services"][0];
    assert_eq!(web["name"], "web");
    assert_eq!(web["address"]["host"], "192.0.2.1");
    assert_eq!(web["address"]["device"], "eth0:1");
    assert_eq!(
        web["send"],
        serde_json::json!({"value": "GET /", "quote": "double"})
    );
    assert_eq!(web["scheduler"], "wlc");
    assert_eq!(web["servers"][0]["address"], "10.0.0.1");
    assert_eq!(web["servers"][0]["port"], serde_json::Value::Null);
}

#[test]
fn extension_keys_for_health_checks() {
    let vs = in_virtual("timeout = 5\nfailure_count = 3\ncheck_interval = 0.5");
    assert_eq!(vs.failure_count, 3);
    assert_eq!(vs.check_interval, Some(Seconds(Duration::from_millis(500))));
    assert_eq!(vs.effective_check_interval(), Seconds(Duration::from_millis(500)));
    let plain = in_virtual("timeout = 5");
    assert_eq!(
        (plain.failure_count, plain.effective_check_interval()),
        (1, Seconds::whole(5)),
        "Piranha: timeout is the interval"
    );
    assert_eq!(
        err("virtual v {\nfailure_count = 0\n}\n").kind,
        ErrorKind::OutOfRange
    );
    for key in ["failure_count = 3", "check_interval = 2"] {
        let e = strict_error(&format!("virtual v {{\n{key}\n}}\n"));
        assert_eq!((e.kind, e.line), (ErrorKind::BadCommand, 2));
        assert!(e.note.as_deref().unwrap_or("").contains("extension"), "{e}");
    }
}

/// Piranha 0.8.6 defines "Cannot use both virtual AND failover services" but
/// its check is commented out: a file may hold both kinds of block, and each
/// kind is kept in its own list.
#[test]
fn virtual_and_failover_blocks_in_one_file() {
    for dialect in [opts(), strict()] {
        let c = parse_with(
            "service = lvs\nvirtual web {\nactive = 1\naddress = 192.0.2.1 eth0:1\nport = 80\n}\nfailover ftp {\nactive = 0\naddress = 192.0.2.2 eth0:2\nport = 21\n}\n",
            &dialect,
        )
        .expect("both kinds of block parse")
        .config;
        assert_eq!(c.virtual_services.len(), 1);
        assert_eq!(c.failover_services.len(), 1);
        assert_eq!(c.failover_services[0].name, "ftp");
    }
}

#[test]
fn an_overlong_line_is_refused_with_its_number_and_a_short_message() {
    let text = format!(
        "serial_no = 1\nprimary = 192.0.2.1\n{} = 1\nservice = lvs\n",
        "a ".repeat(lvs_cf::MAX_LINE_BYTES)
    );
    let error = lvs_cf::parse(&text).expect_err("too long");
    assert_eq!(error.kind, lvs_cf::ErrorKind::LineTooLong);
    assert_eq!(error.line, 3);
    let message = error.to_string();
    assert!(message.len() < 400, "{message}");
    assert!(message.contains("lines are limited to 65536"), "{message}");
    // Up to the limit, a line is read as usual.
    let text = format!(
        "serial_no = 1\n#{}\nprimary = 192.0.2.1\nservice = lvs\n",
        "x".repeat(60_000)
    );
    assert!(lvs_cf::parse(&text).is_ok());
}
