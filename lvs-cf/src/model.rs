//! The typed model of an lvs.cf file.
//!
//! Fields hold what the file says, with Piranha's defaults for what it does not
//! say; derived values that Piranha computes at run time (the private heartbeat
//! addresses, a server's effective port) are methods, so that writing a model
//! back gives the same file.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde::{Serialize, Serializer};

/// An address given as an IP literal or as a host name.
///
/// Piranha resolves host names while parsing; this crate keeps the name so that
/// parsing never depends on DNS and writing the model back keeps the name.
/// Consumers resolve names when they need an address (see [`Host::resolve`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Host {
    /// An IP address as written.
    Ip(IpAddr),
    /// A host name, resolved by the daemons.
    Name(String),
}

impl Host {
    /// The host written `text`: an IP address when it is one, else a name
    /// (lvs.cf's own reading of a host value; names are checked by
    /// validation, not here).
    pub fn from_written(text: &str) -> Host {
        text.parse()
            .map_or_else(|_| Host::Name(text.to_owned()), Host::Ip)
    }

    /// The IP literal, if the host was written as one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Ip(ip) => Some(*ip),
            Host::Name(_) => None,
        }
    }

    /// True for `0.0.0.0` and `::`, which Piranha treats as "not set".
    pub fn is_unspecified(&self) -> bool {
        matches!(self, Host::Ip(ip) if ip.is_unspecified())
    }

    /// The address: the literal itself, or the first address the system
    /// resolver returns for the name (IPv4 first, as `gethostbyname` did).
    pub fn resolve(&self) -> std::io::Result<IpAddr> {
        use std::net::ToSocketAddrs;
        match self {
            Host::Ip(ip) => Ok(*ip),
            Host::Name(name) => {
                let addrs: Vec<IpAddr> = (name.as_str(), 0).to_socket_addrs()?.map(|a| a.ip()).collect();
                addrs
                    .iter()
                    .find(|a| a.is_ipv4())
                    .or_else(|| addrs.first())
                    .copied()
                    .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))
            }
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        Host::Ip(ip)
    }
}

/// An address brought up on a device, as in `address = 192.0.2.1 eth0:1` and
/// `nat_router = 10.0.0.254 eth1:1`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct AddressOnDevice {
    /// The address.
    pub host: Host,
    /// The device; an alias such as `eth0:1` names an address label.
    pub device: String,
}

/// A netmask: dotted as Piranha writes it, or `/N` (an lvs-rs extension, and
/// the only form that fits IPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Netmask {
    /// `255.255.255.0`.
    Dotted(Ipv4Addr),
    /// `/24` or `24`.
    Prefix(u8),
}

impl Netmask {
    /// The prefix length if the mask is contiguous, as a dotted mask must be.
    pub fn prefix_len(&self) -> Option<u8> {
        match *self {
            Netmask::Prefix(len) => Some(len),
            Netmask::Dotted(mask) => {
                let bits = u32::from(mask);
                let ones = bits.leading_ones();
                (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
            }
        }
    }
}

impl fmt::Display for Netmask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Netmask::Dotted(mask) => write!(f, "{mask}"),
            Netmask::Prefix(len) => write!(f, "/{len}"),
        }
    }
}

/// A time in seconds. Piranha reads whole seconds; lvs-rs also reads
/// fractions (`keepalive = 0.1`) for `keepalive`, `deadtime` and `timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Seconds(pub Duration);

impl Seconds {
    /// Whole seconds.
    pub const fn whole(secs: u64) -> Self {
        Seconds(Duration::from_secs(secs))
    }

    /// As a `Duration`.
    pub fn as_duration(&self) -> Duration {
        self.0
    }

    /// True when the value has no fractional part (and so is valid for Piranha).
    pub fn is_whole(&self) -> bool {
        self.0.subsec_nanos() == 0
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.subsec_nanos();
        if nanos == 0 {
            write!(f, "{}", self.0.as_secs())
        } else {
            let fraction = format!("{nanos:09}");
            write!(f, "{}.{}", self.0.as_secs(), fraction.trim_end_matches('0'))
        }
    }
}

impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.is_whole() {
            serializer.serialize_u64(self.0.as_secs())
        } else {
            serializer.serialize_f64(self.0.as_secs_f64())
        }
    }
}

/// How a string value was quoted in the file.
///
/// Piranha stores `send`, `expect`, `send_program`, `start_cmd` and `stop_cmd`
/// re-wrapped in their quote character, and lvsd later strips only double
/// quotes, so the quote is part of the value's meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quote {
    #[default]
    /// Written bare.
    None,
    /// In double quotes.
    Double,
    /// In single quotes.
    Single,
}

impl Quote {
    /// The quote character, if any.
    pub fn char(self) -> Option<char> {
        match self {
            Quote::None => None,
            Quote::Double => Some('"'),
            Quote::Single => Some('\''),
        }
    }
}

/// A string value together with the quote it was written in.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Text {
    /// The characters between the quotes, verbatim: no escape is processed.
    pub value: String,
    /// How it was quoted.
    pub quote: Quote,
}

impl Text {
    /// A value written in double quotes, the GUI's style.
    pub fn quoted(value: impl Into<String>) -> Self {
        Text {
            value: value.into(),
            quote: Quote::Double,
        }
    }

    /// A value written without quotes.
    pub fn bare(value: impl Into<String>) -> Self {
        Text {
            value: value.into(),
            quote: Quote::None,
        }
    }

    /// The value as Piranha's parser stores it: re-wrapped in its quote.
    pub fn piranha_value(&self) -> String {
        match self.quote.char() {
            Some(q) => format!("{q}{}{q}", self.value),
            None => self.value.clone(),
        }
    }
}

/// `service = lvs | fos`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceType {
    #[default]
    /// LVS routing (the one lvs-rs runs).
    Lvs,
    /// Piranha's failover services (read, not run).
    Fos,
}

/// `network = direct | nat | tunnel`: the forwarding method of every real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// Direct routing.
    Direct,
    #[default]
    /// NAT.
    Nat,
    /// IP tunnelling.
    Tunnel,
}

/// `tunnel_type = ipip | gue | gre` (an lvs-rs extension): how packets to a
/// tunnelled real server are wrapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TunnelType {
    #[default]
    /// IP in IP (Piranha's `network = tunnel`).
    Ipip,
    /// Generic UDP encapsulation, to `tunnel_port` (Linux 5.2 and later).
    Gue,
    /// Generic routing encapsulation (Linux 5.3 and later).
    Gre,
}

/// `tunnel_checksum = none | checksum | remote` (an lvs-rs extension): the
/// checksum of a GUE or GRE tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TunnelChecksum {
    #[default]
    /// No checksum.
    None,
    /// A checksum of the outer header.
    Checksum,
    /// Remote checksum offload (GUE only).
    Remote,
}

/// An entry of `scheduler_flags = [ ... ]` (an lvs-rs extension): the
/// scheduler flags of `sh` and `mh`, named as ipvsadm's `-b` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerFlag {
    /// `sh`: a server that is overloaded or at weight 0 passes its share on.
    ShFallback,
    /// `sh`: the source port joins the hash.
    ShPort,
    /// `mh`: a server that is overloaded or at weight 0 passes its share on.
    MhFallback,
    /// `mh`: the source port joins the hash.
    MhPort,
}

impl SchedulerFlag {
    /// The scheduler that reads the flag.
    pub fn scheduler(self) -> Scheduler {
        match self {
            SchedulerFlag::ShFallback | SchedulerFlag::ShPort => Scheduler::Sh,
            SchedulerFlag::MhFallback | SchedulerFlag::MhPort => Scheduler::Mh,
        }
    }

    /// Whether it is the fallback flag (the kernel's first scheduler flag;
    /// the port flag is the second).
    pub fn is_fallback(self) -> bool {
        matches!(self, SchedulerFlag::ShFallback | SchedulerFlag::MhFallback)
    }
}

/// `persistence_engine = sip` (an lvs-rs extension): persistence by
/// something other than the client's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PersistenceEngine {
    /// By SIP Call-ID (the kernel's `ip_vs_pe_sip`).
    Sip,
}

/// `quorum_action` (an lvs-rs extension): what a service does while its
/// healthy servers' total weight is below its `quorum`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuorumAction {
    /// New connections go to the sorry server; the real servers are kept
    /// at weight 0 for theirs.
    Sorry,
    /// The VIP is taken off this router (once every service on it has
    /// lost its quorum), and put back when one regains it.
    Withdraw,
    /// Nothing changes but the event (for the `notify` program).
    Notify,
}

/// `protocol = tcp | udp` (`sctp` is an lvs-rs extension).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    #[default]
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP (an lvs-rs extension).
    Sctp,
}

/// The IPVS scheduler of a virtual service. Piranha knows the first eight;
/// the others are lvs-rs extensions for schedulers later kernels added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheduler {
    /// Round robin.
    Rr,
    /// Weighted round robin.
    Wrr,
    /// Least connections.
    Lc,
    #[default]
    /// Weighted least connections (Piranha's default).
    Wlc,
    /// Locality-based least connections.
    Lblc,
    /// Locality-based least connections with replication.
    Lblcr,
    /// Destination hashing.
    Dh,
    /// Source hashing.
    Sh,
    /// Shortest expected delay.
    Sed,
    /// Never queue.
    Nq,
    /// Weighted failover.
    Fo,
    /// Weighted overflow.
    Ovf,
    /// Maglev hashing.
    Mh,
    /// Weighted random twos choice.
    Twos,
}

/// `reservation_conflict_action = nothing | preempt` (FOS shared SCSI only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictAction {
    /// Leave the reservation alone.
    Nothing,
    /// Take the reservation over.
    Preempt,
}

macro_rules! keyword_enum {
    ($ty:ty { $($variant:ident = $word:literal $(extension $ext:literal)?),* $(,)? }) => {
        impl $ty {
            /// Every value with its keyword and whether it is an lvs-rs extension.
            pub const ALL: &'static [($ty, &'static str, bool)] =
                &[$((<$ty>::$variant, $word, false $(|| $ext)?)),*];

            /// Every keyword, in the order of [`Self::ALL`].
            pub const KEYWORDS: &'static [&'static str] = &[$($word),*];

            /// The keyword as written in lvs.cf.
            pub fn keyword(self) -> &'static str {
                match self { $(<$ty>::$variant => $word),* }
            }

            /// True for values Piranha 0.8.6 does not accept.
            pub fn is_extension(self) -> bool {
                match self { $(<$ty>::$variant => false $(|| $ext)?),* }
            }

            /// The value written `word`, if it is one.
            pub fn from_keyword(word: &str) -> Option<Self> {
                match word { $($word => Some(<$ty>::$variant),)* _ => None }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.keyword())
            }
        }
    };
}

keyword_enum!(ServiceType { Lvs = "lvs", Fos = "fos" });
keyword_enum!(Network { Direct = "direct", Nat = "nat", Tunnel = "tunnel" });
keyword_enum!(TunnelType { Ipip = "ipip", Gue = "gue", Gre = "gre" });
keyword_enum!(TunnelChecksum {
    None = "none",
    Checksum = "checksum",
    Remote = "remote",
});
keyword_enum!(SchedulerFlag {
    ShFallback = "sh-fallback",
    ShPort = "sh-port",
    MhFallback = "mh-fallback",
    MhPort = "mh-port",
});
keyword_enum!(PersistenceEngine { Sip = "sip" });
keyword_enum!(QuorumAction {
    Sorry = "sorry",
    Withdraw = "withdraw",
    Notify = "notify",
});
keyword_enum!(Protocol { Tcp = "tcp", Udp = "udp", Sctp = "sctp" extension true });
keyword_enum!(Scheduler {
    Rr = "rr",
    Wrr = "wrr",
    Lc = "lc",
    Wlc = "wlc",
    Lblc = "lblc",
    Lblcr = "lblcr",
    Dh = "dh",
    Sh = "sh",
    Sed = "sed" extension true,
    Nq = "nq" extension true,
    Fo = "fo" extension true,
    Ovf = "ovf" extension true,
    Mh = "mh" extension true,
    Twos = "twos" extension true,
});
keyword_enum!(ConflictAction { Nothing = "nothing", Preempt = "preempt" });
keyword_enum!(CheckType {
    Tcp = "tcp",
    Udp = "udp",
    Http = "http",
    Https = "https",
    Tls = "tls",
    Dns = "dns",
    Smtp = "smtp",
    Imap = "imap",
    Pop3 = "pop3",
    Ping = "ping",
    Program = "program",
    File = "file",
});
keyword_enum!(HttpMethod { Get = "GET", Head = "HEAD" });
keyword_enum!(HttpVersion { Http10 = "1.0", Http11 = "1.1" });
keyword_enum!(TlsVersion { Tls12 = "1.2", Tls13 = "1.3" });
keyword_enum!(DnsTransport { Udp = "udp", Tcp = "tcp" });
keyword_enum!(RecordType {
    A = "A",
    Aaaa = "AAAA",
    Cname = "CNAME",
    Mx = "MX",
    Ns = "NS",
    Ptr = "PTR",
    Soa = "SOA",
    Srv = "SRV",
    Txt = "TXT",
    Caa = "CAA",
});
keyword_enum!(Rcode {
    NoError = "NOERROR",
    FormErr = "FORMERR",
    ServFail = "SERVFAIL",
    NxDomain = "NXDOMAIN",
    NotImp = "NOTIMP",
    Refused = "REFUSED",
});

/// The kind of a `check` block (`type = ...`): which protocol it speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckType {
    #[default]
    /// Connect; with `send`/`expect`, write once and read once.
    Tcp,
    /// A datagram and its reply.
    Udp,
    /// An HTTP request and its status, body or digest.
    Http,
    /// HTTP over TLS.
    Https,
    /// A TLS handshake, the certificate's expiry reported.
    Tls,
    /// A DNS query and its answer.
    Dns,
    /// An SMTP greeting (and `EHLO`, `STARTTLS` with `starttls = 1`).
    Smtp,
    /// An IMAP greeting (and `STARTTLS`).
    Imap,
    /// A POP3 greeting (and `STLS`).
    Pop3,
    /// An ICMP (or ICMPv6) echo.
    Ping,
    /// A program's exit status and output.
    Program,
    /// A file's content: `up`, `down` or a weight.
    File,
}

impl CheckType {
    /// Whether checks of this type speak TLS from the first byte.
    pub fn is_tls(self) -> bool {
        matches!(self, CheckType::Https | CheckType::Tls)
    }

    /// Whether this is a mail protocol with a greeting.
    pub fn is_mail(self) -> bool {
        matches!(self, CheckType::Smtp | CheckType::Imap | CheckType::Pop3)
    }
}

/// `method = GET | HEAD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
pub enum HttpMethod {
    #[default]
    /// `GET`: the body can be matched.
    Get,
    /// `HEAD`: the status only.
    Head,
}

/// `http_version = 1.0 | 1.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
pub enum HttpVersion {
    #[default]
    /// HTTP/1.0 (keepalived's default).
    Http10,
    /// HTTP/1.1.
    Http11,
}

/// `tls_min = 1.2 | 1.3`: the oldest TLS version a check accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
pub enum TlsVersion {
    #[default]
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// `transport = udp | tcp` of a DNS check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsTransport {
    #[default]
    /// One datagram each way.
    Udp,
    /// A TCP connection, the message length first.
    Tcp,
}

/// `record = ...`: the record type a DNS check asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
pub enum RecordType {
    #[default]
    /// An IPv4 address.
    A,
    /// An IPv6 address.
    Aaaa,
    /// An alias.
    Cname,
    /// A mail exchanger.
    Mx,
    /// A name server.
    Ns,
    /// A pointer (reverse lookups).
    Ptr,
    /// The zone's start of authority.
    Soa,
    /// A service location.
    Srv,
    /// Text.
    Txt,
    /// Certification authority authorization.
    Caa,
}

/// `rcode = ...`: the response code a DNS check expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
pub enum Rcode {
    #[default]
    /// No error.
    NoError,
    /// The server could not read the query.
    FormErr,
    /// The server failed.
    ServFail,
    /// The name does not exist.
    NxDomain,
    /// Not implemented.
    NotImp,
    /// Refused.
    Refused,
}

/// Bytes a check sends or expects: quoted text with nanny's escapes, or
/// hexadecimal (`send_hex`, `expect_hex`) for binary protocols.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// `send = "..."`: text, nanny's escapes (`\r \n \t`) translated.
    Text(Text),
    /// `send_hex = 0a1b...`: the bytes themselves.
    Hex(Vec<u8>),
}

/// An inclusive range of HTTP status codes (`200`, `300-399`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct StatusRange {
    /// The lowest code accepted.
    pub low: u16,
    /// The highest code accepted.
    pub high: u16,
}

impl fmt::Display for StatusRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}

/// A `check NAME { }` block, an lvs-rs extension: one health check. In a
/// virtual block it checks every server of the service; in a server block,
/// that server alone, and a server with check blocks of its own is checked
/// by those instead of the service's. Every check of a server must pass.
/// Without any check block, a service's servers get Piranha's check
/// (`send`, `expect`, `send_program`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct CheckBlock {
    /// The block's name, shown in status when the check fails.
    pub name: String,
    /// `type`: which protocol.
    pub kind: CheckType,
    /// `address`: where to connect, when not the server's address.
    pub address: Option<IpAddr>,
    /// `port`: where to connect, when not the server's port.
    pub port: Option<u16>,
    /// `source`: the local address to connect from.
    pub source: Option<IpAddr>,
    /// `timeout`: bounds the check, when not the service's `timeout`.
    pub timeout: Option<Seconds>,
    /// `send` or `send_hex` (tcp, udp).
    pub send: Option<Payload>,
    /// `expect` or `expect_hex` (tcp, udp, and mail greetings).
    pub expect: Option<Payload>,
    /// `use_regex`: `expect` is an extended regular expression.
    pub use_regex: bool,
    /// `method` (http, https).
    pub method: HttpMethod,
    /// `path` (http, https): what is asked for; `/` when not set.
    pub path: Option<String>,
    /// `host` (http, https): the `Host` header; the server's address when not set.
    pub host: Option<String>,
    /// `status` (http, https): accepted codes; 200 to 299 when empty.
    pub status: Vec<StatusRange>,
    /// `body` (http, https): a regular expression the body must match.
    pub body: Option<String>,
    /// `digest` (http, https): the MD5 of the body in hex, as keepalived's
    /// `genhash` prints it.
    pub digest: Option<[u8; 16]>,
    /// `http_version` (http, https).
    pub http_version: HttpVersion,
    /// `reuse_connection` (http, https): checks go over one kept connection
    /// (and one TLS session), opened afresh now and then and whenever it
    /// fails, instead of a connection each.
    pub reuse_connection: bool,
    /// `sni` (TLS): the name sent and verified; the `host`, else the
    /// server's address, when not set.
    pub sni: Option<String>,
    /// `verify` (TLS): whether the certificate must be valid for the name.
    pub verify: bool,
    /// `ca_file` (TLS): PEM certificates to verify against, instead of the
    /// system's roots.
    pub ca_file: Option<String>,
    /// `client_cert` (TLS): a PEM certificate chain to present.
    pub client_cert: Option<String>,
    /// `client_key` (TLS): the PEM key of `client_cert`.
    pub client_key: Option<String>,
    /// `tls_min` (TLS): the oldest version accepted.
    pub tls_min: TlsVersion,
    /// `starttls` (smtp, imap, pop3): upgrade to TLS after the greeting.
    pub starttls: bool,
    /// `query` (dns): the name asked for.
    pub query: Option<String>,
    /// `record` (dns): the record type asked for.
    pub record: RecordType,
    /// `transport` (dns).
    pub transport: DnsTransport,
    /// `rcode` (dns): the response code expected.
    pub rcode: Rcode,
    /// `answer` (dns): a value one answer record must have (an address for
    /// `A` and `AAAA`, a name or text otherwise).
    pub answer: Option<String>,
    /// `command` (program): `%h` and `%p` become the address and port.
    pub command: Option<String>,
    /// `dynamic` (program): the exit status sets the weight, as keepalived's
    /// `misc_dynamic`: 0 up, 1 down, 2 to 255 up at weight status - 2.
    pub dynamic: bool,
    /// `file` (file): the file whose content says `up`, `down` or a weight.
    pub file: Option<String>,
}

impl CheckBlock {
    /// A block with lvs-rs's defaults: a TCP connect.
    pub fn new(name: impl Into<String>) -> Self {
        CheckBlock {
            name: name.into(),
            kind: CheckType::Tcp,
            address: None,
            port: None,
            source: None,
            timeout: None,
            send: None,
            expect: None,
            use_regex: false,
            method: HttpMethod::Get,
            path: None,
            host: None,
            status: Vec::new(),
            body: None,
            digest: None,
            http_version: HttpVersion::Http10,
            reuse_connection: true,
            sni: None,
            verify: true,
            ca_file: None,
            client_cert: None,
            client_key: None,
            tls_min: TlsVersion::Tls12,
            starttls: false,
            query: None,
            record: RecordType::A,
            transport: DnsTransport::Udp,
            rcode: Rcode::NoError,
            answer: None,
            command: None,
            dynamic: false,
            file: None,
        }
    }
}

/// The IPVS sysctls of the router (`/proc/sys/net/ipv4/vs/`) that decide
/// what happens to connections whose server went (all lvs-rs extensions):
/// the lvs daemon sets those given at start and on reload, and puts the
/// values it found back when it stops. `None` leaves the kernel's value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct IpvsSysctls {
    /// `expire_nodest_conn`: drop a removed server's connections at their
    /// next packet instead of letting them time out.
    pub expire_nodest_conn: Option<bool>,
    /// `expire_quiescent_template`: a persistence template whose server is
    /// at weight 0 expires, so that its clients go elsewhere.
    pub expire_quiescent_template: Option<bool>,
    /// `conn_reuse_mode`: how a reused client port is treated (0 to 3; the
    /// kernel's default, 1, reschedules when it is safe to).
    pub conn_reuse_mode: Option<u8>,
    /// `sloppy_tcp`: a connection may start at any TCP packet, not only a
    /// SYN (a director taking over connections another one began).
    pub sloppy_tcp: Option<bool>,
}

impl IpvsSysctls {
    /// The largest `conn_reuse_mode` (two bits).
    pub const MAX_CONN_REUSE_MODE: u8 = 3;

    /// Those set, each with its value as lvs.cf and `/proc/sys` write it;
    /// the name is both the lvs.cf key and the sysctl's file.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let flag = |on: Option<bool>| on.map(|on| u8::from(on).to_string());
        [
            ("expire_nodest_conn", flag(self.expire_nodest_conn)),
            ("expire_quiescent_template", flag(self.expire_quiescent_template)),
            (
                "conn_reuse_mode",
                self.conn_reuse_mode.map(|mode| mode.to_string()),
            ),
            ("sloppy_tcp", flag(self.sloppy_tcp)),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|value| (name, value)))
        .collect()
    }
}

/// A whole lvs.cf file.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Config {
    /// Incremented by the configuration tool on every save; unused by the daemons.
    pub serial_no: i32,
    /// `service`: lvs or fos.
    pub service: ServiceType,
    /// The master router: a node is master when one of its interfaces has this address.
    pub primary: Option<Host>,
    /// A second heartbeat channel; see [`Config::effective_primary_private`].
    pub primary_private: Option<Host>,
    /// `primary_shared`.
    pub primary_shared: Option<String>,
    /// `backup`: the backup router's address.
    pub backup: Option<Host>,
    /// `backup_private`: its heartbeat address on a private network.
    pub backup_private: Option<Host>,
    /// `backup_shared`.
    pub backup_shared: Option<String>,
    /// Whether a backup router exists; without it no heartbeats are exchanged.
    pub backup_active: bool,
    /// Written by the GUI, read by no daemon.
    pub heartbeat: bool,
    /// `heartbeat_port` (539).
    pub heartbeat_port: u16,
    /// `keepalive`: seconds between heartbeats.
    pub keepalive: Seconds,
    /// `deadtime`: silence after which the partner is dead.
    pub deadtime: Seconds,
    /// `network`: how real servers are reached.
    pub network: Network,
    /// `nat_router`: the NAT gateway address and its device.
    pub nat_router: Option<AddressOnDevice>,
    /// `nat_nmask`: its netmask.
    pub nat_nmask: Option<Netmask>,
    /// `reservation_conflict_action`.
    pub reservation_conflict_action: Option<ConflictAction>,
    /// `debug_level`.
    pub debug_level: String,
    /// `rsh_command`: what `load_monitor = uptime` runs.
    pub rsh_command: String,
    /// The ipvsadm binary Piranha's daemons run.
    pub ipvsadm: String,
    /// Parsed, unused (legacy file sync).
    pub sync: bool,
    /// `active_cmd`: run on activation.
    pub active_cmd: Option<String>,
    /// `inactive_cmd`: run on deactivation.
    pub inactive_cmd: Option<String>,
    /// `monitor_links`: fail over when a heartbeat link goes down.
    pub monitor_links: bool,
    /// `hard_shutdown`: lvs stops when a nanny dies.
    pub hard_shutdown: bool,
    /// `syncdaemon`: run the IPVS connection-sync daemon.
    pub syncdaemon: bool,
    /// `syncd_iface`: its multicast interface.
    pub syncd_iface: String,
    /// `syncd_id`: its sync id.
    pub syncd_id: u8,
    /// IPVS timeouts in seconds; 0 leaves the kernel's value unchanged.
    pub tcp_timeout: u32,
    /// `tcpfin_timeout`: seconds (0: the kernel's).
    pub tcpfin_timeout: u32,
    /// `udp_timeout`: seconds (0: the kernel's).
    pub udp_timeout: u32,
    /// lvs-rs extension: a file holding the key both routers share; with it,
    /// heartbeats are authenticated (HMAC-SHA-256, state and sequence number).
    pub heartbeat_key: Option<String>,
    /// lvs-rs extension: announcements (gratuitous ARP or unsolicited NA)
    /// sent per VIP on activation; Piranha sends 5.
    pub arp_count: u32,
    /// lvs-rs extension: the time between those announcements; Piranha's is 1 s.
    pub arp_interval: Seconds,
    /// lvs-rs extension: the IPVS sysctls the lvs daemon manages.
    pub ipvs_sysctls: IpvsSysctls,
    /// lvs-rs extension (`maintenance_dir`): a directory where a file named
    /// after a real server's address (`ADDRESS`, or `ADDRESS:PORT` with an
    /// IPv6 address in brackets) drains that server, as ldirectord's
    /// `maintenancedir` does; removing the file puts it back.
    pub maintenance_dir: Option<String>,
    /// lvs-rs extension (`drain_timeout`): how long a drained server keeps
    /// its connections at most; with it, a server that a reload removes is
    /// drained too instead of removed at once. `None`: removals are
    /// immediate, and a drain lasts at most [`Config::DEFAULT_DRAIN_TIMEOUT`].
    pub drain_timeout: Option<Seconds>,
    /// lvs-rs extension (`heartbeat_keys = [ 1:PATH 2:PATH ]`): heartbeat
    /// keys by id, for a rotation without a flag day; instead of
    /// `heartbeat_key`, which is key id 0.
    pub heartbeat_keys: Vec<(u8, String)>,
    /// lvs-rs extension (`heartbeat_send_key`): the id of the key heartbeats
    /// are sealed with; needed when `heartbeat_keys` holds more than one.
    pub heartbeat_send_key: Option<u8>,
    /// lvs-rs extension (`announce_again`): a second burst of announcements
    /// this long after a router takes VIPs.
    pub announce_again: Option<Seconds>,
    /// lvs-rs extension (`announce_refresh`): announcements every this long
    /// while a router holds VIPs.
    pub announce_refresh: Option<Seconds>,
    /// lvs-rs extension (`catch_up_bound`): with VIP groups, a router that
    /// starts takes no group from a live holder until its connection table
    /// holds as many connections as the holder's, or this long after its
    /// start (the readiness gate of lossless fail-back). Unset: with
    /// `syncdaemon = 1`, [`Config::DEFAULT_CATCH_UP_BOUND`]; 0: no gate.
    pub catch_up_bound: Option<Seconds>,
    /// lvs-rs extension: `router NAME { }` blocks, routers beside the
    /// primary and the backup (with VIP groups only).
    pub routers: Vec<RouterBlock>,
    /// lvs-rs extension: `vip_group NAME { }` blocks. With any, pulse runs
    /// one election per group over every router instead of Piranha's pair.
    pub vip_groups: Vec<VipGroup>,
    /// lvs-rs extension: `track NAME { }` blocks, local health that moves
    /// VIP groups.
    pub tracks: Vec<TrackBlock>,
    /// The `virtual NAME { }` blocks, in file order.
    pub virtual_services: Vec<VirtualService>,
    /// The `failover NAME { }` blocks, in file order.
    pub failover_services: Vec<VirtualService>,
}

/// A `router NAME { }` block (an lvs-rs extension): a router of VIP groups
/// beside `primary` and `backup`, which are the routers named `primary`
/// and `backup`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct RouterBlock {
    /// Its name, as `priorities` lists it.
    pub name: String,
    /// `address`: its heartbeat address.
    pub address: Option<Host>,
    /// `private`: its second heartbeat address, when it has one.
    pub private: Option<Host>,
}

impl RouterBlock {
    /// A block without addresses.
    pub fn new(name: impl Into<String>) -> Self {
        RouterBlock {
            name: name.into(),
            address: None,
            private: None,
        }
    }
}

/// A `vip_group NAME { }` block (an lvs-rs extension): the VIPs of the
/// virtual services that name it move together, between the routers of
/// its `priorities`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct VipGroup {
    /// Its name, as virtual services' `vip_group` gives it.
    pub name: String,
    /// `priorities = [ primary:200 backup:100 ]`: the routers that may hold
    /// it, each with a priority from 1 to 254; the highest live one does.
    pub priorities: Vec<(String, u8)>,
    /// `preempt`: a higher router takes the group back from a lower one
    /// (on by default).
    pub preempt: bool,
    /// `preempt_delay`: how long it waits before it does.
    pub preempt_delay: Option<Seconds>,
    /// `notify`: a program run on every state change of the group on this
    /// router, with the group, old and new state, reason and VIPs as
    /// arguments and environment.
    pub notify: Option<String>,
}

impl VipGroup {
    /// A group with no routers yet, preemption on.
    pub fn new(name: impl Into<String>) -> Self {
        VipGroup {
            name: name.into(),
            priorities: Vec::new(),
            preempt: true,
            preempt_delay: None,
            notify: None,
        }
    }
}

/// What a `track` block watches: exactly one of these keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TrackTarget {
    /// `program`: passes while it exits with status 0 within `interval`.
    Program(String),
    /// `process`: passes while a process of this name runs.
    Process(String),
    /// `interface`: passes while the interface is up with a carrier.
    Interface(String),
    /// `file`: fails while the file exists (a maintenance flag).
    File(String),
}

impl TrackTarget {
    /// Its key in lvs.cf.
    pub fn key(&self) -> &'static str {
        match self {
            TrackTarget::Program(_) => "program",
            TrackTarget::Process(_) => "process",
            TrackTarget::Interface(_) => "interface",
            TrackTarget::File(_) => "file",
        }
    }

    /// Its value.
    pub fn value(&self) -> &str {
        match self {
            TrackTarget::Program(v)
            | TrackTarget::Process(v)
            | TrackTarget::Interface(v)
            | TrackTarget::File(v) => v,
        }
    }
}

/// A `track NAME { }` block (an lvs-rs extension): local health of this
/// router that lowers its priority in VIP groups or puts it in FAULT.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct TrackBlock {
    /// Its name, in logs and status.
    pub name: String,
    /// What it watches; `None` until a key sets it (an error at validation).
    pub target: Option<TrackTarget>,
    /// `interval`: how often it is looked at (default 2 s).
    pub interval: Option<Seconds>,
    /// `rise`: passes in a row that make it healthy (default 1).
    pub rise: u32,
    /// `fall`: failures in a row that make it fail (default 1).
    pub fall: u32,
    /// `weight`: added to the priority, a negative weight while it fails, a
    /// positive one while it passes; 0 (the default) puts the router in
    /// FAULT while it fails.
    pub weight: i16,
    /// `groups = [ a b ]`: the groups it applies to; empty: every group.
    pub groups: Vec<String>,
}

impl TrackBlock {
    /// How often a track is looked at when its block sets no `interval`.
    pub const DEFAULT_INTERVAL: Seconds = Seconds::whole(2);

    /// A block with the defaults and nothing to watch yet.
    pub fn new(name: impl Into<String>) -> Self {
        TrackBlock {
            name: name.into(),
            target: None,
            interval: None,
            rise: 1,
            fall: 1,
            weight: 0,
            groups: Vec::new(),
        }
    }
}

impl Default for Config {
    /// Piranha's defaults (`lvsParseConfig()`).
    fn default() -> Self {
        Config {
            serial_no: 0,
            service: ServiceType::Lvs,
            primary: None,
            primary_private: None,
            primary_shared: None,
            backup: None,
            backup_private: None,
            backup_shared: None,
            backup_active: false,
            heartbeat: false,
            heartbeat_port: 539,
            keepalive: Seconds::whole(2),
            deadtime: Seconds::whole(5),
            network: Network::Nat,
            nat_router: None,
            nat_nmask: None,
            reservation_conflict_action: None,
            debug_level: "NONE".to_owned(),
            rsh_command: "rsh".to_owned(),
            ipvsadm: "/sbin/ipvsadm".to_owned(),
            sync: false,
            active_cmd: None,
            inactive_cmd: None,
            monitor_links: false,
            hard_shutdown: true,
            syncdaemon: false,
            syncd_iface: "eth0".to_owned(),
            syncd_id: 0,
            tcp_timeout: 0,
            tcpfin_timeout: 0,
            udp_timeout: 0,
            heartbeat_key: None,
            arp_count: 5,
            arp_interval: Seconds::whole(1),
            ipvs_sysctls: IpvsSysctls::default(),
            maintenance_dir: None,
            drain_timeout: None,
            heartbeat_keys: Vec::new(),
            heartbeat_send_key: None,
            announce_again: None,
            announce_refresh: None,
            catch_up_bound: None,
            routers: Vec::new(),
            vip_groups: Vec::new(),
            tracks: Vec::new(),
            virtual_services: Vec::new(),
            failover_services: Vec::new(),
        }
    }
}

impl Config {
    /// How long a drain lasts at most when lvs.cf sets no `drain_timeout`.
    pub const DEFAULT_DRAIN_TIMEOUT: Seconds = Seconds::whole(300);

    /// The readiness gate's bound when lvs.cf sets no `catch_up_bound` and
    /// the sync daemon runs.
    pub const DEFAULT_CATCH_UP_BOUND: Seconds = Seconds::whole(30);

    /// The longest a drain may keep a server's connections: `drain_timeout`,
    /// or [`Config::DEFAULT_DRAIN_TIMEOUT`].
    pub fn drain_deadline(&self) -> Seconds {
        self.drain_timeout.unwrap_or(Self::DEFAULT_DRAIN_TIMEOUT)
    }

    /// The primary's private heartbeat address as pulse uses it: when
    /// `primary_private` is absent, both private addresses are the public ones.
    pub fn effective_primary_private(&self) -> Option<&Host> {
        match &self.primary_private {
            Some(host) => Some(host),
            None => self.primary.as_ref(),
        }
    }

    /// The backup's private heartbeat address as pulse uses it (see
    /// [`Config::effective_primary_private`]: without `primary_private`, the
    /// backup's private address is its public one, whatever `backup_private` says).
    pub fn effective_backup_private(&self) -> Option<&Host> {
        if self.primary_private.is_none() && self.primary.is_some() {
            self.backup.as_ref()
        } else {
            self.backup_private.as_ref()
        }
    }

    /// The backup address, unless absent or `0.0.0.0`.
    pub fn backup_address(&self) -> Option<&Host> {
        self.backup.as_ref().filter(|h| !h.is_unspecified())
    }

    /// The services pulse and lvsd run: virtual services in LVS mode,
    /// failover services in FOS mode.
    pub fn services_in_use(&self) -> &[VirtualService] {
        match self.service {
            ServiceType::Lvs => &self.virtual_services,
            ServiceType::Fos => &self.failover_services,
        }
    }

    /// The active services of the current mode.
    pub fn active_services(&self) -> impl Iterator<Item = &VirtualService> {
        self.services_in_use().iter().filter(|vs| vs.active)
    }

    /// Whether any active service reaches a server (or its sorry server) by
    /// NAT: then `nat_router`, the servers' gateway, goes up with the VIPs.
    pub fn uses_nat(&self) -> bool {
        self.active_services().any(|vs| {
            vs.servers
                .iter()
                .any(|s| vs.network_of(s, self.network) == Network::Nat)
                || (vs.sorry_server.is_some() && vs.sorry_network_or(self.network) == Network::Nat)
        })
    }
}

/// How real servers are entered in IPVS beyond their address and weight (all
/// lvs-rs extensions): set in a virtual block for every server of the
/// service, and in a server block for that server alone. `None` is "as the
/// enclosing level says": a server's unset options are its service's, and a
/// service's unset `network` is the global one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct ServerOptions {
    /// `network`: the forwarding method.
    pub network: Option<Network>,
    /// `tunnel_type`: the encapsulation of tunnelled servers (IPIP when unset).
    pub tunnel_type: Option<TunnelType>,
    /// `tunnel_port`: the GUE port.
    pub tunnel_port: Option<u16>,
    /// `tunnel_checksum`: the GUE or GRE checksum (none when unset).
    pub tunnel_checksum: Option<TunnelChecksum>,
    /// `upper_threshold`: connections (active and inactive) at which the
    /// server gets no new ones; 0 is no limit.
    pub upper_threshold: Option<u32>,
    /// `lower_threshold`: connections below which an overloaded server gets
    /// new ones again; 0 is below three quarters of the upper threshold (the
    /// kernel's rule).
    pub lower_threshold: Option<u32>,
}

impl ServerOptions {
    /// These options, each unset one taken from `outer` (a server's over its
    /// service's). The tunnel keys go together: a server that sets its own
    /// `tunnel_type` takes no `tunnel_port` or `tunnel_checksum` from its
    /// service (a GRE server under a GUE service has no port).
    pub fn over(&self, outer: &ServerOptions) -> ServerOptions {
        let tunnel_from = if self.tunnel_type.is_some() { self } else { outer };
        ServerOptions {
            network: self.network.or(outer.network),
            tunnel_type: self.tunnel_type.or(outer.tunnel_type),
            tunnel_port: self.tunnel_port.or(tunnel_from.tunnel_port),
            tunnel_checksum: self.tunnel_checksum.or(tunnel_from.tunnel_checksum),
            upper_threshold: self.upper_threshold.or(outer.upper_threshold),
            lower_threshold: self.lower_threshold.or(outer.lower_threshold),
        }
    }

    /// The keys that are set, with their values as lvs.cf writes them, in
    /// the order the writer writes them.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let mut entries = Vec::new();
        let mut put = |key, value: Option<String>| {
            if let Some(value) = value {
                entries.push((key, value));
            }
        };
        put("network", self.network.map(|v| v.to_string()));
        put("tunnel_type", self.tunnel_type.map(|v| v.to_string()));
        put("tunnel_port", self.tunnel_port.map(|v| v.to_string()));
        put("tunnel_checksum", self.tunnel_checksum.map(|v| v.to_string()));
        put("upper_threshold", self.upper_threshold.map(|v| v.to_string()));
        put("lower_threshold", self.lower_threshold.map(|v| v.to_string()));
        entries
    }

    /// Whether a tunnel key is set.
    pub fn has_tunnel_keys(&self) -> bool {
        self.tunnel_type.is_some() || self.tunnel_port.is_some() || self.tunnel_checksum.is_some()
    }
}

/// A `virtual NAME { }` (or `failover NAME { }`) block.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct VirtualService {
    /// The block's name.
    pub name: String,
    /// `active`.
    pub active: bool,
    /// The VIP and the device it is brought up on.
    pub address: Option<AddressOnDevice>,
    /// `vip_nmask`: the VIP's netmask.
    pub vip_nmask: Option<Netmask>,
    /// Added with weight 1 when no real server is up.
    pub sorry_server: Option<IpAddr>,
    /// `port`.
    pub port: u16,
    /// `protocol`.
    pub protocol: Protocol,
    /// Non-zero makes this a firewall-mark service.
    pub fwmark: u32,
    /// `scheduler`.
    pub scheduler: Scheduler,
    /// Persistence timeout in seconds; 0 is off.
    pub persistent: u32,
    /// `pmask`: the persistence netmask.
    pub pmask: Option<Netmask>,
    /// `send`: what a check writes.
    pub send: Option<Text>,
    /// `expect`: what a check must read.
    pub expect: Option<Text>,
    /// `use_regex`: `expect` is an extended regular expression.
    pub use_regex: bool,
    /// `send_program`: a check program.
    pub send_program: Option<Text>,
    /// Both the check interval and the connect/read timeout in Piranha.
    pub timeout: Seconds,
    /// Seconds a failed server must pass checks before it is re-added.
    pub reentry: u32,
    /// `quiesce_server`: weight 0 instead of removal on failure.
    pub quiesce_server: bool,
    /// Consecutive failed checks before a server is taken out (an lvs-rs
    /// extension; Piranha's nanny takes it out after one).
    pub failure_count: u32,
    /// Seconds between checks, when they should differ from `timeout` (an
    /// lvs-rs extension; Piranha uses `timeout` for both).
    pub check_interval: Option<Seconds>,
    /// `load_monitor`: how load-based weights are read.
    pub load_monitor: Option<String>,
    /// The health checker lvsd starts per real server.
    pub client_monitor: String,
    /// `start_cmd` (failover services).
    pub start_cmd: Option<Text>,
    /// `stop_cmd` (failover services).
    pub stop_cmd: Option<Text>,
    /// Parsed, unused (legacy file sync).
    pub master: Option<Host>,
    /// Parsed, unused (legacy file sync): `dirs = [ a b ]`.
    pub dirs: Option<Vec<String>>,
    /// Its `check` blocks (an lvs-rs extension), for every server.
    pub checks: Vec<CheckBlock>,
    /// How its servers are entered (lvs-rs extensions; a server block may
    /// override each).
    pub server_options: ServerOptions,
    /// `scheduler_flags` (an lvs-rs extension).
    pub scheduler_flags: Vec<SchedulerFlag>,
    /// `one_packet` (an lvs-rs extension): every UDP datagram is scheduled
    /// on its own.
    pub one_packet: bool,
    /// `persistence_engine` (an lvs-rs extension).
    pub persistence_engine: Option<PersistenceEngine>,
    /// `sorry_port` (an lvs-rs extension): the sorry server's port, when it
    /// is not the service's.
    pub sorry_port: Option<u16>,
    /// `sorry_network` (an lvs-rs extension): how the sorry server is
    /// reached, when not as the service's servers are.
    pub sorry_network: Option<Network>,
    /// `sorry_weight` (an lvs-rs extension): its weight; Piranha's is 1.
    pub sorry_weight: Option<u32>,
    /// `notify` (an lvs-rs extension): a program run on each event of the
    /// service (its sorry server in or out) and of those of its servers
    /// that set none of their own (up, down, held), with the event's
    /// details as arguments and environment. Split on spaces as
    /// `send_program` is, `%h` and `%p` standing for the server's address
    /// and port.
    pub notify: Option<String>,
    /// `quorum` (an lvs-rs extension): the least total weight of healthy
    /// servers the service runs with; below it, `quorum_action` applies.
    pub quorum: Option<u32>,
    /// `hysteresis` (an lvs-rs extension): the quorum is lost below
    /// `quorum - hysteresis` and regained at `quorum + hysteresis`, so a
    /// server flapping at the threshold does not flap the service.
    pub hysteresis: Option<u32>,
    /// `quorum_action` (an lvs-rs extension); by default `sorry` with a
    /// `sorry_server`, `notify` without. See [`VirtualService::quorum_action_or_default`].
    pub quorum_action: Option<QuorumAction>,
    /// `vip_group` (an lvs-rs extension): the VIP group whose router holds
    /// this service's VIP.
    pub vip_group: Option<String>,
    /// Its `server` blocks.
    pub servers: Vec<RealServer>,
}

impl VirtualService {
    /// What losing the quorum does: `quorum_action`, or by default the
    /// sorry server when there is one and only the event otherwise.
    pub fn quorum_action_or_default(&self) -> QuorumAction {
        self.quorum_action.unwrap_or(if self.sorry_server.is_some() {
            QuorumAction::Sorry
        } else {
            QuorumAction::Notify
        })
    }

    /// A block with Piranha's defaults (`lvsInitVirtualServer()`).
    pub fn new(name: impl Into<String>) -> Self {
        VirtualService {
            name: name.into(),
            active: false,
            address: None,
            vip_nmask: None,
            sorry_server: None,
            port: 80,
            protocol: Protocol::Tcp,
            fwmark: 0,
            scheduler: Scheduler::Wlc,
            persistent: 0,
            pmask: None,
            send: None,
            expect: None,
            use_regex: false,
            send_program: None,
            timeout: Seconds::whole(10),
            reentry: 180,
            quiesce_server: false,
            failure_count: 1,
            check_interval: None,
            load_monitor: None,
            client_monitor: "/usr/sbin/nanny".to_owned(),
            start_cmd: None,
            stop_cmd: None,
            master: None,
            dirs: None,
            checks: Vec::new(),
            server_options: ServerOptions::default(),
            scheduler_flags: Vec::new(),
            one_packet: false,
            persistence_engine: None,
            sorry_port: None,
            sorry_network: None,
            sorry_weight: None,
            notify: None,
            quorum: None,
            hysteresis: None,
            quorum_action: None,
            vip_group: None,
            servers: Vec::new(),
        }
    }

    /// The options `server` is entered with: its own, else the service's.
    /// (The global `network` stands behind an unset `network`; see
    /// [`VirtualService::network_of`].)
    pub fn options_of(&self, server: &RealServer) -> ServerOptions {
        server.options.over(&self.server_options)
    }

    /// The forwarding method of `server`: its own `network`, else the
    /// service's, else `global` (lvs.cf's top-level `network`).
    pub fn network_of(&self, server: &RealServer, global: Network) -> Network {
        self.options_of(server).network.unwrap_or(global)
    }

    /// The sorry server's port: `sorry_port`, else the service's.
    pub fn sorry_server_port(&self) -> u16 {
        self.sorry_port.unwrap_or(self.port)
    }

    /// How the sorry server is reached: `sorry_network`, else the service's
    /// `network`, else `global`.
    pub fn sorry_network_or(&self, global: Network) -> Network {
        self.sorry_network
            .or(self.server_options.network)
            .unwrap_or(global)
    }

    /// The options the sorry server is entered with: its own method, the
    /// service's tunnel settings, no thresholds.
    pub fn sorry_options(&self, global: Network) -> ServerOptions {
        let mut options = self.server_options.clone();
        options.network = Some(self.sorry_network_or(global));
        options.upper_threshold = None;
        options.lower_threshold = None;
        options
    }

    /// Seconds between checks: `check_interval`, else `timeout` (Piranha's rule).
    pub fn effective_check_interval(&self) -> Seconds {
        self.check_interval.unwrap_or(self.timeout)
    }

    /// The check blocks `server` is checked by: its own when it has any,
    /// else the service's (none: Piranha's check).
    pub fn checks_of<'a>(&'a self, server: &'a RealServer) -> &'a [CheckBlock] {
        if server.checks.is_empty() {
            &self.checks
        } else {
            &server.checks
        }
    }

    /// The port a real server is checked and registered on.
    pub fn server_port(&self, server: &RealServer) -> u16 {
        server.port.unwrap_or(self.port)
    }

    /// The persistence netmask as ipvsadm gets it: only with persistence, and
    /// never `255.255.255.255` (Piranha rewrites it to "none").
    pub fn effective_pmask(&self) -> Option<Netmask> {
        let pmask = self.pmask.filter(|_| self.persistent > 0)?;
        (pmask != Netmask::Dotted(Ipv4Addr::BROADCAST)).then_some(pmask)
    }
}

/// A `server NAME { }` block.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RealServer {
    /// The block's name.
    pub name: String,
    /// `address`.
    pub address: Option<Host>,
    /// `active`.
    pub active: bool,
    /// `weight`.
    pub weight: u32,
    /// `None` when the server takes the virtual service's `port`.
    ///
    /// Piranha gives a server the virtual's port *as of the point where the
    /// server block is read*; when that differs from the virtual's final port
    /// the parser stores it here, so the model keeps Piranha's meaning.
    pub port: Option<u16>,
    /// Its own `check` blocks (an lvs-rs extension); when there are any, the
    /// server is checked by these instead of the service's.
    pub checks: Vec<CheckBlock>,
    /// How it is entered, where it differs from its service (lvs-rs extensions).
    pub options: ServerOptions,
    /// `notify` (an lvs-rs extension): the program run on this server's
    /// events instead of its service's.
    pub notify: Option<String>,
}

impl RealServer {
    /// A block with Piranha's defaults (`parseActualServer()`).
    pub fn new(name: impl Into<String>) -> Self {
        RealServer {
            name: name.into(),
            address: None,
            active: false,
            weight: 1,
            port: None,
            checks: Vec::new(),
            options: ServerOptions::default(),
            notify: None,
        }
    }
}
