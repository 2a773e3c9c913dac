//! The IMS access-key actions: create, list, activate or deactivate, delete, and the last use
//! of a key, each on the user `UserPrincipalName` names (the caller when absent).

use keyplane_core::model::{AccessKey, KeyFamily, KeyStatus};
use keyplane_core::{Authority, CoreError, RequestContext};
use serde_json::{json, Value};

use crate::actions::{core, done, fields, Answer, Call};
use crate::envelope::Params;
use crate::errors::AliyunError;
use crate::time_format::iso8601;

/// The uin `UserPrincipalName` names, or `None` for the caller.
async fn target_user(
    authority: &Authority,
    context: &RequestContext,
    params: &Params,
) -> Result<Option<u64>, AliyunError> {
    let Some(principal_name) = params.non_empty("UserPrincipalName") else {
        return Ok(None);
    };
    let (name, domain) = principal_name.rsplit_once('@').ok_or_else(|| {
        AliyunError::invalid_parameter(
            "UserPrincipalName",
            "it must be of the form <name>@<account id>.onaliyun.com.",
        )
    })?;
    let account_id = context
        .caller
        .as_ref()
        .map(|caller| caller.account_id)
        .ok_or_else(AliyunError::internal)?;
    if !domain.eq_ignore_ascii_case(&format!("{account_id}.onaliyun.com")) {
        return Err(core(CoreError::UserNotFound));
    }
    let user = authority.user_named(context, name).await.map_err(core)?;
    Ok(Some(user.uin))
}

fn key_summary(key: &AccessKey) -> Value {
    json!({
        "AccessKeyId": key.id,
        "Status": key.status.as_str(),
        "CreateDate": iso8601(key.created_at),
        "UpdateDate": iso8601(key.updated_at),
    })
}

pub(super) async fn create_access_key(call: Call<'_>) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
    let target = target_user(authority, context, params).await?;
    let issued = authority
        .create_access_key(context, KeyFamily::Aliyun, target, None)
        .await
        .map_err(core)?;
    Ok(fields(json!({
        "AccessKey": {
            "AccessKeyId": issued.key.id,
            "AccessKeySecret": issued.secret.expose(),
            "CreateDate": iso8601(issued.key.created_at),
            "Status": issued.key.status.as_str(),
        }
    })))
}

pub(super) async fn list_access_keys(call: Call<'_>) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
    let target = target_user(authority, context, params).await?;
    let keys = authority
        .list_access_keys(context, KeyFamily::Aliyun, target)
        .await
        .map_err(core)?;
    let keys: Vec<Value> = keys.iter().map(key_summary).collect();
    Ok(fields(json!({ "AccessKeys": { "AccessKey": keys } })))
}

pub(super) async fn update_access_key(call: Call<'_>) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
    let target = target_user(authority, context, params).await?;
    let key_id = params.required("UserAccessKeyId")?;
    let status_text = params.required("Status")?;
    let status = KeyStatus::parse(status_text).ok_or_else(|| {
        AliyunError::invalid_parameter("Status", "it must be Active or Inactive.")
    })?;
    done(
        authority
            .set_access_key_status(context, key_id, status, target)
            .await,
    )
}

pub(super) async fn delete_access_key(call: Call<'_>) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
    let target = target_user(authority, context, params).await?;
    let key_id = params.required("UserAccessKeyId")?;
    done(authority.delete_access_key(context, key_id, target).await)
}

pub(super) async fn get_access_key_last_used(call: Call<'_>) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
    let target = target_user(authority, context, params).await?;
    let key_id = params.required("UserAccessKeyId")?;
    // The key must be one of the target user's (which also applies who may see it).
    let owned = authority
        .list_access_keys(context, KeyFamily::Aliyun, target)
        .await
        .map_err(core)?
        .iter()
        .any(|key| key.id == key_id);
    if !owned {
        return Err(core(CoreError::AccessKeyNotFound));
    }
    let usage = authority
        .last_used(context, &[key_id.to_owned()])
        .await
        .map_err(core)?
        .into_iter()
        .next()
        .and_then(|(_, usage)| usage);
    let (date, service) = match usage {
        Some(usage) => (iso8601(usage.used_at), usage.product),
        None => (String::new(), String::new()),
    };
    Ok(fields(json!({
        "AccessKeyLastUsed": { "LastUsedDate": date, "ServiceName": service }
    })))
}
