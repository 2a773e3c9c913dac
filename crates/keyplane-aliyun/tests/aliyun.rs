//! The Alibaba dialect's pure parts: the HTTP status of every error code (pinned here, so a
//! change is deliberate), the mapping of every core and signature failure, which requests are
//! recognised as Alibaba's, the JSON and XML shapes of answers, and EAS's pure parts: public
//! base URLs and the token URLs made on them, the `…/token` path and the `token` parameter.

mod aliyun {
    mod fuzz_regressions;
}

use keyplane_aliyun::envelope::{self, Headers, RequestView};
use keyplane_aliyun::render::{self, Format};
use keyplane_aliyun::AliyunError;
use keyplane_core::{CoreError, Field, Violation};
use keyplane_crypto::aliyun::AliyunSignatureError;
use serde_json::{json, Map, Value};

fn pinned(error: AliyunError, status: u16, code: &str) {
    assert_eq!(
        (error.status(), error.code.code()),
        (status, code),
        "{}",
        error.message
    );
    assert!(!error.message.is_empty());
}

#[test]
fn every_core_failure_has_its_documented_code_and_status() {
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
            CoreError::invalid(Field::UserName, Violation::Format),
            400,
            "InvalidParameter",
        ),
        (
            CoreError::invalid(
                Field::ActivationCodeCount,
                Violation::OutOfRange {
                    minimum: 1,
                    maximum: 1000,
                },
            ),
            400,
            "InvalidParameter",
        ),
        (
            CoreError::invalid(Field::UserName, Violation::Missing),
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
        (CoreError::AuthenticationThrottled, 400, "Throttling"),
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
        (
            CoreError::EasServiceNotFound,
            404,
            "InvalidService.NotFound",
        ),
        (
            CoreError::EasInstanceNotFound,
            404,
            "InvalidInstance.NotFound",
        ),
        (CoreError::EasWorkerNotFound, 404, "InvalidWorker.NotFound"),
        (
            CoreError::EasServiceAlreadyExists,
            409,
            "EntityAlreadyExists.Service",
        ),
        (
            CoreError::EasInstanceAlreadyExists,
            409,
            "EntityAlreadyExists.Instance",
        ),
        (CoreError::InstanceTokenInvalid, 401, "InvalidInstanceToken"),
        (
            CoreError::InstanceTokenUsed,
            403,
            "InstanceToken.AlreadyUsed",
        ),
        (
            CoreError::InstanceTokenExpired,
            403,
            "InstanceToken.Expired",
        ),
        (CoreError::AlreadyInitialized, 500, "InternalError"),
        (CoreError::NotInitialized, 500, "InternalError"),
        (CoreError::Internal, 500, "InternalError"),
    ] {
        pinned(AliyunError::from_core(&error), status, code);
    }
    let named = AliyunError::from_core(&CoreError::invalid(
        Field::ActivationCodeLifetime,
        Violation::OutOfRange {
            minimum: 1,
            maximum: 90,
        },
    ));
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
) -> RequestView<'a> {
    RequestView {
        method: "POST",
        path: "/",
        raw_query,
        headers: Headers::new(headers),
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

#[test]
fn public_urls_make_http_and_websocket_urls_on_one_base() {
    use keyplane_aliyun::eas::{PublicUrlError, PublicUrls};
    use keyplane_core::model::InstanceTokenPurpose;
    for (base, normalised, websocket) in [
        (
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080",
            "ws://127.0.0.1:8080",
        ),
        (
            "HTTPS://kp.example/",
            "https://kp.example",
            "wss://kp.example",
        ),
        (
            "https://kp.example:8443/a/b//",
            "https://kp.example:8443/a/b",
            "wss://kp.example:8443/a/b",
        ),
        ("http://[::1]:9000", "http://[::1]:9000", "ws://[::1]:9000"),
    ] {
        let urls = PublicUrls::new(base).unwrap();
        assert_eq!(urls.base(), normalised);
        assert_eq!(
            urls.url(InstanceTokenPurpose::Workbench, "t0-_K"),
            format!("{normalised}/eas/workbench?token=t0-_K")
        );
        assert_eq!(
            urls.url(InstanceTokenPurpose::Terminal, "t0-_K"),
            format!("{websocket}/eas/v1/terminal?token=t0-_K")
        );
        assert_eq!(
            urls.url(InstanceTokenPurpose::Streamlog, "a b"),
            format!("{websocket}/eas/v1/streamlog?token=a%20b")
        );
    }
    for (base, error) in [
        ("ftp://kp.example", PublicUrlError::UnsupportedScheme),
        ("kp.example:8080", PublicUrlError::UnsupportedScheme),
        ("ws://kp.example", PublicUrlError::UnsupportedScheme),
        ("http://", PublicUrlError::MissingHost),
        ("https:///path", PublicUrlError::MissingHost),
        ("http://:8080", PublicUrlError::MissingHost),
        ("http://kp.example/?a=b", PublicUrlError::UnexpectedPart),
        ("http://kp.example#top", PublicUrlError::UnexpectedPart),
        ("http://user@kp.example", PublicUrlError::UnexpectedPart),
        ("http://kp example", PublicUrlError::InvalidCharacter),
        ("http://kp.example\n", PublicUrlError::InvalidCharacter),
    ] {
        assert_eq!(PublicUrls::new(base), Err(error), "{base:?}");
    }
}

#[test]
fn token_paths_are_recognised_and_decoded() {
    use keyplane_aliyun::eas::{is_eas_path, parse_token_path, token_from_query, TokenPath};
    let path = |cluster: &str, service: &str, instance: &str| TokenPath {
        cluster: cluster.to_owned(),
        service: service.to_owned(),
        instance: instance.to_owned(),
    };
    assert_eq!(
        parse_token_path("/api/v2/services/cn-hangzhou/my_service/instances/my-1/token"),
        Ok(Some(path("cn-hangzhou", "my_service", "my-1")))
    );
    assert_eq!(
        parse_token_path("/api/v2/services/cn%2Dhangzhou/my%5Fservice/instances/a%20b/token"),
        Ok(Some(path("cn-hangzhou", "my_service", "a b")))
    );
    for other in [
        "/",
        "/api/v2/services/",
        "/api/v2/services/c/s",
        "/api/v2/services/c/s/instances/i",
        "/api/v2/services/c/s/instances/i/token/",
        "/api/v2/services/c/s/instance/i/token",
        "/api/v2/services//s/instances/i/token",
        "/api/v2/services/c/s/instances//token",
        "/api/v1/services/c/s/instances/i/token",
    ] {
        assert_eq!(parse_token_path(other), Ok(None), "{other}");
    }
    let invalid = parse_token_path("/api/v2/services/c/%FF/instances/i/token").unwrap_err();
    assert_eq!(
        (invalid.status(), invalid.code.code()),
        (400, "InvalidParameter")
    );
    assert!(invalid.message.contains("ServiceName"));
    assert!(is_eas_path("/api/v2/services/anything"));
    assert!(!is_eas_path("/api/v2/service"));
    assert!(!is_eas_path("/"));
    assert_eq!(
        token_from_query("a=1&token=abc-_9&token=second"),
        Some("abc-_9".to_owned())
    );
    assert_eq!(token_from_query("tokens=x"), None);
}
