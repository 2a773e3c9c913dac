//! CAM's sub-user actions: AddUser, GetUser, ListUsers and DeleteUser. CAM does not count the
//! root among the sub-users; a sub-user has no password (Keyplane has no console).

use keyplane_core::authority::UserReference;
use keyplane_core::model::{KeyFamily, User, UserProfile};
use keyplane_core::store::DeleteUserOptions;
use keyplane_core::{Authority, CoreError, RequestContext};
use serde_json::{json, Map, Value};

use super::{format_time, response};
use crate::decode::{optional_flag, parameters};
use crate::errors::{ActionError, TencentError};
use crate::params::Params;
use crate::permissions::{DeletedUser, Resource};

/// The longest profile text (Remark, Email, PhoneNum, CountryCode) accepted.
const PROFILE_FIELD_MAX_CHARACTERS: usize = 255;

parameters! {
    /// AddUser's parameters, read in this order.
    pub struct AddUserParameters {
        "Name" => name: String = Params::required_string,
        "ConsoleLogin" => console_login: bool = optional_flag,
        "UseApi" => use_api: bool = optional_flag,
        "NeedResetPassword" => need_reset_password: bool = optional_flag,
        "Password" => password: () = no_password,
        "Remark" => remark: String = profile_text,
        "Email" => email: String = profile_text,
        "CountryCode" => country_code: String = profile_text,
        "PhoneNum" => phone_number: String = profile_text,
    }
}

parameters! {
    /// GetUser's parameters.
    pub struct GetUserParameters {
        "Name" => name: String = Params::required_string,
    }
}

parameters! {
    /// ListUsers takes no parameters.
    pub struct ListUsersParameters {}
}

parameters! {
    /// DeleteUser's parameters.
    pub struct DeleteUserParameters {
        "Name" => name: String = Params::required_string,
        "Force" => force: bool = optional_flag,
    }
}

/// An optional profile text, bounded.
fn profile_text(parameters: &Params, name: &str) -> Result<String, TencentError> {
    let value = parameters.optional_string(name)?.unwrap_or_default();
    if value.chars().count() > PROFILE_FIELD_MAX_CHARACTERS {
        return Err(TencentError::invalid_value(
            name,
            &format!("must be at most {PROFILE_FIELD_MAX_CHARACTERS} characters"),
        ));
    }
    Ok(value)
}

/// A password, which only an empty one passes: sub-users have none.
fn no_password(parameters: &Params, name: &str) -> Result<(), TencentError> {
    if parameters
        .optional_string(name)?
        .is_some_and(|password| !password.is_empty())
    {
        return Err(TencentError::no_password());
    }
    Ok(())
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

/// AddUser, with an access key for the new user when `UseApi` is 1.
pub async fn add(
    authority: &Authority,
    context: &RequestContext,
    parameters: AddUserParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let profile = UserProfile {
        display_name: String::new(),
        comments: parameters.remark,
        email: parameters.email,
        phone_country_code: parameters.country_code,
        phone_number: parameters.phone_number,
        console_login: parameters.console_login,
    };
    let caller = context.caller.as_ref().ok_or_else(TencentError::internal)?;
    let user = authority
        .create_user(context, caller.account_id, &parameters.name, profile)
        .await?;
    let mut fields = Map::new();
    fields.insert("Uin".into(), json!(user.uin));
    fields.insert("Name".into(), json!(user.name));
    fields.insert("Uid".into(), json!(user.uin));
    if parameters.use_api {
        let issued = authority
            .create_access_key(context, KeyFamily::Tencent, Some(user.uin), None)
            .await?;
        fields.insert("SecretId".into(), json!(issued.key.id));
        fields.insert("SecretKey".into(), json!(issued.secret.expose()));
    }
    Ok(fields)
}

/// GetUser.
pub async fn get(
    authority: &Authority,
    context: &RequestContext,
    parameters: GetUserParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let user = authority
        .sub_user(context, UserReference::Name(&parameters.name))
        .await?;
    Ok(response(Value::Object(user_fields(&user, false))))
}

/// ListUsers.
pub async fn list(
    authority: &Authority,
    context: &RequestContext,
    _parameters: ListUsersParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let users = authority.list_sub_users(context).await?;
    let users: Vec<Value> = users
        .iter()
        .map(|user| Value::Object(user_fields(user, true)))
        .collect();
    Ok(response(json!({ "Data": users })))
}

/// DeleteUser: the user resolved with the resource, its policies detached; its access keys
/// are deleted with it only with `Force` and the permission to delete them (resolved with the
/// resource too), as on CAM.
pub async fn delete(
    authority: &Authority,
    context: &RequestContext,
    parameters: DeleteUserParameters,
    resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let Resource::DeletedUser(deleted) = resource else {
        return Err(TencentError::internal().into());
    };
    let DeletedUser {
        user: Some(user),
        may_delete_keys,
    } = *deleted
    else {
        return Err(TencentError::internal().into());
    };
    let user = user?;
    // Without a user there is nothing to decide; the decision fails only if it is needed.
    let may_delete_keys = may_delete_keys.unwrap_or(Ok(false));
    let options = DeleteUserOptions {
        remove_access_keys: parameters.force && matches!(may_delete_keys, Ok(true)),
        detach_policies: true,
    };
    match authority.delete_user(context, user.uin, options).await {
        Ok(()) => Ok(Map::new()),
        Err(CoreError::UserHasAccessKeys) if parameters.force => Err(match may_delete_keys {
            Err(error) => error.into(),
            Ok(_) => TencentError::delete_api_key_unauthorized().into(),
        }),
        Err(error) => Err(error.into()),
    }
}
