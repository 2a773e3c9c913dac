//! The Alibaba dialect in-process, over a real SQLite store and the production credential
//! factory, with a manual clock: every captured RPC vector (IMS and SMC; ACS3 and RPC v1; the
//! tea, legacy and pop-core clients) authenticates through the full pipeline at its own
//! timestamp and reaches its action; a replay is refused as a used nonce; a one-byte change of
//! the query, a signed header or the signature is refused; the 15-minute window holds; answers
//! are 4xx with the error shape on failure, and XML when `Format=XML` asked for it.

use std::sync::Arc;

use keyplane_aliyun::{AliyunDialect, IncomingRequest, OutgoingResponse};
use keyplane_core::Authority;
use keyplane_crypto::aliyun::{decode_form_pairs, parse_iso8601_timestamp};
use keyplane_testkit::in_process::{dialect_config, InProcess};
use keyplane_testkit::mutation::{byte_mutants, signed_header_mutants};
use keyplane_testkit::vectors;
use serde_json::Value;
use time::OffsetDateTime;

/// The account, user and root key every captured Alibaba vector was signed for.
const VECTOR_ACCOUNT: u64 = vectors::ALIYUN.account_id;
const VECTOR_USER_UIN: u64 = vectors::ALIYUN_USER_UIN;
const VECTOR_KEY_ID: &str = vectors::ALIYUN.key_id;

struct Harness {
    dialect: AliyunDialect,
    authority: Arc<Authority>,
    _in_process: InProcess,
}

async fn harness() -> Harness {
    let start = time::macros::datetime!(2026-11-24 00:00:00 UTC);
    let in_process = InProcess::start(dialect_config());
    in_process
        .seed_vector_account(&vectors::ALIYUN, start)
        .await;
    in_process
        .seed_user(VECTOR_ACCOUNT, VECTOR_USER_UIN, "alice", start, "test")
        .await;
    Harness {
        dialect: AliyunDialect::new(
            in_process.authority.clone(),
            keyplane_aliyun::eas::PublicUrls::new("http://127.0.0.1:18080").unwrap(),
        ),
        authority: in_process.authority.clone(),
        _in_process: in_process,
    }
}

/// One captured request.
#[derive(Clone)]
struct Vector {
    name: String,
    action: String,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    signed_headers: Vec<String>,
}

impl Vector {
    /// The time the request was signed at.
    fn signed_at(&self) -> OffsetDateTime {
        let text = self
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("x-acs-date"))
            .map(|(_, value)| value.clone())
            .or_else(|| {
                let mut parameters = decode_form_pairs(&self.query);
                parameters.extend(decode_form_pairs(&String::from_utf8_lossy(&self.body)));
                parameters
                    .into_iter()
                    .find(|(name, _)| name == "Timestamp")
                    .map(|(_, value)| value)
            })
            .expect("every RPC vector carries its time");
        OffsetDateTime::from_unix_timestamp(parse_iso8601_timestamp(&text).unwrap()).unwrap()
    }
}

/// Every signed Alibaba RPC vector (IMS and SMC) in `vectors/`.
fn rpc_vectors() -> Vec<Vector> {
    let directory = vectors::directory();
    let mut vectors = Vec::new();
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        let document: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if document["cloud"] != "alibaba"
            || document["operation"]["style"] != "RPC"
            || document["credentials"]["access_key_id"] != VECTOR_KEY_ID
        {
            continue;
        }
        let request = &document["request"];
        let target = request["target"].as_str().unwrap();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let authorization = request["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|header| {
                header[0]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case("authorization")
            })
            .map(|header| header[1].as_str().unwrap().to_owned());
        let signed_headers = authorization
            .and_then(|value| {
                value
                    .split("SignedHeaders=")
                    .nth(1)
                    .map(|rest| rest.split(',').next().unwrap_or("").to_owned())
            })
            .map(|list| list.split(';').map(str::to_owned).collect())
            .unwrap_or_default();
        vectors.push(Vector {
            name: document["name"].as_str().unwrap().to_owned(),
            action: document["operation"]["action"].as_str().unwrap().to_owned(),
            method: request["method"].as_str().unwrap().to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: keyplane_testkit::vectors::header_pairs(&request["headers"]),
            body: request["body"].as_str().unwrap_or("").as_bytes().to_vec(),
            signed_headers,
        });
    }
    vectors.sort_by(|left, right| left.name.cmp(&right.name));
    vectors
}

async fn send(harness: &Harness, vector: &Vector, now: OffsetDateTime) -> OutgoingResponse {
    let headers = keyplane_testkit::signing::borrowed(&vector.headers);
    let request = IncomingRequest {
        method: &vector.method,
        path: &vector.path,
        raw_query: &vector.query,
        headers: &headers,
        body: &vector.body,
        source_address: "127.0.0.1",
        now,
    };
    assert!(
        keyplane_aliyun::recognizes(&request.raw()),
        "{}: not recognised as Alibaba",
        vector.name
    );
    harness.dialect.handle(request.incoming()).await
}

/// The error code of an answer, from JSON or XML.
fn code_of(response: &OutgoingResponse) -> Option<String> {
    let body = String::from_utf8_lossy(&response.body);
    if response.content_type.starts_with("text/xml") {
        return body
            .split("<Code>")
            .nth(1)
            .and_then(|rest| rest.split("</Code>").next())
            .map(str::to_owned);
    }
    let json: Value = serde_json::from_str(&body).unwrap();
    json["Code"].as_str().map(str::to_owned)
}

/// What reaching the action gives, per vector: the captured requests name a key and tokens
/// that do not exist, and STS credentials Keyplane does not issue.
fn expected_outcome(vector: &Vector) -> Option<&'static str> {
    if vector.name.contains("_sts") {
        return Some("InvalidSecurityToken.MismatchWithAccessKey");
    }
    match vector.action.as_str() {
        "UpdateAccessKey" | "DeleteAccessKey" | "GetAccessKeyLastUsed" => {
            Some("EntityNotExist.User.AccessKey")
        }
        "DisableAccessToken" | "DeleteAccessToken" => Some("InvalidAccessTokenId.NotFound"),
        _ => None,
    }
}

const SIGNATURE_CODES: &[&str] = &[
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidTimeStamp.Format",
    "InvalidTimeStamp.Expired",
    "InvalidAccessKeyId.NotFound",
    "InvalidSignatureMethod",
    "InvalidSignatureVersion",
    "MissingParameter",
    "InvalidVersion",
    "InvalidAction.NotFound",
];

#[tokio::test]
async fn every_rpc_vector_reaches_its_action_once_and_not_after_a_replay() {
    let vectors = rpc_vectors();
    let count = vectors.len();
    assert!(count >= 20, "found only {count} RPC vectors");
    for vector in &vectors {
        let harness = harness().await;
        let now = vector.signed_at();
        let response = send(&harness, vector, now).await;
        let code = code_of(&response);
        assert_eq!(
            code.as_deref(),
            expected_outcome(vector),
            "{}: {}",
            vector.name,
            String::from_utf8_lossy(&response.body)
        );
        if code.is_none() {
            assert_eq!(response.status, 200, "{}", vector.name);
            let body = String::from_utf8_lossy(&response.body);
            assert!(!body.contains("\"Code\""), "{}: {body}", vector.name);
        } else {
            assert!(response.status >= 400, "{}", vector.name);
        }
        // A replay is refused (STS requests are refused for their token either way).
        let replay = send(&harness, vector, now).await;
        assert_eq!(replay.status, 400, "{}", vector.name);
        let expected_replay = if vector.name.contains("_sts") {
            "InvalidSecurityToken.MismatchWithAccessKey"
        } else {
            "SignatureNonceUsed"
        };
        assert_eq!(
            code_of(&replay).as_deref(),
            Some(expected_replay),
            "{}",
            vector.name
        );
    }
}

#[tokio::test]
async fn xml_is_answered_when_format_xml_is_asked_for() {
    let vector = rpc_vectors()
        .into_iter()
        .find(|vector| vector.name == "alicore_ims_CreateAccessKey_rpc_v1_get_xml")
        .unwrap();
    let harness = harness().await;
    let response = send(&harness, &vector, vector.signed_at()).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.content_type, "text/xml;charset=utf-8");
    let body = String::from_utf8(response.body).unwrap();
    assert!(body.starts_with("<?xml"), "{body}");
    assert!(
        body.contains("<CreateAccessKeyResponse><RequestId>"),
        "{body}"
    );
    assert!(body.contains("<AccessKey><AccessKeyId>LTAI"), "{body}");
    let replay = send(&harness, &vector, vector.signed_at()).await;
    let body = String::from_utf8(replay.body).unwrap();
    assert_eq!(replay.content_type, "text/xml;charset=utf-8");
    assert!(body.contains("<Error><RequestId>"), "{body}");
    assert!(body.contains("<Code>SignatureNonceUsed</Code>"), "{body}");
    assert!(body.contains("<HostId>ims.aliyuncs.com</HostId>"), "{body}");
}

#[tokio::test]
async fn the_fifteen_minute_window_holds_in_both_directions() {
    for vector in rpc_vectors()
        .iter()
        .filter(|vector| expected_outcome(vector).is_none())
    {
        let signed_at = vector.signed_at();
        for offset in [-901, 901, -900, 900] {
            let harness = harness().await;
            let response = send(
                &harness,
                vector,
                signed_at + time::Duration::seconds(offset),
            )
            .await;
            if offset.abs() > 900 {
                assert_eq!(response.status, 400);
                assert_eq!(
                    code_of(&response).as_deref(),
                    Some("InvalidTimeStamp.Expired"),
                    "{} at {offset}",
                    vector.name
                );
            } else {
                assert_eq!(response.status, 200, "{} at {offset}", vector.name);
            }
        }
    }
}

#[tokio::test]
async fn one_changed_byte_of_the_query_a_signed_header_or_the_body_is_refused() {
    let harness = harness().await;
    let mut refused = 0;
    for vector in rpc_vectors() {
        let now = vector.signed_at();
        let mut mutants = Vec::new();
        for query in byte_mutants(&vector.query) {
            mutants.push(Vector {
                query,
                ..vector.clone()
            });
        }
        for headers in signed_header_mutants(&vector.headers, &vector.signed_headers) {
            mutants.push(Vector {
                headers,
                ..vector.clone()
            });
        }
        if let Ok(body) = std::str::from_utf8(&vector.body) {
            for changed in byte_mutants(body) {
                mutants.push(Vector {
                    body: changed.into_bytes(),
                    ..vector.clone()
                });
            }
        }
        for mutant in mutants {
            if mutant.query == vector.query
                && mutant.headers == vector.headers
                && mutant.body == vector.body
            {
                continue;
            }
            let response = send(&harness, &mutant, now).await;
            let code = code_of(&response);
            // A change may also land in the nonce, making the request new but still forged.
            assert!(
                code.as_deref()
                    .is_some_and(|code| SIGNATURE_CODES.contains(&code)),
                "{}: a one-byte change was answered {code:?}: {}",
                vector.name,
                String::from_utf8_lossy(&response.body)
            );
            assert!(response.status >= 400);
            refused += 1;
        }
    }
    assert!(refused > 3000, "only {refused} mutants");
}

#[tokio::test]
async fn an_expired_activation_code_is_refused_and_consumes_nothing() {
    use keyplane_core::authority::NewActivationCodeRequest;
    use keyplane_core::{Caller, RequestContext};
    let harness = harness().await;
    let created_at = time::macros::datetime!(2026-11-24 01:00:00 UTC);
    let mut context = RequestContext::operator(created_at, "r-1".to_owned(), "CreateAccessToken");
    context.caller = Some(Caller {
        account_id: VECTOR_ACCOUNT,
        uin: VECTOR_ACCOUNT,
        key_id: VECTOR_KEY_ID.to_owned(),
    });
    context.product = "smc".to_owned();
    context.authorization = Some(
        harness
            .authority
            .authorize(&context, "smc:CreateAccessToken", |_| vec!["*".to_owned()])
            .await
            .unwrap(),
    );
    let issued = harness
        .authority
        .create_activation_code(
            &context,
            NewActivationCodeRequest {
                name: Some("short-lived".to_owned()),
                time_to_live_days: Some(1),
                ..NewActivationCodeRequest::default()
            },
        )
        .await
        .unwrap();
    let register = |now: OffsetDateTime| {
        let headers = [
            (
                "x-keyplane-access-token-id",
                issued.activation_code.id.clone(),
            ),
            (
                "x-keyplane-access-token-code",
                issued.code.expose().to_owned(),
            ),
        ];
        let dialect = harness.dialect.clone();
        async move {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(name, value)| (*name, value.as_str()))
                .collect();
            let body = br#"{"name":"web-1","hostname":"web-1.internal","os":"Debian 12","fingerprint":"machine-0001"}"#;
            dialect
                .register_source_server(IncomingRequest {
                    method: "POST",
                    path: "/smc/v1/source-servers",
                    raw_query: "",
                    headers: &headers,
                    body,
                    source_address: "127.0.0.1",
                    now,
                })
                .await
        }
    };
    let expired = register(created_at + time::Duration::days(1)).await;
    assert_eq!(expired.status, 403);
    assert_eq!(code_of(&expired).as_deref(), Some("AccessToken.Expired"));
    let stored = harness
        .authority
        .store()
        .activation_code(&issued.activation_code.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.registered_count, 0);
    let in_time = register(created_at + time::Duration::hours(23)).await;
    assert_eq!(in_time.status, 201);
}
