//! Request parameters of the Tencent dialect, one shape for every encoding: a POST JSON body is
//! used as it is; GET queries and form bodies (`Tags.0.Key=env`) are unflattened into the same
//! JSON tree, with zero-based indexes becoming arrays and every leaf a string. Typed getters then
//! read that tree, accepting integers given as strings (as GET and v1 send them) and naming the
//! parameter in every error.

use serde_json::{Map, Value};

use crate::errors::TencentError;

/// The business parameters of one request.
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: Map<String, Value>,
}

/// The most array elements a flattened index may address; larger indexes are refused rather
/// than allocating.
const MAX_FLAT_INDEX: usize = 1_000;

impl Params {
    /// Parameters from a JSON body, which must be an object (an empty body counts as `{}`).
    pub fn from_json(body: &[u8]) -> Result<Self, TencentError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(values)) => Ok(Self { values }),
            Ok(_) => Err(TencentError::invalid_parameter(
                "the request body must be a JSON object",
            )),
            Err(_) => Err(TencentError::invalid_parameter(
                "the request body is not valid JSON",
            )),
        }
    }

    /// Parameters from flattened `name=value` pairs (already URL-decoded).
    pub fn from_flat(pairs: &[(String, String)]) -> Result<Self, TencentError> {
        let mut root = Value::Object(Map::new());
        for (name, value) in pairs {
            insert_flat(&mut root, name, value.clone())?;
        }
        match root {
            Value::Object(values) => Ok(Self { values }),
            _ => Ok(Self::default()),
        }
    }

    /// Refuses any top-level parameter not in `known`.
    pub fn allow_only(&self, known: &[&str]) -> Result<(), TencentError> {
        match self
            .values
            .keys()
            .find(|name| !known.contains(&name.as_str()))
        {
            Some(name) => Err(TencentError::unknown_parameter(name)),
            None => Ok(()),
        }
    }

    fn value(&self, name: &str) -> Option<&Value> {
        self.values.get(name).filter(|value| !value.is_null())
    }

    /// An optional string parameter.
    pub fn optional_string(&self, name: &str) -> Result<Option<String>, TencentError> {
        self.value(name)
            .map(|value| as_string(name, value))
            .transpose()
    }

    /// A required string parameter.
    pub fn required_string(&self, name: &str) -> Result<String, TencentError> {
        self.optional_string(name)?
            .ok_or_else(|| TencentError::missing_parameter(name))
    }

    /// An optional unsigned integer parameter.
    pub fn optional_unsigned(&self, name: &str) -> Result<Option<u64>, TencentError> {
        self.value(name)
            .map(|value| as_unsigned(name, value))
            .transpose()
    }

    /// An optional array of non-negative integers (numbers, or their decimal text in the v1
    /// flat form `Name.0=…`).
    pub fn optional_unsigned_list(&self, name: &str) -> Result<Option<Vec<u64>>, TencentError> {
        self.value(name)
            .map(|value| {
                let Value::Array(elements) = value else {
                    return Err(TencentError::invalid_type(name, "an array of integers"));
                };
                elements
                    .iter()
                    .enumerate()
                    .map(|(index, element)| as_unsigned(&format!("{name}.{index}"), element))
                    .collect()
            })
            .transpose()
    }

    /// An optional array of strings.
    pub fn optional_string_list(&self, name: &str) -> Result<Option<Vec<String>>, TencentError> {
        self.value(name)
            .map(|value| string_list(name, value))
            .transpose()
    }

    /// An optional array of objects, each checked by `read`.
    pub fn optional_object_list<T>(
        &self,
        name: &str,
        read: impl Fn(&str, &Map<String, Value>) -> Result<T, TencentError>,
    ) -> Result<Option<Vec<T>>, TencentError> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        let Value::Array(elements) = value else {
            return Err(TencentError::invalid_type(name, "an array"));
        };
        let mut items = Vec::with_capacity(elements.len());
        for (index, element) in elements.iter().enumerate() {
            let path = format!("{name}.{index}");
            let Value::Object(fields) = element else {
                return Err(TencentError::invalid_type(&path, "an object"));
            };
            items.push(read(&path, fields)?);
        }
        Ok(Some(items))
    }
}

/// Reads a string field of an object element; `path` names the element.
pub fn field_string(
    path: &str,
    fields: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, TencentError> {
    let full_name = format!("{path}.{name}");
    fields
        .get(name)
        .filter(|value| !value.is_null())
        .map(|value| as_string(&full_name, value))
        .transpose()
}

/// Reads a string-array field of an object element.
pub fn field_string_list(
    path: &str,
    fields: &Map<String, Value>,
    name: &str,
) -> Result<Option<Vec<String>>, TencentError> {
    let full_name = format!("{path}.{name}");
    fields
        .get(name)
        .filter(|value| !value.is_null())
        .map(|value| string_list(&full_name, value))
        .transpose()
}

/// Refuses fields of an object element not in `known`.
pub fn fields_allow_only(
    path: &str,
    fields: &Map<String, Value>,
    known: &[&str],
) -> Result<(), TencentError> {
    match fields.keys().find(|name| !known.contains(&name.as_str())) {
        Some(name) => Err(TencentError::unknown_parameter(&format!("{path}.{name}"))),
        None => Ok(()),
    }
}

fn as_string(name: &str, value: &Value) -> Result<String, TencentError> {
    match value {
        Value::String(text) => Ok(text.clone()),
        _ => Err(TencentError::invalid_type(name, "a string")),
    }
}

fn as_unsigned(name: &str, value: &Value) -> Result<u64, TencentError> {
    match value {
        Value::Number(number) => number
            .as_u64()
            .ok_or_else(|| TencentError::invalid_type(name, "a non-negative integer")),
        Value::String(text) => text
            .trim()
            .parse::<u64>()
            .map_err(|_| TencentError::invalid_type(name, "a non-negative integer")),
        _ => Err(TencentError::invalid_type(name, "a non-negative integer")),
    }
}

fn string_list(name: &str, value: &Value) -> Result<Vec<String>, TencentError> {
    let Value::Array(elements) = value else {
        return Err(TencentError::invalid_type(name, "an array of strings"));
    };
    elements
        .iter()
        .enumerate()
        .map(|(index, element)| as_string(&format!("{name}.{index}"), element))
        .collect()
}

fn insert_flat(root: &mut Value, name: &str, value: String) -> Result<(), TencentError> {
    let malformed =
        || TencentError::invalid_parameter(format!("malformed parameter name `{name}`"));
    let segments: Vec<&str> = name.split('.').collect();
    if segments.iter().any(|segment| segment.is_empty()) {
        return Err(malformed());
    }
    let mut current = root;
    for (position, segment) in segments.iter().enumerate() {
        let last = position + 1 == segments.len();
        let next_is_index = segments
            .get(position + 1)
            .is_some_and(|next| next.bytes().all(|byte| byte.is_ascii_digit()));
        let fresh = || {
            if next_is_index {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            }
        };
        let slot: &mut Value = if segment.bytes().all(|byte| byte.is_ascii_digit()) && position > 0
        {
            let index: usize = segment.parse().map_err(|_| malformed())?;
            if index > MAX_FLAT_INDEX {
                return Err(malformed());
            }
            let Value::Array(elements) = current else {
                return Err(malformed());
            };
            if elements.len() <= index {
                elements.resize(index + 1, Value::Null);
            }
            &mut elements[index]
        } else {
            let Value::Object(fields) = current else {
                return Err(malformed());
            };
            fields.entry(segment.to_string()).or_insert(Value::Null)
        };
        if last {
            if !slot.is_null() {
                return Err(TencentError::invalid_parameter(format!(
                    "the parameter `{name}` is given more than once"
                )));
            }
            *slot = Value::String(value);
            return Ok(());
        }
        if slot.is_null() {
            *slot = fresh();
        }
        current = slot;
    }
    Ok(())
}
