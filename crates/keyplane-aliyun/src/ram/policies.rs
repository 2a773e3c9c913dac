//! The RAM policy actions: `CreatePolicy` (a RAM-syntax document, stored in the common form),
//! `GetPolicy` (the document rendered in RAM syntax, whichever syntax it was written in),
//! `DeletePolicy` (refused while attached) and `ListPolicies` (paged by a marker).

use keyplane_core::model::{PolicySyntax, PolicyType};
use keyplane_core::CoreError;
use serde_json::{json, Value};

use super::{check_policy_name, policy_type, DEFAULT_VERSION};
use crate::actions::{core, done, fields, Answer, Call};
use crate::errors::{AliyunCode, AliyunError};
use crate::time_format::iso8601;

/// RAM's bounds on `CreatePolicy`.
pub const POLICY_DOCUMENT_MAX_CHARACTERS: usize = 6_144;
const DESCRIPTION_MAX_CHARACTERS: usize = 1_024;
/// Default and largest `MaxItems` of ListPolicies.
const DEFAULT_LIST_ITEMS: usize = 100;
const MAX_LIST_ITEMS: usize = 1_000;

pub(super) async fn create_policy(call: Call<'_>) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
    let name = params.required("PolicyName")?;
    check_policy_name(name)?;
    let document = params.required("PolicyDocument")?;
    if document.chars().count() > POLICY_DOCUMENT_MAX_CHARACTERS {
        return Err(AliyunCode::InvalidParameterPolicyDocumentLength.into());
    }
    let description = params.non_empty("Description").unwrap_or("");
    if description.chars().count() > DESCRIPTION_MAX_CHARACTERS {
        return Err(AliyunCode::InvalidParameterDescriptionLength.into());
    }
    let policy = authority
        .create_policy(context, PolicySyntax::Ram, name, description, document)
        .await
        .map_err(core)?;
    Ok(fields(json!({
        "Policy": {
            "PolicyName": policy.name,
            "PolicyType": PolicyType::Custom.as_str(),
            "Description": policy.description,
            "DefaultVersion": DEFAULT_VERSION,
            "CreateDate": iso8601(policy.created_at),
        }
    })))
}

pub(super) async fn get_policy(call: Call<'_>) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
    let policy_type = policy_type(params)?;
    let name = params.required("PolicyName")?;
    check_policy_name(name)?;
    let (description, document, created) = match policy_type {
        PolicyType::System => {
            let system = keyplane_policy::system_policy(name)
                .ok_or_else(|| core(CoreError::PolicyNotFound))?;
            (
                system.description.to_owned(),
                system.policy.render(keyplane_policy::Syntax::Ram),
                None,
            )
        }
        PolicyType::Custom => {
            let custom = authority
                .custom_policy_named(context, name)
                .await
                .map_err(core)?;
            let document = keyplane_policy::Policy::from_stored(&custom.document)
                .map_err(|_| AliyunError::internal())?;
            (
                custom.description,
                document.render(keyplane_policy::Syntax::Ram),
                Some(iso8601(custom.created_at)),
            )
        }
    };
    let attachments = authority
        .policy_attachment_count(context, policy_type, name)
        .await
        .map_err(core)?;
    let mut policy = json!({
        "PolicyName": name,
        "PolicyType": policy_type.as_str(),
        "Description": description,
        "DefaultVersion": DEFAULT_VERSION,
        "AttachmentCount": attachments,
        "PolicyDocument": document,
    });
    let mut version = json!({
        "VersionId": DEFAULT_VERSION,
        "IsDefaultVersion": true,
        "PolicyDocument": document,
    });
    if let Some(created) = created {
        policy["CreateDate"] = json!(created);
        policy["UpdateDate"] = json!(created);
        version["CreateDate"] = json!(created);
    }
    Ok(fields(
        json!({ "Policy": policy, "DefaultPolicyVersion": version }),
    ))
}

pub(super) async fn delete_policy(call: Call<'_>) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
    let name = params.required("PolicyName")?;
    check_policy_name(name)?;
    done(authority.delete_policy(context, name, false).await)
}

pub(super) async fn list_policies(call: Call<'_>) -> Result<Answer, AliyunError> {
    let (authority, context, params) = call.parts();
    let only = match params.non_empty("PolicyType") {
        None => None,
        Some(_) => Some(policy_type(params)?),
    };
    let max_items = params.max_items(DEFAULT_LIST_ITEMS, MAX_LIST_ITEMS)?;
    let policies: Vec<_> = authority
        .list_policies(context)
        .await
        .map_err(core)?
        .into_iter()
        .filter(|policy| only.is_none_or(|only| policy.policy_type == only))
        .collect();
    // The marker is the sort key of the last policy of the previous page (system policies in
    // their fixed order, then custom ones by creation time and name): the next page starts
    // after it, even if that policy was deleted meanwhile.
    let keys: Vec<PolicySortKey> = policies
        .iter()
        .enumerate()
        .map(|(index, policy)| policy_sort_key(index, policy))
        .collect();
    let start = params.page_start(keys.iter().cloned(), parse_policy_marker)?;
    let page: Vec<_> = policies.iter().skip(start).take(max_items).collect();
    let truncated = start + page.len() < policies.len();
    let listed: Vec<Value> = page
        .iter()
        .map(|policy| {
            let mut fields = json!({
                "PolicyName": policy.name,
                "PolicyType": policy.policy_type.as_str(),
                "Description": policy.description,
                "DefaultVersion": DEFAULT_VERSION,
                "AttachmentCount": policy.attachments,
            });
            if let Some(created) = policy.created_at {
                fields["CreateDate"] = json!(iso8601(created));
                fields["UpdateDate"] = json!(iso8601(created));
            }
            fields
        })
        .collect();
    let mut answer = json!({ "IsTruncated": truncated, "Policies": { "Policy": listed } });
    if truncated {
        if let Some(last) = keys.get(start + page.len() - 1) {
            answer["Marker"] = json!(policy_marker(last));
        }
    }
    Ok(fields(answer))
}

/// Where a policy sorts in ListPolicies: system policies first, by their place among the
/// system policies; then custom ones by creation time (Unix nanoseconds) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum PolicySortKey {
    System(usize),
    Custom(i128, String),
}

fn policy_sort_key(index: usize, policy: &keyplane_core::authority::ListedPolicy) -> PolicySortKey {
    match policy.created_at {
        None => PolicySortKey::System(index),
        Some(created) => PolicySortKey::Custom(created.unix_timestamp_nanos(), policy.name.clone()),
    }
}

/// A ListPolicies marker: `s-<index>` or `c-<nanoseconds>-<name>`.
fn policy_marker(key: &PolicySortKey) -> String {
    match key {
        PolicySortKey::System(index) => format!("s-{index}"),
        PolicySortKey::Custom(created, name) => format!("c-{created}-{name}"),
    }
}

fn parse_policy_marker(marker: &str) -> Option<PolicySortKey> {
    if let Some(index) = marker.strip_prefix("s-") {
        return Some(PolicySortKey::System(index.parse().ok()?));
    }
    let (created, name) = marker.strip_prefix("c-")?.split_once('-')?;
    Some(PolicySortKey::Custom(
        created.parse().ok()?,
        name.to_owned(),
    ))
}
