//! The API-key store: the API keys of an account.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::audit::AuditEvent;
use crate::model::{ApiKey, SealedBlob};

/// A change to an API key, applied atomically with its audit event.
#[derive(Debug, Clone)]
pub enum ApiKeyChange {
    SetEnabled(bool),
    ReplaceSecret(SealedBlob),
}

/// What `ApiKeyStore::update_api_key` changes, on which key, and when.
#[derive(Debug, Clone)]
pub struct UpdateApiKey<'a> {
    /// The account the key belongs to.
    pub account_id: u64,
    /// The key's id.
    pub key_id: &'a str,
    /// The change.
    pub change: ApiKeyChange,
    /// When it is made.
    pub now: OffsetDateTime,
}

impl<'a> UpdateApiKey<'a> {
    /// `change` to the key `key_id` of `account_id`, made at `now`.
    pub fn new(
        account_id: u64,
        key_id: &'a str,
        change: ApiKeyChange,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            account_id,
            key_id,
            change,
            now,
        }
    }
}

/// API keys of an account.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Inserts an API key unless the account holds `limit` keys (`ApiKeyLimitExceeded`) or
    /// the id exists (`ApiKeyAlreadyExists`).
    async fn create_api_key_within_limit(
        &self,
        key: ApiKey,
        limit: u32,
        audit: AuditEvent,
    ) -> Result<ApiKey, StoreError>;

    /// An API key by id within an account.
    async fn api_key(&self, account_id: u64, key_id: &str) -> Result<Option<ApiKey>, StoreError>;

    /// Every API key of an account, oldest first.
    async fn list_api_keys(&self, account_id: u64) -> Result<Vec<ApiKey>, StoreError>;

    /// Applies a change to an API key; `ApiKeyNotFound` when absent.
    async fn update_api_key(
        &self,
        request: UpdateApiKey<'_>,
        audit: AuditEvent,
    ) -> Result<ApiKey, StoreError>;

    /// Deletes an API key; `ApiKeyNotFound` when absent.
    async fn delete_api_key(
        &self,
        account_id: u64,
        key_id: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError>;
}
