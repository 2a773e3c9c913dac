//! Access keys: minting within the per-user quota, listing, activating, deactivating and
//! deleting them (effective for authentication at once), and their last use.

use time::OffsetDateTime;

use super::{with_fresh_identifiers, Authority, RequestContext};
use crate::error::CoreError;
use crate::model::{
    AccessKey, IssuedAccessKey, KeyFamily, KeyStatus, KeyUsage, Secret, User, UserProfile,
};
use crate::rules;
use crate::store::{NewAccessKey, OwnedAccessKey, StoreError};
use crate::usage::latest;

impl Authority {
    pub(super) fn mint_access_key(
        &self,
        owner: &User,
        family: KeyFamily,
        now: OffsetDateTime,
    ) -> (NewAccessKey, Secret) {
        let id = self.factory.new_access_key_id(family);
        let secret = self.factory.new_access_key_secret(family);
        let key = NewAccessKey {
            sealed_secret: self.factory.seal(&id, &secret),
            id,
            account_id: owner.account_id,
            owner_uin: owner.uin,
            family,
            description: None,
            created_at: now,
        };
        (key, secret)
    }

    /// Resolves the user an access-key action targets (default: the caller), for an
    /// authorized request. Whether the target exists is not looked up here: the store's use
    /// case finds out in its own transaction, and `explain_failure` tells an unknown user
    /// apart on the failure path, so a successful request costs no extra read. Whatever its
    /// policies allow, a sub-user never acts on the root's keys.
    fn key_management_target(
        &self,
        context: &RequestContext,
        target_uin: Option<u64>,
    ) -> Result<(u64, u64), CoreError> {
        let caller = context.authorized_caller()?;
        let target_uin = target_uin.unwrap_or(caller.uin);
        if !caller.is_root() && target_uin == caller.account_id {
            return Err(CoreError::SubUserActingOnRoot);
        }
        Ok((caller.account_id, target_uin))
    }

    /// The error to report for a key action on (`account_id`, `target_uin`) that failed
    /// with `error`: when no matching key was found, `UserNotFound` if the target user itself
    /// does not exist.
    async fn explain_failure(
        &self,
        account_id: u64,
        target_uin: u64,
        error: StoreError,
    ) -> CoreError {
        if !matches!(
            error,
            StoreError::AccessKeyNotFound | StoreError::OwnerMismatch
        ) {
            return error.into();
        }
        match self.store.user(account_id, target_uin).await {
            Ok(None) => CoreError::UserNotFound,
            Ok(Some(_)) => error.into(),
            Err(store_error) => store_error.into(),
        }
    }

    /// Mints an access key of `family` for the target user (default: the caller), within the
    /// per-user quota.
    pub async fn create_access_key(
        &self,
        context: &RequestContext,
        family: KeyFamily,
        target_uin: Option<u64>,
        description: Option<String>,
    ) -> Result<IssuedAccessKey, CoreError> {
        if let Some(description) = &description {
            rules::check_description(description)?;
        }
        let (account_id, owner_uin) = self.key_management_target(context, target_uin)?;
        let owner = User {
            account_id,
            uin: owner_uin,
            name: String::new(),
            profile: UserProfile::default(),
            created_at: context.now,
        };
        with_fresh_identifiers(|| {
            let (mut key, secret) = self.mint_access_key(&owner, family, context.now);
            key.description = description.clone();
            let audit = context.success(key.id.clone());
            let created =
                self.store
                    .create_access_key_within_quota(key, rules::ACCESS_KEYS_PER_USER, audit);
            async move {
                Ok(IssuedAccessKey {
                    key: created.await?,
                    secret,
                })
            }
        })
        .await
    }

    /// The access keys of `family` the target user holds (without secrets).
    pub async fn list_access_keys(
        &self,
        context: &RequestContext,
        family: KeyFamily,
        target_uin: Option<u64>,
    ) -> Result<Vec<AccessKey>, CoreError> {
        let (account_id, owner_uin) = self.key_management_target(context, target_uin)?;
        let keys = self
            .store
            .list_access_keys(account_id, owner_uin, family)
            .await?;
        // An empty list may mean the user does not exist; only then is that looked up.
        if keys.is_empty()
            && owner_uin != context.caller()?.uin
            && self.store.user(account_id, owner_uin).await?.is_none()
        {
            return Err(CoreError::UserNotFound);
        }
        Ok(keys)
    }

    /// Activates or deactivates a key owned by the target user; takes effect for
    /// authentication at once.
    pub async fn set_access_key_status(
        &self,
        context: &RequestContext,
        key_id: &str,
        status: KeyStatus,
        target_uin: Option<u64>,
    ) -> Result<AccessKey, CoreError> {
        let (account_id, owner_uin) = self.key_management_target(context, target_uin)?;
        let audit = context.success(key_id.to_owned());
        let result = self
            .store
            .set_access_key_status(
                OwnedAccessKey::new(account_id, owner_uin, key_id).with_status(status, context.now),
                audit,
            )
            .await;
        self.invalidate_key(key_id);
        match result {
            Ok(key) => Ok(key),
            Err(error) => Err(self.explain_failure(account_id, owner_uin, error).await),
        }
    }

    /// Deletes a key owned by the target user; takes effect for authentication at once.
    pub async fn delete_access_key(
        &self,
        context: &RequestContext,
        key_id: &str,
        target_uin: Option<u64>,
    ) -> Result<(), CoreError> {
        let (account_id, owner_uin) = self.key_management_target(context, target_uin)?;
        let audit = context.success(key_id.to_owned());
        let result = self
            .store
            .delete_access_key(OwnedAccessKey::new(account_id, owner_uin, key_id), audit)
            .await;
        self.invalidate_key(key_id);
        match result {
            Ok(()) => Ok(()),
            Err(error) => Err(self.explain_failure(account_id, owner_uin, error).await),
        }
    }

    /// The last use of each requested key the caller may see (the root: its account's; a
    /// sub-user: its own), in request order; keys it may not see, or that do not exist, have
    /// no usage.
    pub async fn last_used(
        &self,
        context: &RequestContext,
        key_ids: &[String],
    ) -> Result<Vec<(String, Option<KeyUsage>)>, CoreError> {
        let caller = context.authorized_caller()?;
        let stored = self.store.key_usage(key_ids).await?;
        let mut rows = Vec::with_capacity(key_ids.len());
        for key_id in key_ids {
            let visible = match self.store.access_key(key_id).await? {
                Some(key) => {
                    key.account_id == caller.account_id
                        && (caller.is_root() || key.owner_uin == caller.uin)
                }
                None => false,
            };
            let usage = if visible {
                let stored_usage = stored.iter().find(|usage| &usage.key_id == key_id).cloned();
                latest(stored_usage, self.usage.pending(key_id))
            } else {
                None
            };
            rows.push((key_id.clone(), usage));
        }
        Ok(rows)
    }
}
