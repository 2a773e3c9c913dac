//! The built-in system policies, written as RAM documents and parsed once, at first use.
//!
//! Each has a name (as attached by name on the Alibaba side) and a numeric id (as attached by
//! `PolicyId` on the Tencent side); both are stable and must not be reused.
//!
//! `ReadOnlyAccess` never hands out a secret: it leaves every API Gateway resource out
//! (`NotResource: qcs::apigw:*`), because `DescribeApiKey` and `DescribeApiKeysStatus` return
//! each key's `AccessKeySecret`. Reading API keys takes a policy that allows those actions by
//! name (or `AdministratorAccess`).

use std::sync::LazyLock;

use crate::policy::Policy;
use crate::syntax::Syntax;

/// A built-in policy.
#[derive(Debug)]
pub struct SystemPolicy {
    pub name: &'static str,
    pub description: &'static str,
    pub cam_policy_id: u64,
    pub policy: Policy,
}

/// (name, description, CAM policy id, RAM document).
const DEFINITIONS: [(&str, &str, u64, &str); 3] = [
    (
        "AdministratorAccess",
        "Full access to every action on every resource of the account.",
        1,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "ReadOnlyAccess",
        "Read-only access: every Get*, List* and Describe* action on every resource except API \
         Gateway keys, whose descriptions carry their secrets.",
        2,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["*:Get*","*:List*","*:Describe*"],"NotResource":"qcs::apigw:*"}]}"#,
    ),
    (
        "ManageOwnAccessKeys",
        "Lets a user create, list, update and delete its own access keys and see their last use.",
        3,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:CreateAccessKey","ram:ListAccessKeys","ram:UpdateAccessKey","ram:DeleteAccessKey","ram:GetAccessKeyLastUsed","cam:CreateAccessKey","cam:ListAccessKeys","cam:UpdateAccessKey","cam:DeleteAccessKey","cam:GetSecurityLastUsed"],"Resource":["acs:ram::${AccountId}:user/${UserName}","qcs::cam::uin/${AccountId}:uin/${Uin}"]}]}"#,
    ),
];

static SYSTEM_POLICIES: LazyLock<Vec<SystemPolicy>> = LazyLock::new(|| {
    DEFINITIONS
        .iter()
        .map(
            |&(name, description, cam_policy_id, document)| SystemPolicy {
                name,
                description,
                cam_policy_id,
                // Constant documents, checked by the tests: not input-derived.
                policy: Policy::parse(document, Syntax::Ram)
                    .unwrap_or_else(|error| panic!("system policy {name} does not parse: {error}")),
            },
        )
        .collect()
});

/// Every built-in policy.
pub fn system_policies() -> &'static [SystemPolicy] {
    &SYSTEM_POLICIES
}

/// The built-in policy of this name (exact, case-sensitive).
pub fn system_policy(name: &str) -> Option<&'static SystemPolicy> {
    system_policies().iter().find(|policy| policy.name == name)
}

/// The built-in policy of this CAM policy id.
pub fn system_policy_by_cam_id(cam_policy_id: u64) -> Option<&'static SystemPolicy> {
    system_policies()
        .iter()
        .find(|policy| policy.cam_policy_id == cam_policy_id)
}
