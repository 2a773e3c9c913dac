//! API Gateway 2018-08-08 key actions: CreateApiKey, DescribeApiKeysStatus, DescribeApiKey,
//! DisableApiKey, EnableApiKey, UpdateApiKey and DeleteApiKey. `Status` is an integer (0
//! disabled, 1 enabled); times are ISO-8601 UTC (`YYYY-MM-DDThh:mm:ssZ`).

use keyplane_core::authority::{ApiKeyFilter, NewApiKeyRequest};
use keyplane_core::model::{ApiKeyType, ApiKeyWithSecret, Secret, Tag};
use keyplane_core::{Authority, CoreError, RequestContext};
use serde_json::{json, Map, Value};
use time::macros::format_description;
use time::OffsetDateTime;

use crate::errors::{Product, TencentError};
use crate::params::{field_string, field_string_list, fields_allow_only, Params};

/// The API Gateway actions this dialect serves.
pub const ACTIONS: &[&str] = &[
    "CreateApiKey",
    "DescribeApiKeysStatus",
    "DescribeApiKey",
    "DisableApiKey",
    "EnableApiKey",
    "UpdateApiKey",
    "DeleteApiKey",
];

/// Default and largest page size of DescribeApiKeysStatus.
const DEFAULT_LIMIT: u64 = 20;
const MAX_LIMIT: u64 = 100;

fn core_error(error: CoreError) -> TencentError {
    TencentError::from_core(&error, Product::ApiGateway)
}

/// API Gateway's time format.
pub fn format_time(time: OffsetDateTime) -> String {
    time.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_default()
}

fn api_key_json(key: &ApiKeyWithSecret) -> Value {
    let tags: Vec<Value> = key
        .key
        .tags
        .iter()
        .map(|tag| json!({ "Key": tag.key, "Value": tag.value }))
        .collect();
    json!({
        "AccessKeyId": key.key.id,
        "AccessKeySecret": key.secret.expose(),
        "AccessKeyType": key.key.key_type.as_str(),
        "SecretName": key.key.secret_name,
        "ModifiedTime": format_time(key.key.updated_at),
        "Status": i32::from(key.key.enabled),
        "CreatedTime": format_time(key.key.created_at),
        "Tags": tags,
    })
}

fn result(value: Value) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("Result".to_owned(), value);
    fields
}

fn read_tags(params: &Params) -> Result<Vec<Tag>, TencentError> {
    let tags = params.optional_object_list("Tags", |path, fields| {
        fields_allow_only(path, fields, &["Key", "Value"])?;
        let key = field_string(path, fields, "Key")?
            .ok_or_else(|| TencentError::missing_parameter(&format!("{path}.Key")))?;
        let value = field_string(path, fields, "Value")?.unwrap_or_default();
        Ok(Tag { key, value })
    })?;
    Ok(tags.unwrap_or_default())
}

fn read_filter(params: &Params) -> Result<ApiKeyFilter, TencentError> {
    let mut filter = ApiKeyFilter::default();
    let filters = params
        .optional_object_list("Filters", |path, fields| {
            fields_allow_only(path, fields, &["Name", "Values"])?;
            let name = field_string(path, fields, "Name")?
                .ok_or_else(|| TencentError::missing_parameter(&format!("{path}.Name")))?;
            let values = field_string_list(path, fields, "Values")?.unwrap_or_default();
            Ok((path.to_owned(), name, values))
        })?
        .unwrap_or_default();
    for (path, name, values) in filters {
        let merge = |slot: &mut Option<Vec<String>>| {
            slot.get_or_insert_with(Vec::new)
                .extend(values.iter().cloned())
        };
        match name.as_str() {
            "AccessKeyId" => merge(&mut filter.key_ids),
            "AccessKeySecret" => merge(&mut filter.secrets),
            "SecretName" => merge(&mut filter.secret_names),
            "KeyWord" => merge(&mut filter.keywords),
            // No usage plans exist in Keyplane, so no key is bound to the named plan.
            "NotUsagePlanId" => {}
            "Status" => {
                let mut enabled = Vec::new();
                for value in &values {
                    match value.as_str() {
                        "0" => enabled.push(false),
                        "1" => enabled.push(true),
                        _ => {
                            return Err(TencentError::invalid_value(
                                &format!("{path}.Values"),
                                "Status values must be 0 or 1",
                            ))
                        }
                    }
                }
                filter.enabled.get_or_insert_with(Vec::new).extend(enabled);
            }
            other => {
                return Err(TencentError::invalid_value(
                    &format!("{path}.Name"),
                    &format!("unknown filter `{other}`"),
                ))
            }
        }
    }
    Ok(filter)
}

/// Runs one API Gateway action.
pub async fn dispatch(
    authority: &Authority,
    context: &RequestContext,
    params: &Params,
) -> Result<Map<String, Value>, TencentError> {
    match context.action.as_str() {
        "CreateApiKey" => {
            params.allow_only(&[
                "SecretName",
                "AccessKeyType",
                "AccessKeyId",
                "AccessKeySecret",
                "Tags",
            ])?;
            let secret_name = params.required_string("SecretName")?;
            let key_type = match params.optional_string("AccessKeyType")? {
                None => ApiKeyType::Auto,
                Some(value) => ApiKeyType::parse(&value).ok_or_else(|| {
                    TencentError::invalid_value("AccessKeyType", "must be auto or manual")
                })?,
            };
            let request = NewApiKeyRequest {
                secret_name,
                key_type,
                key_id: params.optional_string("AccessKeyId")?,
                secret: params.optional_string("AccessKeySecret")?.map(Secret::new),
                tags: read_tags(params)?,
            };
            let key = authority
                .create_api_key(context, request)
                .await
                .map_err(core_error)?;
            Ok(result(api_key_json(&key)))
        }
        "DescribeApiKeysStatus" => {
            params.allow_only(&["Limit", "Offset", "Filters"])?;
            let limit = params.optional_unsigned("Limit")?.unwrap_or(DEFAULT_LIMIT);
            if limit > MAX_LIMIT {
                return Err(TencentError::invalid_value(
                    "Limit",
                    &format!("must be at most {MAX_LIMIT}"),
                ));
            }
            let offset = params.optional_unsigned("Offset")?.unwrap_or(0);
            let filter = read_filter(params)?;
            let (total, keys) = authority
                .describe_api_keys(
                    context,
                    &filter,
                    usize::try_from(offset).unwrap_or(usize::MAX),
                    usize::try_from(limit).unwrap_or(usize::MAX),
                )
                .await
                .map_err(core_error)?;
            let keys: Vec<Value> = keys.iter().map(api_key_json).collect();
            Ok(result(json!({ "TotalCount": total, "ApiKeySet": keys })))
        }
        "DescribeApiKey" => {
            params.allow_only(&["AccessKeyId"])?;
            let key_id = params.required_string("AccessKeyId")?;
            let key = authority
                .describe_api_key(context, &key_id)
                .await
                .map_err(core_error)?;
            Ok(result(api_key_json(&key)))
        }
        "DisableApiKey" | "EnableApiKey" => {
            params.allow_only(&["AccessKeyId"])?;
            let key_id = params.required_string("AccessKeyId")?;
            let enabled = context.action == "EnableApiKey";
            authority
                .set_api_key_enabled(context, &key_id, enabled)
                .await
                .map_err(core_error)?;
            Ok(result(Value::Bool(true)))
        }
        "UpdateApiKey" => {
            params.allow_only(&["AccessKeyId", "AccessKeySecret"])?;
            let key_id = params.required_string("AccessKeyId")?;
            let secret = params.optional_string("AccessKeySecret")?.map(Secret::new);
            let key = authority
                .update_api_key(context, &key_id, secret)
                .await
                .map_err(core_error)?;
            Ok(result(api_key_json(&key)))
        }
        "DeleteApiKey" => {
            params.allow_only(&["AccessKeyId"])?;
            let key_id = params.required_string("AccessKeyId")?;
            authority
                .delete_api_key(context, &key_id)
                .await
                .map_err(core_error)?;
            Ok(result(Value::Bool(true)))
        }
        other => Err(TencentError::invalid_action(other)),
    }
}
