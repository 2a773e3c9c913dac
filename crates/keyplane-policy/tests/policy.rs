//! The policy language end to end: an evaluator table (documents, syntax, request, expected
//! outcome and deciding statement), a table of malformed documents in both syntaxes with the
//! error each must get, round trips through the stored form and both renderings, and the
//! built-in system policies.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use keyplane_policy::{
    evaluate, system_policies, system_policy, system_policy_by_cam_id, Decision, Outcome, Policy,
    PolicyError, Request, StatementRef, Syntax,
};
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2024-06-01 12:00:00 UTC);

const BASE: Request<'static> = Request {
    action: "ram:ListUsers",
    resource: "*",
    source_ip: None,
    now: NOW,
    account_id: "1234",
    uin: "200",
    user_name: "alice",
    extra_keys: &[],
};

const fn v4(a: u8, b: u8, c: u8, d: u8) -> Option<IpAddr> {
    Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
}

const fn v6(segments: [u16; 8]) -> Option<IpAddr> {
    let [a, b, c, d, e, f, g, h] = segments;
    Some(IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)))
}

use Outcome::{Allow, ExplicitDeny, ImplicitDeny};
use Syntax::{Cam, Ram};

struct Case {
    name: &'static str,
    syntax: Syntax,
    /// Documents in `syntax`; `system:<Name>` stands for a built-in policy.
    documents: &'static [&'static str],
    request: Request<'static>,
    outcome: Outcome,
    /// (policy, statement) that decided.
    matched: Option<(usize, usize)>,
}

const ALLOW_ALL: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const RAM_STAR: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:*","Resource":"*"}]}"#;
const RAM_LIST: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:List*","Resource":"*"}]}"#;
const RAM_GET_ONE: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:Get?ser","Resource":"*"}]}"#;
const RAM_MIXED_CASE: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"RAM:listusers","Resource":"*"}]}"#;
const RAM_TWO_ACTIONS: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:CreateUser","ram:DeleteUser"],"Resource":"*"}]}"#;
const RAM_ANY_USER_ALICE: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:*","Resource":"acs:ram:*:*:user/alice"}]}"#;
const RAM_EXACT_ALICE: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:*","Resource":"acs:ram::1234:user/alice"}]}"#;
const RAM_ONE_CHAR: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:*","Resource":"acs:ram::1234:user/al?ce"}]}"#;
const RAM_RESOURCE_LIST: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:*","Resource":["acs:ram::1234:user/bob","acs:ram::1234:group/*"]}]}"#;
const CAM_UIN_STAR: &str = r#"{"version":"2.0","statement":[{"effect":"allow","action":"cam:*","resource":"qcs::cam::uin/100:uin/*"}]}"#;
const CAM_LEGACY_NAME: &str = r#"{"version":"2.0","statement":[{"effect":"Allow","action":["name/cam:ListAccessKeys"],"resource":"*"}]}"#;
const RAM_ALLOW_THEN_DENY: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:*","Resource":"*"},{"Effect":"Deny","Action":"ram:DeleteUser","Resource":"*"}]}"#;
const RAM_DENY_DELETE: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"ram:Delete*","Resource":"*"}]}"#;
const RAM_DENY_BOB: &str = r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"*","Resource":"acs:ram::1234:user/bob"}]}"#;
const CAM_DENY_ALL_CAM: &str =
    r#"{"version":"2.0","statement":[{"effect":"deny","action":"cam:*","resource":"*"}]}"#;
const CAM_ALLOW_ALL: &str =
    r#"{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*"}]}"#;
const RAM_NOT_ACTION: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","NotAction":"ram:Delete*","Resource":"*"}]}"#;
const RAM_NOT_RESOURCE_DENY: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","NotResource":"acs:ram::1234:user/alice"}]}"#;
const CAM_NOT_ACTION: &str = r#"{"version":"2.0","statement":[{"effect":"allow","not_action":["cam:Delete*","cam:Create*"],"resource":"*"}]}"#;
const RAM_IP_V4: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}]}"#;
const RAM_IP_SINGLE: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":["192.168.1.5"]}}}]}"#;
const RAM_IP_V6: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"2001:db8::/32"}}}]}"#;
const RAM_IP_TWO: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}}]}"#;
const RAM_IP_ANY: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"0.0.0.0/0"}}}]}"#;
const RAM_DENY_OUTSIDE: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}]}"#;
const CAM_IP: &str = r#"{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*","condition":{"ip_equal":{"qcs:ip":["172.16.0.0/12"]}}}]}"#;
const CAM_IP_NOT_V6: &str = r#"{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*","condition":{"ip_not_equal":{"qcs:ip":"fd00::/8"}}}]}"#;
const RAM_BEFORE: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"2024-06-01T12:00:00Z"}}}]}"#;
const RAM_BEFORE_OR_AT: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThanEquals":{"acs:CurrentTime":"2024-06-01T12:00:00Z"}}}]}"#;
const RAM_AFTER_OFFSET: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"acs:CurrentTime":"2024-06-01T20:00:00+08:00"}}}]}"#;
const RAM_EQUALS_OFFSET: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateEquals":{"acs:CurrentTime":"2024-06-01T20:00:00+08:00"}}}]}"#;
const RAM_NOT_EQUALS: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateNotEquals":{"acs:CurrentTime":"2024-06-01T12:00:00Z"}}}]}"#;
const CAM_FROM: &str = r#"{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*","condition":{"date_greater_than_equal":{"qcs:current_time":"2024-06-01T12:00:00Z"}}}]}"#;
const RAM_WINDOW: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"acs:CurrentTime":"2024-06-01T09:00:00Z"},"DateLessThan":{"acs:CurrentTime":"2024-06-01T17:00:00Z"}}}]}"#;
const RAM_REGION: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"acs:Region":["cn-hangzhou","cn-beijing"]}}}]}"#;
const RAM_NOT_REGION: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"acs:Region":"cn-hangzhou"}}}]}"#;
const RAM_REGION_IGNORE_CASE: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualsIgnoreCase":{"acs:Region":"CN-HANGZHOU"}}}]}"#;
const RAM_REGION_LIKE: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"acs:Region":"cn-*"}}}]}"#;
const RAM_REGION_NOT_LIKE: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringNotLike":{"acs:Region":"us-*"}}}]}"#;
const RAM_SECURE: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":"true"}}}]}"#;
const CAM_MFA: &str = r#"{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*","condition":{"bool_equal":{"qcs:mfa":true}}}]}"#;
const RAM_IP_AND_REGION: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"},"StringEquals":{"acs:Region":"cn-hangzhou"}}}]}"#;
const RAM_TWO_KEYS: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"acs:Region":"cn-hangzhou","acs:Tag":"prod"}}}]}"#;
const CAM_STRING: &str = r#"{"version":"2.0","statement":[{"effect":"allow","action":"cam:*","resource":"*","condition":{"string_equal":{"qcs:region":"ap-guangzhou"}}}]}"#;
const RAM_OWN_USER: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:*AccessKey*","Resource":"acs:ram::${AccountId}:user/${UserName}"}]}"#;

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Actions.
    Case { name: "ram:* allows a RAM action", syntax: Ram, documents: &[RAM_STAR], request: Request { action: "ram:CreateUser", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "ram:* does not reach another service", syntax: Ram, documents: &[RAM_STAR], request: Request { action: "cam:ListUsers", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "ram:* does not match a longer service name", syntax: Ram, documents: &[RAM_STAR], request: Request { action: "rams:ListUsers", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "ram:List* allows ListUsers", syntax: Ram, documents: &[RAM_LIST], request: Request { action: "ram:ListUsers", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "ram:List* refuses GetUser", syntax: Ram, documents: &[RAM_LIST], request: Request { action: "ram:GetUser", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "ram:List* matches an empty run", syntax: Ram, documents: &[RAM_LIST], request: Request { action: "ram:List", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "* allows anything", syntax: Ram, documents: &[ALLOW_ALL], request: Request { action: "ecs:DescribeInstances", resource: "acs:ecs:cn-hangzhou:1234:instance/i-1", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "? matches one character", syntax: Ram, documents: &[RAM_GET_ONE], request: Request { action: "ram:GetUser", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "? matches exactly one character", syntax: Ram, documents: &[RAM_GET_ONE], request: Request { action: "ram:GetUUser", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "? does not match nothing", syntax: Ram, documents: &[RAM_GET_ONE], request: Request { action: "ram:Getser", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "action patterns ignore case", syntax: Ram, documents: &[RAM_MIXED_CASE], request: Request { action: "ram:ListUsers", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "request actions ignore case", syntax: Ram, documents: &[RAM_LIST], request: Request { action: "RAM:LISTUSERS", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "second action of a list", syntax: Ram, documents: &[RAM_TWO_ACTIONS], request: Request { action: "ram:DeleteUser", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "action not in the list", syntax: Ram, documents: &[RAM_TWO_ACTIONS], request: Request { action: "ram:UpdateUser", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "CAM legacy name/ prefix is dropped", syntax: Cam, documents: &[CAM_LEGACY_NAME], request: Request { action: "cam:ListAccessKeys", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    // Resources.
    Case { name: "RAM resource wildcards match empty region and account", syntax: Ram, documents: &[RAM_ANY_USER_ALICE], request: Request { resource: "acs:ram::1234:user/alice", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "RAM resource wildcards do not match another user", syntax: Ram, documents: &[RAM_ANY_USER_ALICE], request: Request { resource: "acs:ram::1234:user/bob", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "RAM resource wildcards need the whole name", syntax: Ram, documents: &[RAM_ANY_USER_ALICE], request: Request { resource: "acs:ram::1234:user/alice2", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "exact resource", syntax: Ram, documents: &[RAM_EXACT_ALICE], request: Request { resource: "acs:ram::1234:user/alice", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "resources are case-sensitive", syntax: Ram, documents: &[RAM_EXACT_ALICE], request: Request { resource: "acs:ram::1234:user/Alice", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "? in a resource", syntax: Ram, documents: &[RAM_ONE_CHAR], request: Request { resource: "acs:ram::1234:user/alxce", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "? in a resource needs a character", syntax: Ram, documents: &[RAM_ONE_CHAR], request: Request { resource: "acs:ram::1234:user/alce", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "? matches one multibyte character", syntax: Ram, documents: &[RAM_ONE_CHAR], request: Request { resource: "acs:ram::1234:user/alíce", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "second resource of a list", syntax: Ram, documents: &[RAM_RESOURCE_LIST], request: Request { resource: "acs:ram::1234:group/admins", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "CAM uin wildcard", syntax: Cam, documents: &[CAM_UIN_STAR], request: Request { action: "cam:ListAccessKeys", resource: "qcs::cam::uin/100:uin/200", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "CAM uin wildcard, other owner", syntax: Cam, documents: &[CAM_UIN_STAR], request: Request { action: "cam:ListAccessKeys", resource: "qcs::cam::uin/101:uin/200", ..BASE }, outcome: ImplicitDeny, matched: None },
    // Deny over allow.
    Case { name: "deny in the same policy wins", syntax: Ram, documents: &[RAM_ALLOW_THEN_DENY], request: Request { action: "ram:DeleteUser", ..BASE }, outcome: ExplicitDeny, matched: Some((0, 1)) },
    Case { name: "allow where the deny does not apply", syntax: Ram, documents: &[RAM_ALLOW_THEN_DENY], request: Request { action: "ram:ListUsers", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "deny in a later policy wins", syntax: Ram, documents: &[ALLOW_ALL, RAM_DENY_DELETE], request: Request { action: "ram:DeleteGroup", ..BASE }, outcome: ExplicitDeny, matched: Some((1, 0)) },
    Case { name: "deny on another resource does not apply", syntax: Ram, documents: &[RAM_DENY_BOB, ALLOW_ALL], request: Request { resource: "acs:ram::1234:user/alice", ..BASE }, outcome: Allow, matched: Some((1, 0)) },
    Case { name: "deny on its resource applies", syntax: Ram, documents: &[RAM_DENY_BOB, ALLOW_ALL], request: Request { resource: "acs:ram::1234:user/bob", ..BASE }, outcome: ExplicitDeny, matched: Some((0, 0)) },
    Case { name: "the first allow is reported", syntax: Ram, documents: &[RAM_LIST, ALLOW_ALL], request: BASE, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "a deny alone is not an allow", syntax: Ram, documents: &[RAM_DENY_DELETE], request: BASE, outcome: ImplicitDeny, matched: None },
    Case { name: "no policies", syntax: Ram, documents: &[], request: BASE, outcome: ImplicitDeny, matched: None },
    Case { name: "CAM deny over allow", syntax: Cam, documents: &[CAM_ALLOW_ALL, CAM_DENY_ALL_CAM], request: Request { action: "cam:CreateAccessKey", ..BASE }, outcome: ExplicitDeny, matched: Some((1, 0)) },
    Case { name: "CAM deny of another service", syntax: Cam, documents: &[CAM_DENY_ALL_CAM, CAM_ALLOW_ALL], request: Request { action: "apigateway:CreateApiKey", ..BASE }, outcome: Allow, matched: Some((1, 0)) },
    // NotAction / NotResource.
    Case { name: "NotAction allows what it does not name", syntax: Ram, documents: &[RAM_NOT_ACTION], request: Request { action: "ram:ListUsers", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "NotAction does not allow what it names", syntax: Ram, documents: &[RAM_NOT_ACTION], request: Request { action: "ram:DeleteUser", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "NotResource deny spares its resource", syntax: Ram, documents: &[RAM_NOT_RESOURCE_DENY], request: Request { resource: "acs:ram::1234:user/alice", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "NotResource deny hits other resources", syntax: Ram, documents: &[RAM_NOT_RESOURCE_DENY], request: Request { resource: "acs:ram::1234:user/bob", ..BASE }, outcome: ExplicitDeny, matched: Some((0, 1)) },
    Case { name: "CAM not_action", syntax: Cam, documents: &[CAM_NOT_ACTION], request: Request { action: "cam:CreateAccessKey", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "CAM not_action allows the rest", syntax: Cam, documents: &[CAM_NOT_ACTION], request: Request { action: "cam:ListAccessKeys", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    // IP conditions.
    Case { name: "IPv4 in CIDR", syntax: Ram, documents: &[RAM_IP_V4], request: Request { source_ip: v4(10, 1, 2, 3), ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "IPv4 outside CIDR", syntax: Ram, documents: &[RAM_IP_V4], request: Request { source_ip: v4(11, 0, 0, 1), ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "single address matches itself", syntax: Ram, documents: &[RAM_IP_SINGLE], request: Request { source_ip: v4(192, 168, 1, 5), ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "single address only itself", syntax: Ram, documents: &[RAM_IP_SINGLE], request: Request { source_ip: v4(192, 168, 1, 6), ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "IPv6 in CIDR", syntax: Ram, documents: &[RAM_IP_V6], request: Request { source_ip: v6([0x2001, 0xdb8, 1, 0, 0, 0, 0, 5]), ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "IPv6 outside CIDR", syntax: Ram, documents: &[RAM_IP_V6], request: Request { source_ip: v6([0x2001, 0xdb9, 0, 0, 0, 0, 0, 1]), ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "IPv6 never matches an IPv4 block", syntax: Ram, documents: &[RAM_IP_V4], request: Request { source_ip: v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]), ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "IPv4-mapped IPv6 is tested as IPv4", syntax: Ram, documents: &[RAM_IP_V4], request: Request { source_ip: v6([0, 0, 0, 0, 0, 0xffff, 0x0a01, 0x0203]), ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "IpAddress without a source address", syntax: Ram, documents: &[RAM_IP_V4], request: BASE, outcome: ImplicitDeny, matched: None },
    Case { name: "several blocks are alternatives", syntax: Ram, documents: &[RAM_IP_TWO], request: Request { source_ip: v4(192, 168, 3, 3), ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "/0 matches every IPv4 address", syntax: Ram, documents: &[RAM_IP_ANY], request: Request { source_ip: v4(8, 8, 8, 8), ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "NotIpAddress deny spares the network", syntax: Ram, documents: &[RAM_DENY_OUTSIDE], request: Request { source_ip: v4(10, 9, 9, 9), ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "NotIpAddress deny hits outsiders", syntax: Ram, documents: &[RAM_DENY_OUTSIDE], request: Request { source_ip: v4(8, 8, 8, 8), ..BASE }, outcome: ExplicitDeny, matched: Some((0, 1)) },
    Case { name: "NotIpAddress holds without a source address", syntax: Ram, documents: &[RAM_DENY_OUTSIDE], request: BASE, outcome: ExplicitDeny, matched: Some((0, 1)) },
    Case { name: "CAM ip_equal", syntax: Cam, documents: &[CAM_IP], request: Request { source_ip: v4(172, 31, 255, 255), ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "CAM ip_equal outside", syntax: Cam, documents: &[CAM_IP], request: Request { source_ip: v4(172, 32, 0, 0), ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "CAM ip_not_equal IPv6 inside", syntax: Cam, documents: &[CAM_IP_NOT_V6], request: Request { source_ip: v6([0xfd12, 0, 0, 0, 0, 0, 0, 1]), ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "CAM ip_not_equal IPv6 outside", syntax: Cam, documents: &[CAM_IP_NOT_V6], request: Request { source_ip: v6([0xfe80, 0, 0, 0, 0, 0, 0, 1]), ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    // Time conditions (NOW is 2024-06-01T12:00:00Z).
    Case { name: "DateLessThan is strict at the boundary", syntax: Ram, documents: &[RAM_BEFORE], request: BASE, outcome: ImplicitDeny, matched: None },
    Case { name: "DateLessThan one second before", syntax: Ram, documents: &[RAM_BEFORE], request: Request { now: datetime!(2024-06-01 11:59:59 UTC), ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "DateLessThanEquals at the boundary", syntax: Ram, documents: &[RAM_BEFORE_OR_AT], request: BASE, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "DateGreaterThan across offsets, at the boundary", syntax: Ram, documents: &[RAM_AFTER_OFFSET], request: BASE, outcome: ImplicitDeny, matched: None },
    Case { name: "DateGreaterThan across offsets, a second later", syntax: Ram, documents: &[RAM_AFTER_OFFSET], request: Request { now: datetime!(2024-06-01 12:00:01 UTC), ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "DateEquals is the same instant in another offset", syntax: Ram, documents: &[RAM_EQUALS_OFFSET], request: BASE, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "DateNotEquals at the instant", syntax: Ram, documents: &[RAM_NOT_EQUALS], request: BASE, outcome: ImplicitDeny, matched: None },
    Case { name: "DateNotEquals otherwise", syntax: Ram, documents: &[RAM_NOT_EQUALS], request: Request { now: datetime!(2024-06-01 12:00:00.001 UTC), ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "CAM date_greater_than_equal at the boundary", syntax: Cam, documents: &[CAM_FROM], request: BASE, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "CAM date_greater_than_equal before", syntax: Cam, documents: &[CAM_FROM], request: Request { now: datetime!(2024-06-01 11:59:59 UTC), ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "inside a time window (two operators AND)", syntax: Ram, documents: &[RAM_WINDOW], request: BASE, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "after a time window", syntax: Ram, documents: &[RAM_WINDOW], request: Request { now: datetime!(2024-06-01 17:30:00 UTC), ..BASE }, outcome: ImplicitDeny, matched: None },
    // String and Bool conditions.
    Case { name: "StringEquals, second value", syntax: Ram, documents: &[RAM_REGION], request: Request { extra_keys: &[("acs:Region", "cn-beijing")], ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "StringEquals, other value", syntax: Ram, documents: &[RAM_REGION], request: Request { extra_keys: &[("acs:Region", "cn-shanghai")], ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "StringEquals is case-sensitive in values", syntax: Ram, documents: &[RAM_REGION], request: Request { extra_keys: &[("acs:Region", "CN-BEIJING")], ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "StringEquals, key absent", syntax: Ram, documents: &[RAM_REGION], request: BASE, outcome: ImplicitDeny, matched: None },
    Case { name: "key names ignore case", syntax: Ram, documents: &[RAM_REGION], request: Request { extra_keys: &[("ACS:REGION", "cn-hangzhou")], ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "a key given twice matches if either does", syntax: Ram, documents: &[RAM_REGION], request: Request { extra_keys: &[("acs:Region", "x"), ("acs:Region", "cn-hangzhou")], ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "StringNotEquals, key absent holds", syntax: Ram, documents: &[RAM_NOT_REGION], request: BASE, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "StringNotEquals, the value", syntax: Ram, documents: &[RAM_NOT_REGION], request: Request { extra_keys: &[("acs:Region", "cn-hangzhou")], ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "StringEqualsIgnoreCase", syntax: Ram, documents: &[RAM_REGION_IGNORE_CASE], request: Request { extra_keys: &[("acs:Region", "cn-HangZhou")], ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "StringLike", syntax: Ram, documents: &[RAM_REGION_LIKE], request: Request { extra_keys: &[("acs:Region", "cn-shenzhen")], ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "StringLike is case-sensitive", syntax: Ram, documents: &[RAM_REGION_LIKE], request: Request { extra_keys: &[("acs:Region", "CN-shenzhen")], ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "StringNotLike", syntax: Ram, documents: &[RAM_REGION_NOT_LIKE], request: Request { extra_keys: &[("acs:Region", "us-west-1")], ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "StringNotLike, other value", syntax: Ram, documents: &[RAM_REGION_NOT_LIKE], request: Request { extra_keys: &[("acs:Region", "eu-central-1")], ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "Bool ignores case", syntax: Ram, documents: &[RAM_SECURE], request: Request { extra_keys: &[("acs:SecureTransport", "TRUE")], ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "Bool false", syntax: Ram, documents: &[RAM_SECURE], request: Request { extra_keys: &[("acs:SecureTransport", "false")], ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "Bool absent", syntax: Ram, documents: &[RAM_SECURE], request: BASE, outcome: ImplicitDeny, matched: None },
    Case { name: "CAM bool_equal from a JSON boolean", syntax: Cam, documents: &[CAM_MFA], request: Request { extra_keys: &[("qcs:mfa", "true")], ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "CAM string_equal", syntax: Cam, documents: &[CAM_STRING], request: Request { action: "cam:ListUsers", extra_keys: &[("qcs:region", "ap-guangzhou")], ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "operators AND: both hold", syntax: Ram, documents: &[RAM_IP_AND_REGION], request: Request { source_ip: v4(10, 0, 0, 1), extra_keys: &[("acs:Region", "cn-hangzhou")], ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "operators AND: one fails", syntax: Ram, documents: &[RAM_IP_AND_REGION], request: Request { source_ip: v4(10, 0, 0, 1), extra_keys: &[("acs:Region", "cn-beijing")], ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "keys AND: both hold", syntax: Ram, documents: &[RAM_TWO_KEYS], request: Request { extra_keys: &[("acs:Tag", "prod"), ("acs:Region", "cn-hangzhou")], ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "keys AND: one absent", syntax: Ram, documents: &[RAM_TWO_KEYS], request: Request { extra_keys: &[("acs:Region", "cn-hangzhou")], ..BASE }, outcome: ImplicitDeny, matched: None },
    // Variables.
    Case { name: "variables: own user", syntax: Ram, documents: &[RAM_OWN_USER], request: Request { action: "ram:CreateAccessKey", resource: "acs:ram::1234:user/alice", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "variables: another user", syntax: Ram, documents: &[RAM_OWN_USER], request: Request { action: "ram:CreateAccessKey", resource: "acs:ram::1234:user/bob", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "variables: another account", syntax: Ram, documents: &[RAM_OWN_USER], request: Request { action: "ram:CreateAccessKey", resource: "acs:ram::9999:user/alice", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "variables: an empty user name never matches", syntax: Ram, documents: &[RAM_OWN_USER], request: Request { action: "ram:CreateAccessKey", resource: "acs:ram::1234:user/", user_name: "", ..BASE }, outcome: ImplicitDeny, matched: None },
    // System policies.
    Case { name: "AdministratorAccess allows anything", syntax: Ram, documents: &["system:AdministratorAccess"], request: Request { action: "smc:CreateAccessToken", resource: "acs:smc:*:1234:*", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "ReadOnlyAccess allows Describe*", syntax: Ram, documents: &["system:ReadOnlyAccess"], request: Request { action: "apigateway:DescribeApiKeysStatus", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "ReadOnlyAccess allows Get*", syntax: Ram, documents: &["system:ReadOnlyAccess"], request: Request { action: "ram:GetAccessKeyLastUsed", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "ReadOnlyAccess refuses writes", syntax: Ram, documents: &["system:ReadOnlyAccess"], request: Request { action: "ram:CreateUser", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "ManageOwnAccessKeys: RAM, own key", syntax: Ram, documents: &["system:ManageOwnAccessKeys"], request: Request { action: "ram:DeleteAccessKey", resource: "acs:ram::1234:user/alice", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "ManageOwnAccessKeys: RAM, another user's key", syntax: Ram, documents: &["system:ManageOwnAccessKeys"], request: Request { action: "ram:DeleteAccessKey", resource: "acs:ram::1234:user/bob", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "ManageOwnAccessKeys: CAM, own key", syntax: Cam, documents: &["system:ManageOwnAccessKeys"], request: Request { action: "cam:ListAccessKeys", resource: "qcs::cam::uin/1234:uin/200", ..BASE }, outcome: Allow, matched: Some((0, 0)) },
    Case { name: "ManageOwnAccessKeys: CAM, another uin", syntax: Cam, documents: &["system:ManageOwnAccessKeys"], request: Request { action: "cam:ListAccessKeys", resource: "qcs::cam::uin/1234:uin/300", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "ManageOwnAccessKeys: not other actions", syntax: Ram, documents: &["system:ManageOwnAccessKeys"], request: Request { action: "ram:CreateUser", resource: "acs:ram::1234:user/alice", ..BASE }, outcome: ImplicitDeny, matched: None },
    Case { name: "a custom deny overrides a system policy", syntax: Ram, documents: &["system:AdministratorAccess", RAM_DENY_DELETE], request: Request { action: "ram:DeleteUser", ..BASE }, outcome: ExplicitDeny, matched: Some((1, 0)) },

];

fn load(document: &str, syntax: Syntax) -> Policy {
    if let Some(name) = document.strip_prefix("system:") {
        return system_policy(name)
            .unwrap_or_else(|| panic!("no system policy {name}"))
            .policy
            .clone();
    }
    Policy::parse(document, syntax).unwrap_or_else(|error| panic!("{document}: {error}"))
}

fn expected(case: &Case) -> Decision {
    Decision {
        outcome: case.outcome,
        matched: case
            .matched
            .map(|(policy, statement)| StatementRef { policy, statement }),
    }
}

#[test]
fn evaluator_table() {
    assert!(CASES.len() >= 40);
    let mut failures = Vec::new();
    for case in CASES {
        let policies: Vec<Policy> = case
            .documents
            .iter()
            .map(|document| load(document, case.syntax))
            .collect();
        let references: Vec<&Policy> = policies.iter().collect();
        let decision = evaluate(&references, &case.request);
        if decision != expected(case) {
            failures.push(format!("{}: got {decision:?}", case.name));
        }
        // Owned policies and Arcs are accepted too, with the same answer.
        assert_eq!(
            evaluate(&policies, &case.request),
            decision,
            "{}",
            case.name
        );
        let shared: Vec<std::sync::Arc<Policy>> =
            policies.iter().cloned().map(std::sync::Arc::new).collect();
        assert_eq!(evaluate(&shared, &case.request), decision, "{}", case.name);
        // Looking only at the statements whose action covers the request's decides the same.
        let candidates = keyplane_policy::candidates_for_action(&policies, case.request.action);
        assert_eq!(
            keyplane_policy::evaluate_candidates(&policies, &candidates, &case.request),
            decision,
            "{} (candidates)",
            case.name
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every policy of the table decides the same after a trip through the stored form and through
/// a rendering in either syntax.
#[test]
fn evaluator_table_after_round_trips() {
    for case in CASES {
        let policies: Vec<Policy> = case
            .documents
            .iter()
            .map(|document| load(document, case.syntax))
            .collect();
        for trip in ["stored", "ram", "cam"] {
            let tripped: Vec<Policy> = policies
                .iter()
                .map(|policy| match trip {
                    "stored" => Policy::from_stored(&policy.to_stored()).unwrap(),
                    "ram" => Policy::parse(&policy.render(Ram), Ram).unwrap(),
                    _ => Policy::parse(&policy.render(Cam), Cam).unwrap(),
                })
                .collect();
            assert_eq!(tripped, policies, "{} via {trip}", case.name);
            assert_eq!(
                evaluate(&tripped, &case.request),
                expected(case),
                "{} via {trip}",
                case.name
            );
        }
    }
}

/// The name of an error's variant, from its Debug form.
fn variant(error: &PolicyError) -> String {
    format!("{error:?}")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

fn statements(count: usize) -> String {
    let one = r#"{"Effect":"Allow","Action":"a:b","Resource":"*"}"#;
    let list = vec![one; count].join(",");
    format!(r#"{{"Version":"1","Statement":[{list}]}}"#)
}

#[test]
fn malformed_documents() {
    let padding = " ".repeat(6200);
    let too_long_ram = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}}]}}{padding}"#
    );
    let too_long_cam = format!(
        r#"{{"version":"2.0","statement":[{{"effect":"allow","action":"*","resource":"{}"}}]}}"#,
        "a".repeat(6200)
    );
    let ram_4100 = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"*","Resource":"{}"}}]}}"#,
        "a".repeat(4100)
    );
    assert!(Policy::parse(&ram_4100, Ram).is_ok(), "RAM allows 6144");
    assert!(
        Policy::parse(
            &ram_4100
                .replace("Version\":\"1", "version\":\"2.0")
                .to_lowercase(),
            Cam
        )
        .is_ok(),
        "CAM allows 6144"
    );
    let too_many = statements(101);
    assert!(Policy::parse(&statements(100), Ram).is_ok());
    #[rustfmt::skip]
    let rows: Vec<(Syntax, &str, &str)> = vec![
        (Ram, "not json", "NotJson"),
        (Ram, "", "NotJson"),
        (Ram, "[]", "NotObject"),
        (Ram, r#""Version""#, "NotObject"),
        (Ram, &too_long_ram, "TooLong"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Deny","Effect":"Allow","Action":"*","Resource":"*"}]}"#, "DuplicateField"),
        (Ram, r#"{"Version":"1","Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#, "DuplicateField"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]} {}"#, "NotJson"),
        (Ram, &too_many, "TooManyStatements"),
        (Ram, r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#, "MissingVersion"),
        (Ram, r#"{"Version":"2","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#, "BadVersion"),
        (Ram, r#"{"Version":1,"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#, "BadVersion"),
        (Ram, r#"{"Version":"1","Statement":[],"Id":"x"}"#, "UnknownDocumentField"),
        (Ram, r#"{"Version":"1"}"#, "MissingStatements"),
        (Ram, r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#, "StatementsNotList"),
        (Ram, r#"{"Version":"1","Statement":[]}"#, "EmptyStatements"),
        (Ram, r#"{"Version":"1","Statement":["Allow"]}"#, "StatementNotObject"),
        (Ram, r#"{"Version":"1","Statement":[{"Action":"*","Resource":"*"}]}"#, "MissingEffect"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}"#, "BadEffect"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Permit","Action":"*","Resource":"*"}]}"#, "BadEffect"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Resource":"*"}]}"#, "MissingAction"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*"}]}"#, "MissingResource"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"","Resource":"*"}]}"#, "EmptyEntry"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":["*",""]}]}"#, "EmptyEntry"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}"#, "EmptyList"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":5,"Resource":"*"}]}"#, "NotStringOrList"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":[null]}]}"#, "NotStringOrList"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"CreateUser","Resource":"*"}]}"#, "BadAction"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:Create User","Resource":"*"}]}"#, "BadAction"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:a:b","Resource":"*"}]}"#, "BadAction"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":":List","Resource":"*"}]}"#, "BadAction"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","NotAction":"ram:*","Resource":"*"}]}"#, "ConflictingFields"),
        (Ram, r#"{"Version":"1","Statement":[{"Sid":"one","Effect":"Allow","Action":"*","Resource":"*"}]}"#, "UnknownStatementField"),
        (Ram, r#"{"Version":"1","Statement":[{"effect":"Allow","Action":"*","Resource":"*"}]}"#, "UnknownStatementField"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Principal":{"RAM":["*"]}}]}"#, "PrincipalNotAllowed"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"acs:ram::${Account}:user/*"}]}"#, "UnknownVariable"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"acs:ram::1:user/${UserName"}]}"#, "UnknownVariable"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddressX":{"acs:SourceIp":"10.0.0.1"}}}]}"#, "UnknownConditionOperator"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ip_equal":{"acs:SourceIp":"10.0.0.1"}}}]}"#, "UnknownConditionOperator"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":["IpAddress"]}]}"#, "ConditionMalformed"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":"10.0.0.1"}}]}"#, "ConditionMalformed"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{}}}]}"#, "ConditionMalformed"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":[]}}}]}"#, "ConditionMalformed"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"acs:Region":{"a":"b"}}}}]}"#, "ConditionMalformed"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"acs:SourceIp":"10.0.0.1"}}}]}"#, "ConditionMalformed"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:CurrentTime":"10.0.0.1"}}}]}"#, "ConditionMalformed"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":"yes"}}}]}"#, "ConditionMalformed"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.1","qcs:ip":"10.0.0.2"}}}]}"#, "ConditionMalformed"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.300"}}}]}"#, "BadIpAddress"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/33"}}}]}"#, "BadIpAddress"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"acs:SourceIp":"2001:db8::/129"}}}]}"#, "BadIpAddress"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/+8"}}}]}"#, "BadIpAddress"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"yesterday"}}}]}"#, "BadDate"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"2019-08-12"}}}]}"#, "BadDate"),
        (Ram, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"2019-08-12T17:00:00"}}}]}"#, "BadDate"),
        (Cam, "{", "NotJson"),
        (Cam, "7", "NotObject"),
        (Cam, r#"{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*","condition":{"ip_equal":{"qcs:ip":"10.0.0.0/8"},"ip_equal":{"qcs:ip":"0.0.0.0/0"}}}]}"#, "DuplicateField"),
        (Cam, &too_long_cam, "TooLong"),
        (Cam, r#"{"statement":[{"effect":"allow","action":"*","resource":"*"}]}"#, "MissingVersion"),
        (Cam, r#"{"version":"1","statement":[{"effect":"allow","action":"*","resource":"*"}]}"#, "BadVersion"),
        (Cam, r#"{"Version":"2.0","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#, "UnknownDocumentField"),
        (Cam, r#"{"version":"2.0","statement":[]}"#, "EmptyStatements"),
        (Cam, r#"{"version":"2.0","statement":[[]]}"#, "StatementNotObject"),
        (Cam, r#"{"version":"2.0","statement":[{"effect":"permit","action":"*","resource":"*"}]}"#, "BadEffect"),
        (Cam, r#"{"version":"2.0","statement":[{"effect":true,"action":"*","resource":"*"}]}"#, "BadEffect"),
        (Cam, r#"{"version":"2.0","statement":[{"effect":"allow","resource":"*"}]}"#, "MissingAction"),
        (Cam, r#"{"version":"2.0","statement":[{"effect":"allow","action":"*"}]}"#, "MissingResource"),
        (Cam, r#"{"version":"2.0","statement":[{"effect":"allow","action":"name/","resource":"*"}]}"#, "EmptyEntry"),
        (Cam, r#"{"version":"2.0","statement":[{"effect":"allow","action":"name/CreateUser","resource":"*"}]}"#, "BadAction"),
        (Cam, r#"{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*","principal":{"qcs":["qcs::cam::uin/1:root"]}}]}"#, "PrincipalNotAllowed"),
        (Cam, r#"{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*","Condition":{}}]}"#, "UnknownStatementField"),
        (Cam, r#"{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*","condition":{"IpAddress":{"qcs:ip":"10.0.0.1"}}}]}"#, "UnknownConditionOperator"),
        (Cam, r#"{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*","condition":{"ip_equal":{"qcs:ip":"10.0.0.0/8x"}}}]}"#, "BadIpAddress"),
        (Cam, r#"{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*","condition":{"date_less_than":{"qcs:current_time":"2019-13-01T00:00:00Z"}}}]}"#, "BadDate"),
        (Cam, r#"{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"qcs::cam::uin/${OwnerUin}:uin/*"}]}"#, "UnknownVariable"),
    ];
    assert!(rows.len() >= 20);
    let mut failures = Vec::new();
    for (syntax, document, expected) in &rows {
        match Policy::parse(document, *syntax) {
            Ok(policy) => {
                failures.push(format!("{syntax:?} {document:.80}: accepted as {policy:?}"))
            }
            Err(error) => {
                if variant(&error) != *expected {
                    failures.push(format!(
                        "{syntax:?} {document:.80}: {error:?}, expected {expected}"
                    ));
                }
                assert!(!error.message().is_empty());
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_details_and_messages() {
    let error = Policy::parse(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Allow","Action":"ram","Resource":"*"}]}"#,
        Ram,
    )
    .unwrap_err();
    assert_eq!(
        error,
        PolicyError::BadAction {
            statement: 1,
            action: "\"ram\"".to_owned()
        }
    );
    assert_eq!(
        error.message(),
        "Statement[1]: the action \"ram\" is not of the form service:Action (or *)"
    );
    let error = Policy::parse(
        r#"{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*"}]}"#,
        Ram,
    )
    .unwrap_err();
    assert_eq!(
        error,
        PolicyError::UnknownDocumentField {
            field: "\"statement\"".to_owned()
        }
    );
    assert_eq!(
        Policy::parse(
            r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Effect":"Allow"}]}"#,
            Ram
        )
        .unwrap_err(),
        PolicyError::DuplicateField {
            field: "\"Effect\"".to_owned()
        }
    );
    assert_eq!(
        Policy::parse("x".repeat(7000).as_str(), Cam).unwrap_err(),
        PolicyError::TooLong { limit: 6144 }
    );
    // Echoed values are cut short.
    let long_action = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"{}","Resource":"*"}}]}}"#,
        "x".repeat(1000)
    );
    let message = Policy::parse(&long_action, Ram).unwrap_err().message();
    assert!(message.len() < 200, "{message}");
}

const ROUND_TRIP_DOCUMENTS: &[(Syntax, &str)] = &[
    (Ram, RAM_ALLOW_THEN_DENY),
    (Ram, RAM_NOT_RESOURCE_DENY),
    (Ram, RAM_IP_AND_REGION),
    (Ram, RAM_WINDOW),
    (Ram, RAM_OWN_USER),
    (Cam, CAM_LEGACY_NAME),
    (Cam, CAM_NOT_ACTION),
    (Cam, CAM_MFA),
    (
        Ram,
        r#"{"Version":"1","Statement":[{"Effect":"Deny","NotAction":["ram:Get*","ram:List*"],"NotResource":["acs:ram::1:user/a","acs:ram::1:user/b"],"Condition":{"StringNotLike":{"acs:UserAgent":["*curl*"]},"NotIpAddress":{"acs:SourceIp":["10.0.0.0/8","2001:db8::/32"]},"DateGreaterThanEquals":{"acs:CurrentTime":"2019-08-12T17:00:00+08:00"},"Bool":{"acs:MFAPresent":[true,"False"]},"StringEqualsIgnoreCase":{"acs:Region":"CN-hangzhou","ACS:Tag":3}}},{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        Cam,
        r#"{"version":"2.0","statement":[{"effect":"Deny","action":"name/cos:*","resource":["qcs::cos:ap-guangzhou:uid/1:bucket-1/*"],"condition":{"ip_not_equal":{"qcs:ip":"10.0.0.0/8"},"date_less_than_equal":{"qcs:current_time":"2030-01-01T00:00:00Z"},"string_not_equal_ignore_case":{"qcs:x":["A","b"]}}}]}"#,
    ),
];

#[test]
fn round_trips() {
    for (syntax, document) in ROUND_TRIP_DOCUMENTS {
        let policy = Policy::parse(document, *syntax).unwrap();
        let stored = policy.to_stored();
        assert_eq!(Policy::from_stored(&stored).unwrap(), policy, "{document}");
        assert_eq!(serde_json::to_string(&policy).unwrap(), stored);
        assert_eq!(serde_json::from_str::<Policy>(&stored).unwrap(), policy);
        for target in [Ram, Cam] {
            let rendered = policy.render(target);
            let again = Policy::parse(&rendered, target)
                .unwrap_or_else(|error| panic!("{rendered}: {error}"));
            assert_eq!(again, policy, "{rendered}");
            // Same stored form whichever syntax the policy came from.
            assert_eq!(again.to_stored(), stored);
            // Rendering is stable.
            assert_eq!(again.render(target), rendered);
        }
    }
}

#[test]
fn stored_and_rendered_shapes() {
    let policy = Policy::parse(RAM_IP_AND_REGION, Ram).unwrap();
    assert_eq!(
        policy.to_stored(),
        r#"{"version":1,"statements":[{"effect":"allow","actions":["*"],"resources":["*"],"conditions":[{"operator":"IpAddress","key":"SourceIp","values":["10.0.0.0/8"]},{"operator":"StringEquals","key":"acs:region","values":["cn-hangzhou"]}]}]}"#
    );
    assert_eq!(
        policy.render(Ram),
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["*"],"Resource":["*"],"Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8"]},"StringEquals":{"acs:region":["cn-hangzhou"]}}}]}"#
    );
    assert_eq!(
        policy.render(Cam),
        r#"{"version":"2.0","statement":[{"effect":"allow","action":["*"],"resource":["*"],"condition":{"ip_equal":{"qcs:ip":["10.0.0.0/8"]},"string_equal":{"acs:region":["cn-hangzhou"]}}}]}"#
    );
    let cam = Policy::parse(CAM_LEGACY_NAME, Cam).unwrap();
    assert_eq!(
        cam.render(Cam),
        r#"{"version":"2.0","statement":[{"effect":"allow","action":["cam:ListAccessKeys"],"resource":["*"]}]}"#
    );
}

#[test]
fn malformed_stored_forms() {
    #[rustfmt::skip]
    let rows: &[(&str, &str)] = &[
        ("", "BadStoredForm"),
        ("{}", "BadStoredForm"),
        (r#"{"version":2,"statements":[]}"#, "BadStoredForm"),
        (r#"{"version":1,"statements":[]}"#, "EmptyStatements"),
        (r#"{"version":1,"statements":[{"effect":"allow","resources":["*"]}]}"#, "BadStoredForm"),
        (r#"{"version":1,"statements":[{"effect":"allow","actions":["*"],"not_actions":["*"],"resources":["*"]}]}"#, "ConflictingFields"),
        (r#"{"version":1,"statements":[{"effect":"Allow","actions":["*"],"resources":["*"]}]}"#, "BadStoredForm"),
        (r#"{"version":1,"statements":[{"effect":"allow","actions":["*"],"resources":["*"],"extra":1}]}"#, "BadStoredForm"),
        (r#"{"version":1,"statements":[{"effect":"allow","actions":["nope"],"resources":["*"]}]}"#, "BadAction"),
        (r#"{"version":1,"statements":[{"effect":"allow","actions":["*"],"resources":["${X}"]}]}"#, "UnknownVariable"),
        (r#"{"version":1,"statements":[{"effect":"allow","actions":["*"],"resources":["*"],"conditions":[{"operator":"IpAddress","key":"SourceIp","values":["x"]}]}]}"#, "BadIpAddress"),
        (r#"{"version":1,"statements":[{"effect":"allow","actions":["*"],"resources":["*"],"conditions":[{"operator":"ip_equal","key":"SourceIp","values":["10.0.0.1"]}]}]}"#, "BadStoredForm"),
        (r#"{"version":1,"statements":[{"effect":"allow","actions":["*"],"resources":["*"],"conditions":[{"operator":"StringEquals","key":"Acs:Region","values":["x"]}]}]}"#, "BadStoredForm"),
        (r#"{"version":1,"statements":[{"effect":"allow","actions":["*"],"resources":["*"],"conditions":[{"operator":"StringEquals","key":"a","values":["x"]},{"operator":"StringEquals","key":"a","values":["y"]}]}]}"#, "ConditionMalformed"),
    ];
    for (text, expected) in rows {
        let error = Policy::from_stored(text).unwrap_err();
        assert_eq!(variant(&error), *expected, "{text}: {error:?}");
    }
    // A stored form with conditions out of order is put in canonical order.
    let shuffled = r#"{"version":1,"statements":[{"effect":"allow","actions":["*"],"resources":["*"],"conditions":[{"operator":"StringEquals","key":"acs:region","values":["cn-hangzhou"]},{"operator":"IpAddress","key":"SourceIp","values":["10.0.0.0/8"]}]}]}"#;
    assert_eq!(
        Policy::from_stored(shuffled).unwrap(),
        Policy::parse(RAM_IP_AND_REGION, Ram).unwrap()
    );
}

#[test]
fn system_policies_parse_and_are_found() {
    let names: Vec<(&str, u64)> = system_policies()
        .iter()
        .map(|policy| (policy.name, policy.cam_policy_id))
        .collect();
    assert_eq!(
        names,
        [
            ("AdministratorAccess", 1),
            ("ReadOnlyAccess", 2),
            ("ManageOwnAccessKeys", 3)
        ]
    );
    for policy in system_policies() {
        assert!(!policy.description.is_empty());
        assert_eq!(
            system_policy_by_cam_id(policy.cam_policy_id).map(|found| found.name),
            Some(policy.name)
        );
        for syntax in [Ram, Cam] {
            assert_eq!(
                Policy::parse(&policy.policy.render(syntax), syntax).unwrap(),
                policy.policy
            );
        }
    }
    assert!(system_policy("administratoraccess").is_none());
    assert!(system_policy_by_cam_id(0).is_none());
    let own = &system_policy("ManageOwnAccessKeys").unwrap().policy;
    assert_eq!(own.statements.len(), 1);
    assert_eq!(own.statements[0].actions.patterns().len(), 10);
    assert_eq!(own.statements[0].resources.patterns().len(), 2);
}

#[test]
fn read_only_access_reads_everything_but_api_gateway_keys() {
    let read_only = &system_policy("ReadOnlyAccess").unwrap().policy;
    let decide = |action: &'static str, resource: &'static str| {
        evaluate(
            &[read_only],
            &Request {
                action,
                resource,
                ..BASE
            },
        )
        .outcome
    };
    assert_eq!(decide("ram:ListUsers", "acs:ram::1234:user/*"), Allow);
    assert_eq!(decide("cam:GetUser", "*"), Allow);
    assert_eq!(
        decide("eas:DescribeService", "acs:eas:cn-hangzhou:1234:service/s"),
        Allow
    );
    // API Gateway descriptions carry each key's secret: never through ReadOnlyAccess, whatever
    // the region segment says.
    for resource in [
        "qcs::apigw::uin/1234:apikey/*",
        "qcs::apigw::uin/1234:apikey/AKID1",
        "qcs::apigw:ap-shanghai:uin/1234:apikey/AKID1",
    ] {
        assert_eq!(decide("apigw:DescribeApiKey", resource), ImplicitDeny);
        assert_eq!(
            decide("apigw:DescribeApiKeysStatus", resource),
            ImplicitDeny
        );
    }
    assert_eq!(decide("cam:CreateAccessKey", "*"), ImplicitDeny);
}

#[test]
fn patterns_do_not_blow_up() {
    // Many stars against a long non-matching text: the single-backtrack matcher stays linear-ish.
    let pattern = format!("{}b", "a*".repeat(40));
    let document = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"*","Resource":"{pattern}"}}]}}"#
    );
    let policy = Policy::parse(&document, Ram).unwrap();
    let resource = "a".repeat(3000);
    let started = std::time::Instant::now();
    let request = Request {
        resource: &resource,
        ..BASE
    };
    assert_eq!(evaluate(&[&policy], &request).outcome, ImplicitDeny);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

/// A small deterministic generator (xorshift64*), so the mutation test needs no dependency and
/// fails the same way every time.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % bound as u64).unwrap_or(0)
    }
}

#[test]
fn mutated_documents_never_panic_and_whatever_parses_round_trips() {
    let seeds = [
        (
            Ram,
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:List*","cam:Get?ser"],"Resource":"acs:ram::${AccountId}:user/${UserName}","Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","::1"]},"DateLessThan":{"acs:CurrentTime":"2030-01-01T00:00:00+08:00"}}},{"Effect":"Deny","NotAction":"ram:*","Resource":"*"}]}"#,
        ),
        (
            Cam,
            r#"{"version":"2.0","statement":[{"effect":"allow","action":"name/cam:ListAccessKeys","resource":["qcs::cam::uin/${AccountId}:uin/${Uin}"],"condition":{"ip_not_equal":{"qcs:ip":"192.0.2.0/24"},"string_like":{"vpc":"vpc-*"}}}]}"#,
        ),
    ];
    // Bytes that matter to JSON and to the policy grammar.
    let alphabet: &[u8] = br#"{}[]":,*?$/\ 0aZ-_.@"#;
    let mut mutator = Mutator(0x9E37_79B9_7F4A_7C15);
    let mut parsed = 0;
    for round in 0..20_000 {
        let (syntax, seed) = seeds[round % seeds.len()];
        let mut bytes = seed.as_bytes().to_vec();
        for _ in 0..=mutator.below(4) {
            let at = mutator.below(bytes.len());
            match mutator.below(4) {
                0 => bytes[at] = alphabet[mutator.below(alphabet.len())],
                1 => {
                    bytes.remove(at);
                }
                2 => bytes.insert(at, alphabet[mutator.below(alphabet.len())]),
                _ => bytes.truncate(at),
            }
            if bytes.is_empty() {
                break;
            }
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let Ok(policy) = Policy::parse(&text, syntax) else {
            continue;
        };
        parsed += 1;
        let stored = Policy::from_stored(&policy.to_stored()).expect("a parsed policy stores");
        assert_eq!(stored, policy, "{text}");
        // Evaluating what parsed never panics either.
        let request = Request {
            action: "ram:ListUsers",
            resource: "acs:ram::1:user/alice",
            source_ip: Some(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))),
            now: NOW,
            account_id: "1",
            uin: "2",
            user_name: "alice",
            extra_keys: &[("vpc", "vpc-1")],
        };
        let _ = evaluate(&[&policy], &request);
    }
    assert!(
        parsed > 100,
        "only {parsed} mutants parsed; the test would prove little"
    );
}
