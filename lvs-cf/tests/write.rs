//! The canonical writer: the GUI's layout, and parse(write(c)) == c.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::net::{IpAddr, Ipv4Addr};

use lvs_cf::*;

fn options(strict: bool) -> ParseOptions<'static> {
    ParseOptions {
        strict,
        services: Some(Services::builtin()),
    }
}

#[test]
fn writes_in_the_gui_layout() {
    let text = "primary = 10.0.0.1
backup = 10.0.0.2
backup_active = 1
serial_no = 7
virtual web {
  address = 192.0.2.1 eth0:1
  active = 1
  port = https
  persistent = 300
  send = \"GET / HTTP/1.0\\r\\n\\r\\n\"
  expect = 'HTTP'
  scheduler = rr
  server a {
    address = 10.1.0.1
    active = 1
    weight = 3
  }
  server b {
    address = 10.1.0.2
    port = 8443
  }
}
";
    let config = parse_with(text, &options(false)).expect("parses").config;
    let expected = "serial_no = 7
primary = 10.0.0.1
service = lvs
backup_active = 1
backup = 10.0.0.2
heartbeat = 0
heartbeat_port = 539
keepalive = 2
deadtime = 5
network = nat
virtual web {
     active = 1
     address = 192.0.2.1 eth0:1
     port = 443
     persistent = 300
     send = \"GET / HTTP/1.0\\r\\n\\r\\n\"
     expect = 'HTTP'
     scheduler = rr
     protocol = tcp
     timeout = 10
     reentry = 180
     server a {
         address = 10.1.0.1
         active = 1
         weight = 3
     }
     server b {
         address = 10.1.0.2
         active = 0
         port = 8443
         weight = 1
     }
}
";
    assert_eq!(write(&config), expected);
}

#[test]
fn round_trips_a_model_with_every_field_set() {
    let text = "serial_no = 3
service = fos
primary = lvs1.example.com
primary_private = 10.1.0.1
primary_shared = /dev/sda
rsh_command = ssh
backup_active = 1
backup = 10.0.0.2
backup_private = 10.1.0.2
backup_shared = /dev/sdb
heartbeat = 1
heartbeat_port = 1050
keepalive = 0.25
deadtime = 1.5
network = tunnel
nat_router = 10.2.0.1 eth1:1
nat_nmask = 255.255.255.0
reservation_conflict_action = preempt
debug_level = HIGH
active_cmd = \"/bin/up now\"
inactive_cmd = /bin/down
monitor_links = 1
syncdaemon = 1
syncd_iface = eth2
syncd_id = 9
tcp_timeout = 900
tcpfin_timeout = 120
udp_timeout = 300
hard_shutdown = 0
ipvsadm = /usr/sbin/ipvsadm
sync = 1
failover ftp {
 active = 1
 address = 2001:db8::21 eth0
 vip_nmask = /64
 sorry_server = 2001:db8::99
 fwmark = 5
 port = 21
 persistent = 60
 pmask = /48
 send = 'a \"quoted\" word'
 expect = \"it's\"
 use_regex = 1
 send_program = \"/bin/check %h %p\"
 load_monitor = ruptime
 scheduler = mh
 protocol = sctp
 timeout = 2.5
 reentry = 30
 quiesce_server = 1
 client_monitor = /usr/local/sbin/nanny
 start_cmd = \"/etc/init.d/ftp start\"
 stop_cmd = stop-ftp
 master = 10.0.0.9
 dirs = [ /etc /srv ]
 server \"my server\" {
  address = 2001:db8::1
  active = 1
  weight = 65535
  port = 2121
 }
}
";
    let config = parse_with(text, &options(false)).expect("parses").config;
    let written = write(&config);
    assert_eq!(
        parse_with(&written, &options(false))
            .expect("written text parses")
            .config,
        config,
        "{written}"
    );
    assert!(
        validate(&config, None).iter().all(|d| !d.is_error()),
        "{:?}",
        validate(&config, None)
    );
}

#[test]
fn a_model_without_extensions_is_written_as_piranha_reads_it() {
    let mut config = Config::default();
    config.primary = Some(Host::Ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));
    config.active_cmd = Some("/usr/local/bin/notify active".into());
    let mut web = VirtualService::new("web");
    web.active = true;
    web.address = Some(AddressOnDevice {
        host: Host::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
        device: "eth0:1".into(),
    });
    web.send = Some(Text::quoted("GET / HTTP/1.0\\r\\n\\r\\n"));
    web.expect = Some(Text {
        value: "HTTP/1.1 200".into(),
        quote: Quote::Single,
    });
    web.send_program = Some(Text::bare("/bin/true"));
    config.virtual_services.push(web);
    let written = write(&config);
    assert_eq!(
        parse_with(&written, &options(true))
            .expect("Piranha's syntax")
            .config,
        config,
        "{written}"
    );
}

#[test]
fn one_quoting_rule_reads_back_as_written() {
    for value in [
        "plain",
        "two words",
        "=starts-with-equals",
        "say \"hi\" now",
        "it's here",
        "#hash",
    ] {
        let token = lvs_cf::quote(value);
        assert_eq!(lvs_cf::unquote(&token), value, "{token}");
        let parsed = lvs_cf::parse(&format!("primary = 10.0.0.1\nactive_cmd = {token}\n")).expect("parses");
        assert_eq!(parsed.config.active_cmd.as_deref(), Some(value), "{token}");
    }
    assert_eq!(lvs_cf::quote("plain"), "plain");
    assert_eq!(lvs_cf::quote("say \"hi\" now"), "'say \"hi\" now'");
}
