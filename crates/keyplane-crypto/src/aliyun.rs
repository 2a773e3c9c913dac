//! Alibaba Cloud OpenAPI request signatures, as described in `protocols.md` part B.
//!
//! Three schemes are supported, each with a string-to-sign builder, client-side signing and
//! server-side verification:
//!
//! * RPC signature v1 (section B.3, [`verify_rpc_v1`]): every value is a parameter (query string
//!   or form body); `Signature` is the base64 HMAC-SHA1, under the key `AccessKeySecret + "&"`, of
//!   the method and the sorted, RFC 3986-encoded parameters.
//! * `ACS3-HMAC-SHA256` (section B.4, [`verify_acs3`]): an `Authorization` header naming the
//!   signed headers; the signature is the hex HMAC-SHA256, under the bare secret, of the hash of a
//!   canonical request that covers the method, path, query, signed headers and body hash.
//! * ROA signature v1 (section B.5, [`verify_roa_v1`]): `Authorization: acs AccessKeyId:Signature`,
//!   the base64 HMAC-SHA1, under the bare secret, of the method, four standard headers, every
//!   `x-acs-*` header and the path with its decoded, sorted query.
//!
//! Every verifier takes the current time as a parameter and accepts a request whose timestamp
//! (`Timestamp`, `x-acs-date` or `Date`) is at most [`ALIYUN_SIGNATURE_WINDOW_SECONDS`] away from
//! it, in either direction (section B.6). Signatures are compared in constant time. Nonces
//! (`SignatureNonce`, `x-acs-signature-nonce`) are required where the scheme requires them, but
//! remembering them to refuse a replay is the caller's job: nothing here keeps state.

mod acs3;
mod roa_v1;
mod rpc_v1;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

pub use acs3::{
    acs3_canonical_query, acs3_canonical_request, acs3_hashed_payload, acs3_string_to_sign,
    parse_acs3_authorization, sign_acs3, verify_acs3, Acs3Authorization, ACS3_ALGORITHM,
};
pub use roa_v1::{
    parse_roa_v1_authorization, roa_v1_string_to_sign, sign_roa_v1, verify_roa_v1,
    RoaEmptyValueStyle, RoaV1Authorization, ROA_V1_ALGORITHM,
};
pub use rpc_v1::{
    rpc_v1_canonicalized_query, rpc_v1_string_to_sign, sign_rpc_v1, verify_rpc_v1,
    RPC_V1_SIGNATURE_METHOD, RPC_V1_SIGNATURE_VERSION,
};

/// How far (in seconds, either direction) a request timestamp may be from the server clock:
/// 15 minutes.
pub const ALIYUN_SIGNATURE_WINDOW_SECONDS: i64 = 900;

/// Why a signed Alibaba request was rejected. Each variant maps onto one Alibaba error code (noted
/// per variant); the mapping itself belongs to the dialect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliyunSignatureError {
    /// No `Timestamp` parameter (RPC v1), `x-acs-date` header (ACS3) or `Date` header (ROA v1)
    /// (`MissingParameter` / `IllegalTimestamp`).
    #[error("the request carries no timestamp")]
    TimestampMissing,
    /// The timestamp cannot be parsed, or was given more than once (`InvalidTimeStamp.Format`).
    #[error("the request timestamp is not in a valid format")]
    TimestampFormat,
    /// The timestamp is more than [`ALIYUN_SIGNATURE_WINDOW_SECONDS`] from the server clock;
    /// `skew_seconds` = timestamp − now (`InvalidTimeStamp.Expired`).
    #[error("the request timestamp is {skew_seconds} s away from the server clock")]
    TimestampExpired {
        /// Request timestamp minus the server's current time, in seconds.
        skew_seconds: i64,
    },
    /// RPC v1 `SignatureMethod` or ROA v1 `x-acs-signature-method` is not `HMAC-SHA1`, or was
    /// given more than once (`InvalidSignatureMethod`).
    #[error("the signature method {0} is not supported")]
    SignatureMethodUnsupported(String),
    /// RPC v1 `SignatureVersion` or ROA v1 `x-acs-signature-version` is not `1.0`, or was given
    /// more than once (`InvalidSignatureVersion`).
    #[error("the signature version {0} is not supported")]
    SignatureVersionUnsupported(String),
    /// A parameter the scheme requires is absent or empty (`MissingParameter`), e.g.
    /// `Signature`, `AccessKeyId`, `SignatureMethod`, `SignatureVersion`, `SignatureNonce`.
    #[error("the parameter {0} is missing")]
    MissingParameter(&'static str),
    /// ACS3: a header that must be signed (`host`, every `x-acs-*` header present, `content-type`
    /// when present) is not in `SignedHeaders` (`IncompleteSignature`).
    #[error("the header {0} must be signed")]
    HeaderNotSigned(String),
    /// ACS3: a header listed in `SignedHeaders` is absent from the request
    /// (`IncompleteSignature`).
    #[error("the signed header {0} is not present in the request")]
    SignedHeaderMissing(String),
    /// ACS3: `x-acs-content-sha256` is missing or is not the SHA-256 of the body
    /// (`IncompleteSignature` / `SignatureDoesNotMatch`).
    #[error("x-acs-content-sha256 is missing or does not match the body")]
    ContentHashMismatch,
    /// The signature does not match the request (`SignatureDoesNotMatch`); `string_to_sign` is the
    /// server's string to sign, which Alibaba echoes in the error message.
    #[error("the signature does not match the request")]
    Mismatch {
        /// The string to sign as the server computed it.
        string_to_sign: String,
    },
}

/// Why an `Authorization` header value could not be read as an `ACS3-HMAC-SHA256` or ROA v1
/// (`acs AccessKeyId:Signature`) authorization.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliyunAuthorizationParseError {
    /// The header value is empty (or only whitespace).
    #[error("the Authorization header is empty")]
    Empty,
    /// The value does not start with the expected algorithm (`ACS3-HMAC-SHA256 ` or `acs `).
    #[error("the Authorization header does not use a supported algorithm")]
    UnsupportedAlgorithm,
    /// ACS3: a comma-separated part is not of the form `Name=value`.
    #[error("the Authorization header contains a part that is not Name=value")]
    MalformedPart,
    /// ACS3: a part name other than `Credential`, `SignedHeaders` or `Signature`.
    #[error("the Authorization header contains an unknown part")]
    UnknownPart,
    /// ACS3: the same part appears twice.
    #[error("the Authorization header contains {0} more than once")]
    DuplicatePart(&'static str),
    /// ACS3: no `Credential=` part.
    #[error("the Authorization header has no Credential")]
    MissingCredential,
    /// ACS3: no `SignedHeaders=` part.
    #[error("the Authorization header has no SignedHeaders")]
    MissingSignedHeaders,
    /// ACS3: no `Signature=` part.
    #[error("the Authorization header has no Signature")]
    MissingSignature,
    /// ROA v1: no `:` between the AccessKeyId and the signature.
    #[error("the Authorization header is not AccessKeyId:Signature")]
    MissingSeparator,
    /// The AccessKeyId is empty.
    #[error("the Authorization header has an empty AccessKeyId")]
    EmptyAccessKeyId,
    /// ACS3: `SignedHeaders=` is empty or contains an empty name (`host;;x-acs-date`).
    #[error("SignedHeaders is empty or contains an empty header name")]
    EmptySignedHeaderName,
    /// The signature is empty.
    #[error("the signature is empty")]
    EmptySignature,
}

/// Decodes a query string or form body into `(name, value)` pairs, in order: `+` becomes a
/// space, `%XX` is decoded, invalid UTF-8 is replaced by U+FFFD, empty values are kept and a name
/// without `=` has the value `""`. Empty segments (`a=1&&b=2`) are skipped.
pub fn decode_form_pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// Every byte except the RFC 3986 unreserved set `A-Z a-z 0-9 - _ . ~`.
const RFC3986_RESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// RFC 3986 percent-encoding of the UTF-8 bytes of `value`, as used by the RPC v1 and ACS3
/// canonical forms: `A-Z a-z 0-9 - _ . ~` are kept, every other byte becomes `%XX` with
/// upper-case hex (space → `%20`, `*` → `%2A`, `~` stays).
pub fn percent_encode_rfc3986(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, RFC3986_RESERVED).to_string()
}

/// Parses an ISO 8601 / RFC 3339 timestamp (`2026-11-24T02:42:34Z`; fractional seconds and
/// numeric offsets such as `+08:00` are accepted too) into Unix seconds. Used for RPC v1
/// `Timestamp` and ACS3 `x-acs-date`. Anything else is [`AliyunSignatureError::TimestampFormat`].
pub fn parse_iso8601_timestamp(text: &str) -> Result<i64, AliyunSignatureError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| AliyunSignatureError::TimestampFormat)
}

/// Parses an RFC 1123 HTTP date (`Tue, 24 Nov 2026 02:36:26 GMT`, the form every SDK sends in
/// the ROA v1 `Date` header) into Unix seconds. The weekday must be the date's weekday. Anything
/// else is [`AliyunSignatureError::TimestampFormat`].
pub fn parse_http_date(text: &str) -> Result<i64, AliyunSignatureError> {
    const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let (weekday, rest) = text
        .split_once(", ")
        .ok_or(AliyunSignatureError::TimestampFormat)?;
    let format =
        format_description!("[day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
    let date_time = PrimitiveDateTime::parse(rest, format)
        .map_err(|_| AliyunSignatureError::TimestampFormat)?;
    let expected_weekday = WEEKDAYS[usize::from(date_time.weekday().number_days_from_monday())];
    if weekday != expected_weekday {
        return Err(AliyunSignatureError::TimestampFormat);
    }
    Ok(date_time.assume_utc().unix_timestamp())
}

/// Checks that `timestamp` lies within [`ALIYUN_SIGNATURE_WINDOW_SECONDS`] of `now_unix_seconds`
/// (inclusive), else [`AliyunSignatureError::TimestampExpired`] with `skew_seconds` =
/// timestamp − now.
pub fn check_aliyun_signature_window(
    timestamp: i64,
    now_unix_seconds: i64,
) -> Result<(), AliyunSignatureError> {
    let skew_seconds = timestamp.saturating_sub(now_unix_seconds);
    if skew_seconds.unsigned_abs() > ALIYUN_SIGNATURE_WINDOW_SECONDS.unsigned_abs() {
        return Err(AliyunSignatureError::TimestampExpired { skew_seconds });
    }
    Ok(())
}

/// How the sorted parameter lists of RPC v1 and ACS3 are ordered. The SDKs sort the decoded
/// names (Python, Node, the legacy cores); the documentation describes sorting the encoded ones.
/// The two orders differ only for names containing characters that are encoded and compare
/// differently from `%` (e.g. `a[` and `aZ`), so verifiers try the second when it differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParameterOrder {
    /// By decoded name bytes, then decoded value bytes.
    Decoded,
    /// By encoded name bytes, then encoded value bytes.
    Encoded,
}

/// `name=value` pairs, RFC 3986-encoded, sorted by `order` and joined by `&`.
pub(crate) fn encoded_sorted_pairs<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
    order: ParameterOrder,
) -> String {
    let mut encoded: Vec<(&str, &str, String, String)> = pairs
        .map(|(name, value)| {
            (
                name,
                value,
                percent_encode_rfc3986(name),
                percent_encode_rfc3986(value),
            )
        })
        .collect();
    match order {
        ParameterOrder::Decoded => encoded.sort_by(|left, right| {
            (left.0.as_bytes(), left.1.as_bytes()).cmp(&(right.0.as_bytes(), right.1.as_bytes()))
        }),
        ParameterOrder::Encoded => encoded.sort_by(|left, right| {
            (left.2.as_bytes(), left.3.as_bytes()).cmp(&(right.2.as_bytes(), right.3.as_bytes()))
        }),
    }
    let mut joined = String::new();
    for (index, (_, _, name, value)) in encoded.iter().enumerate() {
        if index > 0 {
            joined.push('&');
        }
        joined.push_str(name);
        joined.push('=');
        joined.push_str(value);
    }
    joined
}

/// Whether sorting the pairs by encoded form gives a different order from sorting them decoded.
pub(crate) fn orders_differ<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> bool {
    encoded_sorted_pairs(pairs.clone(), ParameterOrder::Decoded)
        != encoded_sorted_pairs(pairs, ParameterOrder::Encoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3986_encoding_keeps_only_unreserved_characters() {
        assert_eq!(percent_encode_rfc3986("aZ09-_.~"), "aZ09-_.~");
        assert_eq!(
            percent_encode_rfc3986("a b*c+d/e=f&g"),
            "a%20b%2Ac%2Bd%2Fe%3Df%26g"
        );
        assert_eq!(percent_encode_rfc3986("é☃"), "%C3%A9%E2%98%83");
        assert_eq!(percent_encode_rfc3986("%3A"), "%253A");
        assert_eq!(percent_encode_rfc3986(""), "");
    }

    #[test]
    fn form_pairs_decode_plus_percent_and_empty_values() {
        assert_eq!(
            decode_form_pairs("a=for+CI%20run&SignatureType=&flag&&=x&b=%E2%98%83&c=%ff"),
            vec![
                ("a".to_owned(), "for CI run".to_owned()),
                ("SignatureType".to_owned(), String::new()),
                ("flag".to_owned(), String::new()),
                (String::new(), "x".to_owned()),
                ("b".to_owned(), "☃".to_owned()),
                ("c".to_owned(), "\u{fffd}".to_owned()),
            ]
        );
        assert!(decode_form_pairs("").is_empty());
    }

    #[test]
    fn iso8601_timestamps() {
        assert_eq!(
            parse_iso8601_timestamp("2026-11-24T02:42:34Z"),
            Ok(1_795_488_154)
        );
        assert_eq!(
            parse_iso8601_timestamp("2026-11-24T02:42:34.999Z"),
            Ok(1_795_488_154)
        );
        assert_eq!(
            parse_iso8601_timestamp("2026-11-24T10:42:34+08:00"),
            Ok(1_795_488_154)
        );
        for bad in [
            "",
            "2026-11-24",
            "2026-11-24T02:42:34",
            "2026-11-24 02:42:34Z ",
            " 2026-11-24T02:42:34Z",
            "2026-13-24T02:42:34Z",
            "2026-11-24T25:42:34Z",
            "1795488154",
            "Tue, 24 Nov 2026 02:42:34 GMT",
            "２０２６-11-24T02:42:34Z",
        ] {
            assert_eq!(
                parse_iso8601_timestamp(bad),
                Err(AliyunSignatureError::TimestampFormat),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Tue, 24 Nov 2026 02:42:34 GMT"),
            Ok(1_795_488_154)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Ok(0));
        for bad in [
            "",
            "Wed, 24 Nov 2026 02:42:34 GMT",
            "Tue, 24 Nov 2026 02:42:34 UTC",
            "Tue, 24 Nov 2026 02:42:34 +0000",
            "Tue, 24 nov 2026 02:42:34 GMT",
            "Tue, 4 Nov 2026 02:42:34 GMT",
            "Tue,24 Nov 2026 02:42:34 GMT",
            "Tue, 24 Nov 2026 02:42:34 GMT ",
            "Tuesday, 24-Nov-26 02:42:34 GMT",
            "Tue Nov 24 02:42:34 2026",
            "2026-11-24T02:42:34Z",
        ] {
            assert_eq!(
                parse_http_date(bad),
                Err(AliyunSignatureError::TimestampFormat),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn window_is_inclusive_and_saturating() {
        assert_eq!(check_aliyun_signature_window(100, 1000), Ok(()));
        assert_eq!(check_aliyun_signature_window(1900, 1000), Ok(()));
        assert_eq!(
            check_aliyun_signature_window(99, 1000),
            Err(AliyunSignatureError::TimestampExpired { skew_seconds: -901 })
        );
        assert_eq!(
            check_aliyun_signature_window(1901, 1000),
            Err(AliyunSignatureError::TimestampExpired { skew_seconds: 901 })
        );
        assert!(check_aliyun_signature_window(i64::MAX, i64::MIN).is_err());
        assert!(check_aliyun_signature_window(i64::MIN, i64::MAX).is_err());
    }

    #[test]
    fn parameter_orders() {
        let pairs = [("aZ", "1"), ("a[", "2"), ("a", "")];
        assert_eq!(
            encoded_sorted_pairs(pairs.iter().copied(), ParameterOrder::Decoded),
            "a=&aZ=1&a%5B=2"
        );
        assert_eq!(
            encoded_sorted_pairs(pairs.iter().copied(), ParameterOrder::Encoded),
            "a=&a%5B=2&aZ=1"
        );
        assert!(orders_differ(pairs.iter().copied()));
        assert!(!orders_differ([("b", "1"), ("a", "2")].iter().copied()));
    }
}
