//! The permission every Tencent action needs, and the resource it is asked on, named as CAM
//! names them: `cam:CreateAccessKey` on `qcs::cam::uin/{owner}:uin/{target}`,
//! `apigw:DeleteApiKey` on `qcs::apigw::uin/{owner}:apikey/{id}` (API keys are not regional:
//! the region segment is always empty, whatever `X-TC-Region` says, and policies naming a
//! region there are refused at creation; see `keyplane_core::policy_admission`), and `*` for the
//! actions CAM authorizes at the operation level only (user and policy management).
//! `GetSecurityLastUsed` is asked on the caller's own user: a sub-user allowed it sees the last
//! use of its own keys (the root: of every key in the account). The
//! request pipeline authorizes every request from this table before dispatching it, so an
//! action missing here is refused, never run unchecked. Next to the table: the published
//! default rate limits of the actions that have one.

use keyplane_core::authorization::Principal;

use crate::errors::{Product, TencentError};
use crate::params::Params;

/// How the resource of an action is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// The user named by `TargetUin` (default: the caller).
    TargetUser,
    /// The caller's own user (what a sub-user may see of others is decided by the action).
    Caller,
    /// Every resource: the action is authorized at the operation level.
    Any,
    /// The API keys of the account, as a whole.
    ApiKeys,
    /// The API key named by `AccessKeyId`.
    ApiKey,
}

/// One action of a dispatch table, with the permission it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionPermission {
    pub action: &'static str,
    /// `service:Action`, as written in a CAM policy.
    pub permission: &'static str,
    pub resource: ResourceKind,
}

const fn entry(
    action: &'static str,
    permission: &'static str,
    resource: ResourceKind,
) -> ActionPermission {
    ActionPermission {
        action,
        permission,
        resource,
    }
}

/// CAM 2019-01-16.
pub const CAM: &[ActionPermission] = &[
    entry(
        "CreateAccessKey",
        "cam:CreateAccessKey",
        ResourceKind::TargetUser,
    ),
    entry(
        "ListAccessKeys",
        "cam:ListAccessKeys",
        ResourceKind::TargetUser,
    ),
    entry(
        "UpdateAccessKey",
        "cam:UpdateAccessKey",
        ResourceKind::TargetUser,
    ),
    entry(
        "DeleteAccessKey",
        "cam:DeleteAccessKey",
        ResourceKind::TargetUser,
    ),
    entry(
        "GetSecurityLastUsed",
        "cam:GetSecurityLastUsed",
        ResourceKind::Caller,
    ),
    entry("AddUser", "cam:AddUser", ResourceKind::Any),
    entry("GetUser", "cam:GetUser", ResourceKind::Any),
    entry("ListUsers", "cam:ListUsers", ResourceKind::Any),
    entry("DeleteUser", "cam:DeleteUser", ResourceKind::Any),
    entry("CreatePolicy", "cam:CreatePolicy", ResourceKind::Any),
    entry("GetPolicy", "cam:GetPolicy", ResourceKind::Any),
    entry("DeletePolicy", "cam:DeletePolicy", ResourceKind::Any),
    entry("ListPolicies", "cam:ListPolicies", ResourceKind::Any),
    entry(
        "AttachUserPolicy",
        "cam:AttachUserPolicy",
        ResourceKind::Any,
    ),
    entry(
        "DetachUserPolicy",
        "cam:DetachUserPolicy",
        ResourceKind::Any,
    ),
    entry(
        "ListAttachedUserPolicies",
        "cam:ListAttachedUserPolicies",
        ResourceKind::Any,
    ),
];

/// API Gateway 2018-08-08.
pub const API_GATEWAY: &[ActionPermission] = &[
    entry("CreateApiKey", "apigw:CreateApiKey", ResourceKind::ApiKeys),
    entry(
        "DescribeApiKeysStatus",
        "apigw:DescribeApiKeysStatus",
        ResourceKind::ApiKeys,
    ),
    entry(
        "DescribeApiKey",
        "apigw:DescribeApiKey",
        ResourceKind::ApiKey,
    ),
    entry("DisableApiKey", "apigw:DisableApiKey", ResourceKind::ApiKey),
    entry("EnableApiKey", "apigw:EnableApiKey", ResourceKind::ApiKey),
    entry("UpdateApiKey", "apigw:UpdateApiKey", ResourceKind::ApiKey),
    entry("DeleteApiKey", "apigw:DeleteApiKey", ResourceKind::ApiKey),
];

/// The published per-account rate limits, in requests per second, of the Tencent actions that
/// have one, by `product:Action` (the product as in [`Product::name`]). The server starts from
/// these and lets its configuration override them; actions not listed are unlimited.
pub const DEFAULT_RATE_LIMITS: &[(&str, u32)] = &[
    ("cam:CreateAccessKey", 5),
    ("cam:UpdateAccessKey", 5),
    ("cam:DeleteAccessKey", 5),
    ("cam:ListAccessKeys", 20),
    ("apigateway:CreateApiKey", 20),
];

/// [`DEFAULT_RATE_LIMITS`], as `keyplane_core::rate_limit::RateLimits::with_defaults` takes them.
pub fn default_rate_limits() -> impl Iterator<Item = (&'static str, u32)> {
    DEFAULT_RATE_LIMITS.iter().copied()
}

/// The permission table of a product.
pub fn table(product: Product) -> &'static [ActionPermission] {
    match product {
        Product::Cam => CAM,
        Product::ApiGateway => API_GATEWAY,
    }
}

/// The permission `action` of `product` needs; `None` for an action the table lacks (the
/// pipeline refuses it).
pub fn permission(product: Product, action: &str) -> Option<&'static ActionPermission> {
    table(product).iter().find(|entry| entry.action == action)
}

/// The resource of one request, with what was read from its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestResource {
    User(Option<u64>),
    Any,
    ApiKeys,
    ApiKey { key_id: String },
}

impl RequestResource {
    /// Reads what naming the resource of `entry` needs from the parameters (a malformed value
    /// is the client's error, reported before authorization as the action itself would).
    pub fn read(entry: &ActionPermission, params: &Params) -> Result<Self, TencentError> {
        Ok(match entry.resource {
            ResourceKind::TargetUser => {
                RequestResource::User(params.optional_unsigned("TargetUin")?)
            }
            ResourceKind::Caller => RequestResource::User(None),
            ResourceKind::Any => RequestResource::Any,
            ResourceKind::ApiKeys => RequestResource::ApiKeys,
            ResourceKind::ApiKey => RequestResource::ApiKey {
                key_id: params.required_string("AccessKeyId")?,
            },
        })
    }

    /// The resource names, for `principal`.
    pub fn names(&self, principal: Principal<'_>) -> Vec<String> {
        let owner = principal.account_id;
        vec![match self {
            RequestResource::User(target) => {
                format!(
                    "qcs::cam::uin/{owner}:uin/{}",
                    target.unwrap_or(principal.uin)
                )
            }
            RequestResource::Any => "*".to_owned(),
            RequestResource::ApiKeys => format!("qcs::apigw::uin/{owner}:apikey/*"),
            RequestResource::ApiKey { key_id } => {
                format!("qcs::apigw::uin/{owner}:apikey/{key_id}")
            }
        }]
    }
}
