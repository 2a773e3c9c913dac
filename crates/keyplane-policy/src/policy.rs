//! The common form of a policy, whatever syntax it was written in, and its stored form.
//!
//! A [`Policy`] is a list of [`Statement`]s, each an effect, an action matcher, a resource
//! matcher and conditions, with every pattern and value checked and compiled. It is built only
//! by [`Policy::parse`] (a RAM or CAM document) or [`Policy::from_stored`] (the database's
//! copy), so a `Policy` is always valid. Conditions are kept in a canonical order (by operator,
//! then key), which is what makes `parse(render(p)) == p` hold in both syntaxes; statements keep
//! their order, since a [`crate::Decision`] names the statement that decided.
//!
//! The stored form is compact JSON, one shape for both syntaxes:
//! `{"version":1,"statements":[{"effect":"allow","actions":["ram:*"],"resources":["*"],
//! "conditions":[{"operator":"IpAddress","key":"SourceIp","values":["10.0.0.0/8"]}]}]}`
//! (`not_actions` / `not_resources` in place of `actions` / `resources` for the negated
//! matchers). `version` is the stored form's version, for future migrations.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::condition::{Condition, ConditionKey, Operator};
use crate::error::{excerpt, PolicyError};
use crate::pattern::{Bindings, Pattern, PatternKind};
use crate::syntax::Syntax;

/// The most statements a policy may have.
pub const MAX_STATEMENTS: usize = 100;

/// The stored form's version.
const STORED_VERSION: u32 = 1;

/// What an applicable statement decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

/// A list of patterns, matched positively (`Action`, `Resource`) or negatively (`NotAction`,
/// `NotResource`: matches what none of the patterns matches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Matcher {
    AnyOf(Vec<Pattern>),
    NoneOf(Vec<Pattern>),
}

impl Matcher {
    pub(crate) fn matches(&self, text: &str, bindings: &Bindings<'_>) -> bool {
        match self {
            Matcher::AnyOf(patterns) => patterns
                .iter()
                .any(|pattern| pattern.matches(text, bindings)),
            Matcher::NoneOf(patterns) => !patterns
                .iter()
                .any(|pattern| pattern.matches(text, bindings)),
        }
    }

    /// The patterns, whichever the sense.
    pub fn patterns(&self) -> &[Pattern] {
        match self {
            Matcher::AnyOf(patterns) | Matcher::NoneOf(patterns) => patterns,
        }
    }

    /// Whether this is a `Not…` matcher.
    pub fn is_negated(&self) -> bool {
        matches!(self, Matcher::NoneOf(_))
    }
}

/// One statement of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub effect: Effect,
    pub actions: Matcher,
    pub resources: Matcher,
    /// All must hold (AND), in canonical order (operator, then key), no (operator, key) twice.
    pub conditions: Vec<Condition>,
}

/// A policy in the common form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub statements: Vec<Statement>,
}

impl AsRef<Policy> for Policy {
    fn as_ref(&self) -> &Policy {
        self
    }
}

/// A list of patterns as read from a document or the stored form, before checking.
pub(crate) struct RawList {
    /// The field it came from, for error messages.
    pub field: &'static str,
    pub negated: bool,
    pub entries: Vec<String>,
}

/// A condition as read, before checking.
pub(crate) struct RawCondition {
    pub operator: Operator,
    pub key: ConditionKey,
    pub values: Vec<String>,
}

/// A statement as read, before checking.
pub(crate) struct RawStatement {
    pub effect: Effect,
    pub actions: RawList,
    pub resources: RawList,
    pub conditions: Vec<RawCondition>,
}

/// Whether `action` is `*` or `service:Action`, each part letters, digits, `_ - .` and the
/// wildcards.
fn is_action_pattern(action: &str) -> bool {
    if action == "*" {
        return true;
    }
    let part_ok = |part: &str| {
        !part.is_empty()
            && part.bytes().all(|byte| {
                byte.is_ascii_alphanumeric() || matches!(byte, b'*' | b'?' | b'_' | b'-' | b'.')
            })
    };
    action
        .split_once(':')
        .is_some_and(|(service, name)| part_ok(service) && part_ok(name))
}

fn build_matcher(
    statement: usize,
    list: RawList,
    kind: PatternKind,
) -> Result<Matcher, PolicyError> {
    if list.entries.is_empty() {
        return Err(PolicyError::EmptyList {
            statement,
            field: list.field,
        });
    }
    let mut patterns = Vec::with_capacity(list.entries.len());
    for entry in &list.entries {
        if entry.is_empty() {
            return Err(PolicyError::EmptyEntry {
                statement,
                field: list.field,
            });
        }
        if kind == PatternKind::Action && !is_action_pattern(entry) {
            return Err(PolicyError::BadAction {
                statement,
                action: excerpt(entry),
            });
        }
        patterns.push(Pattern::compile(entry, kind, statement)?);
    }
    Ok(if list.negated {
        Matcher::NoneOf(patterns)
    } else {
        Matcher::AnyOf(patterns)
    })
}

impl Statement {
    pub(crate) fn build(statement: usize, raw: RawStatement) -> Result<Statement, PolicyError> {
        let actions = build_matcher(statement, raw.actions, PatternKind::Action)?;
        let resources = build_matcher(statement, raw.resources, PatternKind::Resource)?;
        let mut conditions = raw
            .conditions
            .into_iter()
            .map(|raw| Condition::build(statement, raw.operator, raw.key, raw.values))
            .collect::<Result<Vec<_>, _>>()?;
        conditions.sort_by(|left, right| {
            (left.operator(), left.key()).cmp(&(right.operator(), right.key()))
        });
        if let Some(pair) = conditions
            .windows(2)
            .find(|pair| pair[0].operator() == pair[1].operator() && pair[0].key() == pair[1].key())
        {
            return Err(PolicyError::ConditionMalformed {
                statement,
                reason: format!(
                    "{} tests {} twice",
                    pair[0].operator().name(Syntax::Ram),
                    excerpt(pair[0].key().name(Syntax::Ram))
                ),
            });
        }
        Ok(Statement {
            effect: raw.effect,
            actions,
            resources,
            conditions,
        })
    }
}

impl Policy {
    /// Checks the statement count and builds every statement.
    pub(crate) fn build(raw: Vec<RawStatement>) -> Result<Policy, PolicyError> {
        if raw.is_empty() {
            return Err(PolicyError::EmptyStatements);
        }
        if raw.len() > MAX_STATEMENTS {
            return Err(PolicyError::TooManyStatements {
                count: raw.len(),
                limit: MAX_STATEMENTS,
            });
        }
        let statements = raw
            .into_iter()
            .enumerate()
            .map(|(index, raw)| Statement::build(index, raw))
            .collect::<Result<_, _>>()?;
        Ok(Policy { statements })
    }

    /// The compact JSON the database keeps (see the module documentation).
    pub fn to_stored(&self) -> String {
        // Serialising plain structs with string keys cannot fail.
        serde_json::to_string(&StoredPolicy::from(self)).unwrap_or_default()
    }

    /// A policy from its stored form, checked and compiled as a parsed document is.
    pub fn from_stored(text: &str) -> Result<Policy, PolicyError> {
        let stored: StoredPolicy =
            serde_json::from_str(text).map_err(|error| PolicyError::BadStoredForm {
                reason: error.to_string(),
            })?;
        Policy::try_from(stored)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredPolicy {
    version: u32,
    statements: Vec<StoredStatement>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredStatement {
    effect: Effect,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    actions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not_actions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resources: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not_resources: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    conditions: Vec<StoredCondition>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredCondition {
    operator: Operator,
    key: String,
    values: Vec<String>,
}

fn stored_list(matcher: &Matcher) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let entries = matcher
        .patterns()
        .iter()
        .map(|pattern| pattern.as_str().to_owned())
        .collect();
    if matcher.is_negated() {
        (None, Some(entries))
    } else {
        (Some(entries), None)
    }
}

impl From<&Policy> for StoredPolicy {
    fn from(policy: &Policy) -> StoredPolicy {
        StoredPolicy {
            version: STORED_VERSION,
            statements: policy
                .statements
                .iter()
                .map(|statement| {
                    let (actions, not_actions) = stored_list(&statement.actions);
                    let (resources, not_resources) = stored_list(&statement.resources);
                    StoredStatement {
                        effect: statement.effect,
                        actions,
                        not_actions,
                        resources,
                        not_resources,
                        conditions: statement
                            .conditions
                            .iter()
                            .map(|condition| StoredCondition {
                                operator: condition.operator(),
                                key: condition.key().stored_name().to_owned(),
                                values: condition.values().to_vec(),
                            })
                            .collect(),
                    }
                })
                .collect(),
        }
    }
}

/// One of two exclusive fields of the stored form as a [`RawList`].
fn raw_list(
    statement: usize,
    positive: Option<Vec<String>>,
    negative: Option<Vec<String>>,
    names: (&'static str, &'static str),
) -> Result<RawList, PolicyError> {
    match (positive, negative) {
        (Some(entries), None) => Ok(RawList {
            field: names.0,
            negated: false,
            entries,
        }),
        (None, Some(entries)) => Ok(RawList {
            field: names.1,
            negated: true,
            entries,
        }),
        (Some(_), Some(_)) => Err(PolicyError::ConflictingFields {
            statement,
            first: names.0,
            second: names.1,
        }),
        (None, None) => Err(PolicyError::BadStoredForm {
            reason: format!(
                "statement {statement} has neither {} nor {}",
                names.0, names.1
            ),
        }),
    }
}

impl TryFrom<StoredPolicy> for Policy {
    type Error = PolicyError;

    fn try_from(stored: StoredPolicy) -> Result<Policy, PolicyError> {
        if stored.version != STORED_VERSION {
            return Err(PolicyError::BadStoredForm {
                reason: format!("unknown stored-form version {}", stored.version),
            });
        }
        let mut raw = Vec::with_capacity(stored.statements.len());
        for (index, statement) in stored.statements.into_iter().enumerate() {
            raw.push(RawStatement {
                effect: statement.effect,
                actions: raw_list(
                    index,
                    statement.actions,
                    statement.not_actions,
                    ("actions", "not_actions"),
                )?,
                resources: raw_list(
                    index,
                    statement.resources,
                    statement.not_resources,
                    ("resources", "not_resources"),
                )?,
                conditions: statement
                    .conditions
                    .into_iter()
                    .map(|condition| {
                        Ok(RawCondition {
                            operator: condition.operator,
                            key: ConditionKey::from_stored_name(&condition.key)?,
                            values: condition.values,
                        })
                    })
                    .collect::<Result<_, PolicyError>>()?,
            });
        }
        Policy::build(raw)
    }
}

/// Serialises as the stored form.
impl Serialize for Policy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StoredPolicy::from(self).serialize(serializer)
    }
}

/// Deserialises from the stored form, checking and compiling as [`Policy::from_stored`] does.
impl<'de> Deserialize<'de> for Policy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Policy, D::Error> {
        let stored = StoredPolicy::deserialize(deserializer)?;
        Policy::try_from(stored).map_err(serde::de::Error::custom)
    }
}
