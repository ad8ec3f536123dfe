//! Mail checks: the greeting of an SMTP, IMAP or POP3 server, and with
//! STARTTLS the upgrade and a completed handshake.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use lvs_core::check::{Failure, MailCheck, MailProtocol};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::run::{connect, Notes};

/// The longest reply line read (RFC 5321 allows 512 bytes; servers send more).
const MAX_LINE: usize = 4096;
/// The most lines one reply may have: a server that goes on sending lines
/// (`250-` after `250-`) fails the check instead of holding it for ever.
const MAX_LINES: usize = 64;

pub(crate) async fn run(
    check: &MailCheck,
    target: SocketAddr,
    source: Option<IpAddr>,
    limit: Duration,
    notes: &mut Notes,
) -> Result<(), Failure> {
    let _permit = match check.starttls {
        Some(_) => Some(crate::tls::handshake_permit().await?),
        None => None,
    };
    let stream = connect(target, source, limit).await?;
    let mut reader = BufReader::new(stream);
    let greeting = reply(&mut reader, check.protocol, None, limit).await?;
    if let Some(expect) = &check.expect {
        expect.matches(greeting.as_bytes())?;
    }
    let Some(tls) = &check.starttls else {
        return Ok(());
    };
    if check.protocol == MailProtocol::Smtp {
        command(&mut reader, "EHLO lvs-rs\r\n", limit).await?;
        let capabilities = reply(&mut reader, check.protocol, None, limit).await?;
        if !capabilities.to_ascii_uppercase().contains("STARTTLS") {
            return Err(Failure::Greeting("the server does not offer STARTTLS".to_owned()));
        }
    }
    let (upgrade, tag) = match check.protocol {
        MailProtocol::Smtp => ("STARTTLS\r\n", None),
        MailProtocol::Imap => ("a1 STARTTLS\r\n", Some("a1")),
        _ => ("STLS\r\n", None),
    };
    command(&mut reader, upgrade, limit).await?;
    reply(&mut reader, check.protocol, tag, limit).await?;
    // Bytes sent before the handshake, after the server's go-ahead, would be
    // taken as if they came over TLS (the STARTTLS injection flaw): refuse them.
    if !reader.buffer().is_empty() {
        return Err(Failure::Greeting(
            "the server sent data before the TLS handshake".to_owned(),
        ));
    }
    let stream: TcpStream = reader.into_inner();
    let (_, expires) = crate::tls::handshake(stream, tls, target, limit).await?;
    notes.certificate(expires);
    Ok(())
}

async fn command(reader: &mut BufReader<TcpStream>, line: &str, limit: Duration) -> Result<(), Failure> {
    match timeout(limit, reader.get_mut().write_all(line.as_bytes())).await {
        Err(_) => Err(Failure::Send("timed out".to_owned())),
        Ok(Err(e)) => Err(Failure::Send(e.to_string())),
        Ok(Ok(())) => Ok(()),
    }
}

/// The server's next reply, which must be positive: for SMTP every line of
/// a multi-line `250-` reply; for IMAP the line with `tag` (the greeting's
/// `*` when none); for POP3 one line. Returns the text read.
async fn reply(
    reader: &mut BufReader<TcpStream>,
    protocol: MailProtocol,
    tag: Option<&str>,
    limit: Duration,
) -> Result<String, Failure> {
    let mut text = String::new();
    for _ in 0..MAX_LINES {
        let line = read_line(reader, limit).await?;
        text.push_str(&line);
        let done = match protocol {
            MailProtocol::Smtp => {
                let code = line.get(..3).unwrap_or_default();
                if !code.starts_with('2') || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Failure::Greeting(line.trim_end().to_owned()));
                }
                line.as_bytes().get(3) != Some(&b'-')
            }
            MailProtocol::Imap => {
                let want = tag.unwrap_or("*");
                match line.split_once(' ') {
                    Some((first, rest))
                        if first == want
                            && (rest.starts_with("OK") || (tag.is_none() && rest.starts_with("PREAUTH"))) =>
                    {
                        true
                    }
                    // Untagged lines before the tagged reply.
                    Some(("*", _)) if tag.is_some() => false,
                    _ => return Err(Failure::Greeting(line.trim_end().to_owned())),
                }
            }
            _ => {
                if !line.starts_with("+OK") {
                    return Err(Failure::Greeting(line.trim_end().to_owned()));
                }
                true
            }
        };
        if done {
            return Ok(text);
        }
    }
    Err(Failure::Greeting(format!(
        "a reply of more than {MAX_LINES} lines"
    )))
}

async fn read_line(reader: &mut BufReader<TcpStream>, limit: Duration) -> Result<String, Failure> {
    let mut line = Vec::new();
    let read = async {
        let mut limited = (&mut *reader).take(MAX_LINE as u64);
        limited.read_until(b'\n', &mut line).await
    };
    match timeout(limit, read).await {
        Err(_) => Err(Failure::ReadTimeout),
        Ok(Err(e)) => Err(Failure::Read(e.to_string())),
        Ok(Ok(0)) => Err(Failure::Greeting("the server closed the connection".to_owned())),
        Ok(Ok(_)) => Ok(String::from_utf8_lossy(&line).into_owned()),
    }
}
