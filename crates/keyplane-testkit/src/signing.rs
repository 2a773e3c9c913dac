//! Credentials and request signing as the SDKs sign: TC3 POSTs with a JSON body (the Python
//! SDK), ACS3 requests with an empty body (the tea SDKs), and the API versions they name.

use keyplane_crypto::tencent::{sign_tc3, Tc3Request};
use keyplane_request::{Headers, RequestView};
use serde_json::Value;

pub const CAM_VERSION: &str = "2019-01-16";
pub const API_GATEWAY_VERSION: &str = "2018-08-08";
pub const IMS_VERSION: &str = "2019-08-15";
pub const SMC_VERSION: &str = "2019-06-01";
pub const EAS_VERSION: &str = "2021-07-01";

/// Headers as the dialects take them: borrowed name and value pairs.
pub fn borrowed(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

/// Root or user credentials for signing.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub secret_id: String,
    pub secret_key: String,
}

impl Credentials {
    /// The root's Tencent key from `keyplane init --json`.
    pub fn root(init_output: &Value) -> Self {
        Self {
            secret_id: text(&init_output["tencent"]["secret_id"]),
            secret_key: text(&init_output["tencent"]["secret_key"]),
        }
    }

    /// The key in a CAM `CreateAccessKey` answer (its `Response` object).
    pub fn created(response: &Value) -> Self {
        Self {
            secret_id: text(&response["AccessKey"]["AccessKeyId"]),
            secret_key: text(&response["AccessKey"]["SecretAccessKey"]),
        }
    }
}

/// The headers of a TC3-signed POST with a JSON body, as the Python SDK sends them.
pub fn tc3_headers(
    host: &str,
    credentials: &Credentials,
    version: &str,
    action: &str,
    body: &str,
    timestamp: i64,
) -> Vec<(String, String)> {
    let timestamp = timestamp.to_string();
    let headers = [("Content-Type", "application/json"), ("Host", host)];
    let request = Tc3Request {
        request: RequestView {
            method: "POST",
            path: "/",
            raw_query: "",
            headers: Headers::new(&headers),
            body: body.as_bytes(),
        },
        timestamp: &timestamp,
    };
    let service = if version == CAM_VERSION {
        "cam"
    } else {
        "apigateway"
    };
    let authorization = sign_tc3(
        &request,
        &credentials.secret_id,
        credentials.secret_key.as_bytes(),
        service,
        &["content-type", "host"],
    )
    .expect("signing");
    [
        ("Content-Type", "application/json"),
        ("Host", host),
        ("X-TC-Action", action),
        ("X-TC-Version", version),
        ("X-TC-Region", "ap-guangzhou"),
        ("X-TC-Timestamp", timestamp.as_str()),
        ("Authorization", authorization.as_str()),
    ]
    .iter()
    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
    .collect()
}

/// Alibaba (ACS3 / RPC v1) credentials for signing.
#[derive(Debug, Clone)]
pub struct AliyunCredentials {
    pub access_key_id: String,
    pub access_key_secret: String,
}

impl AliyunCredentials {
    /// The root's Alibaba key from `keyplane init --json`.
    pub fn root(init_output: &Value) -> Self {
        Self {
            access_key_id: text(&init_output["aliyun"]["access_key_id"]),
            access_key_secret: text(&init_output["aliyun"]["access_key_secret"]),
        }
    }

    /// The key in an IMS `CreateAccessKey` answer.
    pub fn created(answer: &Value) -> Self {
        Self {
            access_key_id: text(&answer["AccessKey"]["AccessKeyId"]),
            access_key_secret: text(&answer["AccessKey"]["AccessKeySecret"]),
        }
    }
}

/// A string field of an answer (panics when it is not a string).
fn text(value: &Value) -> String {
    value.as_str().expect("a string field").to_owned()
}

/// The headers and raw query of an ACS3-signed RPC POST with the parameters in the query and
/// an empty body, as the tea SDKs send it.
pub fn acs3_parts(
    host: &str,
    credentials: &AliyunCredentials,
    version: &str,
    action: &str,
    parameters: &[(&str, &str)],
    now: time::OffsetDateTime,
) -> (String, Vec<(String, String)>) {
    let raw_query = encoded_query(parameters);
    let headers = acs3_headers(
        host,
        credentials,
        "POST",
        "/",
        &raw_query,
        version,
        action,
        now,
    );
    (raw_query, headers)
}

/// `name=value` pairs, RFC 3986-encoded, joined by `&`, in the order given.
pub fn encoded_query(parameters: &[(&str, &str)]) -> String {
    use keyplane_crypto::aliyun::percent_encode_rfc3986;
    let pairs: Vec<String> = parameters
        .iter()
        .map(|(name, value)| {
            let (name, value) = (percent_encode_rfc3986(name), percent_encode_rfc3986(value));
            format!("{name}={value}")
        })
        .collect();
    pairs.join("&")
}

/// The headers of an ACS3-signed request with an empty body (RPC on `/`, or ROA on its
/// path), as the tea SDKs send them, with a fresh nonce.
#[allow(clippy::too_many_arguments, reason = "one argument per signed part")]
pub fn acs3_headers(
    host: &str,
    credentials: &AliyunCredentials,
    method: &str,
    raw_path: &str,
    raw_query: &str,
    version: &str,
    action: &str,
    now: time::OffsetDateTime,
) -> Vec<(String, String)> {
    use keyplane_crypto::aliyun::{acs3_hashed_payload, sign_acs3};
    let date = now
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap();
    let nonce = format!("{:032x}", rand::random::<u128>());
    let mut headers: Vec<(String, String)> = [
        ("host", host),
        ("x-acs-action", action),
        ("x-acs-version", version),
        ("x-acs-date", date.as_str()),
        ("x-acs-signature-nonce", nonce.as_str()),
        ("x-acs-content-sha256", acs3_hashed_payload(b"").as_str()),
    ]
    .iter()
    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
    .collect();
    let signed_names: Vec<String> = headers.iter().map(|(name, _)| name.clone()).collect();
    let borrowed: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let authorization = sign_acs3(
        &RequestView {
            method,
            path: raw_path,
            raw_query,
            headers: Headers::new(&borrowed),
            body: b"",
        },
        &credentials.access_key_id,
        &signed_names,
        credentials.access_key_secret.as_bytes(),
    );
    headers.push(("authorization".to_owned(), authorization));
    headers
}
