//! lvs.cf's `check` blocks against real servers from Debian's packages, in a
//! network namespace of the test's own: nginx for HTTP and HTTPS (with
//! certificates made here: valid, expired, for another name, and a site
//! that wants a client certificate), dnsmasq for DNS, aiosmtpd for SMTP,
//! dovecot for IMAP and POP3, and ICMP echo against a namespace that
//! answers and one that ignores echo requests. Each option is tried where
//! it passes and where it fails.
//!
//! The checks are read from lvs.cf text and planned by `lvs-core`, so each
//! test covers the keys, the planner and the runner together.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use lvs_core::check::{Check, Failure};
use lvs_core::director::{literal_addresses, Plan};
use lvs_health::run::run_noting;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use testkit::{Netns, TempDir};

const LIMIT: Duration = Duration::from_secs(2);

/// The check a server at `target` gets from `blocks`, as the director plans it.
fn planned(blocks: &str, target: SocketAddr) -> Check {
    let text = format!(
        "primary = 192.0.2.1\nvirtual v {{\n active = 1\n address = {} eth0:1\n port = {}\n{blocks}\n\
         server s {{\n  address = {}\n  active = 1\n }}\n}}\n",
        if target.is_ipv4() {
            "192.0.2.100"
        } else {
            "2001:db8::100"
        },
        target.port(),
        target.ip()
    );
    let parsed = lvs_cf::parse(&text).unwrap_or_else(|e| panic!("{text}\n{e}"));
    let errors: Vec<_> = parsed
        .diagnostics()
        .into_iter()
        .filter(|d| d.is_error())
        .collect();
    assert!(errors.is_empty(), "{text}\n{errors:?}");
    let plan = Plan::new(&parsed.config, &literal_addresses).expect("a plan");
    let server = plan.servers().next().expect("one server");
    (*server.check).clone()
}

/// Runs `blocks`' check against `target` inside `ns`.
fn outcome(ns: &Netns, blocks: &str, target: SocketAddr) -> lvs_health::run::Outcome {
    let check = planned(blocks, target);
    ns.run(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(run_noting(&check, target, LIMIT))
    })
}

fn result(ns: &Netns, blocks: &str, target: SocketAddr) -> Result<(), Failure> {
    outcome(ns, blocks, target).result
}

/// The failure inside a named check's.
fn inner(result: Result<(), Failure>) -> Failure {
    match result {
        Err(Failure::Named { failure, .. }) => *failure,
        other => panic!("expected a named failure, got {other:?}"),
    }
}

fn at(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Processes killed when the test ends.
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until `port` on loopback in `ns` accepts connections.
fn wait_for(ns: &Netns, port: u16, log: &Path) {
    let started = Instant::now();
    while ns
        .run(|| std::net::TcpStream::connect_timeout(&at(port), Duration::from_millis(200)))
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nothing listens on port {port}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A certificate authority and the certificates the tests use, as PEM files.
struct Pki {
    ca: PathBuf,
    good: (PathBuf, PathBuf),
    expired: (PathBuf, PathBuf),
    other_name: (PathBuf, PathBuf),
    client: (PathBuf, PathBuf),
}

impl Pki {
    fn new(dir: &TempDir) -> Pki {
        let ca_key = KeyPair::generate().expect("key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Each certificate names its own subject: OpenSSL takes a leaf whose
        // subject is its issuer's for a self-signed one.
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "lvs-rs test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let ca = ca_params.self_signed(&ca_key).expect("CA");
        let issue = |name: &str, names: &[&str], expired: bool, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().expect("key");
            let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
            let mut params = CertificateParams::new(names).expect("params");
            params.extended_key_usages = vec![usage];
            params.distinguished_name.push(rcgen::DnType::CommonName, name);
            if expired {
                params.not_before = rcgen::date_time_ymd(2020, 1, 1);
                params.not_after = rcgen::date_time_ymd(2021, 1, 1);
            }
            let cert = params.signed_by(&key, &ca, &ca_key).expect("certificate");
            (
                dir.file(&format!("{name}.pem"), &cert.pem()),
                dir.file(&format!("{name}.key"), &key.serialize_pem()),
            )
        };
        let server = ExtendedKeyUsagePurpose::ServerAuth;
        Pki {
            ca: dir.file("ca.pem", &ca.pem()),
            good: issue("good", &["www.test", "127.0.0.1"], false, server.clone()),
            expired: issue("expired", &["www.test", "127.0.0.1"], true, server.clone()),
            other_name: issue("other", &["other.test"], false, server),
            client: issue(
                "client",
                &["client.test"],
                false,
                ExtendedKeyUsagePurpose::ClientAuth,
            ),
        }
    }
}

const HTTP: u16 = 8080;
const HTTPS: u16 = 8443;
const HTTPS_EXPIRED: u16 = 8444;
const HTTPS_OTHER_NAME: u16 = 8445;
const HTTPS_CLIENT_ONLY: u16 = 8446;
const HTTPS_TLS12_ONLY: u16 = 8447;
/// Closes each connection after two requests.
const HTTP_CLOSING: u16 = 8081;

/// nginx serving every site the HTTP and TLS tests use.
fn nginx(ns: &Netns, dir: &TempDir, pki: &Pki) -> Child {
    let d = dir.path().display();
    let site = |port: u16, (cert, key): &(PathBuf, PathBuf), extra: &str| {
        format!(
            "  server {{\n    listen 127.0.0.1:{port} ssl;\n    ssl_certificate {};\n    ssl_certificate_key {};\n{extra}\
             \n    location / {{ return 200 \"secure\\n\"; }}\n  }}\n",
            cert.display(),
            key.display()
        )
    };
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n\
           server {{\n    listen 127.0.0.1:{HTTP};\n\
             location = /health {{ return 200 \"healthy\\n\"; }}\n\
             location = /moved {{ return 301 /health; }}\n\
             location = /from-two {{ if ($remote_addr != 127.0.0.2) {{ return 403; }} return 200 \"two\\n\"; }}\n\
             location = /nginx-status {{ stub_status; }}\n\
             location / {{ return 404; }}\n  }}\n\
           server {{\n    listen 127.0.0.1:{HTTP_CLOSING};\n    keepalive_requests 2;\n\
             location / {{ return 200 \"closing\\n\"; }}\n  }}\n{}{}{}{}{}}}\n",
        site(HTTPS, &pki.good, ""),
        site(HTTPS_EXPIRED, &pki.expired, ""),
        site(HTTPS_OTHER_NAME, &pki.other_name, ""),
        site(
            HTTPS_CLIENT_ONLY,
            &pki.good,
            &format!("    ssl_verify_client on;\n    ssl_client_certificate {};", pki.ca.display())
        ),
        site(HTTPS_TLS12_ONLY, &pki.good, "    ssl_protocols TLSv1.2;"),
    );
    let conf = dir.file("nginx.conf", &conf);
    let log = dir.path().join("nginx.log");
    let child = ns.spawn_logged(
        "nginx",
        ["-c", &conf.to_string_lossy(), "-p", &d.to_string()],
        &log,
    );
    wait_for(ns, HTTPS_TLS12_ONLY, &log);
    child
}

fn web_lab(test: &str) -> Option<(Netns, TempDir, Pki, Servers)> {
    if !testkit::require_root(test) {
        return None;
    }
    let ns = Netns::new("checks");
    let dir = TempDir::new(test);
    let pki = Pki::new(&dir);
    let servers = Servers(vec![nginx(&ns, &dir, &pki)]);
    Some((ns, dir, pki, servers))
}

#[test]
fn http_checks_against_nginx() {
    let Some((ns, _dir, _pki, _servers)) = web_lab("http_checks_against_nginx") else {
        return;
    };
    let http = |keys: &str| format!(" check web {{\n  type = http\n{keys}\n }}");
    let server = at(HTTP);
    assert_eq!(result(&ns, &http("  path = /health"), server), Ok(()));
    // Accepted status codes.
    assert_eq!(
        inner(result(&ns, &http("  path = /nothing"), server)),
        Failure::Status(404)
    );
    assert_eq!(
        result(&ns, &http("  path = /nothing\n  status = [ 404 ]"), server),
        Ok(())
    );
    assert_eq!(
        inner(result(&ns, &http("  path = /moved"), server)),
        Failure::Status(301)
    );
    assert_eq!(
        result(&ns, &http("  path = /moved\n  status = [ 200 300-399 ]"), server),
        Ok(())
    );
    // Body and digest.
    assert_eq!(
        result(&ns, &http("  path = /health\n  body = \"^heal\""), server),
        Ok(())
    );
    assert!(matches!(
        inner(result(&ns, &http("  path = /health\n  body = sick"), server)),
        Failure::Mismatch(_)
    ));
    let digest: String = {
        use md5::{Digest, Md5};
        Md5::digest(b"healthy\n")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(
        result(
            &ns,
            &http(&format!("  path = /health\n  digest = {digest}")),
            server
        ),
        Ok(())
    );
    assert!(matches!(
        inner(result(&ns, &http("  path = /health\n  digest = 00000000000000000000000000000000"), server)),
        Failure::Digest(got) if got == digest
    ));
    // HEAD has no body to match; HTTP/1.1 as well as 1.0.
    assert_eq!(
        result(&ns, &http("  path = /health\n  method = HEAD"), server),
        Ok(())
    );
    assert_eq!(
        result(
            &ns,
            &http("  path = /health\n  http_version = 1.1\n  body = healthy"),
            server
        ),
        Ok(())
    );
    // The check's own port and address, apart from the server's.
    let closed = at(9);
    assert!(matches!(
        inner(result(&ns, &http("  path = /health"), closed)),
        Failure::Connect(_)
    ));
    assert_eq!(
        result(&ns, &http(&format!("  path = /health\n  port = {HTTP}")), closed),
        Ok(())
    );
    assert_eq!(
        result(
            &ns,
            &http(&format!(
                "  path = /health\n  address = 127.0.0.1\n  port = {HTTP}"
            )),
            SocketAddr::from(([10, 255, 255, 1], 80))
        ),
        Ok(())
    );
    // The source address: the site answers 127.0.0.2 only.
    assert_eq!(
        inner(result(&ns, &http("  path = /from-two"), server)),
        Failure::Status(403)
    );
    assert_eq!(
        result(&ns, &http("  path = /from-two\n  source = 127.0.0.2"), server),
        Ok(())
    );
    assert!(matches!(
        inner(result(
            &ns,
            &http("  path = /health\n  source = 10.255.255.1"),
            server
        )),
        Failure::Connect(_)
    ));
}

#[test]
fn https_and_tls_checks_against_nginx() {
    let Some((ns, _dir, pki, _servers)) = web_lab("https_and_tls_checks_against_nginx") else {
        return;
    };
    let ca = pki.ca.display().to_string();
    let https = |keys: &str| format!(" check site {{\n  type = https\n  ca_file = {ca}\n{keys}\n }}");
    let tls = |keys: &str| format!(" check hello {{\n  type = tls\n  ca_file = {ca}\n{keys}\n }}");

    // Valid: by name (SNI and Host) or by address; the expiry is reported.
    let good = outcome(&ns, &https("  host = www.test"), at(HTTPS));
    assert_eq!(good.result, Ok(()));
    let expires = good.certificate_expires.expect("the certificate's expiry");
    assert!(expires > std::time::SystemTime::now(), "{expires:?}");
    assert_eq!(result(&ns, &https(""), at(HTTPS)), Ok(()));
    assert_eq!(result(&ns, &tls("  sni = www.test"), at(HTTPS)), Ok(()));

    // Expired, the wrong name, an unknown authority: refused unless verify = 0.
    let refused = |r: Result<(), Failure>, needle: &str| match inner(r) {
        Failure::Tls(why) => assert!(why.contains(needle), "{why}"),
        other => panic!("expected a TLS failure with {needle:?}, got {other:?}"),
    };
    refused(
        result(&ns, &https("  sni = www.test"), at(HTTPS_EXPIRED)),
        "expired",
    );
    let expired = outcome(&ns, &tls("  sni = www.test\n  verify = 0"), at(HTTPS_EXPIRED));
    assert_eq!(expired.result, Ok(()));
    assert!(expired.certificate_expires.expect("expiry") < std::time::SystemTime::now());
    refused(
        result(&ns, &https("  sni = www.test"), at(HTTPS_OTHER_NAME)),
        "not valid for name",
    );
    assert_eq!(
        result(
            &ns,
            &https("  sni = www.test\n  verify = 0"),
            at(HTTPS_OTHER_NAME)
        ),
        Ok(())
    );
    refused(
        result(
            &ns,
            " check site {\n  type = https\n  sni = www.test\n }",
            at(HTTPS),
        ),
        "UnknownIssuer",
    );

    // A site that wants a client certificate.
    assert!(matches!(
        inner(result(&ns, &https("  sni = www.test"), at(HTTPS_CLIENT_ONLY))),
        Failure::Status(400) | Failure::Tls(_)
    ));
    let (cert, key) = &pki.client;
    assert_eq!(
        result(
            &ns,
            &https(&format!(
                "  sni = www.test\n  client_cert = {}\n  client_key = {}",
                cert.display(),
                key.display()
            )),
            at(HTTPS_CLIENT_ONLY)
        ),
        Ok(())
    );

    // The oldest version accepted.
    assert_eq!(result(&ns, &tls("  tls_min = 1.2"), at(HTTPS_TLS12_ONLY)), Ok(()));
    assert!(matches!(
        inner(result(&ns, &tls("  tls_min = 1.3"), at(HTTPS_TLS12_ONLY))),
        Failure::Tls(_)
    ));

    // A CA file that is not a certificate cannot work.
    let bad = format!(
        " check site {{\n  type = https\n  ca_file = {}\n }}",
        pki.good.1.display()
    );
    assert!(matches!(
        inner(result(&ns, &bad, at(HTTPS))),
        Failure::TlsSetup(_)
    ));
}

const DNS: u16 = 5353;

#[test]
fn dns_checks_against_dnsmasq() {
    if !testkit::require_root("dns_checks_against_dnsmasq") {
        return;
    }
    let ns = Netns::new("dns");
    let dir = TempDir::new("dns");
    let log = dir.path().join("dnsmasq.log");
    let port = DNS.to_string();
    let pid = dir.path().join("dnsmasq.pid");
    let child = ns.spawn_logged(
        "dnsmasq",
        [
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            &format!("--port={port}"),
            &format!("--pid-file={}", pid.display()),
            "--user=root",
            "--local=/test/",
            "--host-record=www.test,10.9.9.9,2001:db8::9",
            "--txt-record=www.test,\"all is well\"",
        ],
        &log,
    );
    let _servers = Servers(vec![child]);
    wait_for(&ns, DNS, &log);
    let dns = |keys: &str| format!(" check dns {{\n  type = dns\n{keys}\n }}");
    let server = at(DNS);
    assert_eq!(result(&ns, &dns("  query = www.test"), server), Ok(()));
    assert_eq!(
        result(&ns, &dns("  query = www.test\n  answer = 10.9.9.9"), server),
        Ok(())
    );
    assert!(matches!(
        inner(result(&ns, &dns("  query = www.test\n  answer = 10.9.9.8"), server)),
        Failure::Dns(why) if why.contains("10.9.9.9")
    ));
    assert_eq!(
        result(
            &ns,
            &dns("  query = www.test\n  record = AAAA\n  answer = 2001:db8::9\n  transport = tcp"),
            server
        ),
        Ok(())
    );
    assert_eq!(
        result(
            &ns,
            &dns("  query = www.test\n  record = TXT\n  answer = \"all is well\""),
            server
        ),
        Ok(())
    );
    assert!(matches!(
        inner(result(&ns, &dns("  query = nosuch.test"), server)),
        Failure::Dns(why) if why == "response code NXDOMAIN, not NOERROR"
    ));
    assert_eq!(
        result(&ns, &dns("  query = nosuch.test\n  rcode = NXDOMAIN"), server),
        Ok(())
    );
    // Nothing on the port: the port unreachable, or no answer in time.
    assert!(matches!(
        inner(result(&ns, &dns("  query = www.test"), at(DNS + 1))),
        Failure::Read(_) | Failure::NoReply
    ));

    // The same query written by hand in hex over UDP: the answer's first two
    // bytes are the query's id.
    let query = "abcd01000001000000000000037777770474657374000001 0001".replace(' ', "");
    let raw = |expect: &str| {
        format!(" check raw {{\n  type = udp\n  send_hex = {query}\n  expect_hex = {expect}\n }}")
    };
    assert_eq!(result(&ns, &raw("abcd"), server), Ok(()));
    assert!(matches!(
        inner(result(&ns, &raw("abce"), server)),
        Failure::Mismatch(_)
    ));
}

const SMTP: u16 = 2525;
const SMTP_STARTTLS: u16 = 2526;
const IMAP: u16 = 1143;
const POP3: u16 = 1110;

#[test]
fn mail_checks_against_aiosmtpd_and_dovecot() {
    if !testkit::require_root("mail_checks_against_aiosmtpd_and_dovecot") {
        return;
    }
    let ns = Netns::new("mail");
    let dir = TempDir::new("mail");
    let pki = Pki::new(&dir);
    let (cert, key) = &pki.good;
    let smtp_log = dir.path().join("smtp.log");
    let plain = ns.spawn_logged("aiosmtpd", ["-n", "-l", &format!("127.0.0.1:{SMTP}")], &smtp_log);
    let secure = ns.spawn_logged(
        "aiosmtpd",
        [
            "-n",
            "-l",
            &format!("127.0.0.1:{SMTP_STARTTLS}"),
            "--tlscert",
            &cert.to_string_lossy(),
            "--tlskey",
            &key.to_string_lossy(),
            "--no-requiretls",
        ],
        &smtp_log,
    );
    let d = dir.path().display();
    let conf = dir.file(
        "dovecot.conf",
        &format!(
            "base_dir = {d}/dovecot\nstate_dir = {d}/dovecot-state\nlog_path = {d}/dovecot.log\n\
             protocols = imap pop3\nlisten = 127.0.0.1\nssl = yes\nssl_cert = <{}\nssl_key = <{}\n\
             passdb {{\n  driver = static\n  args = nopassword\n}}\n\
             userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home=/nonexistent\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    port = {IMAP}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             service pop3-login {{\n  inet_listener pop3 {{\n    port = {POP3}\n  }}\n  inet_listener pop3s {{\n    port = 0\n  }}\n}}\n",
            cert.display(),
            key.display()
        ),
    );
    let dovecot_log = dir.path().join("dovecot-out.log");
    let dovecot = ns.spawn_logged("dovecot", ["-F", "-c", &conf.to_string_lossy()], &dovecot_log);
    let _servers = Servers(vec![plain, secure, dovecot]);
    wait_for(&ns, SMTP, &smtp_log);
    wait_for(&ns, SMTP_STARTTLS, &smtp_log);
    wait_for(&ns, IMAP, &dir.path().join("dovecot.log"));
    wait_for(&ns, POP3, &dir.path().join("dovecot.log"));

    let ca = pki.ca.display().to_string();
    let mail = |kind: &str, keys: &str| format!(" check mail {{\n  type = {kind}\n{keys}\n }}");
    let starttls = format!("  starttls = 1\n  ca_file = {ca}\n  sni = www.test");
    // Greetings.
    assert_eq!(result(&ns, &mail("smtp", ""), at(SMTP)), Ok(()));
    assert_eq!(result(&ns, &mail("imap", ""), at(IMAP)), Ok(()));
    assert_eq!(result(&ns, &mail("pop3", ""), at(POP3)), Ok(()));
    // The wrong protocol's greeting.
    assert!(matches!(
        inner(result(&ns, &mail("smtp", ""), at(POP3))),
        Failure::Greeting(_)
    ));
    assert!(matches!(
        inner(result(&ns, &mail("pop3", ""), at(IMAP))),
        Failure::Greeting(_)
    ));
    assert!(matches!(
        inner(result(&ns, &mail("imap", ""), at(SMTP))),
        Failure::Greeting(_)
    ));
    // A greeting that must say more.
    assert_eq!(
        result(&ns, &mail("imap", "  expect = \"* OK\""), at(IMAP)),
        Ok(())
    );
    assert!(matches!(
        inner(result(
            &ns,
            &mail("smtp", "  expect = \"220 mx.example\""),
            at(SMTP)
        )),
        Failure::Mismatch(_)
    ));
    // STARTTLS, verified, and its certificate's expiry.
    let upgraded = outcome(&ns, &mail("smtp", &starttls), at(SMTP_STARTTLS));
    assert_eq!(upgraded.result, Ok(()));
    assert!(upgraded.certificate_expires.is_some());
    assert_eq!(result(&ns, &mail("imap", &starttls), at(IMAP)), Ok(()));
    assert_eq!(result(&ns, &mail("pop3", &starttls), at(POP3)), Ok(()));
    // A server that offers no STARTTLS, and a name the certificate lacks.
    assert!(matches!(
        inner(result(&ns, &mail("smtp", &starttls), at(SMTP))),
        Failure::Greeting(why) if why.contains("STARTTLS")
    ));
    let wrong_name = format!("  starttls = 1\n  ca_file = {ca}\n  sni = mail.example");
    assert!(matches!(
        inner(result(&ns, &mail("imap", &wrong_name), at(IMAP))),
        Failure::Tls(_)
    ));
}

#[test]
fn ping_checks_across_namespaces() {
    if !testkit::require_root("ping_checks_across_namespaces") {
        return;
    }
    let director = Netns::new("ping-d");
    let answers = Netns::new("ping-a");
    let ignores = Netns::new("ping-i");
    for (index, (server, dev)) in [(&answers, "pa"), (&ignores, "pi")].into_iter().enumerate() {
        testkit::veth(&director, &format!("{dev}0"), server, &format!("{dev}1"));
        let net = 10 + index;
        director.ip(&[
            "addr",
            "add",
            &format!("10.77.{net}.1/24"),
            "dev",
            &format!("{dev}0"),
        ]);
        server.ip(&[
            "addr",
            "add",
            &format!("10.77.{net}.2/24"),
            "dev",
            &format!("{dev}1"),
        ]);
        director.ip(&[
            "addr",
            "add",
            &format!("fd00:77:{net}::1/64"),
            "dev",
            &format!("{dev}0"),
            "nodad",
        ]);
        server.ip(&[
            "addr",
            "add",
            &format!("fd00:77:{net}::2/64"),
            "dev",
            &format!("{dev}1"),
            "nodad",
        ]);
    }
    for sysctl in [
        "net.ipv4.icmp_echo_ignore_all=1",
        "net.ipv6.icmp.echo_ignore_all=1",
    ] {
        let out = ignores.exec("sysctl", &["-w", sysctl]);
        assert!(
            out.status.success(),
            "{sysctl}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ping = " check echo {\n  type = ping\n }";
    let target = |ip: &str| SocketAddr::new(ip.parse().expect("address"), 80);
    assert_eq!(result(&director, ping, target("10.77.10.2")), Ok(()));
    assert_eq!(result(&director, ping, target("fd00:77:10::2")), Ok(()));
    assert_eq!(
        inner(result(&director, ping, target("10.77.11.2"))),
        Failure::NoReply
    );
    assert_eq!(
        inner(result(&director, ping, target("fd00:77:11::2"))),
        Failure::NoReply
    );
    // From a given source, and from one the director does not have.
    let sourced = " check echo {\n  type = ping\n  source = 10.77.10.1\n }";
    assert_eq!(result(&director, sourced, target("10.77.10.2")), Ok(()));
    let foreign = " check echo {\n  type = ping\n  source = 10.99.0.1\n }";
    assert!(matches!(
        inner(result(&director, foreign, target("10.77.10.2"))),
        Failure::Connect(_)
    ));
}

/// Several checks on one server: all must pass, and the failing one is named.
#[test]
fn several_checks_all_must_pass() {
    let Some((ns, _dir, pki, _servers)) = web_lab("several_checks_all_must_pass") else {
        return;
    };
    let ca = pki.ca.display();
    let both = format!(
        " check page {{\n  type = http\n  port = {HTTP}\n  path = /health\n }}\n\
          check secure {{\n  type = tls\n  port = {HTTPS}\n  ca_file = {ca}\n  sni = www.test\n }}"
    );
    assert_eq!(result(&ns, &both, at(HTTPS)), Ok(()));
    let broken = both.replace("/health", "/gone");
    match result(&ns, &broken, at(HTTPS)) {
        Err(Failure::Named { check, failure }) => {
            assert_eq!(check, "page");
            assert_eq!(*failure, Failure::Status(404));
        }
        other => panic!("expected the page check to fail, got {other:?}"),
    }
    assert_eq!(
        result(&ns, &broken, at(HTTPS)).expect_err("fails").to_string(),
        "check page: HTTP status 404"
    );
}

/// Connections nginx has accepted so far (the one asking included).
fn accepted(ns: &Netns) -> u64 {
    ns.run(|| {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(at(HTTP)).expect("nginx");
        let _ = stream.write_all(b"GET /nginx-status HTTP/1.0\r\n\r\n");
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text.lines()
            .skip_while(|line| !line.contains("accepts handled requests"))
            .nth(1)
            .and_then(|line| line.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no counts in nginx's status: {text}"))
    })
}

/// `blocks`' check made `times` times in one session; each result, and the
/// connections nginx accepted meanwhile.
fn in_session(ns: &Netns, blocks: &str, target: SocketAddr, times: usize) -> (Vec<Result<(), Failure>>, u64) {
    use lvs_health::run::{run_in, Session};
    let check = planned(blocks, target);
    let before = accepted(ns);
    let results = ns.run(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut session = Session::new();
        (0..times)
            .map(|_| {
                runtime
                    .block_on(run_in(&mut session, &check, target, LIMIT))
                    .result
            })
            .collect()
    });
    // The status request that reads the count is one of those accepted.
    (results, accepted(ns) - before - 1)
}

/// A server's checks share one kept connection (and TLS session) unless
/// `reuse_connection = 0`; a connection the server closes is replaced
/// without a failed check; a failure over a kept connection is the
/// server's verdict, not a reason to retry.
#[test]
fn checks_reuse_a_kept_connection() {
    let Some((ns, _dir, pki, _servers)) = web_lab("checks_reuse_a_kept_connection") else {
        return;
    };
    let http = |keys: &str| format!(" check web {{\n  type = http\n  path = /health\n{keys}\n }}");
    let all_ok = |results: &[Result<(), Failure>]| results.iter().all(Result::is_ok);

    let (results, connections) = in_session(&ns, &http(""), at(HTTP), 5);
    assert!(all_ok(&results), "{results:?}");
    assert_eq!(connections, 1, "five checks over one connection");
    let (results, connections) = in_session(&ns, &http("  http_version = 1.1"), at(HTTP), 5);
    assert!(
        all_ok(&results) && connections == 1,
        "{results:?}, {connections} connections"
    );
    let (results, connections) = in_session(&ns, &http("  reuse_connection = 0"), at(HTTP), 5);
    assert!(all_ok(&results), "{results:?}");
    assert_eq!(connections, 5, "a connection each");

    // Renewed after its 60th check, so that accepting is checked too.
    let uses = lvs_health::http::USES_PER_CONNECTION as usize;
    let (results, connections) = in_session(&ns, &http(""), at(HTTP), uses + 1);
    assert!(all_ok(&results) && connections == 2, "{connections} connections");

    // nginx closes every connection after two requests.
    let (results, connections) = in_session(&ns, &http(""), at(HTTP_CLOSING), 6);
    assert!(all_ok(&results), "{results:?}");
    assert_eq!(connections, 3);

    // A 404 over the kept connection is a failure, once, on that connection.
    let (results, connections) = in_session(&ns, &http("  status = [ 404 ]"), at(HTTP), 3);
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(Failure::Named { failure, .. }) if **failure == Failure::Status(200))),
        "{results:?}"
    );
    assert_eq!(connections, 1);

    // HTTPS: one handshake for several checks, and the expiry each time.
    let https = format!(
        " check site {{\n  type = https\n  ca_file = {}\n  sni = www.test\n }}",
        pki.ca.display()
    );
    let (results, connections) = in_session(&ns, &https, at(HTTPS), 4);
    assert!(all_ok(&results), "{results:?}");
    assert_eq!(connections, 1);
}
