//! Policies attached to RAM users: `AttachPolicyToUser`, `DetachPolicyFromUser` (a custom
//! policy must exist) and `ListPoliciesForUser`.

use keyplane_core::model::PolicyType;
use serde_json::{json, Value};

use super::{check_policy_name, core, policy_type, user_named, DEFAULT_VERSION};
use crate::actions::{done, fields, Answer, Call};
use crate::errors::AliyunError;
use crate::time_format::iso8601;

/// `AttachPolicyToUser` (`ATTACH`) or `DetachPolicyFromUser`: attaches or detaches the policy
/// `PolicyType`/`PolicyName` to or from the user `UserName`.
pub(super) async fn change_attachment<const ATTACH: bool>(
    call: Call<'_>,
) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
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
    let result = if ATTACH {
        authority
            .attach_policy(context, user.uin, policy_type, policy_name)
            .await
    } else {
        authority
            .detach_policy(context, user.uin, policy_type, policy_name)
            .await
    };
    done(result)
}

pub(super) async fn list_policies_for_user(call: Call<'_>) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
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
