//! The Tencent dialect's error codes and the one exhaustive table that maps every core failure
//! to them. Every error travels as HTTP 200 with `{"Response":{"Error":{"Code","Message"},
//! "RequestId"}}` (see `envelope`); messages never carry internal details.

use std::borrow::Cow;

use keyplane_core::{CoreError, Field, Violation};
use keyplane_crypto::tencent::{AuthorizationParseError, SignatureError};

/// Which product a request addressed; some core failures have product-specific codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    Cam,
    ApiGateway,
}

impl Product {
    /// The product name used in rate-limit names, audit records and the TC3 scope.
    pub fn name(self) -> &'static str {
        match self {
            Product::Cam => "cam",
            Product::ApiGateway => "apigateway",
        }
    }
}

/// The request parameter that carries `field` in CAM and API Gateway requests; `None` for
/// the fields of products this dialect does not serve (activation codes, EAS, the audit log).
fn parameter_name(field: Field) -> Option<Cow<'static, str>> {
    let name = match field {
        Field::UserName => "Name",
        Field::AccessKeyDescription => "Description",
        Field::ApiKeyName => "SecretName",
        Field::ApiKeyId => "AccessKeyId",
        Field::ApiKeySecret => "AccessKeySecret",
        Field::ApiKeyTags => "Tags",
        Field::ApiKeyTagKey { index } => return Some(format!("Tags.{index}.Key").into()),
        Field::ApiKeyTagValue { index } => return Some(format!("Tags.{index}.Value").into()),
        Field::ActivationCodeName
        | Field::ActivationCodeDescription
        | Field::ActivationCodeCount
        | Field::ActivationCodeLifetime
        | Field::SourceServerName
        | Field::SourceServerHostname
        | Field::SourceServerOperatingSystem
        | Field::SourceServerFingerprint
        | Field::EasCluster
        | Field::EasServiceName
        | Field::EasInstanceName
        | Field::EasWorkerName
        | Field::EasExecTemplate
        | Field::EasLogTemplate
        | Field::AuditRetention => return None,
    };
    Some(name.into())
}

/// An error as the client sees it: a code from Tencent's tables and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TencentError {
    pub code: &'static str,
    pub message: String,
}

impl TencentError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// `MissingParameter` naming the parameter.
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            "MissingParameter",
            format!("The request is missing a required parameter `{name}`."),
        )
    }

    /// `InvalidParameter` with a message.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new("InvalidParameter", message)
    }

    /// `InvalidParameter` for a value of the wrong type.
    pub fn invalid_type(name: &str, expected: &str) -> Self {
        Self::invalid_parameter(format!("The parameter `{name}` must be {expected}."))
    }

    /// `InvalidParameterValue` naming the parameter.
    pub fn invalid_value(name: &str, reason: &str) -> Self {
        Self::new(
            "InvalidParameterValue",
            format!("The value of parameter `{name}` is invalid: {reason}."),
        )
    }

    /// `AuthFailure.InvalidAuthorization`.
    pub fn invalid_authorization(reason: &str) -> Self {
        Self::new(
            "AuthFailure.InvalidAuthorization",
            format!("The Authorization header is invalid: {reason}."),
        )
    }

    /// `AuthFailure.SecretIdNotFound`.
    pub fn secret_id_not_found() -> Self {
        Self::new(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, or it has been disabled or deleted.",
        )
    }

    /// `AuthFailure.SignatureFailure`, in the wording of the real service.
    pub fn signature_failure() -> Self {
        Self::new(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        )
    }

    /// `UnknownParameter`: the API has no parameter of that name (the real API refuses them).
    pub fn unknown_parameter(name: &str) -> Self {
        Self::new(
            "UnknownParameter",
            format!("The parameter `{name}` is not recognized."),
        )
    }

    /// `UnsupportedProtocol`: only GET and POST are served.
    pub fn unsupported_method(method: &str) -> Self {
        Self::new(
            "UnsupportedProtocol",
            format!("The HTTP method {method} is not supported; use GET or POST."),
        )
    }

    /// `InvalidRequest`: multipart bodies, which only upload APIs take.
    pub fn multipart_not_accepted() -> Self {
        Self::new(
            "InvalidRequest",
            "multipart/form-data bodies are not accepted by this API.",
        )
    }

    /// `NoSuchVersion`.
    pub fn no_such_version(version: &str) -> Self {
        Self::new(
            "NoSuchVersion",
            format!("The API version `{version}` does not exist."),
        )
    }

    /// `InvalidAction`.
    pub fn invalid_action(action: &str) -> Self {
        Self::new(
            "InvalidAction",
            format!("The action `{action}` does not exist in this API version."),
        )
    }

    /// `AuthFailure.InvalidSecretId`: the SecretId is not a Tencent API key id at all.
    pub fn invalid_secret_id() -> Self {
        Self::new(
            "AuthFailure.InvalidSecretId",
            "The SecretId is not a valid Tencent Cloud API key id.",
        )
    }

    /// `AuthFailure.TokenFailure`: Keyplane issues no temporary credentials, so no token is valid.
    pub fn token_failure() -> Self {
        Self::new(
            "AuthFailure.TokenFailure",
            "The temporary-credential token is invalid: this service issues no temporary credentials.",
        )
    }

    /// `InvalidParameter.DescriptionLengthOverlimit` (CAM).
    pub fn description_too_long(limit: usize) -> Self {
        Self::new(
            "InvalidParameter.DescriptionLengthOverlimit",
            format!("The Description must be at most {limit} characters."),
        )
    }

    /// `RequestSizeLimitExceeded`.
    pub fn request_too_large(limit_bytes: usize) -> Self {
        Self::new(
            "RequestSizeLimitExceeded",
            format!("The request exceeds the size limit of {limit_bytes} bytes."),
        )
    }

    /// `InvalidParameter`: more parameters than a request may carry.
    pub fn too_many_parameters(limit: usize) -> Self {
        Self::invalid_parameter(format!("The request carries more than {limit} parameters."))
    }

    /// `InvalidParameter`: a parameter nested deeper than a request may go.
    pub fn nested_too_deep(name: &str, limit: usize) -> Self {
        Self::invalid_parameter(format!(
            "The parameter `{name}` is nested deeper than {limit} levels."
        ))
    }

    /// `InvalidParameter`: a v1 parameter whose name holds `&` or `=` or whose value holds
    /// `&`, which the v1 signature cannot tell from several parameters.
    pub fn ambiguous_v1_parameter(name: &str) -> Self {
        Self::invalid_parameter(format!(
            "The parameter `{name}` contains `&` (or its name `=`), which a v1 signature cannot \
             tell apart from several parameters; send it with TC3-HMAC-SHA256."
        ))
    }

    /// `AuthFailure.SignatureFailure`: the TC3 credential scope names another service than the
    /// product the request acts on, so a signature made for one product cannot act on another.
    pub fn credential_scope_mismatch(service: &str, product_service: &str) -> Self {
        Self::new(
            "AuthFailure.SignatureFailure",
            format!(
                "The credential scope names the service `{service}`, but the request acts on \
                 `{product_service}`: sign with the service of the product called."
            ),
        )
    }

    /// `AuthFailure.SignatureFailure`: `X-TC-Content-SHA256: UNSIGNED-PAYLOAD` while the
    /// operator has not allowed it.
    pub fn unsigned_payload_refused() -> Self {
        Self::new(
            "AuthFailure.SignatureFailure",
            "This server requires a signed payload: X-TC-Content-SHA256: UNSIGNED-PAYLOAD is \
             refused. Sign the request body (the default of every SDK), or ask the operator to \
             start Keyplane with --allow-unsigned-payload.",
        )
    }

    /// `AuthFailure.InvalidAuthorization`: the operator requires `x-tc-action` to be signed.
    pub fn action_not_signed() -> Self {
        Self::invalid_authorization(
            "this server requires the `x-tc-action` header to be in SignedHeaders \
             (it runs with --require-signed-action)",
        )
    }

    /// `AuthFailure.SignatureFailure`: a v1 request received before (same SecretId and
    /// signature, so the same Nonce, Timestamp and parameters) within the signature window.
    pub fn request_replayed() -> Self {
        Self::new(
            "AuthFailure.SignatureFailure",
            "This signed request was already received: a v1 request (Nonce, Timestamp and \
             Signature) can be used only once. Sign each request anew.",
        )
    }

    /// `InternalError`, with nothing internal in it.
    pub fn internal() -> Self {
        Self::new(
            "InternalError",
            "An internal error occurred. Please retry later.",
        )
    }

    /// The error for a core failure, per product. Exhaustive: a new core failure does not
    /// compile until it has a code here.
    pub fn from_core(error: &CoreError, product: Product) -> Self {
        match error {
            CoreError::UserNotFound => Self::new(
                "InvalidParameter.UserNotExist",
                "The specified user does not exist.",
            ),
            CoreError::AccessKeyNotFound => Self::new(
                "ResourceNotFound.SecretNotExist",
                "The specified access key does not exist.",
            ),
            CoreError::ApiKeyNotFound => Self::new(
                "ResourceNotFound.InvalidAccessKeyId",
                "The specified API key does not exist.",
            ),
            CoreError::AccessKeyQuotaExceeded { limit } => Self::new(
                "OperationDenied.AccessKeyOverLimit",
                format!("Each account or user may hold at most {limit} access keys."),
            ),
            CoreError::ApiKeyLimitExceeded { limit } => Self::new(
                "LimitExceeded.ApiKeyCountLimitExceeded",
                format!("The account already holds the maximum of {limit} API keys."),
            ),
            CoreError::ApiKeyAlreadyExists => Self::new(
                "FailedOperation.AccessKeyExist",
                "An API key with this AccessKeyId already exists.",
            ),
            CoreError::UserNameTaken => Self::new(
                "InvalidParameter.SubUserNameInUse",
                "A sub-user with this name already exists.",
            ),
            CoreError::SubUserActingOnRoot => Self::new(
                "OperationDenied.SubUin",
                "A sub-user cannot operate on the root account's access keys.",
            ),
            CoreError::OwnerMismatch => Self::new(
                "OperationDenied.UinNotMatch",
                "The access key does not belong to the specified user.",
            ),
            CoreError::Unauthorized { action } => Self::new(
                "AuthFailure.UnauthorizedOperation",
                format!("You are not authorized to perform operation ({action})."),
            ),
            CoreError::AccessDenied(denied) => Self::new(
                "AuthFailure.UnauthorizedOperation",
                format!(
                    "you are not authorized to perform operation ({})\nresource ({}) has no permission\n",
                    denied.action, denied.resource
                ),
            ),
            CoreError::UserHasAccessKeys => {
                Self::new("OperationDenied.HaveKeys", "There are undeleted API keys.")
            }
            CoreError::RootUserUndeletable => Self::new(
                "ResourceNotFound.UserNotExist",
                "The specified user does not exist.",
            ),
            CoreError::PolicyNotFound => Self::new(
                "ResourceNotFound.PolicyIdNotFound",
                "The policy specified by PolicyId does not exist.",
            ),
            CoreError::PolicyNameTaken => Self::new(
                "FailedOperation.PolicyNameInUse",
                "A policy with this PolicyName already exists.",
            ),
            CoreError::PolicyLimitExceeded { limit } => Self::new(
                "FailedOperation.PolicyFull",
                format!("The account already holds the maximum of {limit} custom policies."),
            ),
            CoreError::AttachmentLimitExceeded { limit } => Self::new(
                "InvalidParameter.AttachmentFull",
                format!("A user may have at most {limit} policies attached."),
            ),
            CoreError::MalformedPolicyDocument { reason } => Self::new(
                "InvalidParameter.PolicyDocumentError",
                format!("The policy document is invalid: {reason}"),
            ),
            // CAM detaches policies with the user or the policy deleted and treats attach and
            // detach as idempotent
            // (the actions map these outcomes to success before they get here).
            CoreError::UserHasPolicies
            | CoreError::PolicyAlreadyAttached
            | CoreError::PolicyNotAttached
            | CoreError::PolicyInUse => Self::new("FailedOperation", error.to_string()),
            CoreError::Invalid { field, violation } => Self::from_invalid(*field, violation, product),
            CoreError::UnsupportedOperation { reason } => match product {
                Product::ApiGateway => Self::new(
                    "UnsupportedOperation.UnsupportedUpdateApiKey",
                    reason.clone(),
                ),
                Product::Cam => Self::new("UnsupportedOperation", reason.clone()),
            },
            CoreError::RateLimited { action } => Self::new(
                "RequestLimitExceeded",
                format!("The request rate limit of {action} has been exceeded."),
            ),
            CoreError::AuthenticationThrottled => Self::new(
                "RequestLimitExceeded.IPLimitExceeded",
                "Too many requests from this address failed authentication; retry later.",
            ),
            // Activation codes are an Alibaba SMC resource: no Tencent action reaches them.
            CoreError::ActivationCodeNotFound
            | CoreError::ActivationCodeInvalid
            | CoreError::ActivationCodeExpired
            | CoreError::ActivationCodeDisabled
            | CoreError::ActivationCodeExhausted
            | CoreError::EasServiceNotFound
            | CoreError::EasInstanceNotFound
            | CoreError::EasWorkerNotFound
            | CoreError::EasServiceAlreadyExists
            | CoreError::EasInstanceAlreadyExists
            | CoreError::InstanceTokenInvalid
            | CoreError::InstanceTokenUsed
            | CoreError::InstanceTokenExpired
            | CoreError::InstanceTokenRevoked
            | CoreError::AlreadyInitialized
            | CoreError::NotInitialized
            | CoreError::Internal => Self::internal(),
        }
    }

    /// The error for a refused value: the parameter `field` travels as in this dialect, the
    /// code by product and violation, the reason in the core's words.
    fn from_invalid(field: Field, violation: &Violation, product: Product) -> Self {
        let Some(parameter) = parameter_name(field) else {
            return Self::internal();
        };
        let reason = violation.reason(field);
        match (violation, product) {
            (Violation::Missing, _) => Self::missing_parameter(&parameter),
            (Violation::Format, Product::Cam) if field == Field::UserName => Self::new(
                "InvalidParameter.UserNameIllegal",
                "The user name must be 1 to 64 letters, digits and +=,.@_- characters.",
            ),
            (Violation::Format, Product::ApiGateway) => Self::new(
                "InvalidParameter.FormatError",
                format!("The parameter `{parameter}` {reason}."),
            ),
            (Violation::Format, Product::Cam) => Self::new(
                "InvalidParameter.ParamError",
                format!("The parameter `{parameter}` {reason}."),
            ),
            _ => Self::invalid_value(&parameter, &reason),
        }
    }

    /// The error for a malformed `Authorization` header.
    pub fn from_authorization(error: &AuthorizationParseError) -> Self {
        Self::invalid_authorization(&error.to_string())
    }

    /// The error for a failed signature check. Exhaustive over the crypto crate's failures.
    pub fn from_signature(error: &SignatureError) -> Self {
        match error {
            SignatureError::Expired { .. } => Self::new(
                "AuthFailure.SignatureExpire",
                "The signature has expired: the request timestamp is more than five minutes from the server time.",
            ),
            SignatureError::TimestampInvalid => {
                Self::invalid_parameter("The request timestamp is not a valid Unix time.")
            }
            SignatureError::MissingParameter(name) => Self::missing_parameter(name),
            SignatureError::SignatureMethodUnsupported(method) => {
                Self::invalid_value("SignatureMethod", &format!("`{method}` is not supported"))
            }
            SignatureError::RequiredHeaderNotSigned(header) => {
                Self::invalid_authorization(&format!("the `{header}` header must be signed"))
            }
            SignatureError::SignedHeaderMissing(header) => Self::invalid_authorization(&format!(
                "the signed header `{header}` is not in the request"
            )),
            SignatureError::CredentialDateMismatch | SignatureError::Mismatch => {
                Self::signature_failure()
            }
        }
    }
}
