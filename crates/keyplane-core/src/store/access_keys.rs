//! The access-key store: access keys of both families and their last uses.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::audit::AuditEvent;
use crate::model::{AccessKey, KeyFamily, KeyStatus, KeyUsage, SealedBlob};

/// An access key to insert.
#[derive(Debug, Clone)]
pub struct NewAccessKey {
    pub id: String,
    pub account_id: u64,
    pub owner_uin: u64,
    pub family: KeyFamily,
    pub description: Option<String>,
    pub sealed_secret: SealedBlob,
    pub created_at: OffsetDateTime,
}

impl NewAccessKey {
    /// The key as stored right after its insertion: active, never updated.
    pub fn into_active_key(self) -> AccessKey {
        AccessKey {
            id: self.id,
            account_id: self.account_id,
            owner_uin: self.owner_uin,
            family: self.family,
            status: KeyStatus::Active,
            description: self.description,
            sealed_secret: self.sealed_secret,
            created_at: self.created_at,
            updated_at: self.created_at,
        }
    }
}

/// An access key of one user of an account: a key changed or deleted by its owner's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnedAccessKey<'a> {
    /// The account the key belongs to.
    pub account_id: u64,
    /// The user who owns it: another owner is `OwnerMismatch`.
    pub owner_uin: u64,
    /// The key's id.
    pub key_id: &'a str,
}

impl<'a> OwnedAccessKey<'a> {
    /// The key `key_id` of the user `owner_uin` of `account_id`.
    pub fn new(account_id: u64, owner_uin: u64, key_id: &'a str) -> Self {
        Self {
            account_id,
            owner_uin,
            key_id,
        }
    }

    /// Sets this key's status to `status` at `now`.
    pub fn with_status(self, status: KeyStatus, now: OffsetDateTime) -> SetAccessKeyStatus<'a> {
        SetAccessKeyStatus {
            key: self,
            status,
            now,
        }
    }
}

/// What `AccessKeyStore::set_access_key_status` sets, on which key, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetAccessKeyStatus<'a> {
    /// The key.
    pub key: OwnedAccessKey<'a>,
    /// Its new status.
    pub status: KeyStatus,
    /// When it is set.
    pub now: OffsetDateTime,
}

/// Access keys (both families) and their last uses.
#[async_trait]
pub trait AccessKeyStore: Send + Sync {
    /// Inserts an access key unless its owner already holds `quota` keys of its family
    /// (inactive ones included): `AccessKeyQuotaExceeded`. `UserNotFound` when the owner does
    /// not exist; `IdentifierTaken` on an id collision.
    async fn create_access_key_within_quota(
        &self,
        key: NewAccessKey,
        quota: u32,
        audit: AuditEvent,
    ) -> Result<AccessKey, StoreError>;

    /// An access key by id, in any account.
    async fn access_key(&self, key_id: &str) -> Result<Option<AccessKey>, StoreError>;

    /// The keys of one family a user holds, oldest first.
    async fn list_access_keys(
        &self,
        account_id: u64,
        owner_uin: u64,
        family: KeyFamily,
    ) -> Result<Vec<AccessKey>, StoreError>;

    /// Sets a key's status. `AccessKeyNotFound` when no such key is in the account,
    /// `OwnerMismatch` when it belongs to another user.
    async fn set_access_key_status(
        &self,
        request: SetAccessKeyStatus<'_>,
        audit: AuditEvent,
    ) -> Result<AccessKey, StoreError>;

    /// Deletes a key, with the same errors as `set_access_key_status`.
    async fn delete_access_key(
        &self,
        key: OwnedAccessKey<'_>,
        audit: AuditEvent,
    ) -> Result<(), StoreError>;

    /// Records last uses, keeping per key the latest one.
    async fn record_key_usage(&self, usage: Vec<KeyUsage>) -> Result<(), StoreError>;

    /// The recorded last use of each of the given keys that has one.
    async fn key_usage(&self, key_ids: &[String]) -> Result<Vec<KeyUsage>, StoreError>;
}
