//! RAM identity (IMS, 2019-08-15): access keys (`CreateAccessKey`, `ListAccessKeys`,
//! `UpdateAccessKey`, `DeleteAccessKey`, `GetAccessKeyLastUsed`) and RAM users
//! (`CreateUser`, `GetUser`, `ListUsers`, `DeleteUser`, the same users CAM serves). Users are
//! named by `UserPrincipalName` (`name@<account-id>.onaliyun.com`; absent = the caller for key
//! actions); keys are of the Alibaba family. Whether the caller may is decided before
//! dispatch, from `permissions`.

use keyplane_core::authority::UserReference;
use keyplane_core::model::{AccessKey, KeyFamily, KeyStatus, User, UserProfile};
use keyplane_core::store::DeleteUserOptions;
use keyplane_core::{Authority, CoreError, RequestContext};
use serde_json::{json, Map, Value};

use crate::envelope::Params;
use crate::errors::{AliyunCode, AliyunError};
use crate::time_format::iso8601;

/// The actions of the dispatch table.
pub const ACTIONS: &[&str] = &[
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "GetAccessKeyLastUsed",
    "CreateUser",
    "GetUser",
    "ListUsers",
    "DeleteUser",
];

/// Bounds of the user fields (IMS CreateUser).
const USER_NAME_MAX_CHARACTERS: usize = 64;
const PRINCIPAL_NAME_MAX_CHARACTERS: usize = 128;
const DISPLAY_NAME_MAX_CHARACTERS: usize = 24;
const COMMENTS_MAX_CHARACTERS: usize = 128;
const CONTACT_MAX_CHARACTERS: usize = 128;
/// Default and largest `MaxItems` of ListUsers.
const MAX_LIST_ITEMS: usize = 1_000;

fn core(error: CoreError) -> AliyunError {
    AliyunError::from_core(&error)
}

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

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Runs one IMS action.
pub async fn dispatch(
    authority: &Authority,
    context: &RequestContext,
    params: &Params,
) -> Result<Map<String, Value>, AliyunError> {
    match context.action.as_str() {
        "CreateUser" => return create_user(authority, context, params).await,
        "GetUser" => {
            let user = selected_user(authority, context, params).await?;
            return Ok(fields(json!({ "User": user_object(&user, true) })));
        }
        "ListUsers" => return list_users(authority, context, params).await,
        "DeleteUser" => {
            let user = selected_user(authority, context, params).await?;
            authority
                .delete_user(
                    context,
                    user.uin,
                    DeleteUserOptions {
                        remove_access_keys: false,
                        detach_policies: false,
                    },
                )
                .await
                .map_err(core)?;
            return Ok(Map::new());
        }
        _ => {}
    }
    let target = target_user(authority, context, params).await?;
    match context.action.as_str() {
        "CreateAccessKey" => {
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
        "ListAccessKeys" => {
            let keys = authority
                .list_access_keys(context, KeyFamily::Aliyun, target)
                .await
                .map_err(core)?;
            let keys: Vec<Value> = keys.iter().map(key_summary).collect();
            Ok(fields(json!({ "AccessKeys": { "AccessKey": keys } })))
        }
        "UpdateAccessKey" => {
            let key_id = params.required("UserAccessKeyId")?;
            let status_text = params.required("Status")?;
            let status = KeyStatus::parse(status_text).ok_or_else(|| {
                AliyunError::invalid_parameter("Status", "it must be Active or Inactive.")
            })?;
            authority
                .set_access_key_status(context, key_id, status, target)
                .await
                .map_err(core)?;
            Ok(Map::new())
        }
        "DeleteAccessKey" => {
            let key_id = params.required("UserAccessKeyId")?;
            authority
                .delete_access_key(context, key_id, target)
                .await
                .map_err(core)?;
            Ok(Map::new())
        }
        "GetAccessKeyLastUsed" => {
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
        _ => Err(AliyunError::action_not_found()),
    }
}

/// How GetUser and DeleteUser select a user: by `UserPrincipalName`, `UserId` or
/// `UserAccessKeyId`, looked at in that order (one of them is required).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserSelection<'a> {
    PrincipalName(&'a str),
    Id(&'a str),
    AccessKey(&'a str),
}

impl<'a> UserSelection<'a> {
    /// The selection the parameters make; `MissingParameter` when they make none.
    pub(crate) fn read(params: &'a Params) -> Result<Self, AliyunError> {
        if let Some(principal_name) = params.non_empty("UserPrincipalName") {
            Ok(UserSelection::PrincipalName(principal_name))
        } else if let Some(user_id) = params.non_empty("UserId") {
            Ok(UserSelection::Id(user_id))
        } else if let Some(key_id) = params.non_empty("UserAccessKeyId") {
            Ok(UserSelection::AccessKey(key_id))
        } else {
            Err(AliyunError::missing_parameter("UserPrincipalName"))
        }
    }

    /// The user it names in account `account_id`; `None` when it cannot name one there (a
    /// principal name in another domain, a UserId that is not a number).
    pub(crate) fn reference(self, account_id: u64) -> Option<UserReference<'a>> {
        match self {
            UserSelection::PrincipalName(principal_name) => {
                let (name, domain) = principal_name.rsplit_once('@')?;
                domain
                    .eq_ignore_ascii_case(&format!("{account_id}.onaliyun.com"))
                    .then_some(UserReference::Name(name))
            }
            UserSelection::Id(user_id) => user_id.parse().ok().map(UserReference::Uin),
            UserSelection::AccessKey(key_id) => Some(UserReference::AccessKey(key_id)),
        }
    }
}

/// The RAM user (never the root account) the request selects (see [`UserSelection`]).
async fn selected_user(
    authority: &Authority,
    context: &RequestContext,
    params: &Params,
) -> Result<User, AliyunError> {
    let selection = UserSelection::read(params)?;
    let account_id = context
        .caller
        .as_ref()
        .map(|caller| caller.account_id)
        .ok_or_else(AliyunError::internal)?;
    let reference = selection
        .reference(account_id)
        .ok_or_else(|| core(CoreError::UserNotFound))?;
    authority.sub_user(context, reference).await.map_err(core)
}

/// The IMS `User` object. `with_name` adds `UserName` (GetUser shows it, ListUsers does not).
fn user_object(user: &User, with_name: bool) -> Value {
    let profile = &user.profile;
    let mobile_phone = if profile.phone_number.is_empty() {
        String::new()
    } else if profile.phone_country_code.is_empty() {
        profile.phone_number.clone()
    } else {
        format!("{}-{}", profile.phone_country_code, profile.phone_number)
    };
    let mut object = json!({
        "UserPrincipalName": user.user_principal_name(),
        "DisplayName": profile.display_name,
        "UserId": user.uin.to_string(),
        "Comments": profile.comments,
        "Email": profile.email,
        "MobilePhone": mobile_phone,
        "CreateDate": iso8601(user.created_at),
        "UpdateDate": iso8601(user.created_at),
        "ProvisionType": "Manual",
        "Status": "active",
    });
    if with_name {
        object["UserName"] = json!(user.name);
    }
    object
}

/// A bounded optional text parameter; `InvalidParameter.<Name>.Length` beyond `limit`.
fn bounded(
    params: &Params,
    name: &str,
    limit: usize,
    code: AliyunCode,
) -> Result<String, AliyunError> {
    let value = params.non_empty(name).unwrap_or("");
    if value.chars().count() > limit {
        return Err(AliyunError::new(
            code,
            format!("The parameter - \"{name}\" beyond the length limit."),
        ));
    }
    Ok(value.to_owned())
}

async fn create_user(
    authority: &Authority,
    context: &RequestContext,
    params: &Params,
) -> Result<Map<String, Value>, AliyunError> {
    let caller = context.caller.as_ref().ok_or_else(AliyunError::internal)?;
    let principal_name = params.required("UserPrincipalName")?;
    let (name, domain) = principal_name
        .rsplit_once('@')
        .ok_or_else(|| AliyunError::from(AliyunCode::InvalidParameterUserPrincipalNameFormat))?;
    if !domain.eq_ignore_ascii_case(&format!("{}.onaliyun.com", caller.account_id)) {
        return Err(AliyunError::new(
            AliyunCode::InvalidParameterUserPrincipalNameFormat,
            "The domain of the parameter - \"UserPrincipalName\" must be the account's default domain, <account id>.onaliyun.com.",
        ));
    }
    if name.is_empty()
        || name.chars().count() > USER_NAME_MAX_CHARACTERS
        || principal_name.chars().count() > PRINCIPAL_NAME_MAX_CHARACTERS
    {
        return Err(AliyunCode::InvalidParameterUserNameLength.into());
    }
    if !name
        .chars()
        .all(|character| character.is_ascii_alphanumeric() || "._-".contains(character))
    {
        return Err(AliyunCode::InvalidParameterUserNameInvalidChars.into());
    }
    let display_name = params.required("DisplayName")?;
    if display_name.chars().count() > DISPLAY_NAME_MAX_CHARACTERS {
        return Err(AliyunCode::InvalidParameterDisplayNameLength.into());
    }
    let comments = bounded(
        params,
        "Comments",
        COMMENTS_MAX_CHARACTERS,
        AliyunCode::InvalidParameterCommentsLength,
    )?;
    let email = bounded(
        params,
        "Email",
        CONTACT_MAX_CHARACTERS,
        AliyunCode::InvalidParameterEmailFormat,
    )?;
    if !email.is_empty() && !email.contains('@') {
        return Err(AliyunCode::InvalidParameterEmailFormat.into());
    }
    let mobile_phone = bounded(
        params,
        "MobilePhone",
        CONTACT_MAX_CHARACTERS,
        AliyunCode::InvalidParameterMobilePhoneFormat,
    )?;
    let (phone_country_code, phone_number) = if mobile_phone.is_empty() {
        (String::new(), String::new())
    } else {
        match mobile_phone.split_once('-') {
            Some((country, number))
                if !country.is_empty()
                    && !number.is_empty()
                    && country.bytes().all(|byte| byte.is_ascii_digit())
                    && number.bytes().all(|byte| byte.is_ascii_digit()) =>
            {
                (country.to_owned(), number.to_owned())
            }
            _ => return Err(AliyunCode::InvalidParameterMobilePhoneFormat.into()),
        }
    };
    let profile = UserProfile {
        display_name: display_name.to_owned(),
        comments,
        email,
        phone_country_code,
        phone_number,
        console_login: false,
    };
    let user = authority
        .create_user(context, caller.account_id, name, profile)
        .await
        .map_err(core)?;
    Ok(fields(json!({ "User": user_object(&user, false) })))
}

async fn list_users(
    authority: &Authority,
    context: &RequestContext,
    params: &Params,
) -> Result<Map<String, Value>, AliyunError> {
    let max_items = params.max_items(MAX_LIST_ITEMS, MAX_LIST_ITEMS)?;
    let users = authority.list_sub_users(context).await.map_err(core)?;
    // The marker is the sort key (creation time, then UserId) of the last user of the previous
    // page: the next page starts after it, even if that user was deleted meanwhile.
    let start = match params.non_empty("Marker") {
        None => 0,
        Some(marker) => {
            let after = parse_user_marker(marker).ok_or_else(|| {
                AliyunError::invalid_parameter("Marker", "it does not continue a listing.")
            })?;
            users
                .iter()
                .position(|user| user_sort_key(user) > after)
                .unwrap_or(users.len())
        }
    };
    let page: Vec<&User> = users.iter().skip(start).take(max_items).collect();
    let truncated = start + page.len() < users.len();
    let mut answer = json!({
        "IsTruncated": truncated,
        "Users": { "User": page.iter().map(|user| user_object(user, false)).collect::<Vec<_>>() },
    });
    if truncated {
        if let Some(last) = page.last() {
            let (created, uin) = user_sort_key(last);
            answer["Marker"] = json!(format!("{created}-{uin}"));
        }
    }
    Ok(fields(answer))
}

/// Where a user sorts in ListUsers: creation time (Unix nanoseconds), then uin.
fn user_sort_key(user: &User) -> (i128, u64) {
    (user.created_at.unix_timestamp_nanos(), user.uin)
}

/// The sort key a ListUsers marker (`<nanoseconds>-<uin>`) names.
fn parse_user_marker(marker: &str) -> Option<(i128, u64)> {
    let (created, uin) = marker.rsplit_once('-')?;
    Some((created.parse().ok()?, uin.parse().ok()?))
}
