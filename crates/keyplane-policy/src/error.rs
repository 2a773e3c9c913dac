//! Every way a policy document, or a stored policy, can be refused.
//!
//! The messages are written for the person who wrote the document: they name the statement
//! (`Statement[0]` is the first, counting from 0 as in JSON paths), the field and the fault, and
//! echo at most a short excerpt of the offending value. They contain nothing but what the client
//! sent, so they are safe to return to it.

use thiserror::Error;

/// The longest excerpt of a client's value an error message repeats, in characters.
const EXCERPT_LENGTH: usize = 64;

/// Why a policy was refused. `statement` fields are indexes into the document's statement list,
/// counting from 0.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    #[error("the policy document is longer than {limit} characters")]
    TooLong { limit: usize },
    #[error("the policy document is not valid JSON (line {line}, column {column})")]
    NotJson { line: usize, column: usize },
    #[error("the policy document repeats the field {field} in one object")]
    DuplicateField { field: String },
    #[error("the policy document must be a JSON object")]
    NotObject,
    #[error("the policy document has an unknown field {field}")]
    UnknownDocumentField { field: String },
    #[error("the policy document has no \"{field}\" field")]
    MissingVersion { field: &'static str },
    #[error("the policy version must be \"{expected}\", not {found}")]
    BadVersion {
        expected: &'static str,
        found: String,
    },
    #[error("the policy document has no \"{field}\" field")]
    MissingStatements { field: &'static str },
    #[error("\"{field}\" must be a list of statements")]
    StatementsNotList { field: &'static str },
    #[error("the policy document has no statements")]
    EmptyStatements,
    #[error("the policy document has {count} statements; at most {limit} are allowed")]
    TooManyStatements { count: usize, limit: usize },
    #[error("Statement[{statement}] must be a JSON object")]
    StatementNotObject { statement: usize },
    #[error("Statement[{statement}] has an unknown field {field}")]
    UnknownStatementField { statement: usize, field: String },
    #[error(
        "Statement[{statement}] has {field}: a policy attached to users may not name a principal"
    )]
    PrincipalNotAllowed { statement: usize, field: String },
    #[error("Statement[{statement}] has no \"{field}\" field")]
    MissingEffect {
        statement: usize,
        field: &'static str,
    },
    #[error("Statement[{statement}]: the effect must be {expected}, not {found}")]
    BadEffect {
        statement: usize,
        expected: &'static str,
        found: String,
    },
    #[error("Statement[{statement}] has no \"{field}\" field")]
    MissingAction {
        statement: usize,
        field: &'static str,
    },
    #[error("Statement[{statement}] has no \"{field}\" field")]
    MissingResource {
        statement: usize,
        field: &'static str,
    },
    #[error("Statement[{statement}] may not have both \"{first}\" and \"{second}\"")]
    ConflictingFields {
        statement: usize,
        first: &'static str,
        second: &'static str,
    },
    #[error("Statement[{statement}]: \"{field}\" must be a string or a list of strings")]
    NotStringOrList {
        statement: usize,
        field: &'static str,
    },
    #[error("Statement[{statement}]: \"{field}\" is an empty list")]
    EmptyList {
        statement: usize,
        field: &'static str,
    },
    #[error("Statement[{statement}]: \"{field}\" has an empty entry")]
    EmptyEntry {
        statement: usize,
        field: &'static str,
    },
    #[error(
        "Statement[{statement}]: the action {action} is not of the form service:Action (or *)"
    )]
    BadAction { statement: usize, action: String },
    #[error(
        "Statement[{statement}]: unknown variable {variable} (known: ${{AccountId}}, ${{Uin}}, ${{UserName}})"
    )]
    UnknownVariable { statement: usize, variable: String },
    #[error("Statement[{statement}]: unknown condition operator {operator}")]
    UnknownConditionOperator { statement: usize, operator: String },
    #[error("Statement[{statement}]: malformed condition: {reason}")]
    ConditionMalformed { statement: usize, reason: String },
    #[error("Statement[{statement}]: {value} is not an IP address or CIDR block")]
    BadIpAddress { statement: usize, value: String },
    #[error(
        "Statement[{statement}]: {value} is not a date and time with an offset (such as 2019-08-12T17:00:00+08:00)"
    )]
    BadDate { statement: usize, value: String },
    #[error("the stored policy is malformed: {reason}")]
    BadStoredForm { reason: String },
}

impl PolicyError {
    /// The human-readable message (the same as `Display`), safe to send to the client.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// A client's text quoted for an error message: JSON-quoted, cut to [`EXCERPT_LENGTH`]
/// characters.
pub(crate) fn excerpt(text: &str) -> String {
    let mut cut: String = text.chars().take(EXCERPT_LENGTH).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    serde_json::Value::String(cut).to_string()
}

/// A client's JSON value quoted for an error message, cut like [`excerpt`].
pub(crate) fn excerpt_json(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => excerpt(text),
        other => {
            let text = other.to_string();
            let mut cut: String = text.chars().take(EXCERPT_LENGTH).collect();
            if cut.len() < text.len() {
                cut.push('…');
            }
            cut
        }
    }
}
