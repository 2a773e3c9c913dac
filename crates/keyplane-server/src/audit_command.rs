//! `keyplane audit` (print the audit log as JSON lines) and `keyplane audit prune --older-than
//! AGE` (remove the records older than AGE: the only way records leave the log, and itself
//! recorded in it).

use std::io::Write;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use keyplane_core::{AuthorityConfig, Clock, RequestContext};
use serde_json::json;

use crate::config::{DataArgs, DataConfig, FileConfig};
use crate::installation::{Installation, SystemClock};

/// Flags of `keyplane audit`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Print only records after this sequence number.
    #[arg(long, default_value_t = 0)]
    pub after: i64,
}

/// What `keyplane audit` does besides printing.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Remove the audit records older than an age, recording the prune in the log.
    Prune(PruneArgs),
}

/// Flags of `keyplane audit prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Remove the records older than this: a whole number with a unit, d (days), h (hours),
    /// m (minutes) or s (seconds), e.g. 90d.
    #[arg(long = "older-than", value_parser = parse_age)]
    pub older_than: time::Duration,
}

/// Parses an age such as `90d`, `12h`, `30m` or `45s`.
pub fn parse_age(text: &str) -> anyhow::Result<time::Duration> {
    let text = text.trim();
    let split = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(number) = number.parse::<i64>() else {
        bail!("`{text}` is not an age such as 90d, 12h, 30m or 45s");
    };
    let seconds_per_unit = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => bail!("`{text}` is not an age such as 90d, 12h, 30m or 45s (units: d, h, m, s)"),
    };
    let Some(seconds) = number.checked_mul(seconds_per_unit) else {
        bail!("`{text}` is too long an age");
    };
    Ok(time::Duration::seconds(seconds))
}

async fn open(data: &DataArgs) -> anyhow::Result<Installation> {
    let file = FileConfig::load(data.config.as_deref())?;
    let data = DataConfig::resolve(data, &file);
    Installation::open(&data, AuthorityConfig::default(), false).await
}

/// Runs `keyplane audit` or one of its subcommands.
pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        Some(AuditCommand::Prune(prune_args)) => prune(prune_args).await,
        None => print(&args.data, args.after).await,
    }
}

async fn prune(args: PruneArgs) -> anyhow::Result<()> {
    let installation = open(&args.data).await?;
    let context = RequestContext::operator(
        SystemClock.now(),
        uuid::Uuid::new_v4().to_string(),
        "PruneAuditLog",
    );
    let Some(cutoff) = context.now.checked_sub(args.older_than) else {
        bail!(
            "--older-than {} reaches before the calendar's start",
            args.older_than
        );
    };
    let removed = installation
        .authority
        .prune_audit(&context, args.older_than)
        .await
        .map_err(|error| anyhow::anyhow!("{}", crate::operator_message::describe(&error)))
        .context("pruning the audit log");
    installation.close().await;
    let removed = removed?;
    println!(
        "Removed {removed} audit records older than {}",
        cutoff
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    );
    Ok(())
}

async fn print(data: &DataArgs, after: i64) -> anyhow::Result<()> {
    let installation = open(data).await?;
    let mut after = after;
    let mut output = std::io::stdout().lock();
    loop {
        let records = installation
            .authority
            .audit_records(after, 1_000)
            .await
            .map_err(|error| anyhow::anyhow!("reading the audit log: {error}"))?;
        let Some(last) = records.last() else { break };
        after = last.sequence;
        for record in &records {
            let event = &record.event;
            let line = json!({
                "sequence": record.sequence,
                "time": event.time.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "request_id": event.request_id,
                "account_id": event.account_id.map(|id| id.to_string()),
                "principal_uin": event.principal_uin,
                "key_id": event.key_id,
                "product": event.product,
                "action": event.action,
                "target": event.target,
                "outcome": event.outcome,
                "source_address": event.source_address,
                "user_agent": event.user_agent,
                "detail": event.detail,
                "decision": event.authorization.as_ref().map(|decision| decision.decision.clone()),
                "decision_statement": event
                    .authorization
                    .as_ref()
                    .and_then(|decision| decision.statement.clone()),
            });
            if let Err(error) = writeln!(output, "{line}") {
                // A reader that stops early (`keyplane audit | head`) is not a failure.
                if error.kind() == std::io::ErrorKind::BrokenPipe {
                    installation.close().await;
                    return Ok(());
                }
                return Err(error.into());
            }
        }
    }
    installation.close().await;
    Ok(())
}
