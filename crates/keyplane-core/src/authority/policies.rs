//! Policies: custom policies created from a document in either cloud's syntax, the system
//! policies, listings, and attaching and detaching them to users (which changes the users'
//! authorizations at once).

use std::future::Future;

use time::OffsetDateTime;

use super::{with_fresh_identifiers, Authority, RequestContext};
use crate::audit::AuditEvent;
use crate::error::CoreError;
use crate::model::{CustomPolicy, PolicyAttachment, PolicySyntax, PolicyType};
use crate::rules;
use crate::store::{DeleteCustomPolicy, StoreError, UserPolicy};

/// One policy as the policy listings show it: a system policy (no creation time) or a custom
/// one, with how many users have it attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPolicy {
    pub policy_type: PolicyType,
    pub name: String,
    pub description: String,
    /// The CAM `PolicyId`.
    pub cam_policy_id: u64,
    pub created_at: Option<OffsetDateTime>,
    pub attachments: u64,
}

impl Authority {
    /// Creates a custom policy from a document in `syntax`, stored in the common form. The
    /// dialect has checked the name's format and the document's length (each cloud has its
    /// own); here the document is parsed and admitted (`MalformedPolicyDocument`, saying what
    /// is wrong: see [`crate::policy_admission`]), and names of system policies are taken.
    pub async fn create_policy(
        &self,
        context: &RequestContext,
        syntax: PolicySyntax,
        name: &str,
        description: &str,
        document: &str,
    ) -> Result<CustomPolicy, CoreError> {
        let caller = context.authorized_caller()?;
        let policy_syntax = match syntax {
            PolicySyntax::Ram => keyplane_policy::Syntax::Ram,
            PolicySyntax::Cam => keyplane_policy::Syntax::Cam,
        };
        let parsed = keyplane_policy::Policy::parse(document, policy_syntax).map_err(|error| {
            CoreError::MalformedPolicyDocument {
                reason: error.to_string(),
            }
        })?;
        crate::policy_admission::admit(&parsed)?;
        if keyplane_policy::system_policy(name).is_some() {
            return Err(CoreError::PolicyNameTaken);
        }
        with_fresh_identifiers(|| {
            let policy = CustomPolicy {
                account_id: caller.account_id,
                id: self.factory.new_policy_id(),
                name: name.to_owned(),
                description: description.to_owned(),
                syntax,
                document: parsed.to_stored(),
                created_at: context.now,
            };
            let audit = context.success(format!("policy/{name}"));
            self.store
                .create_custom_policy(policy, rules::CUSTOM_POLICIES_PER_ACCOUNT, audit)
        })
        .await
    }

    /// The policy a CAM `PolicyId` names: a system policy's fixed id, or a custom policy of
    /// the caller's account. Returns its type and name; `PolicyNotFound` otherwise.
    pub async fn policy_with_id(
        &self,
        context: &RequestContext,
        policy_id: u64,
    ) -> Result<(PolicyType, String), CoreError> {
        let caller = context.caller()?;
        if let Some(system) = keyplane_policy::system_policy_by_cam_id(policy_id) {
            return Ok((PolicyType::System, system.name.to_owned()));
        }
        let custom = self
            .store
            .custom_policy_by_id(caller.account_id, policy_id)
            .await?
            .ok_or(CoreError::PolicyNotFound)?;
        Ok((PolicyType::Custom, custom.name))
    }

    /// A custom policy of the caller's account by name: `PolicyNotFound` when there is none.
    pub async fn custom_policy_named(
        &self,
        context: &RequestContext,
        name: &str,
    ) -> Result<CustomPolicy, CoreError> {
        let caller = context.caller()?;
        self.store
            .custom_policy_by_name(caller.account_id, name)
            .await?
            .ok_or(CoreError::PolicyNotFound)
    }

    /// Deletes a custom policy of the caller's account. While it is attached: with `detach`
    /// its attachments go with it (the users' authorizations change at once, on every node),
    /// otherwise `PolicyInUse`.
    pub async fn delete_policy(
        &self,
        context: &RequestContext,
        name: &str,
        detach: bool,
    ) -> Result<(), CoreError> {
        let caller = context.authorized_caller()?;
        let audit = context.success(format!("policy/{name}"));
        let detached = self
            .store
            .delete_custom_policy(
                DeleteCustomPolicy::new(caller.account_id, name, detach),
                audit,
            )
            .await?;
        for uin in detached {
            self.forget_user_permissions(caller.account_id, uin);
        }
        Ok(())
    }

    /// Every policy the caller's account can attach: the system policies, then its custom
    /// policies oldest first, each with how many users have it attached.
    pub async fn list_policies(
        &self,
        context: &RequestContext,
    ) -> Result<Vec<ListedPolicy>, CoreError> {
        let caller = context.authorized_caller()?;
        let mut listed = Vec::new();
        for system in keyplane_policy::system_policies() {
            listed.push(ListedPolicy {
                policy_type: PolicyType::System,
                name: system.name.to_owned(),
                description: system.description.to_owned(),
                cam_policy_id: system.cam_policy_id,
                created_at: None,
                attachments: self
                    .store
                    .policy_attachment_count(caller.account_id, PolicyType::System, system.name)
                    .await?,
            });
        }
        for (custom, attachments) in self.store.list_custom_policies(caller.account_id).await? {
            listed.push(ListedPolicy {
                policy_type: PolicyType::Custom,
                name: custom.name,
                description: custom.description,
                cam_policy_id: custom.id,
                created_at: Some(custom.created_at),
                attachments,
            });
        }
        Ok(listed)
    }

    /// How many users of the caller's account have the policy attached.
    pub async fn policy_attachment_count(
        &self,
        context: &RequestContext,
        policy_type: PolicyType,
        name: &str,
    ) -> Result<u64, CoreError> {
        let caller = context.authorized_caller()?;
        Ok(self
            .store
            .policy_attachment_count(caller.account_id, policy_type, name)
            .await?)
    }

    /// Attaches a system or custom policy to a user of the caller's account; its
    /// authorizations change at once on this node and, on a shared database, on every node.
    pub async fn attach_policy(
        &self,
        context: &RequestContext,
        uin: u64,
        policy_type: PolicyType,
        policy_name: &str,
    ) -> Result<(), CoreError> {
        context.authorized_caller()?;
        if policy_type == PolicyType::System
            && keyplane_policy::system_policy(policy_name).is_none()
        {
            return Err(CoreError::PolicyNotFound);
        }
        let limit = rules::ATTACHED_POLICIES_PER_USER;
        self.change_attachment(
            context,
            uin,
            policy_type,
            policy_name,
            |account_id, audit| {
                let now = context.now;
                self.store.attach_policy(
                    UserPolicy::new(account_id, uin, policy_type, policy_name)
                        .attached_at(now, limit),
                    audit,
                )
            },
        )
        .await
    }

    /// Detaches a policy from a user of the caller's account, effective at once.
    pub async fn detach_policy(
        &self,
        context: &RequestContext,
        uin: u64,
        policy_type: PolicyType,
        policy_name: &str,
    ) -> Result<(), CoreError> {
        self.change_attachment(
            context,
            uin,
            policy_type,
            policy_name,
            |account_id, audit| {
                self.store.detach_policy(
                    UserPolicy::new(account_id, uin, policy_type, policy_name),
                    audit,
                )
            },
        )
        .await
    }

    /// Runs `change` (the store's attach or detach, given the caller's account and the audit
    /// event) for an authorized caller; the user's cached permissions go whatever it did.
    async fn change_attachment<Change>(
        &self,
        context: &RequestContext,
        uin: u64,
        policy_type: PolicyType,
        policy_name: &str,
        change: impl FnOnce(u64, AuditEvent) -> Change,
    ) -> Result<(), CoreError>
    where
        Change: Future<Output = Result<(), StoreError>>,
    {
        let caller = context.authorized_caller()?;
        let audit = context.success(attachment_target(uin, policy_type, policy_name));
        let result = change(caller.account_id, audit).await;
        self.forget_user_permissions(caller.account_id, uin);
        Ok(result?)
    }

    /// The policies attached to a user of the caller's account, in attachment order:
    /// `UserNotFound` when there is no such user.
    pub async fn user_policies(
        &self,
        context: &RequestContext,
        uin: u64,
    ) -> Result<Vec<PolicyAttachment>, CoreError> {
        let caller = context.authorized_caller()?;
        let attachments = self.store.user_policies(caller.account_id, uin).await?;
        if attachments.is_empty() && self.store.user(caller.account_id, uin).await?.is_none() {
            return Err(CoreError::UserNotFound);
        }
        Ok(attachments)
    }
}

/// The audit target of attaching or detaching a policy.
fn attachment_target(uin: u64, policy_type: PolicyType, policy_name: &str) -> String {
    format!("user/{uin}:{}:{policy_name}", policy_type.as_str())
}
