//! The protocol between the PostgreSQL store and its group-commit function
//! `keyplane_apply_operations` (`migrations/postgres/functions/apply_operations.sql`): the
//! composite types a batch is sent as ([`Operation`], [`AuditEventValue`]), the kinds of
//! operation and the outcomes the function answers each with, each a closed enum whose SQL
//! words are written here once.

use keyplane_core::audit::AuditEvent;
use keyplane_core::store::StoreError;
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::codec::{as_i64, nanos};

/// Which use case an operation is (`keyplane_operation.kind`); which fields each uses is
/// documented where the type is created (migrations 0005 and 0013). The function also knows
/// `append_audit_event`, which this store does not send: events not tied to a change are
/// written in plain transactions, with their detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OperationKind {
    CreateUser,
    CreateAccessKey,
    SetAccessKeyStatus,
    DeleteAccessKey,
    CreateApiKey,
    SetApiKeyEnabled,
    ReplaceApiKeySecret,
    DeleteApiKey,
    RecordKeyUsage,
    RememberNonce,
}

impl OperationKind {
    /// The kind's word in SQL.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::CreateUser => "create_user",
            Self::CreateAccessKey => "create_access_key",
            Self::SetAccessKeyStatus => "set_access_key_status",
            Self::DeleteAccessKey => "delete_access_key",
            Self::CreateApiKey => "create_api_key",
            Self::SetApiKeyEnabled => "set_api_key_enabled",
            Self::ReplaceApiKeySecret => "replace_api_key_secret",
            Self::DeleteApiKey => "delete_api_key",
            Self::RecordKeyUsage => "record_key_usage",
            Self::RememberNonce => "remember_nonce",
        }
    }
}

/// What the function decided for one operation (`keyplane_operation_result.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Created,
    UserNotFound,
    UserNameTaken,
    IdentifierTaken,
    QuotaExceeded,
    AlreadyExists,
    LimitExceeded,
    Updated,
    Deleted,
    NotFound,
    OwnerMismatch,
    Recorded,
    Accepted,
    Replayed,
    Appended,
}

/// Every outcome with its word in SQL.
const OUTCOME_WORDS: [(Outcome, &str); 15] = [
    (Outcome::Created, "created"),
    (Outcome::UserNotFound, "user_not_found"),
    (Outcome::UserNameTaken, "user_name_taken"),
    (Outcome::IdentifierTaken, "identifier_taken"),
    (Outcome::QuotaExceeded, "quota_exceeded"),
    (Outcome::AlreadyExists, "already_exists"),
    (Outcome::LimitExceeded, "limit_exceeded"),
    (Outcome::Updated, "updated"),
    (Outcome::Deleted, "deleted"),
    (Outcome::NotFound, "not_found"),
    (Outcome::OwnerMismatch, "owner_mismatch"),
    (Outcome::Recorded, "recorded"),
    (Outcome::Accepted, "accepted"),
    (Outcome::Replayed, "replayed"),
    (Outcome::Appended, "appended"),
];

impl Outcome {
    /// The outcome's word in SQL.
    fn word(self) -> &'static str {
        OUTCOME_WORDS
            .iter()
            .find(|(outcome, _)| *outcome == self)
            .map_or("", |(_, word)| word)
    }

    /// The outcome a word stands for.
    fn parse(word: &str) -> Option<Self> {
        OUTCOME_WORDS
            .iter()
            .find(|(_, candidate)| *candidate == word)
            .map(|(outcome, _)| *outcome)
    }

    /// The outcome of a result row: the one place the function's outcome words are read.
    pub(crate) fn of(row: &PgRow) -> Result<Self, StoreError> {
        let word: String = row
            .try_get("outcome")
            .map_err(|error| StoreError::Backend(error.to_string()))?;
        Self::parse(&word).ok_or_else(|| StoreError::Backend(format!("unknown outcome {word}")))
    }

    /// The error for an outcome a use case does not expect.
    pub(crate) fn unexpected(self) -> StoreError {
        StoreError::Backend(format!("unexpected outcome {}", self.word()))
    }
}

/// An audit event as the `keyplane_audit_event` type (its fields in the type's attribute
/// order: 0005's, then the authorization added by 0013). The detail is not among them: events
/// that carry one are written in plain transactions.
#[derive(Debug, Clone, sqlx::Type)]
#[sqlx(type_name = "keyplane_audit_event")]
pub(crate) struct AuditEventValue {
    time: i64,
    request_id: String,
    account_id: Option<i64>,
    principal_uin: Option<i64>,
    key_id: Option<String>,
    product: String,
    action: String,
    target: Option<String>,
    outcome: String,
    source_address: String,
    user_agent: String,
    decision: Option<String>,
    decision_statement: Option<String>,
}

impl From<AuditEvent> for AuditEventValue {
    fn from(event: AuditEvent) -> Self {
        let (decision, decision_statement) = match event.authorization {
            Some(authorization) => (Some(authorization.decision), authorization.statement),
            None => (None, None),
        };
        Self {
            time: nanos(event.time),
            request_id: event.request_id,
            account_id: event.account_id.map(as_i64),
            principal_uin: event.principal_uin.map(as_i64),
            key_id: event.key_id,
            product: event.product,
            action: event.action,
            target: event.target,
            outcome: event.outcome,
            source_address: event.source_address,
            user_agent: event.user_agent,
            decision,
            decision_statement,
        }
    }
}

/// One write use case as the `keyplane_operation` type; which fields a kind uses is documented
/// in migrations 0005 and 0013. Built by the store with struct-update syntax over `Default`.
#[derive(Debug, Clone, Default, sqlx::Type)]
#[sqlx(type_name = "keyplane_operation")]
pub(crate) struct Operation {
    pub kind: String,
    pub id: Option<String>,
    pub account_id: Option<i64>,
    pub uin: Option<i64>,
    pub name: Option<String>,
    pub family: Option<String>,
    pub status: Option<String>,
    pub description: Option<String>,
    pub key_type: Option<String>,
    pub secret_name: Option<String>,
    pub enabled: Option<bool>,
    pub tags: Option<String>,
    pub secret_key_version: Option<i64>,
    pub secret_ciphertext: Option<Vec<u8>>,
    pub at_time: Option<i64>,
    pub updated_at_time: Option<i64>,
    pub until_time: Option<i64>,
    pub quota: Option<i64>,
    pub product: Option<String>,
    pub action: Option<String>,
    pub source_address: Option<String>,
    pub event: Option<AuditEventValue>,
    // Added by migration 0013, after `event` as ALTER TYPE appends them: create_user's profile.
    pub display_name: Option<String>,
    pub comments: Option<String>,
    pub email: Option<String>,
    pub phone_country_code: Option<String>,
    pub phone_number: Option<String>,
    pub console_login: Option<bool>,
}

impl Operation {
    /// An operation of `kind` with every field empty.
    pub(crate) fn of_kind(kind: OperationKind) -> Self {
        Self {
            kind: kind.word().to_owned(),
            ..Self::default()
        }
    }

    /// The operation with `event` to append if it changes something.
    pub(crate) fn audited(self, event: AuditEvent) -> Self {
        Self {
            event: Some(event.into()),
            ..self
        }
    }
}

/// The operations of one use case, applied in one batch and answered together.
pub(crate) type Job = Vec<Operation>;

/// The result rows of one job, one per operation, in order (`keyplane_operation_result`).
pub(crate) type JobRows = Vec<PgRow>;

/// The single result row of a one-operation job.
pub(crate) fn single(rows: JobRows) -> Result<PgRow, StoreError> {
    let count = rows.len();
    let mut rows = rows.into_iter();
    match (rows.next(), rows.next()) {
        (Some(row), None) => Ok(row),
        _ => Err(StoreError::Backend(format!(
            "one operation was answered with {count} rows"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_one_word() {
        for (outcome, word) in OUTCOME_WORDS {
            assert_eq!(Outcome::parse(word), Some(outcome));
            assert_eq!(outcome.word(), word);
        }
        assert_eq!(Outcome::parse("taken meanwhile"), None);
    }
}
