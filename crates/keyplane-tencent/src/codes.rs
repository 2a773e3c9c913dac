//! Every code the Tencent dialect sends, in one closed table: a refusal can only be built from
//! a member of [`TencentCode`]. Tencent answers every error with HTTP 200 (the code travels in
//! the body), so every status is 200. The default message is sent when the refusal has
//! nothing more specific to say.

keyplane_engine::code_table! {
    /// A wire code of the Tencent Cloud API 3.0 dialect.
    pub enum TencentCode {
        MissingParameter => ("MissingParameter", 200, "The request is missing a required parameter."),
        InvalidParameter => ("InvalidParameter", 200, "A parameter is invalid."),
        InvalidParameterValue => ("InvalidParameterValue", 200, "The value of a parameter is invalid."),
        UnknownParameter => ("UnknownParameter", 200, "The request carries a parameter the API does not have."),
        UnsupportedProtocol => ("UnsupportedProtocol", 200, "The HTTP method is not supported; use GET or POST."),
        InvalidRequest => ("InvalidRequest", 200, "multipart/form-data bodies are not accepted by this API."),
        NoSuchVersion => ("NoSuchVersion", 200, "The API version does not exist."),
        InvalidAction => ("InvalidAction", 200, "The action does not exist in this API version."),
        RequestSizeLimitExceeded => ("RequestSizeLimitExceeded", 200, "The request exceeds the size limit."),
        InternalError => ("InternalError", 200, "An internal error occurred. Please retry later."),
        InvalidAuthorization => ("AuthFailure.InvalidAuthorization", 200, "The Authorization header is invalid."),
        SecretIdNotFound => ("AuthFailure.SecretIdNotFound", 200, "The SecretId is not found, or it has been disabled or deleted."),
        SignatureFailure => ("AuthFailure.SignatureFailure", 200, "The provided credentials could not be validated. Please check your signature is correct."),
        SignatureExpire => ("AuthFailure.SignatureExpire", 200, "The signature has expired: the request timestamp is more than five minutes from the server time."),
        InvalidSecretId => ("AuthFailure.InvalidSecretId", 200, "The SecretId is not a valid Tencent Cloud API key id."),
        TokenFailure => ("AuthFailure.TokenFailure", 200, "The temporary-credential token is invalid: this service issues no temporary credentials."),
        UnauthorizedOperation => ("AuthFailure.UnauthorizedOperation", 200, "You are not authorized to perform this operation."),
        RequestLimitExceeded => ("RequestLimitExceeded", 200, "The request rate limit has been exceeded."),
        IpLimitExceeded => ("RequestLimitExceeded.IPLimitExceeded", 200, "Too many requests from this address failed authentication; retry later."),
        DescriptionLengthOverlimit => ("InvalidParameter.DescriptionLengthOverlimit", 200, "The Description is too long."),
        CamUserNotExist => ("InvalidParameter.UserNotExist", 200, "The specified user does not exist."),
        UserNotExist => ("ResourceNotFound.UserNotExist", 200, "The specified user does not exist."),
        SecretNotExist => ("ResourceNotFound.SecretNotExist", 200, "The specified access key does not exist."),
        InvalidAccessKeyId => ("ResourceNotFound.InvalidAccessKeyId", 200, "The specified API key does not exist."),
        AccessKeyOverLimit => ("OperationDenied.AccessKeyOverLimit", 200, "The account or user holds the most access keys allowed."),
        ApiKeyCountLimitExceeded => ("LimitExceeded.ApiKeyCountLimitExceeded", 200, "The account already holds the maximum number of API keys."),
        AccessKeyExist => ("FailedOperation.AccessKeyExist", 200, "An API key with this AccessKeyId already exists."),
        SubUserNameInUse => ("InvalidParameter.SubUserNameInUse", 200, "A sub-user with this name already exists."),
        UserNameIllegal => ("InvalidParameter.UserNameIllegal", 200, "The user name must be 1 to 64 letters, digits and +=,.@_- characters."),
        SubUin => ("OperationDenied.SubUin", 200, "A sub-user cannot operate on the root account's access keys."),
        UinNotMatch => ("OperationDenied.UinNotMatch", 200, "The access key does not belong to the specified user."),
        HaveKeys => ("OperationDenied.HaveKeys", 200, "There are undeleted API keys."),
        DeleteApiKeyUnauthorized => ("UnauthorizedOperation.DeleteApiKey", 200, "You are not authorized to delete the user's API keys (cam:DeleteApiKey)."),
        PolicyIdNotFound => ("ResourceNotFound.PolicyIdNotFound", 200, "The policy specified by PolicyId does not exist."),
        PolicyIdError => ("InvalidParameter.PolicyIdError", 200, "The policy is a preset policy and cannot be deleted."),
        PolicyNameError => ("InvalidParameter.PolicyNameError", 200, "The policy name must be 1 to 128 letters, digits and +=,.@_- characters."),
        PolicyNameInUse => ("FailedOperation.PolicyNameInUse", 200, "A policy with this PolicyName already exists."),
        PolicyFull => ("FailedOperation.PolicyFull", 200, "The account already holds the maximum number of custom policies."),
        AttachmentFull => ("InvalidParameter.AttachmentFull", 200, "The user has the most policies attached."),
        PolicyDocumentError => ("InvalidParameter.PolicyDocumentError", 200, "The policy document is invalid."),
        PolicyDocumentLengthOverLimit => ("InvalidParameter.PolicyDocumentLengthOverLimit", 200, "The policy document is too long."),
        FailedOperation => ("FailedOperation", 200, "The operation failed."),
        ParamError => ("InvalidParameter.ParamError", 200, "A parameter has the wrong format."),
        FormatError => ("InvalidParameter.FormatError", 200, "A parameter has the wrong format."),
        UnsupportedOperation => ("UnsupportedOperation", 200, "The operation is not supported."),
        UnsupportedUpdateApiKey => ("UnsupportedOperation.UnsupportedUpdateApiKey", 200, "The API key cannot be updated this way."),
    }
}

/// A code compares with its wire text, so a test can write `error.code == "InternalError"`.
impl PartialEq<&str> for TencentCode {
    fn eq(&self, other: &&str) -> bool {
        self.code() == *other
    }
}

impl std::fmt::Display for TencentCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.code())
    }
}
