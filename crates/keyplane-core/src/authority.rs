//! The use cases of Keyplane, independent of any wire format: who may do what (the root
//! everything in its account, a sub-user what its policies allow: see `authorization`; every
//! use case acting for a caller requires the request to have been authorized), users and
//! policies, quotas, rate limits, minting and sealing, the authentication key cache, last-use
//! buffering and audit; the EAS service registry, and the instance tokens that open one of its
//! workers (issued to the root, redeemed once by a terminal gateway). Dialects parse a request,
//! build a [`RequestContext`] and call in here.
//!
//! This module holds the [`Authority`] itself (its state, its settings, its construction);
//! the use cases are grouped by topic in its submodules, whose public types are re-exported
//! here.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::audit::AuditEvent;
use crate::authentication_throttle::{AuthenticationFailureLimit, AuthenticationThrottle};
use crate::authorization::{UserPermissions, ROOT_BASIS};
use crate::error::CoreError;
use crate::factory::CredentialFactory;
use crate::rate_limit::{RateLimiter, RateLimits};
use crate::refusal_audit::RefusalAggregator;
use crate::rules;
use crate::store::{Store, StoreError};
use crate::usage::UsageTracker;

mod access_keys;
mod activation_codes;
mod api_keys;
mod audit_log;
mod authorize;
mod context;
mod eas;
mod instance_tokens;
mod policies;
mod signing_keys;
mod users;

pub use activation_codes::{
    ActivationCodeChange, ActivationCodeFilter, NewActivationCodeRequest, RegistrationRequest,
};
pub use api_keys::{ApiKeyFilter, NewApiKeyRequest};
pub use context::{Caller, RequestContext};
pub use eas::{NewEasInstanceRequest, NewEasServiceRequest, MAX_WORKERS_PER_INSTANCE};
pub use instance_tokens::{InstanceTokenRequest, INSTANCE_TOKEN_RETENTION};
pub use policies::ListedPolicy;
pub use signing_keys::{KeyLookup, SigningKey};
pub use users::{InitializedAccount, UserReference};

use signing_keys::CachedKey;

/// The most refused-request audit events held in memory between flushes; beyond it new ones
/// are counted and dropped rather than growing without bound under a flood.
const AUDIT_BUFFER_LIMIT: usize = 100_000;

/// How many times a generated identifier is re-drawn after a collision.
const IDENTIFIER_ATTEMPTS: usize = 5;

/// Runs `attempt` (which draws fresh identifiers and stores what it made) until the store does
/// not answer `IdentifierTaken`, at most [`IDENTIFIER_ATTEMPTS`] times; `Internal` when every
/// draw collided.
async fn with_fresh_identifiers<T, Attempt, Outcome>(mut attempt: Attempt) -> Result<T, CoreError>
where
    Attempt: FnMut() -> Outcome,
    Outcome: std::future::Future<Output = Result<T, StoreError>>,
{
    for _ in 0..IDENTIFIER_ATTEMPTS {
        match attempt().await {
            Err(StoreError::IdentifierTaken) => continue,
            result => return Ok(result?),
        }
    }
    Err(CoreError::Internal)
}

/// Settings of the use cases.
#[derive(Debug, Clone)]
pub struct AuthorityConfig {
    /// Per-account limits by `product:Action`; none by default: the dialects publish their
    /// defaults and the composition root passes them in.
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
}
