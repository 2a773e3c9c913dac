//! The user store: the users (the root principal and sub-users) of an account.

use async_trait::async_trait;

use super::StoreError;
use crate::audit::AuditEvent;
use crate::model::User;

/// How `UserStore::delete_user` treats what the user still has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteUserOptions {
    /// Delete the user's access keys (both families) with it; otherwise refuse with
    /// `UserHasAccessKeys` while it holds any.
    pub remove_access_keys: bool,
    /// Detach its policies with it; otherwise refuse with `UserHasPolicies` while any are
    /// attached.
    pub detach_policies: bool,
}

impl DeleteUser {
    /// Deletes the user `uin` of `account_id` per `options`.
    pub fn new(account_id: u64, uin: u64, options: DeleteUserOptions) -> Self {
        Self {
            account_id,
            uin,
            options,
        }
    }
}

/// Which user `UserStore::delete_user` deletes, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteUser {
    /// The account the user belongs to.
    pub account_id: u64,
    /// The user's uin.
    pub uin: u64,
    /// What happens to what the user still has.
    pub options: DeleteUserOptions,
}

/// Users (the root principal and sub-users) of an account.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Adds a user; `UserNameTaken` when the name exists in the account, `IdentifierTaken`
    /// when the uin does.
    async fn create_user(&self, user: User, audit: AuditEvent) -> Result<User, StoreError>;

    /// A user by uin, within an account.
    async fn user(&self, account_id: u64, uin: u64) -> Result<Option<User>, StoreError>;

    /// A user by name, within an account.
    async fn user_by_name(&self, account_id: u64, name: &str) -> Result<Option<User>, StoreError>;

    /// Every user of an account (the root included), oldest first.
    async fn list_users(&self, account_id: u64) -> Result<Vec<User>, StoreError>;

    /// Deletes a user (the core never asks for the root) and its attachments, per `options`
    /// also its access keys, with the audit event, in one transaction: `UserNotFound`,
    /// `UserHasAccessKeys`, `UserHasPolicies`. Returns the ids of the access keys deleted (the
    /// caller drops them from its authentication cache; on a shared database every node is
    /// told, as for any key change).
    async fn delete_user(
        &self,
        request: DeleteUser,
        audit: AuditEvent,
    ) -> Result<Vec<String>, StoreError>;
}
