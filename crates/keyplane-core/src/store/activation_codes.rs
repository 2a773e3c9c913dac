//! The activation-code store: SMC activation codes and the source servers registered with
//! them.

use async_trait::async_trait;

use super::StoreError;
use crate::audit::AuditEvent;
use crate::model::{ActivationCode, Redemption, SourceServer};

/// SMC activation codes and the source servers registered with them.
#[async_trait]
pub trait ActivationCodeStore: Send + Sync {
    /// Inserts an activation code; `IdentifierTaken` when its id exists.
    async fn create_activation_code(
        &self,
        code: ActivationCode,
        audit: AuditEvent,
    ) -> Result<ActivationCode, StoreError>;

    /// An activation code by id, in any account.
    async fn activation_code(&self, code_id: &str) -> Result<Option<ActivationCode>, StoreError>;

    /// Every activation code of an account, oldest first.
    async fn list_activation_codes(
        &self,
        account_id: u64,
    ) -> Result<Vec<ActivationCode>, StoreError>;

    /// Disables an activation code (it can no longer be redeemed);
    /// `ActivationCodeNotFound` when it is not in the account.
    async fn disable_activation_code(
        &self,
        account_id: u64,
        code_id: &str,
        audit: AuditEvent,
    ) -> Result<ActivationCode, StoreError>;

    /// Deletes an activation code; the source servers registered with it are kept.
    /// `ActivationCodeNotFound` when it is not in the account.
    async fn delete_activation_code(
        &self,
        account_id: u64,
        code_id: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError>;

    /// Redeems one use of the code `server.activation_code_id` for `server`, atomically
    /// across every node on the store: when a source server with the same fingerprint already
    /// registered with this code, returns it (`AlreadyRegistered`, nothing consumed, no audit);
    /// otherwise refuses a missing (`ActivationCodeNotFound`), disabled, expired (at
    /// `server.registered_at`) or exhausted code, and else reserves a use and records the
    /// registration and its audit event in the same transaction, so a registration that fails
    /// gives its use back (`IdentifierTaken` when the server id exists).
    async fn redeem_activation_code(
        &self,
        server: SourceServer,
        audit: AuditEvent,
    ) -> Result<Redemption, StoreError>;

    /// Registered source servers, oldest first: of one account, optionally of one code.
    async fn list_source_servers(
        &self,
        account_id: u64,
        activation_code_id: Option<&str>,
    ) -> Result<Vec<SourceServer>, StoreError>;
}
