//! What every signed Alibaba request shares, RPC and ROA alike: the active Alibaba access key
//! a request claims, replay protection through the store's shared nonce table, and the
//! in-memory record of a key's last use.

use keyplane_core::authority::SigningKey;
use keyplane_core::model::{KeyFamily, KeyUsage};
use keyplane_core::{Caller, KeyLookup};
use keyplane_crypto::aliyun::ALIYUN_SIGNATURE_WINDOW_SECONDS;
use time::OffsetDateTime;

use crate::errors::AliyunError;
use crate::AliyunDialect;

/// How long a nonce is remembered: the signature window on both sides of the request time, so
/// a request cannot be replayed for as long as its timestamp is acceptable.
const NONCE_MEMORY: time::Duration = time::Duration::seconds(2 * ALIYUN_SIGNATURE_WINDOW_SECONDS);
/// The longest nonce accepted.
const MAX_NONCE_CHARACTERS: usize = 128;
/// The longest access key id looked up.
const MAX_KEY_ID_CHARACTERS: usize = 128;

impl AliyunDialect {
    /// The active Alibaba access key a request claims to be signed with:
    /// `InvalidAccessKeyId.NotFound` for a malformed, unknown or foreign-family id,
    /// `InvalidAccessKeyId.Inactive` for a deactivated one.
    pub(crate) async fn signing_key(&self, key_id: &str) -> Result<SigningKey, AliyunError> {
        let well_formed = !key_id.is_empty()
            && key_id.len() <= MAX_KEY_ID_CHARACTERS
            && key_id.bytes().all(|byte| byte.is_ascii_alphanumeric());
        if !well_formed {
            return Err(AliyunError::access_key_not_found());
        }
        match self
            .authority
            .lookup_signing_key(key_id, KeyFamily::Aliyun)
            .await
            .map_err(|error| AliyunError::from_core(&error))?
        {
            KeyLookup::Active(key) => Ok(key),
            KeyLookup::Inactive => Err(AliyunError::access_key_inactive()),
            KeyLookup::NotFound => Err(AliyunError::access_key_not_found()),
        }
    }

    /// Replay protection: refuses (`SignatureNonceUsed`) a nonce already used with `key_id`
    /// within the window, on every node sharing the store.
    pub(crate) async fn accept_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        now: OffsetDateTime,
    ) -> Result<(), AliyunError> {
        if nonce.chars().count() > MAX_NONCE_CHARACTERS {
            return Err(AliyunError::invalid_parameter(
                "SignatureNonce",
                &format!("it must be at most {MAX_NONCE_CHARACTERS} characters."),
            ));
        }
        let fresh = self
            .authority
            .accept_nonce(key_id, nonce, NONCE_MEMORY, now)
            .await
            .map_err(|error| AliyunError::from_core(&error))?;
        if !fresh {
            return Err(AliyunError::nonce_used());
        }
        Ok(())
    }

    /// Records, in memory, that `caller`'s key authenticated a request from `source_address`
    /// at `now` for `product:action`.
    pub(crate) fn record_use(
        &self,
        caller: &Caller,
        now: OffsetDateTime,
        source_address: &str,
        product: &str,
        action: &str,
    ) {
        self.authority.record_use(&caller.key_id, now, || KeyUsage {
            key_id: caller.key_id.clone(),
            used_at: now,
            product: product.to_owned(),
            action: action.to_owned(),
            source_address: source_address.to_owned(),
        });
    }
}
