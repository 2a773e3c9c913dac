//! The operator commands of the `keyplane` binary, one module per command family, and what
//! they share: resolving the data directory's configuration, opening the installation, running
//! a use case on its account under an operator request context, and writing JSON lines to a
//! reader that may stop early. `main.rs` holds only the command tree that dispatches here.

pub mod audit;
pub mod eas;
pub mod init;
pub mod migrate;
pub mod serve;
pub mod smc;
pub mod user;

use std::io::Write;

use keyplane_core::{AuthorityConfig, Clock, RequestContext};

use crate::config::{DataArgs, DataConfig, FileConfig};
use crate::installation::{Installation, SystemClock};

/// The data configuration named by a command's data flags and its configuration file.
pub fn data_config(args: &DataArgs) -> anyhow::Result<DataConfig> {
    let file = FileConfig::load(args.config.as_deref())?;
    Ok(DataConfig::resolve(args, &file))
}

/// Opens the existing installation named by a command's data flags (never creating one).
pub async fn open_installation(args: &DataArgs) -> anyhow::Result<Installation> {
    let data = data_config(args)?;
    Installation::open(&data, AuthorityConfig::default(), false).await
}

/// A request context for an operator command performing `action`, at the system clock's now.
pub fn operator_context(action: &str) -> RequestContext {
    RequestContext::operator(SystemClock.now(), uuid::Uuid::new_v4().to_string(), action)
}

/// Runs an operator use case on the installation's account, closing the installation after.
pub async fn on_account<T>(
    data: &DataArgs,
    action: &str,
    work: impl AsyncFnOnce(
        &keyplane_core::Authority,
        u64,
        &RequestContext,
    ) -> Result<T, keyplane_core::CoreError>,
) -> anyhow::Result<T> {
    let installation = open_installation(data).await?;
    let result = async {
        let authority = &installation.authority;
        let account = authority
            .primary_account()
            .await
            .map_err(|error| anyhow::anyhow!("reading the account: {error}"))?;
        work(authority, account.id, &operator_context(action))
            .await
            .map_err(|error| anyhow::anyhow!("{}", crate::operator_message::describe(&error)))
    }
    .await;
    installation.close().await;
    result
}

/// A moment as RFC 3339 text, as every command prints times.
pub fn rfc3339(moment: time::OffsetDateTime) -> String {
    moment
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Whether the reader of a command's output is still there after a line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Reading,
    /// The reader stopped early (`keyplane audit | head`): not a failure; stop writing.
    Gone,
}

/// Writes one JSON line to the command's output.
pub fn write_line(output: &mut impl Write, line: &serde_json::Value) -> anyhow::Result<Reader> {
    match writeln!(output, "{line}") {
        Ok(()) => Ok(Reader::Reading),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(Reader::Gone),
        Err(error) => Err(error.into()),
    }
}
