//! The IPVS settings lvs.cf gains beyond Piranha's: forwarding per service
//! and per server, tunnels, thresholds, scheduler flags, one-packet
//! scheduling, the persistence engine and the sorry server's own entry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use lvs_cf::*;

fn parse(text: &str) -> Result<Parsed, ParseError> {
    parse_with(text, &ParseOptions::default())
}

/// A file whose `web` service holds `body`; the body starts on line 6.
fn service(body: &str) -> String {
    format!(
        "primary = 192.0.2.1\nnetwork = nat\nvirtual web {{\n active = 1\n address = 192.0.2.100 eth0:1\n{body}\n}}\n"
    )
}

/// The file's errors and warnings as `lvsd --check` prints them.
fn findings(body: &str) -> Vec<String> {
    let parsed = parse(&service(body)).unwrap_or_else(|e| panic!("{body}: {e}"));
    parsed.diagnostics().iter().map(ToString::to_string).collect()
}

#[test]
fn a_service_sets_its_servers_entries_and_a_server_overrides_them() {
    let text = service(
        " scheduler = mh\n scheduler_flags = [ mh-fallback mh-port ]\n network = direct\n\
         upper_threshold = 100\n lower_threshold = 80\n sorry_server = 10.0.0.99\n sorry_port = 8080\n\
         sorry_network = nat\n sorry_weight = 5\n\
         server dr {\n  address = 10.0.0.1\n  active = 1\n }\n\
         server gue {\n  address = 10.0.0.2\n  active = 1\n  network = tunnel\n  tunnel_type = gue\n\
           tunnel_port = 6080\n  tunnel_checksum = remote\n  upper_threshold = 0\n  lower_threshold = 0\n }",
    );
    let parsed = parse(&text).expect("valid");
    assert_eq!(parsed.diagnostics(), []);
    let web = &parsed.config.virtual_services[0];
    assert_eq!(
        web.scheduler_flags,
        [SchedulerFlag::MhFallback, SchedulerFlag::MhPort]
    );
    let (dr, gue) = (&web.servers[0], &web.servers[1]);
    assert_eq!(web.network_of(dr, parsed.config.network), Network::Direct);
    assert_eq!(web.options_of(dr).upper_threshold, Some(100));
    assert_eq!(web.options_of(dr).lower_threshold, Some(80));
    let gue_options = web.options_of(gue);
    assert_eq!(web.network_of(gue, parsed.config.network), Network::Tunnel);
    assert_eq!(gue_options.tunnel_type, Some(TunnelType::Gue));
    assert_eq!(gue_options.tunnel_port, Some(6080));
    assert_eq!(gue_options.tunnel_checksum, Some(TunnelChecksum::Remote));
    assert_eq!(gue_options.upper_threshold, Some(0));
    assert_eq!(web.sorry_server_port(), 8080);
    assert_eq!(web.sorry_network_or(parsed.config.network), Network::Nat);
    assert_eq!(web.sorry_weight, Some(5));

    // Written back and read again, the model is the same.
    let written = write(&parsed.config);
    assert!(
        written.contains("    scheduler_flags = [ mh-fallback mh-port ]\n"),
        "{written}"
    );
    assert!(written.contains("        tunnel_type = gue\n"), "{written}");
    assert_eq!(parse(&written).expect("written").config, parsed.config);
}

#[test]
fn one_packet_and_the_persistence_engine() {
    let parsed = parse(&service(
        " protocol = udp\n port = 5060\n one_packet = 1\n persistent = 60\n persistence_engine = sip",
    ))
    .expect("valid");
    assert_eq!(parsed.diagnostics(), []);
    let sip = &parsed.config.virtual_services[0];
    assert!(sip.one_packet);
    assert_eq!(sip.persistence_engine, Some(PersistenceEngine::Sip));
}

#[test]
fn every_new_key_is_an_extension() {
    for body in [
        " network = direct",
        " tunnel_type = gre",
        " upper_threshold = 5",
        " scheduler_flags = [ sh-port ]",
        " one_packet = 1",
        " persistence_engine = sip",
        " sorry_port = 81",
        " server a {\n  lower_threshold = 1\n }",
    ] {
        let error = parse_with(&service(body), &ParseOptions::strict()).expect_err(body);
        assert!(error.to_string().contains("lvs-rs extension"), "{body}: {error}");
    }
}

#[test]
fn values_out_of_their_range_are_errors_on_their_line() {
    for (body, line, note) in [
        (" network = gre", 6, "`network` is one of: direct, nat, tunnel"),
        (
            " tunnel_type = vxlan",
            6,
            "`tunnel_type` is one of: ipip, gue, gre",
        ),
        (" tunnel_port = 0", 6, "between 1 and 65535"),
        (" upper_threshold = -1", 6, "between 0 and 2147483647"),
        (" scheduler_flags = [ mh-port flag-9 ]", 6, "one of: sh-fallback"),
        (
            " scheduler_flags = mh-port",
            6,
            "scheduler_flags = [ sh-fallback ]",
        ),
        (" sorry_weight = 0", 6, "between 1 and 65535"),
        (
            " server a {\n  address = 10.0.0.1\n  tunnel_checksum = some\n }",
            8,
            "none, checksum, remote",
        ),
    ] {
        let error = parse(&service(body)).expect_err(body);
        assert_eq!(error.line, line, "{body}: {error}");
        assert!(error.to_string().contains(note), "{body}: {error}");
    }
}

#[test]
fn settings_the_kernel_refuses_are_errors_on_the_line_that_sets_them() {
    for (body, expected) in [
        (
            " upper_threshold = 10\n lower_threshold = 20",
            "line 7: error: `lower_threshold = 20` of `web` is above its `upper_threshold = 10`",
        ),
        // Without an upper threshold the lower one must be 0.
        (
            " server a {\n  address = 10.0.0.1\n  lower_threshold = 3\n }",
            "line 8: error: `lower_threshold = 3` of server `a` of `web` is above its `upper_threshold = 0`",
        ),
        // The server's lower threshold under the service's upper one.
        (
            " upper_threshold = 2\n server a {\n  address = 10.0.0.1\n  lower_threshold = 3\n }",
            "line 9: error: `lower_threshold = 3` of server `a` of `web` is above its `upper_threshold = 2`",
        ),
        (
            " network = tunnel\n tunnel_type = gue",
            "line 7: error: `tunnel_type = gue` of `web` needs `tunnel_port`",
        ),
        (
            " network = tunnel\n tunnel_type = gre\n tunnel_port = 6080",
            "line 8: error: `tunnel_port` of `web` is only for `tunnel_type = gue`",
        ),
        (
            " network = tunnel\n tunnel_type = gre\n tunnel_checksum = remote",
            "line 8: error: `tunnel_checksum = remote` of `web` cannot be used with `tunnel_type = gre`",
        ),
        (
            " network = tunnel\n tunnel_checksum = checksum",
            "line 7: error: `tunnel_checksum = checksum` of `web` cannot be used with `tunnel_type = ipip`",
        ),
        (
            " scheduler = sh\n scheduler_flags = [ mh-port ]",
            "line 7: error: `mh-port` in `web` is a flag of `scheduler = mh`, and the scheduler is `sh`",
        ),
        (
            " protocol = tcp\n one_packet = 1",
            "line 7: error: `one_packet` in `web` is only for UDP and firewall-mark services",
        ),
        // A method a server's family cannot use.
        (
            " server six {\n  address = 2001:db8::1\n  network = direct\n }",
            "line 7: error: server `six` and the VIP of `web` are of different address families, which IPVS allows only with `network = tunnel` (the server's `network` is `direct`)",
        ),
    ] {
        let found = findings(body);
        assert!(found.iter().any(|f| f.starts_with(expected)), "{body}:\n{found:#?}");
    }
}

#[test]
fn settings_that_do_nothing_are_warnings() {
    for (body, expected) in [
        (
            " tunnel_type = gre",
            "line 6: warning: the tunnel keys of `web` have no effect: none of its servers is tunnelled",
        ),
        (
            " persistence_engine = sip",
            "line 6: warning: `persistence_engine` in `web` has no effect without `persistent`",
        ),
        (
            " sorry_port = 8080",
            "line 6: warning: `sorry_port` in `web` has no effect without `sorry_server`",
        ),
    ] {
        assert_eq!(findings(body), [expected], "{body}");
    }
    // A service's tunnel keys are for its tunnelled servers, when it has one.
    assert_eq!(
        findings(
            " network = direct\n tunnel_type = gre\n server t {\n  address = 10.0.0.1\n  network = tunnel\n }"
        ),
        Vec::<String>::new()
    );
    // A service's keys split with its servers: each server's entry is whole.
    for body in [
        " network = tunnel\n tunnel_type = gue\n server a {\n  address = 10.0.0.1\n  tunnel_port = 6080\n }",
        " lower_threshold = 5\n server a {\n  address = 10.0.0.1\n  upper_threshold = 10\n }",
        // A tunnelled service with a server reached otherwise.
        " network = tunnel\n tunnel_type = gue\n tunnel_port = 6080\n server a {\n  address = 10.0.0.1\n }\n\
         server b {\n  address = 10.0.0.2\n  network = direct\n }",
        // A GRE server takes no port from its GUE service.
        " network = tunnel\n tunnel_type = gue\n tunnel_port = 6080\n\
         server a {\n  address = 10.0.0.1\n  tunnel_type = gre\n }",
        // A tunnelled sorry server may be of the other family.
        " sorry_server = 2001:db8::99\n sorry_network = tunnel",
    ] {
        assert_eq!(findings(body), Vec::<String>::new(), "{body}");
    }
    // An error every server inherits is the service's, once.
    assert_eq!(
        findings(
            " network = tunnel\n tunnel_type = gue\n server a {\n  address = 10.0.0.1\n }\n\
             server b {\n  address = 10.0.0.2\n }"
        ),
        ["line 7: error: `tunnel_type = gue` of `web` needs `tunnel_port`, the port its servers decapsulate on"]
    );
    // A server of another family is fine when tunnelled.
    assert_eq!(
        findings(" server six {\n  address = 2001:db8::1\n  network = tunnel\n }"),
        Vec::<String>::new()
    );
}

#[test]
fn the_ipvs_sysctls_are_global_extensions() {
    let parsed = parse("expire_nodest_conn = 1\nconn_reuse_mode = 0\nsloppy_tcp = 0\nprimary = 192.0.2.1\n")
        .expect("valid");
    let sysctls = &parsed.config.ipvs_sysctls;
    assert_eq!(
        sysctls.entries(),
        [
            ("expire_nodest_conn", "1".to_owned()),
            ("conn_reuse_mode", "0".to_owned()),
            ("sloppy_tcp", "0".to_owned())
        ]
    );
    assert_eq!(sysctls.expire_quiescent_template, None, "unset: the kernel's");
    let written = write(&parsed.config);
    assert_eq!(parse(&written).expect("written").config, parsed.config);
    let error = parse("conn_reuse_mode = 4\n").expect_err("out of range");
    assert!(error.to_string().contains("between 0 and 3"), "{error}");
    let error = parse_with("sloppy_tcp = 1\n", &ParseOptions::strict()).expect_err("strict");
    assert!(error.to_string().contains("lvs-rs extension"), "{error}");
    let error = parse(&service(" sloppy_tcp = 1")).expect_err("a global key");
    assert!(error.to_string().contains("belongs at the top level"), "{error}");
}
