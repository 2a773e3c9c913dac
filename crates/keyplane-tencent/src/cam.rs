//! CAM 2019-01-16 access-key actions: CreateAccessKey, ListAccessKeys, UpdateAccessKey,
//! DeleteAccessKey and GetSecurityLastUsed, with CAM's field names, types and time format
//! (`YYYY-MM-DD hh:mm:ss`, UTC).

use keyplane_core::model::{AccessKey, KeyFamily, KeyStatus};
use keyplane_core::rules::DESCRIPTION_MAX_CHARACTERS;
use keyplane_core::{Authority, CoreError, RequestContext};
use serde_json::{json, Map, Value};
use time::macros::format_description;
use time::OffsetDateTime;

use crate::errors::{Product, TencentError};
use crate::params::Params;

/// The CAM actions this dialect serves.
pub const ACTIONS: &[&str] = &[
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "GetSecurityLastUsed",
];

/// The most SecretIds one GetSecurityLastUsed may ask about.
const LAST_USED_MAX_IDS: usize = 10;

fn core_error(error: CoreError) -> TencentError {
    TencentError::from_core(&error, Product::Cam)
}

/// CAM's time format.
pub fn format_time(time: OffsetDateTime) -> String {
    time.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second]"
    ))
    .unwrap_or_default()
}

fn format_date(time: OffsetDateTime) -> String {
    time.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

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

fn response(fields: Value) -> Map<String, Value> {
    match fields {
        Value::Object(fields) => fields,
        _ => Map::new(),
    }
}

/// Runs one CAM action.
pub async fn dispatch(
    authority: &Authority,
    context: &RequestContext,
    params: &Params,
) -> Result<Map<String, Value>, TencentError> {
    match context.action.as_str() {
        "CreateAccessKey" => {
            params.allow_only(&["TargetUin", "Description"])?;
            let target_uin = params.optional_unsigned("TargetUin")?;
            let description = params.optional_string("Description")?;
            if description
                .as_ref()
                .is_some_and(|description| description.chars().count() > DESCRIPTION_MAX_CHARACTERS)
            {
                return Err(TencentError::description_too_long(
                    DESCRIPTION_MAX_CHARACTERS,
                ));
            }
            let issued = authority
                .create_access_key(context, KeyFamily::Tencent, target_uin, description)
                .await
                .map_err(core_error)?;
            let mut key = key_fields(&issued.key);
            key.insert("SecretAccessKey".into(), json!(issued.secret.expose()));
            Ok(response(json!({ "AccessKey": key })))
        }
        "ListAccessKeys" => {
            params.allow_only(&["TargetUin"])?;
            let target_uin = params.optional_unsigned("TargetUin")?;
            let keys = authority
                .list_access_keys(context, KeyFamily::Tencent, target_uin)
                .await
                .map_err(core_error)?;
            let keys: Vec<Value> = keys
                .iter()
                .map(|key| Value::Object(key_fields(key)))
                .collect();
            Ok(response(json!({ "AccessKeys": keys })))
        }
        "UpdateAccessKey" => {
            params.allow_only(&["AccessKeyId", "Status", "TargetUin"])?;
            let key_id = params.required_string("AccessKeyId")?;
            let status = params.required_string("Status")?;
            let target_uin = params.optional_unsigned("TargetUin")?;
            let status = KeyStatus::parse(&status).ok_or_else(|| {
                TencentError::invalid_value("Status", "must be Active or Inactive")
            })?;
            authority
                .set_access_key_status(context, &key_id, status, target_uin)
                .await
                .map_err(core_error)?;
            Ok(Map::new())
        }
        "DeleteAccessKey" => {
            params.allow_only(&["AccessKeyId", "TargetUin"])?;
            let key_id = params.required_string("AccessKeyId")?;
            let target_uin = params.optional_unsigned("TargetUin")?;
            authority
                .delete_access_key(context, &key_id, target_uin)
                .await
                .map_err(core_error)?;
            Ok(Map::new())
        }
        "GetSecurityLastUsed" => {
            params.allow_only(&["SecretIdList"])?;
            let key_ids = params
                .optional_string_list("SecretIdList")?
                .ok_or_else(|| TencentError::missing_parameter("SecretIdList"))?;
            if key_ids.is_empty() || key_ids.len() > LAST_USED_MAX_IDS {
                return Err(TencentError::invalid_value(
                    "SecretIdList",
                    &format!("must hold 1 to {LAST_USED_MAX_IDS} SecretIds"),
                ));
            }
            let rows = authority
                .last_used(context, &key_ids)
                .await
                .map_err(core_error)?;
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
        other => Err(TencentError::invalid_action(other)),
    }
}
