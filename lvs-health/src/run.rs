//! Running health checks: connect, send, read and match, or run a program,
//! each step bounded by its timeout. The checks are described by
//! [`lvs_core::check::Check`]; this module carries them out on tokio (HTTP
//! and HTTPS in [`crate::http`]; DNS, mail greetings and ICMP echo in
//! modules of their own).

use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use lvs_core::check::{program_argv, Check, Expect, Failure, Probe};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::time::{timeout, Instant};

/// A check's verdict, and what it learned on the way.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Outcome {
    /// Passed, or why not.
    pub result: Result<(), Failure>,
    /// When the server's TLS certificate expires, for checks that saw one
    /// (the earliest, when several did).
    pub certificate_expires: Option<SystemTime>,
    /// The weight a passing check set (a dynamic program's exit status, a
    /// file's number); the lowest, when several did.
    pub weight: Option<u32>,
}

impl Outcome {
    /// What the outcome tells a server's nanny machine: passed (at the
    /// weight the check set, if it set one) or failed.
    pub fn event(&self) -> lvs_core::nanny::NannyEvent {
        use lvs_core::nanny::NannyEvent;
        match (&self.result, self.weight) {
            (Ok(()), Some(weight)) => NannyEvent::Weighed(weight),
            (result, _) => NannyEvent::Checked { up: result.is_ok() },
        }
    }

    /// The outcome of a check that saw no certificate.
    pub fn of(result: Result<(), Failure>) -> Outcome {
        Outcome {
            result,
            certificate_expires: None,
            weight: None,
        }
    }
}

/// What the steps of a check note down for its [`Outcome`].
#[derive(Debug, Default)]
pub(crate) struct Notes {
    pub(crate) certificate_expires: Option<SystemTime>,
    pub(crate) weight: Option<u32>,
}

impl Notes {
    fn weight(&mut self, weight: u32) {
        self.weight = Some(self.weight.map_or(weight, |w| w.min(weight)));
    }

    pub(crate) fn certificate(&mut self, expires: Option<SystemTime>) {
        self.certificate_expires = match (self.certificate_expires, expires) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Runs `check` against `target`, each step bounded by `limit`.
pub async fn run(check: &Check, target: SocketAddr, limit: Duration) -> Result<(), Failure> {
    run_noting(check, target, limit).await.result
}

/// What a server's checks keep from one check to the next: the HTTP
/// connections kept for reuse, one per probe. Dropping it closes them.
#[derive(Default)]
pub struct Session {
    kept: Vec<Option<crate::http::Kept>>,
}

impl Session {
    /// A session that keeps nothing yet.
    pub fn new() -> Session {
        Session::default()
    }

    fn slot(&mut self, index: usize) -> &mut Option<crate::http::Kept> {
        if self.kept.len() <= index {
            self.kept.resize_with(index + 1, || None);
        }
        &mut self.kept[index]
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.kept.iter().filter(|k| k.is_some()).count();
        f.debug_struct("Session")
            .field("kept_connections", &kept)
            .finish()
    }
}

/// Runs `check` against `target` as [`run`] does, and says what it saw.
/// Nothing is kept for the next check (see [`run_in`]).
pub async fn run_noting(check: &Check, target: SocketAddr, limit: Duration) -> Outcome {
    run_in(&mut Session::new(), check, target, limit).await
}

/// Runs `check` against `target` within `session`, the server's: a kept
/// connection is used, and kept for the next check, where the check says so.
pub async fn run_in(session: &mut Session, check: &Check, target: SocketAddr, limit: Duration) -> Outcome {
    run_started(session, check, target, Budget::from_now(limit)).await
}

/// How long a check may take: `limit`, counted from `from` (when its
/// schedule woke it, a clock reading the scheduler made anyway).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// When the check started.
    pub from: Instant,
    /// How long it may take.
    pub limit: Duration,
}

impl Budget {
    /// `limit` from now.
    pub fn from_now(limit: Duration) -> Budget {
        Budget {
            from: Instant::now(),
            limit,
        }
    }

    /// When the check is out of time (for a limit too long to add, a
    /// deadline decades away, as tokio's `timeout` makes it).
    pub fn deadline(&self) -> Instant {
        const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
        self.from
            .checked_add(self.limit)
            .unwrap_or_else(|| self.from + FAR)
    }
}

/// Runs `check` as [`run_in`] does, within `budget`: the caller read the
/// clock when the check started (each reading of it is a system call where
/// the clock is a device such as the HPET, and a check made over a kept
/// connection is otherwise a few of them).
pub async fn run_started(
    session: &mut Session,
    check: &Check,
    target: SocketAddr,
    budget: Budget,
) -> Outcome {
    let mut notes = Notes::default();
    let result = match check {
        // Called here, the probes' futures live in this one rather than in
        // a box made for every check (see `one`).
        Check::All(probes) => all(probes, target, budget, &mut notes, session).await,
        check => one(check, target, None, budget, &mut notes, session, 0).await,
    };
    Outcome {
        // A weight stands only for a check that passed.
        weight: notes.weight.filter(|_| result.is_ok()),
        result,
        certificate_expires: notes.certificate_expires,
    }
}

/// One check within `budget`; `index` is its place among the server's
/// probes, which names its slot in the session.
async fn one(
    check: &Check,
    target: SocketAddr,
    source: Option<IpAddr>,
    budget: Budget,
    notes: &mut Notes,
    session: &mut Session,
    index: usize,
) -> Result<(), Failure> {
    let limit = budget.limit;
    match check {
        Check::Tcp { send, expect } => tcp(target, source, send.as_deref(), expect.as_ref(), limit).await,
        Check::Udp { send, expect } => udp(target, source, send.as_deref(), expect.as_ref(), limit).await,
        Check::Program {
            command,
            expect,
            dynamic,
        } => {
            let weight = program(command, target, expect.as_deref(), *dynamic, limit).await?;
            if let Some(weight) = weight {
                notes.weight(weight);
            }
            Ok(())
        }
        Check::File { path } => {
            let read = match timeout(limit, state_file(path)).await {
                Err(_) => Err(Failure::File(format!("{}: reading it timed out", path.display()))),
                Ok(read) => read,
            };
            if let Some(weight) = read? {
                notes.weight(weight);
            }
            Ok(())
        }
        Check::Http(http) => crate::http::run(http, target, source, budget, notes, session.slot(index)).await,
        Check::Tls(tls) => {
            let (_, expires) = crate::tls::connect(target, source, tls, limit).await?;
            notes.certificate(expires);
            Ok(())
        }
        Check::Dns(dns) => crate::dns::run(dns, target, source, limit).await,
        Check::Mail(mail) => crate::mail::run(mail, target, source, limit, notes).await,
        Check::Ping => crate::ping::run(target.ip(), source, limit).await,
        // Only a nested list gets here: its future is boxed, for the recursion.
        Check::All(probes) => Box::pin(all(probes, target, budget, notes, session)).await,
        _ => Err(Failure::Program(
            "this check kind is not run by this version".to_owned(),
        )),
    }
}

/// Every probe in turn; the first failure, named, decides.
async fn all(
    probes: &[Probe],
    server: SocketAddr,
    budget: Budget,
    notes: &mut Notes,
    session: &mut Session,
) -> Result<(), Failure> {
    for (index, probe) in probes.iter().enumerate() {
        let limit = probe.timeout.unwrap_or(budget.limit);
        // Each probe has its limit from its own start.
        let budget = match index {
            0 => Budget { limit, ..budget },
            _ => Budget::from_now(limit),
        };
        let target = probe.target(server);
        let result = one(&probe.check, target, probe.source, budget, notes, session, index).await;
        if let Err(failure) = result {
            return Err(Failure::Named {
                check: probe.name.clone(),
                failure: Box::new(failure),
            });
        }
    }
    Ok(())
}

/// A random number, for ids that others should not guess (DNS query ids,
/// ICMP identifiers).
pub(crate) fn random_u16() -> u16 {
    let mut bytes = [0u8; 2];
    // Without the kernel's random numbers, the clock's nanoseconds still vary.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        bytes = (nanos as u16).to_be_bytes();
    }
    u16::from_be_bytes(bytes)
}

/// A connection to `target`, from `source` when one is given.
pub(crate) async fn connect(
    target: SocketAddr,
    source: Option<IpAddr>,
    limit: Duration,
) -> Result<TcpStream, Failure> {
    let connecting = async {
        match source {
            None => TcpStream::connect(target).await,
            Some(source) => {
                let socket = if target.is_ipv4() {
                    TcpSocket::new_v4()?
                } else {
                    TcpSocket::new_v6()?
                };
                socket.bind(SocketAddr::new(source, 0))?;
                socket.connect(target).await
            }
        }
    };
    match timeout(limit, connecting).await {
        Err(_) => Err(Failure::ConnectTimeout),
        Ok(Err(e)) => Err(Failure::Connect(e.to_string())),
        Ok(Ok(stream)) => {
            reset_on_close(&stream);
            Ok(stream)
        }
    }
}

/// A UDP socket connected to `target`, bound to `source` when one is given.
pub(crate) async fn datagram_socket(
    target: SocketAddr,
    source: Option<IpAddr>,
) -> Result<UdpSocket, Failure> {
    let local = match source {
        Some(source) => SocketAddr::new(source, 0),
        None if target.is_ipv4() => ([0, 0, 0, 0], 0).into(),
        None => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| Failure::Connect(e.to_string()))?;
    socket
        .connect(target)
        .await
        .map_err(|e| Failure::Connect(e.to_string()))?;
    Ok(socket)
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
    source: Option<IpAddr>,
    send: Option<&[u8]>,
    expect: Option<&Expect>,
    limit: Duration,
) -> Result<(), Failure> {
    let mut stream = connect(target, source, limit).await?;
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
    source: Option<IpAddr>,
    send: Option<&[u8]>,
    expect: Option<&Expect>,
    limit: Duration,
) -> Result<(), Failure> {
    let socket = datagram_socket(target, source).await?;
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

/// The variables a service manager gives the process it supervises; a
/// daemon's children (check programs, load monitors, nannies, pulse's lvs
/// daemon, `active_cmd`) must not inherit them, or they would speak for the
/// daemon (a READY=1 from a check program, say).
pub const MANAGER_VARIABLES: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/// Removes the service manager's variables from a child's environment.
pub fn without_manager(command: &mut tokio::process::Command) -> &mut tokio::process::Command {
    for variable in MANAGER_VARIABLES {
        command.env_remove(variable);
    }
    command
}

/// Runs a load monitor and reads the 1-minute load from its output: `rsh` and
/// `ssh` as `CMD RIP uptime`, anything else as `CMD RIP` (nanny's `-U`).
pub async fn query_load(command: &str, server: std::net::IpAddr, limit: Duration) -> Option<f64> {
    let mut process = tokio::process::Command::new(command);
    without_manager(&mut process).arg(server.to_string());
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

/// Runs a check program: `Ok(Some(weight))` when `dynamic` and its exit
/// status sets one.
async fn program(
    command: &str,
    target: SocketAddr,
    expect: Option<&str>,
    dynamic: bool,
    limit: Duration,
) -> Result<Option<u32>, Failure> {
    let argv = program_argv(command, target);
    let Some((program, args)) = argv.split_first() else {
        return Err(Failure::Program("empty command".into()));
    };
    let mut child = without_manager(&mut tokio::process::Command::new(program))
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
    // keepalived's misc_dynamic: 0 up, 1 down, 2 to 255 up at weight status - 2.
    let weight = match status.code() {
        Some(code @ 2..=255) if dynamic => Some(code as u32 - 2),
        _ if !status.success() => return Err(Failure::Program(format!("exited with {status}"))),
        _ => None,
    };
    let Some(expect) = expect else { return Ok(weight) };
    let output = output.strip_suffix(b"\n").unwrap_or(&output);
    if output == expect.as_bytes() {
        Ok(weight)
    } else {
        Err(Failure::Mismatch(String::from_utf8_lossy(output).into_owned()))
    }
}

/// The most of a state file read: a word or a number.
const STATE_FILE_BYTES: u64 = 256;

/// A file check: `up`, `down`, or the weight, as the file's first word says.
async fn state_file(path: &std::path::Path) -> Result<Option<u32>, Failure> {
    // A FIFO or a device would block the read (and a thread) until written.
    let metadata = tokio::fs::metadata(path)
        .await
        .map_err(|e| Failure::File(format!("{}: {e}", path.display())))?;
    if !metadata.is_file() {
        return Err(Failure::File(format!("{} is not a regular file", path.display())));
    }
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Failure::File(format!("{}: {e}", path.display())))?;
    let mut text = String::new();
    file.take(STATE_FILE_BYTES)
        .read_to_string(&mut text)
        .await
        .map_err(|e| Failure::File(format!("{}: {e}", path.display())))?;
    match text.split_whitespace().next() {
        Some(word) if word.eq_ignore_ascii_case("up") => Ok(None),
        Some(word) if word.eq_ignore_ascii_case("down") => {
            Err(Failure::File(format!("{} says down", path.display())))
        }
        Some(word) => match word.parse::<u32>() {
            Ok(weight) if weight <= 65_535 => Ok(Some(weight)),
            _ => Err(Failure::File(format!(
                "{} says {word:?}: neither up, down nor a weight from 0 to 65535",
                path.display()
            ))),
        },
        None => Err(Failure::File(format!("{} is empty", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_gets_none_of_the_service_managers_variables() {
        let mut command = tokio::process::Command::new("true");
        command
            .env("NOTIFY_SOCKET", "/run/systemd/notify")
            .env("KEPT", "1");
        without_manager(&mut command);
        let envs: Vec<(String, Option<String>)> = command
            .as_std()
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        for variable in MANAGER_VARIABLES {
            assert!(
                envs.contains(&(variable.to_owned(), None)),
                "{variable} removed: {envs:?}"
            );
        }
        assert!(
            envs.contains(&("KEPT".to_owned(), Some("1".to_owned()))),
            "{envs:?}"
        );
    }
}
