//! Authorization in-process, both dialects over one real SQLite store: every action of every
//! dispatch table declares its permission, is refused to a sub-user without policies with the
//! dialect's own denial, and gets past authorization once a policy allows exactly that
//! permission (while another action stays refused); explicit denies win across policies;
//! source-address and time conditions; detaching takes effect at once; the decision and the
//! deciding statement reach the audit record; users and policies made through one dialect are
//! seen through the other.

use std::sync::Arc;

use keyplane_aliyun::{AliyunDialect, OutgoingResponse};
use keyplane_core::authority::InitializedAccount;
use keyplane_core::{Authority, AuthorityConfig};
use keyplane_tencent::TencentDialect;
use keyplane_testkit::in_process::{unlimited, InProcess};
use keyplane_testkit::signing::borrowed;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::support::{
    acs3_headers, acs3_parts, tc3_headers, AliyunCredentials, Credentials, API_GATEWAY_VERSION,
    CAM_VERSION, IMS_VERSION,
};

const HOST: &str = "127.0.0.1:18080";
const RAM_VERSION: &str = "2015-05-01";
const EAS_VERSION: &str = "2021-07-01";
const NOW: OffsetDateTime = time::macros::datetime!(2026-11-24 10:00:00 UTC);
const LOOPBACK: &str = "127.0.0.1";

struct Harness {
    tencent: TencentDialect,
    aliyun: AliyunDialect,
    authority: Arc<Authority>,
    account_id: u64,
    root_tencent: Credentials,
    root_aliyun: AliyunCredentials,
    _in_process: InProcess,
}

/// A sub-user with one key of each family.
struct SubUser {
    name: String,
    uin: u64,
    tencent: Credentials,
    aliyun: AliyunCredentials,
}

async fn harness() -> Harness {
    let in_process = InProcess::start(AuthorityConfig {
        rate_limits: unlimited(),
        ..AuthorityConfig::default()
    });
    let authority = in_process.authority.clone();
    let InitializedAccount {
        account,
        tencent_key,
        aliyun_key,
        ..
    } = authority.initialize(NOW).await.unwrap();
    Harness {
        tencent: TencentDialect::new(authority.clone()),
        aliyun: AliyunDialect::new(
            authority.clone(),
            keyplane_aliyun::eas::PublicUrls::new("http://127.0.0.1:18080").unwrap(),
        ),
        authority,
        account_id: account.id,
        root_tencent: Credentials {
            secret_id: tencent_key.key.id,
            secret_key: tencent_key.secret.expose().to_owned(),
        },
        root_aliyun: AliyunCredentials {
            access_key_id: aliyun_key.key.id,
            access_key_secret: aliyun_key.secret.expose().to_owned(),
        },
        _in_process: in_process,
    }
}

/// A Tencent answer: the error code (None on success) and the response object.
async fn tencent_from(
    harness: &Harness,
    credentials: &Credentials,
    version: &str,
    action: &str,
    body: &Value,
    source_address: &str,
) -> (Option<String>, Value) {
    let body = body.to_string();
    let headers = tc3_headers(
        HOST,
        credentials,
        version,
        action,
        &body,
        NOW.unix_timestamp(),
    );
    let headers = borrowed(&headers);
    let response = harness
        .tencent
        .handle(&keyplane_engine::Incoming {
            request: keyplane_engine::RequestView {
                method: "POST",
                path: "/",
                raw_query: "",
                headers: keyplane_engine::Headers::new(&headers),
                body: body.as_bytes(),
            },
            source_address,
            now: NOW,
        })
        .await;
    let json: Value = serde_json::from_slice(&response.body).unwrap();
    let code = json["Response"]["Error"]["Code"]
        .as_str()
        .map(str::to_owned);
    (code, json["Response"].clone())
}

async fn tencent(
    harness: &Harness,
    credentials: &Credentials,
    version: &str,
    action: &str,
    body: Value,
) -> (Option<String>, Value) {
    tencent_from(harness, credentials, version, action, &body, LOOPBACK).await
}

/// An Alibaba RPC answer (ACS3, parameters in the query): HTTP status, code, body.
async fn aliyun(
    harness: &Harness,
    credentials: &AliyunCredentials,
    version: &str,
    action: &str,
    parameters: &[(&str, &str)],
) -> (u16, Option<String>, Value) {
    let (raw_query, headers) = acs3_parts(HOST, credentials, version, action, parameters, NOW);
    let headers = borrowed(&headers);
    let response = harness
        .aliyun
        .handle(
            keyplane_aliyun::IncomingRequest {
                method: "POST",
                path: "/",
                raw_query: &raw_query,
                headers: &headers,
                body: b"",
                source_address: LOOPBACK,
                now: NOW,
            }
            .incoming(),
        )
        .await;
    answer(&response)
}

/// A Tencent answer to the root.
async fn root_tencent(
    harness: &Harness,
    version: &str,
    action: &str,
    body: Value,
) -> (Option<String>, Value) {
    tencent(harness, &harness.root_tencent, version, action, body).await
}

/// An Alibaba RPC answer to the root.
async fn root_aliyun(
    harness: &Harness,
    version: &str,
    action: &str,
    parameters: &[(&str, &str)],
) -> (u16, Option<String>, Value) {
    aliyun(harness, &harness.root_aliyun, version, action, parameters).await
}

/// PAI-EAS `CreateServiceInstanceToken` (ROA, ACS3) for one cluster and service.
async fn eas_token(
    harness: &Harness,
    credentials: &AliyunCredentials,
    cluster: &str,
    service: &str,
) -> (u16, Option<String>, Value) {
    let path = format!("/api/v2/services/{cluster}/{service}/instances/instance-1/token");
    let headers = acs3_headers(
        HOST,
        credentials,
        "GET",
        &path,
        "",
        EAS_VERSION,
        "CreateServiceInstanceToken",
        NOW,
    );
    let headers = borrowed(&headers);
    let response = harness
        .aliyun
        .handle_eas(keyplane_aliyun::IncomingRequest {
            method: "GET",
            path: &path,
            raw_query: "",
            headers: &headers,
            body: b"",
            source_address: LOOPBACK,
            now: NOW,
        })
        .await;
    answer(&response)
}

fn answer(response: &OutgoingResponse) -> (u16, Option<String>, Value) {
    let json: Value = serde_json::from_slice(&response.body).unwrap();
    let code = json["Code"].as_str().map(str::to_owned);
    (response.status, code, json)
}

/// Creates a sub-user through IMS, then one key of each family for it through the root.
async fn sub_user(harness: &Harness, name: &str) -> SubUser {
    let principal_name = format!("{name}@{}.onaliyun.com", harness.account_id);
    let (status, code, body) = root_aliyun(
        harness,
        IMS_VERSION,
        "CreateUser",
        &[
            ("UserPrincipalName", &principal_name),
            ("DisplayName", name),
        ],
    )
    .await;
    assert_eq!((status, code), (200, None), "{body}");
    let uin: u64 = body["User"]["UserId"].as_str().unwrap().parse().unwrap();
    let (code, created) = root_tencent(
        harness,
        CAM_VERSION,
        "CreateAccessKey",
        json!({ "TargetUin": uin }),
    )
    .await;
    assert_eq!(code, None, "{created}");
    let (status, _, created_aliyun) = root_aliyun(
        harness,
        IMS_VERSION,
        "CreateAccessKey",
        &[("UserPrincipalName", &principal_name)],
    )
    .await;
    assert_eq!(status, 200, "{created_aliyun}");
    SubUser {
        name: name.to_owned(),
        uin,
        tencent: Credentials::created(&created),
        aliyun: AliyunCredentials::created(&created_aliyun),
    }
}

/// Creates a CAM-syntax custom policy through the root; returns its PolicyId.
async fn cam_policy(harness: &Harness, name: &str, document: Value) -> u64 {
    let (code, body) = root_tencent(
        harness,
        CAM_VERSION,
        "CreatePolicy",
        json!({ "PolicyName": name, "PolicyDocument": document.to_string() }),
    )
    .await;
    assert_eq!(code, None, "{body}");
    body["PolicyId"].as_u64().unwrap()
}

async fn attach(harness: &Harness, policy_id: u64, uin: u64) {
    let (code, body) = root_tencent(
        harness,
        CAM_VERSION,
        "AttachUserPolicy",
        json!({ "PolicyId": policy_id, "AttachUin": uin }),
    )
    .await;
    assert_eq!(code, None, "{body}");
}

async fn detach(harness: &Harness, policy_id: u64, uin: u64) {
    let (code, body) = root_tencent(
        harness,
        CAM_VERSION,
        "DetachUserPolicy",
        json!({ "PolicyId": policy_id, "DetachUin": uin }),
    )
    .await;
    assert_eq!(code, None, "{body}");
}

fn allow(action: &str) -> Value {
    json!({"version": "2.0", "statement": [{"effect": "allow", "action": [action], "resource": ["*"]}]})
}

/// A request body for each Tencent action that carries whatever its resource is named from.
fn tencent_body(action: &str, user: &SubUser) -> Value {
    match action {
        "DescribeApiKey" | "DisableApiKey" | "EnableApiKey" | "UpdateApiKey" | "DeleteApiKey" => {
            json!({ "AccessKeyId": "no_such_key_000" })
        }
        "CreateApiKey" => json!({ "SecretName": "from-matrix" }),
        "UpdateAccessKey" => json!({ "AccessKeyId": user.tencent.secret_id, "Status": "Active" }),
        "DeleteAccessKey" => json!({ "AccessKeyId": "AKIDnosuchkey000000000000000000000000" }),
        "GetSecurityLastUsed" => json!({ "SecretIdList": [user.tencent.secret_id] }),
        "AddUser" => json!({ "Name": format!("{}-added", user.name) }),
        "GetUser" | "DeleteUser" => json!({ "Name": "nobody-here" }),
        "CreatePolicy" => json!({
            "PolicyName": format!("made-by-{}", user.name),
            "PolicyDocument": allow("cam:GetUser").to_string(),
        }),
        "GetPolicy" => json!({ "PolicyId": 1 }),
        "DeletePolicy" => json!({ "PolicyId": [999] }),
        "ListPolicies" => json!({ "Scope": "Local" }),
        "AttachUserPolicy" => json!({ "PolicyId": 2, "AttachUin": 1 }),
        "DetachUserPolicy" => json!({ "PolicyId": 2, "DetachUin": 1 }),
        "ListAttachedUserPolicies" => json!({ "TargetUin": 1 }),
        _ => json!({}),
    }
}

fn tencent_product_name(product: keyplane_tencent::Product) -> (&'static str, &'static str) {
    match product {
        keyplane_tencent::Product::Cam => (CAM_VERSION, "cam"),
        keyplane_tencent::Product::ApiGateway => (API_GATEWAY_VERSION, "apigw"),
    }
}

#[tokio::test]
async fn every_tencent_action_declares_its_permission_and_is_enforced() {
    let harness = harness().await;
    let user = sub_user(&harness, "matrix").await;
    for keyplane_tencent::ProductVersion { product, .. } in keyplane_tencent::VERSIONS {
        let (version, service) = tencent_product_name(*product);
        // The action table is the only list of actions: routing, the permission and the
        // handler all come from its rows.
        let table = keyplane_tencent::actions::table(*product);
        let mut names: Vec<&str> = table.iter().map(|row| row.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            table.len(),
            "{version}: an action is declared twice"
        );
        for entry in table {
            let action = entry.name;
            assert_eq!(entry.permission, format!("{service}:{action}"));
            let body = tencent_body(action, &user);

            let (code, response) =
                tencent(&harness, &user.tencent, version, action, body.clone()).await;
            assert_eq!(
                code.as_deref(),
                Some("AuthFailure.UnauthorizedOperation"),
                "{action} without a policy: {response}"
            );
            let message = response["Error"]["Message"].as_str().unwrap();
            assert!(message.contains(entry.permission), "{message}");

            let policy = cam_policy(
                &harness,
                &format!("allow-{action}"),
                allow(entry.permission),
            )
            .await;
            attach(&harness, policy, user.uin).await;
            let (code, response) = tencent(&harness, &user.tencent, version, action, body).await;
            assert_ne!(
                code.as_deref(),
                Some("AuthFailure.UnauthorizedOperation"),
                "{action} with a policy allowing it: {response}"
            );
            // Allowed, the request reaches the row's handler.
            assert!(
                !matches!(code.as_deref(), Some("InvalidAction" | "InternalError")),
                "{action} does not reach its handler: {response}"
            );
            // Exactly what the policy says: another action stays refused.
            let other = if action == "ListUsers" {
                "GetUser"
            } else {
                "ListUsers"
            };
            let (code, _) = tencent(
                &harness,
                &user.tencent,
                CAM_VERSION,
                other,
                tencent_body(other, &user),
            )
            .await;
            assert_eq!(
                code.as_deref(),
                Some("AuthFailure.UnauthorizedOperation"),
                "{other} while only {action} is allowed"
            );
            detach(&harness, policy, user.uin).await;
        }
    }
}

/// Request parameters for each Alibaba RPC action that carry whatever its resources are
/// named from.
fn aliyun_parameters(action: &str, user: &SubUser, account_id: u64) -> Vec<(String, String)> {
    let own = format!("{}@{account_id}.onaliyun.com", user.name);
    let pairs: Vec<(&str, String)> = match action {
        "UpdateAccessKey" => vec![
            ("UserAccessKeyId", user.aliyun.access_key_id.clone()),
            ("Status", "Active".to_owned()),
        ],
        "DeleteAccessKey" | "GetAccessKeyLastUsed" => {
            vec![("UserAccessKeyId", "LTAInosuchkey00000000000".to_owned())]
        }
        "CreateUser" => vec![
            (
                "UserPrincipalName",
                format!("{}-made@{account_id}.onaliyun.com", user.name),
            ),
            ("DisplayName", "made".to_owned()),
        ],
        "GetUser" | "DeleteUser" => vec![(
            "UserPrincipalName",
            format!("nobody@{account_id}.onaliyun.com"),
        )],
        "CreatePolicy" => vec![
            ("PolicyName", format!("made-by-{}", user.name)),
            (
                "PolicyDocument",
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:GetUser","Resource":"*"}]}"#.to_owned(),
            ),
        ],
        "AttachPolicyToUser" | "DetachPolicyFromUser" => vec![
            ("PolicyType", "System".to_owned()),
            ("PolicyName", "ReadOnlyAccess".to_owned()),
            ("UserName", "nobody".to_owned()),
        ],
        "ListPoliciesForUser" => vec![("UserName", "nobody".to_owned())],
        "GetPolicy" => vec![
            ("PolicyType", "System".to_owned()),
            ("PolicyName", "ReadOnlyAccess".to_owned()),
        ],
        "DeletePolicy" => vec![("PolicyName", "no-such-policy".to_owned())],
        "DisableAccessToken" | "DeleteAccessToken" => {
            vec![("AccessTokenId", "at-nosuchtoken".to_owned())]
        }
        "CreateAccessKey" | "ListAccessKeys" => vec![("UserPrincipalName", own)],
        _ => vec![],
    };
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

fn ram_allow(action: &str) -> String {
    json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
        .to_string()
}

/// Creates a RAM-syntax custom policy and attaches it through RAM, as the root.
async fn ram_policy_attached(harness: &Harness, name: &str, document: &str, user: &SubUser) {
    let (status, _, body) = root_aliyun(
        harness,
        RAM_VERSION,
        "CreatePolicy",
        &[("PolicyName", name), ("PolicyDocument", document)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = root_aliyun(
        harness,
        RAM_VERSION,
        "AttachPolicyToUser",
        &[
            ("PolicyType", "Custom"),
            ("PolicyName", name),
            ("UserName", &user.name),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn ram_detach(harness: &Harness, name: &str, user: &SubUser) {
    let (status, _, body) = root_aliyun(
        harness,
        RAM_VERSION,
        "DetachPolicyFromUser",
        &[
            ("PolicyType", "Custom"),
            ("PolicyName", name),
            ("UserName", &user.name),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn every_alibaba_action_declares_its_permission_and_is_enforced() {
    use keyplane_aliyun::permissions;
    let harness = harness().await;
    let user = sub_user(&harness, "matrix").await;
    for (version, product) in keyplane_aliyun::VERSIONS {
        let table = permissions::table(*product);
        assert_eq!(
            table.len(),
            keyplane_aliyun::actions(*product).len(),
            "{version}: the permission table and the dispatch table differ"
        );
        let service = match product {
            keyplane_aliyun::Product::Ims | keyplane_aliyun::Product::Ram => "ram",
            keyplane_aliyun::Product::Smc => "smc",
        };
        let denial = permissions::denial_code(*product).code();
        for action in keyplane_aliyun::actions(*product) {
            let entry = permissions::permission(*product, action)
                .unwrap_or_else(|| panic!("{action} has no declared permission"));
            assert_eq!(entry.permission, format!("{service}:{action}"));
            let owned = aliyun_parameters(action, &user, harness.account_id);
            let parameters = borrowed(&owned);

            let (status, code, body) =
                aliyun(&harness, &user.aliyun, version, action, &parameters).await;
            assert_eq!(
                (status, code.as_deref()),
                (403, Some(denial)),
                "{action} without a policy: {body}"
            );
            let detail = &body["AccessDeniedDetail"];
            assert_eq!(detail["AuthAction"], entry.permission, "{body}");
            assert_eq!(detail["NoPermissionType"], "ImplicitDeny", "{body}");
            assert_eq!(
                detail["AuthPrincipalDisplayName"],
                user.uin.to_string(),
                "the display name is the UID, as on Alibaba: {body}"
            );
            assert_eq!(
                detail["AuthPrincipalOwnerId"],
                harness.account_id.to_string(),
                "{body}"
            );
            assert!(
                detail["AuthResource"]
                    .as_str()
                    .is_some_and(|resource| !resource.is_empty()),
                "{body}"
            );

            let name = format!("allow-{action}");
            ram_policy_attached(&harness, &name, &ram_allow(entry.permission), &user).await;
            let (status, code, body) =
                aliyun(&harness, &user.aliyun, version, action, &parameters).await;
            assert_ne!(
                (status, code.as_deref()),
                (403, Some(denial)),
                "{action} with a policy allowing it: {body}"
            );
            let other = if *action == "ListUsers" {
                "GetUser"
            } else {
                "ListUsers"
            };
            let other_owned = aliyun_parameters(other, &user, harness.account_id);
            let other_parameters = borrowed(&other_owned);
            let (status, code, _) = aliyun(
                &harness,
                &user.aliyun,
                IMS_VERSION,
                other,
                &other_parameters,
            )
            .await;
            assert_eq!(
                (status, code.as_deref()),
                (403, Some("NoPermission")),
                "{other} while only {action} is allowed"
            );
            ram_detach(&harness, &name, &user).await;
        }
    }

    // PAI-EAS: refused as EAS refuses (Forbidden.RAM), on the service's resource.
    let (status, code, body) = eas_token(&harness, &user.aliyun, "cn-hangzhou", "svc-a").await;
    assert_eq!(
        (status, code.as_deref()),
        (403, Some("Forbidden.RAM")),
        "{body}"
    );
    assert_eq!(
        body["AccessDeniedDetail"]["AuthResource"],
        format!("acs:eas:cn-hangzhou:{}:service/svc-a", harness.account_id)
    );
    assert_eq!(
        body["AccessDeniedDetail"]["AuthAction"],
        permissions::EAS_CREATE_SERVICE_INSTANCE_TOKEN
    );
    let document = json!({"Version": "1", "Statement": [{"Effect": "Allow",
        "Action": "eas:CreateServiceInstanceToken",
        "Resource": "acs:eas:*:*:service/svc-a"}]})
    .to_string();
    ram_policy_attached(&harness, "eas-svc-a", &document, &user).await;
    let (status, code, body) = eas_token(&harness, &user.aliyun, "cn-hangzhou", "svc-a").await;
    assert_eq!(
        (status, code.as_deref()),
        (404, Some("InvalidService.NotFound")),
        "allowed, and then the service is looked up: {body}"
    );
    let (status, code, _) = eas_token(&harness, &user.aliyun, "cn-hangzhou", "svc-b").await;
    assert_eq!((status, code.as_deref()), (403, Some("Forbidden.RAM")));
}

#[tokio::test]
async fn explicit_deny_wins_conditions_apply_and_detaching_takes_effect_at_once() {
    let harness = harness().await;
    let user = sub_user(&harness, "carol").await;
    let list = |source: &'static str| {
        let harness = &harness;
        let credentials = user.tencent.clone();
        async move {
            tencent_from(
                harness,
                &credentials,
                CAM_VERSION,
                "ListAccessKeys",
                &json!({}),
                source,
            )
            .await
            .0
        }
    };
    // The system policy lets the user manage its own keys, and only its own.
    attach(&harness, 3, user.uin).await;
    assert_eq!(list(LOOPBACK).await, None);
    let (code, _) = tencent(
        &harness,
        &user.tencent,
        CAM_VERSION,
        "ListAccessKeys",
        json!({ "TargetUin": harness.account_id }),
    )
    .await;
    assert_eq!(code.as_deref(), Some("AuthFailure.UnauthorizedOperation"));

    // An explicit deny in another policy wins over the allow.
    let deny = cam_policy(
        &harness,
        "deny-listing",
        json!({"version": "2.0", "statement": [{"effect": "deny", "action": "cam:List*", "resource": "*"}]}),
    )
    .await;
    attach(&harness, deny, user.uin).await;
    assert_eq!(
        list(LOOPBACK).await.as_deref(),
        Some("AuthFailure.UnauthorizedOperation")
    );
    // Actions are named per cloud: denying cam:List* leaves ram:ListAccessKeys allowed.
    let (status, _, body) =
        aliyun(&harness, &user.aliyun, IMS_VERSION, "ListAccessKeys", &[]).await;
    assert_eq!(status, 200, "{body}");
    let (status, code, body) = aliyun(&harness, &user.aliyun, IMS_VERSION, "ListUsers", &[]).await;
    assert_eq!(
        (status, code.as_deref()),
        (403, Some("NoPermission")),
        "{body}"
    );
    assert_eq!(
        body["AccessDeniedDetail"]["NoPermissionType"],
        "ImplicitDeny"
    );
    // Detaching it takes effect at once.
    detach(&harness, deny, user.uin).await;
    assert_eq!(list(LOOPBACK).await, None);

    // A deny conditioned on the source address applies only from there.
    let outside = cam_policy(
        &harness,
        "deny-outside",
        json!({"version": "2.0", "statement": [{"effect": "deny", "action": "*", "resource": "*",
            "condition": {"ip_not_equal": {"qcs:ip": ["127.0.0.0/8", "10.0.0.0/8"]}}}]}),
    )
    .await;
    attach(&harness, outside, user.uin).await;
    assert_eq!(list(LOOPBACK).await, None);
    assert_eq!(list("10.1.2.3").await, None);
    assert_eq!(
        list("192.0.2.7").await.as_deref(),
        Some("AuthFailure.UnauthorizedOperation")
    );
    detach(&harness, outside, user.uin).await;

    // An allow that expired is no allow: the RAM syntax, through RAM.
    ram_policy_attached(
        &harness,
        "expired-listing",
        &json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "cam:GetUser", "Resource": "*",
            "Condition": {"DateLessThan": {"acs:CurrentTime": "2026-01-01T00:00:00Z"}}}]})
        .to_string(),
        &user,
    )
    .await;
    let (code, _) = tencent(
        &harness,
        &user.tencent,
        CAM_VERSION,
        "GetUser",
        json!({ "Name": "carol" }),
    )
    .await;
    assert_eq!(code.as_deref(), Some("AuthFailure.UnauthorizedOperation"));
}

#[tokio::test]
async fn the_decision_and_its_statement_reach_the_audit_record() {
    let harness = harness().await;
    let user = sub_user(&harness, "dave").await;
    // Refused: no statement.
    let (code, _) = tencent(
        &harness,
        &user.tencent,
        CAM_VERSION,
        "CreateAccessKey",
        json!({}),
    )
    .await;
    assert_eq!(code.as_deref(), Some("AuthFailure.UnauthorizedOperation"));
    // Allowed by the second statement of a custom policy.
    let policy = cam_policy(
        &harness,
        "two-statements",
        json!({"version": "2.0", "statement": [
            {"effect": "allow", "action": "cam:GetUser", "resource": "*"},
            {"effect": "allow", "action": "cam:CreateAccessKey", "resource": "qcs::cam::uin/*:uin/*"}]}),
    )
    .await;
    attach(&harness, policy, user.uin).await;
    let (code, created) = tencent(
        &harness,
        &user.tencent,
        CAM_VERSION,
        "CreateAccessKey",
        json!({}),
    )
    .await;
    assert_eq!(code, None, "{created}");
    let new_key = created["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    harness.authority.flush().await.unwrap();
    let records = harness.authority.audit_records(0, 10_000).await.unwrap();
    let mine: Vec<_> = records
        .iter()
        .filter(|record| record.event.principal_uin == Some(user.uin))
        .collect();
    let refused = mine
        .iter()
        .find(|record| record.event.outcome == "AuthFailure.UnauthorizedOperation")
        .expect("the refusal is audited");
    let decision = refused.event.authorization.as_ref().unwrap();
    assert_eq!(
        (decision.decision.as_str(), decision.statement.as_deref()),
        ("ImplicitDeny", None)
    );
    let allowed = mine
        .iter()
        .find(|record| record.event.target.as_deref() == Some(new_key.as_str()))
        .expect("the creation is audited");
    let decision = allowed.event.authorization.as_ref().unwrap();
    assert_eq!(decision.decision, "Allow");
    assert_eq!(
        decision.statement.as_deref(),
        Some("Custom:two-statements#1")
    );
    // The root's changes record the root as the basis.
    let root_attach = records
        .iter()
        .find(|record| record.event.action == "AttachUserPolicy")
        .unwrap();
    let decision = root_attach.event.authorization.as_ref().unwrap();
    assert_eq!(
        (decision.decision.as_str(), decision.statement.as_deref()),
        ("Allow", Some("root"))
    );
}

#[tokio::test]
async fn users_and_policies_are_one_model_across_both_dialects() {
    let harness = harness().await;
    // CAM AddUser, seen through IMS.
    let (code, added) = root_tencent(
        &harness,
        CAM_VERSION,
        "AddUser",
        json!({ "Name": "erin", "Remark": "from CAM", "Email": "erin@example.test",
                "CountryCode": "86", "PhoneNum": "18600000000", "UseApi": 1 }),
    )
    .await;
    assert_eq!(code, None, "{added}");
    let uin = added["Uin"].as_u64().unwrap();
    assert!(added["SecretId"].as_str().unwrap().starts_with("AKID"));
    let principal_name = format!("erin@{}.onaliyun.com", harness.account_id);
    let (status, _, got) = root_aliyun(
        &harness,
        IMS_VERSION,
        "GetUser",
        &[("UserPrincipalName", &principal_name)],
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["User"]["UserId"], uin.to_string());
    assert_eq!(got["User"]["UserName"], "erin");
    assert_eq!(got["User"]["Comments"], "from CAM");
    assert_eq!(got["User"]["MobilePhone"], "86-18600000000");
    // IMS CreateUser, seen through CAM.
    let (status, _, created) = root_aliyun(
        &harness,
        IMS_VERSION,
        "CreateUser",
        &[
            (
                "UserPrincipalName",
                &format!("frank@{}.onaliyun.com", harness.account_id),
            ),
            ("DisplayName", "Frank"),
            ("Comments", "from IMS"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let (code, listed) = root_tencent(&harness, CAM_VERSION, "ListUsers", json!({})).await;
    assert_eq!(code, None);
    let mut names: Vec<&str> = listed["Data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["Name"].as_str().unwrap())
        .collect();
    // Both were created at the same instant on this clock; only the set matters here.
    names.sort_unstable();
    assert_eq!(names, ["erin", "frank"], "the root is not a sub-user");
    // A RAM policy attached through RAM is listed by CAM, and the reverse.
    let frank = SubUser {
        name: "frank".to_owned(),
        uin: created["User"]["UserId"].as_str().unwrap().parse().unwrap(),
        tencent: harness.root_tencent.clone(),
        aliyun: harness.root_aliyun.clone(),
    };
    ram_policy_attached(&harness, "ram-written", &ram_allow("ram:GetUser"), &frank).await;
    attach(&harness, 2, frank.uin).await;
    let (code, attached) = root_tencent(
        &harness,
        CAM_VERSION,
        "ListAttachedUserPolicies",
        json!({ "TargetUin": frank.uin }),
    )
    .await;
    assert_eq!(code, None, "{attached}");
    assert_eq!(attached["TotalNum"], 2);
    assert_eq!(attached["List"][0]["PolicyName"], "ram-written");
    assert_eq!(attached["List"][0]["PolicyType"], "User");
    assert_eq!(attached["List"][1]["PolicyName"], "ReadOnlyAccess");
    assert_eq!(attached["List"][1]["PolicyType"], "QCS");
    let (status, _, listed) = root_aliyun(
        &harness,
        RAM_VERSION,
        "ListPoliciesForUser",
        &[("UserName", "frank")],
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    let policies = listed["Policies"]["Policy"].as_array().unwrap();
    assert_eq!(policies.len(), 2);
    assert_eq!(policies[1]["PolicyType"], "System");

    // IMS refuses to delete a user that has keys or policies; CAM Force removes both.
    let (status, code, _) = root_aliyun(
        &harness,
        IMS_VERSION,
        "DeleteUser",
        &[("UserPrincipalName", &principal_name)],
    )
    .await;
    assert_eq!(
        (status, code.as_deref()),
        (409, Some("DeleteConflict.User.AccessKey"))
    );
    let (code, _) = root_tencent(
        &harness,
        CAM_VERSION,
        "DeleteUser",
        json!({ "Name": "erin" }),
    )
    .await;
    assert_eq!(code.as_deref(), Some("OperationDenied.HaveKeys"));
    let erin_key = Credentials {
        secret_id: added["SecretId"].as_str().unwrap().to_owned(),
        secret_key: added["SecretKey"].as_str().unwrap().to_owned(),
    };
    let (code, _) = root_tencent(
        &harness,
        CAM_VERSION,
        "DeleteUser",
        json!({ "Name": "erin", "Force": 1 }),
    )
    .await;
    assert_eq!(code, None);
    let (code, _) = tencent(
        &harness,
        &erin_key,
        CAM_VERSION,
        "ListAccessKeys",
        json!({}),
    )
    .await;
    assert_eq!(code.as_deref(), Some("AuthFailure.SecretIdNotFound"));
    let (code, _) = root_tencent(&harness, CAM_VERSION, "GetUser", json!({ "Name": "erin" })).await;
    assert_eq!(code.as_deref(), Some("ResourceNotFound.UserNotExist"));
    let (status, code, _) = root_aliyun(
        &harness,
        IMS_VERSION,
        "DeleteUser",
        &[(
            "UserPrincipalName",
            &format!("frank@{}.onaliyun.com", harness.account_id),
        )],
    )
    .await;
    assert_eq!(
        (status, code.as_deref()),
        (409, Some("DeleteConflict.User.Policy"))
    );
}

#[tokio::test]
async fn malformed_documents_are_refused_at_creation_with_each_clouds_code() {
    let harness = harness().await;
    for document in [
        "not json",
        r#"{"version":"1.0","statement":[]}"#,
        r#"{"version":"2.0","statement":[{"effect":"maybe","action":"*","resource":"*"}]}"#,
        r#"{"version":"2.0","statement":[{"effect":"allow","resource":"*"}]}"#,
        r#"{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*","condition":{"ip_sometimes":{"qcs:ip":"10.0.0.0/8"}}}]}"#,
        r#"{"version":"2.0","statement":[{"effect":"allow","principal":{"qcs":["*"]},"action":"*","resource":"*"}]}"#,
    ] {
        let (code, body) = root_tencent(
            &harness,
            CAM_VERSION,
            "CreatePolicy",
            json!({ "PolicyName": "bad", "PolicyDocument": document }),
        )
        .await;
        assert_eq!(
            code.as_deref(),
            Some("InvalidParameter.PolicyDocumentError"),
            "{document}: {body}"
        );
    }
    for document in [
        "[]",
        r#"{"Version":"2","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*"}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"not-an-ip"}}}]}"#,
    ] {
        let (status, code, body) = root_aliyun(
            &harness,
            RAM_VERSION,
            "CreatePolicy",
            &[("PolicyName", "bad"), ("PolicyDocument", document)],
        )
        .await;
        assert_eq!(
            (status, code.as_deref()),
            (400, Some("MalformedPolicyDocument")),
            "{document}: {body}"
        );
    }
    // Nothing was stored by the refusals: the name is still free.
    let (status, _, body) = root_aliyun(
        &harness,
        RAM_VERSION,
        "CreatePolicy",
        &[
            ("PolicyName", "bad"),
            ("PolicyDocument", &ram_allow("ram:*")),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, code, _) = root_aliyun(
        &harness,
        RAM_VERSION,
        "CreatePolicy",
        &[
            ("PolicyName", "bad"),
            ("PolicyDocument", &ram_allow("ram:*")),
        ],
    )
    .await;
    assert_eq!(
        (status, code.as_deref()),
        (409, Some("EntityAlreadyExists.Policy"))
    );
    let (code, _) = root_tencent(
        &harness,
        CAM_VERSION,
        "CreatePolicy",
        json!({ "PolicyName": "bad", "PolicyDocument": allow("cam:*").to_string() }),
    )
    .await;
    assert_eq!(code.as_deref(), Some("FailedOperation.PolicyNameInUse"));
    let (code, _) = root_tencent(&harness,
        CAM_VERSION,
        "CreatePolicy",
        json!({ "PolicyName": "AdministratorAccess", "PolicyDocument": allow("cam:*").to_string() }),
    )
    .await;
    assert_eq!(code.as_deref(), Some("FailedOperation.PolicyNameInUse"));
}

#[tokio::test]
async fn a_policy_reads_back_in_the_asking_clouds_syntax_and_deletes_as_each_cloud_does() {
    let harness = harness().await;
    let user = sub_user(&harness, "heidi").await;
    // Written in RAM syntax through RAM, attached through RAM.
    let document = json!({"Version": "1", "Statement": [{"Effect": "Allow",
        "Action": ["cam:ListAccessKeys", "ram:ListAccessKeys"],
        "Resource": "*", "Condition": {"IpAddress": {"acs:SourceIp": "127.0.0.0/8"}}}]})
    .to_string();
    ram_policy_attached(&harness, "read-keys", &document, &user).await;
    let (status, _, got) = root_aliyun(
        &harness,
        RAM_VERSION,
        "GetPolicy",
        &[("PolicyType", "Custom"), ("PolicyName", "read-keys")],
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["Policy"]["AttachmentCount"], 1);
    assert_eq!(got["Policy"]["DefaultVersion"], "v1");
    let ram_document: Value = serde_json::from_str(
        got["DefaultPolicyVersion"]["PolicyDocument"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(ram_document["Version"], "1");
    assert_eq!(
        ram_document["Statement"][0]["Condition"]["IpAddress"]["acs:SourceIp"],
        json!(["127.0.0.0/8"])
    );
    // Read through CAM: the same policy, in CAM syntax.
    let (code, listed) = root_tencent(
        &harness,
        CAM_VERSION,
        "ListAttachedUserPolicies",
        json!({ "TargetUin": user.uin }),
    )
    .await;
    assert_eq!(code, None, "{listed}");
    let policy_id = listed["List"][0]["PolicyId"].as_u64().unwrap();
    let (code, got) = root_tencent(
        &harness,
        CAM_VERSION,
        "GetPolicy",
        json!({ "PolicyId": policy_id }),
    )
    .await;
    assert_eq!(code, None, "{got}");
    assert_eq!(got["Type"], 1);
    let cam_document: Value =
        serde_json::from_str(got["PolicyDocument"].as_str().unwrap()).unwrap();
    assert_eq!(cam_document["version"], "2.0");
    assert_eq!(cam_document["statement"][0]["effect"], "allow");
    assert_eq!(
        cam_document["statement"][0]["condition"]["ip_equal"]["qcs:ip"],
        json!(["127.0.0.0/8"])
    );
    let (code, system) =
        root_tencent(&harness, CAM_VERSION, "GetPolicy", json!({ "PolicyId": 2 })).await;
    assert_eq!(code, None);
    assert_eq!(
        (system["PolicyName"].as_str(), system["Type"].as_u64()),
        (Some("ReadOnlyAccess"), Some(2))
    );

    // Both clouds list it, with its attachment count, after the system policies.
    let (code, listed) = root_tencent(
        &harness,
        CAM_VERSION,
        "ListPolicies",
        json!({ "Scope": "Local", "Keyword": "read" }),
    )
    .await;
    assert_eq!(code, None, "{listed}");
    assert_eq!(listed["TotalNum"], 1);
    assert_eq!(listed["List"][0]["PolicyId"], policy_id);
    assert_eq!(listed["List"][0]["Attachments"], 1);
    assert_eq!(listed["List"][0]["Type"], 1);
    let (code, listed) = root_tencent(
        &harness,
        CAM_VERSION,
        "ListPolicies",
        json!({ "Scope": "QCS" }),
    )
    .await;
    assert_eq!(code, None, "{listed}");
    assert_eq!(listed["TotalNum"], 3);
    let mut marker: Option<String> = None;
    let mut names = Vec::new();
    loop {
        let mut parameters = vec![("MaxItems", "2")];
        if let Some(marker) = &marker {
            parameters.push(("Marker", marker.as_str()));
        }
        let (status, _, page) =
            root_aliyun(&harness, RAM_VERSION, "ListPolicies", &parameters).await;
        assert_eq!(status, 200, "{page}");
        for policy in page["Policies"]["Policy"].as_array().unwrap() {
            names.push(format!(
                "{}:{}:{}",
                policy["PolicyType"].as_str().unwrap(),
                policy["PolicyName"].as_str().unwrap(),
                policy["AttachmentCount"]
            ));
        }
        if page["IsTruncated"] == json!(false) {
            break;
        }
        marker = Some(page["Marker"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        names,
        [
            "System:AdministratorAccess:0",
            "System:ReadOnlyAccess:0",
            "System:ManageOwnAccessKeys:0",
            "Custom:read-keys:1"
        ]
    );

    // The user may list its keys. RAM refuses to delete the attached policy...
    let (code, _) = tencent(
        &harness,
        &user.tencent,
        CAM_VERSION,
        "ListAccessKeys",
        json!({}),
    )
    .await;
    assert_eq!(code, None);
    let (status, code, _) = root_aliyun(
        &harness,
        RAM_VERSION,
        "DeletePolicy",
        &[("PolicyName", "read-keys")],
    )
    .await;
    assert_eq!(
        (status, code.as_deref()),
        (409, Some("DeleteConflict.Policy.User"))
    );
    // ... CAM deletes it and detaches it: the user loses what it granted at once.
    let (code, body) = root_tencent(
        &harness,
        CAM_VERSION,
        "DeletePolicy",
        json!({ "PolicyId": [policy_id] }),
    )
    .await;
    assert_eq!(code, None, "{body}");
    let (code, _) = tencent(
        &harness,
        &user.tencent,
        CAM_VERSION,
        "ListAccessKeys",
        json!({}),
    )
    .await;
    assert_eq!(code.as_deref(), Some("AuthFailure.UnauthorizedOperation"));
    let (code, _) = root_tencent(
        &harness,
        CAM_VERSION,
        "GetPolicy",
        json!({ "PolicyId": policy_id }),
    )
    .await;
    assert_eq!(code.as_deref(), Some("ResourceNotFound.PolicyIdNotFound"));
    // A preset policy cannot be deleted; RAM deletes an unattached custom policy.
    let (code, _) = root_tencent(
        &harness,
        CAM_VERSION,
        "DeletePolicy",
        json!({ "PolicyId": [1] }),
    )
    .await;
    assert_eq!(code.as_deref(), Some("InvalidParameter.PolicyIdError"));
    let (status, _, _) = root_aliyun(
        &harness,
        RAM_VERSION,
        "CreatePolicy",
        &[
            ("PolicyName", "short-lived"),
            ("PolicyDocument", &ram_allow("ram:GetUser")),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let (status, code, _) = root_aliyun(
        &harness,
        RAM_VERSION,
        "DeletePolicy",
        &[("PolicyName", "short-lived")],
    )
    .await;
    assert_eq!((status, code), (200, None));
    let (status, code, _) = root_aliyun(
        &harness,
        RAM_VERSION,
        "DeletePolicy",
        &[("PolicyName", "short-lived")],
    )
    .await;
    assert_eq!(
        (status, code.as_deref()),
        (404, Some("EntityNotExist.Policy"))
    );
}

#[tokio::test]
async fn hostile_user_and_policy_inputs_get_each_clouds_errors_and_change_nothing() {
    let harness = harness().await;
    let deep = format!("{}{}", "[".repeat(3_000), "]".repeat(3_000));
    let long_document = format!(
        r#"{{"version":"2.0","statement":[{{"effect":"allow","action":"*","resource":"{}"}}]}}"#,
        "a".repeat(7_000)
    );
    let tencent_cases = [
        (
            "AddUser",
            json!({ "Name": "n".repeat(1_000) }),
            "InvalidParameter.UserNameIllegal",
        ),
        (
            "AddUser",
            json!({ "Name": "has space" }),
            "InvalidParameter.UserNameIllegal",
        ),
        ("AddUser", json!({ "Name": 42 }), "InvalidParameter"),
        (
            "AddUser",
            json!({ "Name": "ok-name", "UseApi": 7 }),
            "InvalidParameterValue",
        ),
        (
            "AddUser",
            json!({ "Name": "ok-name", "Remark": "r".repeat(1_000) }),
            "InvalidParameterValue",
        ),
        ("GetUser", json!({}), "MissingParameter"),
        (
            "DeleteUser",
            json!({ "Name": "nobody", "Force": "yes" }),
            "InvalidParameter",
        ),
        (
            "CreatePolicy",
            json!({ "PolicyName": "deep", "PolicyDocument": deep }),
            "InvalidParameter.PolicyDocumentError",
        ),
        (
            "CreatePolicy",
            json!({ "PolicyName": "long", "PolicyDocument": long_document }),
            "InvalidParameter.PolicyDocumentLengthOverLimit",
        ),
        (
            "CreatePolicy",
            json!({ "PolicyName": "bad name", "PolicyDocument": allow("cam:*").to_string() }),
            "InvalidParameter.PolicyNameError",
        ),
        (
            "CreatePolicy",
            json!({ "PolicyName": "d", "PolicyDocument": allow("cam:*").to_string(), "Description": "x".repeat(301) }),
            "InvalidParameter.DescriptionLengthOverlimit",
        ),
        (
            "AttachUserPolicy",
            json!({ "PolicyId": "abc", "AttachUin": 1 }),
            "InvalidParameter",
        ),
        (
            "AttachUserPolicy",
            json!({ "PolicyId": -1, "AttachUin": 1 }),
            "InvalidParameter",
        ),
        (
            "AttachUserPolicy",
            json!({ "PolicyId": 1, "AttachUin": 1 }),
            "ResourceNotFound.UserNotExist",
        ),
        (
            "AttachUserPolicy",
            json!({ "PolicyId": 123_456, "AttachUin": 1 }),
            "ResourceNotFound.PolicyIdNotFound",
        ),
        (
            "ListAttachedUserPolicies",
            json!({ "TargetUin": 1, "Rp": 0 }),
            "InvalidParameterValue",
        ),
        (
            "ListAttachedUserPolicies",
            json!({ "TargetUin": 1, "Page": 18_446_744_073_709_551_615_u64 }),
            "ResourceNotFound.UserNotExist",
        ),
        (
            "DeletePolicy",
            json!({ "PolicyId": "x" }),
            "InvalidParameter",
        ),
        (
            "DeletePolicy",
            json!({ "PolicyId": [] }),
            "MissingParameter",
        ),
        (
            "ListPolicies",
            json!({ "Scope": "Everything" }),
            "InvalidParameterValue",
        ),
        ("GetPolicy", json!({ "PolicyId": [1] }), "InvalidParameter"),
    ];
    for (action, body, expected) in tencent_cases {
        let (code, response) = root_tencent(&harness, CAM_VERSION, action, body.clone()).await;
        assert_eq!(
            code.as_deref(),
            Some(expected),
            "{action} {body}: {response}"
        );
    }
    let account = harness.account_id.to_string();
    let principal = |name: &str| format!("{name}@{account}.onaliyun.com");
    // (version, action, parameters, expected status, expected code)
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, String)>, u16, &'a str);
    let aliyun_cases: Vec<Case> = vec![
        (
            IMS_VERSION,
            "CreateUser",
            vec![
                ("UserPrincipalName", "no-at-sign".into()),
                ("DisplayName", "x".into()),
            ],
            400,
            "InvalidParameter.UserPrincipalName.Format",
        ),
        (
            IMS_VERSION,
            "CreateUser",
            vec![
                ("UserPrincipalName", "bob@elsewhere.onaliyun.com".into()),
                ("DisplayName", "x".into()),
            ],
            400,
            "InvalidParameter.UserPrincipalName.Format",
        ),
        (
            IMS_VERSION,
            "CreateUser",
            vec![
                ("UserPrincipalName", principal("b+b")),
                ("DisplayName", "x".into()),
            ],
            400,
            "InvalidParameter.UserName.InvalidChars",
        ),
        (
            IMS_VERSION,
            "CreateUser",
            vec![
                ("UserPrincipalName", principal(&"b".repeat(65))),
                ("DisplayName", "x".into()),
            ],
            400,
            "InvalidParameter.UserName.Length",
        ),
        (
            IMS_VERSION,
            "CreateUser",
            vec![("UserPrincipalName", principal("bob"))],
            400,
            "MissingParameter",
        ),
        (
            IMS_VERSION,
            "CreateUser",
            vec![
                ("UserPrincipalName", principal("bob")),
                ("DisplayName", "d".repeat(25)),
            ],
            400,
            "InvalidParameter.DisplayName.Length",
        ),
        (
            IMS_VERSION,
            "CreateUser",
            vec![
                ("UserPrincipalName", principal("bob")),
                ("DisplayName", "x".into()),
                ("MobilePhone", "call-me".into()),
            ],
            400,
            "InvalidParameter.MobilePhone.Format",
        ),
        (
            IMS_VERSION,
            "GetUser",
            vec![("UserId", "not-a-number".into())],
            404,
            "EntityNotExist.User",
        ),
        (IMS_VERSION, "GetUser", vec![], 400, "MissingParameter"),
        (
            IMS_VERSION,
            "ListUsers",
            vec![("MaxItems", "0".into())],
            400,
            "InvalidParameter",
        ),
        (
            IMS_VERSION,
            "ListUsers",
            vec![("Marker", "garbage".into())],
            400,
            "InvalidParameter",
        ),
        (
            RAM_VERSION,
            "CreatePolicy",
            vec![
                ("PolicyName", "bad name".into()),
                ("PolicyDocument", ram_allow("ram:*")),
            ],
            400,
            "InvalidParameter.PolicyName.InvalidChars",
        ),
        (
            RAM_VERSION,
            "CreatePolicy",
            vec![
                ("PolicyName", "deep".into()),
                ("PolicyDocument", deep.clone()),
            ],
            400,
            "MalformedPolicyDocument",
        ),
        (
            RAM_VERSION,
            "CreatePolicy",
            vec![
                ("PolicyName", "long".into()),
                ("PolicyDocument", "x".repeat(6_145)),
            ],
            400,
            "InvalidParameter.PolicyDocument.Length",
        ),
        (
            RAM_VERSION,
            "AttachPolicyToUser",
            vec![
                ("PolicyType", "Foo".into()),
                ("PolicyName", "p".into()),
                ("UserName", "nobody".into()),
            ],
            400,
            "InvalidParameter.PolicyType",
        ),
        (
            RAM_VERSION,
            "ListPolicies",
            vec![("MaxItems", "1001".into())],
            400,
            "InvalidParameter",
        ),
        (
            RAM_VERSION,
            "GetPolicy",
            vec![
                ("PolicyType", "System".into()),
                ("PolicyName", "NoSuchThing".into()),
            ],
            404,
            "EntityNotExist.Policy",
        ),
    ];
    for (version, action, parameters, status, expected) in aliyun_cases {
        let borrowed: Vec<(&str, &str)> = parameters
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let (got_status, code, body) = root_aliyun(&harness, version, action, &borrowed).await;
        assert_eq!(
            (got_status, code.as_deref()),
            (status, Some(expected)),
            "{action} {parameters:?}: {body}"
        );
    }
    // Nothing was created by any of it.
    let (_, users) = root_tencent(&harness, CAM_VERSION, "ListUsers", json!({})).await;
    assert_eq!(users["Data"], json!([]));
    let (_, policies) = root_tencent(
        &harness,
        CAM_VERSION,
        "ListPolicies",
        json!({ "Scope": "Local" }),
    )
    .await;
    assert_eq!(policies["TotalNum"], 0);
}

#[tokio::test]
async fn listings_continue_after_their_marker_even_when_it_was_deleted() {
    let harness = harness().await;
    let account = harness.account_id.to_string();
    for name in ["ann", "ben", "cat"] {
        let principal = format!("{name}@{account}.onaliyun.com");
        let (status, _, body) = root_aliyun(
            &harness,
            IMS_VERSION,
            "CreateUser",
            &[("UserPrincipalName", &principal), ("DisplayName", name)],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (status, _, body) = root_aliyun(
            &harness,
            RAM_VERSION,
            "CreatePolicy",
            &[
                ("PolicyName", &format!("p-{name}")),
                ("PolicyDocument", &ram_allow("ram:GetUser")),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    // Users: the first page ends on one user, which is then deleted.
    let (_, _, first) = root_aliyun(&harness, IMS_VERSION, "ListUsers", &[("MaxItems", "1")]).await;
    assert_eq!(first["IsTruncated"], true);
    let first_name = first["Users"]["User"][0]["UserPrincipalName"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, _) = root_aliyun(
        &harness,
        IMS_VERSION,
        "DeleteUser",
        &[("UserPrincipalName", &first_name)],
    )
    .await;
    assert_eq!(status, 200);
    let marker = first["Marker"].as_str().unwrap().to_owned();
    let (status, _, rest) =
        root_aliyun(&harness, IMS_VERSION, "ListUsers", &[("Marker", &marker)]).await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["IsTruncated"], false);
    let rest: Vec<&str> = rest["Users"]["User"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["UserPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(rest.len(), 2, "{rest:?}");
    assert!(!rest.contains(&first_name.as_str()));
    // Policies: three system, then the three custom; delete the one a marker names.
    let (_, _, page) =
        root_aliyun(&harness, RAM_VERSION, "ListPolicies", &[("MaxItems", "4")]).await;
    let last = page["Policies"]["Policy"][3]["PolicyName"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(last.starts_with("p-"), "{page}");
    let (status, _, _) = root_aliyun(
        &harness,
        RAM_VERSION,
        "DeletePolicy",
        &[("PolicyName", &last)],
    )
    .await;
    assert_eq!(status, 200);
    let marker = page["Marker"].as_str().unwrap().to_owned();
    let (status, _, rest) = root_aliyun(
        &harness,
        RAM_VERSION,
        "ListPolicies",
        &[("Marker", &marker)],
    )
    .await;
    assert_eq!(status, 200, "{rest}");
    let rest: Vec<&str> = rest["Policies"]["Policy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|policy| policy["PolicyName"].as_str().unwrap())
        .collect();
    assert_eq!(rest.len(), 2, "{rest:?}");
    assert!(!rest.contains(&last.as_str()));
}

#[tokio::test]
async fn every_alibaba_table_row_reaches_its_handler() {
    use keyplane_aliyun::permissions;
    let harness = harness().await;
    let user = sub_user(&harness, "rows").await;
    let mut rows = 0;
    for (version, product) in keyplane_aliyun::VERSIONS {
        let service = match product {
            keyplane_aliyun::Product::Ims | keyplane_aliyun::Product::Ram => "ram",
            keyplane_aliyun::Product::Smc => "smc",
        };
        for row in permissions::table(*product) {
            rows += 1;
            assert_eq!(row.product, product.name(), "{}", row.name);
            assert_eq!(row.permission, format!("{service}:{}", row.name));
            assert_eq!(
                permissions::permission(*product, row.name).map(|found| found.permission),
                Some(row.permission),
                "{} is routed to its own row",
                row.name
            );
            let owned = aliyun_parameters(row.name, &user, harness.account_id);
            let parameters = borrowed(&owned);
            // The root may do anything: whatever it is answered comes from the handler.
            let (status, code, body) = aliyun(
                &harness,
                &harness.root_aliyun,
                version,
                row.name,
                &parameters,
            )
            .await;
            assert!(
                !matches!(
                    code.as_deref(),
                    Some("InvalidAction.NotFound" | "InternalError" | "NoPermission")
                        | Some("Forbidden.RAM")
                ),
                "{} ({status}) must reach its handler: {body}",
                row.name
            );
        }
    }
    assert_eq!(
        rows,
        keyplane_aliyun::VERSIONS
            .iter()
            .map(|(_, product)| keyplane_aliyun::actions(*product).len())
            .sum::<usize>()
    );
    for (name, _) in keyplane_aliyun::default_rate_limits() {
        let (product, action) = name.split_once(':').expect("product:Action");
        assert!(
            keyplane_aliyun::VERSIONS
                .iter()
                .any(|(_, served)| served.name() == product
                    && keyplane_aliyun::actions(*served).contains(&action)),
            "the default rate limit {name} names a row"
        );
    }
}
