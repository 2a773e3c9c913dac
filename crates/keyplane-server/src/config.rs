//! Configuration: one strict, typed [`ServeConfig`] resolved from command-line flags, then
//! `KEYPLANE_*` environment variables (clap reads both), then an optional TOML file (unknown
//! keys are an error), then defaults. The front door's settings are in [`front`].

pub mod front;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use keyplane_aliyun::eas::PublicUrls;
use keyplane_core::authentication_throttle::AuthenticationFailureLimit;
use keyplane_core::rate_limit::RateLimits;
use keyplane_core::rules::{DEFAULT_INSTANCE_TOKEN_TTL_SECONDS, MAX_INSTANCE_TOKEN_TTL_SECONDS};
use keyplane_tencent::TencentSettings;
use serde::Deserialize;

use crate::gateway::{
    GatewaySettings, SessionUser, DEFAULT_IDLE_TIMEOUT_SECONDS, DEFAULT_MAX_BROWSER_SESSIONS,
    DEFAULT_MAX_RUNNING_SESSIONS, DEFAULT_MAX_SESSION_SECONDS,
    DEFAULT_TERMINALS_PER_BROWSER_SESSION,
};

pub const DEFAULT_DATA_DIR: &str = "./keyplane-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Where the installation's files are, shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Data directory (master key, SQLite database). Default ./keyplane-data.
    #[arg(long, env = "KEYPLANE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Optional TOML configuration file.
    #[arg(long, env = "KEYPLANE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Master key file (default: <data-dir>/master.key, created on first start). The key
    /// itself may instead be given in the KEYPLANE_MASTER_KEY environment variable.
    #[arg(long, env = "KEYPLANE_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// PostgreSQL database (postgres://…) shared by every node; default: SQLite in the data
    /// directory.
    #[arg(long, env = "KEYPLANE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// Flags of `keyplane serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Address to listen on; a port of 0 picks a free one. Default 127.0.0.1:8080.
    #[arg(long, env = "KEYPLANE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Per-account rate limit override, PRODUCT:ACTION=PER_SECOND (0 removes the limit).
    /// Repeatable; the environment variable takes a comma-separated list.
    #[arg(
        long = "rate-limit",
        env = "KEYPLANE_RATE_LIMITS",
        value_delimiter = ','
    )]
    pub rate_limits: Vec<String>,
    /// Turn every rate limit off (for benchmarks).
    #[arg(long, env = "KEYPLANE_DISABLE_RATE_LIMITS", num_args = 0..=1, default_missing_value = "true")]
    pub disable_rate_limits: Option<bool>,
    /// How many API Gateway keys one account may hold. Default 500.
    #[arg(long, env = "KEYPLANE_API_KEY_LIMIT")]
    pub api_key_limit: Option<u32>,
    /// Log format: text or json. Default text.
    #[arg(long, env = "KEYPLANE_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Request-serving threads. Default: one per core.
    #[arg(long, env = "KEYPLANE_WORKER_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    pub worker_threads: Option<u16>,
    /// Keyplane's public base URL, from which the EAS instance-token URLs are made:
    /// http(s)://host[:port][/prefix]. Default: http://<the listening address>
    /// (https:// with --tls-cert).
    #[arg(long, env = "KEYPLANE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// How long an EAS instance token may be redeemed, in seconds (1 to 86400). Default 300.
    #[arg(long = "instance-token-ttl", env = "KEYPLANE_INSTANCE_TOKEN_TTL")]
    pub instance_token_ttl: Option<i64>,
    /// Close an EAS terminal after this many seconds without traffic either way (1 to
    /// 604800). Default 900.
    #[arg(long = "terminal-idle-timeout", env = "KEYPLANE_TERMINAL_IDLE_TIMEOUT")]
    pub terminal_idle_timeout: Option<u64>,
    /// The longest an EAS terminal, log stream or Workbench browser session lasts, in seconds
    /// (1 to 604800). Default 3600.
    #[arg(long = "terminal-max-session", env = "KEYPLANE_TERMINAL_MAX_SESSION")]
    pub terminal_max_session: Option<u64>,
    /// EAS terminals and log streams running at once (1 to 100000). Default 64.
    #[arg(long, env = "KEYPLANE_MAX_RUNNING_SESSIONS")]
    pub max_running_sessions: Option<usize>,
    /// Terminals one Workbench browser session may have open at once (1 to 100). Default 1.
    #[arg(long, env = "KEYPLANE_TERMINALS_PER_BROWSER_SESSION")]
    pub terminals_per_browser_session: Option<usize>,
    /// Workbench browser sessions held at once; past it new ones are refused (1 to 1000000).
    /// Default 10000.
    #[arg(long, env = "KEYPLANE_MAX_BROWSER_SESSIONS")]
    pub max_browser_sessions: Option<usize>,
    /// The user (and group) EAS session programs run as: USER[:GROUP], names or numbers.
    /// Default when the server runs as root: nobody; otherwise the server's own user.
    #[arg(long, env = "KEYPLANE_SESSION_USER")]
    pub session_user: Option<String>,
    /// Accept Tencent TC3 requests with `X-TC-Content-SHA256: UNSIGNED-PAYLOAD`, whose body the
    /// signature does not cover. Default false.
    #[arg(long, env = "KEYPLANE_ALLOW_UNSIGNED_PAYLOAD", num_args = 0..=1, default_missing_value = "true")]
    pub allow_unsigned_payload: Option<bool>,
    /// Refuse Tencent TC3 requests that do not sign the `x-tc-action` header. Default false.
    #[arg(long, env = "KEYPLANE_REQUIRE_SIGNED_ACTION", num_args = 0..=1, default_missing_value = "true")]
    pub require_signed_action: Option<bool>,
    /// Accept in a Tencent TC3 credential scope only the product's own service (`cam`,
    /// `apigateway`), not the host's first label the Node SDK signs. Default false.
    #[arg(long, env = "KEYPLANE_STRICT_CREDENTIAL_SCOPE", num_args = 0..=1, default_missing_value = "true")]
    pub strict_credential_scope: Option<bool>,
    /// Failed authentications one source address may make per second (after the burst) before
    /// its requests are refused with the dialect's throttling error; 0 turns it off. Default 10.
    #[arg(long = "auth-failure-limit", env = "KEYPLANE_AUTH_FAILURE_LIMIT")]
    pub auth_failure_limit: Option<u32>,
    /// Failed authentications one source address may make at once. Default 100.
    #[arg(long = "auth-failure-burst", env = "KEYPLANE_AUTH_FAILURE_BURST")]
    pub auth_failure_burst: Option<u32>,
    #[command(flatten)]
    pub front: front::FrontArgs,
}

/// How logs are written (to standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The optional TOML file. Every key is optional; unknown keys are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub master_key_file: Option<PathBuf>,
    pub database_url: Option<String>,
    pub database_max_connections: Option<u32>,
    pub database_acquire_timeout_seconds: Option<u64>,
    /// Group commit on PostgreSQL: write batches in flight at once per node.
    pub database_write_batches_in_flight: Option<usize>,
    /// Key-listing queries in flight at once per node (PostgreSQL).
    pub database_listing_queries_in_flight: Option<usize>,
    pub listen: Option<SocketAddr>,
    pub disable_rate_limits: Option<bool>,
    /// `"product:Action" = per_second`
    #[serde(default)]
    pub rate_limits: BTreeMap<String, u32>,
    pub api_key_limit: Option<u32>,
    pub log_format: Option<LogFormat>,
    pub key_cache_capacity: Option<u64>,
    pub flush_interval_milliseconds: Option<u64>,
    pub shutdown_grace_seconds: Option<u64>,
    pub worker_threads: Option<u16>,
    pub public_url: Option<String>,
    pub instance_token_ttl_seconds: Option<i64>,
    pub terminal_idle_timeout_seconds: Option<u64>,
    pub terminal_max_session_seconds: Option<u64>,
    pub max_running_sessions: Option<usize>,
    pub terminals_per_browser_session: Option<usize>,
    pub max_browser_sessions: Option<usize>,
    pub session_user: Option<String>,
    pub allow_unsigned_payload: Option<bool>,
    pub require_signed_action: Option<bool>,
    pub strict_credential_scope: Option<bool>,
    pub auth_failure_limit: Option<u32>,
    pub auth_failure_burst: Option<u32>,
    // The front door (see `front`).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_reload_interval_seconds: Option<u64>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    pub proxy_header: Option<crate::http::client_address::ForwardingHeader>,
    pub max_request_body_bytes: Option<usize>,
    pub max_registration_body_bytes: Option<usize>,
    pub max_eas_body_bytes: Option<usize>,
    pub max_buffered_body_bytes: Option<usize>,
    pub max_connections: Option<usize>,
    pub max_connections_per_address: Option<usize>,
    pub header_read_timeout_seconds: Option<u64>,
    pub body_read_timeout_seconds: Option<u64>,
    pub min_body_bytes_per_second: Option<u64>,
    pub body_rate_grace_seconds: Option<u64>,
}

impl FileConfig {
    /// Reads the file named by `--config`, or the empty configuration.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the configuration file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("parsing the configuration file {}", path.display()))
    }
}

/// Where the data lives, resolved.
#[derive(Clone)]
pub struct DataConfig {
    pub data_dir: PathBuf,
    pub master_key_file: PathBuf,
    /// PostgreSQL URL; `None` means SQLite in `data_dir`.
    pub database_url: Option<String>,
    pub pool: keyplane_store::postgres::PoolSettings,
}

impl std::fmt::Debug for DataConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("DataConfig")
            .field("data_dir", &self.data_dir)
            .field("master_key_file", &self.master_key_file)
            .field(
                "database",
                &self.database_url.as_ref().map(|_| "postgres (URL hidden)"),
            )
            .field("pool", &self.pool)
            .finish()
    }
}

impl DataConfig {
    pub fn resolve(args: &DataArgs, file: &FileConfig) -> Self {
        let data_dir = args
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let master_key_file = args
            .master_key_file
            .clone()
            .or_else(|| file.master_key_file.clone())
            .unwrap_or_else(|| data_dir.join("master.key"));
        let defaults = keyplane_store::postgres::PoolSettings::default();
        Self {
            data_dir,
            master_key_file,
            database_url: args
                .database_url
                .clone()
                .or_else(|| file.database_url.clone())
                .filter(|url| !url.is_empty()),
            pool: keyplane_store::postgres::PoolSettings {
                max_connections: file
                    .database_max_connections
                    .unwrap_or(defaults.max_connections),
                acquire_timeout: file
                    .database_acquire_timeout_seconds
                    .map(Duration::from_secs)
                    .unwrap_or(defaults.acquire_timeout),
                write_batches: keyplane_store::postgres::BatchLimits {
                    in_flight: file
                        .database_write_batches_in_flight
                        .unwrap_or(defaults.write_batches.in_flight),
                    ..defaults.write_batches
                },
                listing_batches: keyplane_store::postgres::BatchLimits {
                    in_flight: file
                        .database_listing_queries_in_flight
                        .unwrap_or(defaults.listing_batches.in_flight),
                    ..defaults.listing_batches
                },
            },
        }
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("keyplane.db")
    }
}

/// Everything `keyplane serve` runs with.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data: DataConfig,
    pub listen: SocketAddr,
    pub rate_limits: RateLimits,
    pub api_key_limit: u32,
    pub log_format: LogFormat,
    pub key_cache_capacity: u64,
    pub flush_interval: Duration,
    pub shutdown_grace: Duration,
    /// `None`: one per core.
    pub worker_threads: Option<usize>,
    /// Where EAS instance-token URLs point; `None`: `http://` (`https://` with TLS) and the
    /// address actually bound.
    pub public_url: Option<PublicUrls>,
    /// How long an EAS instance token may be redeemed.
    pub instance_token_ttl: time::Duration,
    /// The terminal gateway's idle timeout and maximum session length.
    pub gateway: GatewaySettings,
    /// Which Tencent signatures are accepted.
    pub tencent: TencentSettings,
    /// How often a source address may fail authentication before it is throttled.
    pub authentication_failure_limit: AuthenticationFailureLimit,
    /// TLS, trusted proxies, body and connection limits.
    pub front: front::FrontConfig,
}

/// The longest terminal idle timeout or session length accepted: a week.
pub const MAX_TERMINAL_SECONDS: u64 = 7 * 24 * 3600;

fn terminal_seconds(name: &str, seconds: u64) -> anyhow::Result<Duration> {
    if !(1..=MAX_TERMINAL_SECONDS).contains(&seconds) {
        bail!("{name} must be 1 to {MAX_TERMINAL_SECONDS} seconds, not {seconds}");
    }
    Ok(Duration::from_secs(seconds))
}

fn session_count(name: &str, value: usize, max: usize) -> anyhow::Result<usize> {
    if !(1..=max).contains(&value) {
        bail!("{name} must be 1 to {max}, not {value}");
    }
    Ok(value)
}

fn parse_rate_limit(text: &str) -> anyhow::Result<(String, u32)> {
    let Some((name, per_second)) = text.split_once('=') else {
        bail!("rate limit `{text}` is not PRODUCT:ACTION=PER_SECOND");
    };
    let name = name.trim();
    if !name.contains(':') {
        bail!("rate limit `{text}` is not PRODUCT:ACTION=PER_SECOND");
    }
    let per_second = per_second
        .trim()
        .parse::<u32>()
        .with_context(|| format!("rate limit `{text}`: PER_SECOND must be a whole number"))?;
    Ok((name.to_owned(), per_second))
}

/// The rate limits a server starts from, before its configuration overrides any: every
/// dialect's published defaults (only Tencent's actions have any).
pub fn default_rate_limits() -> RateLimits {
    RateLimits::with_defaults(keyplane_tencent::default_rate_limits())
}

impl ServeConfig {
    /// Resolves flags and environment over the file over defaults.
    pub fn resolve(args: &ServeArgs) -> anyhow::Result<Self> {
        let file = FileConfig::load(args.data.config.as_deref())?;
        let mut rate_limits = default_rate_limits();
        for (name, per_second) in &file.rate_limits {
            rate_limits.set(name, *per_second);
        }
        for text in args
            .rate_limits
            .iter()
            .filter(|text| !text.trim().is_empty())
        {
            let (name, per_second) = parse_rate_limit(text)?;
            rate_limits.set(&name, per_second);
        }
        if args
            .disable_rate_limits
            .or(file.disable_rate_limits)
            .unwrap_or(false)
        {
            rate_limits.disable();
        }
        Ok(Self {
            front: front::FrontConfig::resolve(&args.front, &file)?,
            data: DataConfig::resolve(&args.data, &file),
            listen: match args.listen.or(file.listen) {
                Some(listen) => listen,
                None => DEFAULT_LISTEN.parse()?,
            },
            rate_limits,
            api_key_limit: args
                .api_key_limit
                .or(file.api_key_limit)
                .unwrap_or(keyplane_core::rules::DEFAULT_API_KEYS_PER_ACCOUNT),
            log_format: args
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
            key_cache_capacity: file.key_cache_capacity.unwrap_or(1_000_000),
            flush_interval: Duration::from_millis(file.flush_interval_milliseconds.unwrap_or(500)),
            shutdown_grace: Duration::from_secs(file.shutdown_grace_seconds.unwrap_or(10)),
            worker_threads: match args.worker_threads.or(file.worker_threads) {
                Some(0) => bail!("worker_threads must be at least 1"),
                other => other.map(usize::from),
            },
            public_url: args
                .public_url
                .as_deref()
                .or(file.public_url.as_deref())
                .map(|text| {
                    PublicUrls::new(text)
                        .with_context(|| format!("the public URL `{text}` is not usable"))
                })
                .transpose()?,
            instance_token_ttl: match args
                .instance_token_ttl
                .or(file.instance_token_ttl_seconds)
                .unwrap_or(DEFAULT_INSTANCE_TOKEN_TTL_SECONDS)
            {
                seconds @ 1..=MAX_INSTANCE_TOKEN_TTL_SECONDS => time::Duration::seconds(seconds),
                seconds => bail!(
                    "the instance token time to live must be 1 to \
                     {MAX_INSTANCE_TOKEN_TTL_SECONDS} seconds, not {seconds}"
                ),
            },
            gateway: GatewaySettings {
                idle_timeout: terminal_seconds(
                    "the terminal idle timeout",
                    args.terminal_idle_timeout
                        .or(file.terminal_idle_timeout_seconds)
                        .unwrap_or(DEFAULT_IDLE_TIMEOUT_SECONDS),
                )?,
                max_session: terminal_seconds(
                    "the maximum terminal session length",
                    args.terminal_max_session
                        .or(file.terminal_max_session_seconds)
                        .unwrap_or(DEFAULT_MAX_SESSION_SECONDS),
                )?,
                max_running_sessions: session_count(
                    "the maximum of running sessions",
                    args.max_running_sessions
                        .or(file.max_running_sessions)
                        .unwrap_or(DEFAULT_MAX_RUNNING_SESSIONS),
                    100_000,
                )?,
                terminals_per_browser_session: session_count(
                    "the terminals per browser session",
                    args.terminals_per_browser_session
                        .or(file.terminals_per_browser_session)
                        .unwrap_or(DEFAULT_TERMINALS_PER_BROWSER_SESSION),
                    100,
                )?,
                max_browser_sessions: session_count(
                    "the maximum of browser sessions",
                    args.max_browser_sessions
                        .or(file.max_browser_sessions)
                        .unwrap_or(DEFAULT_MAX_BROWSER_SESSIONS),
                    1_000_000,
                )?,
                session_user: SessionUser::resolve(
                    args.session_user
                        .as_deref()
                        .or(file.session_user.as_deref()),
                )
                .context("the session user")?,
            },
            tencent: TencentSettings {
                allow_unsigned_payload: args
                    .allow_unsigned_payload
                    .or(file.allow_unsigned_payload)
                    .unwrap_or(false),
                require_signed_action: args
                    .require_signed_action
                    .or(file.require_signed_action)
                    .unwrap_or(false),
                strict_credential_scope: args
                    .strict_credential_scope
                    .or(file.strict_credential_scope)
                    .unwrap_or(false),
            },
            authentication_failure_limit: AuthenticationFailureLimit {
                per_second: args
                    .auth_failure_limit
                    .or(file.auth_failure_limit)
                    .unwrap_or(AuthenticationFailureLimit::DEFAULT.per_second),
                burst: match args
                    .auth_failure_burst
                    .or(file.auth_failure_burst)
                    .unwrap_or(AuthenticationFailureLimit::DEFAULT.burst)
                {
                    0 => bail!("auth_failure_burst must be at least 1"),
                    burst => burst,
                },
            },
        })
    }
}
