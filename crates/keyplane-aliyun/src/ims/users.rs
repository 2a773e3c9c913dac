//! The IMS user actions: `CreateUser` (with IMS's field limits and codes), `GetUser` and
//! `DeleteUser` (the user selected by `UserPrincipalName`, `UserId` or `UserAccessKeyId`) and
//! `ListUsers` (paged by a marker).

use keyplane_core::model::{User, UserProfile};
use keyplane_core::store::DeleteUserOptions;
use keyplane_core::CoreError;
use serde_json::{json, Value};

use super::UserSelection;
use crate::actions::{core, done, fields, Answer, Call};
use crate::envelope::Params;
use crate::errors::{AliyunCode, AliyunError};
use crate::permissions::RequestResource;
use crate::time_format::iso8601;

/// Bounds of the user fields (IMS CreateUser).
const USER_NAME_MAX_CHARACTERS: usize = 64;
const PRINCIPAL_NAME_MAX_CHARACTERS: usize = 128;
const DISPLAY_NAME_MAX_CHARACTERS: usize = 24;
/// The optional text fields of CreateUser: each parameter, its longest length and the code
/// beyond it.
const COMMENTS: BoundedText = BoundedText {
    parameter: "Comments",
    limit: 128,
    code: AliyunCode::InvalidParameterCommentsLength,
};
const EMAIL: BoundedText = BoundedText {
    parameter: "Email",
    limit: 128,
    code: AliyunCode::InvalidParameterEmailFormat,
};
const MOBILE_PHONE: BoundedText = BoundedText {
    parameter: "MobilePhone",
    limit: 128,
    code: AliyunCode::InvalidParameterMobilePhoneFormat,
};
/// Default and largest `MaxItems` of ListUsers.
const MAX_LIST_ITEMS: usize = 1_000;

pub(super) async fn get_user(call: Call<'_>) -> Result<Answer, AliyunError> {
    let user = selected_user(call).await?;
    Ok(fields(json!({ "User": user_object(&user, true) })))
}

pub(super) async fn delete_user(call: Call<'_>) -> Result<Answer, AliyunError> {
    let (authority, context, _) = call.parts();
    let user = selected_user(call).await?;
    let options = DeleteUserOptions {
        remove_access_keys: false,
        detach_policies: false,
    };
    done(authority.delete_user(context, user.uin, options).await)
}

/// The RAM user (never the root account) the request selects (see [`UserSelection`]).
/// A user selected by id or access key was looked up when the resource was named: that
/// lookup is the answer.
async fn selected_user(call: Call<'_>) -> Result<User, AliyunError> {
    if let RequestResource::SelectedUser { resolved, .. } = call.resource {
        return resolved.map_err(core);
    }
    let (authority, context, params) = call.parts();
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

/// A bounded optional text parameter: its name, its longest length in characters and the
/// code (`InvalidParameter.<Name>.…`) answered beyond it.
struct BoundedText {
    parameter: &'static str,
    limit: usize,
    code: AliyunCode,
}

/// The value of a bounded optional text parameter (empty when absent).
fn bounded(params: &Params, field: &BoundedText) -> Result<String, AliyunError> {
    let name = field.parameter;
    let value = params.non_empty(name).unwrap_or("");
    if value.chars().count() > field.limit {
        return Err(AliyunError::new(
            field.code,
            format!("The parameter - \"{name}\" beyond the length limit."),
        ));
    }
    Ok(value.to_owned())
}

pub(super) async fn create_user(call: Call<'_>) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
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
    let comments = bounded(params, &COMMENTS)?;
    let email = bounded(params, &EMAIL)?;
    if !email.is_empty() && !email.contains('@') {
        return Err(AliyunCode::InvalidParameterEmailFormat.into());
    }
    let mobile_phone = bounded(params, &MOBILE_PHONE)?;
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

pub(super) async fn list_users(call: Call<'_>) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
    let max_items = params.max_items(MAX_LIST_ITEMS, MAX_LIST_ITEMS)?;
    let users = authority.list_sub_users(context).await.map_err(core)?;
    // The marker is the sort key (creation time, then UserId) of the last user of the previous
    // page: the next page starts after it, even if that user was deleted meanwhile.
    let start = params.page_start(users.iter().map(user_sort_key), parse_user_marker)?;
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
