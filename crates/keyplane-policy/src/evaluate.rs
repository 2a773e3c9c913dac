//! Evaluation: which policies allow or deny one request.
//!
//! A statement applies when the request's action matches its actions, its resource matches its
//! resources (with `${AccountId}`, `${Uin}` and `${UserName}` bound to the request's values) and
//! every condition holds. Any applicable Deny decides (`ExplicitDeny`, the first one found, in
//! policy then statement order); otherwise any applicable Allow decides (`Allow`, the first one);
//! otherwise nothing applied (`ImplicitDeny`). Evaluation reads nothing but its arguments and
//! allocates nothing.

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::pattern::Bindings;
use crate::policy::{Effect, Policy, Statement};

/// What is being asked, and everything conditions and variables may refer to.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `service:Action`, e.g. `ram:CreateAccessKey` or `cam:ListAccessKeys`.
    pub action: &'a str,
    /// The resource's name, e.g. `acs:ram::1234:user/alice` or `qcs::cam::uin/100:uin/200`.
    pub resource: &'a str,
    /// The caller's address (`acs:SourceIp` / `qcs:ip`); `None` when unknown.
    pub source_ip: Option<IpAddr>,
    /// The request's time (`acs:CurrentTime` / `qcs:current_time`).
    pub now: OffsetDateTime,
    /// `${AccountId}`.
    pub account_id: &'a str,
    /// `${Uin}`.
    pub uin: &'a str,
    /// `${UserName}`.
    pub user_name: &'a str,
    /// Every other condition key the request carries, names compared ASCII case-insensitively.
    pub extra_keys: &'a [(&'a str, &'a str)],
}

/// The decision's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// A statement: indexes into the policy slice given to [`evaluate`] and into that policy's
/// statements, both from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatementRef {
    pub policy: usize,
    pub statement: usize,
}

/// The outcome and the statement that decided it (`None` for `ImplicitDeny`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Decision {
    pub outcome: Outcome,
    pub matched: Option<StatementRef>,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }
}

impl Statement {
    /// Whether this statement's `Action` (or `NotAction`) covers `action`. Actions hold no
    /// variables, so this depends on the action alone: a caller evaluating many requests may
    /// find, once per action, the statements that can apply to it (see
    /// [`evaluate_candidates`]).
    pub fn covers_action(&self, action: &str) -> bool {
        let unbound = Bindings {
            account_id: "",
            uin: "",
            user_name: "",
        };
        self.actions.matches(action, &unbound)
    }

    /// Whether this statement applies to `request` (whatever its effect).
    pub fn applies(&self, request: &Request<'_>) -> bool {
        let bindings = Bindings {
            account_id: request.account_id,
            uin: request.uin,
            user_name: request.user_name,
        };
        self.actions.matches(request.action, &bindings)
            && self.resources.matches(request.resource, &bindings)
            && self.conditions.iter().all(|condition| {
                condition.holds(
                    request.source_ip,
                    request.now,
                    request.extra_keys,
                    &bindings,
                )
            })
    }
}

/// Decides `request` like [`evaluate`], looking only at `candidates`: the statements, in
/// policy then statement order, whose action covers `request.action`
/// ([`Statement::covers_action`]). Every other statement cannot apply, so the decision is the
/// same as `evaluate`'s; a reference that names no statement is skipped.
pub fn evaluate_candidates<P: AsRef<Policy>>(
    policies: &[P],
    candidates: &[StatementRef],
    request: &Request<'_>,
) -> Decision {
    decide(
        candidates.iter().filter_map(|candidate| {
            policies
                .get(candidate.policy)
                .and_then(|policy| policy.as_ref().statements.get(candidate.statement))
                .map(|statement| (*candidate, statement))
        }),
        request,
    )
}

/// The decision on `request` of `statements` (each with where it stands), in policy then
/// statement order: the first applying `Deny` denies explicitly; otherwise the first applying
/// `Allow` allows; otherwise the denial is implicit.
fn decide<'policy>(
    statements: impl Iterator<Item = (StatementRef, &'policy Statement)>,
    request: &Request<'_>,
) -> Decision {
    let mut first_allow = None;
    for (matched, statement) in statements {
        if statement.effect == Effect::Allow && first_allow.is_some() {
            continue;
        }
        if !statement.applies(request) {
            continue;
        }
        match statement.effect {
            Effect::Deny => {
                return Decision {
                    outcome: Outcome::ExplicitDeny,
                    matched: Some(matched),
                }
            }
            Effect::Allow => first_allow = Some(matched),
        }
    }
    match first_allow {
        Some(matched) => Decision {
            outcome: Outcome::Allow,
            matched: Some(matched),
        },
        None => Decision {
            outcome: Outcome::ImplicitDeny,
            matched: None,
        },
    }
}

/// The statements of `policies`, in order, whose action covers `action`: the candidates of
/// [`evaluate_candidates`] for requests of that action.
pub fn candidates_for_action<P: AsRef<Policy>>(policies: &[P], action: &str) -> Vec<StatementRef> {
    let mut candidates = Vec::new();
    for (policy_index, policy) in policies.iter().enumerate() {
        for (statement_index, statement) in policy.as_ref().statements.iter().enumerate() {
            if statement.covers_action(action) {
                candidates.push(StatementRef {
                    policy: policy_index,
                    statement: statement_index,
                });
            }
        }
    }
    candidates
}

/// Decides `request` against all `policies` (a slice of `&Policy`, `Policy` or `Arc<Policy>`).
pub fn evaluate<P: AsRef<Policy>>(policies: &[P], request: &Request<'_>) -> Decision {
    let statements = policies
        .iter()
        .enumerate()
        .flat_map(|(policy_index, policy)| {
            policy.as_ref().statements.iter().enumerate().map(
                move |(statement_index, statement)| {
                    let matched = StatementRef {
                        policy: policy_index,
                        statement: statement_index,
                    };
                    (matched, statement)
                },
            )
        });
    decide(statements, request)
}
