//! RAM identity (IMS, 2019-08-15): access keys (`CreateAccessKey`, `ListAccessKeys`,
//! `UpdateAccessKey`, `DeleteAccessKey`, `GetAccessKeyLastUsed`, in `access_keys`) and RAM
//! users (`CreateUser`, `GetUser`, `ListUsers`, `DeleteUser`, the same users CAM serves, in
//! `users`). Users are named by `UserPrincipalName` (`name@<account-id>.onaliyun.com`; absent
//! = the caller for key actions); keys are of the Alibaba family. Each action is one row of
//! [`ACTIONS`]; whether the caller may is decided by the engine before the handler runs.

mod access_keys;
mod users;

use keyplane_core::authority::UserReference;

use crate::actions::{action_table, Row};
use crate::envelope::Params;
use crate::errors::AliyunError;

/// Every IMS action (its permissions are RAM's).
#[rustfmt::skip]
pub const ACTIONS: &[Row] = action_table!("ims" {
    "CreateAccessKey" => ("ram:CreateAccessKey", UserOrCaller, access_keys::create_access_key),
    "ListAccessKeys" => ("ram:ListAccessKeys", UserOrCaller, access_keys::list_access_keys),
    "UpdateAccessKey" => ("ram:UpdateAccessKey", UserOrCaller, access_keys::update_access_key),
    "DeleteAccessKey" => ("ram:DeleteAccessKey", UserOrCaller, access_keys::delete_access_key),
    "GetAccessKeyLastUsed" => ("ram:GetAccessKeyLastUsed", UserOrCaller, access_keys::get_access_key_last_used),
    "CreateUser" => ("ram:CreateUser", NewUser, users::create_user),
    "GetUser" => ("ram:GetUser", SelectedUser, users::get_user),
    "ListUsers" => ("ram:ListUsers", AllUsers, users::list_users),
    "DeleteUser" => ("ram:DeleteUser", SelectedUser, users::delete_user),
});

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
