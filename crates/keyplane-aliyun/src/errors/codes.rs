//! The closed table of every code the Alibaba dialect sends — RPC (IMS, RAM, SMC), the PAI-EAS
//! ROA operation, the SMC agent's registration, and the terminal gateway's token redemption
//! and sessions — each with its HTTP status and default message. No code string is written
//! anywhere else: an [`AliyunError`](super::AliyunError) can only be made from a member.

keyplane_engine::code_table! {
    /// Every Alibaba wire code Keyplane sends.
    pub enum AliyunCode {
        // The request and its envelope.
        MissingParameter => ("MissingParameter", 400, "A required parameter is mandatory for this action."),
        InvalidParameter => ("InvalidParameter", 400, "Specified parameter is not valid."),
        InvalidActionNotFound => ("InvalidAction.NotFound", 404, "Specified api is not found, please check your url and method."),
        InvalidVersion => ("InvalidVersion", 400, "Specified parameter Version is not valid."),
        UnsupportedHttpMethod => ("UnsupportedHTTPMethod", 400, "The HTTP method is not supported for this API."),
        RequestEntityTooLarge => ("RequestEntityTooLarge", 413, "The request body is too large."),
        InternalError => ("InternalError", 500, "The request processing has failed due to some unknown error, exception or failure."),
        // Authentication.
        InvalidAccessKeyIdNotFound => ("InvalidAccessKeyId.NotFound", 404, "Specified access key is not found."),
        InvalidAccessKeyIdInactive => ("InvalidAccessKeyId.Inactive", 400, "Specified access key is disabled."),
        SignatureNonceUsed => ("SignatureNonceUsed", 400, "Specified signature nonce was used already."),
        InvalidSecurityTokenMismatchWithAccessKey => ("InvalidSecurityToken.MismatchWithAccessKey", 400, "Specified SecurityToken mismatch with the AccessKey."),
        IncompleteSignature => ("IncompleteSignature", 400, "The request signature does not conform to Aliyun standards."),
        InvalidTimeStampFormat => ("InvalidTimeStamp.Format", 400, "Specified time stamp or date value is not well formatted."),
        InvalidTimeStampExpired => ("InvalidTimeStamp.Expired", 400, "Specified time stamp or date value is expired."),
        InvalidSignatureMethod => ("InvalidSignatureMethod", 400, "Specified signature method is not valid."),
        InvalidSignatureVersion => ("InvalidSignatureVersion", 400, "Specified signature version is not valid."),
        SignatureDoesNotMatch => ("SignatureDoesNotMatch", 400, "Specified signature is not matched with our calculation."),
        // Throttling.
        ThrottlingUser => ("Throttling.User", 400, "Request was denied due to user flow control."),
        Throttling => ("Throttling", 400, "Request was denied due to flow control: too many requests from this address failed authentication."),
        // Authorization.
        NoPermission => ("NoPermission", 403, "You are not authorized to do this action. You should be authorized by RAM."),
        ForbiddenRam => ("Forbidden.RAM", 403, "You are not authorized to do this action. You should be authorized by RAM."),
        OperationDenied => ("OperationDenied", 400, "The operation is not supported."),
        // IMS users and access keys.
        EntityNotExistUser => ("EntityNotExist.User", 404, "The user does not exist."),
        EntityNotExistUserAccessKey => ("EntityNotExist.User.AccessKey", 404, "The AccessKey does not exist."),
        LimitExceededUserAccessKey => ("LimitExceeded.User.AccessKey", 409, "The count of AccessKey of the user exceeds the limit."),
        EntityAlreadyExistsUser => ("EntityAlreadyExists.User", 409, "The user name already exists."),
        DeleteConflictUserAccessKey => ("DeleteConflict.User.AccessKey", 409, "The user CAN NOT has any access key while deleting the user."),
        DeleteConflictUserPolicy => ("DeleteConflict.User.Policy", 409, "The user CAN NOT has any attached policy while deleting the user."),
        InvalidParameterUserPrincipalNameFormat => ("InvalidParameter.UserPrincipalName.Format", 400, "The format of the parameter - \"UserPrincipalName\" is incorrect: it must be <name>@<account id>.onaliyun.com."),
        InvalidParameterUserNameLength => ("InvalidParameter.UserName.Length", 400, "The parameter - \"UserName\" beyond the length limit."),
        InvalidParameterUserNameInvalidChars => ("InvalidParameter.UserName.InvalidChars", 400, "The parameter - \"UserName\" contains invalid chars."),
        InvalidParameterDisplayNameLength => ("InvalidParameter.DisplayName.Length", 400, "The parameter - \"DisplayName\" beyond the length limit."),
        InvalidParameterCommentsLength => ("InvalidParameter.Comments.Length", 400, "The parameter - \"Comments\" beyond the length limit."),
        InvalidParameterEmailFormat => ("InvalidParameter.Email.Format", 400, "The format of the parameter - \"Email\" is incorrect."),
        InvalidParameterMobilePhoneFormat => ("InvalidParameter.MobilePhone.Format", 400, "The format of the parameter - \"MobilePhone\" is incorrect: it must be <country code>-<number>."),
        // API keys (no Alibaba product serves them; the table maps every core failure).
        EntityNotExist => ("EntityNotExist", 404, "The specified resource does not exist."),
        LimitExceeded => ("LimitExceeded", 409, "The count of the resource exceeds the limit."),
        EntityAlreadyExists => ("EntityAlreadyExists", 409, "The specified resource already exists."),
        // RAM policies.
        EntityNotExistPolicy => ("EntityNotExist.Policy", 404, "The policy does not exist."),
        EntityAlreadyExistsPolicy => ("EntityAlreadyExists.Policy", 409, "The policy does already EXIST."),
        LimitExceededPolicy => ("LimitExceeded.Policy", 409, "The count of policy beyond the current limit."),
        EntityAlreadyExistsUserPolicy => ("EntityAlreadyExists.User.Policy", 409, "The user has already been attached this policy."),
        DeleteConflictPolicyUser => ("DeleteConflict.Policy.User", 409, "The policy CAN NOT been attached to any user while deleting the policy."),
        EntityNotExistUserPolicy => ("EntityNotExist.User.Policy", 404, "The indicate policy of the user does not exist."),
        LimitExceededUserPolicy => ("LimitExceeded.User.Policy", 409, "The policy count of the user attached policies beyond the current limit."),
        MalformedPolicyDocument => ("MalformedPolicyDocument", 400, "The policy document is malformed."),
        InvalidParameterPolicyType => ("InvalidParameter.PolicyType", 400, "The parameter - \"PolicyType\" is incorrect."),
        InvalidParameterPolicyNameLength => ("InvalidParameter.PolicyName.Length", 400, "The parameter - \"PolicyName\" beyond the length limit."),
        InvalidParameterPolicyNameInvalidChars => ("InvalidParameter.PolicyName.InvalidChars", 400, "The parameter - \"PolicyName\" contains invalid chars."),
        InvalidParameterPolicyDocumentLength => ("InvalidParameter.PolicyDocument.Length", 400, "The parameter - \"PolicyDocument\" beyond the length limit."),
        InvalidParameterDescriptionLength => ("InvalidParameter.Description.Length", 400, "The parameter - \"Description\" beyond the length limit."),
        // SMC activation codes and the agent's registration.
        InvalidAccessTokenIdNotFound => ("InvalidAccessTokenId.NotFound", 404, "The specified AccessTokenId does not exist."),
        InvalidAccessToken => ("InvalidAccessToken", 401, "The access token id or code is not valid."),
        AccessTokenExpired => ("AccessToken.Expired", 403, "The access token has expired."),
        AccessTokenDisabled => ("AccessToken.Disabled", 403, "The access token has been disabled."),
        AccessTokenExhausted => ("AccessToken.Exhausted", 409, "Every use of the access token has been taken."),
        // PAI-EAS services, instances, workers and instance tokens.
        InvalidServiceNotFound => ("InvalidService.NotFound", 404, "The specified service does not exist in the cluster."),
        InvalidInstanceNotFound => ("InvalidInstance.NotFound", 404, "The specified instance does not exist in the service."),
        InvalidWorkerNotFound => ("InvalidWorker.NotFound", 404, "The specified worker does not exist in the instance."),
        EntityAlreadyExistsService => ("EntityAlreadyExists.Service", 409, "A service with this name already exists in the cluster."),
        EntityAlreadyExistsInstance => ("EntityAlreadyExists.Instance", 409, "An instance with this name already exists in the service."),
        InvalidInstanceToken => ("InvalidInstanceToken", 401, "The instance token is not valid."),
        InstanceTokenAlreadyUsed => ("InstanceToken.AlreadyUsed", 403, "The instance token has already been used; request a new one."),
        InstanceTokenExpired => ("InstanceToken.Expired", 403, "The instance token has expired; request a new one."),
        InstanceTokenRevoked => ("InstanceToken.Revoked", 403, "The access key that asked for the instance token is no longer active."),
        // The terminal gateway's sessions.
        ThrottlingSessions => ("Throttling.Sessions", 503, "Too many terminal sessions are open; try again later."),
        InvalidWebSocketHandshake => ("InvalidWebSocketHandshake", 400, "The request is not a valid WebSocket handshake."),
        ForbiddenOrigin => ("Forbidden.Origin", 403, "The Workbench terminal accepts connections from its own page only."),
        InvalidWorkbenchSession => ("InvalidWorkbenchSession", 401, "There is no Workbench session, or it has expired: open a new Workbench URL."),
        ServiceUnavailable => ("ServiceUnavailable", 503, "The Workbench session could not be checked; try again."),
    }
}

impl AliyunCode {
    /// Whether a refusal with this code came after the request proved it held its credential
    /// (an activation code or instance token whose secret matched, refused for its state or
    /// its target): such a refusal is not a failed authentication of its source address.
    pub const fn after_proof(self) -> bool {
        matches!(
            self,
            AliyunCode::AccessTokenExpired
                | AliyunCode::AccessTokenDisabled
                | AliyunCode::AccessTokenExhausted
                | AliyunCode::InstanceTokenAlreadyUsed
                | AliyunCode::InstanceTokenExpired
                | AliyunCode::InvalidServiceNotFound
                | AliyunCode::InvalidInstanceNotFound
                | AliyunCode::InvalidWorkerNotFound
        )
    }
}

impl std::fmt::Display for AliyunCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.code())
    }
}

/// A member compares equal to its wire code, so a test can write the code it expects.
impl PartialEq<&str> for AliyunCode {
    fn eq(&self, code: &&str) -> bool {
        self.code() == *code
    }
}

impl PartialEq<str> for AliyunCode {
    fn eq(&self, code: &str) -> bool {
        self.code() == code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_declared_once_and_errors_are_never_2xx() {
        let mut codes: Vec<&str> = AliyunCode::ALL.iter().map(|member| member.code()).collect();
        codes.sort_unstable();
        let count = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), count, "a code is declared twice");
        for member in AliyunCode::ALL {
            assert!(member.status() >= 400, "{member} must not be a success");
            assert!(!member.default_message().is_empty());
        }
    }
}
