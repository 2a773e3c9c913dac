//! Inputs the fuzz targets (`fuzz/`) found a failure with, replayed against the parser they
//! failed. Each data file under `tests/aliyun/fuzz/` is the fuzz input as found, in the fuzz
//! crate's request layout: `METHOD TARGET`, then one header per line, a blank line, the body;
//! the head read as UTF-8 with invalid bytes replaced.

use keyplane_aliyun::envelope::{self, Headers, RequestView};
use keyplane_aliyun::render::{self, Format};
use keyplane_aliyun::AliyunError;
use serde_json::{Map, Value};

/// The headers of a fuzz input, as the fuzz crate reads them.
fn headers_of(input: &[u8]) -> Vec<(String, String)> {
    let head = input
        .windows(2)
        .position(|window| window == b"\n\n")
        .map_or(input, |end| &input[..end]);
    String::from_utf8_lossy(head)
        .split('\n')
        .skip(1)
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .map(|line| match line.split_once(':') {
            Some((name, value)) => (name.to_owned(), value.trim_ascii().to_owned()),
            None => (line.to_owned(), String::new()),
        })
        .collect()
}

#[test]
fn recognition_survives_a_header_name_that_is_not_ascii() {
    // A header name of two U+FFFD (six bytes): slicing its first five bytes as a `str`
    // panicked inside `recognizes`.
    let input = include_bytes!("fuzz/recognizes_non_ascii_header_name");
    let headers = headers_of(input);
    assert_eq!(headers[0].0, "\u{fffd}\u{fffd}");
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let request = RequestView {
        method: "GET",
        path: "/",
        raw_query: "",
        headers: Headers::new(&pairs),
        body: b"",
    };
    assert!(!envelope::recognizes(&request));
    let mut with_alibaba_header = pairs.clone();
    with_alibaba_header.push(("X-Acs-Action", "ListUsers"));
    assert!(envelope::recognizes(&RequestView {
        headers: Headers::new(&with_alibaba_header),
        ..request
    }));
}

#[test]
fn xml_answers_carry_no_character_that_xml_forbids() {
    // Fields holding NUL, a C0 control and U+FFFE: written as they were, the XML answer was
    // refused whole by strict parsers (no character reference may stand for them either).
    let fields: Map<String, Value> =
        serde_json::from_slice(include_bytes!("fuzz/render_xml_forbidden_characters.json"))
            .unwrap();
    let body = render::success_body(Format::Xml, "GetUser", fields.clone(), "R-1");
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("<Message>a\u{fffd}b\u{fffd}c\u{fffd}d\te</Message>"),
        "{text:?}"
    );
    let message = fields["Message"].as_str().unwrap();
    let error = AliyunError::invalid_parameter("Name", message);
    let body = render::error_body(Format::Xml, &error, "ims.aliyuncs.com", "Ims", "R-2");
    let text = String::from_utf8(body).unwrap();
    assert!(!text.contains(['\0', '\u{1f}', '\u{fffe}']), "{text:?}");
    let json = render::success_body(Format::Json, "GetUser", fields.clone(), "R-3");
    let parsed: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(
        parsed["Message"], fields["Message"],
        "JSON carries them as they are"
    );
}
