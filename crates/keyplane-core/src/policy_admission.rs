//! What a custom policy may say, beyond being well formed: checked when a policy is created
//! (through either cloud), so that no statement is silently inert or silently broader than it
//! reads.
//!
//! - **Condition keys.** Keyplane supplies exactly two condition keys to every evaluation: the
//!   source address (`acs:SourceIp` / `qcs:ip`) and the current time (`acs:CurrentTime` /
//!   `qcs:current_time`), each accepted under either cloud's name in either syntax. A
//!   condition on any other key (`acs:SecureTransport`, `acs:MFAPresent`, `qcs:mfa`, ...) could
//!   never be satisfied, so an `Allow` would never apply and, worse, a `Deny` would never
//!   apply either; such documents are refused, naming the key.
//! - **API Gateway resources are not regional.** API keys belong to the account, not to a
//!   region, so Keyplane names them `qcs::apigw::uin/{owner}:apikey/{id}` whatever region the
//!   request names (the region header is not even signed by TC3). A resource pattern for the
//!   `apigw` service that names a region (anything but an empty or `*` region segment) would
//!   match nothing and is refused, so a region-scoped `Deny` cannot be written and then
//!   bypassed by sending another region.

use keyplane_policy::{ConditionKey, Policy};

use crate::error::CoreError;

/// The most characters of a refused key or resource the error repeats.
const EXCERPT_CHARACTERS: usize = 64;

/// Refuses a parsed policy that uses a condition key Keyplane never supplies, or that names
/// a region in an API Gateway resource (`MalformedPolicyDocument`, saying which).
pub fn admit(policy: &Policy) -> Result<(), CoreError> {
    for (index, statement) in policy.statements.iter().enumerate() {
        for condition in &statement.conditions {
            if let ConditionKey::Other(name) = condition.key() {
                return Err(CoreError::MalformedPolicyDocument {
                    reason: format!(
                        "statement {index}: the condition key {} is not supported; Keyplane \
                         supplies only the source address (acs:SourceIp, qcs:ip) and the \
                         current time (acs:CurrentTime, qcs:current_time)",
                        excerpt(name)
                    ),
                });
            }
        }
        for pattern in statement.resources.patterns() {
            if names_a_regional_api_gateway_resource(pattern.as_str()) {
                return Err(CoreError::MalformedPolicyDocument {
                    reason: format!(
                        "statement {index}: the resource {} names a region, but API Gateway \
                         keys are not regional; write qcs::apigw::uin/<owner>:apikey/<id> (an \
                         empty or * region)",
                        excerpt(pattern.as_str())
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Whether `resource` is a `qcs` resource of the `apigw` service whose region segment is
/// neither empty nor `*` (`qcs::apigw:ap-guangzhou:uin/1:apikey/*`).
fn names_a_regional_api_gateway_resource(resource: &str) -> bool {
    let mut segments = resource.split(':');
    let (Some(scheme), Some(_), Some(service), Some(region)) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return false;
    };
    scheme == "qcs" && service.eq_ignore_ascii_case("apigw") && !matches!(region, "" | "*")
}

fn excerpt(text: &str) -> String {
    let mut shown: String = text.chars().take(EXCERPT_CHARACTERS).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("{shown:?}")
}

#[cfg(test)]
mod tests {
    use super::names_a_regional_api_gateway_resource;

    #[test]
    fn only_api_gateway_resources_naming_a_region_are_regional() {
        for regional in [
            "qcs::apigw:ap-guangzhou:uin/1:apikey/*",
            "qcs::apigw:ap-*:uin/1:apikey/AKID1",
            "qcs::APIGW:ap-shanghai:*",
        ] {
            assert!(
                names_a_regional_api_gateway_resource(regional),
                "{regional}"
            );
        }
        for not_regional in [
            "*",
            "qcs::apigw::uin/1:apikey/*",
            "qcs::apigw:*:uin/1:apikey/*",
            "qcs::apigw:*",
            "qcs::apigw:",
            "qcs::cam::uin/1:uin/2",
            "acs:ram::1:user/alice",
            "acs:eas:cn-hangzhou:1:service/svc",
        ] {
            assert!(
                !names_a_regional_api_gateway_resource(not_regional),
                "{not_regional}"
            );
        }
    }
}
