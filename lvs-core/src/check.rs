//! What a health check of one real server is: the check, what its reply must
//! look like, and why it failed. Running checks is `lvs-health`'s job; this
//! module only describes them, so that the planner can compare and carry them
//! without any IO.
//!
//! The TCP, UDP and program checks keep nanny's semantics: one write of the
//! send string, one read, a prefix match (`*` accepts any byte), or an
//! unanchored extended regular expression. Where nanny misbehaves they do
//! not: an unknown escape such as `\d` is kept as written (nanny loops
//! forever), a failing or timed-out program is a failure (nanny counts it a
//! success when an expect string is set), UDP without an expect string needs
//! any reply (nanny crashes), and a long command is fine (nanny overflows).
//! The other checks are those of lvs.cf's `check` blocks (see
//! docs/lvs.cf.md): HTTP and HTTPS, TLS handshakes, DNS, mail greetings,
//! ICMP echo, and several of them on one server ([`Check::All`]).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

pub use lvs_cf::{HttpMethod, HttpVersion, Rcode, RecordType, TlsVersion};
use regex::bytes::Regex;

/// What a reply must look like.
#[derive(Clone, Debug)]
pub enum Expect {
    /// The reply must start with these bytes (nanny reads exactly as many).
    Prefix(Vec<u8>),
    /// Any one byte will do (nanny's `expect = "*"`).
    AnyByte,
    /// An unanchored extended regular expression over up to 254 bytes.
    Regex(Regex),
}

impl Expect {
    /// Nanny's reading of an `expect` string: `*` is any byte; with
    /// `use_regex` a regular expression; else a prefix. Escapes are
    /// translated first (see [`translate_escapes`]) unless `raw`.
    pub fn from_nanny(expect: &str, use_regex: bool, raw: bool) -> Result<Expect, regex::Error> {
        let bytes = if raw {
            expect.as_bytes().to_vec()
        } else {
            translate_escapes(expect)
        };
        if bytes == b"*" {
            Ok(Expect::AnyByte)
        } else if use_regex {
            Ok(Expect::Regex(Regex::new(&String::from_utf8_lossy(&bytes))?))
        } else {
            Ok(Expect::Prefix(bytes))
        }
    }

    /// How many bytes the one read asks for.
    pub fn read_size(&self) -> usize {
        match self {
            Expect::Prefix(prefix) => prefix.len().max(1),
            Expect::AnyByte => 1,
            Expect::Regex(_) => 254,
        }
    }

    /// Whether `reply` (one read) is what is expected.
    pub fn matches(&self, reply: &[u8]) -> Result<(), Failure> {
        match self {
            Expect::AnyByte if !reply.is_empty() => Ok(()),
            Expect::Prefix(prefix) if reply.len() < prefix.len() => Err(Failure::ShortRead {
                got: reply.len(),
                wanted: prefix.len(),
            }),
            Expect::Prefix(prefix) if reply.starts_with(prefix) => Ok(()),
            Expect::Regex(re) if re.is_match(reply) => Ok(()),
            _ => Err(Failure::Mismatch(String::from_utf8_lossy(reply).into_owned())),
        }
    }
}

impl PartialEq for Expect {
    /// Regular expressions are equal when written the same.
    fn eq(&self, other: &Expect) -> bool {
        match (self, other) {
            (Expect::Prefix(a), Expect::Prefix(b)) => a == b,
            (Expect::AnyByte, Expect::AnyByte) => true,
            (Expect::Regex(a), Expect::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

/// Nanny's escape translation of `send` and `expect`: `\r \n \t \\ \' \"`.
/// Any other backslash sequence (`\d`, `\.`) is kept as written, so regular
/// expressions keep their escapes.
pub fn translate_escapes(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes().peekable();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.peek() {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'\'') => out.push(b'\''),
            Some(b'"') => out.push(b'"'),
            _ => {
                out.push(b'\\');
                continue;
            }
        }
        bytes.next();
    }
    out
}

/// nanny's check when neither a send nor an expect string is given, on TCP
/// port 80: `GET / HTTP/1.0`, expecting a reply that starts `HTTP`. `None`
/// elsewhere (a plain connect, or any UDP reply). Piranha's rule, for the
/// director's checks and the `nanny` program alike.
pub fn web_default(port: u16, udp: bool) -> Option<(Vec<u8>, Expect)> {
    (port == 80 && !udp).then(|| {
        (
            b"GET / HTTP/1.0\r\n\r\n".to_vec(),
            Expect::Prefix(b"HTTP".to_vec()),
        )
    })
}

/// A check of one real server.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Check {
    /// Connect, and with `send`/`expect`, write once and read once.
    Tcp {
        /// Written once after connecting.
        send: Option<Vec<u8>>,
        /// What the one read must look like; none: connecting is enough.
        expect: Option<Expect>,
    },
    /// Send a datagram (the send string, or an empty one) and require a reply.
    Udp {
        /// The datagram sent (empty when none).
        send: Option<Vec<u8>>,
        /// What the reply must look like; none: any reply.
        expect: Option<Expect>,
    },
    /// Run a program; `%h` and `%p` tokens become the address and port. Up
    /// when it exits 0 and, with `expect`, prints exactly that (one trailing
    /// newline aside).
    Program {
        /// The command line, split on single spaces.
        command: String,
        /// Its exact output, when it must print something.
        expect: Option<String>,
        /// The exit status sets the weight, as keepalived's `misc_dynamic`:
        /// 0 up, 1 down, 2 to 255 up at weight status - 2.
        dynamic: bool,
    },
    /// A file's content decides: `up`, `down`, or a number that is the
    /// server's weight. A file that cannot be read is a failure.
    File {
        /// The file.
        path: PathBuf,
    },
    /// An HTTP request, over TLS when [`HttpCheck::tls`] says so.
    Http(Box<HttpCheck>),
    /// A TLS handshake: up when it completes (and, when verifying, the
    /// certificate is valid for the name).
    Tls(TlsCheck),
    /// A DNS query.
    Dns(DnsCheck),
    /// A mail server's greeting, optionally followed by STARTTLS.
    Mail(MailCheck),
    /// An ICMP or ICMPv6 echo request and its reply.
    Ping,
    /// Several checks, every one of which must pass: a server's `check`
    /// blocks. They run one after the other; the first failure decides.
    All(Vec<Probe>),
}

impl Check {
    /// The kind of check in one word (`tcp`, `http`, `https`, `dns`...): the
    /// `kind` label of the check metrics. Several checks of a server are
    /// `several`.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Tcp { .. } => "tcp",
            Check::Udp { .. } => "udp",
            Check::Program { .. } => "program",
            Check::File { .. } => "file",
            Check::Http(http) if http.tls.is_some() => "https",
            Check::Http(_) => "http",
            Check::Tls(_) => "tls",
            Check::Dns(_) => "dns",
            Check::Mail(_) => "mail",
            Check::Ping => "ping",
            Check::All(_) => "several",
        }
    }

    /// The TLS settings this check uses, if it speaks TLS.
    pub fn tls(&self) -> Option<&TlsCheck> {
        match self {
            Check::Http(http) => http.tls.as_ref(),
            Check::Tls(tls) => Some(tls),
            Check::Mail(mail) => mail.starttls.as_ref(),
            _ => None,
        }
    }
}

/// One check of a server as a `check` block gives it: what is checked, and
/// where, from where, for how long, when not the server's own.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Probe {
    /// The block's name, named in the failure.
    pub name: String,
    /// What is checked.
    pub check: Check,
    /// Where to connect instead of the server's address.
    pub address: Option<IpAddr>,
    /// Where to connect instead of the server's port.
    pub port: Option<u16>,
    /// The local address to connect from.
    pub source: Option<IpAddr>,
    /// Bounds each step instead of the service's timeout.
    pub timeout: Option<Duration>,
}

impl Probe {
    /// A probe of `check` named `name`, at the server's own address and port.
    pub fn new(name: impl Into<String>, check: Check) -> Probe {
        Probe {
            name: name.into(),
            check,
            address: None,
            port: None,
            source: None,
            timeout: None,
        }
    }

    /// Where this probe connects for a server at `server`.
    pub fn target(&self, server: SocketAddr) -> SocketAddr {
        SocketAddr::new(
            self.address.unwrap_or(server.ip()),
            self.port.unwrap_or(server.port()),
        )
    }
}

/// An HTTP or HTTPS check: keepalived's `HTTP_GET` and `SSL_GET`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HttpCheck {
    /// `GET` or `HEAD`.
    pub method: HttpMethod,
    /// The path asked for.
    pub path: String,
    /// The `Host` header (default: the server's address and port).
    pub host: Option<String>,
    /// Accepted status codes (none given: 200 to 299).
    pub status: Vec<RangeInclusive<u16>>,
    /// What the body must match.
    pub body: Option<Regex>,
    /// The MD5 the body must have.
    pub digest: Option<[u8; 16]>,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: HttpVersion,
    /// TLS settings for HTTPS; `None` is plain HTTP.
    pub tls: Option<TlsCheck>,
    /// Checks go over one kept connection (and TLS session), renewed now
    /// and then and whenever it fails, rather than a connection each.
    pub reuse_connection: bool,
}

impl HttpCheck {
    /// `GET path` over HTTP/1.0, any 2xx status accepted.
    pub fn get(path: impl Into<String>) -> HttpCheck {
        HttpCheck {
            method: HttpMethod::Get,
            path: path.into(),
            host: None,
            status: Vec::new(),
            body: None,
            digest: None,
            version: HttpVersion::Http10,
            tls: None,
            reuse_connection: false,
        }
    }

    /// Whether the status `code` is accepted: one of those given, else 200 to 299.
    pub fn accepts(&self, code: u16) -> bool {
        if self.status.is_empty() {
            (200..=299).contains(&code)
        } else {
            self.status.iter().any(|range| range.contains(&code))
        }
    }
}

impl PartialEq for HttpCheck {
    fn eq(&self, other: &HttpCheck) -> bool {
        self.method == other.method
            && self.path == other.path
            && self.host == other.host
            && self.status == other.status
            && self.body.as_ref().map(Regex::as_str) == other.body.as_ref().map(Regex::as_str)
            && self.digest == other.digest
            && self.version == other.version
            && self.tls == other.tls
            && self.reuse_connection == other.reuse_connection
    }
}

/// How a check speaks TLS.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TlsCheck {
    /// The name sent as SNI and verified (default: the HTTP `Host`, else the
    /// server's address).
    pub sni: Option<String>,
    /// Whether the certificate must be valid for the name.
    pub verify: bool,
    /// PEM certificates to verify against (default: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// A PEM certificate chain and its key, presented to the server.
    pub client: Option<(PathBuf, PathBuf)>,
    /// The oldest version accepted.
    pub min_version: TlsVersion,
}

impl Default for TlsCheck {
    /// Verified against the system's roots, TLS 1.2 or later.
    fn default() -> TlsCheck {
        TlsCheck {
            sni: None,
            verify: true,
            ca_file: None,
            client: None,
            min_version: TlsVersion::Tls12,
        }
    }
}

/// A DNS query and what its answer must be.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DnsCheck {
    /// The name asked for.
    pub name: String,
    /// The record type asked for.
    pub record: RecordType,
    /// Over TCP instead of UDP.
    pub tcp: bool,
    /// The response code expected.
    pub rcode: Rcode,
    /// A value one answer record must have.
    pub answer: Option<String>,
}

impl DnsCheck {
    /// A query for `name`'s `record`, over UDP, expecting NOERROR.
    pub fn new(name: impl Into<String>, record: RecordType) -> DnsCheck {
        DnsCheck {
            name: name.into(),
            record,
            tcp: false,
            rcode: Rcode::NoError,
            answer: None,
        }
    }
}

/// A mail protocol whose server greets first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MailProtocol {
    /// `220`, then `EHLO`, `STARTTLS`.
    Smtp,
    /// `* OK`, then `a STARTTLS`.
    Imap,
    /// `+OK`, then `STLS`.
    Pop3,
}

/// A mail server's greeting, and optionally the upgrade to TLS.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct MailCheck {
    /// Which protocol.
    pub protocol: MailProtocol,
    /// What the greeting must look like, beyond the protocol's own OK.
    pub expect: Option<Expect>,
    /// Upgrade to TLS after the greeting, and complete the handshake.
    pub starttls: Option<TlsCheck>,
}

impl MailCheck {
    /// The greeting of `protocol`, without STARTTLS.
    pub fn greeting(protocol: MailProtocol) -> MailCheck {
        MailCheck {
            protocol,
            expect: None,
            starttls: None,
        }
    }
}

/// Why a check failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// No connection within the timeout.
    ConnectTimeout,
    /// The connection was refused or failed.
    Connect(String),
    /// The send string could not be written.
    Send(String),
    /// No reply within the timeout.
    ReadTimeout,
    /// Reading the reply failed.
    Read(String),
    /// The reply was shorter than the expected prefix.
    ShortRead {
        /// Bytes read.
        got: usize,
        /// Bytes expected.
        wanted: usize,
    },
    /// The reply was not the one expected.
    Mismatch(String),
    /// No datagram came back.
    NoReply,
    /// The check program could not run, failed or printed the wrong thing.
    Program(String),
    /// The check program ran out of time and was killed.
    ProgramTimeout,
    /// An HTTP status outside the accepted ones.
    Status(u16),
    /// The answer was not HTTP.
    BadResponse(String),
    /// The body's MD5 was not the one expected.
    Digest(String),
    /// The TLS handshake failed, or the certificate was refused.
    Tls(String),
    /// The TLS settings could not be used (a file that does not read or parse).
    TlsSetup(String),
    /// The DNS answer was not the one expected.
    Dns(String),
    /// The mail server's greeting or reply was not the one expected.
    Greeting(String),
    /// A file check's file says down, or cannot be read or understood.
    File(String),
    /// One of several checks failed.
    Named {
        /// The check block's name.
        check: String,
        /// Why it failed.
        failure: Box<Failure>,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::ConnectTimeout => f.write_str("connect timed out"),
            Failure::Connect(e) => write!(f, "connect failed: {e}"),
            Failure::Send(e) => write!(f, "send failed: {e}"),
            Failure::ReadTimeout => f.write_str("read timed out"),
            Failure::Read(e) => write!(f, "read failed: {e}"),
            Failure::ShortRead { got, wanted } => write!(f, "read was too short ({got} of {wanted} bytes)"),
            Failure::Mismatch(reply) => write!(f, "unexpected reply {reply:?}"),
            Failure::NoReply => f.write_str("no reply"),
            Failure::Program(why) => write!(f, "check program failed: {why}"),
            Failure::ProgramTimeout => f.write_str("check program timed out and was killed"),
            Failure::Status(code) => write!(f, "HTTP status {code}"),
            Failure::BadResponse(why) => write!(f, "bad HTTP response: {why}"),
            Failure::Digest(got) => write!(f, "the body's MD5 is {got}, not the one expected"),
            Failure::Tls(why) => write!(f, "TLS failed: {why}"),
            Failure::TlsSetup(why) => write!(f, "TLS settings unusable: {why}"),
            Failure::Dns(why) => write!(f, "DNS answer: {why}"),
            Failure::Greeting(why) => write!(f, "unexpected greeting: {why}"),
            Failure::File(why) => write!(f, "state file: {why}"),
            Failure::Named { check, failure } => write!(f, "check {check}: {failure}"),
        }
    }
}

/// Nanny splits the command on single spaces and replaces tokens that are
/// exactly `%h` or `%p`.
pub fn program_argv(command: &str, target: SocketAddr) -> Vec<String> {
    command
        .split(' ')
        .filter(|token| !token.is_empty())
        .map(|token| match token {
            "%h" => target.ip().to_string(),
            "%p" => target.port().to_string(),
            other => other.to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            translate_escapes(r"GET / HTTP/1.0\r\n\r\n"),
            b"GET / HTTP/1.0\r\n\r\n"
        );
        assert_eq!(translate_escapes(r#"\t\\\'\""#), b"\t\\'\"");
        // Unknown escapes stay as written: nanny loops forever on these.
        assert_eq!(translate_escapes(r"HTTP/1\.[01] \d+"), br"HTTP/1\.[01] \d+");
        assert_eq!(translate_escapes(r"trailing\"), br"trailing\");
    }

    #[test]
    fn expect_strings() {
        assert!(matches!(
            Expect::from_nanny("*", false, false),
            Ok(Expect::AnyByte)
        ));
        let prefix = Expect::from_nanny("HTTP", false, false).expect("prefix");
        assert_eq!(prefix.matches(b"HTTP/1.1 200 OK"), Ok(()));
        assert_eq!(
            prefix.matches(b"HT"),
            Err(Failure::ShortRead { got: 2, wanted: 4 })
        );
        assert!(prefix.matches(b"SMTP").is_err());
        let re = Expect::from_nanny(r"200 (OK|Fine)\r", true, false).expect("regex");
        assert_eq!(re.matches(b"HTTP/1.0 200 OK\r\n"), Ok(()));
        assert!(re.matches(b"HTTP/1.0 500 Oops\r\n").is_err());
        let digits = Expect::from_nanny(r"HTTP/1\.[01] \d+", true, false).expect("regex with escapes");
        assert_eq!(digits.matches(b"HTTP/1.1 204"), Ok(()));
        assert!(Expect::from_nanny("(", true, false).is_err());
    }

    #[test]
    fn program_arguments() {
        let target: SocketAddr = "10.0.0.5:8080".parse().expect("literal");
        assert_eq!(
            program_argv("/bin/check -h %h -p %p x%h", target),
            ["/bin/check", "-h", "10.0.0.5", "-p", "8080", "x%h"]
        );
        let long = format!("/bin/echo {}", "x".repeat(1000));
        assert_eq!(program_argv(&long, target).len(), 2, "no 255-byte limit");
    }
}
