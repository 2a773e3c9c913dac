//! Authentication's side of the use cases: the access key a request claims to be signed
//! with (served from a cache that every change evicts, on this node and, through the store's
//! notifications, on others), replay protection by nonce, and the record of each key's last use.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use time::OffsetDateTime;

use super::{Authority, Caller};
use crate::error::CoreError;
use crate::instance_access::Revocation;
use crate::model::{AccessKey, KeyFamily, KeyStatus, KeyUsage, Secret};
use crate::store::UsedNonce;

/// An access key able to authenticate requests, with its opened secret.
#[derive(Debug, Clone)]
pub struct SigningKey {
    pub caller: Caller,
    pub secret: Secret,
}

/// The outcome of looking up the key a request claims to be signed with.
#[derive(Debug, Clone)]
pub enum KeyLookup {
    /// The key exists, is active and of the wanted family.
    Active(SigningKey),
    /// The key exists in the wanted family but is inactive.
    Inactive,
    /// No such key (or one of another family).
    NotFound,
}

/// A cached access key with its secret opened.
#[derive(Debug)]
pub(super) struct CachedKey {
    pub(super) key: AccessKey,
    pub(super) secret: Secret,
}

impl Authority {
    /// Looks up the access key a request claims to be signed with. `None` when the key is
    /// unknown, inactive, or of another family. Served from a cache that mutations invalidate.
    pub async fn signing_key(
        &self,
        key_id: &str,
        family: KeyFamily,
    ) -> Result<Option<SigningKey>, CoreError> {
        Ok(match self.lookup_signing_key(key_id, family).await? {
            KeyLookup::Active(key) => Some(key),
            KeyLookup::Inactive | KeyLookup::NotFound => None,
        })
    }

    /// Like [`Authority::signing_key`], telling an inactive key apart from a missing one.
    pub async fn lookup_signing_key(
        &self,
        key_id: &str,
        family: KeyFamily,
    ) -> Result<KeyLookup, CoreError> {
        let cached = match self.key_cache.get(key_id) {
            Some(cached) => cached,
            None => {
                let epoch = self.invalidation_epoch.load(Ordering::Acquire);
                let Some(key) = self.store.access_key(key_id).await? else {
                    return Ok(KeyLookup::NotFound);
                };
                let secret = self.factory.open(&key.id, &key.sealed_secret)?;
                let cached = Arc::new(CachedKey { key, secret });
                if self.invalidation_epoch.load(Ordering::Acquire) == epoch {
                    self.key_cache.insert(key_id.to_owned(), cached.clone());
                }
                cached
            }
        };
        if cached.key.family != family {
            return Ok(KeyLookup::NotFound);
        }
        if cached.key.status != KeyStatus::Active {
            return Ok(KeyLookup::Inactive);
        }
        Ok(KeyLookup::Active(SigningKey {
            caller: Caller {
                account_id: cached.key.account_id,
                uin: cached.key.owner_uin,
                key_id: cached.key.id.clone(),
            },
            secret: cached.secret.clone(),
        }))
    }

    pub(super) fn invalidate_key(&self, key_id: &str) {
        self.invalidation_epoch.fetch_add(1, Ordering::AcqRel);
        self.key_cache.invalidate(key_id);
        self.revocations
            .announce(Revocation::Key(key_id.to_owned()));
    }

    /// Drops a key from the authentication cache because another node changed it.
    pub fn forget_key(&self, key_id: &str) {
        self.invalidate_key(key_id);
    }

    /// Drops every key from the authentication cache: changes made elsewhere may have been
    /// missed (the notification channel was interrupted).
    pub fn forget_all_keys(&self) {
        self.invalidation_epoch.fetch_add(1, Ordering::AcqRel);
        self.key_cache.invalidate_all();
        self.revocations.announce(Revocation::Everything);
    }

    /// Drops everything cached about keys and permissions: changes made elsewhere may have
    /// been missed (the notification channel was interrupted).
    pub fn forget_everything(&self) {
        self.permission_epoch.fetch_add(1, Ordering::AcqRel);
        self.permission_cache.invalidate_all();
        self.forget_all_keys();
    }

    /// Records a successful authentication, in memory; flushed by [`Authority::flush`].
    /// `usage` is built only when the key has no pending use in the same second (last use is
    /// kept to the second), so the common case allocates nothing.
    pub fn record_use(&self, key_id: &str, now: OffsetDateTime, usage: impl FnOnce() -> KeyUsage) {
        if self.usage.has_use_in_second(key_id, now) {
            return;
        }
        self.usage.record(usage());
    }

    /// Replay protection: accepts the first use of `nonce` with `key_id` within `window` of
    /// `now` and refuses (returns `false`) any repeat inside that window, on every node that
    /// shares the store.
    pub async fn accept_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        window: time::Duration,
        now: OffsetDateTime,
    ) -> Result<bool, CoreError> {
        Ok(self
            .store
            .remember_nonce(UsedNonce::new(key_id, nonce, now + window), now)
            .await?)
    }

    /// Removes nonce records whose window has passed.
    pub async fn expire_nonces(&self, now: OffsetDateTime) -> Result<u64, CoreError> {
        Ok(self.store.forget_expired_nonces(now).await?)
    }
}
