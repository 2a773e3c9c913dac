//! The use cases of Keyplane, independent of any wire format: who may do what (the root
//! everything in its account, a sub-user what its policies allow: see `authorization`; every
//! use case acting for a caller requires the request to have been authorized), users and
//! policies, quotas, rate limits, minting and sealing, the authentication key cache, last-use
//! buffering and audit; the EAS service registry, and the instance tokens that open one of its
//! workers (issued to the root, redeemed once by a terminal gateway). Dialects parse a request,
//! build a [`RequestContext`] and call in here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use time::OffsetDateTime;

use crate::audit::{AuditEvent, AuditRecord, OUTCOME_SUCCESS};
use crate::authentication_throttle::{AuthenticationFailureLimit, AuthenticationThrottle};
use crate::authorization::{self, Authorization, Decision, Principal, UserPermissions, ROOT_BASIS};
use crate::error::CoreError;
use crate::factory::CredentialFactory;
use crate::instance_access::{InstancePermission, Revocation};
use crate::model::{
    AccessKey, Account, ActivationCode, ActivationCodeStatus, ApiKey, ApiKeyType, ApiKeyWithSecret,
    CustomPolicy, EasInstance, EasService, InstanceSession, InstanceToken, InstanceTokenPurpose,
    IssuedAccessKey, IssuedActivationCode, IssuedInstanceTokens, KeyFamily, KeyStatus, KeyUsage,
    PolicyAttachment, PolicySyntax, PolicyType, Redemption, Secret, SourceServer, Tag, User,
    UserProfile,
};
use crate::rate_limit::{RateLimiter, RateLimits};
use crate::refusal_audit::RefusalAggregator;
use crate::rules;
use crate::store::{ApiKeyChange, DeleteUserOptions, NewAccessKey, NewAccount, Store, StoreError};
use crate::template::{CommandTemplate, TemplateValues};
use crate::usage::{latest, UsageTracker};
use crate::validation::{Field, Violation};

mod audit_log;

/// The most refused-request audit events held in memory between flushes; beyond it new ones
/// are counted and dropped rather than growing without bound under a flood.
const AUDIT_BUFFER_LIMIT: usize = 100_000;
/// How many times a generated identifier is re-drawn after a collision.
const IDENTIFIER_ATTEMPTS: usize = 5;
/// How long an expired instance token is kept (so that presenting it is answered "expired" or
/// "used" rather than "not valid") before [`Authority::expire_instance_tokens`] removes it.
pub const INSTANCE_TOKEN_RETENTION: time::Duration = time::Duration::days(1);
/// The most workers one EAS instance may list.
pub const MAX_WORKERS_PER_INSTANCE: usize = 64;

/// Settings of the use cases.
#[derive(Debug, Clone)]
pub struct AuthorityConfig {
    pub rate_limits: RateLimits,
    pub api_keys_per_account: u32,
    pub key_cache_capacity: u64,
    /// How long an EAS instance token may be redeemed after it was issued.
    pub instance_token_ttl: time::Duration,
    /// How often a source address may fail authentication before it is throttled.
    pub authentication_failure_limit: AuthenticationFailureLimit,
    /// How long an access key or a sub-user's permissions stay cached (at most
    /// [`MAX_CACHE_TIME_TO_LIVE`]): the bound on how stale a node can be if a change
    /// notification from another node is lost.
    pub cache_time_to_live: std::time::Duration,
}

/// The longest [`AuthorityConfig::cache_time_to_live`] honoured.
pub const MAX_CACHE_TIME_TO_LIVE: std::time::Duration = std::time::Duration::from_secs(60);
/// The default [`AuthorityConfig::cache_time_to_live`].
pub const DEFAULT_CACHE_TIME_TO_LIVE: std::time::Duration = std::time::Duration::from_secs(30);

impl Default for AuthorityConfig {
    fn default() -> Self {
        Self {
            rate_limits: RateLimits::default(),
            api_keys_per_account: rules::DEFAULT_API_KEYS_PER_ACCOUNT,
            key_cache_capacity: 1_000_000,
            instance_token_ttl: time::Duration::seconds(rules::DEFAULT_INSTANCE_TOKEN_TTL_SECONDS),
            authentication_failure_limit: AuthenticationFailureLimit::DEFAULT,
            cache_time_to_live: DEFAULT_CACHE_TIME_TO_LIVE,
        }
    }
}

/// The authenticated principal behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: u64,
    pub uin: u64,
    pub key_id: String,
}

impl Caller {
    /// Whether the caller is the account's root principal.
    pub fn is_root(&self) -> bool {
        self.uin == self.account_id
    }
}

/// What a use case needs to know about the request that asks for it.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub caller: Option<Caller>,
    /// The access key id a request claimed before it was authenticated: audited on a refusal
    /// so that a key under attack shows up, even though no principal could be established.
    pub claimed_key_id: Option<String>,
    pub now: OffsetDateTime,
    pub request_id: String,
    pub source_address: String,
    pub user_agent: String,
    /// The product, as used in rate-limit names and audit records: `cam`, `apigateway`, ...
    pub product: String,
    pub action: String,
    /// The authorization decision on this request, once made ([`Authority::authorize`]);
    /// every use case that acts for a caller requires an allowing one.
    pub authorization: Option<Authorization>,
}

impl RequestContext {
    /// The context of an operator command run on the server's machine (no caller: the
    /// operator has the data directory).
    pub fn operator(now: OffsetDateTime, request_id: String, action: &str) -> Self {
        Self {
            caller: None,
            claimed_key_id: None,
            now,
            request_id,
            source_address: "local".to_owned(),
            user_agent: "keyplane-cli".to_owned(),
            product: "keyplane".to_owned(),
            action: action.to_owned(),
            authorization: None,
        }
    }

    /// The audit event for this request with the given target and outcome code.
    pub fn audit_event(&self, target: Option<String>, outcome: &str) -> AuditEvent {
        AuditEvent {
            time: self.now,
            request_id: self.request_id.clone(),
            account_id: self.caller.as_ref().map(|caller| caller.account_id),
            principal_uin: self.caller.as_ref().map(|caller| caller.uin),
            key_id: self
                .caller
                .as_ref()
                .map(|caller| caller.key_id.clone())
                .or_else(|| self.claimed_key_id.clone()),
            product: self.product.clone(),
            action: self.action.clone(),
            target,
            outcome: outcome.to_owned(),
            source_address: self.source_address.clone(),
            user_agent: self.user_agent.clone(),
            detail: None,
            authorization: self.authorization.as_ref().map(Authorization::audit),
        }
    }

    fn caller(&self) -> Result<&Caller, CoreError> {
        self.caller.as_ref().ok_or_else(|| CoreError::Unauthorized {
            action: self.action.clone(),
        })
    }

    /// The caller, provided the request was authorized: use cases that act for a caller fail
    /// closed when a dialect did not authorize (or was refused) before calling them.
    fn authorized_caller(&self) -> Result<&Caller, CoreError> {
        let caller = self.caller()?;
        match &self.authorization {
            Some(authorization)
                if authorization.allowed()
                    && authorization.account_id == caller.account_id
                    && authorization.principal_uin == caller.uin =>
            {
                Ok(caller)
            }
            _ => {
                tracing::error!(
                    action = %self.action,
                    "a use case was called for an unauthorized request"
                );
                Err(self.unauthorized())
            }
        }
    }

    /// Fails closed unless the request is an operator's (no caller) or was authorized.
    fn operator_or_authorized(&self, account_id: u64) -> Result<(), CoreError> {
        match &self.caller {
            None => Ok(()),
            Some(caller) if caller.account_id != account_id => Err(self.unauthorized()),
            Some(_) => self.authorized_caller().map(|_| ()),
        }
    }

    fn unauthorized(&self) -> CoreError {
        CoreError::Unauthorized {
            action: format!("{}:{}", self.product, self.action),
        }
    }
}

/// An access key able to authenticate requests, with its opened secret.
#[derive(Debug, Clone)]
pub struct SigningKey {
    pub caller: Caller,
    pub secret: Secret,
}

/// The result of initialising an installation: the account and the root's secrets, shown once.
#[derive(Debug, Clone)]
pub struct InitializedAccount {
    pub account: Account,
    pub root: User,
    pub tencent_key: IssuedAccessKey,
    pub aliyun_key: IssuedAccessKey,
}

/// Which API keys a listing wants; every given criterion must match.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyFilter {
    pub key_ids: Option<Vec<String>>,
    pub secrets: Option<Vec<String>>,
    pub secret_names: Option<Vec<String>>,
    pub enabled: Option<Vec<bool>>,
    pub keywords: Option<Vec<String>>,
}

/// A request to mint an API Gateway key.
#[derive(Debug, Clone)]
pub struct NewApiKeyRequest {
    pub secret_name: String,
    pub key_type: ApiKeyType,
    pub key_id: Option<String>,
    pub secret: Option<Secret>,
    pub tags: Vec<Tag>,
}

/// A request to mint an SMC activation code; `None` fields take the documented defaults.
#[derive(Debug, Clone, Default)]
pub struct NewActivationCodeRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    pub count: Option<u32>,
    pub time_to_live_days: Option<u32>,
}

/// Which activation codes a listing wants; every given criterion must match.
#[derive(Debug, Clone, Default)]
pub struct ActivationCodeFilter {
    pub ids: Option<Vec<String>>,
    pub name: Option<String>,
    pub status: Option<ActivationCodeStatus>,
}

/// What a migration agent presents to register its source server.
#[derive(Debug, Clone)]
pub struct RegistrationRequest {
    pub activation_code_id: String,
    pub code: Secret,
    pub name: String,
    pub hostname: String,
    pub operating_system: String,
    pub fingerprint: String,
}

/// An EAS service to register: names and the operator's command templates (as typed; they are
/// split into words here, see `template`).
#[derive(Debug, Clone)]
pub struct NewEasServiceRequest {
    pub cluster: String,
    pub name: String,
    pub exec_template: String,
    pub log_template: String,
}

/// An EAS instance to add to a registered service, with its workers (at least one; the first
/// is the default worker).
#[derive(Debug, Clone)]
pub struct NewEasInstanceRequest {
    pub cluster: String,
    pub service: String,
    pub name: String,
    pub workers: Vec<String>,
}

/// Which worker `CreateServiceInstanceToken` asks tokens for; `worker: None` means the
/// instance's first worker.
#[derive(Debug, Clone)]
pub struct InstanceTokenRequest {
    pub cluster: String,
    pub service: String,
    pub instance: String,
    pub worker: Option<String>,
}

/// How a request names a user of the caller's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserReference<'a> {
    Name(&'a str),
    Uin(u64),
    /// The user holding this access key.
    AccessKey(&'a str),
}

/// One policy as the policy listings show it: a system policy (no creation time) or a custom
/// one, with how many users have it attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPolicy {
    pub policy_type: PolicyType,
    pub name: String,
    pub description: String,
    /// The CAM `PolicyId`.
    pub cam_policy_id: u64,
    pub created_at: Option<OffsetDateTime>,
    pub attachments: u64,
}

/// The outcome of looking up the key a request claims to be signed with.
#[derive(Debug, Clone)]
pub enum KeyLookup {
    /// The key exists, is active and of the wanted family.
    Active(SigningKey),
    /// The key exists in the wanted family but is inactive.
    Inactive,
    /// No such key (or one of another family).
    NotFound,
}

/// A cached access key with its secret opened.
#[derive(Debug)]
struct CachedKey {
    key: AccessKey,
    secret: Secret,
}

/// The use cases, over a store and a credential factory.
pub struct Authority {
    store: Arc<dyn Store>,
    factory: Arc<dyn CredentialFactory>,
    config: AuthorityConfig,
    limiter: RateLimiter,
    key_cache: moka::sync::Cache<String, Arc<CachedKey>>,
    invalidation_epoch: AtomicU64,
    /// Sub-users' parsed policies by (account id, uin), dropped when they change.
    permission_cache: moka::sync::Cache<(u64, u64), Arc<UserPermissions>>,
    permission_epoch: AtomicU64,
    /// The texts every root authorization carries, shared rather than allocated per request.
    root_basis: Arc<str>,
    no_name: Arc<str>,
    usage: UsageTracker,
    audit_buffer: Mutex<Vec<AuditEvent>>,
    dropped_audit_events: AtomicU64,
    /// Who hears of changes that may end access opened earlier (instance sessions).
    pub(crate) revocations: crate::instance_access::RevocationHub,
    /// Unauthenticated refusals, counted per source, claimed id and code per interval.
    refusals: Mutex<RefusalAggregator>,
    throttle: AuthenticationThrottle,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Authority")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A cache of `config`'s capacity whose entries expire after its time to live. The expiry is
/// measured on moka's own monotonic clock, not the [`crate::clock::Clock`]: it only bounds
/// staleness and decides nothing a request can observe otherwise.
fn expiring_cache<K, V>(config: &AuthorityConfig) -> moka::sync::Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    moka::sync::Cache::builder()
        .max_capacity(config.key_cache_capacity)
        .time_to_live(config.cache_time_to_live.min(MAX_CACHE_TIME_TO_LIVE))
        .build()
}

impl Authority {
    pub fn new(
        store: Arc<dyn Store>,
        factory: Arc<dyn CredentialFactory>,
        config: AuthorityConfig,
    ) -> Self {
        Self {
            key_cache: expiring_cache(&config),
            permission_cache: expiring_cache(&config),
            limiter: RateLimiter::new(config.rate_limits.clone()),
            throttle: AuthenticationThrottle::new(config.authentication_failure_limit),
            store,
            factory,
            config,
            invalidation_epoch: AtomicU64::new(0),
            permission_epoch: AtomicU64::new(0),
            root_basis: Arc::from(ROOT_BASIS),
            no_name: Arc::from(""),
            usage: UsageTracker::default(),
            audit_buffer: Mutex::new(Vec::new()),
            dropped_audit_events: AtomicU64::new(0),
            revocations: Default::default(),
            refusals: Mutex::new(RefusalAggregator::default()),
        }
    }

    /// The store behind the use cases.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn mint_access_key(
        &self,
        owner: &User,
        family: KeyFamily,
        now: OffsetDateTime,
    ) -> (NewAccessKey, Secret) {
        let id = self.factory.new_access_key_id(family);
        let secret = self.factory.new_access_key_secret(family);
        let key = NewAccessKey {
            sealed_secret: self.factory.seal(&id, &secret),
            id,
            account_id: owner.account_id,
            owner_uin: owner.uin,
            family,
            description: None,
            created_at: now,
        };
        (key, secret)
    }

    /// Creates the installation's account with its root user and one access key of each
    /// family. Fails with `AlreadyInitialized` and changes nothing when an account exists.
    pub async fn initialize(&self, now: OffsetDateTime) -> Result<InitializedAccount, CoreError> {
        let account_id = self.factory.new_account_id();
        let root_template = User {
            account_id,
            uin: account_id,
            name: "root".to_owned(),
            profile: UserProfile::default(),
            created_at: now,
        };
        let (tencent_key, tencent_secret) =
            self.mint_access_key(&root_template, KeyFamily::Tencent, now);
        let (aliyun_key, aliyun_secret) =
            self.mint_access_key(&root_template, KeyFamily::Aliyun, now);
        let (account, root) = self
            .store
            .initialize(
                NewAccount {
                    account_id,
                    root_name: root_template.name.clone(),
                    created_at: now,
                },
                vec![tencent_key.clone(), aliyun_key.clone()],
            )
            .await?;
        let issued = |key: NewAccessKey, secret: Secret| IssuedAccessKey {
            key: key.into_active_key(),
            secret,
        };
        Ok(InitializedAccount {
            account,
            root,
            tencent_key: issued(tencent_key, tencent_secret),
            aliyun_key: issued(aliyun_key, aliyun_secret),
        })
    }

    /// The installation's account.
    pub async fn primary_account(&self) -> Result<Account, CoreError> {
        self.store
            .primary_account()
            .await?
            .ok_or(CoreError::NotInitialized)
    }

    /// Adds a sub-user to the account: an operator (no caller) or an authorized request may.
    pub async fn create_user(
        &self,
        context: &RequestContext,
        account_id: u64,
        name: &str,
        profile: UserProfile,
    ) -> Result<User, CoreError> {
        context.operator_or_authorized(account_id)?;
        rules::check_user_name(name)?;
        for _ in 0..IDENTIFIER_ATTEMPTS {
            let user = User {
                account_id,
                uin: self.factory.new_user_uin(),
                name: name.to_owned(),
                profile: profile.clone(),
                created_at: context.now,
            };
            let audit = context.audit_event(Some(format!("user/{name}")), OUTCOME_SUCCESS);
            match self.store.create_user(user, audit).await {
                Err(StoreError::IdentifierTaken) => continue,
                result => return Ok(result?),
            }
        }
        Err(CoreError::Internal)
    }

    /// Every sub-user of the caller's account, oldest first: the root is not among them, as
    /// neither cloud lists the account itself among its users.
    pub async fn list_sub_users(&self, context: &RequestContext) -> Result<Vec<User>, CoreError> {
        let caller = context.authorized_caller()?;
        let mut users = self.store.list_users(caller.account_id).await?;
        users.retain(|user| !user.is_root());
        Ok(users)
    }

    /// The sub-user of the caller's account a request names: `UserNotFound` when there is
    /// none, and for the root, which neither cloud counts among its users.
    pub async fn sub_user(
        &self,
        context: &RequestContext,
        reference: UserReference<'_>,
    ) -> Result<User, CoreError> {
        let caller = context.caller()?;
        let account_id = caller.account_id;
        let user = match reference {
            UserReference::Name(name) => self.store.user_by_name(account_id, name).await?,
            UserReference::Uin(uin) => self.store.user(account_id, uin).await?,
            UserReference::AccessKey(key_id) => {
                match self
                    .store
                    .access_key(key_id)
                    .await?
                    .filter(|key| key.account_id == account_id)
                {
                    Some(key) => self.store.user(account_id, key.owner_uin).await?,
                    None => None,
                }
            }
        };
        user.filter(|user| !user.is_root())
            .ok_or(CoreError::UserNotFound)
    }

    /// Deletes a sub-user of the caller's account (never the root:
    /// `RootUserUndeletable`), with its attachments and, per `options`, its access keys,
    /// which stop authenticating at once.
    pub async fn delete_user(
        &self,
        context: &RequestContext,
        uin: u64,
        options: DeleteUserOptions,
    ) -> Result<(), CoreError> {
        let caller = context.authorized_caller()?;
        if uin == caller.account_id {
            return Err(CoreError::RootUserUndeletable);
        }
        let user = self
            .store
            .user(caller.account_id, uin)
            .await?
            .ok_or(CoreError::UserNotFound)?;
        let audit = context.audit_event(Some(format!("user/{}", user.name)), OUTCOME_SUCCESS);
        let deleted_keys = self
            .store
            .delete_user(caller.account_id, uin, options, audit)
            .await;
        self.forget_user_permissions(caller.account_id, uin);
        for key_id in deleted_keys? {
            self.invalidate_key(&key_id);
        }
        Ok(())
    }

    /// Creates a custom policy from a document in `syntax`, stored in the common form. The
    /// dialect has checked the name's format and the document's length (each cloud has its
    /// own); here the document is parsed and admitted (`MalformedPolicyDocument`, saying what
    /// is wrong: see [`crate::policy_admission`]), and names of system policies are taken.
    pub async fn create_policy(
        &self,
        context: &RequestContext,
        syntax: PolicySyntax,
        name: &str,
        description: &str,
        document: &str,
    ) -> Result<CustomPolicy, CoreError> {
        let caller = context.authorized_caller()?;
        let policy_syntax = match syntax {
            PolicySyntax::Ram => keyplane_policy::Syntax::Ram,
            PolicySyntax::Cam => keyplane_policy::Syntax::Cam,
        };
        let parsed = keyplane_policy::Policy::parse(document, policy_syntax).map_err(|error| {
            CoreError::MalformedPolicyDocument {
                reason: error.to_string(),
            }
        })?;
        crate::policy_admission::admit(&parsed)?;
        if keyplane_policy::system_policy(name).is_some() {
            return Err(CoreError::PolicyNameTaken);
        }
        for _ in 0..IDENTIFIER_ATTEMPTS {
            let policy = CustomPolicy {
                account_id: caller.account_id,
                id: self.factory.new_policy_id(),
                name: name.to_owned(),
                description: description.to_owned(),
                syntax,
                document: parsed.to_stored(),
                created_at: context.now,
            };
            let audit = context.audit_event(Some(format!("policy/{name}")), OUTCOME_SUCCESS);
            match self
                .store
                .create_custom_policy(policy, rules::CUSTOM_POLICIES_PER_ACCOUNT, audit)
                .await
            {
                Err(StoreError::IdentifierTaken) => continue,
                result => return Ok(result?),
            }
        }
        Err(CoreError::Internal)
    }

    /// The policy a CAM `PolicyId` names: a system policy's fixed id, or a custom policy of
    /// the caller's account. Returns its type and name; `PolicyNotFound` otherwise.
    pub async fn policy_with_id(
        &self,
        context: &RequestContext,
        policy_id: u64,
    ) -> Result<(PolicyType, String), CoreError> {
        let caller = context.caller()?;
        if let Some(system) = keyplane_policy::system_policy_by_cam_id(policy_id) {
            return Ok((PolicyType::System, system.name.to_owned()));
        }
        let custom = self
            .store
            .custom_policy_by_id(caller.account_id, policy_id)
            .await?
            .ok_or(CoreError::PolicyNotFound)?;
        Ok((PolicyType::Custom, custom.name))
    }

    /// A custom policy of the caller's account by name: `PolicyNotFound` when there is none.
    pub async fn custom_policy_named(
        &self,
        context: &RequestContext,
        name: &str,
    ) -> Result<CustomPolicy, CoreError> {
        let caller = context.caller()?;
        self.store
            .custom_policy_by_name(caller.account_id, name)
            .await?
            .ok_or(CoreError::PolicyNotFound)
    }

    /// Deletes a custom policy of the caller's account. While it is attached: with `detach`
    /// its attachments go with it (the users' authorizations change at once, on every node),
    /// otherwise `PolicyInUse`.
    pub async fn delete_policy(
        &self,
        context: &RequestContext,
        name: &str,
        detach: bool,
    ) -> Result<(), CoreError> {
        let caller = context.authorized_caller()?;
        let audit = context.audit_event(Some(format!("policy/{name}")), OUTCOME_SUCCESS);
        let detached = self
            .store
            .delete_custom_policy(caller.account_id, name, detach, audit)
            .await?;
        for uin in detached {
            self.forget_user_permissions(caller.account_id, uin);
        }
        Ok(())
    }

    /// Every policy the caller's account can attach: the system policies, then its custom
    /// policies oldest first, each with how many users have it attached.
    pub async fn list_policies(
        &self,
        context: &RequestContext,
    ) -> Result<Vec<ListedPolicy>, CoreError> {
        let caller = context.authorized_caller()?;
        let mut listed = Vec::new();
        for system in keyplane_policy::system_policies() {
            listed.push(ListedPolicy {
                policy_type: PolicyType::System,
                name: system.name.to_owned(),
                description: system.description.to_owned(),
                cam_policy_id: system.cam_policy_id,
                created_at: None,
                attachments: self
                    .store
                    .policy_attachment_count(caller.account_id, PolicyType::System, system.name)
                    .await?,
            });
        }
        for (custom, attachments) in self.store.list_custom_policies(caller.account_id).await? {
            listed.push(ListedPolicy {
                policy_type: PolicyType::Custom,
                name: custom.name,
                description: custom.description,
                cam_policy_id: custom.id,
                created_at: Some(custom.created_at),
                attachments,
            });
        }
        Ok(listed)
    }

    /// How many users of the caller's account have the policy attached.
    pub async fn policy_attachment_count(
        &self,
        context: &RequestContext,
        policy_type: PolicyType,
        name: &str,
    ) -> Result<u64, CoreError> {
        let caller = context.authorized_caller()?;
        Ok(self
            .store
            .policy_attachment_count(caller.account_id, policy_type, name)
            .await?)
    }

    /// Attaches a system or custom policy to a user of the caller's account; its
    /// authorizations change at once on this node and, on a shared database, on every node.
    pub async fn attach_policy(
        &self,
        context: &RequestContext,
        uin: u64,
        policy_type: PolicyType,
        policy_name: &str,
    ) -> Result<(), CoreError> {
        let caller = context.authorized_caller()?;
        if policy_type == PolicyType::System
            && keyplane_policy::system_policy(policy_name).is_none()
        {
            return Err(CoreError::PolicyNotFound);
        }
        let audit = context.audit_event(
            Some(format!("user/{uin}:{}:{policy_name}", policy_type.as_str())),
            OUTCOME_SUCCESS,
        );
        let result = self
            .store
            .attach_policy(
                caller.account_id,
                uin,
                policy_type,
                policy_name,
                context.now,
                rules::ATTACHED_POLICIES_PER_USER,
                audit,
            )
            .await;
        self.forget_user_permissions(caller.account_id, uin);
        Ok(result?)
    }

    /// Detaches a policy from a user of the caller's account, effective at once.
    pub async fn detach_policy(
        &self,
        context: &RequestContext,
        uin: u64,
        policy_type: PolicyType,
        policy_name: &str,
    ) -> Result<(), CoreError> {
        let caller = context.authorized_caller()?;
        let audit = context.audit_event(
            Some(format!("user/{uin}:{}:{policy_name}", policy_type.as_str())),
            OUTCOME_SUCCESS,
        );
        let result = self
            .store
            .detach_policy(caller.account_id, uin, policy_type, policy_name, audit)
            .await;
        self.forget_user_permissions(caller.account_id, uin);
        Ok(result?)
    }

    /// The policies attached to a user of the caller's account, in attachment order:
    /// `UserNotFound` when there is no such user.
    pub async fn user_policies(
        &self,
        context: &RequestContext,
        uin: u64,
    ) -> Result<Vec<PolicyAttachment>, CoreError> {
        let caller = context.authorized_caller()?;
        let attachments = self.store.user_policies(caller.account_id, uin).await?;
        if attachments.is_empty() && self.store.user(caller.account_id, uin).await?.is_none() {
            return Err(CoreError::UserNotFound);
        }
        Ok(attachments)
    }

    /// Looks up the access key a request claims to be signed with. `None` when the key is
    /// unknown, inactive, or of another family. Served from a cache that mutations invalidate.
    pub async fn signing_key(
        &self,
        key_id: &str,
        family: KeyFamily,
    ) -> Result<Option<SigningKey>, CoreError> {
        Ok(match self.lookup_signing_key(key_id, family).await? {
            KeyLookup::Active(key) => Some(key),
            KeyLookup::Inactive | KeyLookup::NotFound => None,
        })
    }

    /// Like [`Authority::signing_key`], telling an inactive key apart from a missing one.
    pub async fn lookup_signing_key(
        &self,
        key_id: &str,
        family: KeyFamily,
    ) -> Result<KeyLookup, CoreError> {
        let cached = match self.key_cache.get(key_id) {
            Some(cached) => cached,
            None => {
                let epoch = self.invalidation_epoch.load(Ordering::Acquire);
                let Some(key) = self.store.access_key(key_id).await? else {
                    return Ok(KeyLookup::NotFound);
                };
                let secret = self.factory.open(&key.id, &key.sealed_secret)?;
                let cached = Arc::new(CachedKey { key, secret });
                if self.invalidation_epoch.load(Ordering::Acquire) == epoch {
                    self.key_cache.insert(key_id.to_owned(), cached.clone());
                }
                cached
            }
        };
        if cached.key.family != family {
            return Ok(KeyLookup::NotFound);
        }
        if cached.key.status != KeyStatus::Active {
            return Ok(KeyLookup::Inactive);
        }
        Ok(KeyLookup::Active(SigningKey {
            caller: Caller {
                account_id: cached.key.account_id,
                uin: cached.key.owner_uin,
                key_id: cached.key.id.clone(),
            },
            secret: cached.secret.clone(),
        }))
    }

    fn invalidate_key(&self, key_id: &str) {
        self.invalidation_epoch.fetch_add(1, Ordering::AcqRel);
        self.key_cache.invalidate(key_id);
        self.revocations
            .announce(Revocation::Key(key_id.to_owned()));
    }

    /// Drops a key from the authentication cache because another node changed it.
    pub fn forget_key(&self, key_id: &str) {
        self.invalidate_key(key_id);
    }

    /// Drops every key from the authentication cache: changes made elsewhere may have been
    /// missed (the notification channel was interrupted).
    pub fn forget_all_keys(&self) {
        self.invalidation_epoch.fetch_add(1, Ordering::AcqRel);
        self.key_cache.invalidate_all();
        self.revocations.announce(Revocation::Everything);
    }

    /// Drops one user's policies from the permission cache because another node changed them
    /// (attached, detached, or deleted the user).
    pub fn forget_user_permissions(&self, account_id: u64, uin: u64) {
        self.permission_epoch.fetch_add(1, Ordering::AcqRel);
        self.permission_cache.invalidate(&(account_id, uin));
        self.revocations
            .announce(Revocation::User { account_id, uin });
    }

    /// Drops everything cached about keys and permissions: changes made elsewhere may have
    /// been missed (the notification channel was interrupted).
    pub fn forget_everything(&self) {
        self.permission_epoch.fetch_add(1, Ordering::AcqRel);
        self.permission_cache.invalidate_all();
        self.forget_all_keys();
    }

    /// A sub-user's parsed policies: from the cache, or loaded (the user and its attachments)
    /// and cached unless they changed meanwhile. `None` when the user no longer exists.
    async fn permissions(
        &self,
        account_id: u64,
        uin: u64,
    ) -> Result<Option<Arc<UserPermissions>>, CoreError> {
        if let Some(cached) = self.permission_cache.get(&(account_id, uin)) {
            return Ok(Some(cached));
        }
        let epoch = self.permission_epoch.load(Ordering::Acquire);
        let Some(user) = self.store.user(account_id, uin).await? else {
            return Ok(None);
        };
        let attachments = self.store.user_policies(account_id, uin).await?;
        let permissions = Arc::new(UserPermissions::new(user, &attachments));
        if self.permission_epoch.load(Ordering::Acquire) == epoch {
            self.permission_cache
                .insert((account_id, uin), permissions.clone());
        }
        Ok(Some(permissions))
    }

    /// Decides whether the request's caller may perform `action` (`product:Action`, as the
    /// dialect's cloud names it) on the resources `resources` names for it. The root may do
    /// everything in its account (its resources are not even named); a sub-user what its
    /// policies allow, evaluated on the request's source address and time. Returns the
    /// decision either way: the dialect records it in the context (for the audit record) and
    /// answers [`Authorization::denial`] when it is not an allow.
    pub async fn authorize(
        &self,
        context: &RequestContext,
        action: &'static str,
        resources: impl FnOnce(Principal<'_>) -> Vec<String>,
    ) -> Result<Authorization, CoreError> {
        let caller = context.caller()?;
        if caller.is_root() {
            return Ok(Authorization {
                action,
                resources: Vec::new(),
                account_id: caller.account_id,
                principal_uin: caller.uin,
                principal_name: self.no_name.clone(),
                decision: Decision::Allow,
                statement: Some(self.root_basis.clone()),
            });
        }
        let Some(permissions) = self.permissions(caller.account_id, caller.uin).await? else {
            // The key outlived its user only in a cache; nothing is allowed.
            return Ok(Authorization {
                action,
                resources: Vec::new(),
                account_id: caller.account_id,
                principal_uin: caller.uin,
                principal_name: self.no_name.clone(),
                decision: Decision::ImplicitDeny,
                statement: None,
            });
        };
        let resources = resources(Principal {
            account_id: caller.account_id,
            uin: caller.uin,
            name: &permissions.user.name,
        });
        // Every request of a sub-user comes through here: the evaluation reads only what
        // `UserPermissions` prepared when the policies were loaded.
        Ok(authorization::evaluate(
            &permissions,
            action,
            resources,
            &context.source_address,
            context.now,
        ))
    }

    /// Records a successful authentication, in memory; flushed by [`Authority::flush`].
    /// `usage` is built only when the key has no pending use in the same second (last use is
    /// kept to the second), so the common case allocates nothing.
    pub fn record_use(&self, key_id: &str, now: OffsetDateTime, usage: impl FnOnce() -> KeyUsage) {
        if self.usage.has_use_in_second(key_id, now) {
            return;
        }
        self.usage.record(usage());
    }

    /// Applies the per-account rate limit of the request's action.
    pub fn admit(&self, context: &RequestContext) -> Result<(), CoreError> {
        let Some(caller) = &context.caller else {
            return Ok(());
        };
        if self.limiter.admit(
            caller.account_id,
            &context.product,
            &context.action,
            context.now,
        ) {
            Ok(())
        } else {
            Err(CoreError::RateLimited {
                action: format!("{}:{}", context.product, context.action),
            })
        }
    }

    /// Replay protection: accepts the first use of `nonce` with `key_id` within `window` of
    /// `now` and refuses (returns `false`) any repeat inside that window, on every node that
    /// shares the store.
    pub async fn accept_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        window: time::Duration,
        now: OffsetDateTime,
    ) -> Result<bool, CoreError> {
        Ok(self
            .store
            .remember_nonce(key_id, nonce, now + window, now)
            .await?)
    }

    /// Removes nonce records whose window has passed.
    pub async fn expire_nonces(&self, now: OffsetDateTime) -> Result<u64, CoreError> {
        Ok(self.store.forget_expired_nonces(now).await?)
    }

    /// Resolves the user an access-key action targets (default: the caller), for an
    /// authorized request. Whether the target exists is not looked up here: the store's use
    /// case finds out in its own transaction, and `explain_failure` tells an unknown user
    /// apart on the failure path, so a successful request costs no extra read. Whatever its
    /// policies allow, a sub-user never acts on the root's keys.
    fn key_management_target(
        &self,
        context: &RequestContext,
        target_uin: Option<u64>,
    ) -> Result<(u64, u64), CoreError> {
        let caller = context.authorized_caller()?;
        let target_uin = target_uin.unwrap_or(caller.uin);
        if !caller.is_root() && target_uin == caller.account_id {
            return Err(CoreError::SubUserActingOnRoot);
        }
        Ok((caller.account_id, target_uin))
    }

    /// The error to report for a key action on (`account_id`, `target_uin`) that failed
    /// with `error`: when no matching key was found, `UserNotFound` if the target user itself
    /// does not exist.
    async fn explain_failure(
        &self,
        account_id: u64,
        target_uin: u64,
        error: StoreError,
    ) -> CoreError {
        if !matches!(
            error,
            StoreError::AccessKeyNotFound | StoreError::OwnerMismatch
        ) {
            return error.into();
        }
        match self.store.user(account_id, target_uin).await {
            Ok(None) => CoreError::UserNotFound,
            Ok(Some(_)) => error.into(),
            Err(store_error) => store_error.into(),
        }
    }

    /// Mints an access key of `family` for the target user (default: the caller), within the
    /// per-user quota.
    pub async fn create_access_key(
        &self,
        context: &RequestContext,
        family: KeyFamily,
        target_uin: Option<u64>,
        description: Option<String>,
    ) -> Result<IssuedAccessKey, CoreError> {
        if let Some(description) = &description {
            rules::check_description(description)?;
        }
        let (account_id, owner_uin) = self.key_management_target(context, target_uin)?;
        let owner = User {
            account_id,
            uin: owner_uin,
            name: String::new(),
            profile: UserProfile::default(),
            created_at: context.now,
        };
        for _ in 0..IDENTIFIER_ATTEMPTS {
            let (mut key, secret) = self.mint_access_key(&owner, family, context.now);
            key.description = description.clone();
            let audit = context.audit_event(Some(key.id.clone()), OUTCOME_SUCCESS);
            match self
                .store
                .create_access_key_within_quota(key, rules::ACCESS_KEYS_PER_USER, audit)
                .await
            {
                Err(StoreError::IdentifierTaken) => continue,
                Err(error) => return Err(error.into()),
                Ok(key) => return Ok(IssuedAccessKey { key, secret }),
            }
        }
        Err(CoreError::Internal)
    }

    /// The access keys of `family` the target user holds (without secrets).
    pub async fn list_access_keys(
        &self,
        context: &RequestContext,
        family: KeyFamily,
        target_uin: Option<u64>,
    ) -> Result<Vec<AccessKey>, CoreError> {
        let (account_id, owner_uin) = self.key_management_target(context, target_uin)?;
        let keys = self
            .store
            .list_access_keys(account_id, owner_uin, family)
            .await?;
        // An empty list may mean the user does not exist; only then is that looked up.
        if keys.is_empty()
            && owner_uin != context.caller()?.uin
            && self.store.user(account_id, owner_uin).await?.is_none()
        {
            return Err(CoreError::UserNotFound);
        }
        Ok(keys)
    }

    /// Activates or deactivates a key owned by the target user; takes effect for
    /// authentication at once.
    pub async fn set_access_key_status(
        &self,
        context: &RequestContext,
        key_id: &str,
        status: KeyStatus,
        target_uin: Option<u64>,
    ) -> Result<AccessKey, CoreError> {
        let (account_id, owner_uin) = self.key_management_target(context, target_uin)?;
        let audit = context.audit_event(Some(key_id.to_owned()), OUTCOME_SUCCESS);
        let result = self
            .store
            .set_access_key_status(account_id, owner_uin, key_id, status, context.now, audit)
            .await;
        self.invalidate_key(key_id);
        match result {
            Ok(key) => Ok(key),
            Err(error) => Err(self.explain_failure(account_id, owner_uin, error).await),
        }
    }

    /// Deletes a key owned by the target user; takes effect for authentication at once.
    pub async fn delete_access_key(
        &self,
        context: &RequestContext,
        key_id: &str,
        target_uin: Option<u64>,
    ) -> Result<(), CoreError> {
        let (account_id, owner_uin) = self.key_management_target(context, target_uin)?;
        let audit = context.audit_event(Some(key_id.to_owned()), OUTCOME_SUCCESS);
        let result = self
            .store
            .delete_access_key(account_id, owner_uin, key_id, audit)
            .await;
        self.invalidate_key(key_id);
        match result {
            Ok(()) => Ok(()),
            Err(error) => Err(self.explain_failure(account_id, owner_uin, error).await),
        }
    }

    /// The last use of each requested key the caller may see (the root: its account's; a
    /// sub-user: its own), in request order; keys it may not see, or that do not exist, have
    /// no usage.
    pub async fn last_used(
        &self,
        context: &RequestContext,
        key_ids: &[String],
    ) -> Result<Vec<(String, Option<KeyUsage>)>, CoreError> {
        let caller = context.authorized_caller()?;
        let stored = self.store.key_usage(key_ids).await?;
        let mut rows = Vec::with_capacity(key_ids.len());
        for key_id in key_ids {
            let visible = match self.store.access_key(key_id).await? {
                Some(key) => {
                    key.account_id == caller.account_id
                        && (caller.is_root() || key.owner_uin == caller.uin)
                }
                None => false,
            };
            let usage = if visible {
                let stored_usage = stored.iter().find(|usage| &usage.key_id == key_id).cloned();
                latest(stored_usage, self.usage.pending(key_id))
            } else {
                None
            };
            rows.push((key_id.clone(), usage));
        }
        Ok(rows)
    }

    fn open_api_key(&self, key: ApiKey) -> Result<ApiKeyWithSecret, CoreError> {
        let secret = self.factory.open(&key.id, &key.sealed_secret)?;
        Ok(ApiKeyWithSecret { key, secret })
    }

    /// Mints an API Gateway key: generated (`auto`) or caller-chosen (`manual`).
    pub async fn create_api_key(
        &self,
        context: &RequestContext,
        request: NewApiKeyRequest,
    ) -> Result<ApiKeyWithSecret, CoreError> {
        let caller = context.authorized_caller()?;
        rules::check_secret_name(&request.secret_name)?;
        rules::check_tags(&request.tags)?;
        let manual = match request.key_type {
            ApiKeyType::Auto => None,
            ApiKeyType::Manual => {
                let key_id = request
                    .key_id
                    .clone()
                    .ok_or_else(|| CoreError::invalid(Field::ApiKeyId, Violation::Missing))?;
                let secret = request
                    .secret
                    .clone()
                    .ok_or_else(|| CoreError::invalid(Field::ApiKeySecret, Violation::Missing))?;
                rules::check_manual_api_key_id(&key_id)?;
                rules::check_manual_api_key_secret(secret.expose())?;
                Some((key_id, secret))
            }
        };
        for _ in 0..IDENTIFIER_ATTEMPTS {
            let (key_id, secret) = match &manual {
                Some((key_id, secret)) => (key_id.clone(), secret.clone()),
                None => (
                    self.factory.new_api_key_id(),
                    self.factory.new_api_key_secret(),
                ),
            };
            let key = ApiKey {
                sealed_secret: self.factory.seal(&key_id, &secret),
                id: key_id.clone(),
                account_id: caller.account_id,
                key_type: request.key_type,
                secret_name: request.secret_name.clone(),
                enabled: true,
                tags: request.tags.clone(),
                created_at: context.now,
                updated_at: context.now,
            };
            let audit = context.audit_event(Some(key_id), OUTCOME_SUCCESS);
            match self
                .store
                .create_api_key_within_limit(key, self.config.api_keys_per_account, audit)
                .await
            {
                Err(StoreError::ApiKeyAlreadyExists) if manual.is_none() => continue,
                Err(error) => return Err(error.into()),
                Ok(key) => return Ok(ApiKeyWithSecret { key, secret }),
            }
        }
        Err(CoreError::Internal)
    }

    /// The account's API keys matching `filter`: the total count and the page at
    /// `offset`/`limit`.
    pub async fn describe_api_keys(
        &self,
        context: &RequestContext,
        filter: &ApiKeyFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<ApiKeyWithSecret>), CoreError> {
        let caller = context.authorized_caller()?;
        // Secrets are opened only where needed: for every key when the filter names secrets,
        // otherwise only for the page returned.
        let mut matching: Vec<(ApiKey, Option<Secret>)> = Vec::new();
        for key in self.store.list_api_keys(caller.account_id).await? {
            if !api_key_matches(&key, filter) {
                continue;
            }
            match &filter.secrets {
                Some(secrets) => {
                    let opened = self.open_api_key(key)?;
                    if secrets
                        .iter()
                        .any(|secret| secret == opened.secret.expose())
                    {
                        matching.push((opened.key, Some(opened.secret)));
                    }
                }
                None => matching.push((key, None)),
            }
        }
        let total = matching.len();
        let page = matching
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(key, secret)| match secret {
                Some(secret) => Ok(ApiKeyWithSecret { key, secret }),
                None => self.open_api_key(key),
            })
            .collect::<Result<_, _>>()?;
        Ok((total, page))
    }

    /// One API key with its secret.
    pub async fn describe_api_key(
        &self,
        context: &RequestContext,
        key_id: &str,
    ) -> Result<ApiKeyWithSecret, CoreError> {
        let caller = context.authorized_caller()?;
        let key = self
            .store
            .api_key(caller.account_id, key_id)
            .await?
            .ok_or(CoreError::ApiKeyNotFound)?;
        self.open_api_key(key)
    }

    /// Enables or disables an API key.
    pub async fn set_api_key_enabled(
        &self,
        context: &RequestContext,
        key_id: &str,
        enabled: bool,
    ) -> Result<ApiKey, CoreError> {
        let caller = context.authorized_caller()?;
        let audit = context.audit_event(Some(key_id.to_owned()), OUTCOME_SUCCESS);
        Ok(self
            .store
            .update_api_key(
                caller.account_id,
                key_id,
                ApiKeyChange::SetEnabled(enabled),
                context.now,
                audit,
            )
            .await?)
    }

    /// Replaces an API key's secret: a manual key takes the caller's new secret (required),
    /// an auto key gets a freshly generated one (a given secret is refused).
    pub async fn update_api_key(
        &self,
        context: &RequestContext,
        key_id: &str,
        new_secret: Option<Secret>,
    ) -> Result<ApiKeyWithSecret, CoreError> {
        let caller = context.authorized_caller()?;
        let existing = self
            .store
            .api_key(caller.account_id, key_id)
            .await?
            .ok_or(CoreError::ApiKeyNotFound)?;
        let secret = match (existing.key_type, new_secret) {
            (ApiKeyType::Manual, Some(secret)) => {
                rules::check_manual_api_key_secret(secret.expose())?;
                secret
            }
            (ApiKeyType::Manual, None) => {
                return Err(CoreError::invalid(Field::ApiKeySecret, Violation::Missing))
            }
            (ApiKeyType::Auto, Some(_)) => {
                return Err(CoreError::UnsupportedOperation {
                    reason: "the secret of an auto key is generated; omit AccessKeySecret"
                        .to_owned(),
                })
            }
            (ApiKeyType::Auto, None) => self.factory.new_api_key_secret(),
        };
        let audit = context.audit_event(Some(key_id.to_owned()), OUTCOME_SUCCESS);
        let key = self
            .store
            .update_api_key(
                caller.account_id,
                key_id,
                ApiKeyChange::ReplaceSecret(self.factory.seal(key_id, &secret)),
                context.now,
                audit,
            )
            .await?;
        Ok(ApiKeyWithSecret { key, secret })
    }

    /// Deletes an API key.
    pub async fn delete_api_key(
        &self,
        context: &RequestContext,
        key_id: &str,
    ) -> Result<(), CoreError> {
        let caller = context.authorized_caller()?;
        let audit = context.audit_event(Some(key_id.to_owned()), OUTCOME_SUCCESS);
        Ok(self
            .store
            .delete_api_key(caller.account_id, key_id, audit)
            .await?)
    }

    /// The user named `name` in the caller's account, for dialects that name users
    /// (Alibaba `UserPrincipalName`): `UserNotFound` when there is none.
    pub async fn user_named(
        &self,
        context: &RequestContext,
        name: &str,
    ) -> Result<User, CoreError> {
        let caller = context.caller()?;
        self.store
            .user_by_name(caller.account_id, name)
            .await?
            .ok_or(CoreError::UserNotFound)
    }

    /// Mints an SMC activation code.
    pub async fn create_activation_code(
        &self,
        context: &RequestContext,
        request: NewActivationCodeRequest,
    ) -> Result<IssuedActivationCode, CoreError> {
        let caller = context.authorized_caller()?;
        let name = request.name.unwrap_or_default();
        if !name.is_empty() {
            rules::check_activation_code_name(&name)?;
        }
        let description = request.description.unwrap_or_default();
        rules::check_activation_code_description(&description)?;
        let count = request
            .count
            .unwrap_or(rules::DEFAULT_ACTIVATION_CODE_COUNT);
        rules::check_activation_code_count(count)?;
        let days = request
            .time_to_live_days
            .unwrap_or(rules::DEFAULT_ACTIVATION_CODE_DAYS);
        rules::check_activation_code_days(days)?;
        for _ in 0..IDENTIFIER_ATTEMPTS {
            let code = self.factory.new_activation_code();
            let activation_code = ActivationCode {
                id: self.factory.new_activation_code_id(),
                account_id: caller.account_id,
                name: name.clone(),
                description: description.clone(),
                code_hash: self.factory.hash_bearer(code.expose()),
                count,
                registered_count: 0,
                time_to_live_days: days,
                disabled: false,
                created_at: context.now,
                expires_at: context.now + time::Duration::days(i64::from(days)),
            };
            let audit = context.audit_event(Some(activation_code.id.clone()), OUTCOME_SUCCESS);
            match self
                .store
                .create_activation_code(activation_code, audit)
                .await
            {
                Err(StoreError::IdentifierTaken) => continue,
                Err(error) => return Err(error.into()),
                Ok(activation_code) => {
                    return Ok(IssuedActivationCode {
                        activation_code,
                        code,
                    })
                }
            }
        }
        Err(CoreError::Internal)
    }

    /// The account's activation codes matching `filter`, with their status at `context.now`:
    /// the total count and the page at `offset`/`limit`.
    pub async fn list_activation_codes(
        &self,
        context: &RequestContext,
        filter: &ActivationCodeFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<ActivationCode>), CoreError> {
        let caller = context.authorized_caller()?;
        let matching: Vec<ActivationCode> = self
            .store
            .list_activation_codes(caller.account_id)
            .await?
            .into_iter()
            .filter(|code| {
                filter.ids.as_ref().is_none_or(|ids| ids.contains(&code.id))
                    && filter.name.as_ref().is_none_or(|name| *name == code.name)
                    && filter
                        .status
                        .is_none_or(|status| code.status(context.now) == status)
            })
            .collect();
        let total = matching.len();
        Ok((
            total,
            matching.into_iter().skip(offset).take(limit).collect(),
        ))
    }

    /// Disables an activation code: it can no longer be redeemed.
    pub async fn disable_activation_code(
        &self,
        context: &RequestContext,
        code_id: &str,
    ) -> Result<ActivationCode, CoreError> {
        let caller = context.authorized_caller()?;
        let audit = context.audit_event(Some(code_id.to_owned()), OUTCOME_SUCCESS);
        Ok(self
            .store
            .disable_activation_code(caller.account_id, code_id, audit)
            .await?)
    }

    /// Deletes an activation code; its registrations stay on record.
    pub async fn delete_activation_code(
        &self,
        context: &RequestContext,
        code_id: &str,
    ) -> Result<(), CoreError> {
        let caller = context.authorized_caller()?;
        let audit = context.audit_event(Some(code_id.to_owned()), OUTCOME_SUCCESS);
        Ok(self
            .store
            .delete_activation_code(caller.account_id, code_id, audit)
            .await?)
    }

    /// Registers a migration source by redeeming one use of an activation code. The code is
    /// checked against its stored hash in constant time; an unknown id and a wrong code are
    /// the same failure (`ActivationCodeInvalid`), so ids cannot be probed. The store then
    /// decides atomically (see `Store::redeem_activation_code`).
    pub async fn redeem_activation_code(
        &self,
        context: &RequestContext,
        request: RegistrationRequest,
    ) -> Result<Redemption, CoreError> {
        rules::check_source_server_field(Field::SourceServerName, &request.name, 1, 128)?;
        rules::check_source_server_field(Field::SourceServerHostname, &request.hostname, 1, 255)?;
        rules::check_source_server_field(
            Field::SourceServerOperatingSystem,
            &request.operating_system,
            1,
            128,
        )?;
        rules::check_source_server_field(
            Field::SourceServerFingerprint,
            &request.fingerprint,
            8,
            256,
        )?;
        let stored = self
            .store
            .activation_code(&request.activation_code_id)
            .await?;
        let Some(stored) = stored.filter(|stored| {
            self.factory
                .bearer_matches(request.code.expose(), &stored.code_hash)
        }) else {
            return Err(CoreError::ActivationCodeInvalid);
        };
        for _ in 0..IDENTIFIER_ATTEMPTS {
            let server = SourceServer {
                id: self.factory.new_source_server_id(),
                account_id: stored.account_id,
                activation_code_id: stored.id.clone(),
                name: request.name.clone(),
                hostname: request.hostname.clone(),
                operating_system: request.operating_system.clone(),
                fingerprint: request.fingerprint.clone(),
                source_address: context.source_address.clone(),
                registered_at: context.now,
            };
            let mut audit = context.audit_event(Some(server.id.clone()), OUTCOME_SUCCESS);
            audit.account_id = Some(stored.account_id);
            audit.key_id = Some(stored.id.clone());
            match self.store.redeem_activation_code(server, audit).await {
                Err(StoreError::IdentifierTaken) => continue,
                result => return Ok(result?),
            }
        }
        Err(CoreError::Internal)
    }

    /// The source servers registered in an account (optionally with one code), for operators.
    pub async fn source_servers(
        &self,
        account_id: u64,
        activation_code_id: Option<&str>,
    ) -> Result<Vec<SourceServer>, CoreError> {
        Ok(self
            .store
            .list_source_servers(account_id, activation_code_id)
            .await?)
    }

    /// Registers an EAS service in a cluster, with the operator's exec and log templates
    /// (split into words here, once). Only an operator or the account's root may.
    pub async fn create_eas_service(
        &self,
        context: &RequestContext,
        account_id: u64,
        request: NewEasServiceRequest,
    ) -> Result<EasService, CoreError> {
        context.operator_or_authorized(account_id)?;
        rules::check_eas_name(Field::EasCluster, &request.cluster)?;
        rules::check_eas_name(Field::EasServiceName, &request.name)?;
        let template = |field: Field, text: &str| {
            CommandTemplate::parse(text)
                .map_err(|error| CoreError::invalid(field, Violation::Template(error)))
        };
        let service = EasService {
            account_id,
            exec_template: template(Field::EasExecTemplate, &request.exec_template)?,
            log_template: template(Field::EasLogTemplate, &request.log_template)?,
            cluster: request.cluster,
            name: request.name,
            created_at: context.now,
        };
        let audit = context.audit_event(
            Some(format!("{}/{}", service.cluster, service.name)),
            OUTCOME_SUCCESS,
        );
        Ok(self.store.create_eas_service(service, audit).await?)
    }

    /// Deletes an EAS service and its instances; tokens issued for them can no longer be
    /// redeemed.
    pub async fn delete_eas_service(
        &self,
        context: &RequestContext,
        account_id: u64,
        cluster: &str,
        name: &str,
    ) -> Result<(), CoreError> {
        context.operator_or_authorized(account_id)?;
        let audit = context.audit_event(Some(format!("{cluster}/{name}")), OUTCOME_SUCCESS);
        Ok(self
            .store
            .delete_eas_service(account_id, cluster, name, audit)
            .await?)
    }

    /// Adds an instance, with its workers (1 to 64 distinct names), to a registered service.
    pub async fn add_eas_instance(
        &self,
        context: &RequestContext,
        account_id: u64,
        request: NewEasInstanceRequest,
    ) -> Result<EasInstance, CoreError> {
        context.operator_or_authorized(account_id)?;
        rules::check_eas_name(Field::EasCluster, &request.cluster)?;
        rules::check_eas_name(Field::EasServiceName, &request.service)?;
        rules::check_eas_name(Field::EasInstanceName, &request.name)?;
        if request.workers.is_empty() || request.workers.len() > MAX_WORKERS_PER_INSTANCE {
            return Err(CoreError::invalid(
                Field::EasWorkerName,
                Violation::EntryCount {
                    minimum: 1,
                    maximum: MAX_WORKERS_PER_INSTANCE,
                },
            ));
        }
        for (index, worker) in request.workers.iter().enumerate() {
            rules::check_eas_name(Field::EasWorkerName, worker)?;
            if request.workers[..index].contains(worker) {
                return Err(CoreError::invalid(
                    Field::EasWorkerName,
                    Violation::Duplicate {
                        value: worker.clone(),
                    },
                ));
            }
        }
        let instance = EasInstance {
            account_id,
            cluster: request.cluster,
            service: request.service,
            name: request.name,
            workers: request.workers,
            created_at: context.now,
        };
        let audit = context.audit_event(
            Some(format!(
                "{}/{}/{}",
                instance.cluster, instance.service, instance.name
            )),
            OUTCOME_SUCCESS,
        );
        Ok(self.store.add_eas_instance(instance, audit).await?)
    }

    /// Removes an instance from its service.
    pub async fn remove_eas_instance(
        &self,
        context: &RequestContext,
        account_id: u64,
        cluster: &str,
        service: &str,
        name: &str,
    ) -> Result<(), CoreError> {
        context.operator_or_authorized(account_id)?;
        let audit =
            context.audit_event(Some(format!("{cluster}/{service}/{name}")), OUTCOME_SUCCESS);
        Ok(self
            .store
            .remove_eas_instance(account_id, cluster, service, name, audit)
            .await?)
    }

    /// The account's EAS services, each with its instances, for operators.
    pub async fn eas_registry(
        &self,
        account_id: u64,
    ) -> Result<Vec<(EasService, Vec<EasInstance>)>, CoreError> {
        let mut registry = Vec::new();
        for service in self.store.list_eas_services(account_id).await? {
            let instances = self
                .store
                .list_eas_instances(account_id, &service.cluster, &service.name)
                .await?;
            registry.push((service, instances));
        }
        Ok(registry)
    }

    /// The registered service and instance a request names, and the worker it opens (the
    /// instance's first when it names none). Names that could not have been registered are
    /// simply not found.
    async fn resolve_worker(
        &self,
        account_id: u64,
        cluster: &str,
        service: &str,
        instance: &str,
        worker: Option<&str>,
    ) -> Result<(EasService, EasInstance, String), CoreError> {
        let service = if rules::is_eas_name(cluster) && rules::is_eas_name(service) {
            self.store.eas_service(account_id, cluster, service).await?
        } else {
            None
        }
        .ok_or(CoreError::EasServiceNotFound)?;
        let instance = if rules::is_eas_name(instance) {
            self.store
                .eas_instance(account_id, cluster, &service.name, instance)
                .await?
        } else {
            None
        }
        .ok_or(CoreError::EasInstanceNotFound)?;
        let worker = match worker {
            Some(worker) if instance.has_worker(worker) => worker.to_owned(),
            Some(_) => return Err(CoreError::EasWorkerNotFound),
            None => instance
                .workers
                .first()
                .cloned()
                .ok_or(CoreError::EasWorkerNotFound)?,
        };
        Ok((service, instance, worker))
    }

    /// Issues single-use tokens for one worker of a registered instance (EAS
    /// `CreateServiceInstanceToken`): one per [`InstanceTokenPurpose`], each valid for the
    /// configured time to live, stored only as hashes, bound to the caller's account,
    /// principal and key, and audited.
    pub async fn create_instance_tokens(
        &self,
        context: &RequestContext,
        request: InstanceTokenRequest,
    ) -> Result<IssuedInstanceTokens, CoreError> {
        let caller = context.authorized_caller()?;
        let (service, instance, worker) = self
            .resolve_worker(
                caller.account_id,
                &request.cluster,
                &request.service,
                &request.instance,
                request.worker.as_deref(),
            )
            .await?;
        let expires_at = context.now + self.config.instance_token_ttl;
        for _ in 0..IDENTIFIER_ATTEMPTS {
            let grant_id = self.factory.new_instance_token_grant_id();
            let secrets = InstanceTokenPurpose::ALL.map(|_| self.factory.new_instance_token());
            let tokens: Vec<InstanceToken> = InstanceTokenPurpose::ALL
                .iter()
                .zip(&secrets)
                .map(|(purpose, secret)| InstanceToken {
                    token_hash: self.factory.hash_bearer(secret.expose()),
                    grant_id: grant_id.clone(),
                    purpose: *purpose,
                    account_id: caller.account_id,
                    principal_uin: caller.uin,
                    key_id: caller.key_id.clone(),
                    cluster: service.cluster.clone(),
                    service: service.name.clone(),
                    instance: instance.name.clone(),
                    worker: worker.clone(),
                    created_at: context.now,
                    expires_at,
                    used_at: None,
                })
                .collect();
            let audit = context.audit_event(Some(tokens[0].audit_target()), OUTCOME_SUCCESS);
            match self.store.create_instance_tokens(tokens, audit).await {
                Err(StoreError::IdentifierTaken) => continue,
                Err(error) => return Err(error.into()),
                Ok(()) => {
                    let [workbench, terminal, streamlog] = secrets;
                    return Ok(IssuedInstanceTokens {
                        grant_id,
                        cluster: service.cluster,
                        service: service.name,
                        instance: instance.name,
                        worker,
                        expires_at,
                        workbench,
                        terminal,
                        streamlog,
                    });
                }
            }
        }
        Err(CoreError::Internal)
    }

    /// Redeems an instance token for `purpose`: the terminal gateway's entry point. The token
    /// must have been issued for that purpose (else `InstanceTokenInvalid`, the same answer as
    /// for an unknown token), be unused (`InstanceTokenUsed`) and unexpired at `context.now`
    /// (`InstanceTokenExpired`), the key that asked for it still active and its principal
    /// still allowed `permission` on the service (`InstanceTokenRevoked`, `AccessDenied`; see
    /// [`Authority::check_instance_access`]), and its worker must still be registered
    /// (`EasServiceNotFound`, `EasInstanceNotFound`, `EasWorkerNotFound`). The store then
    /// burns it atomically across every node, writing the audit event (attributed to the
    /// principal and key that asked for the token, with `context.action`, which should be
    /// [`InstanceTokenPurpose::redemption_action`]) in the same transaction. Returns the
    /// session to open: whose, which worker, and the expanded command (exec template for the
    /// workbench and terminal, log template for the log stream). Refusals are the caller's to
    /// audit, as with every other request.
    pub async fn redeem_instance_token(
        &self,
        context: &RequestContext,
        purpose: InstanceTokenPurpose,
        token: &Secret,
        permission: InstancePermission,
    ) -> Result<InstanceSession, CoreError> {
        let (token_hash, stored) = self
            .unused_instance_token(purpose, token, context.now)
            .await?;
        // Revocation reaches tokens issued before it (see `instance_access`).
        self.check_instance_access(context, stored.grant(), permission)
            .await?;
        let (service, _, worker) = self
            .resolve_worker(
                stored.account_id,
                &stored.cluster,
                &stored.service,
                &stored.instance,
                Some(&stored.worker),
            )
            .await?;
        let mut audit = context.audit_event(Some(stored.audit_target()), OUTCOME_SUCCESS);
        audit.account_id = Some(stored.account_id);
        audit.principal_uin = Some(stored.principal_uin);
        audit.key_id = Some(stored.key_id.clone());
        let burned = self
            .store
            .burn_instance_token(&token_hash, purpose, context.now, audit)
            .await?;
        let template = match purpose {
            InstanceTokenPurpose::Workbench | InstanceTokenPurpose::Terminal => {
                &service.exec_template
            }
            InstanceTokenPurpose::Streamlog => &service.log_template,
        };
        let command = template.expand(&TemplateValues {
            cluster: &burned.cluster,
            service: &burned.service,
            instance: &burned.instance,
            worker: &worker,
        });
        Ok(InstanceSession {
            grant_id: burned.grant_id,
            purpose,
            account_id: burned.account_id,
            principal_uin: burned.principal_uin,
            key_id: burned.key_id,
            cluster: burned.cluster,
            service: burned.service,
            instance: burned.instance,
            worker,
            command,
            token_expires_at: burned.expires_at,
        })
    }

    /// The stored token for `purpose` (with its hash), provided it is unused and unexpired.
    pub(crate) async fn unused_instance_token(
        &self,
        purpose: InstanceTokenPurpose,
        token: &Secret,
        now: OffsetDateTime,
    ) -> Result<(Vec<u8>, InstanceToken), CoreError> {
        let token_hash = self.factory.hash_bearer(token.expose());
        let stored = self
            .store
            .instance_token(&token_hash)
            .await?
            .filter(|stored| stored.purpose == purpose)
            .ok_or(CoreError::InstanceTokenInvalid)?;
        if stored.used_at.is_some() {
            return Err(CoreError::InstanceTokenUsed);
        }
        if stored.is_expired(now) {
            return Err(CoreError::InstanceTokenExpired);
        }
        Ok((token_hash, stored))
    }

    /// Removes instance tokens that expired more than [`INSTANCE_TOKEN_RETENTION`] before
    /// `now`; returns how many.
    pub async fn expire_instance_tokens(&self, now: OffsetDateTime) -> Result<u64, CoreError> {
        Ok(self
            .store
            .forget_expired_instance_tokens(now - INSTANCE_TOKEN_RETENTION)
            .await?)
    }

    /// Audit records after `after`, for operators.
    pub async fn audit_records(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, CoreError> {
        Ok(self.store.audit_records(after, limit).await?)
    }
}

/// Whether `key` matches every criterion of `filter` that needs no secret (the secret
/// criterion is checked by the caller, after opening).
fn api_key_matches(key: &ApiKey, filter: &ApiKeyFilter) -> bool {
    let any = |values: &Option<Vec<String>>, test: &dyn Fn(&str) -> bool| {
        values
            .as_ref()
            .is_none_or(|values| values.iter().any(|value| test(value)))
    };
    any(&filter.key_ids, &|value| value == key.id)
        && any(&filter.secret_names, &|value| value == key.secret_name)
        && filter
            .enabled
            .as_ref()
            .is_none_or(|values| values.contains(&key.enabled))
        && any(&filter.keywords, &|value| {
            key.id.contains(value) || key.secret_name.contains(value)
        })
}
