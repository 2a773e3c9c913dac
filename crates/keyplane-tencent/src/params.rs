//! Request parameters of the Tencent dialect, one shape for every encoding: a POST JSON body is
//! used as it is; GET queries and form bodies (`Tags.0.Key=env`) are unflattened into the same
//! JSON tree, with zero-based indexes becoming arrays and every leaf a string. Typed getters then
//! read that tree, accepting integers given as strings (as GET and v1 send them) and naming the
//! parameter in every error.
//!
//! Parsing is bounded so that no request makes the server allocate much more than it sent:
//! at most [`MAX_PARAMETERS`] flat pairs or JSON values, nesting at most [`MAX_DEPTH`] levels,
//! and flat indexes dense (`Name.N` only when `Name.0` … `Name.(N-1)` were given), so a short
//! name cannot address a long array.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::errors::TencentError;

/// The business parameters of one request.
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: Map<String, Value>,
}

/// The most parameters one request may carry: flat `name=value` pairs, or values (of any
/// kind, containers included) in a JSON body. The largest lists the served actions take
/// (CAM `DeletePolicy` `PolicyId`, `GetSecurityLastUsed` `SecretIdList`, API Gateway
/// `DescribeApiKeysStatus` `Filters`) are far shorter.
pub const MAX_PARAMETERS: usize = 1_000;
/// The deepest nesting accepted: the segments of a flat name (`Filters.0.Values.0` is 4), or
/// the nested objects and arrays of a JSON body (`{"Filters":[{"Values":[]}]}` is 4).
pub const MAX_DEPTH: usize = 10;

impl Params {
    /// Parameters from a JSON body, which must be an object (an empty body counts as `{}`).
    pub fn from_json(body: &[u8]) -> Result<Self, TencentError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        check_json_shape(body)?;
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
        if pairs.len() > MAX_PARAMETERS {
            return Err(too_many_parameters());
        }
        let mut root = FlatNode::Object(BTreeMap::new());
        for (name, value) in pairs {
            insert_flat(&mut root, name, value.clone())?;
        }
        match root.into_value("")? {
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

fn too_many_parameters() -> TencentError {
    TencentError::too_many_parameters(MAX_PARAMETERS)
}

fn too_deep(name: &str) -> TencentError {
    TencentError::nested_too_deep(name, MAX_DEPTH)
}

/// Checks a JSON body's nesting depth and number of values without building it: one pass over
/// the bytes, outside strings counting `{`, `[` and `,` (an upper bound of the values the
/// parser would make) and tracking the depth. Malformed JSON passes here and is refused by
/// the parser after.
fn check_json_shape(body: &[u8]) -> Result<(), TencentError> {
    let mut depth = 0_usize;
    let mut values = 1_usize;
    let mut in_string = false;
    let mut escaped = false;
    for byte in body {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                values += 1;
                if depth > MAX_DEPTH {
                    return Err(too_deep("the request body"));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' => values += 1,
            _ => {}
        }
        if values > MAX_PARAMETERS {
            return Err(too_many_parameters());
        }
    }
    Ok(())
}

/// A flat parameter tree while it is being built: lists keep their elements by index, so
/// pairs may come in any order; [`FlatNode::into_value`] then requires every list dense.
enum FlatNode {
    Empty,
    Leaf(String),
    Object(BTreeMap<String, FlatNode>),
    List(BTreeMap<usize, FlatNode>),
}

impl FlatNode {
    /// The JSON value, or `InvalidParameter` naming the first list with a gap.
    fn into_value(self, name: &str) -> Result<Value, TencentError> {
        Ok(match self {
            FlatNode::Empty => Value::Null,
            FlatNode::Leaf(text) => Value::String(text),
            FlatNode::Object(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(field, node)| {
                        let path = if name.is_empty() {
                            field.clone()
                        } else {
                            format!("{name}.{field}")
                        };
                        node.into_value(&path).map(|value| (field, value))
                    })
                    .collect::<Result<Map<String, Value>, TencentError>>()?,
            ),
            FlatNode::List(elements) => {
                let mut values = Vec::with_capacity(elements.len());
                for (position, (index, node)) in elements.into_iter().enumerate() {
                    if index != position {
                        return Err(TencentError::invalid_parameter(format!(
                            "The parameter `{name}.{position}` is missing: the elements of a \
                             list must be numbered from 0 without gaps."
                        )));
                    }
                    values.push(node.into_value(&format!("{name}.{index}"))?);
                }
                Value::Array(values)
            }
        })
    }
}

fn insert_flat(root: &mut FlatNode, name: &str, value: String) -> Result<(), TencentError> {
    let malformed =
        || TencentError::invalid_parameter(format!("malformed parameter name `{name}`"));
    let segments: Vec<&str> = name.split('.').take(MAX_DEPTH + 1).collect();
    if segments.len() > MAX_DEPTH {
        return Err(too_deep(name));
    }
    if segments.iter().any(|segment| segment.is_empty()) {
        return Err(malformed());
    }
    let mut current = root;
    for (position, segment) in segments.iter().enumerate() {
        let is_index = position > 0 && segment.bytes().all(|byte| byte.is_ascii_digit());
        if current_is_empty(current) {
            *current = if is_index {
                FlatNode::List(BTreeMap::new())
            } else {
                FlatNode::Object(BTreeMap::new())
            };
        }
        let slot = match (current, is_index) {
            (FlatNode::List(elements), true) => {
                // A list of more elements than a request has parameters cannot be dense.
                let index = segment
                    .parse::<usize>()
                    .ok()
                    .filter(|index| *index < MAX_PARAMETERS)
                    .ok_or_else(|| {
                        TencentError::invalid_parameter(format!(
                            "The index of parameter `{name}` is larger than any list this API takes."
                        ))
                    })?;
                elements.entry(index).or_insert(FlatNode::Empty)
            }
            (FlatNode::Object(fields), false) => fields
                .entry((*segment).to_owned())
                .or_insert(FlatNode::Empty),
            _ => return Err(malformed()),
        };
        current = slot;
    }
    if !current_is_empty(current) {
        return Err(TencentError::invalid_parameter(format!(
            "the parameter `{name}` is given more than once"
        )));
    }
    *current = FlatNode::Leaf(value);
    Ok(())
}

fn current_is_empty(node: &FlatNode) -> bool {
    matches!(node, FlatNode::Empty)
}
