//! The installation's store: its one account with the root principal, the master-key check
//! every node agrees on, and readiness.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{NewAccessKey, StoreError};
use crate::model::{Account, User};

/// Everything needed to create an account with its root principal.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub account_id: u64,
    pub root_name: String,
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

/// The installation.
#[async_trait]
pub trait InstallationStore: Send + Sync {
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

    /// Whether the store answers (for readiness).
    async fn ping(&self) -> Result<(), StoreError>;

    /// The installation's account, if initialised.
    async fn primary_account(&self) -> Result<Option<Account>, StoreError>;
}
