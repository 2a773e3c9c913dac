//! What a refused client-supplied value was and which rule it broke, named by the domain
//! ([`Field`]) and by the rule ([`Violation`]), never by a wire parameter: each dialect maps
//! (product, field, violation) to its own parameter name and code. The rule's wording
//! ([`Violation::reason`]) is the core's, since the core owns the rules; dialects quote it.

use crate::rules::{MANUAL_API_KEY_ID_LENGTH, MANUAL_API_KEY_SECRET_LENGTH};
use crate::template::TemplateError;

/// The domain field a refused value was given for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// A sub-user's name.
    UserName,
    /// An access key's description.
    AccessKeyDescription,
    /// An API key's name (the caller's label for it).
    ApiKeyName,
    /// A caller-chosen (manual) API key's id.
    ApiKeyId,
    /// A caller-chosen (manual) API key's secret.
    ApiKeySecret,
    /// An API key's tag list as a whole.
    ApiKeyTags,
    /// The key of the API key tag at `index` (from 0).
    ApiKeyTagKey { index: usize },
    /// The value of the API key tag at `index` (from 0).
    ApiKeyTagValue { index: usize },
    /// An activation code's name.
    ActivationCodeName,
    /// An activation code's description.
    ActivationCodeDescription,
    /// How many registrations an activation code allows.
    ActivationCodeCount,
    /// An activation code's lifetime, in days.
    ActivationCodeLifetime,
    /// The name a registering source server gives itself.
    SourceServerName,
    /// A registering source server's host name.
    SourceServerHostname,
    /// A registering source server's operating system.
    SourceServerOperatingSystem,
    /// A registering source server's fingerprint.
    SourceServerFingerprint,
    /// An EAS cluster (region) name.
    EasCluster,
    /// An EAS service name.
    EasServiceName,
    /// An EAS instance name.
    EasInstanceName,
    /// An EAS worker name, or an instance's worker list.
    EasWorkerName,
    /// An EAS service's command template for running a command in a worker.
    EasExecTemplate,
    /// An EAS service's command template for reading a worker's logs.
    EasLogTemplate,
    /// How old audit records must be to be pruned.
    AuditRetention,
}

impl std::fmt::Display for Field {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Field::UserName => "user name",
            Field::AccessKeyDescription => "access key description",
            Field::ApiKeyName => "API key name",
            Field::ApiKeyId => "API key id",
            Field::ApiKeySecret => "API key secret",
            Field::ApiKeyTags => "API key tags",
            Field::ApiKeyTagKey { index } => {
                return write!(formatter, "key of API key tag {index}")
            }
            Field::ApiKeyTagValue { index } => {
                return write!(formatter, "value of API key tag {index}")
            }
            Field::ActivationCodeName => "activation code name",
            Field::ActivationCodeDescription => "activation code description",
            Field::ActivationCodeCount => "activation code count",
            Field::ActivationCodeLifetime => "activation code lifetime in days",
            Field::SourceServerName => "source server name",
            Field::SourceServerHostname => "source server hostname",
            Field::SourceServerOperatingSystem => "source server operating system",
            Field::SourceServerFingerprint => "source server fingerprint",
            Field::EasCluster => "EAS cluster",
            Field::EasServiceName => "EAS service name",
            Field::EasInstanceName => "EAS instance name",
            Field::EasWorkerName => "EAS worker name",
            Field::EasExecTemplate => "EAS exec template",
            Field::EasLogTemplate => "EAS log template",
            Field::AuditRetention => "audit retention",
        };
        formatter.write_str(name)
    }
}

/// The rule a value broke, with what a message needs to state it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// The value is required and was not given.
    Missing,
    /// The value is not of the field's format (its alphabet, its first character and, for
    /// names and keys, its length): [`Violation::reason`] states the field's format.
    Format,
    /// The value must be `minimum` to `maximum` characters long.
    Length { minimum: usize, maximum: usize },
    /// The value must be `minimum` to `maximum` printable characters (too short, too long or
    /// holding a control character); a `minimum` of 0 reads "at most".
    Printable { minimum: usize, maximum: usize },
    /// The value must be at most `maximum` printable characters and not start with
    /// `http://` or `https://`.
    PrintableNotUrl { maximum: usize },
    /// The number must be from `minimum` to `maximum`.
    OutOfRange { minimum: u64, maximum: u64 },
    /// The list must have `minimum` to `maximum` entries; a `minimum` of 0 reads "at most".
    EntryCount { minimum: usize, maximum: usize },
    /// The entry repeats an earlier one: `value`.
    Duplicate { value: String },
    /// The command template does not parse.
    Template(TemplateError),
    /// The duration is negative.
    Negative,
    /// The duration reaches back before the calendar's start.
    BeforeCalendarStart,
}

impl Violation {
    /// The rule a value of `field` broke, as a predicate of the value ("must be 1 to 60
    /// printable characters"), which the dialects quote in their messages. Empty for
    /// [`Violation::Missing`], which dialects answer with their missing-parameter message.
    pub fn reason(&self, field: Field) -> String {
        match self {
            Violation::Missing => String::new(),
            Violation::Format => format!("must be {}", field.format()),
            Violation::Length { minimum, maximum } => {
                format!("must be {minimum} to {maximum} characters")
            }
            Violation::Printable { minimum, maximum } => {
                format!("must be {} printable characters", span(*minimum, *maximum))
            }
            Violation::PrintableNotUrl { maximum } => format!(
                "must be at most {maximum} printable characters, not starting with http:// or \
                 https://"
            ),
            Violation::OutOfRange { minimum, maximum } => {
                format!("must be from {minimum} to {maximum}")
            }
            Violation::EntryCount { minimum, maximum } => match field {
                Field::EasWorkerName => {
                    format!("an instance has {} workers", span(*minimum, *maximum))
                }
                _ => format!("{} tags", span(*minimum, *maximum)),
            },
            Violation::Duplicate { value } => match field {
                Field::ApiKeyTagKey { .. } => "tag keys must be unique".to_owned(),
                _ => format!("the worker {value} is listed twice"),
            },
            Violation::Template(error) => error.to_string(),
            Violation::Negative => "must not be negative".to_owned(),
            Violation::BeforeCalendarStart => "reaches before the calendar's start".to_owned(),
        }
    }
}

/// `minimum` to `maximum`, or "at most `maximum`" for a `minimum` of 0.
fn span(minimum: usize, maximum: usize) -> String {
    if minimum == 0 {
        format!("at most {maximum}")
    } else {
        format!("{minimum} to {maximum}")
    }
}

/// The sentence a [`crate::CoreError::Invalid`] displays as, in the domain's words (operator
/// commands name the parameter instead, as the dialects do).
pub(crate) fn describe(field: Field, violation: &Violation) -> String {
    match violation {
        Violation::Missing => format!("the {field} is required"),
        _ => format!("the {field} is invalid: {}", violation.reason(field)),
    }
}

impl Field {
    /// The format, in words, that a [`Violation::Format`] of this field broke ("1 to 64
    /// characters of letters, digits and +=,.@_-").
    pub fn format(self) -> String {
        let words = match self {
            Field::AccessKeyDescription => "characters matching [\\w+=,.@:/-]",
            Field::UserName => "1 to 64 characters of letters, digits and +=,.@_-",
            Field::ApiKeyId => return manual_key_format(MANUAL_API_KEY_ID_LENGTH),
            Field::ApiKeySecret => return manual_key_format(MANUAL_API_KEY_SECRET_LENGTH),
            Field::ActivationCodeName => {
                "2 to 128 characters, starting with a letter or a Chinese character and not with \
                 http:// or https://, of letters, digits, colons (:), underscores (_) and hyphens (-)"
            }
            Field::EasCluster
            | Field::EasServiceName
            | Field::EasInstanceName
            | Field::EasWorkerName => {
                "1 to 128 characters of letters, digits, '.', '_' and '-', starting with a letter or \
                 a digit"
            }
            _ => "of the documented format",
        };
        words.to_owned()
    }
}

fn manual_key_format((minimum, maximum): (usize, usize)) -> String {
    format!("{minimum} to {maximum} characters of [A-Za-z0-9_]")
}
