//! The `keyplane` binary: only the command tree (`serve`, `init`, `user create`, `audit` and
//! `audit prune`, `smc source-servers`, the `eas` registry commands, `migrate` and `bench`) and
//! its dispatch, each to its module under `keyplane_server::commands` (or `bench`), on the
//! runtime the command needs.

/// mimalloc: the server allocates dozens of small, short-lived buffers per request across
/// threads, where it is markedly cheaper than the system allocator (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use keyplane_server::bench;
use keyplane_server::commands::{audit, eas, init, migrate, serve, smc, user};
use keyplane_server::config::{ServeArgs, ServeConfig};

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
    Init(init::InitArgs),
    /// Manage users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Print the audit log as JSON lines, or prune it by age.
    Audit(audit::AuditArgs),
    /// Server Migration Center: what activation codes were used for.
    #[command(subcommand)]
    Smc(smc::SmcCommand),
    /// PAI-EAS: the services, instances and workers that instance tokens open.
    #[command(subcommand)]
    Eas(eas::EasCommand),
    /// Apply pending database migrations and exit (serve applies them too).
    Migrate(migrate::MigrateArgs),
    /// Drive a running server with signed requests and report throughput and latency.
    Bench(bench::BenchArgs),
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
    let operator = || start(&mut Builder::new_multi_thread());
    match cli.command {
        Command::Serve(args) => {
            // Resolved before the runtime exists: it says how many worker threads it has.
            let config = ServeConfig::resolve(&args)?;
            let mut builder = Builder::new_multi_thread();
            if let Some(worker_threads) = config.worker_threads {
                builder.worker_threads(worker_threads);
            }
            start(&mut builder)?.block_on(serve::run(config))
        }
        // The load generator runs on one thread, so that it takes at most one core from the
        // server it measures.
        Command::Bench(args) => {
            start(&mut Builder::new_current_thread())?.block_on(bench::run(args))
        }
        Command::Init(args) => operator()?.block_on(init::run(args)),
        Command::User(command) => operator()?.block_on(user::run(command)),
        Command::Audit(args) => operator()?.block_on(audit::run(args)),
        Command::Smc(command) => operator()?.block_on(smc::run(command)),
        Command::Eas(command) => operator()?.block_on(eas::run(command)),
        Command::Migrate(args) => operator()?.block_on(migrate::run(args)),
    }
}
