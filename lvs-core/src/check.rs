//! Health checks of one real server, on tokio, each bounded by its timeout.
//!
//! The TCP, UDP and program checks keep nanny's semantics: one write of the
//! send string, one read, a prefix match (`*` accepts any byte), or an
//! unanchored extended regular expression. Where nanny misbehaves they do
//! not: an unknown escape such as `\d` is kept as written (nanny loops
//! forever), a failing or timed-out program is a failure (nanny counts it a
//! success when an expect string is set), UDP without an expect string needs
//! any reply (nanny crashes), and a long command is fine (nanny overflows).
//! The HTTP GET check is the one keepalived users rely on.

use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::process::Stdio;
use std::time::Duration;

use regex::bytes::Regex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

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
    fn read_size(&self) -> usize {
        match self {
            Expect::Prefix(prefix) => prefix.len().max(1),
            Expect::AnyByte => 1,
            Expect::Regex(_) => 254,
        }
    }

    fn matches(&self, reply: &[u8]) -> Result<(), Failure> {
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

/// A check of one real server.
#[derive(Clone, Debug)]
pub enum Check {
    /// Connect, and with `send`/`expect`, write once and read once.
    Tcp {
        send: Option<Vec<u8>>,
        expect: Option<Expect>,
    },
    /// Send a datagram (the send string, or an empty one) and require a reply.
    Udp {
        send: Option<Vec<u8>>,
        expect: Option<Expect>,
    },
    /// Run a program; `%h` and `%p` tokens become the address and port. Up
    /// when it exits 0 and, with `expect`, prints exactly that (one trailing
    /// newline aside).
    Program { command: String, expect: Option<String> },
    /// `GET path`; up when the status is in `status` and, with `body`, the
    /// body matches.
    HttpGet {
        path: String,
        host: Option<String>,
        status: Vec<RangeInclusive<u16>>,
        body: Option<Regex>,
    },
}

impl PartialEq for Check {
    fn eq(&self, other: &Check) -> bool {
        match (self, other) {
            (Check::Tcp { send: a, expect: x }, Check::Tcp { send: b, expect: y })
            | (Check::Udp { send: a, expect: x }, Check::Udp { send: b, expect: y }) => a == b && x == y,
            (
                Check::Program {
                    command: a,
                    expect: x,
                },
                Check::Program {
                    command: b,
                    expect: y,
                },
            ) => a == b && x == y,
            (
                Check::HttpGet {
                    path: a,
                    host: h,
                    status: s,
                    body: x,
                },
                Check::HttpGet {
                    path: b,
                    host: i,
                    status: t,
                    body: y,
                },
            ) => a == b && h == i && s == t && x.as_ref().map(Regex::as_str) == y.as_ref().map(Regex::as_str),
            _ => false,
        }
    }
}

/// Why a check failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    ConnectTimeout,
    Connect(String),
    Send(String),
    ReadTimeout,
    Read(String),
    ShortRead { got: usize, wanted: usize },
    Mismatch(String),
    NoReply,
    Program(String),
    ProgramTimeout,
    Status(u16),
    BadResponse(String),
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
        }
    }
}

/// Runs `check` against `target`, each step bounded by `limit`.
pub async fn run(check: &Check, target: SocketAddr, limit: Duration) -> Result<(), Failure> {
    match check {
        Check::Tcp { send, expect } => tcp(target, send.as_deref(), expect.as_ref(), limit).await,
        Check::Udp { send, expect } => udp(target, send.as_deref(), expect.as_ref(), limit).await,
        Check::Program { command, expect } => program(command, target, expect.as_deref(), limit).await,
        Check::HttpGet {
            path,
            host,
            status,
            body,
        } => http_get(target, path, host.as_deref(), status, body.as_ref(), limit).await,
    }
}

async fn connect(target: SocketAddr, limit: Duration) -> Result<TcpStream, Failure> {
    match timeout(limit, TcpStream::connect(target)).await {
        Err(_) => Err(Failure::ConnectTimeout),
        Ok(Err(e)) => Err(Failure::Connect(e.to_string())),
        Ok(Ok(stream)) => {
            reset_on_close(&stream);
            Ok(stream)
        }
    }
}

/// A check's connection ends with a reset, not the FIN exchange: neither
/// side keeps a TIME_WAIT entry, and a check costs the server less.
/// (`SO_LINGER` with a zero timeout never blocks the close.)
fn reset_on_close(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on an open socket with a valid, correctly sized option value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

async fn tcp(
    target: SocketAddr,
    send: Option<&[u8]>,
    expect: Option<&Expect>,
    limit: Duration,
) -> Result<(), Failure> {
    let mut stream = connect(target, limit).await?;
    if let Some(send) = send {
        match timeout(limit, stream.write_all(send)).await {
            Err(_) => return Err(Failure::Send("timed out".into())),
            Ok(Err(e)) => return Err(Failure::Send(e.to_string())),
            Ok(Ok(())) => {}
        }
    }
    let Some(expect) = expect else { return Ok(()) };
    let mut buffer = vec![0u8; expect.read_size()];
    let read = match timeout(limit, stream.read(&mut buffer)).await {
        Err(_) => return Err(Failure::ReadTimeout),
        Ok(Err(e)) => return Err(Failure::Read(e.to_string())),
        Ok(Ok(read)) => read,
    };
    expect.matches(&buffer[..read])
}

async fn udp(
    target: SocketAddr,
    send: Option<&[u8]>,
    expect: Option<&Expect>,
    limit: Duration,
) -> Result<(), Failure> {
    let local: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| Failure::Connect(e.to_string()))?;
    socket
        .connect(target)
        .await
        .map_err(|e| Failure::Connect(e.to_string()))?;
    socket
        .send(send.unwrap_or_default())
        .await
        .map_err(|e| Failure::Send(e.to_string()))?;
    let mut buffer = vec![0u8; expect.map_or(1, Expect::read_size).max(1)];
    let read = match timeout(limit, socket.recv(&mut buffer)).await {
        Err(_) => return Err(Failure::NoReply),
        // A connected UDP socket learns of an ICMP port unreachable here.
        Ok(Err(e)) => return Err(Failure::Read(e.to_string())),
        Ok(Ok(read)) => read,
    };
    match expect {
        Some(expect) => expect.matches(&buffer[..read]),
        None if read > 0 => Ok(()),
        None => Err(Failure::NoReply),
    }
}

/// Runs a load monitor and reads the 1-minute load from its output: `rsh` and
/// `ssh` as `CMD RIP uptime`, anything else as `CMD RIP` (nanny's `-U`).
pub async fn query_load(command: &str, server: std::net::IpAddr, limit: Duration) -> Option<f64> {
    let mut process = tokio::process::Command::new(command);
    process.arg(server.to_string());
    if matches!(command, "rsh" | "ssh") {
        process.arg("uptime");
    }
    process
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let output = timeout(limit, process.output()).await.ok()?.ok()?;
    crate::nanny::parse_load(&String::from_utf8_lossy(&output.stdout))
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

async fn program(
    command: &str,
    target: SocketAddr,
    expect: Option<&str>,
    limit: Duration,
) -> Result<(), Failure> {
    let argv = program_argv(command, target);
    let Some((program, args)) = argv.split_first() else {
        return Err(Failure::Program("empty command".into()));
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        // A group of its own, so that a timeout kills what it started too.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::Program(format!("cannot run {program}: {e}")))?;
    let group = child.id();
    let mut stdout = child.stdout.take();
    let run = async {
        let mut output = Vec::new();
        if let Some(stdout) = stdout.as_mut() {
            // Nanny reads at most 4095 bytes.
            let _ = stdout.take(4095).read_to_end(&mut output).await;
        }
        let status = child.wait().await;
        (output, status)
    };
    let (output, status) = match timeout(limit, run).await {
        Err(_) => {
            if let Some(group) = group.and_then(|pid| i32::try_from(pid).ok()) {
                // SAFETY: kill(2) on the process group we created; no memory is involved.
                unsafe { libc::kill(-group, libc::SIGKILL) };
            }
            return Err(Failure::ProgramTimeout);
        }
        Ok(result) => result,
    };
    let status = status.map_err(|e| Failure::Program(e.to_string()))?;
    if !status.success() {
        return Err(Failure::Program(format!("exited with {status}")));
    }
    let Some(expect) = expect else { return Ok(()) };
    let output = output.strip_suffix(b"\n").unwrap_or(&output);
    if output == expect.as_bytes() {
        Ok(())
    } else {
        Err(Failure::Mismatch(String::from_utf8_lossy(output).into_owned()))
    }
}

async fn http_get(
    target: SocketAddr,
    path: &str,
    host: Option<&str>,
    status: &[RangeInclusive<u16>],
    body: Option<&Regex>,
    limit: Duration,
) -> Result<(), Failure> {
    let mut stream = connect(target, limit).await?;
    let host = host.map_or_else(|| target.to_string(), str::to_owned);
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: lvs-rs\r\nConnection: close\r\n\r\n");
    match timeout(limit, stream.write_all(request.as_bytes())).await {
        Err(_) => return Err(Failure::Send("timed out".into())),
        Ok(Err(e)) => return Err(Failure::Send(e.to_string())),
        Ok(Ok(())) => {}
    }
    let mut response = Vec::new();
    match timeout(limit, (&mut stream).take(1 << 20).read_to_end(&mut response)).await {
        Err(_) => return Err(Failure::ReadTimeout),
        Ok(Err(e)) => return Err(Failure::Read(e.to_string())),
        Ok(Ok(_)) => {}
    }
    let status_line = response.split(|&b| b == b'\n').next().unwrap_or_default();
    let code = std::str::from_utf8(status_line)
        .ok()
        .and_then(|line| line.strip_prefix("HTTP/"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| Failure::BadResponse(String::from_utf8_lossy(status_line).trim_end().to_owned()))?;
    let wanted = if status.is_empty() {
        std::slice::from_ref(&(200..=299))
    } else {
        status
    };
    if !wanted.iter().any(|range| range.contains(&code)) {
        return Err(Failure::Status(code));
    }
    if let Some(body_re) = body {
        let start = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(response.len(), |i| i + 4);
        if !body_re.is_match(&response[start..]) {
            return Err(Failure::Mismatch("the body does not match".into()));
        }
    }
    Ok(())
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
