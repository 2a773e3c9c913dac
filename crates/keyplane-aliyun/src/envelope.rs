//! The Alibaba RPC envelope (protocols.md B.1–B.4): parameters merged from the query string
//! and a form body, the signature scheme (ACS3-HMAC-SHA256 in `Authorization`, or RPC v1
//! `Signature` parameters), the claimed AccessKeyId, nonce and security token, (Version,
//! Action) taken from `x-acs-*` headers or parameters, and the answer format.
//!
//! The pairs are counted before any is decoded: a request carries at most [`MAX_PARAMETERS`]
//! of them (query and form body together), so decoding allocates about the bytes received,
//! and telling the dialects apart ([`recognizes`]) decodes nothing it keeps.

use keyplane_crypto::aliyun::{decode_form_pairs, parse_acs3_authorization, Acs3Authorization};

pub use keyplane_request::{Headers, RequestView};

use crate::errors::AliyunError;
use crate::render::Format;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// The most values one list parameter (`AccessTokenId.N`) may carry.
pub const MAX_LIST_ITEMS: usize = 100;
/// The most parameters (query and form body together) one request may carry: the RPC
/// actions served take a few dozen at most, lists included.
pub const MAX_PARAMETERS: usize = 1_000;

/// Whether the request carries a form body.
fn has_form_body(request: &RequestView<'_>) -> bool {
    request.header("content-type").is_some_and(|value| {
        value
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    })
}

/// Decoded request parameters, in the order received (query first, then form body).
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Every parameter, for signature checks.
    pub fn all(&self) -> &[(String, String)] {
        &self.0
    }

    /// The first value of `name`, possibly empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(parameter, _)| parameter == name)
            .map(|(_, value)| value.as_str())
    }

    /// The first value of `name` unless absent or empty.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|value| !value.is_empty())
    }

    /// The value of a required parameter: `MissingParameter` when absent or empty.
    pub fn required(&self, name: &str) -> Result<&str, AliyunError> {
        self.non_empty(name)
            .ok_or_else(|| AliyunError::missing_parameter(name))
    }

    /// The page size a Marker-paged listing asks for with `MaxItems`: `default` when absent,
    /// else an integer from 1 to `max` (`InvalidParameter` otherwise).
    pub fn max_items(&self, default: usize, max: usize) -> Result<usize, AliyunError> {
        let Some(text) = self.non_empty("MaxItems") else {
            return Ok(default);
        };
        match text.parse::<usize>() {
            Ok(value) if (1..=max).contains(&value) => Ok(value),
            _ => Err(AliyunError::invalid_parameter(
                "MaxItems",
                &format!("it must be an integer from 1 to {max}."),
            )),
        }
    }

    /// Where a listing's page starts: after the sort key `Marker` names (`parse` reads it),
    /// at the first of `keys` (in sort order) greater than it; at 0 without a marker.
    /// `InvalidParameter` when the marker names no sort key.
    pub fn page_start<Key: Ord>(
        &self,
        keys: impl ExactSizeIterator<Item = Key>,
        parse: fn(&str) -> Option<Key>,
    ) -> Result<usize, AliyunError> {
        let Some(marker) = self.non_empty("Marker") else {
            return Ok(0);
        };
        let after = parse(marker).ok_or_else(|| {
            AliyunError::invalid_parameter("Marker", "it does not continue a listing.")
        })?;
        let count = keys.len();
        Ok(keys
            .into_iter()
            .position(|key| key > after)
            .unwrap_or(count))
    }

    /// A list parameter sent as `name.1`, `name.2`, …: `None` when `name.1` is absent.
    pub fn list(&self, name: &str) -> Result<Option<Vec<String>>, AliyunError> {
        let mut values = Vec::new();
        for index in 1.. {
            match self.non_empty(&format!("{name}.{index}")) {
                Some(value) if index <= MAX_LIST_ITEMS => values.push(value.to_owned()),
                Some(_) => {
                    return Err(AliyunError::invalid_parameter(
                        name,
                        &format!("at most {MAX_LIST_ITEMS} values are accepted."),
                    ))
                }
                None => break,
            }
        }
        Ok((!values.is_empty()).then_some(values))
    }
}

/// How a request was signed.
#[derive(Debug, Clone)]
pub enum Scheme {
    /// `Authorization: ACS3-HMAC-SHA256 …`.
    Acs3(Acs3Authorization),
    /// RPC v1: `Signature` and friends among the parameters.
    RpcV1,
}

/// A parsed RPC request.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub scheme: Scheme,
    pub access_key_id: String,
    pub action: String,
    pub version: String,
    pub nonce: Option<String>,
    pub security_token: Option<String>,
    pub params: std::sync::Arc<Params>,
}

/// How many `&`-separated pairs `encoded` holds (empty segments are skipped, as decoding
/// does), counting no further than `limit + 1`.
fn count_pairs(encoded: &[u8], limit: usize) -> usize {
    encoded
        .split(|byte| *byte == b'&')
        .filter(|segment| !segment.is_empty())
        .take(limit.saturating_add(1))
        .count()
}

/// The form body, when the request has one.
fn form_body<'a>(request: &RequestView<'a>) -> Option<&'a [u8]> {
    (has_form_body(request) && !request.body.is_empty()).then_some(request.body)
}

/// Reads the parameters (query, then a form body). Fails on a body that is not UTF-8 and on
/// more than [`MAX_PARAMETERS`] pairs (counted before any is decoded).
pub fn parameters(request: &RequestView<'_>) -> Result<Params, AliyunError> {
    let body = form_body(request);
    let in_query = count_pairs(request.raw_query.as_bytes(), MAX_PARAMETERS);
    let in_body = body.map_or(0, |body| count_pairs(body, MAX_PARAMETERS));
    if in_query + in_body > MAX_PARAMETERS {
        return Err(AliyunError::too_many_parameters(MAX_PARAMETERS));
    }
    let mut pairs = decode_form_pairs(request.raw_query);
    if let Some(body) = body {
        let body = std::str::from_utf8(body)
            .map_err(|_| AliyunError::unreadable_body("the form body is not UTF-8."))?;
        pairs.extend(decode_form_pairs(body));
    }
    Ok(Params(pairs))
}

fn is_acs3(request: &RequestView<'_>) -> bool {
    request
        .header("authorization")
        .is_some_and(|value| value.trim_start().starts_with("ACS3-"))
}

/// The format the answer must take: `Format` when given (case-insensitively); otherwise JSON
/// for ACS3 requests (which ask for `application/json`) and XML, the documented default, for
/// RPC v1 ones.
pub fn answer_format(request: &RequestView<'_>, params: &Params) -> Format {
    match params.get("Format") {
        Some(value) if value.eq_ignore_ascii_case("xml") => Format::Xml,
        Some(value) if value.eq_ignore_ascii_case("json") => Format::Json,
        _ if is_acs3(request) => Format::Json,
        Some(_) => Format::Json,
        None => Format::Xml,
    }
}

fn header_or_parameter(
    request: &RequestView<'_>,
    params: &Params,
    header: &str,
    parameter: &str,
) -> Option<String> {
    request
        .header(header)
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .or_else(|| params.non_empty(parameter))
        .map(str::to_owned)
}

/// Reads the envelope of an RPC request whose parameters were read by [`parameters`].
pub fn parse(request: &RequestView<'_>, params: Params) -> Result<Envelope, AliyunError> {
    if !matches!(request.method, "GET" | "POST") {
        return Err(AliyunError::unsupported_method(request.method));
    }
    if is_acs3(request) {
        let authorization = parse_acs3_authorization(request.header("authorization").unwrap_or(""))
            .map_err(|error| AliyunError::incomplete_signature(&format!("{error}.")))?;
        let action = header_or_parameter(request, &params, "x-acs-action", "Action")
            .ok_or_else(|| AliyunError::missing_parameter("Action"))?;
        let version = header_or_parameter(request, &params, "x-acs-version", "Version")
            .ok_or_else(|| AliyunError::missing_parameter("Version"))?;
        let nonce = request.header("x-acs-signature-nonce").map(str::to_owned);
        let security_token = request
            .header("x-acs-security-token")
            .filter(|value| !value.is_empty())
            .map(str::to_owned);
        return Ok(Envelope {
            access_key_id: authorization.access_key_id.clone(),
            scheme: Scheme::Acs3(authorization),
            action,
            version,
            nonce,
            security_token,
            params: std::sync::Arc::new(params),
        });
    }
    let access_key_id = params.required("AccessKeyId")?.to_owned();
    let action = params.required("Action")?.to_owned();
    let version = params.required("Version")?.to_owned();
    Ok(Envelope {
        scheme: Scheme::RpcV1,
        access_key_id,
        action,
        version,
        nonce: params.non_empty("SignatureNonce").map(str::to_owned),
        security_token: params.non_empty("SecurityToken").map(str::to_owned),
        params: std::sync::Arc::new(params),
    })
}

/// Whether `name` starts with `prefix`, ASCII case-insensitively. Compares bytes: slicing the
/// `str` could split a character of a name that is not ASCII.
fn has_prefix_ignoring_case(name: &str, prefix: &str) -> bool {
    name.as_bytes()
        .get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// Whether a request is in the Alibaba dialect: an ACS3 or ROA `Authorization`, any `x-acs-*`
/// header, or RPC v1's `AccessKeyId` / `SignatureVersion` parameters — and no sign of the
/// Tencent dialect (`X-TC-*` headers, a TC3 `Authorization`, a `SecretId` parameter).
pub fn recognizes(request: &RequestView<'_>) -> bool {
    let mut alibaba_header = false;
    for (name, value) in request.headers.iter() {
        if has_prefix_ignoring_case(name, "x-tc-") {
            return false;
        }
        if name.eq_ignore_ascii_case("authorization") {
            let value = value.trim_start();
            if value.starts_with("TC3-") {
                return false;
            }
            if value.starts_with("ACS3-") || value.starts_with("acs ") {
                alibaba_header = true;
            }
        }
        if has_prefix_ignoring_case(name, "x-acs-") {
            alibaba_header = true;
        }
    }
    if alibaba_header {
        return true;
    }
    // The names are compared as they are decoded, and nothing decoded is kept: the pairs
    // looked at are bounded like those `parameters` reads.
    if form_body(request).is_some_and(|body| std::str::from_utf8(body).is_err()) {
        return false;
    }
    let body = form_body(request).unwrap_or_default();
    let mut secret_id = false;
    let mut alibaba_parameter = false;
    for (name, _) in form_urlencoded::parse(request.raw_query.as_bytes())
        .chain(form_urlencoded::parse(body))
        .take(MAX_PARAMETERS + 1)
    {
        match name.as_ref() {
            "SecretId" => secret_id = true,
            "AccessKeyId" | "SignatureVersion" => alibaba_parameter = true,
            _ => {}
        }
    }
    !secret_id && alibaba_parameter
}
