//! What an instance token keeps depending on after it was issued: the key that asked for it
//! must still be active and its principal must still hold the permission that issued it, when
//! the token is redeemed and for as long as the sessions it opened run.
//!
//! The dialect names the permission and how it names a service ([`InstancePermission`]); the
//! [`Authority`] checks it ([`Authority::check_instance_access`]) and announces every change
//! that may take access away ([`Revocation`]: a key changed or deleted, a user's policies
//! changed or the user deleted, or everything when changes may have been missed) to the
//! listeners a gateway registers with [`Authority::on_revocation`]. Announcements are made
//! where the Authority's own caches are evicted, so a change made on this node and one heard
//! from another node (the store's change notifications) both reach them.

use std::sync::Arc;

use parking_lot::RwLock;
use time::OffsetDateTime;

use crate::authority::{Authority, Caller, RequestContext};
use crate::error::CoreError;
use crate::model::{InstanceToken, InstanceTokenPurpose, KeyStatus, Secret};

/// The permission an instance token was issued under, as its dialect names it.
#[derive(Debug, Clone, Copy)]
pub struct InstancePermission {
    /// `product:Action`.
    pub action: &'static str,
    /// The resource name of a service: (account id, cluster, service) → name.
    pub resource: fn(u64, &str, &str) -> String,
}

/// Whose access a token or session stands on.
#[derive(Debug, Clone, Copy)]
pub struct InstanceGrant<'a> {
    pub account_id: u64,
    pub principal_uin: u64,
    pub key_id: &'a str,
    pub cluster: &'a str,
    pub service: &'a str,
}

/// A change that may end access opened earlier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// An access key changed (deactivated, deleted) on this node or another.
    Key(String),
    /// A user's policies changed, or the user was deleted.
    User { account_id: u64, uin: u64 },
    /// Changes may have been missed: everything should be checked again.
    Everything,
}

type Listener = Arc<dyn Fn(&Revocation) + Send + Sync>;

/// The listeners of revocations.
#[derive(Default)]
pub(crate) struct RevocationHub {
    listeners: RwLock<Vec<Listener>>,
}

impl RevocationHub {
    /// Tells every listener (each must return quickly: it runs where caches are evicted).
    pub(crate) fn announce(&self, revocation: Revocation) {
        for listener in self.listeners.read().iter() {
            listener(&revocation);
        }
    }
}

impl Authority {
    /// Registers `listener` for every [`Revocation`] from now on. It runs synchronously where
    /// the change is noticed, so it should only hand the event over (to a channel).
    pub fn on_revocation(&self, listener: impl Fn(&Revocation) + Send + Sync + 'static) {
        self.revocations.listeners.write().push(Arc::new(listener));
    }

    /// Whether `grant` still stands: its key exists and is active for that principal
    /// (otherwise `InstanceTokenRevoked`), and the principal is still allowed `permission` on
    /// the service, evaluated as of `context` (its time and source address; otherwise the
    /// denial, `AccessDenied`). The key is read from the store, not the cache.
    pub async fn check_instance_access(
        &self,
        context: &RequestContext,
        grant: InstanceGrant<'_>,
        permission: InstancePermission,
    ) -> Result<(), CoreError> {
        let key = self.store().access_key(grant.key_id).await?;
        let active = key.is_some_and(|key| {
            key.status == KeyStatus::Active
                && key.account_id == grant.account_id
                && key.owner_uin == grant.principal_uin
        });
        if !active {
            return Err(CoreError::InstanceTokenRevoked);
        }
        let mut context = context.clone();
        context.caller = Some(Caller {
            account_id: grant.account_id,
            uin: grant.principal_uin,
            key_id: grant.key_id.to_owned(),
        });
        let authorization = self
            .authorize(&context, permission.action, |principal| {
                vec![(permission.resource)(
                    principal.account_id,
                    grant.cluster,
                    grant.service,
                )]
            })
            .await?;
        match authorization.denial() {
            Some(denial) => Err(denial),
            None => Ok(()),
        }
    }

    /// The unused, unexpired token for `purpose`, without redeeming it (what a confirmation
    /// page shows before the user opens it): the same refusals as
    /// [`Authority::redeem_instance_token`] for an unknown, used or expired token, and
    /// nothing is written.
    pub async fn preview_instance_token(
        &self,
        purpose: InstanceTokenPurpose,
        token: &Secret,
        now: OffsetDateTime,
    ) -> Result<InstanceToken, CoreError> {
        self.unused_instance_token(purpose, token, now)
            .await
            .map(|(_, stored)| stored)
    }
}

impl InstanceToken {
    /// Whose access the token stands on.
    pub fn grant(&self) -> InstanceGrant<'_> {
        InstanceGrant {
            account_id: self.account_id,
            principal_uin: self.principal_uin,
            key_id: &self.key_id,
            cluster: &self.cluster,
            service: &self.service,
        }
    }
}
