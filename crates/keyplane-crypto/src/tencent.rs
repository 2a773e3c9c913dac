//! Tencent Cloud API 3.0 request signatures, as described in `protocols.md` part A.
//!
//! Two schemes are supported:
//!
//! * [`TC3_ALGORITHM`] (`TC3-HMAC-SHA256`, section A.3): an `Authorization` header carrying the
//!   credential scope, the list of signed headers and a hex HMAC-SHA256 signature. See
//!   [`parse_tc3_authorization`], [`verify_tc3`] and [`sign_tc3`].
//! * The legacy v1 scheme (section A.4): every value is a parameter, the signature is the base64
//!   HMAC-SHA1 or HMAC-SHA256 of a sorted parameter string. See [`verify_v1`] and [`sign_v1`].
//!
//! Both verifiers take the current time as a parameter and accept a request whose timestamp is at
//! most [`TENCENT_SIGNATURE_WINDOW_SECONDS`] away from it, in either direction. Signatures are
//! compared in constant time.

mod tc3;
mod v1;

pub use tc3::{
    parse_tc3_authorization, sign_tc3, tc3_canonical_headers, tc3_canonical_query,
    tc3_canonical_request, tc3_hashed_payload, tc3_payload_unsigned, tc3_signature,
    tc3_signing_key, tc3_string_to_sign, verify_tc3, verify_tc3_with_signing_key, Tc3Authorization,
    Tc3Request, Tc3Signer, TC3_ALGORITHM, TC3_REQUEST_TERMINATOR, UNSIGNED_PAYLOAD,
};
pub use v1::{sign_v1, v1_string_to_sign, verify_v1, V1SignatureMethod};

/// How far (in seconds, either direction) a request timestamp may be from the server clock.
pub const TENCENT_SIGNATURE_WINDOW_SECONDS: i64 = 300;

/// Why an `Authorization` header value could not be read as a `TC3-HMAC-SHA256` authorization.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthorizationParseError {
    /// The header value is empty (or only whitespace).
    #[error("the Authorization header is empty")]
    Empty,
    /// The value does not start with `TC3-HMAC-SHA256 `.
    #[error("the Authorization header does not use the TC3-HMAC-SHA256 algorithm")]
    UnsupportedAlgorithm,
    /// A comma-separated part is not of the form `Name=value`.
    #[error("the Authorization header contains a part that is not Name=value")]
    MalformedPart,
    /// A part name other than `Credential`, `SignedHeaders` or `Signature`.
    #[error("the Authorization header contains an unknown part")]
    UnknownPart,
    /// The same part appears twice.
    #[error("the Authorization header contains {0} more than once")]
    DuplicatePart(&'static str),
    /// No `Credential=` part.
    #[error("the Authorization header has no Credential")]
    MissingCredential,
    /// No `SignedHeaders=` part.
    #[error("the Authorization header has no SignedHeaders")]
    MissingSignedHeaders,
    /// No `Signature=` part.
    #[error("the Authorization header has no Signature")]
    MissingSignature,
    /// The credential has no SecretId before the first `/`.
    #[error("the credential has no SecretId")]
    MissingSecretId,
    /// The credential is not `SecretId/Date/Service/tc3_request`.
    #[error("the credential scope is not Date/Service/tc3_request")]
    MalformedCredentialScope,
    /// The credential date is not of the form `YYYY-MM-DD`.
    #[error("the credential date is not YYYY-MM-DD")]
    MalformedCredentialDate,
    /// The credential service is empty.
    #[error("the credential service is empty")]
    MissingCredentialService,
    /// `SignedHeaders=` is empty or contains an empty name (`content-type;;host`).
    #[error("SignedHeaders is empty or contains an empty header name")]
    EmptySignedHeaderName,
    /// `Signature=` is empty.
    #[error("the signature is empty")]
    EmptySignature,
}

/// Why a signed request was rejected.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    /// The timestamp is not a decimal number of Unix seconds (or is out of the representable
    /// range, or the v1 `Timestamp` parameter was given more than once).
    #[error("the request timestamp is not a valid Unix time")]
    TimestampInvalid,
    /// The timestamp is too far from the server clock; `skew_seconds` = timestamp − now.
    #[error("the request timestamp is {skew_seconds} s away from the server clock")]
    Expired {
        /// Request timestamp minus the server's current time, in seconds.
        skew_seconds: i64,
    },
    /// The credential date is not the UTC calendar date of the request timestamp.
    #[error("the credential date is not the UTC date of the request timestamp")]
    CredentialDateMismatch,
    /// A header that must be signed (`content-type`, `host`) is not in `SignedHeaders`.
    #[error("the header {0} must be signed")]
    RequiredHeaderNotSigned(String),
    /// A header listed in `SignedHeaders` is not present in the request.
    #[error("the signed header {0} is not present in the request")]
    SignedHeaderMissing(String),
    /// The v1 `SignatureMethod` parameter is neither `HmacSHA1` nor `HmacSHA256`.
    #[error("the signature method {0} is not supported")]
    SignatureMethodUnsupported(String),
    /// A required v1 parameter (`Signature`, `Timestamp`) is missing.
    #[error("the parameter {0} is missing")]
    MissingParameter(&'static str),
    /// The signature does not match the request.
    #[error("the signature does not match the request")]
    Mismatch,
}

/// Parses a timestamp of decimal Unix seconds (ASCII digits only, no sign, no whitespace).
pub(crate) fn parse_unix_seconds(text: &str) -> Result<i64, SignatureError> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(SignatureError::TimestampInvalid);
    }
    text.parse::<i64>()
        .map_err(|_| SignatureError::TimestampInvalid)
}

/// Checks that `timestamp` lies within [`TENCENT_SIGNATURE_WINDOW_SECONDS`] of `now`.
pub(crate) fn check_clock_window(
    timestamp: i64,
    now_unix_seconds: i64,
) -> Result<(), SignatureError> {
    let skew_seconds = timestamp.saturating_sub(now_unix_seconds);
    if skew_seconds.unsigned_abs() > TENCENT_SIGNATURE_WINDOW_SECONDS.unsigned_abs() {
        return Err(SignatureError::Expired { skew_seconds });
    }
    Ok(())
}

/// The UTC calendar date (`YYYY-MM-DD`) of a Unix timestamp, or `None` when the timestamp is out of
/// the supported range (years −9999 to 9999).
pub fn utc_date_of_unix_seconds(unix_seconds: i64) -> Option<String> {
    let date = time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()?
        .date();
    let year = date.year();
    if !(0..=9999).contains(&year) {
        return None;
    }
    Some(format!(
        "{year:04}-{month:02}-{day:02}",
        month = u8::from(date.month()),
        day = date.day()
    ))
}

/// The host with a trailing `:port` (one or more ASCII digits after the last `:`) removed, or
/// `None` when the host has no such suffix. `127.0.0.1:18080` → `127.0.0.1`,
/// `http://127.0.0.1:18080` → `http://127.0.0.1`, `[::1]:80` → `[::1]`, `[::1]` → `None`.
pub fn host_without_port(host: &str) -> Option<&str> {
    let (name, port) = host.rsplit_once(':')?;
    if port.is_empty() || !port.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    Some(name)
}

/// The host values a verifier tries, in order: the value as sent, then without a trailing port.
pub(crate) fn host_candidates(host: &str) -> impl Iterator<Item = &str> {
    std::iter::once(host).chain(host_without_port(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_is_removed_only_when_numeric() {
        assert_eq!(host_without_port("127.0.0.1:18080"), Some("127.0.0.1"));
        assert_eq!(
            host_without_port("http://127.0.0.1:1"),
            Some("http://127.0.0.1")
        );
        assert_eq!(host_without_port("http://127.0.0.1"), None);
        assert_eq!(host_without_port("[::1]:80"), Some("[::1]"));
        assert_eq!(host_without_port("[::1]"), None);
        assert_eq!(host_without_port("host:"), None);
        assert_eq!(host_without_port(""), None);
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date_of_unix_seconds(0).as_deref(), Some("1970-01-01"));
        assert_eq!(
            utc_date_of_unix_seconds(1_551_113_065).as_deref(),
            Some("2019-02-25")
        );
        assert_eq!(utc_date_of_unix_seconds(i64::MAX), None);
        assert_eq!(utc_date_of_unix_seconds(i64::MIN), None);
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_unix_seconds("1795488150"), Ok(1_795_488_150));
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1e3",
            "99999999999999999999",
            "١٢",
        ] {
            assert_eq!(
                parse_unix_seconds(bad),
                Err(SignatureError::TimestampInvalid)
            );
        }
        assert!(check_clock_window(i64::MAX, i64::MIN).is_err());
        assert!(check_clock_window(i64::MIN, i64::MAX).is_err());
        assert!(check_clock_window(100, 400).is_ok());
        assert!(check_clock_window(100, 401).is_err());
    }
}
