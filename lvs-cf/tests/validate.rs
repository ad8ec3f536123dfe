//! Validation beyond syntax: one test per rule, with the line it reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use lvs_cf::*;

fn diagnostics(text: &str) -> Vec<Diagnostic> {
    let options = ParseOptions {
        strict: false,
        services: Some(Services::builtin()),
    };
    match parse_with(text, &options) {
        Ok(parsed) => parsed.diagnostics(),
        Err(e) => panic!("expected {text:?} to parse, got:\n{e}"),
    }
}

/// The one finding whose message contains `needle`.
fn finding(text: &str, needle: &str) -> Diagnostic {
    let all = diagnostics(text);
    let matching: Vec<_> = all
        .iter()
        .filter(|d| d.message.contains(needle))
        .cloned()
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "one finding with {needle:?} expected in {all:#?}"
    );
    matching[0].clone()
}

fn assert_clean(text: &str) {
    let all = diagnostics(text);
    assert!(all.is_empty(), "expected no findings, got {all:#?}");
}

const ACTIVE_WEB: &str = "virtual web {\n active = 1\n address = 192.0.2.1 eth0:1\n}\n";

#[test]
fn a_minimal_valid_file_is_clean() {
    assert_clean(ACTIVE_WEB);
}

#[test]
fn duplicate_virtual_names() {
    let d = finding(
        &format!("{ACTIVE_WEB}virtual web {{\n}}\n"),
        "duplicate virtual service name `web`",
    );
    assert_eq!((d.severity, d.line), (Severity::Error, Some(5)));
    assert!(d.message.contains("first defined on line 1"));
}

#[test]
fn duplicate_server_names() {
    let text =
        "virtual web {\n active = 1\n address = 192.0.2.1 eth0:1\n server a {\n }\n server a {\n }\n}\n";
    let d = finding(text, "duplicate server name `a`");
    assert_eq!((d.severity, d.line), (Severity::Error, Some(6)));
}

#[test]
fn two_active_virtuals_with_the_same_vip_protocol_and_port() {
    let text =
        format!("{ACTIVE_WEB}virtual web2 {{\n active = 1\n address = 192.0.2.1 eth0:2\n port = 80\n}}\n");
    let d = finding(&text, "are the same IPVS service (tcp 192.0.2.1:80)");
    assert_eq!((d.severity, d.line), (Severity::Error, Some(5)));
    // Another protocol or port is another service; an inactive one does not count.
    assert_clean(&format!(
        "{ACTIVE_WEB}virtual dns {{\n active = 1\n address = 192.0.2.1 eth0:2\n protocol = udp\n}}\n"
    ));
    assert_clean(&format!(
        "{ACTIVE_WEB}virtual old {{\n active = 0\n address = 192.0.2.1 eth0:2\n}}\n"
    ));
}

#[test]
fn two_active_virtuals_with_the_same_fwmark() {
    let text = "virtual a {\n active = 1\n address = 192.0.2.1 eth0:1\n fwmark = 7\n}\nvirtual b {\n active = 1\n address = 192.0.2.2 eth0:2\n fwmark = 7\n}\n";
    let d = finding(text, "same IPVS service (fwmark 7");
    assert_eq!(d.line, Some(6));
}

#[test]
fn an_active_virtual_without_address() {
    let d = finding("virtual web {\n active = 1\n fwmark = 3\n}\n", "has no `address`");
    assert_eq!((d.severity, d.line), (Severity::Error, Some(1)));
}

#[test]
fn bad_netmasks() {
    let d = finding(
        &format!("{ACTIVE_WEB}nat_nmask = 255.0.255.0\n"),
        "not a contiguous netmask",
    );
    assert_eq!((d.severity, d.line), (Severity::Error, Some(5)));
    assert!(d.message.contains("Bad subnet mask specified"));
    let d = finding(
        "virtual web {\n active = 1\n address = 192.0.2.1 eth0:1\n vip_nmask = 255.255.0.255\n}\n",
        "vip_nmask",
    );
    assert_eq!(d.line, Some(4));
    let d = finding(
        "virtual web {\n active = 1\n address = 192.0.2.1 eth0:1\n vip_nmask = /33\n}\n",
        "longer than an IPv4",
    );
    assert_eq!(d.line, Some(4));
    let d = finding(
        "virtual web {\n active = 1\n address = 2001:db8::1 eth0\n vip_nmask = 255.255.255.0\n}\n",
        "address is IPv6",
    );
    assert_eq!(d.line, Some(4));
    assert_clean("virtual web {\n active = 1\n address = 2001:db8::1 eth0\n vip_nmask = /64\n}\n");
}

#[test]
fn primary_equal_to_backup() {
    let d = finding(
        &format!("primary = 10.0.0.1\nbackup = 10.0.0.1\n{ACTIVE_WEB}"),
        "are the same address",
    );
    assert_eq!((d.severity, d.line), (Severity::Error, Some(2)));
}

#[test]
fn backup_active_without_backup() {
    let d = finding(
        &format!("primary = 10.0.0.1\nbackup_active = 1\n{ACTIVE_WEB}"),
        "without a `backup` address",
    );
    assert_eq!((d.severity, d.line), (Severity::Warning, Some(2)));
    let d = finding(
        &format!("primary = 10.0.0.1\nbackup = 0.0.0.0\nbackup_active = 1\n{ACTIVE_WEB}"),
        "without a `backup`",
    );
    assert_eq!(d.line, Some(3));
}

#[test]
fn no_active_virtual_at_all() {
    let d = finding("virtual web {\n active = 0\n}\n", "no active virtual services");
    assert_eq!((d.severity, d.line), (Severity::Error, None));
    // In FOS mode the failover services count.
    let d = finding(
        &format!("service = fos\n{ACTIVE_WEB}"),
        "no active failover services",
    );
    assert_eq!(d.severity, Severity::Error);
    assert_clean("service = fos\nfailover web {\n active = 1\n address = 192.0.2.1 eth0:1\n}\n");
}

#[test]
fn a_server_block_that_precedes_the_port() {
    let text = "virtual web {\n active = 1\n address = 192.0.2.1 eth0:1\n server a {\n  address = 10.0.0.1\n }\n port = 443\n}\n";
    let d = finding(text, "takes port 80");
    assert_eq!((d.severity, d.line), (Severity::Warning, Some(4)));
}

#[test]
fn values_out_of_range_in_built_models() {
    let mut config = Config::default();
    let mut web = VirtualService::new("web");
    web.active = true;
    web.address = Some(AddressOnDevice {
        host: Host::Name("vip.example".into()),
        device: "eth0:1".into(),
    });
    web.persistent = 3_000_000;
    web.timeout = Seconds::whole(0);
    let mut server = RealServer::new("a");
    server.weight = 70_000;
    web.servers.push(server);
    config.virtual_services.push(web);
    config.keepalive = Seconds::whole(0);
    config.tcp_timeout = 3_000_000;
    let found = validate(&config, None);
    for needle in [
        "`persistent` must be at most",
        "`timeout` must be greater than 0",
        "`weight` must be at most 65535",
        "`keepalive` must be greater than 0",
        "`tcp_timeout` must be at most",
    ] {
        assert!(
            found.iter().any(|d| d.is_error() && d.message.contains(needle)),
            "{needle}: {found:#?}"
        );
    }
}

#[test]
fn an_active_server_without_address() {
    let text = "virtual web {\n active = 1\n address = 192.0.2.1 eth0:1\n server a {\n  active = 1\n }\n}\n";
    let d = finding(text, "active server `a` in `web` has no `address`");
    assert_eq!(d.line, Some(4));
}

#[test]
fn mixed_address_families_need_tunnel() {
    let text =
        "virtual web {\n active = 1\n address = 2001:db8::1 eth0\n server a {\n  address = 10.0.0.1\n }\n}\n";
    let d = finding(text, "different address families");
    assert_eq!(d.line, Some(5));
    assert_clean(&format!("network = tunnel\n{text}"));
    let d = finding(
        "virtual web {\n active = 1\n address = 192.0.2.1 eth0\n sorry_server = 2001:db8::9\n}\n",
        "sorry_server",
    );
    assert_eq!(d.line, Some(4));
}

#[test]
fn settings_that_do_nothing_warn() {
    let d = finding(
        &format!("network = direct\nnat_router = 10.0.0.254 eth1:1\n{ACTIVE_WEB}"),
        "`nat_router` is used only",
    );
    assert_eq!((d.severity, d.line), (Severity::Warning, Some(2)));
    let d = finding(
        "virtual web {\n active = 1\n address = 192.0.2.1 eth0:1\n pmask = 255.255.255.0\n}\n",
        "no effect without `persistent`",
    );
    assert_eq!(d.severity, Severity::Warning);
    let d = finding(
        "virtual web {\n active = 1\n address = 192.0.2.1 eth0:1\n send = x\n send_program = /bin/check\n}\n",
        "overrides `send`",
    );
    assert_eq!(d.line, Some(5));
    let d = finding(&format!("primary = 10.0.0.1\nbackup = 10.0.0.2\nbackup_active = 1\nkeepalive = 5\ndeadtime = 10\n{ACTIVE_WEB}"), "not longer than two `keepalive`s");
    assert_eq!(d.line, Some(5));
    let d = finding(&format!("primary = 10.0.0.1\nprimary_private = 10.1.0.1\nbackup = 10.0.0.2\nbackup_active = 1\n{ACTIVE_WEB}"), "`backup_private` is not");
    assert_eq!(d.line, Some(2));
}

#[test]
fn values_that_cannot_be_written_back() {
    let mut config = parse(ACTIVE_WEB).expect("parses").config;
    config.virtual_services[0].send = Some(Text {
        value: "a \"b\"".into(),
        quote: Quote::Double,
    });
    config.virtual_services[0].expect = Some(Text::bare("two words"));
    config.rsh_command = "ssh -o \"x\" 'y'".into();
    config.virtual_services[0]
        .servers
        .push(RealServer::new("line\nbreak"));
    let found = validate(&config, None);
    for needle in [
        "`send` contains its own quote",
        "`expect` needs quotes",
        "`rsh_command` needs quotes but contains both",
        "server name `line\nbreak` contains a line break",
    ] {
        assert!(
            found.iter().any(|d| d.is_error() && d.message.contains(needle)),
            "{needle}: {found:#?}"
        );
    }
}

#[test]
fn diagnostics_display() {
    let d = Diagnostic {
        file: None,
        severity: Severity::Warning,
        line: Some(3),
        message: "m".into(),
    };
    assert_eq!(d.to_string(), "line 3: warning: m");
    let d = Diagnostic {
        file: None,
        severity: Severity::Error,
        line: None,
        message: "m".into(),
    };
    assert_eq!(d.to_string(), "error: m");
}

#[test]
fn quorum_settings_that_cannot_work_or_do_nothing() {
    let web = |keys: &str| format!("virtual web {{\n active = 1\n address = 192.0.2.1 eth0:1\n{keys}}}\n");
    let d = finding(
        &web(" quorum = 2\n quorum_action = sorry\n"),
        "needs a `sorry_server`",
    );
    assert_eq!((d.severity, d.line), (Severity::Error, Some(5)));
    let d = finding(&web(" quorum = 2\n hysteresis = 2\n"), "the quorum is never lost");
    assert_eq!((d.severity, d.line), (Severity::Warning, Some(5)));
    let d = finding(&web(" hysteresis = 1\n"), "no effect without `quorum`");
    assert_eq!((d.severity, d.line), (Severity::Warning, Some(4)));
    let servers = " server a {\n  address = 10.0.0.1\n  active = 1\n  weight = 3\n }\n server b {\n  address = 10.0.0.2\n  active = 1\n  weight = 3\n }\n";
    assert_clean(&web(&format!(
        " quorum = 4\n hysteresis = 1\n quorum_action = withdraw\n{servers}"
    )));
    let d = finding(
        &web(&format!(" quorum = 6\n hysteresis = 1\n{servers}")),
        "a lost quorum never comes back",
    );
    assert_eq!((d.severity, d.line), (Severity::Warning, Some(4)));
    let config = parse(&web(" quorum = 4\n sorry_server = 10.0.0.9\n"))
        .expect("parses")
        .config;
    assert_eq!(
        config.virtual_services[0].quorum_action_or_default(),
        QuorumAction::Sorry
    );
}
