//! The legacy Tencent Cloud v1 signature (`HmacSHA1` / `HmacSHA256`, `protocols.md` A.4).
//!
//! Every value travels as a parameter (GET query or form-urlencoded POST body). The string to sign
//! is `METHOD + Host + Path + "?" + join("&", sorted(name=value))` over all parameters except
//! `Signature`, with the URL-decoded values written raw, and the signature is
//! `base64(HMAC(secret, string to sign))`.
//!
//! Verification tolerates the host without a trailing `:port`, and the Python SDK quirk of
//! replacing `_` by `.` in parameter names before signing. Note that the second tolerance lets a
//! parameter named `A.B` be renamed `A_B` without breaking the signature; callers that care must
//! reject parameter names containing `_` (the Tencent APIs served here have none).

use base64::Engine as _;

use super::{check_clock_window, host_candidates, parse_unix_seconds, SignatureError};
use crate::mac::{hmac_sha1, hmac_sha256};
use crate::shared::{constant_time_equal, single_parameter};

const SIGNATURE_PARAMETER: &str = "Signature";
const SIGNATURE_METHOD_PARAMETER: &str = "SignatureMethod";
const TIMESTAMP_PARAMETER: &str = "Timestamp";

/// The HMAC used by a v1 signature, chosen by the `SignatureMethod` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V1SignatureMethod {
    /// `HmacSHA1` (also the default when `SignatureMethod` is absent).
    HmacSha1,
    /// `HmacSHA256`.
    HmacSha256,
}

impl V1SignatureMethod {
    /// Reads the `SignatureMethod` parameter: absent → `HmacSha1`, `HmacSHA1`, `HmacSHA256`
    /// (exact spelling); anything else is [`SignatureError::SignatureMethodUnsupported`].
    pub fn parse(value: Option<&str>) -> Result<Self, SignatureError> {
        match value {
            None | Some("HmacSHA1") => Ok(Self::HmacSha1),
            Some("HmacSHA256") => Ok(Self::HmacSha256),
            Some(other) => Err(SignatureError::SignatureMethodUnsupported(
                other.chars().take(64).collect(),
            )),
        }
    }

    /// The parameter value: `HmacSHA1` or `HmacSHA256`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::HmacSha1 => "HmacSHA1",
            Self::HmacSha256 => "HmacSHA256",
        }
    }

    fn sign(self, secret_key: &[u8], string_to_sign: &str) -> String {
        let engine = base64::engine::general_purpose::STANDARD;
        match self {
            Self::HmacSha1 => engine.encode(hmac_sha1(secret_key, string_to_sign.as_bytes())),
            Self::HmacSha256 => engine.encode(hmac_sha256(secret_key, string_to_sign.as_bytes())),
        }
    }
}

/// The v1 string to sign: `METHOD + host + path + "?" + join("&", name=value)` over every
/// parameter except `Signature`, sorted by name bytes (then by value, for repeated names), with
/// the decoded values written raw. An empty path is written `/`.
pub fn v1_string_to_sign(
    method: &str,
    host: &str,
    path: &str,
    params: &[(String, String)],
) -> String {
    string_to_sign_with_names(method, host, path, params, false)
}

fn string_to_sign_with_names(
    method: &str,
    host: &str,
    path: &str,
    params: &[(String, String)],
    underscore_to_dot: bool,
) -> String {
    let mut pairs: Vec<(std::borrow::Cow<'_, str>, &str)> = params
        .iter()
        .filter(|(name, _)| name != SIGNATURE_PARAMETER)
        .map(|(name, value)| {
            let name = if underscore_to_dot && name.contains('_') {
                std::borrow::Cow::Owned(name.replace('_', "."))
            } else {
                std::borrow::Cow::Borrowed(name.as_str())
            };
            (name, value.as_str())
        })
        .collect();
    pairs.sort_by(|left, right| {
        left.0
            .as_bytes()
            .cmp(right.0.as_bytes())
            .then_with(|| left.1.as_bytes().cmp(right.1.as_bytes()))
    });
    let path = if path.is_empty() { "/" } else { path };
    let mut text = String::with_capacity(
        method.len()
            + host.len()
            + path.len()
            + 1
            + pairs
                .iter()
                .map(|(name, value)| name.len() + value.len() + 2)
                .sum::<usize>(),
    );
    text.push_str(method);
    text.push_str(host);
    text.push_str(path);
    text.push('?');
    for (index, (name, value)) in pairs.iter().enumerate() {
        if index > 0 {
            text.push('&');
        }
        text.push_str(name);
        text.push('=');
        text.push_str(value);
    }
    text
}

/// Full server-side verification of a v1 request (`protocols.md` A.4).
///
/// `params` holds every parameter (URL-decoded names and values), including `Signature`,
/// `SignatureMethod` and `Timestamp`. Checks, in order: `Signature` present exactly once
/// ([`SignatureError::MissingParameter`]; repeated → [`SignatureError::Mismatch`]); `Timestamp`
/// present ([`SignatureError::MissingParameter`]), decimal and unique
/// ([`SignatureError::TimestampInvalid`]) and within ±300 s of now ([`SignatureError::Expired`]);
/// `SignatureMethod` supported ([`SignatureError::SignatureMethodUnsupported`]); then the
/// signature for host as sent / without `:port`, and names as sent / with `_` replaced by `.`,
/// compared in constant time ([`SignatureError::Mismatch`]).
pub fn verify_v1(
    method: &str,
    host: &str,
    path: &str,
    params: &[(String, String)],
    secret_key: &[u8],
    now_unix_seconds: i64,
) -> Result<(), SignatureError> {
    let signature = single_parameter(params, SIGNATURE_PARAMETER)
        .map_err(|()| SignatureError::Mismatch)?
        .ok_or(SignatureError::MissingParameter(SIGNATURE_PARAMETER))?;
    let timestamp = single_parameter(params, TIMESTAMP_PARAMETER)
        .map_err(|()| SignatureError::TimestampInvalid)?
        .ok_or(SignatureError::MissingParameter(TIMESTAMP_PARAMETER))?;
    let timestamp = parse_unix_seconds(timestamp)?;
    check_clock_window(timestamp, now_unix_seconds)?;
    let signature_method = single_parameter(params, SIGNATURE_METHOD_PARAMETER)
        .map_err(|()| SignatureError::SignatureMethodUnsupported("repeated".to_owned()))?;
    let signature_method = V1SignatureMethod::parse(signature_method)?;

    let any_underscore = params
        .iter()
        .any(|(name, _)| name != SIGNATURE_PARAMETER && name.contains('_'));
    let host = host.trim_ascii();
    for underscore_to_dot in [false, true] {
        if underscore_to_dot && !any_underscore {
            break;
        }
        for host_candidate in host_candidates(host) {
            let string_to_sign =
                string_to_sign_with_names(method, host_candidate, path, params, underscore_to_dot);
            let expected = signature_method.sign(secret_key, &string_to_sign);
            if constant_time_equal(expected.as_bytes(), signature.as_bytes()) {
                return Ok(());
            }
        }
    }
    Err(SignatureError::Mismatch)
}

/// Client-side signing: the base64 v1 signature of the request (any `Signature` parameter in
/// `params` is ignored). The caller adds it as the `Signature` parameter, URL-encoded on the wire.
/// `params` should contain `SignatureMethod` matching `signature_method` (absent means `HmacSHA1`).
pub fn sign_v1(
    method: &str,
    host: &str,
    path: &str,
    params: &[(String, String)],
    secret_key: &[u8],
    signature_method: V1SignatureMethod,
) -> String {
    let string_to_sign = v1_string_to_sign(method, host, path, params);
    signature_method.sign(secret_key, &string_to_sign)
}
