//! Running health checks: connect, send, read and match, or run a program,
//! each step bounded by its timeout. The checks are described by
//! [`lvs_core::check::Check`]; this module carries them out on tokio.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::process::Stdio;
use std::time::Duration;

use lvs_core::check::{program_argv, Check, Expect, Failure};
use regex::bytes::Regex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

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
    lvs_core::nanny::parse_load(&String::from_utf8_lossy(&output.stdout))
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
