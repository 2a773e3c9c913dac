//! The request as the use cases see it: who calls ([`Caller`]) and what is known about the
//! request ([`RequestContext`]), with the checks every use case starts with (a caller, an
//! allowing authorization, or an operator).

use time::OffsetDateTime;

use crate::audit::{AuditEvent, OUTCOME_SUCCESS};
use crate::authorization::Authorization;
use crate::error::CoreError;

/// The authenticated principal behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: u64,
    pub uin: u64,
    pub key_id: String,
}

impl Caller {
    /// Whether the caller is the account's root principal.
    pub fn is_root(&self) -> bool {
        self.uin == self.account_id
    }
}

/// What a use case needs to know about the request that asks for it.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub caller: Option<Caller>,
    /// The access key id a request claimed before it was authenticated: audited on a refusal
    /// so that a key under attack shows up, even though no principal could be established.
    pub claimed_key_id: Option<String>,
    pub now: OffsetDateTime,
    pub request_id: String,
    pub source_address: String,
    pub user_agent: String,
    /// The product, as used in rate-limit names and audit records: `cam`, `apigateway`, ...
    pub product: String,
    pub action: String,
    /// The authorization decision on this request, once made ([`Authority::authorize`]);
    /// every use case that acts for a caller requires an allowing one.
    pub authorization: Option<Authorization>,
}

impl RequestContext {
    /// The context of an operator command run on the server's machine (no caller: the
    /// operator has the data directory).
    pub fn operator(now: OffsetDateTime, request_id: String, action: &str) -> Self {
        Self {
            caller: None,
            claimed_key_id: None,
            now,
            request_id,
            source_address: "local".to_owned(),
            user_agent: "keyplane-cli".to_owned(),
            product: "keyplane".to_owned(),
            action: action.to_owned(),
            authorization: None,
        }
    }

    /// The audit event for this request with the given target and outcome code.
    pub fn audit_event(&self, target: Option<String>, outcome: &str) -> AuditEvent {
        AuditEvent {
            time: self.now,
            request_id: self.request_id.clone(),
            account_id: self.caller.as_ref().map(|caller| caller.account_id),
            principal_uin: self.caller.as_ref().map(|caller| caller.uin),
            key_id: self
                .caller
                .as_ref()
                .map(|caller| caller.key_id.clone())
                .or_else(|| self.claimed_key_id.clone()),
            product: self.product.clone(),
            action: self.action.clone(),
            target,
            outcome: outcome.to_owned(),
            source_address: self.source_address.clone(),
            user_agent: self.user_agent.clone(),
            detail: None,
            authorization: self.authorization.as_ref().map(Authorization::audit),
        }
    }

    /// The audit event of this request succeeding on `target`.
    pub(super) fn success(&self, target: impl Into<String>) -> AuditEvent {
        self.audit_event(Some(target.into()), OUTCOME_SUCCESS)
    }

    /// For a use case that changes `target` for an authorized caller: the caller's account and
    /// the audit event of the change.
    pub(super) fn authorized_change(&self, target: &str) -> Result<(u64, AuditEvent), CoreError> {
        let caller = self.authorized_caller()?;
        Ok((caller.account_id, self.success(target)))
    }

    pub(super) fn caller(&self) -> Result<&Caller, CoreError> {
        self.caller.as_ref().ok_or_else(|| CoreError::Unauthorized {
            action: self.action.clone(),
        })
    }

    /// The caller, provided the request was authorized: use cases that act for a caller fail
    /// closed when a dialect did not authorize (or was refused) before calling them.
    pub(super) fn authorized_caller(&self) -> Result<&Caller, CoreError> {
        let caller = self.caller()?;
        match &self.authorization {
            Some(authorization)
                if authorization.allowed()
                    && authorization.account_id == caller.account_id
                    && authorization.principal_uin == caller.uin =>
            {
                Ok(caller)
            }
            _ => {
                tracing::error!(
                    action = %self.action,
                    "a use case was called for an unauthorized request"
                );
                Err(self.unauthorized())
            }
        }
    }

    /// Fails closed unless the request is an operator's (no caller) or was authorized.
    pub(super) fn operator_or_authorized(&self, account_id: u64) -> Result<(), CoreError> {
        match &self.caller {
            None => Ok(()),
            Some(caller) if caller.account_id != account_id => Err(self.unauthorized()),
            Some(_) => self.authorized_caller().map(|_| ()),
        }
    }

    pub(super) fn unauthorized(&self) -> CoreError {
        CoreError::Unauthorized {
            action: format!("{}:{}", self.product, self.action),
        }
    }
}
