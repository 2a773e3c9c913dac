//! The store port. Methods are use cases, each atomic inside the backend (a quota is checked and
//! the key inserted in one transaction), never generic CRUD. Implementations live in
//! `keyplane-store`, which also holds the conformance suite every backend must pass.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::audit::{AuditEvent, AuditRecord};
use crate::model::{
    AccessKey, Account, ActivationCode, ApiKey, CustomPolicy, EasInstance, EasService,
    InstanceToken, InstanceTokenPurpose, KeyFamily, KeyStatus, KeyUsage, PolicyAttachment,
    PolicyType, Redemption, SealedBlob, SourceServer, User,
};

/// A store failure. The named variants are outcomes a use case expects; `Backend` is anything
/// else and carries a description for the logs only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("the store already holds an account")]
    AlreadyInitialized,
    #[error("user not found")]
    UserNotFound,
    #[error("access key not found")]
    AccessKeyNotFound,
    #[error("API key not found")]
    ApiKeyNotFound,
    #[error("access key quota of {limit} reached")]
    AccessKeyQuotaExceeded { limit: u32 },
    #[error("API key limit of {limit} reached")]
    ApiKeyLimitExceeded { limit: u32 },
    #[error("API key id already exists")]
    ApiKeyAlreadyExists,
    #[error("user name already taken")]
    UserNameTaken,
    #[error("a generated identifier collided with an existing one")]
    IdentifierTaken,
    #[error("the access key belongs to another user")]
    OwnerMismatch,
    #[error("activation code not found")]
    ActivationCodeNotFound,
    #[error("the activation code has expired")]
    ActivationCodeExpired,
    #[error("the activation code is disabled")]
    ActivationCodeDisabled,
    #[error("every use of the activation code is taken")]
    ActivationCodeExhausted,
    #[error("EAS service not found")]
    EasServiceNotFound,
    #[error("EAS service instance not found")]
    EasInstanceNotFound,
    #[error("an EAS service with this name already exists in the cluster")]
    EasServiceAlreadyExists,
    #[error("an instance with this name already exists in the EAS service")]
    EasInstanceAlreadyExists,
    #[error("instance token not found")]
    InstanceTokenNotFound,
    #[error("the instance token has already been used")]
    InstanceTokenUsed,
    #[error("the instance token has expired")]
    InstanceTokenExpired,
    #[error("the user still holds access keys")]
    UserHasAccessKeys,
    #[error("the user still has policies attached")]
    UserHasPolicies,
    #[error("policy not found")]
    PolicyNotFound,
    #[error("a policy with this name already exists")]
    PolicyNameTaken,
    #[error("custom policy limit of {limit} reached")]
    PolicyLimitExceeded { limit: u32 },
    #[error("the policy is already attached to the user")]
    PolicyAlreadyAttached,
    #[error("the policy is attached to users")]
    PolicyInUse,
    #[error("the policy is not attached to the user")]
    PolicyNotAttached,
    #[error("attached policy limit of {limit} reached")]
    AttachmentLimitExceeded { limit: u32 },
    #[error("storage backend failure: {0}")]
    Backend(String),
}

/// Everything needed to create an account with its root principal.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub account_id: u64,
    pub root_name: String,
    pub created_at: OffsetDateTime,
}

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

impl NewAccount {
    /// The account as stored.
    pub fn account(&self) -> Account {
        Account {
            id: self.account_id,
            created_at: self.created_at,
        }
    }

    /// The root principal as stored: a user whose uin is the account id.
    pub fn root_user(&self) -> User {
        User {
            account_id: self.account_id,
            uin: self.account_id,
            name: self.root_name.clone(),
            profile: crate::model::UserProfile::default(),
            created_at: self.created_at,
        }
    }
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

/// A change to an API key, applied atomically with its audit event.
#[derive(Debug, Clone)]
pub enum ApiKeyChange {
    SetEnabled(bool),
    ReplaceSecret(SealedBlob),
}

/// How `Store::delete_user` treats what the user still has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteUserOptions {
    /// Delete the user's access keys (both families) with it; otherwise refuse with
    /// `UserHasAccessKeys` while it holds any.
    pub remove_access_keys: bool,
    /// Detach its policies with it; otherwise refuse with `UserHasPolicies` while any are
    /// attached.
    pub detach_policies: bool,
}

/// What a prune records of itself: the audit event for the number of records it removed.
pub type PruneAudit = Box<dyn FnOnce(u64) -> AuditEvent + Send>;

/// Persistence for Keyplane. Every mutating method takes the audit event describing it and
/// stores both in one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates the account, its root user and the root's access keys, in one transaction.
    /// Fails with `AlreadyInitialized` when an account exists.
    async fn initialize(
        &self,
        account: NewAccount,
        root_keys: Vec<NewAccessKey>,
    ) -> Result<(Account, User), StoreError>;

    /// Records `check_value` (of the master key this node holds) unless a check value is
    /// stored already, and returns the stored one: a node whose key's check value differs
    /// cannot open the installation's sealed secrets and must not start.
    async fn claim_master_key_check(&self, check_value: &str) -> Result<String, StoreError>;

    /// Records that `nonce` was used with `key_id`, valid until `expires_at`. Returns `false`
    /// when that pair is already recorded and has not expired at `now` (a replay), atomically
    /// across every node on the store.
    async fn remember_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Removes nonce records that expired at or before `now`; returns how many.
    async fn forget_expired_nonces(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    /// Whether the store answers (for readiness).
    async fn ping(&self) -> Result<(), StoreError>;

    /// The installation's account, if initialised.
    async fn primary_account(&self) -> Result<Option<Account>, StoreError>;

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
        account_id: u64,
        uin: u64,
        options: DeleteUserOptions,
        audit: AuditEvent,
    ) -> Result<Vec<String>, StoreError>;

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
        account_id: u64,
        name: &str,
        detach: bool,
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
    #[allow(clippy::too_many_arguments)]
    async fn attach_policy(
        &self,
        account_id: u64,
        uin: u64,
        policy_type: PolicyType,
        policy_name: &str,
        attached_at: OffsetDateTime,
        limit: u32,
        audit: AuditEvent,
    ) -> Result<(), StoreError>;

    /// Detaches a policy from a user: `UserNotFound`, `PolicyNotAttached`. Every node is told,
    /// as for `attach_policy`.
    async fn detach_policy(
        &self,
        account_id: u64,
        uin: u64,
        policy_type: PolicyType,
        policy_name: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError>;

    /// The policies attached to a user, in the order they were attached, each custom one with
    /// its policy (one read: this feeds every authorization of the user).
    async fn user_policies(
        &self,
        account_id: u64,
        uin: u64,
    ) -> Result<Vec<PolicyAttachment>, StoreError>;

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
        account_id: u64,
        owner_uin: u64,
        key_id: &str,
        status: KeyStatus,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> Result<AccessKey, StoreError>;

    /// Deletes a key, with the same errors as `set_access_key_status`.
    async fn delete_access_key(
        &self,
        account_id: u64,
        owner_uin: u64,
        key_id: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError>;

    /// Records last uses, keeping per key the latest one.
    async fn record_key_usage(&self, usage: Vec<KeyUsage>) -> Result<(), StoreError>;

    /// The recorded last use of each of the given keys that has one.
    async fn key_usage(&self, key_ids: &[String]) -> Result<Vec<KeyUsage>, StoreError>;

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
        account_id: u64,
        key_id: &str,
        change: ApiKeyChange,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> Result<ApiKey, StoreError>;

    /// Deletes an API key; `ApiKeyNotFound` when absent.
    async fn delete_api_key(
        &self,
        account_id: u64,
        key_id: &str,
        audit: AuditEvent,
    ) -> Result<(), StoreError>;

    /// Appends audit events that are not tied to a change (refused requests).
    async fn append_audit_events(&self, events: Vec<AuditEvent>) -> Result<(), StoreError>;

    /// Audit records with a sequence greater than `after`, in order, at most `limit`.
    async fn audit_records(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;

    /// Deletes the audit records whose time is before `before` and appends the event `audit`
    /// makes of how many it deleted, in one transaction; returns how many. The only deletion
    /// the audit log allows: the backends refuse every other UPDATE or DELETE of it.
    async fn prune_audit_events(
        &self,
        before: OffsetDateTime,
        audit: PruneAudit,
    ) -> Result<u64, StoreError>;

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
        account_id: u64,
        cluster: &str,
        name: &str,
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
        account_id: u64,
        cluster: &str,
        service: &str,
        name: &str,
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
        account_id: u64,
        cluster: &str,
        service: &str,
        name: &str,
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

    /// Redeems the token with this hash for `purpose`, atomically across every node on the
    /// store: `InstanceTokenNotFound` when no token of that purpose has this hash,
    /// `InstanceTokenUsed` when it was redeemed before, `InstanceTokenExpired` when `now` is at
    /// or past its expiry; otherwise marks it used at `now`, writes `audit` in the same
    /// transaction and returns it. Of any number of concurrent redemptions of one token, at
    /// most one succeeds; a refusal changes nothing and writes no audit event.
    async fn burn_instance_token(
        &self,
        token_hash: &[u8],
        purpose: InstanceTokenPurpose,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> Result<InstanceToken, StoreError>;

    /// Removes the tokens that expired at or before `expired_before`, used or not; returns
    /// how many.
    async fn forget_expired_instance_tokens(
        &self,
        expired_before: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}
