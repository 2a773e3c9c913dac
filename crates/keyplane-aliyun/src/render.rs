//! Writing answers in Alibaba's shapes (protocols.md B.7): JSON with `RequestId` beside the
//! operation's fields, or, for `Format=XML`, a `<{Action}Response>` root whose lists are a
//! wrapper element holding one repeated element per item — the same nesting as the JSON
//! `{"AccessKeys": {"AccessKey": [...]}}`. Errors carry `RequestId`, `HostId`, `Code`,
//! `Message` and `Recommend`, and are never rendered with status 200.

use std::borrow::Cow;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde_json::{Map, Value};

use keyplane_engine::Outgoing;

use crate::errors::{AliyunCode, AliyunError};

/// The content type of JSON answers.
pub const JSON_CONTENT_TYPE: &str = "application/json;charset=utf-8";
/// The content type of XML answers (the tea SDK's ACS3 path parses XML errors only with this
/// exact value).
pub const XML_CONTENT_TYPE: &str = "text/xml;charset=utf-8";

/// The representation a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// The `Content-Type` of answers in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => JSON_CONTENT_TYPE,
            Format::Xml => XML_CONTENT_TYPE,
        }
    }
}

/// The `Recommend` troubleshooting link for an error.
fn recommend(code: &str, product: &str, request_id: &str) -> String {
    format!("https://api.aliyun.com/troubleshoot?q={code}&product={product}&requestId={request_id}")
}

/// A success body: `RequestId` first, then the fields. Never a top-level `Code`. (JSON member
/// order carries no meaning; XML element order is kept: `RequestId` first, as the service does.)
pub fn success_body(
    format: Format,
    action: &str,
    fields: Map<String, Value>,
    request_id: &str,
) -> Vec<u8> {
    let request_id = Value::String(request_id.to_owned());
    match format {
        Format::Json => {
            let mut body = Map::with_capacity(fields.len() + 1);
            body.insert("RequestId".to_owned(), request_id);
            body.extend(fields);
            serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
        }
        Format::Xml => xml_document(
            &format!("{action}Response"),
            std::iter::once(("RequestId", &request_id)).chain(
                fields
                    .iter()
                    .filter(|(name, _)| name.as_str() != "RequestId")
                    .map(|(name, value)| (name.as_str(), value)),
            ),
        ),
    }
}

/// An error body for `error`, naming `host` as `HostId` and `product` in `Recommend`. In XML
/// the elements come in the service's order: `<Error><RequestId/><HostId/><Code/><Message/>
/// <Recommend/></Error>`. An authorization refusal adds its `AccessDeniedDetail` last.
pub fn error_body(
    format: Format,
    error: &AliyunError,
    host: &str,
    product: &str,
    request_id: &str,
) -> Vec<u8> {
    let mut fields = vec![
        ("RequestId", Value::String(request_id.to_owned())),
        ("HostId", Value::String(host.to_owned())),
        ("Code", Value::String(error.code.code().to_owned())),
        ("Message", Value::String(error.message.clone())),
        (
            "Recommend",
            Value::String(recommend(error.code.code(), product, request_id)),
        ),
    ];
    if let Some(detail) = &error.access_denied_detail {
        fields.push(("AccessDeniedDetail", Value::Object((**detail).clone())));
    }
    match format {
        Format::Json => {
            let body: Map<String, Value> = fields
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect();
            serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
        }
        Format::Xml => xml_document("Error", fields.iter().map(|(name, value)| (*name, value))),
    }
}

/// The answer to `error`, refused before any product was known: `HostId` and the
/// troubleshooting product are `keyplane`.
pub fn unrouted_error(format: Format, error: &AliyunError, request_id: String) -> Outgoing {
    error_answer(format, error, "keyplane", "keyplane", request_id)
}

/// The answer to `error` from the product at `host` (see [`error_body`]).
pub fn error_answer(
    format: Format,
    error: &AliyunError,
    host: &str,
    product: &str,
    request_id: String,
) -> Outgoing {
    Outgoing {
        status: error.status(),
        content_type: format.content_type(),
        body: error_body(format, error, host, product, &request_id),
        request_id,
        error_code: Some(error.code.code()),
    }
}

/// The answer to `error` from an endpoint that answers as the product at `host` (the EAS
/// operation, the agent's registration), unless it is the failed-authentication throttle's
/// refusal: that one comes before the request is read, so Keyplane answers it.
pub fn endpoint_error(
    error: &AliyunError,
    host: &str,
    product: &str,
    request_id: String,
) -> Outgoing {
    if error.code == AliyunCode::Throttling {
        unrouted_error(Format::Json, error, request_id)
    } else {
        error_answer(Format::Json, error, host, product, request_id)
    }
}

/// The answer to a refusal by the terminal gateway (a WebSocket it does not open, a token
/// refused at its URL): the status, and a JSON body with `RequestId`, `Code` and `Message`
/// only (the gateway is no OpenAPI host: no `HostId`, no `Recommend`).
pub fn gateway_error_answer(error: &AliyunError, request_id: String) -> Outgoing {
    let body = serde_json::json!({
        "RequestId": request_id,
        "Code": error.code.code(),
        "Message": error.message,
    });
    Outgoing {
        status: error.status(),
        content_type: JSON_CONTENT_TYPE,
        body: serde_json::to_vec(&body).unwrap_or_default(),
        request_id,
        error_code: Some(error.code.code()),
    }
}

/// The 200 answer of `action` with `fields` (see [`success_body`]).
pub fn success_answer(
    format: Format,
    action: &str,
    fields: Map<String, Value>,
    request_id: String,
) -> Outgoing {
    Outgoing {
        status: 200,
        content_type: format.content_type(),
        body: success_body(format, action, fields, &request_id),
        request_id,
        error_code: None,
    }
}

/// An XML document whose root `root` holds `fields` in the order given.
fn xml_document<'a>(root: &str, fields: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Vec<u8> {
    let mut writer = Writer::new(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let _ = write_object(&mut writer, root, fields);
    writer.into_inner()
}

fn write_object<'a>(
    writer: &mut Writer<Vec<u8>>,
    name: &str,
    fields: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> std::io::Result<()> {
    writer.write_event(Event::Start(BytesStart::new(name)))?;
    for (child, child_value) in fields {
        write_element(writer, child, child_value)?;
    }
    writer.write_event(Event::End(BytesEnd::new(name)))
}

fn write_element(writer: &mut Writer<Vec<u8>>, name: &str, value: &Value) -> std::io::Result<()> {
    match value {
        Value::Array(items) => {
            for item in items {
                write_element(writer, name, item)?;
            }
            Ok(())
        }
        Value::Object(fields) => write_object(
            writer,
            name,
            fields.iter().map(|(child, value)| (child.as_str(), value)),
        ),
        Value::Null => writer.write_event(Event::Empty(BytesStart::new(name))),
        Value::String(text) => write_text(writer, name, text),
        Value::Bool(flag) => write_text(writer, name, if *flag { "true" } else { "false" }),
        Value::Number(number) => write_text(writer, name, &number.to_string()),
    }
}

fn write_text(writer: &mut Writer<Vec<u8>>, name: &str, text: &str) -> std::io::Result<()> {
    writer.write_event(Event::Start(BytesStart::new(name)))?;
    writer.write_event(Event::Text(BytesText::new(&xml_characters(text))))?;
    writer.write_event(Event::End(BytesEnd::new(name)))
}

/// Whether XML 1.0 allows `character` in a document (the specification's `Char`).
fn is_xml_character(character: char) -> bool {
    matches!(character,
        '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// `text` with every character XML 1.0 cannot carry (the C0 controls but tab and line ends,
/// U+FFFE and U+FFFF) replaced by U+FFFD: not even a character reference may stand for them,
/// and the SDKs' XML parsers refuse a whole answer that holds one (an error message echoing a
/// decoded `%00`, for example).
fn xml_characters(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_xml_character) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|character| {
                if is_xml_character(character) {
                    character
                } else {
                    char::REPLACEMENT_CHARACTER
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_error_elements_come_in_the_service_order() {
        let error = AliyunError::missing_parameter("Status");
        let body = error_body(Format::Xml, &error, "ims.aliyuncs.com", "Ims", "R-1");
        let text = String::from_utf8(body).unwrap();
        let root = text
            .split_once("?>")
            .map_or(text.as_str(), |(_, rest)| rest);
        assert_eq!(
            root,
            "<Error><RequestId>R-1</RequestId><HostId>ims.aliyuncs.com</HostId>\
             <Code>MissingParameter</Code><Message>Status is mandatory for this action.</Message>\
             <Recommend>https://api.aliyun.com/troubleshoot?q=MissingParameter&amp;product=Ims\
             &amp;requestId=R-1</Recommend></Error>"
        );
    }

    #[test]
    fn xml_success_starts_with_the_request_id_and_nests_lists() {
        let fields = match serde_json::json!({
            "AccessKeys": {"AccessKey": [{"AccessKeyId": "a"}, {"AccessKeyId": "b"}]}
        }) {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let body = success_body(Format::Xml, "ListAccessKeys", fields, "R-2");
        let text = String::from_utf8(body).unwrap();
        assert!(text.ends_with(
            "<ListAccessKeysResponse><RequestId>R-2</RequestId><AccessKeys>\
             <AccessKey><AccessKeyId>a</AccessKeyId></AccessKey>\
             <AccessKey><AccessKeyId>b</AccessKeyId></AccessKey>\
             </AccessKeys></ListAccessKeysResponse>"
        ));
    }

    #[test]
    fn json_error_has_the_five_fields_and_success_no_code() {
        let error = AliyunError::internal();
        let body: Value =
            serde_json::from_slice(&error_body(Format::Json, &error, "h", "p", "R-3")).unwrap();
        let mut names: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["Code", "HostId", "Message", "Recommend", "RequestId"]
        );
        let success: Value =
            serde_json::from_slice(&success_body(Format::Json, "X", Map::new(), "R-4")).unwrap();
        assert_eq!(success, serde_json::json!({"RequestId": "R-4"}));
    }
}
