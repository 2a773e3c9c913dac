//! RAM 2015-05-01 policy actions: `CreatePolicy` (a RAM-syntax document, stored in the common
//! form), `GetPolicy` (the document rendered in RAM syntax, whichever syntax it was written
//! in), `DeletePolicy` (refused while attached) and `ListPolicies` (in `policies`), and
//! `AttachPolicyToUser`, `DetachPolicyFromUser` and `ListPoliciesForUser` (in `attachments`),
//! with RAM's field names, limits and error codes, each one row of [`ACTIONS`]. Users are named by RAM's `UserName` (the part of the
//! `UserPrincipalName` before `@`); policies by `PolicyType` (`System` or `Custom`) and
//! `PolicyName`.

mod attachments;
mod policies;

use keyplane_core::authority::UserReference;
use keyplane_core::model::{PolicyType, User};
use keyplane_core::{Authority, CoreError, RequestContext};

use crate::actions::{handler, Handler, Row};
use crate::envelope::Params;
use crate::errors::{AliyunCode, AliyunError};
use crate::permissions::ResourceKind;

const fn row(
    name: &'static str,
    permission: &'static str,
    resource: ResourceKind,
    handler: Handler,
) -> Row {
    Row {
        product: "ram",
        name,
        permission,
        resource,
        rate_limit: None,
        handler,
    }
}

/// Every RAM policy action.
pub const ACTIONS: &[Row] = &[
    row(
        "CreatePolicy",
        "ram:CreatePolicy",
        ResourceKind::NewPolicy,
        handler!(policies::create_policy),
    ),
    row(
        "GetPolicy",
        "ram:GetPolicy",
        ResourceKind::Policy,
        handler!(policies::get_policy),
    ),
    row(
        "DeletePolicy",
        "ram:DeletePolicy",
        ResourceKind::Policy,
        handler!(policies::delete_policy),
    ),
    row(
        "ListPolicies",
        "ram:ListPolicies",
        ResourceKind::AllPolicies,
        handler!(policies::list_policies),
    ),
    row(
        "AttachPolicyToUser",
        "ram:AttachPolicyToUser",
        ResourceKind::UserAndPolicy,
        handler!(attachments::attach_policy_to_user),
    ),
    row(
        "DetachPolicyFromUser",
        "ram:DetachPolicyFromUser",
        ResourceKind::UserAndPolicy,
        handler!(attachments::detach_policy_from_user),
    ),
    row(
        "ListPoliciesForUser",
        "ram:ListPoliciesForUser",
        ResourceKind::UserName,
        handler!(attachments::list_policies_for_user),
    ),
];

/// RAM's longest policy name.
const POLICY_NAME_MAX_CHARACTERS: usize = 128;
/// Every policy has one version here, the one it was created with.
const DEFAULT_VERSION: &str = "v1";

fn core(error: CoreError) -> AliyunError {
    AliyunError::from_core(&error)
}

/// The RAM user (never the root account) `UserName` names.
pub(super) async fn user_named(
    authority: &Authority,
    context: &RequestContext,
    params: &Params,
) -> Result<User, AliyunError> {
    let name = params.required("UserName")?;
    authority
        .sub_user(context, UserReference::Name(name))
        .await
        .map_err(core)
}

/// `PolicyType`: `System` or `Custom` (`InvalidParameter.PolicyType` otherwise).
pub(super) fn policy_type(params: &Params) -> Result<PolicyType, AliyunError> {
    PolicyType::parse(params.required("PolicyType")?)
        .ok_or_else(|| AliyunError::from(AliyunCode::InvalidParameterPolicyType))
}

/// RAM policy names: 1 to 128 letters, digits and `-`.
pub(super) fn check_policy_name(name: &str) -> Result<(), AliyunError> {
    if name.chars().count() > POLICY_NAME_MAX_CHARACTERS {
        return Err(AliyunCode::InvalidParameterPolicyNameLength.into());
    }
    if !name
        .chars()
        .all(|character| character.is_ascii_alphanumeric() || character == '-')
    {
        return Err(AliyunCode::InvalidParameterPolicyNameInvalidChars.into());
    }
    Ok(())
}
