//! Whether an authenticated request may go on: the per-account rate limit of its action
//! ([`Authority::admit`]) and the authorization decision ([`Authority::authorize`]) over a
//! sub-user's parsed policies, which are cached until they change.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Authority, RequestContext};
use crate::authorization::{self, Authorization, Decision, Principal, UserPermissions};
use crate::error::CoreError;
use crate::instance_access::Revocation;

impl Authority {
    /// Applies the per-account rate limit of the request's action.
    pub fn admit(&self, context: &RequestContext) -> Result<(), CoreError> {
        let Some(caller) = &context.caller else {
            return Ok(());
        };
        if self.limiter.admit(
            caller.account_id,
            &context.product,
            &context.action,
            context.now,
        ) {
            Ok(())
        } else {
            Err(CoreError::RateLimited {
                action: format!("{}:{}", context.product, context.action),
            })
        }
    }

    /// A sub-user's parsed policies: from the cache, or loaded (the user and its attachments)
    /// and cached unless they changed meanwhile. `None` when the user no longer exists.
    async fn permissions(
        &self,
        account_id: u64,
        uin: u64,
    ) -> Result<Option<Arc<UserPermissions>>, CoreError> {
        if let Some(cached) = self.permission_cache.get(&(account_id, uin)) {
            return Ok(Some(cached));
        }
        let epoch = self.permission_epoch.load(Ordering::Acquire);
        let Some(user) = self.store.user(account_id, uin).await? else {
            return Ok(None);
        };
        let attachments = self.store.user_policies(account_id, uin).await?;
        let permissions = Arc::new(UserPermissions::new(user, &attachments));
        if self.permission_epoch.load(Ordering::Acquire) == epoch {
            self.permission_cache
                .insert((account_id, uin), permissions.clone());
        }
        Ok(Some(permissions))
    }

    /// Drops one user's policies from the permission cache because another node changed them
    /// (attached, detached, or deleted the user).
    pub fn forget_user_permissions(&self, account_id: u64, uin: u64) {
        self.permission_epoch.fetch_add(1, Ordering::AcqRel);
        self.permission_cache.invalidate(&(account_id, uin));
        self.revocations
            .announce(Revocation::User { account_id, uin });
    }

    /// Decides whether the request's caller may perform `action` (`product:Action`, as the
    /// dialect's cloud names it) on the resources `resources` names for it. The root may do
    /// everything in its account (its resources are not even named); a sub-user what its
    /// policies allow, evaluated on the request's source address and time. Returns the
    /// decision either way: the dialect records it in the context (for the audit record) and
    /// answers [`Authorization::denial`] when it is not an allow.
    pub async fn authorize(
        &self,
        context: &RequestContext,
        action: &'static str,
        resources: impl FnOnce(Principal<'_>) -> Vec<String>,
    ) -> Result<Authorization, CoreError> {
        let caller = context.caller()?;
        // A decision made without naming the principal or the resources.
        let unnamed = |decision, statement| Authorization {
            action,
            resources: Vec::new(),
            account_id: caller.account_id,
            principal_uin: caller.uin,
            principal_name: self.no_name.clone(),
            decision,
            statement,
        };
        if caller.is_root() {
            return Ok(unnamed(Decision::Allow, Some(self.root_basis.clone())));
        }
        let Some(permissions) = self.permissions(caller.account_id, caller.uin).await? else {
            // The key outlived its user only in a cache; nothing is allowed.
            return Ok(unnamed(Decision::ImplicitDeny, None));
        };
        let resources = resources(Principal {
            account_id: caller.account_id,
            uin: caller.uin,
            name: &permissions.user.name,
        });
        // Every request of a sub-user comes through here: the evaluation reads only what
        // `UserPermissions` prepared when the policies were loaded.
        Ok(authorization::evaluate(
            &permissions,
            action,
            resources,
            &context.source_address,
            context.now,
        ))
    }
}
