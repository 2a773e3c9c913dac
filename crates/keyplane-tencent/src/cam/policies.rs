//! CAM's policy actions: CreatePolicy, GetPolicy, DeletePolicy, ListPolicies,
//! AttachUserPolicy, DetachUserPolicy and ListAttachedUserPolicies. Custom policies are written
//! in CAM syntax and stored in the common form; system policies are Keyplane's presets.

use keyplane_core::authority::UserReference;
use keyplane_core::model::{PolicySyntax, PolicyType};
use keyplane_core::{Authority, CoreError, RequestContext};
use serde_json::{json, Map, Value};

use super::{format_time, response};
use crate::decode::{
    parameters, read_with_page, required_unsigned, required_unsigned_list, string_or_empty,
};
use crate::errors::{ActionError, TencentError};
use crate::params::Params;
use crate::permissions::Resource;

/// The longest policy document accepted (CAM's `PolicyDocumentLengthOverLimit`).
pub const POLICY_DOCUMENT_MAX_CHARACTERS: usize = 6_144;
/// The longest policy name.
const POLICY_NAME_MAX_CHARACTERS: usize = 128;
/// The longest policy description, in bytes (CAM's `DescriptionLengthOverlimit`).
const POLICY_DESCRIPTION_MAX_BYTES: usize = 300;
/// Default and largest page size of the paged listings.
const DEFAULT_POLICY_PAGE_SIZE: u64 = 20;
const MAX_POLICY_PAGE_SIZE: u64 = 200;
/// The last page ListPolicies serves.
const MAX_POLICY_PAGE: u64 = 200;

parameters! {
    /// CreatePolicy's parameters.
    pub struct CreatePolicyParameters {
        "PolicyName" => name: String = Params::required_string,
        "PolicyDocument" => document: String = Params::required_string,
        "Description" => description: String = string_or_empty,
    }
}

parameters! {
    /// GetPolicy's parameters.
    pub struct GetPolicyParameters {
        "PolicyId" => policy_id: u64 = required_unsigned,
    }
}

parameters! {
    /// DeletePolicy's parameters: one or more ids.
    pub struct DeletePolicyParameters {
        "PolicyId" => policy_ids: Vec<u64> = required_unsigned_list,
    }
}

parameters! {
    /// ListPolicies' parameters (`Page` and `Rp` are read together, then checked).
    pub struct ListPoliciesParameters {
        "Page" => window: PageWindow = |parameters, _| page_window(parameters, Some(MAX_POLICY_PAGE)),
        "Rp" => _page_size: () = read_with_page,
        "Scope" => scope: Scope = read_scope,
        "Keyword" => keyword: String = string_or_empty,
    }
}

parameters! {
    /// AttachUserPolicy's parameters.
    pub struct AttachPolicyParameters {
        "PolicyId" => policy_id: u64 = required_unsigned,
        "AttachUin" => uin: u64 = required_unsigned,
    }
}

parameters! {
    /// DetachUserPolicy's parameters.
    pub struct DetachPolicyParameters {
        "PolicyId" => policy_id: u64 = required_unsigned,
        "DetachUin" => uin: u64 = required_unsigned,
    }
}

parameters! {
    /// ListAttachedUserPolicies' parameters.
    pub struct ListAttachedPoliciesParameters {
        "TargetUin" => uin: u64 = required_unsigned,
        "Page" => window: PageWindow = |parameters, _| page_window(parameters, None),
        "Rp" => _page_size: () = read_with_page,
    }
}

/// The window of a paged listing, as (items to skip, items to show).
#[derive(Debug, Clone, Copy)]
pub struct PageWindow {
    skip: usize,
    take: usize,
}

/// Which policies ListPolicies shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    System,
    Custom,
}

impl Scope {
    fn shows(self, policy_type: PolicyType) -> bool {
        match self {
            Scope::All => true,
            Scope::System => policy_type == PolicyType::System,
            Scope::Custom => policy_type == PolicyType::Custom,
        }
    }
}

/// `Scope`: All (the default), QCS (system policies) or Local (custom ones).
fn read_scope(parameters: &Params, name: &str) -> Result<Scope, TencentError> {
    match parameters.optional_string(name)?.as_deref() {
        None | Some("All") => Ok(Scope::All),
        Some("QCS") => Ok(Scope::System),
        Some("Local") => Ok(Scope::Custom),
        Some(_) => Err(TencentError::invalid_value(
            name,
            "must be All, QCS or Local",
        )),
    }
}

/// The window a paged CAM listing asks for with `Page` (from 1, at most `last_page` when
/// given; default 1) and `Rp` (1 to 200, default 20).
fn page_window(parameters: &Params, last_page: Option<u64>) -> Result<PageWindow, TencentError> {
    let page = parameters.optional_unsigned("Page")?.unwrap_or(1);
    let page_size = parameters
        .optional_unsigned("Rp")?
        .unwrap_or(DEFAULT_POLICY_PAGE_SIZE);
    if page == 0 || last_page.is_some_and(|last_page| page > last_page) {
        let range = match last_page {
            Some(last_page) => format!("must be 1 to {last_page}"),
            None => "must be 1 or more".to_owned(),
        };
        return Err(TencentError::invalid_value("Page", &range));
    }
    if page_size == 0 || page_size > MAX_POLICY_PAGE_SIZE {
        return Err(TencentError::invalid_value(
            "Rp",
            &format!("must be 1 to {MAX_POLICY_PAGE_SIZE}"),
        ));
    }
    Ok(PageWindow {
        skip: usize::try_from((page - 1).saturating_mul(page_size)).unwrap_or(usize::MAX),
        take: usize::try_from(page_size).unwrap_or(usize::MAX),
    })
}

/// CreatePolicy.
pub async fn create(
    authority: &Authority,
    context: &RequestContext,
    parameters: CreatePolicyParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let CreatePolicyParameters {
        name,
        document,
        description,
    } = parameters;
    let name_valid = !name.is_empty()
        && name.chars().count() <= POLICY_NAME_MAX_CHARACTERS
        && name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "+=,.@_-".contains(character));
    if !name_valid {
        return Err(TencentError::policy_name_invalid().into());
    }
    if document.chars().count() > POLICY_DOCUMENT_MAX_CHARACTERS {
        return Err(TencentError::policy_document_too_long(POLICY_DOCUMENT_MAX_CHARACTERS).into());
    }
    if description.len() > POLICY_DESCRIPTION_MAX_BYTES {
        return Err(TencentError::policy_description_too_long(POLICY_DESCRIPTION_MAX_BYTES).into());
    }
    let policy = authority
        .create_policy(context, PolicySyntax::Cam, &name, &description, &document)
        .await?;
    Ok(response(json!({ "PolicyId": policy.id })))
}

/// GetPolicy.
pub async fn get(
    authority: &Authority,
    context: &RequestContext,
    parameters: GetPolicyParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let (policy_type, name) = authority
        .policy_with_id(context, parameters.policy_id)
        .await?;
    let fields = match policy_type {
        PolicyType::System => {
            let system =
                keyplane_policy::system_policy(&name).ok_or_else(TencentError::internal)?;
            json!({
                "PolicyName": system.name,
                "Description": system.description,
                "Type": 2,
                "PolicyDocument": system.policy.render(keyplane_policy::Syntax::Cam),
            })
        }
        PolicyType::Custom => {
            let custom = authority.custom_policy_named(context, &name).await?;
            let document = keyplane_policy::Policy::from_stored(&custom.document)
                .map_err(|_| TencentError::internal())?;
            json!({
                "PolicyName": custom.name,
                "Description": custom.description,
                "Type": 1,
                "AddTime": format_time(custom.created_at),
                "UpdateTime": format_time(custom.created_at),
                "PolicyDocument": document.render(keyplane_policy::Syntax::Cam),
            })
        }
    };
    let mut fields = response(fields);
    fields.insert("PresetAlias".into(), json!(""));
    fields.insert("IsServiceLinkedRolePolicy".into(), json!(0));
    Ok(fields)
}

/// ListPolicies.
pub async fn list(
    authority: &Authority,
    context: &RequestContext,
    parameters: ListPoliciesParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let policies: Vec<_> = authority
        .list_policies(context)
        .await?
        .into_iter()
        .filter(|policy| {
            parameters.scope.shows(policy.policy_type) && policy.name.contains(&parameters.keyword)
        })
        .collect();
    let total = policies.len();
    let list: Vec<Value> = policies
        .iter()
        .skip(parameters.window.skip)
        .take(parameters.window.take)
        .map(|policy| {
            let custom = policy.policy_type == PolicyType::Custom;
            json!({
                "PolicyId": policy.cam_policy_id,
                "PolicyName": policy.name,
                "AddTime": policy.created_at.map(format_time).unwrap_or_default(),
                "UpdateTime": policy.created_at.map(format_time).unwrap_or_default(),
                "Type": if custom { 1 } else { 2 },
                "Description": policy.description,
                "CreateMode": if custom { 2 } else { 1 },
                "Attachments": policy.attachments,
                "AttachEntityCount": policy.attachments,
                "ServiceType": "",
                "IsServiceLinkedPolicy": 0,
                "Deactived": 0,
                "DeactivedDetail": [],
            })
        })
        .collect();
    Ok(response(
        json!({ "TotalNum": total, "List": list, "ServiceTypeList": [] }),
    ))
}

/// DeletePolicy: every id is checked before anything is deleted; system policies cannot be.
pub async fn delete(
    authority: &Authority,
    context: &RequestContext,
    parameters: DeletePolicyParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let mut names = Vec::with_capacity(parameters.policy_ids.len());
    for policy_id in parameters.policy_ids {
        match authority.policy_with_id(context, policy_id).await? {
            (PolicyType::Custom, name) => names.push(name),
            (PolicyType::System, _) => {
                return Err(TencentError::preset_policy_undeletable(policy_id).into())
            }
        }
    }
    for name in names {
        // CAM detaches a deleted policy from its users.
        match authority.delete_policy(context, &name, true).await {
            Ok(()) | Err(CoreError::PolicyNotFound) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(Map::new())
}

/// AttachUserPolicy.
pub async fn attach(
    authority: &Authority,
    context: &RequestContext,
    parameters: AttachPolicyParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    attach_or_detach(
        authority,
        context,
        parameters.policy_id,
        parameters.uin,
        true,
    )
    .await
}

/// DetachUserPolicy.
pub async fn detach(
    authority: &Authority,
    context: &RequestContext,
    parameters: DetachPolicyParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    attach_or_detach(
        authority,
        context,
        parameters.policy_id,
        parameters.uin,
        false,
    )
    .await
}

async fn attach_or_detach(
    authority: &Authority,
    context: &RequestContext,
    policy_id: u64,
    uin: u64,
    attach: bool,
) -> Result<Map<String, Value>, ActionError> {
    let (policy_type, policy_name) = authority.policy_with_id(context, policy_id).await?;
    let user = authority.sub_user(context, UserReference::Uin(uin)).await?;
    let result = if attach {
        authority
            .attach_policy(context, user.uin, policy_type, &policy_name)
            .await
    } else {
        authority
            .detach_policy(context, user.uin, policy_type, &policy_name)
            .await
    };
    match result {
        // Attaching an attached policy, or detaching a detached one, changes nothing and
        // succeeds, as on CAM.
        Ok(()) | Err(CoreError::PolicyAlreadyAttached | CoreError::PolicyNotAttached) => {
            Ok(Map::new())
        }
        Err(error) => Err(error.into()),
    }
}

/// ListAttachedUserPolicies.
pub async fn list_attached(
    authority: &Authority,
    context: &RequestContext,
    parameters: ListAttachedPoliciesParameters,
    _resource: Resource,
) -> Result<Map<String, Value>, ActionError> {
    let user = authority
        .sub_user(context, UserReference::Uin(parameters.uin))
        .await?;
    let attachments = authority.user_policies(context, user.uin).await?;
    let total = attachments.len();
    let list: Vec<Value> = attachments
        .iter()
        .skip(parameters.window.skip)
        .take(parameters.window.take)
        .filter_map(|attachment| {
            let (policy_id, remark, create_mode) = match attachment.policy_type {
                PolicyType::System => {
                    let system = keyplane_policy::system_policy(&attachment.policy_name)?;
                    (system.cam_policy_id, system.description.to_owned(), 1)
                }
                PolicyType::Custom => {
                    let custom = attachment.custom.as_ref()?;
                    (custom.id, custom.description.clone(), 2)
                }
            };
            Some(json!({
                "PolicyId": policy_id,
                "PolicyName": attachment.policy_name,
                "AddTime": format_time(attachment.attached_at),
                "CreateMode": create_mode,
                "PolicyType": match attachment.policy_type {
                    PolicyType::System => "QCS",
                    PolicyType::Custom => "User",
                },
                "Remark": remark,
                "Deactived": 0,
                "DeactivedDetail": [],
            }))
        })
        .collect();
    Ok(response(json!({ "TotalNum": total, "List": list })))
}
