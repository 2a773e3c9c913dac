//! The one error type of every store use case.

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
