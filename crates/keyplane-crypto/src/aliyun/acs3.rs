//! `ACS3-HMAC-SHA256` (Alibaba signature V3, `protocols.md` B.4): parsing the `Authorization`
//! header, building the canonical request and the string to sign, server-side verification and
//! client-side signing.
//!
//! The canonical request is, joined by `\n`: the method; the path exactly as received (`/` for
//! RPC); the canonical query (decoded, RFC 3986-encoded, sorted `name=value` pairs); one
//! `name:value\n` line per signed header (so a blank line follows); the `SignedHeaders` list; the
//! lower-case hex SHA-256 of the body. The string to sign is `ACS3-HMAC-SHA256\n` + the hex
//! SHA-256 of the canonical request, and the signature its hex HMAC-SHA256 under the bare secret.
//!
//! The `host` value is signed exactly as sent, also when a client puts a scheme in it
//! (`http://127.0.0.1:18080`). The `SignedHeaders` list is taken from the request: the SDKs sign
//! different sets (Python adds `accept` and `user-agent`), but every `x-acs-*` header present,
//! `host` and `content-type` (when present) must be among them.

use super::{
    check_aliyun_signature_window, decode_form_pairs, encoded_sorted_pairs, orders_differ,
    parse_iso8601_timestamp, AliyunAuthorizationParseError, AliyunSignatureError, ParameterOrder,
};
use keyplane_request::RequestView;

use crate::mac::{hmac_sha256, sha256};
use crate::shared::{
    canonical_path, constant_time_equal, credential_parts, lower_case_hex_signature,
    signed_header_names, split_algorithm, PartErrors,
};

/// The algorithm name that starts an ACS3 `Authorization` header and the string to sign.
pub const ACS3_ALGORITHM: &str = "ACS3-HMAC-SHA256";

const DATE_HEADER: &str = "x-acs-date";
const CONTENT_SHA256_HEADER: &str = "x-acs-content-sha256";
const ACS_HEADER_PREFIX: &str = "x-acs-";

/// The parsed value of an ACS3 `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acs3Authorization {
    /// The `Credential` value: the AccessKeyId.
    pub access_key_id: String,
    /// The `SignedHeaders` names, exactly as given (the SDKs send them lower-case and sorted), in
    /// the order given; joined by `;` they are the canonical request's `SignedHeaders` line.
    pub signed_headers: Vec<String>,
    /// The signature exactly as given (64 lower-case hex digits expected).
    pub signature: String,
}

impl Acs3Authorization {
    /// The `Authorization` header value in the form the SDKs send (no spaces after commas).
    pub fn to_header_value(&self) -> String {
        format!(
            "{ACS3_ALGORITHM} Credential={},SignedHeaders={},Signature={}",
            self.access_key_id,
            self.signed_headers.join(";"),
            self.signature
        )
    }
}

/// Parses the value of an `Authorization` header
/// (`ACS3-HMAC-SHA256 Credential=AccessKeyId,SignedHeaders=h1;h2,Signature=hex`).
///
/// The algorithm is followed by ASCII whitespace; the rest is split on `,` and each part trimmed
/// (the SDKs send no spaces, but a space after a comma is tolerated). `Credential`,
/// `SignedHeaders` and `Signature` must each appear exactly once and nothing else may appear; no
/// value may be empty, nor any name in `SignedHeaders`.
pub fn parse_acs3_authorization(
    value: &str,
) -> Result<Acs3Authorization, AliyunAuthorizationParseError> {
    let (algorithm, parts) = split_algorithm(value).ok_or(AliyunAuthorizationParseError::Empty)?;
    if algorithm != ACS3_ALGORITHM {
        return Err(AliyunAuthorizationParseError::UnsupportedAlgorithm);
    }
    let [access_key_id, signed_headers, signature] = credential_parts(
        parts,
        PartErrors {
            malformed: AliyunAuthorizationParseError::MalformedPart,
            unknown: AliyunAuthorizationParseError::UnknownPart,
            duplicate: AliyunAuthorizationParseError::DuplicatePart,
            missing: [
                AliyunAuthorizationParseError::MissingCredential,
                AliyunAuthorizationParseError::MissingSignedHeaders,
                AliyunAuthorizationParseError::MissingSignature,
            ],
        },
    )?;
    if access_key_id.is_empty() {
        return Err(AliyunAuthorizationParseError::EmptyAccessKeyId);
    }
    let signed_headers = signed_header_names(signed_headers, str::to_owned, || {
        AliyunAuthorizationParseError::EmptySignedHeaderName
    })?;
    if signature.is_empty() {
        return Err(AliyunAuthorizationParseError::EmptySignature);
    }
    Ok(Acs3Authorization {
        access_key_id: access_key_id.to_owned(),
        signed_headers,
        signature: signature.to_owned(),
    })
}

/// The canonical query string: the raw query decoded (`+` is a space), each name and value
/// RFC 3986-encoded, sorted by decoded name bytes (then value bytes), `name=value` joined by `&`
/// (an empty value gives `name=`).
pub fn acs3_canonical_query(raw_query: &str) -> String {
    canonical_query_in_order(raw_query, ParameterOrder::Decoded)
}

fn canonical_query_in_order(raw_query: &str, order: ParameterOrder) -> String {
    let pairs = decode_form_pairs(raw_query);
    encoded_sorted_pairs(
        pairs
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
        order,
    )
}

/// The lower-case hex SHA-256 of the body (the value `x-acs-content-sha256` must carry).
pub fn acs3_hashed_payload(body: &[u8]) -> String {
    hex::encode(sha256(body))
}

/// One `lowercase(name):value\n` line per signed header. The value is the header's value trimmed;
/// a header sent several times gives its trimmed values sorted and joined by `,`; an absent header
/// gives an empty value.
fn canonical_headers(request: &RequestView<'_>, signed_headers: &[String]) -> String {
    let mut block = String::new();
    for name in signed_headers {
        let mut values: Vec<&str> = request
            .headers
            .iter()
            .filter(|(header_name, _)| header_name.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim_ascii())
            .collect();
        values.sort_unstable();
        block.push_str(&name.to_ascii_lowercase());
        block.push(':');
        block.push_str(&values.join(","));
        block.push('\n');
    }
    block
}

/// The canonical request: method, path (`/` when empty), canonical query, canonical headers (which
/// end in `\n`), `SignedHeaders` (the names joined by `;`, as given) and `hashed_payload`, joined
/// by `\n`.
pub fn acs3_canonical_request(
    request: &RequestView<'_>,
    signed_headers: &[String],
    hashed_payload: &str,
) -> String {
    canonical_request_in_order(
        request,
        signed_headers,
        hashed_payload,
        ParameterOrder::Decoded,
    )
}

fn canonical_request_in_order(
    request: &RequestView<'_>,
    signed_headers: &[String],
    hashed_payload: &str,
    order: ParameterOrder,
) -> String {
    [
        request.method,
        canonical_path(request.path),
        &canonical_query_in_order(request.raw_query, order),
        &canonical_headers(request, signed_headers),
        &signed_headers.join(";"),
        hashed_payload,
    ]
    .join("\n")
}

/// The string to sign: `ACS3-HMAC-SHA256\n` + lower-case hex SHA-256 of the canonical request.
pub fn acs3_string_to_sign(canonical_request: &str) -> String {
    format!(
        "{ACS3_ALGORITHM}\n{}",
        hex::encode(sha256(canonical_request.as_bytes()))
    )
}

/// Client-side signing: the full `Authorization` header value for `request`. The header names are
/// lower-cased, sorted and de-duplicated (as the SDKs send them); their values are taken from
/// `request.headers`, and the payload hash is computed from `request.body` (the caller sends the
/// same value in `x-acs-content-sha256`).
pub fn sign_acs3(
    request: &RequestView<'_>,
    access_key_id: &str,
    signed_headers: &[String],
    secret: &[u8],
) -> String {
    let mut names: Vec<String> = signed_headers
        .iter()
        .map(|name| name.to_ascii_lowercase())
        .collect();
    names.sort_unstable();
    names.dedup();
    let canonical_request =
        acs3_canonical_request(request, &names, &acs3_hashed_payload(request.body));
    let string_to_sign = acs3_string_to_sign(&canonical_request);
    Acs3Authorization {
        access_key_id: access_key_id.to_owned(),
        signed_headers: names,
        signature: hex::encode(hmac_sha256(secret, string_to_sign.as_bytes())),
    }
    .to_header_value()
}

/// The header that must be signed but is not: `host`, then `content-type` when present, then each
/// `x-acs-*` header present, in wire order.
fn first_required_header_not_signed(
    request: &RequestView<'_>,
    signed_headers: &[String],
) -> Option<String> {
    let is_signed = |name: &str| {
        signed_headers
            .iter()
            .any(|signed| signed.eq_ignore_ascii_case(name))
    };
    if !is_signed("host") {
        return Some("host".to_owned());
    }
    if request.header("content-type").is_some() && !is_signed("content-type") {
        return Some("content-type".to_owned());
    }
    request
        .headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .find(|name| name.starts_with(ACS_HEADER_PREFIX) && !is_signed(name))
}

/// Full server-side verification per `protocols.md` B.4 and B.6.
///
/// In order: `x-acs-date` present ([`AliyunSignatureError::TimestampMissing`]), sent once and
/// ISO 8601 ([`AliyunSignatureError::TimestampFormat`]) and within ±900 s of `now_unix_seconds`
/// ([`AliyunSignatureError::TimestampExpired`]); `host`, `content-type` (when present) and every
/// `x-acs-*` header present are signed ([`AliyunSignatureError::HeaderNotSigned`]); every signed
/// header is present ([`AliyunSignatureError::SignedHeaderMissing`]); `x-acs-content-sha256` is the
/// SHA-256 of the body ([`AliyunSignatureError::ContentHashMismatch`]); finally the signature is
/// recomputed and compared in constant time ([`AliyunSignatureError::Mismatch`]). The `host` value
/// is used exactly as sent.
pub fn verify_acs3(
    request: &RequestView<'_>,
    authorization: &Acs3Authorization,
    secret: &[u8],
    now_unix_seconds: i64,
) -> Result<(), AliyunSignatureError> {
    let mut dates = request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(DATE_HEADER))
        .map(|(_, value)| value.trim_ascii());
    let date = dates.next().ok_or(AliyunSignatureError::TimestampMissing)?;
    if dates.next().is_some() {
        return Err(AliyunSignatureError::TimestampFormat);
    }
    check_aliyun_signature_window(parse_iso8601_timestamp(date)?, now_unix_seconds)?;

    let signed_headers = &authorization.signed_headers;
    if let Some(name) = first_required_header_not_signed(request, signed_headers) {
        return Err(AliyunSignatureError::HeaderNotSigned(name));
    }
    if let Some(name) = signed_headers
        .iter()
        .find(|name| request.header(name).is_none())
    {
        return Err(AliyunSignatureError::SignedHeaderMissing(
            name.to_ascii_lowercase(),
        ));
    }
    let hashed_payload = acs3_hashed_payload(request.body);
    let content_hash_matches = request
        .header(CONTENT_SHA256_HEADER)
        .is_some_and(|value| value.trim_ascii().eq_ignore_ascii_case(&hashed_payload));
    if !content_hash_matches {
        return Err(AliyunSignatureError::ContentHashMismatch);
    }

    let primary_string_to_sign = acs3_string_to_sign(&acs3_canonical_request(
        request,
        signed_headers,
        &hashed_payload,
    ));
    // The signature as given, decoded once.
    let Some(given_signature) = lower_case_hex_signature(&authorization.signature) else {
        return Err(AliyunSignatureError::Mismatch {
            string_to_sign: primary_string_to_sign,
        });
    };
    let matches = |string_to_sign: &str| {
        constant_time_equal(
            &hmac_sha256(secret, string_to_sign.as_bytes()),
            &given_signature,
        )
    };
    if matches(&primary_string_to_sign) {
        return Ok(());
    }
    let query_pairs = decode_form_pairs(request.raw_query);
    let query_pairs = query_pairs
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()));
    if orders_differ(query_pairs) {
        let alternative = acs3_string_to_sign(&canonical_request_in_order(
            request,
            signed_headers,
            &hashed_payload,
            ParameterOrder::Encoded,
        ));
        if matches(&alternative) {
            return Ok(());
        }
    }
    Err(AliyunSignatureError::Mismatch {
        string_to_sign: primary_string_to_sign,
    })
}
