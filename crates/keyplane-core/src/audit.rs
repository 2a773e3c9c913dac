//! Audit events: one append-only record for every credential change and every refused request.
//! Records name who did what to which target, from where, and the outcome code the client was
//! given. They never hold a secret.

use time::OffsetDateTime;

/// The outcome recorded for a request that succeeded.
pub const OUTCOME_SUCCESS: &str = "Success";

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub time: OffsetDateTime,
    pub request_id: String,
    pub account_id: Option<u64>,
    pub principal_uin: Option<u64>,
    pub key_id: Option<String>,
    pub product: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub source_address: String,
    pub user_agent: String,
    /// Free text for what the other fields do not hold (a terminal session's start, end and
    /// bytes each way); `None` for most events.
    pub detail: Option<String>,
    /// The authorization decision behind the outcome, when one was made (requests by an
    /// authenticated principal); `None` for operator commands and for requests refused before
    /// authorization.
    pub authorization: Option<AuditAuthorization>,
}

/// The authorization decision recorded with an audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditAuthorization {
    /// `Allow`, `ExplicitDeny` or `ImplicitDeny`.
    pub decision: String,
    /// What decided it: `root`, or the policy and statement that matched
    /// (`System:ReadOnlyAccess#0`, `Custom:keys-admin#2`); `None` when nothing matched.
    pub statement: Option<String>,
}

/// A stored audit record with its position in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub sequence: i64,
    pub event: AuditEvent,
}

/// `value` cut to at most `limit` characters: what a request claims (a key id, a user agent)
/// is recorded and echoed bounded, whatever the client sent.
pub fn truncated(value: &str, limit: usize) -> String {
    if value.len() <= limit {
        return value.to_owned();
    }
    value.chars().take(limit).collect()
}
