//! Data-driven tests over every Tencent vector in `vectors/*.json`: each captured (or documented)
//! request must verify with its own timestamp as the clock, and every single-byte change to what
//! the signature covers must make it fail.

use keyplane_request::{Headers, RequestView};

use keyplane_crypto::tencent::{
    parse_tc3_authorization, sign_tc3, sign_v1, tc3_canonical_headers, tc3_canonical_query,
    tc3_canonical_request, tc3_hashed_payload, tc3_string_to_sign, utc_date_of_unix_seconds,
    v1_string_to_sign, verify_tc3, verify_v1, SignatureError, Tc3Authorization, Tc3Request,
    V1SignatureMethod,
};
use serde::Deserialize;

use crate::support::{
    byte_mutations, header_in, header_pairs, header_value_mutations, mutate_at, text_mutations,
    vector_files, view, Recorded, Vector,
};

#[derive(Debug, Deserialize)]
struct Credentials {
    secret_id: String,
    secret_key: String,
}

/// A vector that is ready to be verified.
struct Case {
    recorded: Recorded,
    secret_id: String,
    secret_key: Vec<u8>,
}

impl std::ops::Deref for Case {
    type Target = Recorded;

    fn deref(&self) -> &Recorded {
        &self.recorded
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scheme {
    Tc3,
    V1,
}

/// Every Tencent vector that carries a signed request, with its scheme.
fn tencent_cases() -> Vec<(Scheme, Case)> {
    let mut cases = Vec::new();
    for path in vector_files() {
        let text = std::fs::read_to_string(&path).expect("readable vector");
        let value: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        if value["cloud"] != "tencent" {
            continue;
        }
        let vector: Vector<Credentials> = serde_json::from_value(value)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let (Some(request), Some(credentials)) = (vector.request, vector.credentials) else {
            continue;
        };
        let auth_scheme = vector.auth_scheme.unwrap_or_default();
        let scheme = if auth_scheme == "TC3-HMAC-SHA256" {
            Scheme::Tc3
        } else if auth_scheme.starts_with("Tencent-v1-") {
            Scheme::V1
        } else {
            panic!("{}: unknown auth_scheme {auth_scheme}", vector.name);
        };
        let body = request.body();
        cases.push((
            scheme,
            Case {
                recorded: Recorded {
                    name: vector.name,
                    method: request.method,
                    path: request.path,
                    query: request.query,
                    headers: request.headers,
                    body,
                    signature_check: vector.signature_check,
                },
                secret_id: credentials.secret_id,
                secret_key: credentials.secret_key.into_bytes(),
            },
        ));
    }
    cases
}

/// Byte ranges of the values in a raw `a=b&c=d` query string.
fn query_value_ranges(query: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for segment in query.split('&') {
        if let Some(equals) = segment.find('=') {
            let value_start = start + equals + 1;
            let value_end = start + segment.len();
            if value_end > value_start {
                ranges.push(value_start..value_end);
            }
        }
        start += segment.len() + 1;
    }
    ranges
}

#[test]
fn vector_directory_holds_the_tencent_vectors() {
    let cases = tencent_cases();
    let tc3 = cases
        .iter()
        .filter(|(scheme, _)| *scheme == Scheme::Tc3)
        .count();
    let v1 = cases
        .iter()
        .filter(|(scheme, _)| *scheme == Scheme::V1)
        .count();
    assert!(tc3 >= 20, "expected the TC3 vectors, found {tc3}");
    assert!(v1 >= 5, "expected the v1 vectors, found {v1}");
    let names: Vec<&str> = cases.iter().map(|(_, case)| case.name.as_str()).collect();
    assert!(names.contains(&"kat_tencent_tc3_doc_example"));
    assert!(names.contains(&"kat_tencent_v1_doc_example"));
}

// ---------------------------------------------------------------- TC3

fn tc3_verify(
    case: &Case,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
    authorization: &Tc3Authorization,
    secret_key: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let header_pairs = header_pairs(headers);
    let request = Tc3Request {
        request: view(&case.method, &case.path, query, &header_pairs, body),
        timestamp: header_in(headers, "x-tc-timestamp").unwrap_or_default(),
    };
    verify_tc3(&request, authorization, secret_key, now)
}

struct Tc3Context<'a> {
    case: &'a Case,
    authorization: Tc3Authorization,
    now: i64,
}

impl Tc3Context<'_> {
    fn verify_with(
        &self,
        query: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(), SignatureError> {
        tc3_verify(
            self.case,
            query,
            headers,
            body,
            &self.authorization,
            &self.case.secret_key,
            self.now,
        )
    }

    fn verify_authorization(&self, authorization: &Tc3Authorization) -> Result<(), SignatureError> {
        tc3_verify(
            self.case,
            &self.case.query,
            &self.case.headers,
            &self.case.body,
            authorization,
            &self.case.secret_key,
            self.now,
        )
    }
}

fn tc3_context(case: &Case) -> Tc3Context<'_> {
    let authorization =
        parse_tc3_authorization(case.header("authorization").expect("Authorization"))
            .unwrap_or_else(|error| panic!("{}: {error}", case.name));
    let now = case
        .header("x-tc-timestamp")
        .expect("X-TC-Timestamp")
        .parse::<i64>()
        .expect("numeric timestamp");
    Tc3Context {
        case,
        authorization,
        now,
    }
}

fn tc3_cases() -> Vec<Case> {
    tencent_cases()
        .into_iter()
        .filter(|(scheme, _)| *scheme == Scheme::Tc3)
        .map(|(_, case)| case)
        .collect()
}

#[test]
fn tc3_vectors_verify_at_their_own_timestamp() {
    for case in tc3_cases() {
        let context = tc3_context(&case);
        let name = &case.name;
        assert_eq!(
            context.authorization.secret_id,
            case.check("secret_id"),
            "{name}"
        );
        assert_eq!(
            context.authorization.credential_service,
            case.check("credential_service"),
            "{name}"
        );
        assert_eq!(
            context.verify_with(&case.query, &case.headers, &case.body),
            Ok(()),
            "{name}"
        );
        for skew in [-300, 300] {
            let result = tc3_verify(
                &case,
                &case.query,
                &case.headers,
                &case.body,
                &context.authorization,
                &case.secret_key,
                context.now + skew,
            );
            assert_eq!(result, Ok(()), "{name}: clock skew {skew} s is allowed");
        }
    }
}

#[test]
fn tc3_vectors_match_the_reference_canonical_request_and_string_to_sign() {
    for case in tc3_cases() {
        let context = tc3_context(&case);
        let name = &case.name;
        let host_value_signed = case.check("host_value_signed");
        let signed_values: Vec<(&str, &str)> = context
            .authorization
            .signed_headers
            .iter()
            .map(|header_name| {
                let value = if header_name == "host" {
                    host_value_signed
                } else {
                    case.header(header_name).expect("signed header present")
                };
                (header_name.as_str(), value)
            })
            .collect();
        let header_pairs = header_pairs(&case.headers);
        let timestamp = case.header("x-tc-timestamp").expect("timestamp");
        let request = Tc3Request {
            request: view(
                &case.method,
                &case.path,
                &case.query,
                &header_pairs,
                &case.body,
            ),
            timestamp,
        };
        let canonical_request = tc3_canonical_request(
            request.request.method,
            request.request.path,
            tc3_canonical_query(&request),
            &tc3_canonical_headers(&signed_values),
            &context.authorization.signed_headers_raw,
            &tc3_hashed_payload(&request),
        );
        assert_eq!(canonical_request, case.check("canonical_request"), "{name}");
        let string_to_sign = tc3_string_to_sign(
            timestamp,
            &context.authorization.credential_date,
            &context.authorization.credential_service,
            &canonical_request,
        );
        assert_eq!(string_to_sign, case.check("string_to_sign"), "{name}");

        // The client-side signer reproduces the captured Authorization header exactly, given the
        // host value the client actually signed.
        let mut signer_headers = header_pairs.clone();
        for (header_name, value) in &mut signer_headers {
            if header_name.eq_ignore_ascii_case("host") {
                *value = host_value_signed;
            }
        }
        let signer_request = Tc3Request {
            request: RequestView {
                headers: Headers::new(&signer_headers),
                ..request.request
            },
            ..request
        };
        let signed_names: Vec<&str> = context
            .authorization
            .signed_headers
            .iter()
            .map(String::as_str)
            .collect();
        let authorization = sign_tc3(
            &signer_request,
            &case.secret_id,
            &case.secret_key,
            &context.authorization.credential_service,
            &signed_names,
        )
        .expect("sign");
        assert_eq!(
            Some(authorization.as_str()),
            case.header("authorization"),
            "{name}"
        );
    }
}

#[test]
fn tc3_vectors_reject_a_stale_or_future_timestamp() {
    for case in tc3_cases() {
        let context = tc3_context(&case);
        for (now, skew_seconds) in [(context.now + 301, -301), (context.now - 301, 301)] {
            let result = tc3_verify(
                &case,
                &case.query,
                &case.headers,
                &case.body,
                &context.authorization,
                &case.secret_key,
                now,
            );
            assert_eq!(
                result,
                Err(SignatureError::Expired { skew_seconds }),
                "{}",
                case.name
            );
        }
    }
}

#[test]
fn tc3_vectors_reject_a_credential_date_off_by_a_day() {
    for case in tc3_cases() {
        let context = tc3_context(&case);
        for day in [-86_400, 86_400] {
            let mut authorization = context.authorization.clone();
            authorization.credential_date =
                utc_date_of_unix_seconds(context.now + day).expect("date");
            assert_eq!(
                context.verify_authorization(&authorization),
                Err(SignatureError::CredentialDateMismatch),
                "{}",
                case.name
            );
        }
    }
}

#[test]
fn tc3_vectors_reject_every_body_byte_change() {
    let mut unsigned_payload_vectors = 0;
    for case in tc3_cases() {
        let context = tc3_context(&case);
        let unsigned = case.header("x-tc-content-sha256") == Some("UNSIGNED-PAYLOAD");
        for (index, body) in byte_mutations(&case.body) {
            let result = context.verify_with(&case.query, &case.headers, &body);
            if unsigned {
                assert_eq!(result, Ok(()), "{}: body is not signed", case.name);
            } else {
                assert_eq!(
                    result,
                    Err(SignatureError::Mismatch),
                    "{}: body byte {index}",
                    case.name
                );
            }
        }
        // Adding a byte (also to an empty GET body) must fail too.
        let mut longer_body = case.body.clone();
        longer_body.push(b' ');
        let result = context.verify_with(&case.query, &case.headers, &longer_body);
        assert_eq!(result.is_ok(), unsigned, "{}: appended byte", case.name);

        if unsigned {
            unsigned_payload_vectors += 1;
            let position = case.header_position("x-tc-content-sha256");
            for (index, headers) in header_value_mutations(&case.headers, position) {
                assert_eq!(
                    context.verify_with(&case.query, &headers, &case.body),
                    Err(SignatureError::Mismatch),
                    "{}: X-TC-Content-SHA256 byte {index}",
                    case.name
                );
            }
            let mut headers = case.headers.clone();
            headers.remove(position);
            assert_eq!(
                context.verify_with(&case.query, &headers, &case.body),
                Err(SignatureError::Mismatch),
                "{}: X-TC-Content-SHA256 removed",
                case.name
            );
        }
    }
    assert_eq!(unsigned_payload_vectors, 1);
}

#[test]
fn tc3_vectors_reject_every_query_value_byte_change() {
    let mut mutated_queries = 0;
    for case in tc3_cases() {
        let context = tc3_context(&case);
        for range in query_value_ranges(&case.query) {
            for index in range {
                let query = mutate_at(&case.query, index);
                mutated_queries += 1;
                assert_eq!(
                    context.verify_with(&query, &case.headers, &case.body),
                    Err(SignatureError::Mismatch),
                    "{}: query byte {index}",
                    case.name
                );
            }
        }
    }
    assert!(mutated_queries > 0, "some TC3 vectors are GET requests");
}

#[test]
fn tc3_vectors_reject_every_host_byte_change() {
    for case in tc3_cases() {
        let context = tc3_context(&case);
        let position = case.header_position("host");
        let host = &case.headers[position].1;
        let host_value_signed = case.check("host_value_signed");
        // The Node SDK signs the host without the port it sends, so the port digits are not
        // covered by its signature; everything else is.
        let unsigned_port = if host_value_signed == host {
            None
        } else {
            assert_eq!(
                host.rsplit_once(':').map(|(name, _)| name),
                Some(host_value_signed)
            );
            Some(host_value_signed.len() + 1..host.len())
        };
        for (index, headers) in header_value_mutations(&case.headers, position) {
            let result = context.verify_with(&case.query, &headers, &case.body);
            if unsigned_port
                .as_ref()
                .is_some_and(|port| port.contains(&index))
            {
                assert_eq!(
                    result,
                    Ok(()),
                    "{}: port byte {index} is unsigned",
                    case.name
                );
            } else {
                assert_eq!(
                    result,
                    Err(SignatureError::Mismatch),
                    "{}: host byte {index}",
                    case.name
                );
            }
        }
    }
}

#[test]
fn tc3_vectors_reject_a_changed_content_type_or_a_missing_signed_header() {
    for case in tc3_cases() {
        let context = tc3_context(&case);
        let position = case.header_position("content-type");
        for (index, headers) in header_value_mutations(&case.headers, position) {
            assert_eq!(
                context.verify_with(&case.query, &headers, &case.body),
                Err(SignatureError::Mismatch),
                "{}: content-type byte {index}",
                case.name
            );
        }
        for (header_name, signed_name) in [("content-type", "content-type"), ("host", "host")] {
            let mut headers = case.headers.clone();
            headers.remove(case.header_position(header_name));
            assert_eq!(
                context.verify_with(&case.query, &headers, &case.body),
                Err(SignatureError::SignedHeaderMissing(signed_name.to_owned())),
                "{}",
                case.name
            );
        }
    }
}

#[test]
fn tc3_vectors_reject_every_secret_byte_change() {
    for case in tc3_cases() {
        let context = tc3_context(&case);
        for (index, secret_key) in byte_mutations(&case.secret_key) {
            let result = tc3_verify(
                &case,
                &case.query,
                &case.headers,
                &case.body,
                &context.authorization,
                &secret_key,
                context.now,
            );
            assert_eq!(
                result,
                Err(SignatureError::Mismatch),
                "{}: secret byte {index}",
                case.name
            );
        }
    }
}

#[test]
fn tc3_vectors_reject_every_signature_digit_change() {
    for case in tc3_cases() {
        let context = tc3_context(&case);
        let signature = &context.authorization.signature;
        assert_eq!(signature.len(), 64, "{}", case.name);
        for index in 0..signature.len() {
            let mut authorization = context.authorization.clone();
            let mut digits = signature.clone().into_bytes();
            digits[index] = if digits[index] == b'0' { b'1' } else { b'0' };
            authorization.signature = String::from_utf8(digits).expect("hex");
            assert_eq!(
                context.verify_authorization(&authorization),
                Err(SignatureError::Mismatch),
                "{}: signature digit {index}",
                case.name
            );
        }
        let mut upper_case = context.authorization.clone();
        upper_case.signature = signature.to_ascii_uppercase();
        if upper_case.signature != *signature {
            assert_eq!(
                context.verify_authorization(&upper_case),
                Err(SignatureError::Mismatch),
                "{}: upper-case hex is not the signature",
                case.name
            );
        }
    }
}

#[test]
fn tc3_vectors_reject_a_changed_scope_or_signed_header_list() {
    for case in tc3_cases() {
        let context = tc3_context(&case);
        let mut other_service = context.authorization.clone();
        other_service.credential_service.push('x');
        assert_eq!(
            context.verify_authorization(&other_service),
            Err(SignatureError::Mismatch),
            "{}",
            case.name
        );

        let mut without_host = context.authorization.clone();
        without_host.signed_headers = vec!["content-type".to_owned()];
        without_host.signed_headers_raw = "content-type".to_owned();
        assert_eq!(
            context.verify_authorization(&without_host),
            Err(SignatureError::RequiredHeaderNotSigned("host".to_owned())),
            "{}",
            case.name
        );
        let mut without_content_type = context.authorization.clone();
        without_content_type.signed_headers = vec!["host".to_owned()];
        without_content_type.signed_headers_raw = "host".to_owned();
        assert_eq!(
            context.verify_authorization(&without_content_type),
            Err(SignatureError::RequiredHeaderNotSigned(
                "content-type".to_owned()
            )),
            "{}",
            case.name
        );

        // Signing an extra (present, unsigned-by-the-client) header changes the canonical request.
        let mut extra_header = context.authorization.clone();
        extra_header.signed_headers.push("x-tc-action".to_owned());
        extra_header.signed_headers_raw.push_str(";x-tc-action");
        let result = context.verify_authorization(&extra_header);
        if case.header("x-tc-action").is_some() {
            assert_eq!(result, Err(SignatureError::Mismatch), "{}", case.name);
        } else {
            assert_eq!(
                result,
                Err(SignatureError::SignedHeaderMissing(
                    "x-tc-action".to_owned()
                )),
                "{}",
                case.name
            );
        }
    }
}

#[test]
fn tc3_vectors_reject_a_changed_timestamp_header() {
    for case in tc3_cases() {
        let context = tc3_context(&case);
        let position = case.header_position("x-tc-timestamp");
        let mut headers = case.headers.clone();
        headers[position].1 = (context.now + 1).to_string();
        assert_eq!(
            context.verify_with(&case.query, &headers, &case.body),
            Err(SignatureError::Mismatch),
            "{}",
            case.name
        );
    }
}

// ---------------------------------------------------------------- v1

fn v1_cases() -> Vec<Case> {
    tencent_cases()
        .into_iter()
        .filter(|(scheme, _)| *scheme == Scheme::V1)
        .map(|(_, case)| case)
        .collect()
}

/// Parameters from the raw query and the form-urlencoded body (`+` decodes to a space).
fn v1_params(query: &str, body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .chain(form_urlencoded::parse(body))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

fn parameter<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(parameter_name, _)| parameter_name == name)
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("no {name} parameter"))
}

fn v1_now(case: &Case) -> i64 {
    parameter(&v1_params(&case.query, &case.body), "Timestamp")
        .parse()
        .expect("numeric Timestamp")
}

fn v1_verify(
    case: &Case,
    host: &str,
    query: &str,
    body: &[u8],
    secret_key: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let params = v1_params(query, body);
    verify_v1(&case.method, host, &case.path, &params, secret_key, now)
}

#[test]
fn v1_vectors_verify_at_their_own_timestamp() {
    for case in v1_cases() {
        let host = case.header("host").expect("Host");
        let now = v1_now(&case);
        for skew in [0, -300, 300] {
            assert_eq!(
                v1_verify(
                    &case,
                    host,
                    &case.query,
                    &case.body,
                    &case.secret_key,
                    now + skew
                ),
                Ok(()),
                "{}: skew {skew}",
                case.name
            );
        }
    }
}

#[test]
fn v1_vectors_match_the_reference_string_to_sign_and_signature() {
    for case in v1_cases() {
        let host = case.header("host").expect("Host");
        let params = v1_params(&case.query, &case.body);
        let string_to_sign = v1_string_to_sign(&case.method, host, &case.path, &params);
        assert_eq!(
            string_to_sign,
            case.check("string_to_sign"),
            "{}",
            case.name
        );
        let method = V1SignatureMethod::parse(
            params
                .iter()
                .find(|(name, _)| name == "SignatureMethod")
                .map(|(_, value)| value.as_str()),
        )
        .expect("supported method");
        let signature = sign_v1(
            &case.method,
            host,
            &case.path,
            &params,
            &case.secret_key,
            method,
        );
        assert_eq!(signature, parameter(&params, "Signature"), "{}", case.name);
        assert_eq!(signature, case.check("expected_signature"), "{}", case.name);
    }
}

#[test]
fn v1_vectors_reject_a_stale_or_future_timestamp() {
    for case in v1_cases() {
        let host = case.header("host").expect("Host");
        let now = v1_now(&case);
        for (clock, skew_seconds) in [(now + 301, -301), (now - 301, 301)] {
            assert_eq!(
                v1_verify(
                    &case,
                    host,
                    &case.query,
                    &case.body,
                    &case.secret_key,
                    clock
                ),
                Err(SignatureError::Expired { skew_seconds }),
                "{}",
                case.name
            );
        }
    }
}

#[test]
fn v1_vectors_reject_every_body_and_query_byte_change() {
    let mut mutations = 0;
    for case in v1_cases() {
        let host = case.header("host").expect("Host");
        let now = v1_now(&case);
        for (index, body) in byte_mutations(&case.body) {
            mutations += 1;
            assert!(
                v1_verify(&case, host, &case.query, &body, &case.secret_key, now).is_err(),
                "{}: body byte {index}",
                case.name
            );
        }
        for range in query_value_ranges(&case.query) {
            for index in range {
                let query = mutate_at(&case.query, index);
                mutations += 1;
                assert!(
                    v1_verify(&case, host, &query, &case.body, &case.secret_key, now).is_err(),
                    "{}: query byte {index}",
                    case.name
                );
            }
        }
    }
    assert!(mutations > 100);
}

#[test]
fn v1_vectors_reject_every_host_secret_and_signature_change() {
    for case in v1_cases() {
        let host = case.header("host").expect("Host");
        let now = v1_now(&case);
        for (index, changed_host) in text_mutations(host) {
            assert_eq!(
                v1_verify(
                    &case,
                    &changed_host,
                    &case.query,
                    &case.body,
                    &case.secret_key,
                    now
                ),
                Err(SignatureError::Mismatch),
                "{}: host byte {index}",
                case.name
            );
        }
        for (index, secret_key) in byte_mutations(&case.secret_key) {
            assert_eq!(
                v1_verify(&case, host, &case.query, &case.body, &secret_key, now),
                Err(SignatureError::Mismatch),
                "{}: secret byte {index}",
                case.name
            );
        }
        let params = v1_params(&case.query, &case.body);
        let signature = parameter(&params, "Signature").to_owned();
        for index in 0..signature.len() {
            let mut changed = signature.clone().into_bytes();
            changed[index] = if changed[index] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(changed).expect("base64");
            let params: Vec<(String, String)> = params
                .iter()
                .map(|(name, value)| {
                    let value = if name == "Signature" {
                        changed.clone()
                    } else {
                        value.clone()
                    };
                    (name.clone(), value)
                })
                .collect();
            assert_eq!(
                verify_v1(
                    &case.method,
                    host,
                    &case.path,
                    &params,
                    &case.secret_key,
                    now
                ),
                Err(SignatureError::Mismatch),
                "{}: signature character {index}",
                case.name
            );
        }
        // The method is part of the string to sign.
        let other_method = if case.method == "GET" { "POST" } else { "GET" };
        assert_eq!(
            verify_v1(
                other_method,
                host,
                &case.path,
                &params,
                &case.secret_key,
                now
            ),
            Err(SignatureError::Mismatch),
            "{}",
            case.name
        );
    }
}
