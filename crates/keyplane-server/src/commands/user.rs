//! `keyplane user create`: add a sub-user to the installation's account.

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use super::on_account;
use crate::config::DataArgs;

/// The subcommands of `keyplane user`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a sub-user to the account.
    Create(UserCreateArgs),
}

/// Flags of `keyplane user create`.
#[derive(Debug, Args)]
pub struct UserCreateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The user's name: 1 to 64 of letters, digits and +=,.@_-
    #[arg(long)]
    pub name: String,
    /// Print the user as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs one `keyplane user` subcommand.
pub async fn run(command: UserCommand) -> anyhow::Result<()> {
    let UserCommand::Create(args) = command;
    let user = on_account(
        &args.data,
        "CreateUser",
        async |authority, account_id, context| {
            authority
                .create_user(context, account_id, &args.name, Default::default())
                .await
        },
    )
    .await
    .context("creating the user")?;
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
