//! Data-driven tests over every Alibaba vector in `vectors/*.json` (`ali_*`, `alicore_*`,
//! `alinode_*`, `nb_ali_*`, `kat_alibaba_*`): each captured (or documented) request must verify
//! with its own timestamp as the clock, reproduce the reference verifier's canonical forms, and
//! every single-byte change to what the signature covers must make it fail.

use keyplane_crypto::aliyun::{
    acs3_canonical_request, acs3_hashed_payload, acs3_string_to_sign, decode_form_pairs,
    parse_acs3_authorization, parse_http_date, parse_iso8601_timestamp, parse_roa_v1_authorization,
    roa_v1_string_to_sign, rpc_v1_canonicalized_query, rpc_v1_string_to_sign, sign_acs3,
    sign_roa_v1, sign_rpc_v1, verify_acs3, verify_roa_v1, verify_rpc_v1, Acs3Authorization,
    AliyunSignatureError, RoaEmptyValueStyle, RoaV1Authorization, ALIYUN_SIGNATURE_WINDOW_SECONDS,
};
use serde::Deserialize;

use crate::support::{
    assert_signature_window, byte_mutations, header_in, header_name_mutations, header_pairs,
    header_value_mutations, text_mutations, vector_files, view, Recorded, Vector,
};

const ALIBABA_PREFIXES: [&str; 5] = ["ali_", "alicore_", "alinode_", "nb_ali_", "kat_alibaba_"];
const WINDOW: i64 = ALIYUN_SIGNATURE_WINDOW_SECONDS;

#[derive(Debug, Deserialize)]
struct Credentials {
    access_key_id: String,
    access_key_secret: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scheme {
    RpcV1,
    Acs3,
    RoaV1,
}

/// A vector that is ready to be verified.
struct Case {
    recorded: Recorded,
    scheme: Scheme,
    access_key_id: String,
    secret: Vec<u8>,
}

impl std::ops::Deref for Case {
    type Target = Recorded;

    fn deref(&self) -> &Recorded {
        &self.recorded
    }
}

/// Every Alibaba vector that carries a signed request. The request target is split into the raw
/// path and query here (and checked against the recorded split).
fn alibaba_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for path in vector_files() {
        let file_name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("UTF-8 file name");
        if !ALIBABA_PREFIXES
            .iter()
            .any(|prefix| file_name.starts_with(prefix))
            || file_name.ends_with("_response_handling")
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable vector");
        let vector: Vector<Credentials> = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let (Some(request), Some(credentials)) = (vector.request, vector.credentials) else {
            panic!(
                "{}: an Alibaba vector without a signed request",
                vector.name
            );
        };
        let scheme = match vector.auth_scheme.as_deref() {
            Some("Alibaba-RPC-v1-HMAC-SHA1") => Scheme::RpcV1,
            Some("ACS3-HMAC-SHA256") => Scheme::Acs3,
            Some("Alibaba-ROA-v1-HMAC-SHA1") => Scheme::RoaV1,
            other => panic!("{}: unknown auth_scheme {other:?}", vector.name),
        };
        let (raw_path, raw_query) = request
            .target
            .split_once('?')
            .unwrap_or((request.target.as_str(), ""));
        assert_eq!(raw_path, request.path, "{}", vector.name);
        assert_eq!(raw_query, request.query, "{}", vector.name);
        let body = request.body();
        cases.push(Case {
            recorded: Recorded {
                name: vector.name,
                method: request.method,
                path: raw_path.to_owned(),
                query: raw_query.to_owned(),
                headers: request.headers,
                body,
                signature_check: vector.signature_check,
            },
            scheme,
            access_key_id: credentials.access_key_id,
            secret: credentials.access_key_secret.into_bytes(),
        });
    }
    cases
}

fn cases_of(scheme: Scheme) -> Vec<Case> {
    alibaba_cases()
        .into_iter()
        .filter(|case| case.scheme == scheme)
        .collect()
}

/// The same base64 / hex text with one character replaced by another of the same alphabet.
/// [`assert_signature_window`] with Alibaba's window and expiry error.
fn assert_aliyun_window(
    name: &str,
    now: i64,
    verify_at: impl Fn(i64) -> Result<(), AliyunSignatureError>,
) {
    assert_signature_window(name, now, WINDOW, verify_at, |skew_seconds| {
        AliyunSignatureError::TimestampExpired { skew_seconds }
    });
}

fn change_character(text: &str, index: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes[index] = if bytes[index] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).expect("ASCII")
}

#[test]
fn vector_directory_holds_the_alibaba_vectors() {
    let cases = alibaba_cases();
    let count = |scheme| cases.iter().filter(|case| case.scheme == scheme).count();
    assert!(
        count(Scheme::RpcV1) >= 9,
        "RPC v1: {}",
        count(Scheme::RpcV1)
    );
    assert!(count(Scheme::Acs3) >= 16, "ACS3: {}", count(Scheme::Acs3));
    assert!(
        count(Scheme::RoaV1) >= 4,
        "ROA v1: {}",
        count(Scheme::RoaV1)
    );
    let names: Vec<&str> = cases.iter().map(|case| case.name.as_str()).collect();
    for expected in [
        "kat_alibaba_rpc_v1_doc_example",
        "kat_alibaba_acs3_doc_example",
        "alinode_popcore_ims_CreateAccessKey_rpc_v1",
        "alinode_popcore_eas_CreateServiceInstanceToken_roa_v1",
        "alicore_eas_CreateServiceInstanceToken_roa_v1",
        "ali_ims_CreateAccessKey_acs3_endpoint_with_scheme",
    ] {
        assert!(names.contains(&expected), "{expected}");
    }
}

// ---------------------------------------------------------------- RPC v1

/// Parameters from the raw query, then (when the body is form-urlencoded) from the body.
fn rpc_params(headers: &[(String, String)], query: &str, body: &[u8]) -> Vec<(String, String)> {
    let mut params = decode_form_pairs(query);
    let form_body = header_in(headers, "content-type").is_some_and(|value| {
        value
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if form_body {
        params.extend(decode_form_pairs(&String::from_utf8_lossy(body)));
    }
    params
}

fn parameter<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(parameter_name, _)| parameter_name == name)
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("no {name} parameter"))
}

fn rpc_case_params(case: &Case) -> Vec<(String, String)> {
    rpc_params(&case.headers, &case.query, &case.body)
}

fn rpc_now(case: &Case) -> i64 {
    parse_iso8601_timestamp(parameter(&rpc_case_params(case), "Timestamp")).expect("Timestamp")
}

fn rpc_verify(case: &Case, query: &str, body: &[u8], secret: &[u8], now: i64) -> RpcResult {
    let params = rpc_params(&case.headers, query, body);
    verify_rpc_v1(&case.method, &params, secret, now)
}

type RpcResult = Result<(), AliyunSignatureError>;

/// `params` with `name` replaced by `value` (`None` removes it).
fn with_parameter(
    params: &[(String, String)],
    name: &str,
    value: Option<&str>,
) -> Vec<(String, String)> {
    let mut changed: Vec<(String, String)> = params
        .iter()
        .filter(|(parameter_name, _)| parameter_name != name)
        .cloned()
        .collect();
    if let Some(value) = value {
        changed.push((name.to_owned(), value.to_owned()));
    }
    changed
}

#[test]
fn rpc_v1_vectors_verify_within_the_window_and_not_outside() {
    for case in cases_of(Scheme::RpcV1) {
        assert_aliyun_window(&case.name, rpc_now(&case), |clock| {
            rpc_verify(&case, &case.query, &case.body, &case.secret, clock)
        });
    }
}

#[test]
fn rpc_v1_vectors_match_the_reference_canonical_forms_and_signature() {
    for case in cases_of(Scheme::RpcV1) {
        let params = rpc_case_params(&case);
        let name = &case.name;
        assert_eq!(
            parameter(&params, "AccessKeyId"),
            case.access_key_id,
            "{name}"
        );
        assert_eq!(
            rpc_v1_canonicalized_query(&params),
            case.check("canonicalized_query"),
            "{name}"
        );
        assert_eq!(
            rpc_v1_string_to_sign(&case.method, &params),
            case.check("string_to_sign"),
            "{name}"
        );
        let signature = sign_rpc_v1(&case.method, &params, &case.secret);
        assert_eq!(signature, parameter(&params, "Signature"), "{name}");
        assert_eq!(signature, case.check("expected_signature"), "{name}");
    }
}

#[test]
fn rpc_v1_documentation_example_reproduces_its_signature() {
    let case = cases_of(Scheme::RpcV1)
        .into_iter()
        .find(|case| case.name == "kat_alibaba_rpc_v1_doc_example")
        .expect("KAT present");
    let params = rpc_case_params(&case);
    assert_eq!(case.secret, b"testsecret");
    assert_eq!(
        sign_rpc_v1(&case.method, &params, &case.secret),
        "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    );
    assert_eq!(
        verify_rpc_v1(&case.method, &params, &case.secret, rpc_now(&case)),
        Ok(())
    );
}

#[test]
fn rpc_v1_vectors_reject_every_query_and_body_byte_change() {
    let mut mutations = 0;
    for case in cases_of(Scheme::RpcV1) {
        let now = rpc_now(&case);
        for (index, query) in text_mutations(&case.query) {
            mutations += 1;
            assert!(
                rpc_verify(&case, &query, &case.body, &case.secret, now).is_err(),
                "{}: query byte {index}",
                case.name
            );
        }
        for (index, body) in byte_mutations(&case.body) {
            mutations += 1;
            assert!(
                rpc_verify(&case, &case.query, &body, &case.secret, now).is_err(),
                "{}: body byte {index}",
                case.name
            );
        }
    }
    assert!(mutations > 2_000, "{mutations}");
}

#[test]
fn rpc_v1_vectors_reject_every_secret_and_signature_change() {
    for case in cases_of(Scheme::RpcV1) {
        let now = rpc_now(&case);
        let params = rpc_case_params(&case);
        let mismatch = AliyunSignatureError::Mismatch {
            string_to_sign: case.check("string_to_sign").to_owned(),
        };
        for (index, secret) in byte_mutations(&case.secret) {
            assert_eq!(
                verify_rpc_v1(&case.method, &params, &secret, now),
                Err(mismatch.clone()),
                "{}: secret byte {index}",
                case.name
            );
        }
        let mut with_ampersand = case.secret.clone();
        with_ampersand.push(b'&');
        assert_eq!(
            verify_rpc_v1(&case.method, &params, &with_ampersand, now),
            Err(mismatch.clone()),
            "{}: the key is secret + '&', not secret + '&&'",
            case.name
        );
        let signature = parameter(&params, "Signature").to_owned();
        for index in 0..signature.len() {
            let changed = with_parameter(
                &params,
                "Signature",
                Some(&change_character(&signature, index)),
            );
            assert_eq!(
                verify_rpc_v1(&case.method, &changed, &case.secret, now),
                Err(mismatch.clone()),
                "{}: signature character {index}",
                case.name
            );
        }
        let other_method = if case.method == "GET" { "POST" } else { "GET" };
        assert!(matches!(
            verify_rpc_v1(other_method, &params, &case.secret, now),
            Err(AliyunSignatureError::Mismatch { .. })
        ));
    }
}

#[test]
fn rpc_v1_vectors_reject_an_added_or_removed_parameter() {
    for case in cases_of(Scheme::RpcV1) {
        let now = rpc_now(&case);
        let params = rpc_case_params(&case);
        let mut added = params.clone();
        added.push(("RegionId".to_owned(), "cn-shanghai".to_owned()));
        assert!(
            matches!(
                verify_rpc_v1(&case.method, &added, &case.secret, now),
                Err(AliyunSignatureError::Mismatch { .. })
            ),
            "{}",
            case.name
        );
        let mut empty_added = params.clone();
        empty_added.push(("Extra".to_owned(), String::new()));
        assert!(
            verify_rpc_v1(&case.method, &empty_added, &case.secret, now).is_err(),
            "{}: an empty value is signed too",
            case.name
        );
        for index in 0..params.len() {
            let mut removed = params.clone();
            let (name, _) = removed.remove(index);
            assert!(
                verify_rpc_v1(&case.method, &removed, &case.secret, now).is_err(),
                "{}: without {name}",
                case.name
            );
        }
        let mut repeated_signature = params.clone();
        repeated_signature.push((
            "Signature".to_owned(),
            parameter(&params, "Signature").to_owned(),
        ));
        assert!(matches!(
            verify_rpc_v1(&case.method, &repeated_signature, &case.secret, now),
            Err(AliyunSignatureError::Mismatch { .. })
        ));
    }
}

#[test]
fn rpc_v1_vectors_report_each_missing_or_unsupported_parameter() {
    for case in cases_of(Scheme::RpcV1) {
        let now = rpc_now(&case);
        let params = rpc_case_params(&case);
        let verify =
            |params: &[(String, String)]| verify_rpc_v1(&case.method, params, &case.secret, now);
        let name = &case.name;
        for required in [
            "Signature",
            "AccessKeyId",
            "SignatureMethod",
            "SignatureVersion",
            "SignatureNonce",
        ] {
            assert_eq!(
                verify(&with_parameter(&params, required, None)),
                Err(AliyunSignatureError::MissingParameter(required)),
                "{name}"
            );
        }
        for required in ["Signature", "AccessKeyId", "SignatureNonce"] {
            assert_eq!(
                verify(&with_parameter(&params, required, Some(""))),
                Err(AliyunSignatureError::MissingParameter(required)),
                "{name}: empty {required}"
            );
        }
        for method in ["HMAC-SHA256", "hmac-sha1", "HmacSHA1", ""] {
            assert_eq!(
                verify(&with_parameter(&params, "SignatureMethod", Some(method))),
                Err(AliyunSignatureError::SignatureMethodUnsupported(
                    method.to_owned()
                )),
                "{name}"
            );
        }
        for version in ["2.0", "1", "1.0 "] {
            assert_eq!(
                verify(&with_parameter(&params, "SignatureVersion", Some(version))),
                Err(AliyunSignatureError::SignatureVersionUnsupported(
                    version.to_owned()
                )),
                "{name}"
            );
        }
        assert_eq!(
            verify(&with_parameter(&params, "Timestamp", None)),
            Err(AliyunSignatureError::TimestampMissing),
            "{name}"
        );
        for garbage in [
            "",
            "yesterday",
            "1795488154",
            "2026-11-24",
            "Tue, 24 Nov 2026 02:42:34 GMT",
        ] {
            assert_eq!(
                verify(&with_parameter(&params, "Timestamp", Some(garbage))),
                Err(AliyunSignatureError::TimestampFormat),
                "{name}: {garbage:?}"
            );
        }
        let mut two_timestamps = params.clone();
        two_timestamps.push((
            "Timestamp".to_owned(),
            parameter(&params, "Timestamp").to_owned(),
        ));
        assert_eq!(
            verify(&two_timestamps),
            Err(AliyunSignatureError::TimestampFormat),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------- ACS3

struct Acs3Context<'a> {
    case: &'a Case,
    authorization: Acs3Authorization,
    now: i64,
}

/// One verification of a (possibly changed) copy of a vector's ACS3 request.
#[derive(Clone)]
struct Acs3Attempt {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    authorization: Acs3Authorization,
    secret: Vec<u8>,
    now: i64,
}

impl Acs3Attempt {
    fn verify(&self) -> Result<(), AliyunSignatureError> {
        let pairs = header_pairs(&self.headers);
        let request = view(&self.method, &self.path, &self.query, &pairs, &self.body);
        verify_acs3(&request, &self.authorization, &self.secret, self.now)
    }
}

impl Acs3Context<'_> {
    /// The vector's request as captured, to be changed and verified.
    fn attempt(&self) -> Acs3Attempt {
        let case = self.case;
        Acs3Attempt {
            method: case.method.clone(),
            path: case.path.clone(),
            query: case.query.clone(),
            headers: case.headers.clone(),
            body: case.body.clone(),
            authorization: self.authorization.clone(),
            secret: case.secret.clone(),
            now: self.now,
        }
    }

    fn verify_with(
        &self,
        query: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(), AliyunSignatureError> {
        Acs3Attempt {
            query: query.to_owned(),
            headers: headers.to_vec(),
            body: body.to_vec(),
            ..self.attempt()
        }
        .verify()
    }

    fn verify_headers(&self, headers: &[(String, String)]) -> Result<(), AliyunSignatureError> {
        self.verify_with(&self.case.query, headers, &self.case.body)
    }

    fn verify_authorization(
        &self,
        authorization: &Acs3Authorization,
    ) -> Result<(), AliyunSignatureError> {
        Acs3Attempt {
            authorization: authorization.clone(),
            ..self.attempt()
        }
        .verify()
    }

    fn verify_at(&self, now: i64) -> Result<(), AliyunSignatureError> {
        Acs3Attempt {
            now,
            ..self.attempt()
        }
        .verify()
    }

    fn is_signed(&self, header_name: &str) -> bool {
        self.authorization
            .signed_headers
            .iter()
            .any(|signed| signed.eq_ignore_ascii_case(header_name))
    }
}

fn acs3_context(case: &Case) -> Acs3Context<'_> {
    let authorization =
        parse_acs3_authorization(case.header("authorization").expect("Authorization"))
            .unwrap_or_else(|error| panic!("{}: {error}", case.name));
    let now = parse_iso8601_timestamp(case.header("x-acs-date").expect("x-acs-date"))
        .expect("x-acs-date");
    Acs3Context {
        case,
        authorization,
        now,
    }
}

#[test]
fn acs3_vectors_verify_within_the_window_and_not_outside() {
    for case in cases_of(Scheme::Acs3) {
        let context = acs3_context(&case);
        let name = &case.name;
        assert_eq!(
            context.authorization.access_key_id, case.access_key_id,
            "{name}"
        );
        assert_aliyun_window(name, context.now, |clock| context.verify_at(clock));
    }
}

#[test]
fn acs3_vectors_match_the_reference_canonical_request_and_authorization() {
    for case in cases_of(Scheme::Acs3) {
        let context = acs3_context(&case);
        let name = &case.name;
        let pairs = header_pairs(&case.headers);
        let request = view(&case.method, &case.path, &case.query, &pairs, &case.body);
        let hashed_payload = acs3_hashed_payload(&case.body);
        assert_eq!(hashed_payload, case.check("payload_sha256"), "{name}");
        assert_eq!(
            context.authorization.signed_headers.join(";"),
            case.check("signed_headers"),
            "{name}"
        );
        let canonical_request = acs3_canonical_request(
            &request,
            &context.authorization.signed_headers,
            &hashed_payload,
        );
        assert_eq!(canonical_request, case.check("canonical_request"), "{name}");
        assert_eq!(
            acs3_string_to_sign(&canonical_request),
            case.check("string_to_sign"),
            "{name}"
        );
        let header = case.header("authorization").expect("Authorization");
        assert_eq!(context.authorization.to_header_value(), header, "{name}");
        assert_eq!(
            sign_acs3(
                &request,
                &case.access_key_id,
                &context.authorization.signed_headers,
                &case.secret
            ),
            header,
            "{name}"
        );
    }
}

#[test]
fn acs3_documentation_example_reproduces_its_signature() {
    let case = cases_of(Scheme::Acs3)
        .into_iter()
        .find(|case| case.name == "kat_alibaba_acs3_doc_example")
        .expect("KAT present");
    let context = acs3_context(&case);
    assert_eq!(
        context.authorization.signature,
        "e521358f7776c97df52e6b2891a8bc73026794a071b50c3323388c4e0df64804"
    );
    let pairs = header_pairs(&case.headers);
    let request = view(&case.method, &case.path, &case.query, &pairs, &case.body);
    let header = sign_acs3(
        &request,
        "YourAccessKeyId",
        &context.authorization.signed_headers,
        b"YourAccessKeySecret",
    );
    assert!(header
        .ends_with(",Signature=e521358f7776c97df52e6b2891a8bc73026794a071b50c3323388c4e0df64804"));
    assert_eq!(context.verify_at(context.now), Ok(()));
    // The other value printed on the same documentation page does not reproduce.
    let mut other = context.authorization.clone();
    other.signature = "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0".to_owned();
    assert!(matches!(
        context.verify_authorization(&other),
        Err(AliyunSignatureError::Mismatch { .. })
    ));
}

#[test]
fn acs3_vectors_reject_every_query_and_path_byte_change() {
    let mut mutations = 0;
    for case in cases_of(Scheme::Acs3) {
        let context = acs3_context(&case);
        for (index, query) in text_mutations(&case.query) {
            mutations += 1;
            assert!(
                matches!(
                    context.verify_with(&query, &case.headers, &case.body),
                    Err(AliyunSignatureError::Mismatch { .. })
                ),
                "{}: query byte {index}",
                case.name
            );
        }
        for (index, path) in text_mutations(&case.path) {
            mutations += 1;
            let result = Acs3Attempt {
                path,
                ..context.attempt()
            }
            .verify();
            assert!(
                matches!(result, Err(AliyunSignatureError::Mismatch { .. })),
                "{}: path byte {index}",
                case.name
            );
        }
        let other_method = if case.method == "GET" { "POST" } else { "GET" };
        let result = Acs3Attempt {
            method: other_method.to_owned(),
            ..context.attempt()
        }
        .verify();
        assert!(matches!(result, Err(AliyunSignatureError::Mismatch { .. })));
        let mut extra_query = case.query.clone();
        extra_query.push_str(if extra_query.is_empty() { "x=" } else { "&x=" });
        assert!(matches!(
            context.verify_with(&extra_query, &case.headers, &case.body),
            Err(AliyunSignatureError::Mismatch { .. })
        ));
    }
    assert!(mutations > 1_000, "{mutations}");
}

#[test]
fn acs3_vectors_reject_every_signed_header_byte_change_and_ignore_unsigned_ones() {
    let mut signed_mutations = 0;
    for case in cases_of(Scheme::Acs3) {
        let context = acs3_context(&case);
        for (position, (header_name, _)) in case.headers.iter().enumerate() {
            if header_name.eq_ignore_ascii_case("authorization") {
                continue;
            }
            let signed = context.is_signed(header_name);
            for (index, headers) in header_value_mutations(&case.headers, position) {
                let result = context.verify_headers(&headers);
                if signed {
                    signed_mutations += 1;
                    assert!(result.is_err(), "{}: {header_name} byte {index}", case.name);
                } else {
                    assert_eq!(result, Ok(()), "{}: {header_name} is not signed", case.name);
                }
            }
            // Renaming a signed header, or an x-acs-* one, is refused too.
            if signed || header_name.to_ascii_lowercase().starts_with("x-acs-") {
                for (index, headers) in header_name_mutations(&case.headers, position) {
                    assert!(
                        context.verify_headers(&headers).is_err(),
                        "{}: {header_name} name byte {index}",
                        case.name
                    );
                }
            }
        }
    }
    assert!(signed_mutations > 3_000, "{signed_mutations}");
}

#[test]
fn acs3_vectors_reject_a_changed_body_by_its_hash() {
    for case in cases_of(Scheme::Acs3) {
        let context = acs3_context(&case);
        let mut longer_body = case.body.clone();
        longer_body.push(b'x');
        assert_eq!(
            context.verify_with(&case.query, &case.headers, &longer_body),
            Err(AliyunSignatureError::ContentHashMismatch),
            "{}",
            case.name
        );
        for (index, body) in byte_mutations(&case.body) {
            assert_eq!(
                context.verify_with(&case.query, &case.headers, &body),
                Err(AliyunSignatureError::ContentHashMismatch),
                "{}: body byte {index}",
                case.name
            );
        }
        // With x-acs-content-sha256 updated to the new body, the signature no longer matches.
        let mut headers = case.headers.clone();
        let position = case.header_position("x-acs-content-sha256");
        headers[position].1 = acs3_hashed_payload(&longer_body);
        assert!(
            matches!(
                context.verify_with(&case.query, &headers, &longer_body),
                Err(AliyunSignatureError::Mismatch { .. })
            ),
            "{}",
            case.name
        );
        // Upper-case hex in the header names the same hash.
        let mut upper_case = case.headers.clone();
        upper_case[position].1 = case.headers[position].1.to_ascii_uppercase();
        assert!(matches!(
            context.verify_headers(&upper_case),
            Err(AliyunSignatureError::Mismatch { .. })
        ));
        let mut without_hash = case.headers.clone();
        without_hash.remove(position);
        let mut authorization = context.authorization.clone();
        authorization
            .signed_headers
            .retain(|name| name != "x-acs-content-sha256");
        let result = Acs3Attempt {
            headers: without_hash,
            authorization,
            ..context.attempt()
        }
        .verify();
        assert_eq!(result, Err(AliyunSignatureError::ContentHashMismatch));
    }
}

#[test]
fn acs3_vectors_reject_every_secret_and_signature_change() {
    for case in cases_of(Scheme::Acs3) {
        let context = acs3_context(&case);
        let mismatch = AliyunSignatureError::Mismatch {
            string_to_sign: case.check("string_to_sign").to_owned(),
        };
        for (index, secret) in byte_mutations(&case.secret) {
            let result = Acs3Attempt {
                secret,
                ..context.attempt()
            }
            .verify();
            assert_eq!(
                result,
                Err(mismatch.clone()),
                "{}: secret byte {index}",
                case.name
            );
        }
        let signature = &context.authorization.signature;
        assert_eq!(signature.len(), 64);
        for index in 0..signature.len() {
            let mut authorization = context.authorization.clone();
            authorization.signature = change_character(signature, index);
            assert_eq!(
                context.verify_authorization(&authorization),
                Err(mismatch.clone()),
                "{}: signature digit {index}",
                case.name
            );
        }
        let mut upper_case = context.authorization.clone();
        upper_case.signature = signature.to_ascii_uppercase();
        if upper_case.signature != *signature {
            assert_eq!(
                context.verify_authorization(&upper_case),
                Err(mismatch.clone())
            );
        }
        for truncated in [&signature[..63], &signature[..0], "zz"] {
            let mut authorization = context.authorization.clone();
            authorization.signature = truncated.to_owned();
            assert_eq!(
                context.verify_authorization(&authorization),
                Err(mismatch.clone())
            );
        }
    }
}

#[test]
fn acs3_vectors_require_host_content_type_and_every_acs_header_signed() {
    for case in cases_of(Scheme::Acs3) {
        let context = acs3_context(&case);
        let name = &case.name;
        for signed in &context.authorization.signed_headers {
            let mut authorization = context.authorization.clone();
            authorization.signed_headers.retain(|other| other != signed);
            let result = context.verify_authorization(&authorization);
            if signed == "host" || signed.starts_with("x-acs-") {
                assert_eq!(
                    result,
                    Err(AliyunSignatureError::HeaderNotSigned(signed.clone())),
                    "{name}"
                );
            } else {
                // accept / user-agent: optional to sign, but part of the canonical request.
                assert!(
                    matches!(result, Err(AliyunSignatureError::Mismatch { .. })),
                    "{name}: {signed}"
                );
            }
        }
        for (extra_name, extra_value) in [
            ("x-acs-security-token", "injected"),
            ("X-Acs-Extra", "1"),
            ("content-type", "application/json"),
        ] {
            let mut headers = case.headers.clone();
            if case.header(extra_name).is_some() {
                continue;
            }
            headers.push((extra_name.to_owned(), extra_value.to_owned()));
            assert_eq!(
                context.verify_headers(&headers),
                Err(AliyunSignatureError::HeaderNotSigned(
                    extra_name.to_ascii_lowercase()
                )),
                "{name}"
            );
        }
        // A second value of a signed header changes its canonical line.
        let mut doubled = case.headers.clone();
        doubled.push(("x-acs-action".to_owned(), "DeleteAccessKey".to_owned()));
        assert!(matches!(
            context.verify_headers(&doubled),
            Err(AliyunSignatureError::Mismatch { .. })
        ));
        for signed in &context.authorization.signed_headers {
            let mut headers = case.headers.clone();
            headers.retain(|(header_name, _)| !header_name.eq_ignore_ascii_case(signed));
            let expected = if signed == "x-acs-date" {
                AliyunSignatureError::TimestampMissing
            } else {
                AliyunSignatureError::SignedHeaderMissing(signed.clone())
            };
            assert_eq!(context.verify_headers(&headers), Err(expected), "{name}");
        }
    }
}

#[test]
fn acs3_vectors_report_a_missing_or_malformed_date() {
    for case in cases_of(Scheme::Acs3) {
        let context = acs3_context(&case);
        let position = case.header_position("x-acs-date");
        for garbage in [
            "",
            "now",
            "1795488154",
            "Tue, 24 Nov 2026 02:42:34 GMT",
            "2026-11-24",
        ] {
            let mut headers = case.headers.clone();
            headers[position].1 = garbage.to_owned();
            assert_eq!(
                context.verify_headers(&headers),
                Err(AliyunSignatureError::TimestampFormat),
                "{}: {garbage:?}",
                case.name
            );
        }
        let mut twice = case.headers.clone();
        twice.push(case.headers[position].clone());
        assert_eq!(
            context.verify_headers(&twice),
            Err(AliyunSignatureError::TimestampFormat)
        );
    }
}

#[test]
fn acs3_host_is_signed_verbatim_including_a_scheme() {
    let case = cases_of(Scheme::Acs3)
        .into_iter()
        .find(|case| case.name == "ali_ims_CreateAccessKey_acs3_endpoint_with_scheme")
        .expect("vector present");
    let context = acs3_context(&case);
    assert_eq!(case.header("host"), Some("http://127.0.0.1:18080"));
    assert_eq!(context.verify_headers(&case.headers), Ok(()));
    let position = case.header_position("host");
    for other_host in ["127.0.0.1:18080", "http://127.0.0.1", "127.0.0.1"] {
        let mut headers = case.headers.clone();
        headers[position].1 = other_host.to_owned();
        assert!(matches!(
            context.verify_headers(&headers),
            Err(AliyunSignatureError::Mismatch { .. })
        ));
    }
}

// ---------------------------------------------------------------- ROA v1

struct RoaContext<'a> {
    case: &'a Case,
    authorization: RoaV1Authorization,
    now: i64,
}

impl RoaContext<'_> {
    fn verify_full(
        &self,
        path: &str,
        query: &str,
        headers: &[(String, String)],
        authorization: &RoaV1Authorization,
        secret: &[u8],
        now: i64,
    ) -> Result<(), AliyunSignatureError> {
        let pairs = header_pairs(headers);
        let request = view(&self.case.method, path, query, &pairs, &self.case.body);
        verify_roa_v1(&request, authorization, secret, now)
    }

    fn verify_headers(&self, headers: &[(String, String)]) -> Result<(), AliyunSignatureError> {
        let case = self.case;
        self.verify_full(
            &case.path,
            &case.query,
            headers,
            &self.authorization,
            &case.secret,
            self.now,
        )
    }

    fn verify_at(&self, now: i64) -> Result<(), AliyunSignatureError> {
        let case = self.case;
        self.verify_full(
            &case.path,
            &case.query,
            &case.headers,
            &self.authorization,
            &case.secret,
            now,
        )
    }
}

fn roa_context(case: &Case) -> RoaContext<'_> {
    let authorization =
        parse_roa_v1_authorization(case.header("authorization").expect("Authorization"))
            .unwrap_or_else(|error| panic!("{}: {error}", case.name));
    let now = parse_http_date(case.header("date").expect("Date")).expect("Date");
    RoaContext {
        case,
        authorization,
        now,
    }
}

/// Headers covered by a ROA v1 signature.
fn roa_header_is_signed(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("x-acs-")
        || ["accept", "content-md5", "content-type", "date"].contains(&name.as_str())
}

#[test]
fn roa_v1_vectors_verify_within_the_window_and_not_outside() {
    for case in cases_of(Scheme::RoaV1) {
        let context = roa_context(&case);
        let name = &case.name;
        assert_eq!(context.authorization.access_key_id, case.access_key_id);
        assert_aliyun_window(name, context.now, |clock| context.verify_at(clock));
    }
}

#[test]
fn roa_v1_vectors_match_the_reference_string_to_sign_and_signature() {
    for case in cases_of(Scheme::RoaV1) {
        let context = roa_context(&case);
        let pairs = header_pairs(&case.headers);
        let request = view(&case.method, &case.path, &case.query, &pairs, &case.body);
        let name = &case.name;
        for style in [RoaEmptyValueStyle::NameEquals, RoaEmptyValueStyle::NameOnly] {
            assert_eq!(
                roa_v1_string_to_sign(&request, style),
                case.check("string_to_sign"),
                "{name}: no empty values, so both styles agree"
            );
        }
        let signature = sign_roa_v1(&request, &case.secret);
        assert_eq!(signature, context.authorization.signature, "{name}");
        assert_eq!(signature, case.check("expected_signature"), "{name}");
        assert_eq!(
            context.authorization.to_header_value(),
            case.header("authorization").expect("Authorization")
        );
    }
}

#[test]
fn roa_v1_vectors_reject_every_signed_byte_change_and_ignore_unsigned_headers() {
    let mut mutations = 0;
    for case in cases_of(Scheme::RoaV1) {
        let context = roa_context(&case);
        for (position, (header_name, _)) in case.headers.iter().enumerate() {
            if header_name.eq_ignore_ascii_case("authorization") {
                continue;
            }
            let signed = roa_header_is_signed(header_name);
            for (index, headers) in header_value_mutations(&case.headers, position) {
                let result = context.verify_headers(&headers);
                if signed {
                    mutations += 1;
                    assert!(result.is_err(), "{}: {header_name} byte {index}", case.name);
                } else {
                    assert_eq!(result, Ok(()), "{}: {header_name} is unsigned", case.name);
                }
            }
            if header_name.to_ascii_lowercase().starts_with("x-acs-") {
                for (index, headers) in header_name_mutations(&case.headers, position) {
                    mutations += 1;
                    assert!(
                        context.verify_headers(&headers).is_err(),
                        "{}: {header_name} name byte {index}",
                        case.name
                    );
                }
            }
        }
        for (index, path) in text_mutations(&case.path) {
            mutations += 1;
            let result = context.verify_full(
                &path,
                &case.query,
                &case.headers,
                &context.authorization,
                &case.secret,
                context.now,
            );
            assert!(
                matches!(result, Err(AliyunSignatureError::Mismatch { .. })),
                "{}: path byte {index}",
                case.name
            );
        }
        for (index, query) in text_mutations(&case.query) {
            mutations += 1;
            let result = context.verify_full(
                &case.path,
                &query,
                &case.headers,
                &context.authorization,
                &case.secret,
                context.now,
            );
            assert!(
                matches!(result, Err(AliyunSignatureError::Mismatch { .. })),
                "{}: query byte {index}",
                case.name
            );
        }
        // Adding a header that is part of the string to sign.
        for (extra_name, extra_value) in [("x-acs-extra", "1"), ("content-type", "text/plain")] {
            let mut headers = case.headers.clone();
            headers.push((extra_name.to_owned(), extra_value.to_owned()));
            assert!(matches!(
                context.verify_headers(&headers),
                Err(AliyunSignatureError::Mismatch { .. })
            ));
        }
    }
    assert!(mutations > 1_000, "{mutations}");
}

#[test]
fn roa_v1_vectors_reject_every_secret_and_signature_change() {
    for case in cases_of(Scheme::RoaV1) {
        let context = roa_context(&case);
        let mismatch = AliyunSignatureError::Mismatch {
            string_to_sign: case.check("string_to_sign").to_owned(),
        };
        for (index, secret) in byte_mutations(&case.secret) {
            let result = context.verify_full(
                &case.path,
                &case.query,
                &case.headers,
                &context.authorization,
                &secret,
                context.now,
            );
            assert_eq!(
                result,
                Err(mismatch.clone()),
                "{}: secret byte {index}",
                case.name
            );
        }
        let mut with_ampersand = case.secret.clone();
        with_ampersand.push(b'&');
        let result = context.verify_full(
            &case.path,
            &case.query,
            &case.headers,
            &context.authorization,
            &with_ampersand,
            context.now,
        );
        assert_eq!(
            result,
            Err(mismatch.clone()),
            "ROA v1 signs with the bare secret"
        );
        let signature = &context.authorization.signature;
        for index in 0..signature.len() {
            let mut authorization = context.authorization.clone();
            authorization.signature = change_character(signature, index);
            let result = context.verify_full(
                &case.path,
                &case.query,
                &case.headers,
                &authorization,
                &case.secret,
                context.now,
            );
            assert_eq!(
                result,
                Err(mismatch.clone()),
                "{}: signature {index}",
                case.name
            );
        }
    }
}

#[test]
fn roa_v1_vectors_report_date_and_method_problems() {
    for case in cases_of(Scheme::RoaV1) {
        let context = roa_context(&case);
        let name = &case.name;
        let date_position = case.header_position("date");
        let mut without_date = case.headers.clone();
        without_date.remove(date_position);
        assert_eq!(
            context.verify_headers(&without_date),
            Err(AliyunSignatureError::TimestampMissing),
            "{name}"
        );
        for garbage in [
            "",
            "now",
            "2026-11-24T02:42:41Z",
            "Mon, 24 Nov 2026 02:42:41 GMT",
        ] {
            let mut headers = case.headers.clone();
            headers[date_position].1 = garbage.to_owned();
            assert_eq!(
                context.verify_headers(&headers),
                Err(AliyunSignatureError::TimestampFormat),
                "{name}: {garbage:?}"
            );
        }
        let method_position = case.header_position("x-acs-signature-method");
        for method in ["HMAC-SHA256", "hmac-sha1"] {
            let mut headers = case.headers.clone();
            headers[method_position].1 = method.to_owned();
            assert_eq!(
                context.verify_headers(&headers),
                Err(AliyunSignatureError::SignatureMethodUnsupported(
                    method.to_owned()
                )),
                "{name}"
            );
        }
        let version_position = case.header_position("x-acs-signature-version");
        let mut headers = case.headers.clone();
        headers[version_position].1 = "2.0".to_owned();
        assert_eq!(
            context.verify_headers(&headers),
            Err(AliyunSignatureError::SignatureVersionUnsupported(
                "2.0".to_owned()
            )),
            "{name}"
        );
        // Without the optional method and version headers the signature no longer matches
        // (they are x-acs-* headers, so part of the string to sign) — but it is not refused for
        // their absence.
        let mut without_method = case.headers.clone();
        without_method
            .retain(|(header_name, _)| !header_name.eq_ignore_ascii_case("x-acs-signature-method"));
        assert!(matches!(
            context.verify_headers(&without_method),
            Err(AliyunSignatureError::Mismatch { .. })
        ));
    }
}

#[test]
fn roa_v1_requests_without_nonce_or_with_a_port_less_host_verify() {
    let cases = cases_of(Scheme::RoaV1);
    let legacy = cases
        .iter()
        .find(|case| case.name == "alicore_eas_CreateServiceInstanceToken_roa_v1")
        .expect("legacy core vector");
    assert_eq!(legacy.header("x-acs-signature-nonce"), None);
    assert_eq!(roa_context(legacy).verify_headers(&legacy.headers), Ok(()));
    let pop_core = cases
        .iter()
        .find(|case| case.name == "alinode_popcore_eas_CreateServiceInstanceToken_roa_v1")
        .expect("pop-core vector");
    assert_eq!(pop_core.header("host"), Some("127.0.0.1"));
    assert_eq!(
        pop_core.header("content-md5"),
        Some("1B2M2Y8AsgTpgAmY7PhCfg==")
    );
    assert_eq!(
        roa_context(pop_core).verify_headers(&pop_core.headers),
        Ok(())
    );
}

#[test]
fn roa_v1_vectors_refuse_a_query_rewritten_into_the_same_string_to_sign() {
    for case in cases_of(Scheme::RoaV1) {
        let context = roa_context(&case);
        let pairs = header_pairs(&case.headers);
        let mut sorted = decode_form_pairs(&case.query);
        sorted.sort();
        assert!(sorted.len() >= 2, "{}", case.name);
        let (first_name, first_value) = &sorted[0];
        let rest: Vec<String> = sorted[1..]
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let rest = rest.join("&");
        // One parameter whose value swallows the others, and one parameter whose name does.
        let merged_into_value = format!(
            "{first_name}={}",
            form_urlencoded::byte_serialize(format!("{first_value}&{rest}").as_bytes())
                .collect::<String>()
        );
        let merged_into_name = form_urlencoded::byte_serialize(
            format!("{first_name}={first_value}&{rest}").as_bytes(),
        )
        .collect::<String>();
        for (query, style) in [
            (&merged_into_value, RoaEmptyValueStyle::NameEquals),
            (&merged_into_name, RoaEmptyValueStyle::NameOnly),
        ] {
            let request = view(&case.method, &case.path, query, &pairs, &case.body);
            // The rewritten query really does give the signed string to sign ...
            assert_eq!(
                roa_v1_string_to_sign(&request, style),
                case.check("string_to_sign"),
                "{}: {query}",
                case.name
            );
            // ... and is refused all the same.
            let result = context.verify_full(
                &case.path,
                query,
                &case.headers,
                &context.authorization,
                &case.secret,
                context.now,
            );
            assert!(
                matches!(result, Err(AliyunSignatureError::Mismatch { .. })),
                "{}: {query}",
                case.name
            );
        }
        // A line break inside a signed header value could forge another x-acs-* line.
        let mut headers = case.headers.clone();
        let position = case.header_position("x-acs-version");
        headers[position].1.push_str("\nx-acs-zzz:1");
        assert!(matches!(
            context.verify_headers(&headers),
            Err(AliyunSignatureError::Mismatch { .. })
        ));
    }
}
