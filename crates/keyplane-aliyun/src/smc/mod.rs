//! Server Migration Center (SMC, 2019-06-01) activation-code actions (`activation_codes`):
//! `CreateAccessToken`, `ListAccessTokens`, `DisableAccessToken`, `DeleteAccessToken`, each one
//! row of [`ACTIONS`], authorized at the operation level. Numbers travel as strings (`Count`,
//! `TimeToLiveInDays`, `RegisteredCount`), list parameters as `AccessTokenId.N`.

mod activation_codes;

use crate::actions::{handler, Handler, Row};
use crate::permissions::ResourceKind;

const fn row(name: &'static str, permission: &'static str, handler: Handler) -> Row {
    Row {
        product: "smc",
        name,
        permission,
        resource: ResourceKind::Any,
        rate_limit: None,
        handler,
    }
}

/// Every SMC action.
pub const ACTIONS: &[Row] = &[
    row(
        "CreateAccessToken",
        "smc:CreateAccessToken",
        handler!(activation_codes::create_access_token),
    ),
    row(
        "ListAccessTokens",
        "smc:ListAccessTokens",
        handler!(activation_codes::list_access_tokens),
    ),
    row(
        "DisableAccessToken",
        "smc:DisableAccessToken",
        handler!(activation_codes::disable_access_token),
    ),
    row(
        "DeleteAccessToken",
        "smc:DeleteAccessToken",
        handler!(activation_codes::delete_access_token),
    ),
];
