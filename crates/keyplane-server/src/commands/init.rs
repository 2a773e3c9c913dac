//! `keyplane init` (initialise a data directory or database and print the root credentials),
//! and how the root credentials of a new installation are handed to the operator: printed to
//! an interactive terminal, otherwise written to a 0600 file whose path alone is logged.

use anyhow::{bail, Context};
use clap::Args;
use keyplane_core::AuthorityConfig;

use super::data_config;
use crate::config::{DataArgs, DataConfig};
use crate::installation::{root_credentials_json, Installation};

/// Flags of `keyplane init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Print the credentials as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `keyplane init`: refuses an installation that is already initialised.
pub async fn run(args: InitArgs) -> anyhow::Result<()> {
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
pub fn hand_over_root_credentials(
    data: &DataConfig,
    credentials: &serde_json::Value,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        print_root_credentials(credentials);
        return Ok(());
    }
    let path = crate::secrets::write_root_credentials(&data.data_dir, credentials)
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
    let lines = [
        ("account id:", &credentials["account_id"]),
        ("Tencent SecretId:", &credentials["tencent"]["secret_id"]),
        ("Tencent SecretKey:", &credentials["tencent"]["secret_key"]),
        (
            "Alibaba AccessKeyId:",
            &credentials["aliyun"]["access_key_id"],
        ),
        (
            "Alibaba AccessKeySecret:",
            &credentials["aliyun"]["access_key_secret"],
        ),
    ];
    for (label, value) in lines {
        println!("  {label:<25} {}", value.as_str().unwrap_or(""));
    }
}
