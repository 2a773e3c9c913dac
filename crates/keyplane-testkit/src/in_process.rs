//! An in-process Keyplane: an [`Authority`] over a real SQLite store in a temporary directory
//! and the production credential factory ([`SealingFactory`] under a fresh master key), with
//! the configurations the tests run under and the seeding they need.

use std::sync::Arc;

use keyplane_core::audit::OUTCOME_SUCCESS;
use keyplane_core::authentication_throttle::AuthenticationFailureLimit;
use keyplane_core::model::{KeyFamily, Secret, User, UserProfile};
use keyplane_core::rate_limit::RateLimits;
use keyplane_core::store::traits::*;
use keyplane_core::store::{NewAccessKey, NewAccount};
use keyplane_core::{Authority, AuthorityConfig, CredentialFactory, RequestContext};
use keyplane_crypto::seal::{Keyring, MasterKey};
use keyplane_server::factory::SealingFactory;
use keyplane_store::SqliteStore;
use time::OffsetDateTime;

use crate::vectors::VectorRoot;

/// The name of the database file in the harness's temporary directory.
pub const DATABASE_FILE: &str = "keyplane.db";

/// An authority, its store and its factory; the temporary directory lives as long as this.
pub struct InProcess {
    pub authority: Arc<Authority>,
    /// The store behind the authority, for seeding and for changes made behind its back.
    pub store: Arc<SqliteStore>,
    pub factory: Arc<SealingFactory>,
    pub directory: tempfile::TempDir,
}

impl InProcess {
    /// An authority with `config` over a new, empty (uninitialised) store.
    pub fn start(config: AuthorityConfig) -> Self {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let store = Arc::new(
            SqliteStore::open(&directory.path().join(DATABASE_FILE)).expect("opening SQLite"),
        );
        let factory = Arc::new(SealingFactory::new(Keyring::new(MasterKey::generate(1))));
        let authority = Arc::new(Authority::new(store.clone(), factory.clone(), config));
        Self {
            authority,
            store,
            factory,
            directory,
        }
    }

    /// An access key of `family` with a known secret, sealed by the harness's factory.
    pub fn access_key(
        &self,
        account_id: u64,
        owner_uin: u64,
        family: KeyFamily,
        id: &str,
        secret: &str,
        created_at: OffsetDateTime,
    ) -> NewAccessKey {
        NewAccessKey {
            id: id.to_owned(),
            account_id,
            owner_uin,
            family,
            description: None,
            sealed_secret: self.factory.seal(id, &Secret::new(secret.to_owned())),
            created_at,
        }
    }

    /// Initialises the store with the account of `root` (its root user named `root`) holding
    /// the root key the captured vectors were signed with.
    pub async fn seed_vector_account(&self, root: &VectorRoot, at: OffsetDateTime) {
        let key = self.access_key(
            root.account_id,
            root.account_id,
            root.family,
            root.key_id,
            root.secret,
            at,
        );
        self.store
            .initialize(
                NewAccount {
                    account_id: root.account_id,
                    root_name: "root".to_owned(),
                    created_at: at,
                },
                vec![key],
            )
            .await
            .expect("initialising the store");
    }

    /// Creates the sub-user `name` with a fixed `uin` directly in the store (audited as an
    /// operator's `CreateUser` with request id `request_id`).
    pub async fn seed_user(
        &self,
        account_id: u64,
        uin: u64,
        name: &str,
        at: OffsetDateTime,
        request_id: &str,
    ) {
        let user = User {
            account_id,
            uin,
            name: name.to_owned(),
            profile: UserProfile::default(),
            created_at: at,
        };
        let audit = RequestContext::operator(at, request_id.to_owned(), "CreateUser")
            .audit_event(Some(format!("user/{name}")), OUTCOME_SUCCESS);
        self.store
            .create_user(user, audit)
            .await
            .expect("creating the user");
    }
}

/// The published default rate limits, all disabled.
pub fn unlimited() -> RateLimits {
    let mut limits = keyplane_server::config::default_rate_limits();
    limits.disable();
    limits
}

/// The configuration of the dialect tests: no rate limit, and no failed-authentication
/// throttle (it has its own tests): every forged request from the one test address must reach
/// the signature check.
pub fn dialect_config() -> AuthorityConfig {
    AuthorityConfig {
        rate_limits: unlimited(),
        authentication_failure_limit: AuthenticationFailureLimit::DISABLED,
        ..AuthorityConfig::default()
    }
}
