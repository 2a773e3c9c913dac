//! CAM 2019-01-16 actions, with CAM's field names, types and time format
//! (`YYYY-MM-DD hh:mm:ss`, UTC): access keys (CreateAccessKey, ListAccessKeys,
//! UpdateAccessKey, DeleteAccessKey, GetSecurityLastUsed), sub-users (AddUser, GetUser,
//! ListUsers, DeleteUser) and policies (CreatePolicy, GetPolicy, DeletePolicy, ListPolicies,
//! AttachUserPolicy, DetachUserPolicy, ListAttachedUserPolicies). Users are the same users IMS serves; policies are written in
//! CAM syntax and stored in the common form.

use keyplane_core::authority::UserReference;
use keyplane_core::model::{
    AccessKey, KeyFamily, KeyStatus, PolicySyntax, PolicyType, User, UserProfile,
};
use keyplane_core::rules::DESCRIPTION_MAX_CHARACTERS;
use keyplane_core::store::DeleteUserOptions;
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
    "AddUser",
    "GetUser",
    "ListUsers",
    "DeleteUser",
    "CreatePolicy",
    "GetPolicy",
    "DeletePolicy",
    "ListPolicies",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "ListAttachedUserPolicies",
];

/// The longest profile text (Remark, Email, PhoneNum, CountryCode) accepted.
const PROFILE_FIELD_MAX_CHARACTERS: usize = 255;
/// The longest policy document accepted (CAM's `PolicyDocumentLengthOverLimit`).
pub const POLICY_DOCUMENT_MAX_CHARACTERS: usize = 6_144;
/// The longest policy description, in bytes (CAM's `DescriptionLengthOverlimit`).
const POLICY_DESCRIPTION_MAX_BYTES: usize = 300;
/// Default and largest page size of ListAttachedUserPolicies.
const DEFAULT_POLICY_PAGE_SIZE: u64 = 20;
const MAX_POLICY_PAGE_SIZE: u64 = 200;
/// The last page ListPolicies serves.
const MAX_POLICY_PAGE: u64 = 200;

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
        "AddUser" => add_user(authority, context, params).await,
        "GetUser" => {
            params.allow_only(&["Name"])?;
            let name = params.required_string("Name")?;
            let user = sub_user(authority, context, UserReference::Name(&name)).await?;
            Ok(response(Value::Object(user_fields(&user, false))))
        }
        "ListUsers" => {
            params.allow_only(&[])?;
            let users = authority
                .list_sub_users(context)
                .await
                .map_err(core_error)?;
            let users: Vec<Value> = users
                .iter()
                .map(|user| Value::Object(user_fields(user, true)))
                .collect();
            Ok(response(json!({ "Data": users })))
        }
        "DeleteUser" => delete_user(authority, context, params).await,
        "CreatePolicy" => create_policy(authority, context, params).await,
        "GetPolicy" => {
            params.allow_only(&["PolicyId"])?;
            let policy_id = required_unsigned(params, "PolicyId")?;
            let (policy_type, name) = authority
                .policy_with_id(context, policy_id)
                .await
                .map_err(core_error)?;
            let fields = match policy_type {
                PolicyType::System => {
                    let system =
                        keyplane_policy::system_policy(&name).ok_or_else(TencentError::internal)?;
                    json!({
                        "PolicyName": system.name,
                        "Description": system.description,
                        "Type": 2,
                        "PolicyDocument": system.policy.render(keyplane_policy::Syntax::Cam),
                    })
                }
                PolicyType::Custom => {
                    let custom = authority
                        .custom_policy_named(context, &name)
                        .await
                        .map_err(core_error)?;
                    let document = keyplane_policy::Policy::from_stored(&custom.document)
                        .map_err(|_| TencentError::internal())?;
                    json!({
                        "PolicyName": custom.name,
                        "Description": custom.description,
                        "Type": 1,
                        "AddTime": format_time(custom.created_at),
                        "UpdateTime": format_time(custom.created_at),
                        "PolicyDocument": document.render(keyplane_policy::Syntax::Cam),
                    })
                }
            };
            let mut fields = response(fields);
            fields.insert("PresetAlias".into(), json!(""));
            fields.insert("IsServiceLinkedRolePolicy".into(), json!(0));
            Ok(fields)
        }
        "ListPolicies" => {
            params.allow_only(&["Rp", "Page", "Scope", "Keyword"])?;
            let (skip, take) = page_window(params, Some(MAX_POLICY_PAGE))?;
            let scope = params
                .optional_string("Scope")?
                .unwrap_or_else(|| "All".to_owned());
            let wanted = |policy_type: PolicyType| match scope.as_str() {
                "QCS" => policy_type == PolicyType::System,
                "Local" => policy_type == PolicyType::Custom,
                _ => true,
            };
            if !["All", "QCS", "Local"].contains(&scope.as_str()) {
                return Err(TencentError::invalid_value(
                    "Scope",
                    "must be All, QCS or Local",
                ));
            }
            let keyword = params.optional_string("Keyword")?.unwrap_or_default();
            let policies: Vec<_> = authority
                .list_policies(context)
                .await
                .map_err(core_error)?
                .into_iter()
                .filter(|policy| wanted(policy.policy_type) && policy.name.contains(&keyword))
                .collect();
            let total = policies.len();
            let list: Vec<Value> = policies
                .iter()
                .skip(skip)
                .take(take)
                .map(|policy| {
                    let custom = policy.policy_type == PolicyType::Custom;
                    json!({
                        "PolicyId": policy.cam_policy_id,
                        "PolicyName": policy.name,
                        "AddTime": policy.created_at.map(format_time).unwrap_or_default(),
                        "UpdateTime": policy.created_at.map(format_time).unwrap_or_default(),
                        "Type": if custom { 1 } else { 2 },
                        "Description": policy.description,
                        "CreateMode": if custom { 2 } else { 1 },
                        "Attachments": policy.attachments,
                        "AttachEntityCount": policy.attachments,
                        "ServiceType": "",
                        "IsServiceLinkedPolicy": 0,
                        "Deactived": 0,
                        "DeactivedDetail": [],
                    })
                })
                .collect();
            Ok(response(
                json!({ "TotalNum": total, "List": list, "ServiceTypeList": [] }),
            ))
        }
        "DeletePolicy" => {
            params.allow_only(&["PolicyId"])?;
            let policy_ids = params
                .optional_unsigned_list("PolicyId")?
                .filter(|ids| !ids.is_empty())
                .ok_or_else(|| TencentError::missing_parameter("PolicyId"))?;
            // Every id is checked before anything is deleted; system policies cannot be.
            let mut names = Vec::with_capacity(policy_ids.len());
            for policy_id in policy_ids {
                match authority.policy_with_id(context, policy_id).await {
                    Ok((PolicyType::Custom, name)) => names.push(name),
                    Ok((PolicyType::System, _)) => {
                        return Err(TencentError::new(
                            "InvalidParameter.PolicyIdError",
                            format!("Policy {policy_id} is a preset policy and cannot be deleted."),
                        ))
                    }
                    Err(error) => return Err(core_error(error)),
                }
            }
            for name in names {
                // CAM detaches a deleted policy from its users.
                match authority.delete_policy(context, &name, true).await {
                    Ok(()) | Err(CoreError::PolicyNotFound) => {}
                    Err(error) => return Err(core_error(error)),
                }
            }
            Ok(Map::new())
        }
        "AttachUserPolicy" | "DetachUserPolicy" => {
            let attach = context.action == "AttachUserPolicy";
            let uin_parameter = if attach { "AttachUin" } else { "DetachUin" };
            params.allow_only(&["PolicyId", uin_parameter])?;
            let policy_id = required_unsigned(params, "PolicyId")?;
            let uin = required_unsigned(params, uin_parameter)?;
            let (policy_type, policy_name) = authority
                .policy_with_id(context, policy_id)
                .await
                .map_err(core_error)?;
            let user = sub_user(authority, context, UserReference::Uin(uin)).await?;
            let result = if attach {
                authority
                    .attach_policy(context, user.uin, policy_type, &policy_name)
                    .await
            } else {
                authority
                    .detach_policy(context, user.uin, policy_type, &policy_name)
                    .await
            };
            match result {
                // Attaching an attached policy, or detaching a detached one, changes nothing
                // and succeeds, as on CAM.
                Ok(()) | Err(CoreError::PolicyAlreadyAttached | CoreError::PolicyNotAttached) => {
                    Ok(Map::new())
                }
                Err(error) => Err(user_error(error)),
            }
        }
        "ListAttachedUserPolicies" => {
            params.allow_only(&["TargetUin", "Page", "Rp"])?;
            let uin = required_unsigned(params, "TargetUin")?;
            let (skip, take) = page_window(params, None)?;
            let user = sub_user(authority, context, UserReference::Uin(uin)).await?;
            let attachments = authority
                .user_policies(context, user.uin)
                .await
                .map_err(user_error)?;
            let total = attachments.len();
            let list: Vec<Value> = attachments
                .iter()
                .skip(skip)
                .take(take)
                .filter_map(|attachment| {
                    let (policy_id, remark, create_mode) = match attachment.policy_type {
                        PolicyType::System => {
                            let system = keyplane_policy::system_policy(&attachment.policy_name)?;
                            (system.cam_policy_id, system.description.to_owned(), 1)
                        }
                        PolicyType::Custom => {
                            let custom = attachment.custom.as_ref()?;
                            (custom.id, custom.description.clone(), 2)
                        }
                    };
                    Some(json!({
                        "PolicyId": policy_id,
                        "PolicyName": attachment.policy_name,
                        "AddTime": format_time(attachment.attached_at),
                        "CreateMode": create_mode,
                        "PolicyType": match attachment.policy_type {
                            PolicyType::System => "QCS",
                            PolicyType::Custom => "User",
                        },
                        "Remark": remark,
                        "Deactived": 0,
                        "DeactivedDetail": [],
                    }))
                })
                .collect();
            Ok(response(json!({ "TotalNum": total, "List": list })))
        }
        other => Err(TencentError::invalid_action(other)),
    }
}

/// The window a paged CAM listing asks for with `Page` (from 1, at most `last_page` when
/// given; default 1) and `Rp` (1 to 200, default 20), as (items to skip, items to show).
fn page_window(params: &Params, last_page: Option<u64>) -> Result<(usize, usize), TencentError> {
    let page = params.optional_unsigned("Page")?.unwrap_or(1);
    let page_size = params
        .optional_unsigned("Rp")?
        .unwrap_or(DEFAULT_POLICY_PAGE_SIZE);
    if page == 0 || last_page.is_some_and(|last_page| page > last_page) {
        let range = match last_page {
            Some(last_page) => format!("must be 1 to {last_page}"),
            None => "must be 1 or more".to_owned(),
        };
        return Err(TencentError::invalid_value("Page", &range));
    }
    if page_size == 0 || page_size > MAX_POLICY_PAGE_SIZE {
        return Err(TencentError::invalid_value(
            "Rp",
            &format!("must be 1 to {MAX_POLICY_PAGE_SIZE}"),
        ));
    }
    let skip = usize::try_from((page - 1).saturating_mul(page_size)).unwrap_or(usize::MAX);
    let take = usize::try_from(page_size).unwrap_or(usize::MAX);
    Ok((skip, take))
}

/// A required unsigned integer parameter.
fn required_unsigned(params: &Params, name: &str) -> Result<u64, TencentError> {
    params
        .optional_unsigned(name)?
        .ok_or_else(|| TencentError::missing_parameter(name))
}

/// The error of a user or policy action: CAM names a missing user `ResourceNotFound` there.
fn user_error(error: CoreError) -> TencentError {
    match error {
        CoreError::UserNotFound => TencentError::new(
            "ResourceNotFound.UserNotExist",
            "The specified user does not exist.",
        ),
        other => core_error(other),
    }
}

/// The sub-user a request names (CAM does not count the root among them).
async fn sub_user(
    authority: &Authority,
    context: &RequestContext,
    reference: UserReference<'_>,
) -> Result<User, TencentError> {
    authority
        .sub_user(context, reference)
        .await
        .map_err(user_error)
}

/// A user as GetUser (`listed: false`) or ListUsers' `SubAccountInfo` (`listed: true`)
/// shows it.
fn user_fields(user: &User, listed: bool) -> Map<String, Value> {
    let profile = &user.profile;
    let mut fields = Map::new();
    fields.insert("Uin".into(), json!(user.uin));
    fields.insert("Name".into(), json!(user.name));
    fields.insert("Uid".into(), json!(user.uin));
    fields.insert("Remark".into(), json!(profile.comments));
    fields.insert(
        "ConsoleLogin".into(),
        json!(u8::from(profile.console_login)),
    );
    fields.insert("PhoneNum".into(), json!(profile.phone_number));
    fields.insert("CountryCode".into(), json!(profile.phone_country_code));
    fields.insert("Email".into(), json!(profile.email));
    if listed {
        fields.insert("CreateTime".into(), json!(format_time(user.created_at)));
        fields.insert("NickName".into(), json!(profile.display_name));
    } else {
        fields.insert("RecentlyLoginIP".into(), json!(""));
        fields.insert("RecentlyLoginTime".into(), json!(""));
    }
    fields
}

/// An optional 0/1 flag.
fn optional_flag(params: &Params, name: &str) -> Result<bool, TencentError> {
    match params.optional_unsigned(name)? {
        None | Some(0) => Ok(false),
        Some(1) => Ok(true),
        Some(_) => Err(TencentError::invalid_value(name, "must be 0 or 1")),
    }
}

/// An optional profile text, bounded.
fn profile_text(params: &Params, name: &str) -> Result<String, TencentError> {
    let value = params.optional_string(name)?.unwrap_or_default();
    if value.chars().count() > PROFILE_FIELD_MAX_CHARACTERS {
        return Err(TencentError::invalid_value(
            name,
            &format!("must be at most {PROFILE_FIELD_MAX_CHARACTERS} characters"),
        ));
    }
    Ok(value)
}

async fn add_user(
    authority: &Authority,
    context: &RequestContext,
    params: &Params,
) -> Result<Map<String, Value>, TencentError> {
    params.allow_only(&[
        "Name",
        "Remark",
        "ConsoleLogin",
        "UseApi",
        "Password",
        "NeedResetPassword",
        "PhoneNum",
        "CountryCode",
        "Email",
    ])?;
    let name = params.required_string("Name")?;
    let console_login = optional_flag(params, "ConsoleLogin")?;
    let use_api = optional_flag(params, "UseApi")?;
    optional_flag(params, "NeedResetPassword")?;
    if params
        .optional_string("Password")?
        .is_some_and(|password| !password.is_empty())
    {
        return Err(TencentError::new(
            "UnsupportedOperation",
            "Keyplane has no console: sub-users have no password.",
        ));
    }
    let profile = UserProfile {
        display_name: String::new(),
        comments: profile_text(params, "Remark")?,
        email: profile_text(params, "Email")?,
        phone_country_code: profile_text(params, "CountryCode")?,
        phone_number: profile_text(params, "PhoneNum")?,
        console_login,
    };
    let caller = context.caller.as_ref().ok_or_else(TencentError::internal)?;
    let user = authority
        .create_user(context, caller.account_id, &name, profile)
        .await
        .map_err(core_error)?;
    let mut fields = Map::new();
    fields.insert("Uin".into(), json!(user.uin));
    fields.insert("Name".into(), json!(user.name));
    fields.insert("Uid".into(), json!(user.uin));
    if use_api {
        let issued = authority
            .create_access_key(context, KeyFamily::Tencent, Some(user.uin), None)
            .await
            .map_err(core_error)?;
        fields.insert("SecretId".into(), json!(issued.key.id));
        fields.insert("SecretKey".into(), json!(issued.secret.expose()));
    }
    Ok(fields)
}

async fn delete_user(
    authority: &Authority,
    context: &RequestContext,
    params: &Params,
) -> Result<Map<String, Value>, TencentError> {
    params.allow_only(&["Name", "Force"])?;
    let name = params.required_string("Name")?;
    let force = optional_flag(params, "Force")?;
    let user = sub_user(authority, context, UserReference::Name(&name)).await?;
    let keep_keys = DeleteUserOptions {
        remove_access_keys: false,
        detach_policies: true,
    };
    match authority.delete_user(context, user.uin, keep_keys).await {
        Ok(()) => return Ok(Map::new()),
        Err(CoreError::UserHasAccessKeys) if force => {}
        Err(error) => return Err(user_error(error)),
    }
    // Deleting the user's keys with it needs the permission to delete them, as on CAM.
    let owner = user.account_id;
    let allowed = authority
        .authorize(context, "cam:DeleteApiKey", |_| {
            vec![format!("qcs::cam::uin/{owner}:uin/{}", user.uin)]
        })
        .await
        .map_err(core_error)?;
    if !allowed.allowed() {
        return Err(TencentError::new(
            "UnauthorizedOperation.DeleteApiKey",
            "You are not authorized to delete the user's API keys (cam:DeleteApiKey).",
        ));
    }
    let remove_keys = DeleteUserOptions {
        remove_access_keys: true,
        detach_policies: true,
    };
    authority
        .delete_user(context, user.uin, remove_keys)
        .await
        .map_err(user_error)?;
    Ok(Map::new())
}

async fn create_policy(
    authority: &Authority,
    context: &RequestContext,
    params: &Params,
) -> Result<Map<String, Value>, TencentError> {
    params.allow_only(&["PolicyName", "PolicyDocument", "Description"])?;
    let name = params.required_string("PolicyName")?;
    let document = params.required_string("PolicyDocument")?;
    let description = params.optional_string("Description")?.unwrap_or_default();
    let name_valid = !name.is_empty()
        && name.chars().count() <= 128
        && name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "+=,.@_-".contains(character));
    if !name_valid {
        return Err(TencentError::new(
            "InvalidParameter.PolicyNameError",
            "The policy name must be 1 to 128 letters, digits and +=,.@_- characters.",
        ));
    }
    if document.chars().count() > POLICY_DOCUMENT_MAX_CHARACTERS {
        return Err(TencentError::new(
            "InvalidParameter.PolicyDocumentLengthOverLimit",
            format!(
                "The policy document must be at most {POLICY_DOCUMENT_MAX_CHARACTERS} characters."
            ),
        ));
    }
    if description.len() > POLICY_DESCRIPTION_MAX_BYTES {
        return Err(TencentError::new(
            "InvalidParameter.DescriptionLengthOverlimit",
            format!("Description must be at most {POLICY_DESCRIPTION_MAX_BYTES} bytes."),
        ));
    }
    let policy = authority
        .create_policy(context, PolicySyntax::Cam, &name, &description, &document)
        .await
        .map_err(core_error)?;
    Ok(response(json!({ "PolicyId": policy.id })))
}
