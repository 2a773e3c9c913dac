//! Encodings every backend shares, so that both store the same values the same way: times as
//! Unix nanoseconds, identifiers as signed 64-bit integers, tags as a JSON array of pairs,
//! string lists (command-template words, worker names) as a JSON array of strings.

use keyplane_core::audit::AuditAuthorization;
use keyplane_core::model::Tag;
use time::OffsetDateTime;

/// A time as Unix nanoseconds (saturating at the representable end, year 2262).
pub(crate) fn nanos(time: OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

/// The time of stored Unix nanoseconds.
pub(crate) fn time_from_nanos(value: i64) -> Result<OffsetDateTime, String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(value)).map_err(|error| error.to_string())
}

/// An unsigned id as stored (all Keyplane ids are below 2^63).
pub(crate) fn as_i64(value: u64) -> i64 {
    value as i64
}

/// A stored id.
pub(crate) fn as_u64(value: i64) -> u64 {
    value as u64
}

/// Tags as stored: `[["key","value"], ...]`, in order.
pub(crate) fn tags_to_json(tags: &[Tag]) -> String {
    let pairs: Vec<(&str, &str)> = tags
        .iter()
        .map(|tag| (tag.key.as_str(), tag.value.as_str()))
        .collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_owned())
}

/// Stored tags.
pub(crate) fn tags_from_json(text: &str) -> Result<Vec<Tag>, String> {
    let pairs: Vec<(String, String)> =
        serde_json::from_str(text).map_err(|error| format!("malformed tags: {error}"))?;
    Ok(pairs
        .into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect())
}

/// A list of strings (template words, worker names) as stored: a JSON array, in order.
pub(crate) fn strings_to_json(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}

/// A stored list of strings.
pub(crate) fn strings_from_json(text: &str) -> Result<Vec<String>, String> {
    serde_json::from_str(text).map_err(|error| format!("malformed string list: {error}"))
}

/// An audit event's authorization from its `decision` and `decision_statement` columns: none
/// without a decision.
pub(crate) fn authorization_from_columns(
    decision: Option<String>,
    statement: Option<String>,
) -> Option<AuditAuthorization> {
    decision.map(|decision| AuditAuthorization {
        decision,
        statement,
    })
}
