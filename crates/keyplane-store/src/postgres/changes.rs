//! What the `keyplane_key_changes` channel announces to every node, and its payloads: an
//! access key's id (alphanumeric) when the key was deactivated, reactivated or deleted, and
//! `user:<account id>:<uin>` when a user's permissions changed (a policy attached or detached,
//! the user deleted).

use keyplane_core::store::StoreError;
use sqlx::{Postgres, Transaction};

use super::{backend, KEY_CHANGES_CHANNEL};

/// A change another node (or this one) committed, as announced on the shared database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChange {
    /// This access key was deactivated, reactivated or deleted.
    Key(String),
    /// This user's attached policies changed, or the user was deleted.
    UserPermissions { account_id: u64, uin: u64 },
    /// Notifications may have been missed (the listening connection was lost, or a payload was
    /// not understood): drop everything cached.
    Everything,
}

/// The payload prefix of a user's permission change.
const USER_PREFIX: &str = "user:";

impl StoreChange {
    /// Reads a notification's payload. Anything not understood is `Everything`, so that a
    /// payload from a newer build makes caches forget too much rather than too little.
    pub fn from_payload(payload: &str) -> Self {
        if let Some(user) = payload.strip_prefix(USER_PREFIX) {
            let parsed = user.split_once(':').and_then(|(account_id, uin)| {
                Some(StoreChange::UserPermissions {
                    account_id: parse_number(account_id)?,
                    uin: parse_number(uin)?,
                })
            });
            return parsed.unwrap_or(StoreChange::Everything);
        }
        if !payload.is_empty() && payload.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
            return StoreChange::Key(payload.to_owned());
        }
        StoreChange::Everything
    }
}

/// Decimal digits only (no sign, no spaces) as a u64.
fn parse_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The payload announcing that a user's permissions changed.
pub(crate) fn user_payload(account_id: u64, uin: u64) -> String {
    format!("{USER_PREFIX}{account_id}:{uin}")
}

/// Announces `payload` on the key-changes channel when the transaction commits.
pub(crate) async fn notify(
    transaction: &mut Transaction<'_, Postgres>,
    payload: &str,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(KEY_CHANGES_CHANNEL)
        .bind(payload)
        .execute(&mut **transaction)
        .await
        .map_err(backend)?;
    Ok(())
}
