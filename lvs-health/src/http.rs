//! HTTP and HTTPS checks: one request on a connection of its own, through
//! hyper's HTTP/1 client (so chunked bodies, `Content-Length` and HTTP/1.1
//! are read as HTTP means them), the status, body and digest then compared.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{CONNECTION, HOST, USER_AGENT};
use hyper::{Method, Request, Version};
use hyper_util::rt::TokioIo;
use lvs_core::check::{Failure, HttpCheck, HttpMethod, HttpVersion};
use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::timeout;

use crate::run::{connect, Notes};

/// The most of a body read: a health page, not a download.
const MAX_BODY: usize = 1 << 20;

pub(crate) async fn run(
    check: &HttpCheck,
    target: SocketAddr,
    source: Option<IpAddr>,
    limit: Duration,
    notes: &mut Notes,
) -> Result<(), Failure> {
    let stream = connect(target, source, limit).await?;
    let host = check.host.clone().unwrap_or_else(|| authority(target));
    match &check.tls {
        None => exchange(stream, check, &host, limit).await,
        Some(tls) => {
            let name = crate::tls::server_name(tls.sni.as_deref(), target)?;
            let (stream, expires) = crate::tls::handshake(stream, tls, name, limit).await?;
            notes.certificate(expires);
            exchange(stream, check, &host, limit).await
        }
    }
}

/// `address:port` as a `Host` header writes it (IPv6 in brackets).
fn authority(target: SocketAddr) -> String {
    target.to_string()
}

async fn exchange<S>(stream: S, check: &HttpCheck, host: &str, limit: Duration) -> Result<(), Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let request = Request::builder()
        .method(match check.method {
            HttpMethod::Head => Method::HEAD,
            _ => Method::GET,
        })
        .uri(check.path.as_str())
        .version(match check.version {
            HttpVersion::Http11 => Version::HTTP_11,
            _ => Version::HTTP_10,
        })
        .header(HOST, host)
        .header(USER_AGENT, concat!("lvs-rs/", env!("CARGO_PKG_VERSION")))
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| Failure::Send(e.to_string()))?;
    let (mut sender, connection) =
        match timeout(limit, hyper::client::conn::http1::handshake(TokioIo::new(stream))).await {
            Err(_) => return Err(Failure::Send("timed out".to_owned())),
            Ok(Err(e)) => return Err(Failure::Send(e.to_string())),
            Ok(Ok(pair)) => pair,
        };
    let answer = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| Failure::BadResponse(e.to_string()))?;
        let code = response.status().as_u16();
        if !check.accepts(code) {
            return Err(Failure::Status(code));
        }
        if check.body.is_none() && check.digest.is_none() {
            return Ok(());
        }
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| Failure::Read(e.to_string()))?
            .to_bytes();
        if let Some(body_re) = &check.body {
            if !body_re.is_match(&body) {
                return Err(Failure::Mismatch("the body does not match".into()));
            }
        }
        if let Some(wanted) = &check.digest {
            let got: [u8; 16] = Md5::digest(&body).into();
            if got != *wanted {
                return Err(Failure::Digest(got.iter().map(|b| format!("{b:02x}")).collect()));
            }
        }
        Ok(())
    };
    // The connection is driven alongside the answer; when it ends first
    // (the server closed it), what it read is still delivered to the answer.
    let mut connection = std::pin::pin!(connection);
    let mut answer = std::pin::pin!(answer);
    let both = async {
        tokio::select! {
            result = &mut answer => result,
            ended = &mut connection => match ended {
                Err(e) if !e.is_incomplete_message() => Err(Failure::Read(e.to_string())),
                _ => answer.await,
            },
        }
    };
    match timeout(limit, both).await {
        Err(_) => Err(Failure::ReadTimeout),
        Ok(result) => result,
    }
}
