//! `keyplane migrate`: apply pending database migrations and exit (`serve` applies them too).

use clap::Args;

use super::data_config;
use crate::config::DataArgs;
use crate::installation::Backend;

/// Flags of `keyplane migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub data: DataArgs,
}

/// Runs `keyplane migrate`.
pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
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
