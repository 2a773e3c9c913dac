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
use keyplane_core::{Authority, RequestContext};

use crate::actions::{action_table, core, Row};
use crate::envelope::Params;
use crate::errors::{AliyunCode, AliyunError};

/// Every RAM policy action.
#[rustfmt::skip]
pub const ACTIONS: &[Row] = action_table!("ram" {
    "CreatePolicy" => ("ram:CreatePolicy", NewPolicy, policies::create_policy),
    "GetPolicy" => ("ram:GetPolicy", Policy, policies::get_policy),
    "DeletePolicy" => ("ram:DeletePolicy", Policy, policies::delete_policy),
    "ListPolicies" => ("ram:ListPolicies", AllPolicies, policies::list_policies),
    "AttachPolicyToUser" => ("ram:AttachPolicyToUser", UserAndPolicy, attachments::change_attachment::<true>),
    "DetachPolicyFromUser" => ("ram:DetachPolicyFromUser", UserAndPolicy, attachments::change_attachment::<false>),
    "ListPoliciesForUser" => ("ram:ListPoliciesForUser", UserName, attachments::list_policies_for_user),
});

/// RAM's longest policy name.
const POLICY_NAME_MAX_CHARACTERS: usize = 128;
/// Every policy has one version here, the one it was created with.
const DEFAULT_VERSION: &str = "v1";

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
