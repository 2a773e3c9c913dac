//! Alibaba RPC signature v1 (HMAC-SHA1, `protocols.md` B.3): the string to sign, client-side
//! signing and server-side verification.
//!
//! All values are parameters: the caller merges the query string and (when the body is
//! `application/x-www-form-urlencoded`) the form body, decoded, in received order. The string to
//! sign is `METHOD&%2F&` + the RFC 3986 encoding of the canonicalized query (every parameter
//! except `Signature`, each name and value RFC 3986-encoded, sorted, `name=value` joined by `&`),
//! and `Signature` is the base64 HMAC-SHA1 of it under the key `AccessKeySecret + "&"`.
//!
//! Parameters are sorted by decoded name as the SDKs do; when sorting by encoded name (as the
//! documentation words it) gives a different order, the verifier tries that order too.

use base64::Engine as _;
use zeroize::Zeroizing;

use super::{
    check_aliyun_signature_window, encoded_sorted_pairs, orders_differ, parse_iso8601_timestamp,
    percent_encode_rfc3986, AliyunSignatureError, ParameterOrder,
};
use crate::mac::hmac_sha1;
use crate::shared::{constant_time_equal, single_parameter};

/// The only `SignatureMethod` accepted.
pub const RPC_V1_SIGNATURE_METHOD: &str = "HMAC-SHA1";

/// The only `SignatureVersion` accepted.
pub const RPC_V1_SIGNATURE_VERSION: &str = "1.0";

const SIGNATURE_PARAMETER: &str = "Signature";
const ACCESS_KEY_ID_PARAMETER: &str = "AccessKeyId";
const SIGNATURE_METHOD_PARAMETER: &str = "SignatureMethod";
const SIGNATURE_VERSION_PARAMETER: &str = "SignatureVersion";
const SIGNATURE_NONCE_PARAMETER: &str = "SignatureNonce";
const TIMESTAMP_PARAMETER: &str = "Timestamp";

/// Every parameter except `Signature`, borrowed.
fn signed_pairs(params: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> + Clone {
    params
        .iter()
        .filter(|(name, _)| name != SIGNATURE_PARAMETER)
        .map(|(name, value)| (name.as_str(), value.as_str()))
}

/// The canonicalized query string: every parameter except `Signature`, name and value
/// RFC 3986-encoded, sorted by decoded name bytes (then value bytes), `name=value` joined by `&`.
pub fn rpc_v1_canonicalized_query(params: &[(String, String)]) -> String {
    encoded_sorted_pairs(signed_pairs(params), ParameterOrder::Decoded)
}

/// The string to sign: `METHOD + "&%2F&" + percentEncode(canonicalized query)`.
pub fn rpc_v1_string_to_sign(method: &str, params: &[(String, String)]) -> String {
    string_to_sign_in_order(method, params, ParameterOrder::Decoded)
}

fn string_to_sign_in_order(
    method: &str,
    params: &[(String, String)],
    order: ParameterOrder,
) -> String {
    let canonicalized_query = encoded_sorted_pairs(signed_pairs(params), order);
    format!(
        "{method}&{}&{}",
        percent_encode_rfc3986("/"),
        percent_encode_rfc3986(&canonicalized_query)
    )
}

/// The base64 HMAC-SHA1 of `string_to_sign` under `secret + "&"`.
fn signature_of(string_to_sign: &str, secret: &[u8]) -> String {
    let mut key = Zeroizing::new(Vec::with_capacity(secret.len() + 1));
    key.extend_from_slice(secret);
    key.push(b'&');
    base64::engine::general_purpose::STANDARD.encode(hmac_sha1(&key, string_to_sign.as_bytes()))
}

/// Client-side signing: the base64 signature of the request (any `Signature` parameter in
/// `params` is ignored). The caller adds it as the `Signature` parameter, URL-encoded on the wire.
pub fn sign_rpc_v1(method: &str, params: &[(String, String)], secret: &[u8]) -> String {
    signature_of(&rpc_v1_string_to_sign(method, params), secret)
}

/// The first value of a parameter that must be present and non-empty.
fn required_parameter<'a>(
    params: &'a [(String, String)],
    name: &'static str,
) -> Result<&'a str, AliyunSignatureError> {
    params
        .iter()
        .find(|(parameter_name, _)| parameter_name == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
        .ok_or(AliyunSignatureError::MissingParameter(name))
}

/// Full server-side verification of an RPC v1 request (`protocols.md` B.3, B.6).
///
/// `params` holds every parameter (decoded names and values, query and form body merged),
/// including `Signature`. Checks, in order:
///
/// 1. `Signature` present and non-empty ([`AliyunSignatureError::MissingParameter`]); given more
///    than once → [`AliyunSignatureError::Mismatch`];
/// 2. `AccessKeyId` present and non-empty ([`AliyunSignatureError::MissingParameter`]);
/// 3. `SignatureMethod` present ([`AliyunSignatureError::MissingParameter`]), once and exactly
///    `HMAC-SHA1` ([`AliyunSignatureError::SignatureMethodUnsupported`]);
/// 4. `SignatureVersion` present ([`AliyunSignatureError::MissingParameter`]), once and exactly
///    `1.0` ([`AliyunSignatureError::SignatureVersionUnsupported`]);
/// 5. `SignatureNonce` present and non-empty ([`AliyunSignatureError::MissingParameter`]; the
///    caller checks it has not been used before);
/// 6. `Timestamp` present ([`AliyunSignatureError::TimestampMissing`]), once and ISO 8601
///    ([`AliyunSignatureError::TimestampFormat`]), within ±900 s of `now_unix_seconds`
///    ([`AliyunSignatureError::TimestampExpired`]);
/// 7. the signature, compared in constant time ([`AliyunSignatureError::Mismatch`], carrying the
///    server's string to sign).
pub fn verify_rpc_v1(
    method: &str,
    params: &[(String, String)],
    secret: &[u8],
    now_unix_seconds: i64,
) -> Result<(), AliyunSignatureError> {
    let mismatch = || AliyunSignatureError::Mismatch {
        string_to_sign: rpc_v1_string_to_sign(method, params),
    };
    let signature = single_parameter(params, SIGNATURE_PARAMETER)
        .map_err(|()| mismatch())?
        .filter(|value| !value.is_empty())
        .ok_or(AliyunSignatureError::MissingParameter(SIGNATURE_PARAMETER))?;
    required_parameter(params, ACCESS_KEY_ID_PARAMETER)?;

    let signature_method = single_parameter(params, SIGNATURE_METHOD_PARAMETER)
        .map_err(|()| AliyunSignatureError::SignatureMethodUnsupported("(repeated)".to_owned()))?
        .ok_or(AliyunSignatureError::MissingParameter(
            SIGNATURE_METHOD_PARAMETER,
        ))?;
    if signature_method != RPC_V1_SIGNATURE_METHOD {
        return Err(AliyunSignatureError::SignatureMethodUnsupported(
            signature_method.chars().take(64).collect(),
        ));
    }
    let signature_version = single_parameter(params, SIGNATURE_VERSION_PARAMETER)
        .map_err(|()| AliyunSignatureError::SignatureVersionUnsupported("(repeated)".to_owned()))?
        .ok_or(AliyunSignatureError::MissingParameter(
            SIGNATURE_VERSION_PARAMETER,
        ))?;
    if signature_version != RPC_V1_SIGNATURE_VERSION {
        return Err(AliyunSignatureError::SignatureVersionUnsupported(
            signature_version.chars().take(64).collect(),
        ));
    }
    required_parameter(params, SIGNATURE_NONCE_PARAMETER)?;

    let timestamp = single_parameter(params, TIMESTAMP_PARAMETER)
        .map_err(|()| AliyunSignatureError::TimestampFormat)?
        .ok_or(AliyunSignatureError::TimestampMissing)?;
    check_aliyun_signature_window(parse_iso8601_timestamp(timestamp)?, now_unix_seconds)?;

    let primary_string_to_sign = rpc_v1_string_to_sign(method, params);
    if constant_time_equal(
        signature_of(&primary_string_to_sign, secret).as_bytes(),
        signature.as_bytes(),
    ) {
        return Ok(());
    }
    if orders_differ(signed_pairs(params)) {
        let alternative = string_to_sign_in_order(method, params, ParameterOrder::Encoded);
        if constant_time_equal(
            signature_of(&alternative, secret).as_bytes(),
            signature.as_bytes(),
        ) {
            return Ok(());
        }
    }
    Err(AliyunSignatureError::Mismatch {
        string_to_sign: primary_string_to_sign,
    })
}
