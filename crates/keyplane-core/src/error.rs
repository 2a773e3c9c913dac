//! The failures of Keyplane's use cases, named by what went wrong rather than by any cloud's
//! error code. Each dialect maps every variant, in one exhaustive table, to its own code and
//! HTTP status.

use crate::store::StoreError;
use crate::validation::{Field, Violation};

/// Who was refused what: everything a dialect's denial names (Alibaba's `AccessDeniedDetail`,
/// Tencent's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDenied {
    /// The permission asked for, `product:Action` (`ram:CreateAccessKey`).
    pub action: String,
    /// The resource it was asked on, named as the dialect's cloud names it.
    pub resource: String,
    pub account_id: u64,
    pub principal_uin: u64,
    pub principal_name: String,
    /// Whether a statement denied it (`true`) or no statement allowed it.
    pub explicit: bool,
}

impl std::fmt::Display for AccessDenied {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "user {} ({}) is not authorized to perform {} on {}",
            self.principal_name, self.principal_uin, self.action, self.resource
        )
    }
}

/// A use case failed. Variants carry only what a client may be told; internal details are
/// logged where they happen and never travel in these values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    #[error("the user does not exist")]
    UserNotFound,
    #[error("the access key does not exist")]
    AccessKeyNotFound,
    #[error("the API key does not exist")]
    ApiKeyNotFound,
    #[error("the user already holds the maximum of {limit} access keys")]
    AccessKeyQuotaExceeded { limit: u32 },
    #[error("the account already holds the maximum of {limit} API keys")]
    ApiKeyLimitExceeded { limit: u32 },
    #[error("an API key with this id already exists")]
    ApiKeyAlreadyExists,
    #[error("a user with this name already exists")]
    UserNameTaken,
    #[error("a sub-user cannot act on the root account")]
    SubUserActingOnRoot,
    #[error("the access key does not belong to the given user")]
    OwnerMismatch,
    #[error("the activation code does not exist")]
    ActivationCodeNotFound,
    #[error("the activation code is not valid")]
    ActivationCodeInvalid,
    #[error("the activation code has expired")]
    ActivationCodeExpired,
    #[error("the activation code has been disabled")]
    ActivationCodeDisabled,
    #[error("every use of the activation code has been taken")]
    ActivationCodeExhausted,
    #[error("the EAS service does not exist")]
    EasServiceNotFound,
    #[error("the EAS service instance does not exist")]
    EasInstanceNotFound,
    #[error("the worker does not exist in the EAS service instance")]
    EasWorkerNotFound,
    #[error("an EAS service with this name already exists in the cluster")]
    EasServiceAlreadyExists,
    #[error("an instance with this name already exists in the EAS service")]
    EasInstanceAlreadyExists,
    #[error("the instance token is not valid")]
    InstanceTokenInvalid,
    #[error("the instance token has already been used")]
    InstanceTokenUsed,
    #[error("the instance token has expired")]
    InstanceTokenExpired,
    #[error("the access key that asked for the instance token is no longer active")]
    InstanceTokenRevoked,
    #[error("the caller is not authorized to perform {action}")]
    Unauthorized { action: String },
    #[error("{0}")]
    AccessDenied(Box<AccessDenied>),
    #[error("the user still holds access keys")]
    UserHasAccessKeys,
    #[error("the user still has policies attached")]
    UserHasPolicies,
    #[error("the root user cannot be deleted")]
    RootUserUndeletable,
    #[error("the policy does not exist")]
    PolicyNotFound,
    #[error("a policy with this name already exists")]
    PolicyNameTaken,
    #[error("the account already holds the maximum of {limit} custom policies")]
    PolicyLimitExceeded { limit: u32 },
    #[error("the policy is already attached to the user")]
    PolicyAlreadyAttached,
    #[error("the policy is not attached to the user")]
    PolicyNotAttached,
    #[error("the policy is attached to users")]
    PolicyInUse,
    #[error("the user already has the maximum of {limit} policies attached")]
    AttachmentLimitExceeded { limit: u32 },
    #[error("the policy document is malformed: {reason}")]
    MalformedPolicyDocument { reason: String },
    /// A client-supplied value broke a rule: which field, which rule (no wire name; each
    /// dialect names the parameter).
    #[error("{}", crate::validation::describe(*field, violation))]
    Invalid { field: Field, violation: Violation },
    #[error("the operation is not allowed in the resource's current state: {reason}")]
    UnsupportedOperation { reason: String },
    #[error("request rate limit exceeded for {action}")]
    RateLimited { action: String },
    /// The request's source address failed authentication too often; it is heard again once
    /// its budget refills.
    #[error("too many failed authentications from this address")]
    AuthenticationThrottled,
    #[error("the data directory is already initialised")]
    AlreadyInitialized,
    #[error("the installation has not been initialised")]
    NotInitialized,
    #[error("internal error")]
    Internal,
}

impl CoreError {
    /// The value given for `field` broke `violation`.
    pub fn invalid(field: Field, violation: Violation) -> Self {
        CoreError::Invalid { field, violation }
    }
}

impl From<StoreError> for CoreError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AlreadyInitialized => CoreError::AlreadyInitialized,
            StoreError::UserNotFound => CoreError::UserNotFound,
            StoreError::AccessKeyNotFound => CoreError::AccessKeyNotFound,
            StoreError::ApiKeyNotFound => CoreError::ApiKeyNotFound,
            StoreError::AccessKeyQuotaExceeded { limit } => {
                CoreError::AccessKeyQuotaExceeded { limit }
            }
            StoreError::ApiKeyLimitExceeded { limit } => CoreError::ApiKeyLimitExceeded { limit },
            StoreError::ApiKeyAlreadyExists => CoreError::ApiKeyAlreadyExists,
            StoreError::UserNameTaken => CoreError::UserNameTaken,
            StoreError::OwnerMismatch => CoreError::OwnerMismatch,
            StoreError::ActivationCodeNotFound => CoreError::ActivationCodeNotFound,
            StoreError::ActivationCodeExpired => CoreError::ActivationCodeExpired,
            StoreError::ActivationCodeDisabled => CoreError::ActivationCodeDisabled,
            StoreError::ActivationCodeExhausted => CoreError::ActivationCodeExhausted,
            StoreError::EasServiceNotFound => CoreError::EasServiceNotFound,
            StoreError::EasInstanceNotFound => CoreError::EasInstanceNotFound,
            StoreError::EasServiceAlreadyExists => CoreError::EasServiceAlreadyExists,
            StoreError::EasInstanceAlreadyExists => CoreError::EasInstanceAlreadyExists,
            StoreError::InstanceTokenNotFound => CoreError::InstanceTokenInvalid,
            StoreError::InstanceTokenUsed => CoreError::InstanceTokenUsed,
            StoreError::InstanceTokenExpired => CoreError::InstanceTokenExpired,
            StoreError::UserHasAccessKeys => CoreError::UserHasAccessKeys,
            StoreError::UserHasPolicies => CoreError::UserHasPolicies,
            StoreError::PolicyNotFound => CoreError::PolicyNotFound,
            StoreError::PolicyNameTaken => CoreError::PolicyNameTaken,
            StoreError::PolicyLimitExceeded { limit } => CoreError::PolicyLimitExceeded { limit },
            StoreError::PolicyAlreadyAttached => CoreError::PolicyAlreadyAttached,
            StoreError::PolicyNotAttached => CoreError::PolicyNotAttached,
            StoreError::PolicyInUse => CoreError::PolicyInUse,
            StoreError::AttachmentLimitExceeded { limit } => {
                CoreError::AttachmentLimitExceeded { limit }
            }
            StoreError::IdentifierTaken | StoreError::Backend(_) => {
                tracing::error!(error = %error, "store failure");
                CoreError::Internal
            }
        }
    }
}
