//! The front door's settings: TLS, trusted proxies, body limits, connection limits and
//! timeouts. Each is a `keyplane serve` flag, a `KEYPLANE_*` environment variable and a key
//! of the TOML file; defaults are in [`crate::http::limits`] and [`crate::http::tls`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;

use super::FileConfig;
use crate::http::client_address::{parse_network, ForwardingHeader, TrustedProxies};
use crate::http::limits::{self, BodyLimits, BodyRate, ConnectionLimits, FrontLimits};
use crate::http::tls::{TlsFiles, DEFAULT_RELOAD_INTERVAL_SECONDS};

/// Front-door flags of `keyplane serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct FrontArgs {
    /// PEM certificate chain: serve HTTPS (with --tls-key). Reloaded on SIGHUP or when the
    /// file changes.
    #[arg(long, env = "KEYPLANE_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "KEYPLANE_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Seconds between checks of the certificate files for a renewal. Default 30.
    #[arg(long, env = "KEYPLANE_TLS_RELOAD_INTERVAL")]
    pub tls_reload_interval: Option<u64>,
    /// A reverse proxy's address or network (CIDR) whose forwarding header names the client.
    /// Repeatable; the environment variable takes a comma-separated list.
    #[arg(
        long = "trusted-proxy",
        env = "KEYPLANE_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// The header trusted proxies write: x-forwarded-for (default) or forwarded (RFC 7239).
    #[arg(long, env = "KEYPLANE_PROXY_HEADER")]
    pub proxy_header: Option<ForwardingHeader>,
    /// Largest request body of the Tencent and Alibaba management APIs. Default 65536.
    #[arg(long, env = "KEYPLANE_MAX_REQUEST_BODY_BYTES")]
    pub max_request_body_bytes: Option<usize>,
    /// Largest body of an SMC agent registration. Default 8192.
    #[arg(long, env = "KEYPLANE_MAX_REGISTRATION_BODY_BYTES")]
    pub max_registration_body_bytes: Option<usize>,
    /// Largest body of a PAI-EAS API request. Default 4096.
    #[arg(long, env = "KEYPLANE_MAX_EAS_BODY_BYTES")]
    pub max_eas_body_bytes: Option<usize>,
    /// Request-body bytes buffered at once across all connections. Default 67108864.
    #[arg(long, env = "KEYPLANE_MAX_BUFFERED_BODY_BYTES")]
    pub max_buffered_body_bytes: Option<usize>,
    /// Open client connections at most. Default 4096.
    #[arg(long, env = "KEYPLANE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Open connections from one TCP peer address (IPv6: one /64) at most. Default 256.
    #[arg(long, env = "KEYPLANE_MAX_CONNECTIONS_PER_ADDRESS")]
    pub max_connections_per_address: Option<usize>,
    /// Seconds a client has for its request headers (and an idle keep-alive connection is
    /// kept). Default 10.
    #[arg(long, env = "KEYPLANE_HEADER_READ_TIMEOUT")]
    pub header_read_timeout: Option<u64>,
    /// Seconds a client has for a whole request body. Default 30.
    #[arg(long, env = "KEYPLANE_BODY_READ_TIMEOUT")]
    pub body_read_timeout: Option<u64>,
    /// Minimum request-body send rate, bytes per second, after the grace period (0: none).
    /// Default 1024.
    #[arg(long, env = "KEYPLANE_MIN_BODY_RATE")]
    pub min_body_rate: Option<u64>,
    /// Seconds before the minimum body rate applies, and the longest pause within a body.
    /// Default 5.
    #[arg(long, env = "KEYPLANE_BODY_RATE_GRACE")]
    pub body_rate_grace: Option<u64>,
}

/// The front door, resolved.
#[derive(Debug, Clone)]
pub struct FrontConfig {
    pub limits: FrontLimits,
    pub trusted_proxies: TrustedProxies,
    /// `None`: plain HTTP.
    pub tls: Option<TlsFiles>,
}

fn seconds(name: &str, value: u64) -> anyhow::Result<Duration> {
    if !(1..=3600).contains(&value) {
        bail!("{name} must be 1 to 3600 seconds, not {value}");
    }
    Ok(Duration::from_secs(value))
}

fn body_limit(name: &str, value: usize) -> anyhow::Result<usize> {
    if !(1..=limits::MAX_CONFIGURABLE_BODY_BYTES).contains(&value) {
        bail!(
            "{name} must be 1 to {} bytes, not {value}",
            limits::MAX_CONFIGURABLE_BODY_BYTES
        );
    }
    Ok(value)
}

fn at_least_one(name: &str, value: usize) -> anyhow::Result<usize> {
    if value == 0 {
        bail!("{name} must be at least 1");
    }
    Ok(value)
}

impl FrontConfig {
    /// Flags and environment over the file over defaults.
    pub fn resolve(args: &FrontArgs, file: &FileConfig) -> anyhow::Result<Self> {
        let defaults = FrontLimits::default();
        let tls = match (
            args.tls_cert.clone().or_else(|| file.tls_cert.clone()),
            args.tls_key.clone().or_else(|| file.tls_key.clone()),
        ) {
            (Some(certificate), Some(private_key)) => Some(TlsFiles {
                certificate,
                private_key,
                reload_interval: seconds(
                    "the TLS reload interval",
                    args.tls_reload_interval
                        .or(file.tls_reload_interval_seconds)
                        .unwrap_or(DEFAULT_RELOAD_INTERVAL_SECONDS),
                )?,
            }),
            (None, None) => None,
            _ => bail!("TLS needs both a certificate (--tls-cert) and a key (--tls-key)"),
        };
        let network_texts: Vec<&str> = if args.trusted_proxies.is_empty() {
            file.trusted_proxies.iter().map(String::as_str).collect()
        } else {
            args.trusted_proxies.iter().map(String::as_str).collect()
        };
        let networks = network_texts
            .into_iter()
            .filter(|text| !text.trim().is_empty())
            .map(|text| parse_network(text).context("a trusted proxy"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let limits = FrontLimits {
            body: BodyLimits {
                api: body_limit(
                    "max_request_body_bytes",
                    args.max_request_body_bytes
                        .or(file.max_request_body_bytes)
                        .unwrap_or(defaults.body.api),
                )?,
                registration: body_limit(
                    "max_registration_body_bytes",
                    args.max_registration_body_bytes
                        .or(file.max_registration_body_bytes)
                        .unwrap_or(defaults.body.registration),
                )?,
                eas: body_limit(
                    "max_eas_body_bytes",
                    args.max_eas_body_bytes
                        .or(file.max_eas_body_bytes)
                        .unwrap_or(defaults.body.eas),
                )?,
            },
            body_rate: BodyRate {
                timeout: seconds(
                    "the body read timeout",
                    args.body_read_timeout
                        .or(file.body_read_timeout_seconds)
                        .unwrap_or(limits::DEFAULT_BODY_READ_TIMEOUT_SECONDS),
                )?,
                min_bytes_per_second: args
                    .min_body_rate
                    .or(file.min_body_bytes_per_second)
                    .unwrap_or(defaults.body_rate.min_bytes_per_second),
                grace: seconds(
                    "the body rate grace period",
                    args.body_rate_grace
                        .or(file.body_rate_grace_seconds)
                        .unwrap_or(limits::DEFAULT_BODY_RATE_GRACE_SECONDS),
                )?,
            },
            max_buffered_body_bytes: at_least_one(
                "max_buffered_body_bytes",
                args.max_buffered_body_bytes
                    .or(file.max_buffered_body_bytes)
                    .unwrap_or(defaults.max_buffered_body_bytes),
            )?,
            connections: ConnectionLimits {
                max_total: at_least_one(
                    "max_connections",
                    args.max_connections
                        .or(file.max_connections)
                        .unwrap_or(defaults.connections.max_total),
                )?,
                max_per_address: at_least_one(
                    "max_connections_per_address",
                    args.max_connections_per_address
                        .or(file.max_connections_per_address)
                        .unwrap_or(defaults.connections.max_per_address),
                )?,
            },
            header_read_timeout: seconds(
                "the header read timeout",
                args.header_read_timeout
                    .or(file.header_read_timeout_seconds)
                    .unwrap_or(limits::DEFAULT_HEADER_READ_TIMEOUT_SECONDS),
            )?,
        };
        Ok(Self {
            limits,
            trusted_proxies: TrustedProxies::new(
                networks,
                args.proxy_header.or(file.proxy_header).unwrap_or_default(),
            ),
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_sets_every_front_door_key_and_flags_win() {
        let file: FileConfig = toml::from_str(
            r#"
            tls_cert = "/etc/keyplane/cert.pem"
            tls_key = "/etc/keyplane/key.pem"
            tls_reload_interval_seconds = 5
            trusted_proxies = ["10.0.0.0/8", "192.0.2.1"]
            proxy_header = "forwarded"
            max_request_body_bytes = 32768
            max_registration_body_bytes = 2048
            max_eas_body_bytes = 1024
            max_buffered_body_bytes = 1048576
            max_connections = 100
            max_connections_per_address = 10
            header_read_timeout_seconds = 4
            body_read_timeout_seconds = 8
            min_body_bytes_per_second = 0
            body_rate_grace_seconds = 2
            "#,
        )
        .unwrap();
        let resolved = FrontConfig::resolve(&FrontArgs::default(), &file).unwrap();
        let tls = resolved.tls.unwrap();
        assert_eq!(tls.certificate, PathBuf::from("/etc/keyplane/cert.pem"));
        assert_eq!(tls.reload_interval, Duration::from_secs(5));
        assert!(resolved.trusted_proxies.trusts("10.9.8.7".parse().unwrap()));
        assert!(resolved
            .trusted_proxies
            .trusts("192.0.2.1".parse().unwrap()));
        assert!(!resolved
            .trusted_proxies
            .trusts("192.0.2.2".parse().unwrap()));
        let limits = resolved.limits;
        assert_eq!(
            limits.body,
            BodyLimits {
                api: 32768,
                registration: 2048,
                eas: 1024
            }
        );
        assert_eq!(limits.max_buffered_body_bytes, 1_048_576);
        assert_eq!(limits.connections.max_total, 100);
        assert_eq!(limits.connections.max_per_address, 10);
        assert_eq!(limits.header_read_timeout, Duration::from_secs(4));
        assert_eq!(limits.body_rate.timeout, Duration::from_secs(8));
        assert_eq!(limits.body_rate.min_bytes_per_second, 0);

        let flags = FrontArgs {
            trusted_proxies: vec!["127.0.0.0/8".to_owned()],
            max_request_body_bytes: Some(1000),
            ..FrontArgs::default()
        };
        let resolved = FrontConfig::resolve(&flags, &file).unwrap();
        assert!(!resolved.trusted_proxies.trusts("10.9.8.7".parse().unwrap()));
        assert_eq!(resolved.limits.body.api, 1000);
    }

    #[test]
    fn defaults_and_refusals() {
        let resolved = FrontConfig::resolve(&FrontArgs::default(), &FileConfig::default()).unwrap();
        assert!(resolved.tls.is_none());
        assert_eq!(resolved.limits, FrontLimits::default());
        for args in [
            FrontArgs {
                tls_cert: Some("cert.pem".into()),
                ..FrontArgs::default()
            },
            FrontArgs {
                trusted_proxies: vec!["10.0.0.0/40".to_owned()],
                ..FrontArgs::default()
            },
            FrontArgs {
                max_request_body_bytes: Some(0),
                ..FrontArgs::default()
            },
            FrontArgs {
                max_request_body_bytes: Some(limits::MAX_CONFIGURABLE_BODY_BYTES + 1),
                ..FrontArgs::default()
            },
            FrontArgs {
                max_connections: Some(0),
                ..FrontArgs::default()
            },
            FrontArgs {
                header_read_timeout: Some(0),
                ..FrontArgs::default()
            },
        ] {
            assert!(FrontConfig::resolve(&args, &FileConfig::default()).is_err());
        }
    }
}
