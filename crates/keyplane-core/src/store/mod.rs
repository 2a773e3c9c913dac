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

pub use access_keys::{AccessKeyStore, NewAccessKey, OwnedAccessKey, SetAccessKeyStatus};
pub use activation_codes::ActivationCodeStore;
pub use api_keys::{ApiKeyChange, ApiKeyStore, UpdateApiKey};
pub use audit::{AuditStore, PruneAudit};
pub use eas::{EasInstanceName, EasServiceName, EasStore, TokenRedemption};
pub use error::StoreError;
pub use installation::{InstallationStore, NewAccount};
pub use nonces::{NonceStore, UsedNonce};
pub use policies::{AttachPolicy, DeleteCustomPolicy, PolicyStore, UserPolicy};
pub use users::{DeleteUser, DeleteUserOptions, UserStore};

/// Declares `Store` as the sum of the aggregate traits, listed once, implements it for every
/// type that implements all of them, and exports them all as `traits`.
macro_rules! sum_of_aggregates {
    ($(#[$meta:meta])* $name:ident: $($aggregate:ident),+) => {
        $(#[$meta])*
        pub trait $name: $($aggregate +)+ Send + Sync + 'static {}

        impl<T> $name for T where T: $($aggregate +)+ Send + Sync + 'static + ?Sized {}

        /// Every aggregate trait, imported anonymously: `use keyplane_core::store::traits::*;`
        /// lets code holding a concrete store (a test's `SqliteStore`) call any of its methods.
        pub mod traits {
            pub use super::{$name as _, $($aggregate as _),+};
        }
    };
}

sum_of_aggregates! {
    /// Persistence for Keyplane: every aggregate's store. Implemented for any type that
    /// implements all of them.
    Store: InstallationStore,
        NonceStore,
        UserStore,
        PolicyStore,
        AccessKeyStore,
        ApiKeyStore,
        AuditStore,
        ActivationCodeStore,
        EasStore
}
