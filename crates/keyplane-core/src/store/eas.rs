//! The EAS store: the PAI-EAS registry (services, their instances and workers) and the
//! single-use instance tokens issued for it.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::audit::AuditEvent;
use crate::model::{EasInstance, EasService, InstanceToken, InstanceTokenPurpose};

/// An EAS service by cluster and name, within an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EasServiceName<'a> {
    /// The account the service belongs to.
    pub account_id: u64,
    /// The cluster (region) it runs in.
    pub cluster: &'a str,
    /// The service's name.
    pub name: &'a str,
}

impl<'a> EasServiceName<'a> {
    /// The service `name` in `cluster` of `account_id`.
    pub fn new(account_id: u64, cluster: &'a str, name: &'a str) -> Self {
        Self {
            account_id,
            cluster,
            name,
        }
    }
}

/// An EAS instance by name, within a service of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EasInstanceName<'a> {
    /// The account the service belongs to.
    pub account_id: u64,
    /// The cluster (region) the service runs in.
    pub cluster: &'a str,
    /// The service's name.
    pub service: &'a str,
    /// The instance's name.
    pub name: &'a str,
}

impl<'a> EasInstanceName<'a> {
    /// The instance `name` of the service `service` in `cluster` of `account_id`.
    pub fn new(account_id: u64, cluster: &'a str, service: &'a str, name: &'a str) -> Self {
        Self {
            account_id,
            cluster,
            service,
            name,
        }
    }
}

/// A redemption of an instance token: the hash of the token, what it is redeemed for, and
/// when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRedemption<'a> {
    /// The SHA-256 hash of the token presented.
    pub token_hash: &'a [u8],
    /// What the token is redeemed for.
    pub purpose: InstanceTokenPurpose,
    /// When: a token at or past its expiry is refused.
    pub now: OffsetDateTime,
}

impl<'a> TokenRedemption<'a> {
    /// Redeems the token hashed to `token_hash` for `purpose` at `now`.
    pub fn new(token_hash: &'a [u8], purpose: InstanceTokenPurpose, now: OffsetDateTime) -> Self {
        Self {
            token_hash,
            purpose,
            now,
        }
    }
}

/// The PAI-EAS registry (services, their instances and workers) and the single-use instance
/// tokens issued for it.
#[async_trait]
pub trait EasStore: Send + Sync {
    /// Registers an EAS service; `EasServiceAlreadyExists` when the account already has a
    /// service of that name in that cluster.
    async fn create_eas_service(
        &self,
        service: EasService,
        audit: AuditEvent,
    ) -> Result<EasService, StoreError>;

    /// An EAS service by cluster and name, within an account. Always reads what is committed
    /// now: the registry is changed by `keyplane eas` commands from other processes.
    async fn eas_service(
        &self,
        account_id: u64,
        cluster: &str,
        name: &str,
    ) -> Result<Option<EasService>, StoreError>;

    /// Every EAS service of an account, ordered by cluster, then name.
    async fn list_eas_services(&self, account_id: u64) -> Result<Vec<EasService>, StoreError>;

    /// Deletes an EAS service with its instances; `EasServiceNotFound` when absent. Tokens
    /// issued for it can no longer be redeemed (redemption resolves the registry).
    async fn delete_eas_service(
        &self,
        service: EasServiceName<'_>,
        audit: AuditEvent,
    ) -> Result<(), StoreError>;

    /// Adds an instance (with its workers) to its service: `EasServiceNotFound` when the
    /// service does not exist, `EasInstanceAlreadyExists` when the instance does.
    async fn add_eas_instance(
        &self,
        instance: EasInstance,
        audit: AuditEvent,
    ) -> Result<EasInstance, StoreError>;

    /// An instance by name, within a service of an account; read like `eas_service`.
    async fn eas_instance(
        &self,
        instance: EasInstanceName<'_>,
    ) -> Result<Option<EasInstance>, StoreError>;

    /// The instances of one service, ordered by name.
    async fn list_eas_instances(
        &self,
        account_id: u64,
        cluster: &str,
        service: &str,
    ) -> Result<Vec<EasInstance>, StoreError>;

    /// Removes an instance; `EasInstanceNotFound` when absent.
    async fn remove_eas_instance(
        &self,
        instance: EasInstanceName<'_>,
        audit: AuditEvent,
    ) -> Result<(), StoreError>;

    /// Stores the tokens one request issued, and its audit event, in one transaction;
    /// `IdentifierTaken` (and nothing stored) when a token hash, or a (grant, purpose) pair,
    /// is already stored.
    async fn create_instance_tokens(
        &self,
        tokens: Vec<InstanceToken>,
        audit: AuditEvent,
    ) -> Result<(), StoreError>;

    /// An instance token by the hash of the token.
    async fn instance_token(&self, token_hash: &[u8]) -> Result<Option<InstanceToken>, StoreError>;

    /// Redeems the token with the hash `redemption.token_hash` for `redemption.purpose`,
    /// atomically across every node on the store: `InstanceTokenNotFound` when no token of
    /// that purpose has this hash, `InstanceTokenUsed` when it was redeemed before,
    /// `InstanceTokenExpired` when `redemption.now` is at or past its expiry; otherwise marks
    /// it used then, writes `audit` in the same transaction and returns it. Of any number of concurrent redemptions of one token, at
    /// most one succeeds; a refusal changes nothing and writes no audit event.
    async fn burn_instance_token(
        &self,
        redemption: TokenRedemption<'_>,
        audit: AuditEvent,
    ) -> Result<InstanceToken, StoreError>;

    /// Removes the tokens that expired at or before `expired_before`, used or not; returns
    /// how many.
    async fn forget_expired_instance_tokens(
        &self,
        expired_before: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}
