//! HTTP and HTTPS checks through hyper's HTTP/1 client (so chunked bodies,
//! `Content-Length` and HTTP/1.1 are read as HTTP means them), the status,
//! body and digest then compared.
//!
//! With `reuse_connection` (the default of lvs.cf's check blocks, as of
//! Envoy's health checks), a server's checks go over one kept connection and
//! TLS session, opened afresh after [`USES_PER_CONNECTION`] checks, whenever
//! the server closes it, and whenever a check over it fails for a reason of
//! the connection's (that check is then made once more on a fresh one, so a
//! server that merely dropped an idle connection is not taken out). Without
//! it, each check opens and resets a connection of its own, as keepalived's
//! `HTTP_GET` does.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, CONNECTION, HOST, USER_AGENT};
use hyper::{Method, Request, Uri, Version};
use hyper_util::rt::TokioIo;
use lvs_core::check::{Failure, HttpCheck, HttpMethod, HttpVersion};
use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{timeout, timeout_at, Instant};

use crate::run::{connect, Budget, Notes};

/// The most of a body read: a health page, not a download.
const MAX_BODY: usize = 1 << 20;

/// Checks made over one kept connection before a fresh one is opened, so
/// that the server's accepting of connections is checked too, now and then.
pub const USES_PER_CONNECTION: u32 = 60;

/// A connection kept between a server's checks.
pub(crate) struct Kept {
    target: SocketAddr,
    tls: bool,
    sender: SendRequest<Empty<Bytes>>,
    /// hyper's side of the connection, driven while a check runs over it.
    connection: Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>,
    /// Set once hyper has ended the connection (the server closed it).
    ended: bool,
    uses: u32,
    certificate_expires: Option<SystemTime>,
    request: Prepared,
}

/// What a check's requests over one connection have in common, made once:
/// a check made every second costs its requests' parsing and formatting
/// every second otherwise.
struct Prepared {
    uri: Uri,
    host: HeaderValue,
    /// What it was made from, so that another check over the same
    /// connection gets a request of its own.
    path: String,
    named_host: Option<String>,
}

impl Prepared {
    fn new(check: &HttpCheck, target: SocketAddr) -> Result<Prepared, Failure> {
        let uri = Uri::try_from(check.path.as_str()).map_err(|e| Failure::Send(e.to_string()))?;
        // `address:port` (IPv6 in brackets) when the check names no host.
        let host = match &check.host {
            Some(host) => HeaderValue::try_from(host.as_str()),
            None => HeaderValue::try_from(target.to_string()),
        }
        .map_err(|e| Failure::Send(e.to_string()))?;
        Ok(Prepared {
            uri,
            host,
            path: check.path.clone(),
            named_host: check.host.clone(),
        })
    }

    fn made_for(&self, check: &HttpCheck) -> bool {
        self.path == check.path && self.named_host == check.host
    }
}

impl Kept {
    fn usable_for(&self, target: SocketAddr, check: &HttpCheck) -> bool {
        self.target == target
            && self.tls == check.tls.is_some()
            && self.request.made_for(check)
            && !self.ended
            && self.uses < USES_PER_CONNECTION
            && !self.sender.is_closed()
    }
}

/// Whether a failure over a kept connection may be the connection's rather
/// than the server's verdict: the check is then made again on a fresh one.
/// A timeout is not: a server too slow to answer gets no second request.
fn connection_failure(failure: &Failure) -> bool {
    matches!(
        failure,
        Failure::Send(_) | Failure::Read(_) | Failure::BadResponse(_)
    )
}

pub(crate) async fn run(
    check: &HttpCheck,
    target: SocketAddr,
    source: Option<IpAddr>,
    budget: Budget,
    notes: &mut Notes,
    kept: &mut Option<Kept>,
) -> Result<(), Failure> {
    let limit = budget.limit;
    if !check.reuse_connection {
        *kept = None;
    }
    if let Some(connection) = kept.as_mut().filter(|k| k.usable_for(target, check)) {
        connection.uses += 1;
        notes.certificate(connection.certificate_expires);
        match exchange(connection, check, budget.deadline()).await {
            Err(failure) if connection_failure(&failure) => {}
            verdict => {
                if connection.ended {
                    *kept = None;
                }
                return verdict;
            }
        }
    }
    *kept = None;
    let mut fresh = open(check, target, source, limit).await?;
    notes.certificate(fresh.certificate_expires);
    // A fresh connection's request has the limit from when it is connected.
    let verdict = exchange(&mut fresh, check, Budget::from_now(limit).deadline()).await;
    if check.reuse_connection && !fresh.ended && !fresh.sender.is_closed() {
        *kept = Some(fresh);
    }
    verdict
}

/// A new connection to `target` (with its TLS handshake for HTTPS), ready
/// for requests.
async fn open(
    check: &HttpCheck,
    target: SocketAddr,
    source: Option<IpAddr>,
    limit: Duration,
) -> Result<Kept, Failure> {
    let request = Prepared::new(check, target)?;
    match &check.tls {
        None => {
            let stream = connect(target, source, limit).await?;
            handshake(stream, target, false, None, request, limit).await
        }
        Some(tls) => {
            let (stream, expires) = crate::tls::connect(target, source, tls, limit).await?;
            handshake(stream, target, true, expires, request, limit).await
        }
    }
}

async fn handshake<S>(
    stream: S,
    target: SocketAddr,
    tls: bool,
    certificate_expires: Option<SystemTime>,
    request: Prepared,
    limit: Duration,
) -> Result<Kept, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) =
        match timeout(limit, hyper::client::conn::http1::handshake(TokioIo::new(stream))).await {
            Err(_) => return Err(Failure::Send("timed out".to_owned())),
            Ok(Err(e)) => return Err(Failure::Send(e.to_string())),
            Ok(Ok(pair)) => pair,
        };
    Ok(Kept {
        target,
        tls,
        sender,
        connection: Box::pin(connection),
        ended: false,
        uses: 1,
        certificate_expires,
        request,
    })
}

/// Reads `body` to its end without keeping it; false when it does not end
/// within [`MAX_BODY`] bytes or fails.
async fn drain(mut body: hyper::body::Incoming) -> bool {
    let mut left = MAX_BODY;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return false;
        };
        let length = frame.data_ref().map_or(0, Bytes::len);
        match left.checked_sub(length) {
            Some(rest) => left = rest,
            None => return false,
        }
    }
    true
}

/// One request over `kept`, and the verdict on its answer by `deadline`.
async fn exchange(kept: &mut Kept, check: &HttpCheck, deadline: Instant) -> Result<(), Failure> {
    let mut request = Request::new(Empty::<Bytes>::new());
    *request.method_mut() = match check.method {
        HttpMethod::Head => Method::HEAD,
        _ => Method::GET,
    };
    *request.uri_mut() = kept.request.uri.clone();
    *request.version_mut() = match check.version {
        HttpVersion::Http11 => Version::HTTP_11,
        _ => Version::HTTP_10,
    };
    let headers = request.headers_mut();
    headers.insert(HOST, kept.request.host.clone());
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("lvs-rs/", env!("CARGO_PKG_VERSION"))),
    );
    headers.insert(
        CONNECTION,
        HeaderValue::from_static(if check.reuse_connection {
            "keep-alive"
        } else {
            "close"
        }),
    );
    let sender = &mut kept.sender;
    let answer = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| Failure::BadResponse(e.to_string()))?;
        let code = response.status().as_u16();
        let judged = check.body.is_some() || check.digest.is_some();
        if !judged {
            // The status decides. A kept connection takes the next request
            // only once this body is read; one too long to read is not kept.
            let drained = check.reuse_connection && drain(response.into_body()).await;
            return Ok((
                check.accepts(code).then_some(()).ok_or(Failure::Status(code)),
                drained,
            ));
        }
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| Failure::Read(e.to_string()))?
            .to_bytes();
        if !check.accepts(code) {
            return Ok((Err(Failure::Status(code)), true));
        }
        if let Some(body_re) = &check.body {
            if !body_re.is_match(&body) {
                return Ok((Err(Failure::Mismatch("the body does not match".into())), true));
            }
        }
        if let Some(wanted) = &check.digest {
            let got: [u8; 16] = Md5::digest(&body).into();
            if got != *wanted {
                return Ok((
                    Err(Failure::Digest(got.iter().map(|b| format!("{b:02x}")).collect())),
                    true,
                ));
            }
        }
        Ok((Ok(()), true))
    };
    // The connection is driven alongside the answer; when it ends first
    // (the server closed it), what it read is still delivered to the answer.
    let connection = &mut kept.connection;
    let ended = &mut kept.ended;
    let mut answer = std::pin::pin!(answer);
    let both = async {
        tokio::select! {
            result = &mut answer => result,
            end = connection.as_mut() => {
                *ended = true;
                match end {
                    Err(e) if !e.is_incomplete_message() => Err(Failure::Read(e.to_string())),
                    _ => answer.await,
                }
            }
        }
    };
    match timeout_at(deadline, both).await {
        Err(_) => {
            // A connection that timed out mid-answer cannot take another request.
            kept.ended = true;
            Err(Failure::ReadTimeout)
        }
        // The verdict, and whether the body was read to its end.
        Ok(Ok((verdict, drained))) => {
            kept.ended |= !drained;
            verdict
        }
        Ok(Err(failure)) => Err(failure),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_prepared_request_is_for_its_own_path_and_host() {
        let target: SocketAddr = "192.0.2.7:8080".parse().unwrap();
        let check = HttpCheck::get("/health");
        let prepared = Prepared::new(&check, target).unwrap();
        assert_eq!(
            prepared.host, "192.0.2.7:8080",
            "the server's address when no host is named"
        );
        assert_eq!(prepared.uri, "/health");
        assert!(prepared.made_for(&check));

        let mut named = check.clone();
        named.host = Some("www.example.org".into());
        assert!(
            !prepared.made_for(&named),
            "another Host header is another request"
        );
        assert_eq!(Prepared::new(&named, target).unwrap().host, "www.example.org");
        let mut elsewhere = check.clone();
        elsewhere.path = "/other".into();
        assert!(!prepared.made_for(&elsewhere));

        let v6: SocketAddr = "[2001:db8::7]:80".parse().unwrap();
        assert_eq!(Prepared::new(&check, v6).unwrap().host, "[2001:db8::7]:80");
        let mut spaced = check.clone();
        spaced.path = "/a b".into();
        assert!(matches!(Prepared::new(&spaced, target), Err(Failure::Send(_))));
    }
}
