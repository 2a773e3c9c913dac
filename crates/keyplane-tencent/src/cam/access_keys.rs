//! CAM's access-key actions: CreateAccessKey, ListAccessKeys, UpdateAccessKey,
//! DeleteAccessKey and GetSecurityLastUsed. The key family is Tencent's; `TargetUin` names
//! the user acted on (default: the caller), which is also the resource authorized.

use keyplane_core::model::{AccessKey, KeyFamily, KeyStatus};
use keyplane_core::rules::DESCRIPTION_MAX_CHARACTERS;
use keyplane_core::{Authority, RequestContext};
use serde_json::{json, Map, Value};

use super::{format_date, format_time, response};
use crate::decode::{parameters, required_string_list};
use crate::errors::{ActionError, TencentError};
use crate::params::Params;
use crate::permissions::Resource;

/// The most SecretIds one GetSecurityLastUsed may ask about.
const LAST_USED_MAX_IDS: usize = 10;

parameters! {
    /// CreateAccessKey's parameters.
    pub struct CreateAccessKeyParameters {
        "TargetUin" => target_uin: Option<u64> = Params::optional_unsigned,
        "Description" => description: Option<String> = Params::optional_string,
    }
}

parameters! {
    /// ListAccessKeys' parameters.
    pub struct ListAccessKeysParameters {
        "TargetUin" => target_uin: Option<u64> = Params::optional_unsigned,
    }
}

parameters! {
    /// UpdateAccessKey's parameters.
    pub struct UpdateAccessKeyParameters {
        "AccessKeyId" => key_id: String = Params::required_string,
        "Status" => status: String = Params::required_string,
        "TargetUin" => target_uin: Option<u64> = Params::optional_unsigned,
    }
}

parameters! {
    /// DeleteAccessKey's parameters.
    pub struct DeleteAccessKeyParameters {
        "AccessKeyId" => key_id: String = Params::required_string,
        "TargetUin" => target_uin: Option<u64> = Params::optional_unsigned,
    }
}

parameters! {
    /// GetSecurityLastUsed's parameters.
    pub struct LastUsedParameters {
        "SecretIdList" => key_ids: Vec<String> = required_string_list,
    }
}

/// An access key as CAM shows it.
fn key_fields(key: &AccessKey) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("AccessKeyId".into(), json!(key.id));
    fields.insert("Status".into(), json!(key.status.as_str()));
    fields.insert("CreateTime".into(), json!(format_time(key.created_at)));
    if let Some(description) = &key.description {
        fields.insert("Description".into(), json!(description));
    }
    fields
}

/// CreateAccessKey.
pub async fn create(
    authority: &Authority,
    context: &RequestContext,
    parameters: CreateAccessKeyParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    if parameters
        .description
        .as_ref()
        .is_some_and(|description| description.chars().count() > DESCRIPTION_MAX_CHARACTERS)
    {
        return Err(TencentError::description_too_long(DESCRIPTION_MAX_CHARACTERS).into());
    }
    let issued = authority
        .create_access_key(
            context,
            KeyFamily::Tencent,
            parameters.target_uin,
            parameters.description,
        )
        .await?;
    let mut key = key_fields(&issued.key);
    key.insert("SecretAccessKey".into(), json!(issued.secret.expose()));
    Ok(response(json!({ "AccessKey": key })))
}

/// ListAccessKeys.
pub async fn list(
    authority: &Authority,
    context: &RequestContext,
    parameters: ListAccessKeysParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let keys = authority
        .list_access_keys(context, KeyFamily::Tencent, parameters.target_uin)
        .await?;
    let keys: Vec<Value> = keys
        .iter()
        .map(|key| Value::Object(key_fields(key)))
        .collect();
    Ok(response(json!({ "AccessKeys": keys })))
}

/// UpdateAccessKey.
pub async fn update(
    authority: &Authority,
    context: &RequestContext,
    parameters: UpdateAccessKeyParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let status = KeyStatus::parse(&parameters.status)
        .ok_or_else(|| TencentError::invalid_value("Status", "must be Active or Inactive"))?;
    authority
        .set_access_key_status(context, &parameters.key_id, status, parameters.target_uin)
        .await?;
    Ok(Map::new())
}

/// DeleteAccessKey.
pub async fn delete(
    authority: &Authority,
    context: &RequestContext,
    parameters: DeleteAccessKeyParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    authority
        .delete_access_key(context, &parameters.key_id, parameters.target_uin)
        .await?;
    Ok(Map::new())
}

/// GetSecurityLastUsed.
pub async fn last_used(
    authority: &Authority,
    context: &RequestContext,
    parameters: LastUsedParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let key_ids = parameters.key_ids;
    if key_ids.is_empty() || key_ids.len() > LAST_USED_MAX_IDS {
        return Err(TencentError::invalid_value(
            "SecretIdList",
            &format!("must hold 1 to {LAST_USED_MAX_IDS} SecretIds"),
        )
        .into());
    }
    let rows = authority.last_used(context, &key_ids).await?;
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|(key_id, usage)| {
            json!({
                "SecretId": key_id,
                "LastUsedDate": usage.as_ref().map(|usage| format_date(usage.used_at)),
                "LastSecretUsedDate": usage.as_ref().map(|usage| usage.used_at.unix_timestamp()),
            })
        })
        .collect();
    Ok(response(json!({ "SecretIdLastUsedRows": rows })))
}
