//! The policy store: custom policies of an account and the policies attached to its users.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::audit::AuditEvent;
use crate::model::{CustomPolicy, PolicyAttachment, PolicyType};

/// Which custom policy `PolicyStore::delete_custom_policy` deletes, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteCustomPolicy<'a> {
    /// The account the policy belongs to.
    pub account_id: u64,
    /// The policy's name.
    pub name: &'a str,
    /// Detach it from every user it is attached to, instead of refusing with `PolicyInUse`.
    pub detach: bool,
}

impl<'a> DeleteCustomPolicy<'a> {
    /// Deletes the policy `name` of `account_id`, detaching it first when `detach`.
    pub fn new(account_id: u64, name: &'a str, detach: bool) -> Self {
        Self {
            account_id,
            name,
            detach,
        }
    }
}

/// One policy (named by type and name) of one user of an account: what is attached or
/// detached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserPolicy<'a> {
    /// The account the user belongs to.
    pub account_id: u64,
    /// The user's uin.
    pub uin: u64,
    /// System or custom.
    pub policy_type: PolicyType,
    /// The policy's name.
    pub policy_name: &'a str,
}

impl<'a> UserPolicy<'a> {
    /// The policy `policy_name` of `policy_type` for the user `uin` of `account_id`.
    pub fn new(account_id: u64, uin: u64, policy_type: PolicyType, policy_name: &'a str) -> Self {
        Self {
            account_id,
            uin,
            policy_type,
            policy_name,
        }
    }

    /// Attaches this policy at `attached_at`, unless the user already has `limit` attached.
    pub fn attached_at(self, attached_at: OffsetDateTime, limit: u32) -> AttachPolicy<'a> {
        AttachPolicy {
            policy: self,
            attached_at,
            limit,
        }
    }
}

/// What `PolicyStore::attach_policy` attaches, when, and the most a user may have attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachPolicy<'a> {
    /// The user and the policy.
    pub policy: UserPolicy<'a>,
    /// When it is attached.
    pub attached_at: OffsetDateTime,
    /// How many policies the user may have attached at the most.
    pub limit: u32,
}

/// Custom policies of an account and the policies attached to its users.
#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// Inserts a custom policy unless the account holds `limit` of them
    /// (`PolicyLimitExceeded`) or one of that name (`PolicyNameTaken`); `IdentifierTaken` when
    /// the id exists.
    async fn create_custom_policy(
        &self,
        policy: CustomPolicy,
        limit: u32,
        audit: AuditEvent,
    ) -> Result<CustomPolicy, StoreError>;

    /// A custom policy by name, within an account.
    async fn custom_policy_by_name(
        &self,
        account_id: u64,
        name: &str,
    ) -> Result<Option<CustomPolicy>, StoreError>;

    /// A custom policy by id, within an account.
    async fn custom_policy_by_id(
        &self,
        account_id: u64,
        id: u64,
    ) -> Result<Option<CustomPolicy>, StoreError>;

    /// Deletes a custom policy of the account, with the audit event, in one transaction:
    /// `PolicyNotFound`; `PolicyInUse` while it is attached to any user, unless `detach`, when
    /// its attachments go with it (and, on a shared database, every node is told of each user
    /// whose permissions changed). Returns the uins of the users it was detached from.
    async fn delete_custom_policy(
        &self,
        request: DeleteCustomPolicy<'_>,
        audit: AuditEvent,
    ) -> Result<Vec<u64>, StoreError>;

    /// Every custom policy of an account, oldest first (then by name), each with how many
    /// users have it attached: one query.
    async fn list_custom_policies(
        &self,
        account_id: u64,
    ) -> Result<Vec<(CustomPolicy, u64)>, StoreError>;

    /// How many users of the account have the policy attached.
    async fn policy_attachment_count(
        &self,
        account_id: u64,
        policy_type: PolicyType,
        name: &str,
    ) -> Result<u64, StoreError>;

    /// Attaches a policy to a user, with the audit event, in one transaction: `UserNotFound`,
    /// `PolicyNotFound` (a custom policy not in the account; system policy names are the
    /// core's to check), `PolicyAlreadyAttached`, and `AttachmentLimitExceeded` when the user
    /// already has `limit` policies attached. On a shared database every node is told that
    /// the user's permissions changed.
    async fn attach_policy(
        &self,
        request: AttachPolicy<'_>,
        audit: AuditEvent,
    ) -> Result<(), StoreError>;

    /// Detaches a policy from a user: `UserNotFound`, `PolicyNotAttached`. Every node is told,
    /// as for `attach_policy`.
    async fn detach_policy(
        &self,
        policy: UserPolicy<'_>,
        audit: AuditEvent,
    ) -> Result<(), StoreError>;

    /// The policies attached to a user, in the order they were attached, each custom one with
    /// its policy (one read: this feeds every authorization of the user).
    async fn user_policies(
        &self,
        account_id: u64,
        uin: u64,
    ) -> Result<Vec<PolicyAttachment>, StoreError>;
}
