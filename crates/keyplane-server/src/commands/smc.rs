//! `keyplane smc source-servers`: the source servers that registered with Server Migration
//! Center by redeeming an activation code, as JSON lines, oldest first.

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use super::{on_account, rfc3339, write_line, Reader};
use crate::config::DataArgs;

/// The subcommands of `keyplane smc`.
#[derive(Debug, Subcommand)]
pub enum SmcCommand {
    /// Print the source servers that registered by redeeming an activation code, as JSON
    /// lines, oldest first.
    SourceServers(SourceServersArgs),
}

/// Flags of `keyplane smc source-servers`.
#[derive(Debug, Args)]
pub struct SourceServersArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Only the source servers registered with this activation code (`at-…`).
    #[arg(long)]
    pub access_token_id: Option<String>,
}

/// Runs one `keyplane smc` subcommand.
pub async fn run(command: SmcCommand) -> anyhow::Result<()> {
    let SmcCommand::SourceServers(args) = command;
    let servers = on_account(
        &args.data,
        "ListSourceServers",
        async |authority, account_id, _| {
            authority
                .source_servers(account_id, args.access_token_id.as_deref())
                .await
        },
    )
    .await
    .context("reading the source servers")?;
    let mut output = std::io::stdout().lock();
    for server in servers {
        let line = json!({
            "source_id": server.id,
            "access_token_id": server.activation_code_id,
            "name": server.name,
            "hostname": server.hostname,
            "os": server.operating_system,
            "fingerprint": server.fingerprint,
            "source_address": server.source_address,
            "registered_at": rfc3339(server.registered_at),
        });
        if write_line(&mut output, &line)? == Reader::Gone {
            return Ok(());
        }
    }
    Ok(())
}
