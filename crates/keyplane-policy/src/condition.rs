//! Conditions: one operator, one key, one or more values, and how they are tested.
//!
//! RAM (`IpAddress`, `StringEquals`, …) and CAM (`ip_equal`, `string_equal`, …) operator names
//! map onto one [`Operator`]. Keys are normalised: `acs:SourceIp` and `qcs:ip` are
//! [`ConditionKey::SourceIp`], `acs:CurrentTime` and `qcs:current_time` are
//! [`ConditionKey::CurrentTime`] (either cloud's name is accepted in either syntax); every other
//! key is kept lower-cased as [`ConditionKey::Other`] and looked up, ASCII case-insensitively, in
//! the request's extra keys.
//!
//! Semantics: several values of one condition are alternatives (any may match); for the negated
//! operators (`NotIpAddress`, `DateNotEquals`, `StringNotEquals`, `StringNotEqualsIgnoreCase`,
//! `StringNotLike`) the condition holds when none matches. A key the request does not carry
//! (no source IP, an extra key not supplied) makes the positive operators false and the negated
//! ones true. A key supplied several times holds for a positive operator when any occurrence
//! matches, for a negated one when none does.
//!
//! Values are checked and compiled when the policy is parsed: IP addresses and CIDR blocks
//! (IPv4 or IPv6; an IPv4-mapped IPv6 source address is tested as IPv4), RFC 3339 dates with an
//! offset, `true`/`false` for `Bool`, glob patterns for `StringLike`. `SourceIp` takes only the
//! IP operators and `CurrentTime` only the date operators; other keys take any operator, their
//! request values being parsed at evaluation for IP and date operators (an unparsable request
//! value matches nothing).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{excerpt, PolicyError};
use crate::pattern::{Bindings, Pattern, PatternKind};
use crate::syntax::Syntax;

/// A condition operator, named as in RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Operator {
    IpAddress,
    NotIpAddress,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    Bool,
}

/// Every operator with its RAM and CAM names.
const OPERATOR_NAMES: [(Operator, &str, &str); 15] = [
    (Operator::IpAddress, "IpAddress", "ip_equal"),
    (Operator::NotIpAddress, "NotIpAddress", "ip_not_equal"),
    (Operator::DateEquals, "DateEquals", "date_equal"),
    (Operator::DateNotEquals, "DateNotEquals", "date_not_equal"),
    (Operator::DateLessThan, "DateLessThan", "date_less_than"),
    (
        Operator::DateLessThanEquals,
        "DateLessThanEquals",
        "date_less_than_equal",
    ),
    (
        Operator::DateGreaterThan,
        "DateGreaterThan",
        "date_greater_than",
    ),
    (
        Operator::DateGreaterThanEquals,
        "DateGreaterThanEquals",
        "date_greater_than_equal",
    ),
    (Operator::StringEquals, "StringEquals", "string_equal"),
    (
        Operator::StringNotEquals,
        "StringNotEquals",
        "string_not_equal",
    ),
    (
        Operator::StringEqualsIgnoreCase,
        "StringEqualsIgnoreCase",
        "string_equal_ignore_case",
    ),
    (
        Operator::StringNotEqualsIgnoreCase,
        "StringNotEqualsIgnoreCase",
        "string_not_equal_ignore_case",
    ),
    (Operator::StringLike, "StringLike", "string_like"),
    (Operator::StringNotLike, "StringNotLike", "string_not_like"),
    (Operator::Bool, "Bool", "bool_equal"),
];

/// The kind of value an operator compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Ip,
    Date,
    Text,
    Like,
    Bool,
}

impl Operator {
    /// The operator's name in `syntax` (case-sensitive, as the clouds document them).
    pub fn name(self, syntax: Syntax) -> &'static str {
        OPERATOR_NAMES
            .iter()
            .find(|(operator, _, _)| *operator == self)
            .map_or("", |(_, ram, cam)| match syntax {
                Syntax::Ram => ram,
                Syntax::Cam => cam,
            })
    }

    /// The operator `name` denotes in `syntax`.
    pub fn from_name(syntax: Syntax, name: &str) -> Option<Operator> {
        OPERATOR_NAMES
            .iter()
            .find(|(_, ram, cam)| match syntax {
                Syntax::Ram => *ram == name,
                Syntax::Cam => *cam == name,
            })
            .map(|(operator, _, _)| *operator)
    }

    /// Whether the operator holds when none of its values matches (and when the key is absent).
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            Operator::NotIpAddress
                | Operator::DateNotEquals
                | Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
        )
    }

    fn family(self) -> Family {
        match self {
            Operator::IpAddress | Operator::NotIpAddress => Family::Ip,
            Operator::DateEquals
            | Operator::DateNotEquals
            | Operator::DateLessThan
            | Operator::DateLessThanEquals
            | Operator::DateGreaterThan
            | Operator::DateGreaterThanEquals => Family::Date,
            Operator::StringEquals
            | Operator::StringNotEquals
            | Operator::StringEqualsIgnoreCase
            | Operator::StringNotEqualsIgnoreCase => Family::Text,
            Operator::StringLike | Operator::StringNotLike => Family::Like,
            Operator::Bool => Family::Bool,
        }
    }
}

/// A condition key, normalised across the two syntaxes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConditionKey {
    /// `acs:SourceIp` / `qcs:ip`: the request's source address.
    SourceIp,
    /// `acs:CurrentTime` / `qcs:current_time`: the request's time.
    CurrentTime,
    /// Any other key, lower-cased, looked up in the request's extra keys.
    Other(String),
}

impl ConditionKey {
    /// The key a document's key name denotes.
    pub fn from_name(name: &str) -> ConditionKey {
        let is = |known: &str| name.eq_ignore_ascii_case(known);
        if is("acs:SourceIp") || is("qcs:ip") {
            ConditionKey::SourceIp
        } else if is("acs:CurrentTime") || is("qcs:current_time") {
            ConditionKey::CurrentTime
        } else {
            ConditionKey::Other(name.to_ascii_lowercase())
        }
    }

    /// The key's name in a document of `syntax`.
    pub fn name(&self, syntax: Syntax) -> &str {
        match (self, syntax) {
            (ConditionKey::SourceIp, Syntax::Ram) => "acs:SourceIp",
            (ConditionKey::SourceIp, Syntax::Cam) => "qcs:ip",
            (ConditionKey::CurrentTime, Syntax::Ram) => "acs:CurrentTime",
            (ConditionKey::CurrentTime, Syntax::Cam) => "qcs:current_time",
            (ConditionKey::Other(name), _) => name,
        }
    }

    /// The key's name in the stored form: `SourceIp`, `CurrentTime` or the lower-cased key.
    pub(crate) fn stored_name(&self) -> &str {
        match self {
            ConditionKey::SourceIp => "SourceIp",
            ConditionKey::CurrentTime => "CurrentTime",
            ConditionKey::Other(name) => name,
        }
    }

    /// The inverse of [`ConditionKey::stored_name`].
    pub(crate) fn from_stored_name(name: &str) -> Result<ConditionKey, PolicyError> {
        match name {
            "SourceIp" => Ok(ConditionKey::SourceIp),
            "CurrentTime" => Ok(ConditionKey::CurrentTime),
            other if !other.is_empty() && other.to_ascii_lowercase() == other => {
                Ok(ConditionKey::Other(other.to_owned()))
            }
            other => Err(PolicyError::BadStoredForm {
                reason: format!("condition key {} is not in stored form", excerpt(other)),
            }),
        }
    }
}

/// An address block: a network address and a prefix length.
#[derive(Clone, Copy, Debug)]
struct IpBlock {
    network: IpAddr,
    prefix: u8,
}

impl IpBlock {
    fn parse(text: &str) -> Option<IpBlock> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.trim().parse().ok()?;
        let width = match network {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = match prefix {
            None => width,
            Some(prefix) => {
                if prefix.is_empty() || !prefix.bytes().all(|byte| byte.is_ascii_digit()) {
                    return None;
                }
                let prefix: u8 = prefix.parse().ok()?;
                if prefix > width {
                    return None;
                }
                prefix
            }
        };
        Some(IpBlock { network, prefix })
    }

    fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => prefix_equal(
                u32::from(network).into(),
                u32::from(address).into(),
                32,
                self.prefix,
            ),
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                prefix_equal(u128::from(network), u128::from(address), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `prefix` of the `width` low bits of `left` and `right` agree.
fn prefix_equal(left: u128, right: u128, width: u8, prefix: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let ignored = u32::from(width.saturating_sub(prefix));
    (left ^ right).checked_shr(ignored).unwrap_or(0) == 0
}

/// An IPv4-mapped IPv6 address as IPv4, anything else as it is.
fn canonical_address(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

fn parse_date(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok()
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A condition's values, compiled for their operator.
#[derive(Clone, Debug)]
enum Compiled {
    Ip(Box<[IpBlock]>),
    Date(Box<[OffsetDateTime]>),
    /// Compared against the written values directly.
    Text,
    Like(Box<[Pattern]>),
    Bool(Box<[bool]>),
}

/// One condition. Equal when operator, key and values (as written) are equal.
#[derive(Clone, Debug)]
pub struct Condition {
    operator: Operator,
    key: ConditionKey,
    values: Vec<String>,
    compiled: Compiled,
}

impl PartialEq for Condition {
    fn eq(&self, other: &Condition) -> bool {
        self.operator == other.operator && self.key == other.key && self.values == other.values
    }
}

impl Eq for Condition {}

impl Condition {
    /// Checks and compiles a condition; `statement` only labels errors.
    pub(crate) fn build(
        statement: usize,
        operator: Operator,
        key: ConditionKey,
        values: Vec<String>,
    ) -> Result<Condition, PolicyError> {
        let malformed = |reason: String| PolicyError::ConditionMalformed { statement, reason };
        if values.is_empty() {
            return Err(malformed(format!(
                "{} has no values",
                excerpt(key.name(Syntax::Ram))
            )));
        }
        if matches!(&key, ConditionKey::Other(name) if name.is_empty()) {
            return Err(malformed("a condition key is empty".to_owned()));
        }
        let family = operator.family();
        let key_allows = match key {
            ConditionKey::SourceIp => family == Family::Ip,
            ConditionKey::CurrentTime => family == Family::Date,
            ConditionKey::Other(_) => true,
        };
        if !key_allows {
            return Err(malformed(format!(
                "{} cannot be tested with {}",
                key.name(Syntax::Ram),
                operator.name(Syntax::Ram)
            )));
        }
        let compiled = match family {
            Family::Ip => Compiled::Ip(
                values
                    .iter()
                    .map(|value| {
                        IpBlock::parse(value).ok_or_else(|| PolicyError::BadIpAddress {
                            statement,
                            value: excerpt(value),
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Family::Date => Compiled::Date(
                values
                    .iter()
                    .map(|value| {
                        parse_date(value).ok_or_else(|| PolicyError::BadDate {
                            statement,
                            value: excerpt(value),
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Family::Text => Compiled::Text,
            Family::Like => Compiled::Like(
                values
                    .iter()
                    .map(|value| Pattern::compile(value, PatternKind::Like, statement))
                    .collect::<Result<_, _>>()?,
            ),
            Family::Bool => Compiled::Bool(
                values
                    .iter()
                    .map(|value| {
                        parse_bool(value).ok_or_else(|| {
                            malformed(format!("Bool takes true or false, not {}", excerpt(value)))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Condition {
            operator,
            key,
            values,
            compiled,
        })
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    pub fn key(&self) -> &ConditionKey {
        &self.key
    }

    /// The values as written.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether the condition holds for a request.
    pub(crate) fn holds(
        &self,
        source_ip: Option<IpAddr>,
        now: OffsetDateTime,
        extra_keys: &[(&str, &str)],
        bindings: &Bindings<'_>,
    ) -> bool {
        let negated = self.operator.is_negated();
        let any_match = match &self.key {
            ConditionKey::SourceIp => match source_ip {
                Some(address) => self.address_matches(address),
                None => return negated,
            },
            ConditionKey::CurrentTime => self.date_matches(now),
            ConditionKey::Other(name) => {
                let mut present = false;
                let mut any_match = false;
                for (key, value) in extra_keys {
                    if key.eq_ignore_ascii_case(name) {
                        present = true;
                        if self.text_matches(value, bindings) {
                            any_match = true;
                            break;
                        }
                    }
                }
                if !present {
                    return negated;
                }
                any_match
            }
        };
        any_match != negated
    }

    /// Whether `address` is in any of the blocks (IP operators only).
    fn address_matches(&self, address: IpAddr) -> bool {
        let address = canonical_address(address);
        match &self.compiled {
            Compiled::Ip(blocks) => blocks.iter().any(|block| block.contains(address)),
            _ => false,
        }
    }

    /// Whether `moment` compares as the operator asks with any value (date operators only).
    fn date_matches(&self, moment: OffsetDateTime) -> bool {
        let Compiled::Date(dates) = &self.compiled else {
            return false;
        };
        dates.iter().any(|date| match self.operator {
            Operator::DateEquals | Operator::DateNotEquals => moment == *date,
            Operator::DateLessThan => moment < *date,
            Operator::DateLessThanEquals => moment <= *date,
            Operator::DateGreaterThan => moment > *date,
            Operator::DateGreaterThanEquals => moment >= *date,
            _ => false,
        })
    }

    /// Whether a request's text value matches any value (positive sense of the operator).
    fn text_matches(&self, value: &str, bindings: &Bindings<'_>) -> bool {
        match &self.compiled {
            Compiled::Ip(_) => value
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|address| self.address_matches(address)),
            Compiled::Date(_) => parse_date(value).is_some_and(|moment| self.date_matches(moment)),
            Compiled::Text => match self.operator {
                Operator::StringEqualsIgnoreCase | Operator::StringNotEqualsIgnoreCase => {
                    self.values.iter().any(|written| {
                        written
                            .chars()
                            .flat_map(char::to_lowercase)
                            .eq(value.chars().flat_map(char::to_lowercase))
                    })
                }
                _ => self.values.iter().any(|written| written == value),
            },
            Compiled::Like(patterns) => patterns
                .iter()
                .any(|pattern| pattern.matches(value, bindings)),
            Compiled::Bool(expected) => {
                parse_bool(value).is_some_and(|actual| expected.contains(&actual))
            }
        }
    }
}
