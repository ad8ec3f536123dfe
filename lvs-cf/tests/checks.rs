//! `check` blocks: what they read, where they may stand, and the errors a
//! check that cannot work gives, with its line.

use lvs_cf::*;

fn parse(text: &str) -> Result<Parsed, ParseError> {
    parse_with(text, &ParseOptions::default())
}

fn service(body: &str) -> String {
    format!("primary = 192.0.2.1\nvirtual web {{\n active = 1\n address = 192.0.2.100 eth0:1\n port = 443\n{body}\n}}\n")
}

#[test]
fn a_check_block_reads_every_https_key() {
    let text = service(
        " check health {\n  type = https\n  port = 8443\n  address = 10.0.0.9\n  source = 10.0.0.250\n  timeout = 2.5\n\
           method = HEAD\n  path = /healthz?full=1\n  host = www.example.org\n  status = [ 200 301-302 ]\n\
           digest = 0123456789ABCDEF0123456789abcdef\n  http_version = 1.1\n  sni = www.example.org\n  verify = 0\n\
           ca_file = /etc/ssl/ca.pem\n  client_cert = /etc/lvs/c.pem\n  client_key = /etc/lvs/c.key\n  tls_min = 1.3\n }",
    );
    let parsed = parse(&text).expect("valid");
    let check = &parsed.config.virtual_services[0].checks[0];
    assert_eq!(check.name, "health");
    assert_eq!(check.kind, CheckType::Https);
    assert_eq!(check.port, Some(8443));
    assert_eq!(check.address, Some("10.0.0.9".parse().expect("literal")));
    assert_eq!(
        check.timeout,
        Some(Seconds(std::time::Duration::from_millis(2500)))
    );
    assert_eq!(check.method, HttpMethod::Head);
    assert_eq!(check.path.as_deref(), Some("/healthz?full=1"));
    assert_eq!(
        check.status,
        [
            StatusRange { low: 200, high: 200 },
            StatusRange { low: 301, high: 302 }
        ]
    );
    assert_eq!(
        check.digest,
        Some([
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef
        ])
    );
    assert_eq!(check.http_version, HttpVersion::Http11);
    assert!(!check.verify);
    assert_eq!(check.tls_min, TlsVersion::Tls13);
    assert!(parsed.diagnostics().is_empty(), "{:?}", parsed.diagnostics());
    assert_eq!(
        parse(&write(&parsed.config)).expect("written").config,
        parsed.config
    );
}

#[test]
fn a_server_check_replaces_the_services() {
    let text = service(
        " check tcp {\n  type = tcp\n }\n server a {\n  address = 10.0.0.1\n  active = 1\n\
           check dns {\n   type = dns\n   query = example.org\n   record = AAAA\n   transport = tcp\n   rcode = NXDOMAIN\n   answer = 2001:db8::1\n  }\n }\n\
          server b {\n  address = 10.0.0.2\n  active = 1\n }",
    );
    let parsed = parse(&text).expect("valid");
    let vs = &parsed.config.virtual_services[0];
    assert_eq!(vs.checks_of(&vs.servers[0])[0].kind, CheckType::Dns);
    assert_eq!(vs.checks_of(&vs.servers[0])[0].record, RecordType::Aaaa);
    assert_eq!(vs.checks_of(&vs.servers[0])[0].rcode, Rcode::NxDomain);
    assert_eq!(vs.checks_of(&vs.servers[1])[0].kind, CheckType::Tcp);
    assert_eq!(
        parsed.source_map.virtual_services[0].servers[0].checks[0]
            .header
            .line,
        12
    );
}

#[test]
fn hex_payloads_are_bytes() {
    let text = service(" check raw {\n  type = udp\n  send_hex = 00ff10\n  expect_hex = \"\"\n }");
    let check = &parse(&text).expect("valid").config.virtual_services[0].checks[0];
    assert_eq!(check.send, Some(Payload::Hex(vec![0x00, 0xff, 0x10])));
    assert_eq!(check.expect, Some(Payload::Hex(Vec::new())));
}

/// Each check that could not work is refused with its line and a note.
#[test]
fn checks_that_cannot_work_are_errors_on_their_line() {
    for (body, line, note) in [
        (" check a {\n  send_hex = abc\n }", 7, "even number of hex digits"),
        (" check a {\n  send_hex = zz\n }", 7, "hex digits only"),
        (
            " check a {\n  type = dns\n  record = AXFR\n }",
            8,
            "one of: A, AAAA",
        ),
        (" check a {\n  type = gopher\n }", 7, "`type` is one of"),
        (
            " check a {\n  status = [ 200 700 ]\n }",
            7,
            "codes from 100 to 599",
        ),
        (" check a {\n  status = [ 302-301 ]\n }", 7, "ranges low-high"),
        (" check a {\n  path = healthz\n }", 7, "starts with /"),
        (" check a {\n  digest = 1234\n }", 7, "32 hex digits"),
        (" check a {\n  weight = 3\n }", 7, "inside a server block"),
        (
            " check a {\n  check b {\n  }\n }",
            7,
            "not allowed inside a check block",
        ),
    ] {
        let error = parse(&service(body)).expect_err(body);
        assert_eq!(error.line, line, "{body}: {error}");
        assert!(error.to_string().contains(note), "{body}: {error}");
    }
}

#[test]
fn checks_missing_what_they_need_are_validation_errors() {
    for (body, needle) in [
        (" check a {\n  type = dns\n }", "needs `query`"),
        (" check a {\n  type = program\n }", "needs `command`"),
        (
            " check a {\n  type = https\n  client_cert = /c.pem\n }",
            "go together",
        ),
        (
            " check a {\n  expect_hex = 00\n  use_regex = 1\n }",
            "not to `expect_hex`",
        ),
        (" check a {\n }\n check a {\n }", "duplicate check name `a`"),
        (
            " check a {\n  address = 10.0.0.1\n  source = ::1\n }",
            "different address families",
        ),
    ] {
        let parsed = parse(&service(body)).expect(body);
        let errors: Vec<String> = parsed
            .diagnostics()
            .into_iter()
            .filter(Diagnostic::is_error)
            .map(|d| d.to_string())
            .collect();
        assert!(errors.iter().any(|e| e.contains(needle)), "{body}: {errors:?}");
    }
}

#[test]
fn a_key_the_type_does_not_read_is_a_warning() {
    let parsed = parse(&service(" check a {\n  type = ping\n  path = /x\n }")).expect("valid");
    let warnings: Vec<String> = parsed.diagnostics().iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        ["line 8: warning: check `a` of `web`: `type = ping` does not read `path`"]
    );
}

#[test]
fn check_blocks_are_extensions() {
    let error = parse_with(&service(" check a {\n }"), &ParseOptions::strict()).expect_err("strict");
    assert!(error.to_string().contains("lvs-rs extension"), "{error}");
}

#[test]
fn a_check_block_from_entries_reads_as_one_in_a_file() {
    let (check, warnings) =
        check_block("opts", &["type = https", "path = /healthz", "status = [ 200 ]"]).expect("valid");
    assert_eq!(check.kind, CheckType::Https);
    assert_eq!(check.path.as_deref(), Some("/healthz"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let (_, warnings) = check_block("opts", &["type = ping", "path = /x"]).expect("valid");
    assert_eq!(
        warnings,
        ["`path = /x`: check `opts` of `nanny`: `type = ping` does not read `path`"]
    );
    assert_eq!(
        check_block("opts", &["type = dns", "record = AXFR"]).expect_err("bad record"),
        "`record = AXFR`: invalid argument (`record` is one of: A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT, CAA)"
    );
    assert!(check_block("opts", &["type = dns"])
        .expect_err("no query")
        .contains("needs `query`"));
    assert!(check_block("opts", &["port = 1\nweight = 2"]).is_err());
}
