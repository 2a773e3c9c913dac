//! The Alibaba Cloud error table: every code this dialect sends (RPC, the EAS ROA operation
//! and the agent and token endpoints), with its HTTP status, as a named constructor, and the
//! two exhaustive mappings from core failures and signature failures. Alibaba errors are always
//! 4xx/5xx (a 200 with a `Code` is a success to the tea SDKs), and carry `RequestId`, `HostId`,
//! `Code`, `Message` and `Recommend` (protocols.md B.7).

use keyplane_core::error::AccessDenied;
use keyplane_core::CoreError;
use keyplane_crypto::aliyun::AliyunSignatureError;

/// The RPC products this dialect serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Product {
    /// RAM identity (IMS), 2019-08-15.
    Ims,
    /// Server Migration Center, 2019-06-01.
    Smc,
    /// Resource Access Management, 2015-05-01 (its policy actions).
    Ram,
}

impl Product {
    /// The product's name in rate-limit names, audit records and last-use records.
    pub fn name(self) -> &'static str {
        match self {
            Product::Ims => "ims",
            Product::Smc => "smc",
            Product::Ram => "ram",
        }
    }

    /// The host the real service answers on, echoed as `HostId`.
    pub fn host(self) -> &'static str {
        match self {
            Product::Ims => "ims.aliyuncs.com",
            Product::Smc => "smc.aliyuncs.com",
            Product::Ram => "ram.aliyuncs.com",
        }
    }

    /// The product code used in the `Recommend` troubleshooting link.
    pub fn troubleshoot_name(self) -> &'static str {
        match self {
            Product::Ims => "Ims",
            Product::Smc => "smc",
            Product::Ram => "Ram",
        }
    }
}

/// One error answer: HTTP status, code and message. Messages never carry internal details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliyunError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// For an authorization refusal, the `AccessDeniedDetail` object: which action, resource
    /// and principal.
    pub access_denied_detail: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

/// The message of Alibaba's authorization refusals.
const NO_PERMISSION_MESSAGE: &str =
    "You are not authorized to do this action. You should be authorized by RAM.";

impl AliyunError {
    /// Whether this refusal of an activation code or instance token came after the request
    /// proved it held the credential (the secret matched; its state or target refused it):
    /// such a refusal is not a failed authentication of its source address.
    pub fn after_proof(&self) -> bool {
        matches!(
            self.code,
            "AccessToken.Expired"
                | "AccessToken.Disabled"
                | "AccessToken.Exhausted"
                | "InstanceToken.AlreadyUsed"
                | "InstanceToken.Expired"
                | "InvalidService.NotFound"
                | "InvalidInstance.NotFound"
                | "InvalidWorker.NotFound"
        )
    }

    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            access_denied_detail: None,
        }
    }

    /// An authorization refusal (403) with its `AccessDeniedDetail`: `NoPermission` from RAM
    /// itself (IMS and RAM), `Forbidden.RAM` from other products (SMC, EAS), as Alibaba does.
    /// The detail has Alibaba's fields (the principal's display name is its UID), plus
    /// `AuthResource` (what was asked on), and its `EncodedDiagnosticMessage` is the diagnosis
    /// as base64 JSON, which also names the user.
    pub fn access_denied(denied: &AccessDenied, code: &'static str) -> Self {
        use base64::Engine;
        let no_permission_type = if denied.explicit {
            "ExplicitDeny"
        } else {
            "ImplicitDeny"
        };
        let diagnosis = serde_json::json!({
            "AuthAction": denied.action,
            "AuthResource": denied.resource,
            "AuthPrincipal": {
                "AuthPrincipalType": "SubUser",
                "AuthPrincipalOwnerId": denied.account_id.to_string(),
                "AuthPrincipalDisplayName": denied.principal_uin.to_string(),
                "AuthPrincipalName": denied.principal_name,
            },
            "ExplicitDeny": denied.explicit,
            "NoPermissionPolicyType": "AccountLevelIdentityBasedPolicy",
        });
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(serde_json::to_vec(&diagnosis).unwrap_or_default());
        // As on Alibaba, the display name of a RAM user's principal is its UID.
        let detail = serde_json::json!({
            "AuthAction": denied.action,
            "AuthResource": denied.resource,
            "AuthPrincipalType": "SubUser",
            "AuthPrincipalOwnerId": denied.account_id.to_string(),
            "AuthPrincipalDisplayName": denied.principal_uin.to_string(),
            "PolicyType": "AccountLevelIdentityBasedPolicy",
            "NoPermissionType": no_permission_type,
            "EncodedDiagnosticMessage": encoded,
        });
        let mut error = Self::new(403, code, NO_PERMISSION_MESSAGE);
        if let serde_json::Value::Object(detail) = detail {
            error.access_denied_detail = Some(Box::new(detail));
        }
        error
    }

    /// A refusal by code and status, for the IMS and RAM outcomes this table names only by
    /// their action (`DeleteConflict.User.AccessKey`, `EntityNotExist.User.Policy`, ...).
    pub fn named(status: u16, code: &'static str, message: &str) -> Self {
        Self::new(status, code, message)
    }

    /// `MissingParameter` (400): a required parameter is absent or empty.
    pub fn missing_parameter(parameter: &str) -> Self {
        Self::new(
            400,
            "MissingParameter",
            format!("{parameter} is mandatory for this action."),
        )
    }

    /// `InvalidParameter` (400), naming the parameter and why.
    pub fn invalid_parameter(parameter: &str, reason: &str) -> Self {
        Self::new(
            400,
            "InvalidParameter",
            format!("Specified parameter {parameter} is not valid: {reason}"),
        )
    }

    /// `InvalidAction.NotFound` (404).
    pub fn action_not_found() -> Self {
        Self::new(
            404,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        )
    }

    /// `InvalidVersion` (400): no product is served at this version.
    pub fn invalid_version() -> Self {
        Self::new(
            400,
            "InvalidVersion",
            "Specified parameter Version is not valid.",
        )
    }

    /// `UnsupportedHTTPMethod` (400).
    pub fn unsupported_method(method: &str) -> Self {
        Self::new(
            400,
            "UnsupportedHTTPMethod",
            format!("The HTTP method {method} is not supported for this API."),
        )
    }

    /// `InvalidAccessKeyId.NotFound` (404).
    pub fn access_key_not_found() -> Self {
        Self::new(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        )
    }

    /// `InvalidAccessKeyId.Inactive` (400).
    pub fn access_key_inactive() -> Self {
        Self::new(
            400,
            "InvalidAccessKeyId.Inactive",
            "Specified access key is disabled.",
        )
    }

    /// `SignatureNonceUsed` (400).
    pub fn nonce_used() -> Self {
        Self::new(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        )
    }

    /// `InvalidSecurityToken.MismatchWithAccessKey` (400): a security token came with a
    /// long-term access key (Keyplane issues no STS credentials).
    pub fn security_token_mismatch() -> Self {
        Self::new(
            400,
            "InvalidSecurityToken.MismatchWithAccessKey",
            "Specified SecurityToken mismatch with the AccessKey.",
        )
    }

    /// `IncompleteSignature` (400), with what is incomplete.
    pub fn incomplete_signature(detail: &str) -> Self {
        Self::new(
            400,
            "IncompleteSignature",
            format!("The request signature does not conform to Aliyun standards. {detail}"),
        )
    }

    /// `RequestEntityTooLarge` (413).
    pub fn request_too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("The request body is larger than {limit} bytes."),
        )
    }

    /// `InvalidParameter` (400) for a body that could not be read or decoded.
    pub fn unreadable_body(reason: &str) -> Self {
        Self::new(
            400,
            "InvalidParameter",
            format!("The request body could not be read: {reason}"),
        )
    }

    /// `InvalidParameter` (400): more parameters than a request may carry.
    pub fn too_many_parameters(limit: usize) -> Self {
        Self::new(
            400,
            "InvalidParameter",
            format!("The request carries more than {limit} parameters."),
        )
    }

    /// `InternalError` (500), with nothing internal in it.
    pub fn internal() -> Self {
        Self::new(
            500,
            "InternalError",
            "The request processing has failed due to some unknown error, exception or failure.",
        )
    }

    /// The error for a signature failure. Exhaustive over the crypto crate's failures.
    pub fn from_signature(error: &AliyunSignatureError, timestamp_parameter: &str) -> Self {
        match error {
            AliyunSignatureError::TimestampMissing => Self::missing_parameter(timestamp_parameter),
            AliyunSignatureError::TimestampFormat => Self::new(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            ),
            AliyunSignatureError::TimestampExpired { .. } => Self::new(
                400,
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date value is expired.",
            ),
            AliyunSignatureError::SignatureMethodUnsupported(_) => Self::new(
                400,
                "InvalidSignatureMethod",
                "Specified signature method is not valid.",
            ),
            AliyunSignatureError::SignatureVersionUnsupported(_) => Self::new(
                400,
                "InvalidSignatureVersion",
                "Specified signature version is not valid.",
            ),
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
                400,
                "SignatureDoesNotMatch",
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
        match error {
            CoreError::UserNotFound => {
                Self::new(404, "EntityNotExist.User", "The user does not exist.")
            }
            CoreError::AccessKeyNotFound | CoreError::OwnerMismatch => Self::new(
                404,
                "EntityNotExist.User.AccessKey",
                "The AccessKey does not exist.",
            ),
            CoreError::AccessKeyQuotaExceeded { limit } => Self::new(
                409,
                "LimitExceeded.User.AccessKey",
                format!("The count of AccessKey of the user exceeds the limit of {limit}."),
            ),
            CoreError::UserNameTaken => Self::new(
                409,
                "EntityAlreadyExists.User",
                "The user name already exists.",
            ),
            CoreError::ApiKeyNotFound => Self::new(
                404,
                "EntityNotExist",
                "The specified resource does not exist.",
            ),
            CoreError::ApiKeyLimitExceeded { limit } => Self::new(
                409,
                "LimitExceeded",
                format!("The count of the resource exceeds the limit of {limit}."),
            ),
            CoreError::ApiKeyAlreadyExists => Self::new(
                409,
                "EntityAlreadyExists",
                "The specified resource already exists.",
            ),
            CoreError::SubUserActingOnRoot | CoreError::Unauthorized { .. } => {
                Self::new(403, "NoPermission", NO_PERMISSION_MESSAGE)
            }
            CoreError::AccessDenied(denied) => Self::access_denied(denied, "NoPermission"),
            CoreError::UserHasAccessKeys => Self::new(
                409,
                "DeleteConflict.User.AccessKey",
                "The user CAN NOT has any access key while deleting the user.",
            ),
            CoreError::UserHasPolicies => Self::new(
                409,
                "DeleteConflict.User.Policy",
                "The user CAN NOT has any attached policy while deleting the user.",
            ),
            CoreError::RootUserUndeletable => {
                Self::new(404, "EntityNotExist.User", "The user does not exist.")
            }
            CoreError::PolicyNotFound => {
                Self::new(404, "EntityNotExist.Policy", "The policy does not exist.")
            }
            CoreError::PolicyNameTaken => Self::new(
                409,
                "EntityAlreadyExists.Policy",
                "The policy does already EXIST.",
            ),
            CoreError::PolicyLimitExceeded { limit } => Self::new(
                409,
                "LimitExceeded.Policy",
                format!("The count of policy beyond the current limit of {limit}."),
            ),
            CoreError::PolicyAlreadyAttached => Self::new(
                409,
                "EntityAlreadyExists.User.Policy",
                "The user has already been attached this policy.",
            ),
            CoreError::PolicyInUse => Self::new(
                409,
                "DeleteConflict.Policy.User",
                "The policy CAN NOT been attached to any user while deleting the policy.",
            ),
            CoreError::PolicyNotAttached => Self::new(
                404,
                "EntityNotExist.User.Policy",
                "The indicate policy of the user does not exist.",
            ),
            CoreError::AttachmentLimitExceeded { limit } => Self::new(
                409,
                "LimitExceeded.User.Policy",
                format!(
                    "The policy count of the user attached policies beyond the current limit of {limit}."
                ),
            ),
            CoreError::MalformedPolicyDocument { reason } => {
                Self::new(400, "MalformedPolicyDocument", reason.clone())
            }
            CoreError::InvalidFormat {
                parameter,
                expected,
            } => Self::invalid_parameter(parameter, &format!("it must be {expected}.")),
            CoreError::InvalidValue { parameter, reason } => {
                Self::invalid_parameter(parameter, &format!("it {reason}."))
            }
            CoreError::MissingValue { parameter } => Self::missing_parameter(parameter),
            CoreError::UnsupportedOperation { reason } => {
                Self::new(400, "OperationDenied", reason.clone())
            }
            CoreError::RateLimited { .. } => Self::new(
                400,
                "Throttling.User",
                "Request was denied due to user flow control.",
            ),
            CoreError::AuthenticationThrottled => Self::new(
                400,
                "Throttling",
                "Request was denied due to flow control: too many requests from this address \
                 failed authentication.",
            ),
            CoreError::ActivationCodeNotFound => Self::new(
                404,
                "InvalidAccessTokenId.NotFound",
                "The specified AccessTokenId does not exist.",
            ),
            CoreError::ActivationCodeInvalid => Self::new(
                401,
                "InvalidAccessToken",
                "The access token id or code is not valid.",
            ),
            CoreError::ActivationCodeExpired => {
                Self::new(403, "AccessToken.Expired", "The access token has expired.")
            }
            CoreError::ActivationCodeDisabled => Self::new(
                403,
                "AccessToken.Disabled",
                "The access token has been disabled.",
            ),
            CoreError::ActivationCodeExhausted => Self::new(
                409,
                "AccessToken.Exhausted",
                "Every use of the access token has been taken.",
            ),
            CoreError::EasServiceNotFound => Self::new(
                404,
                "InvalidService.NotFound",
                "The specified service does not exist in the cluster.",
            ),
            CoreError::EasInstanceNotFound => Self::new(
                404,
                "InvalidInstance.NotFound",
                "The specified instance does not exist in the service.",
            ),
            CoreError::EasWorkerNotFound => Self::new(
                404,
                "InvalidWorker.NotFound",
                "The specified worker does not exist in the instance.",
            ),
            CoreError::EasServiceAlreadyExists => Self::new(
                409,
                "EntityAlreadyExists.Service",
                "A service with this name already exists in the cluster.",
            ),
            CoreError::EasInstanceAlreadyExists => Self::new(
                409,
                "EntityAlreadyExists.Instance",
                "An instance with this name already exists in the service.",
            ),
            CoreError::InstanceTokenInvalid => Self::new(
                401,
                "InvalidInstanceToken",
                "The instance token is not valid.",
            ),
            CoreError::InstanceTokenUsed => Self::new(
                403,
                "InstanceToken.AlreadyUsed",
                "The instance token has already been used; request a new one.",
            ),
            CoreError::InstanceTokenExpired => Self::new(
                403,
                "InstanceToken.Expired",
                "The instance token has expired; request a new one.",
            ),
            CoreError::InstanceTokenRevoked => Self::new(
                403,
                "InstanceToken.Revoked",
                "The access key that asked for the instance token is no longer active.",
            ),
            CoreError::AlreadyInitialized | CoreError::NotInitialized | CoreError::Internal => {
                Self::internal()
            }
        }
    }
}

impl keyplane_engine::WireError for AliyunError {
    fn code(&self) -> &'static str {
        self.code
    }

    fn after_proof(&self) -> bool {
        AliyunError::after_proof(self)
    }
}
