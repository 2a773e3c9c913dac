//! The two exhaustive mappings into the code table: from the crypto crate's signature
//! failures and from the core's failures (a refused value named by its domain field and
//! violated rule becomes the Alibaba parameter that carries it). A new failure does not
//! compile until it has a member here.

use std::borrow::Cow;

use keyplane_core::{CoreError, Field, Violation};
use keyplane_crypto::aliyun::AliyunSignatureError;

use super::{AliyunCode, AliyunError};

/// The request parameter (or, for the SMC agent's registration, the JSON body field) that
/// carries `field` in Alibaba requests. Operator commands name refused values the same way.
pub fn parameter_name(field: Field) -> Cow<'static, str> {
    let name = match field {
        Field::UserName | Field::ActivationCodeName => "Name",
        Field::AccessKeyDescription | Field::ActivationCodeDescription => "Description",
        Field::ApiKeyName => "SecretName",
        Field::ApiKeyId => "AccessKeyId",
        Field::ApiKeySecret => "AccessKeySecret",
        Field::ApiKeyTags => "Tags",
        Field::ApiKeyTagKey { index } => return format!("Tags.{index}.Key").into(),
        Field::ApiKeyTagValue { index } => return format!("Tags.{index}.Value").into(),
        Field::ActivationCodeCount => "Count",
        Field::ActivationCodeLifetime => "TimeToLiveInDays",
        Field::SourceServerName => "name",
        Field::SourceServerHostname => "hostname",
        Field::SourceServerOperatingSystem => "os",
        Field::SourceServerFingerprint => "fingerprint",
        Field::EasCluster => "ClusterId",
        Field::EasServiceName => "ServiceName",
        Field::EasInstanceName => "InstanceName",
        Field::EasWorkerName => "WorkerName",
        Field::EasExecTemplate => "ExecTemplate",
        Field::EasLogTemplate => "LogTemplate",
        Field::AuditRetention => "older-than",
    };
    name.into()
}

impl AliyunError {
    /// The error for a signature failure. Exhaustive over the crypto crate's failures.
    pub fn from_signature(error: &AliyunSignatureError, timestamp_parameter: &str) -> Self {
        match error {
            AliyunSignatureError::TimestampMissing => Self::missing_parameter(timestamp_parameter),
            AliyunSignatureError::TimestampFormat => Self::from(AliyunCode::InvalidTimeStampFormat),
            AliyunSignatureError::TimestampExpired { .. } => {
                Self::from(AliyunCode::InvalidTimeStampExpired)
            }
            AliyunSignatureError::SignatureMethodUnsupported(_) => {
                Self::from(AliyunCode::InvalidSignatureMethod)
            }
            AliyunSignatureError::SignatureVersionUnsupported(_) => {
                Self::from(AliyunCode::InvalidSignatureVersion)
            }
            AliyunSignatureError::MissingParameter(parameter) => Self::missing_parameter(parameter),
            AliyunSignatureError::HeaderNotSigned(header) => {
                Self::incomplete_signature(&format!("The header {header} must be signed."))
            }
            AliyunSignatureError::SignedHeaderMissing(header) => Self::incomplete_signature(
                &format!("The signed header {header} is not present in the request."),
            ),
            AliyunSignatureError::ContentHashMismatch => Self::incomplete_signature(
                "x-acs-content-sha256 is missing or is not the SHA-256 of the body.",
            ),
            AliyunSignatureError::Mismatch { string_to_sign } => Self::new(
                AliyunCode::SignatureDoesNotMatch,
                format!(
                    "Specified signature is not matched with our calculation. server string to \
                     sign is:{string_to_sign}"
                ),
            ),
        }
    }

    /// The error for a core failure. Exhaustive: a new core failure does not compile until it
    /// has a code here.
    pub fn from_core(error: &CoreError) -> Self {
        use AliyunCode as Code;
        match error {
            CoreError::UserNotFound | CoreError::RootUserUndeletable => {
                Self::from(Code::EntityNotExistUser)
            }
            CoreError::AccessKeyNotFound | CoreError::OwnerMismatch => {
                Self::from(Code::EntityNotExistUserAccessKey)
            }
            CoreError::AccessKeyQuotaExceeded { limit } => Self::new(
                Code::LimitExceededUserAccessKey,
                format!("The count of AccessKey of the user exceeds the limit of {limit}."),
            ),
            CoreError::UserNameTaken => Self::from(Code::EntityAlreadyExistsUser),
            CoreError::ApiKeyNotFound => Self::from(Code::EntityNotExist),
            CoreError::ApiKeyLimitExceeded { limit } => Self::new(
                Code::LimitExceeded,
                format!("The count of the resource exceeds the limit of {limit}."),
            ),
            CoreError::ApiKeyAlreadyExists => Self::from(Code::EntityAlreadyExists),
            CoreError::SubUserActingOnRoot | CoreError::Unauthorized { .. } => {
                Self::from(Code::NoPermission)
            }
            CoreError::AccessDenied(denied) => Self::access_denied(denied, Code::NoPermission),
            CoreError::UserHasAccessKeys => Self::from(Code::DeleteConflictUserAccessKey),
            CoreError::UserHasPolicies => Self::from(Code::DeleteConflictUserPolicy),
            CoreError::PolicyNotFound => Self::from(Code::EntityNotExistPolicy),
            CoreError::PolicyNameTaken => Self::from(Code::EntityAlreadyExistsPolicy),
            CoreError::PolicyLimitExceeded { limit } => Self::new(
                Code::LimitExceededPolicy,
                format!("The count of policy beyond the current limit of {limit}."),
            ),
            CoreError::PolicyAlreadyAttached => Self::from(Code::EntityAlreadyExistsUserPolicy),
            CoreError::PolicyInUse => Self::from(Code::DeleteConflictPolicyUser),
            CoreError::PolicyNotAttached => Self::from(Code::EntityNotExistUserPolicy),
            CoreError::AttachmentLimitExceeded { limit } => Self::new(
                Code::LimitExceededUserPolicy,
                format!(
                    "The policy count of the user attached policies beyond the current limit of {limit}."
                ),
            ),
            CoreError::MalformedPolicyDocument { reason } => {
                Self::new(Code::MalformedPolicyDocument, reason.clone())
            }
            CoreError::Invalid { field, violation } => {
                let parameter = parameter_name(*field);
                match violation {
                    Violation::Missing => Self::missing_parameter(&parameter),
                    _ => Self::invalid_parameter(
                        &parameter,
                        &format!("it {}.", violation.reason(*field)),
                    ),
                }
            }
            CoreError::UnsupportedOperation { reason } => {
                Self::new(Code::OperationDenied, reason.clone())
            }
            CoreError::RateLimited { .. } => Self::from(Code::ThrottlingUser),
            CoreError::AuthenticationThrottled => Self::from(Code::Throttling),
            CoreError::ActivationCodeNotFound => Self::from(Code::InvalidAccessTokenIdNotFound),
            CoreError::ActivationCodeInvalid => Self::from(Code::InvalidAccessToken),
            CoreError::ActivationCodeExpired => Self::from(Code::AccessTokenExpired),
            CoreError::ActivationCodeDisabled => Self::from(Code::AccessTokenDisabled),
            CoreError::ActivationCodeExhausted => Self::from(Code::AccessTokenExhausted),
            CoreError::EasServiceNotFound => Self::from(Code::InvalidServiceNotFound),
            CoreError::EasInstanceNotFound => Self::from(Code::InvalidInstanceNotFound),
            CoreError::EasWorkerNotFound => Self::from(Code::InvalidWorkerNotFound),
            CoreError::EasServiceAlreadyExists => Self::from(Code::EntityAlreadyExistsService),
            CoreError::EasInstanceAlreadyExists => Self::from(Code::EntityAlreadyExistsInstance),
            CoreError::InstanceTokenInvalid => Self::from(Code::InvalidInstanceToken),
            CoreError::InstanceTokenUsed => Self::from(Code::InstanceTokenAlreadyUsed),
            CoreError::InstanceTokenExpired => Self::from(Code::InstanceTokenExpired),
            CoreError::InstanceTokenRevoked => Self::from(Code::InstanceTokenRevoked),
            CoreError::AlreadyInitialized | CoreError::NotInitialized | CoreError::Internal => {
                Self::internal()
            }
        }
    }
}
