//! The `keyplane` binary: `serve`, `init`, `user create`, `audit` (and `audit prune`),
//! `smc source-servers`, the `eas` registry commands, `migrate` and `bench`.

/// mimalloc: the server allocates dozens of small, short-lived buffers per request across
/// threads, where it is markedly cheaper than the system allocator (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use keyplane_aliyun::eas::PublicUrls;
use keyplane_core::{AuthorityConfig, Clock, RequestContext};
use keyplane_store::StoreChange;
use keyplane_tencent::TencentDialect;
use serde_json::json;
use tokio::net::TcpListener;

use keyplane_server::audit_command::{self, AuditArgs};
use keyplane_server::config::{
    DataArgs, DataConfig, FileConfig, LogFormat, ServeArgs, ServeConfig,
};
use keyplane_server::eas_command::{eas, EasCommand};
use keyplane_server::installation::{root_credentials_json, Backend, Installation, SystemClock};
use keyplane_server::{bench, http};

/// Keyplane: a self-hosted credential authority speaking the Tencent Cloud API 3.0 wire protocol.
#[derive(Debug, Parser)]
#[command(name = "keyplane", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the APIs (initialising an empty data directory first).
    Serve(Box<ServeArgs>),
    /// Initialise a data directory and print the root credentials.
    Init(InitArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Print the audit log as JSON lines, or prune it by age.
    Audit(AuditArgs),
    /// Server Migration Center: what activation codes were used for.
    #[command(subcommand)]
    Smc(SmcCommand),
    /// PAI-EAS: the services, instances and workers that instance tokens open.
    #[command(subcommand)]
    Eas(EasCommand),
    /// Apply pending database migrations and exit (serve applies them too).
    Migrate(MigrateArgs),
    /// Drive a running server with signed requests and report throughput and latency.
    Bench(bench::BenchArgs),
}

#[derive(Debug, Args)]
struct InitArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Print the credentials as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a sub-user to the account.
    Create(UserCreateArgs),
}

#[derive(Debug, Args)]
struct UserCreateArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The user's name: 1 to 64 of letters, digits and +=,.@_-
    #[arg(long)]
    name: String,
    /// Print the user as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum SmcCommand {
    /// Print the source servers that registered by redeeming an activation code, as JSON
    /// lines, oldest first.
    SourceServers(SourceServersArgs),
}

#[derive(Debug, Args)]
struct SourceServersArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Only the source servers registered with this activation code (`at-…`).
    #[arg(long)]
    access_token_id: Option<String>,
}

#[derive(Debug, Args)]
struct MigrateArgs {
    #[command(flatten)]
    data: DataArgs,
}

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

fn data_config(args: &DataArgs) -> anyhow::Result<DataConfig> {
    let file = FileConfig::load(args.config.as_deref())?;
    Ok(DataConfig::resolve(args, &file))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Before any other thread exists: the secrets leave the environment once read.
    keyplane_server::secrets::take_from_environment();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keyplane: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    use tokio::runtime::{Builder, Runtime};
    fn start(builder: &mut Builder) -> anyhow::Result<Runtime> {
        builder.enable_all().build().context("starting the runtime")
    }
    match cli.command {
        Command::Serve(args) => {
            // Resolved before the runtime exists: it says how many worker threads it has.
            let config = ServeConfig::resolve(&args)?;
            let mut builder = Builder::new_multi_thread();
            if let Some(worker_threads) = config.worker_threads {
                builder.worker_threads(worker_threads);
            }
            start(&mut builder)?.block_on(serve(config))
        }
        // The load generator runs on one thread, so that it takes at most one core from the
        // server it measures.
        Command::Bench(args) => {
            start(&mut Builder::new_current_thread())?.block_on(bench::run(args))
        }
        Command::Init(args) => start(&mut Builder::new_multi_thread())?.block_on(init(args)),
        Command::User(UserCommand::Create(args)) => {
            start(&mut Builder::new_multi_thread())?.block_on(create_user(args))
        }
        Command::Audit(args) => {
            start(&mut Builder::new_multi_thread())?.block_on(audit_command::run(args))
        }
        Command::Smc(SmcCommand::SourceServers(args)) => {
            start(&mut Builder::new_multi_thread())?.block_on(source_servers(args))
        }
        Command::Eas(command) => start(&mut Builder::new_multi_thread())?.block_on(eas(command)),
        Command::Migrate(args) => start(&mut Builder::new_multi_thread())?.block_on(migrate(args)),
    }
}

async fn init(args: InitArgs) -> anyhow::Result<()> {
    let data = data_config(&args.data)?;
    let location = match &data.database_url {
        Some(_) => "the database".to_owned(),
        None => data.data_dir.display().to_string(),
    };
    if data.database_url.is_some() || data.database_path().exists() {
        match Installation::open(&data, AuthorityConfig::default(), false).await {
            Ok(existing) => {
                let initialized = existing.is_initialized().await?;
                existing.close().await;
                if initialized {
                    bail!("{location} is already initialised; nothing was changed");
                }
            }
            Err(error) if data.database_url.is_none() => return Err(error),
            // A PostgreSQL database this node holds no key for yet: creating decides below.
            Err(_) => {}
        }
    }
    let installation = Installation::open(&data, AuthorityConfig::default(), true).await?;
    let initialized = installation.initialize().await?;
    installation.close().await;
    let credentials = root_credentials_json(&initialized);
    if args.json {
        println!("{credentials}");
    } else {
        print_root_credentials(&credentials);
    }
    Ok(())
}

/// The root credentials of an installation `serve` has just initialised: printed when its
/// standard output is an interactive terminal, otherwise (a service manager, a pipe) written
/// to a 0600 file in the data directory whose path alone is logged.
fn hand_over_root_credentials(
    data: &DataConfig,
    credentials: &serde_json::Value,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        print_root_credentials(credentials);
        return Ok(());
    }
    let path = keyplane_server::secrets::write_root_credentials(&data.data_dir, credentials)
        .context("writing the root credentials")?;
    println!(
        "Initialised a new Keyplane account; its root credentials are in {} (mode 0600): read \
         them, keep them safe and delete the file",
        path.display()
    );
    tracing::warn!(
        path = %path.display(),
        "initialised a new account: the root credentials were written to this file, not to the log"
    );
    Ok(())
}

fn print_root_credentials(credentials: &serde_json::Value) {
    println!("Initialised a new Keyplane account. The root credentials are shown only this once:");
    println!(
        "  account id:               {}",
        credentials["account_id"].as_str().unwrap_or("")
    );
    println!(
        "  Tencent SecretId:         {}",
        credentials["tencent"]["secret_id"].as_str().unwrap_or("")
    );
    println!(
        "  Tencent SecretKey:        {}",
        credentials["tencent"]["secret_key"].as_str().unwrap_or("")
    );
    println!(
        "  Alibaba AccessKeyId:      {}",
        credentials["aliyun"]["access_key_id"]
            .as_str()
            .unwrap_or("")
    );
    println!(
        "  Alibaba AccessKeySecret:  {}",
        credentials["aliyun"]["access_key_secret"]
            .as_str()
            .unwrap_or("")
    );
}

async fn create_user(args: UserCreateArgs) -> anyhow::Result<()> {
    let data = data_config(&args.data)?;
    let installation = Installation::open(&data, AuthorityConfig::default(), false).await?;
    let authority = &installation.authority;
    let account = authority
        .primary_account()
        .await
        .map_err(|error| anyhow::anyhow!("reading the account: {error}"))?;
    let context = RequestContext::operator(
        SystemClock.now(),
        uuid::Uuid::new_v4().to_string(),
        "CreateUser",
    );
    let user = authority
        .create_user(&context, account.id, &args.name, Default::default())
        .await
        .map_err(|error| {
            let message = keyplane_server::operator_message::describe(&error);
            anyhow::anyhow!("creating the user: {message}")
        })?;
    installation.close().await;
    let output = json!({
        "uin": user.uin,
        "name": user.name,
        "user_principal_name": user.user_principal_name(),
    });
    if args.json {
        println!("{output}");
    } else {
        println!(
            "Created user {} (uin {}, {})",
            user.name,
            user.uin,
            user.user_principal_name()
        );
    }
    Ok(())
}

async fn source_servers(args: SourceServersArgs) -> anyhow::Result<()> {
    let data = data_config(&args.data)?;
    let installation = Installation::open(&data, AuthorityConfig::default(), false).await?;
    let listed = async {
        let account = installation
            .authority
            .primary_account()
            .await
            .map_err(|error| anyhow::anyhow!("reading the account: {error}"))?;
        installation
            .authority
            .source_servers(account.id, args.access_token_id.as_deref())
            .await
            .map_err(|error| anyhow::anyhow!("reading the source servers: {error}"))
    }
    .await;
    installation.close().await;
    let mut output = std::io::stdout().lock();
    for server in listed? {
        let line = json!({
            "source_id": server.id,
            "access_token_id": server.activation_code_id,
            "name": server.name,
            "hostname": server.hostname,
            "os": server.operating_system,
            "fingerprint": server.fingerprint,
            "source_address": server.source_address,
            "registered_at": server.registered_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        });
        if let Err(error) = writeln!(output, "{line}") {
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(error.into());
        }
    }
    Ok(())
}

async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let data = data_config(&args.data)?;
    let backend = Backend::open(&data, false).await?;
    let kind = match &backend {
        Backend::Sqlite(_) => format!("SQLite database {}", data.database_path().display()),
        Backend::Postgres(_) => "PostgreSQL database".to_owned(),
    };
    backend.close().await;
    println!("{kind}: schema up to date");
    Ok(())
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

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
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
    let key_change_listener = match &installation.backend {
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
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let address = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_urls = match &config.public_url {
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
    };
    let state = Arc::new(http::AppState {
        tencent: TencentDialect::with_settings(authority.clone(), config.tencent),
        aliyun: keyplane_aliyun::AliyunDialect::new(authority.clone(), public_urls.clone()),
        clock: Arc::new(SystemClock),
        store: installation.backend.store(),
        authority: authority.clone(),
        gateway: keyplane_server::gateway::Gateway::new(config.gateway.clone(), &public_urls),
        front: http::FrontState::new(&config.front.limits, config.front.trusted_proxies.clone()),
    });
    let certificate_watcher = tls.clone().map(http::tls::Tls::watch);
    keyplane_server::gateway::revocation::watch(&state);
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

    let flusher = {
        let authority = authority.clone();
        let interval = config.flush_interval;
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
                let dropped =
                    authority.dropped_audit_events() + authority.dropped_refusal_aggregates();
                if dropped > dropped_reported {
                    tracing::warn!(
                        dropped = dropped - dropped_reported,
                        "audit events dropped: the buffer was full or the store unwritable"
                    );
                    dropped_reported = dropped;
                }
            }
        })
    };
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
