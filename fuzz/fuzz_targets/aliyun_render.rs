//! Alibaba answers: `keyplane_aliyun::render::{success_body, error_body}` in XML and JSON over
//! any field tree. The input is a JSON object when it parses as one (the seeds are the answers
//! of `vectors/`), otherwise a tree built by `arbitrary`. Nothing may panic; the JSON answer
//! must parse back to the same fields plus `RequestId`; the XML answer must be well-formed
//! (quick-xml reads it to the end, every element closed, no character XML 1.0 forbids) and carry
//! every string value that XML can carry whose element names are XML names.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use keyplane_aliyun::render::{error_body, success_body, Format};
use keyplane_aliyun::AliyunError;
use libfuzzer_sys::fuzz_target;
use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{Map, Number, Value};

/// How deep a generated tree goes.
const MAX_DEPTH: usize = 6;

fn arbitrary_value(input: &mut Unstructured<'_>, depth: usize) -> arbitrary::Result<Value> {
    let choice = if depth >= MAX_DEPTH {
        input.int_in_range(0..=3)?
    } else {
        input.int_in_range(0..=5)?
    };
    Ok(match choice {
        0 => Value::Null,
        1 => Value::Bool(bool::arbitrary(input)?),
        2 => Value::Number(Number::from(i64::arbitrary(input)?)),
        3 => Value::String(String::arbitrary(input)?),
        4 => {
            let count = input.int_in_range(0..=4)?;
            Value::Array(
                (0..count)
                    .map(|_| arbitrary_value(input, depth + 1))
                    .collect::<arbitrary::Result<_>>()?,
            )
        }
        _ => Value::Object(arbitrary_object(input, depth + 1)?),
    })
}

fn arbitrary_object(
    input: &mut Unstructured<'_>,
    depth: usize,
) -> arbitrary::Result<Map<String, Value>> {
    let count = input.int_in_range(0..=4)?;
    let mut object = Map::new();
    for _ in 0..count {
        let name = String::arbitrary(input)?;
        object.insert(name, arbitrary_value(input, depth)?);
    }
    Ok(object)
}

/// Whether `name` is one the renderer can write as an element: ASCII letters, digits, `_`,
/// `-`, `.`, not starting with a digit, `-` or `.` (every field name Keyplane renders is).
fn is_element_name(name: &str) -> bool {
    let mut characters = name.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '_' | '-' | '.')
        })
}

fn names_are_elements(value: &Value) -> bool {
    match value {
        Value::Object(fields) => fields
            .iter()
            .all(|(name, value)| is_element_name(name) && names_are_elements(value)),
        Value::Array(items) => items.iter().all(names_are_elements),
        _ => true,
    }
}

/// Every string leaf, as the XML carries it (the renderer writes text as given).
fn strings<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::String(text) => found.push(text),
        Value::Array(items) => items.iter().for_each(|item| strings(item, found)),
        Value::Object(fields) => fields.values().for_each(|item| strings(item, found)),
        _ => {}
    }
}

/// Whether XML 1.0 allows `character` in a document (`Char` of the specification): strict
/// parsers, such as the expat behind the SDKs' XML readers, refuse any other.
fn is_xml_character(character: char) -> bool {
    matches!(character,
        '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// Reads an XML answer to the end: it must be well-formed, every element closed, every
/// character one XML allows. Returns the text of its elements, unescaped.
fn read_xml(body: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(body).expect("an XML answer that is not UTF-8");
    if let Some(character) = text.chars().find(|character| !is_xml_character(*character)) {
        panic!("an XML answer with the character {character:?}, which XML does not allow");
    }
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut depth = 0_usize;
    let mut texts = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => depth += 1,
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Text(text)) => texts.push(
                text.unescape()
                    .unwrap_or_else(|error| panic!("unreadable XML text {text:?}: {error}"))
                    .into_owned(),
            ),
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(error) => panic!("an XML answer that does not parse: {error} in {text:?}"),
        }
    }
    assert_eq!(depth, 0, "an XML answer with an unclosed element: {text:?}");
    texts
}

fuzz_target!(|data: &[u8]| {
    let mut fields = match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(fields)) => fields,
        _ => match arbitrary_object(&mut Unstructured::new(data), 0) {
            Ok(fields) => fields,
            Err(_) => return,
        },
    };
    // The renderer adds RequestId itself; no operation returns a field of that name.
    fields.remove("RequestId");
    let request_id = "6C3D4F4A-0000-4000-8000-000000000000";

    let json = success_body(Format::Json, "ListAccessKeys", fields.clone(), request_id);
    let parsed: Value = serde_json::from_slice(&json).expect("a JSON answer that does not parse");
    let mut expected = fields.clone();
    expected.insert("RequestId".to_owned(), Value::String(request_id.to_owned()));
    assert_eq!(
        parsed,
        Value::Object(expected),
        "the JSON answer lost fields"
    );

    let xml = success_body(Format::Xml, "ListAccessKeys", fields.clone(), request_id);
    let tree = Value::Object(fields.clone());
    if names_are_elements(&tree) {
        let texts = read_xml(&xml);
        let mut expected = Vec::new();
        strings(&tree, &mut expected);
        let expected = expected
            .into_iter()
            .filter(|text| !text.is_empty() && text.chars().all(is_xml_character));
        for text in expected {
            assert!(
                texts.iter().any(|found| found == text),
                "the XML answer lost the text {text:?}"
            );
        }
    }

    // An error whose message carries client text (as parameter errors echo names).
    let message: String = fields.keys().take(2).cloned().collect::<Vec<_>>().join(",");
    let error = AliyunError::missing_parameter(&message);
    let _ = error_body(Format::Json, &error, "ims.aliyuncs.com", "Ims", request_id);
    read_xml(&error_body(
        Format::Xml,
        &error,
        "ims.aliyuncs.com",
        "Ims",
        request_id,
    ));
});
