//! `TC3-HMAC-SHA256`: parsing the `Authorization` header, building the canonical request and the
//! string to sign, server-side verification and client-side signing (`protocols.md` A.3).
//!
//! Tolerances required by the official SDKs, all part of the verification rules:
//!
//! * the credential-scope service is taken from the `Authorization` header (the Node SDK puts
//!   `127` there when pointed at `127.0.0.1:PORT`);
//! * the `host` value is tried as sent, then without a trailing `:port` (the Node SDK signs the
//!   host name without the port that it sends);
//! * header values are lower-cased and trimmed, and if that does not match, tried trimmed only.
//!
//! The canonical query string is the raw query for `GET` and empty for every other method (as the
//! protocol defines it), so a caller must not read parameters from the query of a non-`GET`
//! request. The payload hash always covers the body bytes as received (for a `GET` from the SDKs
//! that is the empty body), unless `X-TC-Content-SHA256: UNSIGNED-PAYLOAD` is sent.

use keyplane_request::RequestView;
use zeroize::Zeroizing;

use super::{
    check_clock_window, host_candidates, parse_unix_seconds, utc_date_of_unix_seconds,
    AuthorizationParseError, SignatureError,
};
use crate::mac::{hmac_sha256, sha256};
use crate::shared::{
    canonical_path, constant_time_equal, credential_parts, lower_case_hex_signature,
    signed_header_names, split_algorithm, PartErrors,
};

/// The algorithm name that starts a TC3 `Authorization` header and the string to sign.
pub const TC3_ALGORITHM: &str = "TC3-HMAC-SHA256";

/// The last element of a TC3 credential scope.
pub const TC3_REQUEST_TERMINATOR: &str = "tc3_request";

/// The `X-TC-Content-SHA256` value that excludes the body from the signature.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

const CONTENT_SHA256_HEADER: &str = "x-tc-content-sha256";
const REQUIRED_SIGNED_HEADERS: [&str; 2] = ["content-type", "host"];

/// The parsed value of a TC3 `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tc3Authorization {
    /// The SecretId (everything before the first `/` of the credential).
    pub secret_id: String,
    /// The credential date, `YYYY-MM-DD`.
    pub credential_date: String,
    /// The credential-scope service as the client wrote it (`cam`, `127`, ...).
    pub credential_service: String,
    /// The signed header names, lower-cased, in the order given.
    pub signed_headers: Vec<String>,
    /// The `SignedHeaders` value exactly as given; it is part of the canonical request.
    pub signed_headers_raw: String,
    /// The signature exactly as given (64 lower-case hex digits expected).
    pub signature: String,
}

impl Tc3Authorization {
    /// The credential scope: `Date/Service/tc3_request`.
    pub fn credential_scope(&self) -> String {
        format!(
            "{}/{}/{TC3_REQUEST_TERMINATOR}",
            self.credential_date, self.credential_service
        )
    }

    /// The `Authorization` header value in the form the SDKs send.
    pub fn to_header_value(&self) -> String {
        format!(
            "{TC3_ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={}",
            self.secret_id,
            self.credential_scope(),
            self.signed_headers_raw,
            self.signature
        )
    }
}

/// Parses the value of an `Authorization` header
/// (`TC3-HMAC-SHA256 Credential=SecretId/Date/Service/tc3_request, SignedHeaders=..., Signature=...`).
///
/// The parts after the algorithm are split on `,` and trimmed; each of `Credential`,
/// `SignedHeaders` and `Signature` must appear exactly once and nothing else may appear. The
/// SecretId ends at the first `/`; the service is everything between the date and the final
/// `/tc3_request` (so a service containing `/` is kept whole).
pub fn parse_tc3_authorization(value: &str) -> Result<Tc3Authorization, AuthorizationParseError> {
    let (algorithm, parts) = split_algorithm(value).ok_or(AuthorizationParseError::Empty)?;
    if algorithm != TC3_ALGORITHM {
        return Err(AuthorizationParseError::UnsupportedAlgorithm);
    }
    let [credential, signed_headers_raw, signature] = credential_parts(
        parts,
        PartErrors {
            malformed: AuthorizationParseError::MalformedPart,
            unknown: AuthorizationParseError::UnknownPart,
            duplicate: AuthorizationParseError::DuplicatePart,
            missing: [
                AuthorizationParseError::MissingCredential,
                AuthorizationParseError::MissingSignedHeaders,
                AuthorizationParseError::MissingSignature,
            ],
        },
    )?;

    let (secret_id, scope) = credential
        .split_once('/')
        .ok_or(AuthorizationParseError::MalformedCredentialScope)?;
    if secret_id.is_empty() {
        return Err(AuthorizationParseError::MissingSecretId);
    }
    let date_and_service = scope
        .strip_suffix(TC3_REQUEST_TERMINATOR)
        .and_then(|rest| rest.strip_suffix('/'))
        .ok_or(AuthorizationParseError::MalformedCredentialScope)?;
    let (credential_date, credential_service) = date_and_service
        .split_once('/')
        .ok_or(AuthorizationParseError::MalformedCredentialScope)?;
    if !is_calendar_date_shape(credential_date) {
        return Err(AuthorizationParseError::MalformedCredentialDate);
    }
    if credential_service.is_empty() {
        return Err(AuthorizationParseError::MissingCredentialService);
    }

    let signed_headers = signed_header_names(signed_headers_raw, str::to_ascii_lowercase, || {
        AuthorizationParseError::EmptySignedHeaderName
    })?;
    if signature.is_empty() {
        return Err(AuthorizationParseError::EmptySignature);
    }

    Ok(Tc3Authorization {
        secret_id: secret_id.to_owned(),
        credential_date: credential_date.to_owned(),
        credential_service: credential_service.to_owned(),
        signed_headers,
        signed_headers_raw: signed_headers_raw.to_owned(),
        signature: signature.to_owned(),
    })
}

/// `YYYY-MM-DD` with ASCII digits (the calendar itself is checked against the timestamp later).
fn is_calendar_date_shape(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        })
}

/// A received (or to-be-sent) request with its `X-TC-Timestamp` value, as far as TC3 is
/// concerned.
#[derive(Debug, Clone, Copy)]
pub struct Tc3Request<'a> {
    /// The request: method (`POST` or `GET`), path (normally `/`), raw query, headers as
    /// received (any case of name) and raw body.
    pub request: RequestView<'a>,
    /// The value of `X-TC-Timestamp`.
    pub timestamp: &'a str,
}

impl<'a> Tc3Request<'a> {
    /// The value of the first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.request.header(name)
    }
}

/// The canonical query string: the raw query for `GET`, empty for every other method.
pub fn tc3_canonical_query<'a>(request: &Tc3Request<'a>) -> &'a str {
    if request.request.method == "GET" {
        request.request.raw_query
    } else {
        ""
    }
}

/// Whether the request excludes its body from the signature
/// (`X-TC-Content-SHA256: UNSIGNED-PAYLOAD`, the first header of that name, trimmed).
pub fn tc3_payload_unsigned(request: &Tc3Request<'_>) -> bool {
    request
        .header(CONTENT_SHA256_HEADER)
        .is_some_and(|value| value.trim_ascii() == UNSIGNED_PAYLOAD)
}

/// The hashed payload: lower-case hex SHA-256 of the body, or of the literal `UNSIGNED-PAYLOAD`
/// when the request carries `X-TC-Content-SHA256: UNSIGNED-PAYLOAD`.
pub fn tc3_hashed_payload(request: &Tc3Request<'_>) -> String {
    if tc3_payload_unsigned(request) {
        hex::encode(sha256(UNSIGNED_PAYLOAD.as_bytes()))
    } else {
        hex::encode(sha256(request.request.body))
    }
}

/// The canonical headers block: for each `(name, value)`, `lowercase(name):lowercase(trim(value))\n`.
pub fn tc3_canonical_headers(headers: &[(&str, &str)]) -> String {
    canonical_headers_block(headers, true)
}

fn canonical_headers_block(headers: &[(&str, &str)], lowercase_values: bool) -> String {
    let mut block = String::new();
    for (name, value) in headers {
        block.push_str(&name.to_ascii_lowercase());
        block.push(':');
        let value = value.trim_ascii();
        if lowercase_values {
            block.push_str(&value.to_lowercase());
        } else {
            block.push_str(value);
        }
        block.push('\n');
    }
    block
}

/// The canonical request: method, path (`/` when empty), canonical query, canonical headers
/// (which end in `\n`), signed headers and hashed payload, joined by `\n`.
pub fn tc3_canonical_request(
    method: &str,
    path: &str,
    canonical_query: &str,
    canonical_headers: &str,
    signed_headers_raw: &str,
    hashed_payload: &str,
) -> String {
    [
        method,
        canonical_path(path),
        canonical_query,
        canonical_headers,
        signed_headers_raw,
        hashed_payload,
    ]
    .join("\n")
}

/// The string to sign: `TC3-HMAC-SHA256\n<timestamp>\n<date>/<service>/tc3_request\n<hex sha256(canonical request)>`.
pub fn tc3_string_to_sign(
    timestamp: &str,
    credential_date: &str,
    service: &str,
    canonical_request: &str,
) -> String {
    format!(
        "{TC3_ALGORITHM}\n{timestamp}\n{credential_date}/{service}/{TC3_REQUEST_TERMINATOR}\n{}",
        hex::encode(sha256(canonical_request.as_bytes()))
    )
}

/// The signing key: `HMAC(HMAC(HMAC("TC3" + secret, date), service), "tc3_request")`.
pub fn tc3_signing_key(
    secret_key: &[u8],
    credential_date: &str,
    service: &str,
) -> Zeroizing<[u8; 32]> {
    let mut prefixed_secret = Zeroizing::new(Vec::with_capacity(secret_key.len() + 3));
    prefixed_secret.extend_from_slice(b"TC3");
    prefixed_secret.extend_from_slice(secret_key);
    let date_key = Zeroizing::new(hmac_sha256(&prefixed_secret, credential_date.as_bytes()));
    let service_key = Zeroizing::new(hmac_sha256(date_key.as_slice(), service.as_bytes()));
    Zeroizing::new(hmac_sha256(
        service_key.as_slice(),
        TC3_REQUEST_TERMINATOR.as_bytes(),
    ))
}

/// The signature (lower-case hex) of `string_to_sign` under the key derived from the secret.
pub fn tc3_signature(
    secret_key: &[u8],
    credential_date: &str,
    service: &str,
    string_to_sign: &str,
) -> String {
    let signing_key = tc3_signing_key(secret_key, credential_date, service);
    hex::encode(hmac_sha256(
        signing_key.as_slice(),
        string_to_sign.as_bytes(),
    ))
}

/// Full server-side verification per `protocols.md` A.3.
///
/// In order: the timestamp must be decimal Unix seconds ([`SignatureError::TimestampInvalid`])
/// within ±300 s of `now_unix_seconds` ([`SignatureError::Expired`]); the credential date must be
/// its UTC date ([`SignatureError::CredentialDateMismatch`]); `content-type` and `host` must be
/// signed ([`SignatureError::RequiredHeaderNotSigned`]); every signed header must be present
/// ([`SignatureError::SignedHeaderMissing`], the first header of that name is used); finally the
/// signature is recomputed for each tolerated variant (host as sent / without port; values
/// lower-cased / as sent) and compared in constant time ([`SignatureError::Mismatch`]).
pub fn verify_tc3(
    request: &Tc3Request<'_>,
    authorization: &Tc3Authorization,
    secret_key: &[u8],
    now_unix_seconds: i64,
) -> Result<(), SignatureError> {
    let signing_key = tc3_signing_key(
        secret_key,
        &authorization.credential_date,
        &authorization.credential_service,
    );
    verify_tc3_with_signing_key(request, authorization, &signing_key, now_unix_seconds)
}

/// [`verify_tc3`] with the signing key already derived (by [`tc3_signing_key`] from the secret,
/// `authorization.credential_date` and `authorization.credential_service`): a server that
/// caches derived keys per (SecretId, date, service) saves three HMACs per request.
pub fn verify_tc3_with_signing_key(
    request: &Tc3Request<'_>,
    authorization: &Tc3Authorization,
    signing_key: &[u8; 32],
    now_unix_seconds: i64,
) -> Result<(), SignatureError> {
    let timestamp = parse_unix_seconds(request.timestamp)?;
    check_clock_window(timestamp, now_unix_seconds)?;
    let timestamp_date =
        utc_date_of_unix_seconds(timestamp).ok_or(SignatureError::TimestampInvalid)?;
    if timestamp_date != authorization.credential_date {
        return Err(SignatureError::CredentialDateMismatch);
    }
    for required in REQUIRED_SIGNED_HEADERS {
        if !authorization
            .signed_headers
            .iter()
            .any(|name| name == required)
        {
            return Err(SignatureError::RequiredHeaderNotSigned(required.to_owned()));
        }
    }
    let mut signed_values = Vec::with_capacity(authorization.signed_headers.len());
    for name in &authorization.signed_headers {
        let value = request
            .header(name)
            .ok_or_else(|| SignatureError::SignedHeaderMissing(name.clone()))?;
        signed_values.push((name.as_str(), value.trim_ascii()));
    }
    let host = signed_values
        .iter()
        .find(|(name, _)| *name == "host")
        .map(|(_, value)| *value)
        .unwrap_or_default();
    let any_upper_case = signed_values
        .iter()
        .any(|(_, value)| value.to_lowercase() != *value);

    let canonical_query = tc3_canonical_query(request);
    let hashed_payload = tc3_hashed_payload(request);
    // The signature as given, decoded once.
    let given_signature =
        lower_case_hex_signature(&authorization.signature).ok_or(SignatureError::Mismatch)?;
    let mut candidate_values = signed_values.clone();
    for lowercase_values in [true, false] {
        if !lowercase_values && !any_upper_case {
            break;
        }
        for host_candidate in host_candidates(host) {
            for (slot, (name, value)) in candidate_values.iter_mut().zip(&signed_values) {
                slot.1 = if *name == "host" {
                    host_candidate
                } else {
                    value
                };
            }
            let canonical_headers = canonical_headers_block(&candidate_values, lowercase_values);
            let canonical_request = tc3_canonical_request(
                request.request.method,
                request.request.path,
                canonical_query,
                &canonical_headers,
                &authorization.signed_headers_raw,
                &hashed_payload,
            );
            let string_to_sign = tc3_string_to_sign(
                request.timestamp,
                &authorization.credential_date,
                &authorization.credential_service,
                &canonical_request,
            );
            let expected = hmac_sha256(signing_key.as_slice(), string_to_sign.as_bytes());
            if constant_time_equal(&expected, &given_signature) {
                return Ok(());
            }
        }
    }
    Err(SignatureError::Mismatch)
}

/// Client-side signing: the full `Authorization` header value for `request`, signing the given
/// header names (lower-cased) with values taken from `request.request.headers` (canonical form:
/// lower-cased and trimmed), with the credential date = UTC date of `request.timestamp`.
///
/// Errors: [`SignatureError::TimestampInvalid`] when the timestamp is not decimal Unix seconds,
/// [`SignatureError::SignedHeaderMissing`] when a named header is not in `request.request.headers`.
pub fn sign_tc3(
    request: &Tc3Request<'_>,
    secret_id: &str,
    secret_key: &[u8],
    service: &str,
    signed_header_names: &[&str],
) -> Result<String, SignatureError> {
    Tc3Signer::new(secret_id, secret_key, service).authorization(request, signed_header_names)
}

/// A client-side TC3 signer for one credential and service that keeps the derived signing key
/// of the current date, as a client sending many requests would: the output is exactly
/// [`sign_tc3`]'s.
pub struct Tc3Signer {
    secret_id: String,
    secret_key: Zeroizing<Vec<u8>>,
    service: String,
    derived: Option<(String, Zeroizing<[u8; 32]>)>,
}

impl std::fmt::Debug for Tc3Signer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Tc3Signer")
            .field("secret_id", &self.secret_id)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Tc3Signer {
    pub fn new(secret_id: &str, secret_key: &[u8], service: &str) -> Self {
        Self {
            secret_id: secret_id.to_owned(),
            secret_key: Zeroizing::new(secret_key.to_vec()),
            service: service.to_owned(),
            derived: None,
        }
    }

    /// The `Authorization` header value for `request`; see [`sign_tc3`].
    pub fn authorization(
        &mut self,
        request: &Tc3Request<'_>,
        signed_header_names: &[&str],
    ) -> Result<String, SignatureError> {
        let timestamp = parse_unix_seconds(request.timestamp)?;
        let credential_date =
            utc_date_of_unix_seconds(timestamp).ok_or(SignatureError::TimestampInvalid)?;
        let signed_headers: Vec<String> = signed_header_names
            .iter()
            .map(|name| name.to_ascii_lowercase())
            .collect();
        let mut signed_values = Vec::with_capacity(signed_headers.len());
        for name in &signed_headers {
            let value = request
                .header(name)
                .ok_or_else(|| SignatureError::SignedHeaderMissing(name.clone()))?;
            signed_values.push((name.as_str(), value));
        }
        let signed_headers_raw = signed_headers.join(";");
        let canonical_request = tc3_canonical_request(
            request.request.method,
            request.request.path,
            tc3_canonical_query(request),
            &tc3_canonical_headers(&signed_values),
            &signed_headers_raw,
            &tc3_hashed_payload(request),
        );
        let string_to_sign = tc3_string_to_sign(
            request.timestamp,
            &credential_date,
            &self.service,
            &canonical_request,
        );
        let fresh = !matches!(&self.derived, Some((date, _)) if *date == credential_date);
        if fresh {
            let key = tc3_signing_key(&self.secret_key, &credential_date, &self.service);
            self.derived = Some((credential_date.clone(), key));
        }
        let signing_key = self
            .derived
            .as_ref()
            .map(|(_, key)| key.as_slice())
            .unwrap_or_default();
        let signature = hex::encode(hmac_sha256(signing_key, string_to_sign.as_bytes()));
        Ok(Tc3Authorization {
            secret_id: self.secret_id.clone(),
            credential_date,
            credential_service: self.service.clone(),
            signed_headers,
            signed_headers_raw,
            signature,
        }
        .to_header_value())
    }
}
