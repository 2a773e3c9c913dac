//! The Tencent Cloud API 3.0 envelope: reading a request (TC3 headers or v1 parameters) into an
//! [`Envelope`], reading its business parameters (JSON, query or form) with
//! [`business_parameters`] once it is authenticated, and writing every outcome as HTTP 200 with
//! `Content-Type: application/json` and `{"Response": {..., "RequestId"}}`, as the SDKs require
//! (protocols.md A.5).
//!
//! Before authentication only what the signature check needs is read: for TC3 the headers
//! (the body is hashed as received, never parsed), for v1 the decoded pairs, at most
//! [`MAX_PARAMETERS`] of them.

use keyplane_crypto::tencent::{parse_tc3_authorization, Tc3Authorization, TC3_ALGORITHM};
use serde_json::{json, Map, Value};

use keyplane_core::audit::truncated;
use keyplane_request::RequestView;

use crate::errors::TencentError;
use crate::params::{Params, MAX_PARAMETERS};

/// The only content type any response carries: no charset parameter (the Python SDK ignores
/// errors in responses with one).
pub const RESPONSE_CONTENT_TYPE: &str = "application/json";
/// Largest TC3 POST body.
pub const MAX_TC3_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Largest v1 POST body.
pub const MAX_V1_BODY_BYTES: usize = 1024 * 1024;
/// Largest GET query string.
pub const MAX_QUERY_BYTES: usize = 32 * 1024;

/// Parameters every v1 request may carry besides the business ones.
const V1_COMMON_PARAMETERS: &[&str] = &[
    "Action",
    "Version",
    "Region",
    "Timestamp",
    "Nonce",
    "SecretId",
    "Signature",
    "SignatureMethod",
    "Token",
    "Language",
    "RequestClient",
];

/// How a request was signed.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// TC3-HMAC-SHA256 in the `Authorization` header.
    Tc3 {
        authorization: Tc3Authorization,
        timestamp: String,
    },
    /// Legacy v1: every parameter (decoded), including `Signature`.
    V1 {
        secret_id: String,
        all_parameters: Vec<(String, String)>,
    },
}

impl Credentials {
    /// The SecretId the request claims.
    pub fn secret_id(&self) -> &str {
        match self {
            Credentials::Tc3 { authorization, .. } => &authorization.secret_id,
            Credentials::V1 { secret_id, .. } => secret_id,
        }
    }
}

/// A parsed request.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub action: String,
    pub version: String,
    pub region: Option<String>,
    pub token: Option<String>,
    pub credentials: Credentials,
}

/// The media type of the request's `Content-Type`, lower-cased, without parameters.
fn media_type(request: &RequestView<'_>) -> String {
    request
        .header("content-type")
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Decodes `name=value` pairs, refusing more than [`MAX_PARAMETERS`] of them before decoding
/// any (so the pairs take about the bytes received).
fn decode_pairs(encoded: &[u8]) -> Result<Vec<(String, String)>, TencentError> {
    let count = encoded
        .split(|byte| *byte == b'&')
        .filter(|segment| !segment.is_empty())
        .take(MAX_PARAMETERS + 1)
        .count();
    if count > MAX_PARAMETERS {
        return Err(TencentError::too_many_parameters(MAX_PARAMETERS));
    }
    Ok(form_urlencoded::parse(encoded)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect())
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// Reads the envelope of a request.
pub fn parse(request: &RequestView<'_>) -> Result<Envelope, TencentError> {
    let method = request.method;
    if method != "GET" && method != "POST" {
        return Err(TencentError::unsupported_method(method));
    }
    if request.raw_query.len() > MAX_QUERY_BYTES {
        return Err(TencentError::request_too_large(MAX_QUERY_BYTES));
    }
    match request.header("authorization") {
        Some(authorization) => parse_tc3(request, authorization),
        None => parse_v1(request),
    }
}

fn parse_tc3(request: &RequestView<'_>, authorization: &str) -> Result<Envelope, TencentError> {
    if !authorization.trim_start().starts_with(TC3_ALGORITHM) {
        return Err(TencentError::invalid_authorization(
            "only TC3-HMAC-SHA256 is supported in the Authorization header",
        ));
    }
    let authorization = parse_tc3_authorization(authorization)
        .map_err(|error| TencentError::from_authorization(&error))?;
    let action = non_empty(request.header("x-tc-action"))
        .ok_or_else(|| TencentError::missing_parameter("X-TC-Action"))?;
    let version = non_empty(request.header("x-tc-version"))
        .ok_or_else(|| TencentError::missing_parameter("X-TC-Version"))?;
    let timestamp = non_empty(request.header("x-tc-timestamp"))
        .ok_or_else(|| TencentError::missing_parameter("X-TC-Timestamp"))?;
    if request.body.len() > MAX_TC3_BODY_BYTES {
        return Err(TencentError::request_too_large(MAX_TC3_BODY_BYTES));
    }
    Ok(Envelope {
        action,
        version,
        region: non_empty(request.header("x-tc-region")),
        token: non_empty(request.header("x-tc-token")),
        credentials: Credentials::Tc3 {
            authorization,
            timestamp,
        },
    })
}

fn parse_v1(request: &RequestView<'_>) -> Result<Envelope, TencentError> {
    let all_parameters = if request.method == "GET" {
        decode_pairs(request.raw_query.as_bytes())?
    } else {
        if request.body.len() > MAX_V1_BODY_BYTES {
            return Err(TencentError::request_too_large(MAX_V1_BODY_BYTES));
        }
        if media_type(request) != "application/x-www-form-urlencoded" {
            return Err(TencentError::invalid_authorization(
                "the request carries neither a TC3 Authorization header nor v1 signature parameters",
            ));
        }
        decode_pairs(request.body)?
    };
    // The v1 string to sign joins `name=value` with `&` over decoded text, so `A=1&B=2` and
    // `A=1%26B%3D2` would sign the same string: a parameter is one parameter only if no name
    // holds `&` or `=` and no value holds `&`.
    if let Some((name, _)) = all_parameters
        .iter()
        .find(|(name, value)| name.contains(['&', '=']) || value.contains('&'))
    {
        return Err(TencentError::ambiguous_v1_parameter(&truncated(name, 64)));
    }
    let single = |name: &str| -> Result<Option<String>, TencentError> {
        let mut values = all_parameters
            .iter()
            .filter(|(parameter, _)| parameter == name)
            .map(|(_, value)| value.clone());
        let first = values.next();
        if values.next().is_some() {
            return Err(TencentError::invalid_parameter(format!(
                "The parameter `{name}` is given more than once."
            )));
        }
        Ok(first.filter(|value| !value.is_empty()))
    };
    let secret_id = single("SecretId")?;
    let signature = single("Signature")?;
    let (Some(secret_id), Some(_)) = (secret_id, signature) else {
        return Err(TencentError::invalid_authorization(
            "the request carries neither a TC3 Authorization header nor v1 signature parameters",
        ));
    };
    let action = single("Action")?.ok_or_else(|| TencentError::missing_parameter("Action"))?;
    let version = single("Version")?.ok_or_else(|| TencentError::missing_parameter("Version"))?;
    let region = single("Region")?;
    let token = single("Token")?;
    Ok(Envelope {
        action,
        version,
        region,
        token,
        credentials: Credentials::V1 {
            secret_id,
            all_parameters,
        },
    })
}

/// The business parameters of an authenticated request: for TC3 the query of a GET or the
/// JSON or form body of a POST, for v1 every parameter but the common ones. Read only after
/// the signature was verified, so an unauthenticated request never has its body parsed.
pub fn business_parameters(
    request: &RequestView<'_>,
    envelope: &Envelope,
) -> Result<Params, TencentError> {
    match &envelope.credentials {
        Credentials::Tc3 { .. } if request.method == "GET" => {
            Params::from_flat(&decode_pairs(request.raw_query.as_bytes())?)
        }
        Credentials::Tc3 { .. } => match media_type(request).as_str() {
            "application/json" => Params::from_json(request.body),
            "application/x-www-form-urlencoded" => Params::from_flat(&decode_pairs(request.body)?),
            "multipart/form-data" => Err(TencentError::multipart_not_accepted()),
            other => Err(TencentError::invalid_parameter(format!(
                "The Content-Type `{other}` is not supported; use application/json."
            ))),
        },
        Credentials::V1 { all_parameters, .. } => {
            let business: Vec<(String, String)> = all_parameters
                .iter()
                .filter(|(name, _)| !V1_COMMON_PARAMETERS.contains(&name.as_str()))
                .cloned()
                .collect();
            Params::from_flat(&business)
        }
    }
}

/// The body of a successful response: `fields` plus `RequestId`, inside `Response`.
pub fn success_body(mut fields: Map<String, Value>, request_id: &str) -> Vec<u8> {
    fields.insert("RequestId".to_owned(), Value::String(request_id.to_owned()));
    serde_json::to_vec(&json!({ "Response": fields })).unwrap_or_default()
}

/// The body of an error response.
pub fn error_body(error: &TencentError, request_id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "Response": {
            "Error": { "Code": error.code.code(), "Message": error.message },
            "RequestId": request_id,
        }
    }))
    .unwrap_or_default()
}
