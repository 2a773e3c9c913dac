//! The two document syntaxes: parsing RAM (Alibaba) and CAM (Tencent) policy documents into the
//! common form, and rendering the common form back into either.
//!
//! RAM: `{"Version":"1","Statement":[{"Effect":"Allow"|"Deny","Action":…,"Resource":…,
//! "Condition":{…}}]}`, at most 6,144 characters; field names and effects are case-sensitive.
//! CAM: `{"version":"2.0","statement":[{"effect":"allow"|"deny","action":…,"resource":…,
//! "condition":{…}}]}`, at most 6,144 characters; the effect is case-insensitive and an action's
//! legacy `name/` prefix is dropped. Both accept the negated matchers (`NotAction` /
//! `NotResource` in RAM, `not_action` / `not_resource` in CAM — a Keyplane extension there).
//! A principal field is refused in both: these policies are attached to users. A JSON object
//! that repeats a field is refused ([`PolicyError::DuplicateField`]) rather than read as its
//! last occurrence.
//!
//! Rendering is compact JSON (lists always as lists), in the field order above; a rendered
//! policy parses back to an equal policy, provided it fits the target syntax's length limit
//! (a policy near the 6,144-character limit may not fit it once rendered in the other syntax).

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::condition::{Condition, ConditionKey, Operator};
use crate::error::{excerpt, excerpt_json, PolicyError};
use crate::policy::{Effect, Matcher, Policy, RawCondition, RawList, RawStatement, Statement};
pub use crate::syntax::Syntax;

/// The names and limits of one syntax.
struct Spec {
    max_length: usize,
    version_field: &'static str,
    version: &'static str,
    statement_field: &'static str,
    effect_field: &'static str,
    action_field: &'static str,
    not_action_field: &'static str,
    resource_field: &'static str,
    not_resource_field: &'static str,
    condition_field: &'static str,
    allow: &'static str,
    deny: &'static str,
    effect_case_sensitive: bool,
}

const RAM: Spec = Spec {
    max_length: 6144,
    version_field: "Version",
    version: "1",
    statement_field: "Statement",
    effect_field: "Effect",
    action_field: "Action",
    not_action_field: "NotAction",
    resource_field: "Resource",
    not_resource_field: "NotResource",
    condition_field: "Condition",
    allow: "Allow",
    deny: "Deny",
    effect_case_sensitive: true,
};

const CAM: Spec = Spec {
    max_length: 6144,
    version_field: "version",
    version: "2.0",
    statement_field: "statement",
    effect_field: "effect",
    action_field: "action",
    not_action_field: "not_action",
    resource_field: "resource",
    not_resource_field: "not_resource",
    condition_field: "condition",
    allow: "allow",
    deny: "deny",
    effect_case_sensitive: false,
};

impl Syntax {
    fn spec(self) -> &'static Spec {
        match self {
            Syntax::Ram => &RAM,
            Syntax::Cam => &CAM,
        }
    }

    /// The longest document this syntax accepts, in characters.
    pub fn max_length(self) -> usize {
        self.spec().max_length
    }
}

impl Policy {
    /// Parses and checks a document written in `syntax`.
    pub fn parse(document: &str, syntax: Syntax) -> Result<Policy, PolicyError> {
        let spec = syntax.spec();
        if document.chars().count() > spec.max_length {
            return Err(PolicyError::TooLong {
                limit: spec.max_length,
            });
        }
        let value = read_json(document)?;
        let Value::Object(object) = value else {
            return Err(PolicyError::NotObject);
        };
        // The least unknown field, so the answer does not depend on the JSON map's order.
        if let Some(field) = object
            .keys()
            .filter(|key| *key != spec.version_field && *key != spec.statement_field)
            .min()
        {
            return Err(PolicyError::UnknownDocumentField {
                field: excerpt(field),
            });
        }
        match object.get(spec.version_field) {
            None => {
                return Err(PolicyError::MissingVersion {
                    field: spec.version_field,
                })
            }
            Some(Value::String(version)) if version == spec.version => {}
            Some(other) => {
                return Err(PolicyError::BadVersion {
                    expected: spec.version,
                    found: excerpt_json(other),
                })
            }
        }
        let statements = match object.get(spec.statement_field) {
            None => {
                return Err(PolicyError::MissingStatements {
                    field: spec.statement_field,
                })
            }
            Some(Value::Array(statements)) => statements,
            Some(_) => {
                return Err(PolicyError::StatementsNotList {
                    field: spec.statement_field,
                })
            }
        };
        if statements.is_empty() {
            return Err(PolicyError::EmptyStatements);
        }
        if statements.len() > crate::policy::MAX_STATEMENTS {
            return Err(PolicyError::TooManyStatements {
                count: statements.len(),
                limit: crate::policy::MAX_STATEMENTS,
            });
        }
        let raw = statements
            .iter()
            .enumerate()
            .map(|(index, statement)| read_statement(index, statement, syntax))
            .collect::<Result<Vec<_>, _>>()?;
        Policy::build(raw)
    }

    /// The policy as a compact document in `syntax`.
    pub fn render(&self, syntax: Syntax) -> String {
        // Serialising maps with string keys cannot fail.
        serde_json::to_string(&RenderedPolicy {
            policy: self,
            syntax,
        })
        .unwrap_or_default()
    }
}

/// The document as JSON, refusing an object that repeats a field: serde_json would keep the
/// last silently, and `{"Effect":"Deny","Effect":"Allow"}` must not be read as an Allow that a
/// reviewer took for a Deny.
fn read_json(document: &str) -> Result<Value, PolicyError> {
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(document);
    let result = StrictJson {
        duplicate: &duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    result.map_err(|error| match duplicate.into_inner() {
        Some(field) => PolicyError::DuplicateField {
            field: excerpt(&field),
        },
        None => PolicyError::NotJson {
            line: error.line(),
            column: error.column(),
        },
    })
}

/// Reads any JSON value as serde_json's `Value` does, but records a repeated field and fails.
#[derive(Clone, Copy)]
struct StrictJson<'a> {
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for StrictJson<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictJson<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = sequence.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                *self.duplicate.borrow_mut() = Some(key);
                return Err(de::Error::custom("duplicate field"));
            }
            let value = map.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

fn read_statement(
    statement: usize,
    value: &Value,
    syntax: Syntax,
) -> Result<RawStatement, PolicyError> {
    let spec = syntax.spec();
    let Value::Object(fields) = value else {
        return Err(PolicyError::StatementNotObject { statement });
    };
    let known = [
        spec.effect_field,
        spec.action_field,
        spec.not_action_field,
        spec.resource_field,
        spec.not_resource_field,
        spec.condition_field,
    ];
    if let Some(field) = fields.keys().find(|field| {
        ["principal", "notprincipal", "not_principal"]
            .iter()
            .any(|name| field.eq_ignore_ascii_case(name))
    }) {
        return Err(PolicyError::PrincipalNotAllowed {
            statement,
            field: excerpt(field),
        });
    }
    if let Some(field) = fields
        .keys()
        .filter(|field| !known.contains(&field.as_str()))
        .min()
    {
        return Err(PolicyError::UnknownStatementField {
            statement,
            field: excerpt(field),
        });
    }
    let effect = match fields.get(spec.effect_field) {
        None => {
            return Err(PolicyError::MissingEffect {
                statement,
                field: spec.effect_field,
            })
        }
        Some(Value::String(text)) => {
            let is = |name: &str| {
                if spec.effect_case_sensitive {
                    text == name
                } else {
                    text.eq_ignore_ascii_case(name)
                }
            };
            if is(spec.allow) {
                Some(Effect::Allow)
            } else if is(spec.deny) {
                Some(Effect::Deny)
            } else {
                None
            }
        }
        Some(_) => None,
    };
    let Some(effect) = effect else {
        return Err(PolicyError::BadEffect {
            statement,
            expected: if syntax == Syntax::Ram {
                "\"Allow\" or \"Deny\""
            } else {
                "\"allow\" or \"deny\""
            },
            found: fields
                .get(spec.effect_field)
                .map(excerpt_json)
                .unwrap_or_default(),
        });
    };
    let mut actions = read_list(statement, fields, spec.action_field, spec.not_action_field)?
        .ok_or(PolicyError::MissingAction {
            statement,
            field: spec.action_field,
        })?;
    if syntax == Syntax::Cam {
        for action in &mut actions.entries {
            if let Some(stripped) = action.strip_prefix("name/") {
                *action = stripped.to_owned();
            }
        }
    }
    let resources = read_list(
        statement,
        fields,
        spec.resource_field,
        spec.not_resource_field,
    )?
    .ok_or(PolicyError::MissingResource {
        statement,
        field: spec.resource_field,
    })?;
    let conditions = match fields.get(spec.condition_field) {
        None => Vec::new(),
        Some(Value::Object(operators)) => read_conditions(statement, operators, syntax)?,
        Some(_) => {
            return Err(PolicyError::ConditionMalformed {
                statement,
                reason: format!("\"{}\" must be an object", spec.condition_field),
            })
        }
    };
    Ok(RawStatement {
        effect,
        actions,
        resources,
        conditions,
    })
}

/// The positive or the negated list of a statement, `None` when it has neither.
fn read_list(
    statement: usize,
    fields: &Map<String, Value>,
    positive: &'static str,
    negative: &'static str,
) -> Result<Option<RawList>, PolicyError> {
    let (field, negated, value) = match (fields.get(positive), fields.get(negative)) {
        (Some(_), Some(_)) => {
            return Err(PolicyError::ConflictingFields {
                statement,
                first: positive,
                second: negative,
            })
        }
        (None, None) => return Ok(None),
        (Some(value), None) => (positive, false, value),
        (None, Some(value)) => (negative, true, value),
    };
    let not_list = || PolicyError::NotStringOrList { statement, field };
    let entries = match value {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                _ => Err(not_list()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(not_list()),
    };
    Ok(Some(RawList {
        field,
        negated,
        entries,
    }))
}

fn read_conditions(
    statement: usize,
    operators: &Map<String, Value>,
    syntax: Syntax,
) -> Result<Vec<RawCondition>, PolicyError> {
    let malformed = |reason: String| PolicyError::ConditionMalformed { statement, reason };
    let mut conditions = Vec::new();
    for (name, keys) in operators {
        let Some(operator) = Operator::from_name(syntax, name) else {
            return Err(PolicyError::UnknownConditionOperator {
                statement,
                operator: excerpt(name),
            });
        };
        let Value::Object(keys) = keys else {
            return Err(malformed(format!(
                "{} must map condition keys to values",
                excerpt(name)
            )));
        };
        if keys.is_empty() {
            return Err(malformed(format!(
                "{} has no condition keys",
                excerpt(name)
            )));
        }
        for (key, values) in keys {
            let texts = match values {
                Value::Array(items) => items.iter().map(value_text).collect::<Option<Vec<_>>>(),
                single => value_text(single).map(|text| vec![text]),
            };
            let Some(texts) = texts else {
                return Err(malformed(format!(
                    "the values of {} must be strings, numbers or booleans",
                    excerpt(key)
                )));
            };
            conditions.push(RawCondition {
                operator,
                key: ConditionKey::from_name(key),
                values: texts,
            });
        }
    }
    Ok(conditions)
}

/// A condition value as text: strings as they are, numbers and booleans as written in JSON.
fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

struct RenderedPolicy<'a> {
    policy: &'a Policy,
    syntax: Syntax,
}

impl Serialize for RenderedPolicy<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let spec = self.syntax.spec();
        let statements: Vec<RenderedStatement<'_>> = self
            .policy
            .statements
            .iter()
            .map(|statement| RenderedStatement {
                statement,
                syntax: self.syntax,
            })
            .collect();
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry(spec.version_field, spec.version)?;
        map.serialize_entry(spec.statement_field, &statements)?;
        map.end()
    }
}

struct RenderedStatement<'a> {
    statement: &'a Statement,
    syntax: Syntax,
}

fn rendered_list(matcher: &Matcher) -> Vec<&str> {
    matcher
        .patterns()
        .iter()
        .map(|pattern| pattern.as_str())
        .collect()
}

impl Serialize for RenderedStatement<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let spec = self.syntax.spec();
        let statement = self.statement;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(
            spec.effect_field,
            match statement.effect {
                Effect::Allow => spec.allow,
                Effect::Deny => spec.deny,
            },
        )?;
        let action_field = if statement.actions.is_negated() {
            spec.not_action_field
        } else {
            spec.action_field
        };
        map.serialize_entry(action_field, &rendered_list(&statement.actions))?;
        let resource_field = if statement.resources.is_negated() {
            spec.not_resource_field
        } else {
            spec.resource_field
        };
        map.serialize_entry(resource_field, &rendered_list(&statement.resources))?;
        if !statement.conditions.is_empty() {
            map.serialize_entry(
                spec.condition_field,
                &RenderedConditions {
                    conditions: &statement.conditions,
                    syntax: self.syntax,
                },
            )?;
        }
        map.end()
    }
}

struct RenderedConditions<'a> {
    conditions: &'a [Condition],
    syntax: Syntax,
}

impl Serialize for RenderedConditions<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Grouped by operator; a statement keeps its conditions sorted by operator, but sort a
        // copy anyway so a hand-built statement renders one entry per operator.
        let mut conditions: Vec<&Condition> = self.conditions.iter().collect();
        conditions.sort_by(|left, right| {
            (left.operator(), left.key()).cmp(&(right.operator(), right.key()))
        });
        let mut map = serializer.serialize_map(None)?;
        for group in conditions.chunk_by(|left, right| left.operator() == right.operator()) {
            let Some(first) = group.first() else {
                continue;
            };
            map.serialize_entry(
                first.operator().name(self.syntax),
                &RenderedKeys {
                    conditions: group,
                    syntax: self.syntax,
                },
            )?;
        }
        map.end()
    }
}

struct RenderedKeys<'a> {
    conditions: &'a [&'a Condition],
    syntax: Syntax,
}

impl Serialize for RenderedKeys<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.conditions
                .iter()
                .map(|condition| (condition.key().name(self.syntax), condition.values())),
        )
    }
}
