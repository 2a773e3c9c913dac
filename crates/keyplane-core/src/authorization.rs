//! Authorization: whether the principal behind a request may perform an action on a
//! resource. The root principal may do everything in its account; any other user may do
//! exactly what the policies attached to it allow (explicit deny wins, then allow, else deny),
//! evaluated by `keyplane-policy`. Dialects name the action (`ram:CreateAccessKey`) and the
//! resources (`acs:ram::{account}:user/{name}`) as their cloud does; the decision, and the
//! statement that made it, travel in the [`RequestContext`](crate::RequestContext) to the
//! audit record. A user's policies are loaded once and cached until they change.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use keyplane_policy::{Outcome, Policy, StatementRef};

use crate::audit::AuditAuthorization;
use crate::error::{AccessDenied, CoreError};
use crate::model::{PolicyAttachment, PolicyType, User};

/// The statement label recorded for a root principal's requests.
pub const ROOT_BASIS: &str = "root";

/// One policy a user holds, parsed, with the label audit records name it by
/// (`System:ReadOnlyAccess`, `Custom:keys-admin`).
#[derive(Debug, Clone)]
pub struct HeldPolicy {
    pub label: String,
    pub policy: Arc<Policy>,
}

/// What authorizing a sub-user needs: its name (resources and variables name it) and its
/// policies, in attachment order. Everything a request's evaluation reads is prepared here,
/// once per change of the user's policies, so that evaluating allocates little.
#[derive(Debug)]
pub struct UserPermissions {
    pub user: User,
    pub policies: Vec<HeldPolicy>,
    /// The parsed policies again, as the evaluator takes them.
    references: Vec<Arc<Policy>>,
    /// `<label>#<index>` of every statement, by policy then statement.
    statement_labels: Vec<Vec<Arc<str>>>,
    name: Arc<str>,
    account_id_text: String,
    uin_text: String,
    /// Per action asked, the statements whose action covers it, found on first use: a
    /// request then looks only at those (the actions are a fixed set, so this stays small).
    candidates_by_action: parking_lot::RwLock<HashMap<&'static str, Arc<[StatementRef]>>>,
}

impl UserPermissions {
    /// The statements that can apply to `action`, in evaluation order.
    fn candidates(&self, action: &'static str) -> Arc<[StatementRef]> {
        if let Some(candidates) = self.candidates_by_action.read().get(action) {
            return candidates.clone();
        }
        let candidates: Arc<[StatementRef]> =
            keyplane_policy::candidates_for_action(&self.references, action).into();
        self.candidates_by_action
            .write()
            .insert(action, candidates.clone());
        candidates
    }

    /// Parses the attached policies. A stored custom document that no longer parses (it was
    /// validated when created, so this means a damaged row) is logged and left out: it can
    /// only have granted, never protected, so leaving it out fails closed except for its
    /// denies, which is why the damage is logged as an error.
    pub fn new(user: User, attachments: &[PolicyAttachment]) -> Self {
        let mut policies = Vec::with_capacity(attachments.len());
        for attachment in attachments {
            let parsed = match attachment.policy_type {
                PolicyType::System => keyplane_policy::system_policy(&attachment.policy_name)
                    .map(|system| Arc::new(system.policy.clone())),
                PolicyType::Custom => attachment.custom.as_ref().and_then(|custom| {
                    Policy::from_stored(&custom.document)
                        .map_err(|error| {
                            tracing::error!(
                                policy = %custom.name,
                                %error,
                                "a stored policy document does not parse; it is ignored"
                            );
                        })
                        .ok()
                        .map(Arc::new)
                }),
            };
            if let Some(policy) = parsed {
                policies.push(HeldPolicy {
                    label: format!(
                        "{}:{}",
                        attachment.policy_type.as_str(),
                        attachment.policy_name
                    ),
                    policy,
                });
            }
        }
        let references = policies
            .iter()
            .map(|held| held.policy.clone())
            .collect::<Vec<_>>();
        let statement_labels = policies
            .iter()
            .map(|held| {
                (0..held.policy.statements.len())
                    .map(|index| Arc::from(format!("{}#{index}", held.label)))
                    .collect()
            })
            .collect();
        Self {
            name: Arc::from(user.name.as_str()),
            account_id_text: user.account_id.to_string(),
            uin_text: user.uin.to_string(),
            user,
            policies,
            references,
            statement_labels,
            candidates_by_action: parking_lot::RwLock::new(HashMap::new()),
        }
    }
}

/// The outcome of an authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

impl Decision {
    /// The name audit records use.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "Allow",
            Decision::ExplicitDeny => "ExplicitDeny",
            Decision::ImplicitDeny => "ImplicitDeny",
        }
    }
}

/// A decision on one request: what was asked, by whom, the outcome, and what decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub action: &'static str,
    /// The resources the request acts on (all must be allowed); empty for the root, whose
    /// requests need none.
    pub resources: Vec<String>,
    pub account_id: u64,
    pub principal_uin: u64,
    pub principal_name: Arc<str>,
    pub decision: Decision,
    /// `root`, or `<label>#<statement index>` of the deciding statement; `None` when no
    /// statement matched.
    pub statement: Option<Arc<str>>,
}

impl Authorization {
    /// Whether the request may go ahead.
    pub fn allowed(&self) -> bool {
        self.decision == Decision::Allow
    }

    /// The error a denied request answers with; `None` when it was allowed.
    pub fn denial(&self) -> Option<CoreError> {
        if self.allowed() {
            return None;
        }
        // The resource named is the first one refused (or the first asked on).
        Some(CoreError::AccessDenied(Box::new(AccessDenied {
            action: self.action.to_owned(),
            resource: self
                .resources
                .first()
                .cloned()
                .unwrap_or_else(|| "*".into()),
            account_id: self.account_id,
            principal_uin: self.principal_uin,
            principal_name: self.principal_name.to_string(),
            explicit: self.decision == Decision::ExplicitDeny,
        })))
    }

    /// What the audit record keeps of it.
    pub fn audit(&self) -> AuditAuthorization {
        AuditAuthorization {
            decision: self.decision.as_str().to_owned(),
            statement: self.statement.as_deref().map(str::to_owned),
        }
    }
}

/// The principal a resource is named for: dialects build resource names from it (the
/// caller's own user name, when a request names no target).
#[derive(Debug, Clone, Copy)]
pub struct Principal<'a> {
    pub account_id: u64,
    pub uin: u64,
    pub name: &'a str,
}

/// The source address of a request as an IP address (`source_address` may carry a port).
pub fn source_ip(source_address: &str) -> Option<IpAddr> {
    source_address.parse::<IpAddr>().ok().or_else(|| {
        source_address
            .parse::<SocketAddr>()
            .ok()
            .map(|socket| socket.ip())
    })
}

/// Evaluates `action` on every one of `resources` for a sub-user: an explicit deny on any
/// resource denies; otherwise every resource must be allowed. `resources` may be refused
/// in any order, the first refused one is put first so the denial names it.
pub fn evaluate(
    permissions: &UserPermissions,
    action: &'static str,
    mut resources: Vec<String>,
    source_address: &str,
    now: time::OffsetDateTime,
) -> Authorization {
    let source_ip = source_ip(source_address);
    let candidates = permissions.candidates(action);
    let mut decision = Decision::Allow;
    let mut statement = None;
    let mut refused_at = None;
    for (index, resource) in resources.iter().enumerate() {
        let request = keyplane_policy::Request {
            action,
            resource,
            source_ip,
            now,
            account_id: &permissions.account_id_text,
            uin: &permissions.uin_text,
            user_name: &permissions.name,
            extra_keys: &[],
        };
        let result =
            keyplane_policy::evaluate_candidates(&permissions.references, &candidates, &request);
        let label = result.matched.and_then(|matched| {
            permissions
                .statement_labels
                .get(matched.policy)?
                .get(matched.statement)
                .cloned()
        });
        match result.outcome {
            Outcome::ExplicitDeny => {
                decision = Decision::ExplicitDeny;
                statement = label;
                refused_at = Some(index);
                break;
            }
            Outcome::ImplicitDeny => {
                if decision == Decision::Allow {
                    decision = Decision::ImplicitDeny;
                    statement = None;
                    refused_at = Some(index);
                }
            }
            Outcome::Allow => {
                if decision == Decision::Allow && statement.is_none() {
                    statement = label;
                }
            }
        }
    }
    if resources.is_empty() {
        decision = Decision::ImplicitDeny;
    }
    if let Some(index) = refused_at {
        resources.swap(0, index);
    }
    Authorization {
        action,
        resources,
        account_id: permissions.user.account_id,
        principal_uin: permissions.user.uin,
        principal_name: permissions.name.clone(),
        decision,
        statement,
    }
}
