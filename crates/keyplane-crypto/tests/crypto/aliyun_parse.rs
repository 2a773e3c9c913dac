//! `parse_acs3_authorization` and `parse_roa_v1_authorization` on valid and malformed input: every
//! malformed value is an error, and no input (truncated, garbage, non-ASCII) makes parsing or
//! verification panic — nor do garbage requests given to the three verifiers.

use keyplane_crypto::aliyun::{
    decode_form_pairs, parse_acs3_authorization, parse_roa_v1_authorization, verify_acs3,
    verify_roa_v1, verify_rpc_v1, AliyunAuthorizationParseError,
};
use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::support::{assert_parse_errors, for_each_edit, for_each_garbage, view};

const ACS3_VALID: &str = "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=e521358f7776c97df52e6b2891a8bc73026794a071b50c3323388c4e0df64804";
const ROA_VALID: &str = "acs LTAI5tFakeAccessKeyId0001:8yPt/gSUcfn4tZYCD8Ez+DZXJCI=";

#[test]
fn parses_the_documented_acs3_example() {
    let authorization = parse_acs3_authorization(ACS3_VALID).expect("valid");
    assert_eq!(authorization.access_key_id, "YourAccessKeyId");
    assert_eq!(
        authorization.signed_headers,
        vec![
            "host",
            "x-acs-action",
            "x-acs-content-sha256",
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-version"
        ]
    );
    assert_eq!(
        authorization.signature,
        "e521358f7776c97df52e6b2891a8bc73026794a071b50c3323388c4e0df64804"
    );
    assert_eq!(authorization.to_header_value(), ACS3_VALID);
}

#[test]
fn acs3_tolerates_spacing_and_order_and_keeps_names_as_given() {
    let authorization = parse_acs3_authorization(
        "  ACS3-HMAC-SHA256   Signature=abc , SignedHeaders=Host;X-Acs-Date,Credential=LTAI:x/y \r\n",
    )
    .expect("valid");
    assert_eq!(authorization.access_key_id, "LTAI:x/y");
    assert_eq!(authorization.signed_headers, vec!["Host", "X-Acs-Date"]);
    assert_eq!(authorization.signature, "abc");
}

#[test]
fn parses_the_roa_v1_form() {
    let authorization = parse_roa_v1_authorization(ROA_VALID).expect("valid");
    assert_eq!(authorization.access_key_id, "LTAI5tFakeAccessKeyId0001");
    assert_eq!(authorization.signature, "8yPt/gSUcfn4tZYCD8Ez+DZXJCI=");
    assert_eq!(authorization.to_header_value(), ROA_VALID);
    // The AccessKeyId ends at the first ':'; the signature keeps anything after it.
    let authorization = parse_roa_v1_authorization(" acs\tid:sig:with:colons \n").expect("valid");
    assert_eq!(authorization.access_key_id, "id");
    assert_eq!(authorization.signature, "sig:with:colons");
}

#[test]
fn malformed_acs3_values_are_errors() {
    use AliyunAuthorizationParseError::*;
    let cases: &[(&str, AliyunAuthorizationParseError)] = &[
        ("", Empty),
        (" \t\r\n", Empty),
        ("garbage", UnsupportedAlgorithm),
        ("Bearer abcdef", UnsupportedAlgorithm),
        ("acs id:sig", UnsupportedAlgorithm),
        ("acs3-hmac-sha256 Credential=a,SignedHeaders=host,Signature=00", UnsupportedAlgorithm),
        ("ACS3-HMAC-SHA1 Credential=a,SignedHeaders=host,Signature=00", UnsupportedAlgorithm),
        ("ACS3-HMAC-SHA256Credential=a,SignedHeaders=host,Signature=00", UnsupportedAlgorithm),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00", UnsupportedAlgorithm),
        ("ACS3-HMAC-SHA256\u{00a0}Credential=a,SignedHeaders=host,Signature=00", UnsupportedAlgorithm),
        ("☃ Credential=a,SignedHeaders=host,Signature=00", UnsupportedAlgorithm),
        ("ACS3-HMAC-SHA256", MissingCredential),
        ("ACS3-HMAC-SHA256 ", MissingCredential),
        ("ACS3-HMAC-SHA256 SignedHeaders=host,Signature=00", MissingCredential),
        ("ACS3-HMAC-SHA256 Credential=a,Signature=00", MissingSignedHeaders),
        ("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host", MissingSignature),
        ("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=00,", MalformedPart),
        ("ACS3-HMAC-SHA256 Credential=a,,SignedHeaders=host,Signature=00", MalformedPart),
        ("ACS3-HMAC-SHA256 Credential", MalformedPart),
        ("ACS3-HMAC-SHA256 ☃", MalformedPart),
        ("ACS3-HMAC-SHA256 credential=a,SignedHeaders=host,Signature=00", UnknownPart),
        ("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=00,Extra=1", UnknownPart),
        ("ACS3-HMAC-SHA256 Crédential=a,SignedHeaders=host,Signature=00", UnknownPart),
        ("ACS3-HMAC-SHA256 Credential=a,Credential=a,SignedHeaders=host,Signature=00", DuplicatePart("Credential")),
        ("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,SignedHeaders=host,Signature=00", DuplicatePart("SignedHeaders")),
        ("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=00,Signature=00", DuplicatePart("Signature")),
        ("ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=00", EmptyAccessKeyId),
        ("ACS3-HMAC-SHA256 Credential= ,SignedHeaders=host,Signature=00", EmptyAccessKeyId),
        ("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=,Signature=00", EmptySignedHeaderName),
        ("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;;x-acs-date,Signature=00", EmptySignedHeaderName),
        ("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;,Signature=00", EmptySignedHeaderName),
        ("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=;host,Signature=00", EmptySignedHeaderName),
        ("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=", EmptySignature),
        ("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature= ", EmptySignature),
    ];
    assert_parse_errors(cases, parse_acs3_authorization);
}

#[test]
fn malformed_roa_v1_values_are_errors() {
    use AliyunAuthorizationParseError::*;
    let cases: &[(&str, AliyunAuthorizationParseError)] = &[
        ("", Empty),
        ("  \r\n", Empty),
        ("acs", MissingSeparator),
        ("acs ", MissingSeparator),
        ("acs id", MissingSeparator),
        ("acs id sig", MissingSeparator),
        ("acs :sig", EmptyAccessKeyId),
        ("acs  :sig", EmptyAccessKeyId),
        ("acs id:", EmptySignature),
        ("acs id: ", EmptySignature),
        ("ACS id:sig", UnsupportedAlgorithm),
        ("acsid:sig", UnsupportedAlgorithm),
        ("acs:id:sig", UnsupportedAlgorithm),
        ("Acs id:sig", UnsupportedAlgorithm),
        (
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=00",
            UnsupportedAlgorithm,
        ),
        ("Bearer token", UnsupportedAlgorithm),
        ("acs\u{00a0}id:sig", UnsupportedAlgorithm),
        ("☃ id:sig", UnsupportedAlgorithm),
    ];
    assert_parse_errors(cases, parse_roa_v1_authorization);
}

/// Parses `value` both ways, and when that succeeds also runs a verification against a fixed
/// request; none of it may panic.
fn parse_and_verify(value: &str) {
    let headers = [
        ("host", "127.0.0.1:18080"),
        ("x-acs-date", "2026-11-24T02:42:34Z"),
        ("Date", "Tue, 24 Nov 2026 02:42:34 GMT"),
        (
            "x-acs-content-sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        ("x-acs-action", "☃"),
    ];
    let request = view("POST", "/", "a=1&b=", &headers, b"");
    if let Ok(authorization) = parse_acs3_authorization(value) {
        let _ = verify_acs3(&request, &authorization, b"secret", 1_795_488_154);
    }
    if let Ok(authorization) = parse_roa_v1_authorization(value) {
        let _ = verify_roa_v1(&request, &authorization, b"secret", 1_795_488_154);
    }
}

#[test]
fn truncations_and_single_character_edits_never_panic() {
    let samples = [
        ACS3_VALID.to_owned(),
        ROA_VALID.to_owned(),
        ACS3_VALID.replace("YourAccessKeyId", "秘密ID"),
        ROA_VALID.replace("LTAI", "☃☃"),
        format!("{ACS3_VALID}é"),
    ];
    for_each_edit(
        &samples,
        &["", ",", "=", ":", ";", " ", "é", "\u{0}", "\u{2028}"],
        parse_and_verify,
    );
}

#[test]
fn random_garbage_never_panics() {
    let pieces = [
        "ACS3-HMAC-SHA256",
        "acs",
        " ",
        ",",
        "=",
        ":",
        ";",
        "Credential",
        "SignedHeaders",
        "Signature",
        "host",
        "x-acs-date",
        "LTAI",
        "é",
        "☃",
        "\u{0}",
        "\u{feff}",
        "0",
        "ff",
        "\t",
        "\r\n",
    ];
    for_each_garbage(&pieces, parse_and_verify);
}

#[test]
fn garbage_requests_never_panic_any_verifier() {
    let pieces = [
        "a",
        "=",
        "&",
        "%",
        "%2",
        "%zz",
        "%E2%98",
        "+",
        "☃",
        "\u{0}",
        "Timestamp",
        "Signature",
        "SignatureMethod",
        "HMAC-SHA1",
        "SignatureVersion",
        "1.0",
        "SignatureNonce",
        "AccessKeyId",
        "2026-11-24T02:42:34Z",
        "x-acs-date",
        "host",
        "Date",
        ";",
        ",",
        " ",
        ":",
    ];
    let mut rng = OsRng;
    let text = |rng: &mut OsRng, maximum: usize| -> String {
        let length = rng.gen_range(0..maximum);
        (0..length)
            .map(|_| *pieces.choose(rng).expect("non-empty"))
            .collect()
    };
    for _ in 0..3_000 {
        let raw_query = text(&mut rng, 20);
        let raw_path = text(&mut rng, 6);
        let header_texts: Vec<(String, String)> = (0..rng.gen_range(0..6))
            .map(|_| (text(&mut rng, 3), text(&mut rng, 6)))
            .collect();
        let mut headers: Vec<(&str, &str)> = header_texts
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        headers.push(("x-acs-date", "2026-11-24T02:42:34Z"));
        headers.push(("Date", "Tue, 24 Nov 2026 02:42:34 GMT"));
        let body: Vec<u8> = (0..rng.gen_range(0..16)).map(|_| rng.gen()).collect();
        let request = view("POST", &raw_path, &raw_query, &headers, &body);
        let params = decode_form_pairs(&raw_query);
        let now = rng.gen_range(1_795_487_000..1_795_489_000);
        let _ = verify_rpc_v1("POST", &params, b"secret", now);
        let _ = verify_rpc_v1("POST", &params, b"secret", i64::MIN);
        let signed_headers: Vec<String> = header_texts
            .iter()
            .map(|(name, _)| name.clone())
            .chain(["host".to_owned(), "x-acs-date".to_owned()])
            .collect();
        let acs3 = keyplane_crypto::aliyun::Acs3Authorization {
            access_key_id: "id".to_owned(),
            signed_headers,
            signature: text(&mut rng, 4),
        };
        let _ = verify_acs3(&request, &acs3, b"secret", now);
        let roa = keyplane_crypto::aliyun::RoaV1Authorization {
            access_key_id: "id".to_owned(),
            signature: text(&mut rng, 4),
        };
        let _ = verify_roa_v1(&request, &roa, b"secret", i64::MAX);
        let _ = verify_roa_v1(&request, &roa, b"secret", now);
    }
}
