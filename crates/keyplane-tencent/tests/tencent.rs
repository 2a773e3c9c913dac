//! The Tencent dialect's pure parts: parameter unflattening and typed reads, and envelope
//! parsing of TC3 and v1 requests. The full pipeline (authentication, actions) is exercised
//! in-process by keyplane-server's test binary.

use keyplane_request::{Headers, RequestView};
use keyplane_tencent::envelope::{business_parameters, parse, Credentials, MAX_QUERY_BYTES};
use keyplane_tencent::params::{Params, MAX_DEPTH, MAX_PARAMETERS};

/// A request to `/` with these parts.
fn view<'a>(
    method: &'a str,
    raw_query: &'a str,
    headers: &'a [(&'a str, &'a str)],
    body: &'a [u8],
) -> RequestView<'a> {
    RequestView {
        method,
        path: "/",
        raw_query,
        headers: Headers::new(headers),
        body,
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

#[test]
fn flat_parameters_unflatten_into_arrays_and_objects() {
    let params = Params::from_flat(&pairs(&[
        ("SecretName", "ci"),
        ("Tags.0.Key", "env"),
        ("Tags.0.Value", "dev test"),
        ("Tags.1.Key", "team"),
        ("SecretIdList.0", "AKIDa"),
        ("SecretIdList.1", "AKIDb"),
        ("TargetUin", "100000000001"),
    ]))
    .unwrap();
    assert_eq!(params.required_string("SecretName").unwrap(), "ci");
    assert_eq!(
        params.optional_unsigned("TargetUin").unwrap(),
        Some(100_000_000_001)
    );
    assert_eq!(
        params.optional_string_list("SecretIdList").unwrap(),
        Some(vec!["AKIDa".to_owned(), "AKIDb".to_owned()])
    );
    let tags = params
        .optional_object_list("Tags", |path, fields| {
            Ok((
                path.to_owned(),
                fields.get("Key").cloned(),
                fields.get("Value").cloned(),
            ))
        })
        .unwrap()
        .unwrap();
    assert_eq!(tags.len(), 2);
    assert_eq!(tags[0].0, "Tags.0");
    assert_eq!(tags[1].2, None);
    params
        .allow_only(&["SecretName", "Tags", "SecretIdList", "TargetUin"])
        .unwrap();
    assert_eq!(
        params.allow_only(&["SecretName"]).unwrap_err().code,
        "UnknownParameter"
    );
}

#[test]
fn malformed_flat_parameters_are_invalid_parameter() {
    for bad in [
        vec![("Tags..Key", "x")],
        vec![("Tags.0", "x"), ("Tags.0.Key", "y")],
        vec![("A", "x"), ("A", "y")],
        vec![("Tags.99999999.Key", "x")],
        vec![("Tags.0.Key", "x"), ("Tags.Key", "y")],
        vec![("Tags.1.Key", "x")],
        vec![("a7.1000", "")],
        vec![("a8.1000.1000", "")],
        vec![("Ids.0", "a"), ("Ids.2", "c")],
        vec![
            ("Tags.0.Values.1", "x"),
            ("Tags.0.Values.0", "y"),
            ("Tags.2.Key", "z"),
        ],
    ] {
        let error = Params::from_flat(&pairs(&bad)).unwrap_err();
        assert_eq!(error.code, "InvalidParameter", "{bad:?}");
    }
}

#[test]
fn typed_reads_name_the_parameter_and_accept_integer_strings() {
    let params =
        Params::from_json(br#"{"TargetUin": "42", "Limit": -1, "Name": 5, "List": "x"}"#).unwrap();
    assert_eq!(params.optional_unsigned("TargetUin").unwrap(), Some(42));
    let error = params.optional_unsigned("Limit").unwrap_err();
    assert_eq!(error.code, "InvalidParameter");
    assert!(error.message.contains("`Limit`"));
    assert_eq!(
        params.optional_string("Name").unwrap_err().code,
        "InvalidParameter"
    );
    assert_eq!(
        params.optional_string_list("List").unwrap_err().code,
        "InvalidParameter"
    );
    assert_eq!(
        params.required_string("Missing").unwrap_err().code,
        "MissingParameter"
    );
    assert!(Params::from_json(b"   ").is_ok());
    assert_eq!(
        Params::from_json(b"[1]").unwrap_err().code,
        "InvalidParameter"
    );
    assert_eq!(
        Params::from_json(b"{\"a\":").unwrap_err().code,
        "InvalidParameter"
    );
}

#[test]
fn tc3_envelopes_carry_action_version_region_and_token() {
    let headers = [
        ("Content-Type", "application/json"),
        ("Host", "127.0.0.1:8080"),
        ("X-TC-Action", "CreateApiKey"),
        ("X-TC-Version", "2018-08-08"),
        ("X-TC-Timestamp", "1795488150"),
        ("X-TC-Region", "ap-guangzhou"),
        ("X-TC-Token", "session"),
        ("Authorization", "TC3-HMAC-SHA256 Credential=AKIDabcdefgh/2026-11-24/apigateway/tc3_request, SignedHeaders=content-type;host, Signature=abc"),
    ];
    let request = view("POST", "", &headers, b"{\"SecretName\": \"x\"}");
    let envelope = parse(&request).unwrap();
    assert_eq!(envelope.action, "CreateApiKey");
    assert_eq!(envelope.version, "2018-08-08");
    assert_eq!(envelope.region.as_deref(), Some("ap-guangzhou"));
    assert_eq!(envelope.token.as_deref(), Some("session"));
    assert!(matches!(envelope.credentials, Credentials::Tc3 { .. }));
    assert_eq!(
        business_parameters(&request, &envelope)
            .unwrap()
            .required_string("SecretName")
            .unwrap(),
        "x"
    );

    let missing_action: Vec<_> = headers
        .iter()
        .copied()
        .filter(|(name, _)| *name != "X-TC-Action")
        .collect();
    let request = view("POST", "", &missing_action, b"{}");
    assert_eq!(parse(&request).unwrap_err().code, "MissingParameter");

    let other_scheme = [("Authorization", "Basic dXNlcjpwYXNz")];
    let request = view("POST", "", &other_scheme, b"{}");
    assert_eq!(
        parse(&request).unwrap_err().code,
        "AuthFailure.InvalidAuthorization"
    );

    let request = view("PUT", "", &headers, b"{}");
    assert_eq!(parse(&request).unwrap_err().code, "UnsupportedProtocol");

    let long_query = "a".repeat(MAX_QUERY_BYTES + 1);
    let request = view("GET", &long_query, &headers, b"");
    assert_eq!(
        parse(&request).unwrap_err().code,
        "RequestSizeLimitExceeded"
    );
}

#[test]
fn v1_envelopes_separate_common_from_business_parameters() {
    let query = "Action=ListAccessKeys&Version=2019-01-16&SecretId=AKIDabc&Signature=c2ln&Timestamp=1&Nonce=2&Region=ap-guangzhou&TargetUin=7&Description=ci+key";
    let headers = [("Host", "127.0.0.1:8080")];
    let request = view("GET", query, &headers, b"");
    let envelope = parse(&request).unwrap();
    assert_eq!(envelope.action, "ListAccessKeys");
    let Credentials::V1 {
        secret_id,
        all_parameters,
    } = &envelope.credentials
    else {
        panic!("a v1 request")
    };
    assert_eq!(secret_id, "AKIDabc");
    assert!(all_parameters.contains(&("Description".to_owned(), "ci key".to_owned())));
    let params = business_parameters(&request, &envelope).unwrap();
    params.allow_only(&["TargetUin", "Description"]).unwrap();

    let request = view("GET", "Action=X&Version=Y", &headers, b"");
    assert_eq!(
        parse(&request).unwrap_err().code,
        "AuthFailure.InvalidAuthorization"
    );
    let doubled = "Action=A&Action=B&Version=2019-01-16&SecretId=AKIDabc&Signature=c2ln";
    let request = view("GET", doubled, &headers, b"");
    assert_eq!(parse(&request).unwrap_err().code, "InvalidParameter");
}

#[test]
fn flat_lists_must_be_dense_in_any_order() {
    let params = Params::from_flat(&pairs(&[
        ("Ids.2", "c"),
        ("Ids.0", "a"),
        ("Ids.1", "b"),
        ("Tags.1.Key", "second"),
        ("Tags.0.Key", "first"),
    ]))
    .unwrap();
    assert_eq!(
        params.optional_string_list("Ids").unwrap(),
        Some(vec!["a".to_owned(), "b".to_owned(), "c".to_owned()])
    );
    let gap = Params::from_flat(&pairs(&[("Ids.0", "a"), ("Ids.5", "f")])).unwrap_err();
    assert!(gap.message.contains("`Ids.1`"), "{}", gap.message);
    let huge = Params::from_flat(&pairs(&[("Ids.99999999999999999999999", "x")])).unwrap_err();
    assert_eq!(huge.code, "InvalidParameter");
}

#[test]
fn parameter_count_and_depth_are_capped() {
    let many: Vec<(String, String)> = (0..=MAX_PARAMETERS)
        .map(|index| (format!("Ids.{index}"), "x".to_owned()))
        .collect();
    let error = Params::from_flat(&many).unwrap_err();
    assert_eq!(error.code, "InvalidParameter");
    assert!(error.message.contains("1000"), "{}", error.message);
    assert!(Params::from_flat(&many[..MAX_PARAMETERS]).is_ok());

    let deep = ["A"; MAX_DEPTH + 1].join(".");
    assert_eq!(
        Params::from_flat(&pairs(&[(deep.as_str(), "x")]))
            .unwrap_err()
            .code,
        "InvalidParameter"
    );
    let deepest = ["A"; MAX_DEPTH].join(".");
    assert!(Params::from_flat(&pairs(&[(deepest.as_str(), "x")])).is_ok());

    let nested = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    let body = format!("{{\"A\": {nested}}}");
    assert_eq!(
        Params::from_json(body.as_bytes()).unwrap_err().code,
        "InvalidParameter"
    );
    let nested = format!("{}{}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
    assert!(Params::from_json(format!("{{\"A\": {nested}}}").as_bytes()).is_ok());
    // Brackets and commas inside strings are text.
    let text = format!("{{\"A\": \"{}\\\"{}\"}}", "[,".repeat(5000), "{".repeat(50));
    assert!(Params::from_json(text.as_bytes()).is_ok(), "{text}");
    let wide = format!("{{\"A\": [{}]}}", vec!["0"; MAX_PARAMETERS].join(","));
    assert_eq!(
        Params::from_json(wide.as_bytes()).unwrap_err().code,
        "InvalidParameter"
    );
}

#[test]
fn v1_pairs_are_counted_before_they_are_decoded() {
    let headers = [("Host", "127.0.0.1:8080")];
    let mut query =
        String::from("Action=ListAccessKeys&Version=2019-01-16&SecretId=AKIDabc&Signature=c2ln");
    for _ in 0..MAX_PARAMETERS {
        query.push_str("&a");
    }
    let request = view("GET", &query, &headers, b"");
    let error = parse(&request).unwrap_err();
    assert_eq!(error.code, "InvalidParameter");
    assert!(
        error.message.contains("more than 1000"),
        "{}",
        error.message
    );
}

#[test]
fn tc3_bodies_are_not_parsed_by_the_envelope() {
    let headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Host", "127.0.0.1:8080"),
        ("X-TC-Action", "ListAccessKeys"),
        ("X-TC-Version", "2019-01-16"),
        ("X-TC-Timestamp", "1795488150"),
        ("Authorization", "TC3-HMAC-SHA256 Credential=AKIDabcdefgh/2026-11-24/cam/tc3_request, SignedHeaders=content-type;host, Signature=abc"),
    ];
    let body = "a7.1000=&".repeat(1000);
    let request = view("POST", "", &headers, body.as_bytes());
    let envelope = parse(&request).expect("the envelope reads headers only");
    assert_eq!(
        business_parameters(&request, &envelope).unwrap_err().code,
        "InvalidParameter"
    );
}

#[test]
fn v1_parameters_that_the_signature_cannot_separate_are_refused() {
    let headers = [("Host", "127.0.0.1:8080")];
    let common = "Action=ListAccessKeys&Version=2019-01-16&SecretId=AKIDabc&Signature=c2ln";
    for (extra, refused) in [
        ("Description=R%26D", true),
        ("A%3DB=1", true),
        ("A%26B=1", true),
        ("Description=a%3Db", false),
        ("Description=plain+text", false),
    ] {
        let query = format!("{common}&{extra}");
        let request = view("GET", &query, &headers, b"");
        assert_eq!(parse(&request).is_err(), refused, "{extra}");
        if refused {
            assert_eq!(parse(&request).unwrap_err().code, "InvalidParameter");
        }
    }
}
