//! ldirectord.cf into lvs.cf: configurations in the shapes ldirectord's
//! manual and shipped example describe (written afresh), every construct
//! of the format, and every kind of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::net::IpAddr;
use std::time::Duration;

use lvs_cf::{CheckType, Host, HttpMethod, Network, Protocol, Scheduler, SchedulerFlag};
use lvs_import::{Fate, ImportError, Imported, Importer, Source};

fn import(text: &str) -> Imported {
    Importer::new(Source::Ldirectord)
        .import_text("ldirectord.cf", text)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> ImportError {
    match Importer::new(Source::Ldirectord).import_text("ldirectord.cf", text) {
        Ok(imported) => panic!("imported:\n{}", lvs_cf::write(&imported.config)),
        Err(e) => e,
    }
}

fn fate(imported: &Imported, line: usize) -> &Fate {
    &imported
        .report
        .entries
        .iter()
        .find(|e| e.at.line == line)
        .unwrap_or_else(|| panic!("no entry for line {line}:\n{}", imported.report))
        .fate
}

fn ip(text: &str) -> Option<Host> {
    Some(Host::Ip(text.parse::<IpAddr>().unwrap()))
}

/// The shape of the example ldirectord ships: a few globals, one HTTP
/// virtual with three direct-routed servers, a fallback and a page check.
const EXAMPLE: &str = "\
# Global directives
checktimeout=3
checkinterval=1
autoreload=yes
quiescent=no

# A sample virtual with a fallback
virtual=192.168.6.240:80
\tservicename=Web
\tcomment=the web farm
\treal=192.168.6.2:80 gate
\treal=192.168.6.3:80 gate
\treal=192.168.6.6:80 gate
\tfallback=127.0.0.1:80 gate
\tservice=http
\tscheduler=rr
\tprotocol=tcp
\tchecktype=negotiate
\tcheckport=80
\trequest=\"index.html\"
\treceive=\"Test Page\"
\tvirtualhost=www.example.org
";

#[test]
fn the_shipped_examples_shape_becomes_one_service_with_an_http_check() {
    let imported = import(EXAMPLE);
    let config = &imported.config;
    assert_eq!(config.network, Network::Direct);
    assert!(!config.backup_active);
    let web = &config.virtual_services[0];
    assert_eq!(web.name, "Web");
    assert_eq!(web.address.as_ref().unwrap().host, ip("192.168.6.240").unwrap());
    assert_eq!(web.port, 80);
    assert_eq!(web.scheduler, Scheduler::Rr);
    assert_eq!(web.protocol, Protocol::Tcp);
    // checkinterval 1 between checks, checktimeout 3 (negotiate falls back on it) each.
    assert_eq!(web.check_interval.unwrap().as_duration(), Duration::from_secs(1));
    assert_eq!(web.timeout.as_duration(), Duration::from_secs(3));
    assert!(!web.quiesce_server);
    assert_eq!(web.reentry, 0, "back on the first passing check, as ldirectord");
    assert_eq!(web.sorry_server, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(web.sorry_port, None, "the virtual's port");
    let check = &web.checks[0];
    assert_eq!(check.kind, CheckType::Http);
    assert_eq!(
        check.path.as_deref(),
        Some("/index.html"),
        "ldirectord puts the / before a request"
    );
    assert_eq!(check.body.as_deref(), Some("Test Page"));
    assert_eq!(check.host.as_deref(), Some("www.example.org"));
    assert_eq!(check.port, Some(80));
    assert_eq!(check.method, HttpMethod::Get);
    let addresses: Vec<_> = web.servers.iter().map(|s| s.address.clone().unwrap()).collect();
    assert_eq!(
        addresses,
        ["192.168.6.2", "192.168.6.3", "192.168.6.6"].map(|a| ip(a).unwrap())
    );
    assert!(web
        .servers
        .iter()
        .all(|s| s.active && s.weight == 1 && s.options.network.is_none()));

    // Every directive has a line in the report, with its fate.
    let directives = EXAMPLE
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .count();
    assert_eq!(imported.report.entries.len(), directives, "{}", imported.report);
    assert!(matches!(fate(&imported, 4), Fate::Dropped(why) if why.contains("SIGHUP")));
    assert!(matches!(fate(&imported, 8), Fate::Approximated(how) if how.contains("eth0")));
    assert!(matches!(fate(&imported, 10), Fate::Dropped(_)), "comment");
    assert!(matches!(fate(&imported, 11), Fate::Mapped(how) if how == "server real1"));
    assert_eq!(imported.report.counts(), (16, 1, 2));

    // What is written reads back to the same model, and passes lvs --check.
    let written = lvs_cf::write(config);
    let parsed = lvs_cf::parse(&written).unwrap();
    assert_eq!(&parsed.config, config);
    assert!(!imported.report.needs_edits(), "{}", imported.report);
}

#[test]
fn every_construct_of_the_format_is_mapped_or_accounted_for() {
    let text = "\
checktimeout=4
negotiatetimeout=20
checkinterval=7
failurecount=3
quiescent=yes
fallback=10.9.9.9:8080 masq
maintenancedir=/etc/ha.d/maintenance
emailalert=\"ops@example.org\"
supervised
logfile=\"local0\"
cleanstop=no

virtual=10.0.0.10:443
    real=10.1.0.1->10.1.0.3:443 masq 5 l:100 u:200
    real=10.1.0.9:8443 ipip
    service=https
    request=\"/health\"
    receive=\"ok\"
    httpmethod=head
    scheduler=sh
    negotiatetimeout=9
    schedflags=sh-port

virtual6=[2001:db8::10]:53
\treal6=[2001:db8::1]:53 gate
\tprotocol=udp
\tservice=dns
\trequest=\"www.example.org\"
\treceive=\"2001:db8::80\"
\tops=yes
\tfallbackcommand=\"/usr/local/sbin/all-down\"

virtual=10.0.0.11:25
\treal=10.1.1.1:25 gate \"\", \"220\"
\tchecktype=2
\tservice=smtp
\tlogin=\"nobody\"
\tquiescent=no

virtual=10.0.0.12:3306
\treal=10.1.2.1:3306 masq
\tchecktype=external
\tcheckcommand=/usr/local/bin/check-mysql
\tfailurecount=1
\tcheckinterval=2

virtual=10.0.0.13:5432
\treal=10.1.3.1:5432 masq
\tservice=pgsql
\tpersistent=300
\tnetmask=255.255.255.0

virtual=10.0.0.14:21
\treal=10.1.4.1:21 gate
\tchecktype=off
";
    let imported = import(text);
    let config = &imported.config;
    assert_eq!(config.maintenance_dir.as_deref(), Some("/etc/ha.d/maintenance"));
    // Five masq servers against four gate and one ipip: NAT is the file's method.
    assert_eq!(config.network, Network::Nat);
    let [https, dns, smtp, mysql, pgsql, ftp] = &config.virtual_services[..] else {
        panic!("{:?}", config.virtual_services.len());
    };

    // A range names each address; weights and thresholds carry over; the global fallback applies.
    assert_eq!(https.servers.len(), 4);
    assert_eq!(https.servers[2].address, ip("10.1.0.3"));
    assert_eq!(https.servers[0].weight, 5);
    assert_eq!(https.servers[0].options.lower_threshold, Some(100));
    assert_eq!(https.servers[0].options.upper_threshold, Some(200));
    assert_eq!(https.servers[3].port, Some(8443));
    assert_eq!(https.servers[3].options.network, Some(Network::Tunnel));
    assert_eq!(https.servers[0].options.network, None, "the file's method");
    assert_eq!(https.scheduler, Scheduler::Sh);
    assert_eq!(https.scheduler_flags, [SchedulerFlag::ShPort]);
    assert_eq!(https.sorry_server, Some("10.9.9.9".parse().unwrap()));
    assert_eq!(https.sorry_port, Some(8080));
    assert_eq!(https.sorry_network, None, "masq is the file's method");
    assert_eq!(
        https.timeout.as_duration(),
        Duration::from_secs(9),
        "its own negotiatetimeout"
    );
    assert_eq!(
        https.check_interval.unwrap().as_duration(),
        Duration::from_secs(7)
    );
    assert_eq!(https.failure_count, 3);
    assert!(https.quiesce_server);
    let check = &https.checks[0];
    assert_eq!(check.kind, CheckType::Https);
    assert_eq!(check.method, HttpMethod::Head);
    assert_eq!(
        (check.path.as_deref(), check.body.as_deref()),
        (Some("/health"), Some("ok"))
    );
    assert!(!check.verify);
    assert!(matches!(fate(&imported, 16), Fate::Approximated(how) if how.contains("verify")));

    // IPv6, UDP, DNS, one-packet scheduling, and the fallback command as a quorum's notify.
    assert_eq!(dns.address.as_ref().unwrap().host, ip("2001:db8::10").unwrap());
    assert_eq!(dns.protocol, Protocol::Udp);
    assert!(dns.one_packet);
    let check = &dns.checks[0];
    assert_eq!(check.kind, CheckType::Dns);
    assert_eq!(check.query.as_deref(), Some("www.example.org"));
    assert_eq!(check.answer.as_deref(), Some("2001:db8::80"));
    assert_eq!(dns.notify.as_deref(), Some("/usr/local/sbin/all-down"));
    assert_eq!(
        (dns.quorum, dns.quorum_action),
        (Some(1), Some(lvs_cf::QuorumAction::Notify))
    );
    assert_eq!(dns.timeout.as_duration(), Duration::from_secs(20));
    assert_eq!(
        dns.sorry_server, None,
        "the global fallback is IPv4's; fallback6 is IPv6's"
    );

    // checktype=N: a connect check and the negotiation; a server's own strings; credentials dropped.
    let kinds: Vec<_> = smtp.checks.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [CheckType::Tcp, CheckType::Smtp]);
    assert!(!smtp.quiesce_server, "its own quiescent over the global one");
    assert!(matches!(fate(&imported, 35), Fate::Approximated(how) if how.contains("connects 2 times")));
    assert!(matches!(fate(&imported, 37), Fate::Dropped(why) if why.contains("credentials")));

    // external: ldirectord's four arguments, the server's two as lvs's placeholders.
    let check = &mysql.checks[0];
    assert_eq!(check.kind, CheckType::Program);
    assert_eq!(
        check.command.as_deref(),
        Some("/usr/local/bin/check-mysql 10.0.0.12 3306 %h %p")
    );
    assert_eq!(mysql.failure_count, 1);
    // Without fork = yes, ldirectord ignores a virtual's own checkinterval.
    assert_eq!(
        mysql.check_interval.unwrap().as_duration(),
        Duration::from_secs(7)
    );
    assert!(matches!(fate(&imported, 45), Fate::Dropped(why) if why.contains("fork = yes")));
    assert_eq!(
        mysql.checks[0].port, None,
        "the server's own port is %p, whatever checkport says"
    );

    // A protocol lvs has no check for: a connect check, said so; persistence with its mask.
    assert_eq!(pgsql.checks[0].kind, CheckType::Tcp);
    assert!(matches!(fate(&imported, 49), Fate::Approximated(how) if how.contains("no pgsql check")));
    assert_eq!(pgsql.persistent, 300);
    assert_eq!(
        pgsql.pmask,
        Some(lvs_cf::Netmask::Dotted("255.255.255.0".parse().unwrap()))
    );

    // checktype=off: the servers are never added.
    assert!(ftp.servers.iter().all(|s| !s.active));

    // Globals lvs has no use for are dropped, each with its reason.
    for line in [8, 9, 10, 11] {
        assert!(
            matches!(fate(&imported, line), Fate::Dropped(_)),
            "line {line}: {}",
            imported.report
        );
    }
    assert!(matches!(fate(&imported, 7), Fate::Approximated(how) if how.contains("ADDRESS:PORT")));
    let parsed = lvs_cf::parse(&lvs_cf::write(config)).unwrap();
    assert_eq!(&parsed.config, config);
    assert!(!imported.report.needs_edits(), "{}", imported.report);
}

#[test]
fn a_firewall_mark_virtual_is_written_but_flagged_for_its_missing_address() {
    let imported = import("virtual=7\n\treal=10.0.0.1 gate\n\tprotocol=fwm\n\tservice=none\n");
    let service = &imported.config.virtual_services[0];
    assert_eq!(service.fwmark, 7);
    assert_eq!(
        service.checks[0].kind,
        CheckType::Program,
        "service=none: always up"
    );
    assert!(imported.report.needs_edits());
    assert!(
        imported.report.to_string().contains("has no `address`"),
        "{}",
        imported.report
    );
}

#[test]
fn bad_input_names_the_file_and_line_and_imports_nothing() {
    let at = |e: &ImportError| {
        let p = e.position().unwrap_or_else(|| panic!("{e}"));
        (p.file.display().to_string(), p.line)
    };
    let cases: &[(&str, usize, &str)] = &[
        (
            "checktimeout=3\nthis is not a directive\n",
            2,
            "not `key = value`",
        ),
        (
            "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\tchecktype=sometimes\n",
            3,
            "unknown checker",
        ),
        (
            "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\tservice=gopher\n",
            3,
            "unknown checker",
        ),
        (
            "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\tcolour=blue\n",
            3,
            "unknown keyword colour",
        ),
        ("frobnicate=yes\n", 1, "unknown keyword frobnicate"),
        (
            "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\n\tscheduler=rr\n",
            4,
            "not in a virtual block",
        ),
        (
            "virtual=10.0.0.1:80\n  real=10.0.0.2:80 gate\n",
            2,
            "fewer than four spaces",
        ),
        (
            "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 bridge\n",
            2,
            "not gate, masq or ipip",
        ),
        (
            "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate 70000\n",
            2,
            "above 65535",
        ),
        (
            "virtual=10.0.0.1:80\n\treal=10.0.0.1->10.0.255.1:80 gate\n",
            2,
            "more than 4096",
        ),
        (
            "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\trequest=/x\n",
            3,
            "double quotes",
        ),
        ("checkinterval=0\n", 1, "positive"),
        ("timeout=5\n", 1, "checktimeout"),
        ("autoreload=maybe\n", 1, "neither yes nor no"),
        (
            "virtual=2001:db8::1:80\n\treal=10.0.0.2:80 gate\n",
            1,
            "in brackets",
        ),
        (
            "virtual6=[2001:db8::1]:80\n\treal=10.0.0.2:80 gate\n",
            2,
            "real is for IPv4 virtual blocks",
        ),
        (
            "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\tservice=simpleudp\n",
            3,
            "unknown checker",
        ),
        (
            "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\tfallback=sorry.example.org:80\n",
            3,
            "not a host name",
        ),
    ];
    for (text, line, words) in cases {
        let e = error(text);
        assert_eq!(at(&e), ("ldirectord.cf".to_owned(), *line), "{text:?}: {e}");
        assert!(e.to_string().contains(words), "{text:?}: {e}");
        assert!(
            e.to_string().starts_with(&format!("ldirectord.cf:{line}:")),
            "{e}"
        );
    }
}

#[test]
fn a_file_that_cannot_be_read_or_is_not_text_is_refused_with_its_name() {
    let missing = std::path::Path::new("/nonexistent/ldirectord.cf");
    let e = Importer::new(Source::Ldirectord)
        .import_file(missing)
        .unwrap_err();
    assert!(matches!(e, ImportError::Read { .. }));
    assert!(e.to_string().starts_with("/nonexistent/ldirectord.cf: "), "{e}");

    let dir = testkit::TempDir::new("lvs-import-binary");
    let file = dir.path().join("binary.cf");
    std::fs::write(&file, b"checktimeout=3\nvirtual=\xff\n").unwrap();
    let e = Importer::new(Source::Ldirectord).import_file(&file).unwrap_err();
    assert_eq!(e.position().map(|p| (p.line, p.column)), Some((2, 9)), "{e}");
}

#[test]
fn crlf_lines_and_a_bare_supervised_after_a_block_read_as_ldirectord_reads_them() {
    let text = "checkinterval=4\r\n\r\nvirtual=192.0.2.5:80\r\n\treal=10.0.0.1:80 gate\r\nsupervised\r\n\r\nvirtual=192.0.2.6:80\r\n\treal=10.0.0.2:80 gate # the second\r\n";
    let imported = import(text);
    let services = &imported.config.virtual_services;
    assert_eq!(services.len(), 2);
    assert_eq!(
        services[1].servers[0].address,
        ip("10.0.0.2"),
        "the comment is cut in a block"
    );
    assert!(services
        .iter()
        .all(|s| s.check_interval.unwrap().as_duration() == Duration::from_secs(4)));
    assert!(
        matches!(fate(&imported, 5), Fate::Dropped(why) if why.contains("systemd")),
        "supervised"
    );
    // On a global line nothing is cut, as in ldirectord: a comment there makes a bad value.
    let e = error("autoreload=yes # on\n");
    assert!(e.to_string().contains("neither yes nor no"), "{e}");
}
