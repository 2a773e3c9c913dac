//! The Alibaba Cloud errors: one member of the closed code table ([`AliyunCode`], every code
//! this dialect sends — RPC, the EAS ROA operation, the agent and token endpoints, the
//! terminal gateway — with its HTTP status) and the message sent with it, and the two
//! exhaustive mappings from core failures and signature failures (`mapping`). Alibaba errors
//! are always 4xx/5xx (a 200 with a `Code` is a success to the tea SDKs), and carry
//! `RequestId`, `HostId`, `Code`, `Message` and `Recommend` (protocols.md B.7).

mod codes;
mod mapping;

use keyplane_core::error::AccessDenied;

pub use codes::AliyunCode;
pub use mapping::parameter_name;

/// One error answer: a member of the code table and its message. Messages never carry
/// internal details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliyunError {
    /// The code, which also decides the HTTP status.
    pub code: AliyunCode,
    pub message: String,
    /// For an authorization refusal, the `AccessDeniedDetail` object: which action, resource
    /// and principal.
    pub access_denied_detail: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

impl From<AliyunCode> for AliyunError {
    /// The error `code` with its default message.
    fn from(code: AliyunCode) -> Self {
        Self::new(code, code.default_message())
    }
}

impl keyplane_engine::WireError for AliyunError {
    fn code(&self) -> &'static str {
        self.code.code()
    }

    fn after_proof(&self) -> bool {
        AliyunError::after_proof(self)
    }
}

impl AliyunError {
    /// The error `code` with `message`.
    pub fn new(code: AliyunCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            access_denied_detail: None,
        }
    }

    /// The HTTP status the error is sent with.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// Whether this refusal of an activation code or instance token came after the request
    /// proved it held the credential (the secret matched; its state or target refused it):
    /// such a refusal is not a failed authentication of its source address.
    pub fn after_proof(&self) -> bool {
        self.code.after_proof()
    }

    /// An authorization refusal (403) with its `AccessDeniedDetail`: `NoPermission` from RAM
    /// itself (IMS and RAM), `Forbidden.RAM` from other products (SMC, EAS), as Alibaba does.
    /// The detail has Alibaba's fields (the principal's display name is its UID), plus
    /// `AuthResource` (what was asked on), and its `EncodedDiagnosticMessage` is the diagnosis
    /// as base64 JSON, which also names the user.
    pub fn access_denied(denied: &AccessDenied, code: AliyunCode) -> Self {
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
        let mut error = Self::from(code);
        if let serde_json::Value::Object(detail) = detail {
            error.access_denied_detail = Some(Box::new(detail));
        }
        error
    }

    /// `MissingParameter` (400): a required parameter is absent or empty.
    pub fn missing_parameter(parameter: &str) -> Self {
        Self::new(
            AliyunCode::MissingParameter,
            format!("{parameter} is mandatory for this action."),
        )
    }

    /// `InvalidParameter` (400), naming the parameter and why.
    pub fn invalid_parameter(parameter: &str, reason: &str) -> Self {
        Self::new(
            AliyunCode::InvalidParameter,
            format!("Specified parameter {parameter} is not valid: {reason}"),
        )
    }

    /// `InvalidAction.NotFound` (404).
    pub fn action_not_found() -> Self {
        Self::from(AliyunCode::InvalidActionNotFound)
    }

    /// `InvalidVersion` (400): no product is served at this version.
    pub fn invalid_version() -> Self {
        Self::from(AliyunCode::InvalidVersion)
    }

    /// `UnsupportedHTTPMethod` (400).
    pub fn unsupported_method(method: &str) -> Self {
        Self::new(
            AliyunCode::UnsupportedHttpMethod,
            format!("The HTTP method {method} is not supported for this API."),
        )
    }

    /// `InvalidAccessKeyId.NotFound` (404).
    pub fn access_key_not_found() -> Self {
        Self::from(AliyunCode::InvalidAccessKeyIdNotFound)
    }

    /// `InvalidAccessKeyId.Inactive` (400).
    pub fn access_key_inactive() -> Self {
        Self::from(AliyunCode::InvalidAccessKeyIdInactive)
    }

    /// `SignatureNonceUsed` (400).
    pub fn nonce_used() -> Self {
        Self::from(AliyunCode::SignatureNonceUsed)
    }

    /// `InvalidSecurityToken.MismatchWithAccessKey` (400): a security token came with a
    /// long-term access key (Keyplane issues no STS credentials).
    pub fn security_token_mismatch() -> Self {
        Self::from(AliyunCode::InvalidSecurityTokenMismatchWithAccessKey)
    }

    /// `IncompleteSignature` (400), with what is incomplete.
    pub fn incomplete_signature(detail: &str) -> Self {
        Self::new(
            AliyunCode::IncompleteSignature,
            format!("The request signature does not conform to Aliyun standards. {detail}"),
        )
    }

    /// `RequestEntityTooLarge` (413).
    pub fn request_too_large(limit: usize) -> Self {
        Self::new(
            AliyunCode::RequestEntityTooLarge,
            format!("The request body is larger than {limit} bytes."),
        )
    }

    /// `InvalidParameter` (400) for a body that could not be read or decoded.
    pub fn unreadable_body(reason: &str) -> Self {
        Self::new(
            AliyunCode::InvalidParameter,
            format!("The request body could not be read: {reason}"),
        )
    }

    /// `InvalidParameter` (400): more parameters than a request may carry.
    pub fn too_many_parameters(limit: usize) -> Self {
        Self::new(
            AliyunCode::InvalidParameter,
            format!("The request carries more than {limit} parameters."),
        )
    }

    /// `InternalError` (500), with nothing internal in it.
    pub fn internal() -> Self {
        Self::from(AliyunCode::InternalError)
    }
}

/// The refusal of an authorization `denial`: an access denial with `code` and its
/// `AccessDeniedDetail`, any other failure as the table maps it.
pub fn denial(denial: &keyplane_core::CoreError, code: AliyunCode) -> AliyunError {
    match denial {
        keyplane_core::CoreError::AccessDenied(denied) => AliyunError::access_denied(denied, code),
        other => AliyunError::from_core(other),
    }
}
