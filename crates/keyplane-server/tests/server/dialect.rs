//! The Tencent dialect in-process, over a real SQLite store and the production credential
//! factory, with a manual clock: every captured SDK vector authenticates through the full
//! pipeline at its own timestamp and fails on a one-byte change; the signature window, rate
//! limits, the authorization rule, last-use tracking, refusal auditing and the error table.

use std::path::Path;
use std::sync::Arc;

use keyplane_core::clock::ManualClock;
use keyplane_core::rate_limit::RateLimits;
use keyplane_core::{Authority, AuthorityConfig, Clock, CoreError, Field, Violation};
use keyplane_engine::{Headers, Incoming, RequestView};
use keyplane_tencent::{Product, TencentDialect, TencentError, TencentSettings};
use keyplane_testkit::in_process::{dialect_config, unlimited, InProcess};
use keyplane_testkit::vectors;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::support::{tc3_headers, Credentials, API_GATEWAY_VERSION, CAM_VERSION};

/// The account and root key every captured vector was signed for.
const VECTOR_ACCOUNT: u64 = vectors::TENCENT.account_id;
const VECTOR_SECRET_ID: &str = vectors::TENCENT.key_id;
const VECTOR_SECRET_KEY: &str = vectors::TENCENT.secret;
const HOST: &str = "127.0.0.1:18080";

struct Harness {
    dialect: TencentDialect,
    authority: Arc<Authority>,
    clock: Arc<ManualClock>,
    root: Credentials,
    _in_process: InProcess,
}

async fn harness(rate_limits: RateLimits) -> Harness {
    harness_with(rate_limits, TencentSettings::default()).await
}

async fn harness_with(rate_limits: RateLimits, settings: TencentSettings) -> Harness {
    let start = time::macros::datetime!(2026-11-24 10:00:00 UTC);
    let in_process = InProcess::start(AuthorityConfig {
        rate_limits,
        ..dialect_config()
    });
    in_process
        .seed_vector_account(&vectors::TENCENT, start)
        .await;
    Harness {
        dialect: TencentDialect::with_settings(in_process.authority.clone(), settings),
        authority: in_process.authority.clone(),
        clock: Arc::new(ManualClock::new(start)),
        root: Credentials {
            secret_id: VECTOR_SECRET_ID.to_owned(),
            secret_key: VECTOR_SECRET_KEY.to_owned(),
        },
        _in_process: in_process,
    }
}

/// Sends raw request parts through the dialect and returns the parsed response.
async fn dispatch(
    harness: &Harness,
    method: &str,
    raw_query: &str,
    headers: &[(String, String)],
    body: &[u8],
    now: OffsetDateTime,
) -> Value {
    let headers = keyplane_testkit::signing::borrowed(headers);
    let response = harness
        .dialect
        .handle(&Incoming {
            request: RequestView {
                method,
                path: "/",
                raw_query,
                headers: Headers::new(&headers),
                body,
            },
            source_address: "127.0.0.1",
            now,
        })
        .await;
    serde_json::from_slice(&response.body).unwrap()
}

fn error_code(response: &Value) -> Option<String> {
    response["Response"]["Error"]["Code"]
        .as_str()
        .map(str::to_owned)
}

/// Signs with `credentials` at the harness clock's time and sends.
async fn call(
    harness: &Harness,
    credentials: &Credentials,
    version: &str,
    action: &str,
    body: Value,
) -> Value {
    let now = harness.clock.now();
    let body = body.to_string();
    let headers = tc3_headers(
        HOST,
        credentials,
        version,
        action,
        &body,
        now.unix_timestamp(),
    );
    dispatch(harness, "POST", "", &headers, body.as_bytes(), now).await
}

/// The error code the root gets for one call (None on success).
async fn root_error(harness: &Harness, version: &str, action: &str, body: Value) -> Option<String> {
    error_code(&call(harness, &harness.root, version, action, body).await)
}

struct Vector {
    name: String,
    method: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timestamp: i64,
    unsigned_payload: bool,
}

fn load_vectors() -> Vec<Vector> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors");
    let mut vectors = Vec::new();
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let value: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        if value["cloud"] != "tencent" || name.starts_with("kat_") || value.get("request").is_none()
        {
            continue;
        }
        let request = &value["request"];
        let headers: Vec<(String, String)> =
            keyplane_testkit::vectors::header_pairs(&request["headers"]);
        use base64::Engine;
        let body = base64::engine::general_purpose::STANDARD
            .decode(request["body_base64"].as_str().unwrap_or(""))
            .unwrap();
        let query = request["query"].as_str().unwrap_or("").to_owned();
        let header_timestamp = headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case("x-tc-timestamp"))
            .map(|(_, value)| value.clone());
        let timestamp = header_timestamp.unwrap_or_else(|| {
            form_urlencoded::parse(query.as_bytes())
                .chain(form_urlencoded::parse(&body))
                .find(|(parameter, _)| parameter == "Timestamp")
                .map(|(_, value)| value.into_owned())
                .expect("a v1 vector has a Timestamp")
        });
        let unsigned_payload = headers.iter().any(|(header, value)| {
            header.eq_ignore_ascii_case("x-tc-content-sha256") && value == "UNSIGNED-PAYLOAD"
        });
        vectors.push(Vector {
            name,
            method: request["method"].as_str().unwrap().to_owned(),
            query,
            headers,
            body,
            timestamp: timestamp.parse().unwrap(),
            unsigned_payload,
        });
    }
    vectors.sort_by(|left, right| left.name.cmp(&right.name));
    vectors
}

/// Changes the last alphanumeric byte of `bytes` to another alphanumeric byte.
fn mutate_last_alphanumeric(bytes: &mut [u8]) -> bool {
    match bytes.iter().rposition(u8::is_ascii_alphanumeric) {
        Some(position) => {
            bytes[position] = if bytes[position] == b'7' { b'8' } else { b'7' };
            true
        }
        None => false,
    }
}

#[tokio::test]
async fn every_captured_vector_authenticates_and_a_changed_byte_does_not() {
    // The UNSIGNED-PAYLOAD vector authenticates once the operator allows it (refused by
    // default: hostile_parsing.rs).
    let harness = harness_with(
        unlimited(),
        TencentSettings {
            allow_unsigned_payload: true,
            ..TencentSettings::default()
        },
    )
    .await;
    let vectors = load_vectors();
    let count = vectors.len();
    assert!(count >= 25, "found {count} Tencent vectors");
    for vector in &vectors {
        let now = OffsetDateTime::from_unix_timestamp(vector.timestamp).unwrap();
        let response = dispatch(
            &harness,
            &vector.method,
            &vector.query,
            &vector.headers,
            &vector.body,
            now,
        )
        .await;
        let code = error_code(&response);
        if vector.name.contains("token") {
            assert_eq!(
                code.as_deref(),
                Some("AuthFailure.TokenFailure"),
                "{}",
                vector.name
            );
        } else {
            assert!(
                !code.as_deref().unwrap_or("").starts_with("AuthFailure"),
                "{} did not authenticate: {response}",
                vector.name
            );
        }

        // A request signed for another body, query or host is refused.
        let refused = async |query: &str, headers: &[(String, String)], body: &[u8], what| {
            let response = dispatch(&harness, &vector.method, query, headers, body, now).await;
            assert_eq!(
                error_code(&response).as_deref(),
                Some("AuthFailure.SignatureFailure"),
                "{} {what}",
                vector.name
            );
        };
        let mut body = vector.body.clone();
        if !vector.unsigned_payload && mutate_last_alphanumeric(&mut body) {
            refused(&vector.query, &vector.headers, &body, "body").await;
        }
        let mut query = vector.query.clone().into_bytes();
        if mutate_last_alphanumeric(&mut query) {
            let query = String::from_utf8(query).unwrap();
            refused(&query, &vector.headers, &vector.body, "query").await;
        }
        let moved_host: Vec<(String, String)> = vector
            .headers
            .iter()
            .map(|(name, value)| {
                let value = if name.eq_ignore_ascii_case("host") {
                    value.replace("127.0.0.1", "127.0.0.2")
                } else {
                    value.clone()
                };
                (name.clone(), value)
            })
            .collect();
        refused(&vector.query, &moved_host, &vector.body, "host").await;
    }
}

#[tokio::test]
async fn the_signature_window_is_five_minutes_either_way() {
    let harness = harness(unlimited()).await;
    let signed_at = harness.clock.now();
    let body = "{}";
    let headers = tc3_headers(
        HOST,
        &harness.root,
        CAM_VERSION,
        "ListAccessKeys",
        body,
        signed_at.unix_timestamp(),
    );
    for (offset, expected) in [
        (-300, None),
        (300, None),
        (301, Some("AuthFailure.SignatureExpire")),
        (-301, Some("AuthFailure.SignatureExpire")),
    ] {
        let now = signed_at + time::Duration::seconds(offset);
        let response = dispatch(&harness, "POST", "", &headers, body.as_bytes(), now).await;
        assert_eq!(
            error_code(&response).as_deref(),
            expected,
            "offset {offset}"
        );
    }
}

#[tokio::test]
async fn rate_limits_follow_the_published_defaults_on_the_injected_clock() {
    let harness = harness(keyplane_server::config::default_rate_limits()).await;
    for _ in 0..20 {
        let response = call(
            &harness,
            &harness.root,
            CAM_VERSION,
            "ListAccessKeys",
            json!({}),
        )
        .await;
        assert_eq!(error_code(&response), None);
    }
    assert_eq!(
        root_error(&harness, CAM_VERSION, "ListAccessKeys", json!({}))
            .await
            .as_deref(),
        Some("RequestLimitExceeded")
    );
    harness.clock.advance(time::Duration::milliseconds(50));
    assert_eq!(
        root_error(&harness, CAM_VERSION, "ListAccessKeys", json!({}))
            .await
            .as_deref(),
        None,
        "one request per 1/20 s refills"
    );
    harness.clock.advance(time::Duration::seconds(1));
    for _ in 0..5 {
        let response = call(
            &harness,
            &harness.root,
            CAM_VERSION,
            "UpdateAccessKey",
            json!({ "AccessKeyId": VECTOR_SECRET_ID, "Status": "Active" }),
        )
        .await;
        assert_eq!(error_code(&response), None);
    }
    assert_eq!(
        root_error(
            &harness,
            CAM_VERSION,
            "UpdateAccessKey",
            json!({ "AccessKeyId": VECTOR_SECRET_ID, "Status": "Active" })
        )
        .await
        .as_deref(),
        Some("RequestLimitExceeded")
    );
}

#[tokio::test]
async fn sub_users_with_manage_own_access_keys_manage_only_their_own_keys() {
    let harness = harness(unlimited()).await;
    let context = keyplane_core::RequestContext::operator(
        harness.clock.now(),
        "test".to_owned(),
        "CreateUser",
    );
    let alice = harness
        .authority
        .create_user(&context, VECTOR_ACCOUNT, "alice", Default::default())
        .await
        .unwrap();
    let bob = harness
        .authority
        .create_user(&context, VECTOR_ACCOUNT, "bob", Default::default())
        .await
        .unwrap();
    let created = call(
        &harness,
        &harness.root,
        CAM_VERSION,
        "CreateAccessKey",
        json!({ "TargetUin": alice.uin, "Description": "alice-key" }),
    )
    .await;
    assert_eq!(created["Response"]["AccessKey"]["Description"], "alice-key");
    let alice_key = Credentials {
        secret_id: created["Response"]["AccessKey"]["AccessKeyId"]
            .as_str()
            .unwrap()
            .to_owned(),
        secret_key: created["Response"]["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_owned(),
    };
    // Without a policy, the sub-user may not even list its own keys.
    let response = call(
        &harness,
        &alice_key,
        CAM_VERSION,
        "ListAccessKeys",
        json!({}),
    )
    .await;
    assert_eq!(
        error_code(&response).as_deref(),
        Some("AuthFailure.UnauthorizedOperation")
    );
    let attached = call(
        &harness,
        &harness.root,
        CAM_VERSION,
        "AttachUserPolicy",
        json!({ "PolicyId": 3, "AttachUin": alice.uin }),
    )
    .await;
    assert_eq!(error_code(&attached), None, "{attached}");
    let cases = [
        (CAM_VERSION, "CreateAccessKey", json!({}), None),
        (
            CAM_VERSION,
            "ListAccessKeys",
            json!({ "TargetUin": alice.uin }),
            None,
        ),
        (
            CAM_VERSION,
            "CreateAccessKey",
            json!({ "TargetUin": VECTOR_ACCOUNT }),
            Some("AuthFailure.UnauthorizedOperation"),
        ),
        (
            CAM_VERSION,
            "ListAccessKeys",
            json!({ "TargetUin": VECTOR_ACCOUNT }),
            Some("AuthFailure.UnauthorizedOperation"),
        ),
        (
            CAM_VERSION,
            "ListAccessKeys",
            json!({ "TargetUin": bob.uin }),
            Some("AuthFailure.UnauthorizedOperation"),
        ),
        (
            CAM_VERSION,
            "CreateAccessKey",
            json!({}),
            Some("OperationDenied.AccessKeyOverLimit"),
        ),
        (
            CAM_VERSION,
            "DeleteAccessKey",
            json!({ "AccessKeyId": VECTOR_SECRET_ID }),
            Some("OperationDenied.UinNotMatch"),
        ),
        (
            API_GATEWAY_VERSION,
            "DescribeApiKeysStatus",
            json!({}),
            Some("AuthFailure.UnauthorizedOperation"),
        ),
        (
            API_GATEWAY_VERSION,
            "CreateApiKey",
            json!({ "SecretName": "x" }),
            Some("AuthFailure.UnauthorizedOperation"),
        ),
    ];
    for (version, action, body, expected) in cases {
        let response = call(&harness, &alice_key, version, action, body.clone()).await;
        assert_eq!(
            error_code(&response).as_deref(),
            expected,
            "{action} {body}"
        );
    }
    assert_eq!(
        root_error(
            &harness,
            CAM_VERSION,
            "UpdateAccessKey",
            json!({ "AccessKeyId": alice_key.secret_id, "Status": "Inactive" })
        )
        .await
        .as_deref(),
        Some("OperationDenied.UinNotMatch"),
        "TargetUin defaults to the caller"
    );
    assert_eq!(
        root_error(&harness, CAM_VERSION, "UpdateAccessKey", json!({ "AccessKeyId": alice_key.secret_id, "Status": "Inactive", "TargetUin": alice.uin })).await.as_deref(),
        None
    );
    // An unknown target user is reported as such by every key action, though only the
    // failure path looks the user up.
    for (action, body) in [
        ("CreateAccessKey", json!({ "TargetUin": 999 })),
        ("ListAccessKeys", json!({ "TargetUin": 999 })),
        (
            "UpdateAccessKey",
            json!({ "AccessKeyId": alice_key.secret_id, "Status": "Active", "TargetUin": 999 }),
        ),
        (
            "DeleteAccessKey",
            json!({ "AccessKeyId": alice_key.secret_id, "TargetUin": 999 }),
        ),
        (
            "DeleteAccessKey",
            json!({ "AccessKeyId": "AKIDunknown000000000000000000000000", "TargetUin": 999 }),
        ),
    ] {
        assert_eq!(
            root_error(&harness, CAM_VERSION, action, body.clone())
                .await
                .as_deref(),
            Some("InvalidParameter.UserNotExist"),
            "{action} {body}"
        );
    }
    // A user that exists but holds no keys lists as empty.
    assert_eq!(
        root_error(
            &harness,
            CAM_VERSION,
            "ListAccessKeys",
            json!({ "TargetUin": bob.uin })
        )
        .await,
        None
    );
    assert_eq!(
        root_error(
            &harness,
            CAM_VERSION,
            "DeleteAccessKey",
            json!({ "AccessKeyId": "AKIDunknown000000000000000000000000", "TargetUin": bob.uin })
        )
        .await
        .as_deref(),
        Some("ResourceNotFound.SecretNotExist")
    );
}

#[tokio::test]
async fn last_use_is_buffered_then_flushed_and_refusals_are_audited() {
    let harness = harness(unlimited()).await;
    assert_eq!(
        root_error(&harness, CAM_VERSION, "ListAccessKeys", json!({}))
            .await
            .as_deref(),
        None
    );
    let store = harness.authority.store().clone();
    assert!(
        store
            .key_usage(&[VECTOR_SECRET_ID.to_owned()])
            .await
            .unwrap()
            .is_empty(),
        "no write on the request path"
    );
    let used_at = harness.clock.now().unix_timestamp();
    harness.clock.advance(time::Duration::seconds(5));
    let response = call(
        &harness,
        &harness.root,
        CAM_VERSION,
        "GetSecurityLastUsed",
        json!({ "SecretIdList": [VECTOR_SECRET_ID, "AKIDunknown000000000000000000000000"] }),
    )
    .await;
    let rows = &response["Response"]["SecretIdLastUsedRows"];
    assert_eq!(
        rows[0]["LastSecretUsedDate"],
        json!(used_at + 5),
        "this very request is the latest use"
    );
    assert_eq!(rows[0]["LastUsedDate"], json!("2026-11-24"));
    assert_eq!(rows[1]["LastSecretUsedDate"], Value::Null);

    let wrong = Credentials {
        secret_id: VECTOR_SECRET_ID.to_owned(),
        secret_key: "WrongSecret00000000000000000EXMP".to_owned(),
    };
    let response = call(&harness, &wrong, CAM_VERSION, "CreateAccessKey", json!({})).await;
    assert_eq!(
        error_code(&response).as_deref(),
        Some("AuthFailure.SignatureFailure")
    );
    harness.authority.flush().await.unwrap();
    let usage = store
        .key_usage(&[VECTOR_SECRET_ID.to_owned()])
        .await
        .unwrap();
    assert_eq!(usage[0].action, "GetSecurityLastUsed");
    assert_eq!(usage[0].product, "cam");
    let audit = store.audit_records(0, 100).await.unwrap();
    let refusal = audit
        .iter()
        .find(|record| record.event.outcome == "AuthFailure.SignatureFailure")
        .expect("the refusal is audited");
    assert_eq!(refusal.event.action, "CreateAccessKey");
    assert_eq!(
        refusal.event.principal_uin, None,
        "an unauthenticated request has no principal"
    );
    assert_eq!(
        refusal.event.key_id.as_deref(),
        Some(VECTOR_SECRET_ID),
        "the claimed key is audited"
    );
}

#[tokio::test]
async fn api_gateway_keys_round_trip_with_tencent_types() {
    let harness = harness(unlimited()).await;
    let created = call(
        &harness,
        &harness.root,
        API_GATEWAY_VERSION,
        "CreateApiKey",
        json!({ "SecretName": "ci", "Tags": [{ "Key": "env", "Value": "dev test" }] }),
    )
    .await;
    let key = &created["Response"]["Result"];
    assert_eq!(key["Status"], json!(1));
    assert_eq!(key["AccessKeyType"], "auto");
    assert_eq!(key["AccessKeyId"].as_str().unwrap().len(), 40);
    assert_eq!(key["AccessKeySecret"].as_str().unwrap().len(), 40);
    assert_eq!(key["CreatedTime"], "2026-11-24T10:00:00Z");
    assert_eq!(key["Tags"], json!([{ "Key": "env", "Value": "dev test" }]));
    let key_id = key["AccessKeyId"].as_str().unwrap().to_owned();
    for (secret, expected) in [
        (key["AccessKeySecret"].clone(), 1),
        (json!("not-the-secret"), 0),
    ] {
        let found = call(
            &harness,
            &harness.root,
            API_GATEWAY_VERSION,
            "DescribeApiKeysStatus",
            json!({ "Filters": [{ "Name": "AccessKeySecret", "Values": [secret] }] }),
        )
        .await;
        assert_eq!(found["Response"]["Result"]["TotalCount"], json!(expected));
        if expected == 1 {
            assert_eq!(
                found["Response"]["Result"]["ApiKeySet"][0]["AccessKeyId"],
                json!(key_id)
            );
            assert_eq!(
                found["Response"]["Result"]["ApiKeySet"][0]["AccessKeySecret"],
                key["AccessKeySecret"]
            );
        }
    }

    for (body, expected) in [
        (
            json!({ "SecretName": "m", "AccessKeyType": "manual", "AccessKeyId": "abc", "AccessKeySecret": "0123456789" }),
            Some("InvalidParameter.FormatError"),
        ),
        (
            json!({ "SecretName": "m", "AccessKeyType": "manual", "AccessKeyId": "my_key_01", "AccessKeySecret": "short" }),
            Some("InvalidParameter.FormatError"),
        ),
        (
            json!({ "SecretName": "m", "AccessKeyType": "manual", "AccessKeyId": "my-key-01", "AccessKeySecret": "0123456789" }),
            Some("InvalidParameter.FormatError"),
        ),
        (
            json!({ "SecretName": "m", "AccessKeyType": "manual", "AccessKeyId": "my_key_01", "AccessKeySecret": "0123456789" }),
            None,
        ),
        (
            json!({ "SecretName": "m", "AccessKeyType": "manual", "AccessKeyId": "my_key_01", "AccessKeySecret": "0123456789" }),
            Some("FailedOperation.AccessKeyExist"),
        ),
        (
            json!({ "SecretName": "m", "AccessKeyType": "other" }),
            Some("InvalidParameterValue"),
        ),
    ] {
        let response = call(
            &harness,
            &harness.root,
            API_GATEWAY_VERSION,
            "CreateApiKey",
            body.clone(),
        )
        .await;
        assert_eq!(error_code(&response).as_deref(), expected, "{body}");
    }
    harness.clock.advance(time::Duration::seconds(60));
    let disabled = call(
        &harness,
        &harness.root,
        API_GATEWAY_VERSION,
        "DisableApiKey",
        json!({ "AccessKeyId": key_id }),
    )
    .await;
    assert_eq!(disabled["Response"]["Result"], json!(true));
    let listed = call(
        &harness,
        &harness.root,
        API_GATEWAY_VERSION,
        "DescribeApiKeysStatus",
        json!({ "Filters": [{ "Name": "Status", "Values": ["0"] }] }),
    )
    .await;
    assert_eq!(listed["Response"]["Result"]["TotalCount"], json!(1));
    assert_eq!(
        listed["Response"]["Result"]["ApiKeySet"][0]["ModifiedTime"],
        "2026-11-24T10:01:00Z"
    );
    let rotated = call(
        &harness,
        &harness.root,
        API_GATEWAY_VERSION,
        "UpdateApiKey",
        json!({ "AccessKeyId": key_id }),
    )
    .await;
    assert_ne!(
        rotated["Response"]["Result"]["AccessKeySecret"],
        key["AccessKeySecret"]
    );
    assert_eq!(
        root_error(
            &harness,
            API_GATEWAY_VERSION,
            "UpdateApiKey",
            json!({ "AccessKeyId": "my_key_01" })
        )
        .await
        .as_deref(),
        Some("MissingParameter")
    );
    let page = call(
        &harness,
        &harness.root,
        API_GATEWAY_VERSION,
        "DescribeApiKeysStatus",
        json!({ "Limit": 1, "Offset": 1 }),
    )
    .await;
    assert_eq!(page["Response"]["Result"]["TotalCount"], json!(2));
    assert_eq!(
        page["Response"]["Result"]["ApiKeySet"][0]["AccessKeyId"],
        "my_key_01"
    );
    assert_eq!(
        root_error(
            &harness,
            API_GATEWAY_VERSION,
            "DescribeApiKeysStatus",
            json!({ "Limit": 101 })
        )
        .await
        .as_deref(),
        Some("InvalidParameterValue")
    );
    call(
        &harness,
        &harness.root,
        API_GATEWAY_VERSION,
        "DeleteApiKey",
        json!({ "AccessKeyId": key_id }),
    )
    .await;
    assert_eq!(
        root_error(
            &harness,
            API_GATEWAY_VERSION,
            "DescribeApiKey",
            json!({ "AccessKeyId": key_id })
        )
        .await
        .as_deref(),
        Some("ResourceNotFound.InvalidAccessKeyId")
    );
    let no_region = {
        let now = harness.clock.now();
        let headers: Vec<(String, String)> = tc3_headers(
            HOST,
            &harness.root,
            API_GATEWAY_VERSION,
            "DescribeApiKeysStatus",
            "{}",
            now.unix_timestamp(),
        )
        .into_iter()
        .filter(|(name, _)| name != "X-TC-Region")
        .collect();
        dispatch(&harness, "POST", "", &headers, b"{}", now).await
    };
    assert_eq!(error_code(&no_region).as_deref(), Some("MissingParameter"));
}

#[test]
fn every_core_failure_has_its_tencent_code() {
    let table = [
        (CoreError::UserNotFound, "InvalidParameter.UserNotExist"),
        (
            CoreError::AccessKeyNotFound,
            "ResourceNotFound.SecretNotExist",
        ),
        (
            CoreError::ApiKeyNotFound,
            "ResourceNotFound.InvalidAccessKeyId",
        ),
        (
            CoreError::AccessKeyQuotaExceeded { limit: 2 },
            "OperationDenied.AccessKeyOverLimit",
        ),
        (
            CoreError::ApiKeyLimitExceeded { limit: 5 },
            "LimitExceeded.ApiKeyCountLimitExceeded",
        ),
        (
            CoreError::ApiKeyAlreadyExists,
            "FailedOperation.AccessKeyExist",
        ),
        (
            CoreError::UserNameTaken,
            "InvalidParameter.SubUserNameInUse",
        ),
        (CoreError::SubUserActingOnRoot, "OperationDenied.SubUin"),
        (CoreError::OwnerMismatch, "OperationDenied.UinNotMatch"),
        (
            CoreError::Unauthorized {
                action: "cam:X".into(),
            },
            "AuthFailure.UnauthorizedOperation",
        ),
        (
            CoreError::invalid(
                Field::AccessKeyDescription,
                Violation::Length {
                    minimum: 1,
                    maximum: 1024,
                },
            ),
            "InvalidParameterValue",
        ),
        (
            CoreError::invalid(Field::ApiKeySecret, Violation::Missing),
            "MissingParameter",
        ),
        (
            CoreError::RateLimited {
                action: "cam:X".into(),
            },
            "RequestLimitExceeded",
        ),
        (
            CoreError::AuthenticationThrottled,
            "RequestLimitExceeded.IPLimitExceeded",
        ),
        (CoreError::AlreadyInitialized, "InternalError"),
        (CoreError::NotInitialized, "InternalError"),
        (CoreError::Internal, "InternalError"),
    ];
    for (error, code) in table {
        assert_eq!(
            TencentError::from_core(&error, Product::Cam).code,
            code,
            "{error:?}"
        );
    }
    let format = CoreError::invalid(Field::AccessKeyDescription, Violation::Format);
    assert_eq!(
        TencentError::from_core(&format, Product::ApiGateway).code,
        "InvalidParameter.FormatError"
    );
    assert_eq!(
        TencentError::from_core(&format, Product::Cam).code,
        "InvalidParameter.ParamError"
    );
    let unsupported = CoreError::UnsupportedOperation { reason: "r".into() };
    assert_eq!(
        TencentError::from_core(&unsupported, Product::ApiGateway).code,
        "UnsupportedOperation.UnsupportedUpdateApiKey"
    );
    assert_eq!(
        TencentError::from_core(&CoreError::Internal, Product::Cam).message,
        "An internal error occurred. Please retry later."
    );
}
