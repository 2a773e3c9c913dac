//! Sign-then-verify round trips for the three Alibaba schemes over awkward inputs (unicode,
//! spaces, `*`, `~`, `+`, `%`, empty values, a scheme in the host), through the wire encoding and
//! back, plus the tolerances that no captured vector exercises (parameter order, empty-value
//! style, repeated headers, header whitespace), each checked against an independent computation.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use keyplane_crypto::aliyun::{
    acs3_canonical_query, acs3_hashed_payload, decode_form_pairs, parse_acs3_authorization,
    parse_roa_v1_authorization, percent_encode_rfc3986, roa_v1_string_to_sign,
    rpc_v1_string_to_sign, sign_acs3, sign_roa_v1, sign_rpc_v1, verify_acs3, verify_roa_v1,
    verify_rpc_v1, AliyunSignatureError, RoaEmptyValueStyle, RoaV1Authorization,
};
use keyplane_crypto::generate::{aliyun_access_key_id, aliyun_access_key_secret};
use keyplane_request::{Headers, RequestView};

use crate::support::view;
use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use rand::Rng;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// 2026-11-24T02:42:34Z.
const NOW: i64 = 1_795_488_154;
const NOW_ISO: &str = "2026-11-24T02:42:34Z";
const NOW_HTTP: &str = "Tue, 24 Nov 2026 02:42:34 GMT";

const PIECES: [&str; 26] = [
    "a", "Z", "0", "9", "-", "_", ".", "~", "*", " ", "+", "%", "%20", "&", "=", "/", "?", "é",
    "☃", "中文", "😀", "'", "#", ":", "[", "\u{0}",
];

fn random_text(rng: &mut OsRng, maximum_length: usize, excluded: &[&str]) -> String {
    let length = rng.gen_range(0..=maximum_length);
    let pool: Vec<&str> = PIECES
        .iter()
        .copied()
        .filter(|piece| !excluded.iter().any(|excluded| piece.contains(excluded)))
        .collect();
    (0..length)
        .map(|_| *pool.choose(rng).expect("non-empty pool"))
        .collect()
}

fn hmac_sha1_base64(key: &[u8], message: &str) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(message.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn hmac_sha256_hex(key: &[u8], message: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// A query string as a client writes it: form encoding (`+` for spaces) or RFC 3986 (`%20`).
fn wire_query(params: &[(String, String)], form_style: bool) -> String {
    if form_style {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (name, value) in params {
            serializer.append_pair(name, value);
        }
        serializer.finish()
    } else {
        params
            .iter()
            .map(|(name, value)| {
                format!(
                    "{}={}",
                    percent_encode_rfc3986(name),
                    percent_encode_rfc3986(value)
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

// ---------------------------------------------------------------- RPC v1

fn rpc_common_params(access_key_id: &str) -> Vec<(String, String)> {
    owned(&[
        ("Action", "CreateAccessKey"),
        ("Version", "2019-08-15"),
        ("Format", "JSON"),
        ("AccessKeyId", access_key_id),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", "171efb78533ae4045793247b22667ff7"),
        ("Timestamp", NOW_ISO),
        ("SignatureType", ""),
    ])
}

/// The RPC v1 string to sign, written independently from the documentation (B.3).
fn reference_rpc_string_to_sign(
    method: &str,
    params: &[(String, String)],
    sort_encoded: bool,
) -> String {
    let mut encoded: Vec<(String, String, &str, &str)> = params
        .iter()
        .filter(|(name, _)| name != "Signature")
        .map(|(name, value)| {
            (
                percent_encode_rfc3986(name),
                percent_encode_rfc3986(value),
                name.as_str(),
                value.as_str(),
            )
        })
        .collect();
    if sort_encoded {
        encoded.sort_by(|left, right| (&left.0, &left.1).cmp(&(&right.0, &right.1)));
    } else {
        encoded.sort_by(|left, right| (left.2, left.3).cmp(&(right.2, right.3)));
    }
    let canonical: Vec<String> = encoded
        .iter()
        .map(|(name, value, _, _)| format!("{name}={value}"))
        .collect();
    format!(
        "{method}&%2F&{}",
        percent_encode_rfc3986(&canonical.join("&"))
    )
}

#[test]
fn rpc_v1_round_trips_awkward_parameters_through_the_wire() {
    let mut rng = OsRng;
    for round in 0..300 {
        let access_key_id = aliyun_access_key_id();
        let secret = aliyun_access_key_secret();
        let mut params = rpc_common_params(&access_key_id);
        for index in 0..rng.gen_range(0..6) {
            let name = format!("P{index}{}", random_text(&mut rng, 4, &["\u{0}"]));
            params.push((name, random_text(&mut rng, 12, &[])));
        }
        params.push(("Empty".to_owned(), String::new()));
        params.push(("Stars".to_owned(), "a*b~c d+e".to_owned()));
        let method = if round % 2 == 0 { "POST" } else { "GET" };

        let signature = sign_rpc_v1(method, &params, secret.as_bytes());
        let string_to_sign = rpc_v1_string_to_sign(method, &params);
        assert_eq!(
            string_to_sign,
            reference_rpc_string_to_sign(method, &params, false)
        );
        let mut key = secret.clone().into_bytes();
        key.push(b'&');
        assert_eq!(signature, hmac_sha1_base64(&key, &string_to_sign));

        let mut signed = params.clone();
        signed.push(("Signature".to_owned(), signature));
        // Query only (either encoding), or split between the query and a form body.
        let split = rng.gen_range(0..=signed.len());
        for received in [
            decode_form_pairs(&wire_query(&signed, true)),
            decode_form_pairs(&wire_query(&signed, false)),
            [
                decode_form_pairs(&wire_query(&signed[..split], false)),
                decode_form_pairs(&wire_query(&signed[split..], true)),
            ]
            .concat(),
        ] {
            assert_eq!(received, signed, "decoding inverts the wire encoding");
            assert_eq!(
                verify_rpc_v1(method, &received, secret.as_bytes(), NOW),
                Ok(())
            );
        }
        assert_eq!(
            verify_rpc_v1(method, &signed, b"another secret", NOW),
            Err(AliyunSignatureError::Mismatch { string_to_sign })
        );
    }
}

#[test]
fn rpc_v1_accepts_either_parameter_order_when_they_differ() {
    let secret = b"testsecret";
    let mut params = rpc_common_params("testid");
    // Decoded order puts "aZ" before "a["; encoded order puts "a%5B" before "aZ".
    params.push(("aZ".to_owned(), "1".to_owned()));
    params.push(("a[".to_owned(), "2".to_owned()));
    params.push(("a0".to_owned(), "3".to_owned()));
    params.push(("a:".to_owned(), "4".to_owned()));
    let decoded_order = reference_rpc_string_to_sign("POST", &params, false);
    let encoded_order = reference_rpc_string_to_sign("POST", &params, true);
    assert_ne!(decoded_order, encoded_order);
    assert_eq!(rpc_v1_string_to_sign("POST", &params), decoded_order);
    for string_to_sign in [&decoded_order, &encoded_order] {
        let mut signed = params.clone();
        signed.push((
            "Signature".to_owned(),
            hmac_sha1_base64(b"testsecret&", string_to_sign),
        ));
        assert_eq!(verify_rpc_v1("POST", &signed, secret, NOW), Ok(()));
        assert_eq!(
            verify_rpc_v1("POST", &signed, b"other", NOW),
            Err(AliyunSignatureError::Mismatch {
                string_to_sign: decoded_order.clone()
            })
        );
    }
}

#[test]
fn rpc_v1_timestamp_forms_and_window() {
    let secret = b"secret";
    for (timestamp, unix_seconds) in [
        (NOW_ISO, NOW),
        ("2026-11-24T02:42:34.250Z", NOW),
        ("2026-11-24T10:42:34+08:00", NOW),
    ] {
        let mut params = rpc_common_params("id");
        params.retain(|(name, _)| name != "Timestamp");
        params.push(("Timestamp".to_owned(), timestamp.to_owned()));
        let signature = sign_rpc_v1("GET", &params, secret);
        params.push(("Signature".to_owned(), signature));
        for skew in [-900, 0, 900] {
            assert_eq!(
                verify_rpc_v1("GET", &params, secret, unix_seconds + skew),
                Ok(()),
                "{timestamp} {skew}"
            );
        }
        assert_eq!(
            verify_rpc_v1("GET", &params, secret, unix_seconds + 901),
            Err(AliyunSignatureError::TimestampExpired { skew_seconds: -901 })
        );
        assert_eq!(
            verify_rpc_v1("GET", &params, secret, unix_seconds - 901),
            Err(AliyunSignatureError::TimestampExpired { skew_seconds: 901 })
        );
    }
}

// ---------------------------------------------------------------- ACS3

/// The ACS3 canonical request and signature, written independently from the documentation (B.4).
fn reference_acs3_signature(
    request: &RequestView<'_>,
    signed_headers: &[&str],
    secret: &[u8],
    sort_encoded: bool,
) -> String {
    let mut pairs: Vec<(String, String, String, String)> = decode_form_pairs(request.raw_query)
        .into_iter()
        .map(|(name, value)| {
            (
                percent_encode_rfc3986(&name),
                percent_encode_rfc3986(&value),
                name,
                value,
            )
        })
        .collect();
    if sort_encoded {
        pairs.sort_by(|left, right| (&left.0, &left.1).cmp(&(&right.0, &right.1)));
    } else {
        pairs.sort_by(|left, right| (&left.2, &left.3).cmp(&(&right.2, &right.3)));
    }
    let query: Vec<String> = pairs
        .iter()
        .map(|(name, value, _, _)| format!("{name}={value}"))
        .collect();
    let mut headers = String::new();
    for name in signed_headers {
        let mut values: Vec<&str> = request
            .headers
            .iter()
            .filter(|(header_name, _)| header_name.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim())
            .collect();
        values.sort();
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let canonical_request = [
        request.method.to_owned(),
        request.path.to_owned(),
        query.join("&"),
        headers,
        signed_headers.join(";"),
        hex::encode(Sha256::digest(request.body)),
    ]
    .join("\n");
    let string_to_sign = format!(
        "ACS3-HMAC-SHA256\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    hmac_sha256_hex(secret, &string_to_sign)
}

#[test]
fn acs3_round_trips_awkward_requests() {
    let mut rng = OsRng;
    for round in 0..300 {
        let access_key_id = aliyun_access_key_id();
        let secret = aliyun_access_key_secret();
        let mut query_params = Vec::new();
        for index in 0..rng.gen_range(0..6) {
            query_params.push((
                format!("Q{index}{}", random_text(&mut rng, 3, &[])),
                random_text(&mut rng, 10, &[]),
            ));
        }
        query_params.push(("Empty".to_owned(), String::new()));
        let raw_query = wire_query(&query_params, round % 2 == 0);
        let body = format!(
            r#"{{"Description": "{}"}}"#,
            random_text(&mut rng, 10, &["\u{0}"])
        )
        .into_bytes();
        let body_hash = acs3_hashed_payload(&body);
        let nonce = hex::encode(rng.gen::<[u8; 16]>());
        let host = [
            "127.0.0.1:18080",
            "http://127.0.0.1:18080",
            "ims.aliyuncs.com",
        ][round % 3];
        let headers = [
            ("Host", host),
            ("Content-Type", "application/json; charset=utf-8"),
            ("Accept-Encoding", "identity"),
            ("x-acs-action", "CreateAccessToken"),
            ("x-acs-version", "2019-06-01"),
            ("x-acs-date", NOW_ISO),
            ("x-acs-signature-nonce", nonce.as_str()),
            ("x-acs-content-sha256", body_hash.as_str()),
            ("x-acs-security-token", "CAIS.token+/=☃"),
            ("X-Acs-AccessKey-Id", access_key_id.as_str()),
        ];
        let path = if round % 4 == 0 {
            "/"
        } else {
            "/api/v2/services/cn-hangzhou/my%20service/instances/%E2%98%83/token"
        };
        let request = view(
            if round % 2 == 0 { "POST" } else { "PUT" },
            path,
            &raw_query,
            &headers,
            &body,
        );
        // Names in any case and order, repeated: the signer normalises them.
        let names: Vec<String> = [
            "x-acs-version",
            "Host",
            "content-type",
            "x-acs-action",
            "x-acs-date",
            "X-ACS-SIGNATURE-NONCE",
            "x-acs-content-sha256",
            "x-acs-security-token",
            "x-acs-accesskey-id",
            "host",
        ]
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
        let header_value = sign_acs3(&request, &access_key_id, &names, secret.as_bytes());
        let authorization = parse_acs3_authorization(&header_value).expect("parse");
        assert_eq!(authorization.access_key_id, access_key_id);
        assert_eq!(
            authorization.signed_headers,
            vec![
                "content-type",
                "host",
                "x-acs-accesskey-id",
                "x-acs-action",
                "x-acs-content-sha256",
                "x-acs-date",
                "x-acs-security-token",
                "x-acs-signature-nonce",
                "x-acs-version"
            ]
        );
        let signed_names: Vec<&str> = authorization
            .signed_headers
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(
            authorization.signature,
            reference_acs3_signature(&request, &signed_names, secret.as_bytes(), false)
        );
        assert_eq!(
            verify_acs3(&request, &authorization, secret.as_bytes(), NOW),
            Ok(())
        );
        assert!(matches!(
            verify_acs3(&request, &authorization, b"another secret", NOW),
            Err(AliyunSignatureError::Mismatch { .. })
        ));

        // One changed body byte: the declared hash no longer matches.
        let mut tampered = body.clone();
        let index = rng.gen_range(0..tampered.len());
        tampered[index] ^= 0x01;
        let tampered_request = RequestView {
            body: &tampered,
            ..request
        };
        assert_eq!(
            verify_acs3(&tampered_request, &authorization, secret.as_bytes(), NOW),
            Err(AliyunSignatureError::ContentHashMismatch)
        );
    }
}

#[test]
fn acs3_tolerates_header_whitespace_and_value_order_and_either_parameter_order() {
    let secret = b"secret";
    let headers = [
        ("host", "127.0.0.1:18080"),
        ("x-acs-date", NOW_ISO),
        (
            "x-acs-content-sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        ("x-acs-multi", " b "),
        ("x-acs-multi", "a"),
    ];
    let raw_query = "aZ=1&a%5B=2&a0=3&a%3A=4";
    let request = view("POST", "/", raw_query, &headers, b"");
    assert_eq!(acs3_canonical_query(raw_query), "a0=3&a%3A=4&aZ=1&a%5B=2");
    let signed_names = ["host", "x-acs-content-sha256", "x-acs-date", "x-acs-multi"];
    let names: Vec<String> = signed_names.iter().map(|name| (*name).to_owned()).collect();
    let authorization =
        parse_acs3_authorization(&sign_acs3(&request, "id", &names, secret)).expect("parse");
    assert_eq!(
        authorization.signature,
        reference_acs3_signature(&request, &signed_names, secret, false)
    );
    // Repeated values in the other order, with other whitespace, are the same canonical line.
    let reordered = [
        headers[0],
        headers[1],
        headers[2],
        ("X-Acs-Multi", "a "),
        ("x-acs-multi", "\tb"),
    ];
    let reordered_request = RequestView {
        headers: Headers::new(&reordered),
        ..request
    };
    assert_eq!(
        verify_acs3(&reordered_request, &authorization, secret, NOW),
        Ok(())
    );
    // A client that sorted the encoded names is accepted too.
    let mut encoded_order = authorization.clone();
    encoded_order.signature = reference_acs3_signature(&request, &signed_names, secret, true);
    assert_ne!(encoded_order.signature, authorization.signature);
    assert_eq!(verify_acs3(&request, &encoded_order, secret, NOW), Ok(()));
    // A third value is not.
    let mut three_values = reordered.to_vec();
    three_values.push(("x-acs-multi", "c"));
    let three_values_request = RequestView {
        headers: Headers::new(&three_values),
        ..request
    };
    assert!(matches!(
        verify_acs3(&three_values_request, &authorization, secret, NOW),
        Err(AliyunSignatureError::Mismatch { .. })
    ));
}

#[test]
fn acs3_reports_unsigned_and_missing_headers_and_the_date() {
    let secret = b"secret";
    let empty_hash = acs3_hashed_payload(b"");
    let headers = [
        ("host", "127.0.0.1:18080"),
        ("content-type", "application/json"),
        ("x-acs-date", NOW_ISO),
        ("x-acs-content-sha256", empty_hash.as_str()),
        ("x-acs-action", "ListAccessKeys"),
    ];
    let request = view("POST", "/", "", &headers, b"");
    let sign_with = |names: &[&str]| {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        parse_acs3_authorization(&sign_acs3(&request, "id", &names, secret)).expect("parse")
    };
    let all = [
        "host",
        "content-type",
        "x-acs-date",
        "x-acs-content-sha256",
        "x-acs-action",
    ];
    assert_eq!(verify_acs3(&request, &sign_with(&all), secret, NOW), Ok(()));
    for left_out in all {
        let names: Vec<&str> = all
            .iter()
            .copied()
            .filter(|name| *name != left_out)
            .collect();
        assert_eq!(
            verify_acs3(&request, &sign_with(&names), secret, NOW),
            Err(AliyunSignatureError::HeaderNotSigned(left_out.to_owned()))
        );
    }
    let with_absent = [&all[..], &["x-acs-absent"]].concat();
    assert_eq!(
        verify_acs3(&request, &sign_with(&with_absent), secret, NOW),
        Err(AliyunSignatureError::SignedHeaderMissing(
            "x-acs-absent".to_owned()
        ))
    );
    let authorization = sign_with(&all);
    let without_date: Vec<(&str, &str)> = headers
        .iter()
        .copied()
        .filter(|(name, _)| *name != "x-acs-date")
        .collect();
    assert_eq!(
        verify_acs3(
            &RequestView {
                headers: Headers::new(&without_date),
                ..request
            },
            &authorization,
            secret,
            NOW
        ),
        Err(AliyunSignatureError::TimestampMissing)
    );
    for skew in [-900, 900] {
        assert_eq!(
            verify_acs3(&request, &authorization, secret, NOW + skew),
            Ok(())
        );
    }
    assert_eq!(
        verify_acs3(&request, &authorization, secret, NOW - 901),
        Err(AliyunSignatureError::TimestampExpired { skew_seconds: 901 })
    );
    // UNSIGNED-PAYLOAD is not a hash of the body.
    let unsigned_payload: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| {
            if *name == "x-acs-content-sha256" {
                (*name, "UNSIGNED-PAYLOAD")
            } else {
                (*name, *value)
            }
        })
        .collect();
    let unsigned_request = RequestView {
        headers: Headers::new(&unsigned_payload),
        ..request
    };
    let names: Vec<String> = all.iter().map(|name| (*name).to_owned()).collect();
    let authorization =
        parse_acs3_authorization(&sign_acs3(&unsigned_request, "id", &names, secret))
            .expect("parse");
    assert_eq!(
        verify_acs3(&unsigned_request, &authorization, secret, NOW),
        Err(AliyunSignatureError::ContentHashMismatch)
    );
}

// ---------------------------------------------------------------- ROA v1

/// The ROA v1 string to sign, written independently from the documentation (B.5).
fn reference_roa_string_to_sign(request: &RequestView<'_>, name_only: bool) -> String {
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(header_name, _)| header_name.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
            .unwrap_or("")
    };
    let mut text = format!(
        "{}\n{}\n{}\n{}\n{}\n",
        request.method,
        header("Accept"),
        header("Content-MD5"),
        header("Content-Type"),
        header("Date")
    );
    let mut acs: Vec<(String, &str)> = request
        .headers
        .iter()
        .filter(|(name, _)| name.to_ascii_lowercase().starts_with("x-acs-"))
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect();
    acs.sort();
    for (name, value) in acs {
        text.push_str(&format!("{name}:{value}\n"));
    }
    text.push_str(request.path);
    let mut pairs = decode_form_pairs(request.raw_query);
    pairs.sort();
    if !pairs.is_empty() {
        let written: Vec<String> = pairs
            .iter()
            .map(|(name, value)| {
                if value.is_empty() && name_only {
                    name.clone()
                } else {
                    format!("{name}={value}")
                }
            })
            .collect();
        text.push('?');
        text.push_str(&written.join("&"));
    }
    text
}

#[test]
fn roa_v1_round_trips_awkward_requests_in_both_empty_value_styles() {
    let mut rng = OsRng;
    for round in 0..300 {
        let access_key_id = aliyun_access_key_id();
        let secret = aliyun_access_key_secret();
        let mut query_params = vec![("Empty".to_owned(), String::new())];
        for index in 0..rng.gen_range(0..6) {
            query_params.push((
                format!("Q{index}{}", random_text(&mut rng, 3, &["&", "="])),
                random_text(&mut rng, 10, &["&"]),
            ));
        }
        let raw_query = wire_query(&query_params, round % 2 == 0);
        let nonce = hex::encode(rng.gen::<[u8; 16]>());
        let headers = [
            ("Date", NOW_HTTP),
            ("Host", "127.0.0.1"),
            ("Accept", "application/json"),
            ("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
            ("Content-Type", "application/octet-stream"),
            ("x-acs-signature-nonce", nonce.as_str()),
            ("X-Acs-Version", "2021-07-01"),
            ("x-acs-signature-method", "HMAC-SHA1"),
            ("x-acs-signature-version", "1.0"),
            ("x-acs-security-token", "CAIS.token+/=☃ *~"),
            ("User-Agent", "AlibabaCloud (linux; x64)"),
        ];
        let request = view(
            "GET",
            "/api/v2/services/cn-hangzhou/my%20service/instances/%E2%98%83/token",
            &raw_query,
            &headers,
            b"",
        );
        for (style, name_only) in [
            (RoaEmptyValueStyle::NameEquals, false),
            (RoaEmptyValueStyle::NameOnly, true),
        ] {
            let string_to_sign = roa_v1_string_to_sign(&request, style);
            assert_eq!(
                string_to_sign,
                reference_roa_string_to_sign(&request, name_only)
            );
            let signature = hmac_sha1_base64(secret.as_bytes(), &string_to_sign);
            if !name_only {
                assert_eq!(sign_roa_v1(&request, secret.as_bytes()), signature);
            }
            let header_value = RoaV1Authorization {
                access_key_id: access_key_id.clone(),
                signature,
            }
            .to_header_value();
            let authorization = parse_roa_v1_authorization(&header_value).expect("parse");
            assert_eq!(authorization.access_key_id, access_key_id);
            assert_eq!(
                verify_roa_v1(&request, &authorization, secret.as_bytes(), NOW),
                Ok(()),
                "{raw_query}"
            );
            assert!(matches!(
                verify_roa_v1(&request, &authorization, b"another secret", NOW),
                Err(AliyunSignatureError::Mismatch { .. })
            ));
            // Giving the empty parameter (always first on the wire) a value changes the resource
            // in both styles.
            let with_value = format!("Empty=1{}", &raw_query["Empty=".len()..]);
            let changed = RequestView {
                raw_query: &with_value,
                ..request
            };
            assert!(matches!(
                verify_roa_v1(&changed, &authorization, secret.as_bytes(), NOW),
                Err(AliyunSignatureError::Mismatch { .. })
            ));
        }
    }
}

#[test]
fn roa_v1_needs_no_nonce_and_reports_the_date() {
    let secret = b"secret";
    let headers = [("Date", NOW_HTTP), ("x-acs-version", "2021-07-01")];
    let request = view("GET", "/token", "", &headers, b"");
    assert_eq!(
        roa_v1_string_to_sign(&request, RoaEmptyValueStyle::NameOnly),
        format!("GET\n\n\n\n{NOW_HTTP}\nx-acs-version:2021-07-01\n/token")
    );
    let authorization = RoaV1Authorization {
        access_key_id: "id".to_owned(),
        signature: sign_roa_v1(&request, secret),
    };
    for skew in [-900, 0, 900] {
        assert_eq!(
            verify_roa_v1(&request, &authorization, secret, NOW + skew),
            Ok(())
        );
    }
    assert_eq!(
        verify_roa_v1(&request, &authorization, secret, NOW + 901),
        Err(AliyunSignatureError::TimestampExpired { skew_seconds: -901 })
    );
    let no_date = [("x-acs-version", "2021-07-01")];
    assert_eq!(
        verify_roa_v1(
            &RequestView {
                headers: Headers::new(&no_date),
                ..request
            },
            &authorization,
            secret,
            NOW
        ),
        Err(AliyunSignatureError::TimestampMissing)
    );
    let bad_date = [
        ("Date", "24 Nov 2026 02:42:34"),
        ("x-acs-version", "2021-07-01"),
    ];
    assert_eq!(
        verify_roa_v1(
            &RequestView {
                headers: Headers::new(&bad_date),
                ..request
            },
            &authorization,
            secret,
            NOW
        ),
        Err(AliyunSignatureError::TimestampFormat)
    );
}

#[test]
fn roa_v1_refuses_queries_whose_resource_is_ambiguous() {
    let secret = b"secret";
    let headers = [("Date", NOW_HTTP)];
    for raw_query in ["a=x%26b%3Dy", "a%3Dx=", "a%26b=1", "a=1&b=x%26y"] {
        let request = view("GET", "/", raw_query, &headers, b"");
        // Even a correct signature over such a query is refused.
        for style in [RoaEmptyValueStyle::NameEquals, RoaEmptyValueStyle::NameOnly] {
            let authorization = RoaV1Authorization {
                access_key_id: "id".to_owned(),
                signature: hmac_sha1_base64(secret, &roa_v1_string_to_sign(&request, style)),
            };
            assert!(
                matches!(
                    verify_roa_v1(&request, &authorization, secret, NOW),
                    Err(AliyunSignatureError::Mismatch { .. })
                ),
                "{raw_query}"
            );
        }
    }
    // '=' inside a value is not ambiguous (names cannot contain '=').
    let request = view("GET", "/", "token=YWJj%3D%3D", &headers, b"");
    let authorization = RoaV1Authorization {
        access_key_id: "id".to_owned(),
        signature: sign_roa_v1(&request, secret),
    };
    assert_eq!(verify_roa_v1(&request, &authorization, secret, NOW), Ok(()));
}
