//! TLS for the checks that speak it (HTTPS, TLS handshakes, STARTTLS):
//! rustls client settings built from a [`TlsCheck`], kept while the files
//! they were read from are unchanged, and the handshake itself.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use lvs_core::check::{Failure, TlsCheck, TlsVersion};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::timeout;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Why a check's TLS settings cannot be used: its line in lvs.cf is an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// A file could not be read or held no PEM object of the kind wanted.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        why: String,
    },
    /// rustls refused the settings (a key that does not match the certificate).
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
    /// The system's root certificates could not be read.
    #[error("no system root certificates: {0}")]
    NoRoots(String),
}

/// The client settings of `check`, built once and kept while none of the
/// files they come from has changed (a certificate renewed in place is read
/// at the next check, without a reload).
pub fn client_config(check: &TlsCheck) -> Result<Arc<ClientConfig>, TlsSetupError> {
    type Cache = Mutex<HashMap<TlsCheck, (Vec<Option<SystemTime>>, Arc<ClientConfig>)>>;
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let stamps = file_stamps(check);
    let cache = CACHE.get_or_init(Cache::default);
    if let Ok(cache) = cache.lock() {
        if let Some((seen, config)) = cache.get(check) {
            if *seen == stamps {
                return Ok(Arc::clone(config));
            }
        }
    }
    let config = Arc::new(build(check)?);
    if let Ok(mut cache) = cache.lock() {
        cache.insert(check.clone(), (stamps, Arc::clone(&config)));
    }
    Ok(config)
}

/// The check blocks of `config`'s services whose TLS settings cannot be
/// used (a CA file that does not parse, a key that does not match its
/// certificate), as lvs.cf errors on the line of the key that names the
/// file: the daemons refuse such a file at start and on reload, and
/// `lvs --check` reports it, instead of a server that silently stays down.
pub fn file_problems(config: &lvs_cf::Config, map: &lvs_cf::SourceMap) -> Vec<lvs_cf::Diagnostic> {
    let blocks = match config.service {
        lvs_cf::ServiceType::Fos => &map.failover_services,
        _ => &map.virtual_services,
    };
    let mut problems = Vec::new();
    // Only what runs: the planner skips inactive services and servers.
    for (vs, block) in config
        .services_in_use()
        .iter()
        .zip(blocks)
        .filter(|(vs, _)| vs.active)
    {
        let owners = std::iter::once((format!("`{}`", vs.name), &vs.checks, &block.checks)).chain(
            vs.servers
                .iter()
                .zip(&block.servers)
                .filter(|(server, _)| server.active)
                .map(|(server, server_block)| {
                    (
                        format!("server `{}` of `{}`", server.name, vs.name),
                        &server.checks,
                        &server_block.checks,
                    )
                }),
        );
        for (owner, checks, maps) in owners {
            for (check, check_map) in checks.iter().zip(maps) {
                let Some(error) = lvs_core::director::block_check(check)
                    .ok()
                    .and_then(|planned| planned.tls().map(|tls| client_config(tls).err()))
                    .flatten()
                else {
                    continue;
                };
                let key = match &error {
                    TlsSetupError::File { path, .. } => [
                        ("ca_file", &check.ca_file),
                        ("client_cert", &check.client_cert),
                        ("client_key", &check.client_key),
                    ]
                    .into_iter()
                    .find(|(_, value)| value.as_deref().map(Path::new) == Some(path.as_path()))
                    .map(|(key, _)| key),
                    _ => None,
                };
                problems.push(lvs_cf::Diagnostic {
                    file: None,
                    severity: lvs_cf::Severity::Error,
                    line: Some(key.map_or(check_map.header.line, |key| check_map.line_of(key))),
                    message: format!("check `{}` of {owner}: {error}", check.name),
                });
            }
        }
    }
    problems
}

/// The modification times of the files `check` reads.
fn file_stamps(check: &TlsCheck) -> Vec<Option<SystemTime>> {
    let files = check
        .ca_file
        .iter()
        .chain(check.client.iter().flat_map(|(cert, key)| [cert, key]));
    files
        .map(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
        .collect()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn build(check: &TlsCheck) -> Result<ClientConfig, TlsSetupError> {
    let versions: &[&rustls::SupportedProtocolVersion] = match check.min_version {
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
        _ => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let builder = ClientConfig::builder_with_provider(provider()).with_protocol_versions(versions)?;
    let builder = if check.verify {
        builder.with_root_certificates(roots(check.ca_file.as_deref())?)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
    };
    let mut config = match &check.client {
        Some((cert, key)) => {
            let chain = certificates(cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsSetupError::File {
                path: key.clone(),
                why: format!("no private key: {e}"),
            })?;
            builder.with_client_auth_cert(chain, key)?
        }
        None => builder.with_no_client_auth(),
    };
    // A check is one handshake: nothing to resume, nothing to keep.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let file_error = |why: String| TlsSetupError::File {
        path: path.to_owned(),
        why,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(e.to_string()))?;
    if certs.is_empty() {
        return Err(file_error("no PEM certificate in it".to_owned()));
    }
    Ok(certs)
}

fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, TlsSetupError> {
    let mut store = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in certificates(path)? {
                store.add(cert).map_err(|e| TlsSetupError::File {
                    path: path.to_owned(),
                    why: format!("not a usable CA certificate: {e}"),
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none found".to_owned(), ToString::to_string);
                return Err(TlsSetupError::NoRoots(why));
            }
            store.add_parsable_certificates(found.certs);
        }
    }
    Ok(store)
}

/// `verify = 0`: any certificate is taken, but the handshake's signatures
/// are still checked, so the server must hold the key of what it sent.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The name a handshake with `target` sends and verifies: `name` when
/// given (an IP literal is verified as an address), else the address.
fn server_name(name: Option<&str>, target: SocketAddr) -> Result<ServerName<'static>, Failure> {
    match name {
        Some(name) => ServerName::try_from(name.to_owned())
            .map_err(|e| Failure::TlsSetup(format!("`{name}` is not a server name: {e}"))),
        None => Ok(ServerName::IpAddress(target.ip().into())),
    }
}

/// A TLS connection to `target` (from `source` when given): the handshake
/// permit, the connection and the handshake, with when the certificate
/// expires.
pub(crate) async fn connect(
    target: SocketAddr,
    source: Option<std::net::IpAddr>,
    check: &TlsCheck,
    limit: Duration,
) -> Result<(TlsStream<tokio::net::TcpStream>, Option<SystemTime>), Failure> {
    let _permit = handshake_permit().await?;
    let stream = crate::run::connect(target, source, limit).await?;
    handshake(stream, check, target, limit).await
}

/// The most TLS handshakes the checks make at once.
pub const MAX_HANDSHAKES: usize = 32;

/// Leave to make a TLS handshake, held from before the connection opens
/// until the handshake ends: at most [`MAX_HANDSHAKES`] at once, the wait
/// not counted in the check's time. A director that starts with a thousand
/// HTTPS servers would otherwise begin a thousand handshakes each second, and
/// on a slow machine every one would time out, every second, for ever.
pub(crate) async fn handshake_permit() -> Result<tokio::sync::SemaphorePermit<'static>, Failure> {
    static HANDSHAKES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_HANDSHAKES);
    HANDSHAKES
        .acquire()
        .await
        .map_err(|e| Failure::Tls(e.to_string()))
}

/// A completed handshake over `stream`, with when its certificate expires.
/// The name sent and verified is `check`'s `sni`, else `target`'s address.
pub async fn handshake<S>(
    stream: S,
    check: &TlsCheck,
    target: SocketAddr,
    limit: Duration,
) -> Result<(TlsStream<S>, Option<SystemTime>), Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = server_name(check.sni.as_deref(), target)?;
    let config = client_config(check).map_err(|e| Failure::TlsSetup(e.to_string()))?;
    let connector = TlsConnector::from(config);
    let stream = match timeout(limit, connector.connect(name, stream)).await {
        Err(_) => return Err(Failure::Tls("handshake timed out".to_owned())),
        Ok(Err(e)) => return Err(Failure::Tls(tls_error(&e))),
        Ok(Ok(stream)) => stream,
    };
    let expires = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|cert| not_after(cert));
    Ok((stream, expires))
}

/// The handshake's error as rustls words it (an IO error wraps it).
fn tls_error(error: &std::io::Error) -> String {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => tls.to_string(),
        None => error.to_string(),
    }
}

/// When the certificate stops being valid.
fn not_after(cert: &CertificateDer<'_>) -> Option<SystemTime> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let seconds = parsed.validity().not_after.timestamp();
    let seconds = u64::try_from(seconds).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}
