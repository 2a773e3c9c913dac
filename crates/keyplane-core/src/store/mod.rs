//! The store port. Methods are use cases, each atomic inside the backend (a quota is checked and
//! the key inserted in one transaction), never generic CRUD. They are grouped by aggregate, one
//! trait per module; [`Store`] is their sum, which every backend implements by implementing
//! each of them, and which the rest of the workspace holds as `Arc<dyn Store>`. Every mutating
//! method takes the audit event describing it and stores both in one transaction.
//! Implementations live in `keyplane-store`, which also holds the conformance suite every
//! backend must pass.

mod access_keys;
mod activation_codes;
mod api_keys;
mod audit;
mod eas;
mod error;
mod installation;
mod nonces;
mod policies;
mod users;

pub use access_keys::{AccessKeyStore, NewAccessKey};
pub use activation_codes::ActivationCodeStore;
pub use api_keys::{ApiKeyChange, ApiKeyStore};
pub use audit::{AuditStore, PruneAudit};
pub use eas::EasStore;
pub use error::StoreError;
pub use installation::{InstallationStore, NewAccount};
pub use nonces::NonceStore;
pub use policies::PolicyStore;
pub use users::{DeleteUserOptions, UserStore};

/// Every aggregate trait, imported anonymously: `use keyplane_core::store::traits::*;` lets code
/// holding a concrete store (a test's `SqliteStore`) call any of its methods.
pub mod traits {
    pub use super::{
        AccessKeyStore as _, ActivationCodeStore as _, ApiKeyStore as _, AuditStore as _,
        EasStore as _, InstallationStore as _, NonceStore as _, PolicyStore as _, Store as _,
        UserStore as _,
    };
}

/// Persistence for Keyplane: every aggregate's store. Implemented for any type that implements
/// all of them.
pub trait Store:
    InstallationStore
    + NonceStore
    + UserStore
    + PolicyStore
    + AccessKeyStore
    + ApiKeyStore
    + AuditStore
    + ActivationCodeStore
    + EasStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: InstallationStore
        + NonceStore
        + UserStore
        + PolicyStore
        + AccessKeyStore
        + ApiKeyStore
        + AuditStore
        + ActivationCodeStore
        + EasStore
        + Send
        + Sync
        + 'static
        + ?Sized
{
}
