//! Server Migration Center (SMC, 2019-06-01) activation-code actions (`activation_codes`):
//! `CreateAccessToken`, `ListAccessTokens`, `DisableAccessToken`, `DeleteAccessToken`, each one
//! row of [`ACTIONS`], authorized at the operation level. Numbers travel as strings (`Count`,
//! `TimeToLiveInDays`, `RegisteredCount`), list parameters as `AccessTokenId.N`.

mod activation_codes;

use crate::actions::{action_table, Row};

/// Every SMC action, authorized at the operation level.
#[rustfmt::skip]
pub const ACTIONS: &[Row] = action_table!("smc" {
    "CreateAccessToken" => ("smc:CreateAccessToken", Any, activation_codes::create_access_token),
    "ListAccessTokens" => ("smc:ListAccessTokens", Any, activation_codes::list_access_tokens),
    "DisableAccessToken" => ("smc:DisableAccessToken", Any, activation_codes::change_access_token::<false>),
    "DeleteAccessToken" => ("smc:DeleteAccessToken", Any, activation_codes::change_access_token::<true>),
});
