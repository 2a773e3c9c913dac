//! Policies attached to RAM users: `AttachPolicyToUser`, `DetachPolicyFromUser` (a custom
//! policy must exist) and `ListPoliciesForUser`.

use keyplane_core::model::PolicyType;
use keyplane_core::{Authority, RequestContext};
use serde_json::{json, Value};

use super::{check_policy_name, core, policy_type, user_named, DEFAULT_VERSION};
use crate::actions::{fields, nothing, Answer, Call};
use crate::envelope::Params;
use crate::errors::AliyunError;
use crate::time_format::iso8601;

pub(super) async fn attach_policy_to_user(call: Call<'_>) -> Result<Answer, AliyunError> {
    let Call {
        authority,
        context,
        params,
        ..
    } = call;
    change_attachment(authority, context, params, true).await
}

pub(super) async fn detach_policy_from_user(call: Call<'_>) -> Result<Answer, AliyunError> {
    let Call {
        authority,
        context,
        params,
        ..
    } = call;
    change_attachment(authority, context, params, false).await
}

/// Attaches (`attach`) or detaches the policy `PolicyType`/`PolicyName` to or from the user
/// `UserName`.
async fn change_attachment(
    authority: &Authority,
    context: &RequestContext,
    params: &Params,
    attach: bool,
) -> Result<Answer, AliyunError> {
    let policy_type = policy_type(params)?;
    let policy_name = params.required("PolicyName")?;
    check_policy_name(policy_name)?;
    let user = user_named(authority, context, params).await?;
    if policy_type == PolicyType::Custom {
        authority
            .custom_policy_named(context, policy_name)
            .await
            .map_err(core)?;
    }
    let result = if attach {
        authority
            .attach_policy(context, user.uin, policy_type, policy_name)
            .await
    } else {
        authority
            .detach_policy(context, user.uin, policy_type, policy_name)
            .await
    };
    result.map_err(core)?;
    nothing()
}

pub(super) async fn list_policies_for_user(call: Call<'_>) -> Result<Answer, AliyunError> {
    let Call {
        authority,
        context,
        params,
        ..
    } = call;
    let user = user_named(authority, context, params).await?;
    let attachments = authority
        .user_policies(context, user.uin)
        .await
        .map_err(core)?;
    let policies: Vec<Value> = attachments
        .iter()
        .map(|attachment| {
            let description = match attachment.policy_type {
                PolicyType::System => keyplane_policy::system_policy(&attachment.policy_name)
                    .map(|system| system.description.to_owned())
                    .unwrap_or_default(),
                PolicyType::Custom => attachment
                    .custom
                    .as_ref()
                    .map(|custom| custom.description.clone())
                    .unwrap_or_default(),
            };
            json!({
                "PolicyName": attachment.policy_name,
                "PolicyType": attachment.policy_type.as_str(),
                "Description": description,
                "DefaultVersion": DEFAULT_VERSION,
                "AttachDate": iso8601(attachment.attached_at),
            })
        })
        .collect();
    Ok(fields(json!({ "Policies": { "Policy": policies } })))
}
