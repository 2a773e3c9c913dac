//! Alibaba ROA signature v1 (`Authorization: acs AccessKeyId:Signature`, HMAC-SHA1,
//! `protocols.md` B.5): parsing the header, the string to sign, client-side signing and
//! server-side verification.
//!
//! The string to sign is
//! `METHOD\nAccept\nContent-MD5\nContent-Type\nDate\n` + one `name:value\n` line per `x-acs-*`
//! header (name lower-cased, sorted, value as sent) + the canonicalized resource: the raw path,
//! and when there is a query, `?` and the decoded (not re-encoded) parameters sorted by name,
//! joined by `&`. The signature is its base64 HMAC-SHA1 under the bare secret (no `&`).
//!
//! Clients disagree on how an empty-valued query parameter is written in the resource (the Python
//! tea SDK writes `name`, the legacy Python core and the Node clients `name=`), so the verifier
//! tries both when such a parameter is present. The `host` header is not signed (pop-core sends it
//! without the port) and no nonce is required (the legacy Python core sends none).
//!
//! Because the resource carries decoded values without re-encoding them, different queries can
//! give the same string to sign: `a=x&b=y` and `a=x%26b%3Dy` (one parameter `a` = `x&b=y`) both
//! write `a=x&b=y`, and with the `name` style `a=x` and `a%3Dx` (a parameter named `a=x` with
//! no value) both write `a=x`. So a man in the middle could merge, split or blank out signed
//! parameters. The verifier therefore refuses (as a mismatch) a query in which a decoded name
//! contains `&` or `=`, or a decoded value contains `&`, and a signed header value containing a
//! line break; no SDK sends such requests for the operations served here.

use base64::Engine as _;

use super::{
    check_aliyun_signature_window, decode_form_pairs, parse_http_date,
    AliyunAuthorizationParseError, AliyunSignatureError,
};
use keyplane_request::RequestView;

use crate::mac::hmac_sha1;
use crate::shared::{constant_time_equal, split_algorithm};

/// The algorithm word that starts a ROA v1 `Authorization` header (`acs AccessKeyId:Signature`).
pub const ROA_V1_ALGORITHM: &str = "acs";

const SIGNATURE_METHOD_HEADER: &str = "x-acs-signature-method";
const SIGNATURE_VERSION_HEADER: &str = "x-acs-signature-version";
const ACS_HEADER_PREFIX: &str = "x-acs-";
const SIGNATURE_METHOD: &str = "HMAC-SHA1";
const SIGNATURE_VERSION: &str = "1.0";

/// The parsed value of a ROA v1 `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoaV1Authorization {
    /// The AccessKeyId (everything before the first `:`).
    pub access_key_id: String,
    /// The base64 signature exactly as given (everything after the first `:`).
    pub signature: String,
}

impl RoaV1Authorization {
    /// The `Authorization` header value: `acs AccessKeyId:Signature`.
    pub fn to_header_value(&self) -> String {
        format!(
            "{ROA_V1_ALGORITHM} {}:{}",
            self.access_key_id, self.signature
        )
    }
}

/// How an empty-valued query parameter is written in the canonicalized resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoaEmptyValueStyle {
    /// Just the name (`name`): the Python tea SDK.
    NameOnly,
    /// The name and `=` (`name=`): the legacy Python core, the Node tea SDK and pop-core.
    NameEquals,
}

/// Parses the value of an `Authorization` header (`acs AccessKeyId:Signature`).
///
/// The value is trimmed; `acs` must be followed by ASCII whitespace; the AccessKeyId ends at the
/// first `:` and neither it nor the signature may be empty.
pub fn parse_roa_v1_authorization(
    value: &str,
) -> Result<RoaV1Authorization, AliyunAuthorizationParseError> {
    let (algorithm, credential) =
        split_algorithm(value).ok_or(AliyunAuthorizationParseError::Empty)?;
    if algorithm != ROA_V1_ALGORITHM {
        return Err(AliyunAuthorizationParseError::UnsupportedAlgorithm);
    }
    let (access_key_id, signature) = credential
        .trim_ascii()
        .split_once(':')
        .ok_or(AliyunAuthorizationParseError::MissingSeparator)?;
    if access_key_id.is_empty() {
        return Err(AliyunAuthorizationParseError::EmptyAccessKeyId);
    }
    if signature.is_empty() {
        return Err(AliyunAuthorizationParseError::EmptySignature);
    }
    Ok(RoaV1Authorization {
        access_key_id: access_key_id.to_owned(),
        signature: signature.to_owned(),
    })
}

/// The string to sign of `request`, writing empty-valued query parameters in `empty_value_style`.
///
/// Missing `Accept`, `Content-MD5`, `Content-Type` or `Date` headers are empty lines (the first
/// header of each name is used, as sent). Every `x-acs-*` header, name lower-cased, is a
/// `name:value\n` line, sorted by name (then value). The resource is the raw path, plus `?` and
/// the decoded query pairs sorted by name (then value) and joined by `&` when the query has any.
pub fn roa_v1_string_to_sign(
    request: &RequestView<'_>,
    empty_value_style: RoaEmptyValueStyle,
) -> String {
    let mut text = String::new();
    text.push_str(request.method);
    text.push('\n');
    for name in ["accept", "content-md5", "content-type", "date"] {
        text.push_str(request.header(name).unwrap_or_default());
        text.push('\n');
    }

    let mut acs_headers: Vec<(String, &str)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .filter(|(name, _)| name.starts_with(ACS_HEADER_PREFIX))
        .collect();
    acs_headers.sort_unstable_by(|left, right| {
        (left.0.as_bytes(), left.1.as_bytes()).cmp(&(right.0.as_bytes(), right.1.as_bytes()))
    });
    for (name, value) in &acs_headers {
        text.push_str(name);
        text.push(':');
        text.push_str(value);
        text.push('\n');
    }

    text.push_str(request.path);
    let mut pairs = decode_form_pairs(request.raw_query);
    pairs.sort_unstable_by(|left, right| {
        (left.0.as_bytes(), left.1.as_bytes()).cmp(&(right.0.as_bytes(), right.1.as_bytes()))
    });
    for (index, (name, value)) in pairs.iter().enumerate() {
        text.push(if index == 0 { '?' } else { '&' });
        text.push_str(name);
        if !value.is_empty() || empty_value_style == RoaEmptyValueStyle::NameEquals {
            text.push('=');
            text.push_str(value);
        }
    }
    text
}

fn signature_of(string_to_sign: &str, secret: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(hmac_sha1(secret, string_to_sign.as_bytes()))
}

/// Client-side signing: the base64 signature of `request` (empty query values written `name=`).
/// The caller sends `Authorization: acs AccessKeyId:<signature>`.
pub fn sign_roa_v1(request: &RequestView<'_>, secret: &[u8]) -> String {
    signature_of(
        &roa_v1_string_to_sign(request, RoaEmptyValueStyle::NameEquals),
        secret,
    )
}

/// Whether the string to sign of `request` could also be the string to sign of a different
/// request: a decoded query name containing `&` or `=`, a decoded query value containing `&`, or a
/// signed header value (`Accept`, `Content-MD5`, `Content-Type`, `Date`, `x-acs-*`) containing a
/// line break.
fn is_ambiguous(request: &RequestView<'_>, pairs: &[(String, String)]) -> bool {
    let ambiguous_query = pairs
        .iter()
        .any(|(name, value)| name.contains(['&', '=']) || value.contains('&'));
    let ambiguous_header = request.headers.iter().any(|(name, value)| {
        let name = name.to_ascii_lowercase();
        (name.starts_with(ACS_HEADER_PREFIX)
            || ["accept", "content-md5", "content-type", "date"].contains(&name.as_str()))
            && value.contains(['\n', '\r'])
    });
    ambiguous_query || ambiguous_header
}

/// Full server-side verification per `protocols.md` B.5 and B.6.
///
/// In order: the `Date` header present ([`AliyunSignatureError::TimestampMissing`]), an RFC 1123
/// date ([`AliyunSignatureError::TimestampFormat`]) within ±900 s of `now_unix_seconds`
/// ([`AliyunSignatureError::TimestampExpired`]); `x-acs-signature-method`, when present, is
/// `HMAC-SHA1` ([`AliyunSignatureError::SignatureMethodUnsupported`]); `x-acs-signature-version`,
/// when present, is `1.0` ([`AliyunSignatureError::SignatureVersionUnsupported`]); finally the
/// signature is recomputed (with both empty-value styles when an empty-valued query parameter is
/// present) and compared in constant time ([`AliyunSignatureError::Mismatch`]). A request whose
/// string to sign is ambiguous (see the module documentation) is a mismatch too.
pub fn verify_roa_v1(
    request: &RequestView<'_>,
    authorization: &RoaV1Authorization,
    secret: &[u8],
    now_unix_seconds: i64,
) -> Result<(), AliyunSignatureError> {
    let date = request
        .header("date")
        .ok_or(AliyunSignatureError::TimestampMissing)?;
    check_aliyun_signature_window(parse_http_date(date.trim_ascii())?, now_unix_seconds)?;
    if let Some(method) = request.header(SIGNATURE_METHOD_HEADER) {
        if method.trim_ascii() != SIGNATURE_METHOD {
            return Err(AliyunSignatureError::SignatureMethodUnsupported(
                method.chars().take(64).collect(),
            ));
        }
    }
    if let Some(version) = request.header(SIGNATURE_VERSION_HEADER) {
        if version.trim_ascii() != SIGNATURE_VERSION {
            return Err(AliyunSignatureError::SignatureVersionUnsupported(
                version.chars().take(64).collect(),
            ));
        }
    }

    let given = authorization.signature.as_bytes();
    let primary_string_to_sign = roa_v1_string_to_sign(request, RoaEmptyValueStyle::NameEquals);
    let pairs = decode_form_pairs(request.raw_query);
    if is_ambiguous(request, &pairs) {
        return Err(AliyunSignatureError::Mismatch {
            string_to_sign: primary_string_to_sign,
        });
    }
    if constant_time_equal(
        signature_of(&primary_string_to_sign, secret).as_bytes(),
        given,
    ) {
        return Ok(());
    }
    let any_empty_value = pairs.iter().any(|(_, value)| value.is_empty());
    if any_empty_value {
        let name_only = roa_v1_string_to_sign(request, RoaEmptyValueStyle::NameOnly);
        if constant_time_equal(signature_of(&name_only, secret).as_bytes(), given) {
            return Ok(());
        }
    }
    Err(AliyunSignatureError::Mismatch {
        string_to_sign: primary_string_to_sign,
    })
}
