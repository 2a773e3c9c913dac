//! CAM 2019-01-16, with CAM's field names, types and time format (`YYYY-MM-DD hh:mm:ss`,
//! UTC): its action table, [`ACTIONS`], and the handlers by resource family: access keys
//! ([`access_keys`]: CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey,
//! GetSecurityLastUsed), sub-users ([`users`]: AddUser, GetUser, ListUsers, DeleteUser) and
//! policies ([`policies`]: CreatePolicy, GetPolicy, DeletePolicy, ListPolicies,
//! AttachUserPolicy, DetachUserPolicy, ListAttachedUserPolicies). Users are the same users IMS
//! serves; policies are written in CAM syntax and stored in the common form.

pub mod access_keys;
pub mod policies;
pub mod users;

use serde_json::{Map, Value};
use time::macros::format_description;
use time::OffsetDateTime;

use crate::actions::{row, TencentAction};
use crate::permissions::ResourceKind::{DeletedUser, Policies, TargetUser, Users};
use crate::product::Product::Cam;

pub use policies::POLICY_DOCUMENT_MAX_CHARACTERS;

/// Every CAM action: name, permission, resource, default rate limit, handler.
pub const ACTIONS: &[TencentAction] = &[
    row!(
        Cam,
        "CreateAccessKey",
        "cam:CreateAccessKey",
        TargetUser,
        Some(5),
        access_keys::create
    ),
    row!(
        Cam,
        "ListAccessKeys",
        "cam:ListAccessKeys",
        TargetUser,
        Some(20),
        access_keys::list
    ),
    row!(
        Cam,
        "UpdateAccessKey",
        "cam:UpdateAccessKey",
        TargetUser,
        Some(5),
        access_keys::update
    ),
    row!(
        Cam,
        "DeleteAccessKey",
        "cam:DeleteAccessKey",
        TargetUser,
        Some(5),
        access_keys::delete
    ),
    row!(
        Cam,
        "GetSecurityLastUsed",
        "cam:GetSecurityLastUsed",
        crate::permissions::ResourceKind::Caller,
        None,
        access_keys::last_used
    ),
    row!(Cam, "AddUser", "cam:AddUser", Users, None, users::add),
    row!(Cam, "GetUser", "cam:GetUser", Users, None, users::get),
    row!(Cam, "ListUsers", "cam:ListUsers", Users, None, users::list),
    row!(
        Cam,
        "DeleteUser",
        "cam:DeleteUser",
        DeletedUser {
            keys_permission: "cam:DeleteApiKey"
        },
        None,
        users::delete
    ),
    row!(
        Cam,
        "CreatePolicy",
        "cam:CreatePolicy",
        Policies,
        None,
        policies::create
    ),
    row!(
        Cam,
        "GetPolicy",
        "cam:GetPolicy",
        Policies,
        None,
        policies::get
    ),
    row!(
        Cam,
        "DeletePolicy",
        "cam:DeletePolicy",
        Policies,
        None,
        policies::delete
    ),
    row!(
        Cam,
        "ListPolicies",
        "cam:ListPolicies",
        Policies,
        None,
        policies::list
    ),
    row!(
        Cam,
        "AttachUserPolicy",
        "cam:AttachUserPolicy",
        Policies,
        None,
        policies::attach
    ),
    row!(
        Cam,
        "DetachUserPolicy",
        "cam:DetachUserPolicy",
        Policies,
        None,
        policies::detach
    ),
    row!(
        Cam,
        "ListAttachedUserPolicies",
        "cam:ListAttachedUserPolicies",
        Policies,
        None,
        policies::list_attached
    ),
];

/// CAM's time format.
pub fn format_time(time: OffsetDateTime) -> String {
    time.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second]"
    ))
    .unwrap_or_default()
}

/// CAM's date format.
fn format_date(time: OffsetDateTime) -> String {
    time.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// The fields of a JSON object (nothing for any other value).
fn response(fields: Value) -> Map<String, Value> {
    match fields {
        Value::Object(fields) => fields,
        _ => Map::new(),
    }
}
