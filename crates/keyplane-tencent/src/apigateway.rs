//! API Gateway 2018-08-08 key actions: CreateApiKey, DescribeApiKeysStatus, DescribeApiKey,
//! DisableApiKey, EnableApiKey, UpdateApiKey and DeleteApiKey. `Status` is an integer (0
//! disabled, 1 enabled); times are ISO-8601 UTC (`YYYY-MM-DDThh:mm:ssZ`). [`ACTIONS`] is the
//! product's action table.

use keyplane_core::authority::{ApiKeyFilter, NewApiKeyRequest};
use keyplane_core::model::{ApiKeyType, ApiKeyWithSecret, Secret, Tag};
use keyplane_core::{Authority, RequestContext};
use serde_json::{json, Map, Value};
use time::macros::format_description;
use time::OffsetDateTime;

use crate::actions::{row, TencentAction};
use crate::decode::parameters;
use crate::errors::{ActionError, TencentError};
use crate::params::{field_string, field_string_list, fields_allow_only, Params};
use crate::permissions::Resource;
use crate::permissions::ResourceKind::{ApiKey, ApiKeys};
use crate::product::Product::ApiGateway;

/// Every API Gateway action: name, permission, resource, default rate limit, handler.
pub const ACTIONS: &[TencentAction] = &[
    row!(
        ApiGateway,
        "CreateApiKey",
        "apigw:CreateApiKey",
        ApiKeys,
        Some(20),
        create
    ),
    row!(
        ApiGateway,
        "DescribeApiKeysStatus",
        "apigw:DescribeApiKeysStatus",
        ApiKeys,
        None,
        describe_status
    ),
    row!(
        ApiGateway,
        "DescribeApiKey",
        "apigw:DescribeApiKey",
        ApiKey,
        None,
        describe
    ),
    row!(
        ApiGateway,
        "DisableApiKey",
        "apigw:DisableApiKey",
        ApiKey,
        None,
        set_enabled::<false>
    ),
    row!(
        ApiGateway,
        "EnableApiKey",
        "apigw:EnableApiKey",
        ApiKey,
        None,
        set_enabled::<true>
    ),
    row!(
        ApiGateway,
        "UpdateApiKey",
        "apigw:UpdateApiKey",
        ApiKey,
        None,
        update
    ),
    row!(
        ApiGateway,
        "DeleteApiKey",
        "apigw:DeleteApiKey",
        ApiKey,
        None,
        delete
    ),
];

/// Default and largest page size of DescribeApiKeysStatus.
const DEFAULT_LIMIT: u64 = 20;
const MAX_LIMIT: u64 = 100;

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

fn read_tags(params: &Params, _name: &str) -> Result<Vec<Tag>, TencentError> {
    let tags = params.optional_object_list("Tags", |path, fields| {
        fields_allow_only(path, fields, &["Key", "Value"])?;
        let key = field_string(path, fields, "Key")?
            .ok_or_else(|| TencentError::missing_parameter(&format!("{path}.Key")))?;
        let value = field_string(path, fields, "Value")?.unwrap_or_default();
        Ok(Tag { key, value })
    })?;
    Ok(tags.unwrap_or_default())
}

fn read_filter(params: &Params, _name: &str) -> Result<ApiKeyFilter, TencentError> {
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

parameters! {
    /// CreateApiKey's parameters.
    pub struct CreateApiKeyParameters {
        "SecretName" => secret_name: String = Params::required_string,
        "AccessKeyType" => key_type: ApiKeyType = read_key_type,
        "AccessKeyId" => key_id: Option<String> = Params::optional_string,
        "AccessKeySecret" => secret: Option<String> = Params::optional_string,
        "Tags" => tags: Vec<Tag> = read_tags,
    }
}

parameters! {
    /// DescribeApiKeysStatus' parameters.
    pub struct DescribeStatusParameters {
        "Limit" => limit: u64 = read_limit,
        "Offset" => offset: u64 = |parameters: &Params, name| {
            Ok::<_, TencentError>(parameters.optional_unsigned(name)?.unwrap_or(0))
        },
        "Filters" => filter: ApiKeyFilter = read_filter,
    }
}

parameters! {
    /// The parameters of the actions on one API key.
    pub struct ApiKeyParameters {
        "AccessKeyId" => key_id: String = Params::required_string,
    }
}

parameters! {
    /// UpdateApiKey's parameters.
    pub struct UpdateApiKeyParameters {
        "AccessKeyId" => key_id: String = Params::required_string,
        "AccessKeySecret" => secret: Option<String> = Params::optional_string,
    }
}

/// `AccessKeyType`: auto (the default) or manual.
fn read_key_type(params: &Params, name: &str) -> Result<ApiKeyType, TencentError> {
    match params.optional_string(name)? {
        None => Ok(ApiKeyType::Auto),
        Some(value) => ApiKeyType::parse(&value)
            .ok_or_else(|| TencentError::invalid_value(name, "must be auto or manual")),
    }
}

/// `Limit`: the page size, at most [`MAX_LIMIT`].
fn read_limit(params: &Params, name: &str) -> Result<u64, TencentError> {
    let limit = params.optional_unsigned(name)?.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(TencentError::invalid_value(
            name,
            &format!("must be at most {MAX_LIMIT}"),
        ));
    }
    Ok(limit)
}

/// CreateApiKey.
async fn create(
    authority: &Authority,
    context: &RequestContext,
    parameters: CreateApiKeyParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let request = NewApiKeyRequest {
        secret_name: parameters.secret_name,
        key_type: parameters.key_type,
        key_id: parameters.key_id,
        secret: parameters.secret.map(Secret::new),
        tags: parameters.tags,
    };
    let key = authority.create_api_key(context, request).await?;
    Ok(result(api_key_json(&key)))
}

/// DescribeApiKeysStatus.
async fn describe_status(
    authority: &Authority,
    context: &RequestContext,
    parameters: DescribeStatusParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let (total, keys) = authority
        .describe_api_keys(
            context,
            &parameters.filter,
            usize::try_from(parameters.offset).unwrap_or(usize::MAX),
            usize::try_from(parameters.limit).unwrap_or(usize::MAX),
        )
        .await?;
    let keys: Vec<Value> = keys.iter().map(api_key_json).collect();
    Ok(result(json!({ "TotalCount": total, "ApiKeySet": keys })))
}

/// DescribeApiKey.
async fn describe(
    authority: &Authority,
    context: &RequestContext,
    parameters: ApiKeyParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let key = authority
        .describe_api_key(context, &parameters.key_id)
        .await?;
    Ok(result(api_key_json(&key)))
}

/// DisableApiKey (`ENABLED` false) and EnableApiKey (true).
async fn set_enabled<const ENABLED: bool>(
    authority: &Authority,
    context: &RequestContext,
    parameters: ApiKeyParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    authority
        .set_api_key_enabled(context, &parameters.key_id, ENABLED)
        .await?;
    Ok(result(Value::Bool(true)))
}

/// UpdateApiKey.
async fn update(
    authority: &Authority,
    context: &RequestContext,
    parameters: UpdateApiKeyParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let secret = parameters.secret.map(Secret::new);
    let key = authority
        .update_api_key(context, &parameters.key_id, secret)
        .await?;
    Ok(result(api_key_json(&key)))
}

/// DeleteApiKey.
async fn delete(
    authority: &Authority,
    context: &RequestContext,
    parameters: ApiKeyParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    authority
        .delete_api_key(context, &parameters.key_id)
        .await?;
    Ok(result(Value::Bool(true)))
}
