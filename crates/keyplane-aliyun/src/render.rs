//! Writing answers in Alibaba's shapes (protocols.md B.7): JSON with `RequestId` beside the
//! operation's fields, or, for `Format=XML`, a `<{Action}Response>` root whose lists are a
//! wrapper element holding one repeated element per item — the same nesting as the JSON
//! `{"AccessKeys": {"AccessKey": [...]}}`. Errors carry `RequestId`, `HostId`, `Code`,
//! `Message` and `Recommend`, and are never rendered with status 200.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde_json::{Map, Value};

use crate::errors::AliyunError;

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

/// A success body: `RequestId` first, then the fields. Never a top-level `Code`.
pub fn success_body(
    format: Format,
    action: &str,
    fields: Map<String, Value>,
    request_id: &str,
) -> Vec<u8> {
    let mut body = Map::with_capacity(fields.len() + 1);
    body.insert("RequestId".to_owned(), Value::String(request_id.to_owned()));
    body.extend(fields);
    match format {
        Format::Json => serde_json::to_vec(&Value::Object(body)).unwrap_or_default(),
        Format::Xml => xml_document(&format!("{action}Response"), &body),
    }
}

/// An error body for `error`, naming `host` as `HostId` and `product` in `Recommend`.
pub fn error_body(
    format: Format,
    error: &AliyunError,
    host: &str,
    product: &str,
    request_id: &str,
) -> Vec<u8> {
    let mut body = Map::new();
    body.insert("RequestId".to_owned(), Value::String(request_id.to_owned()));
    body.insert("HostId".to_owned(), Value::String(host.to_owned()));
    body.insert("Code".to_owned(), Value::String(error.code.to_owned()));
    body.insert("Message".to_owned(), Value::String(error.message.clone()));
    body.insert(
        "Recommend".to_owned(),
        Value::String(recommend(error.code, product, request_id)),
    );
    match format {
        Format::Json => serde_json::to_vec(&Value::Object(body)).unwrap_or_default(),
        Format::Xml => xml_document("Error", &body),
    }
}

/// An XML document with `root` holding `fields`, `RequestId` first as the real service writes
/// it (the map itself is ordered by name).
fn xml_document(root: &str, fields: &Map<String, Value>) -> Vec<u8> {
    let mut writer = Writer::new(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let _ = writer.write_event(Event::Start(BytesStart::new(root)));
    if let Some(request_id) = fields.get("RequestId") {
        let _ = write_element(&mut writer, "RequestId", request_id);
    }
    for (name, value) in fields {
        if name != "RequestId" {
            let _ = write_element(&mut writer, name, value);
        }
    }
    let _ = writer.write_event(Event::End(BytesEnd::new(root)));
    writer.into_inner()
}

fn write_element(writer: &mut Writer<Vec<u8>>, name: &str, value: &Value) -> std::io::Result<()> {
    match value {
        Value::Array(items) => {
            for item in items {
                write_element(writer, name, item)?;
            }
            Ok(())
        }
        Value::Object(fields) => {
            writer.write_event(Event::Start(BytesStart::new(name)))?;
            for (child, child_value) in fields {
                write_element(writer, child, child_value)?;
            }
            writer.write_event(Event::End(BytesEnd::new(name)))
        }
        Value::Null => writer.write_event(Event::Empty(BytesStart::new(name))),
        Value::String(text) => write_text(writer, name, text),
        Value::Bool(flag) => write_text(writer, name, if *flag { "true" } else { "false" }),
        Value::Number(number) => write_text(writer, name, &number.to_string()),
    }
}

fn write_text(writer: &mut Writer<Vec<u8>>, name: &str, text: &str) -> std::io::Result<()> {
    writer.write_event(Event::Start(BytesStart::new(name)))?;
    writer.write_event(Event::Text(BytesText::new(text)))?;
    writer.write_event(Event::End(BytesEnd::new(name)))
}
