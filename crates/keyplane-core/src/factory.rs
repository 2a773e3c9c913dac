//! The credential factory port: where new identifiers and secrets come from, and how secrets
//! are sealed for storage. The production implementation (server crate) draws on the OS CSPRNG
//! and AES-256-GCM from `keyplane-crypto`; keeping it behind a trait leaves this crate free of
//! entropy and key material.

use crate::error::CoreError;
use crate::model::{KeyFamily, SealedBlob, Secret};

/// Mints identifiers and secrets and seals secrets for storage.
pub trait CredentialFactory: Send + Sync + 'static {
    /// A new numeric account id (also the root uin).
    fn new_account_id(&self) -> u64;
    /// A new numeric user uin.
    fn new_user_uin(&self) -> u64;
    /// A new numeric custom policy id (the CAM `PolicyId`).
    fn new_policy_id(&self) -> u64;
    /// A new access key id of the family's format.
    fn new_access_key_id(&self, family: KeyFamily) -> String;
    /// A new access key secret of the family's format.
    fn new_access_key_secret(&self, family: KeyFamily) -> Secret;
    /// A new generated API Gateway key id.
    fn new_api_key_id(&self) -> String;
    /// A new generated API Gateway key secret.
    fn new_api_key_secret(&self) -> Secret;
    /// Seals `secret` with the credential id bound as associated data.
    fn seal(&self, credential_id: &str, secret: &Secret) -> SealedBlob;
    /// Opens a sealed secret; fails when the master key or the credential id does not match.
    fn open(&self, credential_id: &str, sealed: &SealedBlob) -> Result<Secret, CoreError>;
    /// A new SMC activation code id: `at-` + lowercase alphanumerics.
    fn new_activation_code_id(&self) -> String;
    /// A new SMC activation code (the bearer secret).
    fn new_activation_code(&self) -> Secret;
    /// A new source server id: `s-` + lowercase alphanumerics.
    fn new_source_server_id(&self) -> String;
    /// A new instance-token grant id: `eit-` + lowercase alphanumerics.
    fn new_instance_token_grant_id(&self) -> String;
    /// A new instance token (the bearer secret), safe to put in a URL as it is.
    fn new_instance_token(&self) -> Secret;
    /// The hash a bearer secret is stored as.
    fn hash_bearer(&self, secret: &str) -> Vec<u8>;
    /// Whether `secret` hashes to `hash`, compared in constant time.
    fn bearer_matches(&self, secret: &str, hash: &[u8]) -> bool;
}
