//! Authorization that leaks nothing, against a real `keyplane serve`: naming a user by id or
//! access key tells a refused caller nothing about that user; the built-in `ReadOnlyAccess`
//! never hands out an API Gateway key secret; a region-scoped API Gateway policy cannot be
//! written (and so cannot be bypassed by sending another `X-TC-Region`); and a policy using a
//! condition key Keyplane never supplies is refused at creation with each cloud's
//! malformed-document error, while the keys it does supply stay accepted in both syntaxes.

use std::net::SocketAddr;

use http::HeaderValue;
use serde_json::{json, Value};

use super::support::{
    aliyun_call, attach_policy, call, init, send, signed, AliyunCredentials, Credentials, Server,
    API_GATEWAY_VERSION, CAM_VERSION, IMS_VERSION,
};

const RAM_VERSION: &str = "2015-05-01";
/// The CAM `PolicyId` of the built-in `ReadOnlyAccess`.
const READ_ONLY_ACCESS: u64 = 2;
const DENIED: &str = "AuthFailure.UnauthorizedOperation";

/// A server with its root's credentials in both families.
struct Installation {
    server: Server,
    account_id: u64,
    root_tencent: Credentials,
    root_aliyun: AliyunCredentials,
    _directory: tempfile::TempDir,
}

impl Installation {
    fn start() -> Installation {
        let directory = tempfile::tempdir().unwrap();
        let initialized = init(directory.path());
        let server = Server::start(directory.path(), &[]);
        Installation {
            server,
            account_id: initialized["account_id"].as_str().unwrap().parse().unwrap(),
            root_tencent: Credentials::root(&initialized),
            root_aliyun: AliyunCredentials::root(&initialized),
            _directory: directory,
        }
    }

    fn address(&self) -> SocketAddr {
        self.server.address
    }

    /// A CAM call as the root; panics unless it succeeds.
    /// Creates an API key as the root in ap-guangzhou; its id and secret.
    async fn root_api_key(&self, name: &str) -> (String, String) {
        let created = api_gateway_in(
            self.address(),
            &self.root_tencent,
            "ap-guangzhou",
            "CreateApiKey",
            json!({ "SecretName": name }),
        )
        .await;
        assert_eq!(created.0, None, "{}", created.1);
        let result = &created.1["Result"];
        (
            result["AccessKeyId"].as_str().unwrap().to_owned(),
            result["AccessKeySecret"].as_str().unwrap().to_owned(),
        )
    }

    async fn root_cam(&self, action: &str, body: Value) -> Value {
        let reply = call(
            self.address(),
            &self.root_tencent,
            CAM_VERSION,
            action,
            &body.to_string(),
        )
        .await;
        assert_eq!(reply.error_code(), None, "{action}: {}", reply.json());
        reply.json()["Response"].clone()
    }

    /// Creates a sub-user through IMS with one key of each family.
    async fn sub_user(&self, name: &str) -> SubUser {
        let principal_name = format!("{name}@{}.onaliyun.com", self.account_id);
        let created = aliyun_call(
            self.address(),
            &self.root_aliyun,
            IMS_VERSION,
            "CreateUser",
            &[
                ("UserPrincipalName", &principal_name),
                ("DisplayName", name),
            ],
        )
        .await;
        assert_eq!(created.status, 200, "{}", created.json());
        let uin: u64 = created.json()["User"]["UserId"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let tencent = self
            .root_cam("CreateAccessKey", json!({ "TargetUin": uin }))
            .await;
        let aliyun = aliyun_call(
            self.address(),
            &self.root_aliyun,
            IMS_VERSION,
            "CreateAccessKey",
            &[("UserPrincipalName", &principal_name)],
        )
        .await;
        assert_eq!(aliyun.status, 200, "{}", aliyun.json());
        let aliyun = aliyun.json();
        SubUser {
            uin,
            tencent: Credentials::created(&tencent),
            aliyun: AliyunCredentials::created(&aliyun),
        }
    }

    /// Creates a CAM-syntax policy and attaches it to `user`.
    async fn cam_policy_attached(&self, name: &str, document: Value, user: &SubUser) {
        let created = self
            .root_cam(
                "CreatePolicy",
                json!({ "PolicyName": name, "PolicyDocument": document.to_string() }),
            )
            .await;
        let policy_id = created["PolicyId"].as_u64().unwrap();
        attach_policy(self.address(), &self.root_tencent, user.uin, policy_id).await;
    }

    /// RAM `CreatePolicy` as the root: (status, code, body).
    async fn ram_create_policy(&self, name: &str, document: &str) -> (u16, Option<String>, Value) {
        let reply = aliyun_call(
            self.address(),
            &self.root_aliyun,
            RAM_VERSION,
            "CreatePolicy",
            &[("PolicyName", name), ("PolicyDocument", document)],
        )
        .await;
        let body = reply.json();
        let code = body["Code"].as_str().map(str::to_owned);
        (reply.status, code, body)
    }

    /// CAM `CreatePolicy` as the root: (code, response).
    async fn cam_create_policy(&self, name: &str, document: &str) -> (Option<String>, Value) {
        let reply = call(
            self.address(),
            &self.root_tencent,
            CAM_VERSION,
            "CreatePolicy",
            &json!({ "PolicyName": name, "PolicyDocument": document }).to_string(),
        )
        .await;
        (reply.error_code(), reply.json()["Response"].clone())
    }
}

struct SubUser {
    uin: u64,
    tencent: Credentials,
    aliyun: AliyunCredentials,
}

/// An IMS call: (status, code, body).
async fn ims(
    address: SocketAddr,
    credentials: &AliyunCredentials,
    action: &str,
    parameters: &[(&str, &str)],
) -> (u16, Option<String>, Value) {
    let reply = aliyun_call(address, credentials, IMS_VERSION, action, parameters).await;
    let body = reply.json();
    let code = body["Code"].as_str().map(str::to_owned);
    (reply.status, code, body)
}

/// An API Gateway call with `X-TC-Region` set to `region` (the header is not signed).
async fn api_gateway_in(
    address: SocketAddr,
    credentials: &Credentials,
    region: &str,
    action: &str,
    body: Value,
) -> (Option<String>, Value, String) {
    let mut request = signed(
        address,
        credentials,
        API_GATEWAY_VERSION,
        action,
        &body.to_string(),
    );
    request
        .headers_mut()
        .insert("X-TC-Region", HeaderValue::from_str(region).unwrap());
    let reply = send(address, request).await;
    let text = String::from_utf8_lossy(&reply.body).into_owned();
    (reply.error_code(), reply.json()["Response"].clone(), text)
}

#[tokio::test]
async fn naming_a_user_by_id_or_access_key_tells_a_refused_caller_nothing() {
    let installation = Installation::start();
    let address = installation.address();
    let bob = installation.sub_user("bob").await;
    let carol = installation.sub_user("carol").await;
    let carol_id = carol.uin.to_string();
    let account = installation.account_id;
    let unknown_id = "1999999999999999";
    let unknown_key = "LTAI5tNoSuchKeyAnywhere0000";

    // Bob holds no policy: carol's id and key and unknown ones are answered alike, and the
    // refusal names only what bob sent.
    for action in ["GetUser", "DeleteUser"] {
        for (parameter, existing, unknown) in [
            ("UserId", carol_id.as_str(), unknown_id),
            (
                "UserAccessKeyId",
                carol.aliyun.access_key_id.as_str(),
                unknown_key,
            ),
        ] {
            let mut answers = Vec::new();
            for given in [existing, unknown] {
                let (status, code, body) =
                    ims(address, &bob.aliyun, action, &[(parameter, given)]).await;
                let detail = &body["AccessDeniedDetail"];
                assert_eq!(
                    detail["AuthResource"],
                    format!("acs:ram::{account}:user/{given}"),
                    "{action} {parameter}: {body}"
                );
                assert!(
                    !body.to_string().contains("carol"),
                    "{action} {parameter} names the user: {body}"
                );
                answers.push((status, code, detail["NoPermissionType"].clone()));
            }
            assert_eq!(
                answers[0], answers[1],
                "{action} by {parameter}: an existing and an unknown id answer alike"
            );
            assert_eq!(answers[0].0, 403);
            assert_eq!(answers[0].1.as_deref(), Some("NoPermission"));
        }
    }

    // Allowed on every user but explicitly denied on carol: carol's id is answered as an
    // unknown id is (the user does not exist), never as a refusal naming her.
    installation
        .cam_policy_attached(
            "get-all-but-carol",
            json!({"version": "2.0", "statement": [
                {"effect": "allow", "action": ["ram:GetUser"], "resource": ["*"]},
                {"effect": "deny", "action": ["ram:GetUser"],
                 "resource": [format!("acs:ram::{account}:user/carol")]}]}),
            &bob,
        )
        .await;
    for (parameter, existing, unknown) in [
        ("UserId", carol_id.as_str(), unknown_id),
        (
            "UserAccessKeyId",
            carol.aliyun.access_key_id.as_str(),
            unknown_key,
        ),
    ] {
        for (value, context) in [
            (unknown, ""),
            (existing, "denied on carol, answered as for an unknown id: "),
        ] {
            let (status, code, body) =
                ims(address, &bob.aliyun, "GetUser", &[(parameter, value)]).await;
            assert_eq!(
                (status, code.as_deref()),
                (404, Some("EntityNotExist.User")),
                "{context}{body}"
            );
            if value == existing {
                assert!(!body.to_string().contains("carol"), "{body}");
            }
        }
    }

    // A user bob may act on is answered normally, by either selection.
    let dave = installation.sub_user("dave").await;
    for (parameter, given) in [
        ("UserId", dave.uin.to_string()),
        ("UserAccessKeyId", dave.aliyun.access_key_id.clone()),
    ] {
        let (status, _, body) = ims(address, &bob.aliyun, "GetUser", &[(parameter, &given)]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["User"]["UserPrincipalName"],
            format!("dave@{account}.onaliyun.com")
        );
    }
}

#[tokio::test]
async fn read_only_access_never_hands_out_an_api_key_secret() {
    let installation = Installation::start();
    let address = installation.address();
    let (key_id, secret) = installation.root_api_key("root-key").await;
    assert!(!secret.is_empty());

    let reader = installation.sub_user("reader").await;
    attach_policy(
        address,
        &installation.root_tencent,
        reader.uin,
        READ_ONLY_ACCESS,
    )
    .await;
    // Reading works elsewhere...
    let users = call(address, &reader.tencent, CAM_VERSION, "ListUsers", "{}").await;
    assert_eq!(users.error_code(), None, "{}", users.json());
    // ...but no API Gateway description, and so no secret, in any region.
    for region in ["ap-guangzhou", "ap-shanghai"] {
        for (action, body) in [
            ("DescribeApiKeysStatus", json!({})),
            ("DescribeApiKey", json!({ "AccessKeyId": key_id })),
        ] {
            let (code, response, text) =
                api_gateway_in(address, &reader.tencent, region, action, body).await;
            assert_eq!(code.as_deref(), Some(DENIED), "{action}: {response}");
            assert!(!text.contains(&secret), "{action} carried the secret");
        }
    }
    // The system policy says so when read back.
    let policy = installation
        .root_cam("GetPolicy", json!({ "PolicyId": READ_ONLY_ACCESS }))
        .await;
    assert!(
        policy["PolicyDocument"]
            .as_str()
            .unwrap()
            .contains("qcs::apigw:*"),
        "{policy}"
    );
}

#[tokio::test]
async fn a_region_scoped_api_gateway_deny_cannot_be_bypassed_with_another_region() {
    let installation = Installation::start();
    let address = installation.address();
    let account = installation.account_id;
    let (key_id, secret) = installation.root_api_key("guarded").await;

    // The review's policy: Allow apigw:*, Deny Describe/Delete in ap-guangzhou. It names a
    // region API keys do not have, and is refused in both syntaxes.
    let regional = format!("qcs::apigw:ap-guangzhou:uin/{account}:apikey/*");
    let (code, body) = installation
        .cam_create_policy(
            "regional-deny",
            &json!({"version": "2.0", "statement": [
                {"effect": "allow", "action": ["apigw:*"], "resource": ["*"]},
                {"effect": "deny",
                 "action": ["apigw:DescribeApiKey", "apigw:DescribeApiKeysStatus", "apigw:DeleteApiKey"],
                 "resource": [regional]}]})
            .to_string(),
        )
        .await;
    assert_eq!(
        code.as_deref(),
        Some("InvalidParameter.PolicyDocumentError"),
        "{body}"
    );
    assert!(body.to_string().contains("ap-guangzhou"), "{body}");
    let (status, code, body) = installation
        .ram_create_policy(
            "regional-deny",
            &json!({"Version": "1", "Statement": [
                {"Effect": "Deny", "Action": "apigw:DeleteApiKey", "Resource": regional}]})
            .to_string(),
        )
        .await;
    assert_eq!(
        (status, code.as_deref()),
        (400, Some("MalformedPolicyDocument")),
        "{body}"
    );

    // Written as API keys are named (no region, or any region), the deny holds whatever
    // region the request names.
    let mallory = installation.sub_user("mallory").await;
    installation
        .cam_policy_attached(
            "deny-describe-delete",
            json!({"version": "2.0", "statement": [
                {"effect": "allow", "action": ["apigw:*"], "resource": ["*"]},
                {"effect": "deny",
                 "action": ["apigw:DescribeApiKey", "apigw:DescribeApiKeysStatus", "apigw:DeleteApiKey"],
                 "resource": [format!("qcs::apigw:*:uin/{account}:apikey/*")]}]}),
            &mallory,
        )
        .await;
    for region in ["ap-guangzhou", "ap-shanghai", "na-ashburn"] {
        for (action, body) in [
            ("DescribeApiKey", json!({ "AccessKeyId": key_id })),
            ("DescribeApiKeysStatus", json!({})),
            ("DeleteApiKey", json!({ "AccessKeyId": key_id })),
        ] {
            let (code, response, text) =
                api_gateway_in(address, &mallory.tencent, region, action, body).await;
            assert_eq!(
                code.as_deref(),
                Some(DENIED),
                "{action} in {region}: {response}"
            );
            assert!(
                !text.contains(&secret),
                "{action} in {region} carried the secret"
            );
        }
    }
    let (code, response, _) = api_gateway_in(
        address,
        &installation.root_tencent,
        "ap-shanghai",
        "DescribeApiKey",
        json!({ "AccessKeyId": key_id }),
    )
    .await;
    assert_eq!(code, None, "the key still exists: {response}");
}

#[tokio::test]
async fn condition_keys_keyplane_never_supplies_are_refused_at_creation() {
    let installation = Installation::start();
    for (key, operator, value) in [
        ("acs:SecureTransport", "Bool", json!("false")),
        ("acs:MFAPresent", "Bool", json!("true")),
        ("acs:UserAgent", "StringLike", json!("*curl*")),
        ("qcs:mfa", "Bool", json!("true")),
    ] {
        let document = json!({"Version": "1", "Statement": [{"Effect": "Deny", "Action": "*",
            "Resource": "*", "Condition": {operator: {key: value}}}]})
        .to_string();
        let (status, code, body) = installation.ram_create_policy("inert", &document).await;
        assert_eq!(
            (status, code.as_deref()),
            (400, Some("MalformedPolicyDocument")),
            "{key}: {body}"
        );
        assert!(
            body["Message"]
                .as_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains(&key.to_ascii_lowercase()),
            "the refusal names {key}: {body}"
        );
    }
    for (key, operator, value) in [
        ("qcs:mfa", "bool_equal", json!(true)),
        ("qcs:secure_transport", "bool_equal", json!("false")),
        ("acs:SecureTransport", "bool_equal", json!("false")),
    ] {
        let document = json!({"version": "2.0", "statement": [{"effect": "deny",
            "action": ["*"], "resource": ["*"], "condition": {operator: {key: value}}}]})
        .to_string();
        let (code, body) = installation.cam_create_policy("inert", &document).await;
        assert_eq!(
            code.as_deref(),
            Some("InvalidParameter.PolicyDocumentError"),
            "{key}: {body}"
        );
        assert!(
            body["Error"]["Message"]
                .as_str()
                .unwrap()
                .contains(&key.to_ascii_lowercase()),
            "the refusal names {key}: {body}"
        );
    }

    // The keys Keyplane supplies stay accepted, under either cloud's name in either syntax.
    // Four in RAM's syntax, then four in CAM's, each named by its place among its cloud's.
    let (private, later, earlier) = ("10.0.0.0/8", "2099-01-01T00:00:00Z", "2020-01-01T00:00:00Z");
    for (index, (key, operator, value)) in [
        ("acs:SourceIp", "IpAddress", private),
        ("qcs:ip", "IpAddress", private),
        ("acs:CurrentTime", "DateLessThan", later),
        ("qcs:current_time", "DateGreaterThan", earlier),
        ("qcs:ip", "ip_equal", private),
        ("acs:SourceIp", "ip_not_equal", private),
        ("qcs:current_time", "date_less_than", later),
        ("acs:CurrentTime", "date_greater_than", earlier),
    ]
    .into_iter()
    .enumerate()
    {
        if index < 4 {
            let document = json!({"Version": "1", "Statement": [{"Effect": "Allow",
                "Action": "ram:ListUsers", "Resource": "*", "Condition": {operator: {key: value}}}]})
            .to_string();
            let (status, _, body) = installation
                .ram_create_policy(&format!("supplied-ram-{index}"), &document)
                .await;
            assert_eq!(status, 200, "{key}: {body}");
        } else {
            let document = json!({"version": "2.0", "statement": [{"effect": "allow",
                "action": ["cam:ListUsers"], "resource": ["*"], "condition": {operator: {key: value}}}]})
            .to_string();
            let (code, body) = installation
                .cam_create_policy(&format!("supplied-cam-{}", index - 4), &document)
                .await;
            assert_eq!(code, None, "{key}: {body}");
        }
    }

    // The system policies still parse and read back.
    for policy_id in 1..=3 {
        installation
            .root_cam("GetPolicy", json!({ "PolicyId": policy_id }))
            .await;
    }
}
