//! `keyplane serve`: open (and if empty, initialise) the installation, then serve the APIs
//! until SIGTERM or Ctrl-C, with the background tasks a serving node runs: the periodic flush
//! of last-use records and audit events, nonce and instance-token expiry, the PostgreSQL
//! change listener that keeps the node's caches coherent, and the certificate watcher.

use std::sync::Arc;

use anyhow::Context;
use keyplane_aliyun::eas::PublicUrls;
use keyplane_core::{Authority, AuthorityConfig, Clock};
use keyplane_store::StoreChange;
use keyplane_tencent::TencentDialect;
use tokio::net::TcpListener;

use super::init::hand_over_root_credentials;
use crate::config::{LogFormat, ServeConfig};
use crate::http;
use crate::installation::{root_credentials_json, Backend, Installation, SystemClock};

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYPLANE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Expired nonces and long-expired instance tokens are removed every this many flushes (a
/// replay inside its window is refused whether or not its record was removed yet: expiry is
/// checked on insert; an expired token is refused whether or not it was removed).
const NONCE_EXPIRY_TICKS: u64 = 60;

/// The signal that ends `serve`. The SIGTERM handler is installed when this is called (not
/// when the future is first polled), so a SIGTERM that arrives as soon as the server says it
/// is listening still shuts it down gracefully instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let terminate = signal(SignalKind::terminate());
    let interrupt = tokio::signal::ctrl_c();
    async move {
        match terminate {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
}

/// Runs `keyplane serve` with its resolved configuration.
pub async fn run(config: ServeConfig) -> anyhow::Result<()> {
    init_logging(config.log_format);
    let authority_config = AuthorityConfig {
        rate_limits: config.rate_limits.clone(),
        api_keys_per_account: config.api_key_limit,
        key_cache_capacity: config.key_cache_capacity,
        instance_token_ttl: config.instance_token_ttl,
        authentication_failure_limit: config.authentication_failure_limit,
        ..AuthorityConfig::default()
    };
    let open_file_limit = http::listener::raise_open_file_limit();
    // A bad certificate stops the start, before anything is opened.
    let tls = config
        .front
        .tls
        .clone()
        .map(http::tls::Tls::load)
        .transpose()
        .context("loading the TLS certificate")?;
    let installation = Installation::open(&config.data, authority_config, true).await?;
    if !installation.is_initialized().await? {
        match installation.initialize().await {
            Ok(initialized) => {
                hand_over_root_credentials(&config.data, &root_credentials_json(&initialized))?
            }
            // Another node sharing the database initialised it first.
            Err(_) if installation.is_initialized().await? => {}
            Err(error) => return Err(error),
        }
    }
    let authority = installation.authority.clone();
    let key_change_listener = spawn_key_change_listener(&installation.backend, &authority);
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let address = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_urls = public_urls(&config, scheme, address)?;
    let state = Arc::new(http::AppState {
        tencent: TencentDialect::with_settings(authority.clone(), config.tencent),
        aliyun: keyplane_aliyun::AliyunDialect::new(authority.clone(), public_urls.clone()),
        clock: Arc::new(SystemClock),
        store: installation.backend.store(),
        authority: authority.clone(),
        gateway: crate::gateway::Gateway::new(config.gateway.clone(), &public_urls),
        front: http::FrontState::new(&config.front.limits, config.front.trusted_proxies.clone()),
    });
    let certificate_watcher = tls.clone().map(http::tls::Tls::watch);
    crate::gateway::revocation::watch(&state);
    match &config.gateway.session_user {
        Some(user) => tracing::info!(
            uid = user.uid,
            gid = user.gid,
            "EAS session programs run as"
        ),
        None => tracing::warn!(
            "EAS session programs run as the server's own user and can read what it can \
             (the master key, the database): set --session-user"
        ),
    }
    let shutdown = shutdown_signal();
    println!("listening on {scheme}://{address}");
    tracing::info!(
        %address,
        open_file_limit,
        public_url = public_urls.base(),
        data_dir = %config.data.data_dir.display(),
        "keyplane is serving"
    );

    let flusher = spawn_flusher(authority.clone(), config.flush_interval);
    let listener_settings = http::ListenerSettings {
        connections: config.front.limits.connections,
        header_read_timeout: config.front.limits.header_read_timeout,
        tls,
    };
    http::serve(
        listener,
        state,
        listener_settings,
        shutdown,
        config.shutdown_grace,
    )
    .await;
    flusher.abort();
    if let Some(certificate_watcher) = certificate_watcher {
        certificate_watcher.abort();
    }
    if let Some(key_change_listener) = key_change_listener {
        key_change_listener.abort();
    }
    if let Err(error) = authority.flush().await {
        tracing::error!(%error, "final flush failed");
    }
    installation.close().await;
    tracing::info!("keyplane stopped");
    Ok(())
}

/// On PostgreSQL, the task that makes this node forget what another node changed.
fn spawn_key_change_listener(
    backend: &Backend,
    authority: &Arc<Authority>,
) -> Option<tokio::task::JoinHandle<()>> {
    match backend {
        Backend::Postgres(store) => {
            let store = store.clone();
            let authority = authority.clone();
            Some(tokio::spawn(async move {
                store
                    .listen_for_changes(move |change| match change {
                        StoreChange::Key(id) => authority.forget_key(&id),
                        StoreChange::UserPermissions { account_id, uin } => {
                            authority.forget_user_permissions(account_id, uin)
                        }
                        StoreChange::Everything => authority.forget_everything(),
                    })
                    .await;
            }))
        }
        Backend::Sqlite(_) => None,
    }
}

/// The public URLs EAS tokens name: the configured ones, or the listening address.
fn public_urls(
    config: &ServeConfig,
    scheme: &str,
    address: std::net::SocketAddr,
) -> anyhow::Result<PublicUrls> {
    Ok(match &config.public_url {
        Some(public_urls) => public_urls.clone(),
        None => {
            if address.ip().is_unspecified() {
                tracing::warn!(
                    %address,
                    "listening on every interface without --public-url: EAS token URLs will name \
                     this unspecified address, which clients cannot reach"
                );
            }
            PublicUrls::new(&format!("{scheme}://{address}"))
                .context("the listening address does not make a public URL")?
        }
    })
}

/// The task that flushes last-use records and audit events every `interval`, expires nonces
/// and instance tokens every [`NONCE_EXPIRY_TICKS`] flushes, and reports dropped audit events.
fn spawn_flusher(
    authority: Arc<Authority>,
    interval: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        let mut dropped_reported = 0;
        let mut ticks: u64 = 0;
        loop {
            ticker.tick().await;
            if let Err(error) = authority.flush_due(SystemClock.now()).await {
                tracing::warn!(%error, "flushing last-use records and audit events failed");
            }
            ticks += 1;
            if ticks.is_multiple_of(NONCE_EXPIRY_TICKS) {
                if let Err(error) = authority.expire_nonces(SystemClock.now()).await {
                    tracing::warn!(%error, "removing expired nonces failed");
                }
                if let Err(error) = authority.expire_instance_tokens(SystemClock.now()).await {
                    tracing::warn!(%error, "removing expired instance tokens failed");
                }
            }
            let dropped = authority.dropped_audit_events() + authority.dropped_refusal_aggregates();
            if dropped > dropped_reported {
                tracing::warn!(
                    dropped = dropped - dropped_reported,
                    "audit events dropped: the buffer was full or the store unwritable"
                );
                dropped_reported = dropped;
            }
        }
    })
}
