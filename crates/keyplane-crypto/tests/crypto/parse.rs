//! `parse_tc3_authorization` on valid and malformed input: every malformed value is an error,
//! and no input (truncated, garbage, non-ASCII) makes parsing or verification panic.

use keyplane_crypto::tencent::{
    parse_tc3_authorization, verify_tc3, AuthorizationParseError, Tc3Request,
};

use crate::support::{assert_parse_errors, for_each_edit, for_each_garbage, view};

const VALID: &str = "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168";

#[test]
fn parses_the_documented_example() {
    let authorization = parse_tc3_authorization(VALID).expect("valid");
    assert_eq!(
        authorization.secret_id,
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
    );
    assert_eq!(authorization.credential_date, "2019-02-25");
    assert_eq!(authorization.credential_service, "cvm");
    assert_eq!(authorization.signed_headers, vec!["content-type", "host"]);
    assert_eq!(authorization.signed_headers_raw, "content-type;host");
    assert_eq!(
        authorization.signature,
        "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    );
    assert_eq!(
        authorization.credential_scope(),
        "2019-02-25/cvm/tc3_request"
    );
    assert_eq!(authorization.to_header_value(), VALID);
}

#[test]
fn tolerates_spacing_order_and_header_name_case() {
    let authorization = parse_tc3_authorization(
        "  TC3-HMAC-SHA256   Signature=abc ,SignedHeaders=Content-Type;HOST;X-TC-Action,Credential=AKID/2026-11-24/localhost:8080/tc3_request \r\n",
    )
    .expect("valid");
    assert_eq!(
        authorization.signed_headers,
        vec!["content-type", "host", "x-tc-action"]
    );
    assert_eq!(
        authorization.signed_headers_raw,
        "Content-Type;HOST;X-TC-Action"
    );
    assert_eq!(authorization.credential_service, "localhost:8080");
    assert_eq!(authorization.signature, "abc");

    // A service containing '/' (Node SDK with a scheme in the endpoint) is kept whole.
    let authorization = parse_tc3_authorization(
        "TC3-HMAC-SHA256 Credential=AKID/2026-11-24/http://127/tc3_request, SignedHeaders=content-type;host, Signature=00",
    )
    .expect("valid");
    assert_eq!(authorization.secret_id, "AKID");
    assert_eq!(authorization.credential_service, "http://127");
}

#[test]
fn malformed_values_are_errors() {
    use AuthorizationParseError::*;
    let cases: &[(&str, AuthorizationParseError)] = &[
        ("", Empty),
        (" \t\r\n", Empty),
        ("garbage", UnsupportedAlgorithm),
        ("Bearer abcdef", UnsupportedAlgorithm),
        ("TC3-HMAC-SHA1 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00", UnsupportedAlgorithm),
        ("tc3-hmac-sha256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00", UnsupportedAlgorithm),
        ("TC3-HMAC-SHA256Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00", UnsupportedAlgorithm),
        ("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=00", UnsupportedAlgorithm),
        ("TC3-HMAC-SHA256", MissingCredential),
        ("TC3-HMAC-SHA256 ", MissingCredential),
        ("TC3-HMAC-SHA256 SignedHeaders=host, Signature=00", MissingCredential),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, Signature=00", MissingSignedHeaders),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host", MissingSignature),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00,", MalformedPart),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request,, SignedHeaders=host, Signature=00", MalformedPart),
        ("TC3-HMAC-SHA256 Credential", MalformedPart),
        ("TC3-HMAC-SHA256 credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00", UnknownPart),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00, Extra=1", UnknownPart),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00", DuplicatePart("Credential")),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, SignedHeaders=host, Signature=00", DuplicatePart("SignedHeaders")),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00, Signature=00", DuplicatePart("Signature")),
        ("TC3-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=00", MalformedCredentialScope),
        ("TC3-HMAC-SHA256 Credential=AKID, SignedHeaders=host, Signature=00", MalformedCredentialScope),
        ("TC3-HMAC-SHA256 Credential=/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00", MissingSecretId),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm, SignedHeaders=host, Signature=00", MalformedCredentialScope),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_requests, SignedHeaders=host, Signature=00", MalformedCredentialScope),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvmtc3_request, SignedHeaders=host, Signature=00", MalformedCredentialScope),
        ("TC3-HMAC-SHA256 Credential=a/tc3_request, SignedHeaders=host, Signature=00", MalformedCredentialScope),
        ("TC3-HMAC-SHA256 Credential=a//tc3_request, SignedHeaders=host, Signature=00", MalformedCredentialScope),
        ("TC3-HMAC-SHA256 Credential=a/x/cvm/tc3_request, SignedHeaders=host, Signature=00", MalformedCredentialDate),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/tc3_request, SignedHeaders=host, Signature=00", MalformedCredentialScope),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25//tc3_request, SignedHeaders=host, Signature=00", MissingCredentialService),
        ("TC3-HMAC-SHA256 Credential=a/2019-2-25/cvm/tc3_request, SignedHeaders=host, Signature=00", MalformedCredentialDate),
        ("TC3-HMAC-SHA256 Credential=a/20190225/cvm/tc3_request, SignedHeaders=host, Signature=00", MalformedCredentialDate),
        ("TC3-HMAC-SHA256 Credential=a/２０１９-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00", MalformedCredentialDate),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-2é/cvm/tc3_request, SignedHeaders=host, Signature=00", MalformedCredentialDate),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=, Signature=00", EmptySignedHeaderName),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;;host, Signature=00", EmptySignedHeaderName),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host;, Signature=00", EmptySignedHeaderName),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=", EmptySignature),
        ("TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature= ", EmptySignature),
        ("TC3-HMAC-SHA256 Crédential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00", UnknownPart),
        ("TC3-HMAC-SHA256 ☃", MalformedPart),
        ("☃ Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00", UnsupportedAlgorithm),
        ("TC3-HMAC-SHA256\u{00a0}Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00", UnsupportedAlgorithm),
    ];
    assert_parse_errors(cases, parse_tc3_authorization);
}

/// Parses `value`, and when that succeeds also runs a verification against a fixed request;
/// neither may panic.
fn parse_and_verify(value: &str) {
    let headers = [
        ("content-type", "application/json"),
        ("host", "127.0.0.1:18080"),
        ("x-tc-action", "☃"),
    ];
    let request = Tc3Request {
        request: view("POST", "/", "", &headers, b"{}"),
        timestamp: "1551113065",
    };
    if let Ok(authorization) = parse_tc3_authorization(value) {
        let _ = verify_tc3(&request, &authorization, b"secret", 1_551_113_065);
    }
}

#[test]
fn truncations_and_single_character_edits_never_panic() {
    let samples = [
        VALID.to_owned(),
        VALID.replace("AKID", "秘密ID"),
        VALID.replace("cvm", "☃☃"),
        format!("{VALID}é"),
    ];
    for_each_edit(
        &samples,
        &[
            "",
            ",",
            "=",
            "/",
            ";",
            " ",
            "é",
            "\u{0}",
            "\u{2028}",
            "tc3_request",
        ],
        parse_and_verify,
    );
}

#[test]
fn random_garbage_never_panics() {
    let pieces = [
        "TC3-HMAC-SHA256",
        " ",
        ",",
        ", ",
        "=",
        "/",
        ";",
        "Credential",
        "SignedHeaders",
        "Signature",
        "tc3_request",
        "2019-02-25",
        "AKID",
        "cvm",
        "host",
        "content-type",
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
