//! The resource every Tencent action is asked on, named as CAM names it:
//! `qcs::cam::uin/{owner}:uin/{target}` for access keys, `qcs::apigw::uin/{owner}:apikey/{id}`
//! for API keys (not regional: the region segment is always empty, whatever `X-TC-Region`
//! says, and policies naming a region there are refused at creation; see
//! `keyplane_core::policy_admission`), and `*` for the actions CAM authorizes at the operation
//! level only (user and policy management). `GetSecurityLastUsed` is asked on the caller's own
//! user: a sub-user allowed it sees the last use of its own keys (the root: of every key in the
//! account). Each row of an action table (see `actions`) says which [`ResourceKind`] it names;
//! the pipeline names it with [`Resource::name`] and authorizes the row's permission on it
//! before the handler runs.

use keyplane_core::authority::UserReference;
use keyplane_core::authorization::Principal;
use keyplane_core::model::User;
use keyplane_core::{Authority, CoreError, RequestContext};

use crate::errors::TencentError;
use crate::params::Params;

/// How the resource of an action is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// The user named by `TargetUin` (default: the caller): CAM's access-key actions.
    TargetUser,
    /// The caller's own user (what a sub-user may see of others is decided by the action).
    Caller,
    /// Every resource: a CAM user action, authorized at the operation level.
    Users,
    /// Every resource, like [`ResourceKind::Users`]; the sub-user named by `Name` is resolved
    /// for the action, with whether the caller also holds `keys_permission` on it (needed to
    /// delete the user's access keys with it, as on CAM).
    DeletedUser { keys_permission: &'static str },
    /// Every resource: a CAM policy action, authorized at the operation level.
    Policies,
    /// The API keys of the account, as a whole.
    ApiKeys,
    /// The API key named by `AccessKeyId`.
    ApiKey,
}

/// The sub-user a `DeleteUser` names, resolved before authorization; its failures are
/// answered by the action, after its own parameter checks.
#[derive(Debug)]
pub struct DeletedUser {
    /// The user (`None` when the `Name` parameter could not be read: the action refuses it).
    pub user: Option<Result<User, CoreError>>,
    /// Whether the caller may also delete the user's access keys (`None` with no user).
    pub may_delete_keys: Option<Result<bool, CoreError>>,
}

/// The resource of one request, with what was read or resolved for it.
#[derive(Debug)]
pub enum Resource {
    User(Option<u64>),
    Any,
    DeletedUser(Box<DeletedUser>),
    ApiKeys,
    ApiKey { key_id: String },
}

impl Resource {
    /// Names the resource of `kind` from the parameters (a malformed value is the client's
    /// error, reported before authorization as the action itself would).
    pub async fn name(
        kind: ResourceKind,
        authority: &Authority,
        context: &RequestContext,
        parameters: &Params,
    ) -> Result<Self, TencentError> {
        Ok(match kind {
            ResourceKind::TargetUser => Resource::User(parameters.optional_unsigned("TargetUin")?),
            ResourceKind::Caller => Resource::User(None),
            ResourceKind::Users | ResourceKind::Policies => Resource::Any,
            ResourceKind::DeletedUser { keys_permission } => Resource::DeletedUser(Box::new(
                DeletedUser::resolve(authority, context, parameters, keys_permission).await,
            )),
            ResourceKind::ApiKeys => Resource::ApiKeys,
            ResourceKind::ApiKey => Resource::ApiKey {
                key_id: parameters.required_string("AccessKeyId")?,
            },
        })
    }

    /// The resource names, for `principal`.
    pub fn names(&self, principal: Principal<'_>) -> Vec<String> {
        let owner = principal.account_id;
        vec![match self {
            Resource::User(target) => user_resource(owner, target.unwrap_or(principal.uin)),
            Resource::Any | Resource::DeletedUser(_) => "*".to_owned(),
            Resource::ApiKeys => format!("qcs::apigw::uin/{owner}:apikey/*"),
            Resource::ApiKey { key_id } => {
                format!("qcs::apigw::uin/{owner}:apikey/{key_id}")
            }
        }]
    }
}

impl DeletedUser {
    async fn resolve(
        authority: &Authority,
        context: &RequestContext,
        parameters: &Params,
        keys_permission: &'static str,
    ) -> Self {
        let Ok(Some(name)) = parameters.optional_string("Name") else {
            return Self {
                user: None,
                may_delete_keys: None,
            };
        };
        let user = authority
            .sub_user(context, UserReference::Name(&name))
            .await;
        let may_delete_keys = match &user {
            Ok(user) => Some(
                authority
                    .authorize(context, keys_permission, |_| {
                        vec![user_resource(user.account_id, user.uin)]
                    })
                    .await
                    .map(|authorization| authorization.allowed()),
            ),
            Err(_) => None,
        };
        Self {
            user: Some(user),
            may_delete_keys,
        }
    }
}

/// A CAM user's resource name.
fn user_resource(owner: u64, uin: u64) -> String {
    format!("qcs::cam::uin/{owner}:uin/{uin}")
}
