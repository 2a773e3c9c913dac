//! The Alibaba dialect's pure parts: the HTTP status of every error code (pinned here, so a
//! change is deliberate), the mapping of every core and signature failure, which requests are
//! recognised as Alibaba's, and the JSON and XML shapes of answers.

use keyplane_aliyun::envelope::{self, RawRequest};
use keyplane_aliyun::render::{self, Format};
use keyplane_aliyun::AliyunError;
use keyplane_core::CoreError;
use keyplane_crypto::aliyun::AliyunSignatureError;
use serde_json::{json, Map, Value};

fn pinned(error: AliyunError, status: u16, code: &str) {
    assert_eq!(
        (error.status, error.code),
        (status, code),
        "{}",
        error.message
    );
    assert!(!error.message.is_empty());
}

#[test]
fn every_core_failure_has_its_documented_code_and_status() {
    let parameter = || "Name".to_owned();
    for (error, status, code) in [
        (CoreError::UserNotFound, 404, "EntityNotExist.User"),
        (
            CoreError::AccessKeyNotFound,
            404,
            "EntityNotExist.User.AccessKey",
        ),
        (
            CoreError::OwnerMismatch,
            404,
            "EntityNotExist.User.AccessKey",
        ),
        (
            CoreError::AccessKeyQuotaExceeded { limit: 2 },
            409,
            "LimitExceeded.User.AccessKey",
        ),
        (CoreError::UserNameTaken, 409, "EntityAlreadyExists.User"),
        (CoreError::ApiKeyNotFound, 404, "EntityNotExist"),
        (
            CoreError::ApiKeyLimitExceeded { limit: 5 },
            409,
            "LimitExceeded",
        ),
        (CoreError::ApiKeyAlreadyExists, 409, "EntityAlreadyExists"),
        (CoreError::SubUserActingOnRoot, 403, "NoPermission"),
        (
            CoreError::Unauthorized {
                action: "ims:CreateAccessKey".to_owned(),
            },
            403,
            "NoPermission",
        ),
        (
            CoreError::InvalidFormat {
                parameter: parameter(),
                expected: "x".to_owned(),
            },
            400,
            "InvalidParameter",
        ),
        (
            CoreError::InvalidValue {
                parameter: parameter(),
                reason: "x".to_owned(),
            },
            400,
            "InvalidParameter",
        ),
        (
            CoreError::MissingValue {
                parameter: parameter(),
            },
            400,
            "MissingParameter",
        ),
        (
            CoreError::UnsupportedOperation {
                reason: "x".to_owned(),
            },
            400,
            "OperationDenied",
        ),
        (
            CoreError::RateLimited {
                action: "x".to_owned(),
            },
            400,
            "Throttling.User",
        ),
        (
            CoreError::ActivationCodeNotFound,
            404,
            "InvalidAccessTokenId.NotFound",
        ),
        (CoreError::ActivationCodeInvalid, 401, "InvalidAccessToken"),
        (CoreError::ActivationCodeExpired, 403, "AccessToken.Expired"),
        (
            CoreError::ActivationCodeDisabled,
            403,
            "AccessToken.Disabled",
        ),
        (
            CoreError::ActivationCodeExhausted,
            409,
            "AccessToken.Exhausted",
        ),
        (CoreError::AlreadyInitialized, 500, "InternalError"),
        (CoreError::NotInitialized, 500, "InternalError"),
        (CoreError::Internal, 500, "InternalError"),
    ] {
        pinned(AliyunError::from_core(&error), status, code);
    }
    let named = AliyunError::from_core(&CoreError::InvalidValue {
        parameter: "TimeToLiveInDays".to_owned(),
        reason: "must be from 1 to 90".to_owned(),
    });
    assert!(
        named.message.contains("TimeToLiveInDays"),
        "{}",
        named.message
    );
}

#[test]
fn every_signature_failure_has_its_documented_code_and_status() {
    for (error, code) in [
        (AliyunSignatureError::TimestampMissing, "MissingParameter"),
        (
            AliyunSignatureError::TimestampFormat,
            "InvalidTimeStamp.Format",
        ),
        (
            AliyunSignatureError::TimestampExpired { skew_seconds: 901 },
            "InvalidTimeStamp.Expired",
        ),
        (
            AliyunSignatureError::SignatureMethodUnsupported("HMAC-MD5".to_owned()),
            "InvalidSignatureMethod",
        ),
        (
            AliyunSignatureError::SignatureVersionUnsupported("2.0".to_owned()),
            "InvalidSignatureVersion",
        ),
        (
            AliyunSignatureError::MissingParameter("Signature"),
            "MissingParameter",
        ),
        (
            AliyunSignatureError::HeaderNotSigned("host".to_owned()),
            "IncompleteSignature",
        ),
        (
            AliyunSignatureError::SignedHeaderMissing("host".to_owned()),
            "IncompleteSignature",
        ),
        (
            AliyunSignatureError::ContentHashMismatch,
            "IncompleteSignature",
        ),
        (
            AliyunSignatureError::Mismatch {
                string_to_sign: "POST&%2F&x".to_owned(),
            },
            "SignatureDoesNotMatch",
        ),
    ] {
        pinned(AliyunError::from_signature(&error, "Timestamp"), 400, code);
    }
    let mismatch = AliyunError::from_signature(
        &AliyunSignatureError::Mismatch {
            string_to_sign: "POST&%2F&A%3Db".to_owned(),
        },
        "Timestamp",
    );
    assert_eq!(
        mismatch.message,
        "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&A%3Db"
    );
    pinned(
        AliyunError::access_key_not_found(),
        404,
        "InvalidAccessKeyId.NotFound",
    );
    pinned(
        AliyunError::access_key_inactive(),
        400,
        "InvalidAccessKeyId.Inactive",
    );
    pinned(AliyunError::nonce_used(), 400, "SignatureNonceUsed");
    pinned(
        AliyunError::security_token_mismatch(),
        400,
        "InvalidSecurityToken.MismatchWithAccessKey",
    );
    pinned(
        AliyunError::action_not_found(),
        404,
        "InvalidAction.NotFound",
    );
    pinned(AliyunError::invalid_version(), 400, "InvalidVersion");
    pinned(
        AliyunError::unsupported_method("PUT"),
        400,
        "UnsupportedHTTPMethod",
    );
    pinned(
        AliyunError::request_too_large(10),
        413,
        "RequestEntityTooLarge",
    );
    pinned(AliyunError::internal(), 500, "InternalError");
}

fn raw<'a>(
    headers: &'a [(&'a str, &'a str)],
    raw_query: &'a str,
    body: &'a [u8],
) -> RawRequest<'a> {
    RawRequest {
        method: "POST",
        path: "/",
        raw_query,
        headers,
        body,
    }
}

#[test]
fn alibaba_requests_are_told_apart_from_tencent_ones() {
    let form = [("content-type", "application/x-www-form-urlencoded")];
    assert!(envelope::recognizes(&raw(
        &[("x-acs-action", "CreateAccessKey")],
        "",
        b""
    )));
    assert!(envelope::recognizes(&raw(
        &[("Authorization", "ACS3-HMAC-SHA256 Credential=a")],
        "",
        b""
    )));
    assert!(envelope::recognizes(&raw(
        &[],
        "AccessKeyId=LTAI&Action=ListAccessKeys",
        b""
    )));
    assert!(envelope::recognizes(&raw(
        &form,
        "",
        b"SignatureVersion=1.0&AccessKeyId=LTAI"
    )));
    assert!(!envelope::recognizes(&raw(
        &[("X-TC-Action", "ListAccessKeys")],
        "",
        b""
    )));
    assert!(!envelope::recognizes(&raw(
        &[("Authorization", "TC3-HMAC-SHA256 Credential=a")],
        "",
        b""
    )));
    assert!(!envelope::recognizes(&raw(
        &[],
        "SecretId=AKID&Action=ListAccessKeys",
        b""
    )));
    assert!(!envelope::recognizes(&raw(
        &form,
        "",
        b"SecretId=AKID&SignatureMethod=HmacSHA1"
    )));
    assert!(!envelope::recognizes(&raw(&[], "", b"")));
    assert!(!envelope::recognizes(&raw(&form, "", &[0xff, 0xfe])));
}

#[test]
fn the_answer_format_follows_the_format_parameter_then_the_scheme() {
    let acs3 = [("Authorization", "ACS3-HMAC-SHA256 Credential=a")];
    let format_of = |headers: &[(&str, &str)], query: &str| {
        let request = raw(headers, query, b"");
        envelope::answer_format(&request, &envelope::parameters(&request).unwrap())
    };
    assert_eq!(format_of(&[], "Format=XML"), Format::Xml);
    assert_eq!(format_of(&[], "Format=xml"), Format::Xml);
    assert_eq!(format_of(&[], "Format=json"), Format::Json);
    assert_eq!(format_of(&[], "Action=X"), Format::Xml);
    assert_eq!(format_of(&acs3, ""), Format::Json);
    assert_eq!(format_of(&acs3, "Format=XML"), Format::Xml);
}

#[test]
fn list_parameters_are_read_from_index_one() {
    let request = raw(
        &[],
        "AccessTokenId.1=at-a&AccessTokenId.2=at-b&AccessTokenId.4=at-d",
        b"",
    );
    let params = envelope::parameters(&request).unwrap();
    assert_eq!(
        params.list("AccessTokenId").unwrap(),
        Some(vec!["at-a".to_owned(), "at-b".to_owned()])
    );
    assert_eq!(params.list("Other").unwrap(), None);
    let many: Vec<String> = (1..=101)
        .map(|index| format!("AccessTokenId.{index}=at"))
        .collect();
    let query = many.join("&");
    let params = envelope::parameters(&raw(&[], &query, b"")).unwrap();
    assert_eq!(
        params.list("AccessTokenId").unwrap_err().code,
        "InvalidParameter"
    );
}

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

#[test]
fn lists_are_a_wrapper_and_a_repeated_element_in_json_and_xml() {
    let answer = fields(json!({
        "AccessKeys": { "AccessKey": [
            { "AccessKeyId": "LTAI1", "Status": "Active" },
            { "AccessKeyId": "LTAI2", "Status": "Inactive" },
        ] }
    }));
    let json_body: Value = serde_json::from_slice(&render::success_body(
        Format::Json,
        "ListAccessKeys",
        answer.clone(),
        "r-1",
    ))
    .unwrap();
    assert_eq!(json_body["RequestId"], "r-1");
    assert_eq!(
        json_body["AccessKeys"]["AccessKey"][1]["AccessKeyId"],
        "LTAI2"
    );
    assert!(json_body.get("Code").is_none());
    let xml = String::from_utf8(render::success_body(
        Format::Xml,
        "ListAccessKeys",
        answer,
        "r-1",
    ))
    .unwrap();
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListAccessKeysResponse><RequestId>r-1</RequestId>\
         <AccessKeys><AccessKey><AccessKeyId>LTAI1</AccessKeyId><Status>Active</Status></AccessKey>\
         <AccessKey><AccessKeyId>LTAI2</AccessKeyId><Status>Inactive</Status></AccessKey></AccessKeys>\
         </ListAccessKeysResponse>"
    );
}

#[test]
fn errors_carry_the_five_fields_and_escape_xml() {
    let error = AliyunError::invalid_parameter("Name", "it must not contain <&>.");
    let json_body: Value = serde_json::from_slice(&render::error_body(
        Format::Json,
        &error,
        "smc.aliyuncs.com",
        "smc",
        "r-2",
    ))
    .unwrap();
    assert_eq!(json_body["RequestId"], "r-2");
    assert_eq!(json_body["HostId"], "smc.aliyuncs.com");
    assert_eq!(json_body["Code"], "InvalidParameter");
    assert!(json_body["Message"].as_str().unwrap().contains("Name"));
    assert_eq!(
        json_body["Recommend"],
        "https://api.aliyun.com/troubleshoot?q=InvalidParameter&product=smc&requestId=r-2"
    );
    let xml = String::from_utf8(render::error_body(
        Format::Xml,
        &error,
        "smc.aliyuncs.com",
        "smc",
        "r-2",
    ))
    .unwrap();
    assert!(
        xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><RequestId>r-2</RequestId>"
        ),
        "{xml}"
    );
    assert!(xml.contains("&lt;&amp;&gt;"), "{xml}");
    assert!(
        xml.contains(
            "<Recommend>https://api.aliyun.com/troubleshoot?q=InvalidParameter&amp;product=smc"
        ),
        "{xml}"
    );
}
