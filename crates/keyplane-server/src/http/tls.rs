//! Native TLS (rustls, ring provider): the certificate chain and private key are PEM files
//! (`--tls-cert`, `--tls-key`), read at start and again on SIGHUP or when either file's
//! modification time or size changes (checked every `reload_interval`). A new pair that does
//! not load, or whose key does not match its certificate, is logged and the pair in use is
//! kept, so a half-written renewal never takes the listener down.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Default interval between checks of the certificate files' modification times.
pub const DEFAULT_RELOAD_INTERVAL_SECONDS: u64 = 30;

/// Where the certificate and key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
    pub reload_interval: Duration,
}

/// Why a certificate pair could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading the certificate chain {path}: {source}")]
    Certificate {
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    #[error("the certificate file {0} holds no PEM certificate")]
    NoCertificate(PathBuf),
    #[error("reading the private key {path}: {source}")]
    PrivateKey {
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    #[error("the private key {path} is not usable: {source}")]
    UnusableKey {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("the private key {key} does not belong to the certificate {certificate}")]
    Mismatch { certificate: PathBuf, key: PathBuf },
    #[error("building the TLS configuration: {0}")]
    Configuration(rustls::Error),
}

/// The certificate served now; replaced whole on reload.
#[derive(Debug)]
struct CurrentCertificate(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().clone())
    }
}

/// The TLS side of the listener: the acceptor, and what reloading needs.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    current: Arc<CurrentCertificate>,
    provider: Arc<CryptoProvider>,
    files: TlsFiles,
}

fn load_pair(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_file_iter(&files.certificate)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Certificate {
            path: files.certificate.clone(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(files.certificate.clone()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.private_key).map_err(|source| {
        TlsError::PrivateKey {
            path: files.private_key.clone(),
            source,
        }
    })?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|source| TlsError::UnusableKey {
            path: files.private_key.clone(),
            source,
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        // A key whose public half cannot be computed cannot be checked; rustls then fails the
        // handshake itself, which the operator sees in the first client's error.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(_) => Err(TlsError::Mismatch {
            certificate: files.certificate.clone(),
            key: files.private_key.clone(),
        }),
    }
}

/// The files' modification times and sizes, to notice a renewal.
fn stamp(files: &TlsFiles) -> Option<[(SystemTime, u64); 2]> {
    let one = |path: &Path| {
        let metadata = std::fs::metadata(path).ok()?;
        Some((metadata.modified().ok()?, metadata.len()))
    };
    Some([one(&files.certificate)?, one(&files.private_key)?])
}

impl Tls {
    /// Loads the pair (an error here stops the server from starting).
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certified = load_pair(&files, &provider)?;
        let current = Arc::new(CurrentCertificate(RwLock::new(Arc::new(certified))));
        let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Configuration)?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            current,
            provider,
            files,
        })
    }

    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// Reads the files again; on failure the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let certified = load_pair(&self.files, &self.provider)?;
        *self.current.0.write() = Arc::new(certified);
        Ok(())
    }

    /// Reloads on SIGHUP and whenever the files change, until the task is aborted. SIGHUP is
    /// caught from the moment this returns.
    pub fn watch(self) -> tokio::task::JoinHandle<()> {
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(self.files.reload_interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_stamp = stamp(&self.files);
            loop {
                let reason = tokio::select! {
                    Some(()) = async {
                        match hangup.as_mut() {
                            Some(hangup) => hangup.recv().await,
                            None => std::future::pending().await,
                        }
                    } => "SIGHUP",
                    _ = ticker.tick() => {
                        let now = stamp(&self.files);
                        if now == last_stamp || now.is_none() {
                            continue;
                        }
                        "the files changed"
                    }
                };
                last_stamp = stamp(&self.files);
                match self.reload() {
                    Ok(()) => tracing::info!(
                        reason,
                        certificate = %self.files.certificate.display(),
                        "TLS certificate reloaded"
                    ),
                    Err(error) => tracing::warn!(
                        reason,
                        %error,
                        "the new TLS certificate was not loaded; the previous one stays in use"
                    ),
                }
            }
        })
    }
}
